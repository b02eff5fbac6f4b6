#!/usr/bin/env python3
"""The Python client package, clients/python (`import ballast`), against live
ballastd processes: the typed calls and their JSON, exact seeds, NumPy and
torch arrays in and out (.npy multipart above the threshold, bit for bit the
JSON answers), errors, retries on 503 with Retry-After, keep-alive per thread,
fork and pickle; the PyTorch helpers (BallastSampler equal to torch.multinomial
epoch by epoch, DistributedBallastSampler's shards, also from a real gloo
process group, class_weights as a tensor, BallastLoss with its gradients); a
DataLoader training loop step for step equal to plain PyTorch; the offline
install (README's `python3 -m venv ... && .venv/bin/pip install ./clients/python`
with no index and no network, through the in-tree build backend) and the
README's Python client examples run from the installed package.

Needs NumPy and PyTorch (Debian's python3-numpy and python3-torch, which
`make test` installs): when the python3 running this lacks them, the suite
re-runs itself under /usr/bin/python3; when neither has them, it fails."""
import os
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import numpy  # noqa: F401
    import torch  # noqa: F401
except ImportError:
    if (not os.environ.get("BALLAST_CLIENT_REEXEC") and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable or "") != os.path.realpath(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import numpy, torch"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL).returncode == 0):
        os.environ["BALLAST_CLIENT_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    print("the Python client tests need NumPy and PyTorch: apt-get install python3-numpy python3-torch")
    print("client_python: 0 passed, 1 failed")
    sys.exit(1)

import json  # noqa: E402
import math  # noqa: E402
import pickle  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Server, check, eq, main, near, server, test, tolerance  # noqa: E402

PKG = os.path.join(ROOT, "clients", "python")
sys.path.insert(0, PKG)
import ballast  # noqa: E402
import ballast.torch as bt  # noqa: E402
from ballast import BallastError  # noqa: E402

srv = None    # a plain server
auth = None   # one with --auth-token TOKEN
TOKEN = "client-py-s3cret"
# The contract's tolerance: the loss fixtures' (tests/conformance/loss_cases.json).
with open(os.path.join(ROOT, "tests", "conformance", "loss_cases.json")) as _f:
    CONTRACT = tolerance(json.load(_f))
U64_MAX = 2 ** 64 - 1


def url(s=None):
    return "http://127.0.0.1:%d" % (s or srv).port


def client(**kw):
    return ballast.Client(url(), **kw)


def bits(values):
    return [struct.pack("<d", v) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]


def torch_draw(w, n, replacement, seed, epoch=0):
    """The PyTorch reference of README "Replaying PyTorch" for one epoch."""
    g = torch.Generator().manual_seed((seed + epoch) % 2 ** 64)
    return torch.multinomial(torch.as_tensor(w, dtype=torch.float64), n, replacement, generator=g).tolist()


def shard(draw, world_size, rank):
    """DistributedSampler's rule (drop_last=False), README "Distributed training"."""
    total = -(-len(draw) // world_size) * world_size
    padded = (draw * (total // len(draw) + 1))[:total]
    return padded[rank:total:world_size]


def raises(fn, **want):
    try:
        fn()
    except BallastError as e:
        for k, v in want.items():
            eq(getattr(e, k), v, "BallastError.%s (%s)" % (k, e))
        return e
    raise AssertionError("no BallastError")


# ---- the typed calls ------------------------------------------------------------------

@test
def typed_calls_send_the_api_fields():
    c = client()
    doc = c.class_weights(counts=[100000, 100, 10])
    eq(doc, {"weights": [1.0, 1000.0, 10000.0], "counts": [100000, 100, 10], "num_classes": 3,
             "scheme": "max_over_count", "normalize": "none"}, "seed example")
    doc = c.class_weights(counts={"normal": 100000, "flu": 100, "rare": 10}, scheme="balanced", normalize="mean")
    eq(list(doc["weights"]), ["normal", "flu", "rare"], "named counts keep their order")
    eq(doc["weights"]["rare"], 2.7270248159258252, "balanced, mean")
    eq(c.class_weights(labels=[0, 0, 1, 2, 2, 2], sample_weights=True)["sample_weights"],
       [1.5, 1.5, 3.0, 1.0, 1.0, 1.0], "sample_weights")
    eq(c.class_weights(counts=[100000, 100, 10], scheme="effective_number", beta=0.999,
                       normalize="mean")["weights"],
       srv.post("/weights", {"counts": [100000, 100, 10], "scheme": "effective_number", "beta": 0.999,
                             "normalize": "mean"})[2]["weights"], "beta")
    doc = c.sample(weights=[0.1, 0.9, 0.4, 0.6], num_samples=8, seed=42, generator="torch")
    eq(doc, {"indices": [1, 1, 1, 1, 2, 1, 3, 3], "num_samples": 8, "seed": 42, "epoch": 0,
             "generator": "torch"}, "README's JS example, from Python")
    req = {"weights": [1, 2, 3, 4], "num_samples": 5, "seed": U64_MAX, "world_size": 2, "rank": 1}
    eq(c.sample(**req), srv.post("/sample", req)[2], "sharded, seed 2^64 - 1: the server's own JSON")
    req = {"labels": [0, 0, 0, 1], "class_weights": [1, 3], "num_samples": 4, "seed": 7, "epoch": 2}
    eq(c.sample(**req), srv.post("/sample", req)[2], "labels")
    req = {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "weights": [1, 2]}
    eq(c.loss(reduction="none", **req)["loss"], [1.3132616875182228, 0.253856022085945, 0.253856022085945],
       "README loss")
    doc = c.loss(logits=[[1, 2], [1, 3], [1, 3]], targets=[0, 1, 1], reduction="none", grad=True)
    eq(doc["grad"][0], [-0.7310585786300048, 0.7310585786300049], "grad")
    doc = c.loss(loss="nll", log_probs=[[-0.1, -2.4], [-3.0, -0.05]], targets=[0, 1], weights=[1, 2],
                 reduction="sum")
    eq((doc["loss"], doc["total_weight"]), (0.2, 3.0), "nll")
    doc = c.loss(logits=[[1, 2], [1, 3]], targets=[-100, -100])
    check(doc["loss"] is None and doc["warnings"], "the mean of nothing is None with a warning: %r" % doc)
    # Fields left None are not sent (beta with the default scheme would be refused).
    eq(c.class_weights(counts=[1, 2], beta=None)["scheme"], "max_over_count", "None not sent")
    check(c.healthz() == {"status": "ok"} and c.readyz() and "version" in c.version(), "GET routes")


@test
def seeds_are_exact():
    c = client()
    with open(os.path.join(ROOT, "tests/conformance/sample_cases.json")) as f:
        cases = json.load(f)["cases"]
    big = 0
    for case in cases:
        # fields the typed call has no argument for (stream, offset, count) go as extra
        req = dict(case["request"])
        extra = {k: req.pop(k) for k in ("stream", "offset", "count") if k in req}
        doc = c.sample(**req, extra=extra or None)
        eq(doc["indices"], case["expected"]["indices"], case["name"])
        eq(doc["seed"], case["request"]["seed"], case["name"] + " seed")
        big += case["request"]["seed"] > 2 ** 53
    check(big > 0, "no fixture with a seed beyond 2^53")
    print("torch replay: %d fixtures, %d seeds beyond 2^53" % (len(cases), big))
    # A seed the client drew (no seed given) is in the answer and replays the draw.
    w = [0.5, 1, 2, 4, 8]
    doc = c.sample(weights=w, num_samples=50)
    check(isinstance(doc["seed"], int) and 0 <= doc["seed"] <= U64_MAX, doc["seed"])
    eq(c.sample(weights=w, num_samples=50, seed=doc["seed"])["indices"], doc["indices"], "replay")
    # NumPy integers are seeds too; 2^64 is refused by the server, naming the field.
    eq(c.sample(weights=w, seed=np.uint64(U64_MAX))["seed"], U64_MAX, "np.uint64 seed")
    raises(lambda: c.sample(weights=w, seed=2 ** 64), status=400, code="invalid_argument", field="seed")
    # Seeds written as decimal strings (as servers will) are read exactly too.
    eq(ballast.exact_int("18446744073709551615"), U64_MAX, "string seed")
    eq(ballast.exact_int(U64_MAX), U64_MAX, "integer seed")
    # string_seeds=True sends them as strings: a server that takes them answers the same
    # draw (its seed as a string, read back as an int); one that does not names the field.
    want = c.sample(weights=w, num_samples=9, seed=U64_MAX, epoch=3, generator="torch")
    try:
        got = client(string_seeds=True).sample(weights=w, num_samples=9, seed=U64_MAX, epoch=3, generator="torch")
    except BallastError as e:
        eq((e.status, e.field), (400, "seed"), "a server without string seeds")
        print("string seeds: not served (400, field seed)")
    else:
        eq(got, want, "string seeds: the same answer, seed and epoch as ints")
        print("string seeds: served, same draw")
    # The seed of an .npy answer (Ballast-Seed) is exact too.
    doc = c.sample(weights=np.ones(5000), num_samples=3, seed=U64_MAX - 1)
    eq(doc["seed"], U64_MAX - 1, "seed through multipart")


# ---- arrays ----------------------------------------------------------------------------

@test
def numpy_and_torch_in_and_out():
    c = client(bulk_threshold=None)           # JSON only
    b = client(bulk_threshold=0)              # .npy parts always
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(300, 5)) * 4
    targets = rng.integers(0, 5, 300)
    w = np.arange(1.0, 6.0)
    for cl in (c, b):
        out = cl.loss(logits=logits, targets=targets, weights=w, reduction="none", grad=True)
        check(isinstance(out["loss"], np.ndarray) and out["loss"].dtype == np.float64, "numpy loss")
        eq(out["grad"].shape, (300, 5), "grad shape")
    j = c.loss(logits=logits, targets=targets, weights=w, reduction="none", grad=True)
    n = b.loss(logits=logits, targets=targets, weights=w, reduction="none", grad=True)
    eq(bits(j["loss"]), bits(n["loss"]), "loss bits, JSON vs .npy")
    eq(bits(j["grad"]), bits(n["grad"]), "grad bits, JSON vs .npy")
    eq(j["total_weight"], n["total_weight"], "total_weight")
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(targets), weight=torch.tensor(w),
                                            reduction="none")
    near(j["loss"], ref, CONTRACT, "equals F.cross_entropy")
    # torch in, torch out, float32 kept as sent (the server widens it exactly)
    lt = torch.tensor(logits, dtype=torch.float32)
    tt = torch.tensor(targets)
    for cl in (c, b):
        out = cl.loss(logits=lt, targets=tt, reduction="none")
        check(isinstance(out["loss"], torch.Tensor) and out["loss"].dtype == torch.float64, "torch out")
        ref = torch.nn.functional.cross_entropy(lt.double(), tt, reduction="none")
        near(out["loss"], ref, CONTRACT, "float32 logits")
    eq(bits(c.loss(logits=lt, targets=tt, reduction="none")["loss"]),
       bits(b.loss(logits=lt, targets=tt, reduction="none")["loss"]), "float32: JSON vs .npy bits")
    # int32 / uint8 / int16 targets, bool targets of a binary loss, a 3-D input
    for dt in (np.int32, np.uint8, np.int16):
        eq(bits(b.loss(logits=logits, targets=targets.astype(dt), reduction="none")["loss"]),
           bits(c.loss(logits=logits, targets=targets, reduction="none")["loss"]), "targets %s" % dt.__name__)
    x = rng.normal(size=(4, 3))
    y = rng.random((4, 3)) > 0.5
    eq(bits(b.loss(loss="bce_with_logits", logits=x, targets=y, reduction="none")["loss"]),
       bits(c.loss(loss="bce_with_logits", logits=x.tolist(), targets=y.astype(float).tolist(),
                   reduction="none", output="numpy")["loss"]), "bool targets")
    lk = rng.normal(size=(2, 3, 4, 5))
    tk = rng.integers(0, 3, (2, 4, 5))
    eq(b.loss(logits=lk, targets=tk, reduction="none")["loss"].shape, (2, 4, 5), "K-dim shape kept")
    # sampling: indices as int64 arrays / tensors, equal through both transports
    wt = torch.rand(20000, dtype=torch.float64)
    s1 = c.sample(weights=wt, num_samples=5000, seed=11, generator="torch")
    s2 = b.sample(weights=wt, num_samples=5000, seed=11, generator="torch")
    check(isinstance(s2["indices"], torch.Tensor) and s2["indices"].dtype == torch.int64, "indices tensor")
    eq(s1["indices"].tolist(), s2["indices"].tolist(), "indices, JSON vs .npy")
    eq(s2["indices"].tolist(), torch_draw(wt, 5000, True, 11), "equal torch.multinomial")
    # the default threshold sends a large array as .npy and a small one as JSON: both the same
    d = client()
    eq(d.sample(weights=wt.numpy(), num_samples=100, seed=3)["indices"].tolist(),
       d.sample(weights=wt.numpy().tolist(), num_samples=100, seed=3)["indices"], "threshold")
    # output= overrides the default (like the input)
    eq(type(c.sample(weights=[1, 2], seed=1, output="numpy")["indices"]), np.ndarray, "output numpy")
    eq(type(b.sample(weights=np.ones(3), seed=1, output="list")["indices"]), list, "output list")
    eq(type(c.class_weights(counts=torch.tensor([3, 1]), output="torch")["weights"]), torch.Tensor, "weights")
    doc = b.class_weights(labels=np.array([0, 0, 1, 2, 2, 2]), sample_weights=True)
    eq((doc["sample_weights"].tolist(), doc["counts"].dtype), ([1.5, 1.5, 3.0, 1.0, 1.0, 1.0], np.float64),
       "weights through .npy")
    # what cannot be sent is refused before sending, naming the field
    raises(lambda: c.sample(weights=[1.0, float("nan")]), status=None, code="invalid_argument", field="weights")
    raises(lambda: b.sample(weights=np.array([1 + 2j])), code="invalid_argument", field="weights")
    # and a NaN sent as .npy is refused by the server, naming the element
    raises(lambda: b.sample(weights=np.array([1.0, np.nan])), status=400, field="weights[1]")


@test
def standard_library_only():
    """Without NumPy and PyTorch (python3 -S: no site-packages), lists in, lists out."""
    code = r"""
import sys
sys.path.insert(0, sys.argv[2])
import ballast
for mod in ("numpy", "torch"):
    assert mod not in sys.modules, mod
c = ballast.Client(sys.argv[1])
print(c.class_weights(counts=[100000, 100, 10])["weights"])
print(c.sample(weights=[0.1, 0.9, 0.4, 0.6], num_samples=8, seed=2**64 - 1, generator="torch")["indices"])
print(c.loss(logits=[[1, 2], [1, 3]], targets=[0, 1], reduction="none", grad=True)["grad"][0])
try:
    import numpy
    print("numpy importable")
except ImportError:
    print("no numpy")
"""
    r = subprocess.run([SYSTEM_PYTHON, "-S", "-c", code, url(), PKG], capture_output=True, text=True, timeout=30)
    eq(r.returncode, 0, "python3 -S: " + r.stderr[-2000:])
    eq(r.stdout.split("\n")[:4], ["[1.0, 1000.0, 10000.0]", "[3, 2, 3, 1, 3, 2, 3, 1]",
                                  "[-0.7310585786300048, 0.7310585786300049]", "no numpy"], "stdlib only")


# ---- errors, retries, connections ---------------------------------------------------------

@test
def errors_carry_status_code_message_field():
    c = client()
    e = raises(lambda: c.class_weights(counts=[100000, -1, 10], request_id="py-pkg-1"), status=400,
               code="invalid_argument", field="counts[1]", request_id="py-pkg-1")
    check("counts[1] = -1" in e.message and "400 invalid_argument" in str(e), str(e))
    raises(lambda: c.loss(logits=[[1, 2]], targets=[0], extra={"reducton": "sum"}), field="reducton")
    raises(lambda: c.loss(logits=[[1, 2]], targets=[5]), field="targets[0]")
    raises(lambda: c.sample(weights=[1, 2], num_samples=3, replacement=False), field="num_samples")
    raises(lambda: c.request("/nope", {}), status=404, code="not_found")
    for token in (None, "wrong"):
        raises(lambda: ballast.Client(url(auth), token=token).class_weights(counts=[1, 2]), status=401,
               code="unauthorized")
    eq(ballast.Client(url(auth), token=TOKEN).class_weights(counts=[1, 2])["weights"], [2.0, 1.0], "token")
    # Nothing listens: a connection error after the retries, status None.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tries = []
    dead = ballast.Client("http://127.0.0.1:%d" % port, retries=2, backoff=0.01,
                          on_retry=lambda *a: tries.append(a))
    e = raises(lambda: dead.class_weights(counts=[1]), status=None, code="connection_error", attempts=3)
    eq(len(tries), 2, "retries before giving up")
    # An error pickles (DataLoader workers send exceptions back to the main process).
    e2 = pickle.loads(pickle.dumps(e))
    eq((e2.code, e2.status, e2.attempts), ("connection_error", None, 3), "pickled error")


@test
def retries_503_honouring_retry_after():
    """--max-connections 1 and one idle connection held: the server answers 503
    overloaded with Retry-After: 1 until the connection goes."""
    with Server("--log-format", "none", "--max-connections", "1") as busy:
        def hold(seconds):
            s = socket.create_connection(("127.0.0.1", busy.port))
            time.sleep(0.2)   # the slot is taken once the server has accepted it
            threading.Timer(seconds, s.close).start()

        hold(0.4)
        seen = []
        c = ballast.Client(url(busy), on_retry=lambda *a: seen.append(a))
        t0 = time.time()
        doc = c.sample(weights=[1, 2, 3], num_samples=4, seed=9)
        took = time.time() - t0
        eq(doc["indices"], srv.post("/sample", {"weights": [1, 2, 3], "num_samples": 4, "seed": 9})[2]["indices"],
           "the retried answer")
        check(seen and seen[0][1] == 503 and seen[0][2] >= 1.0, "on_retry: %r" % seen)
        check(took >= 1.0, "Retry-After: 1 honoured (took %.2fs)" % took)
        c.close()
        time.sleep(0.2)
        # No retries: the 503 itself, with what it asked.
        hold(1.5)
        e = raises(lambda: ballast.Client(url(busy), retries=0).class_weights(counts=[1]), status=503,
                   code="overloaded", attempts=1)
        eq(e.retry_after, 1.0, "retry_after")
        # A Retry-After longer than max_wait is not waited for.
        e = raises(lambda: ballast.Client(url(busy), max_wait=0.5).class_weights(counts=[1]), status=503)
        # Without a seed: the client draws one, so the retry is the same request ...
        seen.clear()
        time.sleep(1.6)
        hold(0.4)
        c = ballast.Client(url(busy), on_retry=lambda *a: seen.append(a))
        doc = c.sample(weights=[1, 2, 3], num_samples=6)
        check(seen, "retried")
        eq(doc["indices"], srv.post("/sample", {"weights": [1, 2, 3], "num_samples": 6, "seed": doc["seed"]})[2]
           ["indices"], "an unseeded draw replays from its seed")
        c.close()
        time.sleep(0.6)
        # ... and with client_seeds=False (the server draws) it is never retried.
        hold(1.5)
        seen.clear()
        c = ballast.Client(url(busy), client_seeds=False, on_retry=lambda *a: seen.append(a))
        raises(lambda: c.sample(weights=[1, 2, 3]), status=503, attempts=1)
        eq(seen, [], "no retry of a server-seeded draw")
        time.sleep(1.6)
        doc = c.sample(weights=[1, 2, 3], num_samples=2)   # the server drew this seed
        check(0 <= doc["seed"] <= U64_MAX, "server seed")


@test
def keep_alive_per_thread_fork_and_pickle():
    c = client()
    c.class_weights(counts=[1, 2])
    port = c._local.conn.sock.getsockname()[1]
    for _ in range(20):
        c.class_weights(counts=[1, 2])
    eq(c._local.conn.sock.getsockname()[1], port, "one connection for 21 calls")
    ports, errors = {}, []

    def work(i):
        try:
            for k in range(15):
                eq(c.sample(weights=[1, 2, 3], seed=i * 100 + k)["seed"], i * 100 + k, "thread %d" % i)
            ports[i] = c._local.conn.sock.getsockname()[1]
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(errors, [], "thread errors")
    eq(len(set(ports.values()) | {port}), 5, "one connection per thread")
    # A forked child opens its own connection (the parent's socket is not shared).
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            doc = c.sample(weights=[1, 2, 3], num_samples=5, seed=77)
            msg = json.dumps([doc["indices"], c._local.conn.sock.getsockname()[1]])
        except Exception as e:  # noqa: BLE001
            msg = json.dumps(["error", repr(e)])
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    got = json.loads(out)
    eq(got[0], c.sample(weights=[1, 2, 3], num_samples=5, seed=77)["indices"], "the child's answer")
    check(got[1] != port, "the child used its own connection")
    eq(c._local.conn.sock.getsockname()[1], port, "the parent's connection survives")
    # Pickled (as DataLoader workers get it): the copy works and shares nothing.
    c2 = pickle.loads(pickle.dumps(c))
    eq(c2.class_weights(counts=[1, 4])["weights"], [4.0, 1.0], "a pickled client")
    c.close()
    eq(c.class_weights(counts=[1, 4])["weights"], [4.0, 1.0], "reconnects after close()")


@test
def stale_keep_alive_connection_is_replaced():
    with Server("--log-format", "none", "--header-timeout", "1") as s:
        c = ballast.Client(url(s), retries=0)      # not even retries needed
        c.class_weights(counts=[1, 2])
        first = c._local.conn.sock.getsockname()[1]
        time.sleep(1.6)                            # the server closes the idle connection
        eq(c.class_weights(counts=[1, 2])["weights"], [2.0, 1.0], "after the idle close")
        check(c._local.conn.sock.getsockname()[1] != first, "a new connection")
        c.close()


# ---- PyTorch: samplers --------------------------------------------------------------------

@test
def sampler_equals_torch_multinomial_per_epoch():
    c = client()
    w = torch.rand(300, dtype=torch.float64) ** 3
    n = 0
    for seed in (1234, U64_MAX - 1):     # the second wraps around 2^64 at epoch 2
        for replacement, k in ((True, 500), (False, 120)):
            s = bt.BallastSampler(w, k, replacement, seed=seed, client=c)
            eq(len(s), k, "len")
            for epoch in range(4):
                s.set_epoch(epoch)
                got = list(s)
                eq(got, torch_draw(w, k, replacement, seed, epoch), "seed %d, epoch %d, replacement %s"
                   % (seed, epoch, replacement))
                eq((s.last_answer["seed"], s.last_answer["epoch"]), (seed, epoch), "answer")
                n += 1
    # Passes without set_epoch advance the epoch by themselves.
    s = bt.BallastSampler(w.tolist(), 50, seed=99, client=c)
    eq([list(s) for _ in range(3)], [torch_draw(w, 50, True, 99, e) for e in range(3)], "auto epochs")
    eq(s.epoch, 3, "next epoch")
    # The same as WeightedRandomSampler with the generator reseeded each epoch.
    for epoch in range(3):
        g = torch.Generator().manual_seed(7 + epoch)
        eq(list(bt.BallastSampler(w, 64, epoch=epoch, seed=7, client=c)),
           list(WeightedRandomSampler(w, 64, generator=g)), "WeightedRandomSampler, epoch %d" % epoch)
    # labels + scheme: item weights class_weights[label], computed by /weights
    labels = torch.tensor([0] * 50 + [1] * 8 + [2] * 2)
    counts = torch.bincount(labels).double()
    for scheme, cw in (("inverse_sqrt", 1 / counts.sqrt()), ("inverse", 1 / counts),
                       (None, 1 / counts)):        # None: the server's default, 1 / class count
        s = bt.BallastSampler(labels=labels, scheme=scheme, seed=5, client=c)
        for epoch in range(3):
            eq(list(s), torch_draw(cw[labels], 60, True, 5, epoch), "labels, %s, epoch %d" % (scheme, epoch))
    # The fast generator: what /sample draws for (seed, epoch).
    s = bt.BallastSampler(w, 40, seed=3, generator="fast", client=c)
    for epoch in range(3):
        eq(list(s), c.sample(weights=w.tolist(), num_samples=40, seed=3, epoch=epoch)["indices"], "fast")
    # Arguments checked as WeightedRandomSampler checks them.
    for bad in (dict(num_samples=0), dict(num_samples=2.0), dict(replacement=1)):
        try:
            bt.BallastSampler(w, **bad, client=c)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass
    print("sampler: %d (seed, epoch, replacement) draws equal torch.multinomial" % n)


@test
def distributed_sampler_shards_like_distributed_sampler():
    c = client()
    w = torch.rand(97, dtype=torch.float64) + 0.01
    for world_size in (2, 3):
        for k, replacement in ((97, True), (50, False)):
            for epoch in range(3):
                full = torch_draw(w, k, replacement, 0, epoch)   # seed 0: DistributedSampler's default
                got = []
                for rank in range(world_size):
                    s = bt.DistributedBallastSampler(w, k, replacement, world_size=world_size, rank=rank,
                                                     client=c)
                    s.set_epoch(epoch)
                    idx = list(s)
                    eq(len(idx), len(s), "len")
                    eq(len(s), math.ceil(k / world_size), "share")
                    eq(idx, shard(full, world_size, rank), "world %d rank %d epoch %d k %d"
                       % (world_size, rank, epoch, k))
                    got.append(idx)
                eq(sorted({i for part in got for i in part}), sorted(set(full)), "the ranks cover the draw")
    eq(list(bt.DistributedBallastSampler(w, 9, num_replicas=2, rank=1, client=c)),
       shard(torch_draw(w, 9, True, 0, 0), 2, 1), "num_replicas, DistributedSampler's name")
    try:
        bt.DistributedBallastSampler(w, client=c)
        raise AssertionError("no rank without torch.distributed")
    except ValueError:
        pass


def _gloo_rank(rank, port, server_url, out):
    """One rank of distributed_sampler_from_a_gloo_process_group (a forked child)."""
    import torch.distributed as dist
    try:
        os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                          GLOO_SOCKET_IFNAME="lo")
        dist.init_process_group("gloo", init_method="env://")
        s = bt.DistributedBallastSampler(torch.arange(1, 31, dtype=torch.float64), 25, seed=2024,
                                         client=ballast.Client(server_url))
        got = []
        for epoch in range(3):
            s.set_epoch(epoch)
            got.append(list(s))
        out.put({"rank": dist.get_rank(), "world_size": dist.get_world_size(), "sampler": [s.rank, s.world_size],
                 "indices": got})
        dist.destroy_process_group()
    except Exception as e:  # noqa: BLE001
        out.put({"error": repr(e)})


@test
def distributed_sampler_from_a_gloo_process_group():
    """Two processes in a real torch.distributed (gloo) group: rank and world
    size come from it, and the shards are those of the full draw."""
    import multiprocessing
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ctx = multiprocessing.get_context("fork")    # the children need not import torch again
    out = ctx.Queue()
    procs = [ctx.Process(target=_gloo_rank, args=(rank, port, url(), out)) for rank in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        eq(p.exitcode, 0, "rank process exit status")
    w = torch.arange(1, 31, dtype=torch.float64)
    for o in results:
        check("error" not in o, "a rank failed: %s" % o.get("error"))
        eq((o["world_size"], o["sampler"]), (2, [o["rank"], 2]), "world size and rank from torch.distributed")
        for epoch in range(3):
            eq(o["indices"][epoch], shard(torch_draw(w, 25, True, 2024, epoch), 2, o["rank"]),
               "rank %d epoch %d" % (o["rank"], epoch))
    eq(sorted(o["rank"] for o in results), [0, 1], "ranks")


@test
def client_sample_stream_window_and_version_fields():
    """Client.sample's stream, offset, count and fast_version arguments: the
    continued stream is WeightedRandomSampler's passes, a window is the slice
    of the whole answer (through JSON and .npy alike) with offset, count,
    next_offset and full_count, and the server's refusals name the field."""
    c, b = client(bulk_threshold=None), client(bulk_threshold=0)
    w = np.random.default_rng(3).random(500)
    passes = wrs_passes(torch.tensor(w), 300, True, U64_MAX, 3)
    for epoch in range(3):
        whole = c.sample(weights=w, num_samples=300, seed=U64_MAX, epoch=epoch, generator="torch", stream="continued")
        eq(whole["indices"].tolist(), passes[epoch], "continued epoch %d" % epoch)
        eq(whole["stream"], "continued", "the answer names the stream")
        for cl in (c, b):
            for off, cnt in ((0, 1), (17, 100), (250, 50), (299, None), (300, 0), (123, 1000)):
                doc = cl.sample(weights=w, num_samples=300, seed=U64_MAX, epoch=epoch, generator="torch",
                                stream="continued", offset=off, count=cnt)
                want = passes[epoch][off:None if cnt is None else off + cnt]
                eq(doc["indices"].tolist(), want, "window (%s, %s)" % (off, cnt))
                eq((doc["offset"], doc["count"], doc["next_offset"], doc["full_count"]),
                   (off, len(want), off + len(want), 300), "window fields (%s, %s)" % (off, cnt))
    # A window of a rank's share; an offset past the end is refused, naming the field.
    doc = c.sample(weights=w.tolist(), num_samples=300, seed=5, world_size=3, rank=2, offset=90, count=20)
    eq(doc["indices"], c.sample(weights=w.tolist(), num_samples=300, seed=5, world_size=3, rank=2)["indices"][90:],
       "a rank's window")
    raises(lambda: c.sample(weights=[1, 2], num_samples=4, seed=1, offset=5), status=400, field="offset")
    raises(lambda: c.sample(weights=[1, 2], seed=1, stream="continued"), status=400, field="stream")
    raises(lambda: c.sample(weights=[1, 2], seed=1, stream="sideways", generator="torch"), status=400,
           field="stream")
    # fast_version 1 is ballast 0.1's stream; 2 (the default) another, with the same distribution.
    v1 = c.sample(weights=w.tolist(), num_samples=50, seed=9, fast_version=1)
    v2 = c.sample(weights=w.tolist(), num_samples=50, seed=9, fast_version=2)
    eq((v1["fast_version"], v2["fast_version"]), (1, 2), "fast_version echoed")
    check(v1["indices"] != v2["indices"], "two versions, two streams")
    eq(c.sample(weights=w.tolist(), num_samples=50, seed=9)["indices"], v2["indices"], "2 is the default")


@test
def client_sample_undersample_and_oversample():
    """Client.sample(strategy=, sampling_strategy=): the README's example, and
    for each way of naming the targets (names, a ratio, counts as a list, a
    NumPy array sent as .npy, a dict with NumPy keys) the class counts
    imbalanced-learn's RandomUnderSampler / RandomOverSampler give; an
    undersampled class is a subset of its items, an oversampled list holds
    every index once first; windows and shards cut the same list."""
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler
    c, b = client(bulk_threshold=None), client(bulk_threshold=0)
    doc = c.sample(labels=[0, 0, 0, 0, 1, 1, 2, 2, 2], strategy="undersample", seed=7)
    eq((doc["indices"], doc["strategy"], doc["num_samples"]), ([1, 3, 4, 5, 7, 6], "undersample", 6),
       "README's example")
    y = np.array([0] * 50 + [1] * 7 + [2] * 20 + [3] * 3)
    y2 = np.array([0] * 40 + [1] * 10)
    cases = [
        ("undersample", y, "auto"), ("undersample", y, "not minority"), ("undersample", y, "all"),
        ("undersample", y, "majority"), ("undersample", y, {0: 10, 2: 5}), ("undersample", y2, 0.5),
        ("undersample", y, [20, 7, 3, 3]),
        ("oversample", y, "auto"), ("oversample", y, "minority"), ("oversample", y, "not minority"),
        ("oversample", y, {3: 30, 1: 8}), ("oversample", y2, 0.75), ("oversample", y, [50, 60, 20, 5]),
    ]
    for strategy, labels, target in cases:
        cls = RandomUnderSampler if strategy == "undersample" else RandomOverSampler
        imb = target
        if isinstance(target, list):   # imbalanced-learn takes counts as a dict
            imb = dict(enumerate(target))
        if (strategy, target) == ("oversample", "minority"):
            # imbalanced-learn 0.10's parameter check refuses "minority" for its over-sampler,
            # though its own targets (check_sampling_strategy) define it: n_majority items.
            from imblearn.utils import check_sampling_strategy
            add = check_sampling_strategy("minority", labels, "over-sampling")
            ref = np.concatenate([labels] + [np.full(n, k) for k, n in add.items()])
        else:
            import warnings
            with warnings.catch_warnings():   # "more samples than the majority": asked for
                warnings.simplefilter("ignore", UserWarning)
                _, ref = cls(sampling_strategy=imb, random_state=0).fit_resample(labels.reshape(-1, 1), labels)
        for cl, ss in ((c, target), (b, np.array(target) if isinstance(target, list) else target)):
            if isinstance(ss, dict):
                ss = {np.int64(k): np.int64(v) for k, v in ss.items()}
            doc = cl.sample(labels=labels, strategy=strategy, sampling_strategy=ss, seed=123, output="list")
            idx = doc["indices"]
            what = "%s %r" % (strategy, target)
            eq(np.bincount(labels[idx], minlength=labels.max() + 1).tolist(),
               np.bincount(ref, minlength=labels.max() + 1).tolist(), what + ": imbalanced-learn's class counts")
            eq(doc["num_samples"], len(idx), what + ": num_samples")
            if strategy == "undersample":
                eq(len(set(idx)), len(idx), what + ": no item twice")
            else:
                eq(idx[:len(labels)], list(range(len(labels))), what + ": every index once, first")
    # windows and shards of the same list
    full = c.sample(labels=y.tolist(), strategy="oversample", seed=5)["indices"]
    eq(c.sample(labels=y.tolist(), strategy="oversample", seed=5, offset=30, count=40)["indices"], full[30:70],
       "a window")
    eq(c.sample(labels=y.tolist(), strategy="oversample", seed=5, world_size=2, rank=1)["indices"],
       shard(full, 2, 1), "a shard")
    raises(lambda: c.sample(labels=y.tolist(), strategy="undersample", sampling_strategy="minority"), status=400,
           field="sampling_strategy")
    raises(lambda: c.sample(labels=y.tolist(), strategy="undersample", generator="torch"), status=400,
           field="generator")
    raises(lambda: c.sample(labels=y.tolist(), sampling_strategy="auto"), status=400, field="sampling_strategy")


class CountingClient(ballast.Client):
    """A Client that records the windows of each /sample request: (offset, count)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.windows = []

    def sample(self, *a, **kw):
        self.windows.append((kw.get("offset"), kw.get("count")))
        return super().sample(*a, **kw)


def wrs_passes(w, k, replacement, seed, passes):
    """WeightedRandomSampler with one generator seeded once: its first passes."""
    ref = WeightedRandomSampler(w, k, replacement, generator=torch.Generator().manual_seed(seed))
    return [list(ref) for _ in range(passes)]


@test
def continued_stream_equals_weighted_random_sampler():
    """stream="continued": pass e of the sampler is pass e of one
    WeightedRandomSampler(w, k, replacement, generator=Generator().manual_seed(seed)),
    index for index, over 4 epochs, with and without replacement, fetched whole
    or in windows; set_epoch(e) reaches pass e directly."""
    c = client()
    w = torch.rand(300, dtype=torch.float64) ** 3
    n = 0
    for seed in (2024, U64_MAX):
        for replacement, k in ((True, 500), (False, 120)):
            ref = wrs_passes(w, k, replacement, seed, 4)
            for window in (None, 64, 7):
                s = bt.BallastSampler(w, k, replacement, seed=seed, stream="continued", window=window, client=c)
                for epoch in range(4):
                    eq(list(s), ref[epoch], "seed %d, replacement %s, window %s, epoch %d"
                       % (seed, replacement, window, epoch))
                    n += 1
                eq(s.epoch, 4, "the sampler's epoch counter")
            s = bt.BallastSampler(w, k, replacement, seed=seed, stream="continued", client=c)
            s.set_epoch(3)
            eq(list(s), ref[3], "set_epoch(3): the fourth pass")
            check(ref[1] != ref[0], "consecutive passes differ")
    # labels + scheme: the item weights are the class weights of the labels
    labels = torch.tensor([0] * 50 + [1] * 8 + [2] * 2)
    counts = torch.bincount(labels).double()
    s = bt.BallastSampler(labels=labels, scheme="inverse", seed=5, stream="continued", window=16, client=c)
    eq([list(s) for _ in range(3)], wrs_passes((1 / counts)[labels], 60, True, 5, 3), "labels, continued")
    # per_epoch, spelled out, is the default stream
    s = bt.BallastSampler(w, 40, seed=9, stream="per_epoch", window=9, client=c)
    eq([list(s) for _ in range(3)], [torch_draw(w, 40, True, 9, e) for e in range(3)], "per_epoch")
    # the fast generator has no continued stream: the server says so, naming the field
    s = bt.BallastSampler(w, 40, seed=9, generator="fast", stream="continued", client=c)
    raises(lambda: list(s), status=400, field="stream")
    try:
        bt.BallastSampler(w, stream="continuous", client=c)
        raise AssertionError("a bad stream accepted")
    except ValueError as e:
        check("stream" in str(e), str(e))
    print("continued stream: %d (seed, replacement, window, epoch) passes equal WeightedRandomSampler's" % n)


@test
def distributed_continued_equals_distributed_sampler():
    """DistributedBallastSampler, world sizes 2 and 3, 3 epochs, per_epoch and
    continued streams: rank r's indices are those DistributedSampler(shuffle=False)
    gives rank r over the epoch's full draw (the same draw a single sampler makes)."""
    from torch.utils.data.distributed import DistributedSampler
    c = client()
    w = torch.rand(61, dtype=torch.float64) + 0.05
    n = 0
    for stream in ("continued", "per_epoch"):
        for k, replacement in ((61, True), (40, False), (7, True)):
            if stream == "continued":
                draws = wrs_passes(w, k, replacement, 77, 3)
            else:
                draws = [torch_draw(w, k, replacement, 77, e) for e in range(3)]
            for world_size in (2, 3):
                samplers = [bt.DistributedBallastSampler(w, k, replacement, world_size=world_size, rank=r, seed=77,
                                                         stream=stream, window=4, client=c)
                            for r in range(world_size)]
                for epoch in range(3):
                    for r, s in enumerate(samplers):
                        s.set_epoch(epoch)
                        ds = DistributedSampler(range(k), num_replicas=world_size, rank=r, shuffle=False)
                        want = [draws[epoch][i] for i in ds]
                        got = list(s)
                        eq(got, want, "%s k %d world %d rank %d epoch %d" % (stream, k, world_size, r, epoch))
                        eq(len(s), len(ds), "len = DistributedSampler's")
                        n += 1
    print("distributed: %d (stream, k, world size, rank, epoch) shards equal DistributedSampler's" % n)


@test
def windows_are_lazy_and_a_run_resumes_mid_epoch():
    """A pass fetches nothing until its first index is asked for, then one
    window (offset, count) at a time; state_dict() / load_state_dict() and
    set_epoch(e, start_index) resume an epoch where it stopped."""
    c = CountingClient(url())
    w = torch.rand(100, dtype=torch.float64)
    ref = wrs_passes(w, 50, True, 11, 3)
    s = bt.BallastSampler(w, 50, seed=11, stream="continued", window=8, client=c)
    it = iter(s)
    eq(c.windows, [], "nothing fetched by iter()")
    got = [next(it) for _ in range(8)]
    eq(c.windows, [(0, 8)], "one window for the first 8 indices")
    got.append(next(it))
    eq(c.windows, [(0, 8), (8, 8)], "the next window at the 9th")
    got += list(it)
    eq(got, ref[0], "the windows make the pass")
    eq(c.windows[-1], (48, 2), "the last window is short")
    eq(len(c.windows), 7, "ceil(50 / 8) requests")
    # window=None: one request without offset/count (any server)
    c.windows.clear()
    s = bt.BallastSampler(w, 50, seed=11, stream="continued", window=None, client=c)
    eq(list(s), ref[0], "one request")
    eq(c.windows, [(None, None)], "no window fields")
    # Stop in epoch 1 after 21 indices; resume from the state in a new sampler.
    s = bt.BallastSampler(w, 50, seed=11, stream="continued", window=8, client=c)
    eq(s.state_dict(), {"seed": 11, "epoch": 0, "start_index": 0}, "state before any pass")
    list(s)
    it = iter(s)
    head = [next(it) for _ in range(21)]
    eq(head, ref[1][:21], "the head of epoch 1")
    state = s.state_dict()
    eq(state, {"seed": 11, "epoch": 1, "start_index": 21}, "the state mid-epoch")
    c.windows.clear()
    r = bt.BallastSampler(w, 50, seed=None, stream="continued", window=8, client=c)
    r.load_state_dict(pickle.loads(pickle.dumps(state)))
    eq(r.seed, 11, "the seed comes with the state")
    eq(list(r), ref[1][21:], "the rest of epoch 1")
    eq(c.windows[0], (21, 8), "the first request starts at the resumed index")
    eq(list(r), ref[2], "then epoch 2, whole")
    eq(r.state_dict(), {"seed": 11, "epoch": 3, "start_index": 0}, "between passes: the next")
    # set_epoch(e, start_index) is the same, per_epoch stream and window None included
    for window in (None, 5):
        s = bt.BallastSampler(w, 50, seed=11, window=window, client=c)
        s.set_epoch(2, start_index=45)
        eq(list(s), torch_draw(w, 50, True, 11, 2)[45:], "set_epoch(2, 45), window %s" % window)
        eq(list(s), torch_draw(w, 50, True, 11, 3), "then epoch 3")
    # A distributed rank resumes within its own share.
    d = bt.DistributedBallastSampler(w, 50, world_size=3, rank=1, seed=11, stream="continued", window=4,
                                     client=c)
    d.set_epoch(2, start_index=10)
    eq(list(d), shard(ref[2], 3, 1)[10:], "rank 1 of 3 from its 10th index")
    # Resuming a DataLoader run: 2 of epoch 1's 5 batches done, saved as the loop counted them.
    ds = TensorDataset(torch.arange(100))
    full = []
    s = bt.BallastSampler(w, 50, seed=11, stream="continued", window=16, client=c)
    for epoch in range(3):
        full.append([b[0].tolist() for b in DataLoader(ds, batch_size=10, sampler=s)])
    eq([sum(b, []) for b in full], ref, "DataLoader passes")
    s = bt.BallastSampler(w, 50, seed=None, stream="continued", window=16, client=c)
    s.load_state_dict({"seed": 11, "epoch": 1, "start_index": 2 * 10})
    resumed = [[b[0].tolist() for b in DataLoader(ds, batch_size=10, sampler=s)] for _ in range(2)]
    eq(resumed, [full[1][2:], full[2]], "the resumed run's batches")
    for bad in (dict(window=0), dict(window=2.5), dict(start_index=-1), dict(epoch=-1)):
        try:
            bt.BallastSampler(w, **bad, client=c)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass
    s = bt.BallastSampler(w, 50, start_index=51, client=c)
    try:
        iter(s)
        raise AssertionError("start_index beyond the epoch accepted")
    except ValueError as e:
        check("start_index" in str(e), str(e))


@test
def sampler_undersample_and_oversample_per_epoch():
    """BallastSampler(labels=y, strategy=...): each pass is the server's
    balanced list for (seed, epoch), fetched in windows; len() is the list's
    length (imbalanced-learn's class counts); shards for world size 2 and 3
    are DistributedSampler's over it; a DataLoader trains on balanced batches."""
    from torch.utils.data.distributed import DistributedSampler
    c = CountingClient(url())
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 20 + [3] * 3)
    for strategy, target, counts in (("undersample", None, [3, 3, 3, 3]),
                                     ("undersample", {0: 10, 2: 5}, [10, 7, 5, 3]),
                                     ("oversample", None, [50, 50, 50, 50]),
                                     ("oversample", "minority", [50, 7, 20, 50])):
        for window in (None, 9):
            c.windows.clear()
            s = bt.BallastSampler(labels=y, strategy=strategy, sampling_strategy=target, seed=3, window=window,
                                  client=c)
            eq(c.windows, [], "nothing asked before len()")
            eq(len(s), sum(counts), "%s %r: len" % (strategy, target))
            eq(c.windows, [(0, 0)], "an empty window tells the length")
            for epoch in range(3):
                want = c.sample(labels=y, strategy=strategy, sampling_strategy=target, seed=3, epoch=epoch,
                                output="list")["indices"]
                got = list(s)
                eq(got, want, "%s %r window %s epoch %d" % (strategy, target, window, epoch))
                eq(torch.bincount(y[got], minlength=4).tolist(), counts, "class counts")
            check(list(bt.BallastSampler(labels=y, strategy=strategy, sampling_strategy=target, seed=3,
                                         epoch=1, client=c)) != list(bt.BallastSampler(
                labels=y, strategy=strategy, sampling_strategy=target, seed=3, client=c)), "epochs differ")
    full = c.sample(labels=y, strategy="oversample", seed=3, epoch=2, output="list")["indices"]
    for world_size in (2, 3):
        for rank in range(world_size):
            d = bt.DistributedBallastSampler(labels=y, strategy="oversample", world_size=world_size, rank=rank,
                                             seed=3, window=7, client=c)
            d.set_epoch(2)
            ds = DistributedSampler(range(len(full)), num_replicas=world_size, rank=rank, shuffle=False)
            eq((list(d), len(d)), ([full[i] for i in ds], len(ds)), "oversample, world %d rank %d"
               % (world_size, rank))
    s = bt.BallastSampler(labels=y, strategy="undersample", seed=3, client=c)
    batches = [yb.tolist() for _, yb in DataLoader(TensorDataset(torch.arange(len(y)), y), batch_size=4, sampler=s)]
    eq(sorted(sum(batches, [])), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "a DataLoader over the balanced list")
    for bad in (dict(weights=torch.ones(80)), dict(labels=y, num_samples=10), dict(labels=y, generator="torch"),
                dict(labels=y, scheme="inverse"), dict(labels=y, strategy="sideways")):
        try:
            bt.BallastSampler(**dict(dict(strategy="undersample"), **bad), client=c)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass
    try:
        bt.BallastSampler(labels=y, sampling_strategy="auto", client=c)
        raise AssertionError("sampling_strategy without strategy accepted")
    except ValueError:
        pass


# ---- PyTorch: class weights, losses, training ------------------------------------------------

@test
def class_weights_tensor_for_cross_entropy():
    c = client()
    labels = torch.tensor([0] * 90 + [1] * 9 + [2] * 1)
    n = torch.bincount(labels).double()
    cw = bt.class_weights(labels=labels, scheme="balanced", client=c)
    eq((cw.dtype, cw.device.type, tuple(cw.shape)), (torch.float32, "cpu", (3,)), "float32 by default")
    cw64 = bt.class_weights(labels=labels, scheme="balanced", dtype=torch.float64, client=c)
    ref = n.sum() / (3 * n)      # scikit-learn's "balanced"
    near(cw64, ref, {"rel": 1e-15, "abs": 0}, "balanced")
    eq(bt.class_weights(counts=[100000, 100, 10], client=c).tolist(), [1.0, 1000.0, 10000.0], "counts")
    eq(bt.class_weights(counts={"a": 1, "b": 4}, client=c).tolist(), [4.0, 1.0], "named counts")
    crit = torch.nn.CrossEntropyLoss(weight=cw)
    logits = torch.randn(8, 3)
    check(torch.isfinite(crit(logits, labels[:8])), "usable as weight=")


@test
def ballast_loss_values_and_gradients():
    c = client()
    g = torch.Generator().manual_seed(3)
    w = torch.tensor([0.5, 2.0, 1.0, 4.0], dtype=torch.float64)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (16,), generator=g)
    y[3] = -100
    F = torch.nn.functional
    for reduction in ("mean", "sum", "none"):
        for kw, ref_fn in (({}, lambda a: F.cross_entropy(a, y, weight=w, reduction=reduction)),
                           ({"label_smoothing": 0.1},
                            lambda a: F.cross_entropy(a, y, weight=w, reduction=reduction, label_smoothing=0.1))):
            a = x.clone().requires_grad_()
            b = x.clone().requires_grad_()
            mine = bt.BallastLoss(weights=w, reduction=reduction, client=c, **kw)(a, y)
            ref = ref_fn(b)
            near(mine, ref, CONTRACT, "%s %s value" % (reduction, kw))
            go = torch.rand(ref.shape, generator=g, dtype=torch.float64) if reduction == "none" else None
            (mine * go).sum().backward() if go is not None else mine.backward()
            (ref * go).sum().backward() if go is not None else ref.backward()
            near(a.grad, b.grad, CONTRACT, "%s %s grad" % (reduction, kw))
    # focal (no PyTorch module): γ = 0 is cross_entropy; γ = 2 by its formula
    a = x.clone().requires_grad_()
    keep = y != -100
    focal = bt.server_loss(a, y, loss="focal", gamma=2.0, weights=w, client=c)
    p = F.log_softmax(x, 1)[keep].gather(1, y[keep, None])[:, 0]
    ref = -(w[y[keep]] * (1 - p.exp()) ** 2 * p).sum() / w[y[keep]].sum()
    near(focal, ref, {"rel": CONTRACT["rel"], "abs": 0}, "focal")
    focal.backward()
    check(a.grad is not None and torch.isfinite(a.grad).all(), "focal grad")
    # float32 in: float32 out, the server's float64 value rounded once
    x32 = x.float().requires_grad_()
    v = bt.server_loss(x32, y, weights=w, client=c)
    eq(v.dtype, torch.float32, "dtype")
    near(v.item(), F.cross_entropy(x, y, weight=w).item(), {"rel": 0, "abs": 1e-6}, "float32 value")
    # binary losses: elementwise gradients with reduction none
    z = torch.randn(5, 3, generator=g, dtype=torch.float64)
    t = (torch.rand(5, 3, generator=g) > 0.5).double()
    a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
    go = torch.rand(5, 3, generator=g, dtype=torch.float64)
    (bt.server_loss(a, t, loss="bce_with_logits", reduction="none", client=c) * go).sum().backward()
    (F.binary_cross_entropy_with_logits(b, t, reduction="none") * go).sum().backward()
    near(a.grad, b.grad, CONTRACT, "bce grad")


def toy_data():
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 120 + [1] * 24 + [2] * 6)
    centers = torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.5]], dtype=torch.float64)
    x = centers[y] + torch.randn(len(y), 2, generator=g, dtype=torch.float64)
    return x, y


def train(x, y, batches_per_epoch_sampler, crit, epochs=3):
    torch.manual_seed(1)
    model = torch.nn.Linear(2, 3).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    losses, seen = [], []
    for epoch in range(epochs):
        sampler = batches_per_epoch_sampler(epoch)
        loader = DataLoader(TensorDataset(torch.arange(len(y)), x, y), batch_size=30, sampler=sampler)
        for idx, xb, yb in loader:
            seen += idx.tolist()
            loss = crit(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses, seen, [p.detach().clone() for p in model.parameters()]


@test
def training_loop_equals_pytorch():
    """A DataLoader over an imbalanced toy set (120 / 24 / 6): ballast's sampler
    and weighted loss against WeightedRandomSampler (reseeded per epoch) and
    nn.CrossEntropyLoss(weight=...), step for step."""
    c = client()
    x, y = toy_data()
    n = torch.bincount(y).double()
    seed = 31337
    sampler = bt.BallastSampler(labels=y, scheme="inverse", seed=seed, client=c)
    cw = bt.class_weights(labels=y, scheme="balanced", dtype=torch.float64, client=c)

    def ours(epoch):
        sampler.set_epoch(epoch)
        return sampler

    def theirs(epoch):
        return WeightedRandomSampler((1 / n)[y], len(y), generator=torch.Generator().manual_seed(seed + epoch))

    ref_w = n.sum() / (3 * n)
    torch_losses, torch_seen, torch_params = train(x, y, theirs, torch.nn.CrossEntropyLoss(weight=ref_w))
    # 1. ballast's sampler and class weights, PyTorch's loss
    l1, s1, p1 = train(x, y, ours, torch.nn.CrossEntropyLoss(weight=cw))
    eq(s1, torch_seen, "the sampler's indices")
    # 2. ballast's sampler and the server's loss (value and gradient)
    l2, s2, p2 = train(x, y, ours, bt.BallastLoss(weights=cw, client=c))
    eq(s2, torch_seen, "the sampler's indices, again")
    eq(len(l1), 15, "3 epochs of 5 batches")
    for name, ls, ps in (("torch loss", l1, p1), ("server loss", l2, p2)):
        for i, (a, b) in enumerate(zip(ls, torch_losses)):
            near(a, b, {"rel": CONTRACT["rel"], "abs": 0}, "%s step %d" % (name, i))
        for a, b in zip(ps, torch_params):
            near(a, b, {"rel": CONTRACT["rel"], "abs": 1e-14}, "%s: parameters" % name)
    minority = int(torch.isin(torch.tensor(s1), torch.nonzero(y == 2)[:, 0]).sum())
    print("3 epochs x 5 steps equal to PyTorch; loss %.6f -> %.6f; class 2 drawn %d/%d times (4%% of the data)"
          % (torch_losses[0], torch_losses[-1], minority, len(s1)))
    check(minority > len(s1) // 10, "the rare class is drawn often")


@test
def training_example_runs():
    """examples/python/train_torch.py: ballast's run and plain PyTorch's, the same doubles."""
    import contextlib
    import io
    import runpy
    mod = runpy.run_path(os.path.join(ROOT, "examples", "python", "train_torch.py"), run_name="train_torch")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = mod["main"](url())
    out = buf.getvalue()
    print(out.rstrip())
    eq(rc, 0, "the example's verdict")
    check("indices identical; largest relative loss difference 0;" in out, out)


@test
def training_example_imbalanced_prints_identical_losses():
    """clients/python/examples/train_imbalanced.py: BallastSampler (continued
    stream) and class_weights from the server against WeightedRandomSampler and
    torch-computed weights: 5 epochs, every batch loss the same double."""
    ex = os.path.join(PKG, "examples", "train_imbalanced.py")
    r = subprocess.run([SYSTEM_PYTHON, ex, "--url", url()], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=PKG))
    print(r.stdout.rstrip())
    eq(r.returncode, 0, "the example's verdict: " + r.stderr[-2000:])
    rows = re.findall(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(yes|NO)\s+\[(\d+), (\d+), (\d+)\]$", r.stdout, re.M)
    eq([int(row[0]) for row in rows], list(range(5)), "5 epochs")
    for row in rows:
        eq((row[1], row[3]), (row[2], "yes"), "epoch %s: the same loss" % row[0])
        drawn = [int(v) for v in row[4:]]
        eq(sum(drawn), 1000, "one epoch draws len(dataset) items")
        check(min(drawn) > 250, "inverse weights draw the classes about equally: %s" % drawn)
    check(float(rows[-1][1]) < float(rows[0][1]), "the loss goes down")
    check("identical: True (50 batch losses" in r.stdout, r.stdout)
    # clients/python/README.md shows a run of it: the same lines, both loss columns equal.
    with open(os.path.join(PKG, "README.md")) as f:
        shown = f.read().split("## A training loop", 1)[1].split("```\n", 2)[1]
    eq([line.split()[:1] for line in shown.splitlines()], [line.split()[:1] for line in r.stdout.splitlines()],
       "the README's output has the example's lines")
    shown_rows = re.findall(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+yes\s", shown, re.M)
    eq(len(shown_rows), 5, "the README's rows")
    check(all(row[1] == row[2] for row in shown_rows), "the README's loss columns are equal")


# ---- install -----------------------------------------------------------------------------------

# No network for pip: no index, and a proxy that refuses every connection, with none of this
# machine's pip configuration ($PIP_*, pip.conf); a fresh Debian bookworm has none.
BOGUS_PROXY = "http://127.0.0.1:9"


def offline_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON")) and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_RETRIES="0", PIP_TIMEOUT="2",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1", HTTP_PROXY=BOGUS_PROXY,
               HTTPS_PROXY=BOGUS_PROXY, ALL_PROXY=BOGUS_PROXY, http_proxy=BOGUS_PROXY,
               https_proxy=BOGUS_PROXY,
               PATH="/usr/bin:/bin:" + env.get("PATH", ""))   # python3: Debian's
    return env


def readme_section(title):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    return text.split("\n" + title, 1)[1].split("\n## ", 1)[0]


def readme_python_blocks():
    return re.findall(r"```python\n(.*?)```", readme_section("## Clients"), re.S)


def readme_install_commands():
    """The sh block of README's "Python: `clients/python`" that installs the package."""
    section = readme_section("### Python: `clients/python`").split("\n### ", 1)[0]
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        if "pip install" in block:
            return [line.split("#")[0].strip() for line in block.strip().splitlines()]
    raise AssertionError("README: no sh block with pip install in the Python client section")


def check_printed(code, out, what):
    """Each print(...)  # comment in the block: the printed line starts with the
    comment's text."""
    want = [m.group(1).strip() for m in re.finditer(r"^print\(.*\)\s*#\s*(.*)$", code, re.M)]
    lines = out.strip().splitlines()
    eq(len(lines), len(want), "%s: lines printed (%r)" % (what, out))
    for line, w in zip(lines, want):
        check(line.startswith(w.split(" ...")[0].rstrip(",")), "%s printed %r, its comment says %r" % (what, line, w))


def copy_package(d):
    """A checkout's clients/python, as a fresh clone has it, under d/clients/python."""
    src = os.path.join(d, "clients", "python")
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info",
                                                            ".venv"))
    return src


@test
def install_offline_exactly_as_the_readme_says():
    """The README's two commands, run as they are written by sh in a directory
    holding a copy of clients/python, with Debian's python3, no index, a proxy
    that refuses connections and no pip configuration: pip builds the package
    with its in-tree backend (pyproject.toml requires nothing) under build
    isolation. The venv's python then imports the installed copy and runs the
    README's Python client examples against the server."""
    cmds = readme_install_commands()
    eq(cmds, ["python3 -m venv --system-site-packages .venv", ".venv/bin/pip install ./clients/python"],
       "README's install commands")
    env = offline_env()
    with tempfile.TemporaryDirectory() as d:
        copy_package(d)
        for cmd in cmds:
            r = subprocess.run(cmd, shell=True, cwd=d, capture_output=True, text=True, timeout=300, env=env)
            eq(r.returncode, 0, "%s: %s%s" % (cmd, r.stdout[-1500:], r.stderr[-2000:]))
        check("Successfully installed ballast-0.1.0" in r.stdout, r.stdout[-1500:])
        vpy = os.path.join(d, ".venv", "bin", "python")
        probe = ("import ballast, ballast.torch, sys, importlib.metadata as m; "
                 "print(ballast.__file__); print(ballast.__version__, m.version('ballast'), "
                 "ballast.Client(sys.argv[1]).class_weights(counts=[1, 4])['weights'])")
        r = subprocess.run([vpy, "-c", probe, url()], capture_output=True, text=True, cwd="/", timeout=60, env=env)
        eq(r.returncode, 0, "import the installed package: " + r.stderr[-2000:])
        where, line = r.stdout.strip().splitlines()
        check(where.startswith(os.path.join(d, ".venv", "lib")), "the venv's copy is imported: %r" % where)
        eq(line, "0.1.0 0.1.0 [4.0, 1.0]", "version and a call")
        blocks = readme_python_blocks()
        check(len(blocks) >= 2, "README: %d python blocks in Clients" % len(blocks))
        for i, code in enumerate(blocks):
            run = code.replace("127.0.0.1:8080", "127.0.0.1:%d" % srv.port)
            r = subprocess.run([vpy, "-c", run], capture_output=True, text=True, cwd=d, timeout=120, env=env)
            eq(r.returncode, 0, "README Clients python block %d in the venv: %s" % (i, r.stderr[-2000:]))
            check_printed(code, r.stdout, "README Clients python block %d" % i)
        # The package's own README and its training example run from the installed copy too.
        example = os.path.join(d, "clients", "python", "examples", "train_imbalanced.py")
        r = subprocess.run([vpy, example, "--url", url()], capture_output=True, text=True, cwd="/",
                           timeout=300, env=env)
        eq(r.returncode, 0, "the training example from the venv: " + r.stdout[-1000:] + r.stderr[-2000:])
        # An editable install (PEP 660) of the same copy: the source files are imported.
        r = subprocess.run([os.path.join(d, ".venv", "bin", "pip"), "install", "-e", "./clients/python"],
                           cwd=d, capture_output=True, text=True, timeout=300, env=env)
        eq(r.returncode, 0, "pip install -e: " + r.stderr[-2000:])
        r = subprocess.run([vpy, "-c", "import ballast; print(ballast.__file__)"], capture_output=True, text=True,
                           cwd="/", timeout=60, env=env)
        eq(r.stdout.strip(), os.path.join(d, "clients", "python", "ballast", "__init__.py"), "editable")
        # Without the in-tree backend's guarantee (a backend that must be downloaded)
        # the same command fails here: the environment is offline indeed.
        with open(os.path.join(d, "clients", "python", "pyproject.toml")) as f:
            toml = f.read()
        with open(os.path.join(d, "clients", "python", "pyproject.toml"), "w") as f:
            f.write(toml.replace("requires = []", 'requires = ["setuptools>=61"]'))
        r = subprocess.run(cmds[1], shell=True, cwd=d, capture_output=True, text=True, timeout=300, env=env)
        check(r.returncode != 0 and "setuptools" in r.stdout + r.stderr,
              "a download was possible: %s %s" % (r.stdout[-800:], r.stderr[-800:]))


def _load_backend():
    import importlib.util
    spec = importlib.util.spec_from_file_location("ballast_build_under_test",
                                                  os.path.join(PKG, "_build", "ballast_build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@test
def build_backend_wheel_sdist_metadata():
    """clients/python/_build/ballast_build.py: the wheel's files and RECORD
    (every sha256 and size right), METADATA from pyproject.toml, byte-identical
    rebuilds, an sdist that holds what a build needs (pip installs from it,
    offline), and the fallback TOML reader equal to tomllib."""
    import base64
    import hashlib
    import tarfile
    import tomllib
    import zipfile
    be = _load_backend()
    eq((be.get_requires_for_build_wheel(), be.get_requires_for_build_sdist(),
        be.get_requires_for_build_editable()), ([], [], []), "no build requirements")
    with open(os.path.join(PKG, "pyproject.toml"), "rb") as f:
        want = tomllib.load(f)
    with open(os.path.join(PKG, "pyproject.toml"), encoding="utf-8") as f:
        eq(be._parse_toml(f.read()), want, "the fallback TOML reader")
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        os.mkdir(a)
        os.mkdir(b)
        name = be.build_wheel(a)
        eq(name, "ballast-0.1.0-py3-none-any.whl", "wheel name")
        eq(be.build_wheel(b), name, "again")
        with open(os.path.join(a, name), "rb") as f1, open(os.path.join(b, name), "rb") as f2:
            check(f1.read() == f2.read(), "two builds, the same bytes")
        with zipfile.ZipFile(os.path.join(a, name)) as z:
            names = z.namelist()
            mods = sorted(f for f in os.listdir(os.path.join(PKG, "ballast")) if f.endswith(".py"))
            eq(sorted(n for n in names if n.startswith("ballast/")),
               sorted(["ballast/" + m for m in mods] + ["ballast/py.typed"]), "the package's files")
            info = "ballast-0.1.0.dist-info/"
            eq(sorted(n for n in names if n.startswith(info)),
               [info + "METADATA", info + "RECORD", info + "WHEEL"], "dist-info")
            rows = [line.split(",") for line in z.read(info + "RECORD").decode().splitlines()]
            eq(sorted(r[0] for r in rows), sorted(names), "RECORD lists every file")
            for path, digest, size in rows:
                if path == info + "RECORD":
                    eq((digest, size), ("", ""), "RECORD's own row")
                    continue
                data = z.read(path)
                h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                eq((digest, int(size)), ("sha256=" + h, len(data)), "RECORD row of " + path)
            with open(os.path.join(PKG, "ballast", "torch.py"), "rb") as f:
                eq(z.read("ballast/torch.py"), f.read(), "file contents")
            wheel = z.read(info + "WHEEL").decode()
            check("Root-Is-Purelib: true" in wheel and "Tag: py3-none-any" in wheel, wheel)
            meta = z.read(info + "METADATA").decode()
        head, _, body = meta.partition("\n\n")
        for line in ("Metadata-Version: 2.1", "Name: ballast", "Version: 0.1.0", "Requires-Python: >=3.8",
                     "Summary: " + want["project"]["description"], "Provides-Extra: torch",
                     'Requires-Dist: torch; extra == "torch"', "Description-Content-Type: text/markdown"):
            check(line in head.splitlines(), "METADATA lacks %r:\n%s" % (line, head))
        with open(os.path.join(PKG, "README.md"), encoding="utf-8") as f:
            eq(body, f.read(), "the long description is the package's README")
        sdist = be.build_sdist(a)
        eq(sdist, "ballast-0.1.0.tar.gz", "sdist name")
        with tarfile.open(os.path.join(a, sdist)) as t:
            members = t.getnames()
            eq(t.extractfile("ballast-0.1.0/PKG-INFO").read().decode(), meta, "PKG-INFO = METADATA")
        for f in ("pyproject.toml", "README.md", "_build/ballast_build.py", "ballast/__init__.py",
                  "ballast/py.typed"):
            check("ballast-0.1.0/" + f in members, "the sdist lacks " + f)
        eq(be.build_sdist(b), sdist, "again")
        with open(os.path.join(a, sdist), "rb") as f1, open(os.path.join(b, sdist), "rb") as f2:
            check(f1.read() == f2.read(), "two sdists, the same bytes")
        # pip (Debian's, offline) installs the sdist into a --target, through the backend in it
        target = os.path.join(d, "target")
        r = subprocess.run([SYSTEM_PYTHON, "-m", "pip", "install", "--quiet", "--target", target,
                            os.path.join(a, sdist)], capture_output=True, text=True, timeout=300, env=offline_env())
        eq(r.returncode, 0, "pip install the sdist: " + r.stderr[-2000:])
        r = subprocess.run([SYSTEM_PYTHON, "-c", "import ballast; print(ballast.__file__, ballast.__version__)"],
                           capture_output=True, text=True, timeout=60, cwd="/",
                           env=dict(offline_env(), PYTHONPATH=target))
        eq(r.stdout.strip(), os.path.join(target, "ballast", "__init__.py") + " 0.1.0", "from the sdist")


if __name__ == "__main__":
    srv = server()
    auth = server("--log-format", "none", "--auth-token", TOKEN)
    main("client_python")
