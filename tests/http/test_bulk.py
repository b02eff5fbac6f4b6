#!/usr/bin/env python3
"""The binary transport: .npy parts in multipart/form-data requests, and
.npy / multipart responses. Every binary round trip is compared with the
JSON path for the same request, bit for bit; every bad binary input must
get a 400 with a clear message. Standard library only (no NumPy)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy_parts  # noqa: E402
from harness import ROOT, Server, check, eq, main, test  # noqa: E402
from npy_parts import flat, npy, parse_npy, shape_of  # noqa: E402,F401

srv = None
BOUNDARY = "----ballast-test-boundary-7d1f"


def post_parts(path, parts, accept=None, s=None):
    return npy_parts.post_parts(s or srv, path, parts, BOUNDARY, accept)


def as_parts(request, arrays, int_fields=("targets", "labels", "counts")):
    return npy_parts.as_parts(request, arrays, int_fields)


def fixture_cases(name):
    with open(os.path.join(ROOT, "tests/conformance", name)) as f:
        return json.load(f)["cases"]


@test
def loss_npy_requests_equal_json():
    n = 0
    for case in fixture_cases("loss_cases.json"):
        req = case["request"]
        if not isinstance(req.get("targets"), list):
            continue  # a scalar target stays JSON; covered below
        s1, _, j = srv.request("POST", "/loss", req)
        s2, _, b = post_parts("/loss", as_parts(req, ["logits", "log_probs", "targets", "weights", "pos_weight"]))
        eq((s2, b), (s1, j), case["name"])
        n += 1
    check(n > 300, "only %d cases" % n)
    print("loss fixtures as .npy parts: %d/%d byte-identical to JSON" % (n, n))


@test
def sample_and_weights_npy_requests_equal_json():
    n = 0
    for case in fixture_cases("sample_cases.json"):
        req = case["request"]
        s1, _, j = srv.request("POST", "/sample", req)
        s2, _, b = post_parts("/sample", as_parts(req, ["weights"]))
        eq((s2, b), (s1, j), case["name"])
        n += 1
    for case in fixture_cases("weights_cases.json"):
        req = case["request"]
        if isinstance(req.get("counts"), dict):
            continue
        s1, _, j = srv.request("POST", "/weights", req)
        s2, _, b = post_parts("/weights", as_parts(req, ["counts", "labels"], ("labels",)))
        eq((s2, b), (s1, j), case["name"])
        n += 1
    print("sample and weights fixtures as .npy parts: %d byte-identical to JSON" % n)


@test
def float32_and_small_int_dtypes():
    logits = [[1.1, 2.2], [1.5, 3.25], [0.1, 3.0]]
    f32 = [struct.unpack("<f", struct.pack("<f", x))[0] for x in flat(logits)]
    rounded = [f32[0:2], f32[2:4], f32[4:6]]
    _, _, want = srv.request("POST", "/loss", {"logits": rounded, "targets": [0, 1, 1], "reduction": "none"})
    for tdescr in ("<i8", "<i4", "|u1"):
        parts = [("logits", npy(flat(logits), [3, 2], "<f4"), True),
                 ("targets", npy([0, 1, 1], [3], tdescr), True),
                 ("request", b'{"reduction": "none"}', False)]
        status, _, got = post_parts("/loss", parts)
        eq((status, got), (200, want), "float32 logits, targets " + tdescr)
    for version in ((2, 0), (3, 0)):
        parts = [("weights", npy([1.0, 2.0, 3.0], [3], version=version), True),
                 ("request", b'{"seed": 5}', False)]
        status, _, got = post_parts("/sample", parts)
        _, _, want = srv.request("POST", "/sample", {"weights": [1, 2, 3], "seed": 5})
        eq((status, got), (200, want), "npy version %s" % (version,))


@test
def npy_responses_bit_for_bit():
    # /sample indices as int64
    req = {"weights": [1, 5, 2, 0, 7], "num_samples": 1000, "seed": 3}
    _, _, j = srv.request("POST", "/sample", req)
    status, h, b = srv.request("POST", "/sample", req, headers={"Accept": "application/x-npy"})
    eq(status, 200, "status")
    eq(h["content-type"], "application/x-npy", "content type")
    d, vals = parse_npy(b)
    eq((d["descr"], d["shape"]), ("<i8", (1000,)), "header")
    doc = json.loads(j)
    eq(vals, doc["indices"], "indices")
    eq(h["ballast-seed"], "3", "Ballast-Seed")
    eq(h["ballast-num-samples"], "1000", "Ballast-Num-Samples")
    eq(h["ballast-generator"], "fast", "Ballast-Generator")
    # /loss none, K-dimensional: doubles bit for bit, shape kept
    logits = [[[0.5, -1.0, 2.0], [1.0, 1.0, -3.0]], [[0.25, 4.0, -2.0], [1e4, -1e4, 0.0]]]  # (2,2,3): N=2,C=2,d=3
    req = {"logits": logits, "targets": [[0, 1, 1], [1, 0, 0]], "reduction": "none"}
    _, _, j = srv.request("POST", "/loss", req)
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "application/x-npy"})
    d, vals = parse_npy(b)
    eq(d["shape"], (2, 3), "loss shape")
    eq([struct.pack("<d", v) for v in vals], [struct.pack("<d", v) for v in flat(json.loads(j)["loss"])],
       "loss bits")
    eq(h["ballast-reduction"], "none", "Ballast-Reduction")
    # /weights sample_weights
    req = {"labels": [0, 0, 1, 2, 2, 2], "sample_weights": True, "scheme": "balanced"}
    _, _, j = srv.request("POST", "/weights", req)
    status, h, b = srv.request("POST", "/weights", req, headers={"Accept": "application/x-npy"})
    d, vals = parse_npy(b)
    eq(vals, json.loads(j)["sample_weights"], "sample weights")
    eq(h["ballast-num-classes"], "3", "Ballast-Num-Classes")


def split_multipart(body, ctype):
    boundary = ctype.split("boundary=")[1].encode()
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, data = chunk[2:].split(b"\r\n\r\n", 1)
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        parts[name] = data[:-2]
    return parts


@test
def multipart_responses():
    req = {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "reduction": "none", "grad": True,
           "weights": [1, 2]}
    _, _, j = srv.request("POST", "/loss", req)
    doc = json.loads(j)
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "multipart/form-data"})
    eq(status, 200, "status")
    parts = split_multipart(b, h["content-type"])
    eq(sorted(parts), ["grad", "loss", "response"], "parts")
    eq(json.loads(parts["response"]), {"reduction": "none", "total_weight": 5.0}, "response part")
    eq(parse_npy(parts["loss"])[1], doc["loss"], "loss part")
    d, g = parse_npy(parts["grad"])
    eq(d["shape"], (3, 2), "grad shape")
    eq(g, flat(doc["grad"]), "grad part")
    # mean: a scalar answer; multipart still works, x-npy cannot hold it
    req = {"logits": [[1, 2]], "targets": [0]}
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "multipart/form-data"})
    eq(json.loads(split_multipart(b, h["content-type"])["response"])["reduction"], "mean", "mean")
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "application/x-npy"})
    eq(status, 406, "x-npy of a scalar answer")
    eq(json.loads(b)["error"]["code"], "not_acceptable", "code")
    # Accept lists: the first named wins; */* is JSON
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "application/json, application/x-npy"})
    eq(h["content-type"], "application/json", "json first")
    status, h, b = srv.request("POST", "/loss", req, headers={"Accept": "*/*"})
    eq(h["content-type"], "application/json", "*/*")
    # Errors stay JSON whatever Accept says
    status, h, b = srv.request("POST", "/loss", {"logits": [[1, 2]], "targets": [7]},
                               headers={"Accept": "application/x-npy"})
    eq((status, h["content-type"]), (400, "application/json"), "error format")


@test
def curl_dash_f():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "logits.npy"), "wb") as f:
            f.write(npy([1, 2, 1, 3, 1, 3], [3, 2]))
        with open(os.path.join(d, "targets.npy"), "wb") as f:
            f.write(npy([0, 1, 1], [3], "<i8"))
        out = subprocess.run(["curl", "-s", "-F", "logits=@%s/logits.npy" % d, "-F",
                              "targets=@%s/targets.npy" % d, "-F", 'request={"reduction":"sum"}',
                              "http://127.0.0.1:%d/loss" % srv.port], capture_output=True, text=True)
        doc = json.loads(out.stdout)
        check(abs(doc["loss"] - 1.5671177096041677) < 1e-15, doc)


BAD = [
    # (name, parts, expected field, message fragment)
    ("bad_magic", [("weights", b"NOTNUMPY" + b"\0" * 40, True)], "weights", "magic"),
    ("version_4", [("weights", npy([1.0], [1], version=(4, 0)), True)], "weights", "version"),
    ("big_endian", [("weights", npy([1.0], [1], ">f8"), True)], "weights", "dtype"),
    ("float16", [("weights", npy([1.0], [1], "<f2"), True)], "weights", "dtype"),
    ("fortran", [("weights", npy([1.0], [1], fortran=True), True)], "weights", "C-order"),
    ("truncated", [("weights", npy([1.0, 2.0], [2])[:-3], True)], "weights", "truncated"),
    ("extra_bytes", [("weights", npy([1.0, 2.0], [2]) + b"xx", True)], "weights", "data bytes"),
    ("shape_mismatch", [("weights", npy([1.0, 2.0], [3]), True)], "weights", "data bytes"),
    ("two_d_weights", [("weights", npy([1.0, 2.0], [1, 2]), True)], "weights", "1-D"),
    ("negative_weight", [("weights", npy([1.0, -2.0], [2]), True)], "weights[1]", ">= 0"),
    ("nan_weight", [("weights", npy([1.0, float("nan")], [2]), True)], "weights[1]", "finite"),
    ("labels_as_float", [("labels", npy([0.0, 1.0], [2]), True)], "labels", "integers"),
    ("unknown_part", [("wieghts", npy([1.0], [1]), True)], "wieghts", "unknown"),
    ("scalar_field_as_part", [("weights", npy([1.0], [1]), True), ("seed", b"5", False)], "seed",
     "request"),
    ("twice", [("weights", npy([1.0], [1]), True), ("request", b'{"weights": [1]}', False)], "weights",
     "twice"),
    ("duplicate_part", [("weights", npy([1.0], [1]), True), ("weights", npy([1.0], [1]), True)], "weights",
     "twice"),
    ("request_not_json", [("weights", npy([1.0], [1]), True), ("request", b"{seed: 1}", False)], None,
     "invalid JSON"),
]


@test
def bad_binary_inputs():
    for name, parts, field, frag in BAD:
        status, h, b = post_parts("/sample", parts)
        doc = json.loads(b)
        eq(status, 400, name)
        if field:
            eq(doc["error"].get("field"), field, name + " field")
        check(frag in doc["error"]["message"], "%s: %s" % (name, doc["error"]["message"]))
    # loss: targets of the wrong shape, logits ragged impossible in npy but shape errors are not
    parts = [("logits", npy([1.0] * 6, [3, 2]), True), ("targets", npy([0, 1], [2], "<i8"), True)]
    status, h, b = post_parts("/loss", parts)
    eq((status, json.loads(b)["error"]["field"]), (400, "targets"), "targets shape")
    parts = [("logits", npy([1.0] * 6, [3, 2]), True), ("targets", npy([0, 5, 1], [3], "<i8"), True)]
    status, h, b = post_parts("/loss", parts)
    doc = json.loads(b)
    eq((status, doc["error"]["field"]), (400, "targets[1]"), "target out of bounds")
    check("Target 5 is out of bounds" in doc["error"]["message"], doc)
    # malformed multipart
    status, h, b = srv.request("POST", "/sample", b"--nope\r\ngarbage",
                               headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
    eq(status, 400, "malformed multipart")
    status, h, b = srv.request("POST", "/sample", b"x", headers={"Content-Type": "multipart/form-data"})
    eq(status, 400, "no boundary")


@test
def multipart_edge_cases_regressions():
    """Found by the contract work: an empty part and a part without a name
    used to crash the server (NULL data / NULL name in the part callback)."""
    def raw(body, boundary="BND"):
        return srv.request("POST", "/sample", body.encode(),
                           headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    status, h, b = raw('--BND\r\nContent-Disposition: form-data; name="request"\r\n\r\n\r\n--BND--\r\n')
    eq(status, 400, "empty request part")
    status, h, b = raw('--BND\r\nContent-Disposition: form-data\r\n\r\nxx\r\n--BND--\r\n')
    eq(status, 400, "nameless part")
    check("no name" in json.loads(b)["error"]["message"], b)
    status, h, b = raw('--BND\r\nContent-Disposition: form-data; name="weights"\r\n\r\n\r\n'
                       '--BND\r\nContent-Disposition: form-data; name="weights"\r\n\r\nabc\r\n--BND--\r\n')
    eq((status, json.loads(b)["error"].get("field")), (400, "weights"), "duplicate after an empty part")
    status, h, b = raw('--BND\r\nContent-Disposition: form-data; name="weights"\r\n\r\nabc\r\n--BND--\r\n',
                       boundary="OTHER")
    check(status == 400 and "no parts" in json.loads(b)["error"]["message"], b)
    status, h, b = srv.request("POST", "/sample", b"{}", headers={"Content-Type": "multipart/form-datax"})
    eq(status, 415, "multipart/form-datax is not multipart")
    eq(srv.request("GET", "/healthz")[0], 200, "alive")
    # Accept: q=0 refuses a type; the highest q wins
    req = {"weights": [1, 2], "seed": 1}
    status, h, b = srv.request("POST", "/sample", req,
                               headers={"Accept": "application/x-npy;q=0, application/json"})
    eq(h["content-type"], "application/json", "q=0")
    status, h, b = srv.request("POST", "/sample", req,
                               headers={"Accept": "application/json;q=0.5, application/x-npy"})
    eq(h["content-type"], "application/x-npy", "higher q")
    status, h, b = srv.request("POST", "/sample", req, headers={"Accept": "application/x-npy-extra"})
    eq(h["content-type"], "application/json", "no substring matches")


@test
def binary_sizes_count_against_limits():
    # an empty array whose shape names 10^11 positions (found by the fuzzer)
    status, h, b = post_parts("/loss", [("logits", npy([], [1, 0, 10**11]), True),
                                        ("targets", npy([], [1, 0, 10**11]), True),
                                        ("request", b'{"reduction": "none"}', False)])
    eq((status, json.loads(b)["error"]["code"]), (400, "limit_exceeded"), "empty but huge shape")
    with Server("--max-elements", "10", "--max-items", "5", "--max-body", "4K", "--log-format", "none") as s:
        status, h, b = post_parts("/loss", [("logits", npy([0.0] * 12, [4, 3]), True),
                                            ("targets", npy([0, 1, 2, 0], [4], "<i8"), True)], s=s)
        eq((status, json.loads(b)["error"]["code"]), (400, "limit_exceeded"), "max-elements")
        status, h, b = post_parts("/sample", [("weights", npy([1.0] * 6, [6]), True)], s=s)
        eq((status, json.loads(b)["error"]["code"]), (400, "limit_exceeded"), "max-items")
        status, h, b = post_parts("/sample", [("weights", npy([1.0] * 600, [600]), True)], s=s)
        eq(status, 413, "max-body")
        s.stop()


@test
def balance_npy_requests_equal_json():
    """strategy cases with labels (and per-class counts) as int64 .npy parts:
    the same bytes as JSON."""
    n = 0
    for case in fixture_cases("balance_cases.json"):
        req = case["request"]
        s1, _, j = srv.request("POST", "/sample", req)
        s2, _, b = post_parts("/sample", as_parts(req, ["labels", "sampling_strategy"],
                                                  ("labels", "sampling_strategy")))
        eq((s2, b), (s1, j), case["name"])
        n += isinstance(req.get("sampling_strategy"), list)
    check(n >= 2, "only %d cases with counts as an array" % n)
    print("balance fixtures as .npy parts: byte-identical to JSON (%d with counts as .npy)" % n)

if __name__ == "__main__":
    srv = Server("--log-format", "none")
    try:
        main("bulk")
    finally:
        srv.stop()
