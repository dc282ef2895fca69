/* The fast path of the KServe JSON decoder, for the request most clients send:
 * {"inputs": [{"name": ..., "datatype": ..., "shape": [...], "data": [...]}, ...]} and nothing
 * else. One pass over the body with the kj tokenizer: no skeleton copy, no jansson tree.
 * It only ever accepts: anything else (another key, a duplicate, an error of any kind) is
 * given back untouched to kserve_decode_infer's full path, which answers as it always did. */
#include <string.h>

#include "kserve.h"
#include "kserve_json.h"

typedef struct fast_input {
    const model_io *io;
    int j; /* the model's input number */
    inferd_dtype dtype;
    int64_t dims[SHM_MAX_DIMS];
    size_t ndim;
    const char *data; /* the value of "data" in the body */
    size_t data_len;
} fast_input;

/* A string value of at most buf_len - 1 bytes without an embedded NUL, into buf. 0 or -1. */
static int read_name(kj_cursor *c, char *buf, size_t buf_len)
{
    kj_cursor probe = *c;
    size_t n;
    if (kj_peek(c) != KJ_STRING || kj_string(&probe, NULL, &n) || n >= buf_len) return -1;
    if (kj_string(c, (uint8_t *)buf, &n)) return -1;
    buf[n] = '\0';
    return strlen(buf) == n ? 0 : -1;
}

static int read_shape(kj_cursor *c, fast_input *in)
{
    if (kj_peek(c) != KJ_ARRAY) return -1;
    c->p++;
    int first = 1, more, is_int, over;
    double dv;
    in->ndim = 0;
    while ((more = kj_array_next(c, &first)) == 1) {
        if (in->ndim == SHM_MAX_DIMS || kj_peek(c) != KJ_NUMBER) return -1;
        if (kj_number(c, &is_int, &in->dims[in->ndim], &over, &dv) || !is_int || over) return -1;
        in->ndim++;
    }
    return more;
}

/* One inputs[] entry: its four keys, each once, in any order. 0 or -1. */
static int read_input(kj_cursor *c, const model_config *m, uint32_t *taken, fast_input *in)
{
    enum { HAS_NAME = 1, HAS_DTYPE = 2, HAS_SHAPE = 4, HAS_DATA = 8, HAS_ALL = 15 };
    if (kj_peek(c) != KJ_OBJECT) return -1;
    c->p++;
    unsigned have = 0;
    int first = 1, more;
    char key[16], name[MODEL_NAME_LEN];
    in->j = -1;
    while ((more = kj_object_next(c, &first)) == 1) {
        if (kj_read_key(c, key, sizeof key)) return -1;
        if (strcmp(key, "name") == 0 && !(have & HAS_NAME)) {
            have |= HAS_NAME;
            char err[8]; /* the full path words the error */
            if (read_name(c, name, sizeof name) ||
                (in->j = kserve_find_io(m, 0, 0, name, *taken, err, sizeof err)) < 0)
                return -1;
            *taken |= 1u << in->j;
        } else if (strcmp(key, "datatype") == 0 && !(have & HAS_DTYPE)) {
            have |= HAS_DTYPE;
            char dt[16];
            if (read_name(c, dt, sizeof dt)) return -1;
            in->dtype = inferd_dtype_from_name(dt);
        } else if (strcmp(key, "shape") == 0 && !(have & HAS_SHAPE)) {
            have |= HAS_SHAPE;
            if (read_shape(c, in)) return -1;
        } else if (strcmp(key, "data") == 0 && !(have & HAS_DATA)) {
            have |= HAS_DATA;
            kj_peek(c); /* to the value's first byte */
            in->data = c->p;
            if (kj_skip(c, 3)) return -1; /* the depth kj_split gives it */
            in->data_len = (size_t)(c->p - in->data);
        } else {
            return -1; /* another key, or one given twice */
        }
    }
    if (more < 0 || have != HAS_ALL) return -1;
    in->io = &m->inputs[in->j];
    if (in->dtype != in->io->dtype || in->dtype == INFERD_DTYPE_FP16 ||
        in->dtype == INFERD_DTYPE_BF16)
        return -1;
    return 0;
}

/* The body's structure into ins[0..m->n_inputs). 0 or -1. */
static int read_body(const char *body, size_t len, const model_config *m, fast_input *ins)
{
    kj_cursor c = {body, body + len};
    if (kj_peek(&c) != KJ_OBJECT) return -1;
    c.p++;
    int first = 1, more, n = 0, have_inputs = 0;
    uint32_t taken = 0;
    size_t data_len = 0;
    char key[16];
    while ((more = kj_object_next(&c, &first)) == 1) {
        if (kj_read_key(&c, key, sizeof key) || strcmp(key, "inputs") != 0 || have_inputs ||
            kj_peek(&c) != KJ_ARRAY)
            return -1;
        have_inputs = 1;
        c.p++;
        int f = 1, mi;
        while ((mi = kj_array_next(&c, &f)) == 1) {
            if (n == m->n_inputs || read_input(&c, m, &taken, &ins[n])) return -1;
            data_len += ins[n++].data_len;
        }
        if (mi < 0) return -1;
    }
    if (more < 0 || n != m->n_inputs || kj_peek(&c) != KJ_END) return -1;
    /* the full path refuses a request whose skeleton (each data as null) is over the limit */
    if (len - data_len + 4 * (size_t)n > KJ_SKELETON_MAX) return -1;
    return 0;
}

int kserve_decode_fast(const char *body, size_t len, const model_config *m,
                       const shm_region *region, shm_arena *arena, infer_request *req)
{
    fast_input ins[MODEL_MAX_IO];
    if (m->n_inputs < 1 || m->n_inputs > MODEL_MAX_IO || read_body(body, len, m, ins)) return 0;
    int seen[MODEL_MAX_IO] = {0};
    char err[256];
    int status = 400;
    memset(req->inputs, 0, sizeof req->inputs);
    req->batch_rows = 0;
    for (int i = 0; i < m->n_inputs; i++) {
        fast_input *in = &ins[i];
        shm_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = (uint32_t)in->dtype;
        if (kserve_check_shape(in->dims, in->ndim, in->io, m->max_batch_size, &t, err, sizeof err))
            goto fallback;
        int64_t elements = kserve_tensor_elements(&t);
        if (elements < 0 ||
            kserve_decode_json_data(in->data, in->data_len, len, in->io, &t, elements, region,
                                    arena, req, in->j, seen, err, sizeof err, &status))
            goto fallback;
        if (m->max_batch_size > 0) {
            if (req->batch_rows && req->batch_rows != t.dims[0]) goto fallback;
            req->batch_rows = t.dims[0];
        }
    }
    req->n_inputs = (uint32_t)m->n_inputs;
    if (m->max_batch_size == 0) req->batch_rows = 1;
    req->output_mask = 0;
    return 1;
fallback:
    kserve_unwind_inputs(arena, req, seen);
    req->batch_rows = 1;
    return 0;
}
