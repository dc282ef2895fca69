/* One loop's listening socket, accepted by hand (uv_poll) so that running out of file
 * descriptors cannot spin the loop: on EMFILE/ENFILE the waiting connections are accepted
 * into a reserved descriptor's place and closed (the clients see a close, not a hang), and
 * the loop stops accepting for HTTP_ACCEPT_PAUSE_MS before it tries again. (libuv's own
 * version of the trick retries at once, forever, once its reserve is lost to another thread.) */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "inferd/log.h"

#define HTTP_ACCEPT_PAUSE_MS 100
#define HTTP_ACCEPT_BATCH    64   /* connections taken per wake-up, so reads get their turn */
#define HTTP_ACCEPT_SHED_MAX 1024 /* the listen backlog */

static void on_listen_ready(uv_poll_t *p, int status, int events);

static void reserve_open(http_loop *lp)
{
    if (lp->reserve_fd < 0) lp->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_pause_over(uv_timer_t *t)
{
    http_loop *lp = t->data;
    if (!lp->listener_open) return;
    reserve_open(lp);
    int rc = uv_poll_start(&lp->listen_poll, UV_READABLE, on_listen_ready);
    if (rc) {
        log_warn_limited("http: cannot watch the listening socket: %s", uv_strerror(rc));
        uv_timer_start(&lp->listen_timer, on_pause_over, HTTP_ACCEPT_PAUSE_MS, 0);
    }
}

/* Out of descriptors: shed the connections waiting in the backlog through the reserved
 * descriptor's slot (their clients see a close at once, not a hang), then stop listening for
 * a moment while closes elsewhere free descriptors. */
static void accept_pause(http_loop *lp, int err)
{
    int shed = 0;
    if (lp->reserve_fd >= 0) {
        close(lp->reserve_fd);
        lp->reserve_fd = -1;
        for (; shed < HTTP_ACCEPT_SHED_MAX; shed++) {
            int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            close(fd);
        }
        reserve_open(lp); /* may fail if another thread took the slot: retried later */
    }
    log_warn_limited("http: accept failed: %s; closed %d waiting connections, not accepting "
                     "for %d ms (open connections: %d)",
                     strerror(err), shed, HTTP_ACCEPT_PAUSE_MS, atomic_load(&lp->srv->n_conns));
    uv_poll_stop(&lp->listen_poll);
    uv_timer_start(&lp->listen_timer, on_pause_over, HTTP_ACCEPT_PAUSE_MS, 0);
}

static void on_listen_ready(uv_poll_t *p, int status, int events)
{
    (void)events;
    http_loop *lp = p->data;
    http_server *srv = lp->srv;
    if (status < 0) {
        accept_pause(lp, -status);
        return;
    }
    for (int i = 0; i < HTTP_ACCEPT_BATCH && lp->listener_open; i++) {
        int fd = accept4(lp->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            accept_pause(lp, errno);
            return;
        }
        if (atomic_load(&srv->n_conns) >= srv->opts.max_connections ||
            atomic_load(&srv->phase) >= 2) {
            log_debug_limited("http: connection limit %d reached, closing a new connection",
                              srv->opts.max_connections);
            close(fd);
            continue;
        }
        http_conn_accept(lp, fd);
    }
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(host, ':')) return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

int http_listener_open(http_loop *lp, const char *host, int *port, char *err, size_t err_len)
{
    lp->listen_fd = lp->reserve_fd = -1;
    struct sockaddr_storage ss;
    int rc = parse_addr(host, *port, &ss);
    if (rc) {
        snprintf(err, err_len, "bad listen address '%s': %s", host, uv_strerror(rc));
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_len, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    /* every loop's socket shares the port: without SO_REUSEPORT the second bind fails */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, err_len, "setsockopt: %s", strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t alen =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, alen) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, err_len, "cannot listen on %s:%d: %s", host, *port, strerror(errno));
        close(fd);
        return -1;
    }
    if (*port == 0) {
        struct sockaddr_storage got;
        socklen_t len = sizeof got;
        if (getsockname(fd, (struct sockaddr *)&got, &len) != 0) {
            snprintf(err, err_len, "getsockname: %s", strerror(errno));
            close(fd);
            return -1;
        }
        *port = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&got)->sin_port);
    }
    rc = uv_poll_init(&lp->loop, &lp->listen_poll, fd);
    if (rc) {
        snprintf(err, err_len, "cannot watch the listening socket: %s", uv_strerror(rc));
        close(fd);
        return -1;
    }
    uv_timer_init(&lp->loop, &lp->listen_timer); /* cannot fail on Linux */
    lp->listen_poll.data = lp->listen_timer.data = lp;
    lp->listen_fd = fd;
    lp->listener_open = 1;
    reserve_open(lp);
    rc = uv_poll_start(&lp->listen_poll, UV_READABLE, on_listen_ready);
    if (rc) {
        snprintf(err, err_len, "cannot watch the listening socket: %s", uv_strerror(rc));
        http_listener_close(lp);
        return -1;
    }
    return 0;
}

void http_listener_close(http_loop *lp)
{
    if (!lp->listener_open) return;
    lp->listener_open = 0;
    uv_close((uv_handle_t *)&lp->listen_poll, NULL);
    uv_close((uv_handle_t *)&lp->listen_timer, NULL);
    /* the poll handle no longer watches it once uv_close returns */
    close(lp->listen_fd);
    lp->listen_fd = -1;
    if (lp->reserve_fd >= 0) close(lp->reserve_fd);
    lp->reserve_fd = -1;
}
