#!/usr/bin/env python3
"""Trains a small classifier on an imbalanced toy dataset twice and prints
both runs' per-epoch losses side by side:

  ballast   DataLoader(sampler=ballast.torch.BallastSampler(labels=y,
            scheme="inverse", seed=SEED, stream="continued")) and
            nn.CrossEntropyLoss(weight=ballast.torch.class_weights(labels=y,
            scheme="balanced")): the sampling weights, the draw and the class
            weights all come from the ballastd server;
  pytorch   DataLoader(sampler=WeightedRandomSampler(1 / count[y], len(y),
            generator=torch.Generator().manual_seed(SEED))) and the class
            weights computed in torch (n / (C * count), scikit-learn's
            "balanced").

The two runs see the same batches in the same order and give the same losses,
bit for bit; the script exits 1 if any batch differs.

    python3 examples/train_imbalanced.py [--url http://127.0.0.1:8080] [--epochs 5]

Needs PyTorch and the ballast package (pip install ./clients/python) and a
running ballastd ($BALLAST_URL, default http://127.0.0.1:8080).
"""
import argparse
import os
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

import ballast
import ballast.torch as bt

SEED = 2024
COUNTS = (900, 80, 20)          # items per class: 90 %, 8 %, 2 %
BATCH = 100


def toy_dataset():
    """2-D points around one centre per class, COUNTS of them."""
    g = torch.Generator().manual_seed(0)
    y = torch.cat([torch.full((n,), c, dtype=torch.int64) for c, n in enumerate(COUNTS)])
    centres = torch.tensor([[0.0, 0.0], [1.5, 1.0], [-1.0, 1.5]])
    x = centres[y] + 0.8 * torch.randn(len(y), 2, generator=g)
    return x, y


def train(loader, criterion, epochs):
    """The same model, initialisation and optimiser for both runs; the loss of
    every batch, per epoch, and how often each class was drawn."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, len(COUNTS)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses, drawn = [], []
    for _ in range(epochs):
        batch_losses, seen = [], torch.zeros(len(COUNTS), dtype=torch.int64)
        for xb, yb in loader:
            loss = criterion(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
            seen += torch.bincount(yb, minlength=len(COUNTS))
        losses.append(batch_losses)
        drawn.append(seen.tolist())
    return losses, drawn


def main(url=None, epochs=5):
    client = ballast.Client(url or os.environ.get("BALLAST_URL", "http://127.0.0.1:8080"))
    x, y = toy_dataset()
    data = TensorDataset(x, y)

    # ballast: the sampler and the class weights from the server
    sampler = bt.BallastSampler(labels=y, scheme="inverse", seed=SEED, stream="continued", client=client)
    weight = bt.class_weights(labels=y, scheme="balanced", client=client)
    ours, ours_drawn = train(DataLoader(data, batch_size=BATCH, sampler=sampler),
                             torch.nn.CrossEntropyLoss(weight=weight), epochs)

    # PyTorch alone: the same weights computed in torch, one generator seeded once
    count = torch.bincount(y).double()
    item_weights = (1.0 / count)[y]
    torch_weight = (len(y) / (len(COUNTS) * count)).float()
    wrs = WeightedRandomSampler(item_weights, len(y), replacement=True,
                                generator=torch.Generator().manual_seed(SEED))
    theirs, theirs_drawn = train(DataLoader(data, batch_size=BATCH, sampler=wrs),
                                 torch.nn.CrossEntropyLoss(weight=torch_weight), epochs)

    print("class counts %s; class weights ballast %s, torch %s"
          % (list(COUNTS), weight.tolist(), torch_weight.tolist()))
    print("epoch  ballast loss (mean of %d batches)  pytorch loss         same batches  classes drawn"
          % len(ours[0]))
    identical = True
    for e in range(epochs):
        same = ours[e] == theirs[e] and ours_drawn[e] == theirs_drawn[e]
        identical &= same
        mean_ours = sum(ours[e]) / len(ours[e])
        mean_theirs = sum(theirs[e]) / len(theirs[e])
        print("%5d  %-34r  %-19r  %-12s  %s" % (e, mean_ours, mean_theirs, "yes" if same else "NO",
                                                 ours_drawn[e]))
    print("identical: %s (%d batch losses compared bit for bit)" % (identical, sum(map(len, ours))))
    return 0 if identical else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="the ballastd server (default $BALLAST_URL or http://127.0.0.1:8080)")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    sys.exit(main(args.url, args.epochs))
