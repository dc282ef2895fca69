/* A high-dynamic-range histogram of latencies for inferctl perf, in the manner of
 * HdrHistogram: log-linear buckets. Values below 256 have a bucket each; above, each power
 * of two [2^e, 2^(e+1)) is cut into 128 equal buckets, so a bucket is at most 1/128 of its
 * values wide and a reported value (the bucket's middle) is within 0.4% of every value it
 * stands for, over the whole uint64 range, in 7424 counters (58 KiB).
 *
 *   index(v) = v                                    for v < 256
 *            = 256 + (e - 8) * 128 + (v >> (e - 7)) - 128   where e = floor(log2 v) >= 8 */
#ifndef INFERD_PERF_HIST_H
#define INFERD_PERF_HIST_H

#include <stdint.h>

#define PERF_HIST_BUCKETS (256 + 56 * 128)

typedef struct perf_hist {
    uint64_t counts[PERF_HIST_BUCKETS];
    uint64_t total;
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    double sum;        /* for the mean */
} perf_hist;

void perf_hist_init(perf_hist *h);
void perf_hist_record(perf_hist *h, uint64_t v);
/* dst += src */
void perf_hist_merge(perf_hist *dst, const perf_hist *src);
/* The value at percentile q (0 < q <= 100): the smallest recorded value v such that at least
 * q% of the values are <= v, within the bucket precision above (exact at the extremes:
 * clamped to [min, max]). 0 when empty. */
uint64_t perf_hist_percentile(const perf_hist *h, double q);
/* Mean of the recorded values; 0 when empty. */
double perf_hist_mean(const perf_hist *h);

/* Bucket arithmetic, exposed for the tests. */
unsigned perf_hist_index(uint64_t v);
uint64_t perf_hist_bucket_low(unsigned index);
uint64_t perf_hist_bucket_high(unsigned index); /* inclusive */

#endif
