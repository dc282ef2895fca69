/* Forwarding one client request to the nodes: pick, send, wait, retry or hedge, answer
 * (docs/gateway.md). Everything here runs on the request's loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw_proxy.h"
#include "inferd/clock.h"
#include "inferd/http_buf.h"
#include "inferd/log.h"

#define GW_ATTEMPTS 2 /* the first copy and one hedge at a time */
enum { COPY_FIRST, COPY_RETRY, COPY_HEDGE };

typedef struct gw_req gw_req;
typedef struct gw_attempt {
    gw_req *r;
    gw_uconn *c; /* NULL when not running */
    int node;
    int64_t start_ns;
    int fresh_tried;  /* already resent once on a fresh connection */
    int64_t hedge_ms; /* hedge past this wait (gw_pick.hedge_ms when picked) */
    int kind;         /* COPY_FIRST, COPY_RETRY (retries and rescues), COPY_HEDGE */
    int waiting;      /* 1: queued for a connection to node (at the cap); 2: woken */
    gw_pool_waiter waiter;
    struct sockaddr_storage addr;
} gw_attempt;

/* What the request's timer is for. */
enum { TIMER_BACKOFF, TIMER_WATCH, TIMER_WAIT, TIMER_WAKE };

struct gw_req {
    gw_proxy *p;
    http_exchange *ex; /* NULL once answered */
    gw_pool *pool;
    char model[GW_MODEL_LEN];
    int keyed;
    uint64_t key;
    int client_deadline; /* the client set Inferd-Timeout-Ms */
    int64_t deadline_ns;
    const char *method;
    char *fwd;        /* client headers to pass on, "Name: value\r\n" lines */
    const char *body; /* the whole body, or NULL when it streams */
    size_t body_len;  /* its length (the Content-Length when it streams) */
    int head_only;
    int streamed; /* the body streams through: no retry or hedge once bytes went */
    size_t fed;   /* streamed bytes given to a copy */
    char *held;   /* streamed bytes that came while no copy was running (malloc'd) */
    size_t held_len;
    int client_paused; /* the client's body is held back (upstream not keeping up) */
    gw_node_set tried;
    gw_attempt att[GW_ATTEMPTS];
    int retries;
    int retry_held;          /* holds a slot of the retry budget */
    gw_upstream_result last; /* the last failure worth passing on (a node's 503/429) */
    int last_err;
    uv_timer_t timer; /* backoff, watch (hedge, rescue), waiting for a connection */
    int timer_mode;   /* TIMER_* */
    int hedged;       /* the hedge was tried */
};

static uint64_t next_random(gw_proxy *p)
{
    /* splitmix64 over a shared counter: cheap, good enough for jitter and weighted picks */
    uint64_t z = atomic_fetch_add(&p->seed, 0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void count_result(gw_proxy *p, int result)
{
    atomic_fetch_add(&p->results[result], 1);
}

static int result_of_status(int status)
{
    return status < 400 ? GW_RES_2XX : status < 500 ? GW_RES_4XX : GW_RES_5XX;
}

static int64_t now_ms(void)
{
    return clock_now_ns() / 1000000;
}

static int active_attempts(const gw_req *r)
{
    int n = 0;
    for (int i = 0; i < GW_ATTEMPTS; i++) n += r->att[i].c != NULL || r->att[i].waiting;
    return n;
}

/* The copy queued for a connection (there is at most one, and then no other), or NULL. */
static gw_attempt *waiting_attempt(gw_req *r)
{
    for (int i = 0; i < GW_ATTEMPTS; i++)
        if (r->att[i].waiting) return &r->att[i];
    return NULL;
}

/* ---- freeing ------------------------------------------------------------------------- */
static void on_req_timer_closed(uv_handle_t *h)
{
    gw_req *r = h->data;
    gw_upstream_result_free(&r->last);
    free(r->fwd);
    free(r->held);
    free(r);
}

/* The request is answered: it leaves the retry budget (its retry slot, its count of active
 * requests). Done before the answer is written: a client that has its answer may at once scrape
 * inferd_gateway_retries_in_flight or need a retry slot itself, on another loop thread. */
static void end_request(gw_req *r)
{
    if (r->retry_held) gw_nodes_retry_release(r->p->nodes);
    r->retry_held = 0;
    gw_nodes_request_end(r->p->nodes);
}

/* Frees r once it is answered (end_request done) and nothing of it is left running. */
static void req_maybe_free(gw_req *r)
{
    if (r->ex || active_attempts(r)) return;
    uv_close((uv_handle_t *)&r->timer, on_req_timer_closed);
}

/* a leaves the queue for a connection (or was woken out of it). */
static void stop_waiting(gw_req *r, gw_attempt *a)
{
    if (!a->waiting) return;
    gw_pool_wait_cancel(r->pool, &a->waiter);
    a->waiting = 0;
    atomic_fetch_sub(&r->p->upstream_waiting, 1);
}

static void cancel_attempt(gw_req *r, gw_attempt *a)
{
    if (a->waiting) {
        int woken = a->waiting == 2;
        stop_waiting(r, a);
        if (woken) gw_pool_kick(r->pool, a->node); /* pass the room it was given on */
        gw_nodes_done(r->p->nodes, a->node, r->model, GW_OUT_CANCELLED, 0, now_ms());
        return;
    }
    if (!a->c) return;
    gw_upstream_cancel(a->c);
    a->c = NULL;
    gw_nodes_done(r->p->nodes, a->node, r->model, GW_OUT_CANCELLED, 0, now_ms());
}

/* won answered: the copies sent before it, still waiting, have been outrun; their node
 * hears how long they waited (a lower bound of its latency), so hedging does not hide a
 * slow node from routing. */
static void cancel_outrun(gw_req *r, const gw_attempt *won, int64_t now_ns)
{
    for (int i = 0; i < GW_ATTEMPTS; i++) {
        gw_attempt *a = &r->att[i];
        if (!a->c || a == won || a->start_ns > won->start_ns) continue;
        gw_upstream_cancel(a->c);
        a->c = NULL;
        gw_nodes_done(r->p->nodes, a->node, r->model, GW_OUT_OUTRUN, (now_ns - a->start_ns) / 1000,
                      now_ns / 1000000);
    }
}

/* Answers the client (once) and stops everything else the request has going. head_len: a
 * HEAD request's answer carries the node's Content-Length (the length a GET would have), or
 * -1 when the node gave none. */
static void answer(gw_req *r, int status, const char *type, char *body, size_t len,
                   const char *headers, int64_t head_len)
{
    if (!r->ex) {
        free(body);
        return;
    }
    http_exchange *ex = r->ex;
    r->ex = NULL;
    uv_timer_stop(&r->timer);
    for (int i = 0; i < GW_ATTEMPTS; i++) cancel_attempt(r, &r->att[i]);
    end_request(r);
    count_result(r->p, result_of_status(status));
    if (r->head_only && head_len >= 0) {
        free(body);
        http_ex_respond_head(ex, status, type, (size_t)head_len, headers ? headers : "");
        return;
    }
    http_ex_respond(ex, status, type, body, len, headers ? headers : "");
}

static void answer_error(gw_req *r, int status, const char *headers, const char *fmt,
                         const char *arg)
{
    if (!r->ex) return;
    http_exchange *ex = r->ex;
    r->ex = NULL;
    uv_timer_stop(&r->timer);
    for (int i = 0; i < GW_ATTEMPTS; i++) cancel_attempt(r, &r->att[i]);
    end_request(r);
    count_result(r->p, status == 504   ? GW_RES_DEADLINE
                       : status == 503 ? GW_RES_NO_NODE
                       : status == 502 ? GW_RES_UPSTREAM
                       : status == 499 ? GW_RES_CLIENT_GONE
                                       : result_of_status(status));
    http_ex_error(ex, status, headers, fmt, arg);
}

/* The best answer when nothing more will be tried: the node's own 503/429 if one came,
 * else a gateway error for the last transport failure. */
static void answer_failure(gw_req *r)
{
    if (r->last.status) {
        gw_upstream_result *l = &r->last;
        char *body = l->body;
        size_t len = l->body_len;
        l->body = NULL;
        answer(r, l->status, l->content_type, body, len, l->headers, l->content_length);
        return;
    }
    if (r->last_err == GW_UP_TIMEOUT || clock_now_ns() >= r->deadline_ns)
        answer_error(r, 504, "", "deadline exceeded before a node answered%s", "");
    else if (r->last_err)
        answer_error(r, 502, "", "no node could answer: %s", gw_upstream_err_name(r->last_err));
    else answer_error(r, 503, "", "no node available%s", "");
}

/* ---- sending ------------------------------------------------------------------------- */
static void on_upstream_done(void *arg, gw_upstream_result *res);
static void start_attempt(gw_req *r, int slot, int kind);

/* The request head for node: the client's headers, our Host, Content-Length and the time
 * left. NULL if out of memory. */
static char *build_head(gw_req *r, const gw_pick *pk, int64_t left_ms, size_t *len)
{
    (void)pk;
    http_exchange *ex = r->ex;
    const char *q = http_ex_query(ex);
    http_buf b;
    http_buf_init(&b);
    http_buf_printf(&b, "%s %s%s%s HTTP/1.1\r\nHost: inferd\r\n", r->method, http_ex_path(ex),
                    q[0] ? "?" : "", q);
    if (r->fwd) http_buf_puts(&b, r->fwd);
    if (r->body_len || http_ex_method(ex) == HTTP_KIND_POST)
        http_buf_printf(&b, "Content-Length: %zu\r\n", r->body_len);
    if (r->client_deadline) http_buf_printf(&b, "Inferd-Timeout-Ms: %" PRId64 "\r\n", left_ms);
    http_buf_puts(&b, "\r\n");
    return http_buf_take(&b, len);
}

static void send_attempt(gw_req *r, gw_attempt *a);
static void wait_for_room(gw_req *r, gw_attempt *a, int front);

/* ---- a streamed body: client bytes go on to the one running copy as they come --------- */
#define GW_STREAM_HIGH (256 << 10) /* unsent bytes upstream above which the client waits */

static gw_attempt *running_attempt(gw_req *r)
{
    for (int i = 0; i < GW_ATTEMPTS; i++)
        if (r->att[i].c) return &r->att[i];
    return NULL;
}

static void pause_client(gw_req *r, int pause)
{
    if (!r->ex || r->client_paused == pause) return;
    r->client_paused = pause;
    http_ex_body_pause(r->ex, pause); /* resuming may call on_client_body at once */
}

/* Gives data to the running copy, or holds it (and the client) until one runs. */
static void stream_feed(gw_req *r, const char *data, size_t len)
{
    gw_attempt *a = running_attempt(r);
    if (!a) {
        char *nb = realloc(r->held, r->held_len + len);
        if (!nb) {
            answer_error(r, 503, "Retry-After: 1\r\n", "out of memory%s", "");
            return;
        }
        memcpy(nb + r->held_len, data, len);
        r->held = nb;
        r->held_len += len;
        pause_client(r, 1);
        return;
    }
    r->fed += len;
    if (gw_upstream_body(a->c, data, len) != 0) return; /* more than announced: the node says */
    if (gw_upstream_unsent(a->c) > GW_STREAM_HIGH) pause_client(r, 1);
}

static void on_client_body(http_exchange *ex, void *arg, const char *data, size_t len, int end)
{
    gw_req *r = arg;
    (void)ex;
    if (!r->ex) return;
    if (end < 0) {
        answer_error(r, 400, "", "the request body was cut short%s", "");
        req_maybe_free(r);
        return;
    }
    if (len) stream_feed(r, data, len);
}

static void on_upstream_drain(void *arg)
{
    gw_attempt *a = arg;
    gw_req *r = a->r;
    if (r->ex && a->c && gw_upstream_unsent(a->c) <= GW_STREAM_HIGH / 2) pause_client(r, 0);
}

/* A copy of a streamed request went out: what was held goes first, then the client again. */
static void stream_started(gw_req *r, gw_attempt *a)
{
    gw_upstream_on_drain(a->c, on_upstream_drain);
    if (r->held_len) {
        char *held = r->held;
        size_t n = r->held_len;
        r->held = NULL;
        r->held_len = 0;
        r->fed += n;
        gw_upstream_body(a->c, held, n);
        free(held);
    }
    if (gw_upstream_unsent(a->c) <= GW_STREAM_HIGH / 2) pause_client(r, 0);
}

/* Sends the request to the next node into att[slot]. On failure to even start, the
 * request goes on as after a failed attempt. A node at its cap of active connections
 * (--max-upstream-conns) queues the request when it is the only copy; a hedge or rescue
 * copy is not sent then. */
static void start_attempt(gw_req *r, int slot, int kind)
{
    if (!r->ex) return;
    int64_t now = clock_now_ns();
    int64_t left_ns = r->deadline_ns - now;
    if (left_ns <= 0) {
        if (!active_attempts(r)) {
            r->last_err = GW_UP_TIMEOUT;
            answer_failure(r);
        }
        return;
    }
    gw_pick pk;
    if (gw_nodes_pick(r->p->nodes, r->model, r->keyed, r->key, next_random(r->p), &r->tried,
                      now / 1000000, &pk) != 0) {
        if (!active_attempts(r)) answer_failure(r);
        return;
    }
    gw_node_set_add(&r->tried, pk.node);
    gw_attempt *a = &r->att[slot];
    a->r = r;
    a->node = pk.node;
    a->start_ns = now;
    a->fresh_tried = 0;
    a->hedge_ms = pk.hedge_ms;
    a->kind = kind;
    a->addr = pk.addr;
    if (!gw_pool_has_room(r->pool, pk.node)) {
        if (!active_attempts(r)) wait_for_room(r, a, 0);
        else gw_nodes_done(r->p->nodes, pk.node, r->model, GW_OUT_CANCELLED, 0, now / 1000000);
        return;
    }
    send_attempt(r, a);
}

/* Sends a (its node picked, room there) now. */
static void send_attempt(gw_req *r, gw_attempt *a)
{
    int64_t now = clock_now_ns();
    int64_t left_ms = (r->deadline_ns - now + 999999) / 1000000;
    gw_pick pk = {.node = a->node};
    size_t head_len;
    char *head = build_head(r, &pk, left_ms, &head_len);
    a->start_ns = now; /* time queued at the gateway is not the node's latency */
    if (a->kind != COPY_FIRST)
        gw_nodes_note(r->p->nodes, a->node, a->kind == COPY_HEDGE ? GW_NOTE_HEDGE : GW_NOTE_RETRY);
    int flags =
        (r->head_only ? GW_UP_HEAD_ONLY : 0) | (r->streamed ? GW_UP_STREAM | GW_UP_FRESH : 0);
    a->c = head ? gw_upstream_send(r->pool, a->node, (struct sockaddr *)&a->addr, head, head_len,
                                   r->body, r->body_len, flags, left_ms, on_upstream_done, a)
                : NULL;
    if (!a->c) {
        gw_nodes_done(r->p->nodes, a->node, r->model, GW_OUT_FAIL, 0, now / 1000000);
        r->last_err = GW_UP_CONNECT;
        start_attempt(r, (int)(a - r->att), a->kind); /* the next node (each is tried once) */
        return;
    }
    if (r->streamed) stream_started(r, a);
}

/* Resends att on a fresh connection to the same node (a pooled one died under us). */
static int resend_fresh(gw_req *r, gw_attempt *a)
{
    int64_t left_ns = r->deadline_ns - clock_now_ns();
    if (left_ns <= 0 || !gw_pool_has_room(r->pool, a->node)) return -1;
    gw_pick pk = {.node = a->node};
    int64_t left_ms = (left_ns + 999999) / 1000000;
    size_t head_len;
    char *head = build_head(r, &pk, left_ms, &head_len);
    if (!head) return -1;
    a->c = gw_upstream_send(r->pool, a->node, (struct sockaddr *)&a->addr, head, head_len, r->body,
                            r->body_len, (r->head_only ? GW_UP_HEAD_ONLY : 0) | GW_UP_FRESH,
                            left_ms, on_upstream_done, a);
    if (!a->c) return -1;
    a->fresh_tried = 1;
    return 0;
}

/* ---- timers: backoff before a retry, or the watch over the running copy ------------- */
#define GW_WATCH_MS 250 /* how often a waiting request looks whether its node went down */

static void arm_watch(gw_req *r);

/* The one running copy: if its node went down meanwhile (failed its check: hung, partitioned;
 * or ejected), a second copy goes elsewhere at once (a rescue, counted as a retry); past the
 * hedge time (the lowest p95 for the model among the nodes), one hedge if a token is free;
 * else look again later. */
static void watch(gw_req *r)
{
    int run = r->att[0].c ? 0 : 1;
    gw_attempt *a = &r->att[run];
    int64_t now = clock_now_ns();
    int go = 0, kind = COPY_RETRY;
    if (!gw_nodes_usable(r->p->nodes, a->node, now / 1000000)) {
        if (r->retries < r->p->max_retries &&
            (r->retry_held || gw_nodes_retry_acquire(r->p->nodes))) {
            r->retry_held = 1;
            r->retries++;
            go = 1;
        }
    } else if (!r->hedged && a->hedge_ms > 0 && now - a->start_ns >= a->hedge_ms * 1000000) {
        r->hedged = 1; /* one try: no token now, no hedge */
        go = gw_nodes_hedge_acquire(r->p->nodes);
        kind = COPY_HEDGE;
    }
    if (go) start_attempt(r, 1 - run, kind);
    if (r->ex && active_attempts(r) == 1) arm_watch(r);
}

/* ---- waiting for a connection (the node is at --max-upstream-conns) ------------------ */
static void on_req_timer(uv_timer_t *t);

static void arm_req_timer(gw_req *r, int mode, int64_t in_ms)
{
    r->timer_mode = mode;
    uv_timer_start(&r->timer, on_req_timer, (uint64_t)(in_ms > 0 ? in_ms : 0), 0);
}

/* A connection to the node was given back or closed: go on from the loop (never from inside
 * the pool's bookkeeping). */
static void on_room(void *arg)
{
    gw_attempt *a = arg;
    a->waiting = 2;
    arm_req_timer(a->r, TIMER_WAKE, 0);
}

/* Queues a for a connection to its node: woken in arrival order, looked at every
 * GW_WATCH_MS (its node may go down meanwhile), 504 at the deadline, 503 when the queue is
 * full. */
static void wait_for_room(gw_req *r, gw_attempt *a, int front)
{
    a->waiter.wake = on_room;
    a->waiter.arg = a;
    if (gw_pool_wait(r->pool, a->node, &a->waiter, front) != 0) {
        gw_nodes_done(r->p->nodes, a->node, r->model, GW_OUT_CANCELLED, 0, now_ms());
        atomic_fetch_add(&r->p->upstream_queue_full, 1);
        answer_error(r, 503, "Retry-After: 1\r\n",
                     "every connection to the node is busy and its queue is full%s", "");
        return;
    }
    a->waiting = 1;
    atomic_fetch_add(&r->p->upstream_waiting, 1);
    int64_t left_ms = (r->deadline_ns - clock_now_ns() + 999999) / 1000000;
    arm_req_timer(r, TIMER_WAIT, left_ms < GW_WATCH_MS ? left_ms : GW_WATCH_MS);
}

/* The waiting copy's timer: woken (send if there is room still, else wait again, first in
 * line), or its periodic look (deadline passed: 504; node went down: pick another). */
static void waiting_timer(gw_req *r, gw_attempt *a)
{
    int64_t now = clock_now_ns();
    int woken = a->waiting == 2;
    if (now >= r->deadline_ns) {
        cancel_attempt(r, a);
        r->last_err = GW_UP_TIMEOUT;
        answer_failure(r);
        return;
    }
    if (!gw_nodes_usable(r->p->nodes, a->node, now / 1000000)) {
        cancel_attempt(r, a);
        start_attempt(r, (int)(a - r->att), a->kind);
    } else if (gw_pool_has_room(r->pool, a->node)) {
        stop_waiting(r, a);
        send_attempt(r, a);
    } else if (woken) {
        stop_waiting(r, a);
        wait_for_room(r, a, 1);
    } else {
        int64_t left_ms = (r->deadline_ns - now + 999999) / 1000000;
        arm_req_timer(r, TIMER_WAIT, left_ms < GW_WATCH_MS ? left_ms : GW_WATCH_MS);
    }
    if (r->ex && active_attempts(r) == 1) arm_watch(r);
}

static void on_req_timer(uv_timer_t *t)
{
    gw_req *r = t->data;
    if (!r->ex) return;
    gw_attempt *w = waiting_attempt(r);
    if (w) {
        waiting_timer(r, w);
    } else if (r->timer_mode == TIMER_WATCH) {
        if (active_attempts(r) == 1) watch(r);
    } else if (r->timer_mode == TIMER_BACKOFF) {
        start_attempt(r, 0, COPY_RETRY);
        if (r->ex && active_attempts(r) == 1) arm_watch(r);
    }
    req_maybe_free(r); /* start_attempt may have answered (no node left) */
}

/* Looks at the running copy again in GW_WATCH_MS, or at its hedge time if sooner. */
static void arm_watch(gw_req *r)
{
    if (waiting_attempt(r)) return; /* its own timer runs */
    if (r->streamed) return;        /* no hedge or rescue: its body is gone once sent */
    int run = r->att[0].c ? 0 : 1;
    gw_attempt *a = &r->att[run];
    int64_t now = clock_now_ns();
    int64_t in_ms = GW_WATCH_MS;
    if (!r->hedged && a->hedge_ms > 0) {
        int64_t to_hedge = (a->start_ns + a->hedge_ms * 1000000 - now + 999999) / 1000000;
        if (to_hedge < in_ms) in_ms = to_hedge > 0 ? to_hedge : 0;
    }
    if (r->deadline_ns - now <= in_ms * 1000000) return; /* the deadline comes first */
    arm_req_timer(r, TIMER_WATCH, in_ms);
}

/* ---- the answer from a node ---------------------------------------------------------- */
static int outcome_of(const gw_upstream_result *res)
{
    if (res->err != GW_UP_OK) return GW_OUT_FAIL;
    if (res->status == 503 || res->status == 429) return GW_OUT_OVERLOADED;
    if (res->status >= 500) return GW_OUT_FAIL;
    return GW_OUT_OK;
}

static void on_upstream_done(void *arg, gw_upstream_result *res)
{
    gw_attempt *a = arg;
    gw_req *r = a->r;
    a->c = NULL;
    int64_t now = clock_now_ns();
    int outcome = outcome_of(res);
    /* a pooled connection the node had closed, or that carried bytes from before our request
     * (a stray byte after a HEAD answer parses as a bad response): once more on a new one,
     * free of charge */
    if (res->reused && !a->fresh_tried && r->ex &&
        ((res->err == GW_UP_RESET && !res->got_bytes) || res->err == GW_UP_PROTOCOL) &&
        resend_fresh(r, a) == 0) {
        gw_upstream_result_free(res);
        return;
    }
    /* only inference calls are latency samples: metadata and health answers take microseconds
     * and would pull the model's p95 (the hedge time) down */
    gw_nodes_done(r->p->nodes, a->node, r->model, outcome,
                  r->keyed ? (now - a->start_ns) / 1000 : -1, now / 1000000);
    if (res->err == GW_UP_CONNECT && r->p->connect_failed)
        r->p->connect_failed(r->p->connect_failed_arg);
    if (!r->ex) {
        gw_upstream_result_free(res);
        req_maybe_free(r);
        return;
    }
    if (outcome == GW_OUT_OK || (outcome == GW_OUT_FAIL && res->err == GW_UP_OK)) {
        /* a real answer (5xx included: the node saw the request and said so) */
        if (a->kind == COPY_HEDGE) gw_nodes_note(r->p->nodes, a->node, GW_NOTE_HEDGE_WON);
        char *body = res->body;
        res->body = NULL;
        cancel_outrun(r, a, now);
        answer(r, res->status, res->content_type, body, res->body_len, res->headers,
               res->content_length);
        gw_upstream_result_free(res);
        req_maybe_free(r);
        return;
    }
    /* a failure: remember it, then retry if it is safe, allowed and in time */
    int retryable = outcome == GW_OUT_OVERLOADED ||
                    ((res->err == GW_UP_CONNECT || res->err == GW_UP_RESET) && !res->got_bytes);
    if (retryable && r->streamed && r->fed > 0) { /* its body went and is not kept */
        retryable = 0;
        atomic_fetch_add(&r->p->streamed_not_retried, 1);
    }
    r->last_err = res->err;
    if (outcome == GW_OUT_OVERLOADED) {
        gw_upstream_result_free(&r->last);
        r->last = *res;
    } else {
        gw_upstream_result_free(res);
    }
    if (active_attempts(r)) return; /* the other copy may still answer */
    if (!retryable || r->retries >= r->p->max_retries) {
        answer_failure(r);
        req_maybe_free(r);
        return;
    }
    if (!r->retry_held) {
        if (!gw_nodes_retry_acquire(r->p->nodes)) {
            answer_failure(r);
            req_maybe_free(r);
            return;
        }
        r->retry_held = 1;
    }
    r->retries++;
    uint64_t cap = (uint64_t)r->p->backoff_base_ms << (r->retries - 1);
    uint64_t delay = cap ? next_random(r->p) % cap : 0;
    if ((int64_t)delay * 1000000 >= r->deadline_ns - now) delay = 0;
    arm_req_timer(r, TIMER_BACKOFF, (int64_t)delay);
}

/* ---- the client ---------------------------------------------------------------------- */
static void on_client_gone(http_exchange *ex, void *arg)
{
    gw_req *r = arg;
    (void)ex;
    answer_error(r, 499, "", "client closed the request%s", "");
    req_maybe_free(r);
}

static int skip_header(const char *name)
{
    static const char *names[] = {"connection",
                                  "keep-alive",
                                  "transfer-encoding",
                                  "content-length",
                                  "host",
                                  "te",
                                  "trailer",
                                  "upgrade",
                                  "expect",
                                  "proxy-connection",
                                  "inferd-timeout-ms",
                                  NULL};
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], name) == 0) return 1;
    return 0;
}

/* The client's deadline: Inferd-Timeout-Ms from arrival (0 or absent: the gateway's own
 * request timeout). -1 if the header is malformed. */
static int read_deadline(gw_req *r, http_exchange *ex)
{
    int64_t arrival = http_ex_arrival_ns(ex);
    r->deadline_ns = arrival + r->p->request_timeout_ms * 1000000;
    const char *h = http_ex_header(ex, "inferd-timeout-ms");
    if (!h) return 0;
    char *end;
    long long v = strtoll(h, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (end == h || *end || v < 0 || v > 86400000LL * 7) return -1;
    if (v == 0) return 0; /* the node reads 0 as "no timeout" too */
    r->client_deadline = 1;
    r->deadline_ns = arrival + (int64_t)v * 1000000;
    return 0;
}

/* The request's Content-Length (the server checked it parses). */
static size_t content_length(http_exchange *ex)
{
    const char *h = http_ex_header(ex, "content-length");
    return h ? (size_t)strtoull(h, NULL, 10) : 0;
}

int gw_proxy_stream_body(http_exchange *ex, void *ctx)
{
    gw_proxy *p = ctx;
    return content_length(ex) > p->body_buffer_bytes;
}

static gw_pool *loop_pool(gw_proxy *p, http_exchange *ex)
{
    int i = http_ex_loop_index(ex);
    if (i < 0 || i >= p->n_loops) return NULL;
    if (!p->pools[i]) {
        p->pools[i] = gw_pool_new((uv_loop_t *)http_ex_loop(ex), &p->limits);
        if (p->pools[i] && p->loop_closed[i]) gw_pool_close_idle(p->pools[i]); /* stopping */
    }
    return p->pools[i];
}

void gw_proxy_handle(http_exchange *ex, void *ctx)
{
    gw_proxy *p = ctx;
    if (gw_local_route(p, ex)) return;
    gw_pool *pool = loop_pool(p, ex);
    gw_req *r = pool ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        count_result(p, GW_RES_5XX);
        http_ex_error(ex, 503, "Retry-After: 1\r\n", "out of memory");
        return;
    }
    r->p = p;
    r->pool = pool;
    r->method = http_ex_method_name(ex);
    r->head_only = http_ex_method(ex) == HTTP_KIND_HEAD;
    r->body = http_ex_body(ex, &r->body_len);
    if (http_ex_body_streamed(ex)) {
        r->streamed = 1;
        r->body = NULL;
        r->body_len = content_length(ex);
    }
    if (read_deadline(r, ex) != 0) {
        free(r);
        count_result(p, GW_RES_4XX);
        http_ex_error(ex, 400, "",
                      "header Inferd-Timeout-Ms: must be a non-negative integer "
                      "(milliseconds)");
        return;
    }
    if (clock_now_ns() >= r->deadline_ns) {
        free(r);
        count_result(p, GW_RES_DEADLINE);
        http_ex_error(ex, 504, "", "deadline exceeded before the request reached a node");
        return;
    }
    http_buf b;
    http_buf_init(&b);
    size_t pos = 0;
    const char *name, *value;
    while (http_ex_header_next(ex, &pos, &name, &value))
        if (!skip_header(name)) http_buf_printf(&b, "%s: %s\r\n", name, value);
    r->fwd = b.len ? http_buf_take(&b, NULL) : NULL;
    http_buf_free(&b);
    int is_infer = 0;
    gw_route_model(http_ex_path(ex), r->model, sizeof r->model, &is_infer);
    r->keyed = is_infer;
    if (is_infer) /* a streamed body is not hashed: its key is the model's (or the header) */
        r->key = gw_route_key(http_ex_header(ex, "inferd-routing-key"), r->model,
                              r->streamed ? "" : r->body, r->streamed ? 0 : r->body_len);
    uv_timer_init((uv_loop_t *)http_ex_loop(ex), &r->timer);
    r->timer.data = r;
    r->ex = ex;
    gw_nodes_request_begin(p->nodes);
    http_ex_on_orphan(ex, on_client_gone, r);
    if (r->streamed) {
        atomic_fetch_add(&p->bodies_streamed, 1);
        http_ex_body_reader(ex, on_client_body, r);
    }
    start_attempt(r, 0, COPY_FIRST);
    if (r->ex && active_attempts(r) == 1) arm_watch(r);
    req_maybe_free(r);
}

/* ---- set-up -------------------------------------------------------------------------- */
/* Once stopping is set, each loop closes its idle upstream connections (and pools no more)
 * the next time round, and says so. */
static int before_wait(void *arg, int loop)
{
    gw_proxy *p = arg;
    if (loop < 0 || loop >= p->n_loops || !atomic_load(&p->stopping) || p->loop_closed[loop])
        return 0;
    if (p->pools[loop]) gw_pool_close_idle(p->pools[loop]);
    p->loop_closed[loop] = 1;
    atomic_fetch_add(&p->loops_closed, 1);
    return 0;
}

void gw_proxy_stop(gw_proxy *p, int64_t timeout_ms)
{
    atomic_store(&p->stopping, 1);
    int64_t until = clock_now_ns() + timeout_ms * 1000000;
    /* the loops notice on their next turn (http_server_stop_accepting wakes them) */
    while (atomic_load(&p->loops_closed) < p->n_loops && clock_now_ns() < until) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

http_loop_hooks gw_proxy_hooks(gw_proxy *p)
{
    http_loop_hooks h = {.before_wait = before_wait, .arg = p};
    return h;
}

int gw_proxy_init(gw_proxy *p, gw_nodes *nodes, int n_loops)
{
    p->nodes = nodes;
    gw_upstream_limits_default(&p->limits);
    p->request_timeout_ms = 600000;
    p->max_retries = 2;
    p->body_buffer_bytes = (size_t)1 << 20;
    p->backoff_base_ms = 5;
    p->n_loops = n_loops;
    p->pools = calloc((size_t)n_loops, sizeof *p->pools);
    p->loop_closed = calloc((size_t)n_loops, sizeof *p->loop_closed);
    atomic_init(&p->stopping, 0);
    atomic_init(&p->loops_closed, 0);
    atomic_init(&p->seed, (uint64_t)clock_now_ns());
    for (int i = 0; i < GW_RES_N; i++) atomic_init(&p->results[i], 0);
    atomic_init(&p->srv, NULL);
    atomic_init(&p->upstream_waiting, 0);
    atomic_init(&p->upstream_queue_full, 0);
    atomic_init(&p->bodies_streamed, 0);
    atomic_init(&p->streamed_not_retried, 0);
    return p->pools && p->loop_closed ? 0 : -1;
}

void gw_proxy_destroy(gw_proxy *p)
{
    for (int i = 0; i < p->n_loops; i++) gw_pool_free(p->pools[i]);
    free(p->pools);
    free(p->loop_closed);
    p->pools = NULL;
    p->loop_closed = NULL;
}
