/* cli_live: a node's models and workers from its live stats region or its HTTP stats. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_json.h"
#include "cli_live.h"
#include "inferd/client.h"

int cli_live_source_parse(const char *s, cli_live_source *out)
{
    if (strcmp(s, "auto") == 0) *out = CLI_LIVE_AUTO;
    else if (strcmp(s, "shm") == 0) *out = CLI_LIVE_SHM;
    else if (strcmp(s, "http") == 0) *out = CLI_LIVE_HTTP;
    else return -1;
    return 0;
}

int cli_pid_alive(int64_t pid)
{
    return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Opens the region of url's port and checks it belongs to a live node on that port. */
static int open_region(cli_live *l, const char *url, char *err, size_t err_len)
{
    char host[256];
    uint16_t port;
    if (inferd_client_parse_url(url, host, sizeof host, &port, err, err_len) != 0) return -1;
    if (live_stats_path(port, l->path, sizeof l->path) != 0) {
        snprintf(err, err_len, "live stats path too long");
        return -1;
    }
    if (live_stats_reader_open(l->path, &l->reader, err, err_len) != 0) return -1;
    if (l->reader.constant.http_port != port || !cli_pid_alive(l->reader.constant.node_pid)) {
        snprintf(err, err_len, "%s is stale (node pid %lld is gone)", l->path,
                 (long long)l->reader.constant.node_pid);
        live_stats_reader_close(&l->reader);
        return -1;
    }
    return 0;
}

int cli_live_open(const char *url, cli_live_source want, cli_live *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->url = url;
    out->source = CLI_LIVE_HTTP;
    if (want == CLI_LIVE_HTTP) return 0;
    char why[512];
    if (open_region(out, url, why, sizeof why) == 0) {
        out->source = CLI_LIVE_SHM;
        return 0;
    }
    if (want == CLI_LIVE_SHM) {
        snprintf(err, err_len, "no live stats region for %s: %s", url, why);
        return -1;
    }
    return 0;
}

static int read_shm(cli_live *l, cli_live_snapshot *out, char *err, size_t err_len)
{
    if (live_stats_read_header(&l->reader, &out->header) != 0) {
        snprintf(err, err_len, "%s: header kept busy", l->path);
        return -1;
    }
    uint64_t nm = out->header.models_used, nw = out->header.workers_used;
    out->n_models = nm > CLI_LIVE_MAX_MODELS ? CLI_LIVE_MAX_MODELS : (int)nm;
    out->n_workers = nw > CLI_LIVE_MAX_WORKERS ? CLI_LIVE_MAX_WORKERS : (int)nw;
    for (int i = 0; i < out->n_models; i++)
        if (live_stats_read_model(&l->reader, (uint32_t)i, &out->models[i]) != 0) {
            snprintf(err, err_len, "%s: model record %d kept busy", l->path, i);
            return -1;
        }
    for (int i = 0; i < out->n_workers; i++)
        if (live_stats_read_worker(&l->reader, (uint32_t)i, &out->workers[i]) != 0) {
            snprintf(err, err_len, "%s: worker record %d kept busy", l->path, i);
            return -1;
        }
    return 0;
}

static uint64_t num(json_t *m, const char *path)
{
    double v = cli_json_num(m, path);
    return v > 0 && v < 1.8e19 ? (uint64_t)v : 0;
}

/* One model of GET /v2/models/stats into a record (what the region would hold). */
static void model_from_json(json_t *m, live_stats_model *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", cli_json_str(m, "name", "?"));
    r->version = (int64_t)strtoll(cli_json_str(m, "version", "1"), NULL, 10);
    r->requests_ok = num(m, "inference_stats.success.count");
    r->ok_ns = num(m, "inference_stats.success.ns");
    r->requests_failed = num(m, "inference_stats.fail.count");
    r->failed_ns = num(m, "inference_stats.fail.ns");
    r->queue_count = num(m, "inference_stats.queue.count");
    r->queue_ns = num(m, "inference_stats.queue.ns");
    r->batches = num(m, "inference_stats.compute_infer.count");
    r->compute_ns = num(m, "inference_stats.compute_infer.ns");
    r->batch_rows = num(m, "inference_count");
    r->requests_rejected = num(m, "inferd.rejected");
    r->requests_cancelled = num(m, "inferd.cancelled");
    r->batches_retried = num(m, "inferd.batches_retried");
    r->queue_len = (int64_t)num(m, "inferd.queue_len");
    r->queue_rows = (int64_t)num(m, "inferd.queue_rows");
    r->batches_in_flight = (int64_t)num(m, "inferd.batches_in_flight");
    r->rows_in_flight = (int64_t)num(m, "inferd.rows_in_flight");
    r->rows_per_s_milli = (int64_t)(cli_json_num(m, "inferd.rows_per_s") * 1000.0);
    r->workers_live = (int64_t)num(m, "inferd.workers.live");
    r->workers_starting = (int64_t)num(m, "inferd.workers.starting");
    r->workers_stopping = (int64_t)num(m, "inferd.workers.stopping");
    r->workers_min = (int64_t)num(m, "inferd.workers.min");
    r->workers_max = (int64_t)num(m, "inferd.workers.max");
    r->worker_spawns = num(m, "inferd.workers.spawns");
    r->restart_backoff_ms = (int64_t)num(m, "inferd.workers.restart_backoff_ms");
    r->ready = r->workers_live > 0;
}

static int read_http(cli_live *l, cli_live_snapshot *out, char *err, size_t err_len)
{
    json_t *st = cli_json_get(l->url, "GET", "/v2/models/stats", NULL, err, err_len);
    if (!st) return -1;
    json_t *arr = json_object_get(st, "model_stats");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if (out->n_models == CLI_LIVE_MAX_MODELS) break;
        model_from_json(m, &out->models[out->n_models++]);
    }
    json_decref(st);
    out->header.models_used = (uint64_t)out->n_models;
    return 0;
}

int cli_live_read(cli_live *l, cli_live_snapshot *out, char *err, size_t err_len)
{
    memset(&out->header, 0, sizeof out->header);
    out->n_models = out->n_workers = 0;
    return l->source == CLI_LIVE_SHM ? read_shm(l, out, err, err_len)
                                     : read_http(l, out, err, err_len);
}

void cli_live_close(cli_live *l)
{
    if (l->source == CLI_LIVE_SHM) live_stats_reader_close(&l->reader);
    memset(l, 0, sizeof *l);
}
