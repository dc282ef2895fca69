/* libFuzzer target: what a hostile worker can write into the shared region, read back by the
 * node's checks. The input picks a batch the node would have submitted (the trusted snapshot:
 * 1..4 requests, 0..3 inputs, 0..3 outputs, its table at the start of the arena, an output
 * area after it) and then overwrites, in order: the batch table (statuses, output
 * descriptors), the output area, batch slot 0, model 0's ring and worker 0's completion ring.
 * The node side then runs: shm_batch_read_result on every slot, shm_batch_check_outputs and,
 * when it accepts the outputs, kserve_encode_data on each one; shm_poll_completion,
 * shm_model_ring_pop and shm_model_ring_repair. Properties: no crash or out-of-bounds access
 * (ASan; the region is a real memfd mapping), no hang, accepted outputs inside the area. */
#include <errno.h>
#include <string.h>

#include "fuzz_common.h"
#include "inferd/http_buf.h"
#include "kserve.h"

#define MAX_REQ 4
#define MAX_OUT 3

static uint8_t *pristine; /* the region as created, restored before every input */

/* Copies up to dst_len bytes of the input into dst; advances the input. */
static void overlay(void *dst, size_t dst_len, const uint8_t **data, size_t *size)
{
    size_t n = *size < dst_len ? *size : dst_len;
    memcpy(dst, *data, n);
    *data += n;
    *size -= n;
}

static uint64_t take_u64(const uint8_t **data, size_t *size)
{
    uint64_t v = 0;
    overlay(&v, sizeof v, data, size);
    return v;
}

static void check_accepted(const shm_region *region, const shm_batch *snap,
                           const shm_tensor *outputs, const int32_t *statuses)
{
    for (uint32_t r = 0; r < snap->n_requests; r++) {
        if (statuses[r] != SHM_STATUS_OK) continue;
        for (uint32_t o = 0; o < snap->n_outputs; o++) {
            const shm_tensor *t = &outputs[r * snap->n_outputs + o];
            FUZZ_CHECK(t->offset >= snap->out_off);
            FUZZ_CHECK(t->offset - snap->out_off <= snap->out_cap);
            FUZZ_CHECK(t->nbytes <= snap->out_cap - (t->offset - snap->out_off));
            http_buf b;
            http_buf_init(&b);
            char err[256];
            (void)kserve_encode_data(region, t, &b, err, sizeof err);
            http_buf_free(&b);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shm_region *region = fuzz_region();
    if (!pristine) {
        pristine = malloc(region->size);
        FUZZ_CHECK(pristine != NULL);
        memcpy(pristine, region->base, region->size);
    }
    memcpy(region->base, pristine, region->size);
    if (size < 8) return 0;

    /* The snapshot: what the node wrote, kept in its own memory. */
    shm_batch snap;
    memset(&snap, 0, sizeof snap);
    snap.n_requests = 1 + data[0] % MAX_REQ;
    snap.n_inputs = data[1] % 4;
    snap.n_outputs = data[2] % (MAX_OUT + 1);
    snap.model = 0;
    snap.table_off = 0;
    uint64_t table = shm_batch_table_size(snap.n_requests, snap.n_inputs, snap.n_outputs);
    snap.out_off = (table + SHM_ALIGN - 1) / SHM_ALIGN * SHM_ALIGN;
    snap.out_cap = ((uint64_t)data[3] << 8 | data[4]) % (region->arena_size - snap.out_off + 1);
    uint32_t model = data[5] % (region->max_models + 1); /* one past the end: refused */
    uint32_t worker = data[6] % (region->max_workers + 1);
    uint32_t poll_slot_checks = data[7];
    data += 8;
    size -= 8;
    uint64_t claim_pos = take_u64(&data, &size);

    /* What the worker wrote. */
    overlay(region->arena + snap.table_off, table, &data, &size);
    overlay(region->arena + snap.out_off, snap.out_cap, &data, &size);
    overlay(&region->batches[0], sizeof(shm_batch), &data, &size);
    overlay(region->rings, region->ring_stride, &data, &size);
    overlay(region->completions, region->completion_stride, &data, &size);

    /* The node's side. */
    for (uint32_t slot = 0; slot <= region->batch_slots; slot++) {
        int32_t status;
        uint64_t needed;
        char error[SHM_ERROR_LEN + 8];
        int rc = shm_batch_read_result(region, slot, &status, &needed, error,
                                       slot & 1 ? sizeof error : 16);
        if (slot == region->batch_slots) {
            FUZZ_CHECK(rc == -EINVAL);
            continue;
        }
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(memchr(error, '\0', slot & 1 ? sizeof error : 16) != NULL);
        FUZZ_CHECK(status == -EPROTO || (status >= SHM_STATUS_OK && status <= SHM_STATUS_DEADLINE));
    }
    shm_tensor outputs[MAX_REQ * MAX_OUT];
    int32_t statuses[MAX_REQ];
    char err[256];
    if (shm_batch_check_outputs(region, &snap, outputs, statuses, err, sizeof err) == 0)
        check_accepted(region, &snap, outputs, statuses);
    else FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);

    for (uint32_t i = 0; i < 1 + poll_slot_checks % 8; i++) {
        uint32_t slot;
        int rc = shm_poll_completion(region, worker, &slot);
        if (rc == 0) FUZZ_CHECK(slot < region->batch_slots);
        else if (rc == -EAGAIN || rc == -EINVAL) break;
    }
    /* The node submits slot 1 (which it filled: model 0) onto the worker-written ring. */
    region->batches[1].model = 0;
    int rc = shm_submit(region, 1);
    FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO);
    uint64_t value;
    (void)shm_model_ring_repair(region, model, claim_pos, &value);
    for (uint32_t i = 0; i < 2 * region->ring_capacity; i++)
        if (shm_model_ring_pop(region, model, &value) != 0) break;
    return 0;
}
