/* Framing of Triton's binary tensor extension (pure functions, no allocation): where a
 * request body's JSON header ends (Inference-Header-Content-Length), and the walk over a BYTES
 * tensor's binary form (each element a 4-byte little-endian length, then its bytes). */
#ifndef NODE_KSERVE_BINARY_H
#define NODE_KSERVE_BINARY_H

#include <stddef.h>
#include <stdint.h>

/* header: the Inference-Header-Content-Length value, or NULL when the request has none.
 * Sets *json_len to the length of the JSON header at the start of a body of body_len bytes:
 * body_len with no header (the whole body is JSON), the header's value otherwise (0 = the
 * raw form: the whole body is one input's bytes). Returns 0, or -1 with err when the value is
 * not a plain decimal number or is larger than the body. */
int kserve_binary_split(const char *header, size_t body_len, size_t *json_len, char *err,
                        size_t err_len);

/* Walks len bytes of BYTES binary data: counts the elements into *elements. Returns 0, or -1
 * with err (naming the element) when an element's length runs past the end. */
int kserve_bytes_walk(const uint8_t *p, uint64_t len, int64_t *elements, char *err, size_t err_len);

#endif
