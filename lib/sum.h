/*
 * sum.h — Neumaier's compensated sum, the one copy that every sum in
 * libballast uses (the losses' sums over positions, the class weights'
 * sums of counts and of weights, the multi-label sample weights, the
 * long-tail losses' priors).
 *
 * Neumaier's variant of Kahan summation (Neumaier 1974): s + c is the sum
 * to about one ulp whatever the order of magnitudes. Once s stops being
 * finite, c is meaningless (inf - inf), so the result is s alone: a sum
 * that overflows is inf (or NaN when it meets both infinities), never a
 * NaN made by the compensation.
 */
#ifndef BALLAST_SUM_H
#define BALLAST_SUM_H

#include <math.h>

typedef struct {
    double s; /* running sum */
    double c; /* the low-order bits s has lost */
} blp_sum;

static inline void sum_add(blp_sum *a, double x)
{
    double t = a->s + x;
    if (fabs(a->s) >= fabs(x))
        a->c += (a->s - t) + x;
    else
        a->c += (x - t) + a->s;
    a->s = t;
}

static inline double sum_get(const blp_sum *a) { return isfinite(a->s) ? a->s + a->c : a->s; }

#endif
