/*
 * test_loss_f32.c — float32 input of bl_loss (bl_loss_args.input_f32,
 * lib/loss.c): the results must be those of input holding the same values
 * as doubles, to the bit, for every loss and option.
 *
 * What is checked, and against what:
 *   - value, total_weight, per (reduction none) and grad of bl_loss with
 *     input_f32 (the floats at an odd address, as in a request body) equal
 *     those with input (the same floats as doubles): class-index
 *     cross_entropy and focal over (N, C) (read in place, with weights,
 *     label smoothing, ignore_index, every reduction), nll (read in place,
 *     any shape), and the losses that convert first (K-dimensional and 1-D
 *     input, probability targets, bce_with_logits, sigmoid_focal,
 *     asymmetric, ldam, logit adjustment, dice, tversky);
 *   - input and input_f32 together are refused (BL_EINVAL naming logits);
 *   - an empty batch and a bad shape are answered as with input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_main.h"

static uint64_t lcg_state = 0x2545F4914F6CDD1DULL;
static double urand(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1p-53;
}

typedef struct {
    bl_loss_kind loss;
    size_t shape[4], ndim;
    int prob;         /* probability (or binary) targets */
    int weights;      /* class weights (C), or last-dim weights (binary) */
    double smoothing; /* cross_entropy */
    int ignore;       /* some targets are ignore_index */
    int longtail;     /* 1: ldam with class_counts; 2: logit adjustment */
} f32_case;

static const f32_case cases[] = {
    {BL_LOSS_CROSS_ENTROPY, {257, 10}, 2, 0, 0, 0, 0, 0},
    {BL_LOSS_CROSS_ENTROPY, {300, 7}, 2, 0, 1, 0, 1, 0},
    {BL_LOSS_CROSS_ENTROPY, {64, 1000}, 2, 0, 1, 0.1, 0, 0},
    {BL_LOSS_CROSS_ENTROPY, {5000, 3}, 2, 0, 0, 0.05, 1, 0},
    {BL_LOSS_FOCAL, {129, 5}, 2, 0, 1, 0, 1, 0},
    {BL_LOSS_NLL, {100, 6}, 2, 0, 1, 0, 1, 0},
    {BL_LOSS_NLL, {4, 3, 5}, 3, 0, 0, 0, 0, 0},
    {BL_LOSS_CROSS_ENTROPY, {4, 3, 5}, 3, 0, 1, 0, 1, 0},
    {BL_LOSS_CROSS_ENTROPY, {9}, 1, 0, 0, 0, 0, 0},
    {BL_LOSS_CROSS_ENTROPY, {1, 9}, 2, 0, 0, 0, 0, 0},
    {BL_LOSS_CROSS_ENTROPY, {40, 6}, 2, 1, 1, 0.2, 0, 0},
    {BL_LOSS_BCE_WITH_LOGITS, {30, 4}, 2, 1, 1, 0, 0, 0},
    {BL_LOSS_SIGMOID_FOCAL, {30, 4}, 2, 1, 0, 0, 0, 0},
    {BL_LOSS_ASYMMETRIC, {30, 4}, 2, 1, 0, 0, 0, 0},
    {BL_LOSS_LDAM, {50, 5}, 2, 0, 0, 0, 0, 1},
    {BL_LOSS_CROSS_ENTROPY, {50, 5}, 2, 0, 0, 0, 0, 2},
    {BL_LOSS_DICE, {6, 3, 4}, 3, 0, 0, 0, 0, 0},
    {BL_LOSS_TVERSKY, {6, 3, 4}, 3, 0, 0, 0, 0, 0},
};

static size_t elements_of(const f32_case *c)
{
    size_t n = 1;
    for (size_t d = 0; d < c->ndim; d++)
        n *= c->shape[d];
    return n;
}

/* Runs a once with input (doubles) and once with input_f32 (floats at an
 * odd address), every reduction, with and without gradient. */
static void compare(bl_loss_args a, const float *f, const double *x, size_t elems)
{
    unsigned char *odd = malloc(elems * sizeof(float) + 1);
    ck_assert(odd);
    memcpy(odd + 1, f, elems * sizeof(float));
    size_t P = bl_loss_positions(&a) + 1;
    double *per1 = malloc(P * sizeof(double)), *per2 = malloc(P * sizeof(double));
    double *g1 = malloc((elems + 1) * sizeof(double)), *g2 = malloc((elems + 1) * sizeof(double));
    ck_assert(per1 && per2 && g1 && g2);
    static const bl_reduction reds[] = {BL_REDUCTION_MEAN, BL_REDUCTION_SUM, BL_REDUCTION_NONE,
                                        BL_REDUCTION_SUM_OVER_BATCH_SIZE};
    for (size_t ri = 0; ri < 4; ri++)
        for (int grad = 0; grad < 2; grad++) {
            a.reduction = reds[ri];
            bl_error e1, e2;
            memset(per1, 0, P * sizeof(double));
            memset(per2, 0, P * sizeof(double));
            memset(g1, 0, (elems + 1) * sizeof(double));
            memset(g2, 0, (elems + 1) * sizeof(double));
            bl_loss_result r1 = {0, 0, per1, grad ? g1 : NULL}, r2 = {0, 0, per2, grad ? g2 : NULL};
            a.input = x;
            a.input_f32 = NULL;
            bl_status s1 = bl_loss(&a, &r1, &e1);
            a.input = NULL;
            a.input_f32 = odd + 1;
            bl_status s2 = bl_loss(&a, &r2, &e2);
            ck_assert_int_eq(s2, s1);
            if (s1 != BL_OK) {
                ck_assert_str_eq(e2.message, e1.message);
                continue;
            }
            ck_assert_mem_eq(&r2.value, &r1.value, sizeof r1.value);
            ck_assert_mem_eq(&r2.total_weight, &r1.total_weight, sizeof r1.total_weight);
            ck_assert_mem_eq(per2, per1, P * sizeof(double));
            ck_assert_mem_eq(g2, g1, (elems + 1) * sizeof(double));
        }
    free(odd);
    free(per1);
    free(per2);
    free(g1);
    free(g2);
}

START_TEST(test_f32_equals_f64)
{
    const f32_case *c = &cases[_i];
    size_t elems = elements_of(c);
    bl_loss_args a = bl_loss_args_default();
    a.loss = c->loss;
    a.ndim = c->ndim;
    memcpy(a.shape, c->shape, sizeof c->shape);
    size_t C = c->ndim == 1 ? c->shape[0] : c->shape[1];
    size_t positions = elems / C;
    float *f = malloc(elems * sizeof *f);
    double *x = malloc(elems * sizeof *x), *prob = malloc(elems * sizeof *prob);
    int64_t *idx = malloc((positions + 1) * sizeof *idx);
    double *w = malloc((C + c->shape[c->ndim - 1]) * sizeof *w);
    double *counts = malloc(C * sizeof *counts);
    ck_assert(f && x && prob && idx && w && counts);
    for (size_t i = 0; i < elems; i++) {
        /* wide logits; nll's log-probabilities <= 0 */
        double v = c->loss == BL_LOSS_NLL ? -urand() * 6 : (urand() - 0.5) * 20;
        f[i] = (float)v;
        x[i] = f[i];
        prob[i] = urand() < 0.3 ? 1.0 : urand() < 0.5 ? 0.0 : urand();
    }
    for (size_t n = 0; n < positions; n++)
        idx[n] = c->ignore && n % 7 == 3 ? -100 : (int64_t)(urand() * (double)C);
    for (size_t i = 0; i < C + c->shape[c->ndim - 1]; i++)
        w[i] = 0.25 + urand();
    for (size_t i = 0; i < C; i++)
        counts[i] = 1 + (double)(i * 37 % 11);
    int binary = c->loss == BL_LOSS_BCE_WITH_LOGITS || c->loss == BL_LOSS_SIGMOID_FOCAL ||
                 c->loss == BL_LOSS_ASYMMETRIC;
    if (c->prob) {
        a.target_prob = prob;
    } else {
        a.target_index = idx;
    }
    if (c->weights) {
        a.weights = w;
        a.weights_len = binary ? c->shape[c->ndim - 1] : C;
    }
    a.label_smoothing = c->smoothing;
    if (c->longtail == 1) {
        a.class_counts = counts;
        a.class_counts_len = C;
    } else if (c->longtail == 2) {
        a.class_counts = counts;
        a.class_counts_len = C;
        a.adjust_logits = 1;
    }
    compare(a, f, x, elems);
    free(f);
    free(x);
    free(prob);
    free(idx);
    free(w);
    free(counts);
}
END_TEST

START_TEST(test_f32_refusals)
{
    float f[6] = {1, 2, 3, 4, 5, 6};
    double x[6] = {1, 2, 3, 4, 5, 6};
    int64_t y[2] = {0, 2};
    bl_loss_args a = bl_loss_args_default();
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.target_index = y;
    a.input = x;
    a.input_f32 = f;
    bl_loss_result r = {0, 0, NULL, NULL};
    bl_error e;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "logits");
    /* an empty batch: NaN mean, as with float64 input */
    a.input = NULL;
    a.shape[0] = 0;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_OK);
    ck_assert(isnan(r.value));
    /* too many dimensions: the same refusal as with float64 input */
    a.ndim = BL_MAX_DIMS + 1;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "logits");
    /* a target out of range, read in place: refused before anything */
    a.ndim = 2;
    a.shape[0] = 2;
    y[1] = 3;
    ck_assert_int_eq(bl_loss(&a, &r, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "targets");
    ck_assert_int_eq(e.index, 1);
}
END_TEST

static Suite *f32_suite(void)
{
    Suite *s = suite_create("loss_f32");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_f32_equals_f64, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_f32_refusals);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(f32_suite)
