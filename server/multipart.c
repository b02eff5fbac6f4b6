/*
 * multipart.c — multipart/form-data (RFC 7578) parsed in place.
 *
 * The body is accumulated in one buffer like any other (sized from
 * Content-Length when there is one), and the parts are found in it by their
 * delimiters: each part's content is a pointer into the body, so a bulk
 * array is never copied on its way to the api layer. Only what a form
 * needs is read: the part's name from Content-Disposition; its filename and
 * Content-Type are ignored.
 *
 * Both header values read here, the request's Content-Type (for its
 * boundary) and each part's Content-Disposition (for its name), are a
 * leading word followed by ";"-separated parameters. They are read with
 * one small scanner of that grammar (RFC 9110 §5.6, RFC 6266 §4.1), never by
 * searching for "name=" or "boundary=" as text: a parameter's value may
 * itself contain that text (filename="x name=weights"), and a substring
 * search would then read the wrong field.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "server.h"

/* ---- header parameters (RFC 9110 §5.6) ----------------------------------------------- */

/* A cursor over one header value, [p, end). Invariant: p <= end. */
typedef struct {
    const char *p, *end;
} hscan;

/* tchar (RFC 9110 §5.6.2): the characters of a token. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* OWS (RFC 9110 §5.6.3): spaces and tabs. */
static void skip_ows(hscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

/* Moves past the token at s; returns its length (0: no token there). */
static size_t scan_token(hscan *s)
{
    const char *start = s->p;
    while (s->p < s->end && is_tchar((unsigned char)*s->p))
        s->p++;
    return (size_t)(s->p - start);
}

/* Stores c at out[n] when there is room for it and the final NUL. */
static void put(char *out, size_t size, size_t n, char c)
{
    if (out && n + 1 < size)
        out[n] = c;
}

/* The parameter value at s: a token, or a quoted-string whose quoted-pairs
 * ("\x") stand for the character after the backslash (RFC 9110 §5.6.4).
 * Unescaped into out (may be NULL: the value is only checked), at most
 * size - 1 bytes and NUL-terminated; *len is the full unescaped length, so
 * that *len >= size says it did not fit. 0 on success, -1 when the value
 * is neither a token nor a well-formed quoted-string. */
static int scan_value(hscan *s, char *out, size_t size, size_t *len)
{
    size_t n = 0;
    if (s->p < s->end && *s->p == '"') {
        for (s->p++;; s->p++) {
            if (s->p == s->end)
                return -1; /* unterminated */
            unsigned char c = (unsigned char)*s->p;
            if (c == '"')
                break;
            if (c == '\\') {
                if (++s->p == s->end)
                    return -1;
                c = (unsigned char)*s->p;
            }
            /* qdtext and quoted-pair allow HTAB, SP, VCHAR and obs-text,
             * never another control character. */
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return -1;
            put(out, size, n++, (char)c);
        }
        s->p++; /* the closing quote */
    } else {
        const char *start = s->p;
        n = scan_token(s);
        if (n == 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            put(out, size, i, start[i]);
    }
    if (out && size)
        out[n < size ? n : size - 1] = '\0';
    *len = n;
    return 0;
}

/* Moves to the next parameter of a list *( OWS ";" OWS [ parameter ] )
 * (RFC 9110 §5.6.6, which lets a list hold empty parameters such as a
 * trailing ";") and past its name and "=", so that s is at its value.
 * 1: a parameter named [*name, *name + *nlen); 0: the list has ended;
 * -1: malformed (something other than ";" between parameters, a name
 * that is not a token, no "="). Whitespace around "=" is tolerated. */
static int next_param(hscan *s, const char **name, size_t *nlen)
{
    for (;;) {
        skip_ows(s);
        if (s->p == s->end)
            return 0;
        if (*s->p != ';')
            return -1;
        s->p++;
        skip_ows(s);
        if (s->p < s->end && *s->p != ';')
            break;
    }
    *name = s->p;
    *nlen = scan_token(s);
    if (*nlen == 0)
        return -1;
    skip_ows(s);
    if (s->p == s->end || *s->p != '=')
        return -1;
    s->p++;
    skip_ows(s);
    return 1;
}

/* Whether the parameter name [name, name + nlen) is want, which is lower
 * case (parameter names are case-insensitive, RFC 9110 §5.6.6). */
static int param_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* ---- the boundary ------------------------------------------------------------------- */

/* bchars (RFC 2046 §5.1.1): digits, letters, a space (not last), and
 * '()+_,-./:=? */
static int is_bchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c && strchr("'()+_,-./:=? ", c) != NULL;
}

/* A boundary value (RFC 2046 §5.1.1): 1 to 70 bchars, not ending in a
 * space. */
static int valid_boundary(const char *b, size_t n)
{
    if (n < 1 || n > 70 || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

int multipart_boundary(const char *content_type, char *out, size_t size)
{
    if (!content_type || !out || size == 0)
        return -1;
    hscan s = {content_type, content_type + strlen(content_type)};
    /* media-type = type "/" subtype parameters (RFC 9110 §8.3.1). */
    skip_ows(&s);
    if (scan_token(&s) == 0 || s.p == s.end || *s.p++ != '/' || scan_token(&s) == 0)
        return -1;
    int found = 0, r;
    const char *name;
    size_t nlen, len;
    while ((r = next_param(&s, &name, &nlen)) == 1) {
        int is_boundary = param_is(name, nlen, "boundary");
        /* A second boundary would make the delimiter ambiguous. */
        if (is_boundary && found)
            return -1;
        if (scan_value(&s, is_boundary ? out : NULL, size, &len) != 0)
            return -1;
        if (is_boundary) {
            if (len >= size || !valid_boundary(out, len))
                return -1;
            found = 1;
        }
    }
    return r == 0 && found ? 0 : -1;
}

/* ---- Content-Disposition ----------------------------------------------------------- */

/* Reads the name of a part from its Content-Disposition value [p, end):
 * "form-data" (case-insensitive, RFC 6266 §4.1), then parameters, of which
 * exactly one is "name" (RFC 7578 §4.2); every other parameter (filename,
 * filename*, ...) is checked for syntax and ignored. MP_OK with the name in
 * out (possibly empty), MP_NAMELESS without a name parameter, MP_TOO_MANY
 * when the name has size bytes or more, MP_BAD_DISPOSITION with the reason
 * in *why otherwise. */
static multipart_status disposition_name(const char *p, const char *end, char *out, size_t size,
                                         const char **why)
{
    hscan s = {p, end};
    skip_ows(&s);
    const char *type = s.p;
    size_t tlen = scan_token(&s);
    if (!param_is(type, tlen, "form-data")) {
        *why = "the disposition type is not form-data";
        return MP_BAD_DISPOSITION;
    }
    int found = 0, r;
    const char *name;
    size_t nlen, len;
    while ((r = next_param(&s, &name, &nlen)) == 1) {
        int is_name = param_is(name, nlen, "name");
        if (is_name && found) {
            *why = "two name parameters";
            return MP_BAD_DISPOSITION;
        }
        if (scan_value(&s, is_name ? out : NULL, size, &len) != 0)
            break;
        if (is_name && len >= size)
            return MP_TOO_MANY;
        found |= is_name;
    }
    if (r != 0) {
        *why = "a parameter that is not name=token or name=\"quoted-string\"";
        return MP_BAD_DISPOSITION;
    }
    return found ? MP_OK : MP_NAMELESS;
}

/* The name of the part whose header block is [p, hend) (without the blank
 * line), from its one Content-Disposition header (RFC 7578 §4.2: each part
 * has one). Statuses as disposition_name; bad_name says what was wrong. */
static multipart_status part_name(const char *p, const char *hend, char *name, size_t size,
                                  char *bad_name, size_t bad_size)
{
    static const char field[] = "Content-Disposition:";
    const size_t flen = sizeof field - 1;
    multipart_status st = MP_NAMELESS;
    int seen = 0;
    for (const char *line = p; line < hend;) {
        const char *eol = memmem(line, (size_t)(hend - line), "\r\n", 2);
        if (!eol)
            eol = hend;
        if ((size_t)(eol - line) >= flen && strncasecmp(line, field, flen) == 0) {
            /* Two of them could name the part twice, differently. */
            if (seen++) {
                snprintf(bad_name, bad_size, "two Content-Disposition headers in one part");
                return MP_BAD_DISPOSITION;
            }
            const char *why = "";
            st = disposition_name(line + flen, eol, name, size, &why);
            if (st == MP_BAD_DISPOSITION)
                snprintf(bad_name, bad_size, "%s", why);
            else if (st == MP_TOO_MANY)
                snprintf(bad_name, bad_size, "%.40s", line + flen);
            if (st != MP_OK && st != MP_NAMELESS)
                return st;
        }
        line = eol + 2;
    }
    return st == MP_OK && name[0] == '\0' ? MP_NAMELESS : st;
}

/* ---- the body --------------------------------------------------------------------- */

/* memmem(p, n, delim, dl), dl >= 2: where a part ends, found in a body that
 * is mostly bulk data. With SSE2 (every x86-64), 32 positions at a time:
 * those whose first and last bytes are delim's, rare in any data, are then
 * compared whole, in order; memmem does the last few positions. */
static const char *find_delim(const char *p, size_t n, const char *delim, size_t dl)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i first = _mm_set1_epi8(delim[0]), last = _mm_set1_epi8(delim[dl - 1]);
    for (; n >= dl + 31 && i <= n - dl - 31; i += 32) {
        const char *q = p + i, *t = q + dl - 1;
        __m128i m0 = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), first),
                                   _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)t), last));
        __m128i m1 =
            _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(q + 16)), first),
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(t + 16)), last));
        if (!_mm_movemask_epi8(_mm_or_si128(m0, m1)))
            continue;
        unsigned m = (unsigned)_mm_movemask_epi8(m0) | (unsigned)_mm_movemask_epi8(m1) << 16;
        for (; m; m &= m - 1) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (memcmp(q + k + 1, delim + 1, dl - 2) == 0)
                return q + k;
        }
    }
#endif
    return memmem(p + i, n - i, delim, dl);
}

/* "\r\n--", a boundary of up to 70 bytes and a NUL, with room to spare. */
#define MP_DELIM_SIZE 80

multipart_status multipart_parse(const char *body, size_t len, const char *boundary,
                                 multipart_part *parts, size_t max_parts, size_t *nparts,
                                 char *bad_name, size_t bad_size)
{
    char delim[MP_DELIM_SIZE];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = body + len;
    *nparts = 0;
    /* multipart_boundary gives 1 to 70 bytes; anything else (a caller's
     * own boundary) would leave delim cut short, and the searches below
     * would read past it. */
    if (dl <= 4 || (size_t)dl >= sizeof delim)
        return MP_MALFORMED;
    /* The first delimiter may open the body without its CRLF. */
    const char *p;
    if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0)
        p = body + dl - 2;
    else {
        p = find_delim(body, len, delim, (size_t)dl);
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
        const char *next = find_delim(p, (size_t)(end - p), delim, (size_t)dl);
        if (!next)
            return MP_MALFORMED;
        if (next - p >= 2 && p[0] == '\r' && p[1] == '\n')
            return MP_NAMELESS; /* no headers, so no name */
        const char *hend = memmem(p, (size_t)(next - p), "\r\n\r\n", 4);
        if (!hend)
            return MP_MALFORMED;
        char name[MP_NAME_MAX] = "";
        multipart_status st = part_name(p, hend, name, sizeof name, bad_name, bad_size);
        if (st != MP_OK)
            return st;
        for (size_t i = 0; i < *nparts; i++)
            if (strcmp(parts[i].name, name) == 0) {
                snprintf(bad_name, bad_size, "%s", name);
                return MP_DUPLICATE;
            }
        if (*nparts == max_parts)
            return MP_TOO_MANY;
        multipart_part *mp = &parts[(*nparts)++];
        memcpy(mp->name, name, sizeof name);
        mp->data = hend + 4;
        mp->len = (size_t)(next - mp->data);
        p = next + dl;
    }
}

const char *multipart_message(multipart_status st, const char *bad, size_t max_parts, char *buf,
                              size_t size)
{
    switch (st) {
    case MP_DUPLICATE:
        snprintf(buf, size, "part \"%s\" is given twice", bad);
        return buf;
    case MP_TOO_MANY:
        snprintf(buf, size, "too many parts (at most %zu) or a part name of %d bytes or more",
                 max_parts, MP_NAME_MAX);
        return buf;
    case MP_NAMELESS:
        return "a part has no name (Content-Disposition: form-data; name=...)";
    case MP_BAD_DISPOSITION:
        snprintf(buf, size,
                 "bad Content-Disposition in a part (%s); send Content-Disposition: form-data; "
                 "name=\"<field>\" (RFC 7578 4.2)",
                 bad);
        return buf;
    case MP_NO_PARTS:
        return "the multipart/form-data body has no parts (is its boundary the one in "
               "Content-Type?)";
    default:
        return "malformed multipart/form-data body";
    }
}
