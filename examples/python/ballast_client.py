#!/usr/bin/env python3
"""A small client for ballastd: class weights, weighted sampling and
PyTorch-exact losses over HTTP.

Standard library only (Python 3.9+). The JSON methods take the request
fields as keyword arguments, exactly as api/openapi.yaml names them, and
return the response document as a dict:

    >>> from ballast_client import Ballast
    >>> b = Ballast("http://127.0.0.1:8080")
    >>> b.weights(counts=[100000, 100, 10])["weights"]
    [1.0, 1000.0, 10000.0]
    >>> b.weights(counts={"normal": 100000, "flu": 100, "rare": 10})["weights"]
    {'normal': 1.0, 'flu': 1000.0, 'rare': 10000.0}
    >>> b.sample(weights=[100000, 100, 10], num_samples=3, replacement=False,
    ...          seed=0, generator="torch")["indices"]
    [0, 1, 2]
    >>> b.loss(logits=[[1, 2], [1, 3], [1, 3]], targets=[0, 1, 1], weights=[1, 2])["loss"]
    0.36419474633802257

Bulk calls send NumPy arrays as .npy parts of a multipart/form-data request
and read .npy answers; they import NumPy when called, so the JSON methods
work without it:

    >>> idx, meta = b.sample_npy(np.random.rand(1_000_000), seed=7)
    >>> idx.dtype, meta["seed"]
    (dtype('int64'), 7)
    >>> b.loss_npy(logits, targets, reduction="none")       # an ndarray
    >>> b.loss_npy(logits, targets, reduction="sum")        # a dict, as loss()

NumPy arrays (and NumPy scalars) may also be passed to the JSON methods; they
are sent as JSON lists.

Errors: a response with an error document raises BallastError (status, code,
message, field, request_id). Network failures raise urllib's URLError (or
OSError / socket.timeout) unchanged.

Every method takes request_id="..." (1 to 64 visible ASCII characters), sent
as X-Request-Id; the server echoes it, and the id of the last response is
kept in Ballast.last_request_id.

Run this file to try the README's examples against a server:

    python3 examples/python/ballast_client.py [BASE_URL]     # or BALLAST_URL=...
"""
import io
import json
import os
import sys
import urllib.error
import urllib.request

__all__ = ["Ballast", "BallastError"]

# Ballast-* response headers (the scalar fields of an .npy answer) whose value
# is an integer, or a real; every other one stays a string.
_INT_HEADERS = {"seed", "epoch", "num_samples", "rank", "world_size", "total_size", "num_classes"}
_REAL_HEADERS = {"total_weight"}
# The array fields each endpoint accepts as .npy parts (api/openapi.yaml, "Bulk data").
_ARRAY_FIELDS = {
    "weights": ("counts", "labels"),
    "sample": ("weights", "labels", "class_weights"),
    "loss": ("logits", "log_probs", "targets", "weights", "pos_weight"),
}


class BallastError(Exception):
    """An error answer from ballastd: {"error": {"code", "message", "field"}}.

    status      the HTTP status (400, 401, 404, 406, 413, 415, 503, ...)
    code        "invalid_argument", "invalid_json", "limit_exceeded", "unauthorized", ...
    message     the server's message, naming the offending value
    field       where the error is ("targets[3]", "counts[1]"), or None
    request_id  the response's X-Request-Id, or None
    """

    def __init__(self, status, code, message, field=None, request_id=None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.request_id = request_id
        where = " (field %s)" % field if field else ""
        super().__init__("%d %s: %s%s" % (status, code, message, where))


def _json_default(o):
    # NumPy arrays and scalars (and anything else with tolist()) go as JSON values.
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError("%s is not JSON serializable" % type(o).__name__)


class Ballast:
    """A ballastd client. Stateless apart from last_request_id; one instance
    may be shared by threads that do not look at last_request_id."""

    def __init__(self, base_url="http://127.0.0.1:8080", token=None, timeout=30):
        """base_url: the server's root; token: the server's --auth-token, sent
        as "Authorization: Bearer <token>"; timeout: seconds per request."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.last_request_id = None
        self.last_meta = None  # the Ballast-* fields of the last .npy answer

    # ---- JSON --------------------------------------------------------------

    def weights(self, request_id=None, **fields):
        """POST /weights: counts (a list, or a dict {name: count} whose order is
        kept) or labels in; the response dict ("weights", "counts",
        "num_classes", "scheme", "normalize", maybe "sample_weights") out."""
        return self._json("/weights", fields, request_id)

    def sample(self, request_id=None, **fields):
        """POST /sample: weights (or labels + class_weights), num_samples,
        replacement, seed, epoch, generator, world_size, rank. Returns the
        response dict; its "seed" is the one used (drawn by the server when
        none was sent), to replay the draw."""
        return self._json("/sample", fields, request_id)

    def loss(self, request_id=None, **fields):
        """POST /loss: loss, logits (or log_probs), targets, weights,
        reduction, ... Returns {"loss", "reduction", "total_weight"} (plus
        "grad" and "warnings" when present)."""
        return self._json("/loss", fields, request_id)

    def healthz(self):
        """GET /healthz: {"status": "ok"}."""
        status, headers, body = self._send("GET", "/healthz", None, {}, None)
        return json.loads(body)

    # ---- NumPy bulk calls ----------------------------------------------------

    def sample_npy(self, weights, request_id=None, **fields):
        """POST /sample with weights as a .npy part, indices back as .npy.

        weights: a 1-D array-like of weights (float64 unless it is already
        float32, int32, int64 or uint8), or None with labels=... (and
        class_weights=...) instead. Other fields as in sample(); array fields
        given as NumPy arrays (labels, class_weights) go as parts too.

        Returns (indices, meta): indices an int64 ndarray; meta the scalar
        fields of the answer from the Ballast-* headers, e.g. {"seed": 7,
        "epoch": 0, "num_samples": 1000000, "generator": "fast"} (plus "rank",
        "world_size" and "total_size" when sharded). meta["seed"] replays the
        draw when the server chose the seed."""
        np = _numpy()
        if weights is not None:
            fields["weights"] = np.asarray(weights)
        status, headers, body = self._multipart("/sample", fields, request_id, "application/x-npy")
        self.last_meta = _meta(headers)
        return _read_npy(body), self.last_meta

    def loss_npy(self, logits, targets, request_id=None, **fields):
        """POST /loss with logits and targets as .npy parts.

        logits: the input, any shape (N, C, d1, ...); for loss="nll" it is
        sent as log_probs. targets: class indices (an integer array) or
        probabilities / binary targets (a real array). weights and pos_weight
        may be NumPy arrays too. Other fields as in loss().

        Returns, with reduction "none" and no grad, the per-element losses as a
        float64 ndarray (its scalar fields, "reduction" and "total_weight", are
        then in self.last_meta); with "mean" or "sum", the response dict as
        loss() gives it. With grad=True the answer comes as multipart and the
        dict holds "grad" (and with "none", "loss") as ndarrays."""
        np = _numpy()
        key = "log_probs" if fields.get("loss") == "nll" else "logits"
        fields[key] = np.asarray(logits)
        fields["targets"] = np.asarray(targets)
        reduction = fields.get("reduction", "mean")
        if fields.get("grad"):
            status, headers, body = self._multipart("/loss", fields, request_id, "multipart/form-data")
            return _read_multipart(body, headers.get("content-type", ""))
        if reduction == "none":
            status, headers, body = self._multipart("/loss", fields, request_id, "application/x-npy")
            self.last_meta = _meta(headers)
            return _read_npy(body)
        status, headers, body = self._multipart("/loss", fields, request_id, "application/json")
        return json.loads(body)

    # ---- transport -----------------------------------------------------------

    def _json(self, path, fields, request_id):
        body = json.dumps(fields, default=_json_default, allow_nan=False).encode()
        status, headers, data = self._send("POST", path, body, {"Content-Type": "application/json"},
                                           request_id)
        return json.loads(data)

    def _multipart(self, path, fields, request_id, accept):
        """Array fields that are NumPy arrays become .npy parts; the rest goes
        in the "request" part as JSON."""
        np = _numpy()
        endpoint = path.strip("/")
        parts, rest = [], {}
        for name, value in fields.items():
            if name in _ARRAY_FIELDS[endpoint] and isinstance(value, np.ndarray):
                parts.append((name, _npy_bytes(value), "%s.npy" % name))
            else:
                rest[name] = value
        if rest:
            doc = json.dumps(rest, default=_json_default, allow_nan=False).encode()
            parts.append(("request", doc, None))
        body, ctype = encode_multipart(parts)
        return self._send("POST", path, body, {"Content-Type": ctype, "Accept": accept}, request_id)

    def _send(self, method, path, body, headers, request_id):
        h = dict(headers)
        if self.token is not None:
            h["Authorization"] = "Bearer " + self.token
        if request_id is not None:
            h["X-Request-Id"] = request_id
        req = urllib.request.Request(self.base_url + path, data=body, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                data = r.read()
                rh = {k.lower(): v for k, v in r.getheaders()}
                self.last_request_id = rh.get("x-request-id")
                return r.status, rh, data
        except urllib.error.HTTPError as e:
            data = e.read()
            rh = {k.lower(): v for k, v in e.headers.items()}
            rid = rh.get("x-request-id")
            self.last_request_id = rid
            try:
                err = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                # Not ballastd's error document (a proxy's page, say).
                raise BallastError(e.code, "http_error", data[:200].decode("utf-8", "replace").strip()
                                   or e.reason, None, rid) from None
            raise BallastError(e.code, err.get("code"), err.get("message"), err.get("field"), rid) from None


# ---- helpers: multipart and .npy ----------------------------------------------

def encode_multipart(parts):
    """parts: (name, bytes, filename or None). Returns (body, Content-Type)."""
    while True:
        boundary = "ballast-py-" + os.urandom(12).hex()
        if not any(boundary.encode() in data for _, data, _ in parts):
            break
    out = io.BytesIO()
    for name, data, filename in parts:
        out.write(b"--%s\r\n" % boundary.encode())
        if filename:
            out.write(b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                      b"Content-Type: application/octet-stream\r\n\r\n" % (name.encode(), filename.encode()))
        else:
            out.write(b'Content-Disposition: form-data; name="%s"\r\n'
                      b"Content-Type: application/json\r\n\r\n" % name.encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(b"--%s--\r\n" % boundary.encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def _numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("the *_npy methods need NumPy (pip install numpy, or apt install "
                          "python3-numpy); the JSON methods do not") from None
    return numpy


def _npy_bytes(a):
    """A .npy file the server accepts: little-endian, C order, one of float64,
    float32, int64, int32, uint8 (other dtypes converted)."""
    np = _numpy()
    kind, size = a.dtype.kind, a.dtype.itemsize
    if kind == "f":
        dt = "<f4" if size == 4 else "<f8"
    elif kind == "b" or (kind == "u" and size == 1):
        dt = "|u1"
    elif kind == "i" and size == 4:
        dt = "<i4"
    elif kind in "iu":
        dt = "<i8"
    else:
        raise TypeError("cannot send an array of dtype %s" % a.dtype)
    a = np.ascontiguousarray(a, dtype=dt)
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _read_npy(data):
    np = _numpy()
    return np.load(io.BytesIO(data), allow_pickle=False)


def _read_multipart(body, ctype):
    """A multipart answer as one dict: the "response" part's JSON fields plus
    one ndarray per .npy part."""
    boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
    doc, arrays = {}, {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, data = chunk[2:].split(b"\r\n\r\n", 1)
        data = data[:-2]  # the CRLF before the next boundary
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        if name == "response":
            doc = json.loads(data)
        else:
            arrays[name] = _read_npy(data)
    doc.update(arrays)
    return doc


def _meta(headers):
    meta = {}
    for k, v in headers.items():
        if not k.startswith("ballast-"):
            continue
        name = k[len("ballast-"):].replace("-", "_")
        if name in _INT_HEADERS:
            meta[name] = int(v)
        elif name in _REAL_HEADERS:
            meta[name] = float(v)
        else:
            meta[name] = v
    return meta


# ---- demo ------------------------------------------------------------------------

def demo(base_url):
    b = Ballast(base_url, token=os.environ.get("BALLAST_TOKEN"))
    print("server:", base_url, b.healthz())

    doc = b.weights(counts=[100000, 100, 10])
    print("weights [100000, 100, 10] ->", doc["weights"])
    doc = b.weights(counts={"normal": 100000, "flu": 100, "rare": 10}, scheme="balanced", normalize="mean")
    print("balanced, mean-normalised  ->", doc["weights"])

    doc = b.sample(weights=[100000, 100, 10], num_samples=3, replacement=False, seed=0, generator="torch")
    print("torch-exact draw, seed 0   ->", doc["indices"])

    req = {"logits": [[1, 2], [1, 3], [1, 3]], "targets": [0, 1, 1], "weights": [1, 2]}
    for reduction in ("none", "sum", "mean"):
        doc = b.loss(reduction=reduction, **req)
        print("cross_entropy %-4s         -> %r (total_weight %r)" % (reduction, doc["loss"], doc["total_weight"]))

    try:
        b.weights(counts=[100000, -1, 10])
    except BallastError as e:
        print("an error                   -> %s %s, field %s" % (e.status, e.code, e.field))

    try:
        import numpy as np
    except ImportError:
        print("(NumPy not installed: skipping the .npy calls)")
        return
    w = np.random.default_rng(1).random(1_000_000)
    idx, meta = b.sample_npy(w, seed=7)
    print("sample_npy: 1e6 weights    -> %d indices (%s), first %s, meta %s" % (len(idx), idx.dtype, idx[:5], meta))
    logits = np.array(req["logits"], dtype=float)
    out = b.loss_npy(logits, np.array(req["targets"]), weights=np.array(req["weights"], dtype=float),
                     reduction="none")
    print("loss_npy none              -> %r, %s" % (out, b.last_meta))


if __name__ == "__main__":
    demo(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BALLAST_URL", "http://127.0.0.1:8080"))
