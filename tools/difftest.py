#!/usr/bin/python3
"""Differential fuzzer: ballastd against PyTorch float64 and 50-digit exact arithmetic.

    /usr/bin/python3 tools/difftest.py [--seconds 600] [--seed 1] [--only loss.dice,...]
                                       [--ballastd build/ballastd] [--stop-after 20]

Not part of `make test`: it needs Debian's python3-torch and python3-mpmath and runs for
minutes. It starts build/ballastd on a free loopback port, sends random requests over the
features of /weights (every scheme, `power`'s exponent, multi-label `labels` matrices and
`label_sets`, positives, pos_weight, sample_weight_reduce, `repeat_factor`'s threshold),
/loss (cross_entropy and focal with logit_adjustment, ldam, every loss under
sum_over_batch_size, asymmetric, dice, tversky, with gradients) and /sample (stream
continued and per_epoch against torch.multinomial, offset/count windows, fast_version 1 and
2, world_size/rank, strategy undersample/oversample against imbalanced-learn's targets):
random shapes (empty dims, one element, K-dim), extreme values (logits of +-1e4, counts
from 1e-300 to 1e300 and DBL_MAX, subnormals, zeros, class weights from 5e-324 to 1e300,
ignore_index hits, probabilities at 0 and 1, clip 0 and 1, eps 0, fractional gammas,
smoothing 0), seeds near 2^32 and 2^64. Class weights stop at 1e300: weights near DBL_MAX
whose sums overflow are a documented limit (README, "Equivalence with PyTorch").

References are written here from the formulas of api/openapi.yaml and README.md, not taken
from the fixture generators: each loss is one scalar function over a "backend" that is
either PyTorch (0-d float64 tensors, gradients by autograd) or a 50-digit mpmath dual
number (exact value and gradient; 700 digits when an input is below 1e-30), evaluated only
when PyTorch and ballast disagree. Where PyTorch's autograd forms 0 * inf (pow(0, g < 1)
times an exact zero), the exact backend takes the limit, 0. Tolerance: a number passes when it is within 1e-12
relative (1e-15 absolute near zero, the rule of tests/unit/check_close.h) of the PyTorch
value or of the exact one; a case where PyTorch and ballast disagree is settled by the
exact value. A request the reference refuses must be refused (400) by ballast and the
other way round, except the deliberate differences stated in README ("Where ballast differs
on purpose"), which the generators do not send as valid requests.

Every failure is printed with its request (JSON) and both answers; the run ends with the
number of cases per feature and of failures.
"""
import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict

import mpmath
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))

F64 = torch.float64
REL, ABS = 1e-12, 1e-15
mpmath.mp.dps = 50
mpf = mpmath.mpf


# ---------------------------------------------------------------------------- backends
class TorchB:
    """Scalars are 0-d float64 tensors; gradients by autograd."""
    name = "torch"

    def inputs(self, flat):
        X = torch.tensor(flat, dtype=F64, requires_grad=True)
        return X, [X[i] for i in range(len(flat))]

    def grad(self, X, out):
        if not out.requires_grad:
            return [0.0] * X.numel()
        (g,) = torch.autograd.grad(out, X, allow_unused=True)
        return [0.0] * X.numel() if g is None else g.tolist()

    @staticmethod
    def v(a):
        return float(a) if not isinstance(a, float) else a

    def c(self, x):
        return torch.tensor(float(x), dtype=F64)

    exp = staticmethod(lambda a: torch.exp(a))
    log = staticmethod(lambda a: torch.log(a))
    log1p = staticmethod(lambda a: torch.log1p(a))
    expm1 = staticmethod(lambda a: torch.expm1(a))
    sqrt = staticmethod(lambda a: torch.sqrt(a))

    @staticmethod
    def pow(a, g):
        return torch.pow(a, g)

    def tofloat(self, a):
        return float(a)


class Dual:
    """An mpmath value with a sparse gradient {input index: derivative}."""
    __slots__ = ("v", "d")

    def __init__(self, v, d=None):
        self.v = v
        self.d = d or {}

    @staticmethod
    def lift(o):
        return o if isinstance(o, Dual) else Dual(mpf(o))

    def _lin(self, o, a, b):  # a*self + b*o
        o = Dual.lift(o)
        d = {}
        for k, x in self.d.items():
            d[k] = a * x
        for k, x in o.d.items():
            d[k] = d.get(k, 0) + b * x
        return d, o

    def __add__(self, o):
        d, o = self._lin(o, 1, 1)
        return Dual(self.v + o.v, d)

    __radd__ = __add__

    def __sub__(self, o):
        d, o = self._lin(o, 1, -1)
        return Dual(self.v - o.v, d)

    def __rsub__(self, o):
        return Dual.lift(o) - self

    def __neg__(self):
        return Dual(-self.v, {k: -x for k, x in self.d.items()})

    def __mul__(self, o):
        o = Dual.lift(o)
        if (not o.d and o.v == 0) or (not self.d and self.v == 0):
            return Dual(self.v * o.v)  # an exact zero factor: no derivative (0 * inf = 0)
        d, _ = self._lin(o, o.v, self.v)
        return Dual(self.v * o.v, d)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = Dual.lift(o)
        q = self.v / o.v
        d, _ = self._lin(o, 1 / o.v, -q / o.v)
        return Dual(q, d)

    def __rtruediv__(self, o):
        return Dual.lift(o) / self

    def scale(self, val, f):
        # an exact zero derivative stays 0 whatever f (the chain rule's 0 * inf)
        return Dual(val, {k: (f * x if x != 0 else x) for k, x in self.d.items()})


class MpB:
    """Scalars are Duals over 50-digit mpmath: the exact value and gradient."""
    name = "exact"

    def inputs(self, flat):
        return None, [Dual(mpf(x), {i: mpf(1)}) for i, x in enumerate(flat)]

    def grad(self, X, out, n=None):
        out = Dual.lift(out)
        return [float(out.d.get(i, 0)) for i in range(n)]

    @staticmethod
    def v(a):
        return a.v if isinstance(a, Dual) else mpf(a)

    def c(self, x):
        return Dual(mpf(x))

    @staticmethod
    def exp(a):
        e = mpmath.exp(a.v)
        return a.scale(e, e)

    @staticmethod
    def log(a):
        return a.scale(mpmath.log(a.v), 1 / a.v)

    @staticmethod
    def log1p(a):
        return a.scale(mpmath.log1p(a.v), 1 / (1 + a.v))

    @staticmethod
    def expm1(a):
        return a.scale(mpmath.expm1(a.v), mpmath.exp(a.v))

    @staticmethod
    def sqrt(a):
        s = mpmath.sqrt(a.v)
        return a.scale(s, 1 / (2 * s))

    @staticmethod
    def pow(a, g):
        g = mpf(g)
        if g == 0:
            return Dual(mpf(1))
        if a.v == 0:
            dv = mpf(0) if g > 1 else (mpf(1) if g == 1 else mpmath.inf)
            return a.scale(mpf(0), dv)
        return a.scale(a.v ** g, g * a.v ** (g - 1))

    def tofloat(self, a):
        return float(Dual.lift(a).v)


TB, MB = TorchB(), MpB()


def softplus(B, x):
    """log(1 + e^x), both branches exact."""
    if B.v(x) >= 0:
        return x + B.log1p(B.exp(-x))
    return B.log1p(B.exp(x))


def log_softmax_row(B, z):
    """z - logsumexp(z) as (z - z_max) - log1p(sum of the others' exp(z - z_max)), so that
    a confident row keeps its tiny log-probabilities (exactly in the mpmath backend)."""
    vals = [B.v(a) for a in z]
    k = max(range(len(z)), key=lambda i: vals[i])
    m = z[k]
    s = None
    for i, a in enumerate(z):
        if i != k:
            e = B.exp(a - m)
            s = e if s is None else s + e
    L = B.c(0.0) if s is None else B.log1p(s)
    return [(a - m) - L for a in z]


# ---------------------------------------------------------------------------- shapes
def prod(s):
    r = 1
    for x in s:
        r *= x
    return r


def nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = prod(shape[1:])
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def flatten(o):
    if isinstance(o, list):
        r = []
        for x in o:
            r.extend(flatten(x))
        return r
    return [o]


def rows_of(shape):
    """(positions, C, index(pos, c) into the flat input) for (C), (N, C), (N, C, d...)."""
    if len(shape) == 1:
        return 1, shape[0], (lambda n, c: c)
    N, C = shape[0], shape[1]
    S = prod(shape[2:])
    return N * S, C, (lambda n, c: (n // S) * C * S + c * S + n % S)


# ---------------------------------------------------------------------------- random values
class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def real(self, style=None):
        r = self.r
        style = style or r.choice(["n", "n", "n", "big", "tiny", "zero", "int", "wide"])
        if style == "n":
            return r.gauss(0, 3)
        if style == "big":
            return r.choice([-1, 1]) * r.choice([1e4, 9999.5, 5000.0, 800.0, 745.0, 40.0])
        if style == "tiny":
            return r.choice([-1, 1]) * r.choice([5e-324, 1e-310, 1e-300, 1e-17, 2.0 ** -60])
        if style == "zero":
            return 0.0
        if style == "int":
            return float(r.randint(-5, 5))
        return r.uniform(-1e4, 1e4)

    def logits(self, n):
        st = self.r.choice(["n", "n", "mix", "big", "int"])
        if st == "mix":
            return [self.real() for _ in range(n)]
        return [self.real(st) for _ in range(n)]

    def count(self):
        r = self.r
        s = r.choice(["int", "int", "real", "huge", "tiny", "sub", "one"])
        if s == "int":
            return float(r.randint(1, 1000))
        if s == "real":
            return r.uniform(1e-3, 1e3)
        if s == "huge":
            return 10.0 ** r.uniform(100, 300) if r.random() < 0.7 else \
                r.choice([1e300, 1.7976931348623157e308])
        if s == "tiny":
            return 10.0 ** -r.uniform(100, 300) if r.random() < 0.7 else 1e-300
        if s == "sub":
            return r.choice([5e-324, 1e-310, 2.2e-308])
        return 1.0

    def prob(self):
        r = self.r
        return r.choice([0.0, 1.0, 0.0, 1.0, r.random(), 1e-17, 1 - 2 ** -53, 0.5])


def json_num(x):
    return x


# ---------------------------------------------------------------------------- comparison
def close(got, want):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None
    if math.isinf(want):
        return got is None  # JSON has no infinity: ballast writes null (with a warning)
    if got is None:
        return False
    return abs(got - want) <= max(REL * abs(want), ABS)


def diff_list(got, want):
    """Indices where got and want differ (lists of floats, None for non-finite)."""
    if len(got) != len(want):
        return ["length %d vs %d" % (len(got), len(want))]
    return [i for i, (g, w) in enumerate(zip(got, want)) if not close(g, w)]


def finite_or_none(x):
    return None if x is None or not math.isfinite(x) else x


# ---------------------------------------------------------------------------- /loss
LOSS_DEFAULTS = {"gamma": 2.0, "alpha": 0.25, "gamma_pos": 1.0, "gamma_neg": 4.0,
                 "clip": 0.05, "eps": 1e-8, "smooth_nr": 1e-5, "smooth_dr": 1e-5,
                 "tversky_alpha": 0.5, "tversky_beta": 0.5, "max_margin": 0.5, "scale": 30.0,
                 "label_smoothing": 0.0, "ignore_index": -100}


class Refuse(Exception):
    """The reference refuses the request (the message says why)."""


def opt(req, k):
    return req.get(k, LOSS_DEFAULTS.get(k))


def class_losses(B, xs, shape, req):
    """(per-position losses, total_weight, count kept) of cross_entropy / focal / nll / ldam
    with class indices or probability targets."""
    loss = req.get("loss", "cross_entropy")
    P, C, at = rows_of(shape)
    w = req.get("weights")
    ww = w if w is not None else [1.0] * C
    ii = opt(req, "ignore_index")
    ls = opt(req, "label_smoothing")
    t = req["targets"]
    tflat = flatten(t) if isinstance(t, list) else [t]
    prob = req.get("_kind") == "prob"
    shift = None
    if "logit_adjustment" in req:
        tau = req["logit_adjustment"]
        v = req.get("class_counts") or req.get("class_priors")
        tot = mpmath.fsum(mpf(a) for a in v)
        shift = [float(tau * float(mpmath.log(mpf(a) / tot))) if B is TB else
                 mpf(tau) * mpmath.log(mpf(a) / tot) for a in v]
    delta = None
    if loss == "ldam":
        n = req["class_counts"]
        mn = min(mpf(a) for a in n)
        mm = mpf(opt(req, "max_margin"))
        delta = [mm * mpmath.root(mn / mpf(a), 4) for a in n]
        if B is TB:
            delta = [float(d) for d in delta]
        s = opt(req, "scale")
    out, tw, kept = [], (mpf(0) if B is MB else 0.0), 0
    for n in range(P):
        z = [xs[at(n, c)] for c in range(C)]
        if shift is not None:
            z = [a + shift[c] for c, a in enumerate(z)]
        if prob:
            tt = [tflat[at(n, c)] for c in range(C)]
            p = log_softmax_row(B, z)
            l = None
            for c in range(C):
                tc = (1 - ls) * tt[c] + ls / C
                term = -(ww[c] * tc) * p[c]
                l = term if l is None else l + term
            out.append(l)
            tw += 1.0
            kept += 1
            continue
        y = tflat[n]
        if y == ii:
            out.append(None)
            continue
        kept += 1
        tw += mpf(ww[y]) if B is MB else ww[y]
        if loss == "nll":
            out.append(-ww[y] * z[y])
            continue
        if loss == "ldam":
            z = [s * (a - delta[y]) if c == y else s * a for c, a in enumerate(z)]
        p = log_softmax_row(B, z)
        if loss == "focal":
            g = opt(req, "gamma")
            l = -ww[y] * p[y]
            if g != 0:
                l = l * B.pow(-B.expm1(p[y]), g)
            out.append(l)
            continue
        l = -ww[y] * p[y]
        if ls:
            sm = None
            for c in range(C):
                term = -ww[c] * p[c]
                sm = term if sm is None else sm + term
            l = (1 - ls) * l + (ls / C) * sm
        out.append(l)
    return out, tw, kept


def binary_losses(B, xs, shape, req):
    loss = req["loss"]
    t = flatten(req["targets"]) if isinstance(req["targets"], list) else [req["targets"]]
    last = shape[-1] if shape else 1
    w = req.get("weights")
    out = []
    for i, x in enumerate(xs):
        y = t[i]
        wi = w[i % last] if w is not None else 1.0
        if loss == "bce_with_logits":
            pw = req.get("pos_weight")
            pwi = pw[i % last] if pw is not None else 1.0
            l = (pwi * y) * softplus(B, -x) + (1 - y) * softplus(B, x)
            out.append(wi * l)
        elif loss == "sigmoid_focal":
            ce = y * softplus(B, -x) + (1 - y) * softplus(B, x)
            p, q = B.exp(-softplus(B, -x)), B.exp(-softplus(B, x))
            u = y * q + (1 - y) * p
            g = opt(req, "gamma")
            l = ce if g == 0 else ce * B.pow(u, g)
            a = opt(req, "alpha")
            if a >= 0:
                l = (a * y + (1 - a) * (1 - y)) * l
            out.append(wi * l)
        else:  # asymmetric
            out.append(wi * asym_elem(B, x, y, req))
    return out, float(len(xs)), len(xs)


def asym_elem(B, x, y, req):
    gp, gn, m, eps = opt(req, "gamma_pos"), opt(req, "gamma_neg"), opt(req, "clip"), opt(req, "eps")
    sp_neg, sp_pos = softplus(B, -x), softplus(B, x)
    p, q = B.exp(-sp_neg), B.exp(-sp_pos)
    # log max(p, eps)
    logp = -sp_neg if B.v(p) >= eps else B.c(math.log(eps) if eps > 0 else -math.inf)
    if B is MB and eps > 0 and B.v(p) < eps:
        logp = B.c(mpmath.log(mpf(eps)))
    if m > 0:
        raw = q + m
        # exactly: the clamp binds when q > 1 - m, and 1 - p_m = p - m = (1 - m) - q
        # (50 digits would round 1 + 1e-4000 to 1)
        binds = B.v(raw) > 1 if B is TB else B.v(q) > 1 - mpf(m)
        if binds:
            pm, u_neg = B.c(1.0), B.c(0.0)
        else:
            pm = raw
            d = p - m if B is TB else (1 - mpf(m)) - q
            u_neg = d if B.v(d) >= 0 else B.c(0.0)  # clamp(min=0) passes at 0, as torch
        if B.v(pm) >= eps:
            logpm = B.log(pm)
        else:
            logpm = B.c(mpmath.log(mpf(eps)) if B is MB else math.log(eps))
    else:
        u_neg = p
        if B.v(q) >= eps:
            logpm = -sp_pos
        else:
            logpm = B.c(mpmath.log(mpf(eps)) if B is MB else math.log(eps))
    A = y * logp + (1 - y) * logpm
    if gp > 0 or gn > 0:
        u = y * q + (1 - y) * u_neg
        g = gp * y + gn * (1 - y)
        if B is MB and B.v(u) == 0 and B.v(A) == 0:
            # at the kink p = m of a negative: A = log(1 - u) = O(u), so A u^g = O(u^(1+g))
            # and its derivative is 0 (the limit; autograd's 0 * inf is NaN)
            return B.c(0.0)
        A = A * B.pow(u, g)
    return -A


def seg_scores(B, xs, shape, req):
    loss = req["loss"]
    act = req.get("activation", "softmax")
    N, C = shape[0], shape[1]
    S = prod(shape[2:])
    t = flatten(req["targets"]) if isinstance(req["targets"], list) else [req["targets"]]
    inc = req.get("include_background", True)
    batch = req.get("batch", False)
    snr, sdr = opt(req, "smooth_nr"), opt(req, "smooth_dr")
    a, b = opt(req, "tversky_alpha"), opt(req, "tversky_beta")
    w = req.get("weights")
    P = [[None] * S for _ in range(N * C)]  # p[n*C + c][s]
    Q = [[None] * S for _ in range(N * C)]  # 1 - p
    G = [[0.0] * S for _ in range(N * C)]
    for n in range(N):
        for s in range(S):
            at = lambda c: n * C * S + c * S + s
            if act == "softmax":
                lp = log_softmax_row(B, [xs[at(c)] for c in range(C)])
                for c in range(C):
                    P[n * C + c][s] = B.exp(lp[c])
                    Q[n * C + c][s] = 1 - P[n * C + c][s]
                G[n * C + t[n * S + s]][s] = 1.0
            else:
                for c in range(C):
                    x = xs[at(c)]
                    P[n * C + c][s] = B.exp(-softplus(B, -x))
                    Q[n * C + c][s] = B.exp(-softplus(B, x))
                    G[n * C + c][s] = t[at(c)]
    classes = list(range(0 if inc else 1, C))
    groups = [[(n, c) for n in range(N)] for c in classes] if batch else \
        [[(n, c)] for n in range(N) for c in classes]
    out = []
    for gi, grp in enumerate(groups):
        tp = fp = fn = B.c(0.0)
        for n, c in grp:
            for s in range(S):
                p, q, g = P[n * C + c][s], Q[n * C + c][s], G[n * C + c][s]
                tp = tp + p * g
                fp = fp + p * (1 - g)
                fn = fn + q * g
        if loss == "dice":
            top, den = fp + fn + (sdr - snr), 2 * tp + fp + fn + sdr
        else:
            top, den = a * fp + b * fn + (sdr - snr), tp + a * fp + b * fn + sdr
        if B is MB:
            top = fp + fn + (mpf(sdr) - mpf(snr)) if loss == "dice" else \
                a * fp + b * fn + (mpf(sdr) - mpf(snr))
        if B is MB and den.v == 0:  # 0/0 or x/0: not finite, as in float64 (null)
            keys = set(top.d) | set(den.d)
            f = Dual(mpf("nan"), {k: mpf("nan") for k in keys})
        else:
            f = top / den
        if w is not None:
            c = grp[0][1]
            f = f * w[classes.index(c)]
        out.append(f)
    return out


def reference(B, req):
    """(loss as float or list, total_weight, grad list or None) by backend B. The exact
    backend works with 50 digits, or 700 when an input is as tiny as 1e-300 (so that
    sigmoid(1e-310) - 1/2 keeps its value)."""
    if B is MB:
        # 50 digits beyond the spread of the inputs' magnitudes: 1e300 + 1e150 (two class
        # weights' terms) needs 150 digits more to keep the 1e150
        nums = []
        for k in ("logits", "weights", "targets", "class_counts", "class_priors", "pos_weight"):
            v = req.get(k)
            if v is not None:
                nums += [abs(x) for x in (flatten(v) if isinstance(v, list) else [v])
                         if isinstance(x, float) and x != 0]
        spread = math.log10(max(nums)) - math.log10(min(nums)) if nums else 0
        lg = flatten(req["logits"]) if isinstance(req["logits"], list) else [req["logits"]]
        tiny = any(0 < abs(x) < 1e-30 for x in lg)
        with mpmath.workdps(int(50 + min(1400, max(spread, 650 if tiny else 0)))):
            return reference_at(B, req)
    return reference_at(B, req)


def reference_at(B, req):
    loss = req.get("loss", "cross_entropy")
    flat = flatten(req["logits"]) if isinstance(req["logits"], list) else [req["logits"]]
    shape = req["_shape"]
    X, xs = B.inputs(flat)
    red = req.get("reduction", "mean")
    if loss in ("dice", "tversky"):
        ls = seg_scores(B, xs, shape, req)
        tw = float(len(ls))
        kept = len(ls)
    elif loss in ("bce_with_logits", "sigmoid_focal", "asymmetric"):
        ls, tw, kept = binary_losses(B, xs, shape, req)
    else:
        ls, tw, kept = class_losses(B, xs, shape, req)
    vals = [l for l in ls if l is not None]
    tot = B.c(0.0)
    for l in vals:
        tot = tot + l
    if red == "none":
        value = [0.0 if l is None else B.tofloat(l) for l in ls]
        out = tot
    elif red == "sum":
        value, out = B.tofloat(tot), tot
    elif red == "mean":
        out = tot / tw if tw != 0 else None
        value = B.tofloat(out) if out is not None else None
        if out is None:
            out = tot
        if loss in ("dice", "tversky", "bce_with_logits", "sigmoid_focal", "asymmetric"):
            pass
    else:  # sum_over_batch_size
        out = tot / kept if kept else tot * 0.0
        value = B.tofloat(out)
        tw = float(kept)
    grad = None
    if req.get("grad"):
        if B is TB:
            g = B.grad(X, out) if isinstance(out, torch.Tensor) else [0.0] * len(flat)
        else:
            g = B.grad(X, out, len(flat))
        if red == "mean" and tw == 0 and kept:
            # PyTorch: 0/0 in the backward of the kept positions (the target's entry for
            # nll, the row through the softmax otherwise); ignored positions get 0
            P, C, at = rows_of(shape)
            t = req["targets"]
            tf = flatten(t) if isinstance(t, list) else [t]
            g = list(g)
            for n in range(P):
                if tf[n] != opt(req, "ignore_index"):
                    for c in ([tf[n]] if loss == "nll" else range(C)):
                        g[at(n, c)] = float("nan")
        grad = g
    return value, tw, grad


def json_shape(shape):
    """The shape ballast infers from nested JSON: nothing after the first zero dim."""
    out = []
    for d in shape:
        out.append(d)
        if d == 0:
            break
    return tuple(out)


def class_shape(g, C=None, spatial=True):
    r = g.r
    C = C or r.choice([1, 2, 2, 3, 3, 4, 5, 7, 12, 33])
    k = r.random()
    if k < 0.12:
        return (C,)
    if k < 0.6 or not spatial:
        return (r.choice([1, 1, 2, 3, 4, 6]), C)
    dims = [r.choice([1, 2, 3]) for _ in range(r.choice([1, 1, 2, 3]))]
    if r.random() < 0.08:
        dims[-1] = 0
    return (r.choice([1, 2, 3]), C) + tuple(dims)


def index_targets(g, shape, ii, hit):
    P, C, _ = rows_of(shape)
    t = [g.r.randrange(C) for _ in range(P)]
    if hit:
        for i in range(P):
            if g.r.random() < hit:
                t[i] = ii
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    return t[0] if not tshape else nest(t, tshape)


def class_weights(g, C, zero_ok=True):
    r = g.r
    k = r.random()
    if k < 0.45:
        return None
    if k < 0.6 and zero_ok:
        w = [r.choice([0.0, 1.0, 2.5]) for _ in range(C)]
        return w
    if k < 0.75:
        return [r.choice([r.uniform(0, 3), 1.0, 1e-300, 1e300 if r.random() < 0.1 else 2.0,
                          r.uniform(1e-3, 1e3)]) for _ in range(C)]
    # up to 1e300: weights near DBL_MAX, whose sums overflow, are a documented limit
    # (README, "Equivalence with PyTorch")
    return [r.choice([1e300, 1e-300, 5e-324, 1e300, 0.0, 1.0, 1e150])
            for _ in range(C)]


def put(req, g, k, v):
    """Send an option, at its default only half of the time."""
    if LOSS_DEFAULTS.get(k) == v and g.r.random() < 0.5:
        return
    req[k] = v


def finish(req, shape, g, grad_p=0.6):
    req["_shape"] = shape
    if g.r.random() < grad_p:
        req["grad"] = True
    return req


def gen_la(g):
    """cross_entropy / focal with logit_adjustment (class_counts or class_priors)."""
    r = g.r
    loss = r.choice(["cross_entropy", "cross_entropy", "focal"])
    shape = class_shape(g)
    C = shape[0] if len(shape) == 1 else shape[1]
    xs = g.logits(prod(shape))
    req = {"loss": loss, "logits": nest(xs, shape)}
    kind = "index"
    if loss == "cross_entropy" and r.random() < 0.25 and len(shape) > 1:
        kind = "prob"
        req["targets"] = nest([g.prob() for _ in xs], shape)
    else:
        ii = r.choice([-100, -1, 0, C - 1, 7]) if r.random() < 0.5 else -100
        req["targets"] = index_targets(g, shape, ii, r.choice([0, 0, 0.3, 1.0]))
        if ii != -100 or r.random() < 0.2:
            req["ignore_index"] = ii
    req["_kind"] = kind
    w = class_weights(g, C)
    if w is not None:
        req["weights"] = w
    req["logit_adjustment"] = r.choice([1.0, 1.0, 0.0, 0.5, -1.0, 2.0, r.uniform(-3, 3)])
    src = "class_counts" if r.random() < 0.6 else "class_priors"
    req[src] = [g.count() for _ in range(C)] if src == "class_counts" else \
        [r.choice([r.random() + 1e-9, 1.0 / C, 1e-300, 0.999]) for _ in range(C)]
    if loss == "cross_entropy" and r.random() < 0.3:
        req["label_smoothing"] = r.choice([0.0, 0.1, 1.0, r.random()])
    if loss == "focal":
        put(req, g, "gamma", r.choice([0.0, 0.5, 1.0, 2.0, 2.5, 0.25, 5.0]))
    req["reduction"] = r.choice(["mean", "sum", "none", "sum_over_batch_size"])
    if kind == "prob" and "ignore_index" in req:
        del req["ignore_index"]
    # refusals
    m = r.random()
    bad = None
    if m < 0.04:
        req[src][r.randrange(C)] = r.choice([0.0, -1.0])
        bad = src
    elif m < 0.07:
        req[src] = req[src] + [1.0]
        bad = src
    elif m < 0.09:
        del req["logit_adjustment"]
        bad = src
    elif m < 0.11:
        del req[src]
        bad = "logit_adjustment"
    elif m < 0.12:
        req["class_priors" if src == "class_counts" else "class_counts"] = [1.0] * C
        bad = "class_"
    elif m < 0.13:
        req[r.choice(["clip", "gamma_pos", "smooth_nr", "max_margin", "tversky_alpha"])] = 0.1
        bad = "an option of another loss"
    if bad:
        req["_refuse"] = bad
    return finish(req, shape, g)


def gen_ldam(g):
    r = g.r
    shape = class_shape(g)
    C = shape[0] if len(shape) == 1 else shape[1]
    xs = g.logits(prod(shape))
    ii = r.choice([-100, 0, C - 1, -5])
    req = {"loss": "ldam", "logits": nest(xs, shape), "_kind": "index",
           "targets": index_targets(g, shape, ii, r.choice([0, 0, 0.3, 1.0])),
           "class_counts": [g.count() if r.random() < 0.3 else float(r.randint(1, 5000))
                            for _ in range(C)]}
    if ii != -100:
        req["ignore_index"] = ii
    w = class_weights(g, C)
    if w is not None:
        req["weights"] = w
    put(req, g, "max_margin", r.choice([0.5, 0.5, 1.0, 1e-3, 3.0]))
    put(req, g, "scale", r.choice([30.0, 30.0, 1.0, 0.5, 64.0, 1e-3]))
    req["reduction"] = r.choice(["mean", "sum", "none", "sum_over_batch_size"])
    m = r.random()
    if m < 0.03:
        req["max_margin"] = r.choice([0.0, -1.0])
        req["_refuse"] = "max_margin"
    elif m < 0.06:
        req["scale"] = r.choice([0.0, -1.0])
        req["_refuse"] = "scale"
    elif m < 0.08:
        del req["class_counts"]
        req["_refuse"] = "class_counts"
    elif m < 0.1:
        req["class_counts"][0] = 0.0
        req["_refuse"] = "class_counts"
    return finish(req, shape, g)


def any_shape(g):
    r = g.r
    k = r.random()
    if k < 0.05:
        return ()
    if k < 0.3:
        return (r.choice([0, 1, 2, 5]),)
    if k < 0.8:
        return (r.choice([1, 2, 3, 4]), r.choice([1, 2, 3, 5]))
    return tuple(r.choice([1, 2, 3]) for _ in range(r.choice([3, 4])))


def gen_sobs(g):
    """every loss under reduction sum_over_batch_size."""
    r = g.r
    loss = r.choice(["cross_entropy", "nll", "focal", "bce_with_logits", "sigmoid_focal",
                     "asymmetric", "dice", "tversky", "ldam"])
    if loss in ("bce_with_logits", "sigmoid_focal", "asymmetric"):
        req = gen_binary(g, loss)
    elif loss in ("dice", "tversky"):
        req = gen_seg(g, loss)
    elif loss == "ldam":
        req = gen_ldam(g)
    else:
        shape = class_shape(g)
        C = shape[0] if len(shape) == 1 else shape[1]
        xs = g.logits(prod(shape))
        if loss == "nll":
            xs = [-abs(x) for x in xs]
        ii = r.choice([-100, 0, C - 1])
        req = {"loss": loss, ("log_probs" if loss == "nll" else "logits"): nest(xs, shape),
               "targets": index_targets(g, shape, ii, r.choice([0, 0.3, 1.0])), "_kind": "index"}
        if loss == "cross_entropy" and len(shape) > 1 and r.random() < 0.3:
            req["targets"] = nest([g.prob() for _ in xs], shape)
            req["_kind"] = "prob"
        elif ii != -100:
            req["ignore_index"] = ii
        w = class_weights(g, C)
        if w is not None:
            req["weights"] = w
        if loss == "focal":
            put(req, g, "gamma", r.choice([0.0, 0.5, 2.0]))
        finish(req, shape, g)
    req["reduction"] = "sum_over_batch_size"
    if "log_probs" in req:
        req["logits"] = req.pop("log_probs")
        req["_nll"] = True
    return req


def gen_binary(g, loss):
    r = g.r
    shape = any_shape(g)
    n = prod(shape)
    xs = g.logits(n)
    ts = [g.prob() for _ in range(n)]
    req = {"loss": loss, "logits": nest(xs, shape) if shape else xs[0],
           "targets": nest(ts, shape) if shape else ts[0]}
    last = shape[-1] if shape else None
    if last and r.random() < 0.4:
        req["weights"] = [r.choice([0.0, 1.0, r.uniform(0, 3)]) for _ in range(last)]
    if loss == "bce_with_logits" and last and r.random() < 0.3:
        req["pos_weight"] = [r.choice([0.0, 1.0, r.uniform(0, 5)]) for _ in range(last)]
    if loss == "sigmoid_focal":
        put(req, g, "gamma", r.choice([0.0, 0.5, 2.0, 1.5]))
        put(req, g, "alpha", r.choice([0.25, -1.0, 0.0, 1.0, 0.7]))
    if loss == "asymmetric":
        put(req, g, "gamma_pos", r.choice([0.0, 1.0, 0.5, 2.0, 0.25, 3.0]))
        put(req, g, "gamma_neg", r.choice([0.0, 4.0, 1.0, 0.5, 2.5]))
        put(req, g, "clip", r.choice([0.05, 0.0, 1.0, 0.3, 1e-17, 0.5]))
        put(req, g, "eps", r.choice([1e-8, 0.0, 1e-300, 0.5, 0.999, 1e-3]))
        if r.random() < 0.3:
            req["targets"] = nest([float(r.random() < 0.5) for _ in range(n)], shape) if shape \
                else float(r.random() < 0.5)
        m = r.random()
        if m < 0.02:
            req["clip"] = r.choice([-0.1, 1.5])
            req["_refuse"] = "clip"
        elif m < 0.04:
            req["eps"] = r.choice([1.0, -1e-9])
            req["_refuse"] = "eps"
        elif m < 0.06:
            req[r.choice(["gamma_pos", "gamma_neg"])] = -0.5
            req["_refuse"] = "gamma_"
        elif m < 0.09 and n:
            req[r.choice(["gamma", "alpha", "smooth_dr", "tversky_beta", "ignore_index"])] = 0.1 \
                if r.random() < 0.8 else 1
            req["_refuse"] = "an option of another loss"
        elif m < 0.11 and n:
            ts[0] = r.choice([1.5, -0.1])
            req["targets"] = nest(ts, shape) if shape else ts[0]
            req["_refuse"] = "targets"
    req["reduction"] = r.choice(["mean", "sum", "none", "sum_over_batch_size"])
    return finish(req, shape, g)


def gen_asym(g):
    return gen_binary(g, "asymmetric")


def gen_seg(g, loss=None):
    r = g.r
    loss = loss or r.choice(["dice", "tversky"])
    act = r.choice(["softmax", "softmax", "sigmoid"])
    C = r.choice([1, 2, 2, 3, 4]) if act == "sigmoid" else r.choice([2, 2, 3, 4])
    N = r.choice([1, 1, 2, 3])
    k = r.random()
    dims = () if k < 0.3 else tuple(r.choice([1, 2, 3, 4]) for _ in range(r.choice([1, 1, 2, 3])))
    shape = (N, C) + dims
    xs = g.logits(prod(shape))
    req = {"loss": loss, "logits": nest(xs, shape)}
    if act == "softmax":
        tshape = (N,) + dims
        req["targets"] = nest([r.randrange(C) for _ in range(prod(tshape))], tshape)
    else:
        req["targets"] = nest([g.prob() if r.random() < 0.3 else float(r.random() < 0.5)
                               for _ in xs], shape)
    if act == "sigmoid" or r.random() < 0.5:
        req["activation"] = act
    inc = r.random() < 0.6
    if not inc or r.random() < 0.3:
        req["include_background"] = inc
    if r.random() < 0.4:
        req["batch"] = r.random() < 0.6
    put(req, g, "smooth_nr", r.choice([1e-5, 0.0, 1.0, 1e-300, 0.5]))
    put(req, g, "smooth_dr", r.choice([1e-5, 0.0, 1.0, 1e-300, 0.5]) if r.random() < 0.8 else 1e-5)
    if loss == "tversky":
        put(req, g, "tversky_alpha", r.choice([0.5, 0.0, 0.3, 1.0, 0.7]))
        put(req, g, "tversky_beta", r.choice([0.5, 0.0, 0.7, 1.0, 0.3]))
    Cs = C - (0 if inc else 1)
    if r.random() < 0.35 and Cs > 0:
        req["weights"] = [r.choice([0.0, 1.0, r.uniform(0, 3)]) for _ in range(Cs)]
    req["reduction"] = r.choice(["mean", "sum", "none", "sum_over_batch_size"])
    m = r.random()
    if (not inc and C == 1):
        req["_refuse"] = "include_background"
    elif m < 0.03:
        req["smooth_" + r.choice(["nr", "dr"])] = -1e-5
        req["_refuse"] = "smooth_"
    elif m < 0.05 and loss == "tversky":
        req["tversky_" + r.choice(["alpha", "beta"])] = -0.5
        req["_refuse"] = "tversky_"
    elif m < 0.07:
        req["ignore_index"] = 0
        req["_refuse"] = "ignore_index"
    elif m < 0.09:
        req["weights"] = [1.0] * (Cs + 1)
        req["_refuse"] = "weights"
    elif m < 0.1 and act == "softmax":
        f = flatten(req["targets"])
        f[0] = C
        req["targets"] = nest(f, (N,) + dims)
        req["_refuse"] = "targets"
    elif m < 0.105:
        req[r.choice(["gamma", "label_smoothing", "clip", "logit_adjustment"])] = 0.1
        req["_refuse"] = "an option of another loss"
    elif m < 0.11:
        req["logits"] = nest(g.logits(N), (N, 1))
        req["targets"] = [0] * N if act == "softmax" else [[0.0]] * N
        req["activation"] = "softmax"
        req["_refuse"] = "logits"
        shape = (N, 1)
    # a zero smooth_dr with an empty class is 0/0: not generated as a valid case
    return finish(req, shape, g)


def seg_zero_den(req):
    """True when some score's denominator may be exactly zero (smooth_dr 0)."""
    return opt(req, "smooth_dr") == 0


# ---------------------------------------------------------------------------- /weights
SCHEMES = ["max_over_count", "inverse", "balanced", "inverse_sqrt", "effective_number",
           "median_frequency", "enet", "power"]


def wclose(got, want):
    """Weights: relative 1e-12 down to the subnormal range (no 1e-15 floor: weights of
    1e-300 are meant to be exact too)."""
    if want is None or math.isinf(want) or math.isnan(want):
        return got is None
    if got is None:
        return False
    return abs(got - want) <= REL * abs(want) + 4 * 5e-324


def mp_float(x):
    f = float(x)
    return None if math.isinf(f) or math.isnan(f) else f


def scheme_mp(n, scheme, p, zero_ok):
    """Exact class weights of counts n (floats) or ('refuse', field)."""
    n = [mpf(a) for a in n]
    if any(a == 0 for a in n) and not zero_ok:
        raise Refuse("counts")
    act = [i for i, a in enumerate(n) if a > 0]
    if not act:
        raise Refuse("counts")
    A = [n[i] for i in act]
    N, C = mpmath.fsum(A), len(A)
    if scheme == "max_over_count":
        m = max(A)
        f = lambda a: m / a
    elif scheme == "inverse":
        f = lambda a: 1 / a
    elif scheme == "balanced":
        f = lambda a: N / (C * a)
    elif scheme == "inverse_sqrt":
        f = lambda a: 1 / mpmath.sqrt(a)
    elif scheme == "effective_number":
        b = mpf(p.get("beta", 0.999))
        f = lambda a: (1 - b) / (-mpmath.expm1(a * mpmath.log(b))) if b > 0 else mpf(1)
    elif scheme == "median_frequency":
        s = sorted(A)
        med = s[C // 2] if C % 2 else (s[C // 2 - 1] + s[C // 2]) / 2
        f = lambda a: med / a
    elif scheme == "enet":
        c = mpf(p.get("c", 1.02))
        f = lambda a: 1 / mpmath.log(c + a / N)
    elif scheme == "power":
        q = mpf(p.get("exponent", 1))
        f = lambda a: a ** (-q)
    w = [mpf(0)] * len(n)
    for i in act:
        w[i] = f(n[i])
    norm = p.get("normalize", "none")
    if norm == "sum":
        s = mpmath.fsum(w)
        w = [x / s for x in w]
    elif norm == "mean":
        s = mpmath.fsum(w)
        w = [x * C / s for x in w]
    elif norm == "max":
        m = max(w)
        w = [x / m for x in w]
    return w


def gen_weights_counts(g):
    r = g.r
    C = r.choice([1, 2, 3, 4, 5, 8, 13])
    scheme = r.choice(SCHEMES + ["power", "power"])
    style = r.random()
    if style < 0.4:
        counts = [g.count() for _ in range(C)]
    elif style < 0.7:
        counts = [float(r.randint(0, 100)) for _ in range(C)]
    else:
        counts = [r.choice([1e-300, 1e300, 5e-324, 1.0, 1e-200, 1e200, 3.0, 0.0]) for _ in range(C)]
    req = {"counts": counts, "scheme": scheme}
    p = {}
    if scheme == "effective_number":
        req["beta"] = p["beta"] = r.choice([0.0, 0.5, 0.9, 0.999, 0.9999, 1 - 2 ** -52])
    if scheme == "enet":
        req["c"] = p["c"] = r.choice([1.02, 1.5, 1 + 2 ** -52, 100.0])
    if scheme == "power":
        req["exponent"] = p["exponent"] = r.choice(
            [0.0, 0.5, 1.0, 2.0, 3.5, 3.6, 64.0, 0.3, 10.0, 0.25, 7.0, r.uniform(0, 64)])
    norm = r.choice(["none", "none", "sum", "mean", "max"])
    if norm != "none" or r.random() < 0.2:
        req["normalize"] = p["normalize"] = norm
    zero_ok = r.random() < 0.5
    if zero_ok:
        req["zero_counts"] = "zero"
    m = r.random()
    if m < 0.03 and scheme == "power":
        req["exponent"] = r.choice([-0.5, 64.5])
        req["_refuse"] = "exponent"
    elif m < 0.05:
        req["threshold"] = 0.1
        req["_refuse"] = "threshold"
    req["_ref"] = lambda: {"weights": scheme_mp(counts, scheme, p, zero_ok)}
    if r.random() < 0.25 and "_refuse" not in req:
        # labels instead of counts, with the per-sample weights w[label]
        labels = [r.randrange(C) for _ in range(r.randint(1, 30))]
        del req["counts"]
        req["labels"] = labels
        nc = C if r.random() < 0.5 else max(labels) + 1
        if nc != max(labels) + 1 or r.random() < 0.3:
            req["num_classes"] = nc
        cn = [float(labels.count(c)) for c in range(nc)]
        req["sample_weights"] = True

        def ref():
            w = scheme_mp(cn, scheme, p, zero_ok)
            return {"weights": w, "sample_weights": [w[y] for y in labels]}
        req["_ref"] = ref
    return req


def gen_weights_ml(g):
    r = g.r
    N = r.choice([1, 2, 3, 5, 8, 12])
    C = r.choice([1, 2, 3, 4, 6])
    dens = r.choice([0.1, 0.3, 0.6, 0.9])
    sets = [[c for c in range(C) if r.random() < dens] for _ in range(N)]
    for s in sets:
        r.shuffle(s)
        if s and r.random() < 0.1:
            s.append(s[0])
    scheme = r.choice(SCHEMES + ["repeat_factor", "repeat_factor", "power"])
    form = r.choice(["sets", "matrix", "single"]) if scheme == "repeat_factor" else \
        r.choice(["sets", "matrix"])
    req = {"scheme": scheme}
    if form == "single":
        sets = [[r.randrange(C)] for _ in range(N)]
        req["labels"] = [s[0] for s in sets]
    elif form == "sets":
        req["label_sets"] = sets
    else:
        req["labels"] = [[1 if c in s else 0 for c in range(C)] for s in sets]
    Cn = C
    if form != "matrix":
        mx = max([c for s in sets for c in s], default=-1) + 1
        if r.random() < 0.3 or mx == 0:
            Cn = max(mx, C)
            req["num_classes"] = Cn
        else:
            Cn = mx
    p = {}
    if scheme == "effective_number":
        req["beta"] = p["beta"] = r.choice([0.0, 0.5, 0.999])
    if scheme == "enet":
        req["c"] = p["c"] = r.choice([1.02, 3.0])
    if scheme == "power":
        req["exponent"] = p["exponent"] = r.choice([0.0, 0.5, 1.0, 2.0, 0.3, 64.0])
    if scheme == "repeat_factor":
        req["threshold"] = r.choice([0.0, 0.001, 0.3, 1.0, 0.5, 1e-300, r.random()])
    elif r.random() < 0.4:
        req["normalize"] = p["normalize"] = r.choice(["none", "sum", "mean", "max"])
    zero_ok = r.random() < 0.6
    if zero_ok:
        req["zero_counts"] = "zero"
    if r.random() < 0.5:
        req["sample_weights"] = True
        if r.random() < 0.5:
            req["sample_weight_reduce"] = r.choice(["max", "mean"])
    m = r.random()
    if m < 0.02 and scheme == "repeat_factor":
        req["normalize"] = "sum"
        req["_refuse"] = "normalize"
    elif m < 0.04 and scheme == "repeat_factor":
        req["threshold"] = r.choice([-0.1, 1.5])
        req["_refuse"] = "threshold"
    elif m < 0.06 and form == "matrix":
        req["labels"][0][0] = 2
        req["_refuse"] = "labels"
    elif m < 0.07 and "sample_weights" not in req:
        req["sample_weight_reduce"] = "mean"
        req["_refuse"] = "sample_weight_reduce"

    def ref():
        S = [set(s) for s in sets]
        npos = [sum(1 for s in S if c in s) for c in range(Cn)]
        if any(v == 0 for v in npos) and not zero_ok:
            raise Refuse("")
        if all(v == 0 for v in npos):
            raise Refuse("")
        out = {"positives": [float(v) for v in npos], "num_samples": N,
               "pos_weight": [mpf(N - v) / v if v else mpf(0) for v in npos]}
        if scheme == "repeat_factor":
            t = req["threshold"]
            w = []
            for v in npos:
                if v == 0:
                    w.append(mpf(0))
                    continue
                f = v / N  # doubles in detectron2's order
                w.append(mpf(max(1.0, math.sqrt(t / f))))
            out["repeat_factors"] = [max([w[c] for c in s], default=mpf(1)) for s in S]
        else:
            w = scheme_mp(npos, scheme, p, zero_ok)
        out["weights"] = w
        if req.get("sample_weights"):
            red = req.get("sample_weight_reduce", "max")
            smallest = min(w[c] for c in range(Cn) if npos[c] > 0)
            sw = []
            for s in S:
                if not s:
                    sw.append(smallest)
                elif red == "max":
                    sw.append(max(w[c] for c in s))
                else:
                    sw.append(mpmath.fsum(w[c] for c in s) / len(s))
            out["sample_weights"] = sw
        return out
    req["_ref"] = ref
    return req


def run_weights(srv, conn, req, feature):
    body = {k: v for k, v in req.items() if not k.startswith("_")}
    st, doc = post(srv, conn, "/weights", body)
    try:
        if "_refuse" in req:
            raise Refuse(req["_refuse"])
        want = req["_ref"]()
    except Refuse as e:
        if st != 400:
            return "ballast accepts what the reference refuses (%s): %s" % (e, short(doc))
        return None
    if st != 200:
        return "ballast refuses a valid request: %s" % short(doc)
    errs = []
    for k, v in want.items():
        got = doc.get(k)
        if k == "num_samples":
            if got != v:
                errs.append("%s %r want %r" % (k, got, v))
            continue
        if got is None or len(got) != len(v):
            errs.append("%s missing or wrong length: %r" % (k, got))
            continue
        bad = [i for i, (a, b) in enumerate(zip(got, v)) if not wclose(a, mp_float(b))]
        if bad:
            i = bad[0]
            errs.append("%s[%d] = %r, exact %s (%d differ)" % (k, i, got[i], mpmath.nstr(v[i], 20),
                                                               len(bad)))
    return "; ".join(errs) or None


# ---------------------------------------------------------------------------- /sample
SEEDS = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64 - 2,
         2 ** 53 + 1, 12345]


def seed_of(g):
    r = g.r
    s = r.choice(SEEDS) if r.random() < 0.7 else r.randrange(2 ** 64)
    return s


def send_seed(g, s):
    return str(s) if (s > 2 ** 53 or g.r.random() < 0.2) else s


def shard(full, ws, rank):
    n = len(full)
    total = -(-n // ws) * ws
    pad = list(full)
    while len(pad) < total:
        pad += full[:total - len(pad)]
    return pad[rank:total:ws]


def sample_weights(g, n):
    r = g.r
    st = r.choice(["u", "zeros", "tiny", "int"])
    if st == "u":
        w = [r.random() for _ in range(n)]
    elif st == "zeros":
        w = [r.random() if r.random() < 0.5 else 0.0 for _ in range(n)]
    elif st == "tiny":
        w = [r.choice([1e-300, 5e-324, 1.0, 0.0, 1e-10, 1e6]) for _ in range(n)]
    else:
        w = [float(r.randint(0, 3)) for _ in range(n)]
    if not any(w):
        w[r.randrange(n)] = 1.0
    return w


def window(g, req, total):
    r = g.r
    if r.random() < 0.4:
        return None
    off = r.randint(0, total + (1 if r.random() < 0.1 else 0))
    req["offset"] = off
    if off > total:
        req["_refuse"] = "offset"  # past the end: 400 (README, "Continued streams and windows")
    if r.random() < 0.7:
        req["count"] = r.randint(0, total + 2)
    return off


def gen_sample_torch(g):
    r = g.r
    n = r.choice([1, 2, 3, 5, 10, 40])
    w = sample_weights(g, n)
    repl = r.random() < 0.6
    nz = sum(1 for x in w if x > 0)
    ns = r.randint(1, 3 * n) if repl else r.randint(1, n)
    seed = seed_of(g)
    epoch = r.choice([0, 0, 1, 2, 3, 7])
    stream = r.choice(["continued", "per_epoch"])
    req = {"weights": w, "num_samples": ns, "replacement": repl, "seed": send_seed(g, seed),
           "generator": "torch"}
    if epoch or r.random() < 0.3:
        req["epoch"] = epoch
    if stream == "continued" or r.random() < 0.3:
        req["stream"] = stream
    ws = r.choice([1, 1, 1, 2, 3])
    rank = r.randrange(ws)
    if ws > 1 or r.random() < 0.1:
        req["world_size"], req["rank"] = ws, rank
    total = -(-ns // ws)
    window(g, req, total)
    if not repl and ns > nz:
        req["_refuse"] = "num_samples"
    m = r.random()
    if m < 0.02:
        req["weights"] = [0.0] * n  # torch: "invalid multinomial distribution (sum of probabilities <= 0)"
        req["_refuse"] = "weights"
    elif m < 0.04:
        req["weights"] = w[:-1] + [-1.0]  # torch: "probability tensor contains either inf, nan or element < 0"
        req["_refuse"] = "weights"
    elif m < 0.05:
        # a sum beyond the doubles: refused (api/openapi.yaml, /sample errors), where torch
        # draws from the NaNs of w / inf
        req["weights"] = [1.7976931348623157e308] * max(2, n)
        req["_refuse"] = "weights"

    def ref():
        t = torch.tensor(w, dtype=F64)
        if stream == "continued":
            gen = torch.Generator().manual_seed(seed)
            for _ in range(epoch):
                torch.multinomial(t, ns, repl, generator=gen)
        else:
            gen = torch.Generator().manual_seed((seed + epoch) % 2 ** 64)
        full = torch.multinomial(t, ns, repl, generator=gen).tolist()
        return shard(full, ws, rank)
    req["_ref"] = ref
    return req


def gen_sample_fast(g):
    r = g.r
    n = r.choice([1, 2, 3, 5, 10, 40, 200])
    w = sample_weights(g, n)
    repl = r.random() < 0.6
    nz = sum(1 for x in w if x > 0)
    ns = r.randint(1, 3 * n) if repl else r.randint(1, nz)
    req = {"weights": w, "num_samples": ns, "replacement": repl, "seed": send_seed(g, seed_of(g))}
    if r.random() < 0.5:
        req["fast_version"] = r.choice([1, 2])
    if r.random() < 0.5:
        req["epoch"] = r.choice([0, 1, 2 ** 64 - 1, 5])
    ws = r.choice([1, 1, 2, 3])
    if ws > 1:
        req["world_size"], req["rank"] = ws, r.randrange(ws)
    total = -(-ns // ws)
    window(g, req, total)
    m = r.random()
    if m < 0.03:
        req["stream"] = "continued"
        req["_refuse"] = "stream"
    elif m < 0.05:
        req["fast_version"] = 3
        req["_refuse"] = "fast_version"
    req["_ref"] = None
    return req


def imb_targets(labels, strategy, ss):
    cnt = Counter(labels)
    classes = sorted(cnt)
    if len(classes) < 2:
        raise Refuse("labels")  # imbalanced-learn: "needs to have more than 1 class"
    mino = min(classes, key=lambda c: (cnt[c], c))
    majo = max(classes, key=lambda c: (cnt[c], -c))
    under = strategy == "undersample"
    if isinstance(ss, str):
        sel = {"all": classes, "majority": [majo], "minority": [mino],
               "not minority": [c for c in classes if c != mino],
               "not majority": [c for c in classes if c != majo]}[
            ss if ss != "auto" else ("not minority" if under else "not majority")]
        tgt = cnt[mino] if under else cnt[majo]
        return {c: tgt for c in sel}
    if isinstance(ss, float):
        if len(classes) != 2:
            raise Refuse("sampling_strategy")
        if under:  # every class but the minority: floor(n_min / r)
            other = [c for c in classes if c != mino][0]
            k = math.floor(cnt[mino] / ss)
            if k > cnt[other]:
                raise Refuse("sampling_strategy")
            return {other: k}
        other = [c for c in classes if c != majo][0]  # every class but the majority
        k = math.floor(cnt[majo] * ss - cnt[other])
        if k < 0:
            raise Refuse("sampling_strategy")
        if k == 0:
            raise Refuse("either")  # README: ballast refuses adding none, imblearn adds none
        return {other: cnt[other] + k}
    out = {}
    for c, v in ss.items():
        if (under and v > cnt[c]) or (not under and v < cnt[c]):
            raise Refuse("sampling_strategy")
        out[c] = v
    return out


def gen_sample_strategy(g):
    r = g.r
    K = r.choice([1, 2, 2, 3, 4])
    n = max(K, r.choice([2, 5, 9, 20, 50]))
    labels = [r.randrange(K) for _ in range(n)]
    labels[:K] = list(range(K)) if n >= K else labels[:K]
    r.shuffle(labels)
    strategy = r.choice(["undersample", "oversample"])
    req = {"labels": labels, "strategy": strategy, "seed": send_seed(g, seed_of(g))}
    cnt = Counter(labels)
    ks = sorted(cnt)
    k = r.random()
    if k < 0.4:
        names = ["auto", "all", "not minority", "not majority",
                 "majority" if strategy == "undersample" else "minority"]
        ss = r.choice(names)
    elif k < 0.6:
        ss = r.choice([1.0, 0.5, 0.25, 0.75, r.uniform(0.05, 1)])
    elif k < 0.8:
        ss = {c: (r.randint(0, cnt[c]) if strategy == "undersample" else cnt[c] + r.randint(0, 5))
              for c in ks if r.random() < 0.6}
        if not ss:
            ss = {ks[0]: cnt[ks[0]]}
    else:
        ss = [r.randint(0, cnt[c]) if strategy == "undersample" else cnt[c] + r.randint(0, 5)
              for c in range(max(ks) + 1)]
    if ss != "auto" or r.random() < 0.3:
        req["sampling_strategy"] = {str(c): v for c, v in ss.items()} if isinstance(ss, dict) else ss
    if strategy == "undersample" and r.random() < 0.3:
        req["replacement"] = True
    if r.random() < 0.3:
        req["epoch"] = r.choice([1, 2, 2 ** 64 - 1])
    ws = r.choice([1, 1, 2, 3])
    if ws > 1:
        req["world_size"], req["rank"] = ws, r.randrange(ws)
    req["_ref"] = None
    req["_strategy"] = (strategy, dict(enumerate(ss)) if isinstance(ss, list) else ss, labels)
    return req


def run_sample(srv, conn, req, feature):
    body = {k: v for k, v in req.items() if not k.startswith("_")}
    st, doc = post(srv, conn, "/sample", body)
    want = None
    try:
        if "_refuse" in req:
            raise Refuse(req["_refuse"])
        if "_strategy" in req:
            strategy, ss, labels = req["_strategy"]
            want = imb_targets(labels, strategy, ss)
            cnt = Counter(labels)
            if not sum(want.get(c, cnt[c]) for c in cnt):
                raise Refuse("sampling_strategy")  # README: an empty list is refused
        elif req["_ref"] is not None:
            want = req["_ref"]()
    except Refuse as e:
        if str(e) == "either":
            return None
        if st != 400:
            return "ballast accepts what the reference refuses (%s): %s" % (e, short(doc))
        return None
    if st != 200:
        return "ballast refuses a valid request: %s" % short(doc)
    got = doc["indices"]
    # the window must be the slice of the answer without it
    full = got
    if "offset" in req or "count" in req:
        b2 = {k: v for k, v in body.items() if k not in ("offset", "count")}
        st2, d2 = post(srv, conn, "/sample", b2)
        if st2 != 200:
            return "the request without its window is refused: %s" % short(d2)
        full = d2["indices"]
        off = req.get("offset", 0)
        if off > len(full):
            return "offset %d past the end %d accepted" % (off, len(full))
        sl = full[off:off + req["count"]] if "count" in req else full[off:]
        if got != sl:
            return "window [%d, +%s) differs from the slice of the full answer: %r vs %r" % (
                off, req.get("count"), got, sl)
        if doc.get("full_count") != len(full) or doc.get("next_offset") != off + len(sl):
            return "full_count/next_offset wrong: %s" % short(doc)
    if "_strategy" in req:
        return check_strategy(srv, conn, req, body, full, want)
    if isinstance(want, list):
        if full != want:
            return "indices differ from torch.multinomial: %r vs %r" % (full, want)
        return None
    # fast: properties of the full answer
    w = req["weights"]
    ws = req.get("world_size", 1)
    if ws == 1:
        if len(full) != req["num_samples"]:
            return "length %d, num_samples %d" % (len(full), req["num_samples"])
        if any(w[i] <= 0 for i in full):
            return "an index of weight 0 drawn"
        if not req["replacement"] and len(set(full)) != len(full):
            return "a repeated index without replacement"
    else:
        b3 = {k: v for k, v in body.items() if k not in ("offset", "count", "world_size", "rank")}
        st3, d3 = post(srv, conn, "/sample", b3)
        if shard(d3["indices"], ws, req["rank"]) != full:
            return "rank %d of %d is not the DistributedSampler share of the full draw" % (
                req["rank"], ws)
    return None


def check_strategy(srv, conn, req, body, full, want):
    strategy, ss, labels = req["_strategy"]
    ws = req.get("world_size", 1)
    if ws > 1:
        b3 = {k: v for k, v in body.items() if k not in ("offset", "count", "world_size", "rank")}
        st3, d3 = post(srv, conn, "/sample", b3)
        if shard(d3["indices"], ws, req["rank"]) != full:
            return "strategy: rank share differs"
        full = d3["indices"]
    cnt = Counter(labels)
    exp = {c: want.get(c, cnt[c]) for c in cnt}
    got = Counter(labels[i] for i in full)
    if dict(got) != {c: v for c, v in exp.items() if v}:
        return "class counts %r, imbalanced-learn's %r" % (dict(got), exp)
    if strategy == "oversample":
        n = len(labels)
        if full[:n] != list(range(n)):
            return "oversample does not start with every index once"
        added = full[n:]
        cls = [labels[i] for i in added]
        if cls != sorted(cls):
            return "oversampled additions not class by class"
    else:
        cls = [labels[i] for i in full]
        if cls != sorted(cls):
            return "undersample not class by class"
        if not req.get("replacement"):
            if len(set(full)) != len(full):
                return "undersample without replacement repeats an index"
        for c in cnt:
            if c not in want:
                mine = [i for i in full if labels[i] == c]
                if mine != [i for i in range(len(labels)) if labels[i] == c]:
                    return "class %d not selected but not kept whole in order" % c
    return None


# ---------------------------------------------------------------------------- /loss runner
def short(doc):
    s = json.dumps(doc)
    return s if len(s) < 400 else s[:400] + "..."


def got_numbers(v):
    if v is None:
        return [None]
    if isinstance(v, list):
        return flatten(v)
    return [v]


def loss_expect(req):
    try:
        vt = reference(TB, req)
    except ZeroDivisionError:
        vt = None
    return vt


def cmp_ref(doc, ref, req):
    """List of (what, index, got, want) that differ."""
    value, tw, grad = ref
    out = []
    gv = got_numbers(doc.get("loss"))
    wv = value if isinstance(value, list) else [value]
    wv = [finite_or_none(x) if x is not None else None for x in wv]
    for i in diff_list(gv, wv):
        out.append(("loss", i))
    if doc.get("total_weight") is not None or tw is not None:
        if not close(doc.get("total_weight"), float(tw)):
            out.append(("total_weight", 0))
    if grad is not None:
        gg = got_numbers(doc.get("grad"))
        wg = [finite_or_none(x) for x in grad]
        for i in diff_list(gg, wg):
            out.append(("grad", i))
    return out


def run_loss(srv, conn, req, feature):
    body = {k: v for k, v in req.items() if not k.startswith("_")}
    if req.get("_nll"):
        body["log_probs"] = body.pop("logits")
    st, doc = post(srv, conn, "/loss", body)
    if "_refuse" in req:
        if st != 400:
            return "ballast accepts what the reference refuses (%s): %s" % (req["_refuse"], short(doc))
        return None
    if st != 200:
        return "ballast refuses a valid request: %s" % short(doc)
    try:
        rt = reference(TB, req)
    except Exception as e:  # noqa
        rt = None
    bad = cmp_ref(doc, rt, req) if rt is not None else [("torch", 0)]
    if not bad:
        return None
    stats["torch_disagree"] += 1
    try:
        rm = reference(MB, req)
    except ZeroDivisionError:
        rm = None
    if rm is None:
        return "torch disagrees and the exact reference divides by zero: %s" % short(doc)
    bad_m = cmp_ref(doc, rm, req)
    # per number: ballast passes when it matches torch or the exact value
    left = [b for b in bad_m if b in bad or rt is None]
    if not left:
        stats["exact_settled"] += 1
        return None
    what, i = left[0]
    gv = got_numbers(doc.get(what if what != "total_weight" else "total_weight"))
    exact = rm[0] if what == "loss" else (rm[1] if what == "total_weight" else rm[2])
    exact = exact if isinstance(exact, list) else [exact]
    tv = rt[0] if what == "loss" else (rt[1] if what == "total_weight" else rt[2]) if rt else None
    tv = tv if isinstance(tv, list) else [tv]
    return "%s[%d]: ballast %r, torch %r, exact %r (%d numbers differ)" % (
        what, i, gv[i] if i < len(gv) else "?", tv[i] if tv and i < len(tv) else None,
        exact[i] if i < len(exact) else None, len(left))


# ---------------------------------------------------------------------------- driver
stats = Counter()


def post(srv, conn, path, body):
    data = json.dumps(body, allow_nan=False)
    for attempt in range(3):
        try:
            conn[0].request("POST", path, body=data, headers={"Content-Type": "application/json"})
            r = conn[0].getresponse()
            raw = r.read()
            return r.status, json.loads(raw)
        except (ConnectionError, OSError, http_client.HTTPException):
            conn[0].close()
            conn[0] = srv.conn()
    raise RuntimeError("ballastd does not answer")


FEATURES = {
    "loss.logit_adjustment": (gen_la, run_loss),
    "loss.ldam": (gen_ldam, run_loss),
    "loss.sum_over_batch_size": (gen_sobs, run_loss),
    "loss.asymmetric": (gen_asym, run_loss),
    "loss.dice": (lambda g: gen_seg(g, "dice"), run_loss),
    "loss.tversky": (lambda g: gen_seg(g, "tversky"), run_loss),
    "weights.counts": (gen_weights_counts, run_weights),
    "weights.multilabel": (gen_weights_ml, run_weights),
    "sample.torch": (gen_sample_torch, run_sample),
    "sample.fast": (gen_sample_fast, run_sample),
    "sample.strategy": (gen_sample_strategy, run_sample),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: time)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated feature prefixes")
    ap.add_argument("--ballastd", default=os.path.join(ROOT, "build", "ballastd"))
    ap.add_argument("--stop-after", type=int, default=50, help="failures before stopping")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    os.environ["BALLASTD"] = a.ballastd
    import harness
    srv = harness.Server("--log-format", "none")
    conn = [srv.conn()]
    feats = [f for f in FEATURES if not a.only or any(f.startswith(p) for p in a.only.split(","))]
    g = Gen(a.seed)
    runs, fails = Counter(), Counter()
    t0 = time.time()
    nfail = 0
    try:
        i = 0
        while time.time() - t0 < a.seconds and (not a.cases or i < a.cases):
            f = feats[i % len(feats)]
            i += 1
            gen, run = FEATURES[f]
            state = g.r.getstate()
            req = gen(g)
            try:
                msg = run(srv, conn, req, f)
            except Exception as e:  # a crash of the reference is reported, not hidden
                msg = "reference error %s: %s" % (type(e).__name__, e)
            runs[f] += 1
            if msg:
                fails[f] += 1
                nfail += 1
                body = {k: v for k, v in req.items() if not k.startswith("_")}
                print("FAIL %s (case %d): %s\n  request: %s" % (f, i, msg, json.dumps(body)[:3000]),
                      flush=True)
                if nfail >= a.stop_after:
                    break
    finally:
        srv.stop()
    print("%-28s %8s %8s" % ("feature", "cases", "failed"))
    for f in feats:
        print("%-28s %8d %8d" % (f, runs[f], fails[f]))
    print("total: %d cases, %d failed, %.0f s; torch disagreed %d times, %d settled by the exact "
          "value" % (sum(runs.values()), nfail, time.time() - t0, stats["torch_disagree"],
                     stats["exact_settled"]))
    return 1 if nfail else 0


import http.client as http_client  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
