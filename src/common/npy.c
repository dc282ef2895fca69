/* .npy reading and writing (see include/inferd/npy.h). */
#include "inferd/npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_FILE ((size_t)1 << 34)

static int npy_fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int npy_fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const struct {
    const char *descr;
    inferd_dtype dtype;
} npy_types[] = {
    {"<f4", INFERD_DTYPE_FP32},  {"<f8", INFERD_DTYPE_FP64},  {"<i8", INFERD_DTYPE_INT64},
    {"<i4", INFERD_DTYPE_INT32}, {"|u1", INFERD_DTYPE_UINT8}, {"<u1", INFERD_DTYPE_UINT8},
    {"|b1", INFERD_DTYPE_BOOL},  {"<b1", INFERD_DTYPE_BOOL},
};

static const char *descr_of(inferd_dtype dtype)
{
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dtype == dtype) return npy_types[i].descr;
    return NULL;
}

void npy_array_free(npy_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* Finds 'key': in the header dict and returns a pointer just past the colon and spaces. */
static const char *find_key(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(h, pat);
    }
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int npy_parse(const void *buf, size_t len, npy_array *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return npy_fail(err, err_len, "not a .npy file (bad magic)");
    unsigned major = b[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return npy_fail(err, err_len, "truncated .npy header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        return npy_fail(err, err_len, "unsupported .npy version %u", major);
    }
    if (hlen > len - hstart || hlen > 65536) return npy_fail(err, err_len, "truncated .npy header");
    char *h = malloc(hlen + 1);
    if (!h) return npy_fail(err, err_len, "out of memory");
    memcpy(h, b + hstart, hlen);
    h[hlen] = 0;
    for (size_t i = 0; i < hlen; i++)
        if (h[i] == 0) h[i] = ' ';

    int rc = 0;
    const char *p = find_key(h, "descr");
    char descr[16] = "";
    if (!p || (*p != '\'' && *p != '"')) {
        rc = npy_fail(err, err_len, ".npy header has no descr");
    } else {
        char q = *p++;
        size_t n = 0;
        while (p[n] && p[n] != q && n < sizeof descr - 1) n++;
        memcpy(descr, p, n);
        descr[n] = 0;
        if (p[n] != q) rc = npy_fail(err, err_len, ".npy descr is not a simple type");
    }
    if (rc == 0) {
        out->dtype = INFERD_DTYPE_INVALID;
        for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
            if (strcmp(npy_types[i].descr, descr) == 0) out->dtype = npy_types[i].dtype;
        if (out->dtype == INFERD_DTYPE_INVALID)
            rc = npy_fail(
                err, err_len,
                ".npy element type '%s' is not supported (float32, float64, int64, int32, uint8, "
                "bool, little-endian)",
                descr);
    }
    if (rc == 0) {
        p = find_key(h, "fortran_order");
        if (!p) rc = npy_fail(err, err_len, ".npy header has no fortran_order");
        else if (strncmp(p, "True", 4) == 0)
            rc = npy_fail(err, err_len, "Fortran-order .npy files are not supported");
        else if (strncmp(p, "False", 5) != 0)
            rc = npy_fail(err, err_len, "bad fortran_order in .npy header");
    }
    size_t numel = 1;
    if (rc == 0) {
        p = find_key(h, "shape");
        if (!p || *p != '(') {
            rc = npy_fail(err, err_len, ".npy header has no shape");
        } else {
            p++;
            for (;;) {
                while (*p == ' ' || *p == ',') p++;
                if (*p == ')') break;
                if (*p < '0' || *p > '9') {
                    rc = npy_fail(err, err_len, "bad shape in .npy header");
                    break;
                }
                if (out->ndim == NPY_MAX_DIMS) {
                    rc = npy_fail(err, err_len, ".npy rank exceeds %d", NPY_MAX_DIMS);
                    break;
                }
                char *end;
                errno = 0;
                unsigned long long d = strtoull(p, &end, 10);
                if (errno || d > ((uint64_t)1 << 40)) {
                    rc = npy_fail(err, err_len, "dimension too large in .npy header");
                    break;
                }
                out->dims[out->ndim++] = (int64_t)d;
                if (d && numel > NPY_MAX_FILE / d) {
                    rc = npy_fail(err, err_len, ".npy shape too large");
                    break;
                }
                numel *= (size_t)d;
                p = end;
            }
        }
    }
    free(h);
    if (rc == 0) {
        size_t es = inferd_dtype_size(out->dtype);
        size_t nbytes = numel * es;
        size_t have = len - hstart - hlen;
        if (have != nbytes) {
            rc = npy_fail(err, err_len, ".npy data is %zu bytes, shape needs %zu", have, nbytes);
        } else if (nbytes) {
            out->data = malloc(nbytes);
            if (!out->data) rc = npy_fail(err, err_len, "out of memory");
            else memcpy(out->data, b + hstart + hlen, nbytes);
            out->nbytes = nbytes;
        }
    }
    if (rc < 0) npy_array_free(out);
    return rc;
}

int npy_read_file(const char *path, npy_array *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rbe");
    if (!f) return npy_fail(err, err_len, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > NPY_MAX_FILE) {
        fclose(f);
        return npy_fail(err, err_len, "%s is not a regular file of a sane size", path);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return npy_fail(err, err_len, "out of memory");
    }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) {
        free(buf);
        return npy_fail(err, err_len, "short read on %s", path);
    }
    int rc = npy_parse(buf, len, out, err, err_len);
    free(buf);
    if (rc < 0 && err && err_len) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, err_len, "%s: %s", path, tmp);
    }
    return rc;
}

int npy_write_file(const char *path, inferd_dtype dtype, int ndim, const int64_t *dims,
                   const void *data, char *err, size_t err_len)
{
    const char *descr = descr_of(dtype);
    if (!descr)
        return npy_fail(err, err_len, "type %s cannot be written as .npy",
                        inferd_dtype_name(dtype));
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return npy_fail(err, err_len, "rank %d out of range", ndim);
    char shape[NPY_MAX_DIMS * 24 + 8];
    size_t sp = 0;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return npy_fail(err, err_len, "negative dimension");
        sp += (size_t)snprintf(shape + sp, sizeof shape - sp, "%lld,%s", (long long)dims[i],
                               i + 1 < ndim ? " " : "");
        numel *= (size_t)dims[i];
    }
    if (ndim > 1) sp--; /* numpy writes (2, 3) but (5,) */
    shape[sp] = 0;
    char header[512];
    int n = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    if (n < 0 || (size_t)n + 80 > sizeof header) return npy_fail(err, err_len, "shape too long");
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(header + n, ' ', pad);
    header[(size_t)n + pad] = '\n';
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    FILE *f = fopen(path, "wbe");
    if (!f) return npy_fail(err, err_len, "cannot create %s: %s", path, strerror(errno));
    size_t nbytes = numel * inferd_dtype_size(dtype);
    int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(header, 1, hlen, f) == hlen &&
             (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return npy_fail(err, err_len, "write to %s failed: %s", path, strerror(errno));
    return 0;
}
