/* End to end: a real inferd-worker process attached to a region made here, fed batches
 * through the ring, answering through its completion ring; stop and node-side checks. */
#include "inferd/clock.h"
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch_fixture.h"

#define WAIT_NS (20ll * 1000000000) /* bound for every wait */

typedef struct fx {
    char dir[256], model_dir[300];
    shm_region r;
    shm_arena *a;
    pid_t pid;
} fx;

static void write_config(fx *f, const char *name, const char *json)
{
    snprintf(f->model_dir, sizeof f->model_dir, "%s/%s", f->dir, name);
    assert_int_equal(mkdir(f->model_dir, 0700), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/config.json", f->model_dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(json, fp);
    fclose(fp);
}

static pid_t spawn_worker(fx *f, uint32_t worker, uint32_t model, const char *model_dir)
{
    atomic_store(&f->r.workers[worker].state, SHM_WORKER_STARTING);
    f->r.workers[worker].model = model;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(f->r.fd, 3) < 0) _exit(120);
        fcntl(3, F_SETFD, 0);
        char w[16], m[16];
        snprintf(w, sizeof w, "%u", worker);
        snprintf(m, sizeof m, "%u", model);
        execl(INFERD_WORKER_BIN, "inferd-worker", "--shm-fd", "3", "--worker", w, "--model-slot", m,
              "--model-dir", model_dir, "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits (bounded) until the worker publishes IDLE; fails if it exited first. */
static void wait_ready(fx *f, uint32_t worker, pid_t pid)
{
    int64_t end = clock_now_ns() + WAIT_NS;
    while (atomic_load(&f->r.workers[worker].state) != SHM_WORKER_IDLE) {
        int status;
        assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
        assert_true(clock_now_ns() < end);
        usleep(1000);
    }
    assert_int_equal(atomic_load(&f->r.workers[worker].pid), pid);
    assert_true(atomic_load(&f->r.workers[worker].heartbeat_ns) > 0);
}

/* Waits (bounded) for one completion from worker; returns the slot. */
static uint32_t wait_completion(fx *f, uint32_t worker)
{
    int64_t end = clock_now_ns() + WAIT_NS;
    uint32_t slot;
    for (;;) {
        if (shm_poll_completion(&f->r, worker, &slot) == 0) return slot;
        shm_waiter *w = &f->r.header->completion;
        uint32_t seq = shm_waiter_prepare(w);
        if (shm_poll_completion(&f->r, worker, &slot) == 0) {
            shm_waiter_cancel(w);
            return slot;
        }
        shm_waiter_wait(w, seq, 100000000);
        if (clock_now_ns() > end) fail_msg("no completion within the bound");
    }
}

static int wait_exit(pid_t pid)
{
    int64_t end = clock_now_ns() + WAIT_NS;
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (clock_now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(1000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int setup(void **st)
{
    static fx f;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/inferd-e2e-XXXXXX");
    if (!mkdtemp(f.dir)) return -1;
    shm_config c;
    shm_config_default(&c);
    c.max_models = 2;
    c.max_workers = 4;
    c.batch_slots = 64;
    c.ring_capacity = 64;
    c.completion_capacity = 64;
    c.arena_size = 4 << 20;
    char err[256];
    if (shm_region_create(&c, &f.r, err, sizeof err)) return -1;
    f.a = shm_arena_create(&f.r);
    snprintf(f.r.models[0].name, SHM_NAME_LEN, "rev");
    snprintf(f.r.models[1].name, SHM_NAME_LEN, "slow");
    *st = &f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    shm_arena_destroy(f->a);
    shm_region_close(&f->r);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_reverse_worker(void **st)
{
    fx *f = *st;
    write_config(f, "rev", "{\"backend\": \"reverse\", \"max_batch_size\": 8}");
    pid_t pid = spawn_worker(f, 0, 0, f->model_dir);
    wait_ready(f, 0, pid);

    /* Batch 0: two requests; batch 1: output area too small; batch 2: a deadline passed. */
    assert_int_equal(fixture_batch(&f->r, f->a, 0, 0, 2, 4096, 100), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 0, 0, "hello", 5), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 0, 1, "", 0), 0);
    assert_int_equal(fixture_batch(&f->r, f->a, 1, 0, 1, 8, 101), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 1, 0, "world", 5), 0);
    assert_int_equal(fixture_batch(&f->r, f->a, 2, 0, 1, 4096, 102), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 2, 0, "late", 4), 0);
    fixture_requests(&f->r, &f->r.batches[2])[0].deadline_ns = clock_now_ns() - 1;
    shm_batch snap[3];
    for (uint32_t s = 0; s < 3; s++) {
        memcpy(&snap[s], &f->r.batches[s], sizeof snap[s]);
        assert_int_equal(shm_submit(&f->r, s), 0);
    }
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        uint32_t slot = wait_completion(f, 0);
        assert_true(slot < 3);
        seen |= 1 << slot;
        assert_int_equal(atomic_load(&f->r.batches[slot].state), SHM_BATCH_DONE);
        assert_int_equal(f->r.batches[slot].worker, 0);
        int32_t status;
        uint64_t needed;
        char text[SHM_ERROR_LEN];
        assert_int_equal(shm_batch_read_result(&f->r, slot, &status, &needed, text, sizeof text),
                         0);
        shm_tensor outs[2];
        int32_t sts[2];
        char err[256];
        if (slot == 1) {
            assert_int_equal(status, SHM_STATUS_OUTPUT_TOO_SMALL);
            assert_int_equal(needed, 4 + 18 + 5);
            continue;
        }
        assert_int_equal(status, SHM_STATUS_OK);
        assert_int_equal(shm_batch_check_outputs(&f->r, &snap[slot], outs, sts, err, sizeof err),
                         0);
        char buf[64];
        if (slot == 0) {
            assert_int_equal(sts[0], SHM_STATUS_OK);
            assert_int_equal(fixture_get_string(&f->r, &snap[0], 0, buf, sizeof buf), 23);
            assert_string_equal(buf, "WORKER_PROCESSED: OLLEH");
            assert_int_equal(fixture_get_string(&f->r, &snap[0], 1, buf, sizeof buf), 18);
        } else {
            assert_int_equal(sts[0], SHM_STATUS_DEADLINE);
        }
    }
    assert_int_equal(seen, 7);
    assert_int_equal(atomic_load(&f->r.workers[0].batches_done), 3);
    assert_int_equal(atomic_load(&f->r.workers[0].in_hand), 0);

    /* Many batches through a small ring: all answered exactly once. */
    int count[64] = {0};
    uint32_t submitted = 0, answered = 0;
    const uint32_t total = 300;
    int64_t end = clock_now_ns() + WAIT_NS;
    uint32_t free_slots[64], n_free = 0;
    for (uint32_t s = 3; s < 64; s++) free_slots[n_free++] = s;
    shm_arena_destroy(f->a); /* start the arena afresh for the stream */
    f->a = shm_arena_create(&f->r);
    while (answered < total && clock_now_ns() < end) {
        if (submitted < total && n_free > 0) {
            uint32_t s = free_slots[--n_free];
            assert_int_equal(fixture_batch(&f->r, f->a, s, 0, 1, 256, 1000 + submitted), 0);
            assert_int_equal(fixture_set_string(&f->r, f->a, s, 0, "x", 1), 0);
            assert_int_equal(shm_submit(&f->r, s), 0);
            submitted++;
            continue;
        }
        uint32_t slot = wait_completion(f, 0);
        count[slot]++;
        char buf[64];
        assert_int_equal(fixture_get_string(&f->r, &f->r.batches[slot], 0, buf, sizeof buf), 19);
        shm_request *q = fixture_requests(&f->r, &f->r.batches[slot]);
        (void)q;
        shm_arena_free(f->a, f->r.batches[slot].table_off);
        shm_arena_free(f->a, f->r.batches[slot].out_off);
        atomic_store(&f->r.batches[slot].state, SHM_BATCH_FREE);
        free_slots[n_free++] = slot;
        answered++;
    }
    assert_int_equal(answered, total);
    assert_int_equal(atomic_load(&f->r.workers[0].batches_done), 3 + total);

    /* Stop: the worker exits 0. */
    atomic_store(&f->r.workers[0].stop, 1);
    shm_waiter_wake(&f->r.models[0].work, 64);
    assert_int_equal(wait_exit(pid), 0);
}

static void test_delay_worker_holds_many(void **st)
{
    fx *f = *st;
    write_config(f, "slow", "{\"backend\": \"delay\", \"max_batch_size\": 8, \"delay_ms\": 200}");
    pid_t pid = spawn_worker(f, 1, 1, f->model_dir);
    wait_ready(f, 1, pid);
    /* 20 batches of 200 ms each: a sync worker would need 4 s; the delay worker must hold them
     * all at once, which we observe as in_hand reaching 20 (no timing assertion). */
    float v = 2;
    for (uint32_t s = 0; s < 20; s++) {
        assert_int_equal(fixture_batch(&f->r, f->a, s, 1, 1, 256, 2000 + s), 0);
        assert_int_equal(fixture_set_floats(&f->r, f->a, s, 0, &v, 1), 0);
        assert_int_equal(shm_submit(&f->r, s), 0);
    }
    uint32_t max_in_hand = 0, done = 0;
    int64_t end = clock_now_ns() + WAIT_NS;
    uint32_t slot;
    while (done < 20 && clock_now_ns() < end) {
        uint32_t h = atomic_load(&f->r.workers[1].in_hand);
        if (h > max_in_hand) max_in_hand = h;
        if (shm_poll_completion(&f->r, 1, &slot) == 0) {
            done++;
            shm_tensor *o = fixture_outputs(&f->r, &f->r.batches[slot]);
            assert_int_equal(o[0].nbytes, 4);
            assert_memory_equal(shm_arena_ptr(&f->r, o[0].offset), &v, 4);
        }
    }
    assert_int_equal(done, 20);
    assert_int_equal(max_in_hand, 20);
    /* SIGTERM (as on node death) also ends it cleanly. */
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid), 0);
}

static void test_worker_rejects_bad_start(void **st)
{
    fx *f = *st;
    /* Model name mismatch: slot 0 is "rev", but this folder is "other". */
    write_config(f, "other", "{\"backend\": \"identity\"}");
    pid_t pid = spawn_worker(f, 2, 0, f->model_dir);
    assert_int_equal(wait_exit(pid), 1);
    /* Unknown backend. */
    write_config(f, "onnxy",
                 "{\"backend\": \"nosuch\", "
                 "\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"dims\": [4]}], "
                 "\"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"dims\": [4]}]}");
    snprintf(f->r.models[1].name, SHM_NAME_LEN, "onnxy");
    pid = spawn_worker(f, 2, 1, f->model_dir);
    assert_int_equal(wait_exit(pid), 1);
    /* Bad flags. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(INFERD_WORKER_BIN, "inferd-worker", "--worker", "x", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(wait_exit(pid), 2);
}

/* kill -9 while holding a batch: the region shows who held it (CLAIMED, worker = w) and the
 * ring needs no repair; the heartbeat of a live worker keeps moving. */
static void test_killed_worker_leaves_trace(void **st)
{
    fx *f = *st;
    /* Reuse the "slow" (delay 200 ms) model folder from the previous test. */
    snprintf(f->model_dir, sizeof f->model_dir, "%s/slow", f->dir);
    snprintf(f->r.models[1].name, SHM_NAME_LEN, "slow");
    atomic_store(&f->r.workers[3].stop, 0);
    pid_t pid = spawn_worker(f, 3, 1, f->model_dir);
    wait_ready(f, 3, pid);
    uint64_t beat = atomic_load(&f->r.workers[3].heartbeat_ns);
    int64_t end = clock_now_ns() + WAIT_NS;
    while (atomic_load(&f->r.workers[3].heartbeat_ns) == beat && clock_now_ns() < end) usleep(1000);
    assert_true(atomic_load(&f->r.workers[3].heartbeat_ns) > beat);

    float v = 3;
    assert_int_equal(fixture_batch(&f->r, f->a, 40, 1, 1, 256, 4000), 0);
    assert_int_equal(fixture_set_floats(&f->r, f->a, 40, 0, &v, 1), 0);
    fixture_requests(&f->r, &f->r.batches[40])[0].delay_us = 60000000; /* 60 s */
    assert_int_equal(shm_submit(&f->r, 40), 0);
    while (atomic_load(&f->r.batches[40].state) != SHM_BATCH_CLAIMED && clock_now_ns() < end)
        usleep(1000);
    assert_int_equal(atomic_load(&f->r.batches[40].state), SHM_BATCH_CLAIMED);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(f->r.batches[40].worker, 3);
    assert_int_equal(atomic_load(&f->r.workers[3].in_hand), 1);
    uint64_t value;
    assert_int_equal(
        shm_model_ring_repair(&f->r, 1, atomic_load(&f->r.workers[3].claim_pos), &value), 0);
    uint32_t slot;
    assert_int_equal(shm_poll_completion(&f->r, 3, &slot), -EAGAIN);
    atomic_store(&f->r.batches[40].state, SHM_BATCH_FREE);
    atomic_store(&f->r.workers[3].in_hand, 0);
}

/* The node dies: the worker exits on its own at once, SIGKILLed by PR_SET_PDEATHSIG or
 * through its pidfd watch (exit 3), never by finishing politely. */
static void test_worker_exits_when_node_dies(void **st)
{
    fx *f = *st;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); /* orphans come back to us */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t node = fork();
    assert_true(node >= 0);
    if (node == 0) { /* a stand-in node: starts the worker, waits until ready, dies */
        f->r.header->node_pid = getpid();
        pid_t w = spawn_worker(f, 3, 1, f->model_dir);
        int64_t end = clock_now_ns() + WAIT_NS;
        while (atomic_load(&f->r.workers[3].state) != SHM_WORKER_IDLE && clock_now_ns() < end)
            usleep(1000);
        if (write(pfd[1], &w, sizeof w) != sizeof w) _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    pid_t worker = 0;
    assert_int_equal(read(pfd[0], &worker, sizeof worker), sizeof worker);
    close(pfd[0]);
    int status;
    assert_int_equal(waitpid(node, &status, 0), node);
    assert_true(worker > 0);
    int rc = wait_exit(worker); /* reparented to us; exits without being told */
    assert_true(rc == 128 + SIGKILL || rc == 3);
    f->r.header->node_pid = getpid();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_worker),
        cmocka_unit_test(test_delay_worker_holds_many),
        cmocka_unit_test(test_worker_rejects_bad_start),
        cmocka_unit_test(test_killed_worker_leaves_trace),
        cmocka_unit_test(test_worker_exits_when_node_dies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
