/* inferd's C client: KServe v2 over HTTP/1.1 on a libuv loop.
 *
 * A client owns up to `connections` keep-alive TCP connections to one node and sends each
 * request on the connection with the fewest requests in flight, up to `pipeline_depth` per
 * connection (HTTP/1.1 pipelining: answers come back in order). Requests beyond that wait in
 * the client's queue (FIFO). Connections open lazily and reopen after the server closes one.
 *
 *   request states:  queued --(a connection has room)--> in flight --(answer)--> done
 *                         \--(timeout / close)--> done(error)     \--(timeout, connection
 *                                                                     lost)--> done(error)
 * Every request's callback runs exactly once, on the loop's thread, with err == 0 and the
 * answer, or a negative INFERD_CLIENT_E_* code and resp == NULL. A timed-out request closes
 * the connection it was on (its answer would still arrive in order); the other requests in
 * flight there fail with INFERD_CLIENT_E_CONN, since resending a POST is not ours to decide.
 *
 * Threading: one client belongs to one loop; call every function from that loop's thread.
 * Nothing here knows about the node's internals: it speaks the documented HTTP API
 * (docs/http-api.md) only. */
#ifndef INFERD_CLIENT_H
#define INFERD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "inferd/dtype.h"

enum {
    INFERD_CLIENT_E_URL = -1,      /* the URL is not http://host[:port][/] */
    INFERD_CLIENT_E_RESOLVE = -2,  /* the host name does not resolve */
    INFERD_CLIENT_E_CONNECT = -3,  /* connection refused / unreachable */
    INFERD_CLIENT_E_CONN = -4,     /* the connection broke before the answer was complete */
    INFERD_CLIENT_E_TIMEOUT = -5,  /* no complete answer within timeout_ms */
    INFERD_CLIENT_E_PROTOCOL = -6, /* the answer is not valid HTTP/1.1 */
    INFERD_CLIENT_E_TOO_LARGE = -7, /* the answer's body exceeds max_body_bytes */
    INFERD_CLIENT_E_NOMEM = -8,
    INFERD_CLIENT_E_CLOSED = -9,   /* the client was closed before the answer */
    INFERD_CLIENT_E_INVALID = -10, /* a bad argument (option out of range, bad tensor) */
};

/* A short English description of an INFERD_CLIENT_E_* code (static storage). */
const char *inferd_client_strerror(int err);

/* Splits http://host[:port][/] into host (NUL-terminated) and port (default 80).
 * Returns 0, or INFERD_CLIENT_E_URL with a message in err. */
int inferd_client_parse_url(const char *url, char *host, size_t host_len, uint16_t *port,
                            char *err, size_t err_len);

typedef struct inferd_client_options {
    const char *url;          /* http://host[:port]; copied */
    unsigned connections;     /* 1..1024; 0 means 1 */
    unsigned pipeline_depth;  /* requests in flight per connection, 1..1024; 0 means 1 */
    uint64_t timeout_ms;      /* per request from inferd_client_send, 0 = none */
    size_t max_body_bytes;    /* largest answer body accepted; 0 means 1 GiB */
} inferd_client_options;

/* An answer. Valid only during the callback (copy what you keep). */
typedef struct inferd_client_response {
    int status;                 /* HTTP status code */
    const char *body;           /* body_len bytes, NUL-terminated for convenience */
    size_t body_len;
    size_t json_len;            /* Inference-Header-Content-Length, else body_len */
} inferd_client_response;

/* err == 0 with resp, or err < 0 with resp == NULL. */
typedef void (*inferd_client_cb)(void *user, int err, const inferd_client_response *resp);

typedef struct inferd_client inferd_client;

/* Creates a client on loop (resolving the host now, blocking). Returns 0 with *out, or a
 * negative code with a message in err. No connection opens until the first request. */
int inferd_client_new(uv_loop_t *loop, const inferd_client_options *opts, inferd_client **out,
                      char *err, size_t err_len);

/* One request. path begins with '/'. body (may be NULL when body_len == 0) is NOT copied:
 * it must stay valid and unchanged until cb has run. content_type may be NULL (none);
 * json_len >= 0 adds Inference-Header-Content-Length: json_len (binary tensors), -1 none.
 * Returns 0 (cb will run exactly once, never from inside this call) or a negative code
 * (cb will not run). */
int inferd_client_send(inferd_client *c, const char *method, const char *path,
                       const char *content_type, long long json_len, const void *body,
                       size_t body_len, inferd_client_cb cb, void *user);

/* Requests not yet answered (queued + in flight). */
size_t inferd_client_pending(const inferd_client *c);

/* Fails every outstanding request with INFERD_CLIENT_E_CLOSED (their callbacks run from
 * here), closes the connections and frees the client once libuv has released its handles
 * (run the loop until then). closed_cb (may be NULL) runs after the memory is freed. */
void inferd_client_close(inferd_client *c, void (*closed_cb)(void *user), void *user);

/* ---- KServe v2 inference bodies ---------------------------------------------------------- */

#define INFERD_CLIENT_MAX_DIMS 8

/* A tensor in or out. For BYTES, data holds the wire form (u32 little-endian length + bytes
 * per element). */
typedef struct inferd_tensor {
    char name[128];
    inferd_dtype dtype;
    int ndim;
    int64_t dims[INFERD_CLIENT_MAX_DIMS];
    void *data; /* nbytes; owned as the function that filled it says */
    size_t nbytes;
} inferd_tensor;

/* Builds a binary-tensor infer body for inputs[0..n): a JSON header followed by each input's
 * bytes; outputs come back binary when binary_outputs. Checks that each input's nbytes
 * matches its shape (except BYTES). On success returns 0 with *body (malloc'd, caller frees),
 * *body_len and *json_len (for Inference-Header-Content-Length); else a negative code with a
 * message in err. */
int inferd_infer_request_encode(const inferd_tensor *inputs, size_t n, int binary_outputs,
                                char **body, size_t *body_len, size_t *json_len, char *err,
                                size_t err_len);

/* Decodes an infer answer (JSON `data` or binary outputs) into *outs (n_outs tensors, each
 * with its own malloc'd data; free with inferd_tensors_free). Checks every size against the
 * body. Returns 0, or INFERD_CLIENT_E_PROTOCOL with a message in err (also for a non-200
 * answer, whose "error" text it quotes). */
int inferd_infer_response_decode(const inferd_client_response *resp, inferd_tensor **outs,
                                 size_t *n_outs, char *err, size_t err_len);

/* Parses JSON text (a nested array, or a scalar) as a tensor of dtype: the shape comes from
 * the nesting (every array at one depth the same length), the values are range-checked for
 * dtype. Fills t->ndim, dims, data (malloc'd, caller frees) and nbytes; t->name is left
 * alone. Returns 0, or INFERD_CLIENT_E_INVALID with a message in err. */
int inferd_tensor_from_json_text(const char *text, inferd_dtype dtype, inferd_tensor *t,
                                 char *err, size_t err_len);

/* Frees each tensor's data and the array. */
void inferd_tensors_free(inferd_tensor *t, size_t n);

/* Elements in a shape, or -1 when a dimension is negative or the product overflows. */
int64_t inferd_tensor_elements(const inferd_tensor *t);

#endif
