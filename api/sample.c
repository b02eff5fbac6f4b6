/*
 * sample.c — POST /sample: per-item weights (or labels with class weights)
 * in, sampled indices out, optionally one rank's share of the draw.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

typedef struct {
    api_value weights, labels, class_weights;
    int64_t num_samples, world_size, rank;
    uint64_t seed, epoch;
    int replacement, generator;
} sample_req;

enum { F_WEIGHTS, F_LABELS, F_CLASS_WEIGHTS, F_NUM_SAMPLES, F_REPLACEMENT, F_SEED, F_EPOCH,
       F_GENERATOR, F_WORLD_SIZE, F_RANK };

#define OFF(m) offsetof(sample_req, m)
static const field_spec fields[] = {
    [F_WEIGHTS] = {"weights", FT_ARRAY, OFF(weights), 0, 0, 0, 0, 0, NULL},
    [F_LABELS] = {"labels", FT_ARRAY, OFF(labels), 0, 0, 0, 0, 0, NULL},
    [F_CLASS_WEIGHTS] = {"class_weights", FT_ARRAY, OFF(class_weights), 0, 0, 0, 0, 0, NULL},
    [F_NUM_SAMPLES] = {"num_samples", FT_INT, OFF(num_samples), 1, INFINITY, 0, 0, 1, NULL},
    [F_REPLACEMENT] = {"replacement", FT_BOOL, OFF(replacement), 0, 0, 0, 0, 0, NULL},
    [F_SEED] = {"seed", FT_UINT64, OFF(seed), 0, 0, 0, 0, 0, NULL},
    [F_EPOCH] = {"epoch", FT_UINT64, OFF(epoch), 0, 0, 0, 0, 0, NULL},
    [F_GENERATOR] = {"generator", FT_ENUM, OFF(generator), 0, 0, 0, 0, 0, bl_generator_names},
    [F_WORLD_SIZE] = {"world_size", FT_INT, OFF(world_size), 1, INFINITY, 0, 0, 1, NULL},
    [F_RANK] = {"rank", FT_INT, OFF(rank), 0, INFINITY, 0, 0, 1, NULL},
    FIELD_END,
};

static int os_entropy(void *ctx, uint64_t *out)
{
    (void)ctx;
    return getrandom(out, sizeof *out, 0) == (ssize_t)sizeof *out ? 0 : -1;
}

/* Per-item weights from labels: class_weights[label], by default libballast's
 * "inverse" class weights (1 / the label's count, over classes 0..max
 * label), so that every class present is equally likely. */
static bl_api_code weights_from_labels(const sample_req *r, int has_cw, size_t max, double **out,
                                       size_t *n, api_err *e)
{
    int64_t *labels = NULL;
    double *cw = NULL, *w = NULL;
    size_t nl = 0, ncw = 0, classes = 0;
    bl_error le;
    bl_api_code code = api_int64s(&r->labels, "labels", max, "max-items", &labels, &nl, e);
    if (code != BL_API_OK)
        return code;
    if (has_cw) {
        code = api_doubles(&r->class_weights, "class_weights", 1, max, "max-items", &cw, &ncw, e);
        if (code != BL_API_OK)
            goto done;
    }
    if (bl_label_classes(labels, nl, ncw, &classes, &le) != BL_OK) {
        char path[64];
        api_path(path, sizeof path, "labels", le.index, NULL, 0);
        if (has_cw && le.index >= 0 && labels[le.index] >= 0) /* beyond class_weights */
            code = api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s: it has no class weight, as class_weights has %zu entries",
                            le.message, ncw);
        else
            code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    if (!has_cw) {
        if (max && classes > max) {
            code = api_fail(e, BL_API_LIMIT_EXCEEDED, "labels",
                            "label %zu means %zu classes, more than the server's max-items "
                            "limit of %zu",
                            classes - 1, classes, max);
            goto done;
        }
        ncw = classes;
        cw = calloc(ncw, sizeof *cw);
        bl_weights_opts o = bl_weights_opts_default();
        o.scheme = BL_SCHEME_INVERSE;
        o.zero_counts_allowed = 1;
        if (!cw) {
            code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for class weights");
            goto done;
        }
        if (bl_count_labels(labels, nl, ncw, cw, &le) != BL_OK ||
            bl_class_weights(cw, ncw, &o, cw, &le) != BL_OK) {
            code = api_from_lib(e, &le, NULL, 0);
            goto done;
        }
    }
    w = malloc((nl ? nl : 1) * sizeof *w);
    if (!w) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu weights", nl);
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        w[i] = cw[labels[i]];
    *out = w;
    *n = nl;
    code = BL_API_OK;
done:
    free(labels);
    free(cw);
    return code;
}

bl_api_code api_sample(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    sample_req r;
    memset(&r, 0, sizeof r);
    r.replacement = 1;
    r.world_size = 1;
    uint64_t seen;
    bl_api_code code = api_decode_fields(req, fields, &r, &seen, e);
    if (code != BL_API_OK)
        return code;
    int has_w = (seen >> F_WEIGHTS) & 1, has_l = (seen >> F_LABELS) & 1;
    int has_cw = (seen >> F_CLASS_WEIGHTS) & 1;
    if (has_w == has_l)
        return api_fail(e, BL_API_INVALID_ARGUMENT, has_w ? "labels" : NULL,
                        has_w ? "send either weights or labels, not both"
                              : "send one weight per item as \"weights\" (or one label per item "
                                "as \"labels\")");
    if (has_cw && !has_l)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "class_weights",
                        "class_weights goes with labels: item i gets class_weights[labels[i]]");

    const bl_api_limits *lim = &cfg->limits;
    double *w = NULL;
    int64_t *draw = NULL, *share = NULL;
    size_t n = 0;
    if (has_w)
        code = api_doubles(&r.weights, "weights", 1, lim->max_items, "max-items", &w, &n, e);
    else
        code = weights_from_labels(&r, has_cw, lim->max_items, &w, &n, e);
    if (code != BL_API_OK)
        goto done;

    size_t k = (seen >> F_NUM_SAMPLES) & 1 ? (size_t)r.num_samples : n;
    size_t ws = (size_t)r.world_size, m = k; /* m: this rank's share of the k */
    bl_error le;
    if (bl_shard_size(k, ws, (size_t)r.rank, &m, &le) != BL_OK) {
        code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    if (lim->max_samples && k > lim->max_samples) {
        code = api_fail(e, BL_API_LIMIT_EXCEEDED, "num_samples",
                        "num_samples = %zu is more than the server's max-samples limit of %zu",
                        k, lim->max_samples);
        goto done;
    }
    if (!((seen >> F_SEED) & 1)) {
        int (*entropy)(void *, uint64_t *) = cfg->entropy ? cfg->entropy : os_entropy;
        if (entropy(cfg->entropy_ctx, &r.seed) != 0) {
            code = api_fail(e, BL_API_UNAVAILABLE, "seed",
                            "the system gave no random seed; send \"seed\"");
            goto done;
        }
    }
    draw = calloc(k ? k : 1, sizeof *draw); /* calloc: k * 8 may overflow (no limit) */
    if (!draw) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu samples", k);
        goto done;
    }
    if (bl_sample(w, n, k, r.replacement, (bl_generator)r.generator, r.seed, r.epoch, draw, &le) !=
        BL_OK) {
        if (le.arg && strcmp(le.arg, "weights") == 0 && has_l) {
            /* The weights were derived from labels: point at the label. */
            char path[64] = "labels";
            if (le.index >= 0)
                snprintf(path, sizeof path, "labels[%lld]", (long long)le.index);
            code = api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s (from labels and class_weights)",
                            le.message);
        } else {
            code = api_from_lib(e, &le, NULL, 0);
        }
        goto done;
    }
    const int64_t *result = draw;
    if (ws > 1) {
        share = malloc(m * sizeof *share + 1);
        if (!share) {
            code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu samples", k);
            goto done;
        }
        if (bl_shard(draw, k, ws, (size_t)r.rank, share, &m, &le) != BL_OK) {
            code = api_from_lib(e, &le, NULL, 0);
            goto done;
        }
        result = share;
    }
    out_int64s(out, "indices", result, m);
    out_primary(out);
    out_uint(out, "num_samples", k);
    out_uint(out, "seed", r.seed);
    out_uint(out, "epoch", r.epoch);
    out_string(out, "generator", bl_generator_name((bl_generator)r.generator));
    if (ws > 1) {
        out_uint(out, "rank", (uint64_t)r.rank);
        out_uint(out, "world_size", ws);
        out_uint(out, "total_size", m * ws);
    }
    code = api_emit(out, e);
done:
    free(w);
    free(draw);
    free(share);
    return code;
}
