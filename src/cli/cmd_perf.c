/* inferctl perf: throughput and latency over a concurrency range (closed loop) or at request
 * rates (open loop), perf_analyzer's method (perf.h), with the server's queue and compute
 * time from its statistics route, CSV or JSON lines, and an SVG plot. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_inputs.h"
#include "cli_json.h"
#include "perf.h"

#define PERF_MAX_STEPS 256

static const cli_opt_spec specs[] = {
    {"concurrency", "A[:B[:STEP]]", "closed loop: requests outstanding, from A to B by STEP "
                                    "(default 1)"},
    {"request-rate", "R[:B[:STEP]]", "open loop: requests per second (a range like "
                                     "--concurrency)"},
    {"poisson", NULL, "open loop: Poisson arrivals (default: constant gaps)"},
    {"duration", "S", "one measurement window, seconds (default 2)"},
    {"max-windows", "N", "windows per step at most, until 3 agree (default 10, min 3)"},
    {"stability", "PCT", "windows agree within PCT percent (default 10)"},
    {"input", "NAME=FILE.npy", "an input (repeatable; default: synthesized from metadata)"},
    {"random", NULL, "synthesize random inputs instead of zeros"},
    {"var-dim", "N", "size given to variable dimensions when synthesizing (default 16)"},
    {"connections", "N", "open loop: connections (default 32)"},
    {"pipeline", "N", "open loop: requests in flight per connection (default 1)"},
    {"max-outstanding", "N", "open loop: more outstanding counts as an error (default 100000)"},
    {"timeout-ms", "MS", "per-request timeout (default 30000)"},
    {"format", "csv|json", "output: CSV with a header (default) or a JSON object a line"},
    {"plot", "FILE.svg", "draw latency against throughput"},
    {NULL, NULL, NULL},
};

typedef struct range {
    double from, to, step;
} range;

static int parse_range(const char *opt, const char *s, double min, double max, int integer,
                       range *r, char *err, size_t err_len)
{
    char buf[128];
    if (strlen(s) >= sizeof buf) {
        snprintf(err, err_len, "--%s: too long", opt);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", s);
    char *parts[3] = {buf, NULL, NULL};
    int n = 1;
    for (char *c = buf; *c; c++)
        if (*c == ':') {
            if (n == 3) {
                snprintf(err, err_len, "--%s: '%s' is not A[:B[:STEP]]", opt, s);
                return -1;
            }
            *c = '\0';
            parts[n++] = c + 1;
        }
    double v[3] = {0, 0, integer ? 1 : 0};
    for (int i = 0; i < n; i++) {
        if (integer) {
            uint64_t u;
            if (cli_parse_u64(opt, parts[i], (uint64_t)min, (uint64_t)max, &u, err, err_len))
                return -1;
            v[i] = (double)u;
        } else if (cli_parse_double(opt, parts[i], min, max, &v[i], err, err_len)) {
            return -1;
        }
    }
    r->from = v[0];
    r->to = n > 1 ? v[1] : v[0];
    r->step = n > 2 ? v[2] : (integer ? 1 : (r->to - r->from));
    if (r->to < r->from || (r->to > r->from && !(r->step > 0)) ||
        (r->step > 0 && (r->to - r->from) / r->step + 1 > PERF_MAX_STEPS)) {
        snprintf(err, err_len, "--%s: '%s' needs A <= B, STEP > 0 and at most %d steps", opt,
                 s, PERF_MAX_STEPS);
        return -1;
    }
    return 0;
}

/* The server's counters for the model, for deltas across a step. */
typedef struct server_counts {
    double ok, ok_ns, queue_ns, compute_ns, executions, inferences;
} server_counts;

static int server_counts_get(const char *url, const char *model, server_counts *s)
{
    char path[300], err[256];
    snprintf(path, sizeof path, "/v2/models/%s/stats", model);
    json_t *j = cli_json_get(url, "GET", path, NULL, err, sizeof err);
    if (!j)
        return -1;
    json_t *m = json_array_get(json_object_get(j, "model_stats"), 0);
    s->ok = cli_json_num(m, "inference_stats.success.count");
    s->ok_ns = cli_json_num(m, "inference_stats.success.ns");
    s->queue_ns = cli_json_num(m, "inference_stats.queue.ns");
    s->compute_ns = cli_json_num(m, "inference_stats.compute_infer.ns");
    s->executions = cli_json_num(m, "inference_stats.compute_infer.count");
    s->inferences = cli_json_num(m, "inference_count");
    json_decref(j);
    return m ? 0 : -1;
}

typedef struct progress {
    int on;
    unsigned step, steps, max_windows;
} progress;

static void on_window(void *user, unsigned index, const perf_window *w)
{
    progress *pg = user;
    if (!pg->on)
        return;
    char bar[21];
    unsigned fill = (index + 1) * 20 / pg->max_windows;
    for (unsigned i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[Kstep %u/%u [%s] window %u: %.0f req/s, p50 %.0f us, p99 %.0f us",
            pg->step + 1, pg->steps, bar, index + 1, w->throughput_per_s,
            (double)w->p50_ns / 1e3, (double)w->p99_ns / 1e3);
}

int cmd_perf(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(
        argc, argv,
        "MODEL [--concurrency A[:B[:STEP]] | --request-rate R [--poisson]] [--duration S] "
        "[--input NAME=FILE.npy] [--format csv|json] [--plot FILE.svg]",
        "Measures throughput and latency percentiles as perf_analyzer does: measurement "
        "windows are repeated until three in a row agree within --stability; open-loop "
        "latency counts from each request's scheduled send time (no coordinated omission).",
        specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    char err[512];
#define USAGE_FAIL()                                                                           \
    do {                                                                                       \
        fprintf(stderr, "inferctl perf: %s\n", err);                                           \
        return CLI_EXIT_USAGE;                                                                 \
    } while (0)
    if (a.npos != 1) {
        snprintf(err, sizeof err, "give exactly one MODEL (see inferctl perf --help)");
        USAGE_FAIL();
    }
    const char *model = a.pos[0];
    int open_loop = cli_args_has(&a, "request-rate");
    if (open_loop && cli_args_has(&a, "concurrency")) {
        snprintf(err, sizeof err, "--concurrency and --request-rate exclude each other");
        USAGE_FAIL();
    }
    if (!open_loop && cli_args_has(&a, "poisson")) {
        snprintf(err, sizeof err, "--poisson needs --request-rate");
        USAGE_FAIL();
    }
    range rg = {1, 1, 1};
    if (open_loop ? parse_range("request-rate", cli_args_value(&a, "request-rate"), 0.1, 1e7, 0,
                                &rg, err, sizeof err)
                  : cli_args_has(&a, "concurrency") &&
                        parse_range("concurrency", cli_args_value(&a, "concurrency"), 1, 1024,
                                    1, &rg, err, sizeof err))
        USAGE_FAIL();
    double duration = 2, stability = 10;
    uint64_t max_windows = 10, var_dim = 16, conns = 32, pipeline = 1, max_out = 100000,
             timeout = 30000;
    const char *v;
    if (((v = cli_args_value(&a, "duration")) &&
         cli_parse_double("duration", v, 0.05, 3600, &duration, err, sizeof err)) ||
        ((v = cli_args_value(&a, "stability")) &&
         cli_parse_double("stability", v, 0.1, 100, &stability, err, sizeof err)) ||
        ((v = cli_args_value(&a, "max-windows")) &&
         cli_parse_u64("max-windows", v, 3, 1000, &max_windows, err, sizeof err)) ||
        ((v = cli_args_value(&a, "var-dim")) &&
         cli_parse_u64("var-dim", v, 1, 1 << 20, &var_dim, err, sizeof err)) ||
        ((v = cli_args_value(&a, "connections")) &&
         cli_parse_u64("connections", v, 1, 1024, &conns, err, sizeof err)) ||
        ((v = cli_args_value(&a, "pipeline")) &&
         cli_parse_u64("pipeline", v, 1, 1024, &pipeline, err, sizeof err)) ||
        ((v = cli_args_value(&a, "max-outstanding")) &&
         cli_parse_u64("max-outstanding", v, 1, 10000000, &max_out, err, sizeof err)) ||
        ((v = cli_args_value(&a, "timeout-ms")) &&
         cli_parse_u64("timeout-ms", v, 1, 3600000, &timeout, err, sizeof err)))
        USAGE_FAIL();
    const char *format = cli_args_value(&a, "format");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
        snprintf(err, sizeof err, "--format must be csv or json, not '%s'", format);
        USAGE_FAIL();
    }
    int json = format && strcmp(format, "json") == 0;
    const char *plot = cli_args_value(&a, "plot");

    static cli_model_meta meta;
    if (cli_model_meta_get(a.url, model, &meta, err, sizeof err) != 0) {
        fprintf(stderr, "inferctl perf: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    cli_body body;
    int rc = cli_infer_body(&a, &meta, (int64_t)var_dim, &body, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "inferctl perf: %s\n", err);
        return rc;
    }

    unsigned steps = rg.to > rg.from ? (unsigned)((rg.to - rg.from) / rg.step + 1e-9) + 1 : 1;
    perf_result *results = calloc(steps, sizeof *results);
    perf_row *rows = calloc(steps, sizeof *rows);
    if (!results || !rows) {
        free(results);
        free(rows);
        free(body.data);
        fprintf(stderr, "inferctl perf: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    progress pg = {.on = isatty(STDERR_FILENO), .steps = steps,
                   .max_windows = (unsigned)max_windows};
    perf_params p = {
        .url = a.url, .path = body.path, .body = body.data, .body_len = body.len,
        .json_len = body.json_len,
        .open_loop = open_loop, .poisson = cli_args_has(&a, "poisson"),
        .connections = (unsigned)conns, .pipeline = (unsigned)pipeline, .timeout_ms = timeout,
        .window_ms = (uint64_t)(duration * 1000), .max_windows = (unsigned)max_windows,
        .stability = stability / 100, .max_outstanding = max_out, .on_window = on_window,
        .user = &pg,
    };
    if (!json)
        perf_print_csv_header(stdout);
    int status = CLI_EXIT_OK;
    unsigned done = 0;
    for (unsigned s = 0; s < steps; s++, done++) {
        double x = rg.from + rg.step * s;
        p.concurrency = (unsigned)x;
        p.rate = x;
        pg.step = s;
        server_counts before, after;
        int have_stats = server_counts_get(a.url, meta.name, &before) == 0;
        if (perf_step_run(&p, &results[s], err, sizeof err) != 0) {
            fprintf(stderr, "inferctl perf: %s\n", err);
            status = CLI_EXIT_FAIL;
            break;
        }
        have_stats = have_stats && server_counts_get(a.url, meta.name, &after) == 0;
        perf_row *row = &rows[s];
        row->open_loop = open_loop;
        row->concurrency = p.concurrency;
        row->rate = x;
        row->res = &results[s];
        row->server_queue_us = row->server_compute_us = row->server_total_us = -1;
        row->avg_batch = -1;
        double dok = after.ok - before.ok, dexec = after.executions - before.executions;
        if (have_stats && dok > 0 && dexec > 0) {
            row->server_queue_us = (after.queue_ns - before.queue_ns) / dok / 1e3;
            row->server_compute_us = (after.compute_ns - before.compute_ns) / dexec / 1e3;
            row->server_total_us = (after.ok_ns - before.ok_ns) / dok / 1e3;
            row->avg_batch = (after.inferences - before.inferences) / dexec;
        }
        if (pg.on)
            fprintf(stderr, "\r\033[K");
        perf_print_row(stdout, row, json);
        if (results[s].ok == 0) {
            fprintf(stderr, "inferctl perf: no request succeeded%s%s\n",
                    results[s].first_error[0] ? ": " : "", results[s].first_error);
            status = CLI_EXIT_FAIL;
            done++;
            break;
        }
    }
    if (plot && done > 0) {
        char title[400];
        snprintf(title, sizeof title, "inferctl perf %s (%s)", meta.name,
                 open_loop ? "open loop" : "closed loop");
        if (perf_svg_write(plot, title, rows, done) != 0) {
            fprintf(stderr, "inferctl perf: cannot write %s\n", plot);
            status = CLI_EXIT_FAIL;
        }
    }
    free(results);
    free(rows);
    free(body.data);
    return status;
}
