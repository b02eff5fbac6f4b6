/*
 * test_sample.c — unit tests of the random engines (lib/rng.c) and of
 * weighted sampling (lib/sample.c, lib/topk.c): bl_mt19937_*, bl_xoshiro_*,
 * bl_sample, bl_shard_size and bl_shard.
 *
 * What is checked, and against what:
 *   - MT19937 against the published reference outputs (Matsumoto &
 *     Nishimura's mt19937ar for seed 5489, and C++11's [rand.predef]
 *     requirement for its 10000th output).
 *   - xoshiro256** against Vigna's reference outputs for the state
 *     {1, 2, 3, 4}; its seeding against a reference SplitMix64 written here
 *     (itself checked against Vigna's splitmix64 outputs for seed 1234567).
 *   - the torch generator against tests/conformance/sample_cases.json,
 *     produced by PyTorch 1.13 (tests/conformance/gen_sample.py), and its
 *     tie order (subnormal weights) against PyTorch 1.13's
 *     (tests/unit/gen_sample_ties.py).
 *   - the fast generator against golden values (its stream is a stable,
 *     documented contract), and both generators against the exact
 *     distributions with chi-square tests whose seeds are fixed, so the tests
 *     are deterministic and still meaningful.
 *
 * Environment: BALLAST_FIXTURES, the folder of sample_cases.json (default
 * tests/conformance, relative to the repository root, where tests run);
 * BALLAST_QUICK=1 runs the statistical tests with 10x fewer draws (for
 * valgrind). The full run is the default.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "check_close.h"
#include "check_main.h"
#include "internal.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Check's ck_assert records a checkpoint (a write to its pipe) on every
 * passing assertion; millions of them in the statistical loops cost seconds
 * of system time. These only talk to Check when they fail. */
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define CHECK(cond) CHECK_MSG(cond, "Assertion '%s' failed", #cond)

/* Upper 0.001 quantile of the standard normal: P(Z > z) = 0.001. */
#define Z_999 3.090232306167813

static int quick(void)
{
    const char *q = getenv("BALLAST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* ------------------------------------------------------------------ */
/* statistics helpers                                                  */
/* ------------------------------------------------------------------ */

/* The chi-square critical value at upper tail probability p for dof degrees
 * of freedom, by the Wilson–Hilferty approximation: (X / dof)^(1/3) is
 * nearly normal with mean 1 - 2/(9 dof) and variance 2/(9 dof). z is the
 * normal quantile for p (Z_999 for p = 0.001). Good to ~0.5% for dof >= 10
 * (dof 19: 43.95 for the exact 43.82; dof 49: 85.43 for the exact 85.35). */
static double chi2_critical(double dof, double z)
{
    double a = 2.0 / (9.0 * dof);
    double t = 1.0 - a + z * sqrt(a);
    return dof * t * t * t;
}

static void report(const char *what, double stat, int dof)
{
    printf("chi2 %-53s X = %9.3f  dof = %2d  critical(p=0.001) = %7.3f\n", what, stat, dof,
           chi2_critical(dof, Z_999));
    fflush(stdout);
}

/* Pearson's statistic sum (obs - exp)^2 / exp over the categories with
 * exp > 0. */
static double pearson(const double *obs, const double *expected, size_t n)
{
    double x = 0;
    for (size_t i = 0; i < n; i++)
        if (expected[i] > 0) {
            double d = obs[i] - expected[i];
            x += d * d / expected[i];
        }
    return x;
}

/* d^T S^-1 d for a symmetric positive definite m x m matrix S (row-major,
 * overwritten by its Cholesky factor). Returns -1 if S is not positive
 * definite. */
static double quad_form_inverse(double *S, const double *d, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        double s = S[j * m + j];
        for (size_t k = 0; k < j; k++)
            s -= S[j * m + k] * S[j * m + k];
        if (!(s > 0))
            return -1;
        S[j * m + j] = sqrt(s);
        for (size_t i = j + 1; i < m; i++) {
            double t = S[i * m + j];
            for (size_t k = 0; k < j; k++)
                t -= S[i * m + k] * S[j * m + k];
            S[i * m + j] = t / S[j * m + j];
        }
    }
    double x = 0, y[64];
    ck_assert_uint_le(m, NELEM(y));
    for (size_t i = 0; i < m; i++) {
        double t = d[i];
        for (size_t k = 0; k < i; k++)
            t -= S[i * m + k] * y[k];
        y[i] = t / S[i * m + i];
        x += y[i] * y[i];
    }
    return x;
}

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static void sample_ok(const double *w, size_t n, size_t k, int repl, bl_generator gen,
                      uint64_t seed, uint64_t epoch, int64_t *out)
{
    bl_error err;
    bl_status rc = bl_sample(w, n, k, repl, gen, seed, epoch, out, &err);
    CHECK_MSG(rc == BL_OK, "bl_sample(n %zu, k %zu, repl %d, gen %d) failed: %s", n, k, repl,
              (int)gen, err.message);
    ck_assert_int_eq(err.code, BL_OK);
}

static void check_error(bl_status rc, const bl_error *err, bl_status code, const char *arg,
                        int64_t index, const char *fragment)
{
    ck_assert_int_eq(rc, code);
    ck_assert_int_eq(err->code, code);
    CHECK_MSG(err->arg != NULL, "err.arg is NULL, expected \"%s\"", arg);
    ck_assert_str_eq(err->arg, arg);
    CHECK_MSG(err->index == index, "err.index = %lld, expected %lld", (long long)err->index,
              (long long)index);
    CHECK_MSG(strstr(err->message, fragment) != NULL, "message \"%s\" lacks \"%s\"", err->message,
              fragment);
}

static const bl_generator GENS[] = {BL_GENERATOR_FAST, BL_GENERATOR_TORCH};
static const char *const GEN_NAMES[] = {"fast", "torch"};

/* ------------------------------------------------------------------ */
/* MT19937                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_mt19937_reference)
{
    /* mt19937ar.c / std::mt19937 with the default seed 5489 */
    static const uint32_t first[] = {3499211612u, 581869302u,  3890346734u, 3586334585u,
                                     545404204u,  4161255391u, 3922919429u, 949333985u,
                                     2715962298u, 1323567403u};
    bl_mt19937 mt;
    bl_mt19937_seed(&mt, 5489);
    for (size_t i = 0; i < NELEM(first); i++) {
        uint32_t v = bl_mt19937_next(&mt);
        CHECK_MSG(v == first[i], "output %zu = %u, expected %u", i, v, first[i]);
    }
    /* C++11 [rand.predef]: the 10000th consecutive output of a
     * default-constructed mt19937 is 4123659995 */
    bl_mt19937_seed(&mt, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++)
        v = bl_mt19937_next(&mt);
    ck_assert_uint_eq(v, 4123659995u);
}
END_TEST

START_TEST(test_mt19937_low_32_bits)
{
    /* manual_seed keeps the low 32 bits: s and s + 2^32 (and s + 5 * 2^32)
     * give the same stream, across several twists */
    const uint64_t seeds[] = {0, 1, 5489, 42, UINT32_MAX};
    for (size_t i = 0; i < NELEM(seeds); i++) {
        bl_mt19937 a, b, c;
        bl_mt19937_seed(&a, seeds[i]);
        bl_mt19937_seed(&b, seeds[i] + (UINT64_C(1) << 32));
        bl_mt19937_seed(&c, seeds[i] + (UINT64_C(5) << 32));
        for (int j = 0; j < 2000; j++) {
            uint32_t x = bl_mt19937_next(&a);
            ck_assert_uint_eq(x, bl_mt19937_next(&b));
            ck_assert_uint_eq(x, bl_mt19937_next(&c));
        }
    }
    /* and different low words differ */
    bl_mt19937 a, b;
    bl_mt19937_seed(&a, 1);
    bl_mt19937_seed(&b, 2);
    ck_assert_uint_ne(bl_mt19937_next(&a), bl_mt19937_next(&b));
}
END_TEST

START_TEST(test_mt19937_uniform)
{
    /* in [0, 1), and made as documented: (a << 32 | b) & (2^53 - 1), / 2^53 */
    bl_mt19937 mt, raw;
    bl_mt19937_seed(&mt, 20240611);
    bl_mt19937_seed(&raw, 20240611);
    const int n = 200000;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double u = bl_mt19937_uniform(&mt);
        CHECK_MSG(u >= 0 && u < 1, "u = %.17g", u);
        uint64_t a = bl_mt19937_next(&raw), b = bl_mt19937_next(&raw);
        double want = (double)(((a << 32) | b) & ((UINT64_C(1) << 53) - 1)) / 9007199254740992.0;
        CHECK_MSG(u == want, "draw %d: %.17g, expected %.17g", i, u, want);
        sum += u;
    }
    /* mean 1/2, sd of the mean sqrt(1/12/n) = 6.5e-4: allow 6 sd */
    CHECK_MSG(fabs(sum / n - 0.5) < 6 * sqrt(1.0 / 12 / n), "mean %.6f", sum / n);
}
END_TEST

/* ------------------------------------------------------------------ */
/* xoshiro256** and its seeding                                        */
/* ------------------------------------------------------------------ */

/* Reference SplitMix64 (Vigna, splitmix64.c) for the seeding model. */
static uint64_t ref_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

START_TEST(test_xoshiro_reference)
{
    /* xoshiro256** 1.0 from the state {1, 2, 3, 4}: Vigna's reference */
    static const uint64_t want[] = {UINT64_C(11520),
                                    UINT64_C(0),
                                    UINT64_C(1509978240),
                                    UINT64_C(1215971899390074240),
                                    UINT64_C(1216172134540287360),
                                    UINT64_C(607988272756665600),
                                    UINT64_C(16172922978634559625),
                                    UINT64_C(8476171486693032832),
                                    UINT64_C(10595114339597558777),
                                    UINT64_C(2904607092377533576)};
    bl_xoshiro x = {{1, 2, 3, 4}};
    for (size_t i = 0; i < NELEM(want); i++) {
        uint64_t v = bl_xoshiro_next(&x);
        CHECK_MSG(v == want[i], "output %zu = %" PRIu64 ", expected %" PRIu64, i, v, want[i]);
    }
}
END_TEST

START_TEST(test_xoshiro_seeding_model)
{
    /* the reference SplitMix64 itself: Vigna's outputs for seed 1234567 */
    static const uint64_t sm[] = {UINT64_C(6457827717110365317), UINT64_C(3203168211198807973),
                                  UINT64_C(9817491932198370423), UINT64_C(4593380528125082431),
                                  UINT64_C(16408922859458223821)};
    uint64_t st = 1234567;
    for (size_t i = 0; i < NELEM(sm); i++)
        CHECK(ref_splitmix64(&st) == sm[i]);

    /* Fast stream v1 (rng.c): s[i] = splitmix(seed-seq)_i ^ splitmix(epoch ^
     * 0x6A09E667F3BCC909 seq)_i */
    const uint64_t cases[][2] = {{0, 0},          {42, 7},
                                 {1, 0},          {0, 1},
                                 {UINT64_MAX, 0}, {UINT64_MAX, UINT64_MAX},
                                 {12345, 99},     {UINT64_C(1) << 63, 3}};
    for (size_t c = 0; c < NELEM(cases); c++) {
        uint64_t a = cases[c][0], b = cases[c][1] ^ UINT64_C(0x6A09E667F3BCC909);
        uint64_t s[4];
        for (int i = 0; i < 4; i++)
            s[i] = ref_splitmix64(&a) ^ ref_splitmix64(&b);
        bl_xoshiro x;
        bl_xoshiro_seed(&x, cases[c][0], cases[c][1]);
        for (int i = 0; i < 4; i++)
            CHECK_MSG(x.s[i] == s[i], "seed %" PRIu64 " epoch %" PRIu64 ": s[%d]", cases[c][0],
                      cases[c][1], i);
    }
}
END_TEST

/* GOLDEN VALUES. The fast stream (seeding, engine, alias table and key
 * construction) is a public contract: a seed given to /sample must give the
 * same indices on every replica and every release. These values were recorded
 * from the implementation (and the xoshiro outputs cross-checked against an
 * independent Python model of the documented seeding). Any change that makes
 * these tests fail is a BREAKING CHANGE of the fast stream: it needs a new
 * stream version, a changelog entry and new golden values — never a silent
 * update of the numbers below. */
START_TEST(test_xoshiro_golden)
{
    static const uint64_t g00[8] = {UINT64_C(0x3c8f93426ad39e2e), UINT64_C(0x9442b347ab60f2e1),
                                    UINT64_C(0x032e397b840dfffb), UINT64_C(0x772f79e9105e1714),
                                    UINT64_C(0x21706d575ef8ba11), UINT64_C(0xb3017e4d8322727d),
                                    UINT64_C(0x7e04d38e7d90d350), UINT64_C(0x1c4e0ea61dae7fb3)};
    static const uint64_t g427[8] = {UINT64_C(0xff31ca8b90fa96e8), UINT64_C(0x554eb32115cdaafb),
                                     UINT64_C(0x5cfbb62b7b092463), UINT64_C(0x7a34814b01fa4943),
                                     UINT64_C(0x79518207502b515b), UINT64_C(0xc4ebe484dbd893d6),
                                     UINT64_C(0xf586b8cc993139b2), UINT64_C(0x8464ad131de9514d)};
    bl_xoshiro x;
    bl_xoshiro_seed(&x, 0, 0);
    for (int i = 0; i < 8; i++)
        CHECK_MSG(bl_xoshiro_next(&x) == g00[i], "seed 0 epoch 0 output %d", i);
    bl_xoshiro_seed(&x, 42, 7);
    for (int i = 0; i < 8; i++)
        CHECK_MSG(bl_xoshiro_next(&x) == g427[i], "seed 42 epoch 7 output %d", i);

    /* the uniform is the top 53 bits of one output */
    bl_xoshiro y;
    bl_xoshiro_seed(&x, 42, 7);
    bl_xoshiro_seed(&y, 42, 7);
    for (int i = 0; i < 100000; i++) {
        double u = bl_xoshiro_uniform(&x);
        CHECK(u >= 0 && u < 1);
        CHECK(u == (double)(bl_xoshiro_next(&y) >> 11) * 0x1p-53);
    }
    /* the state is never all zero */
    bl_xoshiro_seed(&x, 0, 0);
    CHECK(x.s[0] | x.s[1] | x.s[2] | x.s[3]);
}
END_TEST

START_TEST(test_fast_golden_draws)
{
    /* See the GOLDEN VALUES note above test_xoshiro_golden. */
    static const double w10[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const double inv[3] = {1, 1000, 10000};
    static const double half[6] = {0.5, 0.5, 0.25, 0.125, 0.0625, 0.0625};
    double w25[25]; /* 19 non-zero weights, zeros at 3, 7, 11, 15, 19, 23 */
    for (int i = 0; i < 25; i++)
        w25[i] = (i % 4 == 3) ? 0 : 0.5 + (i * 7 % 11);
    struct {
        const double *w;
        size_t n, k;
        int repl;
        uint64_t seed, epoch;
        int64_t want[20];
    } g[] = {
        {w10, 10, 20, 1, 0, 0, {2, 5, 0, 4, 1, 5, 9, 1, 9, 3, 7, 5, 7, 4, 6, 4, 7, 2, 3, 9}},
        {w10, 10, 20, 1, 42, 7, {8, 3, 3, 4, 4, 6, 8, 5, 1, 8, 5, 7, 7, 4, 8, 7, 8, 6, 4, 2}},
        {inv, 3, 20, 1, UINT64_MAX, 3, {2, 2, 2, 1, 2, 2, 1, 2, 2, 2,
                                        2, 2, 2, 2, 2, 2, 2, 2, 2, 1}},
        {half, 6, 20, 1, 123456789, 0, {1, 1, 0, 3, 1, 1, 0, 2, 1, 0,
                                        1, 0, 5, 1, 1, 2, 2, 3, 2, 3}},
        {w25, 25, 18, 0, 0, 0, {6, 21, 18, 13, 14, 16, 1, 20, 17, 4, 12, 9, 24, 10, 8, 5, 2, 22}},
        {w25, 25, 18, 0, 42, 7, {18, 0, 12, 14, 6, 8, 20, 16, 9, 17, 4, 1, 13, 24, 2, 5, 10, 21}},
        {w10, 10, 10, 0, UINT64_C(1) << 63, 1, {1, 7, 0, 8, 9, 4, 6, 5, 3, 2}},
    };
    for (size_t c = 0; c < NELEM(g); c++) {
        int64_t out[20];
        sample_ok(g[c].w, g[c].n, g[c].k, g[c].repl, BL_GENERATOR_FAST, g[c].seed, g[c].epoch, out);
        for (size_t i = 0; i < g[c].k; i++)
            CHECK_MSG(out[i] == g[c].want[i],
                      "golden %zu (seed %" PRIu64 ", epoch %" PRIu64 ", repl %d): index %zu "
                      "is %" PRId64 ", expected %" PRId64 " — the fast stream changed",
                      c, g[c].seed, g[c].epoch, g[c].repl, i, out[i], g[c].want[i]);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* the torch generator against PyTorch's own output                    */
/* ------------------------------------------------------------------ */

static char *fixture_path(const char *name)
{
    const char *dir = getenv("BALLAST_FIXTURES");
    if (!dir || !*dir)
        dir = "tests/conformance";
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    CHECK(p);
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* A non-negative integer < 2^64: a JSON integer, or one beyond 64 bits as
 * the api's parser keeps it (api_parse, api_big_integer). */
static int json_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    const char *s = api_big_integer(v);
    if (s) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-')
            return 0;
        *out = x;
        return 1;
    }
    return 0;
}

/* The fixture file through the product's own parser: jansson refuses
 * integers of 2^63 and above, which seeds in [0, 2^64) reach; api_parse
 * keeps them exactly. */
static json_t *load_fixture(const char *path, const char *text)
{
    api_err e;
    json_t *root = api_parse(text, strlen(text), &e);
    CHECK_MSG(root != NULL, "cannot parse %s: %s", path, e.message);
    return root;
}

START_TEST(test_torch_fixtures)
{
    char *path = fixture_path("sample_cases.json");
    char *text = read_text(path);
    json_t *root = load_fixture(path, text);
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_is_array(cases));
    size_t total = json_array_size(cases), matched = 0, big_seeds = 0;
    ck_assert_uint_gt(total, 0);
    for (size_t c = 0; c < total; c++) {
        json_t *cs = json_array_get(cases, c);
        json_t *req = json_object_get(cs, "request");
        json_t *want = json_object_get(json_object_get(cs, "expected"), "indices");
        const char *name = json_string_value(json_object_get(cs, "name"));
        json_t *jw = json_object_get(req, "weights");
        const char *g = json_string_value(json_object_get(req, "generator"));
        CHECK_MSG(g && !strcmp(g, "torch"), "%s: generator %s", name, g ? g : "(none)");
        uint64_t seed = 0, epoch = 0;
        CHECK_MSG(json_u64(json_object_get(req, "seed"), &seed), "%s: bad seed", name);
        json_t *je = json_object_get(req, "epoch");
        if (je)
            CHECK_MSG(json_u64(je, &epoch), "%s: bad epoch", name);
        big_seeds += seed >= (UINT64_C(1) << 63);
        json_t *jk = json_object_get(req, "num_samples"), *jr = json_object_get(req, "replacement");
        size_t n = json_array_size(jw);
        size_t k = jk ? (size_t)json_integer_value(jk) : n;
        int repl = jr ? json_is_true(jr) : 1;

        double *w = malloc(n * sizeof *w);
        int64_t *out = malloc(k * sizeof *out);
        CHECK(w && out);
        for (size_t i = 0; i < n; i++)
            w[i] = json_number_value(json_array_get(jw, i));
        bl_error err;
        bl_status rc;
        size_t len = k;
        /* "cont_*" and "win_*" cases: stream, shards, windows (README,
         * "Continued streams and windows"); the others through bl_sample */
        const char *stream = json_string_value(json_object_get(req, "stream"));
        json_t *jws = json_object_get(req, "world_size"), *joff = json_object_get(req, "offset");
        json_t *jcnt = json_object_get(req, "count");
        if (stream || jws || joff || jcnt) {
            bl_sample_opts o = bl_sample_opts_default();
            o.generator = BL_GENERATOR_TORCH;
            o.replacement = repl;
            o.seed = seed;
            o.epoch = epoch;
            o.stream =
                stream && !strcmp(stream, "continued") ? BL_STREAM_CONTINUED : BL_STREAM_PER_EPOCH;
            o.world_size = jws ? (size_t)json_integer_value(jws) : 1;
            o.rank = (size_t)json_integer_value(json_object_get(req, "rank"));
            o.offset = joff ? (size_t)json_integer_value(joff) : 0;
            o.count = jcnt ? (size_t)json_integer_value(jcnt) : SIZE_MAX;
            rc = bl_sample_window(w, n, k, &o, out, &len, &err);
        } else {
            rc = bl_sample(w, n, k, repl, BL_GENERATOR_TORCH, seed, epoch, out, &err);
        }
        int ok = rc == BL_OK && json_array_size(want) == len;
        size_t first_bad = 0;
        for (size_t i = 0; ok && i < len; i++)
            if (out[i] != json_integer_value(json_array_get(want, i))) {
                ok = 0;
                first_bad = i;
            }
        if (ok)
            matched++;
        else if (rc != BL_OK)
            fprintf(stderr, "torch fixture %s: error %s\n", name, err.message);
        else
            fprintf(stderr,
                    "torch fixture %s: index %zu is %" PRId64 ", PyTorch gave %" JSON_INTEGER_FORMAT
                    "\n",
                    name, first_bad, out[first_bad],
                    json_integer_value(json_array_get(want, first_bad)));
        free(w);
        free(out);
    }
    printf("torch fixtures: %zu/%zu matched (%zu with seeds >= 2^63)\n", matched, total, big_seeds);
    fflush(stdout);
    json_decref(root);
    free(text);
    free(path);
    ck_assert_uint_gt(big_seeds, 0); /* the >= 2^63 path was exercised */
    CHECK_MSG(matched == total, "%zu of %zu torch fixtures differ", total - matched, total);
}
END_TEST

START_TEST(test_api_parse_big_integers)
{
    /* The product's parser (api/decode.c: api_parse and its big-integer
     * pass), which the fixture loader relies on: whole integer literals of
     * 19+ digits are kept exactly; strings and reals are left alone. */
    const char *text = "{\"seed\":18446744073709551615,\"a\":\"12345678901234567890\",\"b\":[1,-2,"
                       "9223372036854775807,0.12345678901234567890,1234567890123456789e3]}";
    json_t *j = load_fixture("the test document", text);
    uint64_t v;
    CHECK(json_u64(json_object_get(j, "seed"), &v) && v == UINT64_MAX);
    json_t *a = json_object_get(j, "a");
    CHECK(json_is_string(a) && !api_is_placeholder(a));
    ck_assert_str_eq(json_string_value(a), "12345678901234567890");
    json_t *b = json_object_get(j, "b");
    ck_assert_uint_eq(json_array_size(b), 5);
    CHECK(json_integer_value(json_array_get(b, 0)) == 1);
    CHECK(json_integer_value(json_array_get(b, 1)) == -2);
    ck_assert_str_eq(api_big_integer(json_array_get(b, 2)), "9223372036854775807");
    CHECK(json_is_real(json_array_get(b, 3)) &&
          json_real_value(json_array_get(b, 3)) == 0.12345678901234567890);
    CHECK(json_is_real(json_array_get(b, 4)) &&
          json_real_value(json_array_get(b, 4)) == 1234567890123456789e3);
    json_decref(j);
}
END_TEST

/* ------------------------------------------------------------------ */
/* chi-square goodness of fit                                          */
/* ------------------------------------------------------------------ */

/* 51 items: varied weights, one tiny (expected ~70 draws in 10^6), one zero. */
#define CHI_N 51
#define CHI_ZERO 17
#define CHI_TINY 3
static void chi_weights(double *w)
{
    for (size_t i = 0; i < CHI_N; i++)
        w[i] = 0.5 + (double)((i * 13) % 50) / 5.0;
    w[CHI_TINY] = 0.02;
    w[CHI_ZERO] = 0;
}

static void chi2_with_replacement(bl_generator gen, const char *name)
{
    double w[CHI_N], sum = 0;
    chi_weights(w);
    for (size_t i = 0; i < CHI_N; i++)
        sum += w[i];
    const size_t draws = quick() ? 100000 : 1000000;
    int64_t *out = malloc(draws * sizeof *out);
    CHECK(out);
    sample_ok(w, CHI_N, draws, 1, gen, 20240611, 0, out);
    double obs[CHI_N] = {0}, expected[CHI_N];
    for (size_t d = 0; d < draws; d++) {
        CHECK(out[d] >= 0 && out[d] < CHI_N);
        obs[out[d]] += 1;
    }
    for (size_t i = 0; i < CHI_N; i++)
        expected[i] = (double)draws * w[i] / sum;
    CHECK_MSG(obs[CHI_ZERO] == 0, "%s: zero-weight item drawn %g times", name, obs[CHI_ZERO]);
    double x = pearson(obs, expected, CHI_N);
    int dof = CHI_N - 1 - 1; /* 50 categories of non-zero weight */
    char what[96];
    snprintf(what, sizeof what, "%s, with replacement, %zu draws", name, draws);
    report(what, x, dof);
    CHECK_MSG(x < chi2_critical(dof, Z_999), "%s: X = %.3f > %.3f", name, x,
              chi2_critical(dof, Z_999));
    free(out);
}

START_TEST(test_chi2_fast_replacement) { chi2_with_replacement(BL_GENERATOR_FAST, "fast"); }
END_TEST

START_TEST(test_chi2_torch_replacement) { chi2_with_replacement(BL_GENERATOR_TORCH, "torch"); }
END_TEST

/* Without replacement: n = 20 items with weights 1..20 (permuted), k = 5,
 * R independent draws. Three tests:
 *  - the first pick (position 0) is item i with probability w_i / W:
 *    Pearson's chi-square, 19 dof;
 *  - the inclusion counts a_i = #{draws containing i} against the exact
 *    inclusion probabilities pi_i of successive sampling (each next pick in
 *    proportion to the remaining weight — what exponential keys
 *    produce), computed by enumerating all 20*19*18*17*16 ordered draws.
 *    Inclusion indicators are not multinomial (sum a_i = kR exactly, and
 *    they are negatively correlated), so Pearson's sum would not be
 *    chi-square; the Wald statistic d^T Cov^-1 d, d = a - R pi over 19 of
 *    the 20 items (the last one is determined by the others), with the exact
 *    covariance R (pi_ij - pi_i pi_j), is chi-square with 19 dof;
 *  - fast against torch: the same Wald statistic on the difference of the
 *    two generators' inclusion counts, with the covariance 2R (p_ij - p_i p_j)
 *    estimated from both samples pooled (two-sample test, 19 dof). */
#define NR_N 20
#define NR_K 5

static void norepl_weights(double *w)
{
    for (size_t i = 0; i < NR_N; i++)
        w[i] = (double)((i * 7) % NR_N + 1);
}

typedef struct {
    double first[NR_N];     /* draws whose first index is i */
    double incl[NR_N];      /* draws that contain i */
    double co[NR_N * NR_N]; /* draws that contain both i and j (i != j) */
    size_t draws;
} norepl_stats;

static size_t norepl_draws(void) { return quick() ? 20000 : 200000; }

static void collect_norepl(bl_generator gen, norepl_stats *st)
{
    double w[NR_N];
    norepl_weights(w);
    memset(st, 0, sizeof *st);
    st->draws = norepl_draws();
    for (size_t r = 0; r < st->draws; r++) {
        int64_t out[NR_K];
        /* torch: a fresh seed per draw; fast: one seed, a fresh epoch */
        if (gen == BL_GENERATOR_TORCH)
            sample_ok(w, NR_N, NR_K, 0, gen, r, 0, out);
        else
            sample_ok(w, NR_N, NR_K, 0, gen, 7, r, out);
        st->first[out[0]] += 1;
        for (size_t a = 0; a < NR_K; a++) {
            st->incl[out[a]] += 1;
            for (size_t b = 0; b < NR_K; b++)
                if (a != b)
                    st->co[out[a] * NR_N + out[b]] += 1;
        }
    }
}

/* Exact pi_i and pi_ij (i != j) of successive sampling by enumeration. */
static void enum_draws(const double *w, size_t depth, double remaining, double p, int *chosen,
                       unsigned used, double *pi, double *pij)
{
    if (depth == NR_K) {
        for (size_t a = 0; a < NR_K; a++) {
            pi[chosen[a]] += p;
            for (size_t b = 0; b < NR_K; b++)
                if (a != b)
                    pij[chosen[a] * NR_N + chosen[b]] += p;
        }
        return;
    }
    for (int i = 0; i < NR_N; i++) {
        if (used & (1u << i))
            continue;
        chosen[depth] = i;
        enum_draws(w, depth + 1, remaining - w[i], p * w[i] / remaining, chosen, used | (1u << i),
                   pi, pij);
    }
}

static void exact_inclusion(double *pi, double *pij)
{
    double w[NR_N], sum = 0;
    norepl_weights(w);
    for (size_t i = 0; i < NR_N; i++)
        sum += w[i];
    memset(pi, 0, NR_N * sizeof *pi);
    memset(pij, 0, NR_N * NR_N * sizeof *pij);
    int chosen[NR_K];
    enum_draws(w, 0, sum, 1.0, chosen, 0, pi, pij);
    double total = 0;
    for (size_t i = 0; i < NR_N; i++)
        total += pi[i];
    CHECK_MSG(check_close(total, NR_K, (check_tol){0, 1e-9}),
              "sum of inclusion probabilities %.12f", total);
}

static void chi2_without_replacement(bl_generator gen, const char *name)
{
    double w[NR_N], sum = 0;
    norepl_weights(w);
    for (size_t i = 0; i < NR_N; i++)
        sum += w[i];
    norepl_stats *st = malloc(sizeof *st);
    CHECK(st);
    collect_norepl(gen, st);
    const double R = (double)st->draws;
    const int dof = NR_N - 1;
    const double crit = chi2_critical(dof, Z_999);
    char what[96];

    /* first pick: w_i / W */
    double expected[NR_N];
    for (size_t i = 0; i < NR_N; i++)
        expected[i] = R * w[i] / sum;
    double x1 = pearson(st->first, expected, NR_N);
    snprintf(what, sizeof what, "%s, first pick of %d from %d, %zu draws", name, NR_K, NR_N,
             st->draws);
    report(what, x1, dof);

    /* inclusion counts against the exact probabilities */
    double pi[NR_N], *pij = malloc(NR_N * NR_N * sizeof *pij);
    double S[(NR_N - 1) * (NR_N - 1)], d[NR_N - 1];
    CHECK(pij);
    exact_inclusion(pi, pij);
    for (size_t i = 0; i < NR_N - 1; i++) {
        d[i] = st->incl[i] - R * pi[i];
        for (size_t j = 0; j < NR_N - 1; j++)
            S[i * (NR_N - 1) + j] = R * ((i == j ? pi[i] : pij[i * NR_N + j]) - pi[i] * pi[j]);
    }
    double x2 = quad_form_inverse(S, d, NR_N - 1);
    CHECK(x2 >= 0);
    snprintf(what, sizeof what, "%s, inclusion (Wald, exact pi), %zu draws", name, st->draws);
    report(what, x2, dof);

    CHECK_MSG(x1 < crit, "%s first pick: X = %.3f > %.3f", name, x1, crit);
    CHECK_MSG(x2 < crit, "%s inclusion: X = %.3f > %.3f", name, x2, crit);
    free(pij);
    free(st);
}

START_TEST(test_chi2_fast_without_replacement)
{
    chi2_without_replacement(BL_GENERATOR_FAST, "fast");
}
END_TEST

START_TEST(test_chi2_torch_without_replacement)
{
    chi2_without_replacement(BL_GENERATOR_TORCH, "torch");
}
END_TEST

START_TEST(test_chi2_fast_vs_torch_without_replacement)
{
    norepl_stats *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    CHECK(a && b);
    collect_norepl(BL_GENERATOR_FAST, a);
    collect_norepl(BL_GENERATOR_TORCH, b);
    const double R = (double)a->draws;
    const size_t m = NR_N - 1;
    double S[(NR_N - 1) * (NR_N - 1)], d[NR_N - 1], p[NR_N];
    for (size_t i = 0; i < NR_N; i++)
        p[i] = (a->incl[i] + b->incl[i]) / (2 * R);
    for (size_t i = 0; i < m; i++) {
        d[i] = a->incl[i] - b->incl[i];
        for (size_t j = 0; j < m; j++) {
            double pij = i == j ? p[i] : (a->co[i * NR_N + j] + b->co[i * NR_N + j]) / (2 * R);
            S[i * m + j] = 2 * R * (pij - p[i] * p[j]);
        }
    }
    double x = quad_form_inverse(S, d, m);
    CHECK(x >= 0);
    char what[96];
    snprintf(what, sizeof what, "fast vs torch, inclusion (two-sample Wald), 2x%zu", a->draws);
    report(what, x, (int)m);
    CHECK_MSG(x < chi2_critical((double)m, Z_999), "X = %.3f", x);
    free(a);
    free(b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* without replacement                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_without_replacement_properties)
{
    /* 300 items, every third one zero: 200 of non-zero weight */
    enum { N = 300 };
    double w[N];
    size_t nonzero = 0;
    for (size_t i = 0; i < N; i++) {
        w[i] = (i % 3 == 1) ? 0 : 1.0 + (double)(i % 17) * 0.37;
        nonzero += w[i] > 0;
    }
    ck_assert_uint_eq(nonzero, 200);
    for (size_t g = 0; g < NELEM(GENS); g++)
        for (uint64_t seed = 0; seed < 20; seed++) {
            const size_t ks[] = {1, 7, 100, 199, 200};
            for (size_t t = 0; t < NELEM(ks); t++) {
                int64_t out[N];
                unsigned char seen[N] = {0};
                sample_ok(w, N, ks[t], 0, GENS[g], seed, seed % 3, out);
                for (size_t i = 0; i < ks[t]; i++) {
                    CHECK_MSG(out[i] >= 0 && out[i] < N, "%s: index %" PRId64, GEN_NAMES[g],
                              out[i]);
                    CHECK_MSG(w[out[i]] > 0, "%s seed %" PRIu64 " k %zu: zero-weight %" PRId64,
                              GEN_NAMES[g], seed, ks[t], out[i]);
                    CHECK_MSG(!seen[out[i]], "%s seed %" PRIu64 " k %zu: %" PRId64 " twice",
                              GEN_NAMES[g], seed, ks[t], out[i]);
                    seen[out[i]] = 1;
                }
                /* k == number of non-zero weights: every one of them, once */
                if (ks[t] == nonzero)
                    for (size_t i = 0; i < N; i++)
                        CHECK(seen[i] == (w[i] > 0));
            }
        }

    /* one non-zero weight among zeros, k = 1 */
    double one[] = {0, 0, 0, 5e-300, 0};
    for (size_t g = 0; g < NELEM(GENS); g++) {
        int64_t out[1];
        sample_ok(one, 5, 1, 0, GENS[g], 3, 0, out);
        ck_assert_int_eq(out[0], 3);
    }
}
END_TEST

START_TEST(test_without_replacement_too_many)
{
    double w[] = {1, 0, 2, 0, 3};
    int64_t out[5];
    for (size_t g = 0; g < NELEM(GENS); g++) {
        bl_error err;
        bl_status rc = bl_sample(w, 5, 4, 0, GENS[g], 1, 0, out, &err);
        check_error(rc, &err, BL_EINVAL, "num_samples", -1, "non-zero");
        CHECK_MSG(strstr(err.message, "4") && strstr(err.message, "3"), "%s", err.message);
        rc = bl_sample(w, 5, 6, 0, GENS[g], 1, 0, out, &err);
        check_error(rc, &err, BL_EINVAL, "num_samples", -1, "without replacement");
        /* with replacement the same k is fine */
        sample_ok(w, 5, 5, 1, GENS[g], 1, 0, out);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* with replacement                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_zero_weights_never_drawn)
{
    /* zeros first, last, in runs and between tiny and huge weights */
    double w[] = {0, 0, 3, 0, 1e-12, 0, 0, 7, 0, 1e6, 0, 0.5, 0, 0};
    const size_t n = NELEM(w), k = quick() ? 20000 : 200000;
    int64_t *out = malloc(k * sizeof *out);
    CHECK(out);
    for (size_t g = 0; g < NELEM(GENS); g++)
        for (uint64_t seed = 0; seed < 3; seed++) {
            sample_ok(w, n, k, 1, GENS[g], seed, 0, out);
            for (size_t d = 0; d < k; d++) {
                CHECK(out[d] >= 0 && (size_t)out[d] < n);
                /* torch: index 0 is drawn iff its uniform is exactly 0 (the
                 * cumulative-sum search's first c_j >= u is then c_0 = 0),
                 * probability 2^-53 — PyTorch's own behaviour */
                if (GENS[g] == BL_GENERATOR_TORCH && out[d] == 0)
                    continue;
                CHECK_MSG(w[out[d]] > 0, "%s seed %" PRIu64 ": draw %zu is zero-weight %" PRId64,
                          GEN_NAMES[g], seed, d, out[d]);
            }
        }
    /* a single item, and a single non-zero one */
    double single[] = {2.5}, last[] = {0, 0, 0, 0, 1};
    int64_t o[50];
    for (size_t g = 0; g < NELEM(GENS); g++) {
        sample_ok(single, 1, 50, 1, GENS[g], 9, 0, o);
        for (int i = 0; i < 50; i++)
            ck_assert_int_eq(o[i], 0);
        sample_ok(last, 5, 50, 1, GENS[g], 9, 0, o);
        for (int i = 0; i < 50; i++)
            ck_assert_int_eq(o[i], 4);
    }
    free(out);
}
END_TEST

/* Tiny weights: the sum is so small that n / sum overflows a double (any
 * sum below n / DBL_MAX, e.g. a lone 1e-308 among zeros, or subnormals).
 * The draw must still follow the weights, and never give a zero-weight
 * item. (This found a bug in the fast alias table: 0 * inf = NaN put every
 * item in the "large" list and made the draw uniform over all n items.) */
START_TEST(test_tiny_weights)
{
    enum { K = 20000 };
    static const double cases[][6] = {
        {1e-308, 0, 0, 0, 0, 0},                       /* normal, n / sum = 6e308 */
        {0, 5e-324, 0, 0, 0, 0},                       /* the smallest subnormal */
        {0, 1e-310, 0, 3e-310, 0, 0},                  /* subnormals, 1 : 3 */
        {2.2250738585072014e-308, 0, 0, 0, 0, 1e-309}, /* DBL_MIN and a subnormal */
    };
    int64_t *out = malloc(K * sizeof *out);
    CHECK(out);
    for (size_t c = 0; c < NELEM(cases); c++) {
        const double *w = cases[c];
        double sum = 0;
        for (size_t i = 0; i < 6; i++)
            sum += w[i];
        for (size_t g = 0; g < NELEM(GENS); g++)
            for (int repl = 0; repl <= 1; repl++) {
                size_t k = repl ? K : 1, hits[6] = {0};
                sample_ok(w, 6, k, repl, GENS[g], 31, 0, out);
                for (size_t d = 0; d < k; d++) {
                    CHECK(out[d] >= 0 && out[d] < 6);
                    hits[out[d]]++;
                    CHECK_MSG(w[out[d]] > 0,
                              "case %zu, %s, repl %d: zero-weight item %" PRId64 " drawn", c,
                              GEN_NAMES[g], repl, out[d]);
                }
                if (!repl)
                    continue;
                /* frequencies within 6 binomial standard deviations */
                for (size_t i = 0; i < 6; i++) {
                    double p = w[i] / sum, sd = sqrt(k * p * (1 - p));
                    CHECK_MSG(fabs((double)hits[i] - k * p) <= 6 * sd + 1e-9,
                              "case %zu, %s: item %zu drawn %zu times, expected %.1f", c,
                              GEN_NAMES[g], i, hits[i], k * p);
                }
            }
    }
    /* a thousand subnormal weights, the even ones zero */
    enum { N = 1000 };
    double *w = malloc(N * sizeof *w);
    CHECK(w);
    for (size_t i = 0; i < N; i++)
        w[i] = (i % 2) ? (double)(i + 1) * 1e-320 : 0;
    for (size_t g = 0; g < NELEM(GENS); g++) {
        sample_ok(w, N, K, 1, GENS[g], 5, 0, out);
        for (size_t d = 0; d < K; d++)
            CHECK_MSG(w[out[d]] > 0, "%s: zero-weight item %" PRId64 " drawn", GEN_NAMES[g],
                      out[d]);
    }
    free(w);
    free(out);
}
END_TEST

START_TEST(test_more_samples_than_items)
{
    double w[] = {1, 2, 3};
    int64_t out[1000];
    for (size_t g = 0; g < NELEM(GENS); g++) {
        sample_ok(w, 3, 1000, 1, GENS[g], 5, 0, out);
        size_t c[3] = {0};
        for (int i = 0; i < 1000; i++) {
            CHECK(out[i] >= 0 && out[i] < 3);
            c[out[i]]++;
        }
        CHECK(c[0] > 0 && c[1] > 0 && c[2] > 0);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

START_TEST(test_errors)
{
    int64_t out[4];
    bl_error err;
    for (size_t g = 0; g < NELEM(GENS); g++)
        for (int repl = 0; repl <= 1; repl++) {
            bl_generator gen = GENS[g];
            check_error(bl_sample(NULL, 0, 1, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", -1, "empty");
            double neg[] = {1, 2, 3, -0.5};
            check_error(bl_sample(neg, 4, 2, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", 3, "weights[3]");
            double nan_[] = {1, NAN, 3};
            check_error(bl_sample(nan_, 3, 2, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", 1, "weights[1]");
            double inf_[] = {INFINITY, 1};
            check_error(bl_sample(inf_, 2, 1, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", 0, "finite");
            double ninf[] = {1, -INFINITY};
            check_error(bl_sample(ninf, 2, 1, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", 1, "weights[1]");
            double zeros[] = {0, 0, 0};
            check_error(bl_sample(zeros, 3, 1, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", -1, "sum to 0");
            double ok[] = {1, 2};
            check_error(bl_sample(ok, 2, 0, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "num_samples", -1, "at least 1");
            /* finite weights whose sum overflows */
            double big[] = {1.5e308, 1.5e308};
            check_error(bl_sample(big, 2, 1, repl, gen, 0, 0, out, &err), &err, BL_EINVAL,
                        "weights", -1, "overflow");
            /* err may be NULL */
            ck_assert_int_eq(bl_sample(zeros, 3, 1, repl, gen, 0, 0, out, NULL), BL_EINVAL);
        }
}
END_TEST

/* A value outside bl_generator is refused (before: generator 7 silently
 * ran "fast"), and so are missing arrays. */
START_TEST(test_errors_bad_arguments)
{
    double w[] = {1, 2, 3};
    int64_t out[2] = {-5, -5};
    bl_error err;
    check_error(bl_sample(w, 3, 2, 1, (bl_generator)7, 0, 0, out, &err), &err, BL_EINVAL,
                "generator", -1, "generator 7");
    check_error(bl_sample(w, 3, 2, 0, (bl_generator)-1, 0, 0, out, &err), &err, BL_EINVAL,
                "generator", -1, "generator -1");
    CHECK(out[0] == -5 && out[1] == -5);
    check_error(bl_sample(NULL, 3, 2, 1, BL_GENERATOR_FAST, 0, 0, out, &err), &err, BL_EINVAL,
                "weights", -1, "NULL");
    check_error(bl_sample(w, 3, 2, 1, BL_GENERATOR_TORCH, 0, 0, NULL, &err), &err, BL_EINVAL, "out",
                -1, "NULL");
}
END_TEST

/*
 * torch without replacement when keys tie: a subnormal weight's key w / q
 * underflows to 0 (or two subnormal keys round alike) and ties with the
 * zero weights' keys; PyTorch returns the tied items in the order its
 * topk's libstdc++ sort leaves them, not by index. The expected indices are
 * PyTorch 1.13's (tests/unit/gen_sample_ties.py); w_i = pattern[(i *
 * stride) % len]. The first is the issue's: [0, 0, 5e-324, 1], k 2, seed 6
 * gave [3, 0] (a zero-weight item; ties by lower index), PyTorch [3, 2].
 */
static const double PAT_Z[] = {0.0, 0.0, 5e-324, 1.0};
static const double PAT_S[] = {0.0, 5e-324, 0.0, 1e-323, 0.0};
static const double PAT_M[] = {0.0, 5e-324, 1.0, 0.0, 2.5e-323, 0.0, 3.0};
static const double PAT_T[] = {5e-324, 5e-324, 1e-320, 0.0};

static const struct {
    const char *pattern;
    size_t stride, n, k;
    uint64_t seed;
    int64_t expected[40];
} torch_ties[] = {
    /* generated by tests/unit/gen_sample_ties.py (PyTorch 1.13.0a0) */
    {"Z", 1, 4, 2, 6ull, {3, 2}},
    {"Z", 1, 4, 2, 1ull, {3, 2}},
    {"S", 1, 5, 2, 0ull, {1, 3}},
    {"S", 3, 40, 8, 42ull, {1, 37, 16, 31, 2, 27, 11, 32}},
    {"S", 7, 64, 17, 7ull, {13, 14, 18, 44, 28, 39, 34, 23, 54, 43, 33, 29, 63, 38, 24, 49, 48}},
    {"M", 1, 7, 4, 3ull, {6, 2, 4, 1}},
    {"M", 5, 100, 40, 5ull, {46, 53, 60, 25, 4,  32, 11, 74, 27, 13, 39, 95, 67, 81,
                             18, 76, 88, 69, 41, 48, 55, 6,  20, 83, 90, 97, 62, 34,
                             47, 75, 26, 54, 89, 96, 33, 19, 82, 40, 94, 73}},
    {"T", 1, 12, 6, 123ull, {2, 6, 10, 1, 9, 4}},
    {"S", 1, 130, 2, 10816711431088224012ull, {78, 6}},
    {"S", 3, 200, 3, 9979333009600810770ull, {142, 132, 76}},
    {"S", 1, 300, 4, 3272ull, {283, 213, 238, 83}},
    {"Z", 2, 257, 4, 17564662360470815376ull, {147, 145, 67, 109}},
    {"Z",
     2,
     1000,
     15,
     14092169962693151086ull,
     {543, 615, 43, 651, 169, 971, 687, 967, 279, 561, 849, 361, 207, 311, 551}},
    {"M", 3, 300, 4, 11ull, {240, 261, 150, 143}},
    {"T", 5, 257, 4, 9223372036854775809ull, {234, 14, 62, 186}},
};

START_TEST(test_torch_ties_as_pytorch)
{
    for (size_t c = 0; c < NELEM(torch_ties); c++) {
        const double *pat = NULL;
        size_t len = 0;
        switch (torch_ties[c].pattern[0]) {
        case 'Z':
            pat = PAT_Z, len = NELEM(PAT_Z);
            break;
        case 'S':
            pat = PAT_S, len = NELEM(PAT_S);
            break;
        case 'M':
            pat = PAT_M, len = NELEM(PAT_M);
            break;
        default:
            pat = PAT_T, len = NELEM(PAT_T);
            break;
        }
        size_t n = torch_ties[c].n, k = torch_ties[c].k;
        double *w = malloc(n * sizeof *w);
        int64_t out[40];
        CHECK(w && k <= NELEM(out));
        for (size_t i = 0; i < n; i++)
            w[i] = pat[(i * torch_ties[c].stride) % len];
        sample_ok(w, n, k, 0, BL_GENERATOR_TORCH, torch_ties[c].seed, 0, out);
        for (size_t j = 0; j < k; j++)
            CHECK_MSG(out[j] == torch_ties[c].expected[j],
                      "case %zu (%s x%zu, n %zu, k %zu, seed %" PRIu64 "): [%zu] = %" PRId64
                      ", PyTorch %" PRId64,
                      c, torch_ties[c].pattern, torch_ties[c].stride, n, k, torch_ties[c].seed, j,
                      out[j], torch_ties[c].expected[j]);
        free(w);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* seeds and epochs                                                    */
/* ------------------------------------------------------------------ */

static int same(const int64_t *a, const int64_t *b, size_t k)
{
    return memcmp(a, b, k * sizeof *a) == 0;
}

START_TEST(test_seed_epoch)
{
    enum { N = 1000, K = 200 };
    double w[N];
    for (size_t i = 0; i < N; i++)
        w[i] = 1 + (double)(i % 10);
    int64_t a[K], b[K];
    for (size_t g = 0; g < NELEM(GENS); g++)
        for (int repl = 0; repl <= 1; repl++) {
            bl_generator gen = GENS[g];
            /* the same (seed, epoch) reproduces */
            sample_ok(w, N, K, repl, gen, 42, 3, a);
            sample_ok(w, N, K, repl, gen, 42, 3, b);
            CHECK_MSG(same(a, b, K), "%s repl %d: not reproducible", GEN_NAMES[g], repl);
            /* another epoch, another seed: another stream */
            for (uint64_t e = 0; e < 6; e++) {
                if (e == 3)
                    continue;
                sample_ok(w, N, K, repl, gen, 42, e, b);
                CHECK_MSG(!same(a, b, K), "%s repl %d: epoch %" PRIu64 " == epoch 3", GEN_NAMES[g],
                          repl, e);
            }
            sample_ok(w, N, K, repl, gen, 43, 3, b);
            CHECK(!same(a, b, K));
        }

    /* torch seeds the generator with (seed + epoch) mod 2^64, as documented */
    for (int repl = 0; repl <= 1; repl++) {
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, 42, 3, a);
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, 45, 0, b);
        CHECK(same(a, b, K));
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, UINT64_MAX, 1, a);
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, 0, 0, b);
        CHECK(same(a, b, K));
        /* and only its low 32 bits reach MT19937, like manual_seed */
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, (UINT64_C(1) << 32) + 7, 0, a);
        sample_ok(w, N, K, repl, BL_GENERATOR_TORCH, 7, 0, b);
        CHECK(same(a, b, K));
    }
    /* the fast stream keeps seed and epoch apart: (42, 3) != (45, 0) != (3, 42),
     * and it uses all 64 bits of the seed */
    for (int repl = 0; repl <= 1; repl++) {
        sample_ok(w, N, K, repl, BL_GENERATOR_FAST, 42, 3, a);
        sample_ok(w, N, K, repl, BL_GENERATOR_FAST, 45, 0, b);
        CHECK(!same(a, b, K));
        sample_ok(w, N, K, repl, BL_GENERATOR_FAST, 3, 42, b);
        CHECK(!same(a, b, K));
        sample_ok(w, N, K, repl, BL_GENERATOR_FAST, (UINT64_C(1) << 32) + 7, 0, a);
        sample_ok(w, N, K, repl, BL_GENERATOR_FAST, 7, 0, b);
        CHECK(!same(a, b, K));
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* bl_shard                                                            */
/* ------------------------------------------------------------------ */

/* bl_shard that must succeed; returns the share's size. */
static size_t shard_ok(const int64_t *draw, size_t k, size_t ws, size_t rank, int64_t *out)
{
    size_t count = 12345, size = 54321;
    bl_error err;
    bl_status rc = bl_shard(draw, k, ws, rank, out, &count, &err);
    CHECK_MSG(rc == BL_OK, "bl_shard(k %zu, ws %zu, rank %zu): %s", k, ws, rank, err.message);
    CHECK(bl_shard_size(k, ws, rank, &size, &err) == BL_OK && size == count);
    return count;
}

/* Checks the shards of draw[0..k) over world_size ranks against
 * DistributedSampler(drop_last=False): pad by wrapping round from the start
 * (as often as needed) to total = ceil(k / ws) * ws; rank r gets
 * padded[r], padded[r + ws], ... */
static void check_shards(const int64_t *draw, size_t k, size_t ws)
{
    size_t per = (k + ws - 1) / ws, total = per * ws;
    int64_t *padded = malloc(total * sizeof *padded), *mine = malloc(per * sizeof *mine);
    unsigned char *hit = calloc(total, 1);
    CHECK(padded && mine && hit);
    for (size_t i = 0; i < total; i++) /* indices += indices * ceil(...) */
        padded[i] = draw[i % k];
    for (size_t r = 0; r < ws; r++) {
        size_t got = shard_ok(draw, k, ws, r, mine);
        CHECK_MSG(got == per, "k %zu ws %zu rank %zu: %zu indices, expected %zu", k, ws, r, got,
                  per);
        for (size_t j = 0; j < per; j++) {
            size_t pos = r + j * ws;
            CHECK_MSG(mine[j] == padded[pos], "k %zu ws %zu rank %zu: [%zu]", k, ws, r, j);
            CHECK(!hit[pos]);
            hit[pos] = 1;
        }
    }
    /* interleaved back, the shards are the padded draw, every slot once */
    for (size_t i = 0; i < total; i++)
        CHECK(hit[i]);
    free(padded);
    free(mine);
    free(hit);
}

START_TEST(test_shard)
{
    int64_t draw[23];
    for (size_t i = 0; i < NELEM(draw); i++)
        draw[i] = 1000 + (int64_t)i * 7;

    /* k = 10, ws = 3: total 12, padded = d0..d9 d0 d1 */
    int64_t out[8];
    ck_assert_uint_eq(shard_ok(draw, 10, 3, 0, out), 4);
    CHECK(out[0] == draw[0] && out[1] == draw[3] && out[2] == draw[6] && out[3] == draw[9]);
    ck_assert_uint_eq(shard_ok(draw, 10, 3, 1, out), 4);
    CHECK(out[0] == draw[1] && out[1] == draw[4] && out[2] == draw[7] && out[3] == draw[0]);
    ck_assert_uint_eq(shard_ok(draw, 10, 3, 2, out), 4);
    CHECK(out[0] == draw[2] && out[1] == draw[5] && out[2] == draw[8] && out[3] == draw[1]);

    /* world_size > k, wrapping more than once: k = 3, ws = 8 */
    for (size_t r = 0; r < 8; r++) {
        ck_assert_uint_eq(shard_ok(draw, 3, 8, r, out), 1);
        CHECK(out[0] == draw[r % 3]);
    }
    /* world_size 1: the draw itself */
    int64_t all[23];
    ck_assert_uint_eq(shard_ok(draw, 23, 1, 0, all), 23);
    CHECK(same(all, draw, 23));

    /* every k and world_size up to 23 */
    for (size_t k = 1; k <= 23; k++)
        for (size_t ws = 1; ws <= 25; ws++)
            check_shards(draw, k, ws);
}
END_TEST

START_TEST(test_shard_errors)
{
    int64_t draw[5] = {1, 2, 3, 4, 5}, out[5];
    size_t count = 99, size = 99;
    bl_error err;
    check_error(bl_shard(draw, 5, 0, 0, out, &count, &err), &err, BL_EINVAL, "world_size", -1,
                "at least 1");
    check_error(bl_shard(draw, 5, 2, 2, out, &count, &err), &err, BL_EINVAL, "rank", -1,
                "rank = 2 must be in [0, world_size = 2)");
    check_error(bl_shard_size(5, 0, 0, &size, &err), &err, BL_EINVAL, "world_size", -1,
                "at least 1");
    check_error(bl_shard_size(5, 3, 7, &size, &err), &err, BL_EINVAL, "rank", -1, "rank = 7");
    CHECK(count == 99 && size == 99);
    check_error(bl_shard(NULL, 5, 2, 0, out, &count, &err), &err, BL_EINVAL, "draw", -1, "NULL");
    check_error(bl_shard(draw, 5, 2, 0, NULL, &count, &err), &err, BL_EINVAL, "out", -1, "NULL");
    ck_assert_int_eq(bl_shard(draw, 5, 2, 0, out, NULL, &err), BL_EINVAL);
    /* an empty draw has an empty share (no division by k = 0) */
    ck_assert_int_eq(bl_shard(NULL, 0, 3, 2, NULL, &count, &err), BL_OK);
    ck_assert_uint_eq(count, 0);
    /* sizes that would overflow k + world_size - 1 */
    ck_assert_int_eq(bl_shard_size(SIZE_MAX, SIZE_MAX, 0, &size, &err), BL_OK);
    ck_assert_uint_eq(size, 1);
    ck_assert_int_eq(bl_shard_size(SIZE_MAX, 2, 1, &size, &err), BL_OK);
    ck_assert_uint_eq(size, SIZE_MAX / 2 + 1);
}
END_TEST

START_TEST(test_shard_of_sample)
{
    /* the shards of a weighted draw, as every rank would compute them */
    double w[] = {5, 1, 0, 3, 2, 8, 0.5};
    int64_t draw[37];
    for (size_t g = 0; g < NELEM(GENS); g++) {
        sample_ok(w, NELEM(w), 37, 1, GENS[g], 11, 2, draw);
        for (size_t ws = 1; ws <= 8; ws++)
            check_shards(draw, 37, ws);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* more than 2^24 items                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_more_than_2p24_items)
{
    /* n = 2^24 + 6: PyTorch refuses more than 2^24 categories; ballast has
     * no such limit. The heavy item is the last, 2^24 + 5, and a medium one
     * sits at 2^24 + 1: both odd numbers above 2^24, which a float32 cannot
     * hold, so an index that passed through single precision would come out
     * wrong. Everything else weighs 1e-10 (1.7e-3 in all). */
    const size_t n = (UINT64_C(1) << 24) + 6, heavy = n - 1, medium = (UINT64_C(1) << 24) + 1;
    const size_t k = quick() ? 5000 : 50000;
    double *w = malloc(n * sizeof *w);
    int64_t *out = malloc(k * sizeof *out);
    CHECK(w && out);
    for (size_t i = 0; i < n; i++)
        w[i] = 1e-10;
    w[heavy] = 1;
    w[medium] = 0.1;
    double rest = (double)(n - 2) * 1e-10, sum = 1.1 + rest;
    double p_heavy = 1 / sum, p_medium = 0.1 / sum;
    for (size_t g = 0; g < NELEM(GENS); g++) {
        sample_ok(w, n, k, 1, GENS[g], 2024, 1, out);
        size_t nh = 0, nm = 0;
        for (size_t d = 0; d < k; d++) {
            CHECK_MSG(out[d] >= 0 && (size_t)out[d] < n, "%s: index %" PRId64, GEN_NAMES[g],
                      out[d]);
            nh += (size_t)out[d] == heavy;
            nm += (size_t)out[d] == medium;
        }
        /* binomial counts within 6 standard deviations */
        double sh = sqrt(k * p_heavy * (1 - p_heavy)), sm = sqrt(k * p_medium * (1 - p_medium));
        printf("n = 2^24 + 6, %s: heavy %zu (expected %.1f), medium %zu (expected %.1f), "
               "other %zu of %zu\n",
               GEN_NAMES[g], nh, k * p_heavy, nm, k * p_medium, k - nh - nm, k);
        fflush(stdout);
        CHECK_MSG(fabs(nh - k * p_heavy) < 6 * sh, "%s: heavy drawn %zu times", GEN_NAMES[g], nh);
        CHECK_MSG(fabs(nm - k * p_medium) < 6 * sm, "%s: medium drawn %zu times", GEN_NAMES[g], nm);
        CHECK(nh > k * 0.85);
    }
    free(w);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *sample_suite(void)
{
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("rng");
    tcase_add_test(tc, test_mt19937_reference);
    tcase_add_test(tc, test_mt19937_low_32_bits);
    tcase_add_test(tc, test_mt19937_uniform);
    tcase_add_test(tc, test_xoshiro_reference);
    tcase_add_test(tc, test_xoshiro_seeding_model);
    tcase_add_test(tc, test_xoshiro_golden);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_add_test(tc, test_fast_golden_draws);
    suite_add_tcase(s, tc);

    tc = tcase_create("torch_conformance");
    tcase_add_test(tc, test_api_parse_big_integers);
    tcase_add_test(tc, test_torch_fixtures);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);

    tc = tcase_create("chi_square");
    tcase_add_test(tc, test_chi2_fast_replacement);
    tcase_add_test(tc, test_chi2_torch_replacement);
    tcase_add_test(tc, test_chi2_fast_without_replacement);
    tcase_add_test(tc, test_chi2_torch_without_replacement);
    tcase_add_test(tc, test_chi2_fast_vs_torch_without_replacement);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);

    tc = tcase_create("properties");
    tcase_add_test(tc, test_without_replacement_properties);
    tcase_add_test(tc, test_without_replacement_too_many);
    tcase_add_test(tc, test_zero_weights_never_drawn);
    tcase_add_test(tc, test_tiny_weights);
    tcase_add_test(tc, test_more_samples_than_items);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_errors_bad_arguments);
    tcase_add_test(tc, test_torch_ties_as_pytorch);
    tcase_add_test(tc, test_seed_epoch);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);

    tc = tcase_create("shard");
    tcase_add_test(tc, test_shard);
    tcase_add_test(tc, test_shard_errors);
    tcase_add_test(tc, test_shard_of_sample);
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_add_test(tc, test_more_than_2p24_items);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(sample_suite)
