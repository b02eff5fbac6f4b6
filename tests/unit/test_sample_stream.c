/*
 * test_sample_stream.c — unit tests of the continued stream, windows and
 * the fast stream's version 2 (lib/sample.c, lib/rng.c): bl_mt19937_skip,
 * bl_counter_*, bl_sample_opts, bl_sample_window_size, bl_sample_window
 * and bl_sample_replay (README, "Continued streams and windows").
 *
 * What is checked, and against what:
 *   - skipping MT19937 outputs leaves the state where reading them does;
 *   - every window (offset, count) of every share (world_size, rank) of
 *     small draws, for both generators, both fast versions, both streams,
 *     with and without replacement, is the slice of the whole draw sharded
 *     by bl_shard (exhaustively over small cases);
 *   - the continued stream's epoch e is the draw of a generator advanced by
 *     e epochs' outputs read one by one (the PyTorch fixtures of
 *     tests/conformance/sample_cases.json check it against PyTorch);
 *   - fast version 1 through the options is bl_sample's stream; version 2
 *     is pinned by golden values and follows the weights (chi-square);
 *   - a window far into a huge draw costs O(count) with fast version 2;
 *   - replaying epoch 100 of 10^6 draws with the continued stream is timed
 *     (README quotes the figure) and must stay under 3 s here;
 *   - bad options are BL_EINVAL naming the option.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ballast.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* As test_sample.c: no Check checkpoint per passing assertion in loops. */
#define CHECK_MSG(cond, ...)                                                                  \
    do {                                                                                      \
        if (!(cond))                                                                          \
            ck_abort_msg(__VA_ARGS__);                                                        \
    } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

START_TEST(test_mt_skip_equals_reading)
{
    const uint64_t counts[] = {0, 1, 2, 396, 397, 623, 624, 625, 1247, 1248, 5000, 100003};
    for (size_t c = 0; c < NELEM(counts); c++)
        for (int start = 0; start < 3; start++) {
            bl_mt19937 a, b;
            bl_mt19937_seed(&a, 12345 + (uint64_t)start);
            bl_mt19937_seed(&b, 12345 + (uint64_t)start);
            for (int i = 0; i < start * 300; i++) { /* skip from mid-block too */
                bl_mt19937_next(&a);
                bl_mt19937_next(&b);
            }
            for (uint64_t i = 0; i < counts[c]; i++)
                bl_mt19937_next(&a);
            bl_mt19937_skip(&b, counts[c]);
            for (int i = 0; i < 1500; i++) {
                uint32_t x = bl_mt19937_next(&a), y = bl_mt19937_next(&b);
                CHECK_MSG(x == y, "skip %llu from %d: output %d is %u, reading gives %u",
                          (unsigned long long)counts[c], start * 300, i, y, x);
            }
        }
}
END_TEST

/* The whole draw (no window, no shard) of the options o. */
static void full_draw(const double *w, size_t n, size_t k, bl_sample_opts o, int64_t *out)
{
    bl_error e;
    size_t len = 0;
    o.world_size = 1;
    o.rank = 0;
    o.offset = 0;
    o.count = SIZE_MAX;
    ck_assert_int_eq(bl_sample_window(w, n, k, &o, out, &len, &e), BL_OK);
    ck_assert_uint_eq(len, k);
}

/* Every (world_size, rank, offset, count) of a draw of k against the slice
 * of bl_shard's share of the full draw; returns the windows checked. */
static size_t check_windows(const double *w, size_t n, size_t k, bl_sample_opts o,
                            const char *what)
{
    int64_t full[64], share[64], got[64];
    size_t checked = 0;
    bl_error e;
    full_draw(w, n, k, o, full);
    for (size_t ws = 1; ws <= 4; ws++)
        for (size_t rank = 0; rank < ws; rank++) {
            size_t m = 0;
            ck_assert_int_eq(bl_shard(full, k, ws, rank, share, &m, &e), BL_OK);
            for (size_t off = 0; off <= m; off++)
                for (size_t cnt = 0; cnt <= m - off + 1; cnt++) {
                    bl_sample_opts ow = o;
                    ow.world_size = ws;
                    ow.rank = rank;
                    ow.offset = off;
                    ow.count = cnt;
                    size_t len = 99, want = cnt < m - off ? cnt : m - off;
                    memset(got, 0xff, sizeof got);
                    bl_status rc = bl_sample_window(w, n, k, &ow, got, &len, &e);
                    CHECK_MSG(rc == BL_OK, "%s: %s", what, e.message);
                    CHECK_MSG(len == want, "%s k=%zu ws=%zu rank=%zu [%zu,+%zu): %zu indices, "
                              "not %zu", what, k, ws, rank, off, cnt, len, want);
                    for (size_t j = 0; j < len; j++)
                        CHECK_MSG(got[j] == share[off + j],
                                  "%s k=%zu ws=%zu rank=%zu offset %zu count %zu: index %zu is "
                                  "%lld, the slice has %lld",
                                  what, k, ws, rank, off, cnt, j, (long long)got[j],
                                  (long long)share[off + j]);
                    checked++;
                }
        }
    return checked;
}

START_TEST(test_windows_are_slices)
{
    const double weights[][7] = {{1, 2, 3, 4, 5, 6, 7},
                                 {0, 3, 0, 1, 0.5, 0, 2},
                                 {1e-300, 1, 1e300, 0, 7, 7, 7}};
    size_t total = 0;
    for (size_t wi = 0; wi < NELEM(weights); wi++)
        for (int g = 0; g < 3; g++) /* fast 1, fast 2, torch */
            for (int repl = 0; repl <= 1; repl++)
                for (int stream = 0; stream <= (g == 2); stream++)
                    for (size_t k = 1; k <= (repl ? 11u : 4u); k++)
                        for (uint64_t seed = 0; seed < 3; seed++) {
                            bl_sample_opts o = bl_sample_opts_default();
                            o.generator = g == 2 ? BL_GENERATOR_TORCH : BL_GENERATOR_FAST;
                            o.fast_version = g == 0 ? 1 : 2;
                            o.replacement = repl;
                            o.stream = stream ? BL_STREAM_CONTINUED : BL_STREAM_PER_EPOCH;
                            o.seed = seed * 0x100000001ull + (seed == 2 ? UINT64_MAX - 3 : 0);
                            o.epoch = seed + 1;
                            char what[64];
                            snprintf(what, sizeof what, "w%zu gen%d repl%d stream%d", wi, g, repl,
                                     stream);
                            total += check_windows(weights[wi], 7, k, o, what);
                        }
    printf("windows: %zu windows checked against slices of sharded draws\n", total);
    ck_assert_uint_gt(total, 50000);
}
END_TEST

/* Continued epoch e = the draw of a generator seeded with seed and
 * advanced past e epochs' outputs by reading them; per_epoch = bl_sample. */
START_TEST(test_continued_is_one_generator)
{
    const double w[] = {0.5, 0, 2, 1, 3, 0.25, 4, 1};
    const size_t n = NELEM(w), k = 6;
    bl_error e;
    for (int repl = 0; repl <= 1; repl++)
        for (uint64_t epoch = 0; epoch < 5; epoch++) {
            const uint64_t seed = 0xFFFFFFFFFFFFFFF0ull + epoch; /* near 2^64 */
            bl_sample_opts o = bl_sample_opts_default();
            o.generator = BL_GENERATOR_TORCH;
            o.stream = BL_STREAM_CONTINUED;
            o.replacement = repl;
            o.seed = seed;
            o.epoch = epoch;
            int64_t got[8], want[8];
            full_draw(w, n, k, o, got);
            /* the same through per_epoch, whose seed + epoch is seed', after
             * reading the outputs: computed here as draws of a generator
             * seeded like torch's and read 2 (k or n) outputs per epoch */
            bl_mt19937 mt;
            bl_mt19937_seed(&mt, seed);
            for (uint64_t i = 0; i < epoch * 2 * (repl ? k : n); i++)
                bl_mt19937_next(&mt);
            if (repl) {
                double cum[8], s = 0;
                for (size_t i = 0; i < n; i++)
                    cum[i] = (s += w[i]);
                for (size_t d = 0; d < k; d++) {
                    double u = bl_mt19937_uniform(&mt);
                    size_t j = 0;
                    while (j < n - 1 && cum[j] / s < u)
                        j++;
                    want[d] = (int64_t)j;
                }
                for (size_t d = 0; d < k; d++)
                    ck_assert_int_eq(got[d], want[d]);
            } else {
                double key[8];
                for (size_t i = 0; i < n; i++)
                    key[i] = w[i] / -log(1.0 - bl_mt19937_uniform(&mt));
                for (size_t d = 0; d < k; d++) { /* no ties here: plain argmax order */
                    size_t best = 0;
                    for (size_t i = 1; i < n; i++)
                        if (key[i] > key[best])
                            best = i;
                    want[d] = (int64_t)best;
                    key[best] = -2;
                }
                for (size_t d = 0; d < k; d++)
                    ck_assert_int_eq(got[d], want[d]);
            }
            /* epoch 0 of continued is per_epoch's epoch 0 */
            if (epoch == 0) {
                ck_assert_int_eq(bl_sample(w, n, k, repl, BL_GENERATOR_TORCH, seed, 0, want, &e),
                                 BL_OK);
                for (size_t d = 0; d < k; d++)
                    ck_assert_int_eq(got[d], want[d]);
            }
        }
}
END_TEST

/* fast_version 1 through the options is bl_sample's stream, windows aside. */
START_TEST(test_fast_version_1_is_bl_sample)
{
    double w[300];
    for (size_t i = 0; i < NELEM(w); i++)
        w[i] = (double)((i * 7919) % 13);
    int64_t a[200], b[200];
    bl_error e;
    for (int repl = 0; repl <= 1; repl++)
        for (uint64_t epoch = 0; epoch < 3; epoch++) {
            bl_sample_opts o = bl_sample_opts_default();
            o.fast_version = 1;
            o.replacement = repl;
            o.seed = 99;
            o.epoch = epoch;
            full_draw(w, NELEM(w), 200, o, a);
            ck_assert_int_eq(bl_sample(w, NELEM(w), 200, repl, BL_GENERATOR_FAST, 99, epoch, b,
                                       &e), BL_OK);
            ck_assert_mem_eq(a, b, sizeof a);
            /* version 2 is another stream */
            o.fast_version = 2;
            full_draw(w, NELEM(w), 200, o, b);
            ck_assert(memcmp(a, b, sizeof a) != 0);
        }
}
END_TEST

/* Version 2 pinned: outputs of the counter stream and two small draws. A
 * change here is a breaking change of the fast generator's answers
 * (README, "The fast stream"). */
START_TEST(test_fast_version_2_golden)
{
    /* computed from README's formula in Python (arbitrary-precision integers) */
    bl_counter c;
    bl_counter_seed(&c, 7, 0);
    const uint64_t out7[] = {0x74c8a651e155c637ull, 0xad29a15d59f1be5bull, 0x744689946d274313ull};
    for (size_t i = 0; i < NELEM(out7); i++)
        ck_assert_uint_eq(bl_counter_at(&c, i), out7[i]);
    bl_counter_seed(&c, UINT64_MAX, 3);
    ck_assert_uint_eq(bl_counter_at(&c, 1000000000000ull), 0x097efec63fe42cebull);

    const double w[] = {0.1, 0.2, 0.3, 0.4};
    const int64_t repl[] = {3, 2, 3, 1, 2, 3, 3, 0, 1, 3}, norepl[] = {1, 3, 2};
    int64_t got[10];
    bl_sample_opts o = bl_sample_opts_default();
    o.seed = 7;
    full_draw(w, 4, 10, o, got); /* api/openapi.yaml's example "window" is [4, 7) of it */
    ck_assert_mem_eq(got, repl, sizeof repl);
    o.replacement = 0;
    full_draw(w, 4, 3, o, got); /* the example "without_replacement" */
    ck_assert_mem_eq(got, norepl, sizeof norepl);
}
END_TEST

/* Version 2 follows the weights: chi-square over 4 cells, fixed seed. */
START_TEST(test_fast_version_2_distribution)
{
    const double w[] = {1, 2, 3, 4, 0, 10};
    const size_t n = NELEM(w), k = 400000;
    int64_t *out = malloc(k * sizeof *out);
    ck_assert_ptr_nonnull(out);
    bl_sample_opts o = bl_sample_opts_default();
    o.seed = 2024;
    full_draw(w, n, k, o, out);
    double cnt[6] = {0};
    for (size_t d = 0; d < k; d++)
        cnt[out[d]]++;
    ck_assert(cnt[4] == 0);
    double chi2 = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0) {
            double expect = (double)k * w[i] / 20.0;
            chi2 += (cnt[i] - expect) * (cnt[i] - expect) / expect;
        }
    /* 4 degrees of freedom: P(chi2 > 18.47) = 0.001 */
    CHECK_MSG(chi2 < 18.47, "chi-square %g over 4 degrees of freedom", chi2);
    free(out);
}
END_TEST

/* A window at the end of a draw of 10^12 (no memory for the draw) with
 * fast version 2: O(count), and consistent with a larger window. */
START_TEST(test_fast_version_2_far_window)
{
    const double w[] = {1, 5, 2};
    const size_t k = (size_t)1000000000000ull;
    bl_sample_opts o = bl_sample_opts_default();
    o.seed = 5;
    o.offset = k - 10;
    int64_t a[10], b[5];
    size_t len = 0;
    bl_error e;
    double t = now();
    ck_assert_int_eq(bl_sample_window(w, 3, k, &o, a, &len, &e), BL_OK);
    ck_assert_uint_eq(len, 10);
    o.offset = k - 5;
    o.count = 5;
    ck_assert_int_eq(bl_sample_window(w, 3, k, &o, b, &len, &e), BL_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(a + 5, b, sizeof b);
    ck_assert(now() - t < 0.5);
}
END_TEST

/* README quotes the time of replaying epoch 100 of 10^6 draws. */
START_TEST(test_continued_epoch_100_timing)
{
    const size_t n = 1000000, k = 1000000;
    double *w = malloc(n * sizeof *w);
    int64_t *out = malloc(k * sizeof *out);
    ck_assert(w && out);
    for (size_t i = 0; i < n; i++)
        w[i] = 1 + (double)(i % 7);
    bl_error e;
    for (int repl = 1; repl >= 0; repl--) {
        bl_sample_opts o = bl_sample_opts_default();
        o.generator = BL_GENERATOR_TORCH;
        o.stream = BL_STREAM_CONTINUED;
        o.replacement = repl;
        o.seed = 42;
        double t0 = now();
        ck_assert_int_eq(bl_sample_window(w, n, k, &o, out, NULL, &e), BL_OK);
        double t1 = now();
        o.epoch = 100;
        ck_assert_int_eq(bl_sample_window(w, n, k, &o, out, NULL, &e), BL_OK);
        double t2 = now();
        ck_assert_uint_eq(bl_sample_replay(n, k, &o), 100000000u);
        printf("continued, %s replacement, 10^6 items and draws: epoch 0 %.3f s, epoch 100 "
               "%.3f s (the replay of 2e8 MT19937 outputs: %.3f s)\n",
               repl ? "with" : "without", t1 - t0, t2 - t1, (t2 - t1) - (t1 - t0));
        ck_assert(t2 - t1 < 3.0);
    }
    free(w);
    free(out);
}
END_TEST

START_TEST(test_bad_options)
{
    const double w[] = {1, 2};
    int64_t out[4];
    size_t len;
    bl_error e;
    bl_sample_opts o = bl_sample_opts_default();
    o.stream = BL_STREAM_CONTINUED; /* with fast */
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "stream");
    o = bl_sample_opts_default();
    o.stream = (bl_stream)7;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "stream");
    o = bl_sample_opts_default();
    o.fast_version = 3;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "fast_version");
    o.fast_version = 0;
    ck_assert_int_eq(bl_sample_window_size(2, &o, &len, &e), BL_EINVAL);
    o = bl_sample_opts_default();
    o.generator = (bl_generator)2;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "generator");
    o = bl_sample_opts_default();
    o.replacement = 2;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "replacement");
    o = bl_sample_opts_default();
    o.offset = 3;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "offset");
    o.offset = 2; /* the end: an empty window */
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, NULL, &len, &e), BL_OK);
    ck_assert_uint_eq(len, 0);
    o = bl_sample_opts_default();
    o.world_size = 2;
    o.rank = 2;
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, out, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "rank");
    ck_assert_int_eq(bl_sample_window(w, 2, 2, NULL, out, &len, &e), BL_EINVAL);
    ck_assert_int_eq(bl_sample_window_size(2, &o, NULL, &e), BL_EINVAL);
    o = bl_sample_opts_default();
    ck_assert_int_eq(bl_sample_window(w, 2, 2, &o, NULL, &len, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "out");
    ck_assert_str_eq(bl_stream_name(BL_STREAM_CONTINUED), "continued");
    ck_assert_ptr_null(bl_stream_name((bl_stream)2));
    bl_stream s;
    ck_assert_int_eq(bl_stream_from_name("per_epoch", &s, &e), BL_OK);
    ck_assert_int_eq(s, BL_STREAM_PER_EPOCH);
    ck_assert_int_eq(bl_stream_from_name("continue", &s, &e), BL_EINVAL);
    /* replay: saturating, 0 unless torch continued */
    o.generator = BL_GENERATOR_TORCH;
    o.stream = BL_STREAM_CONTINUED;
    o.epoch = UINT64_MAX / 2;
    ck_assert_uint_eq(bl_sample_replay(10, 3, &o), UINT64_MAX);
    o.epoch = 4;
    ck_assert_uint_eq(bl_sample_replay(10, 3, &o), 12);
    o.replacement = 0;
    ck_assert_uint_eq(bl_sample_replay(10, 3, &o), 40);
    o.stream = BL_STREAM_PER_EPOCH;
    ck_assert_uint_eq(bl_sample_replay(10, 3, &o), 0);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("sample_stream");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mt_skip_equals_reading);
    tcase_add_test(tc, test_windows_are_slices);
    tcase_add_test(tc, test_continued_is_one_generator);
    tcase_add_test(tc, test_fast_version_1_is_bl_sample);
    tcase_add_test(tc, test_fast_version_2_golden);
    tcase_add_test(tc, test_fast_version_2_distribution);
    tcase_add_test(tc, test_fast_version_2_far_window);
    tcase_add_test(tc, test_continued_epoch_100_timing);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
