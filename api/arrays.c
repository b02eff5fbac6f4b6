/*
 * arrays.c — flat array fields (weights, counts, labels, targets, ...) as
 * doubles or int64s, from whichever source they came in: JSON, a fast
 * array (fastarray.c) or a .npy part (npy.c); and the element and limit
 * errors that tensor.c shares.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

bl_api_code api_over_limit(api_err *e, const char *name, size_t n, const char *limit_name,
                           size_t max)
{
    return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                    "%s has %zu entries, more than the server's %s limit of %zu", name, n,
                    limit_name, max);
}

bl_api_code api_bad_element(api_err *e, const char *path, json_t *x, const char *what)
{
    double d;
    if (api_number(x, &d))
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s = %.17g, but it must be %s", path, d,
                        what);
    return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be %s, not %s %s", path, what,
                    json_is_integer(x) || json_is_array(x) || json_is_object(x) ? "an" : "a",
                    api_type_name(x));
}

/* An element at path that holds a number that is not an integer. */
static bl_api_code not_an_integer(api_err *e, const char *path)
{
    return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                    "%s must be an integer (a JSON integer, without a decimal point or exponent)",
                    path);
}

/* A list of lists holding more than max class ids in all. */
static bl_api_code too_many_ids(api_err *e, const char *name, size_t total, const char *limit_name,
                                size_t max)
{
    return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                    "%s holds %zu class ids, more than the server's %s limit of %zu", name, total,
                    limit_name, max);
}

/* A .npy part as a flat array of count entries of a 1-D shape. */
static bl_api_code npy_flat(const api_value *v, const char *name, size_t max,
                            const char *limit_name, npy_view *nv, api_err *e)
{
    bl_api_code c = npy_parse(v->part->data, v->part->len, name, nv, e);
    if (c != BL_API_OK)
        return c;
    if (nv->ndim != 1)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s must be a 1-D array, but the .npy part has %zu dimensions", name,
                        nv->ndim);
    if (max && nv->count > max)
        return api_over_limit(e, name, nv->count, limit_name, max);
    return BL_API_OK;
}

/* The values of a flat array field from whichever source it came in (a
 * .npy part, a fast array, or JSON), as doubles, with *all_int telling
 * whether every value was an integer (JSON integer literal, integer
 * dtype). what says what an element must be, for the JSON type error. */
static bl_api_code flat_values(const api_value *av, const char *name, size_t max,
                               const char *limit_name, const char *what, double **out, size_t *n,
                               int *all_int, api_err *e)
{
    *out = NULL;
    *n = 0;
    size_t len;
    npy_view nv;
    const struct fast_array *fast = av->part ? NULL : api_fast_of(av->fa, av->json);
    if (av->part) {
        bl_api_code c = npy_flat(av, name, max, limit_name, &nv, e);
        if (c != BL_API_OK)
            return c;
        len = nv.count;
    } else if (fast) {
        len = api_fast_shape(av->fa, fast)[0];
    } else {
        if (!json_is_array(av->json))
            return api_bad_element(e, name, av->json,
                                   strcmp(what, "an integer") == 0 ? "an array of integers"
                                                                   : "an array of numbers");
        len = json_array_size(av->json);
    }
    if (max && len > max)
        return api_over_limit(e, name, len, limit_name, max);
    if (fast && fast->ndim > 1) {
        /* Nested where a flat array belongs: the JSON it replaced fails at
         * its first element, an array, or a flat fast array of its own (a
         * row of FAST_MIN numbers or more), which bad_element called "a
         * array". */
        char path[BL_API_FIELD_MAX];
        snprintf(path, sizeof path, "%s[0]", name);
        int row_was_fast = fast->ndim == 2 && api_fast_shape(av->fa, fast)[1] >= FAST_MIN;
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be %s, not %s array", path, what,
                        row_was_fast ? "a" : "an");
    }
    double *v = malloc((len ? len : 1) * sizeof *v);
    if (!v)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    if (av->part) {
        npy_to_doubles(&nv, v);
        *all_int = npy_is_integer(&nv);
    } else if (fast) {
        memcpy(v, av->fa->vals + fast->off, len * sizeof *v);
        *all_int = fast->all_integers;
    } else {
        *all_int = 1;
        for (size_t i = 0; i < len; i++) {
            json_t *x = json_array_get(av->json, i);
            if (!api_number(x, &v[i])) {
                char path[BL_API_FIELD_MAX];
                snprintf(path, sizeof path, "%s[%zu]", name, i);
                free(v);
                return api_bad_element(e, path, x, what);
            }
            if (!api_integer(x, &(int64_t){0}))
                *all_int = 0;
        }
    }
    *out = v;
    *n = len;
    return BL_API_OK;
}

/* The first value that is not finite (or < 0 when nonneg), as api_doubles
 * reports it. */
static bl_api_code check_doubles(const double *v, size_t n, const char *name, int nonneg,
                                 api_err *e)
{
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x) || (nonneg && x < 0)) {
            char path[BL_API_FIELD_MAX];
            snprintf(path, sizeof path, "%s[%zu]", name, i);
            return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s = %.17g, but it must be %s", path,
                            x, nonneg ? "a finite number >= 0" : "a finite number");
        }
    }
    return BL_API_OK;
}

bl_api_code api_doubles(const api_value *av, const char *name, int nonneg, size_t max,
                        const char *limit_name, double **out, size_t *n, api_err *e)
{
    int all_int;
    bl_api_code c = flat_values(av, name, max, limit_name, "a number", out, n, &all_int, e);
    if (c != BL_API_OK)
        return c;
    c = check_doubles(*out, *n, name, nonneg, e);
    if (c != BL_API_OK) {
        free(*out);
        *out = NULL;
    }
    return c;
}

bl_api_code api_doubles_scratch(const bl_api_config *cfg, const api_value *av, const char *name,
                                int nonneg, size_t max, const char *limit_name, double **out,
                                size_t *n, int *owned, api_err *e)
{
    npy_view nv;
    *owned = 1;
    if (!cfg->parts_writable || !av->part ||
        npy_parse(av->part->data, av->part->len, name, &nv, e) != BL_API_OK || nv.dtype != NPY_F8 ||
        nv.ndim != 1 || (max && nv.count > max) || nv.count == 0)
        return api_doubles(av, name, nonneg, max, limit_name, out, n, e); /* its errors */
    /* The data follows the .npy header (at least 10 bytes), so it can be
     * moved back onto an 8-byte boundary within the part. */
    unsigned char *data = (unsigned char *)(uintptr_t)nv.data;
    size_t shift = (uintptr_t)data % sizeof(double);
    if (shift) {
        memmove(data - shift, data, nv.count * sizeof(double));
        data -= shift;
    }
    double *v = (double *)(void *)data;
    bl_api_code c = check_doubles(v, nv.count, name, nonneg, e);
    if (c != BL_API_OK)
        return c;
    *out = v;
    *n = nv.count;
    *owned = 0;
    return BL_API_OK;
}

bl_api_code api_int64s(const api_value *av, const char *name, size_t max, const char *limit_name,
                       int64_t **out, size_t *n, api_err *e)
{
    double *v;
    int all_int;
    *out = NULL;
    bl_api_code c = flat_values(av, name, max, limit_name, "an integer", &v, n, &all_int, e);
    if (c != BL_API_OK)
        return c;
    if (!all_int) {
        /* The first element that is not an integer literal; with a .npy
         * part, the dtype itself. */
        if (av->part) {
            free(v);
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s must hold integers: send an int64, int32 or uint8 .npy", name);
        }
        size_t i = 0;
        const struct fast_array *fast = api_fast_of(av->fa, av->json);
        if (fast) {
            i = fast->first_real;
        } else {
            while (i + 1 < *n && api_integer(json_array_get(av->json, i), &(int64_t){0}))
                i++;
        }
        char path[BL_API_FIELD_MAX];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        free(v);
        return not_an_integer(e, path);
    }
    int64_t *iv = malloc((*n ? *n : 1) * sizeof *iv);
    if (!iv) {
        free(v);
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    }
    if (av->part) {
        npy_view nv;
        npy_parse(av->part->data, av->part->len, name, &nv, e); /* valid: read above */
        npy_to_int64(&nv, iv);
    } else if (!api_fast_of(av->fa, av->json)) {
        for (size_t i = 0; i < *n; i++)
            api_integer(json_array_get(av->json, i), &iv[i]); /* exact 64-bit values */
    } else {
        for (size_t i = 0; i < *n; i++)
            iv[i] = api_int64_of_double(v[i]);
    }
    free(v);
    *out = iv;
    return BL_API_OK;
}
/* ---- lists of lists ----------------------------------------------------- */

size_t api_array_ndim(const api_value *av)
{
    if (av->part) {
        npy_view v;
        api_err e;
        return npy_parse(av->part->data, av->part->len, "", &v, &e) == BL_API_OK ? v.ndim : 1;
    }
    size_t nd = 0;
    json_t *x = av->json;
    for (;;) {
        const struct fast_array *f = api_fast_of(av->fa, x);
        if (f)
            return nd + f->ndim;
        if (!json_is_array(x))
            return nd;
        nd++;
        if (json_array_size(x) == 0)
            return nd;
        x = json_array_get(x, 0);
    }
}

/* The lists of a rectangular list of lists that came as one fast array. */
static bl_api_code fast_lists(const api_value *av, const struct fast_array *fast, const char *name,
                              size_t max, const char *limit_name, int64_t **ids, size_t **offsets,
                              size_t *n, api_err *e)
{
    const size_t *shape = api_fast_shape(av->fa, fast);
    char path[BL_API_FIELD_MAX];
    if (fast->ndim != 2) {
        snprintf(path, sizeof path, fast->ndim == 1 ? "%s[0]" : "%s[0][0]", name);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be %s, not %s", path,
                        fast->ndim == 1 ? "an array of integers" : "an integer",
                        fast->ndim == 1 ? "a number" : "an array");
    }
    size_t rows = shape[0], cols = shape[1];
    if (max && rows > max)
        return api_over_limit(e, name, rows, limit_name, max);
    if (max && fast->len > max)
        return too_many_ids(e, name, fast->len, limit_name, max);
    if (!fast->all_integers) {
        snprintf(path, sizeof path, "%s[%zu][%zu]", name, fast->first_real / cols,
                 fast->first_real % cols);
        return not_an_integer(e, path);
    }
    *ids = malloc((fast->len ? fast->len : 1) * sizeof **ids);
    *offsets = malloc((rows + 1) * sizeof **offsets);
    if (!*ids || !*offsets)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    const double *v = av->fa->vals + fast->off;
    for (size_t k = 0; k < fast->len; k++)
        (*ids)[k] = api_int64_of_double(v[k]);
    for (size_t i = 0; i <= rows; i++)
        (*offsets)[i] = i * cols;
    *n = rows;
    return BL_API_OK;
}

bl_api_code api_int64_lists(const api_value *av, const char *name, size_t max,
                            const char *limit_name, int64_t **ids, size_t **offsets, size_t *n,
                            api_err *e)
{
    *ids = NULL;
    *offsets = NULL;
    *n = 0;
    if (av->part)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s cannot be sent as a .npy part: its lists may differ in length; send "
                        "it in the \"request\" JSON part, or send labels as a 2-D 0/1 integer "
                        ".npy (samples x classes)",
                        name);
    const struct fast_array *fast = api_fast_of(av->fa, av->json);
    if (fast)
        return fast_lists(av, fast, name, max, limit_name, ids, offsets, n, e);
    if (!json_is_array(av->json))
        return api_bad_element(e, name, av->json, "an array of arrays of integers");
    size_t rows = json_array_size(av->json), total = 0;
    if (max && rows > max)
        return api_over_limit(e, name, rows, limit_name, max);
    char path[BL_API_FIELD_MAX];
    for (size_t i = 0; i < rows; i++) { /* the lengths, and the type of every list */
        json_t *x = json_array_get(av->json, i);
        const struct fast_array *f = api_fast_of(av->fa, x);
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        if (f && f->ndim > 1)
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s[0] must be an integer, not an "
                            "array",
                            path);
        if (!f && !json_is_array(x))
            return api_bad_element(e, path, x, "an array of integers (class ids)");
        total += f ? f->len : json_array_size(x);
    }
    if (max && total > max)
        return too_many_ids(e, name, total, limit_name, max);
    *ids = malloc((total ? total : 1) * sizeof **ids);
    *offsets = malloc((rows + 1) * sizeof **offsets);
    if (!*ids || !*offsets)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    (*offsets)[0] = 0;
    for (size_t i = 0; i < rows; i++) {
        api_value v = {.json = json_array_get(av->json, i), .part = NULL, .fa = av->fa};
        int64_t *one;
        size_t len;
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        bl_api_code c = api_int64s(&v, path, 0, limit_name, &one, &len, e);
        if (c != BL_API_OK)
            return c;
        if (len)
            memcpy(*ids + (*offsets)[i], one, len * sizeof *one);
        free(one);
        (*offsets)[i + 1] = (*offsets)[i] + len;
    }
    *n = rows;
    return BL_API_OK;
}
