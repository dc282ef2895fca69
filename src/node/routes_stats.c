/* GET /v2/models/stats and GET /v2/models/{m}/stats: per-model counters in the shape of
 * Triton's statistics extension (inference_count, execution_count, inference_stats with
 * count/ns pairs), plus an "inferd" object with the live state of the model's queue and
 * worker pool, its outcomes, latency percentiles and a row per worker (the dashboard's data),
 * and the node-wide response cache's figures ("cache"). */
#include <stdio.h>
#include <string.h>

#include "inferd/http_buf.h"
#include "inferd/resp_cache.h"
#include "req_trace.h"
#include "routes.h"

/* Worker rows listed per model: beyond any pool a node runs (max_workers is 64 by default). */
#define STATS_MAX_WORKERS 256

static void put_pair(http_buf *b, const char *name, uint64_t count, uint64_t ns, int comma)
{
    http_buf_printf(b, "%s\"%s\": {\"count\": %llu, \"ns\": %llu}", comma ? ", " : "", name,
                    (unsigned long long)count, (unsigned long long)ns);
}

/* The node-wide response cache's figures, and whether this model uses it. */
static void put_cache(http_buf *b, resp_cache *cache, const model_config *cfg)
{
    resp_cache_stats cs;
    resp_cache_get_stats(cache, &cs);
    http_buf_printf(b,
                    ", \"cache\": {\"enabled\": %s, \"hits\": %llu, \"misses\": %llu, "
                    "\"coalesced\": %llu, \"inserts\": %llu, \"evictions\": %llu, "
                    "\"bytes\": %llu, \"entries\": %llu, \"budget_bytes\": %llu}",
                    cache && cfg->response_cache ? "true" : "false", (unsigned long long)cs.hits,
                    (unsigned long long)cs.misses, (unsigned long long)cs.coalesced,
                    (unsigned long long)cs.inserts, (unsigned long long)cs.evictions,
                    (unsigned long long)cs.bytes, (unsigned long long)cs.entries,
                    (unsigned long long)cs.budget_bytes);
}

static void put_model(http_buf *b, repo_model *m, resp_cache *cache)
{
    const model_config *cfg = repo_model_config(m);
    sched_stats st;
    sched_model_stats(repo_model_sched(m), 0, &st);
    const sched_counters *c = &st.counters;
    http_buf_puts(b, "{\"name\": ");
    http_buf_json_string(b, cfg->name, strlen(cfg->name));
    http_buf_printf(b, ", \"version\": \"%d\"", cfg->version > 0 ? cfg->version : 1);
    http_buf_printf(b,
                    ", \"last_inference\": %llu, \"inference_count\": %llu, "
                    "\"execution_count\": %llu",
                    (unsigned long long)c->last_inference_ms, (unsigned long long)c->batch_rows,
                    (unsigned long long)c->batches);
    /* compute_infer is the whole dispatch-to-completion time of a batch: workers read inputs
     * and write outputs in place in shared memory, so input and output preparation are not
     * timed apart (their count is the batch count, their time 0). */
    http_buf_puts(b, ", \"inference_stats\": {");
    put_pair(b, "success", c->requests_ok, c->ok_ns, 0);
    put_pair(b, "fail", c->requests_failed, c->failed_ns, 1);
    put_pair(b, "queue", c->queue_count, c->queue_ns, 1);
    put_pair(b, "compute_input", c->batches, 0, 1);
    put_pair(b, "compute_infer", c->batches, c->compute_ns, 1);
    put_pair(b, "compute_output", c->batches, 0, 1);
    put_pair(b, "cache_hit", c->cache_hits, c->cache_hit_ns, 1);
    put_pair(b, "cache_miss", c->cache_misses, c->cache_miss_ns, 1);
    http_buf_puts(b, "}");
    double avg_batch = c->batches ? (double)c->batch_rows / (double)c->batches : 0.0;
    http_buf_printf(
        b,
        ", \"inferd\": {\"rejected\": %llu, \"cancelled\": %llu, "
        "\"batches_retried\": %llu, \"avg_batch_rows\": %.3f, "
        "\"queue_len\": %d, \"queue_rows\": %lld, \"batches_in_flight\": %d, "
        "\"rows_in_flight\": %lld, \"rows_per_s\": %.1f, "
        "\"workers\": {\"live\": %d, \"starting\": %d, \"stopping\": %d, \"restarting\": %d, "
        "\"min\": %d, \"max\": %d, \"spawns\": %llu, \"restarts\": %llu, "
        "\"restart_backoff_ms\": %lld, \"list\": [",
        (unsigned long long)c->requests_rejected, (unsigned long long)c->requests_cancelled,
        (unsigned long long)c->batches_retried, avg_batch, st.queue_len, (long long)st.queue_rows,
        st.batches_in_flight, (long long)st.rows_in_flight, st.rows_per_s, st.workers_live,
        st.workers_starting, st.workers_stopping, st.workers_restarting, cfg->workers_min,
        cfg->workers_max, (unsigned long long)st.worker_spawns,
        (unsigned long long)st.worker_restarts, (long long)st.restart_backoff_ms);
    sched_worker_info wi[STATS_MAX_WORKERS];
    int nw = sched_worker_infos(repo_model_sched(m), 0, wi, STATS_MAX_WORKERS);
    for (int i = 0; i < nw; i++)
        http_buf_printf(b,
                        "%s{\"pid\": %d, \"state\": \"%s\", \"restarts\": %u, "
                        "\"batches_in_hand\": %u}",
                        i ? ", " : "", wi[i].pid, wi[i].state_name, wi[i].restarts, wi[i].in_hand);
    http_buf_puts(b, "]}, \"outcomes\": {");
    for (int o = 0; o < SCHED_OUTCOME_N; o++)
        http_buf_printf(b, "%s\"%s\": %llu", o ? ", " : "", sched_outcome_name(o),
                        (unsigned long long)c->outcomes[o]);
    http_buf_puts(b, "}, \"latency_us\": {");
    static const double qs[] = {0.5, 0.9, 0.99};
    static const char *const qn[] = {"p50", "p90", "p99"};
    for (int i = 0; i < 3; i++)
        http_buf_printf(
            b, "%s\"%s\": %.1f", i ? ", " : "", qn[i],
            sched_hist_quantile(&c->hist[SCHED_HIST_REQUEST], SCHED_HIST_REQUEST, qs[i]) / 1e3);
    /* the histogram itself, so a poller (the dashboard) takes percentiles of the last interval
     * from the difference of two polls */
    const int64_t *bounds;
    int nb = sched_hist_bounds(SCHED_HIST_REQUEST, &bounds);
    const sched_hist *h = &c->hist[SCHED_HIST_REQUEST];
    http_buf_puts(b, "}, \"latency_hist_us\": {\"le\": [");
    for (int i = 0; i < nb; i++)
        http_buf_printf(b, "%s%.3f", i ? ", " : "", (double)bounds[i] / 1e3);
    http_buf_puts(b, "], \"counts\": [");
    for (int i = 0; i <= nb; i++)
        http_buf_printf(b, "%s%llu", i ? ", " : "", (unsigned long long)h->counts[i]);
    http_buf_puts(b, "]}");
    put_cache(b, cache, cfg);
    http_buf_puts(b, "}}");
}

/* The node-wide per-stage request trace: per stage its count, mean and percentiles in us. */
static void put_stages(http_buf *b, req_trace *trace)
{
    if (!trace) return;
    sched_hist h[REQ_STAGE_N];
    req_trace_snapshot(trace, h);
    http_buf_puts(b, ", \"request_stages_us\": {");
    for (int s = 0; s < REQ_STAGE_N; s++) {
        const sched_hist *x = &h[s];
        http_buf_printf(b,
                        "%s\"%s\": {\"count\": %llu, \"mean\": %.1f, \"p50\": %.1f, \"p90\": "
                        "%.1f, \"p99\": %.1f}",
                        s ? ", " : "", req_trace_stage_name(s), (unsigned long long)x->count,
                        x->count ? (double)x->sum / (double)x->count / 1e3 : 0.0,
                        sched_hist_quantile(x, SCHED_HIST_STAGE, 0.5) / 1e3,
                        sched_hist_quantile(x, SCHED_HIST_STAGE, 0.9) / 1e3,
                        sched_hist_quantile(x, SCHED_HIST_STAGE, 0.99) / 1e3);
    }
    http_buf_puts(b, "}");
}

void routes_model_stats(http_exchange *ex, routes_ctx *ctx, repo_model *model)
{
    repo_model *ms[REPO_MAX_MODELS];
    int n = model ? 1 : repository_list(ctx->repo, ms, REPO_MAX_MODELS);
    if (model) ms[0] = model;
    http_buf b;
    http_buf_init(&b);
    http_buf_puts(&b, "{\"model_stats\": [");
    for (int i = 0; i < n; i++) {
        if (i) http_buf_puts(&b, ", ");
        put_model(&b, ms[i], ctx->cache);
        if (!model) repository_release(ms[i]);
    }
    http_buf_puts(&b, "]");
    put_stages(&b, ctx->trace);
    http_buf_puts(&b, "}");
    routes_send_buf(ex, 200, &b);
}
