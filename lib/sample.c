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
 *   Version 1 reads one sequential xoshiro256** stream; version 2 (the
 *   default of bl_sample_opts) reads output i of a counter-based stream for
 *   draw i (with replacement) or item i (without), so that any draw is
 *   computed from its position.
 *
 * Every draw is read through a window (bl_sample_window): the positions
 * (rank + (offset + j) world_size) mod k of the draw, j < count, which is
 * the slice of the rank's share (bl_shard). Sequential streams (torch's
 * MT19937, fast version 1) go from position to position, skipping what lies
 * between; stream "continued" first skips the epochs before (README,
 * "Continued streams and windows").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ballast.h"
#include "rng_internal.h"
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

/* ---- positions ------------------------------------------------------- */

/* The window's j-th index is element offset + j of the rank's share, which
 * is element (rank + (offset + j) world_size) mod k of the draw (bl_shard:
 * (offset + j) world_size < k + world_size, so one subtraction wraps it). */
typedef struct {
    size_t k, ws, r, offset;
} window;

static size_t position(const window *wd, size_t j)
{
    size_t i = (wd->offset + j) * wd->ws;
    return i >= wd->k - wd->r ? i - (wd->k - wd->r) : i + wd->r;
}

/* ---- the random number at a draw position ------------------------------ */

/* Reads a stream at increasing positions, going back to its start (a saved
 * copy) when a position is behind: that happens once at most, where a
 * share wraps round to the start of the draw. */
typedef struct {
    bl_mt19937 mt, mt_start; /* torch */
    bl_xoshiro x, x_start;   /* fast 1 */
    bl_counter c;            /* fast 2 */
    uint64_t at;             /* the next position the sequential engines give */
} cursor;

/* torch: the uniform of draw p (two outputs each). */
static double torch_uniform_at(cursor *cu, uint64_t p)
{
    if (p < cu->at) {
        cu->mt = cu->mt_start;
        cu->at = 0;
    }
    bl_mt19937_skip(&cu->mt, 2 * (p - cu->at));
    cu->at = p + 1;
    return bl_mt19937_uniform(&cu->mt);
}

/* fast: the 64-bit output of draw p. */
static uint64_t fast_output_at(cursor *cu, int version, uint64_t p)
{
    if (version >= 2)
        return blp_counter_at(&cu->c, p);
    if (p < cu->at) {
        cu->x = cu->x_start;
        cu->at = 0;
    }
    for (; cu->at < p; cu->at++)
        bl_xoshiro_next(&cu->x);
    cu->at = p + 1;
    return bl_xoshiro_next(&cu->x);
}

/* torch's generator for the epoch: seeded with seed + epoch (per_epoch), or
 * with seed and advanced past the epochs before (continued), each of which
 * read `per_draw` uniforms. */
static void torch_start(bl_mt19937 *mt, const bl_sample_opts *o, uint64_t per_draw)
{
    if (o->stream == BL_STREAM_CONTINUED) {
        bl_mt19937_seed(mt, o->seed);
        uint64_t e = o->epoch;
        /* 2 e per_draw outputs, skipped in pieces that cannot overflow */
        while (e) {
            uint64_t step =
                per_draw && e > UINT64_MAX / 2 / per_draw ? UINT64_MAX / 2 / per_draw : e;
            bl_mt19937_skip(mt, 2 * step * per_draw);
            e -= step;
        }
    } else {
        bl_mt19937_seed(mt, o->seed + o->epoch); /* mod 2^64 */
    }
}

/* ---- with replacement -------------------------------------------------- */

static bl_status torch_with_replacement(const double *w, size_t n, size_t k,
                                        const bl_sample_opts *o, const window *wd, size_t len,
                                        int64_t *out, bl_error *err)
{
    double *cum = malloc(n * sizeof *cum);
    cursor *cu = malloc(sizeof *cu);
    if (!cum || !cu) {
        free(cum);
        free(cu);
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    }
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        sum += w[j];
        cum[j] = sum;
    }
    for (size_t j = 0; j < n; j++)
        cum[j] /= sum;
    cum[n - 1] = 1;
    torch_start(&cu->mt, o, k);
    cu->mt_start = cu->mt;
    cu->at = 0;
    for (size_t d = 0; d < len; d++) {
        double u = torch_uniform_at(cu, position(wd, d));
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
    free(cu);
    return BL_OK;
}

/* One column of the alias table, 8 bytes so that a draw touches one cache
 * line and the table stays small: the column keeps its own index with
 * probability keep / 2^32 and gives the draw to alias otherwise. */
typedef struct {
    uint32_t keep;
    uint32_t alias;
} alias_column;

/* The table is built in the memory of the probabilities it is built from:
 * cell i holds p_i (a double) until column i is final, then the column. */
typedef union {
    double p;
    alias_column c;
} alias_cell;
_Static_assert(sizeof(alias_cell) == sizeof(double), "a cell is a weight's 8 bytes");

/* Draws are made in batches: the columns of a batch are computed first and
 * prefetched, so the table's cache misses overlap instead of queueing. */
#define ALIAS_BATCH 64

/* floor(p 2^32) in [0, 2^32 - 1]: p 2^32 is exact (a power of two), and
 * for a positive value below 2^32 the conversion's truncation is floor. */
static inline uint32_t keep_bits(double p)
{
    double keep = p * 0x1p32;
    return keep >= 0x1p32 - 1 ? UINT32_MAX : keep <= 0 ? 0 : (uint32_t)keep;
}

#define NONE SIZE_MAX

/* A column that keeps its own index whatever the draw. */
static inline void keep_whole(alias_cell *t, size_t x)
{
    t[x].c.keep = UINT32_MAX;
    t[x].c.alias = (uint32_t)x;
}

/* The highest i < from with bit i of b equal to `set`, or NONE. */
static size_t bit_below(const uint64_t *b, size_t from, int set)
{
    while (from) {
        size_t i = from - 1, wi = i / 64;
        uint64_t word = set ? b[wi] : ~b[wi];
        word &= ~UINT64_C(0) >> (63 - i % 64); /* bits 0 .. i % 64 */
        if (word)
            return wi * 64 + 63 - (size_t)__builtin_clzll(word);
        from = wi * 64;
    }
    return NONE;
}

/*
 * Vose's alias method over p_i = w_i n / sum, in doubles; the keep
 * probabilities rounded down to 32-bit fixed point. t: n cells, which may
 * be w's own memory (t[i] is written after w[i] is read).
 *
 * Vose keeps a stack of the small (p < 1) and one of the large columns,
 * each pushed in index order; a draw pairs the small on top with the large
 * on top, and a large that falls below 1 moves to the top of the small
 * stack. Here the stacks are not kept: the originally small columns are
 * read from the top down (`i`), the originally large ones too (`j`), and a
 * large that falls below 1 is paired at once (`pend`), which is the order
 * the stacks give, so that the table is the same to the bit. A bitmap of
 * the originally small columns (n / 8 bytes) is all it needs beside t.
 */
static bl_status alias_build(const double *w, size_t n, double sum, alias_cell *t, bl_error *err)
{
    uint64_t *small = calloc(n / 64 + 1, sizeof *small);
    if (!small)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    /* w / sum first: n / sum overflows for sums below n / DBL_MAX (tiny or
     * subnormal weights), and 0 * inf would be NaN. Branch-free loops, so
     * that they vectorise (in place, p and w are one array). */
    double dn = (double)n, *p = &t[0].p;
    if ((const void *)w == (void *)t)
        for (size_t i = 0; i < n; i++)
            p[i] = p[i] > 0 ? p[i] / sum * dn : 0;
    else
        for (size_t i = 0; i < n; i++)
            p[i] = w[i] > 0 ? w[i] / sum * dn : 0;
    for (size_t b = 0; b < n; b += 64) {
        size_t m = n - b < 64 ? n - b : 64;
        uint64_t word = 0;
        for (size_t i = 0; i < m; i++)
            word |= (uint64_t)(p[b + i] < 1) << i;
        small[b / 64] = word;
    }
    size_t i = n, j = bit_below(small, n, 0), pend = NONE;
    while (j != NONE) {
        size_t s = pend;
        if (s == NONE) {
            s = bit_below(small, i, 1);
            if (s == NONE) {
                i = 0;
                break;
            }
            i = s;
        }
        pend = NONE;
        double ps = t[s].p;
        t[s].c.keep = keep_bits(ps);
        t[s].c.alias = (uint32_t)j;
        t[j].p -= 1 - ps;
        if (t[j].p < 1) {
            pend = j;
            j = bit_below(small, j, 0);
        }
    }
    /* What is left is 1 up to rounding: the column keeps itself. Left are
     * pend, the small columns below i and the large ones from j down. */
    if (pend != NONE)
        keep_whole(t, pend);
    for (size_t x = bit_below(small, i, 1); x != NONE; x = bit_below(small, x, 1))
        keep_whole(t, x);
    for (size_t x = j; x != NONE; x = bit_below(small, x, 0))
        keep_whole(t, x);
    free(small);
    return BL_OK;
}

/* The draws from a built table t of n columns. */
static void alias_draw(const alias_cell *t, size_t n, const bl_sample_opts *o, const window *wd,
                       size_t len, int64_t *out)
{
    cursor cu;
    bl_xoshiro_seed(&cu.x, o->seed, o->epoch);
    cu.x_start = cu.x;
    bl_counter_seed(&cu.c, o->seed, o->epoch);
    cu.at = 0;
    /* One output a draw: r n = column 2^64 + frac; the column is the high
     * word of the product (Lemire), and the top 32 bits of frac, uniform
     * given the column, decide between it and its alias. */
    uint32_t col[ALIAS_BATCH], u[ALIAS_BATCH];
    for (size_t d = 0; d < len; d += ALIAS_BATCH) {
        size_t m = len - d < ALIAS_BATCH ? len - d : ALIAS_BATCH;
        for (size_t j = 0; j < m; j++) {
            uint64_t r = fast_output_at(&cu, o->fast_version, position(wd, d + j));
            unsigned __int128 prod = (unsigned __int128)r * (uint64_t)n;
            col[j] = (uint32_t)(prod >> 64);
            u[j] = (uint32_t)((uint64_t)prod >> 32);
            __builtin_prefetch(&t[col[j]]);
        }
        for (size_t j = 0; j < m; j++) {
            alias_column c = t[col[j]].c;
            out[d + j] = u[j] < c.keep ? col[j] : c.alias;
        }
    }
}

/* scratch: NULL, or w itself when the caller lets the table overwrite it. */
static bl_status fast_with_replacement(const double *w, double *scratch, size_t n, double sum,
                                       const bl_sample_opts *o, const window *wd, size_t len,
                                       int64_t *out, bl_error *err)
{
    if ((uint64_t)n > UINT32_MAX)
        return bl_error_set(err, BL_ELIMIT, "weights", -1,
                            "the fast generator draws from at most 2^32 - 1 items, not %zu", n);
    alias_cell *t = scratch ? (alias_cell *)(void *)scratch : malloc(n * sizeof *t);
    if (!t)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    bl_status rc = alias_build(w, n, sum, t, err);
    if (rc == BL_OK)
        alias_draw(t, n, o, wd, len, out);
    if (!scratch)
        free(t);
    return rc;
}

/* ---- without replacement ----------------------------------------------- */

/* torch.multinomial(w, k, replacement=False) of PyTorch 1.13: keys w_i / q_i
 * with q_i ~ Exp(1), then at::argmax for k = 1 and at::topk for k > 1; the
 * window is read from the k in topk's order. */
static bl_status torch_without_replacement(const double *w, size_t n, size_t k,
                                           const bl_sample_opts *o, const window *wd, size_t len,
                                           int64_t *out, bl_error *err)
{
    keyed *v = malloc(n * sizeof *v);
    bl_mt19937 *mt = malloc(sizeof *mt);
    if (!v || !mt) {
        free(v);
        free(mt);
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    }
    torch_start(mt, o, n);
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        double q = -log(1.0 - bl_mt19937_uniform(mt));
        v[i].key = w[i] / q;
        v[i].index = (int64_t)i;
        if (isnan(v[i].key)) /* 0 / 0 (probability 2^-53): never chosen */
            v[i].key = -1;
        if (v[i].key > v[best].key) /* argmax: the first of equal maxima */
            best = i;
    }
    if (k == 1) {
        v[0].index = (int64_t)best;
    } else {
        blp_torch_topk(v, n, k);
    }
    for (size_t j = 0; j < len; j++)
        out[j] = v[position(wd, j)].index;
    free(v);
    free(mt);
    return BL_OK;
}

/* The fast keys key_i = w_i / -log(u_i), u_i in (0, 1) (never 0, for the
 * log, nor 1, for a key of infinity), for the non-zero weights in index
 * order: version 1 reads u from one xoshiro stream, one output per non-zero
 * weight; version 2 from output i of the counter stream for item i. */
static void fast_keys(const double *w, size_t n, const bl_sample_opts *o, keyed *v)
{
    bl_xoshiro x;
    bl_counter c;
    bl_xoshiro_seed(&x, o->seed, o->epoch);
    bl_counter_seed(&c, o->seed, o->epoch);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == 0)
            continue;
        uint64_t r = o->fast_version >= 2 ? bl_counter_at(&c, i) : bl_xoshiro_next(&x);
        double u = ((double)(r >> 11) + 0.5) * 0x1p-53;
        v[m].key = w[i] / -log(u);
        v[m].index = (int64_t)i;
        m++;
    }
}

/* The draw is the k largest keys in keyed order; the window needs its
 * positions [lo, hi) only: the hi first are selected, of those the lo
 * first, and [lo, hi) sorted. */
static bl_status fast_without_replacement(const double *w, size_t n, size_t nonzero,
                                          const bl_sample_opts *o, const window *wd, size_t len,
                                          int64_t *out, bl_error *err)
{
    keyed *v = malloc(nonzero * sizeof *v);
    if (!v)
        return bl_error_set(err, BL_ENOMEM, NULL, -1, "out of memory for %zu weights", n);
    fast_keys(w, n, o, v);
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t j = 0; j < len; j++) {
        size_t p = position(wd, j);
        lo = p < lo ? p : lo;
        hi = p + 1 > hi ? p + 1 : hi;
    }
    if (len) {
        if (hi < nonzero)
            select_first(v, nonzero, hi);
        if (lo > 0)
            select_first(v, hi, lo);
        qsort(v + lo, hi - lo, sizeof *v, keyed_cmp);
    }
    for (size_t j = 0; j < len; j++)
        out[j] = v[position(wd, j)].index;
    free(v);
    return BL_OK;
}

/* ---- the doors ----------------------------------------------------------- */

bl_sample_opts bl_sample_opts_default(void)
{
    bl_sample_opts o = {1, BL_GENERATOR_FAST, BL_STREAM_PER_EPOCH, BL_FAST_VERSION, 0, 0, 1, 0,
                        0, SIZE_MAX};
    return o;
}

static bl_status check_opts(const bl_sample_opts *o, bl_error *err)
{
    if (!o)
        return bl_error_set(err, BL_EINVAL, NULL, -1, "the sampling options are NULL");
    if (o->replacement != 0 && o->replacement != 1)
        return bl_error_set(err, BL_EINVAL, "replacement", -1, "replacement is %d, not 0 or 1",
                            o->replacement);
    if ((unsigned)o->generator >= BL_GENERATOR_COUNT)
        return bl_error_set(err, BL_EINVAL, "generator", -1,
                            "generator %d is not a bl_generator (0 to %d)", (int)o->generator,
                            BL_GENERATOR_COUNT - 1);
    if ((unsigned)o->stream >= BL_STREAM_COUNT)
        return bl_error_set(err, BL_EINVAL, "stream", -1, "stream %d is not a bl_stream (0 to %d)",
                            (int)o->stream, BL_STREAM_COUNT - 1);
    if (o->fast_version < 1 || o->fast_version > BL_FAST_VERSION)
        return bl_error_set(err, BL_EINVAL, "fast_version", -1,
                            "fast_version = %d: the fast stream has versions 1 to %d",
                            o->fast_version, BL_FAST_VERSION);
    if (o->stream == BL_STREAM_CONTINUED && o->generator != BL_GENERATOR_TORCH)
        return bl_error_set(err, BL_EINVAL, "stream", -1,
                            "stream \"continued\" carries PyTorch's generator from epoch to "
                            "epoch and needs generator \"torch\"; the fast stream has no state "
                            "to carry (every epoch is keyed by seed and epoch)");
    return BL_OK;
}

bl_status bl_sample_window_size(size_t k, const bl_sample_opts *o, size_t *len, bl_error *err)
{
    bl_error_clear(err);
    bl_status rc = check_opts(o, err);
    if (rc != BL_OK)
        return rc;
    if (!len)
        return bl_error_set(err, BL_EINVAL, NULL, -1,
                            "bl_sample_window_size needs a place for the size");
    size_t share = 0;
    rc = bl_shard_size(k, o->world_size, o->rank, &share, err);
    if (rc != BL_OK)
        return rc;
    if (o->offset > share)
        return bl_error_set(err, BL_EINVAL, "offset", -1,
                            "offset = %zu is past the end of the %zu indices of this draw%s",
                            o->offset, share, o->world_size > 1 ? " (this rank's share)" : "");
    size_t rest = share - o->offset;
    *len = o->count < rest ? o->count : rest;
    return BL_OK;
}

uint64_t bl_sample_replay(size_t n, size_t k, const bl_sample_opts *o)
{
    if (!o || o->stream != BL_STREAM_CONTINUED || o->generator != BL_GENERATOR_TORCH)
        return 0;
    uint64_t per = o->replacement ? (uint64_t)k : (uint64_t)n;
    return per && o->epoch > UINT64_MAX / per ? UINT64_MAX : o->epoch * per;
}

/* The checks shared by every door: weights, k against them. */
static bl_status check_weights(const double *w, size_t n, size_t k, int replacement,
                               double *sum_out, size_t *nonzero_out, bl_error *err)
{
    if (n == 0)
        return bl_error_set(err, BL_EINVAL, "weights", -1,
                            "weights is empty: give at least one item");
    if (k == 0)
        return bl_error_set(err, BL_EINVAL, "num_samples", -1, "num_samples must be at least 1");
    if (!w)
        return bl_error_set(err, BL_EINVAL, "weights", -1, "weights is NULL");
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
    *sum_out = sum;
    *nonzero_out = nonzero;
    return BL_OK;
}

static bl_status sample_window(const double *w, double *scratch, size_t n, size_t k,
                               const bl_sample_opts *o, int64_t *out, size_t *len, bl_error *err)
{
    bl_error_clear(err);
    size_t m = 0;
    bl_status rc = bl_sample_window_size(k, o, &m, err);
    if (rc != BL_OK)
        return rc;
    double sum = 0;
    size_t nonzero = 0;
    rc = check_weights(w, n, k, o->replacement, &sum, &nonzero, err);
    if (rc != BL_OK)
        return rc;
    if (m && !out)
        return bl_error_set(err, BL_EINVAL, "out", -1, "out is NULL");
    window wd = {k, o->world_size, o->rank % k, o->offset};
    if (o->generator == BL_GENERATOR_TORCH)
        rc = o->replacement ? torch_with_replacement(w, n, k, o, &wd, m, out, err)
                            : torch_without_replacement(w, n, k, o, &wd, m, out, err);
    else
        rc = o->replacement ? fast_with_replacement(w, scratch, n, sum, o, &wd, m, out, err)
                            : fast_without_replacement(w, n, nonzero, o, &wd, m, out, err);
    if (rc == BL_OK && len)
        *len = m;
    return rc;
}

bl_status bl_sample_window(const double *w, size_t n, size_t k, const bl_sample_opts *o,
                           int64_t *out, size_t *len, bl_error *err)
{
    return sample_window(w, NULL, n, k, o, out, len, err);
}

bl_status bl_sample_window_inplace(double *w, size_t n, size_t k, const bl_sample_opts *o,
                                   int64_t *out, size_t *len, bl_error *err)
{
    return sample_window(w, w, n, k, o, out, len, err);
}

bl_status bl_sample(const double *w, size_t n, size_t k, int replacement, bl_generator gen,
                    uint64_t seed, uint64_t epoch, int64_t *out, bl_error *err)
{
    bl_error_clear(err);
    if ((unsigned)gen >= BL_GENERATOR_COUNT)
        return bl_error_set(err, BL_EINVAL, "generator", -1,
                            "generator %d is not a bl_generator (0 to %d)", (int)gen,
                            BL_GENERATOR_COUNT - 1);
    double sum = 0;
    size_t nonzero = 0;
    bl_status rc = check_weights(w, n, k, replacement, &sum, &nonzero, err);
    if (rc != BL_OK)
        return rc;
    if (!out)
        return bl_error_set(err, BL_EINVAL, "out", -1, "out is NULL");
    bl_sample_opts o = bl_sample_opts_default();
    o.replacement = replacement != 0;
    o.generator = gen;
    o.fast_version = 1;
    o.seed = seed;
    o.epoch = epoch;
    return bl_sample_window(w, n, k, &o, out, NULL, err);
}

bl_status bl_shard_size(size_t k, size_t world_size, size_t rank, size_t *per_rank, bl_error *err)
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
