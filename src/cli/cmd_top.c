/* inferctl top: a live terminal view of every model and worker of a node, redrawn every
 * --interval ms (ANSI on a terminal), read from the node's live stats region when it runs on
 * this host, else from its HTTP stats. --once prints one frame for scripts and tests. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_live.h"
#include "inferd/clock.h"

static const cli_opt_spec specs[] = {
    {"interval", "MS", "redraw period (default 1000, 100..60000)"},
    {"once", NULL, "print one frame and exit"},
    {"frames", "N", "print N frames and exit (default: until Ctrl-C)"},
    {"source", "auto|shm|http", "where to read (default auto: the shm region if on this host)"},
    {NULL, NULL, NULL},
};

static volatile sig_atomic_t top_stop;

static void on_stop(int sig)
{
    (void)sig;
    top_stop = 1;
}

static double per_s(uint64_t now, uint64_t before, double dt)
{
    return dt > 0 && now >= before ? (double)(now - before) / dt : 0;
}

/* Mean in microseconds of ns over count, over the interval when prev is given. */
static double mean_us(uint64_t ns, uint64_t count, uint64_t ns0, uint64_t count0)
{
    if (count > count0 && ns >= ns0) return (double)(ns - ns0) / (double)(count - count0) / 1e3;
    return 0;
}

static const live_stats_model *find_prev(const cli_live_snapshot *prev, const char *name,
                                         int64_t version)
{
    for (int i = 0; prev && i < prev->n_models; i++)
        if (strcmp(prev->models[i].name, name) == 0 && prev->models[i].version == version)
            return &prev->models[i];
    return NULL;
}

static void render(FILE *f, const cli_live *l, const cli_live_snapshot *cur,
                   const cli_live_snapshot *prev, double dt)
{
    static const live_stats_model zero;
    time_t now = time(NULL);
    char when[32];
    strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
    fprintf(f, "inferctl top  %s  %s  source=%s", l->url, when,
            l->source == CLI_LIVE_SHM ? "shm" : "http");
    if (l->source == CLI_LIVE_SHM) {
        const live_stats_header *h = &cur->header;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double up = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)h->start_unix_ns) / 1e9;
        fprintf(f, "  pid=%lld  up=%.0fs  state=%s  publishes=%llu", (long long)h->node_pid, up,
                h->node_state == LIVE_NODE_SERVING    ? "serving"
                : h->node_state == LIVE_NODE_DRAINING ? "draining"
                                                      : "starting",
                (unsigned long long)h->publishes);
    }
    fputc('\n', f);
    fprintf(f, "\n%-20s %3s %5s %9s %9s %8s %8s %6s %6s %9s %9s %9s %6s %9s %6s %8s %6s\n", "MODEL",
            "VER", "READY", "req/s", "ok", "failed", "rejected", "queue", "inflt", "mean_us",
            "queue_us", "comp_us", "batch", "workers", "spawns", "backoff", "arena");
    for (int i = 0; i < cur->n_models; i++) {
        const live_stats_model *m = &cur->models[i];
        const live_stats_model *p = find_prev(prev, m->name, m->version);
        double rate =
            p ? per_s(m->requests_ok + m->requests_failed, p->requests_ok + p->requests_failed, dt)
              : (double)m->rows_per_s_milli / 1000.0;
        if (!p) p = &zero; /* means since the start */
        double batch = m->batches > p->batches ? (double)(m->batch_rows - p->batch_rows) /
                                                     (double)(m->batches - p->batches)
                                               : 0;
        char workers[32], arena[16];
        snprintf(workers, sizeof workers, "%lld/%lld-%lld", (long long)m->workers_live,
                 (long long)m->workers_min, (long long)m->workers_max);
        if (m->arena_size)
            snprintf(arena, sizeof arena, "%.0f%%",
                     100.0 * (double)m->arena_used / (double)m->arena_size);
        else snprintf(arena, sizeof arena, "-");
        fprintf(f,
                "%-20.20s %3lld %5s %9.1f %9llu %8llu %8llu %6lld %6lld %9.0f %9.0f %9.0f %6.1f "
                "%9s %6llu %6lldms %6s\n",
                m->name, (long long)m->version, m->ready ? "yes" : "NO", rate,
                (unsigned long long)m->requests_ok, (unsigned long long)m->requests_failed,
                (unsigned long long)m->requests_rejected, (long long)m->queue_len,
                (long long)m->batches_in_flight,
                mean_us(m->ok_ns, m->requests_ok, p->ok_ns, p->requests_ok),
                mean_us(m->queue_ns, m->queue_count, p->queue_ns, p->queue_count),
                mean_us(m->compute_ns, m->batches, p->compute_ns, p->batches), batch, workers,
                (unsigned long long)m->worker_spawns, (long long)m->restart_backoff_ms, arena);
    }
    if (cur->n_models == 0) fprintf(f, "(no model loaded)\n");
    if (l->source != CLI_LIVE_SHM) {
        fprintf(f, "\n(per-worker rows need the node's live stats region: run on its host)\n");
        return;
    }
    fprintf(f, "\n%-20s %6s %8s %-9s %7s %10s %10s %12s %8s\n", "WORKER OF", "SLOT", "PID", "STATE",
            "in_hand", "batches", "requests", "heartbeat_ms", "age_s");
    for (int i = 0; i < cur->n_workers; i++) {
        const live_stats_worker *w = &cur->workers[i];
        const char *model =
            w->model >= 0 && w->model < cur->n_models ? cur->models[w->model].name : "?";
        char hb[24];
        if (w->heartbeat_age_ns < 0) snprintf(hb, sizeof hb, "-");
        else snprintf(hb, sizeof hb, "%.0f", (double)w->heartbeat_age_ns / 1e6);
        fprintf(f, "%-20.20s %6lld %8lld %-9s %7lld %10llu %10llu %12s %8.1f\n", model,
                (long long)w->index, (long long)w->pid, live_stats_worker_state_name(w->state),
                (long long)w->in_hand, (unsigned long long)w->batches_done,
                (unsigned long long)w->requests_done, hb, (double)w->age_ns / 1e9);
    }
    if (cur->n_workers == 0) fprintf(f, "(no worker)\n");
}

int cmd_top(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(
        argc, argv, "[--interval MS] [--once] [--frames N] [--source auto|shm|http]",
        "A live view of every model (request rate, latency, queue, batches, workers, restarts, "
        "arena) and every worker process (state, batches in hand, heartbeat). Reads the node's "
        "live stats region (/dev/shm/inferd-live-PORT-NETNS) when it runs on this host, without a "
        "request; else GET /v2/models/stats.",
        specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    char err[512];
    uint64_t interval = 1000, frames = 0;
    cli_live_source want = CLI_LIVE_AUTO;
    const char *v;
    if ((v = cli_args_value(&a, "interval")) &&
        cli_parse_u64("--interval", v, 100, 60000, &interval, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl top: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    if ((v = cli_args_value(&a, "frames")) &&
        cli_parse_u64("--frames", v, 1, 1000000, &frames, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl top: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    if (cli_args_has(&a, "once")) frames = 1;
    if ((v = cli_args_value(&a, "source")) && cli_live_source_parse(v, &want) != 0) {
        fprintf(stderr, "inferctl top: --source is auto, shm or http\n");
        return CLI_EXIT_USAGE;
    }
    if (a.npos) {
        fprintf(stderr, "inferctl top: no positional argument expected\n");
        return CLI_EXIT_USAGE;
    }
    cli_live l;
    if (cli_live_open(a.url, want, &l, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl top: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    cli_live_snapshot *snaps = calloc(2, sizeof *snaps);
    if (!snaps) {
        cli_live_close(&l);
        fprintf(stderr, "inferctl top: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    int tty = isatty(STDOUT_FILENO);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    if (tty && frames != 1) fputs("\033[?25l", stdout); /* hide the cursor while redrawing */
    int rc = CLI_EXIT_OK, have_prev = 0;
    int64_t prev_ns = 0;
    for (uint64_t n = 0; !top_stop && (frames == 0 || n < frames); n++) {
        cli_live_snapshot *cur = &snaps[n % 2], *prev = &snaps[(n + 1) % 2];
        if (n > 0) {
            struct timespec ts = {(time_t)(interval / 1000), (long)(interval % 1000) * 1000000};
            nanosleep(&ts, NULL); /* a signal cuts it short, and the loop ends */
            if (top_stop) break;
        }
        if (cli_live_read(&l, cur, err, sizeof err) != 0) {
            fprintf(stderr, "inferctl top: %s\n", err);
            rc = CLI_EXIT_FAIL;
            break;
        }
        int64_t now = clock_now_ns();
        if (tty && frames != 1) fputs("\033[H\033[2J", stdout);
        else if (n > 0) fputc('\n', stdout);
        render(stdout, &l, cur, have_prev ? prev : NULL, (double)(now - prev_ns) / 1e9);
        fflush(stdout);
        have_prev = 1;
        prev_ns = now;
    }
    if (tty && frames != 1) fputs("\033[?25h", stdout);
    free(snaps);
    cli_live_close(&l);
    return rc;
}
