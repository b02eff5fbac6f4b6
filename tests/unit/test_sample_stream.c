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
 *     (README quotes the figure) and must stay under 3 s of CPU time;
 *   - bad options are BL_EINVAL naming the option;
 *   - balancing (lib/resample.c): the targets of every sampling_strategy
 *     form against hand-computed ones, the Fisher-Yates draw against the
 *     uniform distribution (chi-square, fixed seeds), and the api against
 *     tests/conformance/balance_cases.json (indices from the generator's
 *     Python reference, class counts checked there against
 *     imbalanced-learn's; its refusals must be refused, naming the field).
 *
 * Environment: BALLAST_FIXTURES, the folder of balance_cases.json (default
 * tests/conformance, relative to the repository root, where tests run).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "ballast.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* As test_sample.c: no Check checkpoint per passing assertion in loops. */
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

/* CPU seconds of this process: other jobs on a loaded machine slow the
 * wall clock, not this. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
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
static size_t check_windows(const double *w, size_t n, size_t k, bl_sample_opts o, const char *what)
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
                    CHECK_MSG(len == want,
                              "%s k=%zu ws=%zu rank=%zu [%zu,+%zu): %zu indices, "
                              "not %zu",
                              what, k, ws, rank, off, cnt, len, want);
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
    const double weights[][7] = {
        {1, 2, 3, 4, 5, 6, 7}, {0, 3, 0, 1, 0.5, 0, 2}, {1e-300, 1, 1e300, 0, 7, 7, 7}};
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
            ck_assert_int_eq(bl_sample(w, NELEM(w), 200, repl, BL_GENERATOR_FAST, 99, epoch, b, &e),
                             BL_OK);
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
               "%.3f s (the replay of 2e8 MT19937 outputs: %.3f s), CPU time\n",
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

/* ---- balancing ----------------------------------------------------------- */

static void expect_targets(const int64_t *got, const int64_t *want, size_t C, const char *what)
{
    for (size_t c = 0; c < C; c++)
        CHECK_MSG(got[c] == want[c], "%s: target[%zu] = %lld, not %lld", what, c, (long long)got[c],
                  (long long)want[c]);
}

START_TEST(test_balance_targets)
{
    /* classes 0..4 with 5, 2, 0, 9, 2 items: minority 1 (lowest id of the
     * 2s), majority 3; class 2 absent */
    const size_t counts[] = {5, 2, 0, 9, 2};
    int64_t t[5];
    bl_error e;
    const struct {
        bl_strategy s;
        bl_balance b;
        int64_t want[5];
    } named[] = {
        {BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_AUTO, {2, -1, -1, 2, 2}},
        {BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_NOT_MINORITY, {2, -1, -1, 2, 2}},
        {BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_ALL, {2, 2, -1, 2, 2}},
        {BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_MAJORITY, {-1, -1, -1, 2, -1}},
        {BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_NOT_MAJORITY, {2, 2, -1, -1, 2}},
        {BL_STRATEGY_OVERSAMPLE, BL_BALANCE_AUTO, {9, 9, -1, -1, 9}},
        {BL_STRATEGY_OVERSAMPLE, BL_BALANCE_NOT_MAJORITY, {9, 9, -1, -1, 9}},
        {BL_STRATEGY_OVERSAMPLE, BL_BALANCE_ALL, {9, 9, -1, 9, 9}},
        {BL_STRATEGY_OVERSAMPLE, BL_BALANCE_MINORITY, {-1, 9, -1, -1, -1}},
        {BL_STRATEGY_OVERSAMPLE, BL_BALANCE_NOT_MINORITY, {9, -1, -1, 9, 9}},
    };
    for (size_t i = 0; i < NELEM(named); i++) {
        ck_assert_int_eq(bl_balance_targets(counts, 5, named[i].s, named[i].b, t, &e), BL_OK);
        expect_targets(t, named[i].want, 5, bl_balance_name(named[i].b));
    }
    ck_assert_uint_eq(bl_resample_size(counts, 5, named[2].want), 8);
    ck_assert_uint_eq(bl_resample_size(counts, 5, named[8].want), 25);
    ck_assert_int_eq(
        bl_balance_targets(counts, 5, BL_STRATEGY_UNDERSAMPLE, BL_BALANCE_MINORITY, t, &e),
        BL_EINVAL);
    ck_assert_str_eq(e.arg, "sampling_strategy");
    ck_assert_int_eq(
        bl_balance_targets(counts, 5, BL_STRATEGY_OVERSAMPLE, BL_BALANCE_MAJORITY, t, &e),
        BL_EINVAL);
    ck_assert_int_eq(bl_balance_targets(counts, 5, BL_STRATEGY_WEIGHTED, BL_BALANCE_ALL, t, &e),
                     BL_EINVAL);
    ck_assert_str_eq(e.arg, "strategy");
    ck_assert_int_eq(bl_balance_targets(counts, 5, (bl_strategy)3, BL_BALANCE_ALL, t, &e),
                     BL_EINVAL);
    ck_assert_int_eq(bl_balance_targets(counts, 5, BL_STRATEGY_OVERSAMPLE, (bl_balance)6, t, &e),
                     BL_EINVAL);
    const size_t one[] = {0, 4, 0};
    ck_assert_int_eq(bl_balance_targets(one, 3, BL_STRATEGY_OVERSAMPLE, BL_BALANCE_ALL, t, &e),
                     BL_EINVAL);
    ck_assert_str_eq(e.arg, "labels");

    /* ratios, binary: 40 of class 0, 10 of class 1 */
    const size_t bin[] = {40, 10};
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_UNDERSAMPLE, 0.3, t, &e), BL_OK);
    expect_targets(t, (const int64_t[]){33, -1}, 2, "undersample 0.3"); /* floor(10 / 0.3) */
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_OVERSAMPLE, 0.3, t, &e), BL_OK);
    expect_targets(t, (const int64_t[]){-1, 12}, 2, "oversample 0.3"); /* 10 + floor(12 - 10) */
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_UNDERSAMPLE, 0.25, t, &e),
                     BL_OK); /* 40: all of them */
    expect_targets(t, (const int64_t[]){40, -1}, 2, "undersample 0.25");
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_UNDERSAMPLE, 0.2, t, &e),
                     BL_EINVAL); /* 50 > 40 */
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_UNDERSAMPLE, 0.24, t, &e),
                     BL_EINVAL); /* floor(41.67) = 41 > 40 */
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_OVERSAMPLE, 0.25, t, &e),
                     BL_EINVAL); /* adds floor(10 - 10) = 0 */
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_OVERSAMPLE, 0, t, &e), BL_EINVAL);
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_OVERSAMPLE, 1.01, t, &e),
                     BL_EINVAL);
    ck_assert_int_eq(bl_balance_targets_ratio(bin, 2, BL_STRATEGY_OVERSAMPLE, NAN, t, &e),
                     BL_EINVAL);
    ck_assert_int_eq(bl_balance_targets_ratio(counts, 5, BL_STRATEGY_OVERSAMPLE, 0.5, t, &e),
                     BL_EINVAL); /* not binary */
    ck_assert_str_eq(e.arg, "sampling_strategy");

    /* counts */
    const int64_t want_u[] = {3, -1, -1, 0, 2};
    ck_assert_int_eq(bl_balance_targets_counts(counts, 5, BL_STRATEGY_UNDERSAMPLE, want_u, t, &e),
                     BL_OK);
    expect_targets(t, want_u, 5, "counts");
    const int64_t bad[][5] = {{6, -1, -1, -1, -1}, {-1, -1, 1, -1, -1}, {-2, -1, -1, -1, -1}};
    for (size_t i = 0; i < NELEM(bad); i++) {
        ck_assert_int_eq(
            bl_balance_targets_counts(counts, 5, BL_STRATEGY_UNDERSAMPLE, bad[i], t, &e),
            BL_EINVAL);
        ck_assert_str_eq(e.arg, "sampling_strategy");
    }
    ck_assert_int_eq(bl_balance_targets_counts(counts, 5, BL_STRATEGY_OVERSAMPLE, want_u, t, &e),
                     BL_EINVAL); /* 3 < 5 */
    ck_assert_int_eq(e.index, 0);
}
END_TEST

/* The undersampled items of a class are a uniform draw without replacement,
 * in uniform order: over fixed seeds, every item is kept equally often, and
 * is first equally often (chi-square, 9 degrees of freedom). */
START_TEST(test_resample_uniform)
{
    int64_t labels[14] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}; /* 10 of class 0 */
    const size_t counts[] = {10, 4};
    const int64_t target[] = {3, -1};
    double kept[14] = {0}, first[14] = {0};
    const int rounds = 20000;
    bl_error e;
    for (int r = 0; r < rounds; r++) {
        int64_t out[7];
        ck_assert_int_eq(bl_resample(labels, 14, counts, 2, BL_STRATEGY_UNDERSAMPLE, target, 0,
                                     (uint64_t)r, 0, out, &e),
                         BL_OK);
        CHECK_MSG(out[3] == 0 && out[4] == 11 && out[5] == 12 && out[6] == 13,
                  "class 1 is left as it is, in index order");
        CHECK_MSG(out[0] != out[1] && out[1] != out[2] && out[0] != out[2], "a repeat");
        for (int j = 0; j < 3; j++)
            kept[out[j]]++;
        first[out[0]]++;
    }
    double chi_k = 0, chi_f = 0;
    for (int i = 1; i <= 10; i++) {
        double ek = rounds * 3 / 10.0, ef = rounds / 10.0;
        chi_k += (kept[i] - ek) * (kept[i] - ek) / ek;
        chi_f += (first[i] - ef) * (first[i] - ef) / ef;
    }
    /* P(chi2_9 > 27.88) = 0.001 */
    CHECK_MSG(chi_k < 27.88 && chi_f < 27.88, "chi-square kept %g, first %g", chi_k, chi_f);
    /* bad arguments */
    int64_t out[20];
    ck_assert_int_eq(
        bl_resample(labels, 14, counts, 2, BL_STRATEGY_OVERSAMPLE, target, 1, 1, 0, out, &e),
        BL_EINVAL); /* 3 < 10 */
    ck_assert_str_eq(e.arg, "target");
    const size_t wrong[] = {9, 4};
    ck_assert_int_eq(
        bl_resample(labels, 14, wrong, 2, BL_STRATEGY_UNDERSAMPLE, target, 0, 1, 0, out, &e),
        BL_EINVAL);
    ck_assert_str_eq(e.arg, "labels");
    ck_assert_int_eq(
        bl_resample(labels, 14, counts, 2, BL_STRATEGY_UNDERSAMPLE, target, 2, 1, 0, out, &e),
        BL_EINVAL);
    ck_assert_str_eq(e.arg, "replacement");
    ck_assert_int_eq(
        bl_resample(labels, 14, counts, 2, BL_STRATEGY_UNDERSAMPLE, target, 0, 1, 0, NULL, &e),
        BL_EINVAL);
    ck_assert_str_eq(e.arg, "out");
    labels[0] = 2;
    ck_assert_int_eq(
        bl_resample(labels, 14, counts, 2, BL_STRATEGY_UNDERSAMPLE, target, 0, 1, 0, out, &e),
        BL_EINVAL);
    ck_assert_str_eq(e.arg, "labels");
    ck_assert_str_eq(bl_strategy_name(BL_STRATEGY_OVERSAMPLE), "oversample");
    bl_balance b;
    ck_assert_int_eq(bl_balance_from_name("not minority", &b, &e), BL_OK);
    ck_assert_int_eq(b, BL_BALANCE_NOT_MINORITY);
    ck_assert_int_eq(bl_balance_from_name("not_minority", &b, &e), BL_EINVAL);
    ck_assert_str_eq(e.arg, "sampling_strategy");
}
END_TEST

static char *read_fixture(const char *name)
{
    const char *dir = getenv("BALLAST_FIXTURES");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/conformance", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    ck_assert(text && fread(text, 1, (size_t)len, f) == (size_t)len);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* The object after "key": in one line of the fixture file, by matching
 * braces (no string there holds one): the request is sent as written, its
 * seeds beyond 2^63 too, which jansson would not read back. */
static char *object_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    if (!p || !(p = strchr(p, '{')))
        return NULL;
    int depth = 0;
    const char *q = p;
    do {
        depth += *q == '{';
        depth -= *q == '}';
        q++;
    } while (depth && *q);
    char *out = malloc((size_t)(q - p) + 1);
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return out;
}

START_TEST(test_balance_fixtures)
{
    char *text = read_fixture("balance_cases.json");
    bl_api_config cfg = bl_api_config_default();
    size_t cases = 0, refusals = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "    {\"name\":", 12) != 0)
            continue;
        char *req = object_after(line, "\"request\":");
        char *exp = object_after(line, "\"expected\":");
        char name[96] = "";
        sscanf(line, "    {\"name\":\"%95[^\"]", name);
        ck_assert_ptr_nonnull(req);
        bl_api_result res;
        bl_api_call(&cfg, "sample", req, strlen(req), &res);
        if (exp) { /* a case */
            /* reals: the answer's seed may be beyond what jansson's integers hold */
            json_t *ej = json_loads(exp, JSON_DECODE_INT_AS_REAL, NULL);
            json_t *doc = json_loads(res.body, JSON_DECODE_INT_AS_REAL, NULL);
            json_t *want = json_object_get(ej, "indices"), *got = json_object_get(doc, "indices");
            CHECK_MSG(res.code == BL_API_OK && want && json_equal(got, want), "%s: %.300s", name,
                      res.body);
            json_decref(ej);
            json_decref(doc);
            cases++;
        } else { /* a refusal: {"name", "request", "field", "imblearn"} */
            char field[64] = "";
            const char *f = strstr(line, "\"field\":\"");
            ck_assert_ptr_nonnull(f);
            sscanf(f, "\"field\":\"%63[^\"]", field);
            CHECK_MSG(res.code == BL_API_INVALID_ARGUMENT &&
                          strncmp(res.error_field, field, strlen(field)) == 0,
                      "%s: imbalanced-learn refuses it, ballast answers %.300s", name, res.body);
            refusals++;
        }
        free(res.body);
        free(req);
        free(exp);
    }
    printf("balance fixtures through the api: %zu cases equal, %zu refusals refused\n", cases,
           refusals);
    ck_assert_uint_ge(cases, 40);
    ck_assert_uint_ge(refusals, 10);
    free(text);
}
END_TEST

/* The work bound that bl_api_estimate gives a request (what lets ballastd
 * answer a tiny one on its I/O thread) covers the replay that stream
 * "continued" asks for: epoch times num_samples, or times the items. */
START_TEST(test_estimate_covers_the_replay)
{
    const struct {
        const char *doc;
        size_t at_least;
    } docs[] = {
        {"{\"weights\":[1,2],\"num_samples\":1000,\"epoch\":1000,\"stream\":\"continued\","
         "\"generator\":\"torch\"}",
         1000000},
        {"{\"weights\":[1,2,3,4,5],\"replacement\":false,\"num_samples\":2,\"epoch\":900,"
         "\"stream\":\"continued\",\"generator\":\"torch\"}",
         4500},
        {"{\"weights\":[1,2],\"num_samples\":1000,\"epoch\":1000,\"generator\":\"torch\"}", 1000},
    };
    for (size_t i = 0; i < NELEM(docs); i++) {
        bl_api_request r = {docs[i].doc, strlen(docs[i].doc), NULL, 0, BL_API_JSON};
        size_t work = 0;
        bl_api_estimate("sample", &r, &work);
        CHECK_MSG(work >= docs[i].at_least, "%s: work %zu < %zu", docs[i].doc, work,
                  docs[i].at_least);
    }
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
    tcase_add_test(tc, test_balance_targets);
    tcase_add_test(tc, test_resample_uniform);
    tcase_add_test(tc, test_balance_fixtures);
    tcase_add_test(tc, test_estimate_covers_the_replay);
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
