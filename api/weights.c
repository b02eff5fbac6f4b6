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
    int scheme, normalize, zero_counts, sample_weights;
    double beta, c;
} weights_req;

enum { F_COUNTS, F_LABELS, F_NUM_CLASSES, F_SCHEME, F_BETA, F_C, F_NORMALIZE, F_ZERO, F_SW };

#define OFF(m) offsetof(weights_req, m)
static const field_spec fields[] = {
    [F_COUNTS] = {"counts", FT_ARRAY, OFF(counts), 0, 0, 0, 0, 0, NULL},
    [F_LABELS] = {"labels", FT_ARRAY, OFF(labels), 0, 0, 0, 0, 0, NULL},
    [F_NUM_CLASSES] = {"num_classes", FT_INT, OFF(num_classes), 1, INFINITY, 0, 0, 1, NULL},
    [F_SCHEME] = {"scheme", FT_ENUM, OFF(scheme), 0, 0, 0, 0, 0, bl_scheme_names},
    [F_BETA] = {"beta", FT_NUMBER, OFF(beta), 0, 1, 0, 1, 1, NULL},
    [F_C] = {"c", FT_NUMBER, OFF(c), 1, INFINITY, 1, 0, 1, NULL},
    [F_NORMALIZE] = {"normalize", FT_ENUM, OFF(normalize), 0, 0, 0, 0, 0, bl_normalize_names},
    [F_ZERO] = {"zero_counts", FT_ENUM, OFF(zero_counts), 0, 0, 0, 0, 0, zero_policies},
    [F_SW] = {"sample_weights", FT_BOOL, OFF(sample_weights), 0, 0, 0, 0, 0, NULL},
    FIELD_END,
};

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

bl_api_code api_weights(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    bl_weights_opts o = bl_weights_opts_default();
    weights_req r = {{NULL, NULL, NULL}, {NULL, NULL, NULL}, 0, o.scheme, o.normalize, 0, 0, o.beta, o.c};
    uint64_t seen;
    size_t max = cfg->limits.max_items;
    double *counts = NULL, *w = NULL, *sw = NULL;
    int64_t *labels = NULL;
    size_t n = 0, nlabels = 0;
    bl_api_code code = api_decode_fields(req, fields, &r, &seen, e);
    if (code != BL_API_OK)
        return code;
    int has_counts = (seen >> F_COUNTS) & 1, has_labels = (seen >> F_LABELS) & 1;
    if (has_counts == has_labels) {
        return api_fail(e, BL_API_INVALID_ARGUMENT, has_counts ? "labels" : NULL,
                        has_counts ? "send either counts or labels, not both"
                                   : "send the class counts as \"counts\" (or one label per "
                                     "sample as \"labels\")");
    }
    if (has_counts && ((seen >> F_NUM_CLASSES) & 1))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "num_classes",
                        "num_classes goes with labels; with counts the number of classes is "
                        "the length of counts");
    if (has_counts && r.sample_weights)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "sample_weights",
                        "sample_weights needs labels: it gives w[label] for every sample");
    if (((seen >> F_BETA) & 1) && r.scheme != BL_SCHEME_EFFECTIVE_NUMBER)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "beta",
                        "beta is used only by scheme \"effective_number\"");
    if (((seen >> F_C) & 1) && r.scheme != BL_SCHEME_ENET)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "c", "c is used only by scheme \"enet\"");

    if (has_counts) {
        code = decode_counts(&r.counts, max, &counts, &n, e);
        if (code != BL_API_OK)
            goto done;
    } else {
        code = api_int64s(&r.labels, "labels", max, "max-items", &labels, &nlabels, e);
        if (code != BL_API_OK)
            goto done;
        if ((seen >> F_NUM_CLASSES) & 1) {
            n = (size_t)r.num_classes;
        } else {
            bl_error le;
            if (bl_label_classes(labels, nlabels, 0, &n, &le) != BL_OK) {
                code = api_from_lib(e, &le, NULL, 0);
                goto done;
            }
        }
        if (max && (uint64_t)n > max) {
            code = api_fail(e, BL_API_LIMIT_EXCEEDED, (seen >> F_NUM_CLASSES) & 1 ? "num_classes" : "labels",
                            "%zu classes is more than the server's max-items limit of %zu", n, max);
            goto done;
        }
        counts = calloc(n, sizeof *counts); /* calloc: n * 8 may overflow (no limit) */
        if (!counts) {
            code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", n);
            goto done;
        }
        bl_error le;
        if (bl_count_labels(labels, nlabels, n, counts, &le) != BL_OK) {
            code = api_from_lib(e, &le, NULL, 0);
            goto done;
        }
    }

    w = malloc((n ? n : 1) * sizeof *w);
    if (!w) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", n);
        goto done;
    }
    o.scheme = (bl_scheme)r.scheme;
    o.beta = r.beta;
    o.c = r.c;
    o.normalize = (bl_normalize)r.normalize;
    o.zero_counts_allowed = r.zero_counts;
    bl_error le;
    if (bl_class_weights(counts, n, &o, w, &le) != BL_OK) {
        if (le.arg && strcmp(le.arg, "counts") == 0 && labels && le.index >= 0) {
            /* A class of count 0 among labels: name the class, not a position. */
            code = api_fail(e, BL_API_INVALID_ARGUMENT, "labels", "%s", le.message);
        } else if (le.arg && strcmp(le.arg, "counts") == 0 && json_is_object(r.counts.json) &&
                   le.index >= 0) {
            void *it = json_object_iter(r.counts.json);
            for (int64_t i = 0; i < le.index; i++)
                it = json_object_iter_next(r.counts.json, it);
            char path[200];
            snprintf(path, sizeof path, "counts[\"%.120s\"]", json_object_iter_key(it));
            code = api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s (class \"%.120s\")", le.message,
                            json_object_iter_key(it));
        } else {
            code = api_from_lib(e, &le, NULL, 0);
        }
        goto done;
    }

    int keyed = has_counts && json_is_object(r.counts.json);
    if (keyed) {
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
