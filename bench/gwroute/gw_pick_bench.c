/* The cost of the gateway's per-request routing decisions: ns per ring pick (with and without
 * bounded load and a filter) for 3, 10 and 100 nodes, per alias pick, per breaker query and
 * per latency add / quantile. Usage: gw_pick_bench [iterations] (default 2000000). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gw_alias.h"
#include "gw_breaker.h"
#include "gw_latency.h"
#include "gw_rand.h"
#include "gw_ring.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint64_t sink; /* keeps the loops from being optimised away */

static bool accept_odd_load(void *ctx, size_t index)
{
    (void)ctx;
    return index % 7 != 3; /* some nodes do not serve the model */
}

static void bench_ring(size_t n, long iters)
{
    gw_ring_member m[100];
    char names[100][48]; /* "10.0.0.N:8000" for any size_t N */
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "10.0.0.%zu:8000", i + 1);
        m[i] = (gw_ring_member){.id = (uint32_t)i, .name = names[i], .weight = 1};
    }
    gw_ring *r = NULL;
    if (gw_ring_build(m, n, 0, &r) != 0) exit(1);
    uint32_t load[100];
    uint64_t rng = 1;
    for (size_t i = 0; i < n; i++) load[i] = (uint32_t)(gw_rand_next(&rng) % 20);
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += (uint64_t)gw_ring_pick(r, gw_rand_next(&rng), NULL, NULL, NULL, 0);
    double plain = (now_ns() - t0) / (double)iters;
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += (uint64_t)gw_ring_pick(r, gw_rand_next(&rng), accept_odd_load, NULL, load, 1.25);
    double bounded = (now_ns() - t0) / (double)iters;
    printf("ring pick, %3zu nodes x 160 places: %6.1f ns plain, %6.1f ns filter + bounded load\n",
           n, plain, bounded);
    gw_ring_free(r);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    if (iters <= 0) iters = 2000000;
    printf("gw_pick_bench: %ld iterations each, %ld cores online\n", iters,
           sysconf(_SC_NPROCESSORS_ONLN));
    bench_ring(3, iters);
    bench_ring(10, iters);
    bench_ring(100, iters / 4);

    double w[100];
    for (int i = 0; i < 100; i++) w[i] = 1 + i % 5;
    gw_alias *a = NULL;
    if (gw_alias_build(w, 100, &a) != 0) return 1;
    uint64_t rng = 2;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) sink += gw_alias_pick(a, gw_rand_next(&rng));
    printf("alias pick, 100 weights: %.1f ns\n", (now_ns() - t0) / (double)iters);
    gw_alias_free(a);

    gw_breaker_set set;
    gw_breaker_set_init(&set, NULL);
    gw_breaker br;
    gw_breaker_join(&br, &set, 0);
    t0 = now_ns();
    for (long i = 0; i < iters; i++) sink += gw_breaker_can_send(&br, (uint64_t)i);
    printf("breaker can_send: %.1f ns\n", (now_ns() - t0) / (double)iters);

    gw_latency l;
    gw_latency_init(&l, 0, 0, 0);
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        gw_latency_add(&l, (uint64_t)i / 1000, 500 + gw_rand_next(&rng) % 5000);
    printf("latency add (decay every 625 ms of ms clock): %.1f ns\n",
           (now_ns() - t0) / (double)iters);
    t0 = now_ns();
    for (long i = 0; i < iters / 10; i++)
        sink += gw_latency_quantile(&l, (uint64_t)iters / 1000, 0.95);
    printf("latency p95: %.1f ns\n", (now_ns() - t0) / (double)(iters / 10));
    return 0;
}
