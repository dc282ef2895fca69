/* Admission control and throughput estimation (see admission.h). */
#include "admission.h"

#include <math.h>
#include <stdio.h>

static int clamp_retry(double s)
{
    if (!(s >= 1.0)) return 1;
    if (s > 60.0) return 60;
    return (int)ceil(s);
}

int admission_decide(const admission_input *in, int *retry_after_s, char *err, size_t err_len)
{
    *retry_after_s = 0;
    if (in->draining) {
        *retry_after_s = 1;
        snprintf(err, err_len, "the node is shutting down");
        return 503;
    }
    if (in->deadline_ns > 0 && in->deadline_ns <= in->now_ns) {
        snprintf(err, err_len, "deadline already passed");
        return 504;
    }
    if (in->live_workers <= 0 && in->starting_workers <= 0) {
        *retry_after_s = 1;
        snprintf(err, err_len, "model has no live worker");
        return 503;
    }
    if (in->max_queue_size > 0 && in->queue_len >= in->max_queue_size) {
        double wait = in->rate_rows_per_s > 0 ? (double)in->queue_rows / in->rate_rows_per_s : 1;
        *retry_after_s = clamp_retry(wait);
        snprintf(err, err_len, "queue full (%d requests)", in->queue_len);
        return 429;
    }
    if (in->deadline_ns > 0 && in->rate_rows_per_s > 0 && in->queue_rows > 0) {
        double wait_s = (double)(in->queue_rows + in->req_rows) / in->rate_rows_per_s;
        double left_s = (double)(in->deadline_ns - in->now_ns) / 1e9;
        if (wait_s > left_s) {
            *retry_after_s = clamp_retry(wait_s);
            snprintf(err, err_len, "overloaded: predicted wait %.3f s exceeds the %.3f s left",
                     wait_s, left_s);
            return 429;
        }
    }
    return 0;
}

void admission_rate_add(admission_rate *r, int64_t rows)
{
    if (rows > 0) r->window_rows += rows;
}

void admission_rate_tick(admission_rate *r, int64_t now_ns, int busy, int64_t min_window_ns)
{
    if (r->window_start_ns == 0) {
        r->window_start_ns = now_ns;
        r->window_rows = 0;
        r->window_busy = busy;
        return;
    }
    int64_t span = now_ns - r->window_start_ns;
    if (span < min_window_ns) return;
    /* Only windows busy from start to end measure capacity; idle ones say nothing. */
    if (r->window_busy && busy && span > 0) {
        double rate = (double)r->window_rows * 1e9 / (double)span;
        if (r->window_rows > 0)
            r->rows_per_s = r->rows_per_s > 0 ? 0.7 * r->rows_per_s + 0.3 * rate : rate;
    }
    r->window_start_ns = now_ns;
    r->window_rows = 0;
    r->window_busy = busy;
}
