/* inferd-netdelay: an NFQUEUE delayer. Holds each packet of one queue for N ms (plus uniform
 * jitter) and then accepts it: real added latency on a kernel without netem. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "inferd/faults.h"

typedef struct {
    uint32_t id;
    int64_t due_ms;
} netdelay_held_t;

typedef struct {
    struct nfq_q_handle *qh;
    netdelay_held_t *ring; /* FIFO of held packets; due_ms never decreases along it */
    size_t cap, head, len;
    int64_t delay_ms, jitter_ms, last_due_ms;
    uint64_t held_total, overflow_total;
    uint64_t rng;
} netdelay_t;

static int64_t netdelay_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t netdelay_rand(netdelay_t *d)
{ /* xorshift64: jitter needs no quality */
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

static void netdelay_accept(netdelay_t *d, uint32_t id)
{
    nfq_set_verdict(d->qh, id, NF_ACCEPT, 0, NULL);
}

static int netdelay_on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                              void *data)
{
    (void)qh;
    (void)msg;
    netdelay_t *d = data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph) return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (d->len == d->cap) { /* bounded: past the limit a packet goes through undelayed */
        d->overflow_total++;
        netdelay_accept(d, id);
        return 0;
    }
    int64_t due = netdelay_now_ms() + d->delay_ms;
    if (d->jitter_ms > 0) due += (int64_t)(netdelay_rand(d) % (uint64_t)(d->jitter_ms + 1));
    if (due < d->last_due_ms) due = d->last_due_ms; /* keep order: no reordering */
    d->last_due_ms = due;
    d->ring[(d->head + d->len) % d->cap] = (netdelay_held_t){id, due};
    d->len++;
    d->held_total++;
    return 0;
}

/* Accepts every held packet due by now (all of them when flush); returns ms to the next due
 * packet, or -1 when none is held. */
static int netdelay_release(netdelay_t *d, int flush)
{
    int64_t now = netdelay_now_ms();
    while (d->len > 0) {
        netdelay_held_t *h = &d->ring[d->head];
        if (!flush && h->due_ms > now) return (int)(h->due_ms - now);
        netdelay_accept(d, h->id);
        d->head = (d->head + 1) % d->cap;
        d->len--;
    }
    return -1;
}

static void netdelay_usage(FILE *f)
{
    fprintf(f,
            "usage: inferd-netdelay --queue Q --delay-ms N [--jitter-ms J] [--max-held K]\n"
            "Holds every packet of NFQUEUE queue Q for N ms (+ uniform 0..J ms), in order, then\n"
            "accepts it. At most K packets are held (default %d); beyond that a packet passes at\n"
            "once. Route packets to it with e.g.\n"
            "  iptables -A INPUT -i eth0 -j NFQUEUE --queue-num Q --queue-bypass\n"
            "Run it in the network namespace of the rule. SIGTERM/SIGINT: every held packet is\n"
            "accepted, then it exits 0.\n",
            FAULTS_NETDELAY_MAX_HELD);
}

static int netdelay_parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long queue = -1, delay = -1, jitter = 0, max_held = FAULTS_NETDELAY_MAX_HELD;
    static const struct option opts[] = {{"queue", required_argument, 0, 'q'},
                                         {"delay-ms", required_argument, 0, 'd'},
                                         {"jitter-ms", required_argument, 0, 'j'},
                                         {"max-held", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "q:d:j:m:h", opts, NULL)) != -1) {
        long *dst = c == 'q' ? &queue : c == 'd' ? &delay : c == 'j' ? &jitter : &max_held;
        long hi = c == 'q' ? 65535 : c == 'm' ? 1000000 : 600000;
        if (c == 'h') {
            netdelay_usage(stdout);
            return 0;
        }
        if (c == '?' || netdelay_parse_num(optarg, c == 'm' ? 1 : 0, hi, dst) != 0) {
            fprintf(stderr, "inferd-netdelay: bad option%s%s\n", c == '?' ? "" : " value ",
                    c == '?' ? "" : optarg);
            netdelay_usage(stderr);
            return 2;
        }
    }
    if (queue < 0 || delay < 0 || optind != argc) {
        netdelay_usage(stderr);
        return 2;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    netdelay_t d = {.cap = (size_t)max_held, .delay_ms = delay, .jitter_ms = jitter};
    d.rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
    d.ring = calloc(d.cap, sizeof *d.ring);
    struct nfq_handle *h = nfq_open();
    if (sfd < 0 || !d.ring || !h) {
        fprintf(stderr, "inferd-netdelay: setup failed: %s\n", strerror(errno));
        return 1;
    }
    d.qh = nfq_create_queue(h, (uint16_t)queue, netdelay_on_packet, &d);
    if (!d.qh || nfq_set_mode(d.qh, NFQNL_COPY_META, 0) < 0) {
        fprintf(stderr, "inferd-netdelay: cannot bind queue %ld: %s\n", queue, strerror(errno));
        nfq_close(h);
        return 1;
    }
    nfq_set_queue_maxlen(d.qh, (uint32_t)max_held * 2);
    /* the kernel's queue full: let packets through rather than drop them (a delayer, not a
     * loss generator) */
    nfq_set_queue_flags(d.qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
    int fd = nfq_fd(h);
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    fprintf(stderr, "inferd-netdelay: queue %ld, delay %ld ms, jitter %ld ms, ready\n", queue,
            delay, jitter);

    static char buf[65536] __attribute__((aligned));
    int running = 1;
    while (running) {
        int timeout = netdelay_release(&d, 0);
        struct pollfd p[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, timeout) < 0 && errno != EINTR) break;
        if (p[1].revents) running = 0;
        if (p[0].revents & POLLIN) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) nfq_handle_packet(h, buf, (int)n);
        }
    }
    netdelay_release(&d, 1);
    fprintf(stderr,
            "inferd-netdelay: exit, %" PRIu64 " packets delayed, %" PRIu64
            " passed undelayed (queue full)\n",
            d.held_total, d.overflow_total);
    nfq_destroy_queue(d.qh);
    nfq_close(h);
    free(d.ring);
    close(sfd);
    return 0;
}
