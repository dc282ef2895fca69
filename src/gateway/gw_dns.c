/* DNS discovery on a libuv loop with c-ares (gw_dns.h): the channel's sockets are uv_polls,
 * its timeouts one uv_timer, the refresh another. A lookup gathers addresses (one getaddrinfo
 * for A/AAAA, or SRV then one getaddrinfo per target) and reports them when it ends. */
#include "gw_dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dns_poll {
    uv_poll_t handle;
    ares_socket_t fd;
    struct gw_dns *dns;
    struct dns_poll *next;
} dns_poll;

/* One lookup in flight: answers gather here until `pending` falls to 0. */
typedef struct dns_lookup {
    struct gw_dns *dns;
    gw_dns_addr *addrs;
    size_t n, cap;
    size_t pending;
    int failures;
    char error[160];
} dns_lookup;

/* One getaddrinfo of a lookup, with the port its addresses get. */
typedef struct dns_query {
    dns_lookup *lookup;
    uint16_t port;
} dns_query;

struct gw_dns {
    uv_loop_t *loop;
    ares_channel channel;
    uv_timer_t refresh_timer, ares_timer;
    dns_poll *polls;
    size_t open_handles; /* freed when the last one has closed */
    char *name;
    gw_dns_config cfg;
    dns_lookup *lookup; /* in flight, or NULL */
    bool again;         /* refresh_now asked during a lookup */
    uint64_t began_ms;  /* uv_now when the last lookup began */
    bool begun;         /* one has begun */
    bool stopped;
    gw_dns_addr *last;
    size_t n_last;
    bool have_last;
};

static void dns_lookup_begin(gw_dns *dns);
static void dns_lookup_soon(gw_dns *dns);
static void dns_ares_timer_arm(gw_dns *dns);

static void handle_closed(uv_handle_t *h)
{
    gw_dns *dns = h->data;
    if (h->type == UV_POLL)
        free(h); /* the dns_poll: handle is its first member */
    if (--dns->open_handles == 0) {
        free(dns->last);
        free(dns->name);
        free(dns);
    }
}

/* ---- c-ares sockets and timeouts on the loop ---- */

static void poll_cb(uv_poll_t *h, int status, int events)
{
    dns_poll *p = (dns_poll *)h;
    gw_dns *dns = p->dns;
    /* On an error let c-ares read and write, so it sees the error itself. */
    ares_socket_t rfd = (status < 0 || (events & UV_READABLE)) ? p->fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (status < 0 || (events & UV_WRITABLE)) ? p->fd : ARES_SOCKET_BAD;
    ares_process_fd(dns->channel, rfd, wfd);
    if (!dns->stopped)
        dns_ares_timer_arm(dns);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    gw_dns *dns = data;
    dns_poll **link = &dns->polls;
    while (*link && (*link)->fd != fd)
        link = &(*link)->next;
    dns_poll *p = *link;
    if (!readable && !writable) {
        if (p) {
            *link = p->next;
            uv_poll_stop(&p->handle);
            uv_close((uv_handle_t *)&p->handle, handle_closed);
        }
        return;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p)
            return; /* c-ares times the query out */
        if (uv_poll_init(dns->loop, &p->handle, fd) != 0) {
            free(p);
            return;
        }
        p->fd = fd;
        p->dns = dns;
        p->handle.data = dns;
        p->next = dns->polls;
        dns->polls = p;
        dns->open_handles++;
    }
    uv_poll_start(&p->handle, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), poll_cb);
}

static void ares_timer_cb(uv_timer_t *t)
{
    gw_dns *dns = t->data;
    ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    if (!dns->stopped)
        dns_ares_timer_arm(dns);
}

static void dns_ares_timer_arm(gw_dns *dns)
{
    struct timeval tv, *next = ares_timeout(dns->channel, NULL, &tv);
    if (!next) {
        uv_timer_stop(&dns->ares_timer);
        return;
    }
    uint64_t ms = (uint64_t)next->tv_sec * 1000 + (uint64_t)(next->tv_usec + 999) / 1000;
    uv_timer_start(&dns->ares_timer, ares_timer_cb, ms ? ms : 1, 0);
}

/* ---- results ---- */

static int addr_cmp(const void *a, const void *b)
{
    const struct sockaddr_storage *x = &((const gw_dns_addr *)a)->addr;
    const struct sockaddr_storage *y = &((const gw_dns_addr *)b)->addr;
    if (x->ss_family != y->ss_family)
        return x->ss_family < y->ss_family ? -1 : 1;
    int c;
    uint16_t px, py;
    if (x->ss_family == AF_INET) {
        const struct sockaddr_in *u = (const void *)x, *v = (const void *)y;
        c = memcmp(&u->sin_addr, &v->sin_addr, sizeof u->sin_addr);
        px = ntohs(u->sin_port), py = ntohs(v->sin_port);
    } else {
        const struct sockaddr_in6 *u = (const void *)x, *v = (const void *)y;
        c = memcmp(&u->sin6_addr, &v->sin6_addr, sizeof u->sin6_addr);
        px = ntohs(u->sin6_port), py = ntohs(v->sin6_port);
    }
    if (c)
        return c;
    return px < py ? -1 : px > py;
}

static void lookup_add(dns_lookup *lk, const struct sockaddr *sa, uint16_t port)
{
    if (lk->n >= GW_DNS_MAX_ADDRS || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return;
    if (lk->n == lk->cap) {
        size_t cap = lk->cap ? lk->cap * 2 : 8;
        gw_dns_addr *grown = realloc(lk->addrs, cap * sizeof *grown);
        if (!grown)
            return;
        lk->addrs = grown;
        lk->cap = cap;
    }
    gw_dns_addr *a = &lk->addrs[lk->n++];
    memset(a, 0, sizeof *a);
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&a->addr;
        memcpy(in, sa, sizeof *in);
        in->sin_port = htons(port);
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(a->text, sizeof a->text, "%s:%u", ip, port);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->addr;
        memcpy(in6, sa, sizeof *in6);
        in6->sin6_port = htons(port);
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(a->text, sizeof a->text, "[%s]:%u", ip, port);
    }
}

static void lookup_fail(dns_lookup *lk, const char *what, int status)
{
    lk->failures++;
    if (!lk->error[0])
        snprintf(lk->error, sizeof lk->error, "%s %s: %s", what, lk->dns->name,
                 ares_strerror(status));
}

static bool same_list(const gw_dns *dns, const gw_dns_addr *addrs, size_t n)
{
    if (!dns->have_last || dns->n_last != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(dns->last[i].text, addrs[i].text) != 0)
            return false;
    return true;
}

/* The last answer of a lookup is in: report, and start the next one if asked meanwhile. */
static void lookup_end(dns_lookup *lk)
{
    gw_dns *dns = lk->dns;
    if (dns->lookup == lk)
        dns->lookup = NULL;
    if (!dns->stopped) {
        size_t n = 0;
        if (lk->n) {
            qsort(lk->addrs, lk->n, sizeof *lk->addrs, addr_cmp);
            for (size_t i = 0; i < lk->n; i++)
                if (n == 0 || addr_cmp(&lk->addrs[n - 1], &lk->addrs[i]) != 0)
                    lk->addrs[n++] = lk->addrs[i];
        }
        if (n == 0 && !lk->failures)
            snprintf(lk->error, sizeof lk->error, "lookup %s: no addresses", dns->name);
        if ((n == 0 || lk->failures) && dns->cfg.on_error)
            dns->cfg.on_error(dns->cfg.ctx, lk->error);
        if (n > 0 && !same_list(dns, lk->addrs, n)) {
            free(dns->last);
            dns->last = lk->addrs;
            dns->n_last = n;
            dns->have_last = true;
            lk->addrs = NULL;
            dns->cfg.on_change(dns->cfg.ctx, dns->last, n);
        }
    }
    free(lk->addrs);
    free(lk);
    if (!dns->stopped && dns->again) {
        dns->again = false;
        dns_lookup_soon(dns);
    }
}

static void addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    dns_query *q = arg;
    dns_lookup *lk = q->lookup;
    if (status == ARES_SUCCESS && res) {
        for (struct ares_addrinfo_node *node = res->nodes; node; node = node->ai_next)
            if (node->ai_addr)
                lookup_add(lk, node->ai_addr, q->port);
    } else {
        lookup_fail(lk, "resolving", status);
    }
    if (res)
        ares_freeaddrinfo(res);
    free(q);
    if (--lk->pending == 0)
        lookup_end(lk);
}

static void resolve_host(dns_lookup *lk, const char *host, uint16_t port)
{
    dns_query *q = calloc(1, sizeof *q);
    if (!q) {
        lookup_fail(lk, "resolving", ARES_ENOMEM);
        return;
    }
    q->lookup = lk;
    q->port = port;
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    lk->pending++;
    ares_getaddrinfo(lk->dns->channel, host, NULL, &hints, addrinfo_cb, q);
}

static void srv_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    dns_lookup *lk = arg;
    struct ares_srv_reply *srv = NULL;
    if (status == ARES_SUCCESS && !lk->dns->stopped)
        status = ares_parse_srv_reply(abuf, alen, &srv);
    if (status != ARES_SUCCESS)
        lookup_fail(lk, "SRV lookup", status);
    for (struct ares_srv_reply *r = srv; r; r = r->next)
        resolve_host(lk, r->host, r->port);
    if (srv)
        ares_free_data(srv);
    if (--lk->pending == 0)
        lookup_end(lk);
}

static void dns_lookup_begin(gw_dns *dns)
{
    dns_lookup *lk = calloc(1, sizeof *lk);
    if (!lk) {
        if (dns->cfg.on_error)
            dns->cfg.on_error(dns->cfg.ctx, "lookup: out of memory");
        return;
    }
    lk->dns = dns;
    dns->lookup = lk;
    dns->began_ms = uv_now(dns->loop);
    dns->begun = true;
    lk->pending = 1; /* held until the queries are issued: they may answer at once */
    if (dns->cfg.srv) {
        lk->pending++;
        ares_query(dns->channel, dns->name, ns_c_in, ns_t_srv, srv_cb, lk);
    } else {
        resolve_host(lk, dns->name, dns->cfg.port);
    }
    if (--lk->pending == 0)
        lookup_end(lk);
    else
        dns_ares_timer_arm(dns);
}

static void refresh_cb(uv_timer_t *t)
{
    gw_dns *dns = t->data;
    if (!dns->lookup) /* one at a time; a slow one just delays the next */
        dns_lookup_begin(dns);
}

/* A lookup now if the gap since the last one allows, else when it does (the refresh timer is
 * moved earlier; it keeps its interval afterwards). */
static void dns_lookup_soon(gw_dns *dns)
{
    if (dns->lookup) {
        dns->again = true;
        return;
    }
    uint64_t now = uv_now(dns->loop), due = dns->began_ms + dns->cfg.min_gap_ms;
    if (!dns->begun || now >= due) {
        dns_lookup_begin(dns);
        return;
    }
    uint64_t next = due - now;
    if (uv_timer_get_due_in(&dns->refresh_timer) > next)
        uv_timer_start(&dns->refresh_timer, refresh_cb, next, dns->cfg.interval_ms);
}

/* ---- lifecycle ---- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status;
static void ares_init_once(void) { ares_init_status = ares_library_init(ARES_LIB_INIT_ALL); }

int gw_dns_start(uv_loop_t *loop, const gw_dns_config *cfg, gw_dns **out, char *err,
                 size_t err_len)
{
    *out = NULL;
    if (!cfg->name || !cfg->name[0] || strlen(cfg->name) > 253 || !cfg->on_change) {
        snprintf(err, err_len, "DNS discovery needs a name (at most 253 characters) and a callback");
        return -1;
    }
    pthread_once(&ares_once, ares_init_once);
    if (ares_init_status != ARES_SUCCESS) {
        snprintf(err, err_len, "c-ares: %s", ares_strerror(ares_init_status));
        return -1;
    }
    gw_dns *dns = calloc(1, sizeof *dns);
    if (!dns || !(dns->name = strdup(cfg->name))) {
        free(dns);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    dns->loop = loop;
    dns->cfg = *cfg;
    dns->cfg.name = dns->name;
    dns->cfg.server = NULL;
    if (!dns->cfg.interval_ms)
        dns->cfg.interval_ms = 5000;
    if (!dns->cfg.timeout_ms)
        dns->cfg.timeout_ms = 1000;
    if (!dns->cfg.min_gap_ms)
        dns->cfg.min_gap_ms = 250;

    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    opts.sock_state_cb = sock_state_cb;
    opts.sock_state_cb_data = dns;
    opts.timeout = (int)(dns->cfg.timeout_ms > 60000 ? 60000 : dns->cfg.timeout_ms);
    opts.tries = 2;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (cfg->server) {
        opts.lookups = (char *)"b"; /* the given server only, not /etc/hosts */
        mask |= ARES_OPT_LOOKUPS;
    }
    int rc = ares_init_options(&dns->channel, &opts, mask);
    if (rc == ARES_SUCCESS && cfg->server)
        rc = ares_set_servers_ports_csv(dns->channel, cfg->server);
    if (rc != ARES_SUCCESS) {
        snprintf(err, err_len, "DNS %s%s: %s", cfg->server ? "server " : "setup",
                 cfg->server ? cfg->server : "", ares_strerror(rc));
        if (dns->channel)
            ares_destroy(dns->channel);
        free(dns->name);
        free(dns);
        return -1;
    }
    uv_timer_init(loop, &dns->refresh_timer);
    uv_timer_init(loop, &dns->ares_timer);
    dns->refresh_timer.data = dns->ares_timer.data = dns;
    dns->open_handles = 2;
    uv_timer_start(&dns->refresh_timer, refresh_cb, dns->cfg.interval_ms, dns->cfg.interval_ms);
    dns_lookup_begin(dns);
    *out = dns;
    return 0;
}

void gw_dns_refresh_now(gw_dns *dns)
{
    if (!dns->stopped)
        dns_lookup_soon(dns);
}

void gw_dns_stop(gw_dns *dns)
{
    if (!dns || dns->stopped)
        return;
    dns->stopped = true;
    /* Ends every query (their callbacks see ARES_EDESTRUCTION and report nothing) and closes
     * its sockets through sock_state_cb. */
    ares_destroy(dns->channel);
    dns->channel = NULL;
    while (dns->polls) {
        dns_poll *p = dns->polls;
        dns->polls = p->next;
        uv_poll_stop(&p->handle);
        uv_close((uv_handle_t *)&p->handle, handle_closed);
    }
    uv_close((uv_handle_t *)&dns->refresh_timer, handle_closed);
    uv_close((uv_handle_t *)&dns->ares_timer, handle_closed);
}
