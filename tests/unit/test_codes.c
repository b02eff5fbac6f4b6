/*
 * test_codes.c — the error-code table of api/codes.c against the contract:
 * every code has a distinct name, a status and a meaning; every code but
 * "ok" is a row "| status | `name` |" of api/openapi.yaml's error table
 * (the document compiled into the api layer), and every row of that table
 * is a code with that status; an unknown code reads as "internal".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

START_TEST(test_names_distinct)
{
    for (int i = 0; i < BL_API_CODE_COUNT; i++) {
        const char *a = bl_api_code_name((bl_api_code)i);
        ck_assert_ptr_nonnull(a);
        ck_assert_msg(a[0] != '\0', "code %d has an empty name", i);
        ck_assert_ptr_nonnull(bl_api_code_meaning((bl_api_code)i));
        ck_assert_msg(bl_api_code_meaning((bl_api_code)i)[0] != '\0', "%s: no meaning", a);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(a, bl_api_code_name((bl_api_code)j)) != 0, "%s twice", a);
    }
}
END_TEST

START_TEST(test_statuses)
{
    ck_assert_str_eq(bl_api_code_name(BL_API_OK), "ok");
    ck_assert_uint_eq(bl_api_code_status(BL_API_OK), 200);
    for (int i = 1; i < BL_API_CODE_COUNT; i++) {
        unsigned st = bl_api_code_status((bl_api_code)i);
        ck_assert_msg(st >= 400 && st < 600, "%s: status %u is not an error",
                      bl_api_code_name((bl_api_code)i), st);
    }
    /* The codes the api layer itself answers keep their statuses. */
    ck_assert_uint_eq(bl_api_code_status(BL_API_INVALID_JSON), 400);
    ck_assert_uint_eq(bl_api_code_status(BL_API_NOT_ACCEPTABLE), 406);
    ck_assert_uint_eq(bl_api_code_status(BL_API_UNAVAILABLE), 503);
    ck_assert_uint_eq(bl_api_code_status(BL_API_INTERNAL), 500);
}
END_TEST

START_TEST(test_unknown_code)
{
    ck_assert_str_eq(bl_api_code_name(BL_API_CODE_COUNT), "internal");
    ck_assert_str_eq(bl_api_code_name((bl_api_code)-1), "internal");
    ck_assert_uint_eq(bl_api_code_status((bl_api_code)1000), 500);
}
END_TEST

/* Every code but "ok" is a row of the contract's error table. */
START_TEST(test_codes_in_openapi)
{
    const char *doc = bl_api_openapi(NULL);
    for (int i = 1; i < BL_API_CODE_COUNT; i++) {
        char row[96];
        snprintf(row, sizeof row, "| %u | `%s` |", bl_api_code_status((bl_api_code)i),
                 bl_api_code_name((bl_api_code)i));
        ck_assert_msg(strstr(doc, row) != NULL, "api/openapi.yaml has no row \"%s\"", row);
    }
}
END_TEST

/* Every row "| NNN | `name` |" of the contract is a code of the table. */
START_TEST(test_openapi_rows_in_table)
{
    const char *doc = bl_api_openapi(NULL);
    int rows = 0;
    for (const char *p = strstr(doc, "| "); p; p = strstr(p + 1, "| ")) {
        unsigned status;
        char name[40];
        int n = 0;
        if (sscanf(p, "| %3u | `%39[a-z_]` |%n", &status, name, &n) != 2 || n == 0)
            continue;
        rows++;
        int found = 0;
        for (int i = 1; i < BL_API_CODE_COUNT; i++)
            if (strcmp(name, bl_api_code_name((bl_api_code)i)) == 0) {
                found = 1;
                ck_assert_msg(status == bl_api_code_status((bl_api_code)i),
                              "%s: api/openapi.yaml says %u, api/codes.c %u", name, status,
                              bl_api_code_status((bl_api_code)i));
            }
        ck_assert_msg(found, "api/openapi.yaml's code %s is not in api/codes.c", name);
    }
    ck_assert_int_ge(rows, BL_API_CODE_COUNT - 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codes");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_names_distinct);
    tcase_add_test(tc, test_statuses);
    tcase_add_test(tc, test_unknown_code);
    tcase_add_test(tc, test_codes_in_openapi);
    tcase_add_test(tc, test_openapi_rows_in_table);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
