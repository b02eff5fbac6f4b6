/*
 * multilabel.c — class weights of multi-label data: label sets, positives,
 * BCEWithLogitsLoss's pos_weight, per-sample weights and LVIS repeat
 * factors (README "Multi-label weights" and "Repeat factors").
 *
 * Samples are label sets in compressed form (ballast.h): sample i holds
 * ids[offsets[i]] .. ids[offsets[i + 1] - 1]. A 0/1 matrix is turned into
 * that form first (bl_label_matrix_sets), and every set is made canonical
 * (sorted, each class once: bl_label_sets_normalize), so that a class
 * repeated in one image (two annotations of one category) counts once, as
 * the set of categories of an image does in LVIS and detectron2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "sum.h"

/* ------------------------------------------------------------------ */
/* Label sets                                                          */
/* ------------------------------------------------------------------ */

bl_status bl_label_matrix_sets(const double *matrix, size_t n, size_t num_classes, size_t *offsets,
                               int64_t *ids, bl_error *err)
{
    bl_error_clear(err);
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "labels", -1,
                            "labels has no rows: give one row of 0s and 1s per sample");
    if (num_classes == 0)
        return bl_error_set(err, BL_EINVAL, "labels", -1,
                            "labels has no columns: give one column per class");
    if (!matrix || !offsets)
        return bl_error_set(err, BL_EINVAL, matrix ? "offsets" : "labels", -1, "%s is NULL",
                            matrix ? "offsets" : "labels");
    if (num_classes > SIZE_MAX / n)
        return bl_error_set(err, BL_EINVAL, "labels", -1, "%zu x %zu labels overflow", n,
                            num_classes);
    size_t k = 0;
    offsets[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const double *row = matrix + i * num_classes;
        for (size_t j = 0; j < num_classes; j++) {
            if (row[j] == 1) {
                if (ids)
                    ids[k] = (int64_t)j;
                k++;
            } else if (row[j] != 0) {
                return bl_error_set(err, BL_EINVAL, "labels", (int64_t)(i * num_classes + j),
                                    "labels[%zu][%zu] = %g: a label matrix holds 0 and 1 only", i,
                                    j, row[j]);
            }
        }
        offsets[i + 1] = k;
    }
    return BL_OK;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Checks offsets: n + 1 entries from 0, never decreasing. */
static bl_status check_offsets(const int64_t *ids, const size_t *offsets, size_t n, bl_error *err)
{
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "label_sets", -1,
                            "label_sets is empty: give one set per sample ([] for none)");
    if (!offsets)
        return bl_error_set(err, BL_EINVAL, "offsets", -1, "offsets is NULL for %zu sets", n);
    if (offsets[0] != 0)
        return bl_error_set(err, BL_EINVAL, "offsets", 0, "offsets[0] = %zu, not 0", offsets[0]);
    for (size_t i = 0; i < n; i++)
        if (offsets[i + 1] < offsets[i])
            return bl_error_set(err, BL_EINVAL, "offsets", (int64_t)i + 1,
                                "offsets[%zu] = %zu is below offsets[%zu] = %zu", i + 1,
                                offsets[i + 1], i, offsets[i]);
    if (offsets[n] && !ids)
        return bl_error_set(err, BL_EINVAL, "label_sets", -1, "ids is NULL for %zu labels",
                            offsets[n]);
    return BL_OK;
}

bl_status bl_label_sets_normalize(int64_t *ids, size_t *offsets, size_t n, size_t num_classes,
                                  size_t *classes, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_offsets(ids, offsets, n, err);
    if (rc != BL_OK)
        return rc;
    if (!classes)
        return bl_error_set(err, BL_EINVAL, "classes", -1, "classes is NULL");
    size_t total = offsets[n];
    int64_t top = -1;
    for (size_t k = 0; k < total; k++) {
        int64_t y = ids[k];
        if (y < 0 || (num_classes && (uint64_t)y >= num_classes))
            return bl_error_set(err, BL_EINVAL, "label_sets", (int64_t)k,
                                y < 0 ? "class id %lld is negative: class ids are integers >= 0"
                                      : "class id %lld is out of range for %zu classes",
                                (long long)y, num_classes);
        top = y > top ? y : top;
    }
    if (top < 0 && !num_classes)
        return bl_error_set(err, BL_EINVAL, "label_sets", -1,
                            "every label set is empty: send num_classes to say how many "
                            "classes there are");
    /* Sort each set and drop its repeats, compacting in place. */
    size_t start = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t end = offsets[i + 1];
        if (end > start) /* ids may be NULL when every set is empty */
            qsort(ids + start, end - start, sizeof *ids, cmp_int64);
        size_t first = w;
        for (size_t k = start; k < end; k++)
            if (w == first || ids[w - 1] != ids[k])
                ids[w++] = ids[k];
        offsets[i + 1] = w;
        start = end;
    }
    /* top + 1 <= 2^63: fits size_t on 64-bit targets; saturate elsewhere. */
    *classes = num_classes ? num_classes : (uint64_t)top >= SIZE_MAX ? SIZE_MAX : (size_t)top + 1;
    return BL_OK;
}

/* Label sets as bl_label_sets_normalize leaves them, with ids in
 * [0, num_classes): the public functions below take no other. */
static bl_status check_canonical(const int64_t *ids, const size_t *offsets, size_t n,
                                 size_t num_classes, bl_error *err)
{
    bl_status rc = check_offsets(ids, offsets, n, err);
    if (rc != BL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        for (size_t k = offsets[i]; k < offsets[i + 1]; k++) {
            int64_t y = ids[k];
            if (y < 0 || (uint64_t)y >= num_classes)
                return bl_error_set(err, BL_EINVAL, "label_sets", (int64_t)k,
                                    "class id %lld is out of range for %zu classes", (long long)y,
                                    num_classes);
            if (k > offsets[i] && ids[k - 1] >= y)
                return bl_error_set(err, BL_EINVAL, "label_sets", (int64_t)k,
                                    "label set %zu is not sorted without repeats (see "
                                    "bl_label_sets_normalize)",
                                    i);
        }
    return BL_OK;
}

/* ------------------------------------------------------------------ */
/* Weights                                                             */
/* ------------------------------------------------------------------ */

/* r_c = max(1, sqrt(t / f_c)), f_c = n_pos / N, in the order of operations
 * of detectron2's RepeatFactorTrainingSampler (a frequency, a quotient, a
 * square root: three roundings), so that the factors are its doubles. */
static double repeat_factor(double t, double npos, double n)
{
    double f = npos / n;
    return fmax(1.0, sqrt(t / f));
}

bl_status bl_multilabel_weights(const int64_t *ids, const size_t *offsets, size_t n,
                                size_t num_classes, const bl_weights_opts *opts, double *positives,
                                double *weights, double *pos_weight, bl_error *err)
{
    bl_error_clear(err);
    if (!opts)
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "bl_multilabel_weights needs options (see bl_weights_opts_default)");
    if (num_classes == 0)
        return bl_error_set(err, BL_EINVAL, "num_classes", -1, "there are no classes");
    if (!positives || !weights)
        return bl_error_set(err, BL_EINVAL, positives ? "weights" : "positives", -1,
                            "%s is NULL for %zu classes", positives ? "weights" : "positives",
                            num_classes);
    bl_status rc = check_canonical(ids, offsets, n, num_classes, err);
    if (rc != BL_OK)
        return rc;
    int repeat = opts->scheme == BL_SCHEME_REPEAT_FACTOR;
    if (repeat && !(opts->threshold >= 0 && opts->threshold <= 1))
        return bl_error_set(err, BL_EINVAL, "threshold", -1, "threshold = %g is outside [0, 1]",
                            opts->threshold);
    if (repeat && opts->normalize != BL_NORMALIZE_NONE)
        return bl_error_set(err, BL_EINVAL, "normalize", -1,
                            "repeat factors are not normalised: normalize must be none");
    memset(positives, 0, num_classes * sizeof *positives);
    for (size_t k = 0; k < offsets[n]; k++)
        positives[ids[k]] += 1;
    size_t live = 0;
    for (size_t c = 0; c < num_classes; c++) {
        if (positives[c] == 0 && !opts->zero_counts_allowed)
            return bl_error_set(err, BL_EINVAL, "positives", (int64_t)c,
                                "class %zu has no positive sample; its weight and pos_weight "
                                "would be infinite (send \"zero_counts\": \"zero\" to give them "
                                "0)",
                                c);
        live += positives[c] > 0;
    }
    if (live == 0)
        return bl_error_set(err, BL_EINVAL, "positives", -1,
                            "no sample has a label: every one of the %zu label sets is empty", n);
    double total = (double)n;
    for (size_t c = 0; pos_weight && c < num_classes; c++)
        pos_weight[c] = positives[c] > 0 ? (total - positives[c]) / positives[c] : 0;
    if (!repeat)
        return bl_class_weights(positives, num_classes, opts, weights, err);
    for (size_t c = 0; c < num_classes; c++)
        weights[c] = positives[c] > 0 ? repeat_factor(opts->threshold, positives[c], total) : 0;
    return BL_OK;
}

bl_status bl_multilabel_sample_weights(const int64_t *ids, const size_t *offsets, size_t n,
                                       const double *weights, const double *positives,
                                       size_t num_classes, bl_sample_reduce reduce, double *out,
                                       bl_error *err)
{
    bl_error_clear(err);
    if (!bl_sample_reduce_name(reduce))
        return bl_error_set(err, BL_EINVAL, "sample_weight_reduce", -1,
                            "sample_weight_reduce %d is not a bl_sample_reduce (0 to %d)",
                            (int)reduce, BL_SAMPLE_REDUCE_COUNT - 1);
    if (num_classes == 0 || !weights || !positives || !out)
        return bl_error_set(err, BL_EINVAL, weights ? positives ? "out" : "positives" : "weights",
                            -1, "no classes, or an array is NULL");
    bl_status rc = check_canonical(ids, offsets, n, num_classes, err);
    if (rc != BL_OK)
        return rc;
    double min = INFINITY;
    for (size_t c = 0; c < num_classes; c++)
        if (positives[c] > 0 && weights[c] < min)
            min = weights[c];
    if (min == INFINITY)
        return bl_error_set(err, BL_EINVAL, "positives", -1, "no class has a positive sample");
    for (size_t i = 0; i < n; i++) {
        size_t lo = offsets[i], hi = offsets[i + 1];
        if (lo == hi) {
            out[i] = min;
            continue;
        }
        if (reduce == BL_SAMPLE_REDUCE_MAX) {
            double m = weights[ids[lo]];
            for (size_t k = lo + 1; k < hi; k++)
                m = weights[ids[k]] > m ? weights[ids[k]] : m;
            out[i] = m;
        } else {
            blp_sum s = {0, 0};
            for (size_t k = lo; k < hi; k++)
                sum_add(&s, weights[ids[k]]);
            out[i] = sum_get(&s) / (double)(hi - lo);
        }
    }
    return BL_OK;
}

bl_status bl_repeat_factors(const int64_t *ids, const size_t *offsets, size_t n,
                            const double *class_factors, size_t num_classes, double *out,
                            bl_error *err)
{
    bl_error_clear(err);
    if (num_classes == 0 || !class_factors || !out)
        return bl_error_set(err, BL_EINVAL, class_factors ? "out" : "class_factors", -1,
                            "no classes, or an array is NULL");
    bl_status rc = check_canonical(ids, offsets, n, num_classes, err);
    if (rc != BL_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        double r = 1;
        for (size_t k = offsets[i]; k < offsets[i + 1]; k++)
            r = class_factors[ids[k]] > r ? class_factors[ids[k]] : r;
        out[i] = r;
    }
    return BL_OK;
}
