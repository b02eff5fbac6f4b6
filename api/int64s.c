/*
 * int64s.c — integers exactly as they were sent.
 *
 * api_tensor holds doubles, which hold integers exactly only up to 2^53: a
 * class index 9007199254740993 would become ...992, and could then equal an
 * ignore_index it is not. Integer fields are therefore read again from
 * their source, as int64: jansson's integers (exact), the digits of a big
 * integer that jansson could not take (parse_doc quotes them), or an
 * integer .npy. The fast arrays of fastarray.c never hold an integer beyond
 * 2^53 (such an array is left to jansson), so their doubles are exact.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int api_int64_exact(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    const char *s = api_big_integer(v);
    if (!s)
        return 0;
    size_t len = strlen(s);
    num_value nv;
    if (num_parse(s, s + len, &nv) == len && num_int64(&nv, out))
        return 1;
    *out = s[0] == '-' ? INT64_MIN : INT64_MAX;
    return -1;
}

int64_t api_int64_of_double(double x)
{
    return x >= 0x1p63 ? INT64_MAX : x < -0x1p63 ? INT64_MIN : (int64_t)x;
}

/* Copies the integers of v, at depth `depth` of t's shape, to out from *at
 * on, in C order. */
static bl_api_code fill(json_t *v, size_t depth, const api_tensor *t, const char *name, size_t *at,
                        int64_t *out, api_err *e)
{
    if (depth < t->ndim && api_is_placeholder(v) && !api_big_integer(v)) {
        /* a fast array: the rest of the shape, in t's doubles */
        size_t n = 1;
        for (size_t d = depth; d < t->ndim; d++)
            n *= t->shape[d];
        for (size_t k = 0; k < n; k++)
            out[*at + k] = api_int64_of_double(t->data[*at + k]);
        *at += n;
        return BL_API_OK;
    }
    if (depth < t->ndim) {
        for (size_t i = 0; i < t->shape[depth]; i++) {
            bl_api_code c = fill(json_array_get(v, i), depth + 1, t, name, at, out, e);
            if (c != BL_API_OK)
                return c;
        }
        return BL_API_OK;
    }
    int64_t x = 0;
    int r = api_int64_exact(v, &x);
    if (r < 0) {
        char path[BL_API_FIELD_MAX];
        api_path(path, sizeof path, name, (int64_t)*at, t->shape, t->ndim);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                        "%s = %.40s is out of bounds: it must be a 64-bit integer", path,
                        api_big_integer(v));
    }
    out[*at] = r > 0 ? x : api_int64_of_double(t->data[*at]); /* r == 0: not reached */
    (*at)++;
    return BL_API_OK;
}

bl_api_code api_int64_tensor(const api_value *av, const api_tensor *t, const char *name,
                             int64_t *out, api_err *e)
{
    if (av->part) {
        npy_view nv;
        bl_api_code c = npy_parse(av->part->data, av->part->len, name, &nv, e);
        if (c != BL_API_OK)
            return c; /* read before: not reached */
        if (npy_is_integer(&nv)) {
            npy_to_int64(&nv, out);
            return BL_API_OK;
        }
        for (size_t i = 0; i < t->count; i++) /* integral reals: exact below 2^53 */
            out[i] = api_int64_of_double(t->data[i]);
        return BL_API_OK;
    }
    size_t at = 0;
    return fill(av->json, 0, t, name, &at, out, e);
}
