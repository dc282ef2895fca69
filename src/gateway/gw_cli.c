/* Parsing the gateway's flags and config file (gw_cli.h). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gw_cli.h"
#include "inferd/parse_num.h"

void gw_cli_usage(FILE *f)
{
    fprintf(
        f,
        "usage: inferd-gateway --http-port N --node HOST:PORT[,weight=W] [--node ...] [options]\n"
        "Routes the node API (KServe v2 HTTP, POST /process) over many inferd nodes.\n\n"
        "  --http-port N             port to listen on (0 = any free port; required)\n"
        "  --host ADDR               address to bind (default 0.0.0.0)\n"
        "  --threads N               event-loop threads (default 2)\n"
        "  --node HOST:PORT[,weight=W]  a node (repeatable; weight 1..1000, default 1)\n"
        "  --config FILE             JSON {\"nodes\": [\"HOST:PORT[,weight=W]\" or\n"
        "                            {\"address\": \"HOST:PORT\", \"weight\": W}, ...]}\n"
        "  --node-dns NAME:PORT      discover nodes: resolve NAME (A/AAAA) every few seconds\n"
        "  --dns-server IP[:PORT]    DNS server for --node-dns (default: the system's)\n"
        "  --dns-srv                 --node-dns looks up SRV records (their ports are used)\n"
        "  --dns-interval-ms N       between lookups (default 5000)\n"
        "  --hash-balance-factor F   bounded load: a node above F x average in-flight load\n"
        "                            passes a request on along the ring (default 1.25)\n"
        "  --vnodes N                ring places per unit of weight (default 160)\n"
        "  --health-interval-ms N    active check of each node (default 1000)\n"
        "  --health-timeout-ms N     per check (default 1000)\n"
        "  --health-fail-threshold N   failed checks that take a node out (default 2)\n"
        "  --health-success-threshold N  passed checks that bring it back (default 2)\n"
        "  --outlier-failures N      consecutive connect errors/5xx that eject (default 5)\n"
        "  --connect-timeout-ms N    upstream connect timeout (default 1000)\n"
        "  --request-timeout-ms N    when a request has no Inferd-Timeout-Ms (default 600000)\n"
        "  --max-retries N           retries per request (default 2)\n"
        "  --retry-budget-percent N  retries in flight / active requests (default 20)\n"
        "  --hedge-percent N         extra load hedges may add (default 5; 0 = no hedging)\n"
        "  --pool-size N             idle connections per node per thread (default 64)\n"
        "  --max-upstream-conns N    active connections per node per thread (default 256);\n"
        "                            requests beyond wait in a queue, or get 503 when full\n"
        "  --max-upstream-queue N    requests waiting per node per thread (default 1024)\n"
        "  --max-body-bytes N        largest request body (default 67108864)\n"
        "  --body-buffer-bytes N     bodies up to N are read whole (routing hash of the body,\n"
        "                            retries, hedges); larger ones stream through, routed by\n"
        "                            Inferd-Routing-Key or model, not retried once sent\n"
        "                            (default 1048576)\n"
        "  --max-response-bytes N    largest node HTTP response body (default 68157440;\n"
        "                            gRPC answers stream through, flow-controlled)\n"
        "  --grpc-port N             also serve gRPC (KServe v2, h2c) on N (0 = any free port;\n"
        "                            default off); needs --node-grpc-port\n"
        "  --node-grpc-port P        the nodes' gRPC port (the same on every node)\n"
        "  --drain-timeout-ms N      on SIGTERM, wait this long for in-flight requests\n"
        "                            (default 10000)\n"
        "  --log-level L             debug|info|warn|error|off (default info)\n"
        "  --log-format F            text|json (default text)\n"
        "  --help, --version\n");
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

int gw_cli_parse_node(const char *text, gw_node_spec *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->weight = 1;
    char buf[256];
    if (strlen(text) >= sizeof buf) return fail(err, err_len, "--node '%.40s...': too long", text);
    strcpy(buf, text);
    char *opts = strchr(buf, ',');
    if (opts) {
        *opts++ = '\0';
        int64_t w;
        if (strncmp(opts, "weight=", 7) != 0 || parse_i64(opts + 7, 1, 1000, &w))
            return fail(err, err_len, "--node '%s': expected HOST:PORT[,weight=1..1000]", text);
        out->weight = (uint32_t)w;
    }
    char *host = buf, *port = NULL;
    if (buf[0] == '[') { /* [v6]:port */
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':') return fail(err, err_len, "--node '%s': bad address", text);
        *close = '\0';
        host = buf + 1;
        port = close + 2;
    } else {
        port = strrchr(buf, ':');
        if (!port) return fail(err, err_len, "--node '%s': expected HOST:PORT", text);
        *port++ = '\0';
    }
    int64_t p;
    if (!host[0] || parse_i64(port, 1, 65535, &p))
        return fail(err, err_len, "--node '%s': expected HOST:PORT with a port 1..65535", text);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res)
        return fail(err, err_len, "--node '%s': cannot resolve '%s': %s", text, host,
                    gai_strerror(rc));
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    snprintf(out->name, sizeof out->name, "%.*s", (int)strcspn(text, ","), text);
    return 0;
}

static int add_node(gw_cli *o, const char *text, char *err, size_t err_len)
{
    if (o->n_specs >= GW_MAX_NODES) return fail(err, err_len, "more than %d nodes", GW_MAX_NODES);
    gw_node_spec *grown = realloc(o->specs, (size_t)(o->n_specs + 1) * sizeof *grown);
    if (!grown) return fail(err, err_len, "out of memory");
    o->specs = grown;
    if (gw_cli_parse_node(text, &o->specs[o->n_specs], err, err_len)) return -1;
    for (int i = 0; i < o->n_specs; i++)
        if (strcmp(o->specs[i].name, o->specs[o->n_specs].name) == 0)
            return fail(err, err_len, "--node '%s' given twice", o->specs[i].name);
    o->n_specs++;
    return 0;
}

static int read_config(gw_cli *o, const char *path, char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) return fail(err, err_len, "--config %s: line %d: %s", path, jerr.line, jerr.text);
    json_t *nodes = json_object_get(doc, "nodes");
    int rc = 0;
    if (!json_is_array(nodes)) rc = fail(err, err_len, "--config %s: no \"nodes\" array", path);
    size_t i;
    json_t *v;
    json_array_foreach(nodes, i, v)
    {
        if (rc) break;
        char text[300];
        if (json_is_string(v)) {
            snprintf(text, sizeof text, "%s", json_string_value(v));
        } else if (json_is_object(v) && json_is_string(json_object_get(v, "address"))) {
            json_t *w = json_object_get(v, "weight");
            if (w && !json_is_integer(w)) {
                rc = fail(err, err_len, "--config %s: nodes[%zu].weight: not an integer", path, i);
                break;
            }
            snprintf(text, sizeof text, "%s,weight=%lld",
                     json_string_value(json_object_get(v, "address")),
                     w ? (long long)json_integer_value(w) : 1LL);
        } else {
            rc = fail(err, err_len,
                      "--config %s: nodes[%zu]: a string or {\"address\", \"weight\"}", path, i);
            break;
        }
        rc = add_node(o, text, err, err_len);
    }
    json_decref(doc);
    return rc;
}

static int parse_dns(gw_cli *o, const char *text, char *err, size_t err_len)
{
    const char *colon = strrchr(text, ':');
    int64_t p;
    if (!colon || colon == text || parse_i64(colon + 1, 1, 65535, &p))
        return fail(err, err_len, "--node-dns '%s': expected NAME:PORT", text);
    free(o->dns_name);
    o->dns_name = strndup(text, (size_t)(colon - text));
    if (!o->dns_name) return fail(err, err_len, "out of memory");
    o->health.dns_name = o->dns_name;
    o->health.dns_port = (uint16_t)p;
    return 0;
}

static void defaults(gw_cli *o)
{
    memset(o, 0, sizeof *o);
    http_options_default(&o->http);
    o->http.port = -1;
    gw_nodes_options_default(&o->nodes);
    gw_health_options_default(&o->health);
    gw_upstream_limits_default(&o->upstream);
    o->request_timeout_ms = 600000;
    o->max_retries = 2;
    o->body_buffer_bytes = (size_t)1 << 20;
    o->drain_timeout_ms = 10000;
    o->grpc_port = -1;
    o->level = LOG_INFO;
    o->format = LOG_FORMAT_TEXT;
}

int gw_cli_parse(int argc, char **argv, gw_cli *o, char *err, size_t err_len)
{
    enum {
        O_PORT = 1000,
        O_HOST,
        O_THREADS,
        O_NODE,
        O_CONFIG,
        O_DNS,
        O_DNS_SERVER,
        O_DNS_SRV,
        O_DNS_INTERVAL,
        O_FACTOR,
        O_VNODES,
        O_HINTERVAL,
        O_HTIMEOUT,
        O_HFAIL,
        O_HOK,
        O_OUTLIER,
        O_CONNECT,
        O_REQTIMEOUT,
        O_RETRIES,
        O_BUDGET,
        O_HEDGE,
        O_POOL,
        O_MAX_CONNS,
        O_MAX_QUEUE,
        O_BODY_BUFFER,
        O_BODY,
        O_RESPONSE,
        O_DRAIN,
        O_GRPC_PORT,
        O_NODE_GRPC_PORT,
        O_LEVEL,
        O_FORMAT,
        O_HELP,
        O_VERSION
    };
    static const struct option longopts[] = {
        {"http-port", required_argument, 0, O_PORT},
        {"host", required_argument, 0, O_HOST},
        {"threads", required_argument, 0, O_THREADS},
        {"node", required_argument, 0, O_NODE},
        {"config", required_argument, 0, O_CONFIG},
        {"node-dns", required_argument, 0, O_DNS},
        {"dns-server", required_argument, 0, O_DNS_SERVER},
        {"dns-srv", no_argument, 0, O_DNS_SRV},
        {"dns-interval-ms", required_argument, 0, O_DNS_INTERVAL},
        {"hash-balance-factor", required_argument, 0, O_FACTOR},
        {"vnodes", required_argument, 0, O_VNODES},
        {"health-interval-ms", required_argument, 0, O_HINTERVAL},
        {"health-timeout-ms", required_argument, 0, O_HTIMEOUT},
        {"health-fail-threshold", required_argument, 0, O_HFAIL},
        {"health-success-threshold", required_argument, 0, O_HOK},
        {"outlier-failures", required_argument, 0, O_OUTLIER},
        {"connect-timeout-ms", required_argument, 0, O_CONNECT},
        {"request-timeout-ms", required_argument, 0, O_REQTIMEOUT},
        {"max-retries", required_argument, 0, O_RETRIES},
        {"retry-budget-percent", required_argument, 0, O_BUDGET},
        {"hedge-percent", required_argument, 0, O_HEDGE},
        {"pool-size", required_argument, 0, O_POOL},
        {"max-upstream-conns", required_argument, 0, O_MAX_CONNS},
        {"max-upstream-queue", required_argument, 0, O_MAX_QUEUE},
        {"body-buffer-bytes", required_argument, 0, O_BODY_BUFFER},
        {"max-body-bytes", required_argument, 0, O_BODY},
        {"max-response-bytes", required_argument, 0, O_RESPONSE},
        {"drain-timeout-ms", required_argument, 0, O_DRAIN},
        {"grpc-port", required_argument, 0, O_GRPC_PORT},
        {"node-grpc-port", required_argument, 0, O_NODE_GRPC_PORT},
        {"log-level", required_argument, 0, O_LEVEL},
        {"log-format", required_argument, 0, O_FORMAT},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    defaults(o);
    int c;
    int64_t v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case O_PORT:
            if (parse_i64(optarg, 0, 65535, &v)) bad = "--http-port";
            else o->http.port = (int)v;
            break;
        case O_HOST: o->http.host = optarg; break;
        case O_THREADS:
            if (parse_i64(optarg, 1, 64, &v)) bad = "--threads";
            else o->http.threads = (int)v;
            break;
        case O_NODE:
            if (add_node(o, optarg, err, err_len)) return -1;
            break;
        case O_CONFIG:
            if (read_config(o, optarg, err, err_len)) return -1;
            break;
        case O_DNS:
            if (parse_dns(o, optarg, err, err_len)) return -1;
            break;
        case O_DNS_SERVER: o->health.dns_server = optarg; break;
        case O_DNS_SRV: o->health.dns_srv = 1; break;
        case O_DNS_INTERVAL:
            if (parse_i64(optarg, 100, 86400000, &v)) bad = "--dns-interval-ms";
            else o->health.dns_interval_ms = v;
            break;
        case O_FACTOR: {
            char *end;
            double f = strtod(optarg, &end);
            if (end == optarg || *end || !(f >= 1.0 && f <= 100.0)) bad = "--hash-balance-factor";
            else o->nodes.balance_factor = f;
            break;
        }
        case O_VNODES:
            if (parse_i64(optarg, 1, 10000, &v)) bad = "--vnodes";
            else o->nodes.vnodes = (uint32_t)v;
            break;
        case O_HINTERVAL:
            if (parse_i64(optarg, 10, 3600000, &v)) bad = "--health-interval-ms";
            else o->health.interval_ms = v;
            break;
        case O_HTIMEOUT:
            if (parse_i64(optarg, 10, 3600000, &v)) bad = "--health-timeout-ms";
            else o->health.timeout_ms = v;
            break;
        case O_HFAIL:
            if (parse_i64(optarg, 1, 100, &v)) bad = "--health-fail-threshold";
            else o->nodes.fail_threshold = (int)v;
            break;
        case O_HOK:
            if (parse_i64(optarg, 1, 100, &v)) bad = "--health-success-threshold";
            else o->nodes.success_threshold = (int)v;
            break;
        case O_OUTLIER:
            if (parse_i64(optarg, 1, 1000, &v)) bad = "--outlier-failures";
            else o->nodes.outlier_consecutive = (int)v;
            break;
        case O_CONNECT:
            if (parse_i64(optarg, 1, 600000, &v)) bad = "--connect-timeout-ms";
            else o->upstream.connect_timeout_ms = v;
            break;
        case O_REQTIMEOUT:
            if (parse_i64(optarg, 1, 86400000LL * 7, &v)) bad = "--request-timeout-ms";
            else o->request_timeout_ms = v;
            break;
        case O_RETRIES:
            if (parse_i64(optarg, 0, 10, &v)) bad = "--max-retries";
            else o->max_retries = (int)v;
            break;
        case O_BUDGET:
            if (parse_i64(optarg, 0, 100, &v)) bad = "--retry-budget-percent";
            else o->nodes.retry_ratio = (double)v / 100.0;
            break;
        case O_HEDGE:
            if (parse_i64(optarg, 0, 100, &v)) bad = "--hedge-percent";
            else o->nodes.hedge_ratio = (double)v / 100.0;
            break;
        case O_POOL:
            if (parse_i64(optarg, 0, 100000, &v)) bad = "--pool-size";
            else o->upstream.max_idle_per_node = (int)v;
            break;
        case O_MAX_CONNS:
            if (parse_i64(optarg, 1, 100000, &v)) bad = "--max-upstream-conns";
            else o->upstream.max_conns_per_node = (int)v;
            break;
        case O_BODY_BUFFER:
            if (parse_i64(optarg, 0, UINT32_MAX, &v)) bad = "--body-buffer-bytes";
            else o->body_buffer_bytes = (size_t)v;
            break;
        case O_MAX_QUEUE:
            if (parse_i64(optarg, 0, 1000000, &v)) bad = "--max-upstream-queue";
            else o->upstream.max_queue_per_node = (int)v;
            break;
        case O_BODY:
            if (parse_i64(optarg, 1, UINT32_MAX, &v)) bad = "--max-body-bytes";
            else o->http.max_body_bytes = (size_t)v;
            break;
        case O_RESPONSE:
            if (parse_i64(optarg, 1, UINT32_MAX, &v)) bad = "--max-response-bytes";
            else o->upstream.max_response_bytes = (size_t)v;
            break;
        case O_DRAIN:
            if (parse_i64(optarg, 0, 86400000, &v)) bad = "--drain-timeout-ms";
            else o->drain_timeout_ms = v;
            break;
        case O_GRPC_PORT:
            if (parse_i64(optarg, 0, 65535, &v)) bad = "--grpc-port";
            else o->grpc_port = (int)v;
            break;
        case O_NODE_GRPC_PORT:
            if (parse_i64(optarg, 1, 65535, &v)) bad = "--node-grpc-port";
            else o->node_grpc_port = (int)v;
            break;
        case O_LEVEL:
            if (log_level_parse(optarg, &o->level)) bad = "--log-level";
            break;
        case O_FORMAT:
            if (log_format_parse(optarg, &o->format)) bad = "--log-format";
            break;
        case 'h':
        case O_HELP: o->help = 1; return 0;
        case O_VERSION: o->version = 1; return 0;
        default: return fail(err, err_len, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (bad) return fail(err, err_len, "bad value '%s' for %s", optarg, bad);
    }
    if (optind < argc) return fail(err, err_len, "unexpected argument '%s'", argv[optind]);
    if (o->http.port < 0) return fail(err, err_len, "--http-port is required");
    if (o->n_specs == 0 && !o->dns_name)
        return fail(err, err_len, "no nodes: give --node HOST:PORT, --config FILE or --node-dns");
    if ((o->grpc_port >= 0) != (o->node_grpc_port > 0))
        return fail(err, err_len, "--grpc-port and --node-grpc-port go together");
    if ((o->health.dns_server || o->health.dns_srv) && !o->dns_name)
        return fail(err, err_len, "--dns-server and --dns-srv need --node-dns");
    return 0;
}

void gw_cli_free(gw_cli *o)
{
    free(o->specs);
    free(o->dns_name);
    o->specs = NULL;
    o->dns_name = NULL;
}
