/* gw_upstream and gw_pool against a scripted loopback server: responses with a length,
#define _GNU_SOURCE
 * chunked, ended by close, too large, malformed, none at all (reset, timeout), a refused
 * connect, keep-alive reuse from the pool and Connection: close honoured, and cancel; the cap
 * on active connections per node and its queue; a HEAD answer's Content-Length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_upstream.h"
#include "inferd/clock.h"

/* ---- the scripted server: answers every request on a connection with `reply`, then
 * closes (close_after), hangs (never answers: hang) or waits for the next ---- */
static struct {
    int fd, port;
    pthread_t thread;
    const char *reply;
    int close_after, hang;
    _Atomic int conns, requests, peer_closed;
    _Atomic int closed[256]; /* by connection number (1, 2, ... in accept order) */
} srv;

/* Waits (bounded) until the client has closed connection number id. */
static int wait_closed(uv_loop_t *loop, int id)
{
    int64_t until = clock_now_ns() + 5000000000LL;
    while (!atomic_load(&srv.closed[id & 255]) && clock_now_ns() < until)
        uv_run(loop, UV_RUN_NOWAIT);
    return atomic_load(&srv.closed[id & 255]);
}

static void *serve_conn(void *arg)
{
    int c = (int)((intptr_t)arg & 0xffff), id = (int)((intptr_t)arg >> 16);
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(c, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) {
            atomic_fetch_add(&srv.peer_closed, 1);
            atomic_store(&srv.closed[id & 255], 1);
            break;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(buf, "content-length:");
        size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
        size_t need = (size_t)(end + 4 - buf) + body;
        if (have < need) continue;
        memmove(buf, buf + need, have - need);
        have -= need;
        atomic_fetch_add(&srv.requests, 1);
        if (srv.hang) continue;
        if (send(c, srv.reply, strlen(srv.reply), MSG_NOSIGNAL) < 0) break;
        if (srv.close_after) { /* a graceful close: FIN, then wait for the client's */
            shutdown(c, SHUT_WR);
            while (recv(c, buf, sizeof buf, 0) > 0) {}
            atomic_fetch_add(&srv.peer_closed, 1);
            atomic_store(&srv.closed[id & 255], 1);
            break;
        }
    }
    close(c);
    return NULL;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0) return NULL;
        int id = atomic_fetch_add(&srv.conns, 1) + 1;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, (void *)(((intptr_t)id << 16) | c));
        pthread_detach(t);
    }
}

static void server_start(void)
{
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(srv.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.fd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(srv.fd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    pthread_create(&srv.thread, NULL, serve, NULL);
}

/* ---- the client side ---- */
typedef struct got {
    int done;
    gw_upstream_result res;
} got;

static void on_done(void *arg, gw_upstream_result *res)
{
    got *g = arg;
    g->done++;
    g->res = *res; /* taken */
}

static struct sockaddr_in server_addr(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

/* Runs the loop until g is answered (bounded: 5 s). */
static void wait_done(uv_loop_t *loop, got *g)
{
    int64_t until = clock_now_ns() + 5000000000LL;
    while (!g->done && clock_now_ns() < until) uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(g->done, 1);
}

static got *send_one(uv_loop_t *loop, gw_pool *p, int port, int64_t timeout_ms)
{
    static got g;
    memset(&g, 0, sizeof g);
    struct sockaddr_in a = server_addr(port);
    static const char req[] = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n";
    gw_uconn *c = gw_upstream_send(p, 0, (struct sockaddr *)&a, strdup(req), sizeof req - 1, "abc",
                                   3, 0, timeout_ms, on_done, &g);
    assert_non_null(c);
    wait_done(loop, &g);
    return &g;
}

static uv_loop_t loop;
static gw_pool *pool;

static int setup(void **state)
{
    (void)state;
    uv_loop_init(&loop);
    gw_upstream_limits l;
    gw_upstream_limits_default(&l);
    l.max_response_bytes = 1000;
    pool = gw_pool_new(&loop, &l);
    srv.close_after = srv.hang = 0;
    atomic_store(&srv.conns, 0);
    atomic_store(&srv.requests, 0);
    atomic_store(&srv.peer_closed, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_pool_free(pool);
    int64_t until = clock_now_ns() + 5000000000LL;
    while (uv_run(&loop, UV_RUN_NOWAIT) && clock_now_ns() < until) {}
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void test_keep_alive_and_reuse(void **state)
{
    (void)state;
    srv.reply =
        "HTTP/1.1 201 Created\r\nContent-Type: text/x\r\nX-A: 1\r\nConnection: keep-alive\r\n"
        "Content-Length: 5\r\n\r\nhello";
    got *g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_OK);
    assert_int_equal(g->res.status, 201);
    assert_int_equal(g->res.body_len, 5);
    assert_memory_equal(g->res.body, "hello", 5);
    assert_string_equal(g->res.content_type, "text/x");
    assert_string_equal(g->res.headers, "X-A: 1\r\n"); /* hop-by-hop and lengths dropped */
    assert_int_equal(g->res.reused, 0);
    gw_upstream_result_free(&g->res);
    assert_int_equal(gw_pool_idle_count(pool, 0), 1);
    g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_OK);
    assert_int_equal(g->res.reused, 1);
    gw_upstream_result_free(&g->res);
    assert_int_equal(atomic_load(&srv.conns), 1);
    assert_int_equal(atomic_load(&srv.requests), 2);
}

static void on_wake(void *arg)
{
    (*(int *)arg)++;
}

static void test_cap_and_waiters_in_order(void **state)
{
    (void)state;
    gw_pool_free(pool);
    gw_upstream_limits l;
    gw_upstream_limits_default(&l);
    l.max_conns_per_node = 1;
    l.max_queue_per_node = 2;
    pool = gw_pool_new(&loop, &l);
    srv.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static got g;
    memset(&g, 0, sizeof g);
    struct sockaddr_in a = server_addr(srv.port);
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(gw_pool_has_room(pool, 0), 1);
    assert_non_null(gw_upstream_send(pool, 0, (struct sockaddr *)&a, strdup(req), sizeof req - 1,
                                     NULL, 0, 0, 0, on_done, &g));
    assert_int_equal(gw_pool_busy_count(pool, 0), 1);
    assert_int_equal(gw_pool_has_room(pool, 0), 0);
    assert_int_equal(gw_pool_has_room(pool, 1), 1); /* per node */
    int woke[3] = {0, 0, 0};
    gw_pool_waiter w[3];
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].wake = on_wake;
        w[i].arg = &woke[i];
    }
    assert_int_equal(gw_pool_wait(pool, 0, &w[0], 0), 0);
    assert_int_equal(gw_pool_wait(pool, 0, &w[1], 0), 0);
    assert_int_equal(gw_pool_wait(pool, 0, &w[2], 0), -1); /* the queue (2) is full */
    assert_int_equal(gw_pool_waiting_count(pool, 0), 2);
    wait_done(&loop, &g); /* the connection goes back to the pool: the first waiter wakes */
    gw_upstream_result_free(&g.res);
    assert_int_equal(woke[0], 1);
    assert_int_equal(woke[1], 0);
    assert_int_equal(w[0].linked, 0);
    assert_int_equal(gw_pool_busy_count(pool, 0), 0);
    assert_int_equal(gw_pool_has_room(pool, 0), 1);
    /* the woken one gave up: the room passes to the next */
    gw_pool_kick(pool, 0);
    assert_int_equal(woke[1], 1);
    assert_int_equal(gw_pool_waiting_count(pool, 0), 0);
    /* one woken too late goes back first in line, past the queue's limit */
    assert_int_equal(gw_pool_wait(pool, 0, &w[0], 0), 0);
    assert_int_equal(gw_pool_wait(pool, 0, &w[1], 0), 0);
    assert_int_equal(gw_pool_wait(pool, 0, &w[2], 1), 0);
    assert_ptr_equal(w[2].next, &w[0]);
    gw_pool_wait_cancel(pool, &w[2]);
    gw_pool_wait_cancel(pool, &w[0]);
    gw_pool_wait_cancel(pool, &w[1]);
    gw_pool_wait_cancel(pool, &w[1]); /* twice: nothing */
    assert_int_equal(gw_pool_waiting_count(pool, 0), 0);
}

static void test_head_answer_keeps_its_length(void **state)
{
    (void)state;
    srv.reply = "HTTP/1.1 200 OK\r\nContent-Type: text/x\r\nContent-Length: 12345\r\n\r\n";
    static got g;
    memset(&g, 0, sizeof g);
    struct sockaddr_in a = server_addr(srv.port);
    static const char req[] = "HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_non_null(gw_upstream_send(pool, 0, (struct sockaddr *)&a, strdup(req), sizeof req - 1,
                                     NULL, 0, GW_UP_HEAD_ONLY, 0, on_done, &g));
    wait_done(&loop, &g);
    assert_int_equal(g.res.err, GW_UP_OK);
    assert_int_equal(g.res.content_length, 12345);
    assert_int_equal(g.res.body_len, 0);
    gw_upstream_result_free(&g.res);
    assert_int_equal(gw_pool_idle_count(pool, 0), 1); /* no body to wait for: reusable */
}

static void test_connection_close_not_pooled(void **state)
{
    (void)state;
    srv.reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    got *g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_OK);
    gw_upstream_result_free(&g->res);
    assert_int_equal(gw_pool_idle_count(pool, 0), 0);
}

static void test_chunked_and_close_delimited(void **state)
{
    (void)state;
    srv.reply =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    got *g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_OK);
    assert_int_equal(g->res.body_len, 5);
    assert_memory_equal(g->res.body, "abcde", 5);
    assert_null(g->res.headers == NULL ? NULL : strstr(g->res.headers, "Transfer-Encoding"));
    gw_upstream_result_free(&g->res);
    gw_pool_close_idle(pool); /* else the server would close the pooled one under us */
    srv.close_after = 1;
    srv.reply = "HTTP/1.1 200 OK\r\n\r\nuntil close";
    g = send_one(&loop, pool, srv.port, 0);
    if (g->res.err) fail_msg("err %s", gw_upstream_err_name(g->res.err));
    assert_int_equal(g->res.body_len, 11);
    gw_upstream_result_free(&g->res);
}

static void test_failures(void **state)
{
    (void)state;
    srv.reply = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"; /* over the 1000 limit */
    got *g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_TOO_LARGE);
    assert_null(g->res.body);
    srv.reply = "SPDY/9 what\r\n\r\n";
    g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_PROTOCOL);
    srv.reply = "";
    srv.close_after = 1; /* closes without a byte */
    g = send_one(&loop, pool, srv.port, 0);
    assert_int_equal(g->res.err, GW_UP_RESET);
    assert_int_equal(g->res.got_bytes, 0);
    srv.close_after = 0;
    srv.hang = 1;
    g = send_one(&loop, pool, srv.port, 100);
    assert_int_equal(g->res.err, GW_UP_TIMEOUT);
    assert_int_equal(gw_pool_idle_count(pool, 0), 0);
    assert_true(wait_closed(&loop, atomic_load(&srv.conns))); /* a timed-out exchange closes */
    /* a port nobody listens on: bind one, close it, connect there */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = server_addr(0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    g = send_one(&loop, pool, ntohs(a.sin_port), 0);
    assert_int_equal(g->res.err, GW_UP_CONNECT);
}

static void test_cancel_closes_without_callback(void **state)
{
    (void)state;
    srv.hang = 1;
    got g = {0};
    struct sockaddr_in a = server_addr(srv.port);
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    gw_uconn *c = gw_upstream_send(pool, 0, (struct sockaddr *)&a, strdup(req), sizeof req - 1,
                                   NULL, 0, 0, 0, on_done, &g);
    int64_t until = clock_now_ns() + 5000000000LL;
    while (atomic_load(&srv.requests) == 0 && clock_now_ns() < until) uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(atomic_load(&srv.requests), 1);
    gw_upstream_cancel(c);
    assert_true(wait_closed(&loop, atomic_load(&srv.conns))); /* the node sees the client go */
    assert_int_equal(g.done, 0);
}

int main(void)
{
    server_start();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_and_waiters_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_answer_keeps_its_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close_not_pooled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_and_close_delimited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_closes_without_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
