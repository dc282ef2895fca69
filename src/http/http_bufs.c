/* Write-buffer arithmetic in size_t: responses larger than 4 GiB must not be cut by
 * uv_buf_init's unsigned int length, and a partial write must advance the right buffer. */
#include "http_internal.h"

uv_buf_t http_buf_span(char *base, size_t len)
{
    uv_buf_t b;
    b.base = base;
    b.len = len; /* size_t on unix */
    return b;
}

int http_bufs_consume(uv_buf_t *bufs, int nb, size_t written)
{
    int i = 0;
    while (i < nb && written >= bufs[i].len) written -= bufs[i++].len;
    if (i == nb) return 0;
    bufs[i].base += written;
    bufs[i].len -= written;
    for (int j = i; j < nb; j++) bufs[j - i] = bufs[j];
    return nb - i;
}
