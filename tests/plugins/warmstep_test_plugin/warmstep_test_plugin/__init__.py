"""A tiny warmstep plugin: registers the models ``plugin_tiny_mlp``, ``plugin_slow_mlp`` and
``plugin_poison`` and the data set ``plugin_xor`` through the ``warmstep.models`` /
``warmstep.datasets`` entry points."""

from __future__ import annotations

import os
import signal
import time
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from worker.training import ComponentParams, DataInfo, DatasetEntry, ModelEntry, RawData


class TinyParams(ComponentParams):
    width: int = Field(4, ge=1, le=64)


def _build(params: TinyParams, info: DataInfo) -> nn.Module:
    return nn.Sequential(
        nn.Linear(info.num_features, params.width),
        nn.Tanh(),
        nn.Linear(params.width, info.num_outputs),
    )


class XorParams(ComponentParams):
    repeats: int = Field(8, ge=1, le=1000)


def _load(params: XorParams, seed: int) -> RawData:
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).repeat(params.repeats, 1)
    y = torch.tensor([0, 1, 1, 0]).repeat(params.repeats)
    return RawData(x, y, DataInfo("classification", 2, 2))


TINY_MLP = ModelEntry(
    "plugin_tiny_mlp", _build, TinyParams, "one tanh hidden layer", frozenset({"classification"})
)
XOR = DatasetEntry("plugin_xor", _load, XorParams, "the four XOR points, repeated")


# Models for the fault-injection tests (tests/reliability): a slow one, so a job is still running
# when a fault is injected, and a poison one that kills the process that runs it.


class SlowParams(ComponentParams):
    width: int = Field(16, ge=1, le=256)
    delay_s: float = Field(0.0, ge=0.0, le=60.0)


class _Slow(nn.Module):
    """A tanh MLP that sleeps ``delay_s`` in every forward pass (the weights do not depend on
    time, so a run is as deterministic as any other)."""

    def __init__(self, info: DataInfo, width: int, delay_s: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(info.num_features, width), nn.Tanh(), nn.Linear(width, info.num_outputs)
        )
        self.delay_s = delay_s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay_s)
        return self.net(x)  # type: ignore[no-any-return]


def _build_slow(params: SlowParams, info: DataInfo) -> nn.Module:
    return _Slow(info, params.width, params.delay_s)


class PoisonParams(ComponentParams):
    how: Literal["exit", "sigkill"] = "sigkill"
    after_calls: int = Field(0, ge=0, le=1_000_000)


class _Poison(nn.Module):
    """Kills its own process on forward call number ``after_calls + 1``: ``os._exit(3)`` or
    SIGKILL, like a segfault or the OOM killer."""

    def __init__(self, info: DataInfo, how: str, after_calls: int) -> None:
        super().__init__()
        self.linear = nn.Linear(info.num_features, info.num_outputs)
        self.how, self.after_calls, self.calls = how, after_calls, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls > self.after_calls:
            if self.how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return self.linear(x)  # type: ignore[no-any-return]


def _build_poison(params: PoisonParams, info: DataInfo) -> nn.Module:
    return _Poison(info, params.how, params.after_calls)


SLOW_MLP = ModelEntry(
    "plugin_slow_mlp",
    _build_slow,
    SlowParams,
    "a tanh MLP that sleeps in forward",
    frozenset({"classification"}),
)
POISON = ModelEntry(
    "plugin_poison",
    _build_poison,
    PoisonParams,
    "kills the process that runs it",
    frozenset({"classification"}),
)
