/* Unit tests of the response cache's table (resp_cache.c): keys that differ in any field
 * differ, colliding hashes never share an answer, the LRU keeps the recent entries within
 * the byte budget, single flight hands followers to the leader's finish, a failed leader
 * stores nothing, purge drops one instance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/resp_cache.h"

static const char *const NAMES[] = {"INPUT0"};

/* One FP32 input [1, n] holding v (n floats each v). */
typedef struct one_req {
    infer_request req;
    float data[64];
} one_req;

static void make_req(one_req *r, float v, int n)
{
    memset(r, 0, sizeof *r);
    r->req.n_inputs = 1;
    r->req.batch_rows = 1;
    r->req.delay_us = -1;
    shm_tensor *t = &r->req.inputs[0];
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 2;
    t->dims[0] = 1;
    t->dims[1] = n;
    t->nbytes = (uint64_t)n * 4;
    for (int i = 0; i < n; i++) r->data[i] = v;
}

static resp_cache_key key_of(resp_cache *c, one_req *r, uint64_t instance)
{
    const uint8_t *data[] = {(const uint8_t *)r->data};
    resp_cache_key k;
    assert_int_equal(resp_cache_key_build(c, instance, "m", 1, &r->req, 1, NAMES, data, &k), 0);
    return k;
}

/* The copy callback: records the answer it was given. */
typedef struct copied {
    int calls;
    float first;
    uint64_t nbytes;
} copied;

static int copy_record(void *arg, uint32_t n, const shm_tensor *outs, const uint8_t *data)
{
    copied *c = arg;
    assert_int_equal(n, 1);
    c->calls++;
    c->nbytes = outs[0].nbytes;
    memcpy(&c->first, data + outs[0].offset, 4);
    return 0;
}

static int copy_refuse(void *arg, uint32_t n, const shm_tensor *outs, const uint8_t *data)
{
    (void)arg, (void)n, (void)outs, (void)data;
    return -1;
}

/* Looks r up; on a miss stores its own input as the answer (an identity model). */
static int lookup_or_store(resp_cache *c, one_req *r, uint64_t instance, copied *got)
{
    resp_cache_key k = key_of(c, r, instance);
    void *entry;
    int res = resp_cache_begin(c, &k, &r->req, copy_record, got, &entry);
    if (res == RESP_CACHE_LEAD) {
        shm_tensor out = r->req.inputs[0];
        const uint8_t *data[] = {(const uint8_t *)r->data};
        assert_null(resp_cache_finish(c, entry, 1, 1, &out, data));
    }
    return res;
}

static void test_keys_cover_every_field(void **state)
{
    (void)state;
    resp_cache *c = resp_cache_create(1 << 20);
    one_req a, b;
    make_req(&a, 1.0f, 4);
    resp_cache_key ka = key_of(c, &a, 7);
    /* each variation changes the key bytes and the hash */
    for (int field = 0; field < 7; field++) {
        make_req(&b, 1.0f, 4);
        uint64_t inst = 7;
        switch (field) {
        case 0: b.data[3] = 2.0f; break;                                         /* bytes */
        case 1: b.req.inputs[0].dims[0] = 2, b.req.inputs[0].dims[1] = 2; break; /* shape */
        case 2: b.req.inputs[0].dtype = INFERD_DTYPE_INT32; break;               /* datatype */
        case 3: b.req.output_mask = 2; break; /* outputs asked for */
        case 4: inst = 8; break;              /* model instance */
        case 5: b.req.delay_us = 5; break;
        case 6: b.req.batch_rows = 2; break;
        }
        resp_cache_key kb = key_of(c, &b, inst);
        assert_true(ka.len != kb.len || memcmp(ka.bytes, kb.bytes, ka.len) != 0);
        assert_true(ka.hash_lo != kb.hash_lo || ka.hash_hi != kb.hash_hi);
        resp_cache_key_free(&kb);
    }
    /* output_mask 0 means every output: the same key as naming the one output */
    make_req(&b, 1.0f, 4);
    b.req.output_mask = 1;
    resp_cache_key kb = key_of(c, &b, 7);
    assert_int_equal(ka.len, kb.len);
    assert_memory_equal(ka.bytes, kb.bytes, ka.len);
    resp_cache_key_free(&kb);
    resp_cache_key_free(&ka);
    resp_cache_destroy(c);
}

static void test_hit_after_store(void **state)
{
    (void)state;
    resp_cache *c = resp_cache_create(1 << 20);
    one_req r;
    copied got = {0};
    make_req(&r, 3.0f, 8);
    assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_LEAD);
    assert_int_equal(got.calls, 0);
    assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_HIT);
    assert_int_equal(got.calls, 1);
    assert_true(got.first == 3.0f);
    assert_int_equal(got.nbytes, 32);
    /* a copy that finds no room: the request bypasses the cache, the entry stays */
    resp_cache_key k = key_of(c, &r, 1);
    void *entry;
    assert_int_equal(resp_cache_begin(c, &k, &r.req, copy_refuse, NULL, &entry), RESP_CACHE_BYPASS);
    resp_cache_stats st;
    resp_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 1);
    resp_cache_destroy(c);
}

static void test_constant_hash_never_mixes_answers(void **state)
{
    (void)state;
    setenv("INFERD_CACHE_TEST_HASH", "constant", 1);
    resp_cache *c = resp_cache_create(1 << 20);
    unsetenv("INFERD_CACHE_TEST_HASH");
    one_req r;
    copied got = {0};
    for (int i = 0; i < 50; i++) {
        make_req(&r, (float)i, 4);
        resp_cache_key k = key_of(c, &r, 1);
        assert_int_equal(k.hash_lo, 42);
        resp_cache_key_free(&k);
        assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_LEAD);
    }
    for (int i = 49; i >= 0; i--) {
        make_req(&r, (float)i, 4);
        assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_HIT);
        assert_true(got.first == (float)i);
    }
    resp_cache_destroy(c);
}

static void test_budget_and_lru(void **state)
{
    (void)state;
    const uint64_t budget = 4096;
    resp_cache *c = resp_cache_create(budget);
    one_req r;
    copied got = {0};
    resp_cache_stats st;
    for (int i = 0; i < 500; i++) {
        make_req(&r, (float)i, 64);
        assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_LEAD);
        resp_cache_get_stats(c, &st);
        assert_true(st.bytes <= budget);
        assert_true(st.entries >= 1);
        /* keep entry 0 recent: it must survive every eviction */
        make_req(&r, 0.0f, 64);
        if (i > 0) assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_HIT);
    }
    assert_int_equal(st.inserts, 500);
    assert_int_equal(st.entries + st.evictions, 500);
    assert_true(st.evictions > 400);
    /* the latest one is there, an old one is gone */
    make_req(&r, 499.0f, 64);
    assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_HIT);
    make_req(&r, 1.0f, 64);
    assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_LEAD);
    /* an answer larger than the whole budget is not stored */
    resp_cache *tiny = resp_cache_create(64);
    make_req(&r, 5.0f, 64);
    assert_int_equal(lookup_or_store(tiny, &r, 1, &got), RESP_CACHE_LEAD);
    resp_cache_get_stats(tiny, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(lookup_or_store(tiny, &r, 1, &got), RESP_CACHE_LEAD);
    resp_cache_destroy(tiny);
    resp_cache_destroy(c);
}

static void test_single_flight(void **state)
{
    (void)state;
    resp_cache *c = resp_cache_create(1 << 20);
    one_req lead, f1, f2;
    make_req(&lead, 2.0f, 4);
    make_req(&f1, 2.0f, 4);
    make_req(&f2, 2.0f, 4);
    copied got = {0};
    void *entry, *none;
    resp_cache_key k = key_of(c, &lead, 1);
    assert_int_equal(resp_cache_begin(c, &k, &lead.req, copy_record, &got, &entry),
                     RESP_CACHE_LEAD);
    k = key_of(c, &f1, 1);
    assert_int_equal(resp_cache_begin(c, &k, &f1.req, copy_record, &got, &none), RESP_CACHE_FOLLOW);
    k = key_of(c, &f2, 1);
    assert_int_equal(resp_cache_begin(c, &k, &f2.req, copy_record, &got, &none), RESP_CACHE_FOLLOW);
    /* the leader fails: both followers come back, nothing is stored */
    infer_request *f = resp_cache_finish(c, entry, 0, 0, NULL, NULL);
    int n = 0;
    for (; f; f = f->next) {
        assert_true(f == &f1.req || f == &f2.req);
        n++;
    }
    assert_int_equal(n, 2);
    resp_cache_stats st;
    resp_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.coalesced, 2);
    /* a new leader that succeeds: its follower is handed back and the next one hits */
    k = key_of(c, &f1, 1);
    assert_int_equal(resp_cache_begin(c, &k, &f1.req, copy_record, &got, &entry), RESP_CACHE_LEAD);
    k = key_of(c, &f2, 1);
    assert_int_equal(resp_cache_begin(c, &k, &f2.req, copy_record, &got, &none), RESP_CACHE_FOLLOW);
    shm_tensor out = f1.req.inputs[0];
    const uint8_t *data[] = {(const uint8_t *)f1.data};
    f = resp_cache_finish(c, entry, 1, 1, &out, data);
    assert_ptr_equal(f, &f2.req);
    assert_null(f->next);
    assert_int_equal(lookup_or_store(c, &lead, 1, &got), RESP_CACHE_HIT);
    resp_cache_destroy(c);
}

static void test_purge_drops_one_instance(void **state)
{
    (void)state;
    resp_cache *c = resp_cache_create(1 << 20);
    one_req r;
    copied got = {0};
    make_req(&r, 1.0f, 4);
    lookup_or_store(c, &r, 1, &got);
    lookup_or_store(c, &r, 2, &got);
    resp_cache_purge(c, 1);
    resp_cache_stats st;
    resp_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(lookup_or_store(c, &r, 2, &got), RESP_CACHE_HIT);
    assert_int_equal(lookup_or_store(c, &r, 1, &got), RESP_CACHE_LEAD);
    resp_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_cover_every_field),
        cmocka_unit_test(test_hit_after_store),
        cmocka_unit_test(test_constant_hash_never_mixes_answers),
        cmocka_unit_test(test_budget_and_lru),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_purge_drops_one_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
