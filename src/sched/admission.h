/* Admission control and load shedding: decides at submit time whether a request may wait in
 * its model's queue, from the queue bound, the request's deadline, the predicted wait (queued
 * rows / measured throughput) and the model's worker pool. Pure functions, no locking. */
#ifndef NODE_ADMISSION_H
#define NODE_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

typedef struct admission_input {
    int64_t now_ns, deadline_ns;   /* CLOCK_MONOTONIC; deadline 0 = none */
    int64_t req_rows;              /* rows of the request being admitted */
    int queue_len, max_queue_size; /* requests waiting; bound (<= 0 = unbounded) */
    int64_t queue_rows;            /* rows waiting */
    double rate_rows_per_s;        /* EWMA throughput of the live workers; 0 = unknown */
    int live_workers, starting_workers;
    int draining;
} admission_input;

/* Returns 0 (admit), or an HTTP status (429, 503, 504) with *retry_after_s (for 429/503)
 * and a reason in err. */
int admission_decide(const admission_input *in, int *retry_after_s, char *err, size_t err_len);

/* Throughput estimator: rows completed over windows during which the model was busy. */
typedef struct admission_rate {
    double rows_per_s; /* EWMA; 0 until the first busy window */
    int64_t window_start_ns;
    int64_t window_rows;
    int window_busy; /* the model had work at the window's start */
} admission_rate;

/* Counts rows completed now. */
void admission_rate_add(admission_rate *r, int64_t rows);
/* Called periodically (e.g. every 50 ms) with whether the model has work queued or running;
 * closes the window when at least min_window_ns has passed. */
void admission_rate_tick(admission_rate *r, int64_t now_ns, int busy, int64_t min_window_ns);

#endif
