/*
 * test_estimate.c — api/estimate.c's price of a JSON body (bl_api_estimate):
 * the prices of its header comment on small documents worked by hand, the
 * price against what jansson allocates (counted) parsing documents made of
 * one kind of token, and
 * the one-pass scan (a table lookup per byte, numbers skipped eight digits
 * at a time) against the plain byte-by-byte scan it replaced, kept below
 * as the reference, on hostile fragments and 300000 random documents made
 * of JSON's characters (a third without quotes): the same cost and the same
 * work bound, byte for byte of every input.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check_main.h"
#include "internal.h"

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
static size_t sat_mul(size_t a, size_t b) { return a && b > SIZE_MAX / a ? SIZE_MAX : a * b; }

/* ---- the reference: one byte at a time ---------------------------------- */

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t bs = 0;
        while (q - (ptrdiff_t)bs - 1 >= p && q[-(ptrdiff_t)bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q;
    }
    return end;
}

static int contains(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; len >= n && i <= len - n; i++)
        if (memcmp(p + i, s, n) == 0)
            return 1;
    return 0;
}

static int is_number_start(char c) { return (c >= '0' && c <= '9') || c == '-'; }

static int is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* The value of an integer literal (saturating), 0 for a real. */
static size_t integer_value(const char *p, const char *end)
{
    size_t v = 0;
    if (p < end && *p == '-')
        p++;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        size_t d = (size_t)(*p - '0');
        v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
    }
    return v;
}

/* jansson's price of a JSON text, plus what its numbers cost decoded; the
 * work bound grows to the count of numbers and to every integer's value
 * (a count such as num_samples bounds the work it asks for). A document
 * that names the stream "continued" asks for a replay of epoch times
 * num_samples (or items) draws before its own: the work bound grows to the
 * product of its two largest integers, and of the largest and the count of
 * numbers (README, "Continued streams and windows"). */
static size_t reference_cost(const char *p, size_t len, size_t *work)
{
    const char *doc = p, *end = p + len;
    size_t cost = 0, numbers = 0, top1 = 0, top2 = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            const char *q = skip_string(p, end);
            cost = sat_add(cost, API_PRICE_STRING + API_PRICE_STRING_COPIES * (size_t)(q - p));
            p = q;
        } else if (is_number_start(c)) {
            const char *start = p;
            while (p < end && is_number_char(*p))
                p++;
            cost = sat_add(cost, API_PRICE_NUMBER + API_PRICE_DECODED);
            numbers++;
            size_t v = integer_value(start, p);
            if (v > *work)
                *work = v;
            if (v > top1) {
                top2 = top1;
                top1 = v;
            } else if (v > top2) {
                top2 = v;
            }
        } else {
            switch (c) {
            case '[':
                cost = sat_add(cost, API_PRICE_ARRAY);
                break;
            case '{':
                cost = sat_add(cost, API_PRICE_OBJECT);
                break;
            case ':':
                cost = sat_add(cost, API_PRICE_MEMBER);
                break;
            case 't':
            case 'f':
            case 'n':
                cost = sat_add(cost, API_PRICE_LITERAL);
                break;
            default:
                break;
            }
            p++;
        }
    }
    if (numbers > *work)
        *work = numbers;
    if (contains(doc, len, "\"continued\"")) {
        size_t replay = sat_mul(top1, top2 > numbers ? top2 : numbers);
        if (replay > *work)
            *work = replay;
    }
    return cost;
}

/* ---- the checks ------------------------------------------------------------- */

static size_t estimate(const char *doc, size_t len, size_t *work)
{
    bl_api_request req = {.json = doc, .json_len = len};
    *work = 0;
    return bl_api_estimate("loss", &req, work);
}

/* The same cost and work as the reference; and the same cost when no
 * work bound is asked for (the scan in blocks of 64 bytes). */
static void same_as_reference(const char *doc, size_t len)
{
    size_t w_ref = 0, w = 0;
    size_t c_ref = sat_add(API_PRICE_BASE_COST, reference_cost(doc, len, &w_ref));
    size_t c = estimate(doc, len, &w);
    bl_api_request req = {.json = doc, .json_len = len};
    size_t c_blocks = bl_api_estimate("loss", &req, NULL);
    ck_assert_msg(c == c_ref && w == w_ref && c_blocks == c_ref,
                  "\"%.*s\" (%zu bytes): cost %zu work %zu, without work %zu; reference %zu %zu",
                  (int)(len > 200 ? 200 : len), doc, len, c, w, c_blocks, c_ref, w_ref);
}

START_TEST(test_prices_by_hand)
{
    size_t w;
    /* {"a":[1,2]}: an object, a 3-byte string, a member, an array, two numbers */
    const char *d1 = "{\"a\":[1,2]}";
    ck_assert_uint_eq(estimate(d1, strlen(d1), &w),
                      API_PRICE_BASE_COST + API_PRICE_OBJECT + API_PRICE_STRING +
                          API_PRICE_STRING_COPIES * 3 + API_PRICE_MEMBER + API_PRICE_ARRAY +
                          2 * (API_PRICE_NUMBER + API_PRICE_DECODED));
    ck_assert_uint_eq(w, 2); /* two numbers, the largest integer 2 */
    /* literals; a real and a negative integer are worth 0 as counts */
    const char *d2 = "[true,false,null,-7,2.5e3]";
    ck_assert_uint_eq(estimate(d2, strlen(d2), &w), API_PRICE_BASE_COST + API_PRICE_ARRAY +
                                                        3 * API_PRICE_LITERAL +
                                                        2 * (API_PRICE_NUMBER + API_PRICE_DECODED));
    ck_assert_uint_eq(w, 7); /* "-7" counts as 7: the magnitude bounds the work */
    const char *d3 = "{\"num_samples\": 123456789012}";
    estimate(d3, strlen(d3), &w);
    ck_assert_uint_eq(w, 123456789012u);
    /* a continued stream: the product of the two largest integers */
    const char *d4 =
        "{\"stream\":\"continued\",\"epoch\":1000,\"num_samples\":5000,\"weights\":[1,2]}";
    estimate(d4, strlen(d4), &w);
    ck_assert_uint_eq(w, 5000u * 1000u);
    /* digits beyond 2^64 saturate */
    const char *d5 = "[123456789012345678901234567890]";
    estimate(d5, strlen(d5), &w);
    ck_assert_uint_eq(w, SIZE_MAX);
}
END_TEST

static const char *const fragments[] = {
    "hostile and plain fragments:",
    "0",
    "1",
    "9",
    "42",
    "-",
    "+",
    ".",
    "e",
    "E",
    "-0",
    "0.5",
    "1e5",
    "-1.25e-3",
    "2E+8",
    "12345678",
    "123456789",
    "1234567890123456789",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "00000000000000000000000001",
    "\"",
    "\\",
    "\\\"",
    "\"a\"",
    "\"x\\\"y\"",
    "\"continued\"",
    "\"stream\"",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    " ",
    ", ",
    "\n",
    "t",
    "f",
    "n",
    "true",
    "false",
    "null",
    "x",
    "--5",
    "5-3",
    "1.2.3",
    "e5",
    ".5",
    "-.",
    "1e",
    "\xff",
    "\x80",
    "\0",
};
enum { NFRAG = sizeof fragments / sizeof fragments[0] };

START_TEST(test_fragments)
{
    for (int i = 1; i < NFRAG; i++) {
        same_as_reference(fragments[i], strlen(fragments[i]) + (fragments[i][0] == '\0'));
        for (int j = 1; j < NFRAG; j++) {
            char doc[128];
            int n = snprintf(doc, sizeof doc, "%s%s", fragments[i], fragments[j]);
            same_as_reference(doc, (size_t)n);
        }
    }
}
END_TEST

/* Random documents: fragments joined, and bytes of JSON's alphabet, with
 * every length up to 600 (the eight-byte steps and the 64-byte blocks meet
 * every end). */
START_TEST(test_random_documents)
{
    static const char alphabet[] = "0123456789-+.eE\"\\[]{}:, tfnx";
    uint64_t s = 0x9e3779b97f4a7c15u;
    char *doc = malloc(4096);
    ck_assert_ptr_nonnull(doc);
    for (int t = 0; t < 300000; t++) {
        size_t len = 0, want;
        s = s * 6364136223846793005u + 1442695040888963407u;
        want = (size_t)(s >> 33) % 600;
        while (len < want) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            unsigned r = (unsigned)(s >> 40);
            if (t % 3 == 2) { /* no quotes: every block of 64 is counted at once */
                doc[len++] =
                    r % 4 ? "0123456789-+.eE ,[]tfnx"[r % 23] : "0123456789"[(r >> 8) % 10];
            } else if (t % 3 == 1) {
                const char *f = fragments[1 + r % (NFRAG - 1)];
                size_t fl = strlen(f);
                memcpy(doc + len, f, fl);
                len += fl;
            } else {
                doc[len++] =
                    r % 8 ? "0123456789"[r % 10] : alphabet[(r >> 8) % (sizeof alphabet - 1)];
            }
        }
        same_as_reference(doc, len);
    }
    free(doc);
}
END_TEST

/* A long body of the kind the scan is fast for: the same as the reference. */
START_TEST(test_long_arrays)
{
    size_t cap = 1 << 20, len = 0;
    char *doc = malloc(cap);
    ck_assert_ptr_nonnull(doc);
    len += (size_t)sprintf(doc, "{\"logits\": [[");
    for (int i = 0; len < cap - 64; i++)
        len += (size_t)sprintf(doc + len, "%s%.17g", i % 10 ? ", " : "], [",
                               (i % 7 - 3) * 1.37e-3 * i);
    len += (size_t)sprintf(doc + len, "]], \"targets\": [1, 2, 30000000]}");
    same_as_reference(doc, len);
    free(doc);
}
END_TEST

/* jansson's allocations, counted: every byte it asks for while parsing
 * (frees not subtracted, so a bound of its peak too). */
static size_t allocated;

static void *counting_malloc(size_t n)
{
    allocated += n;
    return malloc(n);
}

/* Documents of 2000 tokens of one kind each (and the structure around
 * them): the estimate is at least what jansson allocated for the tree. */
START_TEST(test_jansson_fits)
{
    static const char *const token[] = {"1.5",       "123456",
                                        "true",      "null",
                                        "\"label\"", "\"a longer string, with \\\" an escape\"",
                                        "[]",        "[0]",
                                        "{}",        "{\"k\":1}"};
    int kind = _i;
    size_t cap = 1 << 17, len = 0;
    char *doc = malloc(cap);
    ck_assert_ptr_nonnull(doc);
    len += (size_t)sprintf(doc, "{\"x\": [");
    for (int i = 0; i < 2000; i++)
        len += (size_t)sprintf(doc + len, "%s%s", i ? "," : "", token[kind]);
    len += (size_t)sprintf(doc + len, "], \"y\": {\"a\": %s}}", token[kind]);
    json_set_alloc_funcs(counting_malloc, free);
    allocated = 0;
    json_error_t err;
    json_t *j = json_loadb(doc, len, 0, &err);
    size_t used = allocated;
    json_set_alloc_funcs(malloc, free);
    ck_assert_msg(j != NULL, "%s", err.text);
    json_decref(j);
    size_t w;
    size_t price = estimate(doc, len, &w) - API_PRICE_BASE_COST;
    ck_assert_msg(price >= used, "%s: priced %zu, jansson allocated %zu", token[kind], price, used);
    free(doc);
}
END_TEST

/* Documents where every byte is the same token ('[', '{', ':', 't', digits
 * and the rest): the block scan counts them in byte lanes, which must not
 * wrap however long the run. */
START_TEST(test_dense_tokens)
{
    static const char fill[] = "[{:tfn1-.e ,";
    size_t len = 70000;
    char *doc = malloc(len);
    ck_assert_ptr_nonnull(doc);
    memset(doc, fill[_i], len);
    same_as_reference(doc, len);
    for (size_t i = 0; i < len; i += 2)
        doc[i] = ' ';
    same_as_reference(doc, len);
    free(doc);
}
END_TEST

static Suite *estimate_suite(void)
{
    Suite *s = suite_create("estimate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_prices_by_hand);
    tcase_add_test(tc, test_fragments);
    tcase_add_test(tc, test_random_documents);
    tcase_add_test(tc, test_long_arrays);
    tcase_add_loop_test(tc, test_jansson_fits, 0, 10);
    tcase_add_loop_test(tc, test_dense_tokens, 0, 12);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(estimate_suite)
