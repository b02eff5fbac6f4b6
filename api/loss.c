/*
 * loss.c — POST /loss: logits, targets, weights and reduction in; the loss
 * (and its gradient) out. The formulas live in lib/loss.c; this file reads
 * nested arrays, tells class-index targets from probabilities by shape, and
 * writes results in the shapes PyTorch would return.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* loss and reduction take libballast's name tables (bl_loss_names,
 * bl_reduction_names): the index decoded is the enum value. */

typedef struct {
    int loss, reduction, grad;
    api_value logits, log_probs, targets, weights, pos_weight;
    int64_t ignore_index;
    double label_smoothing, gamma, alpha;
} loss_req;

enum { F_LOSS, F_LOGITS, F_LOG_PROBS, F_TARGETS, F_WEIGHTS, F_POS_WEIGHT, F_REDUCTION,
       F_IGNORE_INDEX, F_LABEL_SMOOTHING, F_GAMMA, F_ALPHA, F_GRAD };

#define OFF(m) offsetof(loss_req, m)
static const field_spec fields[] = {
    [F_LOSS] = {"loss", FT_ENUM, OFF(loss), 0, 0, 0, 0, 0, bl_loss_names},
    [F_LOGITS] = {"logits", FT_ARRAY, OFF(logits), 0, 0, 0, 0, 0, NULL},
    [F_LOG_PROBS] = {"log_probs", FT_ARRAY, OFF(log_probs), 0, 0, 0, 0, 0, NULL},
    [F_TARGETS] = {"targets", FT_ARRAY, OFF(targets), 0, 0, 0, 0, 0, NULL},
    [F_WEIGHTS] = {"weights", FT_ARRAY, OFF(weights), 0, 0, 0, 0, 0, NULL},
    [F_POS_WEIGHT] = {"pos_weight", FT_ARRAY, OFF(pos_weight), 0, 0, 0, 0, 0, NULL},
    [F_REDUCTION] = {"reduction", FT_ENUM, OFF(reduction), 0, 0, 0, 0, 0, bl_reduction_names},
    [F_IGNORE_INDEX] = {"ignore_index", FT_INT, OFF(ignore_index), 0, 0, 0, 0, 0, NULL},
    [F_LABEL_SMOOTHING] = {"label_smoothing", FT_NUMBER, OFF(label_smoothing), 0, 1, 0, 0, 1, NULL},
    [F_GAMMA] = {"gamma", FT_NUMBER, OFF(gamma), 0, INFINITY, 0, 0, 1, NULL},
    [F_ALPHA] = {"alpha", FT_NUMBER, OFF(alpha), -1, 1, 0, 0, 1, NULL},
    [F_GRAD] = {"grad", FT_BOOL, OFF(grad), 0, 0, 0, 0, 0, NULL},
    FIELD_END,
};

/* Which losses each optional field belongs to (bit per bl_loss_kind). */
#define L(k) (1u << (k))
#define CLASS_LOSSES (L(BL_LOSS_CROSS_ENTROPY) | L(BL_LOSS_NLL) | L(BL_LOSS_FOCAL))
static const struct {
    int field;
    unsigned losses;
} field_losses[] = {
    {F_LABEL_SMOOTHING, L(BL_LOSS_CROSS_ENTROPY)},
    {F_IGNORE_INDEX, CLASS_LOSSES},
    {F_GAMMA, L(BL_LOSS_FOCAL) | L(BL_LOSS_SIGMOID_FOCAL)},
    {F_ALPHA, L(BL_LOSS_SIGMOID_FOCAL)},
    {F_POS_WEIGHT, L(BL_LOSS_BCE_WITH_LOGITS)},
};

static void shape_text(char *buf, size_t size, const size_t *shape, size_t ndim)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (size_t d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%zu", d ? ", " : "", shape[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* The shape of class-index targets for an input shape: without the class
 * dimension (dim 1; dim 0 for 1-D input). */
static size_t index_shape(const size_t *in, size_t ndim, size_t *out)
{
    size_t m = 0;
    size_t class_dim = ndim == 1 ? 0 : 1;
    for (size_t d = 0; d < ndim; d++)
        if (d != class_dim)
            out[m++] = in[d];
    return m;
}

static int same_shape(const size_t *a, size_t na, const size_t *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t d = 0; d < na; d++)
        if (a[d] != b[d])
            return 0;
    return 1;
}

bl_api_code api_loss(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    bl_loss_args a = bl_loss_args_default();
    loss_req r;
    memset(&r, 0, sizeof r);
    r.loss = (int)a.loss;
    r.reduction = (int)a.reduction;
    r.ignore_index = a.ignore_index;
    r.label_smoothing = a.label_smoothing;
    r.gamma = a.gamma;
    r.alpha = a.alpha;
    uint64_t seen;
    bl_api_code code = api_decode_fields(req, fields, &r, &seen, e);
    if (code != BL_API_OK)
        return code;

    for (size_t i = 0; i < sizeof field_losses / sizeof field_losses[0]; i++)
        if (((seen >> field_losses[i].field) & 1) && !(field_losses[i].losses & L(r.loss)))
            return api_fail(e, BL_API_INVALID_ARGUMENT, fields[field_losses[i].field].name,
                            "%s does not apply to loss \"%s\"", fields[field_losses[i].field].name,
                            bl_loss_name((bl_loss_kind)r.loss));
    if (r.alpha < 0 && r.alpha != -1)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "alpha",
                        "alpha = %.17g must be in [0, 1], or -1 for no weighting", r.alpha);
    int nll = r.loss == BL_LOSS_NLL;
    const char *in_name = nll ? "log_probs" : "logits";
    const api_value *in_val = nll ? &r.log_probs : &r.logits;
    if (nll && ((seen >> F_LOGITS) & 1))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "logits",
                        "loss \"nll\" takes log-probabilities as \"log_probs\", not \"logits\" "
                        "(or use loss \"cross_entropy\" on logits)");
    if (!nll && ((seen >> F_LOG_PROBS) & 1))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "log_probs",
                        "log_probs is the input of loss \"nll\"; loss \"%s\" takes \"logits\"",
                        bl_loss_name((bl_loss_kind)r.loss));
    if (!((seen >> (nll ? F_LOG_PROBS : F_LOGITS)) & 1))
        return api_fail(e, BL_API_INVALID_ARGUMENT, in_name, "%s is required", in_name);
    if (!((seen >> F_TARGETS) & 1))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "targets", "targets is required");

    size_t max = cfg->limits.max_elements;
    api_tensor in, tg;
    double *weights = NULL, *pos_weight = NULL, *per = NULL, *grad = NULL;
    int64_t *idx = NULL;
    size_t nw = 0, npw = 0;
    memset(&tg, 0, sizeof tg);
    code = api_tensor_decode(in_val, in_name, max, "max-elements", &in, e);
    if (code != BL_API_OK)
        return code;
    code = api_tensor_decode(&r.targets, "targets", max, "max-elements", &tg, e);
    if (code != BL_API_OK)
        goto done;
    if ((seen >> F_WEIGHTS) & 1) {
        code = api_doubles(&r.weights, "weights", 1, max, "max-elements", &weights, &nw, e);
        if (code != BL_API_OK)
            goto done;
    }
    if ((seen >> F_POS_WEIGHT) & 1) {
        code = api_doubles(&r.pos_weight, "pos_weight", 1, max, "max-elements", &pos_weight, &npw,
                           e);
        if (code != BL_API_OK)
            goto done;
    }

    int binary = !(L(r.loss) & CLASS_LOSSES);
    char ts[128], is[128], xs[128];
    size_t ishape[BL_MAX_DIMS], indim = 0;
    if (!binary) {
        if (in.ndim == 0) {
            code = api_fail(e, BL_API_INVALID_ARGUMENT, in_name,
                            "%s must be an array of shape (C), (N, C) or (N, C, d1, ...), not a "
                            "single number",
                            in_name);
            goto done;
        }
        indim = index_shape(in.shape, in.ndim, ishape);
    }
    int prob = 0;
    if (binary || same_shape(tg.shape, tg.ndim, in.shape, in.ndim)) {
        prob = 1;
        if (!binary && r.loss != BL_LOSS_CROSS_ENTROPY) {
            code = api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                            "targets has the shape of %s, i.e. class probabilities, which only "
                            "loss \"cross_entropy\" takes; loss \"%s\" needs class indices",
                            in_name, bl_loss_name((bl_loss_kind)r.loss));
            goto done;
        }
        if (!binary && ((seen >> F_IGNORE_INDEX) & 1) && r.ignore_index >= 0) {
            code = api_fail(e, BL_API_INVALID_ARGUMENT, "ignore_index",
                            "ignore_index = %lld cannot be used with class-probability targets",
                            (long long)r.ignore_index);
            goto done;
        }
        if (binary && !same_shape(tg.shape, tg.ndim, in.shape, in.ndim)) {
            shape_text(ts, sizeof ts, tg.shape, tg.ndim);
            shape_text(xs, sizeof xs, in.shape, in.ndim);
            code = api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                            "targets has shape %s; loss \"%s\" needs the logits' shape %s", ts,
                            bl_loss_name((bl_loss_kind)r.loss), xs);
            goto done;
        }
    } else if (same_shape(tg.shape, tg.ndim, ishape, indim)) {
        if (!tg.all_integers) {
            code = api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                            "targets of shape %s are class indices and must be integers",
                            (shape_text(ts, sizeof ts, tg.shape, tg.ndim), ts));
            goto done;
        }
        idx = malloc((tg.count ? tg.count : 1) * sizeof *idx);
        if (!idx) {
            code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for targets");
            goto done;
        }
        for (size_t i = 0; i < tg.count; i++)
            idx[i] = tg.data[i] >= 0x1p63 ? INT64_MAX
                     : tg.data[i] < -0x1p63 ? INT64_MIN
                                            : (int64_t)tg.data[i];
        api_tensor_free(&tg); /* the indices replace it: peak memory */
    } else {
        shape_text(ts, sizeof ts, tg.shape, tg.ndim);
        shape_text(xs, sizeof xs, in.shape, in.ndim);
        shape_text(is, sizeof is, ishape, indim);
        code = api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                        "targets has shape %s, but %s of shape %s take class indices of shape "
                        "%s%s%s",
                        ts, in_name, xs, is,
                        r.loss == BL_LOSS_CROSS_ENTROPY ? " or class probabilities of shape " : "",
                        r.loss == BL_LOSS_CROSS_ENTROPY ? xs : "");
        goto done;
    }

    a.loss = (bl_loss_kind)r.loss;
    a.input = in.data;
    memcpy(a.shape, in.shape, sizeof a.shape);
    a.ndim = in.ndim;
    a.target_index = idx;
    a.target_prob = prob ? tg.data : NULL;
    a.weights = weights;
    a.weights_len = nw;
    a.pos_weight = pos_weight;
    a.pos_weight_len = npw;
    a.reduction = (bl_reduction)r.reduction;
    a.ignore_index = r.ignore_index;
    a.label_smoothing = r.label_smoothing;
    a.gamma = r.gamma;
    a.alpha = r.alpha;

    size_t positions = bl_loss_positions(&a), elements = bl_loss_elements(&a);
    /* An empty input (a zero dimension) can still name a huge number of
     * positions, e.g. a .npy of shape (1, 0, 10^11): bound what is allocated. */
    if (max && positions > max) {
        code = api_fail(e, BL_API_LIMIT_EXCEEDED, in_name,
                        "%s of shape %s has %zu loss positions, more than the server's "
                        "max-elements limit of %zu",
                        in_name, (shape_text(xs, sizeof xs, in.shape, in.ndim), xs), positions,
                        max);
        goto done;
    }
    bl_loss_result res = {0, 0, NULL, NULL};
    if (a.reduction == BL_REDUCTION_NONE) {
        per = malloc((positions ? positions : 1) * sizeof *per);
        res.per = per;
    }
    if (r.grad) {
        grad = malloc((elements ? elements : 1) * sizeof *grad);
        res.grad = grad;
    }
    if ((a.reduction == BL_REDUCTION_NONE && !per) || (r.grad && !grad)) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for the results");
        goto done;
    }
    bl_error le;
    if (bl_loss(&a, &res, &le) != BL_OK) {
        int is_targets = le.arg && strcmp(le.arg, "targets") == 0;
        if (is_targets)
            code = api_from_lib(e, &le, prob ? in.shape : ishape, prob ? in.ndim : indim);
        else if (le.arg && (strcmp(le.arg, "logits") == 0 || strcmp(le.arg, "log_probs") == 0))
            code = api_from_lib(e, &le, in.shape, in.ndim);
        else
            code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }

    if (a.reduction == BL_REDUCTION_NONE) {
        if (binary)
            out_tensor(out, "loss", per, in.shape, in.ndim);
        else
            out_tensor(out, "loss", per, ishape, indim);
        if (!r.grad)
            out_primary(out);
    } else {
        out_double(out, "loss", res.value);
    }
    out_string(out, "reduction", bl_reduction_name((bl_reduction)r.reduction));
    out_double(out, "total_weight", res.total_weight);
    if (r.grad)
        out_tensor(out, "grad", grad, in.shape, in.ndim);
    if (a.reduction == BL_REDUCTION_MEAN && !(res.total_weight != 0))
        out->warning = "the mean is NaN: no target is left to average (all ignored, or their "
                       "weights sum to 0), as in PyTorch";
    else
        out->warning = "some results are not finite (NaN or infinity; null in JSON)";
    code = api_emit(out, e);
done:
    api_tensor_free(&in);
    api_tensor_free(&tg);
    free(weights);
    free(pos_weight);
    free(per);
    free(grad);
    free(idx);
    return code;
}
