/*
 * tensor.c — nested array fields (logits, probability targets): a
 * rectangular array of any depth up to BL_MAX_DIMS, from JSON (with fast
 * arrays as its last dimensions, fastarray.c) or a .npy part.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

void api_tensor_free(api_tensor *t)
{
    free(t->data);
    t->data = NULL;
}

/* The error for a fast array at depth whose shape is not t->shape[depth..]:
 * the one the JSON it replaced gets from tensor_fill, which walks its first
 * elements ([0][0]...) down to the first that does not fit. */
static bl_api_code fast_mismatch(const api_arrays *fa, const struct fast_array *fast, size_t depth,
                                 const char *name, char *path, size_t pathlen, const api_tensor *t,
                                 api_err *e)
{
    const size_t *fs = api_fast_shape(fa, fast);
    for (size_t j = 0;; j++) {
        path[pathlen] = '\0';
        if (depth + j == t->ndim) /* an array where a number belongs */
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s must be a finite number, not an array", path);
        if (j == fast->ndim) { /* a number where an array belongs */
            int is_int = fast->all_integers || fast->first_real > 0; /* element 0's literal */
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s must be an array of length %zu (%s is ragged), not %s", path,
                            t->shape[depth + j], name, is_int ? "an integer" : "a real");
        }
        if (fs[j] != t->shape[depth + j])
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s has length %zu where %zu was expected: %s is ragged", path, fs[j],
                            t->shape[depth + j], name);
        int m = snprintf(path + pathlen, BL_API_FIELD_MAX - pathlen, "[0]");
        pathlen += m > 0 && (size_t)m < BL_API_FIELD_MAX - pathlen ? (size_t)m : 0;
    }
}

/* Copies the leaves of v, which must have shape t->shape[depth..], into
 * t->data from t->count on. path (BL_API_FIELD_MAX bytes) holds v's path,
 * pathlen bytes of it. */
static bl_api_code tensor_fill(json_t *v, size_t depth, const char *name, char *path,
                               size_t pathlen, api_tensor *t, const api_arrays *fa, api_err *e)
{
    const struct fast_array *fast = api_fast_of(fa, v);
    if (fast && depth + fast->ndim == t->ndim &&
        memcmp(api_fast_shape(fa, fast), t->shape + depth, fast->ndim * sizeof t->shape[0]) == 0) {
        memcpy(t->data + t->count, fa->vals + fast->off, fast->len * sizeof *t->data);
        t->count += fast->len;
        t->all_integers &= fast->all_integers;
        return BL_API_OK;
    }
    if (fast)
        return fast_mismatch(fa, fast, depth, name, path, pathlen, t, e);
    if (depth == t->ndim) {
        double d;
        if (!api_number(v, &d) || !isfinite(d)) {
            path[pathlen] = '\0';
            return api_bad_element(e, path, v, "a finite number");
        }
        if (!api_integer(v, &(int64_t){0}))
            t->all_integers = 0;
        t->data[t->count++] = d;
        return BL_API_OK;
    }
    if (!json_is_array(v) || json_array_size(v) != t->shape[depth]) {
        path[pathlen] = '\0';
        if (!json_is_array(v))
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s must be an array of length %zu (%s is ragged), not %s %s", path,
                            t->shape[depth], name,
                            json_is_integer(v) || json_is_object(v) ? "an" : "a", api_type_name(v));
        return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                        "%s has length %zu where %zu was expected: %s is ragged", path,
                        json_array_size(v), t->shape[depth], name);
    }
    for (size_t i = 0; i < t->shape[depth]; i++) {
        int m = snprintf(path + pathlen, BL_API_FIELD_MAX - pathlen, "[%zu]", i);
        size_t next = pathlen + (m > 0 && (size_t)m < BL_API_FIELD_MAX - pathlen ? (size_t)m : 0);
        bl_api_code c = tensor_fill(json_array_get(v, i), depth + 1, name, path, next, t, fa, e);
        if (c != BL_API_OK)
            return c;
    }
    return BL_API_OK;
}

/* A tensor from a .npy part: shape from its header, values as doubles. */
static bl_api_code tensor_from_npy(const api_value *av, const char *name, size_t max,
                                   const char *limit_name, api_tensor *t, api_err *e)
{
    npy_view nv;
    bl_api_code c = npy_parse(av->part->data, av->part->len, name, &nv, e);
    if (c != BL_API_OK)
        return c;
    if (max && nv.count > max)
        return api_over_limit(e, name, nv.count, limit_name, max);
    /* A zero dimension empties the tensor, not its JSON form: (N, 0) is N
     * empty arrays. A zero-free shape within the limit writes at most
     * max values per dimension (npy_nodes), so that is the bound. */
    size_t dims = nv.ndim ? nv.ndim : 1, nodes = npy_nodes(&nv);
    size_t cap = max > SIZE_MAX / BL_MAX_DIMS ? SIZE_MAX : max * dims;
    if (max && nodes > cap)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                        "%s's shape would be written as %zu JSON arrays and numbers, more than "
                        "the %zu accepted (%zu dimensions times the server's %s limit of %zu)",
                        name, nodes, cap, dims, limit_name, max);
    t->data = malloc((nv.count ? nv.count : 1) * sizeof *t->data);
    if (!t->data)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    npy_to_doubles(&nv, t->data);
    memcpy(t->shape, nv.shape, sizeof t->shape);
    t->ndim = nv.ndim;
    t->count = nv.count;
    t->all_integers = npy_is_integer(&nv);
    if (!t->all_integers)
        for (size_t i = 0; i < nv.count; i++)
            if (!isfinite(t->data[i])) {
                char path[BL_API_FIELD_MAX];
                api_path(path, sizeof path, name, (int64_t)i, t->shape, t->ndim);
                api_fail(e, BL_API_INVALID_ARGUMENT, path,
                         "%s = %g, but it must be a finite number", path, t->data[i]);
                api_tensor_free(t);
                return BL_API_INVALID_ARGUMENT;
            }
    return BL_API_OK;
}

bl_api_code api_tensor_decode(const api_value *av, const char *name, size_t max,
                              const char *limit_name, api_tensor *t, api_err *e)
{
    memset(t, 0, sizeof *t);
    t->all_integers = 1;
    if (av->part)
        return tensor_from_npy(av, name, max, limit_name, t, e);
    json_t *v = av->json;
    const api_arrays *fa = av->fa;
    /* The shape is read along the first elements; every other row must
     * match it, which tensor_fill checks. */
    size_t count = 1;
    json_t *x = v;
    while (json_is_array(x) || api_fast_of(fa, x)) {
        const struct fast_array *fast = api_fast_of(fa, x);
        if (fast) { /* numbers, flat or nested: the last dimensions */
            const size_t *fs = api_fast_shape(fa, fast);
            for (size_t k = 0; k < fast->ndim; k++) {
                if (t->ndim == BL_MAX_DIMS)
                    return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                                    "%s has more than %d dimensions", name, BL_MAX_DIMS);
                t->shape[t->ndim++] = fs[k];
                if (count > SIZE_MAX / fs[k])
                    return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                                    "%s's shape has more elements than the server's %s limit "
                                    "of %zu",
                                    name, limit_name, max);
                count *= fs[k];
            }
            break;
        }
        if (t->ndim == BL_MAX_DIMS)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s has more than %d dimensions",
                            name, BL_MAX_DIMS);
        size_t len = json_array_size(x);
        t->shape[t->ndim++] = len;
        if (len && count > SIZE_MAX / len)
            return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                            "%s's shape has more elements than the server's %s limit of %zu", name,
                            limit_name, max);
        count *= len;
        if (len == 0)
            break;
        x = json_array_get(x, 0);
    }
    if (max && count > max)
        return api_over_limit(e, name, count, limit_name, max);
    t->data = malloc((count ? count : 1) * sizeof *t->data);
    if (!t->data)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    char path[BL_API_FIELD_MAX];
    snprintf(path, sizeof path, "%s", name);
    bl_api_code c = tensor_fill(v, 0, name, path, strlen(path), t, fa, e);
    if (c != BL_API_OK)
        api_tensor_free(t);
    return c;
}
