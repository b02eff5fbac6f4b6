/*
 * test_api.c — the api layer without HTTP: request documents in, response
 * documents out.
 *
 *  - tests/cases/api_cases.json: data-driven cases (a new case is a new
 *    entry, not new C): endpoint, body (an object, or a string sent
 *    verbatim), and what must come back: the code, the error's field, a
 *    message fragment, and response fields compared numerically.
 *  - tests/conformance/{weights,loss,sample}_cases.json: the PyTorch/sklearn
 *    fixtures, every case through the api, compared under each fixture's
 *    own "tolerance" (check_close.h); the run reports N/N matched and the
 *    largest error.
 *  - a few cases that need C: seeds drawn from the entropy hook, limits.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "check_close.h"
#include "check_main.h"
#include "internal.h"

static const char *fixture_dir(void)
{
    const char *d = getenv("BALLAST_FIXTURES");
    return d ? d : "tests/conformance";
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

/* A document that may hold integers beyond 64 bits (the api's parser). */
static json_t *load_doc(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    api_err e;
    json_t *doc = api_parse(text, len, &e);
    ck_assert_msg(doc != NULL, "%s: %s", path, e.message);
    free(text);
    return doc;
}

/* Runs one request document through the endpoint's handler. The document
 * is handed over as parsed JSON, so that seeds beyond 2^63 in the fixtures
 * arrive exactly as the api's own parser reads them. */
static bl_api_code run_doc(const char *endpoint, json_t *request, json_t **response)
{
    bl_api_config cfg = bl_api_config_default();
    api_handler h = strcmp(endpoint, "weights") == 0  ? api_weights
                    : strcmp(endpoint, "sample") == 0 ? api_sample
                                                      : api_loss;
    api_out out;
    bl_api_result meta;
    memset(&out, 0, sizeof out);
    memset(&meta, 0, sizeof meta);
    out.format = BL_API_JSON;
    out.primary = -1;
    out.res = &meta;
    jw_init(&out.w);
    api_request req = {request, NULL, 0, NULL};
    api_err e = {BL_API_OK, "", ""};
    bl_api_code code = h(&cfg, &req, &out, &e);
    size_t len;
    char *text = jw_take(&out.w, &len);
    if (code == BL_API_OK) {
        ck_assert_ptr_nonnull(text);
        api_err pe;
        *response = api_parse(text, len, &pe);
        ck_assert_msg(*response != NULL, "unparsable response: %s", text);
    } else {
        *response = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", bl_api_code_name(code),
                              "message", e.message, "field", e.field);
    }
    free(text);
    return code;
}

static void run_fixtures(const char *file, const char *endpoint)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), file);
    json_t *doc = load_doc(path);
    json_t *cases = json_object_get(doc, "cases");
    size_t n = json_array_size(cases), ok = 0;
    check_close_stats st = {0};
    char first[600] = "";
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        check_tol buf;
        const check_tol *tol = check_tolerance_if_any(doc, c, &buf, name);
        json_t *want = json_deep_copy(json_object_get(c, "expected"));
        int warning = json_is_true(json_object_get(want, "warning"));
        json_object_del(want, "warning");
        json_t *got;
        bl_api_code code = run_doc(endpoint, json_object_get(c, "request"), &got);
        char why[400] = "";
        int good = code == BL_API_OK && check_json_close(want, got, tol, &st, why, sizeof why, "$");
        if (good && warning && !json_is_array(json_object_get(got, "warnings"))) {
            good = 0;
            snprintf(why, sizeof why, "no warnings for a non-finite result");
        }
        if (code != BL_API_OK)
            snprintf(why, sizeof why, "%s",
                     json_string_value(json_object_get(json_object_get(got, "error"), "message")));
        if (good)
            ok++;
        else if (!first[0])
            snprintf(first, sizeof first, "%s: %s", name, why);
        json_decref(want);
        json_decref(got);
    }
    printf("%s fixtures through the api: %zu/%zu matched (largest relative error %.3g)\n", endpoint,
           ok, n, st.worst_rel);
    json_decref(doc);
    ck_assert_msg(n > 0, "no cases in %s", path);
    ck_assert_msg(ok == n, "%zu of %zu %s fixtures differ; first: %s", n - ok, n, endpoint, first);
}

START_TEST(weights_fixtures) { run_fixtures("weights_cases.json", "weights"); }
END_TEST

START_TEST(loss_fixtures) { run_fixtures("loss_cases.json", "loss"); }
END_TEST

START_TEST(sample_fixtures) { run_fixtures("sample_cases.json", "sample"); }
END_TEST

/* ---- data-driven cases ----------------------------------------------------------- */

static json_t *api_cases_root, *api_cases;

/* A case's body given as hex ("body_hex"): bytes that no JSON string holds,
 * e.g. the 0x93 that starts a .npy file. NUL-terminated. */
static char *from_hex(const char *hex)
{
    size_t n = strlen(hex) / 2;
    char *b = malloc(n + 1);
    for (size_t i = 0; b && i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (char)v;
    }
    if (b)
        b[n] = '\0';
    return b;
}

/* An error answer against its case: the code, the field (null: none) and a
 * fragment of the message, all three required of every error case. */
static void check_error(const char *name, json_t *expect, json_t *err, const char *want_code)
{
    json_t *field = json_object_get(expect, "field");
    json_t *frag = json_object_get(expect, "message_contains");
    ck_assert_msg(field && (json_is_null(field) || json_is_string(field)),
                  "%s: an error case names its \"field\" (null: none)", name);
    ck_assert_msg(json_is_string(frag) && json_string_length(frag) > 0,
                  "%s: an error case gives a \"message_contains\"", name);
    const char *message = json_string_value(json_object_get(err, "message"));
    ck_assert_msg(message, "%s: no error.message", name);
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), want_code);
    json_t *f = json_object_get(err, "field");
    if (json_is_null(field))
        ck_assert_msg(f == NULL, "%s: field %s, want none", name, json_string_value(f));
    else
        ck_assert_msg(f && strcmp(json_string_value(f), json_string_value(field)) == 0,
                      "%s: field %s, want %s", name, f ? json_string_value(f) : "(none)",
                      json_string_value(field));
    ck_assert_msg(strstr(message, json_string_value(frag)), "%s: message \"%s\" lacks \"%s\"", name,
                  message, json_string_value(frag));
}

START_TEST(api_case)
{
    json_t *c = json_array_get(api_cases, (size_t)_i);
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *endpoint = json_string_value(json_object_get(c, "endpoint"));
    json_t *body = json_object_get(c, "body");
    json_t *expect = json_object_get(c, "expect");
    const char *hex = json_string_value(json_object_get(c, "body_hex")); /* bytes, not text */
    char *text = hex                    ? from_hex(hex)
                 : json_is_string(body) ? strdup(json_string_value(body))
                                        : json_dumps(body, JSON_COMPACT);
    bl_api_config cfg = bl_api_config_default();
    json_t *limits = json_object_get(c, "limits");
    if (limits) {
        json_int_t v;
        if ((v = json_integer_value(json_object_get(limits, "max_items"))))
            cfg.limits.max_items = (size_t)v;
        if ((v = json_integer_value(json_object_get(limits, "max_samples"))))
            cfg.limits.max_samples = (size_t)v;
        if ((v = json_integer_value(json_object_get(limits, "max_elements"))))
            cfg.limits.max_elements = (size_t)v;
    }
    bl_api_result res;
    size_t len = hex ? strlen(hex) / 2 : strlen(text);
    bl_api_code code = bl_api_call(&cfg, endpoint, text, len, &res);
    free(text);
    ck_assert_ptr_nonnull(res.body);
    ck_assert_uint_eq(strlen(res.body), res.len);
    api_err pe;
    json_t *got = api_parse(res.body, res.len, &pe);
    ck_assert_msg(got != NULL, "%s: response is not JSON: %s", name, res.body);
    const char *want_code = json_string_value(json_object_get(expect, "code"));
    ck_assert_msg(strcmp(bl_api_code_name(code), want_code) == 0, "%s: got %s, want %s: %s", name,
                  bl_api_code_name(code), want_code, res.body);
    json_t *err = json_object_get(got, "error");
    if (code != BL_API_OK)
        check_error(name, expect, err, want_code);
    json_t *resp = json_object_get(expect, "response");
    if (resp) {
        char why[400];
        check_tol buf;
        const check_tol *tol = check_tolerance_if_any(api_cases_root, c, &buf, name);
        ck_assert_msg(check_json_close(resp, got, tol, NULL, why, sizeof why, "$"), "%s: %s in %s",
                      name, why, res.body);
    }
    json_t *absent = json_object_get(expect, "absent");
    size_t i;
    json_t *k;
    json_array_foreach(absent, i, k) ck_assert_msg(!json_object_get(got, json_string_value(k)),
                                                   "%s: unexpected %s", name, json_string_value(k));
    json_decref(got);
    free(res.body);
}
END_TEST

/* ---- cases that need C ----------------------------------------------------------------- */

static int fixed_entropy(void *ctx, uint64_t *out)
{
    *out = *(uint64_t *)ctx;
    return 0;
}

static int failing_entropy(void *ctx, uint64_t *out)
{
    (void)ctx;
    (void)out;
    return -1;
}

START_TEST(seed_from_entropy)
{
    uint64_t seed = 0xFFFFFFFFFFFFFFFFull;
    bl_api_config cfg = bl_api_config_default();
    cfg.entropy = fixed_entropy;
    cfg.entropy_ctx = &seed;
    const char *req = "{\"weights\": [1, 2, 3], \"num_samples\": 5}";
    bl_api_result a, b;
    ck_assert_int_eq(bl_api_call(&cfg, "sample", req, strlen(req), &a), BL_API_OK);
    /* A drawn seed comes back as an integer and, for JavaScript, as a string. */
    const char *extra = ",\"seed_string\":\"18446744073709551615\"";
    char *cut = strstr(a.body, "\"seed\":18446744073709551615,\"seed_string\"");
    ck_assert_msg(cut && strstr(cut, extra), "%s", a.body);
    cut = strstr(cut, extra);
    memmove(cut, cut + strlen(extra), strlen(cut + strlen(extra)) + 1);
    /* The returned seed replays the draw: the same answer, without seed_string. */
    const char *again =
        "{\"weights\": [1, 2, 3], \"num_samples\": 5, \"seed\": 18446744073709551615}";
    ck_assert_int_eq(bl_api_call(&cfg, "sample", again, strlen(again), &b), BL_API_OK);
    ck_assert_str_eq(a.body, b.body);
    free(b.body);
    /* As a string the seed replays it too, and comes back as a string. */
    const char *quoted =
        "{\"weights\": [1, 2, 3], \"num_samples\": 5, \"seed\": \"18446744073709551615\"}";
    ck_assert_int_eq(bl_api_call(&cfg, "sample", quoted, strlen(quoted), &b), BL_API_OK);
    const char *at = strstr(a.body, "\"seed\":");
    ck_assert_msg(strstr(b.body, "\"seed\":\"18446744073709551615\",\"epoch\""), "%s", b.body);
    ck_assert_msg(strncmp(a.body, b.body, (size_t)(at - a.body)) == 0, "%s vs %s", a.body, b.body);
    free(a.body);
    free(b.body);
    cfg.entropy = failing_entropy;
    ck_assert_int_eq(bl_api_call(&cfg, "sample", req, strlen(req), &a), BL_API_UNAVAILABLE);
    free(a.body);
    /* The OS source gives different seeds. */
    cfg = bl_api_config_default();
    ck_assert_int_eq(bl_api_call(&cfg, "sample", req, strlen(req), &a), BL_API_OK);
    ck_assert_int_eq(bl_api_call(&cfg, "sample", req, strlen(req), &b), BL_API_OK);
    ck_assert_str_ne(a.body, b.body);
    free(a.body);
    free(b.body);
}
END_TEST

START_TEST(doubles_round_trip)
{
    /* Every real written parses back to the same double. */
    double v[] = {0.1,    1.0,    1.0 / 3,
                  1e-300, 5e-324, 1.7976931348623157e308,
                  -2.5,   1e21,   123456789012345678.0};
    jw w;
    jw_init(&w);
    jw_doubles(&w, v, sizeof v / sizeof v[0]);
    size_t len;
    char *text = jw_take(&w, &len);
    json_t *arr = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(arr);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_msg(json_real_value(json_array_get(arr, i)) == v[i], "%s", text);
    ck_assert_msg(strstr(text, "0.1,") && strstr(text, "1.0,"), "not shortest: %s", text);
    json_decref(arr);
    free(text);
}
END_TEST

START_TEST(error_body_escapes)
{
    size_t len;
    char *b = bl_api_error_body("invalid_argument", "a \"quoted\"\n\x01 message", "x[\"k\"]", &len);
    json_t *doc = json_loads(b, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "message")),
                     "a \"quoted\"\n\x01 message");
    json_decref(doc);
    free(b);
    ck_assert_int_eq(bl_api_has_endpoint("loss"), 1);
    ck_assert_int_eq(bl_api_has_endpoint("healthz"), 0);
    size_t n;
    ck_assert_ptr_nonnull(strstr(bl_api_openapi(&n), "openapi: 3"));
    ck_assert_uint_gt(n, 100);
}
END_TEST

/* The endpoint enum and its name table agree: every bl_api_endpoint has a
 * distinct name that bl_api_call serves, and nothing else has one. */
START_TEST(endpoint_names)
{
    for (int i = 0; i < BL_API_EP_COUNT; i++) {
        const char *name = bl_api_endpoint_name(i);
        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(bl_api_has_endpoint(name), 1);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(bl_api_endpoint_name(j), name);
    }
    ck_assert_str_eq(bl_api_endpoint_name(BL_API_EP_WEIGHTS), "weights");
    ck_assert_str_eq(bl_api_endpoint_name(BL_API_EP_SAMPLE), "sample");
    ck_assert_str_eq(bl_api_endpoint_name(BL_API_EP_LOSS), "loss");
    ck_assert_ptr_null(bl_api_endpoint_name(-1));
    ck_assert_ptr_null(bl_api_endpoint_name(BL_API_EP_COUNT));
    ck_assert_int_eq(bl_api_has_endpoint(NULL), 0);
}
END_TEST

/* The fast number-array path reads every number exactly as strtod does:
 * random doubles of every magnitude in %.17g, %.15g and %g forms, and
 * short decimals that take Clinger's fast path. */
START_TEST(fast_arrays_read_exactly)
{
    enum { N = 20000 };
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char *body = malloc((size_t)N * 40 + 64);
    double *want = malloc(N * sizeof *want);
    size_t len = (size_t)sprintf(body, "{\"weights\": [");
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        char tok[48];
        switch (i % 4) {
        case 0: /* any finite double */
            do {
                uint64_t bits = x & 0x7fffffffffffffffull;
                memcpy(&v, &bits, sizeof v);
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            } while (!isfinite(v));
            snprintf(tok, sizeof tok, "%.17g", v);
            break;
        case 1:
            snprintf(tok, sizeof tok, "%.15g", (double)(x >> 11) * 0x1p-53 * 1e3);
            break;
        case 2:
            snprintf(tok, sizeof tok, "%llu.%03llu", (unsigned long long)(x % 100000),
                     (unsigned long long)(x >> 40) % 1000);
            break;
        default:
            snprintf(tok, sizeof tok, "%lluE-%llu", (unsigned long long)(x % 1000000007),
                     (unsigned long long)(x >> 50) % 330);
        }
        want[i] = strtod(tok, NULL);
        len += (size_t)sprintf(body + len, "%s%s", i ? ", " : "", tok);
    }
    len += (size_t)sprintf(body + len, "]}");
    api_arrays fa;
    memset(&fa, 0, sizeof fa);
    api_err e;
    json_t *doc = api_parse_request(body, len, &fa, &e);
    ck_assert_msg(doc != NULL, "%s", e.message);
    ck_assert_uint_eq(fa.narr, 1);
    ck_assert_uint_eq(fa.arr[0].len, N);
    ck_assert_int_eq(fa.arr[0].all_integers, 0);
    for (int i = 0; i < N; i++)
        ck_assert_msg(memcmp(&fa.vals[i], &want[i], sizeof want[i]) == 0,
                      "number %d: %.17g read as %.17g", i, want[i], fa.vals[i]);
    json_decref(doc);
    api_arrays_free(&fa);
    free(body);
    free(want);
}
END_TEST

/* The forms' defaults are libballast's (bl_weights_opts_default,
 * bl_loss_args_default); their rules and "only with" rows name fields of
 * their own table. */
static const field_spec *row(const api_form *form, const char *name)
{
    for (const field_spec *f = form->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    ck_abort_msg("%s has no field %s", form->endpoint, name);
    return NULL;
}

START_TEST(form_defaults_are_the_library_defaults)
{
    bl_weights_opts o = bl_weights_opts_default();
    ck_assert_int_eq(row(&api_weights_form, "scheme")->def.i, o.scheme);
    ck_assert(row(&api_weights_form, "beta")->def.d == o.beta);
    ck_assert(row(&api_weights_form, "c")->def.d == o.c);
    ck_assert_int_eq(row(&api_weights_form, "normalize")->def.i, o.normalize);
    ck_assert_int_eq(row(&api_weights_form, "zero_counts")->def.i, o.zero_counts_allowed);
    bl_loss_args a = bl_loss_args_default();
    ck_assert_int_eq(row(&api_loss_form, "loss")->def.i, a.loss);
    ck_assert_int_eq(row(&api_loss_form, "reduction")->def.i, a.reduction);
    ck_assert_int_eq(row(&api_loss_form, "ignore_index")->def.i, a.ignore_index);
    ck_assert(row(&api_loss_form, "label_smoothing")->def.d == a.label_smoothing);
    ck_assert(row(&api_loss_form, "gamma")->def.d == a.gamma);
    ck_assert(row(&api_loss_form, "alpha")->def.d == a.alpha);
    const api_form *forms[] = {&api_weights_form, &api_sample_form, &api_loss_form};
    for (size_t k = 0; k < 3; k++) {
        for (const field_spec *f = forms[k]->fields; f->name; f++)
            if (f->only.field)
                ck_assert_int_eq(row(forms[k], f->only.field)->type, FT_ENUM);
        for (const field_rule *r = forms[k]->rules; r && r->a; r++) {
            row(forms[k], r->a);
            row(forms[k], r->b);
        }
    }
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, api_case, 0, (int)json_array_size(api_cases));
    tcase_add_test(tc, seed_from_entropy);
    tcase_add_test(tc, doubles_round_trip);
    tcase_add_test(tc, error_body_escapes);
    tcase_add_test(tc, endpoint_names);
    tcase_add_test(tc, fast_arrays_read_exactly);
    tcase_add_test(tc, form_defaults_are_the_library_defaults);
    suite_add_tcase(s, tc);
    TCase *fx = tcase_create("fixtures");
    tcase_set_timeout(fx, 300);
    tcase_add_test(fx, weights_fixtures);
    tcase_add_test(fx, loss_fixtures);
    tcase_add_test(fx, sample_fixtures);
    suite_add_tcase(s, fx);
    return s;
}

int main(void)
{
    const char *cases = getenv("BALLAST_API_CASES");
    const char *path = cases ? cases : "tests/cases/api_cases.json";
    size_t len;
    char *text = read_file(path, &len);
    api_err e = {BL_API_OK, "", ""};
    api_cases_root = text ? api_parse(text, len, &e) : NULL;
    free(text);
    if (!api_cases_root) {
        fprintf(stderr, "test_api: cannot load %s: %s\n", path, e.message);
        return 1;
    }
    api_cases = json_object_get(api_cases_root, "cases");
    int rc = check_run(api_suite());
    json_decref(api_cases_root);
    return rc;
}
