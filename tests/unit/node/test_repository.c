/* The live model table with real workers (inferd-worker, identity backend): lookups from
 * other threads never miss a model while it is reloaded (both versions are found during the
 * switch, never neither), an unloaded model is not found and says why in the index, and
 * errors for unknown and broken models. Labelled tsan: the lookup is lock-free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inferd/log.h"
#include "inferd/repository.h"

#ifndef INFERD_WORKER
#error "INFERD_WORKER must name the worker executable"
#endif

static const char IDENTITY[] =
    "{\"backend\": \"identity\", \"max_batch_size\": 8, \"workers\": {\"min\": 1, \"max\": 1},"
    " \"inputs\": [{\"name\": \"INPUT0\", \"datatype\": \"FP32\", \"dims\": [-1]}],"
    " \"outputs\": [{\"name\": \"OUTPUT0\", \"datatype\": \"FP32\", \"dims\": [-1]}]}";

static void write_model(const char *repo, const char *name, const char *config)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", repo, name);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/%s/config.json", repo, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(config, f);
    fclose(f);
}

/* ---- a blocking wrapper over the asynchronous operations ---- */
typedef struct op_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    char message[512];
} op_result;

static void on_done(void *arg, int status, const char *message)
{
    op_result *res = arg;
    pthread_mutex_lock(&res->mu);
    res->status = status;
    snprintf(res->message, sizeof res->message, "%s", message);
    res->done = 1;
    pthread_cond_signal(&res->cv);
    pthread_mutex_unlock(&res->mu);
}

/* Runs load (config_json may be NULL) or unload and waits (at most 60 s) for its answer. */
static int run_op(repository *r, int load, const char *name, const char *config_json, char *msg)
{
    op_result res = {.done = 0};
    pthread_mutex_init(&res.mu, NULL);
    pthread_cond_init(&res.cv, NULL);
    if (load) repository_load(r, name, config_json, on_done, &res);
    else repository_unload(r, name, on_done, &res);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&res.mu);
    while (!res.done)
        if (pthread_cond_timedwait(&res.cv, &res.mu, &until) != 0) break;
    int done = res.done;
    pthread_mutex_unlock(&res.mu);
    assert_true(done);
    if (msg) snprintf(msg, 512, "%s", res.message);
    pthread_cond_destroy(&res.cv);
    pthread_mutex_destroy(&res.mu);
    return res.status;
}

typedef struct fixture {
    char repo[64];
    repository *r;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->repo, sizeof fx->repo, "/tmp/inferd-repo-XXXXXX");
    if (!mkdtemp(fx->repo)) return -1;
    write_model(fx->repo, "identity", IDENTITY);
    write_model(fx->repo, "broken", "{\"backend\": \"identity\", \"max_batch_size\": -3}");
    static const char *load[] = {"identity"};
    repo_options o;
    repo_options_default(&o);
    o.dir = fx->repo;
    o.mode = REPO_MODE_EXPLICIT;
    o.load_models = load;
    o.n_load_models = 1;
    o.arena_mb = 16;
    o.sched.worker_path = INFERD_WORKER;
    char err[512];
    if (repository_open(&o, &fx->r, err, sizeof err) != 0) {
        fprintf(stderr, "repository_open: %s\n", err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    repository_close(fx->r);
    static const char *models[] = {"identity", "broken"};
    char path[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s/config.json", fx->repo, models[i]);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s", fx->repo, models[i]);
        rmdir(path);
    }
    rmdir(fx->repo);
    free(fx);
    return 0;
}

typedef struct looker {
    repository *r;
    atomic_int *stop;
    long found, missed;
} looker;

static void *look_up(void *arg)
{
    looker *lk = arg;
    for (long i = 0; i < 50000000 && !atomic_load(lk->stop); i++) {
        repo_model *m = repository_acquire(lk->r, "identity");
        if (!m) {
            lk->missed++;
            continue;
        }
        if (strcmp(repo_model_config(m)->name, "identity") == 0 && repo_model_sched(m) &&
            repo_model_arena(m))
            lk->found++;
        repository_release(m);
    }
    return NULL;
}

static void test_reload_never_misses(void **state)
{
    fixture *fx = *state;
    atomic_int stop = 0;
    looker lk[2] = {{.r = fx->r, .stop = &stop}, {.r = fx->r, .stop = &stop}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, look_up, &lk[i]), 0);
    char msg[512];
    for (int k = 0; k < 3; k++) assert_int_equal(run_op(fx->r, 1, "identity", NULL, msg), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lk[i].missed, 0);
        assert_true(lk[i].found > 0);
    }
}

static repo_index_entry *find_entry(repo_index_entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) return &e[i];
    return NULL;
}

static void test_unload_and_errors(void **state)
{
    fixture *fx = *state;
    char msg[512];
    assert_int_equal(run_op(fx->r, 1, "nope", NULL, msg), 404);
    assert_non_null(strstr(msg, "no model 'nope'"));
    assert_int_equal(run_op(fx->r, 1, "broken", NULL, msg), 400);
    assert_non_null(strstr(msg, "max_batch_size"));
    assert_int_equal(run_op(fx->r, 1, "identity", "{\"backend\": 3}", msg), 400);
    assert_non_null(strstr(msg, "config override"));
    assert_int_equal(run_op(fx->r, 1, "a/b", NULL, msg), 400);

    repo_model *m = repository_acquire(fx->r, "identity");
    assert_non_null(m); /* still served after the failed loads */
    repository_release(m);
    assert_int_equal(run_op(fx->r, 0, "identity", NULL, msg), 0);
    assert_null(repository_acquire(fx->r, "identity"));

    repo_index_entry *e;
    int n;
    char err[256];
    assert_int_equal(repository_index(fx->r, 0, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    repo_index_entry *id = find_entry(e, n, "identity"), *br = find_entry(e, n, "broken");
    assert_non_null(id);
    assert_non_null(br);
    assert_int_equal(id->state, REPO_STATE_UNAVAILABLE);
    assert_string_equal(id->reason, "unloaded");
    assert_int_equal(br->state, REPO_STATE_UNAVAILABLE);
    assert_non_null(strstr(br->reason, "max_batch_size"));
    free(e);
    assert_int_equal(repository_index(fx->r, 1, &e, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    free(e);
}

int main(void)
{
    log_init(LOG_WARN, LOG_FORMAT_TEXT, "test_repository");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_never_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
