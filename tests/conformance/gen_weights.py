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

The multi-label features of README "Multi-label weights", "power" and "Repeat
factors" are referenced in PyTorch float64 (torch 1.13, Debian's python3-torch):
positives are the column sums of the N x C 0/1 matrix, pos_weight = (N - n_pos) /
n_pos, the weights the schemes above applied to the positives, sample weights the
max or mean of a sample's class weights (the smallest weight of a class with
positives for a sample without labels), and repeat factors r_c = max(1,
sqrt(t / f_c)), f_c = n_pos / N, r_i = max of r_c over image i's classes (1 when it
has none), in the order of operations of detectron2's RepeatFactorTrainingSampler
(Gupta et al., LVIS, CVPR 2019). Each is cross-checked against a 50-digit mpmath
evaluation, "balanced" on positives against scikit-learn, and pos_weight against
its defining identity (pos_weight * n_pos = N - n_pos, the negatives). Where the
float64 formula itself overflows (power with counts near the ends of the double
range), the expected value is the 50-digit one rounded to a double.

effective_number is evaluated as (1 - beta) / -expm1(n ln beta), which is the
contract's formula without the cancellation of 1 - beta**n: for the case
"nonint_effective_number" (n = 1e-3, beta = 0.999) the naive pow form is off by
9e-12 relative, beyond the tolerance.
"""

import json
import os
import sys

import math

import mpmath
import numpy as np
import sklearn
import torch
from sklearn.utils.class_weight import compute_class_weight

SCHEMES = ["max_over_count", "inverse", "balanced", "inverse_sqrt",
           "effective_number", "median_frequency", "enet"]
DEFAULT_EXPONENT = 1.0
DEFAULT_THRESHOLD = 0.001
NORMALIZES = ["none", "sum", "mean", "max"]
DEFAULT_BETA = 0.999
DEFAULT_C = 1.02

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "weights_cases.json")

rng = np.random.default_rng(20240611)


# ---------------------------------------------------------------- reference (float64)

def class_weights(counts, scheme, normalize="none", beta=DEFAULT_BETA, c=DEFAULT_C,
                  zero_ok=False, q=DEFAULT_EXPONENT):
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
    elif scheme == "power":
        w = torch.pow(torch.tensor(n, dtype=torch.float64), -q).numpy()
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


def class_weights_mp(counts, scheme, normalize="none", beta=DEFAULT_BETA, c=DEFAULT_C,
                     q=DEFAULT_EXPONENT):
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
    elif scheme == "power":
        w = [mpmath.power(x, -mpmath.mpf(q)) for x in n]
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
        beta=None, c=None, zero_counts=None, sample_weights=None, exponent=None, exact=False):
    """exact: the expected weights are the 50-digit ones rounded to doubles (counts
    near the ends of the double range, where the float64 formula overflows)."""
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
    if exponent is not None:
        req["exponent"] = num(exponent)
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
    q = DEFAULT_EXPONENT if exponent is None else float(exponent)
    if not zero_ok:
        assert np.all(cnt > 0), name

    wm = class_weights_mp(cnt, sch, nrm, b, cc, q)
    if exact:
        w = np.array([float(x) for x in wm])
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            w = class_weights(cnt, sch, nrm, b, cc, zero_ok, q)
    assert np.all(np.isfinite(w)), name

    # cross-check 1: 50-digit evaluation of the same formula
    for x, y in zip(w, wm):
        if y == 0 or (exact and x == 0.0):
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

# 9. scheme "power", w_c = n_c^-q (Kang et al. 2020) (30)
for j, q in enumerate([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 0.1, 1.25]):
    C = int(rng.integers(2, 9))
    gen = (int_counts, longtail_counts, real_counts)[j % 3]
    add(f"power_q{q}_{NORMALIZES[j % 4]}_C{C}", counts=gen(C), scheme="power",
        exponent=q if (q != 1.0 or j % 2) else None, normalize=NORMALIZES[j % 4])
for j, q in enumerate([0.5, 1.0, 2.0, 0.3]):
    C = int(rng.integers(3, 8))
    L = int(rng.integers(C, 60))
    labels = list(range(C)) + [int(x) for x in rng.integers(0, C, size=L - C)]
    add(f"power_labels_q{q}", labels=[int(x) for x in rng.permutation(labels)],
        scheme="power", exponent=q, sample_weights=True, normalize=NORMALIZES[j % 4])
add("power_zero_counts", counts=[0, 10, 0, 1000, 3], scheme="power", exponent=0.7,
    zero_counts="zero", normalize="mean")
add("power_zero_counts_none", counts=[5, 0, 50], scheme="power", exponent=1.5,
    zero_counts="zero")
add("power_q64", counts=[1.5, 2, 3], scheme="power", exponent=64)
add("power_q64_max", counts=[1.5, 2, 3], scheme="power", exponent=64, normalize="max")
add("power_q20_wide", counts=[1e-10, 1e10, 3], scheme="power", exponent=20)
add("power_q5_sum", counts=[7, 1, 30, 2], scheme="power", exponent=5, normalize="sum")
add("power_huge_tiny_none", counts=[1e-300, 1e300, 1], scheme="power", exponent=0.9,
    exact=True)
add("power_huge_tiny_sum", counts=[1e-300, 1e300, 1], scheme="power", exponent=1.02,
    normalize="sum", exact=True)
add("power_huge_mean", counts=[1e300, 1e299, 5e307], scheme="power", exponent=1.0,
    normalize="mean", exact=True)
add("power_tiny_q4", counts=[1e-70, 1e-60], scheme="power", exponent=4, exact=True)
add("power_2p53", counts=[1, 2 ** 53, 12345], scheme="power", exponent=0.5, normalize="max")
add("power_C1", counts=[42], scheme="power", exponent=2.5)
add("power_C1000", counts=[int(x) for x in rng.integers(1, 100001, size=1000)],
    scheme="power", exponent=0.6, normalize="mean")

# ---------------------------------------------------------------- multi-label

ml_counts = {"matrix": 0, "label_sets": 0, "reduce": 0, "repeat_factor": 0}


def ml_reference(sets, C, scheme, normalize, beta, c, q, t, zero_ok, reduce):
    """The multi-label answer in PyTorch float64 from the formulas (module docstring)."""
    N = len(sets)
    Y = torch.zeros((N, C), dtype=torch.float64)
    for i, s in enumerate(sets):
        for k in set(s):
            Y[i, k] = 1.0
    pos = Y.sum(dim=0)
    if not zero_ok:
        assert bool(torch.all(pos > 0))
    assert bool(torch.any(pos > 0))
    live = pos > 0
    pos_weight = torch.where(live, (N - pos) / torch.where(live, pos, torch.ones_like(pos)),
                             torch.zeros_like(pos))
    if scheme == "repeat_factor":
        # detectron2's RepeatFactorTrainingSampler, category by category, in Python floats
        r = [max(1.0, math.sqrt(t / (float(p) / N))) if p > 0 else 0.0 for p in pos.tolist()]
        w = torch.tensor(r, dtype=torch.float64)
    else:
        w = torch.tensor(class_weights(pos.numpy(), scheme, normalize, beta, c, zero_ok, q),
                         dtype=torch.float64)
    wmin = torch.min(w[live])
    sw, rf = [], []
    for i in range(N):
        cls = torch.nonzero(Y[i]).flatten()
        if cls.numel() == 0:
            sw.append(float(wmin))
            rf.append(1.0)
            continue
        sw.append(float(torch.max(w[cls]) if reduce == "max" else torch.mean(w[cls])))
        rf.append(float(torch.max(w[cls])))
    return Y, pos, pos_weight, w, sw, rf


def ml_mp_check(name, Y, pos, pos_weight, w, scheme, normalize, beta, c, q, t):
    """50-digit cross-checks of the multi-label reference."""
    global max_rel_mp
    mpmath.mp.dps = 50
    N = Y.shape[0]
    for p, pw in zip(pos.tolist(), pos_weight.tolist()):
        if p > 0:
            exact = (mpmath.mpf(N) - p) / p
            rel = float(abs(mpmath.mpf(pw) - exact) / exact) if exact else abs(pw)
            assert rel < 2.3e-16, (name, rel)
            assert abs(pw * p - (N - p)) <= 1e-9 * N, name  # pos_weight * n_pos = negatives
    if scheme == "repeat_factor":
        wm = [max(mpmath.mpf(1), mpmath.sqrt(mpmath.mpf(t) / (mpmath.mpf(p) / N))) if p > 0
              else mpmath.mpf(0) for p in pos.tolist()]
    else:
        wm = class_weights_mp(pos.numpy(), scheme, normalize, beta, c, q)
    for x, y in zip(w.tolist(), wm):
        if y == 0:
            assert x == 0.0, name
        else:
            rel = float(abs(mpmath.mpf(x) - y) / abs(y))
            max_rel_mp = max(max_rel_mp, rel)
            assert rel < 3e-13, (name, rel)


def add_ml(name, sets, as_matrix, num_classes=None, scheme=None, normalize=None, beta=None,
           c=None, exponent=None, threshold=None, zero_counts=None, sample_weights=None,
           reduce=None, kind=None):
    """A multi-label case: label_sets, or (as_matrix) the same samples as a 0/1 matrix."""
    global sklearn_checks
    assert name not in names, name
    names.add(name)
    top = max([k for s in sets for k in s], default=-1)
    C = num_classes if num_classes is not None else top + 1
    req = {}
    if as_matrix:
        req["labels"] = [[1 if k in set(s) else 0 for k in range(C)] for s in sets]
        if num_classes is not None and rng.random() < 0.5:
            req["num_classes"] = int(C)
    else:
        req["label_sets"] = [[int(k) for k in s] for s in sets]
        if num_classes is not None:
            req["num_classes"] = int(C)
    for key, v in (("scheme", scheme), ("normalize", normalize), ("beta", beta), ("c", c),
                   ("exponent", exponent), ("threshold", threshold),
                   ("zero_counts", zero_counts), ("sample_weights", sample_weights),
                   ("sample_weight_reduce", reduce)):
        if v is not None:
            req[key] = v
    sch = scheme or "max_over_count"
    nrm = normalize or "none"
    b = DEFAULT_BETA if beta is None else beta
    cc = DEFAULT_C if c is None else c
    q = DEFAULT_EXPONENT if exponent is None else exponent
    t = DEFAULT_THRESHOLD if threshold is None else threshold
    Y, pos, pos_weight, w, sw, rf = ml_reference(sets, C, sch, nrm, b, cc, q, t,
                                                 zero_counts == "zero", reduce or "max")
    assert all(math.isfinite(x) for x in w.tolist()), name
    ml_mp_check(name, Y, pos, pos_weight, w, sch, nrm, b, cc, q, t)
    if sch == "balanced" and nrm == "none" and zero_counts != "zero":
        # balanced on positives = sklearn's balanced on every (sample, class) pair's class
        y = [k for s in sets for k in sorted(set(s))]
        sk = compute_class_weight("balanced", classes=np.arange(C), y=np.array(y))
        assert np.allclose(w.numpy(), sk, rtol=1e-12, atol=0), name
        sklearn_checks += 1
    exp = {"weights": w.tolist(), "counts": [int(x) for x in pos.tolist()],
           "num_classes": int(C), "scheme": sch, "normalize": nrm, "num_samples": len(sets),
           "positives": [int(x) for x in pos.tolist()], "pos_weight": pos_weight.tolist()}
    if sample_weights:
        exp["sample_weights"] = sw
    if sch == "repeat_factor":
        exp["repeat_factors"] = rf
    ml_counts[kind or ("matrix" if as_matrix else "label_sets")] += 1
    if reduce is not None:
        ml_counts["reduce"] += 1
    cases.append({"name": name, "request": req, "expected": exp})


def random_sets(N, C, p=0.3, empty_ok=True, dup=False):
    """N label sets over C classes, every class in at least one set."""
    sets = []
    for _ in range(N):
        s = [int(k) for k in np.flatnonzero(rng.random(C) < p)]
        if not s and not empty_ok:
            s = [int(rng.integers(0, C))]
        if dup and s and rng.random() < 0.5:
            s.append(s[0])
        sets.append([int(k) for k in rng.permutation(s)])
    for k in range(C):
        if not any(k in s for s in sets):
            sets[int(rng.integers(0, N))].append(k)
    return sets


ML_SCHEMES = SCHEMES + ["power"]


def ml_params(scheme, i):
    p = scheme_params(scheme, i)
    if scheme == "power":
        p = {"exponent": [0.5, 1.0, 0.75, 2.0][i % 4]}
    return {k: v for k, v in p.items() if v is not None}


# 10. a 2-D 0/1 labels matrix, every scheme (24)
for j in range(24):
    sch = ML_SCHEMES[j % len(ML_SCHEMES)]
    C = int(rng.integers(2, 8))
    N = int(rng.integers(C, 40))
    add_ml(f"matrix_{sch}_{j}", random_sets(N, C, p=float(rng.uniform(0.1, 0.6))), True,
           scheme=sch, normalize=NORMALIZES[j % 4], sample_weights=bool(j % 3 == 0),
           **ml_params(sch, j))
# 11. label_sets, every scheme, repeats inside a set, empty sets (24)
for j in range(24):
    sch = ML_SCHEMES[(j + 3) % len(ML_SCHEMES)]
    C = int(rng.integers(2, 10))
    N = int(rng.integers(3, 50))
    add_ml(f"sets_{sch}_{j}", random_sets(N, C, p=float(rng.uniform(0.05, 0.5)), dup=True),
           False, scheme=sch, normalize=NORMALIZES[(j + 1) % 4],
           sample_weights=bool(j % 3 == 1), **ml_params(sch, j))
# zero positives, zero_counts both ways; num_classes beyond the ids; all-empty but one
add_ml("sets_zero_positives_zero", [[0], [2], [], [0, 2]], False, num_classes=5,
       zero_counts="zero", scheme="inverse", sample_weights=True)
add_ml("sets_zero_positives_balanced_mean", [[1, 3], [3], [3, 1, 1]], False, num_classes=4,
       zero_counts="zero", scheme="balanced", normalize="mean")
add_ml("matrix_zero_positives_zero", [[0], [], [0], [3]], True, num_classes=4,
       zero_counts="zero", scheme="power", exponent=0.5, sample_weights=True)
add_ml("sets_one_positive_of_many", [[], [], [], [2], []], False, num_classes=3,
       zero_counts="zero", sample_weights=True, reduce="mean")
add_ml("sets_every_sample_every_class", [[0, 1, 2]] * 6, False, scheme="inverse")
add_ml("matrix_every_sample_every_class", [[0, 1]] * 3, True, scheme="balanced",
       sample_weights=True)
add_ml("sets_single_sample", [[4, 1]], False, num_classes=5, zero_counts="zero",
       scheme="effective_number", beta=0.9)
add_ml("sets_many_classes", random_sets(200, 300, p=0.02), False, scheme="power",
       exponent=0.5, normalize="sum", sample_weights=True, reduce="mean")
add_ml("matrix_many_samples", random_sets(500, 6, p=0.2), True, scheme="inverse",
       normalize="max", sample_weights=True)
add_ml("sets_long_rows", [list(range(20)), list(range(0, 20, 2)), [19] * 3], False,
       scheme="max_over_count", sample_weights=True, reduce="mean")

# 12. sample_weight_reduce max and mean, with empty samples (24)
for j in range(24):
    sch = ML_SCHEMES[j % len(ML_SCHEMES)]
    C = int(rng.integers(2, 8))
    N = int(rng.integers(4, 40))
    add_ml(f"reduce_{['max', 'mean'][j % 2]}_{sch}_{j}",
           random_sets(N, C, p=float(rng.uniform(0.1, 0.5))), bool(j % 4 >= 2), scheme=sch,
           normalize=NORMALIZES[(j // 2) % 4], sample_weights=True,
           reduce=["max", "mean"][j % 2], kind="matrix" if j % 4 >= 2 else "label_sets",
           **ml_params(sch, j))

# 13. scheme repeat_factor (LVIS) (30)
for j, t in enumerate([None, 0.001, 0.01, 0.1, 0.3, 0.5, 1.0, 0.0, 1e-6, 0.05,
                       None, 0.2, 0.9, 0.001, 0.02, 0.4]):
    C = int(rng.integers(2, 30))
    N = int(rng.integers(5, 300))
    sets = random_sets(N, C, p=float(rng.uniform(0.01, 0.2)), dup=bool(j % 2))
    add_ml(f"repeat_factor_t{t}_{j}", sets, bool(j % 3 == 2), scheme="repeat_factor",
           threshold=t, sample_weights=bool(j % 4 == 1), reduce=["max", "mean"][j % 2]
           if j % 4 == 1 else None, kind="repeat_factor")
# a long tail: frequent categories keep 1, rare ones repeat (as in LVIS)
lt = [[0] for _ in range(900)] + [[0, 1] for _ in range(90)] + [[2] for _ in range(9)] + [[3]]
add_ml("repeat_factor_longtail", lt, False, scheme="repeat_factor", threshold=0.01,
       kind="repeat_factor")
add_ml("repeat_factor_empty_images", [[], [0], [], [1, 0], []], False, scheme="repeat_factor",
       threshold=0.5, kind="repeat_factor")
add_ml("repeat_factor_t0", [[0], [1], [1]], False, scheme="repeat_factor", threshold=0.0,
       kind="repeat_factor")
add_ml("repeat_factor_t1", [[0], [1], [1], [0, 1], [2]], True, scheme="repeat_factor",
       threshold=1.0, kind="repeat_factor")
add_ml("repeat_factor_tiny_t", [[0], [1]], False, scheme="repeat_factor", threshold=5e-324,
       kind="repeat_factor")
add_ml("repeat_factor_zero_positives", [[0], [3], [3, 0]], False, num_classes=5,
       zero_counts="zero", scheme="repeat_factor", threshold=0.9, sample_weights=True,
       kind="repeat_factor")
add_ml("repeat_factor_many_images", random_sets(3000, 40, p=0.01), False,
       scheme="repeat_factor", threshold=0.02, kind="repeat_factor")
add_ml("repeat_factor_one_image", [[2, 0]], False, num_classes=3, zero_counts="zero",
       scheme="repeat_factor", threshold=0.7, kind="repeat_factor")
add_ml("repeat_factor_duplicates", [[1, 1, 1], [0], [0], [0]], False, scheme="repeat_factor",
       threshold=0.6, kind="repeat_factor")
add_ml("repeat_factor_matrix_mean", [[0, 1], [], [1], [1], [2, 1]], True,
       scheme="repeat_factor", threshold=0.3, sample_weights=True, reduce="mean",
       kind="repeat_factor")

# repeat_factor with one label per image: sets of one (2)
for name, labels, t in (("repeat_factor_labels_1d", [0, 0, 0, 1, 2, 2, 0, 0, 0, 0], 0.2),
                        ("repeat_factor_labels_1d_default", [1, 0, 1, 1], None)):
    C = max(labels) + 1
    Y, pos, pw, w, sw, rf = ml_reference([[y] for y in labels], C, "repeat_factor", "none",
                                         DEFAULT_BETA, DEFAULT_C, 1.0,
                                         DEFAULT_THRESHOLD if t is None else t, False, "max")
    req = {"labels": labels, "scheme": "repeat_factor"}
    if t is not None:
        req["threshold"] = t
    names.add(name)
    ml_counts["repeat_factor"] += 1
    cases.append({"name": name, "request": req,
                  "expected": {"weights": w.tolist(), "counts": [int(x) for x in pos.tolist()],
                               "num_classes": C, "positives": [int(x) for x in pos.tolist()],
                               "pos_weight": pw.tolist(), "repeat_factors": rf}})

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
print("multi-label cases:", json.dumps(ml_counts))
print(f"sklearn 'balanced' cross-checks: {sklearn_checks}; "
      f"max relative difference float64 vs 50-digit: {max_rel_mp:.3g}")
