"""Checkpoint state: everything a resumed run needs to continue bit-for-bit on CPU.

Contents (plain dicts, lists, ints, floats and tensors, so ``torch.save`` /
``torch.load(weights_only=True)`` round-trip it): model and optimizer state dicts, the
``GradScaler`` state (fp16) or ``None``, ``step`` (updates done), ``epoch`` and ``position``
(next micro-batch of that epoch), ``samples_seen``, ``elapsed_s``, and the torch RNG states
(CPU and every CUDA device; dropout draws from them). The data order needs no state
(:mod:`worker.training.batching`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from warmstep.errors import InvalidArgument

__all__ = ["FORMAT", "Progress", "capture", "restore"]

FORMAT = 1


@dataclass
class Progress:
    step: int = 0
    epoch: int = 0
    position: int = 0
    samples_seen: int = 0
    elapsed_s: float = 0.0


def capture(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    progress: Progress,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "step": progress.step,
        "epoch": progress.epoch,
        "position": progress.position,
        "samples_seen": progress.samples_seen,
        "elapsed_s": progress.elapsed_s,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
    }


def restore(
    state: Mapping[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
) -> Progress:
    """Load ``state`` into the freshly built objects; return where the run continues."""
    if state.get("format") != FORMAT:
        raise InvalidArgument(
            f"checkpoint format {state.get('format')!r} is not {FORMAT}", field="resume_from"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"]["torch"])
    cuda_states = state["rng"]["cuda"]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    return Progress(
        int(state["step"]),
        int(state["epoch"]),
        int(state["position"]),
        int(state["samples_seen"]),
        float(state["elapsed_s"]),
    )
