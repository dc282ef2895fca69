/* inference.GRPCInferenceService: the method table, the per-call state, and the plumbing
 * between the generic gRPC server's callbacks and the RPCs (unary ones run once the client
 * has half-closed with exactly one message; ModelStreamInfer submits each message as it comes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_service.h"
#include "inferd/log.h"
#include "kserve.h"

#define SERVICE "/inference.GRPCInferenceService/"

enum { KIND_UNARY, KIND_INFER, KIND_STREAM };

typedef struct grpc_method {
    const char *name;
    int kind;
    grpc_unary_fn fn; /* KIND_UNARY */
} grpc_method;

static const grpc_method methods[] = {
    {"ServerLive", KIND_UNARY, grpc_rpc_server_live},
    {"ServerReady", KIND_UNARY, grpc_rpc_server_ready},
    {"ModelReady", KIND_UNARY, grpc_rpc_model_ready},
    {"ServerMetadata", KIND_UNARY, grpc_rpc_server_metadata},
    {"ModelMetadata", KIND_UNARY, grpc_rpc_model_metadata},
    {"ModelInfer", KIND_INFER, NULL},
    {"ModelStreamInfer", KIND_STREAM, NULL},
    {"ModelConfig", KIND_UNARY, grpc_rpc_model_config},
    {"ModelStatistics", KIND_UNARY, grpc_rpc_model_statistics},
    {"RepositoryIndex", KIND_UNARY, grpc_rpc_repository_index},
    {"RepositoryModelLoad", KIND_UNARY, grpc_rpc_repository_load},
    {"RepositoryModelUnload", KIND_UNARY, grpc_rpc_repository_unload},
    {"SystemSharedMemoryStatus", KIND_UNARY, grpc_rpc_shm_status},
    {"SystemSharedMemoryRegister", KIND_UNARY, grpc_rpc_shm_register},
    {"SystemSharedMemoryUnregister", KIND_UNARY, grpc_rpc_shm_unregister},
};

void grpc_rpc_end(grpc_call *call, int code, const char *fmt, ...)
{
    char msg[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    grpc_rpc *rpc = grpc_call_user(call);
    if (rpc) {
        free(rpc->msg);
        free(rpc);
        grpc_call_set_user(call, NULL);
    }
    grpc_call_finish(call, code, msg);
}

int grpc_rpc_send(grpc_call *call, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(GRPC_PREFIX_LEN + n);
    if (!buf) return -1;
    protobuf_c_message_pack(m, buf + GRPC_PREFIX_LEN);
    grpc_call_send(call, buf, GRPC_PREFIX_LEN + n);
    return 0;
}

void grpc_rpc_reply(grpc_call *call, const ProtobufCMessage *m)
{
    if (grpc_rpc_send(call, m) == 0) grpc_rpc_end(call, GRPC_STATUS_OK, NULL);
    else grpc_rpc_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory for the response");
}

repo_model *grpc_rpc_find_model(grpc_call *call, routes_ctx *ctx, const char *name,
                                const char *version)
{
    repo_model *rm = name && name[0] ? repository_acquire(ctx->repo, name) : NULL;
    if (!rm) {
        grpc_rpc_end(call, GRPC_STATUS_NOT_FOUND, "unknown model '%.64s'", name ? name : "");
        return NULL;
    }
    if (version && version[0]) {
        const model_config *mc = repo_model_config(rm);
        char have[16];
        kserve_model_version(mc, have, sizeof have);
        if (strcmp(version, have) != 0) {
            grpc_rpc_end(call, GRPC_STATUS_NOT_FOUND,
                         "model '%s' has no version '%.32s' (available: %s)", mc->name, version,
                         have);
            repository_release(rm);
            return NULL;
        }
    }
    return rm;
}

static void on_call(grpc_call *call, void *vctx)
{
    const char *path = grpc_call_method(call);
    int found = -1;
    if (strncmp(path, SERVICE, sizeof SERVICE - 1) == 0)
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (strcmp(path + sizeof SERVICE - 1, methods[i].name) == 0) found = (int)i;
    if (found < 0) {
        grpc_call_finish(call, GRPC_STATUS_UNIMPLEMENTED, path[0] ? path : "(no :path)");
        return;
    }
    grpc_rpc *rpc = calloc(1, sizeof *rpc);
    if (!rpc) {
        grpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    rpc->ctx = vctx;
    rpc->method = found;
    rpc->streaming = methods[found].kind == KIND_STREAM;
    grpc_call_set_user(call, rpc);
}

static void on_message(grpc_call *call, const uint8_t *msg, size_t len, void *vctx)
{
    (void)vctx;
    grpc_rpc *rpc = grpc_call_user(call);
    if (!rpc) return;
    if (rpc->streaming) {
        grpc_infer_submit(call, rpc, msg, len);
        return;
    }
    if (rpc->n_msgs++ > 0) {
        /* the unary RPC ends now; its state is gone, later callbacks find none */
        grpc_rpc_end(call, GRPC_STATUS_INVALID_ARGUMENT,
                     "%s is a unary RPC: the request has more than one message",
                     methods[rpc->method].name);
        return;
    }
    rpc->msg = malloc(len ? len : 1);
    if (!rpc->msg) {
        grpc_rpc_end(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory for the request");
        return;
    }
    if (len) memcpy(rpc->msg, msg, len);
    rpc->len = len;
}

static void on_half_close(grpc_call *call, void *vctx)
{
    routes_ctx *ctx = vctx;
    grpc_rpc *rpc = grpc_call_user(call);
    if (!rpc) return;
    rpc->half_closed = 1;
    if (rpc->streaming) {
        grpc_infer_maybe_end(call, rpc);
        return;
    }
    if (rpc->n_msgs != 1) {
        grpc_rpc_end(call, GRPC_STATUS_INVALID_ARGUMENT,
                     "%s is a unary RPC: the request must hold exactly one message",
                     methods[rpc->method].name);
        return;
    }
    const grpc_method *m = &methods[rpc->method];
    if (m->kind == KIND_INFER) {
        uint8_t *msg = rpc->msg; /* the call (and rpc) may end inside */
        rpc->msg = NULL;
        grpc_infer_submit(call, rpc, msg, rpc->len);
        free(msg);
        return;
    }
    m->fn(call, ctx, rpc->msg, rpc->len);
}

static void on_cancel(grpc_call *call, void *vctx)
{
    (void)vctx;
    grpc_rpc *rpc = grpc_call_user(call);
    if (!rpc) return;
    rpc->cancelled = 1;
    if (rpc->inflight) {
        grpc_infer_cancel(rpc); /* their answers end the call */
        return;
    }
    grpc_rpc_end(call, GRPC_STATUS_CANCELLED, "cancelled");
}

int grpc_service_start(routes_ctx *ctx, const grpc_options *opts, grpc_server **out, char *err,
                       size_t err_len)
{
    grpc_handler h = {.on_call = on_call,
                      .on_message = on_message,
                      .on_half_close = on_half_close,
                      .on_cancel = on_cancel};
    return grpc_server_start(opts, &h, ctx, out, err, err_len);
}
