/*
 * test_loss_seg.c — unit tests for the dice and tversky losses
 * (lib/loss_seg.c; README "Segmentation: dice and tversky").
 *
 *   - values worked out by hand, and a near-perfect prediction whose score
 *     1 - num/den would cancel to 0;
 *   - a matrix of loss x activation x include_background x batch x
 *     reduction x weights on 3-D and 4-D inputs against a naive long double
 *     reference written from MONAI's formulas (1 - num/den, moderate
 *     inputs), and gradients against Richardson-extrapolated central
 *     differences of bl_loss itself;
 *   - identities (batch over one sample; tversky α = β = 1/2 as dice);
 *   - empty batches and spatial dims; every error names its argument and
 *     writes nothing.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_close.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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

static bl_loss_args seg_args(bl_loss_kind k, const double *x, const size_t *shape, size_t ndim)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = k;
    a.input = x;
    a.ndim = ndim;
    for (size_t d = 0; d < ndim; d++)
        a.shape[d] = shape[d];
    return a;
}

/* The reduced loss (for none, the sum of the scores). */
static double value_of(const bl_loss_args *a)
{
    double per[256];
    ck_assert_uint_le(bl_loss_positions(a), 256);
    bl_loss_result r = {0, 0, per, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(a, &r, &e), BL_OK);
    return r.value;
}

/* Logits all 0, two classes, targets [0, 1]: p = 1/2 everywhere, so each
 * class has tp = fp = fn = 1/2. Without smoothing dice is 1 - 1/2 = 1/2
 * and tversky(α, β) 1 - (1/2) / (1/2 + α/2 + β/2). */
START_TEST(hand_values)
{
    double x[4] = {0, 0, 0, 0}, per[2];
    int64_t y[2] = {0, 1};
    size_t shape[3] = {1, 2, 2};
    bl_loss_args a = seg_args(BL_LOSS_DICE, x, shape, 3);
    a.target_index = y;
    a.smooth_nr = a.smooth_dr = 0;
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {0, 0, per, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ck_assert(per[0] == 0.5 && per[1] == 0.5 && r.value == 1.0 && r.total_weight == 2.0);
    a.loss = BL_LOSS_TVERSKY;
    a.tversky_alpha = 0.3;
    a.tversky_beta = 0.9;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ASSERT_CLOSE(per[0], 1 - 0.5 / (0.5 + 0.15 + 0.45));
    /* the defaults' smoothing: (2 tp + 1e-5) / (2 tp + fp + fn + 1e-5) */
    a = seg_args(BL_LOSS_DICE, x, shape, 3);
    a.target_index = y;
    ASSERT_CLOSE(value_of(&a), 1 - (1 + 1e-5) / (2 + 1e-5));
    /* without the background, only class 1 is scored */
    a.include_background = 0;
    ASSERT_CLOSE(value_of(&a), 1 - (1 + 1e-5) / (2 + 1e-5));
    a.reduction = BL_REDUCTION_NONE;
    ck_assert_uint_eq(bl_loss_positions(&a), 1);
}
END_TEST

/* A perfect prediction with logits ±30 (sigmoid): fp = fn = Σ σ(-30) ≈
 * 9.4e-14 per element, tp ≈ the count. The score is (fp + fn) / den, which
 * 1 - num/den would round to 0 or a multiple of ulp(1). */
START_TEST(near_perfect_keeps_digits)
{
    double x[6] = {30, -30, 30, -30, -30, 30}, t[6] = {1, 0, 1, 0, 0, 1}, per[2];
    size_t shape[3] = {1, 2, 3};
    bl_loss_args a = seg_args(BL_LOSS_DICE, x, shape, 3);
    a.activation = BL_ACTIVATION_SIGMOID;
    a.target_prob = t;
    a.smooth_nr = a.smooth_dr = 0;
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {0, 0, per, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    long double q = expl(-30.0L) / (1 + expl(-30.0L)), p = 1 - q;
    /* class 0: two positives, one negative: fp = q, fn = 2q, tp = 2p */
    long double want0 = 3 * q / (4 * p + 3 * q);
    long double want1 = 3 * q / (2 * p + 3 * q); /* one positive, two negatives */
    ASSERT_CLOSE(per[0], (double)want0);
    ASSERT_CLOSE(per[1], (double)want1);
    ck_assert(per[0] > 1e-14);
}
END_TEST

/* ---- the matrix against a naive reference ------------------------------------- */

/* MONAI's formulas straight, long double: p, g over (N, C, S), then the
 * scores, weighted, reduced. */
static double naive(const bl_loss_args *a, double *scores_out)
{
    size_t N = a->shape[0], C = a->shape[1], S = 1;
    for (size_t d = 2; d < a->ndim; d++)
        S *= a->shape[d];
    size_t c0 = a->include_background ? 0 : 1, K = C - c0, groups = a->batch ? 1 : N;
    long double total = 0;
    for (size_t b = 0; b < groups; b++)
        for (size_t c = c0; c < C; c++) {
            long double tp = 0, fp = 0, fn = 0;
            for (size_t n = a->batch ? 0 : b; n < (a->batch ? N : b + 1); n++)
                for (size_t i = 0; i < S; i++) {
                    long double p, g;
                    if (a->activation == BL_ACTIVATION_SOFTMAX) {
                        long double sum = 0;
                        for (size_t k = 0; k < C; k++)
                            sum += expl(a->input[(n * C + k) * S + i]);
                        p = expl(a->input[(n * C + c) * S + i]) / sum;
                        g = a->target_index[n * S + i] == (int64_t)c;
                    } else {
                        p = 1 / (1 + expl(-a->input[(n * C + c) * S + i]));
                        g = a->target_prob[(n * C + c) * S + i];
                    }
                    tp += p * g;
                    fp += p * (1 - g);
                    fn += (1 - p) * g;
                }
            long double f;
            if (a->loss == BL_LOSS_DICE)
                f = 1 - (2 * tp + a->smooth_nr) / (2 * tp + fp + fn + a->smooth_dr);
            else
                f = 1 - (tp + a->smooth_nr) /
                            (tp + a->tversky_alpha * fp + a->tversky_beta * fn + a->smooth_dr);
            if (a->weights)
                f *= a->weights[c - c0];
            if (scores_out)
                scores_out[b * K + (c - c0)] = (double)f;
            total += f;
        }
    size_t scores = groups * K;
    return a->reduction == BL_REDUCTION_MEAN ? (double)(total / scores) : (double)total;
}

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

/* _i encodes loss (1 bit), activation (1), include_background (1), batch
 * (1), weights (1) and reduction (3 values): 96 combinations. */
START_TEST(matrix)
{
    int i = _i;
    bl_loss_kind loss = i & 1 ? BL_LOSS_TVERSKY : BL_LOSS_DICE;
    int sigmoid = (i >> 1) & 1, incl = (i >> 2) & 1, batch = (i >> 3) & 1, weighted = (i >> 4) & 1;
    bl_reduction red = (bl_reduction)((i >> 5) % 3);
    rng_seed(4242 + (uint64_t)i);
    size_t shape4[4] = {2, 3, 2, 3}, shape3[3] = {3, 3, 4};
    const size_t *shape = i % 3 ? shape4 : shape3;
    size_t ndim = i % 3 ? 4 : 3, E = 36, P = 12;
    double x[36], t[36], w[3], g[36], per[16], ref[16];
    int64_t y[12];
    for (size_t k = 0; k < E; k++) {
        x[k] = (uniform() - 0.5) * 6;
        t[k] = i % 5 == 0 ? uniform() : (double)(uniform() < 0.4);
    }
    for (size_t k = 0; k < P; k++)
        y[k] = (int64_t)(uniform() * 3);
    if (i % 7 == 0)
        for (size_t k = 0; k < P; k++)
            y[k] = y[k] == 2 ? 0 : y[k]; /* class 2 never appears */
    for (int c = 0; c < 3; c++)
        w[c] = 0.25 + uniform();
    bl_loss_args a = seg_args(loss, x, shape, ndim);
    a.activation = sigmoid ? BL_ACTIVATION_SIGMOID : BL_ACTIVATION_SOFTMAX;
    a.target_index = sigmoid ? NULL : y;
    a.target_prob = sigmoid ? t : NULL;
    a.include_background = incl;
    a.batch = batch;
    a.reduction = red;
    a.smooth_nr = i % 4 == 1 ? 0.5 : 1e-5;
    a.smooth_dr = i % 4 == 1 ? 1.5 : 1e-5;
    a.tversky_alpha = 0.2 + (i % 3) * 0.4;
    a.tversky_beta = 1.1 - (i % 4) * 0.3;
    if (weighted) {
        a.weights = w;
        a.weights_len = incl ? 3 : 2;
    }
    bl_loss_result r = {0, 0, per, g};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    size_t scores = (batch ? 1 : shape[0]) * (incl ? 3 : 2);
    ck_assert(r.total_weight == (double)scores);
    ASSERT_CLOSE_TOL(r.value, naive(&a, ref), 1e-12, 1e-14);
    if (red == BL_REDUCTION_NONE)
        for (size_t s = 0; s < scores; s++)
            ASSERT_CLOSE_TOL(per[s], ref[s], 1e-12, 1e-14);
    for (size_t k = 0; k < E; k++)
        ASSERT_CLOSE_TOL(g[k], numeric_grad(a, x, k), 1e-7, 1e-10);
}
END_TEST

/* batch over one sample is per-sample scoring, bit for bit; tversky with
 * α = β = 1/2 and half the smoothing is dice. */
START_TEST(identities)
{
    rng_seed(99);
    double x[24], g1[24], g2[24];
    int64_t y[8];
    for (int k = 0; k < 24; k++)
        x[k] = (uniform() - 0.5) * 5;
    for (int k = 0; k < 8; k++)
        y[k] = (int64_t)(uniform() * 3);
    size_t shape[4] = {1, 3, 2, 4};
    bl_loss_args a = seg_args(BL_LOSS_DICE, x, shape, 4);
    a.target_index = y;
    bl_loss_args b = a;
    b.batch = 1;
    bl_loss_result r1 = {0, 0, NULL, g1}, r2 = {0, 0, NULL, g2};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r1, &e), BL_OK);
    ck_assert_int_eq(bl_loss(&b, &r2, &e), BL_OK);
    ck_assert(r1.value == r2.value);
    for (int k = 0; k < 24; k++)
        ck_assert(g1[k] == g2[k]);
    bl_loss_args t = a;
    t.loss = BL_LOSS_TVERSKY;
    t.tversky_alpha = t.tversky_beta = 0.5;
    t.smooth_nr = a.smooth_nr / 2;
    t.smooth_dr = a.smooth_dr / 2;
    ASSERT_CLOSE(value_of(&t), value_of(&a));
}
END_TEST

/* No samples: no scores, the mean is NaN (torch.mean of nothing); with
 * batch, C' scores over nothing, each (sdr - snr) / sdr. No spatial extent
 * likewise. */
START_TEST(empty)
{
    size_t shape[3] = {0, 3, 4};
    bl_loss_args a = seg_args(BL_LOSS_DICE, NULL, shape, 3);
    bl_loss_result r = {0, 0, NULL, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ck_assert(isnan(r.value) && r.total_weight == 0);
    a.batch = 1;
    a.smooth_nr = 0.25;
    a.smooth_dr = 1;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ASSERT_CLOSE(r.value, 0.75);
    ck_assert(r.total_weight == 3);
    size_t shape2[3] = {2, 3, 0};
    double per[6];
    bl_loss_args b = seg_args(BL_LOSS_TVERSKY, NULL, shape2, 3);
    b.reduction = BL_REDUCTION_NONE;
    b.smooth_nr = 0;
    r.per = per;
    ck_assert_int_eq(bl_loss(&b, &r, &e), BL_OK);
    ck_assert_uint_eq(bl_loss_positions(&b), 6);
    for (int k = 0; k < 6; k++)
        ck_assert(per[k] == 1.0);
}
END_TEST

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
    double x[12] = {0}, t[12] = {0}, w[3] = {1, 1, 1};
    int64_t y[4] = {0, 1, 2, 1};
    size_t shape[3] = {2, 3, 2};
    for (int k = 0; k < 2; k++) {
        bl_loss_kind loss = k ? BL_LOSS_TVERSKY : BL_LOSS_DICE;
        bl_loss_args a = seg_args(loss, x, shape, 1); /* 1-D */
        a.target_index = y;
        expect_error(&a, "logits", -1);
        size_t one[3] = {2, 1, 2}; /* softmax over one class */
        a = seg_args(loss, x, one, 3);
        a.target_index = y;
        expect_error(&a, "logits", -1);
        a.activation = BL_ACTIVATION_SIGMOID; /* and no background of one */
        a.target_index = NULL;
        a.target_prob = t;
        a.include_background = 0;
        expect_error(&a, "include_background", -1);
        a = seg_args(loss, x, shape, 3);
        int64_t bad[4] = {0, 1, 3, 0};
        a.target_index = bad;
        expect_error(&a, "targets", 2);
        a.target_index = NULL; /* softmax takes indices */
        a.target_prob = t;
        expect_error(&a, "targets", -1);
        a.activation = BL_ACTIVATION_SIGMOID; /* sigmoid takes the logits' shape */
        a.target_prob = NULL;
        a.target_index = y;
        expect_error(&a, "targets", -1);
        double tb[12] = {0, 0, 0, 0, 0, 0, 0, -0.5, 0, 0, 0, 0};
        a.target_index = NULL;
        a.target_prob = tb;
        expect_error(&a, "targets", 7);
        a = seg_args(loss, x, shape, 3);
        a.target_index = y;
        a.include_background = 0;
        a.weights = w;
        a.weights_len = 3; /* 2 classes scored */
        expect_error(&a, "weights", -1);
        a.weights_len = 2;
        w[1] = -1;
        expect_error(&a, "weights", 1);
        w[1] = 1;
        a = seg_args(loss, x, shape, 3);
        a.target_index = y;
        a.smooth_nr = -1;
        expect_error(&a, "smooth_nr", -1);
        a.smooth_nr = 0;
        a.smooth_dr = NAN;
        expect_error(&a, "smooth_dr", -1);
        a.smooth_dr = 0;
        a.activation = (bl_activation)7;
        expect_error(&a, "activation", -1);
        a.activation = BL_ACTIVATION_SOFTMAX;
        a.label_smoothing = 0.1;
        expect_error(&a, "label_smoothing", -1);
        a.label_smoothing = 0;
        a.pos_weight = w;
        a.pos_weight_len = 3;
        expect_error(&a, "pos_weight", -1);
        a.pos_weight = NULL;
        a.reduction = BL_REDUCTION_NONE;
        bl_loss_result r = {0, 0, NULL, NULL};
        bl_error e;
        ck_assert_int_eq(bl_loss(&a, &r, &e), BL_EINVAL); /* none needs res->per */
        a.reduction = (bl_reduction)9;
        expect_error(&a, NULL, -1);
    }
    bl_loss_args a = seg_args(BL_LOSS_TVERSKY, x, shape, 3);
    a.target_index = y;
    a.tversky_alpha = -0.1;
    expect_error(&a, "tversky_alpha", -1);
    a.tversky_alpha = 0.5;
    a.tversky_beta = INFINITY;
    expect_error(&a, "tversky_beta", -1);
}
END_TEST

/* reduction sum_over_batch_size (lib/loss_longtail.c): dice and tversky
 * divide the sum of their scores by the number of scores (N C', or C' with
 * batch), not by positions or class-index targets; the gradient likewise. */
START_TEST(sum_over_batch_size_counts_scores)
{
    double x[12] = {0.5, -1, 2, 0.25, 1, 0, -0.5, 3, -2, 0.75, 1.5, -1};
    int64_t y[4] = {0, 2, 1, 2};
    size_t shape[3] = {2, 3, 2};
    for (int loss = BL_LOSS_DICE; loss <= BL_LOSS_TVERSKY; loss++)
        for (int batch = 0; batch <= 1; batch++) {
            double gs[12], gb[12];
            bl_loss_args a = seg_args((bl_loss_kind)loss, x, shape, 3);
            a.target_index = y;
            a.batch = batch;
            a.include_background = 0;
            a.ignore_index = 2; /* not a dice option: it must not thin the count */
            a.reduction = BL_REDUCTION_SUM;
            bl_loss_result sum = {0, 0, NULL, gs}, sobs = {0, 0, NULL, gb};
            bl_error e;
            ck_assert_int_eq(bl_loss(&a, &sum, &e), BL_OK);
            a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
            ck_assert_int_eq(bl_loss(&a, &sobs, &e), BL_OK);
            double scores = batch ? 2 : 4; /* C' = 2 classes scored, N = 2 */
            ck_assert(sobs.total_weight == scores);
            ASSERT_CLOSE(sobs.value, sum.value / scores);
            for (size_t i = 0; i < 12; i++)
                ASSERT_CLOSE(gb[i], gs[i] / scores);
        }
}
END_TEST

START_TEST(activation_names)
{
    static const char *const want[] = {"softmax", "sigmoid"};
    ck_assert_uint_eq(NELEM(want), BL_ACTIVATION_COUNT);
    ck_assert_ptr_null(bl_activation_names[BL_ACTIVATION_COUNT]);
    for (int i = 0; i < BL_ACTIVATION_COUNT; i++) {
        bl_activation v;
        ck_assert_str_eq(bl_activation_name((bl_activation)i), want[i]);
        ck_assert_int_eq(bl_activation_from_name(want[i], &v, NULL), BL_OK);
        ck_assert_int_eq(v, i);
    }
    bl_activation v;
    bl_error e;
    ck_assert_ptr_null(bl_activation_name((bl_activation)2));
    ck_assert_int_eq(bl_activation_from_name("relu", &v, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "activation");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss_seg");
    TCase *tc = tcase_create("dice_tversky");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hand_values);
    tcase_add_test(tc, near_perfect_keeps_digits);
    tcase_add_loop_test(tc, matrix, 0, 96);
    tcase_add_test(tc, identities);
    tcase_add_test(tc, empty);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, sum_over_batch_size_counts_scores);
    tcase_add_test(tc, activation_names);
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
