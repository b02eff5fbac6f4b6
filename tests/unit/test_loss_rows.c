/*
 * test_loss_rows.c — the vector path of class-index cross_entropy and focal
 * over (N, C) (lib/loss.c index_block, eight rows at a time in
 * blp_rowstats_vec of lib/vmath.c where the CPU has AVX-512, four where it
 * has AVX2, one row at a time otherwise), and the float32 finiteness scan of
 * a .npy input (api/loss.c).
 *
 * What is checked, and against what:
 *   - per (reduction none) and grad over (N, C) equal those over (N, C, 2)
 *     with each logit twice, which every position computes alone
 *     (index_position, libm's exp):
 *     the same NaN and infinity at the same places, the rest within the
 *     vector exp's few ulp; with logits that hold NaN, infinities, ties and
 *     signed zeros, in the first class and elsewhere, for N around the
 *     multiples of 8 and 16 and the 409-row blocks of C = 10, C from 1 to
 *     65, with class weights, label smoothing, ignore_index and focal;
 *   - float32 logits with the same specials answer to the bit as their
 *     doubles (test_loss_f32.c does so with finite logits);
 *   - with the vector width forced to 8 and to 4 lanes (blp_vmath_force, so
 *     that a machine with AVX-512 runs the AVX2 kernel too), the rows kernel
 *     answers to the bit as the loop over the rows with the same width
 *     forced (what a CPU of that width computed before the kernel): per,
 *     grad, value and total_weight of every reduction, float32 and float64,
 *     for every C from 1 to 65 and N around the multiples of 4, 8 and 16
 *     and the blocks; and the kernel does rows / 4 * 4 (or / 8 * 8) rows;
 *   - a float32 .npy logits part with one or two values that are not
 *     finite, before, at and after the scan's blocks of 256 values, is
 *     refused naming the first of them.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ballast.h"
#include "check_close.h"
#include "check_main.h"
#include "vmath.h"

static uint64_t lcg_state = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1p-53;
}

/* A logit: mostly uniform in [-4, 4), with ties (small integers) and,
 * when specials, NaN, +-inf and +-0. */
static double logit(int specials)
{
    double u = urand();
    if (specials && u < 0.04)
        return NAN;
    if (specials && u < 0.07)
        return u < 0.055 ? INFINITY : -INFINITY;
    if (specials && u < 0.10)
        return u < 0.085 ? 0.0 : -0.0;
    if (u < 0.25)
        return (double)(int)(urand() * 3);
    return urand() * 8 - 4;
}

static const size_t rows_n[] = {8, 15, 16, 17, 24, 33, 409, 410, 819, 1000};
static const size_t rows_c[] = {1, 2, 3, 7, 8, 10, 17, 64, 65};
#define N_ROWS_N (sizeof rows_n / sizeof rows_n[0])
#define N_ROWS_C (sizeof rows_c / sizeof rows_c[0])

typedef struct {
    size_t N, C;
    double *x;
    float *xf;
    int64_t *y;
    double *w;
} rows_data;

static rows_data rows_alloc(size_t N, size_t C, int specials)
{
    rows_data d;
    d.N = N;
    d.C = C;
    d.x = malloc(d.N * d.C * sizeof *d.x);
    d.xf = malloc(d.N * d.C * sizeof *d.xf);
    d.y = malloc(d.N * sizeof *d.y);
    d.w = malloc(d.C * sizeof *d.w);
    ck_assert(d.x && d.xf && d.y && d.w);
    for (size_t k = 0; k < d.N * d.C; k++) {
        d.xf[k] = (float)logit(specials);
        d.x[k] = d.xf[k];
    }
    for (size_t n = 0; n < d.N; n++)
        d.y[n] = urand() < 0.1 ? -100 : (int64_t)(urand() * (double)d.C);
    for (size_t c = 0; c < d.C; c++)
        d.w[c] = 0.25 + urand();
    return d;
}

static rows_data rows_make(int i, int specials)
{
    return rows_alloc(rows_n[(size_t)i % N_ROWS_N], rows_c[(size_t)i / N_ROWS_N % N_ROWS_C],
                      specials);
}

static void rows_free(rows_data *d)
{
    free(d->x);
    free(d->xf);
    free(d->y);
    free(d->w);
}

/* Options by v: weights, label smoothing, focal, gradient. */
static bl_loss_args rows_args(const rows_data *d, int v)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = v & 4 ? BL_LOSS_FOCAL : BL_LOSS_CROSS_ENTROPY;
    a.input = d->x;
    a.ndim = 2;
    a.shape[0] = d->N;
    a.shape[1] = d->C;
    a.target_index = d->y;
    a.reduction = BL_REDUCTION_NONE;
    if (v & 1) {
        a.weights = d->w;
        a.weights_len = d->C;
    }
    if ((v & 2) && !(v & 4))
        a.label_smoothing = 0.15;
    return a;
}

static void run(const bl_loss_args *a, double *per, double *grad)
{
    bl_loss_result r = {0, 0, per, grad};
    bl_error e;
    ck_assert_msg(bl_loss(a, &r, &e) == BL_OK, "%s", e.message);
}

/* (N, C) against (N, C, 2) holding every logit twice: inner size 2 takes
 * the path of one position at a time (index_position), whose exp is libm's.
 * 16 option sets for each shape. */
START_TEST(test_rows_vs_positions)
{
    rows_data d = rows_make(_i, 1);
    const size_t NC = d.N * d.C;
    const check_tol tol = {1e-12, 1e-15};
    double *p1 = malloc(d.N * sizeof *p1), *p2 = malloc(2 * d.N * sizeof *p2);
    double *g1 = malloc(NC * sizeof *g1), *g2 = malloc(2 * NC * sizeof *g2);
    double *x2 = malloc(2 * NC * sizeof *x2);
    int64_t *y2 = malloc(2 * d.N * sizeof *y2);
    ck_assert(p1 && p2 && g1 && g2 && x2 && y2);
    for (size_t k = 0; k < 2 * NC; k++)
        x2[k] = d.x[k / 2];
    for (size_t n = 0; n < 2 * d.N; n++)
        y2[n] = d.y[n / 2];
    for (int v = 0; v < 16; v++) {
        bl_loss_args a = rows_args(&d, v);
        int with_grad = v & 8;
        run(&a, p1, with_grad ? g1 : NULL);
        a.input = x2;
        a.target_index = y2;
        a.ndim = 3;
        a.shape[2] = 2;
        run(&a, p2, with_grad ? g2 : NULL);
        for (size_t n = 0; n < 2 * d.N; n++)
            ck_assert_msg(check_close(p1[n / 2], p2[n], tol),
                          "N %zu C %zu options %d: per[%zu] %.17g, alone %.17g", d.N, d.C, v, n / 2,
                          p1[n / 2], p2[n]);
        for (size_t k = 0; with_grad && k < 2 * NC; k++)
            ck_assert_msg(check_close(g1[k / 2], g2[k], tol),
                          "N %zu C %zu options %d: grad[%zu] %.17g, alone %.17g", d.N, d.C, v,
                          k / 2, g1[k / 2], g2[k]);
    }
    free(p1);
    free(p2);
    free(g1);
    free(g2);
    free(x2);
    free(y2);
    rows_free(&d);
}
END_TEST

/* float32 logits with NaN, infinities and signed zeros: the bits of their
 * doubles' results. */
START_TEST(test_rows_f32_specials)
{
    rows_data d = rows_make(_i, 1);
    double *p1 = malloc(d.N * sizeof *p1), *p2 = malloc(d.N * sizeof *p2);
    double *g1 = malloc(d.N * d.C * sizeof *g1), *g2 = malloc(d.N * d.C * sizeof *g2);
    ck_assert(p1 && p2 && g1 && g2);
    for (int v = 0; v < 16; v++) {
        bl_loss_args a = rows_args(&d, v);
        double *g = v & 8 ? g1 : NULL, *h = v & 8 ? g2 : NULL;
        run(&a, p1, g);
        a.input = NULL;
        a.input_f32 = d.xf;
        run(&a, p2, h);
        ck_assert_msg(memcmp(p1, p2, d.N * sizeof *p1) == 0, "N %zu C %zu options %d: per", d.N,
                      d.C, v);
        ck_assert_msg(!g || memcmp(g1, g2, d.N * d.C * sizeof *g1) == 0,
                      "N %zu C %zu options %d: grad", d.N, d.C, v);
    }
    free(p1);
    free(p2);
    free(g1);
    free(g2);
    rows_free(&d);
}
END_TEST

/* The outputs of one bl_loss call, for comparing two paths to the bit. */
typedef struct {
    double *per, *grad;
    bl_loss_result r;
} lane_out;

static void lane_run(const bl_loss_args *a, int with_grad, int lanes, int rows, lane_out *o)
{
    blp_vmath_force(lanes, rows);
    size_t NC = a->shape[0] * a->shape[1];
    memset(o->per, 0xA5, a->shape[0] * sizeof *o->per);
    memset(o->grad, 0xA5, NC * sizeof *o->grad);
    o->r = (bl_loss_result){0, 0, a->reduction == BL_REDUCTION_NONE ? o->per : NULL,
                            with_grad ? o->grad : NULL};
    bl_error e;
    ck_assert_msg(bl_loss(a, &o->r, &e) == BL_OK, "%s", e.message);
    blp_vmath_force(0, 1);
}

/* The rows kernel of `lanes` lanes against the loop over the rows with
 * blp_vexp of the same width, every option set of d, float64 and float32,
 * with reduction none; sum, mean and sum_over_batch_size too where there is
 * a gradient (which they scale; their value is reduced from the same
 * per-row losses). */
static void lanes_compare(const rows_data *d, int lanes, lane_out *k, lane_out *l)
{
    static const bl_reduction red[] = {BL_REDUCTION_NONE, BL_REDUCTION_SUM, BL_REDUCTION_MEAN,
                                       BL_REDUCTION_SUM_OVER_BATCH_SIZE};
    const size_t NC = d->N * d->C;
    for (int v = 0; v < 32; v++)
        for (size_t r = 0; r < (v & 8 ? 4 : 1); r++) {
            bl_loss_args a = rows_args(d, v & 15);
            a.reduction = red[r];
            if (v & 16) {
                a.input = NULL;
                a.input_f32 = d->xf;
            }
            int g = v & 8;
            lane_run(&a, g, lanes, 1, k);
            lane_run(&a, g, lanes, 0, l);
            ck_assert_msg(
                memcmp(&k->r.value, &l->r.value, sizeof k->r.value) == 0 &&
                    memcmp(&k->r.total_weight, &l->r.total_weight, sizeof k->r.total_weight) == 0,
                "lanes %d N %zu C %zu options %d reduction %zu: value %.17g, rows %.17g", lanes,
                d->N, d->C, v, r, k->r.value, l->r.value);
            ck_assert_msg(r != 0 || memcmp(k->per, l->per, d->N * sizeof *k->per) == 0,
                          "lanes %d N %zu C %zu options %d: per", lanes, d->N, d->C, v);
            ck_assert_msg(!g || memcmp(k->grad, l->grad, NC * sizeof *k->grad) == 0,
                          "lanes %d N %zu C %zu options %d reduction %zu: grad", lanes, d->N, d->C,
                          v, r);
        }
}

/* How many rows blp_rowstats_vec does with `lanes` forced: rows / L * L,
 * L the lanes the CPU gives (at most `lanes`), 0 without a rows kernel or
 * when C > BLP_ROWSTATS_MAXC. */
static size_t lanes_expected(int lanes, size_t N, size_t C)
{
    if (C > BLP_ROWSTATS_MAXC)
        return 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(BL_NO_MVEC)
    if (lanes >= 8 && __builtin_cpu_supports("avx512f"))
        return N / 8 * 8;
    if (lanes >= 4 && __builtin_cpu_supports("avx2"))
        return N / 4 * 4;
#endif
    (void)lanes, (void)N, (void)C;
    return 0;
}

static void lanes_count(const rows_data *d, int lanes)
{
    double *st = malloc(4 * d->N * sizeof *st);
    ck_assert(st);
    blp_rowstats a = {.z = d->x,
                      .rows = d->N,
                      .C = d->C,
                      .m = st,
                      .am = st + d->N,
                      .R = st + 2 * d->N,
                      .D = st + 3 * d->N};
    blp_vmath_force(lanes, 1);
    size_t k = blp_rowstats_vec(&a);
    blp_vmath_force(0, 1);
    ck_assert_msg(k == lanes_expected(lanes, d->N, d->C), "lanes %d N %zu C %zu: %zu rows", lanes,
                  d->N, d->C, k);
    free(st);
}

/* C = _i, from 1 to 65 (the kernels take C <= 64), each N of lanes_n. */
START_TEST(test_rows_lanes)
{
    static const size_t lanes_n[] = {1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20, 31, 33, 409, 410};
    for (size_t i = 0; i < sizeof lanes_n / sizeof lanes_n[0]; i++) {
        rows_data d = rows_alloc(lanes_n[i], (size_t)_i, 1);
        const size_t NC = d.N * d.C;
        lane_out k = {
            malloc(d.N * sizeof(double)), malloc(NC * sizeof(double)), {0, 0, NULL, NULL}};
        lane_out l = {
            malloc(d.N * sizeof(double)), malloc(NC * sizeof(double)), {0, 0, NULL, NULL}};
        ck_assert(k.per && k.grad && l.per && l.grad);
        for (int lanes = 8; lanes >= 4; lanes /= 2) {
            lanes_count(&d, lanes);
            lanes_compare(&d, lanes, &k, &l);
        }
        free(k.per);
        free(k.grad);
        free(l.per);
        free(l.grad);
        rows_free(&d);
    }
}
END_TEST

/* A float32 .npy of (300, 10) logits with values that are not finite at
 * bad[0] and bad[1] (-1: none), one byte into its buffer (any alignment). */
static void post_f32(const int bad[2], float what, bl_api_result *r, bl_api_code *code)
{
    enum { N = 300, C = 10 };
    static unsigned char buf[1 + 128 + N * C * 4];
    unsigned char *b = buf + 1;
    char h[118];
    memset(h, ' ', sizeof h);
    int k = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                     N, C);
    h[k] = ' ';
    h[117] = '\n';
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = 118;
    b[9] = 0;
    memcpy(b + 10, h, sizeof h);
    for (int i = 0; i < N * C; i++) {
        float f = i == bad[0] || i == bad[1] ? what : (float)(i % 7) * 0.5f - 1.5f;
        memcpy(b + 128 + 4 * i, &f, 4);
    }
    static unsigned char yb[128 + N * 8];
    memcpy(yb, b, 128);
    k = snprintf(h, sizeof h, "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }", N);
    memset(h + k, ' ', sizeof h - (size_t)k);
    h[117] = '\n';
    memcpy(yb + 10, h, sizeof h);
    for (int i = 0; i < N; i++) {
        int64_t y = i % C;
        memcpy(yb + 128 + 8 * i, &y, 8);
    }
    bl_api_part parts[2] = {{"logits", b, 128 + N * C * 4}, {"targets", yb, sizeof yb}};
    bl_api_config cfg = bl_api_config_default();
    bl_api_request req = {NULL, 0, parts, 2, BL_API_JSON};
    *code = bl_api_handle(&cfg, "loss", &req, r);
}

START_TEST(test_f32_scan)
{
    static const int at[][2] = {{0, -1},    {255, -1},  {256, -1},  {257, -1},  {511, 2000},
                                {700, 701}, {1000, 40}, {2815, -1}, {2816, -1}, {2999, -1}};
    static const float what[] = {NAN, INFINITY, -INFINITY};
    int bad[2] = {at[_i][0], at[_i][1]};
    int first = bad[1] >= 0 && bad[1] < bad[0] ? bad[1] : bad[0];
    char want[64];
    snprintf(want, sizeof want, "logits[%d][%d]", first / 10, first % 10);
    for (size_t w = 0; w < 3; w++) {
        bl_api_result r;
        bl_api_code code;
        post_f32(bad, what[w], &r, &code);
        ck_assert_int_eq(code, BL_API_INVALID_ARGUMENT);
        ck_assert_str_eq(r.error_field, want);
        ck_assert_msg(r.body && strstr(r.body, "must be a finite number"), "%s", r.body);
        free(r.body);
    }
    int none[2] = {-1, -1};
    bl_api_result r;
    bl_api_code code;
    post_f32(none, 0, &r, &code);
    ck_assert_int_eq(code, BL_API_OK);
    free(r.body);
}
END_TEST

static Suite *rows_suite(void)
{
    Suite *s = suite_create("loss_rows");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_rows_vs_positions, 0, (int)(N_ROWS_N * N_ROWS_C));
    tcase_add_loop_test(tc, test_rows_f32_specials, 0, (int)(N_ROWS_N * N_ROWS_C));
    tcase_add_loop_test(tc, test_f32_scan, 0, 10);
    tcase_add_loop_test(tc, test_rows_lanes, 1, 66);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(rows_suite)
