/* Write-buffer arithmetic past 4 GiB: a response body's length survives into the uv_buf_t
 * whole (no unsigned int cut), and a partial write advances the right buffer by the right
 * amount. The "body" is address space reserved with PROT_NONE: nothing is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <uv.h>

/* src/http/http_internal.h (private to the library) */
uv_buf_t http_buf_span(char *base, size_t len);
int http_bufs_consume(uv_buf_t *bufs, int nb, size_t written);

#define GIB ((size_t)1 << 30)

static void test_span_keeps_a_length_over_4_gib(void **state)
{
    (void)state;
    char c;
    uv_buf_t b = http_buf_span(&c, 5 * GIB + 7);
    assert_true(b.len == 5 * GIB + 7);
    assert_ptr_equal(b.base, &c);
}

static void test_consume_across_buffers_past_4_gib(void **state)
{
    (void)state;
    size_t body_len = 5 * GIB;
    char *body =
        mmap(NULL, body_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (body == MAP_FAILED) skip();
    char head[100], line[2];
    uv_buf_t bufs[3] = {http_buf_span(head, sizeof head), http_buf_span(line, sizeof line),
                        http_buf_span(body, body_len)};
    /* 4 GiB + 3 bytes of the body went out with the head and the line */
    size_t written = sizeof head + sizeof line + 4 * GIB + 3;
    int nb = http_bufs_consume(bufs, 3, written);
    assert_int_equal(nb, 1);
    assert_ptr_equal(bufs[0].base, body + 4 * GIB + 3);
    assert_true(bufs[0].len == GIB - 3);
    /* the rest, exactly: nothing left */
    assert_int_equal(http_bufs_consume(bufs, nb, GIB - 3), 0);
    munmap(body, body_len);
}

static void test_consume_partial_first_and_exact_boundary(void **state)
{
    (void)state;
    char a[10], b[20];
    uv_buf_t bufs[2] = {http_buf_span(a, sizeof a), http_buf_span(b, sizeof b)};
    assert_int_equal(http_bufs_consume(bufs, 2, 4), 2);
    assert_ptr_equal(bufs[0].base, a + 4);
    assert_int_equal(bufs[0].len, 6);
    assert_int_equal(http_bufs_consume(bufs, 2, 6), 1); /* exactly the first one */
    assert_ptr_equal(bufs[0].base, b);
    assert_int_equal(bufs[0].len, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span_keeps_a_length_over_4_gib),
        cmocka_unit_test(test_consume_across_buffers_past_4_gib),
        cmocka_unit_test(test_consume_partial_first_and_exact_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
