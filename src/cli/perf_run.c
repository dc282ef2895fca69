/* inferctl perf's load engine: closed or open loop on one libuv loop through the client
 * library, measurement windows until stable (perf.h has the method). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/client.h"
#include "perf.h"

#define PERF_KEEP 3 /* windows that must agree, and that the result is made of */

/* A closed-loop slot: one request outstanding at a time, each answer sending the next. After
 * a connection error (the node is down or going) the next send waits a backoff, so a dead
 * node costs a few errors per slot per second, not a tight loop of refused connects. */
typedef struct perf_slot {
    struct perf_run *run;
    uv_timer_t timer;
    uint32_t backoff_ms; /* 0: none; doubles per error up to PERF_BACKOFF_MAX_MS */
} perf_slot;

typedef struct perf_run {
    const perf_params *p;
    uv_loop_t loop;
    inferd_client *client;
    uv_timer_t send_timer, window_timer;
    uv_idle_t
        send_spin; /* turns the loop (polling, never blocking) within a millisecond of a send */
    uint64_t next_send_ns, rng, outstanding;
    int stopping;
    perf_hist *win;             /* the window being measured */
    perf_hist *kept[PERF_KEEP]; /* the last windows, ring */
    perf_window *windows;       /* every window's figures */
    unsigned nwin;
    uint64_t win_start_ns, win_ok, win_err;
    char first_error[256];
    perf_slot *slots; /* closed loop: [concurrency] */
} perf_run;

typedef struct perf_req {
    perf_run *run;
    perf_slot *slot; /* closed loop; NULL in open loop */
    uint64_t sched_ns;
} perf_req;

uint32_t perf_backoff_next_ms(uint32_t prev_ms, int err)
{
    if (err != INFERD_CLIENT_E_CONNECT && err != INFERD_CLIENT_E_CONN &&
        err != INFERD_CLIENT_E_RESOLVE)
        return 0;
    if (prev_ms == 0) return PERF_BACKOFF_MIN_MS;
    return prev_ms >= PERF_BACKOFF_MAX_MS / 2 ? PERF_BACKOFF_MAX_MS : prev_ms * 2;
}

static void note_error(perf_run *R, const char *fmt, const char *a, int b)
{
    R->win_err++;
    if (!R->first_error[0]) snprintf(R->first_error, sizeof R->first_error, fmt, a, b);
}

static void send_one(perf_run *R, uint64_t sched_ns, perf_slot *slot);

static void on_slot_timer(uv_timer_t *t)
{
    perf_slot *slot = t->data;
    if (!slot->run->stopping) send_one(slot->run, uv_hrtime(), slot);
}

static void on_answer(void *user, int err, const inferd_client_response *resp)
{
    perf_req *q = user;
    perf_run *R = q->run;
    uint64_t now = uv_hrtime();
    R->outstanding--;
    if (!R->stopping) {
        if (err) note_error(R, "%s%.0d", inferd_client_strerror(err), 0);
        else if (resp->status != 200) note_error(R, "%.160s (HTTP %d)", resp->body, resp->status);
        else {
            R->win_ok++;
            perf_hist_record(R->win, now > q->sched_ns ? now - q->sched_ns : 0);
        }
        if (q->slot) {
            q->slot->backoff_ms = perf_backoff_next_ms(q->slot->backoff_ms, err);
            if (q->slot->backoff_ms)
                uv_timer_start(&q->slot->timer, on_slot_timer, q->slot->backoff_ms, 0);
            else send_one(R, now, q->slot);
        }
    }
    free(q);
}

static void send_one(perf_run *R, uint64_t sched_ns, perf_slot *slot)
{
    const perf_params *p = R->p;
    perf_req *q = malloc(sizeof *q);
    if (!q) {
        note_error(R, "%s%.0d", "out of memory", 0);
        return;
    }
    q->run = R;
    q->slot = slot;
    q->sched_ns = sched_ns;
    int rc = inferd_client_send(R->client, "POST", p->path,
                                p->json_len >= 0 ? "application/octet-stream" : "application/json",
                                p->json_len, p->body, p->body_len, on_answer, q);
    if (rc != 0) {
        free(q);
        note_error(R, "%s%.0d", inferd_client_strerror(rc), 0);
        return;
    }
    R->outstanding++;
}

static double uniform01(perf_run *R)
{
    R->rng ^= R->rng << 13;
    R->rng ^= R->rng >> 7;
    R->rng ^= R->rng << 17;
    return ((double)(R->rng >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
}

static uint64_t next_gap_ns(perf_run *R)
{
    double mean = 1e9 / R->p->rate;
    return (uint64_t)(R->p->poisson ? -log(uniform01(R)) * mean : mean);
}

static void on_send_spin(uv_idle_t *h);
static void on_send_timer(uv_timer_t *t);

/* Sends everything whose time has come, then sleeps until the next send time. */
static void send_due(perf_run *R)
{
    if (R->stopping) return;
    uint64_t now = uv_hrtime();
    while (R->next_send_ns <= now) {
        if (R->outstanding >= R->p->max_outstanding)
            note_error(R, "%s%.0d", "more requests outstanding than --max-outstanding", 0);
        else send_one(R, R->next_send_ns, NULL);
        R->next_send_ns += next_gap_ns(R);
    }
    /* libuv's timers have millisecond resolution. Below 1000 requests/s: sleep the whole
     * milliseconds, then let the loop turn (still answering) until the send time, so sends
     * leave on time. Above, gaps are under a millisecond and spinning would cost a core:
     * send in 1 ms batches as wrk2 does (a send then leaves up to 1 ms after its time,
     * and that delay is part of its latency). */
    uint64_t gap = R->next_send_ns - now;
    uint64_t wait_ms = R->p->rate > 1000 ? (gap + 999999) / 1000000 : gap / 1000000;
    if (wait_ms == 0) {
        /* a 0 ms timer would run again in the same timer pass: spin through the idle phase */
        uv_idle_start(&R->send_spin, on_send_spin);
    } else {
        uv_idle_stop(&R->send_spin);
        uv_timer_start(&R->send_timer, on_send_timer, wait_ms, 0);
    }
}

static void on_send_timer(uv_timer_t *t)
{
    send_due(t->data);
}

static void on_send_spin(uv_idle_t *h)
{
    send_due(h->data);
}

int perf_windows_stable(const perf_window *w, unsigned n, double stability)
{
    if (n < PERF_KEEP) return 0;
    double mt = 0, ml = 0;
    for (unsigned i = n - PERF_KEEP; i < n; i++) {
        if (w[i].ok == 0) return 0;
        mt += w[i].throughput_per_s / PERF_KEEP;
        ml += (double)w[i].p50_ns / PERF_KEEP;
    }
    for (unsigned i = n - PERF_KEEP; i < n; i++)
        if (fabs(w[i].throughput_per_s - mt) > stability * mt ||
            fabs((double)w[i].p50_ns - ml) > stability * ml)
            return 0;
    return 1;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void stop(perf_run *R)
{
    R->stopping = 1;
    uv_close((uv_handle_t *)&R->send_timer, on_handle_closed);
    uv_close((uv_handle_t *)&R->window_timer, on_handle_closed);
    uv_close((uv_handle_t *)&R->send_spin, on_handle_closed);
    if (R->slots)
        for (unsigned i = 0; i < R->p->concurrency; i++)
            uv_close((uv_handle_t *)&R->slots[i].timer, on_handle_closed);
    inferd_client_close(R->client, NULL, NULL); /* outstanding ones are abandoned */
}

static void on_window_timer(uv_timer_t *t)
{
    perf_run *R = t->data;
    uint64_t now = uv_hrtime();
    perf_window *w = &R->windows[R->nwin];
    w->elapsed_s = (double)(now - R->win_start_ns) / 1e9;
    w->ok = R->win_ok;
    w->errors = R->win_err;
    w->throughput_per_s = w->elapsed_s > 0 ? (double)w->ok / w->elapsed_s : 0;
    w->p50_ns = perf_hist_percentile(R->win, 50);
    w->p99_ns = perf_hist_percentile(R->win, 99);
    /* the finished window joins the ring; the oldest kept one becomes the next window */
    perf_hist *done = R->win;
    R->win = R->kept[R->nwin % PERF_KEEP];
    R->kept[R->nwin % PERF_KEEP] = done;
    perf_hist_init(R->win);
    R->nwin++;
    R->win_ok = R->win_err = 0;
    R->win_start_ns = now;
    if (R->p->on_window) R->p->on_window(R->p->user, R->nwin - 1, w);
    if (perf_windows_stable(R->windows, R->nwin, R->p->stability) || R->nwin >= R->p->max_windows)
        stop(R);
}

int perf_step_run(const perf_params *p, perf_result *res, char *err, size_t err_len)
{
    perf_run R = {.p = p, .rng = 0x2545f4914f6cdd1dull};
    memset(res, 0, sizeof *res);
    perf_hist_init(&res->hist);
    R.windows = calloc(p->max_windows, sizeof *R.windows);
    R.win = malloc(sizeof *R.win);
    for (unsigned i = 0; i < PERF_KEEP; i++) R.kept[i] = malloc(sizeof *R.kept[i]);
    if (!p->open_loop) R.slots = calloc(p->concurrency, sizeof *R.slots);
    int rc = -1;
    if (!R.windows || !R.win || !R.kept[0] || !R.kept[1] || !R.kept[2] ||
        (!p->open_loop && !R.slots)) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    perf_hist_init(R.win);
    for (unsigned i = 0; i < PERF_KEEP; i++) perf_hist_init(R.kept[i]);
    if (uv_loop_init(&R.loop) != 0) {
        snprintf(err, err_len, "cannot create an event loop");
        goto out;
    }
    inferd_client_options o = {
        .url = p->url,
        .connections = p->open_loop ? p->connections : p->concurrency,
        .pipeline_depth = p->open_loop ? p->pipeline : 1,
        .timeout_ms = p->timeout_ms,
    };
    if (inferd_client_new(&R.loop, &o, &R.client, err, err_len) != 0) {
        uv_loop_close(&R.loop);
        goto out;
    }
    uv_timer_init(&R.loop, &R.send_timer);
    uv_timer_init(&R.loop, &R.window_timer);
    uv_idle_init(&R.loop, &R.send_spin);
    R.send_timer.data = R.window_timer.data = R.send_spin.data = &R;
    R.win_start_ns = uv_hrtime();
    uv_timer_start(&R.window_timer, on_window_timer, p->window_ms, p->window_ms);
    if (p->open_loop) {
        R.next_send_ns = R.win_start_ns;
        uv_timer_start(&R.send_timer, on_send_timer, 1, 0);
    } else {
        for (unsigned i = 0; i < p->concurrency; i++) {
            R.slots[i].run = &R;
            uv_timer_init(&R.loop, &R.slots[i].timer);
            R.slots[i].timer.data = &R.slots[i];
        }
        for (unsigned i = 0; i < p->concurrency; i++) send_one(&R, R.win_start_ns, &R.slots[i]);
    }
    uv_run(&R.loop, UV_RUN_DEFAULT);
    uv_loop_close(&R.loop);

    unsigned keep = R.nwin < PERF_KEEP ? R.nwin : PERF_KEEP;
    for (unsigned k = 0; k < keep; k++) {
        unsigned i = R.nwin - 1 - k;
        perf_hist_merge(&res->hist, R.kept[i % PERF_KEEP]);
        res->ok += R.windows[i].ok;
        res->errors += R.windows[i].errors;
        res->elapsed_s += R.windows[i].elapsed_s;
    }
    res->throughput_per_s = res->elapsed_s > 0 ? (double)res->ok / res->elapsed_s : 0;
    res->windows = R.nwin;
    res->stable = perf_windows_stable(R.windows, R.nwin, p->stability);
    snprintf(res->first_error, sizeof res->first_error, "%s", R.first_error);
    rc = 0;
out:
    free(R.slots);
    free(R.windows);
    free(R.win);
    for (unsigned i = 0; i < PERF_KEEP; i++) free(R.kept[i]);
    return rc;
}
