/* gw_nodes: the node table and its routing glue: membership changes keep a node's slot,
 * keyed picks stick to a node and skip tried ones, only nodes serving the model are
 * candidates, a failed check or 5 passive failures take a node out (never more than half),
 * in-flight load is counted and bounded, and the JSON and the Prometheus text show it all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_nodes.h"
#include "inferd/prom.h"

#define NOW 1000000

static gw_node_spec spec(int port, uint32_t weight)
{
    gw_node_spec s;
    memset(&s, 0, sizeof s);
    struct sockaddr_in *a = (struct sockaddr_in *)&s.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(s.name, sizeof s.name, "127.0.0.1:%d", port);
    s.weight = weight;
    return s;
}

static gw_nodes *table(int n)
{
    gw_nodes_options o;
    gw_nodes_options_default(&o);
    gw_nodes *t = gw_nodes_new(&o);
    assert_non_null(t);
    gw_node_spec s[8];
    for (int i = 0; i < n; i++) s[i] = spec(9000 + i, 1);
    assert_int_equal(gw_nodes_set(t, s, n, NOW), 0);
    return t;
}

static int pick(gw_nodes *t, const char *model, uint64_t key, const gw_node_set *tried)
{
    gw_node_set none;
    memset(&none, 0, sizeof none);
    gw_pick p;
    if (gw_nodes_pick(t, model, 1, key, 0, tried ? tried : &none, NOW, &p) != 0) return -1;
    gw_nodes_done(t, p.node, model, GW_OUT_OK, 100, NOW);
    return p.node;
}

/* One request to node k (all others tried) on model, ended with outcome after us. */
static void observe(gw_nodes *t, int k, const char *model, int outcome, int64_t us, int64_t now)
{
    gw_node_set others;
    memset(&others, 0, sizeof others);
    for (int j = 0; j < 3; j++)
        if (j != k) gw_node_set_add(&others, j);
    gw_pick p;
    assert_int_equal(gw_nodes_pick(t, model, 1, 7, 0, &others, now, &p), 0);
    assert_int_equal(p.node, k);
    gw_nodes_done(t, k, model, outcome, us, now);
}

/* How many of 60 requests in flight over many keys node 0 holds at now (then all end). */
static int node0_share_at(gw_nodes *t, int64_t now)
{
    gw_node_set none;
    memset(&none, 0, sizeof none);
    int count = 0, held[60];
    for (int i = 0; i < 60; i++) {
        gw_pick p;
        assert_int_equal(
            gw_nodes_pick(t, "m", 1, (uint64_t)i * 0x9e3779b97f4a7c15ULL, 0, &none, now, &p), 0);
        held[i] = p.node;
        count += p.node == 0;
    }
    for (int i = 0; i < 60; i++) gw_nodes_done(t, held[i], "m", GW_OUT_CANCELLED, 0, now);
    return count;
}

static void test_keyed_picks_stick_and_skip_tried(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    int seen[3] = {0};
    for (uint64_t k = 1; k <= 300; k++) {
        int a = pick(t, "m", k * 0x9e3779b97f4a7c15ULL, NULL);
        assert_in_range(a, 0, 2);
        assert_int_equal(pick(t, "m", k * 0x9e3779b97f4a7c15ULL, NULL), a); /* sticks */
        seen[a]++;
        gw_node_set tried;
        memset(&tried, 0, sizeof tried);
        gw_node_set_add(&tried, a);
        int b = pick(t, "m", k * 0x9e3779b97f4a7c15ULL, &tried);
        assert_true(b >= 0 && b != a);
        gw_node_set_add(&tried, b);
        int c = pick(t, "m", k * 0x9e3779b97f4a7c15ULL, &tried);
        assert_true(c >= 0 && c != a && c != b);
        gw_node_set_add(&tried, c);
        assert_int_equal(pick(t, "m", k * 0x9e3779b97f4a7c15ULL, &tried), -1);
    }
    for (int i = 0; i < 3; i++) assert_true(seen[i] > 50); /* spread over all three */
    gw_nodes_free(t);
}

static void test_membership_keeps_slots(void **state)
{
    (void)state;
    gw_nodes *t = table(2);
    gw_node_spec s[2] = {spec(9001, 1), spec(9005, 2)}; /* 9000 leaves, 9005 joins */
    assert_int_equal(gw_nodes_set(t, s, 2, NOW), 0);
    int slots[8];
    struct sockaddr_storage addrs[8];
    int n = gw_nodes_targets(t, slots, addrs, 8);
    assert_int_equal(n, 2);
    assert_int_equal(slots[0], 1); /* 9001 kept its slot */
    assert_int_equal(slots[1], 2);
    for (uint64_t k = 0; k < 100; k++) assert_int_not_equal(pick(t, "m", k * 7919, NULL), 0);
    gw_nodes_free(t);
}

static void test_model_candidates(void **state)
{
    (void)state;
    gw_nodes *t = table(2);
    const char *a[] = {"identity"}, *b[] = {"reverse", "identity"};
    gw_nodes_set_models(t, 0, a, 1);
    gw_nodes_set_models(t, 1, b, 2);
    for (uint64_t k = 0; k < 50; k++) assert_int_equal(pick(t, "reverse", k * 104729, NULL), 1);
    int seen[2] = {0};
    for (uint64_t k = 0; k < 100; k++) seen[pick(t, "identity", k * 0x9e3779b97f4a7c15ULL, NULL)]++;
    assert_true(seen[0] > 0 && seen[1] > 0);
    /* a model nobody lists goes anywhere (the node answers 404) */
    assert_true(pick(t, "nosuch", 5, NULL) >= 0);
    gw_nodes_free(t);
}

static void test_checks_and_ejection(void **state)
{
    (void)state;
    gw_nodes *t = table(2);
    assert_int_equal(gw_nodes_any_ready(t, NOW), 0); /* not checked yet */
    gw_nodes_check_result(t, 0, 1, NOW);
    gw_nodes_check_result(t, 1, 1, NOW);
    assert_int_equal(gw_nodes_any_ready(t, NOW), 1);
    /* a node that says it is not ready (draining) takes nothing from the next pick on */
    gw_nodes_check_result(t, 0, 0, NOW);
    for (uint64_t k = 0; k < 50; k++) assert_int_equal(pick(t, "m", k * 104729, NULL), 1);
    gw_nodes_check_result(t, 0, 1, NOW);
    /* 5 passive failures in a row eject node 1 */
    gw_node_set none;
    memset(&none, 0, sizeof none);
    for (int i = 0; i < 5; i++) {
        gw_pick p;
        gw_node_set only0;
        memset(&only0, 0, sizeof only0);
        gw_node_set_add(&only0, 0);
        assert_int_equal(gw_nodes_pick(t, "m", 1, 1, 0, &only0, NOW, &p), 0);
        assert_int_equal(p.node, 1);
        gw_nodes_done(t, 1, "m", GW_OUT_FAIL, 0, NOW);
    }
    for (uint64_t k = 0; k < 50; k++) assert_int_equal(pick(t, "m", k * 104729, NULL), 0);
    size_t len;
    char *json = gw_nodes_json(t, NOW, &len);
    assert_non_null(json);
    assert_true(strstr(json, "\"breaker\": \"open\"") != NULL);
    assert_true(strstr(json, "\"ejections\": 1") != NULL);
    assert_true(strstr(json, "\"failures\": 5") != NULL);
    assert_true(strstr(json, "\"address\": \"127.0.0.1:9001\"") != NULL);
    free(json);
    /* node 0 cannot be ejected too: that would be more than half */
    for (int i = 0; i < 10; i++) {
        gw_pick p;
        assert_int_equal(gw_nodes_pick(t, "m", 1, 1, 0, &none, NOW, &p), 0);
        assert_int_equal(p.node, 0);
        gw_nodes_done(t, 0, "m", GW_OUT_FAIL, 0, NOW);
    }
    assert_int_equal(pick(t, "m", 3, NULL), 0);
    /* after the ejection time, one trial request goes to node 1 (half-open) */
    gw_pick p;
    gw_node_set only0;
    memset(&only0, 0, sizeof only0);
    gw_node_set_add(&only0, 0);
    assert_int_equal(gw_nodes_pick(t, "m", 1, 1, 0, &only0, NOW + 30001, &p), 0);
    assert_int_equal(p.node, 1);
    assert_int_equal(gw_nodes_pick(t, "m", 1, 1, 0, &only0, NOW + 30001, &p), -1);
    gw_nodes_done(t, 1, "m", GW_OUT_OK, 100, NOW + 30001);
    gw_nodes_free(t);
}

static void test_in_flight_and_bounded_load(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    gw_node_set none;
    memset(&none, 0, sizeof none);
    int count[3] = {0}, held[64];
    /* one hot key, 30 requests in flight: bounded load spreads them */
    for (int i = 0; i < 30; i++) {
        gw_pick p;
        assert_int_equal(gw_nodes_pick(t, "m", 1, 42, 0, &none, NOW, &p), 0);
        held[i] = p.node;
        count[p.node]++;
    }
    for (int i = 0; i < 3; i++) assert_true(count[i] <= 13); /* ceil(1.25 * 30 / 3) + 1 */
    size_t len;
    char *json = gw_nodes_json(t, NOW, &len);
    assert_true(strstr(json, "\"in_flight\": 0") == NULL);
    free(json);
    for (int i = 0; i < 30; i++) gw_nodes_done(t, held[i], "m", GW_OUT_OK, 1000, NOW);
    json = gw_nodes_json(t, NOW, &len);
    assert_true(strstr(json, "\"in_flight\": 1") == NULL);
    free(json);
    gw_nodes_free(t);
}

/* the pick that lands on node 0 (all others tried), its hedge time */
static int64_t hedge_on_node0(gw_nodes *t, const char *model, int64_t now)
{
    gw_node_set others;
    memset(&others, 0, sizeof others);
    for (int k = 1; k < 3; k++) gw_node_set_add(&others, k);
    gw_pick p;
    assert_int_equal(gw_nodes_pick(t, model, 1, 7, 0, &others, now, &p), 0);
    assert_int_equal(p.node, 0);
    gw_nodes_done(t, 0, model, GW_OUT_CANCELLED, 0, now);
    return p.hedge_ms;
}

static void test_hedge_time_is_the_fastest_nodes_p95(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    /* model m: node 0 answers in 50 ms, the others in 1 ms; model solo: only node 0, 50 ms */
    for (int i = 0; i < 40; i++) {
        for (int k = 0; k < 3; k++) observe(t, k, "m", GW_OUT_OK, k == 0 ? 50000 : 1000, NOW);
        observe(t, 0, "solo", GW_OUT_OK, 50000, NOW);
    }
    /* a request on the slow node hedges after the fast nodes' p95, not its own ~50 ms
     * (which has become its slowness: with it, none of its requests would hedge) */
    int64_t h = hedge_on_node0(t, "m", NOW + 200); /* past the 100 ms p95 cache */
    assert_true(h >= 1 && h <= 2);
    /* no other node has a p95 for the model: its own */
    h = hedge_on_node0(t, "solo", NOW + 200);
    assert_true(h >= 40 && h <= 60);
    gw_nodes_free(t);
    /* a fast node that cannot take requests (ejected: 5 failures) does not count */
    t = table(2);
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 2; k++) observe(t, k, "m", GW_OUT_OK, k == 0 ? 50000 : 1000, NOW);
    assert_true(hedge_on_node0(t, "m", NOW + 200) <= 2);
    for (int i = 0; i < 5; i++) observe(t, 1, "m", GW_OUT_FAIL, 0, NOW + 1000);
    assert_int_equal(gw_nodes_usable(t, 1, NOW + 1000), 0);
    assert_true(hedge_on_node0(t, "m", NOW + 1000) >= 40);
    gw_nodes_free(t);
}

/* "no p95 yet" is re-read within a few ms, not kept for the 100 ms a known p95 is: a burst
 * that starts before the first samples must not go unhedged for 100 ms */
static void test_unknown_p95_is_read_again_soon(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    assert_int_equal(hedge_on_node0(t, "m", NOW), 0); /* nothing observed: not known */
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 3; k++) observe(t, k, "m", GW_OUT_OK, 1000, NOW);
    int64_t h = hedge_on_node0(t, "m", NOW + 10); /* well inside the 100 ms refresh */
    assert_true(h >= 1 && h <= 2);
    gw_nodes_free(t);
}

static void test_slow_node_passes_keys_on(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    /* node 0 answers in 50 ms, the others in 1 ms */
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 3; k++) observe(t, k, "m", GW_OUT_OK, k == 0 ? 50000 : 1000, NOW);
    /* 60 requests in flight over many keys: the slow node holds few of them */
    assert_true(node0_share_at(t, NOW + 200) <= 3); /* without the latency scaling: about 20 */
    gw_nodes_free(t);
}

static void test_node_turning_slow_loses_keys_within_seconds(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    for (int i = 0; i < 300; i++)
        for (int k = 0; k < 3; k++) observe(t, k, "m", GW_OUT_OK, 1000, NOW);
    assert_true(node0_share_at(t, NOW + 200) >= 10); /* its share of the keys */
    /* 2 s later node 0 turns slow: 100 answers of 50 ms outweigh its 300 fast ones, which
     * routing's 1 s half-life has faded to a quarter (the 10 s of /gateway/nodes: 0.87) */
    for (int i = 0; i < 100; i++)
        for (int k = 0; k < 3; k++)
            observe(t, k, "m", GW_OUT_OK, k == 0 ? 50000 : 1000, NOW + 2000);
    assert_true(node0_share_at(t, NOW + 2200) <= 3);
    gw_nodes_free(t);
}

static void test_outrun_copies_count_as_latency(void **state)
{
    (void)state;
    gw_nodes *t = table(3);
    /* node 0's copies all lose hedges after 50 ms (its answers never arrive); the others
     * answer in 1 ms. The outrun waits are its latency: keys move off it as if it answered
     * slowly (before, it showed no latency at all and kept a third of the keys) */
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 3; k++)
            observe(t, k, "m", k == 0 ? GW_OUT_OUTRUN : GW_OUT_OK, k == 0 ? 50000 : 1000, NOW);
    assert_true(node0_share_at(t, NOW + 200) <= 3);
    /* a plain cancel (the client left) tells nothing about the node's speed */
    for (int i = 0; i < 40; i++) observe(t, 0, "c", GW_OUT_CANCELLED, 50000, NOW);
    assert_int_equal(hedge_on_node0(t, "c", NOW + 400), 0);
    for (int i = 0; i < 40; i++) observe(t, 0, "c", GW_OUT_OK, 50000, NOW + 400);
    assert_true(hedge_on_node0(t, "c", NOW + 600) >= 40); /* and answers do */
    gw_nodes_free(t);
}

static void test_keyless_by_weight(void **state)
{
    (void)state;
    gw_nodes_options o;
    gw_nodes_options_default(&o);
    gw_nodes *t = gw_nodes_new(&o);
    gw_node_spec s[2] = {spec(9000, 1), spec(9001, 3)};
    gw_nodes_set(t, s, 2, NOW);
    gw_node_set none;
    memset(&none, 0, sizeof none);
    int count[2] = {0};
    uint64_t u = 1;
    for (int i = 0; i < 4000; i++) {
        gw_pick p;
        u = u * 6364136223846793005ULL + 1442695040888963407ULL;
        assert_int_equal(gw_nodes_pick(t, NULL, 0, 0, u, &none, NOW, &p), 0);
        gw_nodes_done(t, p.node, NULL, GW_OUT_OK, 10, NOW);
        count[p.node]++;
    }
    assert_in_range(count[1], 2700, 3300); /* 3/4 of 4000 */
    gw_nodes_free(t);
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line)) fail_msg("no line %s in:\n%s", line, text);
}

static void test_metrics_count_copies_and_budget(void **state)
{
    (void)state;
    gw_nodes *t = table(2);
    int a = pick(t, "m", 7, NULL);
    assert_true(a >= 0);
    int b = 1 - a;
    gw_nodes_note(t, b, GW_NOTE_RETRY);
    gw_nodes_note(t, a, GW_NOTE_HEDGE);
    gw_nodes_note(t, a, GW_NOTE_HEDGE);
    gw_nodes_note(t, a, GW_NOTE_HEDGE_WON);
    gw_node_set none;
    memset(&none, 0, sizeof none);
    gw_pick p;
    assert_int_equal(gw_nodes_pick(t, "m", 1, 7, 0, &none, NOW, &p), 0);
    assert_int_equal(p.node, a); /* the same key, the same node: now one in flight */
    for (int i = 0; i < 3; i++) assert_true(gw_nodes_retry_acquire(t)); /* the minimum */
    assert_false(gw_nodes_retry_acquire(t));
    prom_writer w;
    prom_init(&w);
    gw_nodes_metrics(t, &w, NOW);
    size_t len;
    char *text = prom_take(&w, &len);
    assert_non_null(text);
    char an[64], bn[64], line[160];
    snprintf(an, sizeof an, "{node=\"127.0.0.1:%d\"}", 9000 + a);
    snprintf(bn, sizeof bn, "{node=\"127.0.0.1:%d\"}", 9000 + b);
    const struct {
        const char *family, *node;
        int value;
    } want[] = {
        {"inferd_gateway_node_requests_total", an, 2},
        {"inferd_gateway_node_requests_total", bn, 0},
        {"inferd_gateway_node_retries_total", bn, 1},
        {"inferd_gateway_node_retries_total", an, 0},
        {"inferd_gateway_node_hedges_total", an, 2},
        {"inferd_gateway_node_hedges_won_total", an, 1},
        {"inferd_gateway_node_in_flight", an, 1},
        {"inferd_gateway_node_in_flight", bn, 0},
        {"inferd_gateway_node_failures_total", an, 0},
        {"inferd_gateway_node_present", bn, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "\n%s%s %d\n", want[i].family, want[i].node, want[i].value);
        assert_has(text, line);
    }
    snprintf(line, sizeof line,
             "\ninferd_gateway_node_breaker_state{node=\"127.0.0.1:%d\",state=\"closed\"} 1\n",
             9000 + a);
    assert_has(text, line);
    assert_has(text, "\ninferd_gateway_retry_budget_refusals_total 1\n");
    assert_has(text, "\ninferd_gateway_retries_in_flight 3\n");
    free(text);
    prom_free(&w);
    gw_nodes_done(t, p.node, "m", GW_OUT_OK, 100, NOW);
    for (int i = 0; i < 3; i++) gw_nodes_retry_release(t);
    gw_nodes_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_picks_stick_and_skip_tried),
        cmocka_unit_test(test_membership_keeps_slots),
        cmocka_unit_test(test_model_candidates),
        cmocka_unit_test(test_checks_and_ejection),
        cmocka_unit_test(test_in_flight_and_bounded_load),
        cmocka_unit_test(test_slow_node_passes_keys_on),
        cmocka_unit_test(test_hedge_time_is_the_fastest_nodes_p95),
        cmocka_unit_test(test_unknown_p95_is_read_again_soon),
        cmocka_unit_test(test_outrun_copies_count_as_latency),
        cmocka_unit_test(test_node_turning_slow_loses_keys_within_seconds),
        cmocka_unit_test(test_keyless_by_weight),
        cmocka_unit_test(test_metrics_count_copies_and_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
