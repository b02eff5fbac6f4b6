"""A small harness for ballastd's HTTP tests: start real servers on free
loopback ports, talk HTTP to them, and report like a test runner.

Standard library only, so the tests run wherever python3 runs."""
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

BALLASTD = os.environ.get("BALLASTD", "build/ballastd")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# BALLAST_CONTRACT_LOG=<file>: Server.request appends every response it gets to
# <file>, one JSON line each, for tests/http/test_contract.py to check against
# api/openapi.yaml.
contract_log = os.environ.get("BALLAST_CONTRACT_LOG")


def record(method, path, status, headers, data):
    """Appends one response to contract_log (see above)."""
    ctype = headers.get("content-type", "")
    line = {"method": method, "path": path, "status": status, "content_type": ctype,
            "headers": {k: v for k, v in headers.items() if k.startswith("ballast-")}}
    if len(data) > 1 << 20:
        line["body_bytes"] = len(data)  # too big to log: status and media type only
    elif method != "HEAD" and ctype.split(";")[0].strip().lower() == "application/json":
        try:
            line["body"] = json.loads(data)
        except ValueError:
            line["not_json"] = data[:200].decode("utf-8", "replace")
    with open(contract_log, "a") as f:
        f.write(json.dumps(line) + "\n")


class Server:
    """One ballastd process on 127.0.0.1 and a port the kernel picked."""

    def __init__(self, *args, env=None):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("BALLAST_"):
                del e[k]
        e.update(env or {})
        self.proc = subprocess.Popen(
            [BALLASTD, "--port", "0", *args], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        # tests/run.sh checks that every server the suites started is gone
        # at the end, and only those (a `make run` server may be running).
        pids = os.environ.get("BALLAST_TEST_PIDS")
        if pids:
            with open(pids, "a") as f:
                f.write("%d\n" % self.proc.pid)
        self.lines = []
        self.port = None
        ready = threading.Event()

        def drain():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                if self.port is None and " listening on " in line:
                    self.port = int(line.split(" port ")[1].split()[0])
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(10) or self.port is None:
            self.proc.kill()
            raise RuntimeError("ballastd did not start: " + "\n".join(self.lines))

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """(status, headers dict with lower-case names, body bytes)."""
        own = conn is None
        c = conn or self.conn()
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if contract_log:
            record(method, path, r.status, hdrs, data)
        if own:
            c.close()
        return r.status, hdrs, data

    def post(self, path, body, **kw):
        status, headers, data = self.request("POST", path, body, **kw)
        return status, headers, json.loads(data)

    def raw(self, data, shutdown=True, timeout=10):
        """Sends raw bytes on a new connection; returns everything read."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        s.close()
        return out

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("ballastd did not stop within %ss" % timeout)
        self.reader.join(5)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_suite_servers = []


def server(*args, env=None):
    """The suite's shared server fixture: a Server (ballastd on a free loopback
    port, started, ready, its pid registered for tests/run.sh), with
    ("--log-format", "none") when no arguments are given, stopped by main()
    when the suite ends (or by stop_servers()). A suite starts its servers in
    its __main__ block and leaves the stopping to main():

        if __name__ == "__main__":
            srv = server()
            auth = server("--log-format", "none", "--auth-token", TOKEN)
            main("example")
    """
    s = Server(*(args or ("--log-format", "none")), env=env)
    _suite_servers.append(s)
    return s


def stop_servers():
    """Stops every server that server() started, the last first."""
    while _suite_servers:
        s = _suite_servers.pop()
        if s.proc.poll() is None:
            s.stop()
        else:
            s.__exit__(None, None, None)


class LimitServers:
    """Servers for data-driven cases that name limits ({"max_items": 5}):
    one started per distinct set, `default` for cases without limits."""

    def __init__(self, default):
        self.default = default
        self.started = {}

    def get(self, limits):
        if not limits:
            return self.default
        key = json.dumps(limits, sort_keys=True)
        if key not in self.started:
            args = ["--log-format", "none"]
            for k, v in limits.items():
                args += ["--" + k.replace("_", "-"), str(v)]
            self.started[key] = Server(*args)
        return self.started[key]

    def stop(self):
        for s in self.started.values():
            s.stop()
        self.started = {}


_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def tolerance(doc, case=None):
    """The tolerance of a fixture case: the case's own "tolerance", else its
    file's ({"rel": r, "abs": a}); None when neither has one (a file of
    integers only: close() then refuses every real)."""
    tol = (case or {}).get("tolerance", doc.get("tolerance"))
    if tol is not None and not (isinstance(tol, dict) and
                                all(isinstance(tol.get(k), (int, float)) and tol[k] >= 0
                                    for k in ("rel", "abs"))):
        raise AssertionError("malformed tolerance %r (want {\"rel\": r, \"abs\": a})" % (tol,))
    return tol


def close_number(got, want, tol):
    """The one closeness rule of the tests (tests/unit/check_close.h has the
    same for C): |got - want| <= max(rel * |want|, abs), relative to the
    expected value; NaN only NaN; an infinity only the same infinity."""
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= max(tol["rel"] * abs(want), tol["abs"])


def close(want, got, tol, path="$"):
    """Expected ⊆ actual: every key of an expected object present and matching;
    integers against integers exactly; other numbers by close_number() under
    tol (a fixture's, see tolerance(): a real with tol None does not match).
    Arrays (or anything with .tolist(), e.g. tensors) element by element.
    Returns (ok, why, the largest relative error among numbers that differ
    by more than tol's absolute part)."""
    worst = [0.0]

    def walk(w, g, p):
        if hasattr(w, "tolist"):
            w = w.tolist()
        if hasattr(g, "tolist"):
            g = g.tolist()
        if w is None:
            return (g is None, "%s: expected null, got %r" % (p, g))
        if isinstance(w, bool) or isinstance(w, str):
            return (w == g, "%s: %r != %r" % (p, g, w))
        if isinstance(w, (int, float)):
            if not isinstance(g, (int, float)) or isinstance(g, bool):
                return (False, "%s: expected a number, got %r" % (p, g))
            if isinstance(w, int) and isinstance(g, int):
                return (w == g, "%s: %r != %r" % (p, g, w))
            if tol is None:
                return (False, "%s: %r vs %r compared without a tolerance" % (p, g, w))
            err = abs(w - g)
            rel = err / abs(w) if w else err
            if err > tol["abs"] and math.isfinite(err):
                worst[0] = max(worst[0], rel)
            return (close_number(g, w, tol), "%s: %r != %r (rel %.3g)" % (p, g, w, rel))
        if isinstance(w, list):
            if not isinstance(g, list) or len(g) != len(w):
                return (False, "%s: expected a list of %d" % (p, len(w)))
            for i, (a, b) in enumerate(zip(w, g)):
                ok, why = walk(a, b, "%s[%d]" % (p, i))
                if not ok:
                    return ok, why
            return True, ""
        if isinstance(w, dict):
            if not isinstance(g, dict):
                return (False, "%s: expected an object" % p)
            for k, v in w.items():
                if k not in g:
                    return (False, "%s.%s: missing" % (p, k))
                ok, why = walk(v, g[k], "%s.%s" % (p, k))
                if not ok:
                    return ok, why
            return True, ""
        return (w == g, "%s: differs" % p)

    ok, why = walk(want, got, path)
    return ok, why, worst[0]


def near(got, want, tol, what=""):
    """close() as a check: got (a number, list or tensor) within tol of want."""
    ok, why, _ = close(want, got, tol)
    check(ok, "%s: %s" % (what, why) if what else why)


def main(suite):
    only = sys.argv[1:]
    passed = failed = 0
    t0 = time.time()
    try:
        for fn in _tests:
            if only and fn.__name__ not in only:
                continue
            start = time.time()
            try:
                fn()
                passed += 1
                print("ok   %-45s %6.2fs" % (fn.__name__, time.time() - start), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s" % fn.__name__, flush=True)
                traceback.print_exc(limit=4, file=sys.stdout)
    finally:
        stop_servers()
    print("%.1fs" % (time.time() - t0))
    print("%s: %d passed, %d failed" % (suite, passed, failed))
    sys.exit(1 if failed else 0)
