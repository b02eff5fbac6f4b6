/*
 * decode.c — from request bytes to checked C values.
 *
 * Parsing is jansson's, strict: duplicate keys, invalid UTF-8 and trailing
 * garbage are errors. jansson's integers are 64-bit signed, but a /sample
 * seed may be any integer in [0, 2^64); so when jansson reports an integer
 * too big for it, the body is parsed once more with every such literal
 * turned into a placeholder string, "\u0000#<digits>", which api_number()
 * and api_integer() read back exactly. Ordinary requests never pay for this.
 *
 * The scalar fields of a request are decoded by its endpoint's form in
 * fields.c; the arrays (flat, nested, .npy) here.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bl_api_code api_fail(api_err *e, bl_api_code code, const char *field, const char *fmt, ...)
{
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void api_path(char *buf, size_t size, const char *name, int64_t flat, const size_t *shape,
              size_t ndim)
{
    int n = snprintf(buf, size, "%s", name);
    if (flat < 0 || n < 0 || (size_t)n >= size)
        return;
    if (!shape) {
        snprintf(buf + n, size - (size_t)n, "[%" PRId64 "]", flat);
        return;
    }
    size_t idx[BL_MAX_DIMS];
    uint64_t rest = (uint64_t)flat;
    for (size_t d = ndim; d-- > 0;) {
        idx[d] = shape[d] ? rest % shape[d] : 0;
        rest = shape[d] ? rest / shape[d] : 0;
    }
    for (size_t d = 0; d < ndim && (size_t)n < size; d++) {
        int m = snprintf(buf + n, size - (size_t)n, "[%zu]", idx[d]);
        if (m < 0)
            return;
        n += m;
    }
}

bl_api_code api_from_lib(api_err *e, const bl_error *le, const size_t *shape, size_t ndim)
{
    bl_api_code code = le->code == BL_ENOMEM   ? BL_API_UNAVAILABLE
                       : le->code == BL_ELIMIT ? BL_API_LIMIT_EXCEEDED
                                               : BL_API_INVALID_ARGUMENT;
    char field[160] = "";
    if (le->arg)
        api_path(field, sizeof field, le->arg, le->index, shape, ndim);
    return api_fail(e, code, le->arg ? field : NULL, "%s", le->message);
}

/* ---- parsing ---------------------------------------------------------- */

#define BIG_PREFIX "\\u0000#"

static int is_big_placeholder(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 2 && json_string_value(v)[0] == '\0' &&
           json_string_value(v)[1] == '#';
}

/* The bytes of the JSON string literal at p (p[0] == '"') through its
 * closing quote, or to end when it is unterminated (jansson reports that).
 * *nul, when nul is not NULL, is set if the string holds a \\u0000 escape. */
static size_t string_span(const char *p, const char *end, int *nul)
{
    const char *q = p + 1;
    while (q < end && *q != '"') {
        if (*q == '\\' && q + 1 < end) {
            if (nul && q[1] == 'u' && end - q >= 6 && memcmp(q + 2, "0000", 4) == 0)
                *nul = 1;
            q += 2;
        } else {
            q++;
        }
    }
    return (size_t)((q < end ? q + 1 : end) - p);
}

/* Copies body with every integer literal of 19 or more digits quoted as a
 * placeholder. Returns a malloc'd buffer, or NULL without memory. */
static char *quote_big_integers(const char *body, size_t len, size_t *outlen)
{
    /* Each literal grows by at most 9 bytes and has at least 19. */
    size_t cap = len + len / 2 + 16;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char ch = body[i];
        if (ch == '"') {
            size_t n = string_span(body + i, body + len, NULL);
            memcpy(out + o, body + i, n);
            o += n;
            i += n;
            continue;
        }
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t j = i + (ch == '-'), digits = 0, is_int = 1;
            while (j < len && strchr("0123456789.eE+-", body[j]) && body[j]) {
                if (body[j] >= '0' && body[j] <= '9')
                    digits++;
                else
                    is_int = 0;
                j++;
            }
            /* A leading zero ("0000000000000000036") is no JSON number: it
             * stays as it is, for jansson to refuse as invalid JSON. */
            int leading_zero = body[i + (ch == '-')] == '0' && digits > 1;
            if (is_int && digits >= 19 && !leading_zero) {
                size_t pre = strlen(BIG_PREFIX);
                out[o++] = '"';
                memcpy(out + o, BIG_PREFIX, pre);
                o += pre;
                memcpy(out + o, body + i, j - i);
                o += j - i;
                out[o++] = '"';
            } else {
                memcpy(out + o, body + i, j - i);
                o += j - i;
            }
            i = j;
            continue;
        }
        out[o++] = ch;
        i++;
    }
    *outlen = o;
    return out;
}

/* ---- fast number arrays --------------------------------------------------

   jansson makes one json_t per number, which dominates the cost of a large
   request. So before jansson sees the text, every array of at least
   FAST_MIN plain numbers is parsed here (numparse.c) into one buffer of
   doubles and replaced by a placeholder string "\u0000@<index>": a flat
   array, or a nested one up to BL_MAX_DIMS deep when it is rectangular (its
   shape checked as it is read), so that logits (N, C, d1, ...) and
   probability targets take one pass and no jansson tree. Only what is
   certainly valid JSON is taken: a number must match the JSON grammar, and
   a real that overflows (1e400) is left for jansson to refuse. Integers
   are read as doubles, exact up to 2^53; an array of integers only with
   one beyond is left to jansson, so that integer fields (labels, targets)
   stay exact.

   Anything else (ragged, empty, a non-number inside) leaves the array to
   jansson, and inside it only flat arrays are taken, as before nested ones
   were: there the decoder sees the same JSON as ever, so errors and their
   paths are unchanged. A nested array taken whole reads as the JSON it
   replaces would have (flat_values, api_tensor_decode): its rows shorter
   than FAST_MIN, which jansson used to read, give an integer "-0" as 0
   (jansson's integers have no sign of zero; rows of FAST_MIN or more keep
   -0.0, as they always did), and one with an integer beyond int64 is not
   taken (see take_array). A text that fails to parse is parsed again with
   flat arrays only, for the error and position of before. */

#define FAST_MIN 16
#define FAST_PREFIX "\\u0000@"

void api_arrays_free(api_arrays *fa)
{
    free(fa->vals);
    free(fa->arr);
    free(fa->dims);
    memset(fa, 0, sizeof *fa);
}

/* Whether the scanner before numparse.c took the literal [p, p + n) by
 * Clinger's path: at most 19 digits (a fraction's leading zeros counted)
 * worth less than 2^53, and a power of ten within 10^±22 (the exponent read
 * up to 100000). That was its only way to take a literal of 64 bytes or
 * more (the others went through a 64-byte strtod buffer); kept, so that
 * the arrays taken here are exactly those taken before. */
static int was_clinger(const char *p, size_t n)
{
    const char *q = p + (*p == '-'), *end = p + n;
    uint64_t mant = 0;
    int digits = 0, exp = 0;
    if (*q == '0')
        q++;
    else
        for (; q < end && *q >= '0' && *q <= '9'; q++, digits++)
            mant = digits < 19 ? mant * 10 + (uint64_t)(*q - '0') : mant;
    if (q < end && *q == '.')
        for (q++; q < end && *q >= '0' && *q <= '9'; q++, digits++, exp--)
            mant = digits < 19 ? mant * 10 + (uint64_t)(*q - '0') : mant;
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        int eneg = q < end && *q == '-', e = 0;
        q += q < end && (*q == '+' || *q == '-');
        for (; q < end && *q >= '0' && *q <= '9'; q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
        exp += eneg ? -e : e;
    }
    return digits <= 19 && mant < (UINT64_C(1) << 53) && exp >= -22 && exp <= 22;
}

/* Scans one JSON number at p (< end). Returns the bytes used, 0 if there
 * is none or it is one for jansson. *is_int tells integer literals, *big
 * those beyond int64 (jansson's integers). The value is correctly rounded
 * (numparse.c), as jansson's strtod would have it. */
static size_t scan_number(const char *p, const char *end, double *out, int *is_int, int *big)
{
    num_value v;
    size_t n = num_parse(p, end, &v);
    /* A real that overflows is jansson's to refuse; see was_clinger. */
    if (!n || isinf(v.value) || (n >= 64 && !was_clinger(p, n)))
        return 0;
    *out = v.value;
    *is_int = v.integral;
    *big = v.integral && !num_int64(&v, &(int64_t){0});
    return n;
}

static int fa_reserve(api_arrays *fa, size_t more)
{
    if (fa->cap - fa->nvals >= more)
        return 1;
    size_t cap = fa->cap ? fa->cap : 1024;
    while (cap - fa->nvals < more)
        cap *= 2;
    double *v = realloc(fa->vals, cap * sizeof *v);
    if (!v)
        return 0;
    fa->vals = v;
    fa->cap = cap;
    return 1;
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Tries to take the array starting at p ('['), flat or nested up to
 * max_ndim deep: numbers at one depth only, every array at a depth as long
 * as the first there, none empty, FAST_MIN numbers or more. Returns the
 * bytes it spans and records it in fa, or 0 to leave it to jansson (also
 * without memory), fa then as it was. */
static size_t take_array(const char *p, const char *end, api_arrays *fa, size_t max_ndim)
{
    const char *q = p + 1;
    size_t start = fa->nvals, first_real = 0;
    size_t shape[BL_MAX_DIMS]; /* shape[d]: 0 until an array at depth d closed */
    size_t count[BL_MAX_DIMS]; /* elements so far of the open array at depth d */
    size_t ndim = 0;           /* once a number is seen: its depth + 1 */
    size_t d = 0, deepest = 0; /* the innermost open array's depth; the deepest yet */
    unsigned negzero = 0;      /* bit i: the open row's element i is an integer -0 */
    int bigint = 0;            /* the open row holds an integer beyond int64 */
    int inexact = 0;           /* an integer of 2^53 or more: a double may round it */
    int all_int = 1;
    assert(max_ndim >= 1 && max_ndim <= BL_MAX_DIMS);
    shape[0] = count[0] = 0;
    for (;;) { /* at a value */
        while (q < end && is_ws(*q))
            q++;
        if (q < end && *q == '[') {
            if (d + 1 >= max_ndim || (ndim && d + 1 >= ndim))
                goto leave;
            if (++d > deepest)
                shape[deepest = d] = 0;
            count[d] = 0;
            negzero = 0;
            bigint = 0;
            q++;
            continue;
        }
        if (ndim == 0)
            ndim = d + 1;
        else if (d + 1 != ndim)
            goto leave;
        double v;
        int is_int, big;
        size_t n = q < end ? scan_number(q, end, &v, &is_int, &big) : 0;
        if (!n || (fa->nvals == fa->cap && !fa_reserve(fa, 1)))
            goto leave;
        bigint |= big;
        inexact |= is_int && fabs(v) >= 0x1p53;
        if (is_int && v == 0 && signbit(v) && count[d] < FAST_MIN)
            negzero |= 1u << count[d];
        if (all_int && !is_int)
            first_real = fa->nvals - start;
        all_int &= is_int;
        fa->vals[fa->nvals++] = v;
        q += n;
        for (;;) { /* after a value: a comma, or the end of arrays */
            count[d]++;
            while (q < end && is_ws(*q))
                q++;
            if (q < end && *q == ',') {
                q++;
                break;
            }
            if (q == end || *q != ']')
                goto leave;
            q++;
            if (!shape[d])
                shape[d] = count[d];
            else if (shape[d] != count[d])
                goto leave;
            if (d + 1 == ndim && count[d] < FAST_MIN) {
                /* A row jansson read before: see above. An integer beyond
                 * int64 made it reparse the whole text with big integers
                 * quoted (parse_doc), other fields' too: leave it that. */
                if (bigint)
                    goto leave;
                for (size_t i = 0; negzero && i < count[d]; i++)
                    if ((negzero >> i) & 1)
                        fa->vals[fa->nvals - count[d] + i] = 0;
                negzero = 0;
            }
            if (d == 0)
                goto taken;
            d--;
        }
    }
taken:;
    size_t len = fa->nvals - start;
    /* Integers only, one of them beyond 2^53: left to jansson, which keeps
     * them exact (an int64, or a quoted big integer: parse_doc), so that
     * class indices stay int64 end to end (api_int64_tensor). */
    if (len < FAST_MIN || (all_int && inexact))
        goto leave;
    if (fa->narr == fa->arr_cap) {
        size_t cap = fa->arr_cap ? fa->arr_cap * 2 : 16;
        struct fast_array *a = realloc(fa->arr, cap * sizeof *a);
        if (!a)
            goto leave;
        fa->arr = a;
        fa->arr_cap = cap;
    }
    if (ndim > 1 && fa->dims_cap - fa->ndims < ndim) {
        size_t cap = fa->dims_cap ? fa->dims_cap * 2 : 64;
        size_t *dims = realloc(fa->dims, cap * sizeof *dims);
        if (!dims)
            goto leave;
        fa->dims = dims;
        fa->dims_cap = cap;
    }
    struct fast_array *a = &fa->arr[fa->narr++];
    a->off = start;
    a->len = len;
    a->all_integers = all_int;
    a->first_real = first_real;
    a->ndim = ndim;
    a->dims = 0;
    if (ndim > 1) {
        a->dims = fa->ndims;
        memcpy(fa->dims + fa->ndims, shape, ndim * sizeof *shape);
        fa->ndims += ndim;
    }
    return (size_t)(q - p);
leave:
    fa->nvals = start;
    return 0;
}

/* The body with long number arrays replaced by placeholders; NULL without
 * memory. Placeholders are never longer than the arrays they replace. */
static char *extract_arrays(const char *body, size_t len, api_arrays *fa, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    size_t depth = 0; /* of objects and arrays: the document itself is never taken */
    size_t left = 0;  /* > 0: inside an array left to jansson, opened at this depth */
    const char *end = body + len;
    for (const char *p = body; p < end;) {
        char ch = *p;
        if (ch == '"') {
            size_t n = string_span(p, end, NULL);
            memcpy(out + o, p, n);
            o += n;
            p += n;
            continue;
        }
        if (ch == '{' || (ch == '[' && depth == 0)) {
            depth++;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            if (depth == left)
                left = 0;
            depth--;
        } else if (ch == '[') {
            size_t n = take_array(p, end, fa, left || fa->flat_only ? 1 : BL_MAX_DIMS);
            if (n) {
                o += (size_t)sprintf(out + o, "\"" FAST_PREFIX "%zu\"", fa->narr - 1);
                p += n;
                continue;
            }
            depth++;
            if (!left)
                left = depth;
        }
        out[o++] = ch;
        p++;
    }
    *outlen = o;
    return out;
}

/* The fast array behind a placeholder, or NULL. */
static const struct fast_array *fast_of(const api_arrays *fa, json_t *v)
{
    if (!fa || !json_is_string(v) || json_string_length(v) < 3)
        return NULL;
    const char *s = json_string_value(v);
    if (s[0] != '\0' || s[1] != '@')
        return NULL;
    char *endp;
    unsigned long long i = strtoull(s + 2, &endp, 10);
    if (*endp || i >= fa->narr)
        return NULL;
    return &fa->arr[i];
}

/* A fast array's shape: its length, or its nested shape (ndim entries). */
static const size_t *fast_shape(const api_arrays *fa, const struct fast_array *f)
{
    return f->ndim > 1 ? fa->dims + f->dims : &f->len;
}

static json_t *parse_error(const json_error_t *je, api_err *e)
{
    /* jansson 2.14 reports some allocation failures only as an error
     * without a position (its lexer's buffers fail before line 1). */
    if (json_error_code(je) == json_error_out_of_memory || je->line < 0) {
        api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory while parsing the request");
        return NULL;
    }
    api_fail(e, BL_API_INVALID_JSON, NULL, "invalid JSON at line %d, column %d: %s", je->line,
             je->column, je->text);
    return NULL;
}

static json_t *parse_doc(const char *body, size_t len, size_t extra, int user_nul, api_err *e);

/* True when a string of the body holds a \u0000 escape. Placeholders are
 * strings starting with NUL, so a body that spells one itself is parsed
 * without them, with NULs refused as usual. */
static int has_nul_escape(const char *body, size_t len)
{
    int nul = 0;
    const char *end = body + len;
    for (const char *p = body; p < end && !nul;)
        p = *p == '"' ? p + string_span(p, end, &nul) : p + 1;
    return nul;
}

json_t *api_parse_request(const char *body, size_t len, api_arrays *fa, api_err *e)
{
    if (len < 4096 || has_nul_escape(body, len))
        return api_parse(body, len, e);
    size_t n;
    char *text = extract_arrays(body, len, fa, &n);
    if (!text) {
        api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory while parsing the request");
        return NULL;
    }
    json_t *doc = fa->narr ? parse_doc(text, n, JSON_ALLOW_NUL, 0, e) : parse_doc(body, len, 0, 0, e);
    free(text);
    if (!doc && fa->ndims && e->code == BL_API_INVALID_JSON) {
        /* Positions in the message count the text jansson saw: give those
         * of the text with flat arrays only, as before nested ones. */
        api_arrays_free(fa);
        fa->flat_only = 1;
        doc = api_parse_request(body, len, fa, e);
        fa->flat_only = 0;
    }
    return doc;
}

json_t *api_parse(const char *body, size_t len, api_err *e)
{
    return parse_doc(body, len, 0, has_nul_escape(body, len), e);
}

/* extra: JSON_ALLOW_NUL when the text holds placeholders; user_nul: the
 * client's own text has a NUL escape (then no placeholders at all). */
static json_t *parse_doc(const char *body, size_t len, size_t extra, int user_nul, api_err *e)
{
    const size_t flags = JSON_REJECT_DUPLICATES;
    json_error_t je = {0}; /* jansson leaves the code byte unset when it fails early */
    if (len == 0) {
        api_fail(e, BL_API_INVALID_JSON, NULL,
                 "invalid JSON at line 1, column 0: the body is empty; send a JSON object");
        return NULL;
    }
    json_t *doc = json_loadb(body, len, flags | extra, &je);
    if (!doc && json_error_code(&je) == json_error_numeric_overflow && strstr(je.text, "integer") &&
        !user_nul) {
        size_t qlen;
        char *q = quote_big_integers(body, len, &qlen);
        if (!q) {
            api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory while parsing the request");
            return NULL;
        }
        doc = json_loadb(q, qlen, flags | JSON_ALLOW_NUL, &je);
        free(q);
    }
    if (!doc)
        return parse_error(&je, e);
    if (!json_is_object(doc)) {
        json_decref(doc);
        api_fail(e, BL_API_INVALID_ARGUMENT, NULL,
                 "the request body must be a JSON object, e.g. {\"counts\": [10, 5]}");
        return NULL;
    }
    return doc;
}

/* ---- scalar values ------------------------------------------------------- */

/* The digits of a placeholder, validated as a JSON integer literal. */
static const char *big_digits(json_t *v)
{
    const char *s = json_string_value(v) + 2;
    const char *d = s + (*s == '-');
    if (*d == '0' || !*d)
        return NULL;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9')
            return NULL;
    return s;
}

int api_number(json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return 1;
    }
    if (is_big_placeholder(v) && big_digits(v)) {
        *out = strtod(big_digits(v), NULL);
        return 1;
    }
    return 0;
}

int api_integer(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (is_big_placeholder(v) && big_digits(v)) {
        api_int64_exact(v, out); /* saturates beyond int64 */
        return 1;
    }
    return 0;
}

static const char *json_type_name(json_t *v)
{
    if (is_big_placeholder(v))
        return "integer";
    if (json_is_string(v) && json_string_length(v) > 2 && json_string_value(v)[0] == '\0' &&
        json_string_value(v)[1] == '@')
        return "array";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* For the field decoder (fields.c), which knows values but not placeholders. */
const char *api_type_name(json_t *v) { return json_type_name(v); }

const char *api_big_integer(json_t *v) { return is_big_placeholder(v) ? big_digits(v) : NULL; }

/* A placeholder of ours (a big integer or a fast array), not a client's
 * string. */
int api_is_placeholder(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 2 && json_string_value(v)[0] == '\0' &&
           (json_string_value(v)[1] == '#' || json_string_value(v)[1] == '@');
}

/* ---- arrays ------------------------------------------------------------------ */

static bl_api_code over_limit(api_err *e, const char *name, size_t n, const char *limit_name,
                              size_t max)
{
    return api_fail(e, BL_API_LIMIT_EXCEEDED, name,
                    "%s has %zu entries, more than the server's %s limit of %zu", name, n,
                    limit_name, max);
}

/* The message for a bad element x at path, which must be `what`. */
static bl_api_code bad_element(api_err *e, const char *path, json_t *x, const char *what)
{
    double d;
    if (api_number(x, &d))
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s = %.17g, but it must be %s", path,
                        d, what);
    return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be %s, not %s %s", path, what,
                    json_is_integer(x) || json_is_array(x) || json_is_object(x) ? "an" : "a",
                    json_type_name(x));
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
        return over_limit(e, name, nv->count, limit_name, max);
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
    const struct fast_array *fast = av->part ? NULL : fast_of(av->fa, av->json);
    if (av->part) {
        bl_api_code c = npy_flat(av, name, max, limit_name, &nv, e);
        if (c != BL_API_OK)
            return c;
        len = nv.count;
    } else if (fast) {
        len = fast_shape(av->fa, fast)[0];
    } else {
        if (!json_is_array(av->json))
            return bad_element(e, name, av->json,
                               strcmp(what, "an integer") == 0 ? "an array of integers"
                                                               : "an array of numbers");
        len = json_array_size(av->json);
    }
    if (max && len > max)
        return over_limit(e, name, len, limit_name, max);
    if (fast && fast->ndim > 1) {
        /* Nested where a flat array belongs: the JSON it replaced fails at
         * its first element, an array, or a flat fast array of its own (a
         * row of FAST_MIN numbers or more), which bad_element called "a
         * array". */
        char path[160];
        snprintf(path, sizeof path, "%s[0]", name);
        int row_was_fast = fast->ndim == 2 && fast_shape(av->fa, fast)[1] >= FAST_MIN;
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be %s, not %s array", path,
                        what, row_was_fast ? "a" : "an");
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
                char path[160];
                snprintf(path, sizeof path, "%s[%zu]", name, i);
                free(v);
                return bad_element(e, path, x, what);
            }
            if (!api_integer(x, &(int64_t){0}))
                *all_int = 0;
        }
    }
    *out = v;
    *n = len;
    return BL_API_OK;
}

bl_api_code api_doubles(const api_value *av, const char *name, int nonneg, size_t max,
                        const char *limit_name, double **out, size_t *n, api_err *e)
{
    int all_int;
    bl_api_code c = flat_values(av, name, max, limit_name, "a number", out, n, &all_int, e);
    if (c != BL_API_OK)
        return c;
    for (size_t i = 0; i < *n; i++) {
        double x = (*out)[i];
        if (!isfinite(x) || (nonneg && x < 0)) {
            char path[160];
            snprintf(path, sizeof path, "%s[%zu]", name, i);
            api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s = %.17g, but it must be %s", path, x,
                     nonneg ? "a finite number >= 0" : "a finite number");
            free(*out);
            *out = NULL;
            return BL_API_INVALID_ARGUMENT;
        }
    }
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
        const struct fast_array *fast = fast_of(av->fa, av->json);
        if (fast) {
            i = fast->first_real;
        } else {
            while (i + 1 < *n && api_integer(json_array_get(av->json, i), &(int64_t){0}))
                i++;
        }
        char path[160];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        free(v);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                        "%s must be an integer (a JSON integer, without a decimal point or "
                        "exponent)",
                        path);
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
    } else if (!fast_of(av->fa, av->json)) {
        for (size_t i = 0; i < *n; i++)
            api_integer(json_array_get(av->json, i), &iv[i]); /* exact 64-bit values */
    } else {
        for (size_t i = 0; i < *n; i++)
            iv[i] = v[i] >= 0x1p63 ? INT64_MAX : v[i] < -0x1p63 ? INT64_MIN : (int64_t)v[i];
    }
    free(v);
    *out = iv;
    return BL_API_OK;
}

/* ---- nested arrays ---------------------------------------------------- */

void api_tensor_free(api_tensor *t)
{
    free(t->data);
    t->data = NULL;
}

/* Copies the leaves of v, which must have shape t->shape[depth..], into
 * t->data from t->count on. */
static bl_api_code tensor_fill(json_t *v, size_t depth, const char *name, char *path,
                               size_t pathlen, api_tensor *t, const api_arrays *fa, api_err *e)
{
    const struct fast_array *fast = fast_of(fa, v);
    if (fast && depth + fast->ndim == t->ndim &&
        memcmp(fast_shape(fa, fast), t->shape + depth, fast->ndim * sizeof t->shape[0]) == 0) {
        memcpy(t->data + t->count, fa->vals + fast->off, fast->len * sizeof *t->data);
        t->count += fast->len;
        t->all_integers &= fast->all_integers;
        return BL_API_OK;
    }
    if (fast) { /* (a nested fast array is always a whole field: not here) */
        path[pathlen] = '\0';
        if (depth == t->ndim)
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s must be a finite number, not an array (%s is ragged)", path, name);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                        "%s has length %zu where %s was expected: %s is ragged", path,
                        fast_shape(fa, fast)[0],
                        depth + 1 == t->ndim ? "another length" : "an array of arrays", name);
    }
    if (depth == t->ndim) {
        double d;
        if (!api_number(v, &d) || !isfinite(d)) {
            path[pathlen] = '\0';
            return bad_element(e, path, v, "a finite number");
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
                            json_is_integer(v) || json_is_object(v) ? "an" : "a",
                            json_type_name(v));
        return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                        "%s has length %zu where %zu was expected: %s is ragged", path,
                        json_array_size(v), t->shape[depth], name);
    }
    for (size_t i = 0; i < t->shape[depth]; i++) {
        int m = snprintf(path + pathlen, 160 - pathlen, "[%zu]", i);
        size_t next = pathlen + (m > 0 && (size_t)m < 160 - pathlen ? (size_t)m : 0);
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
        return over_limit(e, name, nv.count, limit_name, max);
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
                char path[160];
                api_path(path, sizeof path, name, (int64_t)i, t->shape, t->ndim);
                api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s = %g, but it must be a finite number",
                         path, t->data[i]);
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
    while (json_is_array(x) || fast_of(fa, x)) {
        const struct fast_array *fast = fast_of(fa, x);
        if (fast) { /* numbers, flat or nested: the last dimensions */
            const size_t *fs = fast_shape(fa, fast);
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
                            "%s's shape has more elements than the server's %s limit of %zu",
                            name, limit_name, max);
        count *= len;
        if (len == 0)
            break;
        x = json_array_get(x, 0);
    }
    if (max && count > max)
        return over_limit(e, name, count, limit_name, max);
    t->data = malloc((count ? count : 1) * sizeof *t->data);
    if (!t->data)
        return api_fail(e, BL_API_UNAVAILABLE, name, "out of memory for %s", name);
    char path[160];
    snprintf(path, sizeof path, "%s", name);
    bl_api_code c = tensor_fill(v, 0, name, path, strlen(path), t, fa, e);
    if (c != BL_API_OK)
        api_tensor_free(t);
    return c;
}
