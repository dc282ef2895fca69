/* The response cache under threads (run under ThreadSanitizer, label tsan): four threads look
 * up, lead, follow and finish on a few keys within a small budget while a fifth reads the
 * stats. Every hit holds its own key's answer, every follower is handed back exactly once,
 * the budget holds at every look, and the counters add up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "inferd/clock.h"
#include "inferd/resp_cache.h"

#define THREADS 4
#define ROUNDS  20000
#define KEYS    48
#define FLOATS  16
#define BUDGET  8192

static resp_cache *cache;
static atomic_int stop_reader;
static atomic_int bad_answers, budget_broken, lost_followers;

typedef struct follower {
    infer_request req; /* first: the cache links req */
    atomic_int answered;
    int ok;
} follower;

static const char *const NAMES[] = {"INPUT0"};

static void fill(infer_request *req, float *data, int key)
{
    memset(req, 0, sizeof *req);
    req->n_inputs = 1;
    req->batch_rows = 1;
    req->delay_us = -1;
    req->inputs[0].dtype = INFERD_DTYPE_FP32;
    req->inputs[0].ndim = 2;
    req->inputs[0].dims[0] = 1;
    req->inputs[0].dims[1] = FLOATS;
    req->inputs[0].nbytes = FLOATS * 4;
    for (int i = 0; i < FLOATS; i++) data[i] = (float)key;
}

static int copy_check(void *arg, uint32_t n, const shm_tensor *outs, const uint8_t *data)
{
    float want = *(const float *)arg, got[FLOATS];
    if (n != 1 || outs[0].nbytes != sizeof got) {
        atomic_fetch_add(&bad_answers, 1);
        return 0;
    }
    memcpy(got, data + outs[0].offset, sizeof got);
    for (int i = 0; i < FLOATS; i++)
        if (got[i] != want) atomic_fetch_add(&bad_answers, 1);
    return 0;
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int key = (int)((seed >> 8) % KEYS);
        follower f;
        float data[FLOATS];
        fill(&f.req, data, key);
        atomic_init(&f.answered, 0);
        const uint8_t *in[] = {(const uint8_t *)data};
        resp_cache_key k;
        if (resp_cache_key_build(cache, 1, "m", 1, &f.req, 1, NAMES, in, &k) != 0) return NULL;
        float want = (float)key;
        void *entry;
        int res = resp_cache_begin(cache, &k, &f.req, copy_check, &want, &entry);
        if (res == RESP_CACHE_LEAD) {
            int ok = r % 7 != 0; /* some leaders fail: nothing stored, followers told */
            shm_tensor out = f.req.inputs[0];
            infer_request *fl = resp_cache_finish(cache, entry, ok, ok ? 1 : 0, &out, in);
            while (fl) {
                infer_request *next = fl->next;
                follower *fw = (follower *)fl;
                fw->ok = ok;
                if (atomic_exchange(&fw->answered, 1) != 0) atomic_fetch_add(&lost_followers, 1);
                fl = next;
            }
        } else if (res == RESP_CACHE_FOLLOW) {
            int64_t until = clock_now_ns() + 10 * 1000000000LL;
            while (!atomic_load(&f.answered) && clock_now_ns() < until) sched_yield();
            if (!atomic_load(&f.answered)) atomic_fetch_add(&lost_followers, 1);
        }
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_reader)) {
        resp_cache_stats st;
        resp_cache_get_stats(cache, &st);
        if (st.bytes > BUDGET) atomic_fetch_add(&budget_broken, 1);
        sched_yield();
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    cache = resp_cache_create(BUDGET);
    assert_non_null(cache);
    pthread_t t[THREADS], rd;
    assert_int_equal(pthread_create(&rd, NULL, reader, NULL), 0);
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    atomic_store(&stop_reader, 1);
    pthread_join(rd, NULL);
    assert_int_equal(atomic_load(&bad_answers), 0);
    assert_int_equal(atomic_load(&lost_followers), 0);
    assert_int_equal(atomic_load(&budget_broken), 0);
    resp_cache_stats st;
    resp_cache_get_stats(cache, &st);
    assert_int_equal(st.hits + st.misses + st.coalesced, (uint64_t)THREADS * ROUNDS);
    assert_true(st.hits > 0);
    assert_true(st.evictions > 0); /* 48 keys do not fit in 8 KiB */
    assert_true(st.bytes <= BUDGET);
    assert_int_equal(st.entries, st.inserts - st.evictions);
    resp_cache_destroy(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
