/*
 * vmath.h — libballast's private vector math: exp and log1p over arrays.
 */
#ifndef BALLAST_VMATH_H
#define BALLAST_VMATH_H

#include <stddef.h>

/* Private to libballast: not exported from libballast.so. */
#if defined(__GNUC__)
#define BLP_HIDDEN __attribute__((visibility("hidden")))
#else
#define BLP_HIDDEN
#endif

/* out[i] = exp(x[i]) for i < n; x and out may be the same array. Can't
 * fail. Within 4 ulp of the exact value (glibc's libmvec bound). */
BLP_HIDDEN void blp_vexp(const double *x, double *out, size_t n);
/* out[i] = log1p(x[i]); as blp_vexp. */
BLP_HIDDEN void blp_vlog1p(const double *x, double *out, size_t n);

#endif
