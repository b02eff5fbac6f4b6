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
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* loss and reduction take libballast's name tables (bl_loss_names,
 * bl_reduction_names): the index decoded is the enum value. */

typedef struct {
    int loss, reduction, grad;
    api_value logits, log_probs, targets, weights, pos_weight;
    int64_t ignore_index;
    double label_smoothing, gamma, alpha;
    /* long-tail: logit adjustment, ldam */
    api_value class_counts, class_priors;
    double logit_adjustment, max_margin, scale;
    int logit_adjustment_given;
    /* multi-label and segmentation */
    double gamma_pos, gamma_neg, clip, eps;
    int activation, include_background, batch;
    double smooth_nr, smooth_dr, tversky_alpha, tversky_beta;
} loss_req;

#define CLASS_LOSSES                                                                               \
    (CHOICE(BL_LOSS_CROSS_ENTROPY) | CHOICE(BL_LOSS_NLL) | CHOICE(BL_LOSS_FOCAL) |                 \
     CHOICE(BL_LOSS_LDAM))
#define ADJUSTED_LOSSES (CHOICE(BL_LOSS_CROSS_ENTROPY) | CHOICE(BL_LOSS_FOCAL))
#define ALL_LOSSES (CHOICE(BL_LOSS_COUNT) - 1)
#define SEG_LOSSES (CHOICE(BL_LOSS_DICE) | CHOICE(BL_LOSS_TVERSKY))

/* A shape as text, "[2, 3, 4]": up to 16 dims of 20 digits, cut short beyond this. */
#define SHAPE_TEXT_MAX 128

#define OFF(m) offsetof(loss_req, m)
/* One row per field, as the table reads best: */
/* clang-format off */
static const field_spec fields[] = {
    {.name = "loss", .type = FT_ENUM, .offset = OFF(loss), .choices = bl_loss_names,
     DEFAULT_INT(BL_LOSS_CROSS_ENTROPY), .doc = "the loss function"},
    {.name = "logits", .type = FT_ARRAY, .offset = OFF(logits), .required = 1,
     .only = {"loss", ALL_LOSSES & ~CHOICE(BL_LOSS_NLL),
              "loss \"nll\" takes log-probabilities as \"log_probs\" (or use loss "
              "\"cross_entropy\" on logits)"},
     .doc = "the input of every loss but nll: (C), (N, C) or (N, C, d1, ...); any shape for "
            "the binary losses"},
    {.name = "log_probs", .type = FT_ARRAY, .offset = OFF(log_probs), .required = 1,
     .only = {"loss", CHOICE(BL_LOSS_NLL), "every other loss takes \"logits\""},
     .doc = "the input of nll: log-probabilities, shaped as logits"},
    {.name = "targets", .type = FT_ARRAY, .offset = OFF(targets), .required = 1,
     .doc = "class indices, class probabilities (cross_entropy), or binary targets in [0, 1]"},
    {.name = "weights", .type = FT_ARRAY, .offset = OFF(weights),
     .doc = "per-class weights (binary losses: along the last dim), default all 1"},
    {.name = "pos_weight", .type = FT_ARRAY, .offset = OFF(pos_weight),
     .only = {"loss", CHOICE(BL_LOSS_BCE_WITH_LOGITS), NULL},
     .doc = "the weight of positive examples along the last dim, default all 1"},
    {.name = "reduction", .type = FT_ENUM, .offset = OFF(reduction),
     .choices = bl_reduction_names, DEFAULT_INT(BL_REDUCTION_MEAN),
     .doc = "mean, sum, or none (every loss)"},
    {.name = "ignore_index", .type = FT_INT, .offset = OFF(ignore_index), DEFAULT_INT(-100),
     .only = {"loss", CLASS_LOSSES, NULL},
     .doc = "class-index targets equal to it count for nothing"},
    {.name = "label_smoothing", .type = FT_NUMBER, .offset = OFF(label_smoothing),
     DEFAULT_NUMBER(0), .range = RANGE(0, 1),
     .only = {"loss", CHOICE(BL_LOSS_CROSS_ENTROPY), NULL},
     .doc = "epsilon, in [0, 1]"},
    {.name = "gamma", .type = FT_NUMBER, .offset = OFF(gamma), DEFAULT_NUMBER(2),
     .range = AT_LEAST(0),
     .only = {"loss", CHOICE(BL_LOSS_FOCAL) | CHOICE(BL_LOSS_SIGMOID_FOCAL), NULL},
     .doc = "the focusing parameter of the focal losses, >= 0"},
    {.name = "alpha", .type = FT_NUMBER, .offset = OFF(alpha), DEFAULT_NUMBER(0.25),
     .range = {.min = 0, .max = 1, .ranged = 1, .has_also = 1, .also = -1},
     .only = {"loss", CHOICE(BL_LOSS_SIGMOID_FOCAL),
              "to weight classes with the other losses, send per-class \"weights\" (for loss "
              "\"focal\", weights[c] is the alpha of class c); for loss \"tversky\", the weight "
              "of false positives is \"tversky_alpha\""},
     .doc = "the positives' weight of sigmoid_focal, in [0, 1], or -1 for none"},
    {.name = "grad", .type = FT_BOOL, .offset = OFF(grad), DEFAULT_INT(0),
     .doc = "also return d loss / d input"},
    /* long-tail: logit adjustment, ldam (README "Long-tail losses") */
    {.name = "logit_adjustment", .type = FT_NUMBER, .offset = OFF(logit_adjustment),
     .given = FIELD_GIVEN_AT(loss_req, logit_adjustment_given),
     .only = {"loss", ADJUSTED_LOSSES, NULL},
     .doc = "tau: the loss of logits + tau log(priors) (1: Balanced Softmax); needs class_counts "
            "or class_priors"},
    {.name = "class_counts", .type = FT_ARRAY, .offset = OFF(class_counts),
     .only = {"loss", ADJUSTED_LOSSES | CHOICE(BL_LOSS_LDAM), NULL},
     .doc = "training samples per class, C entries > 0: the priors of logit_adjustment, the "
            "margins of ldam"},
    {.name = "class_priors", .type = FT_ARRAY, .offset = OFF(class_priors),
     .only = {"loss", ADJUSTED_LOSSES, NULL},
     .doc = "the class priors of logit_adjustment (C entries > 0, normalised), instead of "
            "class_counts"},
    {.name = "max_margin", .type = FT_NUMBER, .offset = OFF(max_margin), DEFAULT_NUMBER(0.5),
     .range = ABOVE(0), .only = {"loss", CHOICE(BL_LOSS_LDAM), NULL},
     .doc = "ldam: the margin of the rarest class, > 0"},
    {.name = "scale", .type = FT_NUMBER, .offset = OFF(scale), DEFAULT_NUMBER(30),
     .range = ABOVE(0), .only = {"loss", CHOICE(BL_LOSS_LDAM), NULL},
     .doc = "ldam: s, the logits' scale, > 0"},
    /* multi-label and segmentation (README: the asymmetric, dice and tversky losses) */
    {.name = "gamma_pos", .type = FT_NUMBER, .offset = OFF(gamma_pos), DEFAULT_NUMBER(1),
     .range = AT_LEAST(0), .only = {"loss", CHOICE(BL_LOSS_ASYMMETRIC), NULL},
     .doc = "asymmetric: the focusing parameter of positive targets, >= 0"},
    {.name = "gamma_neg", .type = FT_NUMBER, .offset = OFF(gamma_neg), DEFAULT_NUMBER(4),
     .range = AT_LEAST(0), .only = {"loss", CHOICE(BL_LOSS_ASYMMETRIC), NULL},
     .doc = "asymmetric: the focusing parameter of negative targets, >= 0"},
    {.name = "clip", .type = FT_NUMBER, .offset = OFF(clip), DEFAULT_NUMBER(0.05),
     .range = RANGE(0, 1), .only = {"loss", CHOICE(BL_LOSS_ASYMMETRIC), NULL},
     .doc = "asymmetric: the probability margin of negatives, in [0, 1] (0: none)"},
    {.name = "eps", .type = FT_NUMBER, .offset = OFF(eps), DEFAULT_NUMBER(1e-8),
     .range = RANGE_BELOW(0, 1), .only = {"loss", CHOICE(BL_LOSS_ASYMMETRIC), NULL},
     .doc = "asymmetric: the floor of the probabilities under log, in [0, 1)"},
    {.name = "activation", .type = FT_ENUM, .offset = OFF(activation),
     .choices = bl_activation_names, DEFAULT_INT(BL_ACTIVATION_SOFTMAX),
     .only = {"loss", SEG_LOSSES, NULL},
     .doc = "dice, tversky: softmax (class-index targets) or sigmoid (targets of the logits' "
            "shape)"},
    {.name = "include_background", .type = FT_BOOL, .offset = OFF(include_background),
     DEFAULT_INT(1), .only = {"loss", SEG_LOSSES, NULL},
     .doc = "dice, tversky: false leaves class 0 out of the scores"},
    {.name = "batch", .type = FT_BOOL, .offset = OFF(batch), DEFAULT_INT(0),
     .only = {"loss", SEG_LOSSES, NULL},
     .doc = "dice, tversky: one score per class over the whole batch instead of per sample"},
    {.name = "smooth_nr", .type = FT_NUMBER, .offset = OFF(smooth_nr), DEFAULT_NUMBER(1e-5),
     .range = AT_LEAST(0), .only = {"loss", SEG_LOSSES, NULL},
     .doc = "dice, tversky: added to the numerator of each score, >= 0"},
    {.name = "smooth_dr", .type = FT_NUMBER, .offset = OFF(smooth_dr), DEFAULT_NUMBER(1e-5),
     .range = AT_LEAST(0), .only = {"loss", SEG_LOSSES, NULL},
     .doc = "dice, tversky: added to the denominator of each score, >= 0"},
    {.name = "tversky_alpha", .type = FT_NUMBER, .offset = OFF(tversky_alpha),
     DEFAULT_NUMBER(0.5), .range = AT_LEAST(0), .only = {"loss", CHOICE(BL_LOSS_TVERSKY), NULL},
     .doc = "tversky: the weight of false positives, >= 0"},
    {.name = "tversky_beta", .type = FT_NUMBER, .offset = OFF(tversky_beta),
     DEFAULT_NUMBER(0.5), .range = AT_LEAST(0), .only = {"loss", CHOICE(BL_LOSS_TVERSKY), NULL},
     .doc = "tversky: the weight of false negatives, >= 0"},
    FIELD_END,
};
/* clang-format on */

static const field_rule rules[] = {
    {RULE_EXCLUDES, "class_counts", "class_priors",
     "give class_counts or class_priors, not both (the priors are class_counts / their sum)", NULL},
    RULE_END,
};

const api_form api_loss_form = {"loss", fields, rules};

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

/* A request's arrays, decoded, and how its targets read. */
typedef struct {
    const char *in_name; /* logits, or log_probs for nll */
    api_tensor in, tg;
    double *weights, *pos_weight;
    size_t nw, npw;
    double *counts, *priors; /* class_counts, class_priors */
    size_t ncounts, npriors;
    int binary;              /* a binary loss: targets of the input's shape */
    int seg;                 /* dice or tversky: scores (N, K) or (K) for none */
    size_t sshape[2], sndim; /* ... that shape */
    int prob;                /* targets are probabilities (or binary targets): tg */
    int64_t *idx;            /* else class indices, of shape ishape */
    size_t ishape[BL_MAX_DIMS], indim;
    const void *in_f32; /* the input as a float32 .npy part's own data (in.data NULL) */
    int tg_lazy;        /* targets: an integer .npy part, tg without data (read later) */
    int idx_owned;      /* idx is malloc'd (else the targets part's own int64s) */
    int writable;       /* the parts may be moved within (bl_api_config.parts_writable) */
} loss_data;

static void loss_data_free(loss_data *d)
{
    api_tensor_free(&d->in);
    api_tensor_free(&d->tg);
    free(d->weights);
    free(d->pos_weight);
    free(d->counts);
    free(d->priors);
    if (d->idx_owned)
        free(d->idx);
}

/* The index of the first of n float32 at p (any alignment) that is not
 * finite (exponent all ones), or n. (x & E) + 2^23 reaches bit 31 only when
 * x's exponent bits E are all ones; or-ed over 256 values at a time, a
 * loop that compilers turn into vector instructions (SSE2 at -O2), and the
 * first such block is searched one value at a time. */
static size_t first_nonfinite(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        uint32_t bad = 0;
        for (size_t j = 0; j < 256; j++) {
            uint32_t w;
            memcpy(&w, p + (i + j) * sizeof w, sizeof w);
            bad |= (w & UINT32_C(0x7f800000)) + UINT32_C(0x00800000);
        }
        if (bad & UINT32_C(0x80000000))
            break;
    }
    for (; i < n; i++) {
        float f;
        memcpy(&f, p + i * sizeof f, sizeof f);
        if (!isfinite(f))
            return i;
    }
    return n;
}

/* A float32 .npy input used where it lies, without a float64 copy
 * (libballast reads float32 at any alignment: bl_loss_args.input_f32).
 * 1 when taken, with d->in's shape and count, or when refused (*code the
 * refusal, as api_tensor_decode words it); 0 when it must be decoded as
 * any other input, which also reports what is wrong with it. */
static int input_f32(const api_value *v, size_t max, loss_data *d, bl_api_code *code, api_err *e)
{
    npy_view nv;
    api_err ignored;
    if (!v->part ||
        npy_parse(v->part->data, v->part->len, d->in_name, &nv, &ignored) != BL_API_OK ||
        nv.dtype != NPY_F4 || nv.count == 0 || (max && nv.count > max))
        return 0;
    size_t dims = nv.ndim ? nv.ndim : 1; /* tensor_from_npy's bound of the JSON form */
    if (max && npy_nodes(&nv) > (max > SIZE_MAX / BL_MAX_DIMS ? SIZE_MAX : max * dims))
        return 0;
    size_t bad = first_nonfinite(nv.data, nv.count);
    if (bad < nv.count) {
        char path[BL_API_FIELD_MAX];
        float f;
        memcpy(&f, nv.data + bad * sizeof f, sizeof f);
        api_path(path, sizeof path, d->in_name, (int64_t)bad, nv.shape, nv.ndim);
        *code = api_fail(e, BL_API_INVALID_ARGUMENT, path,
                         "%s = %g, but it must be a finite number", path, (double)f);
        return 1;
    }
    memcpy(d->in.shape, nv.shape, sizeof d->in.shape);
    d->in.ndim = nv.ndim;
    d->in.count = nv.count;
    d->in.all_integers = 0;
    d->in_f32 = nv.data;
    *code = BL_API_OK;
    return 1;
}

/* Integer .npy targets: their shape now (d->tg without data, tg_lazy), the
 * values when it is known how they read (class indices straight from the
 * part, probabilities through api_tensor_decode). 0 when the part is not
 * one api_tensor_decode would take, which then says why. */
static int targets_shape(const api_value *v, size_t max, loss_data *d)
{
    npy_view nv;
    api_err ignored;
    if (!v->part || npy_parse(v->part->data, v->part->len, "targets", &nv, &ignored) != BL_API_OK ||
        !npy_is_integer(&nv) || (max && nv.count > max))
        return 0;
    size_t dims = nv.ndim ? nv.ndim : 1; /* tensor_from_npy's bound of the JSON form */
    if (max && npy_nodes(&nv) > (max > SIZE_MAX / BL_MAX_DIMS ? SIZE_MAX : max * dims))
        return 0;
    memset(&d->tg, 0, sizeof d->tg);
    memcpy(d->tg.shape, nv.shape, sizeof d->tg.shape);
    d->tg.ndim = nv.ndim;
    d->tg.count = nv.count;
    d->tg.all_integers = 1;
    d->tg_lazy = 1;
    return 1;
}

static bl_api_code read_arrays(const loss_req *r, size_t max, loss_data *d, api_err *e)
{
    const api_value *in = r->loss == BL_LOSS_NLL ? &r->log_probs : &r->logits;
    bl_api_code code = BL_API_OK;
    if (!input_f32(in, max, d, &code, e))
        code = api_tensor_decode(in, d->in_name, max, "max-elements", &d->in, e);
    if (code == BL_API_OK && !targets_shape(&r->targets, max, d))
        code = api_tensor_decode(&r->targets, "targets", max, "max-elements", &d->tg, e);
    if (code == BL_API_OK && api_sent(&r->weights))
        code = api_doubles(&r->weights, "weights", 1, max, "max-elements", &d->weights, &d->nw, e);
    if (code == BL_API_OK && api_sent(&r->pos_weight))
        code = api_doubles(&r->pos_weight, "pos_weight", 1, max, "max-elements", &d->pos_weight,
                           &d->npw, e);
    if (code == BL_API_OK && api_sent(&r->class_counts))
        code = api_doubles(&r->class_counts, "class_counts", 0, max, "max-elements", &d->counts,
                           &d->ncounts, e);
    if (code == BL_API_OK && api_sent(&r->class_priors))
        code = api_doubles(&r->class_priors, "class_priors", 0, max, "max-elements", &d->priors,
                           &d->npriors, e);
    return code;
}

/* Probability (or binary) targets: the input's own shape. */
static bl_api_code probability_targets(const loss_req *r, loss_data *d, api_err *e)
{
    char ts[SHAPE_TEXT_MAX], xs[SHAPE_TEXT_MAX];
    const char *name = bl_loss_name((bl_loss_kind)r->loss);
    d->prob = 1;
    if (!d->binary && r->loss != BL_LOSS_CROSS_ENTROPY)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                        "targets has the shape of %s, i.e. class probabilities, which only "
                        "loss \"cross_entropy\" takes; loss \"%s\" needs class indices",
                        d->in_name, name);
    if (!d->binary && r->ignore_index >= 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "ignore_index",
                        "ignore_index = %lld cannot be used with class-probability targets",
                        (long long)r->ignore_index);
    if (d->binary && !same_shape(d->tg.shape, d->tg.ndim, d->in.shape, d->in.ndim)) {
        shape_text(ts, sizeof ts, d->tg.shape, d->tg.ndim);
        shape_text(xs, sizeof xs, d->in.shape, d->in.ndim);
        return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                        "targets has shape %s; loss \"%s\" needs the logits' shape %s", ts, name,
                        xs);
    }
    return BL_API_OK;
}

/* Class-index targets: JSON integers, turned into d->idx exactly (int64,
 * not through the tensor's doubles). */
static bl_api_code index_targets(const loss_req *r, loss_data *d, api_err *e)
{
    char ts[SHAPE_TEXT_MAX];
    if (!d->tg.all_integers)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                        "targets of shape %s are class indices and must be integers",
                        (shape_text(ts, sizeof ts, d->tg.shape, d->tg.ndim), ts));
    npy_view nv;
    if (d->tg_lazy && d->tg.count &&
        npy_parse(r->targets.part->data, r->targets.part->len, "targets", &nv, e) == BL_API_OK &&
        nv.dtype == NPY_I8 && ((uintptr_t)nv.data % sizeof(int64_t) == 0 || d->writable)) {
        /* int64 in place, moved back into the .npy header (read already)
         * onto an 8-byte boundary if need be */
        unsigned char *data = (unsigned char *)(uintptr_t)nv.data;
        size_t shift = (uintptr_t)data % sizeof(int64_t);
        if (shift)
            memmove(data - shift, data, nv.count * sizeof(int64_t));
        d->idx = (int64_t *)(void *)(data - shift);
        return BL_API_OK;
    }
    d->idx = malloc((d->tg.count ? d->tg.count : 1) * sizeof *d->idx);
    if (!d->idx)
        return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for targets");
    d->idx_owned = 1;
    bl_api_code code = api_int64_tensor(&r->targets, &d->tg, "targets", d->idx, e);
    api_tensor_free(&d->tg); /* the indices replace it: peak memory */
    return code;
}

/* dice and tversky: class indices of shape (N, d1, ...) for softmax, the
 * logits' shape for sigmoid; the scores' shape for reduction none. */
static bl_api_code seg_targets(const loss_req *r, loss_data *d, api_err *e)
{
    char ts[SHAPE_TEXT_MAX], xs[SHAPE_TEXT_MAX];
    const char *name = bl_loss_name((bl_loss_kind)r->loss);
    if (d->in.ndim < 2)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "logits",
                        "loss \"%s\" takes logits of shape (N, C, d1, ...) or (N, C), not %s", name,
                        d->in.ndim ? "a 1-D array" : "a single number");
    size_t C = d->in.shape[1], K = C > 0 && !r->include_background ? C - 1 : C;
    d->sndim = r->batch ? 1 : 2;
    d->sshape[0] = r->batch ? K : d->in.shape[0];
    d->sshape[1] = K;
    shape_text(ts, sizeof ts, d->tg.shape, d->tg.ndim);
    shape_text(xs, sizeof xs, d->in.shape, d->in.ndim);
    if (r->activation == BL_ACTIVATION_SIGMOID) {
        if (!same_shape(d->tg.shape, d->tg.ndim, d->in.shape, d->in.ndim))
            return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                            "targets has shape %s; loss \"%s\" with activation \"sigmoid\" needs "
                            "the logits' shape %s",
                            ts, name, xs);
        d->prob = 1;
        return BL_API_OK;
    }
    d->indim = index_shape(d->in.shape, d->in.ndim, d->ishape);
    if (!same_shape(d->tg.shape, d->tg.ndim, d->ishape, d->indim)) {
        char is[SHAPE_TEXT_MAX];
        shape_text(is, sizeof is, d->ishape, d->indim);
        return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                        "targets has shape %s, but loss \"%s\" with activation \"softmax\" takes "
                        "class indices of shape %s for logits of shape %s (activation "
                        "\"sigmoid\" takes targets of the logits' shape)",
                        ts, name, is, xs);
    }
    return index_targets(r, d, e);
}

/* Tells class indices from probabilities by the targets' shape. */
static bl_api_code read_targets(const loss_req *r, loss_data *d, api_err *e)
{
    char ts[SHAPE_TEXT_MAX], is[SHAPE_TEXT_MAX], xs[SHAPE_TEXT_MAX];
    d->seg = (CHOICE(r->loss) & SEG_LOSSES) != 0;
    if (d->seg)
        return seg_targets(r, d, e);
    d->binary = !(CHOICE(r->loss) & CLASS_LOSSES);
    if (!d->binary) {
        if (d->in.ndim == 0)
            return api_fail(e, BL_API_INVALID_ARGUMENT, d->in_name,
                            "%s must be an array of shape (C), (N, C) or (N, C, d1, ...), not a "
                            "single number",
                            d->in_name);
        d->indim = index_shape(d->in.shape, d->in.ndim, d->ishape);
    }
    if (d->binary || same_shape(d->tg.shape, d->tg.ndim, d->in.shape, d->in.ndim))
        return probability_targets(r, d, e);
    if (same_shape(d->tg.shape, d->tg.ndim, d->ishape, d->indim))
        return index_targets(r, d, e);
    shape_text(ts, sizeof ts, d->tg.shape, d->tg.ndim);
    shape_text(xs, sizeof xs, d->in.shape, d->in.ndim);
    shape_text(is, sizeof is, d->ishape, d->indim);
    return api_fail(e, BL_API_INVALID_ARGUMENT, "targets",
                    "targets has shape %s, but %s of shape %s take class indices of shape "
                    "%s%s%s",
                    ts, d->in_name, xs, is,
                    r->loss == BL_LOSS_CROSS_ENTROPY ? " or class probabilities of shape " : "",
                    r->loss == BL_LOSS_CROSS_ENTROPY ? xs : "");
}

static bl_loss_args loss_args(const loss_req *r, const loss_data *d)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = (bl_loss_kind)r->loss;
    a.input = d->in.data;
    a.input_f32 = d->in_f32;
    memcpy(a.shape, d->in.shape, sizeof a.shape);
    a.ndim = d->in.ndim;
    a.target_index = d->idx;
    a.target_prob = d->prob ? d->tg.data : NULL;
    a.weights = d->weights;
    a.weights_len = d->nw;
    a.pos_weight = d->pos_weight;
    a.pos_weight_len = d->npw;
    a.reduction = (bl_reduction)r->reduction;
    a.ignore_index = r->ignore_index;
    a.label_smoothing = r->label_smoothing;
    a.gamma = r->gamma;
    a.alpha = r->alpha;
    a.class_counts = d->counts;
    a.class_counts_len = d->ncounts;
    a.class_priors = d->priors;
    a.class_priors_len = d->npriors;
    a.adjust_logits = r->logit_adjustment_given != 0;
    a.logit_adjustment = r->logit_adjustment;
    a.max_margin = r->max_margin;
    a.scale = r->scale;
    a.gamma_pos = r->gamma_pos;
    a.gamma_neg = r->gamma_neg;
    a.clip = r->clip;
    a.eps = r->eps;
    a.activation = (bl_activation)r->activation;
    a.include_background = r->include_background;
    a.batch = r->batch;
    a.smooth_nr = r->smooth_nr;
    a.smooth_dr = r->smooth_dr;
    a.tversky_alpha = r->tversky_alpha;
    a.tversky_beta = r->tversky_beta;
    return a;
}

/* A refusal of bl_loss, its flat index as a path of the array it names. */
static bl_api_code loss_error(const loss_data *d, const bl_error *le, api_err *e)
{
    if (le->arg && strcmp(le->arg, "targets") == 0)
        return api_from_lib(e, le, d->prob ? d->in.shape : d->ishape,
                            d->prob ? d->in.ndim : d->indim);
    if (le->arg && (strcmp(le->arg, "logits") == 0 || strcmp(le->arg, "log_probs") == 0))
        return api_from_lib(e, le, d->in.shape, d->in.ndim);
    return api_from_lib(e, le, NULL, 0);
}

/* Computes the loss of d and writes the answer. */
static bl_api_code compute(const loss_req *r, const loss_data *d, size_t max, api_out *out,
                           api_err *e)
{
    char xs[SHAPE_TEXT_MAX];
    bl_loss_args a = loss_args(r, d);
    size_t positions = bl_loss_positions(&a), elements = bl_loss_elements(&a);
    /* An empty input (a zero dimension) can still name a huge number of
     * positions, e.g. a .npy of shape (1, 0, 10^11): bound what is allocated. */
    if (max && positions > max)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, d->in_name,
                        "%s of shape %s has %zu loss positions, more than the server's "
                        "max-elements limit of %zu",
                        d->in_name, (shape_text(xs, sizeof xs, d->in.shape, d->in.ndim), xs),
                        positions, max);
    int none = a.reduction == BL_REDUCTION_NONE;
    double *per = none ? malloc((positions ? positions : 1) * sizeof *per) : NULL;
    double *grad = r->grad ? malloc((elements ? elements : 1) * sizeof *grad) : NULL;
    bl_loss_result res = {0, 0, per, grad};
    bl_error le;
    bl_api_code code;
    if ((none && !per) || (r->grad && !grad))
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for the results");
    else if (bl_loss(&a, &res, &le) != BL_OK)
        code = loss_error(d, &le, e);
    else {
        if (none && d->seg)
            out_tensor(out, "loss", per, d->sshape, d->sndim);
        else if (none)
            out_tensor(out, "loss", per, d->binary ? d->in.shape : d->ishape,
                       d->binary ? d->in.ndim : d->indim);
        else
            out_double(out, "loss", res.value);
        if (none && !r->grad)
            out_primary(out);
        out_string(out, "reduction", bl_reduction_name((bl_reduction)r->reduction));
        out_double(out, "total_weight", res.total_weight);
        if (r->grad)
            out_tensor(out, "grad", grad, d->in.shape, d->in.ndim);
        out->warning = a.reduction == BL_REDUCTION_MEAN && !(res.total_weight != 0)
                           ? d->seg ? "the mean is NaN: there are no scores to average (no "
                                      "samples), as torch.mean of nothing"
                                    : "the mean is NaN: no target is left to average (all "
                                      "ignored, or their weights sum to 0), as in PyTorch"
                           : "some results are not finite (NaN or infinity; null in JSON)";
        code = api_emit(out, e);
    }
    free(per);
    free(grad);
    return code;
}

bl_api_code api_loss(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    loss_req r;
    loss_data d;
    bl_api_code code = api_decode_fields(req, &api_loss_form, &r, e);
    if (code != BL_API_OK)
        return code;
    memset(&d, 0, sizeof d);
    d.in_name = r.loss == BL_LOSS_NLL ? "log_probs" : "logits";
    d.writable = cfg->parts_writable;
    size_t max = cfg->limits.max_elements;
    code = read_arrays(&r, max, &d, e);
    if (code == BL_API_OK)
        code = read_targets(&r, &d, e);
    if (code == BL_API_OK && d.prob && d.tg_lazy) /* integer probabilities: as doubles */
        code = api_tensor_decode(&r.targets, "targets", max, "max-elements", &d.tg, e);
    if (code == BL_API_OK)
        code = compute(&r, &d, max, out, e);
    loss_data_free(&d);
    return code;
}
