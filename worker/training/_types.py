"""The registry's vocabulary: what a data set gives, what a model is built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

Task = Literal["classification", "regression", "language_model"]


class ComponentParams(BaseModel):
    """Base of every model's / data set's keyword arguments: unknown ones are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class DataInfo:
    """Shape of a data set as a model builder sees it.

    ``num_features``: inputs per sample (features, or tokens per sequence for a language model);
    ``num_outputs``: classes, regression targets, or the vocabulary size.
    """

    task: Task
    num_features: int
    num_outputs: int


@dataclass(frozen=True)
class RawData:
    """A whole data set in memory, before the split: ``x`` float32 ``(n, features)`` (int64
    ``(n, seq)`` for a language model); ``y`` int64 ``(n,)`` classes, float32 ``(n, targets)``
    regression targets, or int64 ``(n, seq)`` next tokens."""

    x: torch.Tensor
    y: torch.Tensor
    info: DataInfo


@dataclass(frozen=True)
class Dataset:
    """Train and validation splits (validation may have 0 rows) and the data set's shape."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    info: DataInfo

    @property
    def train_size(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def val_size(self) -> int:
        return int(self.val_x.shape[0])


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set: ``load(params, seed)`` returns the whole set; the registry splits
    it by seed and, when ``params.standardize`` is true, standardises with train statistics."""

    name: str
    load: Callable[[Any, int], RawData]
    params: type[ComponentParams]
    doc: str


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: ``build(params, info)`` returns a fresh ``nn.Module`` whose output is
    logits ``(n, classes)``, predictions ``(n, targets)`` or token logits ``(n, seq, vocab)``."""

    name: str
    build: Callable[[Any, DataInfo], nn.Module]
    params: type[ComponentParams]
    doc: str
    tasks: frozenset[Task]
