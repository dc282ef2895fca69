/* The node's gRPC API: inference.GRPCInferenceService (proto/grpc_service.proto) on the
 * generic gRPC server (include/inferd/grpc_server.h), mapping each RPC to the scheduler as the
 * HTTP routes do. grpc_service.c dispatches methods and holds the per-call state;
 * grpc_service_meta.c answers health, metadata, config, statistics and repository;
 * grpc_service_infer.c runs ModelInfer and ModelStreamInfer. All on the gRPC loop thread. */
#ifndef NODE_GRPC_SERVICE_H
#define NODE_GRPC_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "inferd/grpc_server.h"
#include "routes.h"

/* Starts the gRPC server with the service over ctx (borrowed; must outlive the server). */
int grpc_service_start(routes_ctx *ctx, const grpc_options *opts, grpc_server **out, char *err,
                       size_t err_len);

typedef struct grpc_job grpc_job;

/* One call's state (grpc_call_user). */
typedef struct grpc_rpc {
    routes_ctx *ctx;
    int method;   /* index into the method table */
    uint8_t *msg; /* unary: the request message, once in */
    size_t len;
    int n_msgs;
    int streaming; /* ModelStreamInfer */
    int half_closed;
    int cancelled;
    int inflight;   /* infer jobs submitted and not yet answered */
    grpc_job *jobs; /* those jobs, for cancellation */
} grpc_rpc;

/* Ends the call with code and a printf message, and frees its state. */
void grpc_rpc_end(grpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Packs and sends one response message. 0, or -1 when out of memory (nothing sent). */
int grpc_rpc_send(grpc_call *call, const ProtobufCMessage *m);
/* grpc_rpc_send, then ends the call OK. */
void grpc_rpc_reply(grpc_call *call, const ProtobufCMessage *m);

/* Unpacks msg into out with the protobuf-c unpack function fn, or ends the call
 * INVALID_ARGUMENT and returns from the calling RPC. */
#define UNPACK(type, fn, call, msg, len, out)                            \
    do {                                                                 \
        out = fn(NULL, len, msg);                                        \
        if (!out) {                                                      \
            grpc_rpc_end(call, GRPC_STATUS_INVALID_ARGUMENT,             \
                         "the request is not a valid " type " message"); \
            return;                                                      \
        }                                                                \
    } while (0)

/* grpc_service_meta.c: unary RPCs, each answers (ends) the call before returning */
typedef void (*grpc_unary_fn)(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_server_live(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_server_ready(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_model_ready(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_server_metadata(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_model_metadata(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_model_config(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_model_statistics(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_repository_index(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_repository_load(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_repository_unload(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
/* grpc_service_shm.c: Triton's system shared-memory RPCs over the client_shm registry */
void grpc_rpc_shm_status(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_shm_register(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);
void grpc_rpc_shm_unregister(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len);

/* The READY model called name (and version, if not empty), with a reference the caller drops
 * (repository_release); or NULL after ending the call NOT_FOUND. */
repo_model *grpc_rpc_find_model(grpc_call *call, routes_ctx *ctx, const char *name,
                                const char *version);

/* grpc_service_infer.c: decodes one ModelInferRequest message and submits it; the answer
 * (a ModelInferResponse that ends a unary call, or one ModelStreamInferResponse on a stream)
 * comes when the scheduler is done. */
void grpc_infer_submit(grpc_call *call, grpc_rpc *rpc, const uint8_t *msg, size_t len);
/* The client went away: takes the call's queued requests out of the scheduler. */
void grpc_infer_cancel(grpc_rpc *rpc);
/* A stream whose client half-closed (or went away) ends once its last answer is out. */
void grpc_infer_maybe_end(grpc_call *call, grpc_rpc *rpc);

#endif
