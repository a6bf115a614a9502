"""Everything built before the first update: device, data, model, optimizer, AMP."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from warmstep.errors import FailedPrecondition, InvalidArgument
from warmstep.jobs import JobSpec, TrainingPlan, plan_training
from worker.training._types import Dataset
from worker.training.checkpoint import Progress, restore
from worker.training.optim import build_optimizer, momentum_key
from worker.training.registry import build_model, load_dataset

__all__ = ["Prepared", "load_job_data", "plan_job", "prepare", "resolve_device"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class Prepared:
    device: torch.device
    data: Dataset
    plan: TrainingPlan
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    autocast: AbstractContextManager[object]
    momentum_key: str | None
    progress: Progress


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise FailedPrecondition("the job asks for cuda and this worker has none", field="device")
    return torch.device(choice)


def load_job_data(spec: JobSpec) -> Dataset:
    """The job's data set, split and standardised. The last few are kept: a job's totals
    (``plan_job``) and its run (``prepare``) load the same data, and so do repeated jobs. The
    loop never writes into these tensors."""
    kwargs = json.dumps(spec.data.kwargs, sort_keys=True)
    return _load_cached(spec.data.name, kwargs, spec.data.validation_fraction, spec.seed)


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, kwargs_json: str, validation_fraction: float, seed: int) -> Dataset:
    return load_dataset(name, json.loads(kwargs_json), validation_fraction, seed)


def plan_job(spec: JobSpec) -> TrainingPlan:
    """The job's totals (loads the data set to count its training split): the caller sizes the
    engine's curve as ``(spec.num_groups, plan.total_updates)``."""
    return plan_training(spec, load_job_data(spec).train_size)


def check_curve(curve: Any, groups: int, total: int, name: str) -> FloatArray:
    array = np.asarray(curve, dtype=np.float64)
    if array.shape != (groups, total):
        raise InvalidArgument(
            f"{name} curve has shape {array.shape}; the job needs ({groups}, {total}) "
            "(param groups, optimizer updates)",
            field="schedule",
        )
    return array


def _autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _to_device(data: Dataset, device: torch.device) -> Dataset:
    return replace(
        data,
        train_x=data.train_x.to(device),
        train_y=data.train_y.to(device),
        val_x=data.val_x.to(device),
        val_y=data.val_y.to(device),
    )


def prepare(
    spec: JobSpec,
    cycles_momentum: bool,
    resume_from: Mapping[str, Any] | None,
    init_scale: float,
) -> Prepared:
    """Build the run; the model is initialised from ``torch.manual_seed(spec.seed)``. BatchNorm
    layers see micro-batches; ``batchnorm_momentum`` overrides their momentum."""
    device = resolve_device(spec.device)
    data = _to_device(load_job_data(spec), device)
    plan = plan_training(spec, data.train_size)
    torch.manual_seed(spec.seed)
    model = build_model(spec.model.name, spec.model.kwargs, data.info)
    if spec.batchnorm_momentum is not None:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = spec.batchnorm_momentum
    model.to(device).train()
    optimizer = build_optimizer(spec.optimizer, model)
    key = momentum_key(optimizer) if cycles_momentum else None
    scaler = None
    if spec.precision == "fp16":
        scaler = torch.amp.GradScaler(device.type, init_scale=init_scale)
    progress = Progress()
    if resume_from is not None:
        progress = restore(resume_from, model, optimizer, scaler)
    autocast = _autocast(spec.precision, device)
    return Prepared(device, data, plan, model, optimizer, scaler, autocast, key, progress)
