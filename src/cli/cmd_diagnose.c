/* inferctl diagnose: checks a node (or gateway) end to end (reachable, live, ready, every
 * model and its workers, repository errors, arena, the node process's limits, clocks) and
 * prints each finding with what to do about it. Exit 1 when something is wrong (a warning or
 * a critical finding), 0 when everything is OK or only informational. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_diag.h"
#include "cli_json.h"
#include "inferd/clock.h"

#define HEARTBEAT_WARN_NS 2000000000LL

static const cli_opt_spec specs[] = {
    {"source", "auto|shm|http", "where to read live state (default auto)"},
    {NULL, NULL, NULL},
};

/* GET path: 0 with the status, or -1 (unreachable) with err. */
static int get_status(const char *url, const char *path, int *status, char *err, size_t len)
{
    char *body;
    size_t blen;
    if (cli_fetch(url, "GET", path, NULL, status, &body, &blen, err, len) != 0) return -1;
    free(body);
    return 0;
}

/* Reachable and live: returns -1 when nothing more can be checked. */
static int check_health(diag *d, const char *url)
{
    char err[512];
    int status;
    int64_t t0 = clock_now_ns();
    if (get_status(url, "/v2/health/live", &status, err, sizeof err) != 0) {
        diag_finding(d, DIAG_CRIT,
                     "is inferd running, and listening on this address and port? (ss -ltnp; "
                     "systemctl status; a firewall between here and there?)",
                     "reachable: no answer from %s (%s)", url, err);
        return -1;
    }
    diag_finding(d, DIAG_OK, NULL, "reachable: %s answered in %.1f ms", url,
                 (double)(clock_now_ns() - t0) / 1e6);
    if (status == 200) diag_finding(d, DIAG_OK, NULL, "live: /v2/health/live 200");
    else
        diag_finding(d, DIAG_CRIT,
                     "a scheduler thread made no progress for --live-stale-ms: take a stack "
                     "(gdb -p PID -batch -ex 'thread apply all bt') and restart the node",
                     "live: /v2/health/live answered %d", status);
    json_t *meta = cli_json_get(url, "GET", "/v2", NULL, err, sizeof err);
    if (meta) {
        diag_finding(d, DIAG_OK, NULL, "server: %s %s", cli_json_str(meta, "name", "?"),
                     cli_json_str(meta, "version", "?"));
        json_decref(meta);
    }
    if (get_status(url, "/v2/health/ready", &status, err, sizeof err) == 0 && status == 200)
        diag_finding(d, DIAG_OK, NULL, "ready: /v2/health/ready 200");
    else
        diag_finding(d, DIAG_CRIT,
                     "no model can serve yet: see the model findings below and the node log",
                     "ready: /v2/health/ready answered %d", status);
    return 0;
}

/* Models of the repository that are not loaded, with the node's reason. */
static void check_repository(diag *d, const char *url)
{
    char err[512];
    json_t *idx = cli_json_get(url, "POST", "/v2/repository/index", "{}", err, sizeof err);
    if (!json_is_array(idx)) {
        json_decref(idx);
        return; /* a gateway, or an older node: nothing to say */
    }
    size_t i;
    json_t *e;
    json_array_foreach(idx, i, e)
    {
        const char *state = cli_json_str(e, "state", "");
        if (strcmp(state, "READY") == 0) continue;
        const char *name = cli_json_str(e, "name", "?");
        char todo[512];
        snprintf(todo, sizeof todo,
                 "fix %s/config.json as the reason says; it loads at the next poll or with "
                 "POST /v2/repository/models/%s/load",
                 name, name);
        diag_finding(d, DIAG_WARN, todo, "repository: model %s is %s: %s", name, state,
                     cli_json_str(e, "reason", ""));
    }
    json_decref(idx);
}

static void check_model(diag *d, const live_stats_model *m, int from_shm)
{
    char todo[512];
    int bad = 0;
    uint64_t done = m->requests_ok + m->requests_failed;
    if (m->restart_backoff_ms > 0) {
        snprintf(todo, sizeof todo,
                 "the node log's 'worker exited model=%s' lines give each signal or exit status; "
                 "run inferd-worker's backend by hand on the model, fix the model or its config",
                 m->name);
        diag_finding(d, DIAG_CRIT, todo,
                     "model %s: its workers keep crashing (restart backoff %lld ms, %llu spawns, "
                     "%lld live)",
                     m->name, (long long)m->restart_backoff_ms,
                     (unsigned long long)m->worker_spawns, (long long)m->workers_live);
        bad = 1;
    } else if (!m->ready && m->workers_min > 0) {
        diag_finding(d, DIAG_CRIT, "read the node log for this model's worker lines",
                     "model %s: no live worker (%lld starting)", m->name,
                     (long long)m->workers_starting);
        bad = 1;
    }
    if (m->batches_retried > 0) {
        diag_finding(d, DIAG_WARN,
                     "workers died while holding batches: look for 'worker exited' in the log",
                     "model %s: %llu batches retried after their worker died", m->name,
                     (unsigned long long)m->batches_retried);
        bad = 1;
    }
    if (m->requests_failed > 0) {
        diag_finding(d, DIAG_WARN,
                     "failed requests are answered 500/503/504: the node log says why "
                     "(worker deaths, timeouts)",
                     "model %s: %llu of %llu requests failed (%.1f%%)", m->name,
                     (unsigned long long)m->requests_failed, (unsigned long long)done,
                     100.0 * (double)m->requests_failed / (double)done);
        bad = 1;
    }
    if (m->requests_rejected > 0)
        diag_finding(d, DIAG_INFO,
                     "rejections are 400 (bad input) or 429/503 (overload): raise workers.max "
                     "or the queue bound if they are overload",
                     "model %s: %llu requests rejected", m->name,
                     (unsigned long long)m->requests_rejected);
    if (from_shm && m->arena_size > 0 && m->arena_used * 10 > m->arena_size * 9) {
        diag_finding(
            d, DIAG_WARN, "give the model more arena: arena_mb in its config or --arena-mb",
            "model %s: arena %.0f%% used (%llu of %llu MiB)", m->name,
            100.0 * (double)m->arena_used / (double)m->arena_size,
            (unsigned long long)(m->arena_used >> 20), (unsigned long long)(m->arena_size >> 20));
        bad = 1;
    }
    if (m->workers_max == 1)
        diag_finding(d, DIAG_INFO,
                     "set workers.max to 2 or more so one crash does not stop the model",
                     "model %s: a single worker", m->name);
    if (!bad) {
        char arena[64] = "";
        if (from_shm && m->arena_size)
            snprintf(arena, sizeof arena, ", arena %.0f%% used",
                     100.0 * (double)m->arena_used / (double)m->arena_size);
        diag_finding(d, DIAG_OK, NULL,
                     "model %s v%lld: %lld live workers (min %lld, max %lld), %llu requests, "
                     "none failed%s",
                     m->name, (long long)m->version, (long long)m->workers_live,
                     (long long)m->workers_min, (long long)m->workers_max, (unsigned long long)done,
                     arena);
    }
}

static void check_workers(diag *d, const cli_live_snapshot *s)
{
    int quiet = 0;
    for (int i = 0; i < s->n_workers; i++) {
        const live_stats_worker *w = &s->workers[i];
        const char *model =
            w->model >= 0 && w->model < s->n_models ? s->models[w->model].name : "?";
        int live = w->state == LIVE_WORKER_IDLE || w->state == LIVE_WORKER_BUSY;
        if (live && w->heartbeat_age_ns > HEARTBEAT_WARN_NS) {
            diag_finding(d, DIAG_WARN,
                         "it is hung or starved of CPU: the node kills a worker that stays "
                         "silent; check the host's load",
                         "worker pid %lld of model %s: no heartbeat for %lld ms", (long long)w->pid,
                         model, (long long)(w->heartbeat_age_ns / 1000000));
            quiet++;
        } else if (live && !cli_pid_alive(w->pid)) {
            diag_finding(d, DIAG_WARN, "the node reaps it within a supervisor tick; look again",
                         "worker pid %lld of model %s: the process is gone", (long long)w->pid,
                         model);
            quiet++;
        }
    }
    if (!quiet)
        diag_finding(d, DIAG_OK, NULL, "workers: %d processes, every live one heartbeating",
                     s->n_workers);
}

int cmd_diagnose(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(
        argc, argv, "[--source auto|shm|http]",
        "Checks a node (or gateway) end to end: reachable, live, ready, repository errors, "
        "each model's workers and restarts, failures, arena usage; on this host also the "
        "node's open files and memory, its live stats region and the clocks. Each finding "
        "says what to do. Exit status 1 when a finding is WARN or CRIT.",
        specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    cli_live_source want = CLI_LIVE_AUTO;
    const char *v = cli_args_value(&a, "source");
    if ((v && cli_live_source_parse(v, &want) != 0) || a.npos) {
        fprintf(stderr, "inferctl diagnose: bad arguments (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    diag d = {{0}};
    printf("inferctl diagnose %s\n", a.url);
    cli_live_snapshot *snap = NULL;
    if (check_health(&d, a.url) == 0) {
        check_repository(&d, a.url);
        char err[512];
        cli_live l;
        snap = calloc(1, sizeof *snap);
        if (!snap) {
            fprintf(stderr, "inferctl diagnose: out of memory\n");
            return CLI_EXIT_FAIL;
        }
        if (cli_live_open(a.url, want, &l, err, sizeof err) != 0 ||
            cli_live_read(&l, snap, err, sizeof err) != 0) {
            diag_finding(&d, want == CLI_LIVE_SHM ? DIAG_CRIT : DIAG_INFO,
                         "a gateway has no model statistics; for a node, check the URL",
                         "models: %s", err);
            free(snap);
            snap = NULL;
        } else {
            int shm = l.source == CLI_LIVE_SHM;
            if (!shm)
                diag_finding(&d, DIAG_INFO,
                             "run diagnose on the node's host for worker, arena and process "
                             "checks",
                             "live stats: no region for this port here; using HTTP stats");
            if (snap->n_models == 0)
                diag_finding(&d, DIAG_WARN, "load a model (see the repository findings)",
                             "models: none loaded");
            for (int i = 0; i < snap->n_models; i++) check_model(&d, &snap->models[i], shm);
            if (shm) {
                check_workers(&d, snap);
                diag_check_process(&d, snap->header.node_pid);
            }
            diag_check_clock(&d, shm ? snap : NULL);
            cli_live_close(&l);
        }
    }
    free(snap);
    printf("\n%d ok, %d info, %d warnings, %d critical\n", d.counts[DIAG_OK], d.counts[DIAG_INFO],
           d.counts[DIAG_WARN], d.counts[DIAG_CRIT]);
    return d.counts[DIAG_WARN] || d.counts[DIAG_CRIT] ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
