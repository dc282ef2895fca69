/* GET /metrics: the node's Prometheus exposition (text format 0.0.4, docs/metrics.md): per
 * model (labels model, version) requests by outcome, inference and execution counts, the
 * scheduler's histograms, queue, in-flight work, workers and the arena; the node-wide
 * response cache; the front ends' connections; the process_* families. One family at a time over every model, so that each
 * family is one group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/grpc_server.h"
#include "inferd/prom.h"
#include "inferd/prom_process.h"
#include "inferd/resp_cache.h"
#include "req_trace.h"
#include "routes.h"

typedef struct model_snap {
    char version[16];
    const model_config *cfg;
    sched_stats st;
    uint64_t arena_used, arena_size;
} model_snap;

static void model_labels(const model_snap *m, prom_label *l)
{
    l[0] = (prom_label){"model", m->cfg->name};
    l[1] = (prom_label){"version", m->version};
}

typedef double (*snap_value)(const model_snap *m);

static void per_model(prom_writer *w, const char *name, prom_type type, const char *help,
                      const model_snap *ms, int n, snap_value value)
{
    prom_family(w, name, type, help);
    for (int i = 0; i < n; i++) {
        prom_label l[2];
        model_labels(&ms[i], l);
        prom_sample(w, l, 2, value(&ms[i]));
    }
}

#define SNAP_FN(fname, expr)                 \
    static double fname(const model_snap *m) \
    {                                        \
        return (double)(expr);               \
    }
SNAP_FN(v_inferences, m->st.counters.batch_rows)
SNAP_FN(v_executions, m->st.counters.batches)
SNAP_FN(v_retried, m->st.counters.batches_retried)
SNAP_FN(v_queue_len, m->st.queue_len)
SNAP_FN(v_requests_in_flight, m->st.requests_in_flight)
SNAP_FN(v_queue_rows, m->st.queue_rows)
SNAP_FN(v_batches_in_flight, m->st.batches_in_flight)
SNAP_FN(v_rows_in_flight, m->st.rows_in_flight)
SNAP_FN(v_spawns, m->st.worker_spawns)
SNAP_FN(v_restarts, m->st.worker_restarts)
SNAP_FN(v_backoff, (double)m->st.restart_backoff_ms / 1e3)
SNAP_FN(v_arena_used, m->arena_used)
SNAP_FN(v_arena_free, m->arena_size > m->arena_used ? m->arena_size - m->arena_used : 0)

static void put_outcomes(prom_writer *w, const model_snap *ms, int n)
{
    prom_family(w, "inferd_requests_total", PROM_COUNTER,
                "Requests by how they ended (success, bad_request, rejected_429, rejected_503, "
                "timeout, cancelled, worker_failure).");
    for (int i = 0; i < n; i++)
        for (int o = 0; o < SCHED_OUTCOME_N; o++) {
            prom_label l[3];
            model_labels(&ms[i], l);
            l[2] = (prom_label){"outcome", sched_outcome_name(o)};
            prom_sample(w, l, 3, (double)ms[i].st.counters.outcomes[o]);
        }
}

static void put_workers(prom_writer *w, const model_snap *ms, int n)
{
    prom_family(w, "inferd_workers", PROM_GAUGE,
                "Worker processes by state (restarting: died, replacement not live yet).");
    static const char *const states[] = {"live", "starting", "stopping", "restarting"};
    for (int i = 0; i < n; i++) {
        const sched_stats *st = &ms[i].st;
        int v[] = {st->workers_live, st->workers_starting, st->workers_stopping,
                   st->workers_restarting};
        for (int k = 0; k < 4; k++) {
            prom_label l[3];
            model_labels(&ms[i], l);
            l[2] = (prom_label){"state", states[k]};
            prom_sample(w, l, 3, (double)v[k]);
        }
    }
}

static void put_histogram(prom_writer *w, const char *name, const char *help, int kind,
                          double scale, const model_snap *ms, int n)
{
    const int64_t *b;
    int nb = sched_hist_bounds(kind, &b);
    double bounds[SCHED_HIST_MAX_BOUNDS];
    for (int i = 0; i < nb; i++) bounds[i] = (double)b[i] * scale;
    prom_family(w, name, PROM_HISTOGRAM, help);
    for (int i = 0; i < n; i++) {
        const sched_hist *h = &ms[i].st.counters.hist[kind];
        prom_label l[2];
        model_labels(&ms[i], l);
        prom_histogram(w, l, 2, bounds, h->counts, nb, (double)h->sum * scale);
    }
}

/* The node-wide response cache (all zero when it is off, --cache-bytes 0). */
static void put_cache(prom_writer *w, resp_cache *cache)
{
    resp_cache_stats cs;
    resp_cache_get_stats(cache, &cs);
    static const struct {
        const char *name;
        prom_type type;
        const char *help;
    } fams[] = {
        {"inferd_cache_hits_total", PROM_COUNTER, "Requests answered from the response cache."},
        {"inferd_cache_misses_total", PROM_COUNTER,
         "Requests of cached models that were computed."},
        {"inferd_cache_coalesced_total", PROM_COUNTER,
         "Requests that waited for an identical request in flight (single flight)."},
        {"inferd_cache_inserts_total", PROM_COUNTER, "Responses stored in the cache."},
        {"inferd_cache_evictions_total", PROM_COUNTER,
         "Entries dropped to stay within the byte budget."},
        {"inferd_cache_bytes", PROM_GAUGE, "Bytes the cache's entries hold now."},
        {"inferd_cache_entries", PROM_GAUGE, "Entries in the cache now."},
        {"inferd_cache_budget_bytes", PROM_GAUGE, "The cache's byte budget (--cache-bytes)."},
    };
    const uint64_t v[] = {cs.hits,      cs.misses, cs.coalesced, cs.inserts,
                          cs.evictions, cs.bytes,  cs.entries,   cs.budget_bytes};
    _Static_assert(sizeof(v) / sizeof(v[0]) == sizeof(fams) / sizeof(fams[0]), "one value each");
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        prom_family(w, fams[i].name, fams[i].type, fams[i].help);
        prom_sample(w, NULL, 0, (double)v[i]);
    }
}

/* The node-wide per-stage request trace (req_trace.h), one series per stage. */
static void put_stages(prom_writer *w, req_trace *trace)
{
    if (!trace) return;
    sched_hist h[REQ_STAGE_N];
    req_trace_snapshot(trace, h);
    const int64_t *b;
    int nb = sched_hist_bounds(SCHED_HIST_STAGE, &b);
    double bounds[SCHED_HIST_MAX_BOUNDS];
    for (int i = 0; i < nb; i++) bounds[i] = (double)b[i] * 1e-9;
    prom_family(w, "inferd_request_stage_duration_seconds", PROM_HISTOGRAM,
                "Time HTTP infer requests computed by a worker spent in each stage, from the "
                "first byte read (decode, queue, wake, run, complete, deliver, write) and in "
                "all (total).");
    for (int s = 0; s < REQ_STAGE_N; s++) {
        prom_label l = {"stage", req_trace_stage_name(s)};
        prom_histogram(w, &l, 1, bounds, h[s].counts, nb, (double)h[s].sum * 1e-9);
    }
}

static void put_connections(prom_writer *w, routes_ctx *ctx)
{
    int open[2] = {0, 0};
    uint64_t accepted[2] = {0, 0};
    http_server *hs = atomic_load(&ctx->http);
    grpc_server *gs = atomic_load(&ctx->grpc);
    if (hs) http_server_connections(hs, &open[0], &accepted[0]);
    if (gs) grpc_server_connections(gs, &open[1], &accepted[1]);
    prom_family(w, "inferd_connections", PROM_GAUGE, "Client connections open now.");
    prom_sample(w, &(prom_label){"protocol", "http"}, 1, open[0]);
    prom_sample(w, &(prom_label){"protocol", "grpc"}, 1, open[1]);
    prom_family(w, "inferd_connections_accepted_total", PROM_COUNTER,
                "Client connections accepted since start.");
    prom_sample(w, &(prom_label){"protocol", "http"}, 1, (double)accepted[0]);
    prom_sample(w, &(prom_label){"protocol", "grpc"}, 1, (double)accepted[1]);
}

void routes_metrics(http_exchange *ex, routes_ctx *ctx)
{
    repo_model *rm[REPO_MAX_MODELS];
    int n = repository_list(ctx->repo, rm, REPO_MAX_MODELS);
    model_snap *ms = calloc(n > 0 ? (size_t)n : 1, sizeof(*ms));
    if (!ms) {
        for (int i = 0; i < n; i++) repository_release(rm[i]);
        http_ex_error(ex, 500, "", "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        ms[i].cfg = repo_model_config(rm[i]);
        snprintf(ms[i].version, sizeof(ms[i].version), "%d",
                 ms[i].cfg->version > 0 ? ms[i].cfg->version : 1);
        sched_model_stats(repo_model_sched(rm[i]), 0, &ms[i].st);
        ms[i].arena_used = shm_arena_used(repo_model_arena(rm[i]));
        ms[i].arena_size = repo_model_region(rm[i])->arena_size;
    }
    prom_writer w;
    prom_init(&w);
    put_outcomes(&w, ms, n);
    per_model(&w, "inferd_inferences_total", PROM_COUNTER,
              "Inferences computed (batch rows of completed executions).", ms, n, v_inferences);
    per_model(&w, "inferd_executions_total", PROM_COUNTER, "Batches a worker completed.", ms, n,
              v_executions);
    per_model(&w, "inferd_batches_retried_total", PROM_COUNTER,
              "Batches resubmitted after their worker died.", ms, n, v_retried);
    put_histogram(&w, "inferd_request_duration_seconds",
                  "Time from submit to answer of successful requests.", SCHED_HIST_REQUEST, 1e-9,
                  ms, n);
    put_histogram(&w, "inferd_queue_duration_seconds",
                  "Time requests waited in the node's queue before their batch was dispatched.",
                  SCHED_HIST_QUEUE, 1e-9, ms, n);
    put_histogram(&w, "inferd_compute_duration_seconds",
                  "Time from dispatch to completion of each batch.", SCHED_HIST_COMPUTE, 1e-9, ms,
                  n);
    put_histogram(&w, "inferd_batch_size_rows", "Rows in each completed batch.",
                  SCHED_HIST_BATCH_ROWS, 1.0, ms, n);
    per_model(&w, "inferd_queue_depth", PROM_GAUGE, "Requests waiting in the node's queue.", ms, n,
              v_queue_len);
    per_model(&w, "inferd_queue_rows", PROM_GAUGE, "Batch rows waiting in the node's queue.", ms, n,
              v_queue_rows);
    per_model(&w, "inferd_requests_in_flight", PROM_GAUGE,
              "Requests accepted and not answered yet (queued or in a batch).", ms, n,
              v_requests_in_flight);
    per_model(&w, "inferd_in_flight_batches", PROM_GAUGE,
              "Batches in the submission ring or held by workers.", ms, n, v_batches_in_flight);
    per_model(&w, "inferd_in_flight_rows", PROM_GAUGE, "Rows of the batches in flight.", ms, n,
              v_rows_in_flight);
    put_workers(&w, ms, n);
    per_model(&w, "inferd_worker_spawns_total", PROM_COUNTER, "Worker processes started.", ms, n,
              v_spawns);
    per_model(&w, "inferd_worker_restarts_total", PROM_COUNTER,
              "Workers that died unexpectedly (each is replaced).", ms, n, v_restarts);
    per_model(&w, "inferd_worker_restart_backoff_seconds", PROM_GAUGE,
              "Current delay before a crashed worker is replaced (0: none).", ms, n, v_backoff);
    per_model(&w, "inferd_arena_used_bytes", PROM_GAUGE,
              "Bytes allocated in the model's shared-memory tensor arena.", ms, n, v_arena_used);
    per_model(&w, "inferd_arena_free_bytes", PROM_GAUGE,
              "Bytes free in the model's shared-memory tensor arena.", ms, n, v_arena_free);
    for (int i = 0; i < n; i++) repository_release(rm[i]);
    free(ms);
    put_cache(&w, ctx->cache);
    put_stages(&w, ctx->trace);
    put_connections(&w, ctx);
    prom_process_metrics(&w);
    size_t len;
    char *body = prom_take(&w, &len);
    if (!body) {
        http_ex_error(ex, 500, "", "out of memory");
        return;
    }
    http_ex_respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, "");
}
