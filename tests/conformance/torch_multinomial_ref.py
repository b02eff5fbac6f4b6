#!/usr/bin/python3
"""Pure-Python reference for PyTorch 1.13's CPU torch.multinomial random stream.

No torch is used by the algorithm itself; torch is only imported by the
self-test (``/usr/bin/python3 torch_multinomial_ref.py``), which checks every
statement below against Debian's python3-torch 1.13.1 (built without MKL)
bit for bit, including hand-designed inputs that separate the alternatives.

Generator
  torch.Generator().manual_seed(s) accepts s in [-2^63, 2^64); a negative s is
  taken modulo 2^64 (initial_seed() reports 2^64 + s); s >= 2^64 or < -2^63
  raises RuntimeError ("Overflow when unpacking long").  The full 64-bit value
  is kept as initial_seed(), but only its low 32 bits seed the engine, so s and
  s + 2^32 (or s + 2^63 ...) give identical streams: MT19937 init_genrand with
      mt[0] = s & 0xffffffff
      mt[i] = (1812433253 * (mt[i-1] ^ (mt[i-1] >> 30)) + i) mod 2^32,  i = 1..623
  then the standard MT19937 twist (N=624, M=397, matrix 0x9908b0df, upper mask
  0x80000000) and tempering (>>11; <<7 & 0x9d2c5680; <<15 & 0xefc60000; >>18).

random64 / uniform double
  r64 = (first32 << 32) | second32   the first 32-bit output is the HIGH word
  u   = (r64 & (2^53 - 1)) * 2^-53   the LOW 53 bits (low 21 bits of the first
                                     word, all of the second); exact, u in [0,1)
  (swapped words or r64 >> 11 both fail on every value.)

Exponential(1) (used only without replacement)
  q = -log(1.0 - u)   glibc log, NOT log1p: -log1p(-u) differs in the last bit
                      on ~7% of values.  1.0 - u is exact; the product by
                      -1/lambda = -1.0 is exact.

multinomial(w, k, replacement), w as float64
  Without replacement (any k >= 1):
      one q per item, items in index order, every item (zero weights included)
      consumes exactly one random64;
      key_i = w_i / q_i   raw weights, true IEEE division (NOT (w_i/S)/q_i and
                          NOT w_i * (1/q_i));
      k == 1: argmax(key), the lowest index among equal maxima;
      k >  1: topk(key, k), largest first, sorted descending.  Two exactly tied
              keys came out lower index first, but libstdc++'s
              nth_element/partial_sort give no such guarantee in general: with
              k > #non-zero weights the zero-weight items (key 0) come out in
              an order that depends on n and k and is not index order.  This
              module breaks ties by lower index.
  With replacement (ANY k >= 1 -- in 1.13 a single draw with replacement
  still takes this path; the exponential shortcut for k == 1 with
  replacement arrived in a later release):
      c_j = w_0 + ... + w_j   sequential double additions (running sum; the
                              total S is this running sum, not a pairwise or
                              exact sum)
      c_j = c_j / S           true division of every entry by S
      c_{n-1} = 1.0           (already s/s == 1.0 unless S overflowed)
      then for each of the k draws (exactly one random64 each):
      u = uniform(); index = first j with c_j >= u
      (lower-bound binary search: l=0, r=n; while r > l: m = l + (r-l)//2;
       if c_m < u: l = m+1 else r = m).  c_j == u selects j.
      A zero-weight item j > 0 has c_j == c_{j-1} and can never be drawn; a
      zero-weight item 0 has c_0 == 0 and is drawn only if u == 0 exactly
      (probability 2^-53 per draw).
  torch itself rejects n > 2^24 items, negative/inf/nan weights, sum <= 0,
  k < 1 and, without replacement, k > n (k up to n is allowed even if that
  exceeds the number of non-zero weights).
"""

import math

MASK32 = 0xFFFFFFFF
MASK53 = (1 << 53) - 1
TWO_M53 = 1.0 / (1 << 53)   # 2^-53, exact


class MT19937:
    """MT19937 seeded the way PyTorch's at::mt19937 / CPUGeneratorImpl is."""

    N = 624
    M = 397

    def __init__(self, seed):
        seed &= (1 << 64) - 1          # torch keeps a uint64 ...
        mt = [0] * self.N
        mt[0] = seed & MASK32          # ... but seeds MT with its low 32 bits
        for i in range(1, self.N):
            prev = mt[i - 1]
            mt[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & MASK32
        self.mt = mt
        self.idx = self.N              # twist before the first output

    def _twist(self):
        mt = self.mt
        n, m = self.N, self.M
        for i in range(n):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % n] & 0x7FFFFFFF)
            v = mt[(i + m) % n] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[i] = v
        self.idx = 0

    def next32(self):
        if self.idx >= self.N:
            self._twist()
        y = self.mt[self.idx]
        self.idx += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & MASK32

    def random64(self):
        hi = self.next32()             # first output = high word
        lo = self.next32()
        return (hi << 32) | lo

    def uniform(self):
        """at::uniform_real_distribution<double>(0, 1)."""
        return (self.random64() & MASK53) * TWO_M53

    def exponential(self):
        """at::exponential_distribution<double>(1.0) on CPU (no MKL)."""
        u = self.uniform()
        return -math.log(1.0 - u)


def torch_seed(seed, epoch=0):
    """The seed /sample passes to manual_seed: (seed + epoch) mod 2^64."""
    return (seed + epoch) % (1 << 64)


def _lower_bound(cum, u):
    left, right = 0, len(cum)
    while right - left > 0:
        mid = left + (right - left) // 2
        if cum[mid] < u:
            left = mid + 1
        else:
            right = mid
    return left


def multinomial(weights, num_samples, replacement, seed):
    """Indices of torch.multinomial(torch.tensor(weights, dtype=torch.float64),
    num_samples, replacement, generator=torch.Generator().manual_seed(seed)).

    Inputs are assumed valid (weights >= 0 and finite, sum > 0; without
    replacement num_samples <= len(weights)).  Ties between equal keys (which
    only happen between zero weights, i.e. when num_samples exceeds the number
    of non-zero weights without replacement) are resolved here by the lower
    index first; PyTorch's topk does not define that order.
    """
    w = [float(x) for x in weights]
    n = len(w)
    if n == 0 or num_samples < 1:
        raise ValueError("empty weights or num_samples < 1")
    gen = MT19937(seed)

    if not replacement:
        if num_samples > n:
            raise ValueError("num_samples > len(weights) without replacement")
        keys = []
        for wi in w:
            q = gen.exponential()
            # q == 0 has probability 2^-53 per item; IEEE gives w/0 = inf
            # (or nan for w == 0), as C does.
            if q == 0.0:
                keys.append(math.inf if wi > 0 else (math.nan if wi == 0 else -math.inf))
            else:
                keys.append(wi / q)
        if num_samples == 1:
            best = 0
            for i in range(1, n):
                # at::argmax: nan wins; otherwise strictly greater, first index
                if math.isnan(keys[best]):
                    break
                if keys[i] > keys[best] or math.isnan(keys[i]):
                    best = i
            return [best]
        order = sorted(range(n), key=lambda i: (-keys[i], i))
        return order[:num_samples]

    # with replacement (any num_samples, including 1)
    cum = [0.0] * n
    s = 0.0
    for j, wi in enumerate(w):
        s += wi
        cum[j] = s
    if not s > 0:
        raise ValueError("sum of weights must be > 0")
    for j in range(n):
        cum[j] = cum[j] / s
    cum[n - 1] = 1.0
    return [_lower_bound(cum, gen.uniform()) for _ in range(num_samples)]


# ---------------------------------------------------------------------------
# Self-test against torch (only this part imports torch).
# ---------------------------------------------------------------------------

def _selftest():
    """Check every claim in the module docstring against torch, including
    hand-designed inputs that tell the plausible alternatives apart."""
    import random
    import struct
    import torch
    from torch.utils.data import WeightedRandomSampler

    def bits(x):
        return struct.unpack("<Q", struct.pack("<d", x))[0]

    def tm(w, k, replacement, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.multinomial(torch.tensor(w, dtype=torch.float64), k,
                                 replacement, generator=g).tolist()

    fails = 0
    checks = 0

    def check(cond, what):
        nonlocal fails, checks
        checks += 1
        if not cond:
            fails += 1
            print("MISMATCH:", what)

    seeds = [0, 1, 2, 42, 5489, 12345, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
             2**32 + 5, 2**33 + 42, 2**63 - 1, 2**63, 2**63 + 7, 2**64 - 2,
             2**64 - 1]

    # --- seeding: full uint64 kept, low 32 bits used, negatives wrap, >= 2^64 rejected
    for s in seeds:
        check(torch.Generator().manual_seed(s).initial_seed() == s, "initial_seed %d" % s)
    check(torch.Generator().manual_seed(-5).initial_seed() == 2**64 - 5, "negative seed wraps")
    for bad in (2**64, -2**63 - 1):
        try:
            torch.Generator().manual_seed(bad)
            check(False, "manual_seed(%d) accepted" % bad)
        except RuntimeError:
            check(True, "")
    w8 = [1.0] * 50
    for s in (0, 5, 2**32 - 1, 123456789):
        ref = tm(w8, 20, False, s)
        for alias in (s + 2**32, s + 2**63, s + 2**64 - 2**32, s - 2**32):
            check(tm(w8, 20, False, alias) == ref, "seed %d vs alias %d" % (s, alias))
    check(tm(w8, 20, False, 5) != tm(w8, 20, False, 6), "seeds 5 and 6 differ")

    # --- uniform_ doubles bit for bit; alternatives fail
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        t = torch.empty(2000, dtype=torch.float64).uniform_(0, 1, generator=g).tolist()
        m = MT19937(s)
        ref = [m.uniform() for _ in range(2000)]
        check(all(bits(a) == bits(b) for a, b in zip(t, ref)), "uniform seed %d" % s)
    g = torch.Generator().manual_seed(7)
    t = torch.empty(1000, dtype=torch.float64).uniform_(0, 1, generator=g).tolist()
    m = MT19937(7)
    wd = [m.next32() for _ in range(2000)]
    swapped = [(((wd[2*i+1] << 32) | wd[2*i]) & MASK53) * TWO_M53 for i in range(1000)]
    high53 = [(((wd[2*i] << 32) | wd[2*i+1]) >> 11) * TWO_M53 for i in range(1000)]
    check(sum(a == b for a, b in zip(t, swapped)) == 0, "swapped word order should fail")
    check(sum(a == b for a, b in zip(t, high53)) == 0, "high 53 bits should fail")

    # --- exponential_ doubles bit for bit: -log(1-u), not -log1p(-u)
    n_exp = n_diff = 0
    for s in seeds + list(range(100, 120)):
        g = torch.Generator().manual_seed(s)
        t = torch.empty(3000, dtype=torch.float64).exponential_(1, generator=g).tolist()
        m = MT19937(s)
        us = [m.uniform() for _ in range(3000)]
        check(all(bits(a) == bits(-math.log(1.0 - u)) for a, u in zip(t, us)),
              "exponential seed %d" % s)
        n_exp += len(t)
        n_diff += sum(bits(a) != bits(-math.log1p(-u)) for a, u in zip(t, us))
    check(n_diff > 0, "log1p should be distinguishable")
    print("exponential: %d values equal -log(1-u) bit for bit; -log1p(-u) differs on %d"
          % (n_exp, n_diff))

    # --- designed 2-item cases: log vs log1p flips the argmax
    found = 0
    for s in range(200):
        m = MT19937(s)
        u0, u1 = m.uniform(), m.uniform()
        a0, a1 = -math.log(1 - u0), -math.log(1 - u1)
        b0, b1 = -math.log1p(-u0), -math.log1p(-u1)
        w1 = a1 / a0
        for d in range(-2, 3):
            x = w1
            for _ in range(abs(d)):
                x = math.nextafter(x, math.inf if d > 0 else -math.inf)
            if 1.0 / a0 == x / a1 or 1.0 / b0 == x / b1:
                continue
            pl = 0 if 1.0 / a0 > x / a1 else 1
            pp = 0 if 1.0 / b0 > x / b1 else 1
            if pl != pp:
                found += 1
                check(tm([1.0, x], 1, False, s) == [pl], "log-vs-log1p designed seed %d" % s)
    check(found > 0, "found log/log1p designed cases")

    # --- designed near ties: key = w/q (raw weights, true division)
    rng = random.Random(99)
    hyps = {"w/q": lambda w, q, S: w / q,
            "(w/S)/q": lambda w, q, S: (w / S) / q,
            "w*(1/q)": lambda w, q, S: w * (1.0 / q)}
    score = dict.fromkeys(hyps, 0)
    designed = 0
    for s in range(1500):
        m = MT19937(s)
        q0, q1 = m.exponential(), m.exponential()
        w0 = rng.uniform(0.1, 10.0)
        for d in range(-3, 4):
            w1 = w0 * q1 / q0
            for _ in range(abs(d)):
                w1 = math.nextafter(w1, math.inf if d > 0 else -math.inf)
            S = w0 + w1
            preds = {}
            for h, f in hyps.items():
                k0, k1 = f(w0, q0, S), f(w1, q1, S)
                preds[h] = None if k0 == k1 else (0 if k0 > k1 else 1)
            if preds["w/q"] is None or len(set(preds.values())) == 1:
                continue
            t = tm([w0, w1], 1, False, s)[0]
            designed += 1
            for h in hyps:
                score[h] += preds[h] == t
            check(tm([w0, w1], 2, False, s) == [t, 1 - t], "topk(2) order seed %d" % s)
    check(designed > 0 and score["w/q"] == designed, "key formula w/q: %r" % score)
    print("key formula near-tie cases: %d, agreement %r" % (designed, score))

    # --- exact key ties: argmax -> lower index; topk of 2 tied -> [0, 1]
    ties = 0
    for s in range(500):
        m = MT19937(s)
        q0, q1 = m.exponential(), m.exponential()
        for d in range(-2, 3):
            w1 = q1 / q0
            for _ in range(abs(d)):
                w1 = math.nextafter(w1, math.inf if d > 0 else -math.inf)
            if 1.0 / q0 == w1 / q1:
                ties += 1
                check(tm([1.0, w1], 1, False, s) == [0], "argmax tie seed %d" % s)
                check(tm([1.0, w1], 2, False, s) == [0, 1], "topk tie seed %d" % s)
    check(ties > 0, "found exact ties")

    # --- with replacement: cum[j] == u exactly selects j ('<' in the search)
    for s in range(30):
        u = MT19937(s).uniform()
        mm = int(u * 2**53)
        w = [float(mm), float(2**53 - mm)]
        check(w[0] / (w[0] + w[1]) == u and tm(w, 2, True, s)[0] == 0, "cum==u seed %d" % s)

    # --- with replacement: c_j = s_j / S (true division, not * (1/S))
    designed = 0
    for s in range(300):
        u = MT19937(s).uniform()
        for _ in range(300):
            S = float(rng.randint(2**52, 2**53))
            a = float(round(u * S))
            if not 0 < a < S:
                continue
            pd = 0 if a / S >= u else 1
            pr = 0 if a * (1.0 / S) >= u else 1
            if pd != pr:
                designed += 1
                check(tm([a, S - a], 2, True, s)[0] == pd, "cum division seed %d" % s)
                break
    check(designed > 0, "found division designed cases")

    # --- with replacement: the total is the sequential running sum (not fsum / torch.sum)
    designed = 0
    B = 2.0**53
    for s in range(100):
        u = MT19937(s).uniform()
        if not 0.3 < u < 0.7:
            continue
        a0 = math.floor(u * B / (1 - u))
        for da in range(0, 5000, 7):
            a = float(a0 + 2 * da)
            w = [a, B] + [1.0] * 4096          # each 1.0 is lost in sequential order
            seq = 0.0
            for x in w:
                seq += x
            ps = 0 if a / seq >= u else 1
            pf = 0 if a / math.fsum(w) >= u else 1
            if ps != pf:
                designed += 1
                check(tm(w, 2, True, s)[0] == ps and multinomial(w, 2, True, s)[0] == ps,
                      "sequential sum seed %d" % s)
                break
    check(designed > 0, "found summation designed cases")

    # --- stream consumption: k random64 with replacement (k == 1 included), n without
    for k, repl, used in ((4, True, 4), (1, True, 1), (3, False, 6), (1, False, 6)):
        g = torch.Generator().manual_seed(9)
        torch.multinomial(torch.tensor([1., 2, 3, 4, 0, 5], dtype=torch.float64), k, repl,
                          generator=g)
        nxt = torch.empty(1, dtype=torch.float64).uniform_(generator=g).item()
        m = MT19937(9)
        for _ in range(used):
            m.random64()
        check(m.uniform() == nxt, "consumption k=%d repl=%s" % (k, repl))

    # --- multinomial, many seeds / sizes / modes, and WeightedRandomSampler
    rng = random.Random(20240601)
    for trial in range(700):
        n = rng.choice([1, 2, 3, 5, 10, 17, 100, 333, 1000, 2500])
        kind = rng.randrange(4)
        if kind == 0:
            w = [float(rng.randint(0, 10)) for _ in range(n)]
        elif kind == 1:
            w = [rng.random() for _ in range(n)]
        elif kind == 2:
            w = [10.0 ** rng.uniform(-6, 6) for _ in range(n)]
        else:
            w = [rng.choice([0.0, 0.0, 1.0, 1e5, 1e-3]) for _ in range(n)]
        if sum(w) == 0:
            w[rng.randrange(n)] = 1.0
        nz = sum(1 for x in w if x > 0)
        replacement = rng.random() < 0.5
        if replacement:
            k = rng.choice([1, 2, 3, rng.randint(1, 3 * n + 1)])
        else:
            k = rng.choice([1, rng.randint(1, nz)])
        s = rng.choice(seeds + [rng.getrandbits(64), rng.getrandbits(32)])
        t = tm(w, k, replacement, s)
        ref = multinomial(w, k, replacement, s)
        check(t == ref, "multinomial n=%d k=%d repl=%s seed=%d" % (n, k, replacement, s))
        if trial % 3 == 0:
            smp = WeightedRandomSampler(w, k, replacement,
                                        generator=torch.Generator().manual_seed(s))
            check(list(iter(smp)) == t, "WeightedRandomSampler n=%d k=%d" % (n, k))

    print("%d checks, %d mismatches" % (checks, fails))
    return fails == 0


if __name__ == "__main__":
    import sys
    sys.exit(0 if _selftest() else 1)
