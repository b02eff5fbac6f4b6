/*
 * fuzz_api.c — a libFuzzer target on the api layer and on the multipart
 * parser in front of it: bytes in, one JSON document (or .npy, or
 * multipart answer) out, whatever the bytes are.
 *
 * The first byte b picks the endpoint (b % 3: weights, sample, loss) and
 * the mode (fuzz_api_mode). Below 216 the mode is (b / 3) % 6, as it was
 * before the multipart modes existed, so that every older input means what
 * it meant:
 *
 *   0-2  the rest of the input is the JSON body, handed to bl_api_call;
 *   3-5  the rest is a list of binary parts (records of [name id][length,
 *        2 bytes little-endian][bytes]: "request" is the JSON document, the
 *        others .npy arrays), handed to bl_api_handle asking for a JSON
 *        (3), .npy (4) or multipart (5) response.
 *
 * From 216 on (bytes that used to repeat modes 0-5; no seed or regression
 * input started with one), the mode is 6 + ((b - 216) / 3) % 6:
 *
 *   6-8  the rest is a multipart/form-data body whose boundary is
 *        FUZZ_BOUNDARY, split by multipart_parse (server/multipart.c) and
 *        handed to bl_api_handle exactly as ballastd does (server/http.c,
 *        split_parts and compute_now: the part names copied, the "request"
 *        part the JSON document), asking for a JSON (6), .npy (7) or
 *        multipart (8) response;
 *   9-11 the rest up to its first '\n' is a Content-Type header value whose
 *        boundary multipart_boundary reads; after the '\n' comes the body,
 *        then as 6-8 (JSON, .npy, multipart responses).
 *
 * A body that ballastd refuses before the api (no boundary, a malformed
 * multipart body) gets the error document ballastd would send, built the
 * same way. Limits are small (4096 items, samples and elements; answers of
 * FUZZ_MAX_OUTPUT bytes) so that every input runs in microseconds.
 * Invariants checked on every input (fuzz_api_check):
 *
 *   - bl_api_estimate runs on every request handed to the api (no crash,
 *     no sanitizer report) and gives the same figures twice, and the same
 *     price without a work bound (the scan in blocks);
 *   - a body is always returned, NUL-terminated at len (and for JSON
 *     len == strlen(body));
 *   - an OK body is at most limits.max_output bytes (the api bounds the
 *     answer before writing it; a bound that undercounts shows here);
 *   - a JSON body parses (jansson, duplicate keys rejected, UTF-8
 *     checked) and is an object; a .npy body starts with its magic, a
 *     multipart body with its boundary and ends with the closing one;
 *   - an error document is {"error": {"code", "message"[, "field"]}} whose
 *     code is bl_api_code_name(res.code), and the code is one a client can
 *     cause (invalid_json, invalid_argument, limit_exceeded): never
 *     internal, never unavailable (no allocation fails here), never
 *     not_found (the endpoint exists); not_acceptable only for .npy;
 *   - an OK document has no "error", carries the endpoint's keys, and has
 *     "warnings" whenever it holds a null (a non-finite result);
 *   - a JSON document (the body, or the one "request" part) that jansson
 *     refuses for its syntax, once its integers beyond 64 bits are made
 *     small, is answered invalid_json (check_jansson_refusal);
 *   - multipart_boundary: a boundary it returns is 1 to 70 RFC 2046 bchars
 *     not ending in a space; a 16-byte buffer gives the same boundary or a
 *     refusal, and never a refusal for a boundary that fits;
 *   - multipart_parse: at most max_parts parts, at least one when it
 *     says MP_OK; each with a non-empty NUL-terminated name shorter than
 *     MP_NAME_MAX, no two alike; each part's content lies inside the body,
 *     holds no delimiter and is followed by one; bad_name NUL-terminated;
 *   - the same input gives the same code and byte-identical body again
 *     (the seed is fixed by the entropy hook), which catches reads of
 *     uninitialised memory that ASan alone does not;
 *   - a JSON body under 4096 bytes gives the same answer when padded with
 *     spaces past 4096 bytes, where api/fastarray.c parses long number
 *     arrays itself instead of through jansson (a differential test of
 *     that parser): OK answers and errors byte for byte, except an
 *     invalid_json at the end of the text (error_at_end: the padding
 *     moves it), compared by code;
 *   - nothing leaks (LeakSanitizer, per input).
 *
 * fuzz_api_check is also linked without libFuzzer into
 * build/tests/test_fuzz_regressions, which replays tests/fuzz-regressions/.
 */
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_api.h"
#include "server.h" /* multipart_boundary, multipart_parse */

static const char *const endpoints[] = {"weights", "sample", "loss"};

static int fixed_entropy(void *ctx, uint64_t *out)
{
    (void)ctx;
    *out = 0x0123456789abcdefULL;
    return 0;
}

bl_api_config fuzz_api_config(void)
{
    bl_api_config cfg = bl_api_config_default();
    cfg.limits.max_items = 4096;
    cfg.limits.max_samples = 4096;
    cfg.limits.max_elements = 4096;
    cfg.limits.max_output = FUZZ_MAX_OUTPUT;
    cfg.entropy = fixed_entropy;
    cfg.entropy_ctx = NULL;
    return cfg;
}

const char *fuzz_api_endpoint(const uint8_t *data, size_t size)
{
    return endpoints[size ? data[0] % 3 : 0];
}

/* The first byte from which on the multipart modes are (see the top). */
#define MULTIPART_MODES_FROM 216

unsigned fuzz_api_mode(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    if (data[0] < MULTIPART_MODES_FROM)
        return (data[0] / 3u) % 6u;
    return 6u + ((data[0] - MULTIPART_MODES_FROM) / 3u) % 6u;
}

static int fail(char *why, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return 1;
}

/* True when v or anything inside it is null. */
static int holds_null(json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_null(v))
        return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (holds_null(x)) return 1;
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) if (holds_null(x)) return 1;
    }
    return 0;
}

static int check_ok(const char *endpoint, json_t *doc, char *why, size_t size)
{
    static const char *const keys[3][4] = {
        {"weights", "counts", "num_classes", "normalize"},
        {"indices", "num_samples", "seed", "generator"},
        {"loss", "reduction", "total_weight", NULL},
    };
    int e = strcmp(endpoint, "weights") == 0 ? 0 : strcmp(endpoint, "sample") == 0 ? 1 : 2;
    if (json_object_get(doc, "error"))
        return fail(why, size, "an OK response has an \"error\" member");
    for (int i = 0; i < 4 && keys[e][i]; i++)
        if (!json_object_get(doc, keys[e][i]))
            return fail(why, size, "an OK /%s response lacks \"%s\"", endpoint, keys[e][i]);
    if (holds_null(doc) && !json_is_array(json_object_get(doc, "warnings")))
        return fail(why, size, "an OK response holds null but has no \"warnings\"");
    if (e == 1) {
        json_t *idx = json_object_get(doc, "indices");
        size_t i;
        json_t *x;
        if (!json_is_array(idx))
            return fail(why, size, "indices is not an array");
        json_array_foreach(idx, i, x)
        {
            /* Indices are integers >= 0 (decoded as reals: see below). */
            if (!json_is_number(x) || json_number_value(x) < 0)
                return fail(why, size, "indices[%zu] is not an integer >= 0", i);
        }
        /* A window (offset, count): count indices, from offset on, within
         * full_count; see api/openapi.yaml. */
        json_t *count = json_object_get(doc, "count");
        if (count) {
            double off = json_number_value(json_object_get(doc, "offset"));
            double next = json_number_value(json_object_get(doc, "next_offset"));
            double full = json_number_value(json_object_get(doc, "full_count"));
            if ((double)json_array_size(idx) != json_number_value(count) ||
                next != off + json_number_value(count) || next > full)
                return fail(why, size,
                            "a window of %zu indices: count %g, offset %g, "
                            "next_offset %g, full_count %g",
                            json_array_size(idx), json_number_value(count), off, next, full);
        } else if (!json_object_get(doc, "world_size") &&
                   (double)json_array_size(idx) !=
                       json_number_value(json_object_get(doc, "num_samples")))
            return fail(why, size, "%zu indices for num_samples = %g", json_array_size(idx),
                        json_number_value(json_object_get(doc, "num_samples")));
    }
    return 0;
}

static int check_error(const bl_api_result *res, bl_api_format format, json_t *doc, char *why,
                       size_t size)
{
    json_t *err = json_object_get(doc, "error");
    if (!json_is_object(err) || json_object_size(doc) != 1)
        return fail(why, size, "an error response is not {\"error\": {...}}");
    json_t *code = json_object_get(err, "code"), *msg = json_object_get(err, "message");
    json_t *field = json_object_get(err, "field");
    if (!json_is_string(code) || strcmp(json_string_value(code), bl_api_code_name(res->code)))
        return fail(why, size, "error.code is not \"%s\"", bl_api_code_name(res->code));
    if (!json_is_string(msg) || json_string_length(msg) == 0)
        return fail(why, size, "error.message is missing or empty");
    if (field && !json_is_string(field))
        return fail(why, size, "error.field is not a string");
    if (strcmp(res->error_code, bl_api_code_name(res->code)) != 0)
        return fail(why, size, "res.error_code is \"%.32s\", not \"%s\"", res->error_code,
                    bl_api_code_name(res->code));
    if (!memchr(res->error_field, '\0', sizeof res->error_field) ||
        (field != NULL) != (res->error_field[0] != '\0'))
        return fail(why, size, "res.error_field \"%.160s\" but error.field %s",
                    memchr(res->error_field, '\0', sizeof res->error_field) ? res->error_field
                                                                            : "?",
                    field ? "present" : "absent");
    if (res->code != BL_API_INVALID_JSON && res->code != BL_API_INVALID_ARGUMENT &&
        res->code != BL_API_LIMIT_EXCEEDED &&
        !(res->code == BL_API_NOT_ACCEPTABLE && format == BL_API_NPY))
        return fail(why, size, "code %s (%s) for a client's input", bl_api_code_name(res->code),
                    json_string_value(msg));
    return 0;
}

/* Checks one result; format is what was asked for (errors are JSON),
 * max_output the configuration's limit of an answer's bytes (0: none). */
static int check_result(const char *endpoint, bl_api_format format, size_t max_output,
                        const bl_api_result *res, char *why, size_t size)
{
    if (!res->body)
        return fail(why, size, "no body (code %s)", bl_api_code_name(res->code));
    if (res->body[res->len] != '\0')
        return fail(why, size, "the body is not NUL-terminated at len");
    if (res->code == BL_API_OK && res->error_code[0])
        return fail(why, size, "an OK result with error_code \"%.32s\"", res->error_code);
    if (res->code == BL_API_OK && max_output && res->len > max_output)
        return fail(why, size, "an OK answer of %zu bytes, more than max_output (%zu)", res->len,
                    max_output);
    if (res->code == BL_API_OK && format == BL_API_NPY) {
        if (res->len < 10 || memcmp(res->body, "\x93NUMPY", 6) != 0)
            return fail(why, size, "an OK .npy answer without the .npy magic");
        return 0;
    }
    if (res->code == BL_API_OK && format == BL_API_MULTIPART) {
        static const char close[] = "--\r\n";
        if (res->len < 2 + sizeof close || memcmp(res->body, "--", 2) != 0 ||
            memcmp(res->body + res->len - (sizeof close - 1), close, sizeof close - 1) != 0 ||
            !strstr(res->content_type, "boundary="))
            return fail(why, size, "an OK multipart answer is not framed by its boundary");
        return 0;
    }
    if (strlen(res->body) != res->len)
        return fail(why, size, "len %zu but strlen %zu", res->len, strlen(res->body));
    json_error_t je;
    /* Integers as reals: a seed may be up to 2^64 - 1. */
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL;
    json_t *doc = json_loadb(res->body, res->len, flags, &je);
    if (!doc)
        return fail(why, size, "the response is not JSON (%s at %d:%d): %.200s", je.text, je.line,
                    je.column, res->body);
    int bad;
    if (!json_is_object(doc))
        bad = fail(why, size, "the response is not an object");
    else if (res->code == BL_API_OK)
        bad = check_ok(endpoint, doc, why, size);
    else
        bad = check_error(res, format, doc, why, size);
    json_decref(doc);
    return bad;
}

/* A copy of the JSON text [p, p + n) (malloc'd, *len bytes) in which every
 * integer literal of 19 or more digits that is valid JSON (no leading
 * zero) is "1" (or "-1"), so that jansson, whose integers are 64-bit, can
 * judge the rest of the text; strings are copied as they are. NULL
 * without memory. */
static char *small_integers(const uint8_t *p, size_t n, size_t *len)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (p[i] == '"') {
            size_t j = i + 1;
            while (j < n && p[j] != '"')
                j += p[j] == '\\' ? 2 : 1;
            j = j < n ? j + 1 : n;
            memcpy(out + o, p + i, j - i);
            o += j - i;
            i = j;
        } else if (p[i] == '-' || (p[i] >= '0' && p[i] <= '9')) {
            size_t j = i + (p[i] == '-'), d = j;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            int other = j < n && p[j] && strchr(".eE+-", p[j]);
            if (!other && j - d >= 19 && p[d] != '0') {
                memcpy(out + o, p + i, d - i); /* the sign */
                o += d - i;
                out[o++] = '1';
            } else {
                memcpy(out + o, p + i, j - i);
                o += j - i;
            }
            i = j;
        } else {
            out[o++] = (char)p[i++];
        }
    }
    *len = o;
    return out;
}

/* The jansson oracle: when jansson itself refuses the JSON text [p, p + n)
 * for its syntax (its integers beyond 64 bits made small first; not for a
 * real beyond its range or nesting depth, which the api handles on its
 * own; a \u0000 escape it refuses too), the api must have answered invalid_json: the
 * placeholders of api/parse.c and api/fastarray.c (big integers, long
 * number arrays) must not make invalid JSON valid. */
static int check_jansson_refusal(const uint8_t *p, size_t n, const bl_api_result *res, char *why,
                                 size_t whylen)
{
    if (res->code == BL_API_INVALID_JSON)
        return 0;
    size_t len = 0;
    char *text = small_integers(p, n, &len);
    if (!text)
        return 0;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    free(text);
    if (doc) {
        json_decref(doc);
        return 0;
    }
    switch (json_error_code(&je)) {
    case json_error_invalid_syntax:
    case json_error_invalid_utf8:
    case json_error_premature_end_of_input:
    case json_error_end_of_input_expected:
    case json_error_duplicate_key:
    case json_error_null_character: /* \u0000: refused by the api as by jansson */
        return fail(why, whylen, "jansson refuses the JSON (%s at %d:%d) but the api answered %s",
                    je.text, je.line, je.column, bl_api_code_name(res->code));
    default:
        return 0;
    }
}

/* True when jansson's error in the JSON text [p, p + n) (its big integers
 * made small) is at its end: an unfinished token, which the padding of
 * the differential test changes (an escape, a number), or the end itself,
 * whose position the padding moves. No error counts as none at the end. */
static int error_at_end(const uint8_t *p, size_t n)
{
    size_t len = 0;
    char *text = small_integers(p, n, &len);
    if (!text)
        return 1;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (doc) {
        json_decref(doc);
        return 0;
    }
    return je.position < 0 || (size_t)je.position + 1 >= len;
}

/* Part names a binary input may use; the last is unknown to every endpoint. */
static const char *const part_names[] = {"request",       "logits",     "log_probs", "targets",
                                         "weights",       "pos_weight", "counts",    "labels",
                                         "class_weights", "bogus"};
#define NPART_NAMES (sizeof part_names / sizeof part_names[0])
#define MAX_PARTS 8
#define PAD_TO 4100 /* past api/parse.c's 4096-byte threshold */

/* What ballastd gives multipart_parse and multipart_boundary (server.h). */
#define SERVER_MAX_PARTS MP_MAX_PARTS
#define SERVER_BOUNDARY_SIZE MP_BOUNDARY_SIZE
#define SERVER_BAD_SIZE 64 /* split_parts' bad[] */
/* Longest Content-Type value tried (modes 9-11); more is cut. */
#define CTYPE_MAX 1024

/* Splits data into parts: [name id][len lo][len hi][len bytes], the last
 * one cut at the end of the input. Returns the number of parts. */
static size_t split_parts(const uint8_t *data, size_t size, bl_api_part *parts)
{
    size_t n = 0, i = 0;
    while (i < size && n < MAX_PARTS) {
        const char *name = part_names[data[i] % NPART_NAMES];
        size_t len = i + 2 < size ? (size_t)data[i + 1] | (size_t)data[i + 2] << 8 : 0;
        i += 3;
        if (i > size)
            i = size;
        if (len > size - i)
            len = size - i;
        parts[n].name = name;
        parts[n].data = data + i;
        parts[n].len = len;
        n++;
        i += len;
    }
    return n;
}

/* One input's call: what is handed to the api, or ballastd's refusal. */
typedef struct {
    unsigned mode;
    bl_api_format format;
    bl_api_request req;
    int refused;       /* refused before the api (res holds ballastd's error) */
    size_t need, work; /* bl_api_estimate of req */
    bl_api_part parts[SERVER_MAX_PARTS];
    char names[SERVER_MAX_PARTS][MP_NAME_MAX];
    char boundary[SERVER_BOUNDARY_SIZE];
} fuzz_call;

/* ballastd's invalid_argument answer with msg (server/http.c). */
static void refuse(bl_api_result *res, const char *msg, const char *field)
{
    memset(res, 0, sizeof *res);
    res->code = BL_API_INVALID_ARGUMENT;
    res->body = bl_api_error_body("invalid_argument", msg, field, &res->len);
    snprintf(res->error_code, sizeof res->error_code, "invalid_argument");
    snprintf(res->error_field, sizeof res->error_field, "%s", field ? field : "");
    snprintf(res->content_type, sizeof res->content_type, "application/json");
}

/* ballastd's answer to a body that multipart_parse refused with st, built
 * as split_parts of server/http.c builds it (bad: multipart_parse's
 * bad_name). */
static void refuse_parts(multipart_status st, const char *bad, bl_api_result *res)
{
    char buf[256];
    const char *msg = multipart_message(st, bad, SERVER_MAX_PARTS, buf, sizeof buf);
    refuse(res, msg, st == MP_DUPLICATE ? bad : NULL);
}

/* RFC 2046 bchars (multipart.c has its own; this one is the check's). */
static int is_bchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("'()+_,-./:=? ", c) != NULL);
}

/* The invariants of multipart_boundary(ctype) == r, boundary in b. */
static int check_boundary(const char *ctype, int r, const char *b, char *why, size_t whylen)
{
    char small[16];
    int r2 = multipart_boundary(ctype, small, sizeof small);
    if (r != 0 && r != -1)
        return fail(why, whylen, "multipart_boundary returned %d", r);
    if (r != 0)
        return r2 == 0 ? fail(why, whylen,
                              "multipart_boundary refused with %d bytes of room "
                              "but found \"%s\" with 16",
                              SERVER_BOUNDARY_SIZE, small)
                       : 0;
    size_t n = strnlen(b, SERVER_BOUNDARY_SIZE);
    if (n == SERVER_BOUNDARY_SIZE)
        return fail(why, whylen, "the boundary is not NUL-terminated");
    if (n < 1 || n > 70 || b[n - 1] == ' ')
        return fail(why, whylen, "a boundary of %zu bytes or ending in a space: \"%s\"", n, b);
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return fail(why, whylen, "the boundary holds byte 0x%02x", (unsigned char)b[i]);
    if (r2 == 0 && strcmp(small, b) != 0)
        return fail(why, whylen, "boundary \"%s\" with 72 bytes of room, \"%s\" with 16", b, small);
    if (r2 != 0 && n < sizeof small)
        return fail(why, whylen, "boundary \"%s\" fits in 16 bytes but was refused there", b);
    return 0;
}

/* The invariants of multipart_parse(body, len, boundary, ...) == st with
 * n parts in mp (of at most max), bad its bad_name of bad_size bytes. */
static int check_parts(const char *body, size_t len, const char *boundary, multipart_status st,
                       const multipart_part *mp, size_t n, size_t max, const char *bad,
                       size_t bad_size, char *why, size_t whylen)
{
    if (!memchr(bad, '\0', bad_size))
        return fail(why, whylen, "bad_name is not NUL-terminated");
    if ((unsigned)st > MP_BAD_DISPOSITION)
        return fail(why, whylen, "multipart_parse returned %d", (int)st);
    if (n > max)
        return fail(why, whylen, "%zu parts of at most %zu", n, max);
    if (st == MP_OK && n == 0)
        return fail(why, whylen, "MP_OK without a part");
    char delim[80];
    size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strnlen(mp[i].name, MP_NAME_MAX);
        if (nl == MP_NAME_MAX || nl == 0)
            return fail(why, whylen, "part %zu: a name that is empty or not NUL-terminated", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(mp[j].name, mp[i].name) == 0)
                return fail(why, whylen, "parts %zu and %zu are both \"%s\"", j, i, mp[i].name);
        if (mp[i].data < body || mp[i].data > body + len ||
            mp[i].len > (size_t)(body + len - mp[i].data))
            return fail(why, whylen, "part %zu (\"%s\") is not inside the body", i, mp[i].name);
        if (memmem(mp[i].data, mp[i].len, delim, dl))
            return fail(why, whylen, "part %zu (\"%s\") holds the delimiter", i, mp[i].name);
        const char *after = mp[i].data + mp[i].len;
        if ((size_t)(body + len - after) < dl || memcmp(after, delim, dl) != 0)
            return fail(why, whylen, "part %zu (\"%s\") is not followed by the delimiter", i,
                        mp[i].name);
    }
    return 0;
}

/* Prepares the call of an input: c->req, or c->refused with ballastd's
 * answer in res. 1 with the reason in why when the multipart layer broke
 * one of its invariants. */
static int prepare(const uint8_t *data, size_t size, fuzz_call *c, bl_api_result *res, char *why,
                   size_t whylen)
{
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    memset(c, 0, sizeof *c);
    c->mode = fuzz_api_mode(data, size);
    if (c->mode < 3) {
        c->format = BL_API_JSON;
        c->req.json = body;
        c->req.json_len = len;
        return 0;
    }
    if (c->mode < 6) {
        c->req.parts = c->parts;
        c->req.nparts = split_parts(data + 1, size - 1, c->parts);
        c->req.format = c->format = c->mode == 3   ? BL_API_JSON
                                    : c->mode == 4 ? BL_API_NPY
                                                   : BL_API_MULTIPART;
        return 0;
    }
    unsigned f = (c->mode - 6) % 3;
    c->format = f == 0 ? BL_API_JSON : f == 1 ? BL_API_NPY : BL_API_MULTIPART;
    if (c->mode < 9)
        snprintf(c->boundary, sizeof c->boundary, "%s", FUZZ_BOUNDARY);
    else {
        /* A header value is a C string to ballastd: it ends at a NUL. */
        const char *nl = memchr(body, '\n', len);
        size_t tl = nl ? (size_t)(nl - body) : len;
        char ctype[CTYPE_MAX];
        size_t cl = tl < sizeof ctype - 1 ? tl : sizeof ctype - 1;
        memcpy(ctype, body, cl);
        ctype[cl] = '\0';
        body += nl ? tl + 1 : len;
        len -= nl ? tl + 1 : len;
        int r = multipart_boundary(ctype, c->boundary, sizeof c->boundary);
        if (check_boundary(ctype, r, c->boundary, why, whylen))
            return 1;
        if (r != 0) {
            /* server/http.c admit_post */
            refuse(res,
                   "a multipart/form-data body needs a boundary parameter (1 to 70 "
                   "characters)",
                   NULL);
            c->refused = 1;
            return 0;
        }
    }
    multipart_part mp[SERVER_MAX_PARTS];
    char bad[SERVER_BAD_SIZE] = "";
    size_t n = 0;
    multipart_status st =
        multipart_parse(body, len, c->boundary, mp, SERVER_MAX_PARTS, &n, bad, sizeof bad);
    if (check_parts(body, len, c->boundary, st, mp, n, SERVER_MAX_PARTS, bad, sizeof bad, why,
                    whylen))
        return 1;
    if (st != MP_OK) {
        refuse_parts(st, bad, res);
        c->refused = 1;
        return 0;
    }
    /* server/http.c split_parts and compute_now */
    for (size_t i = 0; i < n; i++) {
        strcpy(c->names[i], mp[i].name);
        c->parts[i].name = c->names[i];
        c->parts[i].data = mp[i].data;
        c->parts[i].len = mp[i].len;
    }
    c->req.json = NULL;
    c->req.json_len = 0;
    c->req.parts = c->parts;
    c->req.nparts = n;
    c->req.format = c->format;
    return 0;
}

/* One call in the input's mode: prepare, estimate, handle. 1 with why
 * when the multipart layer broke an invariant (res->body is then NULL). */
static int run(const bl_api_config *cfg, const uint8_t *data, size_t size, fuzz_call *c,
               bl_api_result *res, char *why, size_t whylen)
{
    const char *endpoint = fuzz_api_endpoint(data, size);
    memset(res, 0, sizeof *res);
    if (prepare(data, size, c, res, why, whylen))
        return 1;
    if (c->refused)
        return 0;
    c->need = bl_api_estimate(endpoint, &c->req, &c->work);
    bl_api_handle(cfg, endpoint, &c->req, res);
    return 0;
}

int fuzz_api_check(const uint8_t *data, size_t size, char *why, size_t whylen)
{
    if (size == 0)
        return 0;
    bl_api_config cfg = fuzz_api_config();
    const char *endpoint = fuzz_api_endpoint(data, size);
    fuzz_call call, call2;
    bl_api_result res, again;

    int bad = run(&cfg, data, size, &call, &res, why, whylen);
    if (!bad)
        bad = check_result(endpoint, call.format, cfg.limits.max_output, &res, why, whylen);
    if (!bad && !call.refused) {
        /* The JSON document: the body, or the one non-empty "request" part. */
        const bl_api_part *doc = NULL;
        size_t ndocs = 0;
        for (size_t i = 0; i < call.req.nparts; i++)
            if (strcmp(call.req.parts[i].name, "request") == 0) {
                doc = &call.req.parts[i];
                ndocs++;
            }
        if (call.mode < 3)
            bad = check_jansson_refusal(data + 1, size - 1, &res, why, whylen);
        else if (ndocs == 1 && doc->len)
            bad = check_jansson_refusal(doc->data, doc->len, &res, why, whylen);
    }
    if (!bad) {
        bad = run(&cfg, data, size, &call2, &again, why, whylen);
        if (!bad && (again.code != res.code || !again.body || again.len != res.len ||
                     memcmp(again.body, res.body, res.len) != 0 ||
                     strcmp(again.content_type, res.content_type) != 0 || again.nmeta != res.nmeta))
            bad = fail(why, whylen, "a second call gave a different answer");
        else if (!bad && (call2.need != call.need || call2.work != call.work))
            bad = fail(why, whylen, "bl_api_estimate gave %zu (work %zu), then %zu (work %zu)",
                       call.need, call.work, call2.need, call2.work);
        /* Without a work bound the body is priced in blocks (api/estimate.c):
         * the same price. */
        size_t blocks = call.refused ? 0 : bl_api_estimate(endpoint, &call.req, NULL);
        if (!bad && !call.refused && blocks != call.need)
            bad = fail(why, whylen, "bl_api_estimate gave %zu with work, %zu without", call.need,
                       blocks);
        free(again.body);
    }
    /* Differential: the same JSON body padded with spaces to PAD_TO bytes
     * goes through the fast number-array path of api/fastarray.c (bodies of
     * 4096 bytes and more); the answer must not change (for invalid JSON
     * at the end of the text, only the code: its position counts the
     * padding). */
    if (!bad && call.mode < 3 && size - 1 < PAD_TO) {
        char *padded = malloc(PAD_TO);
        if (padded) {
            memcpy(padded, data + 1, size - 1);
            memset(padded + size - 1, ' ', PAD_TO - (size - 1));
            bl_api_request req = {padded, PAD_TO, NULL, 0, BL_API_JSON};
            size_t work = 0;
            size_t need = bl_api_estimate(endpoint, &req, &work);
            size_t blocks = bl_api_estimate(endpoint, &req, NULL);
            bl_api_call(&cfg, endpoint, padded, PAD_TO, &again);
            free(padded);
            int same = again.body && again.code == res.code;
            if (same && !(res.code == BL_API_INVALID_JSON && error_at_end(data + 1, size - 1)))
                same = again.len == res.len && memcmp(again.body, res.body, res.len) == 0 &&
                       strcmp(again.error_field, res.error_field) == 0;
            if (!same)
                bad = fail(why, whylen, "the body padded to %d bytes gave %s: %.300s", PAD_TO,
                           bl_api_code_name(again.code), again.body ? again.body : "(null)");
            else if (blocks != need)
                bad = fail(why, whylen,
                           "the body padded to %d bytes: priced %zu with work, %zu "
                           "without",
                           PAD_TO, need, blocks);
            free(again.body);
        }
    }
    if (bad) {
        size_t n = strlen(why);
        if (n + 1 < whylen)
            snprintf(why + n, whylen - n, " [/%s, mode %u, %zu input bytes; response %.300s]",
                     endpoint, fuzz_api_mode(data, size), size, res.body ? res.body : "(null)");
    }
    free(res.body);
    return bad;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[1024];
    if (fuzz_api_check(data, size, why, sizeof why)) {
        fprintf(stderr, "fuzz_api: invariant violated: %s\n", why);
        abort();
    }
    return 0;
}
#endif
