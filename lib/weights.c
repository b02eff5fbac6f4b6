/*
 * weights.c — class weights from class counts.
 *
 * Every scheme is a function of one class's count n_c and of statistics
 * over the classes that take part: C (their number), N (their total), their
 * maximum and the median of their frequencies. With zero_counts_allowed a
 * class of count 0 takes no part: it gets weight 0 and is left out of every
 * statistic, so that adding an empty class never changes the others.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"

bl_weights_opts bl_weights_opts_default(void)
{
    bl_weights_opts o = {
        .scheme = BL_SCHEME_MAX_OVER_COUNT,
        .beta = 0.999,
        .c = 1.02,
        .normalize = BL_NORMALIZE_NONE,
        .zero_counts_allowed = 0,
    };
    return o;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the positive counts' frequencies n_c / N, as numpy.median: the
 * middle value, or the mean of the two middle values. Returns -1 when the
 * scratch allocation fails. */
static double median_frequency(const double *counts, size_t n, size_t used, double total)
{
    double *f = malloc(used * sizeof *f);
    if (!f)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0)
            f[m++] = counts[i] / total;
    qsort(f, m, sizeof *f, cmp_double);
    double med = (m % 2) ? f[m / 2] : (f[m / 2 - 1] + f[m / 2]) / 2;
    free(f);
    return med;
}

bl_status bl_class_weights(const double *counts, size_t n, const bl_weights_opts *opts,
                           double *out, bl_error *err)
{
    bl_error_clear(err);
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "counts", -1, "counts is empty: give at least one class");
    switch (opts->scheme) {
    case BL_SCHEME_EFFECTIVE_NUMBER:
        if (!(opts->beta >= 0 && opts->beta < 1))
            return bl_error_set(err, BL_EINVAL, "beta", -1, "beta = %g is outside [0, 1)",
                                opts->beta);
        break;
    case BL_SCHEME_ENET:
        if (!(opts->c > 1) || !isfinite(opts->c))
            return bl_error_set(err, BL_EINVAL, "c", -1, "c = %g must be a finite number > 1",
                                opts->c);
        break;
    default:
        break;
    }

    /* Statistics over the classes that take part (count > 0). */
    double total = 0, max = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        double v = counts[i];
        if (!isfinite(v) || v < 0)
            return bl_error_set(err, BL_EINVAL, "counts", (int64_t)i,
                                "class %zu has count %g: counts must be finite numbers >= 0", i, v);
        if (v == 0 && !opts->zero_counts_allowed)
            return bl_error_set(err, BL_EINVAL, "counts", (int64_t)i,
                                "class %zu has count 0; its weight would be infinite "
                                "(send \"zero_counts\": \"zero\" to give it weight 0)",
                                i);
        if (v > 0) {
            used++;
            total += v;
            if (v > max)
                max = v;
        }
    }
    if (used == 0)
        return bl_error_set(err, BL_EINVAL, "counts", -1, "all %zu counts are zero", n);
    if (!isfinite(total))
        return bl_error_set(err, BL_EINVAL, "counts", -1, "the counts' total overflows");

    double med = 0, log_beta = 0;
    if (opts->scheme == BL_SCHEME_MEDIAN_FREQUENCY) {
        med = median_frequency(counts, n, used, total);
        if (med < 0)
            return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory");
    }
    if (opts->scheme == BL_SCHEME_EFFECTIVE_NUMBER)
        log_beta = log(opts->beta); /* -inf for beta = 0: beta^n = 0 for n > 0 */

    double wsum = 0, wmax = 0;
    for (size_t i = 0; i < n; i++) {
        double v = counts[i], w = 0;
        if (v > 0) {
            switch (opts->scheme) {
            case BL_SCHEME_MAX_OVER_COUNT:
                w = max / v;
                break;
            case BL_SCHEME_INVERSE:
                w = 1 / v;
                break;
            case BL_SCHEME_BALANCED:
                w = total / ((double)used * v);
                break;
            case BL_SCHEME_INVERSE_SQRT:
                w = 1 / sqrt(v);
                break;
            case BL_SCHEME_EFFECTIVE_NUMBER:
                /* 1 - beta^n = -expm1(n ln beta), exact where beta^n is near 1. */
                w = (1 - opts->beta) / -expm1(v * log_beta);
                break;
            case BL_SCHEME_MEDIAN_FREQUENCY:
                w = med / (v / total);
                break;
            case BL_SCHEME_ENET:
                w = 1 / log(opts->c + v / total);
                break;
            }
        }
        out[i] = w;
        wsum += w;
        if (w > wmax)
            wmax = w;
    }

    double scale = 1;
    switch (opts->normalize) {
    case BL_NORMALIZE_NONE:
        return BL_OK;
    case BL_NORMALIZE_SUM:
        scale = wsum;
        break;
    case BL_NORMALIZE_MEAN:
        scale = wsum / (double)used;
        break;
    case BL_NORMALIZE_MAX:
        scale = wmax;
        break;
    }
    if (!(scale > 0) || !isfinite(scale))
        return bl_error_set(err, BL_EINVAL, "normalize", -1,
                            "the weights cannot be normalised: their %s is %g",
                            opts->normalize == BL_NORMALIZE_MAX ? "maximum" : "sum", scale);
    for (size_t i = 0; i < n; i++)
        out[i] /= scale;
    return BL_OK;
}

bl_status bl_count_labels(const int64_t *labels, size_t n, size_t num_classes, double *counts,
                          bl_error *err)
{
    bl_error_clear(err);
    memset(counts, 0, num_classes * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        int64_t y = labels[i];
        if (y < 0 || (uint64_t)y >= num_classes)
            return bl_error_set(err, BL_EINVAL, "labels", (int64_t)i,
                                "label %lld is out of range for %zu classes (labels must be in [0, %zu))",
                                (long long)y, num_classes, num_classes);
        counts[y] += 1;
    }
    return BL_OK;
}
