/* The client library's one growable-buffer rule (answers being read, tensors being built). */
#include <stdint.h>
#include <stdlib.h>

#include "client_buf.h"

int client_buf_reserve(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    void *nb = realloc(*buf, c);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = c;
    return 0;
}
