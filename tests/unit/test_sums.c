/*
 * test_sums.c — the one compensated sum (lib/sum.h), through the functions
 * that use it: its accuracy, and that a sum which overflows is infinite
 * rather than the NaN that the compensation term (inf - inf) would make.
 * Before lib/sum.h, two of its copies returned s + c unguarded: logit
 * adjustment with counts near DBL_MAX answered NaN instead of taking its
 * scaled path, and the mean of a sample's class weights with an infinite
 * weight was NaN.
 */
#include <float.h>
#include <math.h>

#include "../../lib/sum.h"
#include "ballast.h"
#include "check_main.h"

START_TEST(compensation_keeps_the_small_terms)
{
    blp_sum s = {0, 0};
    sum_add(&s, 1.0);
    for (int i = 0; i < 1000; i++)
        sum_add(&s, 1e-16); /* each lost by a plain sum */
    sum_add(&s, -1.0);
    ck_assert(fabs(sum_get(&s) - 1e-13) <= 1e-13 * 1e-12);
}
END_TEST

START_TEST(an_overflowing_sum_is_infinite)
{
    blp_sum s = {0, 0};
    sum_add(&s, DBL_MAX);
    sum_add(&s, DBL_MAX);
    ck_assert(isinf(s.s) && !isfinite(s.c)); /* s + c would be NaN */
    ck_assert(isinf(sum_get(&s)) && sum_get(&s) > 0);
}
END_TEST

/* Logit adjustment by priors from counts: counts (c, c) give priors 1/2
 * whatever c, so the loss is the same for c = 1 and c = 0.95 DBL_MAX,
 * whose sum overflows. */
START_TEST(logit_adjustment_with_huge_counts)
{
    const double logits[2] = {1, 2};
    const int64_t target[1] = {0};
    const double small[2] = {1, 1}, huge[2] = {0.95 * DBL_MAX, 0.95 * DBL_MAX};
    double value[2];
    for (int k = 0; k < 2; k++) {
        bl_loss_args a = bl_loss_args_default();
        a.loss = BL_LOSS_CROSS_ENTROPY;
        a.input = logits;
        a.shape[0] = 1;
        a.shape[1] = 2;
        a.ndim = 2;
        a.target_index = target;
        a.class_counts = k ? huge : small;
        a.class_counts_len = 2;
        a.adjust_logits = 1;
        a.logit_adjustment = 1;
        bl_loss_result res = {0};
        bl_error err;
        ck_assert_int_eq(bl_loss(&a, &res, &err), BL_OK);
        value[k] = res.value;
    }
    ck_assert(isfinite(value[1]));
    ck_assert(fabs(value[1] - value[0]) <= 1e-15 * value[0]);
}
END_TEST

/* sample_weight_reduce mean over the classes {0, 1} of weights {inf, 1}:
 * the mean is inf, as is the max. */
START_TEST(mean_sample_weight_with_an_infinite_weight)
{
    const int64_t ids[2] = {0, 1};
    const size_t offsets[2] = {0, 2};
    const double weights[2] = {INFINITY, 1}, positives[2] = {1, 1};
    double out[1];
    bl_error err;
    for (int reduce = 0; reduce < BL_SAMPLE_REDUCE_COUNT; reduce++) {
        ck_assert_int_eq(bl_multilabel_sample_weights(ids, offsets, 1, weights, positives, 2,
                                                      (bl_sample_reduce)reduce, out, &err),
                         BL_OK);
        ck_assert(isinf(out[0]) && out[0] > 0);
    }
}
END_TEST

static Suite *sums_suite(void)
{
    Suite *s = suite_create("sums");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, compensation_keeps_the_small_terms);
    tcase_add_test(tc, an_overflowing_sum_is_infinite);
    tcase_add_test(tc, logit_adjustment_with_huge_counts);
    tcase_add_test(tc, mean_sample_weight_with_an_infinite_weight);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(sums_suite)
