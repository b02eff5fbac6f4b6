/*
 * loss_seg.c — the Dice and Tversky losses for imbalanced segmentation,
 * with the semantics of MONAI's DiceLoss and TverskyLoss (monai.losses,
 * MONAI 1.x) called with softmax=True, to_onehot_y=True (activation
 * "softmax": class-index targets) or sigmoid=True (activation "sigmoid":
 * targets of the logits' shape, in [0, 1]), and their gradients.
 *
 * Layout. Logits (N, C, d1, ..., dk), k >= 0; S = d1 ... dk (1 for (N, C)).
 * Element (n, c, i) is z[(n C + c) S + i]; the target of position (n, i) is
 * target_index[n S + i] (softmax) or target_prob at the logits' own index
 * (sigmoid). p = softmax over c, or σ(z); g = one_hot(y), or the targets.
 * Classes c0 ... C-1 are scored, c0 = 1 without the background, else 0;
 * K = C - c0.
 *
 * Scores. For each (n, c) (with batch: each c, the sums running over n as
 * well) over the positions i:
 *     tp = Σ p g,  fp = Σ p (1 - g),  fn = Σ (1 - p) g
 *     dice:    f = 1 - (2 tp + snr) / (2 tp + fp + fn + sdr)
 *     tversky: f = 1 - (tp + snr) / (tp + α fp + β fn + sdr)
 * (MONAI's compute_tp_fp_fn; dice's denominator is Σ p + Σ g + sdr), times
 * weights[c - c0] when given (MONAI's DiceLoss `weight`; for tversky a
 * ballast extension). Reduction: mean over the N K (or K) scores, sum, or
 * none: the scores, shape (N, K) or (K).
 *
 * Numerics. f is evaluated as (fp + fn + sdr - snr) / den (dice) and
 * (α fp + β fn + sdr - snr) / den (tversky), which is 1 - num/den without
 * the cancellation as num -> den (a near-perfect prediction, where 1 -
 * num/den keeps only ulp(1)); 1 - p is σ(-z) for sigmoid and, for the
 * row's largest logit, Σ_{k != max} e^(z_k - m) / Σ_k e^(z_k - m).
 * The sums are Neumaier's compensated sums.
 *
 * Gradient. tp, fp and fn are linear in p, so with den the score's
 * denominator:
 *     df/dp = (A(g) - f B(g)) / den
 *     dice:    A = 1 - 2g,            B = 1
 *     tversky: A = α (1 - g) - β g,   B = g + α (1 - g) - β g
 * times the reduction's factor r_c (w_c, divided by the number of scores for
 * mean; none gives the gradient of the sum). Then q_c = dL/dp_c, and
 *     softmax: dL/dz_k = p_k (q_k - Σ_c p_c q_c)   (q_c = 0 for c < c0)
 *     sigmoid: dL/dz   = q σ(z) σ(-z)
 *
 * Memory: 8 K + 2 C doubles of scratch, whatever N and S: a sample's scores
 * are finished before the next sample's (without batch), or the sums over
 * the whole batch are finished before a second pass for the gradient.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_internal.h"
#include "sum.h"

int blp_is_seg(bl_loss_kind k) { return k == BL_LOSS_DICE || k == BL_LOSS_TVERSKY; }

typedef struct {
    size_t N, C, S;  /* batch, classes, spatial size                   */
    size_t c0, K;    /* first class scored; classes scored             */
    size_t elements; /* N C S                                          */
    size_t scores;   /* N K, or K with batch                           */
} blp_seg_layout;

static size_t mul_or_zero(size_t a, size_t b, int *overflow)
{
    if (b != 0 && a > SIZE_MAX / b) {
        *overflow = 1;
        return 0;
    }
    return a * b;
}

static bl_status seg_layout(const bl_loss_args *a, blp_seg_layout *L, bl_error *err)
{
    const char *name = bl_loss_names[a->loss];
    memset(L, 0, sizeof *L);
    if (a->ndim > BL_MAX_DIMS)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "logits has %zu dimensions; at most %d are supported", a->ndim,
                            BL_MAX_DIMS);
    if (a->ndim < 2)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "%s takes logits of shape (N, C, d1, ...) or (N, C); got %zu "
                            "dimension%s",
                            name, a->ndim, a->ndim == 1 ? "" : "s");
    int over = 0;
    size_t S = 1;
    for (size_t d = 2; d < a->ndim; d++)
        S = mul_or_zero(S, a->shape[d], &over);
    size_t e = mul_or_zero(mul_or_zero(a->shape[0], a->shape[1], &over), S, &over);
    if (over)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "logits has too many elements for this machine");
    L->N = a->shape[0];
    L->C = a->shape[1];
    L->S = S;
    L->elements = e;
    if (L->C == 0)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "logits has 0 classes (dim 1); at least 1 is needed");
    if (a->activation == BL_ACTIVATION_SOFTMAX && L->C < 2)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "%s with activation softmax needs at least 2 classes (dim 1 of "
                            "logits); for a single channel use activation sigmoid",
                            name);
    if (!a->include_background && L->C < 2)
        return bl_error_set(err, BL_EINVAL, "include_background", -1,
                            "include_background false drops class 0, and logits has only 1 "
                            "class (dim 1)");
    L->c0 = a->include_background ? 0 : 1;
    L->K = L->C - L->c0;
    L->scores = a->batch ? L->K : L->N * L->K; /* <= elements unless S = 0 */
    if (L->S == 0 && !a->batch && L->K && L->N > SIZE_MAX / L->K)
        return bl_error_set(err, BL_EINVAL, "logits", -1,
                            "logits has too many scores for this machine");
    return BL_OK;
}

size_t blp_seg_scores(const bl_loss_args *a)
{
    blp_seg_layout L;
    bl_error e;
    return seg_layout(a, &L, &e) == BL_OK ? L.scores : 0;
}

static bl_status check_number(double v, const char *arg, bl_error *err)
{
    if (!(v >= 0 && isfinite(v)))
        return bl_error_set(err, BL_EINVAL, arg, -1, "%s must be a finite number >= 0; got %g", arg,
                            v);
    return BL_OK;
}

/* The options: ranges, and those of other losses that would be ignored. */
static bl_status seg_options(const bl_loss_args *a, bl_error *err)
{
    const char *name = bl_loss_names[a->loss];
    bl_status rc;
    if (!bl_activation_name(a->activation))
        return bl_error_set(err, BL_EINVAL, "activation", -1,
                            "unknown activation %d: a bl_activation is 0 to %d", (int)a->activation,
                            BL_ACTIVATION_COUNT - 1);
    if (a->label_smoothing != 0)
        return bl_error_set(err, BL_EINVAL, "label_smoothing", -1,
                            "label_smoothing is only supported by cross_entropy, not %s", name);
    if (a->pos_weight)
        return bl_error_set(err, BL_EINVAL, "pos_weight", -1,
                            "pos_weight is only supported by bce_with_logits, not %s", name);
    if ((rc = check_number(a->smooth_nr, "smooth_nr", err)) != BL_OK ||
        (rc = check_number(a->smooth_dr, "smooth_dr", err)) != BL_OK)
        return rc;
    if (a->loss == BL_LOSS_TVERSKY &&
        ((rc = check_number(a->tversky_alpha, "tversky_alpha", err)) != BL_OK ||
         (rc = check_number(a->tversky_beta, "tversky_beta", err)) != BL_OK))
        return rc;
    return BL_OK;
}

/* Targets and weights against the layout. */
static bl_status seg_data(const bl_loss_args *a, const blp_seg_layout *L, bl_error *err)
{
    const char *name = bl_loss_names[a->loss];
    size_t positions = L->N * L->S; /* divides elements (C >= 1) */
    if (a->activation == BL_ACTIVATION_SOFTMAX) {
        if (a->target_prob || (!a->target_index && positions))
            return bl_error_set(err, BL_EINVAL, "targets", -1,
                                "%s with activation softmax takes class indices of shape (N, "
                                "d1, ...)",
                                name);
        for (size_t n = 0; n < positions; n++) {
            int64_t y = a->target_index[n];
            if (y < 0 || (uint64_t)y >= L->C)
                return blp_target_out_of_bounds(err, n, y, L->C);
        }
    } else {
        if (a->target_index || (!a->target_prob && L->elements))
            return bl_error_set(err, BL_EINVAL, "targets", -1,
                                "%s with activation sigmoid takes targets of the logits' shape, "
                                "with values in [0, 1]",
                                name);
        for (size_t i = 0; i < L->elements; i++)
            if (!(a->target_prob[i] >= 0 && a->target_prob[i] <= 1))
                return bl_error_set(err, BL_EINVAL, "targets", (int64_t)i,
                                    "targets[%zu] = %g is outside [0, 1]", i, a->target_prob[i]);
    }
    if (a->weights) {
        if (a->weights_len != L->K)
            return bl_error_set(err, BL_EINVAL, "weights", -1,
                                "weights has %zu entries; expected %zu (the classes scored: C, "
                                "or C - 1 without the background)",
                                a->weights_len, L->K);
        for (size_t c = 0; c < L->K; c++)
            if (!(a->weights[c] >= 0 && isfinite(a->weights[c])))
                return bl_error_set(err, BL_EINVAL, "weights", (int64_t)c,
                                    "weights[%zu] = %g; every entry must be a finite number >= 0",
                                    c, a->weights[c]);
    }
    return BL_OK;
}

/* ------------------------------------------------------------------ */

typedef struct {
    const bl_loss_args *a;
    blp_seg_layout L;
    int softmax, tversky;
    double al, be;   /* tversky's α, β; dice: 1, 1 on fp, fn of 2 tp  */
    double r;        /* the reduction's factor without the weight      */
    blp_sum *acc;    /* K scores x (tp, fp, fn), compensated sums      */
    double *q0, *q1; /* K: dL/dp at g = 0 and g = 1 (linear in g)      */
    double *p, *u;   /* C: a position's p and 1 - p                    */
} blp_seg;

/* p and 1 - p of position (n, i) into k->p, k->u; returns its class index
 * for softmax (0 for sigmoid). */
static size_t position_probs(const blp_seg *k, size_t n, size_t i)
{
    const size_t C = k->L.C, S = k->L.S;
    const double *z = k->a->input + n * C * S + i;
    if (!k->softmax) {
        for (size_t c = 0; c < C; c++) {
            double x = z[c * S], e = exp(-fabs(x));
            k->p[c] = x >= 0 ? 1 / (1 + e) : e / (1 + e);
            k->u[c] = x >= 0 ? e / (1 + e) : 1 / (1 + e);
        }
        return 0;
    }
    size_t am = 0;
    for (size_t c = 1; c < C; c++)
        if (z[c * S] > z[am * S])
            am = c;
    double m = z[am * S];
    double R = isfinite(m) ? 0.0 : NAN; /* Σ_{c != am} e^(z_c - m): exp(inf - inf) */
    for (size_t c = 0; c < C; c++) {
        double e = exp(z[c * S] - m);
        k->p[c] = e;
        R += c != am ? e : 0.0;
    }
    double Sum = 1 + R;
    for (size_t c = 0; c < C; c++) {
        k->p[c] /= Sum;
        k->u[c] = c == am ? R / Sum : 1 - k->p[c];
    }
    return (size_t)k->a->target_index[n * S + i];
}

/* g of class c at position (n, i). */
static inline double target_of(const blp_seg *k, size_t n, size_t i, size_t c, size_t y)
{
    if (k->softmax)
        return c == y ? 1.0 : 0.0;
    return k->a->target_prob[(n * k->L.C + c) * k->L.S + i];
}

/* Adds the positions of samples [n0, n1) to the K scores' sums. */
static void accumulate(const blp_seg *k, size_t n0, size_t n1)
{
    const size_t C = k->L.C, S = k->L.S, c0 = k->L.c0;
    memset(k->acc, 0, 3 * k->L.K * sizeof *k->acc);
    if (S == 0)
        return; /* no positions: a batch of 10^11 empty images costs nothing */
    for (size_t n = n0; n < n1; n++)
        for (size_t i = 0; i < S; i++) {
            size_t y = position_probs(k, n, i);
            for (size_t c = c0; c < C; c++) {
                double g = target_of(k, n, i, c, y);
                blp_sum *s = k->acc + 3 * (c - c0);
                sum_add(s + 0, k->p[c] * g);
                sum_add(s + 1, k->p[c] * (1 - g));
                sum_add(s + 2, k->u[c] * g);
            }
        }
}

/* Score of class c0 + j from its sums (weighted); also its dL/dp at
 * g = 0 and 1 into q0[j], q1[j]. */
static double score(const blp_seg *k, size_t j)
{
    const blp_sum *s = k->acc + 3 * j;
    double tp = sum_get(s + 0), fp = sum_get(s + 1), fn = sum_get(s + 2);
    const bl_loss_args *a = k->a;
    double gap = a->smooth_dr - a->smooth_nr;
    double den, f, A0, A1, B0, B1;
    if (k->tversky) {
        den = tp + k->al * fp + k->be * fn + a->smooth_dr;
        f = (k->al * fp + k->be * fn + gap) / den;
        A0 = k->al, A1 = -k->be, B0 = k->al, B1 = 1 - k->be;
    } else {
        den = 2 * tp + fp + fn + a->smooth_dr;
        f = (fp + fn + gap) / den;
        A0 = 1, A1 = -1, B0 = 1, B1 = 1;
    }
    double w = a->weights ? a->weights[j] : 1.0;
    k->q0[j] = w * k->r * (A0 - f * B0) / den;
    k->q1[j] = w * k->r * (A1 - f * B1) / den;
    return w * f;
}

/* Writes dL/dz for the positions of samples [n0, n1), given q0, q1. */
static void gradient(const blp_seg *k, size_t n0, size_t n1, double *grad)
{
    const size_t C = k->L.C, S = k->L.S, c0 = k->L.c0;
    if (S == 0)
        return;
    for (size_t n = n0; n < n1; n++)
        for (size_t i = 0; i < S; i++) {
            size_t y = position_probs(k, n, i);
            double *g = grad + n * C * S + i;
            if (!k->softmax) {
                for (size_t c = 0; c < C; c++) {
                    double t = c < c0 ? 0 : target_of(k, n, i, c, y);
                    double q = c < c0 ? 0 : k->q0[c - c0] + t * (k->q1[c - c0] - k->q0[c - c0]);
                    g[c * S] = q * k->p[c] * k->u[c];
                }
                continue;
            }
            double dot = 0; /* Σ_c p_c q_c */
            for (size_t c = c0; c < C; c++)
                dot += k->p[c] * (c == y ? k->q1[c - c0] : k->q0[c - c0]);
            for (size_t c = 0; c < C; c++) {
                double q = c < c0 ? 0 : c == y ? k->q1[c - c0] : k->q0[c - c0];
                g[c * S] = k->p[c] * (q - dot);
            }
        }
}

bl_status blp_seg_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err)
{
    bl_status rc;
    blp_seg k;
    memset(&k, 0, sizeof k);
    if (!bl_reduction_name(a->reduction))
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "unknown reduction %d: a bl_reduction is 0 to %d", (int)a->reduction,
                            BL_REDUCTION_COUNT - 1);
    if ((rc = seg_options(a, err)) != BL_OK || (rc = seg_layout(a, &k.L, err)) != BL_OK)
        return rc;
    if (!a->input && k.L.elements)
        return bl_error_set(err, BL_EINVAL, "logits", -1, "logits is missing");
    const int none = a->reduction == BL_REDUCTION_NONE;
    if (none && !res->per && k.L.scores)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "reduction none needs res->per (%zu entries)",
                            k.L.scores);
    if ((rc = seg_data(a, &k.L, err)) != BL_OK)
        return rc;

    const size_t K = k.L.K, C = k.L.C;
    double *scratch = malloc((8 * K + 2 * C) * sizeof *scratch);
    if (!scratch)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %s's %zu sums",
                            bl_loss_names[a->loss], 6 * K);
    k.a = a;
    k.softmax = a->activation == BL_ACTIVATION_SOFTMAX;
    k.tversky = a->loss == BL_LOSS_TVERSKY;
    k.al = a->tversky_alpha;
    k.be = a->tversky_beta;
    k.r = a->reduction == BL_REDUCTION_MEAN ? 1 / (double)k.L.scores : 1.0;
    k.acc = (blp_sum *)scratch; /* 6 K doubles: 3 K pairs (s, c) */
    k.q0 = scratch + 6 * K;
    k.q1 = k.q0 + K;
    k.p = k.q1 + K;
    k.u = k.p + C;

    blp_sum total = {0, 0}; /* the sum of the scores */
    const size_t groups = a->batch ? 1 : k.L.N, per_group = a->batch ? k.L.N : 1;
    for (size_t b = 0; b < groups; b++) {
        size_t n0 = b * per_group, n1 = n0 + per_group;
        accumulate(&k, n0, n1);
        for (size_t j = 0; j < K; j++) {
            double f = score(&k, j);
            if (none)
                res->per[b * K + j] = f;
            sum_add(&total, f);
        }
        if (res->grad)
            gradient(&k, n0, n1, res->grad);
    }
    free(scratch);
    double sum = sum_get(&total);
    res->total_weight = (double)k.L.scores;
    if (a->reduction == BL_REDUCTION_MEAN)
        res->value = k.L.scores ? sum / (double)k.L.scores : NAN;
    else
        res->value = sum;
    return BL_OK;
}
