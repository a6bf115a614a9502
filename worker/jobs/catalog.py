"""What this worker can train, published to Redis so the front end can refuse a bad job at
submit: model and data-set names with their arguments' JSON Schema, optimizers with their
argument names, and how many examples each data set has.

A data set's size may depend on its arguments: ``examples_param`` names the argument that sets it
directly (``n_samples``); ``size_params`` lists arguments whose effect on the size is unknown
without loading (the front end then leaves the totals to the worker)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import redis

from warmstep import keys
from worker.training.optim import OPTIMIZERS
from worker.training.registry import (
    dataset_names,
    get_dataset,
    get_model,
    load_dataset,
    model_names,
)

# Arguments known not to change how many examples a data set has.
SIZE_NEUTRAL = {
    "standardize",
    "noise",
    "random_state",
    "n_features",
    "n_targets",
    "n_informative",
    "n_classes",
    "class_sep",
}
EXAMPLES_PARAM = "n_samples"


def _dataset_entry(name: str) -> dict[str, Any]:
    entry = get_dataset(name)
    fields = entry.params.model_fields
    data = load_dataset(name, {}, 0.0, 0)
    return {
        "doc": entry.doc,
        "params": entry.params.model_json_schema(),
        "examples": data.train_size,
        "examples_param": EXAMPLES_PARAM if EXAMPLES_PARAM in fields else None,
        "size_params": sorted(set(fields) - SIZE_NEUTRAL - {EXAMPLES_PARAM}),
    }


def _optimizer_params(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls).parameters if p not in ("self", "params")]


def build_catalog() -> dict[str, Any]:
    models = {}
    for name in model_names():
        entry = get_model(name)
        models[name] = {
            "doc": entry.doc,
            "params": entry.params.model_json_schema(),
            "tasks": sorted(entry.tasks),
        }
    return {
        "models": models,
        "datasets": {name: _dataset_entry(name) for name in dataset_names()},
        "optimizers": {
            name: {"params": _optimizer_params(cls)} for name, cls in sorted(OPTIMIZERS.items())
        },
    }


def publish_catalog(client: redis.Redis, catalog: dict[str, Any]) -> None:
    client.set(keys.REGISTRY, json.dumps(catalog, sort_keys=True))
