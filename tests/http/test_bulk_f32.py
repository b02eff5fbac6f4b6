#!/usr/bin/env python3
"""Float32 .npy input of /loss, which libballast reads in place
(bl_loss_args.input_f32; README, "Bulk data: NumPy `.npy` over multipart"): every loss fixture of
tests/conformance/loss_cases.json with its logits (or log_probs) rounded to
float32 must answer byte for byte as the same request in JSON, whose
numbers are those float32 values as float64 — for every loss (those read
in place and those converted first), with and without gradients, answered
as JSON and as multipart; a non-finite float32 is refused, naming its
place, at every alignment of the part. Standard library only."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy_parts  # noqa: E402
from harness import ROOT, check, eq, main, server, test  # noqa: E402
from npy_parts import flat, npy, shape_of  # noqa: E402

srv = None
BOUNDARY = "----ballast-f32-boundary-3c9e"
INPUTS = ("logits", "log_probs")


def to_f32(x):
    """x (a nested list) with every number rounded to the nearest float32."""
    if isinstance(x, list):
        return [to_f32(v) for v in x]
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_parts(req, pad=""):
    """The request with its input as a float32 .npy part; pad lengthens the
    request part, which comes first (so the arrays land at another alignment
    in the body)."""
    rest = dict(req)
    parts = []
    for name in INPUTS:
        if isinstance(rest.get(name), list):
            v = rest.pop(name)
            parts.append((name, npy(flat(v), shape_of(v), "<f4"), True))
    for name in ("targets", "weights", "pos_weight"):
        if isinstance(rest.get(name), list):
            v = rest.pop(name)
            vals = flat(v)
            is_int = name == "targets" and all(isinstance(x, int) and not isinstance(x, bool)
                                               for x in vals)
            parts.append((name, npy(vals, shape_of(v), "<i8" if is_int else "<f8"), True))
    # first, so that its length moves every .npy part after it
    parts.insert(0, ("request", (json.dumps(rest) + pad).encode(), False))
    return parts


def post(parts, accept=None):
    return npy_parts.post_parts(srv, "/loss", parts, BOUNDARY, accept)


def cases():
    with open(os.path.join(ROOT, "tests/conformance/loss_cases.json")) as f:
        for case in json.load(f)["cases"]:
            req = dict(case["request"])
            name = next((n for n in INPUTS if isinstance(req.get(n), list)), None)
            if name is None:
                continue
            req[name] = to_f32(req[name])
            yield case["name"], req


@test
def f32_input_equals_json_of_its_values():
    n, losses = 0, set()
    for name, req in cases():
        s1, _, j = srv.request("POST", "/loss", req)
        s2, _, b = post(f32_parts(req))
        eq((s2, b), (s1, j), name)
        n += 1
        losses.add(req.get("loss", "cross_entropy"))
    check(n > 600, "only %d cases" % n)
    check(len(losses) >= 9, "losses covered: %s" % sorted(losses))
    print("loss fixtures with float32 input: %d byte-identical to JSON (%d losses)" % (n, len(losses)))


@test
def f32_input_with_gradients_and_multipart():
    n = 0
    for name, req in cases():
        if req.get("loss", "cross_entropy") not in ("cross_entropy", "focal", "nll"):
            continue
        req = dict(req, grad=True)
        s1, _, j = srv.request("POST", "/loss", req)
        s2, _, b = post(f32_parts(req))
        eq((s2, b), (s1, j), name + " (grad)")
        s3, _, m1 = srv.request("POST", "/loss", req, headers={"Accept": "multipart/form-data"})
        s4, _, m2 = post(f32_parts(req), accept="multipart/form-data")
        eq((s4, m2), (s3, m1), name + " (grad, multipart)")
        n += 1
    check(n > 300, "only %d cases" % n)
    print("class-loss fixtures with float32 input and gradients: %d byte-identical" % n)


@test
def f32_bulk_rows_and_alignments():
    # (64, 10): the kernel's float32 rows, int64 targets read in place; every
    # alignment of the data in the body
    rows = [[((i * 7 + c * 3) % 17 - 8) * 0.375 for c in range(10)] for i in range(64)]
    targets = [(i * 5) % 10 for i in range(64)]
    for loss in ("cross_entropy", "focal", "nll"):
        req = {"logits" if loss != "nll" else "log_probs": rows, "targets": targets,
               "loss": loss, "weights": [0.5 + c for c in range(10)]}
        _, _, want = srv.request("POST", "/loss", req)
        for k in range(8):
            status, _, got = post(f32_parts(req, pad=" " * k))
            eq((status, got), (200, want), "%s, pad %d" % (loss, k))


@test
def f32_nonfinite_refused():
    for bad_at in (0, 5, 37, 63):
        for bad in (float("inf"), float("-inf"), float("nan")):
            vals = [0.25] * 64
            vals[bad_at] = bad
            parts = [("logits", npy(vals, [8, 8], "<f4"), True),
                     ("targets", npy([1] * 8, [8], "<i8"), True)]
            for k in range(2):
                status, _, body = post(parts + [("request", ("{}" + " " * k).encode(), False)])
                doc = json.loads(body)
                eq(status, 400, "status")
                eq(doc["error"]["field"], "logits[%d][%d]" % (bad_at // 8, bad_at % 8), "field")
                check("must be a finite number" in doc["error"]["message"], doc["error"]["message"])


if __name__ == "__main__":
    srv = server()
    main("bulk_f32")
