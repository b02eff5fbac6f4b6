/*
 * sample.c — weighted sampling of indices.
 *
 * Two generators:
 *
 * torch: a replica of torch.multinomial on CPU in PyTorch 1.13 for float64
 *   weights (aten/src/ATen/native/Distributions.cpp, MultinomialKernel.cpp).
 *   With replacement, a running double sum c_j = w_0 + ... + w_j, each c_j
 *   divided by the total, the last one forced to 1, and for every draw one
 *   uniform u and the first j with c_j >= u (binary search, O(log n)).
 *   Without replacement, one exponential q_i = -log(1 - u_i) per item in
 *   index order and keys w_i / q_i; one draw is the argmax (the first of
 *   equal keys), k > 1 draws are topk's k largest in its own order, ties
 *   included (topk.c): a subnormal weight's key can underflow to 0 and tie
 *   with the zero weights'.
 *
 * fast: ballast's own stream (README, "The fast stream"), xoshiro256**.
 *   With replacement, Vose's alias table: O(n) to build, then per draw one
 *   output r: the 128-bit product r n gives the column (its high word;
 *   bias < n / 2^64) and, from the top of its low word, a 32-bit uniform
 *   that keeps the column or takes its alias.
 *   Without replacement, exponential keys (Efraimidis & Spirakis 2006):
 *   key_i = w_i / -log(u_i), u_i in (0, 1), for the non-zero weights in index
 *   order; quickselect of the k largest in O(n), sorted in O(k log k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "topk.h"

typedef blp_keyed keyed;

/* The fast generator's order: descending key, then ascending index. A total
 * order, so the selection is deterministic whatever the sort algorithm (the
 * torch generator follows PyTorch's topk instead: topk.c). */
static int keyed_before(const keyed *a, const keyed *b)
{
    if (a->key != b->key)
        return a->key > b->key;
    return a->index < b->index;
}

static int keyed_cmp(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    return keyed_before(a, b) ? -1 : keyed_before(b, a) ? 1 : 0;
}

/* Moves the k first (in keyed order) of v[0..n) to v[0..k), in any order:
 * quickselect with Lomuto partitions around a median-of-three pivot. The
 * order is total (no two elements tie), so every round places its pivot
 * and shrinks [lo, hi). Expected O(n); keys are random, not adversarial. */
static void select_first(keyed *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2, last = hi - 1, p = mid;
        if (keyed_before(&v[lo], &v[mid]) != keyed_before(&v[lo], &v[last]))
            p = lo;
        else if (keyed_before(&v[mid], &v[lo]) != keyed_before(&v[mid], &v[last]))
            p = mid;
        else
            p = last;
        keyed t = v[p];
        v[p] = v[last];
        v[last] = t;
        size_t store = lo;
        for (size_t i = lo; i < last; i++)
            if (keyed_before(&v[i], &v[last])) {
                t = v[i];
                v[i] = v[store];
                v[store++] = t;
            }
        t = v[store];
        v[store] = v[last];
        v[last] = t;
        /* v[lo..store) come before the pivot at store, v(store..hi) after. */
        if (store == k || store + 1 == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
}

/* The k largest keys of v[0..n) in keyed order, written as indices to out. */
static void top_k(keyed *v, size_t n, size_t k, int64_t *out)
{
    if (k < n)
        select_first(v, n, k);
    qsort(v, k, sizeof *v, keyed_cmp);
    for (size_t i = 0; i < k; i++)
        out[i] = v[i].index;
}

static bl_status torch_with_replacement(const double *w, size_t n, size_t k, uint64_t seed,
                                        int64_t *out, bl_error *err)
{
    double *cum = malloc(n * sizeof *cum);
    if (!cum)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        sum += w[j];
        cum[j] = sum;
    }
    for (size_t j = 0; j < n; j++)
        cum[j] /= sum;
    cum[n - 1] = 1;
    bl_mt19937 mt;
    bl_mt19937_seed(&mt, seed);
    for (size_t d = 0; d < k; d++) {
        double u = bl_mt19937_uniform(&mt);
        size_t lo = 0, hi = n;
        while (hi > lo) {
            size_t mid = lo + (hi - lo) / 2;
            if (cum[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        out[d] = (int64_t)lo;
    }
    free(cum);
    return BL_OK;
}

/* torch.multinomial(w, k, replacement=False) of PyTorch 1.13: keys w_i / q_i
 * with q_i ~ Exp(1), then at::argmax for k = 1 and at::topk for k > 1. */
static bl_status torch_without_replacement(const double *w, size_t n, size_t k, uint64_t seed,
                                           int64_t *out, bl_error *err)
{
    keyed *v = malloc(n * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    bl_mt19937 mt;
    bl_mt19937_seed(&mt, seed);
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        double q = -log(1.0 - bl_mt19937_uniform(&mt));
        v[i].key = w[i] / q;
        v[i].index = (int64_t)i;
        if (isnan(v[i].key)) /* 0 / 0 (probability 2^-53): never chosen */
            v[i].key = -1;
        if (v[i].key > v[best].key) /* argmax: the first of equal maxima */
            best = i;
    }
    if (k == 1)
        out[0] = (int64_t)best;
    else {
        blp_torch_topk(v, n, k);
        for (size_t i = 0; i < k; i++)
            out[i] = v[i].index;
    }
    free(v);
    return BL_OK;
}


/* One column of the alias table, 8 bytes so that a draw touches one cache
 * line and the table stays small: the column keeps its own index with
 * probability keep / 2^32 and gives the draw to alias otherwise. */
typedef struct {
    uint32_t keep;
    uint32_t alias;
} alias_column;

/* Draws are made in batches: the columns of a batch are computed first and
 * prefetched, so the table's cache misses overlap instead of queueing. */
#define ALIAS_BATCH 64

static bl_status fast_with_replacement(const double *w, size_t n, size_t k, double sum,
                                       uint64_t seed, uint64_t epoch, int64_t *out, bl_error *err)
{
    if ((uint64_t)n > UINT32_MAX)
        return bl_error_set(err, BL_ELIMIT, "weights", -1,
                            "the fast generator draws from at most 2^32 - 1 items, not %zu", n);
    /* Vose's alias method over p_i = w_i n / sum, in doubles; the keep
     * probabilities are then rounded down to 32-bit fixed point. */
    double *p = malloc(n * sizeof *p);
    uint32_t *work = malloc(n * sizeof *work); /* small from the front, large from the back */
    alias_column *t = malloc(n * sizeof *t);
    bl_status rc = BL_OK;
    if (!p || !work || !t) {
        rc = bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
        goto done;
    }
    /* w / sum first: n / sum overflows for sums below n / DBL_MAX (tiny or
     * subnormal weights), and 0 * inf would be NaN. */
    size_t nsmall = 0, nlarge = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = w[i] > 0 ? w[i] / sum * (double)n : 0;
        t[i].alias = (uint32_t)i;
        if (p[i] < 1)
            work[nsmall++] = (uint32_t)i;
        else
            work[n - 1 - nlarge++] = (uint32_t)i;
    }
    while (nsmall && nlarge) {
        uint32_t s = work[--nsmall];
        uint32_t l = work[n - nlarge]; /* the large most recently pushed */
        t[s].alias = l;
        p[l] -= 1 - p[s];
        if (p[l] < 1) {
            nlarge--;
            work[nsmall++] = l;
        }
    }
    /* What is left is 1 up to rounding. */
    while (nlarge)
        p[work[n - nlarge--]] = 1;
    while (nsmall)
        p[work[--nsmall]] = 1;
    for (size_t i = 0; i < n; i++) {
        double keep = floor(p[i] * 0x1p32);
        t[i].keep = keep >= 0x1p32 - 1 ? UINT32_MAX : keep <= 0 ? 0 : (uint32_t)keep;
    }
    free(p);
    p = NULL;

    /* One output a draw: r n = column 2^64 + frac; the column is the high
     * word of the product (Lemire), and the top 32 bits of frac, uniform
     * given the column, decide between it and its alias. */
    bl_xoshiro x;
    bl_xoshiro_seed(&x, seed, epoch);
    uint32_t col[ALIAS_BATCH], u[ALIAS_BATCH];
    for (size_t d = 0; d < k; d += ALIAS_BATCH) {
        size_t m = k - d < ALIAS_BATCH ? k - d : ALIAS_BATCH;
        for (size_t j = 0; j < m; j++) {
            unsigned __int128 prod = (unsigned __int128)bl_xoshiro_next(&x) * (uint64_t)n;
            col[j] = (uint32_t)(prod >> 64);
            u[j] = (uint32_t)((uint64_t)prod >> 32);
            __builtin_prefetch(&t[col[j]]);
        }
        for (size_t j = 0; j < m; j++) {
            alias_column c = t[col[j]];
            out[d + j] = u[j] < c.keep ? col[j] : c.alias;
        }
    }
done:
    free(p);
    free(work);
    free(t);
    return rc;
}

static bl_status fast_without_replacement(const double *w, size_t n, size_t k, size_t nonzero,
                                          uint64_t seed, uint64_t epoch, int64_t *out,
                                          bl_error *err)
{
    keyed *v = malloc(nonzero * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    bl_xoshiro x;
    bl_xoshiro_seed(&x, seed, epoch);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == 0)
            continue;
        /* u in (0, 1): never 0 (log) nor 1 (a key of infinity). */
        double u = ((double)(bl_xoshiro_next(&x) >> 11) + 0.5) * 0x1p-53;
        v[m].key = w[i] / -log(u);
        v[m].index = (int64_t)i;
        m++;
    }
    top_k(v, m, k, out);
    free(v);
    return BL_OK;
}

bl_status bl_sample(const double *w, size_t n, size_t k, int replacement, bl_generator gen,
                    uint64_t seed, uint64_t epoch, int64_t *out, bl_error *err)
{
    bl_error_clear(err);
    if ((unsigned)gen >= BL_GENERATOR_COUNT)
        return bl_error_set(err, BL_EINVAL, "generator", -1,
                            "generator %d is not a bl_generator (0 to %d)", (int)gen,
                            BL_GENERATOR_COUNT - 1);
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "weights", -1, "weights is empty: give at least one item");
    if (k == 0)
        return bl_error_set(err, BL_EINVAL, "num_samples", -1, "num_samples must be at least 1");
    if (!w || !out)
        return bl_error_set(err, BL_EINVAL, w ? "out" : "weights", -1, "%s is NULL",
                            w ? "out" : "weights");
    double sum = 0;
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(w[i]) || w[i] < 0)
            return bl_error_set(err, BL_EINVAL, "weights", (int64_t)i,
                                "weights[%zu] = %g: weights must be finite numbers >= 0", i, w[i]);
        sum += w[i];
        nonzero += w[i] > 0;
    }
    if (nonzero == 0)
        return bl_error_set(err, BL_EINVAL, "weights", -1,
                            "the weights sum to 0: at least one must be > 0");
    if (!isfinite(sum))
        return bl_error_set(err, BL_EINVAL, "weights", -1,
                            "the weights' sum overflows a double; scale them down");
    if (!replacement && k > nonzero)
        return bl_error_set(err, BL_EINVAL, "num_samples", -1,
                            "cannot draw %zu samples without replacement from %zu items of "
                            "non-zero weight",
                            k, nonzero);
    if (gen == BL_GENERATOR_TORCH) {
        uint64_t s = seed + epoch; /* mod 2^64 */
        return replacement ? torch_with_replacement(w, n, k, s, out, err)
                           : torch_without_replacement(w, n, k, s, out, err);
    }
    return replacement ? fast_with_replacement(w, n, k, sum, seed, epoch, out, err)
                       : fast_without_replacement(w, n, k, nonzero, seed, epoch, out, err);
}

bl_status bl_shard_size(size_t k, size_t world_size, size_t rank, size_t *per_rank,
                        bl_error *err)
{
    bl_error_clear(err);
    if (world_size == 0)
        return bl_error_set(err, BL_EINVAL, "world_size", -1, "world_size must be at least 1");
    if (rank >= world_size)
        return bl_error_set(err, BL_EINVAL, "rank", -1,
                            "rank = %zu must be in [0, world_size = %zu)", rank, world_size);
    if (!per_rank)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "bl_shard_size needs a place for the size");
    /* ceil(k / world_size), without the overflow of k + world_size - 1 */
    *per_rank = k / world_size + (k % world_size != 0);
    return BL_OK;
}

bl_status bl_shard(const int64_t *draw, size_t k, size_t world_size, size_t rank, int64_t *out,
                   size_t *count, bl_error *err)
{
    size_t per_rank = 0;
    bl_status rc = bl_shard_size(k, world_size, rank, &per_rank, err);
    if (rc != BL_OK)
        return rc;
    if (!count)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "bl_shard needs a place for the count");
    if (k && (!draw || !out))
        return bl_error_set(err, BL_EINVAL, draw ? "out" : "draw", -1, "%s is NULL",
                            draw ? "out" : "draw");
    /* Element (rank + j world_size) mod k of the draw. j world_size < k and
     * r = rank mod k < k, so the sum is below 2k: one subtraction, written
     * so that it cannot overflow either. */
    size_t r = k ? rank % k : 0;
    for (size_t j = 0; j < per_rank; j++) {
        size_t i = j * world_size;
        out[j] = draw[i >= k - r ? i - (k - r) : i + r];
    }
    *count = per_rank;
    return BL_OK;
}
