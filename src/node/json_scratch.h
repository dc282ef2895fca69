/* jansson's allocator for the node: the JSON tree of one request body is carved from a
 * per-thread scratch block instead of one malloc per value (docs/design.md "Memory and writes
 * per request"). */
#ifndef INFERD_JSON_SCRATCH_H
#define INFERD_JSON_SCRATCH_H

#include <stddef.h>

/* Bytes in each thread's scratch block; a window needing more spills to malloc. */
#define JSON_SCRATCH_BYTES (16u << 10)

/* Makes jansson allocate through this file (json_set_alloc_funcs, process-wide). Call once,
 * before any thread that may use jansson starts. Outside a window the functions are plain
 * malloc/free, so strings from json_dumps may still be freed with free(). */
void json_scratch_install(void);

/* Opens a window on the calling thread (windows nest): until the matching json_scratch_end,
 * jansson values this thread makes live in its scratch block, and freeing them costs nothing.
 * Rule: every such value is json_decref'ed on this thread before the outermost window closes.
 * At the outermost end the block is reused from its start; if a value is still live there
 * (the rule was broken) the block is never used again on this thread and a warning is logged. */
void json_scratch_begin(void);
void json_scratch_end(void);

/* For tests, on the calling thread: bytes of the block handed out in the open window, and
 * values from the block not yet freed. */
size_t json_scratch_used(void);
size_t json_scratch_live(void);

#endif
