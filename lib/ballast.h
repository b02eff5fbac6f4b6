/*
 * ballast.h — libballast, the stateless core of ballast.
 *
 * Class weights from class counts, weighted sampling (a fast alias-table
 * generator and a bit-exact replica of PyTorch's CPU torch.multinomial), and
 * the classification losses of PyTorch with their gradients.
 *
 * Conventions, for every function here:
 *   - plain arrays in, caller-owned arrays out; the library allocates only
 *     scratch memory, which it frees before returning;
 *   - no globals, no I/O, no locale: every function is thread-safe;
 *   - a function returns BL_OK (0) or an error code, and fills *err (when err
 *     is not NULL) with a message a user can act on, the name of the argument
 *     at fault and, where there is one, the flat index of the offending
 *     element. On error the output arrays are left in an unspecified state.
 *     A value outside its enum, a NULL array that should hold data and an
 *     out-of-range argument are all BL_EINVAL; only the functions documented
 *     "Can't fail" have no error to return;
 *   - every enum has BL_<ENUM>_COUNT values, numbered from 0, and a name
 *     table (the names of the HTTP API): bl_<enum>_names[] (indexed by the
 *     value, NULL-terminated), bl_<enum>_name(value) and
 *     bl_<enum>_from_name(name, &value, err).
 */
#ifndef BALLAST_H
#define BALLAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BL_VERSION "0.1.0"

typedef enum {
    BL_OK = 0,
    BL_EINVAL = 1, /* bad argument: type, shape, range or combination */
    BL_ENOMEM = 2, /* scratch allocation failed */
    BL_ELIMIT = 3, /* the work asked for is over a caller-given limit */
} bl_status;

typedef struct {
    bl_status code;
    const char *arg; /* argument at fault ("counts", "targets"), or NULL */
    int64_t index;   /* flat element index within arg, or -1 */
    char message[256];
} bl_error;

/* Resets *err to "no error". Can't fail; err may be NULL. */
void bl_error_clear(bl_error *err);

/* Fills *err (if not NULL) and returns code. printf-style message. */
bl_status bl_error_set(bl_error *err, bl_status code, const char *arg, int64_t index,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* ------------------------------------------------------------------ */
/* Class weights                                                       */
/* ------------------------------------------------------------------ */

typedef enum {
    BL_SCHEME_MAX_OVER_COUNT = 0, /* max(n) / n_c                        */
    BL_SCHEME_INVERSE,            /* 1 / n_c                             */
    BL_SCHEME_BALANCED,           /* N / (C n_c)   (sklearn "balanced")  */
    BL_SCHEME_INVERSE_SQRT,       /* 1 / sqrt(n_c)                       */
    BL_SCHEME_EFFECTIVE_NUMBER,   /* (1 - beta) / (1 - beta^n_c)         */
    BL_SCHEME_MEDIAN_FREQUENCY,   /* median(f) / f_c, f_c = n_c / N      */
    BL_SCHEME_ENET,               /* 1 / ln(c + n_c / N)                 */
    BL_SCHEME_POWER = 7,          /* n_c^-q                              */
    BL_SCHEME_REPEAT_FACTOR = 8,  /* max(1, sqrt(t / f_c)): multi-label  */
} bl_scheme;
#define BL_SCHEME_COUNT 9

/* "max_over_count", "inverse", "balanced", "inverse_sqrt",
 * "effective_number", "median_frequency", "enet", "power",
 * "repeat_factor"; then NULL. */
extern const char *const bl_scheme_names[BL_SCHEME_COUNT + 1];
/* The name of s, or NULL when s is not a bl_scheme. Can't fail. */
const char *bl_scheme_name(bl_scheme s);
/* The scheme called name (exact, case-sensitive). An unknown name (or NULL)
 * is BL_EINVAL naming "scheme", with the list of names. */
bl_status bl_scheme_from_name(const char *name, bl_scheme *out, bl_error *err);

typedef enum {
    BL_NORMALIZE_NONE = 0,
    BL_NORMALIZE_SUM,  /* sum w = 1 */
    BL_NORMALIZE_MEAN, /* mean w = 1, i.e. sum w = C */
    BL_NORMALIZE_MAX,  /* max w = 1 */
} bl_normalize;
#define BL_NORMALIZE_COUNT 4

/* "none", "sum", "mean", "max"; then NULL. */
extern const char *const bl_normalize_names[BL_NORMALIZE_COUNT + 1];
const char *bl_normalize_name(bl_normalize v);
bl_status bl_normalize_from_name(const char *name, bl_normalize *out, bl_error *err);

typedef struct {
    bl_scheme scheme;
    double beta;      /* effective_number: in [0, 1)  */
    double c;         /* enet: > 1                    */
    double exponent;  /* power: q in [0, 64]          */
    double threshold; /* repeat_factor: t in [0, 1]   */
    bl_normalize normalize;
    int zero_counts_allowed; /* 0: a zero count is an error; 1: weight 0 */
} bl_weights_opts;

/* Default options: max_over_count, beta 0.999, c 1.02, exponent 1,
 * threshold 0.001, no normalisation, zero counts refused. Can't fail. */
bl_weights_opts bl_weights_opts_default(void);

/*
 * Class weights from class counts: out[c] for c in [0, n).
 * counts must be finite and >= 0, with at least one > 0. With
 * zero_counts_allowed, classes of count 0 get weight 0 and are left out of
 * C, N, medians, maxima and normalisation. Errors name "counts", "scheme",
 * "normalize", "beta", "c" or "exponent" (BL_ENOMEM: median_frequency's
 * scratch copy). repeat_factor is refused ("scheme"): it needs the number of
 * images besides the counts (bl_multilabel_weights).
 * power with exponent 1 is inverse and with 0.5 inverse_sqrt, bit for bit.
 * out may alias counts.
 * Every weight is the exact value of its formula on the double inputs up to
 * a few roundings (a few ulp): no intermediate value (N, C n_c, a
 * frequency, n_c ln beta, a sum of weights) overflows or underflows, so a
 * weight is inf only when its exact value is beyond DBL_MAX, and
 * normalisation never fails.
 */
bl_status bl_class_weights(const double *counts, size_t n, const bl_weights_opts *opts, double *out,
                           bl_error *err);

/*
 * Counts per class from labels: counts[c] = #{i : labels[i] == c}, for c in
 * [0, num_classes). A label < 0 or >= num_classes is an error naming
 * "labels" and its index. counts must have num_classes entries.
 */
bl_status bl_count_labels(const int64_t *labels, size_t n, size_t num_classes, double *counts,
                          bl_error *err);

/*
 * Per-sample weights from class weights: out[i] = class_weights[labels[i]]
 * (the weights a WeightedRandomSampler is given for labels). A label < 0 or
 * >= num_classes is an error naming "labels" and its index. out has n
 * entries.
 */
bl_status bl_label_weights(const double *class_weights, size_t num_classes, const int64_t *labels,
                           size_t n, double *out, bl_error *err);

/*
 * Checks labels (one class id per sample) and gives the number of classes
 * they span: *classes = max(labels) + 1. labels must be non-empty and every
 * label >= 0; with num_classes > 0, also < num_classes (num_classes 0: no
 * upper bound). Errors name "labels" and the index of the first bad label.
 */
bl_status bl_label_classes(const int64_t *labels, size_t n, size_t num_classes, size_t *classes,
                           bl_error *err);

/* ------------------------------------------------------------------ */
/* Multi-label class weights                                           */
/* ------------------------------------------------------------------ */
/*
 * Multi-label data is held as label sets: sample i has the classes
 * ids[offsets[i]] .. ids[offsets[i + 1] - 1] (offsets has n + 1 entries,
 * offsets[0] = 0). n_pos[c], the positives of class c, is the number of
 * samples whose set holds c; N = n is the number of samples.
 */

typedef enum {
    BL_SAMPLE_REDUCE_MAX = 0, /* a sample weighs its heaviest class's weight */
    BL_SAMPLE_REDUCE_MEAN,    /* the mean weight of its classes             */
} bl_sample_reduce;
#define BL_SAMPLE_REDUCE_COUNT 2

/* "max", "mean"; then NULL. Errors name "sample_weight_reduce". */
extern const char *const bl_sample_reduce_names[BL_SAMPLE_REDUCE_COUNT + 1];
const char *bl_sample_reduce_name(bl_sample_reduce r);
bl_status bl_sample_reduce_from_name(const char *name, bl_sample_reduce *out, bl_error *err);

/*
 * The label sets of an N x C 0/1 matrix (row-major, n rows of num_classes):
 * sample i holds class j when matrix[i C + j] = 1. Writes offsets (n + 1
 * entries) and, when ids is not NULL, the class ids (offsets[n] of them, in
 * increasing order in each set); call it once with ids NULL to learn
 * offsets[n]. An entry other than 0 or 1 is BL_EINVAL naming "labels" and its
 * flat index; so is n = 0 or num_classes = 0.
 */
bl_status bl_label_matrix_sets(const double *matrix, size_t n, size_t num_classes, size_t *offsets,
                               int64_t *ids, bl_error *err);

/*
 * Checks label sets and puts them in canonical form, in place: every id in
 * [0, num_classes) (num_classes 0: no upper bound), each set sorted with
 * its repeats removed (a class occurs in a set at most once; offsets are
 * rewritten). *classes gets num_classes, or max(id) + 1 when it is 0.
 * Errors name "label_sets" with the flat index into ids of the first bad
 * id (before any rewriting: nothing is changed on error), or "offsets";
 * n = 0, and every set empty without num_classes, are errors too.
 */
bl_status bl_label_sets_normalize(int64_t *ids, size_t *offsets, size_t n, size_t num_classes,
                                  size_t *classes, bl_error *err);

/*
 * Class weights of multi-label data, from canonical label sets (see
 * bl_label_sets_normalize; anything else is BL_EINVAL naming "label_sets"):
 *   positives[c]  = n_pos[c];
 *   pos_weight[c] = (N - n_pos[c]) / n_pos[c], the pos_weight of PyTorch's
 *                   BCEWithLogitsLoss (may be NULL);
 *   weights[c]    = opts' scheme applied to the positives as counts
 *                   (bl_class_weights), or for repeat_factor
 *                   r_c = max(1, sqrt(t / f_c)), f_c = n_pos[c] / N (LVIS,
 *                   Gupta et al. 2019), not normalised.
 * A class without positives is refused (BL_EINVAL naming "positives" and the
 * class) unless opts->zero_counts_allowed: then its weight and pos_weight
 * are 0. Errors as bl_class_weights', and "threshold" (outside [0, 1]) and
 * "normalize" (not none with repeat_factor).
 */
bl_status bl_multilabel_weights(const int64_t *ids, const size_t *offsets, size_t n,
                                size_t num_classes, const bl_weights_opts *opts, double *positives,
                                double *weights, double *pos_weight, bl_error *err);

/*
 * Per sample, the maximum or the mean of its classes' weights; a sample
 * without classes gets the smallest weight of the classes that have
 * positives (positives[c] > 0). Label sets canonical, as above. out has n
 * entries. Errors name "label_sets", "weights", "positives" or
 * "sample_weight_reduce".
 */
bl_status bl_multilabel_sample_weights(const int64_t *ids, const size_t *offsets, size_t n,
                                       const double *weights, const double *positives,
                                       size_t num_classes, bl_sample_reduce reduce, double *out,
                                       bl_error *err);

/*
 * Repeat factors per image (LVIS; detectron2's RepeatFactorTrainingSampler):
 * out[i] = max over the classes c of image i of class_factors[c] (the r_c of
 * bl_multilabel_weights), 1 for an image without classes. Label sets as
 * above. Errors name "label_sets" or "class_factors".
 */
bl_status bl_repeat_factors(const int64_t *ids, const size_t *offsets, size_t n,
                            const double *class_factors, size_t num_classes, double *out,
                            bl_error *err);

/* ------------------------------------------------------------------ */
/* Random numbers                                                      */
/* ------------------------------------------------------------------ */

/* MT19937 as PyTorch's CPU generator uses it. */
typedef struct {
    uint32_t state[624];
    int next;
} bl_mt19937;

/* Seeds like torch.Generator().manual_seed(seed): only the low 32 bits of
 * seed are used (init_genrand). Can't fail. */
void bl_mt19937_seed(bl_mt19937 *mt, uint64_t seed);
/* The next 32-bit output. Can't fail. */
uint32_t bl_mt19937_next(bl_mt19937 *mt);
/* PyTorch's uniform double in [0, 1): two outputs a, b make (a << 32 | b),
 * whose low 53 bits are scaled by 2^-53. Can't fail. */
double bl_mt19937_uniform(bl_mt19937 *mt);
/* Advances the generator by `outputs` 32-bit outputs without computing
 * them (one uniform is two outputs): the state is where `outputs` calls of
 * bl_mt19937_next would leave it, at the cost of one twist per 624. Can't
 * fail. */
void bl_mt19937_skip(bl_mt19937 *mt, uint64_t outputs);

/* The fast generator's engine: xoshiro256**, seeded by SplitMix64. */
typedef struct {
    uint64_t s[4];
} bl_xoshiro;

/* Seeds the fast stream for (seed, epoch); see README "The fast stream".
 * Can't fail. */
void bl_xoshiro_seed(bl_xoshiro *x, uint64_t seed, uint64_t epoch);
uint64_t bl_xoshiro_next(bl_xoshiro *x);
/* A double in [0, 1) from the top 53 bits of one output. Can't fail. */
double bl_xoshiro_uniform(bl_xoshiro *x);

/* The fast generator's engine from fast_version 2 on: a counter-based
 * stream, output i a function of (seed, epoch, i) alone (README, "The fast
 * stream"). */
typedef struct {
    uint64_t k0, k1;
} bl_counter;

/* The key of the stream (seed, epoch). Can't fail. */
void bl_counter_seed(bl_counter *c, uint64_t seed, uint64_t epoch);
/* Output i of the stream. Can't fail. */
uint64_t bl_counter_at(const bl_counter *c, uint64_t i);

/* ------------------------------------------------------------------ */
/* Weighted sampling                                                   */
/* ------------------------------------------------------------------ */

typedef enum {
    BL_GENERATOR_FAST = 0,  /* alias table / exponential keys, xoshiro */
    BL_GENERATOR_TORCH = 1, /* torch.multinomial on CPU, PyTorch 1.13  */
} bl_generator;
#define BL_GENERATOR_COUNT 2

/* "fast", "torch"; then NULL. */
extern const char *const bl_generator_names[BL_GENERATOR_COUNT + 1];
const char *bl_generator_name(bl_generator g);
bl_status bl_generator_from_name(const char *name, bl_generator *out, bl_error *err);

/*
 * Draws k indices in [0, n) with probability proportional to w.
 * w: finite, >= 0, sum > 0. Without replacement k must not exceed the number
 * of non-zero weights. The torch generator uses the seed (seed + epoch) mod
 * 2^64 like torch.Generator().manual_seed; the fast one seeds from (seed,
 * epoch). out must hold k indices. Errors name "weights", "num_samples" or
 * "generator" (a value outside bl_generator).
 * torch, without replacement: keys w_i / q_i that underflow to 0 (subnormal
 * weights) tie with the zero weights' keys, and the tie is broken as
 * PyTorch's topk breaks it (libstdc++'s nth_element and sort), so that the
 * indices are PyTorch's even then.
 */
bl_status bl_sample(const double *w, size_t n, size_t k, int replacement, bl_generator gen,
                    uint64_t seed, uint64_t epoch, int64_t *out, bl_error *err);

/*
 * The size of one rank's share of a draw of k indices (see bl_shard):
 * *per_rank = ceil(k / world_size). world_size must be >= 1 and rank in
 * [0, world_size); errors name "world_size" or "rank".
 */
bl_status bl_shard_size(size_t k, size_t world_size, size_t rank, size_t *per_rank, bl_error *err);

/*
 * The share of a draw of k indices that rank `rank` of world_size receives,
 * following torch's DistributedSampler (drop_last = false): the draw is
 * padded by wrapping round from its start to total = ceil(k / world_size) *
 * world_size, and rank r takes elements r, r + world_size, ...
 * Writes *count = total / world_size indices to out, which needs that many
 * entries (bl_shard_size); k = 0 gives an empty share. Errors as
 * bl_shard_size's, or naming "draw" / "out" when NULL with k > 0.
 */
bl_status bl_shard(const int64_t *draw, size_t k, size_t world_size, size_t rank, int64_t *out,
                   size_t *count, bl_error *err);

/*
 * Streams, windows and shards (README, "Continued streams and windows").
 *
 * stream: per_epoch seeds every epoch anew (torch: seed + epoch, as
 * DistributedSampler; fast: the key (seed, epoch)); continued is PyTorch's
 * one generator seeded once with seed and drawn from epoch after epoch, as
 * WeightedRandomSampler(..., generator=torch.Generator().manual_seed(seed))
 * iterated: epoch e is its (e + 1)-th draw. Only the torch generator has
 * such a state; continued with fast is refused (BL_EINVAL, "stream").
 */
typedef enum {
    BL_STREAM_PER_EPOCH = 0,
    BL_STREAM_CONTINUED = 1,
} bl_stream;
#define BL_STREAM_COUNT 2

/* "per_epoch", "continued"; then NULL. */
extern const char *const bl_stream_names[BL_STREAM_COUNT + 1];
const char *bl_stream_name(bl_stream s);
bl_status bl_stream_from_name(const char *name, bl_stream *out, bl_error *err);

/* The fast stream's versions: 1 is sequential xoshiro256** (bl_sample's),
 * 2 (the newest, the default of bl_sample_opts) is counter-based. */
#define BL_FAST_VERSION 2

typedef struct {
    int replacement;         /* 1 (default) or 0 */
    bl_generator generator;  /* BL_GENERATOR_FAST (default) */
    bl_stream stream;        /* BL_STREAM_PER_EPOCH (default) */
    int fast_version;        /* 1 or 2 (default BL_FAST_VERSION); fast generator only */
    uint64_t seed, epoch;    /* 0, 0 */
    size_t world_size, rank; /* 1, 0: the share of the draw (bl_shard) */
    size_t offset, count;    /* 0, SIZE_MAX: the window [offset, offset + count) of the share */
} bl_sample_opts;

/* The defaults above. Can't fail. */
bl_sample_opts bl_sample_opts_default(void);

/*
 * The number of indices bl_sample_window writes for a draw of k: the share
 * ceil(k / world_size) less offset, at most count. offset beyond the share
 * is BL_EINVAL naming "offset"; errors of bl_shard_size; an opts field out
 * of range names it ("replacement", "generator", "stream", "fast_version").
 */
bl_status bl_sample_window_size(size_t k, const bl_sample_opts *o, size_t *len, bl_error *err);

/*
 * The draw of k indices from w (as bl_sample), shared among world_size
 * ranks (bl_shard) and cut to the window [offset, offset + count) of this
 * rank's share: *len (bl_sample_window_size) indices to out, exactly the
 * slice of the whole share. Work beyond the weights' O(n) setup:
 *   torch, replacement: the uniforms up to the window's last draw are
 *     skipped (MT19937 advanced untempered), then one per index written;
 *   torch, no replacement: all n keys and PyTorch's top-k of the k;
 *   fast 2, replacement: O(len) (every draw is addressed by its position);
 *   fast 2 or 1, no replacement: all keys, two selections and a sort of
 *     the window's span of the k, O(n + span log span);
 *   fast 1, replacement: one output per draw up to the window's last.
 * continued (torch only) first skips epoch * 2k (replacement) or epoch * 2n
 * (no replacement) MT19937 outputs: bl_sample_replay gives the draws'
 * worth, for a caller's bound.
 */
bl_status bl_sample_window(const double *w, size_t n, size_t k, const bl_sample_opts *o,
                           int64_t *out, size_t *len, bl_error *err);

/* bl_sample_window, free to overwrite w: with the fast generator and
 * replacement, the alias table is built in w's own memory (8 bytes a
 * column, the size of a weight) instead of a table of its own, so that a
 * draw needs no more than n / 8 bytes beside w and out. The same indices
 * as bl_sample_window; on success w's contents are unspecified, on error
 * w is untouched. out must not overlap w. */
bl_status bl_sample_window_inplace(double *w, size_t n, size_t k, const bl_sample_opts *o,
                                   int64_t *out, size_t *len, bl_error *err);

/* What stream continued replays before epoch `epoch`: epoch times k
 * (replacement) or n (without) uniforms, saturating at UINT64_MAX; 0 for
 * per_epoch or the fast generator. Can't fail. */
uint64_t bl_sample_replay(size_t n, size_t k, const bl_sample_opts *o);

/* ------------------------------------------------------------------ */
/* Balancing by resampling (lib/resample.c)                            */
/* ------------------------------------------------------------------ */

/*
 * /sample's strategies: weighted sampling (bl_sample_window), or random
 * under- and over-sampling of the items of each class to balance them, as
 * imbalanced-learn's RandomUnderSampler / RandomOverSampler define it
 * (README, "Balancing: undersample and oversample").
 */
typedef enum {
    BL_STRATEGY_WEIGHTED = 0,
    BL_STRATEGY_UNDERSAMPLE = 1,
    BL_STRATEGY_OVERSAMPLE = 2,
} bl_strategy;
#define BL_STRATEGY_COUNT 3

/* "weighted", "undersample", "oversample"; then NULL. */
extern const char *const bl_strategy_names[BL_STRATEGY_COUNT + 1];
const char *bl_strategy_name(bl_strategy s);
bl_status bl_strategy_from_name(const char *name, bl_strategy *out, bl_error *err);

/* imbalanced-learn's named sampling strategies. */
typedef enum {
    BL_BALANCE_AUTO = 0,     /* undersample: not minority; oversample: not majority */
    BL_BALANCE_MAJORITY = 1, /* undersample only */
    BL_BALANCE_NOT_MINORITY = 2,
    BL_BALANCE_NOT_MAJORITY = 3,
    BL_BALANCE_ALL = 4,
    BL_BALANCE_MINORITY = 5, /* oversample only */
} bl_balance;
#define BL_BALANCE_COUNT 6

/* "auto", "majority", "not minority", "not majority", "all", "minority"; then NULL. */
extern const char *const bl_balance_names[BL_BALANCE_COUNT + 1];
const char *bl_balance_name(bl_balance b);
bl_status bl_balance_from_name(const char *name, bl_balance *out, bl_error *err);

/*
 * The per-class targets of a strategy, from the class counts (counts[c]
 * items of class c, c in [0, C); classes of count 0 are absent and never
 * targeted). target[c] is -1 for a class left as it is, else the number
 * of its items in the result: for undersample at most counts[c], for
 * oversample at least counts[c]. The minority (majority) class is the one
 * of the smallest (largest) count, the lowest class id among equals, as
 * imbalanced-learn picks it. Fewer than two classes present is BL_EINVAL
 * naming "labels"; a name that does not apply to the strategy (majority
 * with oversample, minority with undersample) or a strategy of
 * BL_STRATEGY_WEIGHTED names "sampling_strategy" / "strategy".
 */
bl_status bl_balance_targets(const size_t *counts, size_t C, bl_strategy s, bl_balance b,
                             int64_t *target, bl_error *err);

/* The same for a ratio r in (0, 1], two classes present only (binary
 * labels): undersample keeps floor(n_minority / r) of the other class;
 * oversample grows the other class to floor(n_majority r) (imbalanced-learn's
 * int(): its arithmetic in doubles). A ratio that would grow the class
 * under-sampled or shrink the one over-sampled is BL_EINVAL naming
 * "sampling_strategy". */
bl_status bl_balance_targets_ratio(const size_t *counts, size_t C, bl_strategy s, double ratio,
                                   int64_t *target, bl_error *err);

/* The same for wanted counts per class (-1: leave the class as it is):
 * each must be >= 0, the class present, and at most (undersample) or at
 * least (oversample) its count; BL_EINVAL naming "sampling_strategy" with
 * the class as index otherwise. */
bl_status bl_balance_targets_counts(const size_t *counts, size_t C, bl_strategy s,
                                    const int64_t *wanted, int64_t *target, bl_error *err);

/* The length of the resampled index list: the sum over classes of
 * target[c], or counts[c] where target[c] is -1; SIZE_MAX when the sum is
 * beyond it. Can't fail. */
size_t bl_resample_size(const size_t *counts, size_t C, const int64_t *target);

/*
 * The resampled index list, reproducible from (seed, epoch) through the
 * fast stream's version 2 (bl_counter), its outputs read at positions 0, 1,
 * 2, ... in the order below; an output r picks among m items the
 * floor(r m / 2^64)-th (bias below m / 2^64).
 *   undersample: class by class, ascending class id; a class left as it
 *     is gives its items in index order; a targeted class gives target[c]
 *     of its items in random order: without replacement a partial
 *     Fisher-Yates shuffle of its items (in index order) stopped after
 *     target[c] steps, with replacement target[c] independent picks.
 *   oversample: 0, 1, ..., n - 1 (every item once, in order), then class
 *     by class, ascending, target[c] - counts[c] independent picks among
 *     the items of class c.
 * labels: n class ids in [0, C); counts: their counts (bl_count_labels'
 * as integers); out: bl_resample_size entries. Errors name "labels",
 * "strategy", "target" or "out".
 */
bl_status bl_resample(const int64_t *labels, size_t n, const size_t *counts, size_t C,
                      bl_strategy s, const int64_t *target, int replacement, uint64_t seed,
                      uint64_t epoch, int64_t *out, bl_error *err);

/* ------------------------------------------------------------------ */
/* Losses                                                              */
/* ------------------------------------------------------------------ */

typedef enum {
    BL_LOSS_CROSS_ENTROPY = 0,
    BL_LOSS_NLL,
    BL_LOSS_FOCAL,
    BL_LOSS_BCE_WITH_LOGITS,
    BL_LOSS_SIGMOID_FOCAL,
    BL_LOSS_LDAM = 5,       /* label-distribution-aware margin (Cao et al. 2019) */
    BL_LOSS_ASYMMETRIC = 6, /* multi-label, Ridnik et al. 2021 (timm) */
    BL_LOSS_DICE = 7,       /* segmentation, MONAI's DiceLoss */
    BL_LOSS_TVERSKY = 8,    /* segmentation, MONAI's TverskyLoss */
} bl_loss_kind;
#define BL_LOSS_COUNT 9

/* "cross_entropy", "nll", "focal", "bce_with_logits", "sigmoid_focal",
 * "ldam", "asymmetric", "dice", "tversky"; then NULL. */
extern const char *const bl_loss_names[BL_LOSS_COUNT + 1];
const char *bl_loss_name(bl_loss_kind k);
bl_status bl_loss_from_name(const char *name, bl_loss_kind *out, bl_error *err);

typedef enum {
    BL_REDUCTION_MEAN = 0,
    BL_REDUCTION_SUM,
    BL_REDUCTION_NONE,
    /* Keras's default: Σ l_n / (number of positions kept), see bl_loss */
    BL_REDUCTION_SUM_OVER_BATCH_SIZE = 3,
} bl_reduction;
#define BL_REDUCTION_COUNT 4

/* "mean", "sum", "none", "sum_over_batch_size"; then NULL. */
extern const char *const bl_reduction_names[BL_REDUCTION_COUNT + 1];
const char *bl_reduction_name(bl_reduction r);
bl_status bl_reduction_from_name(const char *name, bl_reduction *out, bl_error *err);

#define BL_MAX_DIMS 16

/* The activation of dice and tversky: softmax over the class dim with
 * class-index targets, or an elementwise sigmoid with targets of the
 * logits' shape. */
typedef enum {
    BL_ACTIVATION_SOFTMAX = 0,
    BL_ACTIVATION_SIGMOID,
} bl_activation;
#define BL_ACTIVATION_COUNT 2

/* "softmax", "sigmoid"; then NULL. */
extern const char *const bl_activation_names[BL_ACTIVATION_COUNT + 1];
const char *bl_activation_name(bl_activation v);
bl_status bl_activation_from_name(const char *name, bl_activation *out, bl_error *err);

typedef struct {
    bl_loss_kind loss;
    /* input: logits (log-probabilities for nll), C order, shape[ndim]. For
     * the class losses ndim is 1 (C), 2 (N, C) or more (N, C, d1, ..., dk);
     * the binary losses take any shape (ndim 0 is a scalar). */
    const double *input;
    size_t shape[BL_MAX_DIMS];
    size_t ndim;
    /* Exactly one kind of targets for the class losses:
     *  - class indices: target_index, one per position (N d1 ... dk), or
     *  - probabilities: target_prob, the input's own shape (cross_entropy).
     * The binary losses take target_prob, the input's shape, in [0, 1]. */
    const int64_t *target_index;
    const double *target_prob;
    /* class losses: C entries; binary: last dim (1 for a scalar), broadcast;
     * NULL = all 1. Finite and >= 0. For sigmoid_focal they scale ce like
     * bce_with_logits' weight (torchvision has none). */
    const double *weights;
    size_t weights_len;
    const double *pos_weight; /* bce_with_logits only: last dim; NULL = all 1 */
    size_t pos_weight_len;
    bl_reduction reduction;
    int64_t ignore_index;   /* class-index targets; default -100 */
    double label_smoothing; /* cross_entropy: in [0, 1] */
    double gamma;           /* focal losses: >= 0 */
    double alpha;           /* sigmoid_focal: in [0, 1], or exactly -1 for none */
    /* long-tail: logit adjustment, ldam */
    /* Class sizes n_c (C entries, finite and > 0): the priors of logit
     * adjustment, pi_c = n_c / sum n, and ldam's margins. NULL: none. */
    const double *class_counts;
    size_t class_counts_len;
    /* Or the priors themselves (logit adjustment only; C entries, finite and
     * > 0, normalised to sum 1 here). At most one of the two. */
    const double *class_priors;
    size_t class_priors_len;
    /* Logit adjustment (cross_entropy and focal), when adjust_logits is 1:
     * the loss of z_c + tau log pi_c, tau = logit_adjustment (finite). */
    int adjust_logits;
    double logit_adjustment;
    double max_margin; /* ldam: the largest margin, finite and > 0 */
    double scale;      /* ldam: s, finite and > 0 */
    /* multi-label and segmentation */
    double gamma_pos, gamma_neg; /* asymmetric: focusing of positives, negatives; >= 0 */
    double clip;                 /* asymmetric: probability margin of negatives, [0, 1] */
    double eps;                  /* asymmetric: floor of the probabilities in log, [0, 1) */
    bl_activation activation;    /* dice, tversky */
    int include_background;      /* dice, tversky: 0 drops class (channel) 0 */
    int batch;                   /* dice, tversky: one score per class over the batch */
    double smooth_nr, smooth_dr; /* dice, tversky: added to numerator, denominator; >= 0 */
    double tversky_alpha;        /* tversky: weight of false positives, >= 0 */
    double tversky_beta;         /* tversky: weight of false negatives, >= 0 */
    /* Instead of input (which is then NULL): the same values as float32
     * (native byte order, any alignment: e.g. a .npy's data in place), read
     * as the doubles they convert to exactly, so that the results are those
     * of input holding them. class-index cross_entropy and focal over
     * (N, C) and nll read it directly; every other case converts it into a
     * float64 copy first (BL_ENOMEM when that fails). */
    const void *input_f32;
} bl_loss_args;

/* Defaults: cross_entropy, mean, ignore_index -100, no smoothing, gamma 2,
 * alpha 0.25; no logit adjustment (tau 1 once on), max_margin 0.5, scale 30;
 * gamma_pos 1, gamma_neg 4, clip 0.05, eps 1e-8; softmax,
 * include_background 1, batch 0, smooth_nr = smooth_dr = 1e-5,
 * tversky_alpha = tversky_beta = 0.5. Can't fail. */
bl_loss_args bl_loss_args_default(void);

/* Number of loss positions for `none`: N d1 ... dk for the class losses
 * (1 for 1-D input), the element count for binary losses and asymmetric;
 * the number of scores for dice and tversky: N C' ((N, C')), or C' with
 * batch, C' = C - 1 without the background, else C. */
size_t bl_loss_positions(const bl_loss_args *a);
/* Number of input elements (product of the shape). */
size_t bl_loss_elements(const bl_loss_args *a);

typedef struct {
    double value;        /* mean or sum (NaN when nothing is left to average);
                          * for reduction none, the sum of per */
    double total_weight; /* the mean's denominator */
    double *per;         /* reduction none: bl_loss_positions() entries, caller-owned */
    double *grad;        /* NULL, or bl_loss_elements() entries: dloss/dinput */
} bl_loss_result;

/*
 * Computes the loss as PyTorch would in float64 (see the README's formulas).
 * The caller sets res->per (needed for reduction none, else may be NULL) and
 * res->grad (NULL for no gradient). Errors name "logits" ("log_probs" for
 * nll), "targets", "weights", "pos_weight", "label_smoothing", "gamma",
 * "alpha", "ignore_index", "class_counts", "class_priors",
 * "logit_adjustment", "max_margin" or "scale", with the flat index of a bad
 * target or weight; a loss or reduction outside its enum is an error with no
 * argument name. asymmetric, dice and tversky also name "gamma_pos",
 * "gamma_neg", "clip", "eps", "activation", "include_background",
 * "smooth_nr", "smooth_dr", "tversky_alpha" or "tversky_beta" (README: their
 * formulas; their mean divides by the number of scores, which is
 * res->total_weight). Nothing is written on error. Non-finite inputs are
 * accepted and give NaN or inf as in PyTorch.
 *
 * Long-tail options (README "Long-tail losses"):
 *  - logit adjustment (cross_entropy, focal; Menon et al. 2021): the loss of
 *    z + tau log pi, with every other option; grad is w.r.t. z;
 *  - ldam (Cao et al. 2019): cross_entropy of s (z - Delta_y e_y), Delta_c
 *    = max_margin n_c^(-1/4) / max_j n_j^(-1/4), with weights, ignore_index
 *    and every reduction (class-index targets; no smoothing);
 *  - reduction sum_over_batch_size (every loss): the sum of the weighted
 *    losses over the number of positions kept (class-index targets: those
 *    not ignore_index; dice and tversky: the scores; else every position or
 *    element), 0 when none is kept, as Keras 3 divides a masked loss;
 *    total_weight is that count.
 * Logit adjustment and ldam allocate one copy of the input, dice and
 * tversky 8 K + 2 C doubles of scratch, K the classes scored (BL_ENOMEM
 * when that fails); otherwise only scratch that has a fallback.
 */
bl_status bl_loss(const bl_loss_args *a, bl_loss_result *res, bl_error *err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BALLAST_H */
