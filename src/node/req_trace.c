/* The per-stage request trace: histograms sharded by recording thread (one writer per shard,
 * relaxed loads and stores, no lock prefix on the request path), summed when read; and the
 * rate-limited slow-request log. */
#include "req_trace.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "inferd/log.h"

#define US 1000LL

typedef struct shard_hist {
    _Atomic uint64_t counts[SCHED_HIST_MAX_BOUNDS + 1];
    _Atomic uint64_t sum_ns; /* the count is the buckets' sum (req_trace_snapshot) */
} shard_hist;

/* One recording thread's histograms, on cache lines of its own. */
typedef struct req_trace_shard {
    _Alignas(64) shard_hist hist[REQ_STAGE_N];
} req_trace_shard;

struct req_trace {
    int n_shards;
    int64_t slow_ns;
    req_trace_shard *shards;
};

req_trace *req_trace_create(int n_shards, int64_t slow_ns)
{
    if (n_shards < 1) n_shards = 1;
    req_trace *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->shards = aligned_alloc(64, (size_t)n_shards * sizeof(req_trace_shard));
    if (!t->shards) {
        free(t);
        return NULL;
    }
    for (int i = 0; i < n_shards; i++)
        for (int s = 0; s < REQ_STAGE_N; s++) {
            shard_hist *h = &t->shards[i].hist[s];
            for (int b = 0; b <= SCHED_HIST_MAX_BOUNDS; b++) atomic_init(&h->counts[b], 0);
            atomic_init(&h->sum_ns, 0);
        }
    t->n_shards = n_shards;
    t->slow_ns = slow_ns > 0 ? slow_ns : 0;
    return t;
}

void req_trace_destroy(req_trace *t)
{
    if (!t) return;
    free(t->shards);
    free(t);
}

/* Single writer: a plain read-modify-write that readers may see torn only between fields. */
static void bump(_Atomic uint64_t *x, uint64_t by)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

static void hist_add(shard_hist *h, int64_t v)
{
    const int64_t *bounds;
    int n = sched_hist_bounds(SCHED_HIST_STAGE, &bounds);
    int i = 0;
    while (i < n && v > bounds[i]) i++;
    bump(&h->counts[i], 1);
    bump(&h->sum_ns, (uint64_t)v);
}

int req_trace_logs_slow(const req_trace *t)
{
    return t && t->slow_ns > 0;
}

void req_trace_record(req_trace *t, int shard, const char *model, const int64_t stamps[INFER_TP_N])
{
    int64_t p[INFER_TP_N];
    for (int i = 0; i < INFER_TP_N; i++) {
        if (stamps[i] <= 0) return; /* not computed by a worker (refused, cached, failed) */
        p[i] = i > 0 && stamps[i] < p[i - 1] ? p[i - 1] : stamps[i];
    }
    int64_t d[REQ_STAGE_N];
    for (int s = 0; s < REQ_STAGE_TOTAL; s++) d[s] = p[s + 1] - p[s];
    d[REQ_STAGE_TOTAL] = p[INFER_TP_WRITTEN] - p[INFER_TP_ARRIVED];
    req_trace_shard *sh = &t->shards[(unsigned)shard % (unsigned)t->n_shards];
    for (int s = 0; s < REQ_STAGE_N; s++) hist_add(&sh->hist[s], d[s]);
    if (t->slow_ns && d[REQ_STAGE_TOTAL] > t->slow_ns)
        log_info_limited(
            "slow request model=%s total_us=%lld decode=%lld queue=%lld wake=%lld "
            "run=%lld complete=%lld deliver=%lld write=%lld",
            model ? model : "?", (long long)(d[REQ_STAGE_TOTAL] / US),
            (long long)(d[REQ_STAGE_DECODE] / US), (long long)(d[REQ_STAGE_QUEUE] / US),
            (long long)(d[REQ_STAGE_WAKE] / US), (long long)(d[REQ_STAGE_RUN] / US),
            (long long)(d[REQ_STAGE_COMPLETE] / US), (long long)(d[REQ_STAGE_DELIVER] / US),
            (long long)(d[REQ_STAGE_WRITE] / US));
}

void req_trace_snapshot(req_trace *t, sched_hist out[REQ_STAGE_N])
{
    for (int s = 0; s < REQ_STAGE_N; s++) {
        sched_hist *o = &out[s];
        *o = (sched_hist){0};
        for (int i = 0; i < t->n_shards; i++) {
            shard_hist *h = &t->shards[i].hist[s];
            for (int b = 0; b <= SCHED_HIST_MAX_BOUNDS; b++)
                o->counts[b] += atomic_load_explicit(&h->counts[b], memory_order_relaxed);
            o->sum += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
        }
        /* the count from the buckets, so that the +Inf bucket always equals it */
        for (int b = 0; b <= SCHED_HIST_MAX_BOUNDS; b++) o->count += o->counts[b];
    }
}

const char *req_trace_stage_name(int stage)
{
    static const char *const names[REQ_STAGE_N] = {
        "decode", "queue", "wake", "run", "complete", "deliver", "write", "total",
    };
    return stage >= 0 && stage < REQ_STAGE_N ? names[stage] : "unknown";
}
