"""ballast: class weights, weighted sampling and PyTorch-exact losses from a
ballastd server.

    >>> import ballast
    >>> c = ballast.Client("http://127.0.0.1:8080")
    >>> c.class_weights(counts=[100000, 100, 10])["weights"]
    [1.0, 1000.0, 10000.0]
    >>> c.sample(weights=[0.1, 0.9, 0.4, 0.6], num_samples=8, seed=42, generator="torch")["indices"]
    [1, 1, 1, 1, 2, 1, 3, 3]

Standard library only; NumPy arrays and torch tensors are taken and given
back when those libraries are installed. PyTorch helpers (samplers, class
weights as a tensor, a loss module) are in ballast.torch.
"""
from ._client import (RETRY_STATUSES, BallastError, Client, __version__, exact_int,  # noqa: F401
                      random_seed)
from . import _npy as npy  # noqa: F401

__all__ = ["Client", "BallastError", "random_seed", "exact_int", "npy", "__version__"]
