/* Node-private buddy allocator over the region's arena. Metadata (block orders, free lists)
 * lives in node memory, so nothing a worker writes can corrupt it. O(log n) alloc and free,
 * freed buddies coalesce, every block is 256-byte aligned (>= SHM_ALIGN). */
#include "shm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define UNIT_SHIFT 8 /* 256-byte units */
#define UNIT       ((uint64_t)1 << UNIT_SHIFT)
#define MAX_ORDER  32
#define NONE       UINT32_MAX
#define HEAD_FREE  0x80 /* state byte: block head, free; low bits = order */
#define HEAD_USED  0x40 /* state byte: block head, allocated */

struct shm_arena {
    pthread_mutex_t mu;
    uint32_t units;
    uint8_t *state;        /* per unit: 0 = not a block head, else HEAD_* | order */
    uint32_t *next, *prev; /* free-list links, per unit (valid for free heads) */
    uint32_t free_head[MAX_ORDER + 1];
    _Atomic uint64_t used;
};

static void list_push(shm_arena *a, uint32_t u, unsigned order)
{
    a->state[u] = (uint8_t)(HEAD_FREE | order);
    a->prev[u] = NONE;
    a->next[u] = a->free_head[order];
    if (a->free_head[order] != NONE) a->prev[a->free_head[order]] = u;
    a->free_head[order] = u;
}

static void list_remove(shm_arena *a, uint32_t u, unsigned order)
{
    if (a->prev[u] != NONE) a->next[a->prev[u]] = a->next[u];
    else a->free_head[order] = a->next[u];
    if (a->next[u] != NONE) a->prev[a->next[u]] = a->prev[u];
    a->state[u] = 0;
}

shm_arena *shm_arena_create(shm_region *region)
{
    uint64_t units = region->arena_size >> UNIT_SHIFT;
    if (units == 0 || units >= NONE) return NULL;
    shm_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->units = (uint32_t)units;
    a->state = calloc(units, 1);
    a->next = malloc(units * sizeof(uint32_t));
    a->prev = malloc(units * sizeof(uint32_t));
    if (!a->state || !a->next || !a->prev || pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a->state);
        free(a->next);
        free(a->prev);
        free(a);
        return NULL;
    }
    for (unsigned k = 0; k <= MAX_ORDER; k++) a->free_head[k] = NONE;
    /* Cover [0, units) with the largest aligned power-of-two blocks that fit. */
    uint32_t u = 0;
    while (u < a->units) {
        unsigned k = 0;
        while (k < MAX_ORDER && (u & ((1ull << (k + 1)) - 1)) == 0 &&
               (uint64_t)u + (1ull << (k + 1)) <= a->units)
            k++;
        list_push(a, u, k);
        u += 1u << k;
    }
    return a;
}

void shm_arena_destroy(shm_arena *a)
{
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a->state);
    free(a->next);
    free(a->prev);
    free(a);
}

int shm_arena_alloc(shm_arena *a, uint64_t size, uint64_t *offset)
{
    if (size == 0) size = 1;
    if (size > (uint64_t)a->units << UNIT_SHIFT) return -ENOMEM;
    uint64_t units = (size + UNIT - 1) >> UNIT_SHIFT;
    unsigned order = 0;
    while ((1ull << order) < units) order++;
    pthread_mutex_lock(&a->mu);
    unsigned k = order;
    while (k <= MAX_ORDER && a->free_head[k] == NONE) k++;
    if (k > MAX_ORDER) {
        pthread_mutex_unlock(&a->mu);
        return -ENOMEM;
    }
    uint32_t u = a->free_head[k];
    list_remove(a, u, k);
    while (k > order) { /* split, keeping the lower half */
        k--;
        list_push(a, u + (1u << k), k);
    }
    a->state[u] = (uint8_t)(HEAD_USED | order);
    atomic_fetch_add_explicit(&a->used, UNIT << order, memory_order_relaxed);
    pthread_mutex_unlock(&a->mu);
    *offset = (uint64_t)u << UNIT_SHIFT;
    return 0;
}

void shm_arena_free(shm_arena *a, uint64_t offset)
{
    if (!a || offset & (UNIT - 1) || (offset >> UNIT_SHIFT) >= a->units) return;
    uint32_t u = (uint32_t)(offset >> UNIT_SHIFT);
    pthread_mutex_lock(&a->mu);
    if (!(a->state[u] & HEAD_USED)) { /* not an allocated block: ignore (double free) */
        pthread_mutex_unlock(&a->mu);
        return;
    }
    unsigned k = a->state[u] & 0x3f;
    atomic_fetch_sub_explicit(&a->used, UNIT << k, memory_order_relaxed);
    a->state[u] = 0;
    while (k < MAX_ORDER) {
        uint32_t buddy = u ^ (1u << k);
        if ((uint64_t)buddy + (1ull << k) > a->units || a->state[buddy] != (HEAD_FREE | k)) break;
        list_remove(a, buddy, k);
        if (buddy < u) u = buddy;
        k++;
    }
    list_push(a, u, k);
    pthread_mutex_unlock(&a->mu);
}

uint64_t shm_arena_used(const shm_arena *a)
{
    return atomic_load_explicit(&((shm_arena *)a)->used, memory_order_relaxed);
}
