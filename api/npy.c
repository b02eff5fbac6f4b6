/*
 * npy.c — NumPy .npy arrays in and out (format versions 1.0, 2.0 and 3.0).
 *
 * The layout: the magic "\x93NUMPY", a major and minor version byte, the
 * header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), and
 * a header that is a Python dict literal such as
 *     {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and a newline, then the raw C-order data. Only
 * little-endian float32/float64 and int32/int64/uint8 are accepted, the
 * types a training pipeline has at hand; anything else is refused with a
 * message that says what is accepted.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads and writes little-endian data in place: port it for big-endian hosts"
#endif

static const struct {
    const char *descr;
    npy_dtype dtype;
    size_t size;
} dtypes[] = {
    {"<f8", NPY_F8, 8}, {"<f4", NPY_F4, 4}, {"<i8", NPY_I8, 8},
    {"<i4", NPY_I4, 4}, {"|u1", NPY_U1, 1}, {"<u1", NPY_U1, 1},
};

size_t npy_itemsize(npy_dtype t)
{
    return t == NPY_F8 || t == NPY_I8 ? 8 : t == NPY_U1 ? 1 : 4;
}

/* Finds the value text after 'key': in the header dict; NULL if absent. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

bl_api_code npy_parse(const void *buf, size_t len, const char *name, npy_view *v, api_err *e)
{
    const unsigned char *b = buf;
    memset(v, 0, sizeof *v);
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s is not a NumPy .npy array (no \\x93NUMPY magic)", name);
    unsigned major = b[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: truncated .npy header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: .npy format version %u.%u is not supported (1.0 to 3.0 are)", name,
                        major, b[7]);
    }
    if (hlen > len - start || hlen > 65536)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: truncated .npy header", name);
    char h[65537];
    memcpy(h, b + start, hlen);
    h[hlen] = '\0';
    if (strlen(h) != hlen)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: NUL byte in the .npy header", name);

    const char *d = dict_value(h, "descr");
    if (!d || (*d != '\'' && *d != '"'))
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: .npy header has no 'descr'", name);
    char descr[16] = "";
    size_t i = 0;
    for (d++; *d && *d != '\'' && *d != '"' && i < sizeof descr - 1; d++)
        descr[i++] = *d;
    descr[i] = '\0';
    int found = 0;
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (strcmp(descr, dtypes[k].descr) == 0) {
            v->dtype = dtypes[k].dtype;
            found = 1;
        }
    if (!found)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: dtype '%s' is not supported; send little-endian float32 or float64 "
                        "('<f4', '<f8') for reals, int32, int64 or uint8 ('<i4', '<i8', '|u1') "
                        "for integers",
                        name, descr);
    const char *f = dict_value(h, "fortran_order");
    if (!f || strncmp(f, "False", 5) != 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: only C-order arrays are accepted (fortran_order must be False; "
                        "use numpy.ascontiguousarray)",
                        name);
    const char *s = dict_value(h, "shape");
    if (!s || *s != '(')
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: .npy header has no 'shape'", name);
    s++;
    size_t count = 1;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        if (!isdigit((unsigned char)*s))
            return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: bad shape in the .npy header",
                            name);
        if (v->ndim == BL_MAX_DIMS)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s has more than %d dimensions",
                            name, BL_MAX_DIMS);
        char *end;
        unsigned long long n = strtoull(s, &end, 10);
        s = end;
        if (*s == 'L')
            s++;
        v->shape[v->ndim++] = (size_t)n;
        if (n && count > SIZE_MAX / 16 / n)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: the shape is too large", name);
        count *= (size_t)n;
    }
    v->count = count;
    size_t data_len = len - start - hlen;
    size_t want = count * npy_itemsize(v->dtype);
    if (data_len != want)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: the shape and dtype need %zu data bytes, but the .npy part has %zu%s",
                        name, want, data_len, data_len < want ? " (truncated)" : "");
    v->data = b + start + hlen;
    return BL_API_OK;
}

int npy_is_integer(const npy_view *v)
{
    return v->dtype == NPY_I4 || v->dtype == NPY_I8 || v->dtype == NPY_U1;
}

/* out[i] = (T)value i, each value read with memcpy (the data may be
 * unaligned in the request body). */
#define NPY_CONVERT(src_type, v, out)                                 \
    do {                                                              \
        const unsigned char *p_ = (v)->data;                          \
        for (size_t i_ = 0; i_ < (v)->count; i_++) {                  \
            src_type x_;                                              \
            memcpy(&x_, p_ + sizeof x_ * i_, sizeof x_);              \
            (out)[i_] = x_;                                           \
        }                                                             \
    } while (0)

void npy_to_doubles(const npy_view *v, double *out)
{
    switch (v->dtype) {
    case NPY_F8: NPY_CONVERT(double, v, out); break;
    case NPY_F4: NPY_CONVERT(float, v, out); break;
    case NPY_I8: NPY_CONVERT(int64_t, v, out); break;
    case NPY_I4: NPY_CONVERT(int32_t, v, out); break;
    case NPY_U1: NPY_CONVERT(uint8_t, v, out); break;
    }
}

void npy_to_int64(const npy_view *v, int64_t *out)
{
    switch (v->dtype) {
    case NPY_I8: NPY_CONVERT(int64_t, v, out); break;
    case NPY_I4: NPY_CONVERT(int32_t, v, out); break;
    case NPY_U1: NPY_CONVERT(uint8_t, v, out); break;
    default: break; /* callers check npy_is_integer first */
    }
}

void npy_write(jw *w, npy_dtype t, const void *data, const size_t *shape, size_t ndim)
{
    char h[600];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     t == NPY_F8 ? "<f8" : "<i8");
    size_t count = 1;
    for (size_t d = 0; d < ndim; d++) {
        n += snprintf(h + n, sizeof h - (size_t)n, "%zu%s", shape[d], ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
        count *= shape[d];
    }
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    /* Pad so that the data starts at a multiple of 64 bytes. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t hl = (size_t)n + pad + 1;
    pre[8] = (unsigned char)(hl & 0xff);
    pre[9] = (unsigned char)(hl >> 8);
    jw_raw(w, (const char *)pre, 10);
    jw_raw(w, h, (size_t)n);
    for (size_t i = 0; i < pad; i++)
        jw_raw(w, " ", 1);
    jw_raw(w, "\n", 1);
    jw_raw(w, data, count * 8);
}
