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
#include <time.h>
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

/* Has something bound this loopback UDP port? (dnsmasq, once it is up) */
static bool port_taken(int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a), err = errno;
    close(fd);
    return rc != 0 && err == EADDRINUSE;
}

/* Starts dnsmasq on a port that was free a moment ago and waits (bounded) until it has bound
 * it; another try on another port if it exits first (the port was taken meanwhile). */
static int spawn_dnsmasq(void)
{
    int fd = udp_socket(&dns_port);
    if (fd < 0) return -1;
    close(fd);
    char port[16], addn[300];
    snprintf(port, sizeof port, "%d", dns_port);
    snprintf(addn, sizeof addn, "--addn-hosts=%s", hosts);
    char *argv[] = {"dnsmasq",
                    "--no-daemon",
                    "--port",
                    port,
                    "--listen-address",
                    "127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    addn,
                    "--pid-file",
                    "--user=root",
                    "--cache-size=0",
                    "--srv-host=_inferd._tcp.nodes.test,a.test,8001",
                    "--srv-host=_inferd._tcp.nodes.test,b.test,8002",
                    NULL};
    dnsmasq = fork();
    if (dnsmasq == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp("dnsmasq", argv);
        execv("/usr/sbin/dnsmasq", argv); /* dnsmasq-base, when sbin is not on PATH */
        _exit(127);
    }
    if (dnsmasq < 0) return -1;
    for (int i = 0; i < 400; i++) { /* 10 s */
        if (waitpid(dnsmasq, NULL, WNOHANG) == dnsmasq) {
            dnsmasq = -1;
            return -1;
        }
        if (port_taken(dns_port)) return 0;
        nanosleep(&(struct timespec){.tv_nsec = 25 * 1000 * 1000}, NULL);
    }
    kill(dnsmasq, SIGKILL); /* never bound its port: ours to clean up */
    waitpid(dnsmasq, NULL, 0);
    dnsmasq = -1;
    return -1;
}

static int start_dnsmasq(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    write_hosts("127.0.0.11 nodes.test\n127.0.0.12 nodes.test\nfd00::5 nodes.test\n"
                "127.0.0.21 a.test\n127.0.0.22 b.test\n");
    for (int attempt = 0; attempt < 3; attempt++)
        if (spawn_dnsmasq() == 0) return 0;
    fprintf(stderr, "dnsmasq (Debian dnsmasq-base) did not start\n");
    return -1;
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
    for (size_t i = 0; same && i < n; i++) same = strcmp(s->list[i], addrs[i].text) == 0;
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
        for (int i = 0; i < 100; i++) gw_dns_refresh_now(s->refresh_on_error);
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
    while (*counter < want && !timed_out) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *counter >= want;
}

/* After gw_dns_stop the loop must empty by itself, without hanging. */
static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 1000 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
    assert_false(uv_loop_alive(loop));
    assert_int_equal(uv_loop_close(loop), 0);
}

/* One resolver on its own loop, with what its callbacks saw. */
typedef struct dns_case {
    uv_loop_t loop;
    seen s;
    gw_dns *dns;
} dns_case;

/* server NULL: the test's dnsmasq. */
static void case_start(dns_case *c, const char *name, bool srv, const char *server)
{
    memset(c, 0, sizeof *c);
    uv_loop_init(&c->loop);
    char server_buf[64];
    if (!server) {
        snprintf(server_buf, sizeof server_buf, "127.0.0.1:%d", dns_port);
        server = server_buf;
    }
    gw_dns_config cfg = {.name = name,
                         .port = 8000,
                         .srv = srv,
                         .interval_ms = 50,
                         .timeout_ms = 200,
                         .server = server,
                         .on_change = on_change,
                         .on_error = on_error,
                         .ctx = &c->s};
    char err[200];
    assert_int_equal(gw_dns_start(&c->loop, &cfg, &c->dns, err, sizeof err), 0);
}

static void case_end(dns_case *c)
{
    gw_dns_stop(c->dns);
    drain(&c->loop);
}

/* "127.0.0.1:PORT" of a port nothing listens on (a moment ago). */
static void closed_server(char *buf, size_t len)
{
    int port, fd = udp_socket(&port);
    assert_true(fd >= 0);
    close(fd);
    snprintf(buf, len, "127.0.0.1:%d", port);
}

static void test_a_aaaa_and_change(void **state)
{
    (void)state;
    dns_case c;
    case_start(&c, "nodes.test", false, NULL);
    seen *s = &c.s;
    /* dnsmasq may still be starting: errors first are fine, the interval retries */
    assert_true(run_until(&c.loop, &s->changes, 1, 10000));
    assert_int_equal(s->n, 3);
    assert_string_equal(s->list[0], "127.0.0.11:8000");
    assert_string_equal(s->list[1], "127.0.0.12:8000");
    assert_string_equal(s->list[2], "[fd00::5]:8000");
    /* scale: .11 out, .13 in */
    write_hosts("127.0.0.13 nodes.test\n127.0.0.12 nodes.test\nfd00::5 nodes.test\n"
                "127.0.0.21 a.test\n127.0.0.22 b.test\n");
    assert_int_equal(kill(dnsmasq, SIGHUP), 0);
    gw_dns_refresh_now(c.dns);
    assert_true(run_until(&c.loop, &s->changes, 2, 10000));
    assert_int_equal(s->n, 3);
    assert_string_equal(s->list[0], "127.0.0.12:8000");
    assert_string_equal(s->list[1], "127.0.0.13:8000");
    /* nothing changes: ~6 more lookups and refreshes report nothing */
    int errors = s->errors;
    gw_dns_refresh_now(c.dns);
    gw_dns_refresh_now(c.dns);
    int never = 0;
    run_until(&c.loop, &never, 1, 300);
    assert_int_equal(s->changes, 2);
    assert_int_equal(s->errors, errors);
    case_end(&c);
}

static void test_srv(void **state)
{
    (void)state;
    dns_case c;
    case_start(&c, "_inferd._tcp.nodes.test", true, NULL);
    seen *s = &c.s;
    assert_true(run_until(&c.loop, &s->changes, 1, 10000));
    assert_int_equal(s->n, 2);
    assert_string_equal(s->list[0], "127.0.0.21:8001");
    assert_string_equal(s->list[1], "127.0.0.22:8002");
    case_end(&c);
}

static void test_unknown_name(void **state)
{
    (void)state;
    dns_case c;
    case_start(&c, "missing.test", false, NULL);
    seen *s = &c.s;
    assert_true(run_until(&c.loop, &s->errors, 2, 10000));
    assert_int_equal(s->changes, 0);
    assert_non_null(strstr(s->error, "missing.test"));
    case_end(&c);
}

static void test_unreachable_and_silent_servers(void **state)
{
    (void)state;
    /* nothing listens: refused at once */
    char server[64];
    closed_server(server, sizeof server);
    dns_case c;
    case_start(&c, "nodes.test", false, server);
    assert_true(run_until(&c.loop, &c.s.errors, 1, 10000));
    assert_int_equal(c.s.changes, 0);
    case_end(&c);

    /* a server that never answers: times out (2 tries x 200 ms), then the error */
    int port, silent = udp_socket(&port);
    assert_true(silent >= 0);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    case_start(&c, "nodes.test", false, server);
    assert_true(run_until(&c.loop, &c.s.errors, 1, 10000));
    assert_int_equal(c.s.changes, 0);
    /* and stopping with a lookup in flight reports nothing more, and frees everything */
    gw_dns_refresh_now(c.dns);
    int errors = c.s.errors;
    uv_run(&c.loop, UV_RUN_NOWAIT);
    case_end(&c);
    assert_int_equal(c.s.errors, errors);
    close(silent);
}

/* Refreshing after every failure (a storm) still starts lookups at most once per gap. */
static void test_refresh_storm_is_paced(void **state)
{
    (void)state;
    char server[64];
    closed_server(server, sizeof server);
    uv_loop_t loop;
    uv_loop_init(&loop);
    seen s = {0};
    gw_dns_config cfg = {.name = "nodes.test",
                         .port = 8000,
                         .interval_ms = 60000,
                         .timeout_ms = 200,
                         .min_gap_ms = 100,
                         .server = server,
                         .on_change = on_change,
                         .on_error = on_error,
                         .ctx = &s};
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
    gw_dns_config cfg = {
        .name = "nodes.test", .server = "not an address", .on_change = on_change, .ctx = &s};
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
