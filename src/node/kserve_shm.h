/* A request's tensors in client shared memory, for both front ends (HTTP's KServe codec and
 * gRPC's ModelInfer): the references a request holds on client regions (taken at decode,
 * dropped once answered), an input's bytes copied from its region into the arena, and an
 * output's bytes copied from the arena into its region. */
#ifndef NODE_KSERVE_SHM_H
#define NODE_KSERVE_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "client_shm.h"
#include "inferd/infer_request.h"
#include "inferd/model_config.h"
#include "inferd/shm.h"

/* shared_memory_region / _byte_size / _offset of one input or output, as the request gave
 * them (region borrowed from the request's decoded message) */
typedef struct kserve_shm_spec {
    int present;
    const char *region;
    uint64_t offset, byte_size;
} kserve_shm_spec;

/* The references one request holds; all zero = none. */
typedef struct kserve_shm_refs {
    uint32_t outputs; /* bit i: model output i is copied into out[i] */
    client_shm_ref out[MODEL_MAX_IO];
    char out_region[MODEL_MAX_IO][CLIENT_SHM_NAME_MAX + 1]; /* its name, for answers */
    client_shm_ref in[MODEL_MAX_IO]; /* inputs read from client shm (held to the end) */
} kserve_shm_refs;

/* Checks which of the three parameters were given: none (0, s->present = 0), or region and
 * byte_size (offset optional; 0, s->present = 1); anything else is -1 with err. what:
 * "input 'x'" or "outputs[3]", for messages. */
int kserve_shm_spec_check(kserve_shm_spec *s, int has_region, int has_size, int has_offset,
                          const char *what, char *err, size_t err_len);

/* Input j of the request: takes a reference to s's span (into refs->in[j]) and copies it into
 * a new arena buffer for tensor t, checked as kserve_place_bytes checks. cshm NULL or
 * disabled: refused. Returns 0, or -1 with err and *status (400; 503 when the arena is full);
 * seen[j] says whether req->inputs[j] holds an arena buffer to free. */
int kserve_shm_place_input(client_shm *cshm, const kserve_shm_spec *s, kserve_shm_refs *refs,
                           const char *tname, shm_tensor *t, int64_t elements,
                           const shm_region *region, shm_arena *arena, infer_request *req, int j,
                           int *seen, char *err, size_t err_len, int *status);

/* Output j of the request goes to s's span: takes the reference (into refs->out[j]) and marks
 * it in refs->outputs. 0, or -1 with err. */
int kserve_shm_take_output(client_shm *cshm, const kserve_shm_spec *s, kserve_shm_refs *refs, int j,
                           const char *what, char *err, size_t err_len);

/* Copies finished output tensor t (model output i, called name) from the arena into its
 * client region, after checking t against the arena and its shape (kserve_check_output).
 * Returns 0, 400 (it does not fit the span, or the region shrank) or 500 (t is
 * inconsistent), with err. */
int kserve_shm_write_output(const kserve_shm_refs *refs, int i, const char *name,
                            const shm_region *region, const shm_tensor *t, char *err,
                            size_t err_len);

/* Drops every reference refs holds (cshm may be NULL when refs holds none). */
void kserve_shm_refs_release(client_shm *cshm, kserve_shm_refs *refs);

#endif
