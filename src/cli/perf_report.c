/* inferctl perf's output: a CSV line or a JSON object per measurement step. */
#include <jansson.h>
#include <stdio.h>

#include "perf.h"

static const double pcts[] = {50, 90, 95, 99, 99.9};
static const char *const pct_names[] = {"p50_us", "p90_us", "p95_us", "p99_us", "p99_9_us"};
#define NPCT (sizeof pcts / sizeof pcts[0])

void perf_print_csv_header(FILE *f)
{
    fprintf(f, "concurrency,rate,throughput_per_s");
    for (size_t i = 0; i < NPCT; i++)
        fprintf(f, ",%s", pct_names[i]);
    fprintf(f, ",mean_us,max_us,ok,errors,windows,stable,server_queue_us,server_compute_us,"
               "server_total_us,avg_batch\n");
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

void perf_print_row(FILE *f, const perf_row *row, int json)
{
    const perf_result *r = row->res;
    if (!json) {
        if (row->open_loop)
            fprintf(f, ",%g", row->rate);
        else
            fprintf(f, "%u,", row->concurrency);
        fprintf(f, ",%.1f", r->throughput_per_s);
        for (size_t i = 0; i < NPCT; i++)
            fprintf(f, ",%.1f", us(perf_hist_percentile(&r->hist, pcts[i])));
        fprintf(f, ",%.1f,%.1f,%llu,%llu,%u,%d,%.1f,%.1f,%.1f,%.2f\n",
                perf_hist_mean(&r->hist) / 1000.0, us(r->hist.total ? r->hist.max : 0),
                (unsigned long long)r->ok, (unsigned long long)r->errors, r->windows,
                r->stable, row->server_queue_us, row->server_compute_us, row->server_total_us,
                row->avg_batch);
        fflush(f);
        return;
    }
    json_t *o = json_object();
    if (row->open_loop)
        json_object_set_new(o, "rate", json_real(row->rate));
    else
        json_object_set_new(o, "concurrency", json_integer(row->concurrency));
    json_object_set_new(o, "throughput_per_s", json_real(r->throughput_per_s));
    for (size_t i = 0; i < NPCT; i++)
        json_object_set_new(o, pct_names[i],
                            json_real(us(perf_hist_percentile(&r->hist, pcts[i]))));
    json_object_set_new(o, "mean_us", json_real(perf_hist_mean(&r->hist) / 1000.0));
    json_object_set_new(o, "max_us", json_real(us(r->hist.total ? r->hist.max : 0)));
    json_object_set_new(o, "ok", json_integer((json_int_t)r->ok));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "windows", json_integer(r->windows));
    json_object_set_new(o, "stable", json_boolean(r->stable));
    if (row->server_total_us >= 0) {
        json_object_set_new(o, "server_queue_us", json_real(row->server_queue_us));
        json_object_set_new(o, "server_compute_us", json_real(row->server_compute_us));
        json_object_set_new(o, "server_total_us", json_real(row->server_total_us));
        json_object_set_new(o, "avg_batch", json_real(row->avg_batch));
    }
    if (r->first_error[0])
        json_object_set_new(o, "first_error", json_string(r->first_error));
    json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(8));
    fputc('\n', f);
    fflush(f);
    json_decref(o);
}
