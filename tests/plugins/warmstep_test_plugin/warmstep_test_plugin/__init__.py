"""A tiny warmstep plugin: registers the model ``plugin_tiny_mlp`` and the data set
``plugin_xor`` through the ``warmstep.models`` / ``warmstep.datasets`` entry points."""

from __future__ import annotations

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
