/*
 * jw.c — a JSON writer that appends straight into one growable buffer.
 *
 * Responses are mostly long arrays of numbers; writing them here instead of
 * through one json_t per number keeps encoding cheap and memory at the size
 * of the text. Reals are printed in the shortest form that parses back to
 * the same double, laid out as Python's repr(float) (dtoa.c), so a client gets
 * exactly the double the core computed. A number is printed straight into the
 * buffer: room for DTOA_BUF bytes is made once, then the bytes written are
 * taken (jw_commit), which is also where the optional output limit is applied.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void jw_init(jw *w) { memset(w, 0, sizeof *w); }

void jw_free(jw *w)
{
    free(w->buf);
    jw_init(w);
}

/* jw_grow when the buffer must grow: doubles the capacity until n more bytes
 * fit; 0 and oom set if that fails. */
static int jw_grow_slow(jw *w, size_t n)
{
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            w->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->oom = 1;
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

/* Makes capacity for n more bytes without writing them; 0 after oom or over
 * (oom set if the allocation fails). The limit is applied when bytes are
 * taken, by jw_room or jw_commit. Inline: once per number. */
static inline int jw_grow(jw *w, size_t n)
{
    if (w->oom || w->over)
        return 0;
    assert(w->len <= w->cap);
    return w->cap - w->len >= n ? 1 : jw_grow_slow(w, n);
}

/* Room for n bytes that will all be written: 0 (and over set) if they would
 * pass the limit, checked before any allocation. */
static int jw_room(jw *w, size_t n)
{
    if (w->oom || w->over)
        return 0;
    assert(!w->limit || w->len <= w->limit);
    if (w->limit && n > w->limit - w->len) {
        w->over = 1;
        return 0;
    }
    return jw_grow(w, n);
}

/* Takes the n bytes already written at buf + len (within the capacity that
 * jw_grow made) into the output, unless they would pass the limit. */
static void jw_commit(jw *w, size_t n)
{
    assert(n <= w->cap - w->len);
    if (w->limit && n > w->limit - w->len) {
        w->over = 1;
        return;
    }
    w->len += n;
}

char *jw_take(jw *w, size_t *len)
{
    char *b = NULL;
    if (jw_grow(w, 1)) { /* the terminating NUL, outside the limit */
        w->buf[w->len] = '\0';
        b = w->buf;
        if (len)
            *len = w->len;
        w->buf = NULL;
    }
    jw_free(w);
    return b;
}

char *jw_reserve(jw *w, size_t n)
{
    /* n + 1: jw_take's NUL then needs no reallocation of what is filled */
    if (n == SIZE_MAX || !jw_room(w, n + 1))
        return NULL;
    char *p = w->buf + w->len;
    w->len += n;
    return p;
}

void jw_raw(jw *w, const char *s, size_t n)
{
    if (!jw_room(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

void jw_lit(jw *w, const char *s) { jw_raw(w, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* A JSON string. Text that is not valid UTF-8 (a client's path or field
 * name echoed in a message) gets U+FFFD for each bad byte, so that every
 * document written is valid JSON. */
void jw_str(jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jw_raw(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[sizeof "\\u0000"];
        size_t n = 0;
        switch (*p) {
        case '"':
            n = 2, esc[0] = '\\', esc[1] = '"';
            break;
        case '\\':
            n = 2, esc[0] = '\\', esc[1] = '\\';
            break;
        case '\n':
            n = 2, esc[0] = '\\', esc[1] = 'n';
            break;
        case '\r':
            n = 2, esc[0] = '\\', esc[1] = 'r';
            break;
        case '\t':
            n = 2, esc[0] = '\\', esc[1] = 't';
            break;
        default:
            if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                n = 6;
            }
        }
        if (n) {
            jw_raw(w, esc, n);
            p++;
            continue;
        }
        size_t len = utf8_len(p);
        if (len) {
            jw_raw(w, (const char *)p, len);
            p += len;
        } else {
            jw_raw(w, "\xef\xbf\xbd", 3); /* U+FFFD */
            p++;
        }
    }
    jw_raw(w, "\"", 1);
}

void jw_key(jw *w, const char *key)
{
    if (w->len && w->buf[w->len - 1] != '{')
        jw_raw(w, ",", 1);
    jw_str(w, key);
    jw_raw(w, ":", 1);
}

/* Writes v at p (room for DTOA_BUF bytes): the shortest decimal, or null
 * (counted) when v is not finite. Returns the length. */
static size_t put_double(jw *w, char *p, double v)
{
    if (isfinite(v))
        return dtoa_shortest(p, v);
    w->nonfinite++;
    memcpy(p, "null", 4);
    return 4;
}

void jw_double(jw *w, double v)
{
    if (jw_grow(w, DTOA_BUF))
        jw_commit(w, put_double(w, w->buf + w->len, v));
}

void jw_uint(jw *w, uint64_t v)
{
    if (jw_grow(w, DTOA_BUF))
        jw_commit(w, dtoa_u64(w->buf + w->len, v));
}

void jw_int(jw *w, int64_t v)
{
    if (jw_grow(w, DTOA_BUF))
        jw_commit(w, dtoa_i64(w->buf + w->len, v));
}

void jw_count(jw *w, double v)
{
    if (v >= 0 && v <= 9007199254740992.0 && v == floor(v))
        jw_uint(w, (uint64_t)v);
    else
        jw_double(w, v);
}

/* v[0], v[1], ... separated by commas: one capacity check per number. */
static void put_doubles(jw *w, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!jw_grow(w, DTOA_BUF + 1))
            return;
        char *p = w->buf + w->len;
        size_t k = 0;
        if (i)
            p[k++] = ',';
        jw_commit(w, k + put_double(w, p + k, v[i]));
    }
}

void jw_doubles(jw *w, const double *v, size_t n)
{
    jw_raw(w, "[", 1);
    put_doubles(w, v, n);
    jw_raw(w, "]", 1);
}

void jw_int64s(jw *w, const int64_t *v, size_t n)
{
    /* One allocation for the common case (short integers), never more than
     * the limit allows. */
    size_t hint = n <= (SIZE_MAX - 2) / 21 ? n * 21 + 2 : SIZE_MAX;
    if (w->limit && !w->over && hint > w->limit - w->len)
        hint = w->limit - w->len;
    if (!jw_grow(w, hint))
        return;
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (!jw_grow(w, DTOA_BUF + 1))
            return;
        char *p = w->buf + w->len;
        size_t k = 0;
        if (i)
            p[k++] = ',';
        jw_commit(w, k + dtoa_i64(p + k, v[i]));
    }
    jw_raw(w, "]", 1);
}

/* Writes v[0 .. prod(shape)) as nested arrays; returns the elements used. */
static size_t jw_tensor_at(jw *w, const double *v, const size_t *shape, size_t ndim)
{
    if (ndim == 0) {
        jw_double(w, v[0]);
        return 1;
    }
    size_t used = 0;
    jw_raw(w, "[", 1);
    if (ndim == 1) {
        put_doubles(w, v, shape[0]);
        used = shape[0];
    } else {
        for (size_t i = 0; i < shape[0]; i++) {
            if (i)
                jw_raw(w, ",", 1);
            used += jw_tensor_at(w, v + used, shape + 1, ndim - 1);
        }
    }
    jw_raw(w, "]", 1);
    /* An empty dimension still spans the product of the rest: none. */
    return used;
}

void jw_tensor(jw *w, const double *v, const size_t *shape, size_t ndim)
{
    jw_tensor_at(w, v, shape, ndim);
}

void jw_keyed(jw *w, json_t *keys, const double *v, int counts)
{
    const char *k;
    json_t *val;
    size_t i = 0;
    jw_raw(w, "{", 1);
    json_object_foreach(keys, k, val)
    {
        (void)val;
        jw_key(w, k);
        if (counts)
            jw_count(w, v[i]);
        else
            jw_double(w, v[i]);
        i++;
    }
    jw_raw(w, "}", 1);
}
