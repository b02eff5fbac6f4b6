#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_api.c into a directory (default
build/fuzz/corpus), one file per input, named by its SHA-1:

  - every request of tests/conformance/{weights,sample,loss}_cases.json,
  - every body of tests/cases/api_cases.json,
  - every POST body of tests/hostile/cases.json sent to an endpoint,
  - the same requests in binary-parts form (array fields as .npy parts of
    several dtypes, the rest as the "request" part), asking for JSON, .npy
    and multipart answers.

The first byte of an input is the endpoint (0 weights, 1 sample, 2 loss)
plus 3 * mode (see fuzz/fuzz_api.c).

    python3 fuzz/make_corpus.py [DIR]
"""
import base64
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINTS = {"weights": 0, "sample": 1, "loss": 2}
PART_NAMES = ["request", "logits", "log_probs", "targets", "weights", "pos_weight", "counts",
              "labels", "class_weights", "bogus"]
ARRAY_FIELDS = {"weights": ["counts", "labels"],
                "sample": ["weights", "labels", "class_weights"],
                "loss": ["logits", "log_probs", "targets", "weights", "pos_weight"]}
MAX_SEED = 64 * 1024


def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return json.load(f)


def shape_of(v):
    shape = []
    while isinstance(v, list):
        shape.append(len(v))
        if not v:
            break
        v = v[0]
    return shape


def flat(v):
    if isinstance(v, list):
        for x in v:
            yield from flat(x)
    else:
        yield v


def npy(value, dtype, version=1):
    """A .npy of a rectangular nested list, or None if it is not one."""
    shape = shape_of(value)
    items = list(flat(value))
    n = 1
    for d in shape:
        n *= d
    if len(items) != n or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                  for x in items):
        return None
    fmt = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i", "|u1": "B"}[dtype]
    try:
        data = struct.pack("<%d%s" % (n, fmt), *[float(x) if fmt in "df" else int(x) for x in items])
    except (struct.error, OverflowError, ValueError):
        return None
    shp = "(" + "".join("%d, " % d for d in shape).rstrip(", ") + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shp)
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header)) + header + data


def record(name, data):
    data = data[:0xffff]
    return bytes([PART_NAMES.index(name)]) + struct.pack("<H", len(data)) + data


def parts_inputs(endpoint, doc):
    """Binary-parts forms of one request document."""
    if not isinstance(doc, dict):
        return []
    out = []
    for variant, dtype_real, dtype_int in [(0, "<f8", "<i8"), (1, "<f4", "<i4"), (2, "<f8", "|u1")]:
        rest = dict(doc)
        recs = []
        for field in ARRAY_FIELDS[endpoint]:
            if field not in rest:
                continue
            items = list(flat(rest[field]))
            integral = all(isinstance(x, int) and not isinstance(x, bool) for x in items)
            dtype = dtype_int if integral and field in ("labels", "targets") else dtype_real
            if dtype == "|u1" and any(x < 0 or x > 255 for x in items):
                dtype = "<i8"
            blob = npy(rest[field], dtype, version=1 + variant)
            if blob is None:
                continue
            del rest[field]
            recs.append(record(field, blob))
        if not recs:
            continue
        body = record("request", json.dumps(rest).encode()) + b"".join(recs)
        mode = 3 + variant  # JSON, .npy, multipart answers
        out.append(bytes([ENDPOINTS[endpoint] + 3 * mode]) + body)
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/fuzz/corpus")
    os.makedirs(outdir, exist_ok=True)
    seeds = []

    def body(endpoint, text):
        if isinstance(text, str):
            text = text.encode("utf-8")
        seeds.append(bytes([ENDPOINTS[endpoint]]) + text)

    for ep in ENDPOINTS:
        for case in load("tests/conformance/%s_cases.json" % ep)["cases"]:
            body(ep, json.dumps(case["request"]))
            seeds.extend(parts_inputs(ep, case["request"]))
    for case in load("tests/cases/api_cases.json")["cases"]:
        b = case["body"]
        body(case["endpoint"], b if isinstance(b, str) else json.dumps(b))
        if not isinstance(b, str):
            seeds.extend(parts_inputs(case["endpoint"], b))
    for case in load("tests/hostile/cases.json")["cases"]:
        ep = case["path"].split("?")[0].lstrip("/")
        if case["method"] != "POST" or ep not in ENDPOINTS:
            continue
        raw = base64.b64decode(case["body_b64"]) if "body_b64" in case else case.get("body", "").encode()
        body(ep, raw)
    n = 0
    for s in seeds:
        if len(s) > MAX_SEED:
            continue
        name = hashlib.sha1(s).hexdigest()
        path = os.path.join(outdir, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(s)
            n += 1
    print("%s: %d seeds (%d new)" % (os.path.relpath(outdir, ROOT), len(seeds), n))


if __name__ == "__main__":
    main()
