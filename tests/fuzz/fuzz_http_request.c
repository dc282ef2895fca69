/* libFuzzer target: the HTTP/1.1 request path of src/http (http_parser and http_conn's
 * callbacks, limits, pipelining with pause/resume, error answers) fed arbitrary client bytes
 * through a socketpair on one libuv loop in this thread, with no listener: one end is handed
 * to http_conn_accept as if accepted. The input is written in small pieces with the
 * loop run between them, so requests are cut at many places. Requests to /later... are
 * answered one loop step later (out of band), the others at once. Property: every byte the
 * server writes back is a sequence of "HTTP/1.1 " responses. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "http_internal.h"

#define CHUNK        61 /* bytes per write: prime, so pieces fall at varied places */
#define MAX_DEFERRED 64

static http_server srv;
static http_loop lp;
static http_exchange *deferred[MAX_DEFERRED];
static int n_deferred;

static void answer(http_exchange *ex)
{
    size_t len;
    const char *body = http_ex_body(ex, &len);
    FUZZ_CHECK(body != NULL && body[len] == '\0');
    const char *path = http_ex_path(ex);
    FUZZ_CHECK(path != NULL);
    const char *ctype = http_ex_header(ex, "content-type");
    (void)http_ex_method_name(ex);
    (void)http_ex_method(ex);
    if (ctype && strcmp(ctype, "error") == 0) {
        http_ex_error(ex, 400, "", "bad %s", path);
        return;
    }
    char *copy = malloc(len + 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, body, len + 1);
    http_ex_respond(ex, 200, "text/plain", copy, len, "X-Fuzz: 1\r\n");
}

static void on_orphan(http_exchange *ex, void *arg)
{
    (void)arg;
    FUZZ_CHECK(http_ex_orphaned(ex));
}

static void handler(http_exchange *ex, void *ctx)
{
    (void)ctx;
    if (strncmp(http_ex_path(ex), "/later", 6) == 0 && n_deferred < MAX_DEFERRED) {
        http_ex_on_orphan(ex, on_orphan, NULL);
        deferred[n_deferred++] = ex;
        return;
    }
    answer(ex);
}

static void answer_deferred(void)
{
    int n = n_deferred;
    n_deferred = 0;
    for (int i = 0; i < n; i++) answer(deferred[i]);
}

/* Reads what the server wrote; checks that the stream starts like a response. */
static void drain(int fd, size_t *total, char *first, size_t first_len)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return;
        for (ssize_t i = 0; i < n; i++) {
            if (*total < first_len) first[*total] = buf[i];
            (*total)++;
        }
    }
}

static void setup(void)
{
    /* as the node does (src/common/signals.c): a write to a socket the other end closed is an
     * EPIPE value, not death (the client side below writes after the server may have closed) */
    signal(SIGPIPE, SIG_IGN);
    http_options_default(&srv.opts);
    srv.opts.max_body_bytes = 4096;
    srv.opts.max_header_bytes = 2048;
    srv.opts.max_pipeline = 4;
    srv.handler = handler;
    FUZZ_CHECK(uv_loop_init(&lp.loop) == 0);
    FUZZ_CHECK(pthread_mutex_init(&lp.post_lock, NULL) == 0);
    lp.srv = &srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    http_conn_accept(&lp, sv[0]); /* takes sv[0] as an accepted socket */
    FUZZ_CHECK(lp.conns != NULL);
    size_t off = 0, total = 0;
    char first[9];
    int stuck = 0;
    while (off < size && stuck < 4) {
        size_t n = size - off < CHUNK ? size - off : CHUNK;
        ssize_t w = write(sv[1], data + off, n);
        if (w > 0) {
            off += (size_t)w;
            stuck = 0;
        } else {
            stuck++;
        }
        uv_run(&lp.loop, UV_RUN_NOWAIT);
        answer_deferred();
        uv_run(&lp.loop, UV_RUN_NOWAIT);
        drain(sv[1], &total, first, sizeof first);
    }
    shutdown(sv[1], SHUT_WR); /* the client is done sending */
    for (int i = 0; i < 4; i++) {
        uv_run(&lp.loop, UV_RUN_NOWAIT);
        answer_deferred();
        drain(sv[1], &total, first, sizeof first);
    }
    if (total >= sizeof first) FUZZ_CHECK(memcmp(first, "HTTP/1.1 ", sizeof first) == 0);
    close(sv[1]);
    while (lp.conns) http_conn_force_close(lp.conns);
    answer_deferred();                /* orphaned now: answering frees them */
    uv_run(&lp.loop, UV_RUN_DEFAULT); /* only closing handles are left */
    FUZZ_CHECK(atomic_load(&srv.n_conns) == 0);
    return 0;
}
