/*
 * numshort.h — num_parse's first try, for the short literals most arrays
 * are made of ("0.123", "-3.25", "12.5", "7", "999"): inline, so that the
 * array scanner (fastarray.c) runs it without a call per number. Used by
 * numparse.c (num_parse tries it first) and fastarray.c only.
 *
 * It takes a literal whose digits, its '.' if any, and the byte after it
 * all lie in the 8 bytes after the sign: at most 7 digits, no exponent, no
 * leading zero before another digit. It needs those 8 bytes before end,
 * and answers 0 for anything else: num_parse_long (numparse.c) then reads
 * the literal from its start. Its answer is num_parse's, field for field:
 * the digits make an integer w < 10^7 and the value is w / 10^f with f < 7
 * fraction digits, both exact doubles, so one IEEE division rounds it
 * correctly (Clinger's fast path).
 *
 * The bytes are read one by one: arrays repeat a few lengths, whose
 * branches the processor predicts, so that it runs on into the next
 * literal before this one's length is computed. A word of the 8 bytes
 * serves only to say no early to long literals; on a big-endian machine
 * it says no more often than it should (slower, never wrong).
 */
#ifndef BALLAST_API_NUMSHORT_H
#define BALLAST_API_NUMSHORT_H

#include <stdint.h>
#include <string.h>

#include "internal.h"

#define NUM_BYTES(b) (UINT64_C(0x0101010101010101) * (b))

/* Inlined even where it is used twice (num_parse_short's two calls). */
#if defined(__GNUC__)
#define NUM_SHORT_INLINE static inline __attribute__((always_inline))
#else
#define NUM_SHORT_INLINE static inline
#endif

/* Bit 7 of every byte of c that is no ASCII digit, and of no other: its
 * high nibble is not 3, or its low one is above 9 (adding 6 carries out of
 * the nibble). Nothing crosses a byte, so every flag is exact. */
static inline uint64_t num_nondigits(uint64_t c)
{
    uint64_t x = ((c & NUM_BYTES(0xf0)) ^ NUM_BYTES(0x30)) |
                 (((c & NUM_BYTES(0x0f)) + NUM_BYTES(0x06)) & NUM_BYTES(0xf0));
    return ((x >> 4) + NUM_BYTES(0x7f)) & NUM_BYTES(0x80);
}

/* num_parse_short (below) after the sign: s is p, or p + 1 after a '-'
 * (neg); c the 8 bytes at s. */
NUM_SHORT_INLINE size_t num_short_after_sign(const char *s, uint64_t c, num_value *v, int neg)
{
    static const double pow10_short[8] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
    const char *q = s;
    uint64_t w = 0;
    unsigned d = (unsigned char)*q - '0';
    if (d > 9)
        return 0;
    if (d == 0) {
        d = (unsigned char)*++q - '0';
    } else {
        do {
            w = w * 10 + d;
            d = (unsigned char)*++q - '0';
        } while (d <= 9 && q - s < 7);
    }
    if (d <= 9)
        return 0; /* 8 digits or more, or a leading zero: "01" reads "0" */
    if (*q == '.') {
        /* No early for long fractions (probabilities printed in full):
         * no byte after the '.' in the 8 is other than a digit. */
        if (((num_nondigits(c) >> (8 * (q - s))) >> 8) == 0)
            return 0;
        const char *frac = ++q;
        for (; q - s < 7 && (d = (unsigned char)*q - '0') <= 9; q++)
            w = w * 10 + d;
        if (q == frac || (unsigned)((unsigned char)*q - '0') <= 9 || (*q | 0x20) == 'e')
            return 0; /* no fraction digit ("1." is none), 8 bytes or more, an exponent */
        double x = (double)w / pow10_short[q - frac];
        v->value = neg ? -x : x;
        v->neg = (unsigned char)neg;
        v->integral = 0;
        v->fits64 = 0;
        v->mag = 0;
        return (size_t)(neg + (q - s));
    }
    if ((*q | 0x20) == 'e')
        return 0;
    v->value = neg ? -(double)w : (double)w;
    v->neg = (unsigned char)neg;
    v->integral = 1;
    v->fits64 = 1;
    v->mag = w;
    return (size_t)(neg + (q - s));
}

/* Reads the literal at p as num_parse does when it is a short one (above):
 * returns the bytes it spans with *v set, or 0 (*v untouched) when it is
 * not, or is not a number at all. */
static inline size_t num_parse_short(const char *p, const char *end, num_value *v)
{
    int neg = p < end && *p == '-';
    const char *s = p + neg;
    if (end - s < 8)
        return 0;
    /* A short literal leaves at least two bytes of the 8 that are no
     * digit (its '.' or the byte after it, and one more), or is 7 digits
     * and the 8th byte: a quick no for long ones. Only the lowest flag is
     * certain (a borrow runs upwards and may flag a '0' after a byte below
     * '0'); a wrong one costs time, not answers. */
    uint64_t c;
    memcpy(&c, s, sizeof c);
    uint64_t stop = ((c - NUM_BYTES(0x30)) | (c + NUM_BYTES(0x46))) & NUM_BYTES(0x80);
    if ((stop & (stop - 1)) == 0 && stop != UINT64_C(1) << 63)
        return 0;
    /* Then the sign is a branch, not an addition: where the digits start
     * does not wait for the byte before them. (Only here: long literals
     * with random signs, logits, would pay for its mispredictions.) */
    if (neg)
        return num_short_after_sign(p + 1, c, v, 1);
    return num_short_after_sign(p, c, v, 0);
}

#endif
