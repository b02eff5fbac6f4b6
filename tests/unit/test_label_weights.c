/*
 * test_label_weights.c — bl_label_weights, the one per-sample weight rule
 * (class_weights[label]) that /weights' sample_weights and /sample's
 * weights from labels both use.
 */
#include <math.h>
#include <string.h>

#include "ballast.h"
#include "check_main.h"

START_TEST(weights_by_label)
{
    const double cw[3] = {0.5, 2.0, 10.0};
    const int64_t labels[5] = {2, 0, 1, 1, 2};
    double out[5];
    bl_error err;
    ck_assert_int_eq(bl_label_weights(cw, 3, labels, 5, out, &err), BL_OK);
    const double want[5] = {10.0, 0.5, 2.0, 2.0, 10.0};
    for (int i = 0; i < 5; i++)
        ck_assert(out[i] == want[i]);
    ck_assert_int_eq(bl_label_weights(cw, 3, NULL, 0, NULL, &err), BL_OK); /* nothing to do */
}
END_TEST

START_TEST(out_of_range_labels_name_their_index)
{
    const double cw[2] = {1.0, 3.0};
    const int64_t high[3] = {0, 1, 2}, low[2] = {1, -1};
    double out[3];
    bl_error err;
    ck_assert_int_eq(bl_label_weights(cw, 2, high, 3, out, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "labels");
    ck_assert_int_eq(err.index, 2);
    ck_assert_ptr_nonnull(strstr(err.message, "label 2 is out of range for 2 classes"));
    ck_assert_int_eq(bl_label_weights(cw, 2, low, 2, out, &err), BL_EINVAL);
    ck_assert_int_eq(err.index, 1);
    ck_assert_int_eq(bl_label_weights(cw, 0, low, 1, out, &err), BL_EINVAL); /* no classes */
}
END_TEST

START_TEST(null_arrays_are_refused)
{
    const double cw[1] = {1.0};
    const int64_t labels[1] = {0};
    double out[1];
    bl_error err;
    ck_assert_int_eq(bl_label_weights(cw, 1, NULL, 1, out, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "labels");
    ck_assert_int_eq(bl_label_weights(cw, 1, labels, 1, NULL, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "out");
    ck_assert_int_eq(bl_label_weights(NULL, 1, labels, 1, out, &err), BL_EINVAL);
    ck_assert_str_eq(err.arg, "class_weights");
}
END_TEST

static Suite *label_weights_suite(void)
{
    Suite *s = suite_create("label_weights");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, weights_by_label);
    tcase_add_test(tc, out_of_range_labels_name_their_index);
    tcase_add_test(tc, null_arrays_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(label_weights_suite)
