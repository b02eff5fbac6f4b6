/*
 * test_dtoa.c — api/dtoa.c (shortest doubles, integers) and the JSON writer
 * that uses it (api/jw.c, its output limit included).
 *
 *  - round trip: strtod (glibc's, correctly rounded) reads every printed
 *    double back bit for bit, on about 4.5 million values: random bit
 *    patterns, random significands in every binade, every power of ten
 *    1e-324..1e308 and of two, the first 200000 subnormals and random ones,
 *    short decimals and integers, each with its neighbours;
 *  - shortest: on a sample, no decimal with one digit less reads back as
 *    the same double (the two around v at that length are tried);
 *  - Python: every line of tests/dtoa/gen_repr.py (about a million doubles
 *    with CPython's repr of each, generated at test time by $PYTHON, else
 *    /usr/bin/python3) is printed identically, digits and layout;
 *  - the table and the facts behind its arithmetic
 *    (tools/gen_pow10_table.py --check api/dtoa.c);
 *  - integers against printf on the edges of every length and random values,
 *    and every 8-digit block;
 *  - the writer: numbers as dtoa prints them, null for non-finite, and the
 *    output limit (exact fit, one byte short, nothing after).
 *
 * Every generator is seeded, so a failure reproduces; the first values that
 * fail are printed. Run from the repository root (make test does).
 * BALLAST_QUICK=1 (for valgrind) checks 20 times fewer values.
 */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_random.h"
#include "internal.h"

/* ---- helpers ------------------------------------------------------------ */

/* n, or n / 20 under BALLAST_QUICK. */
static long scaled(long n)
{
    static int quick = -1;
    if (quick < 0) {
        const char *q = getenv("BALLAST_QUICK");
        quick = q && *q && strcmp(q, "0") != 0;
    }
    return quick ? n / 20 : n;
}

static long too_long; /* dtoa_shortest wrote more than 24 bytes or past DTOA_BUF */

/* dtoa_shortest as a C string. (No ck_assert in the loops: each passing one
 * is a write to Check's log.) */
static const char *show(double v, char buf[DTOA_BUF + 1])
{
    buf[DTOA_BUF] = '#';
    size_t n = dtoa_shortest(buf, v);
    if (n > 24 || buf[DTOA_BUF] != '#')
        too_long++;
    buf[n < DTOA_BUF ? n : DTOA_BUF] = '\0';
    return buf;
}

typedef struct {
    long checked, failed;
} tally;

static void report(const tally *t, const char *what)
{
    ck_assert_msg(t->failed == 0, "%s: %ld of %ld failed", what, t->failed, t->checked);
    ck_assert_msg(t->checked > 0, "%s: nothing checked", what);
    ck_assert_msg(too_long == 0, "%s: %ld outputs longer than 24 bytes", what, too_long);
}

/* ---- round trip ---------------------------------------------------------------- */

static void round_trip(tally *t, double v)
{
    if (!isfinite(v))
        return;
    char buf[DTOA_BUF + 1];
    const char *s = show(v, buf);
    double back = strtod(s, NULL);
    t->checked++;
    if (bits_of(back) != bits_of(v) && t->failed++ < 10)
        fprintf(stderr, "round trip: %016" PRIx64 " (%.17g) printed %s reads %016" PRIx64 "\n",
                bits_of(v), v, s, bits_of(back));
}

/* v and the k doubles on either side. */
static void round_trip_around(tally *t, double v, int k)
{
    round_trip(t, v);
    double lo = v, hi = v;
    for (int i = 0; i < k; i++) {
        lo = nextafter(lo, -INFINITY);
        hi = nextafter(hi, INFINITY);
        round_trip(t, lo);
        round_trip(t, hi);
    }
}

START_TEST(round_trip_random_bits)
{
    tally t = {0, 0};
    rng_state = 1;
    for (long i = 0; i < scaled(2000000); i++)
        round_trip(&t, double_of(rnd()));
    report(&t, "random bit patterns");
}
END_TEST

START_TEST(round_trip_every_binade)
{
    /* 500 random significands under each of the 2047 exponents (subnormals
     * included), both signs. */
    tally t = {0, 0};
    rng_state = 2;
    for (uint64_t e = 0; e < 2047; e++)
        for (long i = 0; i < scaled(500); i++)
            round_trip(&t, double_of((rnd() & UINT64_C(0x800fffffffffffff)) | e << 52));
    report(&t, "every binade");
}
END_TEST

START_TEST(round_trip_powers)
{
    tally t = {0, 0};
    char s[16];
    for (int e = -324; e <= 308; e++) {
        snprintf(s, sizeof s, "1e%d", e);
        round_trip_around(&t, strtod(s, NULL), 3);
    }
    for (int e = -1074; e <= 1023; e++)
        round_trip_around(&t, ldexp(1.0, e), 3);
    round_trip_around(&t, 1.7976931348623157e308, 3);
    report(&t, "powers of ten and two");
}
END_TEST

START_TEST(round_trip_subnormals)
{
    tally t = {0, 0};
    for (uint64_t c = 1; c <= (uint64_t)scaled(200000); c++)
        round_trip(&t, double_of(c));
    rng_state = 3;
    for (long i = 0; i < scaled(200000); i++)
        round_trip(&t, double_of(rnd() & ((UINT64_C(1) << 52) - 1)));
    round_trip_around(&t, 2.2250738585072014e-308, 50); /* the smallest normal */
    report(&t, "subnormals");
}
END_TEST

START_TEST(round_trip_short_decimals)
{
    /* d * 10^e with 1..17 random digits, and the doubles next to it: the
     * ends of rounding intervals fall on such decimals. Also integers. */
    tally t = {0, 0};
    char s[48];
    rng_state = 4;
    for (long i = 0; i < scaled(300000); i++) {
        int n = 1 + (int)(rnd() % 17);
        uint64_t p = 1;
        for (int j = 0; j < n; j++)
            p *= 10;
        snprintf(s, sizeof s, "%" PRIu64 "e%d", rnd() % p, (int)(rnd() % 650) - 340);
        round_trip_around(&t, strtod(s, NULL), 1);
    }
    for (long i = 0; i < scaled(300000); i++)
        round_trip(&t, (double)(rnd() >> (rnd() % 64)));
    report(&t, "short decimals and integers");
}
END_TEST

/* ---- shortest ---------------------------------------------------------------------- */

/* No decimal of n - 1 digits reads back as v (n the digits printed): the
 * two such decimals around v are the one printf rounds to and its
 * neighbour in the last place on the other side of v. */
static void shortest(tally *t, double v)
{
    uint64_t digits;
    int e;
    dtoa_decimal(v, &digits, &e);
    char d[24];
    int n = snprintf(d, sizeof d, "%" PRIu64, digits);
    t->checked++;
    if (n <= 1)
        return;
    char s[64];
    snprintf(s, sizeof s, "%.*e", n - 2, v); /* n - 1 digits, nearest to v */
    char *ep = strchr(s, 'e');
    int x = atoi(ep + 1); /* s = m 10^(x - (n - 2)) with m the n - 1 digits */
    *ep = '\0';
    char m[32];
    size_t k = 0;
    for (const char *p = s; *p; p++)
        if (*p >= '0' && *p <= '9')
            m[k++] = *p;
    m[k] = '\0';
    uint64_t near = strtoull(m, NULL, 10);
    for (int delta = -1; delta <= 1; delta++) {
        char c[64];
        snprintf(c, sizeof c, "%" PRIu64 "e%d", near + (uint64_t)(int64_t)delta, x - (n - 2));
        if (bits_of(strtod(c, NULL)) == bits_of(fabs(v))) {
            if (t->failed++ < 10)
                fprintf(stderr, "not shortest: %.17g printed with %d digits, %s reads back\n", v, n,
                        c);
            return;
        }
    }
}

START_TEST(shortest_sample)
{
    tally t = {0, 0};
    rng_state = 5;
    for (long i = 0; i < scaled(300000); i++) {
        double v = fabs(double_of(rnd()));
        if (isfinite(v))
            shortest(&t, v);
    }
    char s[16];
    for (int e = -324; e <= 308; e++) {
        snprintf(s, sizeof s, "1e%d", e);
        double v = strtod(s, NULL);
        shortest(&t, nextafter(v, INFINITY));
        shortest(&t, nextafter(v, 0));
    }
    for (int e = -1074; e <= 1023; e++)
        shortest(&t, ldexp(1.0, e));
    report(&t, "shortest");
}
END_TEST

/* ---- Python's repr --------------------------------------------------------------- */

START_TEST(python_repr)
{
    const char *py = getenv("PYTHON");
    if (!py || !*py)
        py = "/usr/bin/python3";
    char cmd[512];
    long count = scaled(1400000);
    snprintf(cmd, sizeof cmd, "%s tests/dtoa/gen_repr.py --count %ld", py, count);
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "cannot run %s", cmd);
    tally t = {0, 0};
    char line[128], buf[DTOA_BUF + 1];
    while (fgets(line, sizeof line, f)) {
        char *want = line + 17;
        want[strcspn(want, "\n")] = '\0';
        uint64_t b = strtoull(line, NULL, 16);
        const char *got = show(double_of(b), buf);
        t.checked++;
        if (strcmp(got, want) != 0 && t.failed++ < 10)
            fprintf(stderr, "repr: %016" PRIx64 ": Python %s, dtoa %s\n", b, want, got);
    }
    int rc = pclose(f);
    ck_assert_msg(rc == 0, "%s failed (status %d): python3 is a test dependency", cmd, rc);
    ck_assert_msg(t.checked > count / 2, "only %ld lines from %s", t.checked, cmd);
    report(&t, "Python repr");
}
END_TEST

START_TEST(table_and_facts)
{
    const char *py = getenv("PYTHON");
    if (!py || !*py)
        py = "/usr/bin/python3";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s tools/gen_pow10_table.py --check api/dtoa.c", py);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}
END_TEST

START_TEST(layout)
{
    /* Python 3's repr of each. */
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {-2.5, "-2.5"},
        {0.1, "0.1"},
        {100.0, "100.0"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {9999999999999998.0, "9999999999999998.0"},
        {1234567890123456.0, "1234567890123456.0"},
        {12345678901234568.0, "1.2345678901234568e+16"},
        {1.5e300, "1.5e+300"},
        {1e100, "1e+100"},
        {1e-05, "1e-05"},
        {1.5e-05, "1.5e-05"},
        {0.0001, "0.0001"},
        {0.00012345, "0.00012345"},
        {123.456, "123.456"},
        {5e-324, "5e-324"},
        {1e-320, "1e-320"},
        {1e-323, "1e-323"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {0.30000000000000004, "0.30000000000000004"},
        {1125899906842624.25, "1125899906842624.2"}, /* a tie: to even */
        {1125899906842624.75, "1125899906842624.8"},
        {1e23, "1e+23"},
        {9007199254740993.0, "9007199254740992.0"},
        {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"},
    };
    char buf[DTOA_BUF + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(show(cases[i].v, buf), cases[i].s);
    ck_assert_str_eq(show(NAN, buf), "nan");
    ck_assert_str_eq(show(INFINITY, buf), "inf");
    ck_assert_str_eq(show(-INFINITY, buf), "-inf");
}
END_TEST

/* ---- integers --------------------------------------------------------------------- */

static void check_u64(tally *t, uint64_t v)
{
    char want[32], got[DTOA_BUF + 1];
    snprintf(want, sizeof want, "%" PRIu64, v);
    got[dtoa_u64(got, v)] = '\0';
    t->checked++;
    if (strcmp(want, got) != 0 && t->failed++ < 10)
        fprintf(stderr, "u64: %s printed %s\n", want, got);
}

static void check_i64(tally *t, int64_t v)
{
    char want[32], got[DTOA_BUF + 1];
    snprintf(want, sizeof want, "%" PRId64, v);
    got[dtoa_i64(got, v)] = '\0';
    t->checked++;
    if (strcmp(want, got) != 0 && t->failed++ < 10)
        fprintf(stderr, "i64: %s printed %s\n", want, got);
}

START_TEST(integers)
{
    tally t = {0, 0};
    uint64_t p = 1;
    for (int i = 0; i < 20; i++, p *= 10)
        for (uint64_t d = 0; d < 3; d++) {
            check_u64(&t, p + d);
            check_u64(&t, p - d);
            check_i64(&t, (int64_t)(p + d));
            check_i64(&t, -(int64_t)(p - d));
        }
    check_u64(&t, UINT64_MAX);
    check_i64(&t, INT64_MAX);
    check_i64(&t, INT64_MIN);
    rng_state = 6;
    for (long i = 0; i < scaled(1000000); i++) {
        uint64_t r = rnd() >> (rnd() % 64);
        check_u64(&t, r);
        check_i64(&t, (int64_t)(rnd() >> (rnd() % 64)));
    }
    report(&t, "integers");
}
END_TEST

START_TEST(eight_digit_blocks)
{
    /* Every 8-digit block (dtoa.c's fixed-point digit pairs): 10^8 + x for
     * each x < 10^8 against a decimal counter (under BALLAST_QUICK, the
     * first 5 000 000). */
    char want[10] = "100000000", got[DTOA_BUF + 1];
    long bad = 0;
    uint64_t end = (uint64_t)scaled(100000000);
    for (uint64_t x = 0; x < end; x++) {
        size_t n = dtoa_u64(got, 100000000 + x);
        if ((n != 9 || memcmp(got, want, 9) != 0) && bad++ < 10)
            fprintf(stderr, "u64: %s printed %.*s\n", want, (int)n, got);
        for (int i = 8; i > 0 && ++want[i] > '9'; i--) /* want += 1 */
            want[i] = '0';
    }
    ck_assert_msg(bad == 0, "%ld of %" PRIu64 " blocks wrong", bad, end);
}
END_TEST

/* ---- the writer --------------------------------------------------------------- */

START_TEST(writer_numbers)
{
    double v[] = {1.0, 0.1, NAN, -0.0, 1e16, INFINITY, 5e-324};
    int64_t iv[] = {0, -1, INT64_MIN, INT64_MAX};
    jw w;
    jw_init(&w);
    jw_doubles(&w, v, sizeof v / sizeof v[0]);
    jw_int64s(&w, iv, sizeof iv / sizeof iv[0]);
    size_t shape[2] = {2, 2};
    jw_tensor(&w, v, shape, 2);
    jw_count(&w, 3.0);
    jw_raw(&w, " ", 1);
    jw_count(&w, 2.5);
    jw_raw(&w, " ", 1);
    jw_uint(&w, UINT64_MAX);
    ck_assert_uint_eq(w.nonfinite, 3);
    size_t len;
    char *text = jw_take(&w, &len);
    const char *want = "[1.0,0.1,null,-0.0,1e+16,null,5e-324]"
                       "[0,-1,-9223372036854775808,9223372036854775807]"
                       "[[1.0,0.1],[null,-0.0]]3 2.5 18446744073709551615";
    ck_assert_str_eq(text, want);
    ck_assert_uint_eq(len, strlen(want));
    free(text);
}
END_TEST

/* Writes the same document under a limit; returns it (NULL when over). */
static char *limited(size_t limit, int *over)
{
    double v[] = {1.5, 1e-300, 2.0};
    int64_t iv[] = {12, -3};
    jw w;
    jw_init(&w);
    w.limit = limit;
    jw_raw(&w, "{", 1);
    jw_key(&w, "a");
    jw_doubles(&w, v, 3);
    jw_key(&w, "b");
    jw_int64s(&w, iv, 2);
    jw_key(&w, "c");
    jw_double(&w, 0.25);
    jw_raw(&w, "}", 1);
    ck_assert(!w.oom);
    ck_assert(!w.limit || w.len <= w.limit);
    *over = w.over;
    return jw_take(&w, NULL);
}

START_TEST(writer_limit)
{
    const char *want = "{\"a\":[1.5,1e-300,2.0],\"b\":[12,-3],\"c\":0.25}";
    size_t n = strlen(want);
    int over;
    char *s = limited(0, &over); /* no limit */
    ck_assert_str_eq(s, want);
    ck_assert(!over);
    free(s);
    s = limited(n, &over); /* an exact fit */
    ck_assert_str_eq(s, want);
    ck_assert(!over);
    free(s);
    /* One byte short, and every shorter limit: over, nothing handed out,
     * whichever write (key, bracket, real, integer) hits the limit. */
    for (size_t limit = 1; limit < n; limit++) {
        s = limited(limit, &over);
        ck_assert_msg(over && s == NULL, "limit %zu", limit);
    }
    /* Nothing is written after the limit was hit, even what would fit. */
    jw w;
    jw_init(&w);
    w.limit = 4;
    jw_raw(&w, "12345", 5);
    ck_assert(w.over);
    jw_raw(&w, "1", 1);
    jw_double(&w, 1.0);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_ptr_null(jw_take(&w, NULL));
}
END_TEST

static Suite *dtoa_suite(void)
{
    Suite *s = suite_create("dtoa");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, round_trip_random_bits);
    tcase_add_test(tc, round_trip_every_binade);
    tcase_add_test(tc, round_trip_powers);
    tcase_add_test(tc, round_trip_subnormals);
    tcase_add_test(tc, round_trip_short_decimals);
    tcase_add_test(tc, shortest_sample);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    tc = tcase_create("python");
    tcase_add_test(tc, python_repr);
    tcase_add_test(tc, table_and_facts);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, layout);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, eight_digit_blocks);
    tcase_add_test(tc, writer_numbers);
    tcase_add_test(tc, writer_limit);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(dtoa_suite)
