/*
 * test_loss_exact.c — where PyTorch loses digits, bl_loss gives the exact
 * value (README "Where ballast is more exact than PyTorch").
 *
 * Each case is a confident, right prediction: logit 40 on the true class,
 * where the loss is log(1 + e^-40) = 4.2e-18. PyTorch 1.13 in float64 forms
 * 1 + e^-40, which rounds to 1, and answers 0 (and a gradient of 0 where
 * sigmoid(40) - 1 rounds to 0). ballast keeps the small terms (log1p,
 * sigmoid of the negated logit), so its answers are the exact values to
 * within an ulp or two. The expected values below are the exact values of
 * the formulas on these double inputs, computed with mpmath at 50 digits
 * (shown next to each), not PyTorch's; PyTorch's own answers are in the
 * comments.
 */
#include <check.h>
#include <math.h>

#include "ballast.h"
#include "check_close.h"
#include "check_main.h"

/* A few ulp: the exact value rounded once, then a few operations. */
static const check_tol EXACT = {1e-15, 0};

/* log(1 + e^-40) = 4.2483542552915889863e-18 (mpmath, 50 digits) */
#define L40 4.2483542552915889863e-18
/* sigmoid(40) - 1 = -4.2483542552915889773e-18 */
#define SIG40_M1 -4.2483542552915889773e-18

static bl_loss_result run(bl_loss_args *a, double *grad)
{
    bl_loss_result res = {0};
    bl_error err;
    res.grad = grad;
    ck_assert_msg(bl_loss(a, &res, &err) == BL_OK, "bl_loss: %s", err.message);
    return res;
}

/* Weighted cross entropy, logits (0, 40), target 1, weights (1, 3), mean:
 * the loss is log(1 + e^-40) (3 l / 3); the gradient -(1 - softmax_1) on
 * the true class. PyTorch: loss 0.0, grad [4.25e-18, 0.0]. */
START_TEST(test_cross_entropy_confident)
{
    double x[2] = {0, 40}, w[2] = {1, 3}, g[2];
    int64_t y[1] = {1};
    bl_loss_args a = bl_loss_args_default();
    a.input = x;
    a.ndim = 2;
    a.shape[0] = 1;
    a.shape[1] = 2;
    a.target_index = y;
    a.weights = w;
    a.weights_len = 2;
    bl_loss_result r = run(&a, g);
    CHECK_ASSERT_CLOSE(r.value, L40, EXACT);
    CHECK_ASSERT_CLOSE(g[0], L40, EXACT);
    CHECK_ASSERT_CLOSE(g[1], -L40, EXACT);
}
END_TEST

/* bce_with_logits, x = 40, y = 1: loss log(1 + e^-40), gradient
 * sigmoid(40) - 1. PyTorch: 0.0 and 0.0. */
START_TEST(test_bce_confident)
{
    double x[1] = {40}, t[1] = {1}, g[1];
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_BCE_WITH_LOGITS;
    a.input = x;
    a.ndim = 1;
    a.shape[0] = 1;
    a.target_prob = t;
    bl_loss_result r = run(&a, g);
    CHECK_ASSERT_CLOSE(r.value, L40, EXACT);
    CHECK_ASSERT_CLOSE(g[0], SIG40_M1, EXACT);
}
END_TEST

/* focal, gamma 2, logits (0, 40), target 1: q^2 l with q = 1 - p_t and
 * l = -log p_t: 7.667648073721999551e-53; d/dz_1 = -q^2 (2 p_t l + q) =
 * -2.3002944221165998572e-52 (mpmath). PyTorch: loss -0.0, grad [0, 0]. */
START_TEST(test_focal_confident)
{
    double x[2] = {0, 40}, g[2];
    int64_t y[1] = {1};
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_FOCAL;
    a.gamma = 2;
    a.input = x;
    a.ndim = 2;
    a.shape[0] = 1;
    a.shape[1] = 2;
    a.target_index = y;
    bl_loss_result r = run(&a, g);
    CHECK_ASSERT_CLOSE(r.value, 7.667648073721999551e-53, EXACT);
    CHECK_ASSERT_CLOSE(g[1], -2.3002944221165998572e-52, EXACT);
    CHECK_ASSERT_CLOSE(g[0], 2.3002944221165998572e-52, EXACT);
}
END_TEST

/* sigmoid_focal (torchvision), x = 40, y = 1, alpha 0.25, gamma 2:
 * 0.25 (1 - sigmoid(40))^2 log(1 + e^-40) = 1.9169120184304998877e-53, its
 * derivative -5.7507360552914996429e-53 (mpmath). PyTorch: 0.0 and 0.0. */
START_TEST(test_sigmoid_focal_confident)
{
    double x[1] = {40}, t[1] = {1}, g[1];
    bl_loss_args a = bl_loss_args_default();
    a.loss = BL_LOSS_SIGMOID_FOCAL;
    a.input = x;
    a.ndim = 1;
    a.shape[0] = 1;
    a.target_prob = t;
    bl_loss_result r = run(&a, g);
    CHECK_ASSERT_CLOSE(r.value, 1.9169120184304998877e-53, EXACT);
    CHECK_ASSERT_CLOSE(g[0], -5.7507360552914996429e-53, EXACT);
}
END_TEST

static Suite *exact_suite(void)
{
    Suite *s = suite_create("loss_exact");
    TCase *tc = tcase_create("confident");
    tcase_add_test(tc, test_cross_entropy_confident);
    tcase_add_test(tc, test_bce_confident);
    tcase_add_test(tc, test_focal_confident);
    tcase_add_test(tc, test_sigmoid_focal_confident);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(exact_suite)
