/* Triton's system shared-memory extension over gRPC: SystemSharedMemoryStatus, Register and
 * Unregister over the node's client_shm registry, the one the HTTP routes (routes_shm.c) use,
 * with the same checks and limits. An empty name means every region (status, unregister). */
#include <stdio.h>
#include <stdlib.h>

#include "grpc_service.h"
#include "grpc_service.pb-c.h"

/* The gRPC status for a client_shm error. Off is UNAVAILABLE, as Triton answers a protocol
 * it restricts; a region in use is FAILED_PRECONDITION (unregister again once its requests
 * are answered). */
static int shm_code(int rc)
{
    switch (rc) {
    case CLIENT_SHM_ENOTFOUND: return GRPC_STATUS_NOT_FOUND;
    case CLIENT_SHM_EEXIST: return GRPC_STATUS_ALREADY_EXISTS;
    case CLIENT_SHM_EBUSY: return GRPC_STATUS_FAILED_PRECONDITION;
    case CLIENT_SHM_EFULL: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case CLIENT_SHM_EOFF: return GRPC_STATUS_UNAVAILABLE;
    case CLIENT_SHM_ENOMEM: return GRPC_STATUS_RESOURCE_EXHAUSTED;
    default: return GRPC_STATUS_INVALID_ARGUMENT;
    }
}

typedef Inference__SystemSharedMemoryStatusResponse__RegionStatus region_status;
typedef Inference__SystemSharedMemoryStatusResponse__RegionsEntry region_entry;

void grpc_rpc_shm_status(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__SystemSharedMemoryStatusRequest *q;
    UNPACK("SystemSharedMemoryStatusRequest",
           inference__system_shared_memory_status_request__unpack, call, msg, len, q);
    int max = client_shm_max_regions(ctx->cshm);
    client_shm_info *info = calloc((size_t)max, sizeof *info);
    region_status *st = calloc((size_t)max, sizeof *st);
    region_entry *en = calloc((size_t)max, sizeof *en);
    region_entry **ptrs = calloc((size_t)max, sizeof *ptrs);
    char err[256];
    int n = info && st && en && ptrs ? client_shm_status(ctx->cshm, q->name[0] ? q->name : NULL,
                                                         info, max, err, sizeof err)
                                     : CLIENT_SHM_ENOMEM;
    inference__system_shared_memory_status_request__free_unpacked(q, NULL);
    if (n == CLIENT_SHM_ENOMEM) snprintf(err, sizeof err, "out of memory");
    if (n < 0) {
        grpc_rpc_end(call, shm_code(n), "%s", err);
    } else {
        Inference__SystemSharedMemoryStatusResponse r =
            INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__INIT;
        for (int i = 0; i < n; i++) {
            inference__system_shared_memory_status_response__region_status__init(&st[i]);
            st[i].name = info[i].name;
            st[i].key = info[i].key;
            st[i].offset = info[i].offset;
            st[i].byte_size = info[i].byte_size;
            inference__system_shared_memory_status_response__regions_entry__init(&en[i]);
            en[i].key = info[i].name;
            en[i].value = &st[i];
            ptrs[i] = &en[i];
        }
        r.n_regions = (size_t)n;
        r.regions = ptrs;
        grpc_rpc_reply(call, &r.base);
    }
    free(ptrs);
    free(en);
    free(st);
    free(info);
}

void grpc_rpc_shm_register(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__SystemSharedMemoryRegisterRequest *q;
    UNPACK("SystemSharedMemoryRegisterRequest",
           inference__system_shared_memory_register_request__unpack, call, msg, len, q);
    char err[320];
    int rc =
        client_shm_register(ctx->cshm, q->name, q->key, q->offset, q->byte_size, err, sizeof err);
    inference__system_shared_memory_register_request__free_unpacked(q, NULL);
    if (rc) {
        grpc_rpc_end(call, shm_code(rc), "%s", err);
        return;
    }
    Inference__SystemSharedMemoryRegisterResponse r =
        INFERENCE__SYSTEM_SHARED_MEMORY_REGISTER_RESPONSE__INIT;
    grpc_rpc_reply(call, &r.base);
}

void grpc_rpc_shm_unregister(grpc_call *call, routes_ctx *ctx, const uint8_t *msg, size_t len)
{
    Inference__SystemSharedMemoryUnregisterRequest *q;
    UNPACK("SystemSharedMemoryUnregisterRequest",
           inference__system_shared_memory_unregister_request__unpack, call, msg, len, q);
    char err[256];
    int rc = client_shm_unregister(ctx->cshm, q->name[0] ? q->name : NULL, err, sizeof err);
    inference__system_shared_memory_unregister_request__free_unpacked(q, NULL);
    if (rc) {
        grpc_rpc_end(call, shm_code(rc), "%s", err);
        return;
    }
    Inference__SystemSharedMemoryUnregisterResponse r =
        INFERENCE__SYSTEM_SHARED_MEMORY_UNREGISTER_RESPONSE__INIT;
    grpc_rpc_reply(call, &r.base);
}
