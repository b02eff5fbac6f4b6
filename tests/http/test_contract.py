#!/usr/bin/env python3
"""The contract test: every response that these requests get from a real
ballastd is validated against api/openapi.yaml (status, media type, JSON
schema, Ballast-* headers, multipart parts), and every JSON request that the
server accepts must also be accepted by the documented request schema, so
that the document cannot drift from the server.

Replays tests/cases/api_cases.json, every 10th conformance fixture, the GET
routes, the HTTP-level errors (401, 404, 405, 413, 415, 503), multipart
requests with .npy parts and .npy / multipart responses. With
BALLAST_CONTRACT_LOG=<file> set, tests/http/harness.py logs every response
that the other suites get, and this suite validates those lines too. The
document itself is checked with jsonschema as well: every example fits its
schema, and no request body lists application/x-www-form-urlencoded (JSON text
sent that way, or without a Content-Type, is checked as application/json, as
the requestBody descriptions say).

Needs PyYAML and jsonschema: when the python3 running it lacks them it re-runs
itself under /usr/bin/python3 (Debian's python3-yaml, python3-jsonschema);
when neither has them it fails."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import jsonschema  # noqa: F401
    import yaml  # noqa: F401
except ImportError as exc:
    here = os.path.realpath(sys.executable or "")
    if (not os.environ.get("BALLAST_CONTRACT_REEXEC") and os.path.exists(SYSTEM_PYTHON)
            and here != os.path.realpath(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import yaml, jsonschema"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0):
        os.environ["BALLAST_CONTRACT_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    print("FAIL contract_prerequisites")
    print("the contract test needs PyYAML and jsonschema (%s), in %s or %s: install Debian's "
          "python3-yaml and python3-jsonschema (apt-get install python3-yaml python3-jsonschema)"
          % (exc, sys.executable, SYSTEM_PYTHON))
    print("contract: 0 passed, 1 failed")
    sys.exit(1)

if os.environ.get("BALLAST_CONTRACT_REEXEC"):
    print("(running under %s, which has PyYAML and jsonschema)" % sys.executable)
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "contract"))
import harness  # noqa: E402
from harness import ROOT, Server, check, eq, main, server, test  # noqa: E402
from openapi_contract import Contract, media  # noqa: E402
import npy_parts  # noqa: E402
from npy_parts import flat, npy, parse_npy, shape_of  # noqa: E402,F401

# Whatever the environment says, this suite's own responses go to a log of its
# own; a log from other suites (BALLAST_CONTRACT_LOG) is only read.
EXTERNAL_LOG = os.environ.get("BALLAST_CONTRACT_LOG")
contract = Contract()
# For the in-process checks of binary bodies (their responses are counted once,
# from the log) and for the checker's own tests.
raw_checker = Contract(doc=contract.doc)
_tmp = tempfile.NamedTemporaryFile(prefix="ballast-contract-", suffix=".jsonl", delete=False)
_tmp.close()
harness.contract_log = _tmp.name
_offset = [0]
srv = None
BOUNDARY = "----ballast-contract-7f3e"


def validate_new():
    """Validates the responses logged since the last call; fails on any problem."""
    with open(harness.contract_log) as f:
        f.seek(_offset[0])
        lines = f.read()
        _offset[0] = f.tell()
    problems = []
    n = 0
    for line in lines.splitlines():
        if line.strip():
            n += 1
            problems += contract.check_line(line)
    check(not problems, "%d of %d responses contradict api/openapi.yaml:\n  %s"
          % (len(problems), n, "\n  ".join(problems[:15])))
    return n


def send(s, method, path, body=None, headers=None):
    """A request; a JSON request body that gets 200 must fit the documented
    request schema. Returns (status, headers, body bytes); the response is
    logged by the harness and checked by validate_new()."""
    status, h, data = s.request(method, path, body, headers=headers)
    if status == 200 and body is not None:
        doc = body
        if isinstance(body, (bytes, str)):
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
        if doc is not None:
            ctype = (headers or {}).get("Content-Type", "application/json")
            problems = contract.check_request(method, path, ctype, doc)
            check(not problems, "\n".join(problems))
    return status, h, data


def check_raw(method, path, status, h, data):
    """In-process checks of a binary answer that the log cannot hold."""
    is_json = h.get("content-type", "").startswith("application/json")
    problems = raw_checker.check(method, path, status, h.get("content-type", ""),
                                 json.loads(data) if is_json else None, h, raw=data)
    check(not problems, "\n".join(problems))


# ---- .npy and multipart helpers: tests/http/npy_parts.py ----

def read_npy(b):
    d, vals = parse_npy(b)
    return d["descr"], tuple(d["shape"]), vals


def multipart(parts):
    return npy_parts.multipart(parts, BOUNDARY)


def post_parts(path, parts, accept=None, s=None):
    return npy_parts.post_parts(s or srv, path, parts, BOUNDARY, accept)


as_parts = npy_parts.as_parts


ARRAYS = {"weights": ["counts", "labels"], "sample": ["weights", "labels", "class_weights"],
          "loss": ["logits", "log_probs", "targets", "weights", "pos_weight"]}


def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return json.load(f)


# ---- the tests ----

@test
def api_cases():
    """Every case of tests/cases/api_cases.json, as JSON."""
    servers = harness.LimitServers(srv)
    try:
        for c in load("tests/cases/api_cases.json")["cases"]:
            body = c["body"] if isinstance(c["body"], str) else json.dumps(c["body"])
            send(servers.get(c.get("limits")), "POST", "/" + c["endpoint"], body.encode())
    finally:
        servers.stop()
    print("api cases: %d responses" % validate_new())


@test
def conformance_fixtures_every_10th():
    """Every 10th conformance fixture, as JSON, as .npy parts, and with x-npy and
    multipart answers."""
    c = srv.conn()
    n = 0
    for file, endpoint in (("loss_cases.json", "loss"), ("sample_cases.json", "sample"),
                           ("weights_cases.json", "weights")):
        cases = load("tests/conformance/" + file)["cases"]
        for case in cases[::10]:
            req = case["request"]
            status, h, data = send(srv, "POST", "/" + endpoint, req)
            eq(status, 200, case["name"])
            for accept in ("application/x-npy", "multipart/form-data"):
                st, h, data = srv.request("POST", "/" + endpoint, req, headers={"Accept": accept})
                check(st in (200, 406), "%s %s: %s" % (case["name"], accept, st))
                check_raw("POST", "/" + endpoint, st, h, data)
            if not isinstance(req.get("counts"), dict) and not (
                    endpoint == "loss" and not isinstance(req.get("targets"), list)):
                st, h, data = post_parts("/" + endpoint, as_parts(req, ARRAYS[endpoint]))
                eq(st, 200, case["name"] + " as .npy parts")
            n += 1
    c.close()
    print("%d fixtures, %d responses" % (n, validate_new()))


@test
def get_routes():
    for path in ("/healthz", "/readyz", "/version", "/metrics", "/openapi.yaml"):
        for method in ("GET", "HEAD"):
            status, h, data = srv.request(method, path)
            eq(status, 200, method + " " + path)
    status, h, data = srv.request("GET", "/openapi.yaml")
    with open(os.path.join(ROOT, "api", "openapi.yaml"), "rb") as f:
        check(data == f.read(), "GET /openapi.yaml is not api/openapi.yaml (%s is older than the "
              "document? rebuild it)" % harness.BALLASTD)
    status, h, data = srv.request("GET", "/metrics")
    check(b"ballast_requests_total{" in data and b"process_start_time_seconds " in data, data[:200])
    print("%d responses" % validate_new())


@test
def http_errors():
    # 404 and 405, for every route and a few methods
    for method in ("GET", "POST", "HEAD", "DELETE"):
        srv.request(method, "/nope")
    srv.request("GET", "/weights/")
    for path in ("/weights", "/sample", "/loss"):
        for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, h, data = srv.request(method, path)
            eq(status, 405, method + " " + path)
    for path in ("/healthz", "/readyz", "/version", "/metrics", "/openapi.yaml"):
        for method in ("POST", "PUT", "DELETE"):
            status, h, data = srv.request(method, path, b"{}")
            eq(status, 405, method + " " + path)
    # 415, and the three accepted request types
    for ctype in ("text/plain", "application/xml", "application/jsonx", "image/png"):
        status, h, data = srv.request("POST", "/weights", b'{"counts": [1]}', headers={"Content-Type": ctype})
        eq(status, 415, ctype)
    for ctype in ("application/json; charset=utf-8", "application/x-www-form-urlencoded"):
        status, h, data = send(srv, "POST", "/weights", b'{"counts": [1, 2]}', headers={"Content-Type": ctype})
        eq(status, 200, ctype)
    c = srv.conn()
    c.putrequest("POST", "/weights")
    c.putheader("Content-Length", "18")
    c.endheaders(b'{"counts": [1, 2]}')
    r = c.getresponse()
    harness.record("POST", "/weights", r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    eq(r.status, 200, "no Content-Type")
    c.close()
    # 400: bad JSON of every kind
    for body in (b"", b"{", b"[1]", b"null", b'{"counts": [1], "counts": [2]}', b'{"reducton": 1}',
                 b"\xff\xfe", b'{"counts": [1]} x'):
        status, h, data = srv.request("POST", "/weights", body)
        eq(status, 400, body)
    # 401 and 413 on a server with a token and a small --max-body
    with Server("--auth-token", "s3cret", "--max-body", "200", "--log-format", "none") as s:
        auth = {"Authorization": "Bearer s3cret"}
        for path in ("/weights", "/sample", "/loss"):
            eq(s.request("POST", path, {"counts": [1]})[0], 401, path)
            eq(s.request("POST", path, {"counts": [1]}, headers={"Authorization": "Bearer nope"})[0], 401, path)
        for path in ("/version", "/metrics", "/openapi.yaml"):
            for method in ("GET", "HEAD"):
                eq(s.request(method, path)[0], 401, method + " " + path)
                eq(s.request(method, path, headers=auth)[0], 200, method + " " + path)
        for path in ("/healthz", "/readyz"):
            eq(s.request("GET", path)[0], 200, path)
        eq(s.request("GET", "/nope")[0], 404, "404 without credentials")
        eq(s.request("DELETE", "/weights")[0], 405, "405 without credentials")
        eq(send(s, "POST", "/weights", {"counts": [1, 2]}, headers=auth)[0], 200, "with the token")
        big = {"counts": [1] * 150}
        eq(s.request("POST", "/weights", big, headers=auth)[0], 413, "over max-body")
        mp = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}
        mp.update(auth)
        eq(s.request("POST", "/sample", multipart([("weights", npy([1.0] * 40, [40]), True)]),
                     headers=mp)[0], 413, "multipart over max-body")
        s.stop()
    print("%d responses" % validate_new())


@test
def multipart_requests():
    """.npy parts for every array field, every dtype and version, and bad parts."""
    ok = [
        ("/sample", [("weights", npy([1.0, 2.0, 3.0], [3], "<f4"), True), ("request", b'{"seed": 1}', False)]),
        ("/sample", [("weights", npy([1, 2, 3], [3], "<i4", (2, 0)), True)]),
        ("/sample", [("labels", npy([0, 0, 1], [3], "|u1", (3, 0)), True),
                     ("class_weights", npy([1.0, 2.0], [2]), True)]),
        ("/weights", [("counts", npy([100000, 100, 10], [3], "<i8"), True),
                      ("request", b'{"scheme": "balanced"}', False)]),
        ("/weights", [("labels", npy([0, 0, 2], [3], "<i4"), True),
                      ("request", b'{"zero_counts": "zero", "sample_weights": true}', False)]),
        ("/loss", [("logits", npy([1.0, 2.0, 1.0, 3.0], [2, 2]), True), ("targets", npy([0, 1], [2], "<i8"), True),
                   ("weights", npy([1.0, 2.0], [2], "<f4"), True), ("request", b'{"reduction": "none"}', False)]),
        ("/loss", [("log_probs", npy([-0.1, -2.4], [1, 2]), True), ("targets", npy([1], [1], "|u1"), True),
                   ("request", b'{"loss": "nll", "grad": true}', False)]),
        ("/loss", [("logits", npy([0.5, -1.0], [2]), True), ("targets", npy([1.0, 0.0], [2]), True),
                   ("pos_weight", npy([3.0, 1.0], [2]), True), ("request", b'{"loss": "bce_with_logits"}', False)]),
        ("/loss", [("logits", npy([0.5, -1.0], [2]), True), ("targets", npy([1], [], "<i8"), True)]),
        ("/loss", [("request", b'{"logits": [[1, 2]], "targets": [0]}', False)]),
    ]
    for path, parts in ok:
        status, h, data = post_parts(path, parts)
        eq(status, 200, "%s %s: %s" % (path, [p[0] for p in parts], data[:200]))
    bad = [
        ("/sample", [("weights", b"NOTNUMPY" + b"\0" * 40, True)]),
        ("/sample", [("weights", npy([1.0], [1], version=(4, 0)), True)]),
        ("/sample", [("weights", npy([1.0, 2.0], [1, 2]), True)]),
        ("/sample", [("weights", npy([1.0, -2.0], [2]), True)]),
        ("/sample", [("weights", npy([1.0], [1]), True), ("seed", b"5", False)]),
        ("/sample", [("wieghts", npy([1.0], [1]), True)]),
        ("/sample", [("weights", npy([1.0], [1]), True), ("request", b'{"weights": [1]}', False)]),
        ("/sample", [("weights", npy([1.0], [1]), True), ("weights", npy([1.0], [1]), True)]),
        ("/sample", [("weights", npy([1.0], [1]), True)] + [("x%d" % i, b"1", False) for i in range(16)]),
        ("/sample", [("w" * 48, npy([1.0], [1]), True)]),
        ("/sample", [("labels", npy([0.0, 1.0], [2]), True)]),
        ("/weights", [("scheme", b'"balanced"', False)]),
        ("/loss", [("logits", npy([1.0] * 6, [3, 2]), True), ("targets", npy([0, 5, 1], [3], "<i8"), True)]),
        ("/loss", [("logits", npy([1.0] * 6, [3, 2]), True), ("targets", npy([0.0, 1.0, 1.0], [3]), True)]),
        ("/loss", []),
    ]
    for path, parts in bad:
        status, h, data = post_parts(path, parts)
        eq(status, 400, "%s %s: %s" % (path, [p[0][:10] for p in parts], data[:200]))
    for body, ctype in ((b"--nope\r\ngarbage", "multipart/form-data; boundary=" + BOUNDARY),
                        (b"x", "multipart/form-data")):
        status, h, data = srv.request("POST", "/sample", body, headers={"Content-Type": ctype})
        eq(status, 400, ctype)
    with Server("--max-elements", "10", "--max-items", "5", "--log-format", "none") as s:
        eq(post_parts("/loss", [("logits", npy([0.0] * 12, [4, 3]), True),
                                ("targets", npy([0, 1, 2, 0], [4], "<i8"), True)], s=s)[0], 400, "max-elements")
        eq(post_parts("/sample", [("weights", npy([1.0] * 6, [6]), True)], s=s)[0], 400, "max-items")
        s.stop()
    print("%d responses" % validate_new())


# The Ballast-* headers of an x-npy answer: each scalar field of the JSON
# answer, named "Ballast-" + the field with "_" -> "-" in title case.
def header_name(field):
    return "ballast-" + field.replace("_", "-")


@test
def binary_responses():
    """Accept: application/x-npy and multipart/form-data for every endpoint;
    headers and parts agree with the JSON answer and the document."""
    cases = [
        ("/sample", {"weights": [1, 5, 2, 0, 7], "num_samples": 50, "seed": 3}, "indices"),
        ("/sample", {"weights": [1, 2, 3, 4], "num_samples": 5, "seed": 18446744073709551615,
                     "world_size": 2, "rank": 1, "generator": "torch"}, "indices"),
        ("/sample", {"labels": [0, 0, 1], "replacement": False, "seed": 9}, "indices"),
        ("/loss", {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "weights": [0.1, 1],
                   "reduction": "none"}, "loss"),
        ("/loss", {"logits": [1, 2, 3], "targets": 2, "reduction": "none"}, "loss"),
        ("/loss", {"logits": [[1e4, -1e4]], "targets": [1], "weights": [1e308, 1e308],
                   "reduction": "none"}, "loss"),  # inf: Ballast-Warnings
        ("/loss", {"loss": "sigmoid_focal", "logits": [[0.5, -1.0], [2.0, 0.0]],
                   "targets": [[1, 0], [0, 1]], "reduction": "none"}, "loss"),
        ("/weights", {"labels": [0, 0, 1, 2, 2, 2], "sample_weights": True, "scheme": "balanced"},
         "sample_weights"),
        # not one array: 406 for x-npy
        ("/loss", {"logits": [[1, 2]], "targets": [0]}, None),
        ("/loss", {"logits": [[1, 2]], "targets": [0], "reduction": "none", "grad": True}, None),
        ("/loss", {"logits": [[1, 2], [1, 3]], "targets": [-100, -100]}, None),  # null + warnings
        ("/weights", {"counts": [100000, 100, 10]}, None),
        ("/weights", {"counts": {"cat": 3, "dog": 0}, "zero_counts": "zero"}, None),
        ("/weights", {"counts": [1e-320, 2]}, None),  # null weight + warnings
    ]
    seen_headers = set()
    for path, req, primary in cases:
        status, h, j = send(srv, "POST", path, req)
        eq(status, 200, path)
        doc = json.loads(j)
        # x-npy
        status, h, b = srv.request("POST", path, req, headers={"Accept": "application/x-npy"})
        check_raw("POST", path, status, h, b)
        if primary is None:
            eq((status, json.loads(b)["error"]["code"]), (406, "not_acceptable"), "%s %s" % (path, req))
        else:
            eq((status, h["content-type"]), (200, "application/x-npy"), path)
            descr, shape, vals = read_npy(b)
            eq(descr, "<i8" if primary == "indices" else "<f8", "dtype")
            eq(list(shape), shape_of(doc[primary]), "shape")
            want = flat(doc[primary])
            eq(len(vals), len(want), "length")
            check(all(a == b or (a is None and not math.isfinite(b)) for a, b in zip(want, vals)),
                  "values of %s: %s vs %s" % (primary, vals[:5], want[:5]))
            for field, value in doc.items():
                name = header_name(field)
                if field == primary:
                    continue
                if isinstance(value, list) and field != "warnings":
                    check(name not in h, "an array as a header: %s" % name)
                    continue
                check(name in h, "%s: header %s missing (%s)" % (path, name, sorted(h)))
                seen_headers.add(name)
                if field == "warnings":
                    continue
                if isinstance(value, bool) or isinstance(value, str):
                    eq(h[name], str(value), name)
                elif isinstance(value, int):
                    eq(h[name], str(value), name)
                else:
                    eq(float(h[name]), value, name)
            if "warnings" in doc:
                eq(h["ballast-warnings"], doc["warnings"][0], "Ballast-Warnings")
            extra = [k for k in h if k.startswith("ballast-") and
                     k not in [header_name(f) for f in doc] + [header_name("warnings")]]
            check(not extra, "headers for no field: %s" % extra)
        # multipart
        status, h, b = srv.request("POST", path, req, headers={"Accept": "multipart/form-data"})
        eq(status, 200, path + " multipart")
        check_raw("POST", path, status, h, b)
        # the same with the Accept list: the highest q wins, the first named on a tie
        status, h, b = srv.request("POST", path, req, headers={"Accept": "application/json, application/x-npy"})
        eq(h["content-type"], "application/json", "first named wins a tie")
        status, h, b = srv.request("POST", path, req, headers={"Accept": "text/html, application/x-npy;q=0.1, multipart/form-data"})
        check(h["content-type"].startswith("multipart/form-data"), "highest q wins: %s" % h["content-type"])
        check_raw("POST", path, status, h, b)
        status, h, b = srv.request("POST", path, req, headers={"Accept": "*/*"})
        eq(h["content-type"], "application/json", "*/*")
    # errors stay JSON
    for accept in ("application/x-npy", "multipart/form-data"):
        status, h, b = srv.request("POST", "/loss", {"logits": [[1, 2]], "targets": [7]}, headers={"Accept": accept})
        eq((status, h["content-type"]), (400, "application/json"), "error with " + accept)
    # the headers the brief names
    for name in ("ballast-num-samples", "ballast-seed", "ballast-total-weight", "ballast-reduction",
                 "ballast-warnings", "ballast-num-classes", "ballast-rank", "ballast-world-size",
                 "ballast-total-size", "ballast-epoch", "ballast-generator", "ballast-scheme",
                 "ballast-normalize"):
        check(name in seen_headers, "never saw %s" % name)
    print("%d responses" % validate_new())


@test
def draining():
    """503 from /readyz and the POST endpoints once SIGTERM started the drain
    (on a connection opened before it, while a request is in flight)."""
    s = Server("--log-format", "none", "--drain-timeout", "10")
    try:
        keep = s.conn()
        eq(s.request("GET", "/healthz", conn=keep)[0], 200, "healthz")
        # a request in flight: headers and half of its body
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        slow.sendall(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 30\r\n\r\n{\"counts\": ")
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 5
        status = None
        while time.time() < deadline:
            status = s.request("GET", "/readyz", conn=keep)[0]
            if status == 503:
                break
            time.sleep(0.05)
        eq(status, 503, "readyz while draining")
        eq(s.request("HEAD", "/readyz", conn=keep)[0], 503, "HEAD readyz while draining")
        eq(s.request("GET", "/healthz", conn=keep)[0], 200, "healthz while draining")
        eq(s.request("POST", "/weights", {"counts": [1]}, conn=keep)[0], 503, "POST while draining")
        keep.close()
        slow.sendall(b"[1, 2]}" + b" " * 12)
        out = slow.recv(65536)
        check(out.startswith(b"HTTP/1.1 200"), out[:100])
        slow.close()
        eq(s.stop(), 0, "exit status")
    finally:
        s.__exit__()
    print("%d responses" % validate_new())


@test
def other_suites_log():
    """The responses that other suites logged under BALLAST_CONTRACT_LOG."""
    if not EXTERNAL_LOG:
        print("BALLAST_CONTRACT_LOG is not set: no other suite's responses to check")
        return
    if not os.path.exists(EXTERNAL_LOG):
        print("%s does not exist (yet): no other suite's responses to check" % EXTERNAL_LOG)
        return
    problems = []
    n = 0
    with open(EXTERNAL_LOG) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                n += 1
                problems += ["line %d: %s" % (i, p) for p in contract.check_line(line)]
    print("%s: %d responses from other suites" % (EXTERNAL_LOG, n))
    check(not problems, "%d problems:\n  %s" % (len(problems), "\n  ".join(problems[:20])))


@test
def validator_catches_drift():
    """The checker itself: a document that disagrees with the server must fail."""
    doc = copy.deepcopy(raw_checker.doc)
    doc["components"]["schemas"]["WeightsResponse"]["properties"]["weights"]["oneOf"][0]["items"] = {"type": "string"}
    del doc["paths"]["/sample"]["post"]["responses"]["406"]
    doc["paths"]["/version"]["get"]["responses"]["200"]["content"] = {
        "text/plain": {"schema": {"type": "string"}}}
    broken = Contract(doc=doc)
    good = raw_checker  # not the server's responses: leave the count alone
    body = {"weights": [1.0, 2.0], "counts": [2, 1], "num_classes": 2, "scheme": "max_over_count",
            "normalize": "none"}
    check(good.check("POST", "/weights", 200, "application/json", body) == [], "good document")
    check(broken.check("POST", "/weights", 200, "application/json", body), "wrong item type not caught")
    check(broken.check("POST", "/sample", 406, "application/json",
                       {"error": {"code": "not_acceptable", "message": "m"}}), "undocumented status")
    check(broken.check("GET", "/version", 200, "application/json",
                       {"version": "1", "libmicrohttpd": "1", "jansson": "1"}), "undocumented media type")
    check(good.check("POST", "/loss", 200, "application/json",
                         {"loss": None, "reduction": "mean", "total_weight": 0.0, "warnings": ["w"]}) == [],
          "nullable")
    check(good.check("POST", "/loss", 200, "application/json",
                         {"loss": 1.0, "reduction": "mean", "total_weight": 1, "extra": 1}),
          "an undocumented field")
    check(good.check("POST", "/loss", 200, "application/x-npy", None, {"ballast-bogus": "1"}),
          "an undocumented header")
    check(good.check("GET", "/nope", 200, "application/json", {}), "200 for an unknown path")
    check(good.check("DELETE", "/weights", 200, "application/json", {}), "200 for a wrong method")
    check(good.check("POST", "/weights", 400, "application/json", {"error": {"code": "oops", "message": "m"}}),
          "an undocumented error code")
    # `default` stands only for the codes DefaultError names
    check(good.check("GET", "/healthz", 400, "application/json",
                     {"error": {"code": "invalid_request", "message": "m"}}) == [], "default: invalid_request")
    check(good.check("GET", "/healthz", 413, "application/json",
                     {"error": {"code": "payload_too_large", "message": "m"}}), "default: another code")
    # JSON text without a Content-Type or as a form counts as application/json
    body = {"counts": [1, 2]}
    for ctype in ("", "application/x-www-form-urlencoded"):
        check(good.check_request("POST", "/weights", ctype, body) == [], "request as %r" % ctype)
    check(good.check_request("POST", "/weights", "text/plain", body), "request as text/plain")
    silent = copy.deepcopy(raw_checker.doc)
    silent["paths"]["/weights"]["post"]["requestBody"]["description"] = "JSON."
    check(Contract(doc=silent).check_request("POST", "/weights", "", body),
          "JSON text without a Content-Type, undocumented")


@test
def document_examples_fit_schemas():
    """The document itself, with jsonschema: every example (request and
    response, named or single, the shared responses', parameters' and
    headers') fits its schema; the `request` part of a multipart request
    example fits the endpoint's JSON request schema and every other part is a
    `np.array(...)` (see tests/http/test_examples_replay.py); no request body
    lists application/x-www-form-urlencoded, and each says in prose that its
    JSON text is also taken that way and without a Content-Type."""
    c = raw_checker
    problems = []
    n = 0

    def examples(mt):
        if "example" in mt:
            yield "example", mt["example"]
        for name, ex in (mt.get("examples") or {}).items():
            yield name, c.deref(ex)["value"]

    def fit(schema, value, what):
        problems.extend(c.schema_problems(schema, value, what))

    for path, item in c.doc["paths"].items():
        for method, op in c.deref(item).items():
            if method not in ("get", "head", "post", "put", "delete", "patch"):
                continue
            where = "%s %s" % (method.upper(), path)
            if "requestBody" in op:
                rb = c.deref(op["requestBody"])
                content = rb["content"]
                if "application/x-www-form-urlencoded" in content:
                    problems.append("%s: requestBody lists application/x-www-form-urlencoded, "
                                    "which in OpenAPI means key=value fields" % where)
                for words in ("application/x-www-form-urlencoded", "no Content-Type"):
                    if words not in rb.get("description", ""):
                        problems.append("%s: the requestBody description does not mention %s"
                                        % (where, words))
                for mtype, mt in content.items():
                    for name, value in examples(mt):
                        n += 1
                        what = "%s request example %r (%s)" % (where, name, mtype)
                        if mtype == "multipart/form-data":
                            fit(mt["schema"], value, what)
                            for part, v in value.items():
                                if part == "request":
                                    # the other fields: the JSON schema, no field required
                                    rest = dict(c.deref(content["application/json"]["schema"]))
                                    rest.pop("required", None)
                                    fit(rest, json.loads(v), what + " part 'request'")
                                elif not re.fullmatch(r"np\.array\(.*, dtype='[<|][fiu][1248]'\)", v, re.S):
                                    problems.append("%s: part %r is not np.array(..., dtype=...)"
                                                    % (what, part))
                        else:
                            fit(mt["schema"], value, what)
            for status, resp in op.get("responses", {}).items():
                resp = c.deref(resp)
                for mtype, mt in (resp.get("content") or {}).items():
                    for name, value in examples(mt):
                        n += 1
                        if media(mtype) == "application/json":
                            fit(mt["schema"], value, "%s %s example %r" % (where, status, name))
    for name, resp in c.doc["components"]["responses"].items():
        for mtype, mt in (resp.get("content") or {}).items():
            for ex, value in examples(mt):
                n += 1
                fit(mt["schema"], value, "components.responses.%s %s" % (name, ex))
    for kind in ("parameters", "headers"):
        for name, obj in c.doc["components"].get(kind, {}).items():
            if "example" in obj:
                n += 1
                fit(obj["schema"], obj["example"], "components.%s.%s example" % (kind, name))
    for name, schema in c.doc["components"]["schemas"].items():
        if "example" in schema:
            n += 1
            fit(schema, schema["example"], "components.schemas.%s example" % name)
    check(not problems, "%d problems:\n  %s" % (len(problems), "\n  ".join(problems[:20])))
    print("%d examples fit their schemas" % n)


@test
def summary():
    n = contract.count
    statuses = ", ".join("%d×%s" % (v, k) for k, v in sorted(contract.by_status.items()) if v)
    print("contract: %d responses validated against api/openapi.yaml (%s); %d accepted request "
          "bodies validated against the request schemas" % (n, statuses, contract.requests))
    check(n > 500, "only %d responses" % n)
    for st in (200, 400, 401, 404, 405, 406, 413, 415, 503):
        check(contract.by_status.get(st), "no response with status %d was checked" % st)


if __name__ == "__main__":
    srv = server()
    try:
        main("contract")
    finally:
        os.unlink(_tmp.name)
