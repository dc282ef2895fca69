/* The client shared-memory registry (client_shm.h): a small table of mapped POSIX objects
 * under one mutex, each with a reference count held by the requests that use it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_shm.h"

typedef struct shm_entry {
    client_shm_info info;
    uint8_t *map; /* mmap base (page-aligned, at or below info.offset) */
    size_t map_len;
    uint8_t *data; /* map + (info.offset - page-aligned offset) */
    int fd;        /* kept open: fstat at each acquire sees a shrunk object */
    int refs;
} shm_entry;

struct client_shm {
    pthread_mutex_t lock;
    int enabled;
    int max;
    int n;
    shm_entry **regions; /* [max], the first n used, in registration order */
};

const char *client_shm_strerror(int code)
{
    switch (code) {
    case CLIENT_SHM_OK: return "ok";
    case CLIENT_SHM_EINVAL: return "invalid argument";
    case CLIENT_SHM_ENOTFOUND: return "not found";
    case CLIENT_SHM_EEXIST: return "already exists";
    case CLIENT_SHM_EBUSY: return "in use";
    case CLIENT_SHM_EFULL: return "too many regions";
    case CLIENT_SHM_EOFF: return "client shared memory is disabled";
    case CLIENT_SHM_ENOMEM: return "out of memory";
    default: return "error";
    }
}

static int fail(int code, char *err, size_t err_len, const char *msg)
{
    if (err && err_len) snprintf(err, err_len, "%s", msg);
    return code;
}

static int off(char *err, size_t err_len)
{
    return fail(CLIENT_SHM_EOFF, err, err_len,
                "client shared memory is disabled (start the node with --allow-client-shm)");
}

client_shm *client_shm_create(int enabled, int max_regions)
{
    client_shm *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->enabled = enabled;
    if (enabled && client_shm_guard_init() != 0) {
        free(r);
        return NULL;
    }
    r->max = max_regions > 0 ? max_regions : CLIENT_SHM_MAX_REGIONS;
    r->regions = calloc((size_t)r->max, sizeof *r->regions);
    if (!r->regions || pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r->regions);
        free(r);
        return NULL;
    }
    return r;
}

static void entry_free(shm_entry *e)
{
    if (e->map) munmap(e->map, e->map_len);
    if (e->fd >= 0) close(e->fd);
    free(e);
}

void client_shm_destroy(client_shm *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) entry_free(r->regions[i]);
    pthread_mutex_destroy(&r->lock);
    free(r->regions);
    free(r);
}

int client_shm_enabled(const client_shm *r)
{
    return r && r->enabled;
}

int client_shm_max_regions(const client_shm *r)
{
    return r->max;
}

static int find(const client_shm *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->regions[i]->info.name, name) == 0) return i;
    return -1;
}

static int name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CLIENT_SHM_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

/* Opens and maps the object; fills e's mapping. 0 or CLIENT_SHM_EINVAL with err. */
static int map_object(shm_entry *e, char *err, size_t err_len)
{
    const client_shm_info *in = &e->info;
    /* shm_open wants "/name" with no further slash */
    if (in->key[0] != '/' || strchr(in->key + 1, '/') || !in->key[1]) {
        snprintf(err, err_len, "key '%s': must be a shm_open name like \"/name\"", in->key);
        return CLIENT_SHM_EINVAL;
    }
    int fd = shm_open(in->key, O_RDWR, 0);
    if (fd < 0) {
        snprintf(err, err_len, "key '%s': cannot open the shared-memory object: %s", in->key,
                 strerror(errno));
        return CLIENT_SHM_EINVAL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, err_len, "key '%s': not a shared-memory object", in->key);
        return CLIENT_SHM_EINVAL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (in->offset > size || in->byte_size > size - in->offset) {
        close(fd);
        snprintf(err, err_len,
                 "key '%s': offset %llu + byte_size %llu is beyond the object's %llu bytes",
                 in->key, (unsigned long long)in->offset, (unsigned long long)in->byte_size,
                 (unsigned long long)size);
        return CLIENT_SHM_EINVAL;
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = in->offset - in->offset % page;
    uint64_t len = in->offset - start + in->byte_size;
    if (len > SIZE_MAX) {
        close(fd);
        snprintf(err, err_len, "key '%s': region too large to map", in->key);
        return CLIENT_SHM_EINVAL;
    }
    void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
    if (p == MAP_FAILED) {
        close(fd);
        snprintf(err, err_len, "key '%s': cannot map it: %s", in->key, strerror(errno));
        return CLIENT_SHM_EINVAL;
    }
    e->fd = fd;
    e->map = p;
    e->map_len = (size_t)len;
    e->data = e->map + (in->offset - start);
    return 0;
}

int client_shm_register(client_shm *r, const char *name, const char *key, uint64_t offset,
                        uint64_t byte_size, char *err, size_t err_len)
{
    if (!r->enabled) return off(err, err_len);
    if (!name_ok(name))
        return fail(CLIENT_SHM_EINVAL, err, err_len, "region name must be 1..128 printable bytes");
    if (!name_ok(key))
        return fail(CLIENT_SHM_EINVAL, err, err_len, "key must be 1..128 printable bytes");
    if (byte_size == 0) return fail(CLIENT_SHM_EINVAL, err, err_len, "byte_size must be > 0");
    if (offset > INT64_MAX || byte_size > INT64_MAX - offset)
        return fail(CLIENT_SHM_EINVAL, err, err_len, "offset + byte_size overflows");
    shm_entry *e = calloc(1, sizeof *e);
    if (!e) return fail(CLIENT_SHM_ENOMEM, err, err_len, "out of memory");
    e->fd = -1;
    snprintf(e->info.name, sizeof e->info.name, "%s", name);
    snprintf(e->info.key, sizeof e->info.key, "%s", key);
    e->info.offset = offset;
    e->info.byte_size = byte_size;
    pthread_mutex_lock(&r->lock);
    int rc = CLIENT_SHM_OK;
    if (find(r, name) >= 0) {
        snprintf(err, err_len, "shared memory region '%s' is already registered", name);
        rc = CLIENT_SHM_EEXIST;
    } else if (r->n == r->max) {
        snprintf(err, err_len, "cannot register '%s': the limit of %d regions is reached", name,
                 r->max);
        rc = CLIENT_SHM_EFULL;
    } else if ((rc = map_object(e, err, err_len)) == 0) {
        r->regions[r->n++] = e;
        e = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    if (e) entry_free(e);
    return rc;
}

static void remove_at(client_shm *r, int i)
{
    entry_free(r->regions[i]);
    memmove(&r->regions[i], &r->regions[i + 1], (size_t)(r->n - i - 1) * sizeof *r->regions);
    r->n--;
}

int client_shm_unregister(client_shm *r, const char *name, char *err, size_t err_len)
{
    if (!r->enabled) return off(err, err_len);
    int rc = CLIENT_SHM_OK;
    pthread_mutex_lock(&r->lock);
    if (name) {
        int i = find(r, name);
        if (i < 0) {
            snprintf(err, err_len, "no shared memory region '%.128s' is registered", name);
            rc = CLIENT_SHM_ENOTFOUND;
        } else if (r->regions[i]->refs) {
            snprintf(err, err_len, "shared memory region '%s' is in use by %d request(s)", name,
                     r->regions[i]->refs);
            rc = CLIENT_SHM_EBUSY;
        } else {
            remove_at(r, i);
        }
    } else {
        for (int i = r->n - 1; i >= 0; i--) {
            if (!r->regions[i]->refs) {
                remove_at(r, i);
            } else if (rc == CLIENT_SHM_OK) {
                snprintf(err, err_len, "shared memory region '%s' is in use by %d request(s)",
                         r->regions[i]->info.name, r->regions[i]->refs);
                rc = CLIENT_SHM_EBUSY;
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int client_shm_status(client_shm *r, const char *name, client_shm_info *out, int max, char *err,
                      size_t err_len)
{
    if (!r->enabled) return off(err, err_len);
    int n = 0;
    pthread_mutex_lock(&r->lock);
    if (name) {
        int i = find(r, name);
        if (i < 0) {
            pthread_mutex_unlock(&r->lock);
            snprintf(err, err_len, "no shared memory region '%.128s' is registered", name);
            return CLIENT_SHM_ENOTFOUND;
        }
        if (max > 0) {
            out[0] = r->regions[i]->info;
            out[0].refs = r->regions[i]->refs;
            n = 1;
        }
    } else {
        for (int i = 0; i < r->n && n < max; i++, n++) {
            out[n] = r->regions[i]->info;
            out[n].refs = r->regions[i]->refs;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

int client_shm_acquire(client_shm *r, const char *name, uint64_t offset, uint64_t byte_size,
                       client_shm_ref *ref, char *err, size_t err_len)
{
    memset(ref, 0, sizeof *ref);
    if (!r->enabled) return off(err, err_len);
    pthread_mutex_lock(&r->lock);
    int i = find(r, name);
    int rc = CLIENT_SHM_OK;
    if (i < 0) {
        snprintf(err, err_len, "no shared memory region '%.128s' is registered", name);
        rc = CLIENT_SHM_ENOTFOUND;
    } else {
        shm_entry *e = r->regions[i];
        struct stat st;
        if (fstat(e->fd, &st) != 0 || (uint64_t)st.st_size < e->info.offset + e->info.byte_size) {
            snprintf(err, err_len,
                     "shared memory region '%s': its object '%s' is now smaller than the "
                     "registered region",
                     name, e->info.key);
            rc = CLIENT_SHM_EINVAL;
        } else if (offset > e->info.byte_size || byte_size > e->info.byte_size - offset) {
            snprintf(err, err_len,
                     "shared memory region '%s': offset %llu + byte_size %llu is beyond its "
                     "%llu bytes",
                     name, (unsigned long long)offset, (unsigned long long)byte_size,
                     (unsigned long long)e->info.byte_size);
            rc = CLIENT_SHM_EINVAL;
        } else {
            e->refs++;
            ref->region = e;
            ref->ptr = e->data + offset;
            ref->len = byte_size;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void client_shm_release(client_shm *r, client_shm_ref *ref)
{
    if (!ref->region) return;
    pthread_mutex_lock(&r->lock);
    ((shm_entry *)ref->region)->refs--;
    pthread_mutex_unlock(&r->lock);
    memset(ref, 0, sizeof *ref);
}
