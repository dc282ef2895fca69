/* MPMC and SPSC rings: exactly-once delivery under concurrent producers and consumers, in
 * threads and in separate processes; full/empty; crash repair; waiter wake and timeout. */
#include "inferd/clock.h"
#include "shm_worker.h"
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/shm.h"

#define PER_PRODUCER 20000
#define PRODUCERS    3
#define CONSUMERS    3
#define TOTAL        (PER_PRODUCER * PRODUCERS)

typedef struct shared_area {
    _Atomic uint64_t consumed;   /* values popped so far */
    _Atomic uint8_t seen[TOTAL]; /* times each value was popped */
    _Atomic uint64_t claim_pos[CONSUMERS];
} shared_area;

static void *map_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static shm_ring *ring_new(uint64_t cap)
{
    shm_ring *r = map_shared(sizeof(shm_ring) + cap * sizeof(shm_ring_cell));
    r->capacity = cap;
    r->mask = cap - 1;
    for (uint64_t i = 0; i < cap; i++) atomic_store(&r->cells[i].seq, i);
    return r;
}

static void ring_free(shm_ring *r)
{
    munmap(r, sizeof(shm_ring) + r->capacity * sizeof(shm_ring_cell));
}

#define DEADLINE_NS (60ll * 1000000000) /* bound for every wait in this file */

static void producer(shm_ring *r, int id)
{
    int64_t end = clock_now_ns() + DEADLINE_NS;
    for (uint64_t i = 0; i < PER_PRODUCER; i++) {
        uint64_t v = (uint64_t)id * PER_PRODUCER + i;
        while (shm_ring_push(r, v) == -EAGAIN)
            if (clock_now_ns() > end) return;
    }
}

/* Returns the number of bad values seen (out of range). */
static int consumer(shm_ring *r, shared_area *a, int id)
{
    int bad = 0;
    int64_t end = clock_now_ns() + DEADLINE_NS;
    while (atomic_load(&a->consumed) < TOTAL && clock_now_ns() < end) {
        uint64_t v;
        if (shm_ring_pop(r, &v, &a->claim_pos[id]) != 0) continue;
        atomic_store(&a->claim_pos[id], 0);
        if (v >= TOTAL) bad++;
        else atomic_fetch_add(&a->seen[v], 1);
        atomic_fetch_add(&a->consumed, 1);
    }
    return bad;
}

static void check_exactly_once(shared_area *a)
{
    assert_int_equal(atomic_load(&a->consumed), TOTAL);
    for (uint64_t v = 0; v < TOTAL; v++)
        if (atomic_load(&a->seen[v]) != 1)
            fail_msg("value %lu seen %u times", (unsigned long)v,
                     (unsigned)atomic_load(&a->seen[v]));
}

typedef struct thread_arg {
    shm_ring *ring;
    shared_area *area;
    int id, bad;
} thread_arg;

static void *producer_thread(void *p)
{
    thread_arg *t = p;
    producer(t->ring, t->id);
    return NULL;
}

static void *consumer_thread(void *p)
{
    thread_arg *t = p;
    t->bad = consumer(t->ring, t->area, t->id);
    return NULL;
}

static void test_mpmc_threads(void **st)
{
    (void)st;
    shm_ring *r = ring_new(64); /* small: forces full and empty often */
    shared_area *a = map_shared(sizeof *a);
    pthread_t th[PRODUCERS + CONSUMERS];
    thread_arg args[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        args[i] = (thread_arg){r, a, i < PRODUCERS ? i : i - PRODUCERS, 0};
        pthread_create(&th[i], NULL, i < PRODUCERS ? producer_thread : consumer_thread, &args[i]);
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) pthread_join(th[i], NULL);
    for (int i = PRODUCERS; i < PRODUCERS + CONSUMERS; i++) assert_int_equal(args[i].bad, 0);
    check_exactly_once(a);
    assert_int_equal(shm_ring_size(r), 0);
    munmap(a, sizeof *a);
    ring_free(r);
}

static void test_mpmc_processes(void **st)
{
    (void)st;
    shm_ring *r = ring_new(64);
    shared_area *a = map_shared(sizeof *a);
    pid_t pids[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int bad = 0;
            if (i < PRODUCERS) producer(r, i);
            else bad = consumer(r, a, i - PRODUCERS);
            _exit(bad ? 1 : 0);
        }
        pids[i] = pid;
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    check_exactly_once(a);
    munmap(a, sizeof *a);
    ring_free(r);
}

static void test_mpmc_full_empty(void **st)
{
    (void)st;
    shm_ring *r = ring_new(4);
    uint64_t v;
    assert_int_equal(shm_ring_pop(r, &v, NULL), -EAGAIN);
    for (uint64_t i = 0; i < 4; i++) assert_int_equal(shm_ring_push(r, 100 + i), 0);
    assert_int_equal(shm_ring_push(r, 999), -EAGAIN);
    assert_int_equal(shm_ring_size(r), 4);
    for (uint64_t lap = 0; lap < 3; lap++) { /* wrap around a few times, FIFO order */
        for (uint64_t i = 0; i < 4; i++) {
            assert_int_equal(shm_ring_pop(r, &v, NULL), 0);
            assert_int_equal(v, 100 + i + lap * 4);
        }
        assert_int_equal(shm_ring_pop(r, &v, NULL), -EAGAIN);
        for (uint64_t i = 0; i < 4; i++)
            assert_int_equal(shm_ring_push(r, 100 + i + (lap + 1) * 4), 0);
    }
    ring_free(r);
}

/* A consumer "died" after claiming position 0 (dequeue_pos moved, cell not released). */
static void test_mpmc_repair(void **st)
{
    (void)st;
    shm_ring *r = ring_new(2);
    assert_int_equal(shm_ring_push(r, 7), 0);
    assert_int_equal(shm_ring_push(r, 8), 0);
    /* Simulate the dead consumer: claim_pos = 1, dequeue_pos = 1, cell 0 still seq == 1. */
    uint64_t claim = 1;
    atomic_store(&r->dequeue_pos, 1);
    assert_int_equal(shm_ring_push(r, 9), -EAGAIN); /* stuck cell blocks the producer */
    uint64_t v = 0;
    assert_int_equal(shm_ring_repair(r, 0, &v), 0);         /* nothing claimed */
    assert_int_equal(shm_ring_repair(r, claim + 1, &v), 0); /* position 1 not claimed */
    assert_int_equal(shm_ring_repair(r, claim, &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(shm_ring_repair(r, claim, &v), 0); /* only once */
    assert_int_equal(shm_ring_push(r, 9), 0);           /* ring moves again */
    assert_int_equal(shm_ring_pop(r, &v, NULL), 0);
    assert_int_equal(v, 8);
    assert_int_equal(shm_ring_pop(r, &v, NULL), 0);
    assert_int_equal(v, 9);
    ring_free(r);
}

/* claim_pos announced but the claim never happened: the value stays for others. */
static void test_mpmc_repair_unclaimed(void **st)
{
    (void)st;
    shm_ring *r = ring_new(4);
    _Atomic uint64_t claim = 0;
    assert_int_equal(shm_ring_push(r, 5), 0);
    uint64_t v;
    assert_int_equal(shm_ring_pop(r, &v, &claim), 0);
    assert_int_equal(atomic_load(&claim), 1);       /* recorded before the claim */
    assert_int_equal(shm_ring_repair(r, 1, &v), 0); /* released normally: nothing to do */
    assert_int_equal(shm_ring_push(r, 6), 0);
    assert_int_equal(shm_ring_repair(r, 2, &v), 0); /* full, unclaimed: left alone */
    assert_int_equal(shm_ring_pop(r, &v, NULL), 0);
    assert_int_equal(v, 6);
    ring_free(r);
}

/* A real process killed while holding claims: every value still delivered exactly once. */
static void test_mpmc_kill_consumer(void **st)
{
    (void)st;
    shm_ring *r = ring_new(8);
    shared_area *a = map_shared(sizeof *a);
    for (uint64_t i = 0; i < 8; i++) assert_int_equal(shm_ring_push(r, i), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* pop one value, record it, then stop forever mid-way */
        uint64_t v;
        if (shm_ring_pop(r, &v, &a->claim_pos[0]) == 0) {
            atomic_fetch_add(&a->seen[v], 1);
            atomic_store(&a->claim_pos[0], 0);
        }
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    uint64_t v;
    if (shm_ring_repair(r, atomic_load(&a->claim_pos[0]), &v) == 1)
        atomic_fetch_add(&a->seen[v], 1);
    while (shm_ring_pop(r, &v, NULL) == 0) atomic_fetch_add(&a->seen[v], 1);
    for (uint64_t i = 0; i < 8; i++) assert_int_equal(atomic_load(&a->seen[i]), 1);
    munmap(a, sizeof *a);
    ring_free(r);
}

static shm_spsc *spsc_new(uint64_t cap)
{
    shm_spsc *s = map_shared(sizeof(shm_spsc) + cap * 8);
    s->capacity = cap;
    s->mask = cap - 1;
    return s;
}

static void test_spsc_basic(void **st)
{
    (void)st;
    shm_spsc *s = spsc_new(4);
    uint64_t v;
    assert_int_equal(shm_spsc_pop(s, &v), -EAGAIN);
    for (uint64_t i = 0; i < 4; i++) assert_int_equal(shm_spsc_push(s, i), 0);
    assert_int_equal(shm_spsc_push(s, 4), -EAGAIN);
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(shm_spsc_pop(s, &v), 0);
        assert_int_equal(v, i);
    }
    assert_int_equal(shm_spsc_pop(s, &v), -EAGAIN);
    munmap(s, sizeof(shm_spsc) + 32);
}

static void test_spsc_processes(void **st)
{
    (void)st;
    shm_spsc *s = spsc_new(16);
    const uint64_t n = 200000;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int64_t end = clock_now_ns() + DEADLINE_NS;
        for (uint64_t i = 0; i < n; i++)
            while (shm_spsc_push(s, i * 3 + 1) != 0)
                if (clock_now_ns() > end) _exit(1);
        _exit(0);
    }
    int64_t end = clock_now_ns() + DEADLINE_NS;
    uint64_t next = 0, v;
    while (next < n && clock_now_ns() < end) {
        if (shm_spsc_pop(s, &v) != 0) continue;
        assert_int_equal(v, next * 3 + 1); /* in order, none lost or repeated */
        next++;
    }
    assert_int_equal(next, n);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    munmap(s, sizeof(shm_spsc) + 16 * 8);
}

static void test_waiter_timeout(void **st)
{
    (void)st;
    shm_waiter w = {0};
    uint32_t seq = shm_waiter_prepare(&w);
    assert_int_equal(atomic_load(&w.sleepers), 1);
    assert_int_equal(shm_waiter_wait(&w, seq, 1000000), -ETIMEDOUT);
    assert_int_equal(atomic_load(&w.sleepers), 0);
    seq = shm_waiter_prepare(&w);
    shm_waiter_cancel(&w);
    assert_int_equal(atomic_load(&w.sleepers), 0);
    shm_waiter_wake(&w, 1); /* nobody sleeps: seq must not move (no syscall) */
    assert_int_equal(atomic_load(&w.seq), seq);
    /* A stale seq returns at once. */
    seq = shm_waiter_prepare(&w);
    assert_int_equal(shm_waiter_wait(&w, seq + 1, -1), 0);
}

/* shm_waiter_wait_any: times out, returns at once on a stale seq, wakes on any one word (a
 * thread wakes the third of four), and undoes every prepare each time. */
static shm_waiter any_words[4];

static void *wake_third(void *arg)
{
    (void)arg;
    /* Wait (bounded) until the main thread announced itself on every word, then wake one. */
    for (int i = 0; i < 10000 && atomic_load(&any_words[3].sleepers) == 0; i++) usleep(1000);
    shm_waiter_wake(&any_words[2], 1);
    return NULL;
}

static void test_waiter_wait_any(void **st)
{
    (void)st;
    shm_waiter *ws[4];
    uint32_t seqs[4];
    memset(any_words, 0, sizeof any_words);
    for (int i = 0; i < 4; i++) ws[i] = &any_words[i];
    for (int i = 0; i < 4; i++) seqs[i] = shm_waiter_prepare(ws[i]);
    assert_int_equal(shm_waiter_wait_any(ws, seqs, 4, 1000000), -ETIMEDOUT);
    for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&any_words[i].sleepers), 0);
    for (int i = 0; i < 4; i++) seqs[i] = shm_waiter_prepare(ws[i]);
    seqs[1]++; /* stale: returns at once even without a timeout */
    assert_int_equal(shm_waiter_wait_any(ws, seqs, 4, -1), 0);
    pthread_t th;
    for (int i = 0; i < 4; i++) seqs[i] = shm_waiter_prepare(ws[i]);
    assert_int_equal(pthread_create(&th, NULL, wake_third, NULL), 0);
    /* 20 s bound: only a lost wake-up could take that long. */
    assert_int_equal(shm_waiter_wait_any(ws, seqs, 4, 20000000000LL), 0);
    assert_int_equal(atomic_load(&any_words[2].seq), seqs[2] + 1);
    pthread_join(th, NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&any_words[i].sleepers), 0);
    assert_int_equal(shm_waiter_wait_any(ws, seqs, 0, 0), -EINVAL);
}

/* Cross-process ping-pong: a child sleeps on the waiter for each of N tokens; no token may be
 * lost (a lost wake-up would show as a timeout). */
static void test_waiter_processes(void **st)
{
    (void)st;
    typedef struct pp {
        shm_waiter w;
        _Atomic uint64_t tokens;
        _Atomic uint64_t taken;
    } pp;
    pp *p = map_shared(sizeof *p);
    const uint64_t n = 2000;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int64_t end = clock_now_ns() + DEADLINE_NS;
        while (atomic_load(&p->taken) < n && clock_now_ns() < end) {
            uint64_t t = atomic_load(&p->tokens);
            if (t > atomic_load(&p->taken)) {
                atomic_fetch_add(&p->taken, 1);
                continue;
            }
            uint32_t seq = shm_waiter_prepare(&p->w);
            if (atomic_load(&p->tokens) > atomic_load(&p->taken)) {
                shm_waiter_cancel(&p->w);
                continue;
            }
            if (shm_waiter_wait(&p->w, seq, 5000000000ll) == -ETIMEDOUT) _exit(2);
        }
        _exit(atomic_load(&p->taken) == n ? 0 : 1);
    }
    int64_t end = clock_now_ns() + DEADLINE_NS;
    for (uint64_t i = 0; i < n && clock_now_ns() < end; i++) {
        atomic_fetch_add(&p->tokens, 1);
        shm_waiter_wake(&p->w, 1);
        while (atomic_load(&p->taken) <= i && clock_now_ns() < end) {}
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    munmap(p, sizeof *p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpmc_full_empty),
        cmocka_unit_test(test_mpmc_threads),
        cmocka_unit_test(test_mpmc_processes),
        cmocka_unit_test(test_mpmc_repair),
        cmocka_unit_test(test_mpmc_repair_unclaimed),
        cmocka_unit_test(test_mpmc_kill_consumer),
        cmocka_unit_test(test_spsc_basic),
        cmocka_unit_test(test_spsc_processes),
        cmocka_unit_test(test_waiter_timeout),
        cmocka_unit_test(test_waiter_wait_any),
        cmocka_unit_test(test_waiter_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
