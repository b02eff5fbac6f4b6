/*
 * parse.c — the request's envelope: from bytes to a jansson object.
 *
 * Parsing is jansson's, strict: duplicate keys, invalid UTF-8 and trailing
 * garbage are errors. jansson's integers are 64-bit signed, but a /sample
 * seed may be any integer in [0, 2^64); so when jansson reports an integer
 * too big for it, the body is parsed once more with every such literal
 * turned into a placeholder string, "\u0000#<digits>", which api_number()
 * and api_integer() read back exactly. Ordinary requests never pay for this.
 * Long number arrays are taken out before jansson sees the text
 * (fastarray.c); the scalar fields are decoded by the endpoint's form
 * (fields.c), the arrays by arrays.c and tensor.c.
 */
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define BIG_PREFIX "\\u0000#"
/* jansson's integers end at 2^63: a literal of this many digits or more
 * may be beyond them, and is quoted as a placeholder. */
#define BIG_DIGITS 19
/* Bodies shorter than this go to jansson whole: too short for the number
 * arrays taken out by fastarray.c to pay for the extra pass. */
#define FAST_ARRAYS_FROM 4096

static int is_big_placeholder(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 2 && json_string_value(v)[0] == '\0' &&
           json_string_value(v)[1] == '#';
}

size_t api_string_span(const char *p, const char *end, int *nul)
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

/* Copies body with every integer literal of BIG_DIGITS or more digits quoted as a
 * placeholder. Returns a malloc'd buffer, or NULL without memory. */
static char *quote_big_integers(const char *body, size_t len, size_t *outlen)
{
    /* Each literal grows by at most 9 bytes and has at least BIG_DIGITS. */
    size_t cap = len + len / 2 + 16;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char ch = body[i];
        if (ch == '"') {
            size_t n = api_string_span(body + i, body + len, NULL);
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
            int leading_zero = digits > 1 && body[i + (ch == '-')] == '0'; /* in the body */
            if (is_int && digits >= BIG_DIGITS && !leading_zero) {
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

static int is_ws_byte(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* True when a string of the body holds a \u0000 escape. Placeholders are
 * strings starting with NUL, so a body that spells one itself is parsed
 * without them, with NULs refused as usual. */
static int has_nul_escape(const char *body, size_t len)
{
    int nul = 0;
    const char *end = body + len;
    for (const char *p = body; p < end && !nul;) {
        p = memchr(p, '"', (size_t)(end - p)); /* numbers make up most bodies: skip them fast */
        if (!p)
            break;
        p += api_string_span(p, end, &nul);
    }
    return nul;
}

/* Whether the literal [p, p + n) is one quote_big_integers quotes. */
static int is_big_literal(const char *p, size_t n)
{
    size_t d = *p == '-';
    if (n - d < BIG_DIGITS || p[d] == '0')
        return 0;
    for (size_t i = d; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

/* Blanks the fast array spanning [s, s + n) ('[' to ']', valid JSON) into
 * a valid array of the same bytes per line: whitespace kept, every other
 * byte a space, except the outer brackets and the literals that
 * quote_big_integers would quote, kept with one comma between each two. */
static void blank_array(char *s, size_t n)
{
    char *comma = NULL; /* the first comma after the last literal kept */
    int kept = 0;
    for (size_t i = 1; i + 1 < n;) {
        if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            size_t j = i;
            while (j + 1 < n && strchr("0123456789.eE+-", s[j]))
                j++;
            if (is_big_literal(s + i, j - i)) {
                if (comma)
                    *comma = ',';
                comma = NULL;
                kept = 1;
            } else {
                memset(s + i, ' ', j - i);
            }
            i = j;
            continue;
        }
        if (s[i] == ',' && kept && !comma)
            comma = s + i;
        if (!is_ws_byte(s[i]))
            s[i] = ' ';
        i++;
    }
}

/* jansson's error for the body itself, not for the text with placeholders
 * that failed: the body with every fast array blanked (blank_array), so
 * that positions, lines and the token near the error are the body's and
 * no placeholder shows, without a json_t per number. */
static json_t *body_error(const char *body, size_t len, const api_arrays *fa, api_err *e)
{
    char *s = malloc(len);
    if (!s) {
        api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory while parsing the request");
        return NULL;
    }
    memcpy(s, body, len);
    for (size_t i = 0; i < fa->narr; i++)
        blank_array(s + fa->arr[i].src, fa->arr[i].src_len);
    json_t *doc = parse_doc(s, len, 0, 0, e);
    free(s);
    if (doc) { /* cannot be: the arrays blanked were valid JSON; keep the error */
        json_decref(doc);
        api_fail(e, BL_API_INVALID_JSON, NULL, "invalid JSON");
    }
    return NULL;
}

json_t *api_parse_request(const char *body, size_t len, api_arrays *fa, api_err *e)
{
    if (len < FAST_ARRAYS_FROM || has_nul_escape(body, len))
        return api_parse(body, len, e);
    size_t n;
    char *text = api_extract_arrays(body, len, fa, &n);
    if (!text) {
        api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory while parsing the request");
        return NULL;
    }
    json_t *doc =
        fa->narr ? parse_doc(text, n, JSON_ALLOW_NUL, 0, e) : parse_doc(body, len, 0, 0, e);
    free(text);
    if (!doc && fa->narr && e->code == BL_API_INVALID_JSON)
        return body_error(body, len, fa, e);
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
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
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
