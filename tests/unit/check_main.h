/*
 * check_main.h — the one main() of the Check programs (tests/unit/test_*.c,
 * tests/chaos/, tests/fuzz/). A test program lists its tests; this header
 * runs them.
 *
 * Adopting it in a new tests/unit/test_x.c (picked up by the Makefile's
 * wildcard, built with -Itests/unit):
 *
 *     #include "check_main.h"
 *
 *     static Suite *x_suite(void)
 *     {
 *         Suite *s = suite_create("x");
 *         TCase *tc = tcase_create("core");
 *         tcase_add_test(tc, test_one);
 *         tcase_add_loop_test(tc, test_each, 0, 10);
 *         suite_add_tcase(s, tc);
 *         return s;
 *     }
 *
 *     CHECK_MAIN(x_suite)
 *
 * CHECK_MAIN defines main(): the suite runs with Check's normal output,
 * whose last line ("100%: Checks: 12, Failures: 0, Errors: 0") tests/run.sh
 * adds to the total, and the program exits non-zero when a test failed. A
 * program that must prepare something first (test_api.c loads its cases) or
 * report after the run (the chaos test) writes its own main() around
 * check_run(). Programs outside tests/unit include "../unit/check_main.h".
 */
#ifndef BALLAST_CHECK_MAIN_H
#define BALLAST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Runs suite s (and frees it); EXIT_SUCCESS when every test passed. */
static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define CHECK_MAIN(suite_fn)                                                                       \
    int main(void) { return check_run(suite_fn()); }

#endif
