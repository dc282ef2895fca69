/* Retry budget, hedge token bucket and full-jitter backoff (gw_budget.h). */
#include "gw_budget.h"

void gw_retry_budget_init(gw_retry_budget *b, uint32_t percent, uint32_t min_retries)
{
    b->percent = percent;
    b->min_retries = min_retries;
    atomic_init(&b->active, 0);
    atomic_init(&b->retries, 0);
}

void gw_retry_budget_request_begin(gw_retry_budget *b)
{
    atomic_fetch_add_explicit(&b->active, 1, memory_order_relaxed);
}

/* Decrements without going below 0 (an unmatched end is a caller bug, not a wrap). */
static void dec_floor(_Atomic uint32_t *v)
{
    uint32_t cur = atomic_load_explicit(v, memory_order_relaxed);
    while (cur > 0 &&
           !atomic_compare_exchange_weak_explicit(v, &cur, cur - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void gw_retry_budget_request_end(gw_retry_budget *b) { dec_floor(&b->active); }

bool gw_retry_budget_retry_begin(gw_retry_budget *b)
{
    uint64_t active = atomic_load_explicit(&b->active, memory_order_relaxed);
    uint64_t allowed = active * b->percent / 100;
    if (allowed < b->min_retries)
        allowed = b->min_retries;
    uint32_t cur = atomic_load_explicit(&b->retries, memory_order_relaxed);
    do {
        if (cur >= allowed)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&b->retries, &cur, cur + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

void gw_retry_budget_retry_end(gw_retry_budget *b) { dec_floor(&b->retries); }

uint32_t gw_retry_budget_active(const gw_retry_budget *b)
{
    return atomic_load_explicit(&((gw_retry_budget *)b)->active, memory_order_relaxed);
}

uint32_t gw_retry_budget_retries(const gw_retry_budget *b)
{
    return atomic_load_explicit(&((gw_retry_budget *)b)->retries, memory_order_relaxed);
}

void gw_hedge_bucket_init(gw_hedge_bucket *b, uint32_t earn_milli, uint32_t cap_tokens)
{
    b->earn_milli = earn_milli;
    b->cap_milli = (uint64_t)cap_tokens * 1000;
    atomic_init(&b->milli, 0);
}

void gw_hedge_bucket_earn(gw_hedge_bucket *b)
{
    uint64_t cur = atomic_load_explicit(&b->milli, memory_order_relaxed);
    uint64_t next;
    do {
        if (cur >= b->cap_milli)
            return;
        next = cur + b->earn_milli;
        if (next > b->cap_milli)
            next = b->cap_milli;
    } while (!atomic_compare_exchange_weak_explicit(&b->milli, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

bool gw_hedge_bucket_spend(gw_hedge_bucket *b)
{
    uint64_t cur = atomic_load_explicit(&b->milli, memory_order_relaxed);
    do {
        if (cur < 1000)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&b->milli, &cur, cur - 1000,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

double gw_hedge_bucket_tokens(const gw_hedge_bucket *b)
{
    return (double)atomic_load_explicit(&((gw_hedge_bucket *)b)->milli, memory_order_relaxed) /
           1000.0;
}

uint64_t gw_backoff_ms(uint64_t base_ms, uint64_t cap_ms, uint32_t attempt, uint64_t u)
{
    uint64_t ceiling = base_ms;
    for (uint32_t i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling = ceiling > UINT64_MAX / 2 ? UINT64_MAX : ceiling * 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (ceiling == UINT64_MAX)
        return u;
    return u % (ceiling + 1);
}
