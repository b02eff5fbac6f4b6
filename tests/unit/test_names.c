/*
 * test_names.c — the enum name tables of lib/names.c: every value of every
 * enum has the name the HTTP API uses (api/openapi.yaml), the tables are
 * NULL-terminated at BL_<ENUM>_COUNT, names and values map both ways, and
 * an unknown value or name is refused with a message listing the choices.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_main.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The contract's spellings, in enum order (api/openapi.yaml). */
static const char *const SCHEMES[] = {
    "max_over_count",   "inverse", "balanced", "inverse_sqrt", "effective_number",
    "median_frequency", "enet",    "power",    "repeat_factor"};
static const char *const NORMALIZE[] = {"none", "sum", "mean", "max"};
static const char *const GENERATORS[] = {"fast", "torch"};
static const char *const LOSSES[] = {"cross_entropy",   "nll",           "focal",
                                     "bce_with_logits", "sigmoid_focal", "ldam",
                                     "asymmetric",      "dice",          "tversky"};
static const char *const REDUCTIONS[] = {"mean", "sum", "none", "sum_over_batch_size"};
static const char *const SAMPLE_REDUCES[] = {"max", "mean"};

/* One enum's table, name function and lookup, checked against `want`. */
#define CHECK_ENUM(type, prefix, COUNT, want, argname)                                             \
    do {                                                                                           \
        ck_assert_uint_eq(NELEM(want), COUNT);                                                     \
        ck_assert_ptr_null(bl_##prefix##_names[COUNT]);                                            \
        for (int i = 0; i < COUNT; i++) {                                                          \
            ck_assert_str_eq(bl_##prefix##_names[i], want[i]);                                     \
            ck_assert_str_eq(bl_##prefix##_name((type)i), want[i]);                                \
            type v = (type)-1;                                                                     \
            bl_error err;                                                                          \
            ck_assert_int_eq(bl_##prefix##_from_name(want[i], &v, &err), BL_OK);                   \
            ck_assert_int_eq((int)v, i);                                                           \
            ck_assert_int_eq(err.code, BL_OK);                                                     \
        }                                                                                          \
        ck_assert_ptr_null(bl_##prefix##_name((type)COUNT));                                       \
        ck_assert_ptr_null(bl_##prefix##_name((type)-1));                                          \
        ck_assert_ptr_null(bl_##prefix##_name((type)1000));                                        \
        type v = (type)0;                                                                          \
        bl_error err;                                                                              \
        ck_assert_int_eq(bl_##prefix##_from_name("no such thing", &v, &err), BL_EINVAL);           \
        ck_assert_str_eq(err.arg, argname);                                                        \
        ck_assert_msg(strstr(err.message, "\"no such thing\" is not one of") != NULL, "%s",        \
                      err.message);                                                                \
        ck_assert_msg(strstr(err.message, want[COUNT - 1]) != NULL, "%s", err.message);            \
        /* exact match only: no prefix, no case folding, no trailing bytes */                      \
        char buf[64];                                                                              \
        strcpy(buf, want[0]);                                                                      \
        buf[strlen(buf) - 1] = '\0';                                                               \
        ck_assert_int_eq(bl_##prefix##_from_name(buf, &v, &err), BL_EINVAL);                       \
        strcpy(buf, want[0]);                                                                      \
        strcat(buf, " ");                                                                          \
        ck_assert_int_eq(bl_##prefix##_from_name(buf, &v, &err), BL_EINVAL);                       \
        ck_assert_int_eq(bl_##prefix##_from_name(NULL, &v, &err), BL_EINVAL);                      \
        ck_assert_str_eq(err.arg, argname);                                                        \
        ck_assert_int_eq(bl_##prefix##_from_name(want[0], NULL, &err), BL_EINVAL);                 \
        ck_assert_int_eq(bl_##prefix##_from_name("x", &v, NULL), BL_EINVAL);                       \
    } while (0)

START_TEST(test_scheme_names) { CHECK_ENUM(bl_scheme, scheme, BL_SCHEME_COUNT, SCHEMES, "scheme"); }
END_TEST

START_TEST(test_normalize_names)
{
    CHECK_ENUM(bl_normalize, normalize, BL_NORMALIZE_COUNT, NORMALIZE, "normalize");
}
END_TEST

START_TEST(test_generator_names)
{
    CHECK_ENUM(bl_generator, generator, BL_GENERATOR_COUNT, GENERATORS, "generator");
}
END_TEST

START_TEST(test_loss_names) { CHECK_ENUM(bl_loss_kind, loss, BL_LOSS_COUNT, LOSSES, "loss"); }
END_TEST

START_TEST(test_reduction_names)
{
    CHECK_ENUM(bl_reduction, reduction, BL_REDUCTION_COUNT, REDUCTIONS, "reduction");
}
END_TEST

START_TEST(test_sample_reduce_names)
{
    CHECK_ENUM(bl_sample_reduce, sample_reduce, BL_SAMPLE_REDUCE_COUNT, SAMPLE_REDUCES,
               "sample_weight_reduce");
}
END_TEST

/* The last enumerator of each enum is COUNT - 1 (lib/names.c asserts it at
 * compile time too). */
START_TEST(test_counts)
{
    ck_assert_int_eq(BL_SCHEME_REPEAT_FACTOR, BL_SCHEME_COUNT - 1);
    ck_assert_int_eq(BL_SCHEME_POWER, 7); /* pre-assigned values (issue #13) */
    ck_assert_int_eq(BL_SCHEME_REPEAT_FACTOR, 8);
    ck_assert_int_eq(BL_SAMPLE_REDUCE_MEAN, BL_SAMPLE_REDUCE_COUNT - 1);
    ck_assert_int_eq(BL_NORMALIZE_MAX, BL_NORMALIZE_COUNT - 1);
    ck_assert_int_eq(BL_GENERATOR_TORCH, BL_GENERATOR_COUNT - 1);
    ck_assert_int_eq(BL_LOSS_LDAM, 5); /* pre-assigned values (issue #13) */
    ck_assert_int_eq(BL_LOSS_TVERSKY, BL_LOSS_COUNT - 1);
    ck_assert_int_eq(BL_REDUCTION_SUM_OVER_BATCH_SIZE, BL_REDUCTION_COUNT - 1);
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, test_scheme_names);
    tcase_add_test(tc, test_normalize_names);
    tcase_add_test(tc, test_generator_names);
    tcase_add_test(tc, test_loss_names);
    tcase_add_test(tc, test_reduction_names);
    tcase_add_test(tc, test_sample_reduce_names);
    tcase_add_test(tc, test_counts);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(names_suite)
