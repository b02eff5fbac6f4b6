"""Overload safety: I/O threads never compute, every byte is budgeted, the
framing is strict, and no request crashes, hangs or bloats ballastd.

Each reproduction of the issue that asked for this has a regression case
here; the mixed overload itself is tests/http/overload.py (bench/overload.py
runs it longer)."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BALLASTD, Server, check, eq, main, test  # noqa: E402
import overload  # noqa: E402

# The documented margin over --memory-budget (README, "Memory budget"):
# libmicrohttpd's 32 KiB pool per connection slot (--max-connections + 64)
# and 64 MiB for the binary, its libraries, thread stacks and glibc.
MiB = 1 << 20
# Under ASan (make check-sanitize) memory is ASan's (shadow, quarantine), not
# ballastd's, and computing is several times slower: the RSS bounds are not
# checked there and the heavy requests are smaller.
SANITIZED = bool(os.environ.get("BALLAST_SANITIZE"))
HEAVY = (10000, 50) if SANITIZED else (20000, 50)


def rss_ok(peak_bytes, bound):
    return SANITIZED or peak_bytes < bound


def margin(max_connections):
    return 32 * 1024 * (max_connections + 64) + 64 * MiB


def read_to_close(s):
    """What s receives until the server closes it or goes quiet; closes s."""
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    return out


def raw(port, parts, delay=0.05, source="127.0.0.1", timeout=5):
    """Sends parts in separate writes (delay apart); returns what came back
    before the server closed the connection or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    for p in parts:
        try:
            s.sendall(p)
        except OSError:
            break
        time.sleep(delay)
    out = read_to_close(s)
    return out


def error_of(out):
    """(status, error code) of a raw answer with a JSON error body."""
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body)["error"]["code"]


def metric(srv, name):
    status, h, body = srv.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


@test
def content_length_with_chunked_chunks_in_separate_writes():
    # Once a remote heap overflow: the announced length shrank the buffer
    # below what the chunks had filled.
    with Server("--log-format", "none") as srv:
        for _ in range(10):
            out = raw(srv.port, [b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"]
                      + [b"fa0\r\n" + b"a" * 4000 + b"\r\n"] * 4 + [b"0\r\n\r\n"])
            eq(error_of(out), (400, "invalid_request"), "CL + TE")
            check(out.count(b"HTTP/1.1 ") == 1, "one answer: %r" % out[:200])
        eq(srv.request("GET", "/healthz")[0], 200, "alive")
        eq(srv.stop(), 0, "exit status")


def pipelined_then_half_closed(port, bodies, timeout=5):
    """Sends POST /weights for each body in one write, then shutdown(SHUT_WR);
    returns (answers, seconds until the server closed)."""
    data = b"".join(b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(b), b) for b in bodies)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = read_to_close(s)
    return out.count(b"HTTP/1.1 200"), time.monotonic() - t0


@test
def pipelined_requests_then_half_close_all_answered():
    # Once half of such connections got no answer at all: libmicrohttpd read
    # the client's FIN right after a resume (see dispatch() in server/compute.c).
    heavy = b'{"counts": [100000, 100, 10], "scheme": "balanced"}'  # computed by a worker
    tiny = b'{"counts": [3, 1]}'  # computed on the I/O thread
    with Server("--log-format", "none", "--threads", "2", "--workers", "2") as srv:
        results = []

        def client(bodies):
            for _ in range(40):
                results.append((len(bodies),) + pipelined_then_half_closed(srv.port, bodies))
        threads = [threading.Thread(target=client, args=(b,))
                   for b in ([heavy] * 5, [heavy], [tiny] * 5, [tiny], [tiny, heavy, tiny]) * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        short = [r for r in results if r[1] != r[0]]
        slow = [r for r in results if r[2] > 3]
        print("%d half-closed connections: %d short of answers, %d not closed within 3 s"
              % (len(results), len(short), len(slow)))
        eq(len(results), 400, "connections tried")
        check(not short, "answers missing: %s" % short[:5])
        check(not slow, "the server kept half-closed connections open: %s" % slow[:5])
        eq(srv.stop(), 0, "exit status")


@test
def framing_refusals_are_one_json_answer():
    with Server("--log-format", "none") as srv:
        cases = [
            ("differing Content-Length", b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             b"Content-Length: 6\r\n\r\n{}   ", 400, "invalid_request"),
            ("space before the colon", b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n"
             b"\r\n{}   ", 400, "invalid_request"),
            ("Transfer-Encoding gzip", b"POST /weights HTTP/1.1\r\nHost: x\r\n"
             b"Transfer-Encoding: gzip\r\n\r\n{}", 501, "not_implemented"),
            ("two Transfer-Encodings", b"POST /weights HTTP/1.1\r\nHost: x\r\n"
             b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501,
             "not_implemented"),
            ("NUL in the path", b"POST /weights%00junk HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"\r\n{}", 400, "invalid_request"),
            ("NUL in a GET path", b"GET /healthz%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
             "invalid_request"),
        ]
        for what, data, status, code in cases:
            t0 = time.monotonic()
            out = raw(srv.port, [data])
            eq(error_of(out), (status, code), what)
            check(out.count(b"HTTP/1.1 ") == 1, "%s: one answer: %r" % (what, out[:300]))
            check(b"Connection: close" in out, "%s: the connection is closed" % what)
            check(time.monotonic() - t0 < 2, "%s: answered at once" % what)
        # A malformed Content-Length is refused by libmicrohttpd itself,
        # before ballastd sees the request (README, "What libmicrohttpd
        # decides"): a 400 that ballastd counts.
        before = metric(srv, "ballast_protocol_errors_total")
        out = raw(srv.port, [b"POST /weights HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n{}   "])
        check(out.startswith(b"HTTP/1.1 400"), "malformed Content-Length: %r" % out[:60])
        time.sleep(0.2)
        check(metric(srv, "ballast_protocol_errors_total") > before, "counted in /metrics")
        eq(srv.request("GET", "/healthz")[0], 200, "alive")
        eq(srv.stop(), 0, "exit status")


def npy(dtype, shape, data=b""):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, "".join("%d, " % d for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def multipart(parts, boundary=b"xyzzy"):
    out = b""
    for name, data in parts:
        out += (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name
                + b"\"; filename=\"" + name + b".npy\"\r\nContent-Type: application/x-npy\r\n\r\n"
                + data + b"\r\n")
    return out + b"--" + boundary + b"--\r\n"


@test
def zero_dimension_hiding_a_huge_one():
    # Once an unbounded hang: (2^60 - 1, 0) has no elements, yet the JSON
    # answer would be 2^60 empty arrays.
    huge = (1 << 60) - 1
    body = multipart([(b"logits", npy("<f8", (huge, 0))), (b"targets", npy("<i8", (huge, 0)))])
    with Server("--log-format", "none", "--drain-timeout", "2") as srv:
        for _ in range(3):
            t0 = time.monotonic()
            status, h, data = srv.request("POST", "/loss", body, headers={
                "Content-Type": "multipart/form-data; boundary=xyzzy"})
            check(400 <= status < 500, "status %d: %r" % (status, data[:200]))
            check(time.monotonic() - t0 < 2, "answered at once")
        eq(srv.request("GET", "/healthz")[0], 200, "alive")
        t0 = time.monotonic()
        eq(srv.stop(), 0, "exit status")
        check(time.monotonic() - t0 < 3, "SIGTERM ends it")


@test
def tiny_requests_cannot_demand_huge_answers():
    with Server("--log-format", "none", "--memory-budget", "256M") as srv:
        for path, doc in [("/sample", {"weights": [1, 2], "num_samples": 33554432}),
                          ("/sample", {"weights": [1, 2], "num_samples": 12000000}),
                          ("/weights", {"labels": [0, 33554431]}),
                          ("/weights", {"labels": [0], "num_classes": 33554432})]:
            status, h, got = srv.post(path, doc)
            eq((status, got["error"]["code"]), (400, "limit_exceeded"), "%s %s" % (path, doc))
        check(rss_ok(overload.vm_kb(srv.proc.pid, "VmHWM") * 1024, 256 * MiB + margin(1024)),
              "peak RSS within the budget")
        eq(srv.stop(), 0, "exit status")


@test
def concurrent_large_uploads_stay_within_the_budget():
    # Once 5.8 GB: 90 concurrent uploads of large bodies, each reserved by nobody.
    budget = 64 * MiB
    body = json.dumps({"weights": [0.123456789] * 300000, "num_samples": 10,
                       "seed": 1}).encode()  # 3.9 MB, estimated at 32 MB
    with Server("--log-format", "none", "--memory-budget", str(budget),
                "--max-connections", "256", "--queue-wait", "1") as srv:
        statuses = {}
        lock = threading.Lock()

        def upload():
            try:
                st = srv.request("POST", "/sample", body, conn=srv.conn(timeout=120))[0]
            except OSError as e:
                st = "dropped: %s" % e
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
        threads = [threading.Thread(target=upload) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        peak = overload.vm_kb(srv.proc.pid, "VmHWM") * 1024
        print("40 concurrent 3.9 MB uploads: %s, peak RSS %.1f MiB, budget %.0f MiB + margin "
              "%.0f MiB" % (statuses, peak / MiB, budget / MiB, margin(256) / MiB))
        check(set(statuses) <= {200, 503}, "answered 200 or 503: %s" % statuses)
        check(statuses.get(200), "some were served")
        check(rss_ok(peak, budget + margin(256)), "peak RSS %.1f MiB" % (peak / MiB))
        eq(srv.stop(), 0, "exit status")


@test
def clients_that_never_read_cannot_exhaust_memory():
    # Once 3 GB: 60 clients sent a 49-byte /sample and never read.
    budget = 96 * MiB
    with Server("--log-format", "none", "--memory-budget", str(budget),
                "--max-connections", "256") as srv:
        body = json.dumps({"weights": [1, 2], "num_samples": 2000000, "seed": 3}).encode()
        socks = []
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"POST /sample HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
            socks.append(s)
        time.sleep(3)
        # Meanwhile others are served or told to retry, never left hanging.
        status, h, _ = srv.request("POST", "/weights", {"counts": [3, 1]})
        check(status in (200, 503), "a light request during the flood: %d" % status)
        statuses = {}
        for s in socks:
            head = s.recv(64)
            code = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0
            statuses[code] = statuses.get(code, 0) + 1
            s.close()
        peak = overload.vm_kb(srv.proc.pid, "VmHWM") * 1024
        print("60 clients that never read: statuses %s, peak RSS %.1f MiB, budget %.0f MiB + "
              "margin %.0f MiB" % (statuses, peak / MiB, budget / MiB, margin(256) / MiB))
        check(set(statuses) <= {200, 503}, "answered 200 or 503: %s" % statuses)
        check(rss_ok(peak, budget + margin(256)),
              "peak RSS %.1f MiB over budget + margin" % (peak / MiB))
        eq(srv.stop(), 0, "exit status")


@test
def probes_answer_while_every_worker_computes():
    with Server("--log-format", "none", "--threads", "2", "--workers", "2") as srv:
        # A draw without replacement over millions of weights keeps a worker busy for
        # about a second (JSON /loss became too fast for that).
        n = 1000000 if SANITIZED else 4000000
        heavy = json.dumps({"weights": [1.0] * n, "num_samples": n, "replacement": False,
                            "generator": "torch", "seed": 1}).encode()
        done = []

        def worker():
            done.append(srv.request("POST", "/sample", heavy, conn=srv.conn(timeout=300))[0])
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while metric(srv, "ballast_workers_busy") < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        ms = []
        while any(t.is_alive() for t in threads) and len(ms) < 200:
            for path in ("/readyz", "/healthz", "/metrics"):
                t0 = time.monotonic()
                eq(srv.request("GET", path)[0], 200, path)
                ms.append((time.monotonic() - t0) * 1e3)
            time.sleep(0.02)
        for t in threads:
            t.join(120)
        eq(done, [200] * 4, "the heavy requests")
        print("probes while 4 heavy /sample ran on 2 workers: %d, p99 %.1f ms, max %.1f ms"
              % (len(ms), overload.percentile(ms, 99), max(ms or [0])))
        check(len(ms) >= 3, "probed while the workers were busy")
        check(overload.percentile(ms, 99) < 100, "probe p99 %.1f ms" % overload.percentile(ms, 99))
        eq(srv.stop(), 0, "exit status")


def expect_continue(port, length):
    """Sends headers with Expect: 100-continue and no body. Returns the
    answer if it is a refusal (read to its end, with the seconds it took),
    or None when the server said 100 Continue (it would read the body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    s.sendall(b"POST /loss HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\n\r\n" % length)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            d = s.recv(65536)
            if not d:
                break
            out += d
        if out.startswith(b"HTTP/1.1 100"):
            return None
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    finally:
        s.close()
    return out, time.monotonic() - t0


@test
def full_queue_is_503_before_the_body_is_read():
    with Server("--log-format", "none", "--workers", "1", "--queue", "1") as srv:
        heavy = overload.heavy_body(10000, 50)
        threads = [threading.Thread(target=srv.request, args=("POST", "/loss", heavy),
                                    kwargs={"conn": srv.conn(timeout=300)}) for _ in range(3)]
        for t in threads:
            t.start()
        # One computes, one waits, the queue is full: a client that waits
        # for 100 Continue gets the 503 instead (asked until the queue is
        # seen full; each try that gets 100 Continue is dropped).
        got, deadline = None, time.monotonic() + 30
        while got is None and time.monotonic() < deadline:
            got = expect_continue(srv.port, 1000000)
            if got is None:
                time.sleep(0.02)
        check(got is not None, "the queue was never seen full")
        out, waited = got
        eq(error_of(out), (503, "overloaded"), "a request while the queue is full")
        check(b"Retry-After: " in out, "Retry-After")
        check(waited < 1, "answered without waiting for the body (%.2fs)" % waited)
        # One that sends its body at once gets it after the body (read and
        # dropped, nothing kept), not a reset.
        while metric(srv, "ballast_queue_depth") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        status, h, data = srv.request("POST", "/loss", heavy, conn=srv.conn(timeout=300))
        check(status in (200, 503), "without Expect: %d" % status)
        if status == 503:
            eq(json.loads(data)["error"]["code"], "overloaded", "without Expect")
        for t in threads:
            t.join(300)
        check(metric(srv, "ballast_overloaded_total") >= 1, "counted")
        eq(srv.stop(), 0, "exit status")


@test
def reload_signals_do_not_kill_and_sigterm_always_ends():
    with Server("--drain-timeout", "1") as srv:
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            srv.proc.send_signal(sig)
            time.sleep(0.1)
            check(srv.proc.poll() is None, "%s killed it" % sig.name)
            eq(srv.request("GET", "/healthz")[0], 200, "alive after %s" % sig.name)
        heavy = overload.heavy_body(60000, 50)
        t = threading.Thread(target=lambda: srv.request("POST", "/loss", heavy) if True else None)
        t.daemon = True
        t.start()
        deadline = time.monotonic() + 20
        while metric(srv, "ballast_workers_busy") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        t0 = time.monotonic()
        eq(srv.stop(), 0, "exit status")
        took = time.monotonic() - t0
        check(took < 1 + 1.5, "SIGTERM during a computation took %.1fs" % took)
        check(any("ignored" in line for line in srv.lines), "the ignored signals are logged")


@test
def a_port_in_use_is_an_error():
    with Server("--log-format", "none") as srv:
        p = subprocess.run([BALLASTD, "--port", str(srv.port)], capture_output=True, timeout=10)
        check(p.returncode != 0, "a second server on the port exited %d" % p.returncode)
        check(b"cannot listen" in p.stderr, "says why: %r" % p.stderr)
        eq(srv.request("GET", "/healthz")[0], 200, "the first is unharmed")
        eq(srv.stop(), 0, "exit status")


@test
def slowloris_neither_starves_probes_nor_takes_every_slot():
    with Server("--log-format", "none", "--max-connections-per-ip", "100",
                "--header-timeout", "3") as srv:
        socks, refused = [], 0
        for _ in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2,
                                             source_address=("127.0.0.2", 0))
                s.sendall(b"POST /weights HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                refused += 1
        time.sleep(0.3)
        ms = []
        for _ in range(50):
            t0 = time.monotonic()
            eq(srv.request("GET", "/healthz")[0], 200, "probe from another address")
            ms.append((time.monotonic() - t0) * 1e3)
        open_now = metric(srv, "ballast_connections_open")
        print("300 slowloris sockets from 127.0.0.2: %d kept by the server; probe p99 %.1f ms"
              % (open_now, overload.percentile(ms, 99)))
        # 100 from 127.0.0.2, the /metrics request's own and one probe's still closing.
        check(open_now <= 103, "per-address limit: %d open" % open_now)
        check(overload.percentile(ms, 99) < 100, "probe p99 %.1f ms" % overload.percentile(ms, 99))
        time.sleep(3.5)
        check(metric(srv, "ballast_header_timeouts_total") >= 90, "the slow sockets were cut")
        for s in socks:
            s.close()
        eq(srv.stop(), 0, "exit status")


@test
def mixed_overload_short():
    budget = 192 * MiB
    with Server("--log-format", "none", "--memory-budget", str(budget), "--workers", "2",
                "--queue", "8", "--max-connections", "256") as srv:
        o = overload.Overload(srv.port, seconds=8).run(srv.proc.pid)
        print("overload: " + o.summary())
        check(not o.dropped, "dropped: %s" % o.dropped[:5])
        check(set(o.statuses) <= overload.DOCUMENTED, "statuses %s" % o.statuses)
        check(not o.probe_failures, "probe failures %s" % o.probe_failures[:5])
        check(rss_ok(o.peak_rss_kb * 1024, budget + margin(256)),
              "peak RSS %.1f MiB over budget + margin" % (o.peak_rss_kb / 1024))
        p99 = overload.percentile(o.probe_ms, 99)
        check(p99 < 100, "/readyz p99 %.1f ms" % p99)
        eq(srv.request("GET", "/healthz")[0], 200, "alive")
        eq(srv.stop(), 0, "exit status")


if __name__ == "__main__":
    main("overload")
