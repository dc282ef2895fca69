/* How much extra load retries and hedges may add: a retry budget (retries in flight at most
 * max(min_retries, percent of active requests), as Envoy's retry_budget), a hedge token bucket
 * (each request earns a fraction of a token, a hedge spends a whole one: hedges stay under that
 * fraction of the load), and full-jitter exponential backoff (AWS architecture blog, 2015).
 *
 * The budget and the bucket are shared by all the gateway's loop threads: every function on
 * them is lock-free (C11 atomics) and may be called from any thread. Init before sharing. */
#ifndef GW_BUDGET_H
#define GW_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_RETRY_PERCENT_DEFAULT 20
#define GW_RETRY_MIN_DEFAULT 3

typedef struct gw_retry_budget {
    uint32_t percent;     /* of active requests */
    uint32_t min_retries; /* allowed however few are active */
    _Atomic uint32_t active;
    _Atomic uint32_t retries;
} gw_retry_budget;

void gw_retry_budget_init(gw_retry_budget *b, uint32_t percent, uint32_t min_retries);
/* A client request starts / has its answer (retries of it are not counted here). */
void gw_retry_budget_request_begin(gw_retry_budget *b);
void gw_retry_budget_request_end(gw_retry_budget *b);
/* May a retry go out? true: it is counted until gw_retry_budget_retry_end. */
bool gw_retry_budget_retry_begin(gw_retry_budget *b);
void gw_retry_budget_retry_end(gw_retry_budget *b);
uint32_t gw_retry_budget_active(const gw_retry_budget *b);
uint32_t gw_retry_budget_retries(const gw_retry_budget *b);

#define GW_HEDGE_EARN_MILLI_DEFAULT 50     /* 0.05 token per request: at most 5% extra */
#define GW_HEDGE_CAP_DEFAULT 10            /* tokens */

typedef struct gw_hedge_bucket {
    uint32_t earn_milli; /* thousandths of a token earned per request */
    uint64_t cap_milli;
    _Atomic uint64_t milli; /* tokens held, in thousandths */
} gw_hedge_bucket;

/* Starts empty. */
void gw_hedge_bucket_init(gw_hedge_bucket *b, uint32_t earn_milli, uint32_t cap_tokens);
void gw_hedge_bucket_earn(gw_hedge_bucket *b);  /* once per client request */
bool gw_hedge_bucket_spend(gw_hedge_bucket *b); /* true: a hedge may go, one token spent */
double gw_hedge_bucket_tokens(const gw_hedge_bucket *b);

/* Full jitter: a uniform delay in [0, min(cap_ms, base_ms * 2^attempt)], attempt 0 for the
 * first retry, u a uniform random 64-bit number. No overflow for any attempt. The caller must
 * still check that the delay plus the request fits before the deadline. */
uint64_t gw_backoff_ms(uint64_t base_ms, uint64_t cap_ms, uint32_t attempt, uint64_t u);

#endif
