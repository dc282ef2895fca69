/* inferctl perf --plot: latency (p50, p90, p99) against throughput as a hand-written SVG,
 * one point per measurement step, axes from zero with round tick steps. */
#include <stdio.h>

#include "perf.h"

#define W 720.0
#define H 440.0
#define LEFT 80.0
#define RIGHT 150.0
#define TOP 40.0
#define BOTTOM 60.0

/* A round step (1, 2 or 5 x 10^k) giving about five ticks up to max. */
static double tick_step(double max)
{
    double raw = max / 5, p = 1;
    while (p * 10 <= raw)
        p *= 10;
    while (p > raw && p > 1e-9)
        p /= 10;
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
}

int perf_svg_write(const char *path, const char *title, const perf_row *rows, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static const double qs[] = {50, 90, 99};
    static const char *const names[] = {"p50", "p90", "p99"};
    static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#d62728"};
    double xmax = 0, ymax = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].res->throughput_per_s > xmax)
            xmax = rows[i].res->throughput_per_s;
        double y = (double)perf_hist_percentile(&rows[i].res->hist, 99) / 1e6;
        if (y > ymax)
            ymax = y;
    }
    double xs = tick_step(xmax > 0 ? xmax : 1), ys = tick_step(ymax > 0 ? ymax : 1);
    double xtop = xs, ytop = ys;
    while (xtop < xmax)
        xtop += xs;
    while (ytop < ymax)
        ytop += ys;
    double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(v) (LEFT + (v) / xtop * pw)
#define PY(v) (TOP + ph - (v) / ytop * ph)
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%.0f\" y=\"24\" font-size=\"15\">",
            W, H, W, H, LEFT);
    xml_text(f, title);
    fprintf(f, "</text>\n<g stroke=\"#ccc\">\n");
    for (double v = 0; v <= xtop + xs / 2; v += xs)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX(v), TOP, PX(v),
                TOP + ph);
    for (double v = 0; v <= ytop + ys / 2; v += ys)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT, PY(v),
                LEFT + pw, PY(v));
    fprintf(f, "</g>\n<g fill=\"#333\">\n");
    for (double v = 0; v <= xtop + xs / 2; v += xs)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(v),
                TOP + ph + 18, v);
    for (double v = 0; v <= ytop + ys / 2; v += ys)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 6,
                PY(v) + 4, v);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">throughput (requests/s)"
               "</text>\n"
               "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">"
               "latency (ms)</text>\n</g>\n",
            LEFT + pw / 2, H - 16, TOP + ph / 2);
    for (size_t q = 0; q < 3; q++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                colors[q]);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(rows[i].res->throughput_per_s),
                    PY((double)perf_hist_percentile(&rows[i].res->hist, qs[q]) / 1e6));
        fprintf(f, "\"/>\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    PX(rows[i].res->throughput_per_s),
                    PY((double)perf_hist_percentile(&rows[i].res->hist, qs[q]) / 1e6), colors[q]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n", LEFT + pw + 16,
                TOP + 20 + 18 * (double)q, colors[q], names[q]);
    }
    fprintf(f, "</svg>\n");
    int bad = ferror(f);
    return (fclose(f) != 0 || bad) ? -1 : 0;
}
