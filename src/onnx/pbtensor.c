/* TensorProto decoding: typed fields, raw_data and external data, all lengths checked. */
#include "pbtensor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

int onnx_read_file(const char *path, size_t max_len, unsigned char **data, size_t *len,
                   onnx_load_err *e)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return onnx_load_fail(e, ONNX_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return onnx_load_fail(e, ONNX_E_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_len) {
        close(fd);
        return onnx_load_fail(e, ONNX_E_NOMEM, "%s is too large (%lld bytes)", path,
                              (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory reading %s", path);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return onnx_load_fail(e, ONNX_E_IO, "short read on %s", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Resolves an external data location under base_dir; refuses absolute paths, "..", and
 * symlinks that lead outside. */
static int resolve_external(const char *base_dir, const char *loc, char *out, size_t out_len,
                            onnx_load_err *e)
{
    if (!base_dir)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED, "external data needs a model file path");
    if (!loc || !*loc || loc[0] == '/')
        return onnx_load_fail(e, ONNX_E_INVALID,
                              "external data location '%s' must be a relative path",
                              loc ? loc : "");
    for (const char *p = loc; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return onnx_load_fail(e, ONNX_E_INVALID,
                                  "external data location '%s' leaves the model directory", loc);
        p += n;
        while (*p == '/') p++;
    }
    char base_real[PATH_MAX], joined[PATH_MAX];
    if (!realpath(base_dir, base_real))
        return onnx_load_fail(e, ONNX_E_IO, "cannot resolve %s: %s", base_dir, strerror(errno));
    int n = snprintf(joined, sizeof joined, "%s/%s", base_real, loc);
    if (n < 0 || (size_t)n >= sizeof joined)
        return onnx_load_fail(e, ONNX_E_INVALID, "external data path too long");
    if (!realpath(joined, out) || strlen(out) >= out_len)
        return onnx_load_fail(e, ONNX_E_IO, "cannot open external data %s: %s", loc,
                              strerror(errno));
    size_t bl = strlen(base_real);
    if (strncmp(out, base_real, bl) != 0 || (out[bl] != '/' && !(bl == 1 && base_real[0] == '/')))
        return onnx_load_fail(e, ONNX_E_INVALID,
                              "external data location '%s' leaves the model directory", loc);
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return -1;
    *v = x;
    return 0;
}

static int read_external(const Onnx__TensorProto *p, const char *base_dir, void *dst, size_t nbytes,
                         onnx_load_err *e)
{
    const char *loc = NULL;
    uint64_t offset = 0, length = UINT64_MAX;
    for (size_t i = 0; i < p->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = p->external_data[i];
        if (!kv || !kv->key) continue;
        if (strcmp(kv->key, "location") == 0) {
            loc = kv->value;
        } else if (strcmp(kv->key, "offset") == 0) {
            if (parse_u64(kv->value, &offset) < 0)
                return onnx_load_fail(e, ONNX_E_INVALID, "bad external data offset");
        } else if (strcmp(kv->key, "length") == 0) {
            if (parse_u64(kv->value, &length) < 0)
                return onnx_load_fail(e, ONNX_E_INVALID, "bad external data length");
        }
    }
    if (length != UINT64_MAX && length != nbytes)
        return onnx_load_fail(e, ONNX_E_INVALID, "external data length %llu, expected %zu bytes",
                              (unsigned long long)length, nbytes);
    char path[PATH_MAX];
    int rc = resolve_external(base_dir, loc, path, sizeof path, e);
    if (rc < 0) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return onnx_load_fail(e, ONNX_E_IO, "cannot open external data %s: %s", loc,
                              strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < offset ||
        (uint64_t)st.st_size - offset < nbytes) {
        close(fd);
        return onnx_load_fail(e, ONNX_E_INVALID,
                              "external data file %s is shorter than offset %llu + %zu bytes", loc,
                              (unsigned long long)offset, nbytes);
    }
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = pread(fd, (char *)dst + got, nbytes - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != nbytes) return onnx_load_fail(e, ONNX_E_IO, "short read on external data %s", loc);
    return 0;
}

/* Copies n elements from a typed repeated field, narrowing to the tensor's element type. */
static void copy_int32_field(const int32_t *src, void *dst, size_t n, inferd_dtype dt)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case INFERD_DTYPE_INT32: ((int32_t *)dst)[i] = src[i]; break;
        case INFERD_DTYPE_INT16: ((int16_t *)dst)[i] = (int16_t)src[i]; break;
        case INFERD_DTYPE_INT8: ((int8_t *)dst)[i] = (int8_t)src[i]; break;
        case INFERD_DTYPE_UINT16:
        case INFERD_DTYPE_FP16:
        case INFERD_DTYPE_BF16: ((uint16_t *)dst)[i] = (uint16_t)src[i]; break;
        case INFERD_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)src[i]; break;
        case INFERD_DTYPE_BOOL: ((uint8_t *)dst)[i] = src[i] != 0; break;
        default: break;
        }
    }
}

/* string_data -> the packed layout of tensor.h: every count checked before allocating. */
static int convert_strings(const Onnx__TensorProto *p, onnx_tensor *t, onnx_load_err *e)
{
    const char *name = p->name ? p->name : "";
    if (p->n_dims > ONNX_MAX_DIMS || p->segment || p->has_raw_data || p->n_external_data)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                              "tensor '%s': string tensor layout not supported", name);
    t->dtype = INFERD_DTYPE_BYTES;
    t->ndim = (int)p->n_dims;
    size_t numel = 1, total = 0;
    for (size_t i = 0; i < p->n_dims; i++) {
        if (p->dims[i] < 0 || (p->dims[i] && numel > (SIZE_MAX / 2) / (uint64_t)p->dims[i]))
            return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': bad shape", name);
        t->dims[i] = p->dims[i];
        numel *= (size_t)p->dims[i];
    }
    if (p->n_string_data != numel)
        return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': %zu strings, shape needs %zu", name,
                              p->n_string_data, numel);
    for (size_t i = 0; i < numel; i++) {
        if (p->string_data[i].len > UINT32_MAX || p->string_data[i].len > SIZE_MAX / 2 - total)
            return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': strings too long", name);
        total += 4 + p->string_data[i].len;
    }
    char *data = total ? malloc(total) : NULL;
    if (total && !data) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < numel; i++) {
        const uint32_t len = (uint32_t)p->string_data[i].len;
        memcpy(data + off, &len, 4);
        if (len) memcpy(data + off + 4, p->string_data[i].data, len);
        off += 4 + len;
    }
    t->data = data;
    return 0;
}

int onnx_pb_tensor_convert(Onnx__TensorProto *p, const char *base_dir, onnx_tensor *t,
                           onnx_load_err *e)
{
    memset(t, 0, sizeof *t);
    const char *name = p->name ? p->name : "";
    int dt = p->has_data_type ? p->data_type : 0;
    if (dt == INFERD_DTYPE_BYTES) return convert_strings(p, t, e);
    if (!inferd_dtype_is_valid(dt) || inferd_dtype_size((inferd_dtype)dt) == 0)
        return onnx_load_fail(e, dt > 0 && dt < 32 ? ONNX_E_UNSUPPORTED : ONNX_E_INVALID,
                              "tensor '%s': unsupported data type %d", name, dt);
    if (p->segment)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                              "tensor '%s': segmented tensors are not supported", name);
    if (p->n_dims > ONNX_MAX_DIMS)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED, "tensor '%s': rank %zu exceeds %d", name,
                              p->n_dims, ONNX_MAX_DIMS);
    t->dtype = (inferd_dtype)dt;
    t->ndim = (int)p->n_dims;
    size_t esize = inferd_dtype_size(t->dtype);
    size_t numel = 1;
    for (size_t i = 0; i < p->n_dims; i++) {
        int64_t d = p->dims[i];
        if (d < 0)
            return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': negative dim %lld", name,
                                  (long long)d);
        t->dims[i] = d;
        if (d && numel > (SIZE_MAX / 2) / (uint64_t)d)
            return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': shape too large", name);
        numel *= (size_t)d;
    }
    if (numel > (SIZE_MAX / 2) / esize)
        return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': shape too large", name);
    size_t nbytes = numel * esize;

    /* Find the data source and check its length before allocating anything. */
    int external =
        p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t have = 0;
    const char *field = "raw_data";
    if (external) {
        have = nbytes; /* checked against the file in read_external */
    } else if (p->has_raw_data && (p->raw_data.len > 0 || numel == 0)) {
        have = p->raw_data.len;
    } else {
        switch (t->dtype) {
        case INFERD_DTYPE_FP32:
            have = p->n_float_data;
            field = "float_data";
            break;
        case INFERD_DTYPE_FP64:
            have = p->n_double_data;
            field = "double_data";
            break;
        case INFERD_DTYPE_INT64:
            have = p->n_int64_data;
            field = "int64_data";
            break;
        case INFERD_DTYPE_UINT32:
        case INFERD_DTYPE_UINT64:
            have = p->n_uint64_data;
            field = "uint64_data";
            break;
        default:
            have = p->n_int32_data;
            field = "int32_data";
            break;
        }
        if (have > SIZE_MAX / esize)
            return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': bad length", name);
        have *= esize;
    }
    if (have != nbytes)
        return onnx_load_fail(e, ONNX_E_INVALID, "tensor '%s': %s holds %zu bytes, shape needs %zu",
                              name, field, have, nbytes);
    if (nbytes == 0) return 0;
    void *data;
    if (!external && p->has_raw_data && p->raw_data.len == nbytes &&
        ((uintptr_t)p->raw_data.data & 15) == 0) {
        /* protobuf-c's default allocator gave raw_data its own malloc block: keep it */
        data = p->raw_data.data;
        p->raw_data.data = NULL;
        p->raw_data.len = 0;
        p->has_raw_data = 0;
        if (t->dtype == INFERD_DTYPE_BOOL)
            for (size_t i = 0; i < numel; i++) ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
        t->data = data;
        return 0;
    }
    data = malloc(nbytes);
    if (!data)
        return onnx_load_fail(e, ONNX_E_NOMEM, "tensor '%s': out of memory (%zu bytes)", name,
                              nbytes);
    if (external) {
        int rc = read_external(p, base_dir, data, nbytes, e);
        if (rc < 0) {
            free(data);
            return rc;
        }
    } else if (p->has_raw_data && p->raw_data.len > 0) {
        memcpy(data, p->raw_data.data, nbytes); /* little-endian host, as the format */
    } else {
        switch (t->dtype) {
        case INFERD_DTYPE_FP32: memcpy(data, p->float_data, nbytes); break;
        case INFERD_DTYPE_FP64: memcpy(data, p->double_data, nbytes); break;
        case INFERD_DTYPE_INT64: memcpy(data, p->int64_data, nbytes); break;
        case INFERD_DTYPE_UINT64: memcpy(data, p->uint64_data, nbytes); break;
        case INFERD_DTYPE_UINT32:
            for (size_t i = 0; i < numel; i++) ((uint32_t *)data)[i] = (uint32_t)p->uint64_data[i];
            break;
        default: copy_int32_field(p->int32_data, data, numel, t->dtype); break;
        }
    }
    if (t->dtype == INFERD_DTYPE_BOOL)
        for (size_t i = 0; i < numel; i++) ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
    t->data = data;
    return 0;
}

int onnx_pb_tensor_read_buffer(const void *buf, size_t len, onnx_tensor *t, char **name, char *err,
                               size_t err_len)
{
    onnx_load_err e = {err, err_len, 0};
    memset(t, 0, sizeof *t);
    if (name) *name = NULL;
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!p) return onnx_load_fail(&e, ONNX_E_INVALID, "not a TensorProto");
    int rc = onnx_pb_tensor_convert(p, NULL, t, &e);
    if (rc == 0 && name) {
        *name = strdup(p->name ? p->name : "");
        if (!*name) {
            free(t->data);
            t->data = NULL;
            rc = onnx_load_fail(&e, ONNX_E_NOMEM, "out of memory");
        }
    }
    onnx__tensor_proto__free_unpacked(p, NULL);
    return rc;
}

int onnx_pb_tensor_read_file(const char *path, onnx_tensor *t, char **name, char *err,
                             size_t err_len)
{
    onnx_load_err e = {err, err_len, 0};
    unsigned char *buf;
    size_t len;
    memset(t, 0, sizeof *t);
    if (name) *name = NULL;
    int rc = onnx_read_file(path, (size_t)1 << 31, &buf, &len, &e);
    if (rc < 0) return rc;
    rc = onnx_pb_tensor_read_buffer(buf, len, t, name, err, err_len);
    free(buf);
    return rc;
}
