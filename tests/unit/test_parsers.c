/*
 * test_parsers.c — the two hand-written header parsers of the request path:
 *
 *  - server/multipart.c: the boundary parameter of a Content-Type, and each
 *    part's name from its Content-Disposition (RFC 2046, RFC 7578, RFC 6266),
 *    including the tricks a substring search falls for: a parameter's value
 *    that holds "name=..." or "boundary=...".
 *  - api/npy.c: the .npy header, a Python dict literal, including a key's
 *    text inside another value, duplicate, unknown and missing keys, and
 *    shapes whose JSON form is huge while their element count is 0.
 *
 * multipart.c lives in server/; mk/parsers.mk links it into this program.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "check_main.h"
#include "internal.h"
#include "server.h"

/* ---- multipart_boundary ------------------------------------------------------- */

/* The boundary multipart_boundary finds in ct, or NULL when it refuses. */
static const char *boundary_of(const char *ct)
{
    static char out[72];
    return multipart_boundary(ct, out, sizeof out) == 0 ? out : NULL;
}

static void expect_boundary(const char *ct, const char *want)
{
    const char *got = boundary_of(ct);
    if (!want)
        ck_assert_msg(got == NULL, "%s: accepted as boundary '%s'", ct, got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0, "%s: got %s, want '%s'", ct,
                      got ? got : "a refusal", want);
}

START_TEST(boundary_token_and_quoted)
{
    expect_boundary("multipart/form-data; boundary=abc", "abc");
    expect_boundary("multipart/form-data;boundary=abc", "abc");
    expect_boundary("multipart/form-data; boundary=\"abc\"", "abc");
    /* Quoted: a space (not last) and tspecials that bchars allow. */
    expect_boundary("multipart/form-data; boundary=\"a b:c=d?(e),f/g\"", "a b:c=d?(e),f/g");
    /* A quoted-pair stands for its character. */
    expect_boundary("multipart/form-data; boundary=\"a\\bc\"", "abc");
    /* curl's and browsers' boundaries. */
    expect_boundary("multipart/form-data; boundary=------------------------d74496d66958873e",
                    "------------------------d74496d66958873e");
    expect_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                    "----WebKitFormBoundary7MA4YWxkTrZu0gW");
}
END_TEST

START_TEST(boundary_parameters_and_whitespace)
{
    expect_boundary("multipart/form-data; charset=utf-8; boundary=abc", "abc");
    expect_boundary("multipart/form-data; boundary=abc; charset=utf-8", "abc");
    expect_boundary("multipart/form-data; BOUNDARY=abc", "abc");
    expect_boundary("multipart/form-data; Boundary=\"abc\"", "abc");
    expect_boundary("  multipart/form-data  ;  boundary = abc  ", "abc");
    expect_boundary("multipart/form-data;\tboundary=abc;", "abc");
    expect_boundary("multipart/form-data; ; boundary=abc", "abc");
}
END_TEST

START_TEST(boundary_only_as_a_real_parameter)
{
    /* Text "boundary=" inside another parameter's value or name. */
    expect_boundary("multipart/form-data; foo=\"boundary=evil\"", NULL);
    expect_boundary("multipart/form-data; foo=\"x; boundary=evil\"; boundary=good", "good");
    expect_boundary("multipart/form-data; xboundary=evil", NULL);
    expect_boundary("multipart/form-data; xboundary=evil; boundary=good", "good");
    expect_boundary("multipart/form-data; boundary-x=evil", NULL);
    /* Two boundaries: which one would delimit? */
    expect_boundary("multipart/form-data; boundary=a; boundary=b", NULL);
    expect_boundary("multipart/form-data; boundary=a; BOUNDARY=a", NULL);
}
END_TEST

START_TEST(boundary_refusals)
{
    char b70[128] = "multipart/form-data; boundary=", b71[136];
    size_t n = strlen(b70);
    memset(b70 + n, 'x', 70);
    b70[n + 70] = '\0';
    ck_assert_ptr_nonnull(boundary_of(b70));
    ck_assert_uint_eq(strlen(boundary_of(b70)), 70);
    snprintf(b71, sizeof b71, "%sx", b70);
    expect_boundary(b71, NULL); /* RFC 2046: at most 70 */
    expect_boundary("multipart/form-data; boundary=\"\"", NULL);
    expect_boundary("multipart/form-data; boundary=", NULL);
    expect_boundary("multipart/form-data; boundary=\"abc \"", NULL); /* space last */
    expect_boundary("multipart/form-data; boundary=\"a@b\"", NULL);  /* not a bchar */
    expect_boundary("multipart/form-data; boundary=\"a\\\"b\"", NULL);
    expect_boundary("multipart/form-data; boundary=\"abc", NULL); /* unterminated */
    expect_boundary("multipart/form-data; boundary=a b", NULL);   /* junk after */
    expect_boundary("multipart/form-data; boundary=a=b", NULL);   /* = is no tchar */
    expect_boundary("multipart/form-data; boundary=a*b", NULL);   /* tchar, no bchar */
    expect_boundary("multipart/form-data; boundary=a{b", NULL);   /* neither */
    expect_boundary("multipart/form-data", NULL);
    expect_boundary("multipart/form-data; boundary", NULL);
    expect_boundary("boundary=abc", NULL); /* no media type */
    expect_boundary("", NULL);
    ck_assert_int_eq(multipart_boundary(NULL, (char[8]){0}, 8), -1);
    /* A boundary that does not fit the caller's buffer. */
    char small[4];
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=abcd", small, sizeof small),
                     -1);
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=abc", small, sizeof small),
                     0);
    ck_assert_str_eq(small, "abc");
}
END_TEST

/* ---- multipart_parse ---------------------------------------------------------- */

#define BOUNDARY "XyZ"

typedef struct {
    multipart_status st;
    multipart_part parts[8];
    size_t n;
    char bad[64];
    char body[4096];
} parsed;

/* Parses a body of parts, each given by its header lines (joined by CRLF)
 * and its content "data<i>". */
static parsed *parse_parts(const char *const *headers, size_t n)
{
    static parsed r;
    memset(&r, 0, sizeof r);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(r.body + len, sizeof r.body - len,
                                "--" BOUNDARY "\r\n%s\r\n\r\ndata%zu\r\n", headers[i], i);
    len += (size_t)snprintf(r.body + len, sizeof r.body - len, "--" BOUNDARY "--\r\n");
    ck_assert_uint_lt(len, sizeof r.body);
    r.st = multipart_parse(r.body, len, BOUNDARY, r.parts, 8, &r.n, r.bad, sizeof r.bad);
    return &r;
}

/* The name one Content-Disposition header value gives its part. */
static parsed *parse_disposition(const char *value)
{
    static char line[1024];
    snprintf(line, sizeof line, "Content-Disposition: %s", value);
    const char *h[] = {line};
    return parse_parts(h, 1);
}

static void expect_name(const char *value, const char *want)
{
    parsed *r = parse_disposition(value);
    ck_assert_msg(r->st == MP_OK, "%s: status %d (%s)", value, r->st, r->bad);
    ck_assert_uint_eq(r->n, 1);
    ck_assert_msg(strcmp(r->parts[0].name, want) == 0, "%s: name '%s', want '%s'", value,
                  r->parts[0].name, want);
    ck_assert_uint_eq(r->parts[0].len, 5);
    ck_assert_int_eq(memcmp(r->parts[0].data, "data0", 5), 0);
}

static void expect_status(const char *value, multipart_status want)
{
    parsed *r = parse_disposition(value);
    ck_assert_msg(r->st == want, "%s: status %d, want %d (%s)", value, r->st, want, r->bad);
}

START_TEST(disposition_filename_trick)
{
    /* A substring search reads "weights" from the filename. */
    expect_name("form-data; name=\"labels\"; filename=\"x name=weights\"", "labels");
    expect_name("form-data; filename=\"x; name=weights\"; name=\"labels\"", "labels");
    expect_name("form-data; filename=\"name=weights\"; name=labels", "labels");
    expect_name("form-data; filename=x; name=labels", "labels");
    /* filename* (RFC 5987) and name* are other parameters, not name. */
    expect_name("form-data; name*=UTF-8''weights; name=labels", "labels");
    expect_status("form-data; filename=\"name=weights\"", MP_NAMELESS);
    expect_status("form-data; xname=weights", MP_NAMELESS);
    expect_status("form-data; filename=\"a.npy\"", MP_NAMELESS);
}
END_TEST

START_TEST(disposition_quoted_and_token_names)
{
    expect_name("form-data; name=\"weights\"", "weights");
    expect_name("form-data; name=weights", "weights");
    /* quoted-pair: \" and \\ (RFC 9110 §5.6.4). */
    expect_name("form-data; name=\"a\\\"b\\\\c\"", "a\"b\\c");
    expect_name("form-data; name=\"a;b c\"", "a;b c");
    expect_name("form-data; name=\"\\w\"", "w");
    expect_name("form-data; name=\"caf\xc3\xa9\"", "caf\xc3\xa9"); /* obs-text */
    /* Names, type and field name are case-insensitive. */
    expect_name("form-data; NAME=weights", "weights");
    expect_name("Form-Data; Name=\"weights\"", "weights");
    parsed *r = parse_parts((const char *[]){"content-disposition: form-data; name=w"}, 1);
    ck_assert_int_eq(r->st, MP_OK);
    ck_assert_str_eq(r->parts[0].name, "w");
    /* Whitespace around ";" and "=", a trailing ";". */
    expect_name("  form-data ;name = \"w\" ;", "w");
    expect_name("form-data;name=w;filename=\"a.npy\"", "w");
    expect_name("form-data;\tname=w", "w");
}
END_TEST

START_TEST(disposition_refusals)
{
    /* Which of two names would it be? */
    expect_status("form-data; name=\"a\"; name=\"b\"", MP_BAD_DISPOSITION);
    expect_status("form-data; name=a; NAME=a", MP_BAD_DISPOSITION);
    parsed *r = parse_disposition("form-data; name=a; name=b");
    ck_assert_msg(strstr(r->bad, "two name parameters"), "%s", r->bad);
    /* RFC 7578 §4.2: the type is form-data. */
    expect_status("attachment; name=w", MP_BAD_DISPOSITION);
    expect_status("inline; name=w", MP_BAD_DISPOSITION);
    expect_status("form-data-x; name=w", MP_BAD_DISPOSITION);
    expect_status("name=w", MP_BAD_DISPOSITION);
    expect_status("", MP_BAD_DISPOSITION);
    r = parse_disposition("attachment; name=w");
    ck_assert_msg(strstr(r->bad, "form-data"), "%s", r->bad);
    /* Malformed parameters. */
    expect_status("form-data; name=\"w", MP_BAD_DISPOSITION);   /* unterminated */
    expect_status("form-data; name=\"w\\", MP_BAD_DISPOSITION); /* escape at the end */
    expect_status("form-data; name=\"w\" junk", MP_BAD_DISPOSITION);
    expect_status("form-data name=w", MP_BAD_DISPOSITION);
    expect_status("form-data; name", MP_BAD_DISPOSITION);
    expect_status("form-data; =w", MP_BAD_DISPOSITION);
    expect_status("form-data; name=", MP_BAD_DISPOSITION);
    expect_status("form-data; name=a b", MP_BAD_DISPOSITION);
    expect_status("form-data; name=a\"b\"", MP_BAD_DISPOSITION);
    expect_status("form-data; name=w; filename=\"x", MP_BAD_DISPOSITION);
    expect_status("form-data; name=\"a\x01\"", MP_BAD_DISPOSITION); /* a control character */
    /* An empty name is no name. */
    expect_status("form-data; name=\"\"", MP_NAMELESS);
    expect_status("form-data", MP_NAMELESS);
    /* Two Content-Disposition headers in one part. */
    r = parse_parts((const char *[]){"Content-Disposition: form-data; name=a\r\n"
                                     "Content-Disposition: form-data; name=b"},
                    1);
    ck_assert_int_eq(r->st, MP_BAD_DISPOSITION);
    ck_assert_msg(strstr(r->bad, "two Content-Disposition"), "%s", r->bad);
    ck_assert_uint_lt(strlen(r->bad), 64);
}
END_TEST

START_TEST(disposition_name_lengths)
{
    char v[600], name[64];
    memset(name, 'n', MP_NAME_MAX - 1);
    name[MP_NAME_MAX - 1] = '\0';
    snprintf(v, sizeof v, "form-data; name=\"%s\"", name);
    expect_name(v, name);
    snprintf(v, sizeof v, "form-data; name=%sn", name); /* MP_NAME_MAX bytes */
    expect_status(v, MP_TOO_MANY);
    snprintf(v, sizeof v, "form-data; name=\"%sn\"", name);
    expect_status(v, MP_TOO_MANY);
    /* A long filename is fine: only the name has a size limit. */
    char fn[400];
    memset(fn, 'f', sizeof fn - 1);
    fn[sizeof fn - 1] = '\0';
    snprintf(v, sizeof v, "form-data; name=w; filename=\"%s\"", fn);
    expect_name(v, "w");
}
END_TEST

START_TEST(multipart_existing_behaviour)
{
    /* Two parts, other headers beside Content-Disposition, in either order. */
    parsed *r = parse_parts(
        (const char *[]){"Content-Disposition: form-data; name=\"weights\"; filename=\"w.npy\"\r\n"
                         "Content-Type: application/octet-stream",
                         "Content-Type: application/json\r\n"
                         "Content-Disposition: form-data; name=\"request\""},
        2);
    ck_assert_int_eq(r->st, MP_OK);
    ck_assert_uint_eq(r->n, 2);
    ck_assert_str_eq(r->parts[0].name, "weights");
    ck_assert_str_eq(r->parts[1].name, "request");
    ck_assert_int_eq(memcmp(r->parts[1].data, "data1", 5), 0);
    ck_assert_uint_eq(r->parts[1].len, 5);
    /* Two parts of one name. */
    r = parse_parts((const char *[]){"Content-Disposition: form-data; name=w",
                                     "Content-Disposition: form-data; name=\"w\""},
                    2);
    ck_assert_int_eq(r->st, MP_DUPLICATE);
    ck_assert_str_eq(r->bad, "w");
    /* A part without Content-Disposition. */
    r = parse_parts((const char *[]){"Content-Type: text/plain"}, 1);
    ck_assert_int_eq(r->st, MP_NAMELESS);
    /* More parts than room. */
    multipart_part few[1];
    size_t n;
    char bad[64];
    r = parse_parts((const char *[]){"Content-Disposition: form-data; name=a",
                                     "Content-Disposition: form-data; name=b"},
                    2);
    ck_assert_int_eq(
        multipart_parse(r->body, strlen(r->body), BOUNDARY, few, 1, &n, bad, sizeof bad),
        MP_TOO_MANY);
    /* A preamble before the first delimiter, padding after a delimiter. */
    static const char pre[] = "preamble\r\n--" BOUNDARY " \t\r\n"
                              "Content-Disposition: form-data; name=a\r\n\r\nx\r\n--" BOUNDARY "--";
    multipart_part p[2];
    ck_assert_int_eq(multipart_parse(pre, sizeof pre - 1, BOUNDARY, p, 2, &n, bad, sizeof bad),
                     MP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0].name, "a");
    ck_assert_uint_eq(p[0].len, 1);
    /* No delimiter at all; only the close; a part that never ends; headers
     * without their blank line; a part with no headers. */
    static const char *const bodies[] = {"garbage", "--" BOUNDARY "--\r\n",
                                         "--" BOUNDARY "\r\nContent-Disposition: form-data; "
                                         "name=a\r\n\r\nx",
                                         "--" BOUNDARY "\r\nContent-Disposition: form-data; "
                                         "name=a\r\n--" BOUNDARY "--",
                                         "--" BOUNDARY "\r\n\r\nx\r\n--" BOUNDARY "--"};
    static const multipart_status want[] = {MP_NO_PARTS, MP_NO_PARTS, MP_MALFORMED, MP_MALFORMED,
                                            MP_NAMELESS};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        ck_assert_msg(multipart_parse(bodies[i], strlen(bodies[i]), BOUNDARY, p, 2, &n, bad,
                                      sizeof bad) == want[i],
                      "body %zu", i);
}
END_TEST

/* A part's content of every length up to 300 made of the delimiter's own
 * bytes, with near misses ("\r\n--XyZ" with one inner byte changed) but
 * never the whole delimiter, at two alignments of the body, then a long one: the part ends at the
 * first delimiter, wherever the search's 32-byte steps fall. */
START_TEST(multipart_delimiter_search)
{
    static const char head[] = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=a\r\n\r\n";
    static const char tail[] = "\r\n--" BOUNDARY "--\r\n";
    static const char alphabet[] = "\r\n-XyZa";
    static char body[1 + sizeof head + 20000 + sizeof tail];
    uint64_t state = 7;
    multipart_part p[2];
    size_t n;
    char bad[64];
    for (size_t len = 0; len <= 20000; len = len < 300 ? len + 1 : len + 19700) {
        size_t at = len % 2; /* the body at an odd address half the time */
        char *b = body + at, *data = b + sizeof head - 1;
        memcpy(b, head, sizeof head - 1);
        for (size_t i = 0; i < len; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            data[i] = alphabet[(state >> 33) % (sizeof alphabet - 1)];
        }
        /* near misses: one inner byte of the delimiter changed */
        for (size_t i = 0; i + 7 <= len; i += 11) {
            memcpy(data + i, "\r\n--" BOUNDARY, 7);
            data[i + 1 + i / 11 % 5] = 'a';
        }
        for (size_t i = 6; i < len; i++) /* never the whole delimiter */
            if (memcmp(data + i - 6, "\r\n--" BOUNDARY, 6) == 0)
                data[i] = 'a';
        memcpy(data + len, tail, sizeof tail - 1);
        size_t total = sizeof head - 1 + len + sizeof tail - 1;
        for (size_t i = 0; i < len; i++) /* the tail's "\r" cannot complete one */
            ck_assert(memcmp(data + i, "\r\n--" BOUNDARY, 7) != 0);
        ck_assert_int_eq(multipart_parse(b, total, BOUNDARY, p, 2, &n, bad, sizeof bad), MP_OK);
        ck_assert_uint_eq(n, 1);
        ck_assert_msg(p[0].data == data && p[0].len == len, "content of %zu bytes: got %zu", len,
                      p[0].len);
    }
}
END_TEST

/* ---- .npy headers ------------------------------------------------------------- */

/* A version 1.0 .npy of header text h (padded with spaces and a newline,
 * as numpy does) and data_len zero bytes of data. */
static unsigned char *make_npy(const char *h, size_t data_len, size_t *len)
{
    size_t hl = strlen(h), total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    size_t n = hl + pad + 1;
    unsigned char *b = calloc(1, 10 + n + data_len + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(n & 0xff);
    b[9] = (unsigned char)(n >> 8);
    memcpy(b + 10, h, hl);
    memset(b + 10 + hl, ' ', pad);
    b[10 + n - 1] = '\n';
    *len = 10 + n + data_len;
    return b;
}

/* npy_parse of header h with data_len bytes of data; the message, "" on
 * success, in msg. */
static bl_api_code parse_header(const char *h, size_t data_len, npy_view *v, char *msg)
{
    size_t len;
    unsigned char *b = make_npy(h, data_len, &len);
    api_err e = {0};
    bl_api_code c = npy_parse(b, len, "x", v, &e);
    strcpy(msg, c == BL_API_OK ? "" : e.message);
    free(b);
    return c;
}

static void expect_npy_ok(const char *h, size_t data_len, size_t ndim, size_t count)
{
    npy_view v;
    char msg[400];
    bl_api_code c = parse_header(h, data_len, &v, msg);
    ck_assert_msg(c == BL_API_OK, "%s: %s", h, msg);
    ck_assert_msg(v.ndim == ndim && v.count == count, "%s: ndim %zu, count %zu", h, v.ndim,
                  v.count);
}

static void expect_npy_error(const char *h, size_t data_len, const char *fragment)
{
    npy_view v;
    char msg[400];
    bl_api_code c = parse_header(h, data_len, &v, msg);
    ck_assert_msg(c == BL_API_INVALID_ARGUMENT, "%s: accepted", h);
    ck_assert_msg(strstr(msg, fragment), "%s: message \"%s\" lacks \"%s\"", h, msg, fragment);
    ck_assert_msg(strncmp(msg, "x", 1) == 0, "%s: message does not name the field: %s", h, msg);
}

START_TEST(npy_what_numpy_writes)
{
    npy_view v;
    char msg[400];
    ck_assert_int_eq(
        parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", 96, &v, msg),
        BL_API_OK);
    ck_assert_int_eq(v.dtype, NPY_F8);
    ck_assert_uint_eq(v.ndim, 2);
    ck_assert_uint_eq(v.shape[0], 3);
    ck_assert_uint_eq(v.shape[1], 4);
    ck_assert_uint_eq(v.count, 12);
    /* Every accepted dtype. */
    static const struct {
        const char *descr;
        npy_dtype t;
        size_t size;
    } dt[] = {{"<f8", NPY_F8, 8}, {"<f4", NPY_F4, 4}, {"<i8", NPY_I8, 8},
              {"<i4", NPY_I4, 4}, {"|u1", NPY_U1, 1}, {"<u1", NPY_U1, 1}};
    for (size_t i = 0; i < sizeof dt / sizeof dt[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 dt[i].descr);
        ck_assert_msg(parse_header(h, 2 * dt[i].size, &v, msg) == BL_API_OK, "%s: %s", h, msg);
        ck_assert_int_eq(v.dtype, dt[i].t);
    }
}
END_TEST

START_TEST(npy_python_literal_forms)
{
    /* 1-tuples, the empty tuple (a scalar), trailing commas or none. */
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, 1, 3);
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, 0, 1);
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4,)}", 96, 2, 12);
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (0,)}", 0, 1, 0);
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (5, 0)}", 0, 2, 0);
    /* Any key order, double quotes, whitespace and newlines between tokens. */
    expect_npy_ok("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}", 16, 1, 2);
    expect_npy_ok("{'descr':'<f8','fortran_order':False,'shape':(2,1)}", 16, 2, 2);
    expect_npy_ok("{ 'descr' : '<f8' ,\n 'fortran_order' :\tFalse , 'shape' : ( 2 , ) , }", 16, 1,
                  2);
    /* Python 2 numpy wrote longs: (3L, 4L). */
    expect_npy_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }", 96, 2, 12);
}
END_TEST

START_TEST(npy_key_inside_a_value)
{
    /* A substring search finds 'shape': (1,) inside descr, reads descr as
     * '<f8' up to the first quote, and accepts 8 data bytes; numpy reads
     * descr as the whole string, which is no dtype. */
    expect_npy_error("{'descr': \"<f8', 'shape': (1,), '\", 'fortran_order': False, "
                     "'shape': (2,), }",
                     8, "is not supported");
    expect_npy_error("{'descr': \"<f8', 'shape': (1,), '\", 'fortran_order': False, "
                     "'shape': (2,), }",
                     16, "is not supported");
    /* The same with an escaped quote, and with fortran_order. */
    expect_npy_error("{'descr': '<f8\\', \\'shape\\': (1,), \\'', 'fortran_order': False, "
                     "'shape': (2,), }",
                     8, "is not supported");
    expect_npy_error("{'descr': '<f8', 'x': \"'fortran_order': False\", 'fortran_order': True, "
                     "'shape': (1,)}",
                     8, "unknown key 'x'");
}
END_TEST

START_TEST(npy_keys_exact)
{
    expect_npy_error("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", 8,
                     "gives 'descr' twice");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", 8,
                     "gives 'shape' twice");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 8,
                     "unknown key 'extra'");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'Shape': (1,)}", 8,
                     "unknown key 'Shape'");
    expect_npy_error("{'descr ': '<f8', 'fortran_order': False, 'shape': (1,)}", 8,
                     "unknown key 'descr '");
    expect_npy_error("{'fortran_order': False, 'shape': (1,)}", 8, "has no 'descr'");
    expect_npy_error("{'descr': '<f8', 'shape': (1,)}", 8, "has no 'fortran_order'");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False}", 8, "has no 'shape'");
    expect_npy_error("{}", 8, "has no 'descr'");
}
END_TEST

START_TEST(npy_values)
{
    expect_npy_error("{'descr': '<f8', 'fortran_order': True, 'shape': (1,)}", 8, "C-order");
    expect_npy_error("{'descr': '<f8', 'fortran_order': 'False', 'shape': (1,)}", 8,
                     "literal False");
    expect_npy_error("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}", 8, "literal False");
    expect_npy_error("{'descr': '<f8', 'fortran_order': false, 'shape': (1,)}", 8, "literal False");
    expect_npy_error("{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}", 8,
                     "dtype '>f8' is not supported");
    expect_npy_error("{'descr': '<f8 ', 'fortran_order': False, 'shape': (1,)}", 8,
                     "is not supported");
    expect_npy_error("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}", 8,
                     "structured dtypes");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3)}", 24,
                     "(3) is the integer 3");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': 3}", 24, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (,)}", 8, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3,,)}", 24, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3 4)}", 96, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", 8, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (0x3,)}", 24, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3.0,)}", 24, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': [3]}", 24, "bad shape");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)", 24,
                     "not a Python dict literal");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, "
                     "1, 1, 1, 1, 1, 1, 1, 1, 1)}",
                     8, "more than 16 dimensions");
}
END_TEST

START_TEST(npy_syntax)
{
    static const char *const bad[] = {
        "",
        "['descr', '<f8']",
        "{'descr' '<f8', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f8' 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f8',, 'fortran_order': False, 'shape': (1,)}",
        "{, 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
        "{descr: '<f8', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), '}",
        "{'descr': '<f\\8', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} # comment",
        "{1: '<f8', 'fortran_order': False, 'shape': (1,)}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        npy_view v;
        char msg[400];
        ck_assert_msg(parse_header(bad[i], 8, &v, msg) == BL_API_INVALID_ARGUMENT, "%s: accepted",
                      bad[i]);
        ck_assert_msg(strstr(msg, ".npy header"), "%s: %s", bad[i], msg);
    }
    expect_npy_error("{'descr': '<f8' 'fortran_order': False, 'shape': (1,)}", 8,
                     "expected ',' or '}' after a value at byte 16");
}
END_TEST

START_TEST(npy_huge_shapes)
{
    /* 2**60 elements in one dimension: past any size arithmetic. */
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976, 0)}",
                     0, "too large");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 0)}",
                     0, "too large");
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (99999999999999999999999999, 0)}",
                     0, "too large");
    /* 2**60 - 1 empty rows: count 0, so npy_parse passes it; its JSON form
     * is bounded by the caller's limit through npy_nodes. */
    npy_view v;
    char msg[400];
    ck_assert_int_eq(parse_header("{'descr': '<f8', 'fortran_order': False, "
                                  "'shape': (1152921504606846975, 0)}",
                                  0, &v, msg),
                     BL_API_OK);
    ck_assert_uint_eq(v.count, 0);
    ck_assert_uint_eq(npy_nodes(&v), 1152921504606846975u);
    /* Many dimensions whose prefix products together pass 2**60. */
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, "
                     "'shape': (1, 1000000000000000000, 1, 1, 0)}",
                     0, "JSON form");
}
END_TEST

START_TEST(npy_nodes_counts)
{
    npy_view v = {0};
    ck_assert_uint_eq(npy_nodes(&v), 1); /* a scalar */
    v.ndim = 1;
    v.shape[0] = 3;
    ck_assert_uint_eq(npy_nodes(&v), 3);
    v.ndim = 2;
    v.shape[1] = 4;
    ck_assert_uint_eq(npy_nodes(&v), 3 + 12);
    v.shape[1] = 0;
    ck_assert_uint_eq(npy_nodes(&v), 3);
    v.shape[0] = 0;
    v.shape[1] = 5;
    ck_assert_uint_eq(npy_nodes(&v), 0);
    v.ndim = 3;
    v.shape[0] = (size_t)1 << 40;
    v.shape[1] = (size_t)1 << 40;
    v.shape[2] = 0;
    ck_assert_uint_eq(npy_nodes(&v), SIZE_MAX); /* saturated */
}
END_TEST

START_TEST(npy_existing_refusals)
{
    npy_view v;
    api_err e;
    size_t len;
    unsigned char *b =
        make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, &len);
    ck_assert_int_eq(npy_parse(b, len, "x", &v, &e), BL_API_OK);
    ck_assert_int_eq(npy_parse(b, len - 1, "x", &v, &e), BL_API_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(e.message, "truncated"));
    ck_assert_int_eq(npy_parse(b, 40, "x", &v, &e), BL_API_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(e.message, "truncated .npy header"));
    b[6] = 4;
    ck_assert_int_eq(npy_parse(b, len, "x", &v, &e), BL_API_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(e.message, "version 4.0"));
    b[6] = 1;
    b[20] = '\0';
    ck_assert_int_eq(npy_parse(b, len, "x", &v, &e), BL_API_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(e.message, "NUL byte"));
    b[0] = 'x';
    ck_assert_int_eq(npy_parse(b, len, "x", &v, &e), BL_API_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(e.message, "magic"));
    free(b);
    expect_npy_error("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 24,
                     "need 16 data bytes");
}
END_TEST

/* ---- through the api: the limit on a .npy tensor's JSON form ------------------ */

static bl_api_code loss_with_logits(const char *shape, size_t max_elements, char *msg)
{
    char h[200];
    snprintf(h, sizeof h, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
    size_t ll, tl;
    unsigned char *logits = make_npy(h, 0, &ll);
    unsigned char *targets =
        make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (0,)}", 0, &tl);
    bl_api_part parts[] = {{"logits", logits, ll},
                           {"targets", targets, tl},
                           {"request", "{\"reduction\": \"none\"}", 21}};
    bl_api_request req = {NULL, 0, parts, 3, BL_API_JSON};
    bl_api_config cfg = bl_api_config_default();
    cfg.limits.max_elements = max_elements;
    bl_api_result res;
    bl_api_handle(&cfg, "loss", &req, &res);
    snprintf(msg, 400, "%s", res.body ? res.body : "");
    free(res.body);
    free(logits);
    free(targets);
    return res.code;
}

START_TEST(npy_json_form_limited)
{
    char msg[400];
    ck_assert_int_eq(loss_with_logits("(1152921504606846975, 0)", 10000, msg),
                     BL_API_LIMIT_EXCEEDED);
    ck_assert_msg(strstr(msg, "\"field\":\"logits\"") && strstr(msg, "max-elements"), "%s", msg);
    ck_assert_int_eq(loss_with_logits("(20001, 0)", 10000, msg), BL_API_LIMIT_EXCEEDED);
    /* Within ndim * max: refused or not for other reasons, never the limit. */
    ck_assert_int_ne(loss_with_logits("(20000, 0)", 10000, msg), BL_API_LIMIT_EXCEEDED);
}
END_TEST

/* A scalar .npy (shape ()) is one value: within any limit of 1 or more. */
START_TEST(npy_scalar_within_limit)
{
    double one = 1.0;
    size_t ll;
    unsigned char *b = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 0, &ll);
    unsigned char *logits = realloc(b, ll + sizeof one);
    ck_assert_ptr_nonnull(logits);
    memcpy(logits + ll, &one, sizeof one);
    static const char request[] = "{\"loss\": \"bce_with_logits\", \"targets\": 1}";
    bl_api_part parts[] = {{"logits", logits, ll + sizeof one},
                           {"request", request, sizeof request - 1}};
    bl_api_request req = {NULL, 0, parts, 2, BL_API_JSON};
    bl_api_config cfg = bl_api_config_default();
    cfg.limits.max_elements = 1;
    bl_api_result res;
    bl_api_handle(&cfg, "loss", &req, &res);
    ck_assert_msg(res.code == BL_API_OK, "%s", res.body);
    free(res.body);
    free(logits);
}
END_TEST

/* A zero-free shape whose count is at the limit keeps passing the limit,
 * though its JSON form has more values than elements. */
START_TEST(npy_count_limit_unchanged)
{
    double zeros[12] = {0};
    char h[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3, 1), }";
    size_t ll;
    unsigned char *logits = make_npy(h, 0, &ll);
    unsigned char *buf = realloc(logits, ll + sizeof zeros);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf + ll, zeros, sizeof zeros);
    static const char targets_json[] = "{\"targets\": [[0], [1], [2], [0]]}";
    bl_api_part parts[] = {{"logits", buf, ll + sizeof zeros},
                           {"request", targets_json, sizeof targets_json - 1}};
    bl_api_request req = {NULL, 0, parts, 2, BL_API_JSON};
    bl_api_config cfg = bl_api_config_default();
    cfg.limits.max_elements = 12;
    bl_api_result res;
    bl_api_handle(&cfg, "loss", &req, &res);
    ck_assert_msg(res.code == BL_API_OK, "%s", res.body);
    free(res.body);
    cfg.limits.max_elements = 11;
    bl_api_handle(&cfg, "loss", &req, &res);
    ck_assert_int_eq(res.code, BL_API_LIMIT_EXCEEDED);
    free(res.body);
    free(buf);
}
END_TEST

static Suite *parsers_suite(void)
{
    Suite *s = suite_create("parsers");
    TCase *mp = tcase_create("multipart");
    tcase_add_test(mp, boundary_token_and_quoted);
    tcase_add_test(mp, boundary_parameters_and_whitespace);
    tcase_add_test(mp, boundary_only_as_a_real_parameter);
    tcase_add_test(mp, boundary_refusals);
    tcase_add_test(mp, disposition_filename_trick);
    tcase_add_test(mp, disposition_quoted_and_token_names);
    tcase_add_test(mp, disposition_refusals);
    tcase_add_test(mp, disposition_name_lengths);
    tcase_add_test(mp, multipart_existing_behaviour);
    tcase_add_test(mp, multipart_delimiter_search);
    suite_add_tcase(s, mp);
    TCase *npy = tcase_create("npy");
    tcase_add_test(npy, npy_what_numpy_writes);
    tcase_add_test(npy, npy_python_literal_forms);
    tcase_add_test(npy, npy_key_inside_a_value);
    tcase_add_test(npy, npy_keys_exact);
    tcase_add_test(npy, npy_values);
    tcase_add_test(npy, npy_syntax);
    tcase_add_test(npy, npy_huge_shapes);
    tcase_add_test(npy, npy_nodes_counts);
    tcase_add_test(npy, npy_existing_refusals);
    tcase_add_test(npy, npy_json_form_limited);
    tcase_add_test(npy, npy_count_limit_unchanged);
    tcase_add_test(npy, npy_scalar_within_limit);
    suite_add_tcase(s, npy);
    return s;
}

CHECK_MAIN(parsers_suite)
