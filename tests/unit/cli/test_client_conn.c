/* The client library against a scripted HTTP server on the same loop (loopback): pipelining
 * up to the depth, several connections, Inference-Header-Content-Length, and every error
 * value: refused, timeout, connection lost, malformed or too large answer, closed client.
 * Every callback must run exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/client.h"

/* ---- the scripted server: answers by request path; requests are GETs without a body ---- */

typedef struct srv_conn {
    uv_tcp_t tcp;
    char buf[8192];
    size_t len;
    int held; /* /hold requests read and not answered */
} srv_conn;

static uv_loop_t loop;
static uv_tcp_t server;
static int server_port, accepted, max_held, hold_n;

static void srv_send(srv_conn *c, const char *text)
{
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    assert_int_equal(uv_try_write((uv_stream_t *)&c->tcp, &b, 1), (int)strlen(text));
}

static void srv_closed(uv_handle_t *h)
{
    free(h->data);
}

static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void srv_request(srv_conn *c, const char *path)
{
    if (strcmp(path, "/ok") == 0) {
        srv_send(c, OK);
    } else if (strcmp(path, "/hold") == 0) {
        if (++c->held > max_held) max_held = c->held;
        if (c->held == hold_n)
            for (; c->held > 0; c->held--) srv_send(c, OK);
    } else if (strcmp(path, "/close") == 0) {
        uv_close((uv_handle_t *)&c->tcp, srv_closed);
    } else if (strcmp(path, "/garbage") == 0) {
        srv_send(c, "XTTP/1.1 200 OK\r\n\r\n");
    } else if (strcmp(path, "/big") == 0) {
        srv_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
    } else if (strcmp(path, "/ihcl") == 0) {
        srv_send(c, "HTTP/1.1 200 OK\r\nInference-Header-Content-Length: 3\r\n"
                    "Content-Length: 6\r\n\r\n{}\nabc");
    } else if (strcmp(path, "/badihcl") == 0) {
        srv_send(c, "HTTP/1.1 200 OK\r\nInference-Header-Content-Length: 9\r\n"
                    "Content-Length: 2\r\n\r\n{}");
    } else if (strcmp(path, "/bye") == 0) { /* answers, then closes: keep-alive refused */
        srv_send(c, "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
    } /* "/silent": never answers */
}

static void srv_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)s;
    srv_conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void srv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    srv_conn *c = s->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, srv_closed);
        return;
    }
    c->len += (size_t)n;
    char *end;
    while (!uv_is_closing((uv_handle_t *)s) && (end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        char path[64] = "";
        sscanf(c->buf, "%*s %63s", path);
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        srv_request(c, path);
    }
}

static void srv_accept(uv_stream_t *s, int status)
{
    assert_int_equal(status, 0);
    srv_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(s, (uv_stream_t *)&c->tcp), 0);
    accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

/* ---- the client side ---- */

#define MAX_REQ 16
static int results[MAX_REQ], calls[MAX_REQ], statuses[MAX_REQ], order[MAX_REQ], n_done;
static size_t json_lens[MAX_REQ];

static void on_answer(void *user, int err, const inferd_client_response *resp)
{
    int i = (int)(intptr_t)user;
    calls[i]++;
    results[i] = err;
    order[n_done++] = i;
    if (!err) {
        statuses[i] = resp->status;
        json_lens[i] = resp->json_len;
        assert_true(resp->body[resp->body_len] == '\0');
    } else {
        assert_null(resp);
    }
}

static void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
    uv_stop(&loop);
}

static uv_timer_t guard; /* bounds every wait: stops the loop after 10 s */

/* Runs the loop until `want` callbacks have run (bounded). */
static void run_until(int want)
{
    int fired = 0;
    guard.data = &fired;
    uv_timer_start(&guard, on_guard, 10000, 0);
    while (n_done < want && !fired)
        if (uv_run(&loop, UV_RUN_ONCE) == 0) break;
    uv_timer_stop(&guard);
    assert_int_equal(n_done, want);
}

static inferd_client *client(unsigned conns, unsigned depth, uint64_t timeout_ms, int port)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    inferd_client_options o = {.url = url,
                               .connections = conns,
                               .pipeline_depth = depth,
                               .timeout_ms = timeout_ms,
                               .max_body_bytes = 1000};
    inferd_client *c;
    assert_int_equal(inferd_client_new(&loop, &o, &c, err, sizeof err), 0);
    return c;
}

static void send_get(inferd_client *c, const char *path, int i)
{
    assert_int_equal(
        inferd_client_send(c, "GET", path, NULL, -1, NULL, 0, on_answer, (void *)(intptr_t)i), 0);
}

static void finish(inferd_client *c)
{
    inferd_client_close(c, NULL, NULL);
    for (int i = 0; i < 50; i++) /* lets the handles close; the server's stay open */
        uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < MAX_REQ; i++) assert_true(calls[i] <= 1);
}

static int setup(void **state)
{
    (void)state;
    memset(results, 0, sizeof results);
    memset(calls, 0, sizeof calls);
    memset(statuses, 0, sizeof statuses);
    n_done = accepted = max_held = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_tcp_init(&loop, &server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&server, 64, srv_accept), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
    server_port = ntohs(a.sin_port);
    uv_timer_init(&loop, &guard);
    return 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server ? srv_closed : NULL);
}

static int teardown(void **state)
{
    (void)state;
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void test_pipelining_up_to_depth(void **state)
{
    (void)state;
    inferd_client *c = client(1, 4, 0, server_port);
    hold_n = 4; /* the server answers only once 4 requests are waiting on the connection */
    for (int i = 0; i < 8; i++) send_get(c, "/hold", i);
    run_until(8);
    assert_int_equal(accepted, 1);
    assert_int_equal(max_held, 4);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(results[i], 0);
        assert_int_equal(statuses[i], 200);
        assert_int_equal(order[i], i); /* one connection: answers in order */
    }
    assert_int_equal(inferd_client_pending(c), 0);
    finish(c);
}

static void test_spreads_over_connections(void **state)
{
    (void)state;
    inferd_client *c = client(3, 1, 0, server_port);
    hold_n = 1;
    for (int i = 0; i < 9; i++) send_get(c, "/ok", i);
    run_until(9);
    assert_int_equal(accepted, 3);
    for (int i = 0; i < 9; i++) assert_int_equal(results[i], 0);
    finish(c);
}

static void test_ihcl_and_status(void **state)
{
    (void)state;
    inferd_client *c = client(1, 1, 0, server_port);
    send_get(c, "/ihcl", 0);
    send_get(c, "/ok", 1);
    run_until(2);
    assert_int_equal(json_lens[0], 3);
    assert_int_equal(json_lens[1], 2);
    send_get(c, "/bye", 2); /* answered, then the connection is not kept: the next reconnects */
    run_until(3);
    assert_int_equal(results[2], 0);
    assert_int_equal(statuses[2], 404);
    send_get(c, "/ok", 3);
    run_until(4);
    assert_int_equal(results[3], 0);
    assert_int_equal(accepted, 2);
    finish(c);
}

static void test_error_values(void **state)
{
    (void)state;
    struct {
        const char *path;
        int err;
    } cases[] = {
        {"/silent", INFERD_CLIENT_E_TIMEOUT},   {"/close", INFERD_CLIENT_E_CONN},
        {"/garbage", INFERD_CLIENT_E_PROTOCOL}, {"/big", INFERD_CLIENT_E_TOO_LARGE},
        {"/badihcl", INFERD_CLIENT_E_PROTOCOL},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        inferd_client *c = client(1, 2, 200, server_port);
        n_done = 0;
        send_get(c, cases[i].path, i);
        run_until(1);
        if (results[i] != cases[i].err)
            fail_msg("%s: got %d (%s), want %d", cases[i].path, results[i],
                     inferd_client_strerror(results[i]), cases[i].err);
        /* the client is still usable: a new connection answers */
        send_get(c, "/ok", n + i);
        run_until(2);
        assert_int_equal(results[n + i], 0);
        finish(c);
    }
    /* a request behind a timed-out one on the same connection fails as a lost connection */
    inferd_client *c = client(1, 2, 200, server_port);
    n_done = 0;
    send_get(c, "/silent", 10);
    send_get(c, "/silent", 11);
    run_until(2);
    assert_int_equal(results[10], INFERD_CLIENT_E_TIMEOUT);
    assert_true(results[11] == INFERD_CLIENT_E_TIMEOUT || results[11] == INFERD_CLIENT_E_CONN);
    finish(c);
}

static void test_refused_and_closed(void **state)
{
    (void)state;
    uv_tcp_t probe; /* a port that was free a moment ago: bound, never listened on */
    uv_tcp_init(&loop, &probe);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&probe, (struct sockaddr *)&a, &len);
    inferd_client *c = client(2, 1, 0, ntohs(a.sin_port));
    send_get(c, "/ok", 0);
    send_get(c, "/ok", 1);
    run_until(2);
    assert_int_equal(results[0], INFERD_CLIENT_E_CONNECT);
    assert_int_equal(results[1], INFERD_CLIENT_E_CONNECT);
    finish(c);
    uv_close((uv_handle_t *)&probe, NULL);

    c = client(1, 1, 0, server_port);
    n_done = 0;
    send_get(c, "/silent", 2);
    send_get(c, "/silent", 3); /* queued behind: depth 1 */
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(inferd_client_pending(c), 2);
    inferd_client_close(c, NULL, NULL);
    run_until(2);
    assert_int_equal(results[2], INFERD_CLIENT_E_CLOSED);
    assert_int_equal(results[3], INFERD_CLIENT_E_CLOSED);
    for (int i = 0; i < 50; i++) uv_run(&loop, UV_RUN_NOWAIT);
    /* bad arguments are refused without a callback */
    c = client(1, 1, 0, server_port);
    assert_int_equal(inferd_client_send(c, "GET", "no-slash", NULL, -1, NULL, 0, on_answer, NULL),
                     INFERD_CLIENT_E_INVALID);
    assert_int_equal(inferd_client_send(c, "POST", "/x", NULL, 5, "ab", 2, on_answer, NULL),
                     INFERD_CLIENT_E_INVALID);
    finish(c);
    assert_int_equal(n_done, 2);
}

static inferd_client *resend_client;

/* A failed request's callback sends again at once: the one connection it failed on is
 * reopened from inside the failure callbacks. */
static void on_answer_resend(void *user, int err, const inferd_client_response *resp)
{
    on_answer(user, err, resp);
    int i = (int)(intptr_t)user;
    if (err && i < 4) send_get(resend_client, "/ok", i + 4);
}

static void test_resend_from_failure_callback(void **state)
{
    (void)state;
    inferd_client *c = client(1, 4, 0, server_port);
    resend_client = c;
    for (int i = 0; i < 4; i++) /* the first closes the connection under all four */
        assert_int_equal(inferd_client_send(c, "GET", i == 0 ? "/close" : "/silent", NULL, -1, NULL,
                                            0, on_answer_resend, (void *)(intptr_t)i),
                         0);
    run_until(8);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(results[i], INFERD_CLIENT_E_CONN);
        assert_int_equal(results[i + 4], 0);
        assert_int_equal(statuses[i + 4], 200);
    }
    assert_int_equal(accepted, 2);
    finish(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelining_up_to_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spreads_over_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ihcl_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_from_failure_callback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
