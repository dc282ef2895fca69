/* inferd-conformance: runs the ONNX backend test cases (model.onnx + test_data_set_N/{input,
 * output}_K.pb) through the runtime and reports passed / failed / unsupported per operator.
 * Each case runs in a forked child so that a crashing operator fails one case, not the run.
 * Models with a random generator (RandomUniform, Bernoulli, ...) cannot reproduce the test
 * data's draws (the spec leaves the stream open), so their outputs are checked for type,
 * shape and, where the expected values are all 0 or 1, for being 0 or 1; the operators'
 * distributions are tested in tests/unit/onnx_tensor. */
#include "inferd/clock.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/onnx.h"
#include "pbtensor.h"
#include "peek.h"
#include "test_value.h"

#define RTOL            1e-3
#define ATOL            1e-7
#define CASE_TIMEOUT_MS 60000

enum { CASE_PASS = 0, CASE_FAIL = 1, CASE_UNSUPPORTED = 2 };

typedef struct op_stat {
    char *type;
    int pass, fail, unsupported;
} op_stat;

static op_stat *g_stats;
static int g_n_stats, g_cap_stats;

static void stat_add(const char *type, int outcome)
{
    int k = 0;
    while (k < g_n_stats && strcmp(g_stats[k].type, type) != 0) k++;
    if (k == g_n_stats) {
        if (g_n_stats == g_cap_stats) {
            g_cap_stats = g_cap_stats ? g_cap_stats * 2 : 64;
            g_stats = realloc(g_stats, (size_t)g_cap_stats * sizeof *g_stats);
            if (!g_stats) exit(2);
        }
        g_stats[k] = (op_stat){strdup(type), 0, 0, 0};
        g_n_stats++;
    }
    if (outcome == CASE_PASS) g_stats[k].pass++;
    else if (outcome == CASE_FAIL) g_stats[k].fail++;
    else g_stats[k].unsupported++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_stat(const void *a, const void *b)
{
    return strcmp(((const op_stat *)a)->type, ((const op_stat *)b)->type);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Sorted names of the entries of dir that start with prefix. */
static char **list_dir(const char *dir, const char *prefix, int *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, (size_t)cap * sizeof *names);
            if (!names) exit(2);
        }
        names[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    if (*n) qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Case directories (those holding a model.onnx), up to two levels below root. */
static char **g_cases;
static int g_n_cases, g_cap_cases;

static void add_case(const char *path)
{
    if (g_n_cases == g_cap_cases) {
        g_cap_cases = g_cap_cases ? g_cap_cases * 2 : 256;
        g_cases = realloc(g_cases, (size_t)g_cap_cases * sizeof *g_cases);
        if (!g_cases) exit(2);
    }
    g_cases[g_n_cases++] = strdup(path);
}

static void find_cases(const char *dir, int depth)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (is_file(path)) {
        add_case(dir);
        return;
    }
    if (depth == 0) return;
    int n;
    char **names = list_dir(dir, "", &n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (is_dir(path)) find_cases(path, depth - 1);
    }
    free_list(names, n);
}

/* ---- comparison -------------------------------------------------------------------------- */

static double elem(const void *data, inferd_dtype dt, size_t i)
{
    onnx_tensor t = {.dtype = dt, .ndim = 1, .data = (void *)data};
    return onnx_tensor_get_double(&t, (int64_t)i);
}

static int is_float(inferd_dtype dt)
{
    return dt == INFERD_DTYPE_FP32 || dt == INFERD_DTYPE_FP64 || dt == INFERD_DTYPE_FP16 ||
           dt == INFERD_DTYPE_BF16;
}

/* 1 if the model has a node whose outputs are random draws. */
static int model_is_random(const onnx_model *m)
{
    static const char *const names[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                        "RandomUniformLike", "Multinomial",   "Bernoulli"};
    for (int i = 0; i < onnx_model_num_op_types(m); i++)
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcmp(onnx_model_op_type(m, i, NULL), names[k]) == 0) return 1;
    return 0;
}

/* Random outputs: every value 0 or 1 when the expected ones are. */
static int compare_random(const onnx_output *got, const onnx_tensor *want, char *msg, size_t len)
{
    size_t n = (size_t)onnx_tensor_numel(want);
    for (size_t i = 0; i < n; i++) {
        double b = elem(want->data, want->dtype, i);
        if (b != 0 && b != 1) return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double a = elem(got->data, got->dtype, i);
        if (a != 0 && a != 1) {
            snprintf(msg, len, "output '%s': element %zu is %g, expected 0 or 1", got->name, i, a);
            return -1;
        }
    }
    return 0;
}

/* Returns 0 if equal within tolerance (random: of the same type, shape and range), else
 * writes why into msg. */
static int compare(const onnx_output *got, const onnx_tensor *want, int random, char *msg,
                   size_t len)
{
    if (got->dtype != want->dtype) {
        snprintf(msg, len, "output '%s': type %s, expected %s", got->name,
                 inferd_dtype_name(got->dtype), inferd_dtype_name(want->dtype));
        return -1;
    }
    int same_shape = got->ndim == want->ndim;
    for (int k = 0; same_shape && k < got->ndim; k++) same_shape = got->dims[k] == want->dims[k];
    if (!same_shape) {
        char a[128] = "", b[128] = "";
        size_t pa = 0, pb = 0;
        for (int k = 0; k < got->ndim && pa < 100; k++)
            pa += (size_t)snprintf(a + pa, sizeof a - pa, "%lld,", (long long)got->dims[k]);
        for (int k = 0; k < want->ndim && pb < 100; k++)
            pb += (size_t)snprintf(b + pb, sizeof b - pb, "%lld,", (long long)want->dims[k]);
        snprintf(msg, len, "output '%s': shape [%s], expected [%s]", got->name, a, b);
        return -1;
    }
    if (random) return compare_random(got, want, msg, len);
    if (want->dtype == INFERD_DTYPE_BYTES) { /* strings: the packed bytes, exactly */
        size_t nb = onnx_tensor_nbytes(want);
        if (got->nbytes != nb || (nb && memcmp(got->data, want->data, nb) != 0)) {
            snprintf(msg, len, "output '%s': the strings differ", got->name);
            return -1;
        }
        return 0;
    }
    size_t n = (size_t)onnx_tensor_numel(want);
    int fp = is_float(want->dtype);
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double a = elem(got->data, got->dtype, i), b = elem(want->data, want->dtype, i);
        int ok;
        if (want->dtype == INFERD_DTYPE_INT64 || want->dtype == INFERD_DTYPE_UINT64) {
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
        } else if (!fp) {
            ok = a == b;
        } else if (isnan(b)) {
            ok = isnan(a);
        } else if (isinf(b)) {
            ok = a == b;
        } else {
            double tol = ATOL + RTOL * fabs(b);
            if (want->dtype == INFERD_DTYPE_FP16 || want->dtype == INFERD_DTYPE_BF16) tol *= 8;
            ok = fabs(a - b) <= tol;
        }
        if (!ok) {
            if (!bad) first = i;
            bad++;
            if (fp && !isnan(a) && fabs(a - b) > worst) worst = fabs(a - b);
        }
    }
    if (bad) {
        snprintf(msg, len,
                 "output '%s': %zu of %zu elements differ (first at %zu: got %g, expected %g; max "
                 "abs diff %g)",
                 got->name, bad, n, first, elem(got->data, got->dtype, first),
                 elem(want->data, want->dtype, first), worst);
        return -1;
    }
    return 0;
}

/* ---- one case ---------------------------------------------------------------------------- */

typedef struct case_result {
    int outcome;
    char msg[2048];
} case_result;

/* The test data files prefix_N.pb of a data set in N order, read as the model's input or
 * output N declares (tensor, sequence or optional). */
static char **read_values(const char *dir, const char *prefix, const onnx_model *model, int outputs,
                          int *n, test_value **vals, char *msg, size_t len)
{
    char **files = list_dir(dir, prefix, n);
    /* input_10 sorts before input_2: order by the number */
    for (int i = 0; i < *n; i++)
        for (int j = i + 1; j < *n; j++)
            if (atoi(files[j] + strlen(prefix)) < atoi(files[i] + strlen(prefix))) {
                char *t = files[i];
                files[i] = files[j];
                files[j] = t;
            }
    *vals = calloc((size_t)*n + 1, sizeof **vals);
    for (int i = 0; i < *n; i++) {
        char path[8192 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        const onnx_value_info *vi =
            outputs ? onnx_model_output(model, i) : onnx_model_input(model, i);
        int rc = test_value_read(path, vi && vi->is_sequence, vi && vi->is_optional, &(*vals)[i],
                                 msg, len);
        if (rc < 0) return files;
    }
    msg[0] = 0;
    return files;
}

/* A test value as an onnx_input (views; a sequence's items go in items[]). */
static onnx_input input_of(const char *name, const test_value *v, onnx_input *items)
{
    onnx_input in = {.name = name,
                     .dtype = v->t.dtype,
                     .ndim = v->t.ndim,
                     .dims = v->t.dims,
                     .data = v->t.data,
                     .nbytes = onnx_tensor_nbytes(&v->t),
                     .kind = v->kind};
    if (v->kind == ONNX_KIND_SEQUENCE) {
        for (int k = 0; k < v->n_items; k++) {
            const onnx_tensor *t = &v->items[k];
            items[k] = (onnx_input){.dtype = t->dtype,
                                    .ndim = t->ndim,
                                    .dims = t->dims,
                                    .data = t->data,
                                    .nbytes = onnx_tensor_nbytes(t)};
        }
        in.dtype = v->n_items ? v->items[0].dtype : INFERD_DTYPE_INVALID;
        in.n_items = v->n_items;
        in.items = items;
    }
    return in;
}

/* Output i of the run against the expected value (any kind). */
static int compare_value(const onnx_session *s, int i, test_value *want, int random, char *msg,
                         size_t len)
{
    onnx_output o;
    onnx_session_output(s, i, &o);
    if (o.kind != want->kind) {
        snprintf(msg, len, "output '%s': kind %d, expected %d", o.name, o.kind, want->kind);
        return -1;
    }
    if (o.kind == ONNX_KIND_NONE) return 0;
    if (o.kind == ONNX_KIND_TENSOR) {
        if (o.dtype == INFERD_DTYPE_BF16 && want->t.dtype == INFERD_DTYPE_UINT16)
            want->t.dtype = INFERD_DTYPE_BF16;
        return compare(&o, &want->t, random, msg, len);
    }
    if (o.n_items != want->n_items) {
        snprintf(msg, len, "output '%s': %d items, expected %d", o.name, o.n_items, want->n_items);
        return -1;
    }
    for (int k = 0; k < o.n_items; k++) {
        onnx_output item;
        onnx_session_output_item(s, i, k, &item);
        if (compare(&item, &want->items[k], random, msg, len) < 0) return -1;
    }
    return 0;
}

static void run_case(const char *dir, int threads, case_result *res)
{
    char path[4096], err[512] = "";
    res->outcome = CASE_FAIL;
    res->msg[0] = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    onnx_model *model;
    int rc = onnx_model_load(path, &model, err, sizeof err);
    if (rc < 0) {
        res->outcome = rc == ONNX_E_UNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
        snprintf(res->msg, sizeof res->msg, "load: %s", err);
        return;
    }
    onnx_session *s;
    if (onnx_session_create(model, threads, &s, err, sizeof err) < 0) {
        snprintf(res->msg, sizeof res->msg, "session: %s", err);
        onnx_model_free(model);
        return;
    }
    const int random = model_is_random(model);
    int n_sets;
    char **sets = list_dir(dir, "test_data_set_", &n_sets);
    int outcome = CASE_PASS;
    if (n_sets == 0) {
        outcome = CASE_FAIL;
        snprintf(res->msg, sizeof res->msg, "no test data sets");
    }
    for (int si = 0; si < n_sets && outcome == CASE_PASS; si++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[si]);
        int n_in = 0, n_out = 0;
        test_value *ins = NULL, *outs = NULL;
        char **fin = read_values(sdir, "input_", model, 0, &n_in, &ins, err, sizeof err);
        char **fout =
            err[0] ? NULL : read_values(sdir, "output_", model, 1, &n_out, &outs, err, sizeof err);
        if (err[0]) {
            outcome = strstr(err, "not supported") ? CASE_UNSUPPORTED : CASE_FAIL;
            snprintf(res->msg, sizeof res->msg, "%.200s: %s", sets[si], err);
        }
        onnx_input *inputs = calloc((size_t)n_in + 1, sizeof *inputs);
        onnx_input **items = calloc((size_t)n_in + 1, sizeof *items);
        int n_model_in = onnx_model_num_inputs(model);
        for (int i = 0; i < n_in && outcome == CASE_PASS; i++) {
            /* by name when the file names a model input, else by position */
            const char *name = NULL;
            for (int k = 0; k < n_model_in; k++)
                if (ins[i].name && strcmp(onnx_model_input(model, k)->name, ins[i].name) == 0)
                    name = ins[i].name;
            if (!name && i < n_model_in) name = onnx_model_input(model, i)->name;
            /* the ONNX test data stores bfloat16 tensors as uint16 */
            for (int k = 0; name && k < n_model_in; k++)
                if (!strcmp(onnx_model_input(model, k)->name, name) &&
                    onnx_model_input(model, k)->dtype == INFERD_DTYPE_BF16 &&
                    ins[i].t.dtype == INFERD_DTYPE_UINT16)
                    ins[i].t.dtype = INFERD_DTYPE_BF16;
            /* a few cases feed shapes other than the model declares; onnx_run refuses
             * those by design, so they cannot be run here */
            for (int k = 0; name && k < n_model_in && outcome == CASE_PASS; k++) {
                const onnx_value_info *vi = onnx_model_input(model, k);
                if (strcmp(vi->name, name) != 0 || vi->ndim < 0 || ins[i].kind != ONNX_KIND_TENSOR)
                    continue;
                int ok = vi->ndim == ins[i].t.ndim;
                for (int d = 0; ok && d < vi->ndim; d++)
                    ok = vi->dims[d] < 0 || vi->dims[d] == ins[i].t.dims[d];
                if (!ok) {
                    outcome = CASE_UNSUPPORTED;
                    snprintf(res->msg, sizeof res->msg,
                             "%.200s: test data for input '%s' does not match the model's declared "
                             "shape",
                             sets[si], name);
                }
            }
            items[i] = calloc((size_t)ins[i].n_items + 1, sizeof *items[i]);
            inputs[i] = input_of(name, &ins[i], items[i]);
        }
        if (outcome == CASE_PASS) {
            rc = onnx_run(s, inputs, n_in, err, sizeof err);
            if (rc < 0) {
                outcome = rc == ONNX_E_UNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
                snprintf(res->msg, sizeof res->msg, "%.200s: run: %s", sets[si], err);
            }
        }
        if (outcome == CASE_PASS && n_out != onnx_session_num_outputs(s)) {
            outcome = CASE_FAIL;
            snprintf(res->msg, sizeof res->msg, "%s: %d expected outputs, model has %d", sets[si],
                     n_out, onnx_session_num_outputs(s));
        }
        for (int i = 0; i < n_out && outcome == CASE_PASS; i++) {
            if (compare_value(s, i, &outs[i], random, err, sizeof err) < 0) {
                outcome = CASE_FAIL;
                snprintf(res->msg, sizeof res->msg, "%.200s: %s", sets[si], err);
            }
        }
        for (int i = 0; i < n_in; i++) test_value_free(&ins[i]), free(items[i]);
        for (int i = 0; i < n_out; i++) test_value_free(&outs[i]);
        free(ins), free(outs), free(inputs), free(items);
        free_list(fin, n_in);
        if (fout) free_list(fout, n_out);
    }
    free_list(sets, n_sets);
    res->outcome = outcome;
    onnx_session_free(s);
    onnx_model_free(model);
}

/* Runs the case in a child; a crash or timeout is a failure. */
static void run_case_isolated(const char *dir, int threads, case_result *res)
{
    int fds[2];
    if (pipe(fds) < 0) {
        run_case(dir, threads, res);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]), close(fds[1]);
        run_case(dir, threads, res);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        case_result r;
        run_case(dir, threads, &r);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    double deadline = (clock_now_s() * 1e3) + CASE_TIMEOUT_MS;
    int timed_out = 0;
    while (got < sizeof *res) {
        double left = deadline - (clock_now_s() * 1e3);
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)left + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        ssize_t r = read(fds[0], (char *)res + got, sizeof *res - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got != sizeof *res) {
        res->outcome = CASE_FAIL;
        if (timed_out)
            snprintf(res->msg, sizeof res->msg, "timed out after %d ms", CASE_TIMEOUT_MS);
        else if (WIFSIGNALED(status))
            snprintf(res->msg, sizeof res->msg, "crashed (signal %d)", WTERMSIG(status));
        else
            snprintf(res->msg, sizeof res->msg, "child exited with status %d", WEXITSTATUS(status));
    }
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: inferd-conformance DATA_DIR [--filter SUBSTR] [--verbose] [--baseline FILE]\n"
        "                          [--no-fork] [--threads N]\n"
        "Runs every ONNX backend test case (a folder with model.onnx and test_data_set_*)\n"
        "found up to two levels below DATA_DIR, e.g. /usr/share/libonnx-testdata/data.\n"
        "  --filter SUBSTR   only cases whose path contains SUBSTR\n"
        "  --verbose         print every case, not only failures\n"
        "  --baseline FILE   exit 1 if a case fails or fewer cases pass than the number in FILE\n"
        "  --no-fork         run cases in this process (for debuggers and sanitizers)\n"
        "Tolerance: |got - expected| <= %g + %g * |expected|; NaN equals NaN.\n",
        ATOL, RTOL);
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL, *filter = NULL, *baseline = NULL;
    int verbose = 0, no_fork = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!strcmp(argv[i], "--baseline") && i + 1 < argc) {
            baseline = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "--no-fork")) {
            no_fork = 1;
        } else if (argv[i][0] != '-' && !data_dir) {
            data_dir = argv[i];
        } else {
            fprintf(stderr, "inferd-conformance: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!data_dir) {
        usage(stderr);
        return 2;
    }
    long want_pass = -1;
    if (baseline) {
        FILE *f = fopen(baseline, "r");
        if (!f || fscanf(f, "%ld", &want_pass) != 1) {
            fprintf(stderr, "inferd-conformance: cannot read a number from %s\n", baseline);
            if (f) fclose(f);
            return 2;
        }
        fclose(f);
    }
    if (!is_dir(data_dir)) {
        fprintf(stderr, "inferd-conformance: %s is not a directory\n", data_dir);
        return 2;
    }
    find_cases(data_dir, 2);
    int pass = 0, fail = 0, unsup = 0, total = 0;
    size_t root_len = strlen(data_dir);
    for (int c = 0; c < g_n_cases; c++) {
        const char *dir = g_cases[c];
        const char *rel = dir + root_len;
        while (*rel == '/') rel++;
        if (!*rel) rel = dir;
        if (filter && !strstr(rel, filter)) continue;
        total++;
        case_result res;
        double t0 = (clock_now_s() * 1e3);
        if (no_fork) run_case(dir, threads, &res);
        else run_case_isolated(dir, threads, &res);
        double ms = (clock_now_s() * 1e3) - t0;
        res.msg[sizeof res.msg - 1] = 0;
        char model[4096];
        snprintf(model, sizeof model, "%s/model.onnx", dir);
        char **types;
        int nt = onnx_peek_op_types(model, &types);
        for (int k = 0; k < nt; k++) stat_add(types[k], res.outcome);
        if (nt > 0) onnx_peek_free(types, nt);
        const char *tag = res.outcome == CASE_PASS   ? "PASS"
                          : res.outcome == CASE_FAIL ? "FAIL"
                                                     : "UNSUPPORTED";
        if (res.outcome == CASE_PASS) pass++;
        else if (res.outcome == CASE_FAIL) fail++;
        else unsup++;
        if (verbose || res.outcome == CASE_FAIL)
            printf("%-11s %s (%.0f ms)%s%s\n", tag, rel, ms, res.msg[0] ? ": " : "", res.msg);
        else if (res.outcome == CASE_UNSUPPORTED) printf("%-11s %s: %s\n", tag, rel, res.msg);
    }
    if (g_n_stats) qsort(g_stats, (size_t)g_n_stats, sizeof *g_stats, cmp_stat);
    printf("\n%-28s %7s %7s %12s\n", "operator", "passed", "failed", "unsupported");
    for (int k = 0; k < g_n_stats; k++)
        printf("%-28s %7d %7d %12d\n", g_stats[k].type, g_stats[k].pass, g_stats[k].fail,
               g_stats[k].unsupported);
    printf("conformance: %d passed, %d failed, %d unsupported of %d cases\n", pass, fail, unsup,
           total);
    for (int k = 0; k < g_n_stats; k++) free(g_stats[k].type);
    free(g_stats);
    for (int c = 0; c < g_n_cases; c++) free(g_cases[c]);
    free(g_cases);
    if (baseline) {
        if (fail > 0) {
            fprintf(stderr, "inferd-conformance: %d case(s) failed\n", fail);
            return 1;
        }
        if (pass < want_pass) {
            fprintf(stderr, "inferd-conformance: %d passed, baseline is %ld\n", pass, want_pass);
            return 1;
        }
    }
    return 0;
}
