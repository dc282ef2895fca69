/* onnx_shape_memo_new under injected allocation failures: each of its allocations failing in
 * turn gives NULL (a session without the memo) and frees whatever it had allocated. Linked
 * with -Wl,--wrap=calloc,--wrap=free, so the wrappers see the allocations of shape_memo.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "inferd/onnx.h"
#include "model.h"
#include "model_builder.h"
#include "shape_memo.h"

void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);

#define WATCH_MAX 16
static int armed; /* watching: count callocs, fail the fail_at-th */
static int calls, fail_at;
static void *live[WATCH_MAX]; /* blocks handed out while armed and not yet freed */

void *__wrap_calloc(size_t n, size_t size)
{
    if (!armed) return __real_calloc(n, size);
    if (++calls == fail_at) return NULL;
    void *p = __real_calloc(n, size);
    for (int i = 0; p && i < WATCH_MAX; i++)
        if (!live[i]) {
            live[i] = p;
            break;
        }
    return p;
}

void __wrap_free(void *p)
{
    for (int i = 0; p && i < WATCH_MAX; i++)
        if (live[i] == p) live[i] = NULL;
    __real_free(p);
}

static int n_live(void)
{
    int n = 0;
    for (int i = 0; i < WATCH_MAX; i++) n += live[i] != NULL;
    return n;
}

static void test_memo_new_fails_cleanly(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = test_model_shape_chain(&len);
    onnx_model *m;
    char err[256];
    if (onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err)) fail_msg("load: %s", err);
    /* how many callocs it makes when none fails */
    armed = 1, calls = 0, fail_at = 0;
    onnx_shape_memo *sm = onnx_shape_memo_new(m);
    armed = 0;
    assert_non_null(sm); /* the model has a shape subgraph */
    int total = calls;
    assert_true(total >= 2);
    onnx_shape_memo_free(sm);
    assert_int_equal(n_live(), 0);
    for (int k = 1; k <= total; k++) {
        armed = 1, calls = 0, fail_at = k;
        sm = onnx_shape_memo_new(m);
        armed = 0;
        if (sm) fail_msg("allocation %d of %d failed, yet a memo was made", k, total);
        if (n_live()) fail_msg("allocation %d of %d failed: %d blocks leaked", k, total, n_live());
    }
    onnx_model_free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_new_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
