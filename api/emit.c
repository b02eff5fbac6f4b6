/*
 * emit.c — writes an answer (api_out) as JSON, as one .npy array, or as
 * multipart/form-data with a "response" JSON part and one .npy part per
 * array. Handlers describe their answer once; the format is chosen here,
 * so the binary and JSON paths carry bit for bit the same numbers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BOUNDARY "ballast-3f9a7c21d84b56e0-part"

static size_t answer_bound(const api_out *o);

static api_field_out *add(api_out *o, const char *name, ov_kind kind)
{
    /* API_MAX_OUT is more than any endpoint writes; an overflow is a bug
     * that drops the field rather than corrupting memory. */
    if (o->n == API_MAX_OUT)
        return &o->f[API_MAX_OUT - 1];
    api_field_out *f = &o->f[o->n++];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->kind = kind;
    return f;
}

void out_string(api_out *o, const char *name, const char *s) { add(o, name, OV_STRING)->s = s; }
void out_uint(api_out *o, const char *name, uint64_t u) { add(o, name, OV_UINT)->u = u; }
void out_double(api_out *o, const char *name, double d) { add(o, name, OV_DOUBLE)->d = d; }

void out_tensor(api_out *o, const char *name, const double *v, const size_t *shape, size_t ndim)
{
    api_field_out *f = add(o, name, OV_TENSOR);
    f->dv = v;
    f->ndim = ndim;
    if (ndim)
        memcpy(f->shape, shape, ndim * sizeof *shape);
}

void out_doubles(api_out *o, const char *name, const double *v, size_t n)
{
    out_tensor(o, name, v, &n, 1);
}

void out_int64s(api_out *o, const char *name, const int64_t *v, size_t n)
{
    api_field_out *f = add(o, name, OV_INT64S);
    f->iv = v;
    f->shape[0] = n;
    f->ndim = 1;
}

int64_t *out_int64s_direct(api_out *o, const char *name, size_t n)
{
    if (o->format != BL_API_NPY || o->n != 0 || o->w.len != 0)
        return NULL;
    api_field_out *f = add(o, name, OV_INT64S);
    f->shape[0] = n;
    f->ndim = 1;
    size_t bound = answer_bound(o);
    char *p = NULL;
    if (!o->max_output || bound <= o->max_output) {
        npy_write_header(&o->w, NPY_I8, f->shape, 1);
        p = jw_reserve(&o->w, n * sizeof(int64_t)); /* n * 8 <= bound: no overflow */
    }
    /* the header is a multiple of 64 bytes and the buffer malloc's */
    if (!p || (uintptr_t)p % sizeof(int64_t) != 0) {
        o->n = 0;
        jw_free(&o->w);
        jw_init(&o->w);
        return NULL;
    }
    f->iv = (const int64_t *)(void *)p;
    f->direct = 1;
    o->primary = 0;
    return (int64_t *)(void *)p;
}

void out_counts(api_out *o, const char *name, const double *v, size_t n)
{
    api_field_out *f = add(o, name, OV_COUNTS);
    f->dv = v;
    f->shape[0] = n;
    f->ndim = 1;
}

void out_keyed(api_out *o, const char *name, json_t *keys, const double *v, int counts)
{
    api_field_out *f = add(o, name, OV_KEYED);
    f->keys = keys;
    f->dv = v;
    f->keyed_counts = counts;
}

void out_primary(api_out *o) { o->primary = (int)o->n - 1; }

static size_t elements(const api_field_out *f)
{
    size_t n = 1;
    for (size_t d = 0; d < f->ndim; d++)
        n *= f->shape[d];
    return n;
}

static int is_array(const api_field_out *f)
{
    return f->kind == OV_TENSOR || f->kind == OV_INT64S || f->kind == OV_COUNTS;
}

/* True when a real of the answer is NaN or infinite. */
static int has_nonfinite(const api_out *o)
{
    for (size_t i = 0; i < o->n; i++) {
        const api_field_out *f = &o->f[i];
        if (f->kind == OV_DOUBLE && !isfinite(f->d))
            return 1;
        if (f->kind == OV_TENSOR || f->kind == OV_COUNTS) {
            size_t n = elements(f);
            for (size_t k = 0; k < n; k++)
                if (!isfinite(f->dv[k]))
                    return 1;
        }
        if (f->kind == OV_KEYED) {
            size_t n = json_object_size(f->keys);
            for (size_t k = 0; k < n; k++)
                if (!isfinite(f->dv[k]))
                    return 1;
        }
    }
    return 0;
}

static void json_value(jw *w, const api_field_out *f)
{
    switch (f->kind) {
    case OV_STRING:
        jw_str(w, f->s);
        break;
    case OV_UINT:
        jw_uint(w, f->u);
        break;
    case OV_DOUBLE:
        jw_double(w, f->d);
        break;
    case OV_TENSOR:
        jw_tensor(w, f->dv, f->shape, f->ndim);
        break;
    case OV_INT64S:
        jw_int64s(w, f->iv, f->shape[0]);
        break;
    case OV_COUNTS:
        jw_raw(w, "[", 1);
        for (size_t i = 0; i < f->shape[0]; i++) {
            if (i)
                jw_raw(w, ",", 1);
            jw_count(w, f->dv[i]);
        }
        jw_raw(w, "]", 1);
        break;
    case OV_KEYED:
        jw_keyed(w, f->keys, f->dv, f->keyed_counts);
        break;
    }
}

/* The JSON document of the fields (arrays too unless skip_arrays). */
static void json_doc(api_out *o, jw *w, int skip_arrays, int nonfinite)
{
    jw_raw(w, "{", 1);
    for (size_t i = 0; i < o->n; i++) {
        if (skip_arrays && is_array(&o->f[i]))
            continue;
        jw_key(w, o->f[i].name);
        json_value(w, &o->f[i]);
    }
    if (nonfinite) {
        jw_key(w, "warnings");
        jw_raw(w, "[", 1);
        jw_str(w, o->warning ? o->warning : "some results are not finite");
        jw_raw(w, "]", 1);
    }
    jw_raw(w, "}", 1);
}

static void npy_part(jw *w, const api_field_out *f)
{
    if (f->kind == OV_INT64S)
        npy_write(w, NPY_I8, f->iv, f->shape, f->ndim);
    else
        npy_write(w, NPY_F8, f->dv, f->shape, f->ndim);
}

static void meta(api_out *o, const char *name, const char *fmt_value)
{
    bl_api_result *r = o->res;
    if (r->nmeta == BL_API_MAX_META)
        return;
    snprintf(r->meta[r->nmeta].name, sizeof r->meta[0].name, "%s", name);
    snprintf(r->meta[r->nmeta].value, sizeof r->meta[0].value, "%s", fmt_value);
    r->nmeta++;
}

/* ---- the size of an answer, bounded before it is written ---------------------- */

/* Saturating arithmetic: a bound past SIZE_MAX stays SIZE_MAX. */
static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t sat_mul(size_t a, size_t b) { return a && b > SIZE_MAX / a ? SIZE_MAX : a * b; }

/* The most bytes a real or an integer takes as JSON with its comma:
 * "-2.2250738585072014e-308," is 25. */
#define JSON_NUMBER_MAX 25
/* A .npy header and a multipart part's headers, at most. */
#define PART_OVERHEAD 512

/* Bytes of the brackets and commas of a nested array of this shape: each
 * of the d0 + d0*d1 + ... sub-arrays costs "[]," — counted even when a
 * later dimension is 0, so that (2^60, 0) is seen as the 2^61 bytes it
 * would write. */
static size_t nesting_bytes(const size_t *shape, size_t ndim)
{
    size_t nodes = 1, total = 3;
    for (size_t d = 0; d + 1 < ndim; d++) {
        nodes = sat_mul(nodes, shape[d]);
        total = sat_add(total, sat_mul(nodes, 3));
    }
    return total;
}

static size_t sat_elements(const api_field_out *f)
{
    size_t n = 1;
    for (size_t d = 0; d < f->ndim; d++)
        n = sat_mul(n, f->shape[d]);
    return n;
}

/* An upper bound of the bytes api_emit writes for o (saturating). */
static size_t answer_bound(const api_out *o)
{
    size_t total = 1024; /* braces, warnings, the multipart frame */
    for (size_t i = 0; i < o->n; i++) {
        const api_field_out *f = &o->f[i];
        size_t b = sat_add(strlen(f->name) * 2, 64);
        if (f->kind == OV_STRING)
            b = sat_add(b, 6 * strlen(f->s)); /* \u00XX escapes at worst */
        else if (f->kind == OV_KEYED) {
            size_t n = json_object_size(f->keys);
            const char *k;
            json_t *v;
            json_object_foreach(f->keys, k, v) b = sat_add(b, 6 * strlen(k) + 4);
            b = sat_add(b, sat_mul(n, JSON_NUMBER_MAX));
        } else if (is_array(f)) {
            size_t n = sat_elements(f);
            size_t as_json = sat_add(nesting_bytes(f->shape, f->ndim), sat_mul(n, JSON_NUMBER_MAX));
            size_t as_npy = sat_add(sat_mul(n, 8), PART_OVERHEAD);
            b = sat_add(b, o->format == BL_API_JSON ? as_json : as_npy);
        }
        total = sat_add(total, b);
    }
    return total;
}

bl_api_code api_answer_room(const api_out *o, size_t numbers, api_err *e)
{
    size_t per = o->format == BL_API_JSON ? JSON_NUMBER_MAX : 8; /* a .npy: 8 bytes */
    size_t bound = sat_add(answer_bound(o), sat_mul(numbers, per));
    if (o->max_output && bound > o->max_output)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, NULL,
                        "the answer would take at least %zu bytes, more than the server's "
                        "max-output limit of %zu bytes; ask for less",
                        bound, o->max_output);
    return BL_API_OK;
}

bl_api_code api_emit(api_out *o, api_err *e)
{
    size_t bound = answer_bound(o);
    if (o->max_output && bound > o->max_output)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, NULL,
                        "the answer could take up to %zu bytes, more than the server's "
                        "max-output limit of %zu bytes; ask for less, or for "
                        "application/x-npy (8 bytes a number)",
                        bound, o->max_output);
    int nonfinite = has_nonfinite(o);
    switch (o->format) {
    case BL_API_JSON:
        snprintf(o->res->content_type, sizeof o->res->content_type, "application/json");
        json_doc(o, &o->w, 0, nonfinite);
        jw_raw(&o->w, "\n", 1);
        return BL_API_OK;
    case BL_API_NPY: {
        if (o->primary < 0)
            return api_fail(e, BL_API_NOT_ACCEPTABLE, NULL,
                            "this answer is not a single array, so it cannot be sent as "
                            "application/x-npy; ask for application/json or multipart/form-data");
        snprintf(o->res->content_type, sizeof o->res->content_type, "application/x-npy");
        for (size_t i = 0; i < o->n; i++) {
            const api_field_out *f = &o->f[i];
            char v[BL_API_META_VALUE_MAX];
            if (f->kind == OV_STRING)
                snprintf(v, sizeof v, "%s", f->s);
            else if (f->kind == OV_UINT)
                snprintf(v, sizeof v, "%llu", (unsigned long long)f->u);
            else if (f->kind == OV_DOUBLE)
                snprintf(v, sizeof v, "%.17g", f->d);
            else
                continue;
            meta(o, f->name, v);
        }
        if (nonfinite)
            meta(o, "warnings", o->warning ? o->warning : "some results are not finite");
        if (!o->f[o->primary].direct)
            npy_part(&o->w, &o->f[o->primary]);
        return BL_API_OK;
    }
    case BL_API_MULTIPART:
        snprintf(o->res->content_type, sizeof o->res->content_type,
                 "multipart/form-data; boundary=" BOUNDARY);
        jw_lit(&o->w, "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"response\"\r\n"
                      "Content-Type: application/json\r\n\r\n");
        json_doc(o, &o->w, 1, nonfinite);
        for (size_t i = 0; i < o->n; i++) {
            const api_field_out *f = &o->f[i];
            if (!is_array(f))
                continue;
            jw_lit(&o->w, "\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"");
            jw_lit(&o->w, f->name);
            jw_lit(&o->w, "\"; filename=\"");
            jw_lit(&o->w, f->name);
            jw_lit(&o->w, ".npy\"\r\nContent-Type: application/x-npy\r\n\r\n");
            npy_part(&o->w, f);
        }
        jw_lit(&o->w, "\r\n--" BOUNDARY "--\r\n");
        return BL_API_OK;
    }
    return api_fail(e, BL_API_INTERNAL, NULL, "unknown response format");
}
