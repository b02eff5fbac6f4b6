"""ballast.Client: a ballastd client over http.client, one keep-alive
connection per thread, retries on 503, NumPy and torch arrays in and out."""
import email.utils
import http.client
import json
import operator
import os
import random
import socket
import sys
import threading
import time
import urllib.parse
import weakref

from . import _npy

__version__ = "0.1.0"

# Answers worth another try after a pause: 503 (ballastd's `overloaded` and
# `unavailable` while it drains), and what a proxy in front of it says when
# a replica is busy or gone.
RETRY_STATUSES = frozenset((429, 502, 503, 504))

# The array fields of each endpoint that may travel as .npy parts.
ARRAY_FIELDS = {
    "/weights": frozenset(("counts", "labels")),
    "/sample": frozenset(("weights", "labels", "class_weights", "sampling_strategy")),
    "/loss": frozenset(("logits", "log_probs", "targets", "weights", "pos_weight", "class_counts",
                        "class_priors")),
}
# The array fields of the answers; `indices` are int64, the others float64
# (`positives` too, as `counts`: the server sends both as float64 .npy parts).
_ANSWER_ARRAYS = ("indices", "weights", "counts", "sample_weights", "positives", "pos_weight",
                  "repeat_factors", "loss", "grad")
_OUTPUTS = ("list", "numpy", "torch")
# NumPy dtypes (kind + item size) and the .npy dtype each is sent as: the
# server reads <f8, <f4, <i8, <i4 and |u1; the others are widened losslessly.
_SEND_AS = {"f8": "<f8", "f4": "<f4", "f2": "<f4", "i8": "<i8", "i4": "<i4", "i2": "<i4",
            "i1": "<i4", "u1": "|u1", "b1": "|u1", "u2": "<i4", "u4": "<i8", "u8": "<i8"}


class BallastError(Exception):
    """Every failure of a ballast call.

    status       the HTTP status (400, 401, 413, 503, ...); None when no answer
                 came (code "connection_error" or "timeout") or the client
                 refused the arguments before sending them
    code         the server's error code ("invalid_argument", "overloaded", ...),
                 or "connection_error", "timeout", "http_error" (an answer that
                 is not ballastd's error document, e.g. a proxy's page),
                 "invalid_response"
    message      the server's message, naming the offending value
    field        where the error is ("counts[1]", "targets[3]", "seed"), or None
    request_id   the answer's X-Request-Id, or None
    retry_after  seconds the server asked to wait (Retry-After), or None
    attempts     how many times the request was sent
    """

    def __init__(self, message, status=None, code=None, field=None, request_id=None,
                 retry_after=None, attempts=1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts = attempts

    def __str__(self):
        head = "%s %s" % (self.status, self.code) if self.status is not None else str(self.code)
        where = " (field %s)" % self.field if self.field else ""
        return "%s: %s%s" % (head, self.message, where)

    def __reduce__(self):
        return (_rebuild_error, (self.message, self.status, self.code, self.field,
                                 self.request_id, self.retry_after, self.attempts))


def _rebuild_error(*args):
    return BallastError(*args)


# ---- arrays ----------------------------------------------------------------------

def _kind(x):
    """"torch", "numpy" or None, without importing either library."""
    mod = type(x).__module__ or ""
    if mod.startswith("torch"):
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(x, torch.Tensor):
            return "torch"
    if mod.startswith("numpy"):
        np = sys.modules.get("numpy")
        if np is not None and isinstance(x, np.ndarray):
            return "numpy"
    return None


def _numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None


def _to_numpy(x):
    if _kind(x) == "torch":
        import torch
        t = x.detach()
        if t.is_complex():
            raise TypeError("complex tensors cannot be sent")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return t.cpu().resolve_conj().resolve_neg().numpy() if hasattr(t, "resolve_neg") else t.cpu().numpy()
    return x


def _npy_bytes(name, x):
    np = _numpy()
    a = _to_numpy(x)
    key = "%s%d" % (a.dtype.kind, a.dtype.itemsize)
    descr = _SEND_AS.get(key)
    if descr is None:
        raise BallastError("%s: arrays of dtype %s cannot be sent (reals: float16/32/64; integers: "
                           "int8-64, uint8-64, bool)" % (name, a.dtype), code="invalid_argument",
                           field=name)
    if key == "u8" and a.size and int(a.max()) >= 2 ** 63:
        raise BallastError("%s: a value of 2^63 or more does not fit the int64 the server reads"
                           % name, code="invalid_argument", field=name)
    # (ascontiguousarray makes a 0-d array 1-d: the shape is the array's own)
    data = np.ascontiguousarray(a, dtype=np.dtype(descr)).tobytes()
    return _npy.encode(descr, a.shape, data)


def _size(x):
    return int(x.numel()) if _kind(x) == "torch" else int(x.size)


def _json_default(o):
    # Booleans go as 0 and 1, as the .npy path sends them (|u1): a 0/1 label
    # matrix or binary targets held as bool arrays.
    kind = _kind(o)
    if kind == "torch":
        t = o.detach().cpu()
        return (t.to(dtype=sys.modules["torch"].uint8) if t.dtype == sys.modules["torch"].bool else t).tolist()
    if kind == "numpy":
        return (o.astype("u1") if o.dtype.kind == "b" else o).tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "__index__"):
        return operator.index(o)
    if hasattr(o, "__float__"):
        return float(o)
    raise TypeError("%s cannot be sent as JSON" % type(o).__name__)


def _dumps(fields):
    try:
        return json.dumps(fields, default=_json_default, allow_nan=False,
                          separators=(",", ":")).encode()
    except ValueError:
        for k, v in fields.items():
            try:
                json.dumps(v, default=_json_default, allow_nan=False)
            except ValueError:
                raise BallastError("%s holds a NaN or an infinity, which JSON cannot carry (and the "
                                   "server refuses)" % k, code="invalid_argument", field=k) from None
        raise


def _retry_after(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def random_seed():
    """A seed in [0, 2^64) from the OS's randomness, as ballastd draws its own."""
    return int.from_bytes(os.urandom(8), "little")


def exact_int(value):
    """A seed or epoch of an answer as a Python int: today's servers write a
    JSON integer, later ones may write a decimal string; both are exact."""
    if isinstance(value, str):
        return int(value, 10)
    return value


# ---- the client ---------------------------------------------------------------------

class Client:
    """A client for one ballastd (or a load balancer in front of several).

    >>> import ballast
    >>> c = ballast.Client("http://127.0.0.1:8080")
    >>> c.class_weights(counts=[100000, 100, 10])["weights"]
    [1.0, 1000.0, 10000.0]

    url             the server's root; a path prefix is kept ("http://lb/ballast")
    token           the server's --auth-token, sent as "Authorization: Bearer <token>"
    timeout         seconds to connect and for each read of an answer
    retries         further tries of a request answered 429/502/503/504 or whose
                    connection failed (0: none). Only requests that are pure
                    functions of their input are retried: all of them, since a
                    /sample without a seed is sent with one the client draws
                    (see client_seeds)
    backoff         first pause in seconds when the answer has no Retry-After;
                    doubled at each try (with jitter), at most max_wait
    max_wait        the longest pause; a Retry-After longer than this is not
                    waited for: the 503 is raised as a BallastError
    bulk_threshold  NumPy arrays and torch tensors of at least this many elements
                    in all go as .npy parts of a multipart request; smaller ones
                    as JSON (None: always JSON, 0: always .npy)
    client_seeds    True (the default): sample() without a seed draws one from
                    os.urandom and sends it, so the request is reproducible and
                    retried safely, and the answer's "seed" is that one. False:
                    the server draws the seed; such a request is then never
                    retried (a second try would draw another sample) and goes on
                    a fresh connection
    string_seeds    send seeds as decimal strings (for servers that accept them;
                    JSON integers, which Python writes exactly, work everywhere)
    on_retry        called as on_retry(attempt, status or None, pause in seconds,
                    error text) before each pause, e.g. to log it

    Each thread gets its own keep-alive connection (http.client); a process
    forked from this one opens its own. Instances can be pickled (the
    connections are not). Use as a context manager, or call close().
    """

    def __init__(self, url="http://127.0.0.1:8080", token=None, timeout=30.0, *, retries=4,
                 backoff=0.2, max_wait=30.0, bulk_threshold=4096, client_seeds=True,
                 string_seeds=False, on_retry=None):
        if "://" not in url:
            url = "http://" + url
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url must be http(s)://host[:port][/prefix], not %r" % url)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_wait = float(max_wait)
        self.bulk_threshold = bulk_threshold
        self.client_seeds = client_seeds
        self.string_seeds = string_seeds
        self.on_retry = on_retry
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._prefix = u.path.rstrip("/")
        self._init_local()

    def _init_local(self):
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns = weakref.WeakSet()

    def __getstate__(self):
        state = dict(self.__dict__)
        for k in ("_local", "_lock", "_conns"):
            state.pop(k, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_local()

    def __repr__(self):
        return "ballast.Client(%r)" % self.url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes every connection this client opened (in any thread)."""
        with self._lock:
            conns = list(self._conns)
            self._conns = weakref.WeakSet()
        for c in conns:
            c.close()
        self._local = threading.local()

    @property
    def last_request_id(self):
        """The X-Request-Id of this thread's last answer (or None)."""
        return getattr(self._local, "request_id", None)

    # ---- the endpoints --------------------------------------------------------

    def class_weights(self, counts=None, *, labels=None, label_sets=None, num_classes=None,
                      scheme=None, beta=None, c=None, exponent=None, threshold=None, normalize=None,
                      zero_counts=None, sample_weights=None, sample_weight_reduce=None, output=None,
                      request_id=None, extra=None):
        """POST /weights: one weight per class from class counts or labels.

        counts          samples per class: a list, a NumPy array, a tensor, or a
                        dict {name: count} (the answer keeps its keys and order)
        labels          instead of counts: one class id per sample; or, multi-
                        label, an N x C matrix of 0/1 (samples x classes: a
                        nested list, a 2-D NumPy array or tensor, bool or integer)
        label_sets      instead of counts or labels, multi-label: per sample the
                        list of its class ids ([] for none). Always sent as JSON
                        (the lists differ in length); a large multi-label set
                        travels faster as a 2-D labels array
        num_classes     with labels or label_sets: the number of classes
                        (default max(label)+1; a labels matrix: its width)
        scheme          "max_over_count" (default), "inverse", "balanced",
                        "inverse_sqrt", "effective_number", "median_frequency",
                        "enet", "power", "repeat_factor" (multi-label or labels:
                        LVIS's repeat factors, see the answer's "repeat_factors")
        beta            effective_number only (default 0.999)
        c               enet only (default 1.02)
        exponent        power only: q in [0, 64], w_c = n_c^-q (default 1)
        threshold       repeat_factor only: t in [0, 1] (default 0.001)
        normalize       "none" (default), "sum", "mean", "max" (not repeat_factor)
        zero_counts     "error" (default) or "zero"
        sample_weights  with labels or label_sets: also return a weight per sample
        sample_weight_reduce  with sample_weights, multi-label: a sample's weight
                        is the "max" (default) or "mean" of its classes' weights
        output          "list", "numpy" or "torch" for the arrays of the answer;
                        default: "torch" if an argument is a tensor, "numpy" if
                        one is a NumPy array, else "list"
        request_id      sent as X-Request-Id
        extra           further request fields, sent as they are

        Returns the answer as a dict: "weights", "counts", "num_classes",
        "scheme", "normalize" (and "sample_weights", "warnings" when present).
        Multi-label (a labels matrix or label_sets) it adds "num_samples" (N),
        "positives" (n_pos per class, the counts the scheme was applied to) and
        "pos_weight" ((N - n_pos) / n_pos per class, for
        nn.BCEWithLogitsLoss(pos_weight=...)); scheme "repeat_factor" adds
        "repeat_factors" (one per sample). Arrays come back as "output" says.
        Fields left None are not sent, so the server's defaults apply.
        """
        fields = _fields(extra, counts=counts, labels=labels, label_sets=label_sets,
                         num_classes=num_classes, scheme=scheme, beta=beta, c=c, exponent=exponent,
                         threshold=threshold, normalize=normalize, zero_counts=zero_counts,
                         sample_weights=sample_weights, sample_weight_reduce=sample_weight_reduce)
        return self._call("/weights", fields, output, request_id)

    def sample(self, weights=None, *, labels=None, class_weights=None, num_samples=None,
               replacement=None, seed=None, epoch=None, generator=None, stream=None, world_size=None,
               rank=None, offset=None, count=None, fast_version=None, strategy=None,
               sampling_strategy=None, output=None, request_id=None, extra=None):
        """POST /sample: indices drawn with probability proportional to weights.

        weights         one weight >= 0 per item (list, NumPy array or tensor)
        labels          instead of weights: one class id per item ...
        class_weights   ... and a weight per class (default 1/class count)
        num_samples     indices to draw in all, before sharding (default: items)
        replacement     True (default) or False
        seed            an integer in [0, 2^64); None: one drawn by the client
                        (see Client's client_seeds), returned as "seed"
        epoch           an integer in [0, 2^64) (default 0); "torch" seeds its
                        generator with (seed + epoch) mod 2^64
        generator       "fast" (default) or "torch": bit for bit
                        torch.multinomial(w, num_samples, replacement,
                        generator=torch.Generator().manual_seed(seed + epoch))
        stream          "per_epoch" (the server's default: each epoch a generator
                        seeded with seed + epoch, as above) or "continued"
                        (generator "torch": epoch e is the (e+1)-th consecutive
                        draw of one generator seeded with seed, i.e. epoch e of
                        WeightedRandomSampler(w, num_samples, replacement,
                        generator=torch.Generator().manual_seed(seed)))
        world_size, rank  this rank's share of the draw (DistributedSampler's rule)
        offset, count   a window of the answer's indices: indices[offset:offset +
                        count] of what the request without them returns (count
                        default: to the end), so a long epoch is fetched piece
                        by piece in bounded memory; the answer then adds
                        "offset", "count", "next_offset" and "full_count"
        fast_version    generator "fast": 2 (default) or 1 (ballast 0.1's answers)
        strategy        "weighted" (default: the weighted draw above), or with
                        labels "undersample" / "oversample": the classes balanced as
                        imbalanced-learn's RandomUnderSampler / RandomOverSampler
                        balance them; the answer is the list of item indices to
                        train on (its length as num_samples; leave num_samples,
                        weights, class_weights and generator out)
        sampling_strategy  with a strategy, the class targets as imbalanced-learn
                        defines them: "auto" (default), "not minority", "not
                        majority", "majority", "minority", "all"; a ratio in (0, 1]
                        (two classes); one count per class (a list or array); or
                        {class id: count} for the classes to resample
        output, request_id, extra   as in class_weights()

        Returns the answer as a dict: "indices" (a list, or int64 array/tensor),
        "num_samples", "seed" and "epoch" (Python ints, exact up to 2^64 - 1),
        "generator", with world_size > 1 "rank", "world_size", "total_size", and
        the fields of a window, stream, strategy or fast_version when sent.
        """
        fields = _fields(extra, weights=weights, labels=labels, class_weights=class_weights,
                         num_samples=num_samples, replacement=replacement, seed=seed, epoch=epoch,
                         generator=generator, stream=stream, world_size=world_size, rank=rank,
                         offset=offset, count=count, fast_version=fast_version, strategy=strategy,
                         sampling_strategy=sampling_strategy)
        ss = fields.get("sampling_strategy")
        if isinstance(ss, dict):    # {class id: count}: JSON object keys are strings
            fields["sampling_strategy"] = {str(operator.index(k)) if not isinstance(k, str) else k:
                                           operator.index(v) for k, v in ss.items()}
        idempotent = True
        if fields.get("seed") is None:
            if self.client_seeds:
                fields["seed"] = random_seed()
            else:
                idempotent = False
        for k in ("seed", "epoch", "offset", "count"):
            if fields.get(k) is not None and not isinstance(fields[k], (str, bool)) \
                    and hasattr(fields[k], "__index__"):
                fields[k] = operator.index(fields[k])
        if self.string_seeds and isinstance(fields.get("seed"), int):
            fields["seed"] = str(fields["seed"])
        return self._call("/sample", fields, output, request_id, idempotent)

    def loss(self, logits=None, targets=None, *, loss=None, log_probs=None, weights=None,
             pos_weight=None, reduction=None, ignore_index=None, label_smoothing=None, gamma=None,
             alpha=None, grad=None, logit_adjustment=None, class_counts=None, class_priors=None,
             max_margin=None, scale=None, gamma_pos=None, gamma_neg=None, clip=None, eps=None,
             activation=None, include_background=None, batch=None, smooth_nr=None, smooth_dr=None,
             tversky_alpha=None, tversky_beta=None, output=None, request_id=None, extra=None):
        """POST /loss: a classification loss (and its gradient), as PyTorch computes it.

        logits          the input: shape (C), (N, C) or (N, C, d1, ...); any
                        shape for the binary losses and "asymmetric"
        targets         class indices (integers) or, for cross_entropy,
                        probabilities (reals) of the input's shape; binary
                        losses and "asymmetric": the logits' shape, in [0, 1]
        loss            "cross_entropy" (default), "nll", "focal",
                        "bce_with_logits", "sigmoid_focal", "ldam" (label-
                        distribution-aware margins), "asymmetric" (multi-label
                        ASL), "dice", "tversky" (segmentation)
        log_probs       the input of "nll", instead of logits
        weights         per-class weights (length C), as nn.CrossEntropyLoss(weight=);
                        dice/tversky: one per class scored
        pos_weight      bce_with_logits only (e.g. the "pos_weight" of
                        class_weights() with a multi-label matrix)
        reduction       "mean" (default), "sum", "none", "sum_over_batch_size"
                        (Keras's: the weighted sum over the number of positions)
        ignore_index    class-index targets only (default -100)
        label_smoothing cross_entropy only, in [0, 1]
        gamma           focal losses (default 2)
        alpha           sigmoid_focal only (default 0.25; -1: none)
        grad            also return d loss / d input (with "none": of the sum)
        logit_adjustment  cross_entropy, focal: tau, the logits become
                        z + tau * log(prior) (1: Balanced Softmax); needs
                        class_counts or class_priors
        class_counts    samples per class (> 0): the priors of logit_adjustment,
                        the margins of "ldam" (required there)
        class_priors    instead of class_counts: priors (> 0, normalised)
        max_margin      ldam: the largest margin (default 0.5)
        scale           ldam: s, the scale of the adjusted logits (default 30)
        gamma_pos, gamma_neg  asymmetric: focusing of positives (default 1)
                        and negatives (default 4)
        clip            asymmetric: the probability margin of negatives (default 0.05)
        eps             asymmetric: the floor of probabilities under the log (1e-8)
        activation      dice, tversky: "softmax" (default; class-index targets)
                        or "sigmoid" (targets of the logits' shape in [0, 1])
        include_background  dice, tversky: False leaves class 0 out (default True)
        batch           dice, tversky: one score per class over the batch (default False)
        smooth_nr, smooth_dr  dice, tversky: added to numerator and denominator (1e-5)
        tversky_alpha, tversky_beta  tversky: weights of false positives and
                        false negatives (default 0.5, 0.5)
        output, request_id, extra   as in class_weights()

        Returns the answer as a dict: "loss" (a float, or an array with
        reduction "none"), "reduction", "total_weight" (the mean's
        denominator), and "grad" and "warnings" when present. Every number
        equals PyTorch's in float64 to 1e-12 relative.
        """
        fields = _fields(extra, loss=loss, logits=logits, log_probs=log_probs, targets=targets,
                         weights=weights, pos_weight=pos_weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing, gamma=gamma,
                         alpha=alpha, grad=grad, logit_adjustment=logit_adjustment,
                         class_counts=class_counts, class_priors=class_priors,
                         max_margin=max_margin, scale=scale, gamma_pos=gamma_pos,
                         gamma_neg=gamma_neg, clip=clip, eps=eps, activation=activation,
                         include_background=include_background, batch=batch, smooth_nr=smooth_nr,
                         smooth_dr=smooth_dr, tversky_alpha=tversky_alpha, tversky_beta=tversky_beta)
        return self._call("/loss", fields, output, request_id)

    def request(self, path, fields, output=None, request_id=None, idempotent=True):
        """Any POST endpoint with the fields as given (no defaults filled in)."""
        return self._call(path, dict(fields), output, request_id, idempotent)

    def healthz(self):
        """GET /healthz: {"status": "ok"}."""
        return json.loads(self._send("GET", "/healthz", None, {}, None, True)[2])

    def readyz(self):
        """GET /readyz: True when the server takes work (False while it drains)."""
        try:
            self._send("GET", "/readyz", None, {}, None, True, retry=False)
            return True
        except BallastError as e:
            if e.status == 503:
                return False
            raise

    def version(self):
        """GET /version: {"version", "libmicrohttpd", "jansson"}."""
        return json.loads(self._send("GET", "/version", None, {}, None, True)[2])

    # ---- encoding and decoding ------------------------------------------------

    def _call(self, path, fields, output, request_id, idempotent=True):
        kind, device = _output_kind(output, fields)
        body, ctype = self._encode(path, fields)
        np = _numpy() if kind != "list" else None
        accept = "multipart/form-data" if np is not None else "application/json"
        _, headers, data = self._send("POST", path, body, {"Content-Type": ctype, "Accept": accept},
                                      request_id, idempotent)
        try:
            doc = _decode(headers, data)
        except ValueError as e:
            raise BallastError("the answer of %s cannot be read: %s" % (path, e), status=200,
                               code="invalid_response", request_id=headers.get("x-request-id")) from None
        return _convert(doc, kind, device)

    def _encode(self, path, fields):
        arrays = {}
        if self.bulk_threshold is not None and _numpy() is not None:
            arrays = {k: v for k, v in fields.items() if k in ARRAY_FIELDS.get(path, ()) and _kind(v)}
            if not arrays or sum(_size(v) for v in arrays.values()) < self.bulk_threshold:
                arrays = {}
        if not arrays:
            return _dumps(fields), "application/json"
        parts = [(k, _npy_bytes(k, v), k + ".npy", "application/x-npy") for k, v in arrays.items()]
        rest = {k: v for k, v in fields.items() if k not in arrays}
        if rest:
            parts.append(("request", _dumps(rest), None, "application/json"))
        return _npy.encode_multipart(parts)

    # ---- transport --------------------------------------------------------------

    def _connection(self, fresh):
        loc = self._local
        c = getattr(loc, "conn", None)
        if c is not None and (fresh or loc.pid != os.getpid() or c.sock is None):
            if loc.pid == os.getpid():
                c.close()  # in a forked child the socket is the parent's: leave it
            c = None
        if c is not None:
            return c, True
        if self._https:
            c = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        else:
            c = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        loc.conn, loc.pid = c, os.getpid()
        with self._lock:
            self._conns.add(c)
        return c, False

    def _drop(self, c):
        c.close()
        if getattr(self._local, "conn", None) is c:
            self._local.conn = None

    def _pause(self, attempt, status, retry_after, why):
        """The pause before another try, or None when it is not worth one."""
        if attempt >= self.retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_wait:
                return None
            wait = retry_after * (1 + 0.1 * random.random())
        else:
            wait = min(self.max_wait, self.backoff * 2 ** attempt) * (0.5 + 0.5 * random.random())
        if self.on_retry is not None:
            self.on_retry(attempt + 1, status, wait, why)
        return wait

    def _send(self, method, path, body, headers, request_id, idempotent, retry=True):
        h = {"User-Agent": "ballast-python/" + __version__}
        h.update(headers)
        if self.token is not None:
            h["Authorization"] = "Bearer " + self.token
        if request_id is not None:
            h["X-Request-Id"] = request_id
        attempt = 0
        stale_retried = False
        while True:
            conn, reused = self._connection(fresh=not idempotent)
            try:
                conn.request(method, self._prefix + path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
            except (socket.timeout, TimeoutError) as e:
                self._drop(conn)
                raise BallastError("no answer from %s within %s s" % (self.url, self.timeout),
                                   code="timeout", attempts=attempt + 1) from e
            except (OSError, http.client.HTTPException) as e:
                self._drop(conn)
                if not (idempotent and retry):
                    raise BallastError("%s: %s" % (self.url, e or type(e).__name__),
                                       code="connection_error", attempts=attempt + 1) from e
                if reused and not stale_retried:
                    # A keep-alive connection the server closed while it was idle
                    # (ballastd's --header-timeout): once more at once, on a new one.
                    stale_retried = True
                    continue
                wait = self._pause(attempt, None, None, "%s: %s" % (type(e).__name__, e))
                if wait is None:
                    raise BallastError("%s: %s" % (self.url, e or type(e).__name__),
                                       code="connection_error", attempts=attempt + 1) from e
                attempt += 1
                time.sleep(wait)
                continue
            if resp.will_close:
                self._drop(conn)
            rh = {k.lower(): v for k, v in resp.getheaders()}
            self._local.request_id = rh.get("x-request-id")
            if resp.status < 400:
                return resp.status, rh, data
            err = _error(resp.status, rh, data, attempt + 1)
            if resp.status in RETRY_STATUSES and idempotent and retry:
                wait = self._pause(attempt, resp.status, err.retry_after, err.message)
                if wait is not None:
                    attempt += 1
                    time.sleep(wait)
                    continue
            raise err


def _fields(extra, **fields):
    out = {k: v for k, v in fields.items() if v is not None}
    if extra:
        out.update(extra)
    return out


def _output_kind(output, fields):
    device = None
    for v in fields.values():
        if _kind(v) == "torch":
            device = v.device
            break
    if output is None:
        kinds = {_kind(v) for v in fields.values()}
        output = "torch" if "torch" in kinds else "numpy" if "numpy" in kinds else "list"
    if output not in _OUTPUTS:
        raise ValueError("output must be one of %s, not %r" % (", ".join(_OUTPUTS), output))
    return output, device


def _error(status, headers, data, attempts):
    rid = headers.get("x-request-id")
    ra = _retry_after(headers.get("retry-after"))
    try:
        err = json.loads(data)["error"]
        return BallastError(err.get("message") or "", status=status, code=err.get("code"),
                            field=err.get("field"), request_id=rid, retry_after=ra, attempts=attempts)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = data[:200].decode("utf-8", "replace").strip() or http.client.responses.get(status, "")
        return BallastError(text, status=status, code="http_error", request_id=rid, retry_after=ra,
                            attempts=attempts)


def _decode(headers, data):
    ctype = headers.get("content-type", "")
    if ctype.lower().startswith("multipart/"):
        parts = _npy.decode_multipart(data, ctype)
        doc = json.loads(parts.pop("response")) if "response" in parts else {}
        for name, raw in parts.items():
            doc[name] = _npy.to_numpy(raw) if _numpy() is not None else _npy.to_list(raw)
        return doc
    return json.loads(data)


def _convert(doc, kind, device):
    for k in ("seed", "epoch"):
        if k in doc:
            doc[k] = exact_int(doc[k])
    np = _numpy()
    for k in _ANSWER_ARRAYS:
        v = doc.get(k)
        if v is None or isinstance(v, (dict, float, int)):
            continue
        is_np = np is not None and isinstance(v, np.ndarray)
        if is_np and v.ndim == 0:
            doc[k] = v.item()
            continue
        if kind == "list":
            if is_np:
                doc[k] = v.tolist()
            continue
        if np is None:  # torch without NumPy
            import torch
            doc[k] = torch.tensor(v, dtype=torch.int64 if k == "indices" else torch.float64,
                                  device=device)
            continue
        if not is_np:
            v = np.array(v, dtype=np.int64 if k == "indices" else np.float64)
        elif k != "indices" and v.dtype != np.float64:
            v = v.astype(np.float64)
        if kind == "torch":
            import torch
            v = torch.from_numpy(v)
            if device is not None and device.type != "cpu":
                v = v.to(device)
        doc[k] = v
    return doc
