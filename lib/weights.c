/*
 * weights.c — class weights from class counts.
 *
 * Every scheme is a function of one class's count n_c and of statistics
 * over the classes that take part: C (their number), N (their total), their
 * maximum and their median. With zero_counts_allowed a class of count 0
 * takes no part: it gets weight 0 and is left out of every statistic, so
 * that adding an empty class never changes the others.
 *
 * bl_class_weights runs in three steps: check_weights_args (every refusal),
 * weights_stats (the statistics), then one scheme_weight() per class, a
 * switch with one case and one reference per scheme (normalised by
 * plain_weights or normalize_scale).
 *
 * Exactness. Counts may span the whole double range (1e-300 and 1e300 in
 * one request), where N, C n_c, a frequency n_c / N or a sum of weights
 * overflows or underflows although the weight itself is an ordinary number.
 * So values are held as pairs (m, e) worth m 2^e (frexp / ldexp) and turned
 * into doubles only at the end. Scaling by 2^e is exact: where the plain
 * formula neither overflows nor underflows, the result is the plain
 * formula's double, bit for bit, and beyond that range it is the exact
 * value up to the same few roundings (at most 3 ulp against 60-digit
 * references, 2 for unnormalised weights):
 *   - N is a compensated (Neumaier) sum of the counts scaled by 2^-E, 2^E
 *     the largest count's binade: N 2^-E is in [0.5, C] and within about
 *     one rounding of the exact sum;
 *   - a double-double over a double-double (N / (C n_c) with C n_c an exact
 *     product, the sum of the two middle counts over 2 n_c) is rounded
 *     about once, by dd_div, rather than two or three times;
 *   - no frequency is formed: median(f) / f_c = median(n) / n_c, and
 *     ln(c + n_c / N) = log1p((c - 1) + n_c / N);
 *   - normalising divides by the sum (or maximum) of the weights held in
 *     the binade of the largest weight: it cannot overflow, and as every
 *     weight of a positive count is > 0 it cannot fail either.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "sum.h"

bl_weights_opts bl_weights_opts_default(void)
{
    bl_weights_opts o = {
        .scheme = BL_SCHEME_MAX_OVER_COUNT,
        .beta = 0.999,
        .c = 1.02,
        .exponent = 1,
        .threshold = 0.001,
        .normalize = BL_NORMALIZE_NONE,
        .zero_counts_allowed = 0,
    };
    return o;
}

/* ------------------------------------------------------------------ */
/* Arithmetic beyond the double range                                  */
/* ------------------------------------------------------------------ */
/* When every count lies in [2^-200, 2^200] nothing comes near the ends of
 * the range, and all of this reduces to plain doubles of exponent 0 (the
 * common case, ~1.5x the cost of the plain formulas; the general path
 * recomputes each weight up to three times). */

/* m 2^e: a value whose exponent need not fit a double's. */
typedef struct {
    double m;
    int e;
} xnum;

/* The same value with m in [0.5, 1) (or 0), so that xnums compare. */
static xnum xnum_norm(xnum x)
{
    int k = 0;
    x.m = frexp(x.m, &k);
    x.e = x.m != 0 ? x.e + k : 0;
    return x;
}

/* a > b, for normalised a, b >= 0. */
static int xnum_greater(xnum a, xnum b)
{
    if (b.m == 0)
        return a.m > 0;
    return a.m > 0 && (a.e > b.e || (a.e == b.e && a.m > b.m));
}

/* (a / b) 2^e as a double, rounded once even when the result is
 * subnormal: rounding a / b to 53 bits and then to fewer in ldexp could
 * round twice, so there the quotient is formed from a normal numerator
 * a 2^-900 and the denominator scaled up instead. a / b lies in
 * [2^-60, 2^30] here (the callers' mantissas), so a subnormal result means
 * e < -960; below e = -1900 it is 0 either way. */
static double scaled_quotient(double a, double b, int e)
{
    if (e == 0)
        return a / b;
    double r = ldexp(a / b, e);
    if (r < DBL_MIN && e > -1900 && e < -900)
        r = ldexp(a, -900) / ldexp(b, -900 - e);
    return r;
}

/* The rounding error of the product a b: a b = fl(a b) + two_prod_err(a, b)
 * exactly (Dekker 1971, with Veltkamp's splitting), for |a b| well inside
 * the double range. Inline arithmetic: fma() is a library call. */
static inline double two_prod_err(double a, double b)
{
    const double split = 134217729.0; /* 2^27 + 1 */
    double p = a * b;
    double ta = split * a, ah = ta - (ta - a), al = a - ah;
    double tb = split * b, bh = tb - (tb - b), bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/* (ah + al) / (bh + bl) for double-doubles (|al| <= ulp(ah) / 2, likewise
 * bl), rounded about once: the quotient ah / bh corrected by its remainder,
 * which fma computes exactly (Dekker 1971; Bailey's QD library, dd_div).
 * With both low parts 0 it is the plain quotient, bit for bit. */
static double dd_div(double ah, double al, double bh, double bl)
{
    double q = ah / bh;
    if (al == 0 && bl == 0)
        return q;
    double r = fma(-q, bh, ah) + al - q * bl;
    return q + r / bh;
}

/* ------------------------------------------------------------------ */
/* Checks and statistics                                               */
/* ------------------------------------------------------------------ */

/* Every reason bl_class_weights refuses its arguments, in the order a user
 * would fix them. Returns C, the number of positive counts, in *used. */
static bl_status check_weights_args(const double *counts, size_t n, const bl_weights_opts *o,
                                    const double *out, size_t *used, bl_error *err)
{
    if (!o)
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "bl_class_weights needs options (see bl_weights_opts_default)");
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "counts", -1,
                            "counts is empty: give at least one class");
    if (!counts || !out)
        return bl_error_set(err, BL_EINVAL, counts ? "out" : "counts", -1,
                            "%s is NULL for %zu classes", counts ? "out" : "counts", n);
    if (!bl_scheme_name(o->scheme))
        return bl_error_set(err, BL_EINVAL, "scheme", -1, "scheme %d is not a bl_scheme (0 to %d)",
                            (int)o->scheme, BL_SCHEME_COUNT - 1);
    if (!bl_normalize_name(o->normalize))
        return bl_error_set(err, BL_EINVAL, "normalize", -1,
                            "normalize %d is not a bl_normalize (0 to %d)", (int)o->normalize,
                            BL_NORMALIZE_COUNT - 1);
    if (o->scheme == BL_SCHEME_EFFECTIVE_NUMBER && !(o->beta >= 0 && o->beta < 1))
        return bl_error_set(err, BL_EINVAL, "beta", -1, "beta = %g is outside [0, 1)", o->beta);
    if (o->scheme == BL_SCHEME_ENET && !(o->c > 1 && isfinite(o->c)))
        return bl_error_set(err, BL_EINVAL, "c", -1, "c = %g must be a finite number > 1", o->c);
    if (o->scheme == BL_SCHEME_POWER && !(o->exponent >= 0 && o->exponent <= 64))
        return bl_error_set(err, BL_EINVAL, "exponent", -1, "exponent = %g is outside [0, 64]",
                            o->exponent);
    if (o->scheme == BL_SCHEME_REPEAT_FACTOR)
        return bl_error_set(err, BL_EINVAL, "scheme", -1,
                            "scheme repeat_factor needs the number of images besides the "
                            "counts: use bl_multilabel_weights with the images' label sets");
    *used = 0;
    for (size_t i = 0; i < n; i++) {
        double v = counts[i];
        if (!isfinite(v) || v < 0)
            return bl_error_set(err, BL_EINVAL, "counts", (int64_t)i,
                                "class %zu has count %g: counts must be finite numbers >= 0", i, v);
        if (v == 0 && !o->zero_counts_allowed)
            return bl_error_set(err, BL_EINVAL, "counts", (int64_t)i,
                                "class %zu has count 0; its weight would be infinite "
                                "(send \"zero_counts\": \"zero\" to give it weight 0)",
                                i);
        *used += v > 0;
    }
    if (*used == 0)
        return bl_error_set(err, BL_EINVAL, "counts", -1, "all %zu counts are zero", n);
    return BL_OK;
}

/* What the schemes need besides a class's own count. */
typedef struct {
    bl_scheme scheme;
    int plain;             /* every positive count in [2^-200, 2^200]: see weights_stats */
    double used;           /* C, the number of positive counts (exact up to 2^53) */
    xnum max;              /* the largest count, normalised                       */
    double n_hi, n_lo;     /* N 2^-max.e = n_hi + n_lo, a double-double in [0.5, C] */
    double med_hi, med_lo; /* a + b = (med_hi + med_lo) 2^med_e, a <= b the two   */
    int med_e;             /*   middle counts (the same one twice for odd C)      */
    double one_minus_beta; /* effective_number: 1 - beta                         */
    double log_beta;       /*   ln beta (-inf for beta = 0)                        */
    double c_minus_1;      /* enet: c - 1 > 0, exact for c <= 2 (Sterbenz)       */
    double exponent;       /* power: q                                          */
} wstats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The two middle counts a <= b of the positive ones (numpy.median takes
 * their mean; for odd C both are the middle count), summed exactly in b's
 * binade (or as they are, when plain): a + b = hi + lo (Knuth's two-sum;
 * a 2^-e underflows only where it is below b 2^-1021, beyond any rounding
 * of the sum). */
static bl_status median_pair(const double *counts, size_t n, wstats *st, bl_error *err)
{
    size_t m = 0, used = (size_t)st->used;
    double *v = malloc(used * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for the median of %zu counts",
                            used);
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0)
            v[m++] = counts[i];
    qsort(v, m, sizeof *v, cmp_double);
    double a = v[(m - 1) / 2], b = v[m / 2];
    free(v);
    st->med_e = 0;
    if (!st->plain) {
        frexp(b, &st->med_e);
        a = ldexp(a, -st->med_e);
        b = ldexp(b, -st->med_e);
    }
    st->med_hi = a + b;
    double bb = st->med_hi - a;
    st->med_lo = (a - (st->med_hi - bb)) + (b - bb);
    return BL_OK;
}

static bl_status weights_stats(const double *counts, size_t n, const bl_weights_opts *o,
                               size_t used, wstats *st, bl_error *err)
{
    memset(st, 0, sizeof *st);
    st->scheme = o->scheme;
    st->used = (double)used;
    double max = 0, min = INFINITY;
    for (size_t i = 0; i < n; i++) {
        max = counts[i] > max ? counts[i] : max;
        min = counts[i] > 0 && counts[i] < min ? counts[i] : min;
    }
    /* With every count in [2^-200, 2^200] (and C < 2^53), no statistic,
     * weight, sum of weights or normalised weight comes near the ends of
     * the double range (all stay within 2^+-980), so exponent 0 throughout
     * gives the same doubles as the scaled pairs, without frexp and ldexp
     * per class. */
    st->plain = min >= 0x1p-200 && max <= 0x1p200;
    /* power: n^-q stays within 2^+-700 there only for q <= 3.5. */
    if (o->scheme == BL_SCHEME_POWER && o->exponent > 3.5)
        st->plain = 0;
    st->exponent = o->exponent;
    st->max = st->plain ? (xnum){max, 0} : xnum_norm((xnum){max, 0});
    if (o->scheme == BL_SCHEME_BALANCED || o->scheme == BL_SCHEME_ENET) { /* N */
        blp_sum N = {0, 0};
        for (size_t i = 0; i < n; i++)
            if (counts[i] > 0)
                sum_add(&N, st->plain ? counts[i] : ldexp(counts[i], -st->max.e));
        st->n_hi = sum_get(&N); /* finite: the counts are scaled */
        st->n_lo = N.c - (st->n_hi - N.s);
    }
    if (o->scheme == BL_SCHEME_EFFECTIVE_NUMBER) {
        st->one_minus_beta = 1 - o->beta;
        st->log_beta = log(o->beta);
    }
    if (o->scheme == BL_SCHEME_ENET)
        st->c_minus_1 = o->c - 1;
    if (o->scheme == BL_SCHEME_MEDIAN_FREQUENCY)
        return median_pair(counts, n, st, err);
    return BL_OK;
}

/* ------------------------------------------------------------------ */
/* The schemes                                                         */
/* ------------------------------------------------------------------ */

/* (1 - beta) / (1 - beta^n) with 1 - beta^n = -expm1(n ln beta), exact
 * where beta^n is close to 1. Below |n ln beta| = 2^-60, expm1(x) = x to
 * rounding, and the product is formed from n's mantissa mv (n = mv 2^ev)
 * so that a subnormal or zero n ln beta cannot take the weight's digits:
 * w = (1 - beta) / (-mv ln beta) 2^-ev. beta = 0: ln beta = -inf, w = 1. */
static inline xnum effective_number(const wstats *st, double v, double mv, int ev)
{
    double x = v * st->log_beta;
    if (fabs(x) >= 0x1p-60)
        return (xnum){st->one_minus_beta / -expm1(x), 0};
    return (xnum){st->one_minus_beta / -(mv * st->log_beta), -ev};
}

/* 1 / sqrt(v) for v = mv 2^ev, as m 2^e: ev is made even, so that
 * sqrt(2^ev) = 2^(ev/2) exactly. */
static inline xnum inverse_sqrt(double mv, int ev)
{
    if (ev % 2) {
        mv *= 2;
        ev -= 1;
    }
    return (xnum){1 / sqrt(mv), -ev / 2};
}

/* v^-q for v = mv 2^ev > 0, as m 2^e. q = 1 and q = 0.5 take inverse's and
 * inverse_sqrt's own arithmetic, so that they are those schemes bit for
 * bit; q = 0 is 1. Within the plain range the weight is pow(v, -q), one
 * correctly rounded (to glibc's 0.52 ulp) operation. Beyond it
 * v^-q = mv^-q 2^(-q ev): q ev is split exactly into hi + lo (Dekker's
 * product), hi = k + f with k an integer, and 2^-(f + lo) is formed by
 * exp2 (a few ulp; q <= 64 keeps mv^-q below 2^64 and k within an int). */
static inline xnum power_weight(const wstats *st, double v, double mv, int ev)
{
    double q = st->exponent;
    if (q == 1)
        return (xnum){1 / mv, -ev};
    if (q == 0.5)
        return inverse_sqrt(mv, ev);
    if (q == 0)
        return (xnum){1, 0};
    if (st->plain)
        return (xnum){pow(v, -q), 0};
    double hi = q * (double)ev, lo = two_prod_err(q, (double)ev);
    double k = floor(hi);
    return (xnum){pow(mv, -q) * exp2(-((hi - k) + lo)), -(int)k};
}

/* The weight of a class of count v > 0, as m 2^e. */
static inline xnum scheme_weight(const wstats *st, double v)
{
    int ev = 0;
    double mv = st->plain ? v : frexp(v, &ev); /* v = mv 2^ev, mv in [0.5, 1) or ev = 0 */
    switch (st->scheme) {
    case BL_SCHEME_MAX_OVER_COUNT:
        /* max(n) / n_c: ballast's original rule (README: [100000, 100, 10]
         * -> [1, 1000, 10000]); the most common class weighs 1. */
        return (xnum){st->max.m / mv, st->max.e - ev};
    case BL_SCHEME_INVERSE:
        /* 1 / n_c: PyTorch's WeightedRandomSampler idiom, weights = 1. /
         * class_sample_count, which makes every class equally likely;
         * /sample's default class weights. */
        return (xnum){1 / mv, -ev};
    case BL_SCHEME_BALANCED: {
        /* N / (C n_c): scikit-learn compute_class_weight("balanced") (after
         * King & Zeng, "Logistic Regression in Rare Events Data", 2001).
         * C mv is exact as the pair (p, its rounding error). */
        double p = st->used * mv;
        return (xnum){dd_div(st->n_hi, st->n_lo, p, two_prod_err(st->used, mv)), st->max.e - ev};
    }
    case BL_SCHEME_INVERSE_SQRT:
        /* 1 / sqrt(n_c): square-root re-weighting (Mahajan et al., "Exploring
         * the Limits of Weakly Supervised Pretraining", ECCV 2018). ev is
         * made even, so that sqrt(2^ev) = 2^(ev/2) exactly. */
        return inverse_sqrt(mv, ev);
    case BL_SCHEME_EFFECTIVE_NUMBER:
        /* (1 - beta) / (1 - beta^n_c): Cui et al., "Class-Balanced Loss Based
         * on Effective Number of Samples", CVPR 2019. */
        return effective_number(st, v, mv, ev);
    case BL_SCHEME_MEDIAN_FREQUENCY:
        /* median(f) / f_c with f_c = n_c / N, i.e. median(n) / n_c =
         * (a + b) / (2 n_c): Eigen & Fergus, ICCV 2015 (SegNet's weights). */
        return (xnum){dd_div(st->med_hi, st->med_lo, 2 * mv, 0), st->med_e - ev};
    case BL_SCHEME_ENET: {
        /* 1 / ln(c + n_c / N) = 1 / log1p((c - 1) + n_c / N): Paszke et al.,
         * "ENet", 2016. ln x for x near 1 (c near 1) loses the digits that
         * log1p keeps. n_c / N may underflow only where it is negligible
         * beside c - 1 >= 2^-52. */
        double f = dd_div(mv, 0, st->n_hi, st->n_lo);
        f = ev == st->max.e ? f : ldexp(f, ev - st->max.e);
        return (xnum){1 / log1p(st->c_minus_1 + f), 0};
    }
    case BL_SCHEME_POWER:
        /* n_c^-q: the power family of class re-balancing, q = 0 instance-
         * balanced, q = 1 class-balanced, q = 1/2 square-root (Kang et al.,
         * "Decoupling Representation and Classifier for Long-Tailed
         * Recognition", ICLR 2020). */
        return power_weight(st, v, mv, ev);
    case BL_SCHEME_REPEAT_FACTOR: /* refused by check_weights_args */
        break;
    }
    return (xnum){NAN, 0}; /* unreachable: the scheme was checked */
}

/* What `how` divides every weight by, as m 2^e: the largest weight, or the
 * sum of the weights (divided by C for mean). The sum is compensated and
 * held in the binade of the largest weight, where it lies in [0.5, C]. */
static xnum normalize_scale(const double *counts, size_t n, const wstats *st, bl_normalize how)
{
    xnum max = {0, 0};
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0) {
            xnum w = scheme_weight(st, counts[i]);
            if (!st->plain)
                w = xnum_norm(w);
            if (xnum_greater(w, max))
                max = w;
        }
    if (how == BL_NORMALIZE_MAX)
        return max;
    blp_sum s = {0, 0};
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0) {
            xnum w = scheme_weight(st, counts[i]);
            sum_add(&s, w.e == max.e ? w.m : ldexp(w.m, w.e - max.e));
        }
    xnum sum = {sum_get(&s), max.e};
    if (how == BL_NORMALIZE_MEAN)
        sum.m /= st->used;
    return sum;
}

/* The common case, st->plain: every weight is a double of exponent 0, so
 * one pass writes them to out and takes their maximum and compensated sum,
 * and a second divides by the scale (the same doubles as the general path
 * below, in two passes instead of three and without recomputing). */
static void plain_weights(const double *counts, size_t n, const wstats *st, bl_normalize how,
                          double *out)
{
    if (how == BL_NORMALIZE_NONE) {
        for (size_t i = 0; i < n; i++) /* counts[i] read first: out may alias counts */
            out[i] = counts[i] > 0 ? scheme_weight(st, counts[i]).m : 0;
        return;
    }
    double max = 0;
    blp_sum s = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double w = counts[i] > 0 ? scheme_weight(st, counts[i]).m : 0;
        out[i] = w;
        max = w > max ? w : max;
        sum_add(&s, w);
    }
    double scale = how == BL_NORMALIZE_MAX ? max : sum_get(&s);
    if (how == BL_NORMALIZE_MEAN)
        scale /= st->used;
    for (size_t i = 0; i < n; i++)
        out[i] /= scale;
}

bl_status bl_class_weights(const double *counts, size_t n, const bl_weights_opts *opts, double *out,
                           bl_error *err)
{
    size_t used = 0;
    wstats st;
    bl_error_clear(err);
    bl_status rc = check_weights_args(counts, n, opts, out, &used, err);
    if (rc == BL_OK)
        rc = weights_stats(counts, n, opts, used, &st, err);
    if (rc != BL_OK)
        return rc;
    if (st.plain) {
        plain_weights(counts, n, &st, opts->normalize, out);
        return BL_OK;
    }
    /* counts[i] is read before out[i] is written: out may alias counts. */
    if (opts->normalize == BL_NORMALIZE_NONE) {
        for (size_t i = 0; i < n; i++) {
            xnum w = counts[i] > 0 ? scheme_weight(&st, counts[i]) : (xnum){0, 0};
            out[i] = w.e == 0 ? w.m : scaled_quotient(w.m, 1, w.e);
        }
        return BL_OK;
    }
    xnum scale = normalize_scale(counts, n, &st, opts->normalize);
    for (size_t i = 0; i < n; i++) {
        xnum w = counts[i] > 0 ? scheme_weight(&st, counts[i]) : (xnum){0, 0};
        out[i] = w.m == 0 ? 0 : scaled_quotient(w.m, scale.m, w.e - scale.e);
    }
    return BL_OK;
}

/* ------------------------------------------------------------------ */
/* Labels                                                              */
/* ------------------------------------------------------------------ */

/* labels[i] = y outside [0, num_classes). */
static bl_status label_out_of_range(bl_error *err, size_t i, int64_t y, size_t num_classes)
{
    return bl_error_set(err, BL_EINVAL, "labels", (int64_t)i,
                        "label %lld is out of range for %zu classes (labels must be in [0, %zu))",
                        (long long)y, num_classes, num_classes);
}

bl_status bl_count_labels(const int64_t *labels, size_t n, size_t num_classes, double *counts,
                          bl_error *err)
{
    bl_error_clear(err);
    if (n && !labels)
        return bl_error_set(err, BL_EINVAL, "labels", -1, "labels is NULL for %zu labels", n);
    if (num_classes && !counts)
        return bl_error_set(err, BL_EINVAL, "counts", -1, "counts is NULL for %zu classes",
                            num_classes);
    if (num_classes)
        memset(counts, 0, num_classes * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        int64_t y = labels[i];
        if (y < 0 || (uint64_t)y >= num_classes)
            return label_out_of_range(err, i, y, num_classes);
        counts[y] += 1;
    }
    return BL_OK;
}

bl_status bl_label_weights(const double *class_weights, size_t num_classes, const int64_t *labels,
                           size_t n, double *out, bl_error *err)
{
    bl_error_clear(err);
    if (n && (!labels || !out))
        return bl_error_set(err, BL_EINVAL, labels ? "out" : "labels", -1,
                            "%s is NULL for %zu labels", labels ? "out" : "labels", n);
    if (num_classes && !class_weights)
        return bl_error_set(err, BL_EINVAL, "class_weights", -1,
                            "class_weights is NULL for %zu classes", num_classes);
    for (size_t i = 0; i < n; i++) {
        int64_t y = labels[i];
        if (y < 0 || (uint64_t)y >= num_classes)
            return label_out_of_range(err, i, y, num_classes);
        out[i] = class_weights[y];
    }
    return BL_OK;
}

bl_status bl_label_classes(const int64_t *labels, size_t n, size_t num_classes, size_t *classes,
                           bl_error *err)
{
    bl_error_clear(err);
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "labels", -1,
                            "labels is empty: give at least one label");
    if (!labels || !classes)
        return bl_error_set(err, BL_EINVAL, labels ? "classes" : "labels", -1, "%s is NULL",
                            labels ? "classes" : "labels");
    int64_t top = -1;
    for (size_t i = 0; i < n; i++) {
        int64_t y = labels[i];
        if (y < 0)
            return bl_error_set(err, BL_EINVAL, "labels", (int64_t)i,
                                "labels[%zu] = %lld: labels must be integers >= 0", i,
                                (long long)y);
        if (num_classes && (uint64_t)y >= num_classes)
            return bl_error_set(err, BL_EINVAL, "labels", (int64_t)i,
                                "labels[%zu] = %lld is out of range for %zu classes", i,
                                (long long)y, num_classes);
        top = y > top ? y : top;
    }
    /* top + 1 <= 2^63: fits size_t on every 64-bit target; saturate elsewhere. */
    *classes = (uint64_t)top >= SIZE_MAX ? SIZE_MAX : (size_t)top + 1;
    return BL_OK;
}
