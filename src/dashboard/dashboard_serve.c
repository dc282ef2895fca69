/* GET /dashboard: the live dashboard page and its script and style, compiled into the binary
 * (src/dashboard/, turned into C arrays at build time), so it works with no internet; and
 * mode.json, which tells the page whether a node or a gateway serves it. */
#include <stddef.h>
#include <string.h>

#include "inferd/dashboard.h"

extern const unsigned char dashboard_index_html[], dashboard_dashboard_js[],
    dashboard_dashboard_css[];
extern const size_t dashboard_index_html_len, dashboard_dashboard_js_len,
    dashboard_dashboard_css_len;

typedef struct dashboard_asset {
    const char *name; /* NULL: the page */
    const char *type;
    const unsigned char *data;
    size_t len;
} dashboard_asset;

void dashboard_serve(http_exchange *ex, const char *file, dashboard_mode mode)
{
    static const char node_mode[] = "{\"mode\": \"node\"}";
    static const char gateway_mode[] = "{\"mode\": \"gateway\"}";
    const char *mode_json = mode == DASHBOARD_GATEWAY ? gateway_mode : node_mode;
    const dashboard_asset assets[] = {
        {NULL, "text/html; charset=utf-8", dashboard_index_html, dashboard_index_html_len},
        {"dashboard.js", "text/javascript; charset=utf-8", dashboard_dashboard_js,
         dashboard_dashboard_js_len},
        {"dashboard.css", "text/css; charset=utf-8", dashboard_dashboard_css,
         dashboard_dashboard_css_len},
        {"mode.json", "application/json", (const unsigned char *)mode_json, strlen(mode_json)},
    };
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        const dashboard_asset *a = &assets[i];
        if (a->name ? !file || strcmp(file, a->name) != 0 : file != NULL) continue;
        http_span span = {a->data, a->len};
        http_ex_respond_spans(ex, 200, a->type, NULL, 0, &span, 1, "Cache-Control: no-cache\r\n",
                              NULL, NULL);
        return;
    }
    http_ex_error(ex, 404, "", "no dashboard file %.100s", file ? file : "");
}
