/* Per-loop recycled request jobs: fixed-size blocks that a loop thread allocates for a request
 * and gives back once it is answered, so a warm loop serves infer without malloc. A block
 * comes back as it was given back (not zeroed): the caller sets what it reads. */
#ifndef INFERD_ROUTES_JOB_CACHE_H
#define INFERD_ROUTES_JOB_CACHE_H

#include <stddef.h>

typedef struct routes_job_cache routes_job_cache;

/* A cache for n_loops loops (loop index 0..n_loops-1, http_ex_loop_index) of blocks of
 * block_size bytes, keeping at most keep_per_loop free blocks per loop. NULL when out of
 * memory or an argument is out of range (callers then use plain calloc/free). Owned by the
 * caller: destroy it after every loop stopped and every block went back. */
routes_job_cache *routes_job_cache_create(int n_loops, size_t block_size, int keep_per_loop);
void routes_job_cache_destroy(routes_job_cache *c); /* frees the kept blocks; NULL is fine */

/* A block for loop `loop` (c not NULL), or NULL when out of memory: a new one is zeroed, a
 * reused one holds what it held when put back, but for its first sizeof(void *) bytes (zeroed).
 * Only loop's own thread calls this for a given loop (no lock); a loop out of range gets a
 * plain calloc. The
 * caller owns the block until it gives it back with routes_job_cache_put, with the same loop. */
void *routes_job_cache_get(routes_job_cache *c, int loop);

/* Gives a block from routes_job_cache_get(c, loop) back, on loop's thread: kept for reuse while
 * the loop holds fewer than keep_per_loop, else freed. NULL block: nothing. */
void routes_job_cache_put(routes_job_cache *c, int loop, void *block);

#endif
