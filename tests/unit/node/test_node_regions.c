/* node_regions: each model gets its own sealed region of its arena size (config arena_mb, else
 * a share of --arena-mb, never below the minimum), with one model slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "node_regions.h"

static void test_arena_sizes(void **state)
{
    (void)state;
    model_config m;
    memset(&m, 0, sizeof m);
    assert_int_equal(node_regions_arena_mb(&m, 4, 256), 64);
    assert_int_equal(node_regions_arena_mb(&m, 64, 256), NODE_ARENA_MIN_MB);
    assert_int_equal(node_regions_arena_mb(&m, 0, 256), 256);
    m.arena_mb = 5; /* a config's own size wins, even below the minimum */
    assert_int_equal(node_regions_arena_mb(&m, 4, 256), 5);
}

static void test_one_region_per_model(void **state)
{
    (void)state;
    model_config models[3];
    memset(models, 0, sizeof models);
    strcpy(models[0].name, "a");
    strcpy(models[1].name, "b");
    strcpy(models[2].name, "c");
    models[1].arena_mb = 2; /* a and c share the rest: 64 / 2 = 32 MiB each */
    shm_config base;
    shm_config_default(&base);
    base.max_workers = 8;
    base.batch_slots = 16;
    node_regions r;
    char err[256];
    assert_int_equal(node_regions_create(models, 3, &base, 64, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 3);
    uint64_t want[3] = {32ull << 20, 2ull << 20, 32ull << 20};
    for (int m = 0; m < 3; m++) {
        assert_ptr_equal(r.regions[m], &r.storage[m]);
        assert_non_null(r.arenas[m]);
        assert_int_equal(r.regions[m]->max_models, 1);
        assert_int_equal(r.regions[m]->max_workers, 8);
        assert_int_equal(r.regions[m]->batch_slots, 16);
        assert_int_equal(r.regions[m]->arena_size, want[m]);
        struct stat st;
        assert_int_equal(fstat(r.regions[m]->fd, &st), 0);
        for (int o = 0; o < m; o++) { /* distinct files */
            struct stat so;
            assert_int_equal(fstat(r.regions[o]->fd, &so), 0);
            assert_true(so.st_ino != st.st_ino);
        }
    }
    node_regions_destroy(&r);
    assert_int_equal(r.n, 0);
    node_regions_destroy(&r); /* safe twice */
    assert_int_equal(node_regions_create(models, 0, &base, 64, &r, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_sizes),
        cmocka_unit_test(test_one_region_per_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
