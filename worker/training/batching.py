"""The data order: which samples each micro-batch and each update sees.

Epoch ``e`` visits the training rows in ``torch.randperm(n)`` order drawn from a generator
seeded with ``seed * 1_000_003 + e``: stateless, so a resumed run needs only (epoch, position).
Micro-batch ``j`` of an epoch is rows ``[j*b, min((j+1)*b, n))`` of that order (the last may
be short); update ``u`` of an epoch accumulates micro-batches ``[u*k, min((u+1)*k, m))``.
"""

from __future__ import annotations

import torch

__all__ = ["accumulation_bounds", "epoch_order"]


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def accumulation_bounds(
    n: int, batch_size: int, accumulation: int, first_micro_batch: int
) -> list[tuple[int, int]]:
    """Row ranges of the micro-batches of the update starting at ``first_micro_batch``.
    Example: ``n=50, b=8, k=3``: updates ``[(0,8),(8,16),(16,24)]``, ..., ``[(48,50)]``."""
    bounds = []
    for j in range(first_micro_batch, first_micro_batch + accumulation):
        start = j * batch_size
        if start >= n:
            break
        bounds.append((start, min(start + batch_size, n)))
    return bounds
