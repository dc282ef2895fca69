/* Walker's alias table built with Vose's algorithm (gw_alias.h). Each column holds its own
 * index with probability threshold / 2^32 and its alias otherwise. */
#include "gw_alias.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct gw_alias {
    size_t n;
    uint64_t *threshold; /* in [0, 2^32]: keep the column when the low 32 bits are below it */
    uint32_t *alias;
};

int gw_alias_build(const double *weights, size_t n, gw_alias **out)
{
    *out = NULL;
    if (n == 0 || n > GW_ALIAS_MAX || !weights)
        return -EINVAL;
    double sum = 0;
    size_t positive = n;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(weights[i]) || weights[i] < 0)
            return -EINVAL;
        sum += weights[i];
        if (weights[i] > 0)
            positive = i;
    }
    if (!(sum > 0) || !isfinite(sum))
        return -EINVAL;
    gw_alias *t = calloc(1, sizeof *t);
    double *scaled = calloc(n, sizeof *scaled);
    uint32_t *small = calloc(n, sizeof *small), *large = calloc(n, sizeof *large);
    if (t) {
        t->threshold = calloc(n, sizeof *t->threshold);
        t->alias = calloc(n, sizeof *t->alias);
    }
    if (!t || !scaled || !small || !large || !t->threshold || !t->alias) {
        free(scaled), free(small), free(large);
        gw_alias_free(t);
        return -ENOMEM;
    }
    t->n = n;
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        scaled[i] = weights[i] * (double)n / sum;
        if (scaled[i] < 1.0)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    const double one = 4294967296.0; /* 2^32 */
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];
        t->threshold[s] = weights[s] > 0 ? (uint64_t)(scaled[s] * one) : 0;
        t->alias[s] = l;
        scaled[l] = (scaled[l] + scaled[s]) - 1.0;
        if (scaled[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    /* What is left is 1 up to rounding. A zero weight must never keep its column, whatever
     * the rounding did: send it to a positive entry. */
    while (nl) {
        uint32_t l = large[--nl];
        t->threshold[l] = (uint64_t)1 << 32;
        t->alias[l] = l;
    }
    while (ns) {
        uint32_t s = small[--ns];
        t->threshold[s] = weights[s] > 0 ? (uint64_t)1 << 32 : 0;
        t->alias[s] = weights[s] > 0 ? s : (uint32_t)positive;
    }
    free(scaled), free(small), free(large);
    *out = t;
    return 0;
}

void gw_alias_free(gw_alias *table)
{
    if (!table)
        return;
    free(table->threshold);
    free(table->alias);
    free(table);
}

size_t gw_alias_size(const gw_alias *table) { return table->n; }

size_t gw_alias_pick(const gw_alias *table, uint64_t u)
{
    size_t column = (size_t)(((u >> 32) * (uint64_t)table->n) >> 32);
    uint64_t coin = u & 0xffffffffu;
    return coin < table->threshold[column] ? column : table->alias[column];
}
