/* The decaying log-bucket latency histogram (gw_latency.h). Bucket b covers
 * [lower(b), lower(b+1)) µs where lower(4k + s) = 2^k * (1 + s/4), bucket 0 holding 0..1 µs. */
#include "gw_latency.h"

#include <math.h>
#include <string.h>

void gw_latency_init(gw_latency *l, uint64_t half_life_ms, uint32_t min_samples, uint64_t now_ms)
{
    memset(l, 0, sizeof *l);
    l->half_life_ms = half_life_ms ? half_life_ms : GW_LATENCY_HALF_LIFE_MS_DEFAULT;
    l->min_samples = min_samples ? min_samples : GW_LATENCY_MIN_SAMPLES_DEFAULT;
    l->decayed_at_ms = now_ms;
}

static size_t bucket_of(uint64_t us)
{
    if (us < 1) return 0;
    int k = 63 - __builtin_clzll(us); /* 2^k <= us < 2^(k+1) */
    uint64_t sub = k >= 2 ? (us >> (k - 2)) & 3 : (us << (2 - k)) & 3;
    size_t b = (size_t)k * GW_LATENCY_SUB + (size_t)sub;
    return b < GW_LATENCY_BUCKETS ? b : GW_LATENCY_BUCKETS - 1;
}

static double bucket_lower(size_t b)
{
    return ldexp(1.0 + (double)(b % GW_LATENCY_SUB) / GW_LATENCY_SUB, (int)(b / GW_LATENCY_SUB));
}

/* Multiplies every count by 2^(-elapsed / half_life), at most once per 1/16 half-life so a
 * busy node pays for it rarely. */
static void decay(gw_latency *l, uint64_t now_ms)
{
    if (now_ms <= l->decayed_at_ms) return;
    uint64_t elapsed = now_ms - l->decayed_at_ms;
    if (elapsed < l->half_life_ms / 16) return;
    float f = (float)exp2(-(double)elapsed / (double)l->half_life_ms);
    float total = 0;
    for (size_t b = 0; b < GW_LATENCY_BUCKETS; b++) {
        l->counts[b] *= f;
        if (l->counts[b] < 1e-6f) l->counts[b] = 0;
        total += l->counts[b];
    }
    l->total = total;
    l->decayed_at_ms = now_ms;
}

void gw_latency_add(gw_latency *l, uint64_t now_ms, uint64_t latency_us)
{
    decay(l, now_ms);
    l->counts[bucket_of(latency_us)] += 1.0f;
    l->total += 1.0f;
    l->samples++;
}

uint64_t gw_latency_quantile(gw_latency *l, uint64_t now_ms, double q)
{
    decay(l, now_ms);
    if (!(q > 0 && q < 1) || l->total < (float)l->min_samples) return 0;
    double want = q * (double)l->total, seen = 0;
    for (size_t b = 0; b < GW_LATENCY_BUCKETS; b++) {
        double c = l->counts[b];
        if (c > 0 && seen + c >= want) {
            double lo = b == 0 ? 0 : bucket_lower(b), hi = bucket_lower(b + 1);
            return (uint64_t)(lo + (hi - lo) * ((want - seen) / c));
        }
        seen += c;
    }
    return (uint64_t)bucket_lower(GW_LATENCY_BUCKETS);
}
