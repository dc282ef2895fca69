/* The Prometheus text format writer (include/inferd/prom.h): families, escaped labels,
 * counters, gauges and cumulative histograms into one growable buffer. */
#include "inferd/prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(prom_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void prom_free(prom_writer *w)
{
    free(w->data);
    prom_init(w);
}

char *prom_take(prom_writer *w, size_t *len)
{
    char *d = w->failed ? NULL : w->data;
    if (len) *len = d ? w->len : 0;
    if (!d) free(w->data);
    prom_init(w);
    return d;
}

static int reserve(prom_writer *w, size_t more)
{
    if (w->failed) return -1;
    if (more > SIZE_MAX - w->len - 1) {
        w->failed = 1;
        return -1;
    }
    size_t need = w->len + more + 1;
    if (need <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *d = realloc(w->data, cap);
    if (!d) {
        w->failed = 1;
        return -1;
    }
    w->data = d;
    w->cap = cap;
    return 0;
}

static void put(prom_writer *w, const char *s, size_t n)
{
    if (reserve(w, n) != 0) return;
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void puts_(prom_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void printf_(prom_writer *w, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        w->failed = 1;
        return;
    }
    put(w, tmp, (size_t)n);
}

static int name_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p > s && *p >= '0' && *p <= '9')) return 0;
    }
    return 1;
}

/* HELP escapes \ and newline; label values also ". */
static void put_escaped(prom_writer *w, const char *s, int quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\') puts_(w, "\\\\");
        else if (*p == '\n') puts_(w, "\\n");
        else if (quote && *p == '"') puts_(w, "\\\"");
        else put(w, p, 1);
    }
}

/* The shortest decimal that reads back as v (0.00025, not 0.00025000000000000001). */
static void format_double(char *out, size_t cap, double v)
{
    if (isnan(v)) snprintf(out, cap, "NaN");
    else if (isinf(v)) snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else if (v == trunc(v) && fabs(v) < 9007199254740992.0) /* exact integers as such */
        snprintf(out, cap, "%.0f", v);
    else
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, v);
            if (strtod(out, NULL) == v) break;
        }
}

static void put_value(prom_writer *w, double v)
{
    char tmp[64];
    format_double(tmp, sizeof(tmp), v);
    puts_(w, tmp);
}

void prom_family(prom_writer *w, const char *name, prom_type type, const char *help)
{
    if (w->failed) return;
    if (!name_ok(name) || strlen(name) >= sizeof(w->family)) {
        w->failed = 1;
        return;
    }
    snprintf(w->family, sizeof(w->family), "%s", name);
    w->type = type;
    /* In format 0.0.4 the family is named as its samples are (x_total for a counter). */
    puts_(w, "# HELP ");
    puts_(w, name);
    puts_(w, " ");
    put_escaped(w, help ? help : "", 0);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    puts_(w, type == PROM_COUNTER ? " counter\n"
             : type == PROM_GAUGE ? " gauge\n"
                                  : " histogram\n");
}

static void put_labels(prom_writer *w, const prom_label *labels, int n, const char *le)
{
    if (n <= 0 && !le) return;
    puts_(w, "{");
    for (int i = 0; i < n; i++) {
        if (!name_ok(labels[i].name)) {
            w->failed = 1;
            return;
        }
        if (i) puts_(w, ",");
        puts_(w, labels[i].name);
        puts_(w, "=\"");
        put_escaped(w, labels[i].value ? labels[i].value : "", 1);
        puts_(w, "\"");
    }
    if (le) {
        if (n > 0) puts_(w, ",");
        puts_(w, "le=\"");
        puts_(w, le);
        puts_(w, "\"");
    }
    puts_(w, "}");
}

void prom_sample(prom_writer *w, const prom_label *labels, int n_labels, double value)
{
    if (w->failed || !w->family[0] || w->type == PROM_HISTOGRAM) {
        w->failed = 1;
        return;
    }
    puts_(w, w->family);
    put_labels(w, labels, n_labels, NULL);
    puts_(w, " ");
    put_value(w, value);
    puts_(w, "\n");
}

void prom_histogram(prom_writer *w, const prom_label *labels, int n_labels, const double *bounds,
                    const uint64_t *counts, int n_bounds, double sum)
{
    if (w->failed || !w->family[0] || w->type != PROM_HISTOGRAM) {
        w->failed = 1;
        return;
    }
    uint64_t cum = 0;
    char le[64];
    for (int i = 0; i <= n_bounds; i++) {
        cum += counts[i];
        if (i < n_bounds) format_double(le, sizeof(le), bounds[i]);
        else snprintf(le, sizeof(le), "+Inf");
        puts_(w, w->family);
        puts_(w, "_bucket");
        put_labels(w, labels, n_labels, le);
        printf_(w, " %llu\n", (unsigned long long)cum);
    }
    puts_(w, w->family);
    puts_(w, "_sum");
    put_labels(w, labels, n_labels, NULL);
    puts_(w, " ");
    put_value(w, sum);
    puts_(w, "\n");
    puts_(w, w->family);
    puts_(w, "_count");
    put_labels(w, labels, n_labels, NULL);
    printf_(w, " %llu\n", (unsigned long long)cum);
}
