/*
 * loss_multilabel.c — the asymmetric loss for multi-label classification
 * (Ridnik et al. 2021, "Asymmetric Loss For Multi-Label Classification"),
 * as timm's AsymmetricLossMultiLabel computes it, and its gradient.
 *
 * Per element, with logit x, target y in [0, 1] and the weight w of its
 * class (the last dim; a ballast extension, timm has none):
 *     p    = σ(x)                        probability of the positive
 *     p_n  = min(1 - p + clip, 1)        shifted probability of the
 *                                        negative (p_n = 1 - p for clip 0)
 *     A    = y log(max(p, eps)) + (1 - y) log(max(p_n, eps))
 *     u    = 1 - p_t,  p_t = p y + p_n (1 - y)
 *     γ    = γ+ y + γ- (1 - y)
 *     l    = -w A u^γ                    (u^γ is 1 when γ+ = γ- = 0)
 * timm returns the sum of l; the reduction here is mean (over elements),
 * sum or none, as for bce_with_logits.
 *
 * Numerics: 1 - p is σ(-x), log p is -softplus(-x), 1 - p_n is
 * max(p - clip, 0): no cancellation where timm's 1 - sigmoid(x) keeps only
 * ulp(1) (a confident positive). All algebraically identical.
 *
 * Gradient: autograd's of the expression above, through the focusing
 * weight u^γ as well (timm's default, disable_torch_grad_focal_loss False)
 * and zero where a clamp is active, as torch's clamp backward gives it
 * (clamp(min) passes the gradient where its input >= min, clamp(max) where
 * <= max):
 *     dp/dx   = p (1 - p)
 *     dA/dx   = y [p >= eps] (1 - p)
 *             + (1 - y) [p_n >= eps] (dp_n/dx) / p_n
 *     dp_n/dx = -p (1 - p), or 0 where 1 - p + clip > 1 (clip > 0)
 *     du/dx   = -(y p (1 - p) + (1 - y) dp_n/dx)
 *     dl/dx   = -w (dA/dx u^γ + A γ u^(γ-1) du/dx)
 * torch's pow backward is 0 for γ = 0; at u = 0 we give the limit 0 for
 * γ != 1 (torch: 0 for γ > 1, NaN for γ < 1) and du/dx for γ = 1.
 */
#include <math.h>

#include "loss_internal.h"
#include "sum.h"

bl_status blp_asymmetric_check(const bl_loss_args *a, bl_error *err)
{
    if (!(a->gamma_pos >= 0 && isfinite(a->gamma_pos)))
        return bl_error_set(err, BL_EINVAL, "gamma_pos", -1,
                            "gamma_pos must be a finite number >= 0; got %g", a->gamma_pos);
    if (!(a->gamma_neg >= 0 && isfinite(a->gamma_neg)))
        return bl_error_set(err, BL_EINVAL, "gamma_neg", -1,
                            "gamma_neg must be a finite number >= 0; got %g", a->gamma_neg);
    if (!(a->clip >= 0 && a->clip <= 1))
        return bl_error_set(err, BL_EINVAL, "clip", -1, "clip must be in [0, 1]; got %g", a->clip);
    if (!(a->eps >= 0 && a->eps < 1))
        return bl_error_set(err, BL_EINVAL, "eps", -1, "eps must be in [0, 1); got %g", a->eps);
    return BL_OK;
}

typedef struct {
    double gp, gn, clip, eps, log_eps;
    int focus;    /* γ+ or γ- non-zero: timm applies the weight u^γ */
    double scale; /* d(reduced)/d(l): 1/elements for mean, else 1 */
} blp_asym;

/* One element: returns l (with weight w) and, when gx is not NULL, stores
 * d(reduced)/dx. */
/* σ(x) - m without forming σ(x), from e = exp(-|x|) and em = expm1(-|x|) = e - 1:
 * ((1 - m) - m e) / (1 + e) for x >= 0 and (e (1 - m) - m) / (1 + e) for x < 0, where
 * |x| <= ln 2 with e - 1 taken from em: ((1 - 2m) - m em) and ((1 - 2m) + (1 - m) em).
 * Near σ(x) = m, where σ(x) itself rounds to m (σ(1e-18) = 1/2, σ(-5000) = 0 beside
 * m = 1e-300), it keeps the difference, so the clamps of clip and eps bind exactly
 * where they should. */
static double sigmoid_minus(double x, double e, double em, double m)
{
    if (e < 0.5)
        return (x >= 0 ? fma(-m, e, 1 - m) : fma(e, 1 - m, -m)) / (1 + e);
    return (x >= 0 ? fma(-m, em, 1 - 2 * m) : fma(1 - m, em, 1 - 2 * m)) / (1 + e);
}

static double asym_element(const blp_asym *k, double x, double y, double w, double *gx)
{
    double e = exp(-fabs(x)), em = expm1(-fabs(x));
    double p = x >= 0 ? 1 / (1 + e) : e / (1 + e); /* σ(x)  */
    double q = x >= 0 ? e / (1 + e) : 1 / (1 + e); /* σ(-x) = 1 - p */
    double lp1 = log1p(e);                         /* softplus(-|x|) */
    double log_p = -((x < 0 ? -x : 0) + lp1);      /* log σ(x) = -softplus(-x) */

    double pn, u_neg, log_pn, dpn; /* p_n, 1 - p_n, log p_n, dp_n/dx */
    if (k->clip > 0) {
        /* 1 - p_n = p - m (sigmoid_minus: p - 0.5 = x / 4 at x = 1e-18, where p rounds
         * to 0.5); the clamp(max=1) is inactive when it is >= 0. p_n = 1 - (p - m) while
         * that is >= 1/2, else q + m (which keeps p_n = 1e-17 of a confident logit with
         * m = 1e-17, where 1 - (p - m) is 0). */
        double m = k->clip, pm = sigmoid_minus(x, e, em, m);
        int pass = pm >= 0;
        u_neg = pass ? pm : 0.0;
        pn = u_neg <= 0.5 ? 1 - u_neg : q + m;
        log_pn = u_neg <= 0.5 ? log1p(-u_neg) : log(pn);
        dpn = pass ? -p * q : 0.0;
    } else {
        pn = q;
        u_neg = p;
        log_pn = -((x > 0 ? x : 0) + lp1); /* log σ(-x) */
        dpn = -p * q;
    }
    /* p >= eps decided on p - eps (σ(-x) >= eps likewise for clip 0), see sigmoid_minus */
    int pos_ok = sigmoid_minus(x, e, em, k->eps) >= 0;
    int neg_ok = k->clip > 0 ? pn >= k->eps : sigmoid_minus(-x, e, em, k->eps) >= 0;
    double A = y * (pos_ok ? log_p : k->log_eps) + (1 - y) * (neg_ok ? log_pn : k->log_eps);
    double u = y * q + (1 - y) * u_neg;
    double g = k->gp * y + k->gn * (1 - y);
    double W = k->focus ? pow(u, g) : 1.0;
    double l = -w * (A * W);
    if (gx) {
        /* dln/dx: dp_n/dx / p_n, which is -p for clip 0 (p_n = 1 - p) */
        double dln = !neg_ok ? 0.0 : k->clip > 0 ? dpn / pn : -p;
        double dA = y * (pos_ok ? q : 0.0) + (1 - y) * dln;
        double du = -(y * p * q + (1 - y) * dpn);
        double dW = 0;
        if (k->focus && g != 0)
            dW = u > 0 ? g * (W / u) * du : g == 1 ? du : 0.0;
        *gx = -w * (dA * W + A * dW) * k->scale;
    }
    return l;
}

double blp_asymmetric(const bl_loss_args *a, size_t elements, size_t last, double *per,
                      double *grad)
{
    blp_asym k = {
        .gp = a->gamma_pos,
        .gn = a->gamma_neg,
        .clip = a->clip,
        .eps = a->eps,
        .log_eps = log(a->eps),
        .focus = a->gamma_pos > 0 || a->gamma_neg > 0,
        .scale = a->reduction == BL_REDUCTION_MEAN ? 1 / (double)elements : 1.0,
    };
    blp_sum s = {0, 0}; /* compensated, as lib/loss.c sums positions */
    size_t j = 0;       /* i mod last: the weights' index */
    for (size_t i = 0; i < elements; i++) {
        double w = a->weights ? a->weights[j] : 1.0;
        double l = asym_element(&k, a->input[i], a->target_prob[i], w, grad ? grad + i : NULL);
        if (per)
            per[i] = l;
        sum_add(&s, l);
        if (++j == last)
            j = 0;
    }
    return sum_get(&s);
}
