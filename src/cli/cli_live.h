/* A node's live state for inferctl top and diagnose, from the node's live stats region when
 * it runs on this host (no request; include/inferd/live_stats.h), else from its HTTP stats
 * (GET /v2/models/stats, no per-worker rows). Both fill the same records. */
#ifndef INFERD_CLI_LIVE_H
#define INFERD_CLI_LIVE_H

#include "cli.h"
#include "inferd/live_stats.h"

#define CLI_LIVE_MAX_MODELS  64
#define CLI_LIVE_MAX_WORKERS 1024

typedef enum cli_live_source { CLI_LIVE_AUTO = 0, CLI_LIVE_SHM, CLI_LIVE_HTTP } cli_live_source;

typedef struct cli_live {
    const char *url;          /* borrowed */
    cli_live_source source;   /* what it reads from: CLI_LIVE_SHM or CLI_LIVE_HTTP */
    live_stats_reader reader; /* CLI_LIVE_SHM */
    char path[256];           /* the region's path (also when not found) */
} cli_live;

typedef struct cli_live_snapshot {
    live_stats_header header; /* from the region; from HTTP only publishes (a count) is set */
    int n_models;
    live_stats_model models[CLI_LIVE_MAX_MODELS];
    int n_workers;
    live_stats_worker workers[CLI_LIVE_MAX_WORKERS];
} cli_live_snapshot;

/* "auto" | "shm" | "http". 0 or -1. */
int cli_live_source_parse(const char *s, cli_live_source *out);

/* Picks the source for url: want CLI_LIVE_SHM needs the region (else -1 with err); AUTO takes
 * the region when the URL's port has one whose node pid is alive and serves that port, else
 * HTTP. Returns 0 or -1 with err. Close with cli_live_close. */
int cli_live_open(const char *url, cli_live_source want, cli_live *out, char *err, size_t err_len);
/* One snapshot (every record consistent by itself). 0, or -1 with err (HTTP failed, the
 * region stayed busy). */
int cli_live_read(cli_live *l, cli_live_snapshot *out, char *err, size_t err_len);
void cli_live_close(cli_live *l);

/* 1 if a process with this pid exists (also one we may not signal). */
int cli_pid_alive(int64_t pid);

#endif
