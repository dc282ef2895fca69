/* Inputs whose bytes arrive whole (binary tensor extension, client shared memory, the raw
 * binary form): one copy into the arena, then the copy is checked against shape and datatype
 * (a client region may change under us, so what is checked is what the model will read). */
#include <stdio.h>
#include <string.h>

#include "kserve_binary.h"
#include "kserve_place.h"

static int get_u64(const json_t *params, const char *key, const char *what, int *present,
                   uint64_t *out, char *err, size_t err_len)
{
    const json_t *v = params ? json_object_get(params, key) : NULL;
    *present = v != NULL;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, err_len, "%s: parameters.%s must be a non-negative integer", what, key);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int kserve_shm_params(const json_t *params, const char *what, kserve_shm_spec *s, char *err,
                      size_t err_len)
{
    memset(s, 0, sizeof *s);
    const json_t *r = params ? json_object_get(params, "shared_memory_region") : NULL;
    int has_size, has_off;
    if (get_u64(params, "shared_memory_byte_size", what, &has_size, &s->byte_size, err, err_len) ||
        get_u64(params, "shared_memory_offset", what, &has_off, &s->offset, err, err_len))
        return -1;
    if (r && !json_is_string(r)) {
        snprintf(err, err_len, "%s: parameters.shared_memory_region must be a string", what);
        return -1;
    }
    if (kserve_shm_spec_check(s, r != NULL, has_size, has_off, what, err, err_len)) return -1;
    s->region = json_string_value(r);
    return 0;
}

uint8_t *kserve_place_alloc(const char *tname, shm_tensor *t, uint64_t n, const shm_region *region,
                            shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                            size_t err_len, int *status)
{
    uint64_t off;
    if (shm_arena_alloc(arena, n ? n : 8, &off) != 0) {
        snprintf(err, err_len,
                 "no room in the tensor arena for input '%s' (%llu bytes); try again later", tname,
                 (unsigned long long)n);
        *status = 503;
        return NULL;
    }
    t->offset = off;
    t->nbytes = n;
    req->inputs[j] = *t;
    seen[j] = 1;
    return shm_arena_ptr(region, off);
}

int kserve_place_bytes(const char *tname, const char *what, shm_tensor *t, int64_t elements,
                       const uint8_t *src, uint64_t n, int from_client, const shm_region *region,
                       shm_arena *arena, infer_request *req, int j, int *seen, char *err,
                       size_t err_len, int *status)
{
    inferd_dtype dt = (inferd_dtype)t->dtype;
    uint64_t want = (uint64_t)elements * inferd_dtype_size(dt); /* elements <= 2^40 */
    if (dt != INFERD_DTYPE_BYTES && n != want) {
        snprintf(err, err_len, "input '%s': %s is %llu bytes, but %lld elements of %s need %llu",
                 tname, what, (unsigned long long)n, (long long)elements, inferd_dtype_name(dt),
                 (unsigned long long)want);
        return -1;
    }
    if (dt == INFERD_DTYPE_BYTES && n / 4 < (uint64_t)elements) {
        snprintf(err, err_len,
                 "input '%s': %s is %llu bytes, too short for %lld BYTES elements (4 bytes "
                 "each at least)",
                 tname, what, (unsigned long long)n, (long long)elements);
        return -1;
    }
    uint8_t *dst =
        kserve_place_alloc(tname, t, n, region, arena, req, j, seen, err, err_len, status);
    if (!dst) return -1;
    if (!from_client) {
        if (n) memcpy(dst, src, n);
    } else if (client_shm_copy(dst, src, n) != 0) {
        snprintf(err, err_len, "input '%s': %s shrank while it was read", tname, what);
        return -1;
    }
    if (dt == INFERD_DTYPE_BYTES) {
        int64_t got;
        char why[160];
        if (kserve_bytes_walk(dst, n, &got, why, sizeof why)) {
            snprintf(err, err_len, "input '%s': %s: %s", tname, what, why);
            return -1;
        }
        if (got != elements) {
            snprintf(err, err_len, "input '%s': %s holds %lld BYTES elements, the shape %lld",
                     tname, what, (long long)got, (long long)elements);
            return -1;
        }
    }
    return 0;
}

int kserve_decode_raw(const char *body, size_t len, const model_config *m, const shm_region *region,
                      shm_arena *arena, infer_request *req, kserve_params *params, char *err,
                      size_t err_len)
{
    if (m->n_inputs != 1) {
        snprintf(err, err_len,
                 "the raw binary form (Inference-Header-Content-Length: 0) needs a model with "
                 "one input; model '%s' has %d",
                 m->name, m->n_inputs);
        return 400;
    }
    const model_io *io = &m->inputs[0];
    int batched = m->max_batch_size > 0;
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = (uint32_t)io->dtype;
    t.ndim = (uint32_t)(io->ndim + batched);
    int var = -1;
    int64_t fixed = 1;
    for (uint32_t d = 0; d < t.ndim; d++) {
        int64_t md = batched && d == 0 ? 1 : io->dims[d - (uint32_t)batched];
        if (md < 0) {
            if (var >= 0) {
                snprintf(err, err_len,
                         "input '%s' has more than one variable dimension: its shape cannot "
                         "come from a raw binary body; send a JSON header",
                         io->name);
                return 400;
            }
            var = (int)d;
            md = 1;
        }
        t.dims[d] = md;
        if (md && fixed > INT64_MAX / md) {
            snprintf(err, err_len, "input '%s': the model's shape is too large", io->name);
            return 400;
        }
        fixed *= md;
    }
    int64_t elements;
    if (io->dtype == INFERD_DTYPE_BYTES) {
        char why[160];
        if (kserve_bytes_walk((const uint8_t *)body, len, &elements, why, sizeof why)) {
            snprintf(err, err_len, "input '%s': raw body: %s", io->name, why);
            return 400;
        }
    } else {
        size_t es = inferd_dtype_size(io->dtype);
        if (len % es) {
            snprintf(err, err_len,
                     "input '%s': a raw body of %zu bytes is not a whole number "
                     "of %s elements",
                     io->name, len, inferd_dtype_name(io->dtype));
            return 400;
        }
        elements = (int64_t)(len / es);
    }
    if (var >= 0) {
        if (fixed == 0 ? elements != 0 : elements % fixed != 0) {
            snprintf(err, err_len, "input '%s': %lld elements do not fill the model's shape",
                     io->name, (long long)elements);
            return 400;
        }
        t.dims[var] = fixed ? elements / fixed : 0;
    } else if (elements != fixed) {
        snprintf(err, err_len,
                 "input '%s': the raw body holds %lld elements, the model's "
                 "shape %lld",
                 io->name, (long long)elements, (long long)fixed);
        return 400;
    }
    int seen[MODEL_MAX_IO] = {0}, status = 400;
    req->n_inputs = 1;
    if (kserve_place_bytes(io->name, "the raw body", &t, elements, (const uint8_t *)body, len, 0,
                           region, arena, req, 0, seen, err, err_len, &status)) {
        if (seen[0]) shm_arena_free(arena, req->inputs[0].offset);
        memset(req->inputs, 0, sizeof req->inputs);
        req->n_inputs = 0;
        return status;
    }
    req->batch_rows = 1;
    req->output_mask = 0;
    params->binary_outputs = (1u << m->n_outputs) - 1; /* n_outputs <= 16 */
    return 0;
}
