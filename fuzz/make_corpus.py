#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_api.c into a directory (default
build/fuzz/corpus), one file per input, named by its SHA-1:

  - every request of tests/conformance/{weights,sample,loss}_cases.json,
  - every request of tests/conformance/balance_cases.json (to /sample),
  - LIMIT_PROBES: cheap requests against the limits of the newer fields,
  - every body of tests/cases/api_cases.json,
  - every POST body of tests/hostile/cases.json sent to an endpoint,
  - the same requests in binary-parts form (array fields as .npy parts of
    several dtypes, the rest as the "request" part), asking for JSON, .npy
    and multipart answers,
  - the same requests as multipart/form-data bodies (tests/http/npy_parts.py
    builds them), with the fixed boundary of modes 6-8 and behind a
    Content-Type line in modes 9-11 (several spellings of the boundary
    parameter, some refused),
  - the header-parser cases of tests/http/test_parsers_http.py (names and
    boundaries hidden in other parameters, .npy header tricks) and a few
    malformed multipart bodies.

The first byte of an input is the endpoint (0 weights, 1 sample, 2 loss)
plus 3 * mode for modes 0-5, and 216 + endpoint + 3 * (mode - 6) for the
multipart modes 6-11 (see fuzz/fuzz_api.c).

    python3 fuzz/make_corpus.py [DIR]
"""
import base64
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
import npy_parts  # noqa: E402  (standard library only)

FUZZ_BOUNDARY = "fuzzb"  # fuzz/fuzz_api.h
MULTIPART_MODES_FROM = 216
PARSERS_BOUNDARY = "ballast-parsers-7e3a"  # tests/http/test_parsers_http.py
# Content-Type values of modes 9-11 (%s: the boundary): accepted spellings,
# then ones ballastd refuses (from tests/http/test_parsers_http.py).
CONTENT_TYPES = [
    "multipart/form-data; boundary=%s",
    'multipart/form-data; boundary="%s"',
    "Multipart/Form-Data;charset=utf-8;BOUNDARY=%s;",
    'multipart/form-data; foo="x; boundary=evil"; boundary=%s',
    'multipart/form-data; foo="boundary=%s"',
    "multipart/form-data; xboundary=%s",
    "multipart/form-data; boundary=%s; boundary=%s",
]
ENDPOINTS = {"weights": 0, "sample": 1, "loss": 2}
PART_NAMES = ["request", "logits", "log_probs", "targets", "weights", "pos_weight", "counts",
              "labels", "class_weights", "bogus"]
ARRAY_FIELDS = {"weights": ["counts", "labels"],
                "sample": ["weights", "labels", "class_weights"],
                "loss": ["logits", "log_probs", "targets", "weights", "pos_weight"]}
# Array fields sent as .npy parts in the multipart modes only: their names
# are not in PART_NAMES (the binary-parts modes 3-5 name parts by index).
MULTIPART_ARRAY_FIELDS = {"weights": [], "sample": ["sampling_strategy"],
                          "loss": ["class_counts", "class_priors"]}
MAX_SEED = 64 * 1024
# Cheap requests against the limits of the newer fields (tests/http/
# test_limits.py sends the same ones to ballastd): huge class ids in label
# sets, a continued stream far along, windows near 2^63, resampling counts
# past 2^64, long-tail priors and margins at their edges.
LIMIT_PROBES = [
    ("weights", {"label_sets": [[0], [1099511627775]], "scheme": "power", "exponent": 0.5}),
    ("weights", {"label_sets": [[0, 9223372036854775807]]}),
    ("weights", {"labels": [[1, 0], [0, 1]], "scheme": "repeat_factor", "threshold": 1e-300}),
    ("weights", {"label_sets": [[0, 0, 0], []], "num_classes": 4096,
                 "sample_weight_reduce": "max", "sample_weights": True}),
    ("sample", {"weights": [1, 2], "num_samples": 4, "seed": 1, "stream": "continued",
                "epoch": 18446744073709551615}),
    ("sample", {"weights": [1, 2], "num_samples": 4, "seed": 1, "offset": 9223372036854775807,
                "count": 9223372036854775807}),
    ("sample", {"weights": [1, 2], "num_samples": 4, "seed": 1, "offset": 3, "count": 0}),
    ("sample", {"labels": [0, 1, 1], "strategy": "oversample", "seed": 1,
                "sampling_strategy": [9223372036854775807, 9223372036854775807, 3]}),
    ("sample", {"labels": [0, 1, 1], "strategy": "undersample", "seed": 1,
                "sampling_strategy": "not minority"}),
    ("sample", {"weights": [1, 2], "num_samples": 2, "seed": 1, "fast_version": 4294967296,
                "generator": "fast"}),
    ("loss", {"loss": "ldam", "logits": [[1, 2]], "targets": [1], "class_counts": [0, 1e308],
              "max_margin": 1e308, "scale": 1e308}),
    ("loss", {"loss": "cross_entropy", "logits": [[1, 2]], "targets": [1],
              "logit_adjustment": 1e308, "class_priors": [5e-324, 1]}),
    ("loss", {"loss": "dice", "logits": [[[1, 2]]], "targets": [[1]], "smooth_nr": 1e308,
              "smooth_dr": 0, "reduction": "sum_over_batch_size", "batch": True}),
    ("loss", {"loss": "tversky", "logits": [[[1, 2]]], "targets": [[1]],
              "tversky_alpha": 1e308, "tversky_beta": -1, "activation": "sigmoid"}),
    ("loss", {"loss": "asymmetric", "logits": [[1, -2]], "targets": [[1, 0]], "gamma_neg": 1e308,
              "gamma_pos": 0, "clip": 1, "eps": 0}),
]


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


def multipart_first_byte(endpoint, mode):
    return bytes([MULTIPART_MODES_FROM + ENDPOINTS[endpoint] + 3 * (mode - 6)])


def with_ctype(ctype, body):
    """The rest of a mode 9-11 input: the Content-Type line, then the body."""
    return ctype.encode("latin1") + b"\n" + body


def multipart_inputs(endpoint, doc, serial):
    """multipart/form-data forms of one request document: array fields as
    .npy file parts, the rest as the "request" part (as npy_parts.as_parts,
    with several dtypes), in modes 6-8 and 9-11."""
    if not isinstance(doc, dict):
        return []
    out = []
    for variant, dtype_real, dtype_int in [(0, "<f8", "<i8"), (1, "<f4", "<i4"), (2, "<f8", "|u1")]:
        rest = dict(doc)
        parts = []
        for field in ARRAY_FIELDS[endpoint] + MULTIPART_ARRAY_FIELDS[endpoint]:
            if field not in rest:
                continue
            items = list(flat(rest[field]))
            integral = all(isinstance(x, int) and not isinstance(x, bool) for x in items)
            ints = ("labels", "targets", "sampling_strategy")
            dtype = dtype_int if integral and field in ints else dtype_real
            if dtype == "|u1" and any(x < 0 or x > 255 for x in items):
                dtype = "<i8"
            blob = npy(rest[field], dtype, version=1 + variant)
            if blob is None:
                continue
            del rest[field]
            parts.append((field, blob, True))
        if not parts and variant:
            continue  # a document alone: once is enough
        parts.append(("request", json.dumps(rest).encode(), False))
        if variant == 1:
            parts.reverse()
        out.append(multipart_first_byte(endpoint, 6 + variant) +
                   npy_parts.multipart(parts, FUZZ_BOUNDARY))
        ctype = CONTENT_TYPES[(serial + variant) % 4]  # an accepted spelling
        out.append(multipart_first_byte(endpoint, 9 + variant) +
                   with_ctype(ctype % PARSERS_BOUNDARY,
                              npy_parts.multipart(parts, PARSERS_BOUNDARY)))
    return out


def body_of(parts, boundary=FUZZ_BOUNDARY):
    """A multipart body of (Content-Disposition value, content) pairs, as
    body_of in tests/http/test_parsers_http.py."""
    out = b""
    for disposition, data in parts:
        out += ("--%s\r\nContent-Disposition: %s\r\n\r\n" % (boundary, disposition)).encode("latin1")
        out += data + b"\r\n"
    return out + ("--%s--\r\n" % boundary).encode()


def npy_with_header(header, data):
    """A version 1.0 .npy of the header text as given, padded as numpy pads."""
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    h = (header + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def parser_inputs():
    """The cases of tests/http/test_parsers_http.py and malformed bodies."""
    out = []
    counts = npy_parts.npy([1, 2, 4], [3], "<i8")
    one = struct.pack("<d", 1.0)

    def add(endpoint, parts, mode=6):
        out.append(multipart_first_byte(endpoint, mode) + body_of(parts))

    # Part names hidden in other parameters, accepted and refused.
    for disposition in ('form-data; filename="x name=labels"; name="counts"',
                        'form-data; name="counts"; filename="x name=labels"',
                        'form-data; filename="x; name=labels"; NAME=counts',
                        'form-data; name="co\\unts"',
                        'form-data; name="counts"; name="labels"',
                        'attachment; name="counts"',
                        'form-data; name="counts',
                        'form-data; name=counts junk',
                        'form-data; filename="name=counts"',
                        "form-data;;name=counts;",
                        "FORM-DATA ; name = counts",
                        'form-data; name="%s"' % ("c" * 47),
                        'form-data; name="%s"' % ("c" * 48),
                        'form-data; name="\xe9t\xe9"'):
        add("weights", [(disposition, counts)])
        add("weights", [(disposition, counts)], mode=8)
    # The boundary hidden in other parameters (modes 9-11).
    body = body_of([('form-data; name="counts"', counts)], PARSERS_BOUNDARY)
    for ctype in CONTENT_TYPES:
        b = PARSERS_BOUNDARY
        out.append(multipart_first_byte("weights", 9) +
                   with_ctype(ctype % ((b, b) if ctype.count("%s") == 2 else b), body))
    for ctype in ("multipart/form-data", "multipart/form-data; boundary=",
                  'multipart/form-data; boundary=""', "multipart/form-data; boundary=a b ",
                  "multipart/form-data; boundary=" + "x" * 70,
                  "multipart/form-data; boundary=" + "x" * 71,
                  'multipart/form-data; boundary="a\\"b"', "text/plain; boundary=x",
                  "/; boundary=x", "multipart/form-data; boundary=\"unterminated"):
        out.append(multipart_first_byte("weights", 9) + with_ctype(ctype, body))
    # .npy header tricks.
    header = "{'descr': \"<f8', 'shape': (1,), '\", 'fortran_order': False, 'shape': (2,), }"
    add("sample", [('form-data; name="weights"', npy_with_header(header, one))])
    for header in ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}",
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                   "{'descr': '<f8', 'fortran_order': False}",
                   "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
                   "{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }",
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616,), }"):
        add("sample", [('form-data; name="weights"', npy_with_header(header, one)),
                       ('form-data; name="request"', b'{"num_samples": 2, "seed": 1}')])
    empty = npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846975, 0), }", b"")
    add("loss", [('form-data; name="logits"', empty), ('form-data; name="targets"', empty),
                 ('form-data; name="request"', b'{"loss": "bce_with_logits", "reduction": "none"}')])
    # Answers past FUZZ_MAX_OUTPUT (fuzz/fuzz_api.h, 128 KiB) as JSON: 4096
    # classes; 2048 losses and 4096 gradients (uint8 parts, to stay under
    # -max_len). And an empty .npy whose JSON form would be too large.
    out.append(bytes([ENDPOINTS["weights"]]) +
               b'{"labels": [0], "num_classes": 4096, "zero_counts": "zero"}')
    logits = npy_parts.npy([0] * 4096, [2048, 2], "|u1")
    targets = npy_parts.npy([1] * 2048, [2048], "|u1")
    for mode in (6, 8):
        add("loss", [('form-data; name="logits"', logits), ('form-data; name="targets"', targets),
                     ('form-data; name="request"', b'{"reduction": "none", "grad": true}')], mode)
    huge = npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 1073741823, 0), }", b"")
    add("loss", [('form-data; name="logits"', huge), ('form-data; name="targets"', huge),
                 ('form-data; name="request"', b'{"reduction": "none"}')])
    # Malformed bodies: preamble, padding, no close, no headers, LF only,
    # too many parts, two dispositions, the boundary inside a part.
    good = body_of([('form-data; name="counts"', counts)])
    for raw in (b"preamble\r\n" + good,
                good.replace(b"--fuzzb\r\n", b"--fuzzb \t\r\n", 1),
                good[:-len("--fuzzb--\r\n") - 2],
                b"--fuzzb\r\n\r\n" + counts + b"\r\n--fuzzb--\r\n",
                good.replace(b"\r\n", b"\n"),
                body_of([('form-data; name="p%d"' % i, b"x") for i in range(17)]),
                b'--fuzzb\r\nContent-Disposition: form-data; name="counts"\r\n'
                b'Content-Disposition: form-data; name="labels"\r\n\r\n' + counts +
                b"\r\n--fuzzb--\r\n",
                body_of([('form-data; name="request"', b'{"counts": [1, 2]}\r\n--fuzzbx')]),
                b"--fuzzb--\r\n", b""):
        out.append(multipart_first_byte("weights", 6) + raw)
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
        for i, case in enumerate(load("tests/conformance/%s_cases.json" % ep)["cases"]):
            body(ep, json.dumps(case["request"]))
            seeds.extend(parts_inputs(ep, case["request"]))
            seeds.extend(multipart_inputs(ep, case["request"], i))
    # imblearn's under/oversampling fixtures: /sample requests too.
    for i, case in enumerate(load("tests/conformance/balance_cases.json")["cases"]):
        body("sample", json.dumps(case["request"]))
        seeds.extend(parts_inputs("sample", case["request"]))
        seeds.extend(multipart_inputs("sample", case["request"], 10000 + i))
    for i, (ep, doc) in enumerate(LIMIT_PROBES):
        body(ep, json.dumps(doc))
        seeds.extend(multipart_inputs(ep, doc, 20000 + i))
    for i, case in enumerate(load("tests/cases/api_cases.json")["cases"]):
        b = case["body"]
        body(case["endpoint"], b if isinstance(b, str) else json.dumps(b))
        if not isinstance(b, str):
            seeds.extend(parts_inputs(case["endpoint"], b))
            seeds.extend(multipart_inputs(case["endpoint"], b, i))
    seeds.extend(parser_inputs())
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
