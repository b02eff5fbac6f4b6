/*
 * sample.c — POST /sample: per-item weights (or labels with class weights)
 * in, sampled indices out, optionally one rank's share of the draw.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"

typedef struct {
    api_value weights, labels, class_weights, sampling_strategy;
    int64_t num_samples, world_size, rank, offset, count, fast_version;
    uint64_t seed, epoch;
    int replacement, generator, stream, strategy;
    int num_samples_given, seed_given, count_given, offset_given, fast_version_given; /* FIELD_* */
    int replacement_given, generator_given, stream_given;
} sample_req;

#define OFF(m) offsetof(sample_req, m)
/* One row per field, as the table reads best: */
/* clang-format off */
static const field_spec fields[] = {
    {.name = "weights", .type = FT_ARRAY, .offset = OFF(weights),
     .doc = "one weight >= 0 per item, sum > 0"},
    {.name = "labels", .type = FT_ARRAY, .offset = OFF(labels),
     .doc = "instead of weights: one class id per item"},
    {.name = "class_weights", .type = FT_ARRAY, .offset = OFF(class_weights),
     .doc = "with labels: item i gets class_weights[labels[i]] (default 1 / class count)"},
    {.name = "num_samples", .type = FT_INT, .offset = OFF(num_samples), .range = AT_LEAST(1),
     .given = FIELD_GIVEN_AT(sample_req, num_samples_given),
     .doc = "indices to draw (default: the number of items)"},
    {.name = "replacement", .type = FT_BOOL, .offset = OFF(replacement), DEFAULT_INT(1),
     .given = FIELD_GIVEN_AT(sample_req, replacement_given),
     .doc = "draw with replacement, as in PyTorch"},
    {.name = "seed", .type = FT_UINT64, .offset = OFF(seed), .decimal_string = 1,
     .given = FIELD_GIVEN_AT(sample_req, seed_given),
     .doc = "an integer in [0, 2^64), or its decimal string (default: drawn, and returned)"},
    {.name = "epoch", .type = FT_UINT64, .offset = OFF(epoch), DEFAULT_UINT(0),
     .doc = "a fresh, reproducible draw per epoch from one seed"},
    {.name = "generator", .type = FT_ENUM, .offset = OFF(generator),
     .choices = bl_generator_names, DEFAULT_INT(BL_GENERATOR_FAST),
     .given = FIELD_GIVEN_AT(sample_req, generator_given),
     .doc = "fast, or torch (bit-exact torch.multinomial)"},
    {.name = "world_size", .type = FT_INT, .offset = OFF(world_size), .range = AT_LEAST(1),
     DEFAULT_INT(1), .doc = "distributed training: the number of ranks"},
    {.name = "rank", .type = FT_INT, .offset = OFF(rank), .range = AT_LEAST(0), DEFAULT_INT(0),
     .doc = "this rank's share of the draw, in [0, world_size)"},
    {.name = "stream", .type = FT_ENUM, .offset = OFF(stream), .choices = bl_stream_names,
     DEFAULT_INT(BL_STREAM_PER_EPOCH), .given = FIELD_GIVEN_AT(sample_req, stream_given),
     .doc = "per_epoch (reseeded every epoch), or continued (torch: one generator, seeded once)"},
    {.name = "offset", .type = FT_INT, .offset = OFF(offset), .range = AT_LEAST(0),
     DEFAULT_INT(0), .given = FIELD_GIVEN_AT(sample_req, offset_given),
     .doc = "the window's first index, within what this request returns"},
    {.name = "count", .type = FT_INT, .offset = OFF(count), .range = AT_LEAST(0),
     .given = FIELD_GIVEN_AT(sample_req, count_given),
     .doc = "the window's length (default: the rest from offset)"},
    {.name = "fast_version", .type = FT_INT, .offset = OFF(fast_version),
     .range = RANGE(1, BL_FAST_VERSION), DEFAULT_INT(BL_FAST_VERSION),
     .only = {"generator", CHOICE(BL_GENERATOR_FAST), NULL},
     .given = FIELD_GIVEN_AT(sample_req, fast_version_given),
     .doc = "the fast stream's version: 2 (counter-based), or 1 (before ballast 0.2)"},
    {.name = "strategy", .type = FT_ENUM, .offset = OFF(strategy), .choices = bl_strategy_names,
     DEFAULT_INT(BL_STRATEGY_WEIGHTED),
     .doc = "weighted (draw by weight), or undersample / oversample the classes of labels"},
    {.name = "sampling_strategy", .type = FT_ARRAY, .offset = OFF(sampling_strategy),
     .only = {"strategy", CHOICE(BL_STRATEGY_UNDERSAMPLE) | CHOICE(BL_STRATEGY_OVERSAMPLE), NULL},
     .doc = "the class targets, as imbalanced-learn: a name (default auto), a ratio, or counts"},
    FIELD_END,
};
/* clang-format on */

static const field_rule rules[] = {
    {RULE_ONE_OF, "weights", "labels", "send either weights or labels, not both",
     "send one weight per item as \"weights\" (or one label per item as \"labels\")"},
    {RULE_NEEDS, "class_weights", "labels",
     "class_weights goes with labels: item i gets class_weights[labels[i]]", NULL},
    RULE_END,
};

const api_form api_sample_form = {"sample", fields, rules};

static int os_entropy(void *ctx, uint64_t *out)
{
    (void)ctx;
    return getrandom(out, sizeof *out, 0) == (ssize_t)sizeof *out ? 0 : -1;
}

/* The limit on the classes that labels imply: label C - 1 means C
 * classes, each with a weight or a count held in memory. */
static bl_api_code classes_within(size_t C, size_t max, api_err *e)
{
    if (max && C > max)
        return api_fail(e, BL_API_LIMIT_EXCEEDED, "labels",
                        "label %zu means %zu classes, more than the server's max-items limit of "
                        "%zu",
                        C - 1, C, max);
    return BL_API_OK;
}

/* Per-item weights from labels: class_weights[label], by default libballast's
 * "inverse" class weights (1 / the label's count, over classes 0..max
 * label), so that every class present is equally likely. */
static bl_api_code weights_from_labels(const sample_req *r, size_t max, double **out, size_t *n,
                                       api_err *e)
{
    int has_cw = api_sent(&r->class_weights);
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
        char path[BL_API_FIELD_MAX];
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
        code = classes_within(classes, max, e);
        if (code != BL_API_OK)
            goto done;
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
    if (bl_label_weights(cw, ncw, labels, nl, w, &le) != BL_OK) {
        free(w);
        code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    *out = w;
    *n = nl;
    code = BL_API_OK;
done:
    free(labels);
    free(cw);
    return code;
}

/* The draw, mapping a refusal of weights derived from labels to the label. */
static bl_api_code draw_indices(const sample_req *r, const bl_sample_opts *o, double *w, size_t n,
                                size_t k, int64_t *draw, api_err *e)
{
    bl_error le;
    /* w is the handler's to overwrite (a copy, or a writable part): the
     * alias table takes its memory */
    if (bl_sample_window_inplace(w, n, k, o, draw, NULL, &le) == BL_OK)
        return BL_API_OK;
    if (le.arg && strcmp(le.arg, "weights") == 0 && api_sent(&r->labels)) {
        char path[BL_API_FIELD_MAX];
        api_path(path, sizeof path, "labels", le.index, NULL, 0);
        return api_fail(e, BL_API_INVALID_ARGUMENT, path, "%s (from labels and class_weights)",
                        le.message);
    }
    return api_from_lib(e, &le, NULL, 0);
}

/* The share and window a request asks for (world_size, rank, offset,
 * count), the same for weighted draws and resampled lists. */
static void window_opts(const sample_req *r, bl_sample_opts *o)
{
    o->world_size = (size_t)r->world_size;
    o->rank = (size_t)r->rank;
    o->offset = (size_t)r->offset;
    o->count = r->count_given ? (size_t)r->count : SIZE_MAX;
}

/* The draw's len indices as the answer's array: drawn straight into a .npy
 * answer, or into *draw (malloc'd; the caller frees it). */
static bl_api_code answer_draw(const sample_req *r, const bl_sample_opts *o, double *w, size_t n,
                               size_t k, size_t len, api_out *out, int64_t **draw, api_err *e)
{
    int64_t *direct = out_int64s_direct(out, "indices", len);
    if (direct)
        return draw_indices(r, o, w, n, k, direct, e);
    *draw = calloc(len ? len : 1, sizeof **draw); /* calloc: len * 8 may overflow (no limit) */
    if (!*draw)
        return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu samples", len);
    bl_api_code code = draw_indices(r, o, w, n, k, *draw, e);
    if (code == BL_API_OK) {
        out_int64s(out, "indices", *draw, len);
        out_primary(out);
    }
    return code;
}

#define SEED_DIGITS 24 /* 2^64 - 1 has 20 */

/* The answer's scalar fields. The seed comes back as it came: a string
 * when sent as one; a seed drawn here also as "seed_string", exact where
 * JavaScript's numbers are not (.npy answers carry it exactly in their
 * Ballast-Seed header already). digits: SEED_DIGITS bytes for its text,
 * kept until the answer is written. */
static void put_fields(const sample_req *r, size_t k, size_t share, size_t len, size_t ws,
                       api_out *out, char *digits)
{
    out_uint(out, "num_samples", k);
    snprintf(digits, SEED_DIGITS, "%" PRIu64, r->seed);
    if (r->seed_given == FIELD_GIVEN_AS_STRING) {
        out_string(out, "seed", digits);
    } else {
        out_uint(out, "seed", r->seed);
        if (r->seed_given == FIELD_ABSENT && out->format != BL_API_NPY)
            out_string(out, "seed_string", digits);
    }
    out_uint(out, "epoch", r->epoch);
    out_string(out, "generator", bl_generator_name((bl_generator)r->generator));
    if (r->fast_version_given)
        out_uint(out, "fast_version", (uint64_t)r->fast_version);
    if (r->stream == BL_STREAM_CONTINUED)
        out_string(out, "stream", bl_stream_name((bl_stream)r->stream));
    if (ws > 1) {
        out_uint(out, "rank", (uint64_t)r->rank);
        out_uint(out, "world_size", ws);
        out_uint(out, "total_size", share * ws);
    }
    if (!r->offset_given && !r->count_given)
        return;
    /* the window, and where the next one starts */
    out_uint(out, "offset", (uint64_t)r->offset);
    out_uint(out, "count", len);
    out_uint(out, "next_offset", (uint64_t)r->offset + len);
    out_uint(out, "full_count", share);
}

/* The replay that stream "continued" may ask for: epoch draws' worth of
 * uniforms before the epoch's own, at most REPLAY_PER_SAMPLE times the
 * max-samples limit (README, "Limits"). */
#define REPLAY_PER_SAMPLE 8 /* 2^28 uniforms by default: about a second */

/* The seed sent, or one drawn from the system. */
static bl_api_code ensure_seed(const bl_api_config *cfg, sample_req *r, api_err *e)
{
    if (r->seed_given)
        return BL_API_OK;
    int (*entropy)(void *, uint64_t *) = cfg->entropy ? cfg->entropy : os_entropy;
    if (entropy(cfg->entropy_ctx, &r->seed) != 0)
        return api_fail(e, BL_API_UNAVAILABLE, "seed",
                        "the system gave no random seed; send \"seed\"");
    return BL_API_OK;
}

/* ---- strategy "undersample" / "oversample" (README, "Balancing") -------- */

/* What weighted sampling takes and balancing does not. */
static bl_api_code balance_refusals(const sample_req *r, api_err *e)
{
    const char *s = bl_strategy_name((bl_strategy)r->strategy);
    if (api_sent(&r->weights))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "weights",
                        "strategy \"%s\" balances the classes of labels: send labels, not "
                        "weights",
                        s);
    if (api_sent(&r->class_weights))
        return api_fail(e, BL_API_INVALID_ARGUMENT, "class_weights",
                        "strategy \"%s\" counts the classes of labels and takes no "
                        "class_weights",
                        s);
    if (r->num_samples_given)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "num_samples",
                        "strategy \"%s\" returns as many indices as sampling_strategy asks "
                        "for: leave num_samples out",
                        s);
    if (r->generator != BL_GENERATOR_FAST)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "generator",
                        "strategy \"%s\" draws from the fast stream (version 2); there is no "
                        "PyTorch sampler to replay: leave generator out",
                        s);
    if (r->fast_version != BL_FAST_VERSION)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "fast_version",
                        "strategy \"%s\" draws from the fast stream's version %d only", s,
                        BL_FAST_VERSION);
    if (r->stream != BL_STREAM_PER_EPOCH)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "stream",
                        "strategy \"%s\" keys every epoch by seed and epoch; stream "
                        "\"continued\" is for generator \"torch\"",
                        s);
    if (r->strategy == BL_STRATEGY_OVERSAMPLE && r->replacement_given && !r->replacement)
        return api_fail(e, BL_API_INVALID_ARGUMENT, "replacement",
                        "strategy \"oversample\" repeats items: it draws with replacement "
                        "only");
    return BL_API_OK;
}

/* sampling_strategy as an object {"class id": count}: wanted[c], -1 for
 * the classes it leaves out. */
static bl_api_code counts_from_object(json_t *obj, size_t C, int64_t *wanted, api_err *e)
{
    const char *key;
    json_t *val;
    for (size_t c = 0; c < C; c++)
        wanted[c] = -1;
    json_object_foreach(obj, key, val)
    {
        char path[BL_API_FIELD_MAX];
        snprintf(path, sizeof path, "sampling_strategy.%.60s", key);
        char *end = NULL;
        unsigned long long c = strtoull(key, &end, 10);
        if (!*key || *end || key[0] == '-' || key[0] == '+' || key[0] == ' ')
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "sampling_strategy's keys are class ids (decimal integers), not "
                            "\"%.60s\"",
                            key);
        if (c >= C)
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "class %llu is not present in labels (its classes are 0 to %zu)", c,
                            C - 1);
        int64_t v;
        if (!api_integer(val, &v) || v < 0)
            return api_fail(e, BL_API_INVALID_ARGUMENT, path,
                            "%s must be a count of items: an integer >= 0", path);
        wanted[c] = v;
    }
    return BL_API_OK;
}

/* sampling_strategy as an array or .npy: one count per class (0 for an
 * absent class, which leaves it out). */
static bl_api_code counts_from_array(const api_value *v, const size_t *counts, size_t C,
                                     int64_t *wanted, api_err *e)
{
    int64_t *w = NULL;
    size_t nw = 0;
    bl_api_code code = api_int64s(v, "sampling_strategy", 0, NULL, &w, &nw, e);
    if (code != BL_API_OK)
        return code;
    if (nw != C) {
        free(w);
        return api_fail(e, BL_API_INVALID_ARGUMENT, "sampling_strategy",
                        "sampling_strategy has %zu counts: give one per class, 0 to %zu (%zu), "
                        "or an object {\"class\": count} for some of them",
                        nw, C - 1, C);
    }
    for (size_t c = 0; c < C; c++) {
        if (w[c] < 0) {
            long long bad = (long long)w[c]; /* read before w is freed */
            free(w);
            return api_fail(e, BL_API_INVALID_ARGUMENT, "sampling_strategy",
                            "sampling_strategy[%zu] = %lld: counts are integers >= 0", c, bad);
        }
        wanted[c] = counts[c] == 0 && w[c] == 0 ? -1 : w[c];
    }
    free(w);
    return BL_API_OK;
}

/* The targets per class of sampling_strategy (default "auto"). */
static bl_api_code balance_targets(const sample_req *r, const size_t *counts, size_t C,
                                   int64_t *target, api_err *e)
{
    bl_strategy s = (bl_strategy)r->strategy;
    const api_value *v = &r->sampling_strategy;
    json_t *j = v->part ? NULL : v->json;
    bl_error le;
    bl_status rc;
    if (!api_sent(v)) {
        rc = bl_balance_targets(counts, C, s, BL_BALANCE_AUTO, target, &le);
    } else if (j && json_is_string(j) &&
               (json_string_length(j) == 0 || json_string_value(j)[0] != '\0')) {
        bl_balance b;
        if (bl_balance_from_name(json_string_value(j), &b, &le) != BL_OK)
            return api_from_lib(e, &le, NULL, 0);
        rc = bl_balance_targets(counts, C, s, b, target, &le);
    } else if (j && json_is_number(j)) {
        rc = bl_balance_targets_ratio(counts, C, s, json_number_value(j), target, &le);
    } else if (j && (json_is_object(j) || json_is_boolean(j) || json_is_null(j))) {
        if (!json_is_object(j))
            return api_fail(e, BL_API_INVALID_ARGUMENT, "sampling_strategy",
                            "sampling_strategy is a name (\"auto\", ...), a ratio in (0, 1], "
                            "or counts per class (an array, or an object {\"class\": count})");
        int64_t *wanted = malloc(C * sizeof *wanted);
        if (!wanted)
            return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", C);
        bl_api_code code = counts_from_object(j, C, wanted, e);
        rc = code == BL_API_OK ? bl_balance_targets_counts(counts, C, s, wanted, target, &le)
                               : BL_OK;
        free(wanted);
        if (code != BL_API_OK)
            return code;
    } else {
        int64_t *wanted = malloc(C * sizeof *wanted);
        if (!wanted)
            return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", C);
        bl_api_code code = counts_from_array(v, counts, C, wanted, e);
        rc = code == BL_API_OK ? bl_balance_targets_counts(counts, C, s, wanted, target, &le)
                               : BL_OK;
        free(wanted);
        if (code != BL_API_OK)
            return code;
    }
    return rc == BL_OK ? BL_API_OK : api_from_lib(e, &le, NULL, 0);
}

/* The labels, their classes and counts. */
static bl_api_code balance_labels(const sample_req *r, size_t max, int64_t **labels, size_t *n,
                                  size_t **counts, size_t *C, api_err *e)
{
    bl_error le;
    bl_api_code code = api_int64s(&r->labels, "labels", max, "max-items", labels, n, e);
    if (code != BL_API_OK)
        return code;
    if (bl_label_classes(*labels, *n, 0, C, &le) != BL_OK)
        return api_from_lib(e, &le, NULL, 0);
    code = classes_within(*C, max, e);
    if (code != BL_API_OK)
        return code;
    *counts = calloc(*C, sizeof **counts);
    if (!*counts)
        return api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", *C);
    for (size_t i = 0; i < *n; i++)
        (*counts)[(*labels)[i]]++;
    return BL_API_OK;
}

/* The resampled list, shared among ranks and windowed: the slice of
 * bl_shard's share, as for weighted draws. */
static bl_api_code sample_balanced(const bl_api_config *cfg, sample_req *r, api_out *out,
                                   api_err *e)
{
    const bl_api_limits *lim = &cfg->limits;
    int64_t *labels = NULL, *target = NULL, *all = NULL, *share = NULL;
    size_t *counts = NULL, n = 0, C = 0, len = 0, m = 0;
    char digits[SEED_DIGITS];
    bl_error le;
    bl_api_code code = balance_refusals(r, e);
    if (code == BL_API_OK)
        code = balance_labels(r, lim->max_items, &labels, &n, &counts, &C, e);
    if (code != BL_API_OK)
        goto done;
    target = malloc(C * sizeof *target);
    if (!target) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu classes", C);
        goto done;
    }
    code = balance_targets(r, counts, C, target, e);
    if (code != BL_API_OK)
        goto done;
    size_t total = bl_resample_size(counts, C, target);
    if (total == 0) {
        code = api_fail(e, BL_API_INVALID_ARGUMENT, "sampling_strategy",
                        "sampling_strategy keeps no item at all");
        goto done;
    }
    if (lim->max_samples && total > lim->max_samples) {
        code = api_fail(e, BL_API_LIMIT_EXCEEDED, "sampling_strategy",
                        "sampling_strategy asks for %zu indices, more than the server's "
                        "max-samples limit of %zu",
                        total, lim->max_samples);
        goto done;
    }
    bl_sample_opts o = bl_sample_opts_default();
    window_opts(r, &o);
    if (bl_sample_window_size(total, &o, &len, &le) != BL_OK ||
        bl_shard_size(total, o.world_size, o.rank, &m, &le) != BL_OK) {
        code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    code = ensure_seed(cfg, r, e);
    if (code != BL_API_OK)
        goto done;
    int replacement =
        r->strategy == BL_STRATEGY_OVERSAMPLE || (r->replacement_given && r->replacement);
    all = calloc(total, sizeof *all); /* calloc: no overflow without limits */
    share = calloc(m + 1, sizeof *share);
    if (!all || !share) {
        code = api_fail(e, BL_API_UNAVAILABLE, NULL, "out of memory for %zu samples", total);
        goto done;
    }
    if (bl_resample(labels, n, counts, C, (bl_strategy)r->strategy, target, replacement, r->seed,
                    r->epoch, all, &le) != BL_OK ||
        bl_shard(all, total, o.world_size, o.rank, share, &m, &le) != BL_OK) {
        code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    out_int64s(out, "indices", share + o.offset, len);
    out_primary(out);
    put_fields(r, total, m, len, o.world_size, out, digits);
    out_string(out, "strategy", bl_strategy_name((bl_strategy)r->strategy));
    code = api_emit(out, e);
done:
    free(labels);
    free(counts);
    free(target);
    free(all);
    free(share);
    return code;
}

bl_api_code api_sample(const bl_api_config *cfg, const api_request *req, api_out *out, api_err *e)
{
    sample_req r;
    bl_api_code code = api_decode_fields(req, &api_sample_form, &r, e);
    if (code != BL_API_OK)
        return code;
    if (r.strategy != BL_STRATEGY_WEIGHTED)
        return sample_balanced(cfg, &r, out, e);
    const bl_api_limits *lim = &cfg->limits;
    double *w = NULL; /* ours to overwrite: a copy, or a writable part's own */
    int64_t *draw = NULL;
    size_t n = 0;
    int w_owned = 1;
    char digits[SEED_DIGITS];
    if (api_sent(&r.weights))
        code = api_doubles_scratch(cfg, &r.weights, "weights", 1, lim->max_items, "max-items", &w,
                                   &n, &w_owned, e);
    else
        code = weights_from_labels(&r, lim->max_items, &w, &n, e);
    if (code != BL_API_OK)
        goto done;

    size_t k = r.num_samples_given ? (size_t)r.num_samples : n;
    size_t ws = (size_t)r.world_size, share = k, len = 0;
    bl_sample_opts o = bl_sample_opts_default();
    o.replacement = r.replacement;
    o.generator = (bl_generator)r.generator;
    o.stream = (bl_stream)r.stream;
    o.fast_version = (int)r.fast_version;
    o.seed = r.seed; /* drawn below when not sent */
    o.epoch = r.epoch;
    window_opts(&r, &o);
    bl_error le;
    if (bl_shard_size(k, ws, (size_t)r.rank, &share, &le) != BL_OK ||
        bl_sample_window_size(k, &o, &len, &le) != BL_OK) {
        code = api_from_lib(e, &le, NULL, 0);
        goto done;
    }
    if (lim->max_samples && k > lim->max_samples) {
        code = api_fail(e, BL_API_LIMIT_EXCEEDED, "num_samples",
                        "num_samples = %zu is more than the server's max-samples limit of %zu", k,
                        lim->max_samples);
        goto done;
    }
    uint64_t replay = bl_sample_replay(n, k, &o);
    if (lim->max_samples && replay / REPLAY_PER_SAMPLE >= lim->max_samples) {
        code = api_fail(e, BL_API_LIMIT_EXCEEDED, "epoch",
                        "stream \"continued\" at epoch %" PRIu64 " replays %" PRIu64
                        " draws' worth of uniforms (epoch x %s), more than %d times the "
                        "server's max-samples limit of %zu",
                        r.epoch, replay, r.replacement ? "num_samples" : "items", REPLAY_PER_SAMPLE,
                        lim->max_samples);
        goto done;
    }
    code = ensure_seed(cfg, &r, e);
    if (code != BL_API_OK)
        goto done;
    o.seed = r.seed;
    code = answer_draw(&r, &o, w, n, k, len, out, &draw, e);
    if (code != BL_API_OK)
        goto done;
    put_fields(&r, k, share, len, ws, out, digits);
    code = api_emit(out, e);
done:
    if (w_owned)
        free(w);
    free(draw);
    return code;
}
