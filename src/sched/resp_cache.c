/* The response cache's table (resp_cache.h, docs/cache.md): hash chains compared by the full
 * key, an O(1) LRU by bytes, and the PENDING entries of single flight. One mutex guards it. */
#include "inferd/resp_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "inferd/log.h"

enum { RC_PENDING = 0, RC_READY = 1 };

typedef struct rc_entry {
    struct rc_entry *hnext;               /* hash chain */
    struct rc_entry *lru_prev, *lru_next; /* READY only; most recent at the head */
    uint64_t hash_hi, hash_lo;
    int state;
    uint64_t instance; /* copied from the key's first 8 bytes, for resp_cache_purge */
    uint8_t *key;
    size_t key_len;
    uint32_t n_outputs;
    shm_tensor *outputs; /* n_outputs, at the start of the data block; offset = offset of the
                          * bytes in data */
    uint8_t *block;      /* malloc'd: outputs, then data */
    uint8_t *data;
    size_t data_len;
    size_t charged;         /* READY: bytes counted against the budget */
    infer_request *waiters; /* PENDING: followers, linked by next */
} rc_entry;

struct resp_cache {
    pthread_mutex_t mu;
    rc_entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t n_chained; /* entries in the table, PENDING and READY */
    rc_entry *lru_head, *lru_tail;
    int constant_hash; /* INFERD_CACHE_TEST_HASH=constant */
    resp_cache_stats st;
};

#define RC_MIN_BUCKETS 1024

resp_cache *resp_cache_create(uint64_t budget_bytes)
{
    resp_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->buckets = calloc(RC_MIN_BUCKETS, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->n_buckets = RC_MIN_BUCKETS;
    pthread_mutex_init(&c->mu, NULL);
    c->st.budget_bytes = budget_bytes;
    const char *h = getenv("INFERD_CACHE_TEST_HASH");
    if (h && strcmp(h, "constant") == 0) {
        c->constant_hash = 1;
        log_warn("response cache: INFERD_CACHE_TEST_HASH=constant, every key hashes the same "
                 "(for tests only: slow)");
    }
    return c;
}

static void entry_free(rc_entry *e)
{
    free(e->key);
    free(e->block);
    free(e);
}

void resp_cache_destroy(resp_cache *c)
{
    if (!c) return;
    for (size_t b = 0; b < c->n_buckets; b++) {
        rc_entry *e = c->buckets[b];
        while (e) {
            rc_entry *next = e->hnext;
            entry_free(e);
            e = next;
        }
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void resp_cache_get_stats(resp_cache *c, resp_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the key --------------------------------------------------------------------------- */

static int size_add(size_t *total, uint64_t n)
{
    if (n > SIZE_MAX - *total) return -1;
    *total += (size_t)n;
    return 0;
}

static uint8_t *put(uint8_t *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    uint16_t n = (uint16_t)strnlen(s, MODEL_NAME_LEN);
    p = put(p, &n, sizeof n);
    return put(p, s, n);
}

int resp_cache_key_build(resp_cache *c, uint64_t instance, const char *model, int version,
                         const infer_request *req, uint32_t n_model_outputs,
                         const char *const *names, const uint8_t *const *data, resp_cache_key *key)
{
    if (req->n_inputs > MODEL_MAX_IO) return -1;
    size_t len = 8 + 4 + 2 + strnlen(model, MODEL_NAME_LEN) + 4 + 8 + 8 + 4;
    for (uint32_t i = 0; i < req->n_inputs; i++) {
        const shm_tensor *t = &req->inputs[i];
        if (t->ndim > SHM_MAX_DIMS) return -1;
        if (size_add(&len,
                     2 + strnlen(names[i], MODEL_NAME_LEN) + 4 + 4 + 8 * (size_t)t->ndim + 8) ||
            size_add(&len, t->nbytes))
            return -1;
    }
    uint8_t *buf = malloc(len);
    if (!buf) return -1;
    uint32_t mask = req->output_mask;
    if (mask == 0) mask = n_model_outputs >= 32 ? UINT32_MAX : (1u << n_model_outputs) - 1;
    int32_t ver = version;
    uint8_t *p = put(buf, &instance, 8);
    p = put(p, &ver, 4);
    p = put_str(p, model);
    p = put(p, &mask, 4);
    p = put(p, &req->batch_rows, 8);
    p = put(p, &req->delay_us, 8);
    p = put(p, &req->n_inputs, 4);
    for (uint32_t i = 0; i < req->n_inputs; i++) {
        const shm_tensor *t = &req->inputs[i];
        p = put_str(p, names[i]);
        p = put(p, &t->dtype, 4);
        p = put(p, &t->ndim, 4);
        p = put(p, t->dims, 8 * (size_t)t->ndim);
        p = put(p, &t->nbytes, 8);
        if (t->nbytes) p = put(p, data[i], (size_t)t->nbytes);
    }
    key->bytes = buf;
    key->len = (size_t)(p - buf);
    if (c && c->constant_hash) {
        key->hash_hi = key->hash_lo = 42;
    } else {
        XXH128_hash_t h = XXH3_128bits(buf, key->len);
        key->hash_hi = h.high64;
        key->hash_lo = h.low64;
    }
    return 0;
}

void resp_cache_key_free(resp_cache_key *key)
{
    free(key->bytes);
    key->bytes = NULL;
    key->len = 0;
}

/* ---- table and LRU (caller holds mu) ----------------------------------------------------- */

static size_t bucket_of(const resp_cache *c, uint64_t hash_lo)
{
    return (size_t)(hash_lo & (c->n_buckets - 1));
}

static rc_entry *table_find(resp_cache *c, const resp_cache_key *key)
{
    for (rc_entry *e = c->buckets[bucket_of(c, key->hash_lo)]; e; e = e->hnext)
        if (e->hash_lo == key->hash_lo && e->hash_hi == key->hash_hi && e->key_len == key->len &&
            memcmp(e->key, key->bytes, key->len) == 0)
            return e;
    return NULL;
}

static void table_grow(resp_cache *c)
{
    size_t n = c->n_buckets * 2;
    if (n < c->n_buckets || n > SIZE_MAX / sizeof(rc_entry *)) return;
    rc_entry **nb = calloc(n, sizeof *nb);
    if (!nb) return; /* longer chains, still correct */
    for (size_t b = 0; b < c->n_buckets; b++) {
        rc_entry *e = c->buckets[b];
        while (e) {
            rc_entry *next = e->hnext;
            size_t i = (size_t)(e->hash_lo & (n - 1));
            e->hnext = nb[i];
            nb[i] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->n_buckets = n;
}

static void table_insert(resp_cache *c, rc_entry *e)
{
    if (c->n_chained + 1 > c->n_buckets) table_grow(c);
    size_t b = bucket_of(c, e->hash_lo);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    c->n_chained++;
}

static void table_remove(resp_cache *c, rc_entry *e)
{
    rc_entry **pp = &c->buckets[bucket_of(c, e->hash_lo)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = e->hnext;
        c->n_chained--;
    }
}

static void lru_unlink(resp_cache *c, rc_entry *e)
{
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else c->lru_head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(resp_cache *c, rc_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head) c->lru_head->lru_prev = e;
    else c->lru_tail = e;
    c->lru_head = e;
}

/* Takes a READY entry out of everything and frees it. */
static void ready_drop(resp_cache *c, rc_entry *e)
{
    lru_unlink(c, e);
    table_remove(c, e);
    c->st.bytes -= e->charged;
    c->st.entries--;
    entry_free(e);
}

/* ---- single flight ----------------------------------------------------------------------- */

int resp_cache_begin(resp_cache *c, resp_cache_key *key, infer_request *req,
                     resp_cache_copy_fn copy, void *copy_arg, void **entry)
{
    *entry = NULL;
    pthread_mutex_lock(&c->mu);
    rc_entry *e = table_find(c, key);
    int result;
    if (e && e->state == RC_READY) {
        if (copy(copy_arg, e->n_outputs, e->outputs, e->data) == 0) {
            lru_unlink(c, e);
            lru_push_front(c, e);
            c->st.hits++;
            result = RESP_CACHE_HIT;
        } else {
            c->st.misses++;
            result = RESP_CACHE_BYPASS;
        }
    } else if (e) {
        req->next = e->waiters;
        e->waiters = req;
        c->st.coalesced++;
        result = RESP_CACHE_FOLLOW;
    } else {
        c->st.misses++;
        e = calloc(1, sizeof *e);
        if (!e) {
            result = RESP_CACHE_BYPASS;
        } else {
            e->state = RC_PENDING;
            e->hash_hi = key->hash_hi;
            e->hash_lo = key->hash_lo;
            e->key = key->bytes;
            e->key_len = key->len;
            if (key->len >= 8) memcpy(&e->instance, key->bytes, 8);
            key->bytes = NULL;
            key->len = 0;
            table_insert(c, e);
            *entry = e;
            result = RESP_CACHE_LEAD;
        }
    }
    pthread_mutex_unlock(&c->mu);
    resp_cache_key_free(key);
    return result;
}

/* Copies outs' bytes into e (outside the lock: a PENDING entry belongs to its leader).
 * Returns 0, or -1 when out of memory or the answer alone is larger than the budget. */
static int entry_fill(const resp_cache *c, rc_entry *e, uint32_t n, const shm_tensor *outs,
                      const uint8_t *const *data)
{
    if (n > MODEL_MAX_IO) return -1;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (size_add(&total, outs[i].nbytes)) return -1;
    size_t head = (size_t)n * sizeof(shm_tensor), block = head;
    if (size_add(&block, total)) return -1;
    size_t charged = sizeof *e;
    if (size_add(&charged, e->key_len) || size_add(&charged, block) ||
        charged > c->st.budget_bytes) /* budget_bytes is constant after create */
        return -1;
    e->block = malloc(block ? block : 1);
    if (!e->block) return -1;
    e->outputs = (shm_tensor *)(void *)e->block;
    e->data = e->block + head;
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        e->outputs[i] = outs[i];
        e->outputs[i].offset = off;
        if (outs[i].nbytes) memcpy(e->data + off, data[i], (size_t)outs[i].nbytes);
        off += (size_t)outs[i].nbytes;
    }
    e->n_outputs = n;
    e->data_len = total;
    e->charged = charged;
    return 0;
}

infer_request *resp_cache_finish(resp_cache *c, void *entry, int ok, uint32_t n,
                                 const shm_tensor *outs, const uint8_t *const *data)
{
    rc_entry *e = entry;
    int keep = ok && entry_fill(c, e, n, outs, data) == 0;
    pthread_mutex_lock(&c->mu);
    infer_request *waiters = e->waiters;
    e->waiters = NULL;
    if (keep) {
        e->state = RC_READY;
        lru_push_front(c, e);
        c->st.bytes += e->charged;
        c->st.entries++;
        c->st.inserts++;
        while (c->st.bytes > c->st.budget_bytes && c->lru_tail && c->lru_tail != e) {
            ready_drop(c, c->lru_tail);
            c->st.evictions++;
        }
    } else {
        table_remove(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    if (!keep) entry_free(e);
    return waiters;
}

void resp_cache_purge(resp_cache *c, uint64_t instance)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    rc_entry *e = c->lru_head;
    while (e) {
        rc_entry *next = e->lru_next;
        if (e->instance == instance) ready_drop(c, e);
        e = next;
    }
    pthread_mutex_unlock(&c->mu);
}
