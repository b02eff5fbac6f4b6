/*
 * check_close.h — the one closeness rule of the C tests (tests/http/harness.py
 * has the same rule for the Python tests, as close()).
 *
 * A value got is close to the expected value want under a tolerance {rel, abs}
 * when
 *
 *     |got - want| <= max(rel * |want|, abs)
 *
 * relative to the expected value (the reference, never the value under
 * test); NaN is close only to NaN; an infinity only to the infinity of the
 * same sign. The fixture generators check PyTorch/NumPy against their own
 * references by the same rule (tests/conformance/gen_loss.py, close()).
 *
 * Fixtures carry their tolerance as {"rel": r, "abs": a}, a case's own
 * "tolerance" before its file's; check_tolerance() reads it, and a fixture
 * without one is an error of the test, never a default. A file without a
 * tolerance may hold integers only (tests/conformance/sample_cases.json):
 * integers are compared exactly, and a real compared without a tolerance
 * fails (check_json_close()).
 *
 * Header-only (static functions): include it; nothing to link.
 */
#ifndef BALLAST_CHECK_CLOSE_H
#define BALLAST_CHECK_CLOSE_H

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    double rel; /* relative to |want| */
    double abs; /* absolute, for wants at or near zero */
} check_tol;

static inline int check_close(double got, double want, check_tol tol)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= fmax(tol.rel * fabs(want), tol.abs);
}

/* |got - want| / |want| (the absolute error when want is 0): for reports. */
static inline double check_rel_error(double got, double want)
{
    double err = fabs(got - want);
    return want != 0 ? err / fabs(want) : err;
}

#define CHECK_ASSERT_CLOSE(got, want, tol)                                                         \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        ck_assert_msg(check_close(g_, w_, (tol)), "%s = %.17g, want %.17g (rel %.3g)", #got, g_,   \
                      w_, check_rel_error(g_, w_));                                                \
    } while (0)

/* {"rel": r, "abs": a} into *out; 0 when tol is not such an object. */
static inline int check_tol_from_json(json_t *tol, check_tol *out)
{
    json_t *r = json_object_get(tol, "rel"), *a = json_object_get(tol, "abs");
    if (!json_is_number(r) || !json_is_number(a) || json_number_value(r) < 0 ||
        json_number_value(a) < 0)
        return 0;
    out->rel = json_number_value(r);
    out->abs = json_number_value(a);
    return 1;
}

/* The tolerance of one fixture case, the case's own "tolerance" before its
 * file's, into *buf; returns buf, or NULL when neither has one (a file of
 * integers only: check_json_close() then refuses every real). A malformed
 * tolerance fails the test. */
static inline const check_tol *check_tolerance_if_any(json_t *file, json_t *cs, check_tol *buf,
                                                      const char *where)
{
    json_t *own = json_object_get(cs, "tolerance");
    json_t *tol = own ? own : json_object_get(file, "tolerance");
    if (!tol)
        return NULL;
    ck_assert_msg(check_tol_from_json(tol, buf),
                  "%s: \"tolerance\" must be {\"rel\": r, \"abs\": a} with r, a >= 0", where);
    return buf;
}

/* The same, for a fixture of reals: no tolerance fails the test. */
static inline check_tol check_tolerance(json_t *file, json_t *cs, const char *where)
{
    check_tol t;
    ck_assert_msg(check_tolerance_if_any(file, cs, &t, where) != NULL,
                  "%s: the fixture has no \"tolerance\" (a case's or its file's)", where);
    return t;
}

/* Statistics of check_json_close(): the largest relative error among the
 * numbers that differ by more than the absolute tolerance (for the runs'
 * "largest relative error" lines). */
typedef struct {
    double worst_rel;
} check_close_stats;

/*
 * Expected ⊆ actual: every key of an expected object must be in got and
 * match; arrays match element by element; null only null; integers against
 * integers exactly; any other number pair by check_close() under *tol —
 * and when tol is NULL (a file without a tolerance) such a pair does not
 * match. Writes the first difference, with its JSON path, to why.
 */
static inline int check_json_close(json_t *want, json_t *got, const check_tol *tol,
                                   check_close_stats *st, char *why, size_t size, const char *path)
{
    if (json_is_null(want)) {
        if (!json_is_null(got))
            return snprintf(why, size, "%s: expected null", path), 0;
        return 1;
    }
    if (json_is_number(want)) {
        double w = json_number_value(want);
        if (!json_is_number(got))
            return snprintf(why, size, "%s: expected the number %.17g", path, w), 0;
        if (json_is_integer(want) && json_is_integer(got)) {
            if (json_integer_value(want) != json_integer_value(got))
                return snprintf(why, size, "%s: %lld != expected %lld", path,
                                (long long)json_integer_value(got),
                                (long long)json_integer_value(want)),
                       0;
            return 1;
        }
        double g = json_number_value(got);
        if (!tol)
            return snprintf(why, size, "%s: %.17g vs %.17g compared without a tolerance", path, g,
                            w),
                   0;
        if (st && isfinite(g) && isfinite(w) && fabs(g - w) > tol->abs)
            st->worst_rel = fmax(st->worst_rel, check_rel_error(g, w));
        if (!check_close(g, w, *tol))
            return snprintf(why, size, "%s: %.17g != expected %.17g (rel %.3g)", path, g, w,
                            check_rel_error(g, w)),
                   0;
        return 1;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            return snprintf(why, size, "%s: expected an array of %zu", path, json_array_size(want)),
                   0;
        for (size_t i = 0; i < json_array_size(want); i++) {
            char p[256];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            if (!check_json_close(json_array_get(want, i), json_array_get(got, i), tol, st, why,
                                  size, p))
                return 0;
        }
        return 1;
    }
    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v)
        {
            char p[256];
            snprintf(p, sizeof p, "%s.%s", path, k);
            json_t *g = json_is_object(got) ? json_object_get(got, k) : NULL;
            if (!g)
                return snprintf(why, size, "%s: missing", p), 0;
            if (!check_json_close(v, g, tol, st, why, size, p))
                return 0;
        }
        return 1;
    }
    if (json_equal(want, got))
        return 1;
    return snprintf(why, size, "%s: value differs", path), 0;
}

#endif
