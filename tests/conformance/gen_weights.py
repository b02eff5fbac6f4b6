#!/usr/bin/python3
"""Generate tests/conformance/weights_cases.json: conformance fixtures for POST /weights.

The expected values are computed independently in NumPy float64 straight from the
formulas of the contract (README.md "POST /weights", api/openapi.yaml). They were produced with
NumPy 1.24.2 and scikit-learn 1.2.1 (Debian's python3-numpy / python3-sklearn);
every "balanced" case is cross-checked against
sklearn.utils.class_weight.compute_class_weight("balanced", ...) and every case
against a 50-digit mpmath evaluation of the same formula, inside this script.

Regenerate (deterministic, fixed seed) from the repository root with:

    /usr/bin/python3 tests/conformance/gen_weights.py

Each case is {"name", "request", "expected"}; "expected" holds "weights",
"counts", "num_classes" (the number of entries of "weights", i.e. every class
including those of count 0) and "sample_weights" when the request asks for it.
Weights are to be compared with a relative tolerance of 1e-12 (absolute 1e-15
near zero); zero-count classes under zero_counts "zero" are exactly 0.

effective_number is evaluated as (1 - beta) / -expm1(n ln beta), which is the
contract's formula without the cancellation of 1 - beta**n: for the case
"nonint_effective_number" (n = 1e-3, beta = 0.999) the naive pow form is off by
9e-12 relative, beyond the tolerance.
"""

import json
import os
import sys

import mpmath
import numpy as np
import sklearn
from sklearn.utils.class_weight import compute_class_weight

SCHEMES = ["max_over_count", "inverse", "balanced", "inverse_sqrt",
           "effective_number", "median_frequency", "enet"]
NORMALIZES = ["none", "sum", "mean", "max"]
DEFAULT_BETA = 0.999
DEFAULT_C = 1.02

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "weights_cases.json")

rng = np.random.default_rng(20240611)


# ---------------------------------------------------------------- reference (float64)

def class_weights(counts, scheme, normalize="none", beta=DEFAULT_BETA, c=DEFAULT_C,
                  zero_ok=False):
    """The contract's formulas in NumPy float64. Zero-count classes (only allowed with
    zero_ok) get weight 0 and are left out of C, N, the median, maxima and normalisation."""
    n_all = np.asarray(counts, dtype=np.float64)
    assert n_all.ndim == 1 and n_all.size >= 1
    assert np.all(np.isfinite(n_all)) and np.all(n_all >= 0) and np.any(n_all > 0)
    live = n_all > 0
    if not zero_ok:
        assert np.all(live), "zero count under zero_counts=error"
    n = n_all[live]
    C = float(n.size)
    N = float(np.sum(n))
    if scheme == "max_over_count":
        w = np.max(n) / n
    elif scheme == "inverse":
        w = 1.0 / n
    elif scheme == "balanced":
        w = N / (C * n)
    elif scheme == "inverse_sqrt":
        w = 1.0 / np.sqrt(n)
    elif scheme == "effective_number":
        # 1 - beta^n written as -expm1(n ln beta): the same quantity, but exact to a few
        # ulp even when beta^n is close to 1 (fractional counts, beta near 1), where
        # 1 - pow(beta, n) cancels (n = 1e-3, beta = 0.999 loses 1e-10 relative).
        with np.errstate(divide="ignore"):
            w = (1.0 - beta) / -np.expm1(n * np.log(beta))  # beta = 0: log -> -inf, w = 1
    elif scheme == "median_frequency":
        f = n / N
        w = np.median(f) / f
    elif scheme == "enet":
        w = 1.0 / np.log(c + n / N)
    else:
        raise ValueError(scheme)
    if normalize == "sum":
        w = w / np.sum(w)
    elif normalize == "mean":
        w = w / np.mean(w)
    elif normalize == "max":
        w = w / np.max(w)
    else:
        assert normalize == "none"
    out = np.zeros_like(n_all)
    out[live] = w
    return out


def class_weights_mp(counts, scheme, normalize="none", beta=DEFAULT_BETA, c=DEFAULT_C):
    """The same formulas evaluated with 50 significant digits from the same doubles."""
    mpmath.mp.dps = 50
    allc = [mpmath.mpf(float(x)) for x in counts]
    live = [i for i, x in enumerate(allc) if x > 0]
    n = [allc[i] for i in live]
    C = mpmath.mpf(len(n))
    N = mpmath.fsum(n)
    b = mpmath.mpf(beta)
    cc = mpmath.mpf(c)
    if scheme == "max_over_count":
        w = [max(n) / x for x in n]
    elif scheme == "inverse":
        w = [1 / x for x in n]
    elif scheme == "balanced":
        w = [N / (C * x) for x in n]
    elif scheme == "inverse_sqrt":
        w = [1 / mpmath.sqrt(x) for x in n]
    elif scheme == "effective_number":
        w = [(1 - b) / (1 - mpmath.power(b, x)) for x in n]
    elif scheme == "median_frequency":
        f = [x / N for x in n]
        s = sorted(f)
        k = len(s)
        med = s[k // 2] if k % 2 else (s[k // 2 - 1] + s[k // 2]) / 2
        w = [med / x for x in f]
    elif scheme == "enet":
        w = [1 / mpmath.log(cc + x / N) for x in n]
    if normalize == "sum":
        s = mpmath.fsum(w)
        w = [x / s for x in w]
    elif normalize == "mean":
        s = mpmath.fsum(w) / C
        w = [x / s for x in w]
    elif normalize == "max":
        m = max(w)
        w = [x / m for x in w]
    out = [mpmath.mpf(0)] * len(allc)
    for i, x in zip(live, w):
        out[i] = x
    return out


# ---------------------------------------------------------------- case building

cases = []
names = set()
sklearn_checks = 0
max_rel_mp = 0.0


def num(x):
    """A JSON number: integral values that were given as integers stay integers."""
    if isinstance(x, (int, np.integer)):
        return int(x)
    return float(x)


def add(name, counts=None, labels=None, num_classes=None, scheme=None, normalize=None,
        beta=None, c=None, zero_counts=None, sample_weights=None):
    global sklearn_checks, max_rel_mp
    assert name not in names, name
    names.add(name)
    assert (counts is None) != (labels is None)
    req = {}
    if counts is not None:
        req["counts"] = [num(x) for x in counts]
        cnt = np.array([float(x) for x in counts], dtype=np.float64)
    else:
        labels = [int(x) for x in labels]
        req["labels"] = labels
        K = num_classes if num_classes is not None else max(labels) + 1
        if num_classes is not None:
            req["num_classes"] = int(num_classes)
        cnt = np.bincount(np.array(labels, dtype=np.int64), minlength=K).astype(np.float64)
        assert cnt.size == K
    if scheme is not None:
        req["scheme"] = scheme
    if beta is not None:
        req["beta"] = float(beta)
    if c is not None:
        req["c"] = float(c)
    if normalize is not None:
        req["normalize"] = normalize
    if zero_counts is not None:
        req["zero_counts"] = zero_counts
    if sample_weights is not None:
        req["sample_weights"] = bool(sample_weights)
    sch = scheme or "max_over_count"
    nrm = normalize or "none"
    b = DEFAULT_BETA if beta is None else float(beta)
    cc = DEFAULT_C if c is None else float(c)
    zero_ok = zero_counts == "zero"
    if not zero_ok:
        assert np.all(cnt > 0), name

    w = class_weights(cnt, sch, nrm, b, cc, zero_ok)
    assert np.all(np.isfinite(w)), name

    # cross-check 1: 50-digit evaluation of the same formula
    wm = class_weights_mp(cnt, sch, nrm, b, cc)
    for x, y in zip(w, wm):
        if y == 0:
            assert x == 0.0, name
        else:
            rel = float(abs(mpmath.mpf(float(x)) - y) / abs(y))
            max_rel_mp = max(max_rel_mp, rel)
            assert rel < 3e-13, (name, rel)

    # cross-check 2: sklearn for "balanced" (before normalisation)
    if sch == "balanced":
        live = np.flatnonzero(cnt > 0)
        if labels is not None:
            y = np.array(labels)
        elif np.all(cnt == np.round(cnt)) and cnt.sum() <= 2_000_000:
            y = np.repeat(np.arange(cnt.size), cnt.astype(np.int64))
        else:
            y = None
        if y is not None:
            sk = compute_class_weight("balanced", classes=live, y=y)
            raw = class_weights(cnt, "balanced", "none", zero_ok=zero_ok)[live]
            assert np.allclose(raw, sk, rtol=1e-12, atol=0), name
            sklearn_checks += 1

    exp = {"weights": [float(x) for x in w],
           "counts": ([num(x) for x in counts] if counts is not None
                      else [int(x) for x in cnt]),
           "num_classes": int(cnt.size)}
    if sample_weights:
        assert labels is not None
        exp["sample_weights"] = [float(w[i]) for i in labels]
    cases.append({"name": name, "request": req, "expected": exp})


def maybe(value, default):
    """Send a field at its default value only half of the time."""
    if value == default and rng.random() < 0.5:
        return None
    return value


def scheme_params(scheme, i):
    """Vary beta / c across the cases of a scheme (sometimes left at the default)."""
    if scheme == "effective_number":
        b = [None, 0.999, 0.99, 0.9, 0.5, 0.9999][i % 6]
        return {"beta": b}
    if scheme == "enet":
        c = [None, 1.02, 1.1, 1.5, 2.0, 1.05][i % 6]
        return {"c": c}
    return {}


def int_counts(C):
    return [int(x) for x in rng.integers(1, 1001, size=C)]


def longtail_counts(C):
    head = int(rng.integers(1000, 100001))
    ratios = np.sort(rng.uniform(0.0, 1.0, size=C))[::-1] ** 3
    out = [max(1, int(head * r)) for r in ratios]
    out[0] = head
    return [int(x) for x in rng.permutation(out)]


def real_counts(C):
    return [float(np.round(x, 3)) for x in rng.uniform(0.5, 200.0, size=C)]


# 1. every scheme x every normalize, three kinds of counts (84 cases)
k = 0
for scheme in SCHEMES:
    for normalize in NORMALIZES:
        for kind, gen in (("int", int_counts), ("longtail", longtail_counts),
                          ("real", real_counts)):
            C = int(rng.integers(2, 9))
            counts = gen(C)
            p = scheme_params(scheme, k)
            k += 1
            add(f"{scheme}_{normalize}_{kind}_C{C}", counts=counts,
                scheme=maybe(scheme, "max_over_count"),
                normalize=maybe(normalize, "none"), **p)

# 2. zero_counts "zero": zero classes get 0 and leave C and every statistic (14 + 3)
for scheme in SCHEMES:
    for j, normalize in enumerate(["none", NORMALIZES[1 + SCHEMES.index(scheme) % 3]]):
        C = int(rng.integers(4, 9))
        counts = int_counts(C)
        nz = rng.choice(C, size=int(rng.integers(1, C - 1)), replace=False)
        for i in nz:
            counts[int(i)] = 0
        p = scheme_params(scheme, j + 1)
        add(f"zero_{scheme}_{normalize}_C{C}", counts=counts, scheme=scheme,
            normalize=maybe(normalize, "none"), zero_counts="zero", **p)
add("zero_effective_number_beta0", counts=[0, 3, 0, 7.5, 1], scheme="effective_number",
    beta=0.0, zero_counts="zero", normalize="mean")
add("zero_median_frequency_even_live", counts=[10, 0, 40, 0, 20, 80, 0],
    scheme="median_frequency", zero_counts="zero")
add("zero_only_one_live", counts=[0, 0, 17, 0], scheme="balanced", zero_counts="zero",
    normalize="sum")

# 3. labels input, with and without num_classes, with sample_weights (21 + 4)
for j, scheme in enumerate(SCHEMES):
    C = int(rng.integers(2, 7))
    L = int(rng.integers(C, 60))
    labels = list(range(C)) + [int(x) for x in rng.integers(0, C, size=L - C)]
    labels = [int(x) for x in rng.permutation(labels)]
    p = scheme_params(scheme, j)
    add(f"labels_{scheme}_C{C}", labels=labels, scheme=scheme, **p)
    add(f"labels_{scheme}_num_classes_C{C}", labels=labels, num_classes=C, scheme=scheme,
        normalize=NORMALIZES[j % 4], sample_weights=True, **p)
    # num_classes larger than max(label)+1: absent classes have count 0
    K = C + int(rng.integers(1, 3))
    add(f"labels_{scheme}_absent_classes_K{K}", labels=labels, num_classes=K, scheme=scheme,
        zero_counts="zero", normalize=NORMALIZES[(j + 1) % 4],
        sample_weights=bool(j % 2 == 0), **p)
for normalize in NORMALIZES:
    C = int(rng.integers(2, 9))
    L = int(rng.integers(50, 200))
    labels = [int(x) for x in rng.integers(0, C, size=L)]
    labels[:C] = list(range(C))
    add(f"labels_balanced_sklearn_{normalize}", labels=labels, scheme="balanced",
        normalize=normalize, sample_weights=(normalize != "none"))
add("labels_sample_weights_false", labels=[0, 1, 1, 2, 2, 2], sample_weights=False)

# 4. non-integer counts, counts of 1 and 2**53 (7 + 7)
for j, scheme in enumerate(SCHEMES):
    add(f"nonint_{scheme}", counts=[0.5, 2.25, 1e-3, 1234.5678, 7.0], scheme=scheme,
        normalize=NORMALIZES[j % 4],
        **({"beta": 0.999} if scheme == "effective_number" else {}))
for j, scheme in enumerate(SCHEMES):
    add(f"one_and_2p53_{scheme}", counts=[1, 2 ** 53, 1, 12345], scheme=scheme,
        normalize=NORMALIZES[(j + 2) % 4], **scheme_params(scheme, j))

# 5. a single class (7)
for j, scheme in enumerate(SCHEMES):
    add(f"C1_{scheme}", counts=[[5, 1, 2.5, 1000, 42, 7, 3][j]], scheme=scheme,
        normalize=NORMALIZES[j % 4])

# 6. a thousand classes (5)
for scheme, normalize, extra in (("max_over_count", "none", {}),
                                 ("balanced", "mean", {}),
                                 ("effective_number", "mean", {"beta": 0.9999}),
                                 ("median_frequency", "none", {}),
                                 ("inverse_sqrt", "sum", {})):
    counts = [int(x) for x in rng.integers(1, 100001, size=1000)]
    add(f"C1000_{scheme}_{normalize}", counts=counts, scheme=scheme, normalize=normalize,
        **extra)

# 7. beta 0 and 0.9999, c 1.5 (9)
add("beta0_none", counts=[3, 1, 100], scheme="effective_number", beta=0.0)
add("beta0_sum", counts=[0.25, 8, 9000], scheme="effective_number", beta=0.0,
    normalize="sum")
add("beta09999_longtail", counts=[50000, 2000, 100, 10, 1], scheme="effective_number",
    beta=0.9999)
add("beta09999_mean", counts=[50000, 2000, 100, 10, 1], scheme="effective_number",
    beta=0.9999, normalize="mean")
add("beta09999_large", counts=[10 ** 6, 10 ** 5, 3 * 10 ** 4], scheme="effective_number",
    beta=0.9999, normalize="max")
add("beta_default_explicit", counts=[1000, 100, 10], scheme="effective_number", beta=0.999)
add("c15_none", counts=[900, 90, 9, 1], scheme="enet", c=1.5)
add("c15_max", counts=[900, 90, 9, 1], scheme="enet", c=1.5, normalize="max")
add("c_default_explicit", counts=[900, 90, 9, 1], scheme="enet", c=1.02, normalize="none")

# 8. the seed's example and a few defaults-only requests (4)
add("seed_max_over_count", counts=[100000, 100, 10])
add("seed_max_over_count_explicit", counts=[100000, 100, 10], scheme="max_over_count",
    normalize="none", zero_counts="error")
add("defaults_only_labels", labels=[2, 0, 1, 1, 2, 2])
add("median_frequency_odd", counts=[1, 2, 3, 4, 1000], scheme="median_frequency")

# sanity on the seed example
seed = next(x for x in cases if x["name"] == "seed_max_over_count")
assert seed["expected"]["weights"] == [1.0, 1000.0, 10000.0]


def dump(path, header, cases):
    lines = [json.dumps(c, allow_nan=False, separators=(",", ":")) for c in cases]
    head = json.dumps(header, allow_nan=False, indent=1)
    assert head.endswith("\n}")
    with open(path, "w") as f:
        f.write(head[:-2] + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n")


header = {"generator": "tests/conformance/gen_weights.py",
          "numpy": np.__version__,
          "sklearn": sklearn.__version__,
          "python": sys.version.split()[0],
          "dtype": "float64",
          "tolerance": {"rel": 1e-12, "abs": 1e-15}}
dump(OUT, header, cases)

# reload and recheck
with open(OUT) as f:
    data = json.load(f)
assert len(data["cases"]) == len(cases)
by_scheme = {}
for cse in data["cases"]:
    s = cse["request"].get("scheme", "max_over_count")
    by_scheme[s] = by_scheme.get(s, 0) + 1
print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)}")
print("per scheme:", json.dumps(by_scheme))
print(f"sklearn 'balanced' cross-checks: {sklearn_checks}; "
      f"max relative difference float64 vs 50-digit: {max_rel_mp:.3g}")
