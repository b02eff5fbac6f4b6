/*
 * loss_longtail.c — losses for long-tailed (imbalanced) classes, built
 * around the cross entropy of loss.c:
 *
 *   - logit adjustment (Menon et al. 2021, "Long-tail learning via logit
 *     adjustment"): the loss of z'_c = z_c + tau log pi_c, pi = the class
 *     priors (class_counts / Σ class_counts, or class_priors normalised);
 *     tau = 1 is Balanced Softmax (Ren et al. 2020). z' - z is a constant per
 *     class, so d loss / dz = d loss / dz'.
 *   - ldam (Cao et al. 2019, "Learning Imbalanced Datasets with
 *     Label-Distribution-Aware Margin Loss"), as their reference LDAMLoss
 *     computes it: m_c = 1 / sqrt(sqrt(n_c)), Delta_c = m_c (max_margin /
 *     max_j m_j), and the cross entropy of z'_c = s (z_c - [c = y] Delta_y)
 *     with the class weights (DRW: ldam with weights), so d loss / dz =
 *     s d loss / dz'.
 *   - reduction sum_over_batch_size, Keras's default, for every loss: the
 *     sum of the (weighted) losses divided by the number of positions kept.
 *     Keras 3 turns ignored classes into a mask and divides a masked sum by
 *     the number of unmasked entries (divide_no_nan: 0 when there are none),
 *     and so does this: a target equal to ignore_index is not counted.
 *
 * Each is computed by building z' (in one copy of the input; the targets
 * are checked by loss.c, so a margin is only applied at a target in range)
 * and calling bl_loss on plain arguments: reduction sum for
 * sum_over_batch_size, whose value and gradient are then divided by the
 * count. The rounding is the reference's: z' is formed by the same
 * operations in the same order (pi = n / Σ n, log, times tau, plus z).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"
#include "loss_longtail.h"
#include "sum.h"

int blp_longtail_wanted(const bl_loss_args *a)
{
    return a->loss == BL_LOSS_LDAM || a->reduction == BL_REDUCTION_SUM_OVER_BATCH_SIZE ||
           a->class_counts != NULL || a->class_priors != NULL || a->adjust_logits != 0;
}

/* The class layout of a class loss's input, as loss.c reads it; 0 when the
 * shape is not one (loss.c then says why). */
typedef struct {
    size_t outer, classes, inner, elements;
} lt_layout;

static int class_layout(const bl_loss_args *a, lt_layout *L)
{
    if (a->ndim == 0 || a->ndim > BL_MAX_DIMS)
        return 0;
    size_t e = 1;
    for (size_t d = 0; d < a->ndim; d++) {
        if (a->shape[d] != 0 && e > SIZE_MAX / a->shape[d])
            return 0;
        e *= a->shape[d];
    }
    L->elements = e;
    L->classes = a->shape[a->ndim == 1 ? 0 : 1];
    L->outer = a->ndim == 1 ? 1 : a->shape[0];
    L->inner = 1;
    for (size_t d = 2; d < a->ndim; d++)
        L->inner *= a->shape[d];
    return L->classes > 0 && (a->input != NULL || e == 0);
}

static int takes_adjustment(bl_loss_kind k)
{
    return k == BL_LOSS_CROSS_ENTROPY || k == BL_LOSS_FOCAL;
}

/* Which loss takes which long-tail option, and the scalar ranges. */
static bl_status check_options(const bl_loss_args *a, bl_error *err)
{
    const char *name = bl_loss_names[a->loss];
    const int ldam = a->loss == BL_LOSS_LDAM;
    if (a->adjust_logits && !takes_adjustment(a->loss))
        return bl_error_set(err, BL_EINVAL, "logit_adjustment", -1,
                            "logit_adjustment is only supported by cross_entropy and focal, not %s",
                            name);
    if (a->class_priors && !takes_adjustment(a->loss))
        return bl_error_set(err, BL_EINVAL, "class_priors", -1,
                            "class_priors is only supported by cross_entropy and focal (with "
                            "logit_adjustment), not %s",
                            name);
    if (a->class_counts && !takes_adjustment(a->loss) && !ldam)
        return bl_error_set(err, BL_EINVAL, "class_counts", -1,
                            "class_counts is only supported by ldam, cross_entropy and focal (with "
                            "logit_adjustment), not %s",
                            name);
    if (a->class_counts && a->class_priors)
        return bl_error_set(err, BL_EINVAL, "class_priors", -1,
                            "give class_counts or class_priors, not both");
    if (a->adjust_logits && !a->class_counts && !a->class_priors)
        return bl_error_set(err, BL_EINVAL, "logit_adjustment", -1,
                            "logit_adjustment needs the class priors: give class_counts or "
                            "class_priors");
    if (a->adjust_logits && !isfinite(a->logit_adjustment))
        return bl_error_set(err, BL_EINVAL, "logit_adjustment", -1,
                            "logit_adjustment must be a finite number; got %g",
                            a->logit_adjustment);
    if (!a->adjust_logits && !ldam && (a->class_counts || a->class_priors)) {
        const char *arg = a->class_counts ? "class_counts" : "class_priors";
        return bl_error_set(err, BL_EINVAL, arg, -1,
                            "%s is used by logit_adjustment, which is off: give logit_adjustment "
                            "too (tau; 1 is Balanced Softmax)",
                            arg);
    }
    if (!ldam)
        return BL_OK;
    if (!a->class_counts)
        return bl_error_set(err, BL_EINVAL, "class_counts", -1,
                            "ldam needs class_counts, the number of training samples per class");
    if (!(a->max_margin > 0 && isfinite(a->max_margin)))
        return bl_error_set(err, BL_EINVAL, "max_margin", -1,
                            "max_margin must be a finite number > 0; got %g", a->max_margin);
    if (!(a->scale > 0 && isfinite(a->scale)))
        return bl_error_set(err, BL_EINVAL, "scale", -1,
                            "scale must be a finite number > 0; got %g", a->scale);
    if (a->target_prob)
        return bl_error_set(err, BL_EINVAL, "targets", -1,
                            "ldam takes class indices as targets, not class probabilities");
    if (a->label_smoothing != 0)
        return bl_error_set(err, BL_EINVAL, "label_smoothing", -1,
                            "label_smoothing is only supported by cross_entropy, not ldam");
    if (a->pos_weight)
        return bl_error_set(err, BL_EINVAL, "pos_weight", -1,
                            "pos_weight is only supported by bce_with_logits, not ldam");
    return BL_OK;
}

/* class_counts or class_priors: C entries, each finite and > 0. */
static bl_status check_per_class(const double *v, size_t len, size_t C, const char *arg,
                                 bl_error *err)
{
    if (len != C)
        return bl_error_set(err, BL_EINVAL, arg, -1,
                            "%s has %zu entries; expected %zu (the number of classes)", arg, len,
                            C);
    for (size_t c = 0; c < C; c++)
        if (!(v[c] > 0 && isfinite(v[c])))
            return bl_error_set(err, BL_EINVAL, arg, (int64_t)c,
                                "%s[%zu] = %g; every entry must be a finite number > 0", arg, c,
                                v[c]);
    return BL_OK;
}

/* Σ v, compensated (few classes: exact for integer counts); inf when it
 * overflows. */
static double sum_of(const double *v, size_t n)
{
    blp_sum s = {0, 0};
    for (size_t i = 0; i < n; i++)
        sum_add(&s, v[i]);
    return sum_get(&s);
}

/* log(a / (b 2^k)) for finite a, b > 0. The quotient itself when it is a
 * normal double (PyTorch's log(v / Σ v), to the bit); else, where it would
 * underflow (class_counts 1e-300 beside 1e300, or subnormal ones), from the
 * mantissas and exponents: log(ma / mb) + e ln 2, with ln 2 split so that
 * e · LN2_HI is exact. */
static double log_ratio(double a, double b, int k)
{
    static const double LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;
    double q = a / b;
    if (k == 0 && q >= DBL_MIN)
        return log(q);
    int ea, eb;
    double ma = frexp(a, &ea), mb = frexp(b, &eb);
    double e = (double)ea - eb - k;
    return log(ma / mb) + e * LN2_LO + e * LN2_HI;
}

/* off[c] = tau log(v_c / Σ v): the per-class shift of logit adjustment.
 * Σ v may overflow (counts near DBL_MAX): then over (Σ v 2^-64) 2^64. */
static void adjustment(const double *v, size_t C, double tau, double *off)
{
    double total = sum_of(v, C); /* NaN when it overflows (inf - inf in the compensation) */
    if (!isfinite(total)) {
        double t2 = 0;
        for (size_t c = 0; c < C; c++)
            t2 += v[c] * 0x1p-64;
        for (size_t c = 0; c < C; c++)
            off[c] = tau * log_ratio(v[c], t2, 64);
        return;
    }
    for (size_t c = 0; c < C; c++)
        off[c] = tau * log_ratio(v[c], total, 0);
}

/* LDAM's margins, as the reference computes them: m_c = 1 / sqrt(sqrt(n_c)),
 * Delta_c = m_c (max_margin / max m). */
static void margins(const double *n, size_t C, double max_margin, double *delta)
{
    double mmax = 0;
    for (size_t c = 0; c < C; c++) {
        delta[c] = 1.0 / sqrt(sqrt(n[c]));
        mmax = delta[c] > mmax ? delta[c] : mmax;
    }
    double k = max_margin / mmax;
    for (size_t c = 0; c < C; c++)
        delta[c] *= k;
}

/* z' into zp: z + off[c] (logit adjustment), or s (z - [c = y] Delta_y)
 * (ldam; no margin where y is ignored or out of range, which loss.c then
 * refuses). The ldam logits are shifted by their position's largest z first,
 * s ((z_c - max z) - [c = y] Delta_y): the same cross entropy (it is
 * shift-invariant), but the differences the softmax needs are formed before
 * the scale, so s = 64 on logits of 1e4 keeps the loss's digits where s z
 * would round them away (ulp(6.4e5) = 1.2e-10). */
static void adjusted_input(const bl_loss_args *a, const lt_layout *L, const double *per_class,
                           double *zp)
{
    const size_t C = L->classes, inner = L->inner;
    if (a->loss != BL_LOSS_LDAM) {
        for (size_t n0 = 0; n0 < L->outer; n0++)
            for (size_t c = 0; c < C; c++) {
                const double *z = a->input + (n0 * C + c) * inner, off = per_class[c];
                double *out = zp + (n0 * C + c) * inner;
                for (size_t i = 0; i < inner; i++)
                    out[i] = z[i] + off;
            }
        return;
    }
    for (size_t n0 = 0; n0 < L->outer; n0++)
        for (size_t i = 0; i < inner; i++) {
            const double *z = a->input + n0 * C * inner + i;
            double top = z[0];
            for (size_t c = 1; c < C; c++)
                top = z[c * inner] > top ? z[c * inner] : top;
            int64_t y = a->target_index ? a->target_index[n0 * inner + i] : -1;
            int margin = y != a->ignore_index && y >= 0 && (uint64_t)y < C;
            for (size_t c = 0; c < C; c++) {
                double d = z[c * inner] - top;
                if (margin && c == (size_t)y)
                    d -= per_class[c];
                zp[(n0 * C + c) * inner + i] = a->scale * d;
            }
        }
}

/* The count sum_over_batch_size divides by: positions whose target is not
 * ignore_index (class-index targets), else every position (every element
 * for the binary losses). Called after bl_loss accepted the targets. */
static size_t kept_positions(const bl_loss_args *a)
{
    size_t positions = bl_loss_positions(a); /* dice and tversky: their scores */
    if (!a->target_index || blp_is_seg(a->loss) || a->loss == BL_LOSS_BCE_WITH_LOGITS ||
        a->loss == BL_LOSS_SIGMOID_FOCAL)
        return positions;
    size_t kept = 0;
    for (size_t n = 0; n < positions; n++)
        kept += a->target_index[n] != a->ignore_index;
    return kept;
}

/* After bl_loss on the plain arguments: the gradient w.r.t. the z sent
 * (times s for ldam), and sum_over_batch_size's division by the count. */
static void finish(const bl_loss_args *a, bl_loss_result *res)
{
    size_t elements = bl_loss_elements(a);
    if (a->loss == BL_LOSS_LDAM && res->grad)
        for (size_t i = 0; i < elements; i++)
            res->grad[i] *= a->scale; /* dz'/dz = s */
    if (a->reduction != BL_REDUCTION_SUM_OVER_BATCH_SIZE)
        return;
    size_t kept = kept_positions(a);
    double count = (double)kept;
    res->value = kept ? res->value / count : 0.0;
    /* the gradient of sum / count: times 1 / count, as autograd has it */
    const double inv = kept ? 1.0 / count : 0.0;
    if (res->grad && kept)
        for (size_t i = 0; i < elements; i++)
            res->grad[i] *= inv;
    res->total_weight = count;
}

bl_status blp_longtail_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err)
{
    bl_status rc;
    if (!bl_loss_name(a->loss) || !bl_reduction_name(a->reduction)) {
        bl_loss_args b = *a; /* loss.c names the enum at fault */
        b.reduction = bl_reduction_name(a->reduction) ? BL_REDUCTION_SUM : a->reduction;
        b.class_counts = b.class_priors = NULL;
        b.adjust_logits = 0;
        b.loss = bl_loss_name(a->loss) ? BL_LOSS_CROSS_ENTROPY : a->loss;
        return bl_loss(&b, res, err);
    }
    if ((rc = check_options(a, err)) != BL_OK)
        return rc;

    /* The plain arguments loss.c computes. */
    bl_loss_args b = *a;
    b.class_counts = b.class_priors = NULL;
    b.class_counts_len = b.class_priors_len = 0;
    b.adjust_logits = 0;
    const int sobs = a->reduction == BL_REDUCTION_SUM_OVER_BATCH_SIZE;
    const int ldam = a->loss == BL_LOSS_LDAM;
    if (sobs)
        b.reduction = BL_REDUCTION_SUM;
    if (ldam)
        b.loss = BL_LOSS_CROSS_ENTROPY;

    double *zp = NULL, *per_class = NULL;
    if (ldam || a->adjust_logits) {
        lt_layout L;
        if (ldam && a->ndim == 0)
            return bl_error_set(err, BL_EINVAL, "logits", -1,
                                "ldam takes logits of shape (C), (N, C) or (N, C, d1, ...); got a "
                                "scalar");
        if (!class_layout(a, &L))
            return bl_loss(&b, res, err); /* a bad shape or a missing input: loss.c says so */
        const double *v = a->class_counts ? a->class_counts : a->class_priors;
        size_t len = a->class_counts ? a->class_counts_len : a->class_priors_len;
        if ((rc = check_per_class(v, len, L.classes,
                                  a->class_counts ? "class_counts" : "class_priors", err)) != BL_OK)
            return rc;
        per_class = malloc(L.classes * sizeof *per_class);
        zp = malloc((L.elements ? L.elements : 1) * sizeof *zp);
        if (!per_class || !zp) {
            free(per_class);
            free(zp);
            return bl_error_set(err, BL_ENOMEM, NULL, -1,
                                "out of memory for a copy of the logits (%zu elements)",
                                L.elements);
        }
        if (ldam)
            margins(v, L.classes, a->max_margin, per_class);
        else
            adjustment(v, L.classes, a->logit_adjustment, per_class);
        adjusted_input(a, &L, per_class, zp);
        b.input = zp;
    }

    rc = bl_loss(&b, res, err);
    free(zp);
    free(per_class);
    if (rc == BL_OK)
        finish(a, res);
    return rc;
}
