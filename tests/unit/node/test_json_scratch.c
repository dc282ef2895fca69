/* Unit tests of jansson's scratch allocator (src/node/json_scratch.c): a tree parsed in a
 * window lives in the thread's block and is given back at the end, outside a window jansson
 * uses malloc (json_dumps strings freed with free), big values spill to malloc, windows nest,
 * and a value that outlives its window retires the block for good (ASan checks every free). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "json_scratch.h"

static const char request[] = "{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],"
                              "\"datatype\":\"FP32\",\"data\":null}]}";

static void test_window_tree_in_block(void **state)
{
    (void)state;
    json_scratch_begin();
    json_error_t jerr;
    json_t *root = json_loadb(request, strlen(request), JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    assert_true(json_scratch_used() > 0);
    assert_true(json_scratch_live() > 0);
    json_t *in = json_array_get(json_object_get(root, "inputs"), 0);
    assert_string_equal(json_string_value(json_object_get(in, "datatype")), "FP32");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(in, "shape"), 1)), 4);
    json_decref(root);
    assert_int_equal(json_scratch_live(), 0);
    json_scratch_end();
    assert_int_equal(json_scratch_used(), 0);

    /* the next window starts at the block's start again */
    json_scratch_begin();
    root = json_loadb(request, strlen(request), 0, &jerr);
    assert_non_null(root);
    size_t used = json_scratch_used();
    json_decref(root);
    json_scratch_end();
    json_scratch_begin();
    root = json_loadb(request, strlen(request), 0, &jerr);
    assert_int_equal(json_scratch_used(), used);
    json_decref(root);
    json_scratch_end();
}

static void test_outside_window_is_malloc(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *root = json_loadb(request, strlen(request), 0, &jerr);
    assert_non_null(root);
    assert_int_equal(json_scratch_used(), 0);
    assert_int_equal(json_scratch_live(), 0);
    char *text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"FP32\""));
    free(text); /* as jansson's documentation says callers do */
    json_decref(root);
}

static void test_big_value_spills(void **state)
{
    (void)state;
    size_t n = JSON_SCRATCH_BYTES * 2;
    char *body = malloc(n + 32);
    assert_non_null(body);
    memcpy(body, "{\"message\":\"", 12);
    memset(body + 12, 'a', n);
    memcpy(body + 12 + n, "\"}", 3);
    json_scratch_begin();
    json_error_t jerr;
    json_t *root = json_loadb(body, strlen(body), 0, &jerr);
    assert_non_null(root);
    const json_t *msg = json_object_get(root, "message");
    assert_int_equal(json_string_length(msg), n);
    assert_int_equal(json_string_value(msg)[n - 1], 'a');
    assert_true(json_scratch_used() <= JSON_SCRATCH_BYTES);
    json_decref(root);
    assert_int_equal(json_scratch_live(), 0);
    json_scratch_end();
    assert_int_equal(json_scratch_used(), 0);
    free(body);
}

static void test_windows_nest(void **state)
{
    (void)state;
    json_scratch_begin();
    json_t *outer = json_string("outer");
    json_scratch_begin();
    json_t *inner = json_string("inner");
    json_decref(inner);
    json_scratch_end();
    assert_true(json_scratch_used() > 0); /* the outer window is still open */
    assert_string_equal(json_string_value(outer), "outer");
    json_decref(outer);
    json_scratch_end();
    assert_int_equal(json_scratch_used(), 0);
    json_scratch_end(); /* unmatched: nothing */
    assert_int_equal(json_scratch_used(), 0);
}

/* On its own thread, since a broken rule retires that thread's block for good. */
static void *escape_thread(void *arg)
{
    int *ok = arg;
    json_scratch_begin();
    json_t *kept = json_string("kept past the window");
    json_scratch_end();
    size_t used = json_scratch_used();
    *ok = json_scratch_live() == 2 && used > 0; /* the string and its text */
    json_scratch_begin();
    json_t *later = json_string("after");
    *ok = *ok && json_scratch_used() == used; /* from malloc: the block is retired */
    json_decref(later);
    json_scratch_end();
    *ok = *ok && strcmp(json_string_value(kept), "kept past the window") == 0;
    json_decref(kept);
    *ok = *ok && json_scratch_live() == 0;
    return NULL;
}

static void test_escaped_value_retires_block(void **state)
{
    (void)state;
    int ok = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, escape_thread, &ok), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(ok);
    /* this thread's block is untouched */
    json_scratch_begin();
    json_t *v = json_string("here");
    assert_true(json_scratch_used() > 0);
    json_decref(v);
    json_scratch_end();
}

int main(void)
{
    json_scratch_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_tree_in_block),
        cmocka_unit_test(test_outside_window_is_malloc),
        cmocka_unit_test(test_big_value_spills),
        cmocka_unit_test(test_windows_nest),
        cmocka_unit_test(test_escaped_value_retires_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
