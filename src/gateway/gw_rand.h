/* The gateway's one source of cheap random numbers (splitmix64): for alias picks, backoff
 * jitter and the like, never for anything secret. A state per thread; seed it from anything. */
#ifndef GW_RAND_H
#define GW_RAND_H

#include <stdint.h>

static inline uint64_t gw_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
