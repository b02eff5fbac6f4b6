#!/usr/bin/env python3
"""The Python client (clients/python) with the multi-label /weights fields and
the long-tail and segmentation /loss fields (README "POST /weights", "POST
/loss"; api/openapi.yaml WeightsRequest, LossRequest), against a live ballastd:
Client.class_weights with a 0/1 label matrix (JSON and .npy, NumPy, torch and
bool), label_sets, power and repeat_factor; ballast.torch.pos_weight equal to
(N - n_pos) / n_pos computed in torch, and nn.BCEWithLogitsLoss with it
training step for step as with the torch-computed one; Client.loss with
ldam, asymmetric, dice, tversky, logit_adjustment and sum_over_batch_size
equal to the fixtures of tests/conformance/loss_cases.json, passed as keyword
arguments, as JSON and as .npy; BallastLoss with those losses and autograd.

Needs NumPy and PyTorch (Debian's python3-numpy and python3-torch): when the
python3 running this lacks them, the suite re-runs itself under
/usr/bin/python3; when neither has them, it fails."""
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
    print("client_python_multilabel: 0 passed, 1 failed")
    sys.exit(1)

import inspect  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, eq, main, near, server, test, tolerance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import ballast  # noqa: E402
import ballast.torch as bt  # noqa: E402
from ballast import BallastError  # noqa: E402

srv = None
with open(os.path.join(ROOT, "tests", "conformance", "loss_cases.json")) as _f:
    LOSS_FIXTURES = json.load(_f)
CONTRACT = tolerance(LOSS_FIXTURES)
EXACT = {"rel": 0, "abs": 0}


def url():
    return "http://127.0.0.1:%d" % srv.port


def client(**kw):
    return ballast.Client(url(), **kw)


def raises(fn, **want):
    try:
        fn()
    except BallastError as e:
        for k, v in want.items():
            eq(getattr(e, k), v, "BallastError.%s (%s)" % (k, e))
        return e
    raise AssertionError("no BallastError")


def multi_hot(n, c, seed, p=0.3):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, c, generator=g) < p).to(torch.int64)
    y[:, 0] = 1 - y[:, 1]      # no class without positives
    y[0, :] = 1
    return y


# ---- /weights ----------------------------------------------------------------------

@test
def keyword_arguments_are_the_api_fields():
    """Every field of WeightsRequest and LossRequest in api/openapi.yaml is a
    keyword argument of Client.class_weights / Client.loss, by its API name."""
    import yaml
    with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
        schemas = yaml.safe_load(f)["components"]["schemas"]
    for method, schema in ((ballast.Client.class_weights, "WeightsRequest"), (ballast.Client.loss, "LossRequest")):
        params = set(inspect.signature(method).parameters)
        missing = sorted(set(schemas[schema]["properties"]) - params)
        eq(missing, [], "%s fields missing from Client.%s" % (schema, method.__name__))
        doc = method.__doc__
        undocumented = [k for k in schemas[schema]["properties"] if k not in doc]
        eq(undocumented, [], "Client.%s's docstring names every field" % method.__name__)
    params = set(inspect.signature(bt.server_loss).parameters)
    eq(sorted(set(schemas["LossRequest"]["properties"]) - params - {"logits", "log_probs", "targets", "grad"}), [],
       "server_loss options")


@test
def multilabel_matrix_and_label_sets():
    c = client()
    sets = [[0, 2], [2], [0, 1, 2], []]
    Y = [[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]]
    want = {"weights": [1.5, 3.0, 1.0], "counts": [2, 1, 3], "num_classes": 3, "scheme": "max_over_count",
            "normalize": "none", "num_samples": 4, "positives": [2, 1, 3],
            "pos_weight": [1.0, 3.0, 1 / 3], "sample_weights": [1.5, 1.0, 3.0, 1.0]}
    eq(c.class_weights(label_sets=sets, sample_weights=True), want, "label_sets, lists")
    eq(c.class_weights(labels=Y, sample_weights=True), want, "labels matrix, lists")
    eq(c.class_weights(label_sets=sets, sample_weights=True, sample_weight_reduce="mean")["sample_weights"],
       [1.25, 1.0, 5.5 / 3, 1.0], "sample_weight_reduce mean")
    # NumPy (bool and int) and torch, as JSON and as .npy: the same numbers, as arrays
    for bulk in (None, 0):
        cb = client(bulk_threshold=bulk)
        for arr in (np.array(Y, dtype=bool), np.array(Y, dtype=np.int64), np.array(Y, dtype=np.uint8)):
            doc = cb.class_weights(labels=arr, sample_weights=True)
            for k in ("weights", "counts", "positives", "pos_weight", "sample_weights"):
                check(isinstance(doc[k], np.ndarray) and doc[k].dtype == np.float64,
                      "%s as float64 NumPy (bulk %s, %s)" % (k, bulk, arr.dtype))
                near(doc[k], want[k], EXACT, "%s (bulk %s, %s)" % (k, bulk, arr.dtype))
            eq(doc["num_samples"], 4, "num_samples")
        doc = cb.class_weights(labels=torch.tensor(Y).bool())
        check(isinstance(doc["pos_weight"], torch.Tensor) and doc["pos_weight"].dtype == torch.float64,
              "pos_weight as a float64 tensor")
        near(doc["pos_weight"], want["pos_weight"], EXACT, "torch pos_weight (bulk %s)" % bulk)
        eq(c.class_weights(labels=torch.tensor(Y), output="list")["positives"], [2, 1, 3], "output list")
    # label_sets of NumPy integers and tensors go as JSON lists
    eq(c.class_weights(label_sets=[np.array([0, 2]), torch.tensor([2]), [0, 1, 2], []],
                       output="list")["pos_weight"], want["pos_weight"], "label_sets of arrays")
    # a big matrix travels as .npy (bit for bit the JSON answer)
    big = multi_hot(3000, 7, 5).numpy()
    a = client(bulk_threshold=0).class_weights(labels=big, scheme="balanced", sample_weights=True)
    b = client(bulk_threshold=None).class_weights(labels=big, scheme="balanced", sample_weights=True)
    for k in ("weights", "pos_weight", "positives", "sample_weights"):
        check(np.array_equal(a[k], b[k]), "%s: .npy and JSON" % k)
    # the server's errors name the field as it was sent
    raises(lambda: c.class_weights(labels=[[1, 0], [2, 0]]), status=400, code="invalid_argument")
    e = raises(lambda: c.class_weights(label_sets=[[0], [5]], num_classes=3), status=400)
    check((e.field or "").startswith("label_sets"), "field %r" % e.field)
    e = raises(lambda: c.class_weights(label_sets=[[0], [1]], sample_weight_reduce="mean"), status=400)
    eq(e.field, "sample_weight_reduce", "sample_weight_reduce needs sample_weights")


@test
def power_and_repeat_factor_schemes():
    c = client()
    counts = [1.0, 4.0, 9.0, 100.0]
    for q in (0.0, 0.5, 1.0, 2.5):
        near(c.class_weights(counts=counts, scheme="power", exponent=q)["weights"],
             [n ** -q for n in counts], {"rel": 1e-15, "abs": 0}, "power %s" % q)
    eq(c.class_weights(counts=counts, scheme="power", exponent=0.5)["weights"],
       c.class_weights(counts=counts, scheme="inverse_sqrt")["weights"], "power 0.5 is inverse_sqrt")
    raises(lambda: c.class_weights(counts=counts, exponent=1.0), status=400, field="exponent")
    # repeat factors: r_c = max(1, sqrt(t / f_c)), r_i = max over the image's classes (1 if none)
    g = torch.Generator().manual_seed(11)
    sets = [sorted(set(torch.randint(0, 6, (int(k),), generator=g).tolist()))
            for k in torch.randint(0, 4, (200,), generator=g)]
    sets[0] = [0, 1, 2, 3, 4, 5]
    t = 0.3
    f = torch.zeros(6, dtype=torch.float64)
    for s in sets:
        f[s] += 1
    f /= len(sets)
    rc = torch.clamp(torch.sqrt(t / f), min=1.0)
    ri = [max([rc[k].item() for k in s], default=1.0) for s in sets]
    doc = c.class_weights(label_sets=sets, scheme="repeat_factor", threshold=t)
    near(doc["weights"], rc, {"rel": 1e-15, "abs": 0}, "repeat_factor class factors")
    near(doc["repeat_factors"], ri, {"rel": 1e-15, "abs": 0}, "repeat_factors per image")
    r = bt.fetch_weights(label_sets=sets, scheme="repeat_factor", threshold=t, dtype=torch.float64, client=c)
    near(r.repeat_factors, ri, {"rel": 1e-15, "abs": 0}, "fetch_weights repeat_factors")
    eq((r.num_samples, r.scheme, r.sample_weights), (200, "repeat_factor", None), "WeightsResult fields")


@test
def pos_weight_tensor_equals_torch_and_trains_identically():
    """ballast.torch.pos_weight of a random multi-label matrix equals
    (N - n_pos) / n_pos computed in torch, in float32 and float64, from a
    tensor (JSON and .npy), label_sets and a bool matrix; BCEWithLogitsLoss
    with it trains step for step as with the torch-computed one."""
    c = client()
    Y = multi_hot(500, 6, 1)
    n_pos = Y.sum(0).double()
    ref64 = (Y.shape[0] - n_pos) / n_pos
    for dtype in (torch.float64, torch.float32):
        for cl in (client(bulk_threshold=None), client(bulk_threshold=0)):
            pw = bt.pos_weight(Y, dtype=dtype, client=cl)
            eq((pw.dtype, pw.device.type, tuple(pw.shape)), (dtype, "cpu", (6,)), "dtype, device, shape")
            check(torch.equal(pw, ref64.to(dtype)), "pos_weight %s: %s vs %s" % (dtype, pw, ref64))
    sets = [torch.nonzero(row).flatten().tolist() for row in Y]
    check(torch.equal(bt.pos_weight(label_sets=sets, dtype=torch.float64, client=c), ref64), "from label_sets")
    check(torch.equal(bt.pos_weight(Y.bool().numpy(), dtype=torch.float64, client=c), ref64), "NumPy bool")
    r = bt.fetch_weights(labels=Y, scheme="inverse", dtype=torch.float64, client=c)
    check(torch.equal(r.pos_weight, ref64) and torch.equal(r.positives, n_pos), "fetch_weights")
    near(r.weights, 1 / n_pos, {"rel": 1e-15, "abs": 0}, "inverse of the positives")
    check(torch.equal(bt.class_weights(labels=Y, scheme="inverse", dtype=torch.float64, client=c), r.weights),
          "class_weights with a matrix: the weights")
    # a class without positives: refused by default (naming the class), 0 with zero_counts="zero"
    Z = Y.clone()
    Z[:, 3] = 0
    raises(lambda: bt.pos_weight(Z, client=c), status=400, code="invalid_argument")
    pz = bt.pos_weight(Z, zero_counts="zero", dtype=torch.float64, client=c)
    eq(pz[3].item(), 0.0, "zero_counts zero")
    try:
        bt.pos_weight(torch.tensor([0, 1, 1]), client=c)
        raise AssertionError("a 1-D labels vector was taken")
    except ValueError as e:
        check("N x C" in str(e), str(e))

    # Training: the same model, data and steps, pos_weight from the server and from torch.
    x = torch.randn(500, 4, generator=torch.Generator().manual_seed(2))
    targets = Y.float()

    def run(pw):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 6)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        crit = torch.nn.BCEWithLogitsLoss(pos_weight=pw)
        losses = []
        for step in range(5):
            xb, yb = x[step * 100:(step + 1) * 100], targets[step * 100:(step + 1) * 100]
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, model.weight.detach().clone()

    ours, w_ours = run(bt.pos_weight(Y, client=c))
    theirs, w_theirs = run(((Y.shape[0] - Y.sum(0)) / Y.sum(0)).float())
    eq(ours, theirs, "training losses")
    check(torch.equal(w_ours, w_theirs), "trained weights")
    check(ours[0] != ours[-1], "the model trains: %r" % ours)
    # ... and the server's bce_with_logits with that pos_weight gives the same loss
    z = torch.randn(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    pw = bt.pos_weight(Y, dtype=torch.float64, client=c)
    near(c.loss(logits=z, targets=targets[:8].double(), loss="bce_with_logits", pos_weight=pw)["loss"],
         torch.nn.functional.binary_cross_entropy_with_logits(z, targets[:8].double(), pos_weight=pw).item(),
         CONTRACT, "server bce_with_logits with pos_weight")


# ---- /loss -------------------------------------------------------------------------

NEW_LOSS_FIELDS = ("logit_adjustment", "class_counts", "class_priors", "max_margin", "scale", "gamma_pos",
                   "gamma_neg", "clip", "eps", "activation", "include_background", "batch", "smooth_nr",
                   "smooth_dr", "tversky_alpha", "tversky_beta")


def new_field_cases():
    """The fixture cases that use a new loss, a new field or the new reduction."""
    out = []
    for case in LOSS_FIXTURES["cases"]:
        r = case["request"]
        if (r.get("loss") in ("ldam", "asymmetric", "dice", "tversky") or r.get("reduction") == "sum_over_batch_size"
                or any(k in r for k in NEW_LOSS_FIELDS)):
            out.append(case)
    return out


def as_arrays(req):
    """The request's arrays as NumPy: integer targets as int64, the others float64."""
    out = dict(req)
    for k in ("logits", "log_probs", "weights", "pos_weight", "class_counts", "class_priors"):
        if k in out:
            out[k] = np.asarray(out[k], dtype=np.float64)
    if "targets" in out:
        t = np.asarray(out["targets"])
        out["targets"] = t.astype(np.int64) if t.dtype.kind in "iu" else t.astype(np.float64)
    return out


def compare(doc, case, what):
    tol = tolerance(LOSS_FIXTURES, case)
    exp = case["expected"]
    if "error" in exp:
        raise AssertionError("%s: the fixture expects an error" % what)
    near(doc["loss"], exp["loss"], tol, what + " loss")
    if "total_weight" in exp:
        near(doc["total_weight"], exp["total_weight"], tol, what + " total_weight")
    if "grad" in exp:
        near(doc["grad"], exp["grad"], tol, what + " grad")


@test
def new_losses_equal_the_fixtures_through_the_client():
    """Every fixture case of the new losses and fields, sent through
    Client.loss with keyword arguments: as JSON lists, and as NumPy .npy."""
    cases = [c for c in new_field_cases() if "error" not in c["expected"]]
    kinds = {(c["request"].get("loss", "cross_entropy"), c["request"].get("reduction", "mean")) for c in cases}
    losses = {k for k, _ in kinds}
    check({"ldam", "asymmetric", "dice", "tversky", "cross_entropy"} <= losses, "fixture losses: %s" % losses)
    check(any(r == "sum_over_batch_size" for _, r in kinds), "a sum_over_batch_size case")
    check(any("logit_adjustment" in c["request"] for c in cases), "a logit_adjustment case")
    check(len(cases) >= 150, "%d cases" % len(cases))
    as_json, as_npy = client(bulk_threshold=None), client(bulk_threshold=0)
    for case in cases:
        req = case["request"]
        compare(as_json.loss(**req, output="list"), case, case["name"] + " (JSON)")
        compare(as_npy.loss(**as_arrays(req), output="numpy"), case, case["name"] + " (.npy)")


@test
def ldam_and_logit_adjustment_by_their_formulas():
    """Independent of the fixtures: ldam as cross_entropy of s(z - Δ_y e_y) with
    Δ ∝ n^-1/4 (max Δ = max_margin), logit adjustment as cross_entropy of
    z + τ log π, computed in torch; and BallastLoss's gradients for both."""
    c = client()
    g = torch.Generator().manual_seed(7)
    counts = torch.tensor([500.0, 60.0, 8.0, 2.0], dtype=torch.float64)
    z = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (12,), generator=g)
    w = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    F = torch.nn.functional
    delta = counts ** -0.25
    delta = 0.4 * delta / delta.max()
    for reduction in ("mean", "sum", "sum_over_batch_size"):
        a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
        mine = bt.BallastLoss("ldam", class_counts=counts, max_margin=0.4, scale=16.0, weights=w,
                              reduction=reduction, client=c)(a, y)
        adj = 16.0 * (b - F.one_hot(y, 4) * delta)
        ref = F.cross_entropy(adj, y, weight=w, reduction="sum" if reduction != "mean" else "mean")
        if reduction == "sum_over_batch_size":
            ref = ref / len(y)
        near(mine, ref, CONTRACT, "ldam %s" % reduction)
        mine.backward()
        ref.backward()
        near(a.grad, b.grad, CONTRACT, "ldam %s grad" % reduction)
    for tau in (1.0, 0.5):
        a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
        mine = bt.server_loss(a, y, logit_adjustment=tau, class_counts=counts, label_smoothing=0.1, client=c)
        ref = F.cross_entropy(b + tau * torch.log(counts / counts.sum()), y, label_smoothing=0.1)
        near(mine, ref, CONTRACT, "logit_adjustment %s" % tau)
        mine.backward()
        ref.backward()
        near(a.grad, b.grad, CONTRACT, "logit_adjustment %s grad" % tau)
        near(c.loss(logits=z, targets=y, logit_adjustment=tau, class_priors=counts * 3,
                    label_smoothing=0.1)["loss"], ref.item(),
             CONTRACT, "class_priors are normalised")
    e = raises(lambda: c.loss(logits=z, targets=y, loss="ldam"), status=400)
    eq(e.field, "class_counts", "ldam needs class_counts")


@test
def segmentation_and_multilabel_losses_through_autograd():
    """BallastLoss("dice") and ("asymmetric"): values and gradients equal
    torch formulas (MONAI's DiceLoss with softmax and one-hot targets, timm's
    asymmetric loss) written here; reduction "none" of dice can be averaged."""
    c = client()
    g = torch.Generator().manual_seed(9)
    F = torch.nn.functional
    x = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (2, 4, 5), generator=g)

    def dice_ref(logits, include_background=True, snr=1e-5, sdr=1e-5, alpha=None, beta=None):
        p = F.softmax(logits, 1)
        t = F.one_hot(y, 3).permute(0, 3, 1, 2).double()
        if not include_background:
            p, t = p[:, 1:], t[:, 1:]
        inter = (p * t).sum((2, 3))
        if alpha is None:
            score = 1 - (2 * inter + snr) / (p.sum((2, 3)) + t.sum((2, 3)) + sdr)
        else:
            fp, fn = (p * (1 - t)).sum((2, 3)), ((1 - p) * t).sum((2, 3))
            score = 1 - (inter + snr) / (inter + alpha * fp + beta * fn + sdr)
        return score

    for kw, ref_kw in (({}, {}), ({"include_background": False, "smooth_nr": 0.5, "smooth_dr": 1.0},
                                  {"include_background": False, "snr": 0.5, "sdr": 1.0})):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        mine = bt.BallastLoss("dice", client=c, **kw)(a, y)
        ref = dice_ref(b, **ref_kw).mean()
        near(mine, ref, CONTRACT, "dice %s" % kw)
        mine.backward()
        ref.backward()
        near(a.grad, b.grad, CONTRACT, "dice %s grad" % kw)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    mine = bt.server_loss(a, y, loss="tversky", tversky_alpha=0.3, tversky_beta=0.7, reduction="none", client=c)
    ref = dice_ref(b, alpha=0.3, beta=0.7)
    near(mine, ref, CONTRACT, "tversky none")
    mine.mean().backward()
    ref.mean().backward()
    near(a.grad, b.grad, CONTRACT, "tversky none, averaged: grad")
    mine = bt.server_loss(x.clone().requires_grad_(), y, loss="tversky", reduction="none", client=c)
    try:
        (mine * torch.arange(6, dtype=torch.float64).reshape(2, 3)).sum().backward()
        raise AssertionError("an unequal weighting of dice scores was back-propagated")
    except RuntimeError as e:
        check("dice/tversky" in str(e), str(e))
    # asymmetric, elementwise with reduction none
    z = torch.randn(6, 5, generator=g, dtype=torch.float64)
    t = multi_hot(6, 5, 3).double()
    a, b = z.clone().requires_grad_(), z.clone().requires_grad_()
    go = torch.rand(6, 5, generator=g, dtype=torch.float64)
    mine = bt.server_loss(a, t, loss="asymmetric", gamma_pos=1.0, gamma_neg=3.0, clip=0.1, eps=1e-8,
                          reduction="none", client=c)
    p = torch.sigmoid(b)
    pm = torch.clamp(1 - p + 0.1, max=1.0)
    lp = t * torch.log(torch.clamp(p, min=1e-8)) * (1 - p) ** 1.0
    ln = (1 - t) * torch.log(torch.clamp(pm, min=1e-8)) * (1 - pm) ** 3.0
    ref = -(lp + ln)
    near(mine, ref, CONTRACT, "asymmetric none")
    (mine * go).sum().backward()
    (ref * go).sum().backward()
    near(a.grad, b.grad, CONTRACT, "asymmetric grad")
    try:
        bt.BallastLoss("dice", smoth_nr=1.0)
        raise AssertionError("a misspelt option was taken")
    except TypeError as e:
        check("smoth_nr" in str(e), str(e))


if __name__ == "__main__":
    srv = server()
    main("client_python_multilabel")
