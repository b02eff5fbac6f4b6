/*
 * test_numparse.c — api/numparse.c against glibc's strtod, bit for bit
 * (glibc's strtod rounds correctly to nearest, ties to even), and against
 * strtoull/strtoll for integers, on a few million literals:
 *
 *  - random digit strings of 1..40 significant digits, with a decimal point
 *    anywhere and exponents over the whole range and past it;
 *  - random doubles printed with %.17g and shorter;
 *  - the exact midpoints between adjacent doubles (their full decimal
 *    expansion, up to 768 digits), the same one unit above and below in
 *    the last digit, truncated to 17..40 digits, and padded with zeros
 *    past 800 digits with and without a final 1;
 *  - the subnormal and overflow boundaries, 2^53 +- 1 and other integers at
 *    the edges of 2^53, 2^63 and 2^64, 800+ digit literals, '0.000...',
 *    e-400 / e+400, -0, and literals that are not numbers.
 *
 * Every generator is seeded, so a failure reproduces; the first literals
 * that differ are printed.
 */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_random.h"
#include "internal.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    long checked, failed;
    char first[3][200];
} tally;

/* Parses s both ways; a difference in the value's bits, the length read or
 * the integral flag is a failure. */
static void check_literal(tally *t, const char *s)
{
    size_t len = strlen(s);
    num_value v;
    size_t n = num_parse(s, s + len, &v);
    double want = strtod(s, NULL);
    int integral = strpbrk(s, ".eE") == NULL;
    t->checked++;
    if (n != len || bits_of(v.value) != bits_of(want) || v.integral != integral) {
        if (t->failed < 3)
            snprintf(t->first[t->failed], sizeof t->first[0],
                     "%.80s%s (len %zu): got %a (%zu), want %a", s, len > 80 ? "..." : "", len,
                     v.value, n, want);
        t->failed++;
    }
}

static void tally_assert(const tally *t, const char *what)
{
    printf("numparse %s: %ld literals, %ld differ from strtod\n", what, t->checked, t->failed);
    ck_assert_msg(t->failed == 0, "%s: %ld of %ld differ; first: %s | %s | %s", what, t->failed,
                  t->checked, t->first[0], t->failed > 1 ? t->first[1] : "",
                  t->failed > 2 ? t->first[2] : "");
}

/* ---- decimal expansions of midpoints ------------------------------------- */

/* A big decimal integer, base 10^9 limbs, little-endian. */
#define DEC_LIMBS 200
typedef struct {
    uint32_t l[DEC_LIMBS];
    int n;
} dec;

static void dec_set(dec *d, uint64_t v)
{
    d->n = 0;
    while (v) {
        d->l[d->n++] = (uint32_t)(v % 1000000000);
        v /= 1000000000;
    }
}

static void dec_mul(dec *d, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < d->n; i++) {
        carry += (uint64_t)d->l[i] * m;
        d->l[i] = (uint32_t)(carry % 1000000000);
        carry /= 1000000000;
    }
    while (carry) {
        ck_assert_int_lt(d->n, DEC_LIMBS);
        d->l[d->n++] = (uint32_t)(carry % 1000000000);
        carry /= 1000000000;
    }
}

/* The decimal digits of d into out (NUL-terminated); returns their count. */
static int dec_str(const dec *d, char *out)
{
    int k = sprintf(out, "%u", d->n ? d->l[d->n - 1] : 0);
    for (int i = d->n - 2; i >= 0; i--)
        k += sprintf(out + k, "%09u", d->l[i]);
    return k;
}

/* The exact decimal value of (2m + 1)·2^e as digits and a power of ten:
 * value = digits × 10^(*e10). */
static void midpoint_digits(uint64_t m, int e, char *digits, int *e10)
{
    dec d;
    dec_set(&d, 2 * m + 1);
    if (e >= 0) {
        for (; e >= 30; e -= 30)
            dec_mul(&d, UINT32_C(1) << 30);
        dec_mul(&d, UINT32_C(1) << e);
        *e10 = 0;
    } else { /* (2m + 1)·5^-e / 10^-e */
        int k = -e;
        *e10 = e;
        for (; k >= 13; k -= 13)
            dec_mul(&d, 1220703125); /* 5^13 */
        uint32_t p = 1;
        while (k-- > 0)
            p *= 5;
        dec_mul(&d, p);
    }
    dec_str(&d, digits);
}

/* The midpoint between the positive finite double with bits b and the next
 * one up, as significant digits and exponent. */
static void midpoint_of(uint64_t b, char *digits, int *e10)
{
    uint64_t m = b & ((UINT64_C(1) << 52) - 1);
    int e = -1075;
    if (b >> 52) {
        m |= UINT64_C(1) << 52;
        e = (int)(b >> 52) - 1076;
    }
    midpoint_digits(m, e, digits, e10);
}

/* Writes digits × 10^e10 as a literal: "d.ddde<x>" or, sometimes, plain. */
static void write_sci(char *out, const char *digits, int e10, int plain_ok)
{
    size_t n = strlen(digits);
    if (plain_ok && e10 < 0 && (size_t)-e10 < n) { /* ddd.ddd */
        size_t ip = n - (size_t)-e10;
        memcpy(out, digits, ip);
        out[ip] = '.';
        strcpy(out + ip + 1, digits + ip);
        return;
    }
    out[0] = digits[0];
    size_t k = 1;
    if (n > 1) {
        out[k++] = '.';
        memcpy(out + k, digits + 1, n - 1);
        k += n - 1;
    }
    sprintf(out + k, "e%d", e10 + (int)n - 1);
}

/* Adds delta (+1 or -1) to the decimal digit string in place; 0 if it
 * would lose its leading digit (then it is left alone). */
static int digits_add(char *digits, int delta)
{
    size_t n = strlen(digits);
    if (delta > 0) {
        for (size_t i = n; i-- > 0;) {
            if (digits[i] != '9') {
                digits[i]++;
                return 1;
            }
            digits[i] = '0';
        }
        memmove(digits + 1, digits, n + 1);
        digits[0] = '1';
        return 1;
    }
    for (size_t i = n; i-- > 0;) {
        if (digits[i] != '0') {
            if (i == 0 && digits[i] == '1' && n > 1)
                return 0;
            digits[i]--;
            return 1;
        }
        digits[i] = '9';
    }
    return 0;
}

/* A random positive finite double: uniform bits, or near 1, or subnormal. */
static uint64_t random_double_bits(void)
{
    switch (below(4)) {
    case 0:
        return rnd() & UINT64_C(0x000fffffffffffff); /* subnormal */
    case 1:
        return (UINT64_C(1023) + below(80) - 40) << 52 | (rnd() >> 12);
    default: {
        uint64_t b = rnd() & UINT64_C(0x7fffffffffffffff);
        return (b >> 52) == 0x7ff ? b & UINT64_C(0x7fefffffffffffff) : b;
    }
    }
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_random_digits)
{
    /* 1..40 significant digits, the point anywhere (or none, or after
     * leading zeros), exponents making values from 1e-360 to 1e+330. */
    rng_state = 1;
    tally t = {0};
    char s[128];
    for (int i = 0; i < 2000000; i++) {
        int nd = 1 + (int)below(i % 4 == 0 ? 40 : 19);
        char digits[48];
        digits[0] = (char)('1' + below(9));
        for (int k = 1; k < nd; k++)
            digits[k] = (char)('0' + below(10));
        digits[nd] = '\0';
        int k = 0;
        if (below(2))
            s[k++] = '-';
        int shape = (int)below(4);
        if (shape == 0) { /* 0.000ddd */
            k += sprintf(s + k, "0.%.*s%s", (int)below(12), "000000000000", digits);
        } else if (shape == 1 && nd > 1) { /* dd.ddd */
            int ip = 1 + (int)below((unsigned)nd - 1);
            k += sprintf(s + k, "%.*s.%s", ip, digits, digits + ip);
        } else {
            k += sprintf(s + k, "%s", digits);
        }
        if (shape != 3 || below(2)) {
            int x = (int)below(700) - 360;
            sprintf(s + k, "%c%s%d", below(2) ? 'e' : 'E', x >= 0 && below(2) ? "+" : "", x);
        }
        check_literal(&t, s);
    }
    tally_assert(&t, "random digits");
}
END_TEST

START_TEST(test_printed_doubles)
{
    /* What clients send: %.17g round trips, and shorter forms. */
    rng_state = 2;
    tally t = {0};
    char s[64];
    for (int i = 0; i < 1000000; i++) {
        double d = double_of(random_double_bits());
        snprintf(s, sizeof s, "%.*g", i % 2 ? 17 : 1 + (int)below(17), below(2) ? d : -d);
        check_literal(&t, s);
    }
    for (int i = 0; i < 300000; i++) { /* 0.123-style */
        snprintf(s, sizeof s, "%.*f", 1 + (int)below(8), (double)(rnd() % 100000000) / 1e8);
        check_literal(&t, s);
    }
    tally_assert(&t, "printed doubles");
}
END_TEST

START_TEST(test_midpoints)
{
    /* Exactly between two doubles (ties to even), one unit above and below
     * in the last digit, and truncated to 17..40 digits. */
    rng_state = 3;
    tally t = {0};
    static char digits[1200], s[1300];
    for (int i = 0; i < 60000; i++) {
        uint64_t b = random_double_bits();
        if (b == UINT64_C(0x7fefffffffffffff)) /* the next one up is infinity */
            continue;
        int e10;
        midpoint_of(b, digits, &e10);
        write_sci(s, digits, e10, i % 2);
        check_literal(&t, s);
        char save[1200];
        strcpy(save, digits);
        for (int delta = -1; delta <= 1; delta += 2) {
            strcpy(digits, save);
            if (digits_add(digits, delta)) {
                write_sci(s, digits, e10, 0);
                check_literal(&t, s);
            }
        }
        size_t n = strlen(save);
        int cut = 17 + (int)below(24);
        if ((size_t)cut < n) {
            memcpy(digits, save, (size_t)cut);
            digits[cut] = '\0';
            write_sci(s, digits, e10 + (int)(n - (size_t)cut), 0);
            check_literal(&t, s);
        }
    }
    tally_assert(&t, "midpoints");
}
END_TEST

START_TEST(test_long_literals)
{
    /* 800 digits and more: the fallback keeps 800 and then only whether
     * the rest is zero matters. Midpoints padded with zeros past 800
     * digits (a tie) and then a 1 (above); random 800..1200 digit strings. */
    rng_state = 4;
    tally t = {0};
    static char digits[1300], s[1400];
    for (int i = 0; i < 4000; i++) {
        uint64_t b = random_double_bits();
        if (b == UINT64_C(0x7fefffffffffffff))
            continue;
        int e10;
        midpoint_of(b, digits, &e10);
        size_t n = strlen(digits);
        size_t pad = 800 - (n < 800 ? n : 799) + below(200);
        memset(digits + n, '0', pad);
        digits[n + pad] = '\0';
        write_sci(s, digits, e10 - (int)pad, 0);
        check_literal(&t, s);
        digits[n + pad - 1] = '1';
        write_sci(s, digits, e10 - (int)pad, 0);
        check_literal(&t, s);
        digits[n] = '0' + (char)below(10); /* a nonzero tail right after the midpoint's digits */
        write_sci(s, digits, e10 - (int)pad, 0);
        check_literal(&t, s);
    }
    for (int i = 0; i < 4000; i++) {
        int nd = 800 + (int)below(400);
        digits[0] = (char)('1' + below(9));
        for (int k = 1; k < nd; k++)
            digits[k] = (char)('0' + below(10));
        digits[nd] = '\0';
        write_sci(s, digits, (int)below(900) - 1150, i % 2);
        check_literal(&t, s);
    }
    /* 0.000... with 400 zeros, and an 800-digit integer (infinity). */
    int k = sprintf(s, "0.");
    memset(s + k, '0', 400);
    strcpy(s + k + 400, "123456789");
    check_literal(&t, s);
    memset(s, '9', 800);
    s[800] = '\0';
    check_literal(&t, s);
    memset(s, '1', 300);
    s[300] = '\0';
    check_literal(&t, s);
    tally_assert(&t, "long literals");
}
END_TEST

START_TEST(test_boundaries)
{
    tally t = {0};
    static const char *const fixed[] = {
        /* overflow: DBL_MAX, the midpoint above it (2^1024 - 2^970) and around */
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1.797693134862315708145274237317043567980705675258449965989174768031572607800285387605895586327668781715404589535143824642e308",
        "1.797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548458177115317644757302700698555713669596228429148198608349364752927190741684443655107043427115596995080930428801779041744977919999e308",
        "1.797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179775872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548458177115317644757302700698555713669596228429148198608349364752927190741684443655107043427115596995080930428801779041744977920000e308",
        "-1.7976931348623158e308",
        "1.8e308",
        "1e308",
        "1e309",
        "9.9999999999999999e307",
        /* subnormals, the least one, half of it (ties to 0), the normal edge */
        "4.9406564584124654e-324",
        "5e-324",
        "3e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.47032822920623272e-324",
        "2.4703282292062327208828e-324",
        "1e-323",
        "1.4821969375237396e-323",
        "2.2250738585072009e-308",
        "2.2250738585072011e-308",
        "2.2250738585072012e-308",
        "2.2250738585072013e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "4.4501477170144023e-308",
        "1e-307",
        "1e-310",
        "1e-320",
        "1e-324",
        "1e-325",
        "7.4109846876186982e-324",
        "9.8813129168249309e-324",
        /* powers of ten around the table's ends */
        "1e-342",
        "1e-343",
        "9.99999999999999999e-343",
        "1e-344",
        "1e-400",
        "1e+400",
        "1e308",
        "1e-308",
        "1E22",
        "1e23",
        "1e-22",
        "1e-23",
        "8.589973e9",
        "1e+0",
        "1E-0",
        "0e400",
        "0e-400",
        "0.0e+400",
        "1.0e-400",
        "-1e-400",
        "-1e400",
        "123456789e-400",
        "0.000000000000000000000000000000001e400",
        /* Clinger's fast path and just past it */
        "9007199254740991e22",
        "9007199254740993e22",
        "9007199254740992e-22",
        "9007199254740993e-22",
        "1e22",
        "9007199254740993e0",
        /* zeros */
        "0",
        "-0",
        "0.0",
        "-0.0",
        "0e0",
        "-0e-5",
        "0.000000000000000000000000000000000",
        /* the classic hard cases */
        "0.1",
        "0.2",
        "0.3",
        "2.2204460492503131e-16",
        "7.038531e-26",
        "9007199254740993.0",
        "9007199254740992.5",
        "4503599627370496.5",
        "4503599627370497.5",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "2.0000000000000004440892098500626161694526672363281249",
        "2.0000000000000004440892098500626161694526672363281250",
        "2.0000000000000004440892098500626161694526672363281251",
        "1.89e-6",
        "5.0e-324",
        "6.631236846766476e-316",
        "3.2379086165851934e-319",
        "8.98846567431158e307",
        "7.2057594037927933e16",
        "9223372036854775808",
        "9223372036854775807",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "100000000000000000000",
        "1000000000000000000000000000000",
        "123456789012345678901234567890.123456789",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_literal(&t, fixed[i]);

    /* Every double from the least subnormal up and from DBL_MAX down, a few
     * hundred each, printed with 17 digits and as exact midpoints. */
    static char digits[1200], s[1300];
    uint64_t edges[] = {1,
                        UINT64_C(0x000ffffffffffe00),
                        UINT64_C(0x0010000000000000),
                        UINT64_C(0x7fefffffffffff00),
                        UINT64_C(0x3ff0000000000000),
                        UINT64_C(0x4340000000000000)};
    for (size_t j = 0; j < sizeof edges / sizeof edges[0]; j++)
        for (uint64_t b = edges[j]; b < edges[j] + 256; b++) {
            snprintf(s, sizeof s, "%.17g", double_of(b));
            check_literal(&t, s);
            snprintf(s, sizeof s, "%.16e", double_of(b));
            check_literal(&t, s);
            if (b == UINT64_C(0x7fefffffffffffff))
                continue;
            int e10;
            midpoint_of(b, digits, &e10);
            write_sci(s, digits, e10, 0);
            check_literal(&t, s);
        }
    /* The overflow midpoint itself: (2^54 - 1)·2^970 rounds to infinity
     * (ties to even), one below stays DBL_MAX. */
    int e10;
    midpoint_digits((UINT64_C(1) << 53) - 1, 970, digits, &e10);
    write_sci(s, digits, e10, 0);
    check_literal(&t, s);
    ck_assert(isinf(strtod(s, NULL)));
    digits_add(digits, -1);
    write_sci(s, digits, e10, 0);
    check_literal(&t, s);
    ck_assert(!isinf(strtod(s, NULL)));
    /* Half of the least subnormal ties to 0; a digit more is 2^-1074. */
    midpoint_of(0, digits, &e10);
    write_sci(s, digits, e10, 0);
    check_literal(&t, s);
    strcat(digits, "1");
    write_sci(s, digits, e10 - 1, 0);
    check_literal(&t, s);
    tally_assert(&t, "boundaries");
}
END_TEST

START_TEST(test_integers)
{
    /* 2^53 +- 1 and its neighbours, the edges of int64 and uint64: the
     * double like strtod, the exact integer like strtoll / strtoull. */
    tally t = {0};
    char s[64];
    long checked = 0;
    static const uint64_t centres[] = {UINT64_C(1) << 53,
                                       UINT64_C(1) << 54,
                                       UINT64_C(1) << 63,
                                       UINT64_MAX - 20,
                                       0,
                                       1000000000000000000,
                                       UINT64_C(10000000000000000000) - 10};
    rng_state = 5;
    for (int i = 0; i < 200000; i++) {
        uint64_t u;
        if (i < 7 * 41)
            u = centres[i / 41] + (uint64_t)(i % 41) - (centres[i / 41] >= 20 ? 20 : 0);
        else
            u = rnd() >> below(64);
        int neg = below(2);
        snprintf(s, sizeof s, "%s%llu", neg ? "-" : "", (unsigned long long)u);
        check_literal(&t, s);
        num_value v;
        num_parse(s, s + strlen(s), &v);
        errno = 0;
        unsigned long long uu = strtoull(s + neg, NULL, 10);
        int u_ok = errno == 0;
        ck_assert_msg(v.fits64 == u_ok && (!u_ok || v.mag == uu), "%s: fits64 %d mag %llu", s,
                      v.fits64, (unsigned long long)v.mag);
        errno = 0;
        long long ll = strtoll(s, NULL, 10);
        int64_t i64;
        int ok = num_int64(&v, &i64);
        ck_assert_msg(ok == (errno == 0) && (!ok || i64 == ll), "%s: int64 %d", s, ok);
        uint64_t u64;
        ok = num_uint64(&v, &u64);
        ck_assert_msg(ok == (u_ok && (!neg || uu == 0)) && (!ok || u64 == uu), "%s: uint64 %d", s,
                      ok);
        checked++;
    }
    /* 2^64 and more, 20 digits and beyond: not exact integers. */
    static const char *const big[] = {"18446744073709551616",
                                      "18446744073709551615",
                                      "-9223372036854775808",
                                      "-9223372036854775809",
                                      "9223372036854775808",
                                      "99999999999999999999",
                                      "100000000000000000000",
                                      "00",
                                      "-0"};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        num_value v;
        int64_t i64;
        uint64_t u64;
        size_t n = num_parse(big[i], big[i] + strlen(big[i]), &v);
        ck_assert(n > 0);
        if (i == 0 || i == 5 || i == 6)
            ck_assert(!v.fits64 && !num_uint64(&v, &u64) && !num_int64(&v, &i64));
    }
    num_value v;
    int64_t i64;
    uint64_t u64;
    const char *m = "-9223372036854775808";
    num_parse(m, m + strlen(m), &v);
    ck_assert(num_int64(&v, &i64) && i64 == INT64_MIN && !num_uint64(&v, &u64));
    m = "-0";
    num_parse(m, m + 2, &v);
    ck_assert(num_int64(&v, &i64) && i64 == 0 && num_uint64(&v, &u64) && u64 == 0);
    ck_assert(signbit(v.value));
    m = "2.0";
    num_parse(m, m + 3, &v);
    ck_assert(!v.integral && !v.fits64 && !num_int64(&v, &i64) && v.value == 2.0);
    m = "2e0";
    num_parse(m, m + 3, &v);
    ck_assert(!v.integral && !num_int64(&v, &i64));
    printf("numparse integers: %ld checked against strtoll/strtoull\n", checked);
    tally_assert(&t, "integers");
}
END_TEST

START_TEST(test_syntax)
{
    /* What is not a JSON number reads nothing; what follows one is left. */
    static const struct {
        const char *s;
        size_t n;
    } cases[] = {
        {"", 0},         {"-", 0},     {"+1", 0},    {".5", 0},  {"1.", 0},  {"1.e5", 0},
        {"1e", 0},       {"1e+", 0},   {"1E-", 0},   {"-a", 0},  {"01", 1},  {"-01", 2},
        {"1.5.5", 3},    {"1e5e5", 3}, {"0x10", 1},  {"12,", 2}, {"1]", 1},  {"-0.0e-0 ", 7},
        {"Infinity", 0}, {"NaN", 0},   {"1e5.5", 3}, {"00", 1},  {"- 1", 0}, {"1 ", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        num_value v;
        const char *s = cases[i].s;
        size_t n = num_parse(s, s + strlen(s), &v);
        ck_assert_msg(n == cases[i].n, "\"%s\": read %zu, expected %zu", s, n, cases[i].n);
    }
    /* end is respected: "123" cut to "12". */
    num_value v;
    ck_assert_uint_eq(num_parse("123", "123" + 2, &v), 2);
    ck_assert(v.value == 12.0);
    ck_assert_uint_eq(num_parse("1.5", "1.5" + 2, &v), 0);
    ck_assert_uint_eq(num_parse("1e5", "1e5" + 2, &v), 0);
    /* Exponents beyond any range saturate. */
    const char *huge = "1e99999999999999999999999999";
    ck_assert(num_parse(huge, huge + strlen(huge), &v) == strlen(huge) && isinf(v.value));
    huge = "1e-99999999999999999999999999";
    ck_assert(num_parse(huge, huge + strlen(huge), &v) == strlen(huge) && v.value == 0);
    huge = "0e99999999999999999999999999";
    ck_assert(num_parse(huge, huge + strlen(huge), &v) == strlen(huge) && v.value == 0);
}
END_TEST

/* ---- the decoder's fast arrays ---------------------------------------------

   api/fastarray.c takes nested number arrays whole before jansson sees the
   body; the decoder must then answer exactly as it did when only flat
   arrays were taken (api_arrays.flat_only): the same values, shapes and
   integer flags, and for anything ragged or malformed the same error, field
   and message. Random nested arrays, many of them broken on purpose. */

typedef struct {
    int code;
    char field[160], message[400];
    size_t shape[BL_MAX_DIMS], ndim, count;
    int all_integers;
    double *data;
    int z_ok; /* the integer field "z", as api_integer reads it */
    int64_t z;
} outcome;

static void outcome_free(outcome *o) { free(o->data); }

/* Every way the field "x" is read: as a tensor, as doubles, as integers. */
static void decode_body(const char *body, size_t len, int flat_only, size_t max, outcome out[3],
                        size_t *nested)
{
    api_arrays fa;
    memset(&fa, 0, sizeof fa);
    fa.flat_only = flat_only;
    api_err pe, e;
    memset(out, 0, 3 * sizeof *out);
    memset(&pe, 0, sizeof pe);
    json_t *doc = api_parse_request(body, len, &fa, &pe);
    *nested = fa.ndims;
    for (int k = 0; k < 3; k++) {
        outcome *o = &out[k];
        bl_api_code c;
        memset(&e, 0, sizeof e);
        if (!doc) {
            e = pe;
            c = pe.code;
        } else {
            o->z_ok = api_integer(json_object_get(doc, "z"), &o->z);
            api_value av = {json_object_get(doc, "x"), NULL, &fa};
            if (!av.json)
                av.json = json_null();
            if (k == 0) {
                api_tensor t;
                c = api_tensor_decode(&av, "x", max, "max-elements", &t, &e);
                if (c == BL_API_OK) {
                    memcpy(o->shape, t.shape, sizeof o->shape);
                    o->ndim = t.ndim;
                    o->count = t.count;
                    o->all_integers = t.all_integers;
                    o->data = t.data;
                }
            } else if (k == 1) {
                c = api_doubles(&av, "x", 0, max, "max-elements", &o->data, &o->count, &e);
            } else {
                int64_t *iv = NULL;
                c = api_int64s(&av, "x", max, "max-elements", &iv, &o->count, &e);
                if (c == BL_API_OK) {
                    o->data = malloc((o->count ? o->count : 1) * sizeof *o->data);
                    for (size_t i = 0; i < o->count; i++)
                        memcpy(&o->data[i], &iv[i], sizeof iv[i]);
                }
                free(iv);
            }
        }
        o->code = (int)c;
        if (c != BL_API_OK) {
            snprintf(o->field, sizeof o->field, "%s", e.field);
            snprintf(o->message, sizeof o->message, "%s", e.message);
        }
    }
    json_decref(doc);
    api_arrays_free(&fa);
}

static int outcome_same(const outcome *a, const outcome *b)
{
    if (a->code != b->code || strcmp(a->field, b->field) || strcmp(a->message, b->message) ||
        a->z_ok != b->z_ok || (a->z_ok && a->z != b->z))
        return 0;
    if (a->code != BL_API_OK)
        return 1;
    return a->ndim == b->ndim && a->count == b->count && a->all_integers == b->all_integers &&
           memcmp(a->shape, b->shape, sizeof a->shape) == 0 &&
           (a->count == 0 || memcmp(a->data, b->data, a->count * sizeof *a->data) == 0);
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->buf = realloc(b->buf, b->cap);
        ck_assert(b->buf != NULL);
    }
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

/* One leaf: mostly ordinary numbers, sometimes the literals the decoder
 * treats specially. */
static void put_leaf(sbuf *b, int spice)
{
    static const char *const odd[] = {
        "-0",
        "-0.0",
        "0",
        "1e-4001",
        "-1e-400",
        "12345678901234567890",
        "-9223372036854775809",
        "9007199254740993",
        "1.5e300",
        "2.0",
        "7e0",
        "1e000000000000000000000000000000000000000000000000000000000000000000001",
        "1.0000000000000000000000000000000000000000000000000000000000000000000001",
        "0.000000000000000000000000000000000000000000000000000000000000000000123",
    };
    char s[64];
    unsigned r = below(100);
    if (spice && r < 12)
        sb_put(b, odd[below(sizeof odd / sizeof odd[0])]);
    else if (r < 50)
        snprintf(s, sizeof s, "%d", (int)below(2000) - 1000), sb_put(b, s);
    else
        snprintf(s, sizeof s, "%.*g", 1 + (int)below(17), (double)(int64_t)rnd() / 1e17),
            sb_put(b, s);
}

/* A nested array of the given shape, with one flaw now and then. */
static void put_array(sbuf *b, const size_t *shape, size_t ndim, int flaw, int spice)
{
    static const char *const junk[] = {"true", "null", "\"s\"", "{}", "[]", "[1]", "[[2]]"};
    size_t n = shape[0];
    if (flaw == 1 && below(8) == 0) /* ragged: one array too long or too short */
        n = n > 1 && below(2) ? n - 1 : n + 1;
    sb_put(b, below(4) ? "[" : "[ ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_put(b, below(4) ? ", " : ",\n  ");
        if (flaw == 2 && below(60) == 0)
            sb_put(b, junk[below(sizeof junk / sizeof junk[0])]);
        else if (ndim == 1)
            put_leaf(b, spice);
        else
            put_array(b, shape + 1, ndim - 1, flaw, spice);
    }
    sb_put(b, "]");
}

START_TEST(test_fast_arrays_as_before)
{
    rng_state = 6;
    long cases = 0, nested_cases = 0, failed = 0, ok_cases = 0;
    char first[3][1200] = {"", "", ""};
    sbuf b = {NULL, 0, 0};
    for (int i = 0; i < 3000; i++) {
        size_t ndim = 1 + below(4), shape[BL_MAX_DIMS];
        for (size_t d = 0; d < ndim; d++)
            shape[d] = 1 + below(d + 1 == ndim ? 24 : 7);
        int flaw = (int)below(4); /* 0 none, 1 ragged, 2 junk, 3 broken JSON after it */
        b.len = 0;
        sb_put(&b, "{\"x\": ");
        if (i % 50 == 0) { /* deeper than BL_MAX_DIMS, or exactly as deep */
            size_t deep = BL_MAX_DIMS + below(2);
            for (size_t d = 0; d + 1 < deep; d++)
                sb_put(&b, "[");
            put_array(&b, (size_t[]){20}, 1, 0, 0);
            for (size_t d = 0; d + 1 < deep; d++)
                sb_put(&b, "]");
        } else {
            put_array(&b, shape, ndim, flaw, below(3) == 0);
        }
        sb_put(&b, below(2) ? ", \"y\": " : ", \"y\":");
        put_array(&b, shape, ndim, 0, 0);
        /* 19 digits: exact, unless an integer beyond int64 elsewhere makes
         * the decoder quote every long integer */
        sb_put(&b, ", \"z\": 1000000000000000001");
        sb_put(&b, flaw == 3 ? ", }" : "}");
        while (b.len < 4100)
            sb_put(&b, "                                ");
        size_t max = below(4) == 0 ? 1 + below(100) : 0;
        outcome now[3], before[3];
        size_t nested, nested_before;
        decode_body(b.buf, b.len, 0, max, now, &nested);
        decode_body(b.buf, b.len, 1, max, before, &nested_before);
        ck_assert_uint_eq(nested_before, 0);
        cases++;
        nested_cases += nested > 0;
        for (int k = 0; k < 3; k++) {
            ok_cases += now[k].code == BL_API_OK;
            if (!outcome_same(&now[k], &before[k])) {
                if (failed < 3)
                    snprintf(first[failed], sizeof first[0],
                             "[%d] %.300s -> now %d %s %s; before %d %s %s", k, b.buf, now[k].code,
                             now[k].field, now[k].message, before[k].code, before[k].field,
                             before[k].message);
                failed++;
            }
            outcome_free(&now[k]);
            outcome_free(&before[k]);
        }
    }
    free(b.buf);
    printf("fast arrays: %ld bodies (%ld with nested arrays taken), %ld readings OK, %ld differ "
           "from flat arrays only\n",
           cases, nested_cases, ok_cases, failed);
    ck_assert_msg(failed == 0, "%ld readings differ; first: %s | %s | %s", failed, first[0],
                  first[1], first[2]);
    ck_assert(nested_cases > cases / 4);
}
END_TEST

static Suite *numparse_suite(void)
{
    Suite *s = suite_create("numparse");
    TCase *tc = tcase_create("strtod");
    tcase_add_test(tc, test_syntax);
    tcase_add_test(tc, test_integers);
    tcase_add_test(tc, test_boundaries);
    tcase_add_test(tc, test_random_digits);
    tcase_add_test(tc, test_printed_doubles);
    tcase_add_test(tc, test_midpoints);
    tcase_add_test(tc, test_long_literals);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tc = tcase_create("decoder");
    tcase_add_test(tc, test_fast_arrays_as_before);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(numparse_suite)
