/*
 * weights.c — POST /weights: class counts (or labels) in, class weights out.
 * The formulas live in lib/weights.c; this file maps the document to them.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* scheme and normalize take libballast's name tables (bl_scheme_names,
 * bl_normalize_names): the index decoded is the enum value. */
/* The answer's warning when a weight is inf (multi-label and single-label). */
#define NONFINITE_WARNING "some weights are not finite (a count too small for its scheme)"

static const char *const zero_policies[] = {"error", "zero", NULL};

typedef struct {
    api_value counts, labels, label_sets;
    int64_t num_classes;
    int num_classes_given;
    int scheme, normalize, zero_counts, sample_weights, sample_weight_reduce;
    double beta, c, exponent, threshold;
} weights_req;

/* normalize applies to every scheme but repeat_factor. */
#define ALL_SCHEMES ((UINT32_C(1) << BL_SCHEME_COUNT) - 1)

#define OFF(m) offsetof(weights_req, m)
/* One row per field, as the table reads best: */
/* clang-format off */
static const field_spec fields[] = {
    {.name = "counts", .type = FT_ARRAY, .offset = OFF(counts),
     .doc = "samples per class, numbers >= 0: an array, or an object {\"name\": count}"},
    {.name = "labels", .type = FT_ARRAY, .offset = OFF(labels),
     .doc = "instead of counts: one class id per sample, integers >= 0; or a 2-D 0/1 matrix, "
            "samples x classes (multi-label)"},
    {.name = "num_classes", .type = FT_INT, .offset = OFF(num_classes), .range = AT_LEAST(1),
     .given = FIELD_GIVEN_AT(weights_req, num_classes_given),
     .doc = "with labels: the number of classes (default max(label) + 1)"},
    {.name = "scheme", .type = FT_ENUM, .offset = OFF(scheme), .choices = bl_scheme_names,
     DEFAULT_INT(BL_SCHEME_MAX_OVER_COUNT), .doc = "the weighting rule"},
    {.name = "beta", .type = FT_NUMBER, .offset = OFF(beta), DEFAULT_NUMBER(0.999),
     .range = RANGE_BELOW(0, 1),
     .only = {"scheme", CHOICE(BL_SCHEME_EFFECTIVE_NUMBER), NULL},
     .doc = "the beta of effective_number, in [0, 1)"},
    {.name = "c", .type = FT_NUMBER, .offset = OFF(c), DEFAULT_NUMBER(1.02), .range = ABOVE(1),
     .only = {"scheme", CHOICE(BL_SCHEME_ENET), NULL}, .doc = "the c of enet, > 1"},
    {.name = "normalize", .type = FT_ENUM, .offset = OFF(normalize),
     .choices = bl_normalize_names, DEFAULT_INT(BL_NORMALIZE_NONE),
     .only = {"scheme", ALL_SCHEMES & ~CHOICE(BL_SCHEME_REPEAT_FACTOR),
              "repeat factors are never normalised"},
     .doc = "rescale the weights: sum 1, mean 1, max 1, or none"},
    {.name = "zero_counts", .type = FT_ENUM, .offset = OFF(zero_counts), .choices = zero_policies,
     DEFAULT_INT(0), .doc = "a class of count 0: refused (error), or weight 0 (zero)"},
    {.name = "sample_weights", .type = FT_BOOL, .offset = OFF(sample_weights), DEFAULT_INT(0),
     .doc = "with labels: also return w[label] for every sample"},
    {.name = "label_sets", .type = FT_ARRAY, .offset = OFF(label_sets),
     .json_only = "its lists may differ in length (a 2-D 0/1 labels matrix can be a .npy part)",
     .doc = "instead of counts or labels: per sample a list of class ids (multi-label; [] for "
            "none), JSON only"},
    {.name = "exponent", .type = FT_NUMBER, .offset = OFF(exponent), DEFAULT_NUMBER(1),
     .range = RANGE(0, 64), .only = {"scheme", CHOICE(BL_SCHEME_POWER), NULL},
     .doc = "the q of power, n_c^-q, in [0, 64]"},
    {.name = "threshold", .type = FT_NUMBER, .offset = OFF(threshold), DEFAULT_NUMBER(0.001),
     .range = RANGE(0, 1), .only = {"scheme", CHOICE(BL_SCHEME_REPEAT_FACTOR), NULL},
     .doc = "the t of repeat_factor, a frequency in [0, 1]"},
    {.name = "sample_weight_reduce", .type = FT_ENUM, .offset = OFF(sample_weight_reduce),
     .choices = bl_sample_reduce_names, DEFAULT_INT(BL_SAMPLE_REDUCE_MAX),
     .doc = "multi-label sample_weights: the max or the mean of a sample's class weights"},
    FIELD_END,
};
/* clang-format on */

static const field_rule rules[] = {
    {RULE_ONE_OF, "counts", "labels", "send only one of counts, labels and label_sets",
     "send the class counts as \"counts\" (or one label per sample as \"labels\", or "
     "label sets as \"label_sets\")"},
    {RULE_ONE_OF_ALSO, "counts", "label_sets", NULL, NULL},
    {RULE_EXCLUDES, "counts", "num_classes",
     "num_classes goes with labels; with counts the number of classes is the length of counts",
     NULL},
    {RULE_EXCLUDES, "counts", "sample_weights",
     "sample_weights needs labels or label_sets: it gives a weight to every sample", NULL},
    {RULE_NEEDS, "sample_weight_reduce", "sample_weights",
     "sample_weight_reduce goes with \"sample_weights\": true", NULL},
    RULE_END,
};

const api_form api_weights_form = {"weights", fields, rules};

/* counts as an array, or an object {"name": count} whose order is kept. */
static bl_api_code decode_counts(const api_value *av, size_t max, double **out, size_t *n,
                                 api_err *e)
{
    json_t *v = av->json;
    if (!json_is_object(v))
        return api_doubles(av, "counts", 1, max, "max-items", out, n, e);
    size_t len = json_object_size(v);
    if (max && len > max)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, "counts",
                        "counts has %zu classes, more than the server's max-items limit of %zu",
                        len, max);
    double *c = malloc((len ? len : 1) * sizeof *c);
    if (!c)
        return api_fail(e, BL_API_UNAVAILABLE, "counts", "out of memory for counts");
    const char *key;
    json_t *x;
    size_t i = 0;
    json_object_foreach(v, key, x)
    {
        if (!api_number(x, &c[i]) || !isfinite(c[i]) || c[i] < 0) {
            char path[BL_API_FIELD_MAX];
            snprintf(path, sizeof path, "counts[\"%.80s\"]", key);
            free(c);
            return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s must be a finite number >= 0",
                            path);
        }
        i++;
    }
    *out = c;
    *n = len;
    return BL_API_OK;
}

/* Counts from labels: num_classes of them, or max(label) + 1. */
static bl_api_code counts_from_labels(const weights_req *r, size_t max, int64_t **labels,
                                      size_t *nlabels, double **counts, size_t *n, api_err *e)
{
    bl_error le;
    bl_api_code code = api_int64s(&r->labels, "labels", max, "max-items", labels, nlabels, e);
    if (code != BL_API_OK)
        return code;
    if (r->num_classes_given)
        *n = (size_t)r->num_classes;
    else if (bl_label_classes(*labels, *nlabels, 0, n, &le) != BL_OK)
        return api_from_lib(e, &le, NULL, 0);
    if (max && (uint64_t)*n > max)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, r->num_classes_given ? "num_classes" : "labels",
                        "%zu classes is more than the server's max-items limit of %zu", *n, max);
    *counts = calloc(*n, sizeof **counts); /* calloc: n * 8 may overflow (no limit) */
    if (!*counts)
        return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", *n);
    if (bl_count_labels(*labels, *nlabels, *n, *counts, &le) != BL_OK)
        return api_from_lib(e, &le, NULL, 0);
    return BL_API_OK;
}

/* A refusal of bl_class_weights, pointing at the class as it was sent: a
 * label's class, or the key of a counts object. */
static bl_api_code weights_error(const weights_req *r, const bl_error *le, int from_labels,
                                 api_err *e)
{
    int at_count = le->arg && strcmp(le->arg, "counts") == 0 && le->index >= 0;
    if (at_count && from_labels) /* a class of count 0 among labels: the class, not a position */
        return api_fail(e, BL_API_INVALID_ARGUMENT, "labels", "%s", le->message);
    if (at_count && json_is_object(r->counts.json)) {
        void *it = json_object_iter(r->counts.json);
        for (int64_t i = 0; i < le->index; i++)
            it = json_object_iter_next(r->counts.json, it);
        char path[BL_API_FIELD_MAX];
        snprintf(path, sizeof path, "counts[\"%.120s\"]", json_object_iter_key(it));
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s (class \"%.120s\")", le->message,
                        json_object_iter_key(it));
    }
    return api_from_lib(e, le, NULL, 0);
}

/* ---- multi-label: label_sets, a 2-D labels matrix, repeat_factor ---------------- */

/* The samples of a multi-label request as label sets (ml.ids, ml.offsets),
 * with what the answer needs; every array freed by multilabel_free. */
typedef struct {
    const char *field; /* the input: "label_sets" or "labels" */
    int matrix;        /* labels came as a 2-D matrix */
    size_t columns;    /* its width: the number of classes, all-zero columns included */
    int64_t *ids;
    size_t *offsets, n, classes;
    double *positives, *weights, *pos_weight, *sample_weights, *repeat_factors;
} multilabel;

static void multilabel_free(multilabel *m)
{
    free(m->ids);
    free(m->offsets);
    free(m->positives);
    free(m->weights);
    free(m->pos_weight);
    free(m->sample_weights);
    free(m->repeat_factors);
}

/* labels as a 2-D 0/1 matrix: its sets, through libballast. */
static bl_api_code sets_from_matrix(const weights_req *r, size_t max, multilabel *m, api_err *e)
{
    api_tensor t;
    bl_error le;
    bl_api_code code = api_tensor_decode(&r->labels, "labels", max, "max-items", &t, e);
    if (code != BL_API_OK)
        return code;
    if (t.ndim != 2 || !t.all_integers) {
        size_t ndim = t.ndim;
        api_tensor_free(&t);
        if (ndim != 2)
            return api_fail(e, BL_API_INVALID_ARGUMENT, "labels",
                            "labels has %zu dimensions: send one class id per sample (1-D) or "
                            "a 0/1 matrix, samples x classes (2-D)",
                            ndim);
        return api_fail(e, BL_API_INVALID_ARGUMENT, "labels",
                        "a labels matrix holds the integers 0 and 1 (JSON integers, or an "
                        "integer .npy)");
    }
    if (r->num_classes_given && (uint64_t)r->num_classes != t.shape[1]) {
        api_tensor_free(&t);
        return api_fail(e, BL_API_INVALID_ARGUMENT, "num_classes",
                        "num_classes = %lld, but the labels matrix has %zu columns",
                        (long long)r->num_classes, t.shape[1]);
    }
    m->n = t.shape[0];
    m->columns = t.shape[1];
    m->offsets = malloc((m->n + 1) * sizeof *m->offsets);
    if (!m->offsets) {
        api_tensor_free(&t);
        return api_fail(e, BL_API_UNAVAILABLE, "labels", "out of memory for labels");
    }
    if (bl_label_matrix_sets(t.data, t.shape[0], t.shape[1], m->offsets, NULL, &le) == BL_OK) {
        m->ids = malloc((m->offsets[m->n] ? m->offsets[m->n] : 1) * sizeof *m->ids);
        if (!m->ids) {
            api_tensor_free(&t);
            return api_fail(e, BL_API_UNAVAILABLE, "labels", "out of memory for labels");
        }
        bl_label_matrix_sets(t.data, t.shape[0], t.shape[1], m->offsets, m->ids, &le);
    }
    size_t shape[2] = {t.shape[0], t.shape[1]};
    api_tensor_free(&t);
    return le.code == BL_OK ? BL_API_OK : api_from_lib(e, &le, shape, 2);
}

/* The samples as label sets, from label_sets, a labels matrix or (for
 * repeat_factor) one label per sample; checked and made canonical. */
static bl_api_code multilabel_sets(const weights_req *r, size_t max, multilabel *m, api_err *e)
{
    bl_api_code code;
    bl_error le;
    if (api_sent(&r->label_sets)) {
        m->field = "label_sets";
        code = api_int64_lists(&r->label_sets, "label_sets", max, "max-items", &m->ids, &m->offsets,
                               &m->n, e);
    } else if (api_array_ndim(&r->labels) >= 2) {
        m->field = "labels";
        m->matrix = 1;
        code = sets_from_matrix(r, max, m, e);
    } else { /* repeat_factor with one label per sample: sets of one */
        m->field = "labels";
        code = api_int64s(&r->labels, "labels", max, "max-items", &m->ids, &m->n, e);
        m->offsets = code == BL_API_OK ? malloc((m->n + 1) * sizeof *m->offsets) : NULL;
        if (code == BL_API_OK && !m->offsets)
            return api_fail(e, BL_API_UNAVAILABLE, "labels", "out of memory for labels");
        for (size_t i = 0; code == BL_API_OK && i <= m->n; i++)
            m->offsets[i] = i;
    }
    if (code != BL_API_OK)
        return code;
    /* a matrix has as many classes as columns, trailing columns of zeros included
     * (api/openapi.yaml: "N x C matrix"); label sets as many as num_classes says */
    size_t given = m->matrix ? m->columns : r->num_classes_given ? (size_t)r->num_classes : 0;
    if (m->n == 0)
        return api_fail(e, BL_API_INVALID_ARGUMENT, m->field,
                        "%s is empty: give at least one sample", m->field);
    if (bl_label_sets_normalize(m->ids, m->offsets, m->n, given, &m->classes, &le) != BL_OK) {
        if (le.index < 0 || !le.arg || strcmp(le.arg, "label_sets") != 0)
            return api_fail(e, BL_API_INVALID_ARGUMENT, m->field, "%s", le.message);
        size_t i = 0, k = (size_t)le.index;
        while (m->offsets[i + 1] <= k)
            i++;
        char path[BL_API_FIELD_MAX];
        if (m->offsets[m->n] == m->n && !api_sent(&r->label_sets))
            snprintf(path, sizeof path, "labels[%zu]", i);
        else
            snprintf(path, sizeof path, "label_sets[%zu][%zu]", i, k - m->offsets[i]);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s: %s", path, le.message);
    }
    if (max && m->classes > max)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, r->num_classes_given ? "num_classes" : m->field,
                        "%zu classes is more than the server's max-items limit of %zu", m->classes,
                        max);
    return BL_API_OK;
}

/* A multi-label answer: weights of the positives, pos_weight, and per
 * sample the sample weights and repeat factors asked for. */
static bl_api_code weights_multilabel(const weights_req *r, size_t max, api_out *out, api_err *e)
{
    multilabel m = {0};
    bl_error le;
    bl_api_code code = multilabel_sets(r, max, &m, e);
    if (code != BL_API_OK)
        goto done;
    size_t c = m.classes, n = m.n;
    int repeat = r->scheme == BL_SCHEME_REPEAT_FACTOR;
    /* weights, counts, positives and pos_weight per class, sample weights and
     * repeat factors per sample: refused now if they cannot be sent */
    size_t per_sample = (size_t)(r->sample_weights != 0) + (size_t)repeat;
    code = api_answer_room(out, out->format == BL_API_NPY ? n : 4 * c + per_sample * n, e);
    if (code != BL_API_OK)
        goto done;
    m.positives = malloc(c * sizeof *m.positives);
    m.weights = malloc(c * sizeof *m.weights);
    m.pos_weight = malloc(c * sizeof *m.pos_weight);
    if (r->sample_weights)
        m.sample_weights = malloc(n * sizeof *m.sample_weights);
    if (repeat)
        m.repeat_factors = malloc(n * sizeof *m.repeat_factors);
    if (!m.positives || !m.weights || !m.pos_weight || (r->sample_weights && !m.sample_weights) ||
        (repeat && !m.repeat_factors)) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", c);
        goto done;
    }
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = (bl_scheme)r->scheme;
    o.beta = r->beta;
    o.c = r->c;
    o.exponent = r->exponent;
    o.threshold = r->threshold;
    o.normalize = (bl_normalize)r->normalize;
    o.zero_counts_allowed = r->zero_counts;
    if (bl_multilabel_weights(m.ids, m.offsets, n, c, &o, m.positives, m.weights, m.pos_weight,
                              &le) != BL_OK ||
        (r->sample_weights &&
         bl_multilabel_sample_weights(m.ids, m.offsets, n, m.weights, m.positives, c,
                                      (bl_sample_reduce)r->sample_weight_reduce, m.sample_weights,
                                      &le) != BL_OK) ||
        (repeat &&
         bl_repeat_factors(m.ids, m.offsets, n, m.weights, c, m.repeat_factors, &le) != BL_OK)) {
        /* a class without positives: the input, not an index of it */
        if (le.arg && strcmp(le.arg, "positives") == 0)
            code = api_fail(e, BL_API_INVALID_ARGUMENT, m.field, "%s", le.message);
        else
            code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    out_doubles(out, "weights", m.weights, c);
    out_counts(out, "counts", m.positives, c);
    out_uint(out, "num_classes", c);
    out_string(out, "scheme", bl_scheme_name(o.scheme));
    out_string(out, "normalize", bl_normalize_name(o.normalize));
    out_uint(out, "num_samples", n);
    out_counts(out, "positives", m.positives, c);
    out_doubles(out, "pos_weight", m.pos_weight, c);
    if (repeat) {
        out_doubles(out, "repeat_factors", m.repeat_factors, n);
        out_primary(out);
    }
    if (r->sample_weights) {
        out_doubles(out, "sample_weights", m.sample_weights, n);
        out_primary(out);
    }
    out->warning = NONFINITE_WARNING;
    code = api_emit(out, e);
done:
    multilabel_free(&m);
    return code;
}

/* sample_weights: each label's class weight, into *sw (kept until the
 * answer is written; the caller frees it). */
static bl_api_code put_sample_weights(const double *w, size_t n, const int64_t *labels,
                                      size_t nlabels, double **sw, api_out *out, api_err *e)
{
    bl_error le;
    *sw = malloc((nlabels ? nlabels : 1) * sizeof **sw);
    if (!*sw)
        return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for sample_weights");
    if (bl_label_weights(w, n, labels, nlabels, *sw, &le) != BL_OK)
        return api_from_lib(e, &le, NULL, 0);
    out_doubles(out, "sample_weights", *sw, nlabels);
    out_primary(out);
    return BL_API_OK;
}

bl_api_code api_weights(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    weights_req r;
    size_t max = cfg->limits.max_items;
    double *counts = NULL, *w = NULL, *sw = NULL;
    int64_t *labels = NULL;
    size_t n = 0, nlabels = 0;
    bl_api_code code = api_decode_fields(req, &api_weights_form, &r, e);
    if (code != BL_API_OK)
        return code;
    int has_counts = api_sent(&r.counts);
    if (has_counts && r.scheme == BL_SCHEME_REPEAT_FACTOR)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "scheme",
                        "scheme repeat_factor needs the images' labels, not counts: send "
                        "label_sets (per image its classes) or a 2-D 0/1 labels matrix");
    if (!has_counts && (api_sent(&r.label_sets) || r.scheme == BL_SCHEME_REPEAT_FACTOR ||
                        api_array_ndim(&r.labels) >= 2))
        return weights_multilabel(&r, max, out, e);
    if (has_counts)
        code = decode_counts(&r.counts, max, &counts, &n, e);
    else
        code = counts_from_labels(&r, max, &labels, &nlabels, &counts, &n, e);
    if (code != BL_API_OK)
        goto done;

    w = malloc((n ? n : 1) * sizeof *w);
    if (!w) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", n);
        goto done;
    }
    bl_weights_opts o = bl_weights_opts_default();
    o.scheme = (bl_scheme)r.scheme;
    o.beta = r.beta;
    o.c = r.c;
    o.exponent = r.exponent;
    o.normalize = (bl_normalize)r.normalize;
    o.zero_counts_allowed = r.zero_counts;
    bl_error le;
    if (bl_class_weights(counts, n, &o, w, &le) != BL_OK) {
        code = weights_error(&r, &le, labels != NULL, e);
        goto done;
    }

    if (has_counts && json_is_object(r.counts.json)) {
        out_keyed(out, "weights", r.counts.json, w, 0);
        out_keyed(out, "counts", r.counts.json, counts, 1);
    } else {
        out_doubles(out, "weights", w, n);
        out_counts(out, "counts", counts, n);
    }
    out_uint(out, "num_classes", n);
    out_string(out, "scheme", bl_scheme_name(o.scheme));
    out_string(out, "normalize", bl_normalize_name(o.normalize));
    if (r.sample_weights) {
        code = put_sample_weights(w, n, labels, nlabels, &sw, out, e);
        if (code != BL_API_OK)
            goto done;
    }
    out->warning = NONFINITE_WARNING;
    code = api_emit(out, e);
done:
    free(counts);
    free(labels);
    free(w);
    free(sw);
    return code;
}
