/* The client shared-memory registry: register against the object's real size, status, refs
 * that block unregistering (one and all), the region limit, spans checked on acquire, an
 * object shrunk after registration refused on acquire, a copy from pages the client cut off
 * fails instead of killing the process (SIGBUS caught), and everything off when disabled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_shm.h"

static char key[64];

static int make_object(void **state)
{
    (void)state;
    snprintf(key, sizeof key, "/inferd-test-cshm-%d", (int)getpid());
    int fd = shm_open(key, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, 3 * 4096) != 0) return -1;
    close(fd);
    return 0;
}

static int remove_object(void **state)
{
    (void)state;
    shm_unlink(key);
    return 0;
}

static void test_register_status_acquire_unregister(void **state)
{
    (void)state;
    char err[256];
    client_shm *r = client_shm_create(1, 2);
    assert_non_null(r);
    /* beyond the object, bad keys, empty */
    assert_int_equal(client_shm_register(r, "a", key, 8192, 8193, err, sizeof err),
                     CLIENT_SHM_EINVAL);
    assert_non_null(strstr(err, "beyond the object's 12288 bytes"));
    assert_int_equal(client_shm_register(r, "a", "/inferd-no-such", 0, 8, err, sizeof err),
                     CLIENT_SHM_EINVAL);
    assert_int_equal(client_shm_register(r, "a", "x/y", 0, 8, err, sizeof err), CLIENT_SHM_EINVAL);
    assert_int_equal(client_shm_register(r, "a", key, 0, 0, err, sizeof err), CLIENT_SHM_EINVAL);
    assert_int_equal(client_shm_register(r, "", key, 0, 8, err, sizeof err), CLIENT_SHM_EINVAL);
    /* a region not page-aligned: offset 5000 */
    assert_int_equal(client_shm_register(r, "a", key, 5000, 7000, err, sizeof err), 0);
    assert_int_equal(client_shm_register(r, "a", key, 0, 8, err, sizeof err), CLIENT_SHM_EEXIST);
    assert_int_equal(client_shm_register(r, "b", key, 0, 4096, err, sizeof err), 0);
    assert_int_equal(client_shm_register(r, "c", key, 0, 8, err, sizeof err), CLIENT_SHM_EFULL);
    client_shm_info info[4];
    assert_int_equal(client_shm_status(r, NULL, info, 4, err, sizeof err), 2);
    assert_string_equal(info[0].name, "a");
    assert_int_equal(info[0].offset, 5000);
    assert_int_equal(info[0].byte_size, 7000);
    assert_int_equal(client_shm_status(r, "zz", info, 4, err, sizeof err), CLIENT_SHM_ENOTFOUND);

    /* the span is relative to the region and checked against it */
    client_shm_ref ref;
    assert_int_equal(client_shm_acquire(r, "a", 6990, 11, &ref, err, sizeof err),
                     CLIENT_SHM_EINVAL);
    assert_null(ref.region);
    assert_int_equal(client_shm_acquire(r, "a", 100, 16, &ref, err, sizeof err), 0);
    /* what the node writes at region offset 100 is at object offset 5100 */
    memcpy(ref.ptr, "0123456789abcdef", 16);
    int fd = shm_open(key, O_RDONLY, 0);
    char back[16];
    assert_int_equal(pread(fd, back, 16, 5100), 16);
    close(fd);
    assert_memory_equal(back, "0123456789abcdef", 16);

    /* in use: neither one nor all unregister it; all removes the others */
    assert_int_equal(client_shm_unregister(r, "a", err, sizeof err), CLIENT_SHM_EBUSY);
    assert_non_null(strstr(err, "in use"));
    assert_int_equal(client_shm_unregister(r, NULL, err, sizeof err), CLIENT_SHM_EBUSY);
    assert_int_equal(client_shm_status(r, NULL, info, 4, err, sizeof err), 1);
    assert_int_equal(info[0].refs, 1);
    client_shm_release(r, &ref);
    assert_null(ref.region);
    client_shm_release(r, &ref); /* a cleared ref: nothing */
    assert_int_equal(client_shm_unregister(r, "a", err, sizeof err), 0);
    assert_int_equal(client_shm_unregister(r, "a", err, sizeof err), CLIENT_SHM_ENOTFOUND);
    client_shm_destroy(r);
}

static void test_shrunk_object(void **state)
{
    (void)state;
    char err[256];
    client_shm *r = client_shm_create(1, 0);
    assert_int_equal(client_shm_register(r, "a", key, 0, 3 * 4096, err, sizeof err), 0);
    client_shm_ref ref;
    assert_int_equal(client_shm_acquire(r, "a", 0, 3 * 4096, &ref, err, sizeof err), 0);
    /* the client cuts its object to one page while a request holds the region */
    int fd = shm_open(key, O_RDWR, 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    uint8_t buf[3 * 4096];
    assert_int_equal(client_shm_copy(buf, ref.ptr, 4096), 0);        /* still there */
    assert_int_equal(client_shm_copy(buf, ref.ptr, sizeof buf), -1); /* caught, not fatal */
    assert_int_equal(client_shm_copy(ref.ptr + 4096, buf, 16), -1);
    client_shm_release(r, &ref);
    /* a new acquire sees the shrunk object and refuses */
    assert_int_equal(client_shm_acquire(r, "a", 0, 16, &ref, err, sizeof err), CLIENT_SHM_EINVAL);
    assert_non_null(strstr(err, "now smaller"));
    assert_int_equal(ftruncate(fd, 3 * 4096), 0);
    close(fd);
    client_shm_destroy(r);
}

static void test_disabled(void **state)
{
    (void)state;
    char err[256];
    client_shm *r = client_shm_create(0, 0);
    assert_false(client_shm_enabled(r));
    client_shm_ref ref;
    client_shm_info info[1];
    assert_int_equal(client_shm_register(r, "a", key, 0, 8, err, sizeof err), CLIENT_SHM_EOFF);
    assert_non_null(strstr(err, "--allow-client-shm"));
    assert_int_equal(client_shm_acquire(r, "a", 0, 8, &ref, err, sizeof err), CLIENT_SHM_EOFF);
    assert_int_equal(client_shm_status(r, NULL, info, 1, err, sizeof err), CLIENT_SHM_EOFF);
    assert_int_equal(client_shm_unregister(r, NULL, err, sizeof err), CLIENT_SHM_EOFF);
    client_shm_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_status_acquire_unregister),
        cmocka_unit_test(test_shrunk_object),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, make_object, remove_object);
}
