/* The live stats region: a reader never sees a torn record while a writer updates it as fast
 * as it can (every field derived from one counter), both sides make progress, a writer that
 * died mid-write cannot hang a reader, and a reader refuses a region it cannot trust. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/clock.h"
#include "inferd/live_stats.h"

#define READS       200000
#define MIN_WRITES  1000
#define MIN_CHANGES 200 /* changes the reader saw: evidence the two threads overlapped */
#define DEADLINE_NS (60 * 1000000000LL)

static void temp_path(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "/tmp/inferd-live-test-%s-%d", tag, (int)getpid());
}

/* Record k: every counter k (or derived from k), the name "model-<k>". */
static void fill_model(live_stats_model *m, uint64_t k)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "model-%llu", (unsigned long long)k);
    uint64_t *first = &m->requests_ok;
    uint64_t *last = &m->arena_size;
    for (uint64_t *p = first; p <= last; p++) *p = k * 3 + (uint64_t)(p - first);
    m->version = (int64_t)k;
    m->ready = (int64_t)(k & 1);
}

/* k if m is one consistent record, else UINT64_MAX (torn). */
static uint64_t model_counter(const live_stats_model *m)
{
    uint64_t k = (uint64_t)m->version;
    live_stats_model want;
    fill_model(&want, k);
    want.seq = m->seq;
    return memcmp(&want, m, sizeof want) == 0 ? k : UINT64_MAX;
}

typedef struct race {
    live_stats_writer w;
    _Atomic uint64_t writes;
    atomic_int stop;
} race;

static void *writer_main(void *arg)
{
    race *r = arg;
    live_stats_model m;
    for (uint64_t k = 1; !atomic_load(&r->stop); k++) {
        fill_model(&m, k);
        live_stats_write_model(&r->w, 3, &m);
        atomic_store(&r->writes, k);
    }
    return NULL;
}

static void no_torn_snapshot_under_fast_writer(void **state)
{
    (void)state;
    char path[128], err[256];
    temp_path(path, sizeof path, "race");
    race r;
    memset(&r, 0, sizeof r);
    assert_int_equal(
        live_stats_writer_create(path, getpid(), 1234, 100, 8, 8, &r.w, err, sizeof err), 0);
    live_stats_reader rd;
    assert_int_equal(live_stats_reader_open(path, &rd, err, sizeof err), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &r), 0);

    int64_t deadline = clock_now_ns() + DEADLINE_NS;
    uint64_t torn = 0, busy = 0, ok = 0, last = 0, distinct = 0;
    while ((ok < READS || distinct < MIN_CHANGES || atomic_load(&r.writes) < MIN_WRITES) &&
           clock_now_ns() < deadline) {
        live_stats_model m;
        int rc = live_stats_read_model(&rd, 3, &m);
        if (rc == -EAGAIN) {
            busy++;
            continue;
        }
        assert_int_equal(rc, 0);
        if (m.seq == 0) continue; /* not written yet: all zero, also consistent */
        uint64_t k = model_counter(&m);
        if (k == UINT64_MAX) {
            torn++;
            continue;
        }
        assert_true(k >= last); /* never back in time */
        assert_true(m.seq % 2 == 0);
        if (k != last) distinct++;
        last = k;
        ok++;
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    uint64_t writes = atomic_load(&r.writes);
    print_message("reads ok=%llu busy=%llu torn=%llu distinct=%llu writes=%llu\n",
                  (unsigned long long)ok, (unsigned long long)busy, (unsigned long long)torn,
                  (unsigned long long)distinct, (unsigned long long)writes);
    assert_int_equal(torn, 0);
    assert_true(ok >= READS);             /* the reader made progress */
    assert_true(writes >= MIN_WRITES);    /* and so did the writer */
    assert_true(distinct >= MIN_CHANGES); /* the reader saw it move, many times */
    live_stats_reader_close(&rd);
    live_stats_writer_close(&r.w, 1);
    assert_int_equal(access(path, F_OK), -1);
}

static void dead_writer_cannot_hang_a_reader(void **state)
{
    (void)state;
    _Atomic uint64_t words[4];
    uint64_t out[4];
    for (int i = 0; i < 4; i++) atomic_init(&words[i], 7);
    atomic_store(&words[0], 5); /* odd: a writer stopped inside its write */
    assert_int_equal(live_stats_seq_read(words, out, 4), -EAGAIN);
    atomic_store(&words[0], 6);
    assert_int_equal(live_stats_seq_read(words, out, 4), 0);
    assert_int_equal(out[0], 6);
    assert_int_equal(out[3], 7);
}

static void header_and_records_round_trip(void **state)
{
    (void)state;
    char path[128], err[256];
    temp_path(path, sizeof path, "trip");
    live_stats_writer w;
    assert_int_equal(live_stats_writer_create(path, 4242, 8000, 100, 4, 16, &w, err, sizeof err),
                     0);
    live_stats_header h;
    memset(&h, 0, sizeof h);
    h.publishes = 9;
    h.models_used = 99; /* more than the slots: a reader clamps */
    h.workers_used = 2;
    h.node_state = LIVE_NODE_SERVING;
    live_stats_write_header(&w, &h);
    live_stats_worker wk = {.model = 1, .index = 2, .pid = 77, .state = LIVE_WORKER_BUSY};
    live_stats_write_worker(&w, 15, &wk);
    live_stats_write_worker(&w, 16, &wk); /* out of range: ignored */

    live_stats_reader rd;
    assert_int_equal(live_stats_reader_open(path, &rd, err, sizeof err), 0);
    live_stats_header got;
    assert_int_equal(live_stats_read_header(&rd, &got), 0);
    assert_memory_equal(got.magic, LIVE_STATS_MAGIC, 8);
    assert_int_equal(got.node_pid, 4242);
    assert_int_equal(got.http_port, 8000);
    assert_int_equal(got.publishes, 9);
    assert_int_equal(got.models_used, 4);
    assert_int_equal(got.workers_used, 2);
    assert_int_equal(got.node_state, LIVE_NODE_SERVING);
    live_stats_worker gw;
    assert_int_equal(live_stats_read_worker(&rd, 15, &gw), 0);
    assert_int_equal(gw.pid, 77);
    assert_string_equal(live_stats_worker_state_name(gw.state), "busy");
    assert_int_equal(live_stats_read_worker(&rd, 16, &gw), -EINVAL);
    live_stats_model gm;
    assert_int_equal(live_stats_read_model(&rd, 4, &gm), -EINVAL);
    live_stats_reader_close(&rd);

    /* another node replaced the file at this path: closing ours leaves theirs alone */
    live_stats_writer other;
    assert_int_equal(live_stats_writer_create(path, 4343, 8000, 100, 1, 1, &other, err, sizeof err),
                     0);
    live_stats_writer_close(&w, 1);
    assert_int_equal(live_stats_reader_open(path, &rd, err, sizeof err), 0);
    assert_int_equal(rd.constant.node_pid, 4343);
    live_stats_reader_close(&rd);
    live_stats_writer_close(&other, 1);
    assert_int_equal(access(path, F_OK), -1);
}

/* Writes a valid region, then corrupts one header word and expects the reader to refuse. */
static void reader_refuses_untrusted_regions(void **state)
{
    (void)state;
    char path[128], err[256];
    temp_path(path, sizeof path, "bad");
    live_stats_reader rd;
    assert_int_equal(live_stats_reader_open(path, &rd, err, sizeof err), -ENOENT);

    static const struct {
        size_t word;
        uint64_t value;
        const char *what;
    } corruptions[] = {
        {0, 0x4141414141414141ull, "magic"},
        {1, 2, "version"},
        {3, 999, "model record size"},
        {4, 1u << 30, "model slots"},
        {6, 100000, "worker slots beyond the file"},
        {11, 0, "models_off"},
        {12, 1 << 20, "workers_off"},
        {13, 1ull << 40, "total size beyond the file"},
    };
    for (size_t c = 0; c < sizeof corruptions / sizeof corruptions[0]; c++) {
        live_stats_writer w;
        assert_int_equal(live_stats_writer_create(path, 1, 1, 100, 2, 2, &w, err, sizeof err), 0);
        atomic_store(&w.words[corruptions[c].word], corruptions[c].value);
        int rc = live_stats_reader_open(path, &rd, err, sizeof err);
        if (rc != -EPROTO) fail_msg("%s: accepted (%d)", corruptions[c].what, rc);
        live_stats_writer_close(&w, 1);
    }
    /* a file too short for a header */
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "INFDLIVE", 8), 8);
    close(fd);
    assert_int_equal(live_stats_reader_open(path, &rd, err, sizeof err), -EPROTO);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_torn_snapshot_under_fast_writer),
        cmocka_unit_test(dead_writer_cannot_hang_a_reader),
        cmocka_unit_test(header_and_records_round_trip),
        cmocka_unit_test(reader_refuses_untrusted_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
