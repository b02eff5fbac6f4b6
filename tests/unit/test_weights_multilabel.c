/*
 * test_weights_multilabel.c — unit tests of scheme power (lib/weights.c) and
 * of the multi-label functions of lib/multilabel.c: bl_label_matrix_sets,
 * bl_label_sets_normalize, bl_multilabel_weights (positives, pos_weight,
 * repeat_factor), bl_multilabel_sample_weights and bl_repeat_factors.
 *
 * Expected values are worked out by hand from the formulas of README
 * ("Scheme power", "Multi-label weights", "Repeat factors"): exact fractions
 * and powers of two where the arithmetic allows. power with exponent 1 and
 * 0.5 must be inverse and inverse_sqrt bit for bit, over counts that take
 * both of bl_class_weights' paths (plain and scaled) and every normalize.
 *
 * The last test replays the cases of tests/conformance/weights_cases.json
 * that test_weights.c leaves (PyTorch-generated: power, repeat_factor,
 * label_sets and 2-D labels matrices) through these functions, the way the
 * api layer calls them. Run from the repository root, or set
 * BALLAST_FIXTURES to the folder that holds weights_cases.json.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ballast.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const bl_normalize NORMALIZES[] = {BL_NORMALIZE_NONE, BL_NORMALIZE_SUM, BL_NORMALIZE_MEAN,
                                          BL_NORMALIZE_MAX};

static bl_status weights_of(const double *c, size_t n, bl_scheme s, double q, bl_normalize m,
                            double *w, bl_error *err)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = s;
    o.exponent = q;
    o.normalize = m;
    o.zero_counts_allowed = 1;
    return bl_class_weights(c, n, &o, w, err);
}

/* ------------------------------------------------------------------ */
/* power                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_power_defaults)
{
    bl_weights_opts o = bl_weights_opts_default();
    ck_assert(o.exponent == 1);
    ck_assert(o.threshold == 0.001);
}
END_TEST

START_TEST(test_power_by_hand)
{
    double w[3];
    bl_error err;
    const double c1[] = {4, 16, 0.25};
    ck_assert_int_eq(weights_of(c1, 3, BL_SCHEME_POWER, 1.5, BL_NORMALIZE_NONE, w, &err), BL_OK);
    ck_assert(w[0] == 0.125 && w[1] == 1.0 / 64 && w[2] == 8); /* n^-3/2, exact */
    const double c2[] = {0.5, 3, 10};
    ck_assert_int_eq(weights_of(c2, 3, BL_SCHEME_POWER, 2, BL_NORMALIZE_NONE, w, &err), BL_OK);
    ck_assert(w[0] == 4 && w[1] == 1.0 / 9 && w[2] == 0.01);
    /* q = 0: every class weighs 1 (instance-balanced), sum-normalised 1/C */
    ck_assert_int_eq(weights_of(c2, 3, BL_SCHEME_POWER, 0, BL_NORMALIZE_SUM, w, &err), BL_OK);
    ck_assert(w[0] == 1.0 / 3 && w[1] == 1.0 / 3 && w[2] == 1.0 / 3);
    /* q > 3.5 takes the scaled path: 2^-40 and 2^40 to the -20th are 2^800
     * and 2^-800, exactly; normalize max divides by 2^800 exactly */
    const double c3[] = {0x1p-40, 0x1p40, 1};
    ck_assert_int_eq(weights_of(c3, 3, BL_SCHEME_POWER, 20, BL_NORMALIZE_NONE, w, &err), BL_OK);
    ck_assert(w[0] == 0x1p800 && w[1] == 0x1p-800 && w[2] == 1);
    ck_assert_int_eq(weights_of(c3, 3, BL_SCHEME_POWER, 20, BL_NORMALIZE_MAX, w, &err), BL_OK);
    ck_assert(w[0] == 1 && w[1] == 0 && w[2] == 0x1p-800);
    /* beyond the double range: 1e-300^-2 is inf, not NaN, unnormalised; and
     * max-normalised the largest weighs 1 exactly */
    const double c4[] = {1e-300, 1};
    ck_assert_int_eq(weights_of(c4, 2, BL_SCHEME_POWER, 2, BL_NORMALIZE_NONE, w, &err), BL_OK);
    ck_assert(isinf(w[0]) && w[1] == 1);
    ck_assert_int_eq(weights_of(c4, 2, BL_SCHEME_POWER, 2, BL_NORMALIZE_MAX, w, &err), BL_OK);
    ck_assert(w[0] == 1 && w[1] == 0); /* 1e-600 underflows */
    /* 1e300^-q for q the double nearest 0.9 (0.9 - 2.2e-17): 50 digits give
     * 9.9999999999998461444779736655e-271, not 1e-270 */
    const double c5[] = {1e300};
    ck_assert_int_eq(weights_of(c5, 1, BL_SCHEME_POWER, 0.9, BL_NORMALIZE_NONE, w, &err), BL_OK);
    ck_assert_msg(fabs(w[0] / 9.9999999999998461444779736655e-271 - 1) < 5e-16, "%.17g", w[0]);
}
END_TEST

/* power(1) is inverse and power(0.5) inverse_sqrt, bit for bit, on both
 * paths of bl_class_weights and with every normalize. */
START_TEST(test_power_identities_bit_for_bit)
{
    const double sets[][5] = {
        {1, 2, 3, 1000, 7.5},                    /* plain */
        {0.001, 12345.678, 1, 2, 3},             /* plain */
        {1e-300, 1e300, 1, 5e-324, 1.7e308},     /* scaled */
        {0x1p-1000, 0x1p-1001, 3, 0x1p1000, 0},  /* scaled, a zero class */
        {9007199254740992.0, 1, 0.5, 0.25, 1e-5} /* 2^53 */
    };
    double a[5], b[5];
    bl_error err;
    for (size_t k = 0; k < NELEM(sets); k++)
        for (size_t m = 0; m < NELEM(NORMALIZES); m++) {
            ck_assert_int_eq(weights_of(sets[k], 5, BL_SCHEME_POWER, 1, NORMALIZES[m], a, &err),
                             BL_OK);
            ck_assert_int_eq(weights_of(sets[k], 5, BL_SCHEME_INVERSE, 1, NORMALIZES[m], b, &err),
                             BL_OK);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0, "power 1 != inverse, set %zu norm %zu", k,
                          m);
            ck_assert_int_eq(weights_of(sets[k], 5, BL_SCHEME_POWER, 0.5, NORMALIZES[m], a, &err),
                             BL_OK);
            ck_assert_int_eq(
                weights_of(sets[k], 5, BL_SCHEME_INVERSE_SQRT, 1, NORMALIZES[m], b, &err), BL_OK);
            ck_assert_msg(memcmp(a, b, sizeof a) == 0,
                          "power 0.5 != inverse_sqrt, set %zu norm %zu", k, m);
        }
}
END_TEST

START_TEST(test_power_errors)
{
    const double c[] = {1, 2};
    const double bad[] = {-0.5, 64.5, NAN, INFINITY, -INFINITY};
    double w[2];
    bl_error err;
    for (size_t i = 0; i < NELEM(bad); i++) {
        ck_assert_int_eq(weights_of(c, 2, BL_SCHEME_POWER, bad[i], BL_NORMALIZE_NONE, w, &err),
                         BL_EINVAL);
        ck_assert_str_eq(err.arg, "exponent");
    }
    ck_assert_int_eq(weights_of(c, 2, BL_SCHEME_POWER, 64, BL_NORMALIZE_NONE, w, &err), BL_OK);
    /* exponent is not looked at by the other schemes */
    ck_assert_int_eq(weights_of(c, 2, BL_SCHEME_INVERSE, -3, BL_NORMALIZE_NONE, w, &err), BL_OK);
    /* repeat_factor needs images: bl_class_weights refuses it */
    ck_assert_int_eq(weights_of(c, 2, BL_SCHEME_REPEAT_FACTOR, 1, BL_NORMALIZE_NONE, w, &err),
                     BL_EINVAL);
    ck_assert_str_eq(err.arg, "scheme");
    ck_assert_ptr_nonnull(strstr(err.message, "bl_multilabel_weights"));
}
END_TEST

/* ------------------------------------------------------------------ */
/* label sets                                                          */
/* ------------------------------------------------------------------ */

START_TEST(test_matrix_sets)
{
    const double y[] = {1, 0, 1, /**/ 0, 0, 0, /**/ 0, 1, 0, /**/ 1, 1, 1};
    size_t off[5];
    int64_t ids[6];
    bl_error err;
    ck_assert_int_eq(bl_label_matrix_sets(y, 4, 3, off, NULL, &err), BL_OK);
    ck_assert_uint_eq(off[4], 6);
    ck_assert_int_eq(bl_label_matrix_sets(y, 4, 3, off, ids, &err), BL_OK);
    const size_t want_off[] = {0, 2, 2, 3, 6};
    const int64_t want_ids[] = {0, 2, 1, 0, 1, 2};
    ck_assert(memcmp(off, want_off, sizeof off) == 0);
    ck_assert(memcmp(ids, want_ids, sizeof ids) == 0);
    const double bad[] = {1, 0, 0.5, 1};
    ck_assert_int_eq(bl_label_matrix_sets(bad, 2, 2, off, NULL, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "labels");
    ck_assert_int_eq(err.index, 2);
    ck_assert_ptr_nonnull(strstr(err.message, "labels[1][0]"));
    const double two[] = {0, 2};
    ck_assert_int_eq(bl_label_matrix_sets(two, 1, 2, off, NULL, &err), BL_EINVAL);
    ck_assert_int_eq(err.index, 1);
    ck_assert_int_eq(bl_label_matrix_sets(y, 0, 3, off, NULL, &err), BL_EINVAL);
    ck_assert_int_eq(bl_label_matrix_sets(y, 4, 0, off, NULL, &err), BL_EINVAL);
    ck_assert_int_eq(bl_label_matrix_sets(NULL, 4, 3, off, NULL, &err), BL_EINVAL);
    ck_assert_int_eq(bl_label_matrix_sets(y, 4, 3, NULL, NULL, &err), BL_EINVAL);
}
END_TEST

START_TEST(test_sets_normalize)
{
    int64_t ids[] = {3, 1, 3, 3, /**/ /**/ 0, 0, /**/ 2};
    size_t off[] = {0, 4, 4, 6, 7};
    size_t classes = 0;
    bl_error err;
    ck_assert_int_eq(bl_label_sets_normalize(ids, off, 4, 0, &classes, &err), BL_OK);
    ck_assert_uint_eq(classes, 4);
    const size_t want_off[] = {0, 2, 2, 3, 4};
    const int64_t want_ids[] = {1, 3, 0, 2};
    ck_assert(memcmp(off, want_off, sizeof off) == 0);
    ck_assert(memcmp(ids, want_ids, sizeof want_ids) == 0);
    /* canonical sets are a fixed point; num_classes beyond the ids is kept */
    ck_assert_int_eq(bl_label_sets_normalize(ids, off, 4, 9, &classes, &err), BL_OK);
    ck_assert_uint_eq(classes, 9);
    ck_assert(memcmp(off, want_off, sizeof off) == 0);
    /* out of range, negative: the flat index, and nothing rewritten */
    int64_t bad[] = {2, 0, 5, 1};
    size_t boff[] = {0, 2, 4};
    ck_assert_int_eq(bl_label_sets_normalize(bad, boff, 2, 5, &classes, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "label_sets");
    ck_assert_int_eq(err.index, 2);
    ck_assert(bad[0] == 2 && bad[1] == 0 && boff[1] == 2);
    bad[3] = -1;
    ck_assert_int_eq(bl_label_sets_normalize(bad, boff, 2, 0, &classes, &err), BL_EINVAL);
    ck_assert_int_eq(err.index, 3);
    ck_assert_ptr_nonnull(strstr(err.message, "negative"));
    /* every set empty: only with num_classes */
    size_t eoff[] = {0, 0, 0};
    ck_assert_int_eq(bl_label_sets_normalize(NULL, eoff, 2, 0, &classes, &err), BL_EINVAL);
    ck_assert_int_eq(bl_label_sets_normalize(NULL, eoff, 2, 3, &classes, &err), BL_OK);
    ck_assert_uint_eq(classes, 3);
    /* no sets; offsets that go down or do not start at 0 */
    ck_assert_int_eq(bl_label_sets_normalize(ids, off, 0, 0, &classes, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "label_sets");
    size_t down[] = {0, 2, 1};
    ck_assert_int_eq(bl_label_sets_normalize(ids, down, 2, 0, &classes, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "offsets");
    size_t late[] = {1, 2};
    ck_assert_int_eq(bl_label_sets_normalize(ids, late, 1, 0, &classes, &err), BL_EINVAL);
    ck_assert_int_eq(bl_label_sets_normalize(ids, off, 4, 0, NULL, &err), BL_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* multi-label weights                                                 */
/* ------------------------------------------------------------------ */

/* {0, 1}, {1}, {}, {0, 2}: N = 4, positives 2, 2, 1. */
static const int64_t IDS[] = {0, 1, 1, 0, 2};
static const size_t OFF[] = {0, 2, 3, 3, 5};

START_TEST(test_multilabel_by_hand)
{
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_INVERSE;
    double pos[3], w[3], pw[3], sw[4], rf[4];
    bl_error err;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_OK);
    ck_assert(pos[0] == 2 && pos[1] == 2 && pos[2] == 1);
    ck_assert(pw[0] == 1 && pw[1] == 1 && pw[2] == 3); /* (4 - n) / n */
    ck_assert(w[0] == 0.5 && w[1] == 0.5 && w[2] == 1);
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, w, pos, 3, BL_SAMPLE_REDUCE_MAX, sw, &err),
        BL_OK);
    ck_assert(sw[0] == 0.5 && sw[1] == 0.5 && sw[2] == 0.5 && sw[3] == 1); /* empty: min 0.5 */
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, w, pos, 3, BL_SAMPLE_REDUCE_MEAN, sw, &err),
        BL_OK);
    ck_assert(sw[0] == 0.5 && sw[1] == 0.5 && sw[2] == 0.5 && sw[3] == 0.75);
    /* balanced on the positives: N' = 5 positives, C = 3: 5 / (3 n) */
    o.scheme = BL_SCHEME_BALANCED;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, NULL, &err), BL_OK);
    ck_assert(w[0] == 5.0 / 6 && w[1] == 5.0 / 6 && w[2] == 5.0 / 3);
    /* repeat_factor, t = 0.5: f = 1/2, 1/2, 1/4; r = 1, 1, sqrt 2 */
    o.scheme = BL_SCHEME_REPEAT_FACTOR;
    o.threshold = 0.5;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_OK);
    ck_assert(w[0] == 1 && w[1] == 1 && w[2] == sqrt(2.0));
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 4, w, 3, rf, &err), BL_OK);
    ck_assert(rf[0] == 1 && rf[1] == 1 && rf[2] == 1 && rf[3] == sqrt(2.0));
    /* t = 1: r = sqrt 2, sqrt 2, 2; the empty image stays 1 */
    o.threshold = 1;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_OK);
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 4, w, 3, rf, &err), BL_OK);
    ck_assert(rf[0] == sqrt(2.0) && rf[1] == sqrt(2.0) && rf[2] == 1 && rf[3] == 2);
    /* t = 0: nothing repeats */
    o.threshold = 0;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_OK);
    ck_assert(w[0] == 1 && w[1] == 1 && w[2] == 1);
}
END_TEST

START_TEST(test_multilabel_zero_positives)
{
    /* class 3 of 4 never occurs */
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = BL_SCHEME_INVERSE;
    double pos[4], w[4], pw[4], sw[4];
    bl_error err;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 4, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "positives");
    ck_assert_int_eq(err.index, 3);
    ck_assert_ptr_nonnull(strstr(err.message, "zero_counts"));
    o.zero_counts_allowed = 1;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 4, &o, pos, w, pw, &err), BL_OK);
    ck_assert(pos[3] == 0 && w[3] == 0 && pw[3] == 0 && w[2] == 1);
    /* an empty sample takes the smallest weight of a class with positives,
     * not class 3's 0 */
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, w, pos, 4, BL_SAMPLE_REDUCE_MAX, sw, &err),
        BL_OK);
    ck_assert(sw[2] == 0.5);
    o.scheme = BL_SCHEME_REPEAT_FACTOR;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 4, &o, pos, w, pw, &err), BL_OK);
    ck_assert(w[3] == 0);
    /* no positives at all */
    const size_t empty[] = {0, 0, 0};
    ck_assert_int_eq(bl_multilabel_weights(NULL, empty, 2, 2, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "positives");
    ck_assert_int_eq(err.index, -1);
}
END_TEST

START_TEST(test_multilabel_errors)
{
    bl_weights_opts o = bl_weights_opts_default();
    double pos[3], w[3], pw[3], out[4];
    bl_error err;
    o.scheme = BL_SCHEME_REPEAT_FACTOR;
    o.threshold = 1.5;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "threshold");
    o.threshold = NAN;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    o.threshold = -1e-300;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    o.threshold = 0.1;
    o.normalize = BL_NORMALIZE_SUM;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "normalize");
    o = bl_weights_opts_default();
    o.scheme = (bl_scheme)99;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "scheme");
    o.scheme = BL_SCHEME_POWER;
    o.exponent = -1;
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "exponent");
    o = bl_weights_opts_default();
    /* not canonical: a repeat, an unsorted set, an id out of range */
    const int64_t rep[] = {1, 1};
    const int64_t uns[] = {2, 0};
    const size_t off1[] = {0, 2};
    ck_assert_int_eq(bl_multilabel_weights(rep, off1, 1, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "label_sets");
    ck_assert_int_eq(bl_multilabel_weights(uns, off1, 1, 3, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 2, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_int_eq(err.index, 4);
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, NULL, pos, w, pw, &err), BL_EINVAL);
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 3, &o, NULL, w, pw, &err), BL_EINVAL);
    ck_assert_int_eq(bl_multilabel_weights(IDS, OFF, 4, 0, &o, pos, w, pw, &err), BL_EINVAL);
    ck_assert_int_eq(bl_multilabel_weights(IDS, NULL, 4, 3, &o, pos, w, pw, &err), BL_EINVAL);
    /* sample weights and repeat factors */
    const double ww[] = {1, 2, 3}, pp[] = {2, 2, 1}, none[] = {0, 0, 0};
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, ww, pp, 3, (bl_sample_reduce)2, out, &err),
        BL_EINVAL);
    ck_assert_str_eq(err.arg, "sample_weight_reduce");
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, ww, none, 3, BL_SAMPLE_REDUCE_MAX, out, &err),
        BL_EINVAL);
    ck_assert_int_eq(
        bl_multilabel_sample_weights(IDS, OFF, 4, NULL, pp, 3, BL_SAMPLE_REDUCE_MAX, out, &err),
        BL_EINVAL);
    ck_assert_int_eq(
        bl_multilabel_sample_weights(rep, off1, 1, ww, pp, 3, BL_SAMPLE_REDUCE_MAX, out, &err),
        BL_EINVAL);
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 4, NULL, 3, out, &err), BL_EINVAL);
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 4, ww, 3, NULL, &err), BL_EINVAL);
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 4, ww, 2, out, &err), BL_EINVAL);
    ck_assert_int_eq(bl_repeat_factors(IDS, OFF, 0, ww, 3, out, &err), BL_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* conformance fixtures                                                */
/* ------------------------------------------------------------------ */

static double worst_rel;

static int close_enough(double got, double want)
{
    double err = fabs(got - want);
    if (err <= 1e-15)
        return 1;
    double rel = err / fabs(want);
    worst_rel = rel > worst_rel ? rel : worst_rel;
    return rel <= 1e-12;
}

/* got[0..n) against the JSON array want; a description of the first
 * difference in why. */
static int same(const char *what, const double *got, size_t n, json_t *want, char *why, size_t size)
{
    if (!want)
        return 1;
    if (json_array_size(want) != n)
        return snprintf(why, size, "%s has %zu entries, expected %zu", what, n,
                        json_array_size(want)),
               0;
    for (size_t i = 0; i < n; i++) {
        double w = json_number_value(json_array_get(want, i));
        if (!close_enough(got[i], w))
            return snprintf(why, size, "%s[%zu] = %.17g, expected %.17g", what, i, got[i], w), 0;
    }
    return 1;
}

static int name_index(const char *const *names, const char *s, int def)
{
    for (int i = 0; s && names[i]; i++)
        if (!strcmp(s, names[i]))
            return i;
    return def;
}

static bl_weights_opts case_opts(json_t *req)
{
    bl_weights_opts o = bl_weights_opts_default();
    json_t *v;
    o.scheme = (bl_scheme)name_index(bl_scheme_names,
                                     json_string_value(json_object_get(req, "scheme")), 0);
    o.normalize = (bl_normalize)name_index(bl_normalize_names,
                                           json_string_value(json_object_get(req, "normalize")), 0);
    if ((v = json_object_get(req, "beta")))
        o.beta = json_number_value(v);
    if ((v = json_object_get(req, "c")))
        o.c = json_number_value(v);
    if ((v = json_object_get(req, "exponent")))
        o.exponent = json_number_value(v);
    if ((v = json_object_get(req, "threshold")))
        o.threshold = json_number_value(v);
    v = json_object_get(req, "zero_counts");
    o.zero_counts_allowed = v && !strcmp(json_string_value(v), "zero");
    return o;
}

/* A single-label power case: counts, or labels counted. */
static int run_power_case(json_t *req, json_t *exp, char *why, size_t size)
{
    bl_weights_opts o = case_opts(req);
    json_t *jc = json_object_get(req, "counts"), *jl = json_object_get(req, "labels");
    size_t n = jc ? json_array_size(jc) : 0, nl = json_array_size(jl);
    int64_t *labels = malloc((nl + 1) * sizeof *labels);
    ck_assert(labels);
    int64_t top = -1;
    for (size_t i = 0; i < nl; i++) {
        labels[i] = json_integer_value(json_array_get(jl, i));
        top = labels[i] > top ? labels[i] : top;
    }
    if (jl)
        n = json_object_get(req, "num_classes")
                ? (size_t)json_integer_value(json_object_get(req, "num_classes"))
                : (size_t)(top + 1);
    double *counts = malloc((n + 1) * sizeof *counts), *w = malloc((n + 1) * sizeof *w);
    double *sw = malloc((nl + 1) * sizeof *sw);
    ck_assert(counts && w && sw);
    bl_error err;
    int ok = 1;
    for (size_t i = 0; jc && i < n; i++)
        counts[i] = json_number_value(json_array_get(jc, i));
    if (jl)
        ck_assert_int_eq(bl_count_labels(labels, nl, n, counts, &err), BL_OK);
    if (bl_class_weights(counts, n, &o, w, &err) != BL_OK)
        ok = (snprintf(why, size, "bl_class_weights: %s", err.message), 0);
    for (size_t i = 0; ok && i < nl; i++)
        sw[i] = w[labels[i]];
    ok = ok && same("weights", w, n, json_object_get(exp, "weights"), why, size) &&
         same("counts", counts, n, json_object_get(exp, "counts"), why, size) &&
         same("sample_weights", sw, nl, json_object_get(exp, "sample_weights"), why, size);
    free(labels);
    free(counts);
    free(w);
    free(sw);
    return ok;
}

/* The samples of a multi-label case as label sets: label_sets, a labels
 * matrix, or one label per sample. */
static size_t case_sets(json_t *req, int64_t **ids, size_t **off)
{
    json_t *js = json_object_get(req, "label_sets"), *jl = json_object_get(req, "labels");
    bl_error err;
    size_t n = json_array_size(js ? js : jl), total = 0;
    *off = malloc((n + 1) * sizeof **off);
    ck_assert(*off);
    if (!js && json_is_array(json_array_get(jl, 0))) { /* a matrix */
        size_t c = json_array_size(json_array_get(jl, 0));
        double *m = malloc((n * c + 1) * sizeof *m);
        ck_assert(m);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < c; j++)
                m[i * c + j] = json_number_value(json_array_get(json_array_get(jl, i), j));
        ck_assert_int_eq(bl_label_matrix_sets(m, n, c, *off, NULL, &err), BL_OK);
        *ids = malloc(((*off)[n] + 1) * sizeof **ids);
        ck_assert(*ids);
        ck_assert_int_eq(bl_label_matrix_sets(m, n, c, *off, *ids, &err), BL_OK);
        free(m);
        return n;
    }
    for (size_t i = 0; i < n; i++)
        total += js ? json_array_size(json_array_get(js, i)) : 1;
    *ids = malloc((total + 1) * sizeof **ids);
    ck_assert(*ids);
    (*off)[0] = 0;
    for (size_t i = 0, k = 0; i < n; i++) {
        json_t *set = js ? json_array_get(js, i) : NULL;
        size_t len = js ? json_array_size(set) : 1;
        for (size_t j = 0; j < len; j++)
            (*ids)[k++] = json_integer_value(js ? json_array_get(set, j) : json_array_get(jl, i));
        (*off)[i + 1] = k;
    }
    return n;
}

static int run_multilabel_case(json_t *req, json_t *exp, char *why, size_t size)
{
    bl_weights_opts o = case_opts(req);
    int64_t *ids;
    size_t *off, classes = 0;
    size_t n = case_sets(req, &ids, &off);
    bl_error err;
    json_t *jk = json_object_get(req, "num_classes");
    size_t given = jk ? (size_t)json_integer_value(jk) : 0;
    int ok = bl_label_sets_normalize(ids, off, n, given, &classes, &err) == BL_OK;
    if (!ok)
        snprintf(why, size, "bl_label_sets_normalize: %s", err.message);
    size_t c = classes ? classes : 1;
    double *pos = malloc(c * sizeof *pos), *w = malloc(c * sizeof *w);
    double *pw = malloc(c * sizeof *pw), *sw = malloc((n + 1) * sizeof *sw);
    double *rf = malloc((n + 1) * sizeof *rf);
    ck_assert(pos && w && pw && sw && rf);
    if (ok && bl_multilabel_weights(ids, off, n, classes, &o, pos, w, pw, &err) != BL_OK)
        ok = (snprintf(why, size, "bl_multilabel_weights: %s", err.message), 0);
    json_t *jsw = json_object_get(exp, "sample_weights");
    json_t *jr = json_object_get(req, "sample_weight_reduce");
    bl_sample_reduce red =
        (bl_sample_reduce)name_index(bl_sample_reduce_names, jr ? json_string_value(jr) : "max", 0);
    if (ok && jsw &&
        bl_multilabel_sample_weights(ids, off, n, w, pos, classes, red, sw, &err) != BL_OK)
        ok = (snprintf(why, size, "bl_multilabel_sample_weights: %s", err.message), 0);
    json_t *jrf = json_object_get(exp, "repeat_factors");
    if (ok && jrf && bl_repeat_factors(ids, off, n, w, classes, rf, &err) != BL_OK)
        ok = (snprintf(why, size, "bl_repeat_factors: %s", err.message), 0);
    ok = ok && same("weights", w, classes, json_object_get(exp, "weights"), why, size) &&
         same("positives", pos, classes, json_object_get(exp, "positives"), why, size) &&
         same("counts", pos, classes, json_object_get(exp, "counts"), why, size) &&
         same("pos_weight", pw, classes, json_object_get(exp, "pos_weight"), why, size) &&
         same("sample_weights", sw, n, jsw, why, size) &&
         same("repeat_factors", rf, n, jrf, why, size);
    if (ok && (size_t)json_integer_value(json_object_get(exp, "num_classes")) != classes)
        ok = (snprintf(why, size, "%zu classes", classes), 0);
    free(ids);
    free(off);
    free(pos);
    free(w);
    free(pw);
    free(sw);
    free(rf);
    return ok;
}

/* Regression found by tools/difftest.py: a labels matrix has as many classes as
 * columns (api/openapi.yaml, "N x C matrix"), trailing all-zero columns included. They
 * were dropped (num_classes = the last column with a positive + 1), so a class without
 * positives passed zero_counts "error" and the answer had fewer weights than columns. */
static char *weights_call(const char *body, bl_api_code want)
{
    bl_api_config cfg = bl_api_config_default();
    bl_api_result res;
    bl_api_code code = bl_api_call(&cfg, "weights", body, strlen(body), &res);
    ck_assert_ptr_nonnull(res.body);
    ck_assert_msg(code == want, "code %d, want %d: %s", (int)code, (int)want, res.body);
    return res.body;
}

START_TEST(test_matrix_trailing_zero_columns)
{
    char *b = weights_call("{\"labels\": [[0, 1, 0], [1, 0, 0]], \"scheme\": \"inverse\"}",
                           BL_API_INVALID_ARGUMENT);
    ck_assert_msg(strstr(b, "zero_counts") != NULL, "%s", b);
    free(b);
    b = weights_call("{\"labels\": [[1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 1, 0]], \"scheme\": "
                     "\"power\", \"exponent\": 0, \"zero_counts\": \"zero\"}",
                     BL_API_OK);
    ck_assert_msg(strstr(b, "\"num_classes\":6") != NULL, "%s", b);
    ck_assert_msg(strstr(b, "\"weights\":[1.0,0.0,1.0,0.0,1.0,0.0]") != NULL, "%s", b);
    ck_assert_msg(strstr(b, "\"positives\":[1,0,1,0,2,0]") != NULL, "%s", b);
    free(b);
    /* num_classes must agree with the columns, trailing zeros or not */
    b = weights_call("{\"labels\": [[1, 0, 0]], \"num_classes\": 1, \"zero_counts\": \"zero\"}",
                     BL_API_INVALID_ARGUMENT);
    free(b);
}
END_TEST

START_TEST(test_fixtures)
{
    const char *dir = getenv("BALLAST_FIXTURES");
    char path[512];
    snprintf(path, sizeof path, "%s/weights_cases.json", dir && *dir ? dir : "tests/conformance");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    ck_assert_msg(root != NULL, "cannot load %s: %s", path, jerr.text);
    json_t *cases = json_object_get(root, "cases");
    size_t power = 0, multi = 0, matched = 0;
    char first[600] = "";
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *cs = json_array_get(cases, i);
        json_t *req = json_object_get(cs, "request"), *exp = json_object_get(cs, "expected");
        const char *s = json_string_value(json_object_get(req, "scheme"));
        int is_multi = json_object_get(req, "label_sets") ||
                       json_is_array(json_array_get(json_object_get(req, "labels"), 0)) ||
                       (s && !strcmp(s, "repeat_factor"));
        int is_power = !is_multi && s && !strcmp(s, "power");
        if (!is_multi && !is_power)
            continue; /* test_weights.c's */
        char why[400] = "";
        int ok = is_multi ? run_multilabel_case(req, exp, why, sizeof why)
                          : run_power_case(req, exp, why, sizeof why);
        power += is_power;
        multi += is_multi;
        matched += ok;
        if (!ok && !first[0])
            snprintf(first, sizeof first, "%s: %s", json_string_value(json_object_get(cs, "name")),
                     why);
    }
    printf("power and multi-label weights fixtures: %zu/%zu matched (%zu power, %zu "
           "multi-label; largest relative error %.3g)\n",
           matched, power + multi, power, multi, worst_rel);
    fflush(stdout);
    json_decref(root);
    ck_assert_msg(power >= 20 && multi >= 80, "only %zu power and %zu multi-label cases", power,
                  multi);
    ck_assert_msg(matched == power + multi, "%zu differ; first: %s", power + multi - matched,
                  first);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights_multilabel");
    TCase *tc = tcase_create("power");
    tcase_add_test(tc, test_power_defaults);
    tcase_add_test(tc, test_power_by_hand);
    tcase_add_test(tc, test_power_identities_bit_for_bit);
    tcase_add_test(tc, test_power_errors);
    tcase_add_test(tc, test_matrix_trailing_zero_columns);
    suite_add_tcase(s, tc);
    tc = tcase_create("label_sets");
    tcase_add_test(tc, test_matrix_sets);
    tcase_add_test(tc, test_sets_normalize);
    suite_add_tcase(s, tc);
    tc = tcase_create("multilabel");
    tcase_add_test(tc, test_multilabel_by_hand);
    tcase_add_test(tc, test_multilabel_zero_positives);
    tcase_add_test(tc, test_multilabel_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fixtures);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
