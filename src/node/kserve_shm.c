/* Client shared-memory tensors of one request, for the HTTP and gRPC codecs alike: take and
 * drop references on client regions, copy inputs in and outputs out (see kserve_shm.h). */
#include <stdio.h>
#include <string.h>

#include "kserve.h"
#include "kserve_place.h"
#include "kserve_shm.h"

int kserve_shm_spec_check(kserve_shm_spec *s, int has_region, int has_size, int has_offset,
                          const char *what, char *err, size_t err_len)
{
    s->present = 0;
    if (!has_region && !has_size && !has_offset) return 0;
    if (!has_region || !has_size) {
        snprintf(err, err_len,
                 "%s: shared memory needs both parameters.shared_memory_region and "
                 "parameters.shared_memory_byte_size",
                 what);
        return -1;
    }
    s->present = 1;
    return 0;
}

/* client_shm_acquire, with the message saying which tensor and how to turn the feature on. */
static int acquire(client_shm *cshm, const kserve_shm_spec *s, const char *what,
                   client_shm_ref *ref, char *err, size_t err_len)
{
    char why[384];
    int rc =
        cshm ? client_shm_acquire(cshm, s->region, s->offset, s->byte_size, ref, why, sizeof why)
             : CLIENT_SHM_EOFF;
    if (rc == CLIENT_SHM_EOFF)
        snprintf(err, err_len,
                 "%s: client shared memory is disabled (start the node with "
                 "--allow-client-shm)",
                 what);
    else if (rc) snprintf(err, err_len, "%s: %s", what, why);
    return rc ? -1 : 0;
}

int kserve_shm_place_input(client_shm *cshm, const kserve_shm_spec *s, kserve_shm_refs *refs,
                           const char *tname, shm_tensor *t, int64_t elements,
                           const shm_region *region, shm_arena *arena, infer_request *req, int j,
                           int *seen, char *err, size_t err_len, int *status)
{
    char what[MODEL_NAME_LEN + 16];
    snprintf(what, sizeof what, "input '%s'", tname);
    client_shm_ref *ref = &refs->in[j];
    if (acquire(cshm, s, what, ref, err, err_len)) return -1;
    return kserve_place_bytes(tname, "its shared memory", t, elements, ref->ptr, ref->len, 1,
                              region, arena, req, j, seen, err, err_len, status);
}

int kserve_shm_take_output(client_shm *cshm, const kserve_shm_spec *s, kserve_shm_refs *refs, int j,
                           const char *what, char *err, size_t err_len)
{
    if (acquire(cshm, s, what, &refs->out[j], err, err_len)) return -1;
    refs->outputs |= 1u << j;
    snprintf(refs->out_region[j], sizeof refs->out_region[j], "%s", s->region);
    return 0;
}

int kserve_shm_write_output(const kserve_shm_refs *refs, int i, const char *name,
                            const shm_region *region, const shm_tensor *t, char *err,
                            size_t err_len)
{
    const client_shm_ref *ref = &refs->out[i];
    char why[256];
    if (kserve_check_output(region, t, why, sizeof why)) {
        snprintf(err, err_len, "output '%s': %s", name, why);
        return 500;
    }
    if (t->nbytes > ref->len) {
        snprintf(err, err_len,
                 "output '%s' is %llu bytes, more than the %llu of its shared_memory_byte_size",
                 name, (unsigned long long)t->nbytes, (unsigned long long)ref->len);
        return 400;
    }
    if (client_shm_copy(ref->ptr, shm_arena_ptr(region, t->offset), t->nbytes) != 0) {
        snprintf(err, err_len,
                 "output '%s': the shared memory region '%s' shrank while it was "
                 "written",
                 name, refs->out_region[i]);
        return 400;
    }
    return 0;
}

void kserve_shm_refs_release(client_shm *cshm, kserve_shm_refs *refs)
{
    for (int i = 0; i < MODEL_MAX_IO; i++) {
        if (cshm) {
            client_shm_release(cshm, &refs->in[i]);
            client_shm_release(cshm, &refs->out[i]);
        }
    }
    refs->outputs = 0;
}
