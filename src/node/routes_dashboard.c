/* GET /dashboard: the live dashboard page and its script and style, compiled into the binary
 * (src/node/dashboard/, turned into C arrays at build time), so it works with no internet. */
#include <stddef.h>
#include <string.h>

#include "routes.h"

extern const unsigned char dashboard_index_html[], dashboard_dashboard_js[],
    dashboard_dashboard_css[];
extern const size_t dashboard_index_html_len, dashboard_dashboard_js_len,
    dashboard_dashboard_css_len;

typedef struct dashboard_asset {
    const char *name; /* NULL: the page */
    const char *type;
    const unsigned char *data;
    const size_t *len;
} dashboard_asset;

void routes_dashboard(http_exchange *ex, const char *file)
{
    const dashboard_asset assets[] = {
        {NULL, "text/html; charset=utf-8", dashboard_index_html, &dashboard_index_html_len},
        {"dashboard.js", "text/javascript; charset=utf-8", dashboard_dashboard_js,
         &dashboard_dashboard_js_len},
        {"dashboard.css", "text/css; charset=utf-8", dashboard_dashboard_css,
         &dashboard_dashboard_css_len},
    };
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        const dashboard_asset *a = &assets[i];
        if (a->name ? !file || strcmp(file, a->name) != 0 : file != NULL) continue;
        http_span span = {a->data, *a->len};
        http_ex_respond_spans(ex, 200, a->type, NULL, 0, &span, 1, "Cache-Control: no-cache\r\n",
                              NULL, NULL);
        return;
    }
    http_ex_error(ex, 404, "", "no dashboard file %.100s", file ? file : "");
}
