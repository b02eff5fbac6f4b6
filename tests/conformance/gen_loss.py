#!/usr/bin/python3
"""Generate tests/conformance/loss_cases.json: conformance fixtures for POST /loss.

Expected values come from PyTorch run in float64 (torch.nn.functional.cross_entropy,
nll_loss, binary_cross_entropy_with_logits and torchvision.ops.sigmoid_focal_loss;
the multi-class "focal" loss, which PyTorch lacks, is written here with torch ops
from the formula in README.md, "POST /loss"). They were produced by Debian's python3-torch 1.13
(torch.__version__ "1.13.0a0") and python3-torchvision 0.14 ("0.14.1a0"); the
versions are also recorded in the JSON header.

Regenerate (deterministic: fixed numpy and torch seeds) from the repository root:

    /usr/bin/python3 tests/conformance/gen_loss.py

Each case is {"name", "request", "expected"}; "expected" holds "loss" (a number,
or a nested list for reduction "none"), "total_weight" (the "mean" denominator:
sum over kept positions of w[y_n] for class-index targets, whatever the reduction;
the number of positions for probability targets; the number of elements for the
binary losses) and "grad" (dloss/dinput, same shape as the input; with "none" the
gradient of the sum) when the request has "grad": true. A NaN result is written
as null and the case then has "warning": true in "expected".

Before writing, the script recomputes every case a second way: an independent
NumPy implementation of the formulas (loss, total_weight and grad), plus identities
between losses (focal with gamma 0 = cross_entropy, nll of log_softmax =
cross_entropy, one-hot probabilities = class indices, sigmoid_focal with alpha -1
and gamma 0 = bce_with_logits) and aten's own total_weight. Compare with a
relative tolerance of 1e-12, absolute 1e-15 near zero.

Random inputs on which torch and the float64 reimplementation differ by more than a
quarter of that tolerance are redrawn rather than written (the script prints how
many): there PyTorch's own rounding error is as large as the tolerance, e.g.
binary_cross_entropy_with_logits with target 0 and logit x << 0 computes
x + (log(e^-m + e^(-x-m)) + m) and keeps only ulp(|x|) absolute accuracy.
Focal losses with 0 < gamma < 1 are never combined with logits that make
1 - p_t exactly 0: torch's autograd gives NaN there (0 * inf).

The section "long-tail losses" (its own RNG, its cases written last) adds logit
adjustment (Menon et al. 2021; Balanced Softmax, Ren et al. 2020) with every
cross_entropy option and with focal, ldam (Cao et al. 2019, as their reference
LDAMLoss, with weights/DRW, ignore_index, every reduction) and reduction
"sum_over_batch_size" (Keras's) for every loss: a torch float64 reference written
from the papers' formulas, gradients by autograd, checked against numpy_eval on
the transformed logits.
"""

import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", category=UserWarning)
import torchvision  # noqa: E402
from torchvision.ops import sigmoid_focal_loss  # noqa: E402

torch.set_default_dtype(torch.float64)
torch.manual_seed(1313)
rng = np.random.default_rng(1313)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "loss_cases.json")
F64 = torch.float64

RTOL, ATOL = 1e-12, 1e-15

DEFAULTS = {"loss": "cross_entropy", "reduction": "mean", "ignore_index": -100,
            "label_smoothing": 0.0, "gamma": 2.0, "alpha": 0.25, "grad": False}

INDEX_LOSSES = ("cross_entropy", "nll", "focal")


# ------------------------------------------------------------------ torch oracle

def focal_torch(x, t, w, gamma, ignore_index, reduction):
    """Multi-class focal loss: l_n = -w[y_n] (1 - e^{p[n,y_n]})^gamma p[n,y_n],
    p = log_softmax over the class dim; 0 where y_n = ignore_index; mean divides
    by the kept weight sum exactly as cross_entropy does."""
    cdim = 0 if x.dim() == 1 else 1
    p = F.log_softmax(x, dim=cdim)
    keep = t != ignore_index
    tt = torch.where(keep, t, torch.zeros_like(t))
    pt = p.gather(cdim, tt.unsqueeze(cdim)).squeeze(cdim)
    wt = (w[tt] if w is not None else torch.ones_like(pt)) * keep
    # 1 - e^p as -expm1(p): the same number, without cancellation when p -> 0
    l = -wt * (-torch.expm1(pt)) ** gamma * pt
    l = torch.where(keep, l, torch.zeros_like(l))
    if reduction == "none":
        return l
    if reduction == "sum":
        return l.sum()
    return l.sum() / wt.sum()


def torch_eval(spec):
    """(loss tensor, total_weight float, grad tensor or None) from torch."""
    loss = spec["loss"]
    x = torch.tensor(spec["x"], dtype=F64, requires_grad=spec["grad"])
    red = spec["reduction"]
    w = None if spec["weights"] is None else torch.tensor(spec["weights"], dtype=F64)
    kind = spec["kind"]
    if kind == "index":
        t = torch.tensor(spec["t"], dtype=torch.int64)
    else:
        t = torch.tensor(spec["t"], dtype=F64)
    ii = spec["ignore_index"]
    if loss == "cross_entropy":
        out = F.cross_entropy(x, t, weight=w, reduction=red, ignore_index=ii,
                              label_smoothing=spec["label_smoothing"])
    elif loss == "nll":
        out = F.nll_loss(x, t, weight=w, reduction=red, ignore_index=ii)
    elif loss == "focal":
        out = focal_torch(x, t, w, spec["gamma"], ii, red)
    elif loss == "bce_with_logits":
        pw = None if spec["pos_weight"] is None else torch.tensor(spec["pos_weight"], dtype=F64)
        out = F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=red)
    elif loss == "sigmoid_focal":
        assert w is None
        out = sigmoid_focal_loss(x, t, alpha=spec["alpha"], gamma=spec["gamma"], reduction=red)
    else:
        raise ValueError(loss)
    grad = None
    if spec["grad"]:
        (out.sum() if red == "none" else out).backward()
        grad = x.grad.detach()
    # total_weight
    if kind == "index":
        keep = t != ii
        ww = w if w is not None else torch.ones(x.shape[0 if x.dim() == 1 else 1])
        tw = float(ww[t[keep]].sum()) if bool(keep.any()) else 0.0
    elif kind == "prob":
        tw = float(x.numel() // x.shape[0 if x.dim() == 1 else 1])
    else:
        tw = float(x.numel())
    return out.detach(), tw, grad


# ------------------------------------------------------------------ numpy second opinion

def np_logsoftmax(z):
    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    return s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))


def softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def to_rows(a, C):
    """(C) -> (1, C); (N, C, d...) -> (N*d..., C), class dim last."""
    if a.ndim == 1:
        return a[None, :]
    return np.moveaxis(a, 1, -1).reshape(-1, C)


def from_rows(g, shape):
    if len(shape) == 1:
        return g[0]
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g.reshape(moved), -1, 1)


def numpy_eval(spec):
    """An independent implementation of README.md's formulas: (loss, total_weight, grad)."""
    loss, red, kind = spec["loss"], spec["reduction"], spec["kind"]
    x = np.asarray(spec["x"], dtype=np.float64)
    shape = x.shape
    if loss in INDEX_LOSSES or kind == "prob":
        C = shape[0] if x.ndim == 1 else shape[1]
        w = np.ones(C) if spec["weights"] is None else np.asarray(spec["weights"], np.float64)
        X = to_rows(x, C)
        P = X.shape[0]
        if kind == "index":
            t = np.asarray(spec["t"], dtype=np.int64).reshape(-1)
            ii = spec["ignore_index"]
            keep = t != ii
            tt = np.where(keep, t, 0)
            wy = w[tt] * keep
            onehot = np.zeros_like(X)
            onehot[np.arange(P), tt] = 1.0
            tw = float(np.sum(wy))
            tshape = np.asarray(spec["t"]).shape
        else:
            T = to_rows(np.asarray(spec["t"], np.float64), C)
            tw = float(P)
            tshape = (shape[0],) + tuple(shape[2:]) if x.ndim > 1 else ()
        if loss == "nll":
            a = wy[:, None] * onehot
            l = -np.sum(a * X, axis=1)
            G = -a
        elif loss == "cross_entropy" or loss == "focal":
            p = np_logsoftmax(X)
            sm = np.exp(p)
            if loss == "cross_entropy":
                eps = spec["label_smoothing"]
                if kind == "index":
                    a = (1 - eps) * wy[:, None] * onehot + (eps / C) * w[None, :] * keep[:, None]
                else:
                    a = w[None, :] * ((1 - eps) * T + eps / C)
                l = -np.sum(a * p, axis=1)
                G = sm * np.sum(a, axis=1, keepdims=True) - a
            else:
                g = spec["gamma"]
                pt = p[np.arange(P), tt]
                u = -np.expm1(pt)
                l = np.where(keep, -wy * u ** g * pt, 0.0)
                if g == 0:
                    dl = -wy
                else:
                    dl = -wy * (u ** g - g * u ** (g - 1) * np.exp(pt) * pt)
                dl = np.where(keep, dl, 0.0)
                G = dl[:, None] * (onehot - sm)
        if red == "mean":
            val, G = np.sum(l) / tw, G / tw
        elif red == "sum":
            val = np.sum(l)
        else:
            val = l.reshape(tshape)
        return val, tw, from_rows(G, shape)
    # binary losses, elementwise
    y = np.asarray(spec["t"], np.float64)
    if loss == "bce_with_logits":
        w = 1.0 if spec["weights"] is None else np.asarray(spec["weights"], np.float64)
        pw = 1.0 if spec["pos_weight"] is None else np.asarray(spec["pos_weight"], np.float64)
        lw = 1.0 + (pw - 1.0) * y
        l = w * ((1.0 - y) * x + lw * softplus(-x))
        G = w * ((1.0 - y) - lw * sigmoid(-x))
    else:
        g, al = spec["gamma"], spec["alpha"]
        s = sigmoid(x)
        ce = (1.0 - y) * x + softplus(-x)
        pt = s * y + (1.0 - s) * (1.0 - y)
        u = 1.0 - pt
        l = ce * u ** g
        G = (s - y) * u ** g
        if g != 0:
            G = G - ce * g * u ** (g - 1) * s * (1.0 - s) * (2.0 * y - 1.0)
        if al >= 0:
            at = al * y + (1.0 - al) * (1.0 - y)
            l, G = at * l, at * G
    tw = float(x.size)
    if red == "mean":
        return np.sum(l) / tw, tw, G / tw
    if red == "sum":
        return np.sum(l), tw, G
    return l, tw, G


# ------------------------------------------------------------------ case assembly

def close(a, b):
    """Elementwise |a - b| <= max(RTOL |b|, ATOL); returns (ok, worst error/tolerance)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b)
    tol = np.maximum(RTOL * np.abs(b), ATOL)
    r = np.where(both_nan, 0.0, np.abs(a - b) / tol)
    worst = float(np.max(r)) if r.size else 0.0
    return worst <= 1.0, worst


def nanlist(v):
    return np.array(v if v is not None else np.nan, dtype=np.float64) \
        if not isinstance(v, list) else np.array(
            json.loads(json.dumps(v).replace("null", "NaN")), dtype=np.float64)



cases = []   # the JSON cases
specs = []   # what produced them, for the self-check
names = set()
rejected = {}  # loss -> [(name, worst error / tolerance)]: inputs redrawn, see retry()


class Reject(Exception):
    """torch and the independent float64 evaluation differ by more than a quarter of the
    contract's tolerance on these inputs: PyTorch's own rounding error is about as large
    as the tolerance (bce_with_logits with y = 0 and x << 0 computes
    x + (log1p-free softplus(-x)) and loses ulp(|x|) absolutely), so no fixture."""


def retry(make, i, tries=30):
    """Call make(i) (which draws random inputs and calls add) until add accepts them."""
    for _ in range(tries):
        try:
            make(i)
            return
        except Reject:
            pass
    raise RuntimeError(f"no acceptable inputs for {make.__name__}({i})")


def sanitize(v):
    """Floats -> floats, non-finite -> None; returns (value, had_nonfinite)."""
    bad = [False]

    def rec(o):
        if isinstance(o, list):
            return [rec(e) for e in o]
        f = float(o)
        if not np.isfinite(f):
            bad[0] = True
            return None
        return f
    out = rec(v.tolist() if isinstance(v, torch.Tensor) else v)
    return out, bad[0]


def maybe_send(req, key, value, always=False):
    """Put key in the request; at its default value only half of the time."""
    if value is None:
        return
    if not always and key in DEFAULTS and value == DEFAULTS[key] and rng.random() < 0.5:
        return
    req[key] = value


def add(name, loss, x, t, kind, weights=None, pos_weight=None, reduction="mean",
        ignore_index=-100, label_smoothing=0.0, gamma=2.0, alpha=0.25, grad=False,
        x_json=None, t_json=None, expect_nan=False, explicit=()):
    assert name not in names, name
    names.add(name)
    x = np.asarray(x, dtype=np.float64)
    spec = {"name": name, "loss": loss, "x": x, "t": np.asarray(t), "kind": kind,
            "weights": None if weights is None else [float(v) for v in weights],
            "pos_weight": None if pos_weight is None else [float(v) for v in pos_weight],
            "reduction": reduction, "ignore_index": ignore_index,
            "label_smoothing": float(label_smoothing), "gamma": float(gamma),
            "alpha": float(alpha), "grad": bool(grad)}
    req = {}
    maybe_send(req, "loss", loss, "loss" in explicit)
    req["log_probs" if loss == "nll" else "logits"] = x_json if x_json is not None else x.tolist()
    req["targets"] = t_json if t_json is not None else np.asarray(t).tolist()
    if weights is not None:
        req["weights"] = spec["weights"] if not isinstance(weights, list) else weights
    if pos_weight is not None:
        req["pos_weight"] = spec["pos_weight"]
    maybe_send(req, "reduction", reduction, "reduction" in explicit)
    if loss in INDEX_LOSSES or kind == "prob":
        maybe_send(req, "ignore_index", ignore_index, "ignore_index" in explicit)
    if loss == "cross_entropy":
        maybe_send(req, "label_smoothing", float(label_smoothing), "label_smoothing" in explicit)
    if loss in ("focal", "sigmoid_focal"):
        maybe_send(req, "gamma", float(gamma), "gamma" in explicit)
    if loss == "sigmoid_focal":
        maybe_send(req, "alpha", float(alpha), "alpha" in explicit)
    maybe_send(req, "grad", bool(grad), "grad" in explicit)

    out, tw, g = torch_eval(spec)
    lv, bad = sanitize(out)
    exp = {"loss": lv, "total_weight": tw}
    if grad:
        gv, gbad = sanitize(g)
        exp["grad"] = gv
        bad = bad or gbad
    if bad:
        exp["warning"] = True
    assert bad == expect_nan, (name, lv, "unexpected NaN" if bad else "expected NaN")
    assert np.isfinite(tw), name
    # second opinion before accepting the inputs
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        nval, ntw, ng = numpy_eval(spec)
    ok, worst = close(nanlist(lv), nval)
    if grad:
        ok2, worst2 = close(nanlist(exp["grad"]), ng)
        ok, worst = ok and ok2, max(worst, worst2)
    # demand a margin: a correct implementation has rounding errors of its own
    if not ok or worst > 0.25:
        names.discard(name)
        rejected.setdefault(loss, []).append((name, worst))
        raise Reject(name)
    cases.append({"name": name, "request": req, "expected": exp})
    specs.append(spec)


# ------------------------------------------------------------------ input generators

def logits(shape, style):
    """Random logits; most are rounded to 5 decimals to keep the file small."""
    z = rng.standard_normal(shape)
    if style == "normal":
        return np.round(z * rng.uniform(0.5, 3.0), 5)
    if style == "full":
        return z * 2.0
    if style == "int":
        return np.round(z * 3.0).astype(np.float64)
    if style == "confident":
        return np.round(z * 25.0, 4)
    if style == "extreme":
        big = rng.choice([1e4, -1e4], size=shape) + np.round(rng.standard_normal(shape), 3)
        small = np.round(z, 4)
        mix = rng.random(shape) < 0.5
        return np.where(mix, big, small)
    if style == "extreme_offsets":   # whole rows near 1e4: only differences matter
        return 1e4 + np.round(z * 2.0, 4) * rng.choice([1, -1])
    raise ValueError(style)


def index_shape(kind, C=None):
    C = C if C is not None else int(rng.integers(2, 7))
    N = int(rng.integers(2, 6))
    d = lambda: int(rng.integers(1, 4))  # noqa: E731
    return {"1d": (C,), "NC": (N, C), "N1": (1, C), "C1": (N, 1),
            "NCd": (N, C, d()), "NCdd": (2, C, d(), d()),
            "NCddd": (2, C, 2, d(), 2)}[kind]


def index_targets(shape, ignore_index, hit_ignore, weights, need_weight):
    """Class targets for logits of `shape`; some set to ignore_index when hit_ignore;
    with need_weight at least one kept target of positive weight (so that mean is finite)."""
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    t = rng.integers(0, C, size=tshape)
    if hit_ignore:
        mask = rng.random(tshape) < 0.35
        t = np.where(mask, ignore_index, t)
    w = np.ones(C) if weights is None else np.asarray(weights, np.float64)
    flat = np.array(t, dtype=np.int64).reshape(-1)
    if need_weight:
        kept = flat != ignore_index
        ok = kept & (w[np.clip(flat, 0, C - 1)] > 0) & (flat >= 0) & (flat < C)
        if not ok.any():
            good = [c for c in range(C) if w[c] > 0 and c != ignore_index]
            flat[0] = good[0]
    return flat.reshape(tshape)


def weight_vector(kind, C):
    if kind == "none":
        return None
    if kind == "ones":
        return [1] * C  # explicit, as JSON integers
    if kind == "rand":
        return np.round(rng.uniform(0.1, 3.0, size=C), 3)
    if kind == "zeros":
        w = np.round(rng.uniform(0.1, 3.0, size=C), 3)
        if C > 1:
            w[rng.choice(C, size=max(1, C // 3), replace=False)] = 0.0
        return w
    if kind == "full":
        return rng.uniform(0.0, 2.0, size=C)
    raise ValueError(kind)


def prob_targets(shape, style):
    cdim = 0 if len(shape) == 1 else 1
    if style == "onehot":
        C = shape[cdim]
        idx = rng.integers(0, C, size=tuple(s for i, s in enumerate(shape) if i != cdim))
        return np.moveaxis(np.eye(C)[idx], -1, cdim) if len(shape) > 1 else np.eye(C)[idx]
    z = torch.tensor(rng.standard_normal(shape) * 2.0)
    return torch.softmax(z, dim=cdim).numpy()


# ------------------------------------------------------------------ 1. seed examples

seed_x = [[1, 2], [1, 3], [1, 3]]
for red in ("none", "sum", "mean"):
    add(f"seed_ce_{red}", "cross_entropy", seed_x, [0, 1, 1], "index", reduction=red,
        x_json=seed_x, explicit=("loss", "reduction"))
for red in ("none", "sum", "mean"):
    add(f"seed_ce_weights_{red}", "cross_entropy", seed_x, [0, 1, 1], "index", weights=[1, 2],
        reduction=red, x_json=seed_x, explicit=("loss", "reduction"))
for red in ("none", "sum", "mean"):
    add(f"seed_nll_{red}", "nll", seed_x, [0, 1, 1], "index", weights=[1, 1], reduction=red,
        x_json=seed_x, explicit=("loss", "reduction"))
_seed = {c["name"]: c["expected"]["loss"] for c in cases}
assert _seed["seed_nll_none"] == [-1.0, -3.0, -3.0] and _seed["seed_nll_sum"] == -7.0
assert abs(_seed["seed_nll_mean"] + 7.0 / 3.0) < 1e-15

# ------------------------------------------------------------------ 2. NaN cases (3)

x = logits((3, 4), "normal")
add("nan_ce_all_ignored_mean", "cross_entropy", x, np.array([-100, -100, -100]), "index",
    reduction="mean", expect_nan=True, explicit=("reduction",))
x = F.log_softmax(torch.tensor(logits((4, 3), "normal")), 1).numpy()
add("nan_nll_zero_total_weight_mean", "nll", x, np.array([0, 1, 0, 1]), "index",
    weights=[0.0, 0.0, 2.5], reduction="mean", expect_nan=True)
x = logits((5,), "normal")
add("nan_focal_1d_ignored_mean", "focal", x, np.array(255), "index", ignore_index=255,
    gamma=2.0, reduction="mean", expect_nan=True, explicit=("ignore_index", "gamma"))

# ------------------------------------------------------------------ 3. cross_entropy, class indices

SHAPES = ["NC", "1d", "NCd", "NC", "NCdd", "N1", "C1", "NCd", "NCdd", "NCddd"]
REDS = ["mean", "sum", "none"]
WKINDS = ["none", "rand", "zeros", "ones", "full"]
SMOOTH = [0.0, 0.1, 0.0, 0.3, 1.0, 0.0]
IGNORES = [("default", -100, False), ("default_hit", -100, True), ("custom1", 1, True),
           ("custom255", 255, True), ("neg1", -1, True), ("custom0", 0, False)]
STYLES = ["normal", "full", "normal", "extreme", "int", "confident", "extreme_offsets"]

def _ce_idx(i):
    sk = SHAPES[i % len(SHAPES)]
    red = REDS[i % 3]
    wk = WKINDS[i % 5]
    eps = SMOOTH[i % 6]
    ig_name, ii, hit = IGNORES[(i // 2) % len(IGNORES)]
    style = STYLES[i % 7]
    grad = i % 3 == 1
    shape = index_shape(sk)
    C = shape[0] if len(shape) == 1 else shape[1]
    if ii == 1 and C < 2:
        ii, ig_name = -100, "default_hit"
    w = weight_vector(wk, C)
    x = logits(shape, style)
    t = index_targets(shape, ii, hit, w, need_weight=(red == "mean"))
    name = f"ce_idx_{i:03d}_{sk}_{red}_w{wk}_ls{eps}_{ig_name}_{style}" + ("_grad" if grad else "")
    add(name, "cross_entropy", x, t, "index", weights=w, reduction=red, ignore_index=ii,
        label_smoothing=eps, grad=grad)

for i in range(126):
    retry(_ce_idx, i)

# label smoothing with weights, every reduction, both extremes of epsilon
def _ce_ls(k):
    eps, red = (0.1, 0.3, 1.0)[k // 3], REDS[k % 3]
    shape = (4, 5)
    w = weight_vector("zeros", 5)
    t = index_targets(shape, -100, True, w, need_weight=True)
    add(f"ce_idx_ls{eps}_weights_{red}_grad", "cross_entropy", logits(shape, "normal"), t,
        "index", weights=w, reduction=red, label_smoothing=eps, grad=True,
        explicit=("label_smoothing",))


for k in range(9):
    retry(_ce_ls, k)

# ------------------------------------------------------------------ 4. cross_entropy, probabilities

PSHAPES = ["NC", "1d", "NCd", "NC", "NCdd", "N1", "C1", "NCd", "NCddd"]
PSMOOTH = [0.0, 0.1, 0.3, 1.0, 0.0]
def _ce_prob(i):
    sk = PSHAPES[i % len(PSHAPES)]
    red = REDS[i % 3]
    wk = ["none", "rand", "zeros", "full"][i % 4]
    eps = PSMOOTH[i % 5]
    style = ["normal", "full", "extreme", "confident"][i % 4]
    tstyle = "onehot" if i % 6 == 5 else "soft"
    grad = i % 3 == 0
    shape = index_shape(sk)
    C = shape[0] if len(shape) == 1 else shape[1]
    w = weight_vector(wk, C)
    ii = [-100, -100, -1, -7][i % 4]
    name = f"ce_prob_{i:03d}_{sk}_{red}_w{wk}_ls{eps}_{tstyle}_{style}" + ("_grad" if grad else "")
    add(name, "cross_entropy", logits(shape, style), prob_targets(shape, tstyle), "prob",
        weights=w, reduction=red, ignore_index=ii, label_smoothing=eps, grad=grad)

for i in range(48):
    retry(_ce_prob, i)

# ------------------------------------------------------------------ 5. nll

def _nll(i):
    sk = SHAPES[i % len(SHAPES)]
    red = REDS[i % 3]
    wk = WKINDS[(i + 1) % 5]
    ig_name, ii, hit = IGNORES[(i // 3) % len(IGNORES)]
    arbitrary = i % 4 == 3
    style = STYLES[i % 7]
    grad = i % 3 == 2
    shape = index_shape(sk)
    C = shape[0] if len(shape) == 1 else shape[1]
    if ii == 1 and C < 2:
        ii, ig_name = -100, "default_hit"
    w = weight_vector(wk, C)
    if arbitrary:
        lp = np.round(rng.standard_normal(shape) * 3.0, 4)
        style = "arbitrary"
    else:
        cdim = 0 if len(shape) == 1 else 1
        lp = F.log_softmax(torch.tensor(logits(shape, style)), cdim).numpy()
    t = index_targets(shape, ii, hit, w, need_weight=(red == "mean"))
    name = f"nll_{i:03d}_{sk}_{red}_w{wk}_{ig_name}_{style}" + ("_grad" if grad else "")
    add(name, "nll", lp, t, "index", weights=w, reduction=red, ignore_index=ii, grad=grad,
        explicit=("loss",))

for i in range(54):
    retry(_nll, i)

# ------------------------------------------------------------------ 6. focal (multi-class)

GAMMAS = [0.0, 0.5, 2.0, 5.0, 2.0, 1.5]
def _focal(i):
    sk = SHAPES[i % len(SHAPES)]
    red = REDS[i % 3]
    wk = WKINDS[(i + 2) % 5]
    g = GAMMAS[i % 6]
    ig_name, ii, hit = IGNORES[(i // 2) % len(IGNORES)]
    style = STYLES[i % 7]
    grad = i % 3 == 0
    if g < 1 and g != 0 and style.startswith("extreme"):
        # (1 - e^p)^gamma with p = 0 exactly: torch's gradient is 0 * inf = NaN
        style = "normal"
    shape = index_shape(sk)
    C = shape[0] if len(shape) == 1 else shape[1]
    if ii == 1 and C < 2:
        ii, ig_name = -100, "default_hit"
    w = weight_vector(wk, C)
    t = index_targets(shape, ii, hit, w, need_weight=(red == "mean"))
    name = f"focal_{i:03d}_{sk}_{red}_w{wk}_g{g}_{ig_name}_{style}" + ("_grad" if grad else "")
    add(name, "focal", logits(shape, style), t, "index", weights=w, reduction=red,
        ignore_index=ii, gamma=g, grad=grad, explicit=("loss",))

for i in range(60):
    retry(_focal, i)

# ------------------------------------------------------------------ 7. bce_with_logits

BSHAPES = [(6,), (3, 4), (2, 3, 2), (2, 2, 2, 3), (5, 1), (1,), (4, 2)]
def _bce(i):
    shape = BSHAPES[i % len(BSHAPES)]
    L = shape[-1]
    red = REDS[i % 3]
    style = ["normal", "full", "extreme", "confident", "int"][i % 5]
    hard = i % 2 == 0
    wk = ["none", "rand", "zeros", "full"][i % 4]
    pk = ["none", "rand", "none", "zeros", "full", "ones"][i % 6]
    grad = i % 3 == 2
    x = logits(shape, style)
    if hard:
        y = (rng.random(shape) < 0.5).astype(np.float64)
    else:
        y = np.round(rng.random(shape), 4)
    yj = y.astype(np.int64).tolist() if hard and i % 4 == 0 else None
    w = weight_vector(wk, L)
    pw = None if pk == "none" else np.asarray(weight_vector("rand" if pk == "ones" else pk, L)
                                              if pk != "ones" else np.ones(L))
    name = (f"bce_{i:03d}_{'x'.join(map(str, shape))}_{red}_w{wk}_pw{pk}_"
            f"{'hard' if hard else 'soft'}_{style}" + ("_grad" if grad else ""))
    add(name, "bce_with_logits", x, y, "binary", weights=w, pos_weight=pw, reduction=red,
        grad=grad, t_json=yj, explicit=("loss",))

for i in range(49):
    retry(_bce, i)

# ------------------------------------------------------------------ 8. sigmoid_focal (torchvision)

ALPHAS = [0.25, 0.5, -1.0]
SGAMMAS = [2.0, 0.0, 2.0, 5.0]
def _sfocal(i):
    shape = BSHAPES[i % len(BSHAPES)]
    red = REDS[i % 3]
    al = ALPHAS[i % 3]
    g = SGAMMAS[i % 4]
    style = ["normal", "extreme", "full", "confident", "normal", "int"][i % 6]
    hard = i % 2 == 1
    grad = i % 3 == 1
    x = logits(shape, style)
    if hard:
        y = (rng.random(shape) < 0.5).astype(np.float64)
    else:
        y = np.round(rng.random(shape), 4)
    name = (f"sfocal_{i:03d}_{'x'.join(map(str, shape))}_{red}_a{al}_g{g}_"
            f"{'hard' if hard else 'soft'}_{style}" + ("_grad" if grad else ""))
    add(name, "sigmoid_focal", x, y, "binary", reduction=red, alpha=al, gamma=g, grad=grad,
        explicit=("loss",))

for i in range(42):
    retry(_sfocal, i)


# ================================================================== long-tail losses
#
# Logit adjustment (Menon et al. 2021; tau = 1 is Balanced Softmax, Ren et al.
# 2020), ldam (Cao et al. 2019, as their reference LDAMLoss) and reduction
# "sum_over_batch_size" (Keras's default; a target equal to ignore_index is a
# masked entry, left out of the count as Keras 3's masks are, and no entry
# left gives 0 as its divide_no_nan). The reference is written here in torch
# float64 from the papers' formulas, gradients by autograd; a second opinion
# runs numpy_eval above on the transformed logits. Its own RNG and its own
# list of cases (lt_cases), so that the sections above draw what they always
# drew; the cases are written after theirs.

lt_rng = np.random.default_rng(2019)
lt_cases = []
LT_SOBS = "sum_over_batch_size"


def lt_class_dim(x):
    return 0 if x.dim() == 1 else 1


def lt_per_class(v, x):
    """A per-class vector shaped to broadcast along the class dim of x."""
    C = v.shape[0]
    return v if x.dim() == 1 else v.view((1, C) + (1,) * (x.dim() - 2))


def lt_ldam_margins(counts, max_margin):
    """Delta_c = max_margin n_c^(-1/4) / max_j n_j^(-1/4) (LDAMLoss's m_list)."""
    m = 1.0 / torch.sqrt(torch.sqrt(torch.tensor(counts, dtype=F64)))
    return m * (max_margin / torch.max(m))


def lt_torch(spec):
    """(loss, total_weight, grad) of a long-tail case, from torch."""
    loss, red, kind = spec["loss"], spec["reduction"], spec["kind"]
    base_red = "none" if red == LT_SOBS else red
    x = torch.tensor(spec["x"], dtype=F64, requires_grad=spec["grad"])
    w = None if spec["weights"] is None else torch.tensor(spec["weights"], dtype=F64)
    t = torch.tensor(spec["t"], dtype=torch.int64 if kind == "index" else F64)
    ii = spec["ignore_index"]
    z = x
    if spec["la"] is not None:  # z + tau log(pi), pi = v / sum(v)
        tau, v = spec["la"]
        v = torch.tensor(v, dtype=F64)
        z = x + tau * lt_per_class(torch.log(v / v.sum()), x)
    if loss == "ldam":  # cross_entropy(s (z - Delta_y e_y), y, weight)
        counts, mm, s = spec["ldam"]
        delta = lt_ldam_margins(counts, mm)
        cdim, C = lt_class_dim(x), len(counts)
        keep = t != ii
        tt = torch.where(keep, t, torch.zeros_like(t))
        at_y = F.one_hot(tt, C).movedim(-1, cdim).bool() & keep.unsqueeze(cdim)
        # shifted by the position's largest logit before the scale (cross entropy is
        # shift-invariant): s z itself rounds to ulp(s z), which loses the loss's digits
        # at logits of 1e4 (lt_ldam_029: 3e-11 from the exact value)
        xs = x - x.detach().amax(dim=cdim, keepdim=True)
        out = torch.where(at_y, xs - delta[tt].unsqueeze(cdim), xs)
        val = F.cross_entropy(s * out, t, weight=w, ignore_index=ii, reduction=base_red)
    elif loss == "cross_entropy":
        val = F.cross_entropy(z, t, weight=w, ignore_index=ii, reduction=base_red,
                              label_smoothing=spec["label_smoothing"])
    elif loss == "focal":
        val = focal_torch(z, t, w, spec["gamma"], ii, base_red)
    elif loss == "nll":
        val = F.nll_loss(z, t, weight=w, ignore_index=ii, reduction=base_red)
    elif loss == "bce_with_logits":
        pw = None if spec["pos_weight"] is None else torch.tensor(spec["pos_weight"], dtype=F64)
        val = F.binary_cross_entropy_with_logits(z, t, weight=w, pos_weight=pw,
                                                 reduction=base_red)
    elif loss == "sigmoid_focal":
        val = sigmoid_focal_loss(z, t, alpha=spec["alpha"], gamma=spec["gamma"],
                                 reduction=base_red)
    else:
        raise ValueError(loss)
    # total_weight: the mean's denominator, or sum_over_batch_size's count
    if kind == "index":
        keep = t != ii
        C = x.shape[lt_class_dim(x)]
        ww = w if w is not None else torch.ones(C, dtype=F64)
        tw = float(ww[t[keep]].sum()) if bool(keep.any()) else 0.0
        count = int(keep.sum())
    elif kind == "prob":
        tw = float(x.numel() // x.shape[lt_class_dim(x)])
        count = int(tw)
    else:
        tw = float(x.numel())
        count = x.numel()
    if red == LT_SOBS:
        val = val.sum() / count if count else val.sum() * 0.0
        tw = float(count)
    grad = None
    if spec["grad"]:
        (val.sum() if red == "none" else val).backward()
        grad = x.grad.detach()
    return val.detach(), tw, grad


def lt_numpy(spec):
    """The same from numpy_eval above on the transformed logits: z + tau log pi, or
    s (z - Delta_y e_y) with the gradient times s; sum_over_batch_size as sum / count."""
    s2 = dict(spec)
    x = np.asarray(spec["x"], dtype=np.float64)
    C = x.shape[0 if x.ndim == 1 else 1]
    gscale = 1.0
    if spec["la"] is not None:
        tau, v = spec["la"]
        v = np.asarray(v, dtype=np.float64)
        shift = tau * np.log(v / np.sum(v))
        x = x + (shift if x.ndim == 1 else shift.reshape((1, C) + (1,) * (x.ndim - 2)))
    if spec["loss"] == "ldam":
        counts, mm, s = spec["ldam"]
        m = 1.0 / np.sqrt(np.sqrt(np.asarray(counts, dtype=np.float64)))
        m = m * (mm / np.max(m))
        X = to_rows(x, C).copy()
        X = X - X.max(axis=1, keepdims=True)  # as lt_torch: differences before the scale
        t = np.asarray(spec["t"], dtype=np.int64).reshape(-1)
        for r, y in enumerate(t):
            if y != spec["ignore_index"]:
                X[r, y] -= m[y]
        x = s * from_rows(X, x.shape)
        gscale = s
        s2["loss"] = "cross_entropy"
    s2["x"] = x
    sobs = spec["reduction"] == LT_SOBS
    if sobs:
        s2["reduction"] = "sum"
    val, tw, g = numpy_eval(s2)
    g = g * gscale
    if sobs:
        if spec["kind"] == "index":
            count = int(np.sum(np.asarray(spec["t"]).reshape(-1) != spec["ignore_index"]))
        else:
            count = int(tw)
        val = val / count if count else 0.0
        g = g / count if count else g
        tw = float(count)
    return val, tw, g


lt_names = set()
lt_rejected = {}


def lt_add(name, loss, x, t, kind, weights=None, reduction="mean", ignore_index=-100,
           label_smoothing=0.0, gamma=2.0, alpha=0.25, pos_weight=None, grad=False,
           la=None, la_field="class_counts", ldam=None, expect_nan=False):
    """One long-tail case. la = (tau, counts or priors) sent as la_field; ldam =
    (class_counts, max_margin, scale). Raises Reject when torch and numpy_eval differ
    by more than a quarter of the tolerance."""
    assert name not in lt_names and name not in names, name
    x = np.asarray(x, dtype=np.float64)
    spec = {"name": name, "loss": loss, "x": x, "t": np.asarray(t), "kind": kind,
            "weights": None if weights is None else [float(v) for v in weights],
            "pos_weight": None if pos_weight is None else [float(v) for v in pos_weight],
            "reduction": reduction, "ignore_index": ignore_index,
            "label_smoothing": float(label_smoothing), "gamma": float(gamma),
            "alpha": float(alpha), "grad": bool(grad),
            "la": None if la is None else (float(la[0]), [float(v) for v in la[1]]),
            "ldam": None if ldam is None else ([float(v) for v in ldam[0]], float(ldam[1]),
                                               float(ldam[2]))}
    req = {}
    if loss != "cross_entropy" or lt_rng.random() < 0.5:
        req["loss"] = loss
    req["log_probs" if loss == "nll" else "logits"] = x.tolist()
    req["targets"] = np.asarray(t).tolist()
    if weights is not None:
        req["weights"] = spec["weights"]
    if pos_weight is not None:
        req["pos_weight"] = spec["pos_weight"]
    if reduction != "mean" or lt_rng.random() < 0.3:
        req["reduction"] = reduction
    if ignore_index != -100:
        req["ignore_index"] = ignore_index
    if label_smoothing:
        req["label_smoothing"] = float(label_smoothing)
    if loss in ("focal", "sigmoid_focal"):
        req["gamma"] = float(gamma)
    if loss == "sigmoid_focal":
        req["alpha"] = float(alpha)
    if la is not None:
        req["logit_adjustment"] = spec["la"][0]
        req[la_field] = [v if isinstance(v, int) else float(v) for v in la[1]]
    if ldam is not None:
        req["class_counts"] = [v if isinstance(v, int) else float(v) for v in ldam[0]]
        if ldam[1] != 0.5 or lt_rng.random() < 0.3:
            req["max_margin"] = spec["ldam"][1]
        if ldam[2] != 30 or lt_rng.random() < 0.3:
            req["scale"] = spec["ldam"][2]
    if grad:
        req["grad"] = True

    out, tw, g = lt_torch(spec)
    lv, bad = sanitize(out)
    exp = {"loss": lv, "total_weight": tw}
    if grad:
        gv, gbad = sanitize(g)
        exp["grad"] = gv
        bad = bad or gbad
    if bad:
        exp["warning"] = True
    assert bad == expect_nan, (name, lv, "unexpected NaN" if bad else "expected NaN")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        nval, ntw, ng = lt_numpy(spec)
    ok, worst = close(nanlist(lv), nval)
    assert close(tw, ntw)[0], (name, tw, ntw)
    if grad:
        ok2, worst2 = close(nanlist(exp["grad"]), ng)
        ok, worst = ok and ok2, max(worst, worst2)
    if not ok or worst > 0.25:
        lt_rejected.setdefault(loss, []).append((name, worst))
        raise Reject(name)
    lt_names.add(name)
    lt_cases.append({"name": name, "request": req, "expected": exp})


def lt_retry(make, i, tries=30):
    for _ in range(tries):
        try:
            make(i)
            return
        except Reject:
            pass
    raise RuntimeError(f"no acceptable inputs for {make.__name__}({i})")


def lt_logits(shape, style):
    z = lt_rng.standard_normal(shape)
    if style == "normal":
        return np.round(z * lt_rng.uniform(0.5, 3.0), 5)
    if style == "full":
        return z * 2.0
    if style == "confident":
        return np.round(z * 25.0, 4)
    if style == "extreme":
        return np.where(lt_rng.random(shape) < 0.5,
                        lt_rng.choice([1e4, -1e4], size=shape) + np.round(z, 3), np.round(z, 4))
    raise ValueError(style)


def lt_shape(kind, C):
    N = int(lt_rng.integers(2, 6))
    d = lambda: int(lt_rng.integers(1, 4))  # noqa: E731
    return {"1d": (C,), "NC": (N, C), "N1": (1, C), "NCd": (N, C, d()),
            "NCdd": (2, C, d(), d())}[kind]


def lt_counts(C, style):
    """Long-tailed class counts: integers (JSON integers) or reals."""
    if style == "exp":  # n_c = n_max * mu^c, the papers' exponential profile
        mu = lt_rng.uniform(0.05, 0.6)
        return [max(1, int(round(5000 * mu ** c))) for c in range(C)]
    if style == "step":  # half the classes rare
        return [500 if c < (C + 1) // 2 else 5 for c in range(C)]
    if style == "real":
        return list(np.round(lt_rng.uniform(0.5, 100.0, size=C), 3))
    if style == "priors":  # sums to about 1, not exactly
        p = lt_rng.dirichlet(np.ones(C)) + 1e-3
        return list(np.round(p / p.sum(), 6))
    raise ValueError(style)


def lt_targets(shape, ii, hit, w, need_weight):
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    t = lt_rng.integers(0, C, size=tshape)
    if hit:
        t = np.where(lt_rng.random(tshape) < 0.35, ii, t)
    flat = np.array(t, dtype=np.int64).reshape(-1)
    if need_weight:
        ww = np.ones(C) if w is None else np.asarray(w, np.float64)
        if not ((flat != ii) & (ww[np.clip(flat, 0, C - 1)] > 0)).any():
            flat[0] = [c for c in range(C) if ww[c] > 0 and c != ii][0]
    return flat.reshape(tshape)


def lt_weights(kind, C):
    if kind == "none":
        return None
    if kind == "rand":
        return np.round(lt_rng.uniform(0.1, 3.0, size=C), 3)
    if kind == "zeros":
        w = np.round(lt_rng.uniform(0.1, 3.0, size=C), 3)
        w[lt_rng.choice(C, size=max(1, C // 3), replace=False)] = 0.0
        return w
    if kind == "drw":  # deferred re-weighting: effective-number weights, beta 0.999
        return None  # filled by the caller from the counts
    raise ValueError(kind)


def lt_prob_targets(shape):
    cdim = 0 if len(shape) == 1 else 1
    z = torch.tensor(lt_rng.standard_normal(shape) * 2.0)
    return torch.softmax(z, dim=cdim).numpy()


LT_REDS = ["mean", "sum", "none", LT_SOBS]
LT_TAUS = [1.0, 0.5, 2.0, 1.5, 0.0, -0.5]
LT_IGN = [(-100, False), (-100, True), (1, True), (255, True), (0, False)]


# ---- logit adjustment: every cross_entropy option, and focal

def _lt_la(i):
    sk = ["NC", "1d", "NCd", "NCdd", "N1", "NC"][i % 6]
    red = LT_REDS[i % 4]
    tau = LT_TAUS[i % 6]
    style = ["normal", "full", "confident", "extreme"][i % 4]
    cstyle = ["exp", "step", "real", "priors"][i % 4]
    field = "class_priors" if cstyle == "priors" or i % 5 == 4 else "class_counts"
    focal = i % 7 == 3
    prob = not focal and i % 5 == 2
    C = int(lt_rng.integers(2, 7))
    shape = lt_shape(sk, C)
    w = lt_weights(["none", "rand", "zeros", "none"][i % 4], C)
    eps = 0.0 if focal else [0.0, 0.1, 0.0, 0.3][i % 4]
    ii, hit = (-100, False) if prob else LT_IGN[(i // 2) % len(LT_IGN)]
    if ii == 1 and C < 2:
        ii = -100
    grad = i % 3 != 1
    x = lt_logits(shape, style)
    if prob:
        t, kind = lt_prob_targets(shape), "prob"
    else:
        t, kind = lt_targets(shape, ii, hit, w, need_weight=red == "mean"), "index"
    name = (f"lt_la_{i:03d}_{sk}_{red}_tau{tau}_{field}_{'focal' if focal else 'ce'}_"
            f"{kind}_ls{eps}_{style}" + ("_grad" if grad else ""))
    lt_add(name, "focal" if focal else "cross_entropy", x, t, kind, weights=w, reduction=red,
           ignore_index=ii, label_smoothing=eps, gamma=[2.0, 0.5, 1.0][i % 3], grad=grad,
           la=(tau, lt_counts(C, cstyle)), la_field=field)


for i in range(42):
    lt_retry(_lt_la, i)

# Balanced Softmax with every target ignored: the mean of nothing is NaN, as without it
x = lt_logits((3, 4), "normal")
lt_add("lt_la_all_ignored_mean", "cross_entropy", x, np.array([-100, -100, -100]), "index",
       la=(1.0, [40, 30, 2, 1]), expect_nan=True)


# ---- ldam: weights (DRW), ignore_index, every reduction, gradients

def _lt_ldam(i):
    sk = ["NC", "NCd", "1d", "NC", "NCdd", "N1"][i % 6]
    red = LT_REDS[i % 4]
    mm = [0.5, 0.3, 1.0, 0.5][i % 4]
    s = [30.0, 10.0, 1.0, 64.0, 30.0][i % 5]
    style = ["normal", "full", "normal", "confident", "extreme"][i % 5]
    C = int(lt_rng.integers(2, 8))
    shape = lt_shape(sk, C)
    counts = lt_counts(C, ["exp", "step", "real"][i % 3])
    wk = ["none", "drw", "rand", "zeros"][i % 4]
    if wk == "drw":  # Cao et al.'s deferred re-weighting: (1 - beta) / (1 - beta^n), mean 1
        eff = (1 - 0.999) / (1 - np.power(0.999, np.asarray(counts, np.float64)))
        w = np.round(eff / eff.sum() * C, 6)
    else:
        w = lt_weights(wk, C)
    ii, hit = LT_IGN[(i // 2) % len(LT_IGN)]
    if ii == 1 and C < 2:
        ii = -100
    grad = i % 3 != 2
    x = lt_logits(shape, style)
    t = lt_targets(shape, ii, hit, w, need_weight=red == "mean")
    name = (f"lt_ldam_{i:03d}_{sk}_{red}_m{mm}_s{s}_w{wk}_ig{ii}{'hit' if hit else ''}_"
            f"{style}" + ("_grad" if grad else ""))
    lt_add(name, "ldam", x, t, "index", weights=w, reduction=red, ignore_index=ii, grad=grad,
           ldam=(counts, mm, s))


for i in range(40):
    lt_retry(_lt_ldam, i)


# ---- sum_over_batch_size: every loss

LT_SOBS_LOSSES = ["cross_entropy", "cross_entropy/prob", "nll", "focal", "bce_with_logits",
                  "sigmoid_focal", "ldam", "cross_entropy/la"]


def _lt_sobs(i):
    which = LT_SOBS_LOSSES[i % len(LT_SOBS_LOSSES)]
    loss = which.split("/")[0]
    grad = i % 2 == 0
    style = ["normal", "full", "confident"][i % 3]
    if loss in ("bce_with_logits", "sigmoid_focal"):
        shape = [(6,), (3, 4), (2, 3, 2), (4, 2)][i % 4]
        L = shape[-1]
        x = lt_logits(shape, style)
        y = (lt_rng.random(shape) < 0.5).astype(np.float64) if i % 3 else \
            np.round(lt_rng.random(shape), 4)
        w = lt_weights(["none", "rand"][i % 2], L)
        pw = np.round(lt_rng.uniform(0.5, 3.0, size=L), 3) \
            if loss == "bce_with_logits" and i % 3 == 0 else None
        name = f"lt_sobs_{i:03d}_{loss}_{'x'.join(map(str, shape))}_{style}" + \
            ("_grad" if grad else "")
        lt_add(name, loss, x, y, "binary", weights=w if loss == "bce_with_logits" else None,
               pos_weight=pw, reduction=LT_SOBS, gamma=[2.0, 0.0, 1.5][i % 3],
               alpha=[0.25, -1.0][i % 2], grad=grad)
        return
    C = int(lt_rng.integers(2, 6))
    shape = lt_shape(["NC", "NCd", "1d", "NCdd"][i % 4], C)
    w = lt_weights(["rand", "none", "zeros"][i % 3], C)
    x = lt_logits(shape, style)
    if which == "cross_entropy/prob":
        lt_add(f"lt_sobs_{i:03d}_ce_prob_{len(shape)}d" + ("_grad" if grad else ""), loss, x,
               lt_prob_targets(shape), "prob", weights=w, reduction=LT_SOBS,
               label_smoothing=[0.0, 0.2][i % 2], grad=grad)
        return
    ii, hit = LT_IGN[(i // 3) % len(LT_IGN)]
    if ii == 1 and C < 2:
        ii = -100
    t = lt_targets(shape, ii, hit, w, need_weight=False)
    if loss == "nll":
        x = F.log_softmax(torch.tensor(x), 0 if len(shape) == 1 else 1).numpy()
    kw = {}
    if loss == "ldam":
        kw["ldam"] = (lt_counts(C, "exp"), 0.5, [30.0, 5.0][i % 2])
    if which == "cross_entropy/la":
        kw["la"] = (1.0, lt_counts(C, "step"))
    name = (f"lt_sobs_{i:03d}_{which.replace('/', '_')}_{len(shape)}d_ig{ii}"
            f"{'hit' if hit else ''}" + ("_grad" if grad else ""))
    lt_add(name, loss, x, t, "index", weights=w, reduction=LT_SOBS, ignore_index=ii,
           label_smoothing=0.1 if loss == "cross_entropy" and i % 5 == 1 else 0.0,
           gamma=2.0, grad=grad, **kw)


for i in range(48):
    lt_retry(_lt_sobs, i)

# Keras's masked mean of nothing: every target ignored gives 0 (divide_no_nan), not NaN
x = lt_logits((3, 4), "normal")
lt_add("lt_sobs_all_ignored", "cross_entropy", x, np.array([-100, -100, -100]), "index",
       reduction=LT_SOBS, grad=True)
lt_add("lt_sobs_ldam_all_ignored", "ldam", x, np.array([7, 7, 7]), "index", reduction=LT_SOBS,
       ignore_index=7, ldam=([10, 5, 2, 1], 0.5, 30.0))
assert [c["expected"]["loss"] for c in lt_cases[-2:]] == [0.0, 0.0]

lt_per = {}
for c in lt_cases:
    k = c["name"].split("_")[1]
    lt_per[k] = lt_per.get(k, 0) + 1
assert lt_per["la"] >= 30 and lt_per["ldam"] >= 30 and lt_per["sobs"] >= 30, lt_per


# ------------------------------------------------------------------ self-check

worst_np = 0.0
identity_checks = 0
aten_checks = 0

for case, spec in zip(cases, specs):
    exp = case["expected"]
    # (a) independent numpy implementation
    with np.errstate(invalid="ignore", divide="ignore"):
        val, tw, g = numpy_eval(spec)
    ok, wv = close(nanlist(exp["loss"]), val)
    assert ok, (case["name"], "loss", wv)
    worst_np = max(worst_np, wv)
    assert exp["total_weight"] == tw or close(exp["total_weight"], tw)[0], (case["name"], tw)
    if "grad" in exp:
        ok, wv = close(nanlist(exp["grad"]), g)
        assert ok, (case["name"], "grad", wv)
        worst_np = max(worst_np, wv)

    x = torch.tensor(spec["x"], dtype=F64)
    red = spec["reduction"]
    w = None if spec["weights"] is None else torch.tensor(spec["weights"], dtype=F64)
    # (b) identities between losses
    if spec["loss"] == "focal" and spec["gamma"] == 0:
        ce = F.cross_entropy(x, torch.tensor(spec["t"]), weight=w, reduction=red,
                             ignore_index=spec["ignore_index"])
        assert close(nanlist(exp["loss"]), ce.numpy())[0], case["name"]
        identity_checks += 1
    if spec["loss"] == "cross_entropy" and spec["kind"] == "index" \
            and spec["label_smoothing"] == 0:
        cdim = 0 if x.dim() == 1 else 1
        nl = F.nll_loss(F.log_softmax(x, cdim), torch.tensor(spec["t"]), weight=w,
                        reduction=red, ignore_index=spec["ignore_index"])
        assert close(nanlist(exp["loss"]), nl.numpy())[0], case["name"]
        identity_checks += 1
    if spec["loss"] == "cross_entropy" and spec["kind"] == "prob" and red != "mean" \
            and np.all((spec["t"] == 0) | (spec["t"] == 1)):
        cdim = 0 if x.dim() == 1 else 1
        idx = torch.tensor(spec["t"]).argmax(cdim)
        ce = F.cross_entropy(x, idx, weight=w, reduction=red,
                             label_smoothing=spec["label_smoothing"])
        assert close(nanlist(exp["loss"]), ce.numpy())[0], case["name"]
        identity_checks += 1
    if spec["loss"] == "sigmoid_focal" and spec["alpha"] < 0 and spec["gamma"] == 0:
        b = F.binary_cross_entropy_with_logits(x, torch.tensor(spec["t"]), reduction=red)
        assert close(nanlist(exp["loss"]), b.numpy())[0], case["name"]
        identity_checks += 1
    # (c) aten's own total_weight (it reports 0 for reduction "none", hence reduction sum)
    if spec["kind"] == "index" and x.dim() in (1, 2, 4):
        C = x.shape[0 if x.dim() == 1 else 1]
        ww = w if w is not None else torch.ones(C)
        t = torch.tensor(spec["t"])
        lp = x if spec["loss"] == "nll" else F.log_softmax(x, 0 if x.dim() == 1 else 1)
        op = torch.ops.aten.nll_loss2d_forward if x.dim() == 4 else torch.ops.aten.nll_loss_forward
        _, atw = op(lp, t, ww, 2, spec["ignore_index"])
        assert close(exp["total_weight"], float(atw))[0], case["name"]
        aten_checks += 1


# ------------------------------------------------------------------ 9. multi-label and segmentation
#
# asymmetric (Ridnik et al. 2021, as timm's AsymmetricLossMultiLabel computes it) and dice /
# tversky (MONAI's DiceLoss / TverskyLoss, softmax=True with to_onehot_y=True, or sigmoid=True).
# Neither timm nor MONAI is installed: the references below are written in PyTorch float64 from
# their documented formulas (README "Multi-label: asymmetric", "Segmentation: dice and
# tversky"), gradients by autograd; a NumPy evaluation with the closed-form gradients is the
# second opinion. The section has its own random stream, so the cases above do not move.

ms_rng = np.random.default_rng(131399)
MS_DEFAULTS = {"gamma_pos": 1.0, "gamma_neg": 4.0, "clip": 0.05, "eps": 1e-8,
               "activation": "softmax", "include_background": True, "batch": False,
               "smooth_nr": 1e-5, "smooth_dr": 1e-5, "tversky_alpha": 0.5, "tversky_beta": 0.5,
               "reduction": "mean", "grad": False}
ms_count = {}


def ms_send(req, key, value):
    """Put an option in the request; at its default value only half of the time."""
    if key in MS_DEFAULTS and value == MS_DEFAULTS[key] and ms_rng.random() < 0.5:
        return
    req[key] = value


def ms_reduce(l, red, count):
    if red == "none":
        return l
    if red == "sum":
        return l.sum()
    return l.sum() / count


def sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x) as exp(logsigmoid(+-x)): the same values
    to an ulp, and autograd's derivative p (1 - p) without the 1 - p that
    torch.sigmoid's backward forms from its rounded output (1e-3 relative at x = -30)."""
    return torch.exp(F.logsigmoid(x)), torch.exp(F.logsigmoid(-x))


def asymmetric_torch(x, y, w, o):
    """timm's AsymmetricLossMultiLabel per element, with 1 - sigmoid(x) written sigmoid(-x),
    log sigmoid(x) written logsigmoid(x) and 1 - min(1 - p + clip, 1) written max(p - clip, 0)
    (the same numbers, without the cancellation); the clamps are torch's, so autograd zeroes
    their gradient where they bind."""
    p, q = sigmoid_pair(x)
    log_eps = torch.log(torch.tensor(o["eps"], dtype=F64))
    if o["clip"] > 0:
        pn = (q + o["clip"]).clamp(max=1)
        u_neg = (p - o["clip"]).clamp(min=0)
        log_pn = torch.log(pn.clamp(min=o["eps"]))
    else:
        u_neg = p
        log_pn = torch.where(q >= o["eps"], F.logsigmoid(-x), log_eps)
    # log max(p, eps) as logsigmoid where the floor is inactive: log(sigmoid(x)) keeps only
    # ulp(1) of a confident positive's log p (torch.where passes the gradient to its branch)
    A = y * torch.where(p >= o["eps"], F.logsigmoid(x), log_eps) + (1 - y) * log_pn
    if o["gamma_pos"] > 0 or o["gamma_neg"] > 0:
        u = y * q + (1 - y) * u_neg
        A = A * torch.pow(u, o["gamma_pos"] * y + o["gamma_neg"] * (1 - y))
    l = -A
    if w is not None:
        l = l * w
    return l


def asymmetric_numpy(x, y, w, o):
    """(l, dl/dx) elementwise, closed form (lib/loss_multilabel.c's derivation)."""
    p, q = sigmoid(x), sigmoid(-x)
    eps, clip, gp, gn = o["eps"], o["clip"], o["gamma_pos"], o["gamma_neg"]
    if clip > 0:
        raw = q + clip
        pas = raw <= 1
        pn = np.where(pas, raw, 1.0)
        u_neg = np.where(pas, np.maximum(p - clip, 0.0), 0.0)
        dpn = np.where(pas, -p * q, 0.0)
        dln = np.where(pn >= eps, dpn / pn, 0.0)
        log_pn = np.log(np.maximum(pn, eps))
    else:
        u_neg, dpn = p, -p * q
        dln = np.where(q >= eps, -p, 0.0)
        log_pn = np.where(q >= eps, -softplus(x), np.log(max(eps, 1e-300)))
    pos_ok = p >= eps
    log_p = np.where(pos_ok, -softplus(-x), np.log(max(eps, 1e-300)))
    A = y * log_p + (1 - y) * log_pn
    dA = y * np.where(pos_ok, q, 0.0) + (1 - y) * dln
    wv = 1.0 if w is None else np.asarray(w)
    if gp > 0 or gn > 0:
        u = y * q + (1 - y) * u_neg
        g = gp * y + gn * (1 - y)
        W = u ** g
        du = -(y * p * q + (1 - y) * dpn)
        with np.errstate(invalid="ignore", divide="ignore"):
            dW = np.where(g == 0, 0.0,
                          np.where(u > 0, g * (W / u) * du, np.where(g == 1, du, 0.0)))
    else:
        W, dW = 1.0, 0.0
    return -wv * A * W, -wv * (dA * W + A * dW)


def seg_parts(x, t, o):
    """p and g as (N, C', S) (torch), from logits (N, C, ...) and the targets."""
    N, C = x.shape[0], x.shape[1]
    S = int(np.prod(x.shape[2:])) if x.dim() > 2 else 1
    xr = x.reshape(N, C, S)
    if o["activation"] == "softmax":
        p = torch.softmax(xr, 1)
        g = F.one_hot(t.reshape(N, S), C).permute(0, 2, 1).to(F64)
        one_minus_p = 1 - p
    else:
        p, one_minus_p = sigmoid_pair(xr)
        g = t.reshape(N, C, S)
    if not o["include_background"]:
        p, one_minus_p, g = p[:, 1:], one_minus_p[:, 1:], g[:, 1:]
    return p, one_minus_p, g


def seg_torch(loss, x, t, w, o, monai_form=False):
    """MONAI's DiceLoss / TverskyLoss scores, (N, C') or (C') with batch: compute_tp_fp_fn,
    then 1 - num/den written (den - num)/den (no cancellation as num -> den); monai_form keeps
    MONAI's literal 1 - num/den for the identity check."""
    p, omp, g = seg_parts(x, t, o)
    dims = [0, 2] if o["batch"] else [2]
    tp, fp, fn = (p * g).sum(dims), (p * (1 - g)).sum(dims), (omp * g).sum(dims)
    snr, sdr = o["smooth_nr"], o["smooth_dr"]
    if loss == "dice":
        num, den = 2 * tp + snr, 2 * tp + fp + fn + sdr
        top = fp + fn + (sdr - snr)
    else:
        a, b = o["tversky_alpha"], o["tversky_beta"]
        num, den = tp + snr, tp + a * fp + b * fn + sdr
        top = a * fp + b * fn + (sdr - snr)
    f = 1 - num / den if monai_form else top / den
    if w is not None:
        f = f * w
    return f


def seg_numpy(loss, x, t, w, o):
    """(scores, dL/dx of their sum) with the closed-form gradient of lib/loss_seg.c's
    derivation: df/dp = (A(g) - f B(g)) / den, then softmax's or sigmoid's Jacobian."""
    N, C = x.shape[0], x.shape[1]
    S = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
    xr = x.reshape(N, C, S)
    if o["activation"] == "softmax":
        m = xr.max(axis=1, keepdims=True)
        e = np.exp(xr - m)
        p = e / e.sum(axis=1, keepdims=True)
        g = np.moveaxis(np.eye(C)[np.asarray(t).reshape(N, S)], -1, 1)
    else:
        p = sigmoid(xr)
        g = np.asarray(t, np.float64).reshape(N, C, S)
    c0 = 0 if o["include_background"] else 1
    P, G = p[:, c0:], g[:, c0:]
    ax = (0, 2) if o["batch"] else (2,)
    tp, fp, fn = (P * G).sum(ax), (P * (1 - G)).sum(ax), ((1 - P) * G).sum(ax)
    snr, sdr = o["smooth_nr"], o["smooth_dr"]
    if loss == "dice":
        den = 2 * tp + fp + fn + sdr
        f = (fp + fn + sdr - snr) / den
        A = lambda gg: 1 - 2 * gg  # noqa: E731
        B = lambda gg: np.ones_like(gg)  # noqa: E731
    else:
        a, b = o["tversky_alpha"], o["tversky_beta"]
        den = tp + a * fp + b * fn + sdr
        f = (a * fp + b * fn + sdr - snr) / den
        A = lambda gg: a * (1 - gg) - b * gg  # noqa: E731
        B = lambda gg: gg + a * (1 - gg) - b * gg  # noqa: E731
    wv = np.ones(C - c0) if w is None else np.asarray(w, np.float64)
    fw = f * wv
    if o["batch"]:
        fb, denb, wb = f[None, :, None], den[None, :, None], wv[None, :, None]
    else:
        fb, denb, wb = f[:, :, None], den[:, :, None], wv[None, :, None]
    q = np.zeros_like(p)
    q[:, c0:] = wb * (A(G) - fb * B(G)) / denb
    if o["activation"] == "softmax":
        dz = p * (q - np.sum(p * q, axis=1, keepdims=True))
    else:
        dz = q * p * sigmoid(-xr)
    return fw, dz.reshape(x.shape)


def ms_add(name, loss, x, t, opts, weights=None, reduction="mean", grad=False, t_json=None,
           explicit=()):
    """One asymmetric / dice / tversky case: torch reference (autograd), NumPy second opinion
    to RTOL/4, and for dice / tversky MONAI's literal 1 - num/den to 1e-12 absolute."""
    assert name not in names, name
    names.add(name)
    x = np.asarray(x, dtype=np.float64)
    o = dict(opts)
    req = {"loss": loss, "logits": x.tolist()}
    req["targets"] = t_json if t_json is not None else np.asarray(t).tolist()
    if weights is not None:
        req["weights"] = [float(v) for v in weights]
    keys = ("gamma_pos", "gamma_neg", "clip", "eps") if loss == "asymmetric" else \
        ("activation", "include_background", "batch", "smooth_nr", "smooth_dr") + \
        (("tversky_alpha", "tversky_beta") if loss == "tversky" else ())
    for k in keys:
        if k in explicit:
            req[k] = o[k]
        else:
            ms_send(req, k, o[k])
    ms_send(req, "reduction", reduction)
    ms_send(req, "grad", bool(grad))

    xt = torch.tensor(x, dtype=F64, requires_grad=True)
    w = None if weights is None else torch.tensor(np.asarray(weights, np.float64))
    if loss == "asymmetric":
        yt = torch.tensor(np.asarray(t, np.float64))
        if w is not None and x.ndim == 0:
            w = w.reshape(())
        per = asymmetric_torch(xt, yt, w, o)
        count = float(x.size)
        nl, ng = asymmetric_numpy(x, np.asarray(t, np.float64),
                                  None if weights is None else np.asarray(weights, np.float64), o)
    else:
        tt = torch.tensor(np.asarray(t)) if o["activation"] == "softmax" else \
            torch.tensor(np.asarray(t, np.float64))
        per = seg_torch(loss, xt, tt, w, o)
        count = float(per.numel())
        nl, ng = seg_numpy(loss, x, t, weights, o)
        lit = seg_torch(loss, xt.detach(), tt, w, o, monai_form=True)
        assert np.all(np.abs(lit.numpy() - per.detach().numpy()) <= 1e-12), name
    out = ms_reduce(per, reduction, count)
    exp = {"loss": None, "total_weight": count}
    lv, bad = sanitize(out.detach())
    exp["loss"] = lv
    nval = ms_reduce(nl, reduction, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok, worst = close(nanlist(lv), nval)
    if grad:
        (out.sum() if reduction == "none" else out).backward()
        gv, gbad = sanitize(xt.grad.detach())
        exp["grad"] = gv
        bad = bad or gbad
        ngr = ng if reduction != "mean" else ng / count
        ok2, worst2 = close(nanlist(gv), ngr)
        ok, worst = ok and ok2, max(worst, worst2)
    if bad:
        exp["warning"] = True
    if not ok or worst > 0.25:  # torch's own rounding: redraw, as add() does
        names.discard(name)
        rejected.setdefault(loss, []).append((name, worst))
        raise Reject(name)
    cases.append({"name": name, "request": req, "expected": exp})
    ms_count[loss] = ms_count.get(loss, 0) + 1


def ms_logits(shape, style):
    z = ms_rng.standard_normal(shape)
    if style == "normal":
        return np.round(z * ms_rng.uniform(0.5, 3.0), 5)
    if style == "full":
        return z * 2.0
    if style == "int":
        return np.round(z * 3.0)
    if style == "confident":
        return np.round(z * 25.0, 4)
    if style == "extreme":
        big = ms_rng.choice([1e4, -1e4], size=shape) + np.round(ms_rng.standard_normal(shape), 3)
        return np.where(ms_rng.random(shape) < 0.5, big, np.round(z, 4))
    raise ValueError(style)


# asymmetric: (gamma_pos, gamma_neg, clip, eps)
ASYM_OPTS = [(1.0, 4.0, 0.05, 1e-8), (0.0, 0.0, 0.0, 1e-8), (2.0, 2.0, 0.05, 1e-8),
             (0.0, 4.0, 0.05, 1e-8), (1.0, 4.0, 0.0, 1e-8), (1.0, 4.0, 0.2, 0.1),
             (3.0, 1.0, 1.0, 1e-8), (1.0, 4.0, 0.05, 0.0), (0.5, 0.5, 0.0, 1e-8),
             (1.0, 1.5, 0.3, 0.02)]
ASHAPES = [(4, 5), (3, 7), (6,), (2, 3, 4), (2, 2, 2, 3), (1, 8), (5, 1), ()]
def _asym(i):
    gp, gn, clip, eps = ASYM_OPTS[i % len(ASYM_OPTS)]
    shape = ASHAPES[i % len(ASHAPES)]
    red = REDS[i % 3]
    style = ["normal", "full", "confident", "extreme", "int"][i % 5]
    if min(gp, gn) < 1 and (gp > 0 or gn > 0) and style in ("confident", "extreme"):
        style = "normal"  # (1 - p_t)^γ with 1 - p_t = 0 and γ < 1: torch's gradient is NaN
    hard = i % 4 != 3
    grad = i % 3 != 2
    wk = ["none", "rand", "none", "zeros"][i % 4] if shape else "none"
    x = ms_logits(shape, style)
    y = (ms_rng.random(shape) < 0.3).astype(np.float64) if hard else np.round(ms_rng.random(shape), 4)
    L = shape[-1] if shape else 1
    w = None if wk == "none" else (np.round(ms_rng.uniform(0.1, 3.0, L), 3) if wk == "rand" else
                                   np.where(np.arange(L) % 2 == 0, 0.0, 1.5))
    o = {"gamma_pos": gp, "gamma_neg": gn, "clip": clip, "eps": eps}
    yj = y.astype(np.int64).tolist() if hard and i % 2 == 0 else None
    ms_add(f"asym_{i:03d}_{'x'.join(map(str, shape)) or 'scalar'}_{red}_gp{gp}_gn{gn}_c{clip}_"
           f"e{eps}_w{wk}_{'hard' if hard else 'soft'}_{style}" + ("_grad" if grad else ""),
           "asymmetric", x, y, o, weights=w, reduction=red, grad=grad, t_json=yj)

for i in range(42):
    retry(_asym, i)
# every target positive, every target negative, p below the floor eps
for k, (fill, x) in enumerate([(1.0, [[-30.0, 2.0, 0.0], [40.0, -3.5, 1e-3]]),
                               (0.0, [[-30.0, 2.0, 0.0], [40.0, -3.5, 1e-3]]),
                               (1.0, [[-25.0, -19.0, -18.0], [-1.0, 0.5, 3.0]])]):
    ms_add(f"asym_edge_{k}_all{int(fill)}_grad", "asymmetric", x, np.full((2, 3), fill),
           dict(zip(("gamma_pos", "gamma_neg", "clip", "eps"), ASYM_OPTS[0])),
           reduction="sum", grad=True, explicit=("gamma_pos",))

# dice / tversky
SEG_SHAPES = [(2, 3), (3, 2, 5), (2, 4, 3, 2), (2, 3, 2, 2, 2), (1, 2, 6), (4, 5, 2), (2, 2, 3, 3)]
SEG_SMOOTH = [(1e-5, 1e-5), (0.0, 1.0), (1.0, 1.0), (0.0, 1e-5), (0.5, 2.0)]
TV_AB = [(0.5, 0.5), (0.3, 0.7), (0.7, 0.3), (1.0, 1.0), (0.0, 1.0), (2.0, 0.5)]


def seg_case(loss, i):
    shape = SEG_SHAPES[i % len(SEG_SHAPES)]
    N, C = shape[0], shape[1]
    act = "sigmoid" if i % 4 == 3 else "softmax"
    incl = i % 3 != 1
    if not incl and C < 2:
        incl = True
    batch = i % 5 in (1, 3)
    snr, sdr = SEG_SMOOTH[i % len(SEG_SMOOTH)]
    red = REDS[i % 3]
    grad = i % 3 != 0 or i % 7 == 0
    style = ["normal", "full", "confident", "extreme", "int", "normal"][i % 6]
    edge = ["", "", "empty_class", "", "one_class", "", "perfect"][i % 7]
    x = ms_logits(shape, style)
    tshape = (N,) + shape[2:]
    K = C - (0 if incl else 1)
    if act == "softmax":
        t = ms_rng.integers(0, C, size=tshape)
        if edge == "empty_class":
            t = np.where(t == C - 1, 0, t)  # the last class never appears
        elif edge == "one_class":
            t = np.full(tshape, int(ms_rng.integers(0, C)))
        elif edge == "perfect":   # confident logits that agree with the targets
            x = np.moveaxis(np.eye(C)[t], -1, 1) * 40.0 - 20.0
    else:
        t = (ms_rng.random(shape) < 0.4).astype(np.float64)
        if i % 8 == 7:
            t = np.round(ms_rng.random(shape), 3)  # soft masks
        if edge == "empty_class":
            t[:, C - 1] = 0.0
        elif edge == "one_class":
            t[:] = 1.0
        elif edge == "perfect":
            x = np.where(t > 0.5, 30.0, -30.0)
            t = (t > 0.5).astype(np.float64)
    wk = ["none", "rand", "none", "zeros"][i % 4]
    w = None if wk == "none" else (np.round(ms_rng.uniform(0.1, 3.0, K), 3) if wk == "rand" else
                                   np.where(np.arange(K) % 2 == 0, 0.0, 2.0))
    o = {"activation": act, "include_background": incl, "batch": batch, "smooth_nr": snr,
         "smooth_dr": sdr}
    tag = ""
    if loss == "tversky":
        a, b = TV_AB[i % len(TV_AB)]
        o.update(tversky_alpha=a, tversky_beta=b)
        tag = f"_a{a}_b{b}"
    name = (f"{loss}_{i:03d}_{'x'.join(map(str, shape))}_{act}_{'bg' if incl else 'nobg'}_"
            f"{'batch' if batch else 'sample'}_s{snr}-{sdr}{tag}_{red}_w{wk}_{style}"
            + (f"_{edge}" if edge else "") + ("_grad" if grad else ""))
    ms_add(name, loss, x, t, o, weights=w, reduction=red, grad=grad,
           explicit=("activation",) if i % 2 else ())


for i in range(40):
    retry(lambda j: seg_case("dice", j), i)
for i in range(40):
    retry(lambda j: seg_case("tversky", j), i)

print("multi-label and segmentation cases:", json.dumps(ms_count))


# ------------------------------------------------------------------ write

def dump(path, header, cases):
    lines = [json.dumps(c, allow_nan=False, separators=(",", ":")) for c in cases]
    head = json.dumps(header, allow_nan=False, indent=1)
    assert head.endswith("\n}")
    with open(path, "w") as f:
        f.write(head[:-2] + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n")


header = {"generator": "tests/conformance/gen_loss.py",
          "torch": torch.__version__,
          "torchvision": torchvision.__version__,
          "numpy": np.__version__,
          "python": sys.version.split()[0],
          "dtype": "float64",
          "tolerance": {"rel": RTOL, "abs": ATOL}}
dump(OUT, header, cases + lt_cases)  # the long-tail section's cases last

with open(OUT) as f:
    data = json.load(f)
assert len(data["cases"]) == len(cases) + len(lt_cases)
per = {}
for c in data["cases"]:
    r = c["request"]
    key = r.get("loss", "cross_entropy")
    if key == "cross_entropy":
        key += "/probabilities" if any(
            isinstance(v, float) for v in np.asarray(r["targets"], dtype=object).ravel()) \
            else "/indices"
    per[key] = per.get(key, 0) + 1
ngrad = sum(1 for c in data["cases"] if c["request"].get("grad"))
nwarn = sum(1 for c in data["cases"] if c["expected"].get("warning"))
print(f"wrote {len(cases) + len(lt_cases)} cases to {os.path.relpath(OUT)} "
      f"({os.path.getsize(OUT)} bytes)")
print("per loss:", json.dumps(per))
print(f"with grad: {ngrad}; NaN (null + warning): {nwarn}")
print("long-tail cases (logit adjustment, ldam, sum_over_batch_size):", json.dumps(lt_per))
for k, v in list(rejected.items()) + [("long-tail " + k, v) for k, v in lt_rejected.items()]:
    print(f"redrawn because torch differs from an accurate float64 evaluation by more than "
          f"1/4 of the tolerance: {k}: {len(v)} (e.g. {v[0][0]}: {v[0][1]:.3g}x tolerance)")
print(f"self-check: numpy reimplementation agrees on every case "
      f"(worst error / tolerance {worst_np:.3g}); {identity_checks} cross-loss identities; "
      f"{aten_checks} aten total_weight checks")
