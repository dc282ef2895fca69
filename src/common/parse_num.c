/* Strict decimal integers for command lines (include/inferd/parse_num.h). */
#include "inferd/parse_num.h"

#include <errno.h>
#include <stdlib.h>

int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}
