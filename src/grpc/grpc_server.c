/* The gRPC server's loop thread: its listener, a once-a-second tick (keep-alive pings, idle
 * connections), posts from other threads, and the staged shutdown (stop accepting, GOAWAY,
 * wait, close what is left). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "grpc_internal.h"
#include "inferd/clock.h"
#include "inferd/log.h"

void grpc_options_default(grpc_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "0.0.0.0";
    o->port = 8001;
    o->max_message_bytes = 64u << 20;
    o->max_connections = 1000;
    o->max_streams = 1024;
    o->keepalive_ms = 0;
    o->idle_timeout_ms = 0;
    o->max_inflight_bytes = (size_t)1 << 30;
    o->threads = 1;
}

int grpc_server_port(const grpc_server *srv)
{
    return srv->port;
}

void grpc_server_connections(grpc_server *srv, int *open, uint64_t *accepted)
{
    *open = 0;
    *accepted = 0;
    for (int i = 0; i < srv->n_loops; i++) {
        if (!srv->loops[i]) continue;
        *open += atomic_load_explicit(&srv->loops[i]->n_conns_shared, memory_order_relaxed);
        *accepted += atomic_load_explicit(&srv->loops[i]->accepted, memory_order_relaxed);
    }
}

static void flush_dirty(grpc_loop *srv);

static void run_posts(grpc_loop *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    grpc_post *p = srv->post_head;
    srv->post_head = srv->post_tail = NULL;
    pthread_mutex_unlock(&srv->post_lock);
    srv->deferring = 1;
    while (p) {
        grpc_post *next = p->next;
        p->fn(p->call, p->arg);
        free(p);
        p = next;
    }
    srv->deferring = 0;
    flush_dirty(srv);
}

static void on_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
    flush_dirty(h->data);
}

void grpc_conn_flush_soon(grpc_conn *c)
{
    grpc_loop *srv = c->srv;
    if (c->closed) return;
    if (srv->deferring) { /* run_posts flushes it */
        grpc_conn_flush(c);
        return;
    }
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = srv->dirty;
        srv->dirty = c;
    }
    uv_idle_start(&srv->idle, on_idle);
}

static void flush_dirty(grpc_loop *srv)
{
    /* a closed connection is taken off the list (grpc_conn_close) */
    grpc_conn *c = srv->dirty;
    srv->dirty = NULL;
    while (c) {
        grpc_conn *next = c->next_dirty;
        c->dirty = 0;
        c->next_dirty = NULL;
        grpc_conn_flush(c);
        c = next;
    }
}

static void close_listener(grpc_loop *srv)
{
    if (!srv->listener_open) return;
    srv->listener_open = 0;
    uv_close((uv_handle_t *)&srv->listener, NULL);
}

/* Once winding down and the last connection is gone: close the handles, the loop ends. */
static void maybe_finish(grpc_loop *srv)
{
    if (atomic_load(&srv->phase) < 2 || srv->conns) return;
    close_listener(srv);
    run_posts(srv);
    pthread_mutex_lock(&srv->post_lock);
    if (srv->post_closed) {
        pthread_mutex_unlock(&srv->post_lock);
        return;
    }
    srv->post_closed = 1;
    pthread_mutex_unlock(&srv->post_lock);
    if (srv->h.on_loop_end) srv->h.on_loop_end(srv->index, srv->ctx);
    uv_close((uv_handle_t *)&srv->async, NULL);
    uv_close((uv_handle_t *)&srv->tick, NULL);
    uv_close((uv_handle_t *)&srv->idle, NULL);
}

static void on_async(uv_async_t *a)
{
    grpc_loop *srv = a->data;
    int phase = atomic_load(&srv->phase);
    if (phase >= 1 && srv->phase_seen < phase) {
        srv->phase_seen = phase;
        close_listener(srv);
        for (grpc_conn *c = srv->conns, *next; c; c = next) {
            next = c->next;
            if (phase >= 3) {
                grpc_conn_close(c);
            } else if (!c->closed) {
                /* graceful: streams already open finish, no new ones */
                nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                                      nghttp2_session_get_last_proc_stream_id(c->session),
                                      NGHTTP2_NO_ERROR, NULL, 0);
                grpc_conn_flush(c);
            }
        }
    }
    run_posts(srv);
    maybe_finish(srv);
}

static void on_tick(uv_timer_t *t)
{
    grpc_loop *srv = t->data;
    int64_t now = clock_now_ns();
    for (grpc_conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        grpc_conn_tick(c, now);
    }
}

static void on_connection(uv_stream_t *l, int status)
{
    grpc_loop *srv = l->data;
    if (status < 0) {
        log_warn_limited("grpc: accept failed: %s", uv_strerror(status));
        return;
    }
    grpc_conn_accept(srv);
}

static void *loop_thread(void *arg)
{
    grpc_loop *srv = arg;
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int listen_on(grpc_loop *srv, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    int rc = strchr(srv->host, ':') ? uv_ip6_addr(srv->host, srv->port, (struct sockaddr_in6 *)&ss)
                                    : uv_ip4_addr(srv->host, srv->port, (struct sockaddr_in *)&ss);
    if (rc) {
        snprintf(err, err_len, "grpc: bad listen address '%s': %s", srv->host, uv_strerror(rc));
        return -1;
    }
    uv_tcp_init(&srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = 1;
    /* every loop's socket shares the port (SO_REUSEPORT): the kernel spreads connections */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t alen =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, alen) != 0) {
        snprintf(err, err_len, "grpc: cannot listen on %s:%d: %s", srv->host, srv->port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    rc = uv_tcp_open(&srv->listener, fd);
    if (!rc) rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc) {
        snprintf(err, err_len, "grpc: cannot listen on %s:%d: %s", srv->host, srv->port,
                 uv_strerror(rc));
        return -1; /* the handle owns fd now: closed with it */
    }
    struct sockaddr_storage got;
    int len = sizeof got;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got, &len) == 0)
        srv->port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                              : ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int loop_start(const grpc_options *opts, int index, const grpc_handler *handler, void *ctx,
                      grpc_loop **out, char *err, size_t err_len)
{
    grpc_loop *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_len, "grpc: out of memory");
        return -1;
    }
    srv->opts = *opts;
    srv->index = index;
    if (!srv->opts.max_message_bytes) srv->opts.max_message_bytes = 64u << 20;
    if (srv->opts.max_connections <= 0) srv->opts.max_connections = 1000;
    if (!srv->opts.max_streams) srv->opts.max_streams = 1024;
    srv->h = *handler;
    srv->ctx = ctx;
    snprintf(srv->host, sizeof srv->host, "%s", opts->host ? opts->host : "0.0.0.0");
    srv->port = opts->port;
    pthread_mutex_init(&srv->post_lock, NULL);
    uv_loop_init(&srv->loop);
    uv_async_init(&srv->loop, &srv->async, on_async);
    srv->async.data = srv;
    uv_timer_init(&srv->loop, &srv->tick);
    srv->tick.data = srv;
    uv_idle_init(&srv->loop, &srv->idle);
    srv->idle.data = srv;
    if (listen_on(srv, err, err_len) != 0) goto fail;
    uv_timer_start(&srv->tick, on_tick, 1000, 1000);
    if (pthread_create(&srv->thread, NULL, loop_thread, srv) != 0) {
        snprintf(err, err_len, "grpc: cannot start the loop thread");
        goto fail;
    }
    srv->thread_started = 1;
    *out = srv;
    return 0;
fail:
    uv_walk(&srv->loop, close_walk, NULL);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
    pthread_mutex_destroy(&srv->post_lock);
    free(srv);
    return -1;
}

static void set_phase(grpc_loop *srv, int phase)
{
    atomic_store(&srv->phase, phase);
    pthread_mutex_lock(&srv->post_lock);
    if (!srv->post_closed) uv_async_send(&srv->async);
    pthread_mutex_unlock(&srv->post_lock);
}

static void loop_stop_accepting(grpc_loop *srv)
{
    if (atomic_load(&srv->phase) < 1) set_phase(srv, 1);
}

static int join_until(pthread_t t, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (timeout_ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return pthread_timedjoin_np(t, NULL, &ts);
}

static void loop_shutdown(grpc_loop *srv, int64_t timeout_ms)
{
    set_phase(srv, 2);
    if (srv->thread_started && join_until(srv->thread, timeout_ms > 0 ? timeout_ms : 0) != 0) {
        log_warn("grpc: %d connections still open after %lld ms; closing them",
                 atomic_load(&srv->n_conns_shared), (long long)timeout_ms);
        set_phase(srv, 3);
        if (join_until(srv->thread, 2000) != 0) {
            log_warn("grpc: the loop thread did not end; leaving it");
            return;
        }
    }
    int rc = uv_loop_close(&srv->loop);
    if (rc) log_warn("grpc: the loop still had handles at close: %s", uv_strerror(rc));
    pthread_mutex_destroy(&srv->post_lock);
    free(srv);
}

/* ---- the server: threads loops, each its own listener on the port -------------------- */

int grpc_server_start(const grpc_options *opts, const grpc_handler *handler, void *ctx,
                      grpc_server **out, char *err, size_t err_len)
{
    grpc_server *gs = calloc(1, sizeof *gs);
    if (!gs) {
        snprintf(err, err_len, "grpc: out of memory");
        return -1;
    }
    int n = opts->threads < 1 ? 1 : opts->threads > GRPC_MAX_LOOPS ? GRPC_MAX_LOOPS : opts->threads;
    grpc_options share = *opts;
    /* the limits are the server's: each loop gets its part */
    if (share.max_connections > 0) share.max_connections = (share.max_connections + n - 1) / n;
    if (share.max_inflight_bytes) share.max_inflight_bytes /= (size_t)n;
    for (int i = 0; i < n; i++) {
        if (i > 0) share.port = gs->port; /* 0 asked any port: the others join the first's */
        if (loop_start(&share, i, handler, ctx, &gs->loops[i], err, err_len) != 0) {
            grpc_server_shutdown(gs, 0);
            return -1;
        }
        gs->n_loops = i + 1;
        gs->port = gs->loops[i]->port;
    }
    *out = gs;
    return 0;
}

void grpc_server_stop_accepting(grpc_server *gs)
{
    if (!gs) return;
    for (int i = 0; i < gs->n_loops; i++) loop_stop_accepting(gs->loops[i]);
}

void grpc_server_shutdown(grpc_server *gs, int64_t timeout_ms)
{
    if (!gs) return;
    /* every loop winds down at once; the wait is shared */
    for (int i = 0; i < gs->n_loops; i++) set_phase(gs->loops[i], 2);
    int64_t end_ms = clock_now_ns() / 1000000 + timeout_ms;
    for (int i = 0; i < gs->n_loops; i++) { /* one deadline for all, not one per loop */
        int64_t left = end_ms - clock_now_ns() / 1000000;
        loop_shutdown(gs->loops[i], left > 0 ? left : 0);
    }
    free(gs);
}
