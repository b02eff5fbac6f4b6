/*
 * names.c — the names of every enum of ballast.h, as the HTTP API spells
 * them: one table per enum, indexed by the enum's value and terminated by
 * NULL, so that the api layer's field tables take them as they are.
 *
 * The tables use designated initialisers, so that reordering an enum cannot
 * silently pair a value with another's name, and each is checked against
 * its BL_<ENUM>_COUNT: a value added to an enum without a name (or a count
 * left behind) does not compile.
 */
#include <stdio.h>
#include <string.h>

#include "ballast.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *const bl_scheme_names[BL_SCHEME_COUNT + 1] = {
    [BL_SCHEME_MAX_OVER_COUNT] = "max_over_count",
    [BL_SCHEME_INVERSE] = "inverse",
    [BL_SCHEME_BALANCED] = "balanced",
    [BL_SCHEME_INVERSE_SQRT] = "inverse_sqrt",
    [BL_SCHEME_EFFECTIVE_NUMBER] = "effective_number",
    [BL_SCHEME_MEDIAN_FREQUENCY] = "median_frequency",
    [BL_SCHEME_ENET] = "enet",
    [BL_SCHEME_POWER] = "power",
    [BL_SCHEME_REPEAT_FACTOR] = "repeat_factor",
    [BL_SCHEME_COUNT] = NULL,
};
_Static_assert(BL_SCHEME_REPEAT_FACTOR + 1 == BL_SCHEME_COUNT,
               "BL_SCHEME_COUNT is not the last scheme + 1");
_Static_assert(NELEM(bl_scheme_names) == BL_SCHEME_COUNT + 1, "a scheme without a name");

const char *const bl_normalize_names[BL_NORMALIZE_COUNT + 1] = {
    [BL_NORMALIZE_NONE] = "none", [BL_NORMALIZE_SUM] = "sum",  [BL_NORMALIZE_MEAN] = "mean",
    [BL_NORMALIZE_MAX] = "max",   [BL_NORMALIZE_COUNT] = NULL,
};
_Static_assert(BL_NORMALIZE_MAX + 1 == BL_NORMALIZE_COUNT, "BL_NORMALIZE_COUNT is stale");
_Static_assert(NELEM(bl_normalize_names) == BL_NORMALIZE_COUNT + 1, "a normalize without a name");

const char *const bl_generator_names[BL_GENERATOR_COUNT + 1] = {
    [BL_GENERATOR_FAST] = "fast",
    [BL_GENERATOR_TORCH] = "torch",
    [BL_GENERATOR_COUNT] = NULL,
};
_Static_assert(BL_GENERATOR_TORCH + 1 == BL_GENERATOR_COUNT, "BL_GENERATOR_COUNT is stale");
_Static_assert(NELEM(bl_generator_names) == BL_GENERATOR_COUNT + 1, "a generator without a name");

const char *const bl_loss_names[BL_LOSS_COUNT + 1] = {
    [BL_LOSS_CROSS_ENTROPY] = "cross_entropy",
    [BL_LOSS_NLL] = "nll",
    [BL_LOSS_FOCAL] = "focal",
    [BL_LOSS_BCE_WITH_LOGITS] = "bce_with_logits",
    [BL_LOSS_SIGMOID_FOCAL] = "sigmoid_focal",
    [BL_LOSS_LDAM] = "ldam",
    [BL_LOSS_ASYMMETRIC] = "asymmetric",
    [BL_LOSS_DICE] = "dice",
    [BL_LOSS_TVERSKY] = "tversky",
    [BL_LOSS_COUNT] = NULL,
};
_Static_assert(BL_LOSS_TVERSKY + 1 == BL_LOSS_COUNT, "BL_LOSS_COUNT is stale");
_Static_assert(NELEM(bl_loss_names) == BL_LOSS_COUNT + 1, "a loss without a name");

const char *const bl_reduction_names[BL_REDUCTION_COUNT + 1] = {
    [BL_REDUCTION_MEAN] = "mean", [BL_REDUCTION_SUM] = "sum",
    [BL_REDUCTION_NONE] = "none", [BL_REDUCTION_SUM_OVER_BATCH_SIZE] = "sum_over_batch_size",
    [BL_REDUCTION_COUNT] = NULL,
};
_Static_assert(BL_REDUCTION_SUM_OVER_BATCH_SIZE + 1 == BL_REDUCTION_COUNT,
               "BL_REDUCTION_COUNT is stale");
_Static_assert(NELEM(bl_reduction_names) == BL_REDUCTION_COUNT + 1, "a reduction without a name");

const char *const bl_sample_reduce_names[BL_SAMPLE_REDUCE_COUNT + 1] = {
    [BL_SAMPLE_REDUCE_MAX] = "max",
    [BL_SAMPLE_REDUCE_MEAN] = "mean",
    [BL_SAMPLE_REDUCE_COUNT] = NULL,
};
_Static_assert(BL_SAMPLE_REDUCE_MEAN + 1 == BL_SAMPLE_REDUCE_COUNT,
               "BL_SAMPLE_REDUCE_COUNT is stale");
_Static_assert(NELEM(bl_sample_reduce_names) == BL_SAMPLE_REDUCE_COUNT + 1,
               "a sample_weight_reduce without a name");

const char *const bl_activation_names[BL_ACTIVATION_COUNT + 1] = {
    [BL_ACTIVATION_SOFTMAX] = "softmax",
    [BL_ACTIVATION_SIGMOID] = "sigmoid",
    [BL_ACTIVATION_COUNT] = NULL,
};
_Static_assert(BL_ACTIVATION_SIGMOID + 1 == BL_ACTIVATION_COUNT, "BL_ACTIVATION_COUNT is stale");
_Static_assert(NELEM(bl_activation_names) == BL_ACTIVATION_COUNT + 1,
               "an activation without a name");

const char *const bl_stream_names[BL_STREAM_COUNT + 1] = {
    [BL_STREAM_PER_EPOCH] = "per_epoch",
    [BL_STREAM_CONTINUED] = "continued",
    [BL_STREAM_COUNT] = NULL,
};
_Static_assert(BL_STREAM_CONTINUED + 1 == BL_STREAM_COUNT, "BL_STREAM_COUNT is stale");
_Static_assert(NELEM(bl_stream_names) == BL_STREAM_COUNT + 1, "a stream without a name");

const char *const bl_strategy_names[BL_STRATEGY_COUNT + 1] = {
    [BL_STRATEGY_WEIGHTED] = "weighted",
    [BL_STRATEGY_UNDERSAMPLE] = "undersample",
    [BL_STRATEGY_OVERSAMPLE] = "oversample",
    [BL_STRATEGY_COUNT] = NULL,
};
_Static_assert(BL_STRATEGY_OVERSAMPLE + 1 == BL_STRATEGY_COUNT, "BL_STRATEGY_COUNT is stale");
_Static_assert(NELEM(bl_strategy_names) == BL_STRATEGY_COUNT + 1, "a strategy without a name");

const char *const bl_balance_names[BL_BALANCE_COUNT + 1] = {
    [BL_BALANCE_AUTO] = "auto",
    [BL_BALANCE_MAJORITY] = "majority",
    [BL_BALANCE_NOT_MINORITY] = "not minority",
    [BL_BALANCE_NOT_MAJORITY] = "not majority",
    [BL_BALANCE_ALL] = "all",
    [BL_BALANCE_MINORITY] = "minority",
    [BL_BALANCE_COUNT] = NULL,
};
_Static_assert(BL_BALANCE_MINORITY + 1 == BL_BALANCE_COUNT, "BL_BALANCE_COUNT is stale");
_Static_assert(NELEM(bl_balance_names) == BL_BALANCE_COUNT + 1, "a balance without a name");

/* names[v] for v in [0, count), else NULL. The enum arrives as an int: a
 * value outside the enum is exactly what this guards against. */
static const char *name_of(const char *const *names, int count, int v)
{
    return v >= 0 && v < count ? names[v] : NULL;
}

/* Room for the list of choices in index_of's message (the longest list,
 * the losses', takes about 120 bytes). */
#define CHOICES_TEXT_MAX 200

/* The index of name in names[0..count), or BL_EINVAL naming arg with the
 * list of choices: "scheme \"l2\" is not one of \"max_over_count\", ...". */
static bl_status index_of(const char *const *names, int count, const char *arg, const char *name,
                          int *out, bl_error *err)
{
    for (int i = 0; name && i < count; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return BL_OK;
        }
    char list[CHOICES_TEXT_MAX];
    size_t len = 0;
    list[0] = '\0';
    for (int i = 0; i < count && len < sizeof list; i++) {
        size_t room = sizeof list - len;
        int w = snprintf(list + len, room, "%s\"%s\"", i ? ", " : "", names[i]);
        len += w < 0 ? room : (size_t)w;
    }
    if (!name)
        return bl_error_set(err, BL_EINVAL, arg, -1, "%s is missing: give one of %s", arg, list);
    return bl_error_set(err, BL_EINVAL, arg, -1, "%s \"%.60s\" is not one of %s", arg, name, list);
}

/* One name function and one lookup per enum. */
#define NAME_FUNCTIONS(type, prefix, arg)                                                          \
    const char *bl_##prefix##_name(type v)                                                         \
    {                                                                                              \
        return name_of(bl_##prefix##_names, (int)NELEM(bl_##prefix##_names) - 1, (int)v);          \
    }                                                                                              \
    bl_status bl_##prefix##_from_name(const char *name, type *out, bl_error *err)                  \
    {                                                                                              \
        int i = 0;                                                                                 \
        bl_error_clear(err);                                                                       \
        if (!out)                                                                                  \
            return bl_error_set(err, BL_EINVAL, NULL, -1,                                          \
                                "bl_" #prefix "_from_name needs a place for the value");           \
        bl_status rc = index_of(bl_##prefix##_names, (int)NELEM(bl_##prefix##_names) - 1, arg,     \
                                name, &i, err);                                                    \
        if (rc == BL_OK)                                                                           \
            *out = (type)i;                                                                        \
        return rc;                                                                                 \
    }

NAME_FUNCTIONS(bl_scheme, scheme, "scheme")
NAME_FUNCTIONS(bl_normalize, normalize, "normalize")
NAME_FUNCTIONS(bl_generator, generator, "generator")
NAME_FUNCTIONS(bl_loss_kind, loss, "loss")
NAME_FUNCTIONS(bl_reduction, reduction, "reduction")
NAME_FUNCTIONS(bl_sample_reduce, sample_reduce, "sample_weight_reduce")
NAME_FUNCTIONS(bl_activation, activation, "activation")

NAME_FUNCTIONS(bl_stream, stream, "stream")
NAME_FUNCTIONS(bl_strategy, strategy, "strategy")
NAME_FUNCTIONS(bl_balance, balance, "sampling_strategy")
