/*
 * framing.c — what a request's line and headers must be before any of its
 * body is read: framings a proxy and ballastd could read differently
 * (Content-Length with Transfer-Encoding, differing Content-Lengths, a
 * malformed Content-Length, whitespace in a header name) are refused
 * 400 invalid_request, any Transfer-Encoding but chunked 501, each with
 * one JSON error and the connection closed after it; and the path's
 * %XX unescaping, where an encoded NUL is caught.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front.h"

/*
 * libmicrohttpd's unescaping of the path and query, done here so that a
 * %00 is seen: the path would otherwise end at it, and "/weights%00junk"
 * route to /weights. Decodes %XX in place; a NUL marks the connection's
 * current request, which begin() refuses.
 */
size_t http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    char *out = s;
    int nul = 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            char v = (char)strtol(hex, NULL, 16);
            nul |= v == '\0';
            *out++ = v ? v : '?';
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    conn_state *cs = conn_of(c);
    if (cs && nul)
        cs->bad_path = 1;
    return (size_t)(out - s);
}

typedef struct {
    int bad_name;         /* a header name with whitespace (RFC 9112 5.1) */
    unsigned cl, te;      /* Content-Length and Transfer-Encoding headers seen */
    const char *cl_first; /* the first Content-Length */
    int cl_differ;        /* a later one differs from it */
    const char *te_value;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!*key || strpbrk(key, " \t"))
        f->bad_name = 1;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->cl++ == 0)
            f->cl_first = value ? value : "";
        else if (strcmp(f->cl_first, value ? value : "") != 0)
            f->cl_differ = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te++;
        f->te_value = value ? value : "";
    }
    return MHD_YES;
}

/* The longest Content-Length read: 19 digits are below 2^63. */
#define LENGTH_DIGITS 19

/* 1..LENGTH_DIGITS digits and nothing else (RFC 9110 8.6: Content-Length =
 * 1*DIGIT). */
static int valid_length(const char *v, uint64_t *n)
{
    size_t len = strlen(v);
    if (len == 0 || len > LENGTH_DIGITS)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *n = x;
    return 1;
}

/* Refuses framings a proxy and ballastd could read differently (RFC 9112
 * 6.1, 6.3): the request smuggling family. */
int check_framing(request *r, struct MHD_Connection *c)
{
    framing f = {0, 0, 0, NULL, 0, NULL};
    r->close = 1; /* until the framing is known good */
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.bad_name)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "a header name contains whitespace (\"Name : value\" is refused)"),
               1;
    if (f.cl && f.te)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "Content-Length and Transfer-Encoding together are refused; send one"),
               1;
    if (f.te > 1 || (f.te && strcasecmp(f.te_value, "chunked") != 0))
        return refuse(r, BL_API_NOT_IMPLEMENTED,
                      "Transfer-Encoding %.40s is not supported; send Content-Length or "
                      "Transfer-Encoding: chunked",
                      f.te_value),
               1;
    if (f.cl_differ)
        return refuse(r, BL_API_INVALID_REQUEST,
                      "the request has differing Content-Length headers"),
               1;
    if (f.cl && !valid_length(f.cl_first, &r->expect))
        return refuse(r, BL_API_INVALID_REQUEST,
                      "Content-Length must be a decimal number of at most 19 digits"),
               1;
    r->close = 0;
    return 0;
}
