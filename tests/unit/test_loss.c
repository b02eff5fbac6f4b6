/*
 * test_loss.c — unit tests for lib/loss.c.
 *
 * Three kinds of check:
 *   - exact values worked out by hand (the seed examples, logits of ±1e4),
 *     compared at the contract's tolerance (CONTRACT; check_close.h);
 *   - a matrix of every loss x reduction x target kind x option (weights,
 *     pos_weight, ignore_index, label smoothing, gamma, alpha) on small
 *     random inputs, whose values are compared with a naive reference
 *     written straight from README.md's formulas ("POST /loss"; long double, no max
 *     subtraction: the inputs are moderate) and whose gradients are compared
 *     with Richardson-extrapolated central differences of bl_loss itself;
 *   - every error: code, arg, index and message, and that nothing is
 *     written on error.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_close.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* log(1 + e) and log(1 + e^-2): the seed example's two losses. */
#define L1 1.3132616875182228
#define L2 0.12692801104297263

/* The tolerance of the hand-worked values and of the naive reference: the
 * contract's (the fixtures' "tolerance", tests/conformance/loss_cases.json). */
static const check_tol CONTRACT = {1e-12, 1e-15};

#define ASSERT_CLOSE_TOL(got, want, rel, abs_tol)                                                  \
    CHECK_ASSERT_CLOSE(got, want, ((check_tol){rel, abs_tol}))
#define ASSERT_CLOSE(got, want) CHECK_ASSERT_CLOSE(got, want, CONTRACT)

/* Deterministic xorshift64* for the random cases. */
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}
static double uniform_in(double lo, double hi) { return lo + (hi - lo) * uniform(); }

static bl_loss_args args_2d(bl_loss_kind loss, const double *input, size_t n, size_t c)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = loss;
    a.input = input;
    a.ndim = 2;
    a.shape[0] = n;
    a.shape[1] = c;
    return a;
}

/* Runs bl_loss and asserts success. */
static bl_loss_result run_ok(const bl_loss_args *a, double *per, double *grad)
{
    bl_loss_result r = {.value = -1, .total_weight = -1, .per = per, .grad = grad};
    bl_error e;
    bl_status rc = bl_loss(a, &r, &e);
    ck_assert_msg(rc == BL_OK, "bl_loss failed: %s (arg %s, index %lld)", e.message,
                  e.arg ? e.arg : "-", (long long)e.index);
    ck_assert_int_eq(e.code, BL_OK);
    return r;
}

/* ------------------------------------------------------------------ */
/* Defaults and shapes                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_defaults)
{
    bl_loss_args a = bl_loss_args_default();
    ck_assert_int_eq(a.loss, BL_LOSS_CROSS_ENTROPY);
    ck_assert_int_eq(a.reduction, BL_REDUCTION_MEAN);
    ck_assert_int_eq(a.ignore_index, -100);
    ck_assert(a.label_smoothing == 0);
    ck_assert(a.gamma == 2);
    ck_assert(a.alpha == 0.25);
    ck_assert_ptr_null(a.input);
    ck_assert_ptr_null(a.target_index);
    ck_assert_ptr_null(a.target_prob);
    ck_assert_ptr_null(a.weights);
    ck_assert_ptr_null(a.pos_weight);
}
END_TEST

START_TEST(test_positions_elements)
{
    bl_loss_args a = bl_loss_args_default();
    a.ndim = 1;
    a.shape[0] = 7;
    ck_assert_uint_eq(bl_loss_positions(&a), 1);
    ck_assert_uint_eq(bl_loss_elements(&a), 7);
    a.ndim = 2;
    a.shape[0] = 3;
    a.shape[1] = 5;
    ck_assert_uint_eq(bl_loss_positions(&a), 3);
    ck_assert_uint_eq(bl_loss_elements(&a), 15);
    a.ndim = 4;
    a.shape[2] = 2;
    a.shape[3] = 4;
    ck_assert_uint_eq(bl_loss_positions(&a), 24);
    ck_assert_uint_eq(bl_loss_elements(&a), 120);
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    ck_assert_uint_eq(bl_loss_positions(&a), 120);
    a.ndim = 0;
    ck_assert_uint_eq(bl_loss_positions(&a), 1);
    ck_assert_uint_eq(bl_loss_elements(&a), 1);
    a.loss = BL_LOSS_NLL;
    ck_assert_uint_eq(bl_loss_positions(&a), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The seed examples                                                   */
/* ------------------------------------------------------------------ */

static const double seed_logits[] = {1, 2, 1, 3, 1, 3};
static const int64_t seed_targets[] = {0, 1, 1};

START_TEST(test_seed_cross_entropy)
{
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, seed_logits, 3, 2);
    a.target_index = seed_targets;
    double per[3];

    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = run_ok(&a, per, NULL);
    ASSERT_CLOSE(per[0], L1);
    ASSERT_CLOSE(per[1], L2);
    ASSERT_CLOSE(per[2], L2);
    ASSERT_CLOSE(r.total_weight, 3);

    a.reduction = BL_REDUCTION_SUM;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, L1 + 2 * L2);
    ASSERT_CLOSE(r.total_weight, 3);

    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, (L1 + 2 * L2) / 3);
    ASSERT_CLOSE(r.total_weight, 3);
}
END_TEST

START_TEST(test_seed_cross_entropy_weighted)
{
    static const double w[] = {1, 2};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, seed_logits, 3, 2);
    a.target_index = seed_targets;
    a.weights = w;
    a.weights_len = 2;
    double per[3];

    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = run_ok(&a, per, NULL);
    ASSERT_CLOSE(per[0], L1);
    ASSERT_CLOSE(per[1], 2 * L2);
    ASSERT_CLOSE(per[2], 2 * L2);
    CHECK_ASSERT_CLOSE(per[1], 0.2539, ((check_tol){0, 1e-4})); /* as printed */

    a.reduction = BL_REDUCTION_SUM;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, L1 + 4 * L2);
    CHECK_ASSERT_CLOSE(r.value, 1.8210, ((check_tol){0, 1e-4})); /* as printed */
    ASSERT_CLOSE(r.total_weight, 5);

    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, (L1 + 4 * L2) / 5);
    CHECK_ASSERT_CLOSE(r.value, 0.3642, ((check_tol){0, 1e-4})); /* as printed */
    ASSERT_CLOSE(r.total_weight, 5);
}
END_TEST

START_TEST(test_seed_nll)
{
    static const double w[] = {1, 1};
    bl_loss_args a = args_2d(BL_LOSS_NLL, seed_logits, 3, 2);
    a.target_index = seed_targets;
    a.weights = w;
    a.weights_len = 2;
    double per[3], grad[6];

    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = run_ok(&a, per, grad);
    ASSERT_CLOSE(per[0], -1);
    ASSERT_CLOSE(per[1], -3);
    ASSERT_CLOSE(per[2], -3);
    static const double g_sum[] = {-1, 0, 0, -1, 0, -1};
    for (int i = 0; i < 6; i++)
        ASSERT_CLOSE(grad[i], g_sum[i]);

    a.reduction = BL_REDUCTION_SUM;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, -7);

    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE(r.value, -7.0 / 3);
    ASSERT_CLOSE(r.total_weight, 3);
    for (int i = 0; i < 6; i++)
        ASSERT_CLOSE(grad[i], g_sum[i] / 3);
}
END_TEST

/* The analytic gradient of the seed: (softmax - onehot) w_y / Σw. */
START_TEST(test_seed_gradient)
{
    static const double w[] = {1, 2};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, seed_logits, 3, 2);
    a.target_index = seed_targets;
    a.weights = w;
    a.weights_len = 2;
    double grad[6];
    bl_loss_result r = run_ok(&a, NULL, grad);
    (void)r;
    double s1 = 1 / (1 + exp(-1)), s2 = 1 / (1 + exp(2)); /* softmax of the other class */
    double want[] = {-s1 * 1 / 5, s1 * 1 / 5, s2 * 2 / 5, -s2 * 2 / 5, s2 * 2 / 5, -s2 * 2 / 5};
    for (int i = 0; i < 6; i++)
        ASSERT_CLOSE(grad[i], want[i]);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hand-computed values                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_label_smoothing_by_hand)
{
    /* logits [1, 2], target 0, eps 0.2, C = 2:
     * p = [-log(1+e), -log(1+e^-1)], l = 0.8 (-p0) + 0.1 (-p0 - p1). */
    static const double z[] = {1, 2};
    static const int64_t y[] = {0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 1, 2);
    a.target_index = y;
    a.label_smoothing = 0.2;
    bl_loss_result r = run_ok(&a, NULL, NULL);
    double m0 = log1p(exp(1)), m1 = log1p(exp(-1));
    ASSERT_CLOSE(r.value, 0.8 * m0 + 0.1 * (m0 + m1));

    /* eps = 1: pure uniform target. */
    a.label_smoothing = 1;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, 0.5 * (m0 + m1));
}
END_TEST

START_TEST(test_prob_targets_by_hand)
{
    static const double z[] = {1, 2, 1, 3};
    static const double t[] = {0.25, 0.75, 1, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 2, 2);
    a.target_prob = t;
    double per[2];
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = run_ok(&a, per, NULL);
    double a0 = log1p(exp(1)), a1 = log1p(exp(-1));
    ASSERT_CLOSE(per[0], 0.25 * a0 + 0.75 * a1);
    ASSERT_CLOSE(per[1], log1p(exp(2)));
    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, (per[0] + per[1]) / 2);
    ASSERT_CLOSE(r.total_weight, 2);

    /* One-hot probabilities equal class indices (without weights). */
    static const int64_t yi[] = {1, 0};
    a.target_prob = NULL;
    a.target_index = yi;
    static const double onehot[] = {0, 1, 1, 0};
    bl_loss_result ri = run_ok(&a, NULL, NULL);
    a.target_index = NULL;
    a.target_prob = onehot;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, ri.value);
}
END_TEST

/*
 * Probability targets: the gradient's sum over classes, T = Σ_c w_c t'_c,
 * against exact values (mpmath, 50 digits, on the exact double inputs;
 * softmax_c T - w_c t'_c per entry, the loss -Σ w_c t'_c p_c). The
 * remaining error is the softmax's own rounding, a few ulp of its terms;
 * a plain sum of T added its error to every entry. Values before the
 * compensated sums (exact -> then):
 *   A: g[1] 0.0004999999999999999 -> 0.0004999999999999449 (1.1e-13),
 *      loss 6.907755278982137 -> 6.907755278981757 (5.5e-14);
 *   B: g[3] 0.075 -> 0.07499999925494194 (9.9e-9), g[1] -0.22499999999999998
 *      -> -0.22500000074505805, loss 0.4158883083359672 -> 0.415888304204488;
 *   C: g[3] -1.8405257496867373 -> -1.8405257502595471 (3.1e-10).
 */
static void check_prob_case(const double *z, const double *t, const double *w, size_t C,
                            double loss, const size_t *at, const double *want, size_t nat)
{
    double *g = malloc(C * sizeof *g);
    ck_assert(g);
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 1, C);
    a.target_prob = t;
    a.weights = w;
    a.weights_len = w ? C : 0;
    a.reduction = BL_REDUCTION_SUM;
    bl_loss_result r = run_ok(&a, NULL, g);
    ASSERT_CLOSE_TOL(r.value, loss, 2.3e-16, 0);
    for (size_t i = 0; i < nat; i++)
        ck_assert_msg(check_close(g[at[i]], want[i], (check_tol){4.5e-16, 0}),
                      "g[%zu] = %.17g, exact %.17g", at[i], g[at[i]], want[i]);
    free(g);
}

START_TEST(test_prob_gradient_exact)
{
    /* A: 1000 classes, uniform softmax; t = [1 - 999 x, x, ..., x] with
     * x = 0.0005: adding x to a sum near 1 rounds the same way 999 times. */
    enum { C = 1000 };
    static double zA[C], tA[C];
    for (size_t c = 0; c < C; c++) {
        zA[c] = 0;
        tA[c] = c ? 0.0005 : 1 - 999 * 0.0005;
    }
    static const size_t atA[] = {0, 1, 500, 999};
    static const double gA[] = {-0.49949999999999994, 0.0004999999999999999, 0.0004999999999999999,
                                0.0004999999999999999};
    check_prob_case(zA, tA, NULL, C, 6.907755278982137, atA, gA, 4);

    /* B: targets of either sign (torch does not check them), 1e8 and -1e8
     * cancelling in T; with equal logits g[3] = T / 4. */
    static const double zB[] = {0, 0, 0, 0}, tB[] = {1e8, 0.3, -1e8, 0};
    static const size_t atB[] = {0, 1, 2, 3};
    static const double gB[] = {-99999999.925, -0.22499999999999998, 100000000.075, 0.075};
    check_prob_case(zB, tB, NULL, 4, 0.4158883083359672, atB, gB, 4);

    /* C: the same with logits and class weights. */
    static const double zC[] = {0.5, -1, 2, 0}, tC[] = {1e8, 0.3, -1e8, 0.7};
    static const double wC[] = {1, 2, 1, 3};
    static const double gC[] = {-99999999.57219929, -0.5045447577963781, 100000001.9172698,
                                -1.8405257496867373};
    check_prob_case(zC, tC, wC, 4, 150000006.92434388, atB, gC, 4);
}
END_TEST

/* One class: log_softmax is 0 whatever the logit, the loss is constant and
 * its gradient exactly 0, for every reduction, weight, smoothing and target
 * (torch's formula, softmax T - w t', is w t' - w t' there). */
START_TEST(test_prob_one_class_zero_gradient)
{
    static const double z[] = {3.5, -1e4, 0.25};
    static const double t[] = {0.3, -2.5, 1e8};
    static const double w[] = {0.7};
    const double eps[] = {0, 0.1, 1};
    for (int red = 0; red < BL_REDUCTION_COUNT; red++)
        for (size_t e = 0; e < NELEM(eps); e++)
            for (int weighted = 0; weighted < 2; weighted++) {
                bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 3, 1);
                a.target_prob = t;
                a.weights = weighted ? w : NULL;
                a.weights_len = weighted ? 1 : 0;
                a.label_smoothing = eps[e];
                a.reduction = (bl_reduction)red;
                double g[3] = {1, 1, 1}, per[3];
                bl_loss_result r = run_ok(&a, per, g);
                for (int i = 0; i < 3; i++)
                    ck_assert_msg(g[i] == 0, "%s, eps %g, weights %d: g[%d] = %g",
                                  bl_reduction_name((bl_reduction)red), eps[e], weighted, i, g[i]);
                ck_assert_msg(r.value == 0, "loss %g", r.value);
            }
}
END_TEST

START_TEST(test_focal_by_hand)
{
    /* logits [0, 0], target 0: p = -log 2, P = 1/2, l = (1/2)^γ log 2. */
    static const double z[] = {0, 0};
    static const int64_t y[] = {0};
    bl_loss_args a = args_2d(BL_LOSS_FOCAL, z, 1, 2);
    a.target_index = y;
    a.gamma = 2;
    double grad[2];
    bl_loss_result r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE(r.value, 0.25 * log(2));
    /* dl/dp = -[(1-P)^γ - γ (1-P)^(γ-1) P p] = -[1/4 + (1/2) log 2 ];
     * dl/dz_0 = dl/dp (1 - 1/2), dl/dz_1 = -dl/dp / 2. */
    double dldp = -(0.25 + 0.5 * log(2));
    ASSERT_CLOSE(grad[0], dldp / 2);
    ASSERT_CLOSE(grad[1], -dldp / 2);
}
END_TEST

START_TEST(test_focal_gamma0_is_cross_entropy)
{
    rng_seed(7);
    double z[5 * 4];
    int64_t y[5] = {0, 3, -100, 2, 1};
    static const double w[] = {0.5, 1, 2, 3};
    for (int i = 0; i < 20; i++)
        z[i] = uniform_in(-4, 4);
    for (int red = 0; red < 3; red++) {
        bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 5, 4);
        a.target_index = y;
        a.weights = w;
        a.weights_len = 4;
        a.reduction = (bl_reduction)red;
        double pc[5], pf[5], gc[20], gf[20];
        bl_loss_result rc = run_ok(&a, pc, gc);
        a.loss = BL_LOSS_FOCAL;
        a.gamma = 0;
        bl_loss_result rf = run_ok(&a, pf, gf);
        ASSERT_CLOSE(rf.value, rc.value);
        ASSERT_CLOSE(rf.total_weight, rc.total_weight);
        for (int i = 0; i < 20; i++)
            ASSERT_CLOSE(gf[i], gc[i]);
        if (red == BL_REDUCTION_NONE)
            for (int i = 0; i < 5; i++)
                ASSERT_CLOSE(pf[i], pc[i]);
    }
}
END_TEST

START_TEST(test_bce_by_hand)
{
    static const double x[] = {0, 0, 2, -1};
    static const double y[] = {1, 0, 1, 0.25};
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = x;
    a.target_prob = y;
    a.ndim = 1;
    a.shape[0] = 4;
    a.reduction = BL_REDUCTION_NONE;
    double per[4], grad[4];
    bl_loss_result r = run_ok(&a, per, grad);
    ASSERT_CLOSE(per[0], log(2));
    ASSERT_CLOSE(per[1], log(2));
    ASSERT_CLOSE(per[2], log1p(exp(-2)));
    ASSERT_CLOSE(per[3], 0.25 * log1p(exp(1)) + 0.75 * log1p(exp(-1)));
    ASSERT_CLOSE(grad[0], -0.5);
    ASSERT_CLOSE(grad[1], 0.5);
    ASSERT_CLOSE(grad[2], 1 / (1 + exp(2.0)) * -1);
    ASSERT_CLOSE(grad[3], 1 / (1 + exp(1.0)) - 0.25);
    ASSERT_CLOSE(r.total_weight, 4);
    ASSERT_CLOSE(r.value, per[0] + per[1] + per[2] + per[3]);

    /* pos_weight 3 scales the positive term: x = 0, y = 1 -> 3 log 2. */
    static const double pw[] = {3, 3, 3, 3};
    a.pos_weight = pw;
    a.pos_weight_len = 4;
    r = run_ok(&a, per, grad);
    ASSERT_CLOSE(per[0], 3 * log(2));
    ASSERT_CLOSE(per[1], log(2));
    ASSERT_CLOSE(grad[0], -1.5);
    ASSERT_CLOSE(per[3], 0.25 * 3 * log1p(exp(1)) + 0.75 * log1p(exp(-1)));
}
END_TEST

START_TEST(test_sigmoid_focal_by_hand)
{
    /* x = 0, y = 1, γ = 2, α = 0.25: ce = log 2, p_t = 1/2, l = α (1/2)^2 log 2. */
    static const double x[] = {0, 0};
    static const double y[] = {1, 0};
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_SIGMOID_FOCAL;
    a.input = x;
    a.target_prob = y;
    a.ndim = 1;
    a.shape[0] = 2;
    a.reduction = BL_REDUCTION_NONE;
    double per[2], grad[2];
    run_ok(&a, per, grad);
    ASSERT_CLOSE(per[0], 0.25 * 0.25 * log(2));
    ASSERT_CLOSE(per[1], 0.75 * 0.25 * log(2));
    /* d/dx [ce q^2] at 0 with y = 1: ce' = -1/2, q = 1/2, dq/dx = -1/4:
     * -1/2 · 1/4 + log 2 · 2 · (1/2) · (-1/4) = -1/8 - log2 / 4. */
    ASSERT_CLOSE(grad[0], 0.25 * (-0.125 - log(2) / 4));
    ASSERT_CLOSE(grad[1], 0.75 * (0.125 + log(2) / 4));

    /* alpha = -1: no weighting; gamma = 0: plain bce. */
    a.alpha = -1;
    a.gamma = 0;
    run_ok(&a, per, grad);
    ASSERT_CLOSE(per[0], log(2));
    ASSERT_CLOSE(grad[0], -0.5);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Extreme logits                                                      */
/* ------------------------------------------------------------------ */

START_TEST(test_extreme_cross_entropy)
{
    static const double z[] = {1e4, -1e4};
    int64_t y[1] = {1};
    double grad[2];
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 1, 2);
    a.target_index = y;
    a.reduction = BL_REDUCTION_SUM;
    bl_loss_result r = run_ok(&a, NULL, grad);
    ck_assert(r.value == 2e4);
    ck_assert(grad[0] == 1 && grad[1] == -1);

    y[0] = 0;
    r = run_ok(&a, NULL, grad);
    ck_assert(r.value == 0);
    ck_assert(grad[0] == 0 && grad[1] == 0);

    /* Smoothing: 0.9 * 0 + 0.05 * (0 + 2e4) = 1000. */
    a.label_smoothing = 0.1;
    r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE(r.value, 1000);
    ASSERT_CLOSE(grad[0], 0.05);
    ASSERT_CLOSE(grad[1], -0.05);

    static const double ties[] = {1e4, 1e4, -1e4, -1e4, -1e4, -1e4};
    a = args_2d(BL_LOSS_CROSS_ENTROPY, ties, 3, 2);
    static const int64_t y3[] = {0, 1, 0};
    a.target_index = y3;
    a.ndim = 2;
    a.shape[0] = 3;
    a.shape[1] = 2;
    double per[3], g6[6];
    a.reduction = BL_REDUCTION_NONE;
    run_ok(&a, per, g6);
    ASSERT_CLOSE(per[0], log(2));
    ASSERT_CLOSE(per[1], log(2));
    ASSERT_CLOSE(per[2], log(2));
    ASSERT_CLOSE(g6[0], -0.5);
    ASSERT_CLOSE(g6[1], 0.5);

    static const double four[] = {-1e4, -1e4, -1e4, -1e4};
    a = args_2d(BL_LOSS_CROSS_ENTROPY, four, 1, 4);
    static const int64_t y2[] = {2};
    a.target_index = y2;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, log(4));
}
END_TEST

START_TEST(test_extreme_prob_and_focal)
{
    static const double z[] = {1e4, -1e4};
    static const double t[] = {0.5, 0.5};
    double grad[2];
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 1, 2);
    a.target_prob = t;
    bl_loss_result r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE(r.value, 1e4);
    ASSERT_CLOSE(grad[0], 0.5);
    ASSERT_CLOSE(grad[1], -0.5);

    /* focal, confident and right (P = 1 exactly) and confidently wrong,
     * for γ above, at and below 1: finite values and gradients. */
    static const double gammas[] = {0, 0.25, 0.5, 1, 2};
    for (size_t k = 0; k < sizeof gammas / sizeof gammas[0]; k++) {
        int64_t y[1] = {0};
        a = args_2d(BL_LOSS_FOCAL, z, 1, 2);
        a.target_index = y;
        a.gamma = gammas[k];
        r = run_ok(&a, NULL, grad);
        ck_assert(r.value == 0);
        ck_assert(isfinite(grad[0]) && isfinite(grad[1]));
        ck_assert(grad[0] == 0 && grad[1] == 0);
        y[0] = 1;
        r = run_ok(&a, NULL, grad);
        ASSERT_CLOSE(r.value, 2e4);
        ASSERT_CLOSE(grad[0], 1);
        ASSERT_CLOSE(grad[1], -1);
    }

    /* P = 1 exactly with γ = 0 is cross_entropy: d/dp = -w. With a
     * near-certain prediction (P < 1) and γ < 1, the gradient is finite. */
    static const double zz[] = {40, 0};
    int64_t y0[1] = {0};
    a = args_2d(BL_LOSS_FOCAL, zz, 1, 2);
    a.target_index = y0;
    a.gamma = 0.5;
    r = run_ok(&a, NULL, grad);
    ck_assert(isfinite(grad[0]) && isfinite(grad[1]));
    ck_assert(r.value >= 0 && r.value < 1e-20);
}
END_TEST

START_TEST(test_extreme_binary)
{
    static const double x[] = {1e4, -1e4, 1e4, -1e4};
    static const double y[] = {0, 1, 1, 0};
    static const double pw[] = {2};
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = x;
    a.target_prob = y;
    a.ndim = 2;
    a.shape[0] = 4;
    a.shape[1] = 1;
    a.reduction = BL_REDUCTION_NONE;
    double per[4], grad[4];
    run_ok(&a, per, grad);
    ck_assert(per[0] == 1e4 && per[1] == 1e4 && per[2] == 0 && per[3] == 0);
    ck_assert(grad[0] == 1 && grad[1] == -1 && grad[2] == 0 && grad[3] == 0);
    a.pos_weight = pw;
    a.pos_weight_len = 1;
    run_ok(&a, per, grad);
    ck_assert(per[0] == 1e4 && per[1] == 2e4 && per[2] == 0 && per[3] == 0);
    ck_assert(grad[0] == 1 && grad[1] == -2 && grad[2] == 0 && grad[3] == 0);

    /* sigmoid_focal: saturated both ways, γ < 1 included: no NaN. */
    a.pos_weight = NULL;
    a.pos_weight_len = 0;
    a.loss = BL_LOSS_SIGMOID_FOCAL;
    static const double gammas[] = {0, 0.5, 2};
    for (size_t k = 0; k < 3; k++) {
        a.gamma = gammas[k];
        a.alpha = 0.25;
        run_ok(&a, per, grad);
        ASSERT_CLOSE(per[0], 0.75 * 1e4);
        ASSERT_CLOSE(per[1], 0.25 * 1e4);
        ck_assert(per[2] == 0 && per[3] == 0);
        ASSERT_CLOSE(grad[0], 0.75);
        ASSERT_CLOSE(grad[1], -0.25);
        ck_assert(grad[2] == 0 && grad[3] == 0);
    }
}
END_TEST

/* Confident predictions: the loss and its gradient are tiny and must keep
 * their relative precision (torch's log(S) and 1 - softmax keep only
 * ulp(1) absolute: 0 for these inputs). */
START_TEST(test_confident_accuracy)
{
    static const double z[] = {40, 0, 0};
    static const int64_t y[] = {0};
    static const double w[] = {1000, 1, 1};
    double grad[3];
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 1, 3);
    a.target_index = y;
    a.weights = w;
    a.weights_len = 3;
    a.reduction = BL_REDUCTION_SUM;
    bl_loss_result r = run_ok(&a, NULL, grad);
    double R = 2 * exp(-40.0); /* S - 1 */
    ASSERT_CLOSE_TOL(r.value, 1000 * log1p(R), 1e-14, 0);
    ASSERT_CLOSE_TOL(grad[0], -1000 * R / (1 + R), 1e-14, 0);
    ASSERT_CLOSE_TOL(grad[1], 1000 * exp(-40.0) / (1 + R), 1e-14, 0);

    /* focal: 1 - P = -expm1(p) */
    a.loss = BL_LOSS_FOCAL;
    a.gamma = 1;
    r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE_TOL(r.value, 1000 * -expm1(-log1p(R)) * log1p(R), 1e-13, 0);

    /* bce_with_logits: softplus(-40) = log1p(e^-40) with y = 1; with
     * y = 0 and x = -30 (pos_weight on) softplus(-30). */
    static const double x[] = {40, -30};
    static const double t[] = {1, 0};
    static const double pw[] = {1000};
    bl_loss_args b = bl_loss_args_default();
    b.loss = BL_LOSS_BCE_WITH_LOGITS;
    b.input = x;
    b.target_prob = t;
    b.ndim = 2;
    b.shape[0] = 2;
    b.shape[1] = 1;
    b.pos_weight = pw;
    b.pos_weight_len = 1;
    b.reduction = BL_REDUCTION_NONE;
    double per[2], g2[2];
    run_ok(&b, per, g2);
    ASSERT_CLOSE_TOL(per[0], 1000 * log1p(exp(-40.0)), 1e-14, 0);
    ASSERT_CLOSE_TOL(per[1], log1p(exp(-30.0)), 1e-14, 0);
    ASSERT_CLOSE_TOL(g2[0], -1000 * exp(-40.0) / (1 + exp(-40.0)), 1e-14, 0);
    ASSERT_CLOSE_TOL(g2[1], exp(-30.0) / (1 + exp(-30.0)), 1e-14, 0);

    /* sigmoid_focal, γ = 0, α = -1 is bce: same precision. */
    b.loss = BL_LOSS_SIGMOID_FOCAL;
    b.pos_weight = NULL;
    b.pos_weight_len = 0;
    b.gamma = 0;
    b.alpha = -1;
    run_ok(&b, per, g2);
    ASSERT_CLOSE_TOL(per[0], log1p(exp(-40.0)), 1e-14, 0);
    ASSERT_CLOSE_TOL(g2[0], -exp(-40.0) / (1 + exp(-40.0)), 1e-14, 0);
}
END_TEST

START_TEST(test_non_finite_inputs_allowed)
{
    static const double z[] = {NAN, 0, INFINITY, 0};
    static const int64_t y[] = {0, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 2, 2);
    a.target_index = y;
    a.reduction = BL_REDUCTION_NONE;
    double per[2], grad[4];
    run_ok(&a, per, grad);
    ck_assert(isnan(per[0]));
    ck_assert(isnan(per[1])); /* torch: exp(inf - inf) */

    static const double x[] = {NAN, INFINITY};
    static const double t[] = {1, 0};
    a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = x;
    a.target_prob = t;
    a.ndim = 1;
    a.shape[0] = 2;
    bl_loss_result r = run_ok(&a, NULL, NULL);
    ck_assert(isnan(r.value));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Shapes, empties and the mean's denominator                           */
/* ------------------------------------------------------------------ */

START_TEST(test_one_dim_input)
{
    static const double z[] = {1, 2, 3};
    static const int64_t y[] = {2};
    bl_loss_args a = bl_loss_args_default();
    a.input = z;
    a.ndim = 1;
    a.shape[0] = 3;
    a.target_index = y;
    double per[1], grad[3];
    double lse = log(exp(1) + exp(2) + exp(3));
    for (int red = 0; red < 3; red++) {
        a.reduction = (bl_reduction)red;
        bl_loss_result r = run_ok(&a, per, grad);
        ASSERT_CLOSE(r.value, lse - 3);
        ASSERT_CLOSE(r.total_weight, 1);
        for (int c = 0; c < 3; c++)
            ASSERT_CLOSE(grad[c], exp(z[c] - lse) - (c == 2));
    }
    /* probabilities: C entries */
    static const double t[] = {0, 0, 1};
    a.target_index = NULL;
    a.target_prob = t;
    a.reduction = BL_REDUCTION_MEAN;
    bl_loss_result r = run_ok(&a, NULL, grad);
    ASSERT_CLOSE(r.value, lse - 3);
    ASSERT_CLOSE(r.total_weight, 1);

    /* ignored: sum 0, mean NaN, gradient 0 */
    static const int64_t ign[] = {-100};
    a.target_prob = NULL;
    a.target_index = ign;
    r = run_ok(&a, NULL, grad);
    ck_assert(isnan(r.value));
    ck_assert(r.total_weight == 0);
    for (int c = 0; c < 3; c++)
        ck_assert(grad[c] == 0);
}
END_TEST

START_TEST(test_one_class)
{
    /* C = 1: log_softmax is 0, the loss 0, its gradient 0. */
    static const double z[] = {5, -3, 1e4};
    static const int64_t y[] = {0, 0, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 3, 1);
    a.target_index = y;
    double grad[3];
    bl_loss_result r = run_ok(&a, NULL, grad);
    ck_assert(r.value == 0);
    ASSERT_CLOSE(r.total_weight, 3);
    for (int i = 0; i < 3; i++)
        ck_assert(grad[i] == 0);
    a.label_smoothing = 0.5;
    r = run_ok(&a, NULL, grad);
    ck_assert(r.value == 0);
}
END_TEST

/* (N, C, d) must equal the (N d, C) problem made by moving C last. */
START_TEST(test_k_dim_layout)
{
    enum { N = 2, C = 3, H = 2, W = 3, P = N * H * W };
    double z4[N * C * H * W], z2[P * C];
    int64_t y[P];
    rng_seed(11);
    for (int i = 0; i < N * C * H * W; i++)
        z4[i] = uniform_in(-3, 3);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H * W; i++)
                z2[(n * H * W + i) * C + c] = z4[(n * C + c) * H * W + i];
    for (int p = 0; p < P; p++)
        y[p] = p % 5 == 4 ? -100 : (int64_t)(uniform() * C);
    static const double w[] = {0.5, 2, 1};

    for (int red = 0; red < 3; red++) {
        bl_loss_args a = bl_loss_args_default();
        a.input = z4;
        a.ndim = 4;
        a.shape[0] = N;
        a.shape[1] = C;
        a.shape[2] = H;
        a.shape[3] = W;
        a.target_index = y;
        a.weights = w;
        a.weights_len = C;
        a.label_smoothing = 0.1;
        a.reduction = (bl_reduction)red;
        double per4[P], per2[P], g4[N * C * H * W], g2[P * C];
        bl_loss_result r4 = run_ok(&a, per4, g4);
        bl_loss_args b = a;
        b.input = z2;
        b.ndim = 2;
        b.shape[0] = P;
        b.shape[1] = C;
        bl_loss_result r2 = run_ok(&b, per2, g2);
        ASSERT_CLOSE(r4.value, r2.value);
        ASSERT_CLOSE(r4.total_weight, r2.total_weight);
        if (red == BL_REDUCTION_NONE)
            for (int p = 0; p < P; p++)
                ASSERT_CLOSE(per4[p], per2[p]);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < H * W; i++)
                    ASSERT_CLOSE(g4[(n * C + c) * H * W + i], g2[(n * H * W + i) * C + c]);
    }
}
END_TEST

START_TEST(test_empty_batch)
{
    static const double dummy[1] = {0};
    static const int64_t ydummy[1] = {0};
    for (int loss = 0; loss <= BL_LOSS_SIGMOID_FOCAL; loss++) {
        bl_loss_args a = args_2d((bl_loss_kind)loss, dummy, 0, 3);
        if (loss >= BL_LOSS_BCE_WITH_LOGITS)
            a.target_prob = dummy;
        else
            a.target_index = ydummy;
        a.reduction = BL_REDUCTION_MEAN;
        bl_loss_result r = run_ok(&a, NULL, NULL);
        ck_assert_msg(isnan(r.value), "loss %d: mean of empty is %g", loss, r.value);
        ck_assert(r.total_weight == 0);
        a.reduction = BL_REDUCTION_SUM;
        r = run_ok(&a, NULL, NULL);
        ck_assert(r.value == 0);
        a.reduction = BL_REDUCTION_NONE;
        r = run_ok(&a, NULL, NULL); /* no per needed for 0 positions */
        ck_assert(r.value == 0);
    }
    /* (N, C, 0) is empty too; NULL arrays are fine with nothing in them. */
    bl_loss_args a = bl_loss_args_default();
    a.ndim = 3;
    a.shape[0] = 2;
    a.shape[1] = 4;
    a.shape[2] = 0;
    bl_loss_result r = run_ok(&a, NULL, NULL);
    ck_assert(isnan(r.value));
}
END_TEST

START_TEST(test_all_ignored_and_zero_weight)
{
    static const double z[] = {1, 2, 3, 4};
    static const int64_t all_ignored[] = {7, 7};
    static const int64_t kept[] = {1, 1};
    static const double w[] = {1, 0};
    double grad[4];
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z, 2, 2);
    a.ignore_index = 7;
    a.target_index = all_ignored;
    bl_loss_result r = run_ok(&a, NULL, grad);
    ck_assert(isnan(r.value));
    ck_assert(r.total_weight == 0);
    for (int i = 0; i < 4; i++)
        ck_assert(grad[i] == 0);
    a.reduction = BL_REDUCTION_SUM;
    r = run_ok(&a, NULL, grad);
    ck_assert(r.value == 0);
    ck_assert(r.total_weight == 0);

    /* Kept but weighted 0: total weight 0, mean NaN (with smoothing too,
     * where torch's nll term is NaN), sum 0. */
    a.target_index = kept;
    a.weights = w;
    a.weights_len = 2;
    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, NULL);
    ck_assert(isnan(r.value));
    a.label_smoothing = 0.2;
    r = run_ok(&a, NULL, NULL);
    ck_assert(isnan(r.value));
    a.label_smoothing = 0;
    a.reduction = BL_REDUCTION_SUM;
    r = run_ok(&a, NULL, NULL);
    ck_assert(r.value == 0);
    ck_assert(r.total_weight == 0);

    /* ignore_index inside [0, C) ignores that class. */
    static const int64_t y[] = {0, 1};
    a.weights = NULL;
    a.weights_len = 0;
    a.target_index = y;
    a.ignore_index = 0;
    a.reduction = BL_REDUCTION_MEAN;
    r = run_ok(&a, NULL, NULL);
    ASSERT_CLOSE(r.value, log1p(exp(-1)));
    ASSERT_CLOSE(r.total_weight, 1);
}
END_TEST

START_TEST(test_binary_shapes_and_weights)
{
    /* Scalar: ndim 0, one element, weights of length 1. */
    static const double x[] = {0.5};
    static const double y[] = {1};
    static const double w1[] = {3};
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = x;
    a.target_prob = y;
    a.ndim = 0;
    a.weights = w1;
    a.weights_len = 1;
    double g[1];
    bl_loss_result r = run_ok(&a, NULL, g);
    ASSERT_CLOSE(r.value, 3 * log1p(exp(-0.5)));
    ASSERT_CLOSE(r.total_weight, 1);
    ASSERT_CLOSE(g[0], 3 * (1 / (1 + exp(-0.5)) - 1));

    /* (2, 3): weights broadcast along the last dim. */
    static const double x6[] = {0, 0, 0, 0, 0, 0};
    static const double y6[] = {1, 1, 1, 0, 0, 0};
    static const double w3[] = {1, 2, 3};
    a.input = x6;
    a.target_prob = y6;
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.weights = w3;
    a.weights_len = 3;
    a.reduction = BL_REDUCTION_NONE;
    double per[6];
    r = run_ok(&a, per, NULL);
    for (int i = 0; i < 6; i++)
        ASSERT_CLOSE(per[i], w3[i % 3] * log(2));
    ASSERT_CLOSE(r.total_weight, 6);
}
END_TEST

/* total_weight is reported for every reduction. */
START_TEST(test_total_weight_every_reduction)
{
    static const double w[] = {1, 2};
    for (int red = 0; red < 3; red++) {
        bl_loss_args a = args_2d(BL_LOSS_FOCAL, seed_logits, 3, 2);
        a.target_index = seed_targets;
        a.weights = w;
        a.weights_len = 2;
        a.reduction = (bl_reduction)red;
        double per[3];
        bl_loss_result r = run_ok(&a, per, NULL);
        ASSERT_CLOSE(r.total_weight, 5);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* The matrix: reference values and finite-difference gradients         */
/* ------------------------------------------------------------------ */

enum { T_INDEX, T_PROB };

typedef struct {
    const char *name;
    bl_loss_kind loss;
    size_t ndim;
    size_t shape[4];
    int targets;    /* T_INDEX or T_PROB */
    int weights;    /* random class / last-dim weights */
    int pos_weight; /* random pos_weight */
    int ignore;     /* 0 none; 1: ignore_index -100 on some positions; 2: ignore class 1 */
    double eps;     /* label smoothing */
    double gamma;
    double alpha;
} matrix_case;

#define CE BL_LOSS_CROSS_ENTROPY
#define FOCAL BL_LOSS_FOCAL
#define NLL BL_LOSS_NLL
#define BCE BL_LOSS_BCE_WITH_LOGITS
#define SF BL_LOSS_SIGMOID_FOCAL

static const matrix_case cases[] = {
    {"ce", CE, 2, {5, 4}, T_INDEX, 0, 0, 0, 0, 2, 0.25},
    {"ce weights", CE, 2, {5, 4}, T_INDEX, 1, 0, 0, 0, 2, 0.25},
    {"ce ignore", CE, 2, {6, 3}, T_INDEX, 0, 0, 1, 0, 2, 0.25},
    {"ce ignore class", CE, 2, {6, 3}, T_INDEX, 1, 0, 2, 0, 2, 0.25},
    {"ce smoothing", CE, 2, {5, 4}, T_INDEX, 0, 0, 0, 0.1, 2, 0.25},
    {"ce smoothing weights ignore", CE, 2, {6, 4}, T_INDEX, 1, 0, 1, 0.3, 2, 0.25},
    {"ce 1-D", CE, 1, {5}, T_INDEX, 1, 0, 0, 0.2, 2, 0.25},
    {"ce C=1", CE, 2, {3, 1}, T_INDEX, 0, 0, 0, 0, 2, 0.25},
    {"ce N=1", CE, 2, {1, 6}, T_INDEX, 1, 0, 0, 0, 2, 0.25},
    {"ce 3-D", CE, 3, {2, 3, 4}, T_INDEX, 1, 0, 1, 0.15, 2, 0.25},
    {"ce 4-D", CE, 4, {2, 3, 2, 2}, T_INDEX, 1, 0, 1, 0, 2, 0.25},
    {"ce prob", CE, 2, {4, 3}, T_PROB, 0, 0, 0, 0, 2, 0.25},
    {"ce prob weights", CE, 2, {4, 3}, T_PROB, 1, 0, 0, 0, 2, 0.25},
    {"ce prob smoothing weights", CE, 2, {4, 5}, T_PROB, 1, 0, 0, 0.25, 2, 0.25},
    {"ce prob 1-D", CE, 1, {4}, T_PROB, 1, 0, 0, 0.1, 2, 0.25},
    {"ce prob 4-D", CE, 4, {2, 3, 2, 2}, T_PROB, 1, 0, 0, 0.1, 2, 0.25},
    {"nll", NLL, 2, {5, 4}, T_INDEX, 0, 0, 0, 0, 2, 0.25},
    {"nll weights ignore", NLL, 2, {6, 3}, T_INDEX, 1, 0, 1, 0, 2, 0.25},
    {"nll 1-D", NLL, 1, {4}, T_INDEX, 1, 0, 0, 0, 2, 0.25},
    {"nll 3-D", NLL, 3, {2, 3, 3}, T_INDEX, 1, 0, 2, 0, 2, 0.25},
    {"focal", FOCAL, 2, {5, 4}, T_INDEX, 0, 0, 0, 0, 2, 0.25},
    {"focal gamma 0", FOCAL, 2, {5, 4}, T_INDEX, 1, 0, 0, 0, 0, 0.25},
    {"focal gamma 0.5", FOCAL, 2, {5, 4}, T_INDEX, 1, 0, 1, 0, 0.5, 0.25},
    {"focal gamma 1.5 ignore class", FOCAL, 2, {6, 3}, T_INDEX, 1, 0, 2, 0, 1.5, 0.25},
    {"focal 3-D", FOCAL, 3, {2, 4, 3}, T_INDEX, 1, 0, 1, 0, 3, 0.25},
    {"bce", BCE, 2, {3, 4}, T_PROB, 0, 0, 0, 0, 2, 0.25},
    {"bce weights", BCE, 2, {3, 4}, T_PROB, 1, 0, 0, 0, 2, 0.25},
    {"bce pos_weight", BCE, 2, {3, 4}, T_PROB, 0, 1, 0, 0, 2, 0.25},
    {"bce weights pos_weight 3-D", BCE, 3, {2, 2, 3}, T_PROB, 1, 1, 0, 0, 2, 0.25},
    {"bce 1-D", BCE, 1, {5}, T_PROB, 1, 1, 0, 0, 2, 0.25},
    {"bce scalar", BCE, 0, {0}, T_PROB, 1, 1, 0, 0, 2, 0.25},
    {"sigmoid_focal", SF, 2, {3, 4}, T_PROB, 0, 0, 0, 0, 2, 0.25},
    {"sigmoid_focal no alpha", SF, 2, {3, 4}, T_PROB, 0, 0, 0, 0, 2, -1},
    {"sigmoid_focal gamma 0.5 weights", SF, 2, {3, 4}, T_PROB, 1, 0, 0, 0, 0.5, 0.6},
    {"sigmoid_focal gamma 0", SF, 1, {6}, T_PROB, 1, 0, 0, 0, 0, 0.25},
    {"sigmoid_focal scalar", SF, 0, {0}, T_PROB, 0, 0, 0, 0, 3, 1},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Buffers for one matrix case. */
typedef struct {
    bl_loss_args a;
    double input[64], tprob[64], w[16], pw[16];
    int64_t tindex[64];
    size_t P, E;
} matrix_data;

static void build(const matrix_case *mc, int reduction, matrix_data *d)
{
    rng_seed(1000 + (uint64_t)(mc - cases));
    memset(d, 0, sizeof *d);
    bl_loss_args *a = &d->a;
    *a = bl_loss_args_default();
    a->loss = mc->loss;
    a->ndim = mc->ndim;
    for (size_t i = 0; i < mc->ndim; i++)
        a->shape[i] = mc->shape[i];
    a->reduction = (bl_reduction)reduction;
    a->label_smoothing = mc->eps;
    a->gamma = mc->gamma;
    a->alpha = mc->alpha;
    a->input = d->input;
    d->P = bl_loss_positions(a);
    d->E = bl_loss_elements(a);
    ck_assert(d->E <= 64);
    int binary = mc->loss == BCE || mc->loss == SF;
    size_t C = binary ? 1 : (mc->ndim == 1 ? mc->shape[0] : mc->shape[1]);
    size_t wlen = binary ? (mc->ndim ? mc->shape[mc->ndim - 1] : 1) : C;

    for (size_t i = 0; i < d->E; i++)
        d->input[i] = mc->loss == NLL ? uniform_in(-3, 0.5) : uniform_in(-3, 3);
    if (mc->weights) {
        for (size_t c = 0; c < wlen; c++)
            d->w[c] = uniform_in(0.3, 2);
        a->weights = d->w;
        a->weights_len = wlen;
    }
    if (mc->pos_weight) {
        for (size_t c = 0; c < wlen; c++)
            d->pw[c] = uniform_in(0.3, 3);
        a->pos_weight = d->pw;
        a->pos_weight_len = wlen;
    }
    if (mc->targets == T_INDEX) {
        for (size_t n = 0; n < d->P; n++) {
            d->tindex[n] = (int64_t)(uniform() * (double)C);
            if (mc->ignore == 1 && n % 3 == 1)
                d->tindex[n] = -100;
        }
        if (mc->ignore == 2) {
            a->ignore_index = 1;
            d->tindex[0] = 1; /* at least one ignored */
        }
        a->target_index = d->tindex;
    } else if (binary) {
        for (size_t i = 0; i < d->E; i++) {
            double u = uniform();
            d->tprob[i] = i % 3 == 0 ? (u < 0.5 ? 0.0 : 1.0) : u;
        }
        a->target_prob = d->tprob;
    } else {
        /* a distribution per position, stored in the logits' layout */
        size_t outer = mc->ndim == 1 ? 1 : mc->shape[0];
        size_t inner = d->P / outer;
        for (size_t n0 = 0; n0 < outer; n0++)
            for (size_t i = 0; i < inner; i++) {
                double s = 0;
                for (size_t c = 0; c < C; c++)
                    s += d->tprob[(n0 * C + c) * inner + i] = uniform();
                for (size_t c = 0; c < C; c++)
                    d->tprob[(n0 * C + c) * inner + i] /= s;
            }
        a->target_prob = d->tprob;
        a->ignore_index = -1; /* negative ignore_index is allowed */
    }
}

/* A naive reference straight from the formulas of README.md ("POST /loss"). */
static void reference(const bl_loss_args *a, double *per, double *value, double *total_weight)
{
    size_t P = bl_loss_positions(a), E = bl_loss_elements(a);
    long double sum = 0, den = 0;
    if (a->loss == BCE || a->loss == SF) {
        size_t last = a->ndim ? a->shape[a->ndim - 1] : 1;
        for (size_t i = 0; i < E; i++) {
            long double x = a->input[i], y = a->target_prob[i];
            long double w = a->weights ? a->weights[i % last] : 1;
            long double pw = a->pos_weight ? a->pos_weight[i % last] : 1;
            long double s = 1 / (1 + expl(-x));
            long double ce = -w * (pw * y * logl(s) + (1 - y) * logl(1 / (1 + expl(x))));
            long double l = ce;
            if (a->loss == SF) {
                long double pt = s * y + (1 - s) * (1 - y);
                l = ce * powl(1 - pt, a->gamma);
                if (a->alpha >= 0)
                    l *= a->alpha * y + (1 - a->alpha) * (1 - y);
            }
            per[i] = (double)l;
            sum += l;
        }
        den = (long double)E;
    } else {
        size_t C = a->ndim == 1 ? a->shape[0] : a->shape[1];
        size_t outer = a->ndim == 1 ? 1 : a->shape[0];
        size_t inner = P / outer;
        long double eps = a->label_smoothing;
        for (size_t n0 = 0; n0 < outer; n0++)
            for (size_t i = 0; i < inner; i++) {
                size_t n = n0 * inner + i;
                long double z[64], p[64], lse = 0;
                for (size_t c = 0; c < C; c++) {
                    z[c] = a->input[(n0 * C + c) * inner + i];
                    lse += expl(z[c]);
                }
                lse = logl(lse);
                for (size_t c = 0; c < C; c++)
                    p[c] = a->loss == NLL ? z[c] : z[c] - lse;
                long double l = 0;
                if (a->target_prob) {
                    for (size_t c = 0; c < C; c++) {
                        long double t = (1 - eps) * a->target_prob[(n0 * C + c) * inner + i] +
                                        eps / (long double)C;
                        l -= (a->weights ? a->weights[c] : 1) * t * p[c];
                    }
                    den += 1;
                } else {
                    int64_t y = a->target_index[n];
                    if (y != a->ignore_index) {
                        long double wy = a->weights ? a->weights[y] : 1;
                        if (a->loss == FOCAL)
                            l = -wy * powl(1 - expl(p[y]), a->gamma) * p[y];
                        else
                            l = -wy * p[y];
                        if (eps > 0) {
                            long double sm = 0;
                            for (size_t c = 0; c < C; c++)
                                sm -= (a->weights ? a->weights[c] : 1) * p[c];
                            l = (1 - eps) * l + eps / (long double)C * sm;
                        }
                        den += wy;
                    }
                }
                per[n] = (double)l;
                sum += l;
            }
    }
    *total_weight = (double)den;
    if (a->reduction == BL_REDUCTION_MEAN)
        *value = den == 0 ? NAN : (double)(sum / den);
    else
        *value = (double)sum;
}

/* The reduced loss as a function of one input element. */
static double loss_at(matrix_data *d, size_t i, double x)
{
    double saved = d->input[i], per[64];
    d->input[i] = x;
    bl_loss_result r = {.per = per, .grad = NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&d->a, &r, &e), BL_OK);
    d->input[i] = saved;
    return r.value;
}

START_TEST(test_matrix)
{
    const matrix_case *mc = &cases[_i / 3];
    int reduction = _i % 3;
    matrix_data d;
    build(mc, reduction, &d);

    double per[64], grad[64], rper[64], rvalue, rtw;
    bl_loss_result r = run_ok(&d.a, per, grad);
    reference(&d.a, rper, &rvalue, &rtw);
    ck_assert_msg(check_close(r.value, rvalue, CONTRACT), "%s/%d: value %.17g, reference %.17g",
                  mc->name, reduction, r.value, rvalue);
    ck_assert_msg(check_close(r.total_weight, rtw, (check_tol){CONTRACT.rel, 0}),
                  "%s/%d: total_weight %.17g vs %.17g", mc->name, reduction, r.total_weight, rtw);
    if (reduction == BL_REDUCTION_NONE)
        for (size_t n = 0; n < d.P; n++)
            ck_assert_msg(check_close(per[n], rper[n], CONTRACT),
                          "%s: per[%zu] %.17g, reference %.17g", mc->name, n, per[n], rper[n]);

    /* Richardson-extrapolated central differences: error O(h^4). */
    for (size_t i = 0; i < d.E; i++) {
        double x = d.input[i], h = 1e-3 * fmax(1, fabs(x));
        double d1 = (loss_at(&d, i, x + h) - loss_at(&d, i, x - h)) / (2 * h);
        double d2 = (loss_at(&d, i, x + h / 2) - loss_at(&d, i, x - h / 2)) / h;
        double fd = (4 * d2 - d1) / 3;
        ck_assert_msg(check_close(fd, grad[i], (check_tol){1e-7, 1e-10}),
                      "%s/%d: grad[%zu] = %.17g, finite differences %.17g", mc->name, reduction, i,
                      grad[i], fd);
    }
}
END_TEST

/* The gradient row of an ignored position is zero and the gradient does
 * not depend on whether per is asked for. */
START_TEST(test_grad_without_per)
{
    matrix_data d;
    build(&cases[5], BL_REDUCTION_MEAN, &d);
    double g1[64], g2[64];
    run_ok(&d.a, NULL, g1);
    bl_loss_result r = run_ok(&d.a, NULL, NULL);
    bl_loss_result r2 = run_ok(&d.a, NULL, g2);
    ck_assert(r.value == r2.value);
    for (size_t i = 0; i < d.E; i++)
        ck_assert(g1[i] == g2[i]);
    size_t C = d.a.shape[1];
    for (size_t n = 0; n < d.P; n++)
        if (d.tindex[n] == -100)
            for (size_t c = 0; c < C; c++)
                ck_assert(g1[n * C + c] == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Runs bl_loss expecting failure; checks code, arg, index, message, and
 * that the outputs were left alone. */
static void expect_error(const bl_loss_args *a, const char *arg, int64_t index, const char *msg)
{
    double per[64], grad[64];
    for (int i = 0; i < 64; i++)
        per[i] = grad[i] = 12345;
    bl_loss_result r = {.value = 777, .total_weight = 888, .per = per, .grad = grad};
    bl_error e;
    bl_status rc = bl_loss(a, &r, &e);
    ck_assert_msg(rc == BL_EINVAL, "expected BL_EINVAL for \"%s\", got %d", msg, rc);
    ck_assert_int_eq(e.code, BL_EINVAL);
    if (arg)
        ck_assert_msg(e.arg && strcmp(e.arg, arg) == 0, "arg %s, expected %s (%s)",
                      e.arg ? e.arg : "NULL", arg, e.message);
    else
        ck_assert_ptr_null(e.arg);
    ck_assert_msg(e.index == index, "index %lld, expected %lld (%s)", (long long)e.index,
                  (long long)index, e.message);
    ck_assert_msg(strstr(e.message, msg) != NULL, "message \"%s\" lacks \"%s\"", e.message, msg);
    ck_assert(r.value == 777 && r.total_weight == 888);
    for (int i = 0; i < 64; i++)
        ck_assert(per[i] == 12345 && grad[i] == 12345);
    /* err may be NULL */
    ck_assert_int_eq(bl_loss(a, &r, NULL), BL_EINVAL);
}

static const double z12[12] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2};
static const double p12[12] = {0.5, 0.5, 0, 1, 0.25, 0.75, 1, 0, 0, 1, 0.5, 0.5};

START_TEST(test_error_target_out_of_bounds)
{
    int64_t y[4] = {0, 1, 2, 5};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    expect_error(&a, "targets", 3, "Target 5 is out of bounds.");
    expect_error(&a, "targets", 3, "targets[3]; 3 classes");
    y[3] = 3; /* == C */
    expect_error(&a, "targets", 3, "Target 3 is out of bounds.");
    y[3] = 0;
    y[1] = -1; /* negative, not ignore_index */
    a.loss = BL_LOSS_NLL;
    expect_error(&a, "targets", 1, "Target -1 is out of bounds.");
    a.loss = BL_LOSS_FOCAL;
    a.reduction = BL_REDUCTION_NONE;
    expect_error(&a, "targets", 1, "Target -1 is out of bounds.");
    a.ignore_index = -1; /* now it is ignored */
    double per[4];
    run_ok(&a, per, NULL);

    /* 1-D input: one target */
    int64_t y1[1] = {9};
    bl_loss_args b = bl_loss_args_default();
    b.input = z12;
    b.ndim = 1;
    b.shape[0] = 4;
    b.target_index = y1;
    expect_error(&b, "targets", 0, "Target 9 is out of bounds.");
}
END_TEST

START_TEST(test_error_weights)
{
    static const int64_t y[4] = {0, 1, 2, 0};
    static const double w2[] = {1, 2};
    double w3[] = {1, -0.5, 2};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    a.weights = w2;
    a.weights_len = 2;
    expect_error(&a, "weights", -1, "weights has 2 entries; expected 3");
    a.weights = w3;
    a.weights_len = 3;
    expect_error(&a, "weights", 1, "weights[1] = -0.5");
    w3[1] = NAN;
    expect_error(&a, "weights", 1, "finite number >= 0");
    w3[1] = INFINITY;
    a.loss = BL_LOSS_NLL;
    expect_error(&a, "weights", 1, "finite number >= 0");

    /* binary: the last dim */
    bl_loss_args b = args_2d(BL_LOSS_BCE_WITH_LOGITS, z12, 4, 3);
    b.target_prob = p12;
    b.weights = w2;
    b.weights_len = 2;
    expect_error(&b, "weights", -1, "expected 3 (the last dim of logits)");
    b.loss = BL_LOSS_SIGMOID_FOCAL;
    expect_error(&b, "weights", -1, "expected 3");
    /* scalar: length 1 */
    b.ndim = 0;
    expect_error(&b, "weights", -1, "expected 1");
}
END_TEST

START_TEST(test_error_pos_weight)
{
    static const double pw3[] = {1, 2, 3};
    static const double pw2[] = {1, 2};
    static const double pwneg[] = {1, -2, 3};
    static const int64_t y[4] = {0, 1, 2, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    a.pos_weight = pw3;
    a.pos_weight_len = 3;
    expect_error(&a, "pos_weight", -1, "pos_weight is only supported by bce_with_logits");
    bl_loss_args b = args_2d(BL_LOSS_SIGMOID_FOCAL, z12, 4, 3);
    b.target_prob = p12;
    b.pos_weight = pw3;
    b.pos_weight_len = 3;
    expect_error(&b, "pos_weight", -1, "not sigmoid_focal");
    b.loss = BL_LOSS_BCE_WITH_LOGITS;
    b.pos_weight = pw2;
    b.pos_weight_len = 2;
    expect_error(&b, "pos_weight", -1, "pos_weight has 2 entries; expected 3");
    b.pos_weight = pwneg;
    b.pos_weight_len = 3;
    expect_error(&b, "pos_weight", 1, "pos_weight[1] = -2");
}
END_TEST

START_TEST(test_error_label_smoothing)
{
    static const int64_t y[4] = {0, 1, 2, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    a.label_smoothing = -0.1;
    expect_error(&a, "label_smoothing", -1, "label_smoothing must be in [0, 1]");
    a.label_smoothing = 1.5;
    expect_error(&a, "label_smoothing", -1, "got 1.5");
    a.label_smoothing = NAN;
    expect_error(&a, "label_smoothing", -1, "label_smoothing must be in [0, 1]");
    a.label_smoothing = 0.1;
    a.loss = BL_LOSS_NLL;
    expect_error(&a, "label_smoothing", -1, "only supported by cross_entropy, not nll");
    a.loss = BL_LOSS_FOCAL;
    expect_error(&a, "label_smoothing", -1, "not focal");
    bl_loss_args b = args_2d(BL_LOSS_BCE_WITH_LOGITS, z12, 4, 3);
    b.target_prob = p12;
    b.label_smoothing = 0.1;
    expect_error(&b, "label_smoothing", -1, "not bce_with_logits");
}
END_TEST

START_TEST(test_error_gamma_alpha)
{
    static const int64_t y[4] = {0, 1, 2, 0};
    bl_loss_args a = args_2d(BL_LOSS_FOCAL, z12, 4, 3);
    a.target_index = y;
    a.gamma = -1;
    expect_error(&a, "gamma", -1, "gamma must be a finite number >= 0");
    a.gamma = NAN;
    expect_error(&a, "gamma", -1, "gamma");
    a.gamma = INFINITY;
    expect_error(&a, "gamma", -1, "gamma");
    /* Losses without gamma ignore it (its default is 2, not "unset"). */
    a.loss = BL_LOSS_CROSS_ENTROPY;
    run_ok(&a, NULL, NULL);

    bl_loss_args b = args_2d(BL_LOSS_SIGMOID_FOCAL, z12, 4, 3);
    b.target_prob = p12;
    b.gamma = -0.5;
    expect_error(&b, "gamma", -1, "gamma must be a finite number >= 0");
    b.gamma = 2;
    b.alpha = 1.5;
    expect_error(&b, "alpha", -1, "alpha must be in [0, 1], or -1 for none");
    b.alpha = -0.5;
    expect_error(&b, "alpha", -1, "got -0.5");
    b.alpha = NAN;
    expect_error(&b, "alpha", -1, "alpha");
    b.alpha = -1;
    run_ok(&b, NULL, NULL);
    b.alpha = 0;
    run_ok(&b, NULL, NULL);
    b.alpha = 1;
    run_ok(&b, NULL, NULL);
    /* bce_with_logits ignores alpha and gamma */
    b.loss = BL_LOSS_BCE_WITH_LOGITS;
    b.alpha = 7;
    b.gamma = -3;
    run_ok(&b, NULL, NULL);
}
END_TEST

START_TEST(test_error_targets_kind)
{
    static const int64_t y[4] = {0, 1, 2, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_prob = p12;
    a.ignore_index = 0;
    expect_error(&a, "ignore_index", -1,
                 "ignore_index (0) is not supported with probability targets");
    a.ignore_index = -100;
    a.loss = BL_LOSS_NLL;
    expect_error(&a, "targets", -1, "probability targets are only supported by cross_entropy");
    a.loss = BL_LOSS_FOCAL;
    expect_error(&a, "targets", -1, "probability targets are only supported by cross_entropy");
    a.loss = BL_LOSS_CROSS_ENTROPY;
    a.target_index = y;
    expect_error(&a, "targets", -1, "not both");
    a.target_index = NULL;
    a.target_prob = NULL;
    expect_error(&a, "targets", -1, "targets are missing");

    bl_loss_args b = args_2d(BL_LOSS_BCE_WITH_LOGITS, z12, 4, 3);
    expect_error(&b, "targets", -1, "with values in [0, 1]");
    b.target_index = y;
    expect_error(&b, "targets", -1, "with values in [0, 1]");
}
END_TEST

START_TEST(test_error_binary_target_values)
{
    double t[12];
    memcpy(t, p12, sizeof t);
    bl_loss_args b = args_2d(BL_LOSS_BCE_WITH_LOGITS, z12, 4, 3);
    b.target_prob = t;
    t[7] = 1.5;
    expect_error(&b, "targets", 7, "targets[7] = 1.5 is outside [0, 1]");
    t[7] = -0.25;
    b.loss = BL_LOSS_SIGMOID_FOCAL;
    expect_error(&b, "targets", 7, "outside [0, 1]");
    t[7] = NAN;
    expect_error(&b, "targets", 7, "outside [0, 1]");
}
END_TEST

START_TEST(test_error_shapes)
{
    static const int64_t y[1] = {0};
    bl_loss_args a = bl_loss_args_default();
    a.input = z12;
    a.target_index = y;
    a.ndim = 0;
    expect_error(&a, "logits", -1, "got a scalar");
    a.loss = BL_LOSS_NLL;
    expect_error(&a, "log_probs", -1, "nll takes log_probs of shape (C), (N, C)");
    a.loss = BL_LOSS_FOCAL;
    expect_error(&a, "logits", -1, "got a scalar");

    a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 0);
    a.target_index = y;
    expect_error(&a, "logits", -1, "0 classes");
    a.ndim = 1;
    a.shape[0] = 0;
    expect_error(&a, "logits", -1, "0 classes");

    a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    a.ndim = BL_MAX_DIMS + 1;
    expect_error(&a, "logits", -1, "dimensions");

    a = args_2d(BL_LOSS_CROSS_ENTROPY, NULL, 4, 3);
    a.target_index = y;
    expect_error(&a, "logits", -1, "logits is missing");

    /* element count overflow */
    a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = z12;
    a.target_prob = p12;
    a.ndim = 3;
    a.shape[0] = a.shape[1] = a.shape[2] = (size_t)1 << 30;
    expect_error(&a, "logits", -1, "too many elements");
}
END_TEST

START_TEST(test_error_api_misuse)
{
    static const int64_t y[4] = {0, 1, 2, 0};
    bl_loss_args a = args_2d(BL_LOSS_CROSS_ENTROPY, z12, 4, 3);
    a.target_index = y;
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {.per = NULL, .grad = NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_EINVAL);
    ck_assert_ptr_null(e.arg);
    ck_assert(strstr(e.message, "res->per") != NULL);

    a.reduction = (bl_reduction)9;
    expect_error(&a, NULL, -1, "unknown reduction");
    a.reduction = BL_REDUCTION_MEAN;
    a.loss = (bl_loss_kind)42;
    expect_error(&a, NULL, -1, "unknown loss kind");

    ck_assert_int_eq(bl_loss(NULL, &r, &e), BL_EINVAL);
    ck_assert_int_eq(bl_loss(&a, NULL, &e), BL_EINVAL);

    /* success clears a stale error */
    a.loss = BL_LOSS_CROSS_ENTROPY;
    strcpy(e.message, "stale");
    e.code = BL_EINVAL;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ck_assert_int_eq(e.code, BL_OK);
    ck_assert_str_eq(e.message, "");
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");

    TCase *tc = tcase_create("basics");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_positions_elements);
    tcase_add_test(tc, test_seed_cross_entropy);
    tcase_add_test(tc, test_seed_cross_entropy_weighted);
    tcase_add_test(tc, test_seed_nll);
    tcase_add_test(tc, test_seed_gradient);
    tcase_add_test(tc, test_label_smoothing_by_hand);
    tcase_add_test(tc, test_prob_targets_by_hand);
    tcase_add_test(tc, test_prob_gradient_exact);
    tcase_add_test(tc, test_prob_one_class_zero_gradient);
    tcase_add_test(tc, test_focal_by_hand);
    tcase_add_test(tc, test_focal_gamma0_is_cross_entropy);
    tcase_add_test(tc, test_bce_by_hand);
    tcase_add_test(tc, test_sigmoid_focal_by_hand);
    suite_add_tcase(s, tc);

    tc = tcase_create("extremes");
    tcase_add_test(tc, test_extreme_cross_entropy);
    tcase_add_test(tc, test_extreme_prob_and_focal);
    tcase_add_test(tc, test_extreme_binary);
    tcase_add_test(tc, test_confident_accuracy);
    tcase_add_test(tc, test_non_finite_inputs_allowed);
    suite_add_tcase(s, tc);

    tc = tcase_create("shapes");
    tcase_add_test(tc, test_one_dim_input);
    tcase_add_test(tc, test_one_class);
    tcase_add_test(tc, test_k_dim_layout);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_all_ignored_and_zero_weight);
    tcase_add_test(tc, test_binary_shapes_and_weights);
    tcase_add_test(tc, test_total_weight_every_reduction);
    suite_add_tcase(s, tc);

    tc = tcase_create("matrix");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_matrix, 0, (int)(N_CASES * 3));
    tcase_add_test(tc, test_grad_without_per);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_error_target_out_of_bounds);
    tcase_add_test(tc, test_error_weights);
    tcase_add_test(tc, test_error_pos_weight);
    tcase_add_test(tc, test_error_label_smoothing);
    tcase_add_test(tc, test_error_gamma_alpha);
    tcase_add_test(tc, test_error_targets_kind);
    tcase_add_test(tc, test_error_binary_target_values);
    tcase_add_test(tc, test_error_shapes);
    tcase_add_test(tc, test_error_api_misuse);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(loss_suite)
