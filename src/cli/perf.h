/* inferctl perf's engine, perf_analyzer's method:
 *   - closed loop: `concurrency` requests always outstanding, each answer sends the next;
 *   - open loop: requests sent on a schedule (constant gaps, or exponential gaps for Poisson
 *     arrivals) whatever the answers do; latency counts from the scheduled send time, so a
 *     stalled server is charged for the requests it delayed (no coordinated omission, as
 *     wrk2 does).
 * A step runs measurement windows of window_ms until the last three agree within
 * `stability` (throughput and median latency each within that fraction of their mean over
 * the three) or max_windows have run; the step's figures are those of the last three
 * windows together (fewer if fewer ran). Only 200 answers enter the histogram; anything
 * else counts as an error. Requests still outstanding when a step ends are abandoned.
 * Closed loop, after a connection error (refused, broken, unresolved) a slot waits a backoff
 * before its next send: PERF_BACKOFF_MIN_MS, doubling up to PERF_BACKOFF_MAX_MS, back to none
 * after any answer; so a node that is down costs at most a few errors per slot per second. */
#ifndef INFERD_PERF_H
#define INFERD_PERF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "perf_hist.h"

typedef struct perf_window {
    double elapsed_s, throughput_per_s;
    uint64_t ok, errors;
    uint64_t p50_ns, p99_ns;
} perf_window;

typedef struct perf_params {
    const char *url;
    const char *path; /* /v2/models/M/infer */
    const void *body; /* an infer request, sent as is every time */
    size_t body_len;
    long long json_len; /* Inference-Header-Content-Length, -1 for a JSON body */
    int open_loop;
    unsigned concurrency; /* closed loop */
    double rate;          /* open loop, requests per second */
    int poisson;
    unsigned connections, pipeline; /* open loop's client; closed loop uses concurrency x 1 */
    uint64_t timeout_ms;
    uint64_t window_ms;
    unsigned max_windows;     /* >= 3 */
    double stability;         /* e.g. 0.10 */
    uint64_t max_outstanding; /* open loop: a send beyond this counts as an error */
    /* called after each window (may be NULL) */
    void (*on_window)(void *user, unsigned index, const perf_window *w);
    void *user;
} perf_params;

typedef struct perf_result {
    perf_hist hist; /* latencies (ns) of the reported windows */
    double throughput_per_s, elapsed_s;
    uint64_t ok, errors;
    unsigned windows;
    int stable;
    char first_error[256]; /* the first error seen in the step, "" if none */
} perf_result;

#define PERF_BACKOFF_MIN_MS 10
#define PERF_BACKOFF_MAX_MS 200

/* The closed loop's wait before a slot's next send, after one that ended with client error
 * err (0: answered) when the wait before it was prev_ms. 0: send at once. */
uint32_t perf_backoff_next_ms(uint32_t prev_ms, int err);

/* Runs one step. Returns 0 with *r filled, or -1 with a message in err (cannot start:
 * bad URL, out of memory). A node that refuses every request is a result with errors. */
int perf_step_run(const perf_params *p, perf_result *r, char *err, size_t err_len);

/* 1 when the last three windows of w[0..n) agree within stability (see above). */
int perf_windows_stable(const perf_window *w, unsigned n, double stability);

/* One row of output: the step's parameters, the result and the server's view. */
typedef struct perf_row {
    int open_loop;
    unsigned concurrency;
    double rate;
    const perf_result *res;
    /* server statistics over the step (negative when unavailable) */
    double server_queue_us, server_compute_us, server_total_us, avg_batch;
} perf_row;

/* CSV (header once, then a line per row) or one JSON object per line. */
void perf_print_csv_header(FILE *f);
void perf_print_row(FILE *f, const perf_row *row, int json);

/* latency (p50, p90, p99, ms) against throughput: one SVG file. Returns 0 or -1 (errno). */
int perf_svg_write(const char *path, const char *title, const perf_row *rows, size_t n);

#endif
