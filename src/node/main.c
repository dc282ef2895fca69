/* inferd: the node. Opens the model repository (the live model table: each model its own
 * shared-memory region, scheduler and workers), serves HTTP, and drains cleanly on
 * SIGINT/SIGTERM (a second signal exits at once). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "grpc_service.h"
#include "inferd/grpc_server.h"
#include "inferd/http_server.h"
#include "inferd/log.h"
#include "inferd/model_config.h"
#include "inferd/repository.h"
#include "inferd/resp_cache.h"
#include "inferd/shm.h"
#include "client_shm.h"
#include "json_scratch.h"
#include "node_loops.h"
#include "routes.h"
#include "req_trace.h"
#include "routes_job_cache.h"
#include "inferd/shm_doorbell.h"
#include "inferd/parse_num.h"
#include "inferd/signals.h"
#include "inferd/live_stats.h"
#include "live_publish.h"

/* Free infer jobs each HTTP loop keeps for reuse (a job is about 4 KiB). */
#define ROUTES_JOBS_KEPT_PER_LOOP 64

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

typedef struct node_options {
    http_options http;
    grpc_options grpc;
    int grpc_off;        /* --grpc-port off / -1 */
    int grpc_size_given; /* --grpc-max-message-bytes was given */
    const char *repo;
    const char *worker_path;
    log_level level;
    log_format format;
    int64_t drain_timeout_ms;
    int64_t drain_delay_ms;
    int64_t max_timeout_ms;
    int64_t trace_slow_ms; /* --trace-slow-ms: log requests slower than this; 0 = off */
    uint64_t arena_mb;
    uint32_t batch_slots;
    int64_t live_stale_ms;
    int64_t restart_backoff_ms; /* 0 = the scheduler's default */
    int inflight_given;         /* --max-inflight-bytes was given */
    int allow_client_shm;
    int max_client_shm_regions;
    uint64_t cache_bytes; /* --cache-bytes: the response cache's budget; 0 = no cache */
    repo_mode mode;
    int64_t poll_secs;
    const char *load_models[REPO_MAX_MODELS];
    int n_load_models;
} node_options;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: inferd [options]\n"
        "Serves the models of a repository over HTTP (KServe v2 REST and POST /process).\n\n"
        "  --http-port N           port to listen on (default 8000; 0 = any free port)\n"
        "  --grpc-port N           gRPC (KServe v2 GRPCInferenceService, h2c) port (default 8001;\n"
        "                          0 = any free port; -1 or off = no gRPC)\n"
        "  --grpc-max-message-bytes N  largest gRPC message each way (default: --max-body-bytes)\n"
        "  --grpc-max-streams N    concurrent gRPC streams per connection (default 1024)\n"
        "  --grpc-keepalive-ms N   ping a gRPC connection idle this long (default 0 = never)\n"
        "  --host ADDR             address to bind (default 0.0.0.0)\n"
        "  --model-repository DIR  model repository (default: models)\n"
        "  --model-control-mode M  none: load every model at start (default); explicit: only\n"
        "                          --load-model NAMEs, then POST /v2/repository/models/{m}/load\n"
        "                          and unload; poll: load all, then rescan the repository and\n"
        "                          load new, reload changed and unload removed models\n"
        "  --load-model NAME       explicit mode: load this model at start (repeatable)\n"
        "  --repository-poll-secs N  poll mode: seconds between rescans (default 15)\n"
        "  --threads N             HTTP event-loop threads, and as many gRPC ones (default 2)\n"
        "  --log-level L           debug|info|warn|error|off (default info)\n"
        "  --log-format F          text|json (default text)\n"
        "  --max-body-bytes N      largest request body (default 67108864; larger => 413)\n"
        "  --max-header-bytes N    largest request line + headers (default 16384; => 431)\n"
        "  --header-timeout-ms N   time to receive a request's headers (default 10000)\n"
        "  --idle-timeout-ms N     idle keep-alive connection timeout (default 60000)\n"
        "  --max-connections N     open connections (default 10000; lowered to fit the open-file\n"
        "                          limit, which is raised to its hard limit at start)\n"
        "  --max-inflight-bytes N  request body bytes held at once, all clients together\n"
        "                          (default: 1 GiB or a quarter of RAM if less; beyond => 503)\n"
        "  --max-timeout-ms N      largest request timeout a client may ask (default 600000; => "
        "400)\n"
        "  --trace-slow-ms N       log one line per request slower than N ms, with the time of\n"
        "                          each of its stages (default 0: off; rate-limited)\n"
        "  --max-pipeline N        requests in flight per connection (default 64)\n"
        "  --drain-timeout-ms N    on SIGTERM or an unload, wait this long for in-flight requests\n"
        "                          (default 10000)\n"
        "  --drain-delay-ms N      on SIGTERM, first answer /v2/health/ready 503 and keep serving\n"
        "                          this long (so load balancers stop sending), then stop\n"
        "                          accepting and drain (default 2000; 0 = stop at once)\n"
        "  --arena-mb N            tensor arena MiB, divided over the models without their own\n"
        "                           arena_mb (at least 16 each; default 256)\n"
        "  --batch-slots N         batches in flight per model (1024)\n"
        "  --worker-path PATH      inferd-worker executable (default: next to inferd)\n"
        "  --restart-backoff-ms N  first delay before a crashed worker is replaced; it doubles\n"
        "                          on each crash in a row, up to 10000 or N (default 100)\n"
        "  --live-stale-ms N       /v2/health/live answers 503 when the scheduler has made no\n"
        "                          progress for this long (default 5000)\n"
        "  --allow-client-shm[=true|false]  serve Triton's system shared-memory extension\n"
        "                          (/v2/systemsharedmemory; off by default)\n"
        "  --max-client-shm-regions N  registered client regions at once (default 64)\n"
        "  --cache-bytes N         response cache budget in bytes, for the models whose config\n"
        "                          enables response_cache (default 0 = no cache)\n"
        "  --help, --version\n");
}

static int parse_args(int argc, char **argv, node_options *o)
{
    enum {
        O_PORT = 1000,
        O_HOST,
        O_REPO,
        O_THREADS,
        O_LEVEL,
        O_FORMAT,
        O_BODY,
        O_HEADER,
        O_HTIMEOUT,
        O_ITIMEOUT,
        O_MAXCONN,
        O_PIPE,
        O_DRAIN,
        O_ARENA,
        O_SLOTS,
        O_WORKER,
        O_LIVE_STALE,
        O_HELP,
        O_VERSION,
        O_INFLIGHT,
        O_MAXTIMEOUT,
        O_CLIENT_SHM,
        O_CLIENT_SHM_MAX,
        O_CACHE_BYTES,
        O_MODE,
        O_LOAD_MODEL,
        O_POLL_SECS,
        O_GRPC_PORT,
        O_GRPC_MSG,
        O_GRPC_STREAMS,
        O_GRPC_KEEPALIVE,
        O_DRAIN_DELAY,
        O_BACKOFF,
        O_TRACE_SLOW
    };
    static const struct option longopts[] = {
        {"http-port", required_argument, 0, O_PORT},
        {"host", required_argument, 0, O_HOST},
        {"grpc-port", required_argument, 0, O_GRPC_PORT},
        {"grpc-max-message-bytes", required_argument, 0, O_GRPC_MSG},
        {"grpc-max-streams", required_argument, 0, O_GRPC_STREAMS},
        {"grpc-keepalive-ms", required_argument, 0, O_GRPC_KEEPALIVE},
        {"model-repository", required_argument, 0, O_REPO},
        {"model-control-mode", required_argument, 0, O_MODE},
        {"load-model", required_argument, 0, O_LOAD_MODEL},
        {"repository-poll-secs", required_argument, 0, O_POLL_SECS},
        {"threads", required_argument, 0, O_THREADS},
        {"log-level", required_argument, 0, O_LEVEL},
        {"log-format", required_argument, 0, O_FORMAT},
        {"max-body-bytes", required_argument, 0, O_BODY},
        {"max-header-bytes", required_argument, 0, O_HEADER},
        {"header-timeout-ms", required_argument, 0, O_HTIMEOUT},
        {"idle-timeout-ms", required_argument, 0, O_ITIMEOUT},
        {"max-connections", required_argument, 0, O_MAXCONN},
        {"max-pipeline", required_argument, 0, O_PIPE},
        {"max-inflight-bytes", required_argument, 0, O_INFLIGHT},
        {"max-timeout-ms", required_argument, 0, O_MAXTIMEOUT},
        {"trace-slow-ms", required_argument, 0, O_TRACE_SLOW},
        {"drain-timeout-ms", required_argument, 0, O_DRAIN},
        {"drain-delay-ms", required_argument, 0, O_DRAIN_DELAY},
        {"arena-mb", required_argument, 0, O_ARENA},
        {"batch-slots", required_argument, 0, O_SLOTS},
        {"worker-path", required_argument, 0, O_WORKER},
        {"live-stale-ms", required_argument, 0, O_LIVE_STALE},
        {"restart-backoff-ms", required_argument, 0, O_BACKOFF},
        {"allow-client-shm", optional_argument, 0, O_CLIENT_SHM},
        {"max-client-shm-regions", required_argument, 0, O_CLIENT_SHM_MAX},
        {"cache-bytes", required_argument, 0, O_CACHE_BYTES},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    int c;
    int64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_PORT:
            if (parse_i64(optarg, 0, 65535, &v)) bad = "--http-port";
            else o->http.port = (int)v;
            break;
        case O_HOST: o->http.host = optarg; break;
        case O_GRPC_PORT:
            if (strcmp(optarg, "off") == 0 || strcmp(optarg, "-1") == 0) o->grpc_off = 1;
            else if (parse_i64(optarg, 0, 65535, &v)) bad = "--grpc-port";
            else {
                o->grpc_off = 0;
                o->grpc.port = (int)v;
            }
            break;
        case O_GRPC_MSG:
            if (parse_i64(optarg, 1024, (int64_t)1 << 32, &v)) bad = "--grpc-max-message-bytes";
            else {
                o->grpc.max_message_bytes = (size_t)v;
                o->grpc_size_given = 1;
            }
            break;
        case O_GRPC_STREAMS:
            if (parse_i64(optarg, 1, 1 << 20, &v)) bad = "--grpc-max-streams";
            else o->grpc.max_streams = (uint32_t)v;
            break;
        case O_GRPC_KEEPALIVE:
            if (parse_i64(optarg, 0, 86400000, &v)) bad = "--grpc-keepalive-ms";
            else o->grpc.keepalive_ms = v;
            break;
        case O_REPO: o->repo = optarg; break;
        case O_MODE:
            if (repo_mode_parse(optarg, &o->mode)) bad = "--model-control-mode";
            break;
        case O_LOAD_MODEL:
            if (o->n_load_models == REPO_MAX_MODELS) bad = "--load-model (too many)";
            else o->load_models[o->n_load_models++] = optarg;
            break;
        case O_POLL_SECS:
            if (parse_i64(optarg, 1, 86400, &v)) bad = "--repository-poll-secs";
            else o->poll_secs = v;
            break;
        case O_THREADS:
            if (parse_i64(optarg, 1, 64, &v)) bad = "--threads";
            else o->http.threads = (int)v;
            break;
        case O_LEVEL:
            if (log_level_parse(optarg, &o->level)) bad = "--log-level";
            break;
        case O_FORMAT:
            if (log_format_parse(optarg, &o->format)) bad = "--log-format";
            break;
        case O_BODY:
            if (parse_i64(optarg, 1, (int64_t)1 << 32, &v)) bad = "--max-body-bytes";
            else o->http.max_body_bytes = (size_t)v;
            break;
        case O_HEADER:
            if (parse_i64(optarg, 256, 1 << 20, &v)) bad = "--max-header-bytes";
            else o->http.max_header_bytes = (size_t)v;
            break;
        case O_HTIMEOUT:
            if (parse_i64(optarg, 1, 86400000, &v)) bad = "--header-timeout-ms";
            else o->http.header_timeout_ms = v;
            break;
        case O_ITIMEOUT:
            if (parse_i64(optarg, 1, 86400000, &v)) bad = "--idle-timeout-ms";
            else o->http.idle_timeout_ms = v;
            break;
        case O_MAXCONN:
            if (parse_i64(optarg, 1, 1000000, &v)) bad = "--max-connections";
            else o->http.max_connections = (int)v;
            break;
        case O_PIPE:
            if (parse_i64(optarg, 1, 4096, &v)) bad = "--max-pipeline";
            else o->http.max_pipeline = (int)v;
            break;
        case O_INFLIGHT:
            if (parse_i64(optarg, 1024, INT64_MAX, &v) || (uint64_t)v > SIZE_MAX)
                bad = "--max-inflight-bytes";
            else {
                o->http.max_inflight_bytes = (size_t)v;
                o->inflight_given = 1;
            }
            break;
        case O_MAXTIMEOUT:
            if (parse_i64(optarg, 1, 86400000LL * 7, &v)) bad = "--max-timeout-ms";
            else o->max_timeout_ms = v;
            break;
        case O_TRACE_SLOW:
            if (parse_i64(optarg, 0, 86400000LL, &v)) bad = "--trace-slow-ms";
            else o->trace_slow_ms = v;
            break;
        case O_DRAIN:
            if (parse_i64(optarg, 0, 86400000, &v)) bad = "--drain-timeout-ms";
            else o->drain_timeout_ms = v;
            break;
        case O_DRAIN_DELAY:
            if (parse_i64(optarg, 0, 3600000, &v)) bad = "--drain-delay-ms";
            else o->drain_delay_ms = v;
            break;
        case O_ARENA:
            if (parse_i64(optarg, 1, 1 << 20, &v)) bad = "--arena-mb";
            else o->arena_mb = (uint64_t)v;
            break;
        case O_SLOTS:
            if (parse_i64(optarg, 1, 1 << 16, &v)) bad = "--batch-slots";
            else o->batch_slots = (uint32_t)v;
            break;
        case O_WORKER: o->worker_path = optarg; break;
        case O_BACKOFF:
            if (parse_i64(optarg, 1, 3600000, &v)) bad = "--restart-backoff-ms";
            else o->restart_backoff_ms = v;
            break;
        case O_LIVE_STALE:
            if (parse_i64(optarg, 100, 86400000, &v)) bad = "--live-stale-ms";
            else o->live_stale_ms = v;
            break;
        case O_CLIENT_SHM:
            if (!optarg || strcmp(optarg, "true") == 0 || strcmp(optarg, "1") == 0)
                o->allow_client_shm = 1;
            else if (strcmp(optarg, "false") == 0 || strcmp(optarg, "0") == 0)
                o->allow_client_shm = 0;
            else bad = "--allow-client-shm";
            break;
        case O_CACHE_BYTES:
            if (parse_i64(optarg, 0, INT64_MAX, &v)) bad = "--cache-bytes";
            else o->cache_bytes = (uint64_t)v;
            break;
        case O_CLIENT_SHM_MAX:
            if (parse_i64(optarg, 1, 4096, &v)) bad = "--max-client-shm-regions";
            else o->max_client_shm_regions = (int)v;
            break;
        case 'h':
        case O_HELP: usage(stdout); exit(0);
        case O_VERSION: printf("inferd %s\n", INFERD_VERSION); exit(0);
        default:
            fprintf(stderr, "inferd: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "inferd: bad value '%s' for %s\n", optarg, bad);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "inferd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->n_load_models > 0 && o->mode != REPO_MODE_EXPLICIT) {
        fprintf(stderr, "inferd: --load-model needs --model-control-mode explicit\n");
        return -1;
    }
    return 0;
}

/* Backends the worker of this build can run. */
static int backend_available(const char *backend)
{
    static const char *builtin[] = {"reverse", "identity", "delay",
#ifdef INFERD_HAVE_ONNX_BACKEND
                                    "onnx",
#endif
                                    NULL};
    for (int i = 0; builtin[i]; i++)
        if (strcmp(builtin[i], backend) == 0) return 1;
    return 0;
}

/* Workers the repository's models may run at most, all together (for the descriptor
 * budget); a model whose config does not parse counts nothing. */
static uint32_t repository_worker_total(const char *dir)
{
    char **names = NULL;
    int n = 0;
    char err[256];
    uint32_t total = 0;
    if (model_repository_list(dir, &names, &n, err, sizeof err) != 0) return 0;
    for (int i = 0; i < n; i++) {
        char path[MODEL_PATH_LEN];
        model_config *cfg = malloc(sizeof *cfg);
        if (cfg && (size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path &&
            model_config_load(path, cfg, err, sizeof err) == 0)
            total += (uint32_t)cfg->workers_max;
        free(cfg);
    }
    model_repository_list_free(names, n);
    return total;
}

/* ---- machine limits ------------------------------------------------------------------ */

/* Descriptors the node keeps for itself besides client connections: stdio, the signal pipe,
 * a memfd per model (each model has a worker, so the per-worker share covers it), per loop
 * thread its epoll, wake-ups, listener and reserve descriptor, per worker what spawning and
 * watching it takes, and headroom for logs and libraries. */
static uint64_t fd_reserve(int threads, uint32_t workers)
{
    return 32 + 8 * (uint64_t)threads + 4 * (uint64_t)workers;
}

/* Raises the soft open-file limit to the hard one and lowers --max-connections so that
 * connections alone cannot use up the descriptors the node needs (workers, logs). */
static void fit_fd_limit(node_options *o, uint32_t workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = was;
    }
    uint64_t limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    uint64_t reserve = fd_reserve(o->http.threads * 2, workers); /* HTTP and gRPC loops */
    uint64_t room = limit > reserve + 1 ? limit - reserve : 1;
    if (rl.rlim_cur != was)
        log_info("open-file limit raised from %llu to %llu", (unsigned long long)was,
                 (unsigned long long)limit);
    if ((uint64_t)o->http.max_connections > room) {
        log_warn("--max-connections lowered from %d to %llu: the open-file limit is %llu and "
                 "%llu descriptors are kept for workers, listeners and logs",
                 o->http.max_connections, (unsigned long long)room, (unsigned long long)limit,
                 (unsigned long long)reserve);
        o->http.max_connections = (int)room;
    }
}

/* Default byte budget: 1 GiB, or a quarter of the machine's memory if that is less. */
static void fit_inflight_bytes(node_options *o)
{
    if (!o->inflight_given) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) {
            uint64_t quarter = (uint64_t)pages / 4 * (uint64_t)page;
            if (quarter >= (64u << 20) && quarter < o->http.max_inflight_bytes)
                o->http.max_inflight_bytes = (size_t)quarter;
        }
    }
    if (o->http.max_body_bytes > o->http.max_inflight_bytes) {
        log_warn("--max-body-bytes lowered from %zu to %zu: one body cannot exceed "
                 "--max-inflight-bytes",
                 o->http.max_body_bytes, o->http.max_inflight_bytes);
        o->http.max_body_bytes = o->http.max_inflight_bytes;
    }
}

static void default_worker_path(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(buf, len, "inferd-worker");
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    size_t dir_len = slash ? (size_t)(slash - exe) : 0;
    static const char name[] = "/inferd-worker";
    if (dir_len + sizeof name > len) {
        snprintf(buf, len, "inferd-worker");
        return;
    }
    memcpy(buf, exe, dir_len);
    memcpy(buf + dir_len, name, sizeof name);
}

int main(int argc, char **argv)
{
    json_scratch_install(); /* process-wide: before any thread that may use jansson */
    node_options o;
    memset(&o, 0, sizeof o);
    http_options_default(&o.http);
    grpc_options_default(&o.grpc);
    o.repo = "models";
    o.level = LOG_INFO;
    o.format = LOG_FORMAT_TEXT;
    o.drain_timeout_ms = 10000;
    o.drain_delay_ms = 2000;
    o.max_timeout_ms = 600000;
    o.arena_mb = 256;
    o.live_stale_ms = 5000;
    log_init(LOG_INFO, LOG_FORMAT_TEXT, "inferd");
    if (parse_args(argc, argv, &o) != 0) return 2;
    log_init(o.level, o.format, "inferd");
    if (signals_install() != 0) {
        log_error("cannot set up signal handling: %s", strerror(errno));
        return 1;
    }

    char err[512];
    uint32_t workers = repository_worker_total(o.repo);
    fit_fd_limit(&o, workers * 2);
    fit_inflight_bytes(&o);
    char worker_path[PATH_MAX];
    if (o.worker_path) snprintf(worker_path, sizeof worker_path, "%s", o.worker_path);
    else default_worker_path(worker_path, sizeof worker_path);
    if (access(worker_path, X_OK) != 0)
        log_warn("worker executable %s: %s", worker_path, strerror(errno));

    repo_options ropts;
    repo_options_default(&ropts);
    ropts.dir = o.repo;
    ropts.mode = o.mode;
    if (o.poll_secs > 0) ropts.poll_ms = o.poll_secs * 1000;
    ropts.load_models = o.load_models;
    ropts.n_load_models = o.n_load_models;
    /* room for replacements that start while a dead worker's slot is still being reaped */
    if (workers * 2 > ropts.shm.max_workers) ropts.shm.max_workers = workers * 2;
    if (o.batch_slots) ropts.shm.batch_slots = o.batch_slots;
    ropts.arena_mb = o.arena_mb;
    ropts.sched.worker_path = worker_path;
    if (o.restart_backoff_ms > 0) {
        ropts.sched.restart_backoff_min_ms = o.restart_backoff_ms;
        if (ropts.sched.restart_backoff_max_ms < o.restart_backoff_ms)
            ropts.sched.restart_backoff_max_ms = o.restart_backoff_ms;
    }
    ropts.unload_timeout_ms = o.drain_timeout_ms;
    ropts.backend_available = backend_available;
    /* The workers ring the loops that answer them (no completion thread in between). */
    shm_doorbell bell;
    if (shm_doorbell_create(o.http.threads, &bell, err, sizeof err) == 0)
        ropts.sched.doorbell = &bell;
    else log_warn("%s: the completion threads answer instead of the event loops", err);
    /* one cache for every model and both front ends; destroyed after the models */
    resp_cache *cache = NULL;
    if (o.cache_bytes > 0) {
        cache = resp_cache_create(o.cache_bytes);
        if (!cache) {
            log_error("out of memory for the response cache");
            if (ropts.sched.doorbell) shm_doorbell_close(&bell);
            return 1;
        }
        log_info("response cache: %llu bytes", (unsigned long long)o.cache_bytes);
    }
    ropts.sched.cache = cache;
    repository *repo = NULL;
    if (repository_open(&ropts, &repo, err, sizeof err) != 0) {
        log_error("%s", err);
        resp_cache_destroy(cache);
        if (ropts.sched.doorbell) shm_doorbell_close(&bell);
        return 1;
    }

    client_shm *cshm = client_shm_create(o.allow_client_shm, o.max_client_shm_regions);
    if (!cshm) {
        log_error("out of memory");
        repository_close(repo);
        resp_cache_destroy(cache);
        if (ropts.sched.doorbell) shm_doorbell_close(&bell);
        return 1;
    }
    routes_ctx rctx = {.repo = repo,
                       .server_name = "inferd",
                       .version = INFERD_VERSION,
                       .max_timeout_ms = o.max_timeout_ms,
                       .live_stale_ns = o.live_stale_ms * 1000000LL,
                       .cshm = cshm,
                       .cache = cache,
                       /* NULL (out of memory): each job is calloc'ed instead */
                       .jobs = routes_job_cache_create(o.http.threads, routes_infer_job_size(),
                                                       ROUTES_JOBS_KEPT_PER_LOOP),
                       /* NULL (out of memory): requests are not traced */
                       .trace = req_trace_create(o.http.threads, o.trace_slow_ms * 1000000LL)};
    live_publish_sweep(); /* before the loops accept (it closes descriptors) */
    http_server *srv = NULL;
    /* Each event loop answers finished batches itself before it waits (no thread hop). */
    node_loops loops = {.repo = repo, .bell = &bell};
    if (ropts.sched.doorbell) o.http.hooks = node_loops_hooks(&loops);
    if (http_server_start(&o.http, routes_handle, &rctx, &srv, err, sizeof err) != 0) {
        log_error("%s", err);
        routes_job_cache_destroy(rctx.jobs);
        req_trace_destroy(rctx.trace);
        client_shm_destroy(cshm);
        repository_close(repo);
        resp_cache_destroy(cache);
        if (ropts.sched.doorbell) shm_doorbell_close(&bell);
        return 1;
    }
    atomic_store(&rctx.http, srv);
    log_info("listening on http://%s:%d threads=%d max_connections=%d max_inflight_bytes=%zu",
             o.http.host, http_server_port(srv), o.http.threads, o.http.max_connections,
             o.http.max_inflight_bytes);
    grpc_server *gsrv = NULL;
    if (!o.grpc_off) {
        o.grpc.host = o.http.host;
        if (!o.grpc_size_given) o.grpc.max_message_bytes = o.http.max_body_bytes;
        o.grpc.max_connections = o.http.max_connections;
        o.grpc.threads = o.http.threads; /* --threads: as many gRPC loops as HTTP ones */
        o.grpc.max_inflight_bytes = o.http.max_inflight_bytes; /* its own budget of that size */
        if (grpc_service_start(&rctx, &o.grpc, &gsrv, err, sizeof err) != 0) {
            log_error("%s", err);
            http_server_shutdown(srv, 1000);
            routes_job_cache_destroy(rctx.jobs); /* the loops are stopped */
            req_trace_destroy(rctx.trace);
            repository_close(repo);
            client_shm_destroy(cshm);
            resp_cache_destroy(cache);
            if (ropts.sched.doorbell) shm_doorbell_close(&bell);
            return 1;
        }
        atomic_store(&rctx.grpc, gsrv);
        log_info("listening on grpc://%s:%d threads=%d max_message_bytes=%zu max_streams=%u",
                 o.grpc.host, grpc_server_port(gsrv), o.grpc.threads, o.grpc.max_message_bytes,
                 o.grpc.max_streams);
    }

    /* Live stats for tools on this host (inferctl top, diagnose): optional, the node serves
     * without them. */
    live_publish *live =
        live_publish_start(repo, http_server_port(srv), LIVE_PUBLISH_PERIOD_MS, err, sizeof err);
    if (live) {
        live_publish_set_state(live, LIVE_NODE_SERVING);
        log_info("live stats at %s", live_publish_path(live));
    } else {
        log_warn("%s: no live stats region", err);
    }

    /* Wake up now and then as well: some runtimes (ThreadSanitizer) deliver a signal only
     * when the thread returns from a call, never during an endless blocking read. */
    int sig = signals_wait(-1);
    if (o.drain_delay_ms > 0) {
        /* not ready first: load balancers and gateways stop sending while we still serve */
        atomic_store(&rctx.draining, 1);
        log_info("shutdown: signal %d, not ready; serving for %lld ms before stopping intake",
                 (int)sig, (long long)o.drain_delay_ms);
        signals_wait(o.drain_delay_ms); /* a second signal exits at once */
    }
    log_info("shutdown: signal %d, stopping intake, draining for up to %lld ms", (int)sig,
             (long long)o.drain_timeout_ms);
    live_publish_set_state(live, LIVE_NODE_DRAINING);
    http_server_stop_accepting(srv);
    grpc_server_stop_accepting(gsrv);
    int left = repository_drain(repo, o.drain_timeout_ms);
    if (left > 0) log_warn("shutdown: %d requests still unanswered at the drain deadline", left);
    http_server_shutdown(srv, 5000);
    routes_job_cache_destroy(rctx.jobs); /* the loops are stopped: no job comes back */
    req_trace_destroy(rctx.trace);
    /* after the drain, which answered every request (posted to the gRPC loop, which still
     * runs), and before the models go: a call holds its model until answered */
    grpc_server_shutdown(gsrv, 5000);
    live_publish_stop(live); /* before the models it reads go */
    repository_close(repo);
    client_shm_destroy(cshm); /* after the models: no request holds a region any more */
    /* after the models too: no request leads or follows an entry */
    resp_cache_destroy(cache);
    if (ropts.sched.doorbell) shm_doorbell_close(&bell);
    log_info("shutdown complete");
    return 0;
}
