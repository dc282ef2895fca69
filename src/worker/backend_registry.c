/* The backends this build can run. Add a backend here and as one more source file. */
#include "backend.h"

#include <string.h>

extern const backend_ops backend_reverse;
extern const backend_ops backend_identity;
extern const backend_ops backend_delay;
#ifdef INFERD_HAVE_ONNX_BACKEND
extern const backend_ops backend_onnx;
#endif

static const backend_ops *const backends[] = {
    &backend_reverse,
    &backend_identity,
    &backend_delay,
#ifdef INFERD_HAVE_ONNX_BACKEND
    &backend_onnx,
#endif
};

const backend_ops *backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}
