/*
 * test_check_close.c — the tests' closeness rule itself (check_close.h), as
 * README "Where things live" states it: |got - want| <= max(rel * |want|,
 * abs), relative to the expected value; NaN only NaN; infinities by sign;
 * a fixture's tolerance read from the case, else its file, never defaulted.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "check_close.h"
#include "check_main.h"

START_TEST(rule)
{
    check_tol t = {1e-12, 1e-15};
    ck_assert(check_close(1.0 + 0.9e-12, 1.0, t));
    ck_assert(!check_close(1.0 + 3e-12, 1.0, t));
    /* relative to want: 100 vs 100.0000000002 is 2e-12 of want */
    ck_assert(!check_close(100.0000000002, 100, t));
    ck_assert(check_close(1e-16, 0, t)); /* the absolute part near zero */
    ck_assert(!check_close(2e-15, 0, t));
    ck_assert(check_close(NAN, NAN, t));
    ck_assert(!check_close(NAN, 1, t));
    ck_assert(!check_close(1, NAN, t));
    ck_assert(check_close(INFINITY, INFINITY, t));
    ck_assert(!check_close(-INFINITY, INFINITY, t));
    ck_assert(!check_close(1e308, INFINITY, t));
    ck_assert(check_close(-0.0, 0.0, (check_tol){0, 0}));
    ck_assert(!check_close(1.0000000000000002, 1.0, (check_tol){0, 0}));
}
END_TEST

static int json_close(const char *want, const char *got, const check_tol *tol, char *why)
{
    json_t *w = json_loads(want, 0, NULL), *g = json_loads(got, 0, NULL);
    ck_assert(w && g);
    int ok = check_json_close(w, g, tol, NULL, why, 512, "$");
    json_decref(w);
    json_decref(g);
    return ok;
}

START_TEST(documents)
{
    check_tol t = {1e-12, 1e-15};
    char why[512];
    /* expected ⊆ actual; reals within tolerance; integers exactly */
    ck_assert(json_close("{\"a\": [1.0, 2]}", "{\"a\": [1.0000000000001, 2], \"b\": 3}", &t, why));
    ck_assert(!json_close("{\"a\": [1, 2]}", "{\"a\": [1, 3]}", &t, why));
    ck_assert_str_eq(why, "$.a[1]: 3 != expected 2");
    ck_assert(!json_close("{\"a\": 1}", "{\"b\": 1}", &t, why));
    ck_assert_str_eq(why, "$.a: missing");
    ck_assert(!json_close("{\"a\": null}", "{\"a\": 0}", &t, why));
    /* without a tolerance, a real never matches (a file of integers only) */
    ck_assert(json_close("[1, 2]", "[1, 2]", NULL, why));
    ck_assert(!json_close("[1.5]", "[1.5]", NULL, why));
    ck_assert_msg(strstr(why, "without a tolerance") != NULL, "%s", why);
}
END_TEST

START_TEST(tolerance_of_a_case)
{
    json_t *file = json_loads("{\"tolerance\": {\"rel\": 1e-12, \"abs\": 1e-15}}", 0, NULL);
    json_t *own = json_loads("{\"tolerance\": {\"rel\": 0.5, \"abs\": 0}}", 0, NULL);
    json_t *plain = json_object();
    check_tol buf;
    check_tol t = check_tolerance(file, plain, "plain");
    ck_assert(t.rel == 1e-12 && t.abs == 1e-15);
    t = check_tolerance(file, own, "own"); /* the case's own first */
    ck_assert(t.rel == 0.5 && t.abs == 0);
    json_t *none = json_object();
    ck_assert_ptr_null(check_tolerance_if_any(none, plain, &buf, "none"));
    json_decref(file);
    json_decref(own);
    json_decref(plain);
    json_decref(none);
}
END_TEST

/* No tolerance where reals are compared: the test fails, not a default. */
START_TEST(missing_tolerance_fails)
{
    json_t *none = json_object();
    check_tolerance(none, none, "a fixture without tolerance");
}
END_TEST

START_TEST(malformed_tolerance_fails)
{
    json_t *file = json_loads("{\"tolerance\": {\"rel\": -1, \"abs\": 0}}", 0, NULL);
    check_tolerance(file, NULL, "a negative tolerance");
}
END_TEST

static Suite *check_close_suite(void)
{
    Suite *s = suite_create("check_close");
    TCase *tc = tcase_create("rule");
    tcase_add_test(tc, rule);
    tcase_add_test(tc, documents);
    tcase_add_test(tc, tolerance_of_a_case);
    /* ck_assert failing ends the forked test with exit 1, as Check reports failures */
    tcase_add_exit_test(tc, missing_tolerance_fails, 1);
    tcase_add_exit_test(tc, malformed_tolerance_fails, 1);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(check_close_suite)
