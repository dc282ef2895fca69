/* .npy reader/writer: round trips of every supported type, and refusal of malformed,
 * truncated and unsupported files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/npy.h"

static char g_path[] = "/tmp/inferd-npy-test-XXXXXX";

static void test_round_trip(void **state)
{
    (void)state;
    const inferd_dtype types[] = {INFERD_DTYPE_FP32,  INFERD_DTYPE_FP64,  INFERD_DTYPE_INT64,
                                  INFERD_DTYPE_INT32, INFERD_DTYPE_UINT8, INFERD_DTYPE_BOOL};
    const int64_t shapes[][3] = {{2, 3, 4}, {5, 0, 0}, {0, 0, 0}, {0, 7, 0}};
    const int ranks[] = {3, 1, 0, 2};
    char err[256];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (size_t s = 0; s < 4; s++) {
            size_t n = 1;
            for (int k = 0; k < ranks[s]; k++) n *= (size_t)shapes[s][k];
            size_t es = inferd_dtype_size(types[t]);
            unsigned char *data = malloc(n * es + 1);
            for (size_t i = 0; i < n * es; i++) data[i] = (unsigned char)(i * 7 + t);
            if (types[t] == INFERD_DTYPE_BOOL)
                for (size_t i = 0; i < n; i++) data[i] &= 1;
            assert_int_equal(
                npy_write_file(g_path, types[t], ranks[s], shapes[s], data, err, sizeof err), 0);
            npy_array a;
            int rc = npy_read_file(g_path, &a, err, sizeof err);
            if (rc) fail_msg("%s", err);
            assert_int_equal(a.dtype, types[t]);
            assert_int_equal(a.ndim, ranks[s]);
            for (int k = 0; k < ranks[s]; k++) assert_int_equal(a.dims[k], shapes[s][k]);
            assert_int_equal(a.nbytes, n * es);
            if (n) assert_memory_equal(a.data, data, n * es);
            npy_array_free(&a);
            free(data);
        }
    assert_int_equal(npy_write_file(g_path, INFERD_DTYPE_FP16, 0, NULL, NULL, err, sizeof err), -1);
}

static int parse_str(const char *header, size_t data_len)
{
    unsigned char buf[512] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    size_t hl = strlen(header);
    buf[8] = (unsigned char)hl;
    buf[9] = 0;
    memcpy(buf + 10, header, hl);
    npy_array a;
    char err[256] = "";
    int rc = npy_parse(buf, 10 + hl + data_len, &a, err, sizeof err);
    if (rc == 0) npy_array_free(&a);
    else assert_true(err[0] != 0);
    return rc;
}

static void test_refusals(void **state)
{
    (void)state;
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8), 0);
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7), -1);
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9), -1);
    assert_int_equal(parse_str("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), -1);
    assert_int_equal(parse_str("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4), -1);
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8), -1);
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8),
                     -1);
    assert_int_equal(
        parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }", 8), -1);
    assert_int_equal(
        parse_str("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4),
        -1);
    assert_int_equal(
        parse_str("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8), -1);
    assert_int_equal(parse_str("{'fortran_order': False, 'shape': (2,), }", 8), -1);
    assert_int_equal(parse_str("{'descr': '<f4', 'fortran_order': False, }", 8), -1);
    npy_array a;
    char err[256];
    assert_int_equal(npy_parse("\x93NUMPX\x01\x00\x00\x00", 10, &a, err, sizeof err), -1);
    assert_int_equal(npy_read_file("/nonexistent.npy", &a, err, sizeof err), -1);
}

static void test_truncation(void **state)
{
    (void)state;
    char err[256];
    int64_t dims[2] = {3, 5};
    float data[15] = {0};
    assert_int_equal(npy_write_file(g_path, INFERD_DTYPE_FP32, 2, dims, data, err, sizeof err), 0);
    FILE *f = fopen(g_path, "rb");
    unsigned char buf[512];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t cut = 0; cut < len; cut++) {
        npy_array a;
        assert_int_equal(npy_parse(buf, cut, &a, err, sizeof err), -1);
        assert_null(a.data);
    }
    for (size_t i = 0; i < len; i++) { /* bit flips: clean success or clean error */
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (unsigned char)(1 << b);
            npy_array a;
            if (npy_parse(buf, len, &a, err, sizeof err) == 0) npy_array_free(&a);
            buf[i] ^= (unsigned char)(1 << b);
        }
    }
}

int main(void)
{
    int fd = mkstemp(g_path);
    if (fd < 0) return 1;
    close(fd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_truncation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(g_path);
    return rc;
}
