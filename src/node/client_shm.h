/* Client system shared memory (Triton's systemsharedmemory extension): a registry of POSIX
 * shared-memory objects that local clients created and named, mapped read/write by the node,
 * so infer requests can name their input and output tensors by (region, offset, byte_size)
 * instead of sending the bytes. One registry per node, shared by the HTTP and gRPC front ends.
 *
 * Trust: the client owns the object and may write it at any time; the node only copies
 * bytes in (inputs, into the arena) and out (outputs, from the arena), never reads a length
 * or offset from the region, and checks offset + size against the region's registered size,
 * which is checked against the object's real size (fstat) at registration and again at each
 * acquire. A client that shrinks its object during a copy makes the copy fail, not the node
 * (client_shm_copy catches the SIGBUS).
 *
 * Life cycle of a region: register (shm_open, fstat, mmap of the page-aligned span holding
 * [offset, offset + byte_size)) -> used by requests (each takes a reference with
 * client_shm_acquire and drops it with client_shm_release) -> unregister (refused while a
 * reference is held; then munmap). The object itself is never unlinked: it is the client's.
 *
 * Threads: every call may come from any thread (one mutex inside). */
#ifndef NODE_CLIENT_SHM_H
#define NODE_CLIENT_SHM_H

#include <stddef.h>
#include <stdint.h>

#define CLIENT_SHM_NAME_MAX    128 /* region names and keys, bytes without the NUL */
#define CLIENT_SHM_MAX_REGIONS 64  /* default limit of a registry */

/* Error codes (negative). The front end maps them: HTTP 400 for all (as Triton does), except
 * CLIENT_SHM_EOFF (403); gRPC INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
 * FAILED_PRECONDITION (busy), RESOURCE_EXHAUSTED (full), UNAVAILABLE (off), INTERNAL. */
enum client_shm_error {
    CLIENT_SHM_OK = 0,
    CLIENT_SHM_EINVAL = -1,    /* bad name, key, offset or size; object too small; cannot map */
    CLIENT_SHM_ENOTFOUND = -2, /* no region of that name registered */
    CLIENT_SHM_EEXIST = -3,    /* a region of that name is already registered */
    CLIENT_SHM_EBUSY = -4,     /* requests in flight still use the region */
    CLIENT_SHM_EFULL = -5,     /* max_regions reached */
    CLIENT_SHM_EOFF = -6,      /* the node runs without --allow-client-shm */
    CLIENT_SHM_ENOMEM = -7,
};

typedef struct client_shm client_shm;

/* What status reports for one region (copied out; no pointer into the registry). */
typedef struct client_shm_info {
    char name[CLIENT_SHM_NAME_MAX + 1];
    char key[CLIENT_SHM_NAME_MAX + 1];
    uint64_t offset;    /* into the object, as registered */
    uint64_t byte_size; /* as registered */
    int refs;           /* requests in flight using it */
} client_shm_info;

/* A request's hold on [offset, offset + byte_size) of a region: ptr is valid, read/write,
 * until client_shm_release. */
typedef struct client_shm_ref {
    void *region; /* opaque; NULL = holds nothing */
    uint8_t *ptr;
    uint64_t len;
} client_shm_ref;

/* Creates a registry (when enabled, installs the SIGBUS handler of client_shm_copy).
 * enabled = 0 makes every call but destroy return CLIENT_SHM_EOFF.
 * max_regions <= 0 means CLIENT_SHM_MAX_REGIONS. Returns NULL when out of memory. The caller
 * frees it with client_shm_destroy. */
client_shm *client_shm_create(int enabled, int max_regions);
/* Unmaps every region (held references or not: call after the front ends have stopped). */
void client_shm_destroy(client_shm *r);
int client_shm_enabled(const client_shm *r);
int client_shm_max_regions(const client_shm *r); /* the limit: size of a full status array */

/* Registers name -> the object `key` (as given to shm_open, e.g. "/my_input"), bytes
 * [offset, offset + byte_size) of it. byte_size must be > 0 and offset + byte_size at most the
 * object's size. Returns 0 or a client_shm_error with err filled. */
int client_shm_register(client_shm *r, const char *name, const char *key, uint64_t offset,
                        uint64_t byte_size, char *err, size_t err_len);
/* Unregisters name, or every region when name is NULL. A region in use is refused
 * (CLIENT_SHM_EBUSY); with name NULL, the regions not in use are still unregistered and the
 * call returns CLIENT_SHM_EBUSY naming one that was kept. 0 or a client_shm_error. */
int client_shm_unregister(client_shm *r, const char *name, char *err, size_t err_len);

/* Status: copies the region called name (or, name NULL, every region, in registration order,
 * at most max) into out. Returns how many were copied (with name: 1), or a client_shm_error
 * (CLIENT_SHM_ENOTFOUND for an unknown name). */
int client_shm_status(client_shm *r, const char *name, client_shm_info *out, int max, char *err,
                      size_t err_len);

/* Takes a reference to [offset, offset + byte_size) of the region called name (offsets are
 * relative to the registered region, as in Triton's shared_memory_offset). Fails with
 * CLIENT_SHM_ENOTFOUND or CLIENT_SHM_EINVAL (span outside the region, or the object is now
 * smaller than the registered region). On success the caller
 * must call client_shm_release(r, ref) exactly once. */
int client_shm_acquire(client_shm *r, const char *name, uint64_t offset, uint64_t byte_size,
                       client_shm_ref *ref, char *err, size_t err_len);
/* Drops ref's reference (no-op if ref holds nothing) and clears ref. */
void client_shm_release(client_shm *r, client_shm_ref *ref);

/* Copies n bytes to or from a region's memory (ref->ptr...): 0, or -1 if the client shrank
 * its object under the copy (the access raised SIGBUS, caught; dst may be partly written).
 * Needs the process-wide SIGBUS handler that client_shm_create installs when enabled
 * (client_shm_guard_init; client_shm_copy.c). */
int client_shm_copy(void *dst, const void *src, size_t n);
int client_shm_guard_init(void);

/* Short text for a code ("not found", ...). */
const char *client_shm_strerror(int code);

#endif
