/* A log-linear latency histogram for inferctl perf (perf_hist.h describes the buckets). */
#include <math.h>
#include <string.h>

#include "perf_hist.h"

void perf_hist_init(perf_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned perf_hist_index(uint64_t v)
{
    if (v < 256)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    return 256u + (e - 8u) * 128u + (unsigned)(v >> (e - 7u)) - 128u;
}

uint64_t perf_hist_bucket_low(unsigned index)
{
    if (index < 256)
        return index;
    unsigned e = (index - 256u) / 128u + 8u;
    uint64_t m = (index - 256u) % 128u + 128u;
    return m << (e - 7u);
}

uint64_t perf_hist_bucket_high(unsigned index)
{
    if (index < 256)
        return index;
    if (index + 1 >= PERF_HIST_BUCKETS)
        return UINT64_MAX;
    return perf_hist_bucket_low(index + 1) - 1;
}

void perf_hist_record(perf_hist *h, uint64_t v)
{
    h->counts[perf_hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void perf_hist_merge(perf_hist *dst, const perf_hist *src)
{
    for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t perf_hist_percentile(const perf_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    if (!(q > 0))
        return h->min;
    if (q >= 100)
        return h->max;
    uint64_t rank = (uint64_t)ceil(q / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t lo = perf_hist_bucket_low(i), hi = perf_hist_bucket_high(i);
            uint64_t mid = lo + (hi - lo) / 2;
            return mid < h->min ? h->min : mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

double perf_hist_mean(const perf_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0;
}
