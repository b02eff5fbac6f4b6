#!/usr/bin/env python3
"""The clients in examples/: the Python client (examples/python/ballast_client.py,
imported) and the Node.js client (examples/node/, whose own node:test suite
examples/node/test_client.mjs is run with `node --test`), each against live
ballastd processes: the README's seed examples, a PyTorch replay from the
conformance fixtures, errors, an --auth-token server, and the .npy bulk calls
compared with the JSON ones bit for bit.

The bulk calls of the Python client need NumPy: when the python3 running
this lacks it, the suite re-runs itself under /usr/bin/python3 (Debian's
python3-numpy, which make test uses anyway); when neither has it, the .npy
tests fail. The Node tests need `node` (Node 18 or later: Debian bookworm's `nodejs`
package, 18.20, works): without it they fail."""
import os
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import numpy  # noqa: F401
except ImportError:
    if (not os.environ.get("BALLAST_EXAMPLES_REEXEC") and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable or "") != os.path.realpath(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL).returncode == 0):
        os.environ["BALLAST_EXAMPLES_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])

if os.environ.get("BALLAST_EXAMPLES_REEXEC"):
    print("(running under %s, which has NumPy)" % sys.executable)
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, eq, main, near, server, test  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
from ballast_client import Ballast, BallastError  # noqa: E402

srv = None       # a plain server
auth = None      # one with --auth-token TOKEN
TOKEN = "examples-s3cret-token"

README_LOSS = {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "weights": [1, 2]}
README_LOSS_NONE = [1.3132616875182228, 0.253856022085945, 0.253856022085945]


def url(s):
    return "http://127.0.0.1:%d" % s.port


def client(**kw):
    return Ballast(url(srv), **kw)


def numpy():
    try:
        import numpy as np
    except ImportError:
        raise AssertionError("the .npy tests need NumPy, in %s or %s: install Debian's python3-numpy "
                             "(apt-get install python3-numpy)" % (sys.executable, SYSTEM_PYTHON))
    return np


def bits(values):
    return [struct.pack("<d", v) for v in values]


# ---- the Python client ------------------------------------------------------------

@test
def python_weights_seed_examples():
    b = client()
    doc = b.weights(counts=[100000, 100, 10])
    eq(doc["weights"], [1.0, 1000.0, 10000.0], "max_over_count")
    eq(doc["num_classes"], 3, "num_classes")
    doc = b.weights(counts={"normal": 100000, "flu": 100, "rare": 10}, scheme="balanced", normalize="mean")
    eq(list(doc["weights"].items()), [("normal", 0.00027270248159258254), ("flu", 0.2727024815925825),
                                      ("rare", 2.7270248159258252)], "counts by name, order kept")
    doc = b.weights(labels=[0, 0, 1, 2, 2, 2], sample_weights=True)
    eq(doc["sample_weights"], [1.5, 1.5, 3.0, 1.0, 1.0, 1.0], "sample_weights")


@test
def python_loss_seed_example():
    b = client()
    none = b.loss(reduction="none", **README_LOSS)
    eq(none["loss"], README_LOSS_NONE, "none")
    eq(none["total_weight"], 5.0, "total_weight")
    total = b.loss(reduction="sum", **README_LOSS)
    mean = b.loss(**README_LOSS)
    near(total["loss"], sum(README_LOSS_NONE), {"rel": 0, "abs": 1e-15}, "sum")
    near(mean["loss"], total["loss"] / 5.0, {"rel": 0, "abs": 1e-16}, "mean")
    check(repr(mean["loss"]).startswith("0.3641"), mean)
    eq((mean["reduction"], mean["total_weight"]), ("mean", 5.0), "mean")


@test
def python_sample_torch_replay():
    b = client()
    doc = b.sample(weights=[100000, 100, 10], num_samples=3, replacement=False, seed=0, generator="torch")
    eq((doc["indices"], doc["seed"], doc["generator"]), ([0, 1, 2], 0, "torch"), "README example")
    with open(os.path.join(ROOT, "tests/conformance/sample_cases.json")) as f:
        cases = {c["name"]: c for c in json.load(f)["cases"]}
    # Named fixtures: a 40-item draw at epoch 3, and the seed 2^64 - 1 (only its low 32 bits count).
    for name in ("epoch_repl_seed42_e3", "epoch_norepl_seed2p64m1_e5", "invskew3_repl_k50_seed2p64m1"):
        c = cases[name]
        doc = b.sample(**c["request"])
        eq(doc["indices"], c["expected"]["indices"], name)
        eq(doc["seed"], c["request"]["seed"], name + " seed")
    for c in cases.values():
        eq(b.sample(**c["request"])["indices"], c["expected"]["indices"], c["name"])
    print("torch replay: %d fixtures" % len(cases))


@test
def python_errors():
    b = client()
    try:
        b.weights(request_id="py-err-1", counts=[100000, -1, 10])
        raise AssertionError("no error")
    except BallastError as e:
        eq((e.status, e.code, e.field, e.request_id), (400, "invalid_argument", "counts[1]", "py-err-1"), "fields")
        check("counts[1] = -1" in e.message, e.message)
        check("400 invalid_argument" in str(e), str(e))
    try:
        b.loss(logits=[[1, 2]], targets=[0], reducton="sum")
        raise AssertionError("no error")
    except BallastError as e:
        eq((e.status, e.field), (400, "reducton"), "a typo")
    try:
        b.sample(weights=[1, 2], seed=2 ** 64)
        raise AssertionError("no error")
    except BallastError as e:
        eq((e.status, e.field), (400, "seed"), "seed out of range")
    b.sample(request_id="py-ok-1", weights=[1, 2], seed=2 ** 64 - 1)
    eq(b.last_request_id, "py-ok-1", "last_request_id")
    check(b.healthz() == {"status": "ok"}, "healthz")


@test
def python_auth_token():
    for token in (None, "wrong"):
        try:
            Ballast(url(auth), token=token).weights(counts=[1, 2])
            raise AssertionError("no error with token %r" % token)
        except BallastError as e:
            eq((e.status, e.code), (401, "unauthorized"), "token %r" % token)
    b = Ballast(url(auth), token=TOKEN)
    eq(b.weights(counts=[100000, 100, 10])["weights"], [1.0, 1000.0, 10000.0], "with the token")
    np = numpy()
    idx, meta = b.sample_npy(np.array([0.0, 1.0]), seed=3, num_samples=4)
    eq((idx.tolist(), meta["seed"]), ([1, 1, 1, 1], 3), "bulk call with the token")


@test
def python_sample_npy_equals_json():
    np = numpy()
    b = client()
    w = np.random.default_rng(2024).random(100_000)
    w[::10] *= 100
    idx, meta = b.sample_npy(w, seed=987654321, num_samples=100_000)
    doc = b.sample(weights=w, seed=987654321, num_samples=100_000)  # an ndarray goes as a JSON list
    eq(idx.dtype.str, "<i8", "dtype")
    eq(idx.tolist(), doc["indices"], "indices")
    eq(meta, {"seed": 987654321, "epoch": 0, "num_samples": 100_000, "generator": "fast"}, "meta")
    # A seed the server drew (most above 2^53) replays exactly.
    idx, meta = b.sample_npy(w, num_samples=1000)
    eq(idx.tolist(), b.sample(weights=w, num_samples=1000, seed=meta["seed"])["indices"], "drawn seed")
    # torch generator, sharded, float32 weights, labels + class_weights as parts
    idx, meta = b.sample_npy(w[:40], seed=42, epoch=3, num_samples=16, generator="torch", world_size=3, rank=1)
    doc = b.sample(weights=w[:40].tolist(), seed=42, epoch=3, num_samples=16, generator="torch", world_size=3, rank=1)
    eq(idx.tolist(), doc["indices"], "torch, rank 1 of 3")
    eq((meta["rank"], meta["world_size"], meta["total_size"]), (1, 3, 18), "shard meta")
    w32 = w[:1000].astype(np.float32)
    idx, _ = b.sample_npy(w32, seed=5)
    eq(idx.tolist(), b.sample(weights=w32.astype(float).tolist(), seed=5)["indices"], "float32")
    # labels + class_weights as parts instead of weights
    labels = np.arange(300) % 3
    cw = np.array([1.0, 2.0, 3.0])
    idx, _ = b.sample_npy(None, labels=labels, class_weights=cw, seed=9)
    eq(idx.tolist(), b.sample(labels=labels, class_weights=cw, seed=9)["indices"], "labels as parts")


@test
def python_loss_npy_equals_json():
    np = numpy()
    b = client()
    rng = np.random.default_rng(7)
    logits = (rng.random((2000, 7)) - 0.5) * 20
    targets = rng.integers(0, 7, 2000)
    weights = np.arange(1.0, 8.0)
    out = b.loss_npy(logits, targets, weights=weights, reduction="none")
    doc = b.loss(logits=logits, targets=targets, weights=weights, reduction="none")
    eq((out.dtype.str, out.shape), ("<f8", (2000,)), "dtype and shape")
    eq(bits(out.tolist()), bits(doc["loss"]), "loss bits")
    eq(b.last_meta, {"reduction": "none", "total_weight": doc["total_weight"]}, "meta")
    # K-dimensional input, shape kept; focal loss; ignore_index
    lk = rng.normal(size=(3, 4, 5, 2)) * 3
    tk = rng.integers(0, 4, (3, 5, 2))
    tk[0, 0, 0] = -100
    out = b.loss_npy(lk, tk, loss="focal", gamma=1.5, reduction="none")
    doc = b.loss(logits=lk, targets=tk, loss="focal", gamma=1.5, reduction="none")
    eq(out.shape, (3, 5, 2), "K-dim shape")
    eq(bits(out.ravel().tolist()), bits(np.array(doc["loss"]).ravel().tolist()), "K-dim bits")
    # sum and mean: the JSON dict, equal to the JSON call
    for reduction in ("sum", "mean"):
        got = b.loss_npy(logits, targets, weights=weights, reduction=reduction)
        want = b.loss(logits=logits, targets=targets, weights=weights, reduction=reduction)
        eq(got, want, reduction)
    # grad: a multipart answer, grad as an ndarray equal to the JSON one bit for bit
    got = b.loss_npy(logits[:50], targets[:50], reduction="mean", grad=True)
    want = b.loss(logits=logits[:50], targets=targets[:50], reduction="mean", grad=True)
    eq(got["loss"], want["loss"], "grad call loss")
    eq(got["grad"].shape, (50, 7), "grad shape")
    eq(bits(got["grad"].ravel().tolist()), bits(np.array(want["grad"]).ravel().tolist()), "grad bits")
    # float32 logits and int32 / uint8 targets are sent as they are
    l32 = logits[:100].astype(np.float32)
    want = b.loss(logits=l32.astype(float), targets=targets[:100], reduction="none")["loss"]
    for t in (targets[:100].astype(np.int32), targets[:100].astype(np.uint8)):
        eq(bits(b.loss_npy(l32, t, reduction="none").tolist()), bits(want), "float32 logits, %s targets" % t.dtype)
    # nll takes log_probs
    lp = logits[:20] - np.log(np.exp(logits[:20]).sum(axis=1, keepdims=True))
    eq(b.loss_npy(lp, targets[:20], loss="nll", reduction="sum"),
       b.loss(log_probs=lp, targets=targets[:20], loss="nll", reduction="sum"), "nll")
    # errors keep their shape through the bulk path
    try:
        b.loss_npy(logits[:3], np.array([0, 9, 1]), reduction="none")
        raise AssertionError("no error")
    except BallastError as e:
        eq((e.status, e.field), (400, "targets[1]"), "bulk error")


@test
def python_demo_runs():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples/python/ballast_client.py"), url(srv)],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "exit status; stderr: " + r.stderr[-2000:])
    for s in ("[1.0, 1000.0, 10000.0]", "[0, 1, 2]", "field counts[1]"):
        check(s in r.stdout, "demo output lacks %r:\n%s" % (s, r.stdout))


# ---- the Node.js client -------------------------------------------------------------

def node():
    exe = shutil.which("node")
    if exe is None:
        raise AssertionError("node not found on PATH: the Node.js client tests need Node 18 or later "
                             "(Debian: apt-get install nodejs)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(out.lstrip("v").split(".")[0]) if out.startswith("v") else 0
    check(major >= 18, "the Node.js client needs Node 18 or later (built-in fetch, FormData, Blob); "
                       "found %s" % (out or "no version"))
    return exe


@test
def node_client_tests():
    exe = node()
    env = dict(os.environ, BALLAST_URL=url(srv), BALLAST_AUTH_URL=url(auth), BALLAST_TOKEN=TOKEN)
    r = subprocess.run([exe, "--test", "--test-reporter=tap", "examples/node/test_client.mjs"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    counts = dict(re.findall(r"^# (tests|pass|fail|skipped|cancelled) (\d+)$", r.stdout, re.M))
    print("node --test examples/node/test_client.mjs: %s passed, %s failed, %s skipped (of %s)"
          % (counts.get("pass", "?"), counts.get("fail", "?"), counts.get("skipped", "?"),
             counts.get("tests", "?")))
    if r.returncode != 0 or counts.get("fail") != "0":
        print(r.stdout[-6000:])
        print(r.stderr[-2000:])
    eq(r.returncode, 0, "node --test exit status")
    eq((counts.get("fail"), counts.get("skipped"), counts.get("cancelled")), ("0", "0", "0"),
       "node fail/skipped/cancelled")
    check(int(counts.get("pass", 0)) >= 9, "node tests passed: %s" % counts.get("pass"))


@test
def node_demo_runs():
    exe = node()
    r = subprocess.run([exe, "examples/node/demo.mjs", url(srv)], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    eq(r.returncode, 0, "exit status; stderr: " + r.stderr[-2000:])
    for s in ("[ 1, 1000, 10000 ]", "[ 0, 1, 2 ]", "field counts[1]", "identical"):
        check(s in r.stdout, "demo output lacks %r:\n%s" % (s, r.stdout))


if __name__ == "__main__":
    srv = server()
    auth = server("--log-format", "none", "--auth-token", TOKEN)
    main("examples")
