/* The gateway's gRPC handler (docs/gateway.md, gRPC): answers ServerLive / ServerReady
 * itself and forwards every other call to a node's gRPC port, message by message, with the
 * HTTP path's routing (ring, breakers, retry budget, backoff) and deadlines. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "gw_grpc.h"
#include "gw_budget.h"
#include "gw_rand.h"
#include "inferd/clock.h"
#include "inferd/log.h"
#include "inferd/prom.h"

enum { COPY_FIRST, COPY_RETRY, COPY_HEDGE };

struct gcall;
/* One copy of the call sent to a node; a unary call has at most two at once (the first
 * and a hedge or rescue), a stream one. */
typedef struct gattempt {
    struct gcall *gc;
    gw_h2_stream *up; /* NULL: not running */
    int node;
    int kind;         /* COPY_FIRST, COPY_RETRY (retries and rescues), COPY_HEDGE */
    int64_t start_ns; /* when it was sent */
    int64_t hedge_ms; /* hedge past this wait (gw_pick.hedge_ms when picked); 0: none */
} gattempt;

typedef struct gcall {
    gw_grpc *g;
    grpc_call *call; /* NULL once finished */
    gw_h2_loop *L;
    int kind;
    int64_t deadline_ns; /* 0: none */
    uint8_t *first;      /* unary: the request; stream: its first message until sent */
    size_t first_len;
    int n_msgs, half_closed;
    char model[GW_MODEL_LEN];
    uint64_t key;
    gattempt att[2];
    int winner; /* the copy whose answer the client gets (its first message or final status
                   came first), else -1; the other copy is reset then */
    gw_node_set tried;
    int retries, retry_held, hedged;
    int last_code;
    char last_message[300];
    uv_timer_t timer; /* deadline, or the backoff before a retry */
    uv_timer_t watch; /* unary: the hedge time, and every GW_GRPC_WATCH_MS: node still up? */
    int in_backoff, handles;
    size_t held_back; /* response bytes not yet given back to the node (client behind) */
    int drain_armed;  /* grpc_call_notify_drain set */
} gcall;

#define GW_GRPC_WATCH_MS   250
#define GW_GRPC_CALL_QUEUE (1u << 20) /* answer bytes queued for a client before the node waits */

static void start_copy(gcall *gc, int kind);
static void arm_watch(gcall *gc);

static void on_timer_closed(uv_handle_t *h)
{
    gcall *gc = h->data;
    if (--gc->handles > 0) return;
    free(gc->first);
    free(gc);
}

static int running(const gcall *gc)
{
    return (gc->att[0].up != NULL) + (gc->att[1].up != NULL);
}

/* The time a copy took, as the node's latency (routing weights, hedge p95s): unary inference
 * calls only. A stream lives as long as its client keeps it (seconds to hours) and metadata
 * calls take microseconds; either would skew the model's inference latency. -1: not a sample. */
static int64_t latency_sample_us(const gcall *gc, const gattempt *a, int64_t now_ns)
{
    return gc->kind == GW_GRPC_INFER ? (now_ns - a->start_ns) / 1000 : -1;
}

/* Resets a running copy the call no longer waits for (outcome: GW_OUT_CANCELLED, or
 * GW_OUT_OUTRUN when the other copy answered first). */
static void drop_copy(gcall *gc, gattempt *a, int outcome)
{
    if (!a->up) return;
    gw_h2_cancel(a->up);
    a->up = NULL;
    int64_t now = clock_now_ns();
    gw_nodes_done(gc->g->p->nodes, a->node, gc->model, outcome, latency_sample_us(gc, a, now),
                  now / 1000000);
}

/* The client's answer: the call is given back, the upstream streams (if any) reset. */
static void finish(gcall *gc, int code, const char *message)
{
    if (!gc->call) return;
    drop_copy(gc, &gc->att[0], GW_OUT_CANCELLED);
    drop_copy(gc, &gc->att[1], GW_OUT_CANCELLED);
    if (gc->retry_held) gw_nodes_retry_release(gc->g->p->nodes);
    gc->retry_held = 0;
    gw_nodes_request_end(gc->g->p->nodes);
    atomic_fetch_add(&gc->g->results[code >= 0 && code < GW_GRPC_CODES ? code : 2], 1);
    grpc_call *call = gc->call;
    gc->call = NULL;
    grpc_call_set_user(call, NULL);
    grpc_call_finish(call, code, message);
    uv_close((uv_handle_t *)&gc->timer, on_timer_closed);
    uv_close((uv_handle_t *)&gc->watch, on_timer_closed);
}

static void on_timer(uv_timer_t *t)
{
    gcall *gc = t->data;
    if (!gc->call) return;
    if (gc->in_backoff) {
        gc->in_backoff = 0;
        start_copy(gc, COPY_RETRY);
        return;
    }
    finish(gc, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded before a node answered");
}

static void arm_deadline(gcall *gc)
{
    if (!gc->deadline_ns) return;
    int64_t left = gc->deadline_ns - clock_now_ns();
    uv_timer_start(&gc->timer, on_timer, left > 0 ? (uint64_t)(left + 999999) / 1000000 : 0, 0);
}

/* a's answer is the one the client gets: the other copy is reset (outrun), the response
 * headers of a's stream up go to the client. */
static void commit(gcall *gc, gattempt *a, gw_h2_stream *up)
{
    gc->winner = (int)(a - gc->att);
    uv_timer_stop(&gc->watch);
    drop_copy(gc, &gc->att[1 - gc->winner], GW_OUT_OUTRUN);
    if (a->kind == COPY_HEDGE) gw_nodes_note(gc->g->p->nodes, a->node, GW_NOTE_HEDGE_WON);
    const grpc_mdlist *h = gw_h2_headers(up);
    for (size_t i = 0; i < h->n; i++) grpc_call_add_metadata(gc->call, 0, &h->v[i]);
}

/* ---- upstream callbacks ---- */

/* The client took enough of the queued answer: the node may send what it held back. */
static void on_client_drain(grpc_call *call, void *arg)
{
    (void)call;
    gcall *gc = arg;
    gc->drain_armed = 0;
    gw_h2_stream *up = gc->winner >= 0 ? gc->att[gc->winner].up : NULL;
    if (up) gw_h2_consume(up, gc->held_back);
    gc->held_back = 0;
}

/* Response bytes go on to the client as they come; the node's window is given back while
 * the client keeps up (at most GW_GRPC_CALL_QUEUE bytes queued for it), else once it has
 * caught up: a slow client holds at most that plus the node's stream window in the
 * gateway. */
static void up_data(void *arg, const uint8_t *data, size_t len)
{
    gattempt *a = arg;
    gcall *gc = a->gc;
    if (!gc->call) return;
    if (gc->winner < 0) commit(gc, a, a->up);
    uint8_t *buf = malloc(len);
    if (!buf) {
        finish(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return;
    }
    memcpy(buf, data, len);
    grpc_call_send_raw(gc->call, buf, len);
    if (!gc->drain_armed && grpc_call_out_pending(gc->call) <= GW_GRPC_CALL_QUEUE) {
        gw_h2_consume(a->up, len);
        return;
    }
    gc->held_back += len;
    if (!gc->drain_armed) {
        gc->drain_armed = 1;
        grpc_call_notify_drain(gc->call, GW_GRPC_CALL_QUEUE / 2, on_client_drain, gc);
    }
}

static int retryable(const gcall *gc, int code, int transport)
{
    if (gc->winner >= 0 || gc->kind == GW_GRPC_STREAM) return 0; /* messages went both ways */
    return transport || code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_RESOURCE_EXHAUSTED;
}

static void up_end(void *arg, int code, const char *message, int transport,
                   const grpc_mdlist *trailers)
{
    gattempt *a = arg;
    gcall *gc = a->gc;
    gw_h2_stream *up = a->up; /* valid until this returns */
    a->up = NULL;
    int64_t now = clock_now_ns();
    int outcome = transport ? GW_OUT_FAIL
                  : code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_RESOURCE_EXHAUSTED
                      ? GW_OUT_OVERLOADED
                  : code == GRPC_STATUS_INTERNAL || code == GRPC_STATUS_UNKNOWN ? GW_OUT_FAIL
                                                                                : GW_OUT_OK;
    gw_nodes_done(gc->g->p->nodes, a->node, gc->model, outcome, latency_sample_us(gc, a, now),
                  now / 1000000);
    if (!gc->call) return;
    if (transport && gc->g->p->connect_failed)
        gc->g->p->connect_failed(gc->g->p->connect_failed_arg);
    gc->last_code = code;
    snprintf(gc->last_message, sizeof gc->last_message, "%s", message ? message : "");
    if (!retryable(gc, code, transport)) { /* the answer: this node's status */
        if (gc->winner < 0) commit(gc, a, up);
        for (size_t i = 0; i < trailers->n; i++)
            grpc_call_add_metadata(gc->call, 1, &trailers->v[i]);
        finish(gc, code, message);
        return;
    }
    if (running(gc)) return; /* the other copy may still answer */
    gw_proxy *p = gc->g->p;
    if (gc->retries < p->max_retries && (gc->retry_held || gw_nodes_retry_acquire(p->nodes))) {
        gc->retry_held = 1;
        uint64_t seed = atomic_fetch_add(&p->seed, 0x9e3779b97f4a7c15ull);
        uint64_t wait_ms = gw_backoff_ms((uint64_t)p->backoff_base_ms, 1000, (uint32_t)gc->retries,
                                         gw_rand_next(&seed));
        if (!gc->deadline_ns || now + (int64_t)wait_ms * 1000000 < gc->deadline_ns) {
            gc->retries++;
            gc->in_backoff = 1;
            uv_timer_stop(&gc->watch);
            uv_timer_start(&gc->timer, on_timer, wait_ms, 0);
            return;
        }
    }
    finish(gc, code, message);
}

static const gw_h2_cb up_cb = {up_data, up_end};

/* The one running copy of a unary call, looked at every GW_GRPC_WATCH_MS and at its hedge
 * time: its node went down (failed checks, ejected: a hung node) ──> a rescue copy on the next
 * node (a retry, within the retry limits); past the hedge time (the lowest p95 for the
 * model among the nodes) ──> one hedge copy if a token is free. The first answer wins. */
static void on_watch(uv_timer_t *t)
{
    gcall *gc = t->data;
    if (!gc->call || gc->winner >= 0 || running(gc) != 1) return;
    gattempt *a = gc->att[0].up ? &gc->att[0] : &gc->att[1];
    int64_t now = clock_now_ns();
    gw_proxy *p = gc->g->p;
    if (!gw_nodes_usable(p->nodes, a->node, now / 1000000)) {
        if (gc->retries < p->max_retries && (gc->retry_held || gw_nodes_retry_acquire(p->nodes))) {
            gc->retry_held = 1;
            gc->retries++;
            start_copy(gc, COPY_RETRY);
        }
    } else if (!gc->hedged && a->hedge_ms > 0 && now - a->start_ns >= a->hedge_ms * 1000000) {
        gc->hedged = 1; /* one try: no token now, no hedge */
        if (gw_nodes_hedge_acquire(p->nodes)) start_copy(gc, COPY_HEDGE);
    }
    if (gc->call && gc->winner < 0 && running(gc) == 1) arm_watch(gc);
}

static void arm_watch(gcall *gc)
{
    if (gc->kind == GW_GRPC_STREAM) return; /* no second copy: its messages went once */
    gattempt *a = gc->att[0].up ? &gc->att[0] : &gc->att[1];
    int64_t in_ms = GW_GRPC_WATCH_MS;
    if (!gc->hedged && a->hedge_ms > 0) {
        int64_t to_hedge =
            (a->start_ns + a->hedge_ms * 1000000 - clock_now_ns() + 999999) / 1000000;
        if (to_hedge < in_ms) in_ms = to_hedge > 0 ? to_hedge : 0;
    }
    uv_timer_start(&gc->watch, on_watch, (uint64_t)in_ms, 0);
}

/* PICK and SEND a copy into the free slot (docs/gateway.md, gRPC). */
static void start_copy(gcall *gc, int kind)
{
    gw_proxy *p = gc->g->p;
    int64_t now = clock_now_ns();
    if (gc->deadline_ns && now >= gc->deadline_ns) {
        finish(gc, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded before a node answered");
        return;
    }
    int keyed = gc->kind == GW_GRPC_INFER || gc->kind == GW_GRPC_STREAM;
    uint64_t seed = atomic_fetch_add(&p->seed, 0x9e3779b97f4a7c15ull);
    gw_pick pick;
    if (gw_nodes_pick(p->nodes, gc->model[0] ? gc->model : NULL, keyed, gc->key,
                      gw_rand_next(&seed), &gc->tried, now / 1000000, &pick) != 0) {
        if (running(gc)) return; /* no second copy; the first may still answer */
        if (gc->last_code > 0) finish(gc, gc->last_code, gc->last_message);
        else finish(gc, GRPC_STATUS_UNAVAILABLE, "no node available");
        return;
    }
    gw_node_set_add(&gc->tried, pick.node);
    if (kind != COPY_FIRST)
        gw_nodes_note(p->nodes, pick.node, kind == COPY_HEDGE ? GW_NOTE_HEDGE : GW_NOTE_RETRY);
    struct sockaddr_storage addr = pick.addr;
    if (addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)gc->g->node_port);
    else ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)gc->g->node_port);
    char timeout[32];
    if (gc->deadline_ns) gw_grpc_timeout_format(gc->deadline_ns - now, timeout, sizeof timeout);
    gattempt *a = gc->att[0].up ? &gc->att[1] : &gc->att[0];
    a->gc = gc;
    a->node = pick.node;
    a->kind = kind;
    a->start_ns = now;
    a->hedge_ms = pick.hedge_ms;
    a->up = gw_h2_open(gc->L, pick.node, &addr, grpc_call_method(gc->call),
                       gc->deadline_ns ? timeout : NULL, grpc_call_metadata(gc->call), &up_cb, a);
    int bad = !a->up;
    if (!bad && gc->first) {
        bad = gw_h2_send(a->up, gc->first, gc->first_len) != 0;
        if (gc->kind == GW_GRPC_STREAM) { /* sent once: a stream is not retried */
            free(gc->first);
            gc->first = NULL;
        }
    }
    if (bad) {
        if (a->up) gw_h2_cancel(a->up);
        a->up = NULL;
        gw_nodes_done(p->nodes, pick.node, gc->model, GW_OUT_CANCELLED, 0, now / 1000000);
        if (running(gc)) return; /* the other copy goes on */
        finish(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return;
    }
    if (gc->half_closed) gw_h2_close_send(a->up);
    arm_deadline(gc);
    if (running(gc) == 1) arm_watch(gc);
}

/* ---- the grpc_handler ---- */

static gw_h2_loop *loop_of(gw_grpc *g, grpc_call *call)
{
    int i = grpc_call_loop_index(call);
    if (i < 0 || i >= GW_GRPC_MAX_LOOPS) return NULL;
    if (!g->loops[i])
        g->loops[i] = gw_h2_loop_new(grpc_call_uv_loop(call), g->p->limits.connect_timeout_ms);
    return g->loops[i];
}

static void on_call(grpc_call *call, void *ctx)
{
    gw_grpc *g = ctx;
    gcall *gc = calloc(1, sizeof *gc);
    gw_h2_loop *L = gc ? loop_of(g, call) : NULL;
    if (!gc || !L) {
        free(gc);
        atomic_fetch_add(&g->results[GRPC_STATUS_RESOURCE_EXHAUSTED], 1);
        grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return;
    }
    gc->g = g;
    gc->call = call;
    gc->L = L;
    gc->winner = -1;
    gc->kind = gw_grpc_kind(grpc_call_method(call));
    uv_timer_init(grpc_call_uv_loop(call), &gc->timer);
    uv_timer_init(grpc_call_uv_loop(call), &gc->watch);
    gc->timer.data = gc->watch.data = gc;
    gc->handles = 2;
    grpc_call_set_user(call, gc);
    gw_nodes_request_begin(g->p->nodes);
    int64_t timeout = grpc_call_timeout_ns(call);
    if (timeout < 0 && gc->kind != GW_GRPC_STREAM)
        timeout = g->p->request_timeout_ms > 0 ? g->p->request_timeout_ms * 1000000 : -1;
    if (timeout >= 0) {
        gc->deadline_ns = grpc_call_arrival_ns(call) + timeout;
        if (!gc->deadline_ns) gc->deadline_ns = 1;
        if (clock_now_ns() >= gc->deadline_ns) {
            finish(gc, GRPC_STATUS_DEADLINE_EXCEEDED, "no time left for the call");
            return;
        }
        arm_deadline(gc);
    }
}

/* Routing inputs from the first message: the model (field 1) and the key. */
static void route_from(gcall *gc, const uint8_t *msg, size_t len)
{
    if (gc->kind == GW_GRPC_INFER || gc->kind == GW_GRPC_STREAM || gc->kind == GW_GRPC_MODEL)
        if (gw_grpc_field1(msg, len, gc->model, sizeof gc->model) != 0) gc->model[0] = '\0';
    gc->key = gw_route_key(grpc_call_kept_header(gc->call), gc->model, (const char *)msg, len);
}

static void on_message(grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
    (void)ctx;
    gcall *gc = grpc_call_user(call);
    if (!gc) return;
    gc->n_msgs++;
    gw_h2_stream *up = gc->att[0].up ? gc->att[0].up : gc->att[1].up;
    if (gc->kind == GW_GRPC_STREAM && gc->n_msgs > 1) {
        if (up && gw_h2_send(up, msg, len) != 0)
            finish(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return; /* the node answered already: later messages have nowhere to go */
    }
    if (gc->n_msgs > 1) return; /* unary with 2+ messages: refused at half-close */
    gc->first = malloc(len ? len : 1);
    if (!gc->first) {
        finish(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return;
    }
    if (len) memcpy(gc->first, msg, len);
    gc->first_len = len;
    route_from(gc, msg, len);
    if (gc->kind == GW_GRPC_STREAM) start_copy(gc, COPY_FIRST);
}

static void on_half_close(grpc_call *call, void *ctx)
{
    gw_grpc *g = ctx;
    gcall *gc = grpc_call_user(call);
    if (!gc) return;
    gc->half_closed = 1;
    if (gc->kind == GW_GRPC_STREAM) {
        gw_h2_stream *up = gc->att[0].up ? gc->att[0].up : gc->att[1].up;
        if (up) gw_h2_close_send(up);
        else if (!gc->n_msgs) finish(gc, GRPC_STATUS_OK, NULL); /* an empty stream */
        return;
    }
    if (gc->kind == GW_GRPC_LIVE || gc->kind == GW_GRPC_READY) {
        int yes =
            gc->kind == GW_GRPC_LIVE || (!atomic_load(&g->p->stopping) &&
                                         gw_nodes_any_ready(g->p->nodes, clock_now_ns() / 1000000));
        uint8_t *buf = malloc(GRPC_PREFIX_LEN + 2);
        if (buf) {
            buf[GRPC_PREFIX_LEN] = 0x08; /* field 1, varint: live / ready */
            buf[GRPC_PREFIX_LEN + 1] = 0x01;
            grpc_call_send(call, buf, GRPC_PREFIX_LEN + (yes ? 2 : 0));
        }
        finish(gc, GRPC_STATUS_OK, NULL);
        return;
    }
    if (gc->n_msgs != 1) {
        finish(gc, GRPC_STATUS_INVALID_ARGUMENT, "a unary call takes exactly one message");
        return;
    }
    start_copy(gc, COPY_FIRST);
}

static void on_cancel(grpc_call *call, void *ctx)
{
    (void)ctx;
    gcall *gc = grpc_call_user(call);
    if (gc) finish(gc, GRPC_STATUS_CANCELLED, "the client cancelled");
}

static void on_loop_end(int index, void *ctx)
{
    gw_grpc *g = ctx;
    if (index >= 0 && index < GW_GRPC_MAX_LOOPS) gw_h2_loop_close(g->loops[index]);
}

grpc_handler gw_grpc_handler(void)
{
    grpc_handler h = {.on_call = on_call,
                      .on_message = on_message,
                      .on_half_close = on_half_close,
                      .on_cancel = on_cancel,
                      .on_loop_end = on_loop_end};
    return h;
}

void gw_grpc_init(gw_grpc *g, gw_proxy *p, int node_port)
{
    memset(g, 0, sizeof *g);
    g->p = p;
    g->node_port = node_port;
}

void gw_grpc_destroy(gw_grpc *g)
{
    for (int i = 0; i < GW_GRPC_MAX_LOOPS; i++) {
        gw_h2_loop_free(g->loops[i]);
        g->loops[i] = NULL;
    }
}

void gw_grpc_connections(void *arg, int *open, uint64_t *accepted)
{
    gw_grpc *g = arg;
    grpc_server *srv = atomic_load(&g->srv);
    *open = 0;
    *accepted = 0;
    if (srv) grpc_server_connections(srv, open, accepted);
}

void gw_grpc_metrics(struct prom_writer *w, void *arg)
{
    gw_grpc *g = arg;
    prom_family(w, "inferd_gateway_grpc_requests_total", PROM_COUNTER,
                "gRPC calls by the status the gateway answered (CANCELLED: the client left).");
    for (int i = 0; i < GW_GRPC_CODES; i++) {
        prom_label l = {"outcome", grpc_status_name(i)};
        prom_sample(w, &l, 1, (double)atomic_load(&g->results[i]));
    }
}
