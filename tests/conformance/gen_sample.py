#!/usr/bin/python3
"""Generate tests/conformance/sample_cases.json: PyTorch-exact fixtures for
POST /sample with "generator": "torch".

Run with Debian's interpreter (python3-torch 1.13):

    /usr/bin/python3 tests/conformance/gen_sample.py

Every case's expected indices are

    torch.multinomial(torch.tensor(weights, dtype=torch.float64), num_samples,
                      replacement,
                      generator=torch.Generator().manual_seed((seed + epoch) % 2**64))

(or list(iter(WeightedRandomSampler(...))) for the "wrs_*" cases, which is
checked to be the same thing), and every case is cross-checked against the
pure-Python reference in torch_multinomial_ref.py; any disagreement aborts.

The "cont_*" cases are `"stream": "continued"`: epoch e is the (e + 1)-th
iteration of one WeightedRandomSampler whose generator was seeded once,

    g = torch.Generator().manual_seed(seed)
    s = WeightedRandomSampler(weights, num_samples, replacement, generator=g)
    epochs = [list(iter(s)) for e in range(E)]

each checked against a fresh generator advanced by e draws' worth of
uniforms (e * num_samples with replacement, e * n without: the count
ballast skips) with Tensor.uniform_, then torch.multinomial.
The "win_*" cases add `offset` / `count` (and shards, and the continued
stream): their indices are the slice [offset : offset + count] of what the
request would return without them, the shard being taken with torch's own
DistributedSampler(range(num_samples), world_size, rank, shuffle=False)
over the epoch's draw.
The output is deterministic (fixed seeds for the random weights).

It also writes tests/conformance/balance_cases.json: `strategy`
"undersample" / "oversample" cases, whose indices come from a Python
reference of ballast's documented draw (README, "Balancing": the fast
stream's version 2, written here from its formula) and whose class counts
and structure are checked against imbalanced-learn's RandomUnderSampler /
RandomOverSampler for the same labels and sampling_strategy (their indices
come from NumPy's generator and differ); and "refused" requests, those
imbalanced-learn refuses with a ValueError, which ballast must refuse (400)
naming the field.
"""

import json
import os
import random
import re
import sys

import torch
from torch.utils.data import DistributedSampler, WeightedRandomSampler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_multinomial_ref as ref  # noqa: E402

OUT = os.path.join(HERE, "sample_cases.json")
U64 = 1 << 64

SEEDS = [0, 1, 42, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**63 + 7, 2**64 - 1]


def torch_indices(weights, k, replacement, seed, epoch):
    g = torch.Generator().manual_seed((seed + epoch) % U64)
    return torch.multinomial(torch.tensor(weights, dtype=torch.float64), k,
                             replacement, generator=g).tolist()


def wrs_indices(weights, k, replacement, seed, epoch):
    g = torch.Generator().manual_seed((seed + epoch) % U64)
    return list(iter(WeightedRandomSampler(weights, k, replacement, generator=g)))


def check_no_key_ties(weights, k, seed):
    """Without replacement the result is only well defined if the k chosen
    keys w/q are distinct and strictly above every key left out."""
    gen = ref.MT19937(seed)
    keys = sorted((float(w) / gen.exponential() for w in weights), reverse=True)
    top = keys[:k + 1]
    for a, b in zip(top, top[1:]):
        if not a > b:
            raise SystemExit("tied keys in the top %d (seed %d): choose other data" % (k, seed))


def continued_epochs(weights, k, replacement, seed, epochs):
    """The first `epochs` iterations of one seeded WeightedRandomSampler,
    each checked against a fresh generator advanced by the uniforms of the
    epochs before it."""
    g = torch.Generator().manual_seed(seed)
    wrs = WeightedRandomSampler(weights, k, replacement, generator=g)
    got = [list(iter(wrs)) for _ in range(epochs)]
    per = k if replacement else len(weights)
    w = torch.tensor(weights, dtype=torch.float64)
    for e, draw in enumerate(got):
        g2 = torch.Generator().manual_seed(seed)
        if e:
            torch.empty(e * per, dtype=torch.float64).uniform_(0, 1, generator=g2)
        again = torch.multinomial(w, k, replacement, generator=g2).tolist()
        if again != draw:
            raise SystemExit("continued stream (seed %d, epoch %d) is not %d skipped uniforms "
                             "per epoch" % (seed, e, per))
    return got


def shard(draw, world_size, rank):
    """The rank's share of a draw, by torch's DistributedSampler."""
    ds = DistributedSampler(range(len(draw)), num_replicas=world_size, rank=rank,
                            shuffle=False)
    return [draw[i] for i in ds]


class Builder:
    def __init__(self):
        self.cases = []
        self.names = set()

    def add_stream(self, name, weights, k, replacement, seed, epoch, draw, world_size=1,
                   rank=0, offset=None, count=None, continued=True):
        """A case whose expected indices are `draw` (the epoch's whole draw,
        computed by torch) sharded and windowed."""
        if name in self.names:
            raise SystemExit("duplicate case name " + name)
        self.names.add(name)
        req = {"weights": weights, "num_samples": k, "replacement": replacement,
               "seed": seed, "epoch": epoch, "generator": "torch"}
        if continued:
            req["stream"] = "continued"
        got = list(draw)
        if world_size > 1:
            req["world_size"] = world_size
            req["rank"] = rank
            got = shard(got, world_size, rank)
        lo = 0
        if offset is not None:
            req["offset"] = offset
            lo = offset
            assert offset <= len(got), name
        if count is not None:
            req["count"] = count
            got = got[lo:lo + count]
        else:
            got = got[lo:]
        assert all(weights[i] > 0 for i in got), name + ": zero-weight item drawn"
        self.cases.append({"name": name, "request": req, "expected": {"indices": got}})

    def add(self, name, weights, k, replacement, seed, epoch=0, wrs=False):
        if wrs and not name.startswith("wrs_"):
            name = "wrs_" + name
        if name in self.names:
            raise SystemExit("duplicate case name " + name)
        self.names.add(name)
        nz = sum(1 for w in weights if w > 0)
        assert len(weights) >= 1 and nz >= 1 and k >= 1
        assert all(w >= 0 for w in weights)
        if not replacement:
            assert k <= nz, name
        s = (seed + epoch) % U64
        got = torch_indices(weights, k, replacement, seed, epoch)
        if wrs:
            via_wrs = wrs_indices(weights, k, replacement, seed, epoch)
            if via_wrs != got:
                raise SystemExit("%s: WeightedRandomSampler != torch.multinomial" % name)
            got = via_wrs
        mine = ref.multinomial(weights, k, replacement, s)
        if mine != got:
            first = next(i for i, (a, b) in enumerate(zip(mine, got)) if a != b) \
                if len(mine) == len(got) else -1
            raise SystemExit("%s: pure-Python reference disagrees with torch "
                             "(first difference at position %d)" % (name, first))
        if not replacement:
            check_no_key_ties(weights, k, s)
            assert len(set(got)) == k
        assert all(weights[i] > 0 for i in got), name + ": zero-weight item drawn"
        self.cases.append({
            "name": name,
            "request": {"weights": weights, "num_samples": k,
                        "replacement": replacement, "seed": seed, "epoch": epoch,
                        "generator": "torch"},
            "expected": {"indices": got},
        })


def seedname(s):
    special = {2**31: "2p31", 2**32 - 1: "2p32m1", 2**32: "2p32", 2**32 + 5: "2p32p5",
               2**63 + 7: "2p63p7", 2**64 - 1: "2p64m1", 2**64 - 2: "2p64m2",
               2**64 - 3: "2p64m3", 2**63: "2p63"}
    return special.get(s, str(s))


def build():
    rng = random.Random(0xBA11A57)
    b = Builder()

    def ints(n, lo, hi):
        return [rng.randint(lo, hi) for _ in range(n)]

    def reals(n, lo=0.0, hi=1.0):
        return [rng.uniform(lo, hi) for _ in range(n)]

    def logu(n, lo_exp, hi_exp):
        return [10.0 ** rng.uniform(lo_exp, hi_exp) for _ in range(n)]

    def with_zeros(ws, frac):
        return [0 if rng.random() < frac else w for w in ws]

    # 1. The seed's example and other highly skewed class weights, every special seed.
    skew = [100000, 100, 10]
    inv = [1, 1000, 10000]
    for s in SEEDS:
        b.add("skew3_repl_k20_seed%s" % seedname(s), skew, 20, True, s)
        b.add("skew3_norepl_k3_seed%s" % seedname(s), skew, 3, False, s)
        b.add("invskew3_repl_k50_seed%s" % seedname(s), inv, 50, True, s)
        b.add("invskew3_norepl_k2_seed%s" % seedname(s), inv, 2, False, s)

    # 2. Epochs 0..5 on a few seeds, including (seed + epoch) wrapping past 2^64.
    w_ep = ints(40, 1, 9)
    for s in (42, 2**64 - 1, 2**64 - 3, 2**32 - 1):
        for e in range(6):
            b.add("epoch_repl_seed%s_e%d" % (seedname(s), e), w_ep, 16, True, s, e)
        for e in (0, 1, 3, 5):
            b.add("epoch_norepl_seed%s_e%d" % (seedname(s), e), w_ep, 16, False, s, e)

    # 3. num_samples == 1, both modes (1.13: with replacement -> cumsum search,
    #    without -> argmax of w/q).
    for i, s in enumerate(SEEDS):
        n = [1, 2, 3, 10, 100, 1000, 5000, 7, 64][i]
        w = reals(n, 0.0, 5.0) if i % 2 else ints(n, 0, 20)
        if sum(w) == 0:
            w[0] = 1
        b.add("k1_repl_n%d_seed%s" % (n, seedname(s)), w, 1, True, s)
        b.add("k1_norepl_n%d_seed%s" % (n, seedname(s)), w, 1, False, s)

    # 4. Single item and two items.
    for s in (0, 42, 2**64 - 1):
        b.add("n1_repl_k5_seed%s" % seedname(s), [3.5], 5, True, s)
        b.add("n1_norepl_k1_seed%s" % seedname(s), [0.25], 1, False, s)
        b.add("n2_norepl_k2_seed%s" % seedname(s), [1, 3], 2, False, s)
        b.add("n2_repl_k10_seed%s" % seedname(s), [0.5, 0.5], 10, True, s)

    # 5. Sizes from small to ~5000, integer and real weights, both modes.
    sizes = [5, 17, 64, 100, 257, 1000, 2048, 5000]
    for i, n in enumerate(sizes):
        s = SEEDS[i % len(SEEDS)]
        wi = ints(n, 1, 1000)
        wr = reals(n)
        k_r = min(2000, 3 * n)
        k_n = min(2000, n)
        b.add("int_repl_n%d_k%d" % (n, k_r), wi, k_r, True, s, i % 6)
        b.add("real_repl_n%d_k%d" % (n, k_r), wr, k_r, True, SEEDS[-1 - i % 9], 0)
        b.add("int_norepl_n%d_k%d" % (n, k_n), wi, k_n, False, s, 0)
        b.add("real_norepl_n%d_k%d" % (n, max(1, n // 3)), wr, max(1, n // 3), False,
              SEEDS[(i + 3) % 9], i % 6)

    # 6. Weights spanning many orders of magnitude.
    for i, s in enumerate((1, 2**32 + 5, 2**63 + 7)):
        w = logu(300, -8, 8)
        b.add("logspread_repl_n300_%d" % i, w, 500, True, s)
        b.add("logspread_norepl_n300_%d" % i, w, 150, False, s, 2)
    b.add("tiny_repl", [x * 1e-300 for x in reals(50, 0.1, 1.0)], 100, True, 7)
    b.add("tiny_norepl", [x * 1e-300 for x in reals(50, 0.1, 1.0)], 25, False, 7)
    b.add("huge_repl", [x * 1e300 for x in reals(50, 0.1, 1.0)], 100, True, 8)
    b.add("huge_norepl", [x * 1e300 for x in reals(50, 0.1, 1.0)], 20, False, 8)

    # 7. Zeros: leading, trailing, scattered; without replacement k <= #non-zero.
    for i, s in enumerate((0, 42, 2**32, 2**64 - 1)):
        n = [20, 200, 1000, 3000][i]
        w = with_zeros(ints(n, 1, 50), 0.5)
        w[0] = 0
        w[-1] = 0
        nz = sum(1 for x in w if x > 0)
        b.add("zeros_repl_n%d" % n, w, min(2000, 2 * n), True, s)
        b.add("zeros_norepl_n%d_all_nonzero" % n, w, nz, False, s)
        b.add("zeros_norepl_n%d_half" % n, w, max(1, nz // 2), False, s, 1)
        b.add("zeros_k1_repl_n%d" % n, w, 1, True, s, 3)
        b.add("zeros_k1_norepl_n%d" % n, w, 1, False, s, 3)
    one_hot = [0] * 500
    one_hot[321] = 2.5
    b.add("onehot_repl", one_hot, 30, True, 5)
    b.add("onehot_norepl", one_hot, 1, False, 5)
    b.add("last_only_repl", [0, 0, 0, 0, 1], 12, True, 2**31)
    b.add("first_only_norepl", [7, 0, 0, 0, 0], 1, False, 2**31)
    b.add("zeros_real_norepl", with_zeros(reals(400), 0.9), 20, False, 2**63 + 7, 4)

    # 8. Uniform weights (a permutation), decimals that are not exact in binary.
    b.add("uniform_norepl_perm_n300", [1] * 300, 300, False, 2**32 - 1)
    b.add("uniform_repl_n300", [0.1] * 300, 600, True, 2**32 - 1)
    b.add("decimals_repl", [0.1, 0.2, 0.3, 0.15, 0.25], 200, True, 1)
    b.add("decimals_norepl", [0.1, 0.2, 0.3, 0.15, 0.25], 5, False, 1)
    # class-balanced sample weights as /weights would produce them
    labels = [rng.choice([0] * 90 + [1] * 9 + [2]) for _ in range(1000)]
    counts = [labels.count(c) for c in range(3)]
    cw = [max(counts) / c for c in counts]
    b.add("class_balanced_repl_n1000", [cw[l] for l in labels], 1000, True, 42)
    b.add("class_balanced_norepl_n1000", [cw[l] for l in labels], 100, False, 42, 1)

    # 9. Through torch.utils.data.WeightedRandomSampler.
    b.add("wrs_skew3_repl", skew, 25, True, 0, wrs=True)
    b.add("wrs_skew3_norepl", skew, 3, False, 0, wrs=True)
    b.add("wrs_k1_repl", reals(10), 1, True, 2**64 - 1, 1, wrs=True)
    b.add("wrs_k1_norepl", reals(10), 1, False, 2**64 - 1, 1, wrs=True)
    for i, s in enumerate(SEEDS):
        n = [10, 50, 200, 777, 1500, 30, 3, 400, 2500][i]
        w = ints(n, 0, 10) if i % 2 else reals(n)
        if i % 3 == 0:
            w = with_zeros(w, 0.3)
        if sum(w) == 0:
            w[0] = 1
        nz = sum(1 for x in w if x > 0)
        b.add("wrs_repl_n%d_seed%s" % (n, seedname(s)), w, min(2000, 2 * n), True, s, i % 6,
              wrs=True)
        b.add("wrs_norepl_n%d_seed%s" % (n, seedname(s)), w, max(1, nz // 2), False, s,
              (i + 2) % 6, wrs=True)

    # 10. stream "continued": epochs 0..4 of one seeded WeightedRandomSampler.
    cont_seeds = [0, 42, 2**32 - 1, 2**32, 2**32 + 5, 2**63 + 7, 2**64 - 2, 2**64 - 1]
    for i, s in enumerate(cont_seeds):
        n = [3, 10, 40, 7, 100, 25, 64, 5][i]
        w = reals(n, 0.0, 4.0) if i % 2 else ints(n, 0, 9)
        w[i % n] = w[i % n] or 1
        nz = sum(1 for x in w if x > 0)
        for repl in (True, False):
            k = [5, 30, 40, 12, 250, 8, 64, 9][i] if repl else max(1, nz // 2)
            epochs = continued_epochs(w, k, repl, s, 5)
            for e in (0, 1, 2, 4) if i % 2 else (1, 3, 4):
                b.add_stream("cont_%s_n%d_k%d_seed%s_e%d" % ("repl" if repl else "norepl", n, k,
                                                             seedname(s), e),
                             w, k, repl, s, e, epochs[e])
            # one epoch shared among ranks
            ws = 2 + i % 3
            b.add_stream("cont_shard_%s_seed%s_e2_ws%d_r%d" % ("repl" if repl else "norepl",
                                                               seedname(s), ws, ws - 1),
                         w, k, repl, s, 2, epochs[2], ws, ws - 1)

    # 11. Windows: offset / count, alone, with shards, with the continued stream;
    #     the slice of the whole answer, computed by torch.
    for i, s in enumerate(SEEDS):
        n = [6, 50, 200, 13, 1000, 30, 3, 400, 77][i]
        w = ints(n, 0, 10) if i % 2 else reals(n)
        w[0] = w[0] or 1
        nz = sum(1 for x in w if x > 0)
        for repl in (True, False):
            k = min(300, 3 * n) if repl else max(1, (2 * nz) // 3)
            tag = "repl" if repl else "norepl"
            e = i % 4
            full = torch_indices(w, k, repl, s, e)
            off, cnt = (i * 7) % k, 1 + (i * 13) % max(1, k // 2)
            b.add_stream("win_%s_n%d_k%d_seed%s_off%d_cnt%d" % (tag, n, k, seedname(s), off, cnt),
                         w, k, repl, s, e, full, offset=off, count=cnt, continued=False)
            b.add_stream("win_%s_n%d_seed%s_tail%d" % (tag, n, seedname(s), k - off),
                         w, k, repl, s, e, full, offset=off, continued=False)
            ws = 2 + i % 4
            share = -(-k // ws)
            b.add_stream("win_shard_%s_n%d_seed%s_ws%d_r%d" % (tag, n, seedname(s), ws, i % ws),
                         w, k, repl, s, e, full, ws, i % ws, offset=share // 3,
                         count=max(1, share // 2), continued=False)
            epochs = continued_epochs(w, k, repl, s, 4)
            b.add_stream("win_cont_shard_%s_n%d_seed%s_e3_ws%d" % (tag, n, seedname(s), ws),
                         w, k, repl, s, 3, epochs[3], ws, (i + 1) % ws, offset=1,
                         count=share, continued=True)
    # far epochs: 10^8 uniforms replayed with replacement, 1.2 * 10^7 without;
    # torch iterates every epoch before (a few seconds)
    g = torch.Generator().manual_seed(2**64 - 1)
    wt = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    for _ in range(100000):
        torch.multinomial(wt, 1000, True, generator=g)
    far = torch.multinomial(wt, 1000, True, generator=g).tolist()
    b.add_stream("cont_far_repl_e100000_seed2p64m1", [1.0, 2.0, 0.5], 1000, True, 2**64 - 1,
                 100000, far, offset=990)
    wf = reals(3000)
    g = torch.Generator().manual_seed(2**32 + 3)
    wt = torch.tensor(wf, dtype=torch.float64)
    for _ in range(2000):
        torch.multinomial(wt, 50, False, generator=g)
    far = torch.multinomial(wt, 50, False, generator=g).tolist()
    b.add_stream("cont_far_norepl_e2000_seed2p32p3", wf, 50, False, 2**32 + 3, 2000, far,
                 world_size=3, rank=2, count=10)
    b.add_stream("win_empty_at_end", [1, 2, 3], 4, True, 9, 0,
                 torch_indices([1, 2, 3], 4, True, 9, 0), offset=4, count=3, continued=False)
    b.add_stream("win_count0", [1, 2, 3], 4, True, 9, 1,
                 torch_indices([1, 2, 3], 4, True, 9, 1), offset=1, count=0, continued=False)

    return b.cases


M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Counter:
    """The fast stream's version 2 (README, "The fast stream"): output i of
    (seed, epoch) is mix(mix(k0 + (i + 1) gamma) ^ k1)."""

    def __init__(self, seed, epoch):
        a, b = seed, epoch ^ 0x6A09E667F3BCC909
        words = []
        for _ in range(2):
            a = (a + GAMMA) & M64
            b = (b + GAMMA) & M64
            words.append(_mix(a) ^ _mix(b))
        self.k0, self.k1 = words
        self.pos = 0

    def pick(self, m):
        r = _mix(_mix((self.k0 + (self.pos + 1) * GAMMA) & M64) ^ self.k1)
        self.pos += 1
        return (r * m) >> 64


def targets(labels, strategy, ss):
    """Per class, the number of items in the result, or None (left as it
    is): imbalanced-learn's sampling_strategy, from its documentation."""
    C = max(labels) + 1
    n = [labels.count(c) for c in range(C)]
    present = [c for c in range(C) if n[c]]
    minority = min(present, key=lambda c: (n[c], c))
    majority = min(present, key=lambda c: (-n[c], c))
    under = strategy == "undersample"
    t = [None] * C
    if isinstance(ss, str):
        name = ss if ss != "auto" else ("not minority" if under else "not majority")
        sel = {"all": present, "majority": [majority], "minority": [minority],
               "not minority": [c for c in present if c != minority],
               "not majority": [c for c in present if c != majority]}[name]
        for c in sel:
            t[c] = n[minority] if under else n[majority]
    elif isinstance(ss, float):
        # the class that is not the minority (undersample) or not the majority
        # (oversample): with equal counts, the higher id
        other = [c for c in present if c != (minority if under else majority)][0]
        if under:
            t[other] = int(n[minority] / ss)
        else:
            t[other] = n[other] + int(n[majority] * ss - n[other])
    elif isinstance(ss, dict):
        for c, v in ss.items():
            t[int(c)] = v
    else:
        t = list(ss)
    return t, n


def balance(labels, strategy, ss, seed, epoch, replacement):
    """ballast's balanced index list (README, "Balancing")."""
    t, n = targets(labels, strategy, ss)
    items = [[i for i, l in enumerate(labels) if l == c] for c in range(len(n))]
    g = Counter(seed, epoch)
    out = [] if strategy == "undersample" else list(range(len(labels)))
    for c, it in enumerate(items):
        it = list(it)
        if t[c] is None:
            if strategy == "undersample":
                out += it
            continue
        if strategy == "undersample":
            for j in range(t[c]):
                if replacement:
                    out.append(it[g.pick(len(it))])
                else:
                    r = j + g.pick(len(it) - j)
                    it[j], it[r] = it[r], it[j]
                    out.append(it[j])
        else:
            for _ in range(t[c] - n[c]):
                out.append(it[g.pick(len(it))])
    return out


def imblearn_indices(labels, strategy, ss, replacement):
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler
    import numpy as np
    X = np.arange(len(labels)).reshape(-1, 1)
    y = np.array(labels)
    ss_i = {int(k): v for k, v in ss.items()} if isinstance(ss, dict) else ss
    if isinstance(ss, list):  # our per-class array: imbalanced-learn's dict of every class
        ss_i = {c: v for c, v in enumerate(ss) if labels.count(c)}
    if strategy == "undersample":
        s = RandomUnderSampler(sampling_strategy=ss_i, random_state=0, replacement=replacement)
    else:
        s = RandomOverSampler(sampling_strategy=ss_i, random_state=0)
    s.fit_resample(X, y)
    return [int(i) for i in s.sample_indices_]


def check_structure(name, labels, strategy, got, replacement):
    """Undersample: classes in ascending order, each a subset of its class
    (distinct without replacement); oversample: 0..n-1, then picks of the
    classes in ascending order."""
    cls = [labels[i] for i in got]
    n = len(labels)
    if strategy == "undersample":
        assert cls == sorted(cls), name + ": classes not in ascending order"
        if not replacement:
            assert len(set(got)) == len(got), name + ": an item twice without replacement"
    else:
        assert got[:n] == list(range(n)), name + ": oversample does not start with 0..n-1"
        extra = [labels[i] for i in got[n:]]
        assert extra == sorted(extra), name + ": added items not by ascending class"


def build_balance():
    rng = random.Random(0xBA1A)
    cases, refused, names = [], [], set()

    def labels_of(counts):
        ls = [c for c, k in enumerate(counts) for _ in range(k)]
        rng.shuffle(ls)
        return ls

    def add(name, labels, strategy, ss, seed, epoch=0, replacement=None, extra=None):
        assert name not in names, name
        names.add(name)
        repl = bool(replacement) if strategy == "undersample" else True
        ours = balance(labels, strategy, ss, seed, epoch, repl)
        C = max(labels) + 1
        mine = [sum(1 for i in ours if labels[i] == c) for c in range(C)]
        if ss == "minority":
            # imbalanced-learn 0.10's RandomOverSampler refuses the name in its
            # parameter check although its sampling_strategy machinery defines
            # it (for over-samplers): compare with that definition
            from imblearn.utils import check_sampling_strategy
            import numpy as np
            add_c = check_sampling_strategy("minority", np.array(labels), "over-sampling")
            imb = [labels.count(c) + int(add_c.get(c, 0)) for c in range(C)]
        else:
            theirs = imblearn_indices(labels, strategy, ss, repl)
            imb = [sum(1 for i in theirs if labels[i] == c) for c in range(C)]
            check_structure(name + " (imbalanced-learn)", labels, strategy, theirs, repl)
        if mine != imb:
            raise SystemExit("%s: class counts %s, imbalanced-learn's %s" % (name, mine, imb))
        check_structure(name, labels, strategy, ours, repl)
        req = {"labels": labels, "strategy": strategy, "seed": seed, "epoch": epoch}
        if ss != "auto" or epoch % 2:
            req["sampling_strategy"] = ss
        if replacement is not None:
            req["replacement"] = replacement
        got = ours
        if extra:
            req.update(extra)
            if "world_size" in extra:
                got = shard(got, extra["world_size"], extra["rank"])
            lo = extra.get("offset", 0)
            got = got[lo:lo + extra["count"]] if "count" in extra else got[lo:]
        cases.append({"name": name, "request": req, "expected": {"indices": got},
                      "imblearn_class_counts": imb})

    def refuse(name, labels, strategy, ss, field="sampling_strategy"):
        try:
            if ss == "minority":  # see add(): the definition, not 0.10's parameter check
                from imblearn.utils import check_sampling_strategy
                import numpy as np
                check_sampling_strategy(ss, np.array(labels), "under-sampling")
            else:
                imblearn_indices(labels, strategy, ss, False)
        except ValueError as exc:
            refused.append({"name": name, "request": {"labels": labels, "strategy": strategy,
                                                      "sampling_strategy": ss, "seed": 1},
                            "field": field,
                            # sets print in hash order: left out, for a stable file
                            "imblearn": re.sub(r"\{[^}]*\}", "{...}",
                                               str(exc).split("\n")[0])[:160]})
            return
        raise SystemExit(name + ": imbalanced-learn accepts it")

    shapes = [[5, 2], [30, 4, 11], [3, 3, 8], [50, 1, 7, 20], [10, 10], [2, 9, 9, 1, 40]]
    names_ = ["auto", "all", "not minority", "not majority"]
    for i, counts in enumerate(shapes):
        ls = labels_of(counts)
        seeds = (i, 2**32 + i, 2**64 - 1 - i)
        for strategy in ("undersample", "oversample"):
            for j, nm in enumerate(names_):
                add("%s_%s_shape%d" % (strategy, nm.replace(" ", "_"), i), ls, strategy, nm,
                    seeds[j % 3], j)
            only = "majority" if strategy == "undersample" else "minority"
            add("%s_%s_shape%d" % (strategy, only, i), ls, strategy, only, seeds[i % 3], 1)
        add("undersample_auto_replacement_shape%d" % i, ls, "undersample", "auto", 7,
            replacement=True)
    # ratios, binary labels
    for i, (counts, r_under, r_over) in enumerate([([40, 10], 0.5, 0.5), ([7, 30], 0.25, 0.9),
                                                   ([100, 3], 0.1, 1.0), ([12, 12], 1.0, 1.0)]):
        ls = labels_of(counts)
        add("undersample_ratio%g_%d" % (r_under, i), ls, "undersample", r_under, 11 + i)
        if i != 3:  # equal classes: nothing to add, which imbalanced-learn refuses
            add("oversample_ratio%g_%d" % (r_over, i), ls, "oversample", r_over, 2**63 + i)
    # counts: objects for some classes, arrays for all
    ls = labels_of([30, 4, 11, 0, 6])
    add("undersample_counts_object", ls, "undersample", {"0": 5, "2": 11}, 3)
    add("undersample_counts_array", ls, "undersample", [7, 2, 3, 0, 6], 4)
    add("undersample_counts_zero", ls, "undersample", {"0": 0}, 5)
    add("oversample_counts_object", ls, "oversample", {"1": 25, "4": 6}, 6)
    add("oversample_counts_array", ls, "oversample", [30, 30, 30, 0, 30], 7)
    add("undersample_counts_replacement", ls, "undersample", {"2": 9}, 8, replacement=True)
    # shards and windows of the list
    ls = labels_of([25, 6, 9])
    add("undersample_shard", ls, "undersample", "auto", 9, 2,
        extra={"world_size": 4, "rank": 3})
    add("oversample_window", ls, "oversample", "auto", 9, 2, extra={"offset": 30, "count": 12})
    add("oversample_shard_window", ls, "oversample", "all", 2**64 - 1, 3,
        extra={"world_size": 3, "rank": 1, "offset": 5, "count": 7})

    # refused by imbalanced-learn (ValueError) and so by ballast
    ls = labels_of([20, 5, 9])
    refuse("undersample_minority", ls, "undersample", "minority")
    refuse("oversample_majority", ls, "oversample", "majority")
    refuse("ratio_multiclass", ls, "undersample", 0.5)
    refuse("undersample_count_too_big", ls, "undersample", {"1": 6})
    refuse("oversample_count_too_small", ls, "oversample", {"0": 19})
    refuse("count_absent_class", ls, "undersample", {"5": 1})
    refuse("ratio_above_1", labels_of([20, 5]), "undersample", 1.5)
    refuse("ratio_undersample_grows", labels_of([20, 5]), "undersample", 0.2)
    refuse("ratio_oversample_shrinks", labels_of([20, 5]), "oversample", 0.2)
    refuse("ratio_oversample_adds_nothing", labels_of([20, 10]), "oversample", 0.5)
    refuse("one_class", [0, 0, 0], "undersample", "auto", "labels")
    return cases, refused


def write_cases(path, header, cases, extra_keys=()):
    # one case per line: diff-friendly and still plain JSON
    lines = ["{"]
    for key, val in header.items():
        lines.append("  %s: %s," % (json.dumps(key), json.dumps(val)))
    for key, val in extra_keys:
        lines.append("  %s: [" % json.dumps(key))
        lines.append(",\n".join("    " + json.dumps(c, separators=(",", ":")) for c in val))
        lines.append("  ],")
    lines.append('  "cases": [')
    body = [json.dumps(c, separators=(",", ":")) for c in cases]
    lines.append(",\n".join("    " + x for x in body))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity
    with open(path, "w") as f:
        f.write(text)


def main():
    import imblearn
    bcases, refused = build_balance()
    bpath = os.path.join(HERE, "balance_cases.json")
    write_cases(bpath, {"generator": "tests/conformance/gen_sample.py",
                        "imblearn": imblearn.__version__}, bcases, [("refused", refused)])
    print("wrote %s: %d cases (class counts as imbalanced-learn's), %d refusals"
          % (os.path.relpath(bpath), len(bcases), len(refused)))
    cases = build()
    header = {"generator": "tests/conformance/gen_sample.py", "torch": torch.__version__}
    # one case per line: diff-friendly and still plain JSON
    lines = ["{"]
    for key, val in header.items():
        lines.append("  %s: %s," % (json.dumps(key), json.dumps(val)))
    lines.append('  "cases": [')
    body = [json.dumps(c, separators=(",", ":")) for c in cases]
    lines.append(",\n".join("    " + x for x in body))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # sanity
    with open(OUT, "w") as f:
        f.write(text)
    size = os.path.getsize(OUT)
    if size >= 3 * 1024 * 1024:
        raise SystemExit("sample_cases.json is %d bytes (limit 3 MiB)" % size)
    print("wrote %s: %d cases, %d bytes, all matching the pure-Python reference"
          % (os.path.relpath(OUT), len(cases), size))


if __name__ == "__main__":
    main()
