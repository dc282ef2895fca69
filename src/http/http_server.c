/* The HTTP server's threads: one libuv loop per thread, each with its own SO_REUSEPORT
 * listening socket on the shared port; cross-thread posts into a loop; staged shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "inferd/log.h"

void http_options_default(http_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "0.0.0.0";
    o->port = 8000;
    o->threads = 2;
    o->max_body_bytes = 64u << 20;
    o->max_header_bytes = 16u << 10;
    o->header_timeout_ms = 10000;
    o->idle_timeout_ms = 60000;
    o->max_connections = 10000;
    o->max_pipeline = 64;
    o->max_write_queue = 4u << 20;
    o->max_inflight_bytes = (size_t)1 << 30;
}

/* ---- cross-thread posts --------------------------------------------------------------- */
static void run_posts(http_loop *lp)
{
    pthread_mutex_lock(&lp->post_lock);
    http_exchange *ex = lp->post_head;
    lp->post_head = lp->post_tail = NULL;
    atomic_store_explicit(&lp->posts_waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&lp->post_lock);
    while (ex) {
        http_exchange *next = ex->post_next;
        ex->post_next = NULL;
        void (*fn)(http_exchange *, void *) = ex->post_fn;
        ex->post_fn = NULL;
        fn(ex, ex->post_arg);
        ex = next;
    }
}

static void on_post(uv_async_t *a)
{
    run_posts(a->data);
}

/* The loop whose before_wait hook runs on this thread (posts to it need no wake-up). */
static _Thread_local http_loop *ticking;

static void on_again(uv_idle_t *i)
{
    (void)i; /* only there to keep the wait for I/O from blocking */
}

/* Appends the list first..last (linked by post_next) to to's posts; wakes to when `wake` (not
 * needed from to's own tick: on_before_wait runs the list when the tick returns). */
static void post_list(http_loop *to, http_exchange *first, http_exchange *last, int wake)
{
    pthread_mutex_lock(&to->post_lock);
    if (!to->post_closed) { /* else the loop is gone: dropped */
        if (to->post_tail) to->post_tail->post_next = first;
        else to->post_head = first;
        to->post_tail = last;
        atomic_store_explicit(&to->posts_waiting, 1, memory_order_relaxed);
        /* under the lock: the handle cannot be closed between the check and the send */
        if (wake) uv_async_send(&to->post_async);
    }
    pthread_mutex_unlock(&to->post_lock);
}

/* Hands what lp's tick posted to other loops over, one list per loop, in post order. A
 * completion answers a whole batch at once: posted one by one, the other loop would wake for
 * the first answer and again for the ones posted while it ran that one. */
static void hand_over_staged(http_loop *lp)
{
    http_exchange *rest = lp->staged_head;
    lp->staged_head = lp->staged_tail = NULL;
    while (rest) {
        http_loop *to = rest->lp;
        http_exchange *first = NULL, *last = NULL, *keep = NULL, *keep_tail = NULL;
        for (http_exchange *ex = rest, *next; ex; ex = next) {
            next = ex->post_next;
            ex->post_next = NULL;
            http_exchange **head = ex->lp == to ? &first : &keep;
            http_exchange **tail = ex->lp == to ? &last : &keep_tail;
            if (*tail) (*tail)->post_next = ex;
            else *head = ex;
            *tail = ex;
        }
        post_list(to, first, last, 1);
        rest = keep;
    }
}

static void on_before_wait(uv_prepare_t *p)
{
    http_loop *lp = p->data;
    const http_loop_hooks *h = &lp->srv->opts.hooks;
    if (!h->before_wait) return;
    ticking = lp;
    lp->tick_posted = 0;
    int again = h->before_wait(h->arg, lp->index);
    ticking = NULL;
    /* An active idle handle makes this iteration's wait for I/O return at once. */
    if (again) uv_idle_start(&lp->again, on_again);
    else uv_idle_stop(&lp->again);
    if (lp->staged_head) hand_over_staged(lp); /* first: the other loops answer meanwhile */
    if (lp->tick_posted) run_posts(lp);
}

static void on_after_wait(uv_check_t *c)
{
    http_loop *lp = c->data;
    const http_loop_hooks *h = &lp->srv->opts.hooks;
    if (h->after_wait) h->after_wait(h->arg, lp->index);
}

static void on_wake(uv_poll_t *p, int status, int events)
{
    (void)status, (void)events;
    http_loop *lp = p->data;
    const http_loop_hooks *h = &lp->srv->opts.hooks;
    if (h->woken) h->woken(h->arg, lp->index);
}

/* Starts the loop's hooks (no-op without any). */
static void hooks_open(http_loop *lp)
{
    const http_loop_hooks *h = &lp->srv->opts.hooks;
    if (!h->before_wait && !h->after_wait && !h->wake_fd) return;
    uv_prepare_init(&lp->loop, &lp->before); /* cannot fail on an initialised loop */
    uv_check_init(&lp->loop, &lp->after);
    uv_idle_init(&lp->loop, &lp->again);
    lp->before.data = lp->after.data = lp;
    uv_prepare_start(&lp->before, on_before_wait);
    uv_check_start(&lp->after, on_after_wait);
    lp->hooks_open = 1;
    int fd = h->wake_fd ? h->wake_fd(h->arg, lp->index) : -1;
    if (fd >= 0 && uv_poll_init(&lp->loop, &lp->wake, fd) == 0) {
        lp->wake.data = lp;
        uv_poll_start(&lp->wake, UV_READABLE, on_wake);
        lp->wake_open = 1;
    } else if (fd >= 0) {
        log_warn("http: loop %d cannot watch its wake-up fd: answers wait for its next turn",
                 lp->index);
    }
}

static void hooks_close(http_loop *lp)
{
    if (!lp->hooks_open) return;
    uv_close((uv_handle_t *)&lp->before, NULL);
    uv_close((uv_handle_t *)&lp->after, NULL);
    uv_close((uv_handle_t *)&lp->again, NULL);
    if (lp->wake_open) uv_close((uv_handle_t *)&lp->wake, NULL);
    lp->hooks_open = lp->wake_open = 0;
}

void http_ex_post(http_exchange *ex, void (*fn)(http_exchange *ex, void *arg), void *arg)
{
    http_loop *lp = ex->lp;
    ex->post_fn = fn;
    ex->post_arg = arg;
    ex->post_next = NULL;
    http_loop *from = ticking;
    if (from && from != lp) { /* another loop's tick: handed over when it returns */
        if (from->staged_tail) from->staged_tail->post_next = ex;
        else from->staged_head = ex;
        from->staged_tail = ex;
        return;
    }
    if (from == lp) lp->tick_posted = 1;
    post_list(lp, ex, ex, from != lp);
}

/* ---- shutdown phases ------------------------------------------------------------------ */
/* Closes the loop's handles once shutdown is on and its last connection is gone. */
static void http_loop_maybe_finish(http_loop *lp)
{
    if (atomic_load(&lp->srv->phase) < 2 || lp->conns || !lp->asyncs_open) return;
    http_listener_close(lp);
    pthread_mutex_lock(&lp->post_lock);
    lp->post_closed = 1;
    pthread_mutex_unlock(&lp->post_lock);
    run_posts(lp); /* answers to orphaned exchanges: let them free themselves */
    lp->asyncs_open = 0;
    uv_close((uv_handle_t *)&lp->post_async, NULL);
    uv_close((uv_handle_t *)&lp->ctl_async, NULL);
    hooks_close(lp);
}

static void on_ctl(uv_async_t *a)
{
    http_loop *lp = a->data;
    int phase = atomic_load(&lp->srv->phase);
    if (phase >= 1) http_listener_close(lp);
    /* from the moment intake stops, every connection answers what it received, saying
     * Connection: close on its last answer, and closes */
    if (phase >= 1 && lp->phase_seen < phase) {
        http_conn *c = lp->conns;
        while (c) {
            http_conn *next = http_conn_next(c);
            if (phase >= 3) http_conn_force_close(c);
            else http_conn_drain(c);
            c = next;
        }
    }
    lp->phase_seen = phase;
    run_posts(lp);
    http_loop_maybe_finish(lp);
}

static void set_phase(http_server *srv, int phase)
{
    atomic_store(&srv->phase, phase);
    for (int i = 0; i < srv->n_loops; i++) {
        http_loop *lp = &srv->loops[i];
        pthread_mutex_lock(&lp->post_lock);
        if (!lp->post_closed) uv_async_send(&lp->ctl_async);
        pthread_mutex_unlock(&lp->post_lock);
    }
}

void http_server_stop_accepting(http_server *srv)
{
    set_phase(srv, 1);
}

static void *loop_thread(void *arg)
{
    http_loop *lp = arg;
    uv_run(&lp->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int join_until(pthread_t t, int64_t deadline_ms_abs)
{
    struct timespec ts;
    ts.tv_sec = deadline_ms_abs / 1000;
    ts.tv_nsec = (deadline_ms_abs % 1000) * 1000000;
    return pthread_timedjoin_np(t, NULL, &ts);
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_server_shutdown(http_server *srv, int64_t timeout_ms)
{
    if (!srv) return;
    set_phase(srv, 2);
    int64_t deadline = realtime_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int all_joined = 1;
    for (int i = 0; i < srv->n_loops; i++) {
        http_loop *lp = &srv->loops[i];
        if (!lp->thread_started) continue;
        if (join_until(lp->thread, deadline) == 0) lp->thread_started = 0;
        else all_joined = 0;
    }
    if (!all_joined) {
        log_warn("http: connections still open after %lld ms; closing them", (long long)timeout_ms);
        set_phase(srv, 3);
        for (int i = 0; i < srv->n_loops; i++) {
            http_loop *lp = &srv->loops[i];
            if (!lp->thread_started) continue;
            if (join_until(lp->thread, realtime_ms() + 2000) == 0) lp->thread_started = 0;
        }
    }
    int leak = 0;
    for (int i = 0; i < srv->n_loops; i++) {
        http_loop *lp = &srv->loops[i];
        if (lp->thread_started) {
            leak = 1; /* a wedged loop: leave its memory alone, the process is ending */
            continue;
        }
        int rc = uv_loop_close(&lp->loop);
        if (rc) log_warn("http: loop %d still had handles at close: %s", i, uv_strerror(rc));
        http_exchange_cache_drop(lp);
        pthread_mutex_destroy(&lp->post_lock);
    }
    if (leak) {
        log_error("http: a front-end thread did not stop");
        return;
    }
    free(srv->loops);
    free(srv);
}

int http_server_port(const http_server *srv)
{
    return srv->port;
}

void http_server_connections(http_server *srv, int *open, uint64_t *accepted)
{
    *open = atomic_load_explicit(&srv->n_conns, memory_order_relaxed);
    *accepted = atomic_load_explicit(&srv->accepted, memory_order_relaxed);
}

int http_server_start(const http_options *opts, http_handler handler, void *ctx, http_server **out,
                      char *err, size_t err_len)
{
    *out = NULL;
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    srv->opts = *opts;
    if (srv->opts.threads < 1) srv->opts.threads = 1;
    if (srv->opts.max_pipeline < 1) srv->opts.max_pipeline = 1;
    srv->handler = handler;
    srv->ctx = ctx;
    srv->n_loops = srv->opts.threads;
    srv->loops = calloc((size_t)srv->n_loops, sizeof *srv->loops);
    if (!srv->loops) {
        free(srv);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int port = opts->port;
    int n_init = 0, rc = 0;
    for (int i = 0; i < srv->n_loops && rc == 0; i++) {
        http_loop *lp = &srv->loops[i];
        lp->srv = srv;
        if (uv_loop_init(&lp->loop) != 0) {
            snprintf(err, err_len, "uv_loop_init failed");
            rc = -1;
            break;
        }
        pthread_mutex_init(&lp->post_lock, NULL);
        lp->conn_gone = http_loop_maybe_finish;
        lp->run_posts = run_posts;
        /* uv_async_init fails only without file descriptors: then nothing of lp is open */
        int arc = uv_async_init(&lp->loop, &lp->post_async, on_post);
        if (arc == 0) {
            arc = uv_async_init(&lp->loop, &lp->ctl_async, on_ctl);
            if (arc) uv_close((uv_handle_t *)&lp->post_async, NULL);
        }
        if (arc) {
            snprintf(err, err_len, "uv_async_init: %s", uv_strerror(arc));
            uv_run(&lp->loop, UV_RUN_DEFAULT);
            uv_loop_close(&lp->loop);
            pthread_mutex_destroy(&lp->post_lock);
            rc = -1;
            break;
        }
        lp->post_async.data = lp->ctl_async.data = lp;
        lp->asyncs_open = 1;
        lp->index = i;
        hooks_open(lp);
        n_init++;
        rc = http_listener_open(lp, opts->host, &port, err, err_len);
    }
    srv->port = port;
    for (int i = 0; i < n_init && rc == 0; i++) {
        http_loop *lp = &srv->loops[i];
        int prc = pthread_create(&lp->thread, NULL, loop_thread, lp);
        if (prc != 0) { /* returns the error; errno is not set */
            snprintf(err, err_len, "pthread_create: %s", strerror(prc));
            rc = -1;
            break;
        }
        lp->thread_started = 1;
        char name[32]; /* for profiles; best effort (the kernel keeps 15 bytes) */
        snprintf(name, sizeof name, "http-loop%d", i);
        name[15] = '\0';
        pthread_setname_np(lp->thread, name);
    }
    if (rc != 0) {
        /* tear down: running threads exit once their handles are closed */
        srv->n_loops = n_init;
        int any_started = 0;
        for (int i = 0; i < n_init; i++) any_started |= srv->loops[i].thread_started;
        if (any_started) {
            http_server_shutdown(srv, 1000);
            return -1;
        }
        for (int i = 0; i < n_init; i++) {
            http_loop *lp = &srv->loops[i];
            http_listener_close(lp);
            uv_close((uv_handle_t *)&lp->post_async, NULL);
            uv_close((uv_handle_t *)&lp->ctl_async, NULL);
            hooks_close(lp);
            uv_run(&lp->loop, UV_RUN_DEFAULT);
            uv_loop_close(&lp->loop);
            pthread_mutex_destroy(&lp->post_lock);
        }
        free(srv->loops);
        free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}
