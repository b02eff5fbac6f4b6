/*
 * vmath.h — libballast's private vector math: exp and log1p over arrays,
 * and the softmax statistics of rows (cross_entropy's vector path).
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

/* The softmax statistics of `rows` contiguous rows of C logits (cross_entropy's
 * vector path, lib/loss.c), with d_c = z_c - m:
 *   m  the row's max, am its index: the first on a tie, a NaN never the max
 *      unless it is z_0 (the comparisons v > best, in class order);
 *   R  NaN if m is not finite, else 0, then + (c != am ? exp(d_c) : 0.0)
 *      for c = 0, 1, ..., C-1 in that order;
 *   D  0, and with want_D + w_c d_c (d_c when w is NULL) in class order;
 *   e  (when not NULL) exp(d_c), row-major like the input.
 * L rows at a time (L = 8 with AVX-512, 4 with AVX2: blp_vexp's lanes), each
 * in a lane of its own, so that every row sees the operations of that
 * definition in its order: the results are those of a loop over the rows,
 * bit for bit. exp is blp_vexp's own L-lane vector function, which computes
 * each lane alone. */
typedef struct {
    const double *z;         /* the rows as doubles, or NULL ...          */
    const unsigned char *zf; /* ... as float32 (any alignment)            */
    size_t rows, C;
    const double *w; /* D's weights, or NULL for all 1                   */
    int want_D;
    double *m, *am, *R, *D; /* per row; am exact as a double              */
    double *e;              /* rows x C, or NULL                          */
} blp_rowstats;

/* Fills rows [0, k) of a and returns k: rows / L * L where blp_vexp has L =
 * 8 or 4 lanes and C <= BLP_ROWSTATS_MAXC, else 0 (the caller does the
 * rest). k C being a multiple of L, blp_vexp from element k C on gives every
 * element the bits one blp_vexp over all rows x C would give it (the same
 * elements fall in its scalar tail). */
#define BLP_ROWSTATS_MAXC 64
BLP_HIDDEN size_t blp_rowstats_vec(const blp_rowstats *a);

/* For tests and benchmarks only; the product never calls it. From now on
 * blp_vexp, blp_vlog1p and blp_rowstats_vec use at most `lanes` lanes (8, 4
 * or 2; 0, the default: the CPU's widest), never more than the CPU has, and
 * with rows == 0 blp_rowstats_vec does no row (returns 0). Not thread-safe:
 * call it while no other thread computes. */
BLP_HIDDEN void blp_vmath_force(int lanes, int rows);

#endif
