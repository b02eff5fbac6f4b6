#!/usr/bin/python3
"""bench/run.py — ballastd side by side with Python + PyTorch (in one process, one thread) and
nginx returning a fixed body, in one run; writes bench/RESULTS.md.

Run through `make bench` (bench/run.sh): Debian's python3 (torch 1.13, numpy), servers on free
loopback ports, stopped at the end. Every figure is a median over BENCH_REPS timed repetitions
(default 9) after one untimed warm-up; ballastd and its baseline alternate within each
repetition, so that a burst of load on this shared machine hits both.

Figures (see RESULTS.md for the exact definitions and commands):
  A  /loss (4096, 1000) JSON: core vs api (decode+core+encode) vs the whole HTTP request
  B  /sample 10^6 -> 10^6 core: fast and torch generators vs torch.multinomial
  C  small /loss JSON under wrk -t2 -c64: ballastd (--threads 2 and 1) vs nginx
  D  bulk /loss, (100000, 10) float32 + int64 as .npy over HTTP vs F.cross_entropy in-process,
     with the keep-alive client and with `curl -s -F` (a process, a connection and
     Expect: 100-continue each time; beside it the same upload to nginx and a trivial curl call)
  E  bulk /sample, 10^6 float64 as .npy -> .npy over HTTP vs torch.multinomial in-process
  F  JSON /sample, 10^6 over HTTP vs json.loads + torch.multinomial + json.dumps in-process
  G  peak RSS per request, fresh ballastd --threads 1: (VmHWM after - VmRSS before) / payload
  H  JSON /loss, (100000, 10) logits + 10 class weights, reduction mean (9.9 MB) over HTTP vs
     json.loads + F.cross_entropy(float64, weight) + json.dumps in-process; and the same body
     sent by `curl --data-binary @h.json`, to ballastd and to nginx (curl users: what a curl
     call costs beyond the transfer itself, with -F (D) and --data-binary (H))
  I  JSON /weights, 100000 counts, scheme balanced (0.7 MB in, 2.5 MB out) over HTTP vs
     json.loads + N / (C count) in torch float64 + json.dumps in-process
  J  number parsing: build/bench_numparse (api/numparse.c, MB/s of array text per core)
  K  shortest printing: build/bench_dtoa (api/dtoa.c, doubles/s per core)
The summary puts each figure beside its target; H, I, F, A, D (both clients), E, G (bulk), J and
K are the targets of the issue "JSON at memory speed", B and C those of the earlier one.
"""
import argparse
import datetime
import gc
import http.client
import inspect
import io
import json
import os
import platform
import re
import shlex
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOUNDARY = "----ballast-bench-boundary-3f9a"
SMALL_BODY = b'{"logits":[[1,2],[1,3],[1,3]],"targets":[0,1,1]}'
N_SAMPLE = 10**6


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


# ---------------------------------------------------------------- processes -----------------

class Procs:
    """Every process the run starts, each in its own process group, recorded in
    WORKDIR/pgids for bench/run.sh's trap."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.live = []

    def _write(self):
        with open(os.path.join(self.workdir, "pgids"), "w") as f:
            for p in self.live:
                f.write("%d\n" % p.pid)

    def start(self, argv, stderr_path):
        err = open(stderr_path, "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True)
        err.close()
        self.live.append(p)
        self._write()
        return p

    def start_pipe(self, argv):
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
        self.live.append(p)
        self._write()
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        else:
            try:  # the group may outlive its leader (nginx workers)
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if p in self.live:
            self.live.remove(p)
            self._write()

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, seconds=15):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


class Ballastd:
    def __init__(self, procs, binary, threads, tag):
        self.argv = [binary, "--port", "0", "--bind", "127.0.0.1", "--threads", str(threads),
                     "--log-format", "none", "--max-body", "512M", "--timeout", "300",
                     "--drain-timeout", "2"]
        self.procs = procs
        self.threads = threads
        errlog = os.path.join(procs.workdir, "ballastd-%s.log" % tag)
        self.proc = procs.start(self.argv, errlog)
        end = time.monotonic() + 15
        self.port = None
        while time.monotonic() < end and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("ballastd exited: " + open(errlog).read())
            m = re.search(r"listening on \S+ port (\d+)", open(errlog).read())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("ballastd did not say its port")
        wait_port(self.port, self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        return " ".join(shlex.quote(a) for a in self.argv)

    def stop(self):
        self.procs.stop(self.proc)


class Client:
    """Python http.client, one keep-alive connection, TCP_NODELAY."""

    def __init__(self, port, timeout=300):
        self.port, self.timeout, self.conn = port, timeout, None
        self.reconnects = 0

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reconnects += 1
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        if r.will_close:
            self.conn.close()
            self.conn = None
        if r.status != 200:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
        return r, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- payloads ------------------

def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


def multipart(parts):
    """parts: (name, bytes, is_file); the format of tests/http/test_bulk.py."""
    out = []
    for name, data, is_file in parts:
        out.append(("--%s\r\n" % BOUNDARY).encode())
        if is_file:
            out.append(('Content-Disposition: form-data; name="%s"; filename="%s.npy"\r\n'
                        "Content-Type: application/octet-stream\r\n\r\n" % (name, name)).encode())
        else:
            out.append(('Content-Disposition: form-data; name="%s"\r\n\r\n' % name).encode())
        out.append(data)
        out.append(b"\r\n")
    out.append(("--%s--\r\n" % BOUNDARY).encode())
    return b"".join(out)


MP_HEADERS = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}
JSON_HEADERS = {"Content-Type": "application/json"}


# ---------------------------------------------------------------- baselines -----------------
# In-process Python + PyTorch (torch.set_num_threads(1)); their source goes into RESULTS.md.

def torch_multinomial(w, g):
    return torch.multinomial(torch.from_numpy(w), 10**6, True, generator=g)


def torch_ce_f32(x, y):
    return F.cross_entropy(torch.from_numpy(x), torch.from_numpy(y)).item()


def torch_ce_f64(x, y):
    return F.cross_entropy(torch.from_numpy(x).double(), torch.from_numpy(y)).item()


def python_json_sample(body, g):
    doc = json.loads(body)
    w = torch.tensor(doc["weights"], dtype=torch.float64)
    idx = torch.multinomial(w, len(doc["weights"]), True, generator=g)
    return json.dumps({"indices": idx.tolist()})


def python_json_loss(body):
    doc = json.loads(body)
    x = torch.tensor(doc["logits"], dtype=torch.float64)
    y = torch.tensor(doc["targets"], dtype=torch.int64)
    w = torch.tensor(doc["weights"], dtype=torch.float64)
    loss = F.cross_entropy(x, y, weight=w, reduction=doc["reduction"])
    return json.dumps({"loss": loss.item(), "reduction": doc["reduction"],
                       "total_weight": w[y].sum().item()})


def python_json_weights(body):
    doc = json.loads(body)
    counts = torch.tensor(doc["counts"], dtype=torch.float64)
    w = counts.sum() / (len(doc["counts"]) * counts)  # balanced: N / (C n_c)
    return json.dumps({"weights": w.tolist(), "counts": doc["counts"],
                       "num_classes": len(doc["counts"]), "scheme": doc["scheme"],
                       "normalize": "none"})


# ---------------------------------------------------------------- timing --------------------

def timed(fn):
    gc.collect()
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def med(xs):
    return statistics.median(xs)


def ms(x):
    return "%.1f" % (x * 1e3) if x * 1e3 >= 10 else "%.2f" % (x * 1e3)


def spread(xs):
    return "%s [%s–%s]" % (ms(med(xs)), ms(min(xs)), ms(max(xs)))


# ---------------------------------------------------------------- machine -------------------

def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def top_cpu():
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"],
                             capture_output=True, text=True, timeout=10).stdout.splitlines()
    except Exception as e:  # noqa: BLE001
        return ["(ps failed: %s)" % e]
    return [line[:150] for line in out[:6]]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mhz = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                mhz = line.split(":", 1)[1].strip()
                break
    mem = ""
    with open("/proc/meminfo") as f:
        mem = f.readline().split(":", 1)[1].strip()
    return {"nproc": os.cpu_count(), "model": model, "mhz": mhz, "kernel": platform.release(),
            "mem": mem, "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "torch_threads": torch.get_num_threads()}


def wait_for_load(max_wait):
    start = loadavg()
    t0 = time.monotonic()
    while float(loadavg()[0]) > 1.0 and time.monotonic() - t0 < max_wait:
        log("load average %s > 1: waiting (%.0f of %d s)" % (loadavg()[0], time.monotonic() - t0,
                                                              max_wait))
        time.sleep(10)
    return start, time.monotonic() - t0, loadavg()


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return "; ".join("%s %s %s threads=%s" % (d.get("internal_api"), d.get("version"),
                                                   d.get("architecture"), d.get("num_threads"))
                         for d in threadpool_info()) or "none loaded"
    except Exception:  # noqa: BLE001
        return "threadpoolctl not installed"


# ---------------------------------------------------------------- figures -------------------

class Core:
    """One `bench_core --interactive NAME` process: each step() runs the benchmark once in that
    process and returns the time it measured itself (seconds)."""

    def __init__(self, procs, build, name, extra=()):
        self.argv = [os.path.join(build, "bench_core"), "--interactive"] + list(extra) + [name]
        self.name = name
        self.proc = procs.start_pipe(self.argv)
        self.procs = procs

    def step(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("%s ended: %s" % (self.name, self.proc.wait()))
        return float(line) / 1e3

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.procs.stop(self.proc)


def interleave(reps, fns):
    """fns: {name: callable}; one untimed warm-up round, then reps rounds, the callables
    alternating within each round. A callable of a name starting with "core" times itself
    (returns seconds); the others are timed here. Returns {name: [seconds]}."""
    times = {k: [] for k in fns}
    for i in range(reps + 1):
        for k, fn in fns.items():
            if k.startswith("core"):
                dt = fn()
            else:
                dt, _ = timed(fn)
            if i:
                times[k].append(dt)
    return times


def parse_wrk(out):
    r = {"rps": None, "errors": "", "p50": "", "p99": "", "raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pat in (r"Non-2xx or 3xx responses: \d+", r"Socket errors:[^\n]*"):
        m = re.search(pat, out)
        if m:
            r["errors"] += m.group(0) + "; "
    m = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    if m:
        r["p50"] = m.group(1)
    m = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if m:
        r["p99"] = m.group(1)
    return r


def group_cpu(pgid):
    """CPU seconds (user + system, all threads) of the processes of one process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def wrk(lua, port, seconds, pgid=None):
    """One wrk run; also the CPU time the server's process group and wrk used per request."""
    argv = ["wrk", "-t2", "-c64", "-d%ds" % seconds, "--latency", "-s", lua,
            "http://127.0.0.1:%d/loss" % port]
    c0 = group_cpu(pgid) if pgid else 0
    t0 = os.times()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    t1 = os.times()
    res = parse_wrk(out)
    m = re.search(r"(\d+) requests in", out)
    if m and pgid:
        n = int(m.group(1))
        res["srv_us"] = (group_cpu(pgid) - c0) / n * 1e6
        res["wrk_us"] = ((t1.children_user - t0.children_user)
                         + (t1.children_system - t0.children_system)) / n * 1e6
    return argv, res


def start_nginx(procs, body, workdir):
    d = os.path.join(workdir, "nginx")
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    port = free_port()
    if "'" in body or "\\" in body:
        raise RuntimeError("body not quotable for nginx")
    conf = """worker_processes 2;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    client_body_temp_path %(d)s/client_body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            default_type application/json;
            return 200 '%(body)s';
        }
    }
}
""" % {"d": d, "port": port, "body": body}
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    nginx = "nginx" if subprocess.run(["sh", "-c", "command -v nginx"], capture_output=True).returncode == 0 \
        else "/usr/sbin/nginx"
    argv = [nginx, "-p", d + "/", "-e", d + "/logs/error.log", "-c", path]
    p = procs.start(argv, os.path.join(d, "logs", "stderr.log"))
    wait_port(port, p)
    return p, port, argv, conf


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no %s" % key)


def rss_case(procs, binary, path, body, headers, reps):
    """Fresh ballastd --threads 1 per measurement: VmRSS before, one request, VmHWM after."""
    out = []
    for i in range(reps):
        s = Ballastd(procs, binary, 1, "rss")
        try:
            c = Client(s.port)
            c.request("GET", "/healthz")
            before = vm(s.pid, "VmRSS")
            hwm_before = vm(s.pid, "VmHWM")
            _, data = c.request("POST", path, body, headers)
            after = vm(s.pid, "VmHWM")
            c.close()
            out.append({"before": before, "hwm_before": hwm_before, "after": after,
                        "resp": len(data)})
        finally:
            s.stop()
    return out


def run_curl(argv, cwd):
    """One curl process; its stdout (the response body)."""
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d %s" % (" ".join(argv), p.returncode, p.stderr[:300]))
    return p.stdout


def run_tool(argv, seconds):
    """build/bench_numparse, build/bench_dtoa: their whole stdout."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=seconds)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d %s" % (" ".join(argv), p.returncode, p.stderr[-500:]))
    return p.stdout


NUMPARSE_ROW = re.compile(r"^(\S+)\s+([\d.]+)\s+(\d+) \[(\d+)-(\d+)\]\s+(\d+) \[\d+-\d+\]\s+"
                          r"(\d+) \[\d+-\d+\]\s+([\d.]+)x(?:\s+(\d+) (\d+) (\d+))?\s*$")


def parse_numparse(out):
    """{array: {"mb", "num_parse", "min", "max", "strtod", "api"}} (MB/s medians of the thread's
    CPU time), with "wall": {"num_parse", "strtod", "api"} (wall-clock medians) when printed."""
    rows = {}
    for line in out.splitlines():
        m = NUMPARSE_ROW.match(line)
        if m:
            rows[m.group(1)] = {"mb": float(m.group(2)), "num_parse": int(m.group(3)),
                                "min": int(m.group(4)), "max": int(m.group(5)),
                                "strtod": int(m.group(6)), "api": int(m.group(7))}
            if m.group(9):
                rows[m.group(1)]["wall"] = {"num_parse": int(m.group(9)),
                                            "strtod": int(m.group(10)), "api": int(m.group(11))}
    if not rows:
        raise RuntimeError("bench_numparse printed no row: " + out[-500:])
    return rows


def parse_dtoa(out):
    """{(set, printer): Mdoubles/s} from bench_dtoa's "%-15s %-22s" + 4 numbers rows."""
    rows = {}
    for line in out.splitlines()[2:]:
        parts = line.rsplit(None, 4)
        if len(parts) != 5:
            continue
        try:
            mps = float(parts[2])
        except ValueError:
            continue
        rows[(parts[0][:15].strip(), parts[0][15:].strip())] = mps
    if not rows:
        raise RuntimeError("bench_dtoa printed no row: " + out[-500:])
    return rows


# ---------------------------------------------------------------- main ----------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT") or os.path.join(ROOT, "bench", "RESULTS.md"))
    args = ap.parse_args()
    reps = max(env_int("BENCH_REPS", 9), 1)
    wrk_reps = max(env_int("BENCH_WRK_REPS", 5), 1)
    wrk_s = max(env_int("BENCH_WRK_SECONDS", 10), 1)
    max_wait = env_int("BENCH_MAX_WAIT", 180)
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    binary = os.path.join(build, "ballastd")
    wd = args.workdir
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    procs = Procs(wd)

    stopping = []

    def on_signal(signum, _frame):
        if stopping:  # already stopping: let the cleanup finish
            return
        stopping.append(signum)
        raise SystemExit(128 + signum)
    # Set explicitly: started in the background by run.sh, SIGINT would be ignored.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    t_start = time.monotonic()
    started_at = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    mach = machine()
    load_first, waited, load_start = wait_for_load(max_wait)
    top_start = top_cpu()
    log("load average at start %s (waited %.0f s)" % (" ".join(load_start), waited))
    R = {"wd": wd, "loads": []}
    try:
        # ---- payloads
        rng = np.random.default_rng(20240601)
        w = rng.random(N_SAMPLE)
        x = rng.standard_normal((100000, 10)).astype(np.float32) * 2
        y = rng.integers(0, 10, 100000, dtype=np.int64)
        body_d = multipart([("logits", npy_bytes(x), True), ("targets", npy_bytes(y), True)])
        body_e = multipart([("weights", npy_bytes(w), True), ("request", b'{"seed":1}', False)])
        body_f = json.dumps({"weights": w.tolist(), "seed": 1}).encode()
        hdr_e = dict(MP_HEADERS, Accept="application/x-npy")
        # H: the logits of D as float64 rounded to 5 decimals (9.9 MB of JSON), 10 class weights
        cw = np.round(rng.random(10) + 0.5, 3)
        body_h = json.dumps({"logits": np.round(x.astype(np.float64), 5).tolist(),
                             "targets": y.tolist(), "weights": cw.tolist(),
                             "reduction": "mean"}).encode()
        # I: 100000 class counts in [1, 100000)
        counts = rng.integers(1, 100000, 100000, dtype=np.int64)
        body_i = json.dumps({"counts": counts.tolist(), "scheme": "balanced"}).encode()
        # D with curl -F: the same arrays as files
        np.save(os.path.join(wd, "x.npy"), x, allow_pickle=False)
        np.save(os.path.join(wd, "y.npy"), y, allow_pickle=False)

        srv = Ballastd(procs, binary, 2, "t2")
        srv1 = Ballastd(procs, binary, 1, "t1")
        cl = Client(srv.port)
        core = {}

        # nginx returning ballastd's answer to the small /loss (C); started here because D also
        # uploads to it with curl -F (the cost of the upload alone)
        small = Client(srv.port)
        _, small_resp = small.request("POST", "/loss", SMALL_BODY, JSON_HEADERS)
        small.close()
        small_resp = small_resp.decode()
        ng, ng_port, ng_argv, ng_conf = start_nginx(procs, small_resp, wd)
        chk = Client(ng_port)
        r, d = chk.request("POST", "/loss", SMALL_BODY, JSON_HEADERS)
        chk.close()
        assert d.decode() == small_resp and r.getheader("Content-Type") == "application/json"

        # ---- A: /loss (4096, 1000) JSON: core, api in-process, HTTP
        R["loads"].append(('A', loadavg()[0]))
        log("A: /loss 4096x1000 JSON: core, api, HTTP (%d reps)" % reps)
        loss_json = os.path.join(wd, "loss_4096x1000.json")
        c_loss = Core(procs, build, "loss_ce_4096x1000")
        c_api = Core(procs, build, "api_loss_json_4096x1000", ["--dump-loss-json", loss_json])
        c_api.step()  # the setup writes the body first
        with open(loss_json, "rb") as f:
            body_a = f.read()
        R["A"] = interleave(reps, {
            "core": c_loss.step, "core_api": c_api.step,
            "http": lambda: cl.request("POST", "/loss", body_a, JSON_HEADERS)})
        _, resp_a = cl.request("POST", "/loss", body_a, JSON_HEADERS)
        R["A_resp"] = resp_a.decode().strip()
        R["core_cmds"] = [c_loss.argv, c_api.argv]
        c_loss.close()
        c_api.close()

        # ---- B: the sampling core and torch.multinomial; E: bulk /sample over HTTP
        R["loads"].append(('B/E', loadavg()[0]))
        log("B/E: /sample 1e6: core, torch.multinomial, .npy over HTTP (%d reps)" % reps)
        c_fast = Core(procs, build, "sample_fast_1e6_repl")
        c_tgen = Core(procs, build, "sample_torch_1e6_repl")
        g = torch.Generator().manual_seed(1)
        R["E"] = interleave(reps, {
            "core_fast": c_fast.step, "core_torchgen": c_tgen.step,
            "torch": lambda: torch_multinomial(w, g),
            "http": lambda: cl.request("POST", "/sample", body_e, hdr_e)})
        r, data = cl.request("POST", "/sample", body_e, hdr_e)
        idx = np.load(io.BytesIO(data))
        assert r.getheader("Content-Type") == "application/x-npy", r.getheader("Content-Type")
        assert idx.shape == (N_SAMPLE,) and idx.dtype == np.int64 and 0 <= idx.min() and idx.max() < N_SAMPLE
        R["E_resp_bytes"] = len(data)
        R["core_cmds"] += [c_fast.argv, c_tgen.argv]
        c_fast.close()
        c_tgen.close()

        # ---- D: bulk /loss over HTTP vs F.cross_entropy in-process
        R["loads"].append(('D', loadavg()[0]))
        log("D: /loss 100000x10 float32 .npy over HTTP (keep-alive and curl -F) vs "
            "F.cross_entropy (%d reps)" % reps)
        curl = shutil.which("curl") or "curl"
        curl_d = [curl, "-s", "-F", "logits=@x.npy", "-F", "targets=@y.npy",
                  "http://127.0.0.1:%d/loss" % srv.port]
        curl_ng = curl_d[:-1] + ["http://127.0.0.1:%d/loss" % ng_port]
        curl_triv = [curl, "-s", "http://127.0.0.1:%d/healthz" % srv.port]
        # untimed checks: every curl call answers, both servers receive the whole upload
        for argv in (curl_d, curl_ng):
            w_out = run_curl(argv[:-1] + ["-o", "/dev/null", "-w", "%{http_code} %{size_upload}",
                                          argv[-1]], wd).decode().split()
            assert w_out[0] == "200", (argv, w_out)
            R.setdefault("D_curl_upload", []).append(int(w_out[1]))
        run_curl(curl_triv, wd)
        c_d = Core(procs, build, "loss_ce_100000x10")
        R["D"] = interleave(reps, {
            "core": c_d.step,
            "http": lambda: cl.request("POST", "/loss", body_d, MP_HEADERS),
            "torch_f32": lambda: torch_ce_f32(x, y),
            "torch_f64": lambda: torch_ce_f64(x, y),
            "curl": lambda: run_curl(curl_d, wd),
            "curl_nginx": lambda: run_curl(curl_ng, wd),
            "curl_trivial": lambda: run_curl(curl_triv, wd)})
        R["core_cmds"].append(c_d.argv)
        c_d.close()
        _, data = cl.request("POST", "/loss", body_d, MP_HEADERS)
        loss_d = json.loads(data)["loss"]
        ref64, ref32 = torch_ce_f64(x, y), torch_ce_f32(x, y)
        R["D_check"] = (loss_d, ref64, ref32)
        assert abs(loss_d - ref64) <= 1e-12 * abs(ref64), R["D_check"]
        R["D_resp"] = data.decode().strip()
        loss_curl = json.loads(run_curl(curl_d, wd))["loss"]
        assert loss_curl == loss_d, (loss_curl, loss_d)
        R["D_curl_cmds"] = [" ".join(a).replace(":%d/" % srv.port, ":PORT/")
                            .replace(":%d/" % ng_port, ":NGINX_PORT/") for a in (curl_d, curl_ng, curl_triv)]

        # ---- F: JSON /sample over HTTP vs json.loads + torch.multinomial + json.dumps
        R["loads"].append(('F', loadavg()[0]))
        log("F: /sample 1e6 JSON over HTTP vs Python json + torch.multinomial (%d reps)" % reps)
        c_f = Core(procs, build, "api_sample_json_1e6")
        g2 = torch.Generator().manual_seed(1)
        R["F"] = {"core_api": [], "http": [], "http_parse": [], "python": []}
        doc = None
        for i in range(reps + 1):
            t_api = c_f.step()
            gc.collect()
            t0 = time.perf_counter()
            _, d = cl.request("POST", "/sample", body_f, JSON_HEADERS)
            t1 = time.perf_counter()
            doc = json.loads(d)
            t2 = time.perf_counter()
            R["F_resp_bytes"] = len(d)
            del d
            dt, _ = timed(lambda: python_json_sample(body_f, g2))
            if i:
                R["F"]["core_api"].append(t_api)
                R["F"]["http"].append(t1 - t0)
                R["F"]["http_parse"].append(t2 - t0)
                R["F"]["python"].append(dt)
        assert len(doc["indices"]) == N_SAMPLE
        R["core_cmds"].append(c_f.argv)
        c_f.close()
        doc = None

        # ---- H: JSON /loss (100000, 10) with class weights vs Python json + F.cross_entropy
        R["loads"].append(('H', loadavg()[0]))
        log("H: /loss 100000x10 JSON with weights over HTTP vs Python json + F.cross_entropy "
            "(%d reps)" % reps)
        # the same body with curl --data-binary @file (a process, a connection and, for a
        # body this large, Expect: 100-continue), to ballastd and to nginx, and a trivial call
        with open(os.path.join(wd, "h.json"), "wb") as f:
            f.write(body_h)
        curl_h = [curl, "-s", "-H", "Content-Type: application/json", "--data-binary", "@h.json",
                  "http://127.0.0.1:%d/loss" % srv.port]
        curl_h_ng = curl_h[:-1] + ["http://127.0.0.1:%d/loss" % ng_port]
        for argv in (curl_h, curl_h_ng):
            w_out = run_curl(argv[:-1] + ["-o", "/dev/null", "-w", "%{http_code} %{size_upload}",
                                          argv[-1]], wd).decode().split()
            assert w_out[0] == "200" and int(w_out[1]) == len(body_h), (argv, w_out)
        R["H"] = interleave(reps, {
            "http": lambda: cl.request("POST", "/loss", body_h, JSON_HEADERS),
            "python": lambda: python_json_loss(body_h),
            "curl": lambda: run_curl(curl_h, wd),
            "curl_nginx": lambda: run_curl(curl_h_ng, wd),
            "curl_trivial": lambda: run_curl(curl_triv, wd)})
        R["H_curl_cmds"] = [" ".join(shlex.quote(x) for x in a).replace(":%d/" % srv.port, ":PORT/")
                            .replace(":%d/" % ng_port, ":NGINX_PORT/") for a in (curl_h, curl_h_ng)]
        _, data = cl.request("POST", "/loss", body_h, JSON_HEADERS)
        R["H_resp"] = data.decode().strip()
        ref_h = json.loads(python_json_loss(body_h))
        loss_h = json.loads(data)["loss"]
        R["H_check"] = (loss_h, ref_h["loss"])
        assert json.loads(run_curl(curl_h, wd))["loss"] == loss_h
        assert abs(loss_h - ref_h["loss"]) <= 1e-10 * abs(ref_h["loss"]), R["H_check"]

        # ---- I: JSON /weights, 100000 counts, balanced vs Python json + torch + json
        R["loads"].append(('I', loadavg()[0]))
        log("I: /weights 100000 counts balanced JSON over HTTP vs Python json + torch (%d reps)"
            % reps)
        R["I"] = interleave(reps, {
            "http": lambda: cl.request("POST", "/weights", body_i, JSON_HEADERS),
            "python": lambda: python_json_weights(body_i)})
        _, data = cl.request("POST", "/weights", body_i, JSON_HEADERS)
        R["I_resp_bytes"] = len(data)
        py_i = python_json_weights(body_i)
        R["I_py_bytes"] = len(py_i)
        w_i, w_py = np.array(json.loads(data)["weights"]), np.array(json.loads(py_i)["weights"])
        R["I_check"] = float(np.max(np.abs(w_i - w_py) / w_py))
        assert R["I_check"] <= 1e-12, R["I_check"]
        del data, py_i, w_i, w_py
        cl.close()
        for k, v in (("loss_ce_4096x1000", R["A"]["core"]),
                     ("api_loss_json_4096x1000", R["A"]["core_api"]),
                     ("sample_fast_1e6_repl", R["E"]["core_fast"]),
                     ("sample_torch_1e6_repl", R["E"]["core_torchgen"]),
                     ("loss_ce_100000x10", R["D"]["core"]),
                     ("api_sample_json_1e6", R["F"]["core_api"])):
            core[k] = med(v)
        R["core"] = core

        # ---- C: small requests under wrk, ballastd (--threads 2, 1) vs nginx
        lua = os.path.join(wd, "post.lua")
        lua_text = ('wrk.method = "POST"\nwrk.body = \'%s\'\n'
                    'wrk.headers["Content-Type"] = "application/json"\n' % SMALL_BODY.decode())
        with open(lua, "w") as f:
            f.write(lua_text)
        targets = {"nginx": (ng_port, ng.pid), "ballastd --threads 2": (srv.port, srv.pid),
                   "ballastd --threads 1": (srv1.port, srv1.pid)}
        R["loads"].append(('C', loadavg()[0]))
        log("C: wrk warm-up (2 s each)")
        for port, _ in targets.values():
            wrk(lua, port, 2)
        R["C"] = {k: [] for k in targets}
        for i in range(wrk_reps):
            for k, (port, pgid) in targets.items():
                log("C: wrk %s, repetition %d/%d (%d s)" % (k, i + 1, wrk_reps, wrk_s))
                argv, res = wrk(lua, port, wrk_s, pgid)
                if res["rps"] is None:
                    raise RuntimeError("wrk said: " + res["raw"][-500:])
                R["C"][k].append(res)
        R["C_cmd"] = " ".join(argv[:-1]).replace(wd, "$TMP") + " http://127.0.0.1:PORT/loss"
        R["C_lua"], R["C_conf"], R["C_ng_argv"] = lua_text, ng_conf, ng_argv
        R["C_resp"] = small_resp
        procs.stop(ng)
        R["srv_cmd"] = srv.command()
        R["srv1_cmd"] = srv1.command()
        srv.stop()
        srv1.stop()

        # ---- G: peak RSS per request
        R["loads"].append(('G', loadavg()[0]))
        log("G: peak RSS per request (fresh ballastd --threads 1 each)")
        greps = max(3, min(reps, 3))
        R["G"] = [
            ("bulk /loss (D): .npy parts", "bulk", len(body_d),
             rss_case(procs, binary, "/loss", body_d, MP_HEADERS, greps)),
            ("bulk /sample (E): .npy part, .npy response", "bulk", len(body_e),
             rss_case(procs, binary, "/sample", body_e, hdr_e, greps)),
            ("JSON /sample (F)", "JSON", len(body_f),
             rss_case(procs, binary, "/sample", body_f, JSON_HEADERS, greps)),
            ("JSON /loss (A)", "JSON", len(body_a),
             rss_case(procs, binary, "/loss", body_a, JSON_HEADERS, greps)),
        ]
        R["sizes"] = {"A": len(body_a), "D": len(body_d), "E": len(body_e), "F": len(body_f),
                      "H": len(body_h), "I": len(body_i)}

        # ---- J, K: number parsing and printing, in-process C (no server running)
        R["loads"].append(('J/K', loadavg()[0]))
        np_argv = [os.path.join(build, "bench_numparse")] + (
            shlex.split(os.environ.get("BENCH_NUMPARSE_ARGS", "")) or ["--reps", str(min(reps, 99))])
        log("J: %s" % " ".join(np_argv))
        R["J_argv"], R["J_out"] = np_argv, run_tool(np_argv, 600)
        R["J"] = parse_numparse(R["J_out"])
        dt_argv = [os.path.join(build, "bench_dtoa")] + (
            shlex.split(os.environ.get("BENCH_DTOA_ARGS", "")) or ["--reps", str(min(reps, 5))])
        log("K: %s" % " ".join(dt_argv))
        R["K_argv"], R["K_out"] = dt_argv, run_tool(dt_argv, 900)
        R["K"] = parse_dtoa(R["K_out"])
    finally:
        procs.stop_all()
    load_end = loadavg()
    top_end = top_cpu()
    elapsed = time.monotonic() - t_start
    text = report(R, mach, started_at, load_first, waited, load_start, load_end, top_start,
                  top_end, elapsed, reps, wrk_reps, wrk_s, args.build)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    log("wrote %s (%.0f s)" % (args.out, elapsed))


def yes(b):
    return "**met**" if b else "**not met**"


def report(R, mach, started_at, load_first, waited, load_start, load_end, top_start, top_end,
           elapsed, reps, wrk_reps, wrk_s, build):
    c = R["core"]
    L = []
    a = L.append
    a("# ballast benchmarks\n")
    a("Written by `make bench` (mk/bench.mk → bench/run.sh → bench/run.py) on %s, in %.0f s. "
      "Do not edit by hand: rerun `make bench`.\n" % (started_at, elapsed))
    a("Every time is the median of %d timed repetitions after one untimed warm-up, given as "
      "`median [min–max]` in ms; where ballastd and a baseline are compared they alternate within "
      "each repetition. Ratios are ratios of medians.\n" % reps)

    # ---- summary
    A_http = med(R["A"]["http"])
    core_share = c["loss_ce_4096x1000"] / A_http
    dec_share = (c["api_loss_json_4096x1000"] - c["loss_ce_4096x1000"]) / A_http
    B_ratio = med(R["E"]["torch"]) / c["sample_fast_1e6_repl"]
    Cn = med([r["rps"] for r in R["C"]["nginx"]])
    C2 = med([r["rps"] for r in R["C"]["ballastd --threads 2"]])
    C1 = med([r["rps"] for r in R["C"]["ballastd --threads 1"]])
    D_http = med(R["D"]["http"])
    D32, D64 = med(R["D"]["torch_f32"]), med(R["D"]["torch_f64"])
    E_http, E_torch = med(R["E"]["http"]), med(R["E"]["torch"])
    F_http, F_hp, F_py = med(R["F"]["http"]), med(R["F"]["http_parse"]), med(R["F"]["python"])
    D_curl, D_curl_ng = med(R["D"]["curl"]), med(R["D"]["curl_nginx"])
    D_curl_triv = med(R["D"]["curl_trivial"])
    H_http, H_py = med(R["H"]["http"]), med(R["H"]["python"])
    H_curl, H_curl_ng = med(R["H"]["curl"]), med(R["H"]["curl_nginx"])
    H_curl_triv = med(R["H"]["curl_trivial"])
    # curl users: what a curl call costs beyond the same upload to nginx (curl's process, its
    # connection, Expect: 100-continue and the transfer itself), beside the keep-alive request
    D_beyond, H_beyond = D_curl - D_curl_ng, H_curl - H_curl_ng
    I_http, I_py = med(R["I"]["http"]), med(R["I"]["python"])
    J, K = R["J"], R["K"]
    J_low = [k for k, v in J.items() if v["num_parse"] < 400]
    K_sets = [k for (k, p) in K if p == "dtoa_shortest"]
    K_low = [k for k in K_sets if K[(k, "dtoa_shortest")] < 20]
    G = []
    for name, kind, size, runs in R["G"]:
        ratio = med([(r["after"] - r["before"]) / size for r in runs])
        G.append((name, kind, size, runs, ratio, 3 if kind == "bulk" else 10))

    a("## Summary\n")
    a("Targets of the issue \"JSON at memory speed\": H and I (JSON /loss and /weights against "
      "Python in-process), F (≤ 0.2×), A (codec share ≤ 50%), D with both clients (≤ 1×), "
      "E (≥ 6×), G (bulk ≤ 3×), J (parsing ≥ 400 MB/s) and K (printing ≥ 20 M doubles/s); "
      "B and C are the targets of the earlier issue.\n")
    a("| figure | measured | target | |")
    a("| --- | --- | --- | --- |")
    a("| A. /loss (4096, 1000) JSON: codec share (JSON decode+encode) of the whole HTTP request | "
      "%.1f%% (decode+encode %s ms of %s ms; core %.1f%%, %s ms) | codec share ≤ 50%% | %s |"
      % (dec_share * 100, ms(c["api_loss_json_4096x1000"] - c["loss_ce_4096x1000"]), ms(A_http),
         core_share * 100, ms(c["loss_ce_4096x1000"]), yes(dec_share <= 0.50)))
    a("| B. /sample core 10^6 → 10^6: torch.multinomial ÷ fast | %.1f× (%s vs %s ms) | ≥ 5× | %s |"
      % (B_ratio, ms(med(R["E"]["torch"])), ms(c["sample_fast_1e6_repl"]), yes(B_ratio >= 5)))
    a("| 1 (C). small /loss JSON, wrk -t2 -c64: ballastd ÷ nginx req/s | --threads 2: %.0f%%; "
      "--threads 1: %.0f%% | ≥ 50%% | %s (--threads 2), %s (--threads 1) |"
      % (C2 / Cn * 100, C1 / Cn * 100, yes(C2 / Cn >= 0.5), yes(C1 / Cn >= 0.5)))
    a("| 2 (D). bulk /loss (100000, 10) f32 .npy over HTTP ÷ F.cross_entropy in-process | "
      "%.2f× the float32 time (%s vs %s ms); %.2f× the .double() time (%s ms) | ≤ 1× (no slower) "
      "than float32 | %s (vs float32), %s (vs .double()) |"
      % (D_http / D32, ms(D_http), ms(D32), D_http / D64, ms(D64), yes(D_http <= D32),
         yes(D_http <= D64)))
    a("| 2 (D), curl -F. the same bulk /loss sent by `curl -s -F logits=@x.npy -F targets=@y.npy` "
      "(a process, a connection and Expect: 100-continue each time) ÷ F.cross_entropy float32 "
      "in-process | %.2f× (%s vs %s ms); the same upload to nginx: %s ms; a trivial curl "
      "(GET /healthz): %s ms, without which %.2f× | ≤ 1× (no slower) than float32 | %s |"
      % (D_curl / D32, ms(D_curl), ms(D32), ms(D_curl_ng), ms(D_curl_triv),
         (D_curl - D_curl_triv) / D32, yes(D_curl <= D32)))
    a("| curl users. What a curl call costs beyond the transfer itself (curl to ballastd − the "
      "same curl upload to nginx, which discards it) ÷ the same request on a keep-alive "
      "connection: `curl -F` with D's .npy parts; `curl --data-binary @h.json` with H's JSON | "
      "-F: %.2f× (%s − %s ms vs %s ms); --data-binary: %.2f× (%s − %s ms vs %s ms) | ≤ 1× | "
      "%s (-F), %s (--data-binary) |"
      % (D_beyond / D_http, ms(D_curl), ms(D_curl_ng), ms(D_http), H_beyond / H_http,
         ms(H_curl), ms(H_curl_ng), ms(H_http), yes(D_beyond <= D_http),
         yes(H_beyond <= H_http)))
    a("| 3 (E). bulk /sample 10^6 .npy → .npy over HTTP vs torch.multinomial in-process | "
      "%.2f× faster (%s vs %s ms) | ≥ 6× | %s |"
      % (E_torch / E_http, ms(E_http), ms(E_torch), yes(E_torch / E_http >= 6)))
    a("| 4 (F). JSON /sample 10^6 over HTTP (round trip alone) vs json.loads + torch.multinomial + "
      "json.dumps | %.2f× the Python time (%s vs %s ms); with the client's json.loads of the "
      "response: %.2f× (%s ms) | ≤ 0.2× (round trip alone) | %s |"
      % (F_http / F_py, ms(F_http), ms(F_py), F_hp / F_py, ms(F_hp), yes(F_http <= 0.2 * F_py)))
    a("| H. JSON /loss (100000, 10) + 10 class weights, mean, %.1f MB: ballastd over HTTP ÷ "
      "json.loads + F.cross_entropy(float64, weight) + json.dumps in-process | %.2f× (%s vs %s ms) "
      "| ≤ 0.35× | %s |"
      % (R["sizes"]["H"] / 1e6, H_http / H_py, ms(H_http), ms(H_py), yes(H_http <= 0.35 * H_py)))
    a("| I. JSON /weights, 100000 counts, balanced (%.2f MB in, %.2f MB out): ballastd over HTTP ÷ "
      "json.loads + N / (C count) in torch float64 + json.dumps in-process | %.2f× (%s vs %s ms) "
      "| ≤ 0.25× | %s |"
      % (R["sizes"]["I"] / 1e6, R["I_resp_bytes"] / 1e6, I_http / I_py, ms(I_http), ms(I_py),
         yes(I_http <= 0.25 * I_py)))
    for name, kind, size, runs, ratio, lim in G:
        a("| 5 (G). peak RSS, %s | %.2f× payload (%.1f MB) | ≤ %d× | %s |"
          % (name, ratio, size / 1e6, lim, yes(ratio <= lim)))
    a("| J. number parsing, api/numparse.c num_parse (bench_numparse, the thread's CPU time), MB/s "
      "of array text per core, per array | %s (the whole decoder, api_parse_request: %s) | ≥ 400 MB/s | %s |"
      % (", ".join("%s %d" % (k, v["num_parse"]) for k, v in J.items()),
         ", ".join("%d" % v["api"] for v in J.values()),
         "%s (%d of %d arrays%s)" % (yes(not J_low), len(J) - len(J_low), len(J),
                                     "; below: " + ", ".join(J_low) if J_low else "")))
    a("| K. shortest printing, api/dtoa.c dtoa_shortest (bench_dtoa, the thread's CPU time), "
      "M doubles/s per core, per set | %s (the JSON writer, jw_doubles: %s) | ≥ 20 M doubles/s "
      "| %s |"
      % (", ".join("%s %.1f" % (k, K[(k, "dtoa_shortest")]) for k in K_sets),
         ", ".join("%.1f" % K[(k, "jw_doubles (writer)")] for k in K_sets
                   if (k, "jw_doubles (writer)") in K),
         "%s (%d of %d sets%s)" % (yes(not K_low), len(K_sets) - len(K_low), len(K_sets),
                                   "; below: " + ", ".join(K_low) if K_low else "")))
    a("")

    # ---- machine
    a("## Machine\n")
    a("| | |\n| --- | --- |")
    a("| nproc | %s |" % mach["nproc"])
    a("| CPU | %s (%s MHz reported) |" % (mach["model"], mach["mhz"]))
    a("| kernel | %s |" % mach["kernel"])
    a("| memory | %s |" % mach["mem"])
    a("| load average at start | %s (first seen %s; waited %.0f s for the 1-min load to drop ≤ 1) |"
      % (" ".join(load_start), " ".join(load_first), waited))
    a("| 1-min load at each part's start | %s |" % ", ".join("%s %s" % x for x in R["loads"]))
    a("| load average at end | %s |" % " ".join(load_end))
    a("| Python | %s (/usr/bin/python3, Debian) |" % mach["python"])
    a("| torch / numpy | %s / %s; torch.set_num_threads(1) (was %s) |"
      % (mach["torch"], mach["numpy"], mach["torch_threads"]))
    a("| numpy BLAS (threadpoolctl) | %s; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the run "
      "(no BLAS call is timed) |" % blas_info())
    a("| wrk / nginx | %s / %s |" % (tool_version(["wrk", "-v"]), tool_version(["nginx", "-v"])))
    a("")
    a("The machine is shared (2 cores): other processes may run during the run. Busiest "
      "processes at the start and at the end (`ps -eo pid,pcpu,etime,args --sort=-pcpu`; pcpu is "
      "the lifetime average):\n")
    a("```\n" + "\n".join(top_start) + "\n---- end ----\n" + "\n".join(top_end) + "\n```\n")

    # ---- commands
    a("## Commands\n")
    a("```sh\nmake bench          # = make all build/bench_core build/bench_numparse build/bench_dtoa bench-deps; bench/run.sh %s\n```\n" % build)
    a("- In-process core and api (C, one thread), one process per benchmark, each run started by "
      "a line on its stdin so that it alternates with the HTTP requests and PyTorch; each prints "
      "the time it measured itself (`bench/bench_core.c`, built by `make bench` with `%s`):\n"
      % "cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Ilib -Iapi -o build/bench_core "
        "bench/bench_core.c build/libballast_api.a build/libballast.a -ljansson -lmvec -lm")
    a("```sh")
    for argv in R["core_cmds"]:
        a(" ".join(argv).replace(ROOT + "/", "").replace(R["wd"], "$TMP"))
    a("```\n")
    a("- ballastd for A, D, E, F, H, I and C: `%s` (and `--threads 1` for C); the port is the one it "
      "prints. G starts a fresh `… --threads 1` per measurement." % R["srv_cmd"].replace(ROOT + "/", ""))
    a("- HTTP client (A, D, E, F, G, H, I): Python `http.client.HTTPConnection`, one keep-alive "
      "connection with TCP_NODELAY, the body prebuilt as bytes; the time is from `request()` to "
      "the last byte of the response read (`getresponse().read()`), i.e. end to end.")
    a("- Baselines, in the same Python process, `torch.set_num_threads(1)`, from the same NumPy "
      "arrays / bytes:\n")
    a("```python")
    for fn in (torch_multinomial, torch_ce_f32, torch_ce_f64, python_json_sample,
               python_json_loss, python_json_weights):
        a(inspect.getsource(fn).rstrip())
    a("```\n")
    a("- curl (D), each call timed as a subprocess (`subprocess.run`, stdout captured) from the "
      "work directory $TMP, which holds x.npy and y.npy (`np.save` of D's arrays): ballastd, "
      "the same upload to nginx (C's server, which discards the body and returns its fixed "
      "answer; `client_max_body_size 0`), and a trivial call:\n")
    a("```sh\n" + "\n".join(R["D_curl_cmds"]) + "\n```\n")
    a("- Number parsing and printing (J, K), after every server has stopped (built by `make bench` "
      "with the rules of mk/numparse.mk and mk/dtoa.mk; BENCH_NUMPARSE_ARGS and BENCH_DTOA_ARGS "
      "replace the arguments):\n")
    a("```sh\n%s\n%s\n```\n" % (" ".join(R["J_argv"]).replace(ROOT + "/", ""),
                                  " ".join(R["K_argv"]).replace(ROOT + "/", "")))
    a("- wrk (C): `%s`, each target %d × %d s after a 2 s warm-up, the three targets alternating; "
      "post.lua:\n" % (R["C_cmd"], wrk_reps, wrk_s))
    a("```lua\n" + R["C_lua"] + "```\n")
    a("- nginx (C): `%s`, with nginx.conf (paths in a temporary directory $TMP):\n"
      % " ".join(R["C_ng_argv"]).replace(R["wd"], "$TMP"))
    a("```nginx\n" + R["C_conf"].replace(R["wd"], "$TMP") + "```\n")

    # ---- details
    s = R["sizes"]
    a("## A. /loss, (4096, 1000) float64 cross_entropy as JSON\n")
    a("Request body: %.1f MB of JSON (`bench_core --dump-loss-json`, the very bytes the api "
      "benchmark parses, `%%.17g` numbers), reduction `mean`; response `%s`.\n"
      % (s["A"] / 1e6, R["A_resp"]))
    a("| stage | ms | share of the HTTP request |")
    a("| --- | --- | --- |")
    a("| core `bl_loss` (bench_core loss_ce_4096x1000) | %s | %.1f%% |"
      % (spread(R["A"]["core"]), core_share * 100))
    a("| api: JSON decode + core + encode, in-process (bench_core api_loss_json_4096x1000) | %s | %.1f%% |"
      % (spread(R["A"]["core_api"]), c["api_loss_json_4096x1000"] / A_http * 100))
    a("| whole HTTP request, client-measured, keep-alive | %s | 100%% |" % spread(R["A"]["http"]))
    a("")
    a("JSON decode + encode (api − core): %s ms, %.1f%% of the request; HTTP, transfer and "
      "client (HTTP − api): %s ms, %.1f%%.\n"
      % (ms(c["api_loss_json_4096x1000"] - c["loss_ce_4096x1000"]), dec_share * 100,
         ms(A_http - c["api_loss_json_4096x1000"]),
         (A_http - c["api_loss_json_4096x1000"]) / A_http * 100))

    a("## B. /sample core: 10^6 float64 weights → 10^6 indices with replacement\n")
    a("| what | ms | torch.multinomial ÷ this |")
    a("| --- | --- | --- |")
    a("| ballast core, fast generator (bench_core sample_fast_1e6_repl) | %s | %.1f× |"
      % (spread(R["E"]["core_fast"]), B_ratio))
    a("| ballast core, torch generator (bench_core sample_torch_1e6_repl) | %s | %.2f× |"
      % (spread(R["E"]["core_torchgen"]), E_torch / c["sample_torch_1e6_repl"]))
    a("| torch.multinomial in-process, one thread | %s | 1× |" % spread(R["E"]["torch"]))
    a("| HTTP round trip, .npy in, .npy out (E) | %s | %.2f× |" % (spread(R["E"]["http"]), E_torch / E_http))
    a("| HTTP round trip, JSON in, JSON out (F) | %s | %.2f× |" % (spread(R["F"]["http"]), E_torch / F_http))
    a("| api in-process, JSON decode + core + encode (bench_core api_sample_json_1e6, its own "
      "`%%.17g` body) | %s | %.2f× |" % (spread(R["F"]["core_api"]), E_torch / c["api_sample_json_1e6"]))
    a("")

    a("## C (target 1). Small requests: the 3×2 /loss JSON example under wrk\n")
    a("Request `%s` (%d bytes); ballastd's response `%s` (%d bytes), which nginx returns as its "
      "fixed body (`return 200`, default_type application/json). ballastd also sends "
      "X-Request-Id, X-Content-Type-Options and Cache-Control headers; nginx sends Server. wrk "
      "runs on the same 2 cores as the server.\n"
      % (SMALL_BODY.decode(), len(SMALL_BODY), R["C_resp"].strip() + "\\n", len(R["C_resp"])))
    a("CPU per request: the server's process group (all threads; nginx: master and workers) "
      "and wrk, user + system, from /proc/PID/stat and the waited wrk's rusage, medians over "
      "the repetitions. With both cores busy, req/s ≈ 2 s / (server + wrk CPU per request).\n")
    a("| server | median req/s | each repetition | ÷ nginx | latency p50 / p99 (median run) | "
      "CPU µs/request: server + wrk | errors |")
    a("| --- | --- | --- | --- | --- | --- | --- |")
    for k, runs in R["C"].items():
        rps = [r["rps"] for r in runs]
        mid = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        errs = sorted({r["errors"].strip("; ") for r in runs if r["errors"]})
        cpu = "%.1f + %.1f" % (med([r.get("srv_us", 0) for r in runs]),
                               med([r.get("wrk_us", 0) for r in runs]))
        a("| %s | %.0f | %s | %.0f%% | %s / %s | %s | %s |"
          % (k, med(rps), ", ".join("%.0f" % v for v in rps), med(rps) / Cn * 100, mid["p50"],
             mid["p99"], cpu, "; ".join(errs) or "none"))
    a("")

    a("## D (target 2). Bulk /loss: (100000, 10) float32 logits + int64 targets as .npy parts\n")
    a("Request: multipart/form-data, parts `logits` (float32 .npy) and `targets` (int64 .npy), "
      "%.2f MB; reduction `mean`; response `%s`. ballastd computes in float64: |ballast − "
      "torch .double()| = %.1e, torch float32 gives %r.\n"
      % (s["D"] / 1e6, R["D_resp"], abs(R["D_check"][0] - R["D_check"][1]), R["D_check"][2]))
    a("| what | ms | ÷ ballastd over HTTP |")
    a("| --- | --- | --- |")
    a("| ballastd, HTTP end to end | %s | 1 |" % spread(R["D"]["http"]))
    a("| F.cross_entropy, float32, in-process | %s | %.2f |" % (spread(R["D"]["torch_f32"]), D32 / D_http))
    a("| F.cross_entropy, .double() (conversion included), in-process | %s | %.2f |"
      % (spread(R["D"]["torch_f64"]), D64 / D_http))
    a("| (ballast core alone, float64: bench_core loss_ce_100000x10) | %s | %.2f |"
      % (spread(R["D"]["core"]), c["loss_ce_100000x10"] / D_http))
    a("| ballastd, `curl -s -F logits=@x.npy -F targets=@y.npy` (a new process and connection; "
      "Expect: 100-continue) | %s | %.2f |" % (spread(R["D"]["curl"]), D_curl / D_http))
    a("| nginx `return 200`, the same curl upload (%d bytes sent; ballastd: %d) | %s | %.2f |"
      % (R["D_curl_upload"][1], R["D_curl_upload"][0], spread(R["D"]["curl_nginx"]),
         D_curl_ng / D_http))
    a("| a trivial curl call, `curl -s` GET /healthz (process start, connection, tiny request) "
      "| %s | %.2f |" % (spread(R["D"]["curl_trivial"]), D_curl_triv / D_http))
    a("")
    a("With curl: %.2f× the float32 time; less the trivial curl call (curl's process and "
      "connection) %.2f×; less the same upload to nginx (curl and the transfer itself) %.2f×.\n"
      % (D_curl / D32, (D_curl - D_curl_triv) / D32, (D_curl - D_curl_ng) / D32))

    a("## E (target 3). Bulk /sample: 10^6 float64 weights as .npy → 10^6 int64 indices as .npy\n")
    a("Request: multipart, part `weights` (.npy) and part `request` `{\"seed\":1}`, %.2f MB, "
      "`Accept: application/x-npy`; response %.2f MB of .npy.\n" % (s["E"] / 1e6, R["E_resp_bytes"] / 1e6))
    a("| what | ms | torch ÷ this |")
    a("| --- | --- | --- |")
    a("| ballastd, HTTP end to end | %s | %.2f× |" % (spread(R["E"]["http"]), E_torch / E_http))
    a("| torch.multinomial in-process | %s | 1× |" % spread(R["E"]["torch"]))
    a("")

    a("## F (target 4). JSON /sample: 10^6 weights → 10^6 indices over HTTP\n")
    a("Request `{\"weights\": [...], \"seed\": 1}`, %.1f MB (Python's `json.dumps`); response "
      "%.1f MB. The target compares the HTTP round trip alone (the client sends the bytes and "
      "reads the response bytes) with Python doing the same work in-process from the same bytes "
      "(`python_json_sample` above: parse, tensor, multinomial, serialise); the second line adds "
      "the client's `json.loads` of the response, which the Python baseline does not need.\n"
      % (s["F"] / 1e6, R["F_resp_bytes"] / 1e6))
    a("| what | ms | ÷ Python |")
    a("| --- | --- | --- |")
    a("| ballastd, HTTP round trip (the target) | %s | %.2f |" % (spread(R["F"]["http"]), F_http / F_py))
    a("| ballastd, HTTP round trip + client json.loads | %s | %.2f |" % (spread(R["F"]["http_parse"]), F_hp / F_py))
    a("| Python: json.loads + torch.tensor + torch.multinomial + json.dumps | %s | 1 |" % spread(R["F"]["python"]))
    a("")

    a("## G (target 5). Peak RSS per request\n")
    a("A fresh `ballastd --threads 1` per measurement (%d each, median); one GET /healthz, then "
      "VmRSS (before), then the one request, its response read, then VmHWM (after), from "
      "/proc/PID/status. Ratio = (VmHWM after − VmRSS before) / request body size.\n"
      % len(R["G"][0][3]))
    a("| request | payload | response | VmRSS before | VmHWM after | HWM after − RSS before | ratio | target |")
    a("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, kind, size, runs, ratio, lim in G:
        mid = sorted(runs, key=lambda r: r["after"] - r["before"])[len(runs) // 2]
        a("| %s | %s | %s | %s | %s | %s | %.2f× | ≤ %d× %s |"
          % (name, nbytes(size), nbytes(mid["resp"]), nbytes(mid["before"]), nbytes(mid["after"]),
             nbytes(mid["after"] - mid["before"]), ratio, lim, yes(ratio <= lim)))
    a("")
    a("## H. JSON /loss: (100000, 10) logits with 10 class weights\n")
    a("Request `{\"logits\": [[...], ...], \"targets\": [...], \"weights\": [10 numbers], "
      "\"reduction\": \"mean\"}`, %.2f MB (Python's `json.dumps`; D's float32 logits as float64 "
      "rounded to 5 decimals, D's targets); ballastd's response `%s`. |ballast − Python| = %.1e. "
      "The Python baseline (`python_json_loss` above) does the same work from the same bytes: "
      "parse, tensors, F.cross_entropy in float64 with weight, serialise an equivalent answer.\n"
      % (R["sizes"]["H"] / 1e6, R["H_resp"], abs(R["H_check"][0] - R["H_check"][1])))
    a("| what | ms | ÷ Python |")
    a("| --- | --- | --- |")
    a("| ballastd, HTTP round trip, keep-alive | %s | %.2f |" % (spread(R["H"]["http"]), H_http / H_py))
    a("| Python: json.loads + torch.tensor + F.cross_entropy(float64, weight) + json.dumps | %s | 1 |"
      % spread(R["H"]["python"]))
    a("| ballastd, `curl -s --data-binary @h.json` (a new process and connection; Expect: "
      "100-continue) | %s | %.2f |" % (spread(R["H"]["curl"]), H_curl / H_py))
    a("| nginx `return 200`, the same curl upload | %s | %.2f |"
      % (spread(R["H"]["curl_nginx"]), H_curl_ng / H_py))
    a("| a trivial curl call, `curl -s` GET /healthz | %s | %.2f |"
      % (spread(R["H"]["curl_trivial"]), H_curl_triv / H_py))
    a("")
    a("With curl: %s ms beyond the same upload to nginx, against %s ms for the request on a "
      "keep-alive connection (%.2f×); commands (from $TMP, which holds h.json, the request "
      "body):\n" % (ms(H_beyond), ms(H_http), H_beyond / H_http))
    a("```sh\n" + "\n".join(R["H_curl_cmds"]) + "\n```\n")

    a("## I. JSON /weights: 100000 class counts, scheme balanced\n")
    a("Request `{\"counts\": [...], \"scheme\": \"balanced\"}`, %.2f MB (counts in [1, 100000)); "
      "ballastd's response %.2f MB (weights, counts, num_classes, scheme, normalize), Python's "
      "`json.dumps` of the same keys %.2f MB; largest relative difference of the weights %.1e. "
      "The Python baseline is `python_json_weights` above.\n"
      % (R["sizes"]["I"] / 1e6, R["I_resp_bytes"] / 1e6, R["I_py_bytes"] / 1e6, R["I_check"]))
    a("| what | ms | ÷ Python |")
    a("| --- | --- | --- |")
    a("| ballastd, HTTP round trip, keep-alive | %s | %.2f |" % (spread(R["I"]["http"]), I_http / I_py))
    a("| Python: json.loads + torch.tensor + N / (C count) + json.dumps | %s | 1 |"
      % spread(R["I"]["python"]))
    a("")

    a("## J. Number parsing: bench_numparse\n")
    a("`%s` (bench/bench_numparse.c): MB/s of array text per core, median [min–max] of runs "
      "timed by the thread's CPU time (a run: passes lasting at least --min-ms), the wall-clock "
      "medians at the right; the target applies to num_parse, the api_parse_request column is "
      "the whole request decoder.\n"
      % " ".join(R["J_argv"]).replace(ROOT + "/", ""))
    a("```\n" + R["J_out"].rstrip() + "\n```\n")

    a("## K. Shortest printing: bench_dtoa\n")
    a("`%s` (bench/bench_dtoa.c): one thread, times are the thread's CPU time (the wall-clock "
      "median beside); the target applies to dtoa_shortest.\n"
      % " ".join(R["K_argv"]).replace(ROOT + "/", ""))
    a("```\n" + R["K_out"].rstrip() + "\n```\n")

    return "\n".join(L) + "\n"


def nbytes(n):
    return "%d B" % n if n < 10**4 else "%.2f MB" % (n / 1e6)


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        out = (p.stdout + p.stderr).strip().splitlines()
        return out[0] if out else "?"
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
