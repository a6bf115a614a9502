"""The catalog of models and data sets a worker can train: the built-ins plus every plugin
installed on the worker.

A plugin is any installed distribution that declares entry points in the groups
``warmstep.models`` / ``warmstep.datasets``; each entry point names a :class:`ModelEntry` /
:class:`DatasetEntry` object, registered under the entry point's name::

    [project.entry-points."warmstep.models"]
    tiny_mlp = "my_plugin:TINY_MLP"

Built-in names cannot be replaced; a plugin that fails to load is skipped and listed by
:func:`plugin_errors` (one bad plugin must not take the worker down).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import ValidationError
from torch import nn

from warmstep.errors import InvalidArgument
from worker.training._types import ComponentParams, DataInfo, Dataset, DatasetEntry, ModelEntry
from worker.training.datasets import BUILTIN_DATASETS, split_and_standardize
from worker.training.models import BUILTIN_MODELS

__all__ = [
    "build_model",
    "dataset_names",
    "get_dataset",
    "get_model",
    "load_dataset",
    "model_names",
    "plugin_errors",
    "register_dataset",
    "register_model",
    "reload_plugins",
]

MODELS_GROUP = "warmstep.models"
DATASETS_GROUP = "warmstep.datasets"
_log = logging.getLogger(__name__)

_BUILTIN_MODELS = {e.name: e for e in BUILTIN_MODELS}
_BUILTIN_DATASETS = {e.name: e for e in BUILTIN_DATASETS}
_models: dict[str, ModelEntry] = {}
_datasets: dict[str, DatasetEntry] = {}
_errors: list[str] = []
_loaded = False

_E = TypeVar("_E", ModelEntry, DatasetEntry)


def register_model(entry: ModelEntry) -> None:
    _register(_models, _BUILTIN_MODELS, entry)


def register_dataset(entry: DatasetEntry) -> None:
    _register(_datasets, _BUILTIN_DATASETS, entry)


def _register(table: dict[str, _E], builtins: Mapping[str, _E], entry: _E) -> None:
    if entry.name in builtins or entry.name in table:
        raise ValueError(f"{entry.name!r} is already registered")
    table[entry.name] = entry


def reload_plugins() -> None:
    """Forget plugins and scan the installed entry points again."""
    global _loaded
    _models.clear()
    _datasets.clear()
    _errors.clear()
    _load_group(MODELS_GROUP, ModelEntry, _models, _BUILTIN_MODELS)
    _load_group(DATASETS_GROUP, DatasetEntry, _datasets, _BUILTIN_DATASETS)
    _loaded = True


def _load_group(
    group: str, kind: type[_E], table: dict[str, _E], builtins: Mapping[str, _E]
) -> None:
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
            if not isinstance(obj, kind):
                raise TypeError(f"{ep.value} is a {type(obj).__name__}, not a {kind.__name__}")
            _register(table, builtins, dataclasses.replace(obj, name=ep.name))
        except Exception as exc:  # a broken plugin is reported, not fatal
            message = f"{group}:{ep.name}: {exc}"
            _errors.append(message)
            _log.warning("skipping plugin %s", message)


def _ensure_loaded() -> None:
    if not _loaded:
        reload_plugins()


def plugin_errors() -> list[str]:
    _ensure_loaded()
    return list(_errors)


def model_names() -> list[str]:
    _ensure_loaded()
    return sorted({*_BUILTIN_MODELS, *_models})


def dataset_names() -> list[str]:
    _ensure_loaded()
    return sorted({*_BUILTIN_DATASETS, *_datasets})


def get_model(name: str) -> ModelEntry:
    _ensure_loaded()
    entry = _BUILTIN_MODELS.get(name) or _models.get(name)
    if entry is None:
        raise InvalidArgument(f"unknown model {name!r}; one of {model_names()}", field="model.name")
    return entry


def get_dataset(name: str) -> DatasetEntry:
    _ensure_loaded()
    entry = _BUILTIN_DATASETS.get(name) or _datasets.get(name)
    if entry is None:
        raise InvalidArgument(
            f"unknown data set {name!r}; one of {dataset_names()}", field="data.name"
        )
    return entry


def _params(model: type[ComponentParams], kwargs: Mapping[str, Any], prefix: str) -> Any:
    try:
        return model.model_validate(dict(kwargs))
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc, prefix) from None


def build_model(name: str, kwargs: Mapping[str, Any], info: DataInfo) -> nn.Module:
    """A fresh model from torch's global RNG; the caller seeds it."""
    entry = get_model(name)
    if info.task not in entry.tasks:
        raise InvalidArgument(
            f"model {name!r} trains on {sorted(entry.tasks)}, the data set is {info.task}",
            field="model.name",
        )
    params = _params(entry.params, kwargs, "model")
    try:
        return entry.build(params, info)
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="model") from None


def load_dataset(
    name: str, kwargs: Mapping[str, Any], validation_fraction: float, seed: int
) -> Dataset:
    """Load, split by seed, standardise (train statistics) where the set asks for it."""
    entry = get_dataset(name)
    params = _params(entry.params, kwargs, "data")
    try:
        raw = entry.load(params, seed)
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="data") from None
    standardize = bool(getattr(params, "standardize", False))
    x_tr, y_tr, x_val, y_val = split_and_standardize(raw, validation_fraction, seed, standardize)
    if x_tr.shape[0] == 0:
        raise InvalidArgument("the training split is empty", field="data.validation_fraction")
    return Dataset(x_tr, y_tr, x_val, y_val, raw.info)
