/*
 * fastarray.c — long arrays of plain numbers, parsed here into one buffer
 * of doubles before jansson sees the request, and the placeholders that
 * stand for them in the document (api_fast_of).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "numshort.h"

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
   are read as doubles, exact up to 2^53: integer fields (labels, targets)
   that large are out of range whatever their last digits.

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

#define FAST_PREFIX "\\u0000@"
/* The first capacities of api_arrays' buffers (numbers, arrays, nested
 * shapes' dimensions), doubled as they fill. */
#define FIRST_VALUES 1024
#define FIRST_ARRAYS 16
#define FIRST_DIMS 64

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

/* Scans one JSON number at p (< end) into *v. Returns the bytes used, 0 if
 * there is none or it is one for jansson. The value is correctly rounded
 * (numparse.c), as jansson's strtod would have it. */
static size_t scan_number(const char *p, const char *end, num_value *v)
{
    size_t n = num_parse_short(p, end, v); /* inline: no call for most numbers */
    if (n)
        return n;
    n = num_parse_long(p, end, v);
    /* A real that overflows is jansson's to refuse; see was_clinger. */
    if (!n || isinf(v->value) || (n >= 64 && !was_clinger(p, n)))
        return 0;
    return n;
}

static int fa_reserve(api_arrays *fa, size_t more)
{
    if (fa->cap - fa->nvals >= more)
        return 1;
    size_t cap = fa->cap ? fa->cap : FIRST_VALUES;
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

/* take_array's one pass over an array: where it is, and what it has read. */
typedef struct {
    const char *q, *end;       /* the next byte; the end of the body */
    size_t start;              /* fa->nvals before the array */
    size_t first_real;         /* index of the first non-integer literal */
    size_t max_ndim;           /* the deepest nesting taken */
    size_t shape[BL_MAX_DIMS]; /* shape[d]: 0 until an array at depth d closed */
    size_t count[BL_MAX_DIMS]; /* elements so far of the open array at depth d */
    size_t ndim;               /* once a number is seen: its depth + 1 */
    size_t d, deepest;         /* the innermost open array's depth; the deepest yet */
    unsigned negzero;          /* bit i: the open row's element i is an integer -0 */
    int bigint;                /* the open row holds an integer beyond int64 */
    int inexact;               /* an integer of 2^53 or more: a double may round it */
    int all_int;
} array_scan;

/* What follows a value: another value, the end of the array taken, or
 * something that leaves the array to jansson. */
enum { SCAN_NEXT, SCAN_DONE, SCAN_LEAVE };

static void skip_ws(array_scan *s)
{
    while (s->q < s->end && is_ws(*s->q))
        s->q++;
}

/* A '[' at s->q: one level deeper. 0 when that is too deep (a number was
 * seen at a lesser depth, or max_ndim is reached). */
static int open_row(array_scan *s)
{
    if (s->d + 1 >= s->max_ndim || (s->ndim && s->d + 1 >= s->ndim))
        return 0;
    if (++s->d > s->deepest)
        s->shape[s->deepest = s->d] = 0;
    s->count[s->d] = 0;
    s->negzero = 0;
    s->bigint = 0;
    s->q++;
    return 1;
}

/* The number v, the element count of the open row, appended to fa (room
 * made): what it tells of the array (integers, -0, their range) noted. */
static void put_number(array_scan *s, api_arrays *fa, const num_value *v, size_t count)
{
    if (!v->integral) {
        if (s->all_int)
            s->first_real = fa->nvals - s->start;
        s->all_int = 0;
    } else if (v->fits64 && v->mag < (UINT64_C(1) << 53)) {
        /* the value is +-mag exactly: within int64 and 2^53, -0 if 0 */
        if (v->neg && v->mag == 0 && count < FAST_MIN)
            s->negzero |= 1u << count;
    } else {
        /* beyond 2^53; beyond int64 too (jansson's integers) unless
         * num_int64 takes it */
        s->bigint |= !num_int64(v, &(int64_t){0});
        s->inexact = 1;
    }
    fa->vals[fa->nvals++] = v->value;
}

/* Numbers at s->q, at the one depth of numbers: appended to fa, in one
 * loop (where a long array's time goes) for as long as a comma and a
 * number follow one; after_value reads what follows the last. 0 when there
 * is no number where one must be (or no memory): the array is left then.
 */
static int take_numbers(array_scan *s, api_arrays *fa)
{
    if (s->ndim == 0)
        s->ndim = s->d + 1;
    else if (s->d + 1 != s->ndim)
        return 0;
    const char *q = s->q, *end = s->end;
    size_t *count = &s->count[s->d];
    for (;;) {
        num_value v;
        size_t n = q < end ? scan_number(q, end, &v) : 0;
        if (!n || (fa->nvals == fa->cap && !fa_reserve(fa, 1)))
            return 0;
        put_number(s, fa, &v, *count);
        q += n;
        if (q == end || *q != ',')
            break;
        /* after_value's work for a comma: past it and the blanks after
         * it, one more element. What follows must be a number here (a
         * '[' or anything else leaves the array, as it does after
         * after_value). */
        q++;
        while (q < end && is_ws(*q))
            q++;
        ++*count;
    }
    s->q = q;
    return 1;
}

/* A row of numbers shorter than FAST_MIN closed, one jansson read before:
 * see above. An integer beyond int64 made it reparse the whole text with
 * big integers quoted (parse_doc), other fields' too: leave it that (0).
 * Otherwise its integer -0s become 0. */
static int close_short_row(array_scan *s, api_arrays *fa)
{
    if (s->bigint)
        return 0;
    size_t n = s->count[s->d];
    for (size_t i = 0; s->negzero && i < n; i++)
        if ((s->negzero >> i) & 1)
            fa->vals[fa->nvals - n + i] = 0;
    s->negzero = 0;
    return 1;
}

/* After a value: a comma (SCAN_NEXT), or closing brackets, each checked
 * against the shape, up to a comma (SCAN_NEXT) or the outermost one
 * (SCAN_DONE). */
static int after_value(array_scan *s, api_arrays *fa)
{
    for (;;) {
        size_t d = s->d;
        s->count[d]++;
        skip_ws(s);
        if (s->q < s->end && *s->q == ',') {
            s->q++;
            return SCAN_NEXT;
        }
        if (s->q == s->end || *s->q != ']')
            return SCAN_LEAVE;
        s->q++;
        if (!s->shape[d])
            s->shape[d] = s->count[d];
        else if (s->shape[d] != s->count[d])
            return SCAN_LEAVE;
        if (d + 1 == s->ndim && s->count[d] < FAST_MIN && !close_short_row(s, fa))
            return SCAN_LEAVE;
        if (d == 0)
            return SCAN_DONE;
        s->d--;
    }
}

/* Records the array just read (its numbers are fa->vals from s->start on)
 * in fa->arr, and a nested one's shape in fa->dims. 0 without memory. */
static int record_array(api_arrays *fa, const array_scan *s)
{
    if (fa->narr == fa->arr_cap) {
        size_t cap = fa->arr_cap ? fa->arr_cap * 2 : FIRST_ARRAYS;
        struct fast_array *a = realloc(fa->arr, cap * sizeof *a);
        if (!a)
            return 0;
        fa->arr = a;
        fa->arr_cap = cap;
    }
    if (s->ndim > 1 && fa->dims_cap - fa->ndims < s->ndim) {
        size_t cap = fa->dims_cap ? fa->dims_cap * 2 : FIRST_DIMS;
        size_t *dims = realloc(fa->dims, cap * sizeof *dims);
        if (!dims)
            return 0;
        fa->dims = dims;
        fa->dims_cap = cap;
    }
    struct fast_array *a = &fa->arr[fa->narr++];
    a->off = s->start;
    a->len = fa->nvals - s->start;
    a->all_integers = s->all_int;
    a->first_real = s->first_real;
    a->ndim = s->ndim;
    a->dims = 0;
    if (s->ndim > 1) {
        a->dims = fa->ndims;
        memcpy(fa->dims + fa->ndims, s->shape, s->ndim * sizeof s->shape[0]);
        fa->ndims += s->ndim;
    }
    return 1;
}

/* Tries to take the array starting at p ('['), flat or nested up to
 * max_ndim deep: numbers at one depth only, every array at a depth as long
 * as the first there, none empty, FAST_MIN numbers or more. Returns the
 * bytes it spans and records it in fa, or 0 to leave it to jansson (also
 * without memory), fa then as it was. */
static size_t take_array(const char *p, const char *end, api_arrays *fa, size_t max_ndim)
{
    assert(max_ndim >= 1 && max_ndim <= BL_MAX_DIMS);
    array_scan s; /* shape and count are written before they are read */
    s.q = p + 1;
    s.end = end;
    s.start = fa->nvals;
    s.first_real = 0;
    s.max_ndim = max_ndim;
    s.shape[0] = s.count[0] = 0;
    s.ndim = s.d = s.deepest = 0;
    s.negzero = 0;
    s.bigint = 0;
    s.inexact = 0;
    s.all_int = 1;
    int state = SCAN_NEXT;
    while (state == SCAN_NEXT) { /* at a value */
        skip_ws(&s);
        if (s.q < end && *s.q == '[')
            state = open_row(&s) ? SCAN_NEXT : SCAN_LEAVE;
        else
            state = take_numbers(&s, fa) ? after_value(&s, fa) : SCAN_LEAVE;
    }
    /* Integers only, one of them beyond 2^53: left to jansson, which keeps
     * them exact (an int64, or a quoted big integer: parse_doc), so that
     * class indices stay int64 end to end (api_int64_tensor). */
    if (state == SCAN_DONE && fa->nvals - s.start >= FAST_MIN && !(s.all_int && s.inexact) &&
        record_array(fa, &s))
        return (size_t)(s.q - p);
    fa->nvals = s.start;
    return 0;
}

char *api_extract_arrays(const char *body, size_t len, api_arrays *fa, size_t *outlen)
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
            size_t n = api_string_span(p, end, NULL);
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
                fa->arr[fa->narr - 1].src = (size_t)(p - body);
                fa->arr[fa->narr - 1].src_len = n;
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

const struct fast_array *api_fast_of(const api_arrays *fa, json_t *v)
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

const size_t *api_fast_shape(const api_arrays *fa, const struct fast_array *f)
{
    return f->ndim > 1 ? fa->dims + f->dims : &f->len;
}
