#!/usr/bin/env python3
"""HTTP integration tests: a real ballastd on a free loopback port.

Status codes, headers, error bodies, content types, keep-alive, limits,
concurrency, signals, options, metrics and logs; every data-driven api case
(tests/cases/api_cases.json) and every conformance fixture over HTTP."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, ROOT, LimitServers, Server, check, close, eq, main, test  # noqa: E402

STATUS = {"ok": 200, "invalid_json": 400, "invalid_argument": 400, "limit_exceeded": 400,
          "not_found": 404, "unavailable": 503, "internal": 500}

srv = None  # the shared server, started in __main__


def load(path):
    with open(os.path.join(ROOT, path)) as f:
        return json.load(f)


@test
def seed_example():
    status, h, doc = srv.post("/weights", {"counts": [100000, 100, 10]})
    eq(status, 200, "status")
    eq(doc["weights"], [1, 1000, 10000], "weights")
    eq(h["content-type"], "application/json", "content type")
    eq(h["x-content-type-options"], "nosniff", "nosniff")


@test
def operations():
    status, h, body = srv.request("GET", "/healthz")
    eq((status, json.loads(body)), (200, {"status": "ok"}), "healthz")
    status, h, body = srv.request("GET", "/readyz")
    eq(status, 200, "readyz")
    status, h, body = srv.request("GET", "/version")
    v = json.loads(body)
    eq(sorted(v), ["jansson", "libmicrohttpd", "version"], "version keys")
    check(re.match(r"^\d+\.\d+\.\d+$", v["version"]), v)
    status, h, body = srv.request("HEAD", "/healthz")
    eq((status, body), (200, b""), "HEAD")


@test
def openapi_names_every_route():
    status, h, body = srv.request("GET", "/openapi.yaml")
    eq(status, 200, "status")
    check(h["content-type"].startswith("application/yaml"), h["content-type"])
    text = body.decode()
    with open(os.path.join(ROOT, "api/openapi.yaml")) as f:
        eq(text, f.read(), "served document is api/openapi.yaml")
    try:
        import yaml
        doc = yaml.safe_load(text)
        paths = set(doc["paths"])
        check(doc["openapi"].startswith("3."), "not OpenAPI 3")
    except ImportError:  # no PyYAML: read the top-level path keys by hand
        paths = set(re.findall(r"^  (/[a-z./]+):", text, re.M))
    served = {"/weights", "/sample", "/loss", "/healthz", "/readyz", "/version",
              "/openapi.yaml", "/metrics"}
    eq(paths, served, "documented paths")
    for p in served:  # every documented path is answered (not 404)
        method = "POST" if p in ("/weights", "/sample", "/loss") else "GET"
        status, _, _ = srv.request(method, p, "{}" if method == "POST" else None)
        check(status != 404, "%s %s answered 404" % (method, p))


@test
def content_types():
    body = '{"counts": [2, 1]}'
    for ctype in ["application/json", "application/json; charset=utf-8",
                  "application/x-www-form-urlencoded", None]:
        h = {"Content-Type": ctype} if ctype else {}
        c = srv.conn()
        c.putrequest("POST", "/weights", skip_accept_encoding=True)
        for k, v in h.items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body.encode())
        r = c.getresponse()
        eq(r.status, 200, "content type %r" % ctype)
        eq(json.loads(r.read())["weights"], [1, 2], "weights")
        c.close()
    for ctype in ["text/plain", "application/xml", "application/jsonx"]:
        status, h, doc = srv.post("/weights", body, headers={"Content-Type": ctype})
        eq(status, 415, ctype)
        eq(doc["error"]["code"], "unsupported_media_type", "code")


@test
def curl_d_works():
    if subprocess.run(["which", "curl"], capture_output=True).returncode:
        return
    out = subprocess.run(["curl", "-s", "-d", '{"counts":[100000,100,10]}',
                          "http://127.0.0.1:%d/weights" % srv.port], capture_output=True, text=True)
    eq(json.loads(out.stdout)["weights"], [1, 1000, 10000], "curl -d")


@test
def not_found_and_method():
    status, h, body = srv.request("GET", "/nope")
    eq(status, 404, "status")
    eq(json.loads(body)["error"]["code"], "not_found", "code")
    status, h, body = srv.request("GET", "/weights")
    eq(status, 405, "GET /weights")
    eq(h["allow"], "POST", "Allow")
    eq(json.loads(body)["error"]["code"], "method_not_allowed", "code")
    status, h, body = srv.request("POST", "/healthz", "{}")
    eq(status, 405, "POST /healthz")
    eq(h["allow"], "GET, HEAD", "Allow")
    status, h, body = srv.request("DELETE", "/loss")
    eq(status, 405, "DELETE /loss")


@test
def request_ids():
    status, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
    eq(h["x-request-id"], "abc-123", "echoed")
    ids = set()
    for _ in range(5):
        status, h, _ = srv.request("GET", "/healthz")
        check(h.get("x-request-id"), "no id generated")
        ids.add(h["x-request-id"])
    eq(len(ids), 5, "generated ids are unique")
    status, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": "x" * 200})
    check(h["x-request-id"] != "x" * 200, "an over-long id is replaced")
    for bad in ('a","status":999,"x":"', "back\\slash"):
        status, h, _ = srv.request("GET", "/healthz", headers={"X-Request-Id": bad})
        check(h["x-request-id"] != bad, "an id that a log would have to escape is replaced")
    status, h, _ = srv.request("GET", "/nope", headers={"X-Request-Id": "err-1"})
    eq(h["x-request-id"], "err-1", "errors carry the id too")


@test
def keep_alive():
    c = srv.conn()
    srv.request("POST", "/weights", {"counts": [1, 2]}, conn=c)
    sock = c.sock
    for i in range(20):
        status, h, body = srv.request("POST", "/weights", {"counts": [1, i + 1]}, conn=c)
        eq(status, 200, "status")
        check(c.sock is sock, "the connection was not kept alive")
    status, h, body = srv.request("POST", "/weights", {"counts": [1, 0]}, conn=c)
    eq(status, 400, "an error keeps the connection too")
    status, h, body = srv.request("GET", "/nope", conn=c)
    eq(status, 404, "404")
    status, h, body = srv.request("POST", "/weights", {"counts": [2]}, conn=c)
    eq(status, 200, "still serving")
    check(c.sock is sock, "the connection was not kept alive after errors")
    c.close()


@test
def truncated_and_invalid_json():
    status, h, doc = srv.post("/weights", '{"counts": [1, 2')
    eq(status, 400, "status")
    eq(doc["error"]["code"], "invalid_json", "code")
    check("line 1" in doc["error"]["message"] and "column" in doc["error"]["message"], doc)
    status, h, doc = srv.post("/weights", b'{"scheme": "\xff\xfe"}')
    eq((status, doc["error"]["code"]), (400, "invalid_json"), "invalid UTF-8")
    status, h, doc = srv.post("/weights", "")
    eq((status, doc["error"]["code"]), (400, "invalid_json"), "empty body")
    # A body cut short by the client: the server must simply go on.
    srv.raw(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"counts\":", timeout=3)
    status, h, body = srv.request("GET", "/healthz")
    eq(status, 200, "alive after a truncated upload")


@test
def body_limit():
    with Server("--max-body", "1000", "--log-format", "none") as s:
        big = json.dumps({"counts": [1] * 600})
        check(len(big) > 1000, "payload not big enough")
        status, h, doc = s.post("/weights", big)
        eq(status, 413, "status")
        eq(doc["error"]["code"], "payload_too_large", "code")
        check("1000" in doc["error"]["message"], doc)
        # Refused from Content-Length before the body is sent.
        out = s.raw(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000000\r\n\r\n", shutdown=False, timeout=5)
        check(out.startswith(b"HTTP/1.1 413"), out[:60])
        # A chunked body is counted as it arrives.
        chunk = b"[" + b"1," * 600 + b"1]"
        req = (b"POST /weights HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\n")
        for part in [b'{"counts":', chunk, b"}"]:
            req += b"%x\r\n%s\r\n" % (len(part), part)
        req += b"0\r\n\r\n"
        out = s.raw(req)
        check(out.startswith(b"HTTP/1.1 413"), out[:60])
        # Exactly at the limit is fine.
        body = '{"counts": [1, 2]}'
        body = body + " " * (1000 - len(body))
        status, h, doc = s.post("/weights", body)
        eq(status, 200, "a body of exactly max-body")
        eq(s.stop(), 0, "exit status")


@test
def chunked_body_ok():
    req = (b"POST /weights HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
    for part in [b'{"counts"', b": [100000, 100, 10]}"]:
        req += b"%x\r\n%s\r\n" % (len(part), part)
    req += b"0\r\n\r\n"
    out = srv.raw(req)
    check(out.startswith(b"HTTP/1.1 200"), out[:80])
    check(b'"weights":[1.0,1000.0,10000.0]' in out, out)


@test
def api_cases_over_http():
    with open(os.path.join(ROOT, "tests/cases/api_cases.json")) as f:
        cases = json.load(f)["cases"]
    servers = LimitServers(srv)
    failures = []
    try:
        for c in cases:
            s = servers.get(c.get("limits"))
            if "body_hex" in c:
                body = bytes.fromhex(c["body_hex"])
            else:
                body = (c["body"] if isinstance(c["body"], str) else json.dumps(c["body"])).encode()
            headers = {"Content-Type": c["content_type"]} if "content_type" in c else None
            status, h, data = s.request("POST", "/" + c["endpoint"], body, headers=headers)
            exp = c["expect"]
            try:
                doc = json.loads(data)
                eq(status, STATUS[exp["code"]], "status")
                if exp["code"] != "ok":
                    eq(doc["error"]["code"], exp["code"], "code")
                    if "field" in exp:
                        eq(doc["error"].get("field"), exp["field"], "field")
                    if "message_contains" in exp:
                        check(exp["message_contains"] in doc["error"]["message"], doc)
                if "response" in exp:
                    ok, why, _ = close(exp["response"], doc)
                    check(ok, why)
                for k in exp.get("absent", []):
                    check(k not in doc, "unexpected " + k)
            except Exception as e:
                failures.append("%s: %s (%s)" % (c["name"], e, data[:200]))
    finally:
        servers.stop()
    print("api cases over HTTP: %d/%d as expected" % (len(cases) - len(failures), len(cases)))
    check(not failures, "\n".join(failures[:10]))


def fixtures_over_http(file, endpoint):
    cases = load("tests/conformance/" + file)["cases"]
    c = srv.conn()
    bad, worst = [], 0.0
    for case in cases:
        status, h, data = srv.request("POST", "/" + endpoint, case["request"], conn=c)
        doc = json.loads(data)
        want = dict(case["expected"])
        warn = want.pop("warning", False)
        ok, why, rel = close(want, doc)
        worst = max(worst, rel)
        if status != 200 or not ok or (warn and not doc.get("warnings")):
            bad.append("%s: %s %s" % (case["name"], status, why or data[:200]))
    c.close()
    print("%s fixtures over HTTP: %d/%d matched (largest relative error %.3g)"
          % (endpoint, len(cases) - len(bad), len(cases), worst))
    check(not bad, "\n".join(bad[:5]))


@test
def weights_fixtures_over_http():
    fixtures_over_http("weights_cases.json", "weights")


@test
def loss_fixtures_over_http():
    fixtures_over_http("loss_cases.json", "loss")


@test
def sample_fixtures_over_http():
    fixtures_over_http("sample_cases.json", "sample")


@test
def balance_fixtures_over_http():
    """strategy undersample / oversample: tests/conformance/balance_cases.json
    (class counts checked by its generator against imbalanced-learn's), and
    the requests imbalanced-learn refuses refused, naming the field."""
    fixtures_over_http("balance_cases.json", "sample")
    c = srv.conn()
    refused = load("tests/conformance/balance_cases.json")["refused"]
    for r in refused:
        status, h, data = srv.request("POST", "/sample", r["request"], conn=c)
        err = json.loads(data).get("error", {})
        check(status == 400 and err.get("code") == "invalid_argument" and
              err.get("field", "").startswith(r["field"]),
              "%s: imbalanced-learn refuses it (%s); ballastd answered %d %s"
              % (r["name"], r["imblearn"], status, data[:200]))
    c.close()
    print("balance refusals over HTTP: %d refused" % len(refused))


@test
def concurrent_clients():
    errors = []
    req = {"weights": [1, 2, 3, 4], "num_samples": 50, "seed": 11, "generator": "torch"}
    _, _, ref = srv.post("/sample", req)

    def client(i):
        try:
            c = srv.conn()
            for j in range(40):
                status, h, data = srv.request("POST", "/sample", req, conn=c)
                if status != 200 or json.loads(data)["indices"] != ref["indices"]:
                    errors.append((i, j, status))
            c.close()
        except Exception as e:
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(errors, [], "errors")


@test
def sample_seed_returned_and_replayable():
    _, _, a = srv.post("/sample", {"weights": [1, 2, 3], "num_samples": 20})
    check(isinstance(a["seed"], int) and 0 <= a["seed"] < 2**64, a)
    _, _, b = srv.post("/sample", {"weights": [1, 2, 3], "num_samples": 20, "seed": a["seed"]})
    eq(b["indices"], a["indices"], "replay by the returned seed")
    _, _, big = srv.post("/sample", {"weights": [1, 2], "seed": 2**64 - 1, "generator": "torch"})
    eq(big["seed"], 2**64 - 1, "the full 64-bit seed is echoed")


@test
def shards_interleave_over_http():
    req = {"weights": [5, 1, 3, 2, 8, 1, 1], "num_samples": 11, "seed": 3}
    _, _, full = srv.post("/sample", req)
    ws = 4
    shares = [srv.post("/sample", dict(req, world_size=ws, rank=r))[2] for r in range(ws)]
    total = shares[0]["total_size"]
    eq(total, 12, "total_size")
    padded = (full["indices"] * 2)[:total]
    for r, s in enumerate(shares):
        eq(s["indices"], padded[r::ws], "rank %d" % r)
        eq((s["rank"], s["world_size"]), (r, ws), "rank fields")


@test
def options_and_environment():
    out = subprocess.run([BALLASTD, "--help"], capture_output=True, text=True)
    eq(out.returncode, 0, "--help exit")
    for opt in ["--port", "--bind", "--threads", "--max-body", "--max-items", "--timeout",
                "--auth-token", "--log-format"]:
        check(opt in out.stdout, "--help lacks " + opt)
    out = subprocess.run([BALLASTD, "--version"], capture_output=True, text=True)
    eq(out.returncode, 0, "--version exit")
    check(out.stdout.startswith("ballastd "), out.stdout)
    for bad in (["--port", "70000"], ["--nope"], ["--threads", "0"], ["--max-body", "12Q"],
                ["--log-format", "xml"], ["--bind", "not-an-ip"]):
        out = subprocess.run([BALLASTD, *bad], capture_output=True, text=True, timeout=10)
        check(out.returncode in (1, 2) and out.stderr, "%s: %s" % (bad, out.returncode))
    env = dict(os.environ, BALLAST_MAX_SAMPLES="10", BALLAST_LOG_FORMAT="none")
    with Server(env={"BALLAST_MAX_SAMPLES": "10", "BALLAST_THREADS": "1"}) as s:
        status, h, doc = s.post("/sample", {"weights": [1], "num_samples": 11})
        eq((status, doc["error"]["code"]), (400, "limit_exceeded"), "env limit")
        check("max-samples" in doc["error"]["message"] and "10" in doc["error"]["message"], doc)
        s.stop()
    with Server("--max-samples", "20", env={"BALLAST_MAX_SAMPLES": "10"}) as s:
        status, h, doc = s.post("/sample", {"weights": [1], "num_samples": 15})
        eq(status, 200, "a flag overrides the environment")
        s.stop()


@test
def auth_token():
    with Server("--auth-token", "s3cret", "--log-format", "none") as s:
        status, h, body = s.request("POST", "/weights", {"counts": [1]})
        eq(status, 401, "no token")
        check(h.get("www-authenticate", "").startswith("Bearer"), h)
        eq(json.loads(body)["error"]["code"], "unauthorized", "code")
        status, h, body = s.request("POST", "/weights", {"counts": [1]},
                                    headers={"Authorization": "Bearer wrong"})
        eq(status, 401, "wrong token")
        status, h, body = s.request("POST", "/weights", {"counts": [1]},
                                    headers={"Authorization": "Bearer s3cret"})
        eq(status, 200, "right token")
        for p in ("/healthz", "/readyz"):
            eq(s.request("GET", p)[0], 200, p + " stays open")
        eq(s.request("GET", "/metrics")[0], 401, "/metrics needs the token")
        s.stop()


@test
def metrics_and_access_log():
    with Server("--log-format", "json") as s:
        s.request("POST", "/weights", {"counts": [1, 2]})
        s.request("POST", "/weights", {"counts": [1, 0]})
        s.request("GET", "/nope", headers={"X-Request-Id": "log-me"})
        # A request is counted when libmicrohttpd reports it complete, just
        # after its answer went out: wait for the third to be counted.
        for _ in range(100):
            status, h, body = s.request("GET", "/metrics")
            if b'code="404"' in body:
                break
            time.sleep(0.01)
        eq(status, 200, "status")
        check(h["content-type"].startswith("text/plain; version=0.0.4"), h["content-type"])
        text = body.decode()
        check('ballast_requests_total{route="weights",code="200"} 1' in text, text)
        check('ballast_requests_total{route="weights",code="400"} 1' in text, text)
        check('ballast_requests_total{route="other",code="404"} 1' in text, text)
        check(re.search(r'^ballast_request_bytes_total\{route="weights"\} \d+$', text, re.M), text)
        check(re.search(r'^ballast_build_info\{version="[0-9.]+",libmicrohttpd="[^"]+",'
                        r'jansson="[^"]+"\} 1$', text, re.M), text)
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds"):
            check(re.search(r"^%s [0-9.]+$" % name, text, re.M), name)
        check('ballast_request_duration_seconds_count{route="weights"} 2' in text, text)
        m = re.search(r"^ballast_requests_in_flight (\d+)$", text, re.M)
        check(m and int(m.group(1)) >= 1, "the in-flight gauge counts /metrics itself")
        check(re.search(r"^process_start_time_seconds \d+", text, re.M), text)
        s.stop()
        # Under --log-format json every line is JSON: start-up and drain too.
        lines = [json.loads(l) for l in s.lines]
        check(any("listening on" in l.get("message", "") for l in lines), "start-up line")
        check(any("draining" in l.get("message", "") for l in lines), "drain line")
        logs = [l for l in lines if "request_id" in l]
        check(len(logs) >= 4, "one log line per request")
        # Error answers carry their code and field.
        errs = sorted((l["status"], l.get("code"), l.get("field")) for l in logs if l["status"] >= 400)
        eq(errs, [(400, "invalid_argument", "counts[1]"), (404, "not_found", None)],
           "error lines")
        # Each line is written when libmicrohttpd reports its request done, on
        # the I/O thread that served it: lines of requests served one after
        # the other on different threads may come in either order.
        eq(sorted(l["status"] for l in logs if l["path"] != "/metrics"), [200, 400, 404],
           "statuses")
        eq({l["status"] for l in logs if l["path"] == "/metrics"}, {200}, "the /metrics requests")
        eq([l["request_id"] for l in logs if l["path"] == "/nope"], ["log-me"],
           "request id in the log")
        for l in logs:
            for k in ("method", "path", "status", "bytes_out", "duration_ms", "request_id"):
                check(k in l, "log lacks " + k)
    with Server("--log-format", "text") as s:
        s.request("GET", "/healthz")
        s.stop()
        check(any(" GET /healthz 200 " in l for l in s.lines), s.lines)


@test
def healthcheck_mode():
    with Server("--log-format", "none") as s:
        out = subprocess.run([BALLASTD, "--healthcheck", "--port", str(s.port)],
                             capture_output=True, timeout=10)
        eq(out.returncode, 0, "healthy")
        port = s.port
        s.stop()
    out = subprocess.run([BALLASTD, "--healthcheck", "--port", str(port)], capture_output=True,
                         timeout=10)
    eq(out.returncode, 1, "no server")


@test
def sigterm_drains_in_flight_requests():
    with Server("--log-format", "none", "--threads", "2") as s:
        # A request that takes a while: a large loss with its gradient.
        n, k = 20000, 50
        logits = [[(i * 7 + j) % 13 / 3.0 for j in range(k)] for i in range(n)]
        body = json.dumps({"logits": logits, "targets": [i % k for i in range(n)], "grad": True})
        result = {}

        def slow():
            c = s.conn(timeout=60)
            try:
                result["resp"] = s.request("POST", "/loss", body, conn=c)
            except Exception as e:
                result["error"] = repr(e)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.05)
        s.proc.send_signal(signal.SIGTERM)
        t.join(60)
        rc = s.proc.wait(30)
        eq(rc, 0, "exit status")
        check("resp" in result, "the request in flight failed: %r" % result)
        eq(result["resp"][0], 200, "the request in flight completed")
        check(any("draining" in l for l in s.lines), s.lines)
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        check(refused, "new connections are refused after the drain")


@test
def slow_clients_are_cut_at_timeout():
    """Headers trickling in are cut --header-timeout seconds after the
    connection (or its previous request) began; a body trickling in is cut
    --timeout seconds after its request began; a request that has fully
    arrived is never cut, however long it takes (server/conns.c)."""
    import select
    with Server("--timeout", "3", "--header-timeout", "1", "--log-format", "none") as s:
        def trickle(first, data):
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            t0 = time.monotonic()
            sock.sendall(first)
            for b in data:
                try:
                    sock.send(bytes([b]))
                except OSError:
                    break
                r, _, _ = select.select([sock], [], [], 0.25)
                if r and not sock.recv(100):
                    break
                if time.monotonic() - t0 > 8:
                    break
            sock.close()
            return time.monotonic() - t0
        head = b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
        headers = trickle(b"", head)
        check(1 <= headers < 2.5, "trickled headers were cut after %.1fs, not about 1s" % headers)
        body = trickle(head, b" " * 40)
        check(3 <= body < 4.5, "a trickled body was cut after %.1fs, not about 3s" % body)
        status, h, b = s.request("GET", "/metrics")
        check(re.search(r"^ballast_slow_clients_total 1$", b.decode(), re.M), "slow client metric")
        check(re.search(r"^ballast_header_timeouts_total [1-9]", b.decode(), re.M),
              "header timeout metric")
        # A slow computation is not a slow client: /loss with a large body, sent at once.
        n, k = 20000, 50
        logits = [[(i * 7 + j) % 13 / 3.0 for j in range(k)] for i in range(n)]
        big = json.dumps({"logits": logits, "targets": [i % k for i in range(n)], "grad": True})
        status, h, b = s.request("POST", "/loss", big)
        eq(status, 200, "a request that has arrived is served")
        eq(s.stop(), 0, "exit status")


@test
def sigint_stops_cleanly():
    with Server("--log-format", "none") as s:
        eq(s.stop(signal.SIGINT), 0, "exit status")


if __name__ == "__main__":
    srv = Server("--log-format", "none")
    try:
        main("http")
    finally:
        srv.stop()
