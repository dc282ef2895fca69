/* jansson's allocator for the node: per-thread bump blocks for the JSON of one request,
 * plain malloc/free outside a window (json_scratch.h). */
#include "json_scratch.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "inferd/log.h"

/* Under ASan the block's free bytes are poisoned, so a value used after its window ends is
 * reported as it would be with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRATCH_ASAN 1
#endif
#endif
#ifdef SCRATCH_ASAN
#include <sanitizer/asan_interface.h>
#define SCRATCH_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define SCRATCH_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SCRATCH_POISON(p, n)   ((void)(p), (void)(n))
#define SCRATCH_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SCRATCH_ALIGN ((size_t)16) /* what malloc gives: jansson stores doubles and int64s */

typedef struct scratch {
    _Alignas(16) unsigned char block[JSON_SCRATCH_BYTES];
    size_t used;    /* bytes handed out since the outermost begin */
    size_t live;    /* values in the block not yet freed */
    unsigned depth; /* open windows */
    int spoiled;    /* a value outlived a window: the block is never handed out again */
} scratch;

static _Thread_local scratch tls_scratch;

static int in_block(const scratch *s, const void *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)s->block;
    return a >= base && a < base + sizeof s->block;
}

static void *scratch_malloc(size_t size)
{
    scratch *s = &tls_scratch;
    if (s->depth && !s->spoiled && size <= sizeof s->block) {
        size_t rounded = size ? (size + SCRATCH_ALIGN - 1) & ~(SCRATCH_ALIGN - 1) : SCRATCH_ALIGN;
        if (rounded <= sizeof s->block - s->used) {
            void *p = s->block + s->used;
            SCRATCH_UNPOISON(p, size);
            s->used += rounded;
            s->live++;
            return p;
        }
    }
    return malloc(size);
}

/* A pointer of this thread's block is given back to the block (nothing to do until the
 * window closes); anything else came from malloc. */
static void scratch_free(void *p)
{
    scratch *s = &tls_scratch;
    if (p && in_block(s, p)) {
        if (s->live) s->live--;
        return;
    }
    free(p);
}

void json_scratch_install(void)
{
    json_set_alloc_funcs(scratch_malloc, scratch_free);
}

void json_scratch_begin(void)
{
    tls_scratch.depth++;
}

void json_scratch_end(void)
{
    scratch *s = &tls_scratch;
    if (!s->depth || --s->depth) return;
    if (s->live && !s->spoiled) {
        s->spoiled = 1;
        log_warn("json scratch: %zu values outlived their window; this thread's block is no "
                 "longer used",
                 s->live);
    }
    if (!s->spoiled) {
        SCRATCH_POISON(s->block, s->used);
        s->used = 0;
    }
}

size_t json_scratch_used(void)
{
    return tls_scratch.used;
}

size_t json_scratch_live(void)
{
    return tls_scratch.live;
}
