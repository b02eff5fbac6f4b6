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
 *   index order, keys w_i / q_i, and the k largest keys in descending order
 *   (ties: lower index first).
 *
 * fast: ballast's own stream (README, "The fast stream"), xoshiro256**.
 *   With replacement, Vose's alias table: O(n) to build, then per draw one
 *   output picks a column i (Lemire's multiply-high; bias < n / 2^64) and a
 *   second a 53-bit uniform u; the draw is i if u < prob[i], else alias[i].
 *   Without replacement, exponential keys (Efraimidis & Spirakis 2006):
 *   key_i = w_i / -log(u_i), u_i in (0, 1), for the non-zero weights in index
 *   order; quickselect of the k largest in O(n), sorted in O(k log k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"

typedef struct {
    double key;
    int64_t index;
} keyed;

/* Descending key, then ascending index: a total order, so the selection is
 * deterministic whatever the sort algorithm. */
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

/* The k largest keys of v[0..n) in order, written as indices to out. */
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

static bl_status torch_without_replacement(const double *w, size_t n, size_t k, uint64_t seed,
                                           int64_t *out, bl_error *err)
{
    keyed *v = malloc(n * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    bl_mt19937 mt;
    bl_mt19937_seed(&mt, seed);
    for (size_t i = 0; i < n; i++) {
        double q = -log(1.0 - bl_mt19937_uniform(&mt));
        v[i].key = w[i] / q;
        v[i].index = (int64_t)i;
        if (isnan(v[i].key)) /* 0 / 0 (probability 2^-53): never chosen */
            v[i].key = -1;
    }
    top_k(v, n, k, out);
    free(v);
    return BL_OK;
}

/* Lemire's multiply-high: an index in [0, n) from 64 random bits. */
static inline size_t bounded(uint64_t r, size_t n)
{
    return (size_t)(((unsigned __int128)r * (uint64_t)n) >> 64);
}

static bl_status fast_with_replacement(const double *w, size_t n, size_t k, double sum,
                                       uint64_t seed, uint64_t epoch, int64_t *out, bl_error *err)
{
    /* Vose's alias method. prob[i] is column i's chance of keeping its own
     * index; the rest of the column belongs to alias[i]. */
    double *prob = malloc(n * sizeof *prob);
    size_t *alias = malloc(n * sizeof *alias);
    size_t *work = malloc(n * sizeof *work); /* small from the front, large from the back */
    bl_status rc = BL_OK;
    if (!prob || !alias || !work) {
        rc = bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
        goto done;
    }
    double scale = (double)n / sum;
    size_t nsmall = 0, nlarge = 0;
    for (size_t i = 0; i < n; i++) {
        prob[i] = w[i] * scale;
        alias[i] = i;
        if (prob[i] < 1)
            work[nsmall++] = i;
        else
            work[n - 1 - nlarge++] = i;
    }
    while (nsmall && nlarge) {
        size_t s = work[--nsmall];
        size_t l = work[n - nlarge]; /* the large most recently pushed */
        alias[s] = l;
        prob[l] -= 1 - prob[s];
        if (prob[l] < 1) {
            nlarge--;
            work[nsmall++] = l;
        }
    }
    /* What is left is 1 up to rounding. */
    while (nlarge)
        prob[work[n - nlarge--]] = 1;
    while (nsmall)
        prob[work[--nsmall]] = 1;

    bl_xoshiro x;
    bl_xoshiro_seed(&x, seed, epoch);
    for (size_t d = 0; d < k; d++) {
        size_t i = bounded(bl_xoshiro_next(&x), n);
        double u = bl_xoshiro_uniform(&x);
        out[d] = (int64_t)(u < prob[i] ? i : alias[i]);
    }
done:
    free(prob);
    free(alias);
    free(work);
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
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "weights", -1, "weights is empty: give at least one item");
    if (k == 0)
        return bl_error_set(err, BL_EINVAL, "num_samples", -1, "num_samples must be at least 1");
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

size_t bl_shard(const int64_t *draw, size_t k, size_t world_size, size_t rank, int64_t *out)
{
    size_t per_rank = (k + world_size - 1) / world_size;
    for (size_t j = 0; j < per_rank; j++)
        out[j] = draw[(rank + j * world_size) % k];
    return per_rank;
}
