/*
 * multipart.c — multipart/form-data (RFC 7578) parsed in place.
 *
 * The body is accumulated in one buffer like any other (sized from
 * Content-Length when there is one), and the parts are found in it by their
 * delimiters: each part's content is a pointer into the body, so a bulk
 * array is never copied on its way to the api layer. Only what a form
 * needs is read: the part's name from Content-Disposition; its filename and
 * Content-Type are ignored.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

int multipart_boundary(const char *content_type, char *out, size_t size)
{
    const char *p = content_type ? strcasestr(content_type, "boundary=") : NULL;
    if (!p)
        return -1;
    p += 9;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && n + 1 < size; p++)
            out[n++] = *p;
        if (*p != '"')
            return -1;
    } else {
        for (; *p && *p != ';' && *p != ' ' && *p != '\t' && n + 1 < size; p++)
            out[n++] = *p;
    }
    out[n] = '\0';
    /* RFC 2046: 1 to 70 characters. */
    return n >= 1 && n <= 70 ? 0 : -1;
}

/* The value of name="..." (or name=token) in a Content-Disposition line
 * [p, end); 0 when there is none. */
static int disposition_name(const char *p, const char *end, char *out, size_t size)
{
    for (const char *q = p; q + 5 <= end; q++) {
        if (strncasecmp(q, "name=", 5) != 0 || (q > p && q[-1] != ';' && q[-1] != ' ' && q[-1] != '\t'))
            continue;
        q += 5;
        size_t n = 0;
        if (q < end && *q == '"') {
            for (q++; q < end && *q != '"'; q++) {
                if (n + 1 >= size)
                    return -1;
                out[n++] = *q;
            }
            if (q >= end)
                return 0;
        } else {
            for (; q < end && *q != ';' && *q != ' ' && *q != '\t'; q++) {
                if (n + 1 >= size)
                    return -1;
                out[n++] = *q;
            }
        }
        out[n] = '\0';
        return n ? 1 : 0;
    }
    return 0;
}

multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *nparts,
                                 char *bad_name, size_t bad_size)
{
    char delim[80];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = body + len;
    *nparts = 0;
    /* The first delimiter may open the body without its CRLF. */
    const char *p;
    if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0)
        p = body + dl - 2;
    else {
        p = memmem(body, len, delim, (size_t)dl);
        if (!p)
            return MP_NO_PARTS;
        p += dl;
    }
    for (;;) {
        /* After a delimiter: "--" closes the body; else padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return *nparts ? MP_OK : MP_NO_PARTS;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return MP_MALFORMED;
        p += 2;
        /* The part runs to the next delimiter; its headers end at the first
         * blank line within it. */
        const char *next = memmem(p, (size_t)(end - p), delim, (size_t)dl);
        if (!next)
            return MP_MALFORMED;
        if (next - p >= 2 && p[0] == '\r' && p[1] == '\n')
            return MP_NAMELESS; /* no headers, so no name */
        const char *hend = memmem(p, (size_t)(next - p), "\r\n\r\n", 4);
        if (!hend)
            return MP_MALFORMED;
        const char *content = hend + 4;
        /* The part's name, from its Content-Disposition header. */
        char name[MP_NAME_MAX];
        int got = 0;
        for (const char *line = p; line < hend;) {
            const char *eol = memmem(line, (size_t)(hend - line), "\r\n", 2);
            if (!eol)
                eol = hend;
            if ((size_t)(eol - line) > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0) {
                got = disposition_name(line + 20, eol, name, sizeof name);
                if (got < 0) {
                    snprintf(bad_name, bad_size, "%.40s", line + 20);
                    return MP_TOO_MANY;
                }
            }
            line = eol + 2;
        }
        if (got <= 0)
            return MP_NAMELESS;
        for (size_t i = 0; i < *nparts; i++)
            if (strcmp(parts[i].name, name) == 0) {
                snprintf(bad_name, bad_size, "%s", name);
                return MP_DUPLICATE;
            }
        if (*nparts == max_parts)
            return MP_TOO_MANY;
        multipart_part *mp = &parts[(*nparts)++];
        memcpy(mp->name, name, sizeof name);
        mp->data = content;
        mp->len = (size_t)(next - content);
        p = next + dl;
    }
}
