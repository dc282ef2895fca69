/* The faults library without root: what apply refuses before running anything, faults_run
 * (exit status, stdin, stderr, timeout), and the slow toggler stopping and continuing a child
 * of ours. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/faults.h"

static void test_apply_refuses_bad_specs(void **state)
{
    (void)state;
    static const faults_net_spec_t bad[] = {
        {.netns = NULL, .kind = FAULTS_NET_PARTITION},
        {.netns = "", .kind = FAULTS_NET_PARTITION},
        {.netns = "../etc", .kind = FAULTS_NET_PARTITION},
        {.netns = "ns", .iface = "an-interface-name-too-long", .kind = FAULTS_NET_PARTITION},
        {.netns = "ns", .kind = FAULTS_NET_LOSS, .loss_percent = 0},
        {.netns = "ns", .kind = FAULTS_NET_LOSS, .loss_percent = 101},
        {.netns = "ns", .kind = FAULTS_NET_DELAY, .delay_ms = -1},
        {.netns = "ns", .kind = FAULTS_NET_DELAY, .delay_ms = 600001},
        {.netns = "ns", .kind = FAULTS_NET_DELAY, .delay_ms = 5, .jitter_ms = -3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        faults_net_t *f = (faults_net_t *)&f;
        char err[128] = "";
        assert_int_equal(faults_net_apply(&bad[i], &f, err, sizeof err), -1);
        assert_null(f);
        assert_true(err[0] != '\0');
    }
}

static void test_run_status_stdin_and_output(void **state)
{
    (void)state;
    char out[256];
    char *cat[] = {"sh", "-c", "cat; echo to-stderr >&2; exit 3", NULL};
    assert_int_equal(faults_run(cat, "from-stdin\n", 5000, out, sizeof out), 3);
    assert_non_null(strstr(out, "from-stdin"));
    assert_non_null(strstr(out, "to-stderr"));
    char *ok[] = {"true", NULL};
    assert_int_equal(faults_run(ok, NULL, 5000, out, sizeof out), 0);
    char *missing[] = {"/nonexistent/program", NULL};
    assert_int_equal(faults_run(missing, NULL, 5000, out, sizeof out), -1);
    assert_non_null(strstr(out, "/nonexistent/program"));
}

static void test_run_times_out(void **state)
{
    (void)state;
    char out[256];
    char *sleeper[] = {"sleep", "30", NULL};
    assert_int_equal(faults_run(sleeper, NULL, 200, out, sizeof out), -1);
    assert_non_null(strstr(out, "timed out"));
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static void test_slow_stops_in_turns_and_leaves_it_running(void **state)
{
    (void)state;
    pid_t child = fork();
    if (child == 0) {
        for (;;) pause();
    }
    pid_t toggler;
    assert_int_equal(faults_proc_slow_start(child, 20, &toggler), 0);
    int stopped = 0, running = 0;
    struct timespec tick = {0, 2000000};
    for (int i = 0; i < 2500 && !(stopped && running); i++) { /* at most 5 s */
        char s = proc_state(child);
        stopped |= s == 'T' || s == 't';
        running |= s == 'S' || s == 'R';
        nanosleep(&tick, NULL);
    }
    assert_true(stopped);
    assert_true(running);
    assert_int_equal(faults_proc_slow_end(toggler, child), 0);
    char s = proc_state(child);
    assert_true(s == 'S' || s == 'R');
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_refuses_bad_specs),
        cmocka_unit_test(test_run_status_stdin_and_output),
        cmocka_unit_test(test_run_times_out),
        cmocka_unit_test(test_slow_stops_in_turns_and_leaves_it_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
