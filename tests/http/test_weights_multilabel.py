#!/usr/bin/env python3
"""POST /weights' scheme power, multi-label input and scheme repeat_factor
over HTTP and through the CLI (README "Scheme power", "Multi-label weights",
"Repeat factors"; the fixtures of tests/conformance/weights_cases.json run in
test_http.py, test_contract.py and test_bulk.py):

- the CLI answers these requests byte for byte as the daemon does;
- a 2-D labels matrix as an integer .npy part (int64, int32, uint8) answers
  byte for byte as the JSON matrix; float, 3-D and non-0/1 parts are refused,
  and label_sets as a part is refused with a message that says why;
- .npy and multipart answers carry repeat_factors, positives and pos_weight;
- power with exponent 1 and 0.5 is inverse and inverse_sqrt bit for bit, and
  repeat factors and pos_weight are the reference's doubles exactly;
- a small request cannot ask for a large answer (max-items, max-output).

Standard library only."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy_parts  # noqa: E402
from harness import BALLASTD, ROOT, Server, check, eq, main, test  # noqa: E402
from npy_parts import flat, npy, parse_npy, shape_of  # noqa: E402

CLI = os.path.join(os.path.dirname(os.path.abspath(BALLASTD)), "ballast")
BOUNDARY = "----ballast-multilabel-5b2e"
srv = None

MATRIX = [[1, 0, 1], [1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 0, 0]]


def post(body, headers=None):
    return srv.request("POST", "/weights", body, headers=headers)


def post_parts(parts, accept=None):
    return npy_parts.post_parts(srv, "/weights", parts, BOUNDARY, accept)


def error_of(status, data):
    eq(status, 400, "status of %s" % data[:200])
    return json.loads(data)["error"]


@test
def cli_answers_like_the_daemon():
    docs = [
        {"label_sets": [[0], [0, 1], [0], [], [2, 2]], "scheme": "repeat_factor",
         "threshold": 0.3, "sample_weights": True, "sample_weight_reduce": "mean"},
        {"labels": MATRIX, "scheme": "power", "exponent": 0.75, "sample_weights": True},
        {"label_sets": [[0], [5]]},  # refused: classes 1 to 4 have no positives
    ]
    for doc in docs:
        text = json.dumps(doc)
        status, _, want = post(text)
        r = subprocess.run([CLI, "weights", "-"], input=text.encode(), capture_output=True,
                           timeout=60)
        if status == 200:
            eq((r.returncode, r.stdout, r.stderr), (0, want, b""), text)
        else:
            eq((r.returncode, r.stdout, r.stderr), (1, b"", want), text)
    print("%d requests: the CLI's bytes are the daemon's" % len(docs))


@test
def matrix_npy_parts_equal_json():
    for body in ({"labels": MATRIX, "scheme": "inverse", "sample_weights": True},
                 {"labels": MATRIX, "scheme": "repeat_factor", "threshold": 0.9}):
        _, _, want = post(body)
        rest = {k: v for k, v in body.items() if k != "labels"}
        for descr in ("<i8", "<i4", "|u1"):
            status, _, got = post_parts([("labels", npy(flat(MATRIX), shape_of(MATRIX), descr),
                                          True), ("request", json.dumps(rest).encode(), False)])
            eq((status, got), (200, want), "labels matrix as %s .npy" % descr)


@test
def bad_parts_are_refused():
    req = ("request", b'{"scheme": "inverse"}', False)
    err = error_of(*post_parts([("labels", npy([1.0, 0.0, 0.0, 1.0], [2, 2], "<f8"), True), req])[::2])
    eq(err["field"], "labels", "float matrix")
    check("integers 0 and 1" in err["message"], err)
    err = error_of(*post_parts([("labels", npy([1, 0, 2, 1], [2, 2], "<i8"), True), req])[::2])
    eq(err["field"], "labels[1][0]", "a 2 in the matrix")
    err = error_of(*post_parts([("labels", npy([1, 0, 0, 1], [1, 2, 2], "<i8"), True), req])[::2])
    check("dimensions" in err["message"], err)
    err = error_of(*post_parts([("label_sets", npy([0, 1], [2], "<i8"), True), req])[::2])
    eq(err["field"], "label_sets", "label_sets as .npy")
    check("cannot be sent as a .npy part" in err["message"] and "differ in length" in err["message"],
          err)


@test
def binary_answers_carry_the_new_arrays():
    body = {"label_sets": [[0], [0, 1], [0], [], [2]], "scheme": "repeat_factor",
            "threshold": 0.5}
    _, _, j = post(body)
    doc = json.loads(j)
    status, h, b = post(body, headers={"Accept": "application/x-npy"})
    eq(status, 200, "x-npy status")
    d, vals = parse_npy(b)
    eq((d["descr"], d["shape"], vals), ("<f8", (5,), doc["repeat_factors"]), "repeat_factors .npy")
    eq(h.get("ballast-num-samples"), "5", "Ballast-Num-Samples")
    status, h, b = post(body, headers={"Accept": "multipart/form-data"})
    eq(status, 200, "multipart status")
    for name in ("positives", "pos_weight", "repeat_factors", "weights"):
        check(('name="%s"' % name).encode() in b, "multipart answer lacks %s" % name)
    # with sample_weights, those are the x-npy array
    body["sample_weights"] = True
    _, _, j = post(body)
    status, h, b = post(body, headers={"Accept": "application/x-npy"})
    eq(parse_npy(b)[1], json.loads(j)["sample_weights"], "sample_weights .npy")


@test
def power_identities_bit_for_bit():
    with open(os.path.join(ROOT, "tests/conformance/weights_cases.json")) as f:
        cases = json.load(f)["cases"]
    n = 0
    for case in cases:
        req = case["request"]
        if "counts" not in req or req.get("scheme", "max_over_count") not in ("inverse",
                                                                              "inverse_sqrt"):
            continue
        q = 1 if req["scheme"] == "inverse" else 0.5
        _, _, want = post(req)
        _, _, got = post(dict(req, scheme="power", exponent=q))
        a, b = json.loads(want), json.loads(got)
        eq(b["weights"], a["weights"], "power %s vs %s: %s" % (q, req["scheme"], case["name"]))
        # the same decimal text, i.e. the same doubles
        eq(json.dumps(b["weights"]), json.dumps(a["weights"]), case["name"])
        n += 1
    check(n >= 20, "only %d cases" % n)
    print("%d fixtures: power(1) = inverse, power(0.5) = inverse_sqrt, bit for bit" % n)


@test
def repeat_factors_and_pos_weight_are_the_references_doubles():
    """The fixtures' repeat factors follow detectron2's order of operations in
    Python floats, and pos_weight is one division: the server gives the same
    doubles, not just within the fixtures' 1e-12."""
    with open(os.path.join(ROOT, "tests/conformance/weights_cases.json")) as f:
        cases = json.load(f)["cases"]
    n = 0
    c = srv.conn()
    for case in cases:
        want = case["expected"]
        keys = [k for k in ("repeat_factors", "pos_weight") if k in want]
        if case["request"].get("scheme") == "repeat_factor":
            keys.append("weights")
        if not keys:
            continue
        status, _, data = srv.request("POST", "/weights", case["request"], conn=c)
        got = json.loads(data)
        for k in keys:
            eq(got[k], want[k], "%s: %s" % (case["name"], k))
            n += 1
    c.close()
    check(n >= 100, "only %d arrays" % n)
    print("%d arrays of repeat factors and pos_weight: the reference's doubles exactly" % n)


@test
def small_requests_cannot_ask_for_large_answers():
    # a class id far beyond max-items: refused before any per-class array exists
    err = error_of(*post({"label_sets": [[0], [1 << 40]]})[::2])
    eq(err["code"], "limit_exceeded", "huge class id")
    err = error_of(*post({"label_sets": [[0]], "num_classes": 1 << 40})[::2])
    eq((err["code"], err["field"]), ("limit_exceeded", "num_classes"), "huge num_classes")
    # within max-items, but 16e6 classes' four arrays could not fit max-output (256 MiB):
    # refused before they are made
    err = error_of(*post({"label_sets": [[0], [16000000]], "zero_counts": "zero"})[::2])
    eq(err["code"], "limit_exceeded", "16e6 classes")
    check("max-output" in err["message"], err)
    # the same through a matrix whose header claims 2^40 elements: refused from its shape
    part = npy([1, 0], [2, 1], "<i8")
    huge = part.replace(b"(2, 1)", b"(1099511627776, 1)", 1)
    status, _, data = post_parts([("labels", huge, True)])
    eq(status, 400, "a .npy header claiming 2^40 labels")


if __name__ == "__main__":
    srv = Server("--log-format", "none")
    try:
        main("weights-multilabel")
    finally:
        srv.stop()
