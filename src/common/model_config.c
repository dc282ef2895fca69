/* Model configuration: parses <repo>/<model>/config.json into a model_config and loads a
 * whole repository (see include/inferd/model_config.h). Never trusts the file. */
#include "inferd/model_config.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inferd/log.h"

#define CONFIG_MAX_BYTES   (1 << 20)
#define CONFIG_MAX_BATCH   1024 /* SHM_MAX_BATCH */
#define CONFIG_MAX_WORKERS 64

static void config_defaults(model_config *c)
{
    memset(c, 0, sizeof *c);
    c->max_batch_size = 0;
    c->workers_min = 2; /* two, so that one crash never leaves the model without a worker */
    c->workers_max = 4;
    c->max_queue_delay_us = 0;
    c->max_queue_size = 1024;
    c->timeout_ms = 30000;
    c->hang_timeout_ms = 10000;
    c->idle_timeout_ms = 30000;
    c->delay_ms = 1000;
    c->max_delay_ms = -1; /* resolved after parsing: see model_config.h */
    c->threads = 1;
}

/* Reads an optional integer field in [lo, hi]; 0 if absent or ok, -1 with err. */
static int get_int(json_t *obj, const char *key, const char *where, int64_t lo, int64_t hi,
                   int64_t *out, char *err, size_t err_len)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_integer(v)) {
        snprintf(err, err_len, "%s%s: must be an integer", where, key);
        return -1;
    }
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        snprintf(err, err_len, "%s%s: %lld is out of range [%lld, %lld]", where, key, (long long)x,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_ios(json_t *arr, const char *what, int max_ndim, model_io *ios, int *count,
                     char *err, size_t err_len)
{
    if (!json_is_array(arr)) {
        snprintf(err, err_len, "%s: must be an array", what);
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n == 0 || n > MODEL_MAX_IO) {
        snprintf(err, err_len, "%s: needs 1..%d entries, has %zu", what, MODEL_MAX_IO, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        model_io *io = &ios[i];
        memset(io, 0, sizeof *io);
        if (!json_is_object(e)) {
            snprintf(err, err_len, "%s[%zu]: must be an object", what, i);
            return -1;
        }
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!name || !name[0] || strlen(name) >= MODEL_NAME_LEN) {
            snprintf(err, err_len, "%s[%zu].name: must be a string of 1..%d bytes", what, i,
                     MODEL_NAME_LEN - 1);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(ios[j].name, name) == 0) {
                snprintf(err, err_len, "%s[%zu].name: duplicate name '%s'", what, i, name);
                return -1;
            }
        snprintf(io->name, sizeof io->name, "%s", name);
        const char *dt = json_string_value(json_object_get(e, "datatype"));
        io->dtype = inferd_dtype_from_name(dt);
        if (io->dtype == INFERD_DTYPE_INVALID) {
            snprintf(err, err_len, "%s[%zu].datatype: unknown type '%.32s'", what, i,
                     dt ? dt : "(missing)");
            return -1;
        }
        json_t *dims = json_object_get(e, "dims");
        if (!dims) dims = json_object_get(e, "shape");
        if (!json_is_array(dims)) {
            snprintf(err, err_len, "%s[%zu].dims: must be an array", what, i);
            return -1;
        }
        size_t nd = json_array_size(dims);
        if (nd > (size_t)max_ndim) {
            snprintf(err, err_len, "%s[%zu].dims: at most %d dimensions, has %zu", what, i,
                     max_ndim, nd);
            return -1;
        }
        io->ndim = (int)nd;
        for (size_t d = 0; d < nd; d++) {
            json_t *dv = json_array_get(dims, d);
            json_int_t x = json_is_integer(dv) ? json_integer_value(dv) : -2;
            if (x < -1 || x > (json_int_t)1 << 40) {
                snprintf(err, err_len, "%s[%zu].dims[%zu]: must be -1 or a size", what, i, d);
                return -1;
            }
            io->dims[d] = x;
        }
    }
    *count = (int)n;
    return 0;
}

/* Mock backends get their usual single tensor when the config does not list any. */
static void default_ios(model_config *c)
{
    inferd_dtype dt;
    if (strcmp(c->backend, "reverse") == 0) dt = INFERD_DTYPE_BYTES;
    else if (strcmp(c->backend, "identity") == 0 || strcmp(c->backend, "delay") == 0)
        dt = INFERD_DTYPE_FP32;
    else return;
    if (c->n_inputs == 0) {
        c->n_inputs = 1;
        snprintf(c->inputs[0].name, MODEL_NAME_LEN, "INPUT0");
        c->inputs[0].dtype = dt;
        c->inputs[0].ndim = 1;
        c->inputs[0].dims[0] = -1;
    }
    if (c->n_outputs == 0) {
        c->n_outputs = 1;
        snprintf(c->outputs[0].name, MODEL_NAME_LEN, "OUTPUT0");
        c->outputs[0].dtype = dt;
        c->outputs[0].ndim = 1;
        c->outputs[0].dims[0] = -1;
    }
}

/* Highest all-digits subfolder of dir, or 0. */
static int find_version(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int best = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (!s[0] || strlen(s) > 9) continue;
        int ok = 1;
        for (const char *p = s; *p; p++)
            if (*p < '0' || *p > '9') ok = 0;
        if (!ok) continue;
        char path[MODEL_PATH_LEN + 16];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, s);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        int v = atoi(s);
        if (v > best) best = v;
    }
    closedir(d);
    return best;
}

static int parse_object(json_t *root, model_config *c, char *err, size_t err_len)
{
    static const char *known[] = {
        "backend",
        "max_batch_size",
        "inputs",
        "outputs",
        "workers",
        "dynamic_batching",
        "max_queue_size",
        "timeout_ms",
        "hang_timeout_ms",
        "idle_timeout_ms",
        "delay_ms",
        "max_delay_ms",
        "arena_mb",
        "threads",
        "name",
        "platform",
        "parameters",
        "response_cache",
        NULL,
    };
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        int found = 0;
        for (int i = 0; known[i]; i++)
            if (strcmp(known[i], key) == 0) found = 1;
        if (!found) log_warn("model %s: config.json: ignoring unknown field '%s'", c->name, key);
    }

    const char *backend = json_string_value(json_object_get(root, "backend"));
    if (!backend || !backend[0] || strlen(backend) >= sizeof c->backend) {
        snprintf(err, err_len,
                 "backend: must be a non-empty string (reverse, identity, delay, "
                 "onnx)");
        return -1;
    }
    snprintf(c->backend, sizeof c->backend, "%s", backend);

    int64_t v;
    v = c->max_batch_size;
    if (get_int(root, "max_batch_size", "", 0, CONFIG_MAX_BATCH, &v, err, err_len)) return -1;
    c->max_batch_size = (int)v;
    /* One dimension of the shared-memory tensor is the batch dimension when batching. */
    int max_ndim = c->max_batch_size > 0 ? MODEL_MAX_DIMS - 1 : MODEL_MAX_DIMS;

    json_t *ins = json_object_get(root, "inputs");
    if (ins && parse_ios(ins, "inputs", max_ndim, c->inputs, &c->n_inputs, err, err_len)) return -1;
    json_t *outs = json_object_get(root, "outputs");
    if (outs && parse_ios(outs, "outputs", max_ndim, c->outputs, &c->n_outputs, err, err_len))
        return -1;
    default_ios(c);
    if (c->n_inputs == 0 || c->n_outputs == 0) {
        snprintf(err, err_len, "%s: backend '%s' needs explicit inputs and outputs",
                 c->n_inputs == 0 ? "inputs" : "outputs", c->backend);
        return -1;
    }

    json_t *w = json_object_get(root, "workers");
    if (w) {
        if (!json_is_object(w)) {
            snprintf(err, err_len, "workers: must be an object {\"min\": n, \"max\": n}");
            return -1;
        }
        int64_t mn = -1, mx = -1;
        if (get_int(w, "min", "workers.", 1, CONFIG_MAX_WORKERS, &mn, err, err_len)) return -1;
        if (get_int(w, "max", "workers.", 1, CONFIG_MAX_WORKERS, &mx, err, err_len)) return -1;
        /* one of them alone: the other follows the default without crossing it */
        if (mn < 0) mn = mx >= 0 && mx < c->workers_min ? mx : c->workers_min;
        if (mx < 0) mx = mn > c->workers_max ? mn : c->workers_max;
        if (mx < mn) {
            snprintf(err, err_len, "workers: max (%lld) is below min (%lld)", (long long)mx,
                     (long long)mn);
            return -1;
        }
        c->workers_min = (int)mn;
        c->workers_max = (int)mx;
    }
    json_t *db = json_object_get(root, "dynamic_batching");
    if (db) {
        if (!json_is_object(db)) {
            snprintf(err, err_len, "dynamic_batching: must be an object");
            return -1;
        }
        if (get_int(db, "max_queue_delay_us", "dynamic_batching.", 0, 10000000,
                    &c->max_queue_delay_us, err, err_len))
            return -1;
    }
    json_t *rc = json_object_get(root, "response_cache");
    if (rc) {
        json_t *en = json_is_object(rc) ? json_object_get(rc, "enable") : NULL;
        if (!json_is_object(rc) || (en && !json_is_boolean(en))) {
            snprintf(err, err_len, "response_cache: must be an object {\"enable\": true|false}");
            return -1;
        }
        c->response_cache = en && json_is_true(en);
    }
    v = c->max_queue_size;
    if (get_int(root, "max_queue_size", "", 1, 1 << 20, &v, err, err_len)) return -1;
    c->max_queue_size = (int)v;
    const int64_t day_ms = 86400000;
    if (get_int(root, "timeout_ms", "", 0, day_ms, &c->timeout_ms, err, err_len)) return -1;
    if (get_int(root, "hang_timeout_ms", "", 1, day_ms, &c->hang_timeout_ms, err, err_len))
        return -1;
    if (get_int(root, "idle_timeout_ms", "", 0, day_ms, &c->idle_timeout_ms, err, err_len))
        return -1;
    if (get_int(root, "delay_ms", "", 0, day_ms, &c->delay_ms, err, err_len)) return -1;
    if (get_int(root, "max_delay_ms", "", 0, day_ms, &c->max_delay_ms, err, err_len)) return -1;
    if (get_int(root, "arena_mb", "", 0, 1 << 20, &c->arena_mb, err, err_len)) return -1;
    v = c->threads;
    if (get_int(root, "threads", "", 1, 64, &v, err, err_len)) return -1;
    c->threads = (int)v;
    if (c->max_delay_ms < 0) {
        c->max_delay_ms = c->delay_ms > 300000 ? c->delay_ms : 300000;
    } else if (c->max_delay_ms < c->delay_ms) {
        snprintf(err, err_len, "max_delay_ms (%lld) is below delay_ms (%lld)",
                 (long long)c->max_delay_ms, (long long)c->delay_ms);
        return -1;
    }
    return 0;
}

int model_config_parse(const char *name, const char *dir, const char *json_text, model_config *out,
                       char *err, size_t err_len)
{
    config_defaults(out);
    if (!name || !name[0] || strlen(name) >= MODEL_NAME_LEN) {
        snprintf(err, err_len, "model name must be 1..%d bytes", MODEL_NAME_LEN - 1);
        return -1;
    }
    for (const char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x21 || *p == '"' || *p == '\\') {
            snprintf(err, err_len, "model name '%s' has a character not allowed in a URL path",
                     name);
            return -1;
        }
    if (!dir || strlen(dir) >= MODEL_PATH_LEN - 32) {
        snprintf(err, err_len, "model folder path too long");
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->dir, sizeof out->dir, "%s", dir);

    json_error_t jerr;
    json_t *root = json_loads(json_text ? json_text : "", JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_len, "config.json line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) snprintf(err, err_len, "config.json: must be a JSON object");
    else rc = parse_object(root, out, err, err_len);
    json_decref(root);
    if (rc) return -1;

    out->version = find_version(dir);
    if (strcmp(out->backend, "onnx") == 0) {
        if (out->version == 0) {
            snprintf(err, err_len, "onnx model needs a version folder %s/<n>/model.onnx", dir);
            return -1;
        }
        snprintf(out->model_file, sizeof out->model_file, "%s/%d/model.onnx", dir, out->version);
        struct stat st;
        if (stat(out->model_file, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, err_len, "%s: not found", out->model_file);
            return -1;
        }
    }
    return 0;
}

int model_config_load(const char *dir, model_config *out, char *err, size_t err_len)
{
    if (!dir || !dir[0]) {
        snprintf(err, err_len, "empty model folder path");
        return -1;
    }
    char path[MODEL_PATH_LEN + 16];
    if (strlen(dir) >= MODEL_PATH_LEN - 32) {
        snprintf(err, err_len, "model folder path too long");
        return -1;
    }
    /* name = base name of dir, trailing slashes ignored */
    char trimmed[MODEL_PATH_LEN];
    snprintf(trimmed, sizeof trimmed, "%s", dir);
    size_t tl = strlen(trimmed);
    while (tl > 1 && trimmed[tl - 1] == '/') trimmed[--tl] = '\0';
    const char *slash = strrchr(trimmed, '/');
    const char *name = slash ? slash + 1 : trimmed;

    snprintf(path, sizeof path, "%s/config.json", trimmed);
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || n > CONFIG_MAX_BYTES) {
        free(text);
        snprintf(err, err_len, "%s: %s", path, rerr ? "read error" : "larger than 1 MiB");
        return -1;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        free(text);
        snprintf(err, err_len, "%s: contains a NUL byte", path);
        return -1;
    }
    int rc = model_config_parse(name, trimmed, text, out, err, err_len);
    free(text);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int model_repository_list(const char *repo_dir, char ***names_out, int *count, char *err,
                          size_t err_len)
{
    *names_out = NULL;
    *count = 0;
    DIR *d = repo_dir ? opendir(repo_dir) : NULL;
    if (!d) {
        snprintf(err, err_len, "model repository %s: %s", repo_dir ? repo_dir : "(null)",
                 strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int oom = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[MODEL_PATH_LEN + 300];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", repo_dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                oom = 1;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            oom = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (oom || n > INT32_MAX) {
        model_repository_list_free(names, (int)n);
        snprintf(err, err_len, "out of memory reading %s", repo_dir);
        return -1;
    }
    if (n > 1) qsort(names, n, sizeof *names, name_cmp);
    *names_out = names;
    *count = (int)n;
    return 0;
}

void model_repository_list_free(char **names, int count)
{
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

int model_repository_load(const char *repo_dir, model_config **models, int *count, char *err,
                          size_t err_len)
{
    *models = NULL;
    *count = 0;
    char **names = NULL;
    int n = 0;
    if (model_repository_list(repo_dir, &names, &n, err, err_len) != 0) return -1;
    model_config *out = NULL;
    if (n > 0 && !(out = calloc((size_t)n, sizeof *out))) {
        model_repository_list_free(names, n);
        snprintf(err, err_len, "out of memory reading %s", repo_dir);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        char dir[MODEL_PATH_LEN + 300];
        char why[256];
        snprintf(dir, sizeof dir, "%s/%s", repo_dir, names[i]);
        if (strlen(dir) >= MODEL_PATH_LEN - 32) {
            log_error("model %s: skipped: path too long", names[i]);
        } else if (model_config_load(dir, &out[k], why, sizeof why) != 0) {
            log_error("model %s: skipped: %s", dir, why);
        } else {
            k++;
        }
    }
    model_repository_list_free(names, n);
    *models = out;
    *count = k;
    return 0;
}
