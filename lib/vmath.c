/*
 * vmath.c — exp and log1p over arrays, for the losses' inner loops.
 *
 * On x86-64 with glibc these call the vector variants of libmvec (glibc's
 * vector math library): 8 lanes with AVX-512, 4 with AVX2, 2 with the
 * SSE2 baseline every x86-64 has, chosen at run time from the CPU. glibc
 * documents their error as at most 4 ulp, about 1e-15 relative, well inside
 * the 1e-12 that ballast promises against PyTorch. Elsewhere, and for the
 * tail of an array, the scalar libm functions are used.
 *
 * Results are deterministic for a given machine, but the last bit may
 * differ between CPUs with and without AVX-512 or AVX2.
 *
 * blp_rowstats_vec gives cross_entropy's vector path (lib/loss.c
 * index_block) the max, argmax and sums of eight rows at a time with
 * AVX-512, four with AVX2, a row in each lane: the rows are gathered class
 * by class, so the loop over the classes is the scalar loop's, in its
 * order, and exp is blp_vexp's own vector function (8 or 4 lanes), called
 * on d_c as it comes instead of from an array.
 */
#include <math.h>

#include "vmath.h"

/* blp_vmath_force's settings, for tests and benchmarks only: the product
 * never sets them, so they stay 0 (the CPU's widest vector, and the rows
 * kernels on) and are only ever read. */
static int force_lanes, force_no_rows;

void blp_vmath_force(int lanes, int rows)
{
    force_lanes = lanes;
    force_no_rows = !rows;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(BL_NO_MVEC)
#include <immintrin.h>

/* The vector ABI names of glibc's libmvec (x86_64 vector function ABI). */
__m128d _ZGVbN2v_exp(__m128d);
__m128d _ZGVbN2v_log1p(__m128d);
__attribute__((target("avx2"))) __m256d _ZGVdN4v_exp(__m256d);
__attribute__((target("avx2"))) __m256d _ZGVdN4v_log1p(__m256d);
__attribute__((target("avx512f"))) __m512d _ZGVeN8v_exp(__m512d);
__attribute__((target("avx512f"))) __m512d _ZGVeN8v_log1p(__m512d);

#define DEFINE_KERNELS(name, scalar)                                                               \
    __attribute__((target("avx512f"))) static size_t name##_8(const double *x, double *o,          \
                                                              size_t n)                            \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm512_storeu_pd(o + i, _ZGVeN8v_##scalar(_mm512_loadu_pd(x + i)));                    \
        return i;                                                                                  \
    }                                                                                              \
    __attribute__((target("avx2"))) static size_t name##_4(const double *x, double *o, size_t n)   \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 4 <= n; i += 4)                                                                 \
            _mm256_storeu_pd(o + i, _ZGVdN4v_##scalar(_mm256_loadu_pd(x + i)));                    \
        return i;                                                                                  \
    }                                                                                              \
    static size_t name##_2(const double *x, double *o, size_t n)                                   \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + 2 <= n; i += 2)                                                                 \
            _mm_storeu_pd(o + i, _ZGVbN2v_##scalar(_mm_loadu_pd(x + i)));                          \
        return i;                                                                                  \
    }                                                                                              \
    static size_t name##_wide(const double *x, double *o, size_t n)                                \
    {                                                                                              \
        int w = lanes();                                                                           \
        return w == 8 ? name##_8(x, o, n) : w == 4 ? name##_4(x, o, n) : name##_2(x, o, n);        \
    }

/* The vector width of blp_vexp, blp_vlog1p and blp_rowstats_vec: the
 * widest the CPU has, at most force_lanes when that is set. */
static int lanes(void)
{
    int most = force_lanes ? force_lanes : 8;
    if (most >= 8 && __builtin_cpu_supports("avx512f"))
        return 8;
    if (most >= 4 && __builtin_cpu_supports("avx2"))
        return 4;
    return 2;
}

DEFINE_KERNELS(vexp, exp)
DEFINE_KERNELS(vlog1p, log1p)

/* Eight rows (from element at of a) as doubles into t, class-major: t[8 c
 * + j] = row j's class c. Gathers, whose element addresses need no
 * alignment; float32 two classes at a time, idx's lanes 8 to 15 being
 * those of 0 to 7 plus one. Conversion from float32 is exact. */
__attribute__((target("avx512f"))) static void rows8_fill(const blp_rowstats *a, size_t at,
                                                          __m512i idx, double *t)
{
    const size_t C = a->C;
    if (a->z) {
        for (size_t c = 0; c < C; c++)
            _mm512_store_pd(t + 8 * c,
                            _mm512_i32gather_pd(_mm512_castsi512_si256(idx), a->z + at + c, 8));
        return;
    }
    const unsigned char *f = a->zf + at * sizeof(float);
    size_t c = 0;
    for (; c + 2 <= C; c += 2) {
        __m512 v = _mm512_i32gather_ps(idx, f + c * sizeof(float), 4);
        __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        _mm512_store_pd(t + 8 * c, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        _mm512_store_pd(t + 8 * c + 8, _mm512_cvtps_pd(hi));
    }
    if (c < C) {
        __m512 v =
            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xff, idx, f + c * sizeof(float), 4);
        _mm512_store_pd(t + 8 * c, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    }
}

/* blp_rowstats_vec for rows r0 .. r0 + 7, each lane a row, the classes in
 * order, so that every row sees the operations of the scalar definition.
 * First the max and argmax, the rows as doubles parked in t (8 C). */
__attribute__((target("avx512f"))) static void rows8_max(const blp_rowstats *a, size_t r0,
                                                         __m512i idx, double *t)
{
    const size_t C = a->C;
    rows8_fill(a, r0 * C, idx, t);
    __m512d best = _mm512_load_pd(t), am = _mm512_setzero_pd();
    for (size_t c = 1; c < C; c++) {
        __m512d v = _mm512_load_pd(t + 8 * c);
        __mmask8 gt = _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ);
        am = _mm512_mask_mov_pd(am, gt, _mm512_set1_pd((double)c));
        best = _mm512_mask_mov_pd(best, gt, v);
    }
    _mm512_storeu_pd(a->m + r0, best);
    _mm512_storeu_pd(a->am + r0, am);
}

/* Then R and D (and e) from t, m and am. */
__attribute__((target("avx512f"))) static void rows8_exp(const blp_rowstats *a, size_t r0,
                                                         __m512i idx, const double *t)
{
    const size_t C = a->C, at = r0 * C;
    __m512d best = _mm512_loadu_pd(a->m + r0), am = _mm512_loadu_pd(a->am + r0);
    __mmask8 fin = _mm512_cmp_pd_mask(_mm512_abs_pd(best), _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
    __m512d R = _mm512_mask_mov_pd(_mm512_set1_pd(NAN), fin, _mm512_setzero_pd());
    __m512d D = _mm512_setzero_pd();
    for (size_t c = 0; c < C; c++) {
        __m512d d = _mm512_sub_pd(_mm512_load_pd(t + 8 * c), best);
        if (a->want_D)
            D = _mm512_add_pd(D, a->w ? _mm512_mul_pd(_mm512_set1_pd(a->w[c]), d) : d);
        __m512d e = _ZGVeN8v_exp(d);
        if (a->e)
            _mm512_i32scatter_pd(a->e + at + c, _mm512_castsi512_si256(idx), e, 8);
        __mmask8 not_am = _mm512_cmp_pd_mask(am, _mm512_set1_pd((double)c), _CMP_NEQ_UQ);
        R = _mm512_add_pd(R, _mm512_maskz_mov_pd(not_am, e)); /* + 0.0 at the max */
    }
    _mm512_storeu_pd(a->R + r0, R);
    _mm512_storeu_pd(a->D + r0, D);
}

/* Sixteen rows at a time where there are, the two maxima's chains of
 * comparisons side by side. */
__attribute__((target("avx512f"))) static size_t rowstats_8(const blp_rowstats *a)
{
    _Alignas(64) double t[2][8 * BLP_ROWSTATS_MAXC];
    const int C = (int)a->C;
    __m512i idx =
        _mm512_setr_epi32(0, C, 2 * C, 3 * C, 4 * C, 5 * C, 6 * C, 7 * C, 1, C + 1, 2 * C + 1,
                          3 * C + 1, 4 * C + 1, 5 * C + 1, 6 * C + 1, 7 * C + 1);
    size_t r0 = 0;
    for (; r0 + 8 <= a->rows; r0 += 16) {
        int two = r0 + 16 <= a->rows;
        rows8_max(a, r0, idx, t[0]);
        if (two)
            rows8_max(a, r0 + 8, idx, t[1]);
        rows8_exp(a, r0, idx, t[0]);
        if (!two)
            return r0 + 8;
        rows8_exp(a, r0 + 8, idx, t[1]);
    }
    return r0;
}

/* The same with AVX2, four rows at a time: rows4_fill, rows4_max and
 * rows4_exp are rows8_fill, rows8_max and rows8_exp with 4 lanes. AVX2 has
 * no scatter: e's values are parked in t, then written row by row. */
__attribute__((target("avx2"))) static void rows4_fill(const blp_rowstats *a, size_t at,
                                                       __m256i idx, double *t)
{
    const size_t C = a->C;
    if (a->z) {
        for (size_t c = 0; c < C; c++)
            _mm256_store_pd(t + 4 * c,
                            _mm256_i32gather_pd(a->z + at + c, _mm256_castsi256_si128(idx), 8));
        return;
    }
    const unsigned char *f = a->zf + at * sizeof(float);
    size_t c = 0;
    for (; c + 2 <= C; c += 2) {
        __m256 v =
            _mm256_i32gather_ps((const float *)(const void *)(f + c * sizeof(float)), idx, 4);
        _mm256_store_pd(t + 4 * c, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        _mm256_store_pd(t + 4 * c + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    if (c < C) {
        __m128 v = _mm_i32gather_ps((const float *)(const void *)(f + c * sizeof(float)),
                                    _mm256_castsi256_si128(idx), 4);
        _mm256_store_pd(t + 4 * c, _mm256_cvtps_pd(v));
    }
}

__attribute__((target("avx2"))) static void rows4_max(const blp_rowstats *a, size_t r0, __m256i idx,
                                                      double *t)
{
    const size_t C = a->C;
    rows4_fill(a, r0 * C, idx, t);
    __m256d best = _mm256_load_pd(t), am = _mm256_setzero_pd();
    for (size_t c = 1; c < C; c++) {
        __m256d v = _mm256_load_pd(t + 4 * c);
        __m256d gt = _mm256_cmp_pd(v, best, _CMP_GT_OQ);
        am = _mm256_blendv_pd(am, _mm256_set1_pd((double)c), gt);
        /* MAXPD gives v where v > best, else best (a NaN or a zero
         * included): the scalar best = v > best ? v : best. */
        best = _mm256_max_pd(v, best);
    }
    _mm256_storeu_pd(a->m + r0, best);
    _mm256_storeu_pd(a->am + r0, am);
}

__attribute__((target("avx2"))) static void rows4_exp(const blp_rowstats *a, size_t r0, double *t)
{
    const size_t C = a->C;
    __m256d best = _mm256_loadu_pd(a->m + r0), am = _mm256_loadu_pd(a->am + r0);
    __m256d fin = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), best),
                                _mm256_set1_pd(INFINITY), _CMP_LT_OQ);
    __m256d R = _mm256_blendv_pd(_mm256_set1_pd(NAN), _mm256_setzero_pd(), fin);
    __m256d D = _mm256_setzero_pd();
    for (size_t c = 0; c < C; c++) {
        __m256d d = _mm256_sub_pd(_mm256_load_pd(t + 4 * c), best);
        if (a->want_D)
            D = _mm256_add_pd(D, a->w ? _mm256_mul_pd(_mm256_set1_pd(a->w[c]), d) : d);
        __m256d e = _ZGVdN4v_exp(d);
        _mm256_store_pd(t + 4 * c, e);
        __m256d not_am = _mm256_cmp_pd(am, _mm256_set1_pd((double)c), _CMP_NEQ_UQ);
        R = _mm256_add_pd(R, _mm256_and_pd(not_am, e)); /* + 0.0 at the max */
    }
    _mm256_storeu_pd(a->R + r0, R);
    _mm256_storeu_pd(a->D + r0, D);
    for (size_t j = 0; a->e && j < 4; j++)
        for (size_t c = 0; c < C; c++)
            a->e[(r0 + j) * C + c] = t[4 * c + j];
}

/* Eight rows at a time where there are, as rowstats_8 sixteen. */
__attribute__((target("avx2"))) static size_t rowstats_4(const blp_rowstats *a)
{
    _Alignas(32) double t[2][4 * BLP_ROWSTATS_MAXC];
    const int C = (int)a->C;
    __m256i idx = _mm256_setr_epi32(0, C, 2 * C, 3 * C, 1, C + 1, 2 * C + 1, 3 * C + 1);
    size_t r0 = 0;
    for (; r0 + 4 <= a->rows; r0 += 8) {
        int two = r0 + 8 <= a->rows;
        rows4_max(a, r0, idx, t[0]);
        if (two)
            rows4_max(a, r0 + 4, idx, t[1]);
        rows4_exp(a, r0, t[0]);
        if (!two)
            return r0 + 4;
        rows4_exp(a, r0 + 4, t[1]);
    }
    return r0;
}

size_t blp_rowstats_vec(const blp_rowstats *a)
{
    if (force_no_rows || a->C == 0 || a->C > BLP_ROWSTATS_MAXC)
        return 0;
    int w = lanes();
    return w == 8 ? rowstats_8(a) : w == 4 ? rowstats_4(a) : 0;
}

#else
static size_t vexp_wide(const double *x, double *o, size_t n)
{
    (void)x, (void)o, (void)n;
    return 0;
}
static size_t vlog1p_wide(const double *x, double *o, size_t n)
{
    (void)x, (void)o, (void)n;
    return 0;
}
size_t blp_rowstats_vec(const blp_rowstats *a)
{
    (void)a, (void)force_no_rows, (void)force_lanes;
    return 0;
}
#endif

void blp_vexp(const double *x, double *out, size_t n)
{
    for (size_t i = vexp_wide(x, out, n); i < n; i++)
        out[i] = exp(x[i]);
}

void blp_vlog1p(const double *x, double *out, size_t n)
{
    for (size_t i = vlog1p_wide(x, out, n); i < n; i++)
        out[i] = log1p(x[i]);
}
