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
static const char *const zero_policies[] = {"error", "zero", NULL};

typedef struct {
    api_value counts, labels;
    int64_t num_classes;
    int num_classes_given;
    int scheme, normalize, zero_counts, sample_weights;
    double beta, c;
} weights_req;

#define OFF(m) offsetof(weights_req, m)
static const field_spec fields[] = {
    {.name = "counts", .type = FT_ARRAY, .offset = OFF(counts),
     .doc = "samples per class, numbers >= 0: an array, or an object {\"name\": count}"},
    {.name = "labels", .type = FT_ARRAY, .offset = OFF(labels),
     .doc = "instead of counts: one class id per sample, integers >= 0"},
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
     .doc = "rescale the weights: sum 1, mean 1, max 1, or none"},
    {.name = "zero_counts", .type = FT_ENUM, .offset = OFF(zero_counts), .choices = zero_policies,
     DEFAULT_INT(0), .doc = "a class of count 0: refused (error), or weight 0 (zero)"},
    {.name = "sample_weights", .type = FT_BOOL, .offset = OFF(sample_weights), DEFAULT_INT(0),
     .doc = "with labels: also return w[label] for every sample"},
    FIELD_END,
};

static const field_rule rules[] = {
    {RULE_ONE_OF, "counts", "labels", "send either counts or labels, not both",
     "send the class counts as \"counts\" (or one label per sample as \"labels\")"},
    {RULE_EXCLUDES, "counts", "num_classes",
     "num_classes goes with labels; with counts the number of classes is the length of counts",
     NULL},
    {RULE_NEEDS, "sample_weights", "labels",
     "sample_weights needs labels: it gives w[label] for every sample", NULL},
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
            char path[160];
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
        char path[200];
        snprintf(path, sizeof path, "counts[\"%.120s\"]", json_object_iter_key(it));
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s (class \"%.120s\")", le->message,
                        json_object_iter_key(it));
    }
    return api_from_lib(e, le, NULL, 0);
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
        sw = malloc((nlabels ? nlabels : 1) * sizeof *sw);
        if (!sw) {
            code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for sample_weights");
            goto done;
        }
        for (size_t i = 0; i < nlabels; i++)
            sw[i] = w[labels[i]];
        out_doubles(out, "sample_weights", sw, nlabels);
        out_primary(out);
    }
    out->warning = "some weights are not finite (a count too small for its scheme)";
    code = api_emit(out, e);
done:
    free(counts);
    free(labels);
    free(w);
    free(sw);
    return code;
}
