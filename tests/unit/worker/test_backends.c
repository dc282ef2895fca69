/* The mock backends' outputs: reverse text (UTF-8 and invalid bytes, empty string), identity
 * copy, output-area-too-small accounting, bad input, and the delay backend's ordering. */
#include "inferd/clock.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "batch_fixture.h"

typedef struct fx {
    shm_region r;
    shm_arena *a;
    model_config cfg;
} fx;

static int setup(void **st)
{
    static fx f;
    memset(&f, 0, sizeof f);
    if (fixture_region(&f.r, &f.a)) return -1;
    f.cfg.delay_ms = 1000;
    *st = &f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    shm_arena_destroy(f->a);
    shm_region_close(&f->r);
    return 0;
}

static int run_backend(fx *f, const char *name, worker_batch *wb, uint32_t slot)
{
    const backend_ops *ops = backend_find(name);
    assert_non_null(ops);
    void *state;
    char err[128];
    assert_int_equal(ops->create(&f->cfg, &state, err, sizeof err), 0);
    assert_int_equal(worker_batch_init(wb, &f->r, slot, clock_now_ns()), 0);
    int rc = ops->run(state, wb, err, sizeof err);
    ops->destroy(state);
    return rc;
}

static void test_reverse_text(void **st)
{
    fx *f = *st;
    const char *in[] = {"hello", "", "abc DEF 123!", "h\xc3\xa9llo", /* héllo */
                        "a\xffz"};                                   /* invalid UTF-8 */
    const uint32_t lens[] = {5, 0, 12, 6, 3};
    const char *want[] = {"WORKER_PROCESSED: OLLEH",
                          "WORKER_PROCESSED: ", "WORKER_PROCESSED: !321 FED CBA",
                          "WORKER_PROCESSED: OLL\xc3\xa9H", "WORKER_PROCESSED: Z\xff\x41"};
    assert_int_equal(fixture_batch(&f->r, f->a, 0, 0, 5, 4096, 1), 0);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(fixture_set_string(&f->r, f->a, 0, i, in[i], lens[i]), 0);
    worker_batch wb;
    assert_int_equal(run_backend(f, "reverse", &wb, 0), BACKEND_DONE);
    assert_true(wb.out_needed <= wb.batch->out_cap);
    char buf[128];
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(fixture_requests(&f->r, wb.batch)[i].status, SHM_STATUS_OK);
        int n = fixture_get_string(&f->r, wb.batch, i, buf, sizeof buf);
        assert_int_equal(n, (int)strlen(want[i]));
        assert_memory_equal(buf, want[i], (size_t)n);
        shm_tensor *t = &fixture_outputs(&f->r, wb.batch)[i];
        assert_true(t->offset >= wb.batch->out_off &&
                    t->offset + t->nbytes <= wb.batch->out_off + wb.batch->out_cap);
        assert_int_equal(t->ndim, 1);
        assert_int_equal(t->dims[0], 1);
    }
}

static void test_reverse_too_small(void **st)
{
    fx *f = *st;
    assert_int_equal(fixture_batch(&f->r, f->a, 1, 0, 2, 30, 2), 0); /* needs 2 x (4+23) */
    assert_int_equal(fixture_set_string(&f->r, f->a, 1, 0, "hello", 5), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 1, 1, "world", 5), 0);
    worker_batch wb;
    assert_int_equal(run_backend(f, "reverse", &wb, 1), BACKEND_DONE);
    assert_true(wb.out_needed > 30);
    /* Resubmitting with exactly out_needed bytes must fit. */
    assert_int_equal(fixture_batch(&f->r, f->a, 2, 0, 2, wb.out_needed, 3), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 2, 0, "hello", 5), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 2, 1, "world", 5), 0);
    worker_batch wb2;
    assert_int_equal(run_backend(f, "reverse", &wb2, 2), BACKEND_DONE);
    assert_int_equal(wb2.out_needed, wb.out_needed);
    char buf[64];
    assert_int_equal(fixture_get_string(&f->r, wb2.batch, 1, buf, sizeof buf), 23);
    assert_string_equal(buf, "WORKER_PROCESSED: DLROW");
}

static void test_reverse_bad_input(void **st)
{
    fx *f = *st;
    assert_int_equal(fixture_batch(&f->r, f->a, 3, 0, 3, 4096, 4), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 3, 0, "ok", 2), 0);
    assert_int_equal(fixture_set_string(&f->r, f->a, 3, 1, "truncated", 9), 0);
    shm_tensor *t = &fixture_inputs(&f->r, &f->r.batches[3])[1];
    uint32_t lie = 1000; /* element length past the tensor's bytes */
    memcpy(shm_arena_ptr(&f->r, t->offset), &lie, 4);
    float v = 1;
    assert_int_equal(fixture_set_floats(&f->r, f->a, 3, 2, &v, 1), 0); /* wrong dtype */
    worker_batch wb;
    assert_int_equal(run_backend(f, "reverse", &wb, 3), BACKEND_DONE);
    shm_request *q = fixture_requests(&f->r, wb.batch);
    assert_int_equal(q[0].status, SHM_STATUS_OK);
    assert_int_equal(q[1].status, SHM_STATUS_BAD_INPUT);
    assert_int_equal(q[2].status, SHM_STATUS_BAD_INPUT);
}

static void test_identity_and_deadline(void **st)
{
    fx *f = *st;
    assert_int_equal(fixture_batch(&f->r, f->a, 4, 0, 2, 4096, 5), 0);
    float a[3] = {1.5f, -2.0f, 3.25f}, b[1] = {7};
    assert_int_equal(fixture_set_floats(&f->r, f->a, 4, 0, a, 3), 0);
    assert_int_equal(fixture_set_floats(&f->r, f->a, 4, 1, b, 1), 0);
    fixture_requests(&f->r, &f->r.batches[4])[1].deadline_ns = 1; /* long past */
    worker_batch wb;
    assert_int_equal(run_backend(f, "identity", &wb, 4), BACKEND_DONE);
    shm_request *q = fixture_requests(&f->r, wb.batch);
    assert_int_equal(q[0].status, SHM_STATUS_OK);
    assert_int_equal(q[1].status, SHM_STATUS_DEADLINE);
    shm_tensor *o = fixture_outputs(&f->r, wb.batch);
    assert_int_equal(o[0].dtype, INFERD_DTYPE_FP32);
    assert_int_equal(o[0].nbytes, 12);
    assert_int_equal(o[0].dims[1], 3);
    assert_memory_equal(shm_arena_ptr(&f->r, o[0].offset), a, 12);
    assert_int_equal(o[1].nbytes, 0); /* skipped */
}

static void test_delay_ordering(void **st)
{
    fx *f = *st;
    const backend_ops *ops = backend_find("delay");
    assert_non_null(ops);
    void *state;
    char err[128];
    assert_int_equal(ops->create(&f->cfg, &state, err, sizeof err), 0);
    /* Three batches claimed at t=0 with delays 50 ms, 10 ms and the model default (1 s). */
    const int64_t delays_us[3] = {50000, 10000, -1};
    worker_batch wb[3];
    float v = 1;
    for (uint32_t s = 0; s < 3; s++) {
        assert_int_equal(fixture_batch(&f->r, f->a, 5 + s, 0, 1, 256, 10 + s), 0);
        assert_int_equal(fixture_set_floats(&f->r, f->a, 5 + s, 0, &v, 1), 0);
        fixture_requests(&f->r, &f->r.batches[5 + s])[0].delay_us = delays_us[s];
        f->r.batches[5 + s].claimed_ns = 1000000000; /* synthetic clock */
        assert_int_equal(worker_batch_init(&wb[s], &f->r, 5 + s, 0), 0);
        assert_int_equal(ops->run(state, &wb[s], err, sizeof err), BACKEND_PENDING);
    }
    int64_t t0 = 1000000000, next;
    assert_null(ops->poll(state, t0 + 9999999, &next));
    assert_int_equal(next, t0 + 10000000);
    assert_ptr_equal(ops->poll(state, t0 + 10000000, &next), &wb[1]);
    assert_int_equal(next, t0 + 50000000);
    assert_null(ops->poll(state, t0 + 49000000, &next));
    assert_ptr_equal(ops->poll(state, t0 + 60000000, &next), &wb[0]);
    assert_null(ops->poll(state, t0 + 60000000, &next));
    assert_ptr_equal(ops->poll(state, t0 + 1000000000, &next), &wb[2]);
    assert_int_equal(next, INT64_MAX);
    /* Outputs were written (identity) when the batch was taken. */
    shm_tensor *o = fixture_outputs(&f->r, wb[1].batch);
    assert_int_equal(o[0].nbytes, 4);
    ops->destroy(state);
}

static void test_output_alloc(void **st)
{
    fx *f = *st;
    assert_int_equal(fixture_batch(&f->r, f->a, 0, 0, 2, 20, 20), 0);
    worker_batch wb;
    assert_int_equal(worker_batch_init(&wb, &f->r, 0, 0), 0);
    int64_t dims[1] = {3};
    uint8_t *p = worker_output_alloc(&wb, 0, 0, INFERD_DTYPE_UINT8, 1, dims, 3);
    assert_non_null(p);
    uint8_t *q = worker_output_alloc(&wb, 1, 0, INFERD_DTYPE_UINT8, 1, dims, 3);
    assert_non_null(q);
    assert_int_equal(q - p, 8); /* 8-byte aligned placement */
    assert_null(worker_output_alloc(&wb, 1, 0, INFERD_DTYPE_UINT8, 1, dims, 10));
    assert_int_equal(wb.out_needed, 8 + 8 + 10);
    assert_null(worker_output_alloc(&wb, 2, 0, INFERD_DTYPE_UINT8, 1, dims, 1)); /* bad r */
    assert_null(worker_output_alloc(&wb, 0, 1, INFERD_DTYPE_UINT8, 1, dims, 1)); /* bad o */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_text),      cmocka_unit_test(test_reverse_too_small),
        cmocka_unit_test(test_reverse_bad_input), cmocka_unit_test(test_identity_and_deadline),
        cmocka_unit_test(test_delay_ordering),    cmocka_unit_test(test_output_alloc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
