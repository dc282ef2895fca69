/* The Prometheus text format writer (include/inferd/prom.h): families, escaped labels,
 * counters, gauges and cumulative histograms into one growable buffer. */
#include "inferd/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(prom_writer *w)
{
    memset(w, 0, sizeof(*w));
    http_buf_init(&w->buf);
}

void prom_free(prom_writer *w)
{
    http_buf_free(&w->buf);
    prom_init(w);
}

char *prom_take(prom_writer *w, size_t *len)
{
    char *d = NULL;
    size_t n = 0;
    if (!w->failed && !w->buf.oom) d = http_buf_take(&w->buf, &n);
    if (!d) n = 0;
    if (len) *len = n;
    prom_free(w);
    return d;
}

static void put(prom_writer *w, const char *s, size_t n)
{
    if (!w->failed) http_buf_append(&w->buf, s, n);
}

static void puts_(prom_writer *w, const char *s)
{
    put(w, s, strlen(s));
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
    if (w->failed || w->buf.oom) return;
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
        if (!w->failed) http_buf_printf(&w->buf, " %llu\n", (unsigned long long)cum);
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
    if (!w->failed) http_buf_printf(&w->buf, " %llu\n", (unsigned long long)cum);
}
