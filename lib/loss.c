/*
 * loss.c — PyTorch's classification losses and their gradients, in float64.
 *
 * Layout. A class loss (cross_entropy, nll, focal) sees its input as
 * (outer, C, inner): outer = N (1 for 1-D input), inner = d1 ... dk (1 for
 * 1-D and 2-D input). Position n = n0 * inner + i owns the C elements
 * (n0 C + c) inner + i, c in [0, C), `inner` apart; its target is
 * target_index[n], or the probabilities at those same elements. The binary
 * losses see a flat array whose last dim carries the broadcast weights.
 *
 * Workload. Tuned for wide rows such as (4096, 1000) cross_entropy: one pass
 * per position takes the max of its logits, then Σ exp(z - max), then its
 * loss and gradient. When a gradient is asked for, the exps are parked in the
 * gradient row itself, so nothing is ever allocated and the per-position
 * state is a handful of scalars. A pass over the targets runs first: it
 * validates them, so an error leaves no output written, and it sums the
 * mean's denominator, so the gradient's scale is known in the main pass.
 *
 * Numerics. The formulas are PyTorch 1.13's (log_softmax as (z - max) -
 * log S, log_softmax_backward as g - softmax Σ g, nll_loss's scaling by
 * 1/total_weight), with three rewrites where torch loses digits that cost
 * nothing to keep, all algebraically identical:
 *   - log S = log1p(R), R = Σ exp(z_c - max) over every class but the
 *     max's, whose term is exactly 1: torch's log(S) keeps only ulp(1) of a
 *     confident prediction's loss, 1.1e-16 absolute, which weights of 1000
 *     turn into 1e-13;
 *   - 1 - softmax_y = R / S for the max class, in the gradient's target
 *     row, where torch subtracts softmax_y from 1;
 *   - bce as (1-y) softplus(x) + pw y softplus(-x), a sum of terms >= 0,
 *     with σ(-x) rather than 1 - σ(x) in its gradient.
 * Where torch is accurate the results agree with it to a few ulps; where it
 * is not, they agree with the exact value. Sums over positions use
 * Neumaier's compensated summation, at least as accurate as torch's
 * cascade sums.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "loss_longtail.h"
#include "loss_internal.h"
#include "sum.h" /* blp_sum: the compensated sums over positions */
#include "vmath.h"

bl_loss_args bl_loss_args_default(void)
{
    bl_loss_args a;
    memset(&a, 0, sizeof a);
    a.loss = BL_LOSS_CROSS_ENTROPY;
    a.reduction = BL_REDUCTION_MEAN;
    a.ignore_index = -100;
    a.label_smoothing = 0.0;
    a.gamma = 2.0;
    a.alpha = 0.25;
    a.adjust_logits = 0;
    a.logit_adjustment = 1.0; /* Balanced Softmax, once on */
    a.max_margin = 0.5;
    a.scale = 30.0;
    /* multi-label and segmentation */
    a.gamma_pos = 1.0;
    a.gamma_neg = 4.0;
    a.clip = 0.05;
    a.eps = 1e-8;
    a.activation = BL_ACTIVATION_SOFTMAX;
    a.include_background = 1;
    a.batch = 0;
    a.smooth_nr = 1e-5;
    a.smooth_dr = 1e-5;
    a.tversky_alpha = 0.5;
    a.tversky_beta = 0.5;
    return a;
}

static int is_binary(bl_loss_kind k)
{
    return k == BL_LOSS_BCE_WITH_LOGITS || k == BL_LOSS_SIGMOID_FOCAL || k == BL_LOSS_ASYMMETRIC;
}

size_t bl_loss_elements(const bl_loss_args *a)
{
    size_t ndim = a->ndim < BL_MAX_DIMS ? a->ndim : BL_MAX_DIMS;
    size_t n = 1;
    for (size_t d = 0; d < ndim; d++)
        n *= a->shape[d];
    return n;
}

size_t bl_loss_positions(const bl_loss_args *a)
{
    if (blp_is_seg(a->loss))
        return blp_seg_scores(a);
    if (is_binary(a->loss))
        return bl_loss_elements(a);
    size_t ndim = a->ndim < BL_MAX_DIMS ? a->ndim : BL_MAX_DIMS;
    if (ndim == 0)
        return 0; /* not a valid class-loss input */
    if (ndim == 1)
        return 1;
    size_t n = a->shape[0];
    for (size_t d = 2; d < ndim; d++)
        n *= a->shape[d];
    return n;
}

/* ------------------------------------------------------------------ */
/* Argument checks                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t outer;     /* class losses: N (1 for 1-D input)                  */
    size_t classes;   /* class losses: C > 0                                */
    size_t inner;     /* class losses: d1 ... dk (1 for 1-D, 2-D input)     */
    size_t positions; /* loss terms: outer * inner, or elements (binary)   */
    size_t elements;  /* product of the shape                               */
    size_t last;      /* binary losses: the last dim (1 for a scalar)       */
} blp_layout;

/* Product with overflow detection: returns 0 and leaves *p alone on
 * overflow. */
static int mul_size(size_t *p, size_t x)
{
    if (x != 0 && *p > SIZE_MAX / x)
        return 0;
    *p *= x;
    return 1;
}

static const char *input_name(const bl_loss_args *a)
{
    return a->loss == BL_LOSS_NLL ? "log_probs" : "logits";
}

static bl_status layout_of(const bl_loss_args *a, blp_layout *L, bl_error *err)
{
    const char *in = input_name(a);
    const char *name = bl_loss_names[a->loss];
    memset(L, 0, sizeof *L);
    if (a->ndim > BL_MAX_DIMS)
        return bl_error_set(err, BL_EINVAL, in, -1,
                            "%s has %zu dimensions; at most %d are supported", in, a->ndim,
                            BL_MAX_DIMS);
    size_t elements = 1;
    for (size_t d = 0; d < a->ndim; d++)
        if (!mul_size(&elements, a->shape[d]))
            return bl_error_set(err, BL_EINVAL, in, -1, "%s has too many elements for this machine",
                                in);
    L->elements = elements;
    if (is_binary(a->loss)) {
        L->positions = elements;
        L->last = a->ndim ? a->shape[a->ndim - 1] : 1;
        L->outer = L->classes = L->inner = 1;
        return BL_OK;
    }
    /* torch: input (C), (N, C) or (N, C, d1, ..., dk); class dim 1, or 0 for
     * 1-D input. */
    if (a->ndim == 0)
        return bl_error_set(err, BL_EINVAL, in, -1,
                            "%s takes %s of shape (C), (N, C) or (N, C, d1, ...); got a scalar",
                            name, in);
    size_t cdim = a->ndim == 1 ? 0 : 1;
    L->classes = a->shape[cdim];
    if (L->classes == 0)
        return bl_error_set(err, BL_EINVAL, in, -1,
                            "%s has 0 classes (dim %zu); at least 1 is needed", in, cdim);
    L->outer = a->ndim == 1 ? 1 : a->shape[0];
    L->inner = 1;
    for (size_t d = 2; d < a->ndim; d++)
        L->inner *= a->shape[d]; /* can't overflow: divides elements */
    L->positions = L->outer * L->inner;
    return BL_OK;
}

/* The options each loss takes, and their ranges. gamma and alpha have
 * non-zero defaults, so they are only checked by the losses that use them;
 * label_smoothing and pos_weight default to "off" and are refused where they
 * would be silently ignored. */
static bl_status check_options(const bl_loss_args *a, bl_error *err)
{
    const char *name = bl_loss_names[a->loss];
    double eps = a->label_smoothing;
    if (eps != 0 && a->loss != BL_LOSS_CROSS_ENTROPY)
        return bl_error_set(err, BL_EINVAL, "label_smoothing", -1,
                            "label_smoothing is only supported by cross_entropy, not %s", name);
    /* torch ignores a negative label_smoothing and refuses > 1; we refuse
     * both (and NaN, which fails the comparison). */
    if (!(eps >= 0 && eps <= 1))
        return bl_error_set(err, BL_EINVAL, "label_smoothing", -1,
                            "label_smoothing must be in [0, 1]; got %g", eps);
    if (a->loss == BL_LOSS_FOCAL || a->loss == BL_LOSS_SIGMOID_FOCAL) {
        if (!(a->gamma >= 0 && isfinite(a->gamma)))
            return bl_error_set(err, BL_EINVAL, "gamma", -1,
                                "gamma must be a finite number >= 0; got %g", a->gamma);
    }
    if (a->loss == BL_LOSS_SIGMOID_FOCAL && a->alpha != -1 && !(a->alpha >= 0 && a->alpha <= 1))
        return bl_error_set(err, BL_EINVAL, "alpha", -1,
                            "alpha must be in [0, 1], or -1 for none; got %g", a->alpha);
    if (a->pos_weight && a->loss != BL_LOSS_BCE_WITH_LOGITS)
        return bl_error_set(err, BL_EINVAL, "pos_weight", -1,
                            "pos_weight is only supported by bce_with_logits, not %s", name);
    if (a->loss == BL_LOSS_ASYMMETRIC)
        return blp_asymmetric_check(a, err);
    return BL_OK;
}

/* A weight vector: `want` entries, each finite and >= 0. */
static bl_status check_vector(const double *v, size_t len, size_t want, const char *arg,
                              const char *what, bl_error *err)
{
    if (!v)
        return BL_OK;
    if (len != want)
        return bl_error_set(err, BL_EINVAL, arg, -1, "%s has %zu entries; expected %zu (%s)", arg,
                            len, want, what);
    for (size_t i = 0; i < len; i++)
        if (!(v[i] >= 0 && isfinite(v[i])))
            return bl_error_set(err, BL_EINVAL, arg, (int64_t)i,
                                "%s[%zu] = %g; every entry must be a finite number >= 0", arg, i,
                                v[i]);
    return BL_OK;
}

/* Class-index targets: each in [0, C) or ignore_index. Returns the mean's
 * denominator Σ_{kept} w[y_n] in *den (torch's total_weight). */
static bl_status check_index_targets(const bl_loss_args *a, const blp_layout *L, double *den,
                                     bl_error *err)
{
    blp_sum s = {0, 0};
    const int64_t *t = a->target_index;
    size_t kept = 0; /* without weights the sum of ones, exact: the count */
    for (size_t n = 0; n < L->positions; n++) {
        int64_t y = t[n];
        if (y == a->ignore_index)
            continue;
        if (y < 0 || (uint64_t)y >= L->classes)
            return blp_target_out_of_bounds(err, n, y, L->classes);
        if (a->weights)
            sum_add(&s, a->weights[(size_t)y]);
        else
            kept++;
    }
    *den = a->weights ? sum_get(&s) : (double)kept;
    return BL_OK;
}

/* Binary targets: probabilities in [0, 1] (NaN refused). */
static bl_status check_binary_targets(const bl_loss_args *a, const blp_layout *L, bl_error *err)
{
    for (size_t i = 0; i < L->elements; i++) {
        double y = a->target_prob[i];
        if (!(y >= 0 && y <= 1))
            return bl_error_set(err, BL_EINVAL, "targets", (int64_t)i,
                                "targets[%zu] = %g is outside [0, 1]", i, y);
    }
    return BL_OK;
}

/* Everything bl_loss needs to know before it writes anything: the layout,
 * the option ranges, the kind of targets and their values, and the mean's
 * denominator. */
static bl_status check_all(const bl_loss_args *a, const bl_loss_result *res, blp_layout *L,
                           double *den, bl_error *err)
{
    bl_status rc;
    if (!bl_loss_name(a->loss))
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "unknown loss kind %d: a bl_loss_kind is 0 to %d", (int)a->loss,
                            BL_LOSS_COUNT - 1);
    if (!bl_reduction_name(a->reduction))
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "unknown reduction %d: a bl_reduction is 0 to %d", (int)a->reduction,
                            BL_REDUCTION_COUNT - 1);
    const char *name = bl_loss_names[a->loss];
    const char *in = input_name(a);
    if ((rc = layout_of(a, L, err)) != BL_OK)
        return rc;
    if (!a->input && !a->input_f32 && L->elements)
        return bl_error_set(err, BL_EINVAL, in, -1, "%s is missing", in);
    if (a->reduction == BL_REDUCTION_NONE && !res->per && L->positions)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "reduction none needs res->per (%zu entries)",
                            L->positions);
    if ((rc = check_options(a, err)) != BL_OK)
        return rc;

    if (is_binary(a->loss)) {
        if (a->target_index || (!a->target_prob && L->elements))
            return bl_error_set(err, BL_EINVAL, "targets", -1,
                                "%s takes targets of the logits' shape, with values in [0, 1]",
                                name);
        if ((rc = check_vector(a->weights, a->weights_len, L->last, "weights",
                               "the last dim of logits", err)) != BL_OK)
            return rc;
        if ((rc = check_vector(a->pos_weight, a->pos_weight_len, L->last, "pos_weight",
                               "the last dim of logits", err)) != BL_OK)
            return rc;
        if ((rc = check_binary_targets(a, L, err)) != BL_OK)
            return rc;
        *den = (double)L->elements;
        return BL_OK;
    }

    int has_index = a->target_index != NULL, has_prob = a->target_prob != NULL;
    if (has_index && has_prob)
        return bl_error_set(
            err, BL_EINVAL, "targets", -1,
            "give either class indices or class probabilities as targets, not both");
    if (!has_index && !has_prob && L->positions)
        return bl_error_set(err, BL_EINVAL, "targets", -1, "targets are missing");
    if (has_prob && a->loss != BL_LOSS_CROSS_ENTROPY)
        return bl_error_set(err, BL_EINVAL, "targets", -1,
                            "probability targets are only supported by cross_entropy, not %s; "
                            "%s takes class indices",
                            name, name);
    /* torch: "ignore_index is not supported for floating point target". */
    if (has_prob && a->ignore_index >= 0)
        return bl_error_set(err, BL_EINVAL, "ignore_index", -1,
                            "ignore_index (%lld) is not supported with probability targets",
                            (long long)a->ignore_index);
    if ((rc = check_vector(a->weights, a->weights_len, L->classes, "weights",
                           "the number of classes", err)) != BL_OK)
        return rc;
    if (has_prob) {
        *den = (double)L->positions;
        return BL_OK;
    }
    return check_index_targets(a, L, den, err);
}

/* ------------------------------------------------------------------ */
/* Class losses                                                        */
/* ------------------------------------------------------------------ */

/* What every position of a class loss shares. */
typedef struct {
    bl_loss_kind loss;
    size_t C;        /* classes                                           */
    size_t s;        /* stride between a position's classes (= inner)     */
    const double *w; /* class weights, or NULL for all 1                  */
    int64_t ignore;  /* ignore_index                                      */
    double eps;      /* label smoothing, in [0, 1]                        */
    double eps_c;    /* eps / C                                           */
    double wsum;     /* Σ_c w_c (label smoothing)                         */
    double gamma;    /* focal                                             */
    double ky;       /* d(reduced)/d(l_n) of the target term: (1-eps)/den,
                      * no /den but for mean; 1/den for probabilities */
    double ks;       /* ... of the smoothing term: (eps/C)/den            */
} blp_class;

/* Index of the max of z[c s], c in [0, C): the first one on a tie. A NaN
 * is never the max unless it is z[0]; either way it reaches every result
 * through exp(NaN - m) or m itself. */
static inline size_t argmax_of(const double *z, size_t C, size_t s)
{
    size_t am = 0;
    double best = z[0];
    for (size_t c = 1; c < C; c++) { /* branch-free: selects, not jumps */
        double v = z[c * s];
        int gt = v > best;
        am = gt ? c : am;
        best = gt ? v : best;
    }
    return am;
}

/* Float32 input (bl_loss_args.input_f32) is read through memcpy: any
 * alignment. Value i of p. */
static inline float f32_at(const unsigned char *p, size_t i)
{
    float f;
    memcpy(&f, p + i * sizeof f, sizeof f);
    return f;
}

/* argmax_of over float32 (contiguous): the same index as over the doubles
 * they convert to, conversion being exact and monotonic. */
static inline size_t argmax_f32(const unsigned char *z, size_t C)
{
    size_t am = 0;
    float best = f32_at(z, 0);
    for (size_t c = 1; c < C; c++) {
        float v = f32_at(z, c);
        int gt = v > best;
        am = gt ? c : am;
        best = gt ? v : best;
    }
    return am;
}

/* R's starting value: 0, or NaN when the max is not finite, where torch's
 * exp(max - max) = exp(inf - inf) makes every result NaN. */
static inline double rest_init(double m) { return isfinite(m) ? 0.0 : NAN; }

/*
 * One position of cross_entropy (class index, optional label smoothing) or
 * focal. Returns l_n; when g is not NULL fills the position's gradient row
 * with d(reduced loss)/dz_c.
 *
 * Forward, with d_c = z_c - max and S = Σ_c exp(d_c) = 1 + R, R the sum
 * without the max's own term (torch's log_softmax, with log S = log1p(R)):
 *     p_c = d_c - log S
 *     cross_entropy:  l = -w_y p_y                              (nll_loss)
 *       smoothing eps: l = (1-eps)(-w_y p_y) + (eps/C) Σ_c (-w_c p_c)
 *                      where Σ_c -w_c p_c = W log S - Σ_c w_c d_c:
 *                      two sums of terms >= 0, so no cancellation.
 *     focal:          l = -w_y (1-P)^γ p_y,  P = exp(p_y), 1-P = -expm1(p_y)
 * Backward: with g_c = dl/dp_c (times the reduction's scale), log_softmax's
 * backward is dl/dz_c = g_c - softmax_c Σ_k g_k (torch's own formula), and
 *     cross_entropy:  g_c = -(1-eps) w_y [c = y] - (eps/C) w_c
 *     focal:          g_y = dl/dp = -w_y [(1-P)^γ - γ (1-P)^(γ-1) P p_y]
 *                         = -w_y (1-P)^γ [1 - γ P p_y / (1-P)]
 *                     p/(1-P) -> -1 as p -> 0, which keeps γ < 1 and P = 1
 *                     finite: there g_y is -w_y for γ = 0, else 0.
 * In the target's own row, g_y - softmax_y G is written
 *     g_y (1 - softmax_y) + (eps/C)(softmax_y W - w_y)
 * with 1 - softmax_y = R / S when y is the max: no cancellation as
 * softmax_y -> 1, the confident-and-right case.
 */
/* The part of index_position after the softmax statistics: zy the target's
 * logit; am and m, the
 * argmax and max of the row; R = S - 1; logS = log1p(R); D = Σ w_c d_c
 * (label smoothing only). With g, the gradient row holds exp(d_c) on
 * entry and the gradient on return. */
static double index_finish(const blp_class *k, double zy, int64_t y, size_t am, double m, double R,
                           double logS, double D, double *g)
{
    const size_t C = k->C, s = k->s;
    double S = 1 + R;
    const size_t yc = (size_t)y;
    double wy = k->w ? k->w[yc] : 1.0;
    double py = (zy - m) - logS;

    double l, gy, Gs = 0; /* loss; dl/dp_y; Σ_c of the smoothing's dl/dp_c */
    if (k->loss == BL_LOSS_FOCAL) {
        double u = -expm1(py); /* 1 - P, >= 0 as py <= 0 */
        double ug = pow(u, k->gamma);
        l = -wy * ug * py;
        double r = u > 0 ? py / u : -1.0;
        gy = -wy * ug * (1 - k->gamma * exp(py) * r) * k->ky;
    } else {
        l = -py * wy;
        gy = wy * -k->ky;
        if (k->eps > 0) {
            l = (1 - k->eps) * l + k->eps_c * (logS * k->wsum - D);
            Gs = -k->ks * k->wsum;
        }
    }
    if (g) {
        double invS = 1 / S, G = gy + Gs;
        double sy = g[yc * s] * invS;
        double one_minus_sy = yc == am ? R * invS : 1 - sy;
        if (k->eps > 0)
            for (size_t c = 0; c < C; c++)
                g[c * s] = -k->ks * (k->w ? k->w[c] : 1.0) - g[c * s] * invS * G;
        else
            for (size_t c = 0; c < C; c++)
                g[c * s] = -(g[c * s] * invS) * G;
        g[yc * s] = gy * one_minus_sy + (-k->ks * wy - sy * Gs);
        if (k->eps > 0) {
            /* the argmax's s_am Σ_c h_c - h_am, h_c = -dl/dp_c, as (Σ_{c != am} h_c -
             * R h_am) / S: s_am = 1 / S rounds R away in a confident row, and with a
             * dominant weight (1e300) the difference is far below ulp(s_am Σ h) */
            double rest = yc != am ? -gy : 0.0;
            for (size_t c = 0; c < C; c++)
                rest += c != am ? k->ks * (k->w ? k->w[c] : 1.0) : 0.0;
            double h_am = k->ks * (k->w ? k->w[am] : 1.0) + (yc == am ? -gy : 0.0);
            g[am * s] = fma(-h_am, R, rest) / S;
        }
    }
    return l;
}

static double index_position(const blp_class *k, const double *z, int64_t y, double *g)
{
    const size_t C = k->C, s = k->s;
    if (y == k->ignore) {
        if (g)
            for (size_t c = 0; c < C; c++)
                g[c * s] = 0;
        return 0;
    }
    assert(y >= 0 && (uint64_t)y < C); /* check_index_targets */

    size_t am = argmax_of(z, C, s);
    double m = z[am * s];
    double R = rest_init(m), D = 0; /* S - 1, Σ w_c d_c */
    if (k->eps > 0) {
        for (size_t c = 0; c < C; c++) {
            double d = z[c * s] - m, e = exp(d);
            R += c != am ? e : 0.0;
            D += (k->w ? k->w[c] : 1.0) * d;
            if (g)
                g[c * s] = e;
        }
    } else if (g) {
        for (size_t c = 0; c < C; c++) {
            double e = g[c * s] = exp(z[c * s] - m);
            R += c != am ? e : 0.0;
        }
    } else {
        for (size_t c = 0; c < C; c++) {
            double e = exp(z[c * s] - m);
            R += c != am ? e : 0.0;
        }
    }
    return index_finish(k, z[(size_t)y * s], y, am, m, R, log1p(R), D, g);
}

/* index_block's statistics of rows [r0, rows), one row at a time: m, the
 * argmax, D, exp(d_c) into e (one blp_vexp from row r0 on), then R. The
 * definitions are blp_rowstats_vec's (vmath.h), which does the rows before
 * r0 eight or four at a time and must keep giving the same bits as this loop. */
static void block_rows(const blp_class *k, const double *z, const unsigned char *zf, size_t r0,
                       size_t rows, double *e, double *st)
{
    const size_t C = k->C;
    double *m = st, *R = st + rows, *D = st + 3 * rows, *amv = st + 4 * rows;
    for (size_t r = r0; r < rows; r++) {
        double *er = e + r * C;
        size_t am;
        if (zf) { /* float32: d_c from the exact doubles of the floats */
            const unsigned char *fr = zf + r * C * sizeof(float);
            am = argmax_f32(fr, C); /* the same order as of the doubles */
            m[r] = f32_at(fr, am);
            for (size_t c = 0; c < C; c++)
                er[c] = (double)f32_at(fr, c) - m[r];
        } else {
            const double *zr = z + r * C;
            am = argmax_of(zr, C, 1);
            m[r] = zr[am];
            for (size_t c = 0; c < C; c++)
                er[c] = zr[c] - m[r];
        }
        amv[r] = (double)am;
        double d_sum = 0;
        if (k->eps > 0)
            for (size_t c = 0; c < C; c++)
                d_sum += (k->w ? k->w[c] : 1.0) * er[c];
        D[r] = d_sum;
    }
    blp_vexp(e + r0 * C, e + r0 * C, (rows - r0) * C);
    /* R: every class but the max, in order: R stays exact when it is far
     * below 1 (a confident row). The max's term is replaced by +0, which
     * leaves R's bits as they are (R is never -0), so that the loop runs C
     * times in every row, with no mispredicted exit; four rows at a time,
     * four independent chains of additions, each in its own order. */
    size_t q = r0;
    for (; q + 4 <= rows; q += 4) {
        const double *e0 = e + q * C, *e1 = e0 + C, *e2 = e1 + C, *e3 = e2 + C;
        size_t a0 = (size_t)amv[q], a1 = (size_t)amv[q + 1], a2 = (size_t)amv[q + 2],
               a3 = (size_t)amv[q + 3];
        double s0 = rest_init(m[q]), s1 = rest_init(m[q + 1]), s2 = rest_init(m[q + 2]),
               s3 = rest_init(m[q + 3]);
        for (size_t c = 0; c < C; c++) {
            s0 += c != a0 ? e0[c] : 0.0;
            s1 += c != a1 ? e1[c] : 0.0;
            s2 += c != a2 ? e2[c] : 0.0;
            s3 += c != a3 ? e3[c] : 0.0;
        }
        R[q] = s0;
        R[q + 1] = s1;
        R[q + 2] = s2;
        R[q + 3] = s3;
    }
    for (size_t r = q; r < rows; r++) {
        const double *er = e + r * C;
        size_t am = (size_t)amv[r];
        double rest = rest_init(m[r]);
        for (size_t c = 0; c < C; c++)
            rest += c != am ? er[c] : 0.0;
        R[r] = rest;
    }
}

/*
 * index_position for a block of contiguous rows (inner size 1), with exp
 * and log1p by the vector math of vmath.c: the per-row statistics first
 * (blp_rowstats_vec 8 or 4 rows at a time where the CPU allows, block_rows the
 * rest), with exp of every d_c, then one log1p over every R, then
 * index_finish per row (its loss alone inline for cross_entropy without
 * gradient or smoothing). e is the block's exp buffer (the gradient rows
 * themselves when g is not NULL); st holds 5 doubles a row of scratch.
 * Same values as index_position up to the vector functions' rounding (a
 * few ulp).
 */
static void index_block(const blp_class *k, const double *z, const unsigned char *zf,
                        const int64_t *y, size_t rows, double *e, double *st, double *l,
                        int with_grad)
{
    const size_t C = k->C;
    double *m = st, *R = st + rows, *logS = st + 2 * rows, *D = st + 3 * rows;
    double *amv = st + 4 * rows; /* argmax, exact as a double */
    blp_rowstats rs = {.z = z,
                       .zf = zf,
                       .rows = rows,
                       .C = C,
                       .w = k->w,
                       .want_D = k->eps > 0,
                       .m = m,
                       .am = amv,
                       .R = R,
                       .D = D,
                       .e = with_grad ? e : NULL};
    size_t done = blp_rowstats_vec(&rs);
    if (done < rows)
        block_rows(k, z, zf, done, rows, e, st);
    blp_vlog1p(R, logS, rows);
    if (!with_grad && k->loss == BL_LOSS_CROSS_ENTROPY && !(k->eps > 0)) {
        /* index_finish's loss alone, -((z_y - m) - log S) w_y */
        for (size_t r = 0; r < rows; r++) {
            if (y[r] == k->ignore) {
                l[r] = 0;
                continue;
            }
            assert(y[r] >= 0 && (uint64_t)y[r] < C);
            size_t at = r * C + (size_t)y[r];
            double zy = zf ? (double)f32_at(zf, at) : z[at];
            double py = (zy - m[r]) - logS[r];
            l[r] = -py * (k->w ? k->w[y[r]] : 1.0);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        double *er = e + r * C;
        if (y[r] == k->ignore) {
            if (with_grad)
                for (size_t c = 0; c < C; c++)
                    er[c] = 0;
            l[r] = 0;
            continue;
        }
        assert(y[r] >= 0 && (uint64_t)y[r] < C);
        size_t at = r * C + (size_t)y[r];
        l[r] = index_finish(k, zf ? (double)f32_at(zf, at) : z[at], y[r], (size_t)amv[r], m[r],
                            R[r], logS[r], D[r], with_grad ? er : NULL);
    }
}

/*
 * One position of cross_entropy with probability targets t (torch's
 * cross_entropy_loss_prob_target):
 *     t'_c = (1-eps) t_c + eps/C,  W_c = w_c t'_c,  T = Σ_c W_c
 *     l = -Σ_c W_c p_c = log S T - Σ_c W_c d_c
 *     dl/dp_c = -W_c, so dl/dz_c = softmax_c T - W_c      (times k->ky)
 * torch checks nothing about the targets: they may be of either sign and
 * any size, and T may be a small difference of large terms, which a plain
 * sum gets wrong in all but its last few digits (1e-8 relative with
 * targets of 1e8 and -1e8). So the two sums of W are Neumaier's,
 * T is kept as a double-double (Th + Tl) and each gradient entry is formed
 * as fma(softmax_c, Th, -W_c) + softmax_c Tl: one rounding of a difference
 * that may cancel. For C = 1 (softmax 1, T = W_0) that gives exactly 0,
 * the derivative of a constant loss.
 */
static inline double prob_weight(const blp_class *k, const double *t, size_t c)
{
    double tc = k->eps > 0 ? t[c * k->s] * (1 - k->eps) + k->eps_c : t[c * k->s];
    return tc * (k->w ? k->w[c] : 1.0);
}

static double prob_position(const blp_class *k, const double *z, const double *t, double *g)
{
    const size_t C = k->C, s = k->s;
    size_t am = argmax_of(z, C, s);
    double m = z[am * s];
    double R = rest_init(m);        /* S - 1: terms > 0, as index_position */
    blp_sum T = {0, 0}, D = {0, 0}; /* Σ W_c, Σ W_c d_c: of either sign */
    blp_sum Tr = {0, 0};            /* Σ_{c != am} W_c, for the argmax's gradient */
    for (size_t c = 0; c < C; c++) {
        double d = z[c * s] - m, e = exp(d), wt = prob_weight(k, t, c);
        R += c != am ? e : 0.0;
        sum_add(&T, wt);
        sum_add(&D, wt * d);
        if (c != am)
            sum_add(&Tr, wt);
        if (g)
            g[c * s] = e;
    }
    double S = 1 + R, logS = log1p(R);
    double Th = sum_get(&T), Tl = 0; /* T = Th + Tl: two-sum of T.s and T.c */
    if (isfinite(Th)) {
        double bb = Th - T.s;
        Tl = (T.s - (Th - bb)) + (T.c - bb);
    }
    if (g) {
        for (size_t c = 0; c < C; c++) {
            double sm = g[c * s] / S;
            g[c * s] = k->ky * (fma(sm, Th, -prob_weight(k, t, c)) + sm * Tl);
        }
        /* the argmax's T / S - W_am as (Σ_{c != am} W_c - W_am R) / S: 1 / S rounds
         * R away when the row is confident (R < ulp(1)), and W_am (1 - 1 / S) with it */
        g[am * s] = k->ky * (fma(-prob_weight(k, t, am), R, sum_get(&Tr)) / S);
    }
    return fma(logS, Th, -sum_get(&D)) + logS * Tl;
}

/* What every position of the class loss shares: the options, Σ_c w_c, and
 * the reduction's scale of each term. */
static blp_class class_shared(const bl_loss_args *a, const blp_layout *L, double den)
{
    const int mean = a->reduction == BL_REDUCTION_MEAN;
    const size_t C = L->classes;
    blp_class k = {
        .loss = a->loss,
        .C = C,
        .s = L->inner,
        .w = a->weights,
        .ignore = a->ignore_index,
        .eps = a->label_smoothing,
        .eps_c = a->label_smoothing / (double)C,
        .wsum = 0,
        .gamma = a->gamma,
    };
    if (a->weights) {
        blp_sum ws = {0, 0};
        for (size_t c = 0; c < C; c++)
            sum_add(&ws, a->weights[c]);
        k.wsum = sum_get(&ws);
    } else {
        k.wsum = (double)C;
    }
    /* torch scales the gradient of a mean by 1/den inside nll_loss's
     * backward: w * -(grad_out / total_weight). */
    k.ky = mean ? (1 - k.eps) / den : 1 - k.eps;
    k.ks = mean ? k.eps_c / den : k.eps_c;
    if (a->target_prob) /* torch's mean divides by positions, no (1-eps) */
        k.ky = mean ? 1 / den : 1.0;
    return k;
}

/* Contiguous rows (inner size 1) of class-index cross_entropy or focal
 * through the vector path, in blocks of about 4096 elements. Returns the
 * number of rows done: all of them, or 0 when its scratch memory is
 * unavailable and the scalar path must do the same work. */
static size_t vector_rows(const bl_loss_args *a, const blp_layout *L, const blp_class *k,
                          double *per, double *grad, blp_sum *total)
{
    const size_t C = L->classes, B = C >= 4096 ? 1 : 4096 / C;
    double *scratch = malloc((grad ? 0 : B * C) * sizeof(double) + 6 * B * sizeof(double));
    if (!scratch)
        return 0;
    double *st = scratch, *lb = scratch + 5 * B, *buf = scratch + 6 * B;
    for (size_t start = 0; start < L->outer; start += B) {
        size_t rows = L->outer - start < B ? L->outer - start : B;
        double *e = grad ? grad + start * C : buf;
        /* float32 input (bl_loss_args.input_f32) is read by index_block */
        index_block(k, a->input ? a->input + start * C : NULL,
                    a->input ? NULL
                             : (const unsigned char *)a->input_f32 + start * C * sizeof(float),
                    a->target_index + start, rows, e, st, lb, grad != NULL);
        for (size_t r = 0; r < rows; r++) {
            if (per)
                per[start + r] = lb[r];
            sum_add(total, lb[r]);
        }
    }
    free(scratch);
    return L->outer;
}

/* Whether class_loss reads a->input_f32 itself: nll, and class-index
 * cross_entropy and focal through the vector path. */
static int reads_f32(const bl_loss_args *a)
{
    if (blp_longtail_wanted(a) || a->target_prob)
        return 0;
    if (a->loss == BL_LOSS_NLL)
        return 1;
    return (a->loss == BL_LOSS_CROSS_ENTROPY || a->loss == BL_LOSS_FOCAL) && a->ndim == 2 &&
           a->shape[0] > 1;
}

/* 0, or -1 when float32 input found no memory for its scratch (nothing is
 * written then). */
static int class_loss(const bl_loss_args *a, const blp_layout *L, double den, bl_loss_result *res,
                      blp_sum *total)
{
    const size_t inner = L->inner, row = L->classes * inner;
    const blp_class k = class_shared(a, L, den);
    if (L->positions == 0)
        return 0; /* input may be NULL: no pointer arithmetic on it */
    double *per = a->reduction == BL_REDUCTION_NONE ? res->per : NULL;
    double *grad = res->grad;
    size_t start = 0;
    if (inner == 1 && !a->target_prob && a->loss != BL_LOSS_NLL && L->outer > 1) {
        start = vector_rows(a, L, &k, per, grad, total);
        if (!a->input && start < L->outer)
            return -1; /* float32 has no scalar path (reads_f32) */
    }
    if (grad && a->loss == BL_LOSS_NLL)
        memset(grad, 0, L->elements * sizeof *grad); /* IEEE: all-zero bits are +0.0 */
    for (size_t n0 = start; n0 < L->outer; n0++) {
        const double *z = a->input ? a->input + n0 * row : NULL; /* NULL: nll of float32 */
        const unsigned char *zf =
            a->input ? NULL : (const unsigned char *)a->input_f32 + n0 * row * sizeof(float);
        double *g = grad ? grad + n0 * row : NULL;
        for (size_t i = 0; i < inner; i++) {
            size_t n = n0 * inner + i;
            double l;
            if (a->loss == BL_LOSS_NLL) {
                /* torch nll_loss: l = -x[y] w[y]; the gradient w.r.t. the
                 * log-probabilities is -w[y] (times 1/den for mean) at y. */
                int64_t y = a->target_index[n];
                if (y == a->ignore_index) {
                    l = 0;
                } else {
                    double wy = a->weights ? a->weights[(size_t)y] : 1.0;
                    size_t at = (size_t)y * inner + i;
                    l = -(z ? z[at] : (double)f32_at(zf, at)) * wy;
                    if (g)
                        g[(size_t)y * inner + i] = wy * -k.ky;
                }
            } else if (a->target_prob) {
                l = prob_position(&k, z + i, a->target_prob + n0 * row + i, g ? g + i : NULL);
            } else {
                l = index_position(&k, z + i, a->target_index[n], g ? g + i : NULL);
            }
            if (per)
                per[n] = l;
            sum_add(total, l);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Binary losses                                                       */
/* ------------------------------------------------------------------ */

/*
 * bce_with_logits (torch's binary_cross_entropy_with_logits), with
 * sp(x) = softplus(x) = log(1 + e^x) = max(x, 0) + log1p(exp(-|x|)):
 *     l = w [(1-y) sp(x) + pw y sp(-x)]
 *       = -w [pw y log σ(x) + (1-y) log(1 - σ(x))]
 * torch computes (1-y) x + (1 + (pw-1) y)(log(exp(-m) + exp(-x-m)) + m),
 * m = max(-x, 0): the same value, but y = 0 with x << 0 cancels x against m,
 * and log(1 + e) drops e below ulp(1). Here both terms are >= 0 and exp
 * never sees a positive argument.
 * Backward: dl/dx = w [(1-y) σ(x) - pw y σ(-x)], torch's
 * ((pw y + 1 - y) σ(x) - pw y) w with σ(-x) for 1 - σ(x); mean divides by
 * the element count, as torch's backward does.
 *
 * sigmoid_focal, torchvision.ops.sigmoid_focal_loss, with `weights` scaling
 * ce like bce's weight (a ballast extension; torchvision has none):
 *     ce = w [(1-y) sp(x) + y sp(-x)]
 *     q = 1 - p_t = σ(x)(1-y) + σ(-x) y,   p_t = σ y + (1-σ)(1-y)
 *     l = a_t ce q^γ,  a_t = α y + (1-α)(1-y), or 1 when α = -1
 *     dl/dx = a_t [ce' q^γ + γ ce q^γ (dq/dx) / q]
 *     ce' = w [(1-y) σ(x) - y σ(-x)],  dq/dx = σ(x) σ(-x) (1-2y)
 * The second term is written with q^γ / q rather than q^(γ-1) so that γ < 1
 * at a saturated logit (q = 0, σ(x) σ(-x) = 0) gives its limit 0, where
 * torch's autograd gives 0 · inf = NaN.
 */
typedef struct {
    bl_loss_kind loss;
    const double *w, *pw; /* broadcast along the last dim, or NULL          */
    double gamma, alpha;  /* sigmoid_focal                                  */
    double den;           /* mean: elements, else 1                         */
} blp_binary;

/* One element, given e = exp(-|x|) and lp = log1p(e). */
static double binary_element(const blp_binary *k, double x, double y, size_t j, double e, double lp,
                             double *gx)
{
    double sp_pos = (x > 0 ? x : 0) + lp;  /* sp(x); a NaN x stays NaN via lp */
    double sp_neg = (x < 0 ? -x : 0) + lp; /* sp(-x) */
    /* σ(x) and σ(-x) from e without overflow */
    double sig = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    double sig_neg = x >= 0 ? e / (1 + e) : 1 / (1 + e);
    double w = k->w ? k->w[j] : 1.0;
    double pw = k->pw ? k->pw[j] : 1.0;

    double ce = w * ((1 - y) * sp_pos + pw * y * sp_neg);
    double dce = w * ((1 - y) * sig - pw * y * sig_neg);
    if (k->loss == BL_LOSS_BCE_WITH_LOGITS) {
        if (gx)
            *gx = dce / k->den;
        return ce;
    }
    double q = sig * (1 - y) + sig_neg * y;
    double qg = pow(q, k->gamma);
    double at = k->alpha >= 0 ? k->alpha * y + (1 - k->alpha) * (1 - y) : 1.0;
    if (gx) {
        double dq = sig * sig_neg * (1 - 2 * y);
        double second = q > 0 ? k->gamma * ce * qg * (dq / q) : 0.0;
        *gx = at * (dce * qg + second) / k->den;
    }
    return at * (ce * qg);
}

static void binary_loss(const bl_loss_args *a, const blp_layout *L, bl_loss_result *res,
                        blp_sum *total)
{
    blp_binary k = {
        .loss = a->loss,
        .w = a->weights,
        .pw = a->pos_weight,
        .gamma = a->gamma,
        .alpha = a->alpha,
        .den = a->reduction == BL_REDUCTION_MEAN ? (double)L->elements : 1.0,
    };
    double *per = a->reduction == BL_REDUCTION_NONE ? res->per : NULL;
    size_t j = 0; /* i mod last: the weights' index */
    /* exp(-|x|) and log1p of it over blocks with the vector math; on the
     * stack, so there is nothing to fail. */
    enum { BLOCK = 512 };
    double e[BLOCK], lp[BLOCK];
    for (size_t b = 0; b < L->elements; b += BLOCK) {
        size_t nb = L->elements - b < BLOCK ? L->elements - b : BLOCK;
        for (size_t i = 0; i < nb; i++)
            e[i] = -fabs(a->input[b + i]);
        blp_vexp(e, e, nb);
        blp_vlog1p(e, lp, nb);
        for (size_t i = 0; i < nb; i++) {
            double l = binary_element(&k, a->input[b + i], a->target_prob[b + i], j, e[i], lp[i],
                                      res->grad ? res->grad + b + i : NULL);
            if (per)
                per[b + i] = l;
            sum_add(total, l);
            if (++j == L->last)
                j = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

/* bl_loss of float32 input that class_loss does not read itself: of a
 * float64 copy (or the refusal of both input and input_f32). */
static bl_status f32_converted(const bl_loss_args *a, bl_loss_result *res, bl_error *err)
{
    const char *in = input_name(a);
    if (a->input)
        return bl_error_set(err, BL_EINVAL, in, -1,
                            "give %s as float64 (input) or as float32 (input_f32), not both", in);
    bl_loss_args b = *a;
    b.input_f32 = NULL;
    size_t n = 1;
    int ok = a->ndim <= BL_MAX_DIMS;
    for (size_t d = 0; ok && d < a->ndim; d++)
        ok = mul_size(&n, a->shape[d]);
    if (!ok || n == 0 || n > SIZE_MAX / sizeof(double)) {
        b.input = NULL; /* the shape is refused as such (layout_of), or is empty */
        return bl_loss(&b, res, err);
    }
    double *x = malloc(n * sizeof *x);
    if (!x)
        return bl_error_set(err, BL_ENOMEM, in, -1, "out of memory for %s as float64", in);
    for (size_t i = 0; i < n; i++)
        x[i] = f32_at(a->input_f32, i);
    b.input = x;
    bl_status rc = bl_loss(&b, res, err);
    free(x);
    return rc;
}

bl_status bl_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err)
{
    blp_layout L;
    double den = 0;
    bl_status rc;

    bl_error_clear(err);
    if (!a || !res)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "bl_loss needs its arguments and result");
    if (a->input_f32 && (a->input || !reads_f32(a)))
        return f32_converted(a, res, err);
    /* ldam, logit adjustment and sum_over_batch_size: loss_longtail.c, which
     * comes back here with plain arguments */
    if (blp_longtail_wanted(a))
        return blp_longtail_loss(a, res, err);
    if (blp_is_seg(a->loss) && bl_reduction_name(a->reduction))
        return blp_seg_loss(a, res, err); /* lib/loss_seg.c */
    if ((rc = check_all(a, res, &L, &den, err)) != BL_OK)
        return rc;

    blp_sum total = {0, 0};
    if (a->loss == BL_LOSS_ASYMMETRIC) /* lib/loss_multilabel.c */
        sum_add(&total,
                blp_asymmetric(a, L.elements, L.last,
                               a->reduction == BL_REDUCTION_NONE ? res->per : NULL, res->grad));
    else if (is_binary(a->loss))
        binary_loss(a, &L, res, &total);
    else if (class_loss(a, &L, den, res, &total) != 0)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for the scratch of float32 %s",
                            input_name(a));

    double sum = sum_get(&total);
    res->total_weight = den;
    /* torch >= 1.11: the mean of nothing (all ignored, zero total weight,
     * no positions) is NaN. With label smoothing torch's sum of its two
     * terms is NaN too, where sum / 0 alone could be inf. */
    if (a->reduction == BL_REDUCTION_MEAN)
        res->value = den == 0 ? NAN : sum / den;
    else
        res->value = sum;
    return BL_OK;
}
