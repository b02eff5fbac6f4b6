"""PyTorch helpers over a ballastd server.

- BallastSampler: a torch.utils.data.Sampler whose indices the server draws,
  fetched in windows as each epoch is iterated; with generator="torch" the
  indices equal torch.multinomial(weights, num_samples, replacement,
  generator=torch.Generator().manual_seed((seed + epoch) % 2**64)), or with
  stream="continued" those of WeightedRandomSampler(weights, num_samples,
  replacement, generator=torch.Generator().manual_seed(seed)) pass by pass;
  a run resumes mid-epoch with state_dict() / load_state_dict().
- DistributedBallastSampler: the same, sharded by the server across ranks as
  DistributedSampler shards (rank r gets elements r, r + world_size, ... of
  the draw padded by wrapping around), rank and world size from
  torch.distributed when it is initialised.
- class_weights(...): class weights as a tensor, ready for
  nn.CrossEntropyLoss(weight=...).
- pos_weight(...): multi-label (a 0/1 label matrix or label sets), the
  per-class negatives / positives as a tensor, ready for
  nn.BCEWithLogitsLoss(pos_weight=...); fetch_weights(...) gives every array
  of the same answer (weights, pos_weight, positives, repeat factors, ...).
- BallastLoss / server_loss(...): a loss computed by the server (its value
  and gradient), differentiable through autograd, for the losses PyTorch has
  no module for (multi-class "focal") or to check a pipeline's numbers.

Every function takes client=: a ballast.Client, a URL, or None for the
server at $BALLAST_URL (default http://127.0.0.1:8080, token $BALLAST_TOKEN).
"""
import os
import threading

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from ._client import BallastError, Client, random_seed

__all__ = ["BallastSampler", "DistributedBallastSampler", "class_weights", "pos_weight",
           "fetch_weights", "WeightsResult", "server_loss", "BallastLoss", "default_client"]

_default = None
_default_lock = threading.Lock()


def default_client():
    """The shared Client for $BALLAST_URL (http://127.0.0.1:8080) and $BALLAST_TOKEN."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client(os.environ.get("BALLAST_URL", "http://127.0.0.1:8080"),
                              token=os.environ.get("BALLAST_TOKEN"))
        return _default


def _client(client):
    if client is None:
        return default_client()
    if isinstance(client, str):
        return Client(client)
    return client


def _output():
    try:
        import numpy  # noqa: F401
        return "numpy"
    except ImportError:
        return "list"


# ---- class weights -------------------------------------------------------------------

class WeightsResult:
    """The answer of POST /weights with its arrays as tensors (of the dtype and
    device fetch_weights was given); an array the answer does not hold is None.

    weights         one weight per class (the scheme applied to counts, or to
                    the positives of multi-label input)
    counts          the counts used (multi-label: the positives)
    pos_weight      multi-label: (N - n_pos) / n_pos per class, for
                    nn.BCEWithLogitsLoss(pos_weight=...)
    positives       multi-label: n_pos, the samples holding each class
    sample_weights  with sample_weights=True: one weight per sample
    repeat_factors  scheme "repeat_factor": one repeat factor per sample
    num_samples     multi-label: N (an int), else None
    num_classes, scheme, normalize, warnings   as the answer gives them
    """

    ARRAYS = ("weights", "counts", "pos_weight", "positives", "sample_weights", "repeat_factors")

    def __init__(self, doc, dtype, device):
        for k in self.ARRAYS:
            v = doc.get(k)
            if isinstance(v, dict):      # counts given as {name: count}: their key order
                v = torch.tensor([float("nan") if x is None else x for x in v.values()],
                                 dtype=torch.float64)
            setattr(self, k, None if v is None else torch.as_tensor(v).to(dtype=dtype, device=device))
        self.num_samples = doc.get("num_samples")
        self.num_classes = doc.get("num_classes")
        self.scheme = doc.get("scheme")
        self.normalize = doc.get("normalize")
        self.warnings = doc.get("warnings")
        self.answer = doc

    def __repr__(self):
        shown = ", ".join("%s=%s" % (k, getattr(self, k).tolist()) for k in self.ARRAYS
                          if getattr(self, k) is not None and getattr(self, k).numel() <= 8)
        return "WeightsResult(scheme=%r, num_classes=%r, %s)" % (self.scheme, self.num_classes, shown)


def fetch_weights(counts=None, *, labels=None, label_sets=None, num_classes=None, scheme=None,
                  beta=None, c=None, exponent=None, threshold=None, normalize=None, zero_counts=None,
                  sample_weights=None, sample_weight_reduce=None, dtype=torch.float32, device=None,
                  client=None):
    """POST /weights, its arrays as tensors of `dtype` (float32 by default) on
    `device` (default: that of a tensor given as counts or labels, else the
    CPU), in a WeightsResult. The arguments are those of Client.class_weights:
    labels may be one class id per sample or, multi-label, an N x C 0/1 matrix
    (a tensor, bool or integer; sent as .npy when large); label_sets the
    per-sample lists of class ids:

        r = ballast.torch.fetch_weights(labels=Y)        # Y: (N, C) multi-hot
        crit = nn.BCEWithLogitsLoss(pos_weight=r.pos_weight)
    """
    src = counts if counts is not None else labels
    if device is None and isinstance(src, torch.Tensor):
        device = src.device
    doc = _client(client).class_weights(counts=counts, labels=labels, label_sets=label_sets,
                                        num_classes=num_classes, scheme=scheme, beta=beta, c=c,
                                        exponent=exponent, threshold=threshold, normalize=normalize,
                                        zero_counts=zero_counts, sample_weights=sample_weights,
                                        sample_weight_reduce=sample_weight_reduce, output="torch")
    return WeightsResult(doc, dtype, device or "cpu")


def class_weights(counts=None, *, labels=None, label_sets=None, num_classes=None, scheme=None,
                  beta=None, c=None, exponent=None, threshold=None, normalize=None, zero_counts=None,
                  dtype=torch.float32, device=None, client=None):
    """Class weights from POST /weights as a 1-D tensor of `dtype` (float32 by
    default: the dtype of the logits it will weigh) on `device` (default: that
    of a tensor given as counts or labels, else the CPU):

        crit = nn.CrossEntropyLoss(weight=ballast.torch.class_weights(labels=train_labels,
                                                                      scheme="balanced"))

    The arguments are those of Client.class_weights (counts as a dict give the
    weights in its key order). With a multi-label matrix or label_sets the
    weights are the scheme applied to each class's positives; for
    BCEWithLogitsLoss's pos_weight see pos_weight()."""
    return fetch_weights(counts, labels=labels, label_sets=label_sets, num_classes=num_classes,
                         scheme=scheme, beta=beta, c=c, exponent=exponent, threshold=threshold,
                         normalize=normalize, zero_counts=zero_counts, dtype=dtype, device=device,
                         client=client).weights


def pos_weight(labels=None, *, label_sets=None, num_classes=None, zero_counts=None,
               dtype=torch.float32, device=None, client=None):
    """Multi-label: (N - n_pos[c]) / n_pos[c] per class, negatives over
    positives, as a 1-D tensor ready for nn.BCEWithLogitsLoss(pos_weight=...):

        Y = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]])  # N x C, 0/1
        crit = nn.BCEWithLogitsLoss(pos_weight=ballast.torch.pos_weight(Y))  # [1., 3., 0.3333]

    labels          an N x C matrix of 0/1 (samples x classes; a tensor, bool
                    or integer, a NumPy array or nested lists), or
    label_sets      per sample the list of its class ids ([] for none)
    num_classes     with label_sets: C (default: the largest id + 1)
    zero_counts     a class without positives: "error" (the server's default:
                    refused, naming the class) or "zero" (pos_weight 0)
    dtype, device   of the tensor (float32, and the labels' device or the CPU)
    client          a ballast.Client, a URL, or None (default_client())
    """
    if (labels is None) == (label_sets is None):
        raise ValueError("pos_weight: give labels (an N x C 0/1 matrix) or label_sets (not both)")
    if labels is not None and getattr(labels, "ndim", 2) != 2:
        raise ValueError("pos_weight: labels must be an N x C 0/1 matrix (samples x classes), not "
                         "of shape %s" % (tuple(labels.shape),))
    r = fetch_weights(labels=labels, label_sets=label_sets, num_classes=num_classes,
                      zero_counts=zero_counts, dtype=dtype, device=device, client=client)
    if r.pos_weight is None:
        raise BallastError("the server's answer has no pos_weight (a ballastd without multi-label "
                           "/weights?)", code="invalid_response")
    return r.pos_weight


# ---- samplers ------------------------------------------------------------------------

# Indices fetched per request by default: an epoch up to this size is one request; a
# longer one is fetched in windows of this size as the pass goes on (memory bounded).
DEFAULT_WINDOW = 1 << 18
_STREAMS = (None, "per_epoch", "continued")
_STRATEGIES = (None, "undersample", "oversample")


class BallastSampler(Sampler):
    """Weighted sampling of dataset indices by the server, fetched as each epoch is iterated.

    weights         one weight per item (sequence, NumPy array or tensor), or
    labels          one class id per item, the item's weight being its class's:
    scheme          ... computed from the labels by POST /weights (e.g.
                    "balanced", "inverse", "effective_number"; weights_options:
                    further fields such as {"beta": 0.99}), or
    class_weights   ... given (default, neither given: 1 / class count, every
                    class equally likely)
    strategy        instead of a weighted draw, with labels: "undersample" or
                    "oversample", each epoch the list of item indices that balances
                    the classes as imbalanced-learn's RandomUnderSampler /
                    RandomOverSampler do (a fresh draw per epoch from seed and
                    epoch; its length, len(sampler), set by the labels and
                    sampling_strategy: num_samples and generator are left out)
    sampling_strategy  with a strategy, the class targets as imbalanced-learn
                    names them ("auto" by default, a ratio, counts per class, or
                    {class id: count}); see Client.sample
    num_samples     indices per epoch (default: the number of items)
    replacement     as in WeightedRandomSampler (default True; with a strategy
                    the server's default: undersample without, oversample with)
    seed            an integer in [0, 2^64); None: one drawn now (kept in .seed)
    generator       "torch" (default): PyTorch's own draw, index for index (see
                    stream); "fast": ballast's O(n + k) stream (no 2^24 item limit)
    stream          how epochs follow each other (generator "torch"):
                    "per_epoch" (None, the default): epoch e is
                    torch.multinomial(w, num_samples, replacement,
                    generator=torch.Generator().manual_seed((seed + epoch) % 2**64)),
                    a fresh generator per epoch as DistributedSampler reseeds;
                    "continued": epoch e is the (e+1)-th consecutive draw of one
                    generator seeded once, i.e. exactly what
                    WeightedRandomSampler(w, num_samples, replacement,
                    generator=torch.Generator().manual_seed(seed)) gives on its
                    (e+1)-th pass. The server replays the e earlier draws to
                    reach epoch e, so a request's cost grows with the epoch:
                    "continued" is for matching an existing WeightedRandomSampler
                    run, "per_epoch" costs the same at every epoch
    epoch           the epoch of the first pass (default 0)
    start_index     where in that epoch the first pass starts (default 0; a
                    resumed run, see below)
    window          indices per request (default 2^18): a pass fetches its
                    epoch window by window (the request's "offset" and "count")
                    while it is iterated, so memory stays bounded by the window,
                    not the epoch; None: the whole epoch in one request
    client          a ballast.Client, a URL, or None (default_client())

    Each pass (iter(), as a DataLoader makes once per epoch) uses .epoch and
    then advances it by one, as WeightedRandomSampler's generator advances, so
    consecutive passes are consecutive epochs; set_epoch(e) sets the epoch of
    the next pass, as with DistributedSampler. Nothing is fetched before the
    first index is asked for. The scalar fields of the last answer are in
    .last_answer.

    Resuming mid-epoch: state_dict() gives {"seed", "epoch", "start_index"},
    the position of the pass in progress (indices handed out so far) or, between
    passes, of the next one; load_state_dict(d) (or set_epoch(epoch,
    start_index)) makes the next pass start there: it yields that epoch's
    indices from start_index on (len(sampler) - start_index of them), fetching
    nothing before it, then passes go on with epoch + 1 from index 0. A
    DataLoader takes indices ahead of the batches trained on (prefetching,
    workers), so for an exact resume save the position the loop reached:
    {"seed": s.seed, "epoch": epoch, "start_index": batches_done * batch_size}.
    """

    def __init__(self, weights=None, num_samples=None, replacement=None, *, labels=None,
                 scheme=None, class_weights=None, weights_options=None, strategy=None,
                 sampling_strategy=None, seed=None, generator=None, stream=None, epoch=0, start_index=0,
                 window=DEFAULT_WINDOW, client=None):
        self._items(weights, labels, scheme, class_weights, strategy, sampling_strategy)
        if strategy is None:
            n_items = len(self.weights if self.weights is not None else self.labels)
            num_samples = n_items if num_samples is None else num_samples
            if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
                raise ValueError("num_samples should be a positive integer value, but got "
                                 "num_samples=%r" % (num_samples,))
            replacement = True if replacement is None else replacement
            generator = "torch" if generator is None else generator
        elif num_samples is not None or generator is not None:
            raise ValueError("strategy %r gives as many indices as sampling_strategy asks for, from "
                             "the fast stream: leave num_samples and generator out" % (strategy,))
        if replacement is not None and not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got replacement=%r" % (replacement,))
        if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window <= 0):
            raise ValueError("window should be a positive integer or None, not %r" % (window,))
        if stream not in _STREAMS:
            raise ValueError("stream should be \"per_epoch\", \"continued\" or None, not %r" % (stream,))
        self.num_samples = num_samples     # with a strategy: known after the first request
        self.replacement = replacement
        self.scheme = scheme
        self.weights_options = dict(weights_options or {})
        self._class_weights = (None if class_weights is None
                               else torch.as_tensor(class_weights, dtype=torch.double).cpu())
        self.seed = random_seed() if seed is None else int(seed)
        self.generator = generator
        self.stream = stream
        self.window = window
        self.client = _client(client)
        self.world_size = 1
        self.rank = 0
        self.epoch = 0
        self.start_index = 0
        self.last_epoch = None
        self.last_answer = None
        self._len = None
        self._progress = None   # [epoch, indices handed out] of the pass in progress
        self._start(epoch, start_index)

    def _items(self, weights, labels, scheme, class_weights, strategy, sampling_strategy):
        """Checks and keeps the item weights or labels (and the strategy)."""
        if (weights is None) == (labels is None):
            raise ValueError("give weights or labels (not both)")
        if weights is not None and (scheme is not None or class_weights is not None):
            raise ValueError("scheme and class_weights go with labels, not weights")
        if scheme is not None and class_weights is not None:
            raise ValueError("give scheme or class_weights, not both")
        if strategy not in _STRATEGIES:
            raise ValueError("strategy should be \"undersample\", \"oversample\" or None, not %r" % (strategy,))
        if strategy is not None and (labels is None or scheme is not None or class_weights is not None):
            raise ValueError("strategy %r balances the classes of labels: give labels, without "
                             "weights, scheme or class_weights" % (strategy,))
        if strategy is None and sampling_strategy is not None:
            raise ValueError("sampling_strategy goes with strategy=\"undersample\" or \"oversample\"")
        self.strategy = strategy
        self.sampling_strategy = sampling_strategy
        if weights is not None:
            self.weights = torch.as_tensor(weights, dtype=torch.double).cpu()
            if self.weights.dim() != 1:
                raise ValueError("weights should be a 1d sequence but given weights have shape %s"
                                 % (tuple(self.weights.shape),))
            self.labels = None
        else:
            self.weights = None
            self.labels = torch.as_tensor(labels).cpu()
            if self.labels.dim() != 1:
                raise ValueError("labels should be a 1d sequence")
            if self.labels.is_floating_point():
                raise ValueError("labels should be integers")
            self.labels = self.labels.to(torch.int64)

    def _start(self, epoch, start_index):
        epoch, start_index = int(epoch), int(start_index)
        if epoch < 0:
            raise ValueError("epoch should be >= 0, not %d" % epoch)
        if start_index < 0:
            raise ValueError("start_index should be >= 0, not %d" % start_index)
        self.epoch, self.start_index = epoch, start_index
        self._progress = None

    def set_epoch(self, epoch, start_index=0):
        """The epoch of the next pass (DistributedSampler's set_epoch), and
        where in it that pass starts (default 0: the whole epoch)."""
        self._start(epoch, start_index)

    def state_dict(self):
        """{"seed", "epoch", "start_index"}: where a resumed run goes on (see the class doc)."""
        if self._progress is not None and self._progress[1] < len(self):
            epoch, index = self._progress
        else:
            epoch, index = self.epoch, self.start_index
        return {"seed": self.seed, "epoch": epoch, "start_index": index}

    def load_state_dict(self, state):
        """Makes the next pass start at state's epoch and start_index, with its seed."""
        self.seed = int(state["seed"])
        self._start(state["epoch"], state.get("start_index", 0))

    def __len__(self):
        if self.strategy is None:
            return -(-self.num_samples // self.world_size)
        if self._len is None:
            # The list's length depends on the labels and sampling_strategy only: an
            # empty window of epoch 0 tells it.
            doc = self.client.sample(output="list", offset=0, count=0, **self.request(0))
            self.num_samples, self._len = doc["num_samples"], doc["full_count"]
        return self._len

    def class_weights(self):
        """The class weights the labels are weighted with (None: the server's
        default, 1 / class count); from POST /weights once, with a scheme."""
        if self._class_weights is None and self.scheme is not None:
            opts = dict(self.weights_options)
            opts.setdefault("zero_counts", "zero")  # a class without items needs no weight
            self._class_weights = self.client.class_weights(
                labels=self.labels, num_classes=opts.pop("num_classes", None), scheme=self.scheme,
                output="torch", extra=opts)["weights"].cpu()
        return self._class_weights

    def request(self, epoch):
        """The /sample request fields of an epoch (without offset/count)."""
        fields = {"seed": self.seed, "epoch": epoch}
        if self.replacement is not None:
            fields["replacement"] = self.replacement
        if self.weights is not None:
            fields["weights"] = self.weights
        else:
            fields["labels"] = self.labels
        if self.strategy is not None:
            fields["strategy"] = self.strategy
            if self.sampling_strategy is not None:
                fields["sampling_strategy"] = self.sampling_strategy
        else:
            fields.update(num_samples=self.num_samples, generator=self.generator)
            cw = self.class_weights() if self.labels is not None else None
            if cw is not None:
                fields["class_weights"] = cw
        if self.world_size > 1:
            fields.update(world_size=self.world_size, rank=self.rank)
        if self.stream is not None:
            fields["stream"] = self.stream
        return fields

    def fetch(self, epoch, offset=None, count=None):
        """Indices [offset, offset + count) of an epoch's pass (all: None, None), as a list."""
        fields = self.request(epoch)
        if offset is not None:
            fields.update(offset=offset, count=count)
        try:
            doc = self.client.sample(output=_output(), **fields)
        except BallastError as e:
            if e.status == 400 and e.field in ("stream", "offset", "count"):
                e.message += (" (this server has no %r field: leave %s unset)"
                              % (e.field, "stream" if e.field == "stream" else "window=None"))
            raise
        indices = doc.pop("indices")
        self.last_answer = doc
        indices = indices.tolist() if hasattr(indices, "tolist") else list(indices)
        want = (len(self) - (offset or 0)) if count is None else count
        full = doc.get("full_count", len(self))
        if len(indices) != want or full != len(self):
            raise BallastError("the server sent %d indices of %d, not %d of %d"
                               % (len(indices), full, want, len(self)), code="invalid_response")
        return indices

    def __iter__(self):
        epoch, start = self.epoch, self.start_index
        n = len(self) if self.strategy is None else None   # a strategy's length costs a request
        if n is not None and start > n:
            raise ValueError("start_index %d is beyond the epoch's %d indices" % (start, n))
        self.epoch, self.start_index = epoch + 1, 0
        self.last_epoch = epoch
        progress = self._progress = [epoch, start]
        return self._pass(epoch, start, n, progress)

    def _pass(self, epoch, off, n, progress):
        if n is None:
            n = len(self)
            if off > n:
                raise ValueError("start_index %d is beyond the epoch's %d indices" % (off, n))
        while off < n:
            if off == 0 and (self.window is None or self.window >= n):
                part = self.fetch(epoch)           # the whole epoch: no window fields
            else:
                count = n - off if self.window is None else min(self.window, n - off)
                part = self.fetch(epoch, off, count)
            off += len(part)
            for i in part:
                progress[1] += 1
                yield i


class DistributedBallastSampler(BallastSampler):
    """BallastSampler for distributed training: every rank asks for the same
    draw (same seed and epoch) and the server returns this rank's share, by
    DistributedSampler's rule (drop_last=False): the draw of num_samples
    indices is padded by wrapping around to ceil(num_samples / world_size) *
    world_size, and rank r gets elements r, r + world_size, ...

    world_size, rank   default: torch.distributed's, when it is initialised
                       (otherwise they must be given); num_replicas, as
                       DistributedSampler calls it, is taken for world_size
    seed               default 0, as DistributedSampler: every rank needs the same

    Call set_epoch(epoch) at the start of each epoch, as with DistributedSampler
    (consecutive passes also advance the epoch by themselves). The other
    arguments are BallastSampler's (stream="continued": the draw that is
    sharded is WeightedRandomSampler's (e+1)-th pass); num_samples is the whole
    draw, before sharding, and len(sampler) this rank's share, which window,
    start_index and state_dict() count in.
    """

    def __init__(self, weights=None, num_samples=None, replacement=None, *, world_size=None,
                 rank=None, seed=0, num_replicas=None, **kwargs):
        if world_size is None:
            world_size = num_replicas   # DistributedSampler's name
        if world_size is None or rank is None:
            if not (dist.is_available() and dist.is_initialized()):
                raise ValueError("world_size and rank: pass them, or initialise torch.distributed "
                                 "(init_process_group) first")
            world_size = dist.get_world_size() if world_size is None else world_size
            rank = dist.get_rank() if rank is None else rank
        if seed is None:
            raise ValueError("DistributedBallastSampler needs a seed that every rank shares")
        if not isinstance(world_size, int) or world_size < 1:
            raise ValueError("world_size should be a positive integer, not %r" % (world_size,))
        if not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError("Invalid rank %r, rank should be in the interval [0, %d]"
                             % (rank, world_size - 1))
        super().__init__(weights, num_samples, replacement, seed=seed, **kwargs)
        self.world_size = world_size
        self.rank = rank


# ---- losses ---------------------------------------------------------------------------

# Losses whose "none" answer is elementwise (the logits' shape), and those whose
# "none" answer is one score per (sample, class), not per position.
_ELEMENTWISE = ("bce_with_logits", "sigmoid_focal", "asymmetric")
_SCORES = ("dice", "tversky")
# The /loss options server_loss and BallastLoss pass on, named as in the API.
LOSS_OPTIONS = ("weights", "pos_weight", "reduction", "ignore_index", "label_smoothing", "gamma",
                "alpha", "logit_adjustment", "class_counts", "class_priors", "max_margin", "scale",
                "gamma_pos", "gamma_neg", "clip", "eps", "activation", "include_background", "batch",
                "smooth_nr", "smooth_dr", "tversky_alpha", "tversky_beta")


class _ServerLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, client, fields):
        need_grad = ctx.needs_input_grad[0]
        key = "log_probs" if fields.get("loss") == "nll" else "logits"
        doc = client.loss(**{key: input.detach(), "targets": target.detach()}, grad=need_grad or None,
                          output="torch", **fields)
        value = doc["loss"]
        if not isinstance(value, torch.Tensor):
            value = torch.tensor(float("nan") if value is None else value, dtype=torch.float64)
        ctx.reduction = fields.get("reduction", "mean")
        ctx.scores = fields.get("loss") in _SCORES
        ctx.class_dim = None if fields.get("loss") in _ELEMENTWISE or input.dim() < 2 else 1
        if need_grad:
            ctx.save_for_backward(doc["grad"].to(device=input.device, dtype=input.dtype))
        return value.to(device=input.device, dtype=input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        g, = ctx.saved_tensors
        if ctx.reduction == "none" and ctx.scores and grad_output.dim() > 0:
            # every score depends on every position of its class: the server's
            # gradient is that of their sum, usable when all scores weigh the same
            if grad_output.numel() and not bool((grad_output == grad_output.flatten()[0]).all()):
                raise RuntimeError("dice/tversky with reduction=\"none\": backward needs the "
                                   "scores summed or averaged (use reduction=\"mean\" or \"sum\" "
                                   "for any other weighting)")
            grad_output = grad_output.flatten()[0] if grad_output.numel() else grad_output.sum()
        elif ctx.reduction == "none" and ctx.class_dim is not None and grad_output.dim() > 0:
            # each position's loss depends on its own row of the input only
            grad_output = grad_output.unsqueeze(ctx.class_dim)
        return g * grad_output, None, None, None


def server_loss(input, target, *, loss=None, weights=None, pos_weight=None, reduction=None,
                ignore_index=None, label_smoothing=None, gamma=None, alpha=None, logit_adjustment=None,
                class_counts=None, class_priors=None, max_margin=None, scale=None, gamma_pos=None,
                gamma_neg=None, clip=None, eps=None, activation=None, include_background=None,
                batch=None, smooth_nr=None, smooth_dr=None, tversky_alpha=None, tversky_beta=None,
                client=None):
    """The loss of `input` (logits; log-probabilities for loss="nll") against
    `target`, computed by POST /loss in float64 and returned in the input's
    dtype and device; differentiable: backward() uses the gradient the
    server returns. Arguments as Client.loss (weights: per-class weights),
    e.g. loss="ldam" with class_counts=, loss="asymmetric" for multi-label
    targets, loss="dice" / "tversky" for segmentation, logit_adjustment=1.0
    with class_counts= for Balanced Softmax."""
    given = locals()    # the keyword arguments, by their API names (LOSS_OPTIONS)
    fields = {k: given[k] for k in ("loss",) + LOSS_OPTIONS if given[k] is not None}
    return _ServerLoss.apply(input, target, _client(client), fields)


class BallastLoss(torch.nn.Module):
    """server_loss as a module: BallastLoss("focal", weights=w, gamma=2)(logits, targets),
    BallastLoss("ldam", class_counts=n, weights=drw_weights), BallastLoss("dice",
    include_background=False). With loss="cross_entropy" it computes what
    nn.CrossEntropyLoss(weight=w) does. The options (LOSS_OPTIONS, named as in
    the API and Client.loss) are kept as attributes of the same names."""

    def __init__(self, loss="cross_entropy", *, client=None, **options):
        super().__init__()
        unknown = sorted(set(options) - set(LOSS_OPTIONS))
        if unknown:
            raise TypeError("BallastLoss: unknown option %s (the options are %s)"
                            % (", ".join(unknown), ", ".join(LOSS_OPTIONS)))
        self.loss = loss
        for k in LOSS_OPTIONS:
            setattr(self, k, options.get(k))
        self.client = _client(client)

    def forward(self, input, target):
        return server_loss(input, target, loss=self.loss, client=self.client,
                           **{k: getattr(self, k) for k in LOSS_OPTIONS})
