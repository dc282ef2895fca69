/* A streaming latency estimate for one (node, model): a log-bucket histogram (4 buckets per
 * power of two of microseconds, 1 µs .. ~4.6 h, so about 19% wide at most) whose counts decay
 * by half every half_life_ms, so the quantiles follow the node's recent behaviour. Gives the
 * p95 that hedging waits for and the p50/p99 of /gateway/nodes.
 *
 * Plain struct, no allocation; not thread-safe (one owner thread, or a lock). Time is passed
 * in (ms on any monotonic clock). */
#ifndef GW_LATENCY_H
#define GW_LATENCY_H

#include <stdint.h>

#define GW_LATENCY_SUB                  4                     /* buckets per power of two */
#define GW_LATENCY_BUCKETS              (34 * GW_LATENCY_SUB) /* up to 2^34 µs */
#define GW_LATENCY_HALF_LIFE_MS_DEFAULT 10000
#define GW_LATENCY_MIN_SAMPLES_DEFAULT  20

typedef struct gw_latency {
    float counts[GW_LATENCY_BUCKETS];
    float total;
    uint64_t samples; /* ever, not decayed */
    uint64_t half_life_ms;
    uint64_t decayed_at_ms; /* the time counts were last decayed to */
    uint32_t min_samples;   /* below this (decayed) weight a quantile reads 0: unknown */
} gw_latency;

/* half_life_ms 0 = default, min_samples 0 = default. */
void gw_latency_init(gw_latency *l, uint64_t half_life_ms, uint32_t min_samples, uint64_t now_ms);
void gw_latency_add(gw_latency *l, uint64_t now_ms, uint64_t latency_us);
/* The q-quantile (0 < q < 1) in µs, interpolated within its bucket; 0 when there are fewer
 * than min_samples (decayed) observations. */
uint64_t gw_latency_quantile(gw_latency *l, uint64_t now_ms, double q);

#endif
