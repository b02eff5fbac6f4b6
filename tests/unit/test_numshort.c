/*
 * test_numshort.c — num_parse's first try for short literals (api/numshort.h)
 * and the array scanner's loop over a row's numbers (api/fastarray.c,
 * take_numbers), against what they replace:
 *
 *  - every literal of a grid around the short path's edges (0 to 8 integer
 *    digits, 0 to 8 fraction digits, signs, leading zeros, "1.", exponents,
 *    and each followed by every kind of byte), and random literals of 1..25
 *    digits, each read from a buffer with 8 or more bytes after it (where
 *    the short path may take it) and from one that ends with it (where it
 *    cannot): num_parse's fields must equal num_parse_long's, field for
 *    field, and the value strtod's, bit for bit;
 *  - num_parse_short on its own: whatever it takes, num_parse_long reads
 *    the same; what it must take (short literals with room) it takes;
 *  - request bodies whose arrays mix short and long literals, integers
 *    near 2^53 and 2^63, -0, broken literals, nested rows: decoded with
 *    ", " between numbers (the loop) and with " , " (one number at a time,
 *    after_value each time), the two decodings must agree in every number,
 *    flag and error, a taken array's numbers must be strtod's, and whether
 *    a valid array is taken whole, with which integer flags, must follow
 *    from its literals by fastarray.c's rules.
 *
 * Seeded, so a failure reproduces.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "test_random.h"
#include "decode.h"
#include "numshort.h"

/* What follows a literal in the grid: separators, brackets, bytes that
 * continue or break a number, a NUL, bytes above 0x7f. */
static const char follow[] = {',', ' ', ']', '}', '\n', '.',  'e', 'E',        '+',       '-',
                              'x', '0', '9', '/', ':',  '\0', '"', (char)0x80, (char)0xff};
#define NFOLLOW (sizeof follow / sizeof follow[0])

typedef struct {
    long checked, short_taken, must_take, failed;
    char first[200];
} tally;

static int same_value(const num_value *a, const num_value *b)
{
    return bits_of(a->value) == bits_of(b->value) && a->neg == b->neg &&
           a->integral == b->integral && a->fits64 == b->fits64 && a->mag == b->mag;
}

static void note_failure(tally *t, const char *lit, size_t len, const char *why)
{
    if (t->failed++ == 0)
        snprintf(t->first, sizeof t->first, "\"%.*s\" (%zu bytes): %s", (int)(len > 60 ? 60 : len),
                 lit, len, why);
}

/* The literal lit (len bytes, what follows it included) read with end at
 * lit + len: num_parse against num_parse_long and strtod, and num_parse_short
 * alone. must_take: the short path must take it. */
static void check_one(tally *t, const char *lit, size_t len, int must_take)
{
    num_value a, b, c;
    memset(&a, 0xa5, sizeof a);
    memset(&b, 0x5a, sizeof b);
    memset(&c, 0x3c, sizeof c);
    size_t n = num_parse(lit, lit + len, &a);
    size_t m = num_parse_long(lit, lit + len, &b);
    size_t k = num_parse_short(lit, lit + len, &c);
    t->checked++;
    t->short_taken += k > 0;
    t->must_take += must_take;
    if (n != m) {
        note_failure(t, lit, len, "num_parse and num_parse_long read different lengths");
    } else if (n && !same_value(&a, &b)) {
        note_failure(t, lit, len, "num_parse and num_parse_long differ in a field");
    } else if (k && (k != m || !same_value(&c, &b))) {
        note_failure(t, lit, len, "num_parse_short differs from num_parse_long");
    } else if (must_take && !k) {
        note_failure(t, lit, len, "num_parse_short left a short literal");
    } else if (n) {
        char tmp[80];
        memcpy(tmp, lit, n);
        tmp[n] = '\0';
        if (bits_of(a.value) != bits_of(strtod(tmp, NULL)))
            note_failure(t, lit, len, "the value is not strtod's");
    }
}

/* lit followed by f, then 8 bytes of padding (room for the short path),
 * and lit alone ending the buffer (none). */
static void check_both(tally *t, const char *lit, char f, int is_short)
{
    char buf[96];
    size_t len = strlen(lit);
    memcpy(buf, lit, len);
    buf[len] = f;
    memcpy(buf + len + 1, ", 0.5, 1", 8);
    /* a short literal followed by anything but a digit, '.', 'e' or 'E' */
    int takes = is_short && !(f >= '0' && f <= '9') && f != '.' && f != 'e' && f != 'E';
    check_one(t, buf, len + 9, takes);
    check_one(t, buf, len, 0);
    check_one(t, buf, len + 1, 0);
}

static void tally_assert(const tally *t, const char *what)
{
    printf("numshort %s: %ld literals, %ld taken by the short path (%ld had to be), %ld failed\n",
           what, t->checked, t->short_taken, t->must_take, t->failed);
    ck_assert_msg(t->failed == 0, "%s: %ld of %ld failed; first: %s", what, t->failed, t->checked,
                  t->first);
}

/* Digits: n of them, the first nonzero unless lead0. */
static void put_digits(char *s, int n, int lead0)
{
    for (int i = 0; i < n; i++)
        s[i] = (char)('0' + (i == 0 && !lead0 ? 1 + below(9) : below(10)));
    s[n] = '\0';
}

START_TEST(test_short_grid)
{
    tally t = {0};
    rng_state = 11;
    char lit[64];
    for (int neg = 0; neg < 2; neg++)
        for (int ni = 0; ni <= 8; ni++)      /* integer digits; 0: a lone "0" */
            for (int nf = -1; nf <= 8; nf++) /* fraction digits; -1: none, 0: "1." */
                for (int ex = 0; ex < 3; ex++)
                    for (int rep = 0; rep < 12; rep++) {
                        char *p = lit;
                        if (neg)
                            *p++ = '-';
                        if (ni == 0) {
                            *p++ = '0';
                        } else {
                            put_digits(p, ni, 0);
                            p += ni;
                        }
                        if (nf >= 0) {
                            *p++ = '.';
                            put_digits(p, nf, 1);
                            p += nf;
                        }
                        static const char *const exps[] = {"", "e5", "E-3"};
                        strcpy(p, exps[ex]);
                        int digits = (ni ? ni : 1) + (nf > 0 ? nf : 0);
                        int bytes = digits + (nf >= 0);
                        int is_short = ex == 0 && nf != 0 && bytes <= 7 && digits <= 7;
                        for (size_t f = 0; f < NFOLLOW; f++)
                            check_both(&t, lit, follow[f], is_short);
                    }
    /* The edges by name: leading zeros, "-0", zeros, a '.' on the 8th
     * byte, 7 and 8 digits, 19 and 20 digits, 2^53 and its neighbours,
     * 10^22 and beyond, exponents, and what is no number. */
    static const char *const named[] = {"0",
                                        "-0",
                                        "00",
                                        "01",
                                        "-01",
                                        "0.000",
                                        "-0.000",
                                        "0.0",
                                        "-0.0",
                                        "0.1234567",
                                        "0.123456",
                                        "1234567",
                                        "12345678",
                                        "1234567.",
                                        "123456.7",
                                        "1.",
                                        "-1.",
                                        "1.e5",
                                        "1e5",
                                        "1E5",
                                        "-",
                                        "-a",
                                        ".5",
                                        "+1",
                                        "9999999",
                                        "999999.9",
                                        "-9999999",
                                        "0.0000001",
                                        "9007199254740992",
                                        "9007199254740993",
                                        "9007199254740991",
                                        "-9007199254740993",
                                        "4503599627370496.5",
                                        "1000000000000000000",
                                        "9999999999999999999",
                                        "10000000000000000000",
                                        "18446744073709551615",
                                        "18446744073709551616",
                                        "1e22",
                                        "1e23",
                                        "10000000000000000000000",
                                        "9999999999999999999e3",
                                        "1.5e-22",
                                        "123.456e-2",
                                        "0.5e0",
                                        "5e-324",
                                        "1e400",
                                        "-1e-400",
                                        "2.2250738585072011e-308",
                                        "1.7976931348623157e308"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        for (size_t f = 0; f < NFOLLOW; f++)
            check_both(&t, named[i], follow[f], 0);
    tally_assert(&t, "grid");
    ck_assert(t.must_take > 5000);
}
END_TEST

START_TEST(test_short_random)
{
    /* 1..25 digits with a '.' anywhere or none, an exponent sometimes,
     * then a random byte: most short ones and many that are not. */
    tally t = {0};
    rng_state = 12;
    char lit[96];
    for (int i = 0; i < 400000; i++) {
        char *p = lit;
        if (below(3) == 0)
            *p++ = '-';
        int nd = 1 + (int)(below(4) ? below(8) : below(25));
        int dot = below(3) ? (int)below((unsigned)nd) + 1 : nd + 1; /* after digit `dot` */
        int lead0 = below(4) == 0;
        for (int d = 0; d < nd; d++) {
            if (d == dot)
                *p++ = '.';
            *p++ = (char)('0' + (d == 0 && lead0 ? 0 : d == 0 ? 1 + below(9) : below(10)));
        }
        if (dot == nd)
            *p++ = '.'; /* "12." reads nothing */
        if (below(8) == 0)
            p += sprintf(p, "e%d", (int)below(40) - 20);
        *p = '\0';
        check_both(&t, lit, follow[below(NFOLLOW)], 0);
    }
    tally_assert(&t, "random");
}
END_TEST

/* ---- the array scanner's loop -------------------------------------------- */

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

/* One number of an array: mostly short ones, some of every other kind. */
static void put_token(sbuf *b, int kind, int flaw)
{
    static const char *const odd[] = {"-0",
                                      "0",
                                      "-0.0",
                                      "9007199254740992",
                                      "9007199254740993",
                                      "1e5",
                                      "-2.5E-3",
                                      "0.84018771715470952",
                                      "-3.1415926535897931",
                                      "1e400",
                                      "1.",
                                      "01",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "18446744073709551616",
                                      "123456789012345678901234",
                                      "12345678",
                                      "0.1234567",
                                      "1e22",
                                      "-0.000"};
    static const char *const broken[] = {"-", "1.", "true", "\"1\"", "[1]", "", "1e", "--1"};
    char tmp[40];
    if (flaw) {
        sb_put(b, broken[below(sizeof broken / sizeof broken[0])]);
        return;
    }
    switch (kind) {
    case 0: /* short decimals, a sign sometimes */
        snprintf(tmp, sizeof tmp, "%s%u.%0*u", below(4) ? "" : "-", below(3) ? 0 : below(1000),
                 1 + (int)below(3), below(1000));
        break;
    case 1: /* labels */
        snprintf(tmp, sizeof tmp, "%u", below(4) ? below(1000) : below(10000000));
        break;
    default:
        snprintf(tmp, sizeof tmp, "%s", odd[below(sizeof odd / sizeof odd[0])]);
    }
    sb_put(b, tmp);
}

/* {"x": <array>, "n": 1}: nested rows when ndim > 1, the numbers drawn
 * from the same seed whatever the separator, so that two bodies differ in
 * their separators only. 1 when a flaw (no number) is in the array. */
static int put_body(sbuf *b, uint64_t seed, const char *sep, size_t ndim, const size_t *shape)
{
    uint64_t keep = rng_state;
    rng_state = seed;
    int kind = (int)below(3), odd_rate = below(2) ? 0 : 1 + (int)below(30);
    int flaw_at = below(4) == 0 ? (int)below(200) : -1;
    b->len = 0;
    sb_put(b, "{\"x\": ");
    size_t idx[8] = {0}, total = 1;
    for (size_t d = 0; d < ndim; d++)
        total *= shape[d];
    for (size_t i = 0; i < total; i++) {
        size_t r = i;
        for (size_t d = ndim; d-- > 0;) {
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        size_t opens = 0;
        while (opens < ndim && idx[ndim - 1 - opens] == 0)
            opens++;
        if (i > 0)
            sb_put(b, sep);
        for (size_t d = 0; d < opens; d++)
            sb_put(b, "[");
        int k = odd_rate && below((unsigned)odd_rate) == 0 ? 2 : kind;
        put_token(b, k, (int)i == flaw_at);
        size_t closes = 0;
        while (closes < ndim && idx[ndim - 1 - closes] == shape[ndim - 1 - closes] - 1)
            closes++;
        for (size_t d = 0; d < closes; d++)
            sb_put(b, "]");
    }
    sb_put(b, ", \"n\": 1}");
    /* arrays are taken from bodies of 4096 bytes or more (parse.c) */
    while (b->len < 4100)
        sb_put(b, "                                ");
    rng_state = keep;
    return flaw_at >= 0 && (size_t)flaw_at < total;
}

typedef struct {
    int ok;
    size_t narr, nvals, ndims;
    struct fast_array a0;
    double *vals;
    char msg[200];
} decoded;

static void decode(const sbuf *b, decoded *out)
{
    api_arrays fa;
    memset(&fa, 0, sizeof fa);
    api_err e;
    memset(&e, 0, sizeof e);
    memset(out, 0, sizeof *out);
    json_t *doc = api_parse_request(b->buf, b->len, &fa, &e);
    out->ok = doc != NULL;
    if (!doc)
        snprintf(out->msg, sizeof out->msg, "%.150s", e.message);
    json_decref(doc);
    out->narr = fa.narr;
    out->nvals = fa.nvals;
    out->ndims = fa.ndims;
    if (fa.narr)
        out->a0 = fa.arr[0];
    out->vals = fa.vals;
    fa.vals = NULL;
    api_arrays_free(&fa);
}

/* The tokens of the array in body b, in order, for strtod: every run of
 * bytes that may be in a number. */
static size_t tokens(const sbuf *b, char tok[][48], size_t max)
{
    size_t n = 0;
    const char *p = strchr(b->buf, '['), *end = strstr(b->buf, ", \"n\"");
    while (p && p < end && n < max) {
        size_t k = strspn(p, "0123456789.eE+-");
        if (k) {
            snprintf(tok[n++], 48, "%.*s", (int)k, p);
            p += k;
        } else {
            p++;
        }
    }
    return n;
}

/* Whether a valid body's array was taken whole, as the rules in
 * fastarray.c say, from its literals alone: integers only with one of
 * 2^53 or more are left (jansson keeps them exact), and so is a nested
 * array with rows shorter than FAST_MIN holding an integer beyond int64;
 * a taken array's first non-integer is where its literals say. */
static void check_taken(const sbuf *a, const decoded *da, size_t ndim, const size_t *shape,
                        size_t total)
{
    static char tok[4096][48];
    size_t nt = tokens(a, tok, 4096), first_real = nt;
    int big53 = 0, beyond64 = 0;
    ck_assert_uint_eq(nt, total);
    for (size_t j = 0; j < nt; j++) {
        if (strpbrk(tok[j], ".eE")) {
            first_real = first_real < j ? first_real : j;
            continue;
        }
        big53 |= fabs(strtod(tok[j], NULL)) >= 0x1p53;
        errno = 0;
        (void)strtoll(tok[j], NULL, 10);
        beyond64 |= errno == ERANGE;
    }
    int all_int = first_real == nt, row_short = ndim > 1 && shape[ndim - 1] < FAST_MIN;
    int want = total >= FAST_MIN && !(all_int && big53) && !(row_short && beyond64);
    int whole = da->narr == 1 && da->a0.ndim == ndim;
    if (ndim == 1 || !want)
        ck_assert_msg(whole == want, "%.200s: taken %d, should be %d", a->buf, whole, want);
    if (whole)
        ck_assert(da->a0.all_integers == all_int && (all_int || da->a0.first_real == first_real));
}

/* The two decodings of one array (a: ", " and the like between numbers, c:
 * " , "): the same in everything; a taken array's numbers strtod's. */
static void check_decoded(const sbuf *a, const decoded *da, const decoded *dc, size_t ndim,
                          const size_t *shape, int flawed, long counts[3])
{
    static char tok[4096][48];
    /* (an error's message may name a position, which the separators move) */
    ck_assert_msg(da->ok == dc->ok && da->narr == dc->narr && da->nvals == dc->nvals &&
                      da->ndims == dc->ndims,
                  "%.200s: ok %d/%d, arrays %zu/%zu, numbers %zu/%zu, %s / %s", a->buf, da->ok,
                  dc->ok, da->narr, dc->narr, da->nvals, dc->nvals, da->msg, dc->msg);
    size_t total = 1;
    for (size_t d = 0; d < ndim; d++)
        total *= shape[d];
    if (da->ok && !flawed)
        check_taken(a, da, ndim, shape, total);
    if (!da->narr)
        return;
    counts[0]++;
    ck_assert(da->a0.len == dc->a0.len && da->a0.all_integers == dc->a0.all_integers &&
              da->a0.ndim == dc->a0.ndim &&
              (da->a0.all_integers || da->a0.first_real == dc->a0.first_real));
    for (size_t j = 0; j < da->nvals; j++)
        ck_assert_msg(bits_of(da->vals[j]) == bits_of(dc->vals[j]), "%.200s [%zu]: %a vs %a",
                      a->buf, j, da->vals[j], dc->vals[j]);
    /* (a nested array left whole may have its long rows taken) */
    if (da->narr > 1 || da->a0.ndim != ndim)
        return;
    counts[1]++;
    size_t nt = tokens(a, tok, 4096);
    ck_assert_uint_eq(nt, da->a0.len);
    for (size_t j = 0; j < da->nvals; j++) {
        /* an integer -0 in a row shorter than FAST_MIN reads 0 */
        double want = strtod(tok[j], NULL);
        int negzero_short_row =
            ndim > 1 && shape[ndim - 1] < FAST_MIN && want == 0 && !strpbrk(tok[j], ".eE");
        ck_assert_msg(bits_of(da->vals[j]) == bits_of(negzero_short_row ? 0.0 : want),
                      "%s: %a, strtod %a", tok[j], da->vals[j], want);
        counts[2]++;
    }
}

START_TEST(test_scanner_loop)
{
    rng_state = 13;
    sbuf a = {NULL, 0, 0}, c = {NULL, 0, 0};
    long bodies = 0, counts[3] = {0, 0, 0}; /* taken, taken whole, numbers checked */
    static const char *const seps[] = {",", ", ", ",\n  ", ",\t"};
    for (int i = 0; i < 4000; i++) {
        size_t ndim = 1 + below(3), shape[3];
        for (size_t d = 0; d < ndim; d++)
            shape[d] = d + 1 == ndim ? 1 + below(i % 5 == 0 ? 12 : 150) : 1 + below(5);
        uint64_t seed = rnd();
        int flawed = put_body(&a, seed, seps[below(4)], ndim, shape);
        put_body(&c, seed, " , ", ndim, shape);
        decoded da, dc;
        decode(&a, &da);
        decode(&c, &dc);
        check_decoded(&a, &da, &dc, ndim, shape, flawed, counts);
        free(da.vals);
        free(dc.vals);
        bodies++;
    }
    free(a.buf);
    free(c.buf);
    printf("numshort scanner: %ld bodies, %ld with arrays taken (%ld whole), %ld numbers as "
           "strtod's\n",
           bodies, counts[0], counts[1], counts[2]);
    ck_assert(counts[1] > bodies / 4 && counts[2] > 100000);
}
END_TEST

static Suite *numshort_suite(void)
{
    Suite *s = suite_create("numshort");
    TCase *tc = tcase_create("short");
    tcase_add_test(tc, test_short_grid);
    tcase_add_test(tc, test_short_random);
    tcase_add_test(tc, test_scanner_loop);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(numshort_suite)
