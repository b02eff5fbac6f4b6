"""A mixed overload against one ballastd: heavy and light requests at about
twice what the machine can compute, clients that read their answers slowly,
slowloris sockets from another loopback address, and a prober that asks
/readyz throughout. Used by tests/http/test_overload.py (short) and
bench/overload.py (long); standard library only.

Every answer must be 200 or a documented refusal (400, 413, 503); a request
that gets no answer (reset, or closed unanswered) is "dropped"."""
import http.client
import json
import socket
import threading
import time

DOCUMENTED = {200, 400, 413, 503}


def vm_kb(pid, key):
    """A field of /proc/PID/status in kB (VmRSS, VmHWM), or 0."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def heavy_body(rows, classes):
    logits = [[((i * 7 + j) % 13) / 3.0 for j in range(classes)] for i in range(rows)]
    return json.dumps({"logits": logits, "targets": [i % classes for i in range(rows)],
                       "grad": True}).encode()


LIGHT_BODY = json.dumps({"counts": [100000, 100, 10], "scheme": "balanced"}).encode()


class Overload:
    def __init__(self, port, seconds, heavy_clients=6, light_clients=4, slow_readers=8,
                 slowloris=100, heavy_rows=20000, heavy_classes=10):
        self.port = port
        self.seconds = seconds
        self.heavy_clients = heavy_clients
        self.light_clients = light_clients
        self.slow_readers = slow_readers
        self.slowloris = slowloris
        self.heavy = heavy_body(heavy_rows, heavy_classes)
        self.lock = threading.Lock()
        self.statuses = {}
        self.dropped = []
        self.probe_ms = []
        self.probe_failures = []
        self.requests = 0
        self.stop = threading.Event()

    def _count(self, status):
        with self.lock:
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def _client(self, body, path):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                self._count(r.status)
                if r.status == 503:
                    time.sleep(float(r.getheader("Retry-After", "1")) / 10)
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.requests += 1
                    self.dropped.append("%s: %s" % (path, e))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def _slow_reader(self):
        """Asks for a large answer, then reads it a little at a time."""
        body = json.dumps({"weights": [1.0] * 1000, "num_samples": 500000, "seed": 1}).encode()
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                s.sendall(b"POST /sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                s.settimeout(30)
                first = s.recv(4096)
                if not first.startswith(b"HTTP/1.1 "):
                    with self.lock:
                        self.requests += 1
                        self.dropped.append("slow reader: %r" % first[:40])
                    s.close()
                    continue
                self._count(int(first.split()[1]))
                while not self.stop.is_set():
                    if not s.recv(4096):
                        break
                    time.sleep(0.2)
                s.close()
            except OSError:
                # Cut by the server for being slow to read: its right.
                pass

    def _slowloris(self, socks):
        """Sockets from 127.0.0.2 that send a header line now and then."""
        for _ in range(self.slowloris):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5,
                                             source_address=("127.0.0.2", 0))
                s.sendall(b"POST /weights HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                pass
        while not self.stop.is_set():
            for s in list(socks):
                try:
                    s.send(b"X-a: b\r\n")
                except OSError:
                    socks.remove(s)
            self.stop.wait(1.0)

    def _prober(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/readyz")
                r = c.getresponse()
                r.read()
                c.close()
                ms = (time.monotonic() - t0) * 1e3
                with self.lock:
                    self.probe_ms.append(ms)
                    if r.status != 200:
                        self.probe_failures.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.probe_failures.append(str(e))
            self.stop.wait(0.05)

    def run(self, pid=None):
        socks = []
        threads = [threading.Thread(target=self._client, args=(self.heavy, "/loss"))
                   for _ in range(self.heavy_clients)]
        threads += [threading.Thread(target=self._client, args=(LIGHT_BODY, "/weights"))
                    for _ in range(self.light_clients)]
        threads += [threading.Thread(target=self._slow_reader) for _ in range(self.slow_readers)]
        threads += [threading.Thread(target=self._slowloris, args=(socks,)),
                    threading.Thread(target=self._prober)]
        for t in threads:
            t.daemon = True
            t.start()
        peak_rss = 0
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            if pid:
                peak_rss = max(peak_rss, vm_kb(pid, "VmRSS"))
            time.sleep(0.1)
        self.stop.set()
        for t in threads:
            t.join(90)
        for s in socks:
            s.close()
        self.peak_rss_kb = max(peak_rss, vm_kb(pid, "VmHWM") if pid else 0)
        return self

    def summary(self):
        return ("%d requests: %s; dropped %d; /readyz p50 %.1f ms, p99 %.1f ms, max %.1f ms "
                "over %d probes (%d failed); peak RSS %.1f MiB"
                % (self.requests, dict(sorted(self.statuses.items())), len(self.dropped),
                   percentile(self.probe_ms, 50), percentile(self.probe_ms, 99),
                   max(self.probe_ms or [float("nan")]), len(self.probe_ms),
                   len(self.probe_failures), self.peak_rss_kb / 1024.0))
