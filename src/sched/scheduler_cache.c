/* The scheduler's side of the response cache (docs/cache.md): at submit a request is answered
 * from the cache, follows an identical one in flight, or leads; when a leader is answered its
 * outputs are stored and its followers answered with them (or with its error). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/clock.h"
#include "inferd/log.h"
#include "inferd/resp_cache.h"
#include "scheduler_internal.h"

#define CACHE_ALIGN 64u

/* Adds one cache lookup to the model's counters (a hit: answered from the cache or by an
 * identical request in flight; a miss: computed and stored), with the time it took (a miss's
 * includes its insertion); with answered, also the answer it was given outside a batch (a hit
 * or a follower). hit < 0: the answer alone. One lock per request. */
static void count_cached(scheduler *s, const infer_request *req, int hit, int64_t took,
                         int answered)
{
    sched_model_state *ms = &s->models[req->model];
    uint64_t ns = took > 0 ? (uint64_t)took : 0;
    int64_t answer_ns = answered ? clock_now_ns() - req->enqueue_ns : 0;
    pthread_mutex_lock(&ms->mu);
    if (hit > 0) {
        ms->counters.cache_hits++;
        ms->counters.cache_hit_ns += ns;
    } else if (hit == 0) {
        ms->counters.cache_misses++;
        ms->counters.cache_miss_ns += ns;
    }
    if (answered) sched_count_answer(&ms->counters, req->status, answer_ns);
    pthread_mutex_unlock(&ms->mu);
}

/* A follower leaves the pending count (drain waits for it to reach zero). */
static void pending_done(scheduler *s)
{
    if (atomic_fetch_sub(&s->pending, 1) == 1 && atomic_load(&s->draining))
        pthread_cond_broadcast(&s->idle_cv);
}

typedef struct hit_copy {
    scheduler *s;
    infer_request *req;
} hit_copy;

/* resp_cache_copy_fn: the stored tensors into one fresh arena range, which the request's
 * sched_release frees like a batch's output area. */
static int copy_hit(void *arg, uint32_t n, const shm_tensor *outs, const uint8_t *data)
{
    hit_copy *h = arg;
    sched_model_state *ms = &h->s->models[h->req->model];
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t sz = outs[i].nbytes;
        if (sz > UINT64_MAX - total - CACHE_ALIGN) return -1;
        total += (sz + CACHE_ALIGN - 1) / CACHE_ALIGN * CACHE_ALIGN;
    }
    sched_out_area *area = malloc(sizeof *area);
    uint64_t off;
    if (!area) return -1;
    if (shm_arena_alloc(ms->arena, total ? total : CACHE_ALIGN, &off) != 0) {
        free(area);
        return -1;
    }
    uint8_t *base = shm_arena_ptr(ms->region, off);
    uint64_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        h->req->outputs[i] = outs[i];
        h->req->outputs[i].offset = off + pos;
        if (outs[i].nbytes) memcpy(base + pos, data + outs[i].offset, (size_t)outs[i].nbytes);
        pos += (outs[i].nbytes + CACHE_ALIGN - 1) / CACHE_ALIGN * CACHE_ALIGN;
    }
    h->req->n_outputs = n;
    area->offset = off;
    atomic_init(&area->refs, 1);
    h->req->sched_out = area;
    return 0;
}

int sched_cache_submit(scheduler *s, infer_request *req)
{
    sched_model_state *ms = &s->models[req->model];
    resp_cache *c = s->opts.cache;
    if (!c || !ms->cfg.response_cache) return 0;
    const char *names[MODEL_MAX_IO];
    const uint8_t *data[MODEL_MAX_IO];
    for (uint32_t i = 0; i < req->n_inputs && i < MODEL_MAX_IO; i++) {
        const shm_tensor *t = &req->inputs[i];
        if (t->nbytes && !shm_arena_range_ok(ms->region, t->offset, t->nbytes)) return 0;
        names[i] = ms->cfg.inputs[i].name;
        data[i] = t->nbytes ? shm_arena_ptr(ms->region, t->offset) : NULL;
    }
    resp_cache_key key;
    if (resp_cache_key_build(c, s->instance, ms->cfg.name, ms->cfg.version, req,
                             (uint32_t)ms->cfg.n_outputs, names, data, &key) != 0)
        return 0;
    req->id = atomic_fetch_add(&s->next_id, 1);
    req->enqueue_ns = clock_now_ns();
    req->status = 0;
    req->error[0] = '\0';
    /* counted before the entry can see it, so that its leader's answer cannot come first */
    atomic_fetch_add(&s->pending, 1);
    hit_copy hc = {s, req};
    void *entry = NULL;
    req->cache_lookup_ns = 0;
    int r = resp_cache_begin(c, &key, req, copy_hit, &hc, &entry);
    /* a follower's and a leader's lookups are counted when they are answered */
    if (r == RESP_CACHE_FOLLOW || r == RESP_CACHE_LEAD)
        req->cache_lookup_ns = clock_now_ns() - req->enqueue_ns;
    if (r == RESP_CACHE_FOLLOW) return 1; /* answered with its leader */
    pending_done(s);
    if (r == RESP_CACHE_LEAD) req->cache_entry = entry;
    if (r != RESP_CACHE_HIT) return 0;
    count_cached(s, req, 1, clock_now_ns() - req->enqueue_ns, 1);
    req->done(req);
    return 1;
}

/* A follower of a leader that failed on its own account (its client left, its deadline
 * passed): submitted again, as if it had just come. */
static void resubmit(scheduler *s, infer_request *f)
{
    /* its first lookup (a hit on the failed leader) is not counted: the new one is */
    if (sched_submit(s, f) != 0) {
        count_cached(s, f, -1, 0, 1);
        f->done(f);
    }
}

void sched_cache_finish(scheduler *s, infer_request *req)
{
    sched_model_state *ms = &s->models[req->model];
    void *entry = req->cache_entry;
    req->cache_entry = NULL;
    const uint8_t *data[MODEL_MAX_IO];
    int ok = req->status == 0;
    uint32_t n = ok && req->n_outputs <= MODEL_MAX_IO ? req->n_outputs : 0;
    for (uint32_t i = 0; i < n; i++) data[i] = shm_arena_ptr(ms->region, req->outputs[i].offset);
    int64_t t0 = clock_now_ns();
    infer_request *f = resp_cache_finish(s->opts.cache, entry, ok, n, req->outputs, data);
    /* the leader's miss: its lookup and, when it stored, its insertion */
    count_cached(s, req, 0, req->cache_lookup_ns + (ok ? clock_now_ns() - t0 : 0), 0);
    int retry = req->status == SCHED_STATUS_CANCELLED || req->status == 504;
    sched_out_area *area = req->sched_out;
    while (f) {
        infer_request *next = f->next;
        f->next = NULL;
        pending_done(s);
        if (ok) {
            f->status = 0;
            f->n_outputs = n;
            memcpy(f->outputs, req->outputs, sizeof(shm_tensor) * n);
            f->sched_out = area; /* the leader still holds its reference: done() comes after */
            if (area) atomic_fetch_add(&area->refs, 1);
        } else if (retry) {
            resubmit(s, f);
            f = next;
            continue;
        } else {
            f->status = req->status;
            f->retry_after_s = req->retry_after_s;
            f->n_outputs = 0;
            f->sched_out = NULL;
            memcpy(f->error, req->error, sizeof f->error);
        }
        count_cached(s, f, 1, f->cache_lookup_ns, 1);
        f->done(f);
        f = next;
    }
}

void sched_cache_check_config(const scheduler *s)
{
    for (int m = 0; m < s->n_models; m++)
        if (s->models[m].cfg.response_cache && !s->opts.cache)
            log_warn("model %s: response_cache is enabled but the node has no cache budget "
                     "(--cache-bytes): answers are not cached",
                     s->models[m].cfg.name);
}
