/*
 * resample.c — balancing classes by random under- and over-sampling of
 * their items.
 *
 * The targets follow imbalanced-learn's definitions of sampling_strategy
 * for RandomUnderSampler and RandomOverSampler (a name, a ratio for binary
 * labels, or counts per class), written here from their documented
 * meaning; the draw is ballast's own, on the fast stream's version 2
 * (bl_counter), so that it is reproducible from (seed, epoch). README,
 * "Balancing: undersample and oversample", gives the order of the indices.
 */
#include <math.h>
#include <stdlib.h>

#include "ballast.h"

static bl_status check_strategy(bl_strategy s, bl_error *err)
{
    if ((unsigned)s >= BL_STRATEGY_COUNT)
        return bl_error_set(err, BL_EINVAL, "strategy", -1,
                            "strategy %d is not a bl_strategy (0 to %d)", (int)s,
                            BL_STRATEGY_COUNT - 1);
    if (s == BL_STRATEGY_WEIGHTED)
        return bl_error_set(err, BL_EINVAL, "strategy", -1,
                            "strategy \"weighted\" has no class targets: it draws by weight");
    return BL_OK;
}

/* The classes present, the minority and majority (lowest id among equal
 * counts); at least two classes must be present. */
typedef struct {
    size_t present, minority, majority;
} class_stats;

static bl_status class_stats_of(const size_t *counts, size_t C, class_stats *st, bl_error *err)
{
    st->present = 0;
    st->minority = st->majority = C;
    if (!counts && C)
        return bl_error_set(err, BL_EINVAL, "labels", -1, "the class counts are NULL");
    for (size_t c = 0; c < C; c++) {
        if (!counts[c])
            continue;
        st->present++;
        if (st->minority == C || counts[c] < counts[st->minority])
            st->minority = c;
        if (st->majority == C || counts[c] > counts[st->majority])
            st->majority = c;
    }
    if (st->present < 2)
        return bl_error_set(err, BL_EINVAL, "labels", -1,
                            "balancing needs at least two classes in labels, not %zu", st->present);
    return BL_OK;
}

bl_status bl_balance_targets(const size_t *counts, size_t C, bl_strategy s, bl_balance b,
                             int64_t *target, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_strategy(s, err);
    if (rc != BL_OK)
        return rc;
    if ((unsigned)b >= BL_BALANCE_COUNT)
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "sampling_strategy %d is not a bl_balance (0 to %d)", (int)b,
                            BL_BALANCE_COUNT - 1);
    int under = s == BL_STRATEGY_UNDERSAMPLE;
    if (under && b == BL_BALANCE_MINORITY)
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "sampling_strategy \"minority\" applies to oversample, not to "
                            "undersample (the minority is what the others are cut down to)");
    if (!under && b == BL_BALANCE_MAJORITY)
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "sampling_strategy \"majority\" applies to undersample, not to "
                            "oversample (the majority is what the others grow to)");
    class_stats st;
    rc = class_stats_of(counts, C, &st, err);
    if (rc != BL_OK)
        return rc;
    if (!target)
        return bl_error_set(err, BL_EINVAL, "target", -1, "target is NULL");
    if (b == BL_BALANCE_AUTO)
        b = under ? BL_BALANCE_NOT_MINORITY : BL_BALANCE_NOT_MAJORITY;
    /* every class goes to the minority's count (undersample) or the
     * majority's (oversample), those the name leaves out excepted */
    int64_t to = (int64_t)(under ? counts[st.minority] : counts[st.majority]);
    for (size_t c = 0; c < C; c++) {
        int take = counts[c] > 0;
        switch (b) {
        case BL_BALANCE_MAJORITY:
            take = take && c == st.majority;
            break;
        case BL_BALANCE_MINORITY:
            take = take && c == st.minority;
            break;
        case BL_BALANCE_NOT_MINORITY:
            take = take && c != st.minority;
            break;
        case BL_BALANCE_NOT_MAJORITY:
            take = take && c != st.majority;
            break;
        default:
            break; /* all */
        }
        target[c] = take ? to : -1;
    }
    return BL_OK;
}

bl_status bl_balance_targets_ratio(const size_t *counts, size_t C, bl_strategy s, double ratio,
                                   int64_t *target, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_strategy(s, err);
    if (rc != BL_OK)
        return rc;
    if (!(ratio > 0 && ratio <= 1))
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "a ratio sampling_strategy must be in (0, 1], not %g", ratio);
    class_stats st;
    rc = class_stats_of(counts, C, &st, err);
    if (rc != BL_OK)
        return rc;
    if (st.present != 2)
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "a ratio sampling_strategy needs binary labels (two classes), not "
                            "%zu classes: give counts per class instead",
                            st.present);
    if (!target)
        return bl_error_set(err, BL_EINVAL, "target", -1, "target is NULL");
    int under = s == BL_STRATEGY_UNDERSAMPLE;
    size_t other = under ? st.majority : st.minority, keep = under ? st.minority : st.majority;
    if (other == keep) /* two classes of equal counts: the other is the higher id */
        for (size_t c = C; c-- > 0;)
            if (counts[c] && c != keep) {
                other = c;
                break;
            }
    for (size_t c = 0; c < C; c++)
        target[c] = -1;
    /* imbalanced-learn: int(n_minority / r) kept, or int(n_majority r)
     * reached (it asks for int(n_majority r - n_c) more) */
    double want =
        under ? floor((double)counts[keep] / ratio)
              : floor((double)counts[keep] * ratio - (double)counts[other]) + (double)counts[other];
    if (under && want > (double)counts[other])
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "ratio %g keeps %.0f items of class %zu, which has only %zu: "
                            "undersampling cannot add items; raise the ratio",
                            ratio, want, other, counts[other]);
    if (!under && want <= (double)counts[other])
        return bl_error_set(err, BL_EINVAL, "sampling_strategy", -1,
                            "ratio %g grows class %zu to %.0f items, but it has %zu: "
                            "oversampling must add items; raise the ratio",
                            ratio, other, want, counts[other]);
    target[other] = (int64_t)want;
    return BL_OK;
}

bl_status bl_balance_targets_counts(const size_t *counts, size_t C, bl_strategy s,
                                    const int64_t *wanted, int64_t *target, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_strategy(s, err);
    if (rc != BL_OK)
        return rc;
    class_stats st;
    rc = class_stats_of(counts, C, &st, err);
    if (rc != BL_OK)
        return rc;
    if (!target || !wanted)
        return bl_error_set(err, BL_EINVAL, target ? "sampling_strategy" : "target", -1,
                            "%s is NULL", target ? "sampling_strategy" : "target");
    int under = s == BL_STRATEGY_UNDERSAMPLE;
    for (size_t c = 0; c < C; c++) {
        int64_t v = wanted[c];
        if (v < -1)
            return bl_error_set(err, BL_EINVAL, "sampling_strategy", (int64_t)c,
                                "class %zu: %lld items is negative", c, (long long)v);
        if (v >= 0 && counts[c] == 0)
            return bl_error_set(err, BL_EINVAL, "sampling_strategy", (int64_t)c,
                                "class %zu is not present in labels", c);
        if (v >= 0 && under && (uint64_t)v > counts[c])
            return bl_error_set(err, BL_EINVAL, "sampling_strategy", (int64_t)c,
                                "class %zu: %lld items asked, but it has %zu: undersampling "
                                "keeps at most a class's items",
                                c, (long long)v, counts[c]);
        if (v >= 0 && !under && (uint64_t)v < counts[c])
            return bl_error_set(err, BL_EINVAL, "sampling_strategy", (int64_t)c,
                                "class %zu: %lld items asked, but it has %zu: oversampling "
                                "keeps every item of a class",
                                c, (long long)v, counts[c]);
        target[c] = v;
    }
    return BL_OK;
}

size_t bl_resample_size(const size_t *counts, size_t C, const int64_t *target)
{
    size_t n = 0;
    for (size_t c = 0; counts && target && c < C; c++) {
        size_t k = target[c] >= 0 ? (size_t)target[c] : counts[c];
        n = k > SIZE_MAX - n ? SIZE_MAX : n + k; /* saturates: never wraps to a small size */
    }
    return n;
}

/* The floor(r m / 2^64)-th of m choices. */
static size_t pick(const bl_counter *key, uint64_t *pos, size_t m)
{
    unsigned __int128 prod = (unsigned __int128)bl_counter_at(key, (*pos)++) * (uint64_t)m;
    return (size_t)(prod >> 64);
}

/* The items of each class in index order, items[start[c] .. start[c + 1]),
 * checking labels and targets against the counts. start: C + 1 entries,
 * fill: C scratch entries, items: n. */
static bl_status group_by_class(const int64_t *labels, size_t n, const size_t *counts, size_t C,
                                const int64_t *target, int under, size_t *start, size_t *fill,
                                int64_t *items, bl_error *err)
{
    start[0] = 0;
    for (size_t c = 0; c < C; c++) {
        start[c + 1] = start[c] + counts[c];
        fill[c] = start[c];
        if (target[c] >= 0 &&
            (under ? (uint64_t)target[c] > counts[c] : (uint64_t)target[c] < counts[c]))
            return bl_error_set(err, BL_EINVAL, "target", (int64_t)c,
                                "target[%zu] = %lld is beyond class %zu's %zu items", c,
                                (long long)target[c], c, counts[c]);
    }
    if (start[C] != n)
        return bl_error_set(err, BL_EINVAL, "labels", -1,
                            "the class counts add up to %zu, not to the %zu labels", start[C], n);
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (uint64_t)labels[i] >= C || fill[labels[i]] >= start[labels[i] + 1])
            return bl_error_set(err, BL_EINVAL, "labels", (int64_t)i,
                                "labels[%zu] = %lld does not match the class counts", i,
                                (long long)labels[i]);
        items[fill[labels[i]]++] = (int64_t)i;
    }
    return BL_OK;
}

bl_status bl_resample(const int64_t *labels, size_t n, const size_t *counts, size_t C,
                      bl_strategy s, const int64_t *target, int replacement, uint64_t seed,
                      uint64_t epoch, int64_t *out, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_strategy(s, err);
    if (rc != BL_OK)
        return rc;
    if (!labels || !counts || !target || !out)
        return bl_error_set(err, BL_EINVAL,
                            !labels ? "labels"
                            : !out  ? "out"
                                    : "target",
                            -1, "%s is NULL",
                            !labels ? "labels"
                            : !out  ? "out"
                                    : "the targets");
    if (replacement != 0 && replacement != 1)
        return bl_error_set(err, BL_EINVAL, "replacement", -1, "replacement is %d, not 0 or 1",
                            replacement);
    int under = s == BL_STRATEGY_UNDERSAMPLE;
    size_t *start = calloc(C + 1, sizeof *start), *fill = calloc(C + 1, sizeof *fill);
    int64_t *items = calloc(n ? n : 1, sizeof *items);
    if (!start || !fill || !items) {
        rc = bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu labels", n);
        goto done;
    }
    rc = group_by_class(labels, n, counts, C, target, under, start, fill, items, err);
    if (rc != BL_OK)
        goto done;
    bl_counter key;
    bl_counter_seed(&key, seed, epoch);
    uint64_t pos = 0;
    size_t o = 0;
    if (!under)
        for (size_t i = 0; i < n; i++)
            out[o++] = (int64_t)i;
    for (size_t c = 0; c < C; c++) {
        int64_t *it = items + start[c];
        size_t m = counts[c];
        if (target[c] < 0) { /* left as it is */
            if (under)
                for (size_t j = 0; j < m; j++)
                    out[o++] = it[j];
            continue;
        }
        size_t t = under ? (size_t)target[c] : (size_t)target[c] - m;
        for (size_t j = 0; j < t; j++) {
            if (under && !replacement) { /* Fisher-Yates step j */
                size_t r = j + pick(&key, &pos, m - j);
                int64_t tmp = it[j];
                it[j] = it[r];
                it[r] = tmp;
                out[o++] = it[j];
            } else {
                out[o++] = it[pick(&key, &pos, m)];
            }
        }
    }
done:
    free(start);
    free(fill);
    free(items);
    return rc;
}
