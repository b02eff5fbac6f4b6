/*
 * test_loss_multilabel.c — unit tests for the asymmetric loss
 * (lib/loss_multilabel.c; README "Multi-label: asymmetric").
 *
 *   - values worked out by hand, and where a naive evaluation loses digits
 *     (a confident positive, the eps floor), the exact value;
 *   - identities: γ+ = γ- = 0, clip 0, eps 0 is bce_with_logits (with
 *     weights); none / sum / mean agree; timm's sum;
 *   - gradients against Richardson-extrapolated central differences of
 *     bl_loss itself over a matrix of options, shapes and reductions;
 *   - every error names its argument and writes nothing.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_close.h"

/* The tests' one comparison rule (check_close.h), with a tolerance per call. */
#define ASSERT_CLOSE_TOL(got, want, rel, abs_tol)                                                  \
    CHECK_ASSERT_CLOSE(got, want, ((check_tol){(rel), (abs_tol)}))
#define ASSERT_CLOSE(got, want) ASSERT_CLOSE_TOL(got, want, 1e-12, 1e-15)

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static bl_loss_args asym_args(const double *x, const double *y, size_t n0, size_t n1)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_ASYMMETRIC;
    a.input = x;
    a.target_prob = y;
    a.ndim = n0 ? 2 : 0;
    a.shape[0] = n0;
    a.shape[1] = n1;
    return a;
}

/* The reduced loss (for none, the sum of the losses). */
static double value_of(const bl_loss_args *a)
{
    double per[256];
    ck_assert_uint_le(bl_loss_positions(a), 256);
    bl_loss_result r = {0, 0, per, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(a, &r, &e), BL_OK);
    return r.value;
}

/* The defaults, by hand: x = 0, so p = 1/2. A positive: -log(1/2) (1/2)^1;
 * a negative: p_m = 0.55, -log(0.55) 0.45^4. */
START_TEST(hand_values)
{
    double x[2] = {0, 0}, y[2] = {1, 0}, per[2];
    bl_loss_args a = asym_args(x, y, 1, 2);
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {0, 0, per, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ASSERT_CLOSE(per[0], log(2.0) * 0.5);
    ASSERT_CLOSE(per[1], -log(0.55) * pow(0.45, 4));
    ASSERT_CLOSE(r.value, per[0] + per[1]);
    ASSERT_CLOSE(r.total_weight, 2.0);
    a.reduction = BL_REDUCTION_SUM; /* timm's reduction */
    ASSERT_CLOSE(value_of(&a), per[0] + per[1]);
    a.reduction = BL_REDUCTION_MEAN;
    ASSERT_CLOSE(value_of(&a), (per[0] + per[1]) / 2);
    /* a negative with p below the margin: p_m clamps to 1, no loss */
    double xn = -4, yn = 0;
    bl_loss_args b = asym_args(&xn, &yn, 0, 0);
    ck_assert(value_of(&b) == 0.0);
}
END_TEST

/* Confident positive x = 40: l = softplus(-40) σ(-40), both about 4.2e-18:
 * log(sigmoid(40)) = log(1) = 0 would give 0. And the eps floor: x = -30,
 * y = 1 scores -log(1e-8) σ(30) with gradient log(eps) p (1 - p) (the log
 * is constant there). */
START_TEST(exact_where_naive_loses_digits)
{
    double x = 40, y = 1, g;
    bl_loss_args a = asym_args(&x, &y, 0, 0);
    bl_loss_result r = {0, 0, NULL, &g};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    long double q = expl(-40.0L) / (1 + expl(-40.0L)), sp = log1pl(expl(-40.0L));
    ASSERT_CLOSE(r.value, (double)(sp * q));
    ck_assert(r.value > 0);
    /* dl/dx = -(q q + (-sp)(-(1-q) q)) */
    ASSERT_CLOSE(g, (double)(-(q * q + sp * (1 - q) * q)));

    x = -30;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    long double p = expl(-30.0L) / (1 + expl(-30.0L));
    ASSERT_CLOSE(r.value, (double)(-logl(1e-8L) * (1 - p)));
    ASSERT_CLOSE(g, (double)(logl(1e-8L) * p * (1 - p)));
}
END_TEST

/* γ+ = γ- = 0, clip 0, eps 0: -[y log σ(x) + (1 - y) log σ(-x)] w, which is
 * bce_with_logits with the same weights. */
START_TEST(bce_identity)
{
    rng_seed(7);
    double x[24], y[24], w[4], g1[24], g2[24], p1[24], p2[24];
    for (int i = 0; i < 24; i++) {
        x[i] = (uniform() - 0.5) * 16;
        y[i] = i % 3 == 0 ? uniform() : (double)(uniform() < 0.5);
    }
    for (int j = 0; j < 4; j++)
        w[j] = uniform() * 2;
    for (int red = 0; red < BL_REDUCTION_COUNT; red++) {
        bl_loss_args a = asym_args(x, y, 6, 4);
        a.gamma_pos = a.gamma_neg = a.clip = a.eps = 0;
        a.weights = w;
        a.weights_len = 4;
        a.reduction = (bl_reduction)red;
        bl_loss_args b = a;
        b.loss = BL_LOSS_BCE_WITH_LOGITS;
        bl_loss_result r1 = {0, 0, p1, g1}, r2 = {0, 0, p2, g2};
        bl_error e;
        ck_assert_int_eq(bl_loss(&a, &r1, &e), BL_OK);
        ck_assert_int_eq(bl_loss(&b, &r2, &e), BL_OK);
        ASSERT_CLOSE(r1.value, r2.value);
        for (int i = 0; i < 24; i++) {
            ASSERT_CLOSE(g1[i], g2[i]);
            if (red == BL_REDUCTION_NONE)
                ASSERT_CLOSE(p1[i], p2[i]);
        }
    }
}
END_TEST

/* Richardson-extrapolated central difference of the reduced loss in x[i]. */
static double numeric_grad(bl_loss_args a, double *x, size_t i)
{
    double h = 1e-3, keep = x[i], d[2];
    for (int k = 0; k < 2; k++, h /= 2) {
        x[i] = keep + h;
        double up = value_of(&a);
        x[i] = keep - h;
        double down = value_of(&a);
        d[k] = (up - down) / (2 * h);
    }
    x[i] = keep;
    return (4 * d[1] - d[0]) / 3;
}

static const double OPTS[][4] = {
    /* gamma_pos, gamma_neg, clip, eps */
    {1, 4, 0.05, 1e-8}, {0, 0, 0, 1e-8}, {2, 2, 0.05, 1e-8},    {0, 4, 0, 1e-8},
    {3, 1, 0.2, 1e-8},  {1, 4, 0, 0},    {1.5, 2.5, 0.1, 1e-8},
};

START_TEST(gradients)
{
    rng_seed(1313 + (uint64_t)_i);
    const double *o = OPTS[_i % 7];
    enum { R = 3, L = 5, E = R * L };
    double x[E], y[E], w[L], g[E], per[E];
    for (int i = 0; i < E; i++) {
        x[i] = (uniform() - 0.5) * 8;
        y[i] = _i % 3 == 2 ? uniform() : (double)(uniform() < 0.4);
    }
    for (int j = 0; j < L; j++)
        w[j] = 0.2 + uniform();
    bl_loss_args a = asym_args(x, y, R, L);
    a.gamma_pos = o[0];
    a.gamma_neg = o[1];
    a.clip = o[2];
    a.eps = o[3];
    a.reduction = (bl_reduction)(_i % 3);
    if (_i % 2) {
        a.weights = w;
        a.weights_len = L;
    }
    bl_loss_result r = {0, 0, per, g};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    for (int i = 0; i < E; i++) {
        /* stay off the clamp's kink at p = clip, where the loss is not smooth */
        double p = 1 / (1 + exp(-x[i]));
        if (o[2] > 0 && fabs(p - o[2]) < 1e-2)
            continue;
        ASSERT_CLOSE_TOL(g[i], numeric_grad(a, x, i), 1e-7, 1e-9);
    }
}
END_TEST

/* An error: its code, argument and (>= 0) index; nothing written. */
static void expect_error(const bl_loss_args *a, const char *arg, int64_t index)
{
    double per[64], grad[64];
    for (int i = 0; i < 64; i++)
        per[i] = grad[i] = 12345;
    bl_loss_result r = {777, 888, per, grad};
    bl_error e;
    ck_assert_int_eq(bl_loss(a, &r, &e), BL_EINVAL);
    if (arg)
        ck_assert_str_eq(e.arg, arg);
    else
        ck_assert_ptr_null(e.arg);
    ck_assert_int_eq(e.index, index);
    ck_assert(strlen(e.message) > 10);
    ck_assert(r.value == 777 && r.total_weight == 888);
    for (int i = 0; i < 64; i++)
        ck_assert(per[i] == 12345 && grad[i] == 12345);
}

START_TEST(errors)
{
    double x[6] = {0, 1, 2, 3, 4, 5}, y[6] = {0, 1, 0, 1, 0.5, 1}, w[3] = {1, 1, 1};
    int64_t idx[2] = {0, 1};
    bl_loss_args a = asym_args(x, y, 2, 3);
    a.gamma_pos = -1;
    expect_error(&a, "gamma_pos", -1);
    a = asym_args(x, y, 2, 3);
    a.gamma_neg = INFINITY;
    expect_error(&a, "gamma_neg", -1);
    a = asym_args(x, y, 2, 3);
    a.clip = 1.5;
    expect_error(&a, "clip", -1);
    a.clip = NAN;
    expect_error(&a, "clip", -1);
    a = asym_args(x, y, 2, 3);
    a.eps = 1;
    expect_error(&a, "eps", -1);
    a = asym_args(x, y, 2, 3);
    a.weights = w;
    a.weights_len = 2;
    expect_error(&a, "weights", -1);
    a = asym_args(x, y, 2, 3);
    a.pos_weight = w;
    a.pos_weight_len = 3;
    expect_error(&a, "pos_weight", -1);
    a = asym_args(x, y, 2, 3);
    a.label_smoothing = 0.1;
    expect_error(&a, "label_smoothing", -1);
    a = asym_args(x, y, 2, 3);
    a.target_prob = NULL;
    a.target_index = idx;
    expect_error(&a, "targets", -1);
    double bad[6] = {0, 1, 0, 1.5, 0, 0};
    a = asym_args(x, bad, 2, 3);
    expect_error(&a, "targets", 3);
}
END_TEST

/* Regressions found by tools/difftest.py (exact values from mpmath at 60 digits).
 * A negative near the kink p = clip: x = 2^-60 with clip 1/2, where p rounds to 1/2 and
 * p - clip was 0, so loss and gradient were 0; exactly, p - 1/2 = tanh(x/2)/2 and
 * l = -log(1 - u) u^(1/2), u = p - 1/2. And a confident logit with clip 1e-17, where
 * p_n = q + clip = 1e-17 must not become 1 - (p - clip) = 0 (log 0). */
START_TEST(clip_near_the_kink_exact)
{
    double x[2] = {8.673617379884035e-19, 800.0}, y[2] = {0.0, 0.5}, g[2], per[2];
    bl_loss_args a = asym_args(x, y, 1, 2);
    a.gamma_pos = 0.25;
    a.gamma_neg = 0.5;
    a.clip = 0.5;
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {0, 0, per, g};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ASSERT_CLOSE_TOL(per[0], 1.009741958682895111e-28, 1e-12, 0);
    ASSERT_CLOSE_TOL(g[0], 1.7462298274040222171e-10, 1e-12, 0);
    double x1 = 800, y1 = 0.5, g1;
    a = asym_args(&x1, &y1, 0, 0);
    a.gamma_pos = 0.5;
    a.gamma_neg = 1;
    a.clip = 1e-17;
    a.eps = 1e-300;
    r = (bl_loss_result){0, 0, NULL, &g1};
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    /* -(1 - y) log(1e-17) u^g, u = (1 - y)(p - clip) = 0.5 (1 - 1e-17), g = 0.75: the
     * negative half (log p = -softplus(-800) is 0) */
    ASSERT_CLOSE(r.value, 11.637564945822815);
    ck_assert(g1 == 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss_multilabel");
    TCase *tc = tcase_create("asymmetric");
    tcase_add_test(tc, hand_values);
    tcase_add_test(tc, exact_where_naive_loses_digits);
    tcase_add_test(tc, bce_identity);
    tcase_add_loop_test(tc, gradients, 0, 21);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, clip_near_the_kink_exact);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
