#!/usr/bin/env python3
"""POST /loss with the multi-label and segmentation losses (asymmetric, dice,
tversky; README "Multi-label: asymmetric", "Segmentation: dice and tversky")
over HTTP: the shapes of `none`, the refusals naming their field, and the
.npy transports (integer and float32 parts in, .npy out) against JSON.
The values themselves are the fixtures' (tests/conformance/loss_cases.json,
replayed by test_http.py and test_bulk.py). Standard library only."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy_parts  # noqa: E402
from harness import Server, check, eq, main, test  # noqa: E402
from npy_parts import flat, npy, parse_npy  # noqa: E402

srv = None
BOUNDARY = "----ballast-seg-boundary-41"

LOGITS = [[[[2.0, -1.0], [0.5, 0.0]], [[-1.0, 1.5], [0.0, 2.0]], [[0.3, 0.1], [-2.0, 1.0]]],
          [[[0.0, 1.0], [1.5, -0.5]], [[1.0, 0.0], [0.5, 0.5]], [[-1.0, 2.0], [0.0, 0.0]]]]
TARGETS = [[[0, 1], [2, 1]], [[1, 1], [0, 2]]]  # (N=2, 2, 2), C = 3


def post(body):
    status, _, b = srv.request("POST", "/loss", body)
    return status, json.loads(b)


def refused(body, field, *words):
    status, doc = post(body)
    eq(status, 400, json.dumps(body))
    err = doc["error"]
    eq((err["code"], err.get("field")), ("invalid_argument", field), err["message"])
    for w in words:
        check(w in err["message"], "%r lacks %r" % (err["message"], w))


def shape_of(v):
    s = []
    while isinstance(v, list):
        s.append(len(v))
        v = v[0] if v else None
    return s


@test
def none_has_the_scores_shape():
    for loss in ("dice", "tversky"):
        base = {"loss": loss, "logits": LOGITS, "targets": TARGETS, "reduction": "none"}
        for extra, want in (({}, [2, 3]), ({"include_background": False}, [2, 2]),
                            ({"batch": True}, [3]), ({"batch": True, "include_background": False}, [2])):
            status, doc = post(dict(base, **extra))
            eq(status, 200, doc)
            eq(shape_of(doc["loss"]), want, (loss, extra))
            eq(doc["total_weight"], float(want[0] * (want[1] if len(want) > 1 else 1)), extra)
            # mean and sum of the same scores
            s = sum(flat(doc["loss"]))
            _, m = post(dict(base, reduction="mean", **extra))
            _, t = post(dict(base, reduction="sum", **extra))
            check(abs(t["loss"] - s) <= 1e-15 * max(1, abs(s)), (t["loss"], s))
            check(abs(m["loss"] - s / doc["total_weight"]) <= 1e-15, (m["loss"], s))
    # asymmetric: the logits' shape
    status, doc = post({"loss": "asymmetric", "logits": [[1.0, -2.0, 0.5]], "targets": [[1, 0, 1]],
                        "reduction": "none", "grad": True})
    eq((status, shape_of(doc["loss"]), shape_of(doc["grad"])), (200, [1, 3], [1, 3]), doc)


@test
def refusals_name_their_field():
    seg = {"loss": "dice", "logits": LOGITS, "targets": TARGETS}
    refused(dict(seg, logits=[1.0, 2.0], targets=[0]), "logits", "(N, C, d1, ...)")
    refused(dict(seg, targets=[[0, 1], [2, 1]]), "targets", "[2, 2, 2]", "sigmoid")
    refused(dict(seg, activation="sigmoid"), "targets", "the logits' shape")
    refused(dict(seg, activation="relu"), "activation", "softmax")
    refused(dict(seg, targets=[[[0, 1], [3, 1]], [[1, 1], [0, 2]]]), "targets[0][1][0]",
            "out of bounds")
    refused(dict(seg, targets=[[[0, 1], [2.5, 1]], [[1, 1], [0, 2]]]), "targets", "integers")
    refused(dict(seg, weights=[1, 2, 3], include_background=False), "weights", "expected 2")
    refused(dict(seg, ignore_index=0), "ignore_index", "applies only")
    refused(dict(seg, gamma_pos=2), "gamma_pos", "applies only")
    refused(dict(seg, tversky_alpha=0.3), "tversky_alpha", "applies only")
    refused(dict(seg, smooth_nr=-1), "smooth_nr")
    refused(dict(seg, logits=[[[1.0, 2.0]]], targets=[[0, 0]]), "logits", "at least 2 classes")
    refused(dict(seg, loss="tversky", alpha=0.3), "alpha", "tversky_alpha")
    refused(dict(seg, loss="tversky", tversky_beta=-0.5), "tversky_beta")
    ml = {"loss": "asymmetric", "logits": [[1.0, -2.0]], "targets": [[1, 0]]}
    refused(dict(ml, eps=1), "eps")
    refused(dict(ml, clip=1.5), "clip")
    refused(dict(ml, gamma_neg=-1), "gamma_neg")
    refused(dict(ml, gamma=2), "gamma", "applies only")
    refused(dict(ml, activation="sigmoid"), "activation", "applies only")
    refused(dict(ml, targets=[[1, 2]]), "targets[0][1]", "outside [0, 1]")
    refused(dict(ml, targets=[1, 0]), "targets", "the logits' shape")
    refused(dict(ml, loss="ldam", class_counts=[5, 1]), "targets", "class indices")


def parts_of(request, arrays):
    rest = dict(request)
    out = []
    for name, descr in arrays:
        v = rest.pop(name)
        vals = flat(v)
        if descr[1] in "iu":  # 0/1 masks as an integer dtype
            vals = [int(x) for x in vals]
        out.append((name, npy(vals, shape_of(v), descr), True))
    out.append(("request", json.dumps(rest).encode(), False))
    return out


@test
def npy_parts_equal_json():
    cases = [
        ({"loss": "dice", "logits": LOGITS, "targets": TARGETS, "grad": True},
         [("logits", "<f8"), ("targets", "|u1")]),
        ({"loss": "tversky", "logits": LOGITS, "targets": TARGETS, "batch": True,
          "include_background": False, "weights": [0.5, 2.0], "reduction": "none"},
         [("logits", "<f8"), ("targets", "<i4"), ("weights", "<f8")]),
        ({"loss": "dice", "activation": "sigmoid", "logits": [[[0.5, -1.0, 2.0]], [[0.0, 1.0, -3.0]]],
          "targets": [[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]], "reduction": "sum", "grad": True},
         [("logits", "<f4"), ("targets", "<f4")]),
        ({"loss": "asymmetric", "logits": [[0.5, -1.0, 2.0], [0.0, 1.0, -3.0]],
          "targets": [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], "clip": 0, "grad": True},
         [("logits", "<f4"), ("targets", "|u1")]),
    ]
    for req, arrays in cases:
        s1, _, j = srv.request("POST", "/loss", req)
        eq(s1, 200, j)
        s2, _, b = npy_parts.post_parts(srv, "/loss", parts_of(req, arrays), BOUNDARY)
        eq((s2, json.loads(b)), (s1, json.loads(j)), req["loss"])


@test
def scores_as_npy():
    req = {"loss": "dice", "logits": LOGITS, "targets": TARGETS, "reduction": "none"}
    _, doc = post(req)
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "application/x-npy"})
    eq(status, 200, b)
    head, got = parse_npy(b)
    eq((head["descr"], list(head["shape"])), ("<f8", [2, 3]), h)
    eq(got, flat(doc["loss"]), "the .npy answer")


@test
def mean_of_no_samples_warns():
    status, doc = post({"loss": "dice", "logits": [[[1.0], [2.0]]], "targets": [[0]]})
    eq(status, 200, doc)  # one sample: a number
    check(isinstance(doc["loss"], float), doc)
    s, h, b = npy_parts.post_parts(srv, "/loss", [
        ("logits", npy([], [0, 2, 3], "<f8"), True), ("targets", npy([], [0, 3], "<i8"), True),
        ("request", b'{"loss": "dice"}', False)], BOUNDARY)
    doc = json.loads(b)
    eq((s, doc["loss"], doc["total_weight"]), (200, None, 0.0), doc)
    check(any("no scores" in w for w in doc["warnings"]), doc)


if __name__ == "__main__":
    srv = Server("--log-format", "none")
    try:
        main("loss-seg")
    finally:
        srv.stop()
