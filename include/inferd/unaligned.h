/* Element i of a packed array of one scalar type, read or written with memcpy: no alignment
 * assumed (arena and tensor buffers may hold any offset). Native byte order, which is the
 * little-endian order of every tensor format inferd speaks on the machines it runs on. */
#ifndef INFERD_UNALIGNED_H
#define INFERD_UNALIGNED_H

#include <stdint.h>
#include <string.h>

#define INFERD_UNALIGNED_ACCESSORS(suffix, type)                         \
    static inline type inferd_load_##suffix(const void *p, int64_t i)    \
    {                                                                    \
        type v;                                                          \
        memcpy(&v, (const char *)p + (size_t)i * sizeof v, sizeof v);    \
        return v;                                                        \
    }                                                                    \
    static inline void inferd_store_##suffix(void *p, int64_t i, type v) \
    {                                                                    \
        memcpy((char *)p + (size_t)i * sizeof v, &v, sizeof v);          \
    }

INFERD_UNALIGNED_ACCESSORS(i16, int16_t)
INFERD_UNALIGNED_ACCESSORS(u16, uint16_t)
INFERD_UNALIGNED_ACCESSORS(i32, int32_t)
INFERD_UNALIGNED_ACCESSORS(u32, uint32_t)
INFERD_UNALIGNED_ACCESSORS(i64, int64_t)
INFERD_UNALIGNED_ACCESSORS(u64, uint64_t)
INFERD_UNALIGNED_ACCESSORS(f32, float)
INFERD_UNALIGNED_ACCESSORS(f64, double)

#endif
