/* Unit tests of the per-call-site log rate limit (log_limit_allow, log_write_limited): a burst
 * is cut at LOG_LIMIT_LINES per window, the next window reports how many were dropped, and a
 * limited site writes a bounded number of lines to stderr however often it is called. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/log.h"

#define SEC 1000000000LL

static void test_burst_is_cut_then_reported(void **state)
{
    (void)state;
    log_limit lim = {"x.c:1", 0, 0, 0};
    unsigned long long report = 99;
    long long t = 5 * SEC;
    int written = 0;
    for (int i = 0; i < 1000; i++) {
        written += log_limit_allow(&lim, t + i, &report);
        assert_int_equal(report, 0);
    }
    assert_int_equal(written, LOG_LIMIT_LINES);
    /* still inside the window: nothing more, nothing reported */
    assert_int_equal(log_limit_allow(&lim, t + SEC - 1, &report), 0);
    assert_int_equal(report, 0);
    /* next window: the count of what was dropped comes with the first line */
    assert_int_equal(log_limit_allow(&lim, t + SEC, &report), 1);
    assert_int_equal(report, 1000 - LOG_LIMIT_LINES + 1);
    assert_int_equal(log_limit_allow(&lim, t + SEC + 1, &report), 1);
    assert_int_equal(report, 0);
}

static void test_quiet_site_is_never_limited(void **state)
{
    (void)state;
    log_limit lim = {"x.c:2", 0, 0, 0};
    unsigned long long report;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(log_limit_allow(&lim, (long long)(i + 1) * SEC, &report), 1);
        assert_int_equal(report, 0);
    }
}

static void test_clock_going_back_starts_a_window(void **state)
{
    (void)state;
    log_limit lim = {"x.c:3", 0, 0, 0};
    unsigned long long report;
    for (int i = 0; i < LOG_LIMIT_LINES + 3; i++) log_limit_allow(&lim, 10 * SEC, &report);
    assert_int_equal(log_limit_allow(&lim, 9 * SEC, &report), 1);
    assert_int_equal(report, 3);
}

static void test_limited_site_writes_bounded_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/inferd-log-limit-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_init(LOG_INFO, LOG_FORMAT_TEXT, "test");
    for (int i = 0; i < 100000; i++) log_warn_limited("accept failed: too many open files %d", i);
    log_debug_limited("filtered out by level %d", 1);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size > 0);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    close(fd);
    int lines = 0, summaries = 0;
    for (char *p = buf; (p = strchr(p, '\n')); p++) lines++;
    for (char *p = buf; (p = strstr(p, "suppressed ")); p++) summaries++;
    /* however slow the machine, 100000 calls cannot give more than a few windows' worth */
    assert_true(lines >= LOG_LIMIT_LINES);
    assert_true(lines < 1000);
    assert_true(lines <= (LOG_LIMIT_LINES + 1) * (summaries + 2));
    assert_null(strstr(buf, "filtered out"));
    assert_non_null(strstr(buf, "accept failed: too many open files 0\n"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_is_cut_then_reported),
        cmocka_unit_test(test_quiet_site_is_never_limited),
        cmocka_unit_test(test_clock_going_back_starts_a_window),
        cmocka_unit_test(test_limited_site_writes_bounded_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
