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

size_t npy_itemsize(npy_dtype t) { return t == NPY_F8 || t == NPY_I8 ? 8 : t == NPY_U1 ? 1 : 4; }

/* ---- the header: a Python dict literal ------------------------------------------ */

/* numpy reads the header with ast.literal_eval and requires exactly the
 * keys 'descr', 'fortran_order' and 'shape' (numpy/lib/format.py,
 * _read_array_header). It is read here the same way, as tokens of the
 * Python grammar (Python Language Reference §2.4, §6.2.7, §6.2.3), and not
 * by searching for "'shape'" as text: a key's text may sit inside another
 * value ('descr': "<f8', 'shape': (1,), '"), and a text search would read
 * that instead of the real key. Accepted: strings in single or double
 * quotes (escapes \\, \' and \" only; numpy never writes others), True,
 * False, decimal integers (with Python 2's L suffix, which old numpy
 * wrote), tuples of integers, and trailing commas where Python allows. */

typedef enum { TK_END, TK_PUNCT, TK_STR, TK_INT, TK_TRUE, TK_FALSE, TK_BAD } tk_kind;

/* Room for a string of the header ('descr''s value, a key); longer ones
 * are cut, and known by their length. */
#define NPY_STR_MAX 64

typedef struct {
    const char *h, *p, *end; /* the header, the next unread byte; h <= p <= end */
    const char *tok;         /* the current token's first byte */
    tk_kind kind;
    char punct;            /* TK_PUNCT: one of { } : , ( ) */
    char str[NPY_STR_MAX]; /* TK_STR: the value, unescaped, truncated to NPY_STR_MAX - 1 bytes */
    size_t slen;           /* TK_STR: its full length (slen >= sizeof str: truncated) */
    size_t num;            /* TK_INT: the value, saturated at SIZE_MAX */
    const char *why;       /* TK_BAD: what is wrong */
} npy_lex;

/* Whether c is one of the characters of set (never the NUL byte, which
 * strchr would find at the end of any set). */
static int in_set(char c, const char *set) { return c && strchr(set, c) != NULL; }

/* A string literal from lx->p, the opening quote. */
static void lex_string(npy_lex *lx)
{
    char quote = *lx->p++;
    lx->slen = 0;
    for (;; lx->p++) {
        if (lx->p == lx->end || *lx->p == '\n' || *lx->p == '\r') {
            lx->kind = TK_BAD;
            lx->why = "a string is not closed on its line";
            return;
        }
        char c = *lx->p;
        if (c == quote)
            break;
        if (c == '\\') {
            c = ++lx->p < lx->end ? *lx->p : '\0';
            if (c != '\\' && c != '\'' && c != '"') {
                lx->kind = TK_BAD;
                lx->why = "a string holds an escape other than \\\\, \\' or \\\"";
                return;
            }
        }
        if (lx->slen + 1 < sizeof lx->str)
            lx->str[lx->slen] = c;
        lx->slen++;
    }
    lx->p++;
    lx->str[lx->slen < sizeof lx->str ? lx->slen : sizeof lx->str - 1] = '\0';
    lx->kind = TK_STR;
}

/* A decimal integer, or the name True or False, from lx->p. */
static void lex_word(npy_lex *lx)
{
    const char *w = lx->p;
    while (lx->p < lx->end && (isalnum((unsigned char)*lx->p) || *lx->p == '_'))
        lx->p++;
    size_t n = (size_t)(lx->p - w);
    lx->kind = TK_BAD;
    lx->why = "a name other than True or False";
    if (n == 4 && memcmp(w, "True", 4) == 0)
        lx->kind = TK_TRUE;
    else if (n == 5 && memcmp(w, "False", 5) == 0)
        lx->kind = TK_FALSE;
    if (!isdigit((unsigned char)*w))
        return;
    lx->why = "a number that is not a decimal integer";
    size_t digits = n && (w[n - 1] == 'L' || w[n - 1] == 'l') ? n - 1 : n;
    lx->num = 0;
    for (size_t i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)w[i]))
            return;
        unsigned d = (unsigned)(w[i] - '0');
        lx->num = lx->num > (SIZE_MAX - d) / 10 ? SIZE_MAX : lx->num * 10 + d;
    }
    lx->kind = TK_INT;
}

/* Reads the next token into lx. Whitespace between tokens is skipped
 * (inside brackets Python joins lines, §2.1.6, so newlines count too). */
static void lex_next(npy_lex *lx)
{
    while (lx->p < lx->end && in_set(*lx->p, " \t\n\r\f"))
        lx->p++;
    lx->tok = lx->p;
    if (lx->p == lx->end) {
        lx->kind = TK_END;
    } else if (in_set(*lx->p, "{}:,()")) {
        lx->kind = TK_PUNCT;
        lx->punct = *lx->p++;
    } else if (*lx->p == '\'' || *lx->p == '"') {
        lex_string(lx);
    } else if (isalnum((unsigned char)*lx->p) || *lx->p == '_') {
        lex_word(lx);
    } else {
        lx->kind = TK_BAD;
        lx->why = "a character that is not part of a dict of strings, True, False and tuples";
        lx->p++;
    }
}

static int is_punct(const npy_lex *lx, char c) { return lx->kind == TK_PUNCT && lx->punct == c; }

#define NPY_FORMAT_HINT "numpy writes {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"

/* A header that is not the dict literal numpy writes: what was expected,
 * where. */
static bl_api_code header_syntax(api_err *e, const char *name, const npy_lex *lx,
                                 const char *expected)
{
    char found[sizeof "'x'"];
    const char *what = found;
    switch (lx->kind) {
    case TK_END:
        what = "its end";
        break;
    case TK_BAD:
        what = lx->why;
        break;
    case TK_STR:
        what = "a string";
        break;
    case TK_INT:
        what = "an integer";
        break;
    case TK_TRUE:
        what = "True";
        break;
    case TK_FALSE:
        what = "False";
        break;
    case TK_PUNCT:
        snprintf(found, sizeof found, "'%c'", lx->punct);
        break;
    }
    return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                    "%s: the .npy header is not a Python dict literal: expected %s at byte %zu "
                    "of the header, found %s (" NPY_FORMAT_HINT ")",
                    name, expected, (size_t)(lx->tok - lx->h), what);
}

static bl_api_code descr_value(npy_lex *lx, const char *name, npy_view *v, api_err *e)
{
    if (lx->kind != TK_STR)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: 'descr' in the .npy header must be a dtype string such as '<f8' "
                        "(structured dtypes are not supported)",
                        name);
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (lx->slen == strlen(dtypes[k].descr) && strcmp(lx->str, dtypes[k].descr) == 0) {
            v->dtype = dtypes[k].dtype;
            return BL_API_OK;
        }
    return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                    "%s: dtype '%.32s%s' is not supported; send little-endian float32 or float64 "
                    "('<f4', '<f8') for reals, int32, int64 or uint8 ('<i4', '<i8', '|u1') "
                    "for integers",
                    name, lx->str, lx->slen > 32 ? "..." : "");
}

static bl_api_code fortran_value(npy_lex *lx, const char *name, npy_view *v, api_err *e)
{
    (void)v;
    if (lx->kind == TK_FALSE)
        return BL_API_OK;
    if (lx->kind != TK_TRUE)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: 'fortran_order' in the .npy header must be the Python literal False "
                        "(only C-order arrays are accepted)",
                        name);
    return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                    "%s: only C-order arrays are accepted (fortran_order must be False; "
                    "use numpy.ascontiguousarray)",
                    name);
}

/* A tuple of integers: (), (3,), (3, 4), (3, 4,). (3) is not one: in
 * Python it is the integer 3 (§6.2.3: the comma makes the tuple). */
static bl_api_code shape_value(npy_lex *lx, const char *name, npy_view *v, api_err *e)
{
    int commas = 0;
    if (is_punct(lx, '('))
        for (lex_next(lx); !is_punct(lx, ')');) {
            if (lx->kind != TK_INT)
                break;
            if (v->ndim == BL_MAX_DIMS)
                return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s has more than %d dimensions",
                                name, BL_MAX_DIMS);
            v->shape[v->ndim++] = lx->num;
            lex_next(lx);
            if (is_punct(lx, ',')) {
                commas++;
                lex_next(lx);
            } else if (!is_punct(lx, ')')) {
                break;
            }
        }
    if (is_punct(lx, ')') && (v->ndim != 1 || commas == 1))
        return BL_API_OK;
    return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                    "%s: bad shape in the .npy header: 'shape' must be a tuple of integers >= 0 "
                    "such as (), (3,) or (3, 4)%s",
                    name,
                    v->ndim == 1 && is_punct(lx, ')') ? "; (3) is the integer 3, not a tuple" : "");
}

static const struct {
    const char *key;
    bl_api_code (*value)(npy_lex *, const char *, npy_view *, api_err *);
} header_keys[] = {
    {"descr", descr_value},
    {"fortran_order", fortran_value},
    {"shape", shape_value},
};
#define NPY_NKEYS (sizeof header_keys / sizeof header_keys[0])
#define NPY_KEYS_TEXT "'descr', 'fortran_order' and 'shape'"

/* The index in header_keys of the key lx holds, or -1. */
static int header_key(const npy_lex *lx)
{
    for (size_t k = 0; k < NPY_NKEYS; k++)
        if (lx->slen == strlen(header_keys[k].key) && strcmp(lx->str, header_keys[k].key) == 0)
            return (int)k;
    return -1;
}

/* The header dict [h, h + hlen) into v (dtype and shape): each key of
 * header_keys exactly once, no other, then only whitespace. */
static bl_api_code header_parse(const char *h, size_t hlen, const char *name, npy_view *v,
                                api_err *e)
{
    npy_lex lx = {.h = h, .p = h, .end = h + hlen};
    int seen[NPY_NKEYS] = {0};
    lex_next(&lx);
    if (!is_punct(&lx, '{'))
        return header_syntax(e, name, &lx, "'{'");
    for (lex_next(&lx); !is_punct(&lx, '}');) {
        if (lx.kind != TK_STR)
            return header_syntax(e, name, &lx, "a quoted key or '}'");
        int k = header_key(&lx);
        if (k < 0)
            return api_fail(
                e, BL_API_INVALID_ARGUMENT, name,
                "%s: the .npy header has an unknown key '%.32s%s'; it takes " NPY_KEYS_TEXT " only",
                name, lx.str, lx.slen > 32 ? "..." : "");
        if (seen[k]++)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s: the .npy header gives '%s' twice; each of " NPY_KEYS_TEXT
                            " must appear once",
                            name, header_keys[k].key);
        lex_next(&lx);
        if (!is_punct(&lx, ':'))
            return header_syntax(e, name, &lx, "':' after a key");
        lex_next(&lx);
        bl_api_code c = header_keys[k].value(&lx, name, v, e);
        if (c != BL_API_OK)
            return c;
        lex_next(&lx);
        if (is_punct(&lx, ','))
            lex_next(&lx);
        else if (!is_punct(&lx, '}'))
            return header_syntax(e, name, &lx, "',' or '}' after a value");
    }
    lex_next(&lx);
    if (lx.kind != TK_END)
        return header_syntax(e, name, &lx, "only spaces and a newline after the closing '}'");
    for (size_t k = 0; k < NPY_NKEYS; k++)
        if (!seen[k])
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s: .npy header has no '%s' (it needs " NPY_KEYS_TEXT ")", name,
                            header_keys[k].key);
    return BL_API_OK;
}

/* a * b, or SIZE_MAX when that does not fit. */
static size_t mul_sat(size_t a, size_t b) { return a && b > SIZE_MAX / a ? SIZE_MAX : a * b; }

size_t npy_nodes(const npy_view *v)
{
    if (v->ndim == 0)
        return 1;
    size_t prefix = 1, nodes = 0;
    for (size_t d = 0; d < v->ndim; d++) {
        prefix = mul_sat(prefix, v->shape[d]);
        nodes = nodes > SIZE_MAX - prefix ? SIZE_MAX : nodes + prefix;
    }
    return nodes;
}

/* v->count from v->shape. Each factor is checked before it multiplies,
 * so that a zero dimension after a huge one, (2**62, 0), is refused rather
 * than hiding it; and the JSON form (npy_nodes) is bounded the same way,
 * for (2**60 - 1, 0), whose count is 0. */
static bl_api_code shape_count(const char *name, npy_view *v, api_err *e)
{
    size_t count = 1;
    for (size_t d = 0; d < v->ndim; d++) {
        size_t n = v->shape[d];
        if (n && count > SIZE_MAX / 16 / n)
            return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                            "%s: the shape is too large (dimension %zu is %zu; at most 2^60 "
                            "elements are accepted)",
                            name, d, n);
        count *= n;
    }
    if (npy_nodes(v) > SIZE_MAX / 16)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: the shape is too large: its JSON form would hold more than 2^60 "
                        "arrays and numbers, though it has %zu elements",
                        name, count);
    v->count = count;
    return BL_API_OK;
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
    if (hlen > len - start)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: truncated .npy header", name);
    if (hlen > 65536)
        return api_fail(e, BL_API_INVALID_ARGUMENT, name,
                        "%s: the .npy header is %zu bytes; at most 65536 are accepted", name, hlen);
    const char *h = (const char *)b + start;
    if (memchr(h, '\0', hlen))
        return api_fail(e, BL_API_INVALID_ARGUMENT, name, "%s: NUL byte in the .npy header", name);
    bl_api_code c = header_parse(h, hlen, name, v, e);
    if (c == BL_API_OK)
        c = shape_count(name, v, e);
    if (c != BL_API_OK)
        return c;
    size_t data_len = len - start - hlen;
    size_t want = v->count * npy_itemsize(v->dtype);
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
#define NPY_CONVERT(src_type, v, out)                                                              \
    do {                                                                                           \
        const unsigned char *p_ = (v)->data;                                                       \
        for (size_t i_ = 0; i_ < (v)->count; i_++) {                                               \
            src_type x_;                                                                           \
            memcpy(&x_, p_ + sizeof x_ * i_, sizeof x_);                                           \
            (out)[i_] = x_;                                                                        \
        }                                                                                          \
    } while (0)

void npy_to_doubles(const npy_view *v, double *out)
{
    switch (v->dtype) {
    case NPY_F8:
        NPY_CONVERT(double, v, out);
        break;
    case NPY_F4:
        NPY_CONVERT(float, v, out);
        break;
    case NPY_I8:
        NPY_CONVERT(int64_t, v, out);
        break;
    case NPY_I4:
        NPY_CONVERT(int32_t, v, out);
        break;
    case NPY_U1:
        NPY_CONVERT(uint8_t, v, out);
        break;
    }
}

void npy_to_int64(const npy_view *v, int64_t *out)
{
    switch (v->dtype) {
    case NPY_I8:
        NPY_CONVERT(int64_t, v, out);
        break;
    case NPY_I4:
        NPY_CONVERT(int32_t, v, out);
        break;
    case NPY_U1:
        NPY_CONVERT(uint8_t, v, out);
        break;
    default:
        break; /* callers check npy_is_integer first */
    }
}

/* A version 1.0 file's preamble: the magic, the version and the header's
 * length; and room for the header npy_write writes (BL_MAX_DIMS sizes). */
#define NPY_PREAMBLE 10
#define NPY_HEADER_TEXT_MAX 600

void npy_write(jw *w, npy_dtype t, const void *data, const size_t *shape, size_t ndim)
{
    size_t count = 1;
    for (size_t d = 0; d < ndim; d++)
        count *= shape[d];
    npy_write_header(w, t, shape, ndim);
    jw_raw(w, data, count * 8);
}

void npy_write_header(jw *w, npy_dtype t, const size_t *shape, size_t ndim)
{
    char h[NPY_HEADER_TEXT_MAX];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     t == NPY_F8 ? "<f8" : "<i8");
    for (size_t d = 0; d < ndim; d++)
        n += snprintf(h + n, sizeof h - (size_t)n, "%zu%s", shape[d],
                      ndim == 1      ? ","
                      : d + 1 < ndim ? ", "
                                     : "");
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    /* Pad so that the data starts at a multiple of 64 bytes. */
    size_t total = NPY_PREAMBLE + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned char pre[NPY_PREAMBLE] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t hl = (size_t)n + pad + 1;
    pre[8] = (unsigned char)(hl & 0xff);
    pre[9] = (unsigned char)(hl >> 8);
    jw_raw(w, (const char *)pre, NPY_PREAMBLE);
    jw_raw(w, h, (size_t)n);
    for (size_t i = 0; i < pad; i++)
        jw_raw(w, " ", 1);
    jw_raw(w, "\n", 1);
}
