/* The client library's one growable-buffer rule (answers being read, tensors being built). */
#ifndef INFERD_CLIENT_BUF_H
#define INFERD_CLIENT_BUF_H

#include <stddef.h>

/* Makes *buf (realloc'd, capacity *cap) hold at least need bytes, doubling from 4 KiB.
 * Returns 0, or -1 (out of memory; *buf unchanged). */
int client_buf_reserve(void **buf, size_t *cap, size_t need);

#endif
