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
 */
#include <math.h>

#include "vmath.h"

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
        if (__builtin_cpu_supports("avx512f"))                                                     \
            return name##_8(x, o, n);                                                              \
        if (__builtin_cpu_supports("avx2"))                                                        \
            return name##_4(x, o, n);                                                              \
        return name##_2(x, o, n);                                                                  \
    }

DEFINE_KERNELS(vexp, exp)
DEFINE_KERNELS(vlog1p, log1p)

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
