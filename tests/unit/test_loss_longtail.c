/*
 * test_loss_longtail.c — the long-tail options of bl_loss (logit
 * adjustment, ldam, reduction sum_over_batch_size; lib/loss_longtail.c) and
 * class-index targets kept int64 end to end through the api layer
 * (api/int64s.c).
 *
 *   - identities that must hold bit for bit (tau 0 is the plain loss; logit
 *     adjustment is the plain loss of shifted logits; priors proportional to
 *     the counts change nothing), values worked out by hand, and gradients
 *     against central differences of bl_loss itself;
 *   - every refusal: code, argument and that nothing else is accepted;
 *   - the exactness regressions of integers beyond 2^53 (README "Long-tail
 *     losses"): a target 9007199254740993 quoted exactly, over small and
 *     large JSON bodies (jansson and the fast arrays), nested targets and an
 *     int64 .npy part; an out-of-range target next to an ignore_index it
 *     rounds to is refused, not ignored; integers beyond int64.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ballast.h"
#include "check_close.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The tests' one comparison rule (check_close.h), with an absolute floor of 1e-15. */
static void assert_close(double got, double want, double rel, const char *what)
{
    ck_assert_msg(check_close(got, want, (check_tol){rel, 1e-15}), "%s = %.17g, want %.17g", what,
                  got, want);
}

static bl_loss_args args_of(bl_loss_kind k, const double *z, size_t ndim, const size_t *shape)
{
    bl_loss_args a = bl_loss_args_default();
    a.loss = k;
    a.input = z;
    a.ndim = ndim;
    for (size_t d = 0; d < ndim; d++)
        a.shape[d] = shape[d];
    return a;
}

/* ---- logit adjustment ------------------------------------------------------ */

/* (2, 3, 2) logits, targets (2, 2) with one ignored. */
static const double Z[12] = {0.3, -1.2, 2.0, 0.5, -0.7, 1.1, 1.4, -0.2, 0.0, 2.5, -1.0, 0.8};
static const size_t ZS[3] = {2, 3, 2};
static const int64_t Y[4] = {2, -100, 0, 1};
static const double COUNTS[3] = {400, 25, 3};

START_TEST(la_tau0_is_the_plain_loss)
{
    for (int red = 0; red < BL_REDUCTION_COUNT; red++) {
        double g1[12], g2[12], p1[4], p2[4];
        bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, Z, 3, ZS);
        a.target_index = Y;
        a.label_smoothing = 0.2;
        a.reduction = (bl_reduction)red;
        bl_loss_result r1 = {0, 0, p1, g1}, r2 = {0, 0, p2, g2};
        ck_assert_int_eq(bl_loss(&a, &r1, NULL), BL_OK);
        a.class_counts = COUNTS;
        a.class_counts_len = 3;
        a.adjust_logits = 1;
        a.logit_adjustment = 0.0;
        ck_assert_int_eq(bl_loss(&a, &r2, NULL), BL_OK);
        ck_assert(memcmp(&r1.value, &r2.value, sizeof r1.value) == 0);
        ck_assert(memcmp(g1, g2, sizeof g1) == 0);
        if (red == BL_REDUCTION_NONE)
            ck_assert(memcmp(p1, p2, sizeof p1) == 0);
    }
}
END_TEST

/* z + tau log(n / N) computed here, then the plain loss: the same bits. */
START_TEST(la_is_the_loss_of_shifted_logits)
{
    const double tau = 1.5;
    double shifted[12];
    for (size_t n0 = 0; n0 < 2; n0++)
        for (size_t c = 0; c < 3; c++)
            for (size_t i = 0; i < 2; i++) {
                size_t at = (n0 * 3 + c) * 2 + i;
                shifted[at] = Z[at] + tau * log(COUNTS[c] / 428.0);
            }
    for (int k = 0; k < 2; k++) { /* cross_entropy, focal */
        bl_loss_kind kind = k ? BL_LOSS_FOCAL : BL_LOSS_CROSS_ENTROPY;
        double g1[12], g2[12];
        bl_loss_args a = args_of(kind, shifted, 3, ZS);
        a.target_index = Y;
        a.weights = (const double[]){0.5, 2, 1};
        a.weights_len = 3;
        bl_loss_result r1 = {0, 0, NULL, g1}, r2 = {0, 0, NULL, g2};
        ck_assert_int_eq(bl_loss(&a, &r1, NULL), BL_OK);
        a.input = Z;
        a.class_counts = COUNTS;
        a.class_counts_len = 3;
        a.adjust_logits = 1;
        a.logit_adjustment = tau;
        ck_assert_int_eq(bl_loss(&a, &r2, NULL), BL_OK);
        ck_assert(r1.value == r2.value && r1.total_weight == r2.total_weight);
        ck_assert(memcmp(g1, g2, sizeof g1) == 0);
        /* priors proportional to the counts (an exact scaling): the same */
        a.class_counts = NULL;
        a.class_priors = (const double[]){100, 6.25, 0.75};
        a.class_priors_len = 3;
        ck_assert_int_eq(bl_loss(&a, &r2, NULL), BL_OK);
        ck_assert(r1.value == r2.value);
        ck_assert(memcmp(g1, g2, sizeof g1) == 0);
    }
}
END_TEST

/* Balanced Softmax by hand: C = 2, counts 3 and 1, one row z = (0, 0),
 * y = 1: z' = (log 3/4, log 1/4), loss = log(1 + 3) = log 4. */
START_TEST(la_balanced_softmax_by_hand)
{
    double z[2] = {0, 0}, g[2];
    int64_t y = 1;
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, z, 1, (const size_t[]){2});
    a.target_index = &y;
    a.class_counts = (const double[]){3, 1};
    a.class_counts_len = 2;
    a.adjust_logits = 1;
    bl_loss_result r = {0, 0, NULL, g};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, log(4.0), 1e-15, "loss");
    assert_close(g[0], 0.75, 1e-15, "grad[0]"); /* softmax(z') - onehot */
    assert_close(g[1], -0.75, 1e-15, "grad[1]");
    /* probability targets (1, 0): log(4/3) */
    a.target_index = NULL;
    a.target_prob = (const double[]){1, 0};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, log(4.0 / 3.0), 1e-15, "prob loss");
}
END_TEST

/* ---- ldam ------------------------------------------------------------------ */

/* counts 16 and 1: m = (1/2, 1), Delta = (0.25, 0.5) for max_margin 0.5.
 * z = (1, 2), y = 1, s = 2: z' = 2 (1, 1.5) = (2, 3); loss = log(1 + e^-1);
 * grad = s (softmax(z') - onehot) = 2 (σ(-1), -σ(-1)). */
START_TEST(ldam_by_hand)
{
    double z[2] = {1, 2}, g[2];
    int64_t y = 1;
    bl_loss_args a = args_of(BL_LOSS_LDAM, z, 2, (const size_t[]){1, 2});
    a.target_index = &y;
    a.class_counts = (const double[]){16, 1};
    a.class_counts_len = 2;
    a.scale = 2;
    bl_loss_result r = {0, 0, NULL, g};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    double sig = 1 / (1 + exp(1.0));
    assert_close(r.value, log1p(exp(-1.0)), 1e-15, "loss");
    assert_close(g[0], 2 * sig, 1e-15, "grad[0]");
    assert_close(g[1], -2 * sig, 1e-15, "grad[1]");
    ck_assert(r.total_weight == 1);
    /* y = 0, the frequent class: margin 0.25: z' = 2 (0.75, 2) */
    y = 0;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, log1p(exp(-2.5)) + 2.5, 1e-15, "loss y=0");
    /* an ignored position: nothing, and no margin anywhere */
    y = -100;
    a.reduction = BL_REDUCTION_SUM;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    ck_assert(r.value == 0 && g[0] == 0 && g[1] == 0 && r.total_weight == 0);
}
END_TEST

/* DRW: the class weights scale each term and the mean divides by their sum. */
START_TEST(ldam_weights_and_mean)
{
    double z[6] = {1, 2, 0.5, -1, 0, 3};
    int64_t y[2] = {1, 0};
    double per[2], g[6];
    bl_loss_args a = args_of(BL_LOSS_LDAM, z, 2, (const size_t[]){2, 3});
    a.target_index = y;
    a.class_counts = (const double[]){100, 10, 1};
    a.class_counts_len = 3;
    a.reduction = BL_REDUCTION_NONE;
    bl_loss_result r = {0, 0, per, NULL};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    double l0 = per[0], l1 = per[1];
    a.weights = (const double[]){0.25, 3, 1};
    a.weights_len = 3;
    a.reduction = BL_REDUCTION_MEAN;
    r.grad = g;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, (3 * l0 + 0.25 * l1) / 3.25, 1e-14, "weighted mean");
    ck_assert(r.total_weight == 3.25);
}
END_TEST

/* ---- sum_over_batch_size ------------------------------------------------------ */

START_TEST(sobs_is_sum_over_kept)
{
    const bl_loss_kind kinds[] = {BL_LOSS_CROSS_ENTROPY, BL_LOSS_NLL, BL_LOSS_FOCAL, BL_LOSS_LDAM};
    for (size_t k = 0; k < NELEM(kinds); k++) {
        double gs[12], g[12];
        bl_loss_args a = args_of(kinds[k], Z, 3, ZS);
        a.target_index = Y; /* 3 of 4 kept */
        a.weights = (const double[]){0.5, 2, 1};
        a.weights_len = 3;
        if (kinds[k] == BL_LOSS_LDAM) {
            a.class_counts = COUNTS;
            a.class_counts_len = 3;
        }
        a.reduction = BL_REDUCTION_SUM;
        bl_loss_result rs = {0, 0, NULL, gs}, r = {0, 0, NULL, g};
        ck_assert_int_eq(bl_loss(&a, &rs, NULL), BL_OK);
        a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
        ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
        ck_assert(r.value == rs.value / 3 && r.total_weight == 3);
        for (int i = 0; i < 12; i++)
            ck_assert(g[i] == gs[i] * (1.0 / 3));
    }
    /* every target ignored: 0, as Keras's divide_no_nan (not NaN as mean) */
    int64_t ign[4] = {-100, -100, -100, -100};
    double g[12];
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, Z, 3, ZS);
    a.target_index = ign;
    a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
    bl_loss_result r = {1, 1, NULL, g};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    ck_assert(r.value == 0 && r.total_weight == 0 && g[5] == 0);
    /* binary losses divide by the element count, weights or not */
    double t[12];
    for (int i = 0; i < 12; i++)
        t[i] = (i % 3) / 2.0;
    for (int k = 0; k < 2; k++) {
        a = args_of(k ? BL_LOSS_SIGMOID_FOCAL : BL_LOSS_BCE_WITH_LOGITS, Z, 3, ZS);
        a.target_prob = t;
        a.reduction = BL_REDUCTION_SUM;
        bl_loss_result rs = {0, 0, NULL, NULL};
        ck_assert_int_eq(bl_loss(&a, &rs, NULL), BL_OK);
        a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
        ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
        ck_assert(r.value == rs.value / 12 && r.total_weight == 12);
    }
}
END_TEST

/* ---- gradients against central differences ------------------------------------ */

static double value_at(const bl_loss_args *a0, const double *z)
{
    bl_loss_args a = *a0;
    a.input = z;
    bl_loss_result r = {0, 0, NULL, NULL};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    return r.value;
}

static void check_grad(const bl_loss_args *a0)
{
    double g[12], z[12];
    bl_loss_result r = {0, 0, NULL, g};
    ck_assert_int_eq(bl_loss(a0, &r, NULL), BL_OK);
    memcpy(z, a0->input, sizeof z);
    for (int i = 0; i < 12; i++) {
        const double h = 1e-5;
        double keep = z[i];
        z[i] = keep + h;
        double up = value_at(a0, z);
        z[i] = keep - h;
        double down = value_at(a0, z);
        z[i] = keep + 2 * h;
        double up2 = value_at(a0, z);
        z[i] = keep - 2 * h;
        double down2 = value_at(a0, z);
        z[i] = keep;
        double fd = (8 * (up - down) - (up2 - down2)) / (12 * h);
        ck_assert_msg(fabs(fd - g[i]) <= 1e-7 * fmax(1, fabs(g[i])), "grad[%d] = %.17g, fd %.17g",
                      i, g[i], fd);
    }
}

START_TEST(gradients_by_differences)
{
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, Z, 3, ZS);
    a.target_index = Y;
    a.weights = (const double[]){0.5, 2, 1};
    a.weights_len = 3;
    a.class_counts = COUNTS;
    a.class_counts_len = 3;
    a.adjust_logits = 1;
    a.logit_adjustment = 0.7;
    a.label_smoothing = 0.1;
    check_grad(&a);
    a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
    check_grad(&a);
    a.loss = BL_LOSS_FOCAL;
    a.label_smoothing = 0;
    check_grad(&a);
    a = args_of(BL_LOSS_LDAM, Z, 3, ZS);
    a.target_index = Y;
    a.class_counts = COUNTS;
    a.class_counts_len = 3;
    a.scale = 3;
    a.max_margin = 0.8;
    check_grad(&a);
    a.reduction = BL_REDUCTION_SUM;
    a.weights = (const double[]){0.5, 2, 1};
    a.weights_len = 3;
    check_grad(&a);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------ */

START_TEST(refusals)
{
    double z[6] = {1, 2, 0.5, -1, 0, 3}, pr[6] = {1, 0, 0, 0, 1, 0};
    int64_t y[2] = {1, 0};
    const double c3[3] = {10, 5, 1}, c2[2] = {10, 5}, zero[3] = {10, 0, 1};
    struct {
        const char *what, *arg;
        bl_loss_kind loss;
        int adjust, bad_tau, priors, counts; /* counts: 0 none, 1 good, 2 short, 3 a zero */
        double mm, s, eps;
        int prob;
    } t[] = {
        {"tau without priors", "logit_adjustment", BL_LOSS_CROSS_ENTROPY, 1, 0, 0, 0, .5, 30, 0, 0},
        {"counts without tau", "class_counts", BL_LOSS_CROSS_ENTROPY, 0, 0, 0, 1, .5, 30, 0, 0},
        {"priors without tau", "class_priors", BL_LOSS_FOCAL, 0, 0, 1, 0, .5, 30, 0, 0},
        {"both", "class_priors", BL_LOSS_CROSS_ENTROPY, 1, 0, 1, 1, .5, 30, 0, 0},
        {"tau inf", "logit_adjustment", BL_LOSS_CROSS_ENTROPY, 1, 1, 0, 1, .5, 30, 0, 0},
        {"short counts", "class_counts", BL_LOSS_CROSS_ENTROPY, 1, 0, 0, 2, .5, 30, 0, 0},
        {"a zero count", "class_counts", BL_LOSS_CROSS_ENTROPY, 1, 0, 0, 3, .5, 30, 0, 0},
        {"tau with nll", "logit_adjustment", BL_LOSS_NLL, 1, 0, 0, 1, .5, 30, 0, 0},
        {"tau with ldam", "logit_adjustment", BL_LOSS_LDAM, 1, 0, 0, 1, .5, 30, 0, 0},
        {"counts with bce", "class_counts", BL_LOSS_BCE_WITH_LOGITS, 0, 0, 0, 1, .5, 30, 0, 0},
        {"priors with ldam", "class_priors", BL_LOSS_LDAM, 0, 0, 1, 0, .5, 30, 0, 0},
        {"ldam without counts", "class_counts", BL_LOSS_LDAM, 0, 0, 0, 0, .5, 30, 0, 0},
        {"ldam short counts", "class_counts", BL_LOSS_LDAM, 0, 0, 0, 2, .5, 30, 0, 0},
        {"ldam zero count", "class_counts", BL_LOSS_LDAM, 0, 0, 0, 3, .5, 30, 0, 0},
        {"ldam margin 0", "max_margin", BL_LOSS_LDAM, 0, 0, 0, 1, 0, 30, 0, 0},
        {"ldam margin nan", "max_margin", BL_LOSS_LDAM, 0, 0, 0, 1, NAN, 30, 0, 0},
        {"ldam scale -1", "scale", BL_LOSS_LDAM, 0, 0, 0, 1, .5, -1, 0, 0},
        {"ldam scale inf", "scale", BL_LOSS_LDAM, 0, 0, 0, 1, .5, INFINITY, 0, 0},
        {"ldam smoothing", "label_smoothing", BL_LOSS_LDAM, 0, 0, 0, 1, .5, 30, 0.1, 0},
        {"ldam probabilities", "targets", BL_LOSS_LDAM, 0, 0, 0, 1, .5, 30, 0, 1},
    };
    for (size_t i = 0; i < NELEM(t); i++) {
        bl_loss_args a = args_of(t[i].loss, z, 2, (const size_t[]){2, 3});
        a.target_index = t[i].prob || t[i].loss == BL_LOSS_BCE_WITH_LOGITS ? NULL : y;
        a.target_prob = t[i].prob || t[i].loss == BL_LOSS_BCE_WITH_LOGITS ? pr : NULL;
        a.adjust_logits = t[i].adjust;
        a.logit_adjustment = t[i].bad_tau ? INFINITY : 1.0;
        if (t[i].priors) {
            a.class_priors = c3;
            a.class_priors_len = 3;
        }
        const double *cv[] = {NULL, c3, c2, zero};
        a.class_counts = cv[t[i].counts];
        a.class_counts_len = t[i].counts == 2 ? 2 : 3;
        a.max_margin = t[i].mm;
        a.scale = t[i].s;
        a.label_smoothing = t[i].eps;
        double g[6] = {7, 7, 7, 7, 7, 7};
        bl_loss_result r = {-1, -1, NULL, g};
        bl_error e;
        ck_assert_msg(bl_loss(&a, &r, &e) == BL_EINVAL, "%s: accepted", t[i].what);
        ck_assert_msg(e.arg && strcmp(e.arg, t[i].arg) == 0, "%s: arg %s, want %s (%s)", t[i].what,
                      e.arg ? e.arg : "NULL", t[i].arg, e.message);
        ck_assert_msg(r.value == -1 && g[0] == 7, "%s: written on error", t[i].what);
    }
    /* values outside the enums */
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, z, 2, (const size_t[]){2, 3});
    a.target_index = y;
    bl_loss_result r = {0, 0, NULL, NULL};
    a.reduction = (bl_reduction)BL_REDUCTION_COUNT;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_EINVAL);
    a.reduction = BL_REDUCTION_SUM_OVER_BATCH_SIZE;
    a.loss = (bl_loss_kind)99;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_EINVAL);
    bl_reduction red;
    ck_assert_int_eq(bl_reduction_from_name("sum_over_batch_size", &red, NULL), BL_OK);
    ck_assert_int_eq(red, BL_REDUCTION_SUM_OVER_BATCH_SIZE);
    bl_loss_kind k;
    ck_assert_int_eq(bl_loss_from_name("ldam", &k, NULL), BL_OK);
    ck_assert_int_eq(k, BL_LOSS_LDAM);
}
END_TEST

/* ---- integers beyond 2^53, through the api --------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        ck_assert_ptr_nonnull(t->buf);
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

/* Posts body to /loss; checks the error's field and that its message holds
 * `has` (code ok when field is NULL). */
static void expect(const char *body, size_t len, const char *field, const char *has)
{
    bl_api_config cfg = bl_api_config_default();
    bl_api_result res;
    bl_api_code code = bl_api_call(&cfg, "loss", body, len, &res);
    ck_assert_ptr_nonnull(res.body);
    if (!field) {
        ck_assert_msg(code == BL_API_OK, "refused: %s", res.body);
    } else {
        ck_assert_msg(code == BL_API_INVALID_ARGUMENT, "not refused: %.300s", res.body);
        ck_assert_msg(strcmp(res.error_field, field) == 0, "field %s, want %s: %s", res.error_field,
                      field, res.body);
    }
    if (has)
        ck_assert_msg(strstr(res.body, has) != NULL, "%s lacks %s", res.body, has);
    free(res.body);
}

static void expect_text(const char *body, const char *field, const char *has)
{
    expect(body, strlen(body), field, has);
}

START_TEST(targets_beyond_2_53_small_bodies)
{
    /* jansson's integers: exact */
    expect_text("{\"logits\": [[1, 2], [0, 1]], \"targets\": [0, 9007199254740993]}", "targets[1]",
                "Target 9007199254740993 is out of bounds");
    /* the ignore_index a double would round the target to: still refused */
    expect_text("{\"logits\": [[1, 2], [0, 1]], \"targets\": [0, 9007199254740993], "
                "\"ignore_index\": 9007199254740992}",
                "targets[1]", "Target 9007199254740993 is out of bounds");
    /* the ignore_index itself: ignored; what is left is target 0 alone */
    expect_text("{\"logits\": [[1, 2], [0, 1]], \"targets\": [0, 9007199254740992], "
                "\"ignore_index\": 9007199254740992}",
                NULL, "\"total_weight\":1.0");
    /* ... and ldam, sum_over_batch_size: the same decoding */
    expect_text("{\"loss\": \"ldam\", \"class_counts\": [5, 1], \"logits\": [[1, 2], [0, 1]], "
                "\"targets\": [9007199254740993, 0], \"ignore_index\": 9007199254740992, "
                "\"reduction\": \"sum_over_batch_size\"}",
                "targets[0]", "Target 9007199254740993 is out of bounds");
    /* beyond int64: refused with its digits, even beside an ignore_index of
     * INT64_MAX that a saturated value would equal */
    expect_text("{\"logits\": [[1, 2], [0, 1]], \"targets\": [0, 99999999999999999999], "
                "\"ignore_index\": 9223372036854775807}",
                "targets[1]", "99999999999999999999");
    expect_text("{\"logits\": [[1, 2], [0, 1]], \"targets\": [0, -99999999999999999999]}",
                "targets[1]", "-99999999999999999999");
    /* 19 digits within int64 stay exact when a bigger integer makes the
     * decoder quote long integers: ignore_index 10^18 + 1 is an integer
     * field, and target [1] equals it (ignored), so the refusal is [2]'s */
    expect_text("{\"logits\": [[1, 2], [0, 1], [3, 4]], \"targets\": [0, 1000000000000000001, "
                "99999999999999999999], \"ignore_index\": 1000000000000000001}",
                "targets[2]", "99999999999999999999");
    expect_text("{\"logits\": [[1, 2], [0, 1], [3, 4]], \"targets\": [0, 1000000000000000001, "
                "1000000000000000002], \"ignore_index\": 1000000000000000001}",
                "targets[2]", "Target 1000000000000000002 is out of bounds");
}
END_TEST

/* Bodies of 4096 bytes or more: long arrays go through decode.c's fast
 * path, which reads doubles; one holding an integer beyond 2^53 is left to
 * jansson. Flat and nested targets. */
START_TEST(targets_beyond_2_53_large_bodies)
{
    char num[64];
    for (int nested = 0; nested < 2; nested++) {
        text b = {NULL, 0, 0};
        /* flat: logits (40, 2), targets (40); nested: logits (2, 2, 20), targets (2, 20) */
        put(&b, "{\"logits\": [");
        for (int i = 0; i < 40; i++) {
            if (nested)
                put(&b, i == 0 ? "[[" : i == 20 ? "]], [[" : i % 10 == 0 ? "], [" : ", ");
            else
                put(&b, i ? ", " : "");
            snprintf(num, sizeof num, nested ? "%d.5, %d" : "[%d.5, %d]", i % 7, i % 3);
            put(&b, num);
        }
        put(&b, nested ? "]]], \"targets\": [[" : "], \"targets\": [");
        for (int i = 0; i < 40; i++) {
            put(&b, i == 0 ? "" : nested && i == 20 ? "], [" : ", ");
            put(&b, i == 25   ? "9007199254740993"
                    : i == 31 ? "9007199254740992"
                    : i % 2   ? "1"
                              : "0");
        }
        put(&b, nested ? "]]" : "]");
        put(&b, ", \"ignore_index\": 9007199254740992");
        put(&b, "}");
        while (b.len < 4200)
            put(&b, "        ");
        expect(b.buf, b.len, nested ? "targets[1][5]" : "targets[25]",
               "Target 9007199254740993 is out of bounds");
        free(b.buf);
    }
    /* integers only below 2^53 still take the fast path and read exactly */
    text b = {NULL, 0, 0};
    put(&b, "{\"logits\": [");
    for (int i = 0; i < 40; i++)
        put(&b, i ? ", [1, 2]" : "[1, 2]");
    put(&b, "], \"targets\": [");
    for (int i = 0; i < 40; i++)
        put(&b, i == 39 ? ", 9007199254740992" : i ? ", 1" : "1");
    put(&b, "]}");
    while (b.len < 4200)
        put(&b, "        ");
    expect(b.buf, b.len, "targets[39]", "Target 9007199254740992 is out of bounds");
    free(b.buf);
}
END_TEST

/* A version 1.0 .npy of little-endian int64 or float64 data, shape (n) or
 * (r, c). */
static unsigned char *npy(const char *descr, const void *data, size_t itemsize, size_t r, size_t c,
                          size_t *len)
{
    char shape[64], header[256];
    if (c)
        snprintf(shape, sizeof shape, "(%zu, %zu)", r, c);
    else
        snprintf(shape, sizeof shape, "(%zu,)", r);
    int h = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = 10 + (size_t)h + 1, pad = (64 - total % 64) % 64;
    size_t hl = (size_t)h + pad + 1, n = r * (c ? c : 1) * itemsize;
    unsigned char *out = malloc(10 + hl + n);
    ck_assert_ptr_nonnull(out);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hl & 0xff);
    out[9] = (unsigned char)(hl >> 8);
    memcpy(out + 10, header, (size_t)h);
    memset(out + 10 + h, ' ', pad);
    out[10 + hl - 1] = '\n';
    memcpy(out + 10 + hl, data, n); /* little-endian hosts (x86-64, arm64) */
    *len = 10 + hl + n;
    return out;
}

START_TEST(targets_beyond_2_53_npy)
{
    const double z[6] = {1, 2, 0, 1, 3, 4};
    const int64_t y[3] = {0, 9007199254740993LL, 9007199254740992LL};
    size_t lz, ly;
    unsigned char *pz = npy("<f8", z, 8, 3, 2, &lz), *py = npy("<i8", y, 8, 3, 0, &ly);
    const char *requests[] = {"{}", "{\"ignore_index\": 9007199254740992}",
                              "{\"loss\": \"ldam\", \"class_counts\": [3, 1], "
                              "\"ignore_index\": 9007199254740992}"};
    for (size_t i = 0; i < NELEM(requests); i++) {
        bl_api_part parts[3] = {
            {"logits", pz, lz}, {"targets", py, ly}, {"request", requests[i], strlen(requests[i])}};
        bl_api_request req = {NULL, 0, parts, 3, BL_API_JSON};
        bl_api_config cfg = bl_api_config_default();
        bl_api_result res;
        ck_assert_int_eq(bl_api_handle(&cfg, "loss", &req, &res), BL_API_INVALID_ARGUMENT);
        ck_assert_str_eq(res.error_field, "targets[1]");
        ck_assert_msg(strstr(res.body, "Target 9007199254740993 is out of bounds"), "%s", res.body);
        free(res.body);
    }
    free(pz);
    free(py);
}
END_TEST

/* ---- regressions found by tools/difftest.py (exact values from 50-digit mpmath) ---- */

/* log pi where pi = n / Σ n underflows: a subnormal count beside 798, a prior of 1e-310
 * beside 1, and counts whose sum overflows. Before: log 0 = -inf, and tau = 0 gave NaN. */
START_TEST(la_tiny_and_huge_priors_exact)
{
    double z[2] = {800, 745};
    int64_t y = 1;
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, z, 2, (const size_t[]){1, 2});
    a.target_index = &y;
    a.class_counts = (const double[]){798, 5e-324};
    a.class_counts_len = 2;
    a.adjust_logits = 1;
    a.logit_adjustment = 0.5;
    bl_loss_result r = {0, 0, NULL, NULL};
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, 430.56109025941553554, 1e-14, "counts {798, 5e-324}, tau 0.5");
    /* tau = 0: the plain loss, bit for bit */
    double plain;
    a.logit_adjustment = 0;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    plain = r.value;
    a.adjust_logits = 0;
    a.class_counts = NULL;
    a.class_counts_len = 0;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    ck_assert(memcmp(&plain, &r.value, sizeof plain) == 0);
    /* class_priors {1, 1e-310}, z = 0, y = 1, tau = 1: -log pi_1 */
    double z0[2] = {0, 0};
    a = args_of(BL_LOSS_CROSS_ENTROPY, z0, 2, (const size_t[]){1, 2});
    a.target_index = &y;
    a.class_priors = (const double[]){1, 1e-310};
    a.class_priors_len = 2;
    a.adjust_logits = 1;
    a.logit_adjustment = 1;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, 713.8013788281541651, 1e-14, "priors {1, 1e-310}");
    /* counts {1e308, 1e308, 1e-300}: the sum overflows and pi_2 underflows */
    double z3[3] = {0, 0, 0};
    int64_t y2 = 2;
    a = args_of(BL_LOSS_CROSS_ENTROPY, z3, 2, (const size_t[]){1, 3});
    a.target_index = &y2;
    a.class_counts = (const double[]){1e308, 1e308, 1e-300};
    a.class_counts_len = 3;
    a.adjust_logits = 1;
    a.logit_adjustment = 1;
    ck_assert_int_eq(bl_loss(&a, &r, NULL), BL_OK);
    assert_close(r.value, 1400.664883720939721178276, 1e-14, "counts {1e308, 1e308, 1e-300}");
}
END_TEST

/* ldam on logits of 1e4 with s = 30 (fixture lt_ldam_029): s z rounds to ulp(3e5), 3e-11
 * of this loss; the logits are shifted by their maximum before the scale. */
START_TEST(ldam_huge_logits_exact)
{
    double z[6] = {-9998.247, 9998.992, -9998.8, 9999.469, 0.0198, -0.6901};
    int64_t y = 3;
    bl_loss_args a = args_of(BL_LOSS_LDAM, z, 2, (const size_t[]){1, 6});
    a.target_index = &y;
    a.weights = (const double[]){0.329369, 1.752229, 1.028212, 0.537727, 2.017497, 0.334967};
    a.weights_len = 6;
    a.reduction = BL_REDUCTION_SUM;
    a.ignore_index = 0;
    a.class_counts = (const double[]){94.007, 17.009, 29.162, 56.525, 14.756, 92.361};
    a.class_counts_len = 6;
    a.max_margin = 0.3;
    bl_loss_result r = {0, 0, NULL, NULL};
    bl_error err;
    ck_assert_msg(bl_loss(&a, &r, &err) == BL_OK, "%s", err.message);
    assert_close(r.value, 2.0399167576000780630728673278e-4, 1e-13, "ldam, logits 1e4");
}
END_TEST

/* Probability targets on a confident row: the argmax's gradient -W_am (1 - s_am) was
 * computed as W_am / S - W_am, which rounds 1 - s_am = e^-50 away (0 instead of
 * -1.93e278 with a class weight of 1e300); with and without logit adjustment. */
START_TEST(prob_targets_confident_gradient_exact)
{
    double z[2] = {0, 50}, t[2] = {0, 1}, g[2];
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, z, 2, (const size_t[]){1, 2});
    a.target_prob = t;
    a.weights = (const double[]){1, 1e300};
    a.weights_len = 2;
    a.reduction = BL_REDUCTION_SUM;
    for (int la = 0; la < 2; la++) {
        a.adjust_logits = la;
        a.logit_adjustment = la;
        a.class_counts = la ? (const double[]){3, 3} : NULL;
        a.class_counts_len = la ? 2 : 0;
        bl_loss_result r = {0, 0, NULL, g};
        bl_error err;
        ck_assert_msg(bl_loss(&a, &r, &err) == BL_OK, "%s", err.message);
        assert_close(g[0], 1.928749847963917884294233e278, 1e-14, "grad[0]");
        assert_close(g[1], -1.928749847963917884294233e278, 1e-14, "grad[1]");
    }
}
END_TEST

/* Label smoothing on a confident row with a dominant class weight: the argmax's gradient
 * s_am Σ h - h_am (h_c = -dl/dp_c) was 0 where it is -4.8e277 (1 / S rounds e^-50 away);
 * z = (0, 50), y = 0, w = (1, 1e300), eps = 1/2, sum. */
START_TEST(smoothing_confident_gradient_exact)
{
    double z[2] = {0, 50}, g[2];
    int64_t y = 0;
    bl_loss_args a = args_of(BL_LOSS_CROSS_ENTROPY, z, 2, (const size_t[]){1, 2});
    a.target_index = &y;
    a.weights = (const double[]){1, 1e300};
    a.weights_len = 2;
    a.label_smoothing = 0.5;
    a.reduction = BL_REDUCTION_SUM;
    bl_loss_result r = {0, 0, NULL, g};
    bl_error err;
    ck_assert_msg(bl_loss(&a, &r, &err) == BL_OK, "%s", err.message);
    assert_close(r.value, 4.821874619909794710714263e277, 1e-14, "loss");
    assert_close(g[0], 4.821874619909794710713798e277, 1e-14, "grad[0]");
    assert_close(g[1], -4.821874619909794710713798e277, 1e-14, "grad[1]");
}
END_TEST

static Suite *longtail_suite(void)
{
    Suite *s = suite_create("loss_longtail");
    TCase *tc = tcase_create("lib");
    tcase_add_test(tc, la_tau0_is_the_plain_loss);
    tcase_add_test(tc, la_is_the_loss_of_shifted_logits);
    tcase_add_test(tc, la_balanced_softmax_by_hand);
    tcase_add_test(tc, ldam_by_hand);
    tcase_add_test(tc, ldam_weights_and_mean);
    tcase_add_test(tc, sobs_is_sum_over_kept);
    tcase_add_test(tc, gradients_by_differences);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, la_tiny_and_huge_priors_exact);
    tcase_add_test(tc, ldam_huge_logits_exact);
    tcase_add_test(tc, prob_targets_confident_gradient_exact);
    tcase_add_test(tc, smoothing_confident_gradient_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("int64_targets");
    tcase_add_test(tc, targets_beyond_2_53_small_bodies);
    tcase_add_test(tc, targets_beyond_2_53_large_bodies);
    tcase_add_test(tc, targets_beyond_2_53_npy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(longtail_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
