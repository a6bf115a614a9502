"""Per-task losses as *sums over samples*, and the validation pass.

The loop divides each micro-batch's sum by the real sample count of the whole accumulation, so
the accumulated gradient is that of the mean per-sample loss over the accumulated batch.
Per-sample loss: cross-entropy (classification), mean squared error over the targets
(regression), mean next-token cross-entropy over the sequence (language model).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
import torch.nn.functional as F
from torch import nn

from worker.training._types import Dataset, Task

__all__ = ["evaluate", "loss_sum"]


def loss_sum(task: Task, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``sum_s loss_s`` over the micro-batch, in float32 whatever the autocast dtype."""
    if task == "classification":
        return F.cross_entropy(output.float(), target, reduction="sum")
    if task == "regression":
        return (output.float() - target).pow(2).mean(dim=1).sum()
    length = target.shape[1]
    flat = F.cross_entropy(output.float().flatten(0, 1), target.flatten(), reduction="sum")
    return flat / length


def _correct(task: Task, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Correct predictions per sample, summed (a fraction of the sequence for a LM)."""
    hits = (output.argmax(dim=-1) == target).float()
    return hits.sum() if task == "classification" else hits.mean(dim=1).sum()


def evaluate(
    model: nn.Module,
    data: Dataset,
    batch_size: int,
    autocast: AbstractContextManager[object],
    device: torch.device,
) -> tuple[float, float | None]:
    """Mean validation loss and accuracy (``None`` for regression); one device sync."""
    task = data.info.task
    total = torch.zeros(2, dtype=torch.float64, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, data.val_size, batch_size):
            x = data.val_x[start : start + batch_size]
            y = data.val_y[start : start + batch_size]
            with autocast:
                out = model(x)
            total[0] += loss_sum(task, out, y)
            if task != "regression":
                total[1] += _correct(task, out, y)
    model.train(was_training)
    loss, correct = (total / max(data.val_size, 1)).tolist()
    return loss, (None if task == "regression" else correct)
