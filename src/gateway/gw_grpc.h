/* The gateway's gRPC side (docs/gateway.md, gRPC): the proxy handler served on --grpc-port
 * (gw_grpc_proxy.c), its HTTP/2 client to the nodes' gRPC ports (gw_grpc_upstream.c) and the
 * pure helpers it routes with (gw_grpc_route.c).
 *
 * Threads: everything about a call, and the upstream connections it uses, runs on the call's
 * gRPC loop thread; each loop has its own upstream connections (gw_h2_loop), made at its
 * first call. The counters are atomics, read by /metrics from any thread. */
#ifndef GW_GRPC_H
#define GW_GRPC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gw_proxy.h"
#include "inferd/grpc_server.h"

/* ---- gw_grpc_route.c: pure ---- */
enum gw_grpc_kind {
    GW_GRPC_OTHER = 0, /* forwarded, keyless (by weight) */
    GW_GRPC_LIVE,      /* ServerLive: the gateway answers */
    GW_GRPC_READY,     /* ServerReady: the gateway answers */
    GW_GRPC_INFER,     /* ModelInfer: keyed on the ring */
    GW_GRPC_STREAM,    /* ModelStreamInfer: keyed by its first message */
    GW_GRPC_MODEL,     /* ModelReady/Metadata/Config/Statistics: among nodes serving field 1 */
};
int gw_grpc_kind(const char *method);
/* Field 1 (a length-delimited string) of a protobuf message, the top level walked until it
 * is found, into out (NUL-ended). 0, or -1 when absent, malformed, or too long for out. */
int gw_grpc_field1(const uint8_t *msg, size_t len, char *out, size_t cap);
/* A grpc-timeout value for ns (> 0): at most 8 digits, the finest unit that fits. */
void gw_grpc_timeout_format(int64_t ns, char *out, size_t cap);
/* Decodes a percent-encoded grpc-message into out (NUL-ended, cut to fit). */
void gw_grpc_message_decode(const char *in, size_t len, char *out, size_t cap);
#define GW_GRPC_CODES     17
#define GW_GRPC_MAX_LOOPS 16 /* grpc_options.threads is at most 16 */

/* ---- gw_grpc_upstream.c: HTTP/2 client streams to the nodes ---- */
typedef struct gw_h2_loop gw_h2_loop;
typedef struct gw_h2_stream gw_h2_stream;

typedef struct gw_h2_cb {
    /* response bytes as they came in DATA (gRPC framing, cut anywhere; checked: no
     * compressed message), borrowed for the call. The node's response headers are
     * gw_h2_headers(s) by then. The node may send more only once they are consumed
     * (gw_h2_consume): flow control stops it at its stream window (1 MiB) otherwise. */
    void (*on_data)(void *arg, const uint8_t *data, size_t len);
    /* the stream ended: the node's status and its trailers' custom metadata (transport 0;
     * bad metadata or framing from the node: INTERNAL, the stream reset), or the stream or
     * its connection failed before a status came (transport 1: connect error, reset,
     * GOAWAY, closed; code UNAVAILABLE; trailers empty). The stream is gone when this
     * returns. */
    void (*on_end)(void *arg, int code, const char *message, int transport,
                   const grpc_mdlist *trailers);
} gw_h2_cb;

/* One per gRPC loop, on that loop. NULL if out of memory. */
gw_h2_loop *gw_h2_loop_new(void *uv_loop, int64_t connect_timeout_ms);
/* Closes every connection (their streams end, transport 1: the one call that runs callbacks
 * itself; meant for the loop's end, when no call is left); the handles close on the loop.
 * The loop object stays valid (freed by gw_h2_loop_free after the loop thread ended). */
void gw_h2_loop_close(gw_h2_loop *L);
void gw_h2_loop_free(gw_h2_loop *L);

/* Opens a call to node (slot; addr its gRPC address) on the node's connection (made if
 * needed). timeout: a grpc-timeout value or NULL; md: the client's custom metadata (copied;
 * may be NULL). NULL if out of memory. Callbacks run from the loop, never from inside
 * gw_h2_open / send / close_send / cancel, which may be called from inside a callback. */
gw_h2_stream *gw_h2_open(gw_h2_loop *L, int node, const struct sockaddr_storage *addr,
                         const char *method, const char *timeout, const grpc_mdlist *md,
                         const gw_h2_cb *cb, void *arg);
/* Queues one request message (copied, its prefix added). 0, or -1 if out of memory. */
int gw_h2_send(gw_h2_stream *s, const uint8_t *msg, size_t len);
/* No more request messages (END_STREAM after the queued ones). */
void gw_h2_close_send(gw_h2_stream *s);
/* Resets the stream (RST_STREAM CANCEL); no callback runs for it afterwards. */
void gw_h2_cancel(gw_h2_stream *s);
/* The custom metadata of the node's response headers so far (empty before they came). */
const grpc_mdlist *gw_h2_headers(const gw_h2_stream *s);
/* n bytes passed to on_data are done with: the node may send as many more (WINDOW_UPDATE). */
void gw_h2_consume(gw_h2_stream *s, size_t n);

/* ---- gw_grpc_proxy.c: the grpc_handler ---- */
typedef struct gw_grpc {
    gw_proxy *p; /* borrowed: nodes, retries, timeouts, seed, connect_failed */
    int node_port;
    gw_h2_loop *loops[GW_GRPC_MAX_LOOPS];
    _Atomic uint64_t results[GW_GRPC_CODES]; /* answered calls by status (CANCELLED: the
                                                client left) */
    grpc_server *_Atomic srv;                /* for the connection counts; may be NULL */
} gw_grpc;

void gw_grpc_init(gw_grpc *g, gw_proxy *p, int node_port);
grpc_handler gw_grpc_handler(void);
/* After grpc_server_shutdown: frees the loops' client state. */
void gw_grpc_destroy(gw_grpc *g);
/* /metrics: inferd_gateway_grpc_requests_total; the gRPC connections (open, accepted; 0
 * before the server started or after it stopped) for inferd_connections{protocol="grpc"}. */
struct prom_writer;
void gw_grpc_metrics(struct prom_writer *w, void *g);
void gw_grpc_connections(void *g, int *open, uint64_t *accepted);

#endif
