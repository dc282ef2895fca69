/* inferctl's option parser and number parsing: the forms accepted, and a clear error for
 * every malformed command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static const cli_opt_spec specs[] = {
    {"input", "NAME=FILE", "an input"},
    {"json", NULL, "a flag"},
    {NULL, NULL, NULL},
};

static int parse(cli_args *a, char *err, int n, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return cli_args_parse(n, argv, specs, a, err, 256);
}

static void test_forms(void **state)
{
    (void)state;
    cli_args a;
    char err[256];
    assert_int_equal(parse(&a, err, 1, "infer"), 0);
    assert_string_equal(a.url, CLI_DEFAULT_URL);
    assert_int_equal(a.npos, 0);
    assert_int_equal(parse(&a, err, 8, "infer", "m", "--input", "A=1", "--input=B=[2]", "--json",
                           "--url=http://h:1", "--"),
                     0);
    assert_string_equal(a.url, "http://h:1");
    assert_int_equal(a.npos, 1);
    assert_string_equal(a.pos[0], "m");
    assert_int_equal(a.nopt, 3);
    assert_string_equal(a.opt[0].value, "A=1");
    assert_string_equal(a.opt[1].value, "B=[2]"); /* only the first '=' splits */
    assert_string_equal(cli_args_value(&a, "input"), "B=[2]");
    assert_true(cli_args_has(&a, "json"));
    assert_null(cli_args_value(&a, "json"));
    assert_int_equal(parse(&a, err, 4, "x", "--url", "http://a:2", "--help"), 0);
    assert_string_equal(a.url, "http://a:2");
    assert_true(a.help);
    /* after "--" everything is positional; "-" alone is positional */
    assert_int_equal(parse(&a, err, 4, "x", "--", "--json", "-"), 0);
    assert_int_equal(a.npos, 2);
    assert_false(cli_args_has(&a, "json"));
}

static void test_errors(void **state)
{
    (void)state;
    cli_args a;
    char err[256];
    assert_int_equal(parse(&a, err, 2, "x", "--nope"), -1);
    assert_non_null(strstr(err, "unknown option '--nope'"));
    assert_int_equal(parse(&a, err, 2, "x", "-q"), -1);
    assert_non_null(strstr(err, "unknown option '-q'"));
    assert_int_equal(parse(&a, err, 2, "x", "--input"), -1);
    assert_non_null(strstr(err, "--input needs a value"));
    assert_int_equal(parse(&a, err, 2, "x", "--url"), -1);
    assert_non_null(strstr(err, "--url needs a value"));
    assert_int_equal(parse(&a, err, 2, "x", "--json=1"), -1);
    assert_non_null(strstr(err, "takes no value"));
    assert_int_equal(parse(&a, err, 2, "x", "--inputs=1"), -1); /* no prefix matching */
}

static void test_numbers(void **state)
{
    (void)state;
    char err[256];
    double d;
    uint64_t u;
    assert_int_equal(cli_parse_double("rate", "12.5", 0, 100, &d, err, sizeof err), 0);
    assert_true(d == 12.5);
    const char *bad_d[] = {"", "x", "1x", "nan", "inf", "-1", "101", "1e400"};
    for (size_t i = 0; i < sizeof bad_d / sizeof bad_d[0]; i++) {
        assert_int_equal(cli_parse_double("rate", bad_d[i], 0, 100, &d, err, sizeof err), -1);
        assert_non_null(strstr(err, "--rate"));
    }
    assert_int_equal(cli_parse_u64("c", "64", 1, 64, &u, err, sizeof err), 0);
    assert_int_equal(u, 64);
    const char *bad_u[] = {"", "0", "65", "-1", "+3", " 3", "3 ", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_u / sizeof bad_u[0]; i++)
        assert_int_equal(cli_parse_u64("c", bad_u[i], 1, 64, &u, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
