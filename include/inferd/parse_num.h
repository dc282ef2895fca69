/* Strict number parsing for command lines (node, gateway): the whole string, base 10, in
 * range, or an error; never a silently truncated or wrapped value. */
#ifndef INFERD_PARSE_NUM_H
#define INFERD_PARSE_NUM_H

#include <stdint.h>

/* Parses s as a decimal integer in lo..hi into *out. Returns 0, or -1 (empty, trailing
 * characters, overflow, out of range) leaving *out unchanged. */
int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

#endif
