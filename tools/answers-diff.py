#!/usr/bin/env python3
"""tools/answers-diff.py — two ballastd builds side by side, answer for answer.

    tools/answers-diff.py OLD_BALLASTD NEW_BALLASTD

Replays every request of the fixtures (tests/cases/api_cases.json,
tests/conformance/*_cases.json, each asked for as JSON, .npy and multipart;
tests/hostile/cases.json under its own server options) and a set of requests
that exercise the server's own refusals (route, method, credentials, media
type, framing, sizes) against both servers over raw sockets, and compares the
status line, the headers and the body byte for byte. The Date header, the
random prefix of a request id the server makes up, and the body and seed of
a /sample request without a seed (a fresh seed each time) are left out of
the comparison. At the end, the ballast_requests_total lines of both
servers' /metrics, which the same sequence of requests must have made equal.
Prints each difference and a summary; exits 1 when there is one.

For refactorings that must not change behaviour (issue #12): build the old
tree into another directory, then run this with both daemons.
"""
import base64
import json
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
import harness  # noqa: E402

ACCEPTS = ["application/json", "application/x-npy", "multipart/form-data"]


def start(binary, *args):
    harness.BALLASTD = binary
    return harness.Server(*args)


def exchange(port, data, timeout=8):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"<timeout>"
    except OSError as e:
        out += ("<%s>" % type(e).__name__).encode()
    finally:
        s.close()
    out = re.sub(rb"\r\nDate: [^\r]*", b"", out)
    # A request id made up by the server: a random prefix per process.
    return re.sub(rb"X-Request-Id: [0-9a-f]{8}-", b"X-Request-Id: ?-", out)


def request(method, path, body=b"", headers=None, rid="diff"):
    h = {"Host": "x", "Connection": "close", "X-Request-Id": rid}
    h.update(headers or {})
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in h):
        h["Content-Length"] = str(len(body))
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    head += "".join("%s: %s\r\n" % kv for kv in h.items())
    return head.encode() + b"\r\n" + body


def fixture_requests():
    out = []
    cases = json.load(open(os.path.join(ROOT, "tests/cases/api_cases.json")))["cases"]
    for c in cases:
        body = c["body"] if isinstance(c["body"], str) else json.dumps(c["body"])
        out.append((c["name"], c["endpoint"], body))
    for ep in ("weights", "sample", "loss"):
        path = os.path.join(ROOT, "tests/conformance/%s_cases.json" % ep)
        for c in json.load(open(path))["cases"]:
            out.append((c["name"], ep, json.dumps(c["request"])))
    reqs = []
    for name, ep, body in out:
        seedless = ep == "sample" and '"seed"' not in body
        for acc in ACCEPTS:
            reqs.append(("%s[%s]" % (name, acc), request("POST", "/" + ep, body.encode(),
                                                          {"Content-Type": "application/json",
                                                           "Accept": acc}), seedless))
    return reqs


def hostile_requests():
    doc = json.load(open(os.path.join(ROOT, "tests/hostile/cases.json")))
    reqs = []
    for c in doc["cases"]:
        if "body_b64" in c:
            body = base64.b64decode(c["body_b64"])
        else:
            body = c.get("body", "")
            body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        reqs.append((c["name"], request(c["method"], c["path"], body, c.get("headers")), False))
    return doc["server_args"], reqs


def server_requests():
    j = {"Content-Type": "application/json"}
    w = b'{"counts": [3, 1]}'
    r = [
        ("get_404", request("GET", "/nope")),
        ("post_404", request("POST", "/nope", w, j)),
        ("405_get_weights", request("GET", "/weights")),
        ("405_post_healthz", request("POST", "/healthz", w, j)),
        ("405_delete", request("DELETE", "/loss")),
        ("healthz", request("GET", "/healthz")),
        ("readyz", request("GET", "/readyz")),
        ("head_healthz", request("HEAD", "/healthz")),
        ("root", request("GET", "/")),
        ("docs_missing", request("GET", "/docs/nope.js")),
        ("openapi_len", request("HEAD", "/openapi.yaml")),
        ("415_text", request("POST", "/weights", w, {"Content-Type": "text/plain"})),
        ("415_npy", request("POST", "/weights", w, {"Content-Type": "application/x-npy"})),
        ("413_cl", request("POST", "/weights", w, {"Content-Length": "99999999999"})),
        ("501_te", request("POST", "/weights", w, {"Transfer-Encoding": "gzip"})),
        ("400_cl_te", request("POST", "/weights", w,
                              {"Content-Length": "18", "Transfer-Encoding": "chunked"})),
        ("400_cl_bad", request("POST", "/weights", w, {"Content-Length": "+18"})),
        ("400_nul", request("GET", "/weights%00x")),
        ("multipart_no_boundary", request("POST", "/weights", w,
                                          {"Content-Type": "multipart/form-data"})),
        ("multipart_bad", request("POST", "/weights", b"--b\r\nx\r\n--b--\r\n",
                                  {"Content-Type": "multipart/form-data; boundary=b"})),
        ("406_loss_mean", request("POST", "/loss",
                                  b'{"loss":"cross_entropy","logits":[[1,2]],"targets":[0]}',
                                  {"Content-Type": "application/json",
                                   "Accept": "application/x-npy"})),
        ("chunked_ok", request("POST", "/weights", b"12\r\n" + w + b"\r\n0\r\n\r\n",
                               {"Content-Type": "application/json",
                                "Transfer-Encoding": "chunked"})),
        ("options_no_cors", request("OPTIONS", "/weights")),
        ("bad_request_id", request("GET", "/healthz", rid="has space")),
    ]
    return [(n, d, False) for n, d in r]


def auth_requests():
    w = b'{"counts": [3, 1]}'
    j = {"Content-Type": "application/json"}
    r = [
        ("401_no_token", request("POST", "/weights", w, j)),
        ("401_wrong", request("POST", "/weights", w, dict(j, Authorization="Bearer nope"))),
        ("200_token", request("POST", "/weights", w, dict(j, Authorization="Bearer s3cret"))),
        ("401_metrics", request("GET", "/metrics")),
        ("healthz_open", request("GET", "/healthz")),
        ("404_no_token", request("GET", "/nope")),
    ]
    return [(n, d, False) for n, d in r]


def metrics_lines(port, headers=None):
    data = exchange(port, request("GET", "/metrics", headers=headers))
    return sorted(l for l in data.decode("latin-1").split("\n")
                  if l.startswith("ballast_requests_total"))


def run(old, new, args, reqs, label, metrics_headers=None):
    a, b = start(old, *args), start(new, *args)
    diffs = 0
    try:
        for name, data, seedless in reqs:
            x, y = exchange(a.port, data), exchange(b.port, data)
            if seedless:  # a fresh seed each time: the head only
                x, y = x.split(b"\r\n\r\n")[0], y.split(b"\r\n\r\n")[0]
                x = re.sub(rb"(Content-Length|Ballast-Seed): \d+", b"", x)
                y = re.sub(rb"(Content-Length|Ballast-Seed): \d+", b"", y)
            if x != y:
                diffs += 1
                print("DIFF %s %s\n  old: %r\n  new: %r" % (label, name, x[:600], y[:600]))
        ma, mb = metrics_lines(a.port, metrics_headers), metrics_lines(b.port, metrics_headers)
        if ma != mb:
            diffs += 1
            print("DIFF %s /metrics ballast_requests_total\n  old: %s\n  new: %s" % (label, ma, mb))
    finally:
        a.stop()
        b.stop()
    print("%s: %d requests, %d differences" % (label, len(reqs), diffs))
    return diffs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    quiet = ["--log-format", "none"]
    diffs = run(old, new, quiet, fixture_requests() + server_requests(), "fixtures")
    hargs, hreqs = hostile_requests()
    diffs += run(old, new, hargs, hreqs, "hostile")
    diffs += run(old, new, quiet + ["--auth-token", "s3cret"], auth_requests(), "auth",
                 {"Authorization": "Bearer s3cret"})
    print("answers-diff: %d differences" % diffs)
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
