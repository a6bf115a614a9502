"""Gradient clipping once per update, after accumulation and AMP unscaling."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["clip_gradients", "was_clipped"]


def clip_gradients(
    params: Sequence[torch.Tensor],
    max_grad_norm: float | None,
    norm_type: float,
    clip_value: float | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Clip in place; return the pre-clip total norm and, for clipping by value, the largest
    pre-clip ``|g|`` (both 0-d tensors: no device sync here).

    By norm: ``g <- g * min(1, max_grad_norm / (||g||_p + 1e-6))`` over all gradients together
    (``torch.nn.utils.clip_grad_norm_``). By value: ``g <- clamp(g, -clip_value, clip_value)``
    (``clip_grad_value_``). The norm is ``(sum_i ||g_i||_p^p)^(1/p)``, ``max |g|`` for ``inf``.
    """
    if max_grad_norm is not None:
        norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm, norm_type)
        return norm, None
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, norm_type)
    if clip_value is None:
        return norm, None
    peak = norm if norm_type == float("inf") else torch.nn.utils.get_total_norm(grads, math.inf)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    return norm, peak


def was_clipped(
    norm: float, peak: float | None, max_grad_norm: float | None, clip_value: float | None
) -> bool:
    """Whether clipping changed the gradient: torch scales by ``max / (norm + 1e-6)`` when that
    is below 1; by value when some ``|g|`` exceeds ``clip_value``."""
    if max_grad_norm is not None:
        return max_grad_norm < norm + 1e-6
    if clip_value is not None and peak is not None:
        return peak > clip_value
    return False
