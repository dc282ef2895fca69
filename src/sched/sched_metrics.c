/* Request outcomes and fixed-bucket histograms for the scheduler's counters (metrics and the
 * JSON stats): pure functions, no locks (callers hold the model's lock). */
#include "inferd/scheduler.h"

#define MS 1000000LL

/* 100 us .. 10 s, the usual 1-2.5-5 steps (inference spans both ends). */
static const int64_t time_bounds[] = {
    100000,  250000,   500000,   1 * MS,   2500000,   5 * MS,    10 * MS,   25 * MS,
    50 * MS, 100 * MS, 250 * MS, 500 * MS, 1000 * MS, 2500 * MS, 5000 * MS, 10000 * MS,
};
/* 10 us .. 10 s: a request's stages are often microseconds. */
static const int64_t stage_bounds[] = {
    10000,    25000,     50000,     100000,    250000,     500000,   1 * MS,
    2500000,  5 * MS,    10 * MS,   25 * MS,   50 * MS,    100 * MS, 250 * MS,
    500 * MS, 1000 * MS, 2500 * MS, 5000 * MS, 10000 * MS,
};
static const int64_t row_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
_Static_assert(N_OF(time_bounds) <= SCHED_HIST_MAX_BOUNDS, "time buckets fit sched_hist");
_Static_assert(N_OF(stage_bounds) <= SCHED_HIST_MAX_BOUNDS, "stage buckets fit sched_hist");
_Static_assert(N_OF(row_bounds) <= SCHED_HIST_MAX_BOUNDS, "row buckets fit sched_hist");

int sched_outcome_of_status(int status)
{
    switch (status) {
    case 0: return SCHED_OUTCOME_SUCCESS;
    case 400: return SCHED_OUTCOME_BAD_REQUEST;
    case 429: return SCHED_OUTCOME_REJECTED_429;
    case 503: return SCHED_OUTCOME_REJECTED_503;
    case 504: return SCHED_OUTCOME_TIMEOUT;
    case 499: return SCHED_OUTCOME_CANCELLED;
    default:
        /* the client's fault (413 too large, ...), else a failure */
        return status >= 400 && status < 500 ? SCHED_OUTCOME_BAD_REQUEST
                                             : SCHED_OUTCOME_WORKER_FAILURE;
    }
}

const char *sched_outcome_name(int outcome)
{
    static const char *const names[SCHED_OUTCOME_N] = {
        "success", "bad_request", "rejected_429",   "rejected_503",
        "timeout", "cancelled",   "worker_failure",
    };
    return outcome >= 0 && outcome < SCHED_OUTCOME_N ? names[outcome] : "unknown";
}

int sched_hist_bounds(int kind, const int64_t **bounds)
{
    switch (kind) {
    case SCHED_HIST_REQUEST:
    case SCHED_HIST_QUEUE:
    case SCHED_HIST_COMPUTE: *bounds = time_bounds; return N_OF(time_bounds);
    case SCHED_HIST_BATCH_ROWS: *bounds = row_bounds; return N_OF(row_bounds);
    case SCHED_HIST_STAGE: *bounds = stage_bounds; return N_OF(stage_bounds);
    default: *bounds = NULL; return 0;
    }
}

void sched_hist_add(sched_hist *h, int kind, int64_t v)
{
    const int64_t *b;
    int n = sched_hist_bounds(kind, &b);
    if (v < 0) v = 0;
    int i = 0;
    while (i < n && v > b[i]) i++;
    h->counts[i]++;
    h->count++;
    h->sum += (uint64_t)v;
}

double sched_hist_quantile(const sched_hist *h, int kind, double q)
{
    const int64_t *b;
    int n = sched_hist_bounds(kind, &b);
    if (h->count == 0 || n == 0) return 0.0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    double rank = q * (double)h->count;
    uint64_t below = 0;
    for (int i = 0; i < n; i++) {
        uint64_t in = h->counts[i];
        if (in > 0 && (double)(below + in) >= rank) {
            double lo = i == 0 ? 0.0 : (double)b[i - 1];
            double frac = (rank - (double)below) / (double)in;
            if (frac < 0) frac = 0;
            return lo + ((double)b[i] - lo) * frac;
        }
        below += in;
    }
    return (double)b[n - 1]; /* in the +Inf bucket */
}
