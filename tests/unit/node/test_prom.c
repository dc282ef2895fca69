/* Unit tests of the Prometheus text writer (src/common/prom.c): HELP/TYPE per family, label
 * and HELP escaping, value formatting, cumulative histograms whose +Inf bucket equals
 * _count, and the failure modes (bad names, samples of the wrong type, no family). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/prom.h"

static char *finish(prom_writer *w)
{
    size_t len = 0;
    char *text = prom_take(w, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    prom_writer w;
    prom_init(&w);
    prom_family(&w, "x_requests_total", PROM_COUNTER, "Requests.\nSecond \\ line.");
    prom_label l[2] = {{"model", "a\"b\\c\nd"}, {"version", "1"}};
    prom_sample(&w, l, 2, 42);
    prom_family(&w, "x_ratio", PROM_GAUGE, "A ratio.");
    prom_sample(&w, NULL, 0, 0.25);
    prom_sample(&w, NULL, 0, 1e20);
    prom_sample(&w, NULL, 0, -3);
    char *t = finish(&w);
    assert_string_equal(t, "# HELP x_requests_total Requests.\\nSecond \\\\ line.\n"
                           "# TYPE x_requests_total counter\n"
                           "x_requests_total{model=\"a\\\"b\\\\c\\nd\",version=\"1\"} 42\n"
                           "# HELP x_ratio A ratio.\n"
                           "# TYPE x_ratio gauge\n"
                           "x_ratio 0.25\n"
                           "x_ratio 1e+20\n"
                           "x_ratio -3\n");
    free(t);
}

static void test_histogram(void **state)
{
    (void)state;
    prom_writer w;
    prom_init(&w);
    prom_family(&w, "x_seconds", PROM_HISTOGRAM, "Time.");
    double bounds[3] = {0.0001, 0.00025, 1};
    uint64_t counts[4] = {2, 0, 3, 1};
    prom_label l = {"model", "m"};
    prom_histogram(&w, &l, 1, bounds, counts, 3, 1.5);
    char *t = finish(&w);
    assert_string_equal(t, "# HELP x_seconds Time.\n"
                           "# TYPE x_seconds histogram\n"
                           "x_seconds_bucket{model=\"m\",le=\"0.0001\"} 2\n"
                           "x_seconds_bucket{model=\"m\",le=\"0.00025\"} 2\n"
                           "x_seconds_bucket{model=\"m\",le=\"1\"} 5\n"
                           "x_seconds_bucket{model=\"m\",le=\"+Inf\"} 6\n"
                           "x_seconds_sum{model=\"m\"} 1.5\n"
                           "x_seconds_count{model=\"m\"} 6\n");
    free(t);
}

static void test_failures(void **state)
{
    (void)state;
    prom_writer w;
    size_t len = 1;
    /* a sample before any family */
    prom_init(&w);
    prom_sample(&w, NULL, 0, 1);
    assert_null(prom_take(&w, &len));
    assert_int_equal(len, 0);
    /* bad family and label names */
    const char *bad[] = {"", "9x", "a-b", "a b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        prom_init(&w);
        prom_family(&w, bad[i], PROM_GAUGE, "x");
        assert_null(prom_take(&w, NULL));
        prom_init(&w);
        prom_family(&w, "ok", PROM_GAUGE, "x");
        prom_label l = {bad[i], "v"};
        prom_sample(&w, &l, 1, 1);
        assert_null(prom_take(&w, NULL));
    }
    /* a plain sample in a histogram family, a histogram in a gauge family */
    prom_init(&w);
    prom_family(&w, "h", PROM_HISTOGRAM, "x");
    prom_sample(&w, NULL, 0, 1);
    assert_true(w.failed);
    prom_free(&w);
    prom_init(&w);
    prom_family(&w, "g", PROM_GAUGE, "x");
    uint64_t c[1] = {0};
    prom_histogram(&w, NULL, 0, NULL, c, 0, 0);
    assert_true(w.failed);
    prom_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
