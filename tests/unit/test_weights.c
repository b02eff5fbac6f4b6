/*
 * test_weights.c — unit tests of the class-weight core (lib/weights.c):
 * bl_weights_opts_default, bl_class_weights and bl_count_labels.
 *
 * Every expected value here is worked out by hand from the formulas of
 * README.md ("POST /weights"), not by calling the code under test: exact
 * fractions where the arithmetic allows it, and otherwise constants written
 * down to 17 significant digits from a 60-digit decimal evaluation of the
 * formula on the exact double inputs (the derivation sits next to each).
 *
 * The last test replays tests/conformance/weights_cases.json (NumPy/sklearn
 * generated) through the library, the way the api layer would: labels are
 * counted with bl_count_labels, then weighted with bl_class_weights, with the
 * defaults of api/openapi.yaml for every absent field. Those fixtures carry NumPy's
 * own roundings (up to 5.6e-15 in enet's log(c + f)); the library is within
 * 4.4e-16 of the exact values on every one of them, so the printed "max
 * relative error" is the fixtures', and test_exact_extreme_counts compares
 * with exact values instead.
 *
 * Cases of the power and repeat_factor schemes and of multi-label input
 * (label_sets, a 2-D labels matrix) are replayed by
 * tests/unit/test_weights_multilabel.c, which knows their functions.
 *
 * Run from the repository root, or set BALLAST_FIXTURES to the folder that
 * holds weights_cases.json.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_close.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const bl_scheme ALL_SCHEMES[] = {
    BL_SCHEME_MAX_OVER_COUNT, BL_SCHEME_INVERSE,          BL_SCHEME_BALANCED,
    BL_SCHEME_INVERSE_SQRT,   BL_SCHEME_EFFECTIVE_NUMBER, BL_SCHEME_MEDIAN_FREQUENCY,
    BL_SCHEME_ENET,
};
static const char *const SCHEME_NAMES[] = {
    "max_over_count",   "inverse",          "balanced", "inverse_sqrt",
    "effective_number", "median_frequency", "enet",
};
static const bl_normalize ALL_NORMALIZE[] = {BL_NORMALIZE_NONE, BL_NORMALIZE_SUM, BL_NORMALIZE_MEAN,
                                             BL_NORMALIZE_MAX};
static const char *const NORMALIZE_NAMES[] = {"none", "sum", "mean", "max"};

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

#define ASSERT_CLOSE(got, want, rel)                                                               \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        ck_assert_msg(check_close(g_, w_, (check_tol){(rel), 0}),                                  \
                      "%s = %.17g, expected %.17g (rel %.3g)", #got, g_, w_,                       \
                      check_rel_error(g_, w_));                                                    \
    } while (0)

/* Weights of counts[0..n) under scheme / normalize; asserts success. */
static void weights_ok(const double *counts, size_t n, bl_scheme scheme, bl_normalize nrm,
                       double *out)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = scheme;
    o.normalize = nrm;
    bl_error err;
    bl_status rc = bl_class_weights(counts, n, &o, out, &err);
    ck_assert_msg(rc == BL_OK, "bl_class_weights failed (%d): %s", rc, err.message);
    ck_assert_int_eq(err.code, BL_OK);
}

static void check_vector(const double *got, const double *want, size_t n, double rel,
                         const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(check_close(got[i], want[i], (check_tol){rel, 0}),
                      "%s: w[%zu] = %.17g, expected %.17g", what, i, got[i], want[i]);
}

/* Asserts a failed call's status, argument, index and message fragment. */
static void check_error(bl_status rc, const bl_error *err, bl_status code, const char *arg,
                        int64_t index, const char *fragment)
{
    ck_assert_int_eq(rc, code);
    ck_assert_int_eq(err->code, code);
    ck_assert_msg(err->arg != NULL, "err.arg is NULL, expected \"%s\"", arg);
    ck_assert_str_eq(err->arg, arg);
    ck_assert_msg(err->index == index, "err.index = %lld, expected %lld", (long long)err->index,
                  (long long)index);
    ck_assert_msg(strstr(err->message, fragment) != NULL, "message \"%s\" lacks \"%s\"",
                  err->message, fragment);
}

static bl_status weights_rc(const double *counts, size_t n, const bl_weights_opts *o, bl_error *err)
{
    double out[16];
    ck_assert_uint_le(n, NELEM(out));
    return bl_class_weights(counts, n, o, out, err);
}

/* ------------------------------------------------------------------ */
/* defaults                                                            */
/* ------------------------------------------------------------------ */

START_TEST(test_opts_default)
{
    bl_weights_opts o = bl_weights_opts_default();
    ck_assert_int_eq(o.scheme, BL_SCHEME_MAX_OVER_COUNT);
    ck_assert(o.beta == 0.999);
    ck_assert(o.c == 1.02);
    ck_assert_int_eq(o.normalize, BL_NORMALIZE_NONE);
    ck_assert_int_eq(o.zero_counts_allowed, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* every scheme against hand-computed values                           */
/* ------------------------------------------------------------------ */

START_TEST(test_max_over_count)
{
    /* The seed's rule: max(n) / n_c. */
    double c1[] = {100000, 100, 10}, w[3];
    weights_ok(c1, 3, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_NONE, w);
    ck_assert(w[0] == 1 && w[1] == 1000 && w[2] == 10000); /* exact */

    /* max in the middle, non-integer counts: 8/2, 8/8, 8/0.5 */
    double c2[] = {2, 8, 0.5}, w2[3], e2[] = {4, 1, 16};
    weights_ok(c2, 3, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_NONE, w2);
    check_vector(w2, e2, 3, 0, "max_over_count non-integer");

    /* the defaults are max_over_count without normalisation */
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    ck_assert_int_eq(bl_class_weights(c1, 3, &o, w, &err), BL_OK);
    ck_assert(w[0] == 1 && w[1] == 1000 && w[2] == 10000);
}
END_TEST

START_TEST(test_inverse)
{
    double c[] = {4, 2, 0.5, 1, 1e6}, w[5], e[] = {0.25, 0.5, 2, 1, 1e-6};
    weights_ok(c, 5, BL_SCHEME_INVERSE, BL_NORMALIZE_NONE, w);
    check_vector(w, e, 5, 1e-16, "inverse");
}
END_TEST

START_TEST(test_balanced)
{
    /* sklearn compute_class_weight("balanced", classes=[0,1,2], y) with
     * y = [0]*6 + [1]*3 + [2]: n_samples / (n_classes * bincount(y)),
     * N = 10, C = 3: 10/18, 10/9, 10/3. */
    double c[] = {6, 3, 1}, w[3], e[] = {5.0 / 9.0, 10.0 / 9.0, 10.0 / 3.0};
    weights_ok(c, 3, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w);
    check_vector(w, e, 3, 2e-16, "balanced 6,3,1");

    /* N = 100, C = 4: 100 / (4 n_c) = 25 / n_c */
    double c2[] = {50, 25, 20, 5}, w2[4], e2[] = {0.5, 1, 1.25, 5};
    weights_ok(c2, 4, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w2);
    check_vector(w2, e2, 4, 2e-16, "balanced 50,25,20,5");

    /* balanced classes all get 1, whatever their size */
    double c3[] = {7, 7, 7, 7, 7}, w3[5], e3[] = {1, 1, 1, 1, 1};
    weights_ok(c3, 5, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w3);
    check_vector(w3, e3, 5, 0, "balanced equal");

    /* the same through labels, as sklearn takes them */
    int64_t y[] = {0, 1, 0, 2, 0, 1, 0, 0, 1, 0};
    double cnt[3], w4[3];
    bl_error err;
    ck_assert_int_eq(bl_count_labels(y, NELEM(y), 3, cnt, &err), BL_OK);
    ck_assert(cnt[0] == 6 && cnt[1] == 3 && cnt[2] == 1);
    weights_ok(cnt, 3, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w4);
    check_vector(w4, e, 3, 2e-16, "balanced via labels");
}
END_TEST

START_TEST(test_inverse_sqrt)
{
    double c[] = {4, 16, 2, 1, 1e10}, w[5];
    double e[] = {0.5, 0.25, 0.70710678118654752, 1, 1e-5};
    weights_ok(c, 5, BL_SCHEME_INVERSE_SQRT, BL_NORMALIZE_NONE, w);
    check_vector(w, e, 5, 2e-16, "inverse_sqrt");
}
END_TEST

/* (1 - beta) / (1 - beta^n). Constants: 60-digit evaluation on the exact
 * double value of beta (so 0.9 means 0.90000000000000002220...). */
START_TEST(test_effective_number)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_EFFECTIVE_NUMBER;
    bl_error err;
    const double two53 = 9007199254740992.0; /* 2^53 */

    /* beta = 0: beta^n = 0 for every n > 0, so every weight is 1 */
    o.beta = 0;
    double c0[] = {1, two53, 7, 0.25}, w0[4], e0[] = {1, 1, 1, 1};
    ck_assert_int_eq(bl_class_weights(c0, 4, &o, w0, &err), BL_OK);
    check_vector(w0, e0, 4, 0, "effective_number beta 0");

    /* beta = 0.9: n=1 -> 1; n=2 -> 0.1/0.19 = 10/19; n=3 -> 0.1/0.271 = 100/271;
     * n=10 -> 0.1/(1-0.9^10) = 0.1/0.6513215599 */
    o.beta = 0.9;
    double c1[] = {1, 2, 3, 10}, w1[4];
    double e1[] = {1, 0.52631578947368418, 0.36900369003690037, 0.15353399327876294};
    ck_assert_int_eq(bl_class_weights(c1, 4, &o, w1, &err), BL_OK);
    check_vector(w1, e1, 4, 1e-14, "effective_number beta 0.9");

    /* beta = 0.999 (the default): n=1 -> 1; n=2 -> 1/(1+beta) = 1/1.999;
     * n=1000 -> 0.001/(1-0.999^1000) = 0.001/0.6323045752290363;
     * n=2^53 -> beta^n underflows to 0, so w = 1 - beta = 0.0010000000000000009
     * (1 - 0.999 is exact in binary: Sterbenz). */
    o.beta = 0.999;
    double c2[] = {1, 2, 1000, two53}, w2[4];
    double e2[] = {1, 0.5002501250625313, 0.0015815163121946038, 0.0010000000000000009};
    ck_assert_int_eq(bl_class_weights(c2, 4, &o, w2, &err), BL_OK);
    check_vector(w2, e2, 4, 1e-13, "effective_number beta 0.999");
    ck_assert(w2[3] == 1 - 0.999);

    /* beta = 0.9999: n=10^4 -> 1e-4 / (1 - 0.9999^10000) = 1e-4 / 0.63213895...;
     * n=2^53 -> 1 - beta */
    o.beta = 0.9999;
    double c3[] = {1, 10000, two53}, w3[3];
    double e3[] = {1, 0.00015819306726109765, 9.9999999999988987e-05};
    ck_assert_int_eq(bl_class_weights(c3, 3, &o, w3, &err), BL_OK);
    check_vector(w3, e3, 3, 1e-13, "effective_number beta 0.9999");

    /* fractional counts, where 1 - beta^n cancels (1 - pow() is off by ~1e-11
     * here): n = 1e-3, beta 0.999 -> 999.50041662505691; n = 0.5,
     * beta 0.9999 -> 1.9999499987499374 */
    o.beta = 0.999;
    double c4[] = {1e-3}, w4;
    ck_assert_int_eq(bl_class_weights(c4, 1, &o, &w4, &err), BL_OK);
    ck_assert_msg(check_close(w4, 999.50041662505691, (check_tol){1e-13, 0}), "n 1e-3: %.17g", w4);
    o.beta = 0.9999;
    double c5[] = {0.5};
    ck_assert_int_eq(bl_class_weights(c5, 1, &o, &w4, &err), BL_OK);
    ck_assert_msg(check_close(w4, 1.9999499987499374, (check_tol){1e-13, 0}), "n 0.5: %.17g", w4);

    /* count 1 gives exactly (1-beta)/(1-beta) = 1 for every beta */
    double one[] = {1};
    const double betas[] = {0, 0.5, 0.9, 0.999, 0.9999, 0.999999};
    for (size_t i = 0; i < NELEM(betas); i++) {
        o.beta = betas[i];
        double w;
        ck_assert_int_eq(bl_class_weights(one, 1, &o, &w, &err), BL_OK);
        ck_assert_msg(check_close(w, 1, (check_tol){4e-16, 0}), "beta %g, n 1: w = %.17g", betas[i],
                      w);
    }
}
END_TEST

START_TEST(test_median_frequency_odd)
{
    /* C = 5, N = 1010, f = n/N; sorted f: 1,2,3,4,1000 (/N) -> median 3/N;
     * w_c = (3/N) / (n_c/N) = 3 / n_c. */
    double c[] = {1, 2, 3, 4, 1000}, w[5], e[] = {3, 1.5, 1, 0.75, 0.003};
    weights_ok(c, 5, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, w);
    check_vector(w, e, 5, 1e-15, "median_frequency odd");

    /* unsorted input, C = 3: counts 90, 10, 30 -> median count 30 -> 30/n_c */
    double c2[] = {90, 10, 30}, w2[3], e2[] = {1.0 / 3.0, 3, 1};
    weights_ok(c2, 3, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, w2);
    check_vector(w2, e2, 3, 1e-15, "median_frequency odd unsorted");

    /* C = 1: the median is the class itself */
    double c3[] = {42}, w3;
    weights_ok(c3, 1, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, &w3);
    ck_assert(check_close(w3, 1, (check_tol){1e-15, 0}));
}
END_TEST

START_TEST(test_median_frequency_even)
{
    /* C = 4, N = 150; sorted counts 10, 20, 40, 80 -> median of the two middle
     * frequencies (20 + 40) / 2 / N = 30 / N (numpy.median); w_c = 30 / n_c. */
    double c[] = {10, 40, 20, 80}, w[4], e[] = {3, 0.75, 1.5, 0.375};
    weights_ok(c, 4, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, w);
    check_vector(w, e, 4, 1e-15, "median_frequency even");

    /* C = 2: median = mean of both: (1 + 3) / 2 = 2 -> 2, 2/3 */
    double c2[] = {1, 3}, w2[2], e2[] = {2, 2.0 / 3.0};
    weights_ok(c2, 2, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, w2);
    check_vector(w2, e2, 2, 1e-15, "median_frequency C=2");
}
END_TEST

/* 1 / ln(c + n_c / N), counts 900, 90, 9, 1 (N = 1000): ln of 1.92, 1.11,
 * 1.029, 1.021 for c = 1.02 and of 2.4, 1.59, 1.509, 1.501 for c = 1.5. */
START_TEST(test_enet)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_ENET;
    bl_error err;
    double c[] = {900, 90, 9, 1}, w[4];

    ck_assert(o.c == 1.02);
    double e102[] = {1.5329777561879327, 9.5822140011482002, 34.980376365066469,
                     48.117315753249279};
    ck_assert_int_eq(bl_class_weights(c, 4, &o, w, &err), BL_OK);
    check_vector(w, e102, 4, 1e-13, "enet c 1.02");

    o.c = 1.5;
    double e15[] = {1.1422452422715803, 2.156408555328861, 2.4304456297909631, 2.4622563636628536};
    ck_assert_int_eq(bl_class_weights(c, 4, &o, w, &err), BL_OK);
    check_vector(w, e15, 4, 1e-13, "enet c 1.5");

    /* c = e - 1 with a single class: f = 1, w = 1 / ln(e) = 1 */
    o.c = M_E - 1;
    double one[] = {5};
    ck_assert_int_eq(bl_class_weights(one, 1, &o, w, &err), BL_OK);
    ck_assert(check_close(w[0], 1, (check_tol){1e-15, 0}));
}
END_TEST

START_TEST(test_extreme_counts)
{
    /* counts of 1 and 2^53 (every integer up to 2^53 is exact) */
    const double two53 = 9007199254740992.0;
    double c[] = {1, two53}, w[2];
    weights_ok(c, 2, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_NONE, w);
    ck_assert(w[0] == two53 && w[1] == 1);
    weights_ok(c, 2, BL_SCHEME_INVERSE, BL_NORMALIZE_NONE, w);
    ck_assert(w[0] == 1 && w[1] == 1 / two53);
    weights_ok(c, 2, BL_SCHEME_INVERSE_SQRT, BL_NORMALIZE_NONE, w);
    /* 1 / sqrt(2^53) = 2^-26.5 = 2^-27 sqrt(2) */
    ck_assert(w[0] == 1 && check_close(w[1], 0x1p-27 * 1.4142135623730951, (check_tol){2e-16, 0}));
    /* balanced: N = 2^53 + 1 rounds to 2^53 in double; C = 2:
     * w_0 = 2^53 / 2 = 2^52, w_1 = 2^53 / (2 * 2^53) = 0.5 */
    weights_ok(c, 2, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w);
    ck_assert(check_close(w[0], 0x1p52, (check_tol){1e-15, 0}) &&
              check_close(w[1], 0.5, (check_tol){1e-15, 0}));
    /* all of them finite under every scheme and normalisation */
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++)
        for (size_t m = 0; m < NELEM(ALL_NORMALIZE); m++) {
            weights_ok(c, 2, ALL_SCHEMES[s], ALL_NORMALIZE[m], w);
            ck_assert_msg(isfinite(w[0]) && isfinite(w[1]) && w[0] > 0 && w[1] > 0, "%s/%s: %g %g",
                          SCHEME_NAMES[s], NORMALIZE_NAMES[m], w[0], w[1]);
        }
}
END_TEST

/* Within `ulps` units in the last place of want (exactly equal for inf and
 * 0, which have no neighbourhood worth the name here). */
static int within_ulps(double got, double want, int ulps)
{
    if (got == want)
        return 1;
    if (!isfinite(want) || want == 0 || !isfinite(got))
        return 0;
    double lo = want, hi = want;
    for (int i = 0; i < ulps; i++) {
        lo = nextafter(lo, -INFINITY);
        hi = nextafter(hi, INFINITY);
    }
    return got >= lo && got <= hi;
}

/*
 * Counts across the whole double range, where N, C n_c, a frequency, n ln
 * beta or a sum of weights overflows or underflows although the weights are
 * ordinary numbers. Expected: the exact value (mpmath, 60 digits, on the
 * exact double inputs) rounded to double; the implementation may be one
 * rounding away (log1p, expm1). What each gave before "Beyond the seed":
 *   balanced [1e308, 1]: w0 0 (C n_0 = inf); [1.7e308 x3]: "the counts'
 *   total overflows"; median_frequency [1e-200, 1, 1e200]: w0 inf (null),
 *   [1e-320, 1e-320, 1e300] sum: "their sum is -nan" (0/0); effective_number
 *   beta 1 - 1e-12, n 1e-300: 1.0000000000015366e300 (2e-12 off, n ln beta
 *   subnormal); enet c = 1 + 1e-12: 499955553660.635 (4.4e-5 off, ln near 1),
 *   c = 1.02: 50.49834979184112 (5.5e-15 off); inverse [1e-320, 1] sum and
 *   [5e-324, 1e308] max, max_over_count [1e308, 1e308] mean, balanced
 *   [1e-300, 1e300, 1] mean: "cannot be normalised" or "total overflows".
 */
START_TEST(test_exact_extreme_counts)
{
    static const struct {
        bl_scheme scheme;
        bl_normalize normalize;
        double beta, c;
        size_t n;
        double counts[4], exact[4];
    } cases[] = {
        {BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, 0.999, 1.02, 2, {1e308, 1}, {0.5, 5e307}},
        {BL_SCHEME_BALANCED,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         3,
         {1.7e308, 1.7e308, 1.7e308},
         {1, 1, 1}},
        {BL_SCHEME_BALANCED,
         BL_NORMALIZE_MEAN,
         0.999,
         1.02,
         3,
         {1e-300, 1e300, 1},
         {3.0, 0.0, 3e-300}},
        {BL_SCHEME_MEDIAN_FREQUENCY,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         3,
         {1e-200, 1, 1e200},
         {1e200, 1, 1e-200}},
        /* median 5e199 over 1e-200 is beyond DBL_MAX: inf is the exact answer */
        {BL_SCHEME_MEDIAN_FREQUENCY,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         2,
         {1e-200, 1e200},
         {INFINITY, 0.5}},
        {BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_MAX, 0.999, 1.02, 2, {1e-200, 1e200}, {1, 0}},
        {BL_SCHEME_MEDIAN_FREQUENCY,
         BL_NORMALIZE_SUM,
         0.999,
         1.02,
         3,
         {1e-320, 1e-320, 1e300},
         {0.5, 0.5, 0}},
        {BL_SCHEME_MEDIAN_FREQUENCY,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         4,
         {1e308, 1.7e308, 1, 1},
         {0.5, 0.29411764705882354, 5e307, 5e307}},
        {BL_SCHEME_EFFECTIVE_NUMBER,
         BL_NORMALIZE_NONE,
         0.999999999999,
         1.02,
         2,
         {1e-300, 1},
         {9.999999999995e299, 1}},
        {BL_SCHEME_ENET,
         BL_NORMALIZE_NONE,
         0.999,
         1.000000000001,
         2,
         {1e-12, 1},
         {499977775843.03503, 1.4426950408889634}},
        {BL_SCHEME_ENET,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         2,
         {1, 1e15},
         {50.4983497918414, 1.4222778260019167}},
        {BL_SCHEME_ENET,
         BL_NORMALIZE_NONE,
         0.999,
         1.02,
         2,
         {1e-300, 1e300},
         {50.4983497918439, 1.4222778260019155}},
        {BL_SCHEME_INVERSE, BL_NORMALIZE_SUM, 0.999, 1.02, 2, {1e-320, 1}, {1, 1e-320}},
        {BL_SCHEME_INVERSE, BL_NORMALIZE_MAX, 0.999, 1.02, 2, {5e-324, 1e308}, {1, 0}},
        {BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_MEAN, 0.999, 1.02, 2, {1e308, 1e308}, {1, 1}},
        {BL_SCHEME_INVERSE_SQRT,
         BL_NORMALIZE_SUM,
         0.999,
         1.02,
         2,
         {5e-324, 1e308},
         {1, 2.22275875e-316}},
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        bl_weights_opts o = bl_weights_opts_default();
        o.scheme = cases[i].scheme;
        o.normalize = cases[i].normalize;
        o.beta = cases[i].beta;
        o.c = cases[i].c;
        double w[4];
        bl_error err;
        bl_status rc = bl_class_weights(cases[i].counts, cases[i].n, &o, w, &err);
        ck_assert_msg(rc == BL_OK, "case %zu (%s/%s): %s", i, bl_scheme_name(o.scheme),
                      bl_normalize_name(o.normalize), err.message);
        for (size_t j = 0; j < cases[i].n; j++)
            ck_assert_msg(within_ulps(w[j], cases[i].exact[j], 1),
                          "case %zu (%s/%s): w[%zu] = %.17g, exact %.17g", i,
                          bl_scheme_name(o.scheme), bl_normalize_name(o.normalize), j, w[j],
                          cases[i].exact[j]);
    }
}
END_TEST

/* Counts multiplied by 2^k (k = +-300, beyond the range computed in plain
 * doubles, so through the scaled pairs instead) give the same weights bit
 * for bit: exactly the same for the schemes of ratios (max_over_count,
 * balanced, median_frequency, enet) and for every normalised weight, and
 * times 2^-k (2^(-k/2)) for inverse (inverse_sqrt). effective_number
 * depends on the counts themselves and is left out. */
START_TEST(test_scaled_counts_same_bits)
{
    const double base[] = {120, 7, 33.5, 1, 980, 64, 0.3};
    const size_t n = NELEM(base);
    const int ks[] = {300, -300, 600};
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++) {
        if (ALL_SCHEMES[s] == BL_SCHEME_EFFECTIVE_NUMBER)
            continue;
        for (size_t m = 0; m < NELEM(ALL_NORMALIZE); m++)
            for (size_t j = 0; j < NELEM(ks); j++) {
                double c[7], ref[7], w[7];
                for (size_t i = 0; i < n; i++)
                    c[i] = ldexp(base[i], ks[j]);
                weights_ok(base, n, ALL_SCHEMES[s], ALL_NORMALIZE[m], ref);
                weights_ok(c, n, ALL_SCHEMES[s], ALL_NORMALIZE[m], w);
                int k = 0;
                if (ALL_NORMALIZE[m] == BL_NORMALIZE_NONE)
                    k = ALL_SCHEMES[s] == BL_SCHEME_INVERSE        ? -ks[j]
                        : ALL_SCHEMES[s] == BL_SCHEME_INVERSE_SQRT ? -ks[j] / 2
                                                                   : 0;
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg(w[i] == ldexp(ref[i], k),
                                  "%s/%s, counts x 2^%d: w[%zu] = %a, not %a", SCHEME_NAMES[s],
                                  NORMALIZE_NAMES[m], ks[j], i, w[i], ldexp(ref[i], k));
            }
    }
}
END_TEST

/* Every scheme and normalisation over counts drawn from the whole double
 * range: normalisation never fails, every weight of a positive count is
 * > 0, and normalised weights are finite and sum (or max) to 1. */
START_TEST(test_wide_range_never_fails)
{
    static const double pool[] = {
        5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-200, 0.5, 1, 3, 1e200,
        1e300,  1e308,  1.7976931348623157e308};
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++)
        for (size_t m = 0; m < NELEM(ALL_NORMALIZE); m++)
            for (size_t a = 0; a < NELEM(pool); a++)
                for (size_t b = a; b < NELEM(pool); b += 3) {
                    double c[3] = {pool[a], pool[b], pool[(a + b) % NELEM(pool)]}, w[3];
                    bl_weights_opts o = bl_weights_opts_default();
                    o.scheme = ALL_SCHEMES[s];
                    o.normalize = ALL_NORMALIZE[m];
                    bl_error err;
                    ck_assert_msg(bl_class_weights(c, 3, &o, w, &err) == BL_OK, "%s/%s: %s",
                                  SCHEME_NAMES[s], NORMALIZE_NAMES[m], err.message);
                    if (ALL_NORMALIZE[m] == BL_NORMALIZE_NONE)
                        continue;
                    double sum = 0, max = 0;
                    for (int i = 0; i < 3; i++) {
                        ck_assert(isfinite(w[i]) && w[i] >= 0);
                        sum += w[i];
                        max = fmax(max, w[i]);
                    }
                    if (ALL_NORMALIZE[m] == BL_NORMALIZE_MAX)
                        ck_assert(max == 1);
                    else
                        ck_assert_msg(check_close(sum, ALL_NORMALIZE[m] == BL_NORMALIZE_SUM ? 1 : 3,
                                                  (check_tol){1e-15, 0}),
                                      "%s/%s: sum %.17g", SCHEME_NAMES[s], NORMALIZE_NAMES[m], sum);
                }
}
END_TEST

/* ------------------------------------------------------------------ */
/* normalisation                                                       */
/* ------------------------------------------------------------------ */

START_TEST(test_normalize_modes)
{
    /* For every scheme: sum -> sum 1, mean -> sum C, max -> max 1, and each
     * a constant multiple of the unnormalised weights. */
    double c[] = {120, 7, 33.5, 1, 980, 64};
    const size_t n = NELEM(c);
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++) {
        double raw[6], w[6];
        weights_ok(c, n, ALL_SCHEMES[s], BL_NORMALIZE_NONE, raw);
        double rsum = 0, rmax = 0;
        for (size_t i = 0; i < n; i++) {
            rsum += raw[i];
            rmax = fmax(rmax, raw[i]);
        }
        for (size_t m = 1; m < NELEM(ALL_NORMALIZE); m++) {
            weights_ok(c, n, ALL_SCHEMES[s], ALL_NORMALIZE[m], w);
            double sum = 0, max = 0;
            for (size_t i = 0; i < n; i++) {
                sum += w[i];
                max = fmax(max, w[i]);
            }
            double scale = ALL_NORMALIZE[m] == BL_NORMALIZE_SUM    ? rsum
                           : ALL_NORMALIZE[m] == BL_NORMALIZE_MEAN ? rsum / (double)n
                                                                   : rmax;
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(check_close(w[i], raw[i] / scale, (check_tol){1e-15, 0}),
                              "%s/%s w[%zu]", SCHEME_NAMES[s], NORMALIZE_NAMES[m], i);
            switch (ALL_NORMALIZE[m]) {
            case BL_NORMALIZE_SUM:
                ck_assert_msg(check_close(sum, 1, (check_tol){1e-15, 0}), "%s sum: %.17g",
                              SCHEME_NAMES[s], sum);
                break;
            case BL_NORMALIZE_MEAN:
                ck_assert_msg(check_close(sum, (double)n, (check_tol){1e-15, 0}),
                              "%s mean: sum %.17g", SCHEME_NAMES[s], sum);
                break;
            default:
                ck_assert_msg(max == 1, "%s max: %.17g", SCHEME_NAMES[s], max);
            }
        }
    }

    /* by hand: max_over_count of 100000, 100, 10 is 1, 1000, 10000 (sum 11001) */
    double c1[] = {100000, 100, 10}, w[3];
    double esum[] = {1.0 / 11001, 1000.0 / 11001, 10000.0 / 11001};
    double emean[] = {3.0 / 11001, 3000.0 / 11001, 30000.0 / 11001};
    double emax[] = {1e-4, 0.1, 1};
    weights_ok(c1, 3, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_SUM, w);
    check_vector(w, esum, 3, 2e-16, "sum by hand");
    weights_ok(c1, 3, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_MEAN, w);
    check_vector(w, emean, 3, 2e-16, "mean by hand");
    weights_ok(c1, 3, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_MAX, w);
    check_vector(w, emax, 3, 2e-16, "max by hand");
    ck_assert(w[2] == 1);

    /* balanced with mean: sklearn's weights have mean 1 already when the
     * counts are equal... and in general sum N/(C n_c) != C, so check by hand:
     * counts 6, 3, 1 -> 5/9, 10/9, 30/9, sum 45/9 = 5 -> mean scale 5/3 ->
     * 1/3, 2/3, 2. */
    double c2[] = {6, 3, 1}, e2[] = {1.0 / 3.0, 2.0 / 3.0, 2};
    weights_ok(c2, 3, BL_SCHEME_BALANCED, BL_NORMALIZE_MEAN, w);
    check_vector(w, e2, 3, 1e-15, "balanced mean by hand");
}
END_TEST

START_TEST(test_normalize_mean_counts_positive_classes)
{
    /* With zero_counts allowed, mean normalisation divides by the number of
     * positive classes: counts 0, 2, 0, 4, 0 inverse -> 1/2, 1/4, sum 3/4 over
     * C = 2 -> mean 3/8 -> 4/3, 2/3 (sum 2, not 5 / 5). */
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_INVERSE;
    o.zero_counts_allowed = 1;
    o.normalize = BL_NORMALIZE_MEAN;
    double c[] = {0, 2, 0, 4, 0}, w[5], e[] = {0, 4.0 / 3.0, 0, 2.0 / 3.0, 0};
    bl_error err;
    ck_assert_int_eq(bl_class_weights(c, 5, &o, w, &err), BL_OK);
    check_vector(w, e, 5, 1e-15, "mean over positive classes");
    ck_assert(w[0] == 0 && w[2] == 0 && w[4] == 0);

    /* sum and max leave the zeros at exactly 0 too */
    o.normalize = BL_NORMALIZE_SUM;
    double es[] = {0, 2.0 / 3.0, 0, 1.0 / 3.0, 0};
    ck_assert_int_eq(bl_class_weights(c, 5, &o, w, &err), BL_OK);
    check_vector(w, es, 5, 1e-15, "sum with zero classes");
    o.normalize = BL_NORMALIZE_MAX;
    double em[] = {0, 1, 0, 0.5, 0};
    ck_assert_int_eq(bl_class_weights(c, 5, &o, w, &err), BL_OK);
    check_vector(w, em, 5, 0, "max with zero classes");
}
END_TEST

/* ------------------------------------------------------------------ */
/* zero counts                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_zero_counts_by_hand)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.zero_counts_allowed = 1;
    bl_error err;
    double w[7];

    /* balanced: live counts 6, 3, 1 (N = 10, C = 3 — not 5) */
    o.scheme = BL_SCHEME_BALANCED;
    double c1[] = {6, 0, 3, 0, 1}, e1[] = {5.0 / 9.0, 0, 10.0 / 9.0, 0, 10.0 / 3.0};
    ck_assert_int_eq(bl_class_weights(c1, 5, &o, w, &err), BL_OK);
    check_vector(w, e1, 5, 2e-16, "balanced with zeros");

    /* median_frequency: live counts 10, 40, 20, 80 -> median 30 (even C = 4,
     * the three zeros are not in the median) -> 30 / n_c */
    o.scheme = BL_SCHEME_MEDIAN_FREQUENCY;
    double c2[] = {10, 0, 40, 0, 20, 80, 0}, e2[] = {3, 0, 0.75, 0, 1.5, 0.375, 0};
    ck_assert_int_eq(bl_class_weights(c2, 7, &o, w, &err), BL_OK);
    check_vector(w, e2, 7, 1e-15, "median_frequency with zeros");

    /* effective_number with beta 0 (0^0 would be 1): zeros stay 0 */
    o.scheme = BL_SCHEME_EFFECTIVE_NUMBER;
    o.beta = 0;
    double c3[] = {0, 3, 0, 7.5, 1}, e3[] = {0, 1, 0, 1, 1};
    ck_assert_int_eq(bl_class_weights(c3, 5, &o, w, &err), BL_OK);
    check_vector(w, e3, 5, 0, "effective_number beta 0 with zeros");

    /* a single live class */
    o.scheme = BL_SCHEME_BALANCED;
    o.normalize = BL_NORMALIZE_SUM;
    double c4[] = {0, 0, 17, 0}, e4[] = {0, 0, 1, 0};
    ck_assert_int_eq(bl_class_weights(c4, 4, &o, w, &err), BL_OK);
    check_vector(w, e4, 4, 0, "one live class");
}
END_TEST

/* Adding an empty class, anywhere, leaves every other weight as it was,
 * for every scheme and normalisation. */
START_TEST(test_zero_class_changes_nothing)
{
    const double base[] = {120, 7, 33.5, 1, 980, 64};
    const size_t n = NELEM(base);
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++)
        for (size_t m = 0; m < NELEM(ALL_NORMALIZE); m++) {
            bl_weights_opts o = bl_weights_opts_default();
            o.scheme = ALL_SCHEMES[s];
            o.normalize = ALL_NORMALIZE[m];
            o.zero_counts_allowed = 1;
            bl_error err;
            double ref[6];
            ck_assert_int_eq(bl_class_weights(base, n, &o, ref, &err), BL_OK);
            for (size_t pos = 0; pos <= n; pos++) {
                /* insert one zero at pos, plus one more at the end */
                double c[8], w[8];
                size_t j = 0;
                for (size_t i = 0; i <= n; i++) {
                    if (i == pos)
                        c[j++] = 0;
                    if (i < n)
                        c[j++] = base[i];
                }
                c[j++] = 0;
                ck_assert_int_eq(bl_class_weights(c, j, &o, w, &err), BL_OK);
                for (size_t i = 0, k = 0; i < j; i++) {
                    if (c[i] == 0) {
                        ck_assert_msg(w[i] == 0, "%s/%s: empty class %zu has weight %g",
                                      SCHEME_NAMES[s], NORMALIZE_NAMES[m], i, w[i]);
                        continue;
                    }
                    ck_assert_msg(check_close(w[i], ref[k], (check_tol){1e-15, 0}),
                                  "%s/%s: zero at %zu moved w = %.17g to %.17g", SCHEME_NAMES[s],
                                  NORMALIZE_NAMES[m], pos, ref[k], w[i]);
                    k++;
                }
            }
        }
}
END_TEST

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

START_TEST(test_error_empty)
{
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    double out[1];
    bl_status rc = bl_class_weights(NULL, 0, &o, out, &err);
    check_error(rc, &err, BL_EINVAL, "counts", -1, "empty");
    /* err may be NULL: the code alone comes back */
    ck_assert_int_eq(bl_class_weights(NULL, 0, &o, out, NULL), BL_EINVAL);
}
END_TEST

START_TEST(test_error_bad_counts)
{
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    double neg[] = {3, 1, -1, 4};
    check_error(weights_rc(neg, 4, &o, &err), &err, BL_EINVAL, "counts", 2, "class 2");
    double nan_[] = {3, NAN, 1};
    check_error(weights_rc(nan_, 3, &o, &err), &err, BL_EINVAL, "counts", 1, "class 1");
    double inf_[] = {INFINITY, 2};
    check_error(weights_rc(inf_, 2, &o, &err), &err, BL_EINVAL, "counts", 0, "class 0");
    double ninf[] = {1, 2, 3, -INFINITY};
    check_error(weights_rc(ninf, 4, &o, &err), &err, BL_EINVAL, "counts", 3, "class 3");
    /* still refused when zero counts are allowed, and under every scheme */
    o.zero_counts_allowed = 1;
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++) {
        o.scheme = ALL_SCHEMES[s];
        check_error(weights_rc(neg, 4, &o, &err), &err, BL_EINVAL, "counts", 2, "count -1");
        check_error(weights_rc(nan_, 3, &o, &err), &err, BL_EINVAL, "counts", 1, "finite");
    }
}
END_TEST

START_TEST(test_error_zero_count)
{
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    double c[] = {5, 9, 0, 2};
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++) {
        o.scheme = ALL_SCHEMES[s];
        bl_status rc = weights_rc(c, 4, &o, &err);
        /* the message names the class and says how to allow it */
        check_error(rc, &err, BL_EINVAL, "counts", 2, "class 2");
        ck_assert_msg(strstr(err.message, "zero_counts") != NULL, "%s", err.message);
    }
    /* allowed: fine */
    o.zero_counts_allowed = 1;
    o.scheme = BL_SCHEME_MAX_OVER_COUNT;
    double w[4];
    ck_assert_int_eq(bl_class_weights(c, 4, &o, w, &err), BL_OK);
    ck_assert(w[0] == 9.0 / 5 && w[1] == 1 && w[2] == 0 && w[3] == 4.5);
}
END_TEST

START_TEST(test_error_all_zero)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.zero_counts_allowed = 1;
    bl_error err;
    double c[] = {0, 0, 0};
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++) {
        o.scheme = ALL_SCHEMES[s];
        check_error(weights_rc(c, 3, &o, &err), &err, BL_EINVAL, "counts", -1, "zero");
    }
    /* refused too (at the first zero) when zeros are not allowed */
    o.zero_counts_allowed = 0;
    check_error(weights_rc(c, 3, &o, &err), &err, BL_EINVAL, "counts", 0, "class 0");
}
END_TEST

START_TEST(test_error_beta)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_EFFECTIVE_NUMBER;
    bl_error err;
    double c[] = {10, 20};
    const double bad[] = {-0.1, -1e-300, 1.0, 1.5, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < NELEM(bad); i++) {
        o.beta = bad[i];
        check_error(weights_rc(c, 2, &o, &err), &err, BL_EINVAL, "beta", -1, "beta");
    }
    /* the edges of [0, 1) */
    o.beta = 0;
    ck_assert_int_eq(weights_rc(c, 2, &o, &err), BL_OK);
    o.beta = nextafter(1.0, 0);
    ck_assert_int_eq(weights_rc(c, 2, &o, &err), BL_OK);
}
END_TEST

START_TEST(test_error_c)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_ENET;
    bl_error err;
    double c[] = {10, 20};
    const double bad[] = {1.0, 0.5, 0, -2, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < NELEM(bad); i++) {
        o.c = bad[i];
        check_error(weights_rc(c, 2, &o, &err), &err, BL_EINVAL, "c", -1, "c = ");
    }
    o.c = nextafter(1.0, 2);
    ck_assert_int_eq(weights_rc(c, 2, &o, &err), BL_OK);
}
END_TEST

/* Values outside the enums and missing arrays are refused, naming the
 * option (before: scheme 99 gave BL_OK and weights of 0). */
START_TEST(test_error_bad_arguments)
{
    double c[] = {10, 20}, w[2] = {7, 7};
    bl_weights_opts o = bl_weights_opts_default();
    bl_error err;
    o.scheme = (bl_scheme)99;
    check_error(bl_class_weights(c, 2, &o, w, &err), &err, BL_EINVAL, "scheme", -1, "scheme 99");
    o.scheme = (bl_scheme)-1;
    check_error(bl_class_weights(c, 2, &o, w, &err), &err, BL_EINVAL, "scheme", -1, "scheme -1");
    o = bl_weights_opts_default();
    o.normalize = (bl_normalize)BL_NORMALIZE_COUNT;
    check_error(bl_class_weights(c, 2, &o, w, &err), &err, BL_EINVAL, "normalize", -1,
                "normalize 4");
    o = bl_weights_opts_default();
    check_error(bl_class_weights(NULL, 2, &o, w, &err), &err, BL_EINVAL, "counts", -1, "NULL");
    check_error(bl_class_weights(c, 2, &o, NULL, &err), &err, BL_EINVAL, "out", -1, "NULL");
    ck_assert_int_eq(bl_class_weights(c, 2, NULL, w, &err), BL_EINVAL);
    ck_assert_msg(strstr(err.message, "options") != NULL, "%s", err.message);
    ck_assert(w[0] == 7 && w[1] == 7); /* nothing written */
}
END_TEST

/* ------------------------------------------------------------------ */
/* aliasing and size                                                   */
/* ------------------------------------------------------------------ */

START_TEST(test_out_aliases_counts)
{
    const double base[] = {0, 120, 7, 0, 33.5, 1, 980, 64};
    const size_t n = NELEM(base);
    for (size_t s = 0; s < NELEM(ALL_SCHEMES); s++)
        for (size_t m = 0; m < NELEM(ALL_NORMALIZE); m++) {
            bl_weights_opts o = bl_weights_opts_default();
            o.scheme = ALL_SCHEMES[s];
            o.normalize = ALL_NORMALIZE[m];
            o.zero_counts_allowed = 1;
            bl_error err;
            double ref[8], buf[8];
            memcpy(buf, base, sizeof buf);
            ck_assert_int_eq(bl_class_weights(base, n, &o, ref, &err), BL_OK);
            ck_assert_int_eq(bl_class_weights(buf, n, &o, buf, &err), BL_OK);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(buf[i] == ref[i], "%s/%s: in place w[%zu] = %.17g, not %.17g",
                              SCHEME_NAMES[s], NORMALIZE_NAMES[m], i, buf[i], ref[i]);
        }
}
END_TEST

START_TEST(test_million_classes)
{
    /* counts[i] = i % 1000 + 1: every value 1..1000 a thousand times.
     * max 1000; N = 1000 * 500500 = 500500000; C = 10^6;
     * balanced N / (C n) = 500.5 / n; the median count (even C) is the mean
     * of the 500000th and 500001st smallest, 500 and 501, so
     * median_frequency is 500.5 / n as well. */
    const size_t n = 1000000;
    double *c = malloc(n * sizeof *c), *w = malloc(n * sizeof *w);
    ck_assert(c && w);
    for (size_t i = 0; i < n; i++)
        c[i] = (double)(i % 1000 + 1);

    weights_ok(c, n, BL_SCHEME_MAX_OVER_COUNT, BL_NORMALIZE_NONE, w);
    for (size_t i = 0; i < n; i += 997)
        ck_assert(w[i] == 1000.0 / c[i]);
    ck_assert(w[n - 1] == 1 && w[0] == 1000);

    weights_ok(c, n, BL_SCHEME_BALANCED, BL_NORMALIZE_NONE, w);
    for (size_t i = 0; i < n; i += 991)
        ck_assert_msg(check_close(w[i], 500.5 / c[i], (check_tol){1e-14, 0}),
                      "balanced w[%zu] = %.17g", i, w[i]);

    weights_ok(c, n, BL_SCHEME_MEDIAN_FREQUENCY, BL_NORMALIZE_NONE, w);
    for (size_t i = 0; i < n; i += 983)
        ck_assert_msg(check_close(w[i], 500.5 / c[i], (check_tol){1e-14, 0}),
                      "median w[%zu] = %.17g", i, w[i]);

    weights_ok(c, n, BL_SCHEME_INVERSE_SQRT, BL_NORMALIZE_MEAN, w);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    ck_assert_msg(check_close(sum, (double)n, (check_tol){1e-9, 0}), "mean-normalised sum %.17g",
                  sum);

    free(c);
    free(w);
}
END_TEST

/* ------------------------------------------------------------------ */
/* bl_count_labels                                                     */
/* ------------------------------------------------------------------ */

START_TEST(test_count_labels)
{
    int64_t y[] = {2, 0, 1, 1, 2, 2};
    double c[5];
    bl_error err;
    ck_assert_int_eq(bl_count_labels(y, 6, 3, c, &err), BL_OK);
    ck_assert(c[0] == 1 && c[1] == 2 && c[2] == 3);
    ck_assert_int_eq(err.code, BL_OK);

    /* more classes than labels use: the absent ones count 0 (and the output
     * is overwritten, not accumulated) */
    for (size_t i = 0; i < 5; i++)
        c[i] = 99;
    ck_assert_int_eq(bl_count_labels(y, 6, 5, c, &err), BL_OK);
    ck_assert(c[0] == 1 && c[1] == 2 && c[2] == 3 && c[3] == 0 && c[4] == 0);

    /* no labels: all zero */
    ck_assert_int_eq(bl_count_labels(NULL, 0, 2, c, &err), BL_OK);
    ck_assert(c[0] == 0 && c[1] == 0);
}
END_TEST

START_TEST(test_count_labels_out_of_range)
{
    double c[3];
    bl_error err;
    int64_t hi[] = {0, 1, 2, 1, 3, 0};
    check_error(bl_count_labels(hi, 6, 3, c, &err), &err, BL_EINVAL, "labels", 4, "label 3");
    ck_assert_msg(strstr(err.message, "3 classes") != NULL, "%s", err.message);
    int64_t neg[] = {0, -1};
    check_error(bl_count_labels(neg, 2, 3, c, &err), &err, BL_EINVAL, "labels", 1, "label -1");
    int64_t huge[] = {INT64_MAX};
    check_error(bl_count_labels(huge, 1, 3, c, &err), &err, BL_EINVAL, "labels", 0, "out of range");
    int64_t lowest[] = {1, INT64_MIN};
    check_error(bl_count_labels(lowest, 2, 3, c, &err), &err, BL_EINVAL, "labels", 1,
                "out of range");
    /* num_classes 0: every label is out of range */
    int64_t zero[] = {0};
    check_error(bl_count_labels(zero, 1, 0, c, &err), &err, BL_EINVAL, "labels", 0, "label 0");
}
END_TEST

START_TEST(test_count_labels_null)
{
    double c[2];
    bl_error err;
    check_error(bl_count_labels(NULL, 3, 2, c, &err), &err, BL_EINVAL, "labels", -1, "NULL");
    int64_t y[] = {0, 1};
    check_error(bl_count_labels(y, 2, 2, NULL, &err), &err, BL_EINVAL, "counts", -1, "NULL");
}
END_TEST

/* The one check of labels that /weights and /sample share. */
START_TEST(test_label_classes)
{
    bl_error err;
    size_t k = 0;
    int64_t y[] = {2, 0, 5, 5, 1};
    ck_assert_int_eq(bl_label_classes(y, 5, 0, &k, &err), BL_OK);
    ck_assert_uint_eq(k, 6);
    ck_assert_int_eq(err.code, BL_OK);
    ck_assert_int_eq(bl_label_classes(y, 5, 6, &k, &err), BL_OK); /* within a bound */
    ck_assert_uint_eq(k, 6);
    check_error(bl_label_classes(y, 5, 5, &k, &err), &err, BL_EINVAL, "labels", 2,
                "labels[2] = 5 is out of range for 5 classes");
    int64_t neg[] = {0, 3, -7};
    check_error(bl_label_classes(neg, 3, 0, &k, &err), &err, BL_EINVAL, "labels", 2,
                "labels[2] = -7: labels must be integers >= 0");
    check_error(bl_label_classes(neg, 0, 0, &k, &err), &err, BL_EINVAL, "labels", -1, "empty");
    check_error(bl_label_classes(NULL, 2, 0, &k, &err), &err, BL_EINVAL, "labels", -1, "NULL");
    /* the largest label: INT64_MAX + 1 classes, no overflow */
    int64_t top[] = {INT64_MAX, 0};
    ck_assert_int_eq(bl_label_classes(top, 2, 0, &k, &err), BL_OK);
    ck_assert_msg((uint64_t)k == (uint64_t)INT64_MAX + 1, "%zu", k);
}
END_TEST

/* ------------------------------------------------------------------ */
/* conformance fixtures                                                */
/* ------------------------------------------------------------------ */

static char *fixture_path(const char *name)
{
    const char *dir = getenv("BALLAST_FIXTURES");
    if (!dir || !*dir)
        dir = "tests/conformance";
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    ck_assert(p);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static int parse_scheme(const char *s, bl_scheme *out)
{
    for (size_t i = 0; i < NELEM(SCHEME_NAMES); i++)
        if (!strcmp(s, SCHEME_NAMES[i])) {
            *out = ALL_SCHEMES[i];
            return 1;
        }
    return 0;
}

static int parse_normalize(const char *s, bl_normalize *out)
{
    for (size_t i = 0; i < NELEM(NORMALIZE_NAMES); i++)
        if (!strcmp(s, NORMALIZE_NAMES[i])) {
            *out = ALL_NORMALIZE[i];
            return 1;
        }
    return 0;
}

/* Numbers of a JSON array, or of an object's values in order. */
static double *json_numbers(json_t *v, size_t *n)
{
    *n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
    double *out = malloc((*n ? *n : 1) * sizeof *out);
    ck_assert(out);
    if (json_is_array(v)) {
        for (size_t i = 0; i < *n; i++)
            out[i] = json_number_value(json_array_get(v, i));
    } else if (json_is_object(v)) {
        const char *key;
        json_t *x;
        size_t i = 0;
        json_object_foreach(v, key, x) out[i++] = json_number_value(x);
    }
    return out;
}

typedef struct {
    check_tol tol;    /* the case's tolerance (check_tolerance) */
    double max_rel;   /* largest relative error among compared non-zeros */
    char detail[512]; /* why the last failing case failed */
} fixture_stats;

static int cmp_vector(const char *name, const char *what, const double *got, size_t n,
                      json_t *expected, fixture_stats *st)
{
    if (!json_is_array(expected) || json_array_size(expected) != n) {
        snprintf(st->detail, sizeof st->detail, "%s: %s has %zu entries, expected %zu", name, what,
                 n, json_array_size(expected));
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double want = json_number_value(json_array_get(expected, i));
        if (want != 0 && isfinite(got[i]))
            st->max_rel = fmax(st->max_rel, fabs(got[i] - want) / fabs(want));
        if (!check_close(got[i], want, st->tol)) {
            snprintf(st->detail, sizeof st->detail, "%s: %s[%zu] = %.17g, expected %.17g", name,
                     what, i, got[i], want);
            ok = 0;
        }
    }
    return ok;
}

/* Whether a case is test_weights_multilabel.c's: power, repeat_factor,
 * label_sets or a 2-D labels matrix. */
static int replayed_elsewhere(json_t *req)
{
    const char *s = json_string_value(json_object_get(req, "scheme"));
    return (s && (!strcmp(s, "power") || !strcmp(s, "repeat_factor"))) ||
           json_object_get(req, "label_sets") ||
           json_is_array(json_array_get(json_object_get(req, "labels"), 0));
}

/* Runs one case as the api layer would. Returns 1 when it matches. */
static int run_weights_case(json_t *cs, fixture_stats *st)
{
    const char *name = json_string_value(json_object_get(cs, "name"));
    json_t *req = json_object_get(cs, "request"), *exp = json_object_get(cs, "expected");
    if (!name)
        name = "?";
    bl_weights_opts o = bl_weights_opts_default();
    json_t *v;
    if ((v = json_object_get(req, "scheme")) && !parse_scheme(json_string_value(v), &o.scheme)) {
        snprintf(st->detail, sizeof st->detail, "%s: unknown scheme", name);
        return 0;
    }
    if ((v = json_object_get(req, "normalize")) &&
        !parse_normalize(json_string_value(v), &o.normalize)) {
        snprintf(st->detail, sizeof st->detail, "%s: unknown normalize", name);
        return 0;
    }
    if ((v = json_object_get(req, "beta")))
        o.beta = json_number_value(v);
    if ((v = json_object_get(req, "c")))
        o.c = json_number_value(v);
    if ((v = json_object_get(req, "zero_counts")))
        o.zero_counts_allowed = !strcmp(json_string_value(v), "zero");

    double *counts = NULL, *w = NULL;
    int64_t *labels = NULL;
    size_t n = 0, nl = 0;
    int ok = 0;
    bl_error err;
    json_t *jl = json_object_get(req, "labels");
    if (jl) {
        nl = json_array_size(jl);
        labels = malloc((nl ? nl : 1) * sizeof *labels);
        ck_assert(labels);
        int64_t maxl = -1;
        for (size_t i = 0; i < nl; i++) {
            labels[i] = (int64_t)json_integer_value(json_array_get(jl, i));
            if (labels[i] > maxl)
                maxl = labels[i];
        }
        json_t *jk = json_object_get(req, "num_classes");
        n = jk ? (size_t)json_integer_value(jk) : (size_t)(maxl + 1);
        counts = malloc((n ? n : 1) * sizeof *counts);
        ck_assert(counts);
        if (bl_count_labels(labels, nl, n, counts, &err) != BL_OK) {
            snprintf(st->detail, sizeof st->detail, "%s: bl_count_labels: %s", name, err.message);
            goto done;
        }
    } else {
        counts = json_numbers(json_object_get(req, "counts"), &n);
    }
    w = malloc((n ? n : 1) * sizeof *w);
    ck_assert(w);
    if (bl_class_weights(counts, n, &o, w, &err) != BL_OK) {
        snprintf(st->detail, sizeof st->detail, "%s: bl_class_weights: %s", name, err.message);
        goto done;
    }
    json_t *jn = json_object_get(exp, "num_classes");
    if (jn && (size_t)json_integer_value(jn) != n) {
        snprintf(st->detail, sizeof st->detail, "%s: %zu classes, expected %lld", name, n,
                 (long long)json_integer_value(jn));
        goto done;
    }
    ok = cmp_vector(name, "weights", w, n, json_object_get(exp, "weights"), st);
    ok = cmp_vector(name, "counts", counts, n, json_object_get(exp, "counts"), st) && ok;
    json_t *jsw = json_object_get(exp, "sample_weights");
    if (jsw) {
        double *sw = malloc((nl ? nl : 1) * sizeof *sw);
        ck_assert(sw);
        for (size_t i = 0; i < nl; i++)
            sw[i] = w[labels[i]];
        ok = cmp_vector(name, "sample_weights", sw, nl, jsw, st) && ok;
        free(sw);
    }
done:
    free(counts);
    free(labels);
    free(w);
    return ok;
}

START_TEST(test_weights_fixtures)
{
    char *path = fixture_path("weights_cases.json");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    json_t *cases = json_object_get(root, "cases");
    ck_assert(json_is_array(cases));
    size_t total = json_array_size(cases), matched = 0, elsewhere = 0;
    ck_assert_uint_gt(total, 0);
    fixture_stats st = {0};
    for (size_t i = 0; i < total; i++) {
        json_t *cs = json_array_get(cases, i);
        if (replayed_elsewhere(json_object_get(cs, "request"))) {
            elsewhere++;
            continue;
        }
        st.tol = check_tolerance(root, cs, json_string_value(json_object_get(cs, "name")));
        if (run_weights_case(cs, &st))
            matched++;
        else
            fprintf(stderr, "weights fixture mismatch: %s\n", st.detail);
    }
    total -= elsewhere;
    printf("weights fixtures: %zu/%zu matched (max relative error %.3g); %zu multi-label, "
           "power and repeat_factor cases are test_weights_multilabel's\n",
           matched, total, st.max_rel, elsewhere);
    fflush(stdout);
    json_decref(root);
    free(path);
    ck_assert_msg(matched == total, "%zu of %zu weights fixtures differ; last: %s", total - matched,
                  total, st.detail);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("schemes");
    tcase_add_test(tc, test_opts_default);
    tcase_add_test(tc, test_max_over_count);
    tcase_add_test(tc, test_inverse);
    tcase_add_test(tc, test_balanced);
    tcase_add_test(tc, test_inverse_sqrt);
    tcase_add_test(tc, test_effective_number);
    tcase_add_test(tc, test_median_frequency_odd);
    tcase_add_test(tc, test_median_frequency_even);
    tcase_add_test(tc, test_enet);
    tcase_add_test(tc, test_extreme_counts);
    tcase_add_test(tc, test_exact_extreme_counts);
    tcase_add_test(tc, test_wide_range_never_fails);
    tcase_add_test(tc, test_scaled_counts_same_bits);
    suite_add_tcase(s, tc);

    tc = tcase_create("normalize");
    tcase_add_test(tc, test_normalize_modes);
    tcase_add_test(tc, test_normalize_mean_counts_positive_classes);
    suite_add_tcase(s, tc);

    tc = tcase_create("zero_counts");
    tcase_add_test(tc, test_zero_counts_by_hand);
    tcase_add_test(tc, test_zero_class_changes_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_empty);
    tcase_add_test(tc, test_error_bad_counts);
    tcase_add_test(tc, test_error_zero_count);
    tcase_add_test(tc, test_error_all_zero);
    tcase_add_test(tc, test_error_beta);
    tcase_add_test(tc, test_error_c);
    tcase_add_test(tc, test_error_bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_test(tc, test_out_aliases_counts);
    tcase_add_test(tc, test_million_classes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("labels");
    tcase_add_test(tc, test_count_labels);
    tcase_add_test(tc, test_count_labels_out_of_range);
    tcase_add_test(tc, test_count_labels_null);
    tcase_add_test(tc, test_label_classes);
    suite_add_tcase(s, tc);

    tc = tcase_create("conformance");
    tcase_add_test(tc, test_weights_fixtures);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(weights_suite)
