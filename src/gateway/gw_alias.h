/* Weighted choice in O(1) per pick: Walker's alias method, built with Vose's stable
 * algorithm. For keyless traffic across nodes of different capacity: build a table from the
 * nodes' weights when they change, then every pick is one multiply and one compare.
 *
 * A table is immutable once built: any number of threads may pick from it at once. */
#ifndef GW_ALIAS_H
#define GW_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#define GW_ALIAS_MAX 65536 /* entries per table */

typedef struct gw_alias gw_alias;

/* Builds a table over weights[0..n-1] (finite, >= 0, at least one > 0; n <= GW_ALIAS_MAX).
 * 0 and *out (the caller frees it with gw_alias_free), or -EINVAL / -ENOMEM. An entry of
 * weight 0 is never picked. */
int gw_alias_build(const double *weights, size_t n, gw_alias **out);
void gw_alias_free(gw_alias *table); /* NULL is fine */

size_t gw_alias_size(const gw_alias *table);
/* An index in [0, n) chosen with probability weights[i] / sum, from one uniform random 64-bit
 * number u (e.g. gw_rand_next): its high 32 bits choose the column, the low 32 the coin. */
size_t gw_alias_pick(const gw_alias *table, uint64_t u);

#endif
