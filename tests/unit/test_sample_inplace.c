/*
 * test_sample_inplace.c — the fast alias table built in place and the
 * zero-copy .npy answer of /sample (lib/sample.c, api/sample.c, api/emit.c).
 *
 * What is checked, and against what:
 *   - bl_sample_window and bl_sample_window_inplace draw exactly what a
 *     reference does: Vose's alias method with its two stacks (small and
 *     large columns pushed in index order, a large that falls below 1 moved
 *     to the top of the small stack), keep = floor(p 2^32), and one output
 *     of the fast stream per draw (version 1: xoshiro256** read in order;
 *     version 2: bl_counter_at of the draw's position) — over weights of
 *     many shapes (zeros, ties, tiny, subnormal, one heavy), both versions
 *     and windows of shares;
 *   - bl_sample_window_inplace leaves w untouched when it refuses it, and
 *     for the other generators and without replacement answers as
 *     bl_sample_window;
 *   - through the api, a .npy weights part answered as .npy is the same to
 *     the byte whether the parts are writable (worked on in place, the
 *     answer written in place) or not, aligned or not, and as multipart and
 *     JSON; a bad weight in a writable part is refused as before.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ballast.h"
#include "check_main.h"

static uint64_t lcg_state = 0x853c49e6748fea9bULL;
static double urand(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1p-53;
}

/* The reference table: Vose's stacks, as README's "The fast stream" tells. */
static void ref_table(const double *w, size_t n, uint32_t *keep, uint32_t *alias)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double *p = malloc(n * sizeof *p);
    size_t *small = malloc(n * sizeof *small), *large = malloc(n * sizeof *large);
    size_t ns = 0, nl = 0;
    ck_assert(p && small && large);
    for (size_t i = 0; i < n; i++) {
        p[i] = w[i] > 0 ? w[i] / sum * (double)n : 0;
        alias[i] = (uint32_t)i;
        if (p[i] < 1)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        size_t s = small[--ns], l = large[nl - 1];
        alias[s] = (uint32_t)l;
        p[l] -= 1 - p[s];
        if (p[l] < 1) {
            nl--;
            small[ns++] = l;
        }
    }
    while (ns)
        p[small[--ns]] = 1;
    while (nl)
        p[large[--nl]] = 1;
    for (size_t i = 0; i < n; i++) {
        double k = floor(p[i] * 0x1p32);
        keep[i] = k >= 0x1p32 - 1 ? UINT32_MAX : k <= 0 ? 0 : (uint32_t)k;
    }
    free(p);
    free(small);
    free(large);
}

/* The reference draws of the window of o (sequential stream for version 1). */
static void ref_draw(const double *w, size_t n, size_t k, const bl_sample_opts *o, int64_t *out,
                     size_t len)
{
    uint32_t *keep = malloc(n * sizeof *keep), *alias = malloc(n * sizeof *alias);
    uint64_t *r = malloc(k * sizeof *r);
    ck_assert(keep && alias && r);
    ref_table(w, n, keep, alias);
    bl_xoshiro x;
    bl_counter c;
    bl_xoshiro_seed(&x, o->seed, o->epoch);
    bl_counter_seed(&c, o->seed, o->epoch);
    for (size_t d = 0; d < k; d++)
        r[d] = o->fast_version == 1 ? bl_xoshiro_next(&x) : bl_counter_at(&c, d);
    int64_t *all = malloc(k * sizeof *all), *share = malloc(k * sizeof *share);
    ck_assert(all && share);
    for (size_t d = 0; d < k; d++) {
        unsigned __int128 prod = (unsigned __int128)r[d] * (uint64_t)n;
        uint32_t col = (uint32_t)(prod >> 64), u = (uint32_t)((uint64_t)prod >> 32);
        all[d] = u < keep[col] ? col : alias[col];
    }
    size_t m = 0;
    bl_error e;
    ck_assert_int_eq(bl_shard(all, k, o->world_size, o->rank, share, &m, &e), BL_OK);
    ck_assert_uint_ge(m, o->offset + len);
    memcpy(out, share + o->offset, len * sizeof *out);
    free(keep);
    free(alias);
    free(r);
    free(all);
    free(share);
}

/* Weights of shape `kind`, n of them. */
static void make_weights(int kind, double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double u = urand();
        switch (kind) {
        case 0:
            w[i] = u;
            break; /* uniform */
        case 1:
            w[i] = u < 0.5 ? 0 : u;
            break; /* half zeros */
        case 2:
            w[i] = 1;
            break; /* all equal */
        case 3:
            w[i] = u < 0.01 ? 1000 * u : 1e-3 * u;
            break; /* a few heavy */
        case 4:
            w[i] = (double)(1 + (int)(u * 3));
            break; /* ties */
        case 5:
            w[i] = u < 0.3 ? 4.9e-324 : u * 1e-300;
            break; /* subnormal, tiny */
        case 6:
            w[i] = i == n / 2 ? 1 : 0;
            break; /* one item */
        default:
            w[i] = i % 7 == 0 ? 0.1 : 0.7;
            break; /* sums that round */
        }
    }
    if (kind == 5 || kind == 1)
        w[0] = kind == 5 ? 1e-300 : 0.5;
}

START_TEST(test_inplace_matches_reference)
{
    static const size_t sizes[] = {1, 2, 3, 7, 64, 65, 130, 1000, 4099};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int version = 1; version <= 2; version++) {
            size_t n = sizes[si], k = 2 * n + 3;
            double *w = malloc(n * sizeof *w), *copy = malloc(n * sizeof *copy);
            int64_t *want = malloc(k * sizeof *want), *got = malloc(k * sizeof *got);
            ck_assert(w && copy && want && got);
            make_weights(_i, w, n);
            static const size_t ws_ranks[][2] = {{1, 0}, {3, 2}};
            for (size_t wr = 0; wr < 2; wr++) {
                bl_sample_opts o = bl_sample_opts_default();
                o.fast_version = version;
                o.seed = 1000 + (uint64_t)_i;
                o.epoch = si;
                o.world_size = ws_ranks[wr][0];
                o.rank = ws_ranks[wr][1];
                o.offset = wr;
                size_t len = 0, len2 = 0;
                bl_error e;
                ck_assert_int_eq(bl_sample_window_size(k, &o, &len, &e), BL_OK);
                ref_draw(w, n, k, &o, want, len);
                ck_assert_int_eq(bl_sample_window(w, n, k, &o, got, &len2, &e), BL_OK);
                ck_assert_uint_eq(len2, len);
                ck_assert_mem_eq(got, want, len * sizeof *got);
                memcpy(copy, w, n * sizeof *w);
                memset(got, 0xff, k * sizeof *got);
                ck_assert_int_eq(bl_sample_window_inplace(copy, n, k, &o, got, &len2, &e), BL_OK);
                ck_assert_uint_eq(len2, len);
                ck_assert_mem_eq(got, want, len * sizeof *got);
            }
            free(w);
            free(copy);
            free(want);
            free(got);
        }
}
END_TEST

START_TEST(test_inplace_refusal_and_other_draws)
{
    double w[5] = {1, 2, -1, 4, 5}, copy[5];
    int64_t out[8];
    bl_error e;
    bl_sample_opts o = bl_sample_opts_default();
    memcpy(copy, w, sizeof w);
    ck_assert_int_eq(bl_sample_window_inplace(copy, 5, 8, &o, out, NULL, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "weights");
    ck_assert_int_eq(e.index, 2);
    ck_assert_mem_eq(copy, w, sizeof w);
    w[2] = 3;
    /* torch with and without replacement, fast without: as bl_sample_window */
    for (int g = 0; g < 2; g++)
        for (int repl = 0; repl < 2; repl++) {
            int64_t want[4], got[4];
            o = bl_sample_opts_default();
            o.generator = g ? BL_GENERATOR_TORCH : BL_GENERATOR_FAST;
            o.replacement = repl;
            o.seed = 5;
            memcpy(copy, w, sizeof w);
            ck_assert_int_eq(bl_sample_window(w, 5, 4, &o, want, NULL, &e), BL_OK);
            ck_assert_int_eq(bl_sample_window_inplace(copy, 5, 4, &o, got, NULL, &e), BL_OK);
            ck_assert_mem_eq(got, want, sizeof got);
        }
}
END_TEST

/* A .npy of n float64 from w, at `shift` bytes into a fresh buffer. */
static unsigned char *npy_f8(const double *w, size_t n, size_t shift, size_t *len)
{
    char h[128];
    int hl =
        snprintf(h, sizeof h, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t head = 128;
    memset(h + hl, ' ', head - 10 - (size_t)hl - 1);
    h[head - 10 - 1] = '\n';
    unsigned char *b = malloc(shift + head + n * 8);
    ck_assert(b);
    unsigned char *p = b + shift;
    memcpy(p, "\x93NUMPY\x01\x00", 8);
    p[8] = (unsigned char)(head - 10);
    p[9] = 0;
    memcpy(p + 10, h, head - 10);
    memcpy(p + head, w, n * 8);
    *len = head + n * 8;
    return b;
}

static bl_api_result call(const unsigned char *part, size_t len, int writable, bl_api_format fmt,
                          const char *doc)
{
    bl_api_config cfg = bl_api_config_default();
    cfg.parts_writable = writable;
    bl_api_part parts[2] = {{"weights", part, len}, {"request", doc, strlen(doc)}};
    bl_api_request req = {NULL, 0, parts, 2, fmt};
    bl_api_result r;
    bl_api_handle(&cfg, "sample", &req, &r);
    return r;
}

START_TEST(test_api_inplace_same_bytes)
{
    size_t n = 3001, len = 0;
    double *w = malloc(n * sizeof *w);
    ck_assert(w);
    make_weights(0, w, n);
    static const char *const docs[] = {
        "{\"seed\": 7}", "{\"seed\": 7, \"fast_version\": 1}",
        "{\"seed\": 7, \"num_samples\": 10, \"offset\": 3}",
        "{\"seed\": 7, \"generator\": \"torch\"}",
        "{\"seed\": 7, \"replacement\": false, \"num_samples\": 50}"};
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++)
        for (int fmt = BL_API_JSON; fmt <= BL_API_MULTIPART; fmt++) {
            unsigned char *ro = npy_f8(w, n, 0, &len);
            bl_api_result want = call(ro, len, 0, (bl_api_format)fmt, docs[d]);
            ck_assert_int_eq(want.code, BL_API_OK);
            for (size_t shift = 0; shift < 8; shift += 3) {
                unsigned char *rw = npy_f8(w, n, shift, &len);
                bl_api_result got = call(rw + shift, len, 1, (bl_api_format)fmt, docs[d]);
                ck_assert_int_eq(got.code, BL_API_OK);
                ck_assert_uint_eq(got.len, want.len);
                ck_assert_mem_eq(got.body, want.body, want.len);
                ck_assert_uint_eq(got.nmeta, want.nmeta);
                ck_assert_str_eq(got.content_type, want.content_type);
                free(got.body);
                free(rw);
            }
            ck_assert_mem_eq(ro + 128, w, n * 8); /* read-only parts are left as they are */
            free(want.body);
            free(ro);
        }
    /* a bad weight in a writable part: refused, naming it */
    w[17] = -1;
    unsigned char *rw = npy_f8(w, n, 1, &len);
    bl_api_result bad = call(rw + 1, len, 1, BL_API_NPY, "{\"seed\": 7}");
    ck_assert_int_eq(bad.code, BL_API_INVALID_ARGUMENT);
    ck_assert_str_eq(bad.error_field, "weights[17]");
    free(bad.body);
    free(rw);
    free(w);
}
END_TEST

static Suite *inplace_suite(void)
{
    Suite *s = suite_create("sample_inplace");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_inplace_matches_reference, 0, 8);
    tcase_add_test(tc, test_inplace_refusal_and_other_draws);
    tcase_add_test(tc, test_api_inplace_same_bytes);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(inplace_suite)
