#!/usr/bin/env python3
"""A small training loop with the ballast package, and the same run in plain PyTorch.

An imbalanced toy set (120 / 24 / 6 samples of three classes), a linear model in
float64, 3 epochs of 5 batches:

- ballast: BallastSampler(labels=y, scheme="inverse") draws each epoch's indices on the
  server (generator "torch"), and the loss is nn.CrossEntropyLoss(weight=...) with
  ballast.torch.class_weights(labels=y, scheme="balanced");
- PyTorch: WeightedRandomSampler(1/count[y], generator=torch.Generator().manual_seed(seed +
  epoch)) and the balanced weights N / (C n_c) computed in torch.

Prints the loss of every step of both runs, and whether the sampled indices and the final
parameters are identical.

    python3 examples/python/train_torch.py [BASE_URL]     # needs PyTorch; PYTHONPATH=clients/python
"""
import os
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

try:
    import ballast
except ImportError:  # run from a checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
    import ballast
import ballast.torch as bt

SEED = 31337


def data():
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 120 + [1] * 24 + [2] * 6)
    centers = torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.5]], dtype=torch.float64)
    return centers[y] + torch.randn(len(y), 2, generator=g, dtype=torch.float64), y


def run(x, y, sampler_for_epoch, weight):
    torch.manual_seed(1)
    model = torch.nn.Linear(2, 3).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    crit = torch.nn.CrossEntropyLoss(weight=weight)
    losses, seen = [], []
    for epoch in range(3):
        loader = DataLoader(TensorDataset(torch.arange(len(y)), x, y), batch_size=30,
                            sampler=sampler_for_epoch(epoch))
        for idx, xb, yb in loader:
            loss = crit(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            seen += idx.tolist()
    return losses, seen, torch.cat([p.detach().flatten() for p in model.parameters()])


def main(url):
    client = ballast.Client(url)
    x, y = data()
    sampler = bt.BallastSampler(labels=y, scheme="inverse", seed=SEED, client=client)
    weight = bt.class_weights(labels=y, scheme="balanced", dtype=torch.float64, client=client)

    def ballast_sampler(epoch):
        sampler.set_epoch(epoch)
        return sampler

    n = torch.bincount(y).double()

    def torch_sampler(epoch):
        return WeightedRandomSampler((1 / n)[y], len(y), generator=torch.Generator().manual_seed(SEED + epoch))

    ours = run(x, y, ballast_sampler, weight)
    theirs = run(x, y, torch_sampler, n.sum() / (3 * n))
    print("class weights: ballast %s, PyTorch %s" % (weight.tolist(), (n.sum() / (3 * n)).tolist()))
    print("step  ballast loss         PyTorch loss")
    for i, (a, b) in enumerate(zip(ours[0], theirs[0])):
        print("%4d  %.17g  %.17g" % (i, a, b))
    rare = sum(1 for i in ours[1] if y[i] == 2)
    print("class 2 (4%% of the data) drawn %d times in %d" % (rare, len(ours[1])))
    same = ours[1] == theirs[1]
    diff = max(abs(a - b) / abs(b) for a, b in zip(ours[0], theirs[0]))
    pdiff = (ours[2] - theirs[2]).abs().max().item()
    print("indices %s; largest relative loss difference %.3g; largest parameter difference %.3g"
          % ("identical" if same else "DIFFERENT", diff, pdiff))
    return 0 if same and diff <= 1e-12 and pdiff <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BALLAST_URL", "http://127.0.0.1:8080")))
