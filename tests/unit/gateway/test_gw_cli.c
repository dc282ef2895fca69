/* gw_cli: the gateway's flags and node addresses, good and bad, and the routing key rules
 * (gw_route_key.c): which paths name a model, which are inferences, what the key hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "gw_cli.h"
#include "gw_proxy.h"

static int parse(gw_cli *o, char *err, size_t len, ...)
{
    char *argv[32] = {"inferd-gateway"};
    int argc = 1;
    va_list ap;
    va_start(ap, len);
    for (char *a; (a = va_arg(ap, char *)) && argc < 31;) argv[argc++] = a;
    va_end(ap);
    return gw_cli_parse(argc, argv, o, err, len);
}

static void test_node_addresses(void **state)
{
    (void)state;
    gw_node_spec s;
    char err[256];
    assert_int_equal(gw_cli_parse_node("127.0.0.1:8000", &s, err, sizeof err), 0);
    assert_string_equal(s.name, "127.0.0.1:8000");
    assert_int_equal(s.weight, 1);
    assert_int_equal(s.addr.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&s.addr)->sin_port), 8000);
    assert_int_equal(gw_cli_parse_node("127.0.0.1:9,weight=7", &s, err, sizeof err), 0);
    assert_string_equal(s.name, "127.0.0.1:9");
    assert_int_equal(s.weight, 7);
    assert_int_equal(gw_cli_parse_node("[::1]:8001", &s, err, sizeof err), 0);
    assert_int_equal(s.addr.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port), 8001);
    assert_int_equal(gw_cli_parse_node("localhost:80", &s, err, sizeof err), 0);
    static const char *bad[] = {"127.0.0.1",
                                "127.0.0.1:",
                                ":80",
                                "127.0.0.1:0",
                                "127.0.0.1:65536",
                                "127.0.0.1:8x",
                                "127.0.0.1:80,w=2",
                                "127.0.0.1:80,weight=0",
                                "127.0.0.1:80,weight=1001",
                                "[::1:80",
                                NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(gw_cli_parse_node(bad[i], &s, err, sizeof err), -1);
        assert_true(strstr(err, "--node") != NULL);
    }
}

static void test_flags(void **state)
{
    (void)state;
    gw_cli o;
    char err[256];
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "0", "--node", "127.0.0.1:1",
                           "--node", "127.0.0.1:2,weight=3", "--threads", "3",
                           "--hash-balance-factor", "1.5", "--health-interval-ms", "200",
                           "--hedge-percent", "0", "--max-retries", "4", "--log-format", "json",
                           NULL),
                     0);
    assert_int_equal(o.http.port, 0);
    assert_int_equal(o.n_specs, 2);
    assert_int_equal(o.specs[1].weight, 3);
    assert_int_equal(o.http.threads, 3);
    assert_true(o.nodes.balance_factor == 1.5);
    assert_int_equal(o.health.interval_ms, 200);
    assert_true(o.nodes.hedge_ratio == 0.0);
    assert_int_equal(o.max_retries, 4);
    assert_int_equal(o.format, LOG_FORMAT_JSON);
    gw_cli_free(&o);
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "8080", "--node-dns",
                           "inferd.default.svc:8000", "--dns-server", "127.0.0.1:5353", NULL),
                     0);
    assert_string_equal(o.health.dns_name, "inferd.default.svc");
    assert_int_equal(o.health.dns_port, 8000);
    assert_string_equal(o.health.dns_server, "127.0.0.1:5353");
    gw_cli_free(&o);
    /* defaults of the issue: factor 1.25, 160 vnodes, 1 s checks, 2 out, 2 in, 5 outliers */
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "1", "--node", "127.0.0.1:1", NULL),
                     0);
    assert_true(o.nodes.balance_factor == 1.25);
    assert_int_equal(o.nodes.vnodes, 160);
    assert_int_equal(o.health.interval_ms, 1000);
    assert_int_equal(o.nodes.fail_threshold, 2);
    assert_int_equal(o.nodes.success_threshold, 2);
    assert_int_equal(o.nodes.outlier_consecutive, 5);
    gw_cli_free(&o);
}

static void test_bad_flags(void **state)
{
    (void)state;
    gw_cli o;
    char err[256];
    struct {
        const char *a[6];
        const char *msg;
    } cases[] = {
        {{"--node", "127.0.0.1:1"}, "--http-port is required"},
        {{"--http-port", "0"}, "no nodes"},
        {{"--http-port", "-1", "--node", "127.0.0.1:1"}, "--http-port"},
        {{"--http-port", "0", "--node", "127.0.0.1:1", "--threads", "65"}, "--threads"},
        {{"--http-port", "0", "--node", "127.0.0.1:1", "--hash-balance-factor", "x"},
         "--hash-balance-factor"},
        {{"--http-port", "0", "--node", "127.0.0.1:1", "--max-retries", "11"}, "--max-retries"},
        {{"--http-port", "0", "--node", "127.0.0.1:1", "extra"}, "unexpected argument"},
        {{"--http-port", "0", "--node", "127.0.0.1:1", "--dns-server", "1.1.1.1"},
         "need --node-dns"},
        {{"--http-port", "0", "--node-dns", "name:99999"}, "NAME:PORT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[8] = {"inferd-gateway"};
        int argc = 1;
        for (int k = 0; k < 6 && cases[i].a[k]; k++) argv[argc++] = (char *)cases[i].a[k];
        err[0] = '\0';
        assert_int_equal(gw_cli_parse(argc, argv, &o, err, sizeof err), -1);
        if (!strstr(err, cases[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
        gw_cli_free(&o);
    }
}

static void test_route_model_and_key(void **state)
{
    (void)state;
    char m[GW_MODEL_LEN];
    int infer;
    gw_route_model("/v2/models/identity/infer", m, sizeof m, &infer);
    assert_string_equal(m, "identity");
    assert_int_equal(infer, 1);
    gw_route_model("/v2/models/identity/versions/1/infer", m, sizeof m, &infer);
    assert_string_equal(m, "identity");
    assert_int_equal(infer, 1);
    gw_route_model("/v2/models/identity/config", m, sizeof m, &infer);
    assert_string_equal(m, "identity");
    assert_int_equal(infer, 0);
    gw_route_model("/process", m, sizeof m, &infer);
    assert_string_equal(m, "reverse");
    assert_int_equal(infer, 1);
    static const char *none[] = {"/v2",
                                 "/v2/models/stats",
                                 "/v2/models/",
                                 "/v2/health/ready",
                                 "/v2/repository/index",
                                 "/metrics",
                                 NULL};
    for (int i = 0; none[i]; i++) {
        gw_route_model(none[i], m, sizeof m, &infer);
        assert_string_equal(m, "");
        assert_int_equal(infer, 0);
    }
    char longpath[400] = "/v2/models/";
    memset(longpath + 11, 'a', 300);
    gw_route_model(longpath, m, sizeof m, &infer); /* too long for a model name: none */
    assert_string_equal(m, "");
    /* the key: the header alone if given; else model and body together */
    assert_true(gw_route_key("k", "a", "x", 1) == gw_route_key("k", "b", "y", 1));
    assert_true(gw_route_key(NULL, "a", "x", 1) == gw_route_key(NULL, "a", "x", 1));
    assert_true(gw_route_key(NULL, "a", "x", 1) != gw_route_key(NULL, "b", "x", 1));
    assert_true(gw_route_key(NULL, "a", "x", 1) != gw_route_key(NULL, "a", "y", 1));
}

static void test_grpc_flags(void **state)
{
    (void)state;
    gw_cli o;
    char err[256];
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "0", "--node", "127.0.0.1:1", NULL),
                     0);
    assert_int_equal(o.grpc_port, -1);
    gw_cli_free(&o);
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "0", "--node", "127.0.0.1:1",
                           "--grpc-port", "0", "--node-grpc-port", "8001", NULL),
                     0);
    assert_int_equal(o.grpc_port, 0);
    assert_int_equal(o.node_grpc_port, 8001);
    gw_cli_free(&o);
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "0", "--node", "127.0.0.1:1",
                           "--grpc-port", "9", NULL),
                     -1);
    assert_non_null(strstr(err, "--node-grpc-port"));
    gw_cli_free(&o);
    assert_int_equal(parse(&o, err, sizeof err, "--http-port", "0", "--node", "127.0.0.1:1",
                           "--grpc-port", "9", "--node-grpc-port", "0", NULL),
                     -1);
    gw_cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_addresses), cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_flags),      cmocka_unit_test(test_route_model_and_key),
        cmocka_unit_test(test_grpc_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
