/* Decoding a model file with its initializers' raw_data lifted out first (see rawsplit.h):
 * a walk over ModelProto.graph (field 7) -> GraphProto.initializer (5) -> TensorProto.raw_data
 * (9), a copy of the file without those fields (lengths re-encoded), and the blocks put back
 * into the decoded message. Anything unusual (two graph fields, a repeated raw_data) is left
 * in the message, which protobuf-c then decodes as before. */
#include "rawsplit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { MODEL_GRAPH = 7, GRAPH_INITIALIZER = 5, TENSOR_RAW_DATA = 9 };

/* A length-delimited field: tag at start, its length varint at lenpos, payload body..end. */
typedef struct raw_field {
    size_t start, lenpos, body, end;
} raw_field;

/* A lifted raw_data: initializer number init (field f), raw_data field r, its block. */
typedef struct raw_lift {
    size_t init;
    raw_field f, r;
    void *block;
} raw_lift;

static int rs_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        const uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static size_t rs_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static size_t rs_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) p[n++] = (uint8_t)(v | 0x80), v >>= 7;
    p[n++] = (uint8_t)v;
    return n;
}

/* The field at *pos in p[0..len): its number, and for wire type 2 its layout in *f. Advances
 * *pos past it. Returns the wire type, or -1 if malformed. */
static int rs_field(const uint8_t *p, size_t len, size_t *pos, uint64_t *id, raw_field *f)
{
    uint64_t tag, v;
    f->start = *pos;
    if (rs_varint(p, len, pos, &tag) < 0) return -1;
    *id = tag >> 3;
    const int wt = (int)(tag & 7);
    switch (wt) {
    case 0: return rs_varint(p, len, pos, &v) < 0 ? -1 : 0;
    case 1:
        if (len - *pos < 8) return -1;
        *pos += 8;
        return 1;
    case 5:
        if (len - *pos < 4) return -1;
        *pos += 4;
        return 5;
    case 2:
        f->lenpos = *pos;
        if (rs_varint(p, len, pos, &v) < 0 || v > len - *pos) return -1;
        f->body = *pos;
        *pos += (size_t)v;
        f->end = *pos;
        return 2;
    default: return -1;
    }
}

/* The single raw_data field of the TensorProto in p[f.body..f.end), if it is worth lifting. */
static int rs_raw_of(const uint8_t *p, const raw_field *f, raw_field *r)
{
    size_t pos = f->body, found = 0;
    const size_t end = f->end;
    while (pos < end) {
        uint64_t id;
        raw_field x;
        /* offsets relative to p: walk p[0..end) from pos */
        const int wt = rs_field(p, end, &pos, &id, &x);
        if (wt < 0) return 0;
        if (id == TENSOR_RAW_DATA) {
            if (wt != 2 || found++) return 0;
            *r = x;
        }
    }
    return found == 1 && r->end - r->body >= ONNX_RAW_LIFT_MIN;
}

/* Finds the graph field and the initializers worth lifting (*lifts, *n). Returns 0, or -1 on
 * ENOMEM; *n 0 means nothing to lift. */
static int rs_plan(const uint8_t *p, size_t len, raw_field *graph, raw_lift **lifts, size_t *n)
{
    size_t pos = 0, graphs = 0;
    *lifts = NULL, *n = 0;
    while (pos < len) {
        uint64_t id;
        raw_field f;
        const int wt = rs_field(p, len, &pos, &id, &f);
        if (wt < 0) return 0;
        if (id == MODEL_GRAPH) {
            if (wt != 2) return 0;
            *graph = f;
            graphs++;
        }
    }
    if (graphs != 1) return 0;
    size_t cap = 0;
    size_t init = 0;
    pos = graph->body;
    while (pos < graph->end) {
        uint64_t id;
        raw_field f, r;
        const int wt = rs_field(p, graph->end, &pos, &id, &f);
        if (wt < 0) {
            free(*lifts);
            *lifts = NULL, *n = 0;
            return 0;
        }
        if (id != GRAPH_INITIALIZER || wt != 2) continue;
        if (rs_raw_of(p, &f, &r)) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 64;
                raw_lift *grown = realloc(*lifts, cap * sizeof *grown);
                if (!grown) {
                    free(*lifts);
                    *lifts = NULL, *n = 0;
                    return -1;
                }
                *lifts = grown;
            }
            (*lifts)[(*n)++] = (raw_lift){.init = init, .f = f, .r = r};
        }
        init++;
    }
    return 0;
}

/* The model without the lifted raw_data fields (graph and initializer lengths re-encoded). */
static uint8_t *rs_strip(const uint8_t *p, size_t len, const raw_field *g, const raw_lift *lifts,
                         size_t n, size_t *out_len)
{
    size_t glen = g->end - g->body;
    for (size_t i = 0; i < n; i++) {
        const size_t flen = lifts[i].f.end - lifts[i].f.body;
        const size_t nlen = flen - (lifts[i].r.end - lifts[i].r.start);
        glen -= (lifts[i].f.body - lifts[i].f.lenpos) - rs_varint_size(nlen);
        glen -= lifts[i].r.end - lifts[i].r.start;
    }
    const size_t total =
        len - (g->end - g->lenpos) + rs_varint_size(glen) + glen; /* tag bytes kept */
    uint8_t *out = malloc(total ? total : 1), *o = out;
    if (!out) return NULL;
#define RS_COPY(from, to) (memcpy(o, p + (from), (to) - (from)), o += (to) - (from))
    RS_COPY(0, g->lenpos);
    o += rs_put_varint(o, glen);
    size_t cur = g->body;
    for (size_t i = 0; i < n; i++) {
        const raw_lift *l = &lifts[i];
        RS_COPY(cur, l->f.lenpos);
        o += rs_put_varint(o, (l->f.end - l->f.body) - (l->r.end - l->r.start));
        RS_COPY(l->f.body, l->r.start);
        RS_COPY(l->r.end, l->f.end);
        cur = l->f.end;
    }
    RS_COPY(cur, g->end);
    RS_COPY(g->end, len);
#undef RS_COPY
    *out_len = (size_t)(o - out);
    return out;
}

/* Gives the pages wholly inside p[from..to) back to the kernel (their bytes read as zeros). */
static void rs_release(uint8_t *p, size_t from, size_t to)
{
    const long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    const uintptr_t a = ((uintptr_t)(p + from) + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
    const uintptr_t b = (uintptr_t)(p + to) / (uintptr_t)pg * (uintptr_t)pg;
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

Onnx__ModelProto *onnx_raw_decode(unsigned char *buf, size_t len, int *nomem)
{
    *nomem = 0;
    raw_field g = {0, 0, 0, 0};
    raw_lift *lifts;
    size_t n, slen = 0;
    if (rs_plan(buf, len, &g, &lifts, &n) < 0) {
        *nomem = 1;
        return NULL;
    }
    uint8_t *stripped = n ? rs_strip(buf, len, &g, lifts, n, &slen) : NULL;
    if (!stripped) { /* nothing to lift, or no memory for the copy: decode as it is */
        free(lifts);
        return onnx__model_proto__unpack(NULL, len, buf);
    }
    size_t done = 0;
    for (; done < n; done++) { /* one block at a time: the file's copy goes as each comes */
        raw_lift *l = &lifts[done];
        const size_t bytes = l->r.end - l->r.body;
        if (!(l->block = malloc(bytes))) break;
        memcpy(l->block, buf + l->r.body, bytes);
        rs_release(buf, l->r.body, l->r.end);
    }
    Onnx__ModelProto *mp = NULL;
    if (done == n) {
        mp = onnx__model_proto__unpack(NULL, slen, stripped);
    } else {
        *nomem = 1;
    }
    free(stripped);
    Onnx__GraphProto *gp = mp ? mp->graph : NULL;
    for (size_t i = 0; i < done; i++) {
        raw_lift *l = &lifts[i];
        Onnx__TensorProto *t = gp && l->init < gp->n_initializer ? gp->initializer[l->init] : NULL;
        if (!t || t->has_raw_data) { /* cannot happen for a message decoded from stripped */
            free(l->block);
            continue;
        }
        t->raw_data.data = l->block;
        t->raw_data.len = l->r.end - l->r.body;
        t->has_raw_data = 1;
    }
    free(lifts);
    return mp;
}
