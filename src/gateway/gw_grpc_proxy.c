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
    const char *routing_key; /* the call's, valid while call is */
    gw_h2_stream *up;
    int node;
    int64_t sent_ns;
    gw_node_set tried;
    int retries, retry_held, answered; /* answered: a response message went to the client */
    int last_code;
    char last_message[300];
    uv_timer_t timer; /* deadline, or the backoff before a retry */
    uv_timer_t watch; /* unary: every GW_GRPC_WATCH_MS, is the node still usable? */
    int in_backoff, handles;
} gcall;

#define GW_GRPC_WATCH_MS 250

static void attempt(gcall *gc);
static void up_end(void *arg, int code, const char *message, int transport);

static void on_timer_closed(uv_handle_t *h)
{
    gcall *gc = h->data;
    if (--gc->handles > 0) return;
    free(gc->first);
    free(gc);
}

/* The client's answer: the call is given back, the upstream stream (if any) reset. */
static void finish(gcall *gc, int code, const char *message)
{
    if (!gc->call) return;
    if (gc->up) {
        gw_h2_cancel(gc->up);
        gc->up = NULL;
        gw_nodes_done(gc->g->p->nodes, gc->node, gc->model, GW_OUT_CANCELLED, 0,
                      clock_now_ns() / 1000000);
    }
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
        attempt(gc);
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

/* ---- upstream callbacks ---- */

static void up_message(void *arg, uint8_t *buf, size_t len)
{
    gcall *gc = arg;
    if (!gc->call) {
        free(buf);
        return;
    }
    gc->answered = 1;
    grpc_call_send(gc->call, buf, len);
}

static int retryable(const gcall *gc, int code, int transport)
{
    if (gc->answered || gc->kind == GW_GRPC_STREAM) return 0; /* messages went both ways */
    return transport || code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_RESOURCE_EXHAUSTED;
}

static void up_end(void *arg, int code, const char *message, int transport)
{
    gcall *gc = arg;
    gc->up = NULL;
    int64_t now = clock_now_ns();
    int outcome = transport ? GW_OUT_FAIL
                  : code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_RESOURCE_EXHAUSTED
                      ? GW_OUT_OVERLOADED
                  : code == GRPC_STATUS_INTERNAL || code == GRPC_STATUS_UNKNOWN ? GW_OUT_FAIL
                                                                                : GW_OUT_OK;
    gw_nodes_done(gc->g->p->nodes, gc->node, gc->model, outcome, (now - gc->sent_ns) / 1000,
                  now / 1000000);
    if (!gc->call) return;
    if (transport && gc->g->p->connect_failed)
        gc->g->p->connect_failed(gc->g->p->connect_failed_arg);
    gc->last_code = code;
    snprintf(gc->last_message, sizeof gc->last_message, "%s", message ? message : "");
    gw_proxy *p = gc->g->p;
    if (retryable(gc, code, transport) && gc->retries < p->max_retries &&
        (gc->retry_held || gw_nodes_retry_acquire(p->nodes))) {
        gc->retry_held = 1;
        uint64_t seed = atomic_fetch_add(&p->seed, 0x9e3779b97f4a7c15ull);
        uint64_t wait_ms = gw_backoff_ms((uint64_t)p->backoff_base_ms, 1000, (uint32_t)gc->retries,
                                         gw_rand_next(&seed));
        if (!gc->deadline_ns || now + (int64_t)wait_ms * 1000000 < gc->deadline_ns) {
            gc->retries++;
            gc->in_backoff = 1;
            uv_timer_start(&gc->timer, on_timer, wait_ms, 0);
            return;
        }
    }
    finish(gc, code, message);
}

static const gw_h2_cb up_cb = {up_message, up_end};

/* A unary call waiting on a node that went down (failed checks, ejected; a hung node) moves
 * to the next node: the stream is reset and the call retried as after a transport failure
 * (its one message is kept), within the same retry limits. */
static void on_watch(uv_timer_t *t)
{
    gcall *gc = t->data;
    if (!gc->call || !gc->up || gc->answered) return;
    if (gw_nodes_usable(gc->g->p->nodes, gc->node, clock_now_ns() / 1000000)) return;
    gw_h2_cancel(gc->up);
    up_end(gc, GRPC_STATUS_UNAVAILABLE, "node unreachable: it went down while the call waited", 1);
}

/* PICK and SEND (docs/gateway.md, gRPC). */
static void attempt(gcall *gc)
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
        if (gc->last_code > 0) finish(gc, gc->last_code, gc->last_message);
        else finish(gc, GRPC_STATUS_UNAVAILABLE, "no node available");
        return;
    }
    gw_node_set_add(&gc->tried, pick.node);
    if (gc->retries) gw_nodes_note(p->nodes, pick.node, GW_NOTE_RETRY);
    struct sockaddr_storage addr = pick.addr;
    if (addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)gc->g->node_port);
    else ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)gc->g->node_port);
    char timeout[32];
    if (gc->deadline_ns) gw_grpc_timeout_format(gc->deadline_ns - now, timeout, sizeof timeout);
    gc->node = pick.node;
    gc->sent_ns = now;
    gc->up = gw_h2_open(gc->L, pick.node, &addr, grpc_call_method(gc->call),
                        gc->deadline_ns ? timeout : NULL, gc->routing_key, &up_cb, gc);
    int bad = !gc->up;
    if (!bad && gc->first) {
        bad = gw_h2_send(gc->up, gc->first, gc->first_len) != 0;
        if (gc->kind == GW_GRPC_STREAM) { /* sent once: a stream is not retried */
            free(gc->first);
            gc->first = NULL;
        }
    }
    if (bad) {
        if (gc->up) gw_h2_cancel(gc->up);
        gc->up = NULL;
        gw_nodes_done(p->nodes, pick.node, gc->model, GW_OUT_CANCELLED, 0, now / 1000000);
        finish(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "the gateway is out of memory");
        return;
    }
    if (gc->half_closed) gw_h2_close_send(gc->up);
    arm_deadline(gc);
    if (gc->kind != GW_GRPC_STREAM)
        uv_timer_start(&gc->watch, on_watch, GW_GRPC_WATCH_MS, GW_GRPC_WATCH_MS);
}

/* ---- the grpc_handler ---- */

static gw_h2_loop *loop_of(gw_grpc *g, grpc_call *call)
{
    int i = grpc_call_loop_index(call);
    if (i < 0 || i >= GW_GRPC_MAX_LOOPS) return NULL;
    if (!g->loops[i])
        g->loops[i] = gw_h2_loop_new(grpc_call_uv_loop(call), g->p->limits.connect_timeout_ms,
                                     g->p->limits.max_response_bytes);
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
    gc->node = -1;
    gc->kind = gw_grpc_kind(grpc_call_method(call));
    gc->routing_key = grpc_call_kept_header(call);
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
    gc->key = gw_route_key(gc->routing_key, gc->model, (const char *)msg, len);
}

static void on_message(grpc_call *call, const uint8_t *msg, size_t len, void *ctx)
{
    (void)ctx;
    gcall *gc = grpc_call_user(call);
    if (!gc) return;
    gc->n_msgs++;
    if (gc->kind == GW_GRPC_STREAM && gc->n_msgs > 1) {
        if (gc->up && gw_h2_send(gc->up, msg, len) != 0)
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
    if (gc->kind == GW_GRPC_STREAM) attempt(gc);
}

static void on_half_close(grpc_call *call, void *ctx)
{
    gw_grpc *g = ctx;
    gcall *gc = grpc_call_user(call);
    if (!gc) return;
    gc->half_closed = 1;
    if (gc->kind == GW_GRPC_STREAM) {
        if (gc->up) gw_h2_close_send(gc->up);
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
    attempt(gc);
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
