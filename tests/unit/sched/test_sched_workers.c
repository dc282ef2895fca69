/* The scheduler end to end over a real shm region and real worker processes (a fake worker,
 * sched_fake_worker, whose behaviour SCHED_FAKE_MODE picks): answers and outputs, the
 * OUTPUT_TOO_SMALL resize, a worker returning out-of-bounds outputs, workers dying with a
 * batch in hand, a crash loop's backoff, drain, no arena leak, and loop threads submitting
 * and cancelling at once. */
#include "inferd/clock.h"
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/log.h"
#include "inferd/scheduler.h"
#include "scheduler_internal.h" /* the progress test holds the scheduler lock */

#ifndef SCHED_FAKE_WORKER
#error "SCHED_FAKE_WORKER must name the fake worker executable"
#endif

#define NREQ 24

typedef struct fixture {
    shm_region region;
    shm_arena *arena;
    scheduler *sched;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int answered;
    infer_request reqs[NREQ];
} fixture;

static void on_done(infer_request *req)
{
    fixture *f = req->user;
    pthread_mutex_lock(&f->mu);
    f->answered++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t g_hang_timeout_ms = 5000;

static void make_model(model_config *m, int min, int max)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "fake");
    snprintf(m->dir, sizeof(m->dir), "/nonexistent");
    snprintf(m->backend, sizeof(m->backend), "identity");
    m->max_batch_size = 8;
    m->n_inputs = m->n_outputs = 1;
    snprintf(m->inputs[0].name, MODEL_NAME_LEN, "INPUT0");
    m->inputs[0].dtype = INFERD_DTYPE_FP32;
    m->inputs[0].ndim = 1;
    m->inputs[0].dims[0] = -1;
    m->outputs[0] = m->inputs[0];
    snprintf(m->outputs[0].name, MODEL_NAME_LEN, "OUTPUT0");
    m->workers_min = min;
    m->workers_max = max;
    m->max_queue_size = 1024;
    m->timeout_ms = 30000;
    m->hang_timeout_ms = g_hang_timeout_ms;
    m->idle_timeout_ms = 60000;
}

static void start(fixture *f, const char *mode, int min)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    setenv("SCHED_FAKE_MODE", mode, 1);
    shm_config cfg;
    shm_config_default(&cfg);
    cfg.max_models = 2;
    cfg.max_workers = 8;
    cfg.batch_slots = 64;
    cfg.ring_capacity = 64;
    cfg.completion_capacity = 64;
    cfg.arena_size = 8 << 20;
    char err[256];
    assert_int_equal(shm_region_create(&cfg, &f->region, err, sizeof(err)), 0);
    f->arena = shm_arena_create(&f->region);
    assert_non_null(f->arena);
    model_config m;
    make_model(&m, min, min > 0 ? min : 1);
    sched_options opts;
    sched_options_default(&opts);
    opts.worker_path = SCHED_FAKE_WORKER;
    shm_region *regions[1] = {&f->region};
    shm_arena *arenas[1] = {f->arena};
    assert_int_equal(sched_create(&opts, &m, 1, regions, arenas, &f->sched, err, sizeof(err)), 0);
}

static void stop(fixture *f)
{
    sched_destroy(f->sched);
    assert_int_equal(shm_arena_used(f->arena), 0); /* every buffer came back */
    shm_arena_destroy(f->arena);
    shm_region_close(&f->region);
}

static int wait_ready(fixture *f, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 10) {
        if (sched_model_ready(f->sched, 0)) return 1;
        sleep_ms(10);
    }
    return 0;
}

static int wait_answered(fixture *f, int n, int timeout_ms)
{
    int64_t until = clock_now_ns() + (int64_t)timeout_ms * 1000000LL;
    pthread_mutex_lock(&f->mu);
    while (f->answered < n && clock_now_ns() < until) {
        pthread_mutex_unlock(&f->mu);
        sleep_ms(5);
        pthread_mutex_lock(&f->mu);
    }
    int got = f->answered;
    pthread_mutex_unlock(&f->mu);
    return got;
}

/* req as request i: rows x 3 floats, value = i * 100 + k. */
static void fill_request(fixture *f, infer_request *req, int i, int rows, int64_t delay_us)
{
    memset(req, 0, sizeof(*req));
    req->model = 0;
    req->n_inputs = 1;
    req->batch_rows = rows;
    req->delay_us = delay_us;
    req->done = on_done;
    req->user = f;
    shm_tensor *t = &req->inputs[0];
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 2;
    t->dims[0] = rows;
    t->dims[1] = 3;
    t->nbytes = (uint64_t)rows * 3 * sizeof(float);
    assert_int_equal(shm_arena_alloc(f->arena, t->nbytes, &t->offset), 0);
    float *v = shm_arena_ptr(&f->region, t->offset);
    for (int k = 0; k < rows * 3; k++) v[k] = (float)(i * 100 + k);
}

static void make_request(fixture *f, int i, int rows, int64_t delay_us)
{
    fill_request(f, &f->reqs[i], i, rows, delay_us);
}

static void check_echo(fixture *f, int i)
{
    infer_request *req = &f->reqs[i];
    assert_int_equal(req->status, 0);
    assert_int_equal(req->n_outputs, 1);
    assert_int_equal(req->outputs[0].nbytes, req->inputs[0].nbytes);
    assert_int_equal(req->outputs[0].dims[0], req->batch_rows);
    const float *v = shm_arena_ptr(&f->region, req->outputs[0].offset);
    for (int k = 0; k < req->batch_rows * 3; k++) assert_true(v[k] == (float)(i * 100 + k));
}

static void run_echo(const char *mode)
{
    fixture *f = calloc(1, sizeof(*f));
    start(f, mode, 2);
    assert_true(wait_ready(f, 10000));
    for (int i = 0; i < NREQ; i++) {
        make_request(f, i, 1 + i % 3, 0);
        assert_int_equal(sched_submit(f->sched, &f->reqs[i]), 0);
    }
    assert_int_equal(wait_answered(f, NREQ, 20000), NREQ);
    for (int i = 0; i < NREQ; i++) {
        check_echo(f, i);
        sched_release(f->sched, &f->reqs[i]);
    }
    stop(f);
    free(f);
}

static void test_echo(void **state)
{
    (void)state;
    run_echo("echo");
}

static void test_output_too_small_resubmits(void **state)
{
    (void)state;
    run_echo("small");
}

static void test_bad_outputs_fail_500(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "bad", 1);
    assert_true(wait_ready(f, 10000));
    make_request(f, 0, 1, 0);
    assert_int_equal(sched_submit(f->sched, &f->reqs[0]), 0);
    assert_int_equal(wait_answered(f, 1, 20000), 1);
    assert_int_equal(f->reqs[0].status, 500);
    assert_int_equal(f->reqs[0].n_outputs, 0);
    sched_release(f->sched, &f->reqs[0]);
    /* The worker was killed for it and a new one is spawned. */
    sched_stats st;
    for (int t = 0; t < 10000; t += 10) {
        sched_model_stats(f->sched, 0, &st);
        if (st.worker_spawns >= 2) break;
        sleep_ms(10);
    }
    assert_true(st.worker_spawns >= 2);
    stop(f);
    free(f);
}

static void test_worker_death_fails_after_retry(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "die", 1);
    assert_true(wait_ready(f, 10000));
    make_request(f, 0, 2, 0);
    assert_int_equal(sched_submit(f->sched, &f->reqs[0]), 0);
    /* Attempt 1 dies, attempt 2 (on the restarted worker) dies: then 500. */
    assert_int_equal(wait_answered(f, 1, 20000), 1);
    assert_int_equal(f->reqs[0].status, 500);
    assert_non_null(strstr(f->reqs[0].error, "died"));
    sched_release(f->sched, &f->reqs[0]);
    stop(f);
    free(f);
}

static void test_crash_loop_backs_off(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "crash", 1);
    int64_t t0 = clock_now_ns();
    sched_stats st;
    /* Until the backoff reaches 800 ms: 100 + 200 + 400 = 700 ms of restarts at least. */
    for (int t = 0; t < 15000; t += 10) {
        sched_model_stats(f->sched, 0, &st);
        if (st.restart_backoff_ms >= 800) break;
        sleep_ms(10);
    }
    double secs = (double)(clock_now_ns() - t0) / 1e9;
    assert_true(st.restart_backoff_ms >= 800);
    assert_true(secs >= 0.6);
    assert_true(st.worker_spawns <= 6);
    assert_false(sched_model_ready(f->sched, 0));
    /* With no worker and none due soon, a request is refused or answered 503, not hung. */
    for (int t = 0; t < 15000; t += 10) {
        sched_model_stats(f->sched, 0, &st);
        if (st.restart_backoff_ms >= 1600 && st.workers_starting == 0) break;
        sleep_ms(10);
    }
    make_request(f, 0, 1, 0);
    if (sched_submit(f->sched, &f->reqs[0]) == 0) assert_int_equal(wait_answered(f, 1, 20000), 1);
    assert_int_equal(f->reqs[0].status, 503);
    assert_true(f->reqs[0].retry_after_s >= 1);
    sched_release(f->sched, &f->reqs[0]);
    stop(f);
    free(f);
}

static void test_drain_answers_everything(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "echo", 2);
    assert_true(wait_ready(f, 10000));
    for (int i = 0; i < 6; i++) {
        make_request(f, i, 1, 100000); /* 100 ms each */
        assert_int_equal(sched_submit(f->sched, &f->reqs[i]), 0);
    }
    assert_int_equal(sched_drain(f->sched, 20000), 0);
    assert_int_equal(wait_answered(f, 6, 1000), 6);
    for (int i = 0; i < 6; i++) {
        check_echo(f, i);
        sched_release(f->sched, &f->reqs[i]);
    }
    /* After a drain, submit refuses with 503. */
    make_request(f, 7, 1, 0);
    assert_int_equal(sched_submit(f->sched, &f->reqs[7]), -1);
    assert_int_equal(f->reqs[7].status, 503);
    sched_release(f->sched, &f->reqs[7]);
    stop(f);
    free(f);
}

static void test_expired_and_bad_requests(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "echo", 1);
    assert_true(wait_ready(f, 10000));
    make_request(f, 0, 1, 0);
    f->reqs[0].deadline_ns = clock_now_ns() - 1;
    assert_int_equal(sched_submit(f->sched, &f->reqs[0]), -1);
    assert_int_equal(f->reqs[0].status, 504);
    sched_release(f->sched, &f->reqs[0]);
    make_request(f, 1, 9, 0); /* more rows than max_batch_size */
    assert_int_equal(sched_submit(f->sched, &f->reqs[1]), -1);
    assert_int_equal(f->reqs[1].status, 400);
    sched_release(f->sched, &f->reqs[1]);
    make_request(f, 2, 1, 0);
    f->reqs[2].model = 5;
    assert_int_equal(sched_submit(f->sched, &f->reqs[2]), -1);
    assert_int_equal(f->reqs[2].status, 400);
    f->reqs[2].model = 0; /* its inputs are in model 0's arena: release frees them there */
    sched_release(f->sched, &f->reqs[2]);
    assert_int_equal(sched_find_model(f->sched, "fake"), 0);
    assert_int_equal(sched_find_model(f->sched, "nope"), -1);
    stop(f);
    free(f);
}

static void test_scale_from_zero(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "echo", 0);
    assert_true(sched_model_ready(f->sched, 0)); /* ready: it scales from zero */
    sched_stats st;
    sched_model_stats(f->sched, 0, &st);
    assert_int_equal(st.worker_spawns, 0);
    make_request(f, 0, 2, 0);
    assert_int_equal(sched_submit(f->sched, &f->reqs[0]), 0);
    assert_int_equal(wait_answered(f, 1, 20000), 1);
    check_echo(f, 0);
    sched_release(f->sched, &f->reqs[0]);
    sched_model_stats(f->sched, 0, &st);
    assert_int_equal(st.worker_spawns, 1);
    stop(f);
    free(f);
}

static void test_hung_worker_killed_batch_retried(void **state)
{
    (void)state;
    char mark[] = "/tmp/sched_fake_markXXXXXX";
    int fd = mkstemp(mark);
    assert_true(fd >= 0);
    close(fd);
    unlink(mark); /* the first worker to claim creates it */
    setenv("SCHED_FAKE_MARK", mark, 1);
    g_hang_timeout_ms = 300;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "hang-once", 1);
    assert_true(wait_ready(f, 10000));
    make_request(f, 0, 1, 0);
    assert_int_equal(sched_submit(f->sched, &f->reqs[0]), 0);
    assert_int_equal(wait_answered(f, 1, 20000), 1);
    check_echo(f, 0); /* attempt 2, on the restarted worker */
    sched_release(f->sched, &f->reqs[0]);
    sched_stats st;
    sched_model_stats(f->sched, 0, &st);
    assert_true(st.worker_spawns >= 2);
    stop(f);
    free(f);
    g_hang_timeout_ms = 5000;
    unlink(mark);
    unsetenv("SCHED_FAKE_MARK");
}

/* Loop threads submitting and cancelling at once, against the completion thread answering
 * and dispatching: every accepted request is answered exactly once (done, cancel or both
 * never), the counters add up, nothing stays queued or in flight, no arena byte leaks (and
 * under TSan: no data race between the model's lock holders). */
#define STRESS_THREADS 4
#define STRESS_PER     64
typedef struct stress_ctx {
    fixture *f;
    infer_request reqs[STRESS_THREADS * STRESS_PER];
    atomic_int done[STRESS_THREADS * STRESS_PER];
    int accepted[STRESS_THREADS * STRESS_PER];
    int thread;
} stress_ctx;
static stress_ctx g_stress;

static void on_done_stress(infer_request *req)
{
    atomic_fetch_add(&g_stress.done[req - g_stress.reqs], 1);
    on_done(req);
}

static void *stress_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 0; k < STRESS_PER; k++) {
        int i = t * STRESS_PER + k;
        infer_request *req = &g_stress.reqs[i];
        g_stress.accepted[i] = sched_submit(g_stress.f->sched, req) == 0;
        if (g_stress.accepted[i] && k % 3 == 0) sched_cancel(g_stress.f->sched, req);
    }
    return NULL;
}

static void test_concurrent_submit_cancel(void **state)
{
    (void)state;
    fixture *f = calloc(1, sizeof(*f));
    start(f, "echo", 2);
    assert_true(wait_ready(f, 10000));
    memset(&g_stress, 0, sizeof(g_stress));
    g_stress.f = f;
    int n = STRESS_THREADS * STRESS_PER;
    for (int i = 0; i < n; i++) {
        fill_request(f, &g_stress.reqs[i], i, 1, i % 5 == 0 ? 2000 : 0);
        g_stress.reqs[i].done = on_done_stress;
        atomic_init(&g_stress.done[i], 0);
    }
    pthread_t th[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, stress_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < STRESS_THREADS; t++) pthread_join(th[t], NULL);
    int accepted = 0;
    for (int i = 0; i < n; i++) accepted += g_stress.accepted[i];
    assert_int_equal(accepted, n); /* the queue bound (1024) is not reached */
    assert_int_equal(wait_answered(f, accepted, 30000), accepted);
    int ok = 0, cancelled = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(atomic_load(&g_stress.done[i]), 1);
        infer_request *req = &g_stress.reqs[i];
        if (req->status == 0) {
            ok++;
            assert_int_equal(req->outputs[0].nbytes, req->inputs[0].nbytes);
        } else {
            assert_int_equal(req->status, 499);
            cancelled++;
        }
        sched_release(f->sched, req);
    }
    print_message("stress: %d answered, %d cancelled while queued\n", ok, cancelled);
    assert_true(cancelled <= STRESS_THREADS * ((STRESS_PER + 2) / 3)); /* only those asked */
    sched_stats st;
    assert_int_equal(sched_model_stats(f->sched, 0, &st), 0);
    assert_int_equal(st.counters.requests_ok, ok);
    assert_int_equal(st.counters.requests_cancelled, cancelled);
    assert_int_equal(st.queue_len, 0);
    assert_int_equal(st.batches_in_flight, 0);
    stop(f);
    free(f);
}

/* Liveness: the supervisor's heartbeat stops while anything holds the scheduler lock (as a
 * thread looping under it would), and resumes when it is released. */
static void test_progress_age_tracks_the_lock(void **state)
{
    (void)state;
    fixture f;
    start(&f, "echo", 1);
    assert_true(wait_ready(&f, 10000));
    int fresh = 0;
    for (int t = 0; t < 5000 && !fresh; t += 10) {
        fresh = sched_progress_age_ns(f.sched) < 200000000LL;
        if (!fresh) sleep_ms(10);
    }
    assert_true(fresh);
    pthread_mutex_lock(&f.sched->mu);
    sleep_ms(300); /* the supervisor cannot tick in here */
    int64_t held = sched_progress_age_ns(f.sched);
    pthread_mutex_unlock(&f.sched->mu);
    assert_true(held >= 300000000LL);
    fresh = 0;
    for (int t = 0; t < 5000 && !fresh; t += 10) {
        fresh = sched_progress_age_ns(f.sched) < held;
        if (!fresh) sleep_ms(10);
    }
    assert_true(fresh);
    stop(&f);
}

int main(void)
{
    log_init(LOG_WARN, LOG_FORMAT_TEXT, "test_sched_workers");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_output_too_small_resubmits),
        cmocka_unit_test(test_bad_outputs_fail_500),
        cmocka_unit_test(test_worker_death_fails_after_retry),
        cmocka_unit_test(test_crash_loop_backs_off),
        cmocka_unit_test(test_drain_answers_everything),
        cmocka_unit_test(test_expired_and_bad_requests),
        cmocka_unit_test(test_scale_from_zero),
        cmocka_unit_test(test_hung_worker_killed_batch_retried),
        cmocka_unit_test(test_concurrent_submit_cancel),
        cmocka_unit_test(test_progress_age_tracks_the_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
