/* The node's gRPC server: HTTP/2 over cleartext with prior knowledge (h2c), libuv event-loop
 * threads of its own (each with its own listening socket on the port, SO_REUSEPORT), nghttp2
 * server sessions, gRPC framing (5-byte message prefix, grpc-status / grpc-message trailers,
 * grpc-timeout). It knows nothing of protobuf or of
 * inference: a call is a method path, a deadline and a sequence of messages each way.
 *
 * A call's life: the handler's on_call runs once its request headers are in; on_message for
 * each complete request message; on_half_close when the client has sent its last message;
 * on_cancel if the stream goes away first (RST_STREAM, connection closed, limits). The
 * service answers with grpc_call_send (any number of messages) and exactly one
 * grpc_call_finish (status and message), also after on_cancel: finish gives the call back.
 *
 * Threads: every callback and every grpc_call_* function runs on the call's loop thread,
 * except grpc_call_post, which any thread may call to run a function there (how answers
 * computed by the scheduler get back). */
#ifndef INFERD_GRPC_SERVER_H
#define INFERD_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* gRPC status codes (grpc/status.h), the subset the node answers. */
enum grpc_status_code {
    GRPC_STATUS_OK = 0,
    GRPC_STATUS_CANCELLED = 1,
    GRPC_STATUS_UNKNOWN = 2,
    GRPC_STATUS_INVALID_ARGUMENT = 3,
    GRPC_STATUS_DEADLINE_EXCEEDED = 4,
    GRPC_STATUS_NOT_FOUND = 5,
    GRPC_STATUS_ALREADY_EXISTS = 6,
    GRPC_STATUS_FAILED_PRECONDITION = 9,
    GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
    GRPC_STATUS_UNIMPLEMENTED = 12,
    GRPC_STATUS_INTERNAL = 13,
    GRPC_STATUS_UNAVAILABLE = 14,
};

#define GRPC_PREFIX_LEN 5 /* compressed flag (1 byte) + big-endian message length (4 bytes) */

typedef struct grpc_options {
    const char *host;          /* default "0.0.0.0" */
    int threads;               /* event-loop threads, each its own listener on the port
                                  (SO_REUSEPORT); default 1, at most 16; the limits below
                                  are shared out over them */
    int port;                  /* 0 = any free port (see grpc_server_port) */
    size_t max_message_bytes;  /* per message, each way; default 64 MiB */
    int max_connections;       /* default 1000; beyond: accepted and closed at once */
    uint32_t max_streams;      /* concurrent streams per connection, default 1024 */
    int64_t keepalive_ms;      /* idle connection pinged this often; 0 = never (default) */
    int64_t idle_timeout_ms;   /* no stream open this long => GOAWAY; 0 = never */
    size_t max_inflight_bytes; /* request bytes buffered in partial messages, all
                                      connections together; a message that would pass it is
                                      refused RESOURCE_EXHAUSTED. Default 1 GiB; 0 = no limit */
    const char *keep_header;   /* a request header (lower case) whose value each call keeps
                                  (grpc_call_kept_header); NULL = none (the gateway keeps
                                  inferd-routing-key) */
    int keep_metadata;         /* 1: each call keeps its request's custom metadata
                                  (grpc_call_metadata; past the GRPC_MD_* bounds the call is
                                  refused RESOURCE_EXHAUSTED). Default 0 (the node) */
} grpc_options;

void grpc_options_default(grpc_options *opts);

typedef struct grpc_server grpc_server;
typedef struct grpc_call grpc_call;

typedef struct grpc_handler {
    void (*on_call)(grpc_call *call, void *ctx);
    void (*on_message)(grpc_call *call, const uint8_t *msg, size_t len, void *ctx);
    void (*on_half_close)(grpc_call *call, void *ctx);
    void (*on_cancel)(grpc_call *call, void *ctx); /* may be NULL */
    /* may be NULL: a loop is ending (shutdown, every connection gone); the service closes
     * any libuv handle it made on that loop (grpc_call_uv_loop) so the loop can end. */
    void (*on_loop_end)(int loop_index, void *ctx);
} grpc_handler;

/* Binds, starts the loop threads. handler is copied; ctx borrowed. 0, or -1 with err. */
int grpc_server_start(const grpc_options *opts, const grpc_handler *handler, void *ctx,
                      grpc_server **out, char *err, size_t err_len);
int grpc_server_port(const grpc_server *srv);
/* Connections open now and taken on since start, all loops (for metrics). Any thread. */
void grpc_server_connections(grpc_server *srv, int *open, uint64_t *accepted);
/* Closes the listener and sends GOAWAY on every connection (calls in progress finish). */
void grpc_server_stop_accepting(grpc_server *srv);
/* As stop_accepting, waits up to timeout_ms for the connections to close, closes the rest
 * (their calls get on_cancel), joins the thread. Frees srv; no callback runs afterwards. */
void grpc_server_shutdown(grpc_server *srv, int64_t timeout_ms);

/* ---- custom metadata (grpc_md.c) ---- */
/* One entry: name (lower case, NUL-ended) and value as on the wire ("-bin" values stay
 * base64), both in one allocation owned by the list. */
typedef struct grpc_md {
    char *name, *value;
    size_t name_len, value_len;
} grpc_md;
/* A bounded list of entries. Zero-initialised = empty. */
typedef struct grpc_mdlist {
    grpc_md *v;
    size_t n, cap, bytes;
} grpc_mdlist;
#define GRPC_MD_MAX_ENTRIES 64
#define GRPC_MD_MAX_BYTES   16384 /* names + values + 32 per entry (HTTP/2's list size) */
/* Appends a copy. 0, -1 out of memory, -2 past GRPC_MD_MAX_ENTRIES / GRPC_MD_MAX_BYTES. */
int grpc_mdlist_add(grpc_mdlist *l, const uint8_t *name, size_t nl, const uint8_t *value,
                    size_t vl);
/* Appends copies of every entry of src (may be NULL). As grpc_mdlist_add. */
int grpc_mdlist_copy(grpc_mdlist *dst, const grpc_mdlist *src);
void grpc_mdlist_free(grpc_mdlist *l);
/* 1 if a header is custom metadata a proxy passes on: not a pseudo-header, hop-by-hop,
 * te, host, content-type/-length, the message encoding headers, nor (request) grpc-timeout,
 * which a proxy rewrites as the time left, nor (response) grpc-status / grpc-message. */
int grpc_md_custom_request(const uint8_t *name, size_t len);
int grpc_md_custom_response(const uint8_t *name, size_t len);

/* ---- a call (valid from on_call until the service's grpc_call_finish) ---- */
const char *
grpc_call_method(const grpc_call *call); /* e.g. "/inference.GRPCInferenceService/ModelInfer" */
/* CLOCK_MONOTONIC ns when the request headers arrived; deadlines count from here. */
int64_t grpc_call_arrival_ns(const grpc_call *call);
/* The grpc-timeout header in ns, or -1 when the client set no deadline. */
int64_t grpc_call_timeout_ns(const grpc_call *call);
/* 1 once the stream is gone (cancelled, reset, connection closed): sends are dropped. */
int grpc_call_cancelled(const grpc_call *call);
void grpc_call_set_user(grpc_call *call, void *user);
/* The value of grpc_options.keep_header in the request (cut to 255 bytes), or NULL. */
const char *grpc_call_kept_header(const grpc_call *call);
/* The call's loop: its index (0..threads-1) and its uv_loop_t (as void *), for a service
 * that does I/O of its own on the loop thread (the gateway's upstream connections). */
int grpc_call_loop_index(const grpc_call *call);
void *grpc_call_uv_loop(const grpc_call *call);
void *grpc_call_user(const grpc_call *call);
/* The request's custom metadata (grpc_options.keep_metadata; else empty), valid while the
 * call is. */
const grpc_mdlist *grpc_call_metadata(const grpc_call *call);
/* Adds response metadata: trailing 0 to the response headers (before the first
 * grpc_call_send), 1 to the trailers (before grpc_call_finish; in a trailers-only answer both
 * go in its one HEADERS frame). 0, -1 out of memory, -2 past the bounds, -3 too late. */
int grpc_call_add_metadata(grpc_call *call, int trailing, const grpc_md *md);

/* Queues one response message. buf (malloc'd, taken) holds GRPC_PREFIX_LEN free bytes and then
 * the message: len counts both. Response headers go out with the first message. */
void grpc_call_send(grpc_call *call, uint8_t *buf, size_t len);
/* Queues bytes that are already gRPC framing (prefixes and messages, cut anywhere: a proxy
 * passing a node's DATA on as it comes). buf (malloc'd, taken) holds len bytes. Response
 * headers go out with the first bytes. */
void grpc_call_send_raw(grpc_call *call, uint8_t *buf, size_t len);
/* Response bytes queued for the call and not yet taken by HTTP/2 (the client's flow-control
 * window lets them go). */
size_t grpc_call_out_pending(const grpc_call *call);
/* One shot: fn(call, arg) runs on the loop once the queued response bytes have fallen to low
 * or below (from inside the server's writing: fn must not send on this call; it may do other
 * I/O). Replaces an earlier one; cleared by grpc_call_finish and when the call is cancelled. */
void grpc_call_notify_drain(grpc_call *call, size_t low, void (*fn)(grpc_call *call, void *arg),
                            void *arg);
/* Ends the call with a status (GRPC_STATUS_OK or an error) and a message (may be NULL; sent
 * percent-encoded in grpc-message). The call must not be used afterwards. */
void grpc_call_finish(grpc_call *call, int code, const char *message);

/* From any thread: runs fn(call, arg) on the loop thread soon. Any number of posts per call
 * may be pending; the call must not be finished before they have run. After shutdown nothing
 * runs. Returns 0, or -1 when out of memory (nothing will run). */
int grpc_call_post(grpc_call *call, void (*fn)(grpc_call *call, void *arg), void *arg);

/* ---- framing helpers (grpc_frame.c), pure functions, unit-tested ---- */

/* Parses a grpc-timeout value ("1..8 ASCII digits" + unit H M S m u n) into ns (saturating at
 * INT64_MAX). Returns 0, or -1 if malformed. */
int grpc_timeout_parse(const char *value, size_t len, int64_t *ns);
/* Percent-encodes msg for grpc-message into out (NUL-ended, cut to fit out_len). */
void grpc_message_encode(const char *msg, char *out, size_t out_len);
/* Reads a message prefix from p[0..5): *compressed = flag byte, *len = length. */
void grpc_prefix_read(const uint8_t *p, int *compressed, uint32_t *len);
void grpc_prefix_write(uint8_t *p, uint32_t len);
/* A queue of framed messages waiting to be pulled by an nghttp2 data provider (a call's
 * answers here, the gateway's requests to its nodes). Zero-initialised = empty. */
typedef struct grpc_outq {
    struct grpc_outq_chunk *head, *tail;
    size_t bytes; /* queued, not yet pulled */
} grpc_outq;
/* Appends buf[0..len) (malloc'd, taken; freed on failure). 0, or -1 if out of memory. */
int grpc_outq_push(grpc_outq *q, uint8_t *buf, size_t len);
/* Moves up to len queued bytes into out; returns how many. */
size_t grpc_outq_pull(grpc_outq *q, uint8_t *out, size_t len);
void grpc_outq_free(grpc_outq *q);

/* The gRPC status name ("INVALID_ARGUMENT") of a code, for logs. */
const char *grpc_status_name(int code);

#endif
