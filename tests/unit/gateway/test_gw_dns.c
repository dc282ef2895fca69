/* gw_dns against a real dnsmasq on a free loopback port: A+AAAA lists, a change picked up
 * after the hosts file changes (SIGHUP), no callback while nothing changes, SRV, NXDOMAIN and
 * an unreachable or silent server (error callback, no hang), stopping mid-lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw_dns.h"

static char dir[] = "/tmp/gw_dns_test_XXXXXX";
static char hosts[256];
static pid_t dnsmasq = -1;
static int dns_port;

/* A bound loopback UDP socket; its port in *port. */
static int udp_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static void write_hosts(const char *text)
{
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.new", hosts);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, hosts), 0); /* dnsmasq never reads half a file */
}

static int start_dnsmasq(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    write_hosts("127.0.0.11 nodes.test\n127.0.0.12 nodes.test\nfd00::5 nodes.test\n"
                "127.0.0.21 a.test\n127.0.0.22 b.test\n");
    int fd = udp_socket(&dns_port);
    if (fd < 0)
        return -1;
    close(fd); /* dnsmasq takes the port: a race only with another process picking it now */
    char port[16], addn[300];
    snprintf(port, sizeof port, "%d", dns_port);
    snprintf(addn, sizeof addn, "--addn-hosts=%s", hosts);
    dnsmasq = fork();
    if (dnsmasq == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("dnsmasq", "dnsmasq", "--no-daemon", "--port", port, "--listen-address",
               "127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", addn,
               "--pid-file", "--user=root", "--cache-size=0",
               "--srv-host=_inferd._tcp.nodes.test,a.test,8001",
               "--srv-host=_inferd._tcp.nodes.test,b.test,8002", (char *)NULL);
        execl("/usr/sbin/dnsmasq", "dnsmasq", "--version", (char *)NULL);
        _exit(127);
    }
    return dnsmasq > 0 ? 0 : -1;
}

static int stop_dnsmasq(void **state)
{
    (void)state;
    if (dnsmasq > 0) {
        kill(dnsmasq, SIGTERM);
        waitpid(dnsmasq, NULL, 0);
    }
    char path[300];
    unlink(hosts);
    snprintf(path, sizeof path, "%s.new", hosts);
    unlink(path);
    rmdir(dir);
    return 0;
}

/* ---- what the callbacks saw ---- */

typedef struct seen {
    int changes, errors;
    char list[GW_DNS_MAX_ADDRS][64];
    size_t n;
    char error[200];
    gw_dns *refresh_on_error; /* a gateway refreshing after every failure */
} seen;

static void on_change(void *ctx, const gw_dns_addr *addrs, size_t n)
{
    seen *s = ctx;
    /* called only when the list changed */
    bool same = n == s->n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(s->list[i], addrs[i].text) == 0;
    assert_false(same);
    for (size_t i = 0; i < n; i++) {
        snprintf(s->list[i], sizeof s->list[i], "%s", addrs[i].text);
        if (i > 0) /* sorted, no duplicates: reported families are v4 first */
            assert_true(addrs[i - 1].addr.ss_family <= addrs[i].addr.ss_family);
    }
    s->n = n;
    s->changes++;
}

static void on_error(void *ctx, const char *message)
{
    seen *s = ctx;
    s->errors++;
    snprintf(s->error, sizeof s->error, "%s", message);
    if (s->refresh_on_error)
        for (int i = 0; i < 100; i++)
            gw_dns_refresh_now(s->refresh_on_error);
}

static bool timed_out;
static void guard_cb(uv_timer_t *t)
{
    (void)t;
    timed_out = true;
}

/* Runs the loop until *counter reaches want or ms pass; true if it did. */
static bool run_until(uv_loop_t *loop, const int *counter, int want, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    timed_out = false;
    uv_timer_start(&guard, guard_cb, ms, 0);
    while (*counter < want && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *counter >= want;
}

/* After gw_dns_stop the loop must empty by itself, without hanging. */
static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 1000 && uv_loop_alive(loop); i++)
        uv_run(loop, UV_RUN_NOWAIT);
    assert_false(uv_loop_alive(loop));
    assert_int_equal(uv_loop_close(loop), 0);
}

static gw_dns *start(uv_loop_t *loop, seen *s, const char *name, bool srv, const char *server)
{
    char server_buf[64];
    if (!server) {
        snprintf(server_buf, sizeof server_buf, "127.0.0.1:%d", dns_port);
        server = server_buf;
    }
    gw_dns_config cfg = {.name = name, .port = 8000, .srv = srv, .interval_ms = 50,
                         .timeout_ms = 200, .server = server, .on_change = on_change,
                         .on_error = on_error, .ctx = s};
    gw_dns *dns = NULL;
    char err[200];
    assert_int_equal(gw_dns_start(loop, &cfg, &dns, err, sizeof err), 0);
    return dns;
}

static void test_a_aaaa_and_change(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns *dns = start(&loop, &s, "nodes.test", false, NULL);
    /* dnsmasq may still be starting: errors first are fine, the interval retries */
    assert_true(run_until(&loop, &s.changes, 1, 10000));
    assert_int_equal(s.n, 3);
    assert_string_equal(s.list[0], "127.0.0.11:8000");
    assert_string_equal(s.list[1], "127.0.0.12:8000");
    assert_string_equal(s.list[2], "[fd00::5]:8000");
    /* scale: .11 out, .13 in */
    write_hosts("127.0.0.13 nodes.test\n127.0.0.12 nodes.test\nfd00::5 nodes.test\n"
                "127.0.0.21 a.test\n127.0.0.22 b.test\n");
    assert_int_equal(kill(dnsmasq, SIGHUP), 0);
    gw_dns_refresh_now(dns);
    assert_true(run_until(&loop, &s.changes, 2, 10000));
    assert_int_equal(s.n, 3);
    assert_string_equal(s.list[0], "127.0.0.12:8000");
    assert_string_equal(s.list[1], "127.0.0.13:8000");
    /* nothing changes: ~6 more lookups and refreshes report nothing */
    int errors = s.errors;
    gw_dns_refresh_now(dns);
    gw_dns_refresh_now(dns);
    int never = 0;
    run_until(&loop, &never, 1, 300);
    assert_int_equal(s.changes, 2);
    assert_int_equal(s.errors, errors);
    gw_dns_stop(dns);
    drain(&loop);
}

static void test_srv(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns *dns = start(&loop, &s, "_inferd._tcp.nodes.test", true, NULL);
    assert_true(run_until(&loop, &s.changes, 1, 10000));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.list[0], "127.0.0.21:8001");
    assert_string_equal(s.list[1], "127.0.0.22:8002");
    gw_dns_stop(dns);
    drain(&loop);
}

static void test_unknown_name(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns *dns = start(&loop, &s, "missing.test", false, NULL);
    assert_true(run_until(&loop, &s.errors, 2, 10000));
    assert_int_equal(s.changes, 0);
    assert_non_null(strstr(s.error, "missing.test"));
    gw_dns_stop(dns);
    drain(&loop);
}

static void test_unreachable_and_silent_servers(void **state)
{
    (void)state;
    /* nothing listens: refused at once */
    int port, fd = udp_socket(&port);
    assert_true(fd >= 0);
    close(fd);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns *dns = start(&loop, &s, "nodes.test", false, server);
    assert_true(run_until(&loop, &s.errors, 1, 10000));
    assert_int_equal(s.changes, 0);
    gw_dns_stop(dns);
    drain(&loop);

    /* a server that never answers: times out (2 tries x 200 ms), then the error */
    int silent = udp_socket(&port);
    assert_true(silent >= 0);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    uv_loop_init(&loop);
    memset(&s, 0, sizeof s);
    dns = start(&loop, &s, "nodes.test", false, server);
    assert_true(run_until(&loop, &s.errors, 1, 10000));
    assert_int_equal(s.changes, 0);
    /* and stopping with a lookup in flight reports nothing more, and frees everything */
    gw_dns_refresh_now(dns);
    int errors = s.errors;
    uv_run(&loop, UV_RUN_NOWAIT);
    gw_dns_stop(dns);
    drain(&loop);
    assert_int_equal(s.errors, errors);
    close(silent);
}

/* Refreshing after every failure (a storm) still starts lookups at most once per gap. */
static void test_refresh_storm_is_paced(void **state)
{
    (void)state;
    int port, fd = udp_socket(&port);
    assert_true(fd >= 0);
    close(fd);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns_config cfg = {.name = "nodes.test", .port = 8000, .interval_ms = 60000,
                         .timeout_ms = 200, .min_gap_ms = 100, .server = server,
                         .on_change = on_change, .on_error = on_error, .ctx = &s};
    gw_dns *dns = NULL;
    char err[200];
    uv_update_time(&loop);
    uint64_t t0 = uv_now(&loop);
    assert_int_equal(gw_dns_start(&loop, &cfg, &dns, err, sizeof err), 0);
    s.refresh_on_error = dns;
    /* the interval (60 s) cannot explain more than one lookup: the refreshes do, paced */
    assert_true(run_until(&loop, &s.errors, 4, 10000));
    uv_update_time(&loop);
    assert_true(uv_now(&loop) - t0 >= 3 * 100);
    gw_dns_stop(dns);
    drain(&loop);
}

static void test_bad_config(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns *dns = NULL;
    char err[200] = "";
    gw_dns_config cfg = {.name = "nodes.test", .server = "not an address", .on_change = on_change,
                         .ctx = &s};
    assert_int_equal(gw_dns_start(&loop, &cfg, &dns, err, sizeof err), -1);
    assert_null(dns);
    assert_true(err[0] != 0);
    cfg.server = NULL;
    cfg.name = "";
    assert_int_equal(gw_dns_start(&loop, &cfg, &dns, err, sizeof err), -1);
    drain(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_aaaa_and_change),
        cmocka_unit_test(test_srv),
        cmocka_unit_test(test_unknown_name),
        cmocka_unit_test(test_unreachable_and_silent_servers),
        cmocka_unit_test(test_refresh_storm_is_paced),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, start_dnsmasq, stop_dnsmasq);
}
