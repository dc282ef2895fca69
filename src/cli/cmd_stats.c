/* inferctl stats: every model's statistics (or one model's) as a table, or the raw JSON. */
#include "cli_json.h"

static const cli_opt_spec specs[] = {
    {"json", NULL, "print the node's JSON answer as it is"},
    {NULL, NULL, NULL},
};

static double mean_us(json_t *m, const char *what)
{
    char p[64];
    snprintf(p, sizeof p, "inference_stats.%s.count", what);
    double n = cli_json_num(m, p);
    snprintf(p, sizeof p, "inference_stats.%s.ns", what);
    return n > 0 ? cli_json_num(m, p) / n / 1000.0 : 0;
}

int cmd_stats(int argc, char **argv)
{
    cli_args a;
    switch (cli_args_parse_or_help(argc, argv, "[MODEL] [--json]",
                                   "Prints the statistics of every model (or of MODEL): "
                                   "requests, batches, mean latency, queue and compute time, "
                                   "rejections, queue length and live workers.",
                                   specs, &a)) {
    case 1: return CLI_EXIT_OK;
    case -1: return CLI_EXIT_USAGE;
    }
    if (a.npos > 1) {
        fprintf(stderr, "inferctl stats: one MODEL at most\n");
        return CLI_EXIT_USAGE;
    }
    char path[512], err[512];
    if (a.npos == 1) {
        if (strlen(a.pos[0]) > 256 || strpbrk(a.pos[0], "/?# ")) {
            fprintf(stderr, "inferctl stats: bad model name '%s'\n", a.pos[0]);
            return CLI_EXIT_USAGE;
        }
        snprintf(path, sizeof path, "/v2/models/%s/stats", a.pos[0]);
    } else {
        snprintf(path, sizeof path, "/v2/models/stats");
    }
    json_t *st = cli_json_get(a.url, "GET", path, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "inferctl stats: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    if (cli_args_has(&a, "json")) {
        json_dumpf(st, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(st);
        return CLI_EXIT_OK;
    }
    printf("%-20s %-4s %10s %10s %10s %10s %10s %8s %8s %6s %5s\n", "MODEL", "VER",
           "inferences", "executions", "success", "mean_us", "queue_us", "comp_us", "rejected",
           "queue", "live");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "model_stats"), i, m) {
        double n_batches = cli_json_num(m, "inference_stats.compute_infer.count");
        double comp = n_batches > 0
                          ? cli_json_num(m, "inference_stats.compute_infer.ns") / n_batches / 1e3
                          : 0;
        printf("%-20s %-4s %10.0f %10.0f %10.0f %10.0f %10.0f %8.0f %8.0f %6.0f %5.0f\n",
               cli_json_str(m, "name", "?"),
               cli_json_str(m, "version", "?"),
               cli_json_num(m, "inference_count"), cli_json_num(m, "execution_count"),
               cli_json_num(m, "inference_stats.success.count"), mean_us(m, "success"),
               mean_us(m, "queue"), comp, cli_json_num(m, "inferd.rejected"),
               cli_json_num(m, "inferd.queue_len"), cli_json_num(m, "inferd.workers.live"));
    }
    json_decref(st);
    return CLI_EXIT_OK;
}
