/* http_server: pipelined requests answered out of order from another thread (through
 * http_ex_post) still reach the client in request order; an answer for a client that went
 * away is dropped cleanly; shutdown with work in flight is clean; a failed write stops the
 * parser (no request after it reaches the handler); the path and the query are apart; a
 * response of a head and borrowed spans arrives whole and its done callback runs once; answers
 * one loop's before_wait hook posts to another loop's exchanges all arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "inferd/http_server.h"

#define BATCH 8

/* The "scheduler": collects BATCH async exchanges, then answers them in reverse order. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static http_exchange *pending[BATCH];
static int n_pending;
static int stop_answerer;
static int block_loop, first_seen; /* test_failed_write_stops_parsing */
static int counted;                /* test_budget_given_back_when_answered: /counted seen */
/* test_hook_posts_to_other_loops: /async/c* requests seen; answers loop 0 posted to loop 1 */
static int hook_arrived, hook_foreign;
static int hook_pipe[2] = {-1, -1}; /* written by the test to make loop 0 look */

static void respond_path(http_exchange *ex, void *arg)
{
    (void)arg;
    const char *path = http_ex_path(ex);
    size_t n = strlen(path);
    char *body = malloc(n + 1);
    memcpy(body, path, n + 1);
    http_ex_respond(ex, 200, "text/plain", body, n, "");
}

static void respond_path_and_query(http_exchange *ex)
{
    char text[256];
    int n = snprintf(text, sizeof text, "%s|%s", http_ex_path(ex), http_ex_query(ex));
    char *body = malloc((size_t)n + 1);
    memcpy(body, text, (size_t)n + 1);
    http_ex_respond(ex, 200, "text/plain", body, (size_t)n, "");
}

/* Waits (lock held, at most 10 s) until *v == want, or != want when equal is 0. */
static void wait_locked(const int *v, int want, int equal)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while ((*v == want) != equal)
        if (pthread_cond_timedwait(&cond, &lock, &until) != 0) break;
}

/* Holds the loop thread (bounded) until the test lets it go. */
static void hold_loop(void)
{
    pthread_mutex_lock(&lock);
    block_loop = 2;
    pthread_cond_broadcast(&cond);
    wait_locked(&block_loop, 2, 0);
    pthread_mutex_unlock(&lock);
}

/* test_spans_response: the borrowed pieces, and how often done ran */
static char span_a[] = "-alpha-";
static char span_b[60000]; /* most of read_responses' 64 KiB */
static int spans_done;

static void on_spans_done(void *arg)
{
    pthread_mutex_lock(&lock);
    spans_done += *(int *)arg;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void handler(http_exchange *ex, void *ctx)
{
    (void)ctx;
    if (strcmp(http_ex_path(ex), "/spans") == 0) {
        static int one = 1;
        char *head = strdup("HEAD");
        http_span sp[3] = {{span_a, strlen(span_a)}, {NULL, 0}, {span_b, sizeof span_b}};
        http_ex_respond_spans(ex, 200, "application/octet-stream", head, 4, sp, 3, "X-Spans: 3\r\n",
                              on_spans_done, &one);
        return;
    }
    if (strcmp(http_ex_path(ex), "/host") == 0) { /* says whether a Host header came */
        const char *host = http_ex_header(ex, "host");
        char *body = strdup(host ? "host present" : "host missing");
        http_ex_respond(ex, 200, "text/plain", body, strlen(body), "");
        return;
    }
    if (strcmp(http_ex_path(ex), "/echo") == 0) {
        respond_path_and_query(ex);
        return;
    }
    if (strcmp(http_ex_path(ex), "/body") == 0) { /* "<length>:<body>|<host header or ->" */
        size_t len = 0;
        const char *b = http_ex_body(ex, &len);
        const char *host = http_ex_header(ex, "host");
        size_t cap = len + 64 + (host ? strlen(host) : 0);
        char *out = malloc(cap);
        int n = snprintf(out, cap, "%zu:%s|%s", len, b, host ? host : "-");
        http_ex_respond(ex, 200, "text/plain", out, (size_t)n, "");
        return;
    }
    if (strcmp(http_ex_path(ex), "/counted") == 0) {
        respond_path(ex, NULL);
        pthread_mutex_lock(&lock);
        counted++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        return;
    }
    if (strcmp(http_ex_path(ex), "/block") == 0) {
        hold_loop();
        respond_path(ex, NULL);
        return;
    }
    if (strcmp(http_ex_path(ex), "/sync/first") == 0) {
        pthread_mutex_lock(&lock);
        first_seen = 1;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }
    if (strncmp(http_ex_path(ex), "/async", 6) != 0) {
        respond_path(ex, NULL);
        return;
    }
    pthread_mutex_lock(&lock);
    pending[n_pending++] = ex;
    if (strncmp(http_ex_path(ex), "/async/c", 8) == 0) hook_arrived++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static void *answerer(void *arg)
{
    int want = *(int *)arg;
    pthread_mutex_lock(&lock);
    while (n_pending < want && !stop_answerer) pthread_cond_wait(&cond, &lock);
    for (int i = n_pending - 1; i >= 0; i--) http_ex_post(pending[i], respond_path, NULL);
    n_pending = 0;
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Reads until `count` responses (by counting "HTTP/1.1 ") with complete bodies arrived or
 * 10 s pass. Returns the bytes read (NUL-terminated, caller frees). */
static char *read_responses(int fd, const char *last_body)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (int waited = 0; waited < 10000;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100);
        if (r == 0) {
            waited += 100;
            continue;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        if (len >= strlen(last_body) && strcmp(buf + len - strlen(last_body), last_body) == 0)
            break;
    }
    buf[len] = '\0';
    return buf;
}

static http_server *start_opts(int threads, size_t budget)
{
    http_options o;
    http_options_default(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    if (budget) o.max_inflight_bytes = o.max_body_bytes = budget;
    http_server *srv = NULL;
    char err[256];
    assert_int_equal(http_server_start(&o, handler, NULL, &srv, err, sizeof err), 0);
    assert_true(http_server_port(srv) > 0);
    return srv;
}

static http_server *start_n(int threads)
{
    return start_opts(threads, 0);
}

static http_server *start(void)
{
    return start_n(2);
}

static void send_all(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_pipelined_async_answers_in_order(void **state)
{
    (void)state;
    http_server *srv = start();
    int want = BATCH;
    pthread_t t;
    pthread_create(&t, NULL, answerer, &want);
    int fd = connect_to(http_server_port(srv));
    char req[4096] = "";
    for (int i = 0; i < BATCH; i++) {
        char one[128];
        snprintf(one, sizeof one, "GET /async/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        strcat(req, one);
    }
    strcat(req, "GET /sync/last HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char *got = read_responses(fd, "/sync/last");
    pthread_join(t, NULL);
    /* bodies in request order, although answered in reverse */
    const char *p = got;
    for (int i = 0; i < BATCH; i++) {
        char body[32];
        snprintf(body, sizeof body, "\r\n\r\n/async/%d", i);
        const char *at = strstr(p, body);
        if (!at) fail_msg("response %d missing or out of order in:\n%s", i, got);
        p = at + strlen(body);
    }
    assert_non_null(strstr(p, "/sync/last"));
    free(got);
    close(fd);
    http_server_shutdown(srv, 2000);
}

static void test_orphaned_answer_is_dropped(void **state)
{
    (void)state;
    http_server *srv = start();
    int fd = connect_to(http_server_port(srv));
    const char *req = "GET /async/gone HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* wait (bounded) until the handler has it, then vanish */
    pthread_mutex_lock(&lock);
    wait_locked(&n_pending, 1, 1);
    assert_int_equal(n_pending, 1);
    pthread_mutex_unlock(&lock);
    close(fd);
    /* a fresh connection still works: proves the loop processed the close */
    int fd2 = connect_to(http_server_port(srv));
    const char *req2 = "GET /sync/ok HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd2, req2, strlen(req2)), (ssize_t)strlen(req2));
    char *got = read_responses(fd2, "/sync/ok");
    assert_non_null(strstr(got, "200 OK"));
    free(got);
    close(fd2);
    int want = 1;
    answerer(&want); /* answers the orphan: must free it, not write anywhere */
    http_server_shutdown(srv, 2000);
}

/* The answer to the first of two pipelined requests cannot be written (the client reset
 * the connection): the connection closes inside the parser's callback, and the second
 * request must never be parsed nor reach the handler (it would hold a freed connection). */
static void test_failed_write_stops_parsing(void **state)
{
    (void)state;
    http_server *srv = start_n(1); /* one loop: the order of events is the test's */
    int port = http_server_port(srv);
    int victim = connect_to(port);
    send_all(victim, "GET /sync/warm HTTP/1.1\r\nHost: x\r\n\r\n");
    char *got = read_responses(victim, "/sync/warm"); /* accepted and reading */
    free(got);
    /* hold the loop thread, so the reset is there before the server reads the requests */
    int blocker = connect_to(port);
    send_all(blocker, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
    pthread_mutex_lock(&lock);
    wait_locked(&block_loop, 2, 1);
    assert_int_equal(block_loop, 2);
    pthread_mutex_unlock(&lock);
    send_all(victim, "GET /sync/first HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /async/second HTTP/1.1\r\nHost: x\r\n\r\n");
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(victim, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(victim); /* RST: reading still yields the requests, writing fails */
    pthread_mutex_lock(&lock);
    block_loop = 0;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    got = read_responses(blocker, "/block");
    free(got);
    /* the loop parsed the victim's bytes: wait for the first request, then one more round
     * trip on the same loop proves the parse that followed it is over */
    pthread_mutex_lock(&lock);
    wait_locked(&first_seen, 1, 1);
    int seen = first_seen;
    pthread_mutex_unlock(&lock);
    send_all(blocker, "GET /sync/after HTTP/1.1\r\nHost: x\r\n\r\n");
    got = read_responses(blocker, "/sync/after");
    assert_non_null(strstr(got, "/sync/after"));
    free(got);
    close(blocker);
    assert_true(seen);
    pthread_mutex_lock(&lock);
    int got_second = n_pending;
    pthread_mutex_unlock(&lock);
    int want = 0;
    answerer(&want); /* if a request did get through, answer it (ASan sees the rest) */
    http_server_shutdown(srv, 2000);
    assert_int_equal(got_second, 0);
}

static void test_path_and_query_are_apart(void **state)
{
    (void)state;
    http_server *srv = start();
    int fd = connect_to(http_server_port(srv));
    send_all(fd, "GET /echo?a=1&b=%20#frag HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    char *got = read_responses(fd, "/echo|");
    assert_non_null(strstr(got, "\r\n\r\n/echo|a=1&b=%20HTTP/1.1"));
    free(got);
    close(fd);
    http_server_shutdown(srv, 2000);
}

/* A request with no header lines at all (found by fuzz_http_request: the header lookup did
 * pointer arithmetic on NULL): looking a header up finds nothing, and the next works. */
static void test_request_without_headers(void **state)
{
    (void)state;
    http_server *srv = start();
    int fd = connect_to(http_server_port(srv));
    send_all(fd, "GET /host HTTP/1.1\r\n\r\nGET /host HTTP/1.1\r\nHost: x\r\n\r\n");
    char *got = read_responses(fd, "host present");
    const char *missing = strstr(got, "host missing");
    if (!missing || !strstr(missing, "host present")) fail_msg("unexpected answers:\n%s", got);
    free(got);
    close(fd);
    http_server_shutdown(srv, 2000);
}

/* Exchanges are recycled by their loop with their buffers: a request must see nothing of the
 * one before it (URL, query, headers, body), also after a body too large to keep, and an
 * answer larger than what is copied behind its head arrives whole. */
static void test_reused_exchanges_start_clean(void **state)
{
    (void)state;
    http_server *srv = start_n(1);
    int fd = connect_to(http_server_port(srv));
    static char big[5000 + 1];
    memset(big, 'x', sizeof big - 1);
    char *req = malloc(16384);
    snprintf(req, 16384,
             "POST /body?query=that-must-not-stay HTTP/1.1\r\nHost: first-host\r\n"
             "Content-Length: 10\r\n\r\nfirst-body"
             "POST /body HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
             "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n"
             "POST /body HTTP/1.1\r\nHost: big\r\nContent-Length: %zu\r\n\r\n%s"
             "POST /body HTTP/1.1\r\nContent-Length: 1\r\n\r\nz",
             sizeof big - 1, big);
    send_all(fd, req);
    char *got = read_responses(fd, "1:z|-");
    const char *want[] = {"\r\n\r\n10:first-body|first-host",
                          "\r\n\r\n0:|-",
                          "\r\n\r\n/echo|HTTP",
                          "\r\n\r\n5000:xxxx",
                          "x|big",
                          "Content-Length: 5\r\n\r\n1:z|-"};
    const char *at = got;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *p = strstr(at, want[i]);
        if (!p) fail_msg("answer %zu (%s) missing or out of order in:\n%.300s", i, want[i], at);
        at = p + strlen(want[i]);
    }
    free(got);
    free(req);
    close(fd);
    http_server_shutdown(srv, 2000);
}

/* A body's share of max_inflight_bytes is given back when its request is answered, not when
 * the answer is written: here the answer waits behind an earlier pipelined request, and a
 * body of the whole budget on another connection must fit meanwhile. */
static void test_budget_given_back_when_answered(void **state)
{
    (void)state;
    enum { BUDGET = 1000 };
    http_server *srv = start_opts(1, BUDGET);
    char body[BUDGET + 1];
    memset(body, 'x', BUDGET);
    body[BUDGET] = '\0';
    char req[2 * BUDGET];
    snprintf(req, sizeof req,
             "GET /async/held HTTP/1.1\r\nHost: x\r\n\r\n"
             "POST /counted HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
             BUDGET, body);
    pthread_mutex_lock(&lock);
    counted = 0; /* before the request is sent: the loop may count it at once */
    pthread_mutex_unlock(&lock);
    int a = connect_to(http_server_port(srv));
    send_all(a, req);
    pthread_mutex_lock(&lock);
    wait_locked(&counted, 1, 1); /* /counted answered; its answer waits behind /async/held */
    int seen = counted;
    pthread_mutex_unlock(&lock);
    assert_int_equal(seen, 1);
    int b = connect_to(http_server_port(srv));
    snprintf(req, sizeof req, "POST /counted HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s",
             BUDGET, body);
    send_all(b, req);
    char *got = read_responses(b, "/counted");
    if (strncmp(got, "HTTP/1.1 200", 12) != 0)
        fail_msg("second full-budget body refused:\n%s", got);
    free(got);
    int want = 1;
    pthread_t t;
    pthread_create(&t, NULL, answerer, &want);
    got = read_responses(a, "/counted");
    pthread_join(t, NULL);
    const char *held = strstr(got, "/async/held");
    assert_non_null(held);
    assert_non_null(strstr(held, "/counted"));
    free(got);
    close(a);
    close(b);
    http_server_shutdown(srv, 2000);
}

static void test_spans_response(void **state)
{
    (void)state;
    memset(span_b, 'b', sizeof span_b - 1);
    span_b[sizeof span_b - 1] = 'Z';
    http_server *srv = start();
    int fd = connect_to(http_server_port(srv));
    send_all(fd, "GET /spans HTTP/1.1\r\nHost: x\r\n\r\n");
    char *got = read_responses(fd, "bbbZ");
    char want_len[64];
    snprintf(want_len, sizeof want_len, "Content-Length: %zu\r\n",
             4 + strlen(span_a) + sizeof span_b);
    assert_non_null(strstr(got, want_len));
    assert_non_null(strstr(got, "X-Spans: 3\r\n"));
    const char *body = strstr(got, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_int_equal(strlen(body), 4 + strlen(span_a) + sizeof span_b);
    assert_memory_equal(body, "HEAD-alpha-bbb", 14);
    free(got);
    close(fd);
    pthread_mutex_lock(&lock);
    wait_locked(&spans_done, 1, 1);
    int done = spans_done;
    pthread_mutex_unlock(&lock);
    http_server_shutdown(srv, 2000);
    assert_int_equal(done, 1);
    assert_int_equal(spans_done, 1); /* not again at shutdown */
}

/* test_hook_posts_to_other_loops: loop 0's before_wait answers every waiting exchange, also
 * those of loop 1 (a completion drained by one loop answers requests of both). */

static int hook_before_wait(void *arg, int loop)
{
    (void)arg;
    if (loop != 0) return 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_pending; i++) {
        if (http_ex_loop_index(pending[i]) != loop) hook_foreign++;
        http_ex_post(pending[i], respond_path, NULL);
    }
    n_pending = 0;
    pthread_mutex_unlock(&lock);
    return 0;
}

static int hook_wake_fd(void *arg, int loop)
{
    (void)arg;
    return loop == 0 ? hook_pipe[0] : -1;
}

static void hook_woken(void *arg, int loop)
{
    (void)arg, (void)loop;
    char buf[64];
    while (read(hook_pipe[0], buf, sizeof buf) > 0) continue;
}

static void test_hook_posts_to_other_loops(void **state)
{
    (void)state;
    enum { N = BATCH };
    assert_int_equal(pipe2(hook_pipe, O_NONBLOCK | O_CLOEXEC), 0);
    http_options o;
    http_options_default(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.hooks = (http_loop_hooks){
        .before_wait = hook_before_wait, .wake_fd = hook_wake_fd, .woken = hook_woken};
    http_server *srv = NULL;
    char err[256];
    assert_int_equal(http_server_start(&o, handler, NULL, &srv, err, sizeof err), 0);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = connect_to(http_server_port(srv));
        char req[128];
        snprintf(req, sizeof req, "GET /async/c%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        send_all(fds[i], req);
    }
    /* every request reached the handler (loop 0's own ones are answered at once) */
    pthread_mutex_lock(&lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (hook_arrived < N)
        if (pthread_cond_timedwait(&cond, &lock, &until) != 0) break;
    assert_int_equal(hook_arrived, N);
    pthread_mutex_unlock(&lock);
    assert_int_equal(write(hook_pipe[1], "x", 1), 1); /* loop 0 looks: loop 1's go over */
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "/async/c%d", i);
        char *got = read_responses(fds[i], want);
        if (!strstr(got, "HTTP/1.1 200")) fail_msg("connection %d got no answer: %s", i, got);
        free(got);
        close(fds[i]);
    }
    http_server_shutdown(srv, 2000);
    close(hook_pipe[0]);
    close(hook_pipe[1]);
    /* hook_foreign is 0 only if the kernel put all N connections on loop 0 (1 in 2^N) */
    print_message("answers posted from loop 0 to loop 1: %d of %d\n", hook_foreign, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_async_answers_in_order),
        cmocka_unit_test(test_orphaned_answer_is_dropped),
        cmocka_unit_test(test_failed_write_stops_parsing),
        cmocka_unit_test(test_path_and_query_are_apart),
        cmocka_unit_test(test_request_without_headers),
        cmocka_unit_test(test_spans_response),
        cmocka_unit_test(test_reused_exchanges_start_clean),
        cmocka_unit_test(test_budget_given_back_when_answered),
        cmocka_unit_test(test_hook_posts_to_other_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
