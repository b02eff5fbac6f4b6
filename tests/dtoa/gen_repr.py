#!/usr/bin/env python3
"""Doubles and the text Python's repr() gives them, for tests/unit/test_dtoa.c,
which checks api/dtoa.c's dtoa_shortest against every line.

    gen_repr.py [--count N] [--seed S] [--out FILE]

Writes about 3/4 N lines (default N = 2000000): "<16 hex digits of the bits> <repr>",
deterministic for a seed, to FILE or stdout. Nothing is committed: the test
runs this at test time. The values, a share each:
  - random bit patterns (every exponent equally likely, NaN and inf included);
  - random significands under every decimal exponent 10^-324 .. 10^308;
  - short decimals (1 to 17 random digits, any exponent) read as doubles, and the
    doubles on either side: the ends of rounding intervals, where the shortest
    digits are decided;
  - powers of ten and of two, the smallest subnormals, integers, and values
    halfway between two decimals of the same length (ties to even);
  - doubles whose rounding interval ends exactly on a decimal with trailing
    zeros (where an end is in or out by the evenness of the significand);
  - 0.0, -0.0, the largest double and the boundaries of the fixed notation
    (1e-05, 0.0001, 1e+16, 9999999999999998.0).
The repr is CPython's (float_repr_style 'short'), so the test compares digits
and layout with what a Python client's json.dumps prints.
"""
import argparse
import array
import math
import random
import sys


def bits_to_floats(bits):
    return memoryview(array.array("Q", bits).tobytes()).cast("d").tolist()


def floats_to_bits(xs):
    return memoryview(array.array("d", xs).tobytes()).cast("Q").tolist()


def neighbours(xs):
    out = []
    for x in xs:
        if math.isfinite(x):
            out += [x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]
    return out


def values(count, seed):
    rnd = random.Random(seed)
    share = count // 6
    xs = []
    # random bit patterns
    xs += bits_to_floats([rnd.getrandbits(64) for _ in range(share)])
    # random significands under each decimal exponent
    per = max(1, share // 633)
    for e in range(-324, 309):
        for _ in range(per):
            xs.append(float("%.17fe%d" % (1 + 9 * rnd.random(), e)))
    # short decimals and their neighbours
    short = []
    for _ in range(share // 3):
        n = rnd.randrange(1, 18)
        d = rnd.randrange(10 ** (n - 1), 10 ** n)
        short.append(float("%de%d" % (d, rnd.randrange(-340, 310))))
    xs += neighbours(short)
    # powers of ten and two, subnormals, integers, ties
    xs += neighbours([float("1e%d" % e) for e in range(-324, 309)])
    xs += neighbours([math.ldexp(1.0, e) for e in range(-1074, 1024)])
    xs += bits_to_floats(list(range(1, share // 2)))  # c 2^-1074 for small c
    xs += [float(rnd.randrange(1, 1 << rnd.randrange(1, 64))) for _ in range(share // 4)]
    for _ in range(share // 4):  # d + 1/4 or 3/4 in [2^50, 2^51): ties between two decimals
        xs.append(float((1 << 50) + rnd.randrange(1 << 50)) + rnd.choice((0.25, 0.75)))
    # doubles whose rounding interval ends exactly on a decimal with j trailing
    # zeros: the midpoint (2c - 1) 2^(q - 1) with 5^j dividing 2c - 1
    for q in range(1, 77):
        for j in range(1, min(q - 1, 22) + 1):
            lo, hi = (1 << 53) // 5 ** j + 1, (1 << 54) // 5 ** j
            if lo >= hi:
                continue
            for _ in range(20):
                odd = 5 ** j * (rnd.randrange(lo, hi) | 1)
                if (1 << 53) < odd < (1 << 54):
                    c = (odd + 1) // 2
                    xs += [math.ldexp(c, q), math.ldexp(c - 1, q)]
    xs += [0.0, -0.0, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 1e-05, 0.0001,
           9.999999999999999e-05, 1e16, 9999999999999998.0, 1e15, 123456789012345680.0]
    xs += [-x for x in xs[: len(xs) // 10]]
    return xs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--out")
    args = ap.parse_args()
    xs = values(args.count, args.seed)
    out = open(args.out, "w") if args.out else sys.stdout
    bits = floats_to_bits(xs)
    out.write("".join("%016x %r\n" % (b, x) for b, x in zip(bits, xs)))
    out.flush()
    if args.out:
        out.close()
    print("%d values" % len(xs), file=sys.stderr)


if __name__ == "__main__":
    main()
