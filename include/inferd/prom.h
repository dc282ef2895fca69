/* A writer of the Prometheus text exposition format (version 0.0.4), for the node's and the
 * gateway's GET /metrics. The caller writes one family at a time: prom_family (its HELP and
 * TYPE lines), then every sample of that family, then the next family, so each family is one
 * group as the format requires. Label values and HELP text are escaped here; names are the
 * caller's constants ([a-zA-Z_:][a-zA-Z0-9_:]*, checked: a bad name marks the writer failed).
 * The text goes into a growable buffer owned by the writer; out of memory marks it failed and
 * later calls do nothing. Not thread-safe (one writer per response). */
#ifndef INFERD_PROM_H
#define INFERD_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/http_buf.h"

typedef enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM } prom_type;

typedef struct prom_label {
    const char *name;  /* a label name */
    const char *value; /* any UTF-8 text; escaped */
} prom_label;

typedef struct prom_writer {
    http_buf buf;     /* owned; the text so far */
    int failed;       /* out of memory or a bad name: the text is unusable */
    char family[128]; /* the family being written */
    prom_type type;
} prom_writer;

void prom_init(prom_writer *w);
/* Frees the buffer (if not taken). */
void prom_free(prom_writer *w);
/* Hands the text over (the caller frees it with free()); NULL if failed. w is empty after. */
char *prom_take(prom_writer *w, size_t *len);

/* Starts family name (for a counter name ends in _total, as the conventions ask; the TYPE
 * line names the family without it, as OpenMetrics and promtool expect either way). */
void prom_family(prom_writer *w, const char *name, prom_type type, const char *help);

/* One sample of the current counter or gauge family with labels[0..n_labels). */
void prom_sample(prom_writer *w, const prom_label *labels, int n_labels, double value);

/* One histogram of the current histogram family: counts[0..n_bounds] per bucket (not
 * cumulative, the last one is +Inf) over the ascending upper bounds[0..n_bounds), and the
 * sum of the observations. Writes the cumulative _bucket lines with le, then _sum and _count
 * (= the +Inf bucket). */
void prom_histogram(prom_writer *w, const prom_label *labels, int n_labels, const double *bounds,
                    const uint64_t *counts, int n_bounds, double sum);

#endif
