"""Test helper: build the real torch scheduler for a warmstep spec and record what it writes."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler, swa_utils

from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules._core import Curve


def _function(source: str, variable: str) -> Callable[[Any], float]:
    code = compile(source, "<expr>", "eval")
    return lambda value: eval(
        code,
        {"math": math, "__builtins__": {}, "min": min, "max": max, "abs": abs},
        {variable: value},
    )


def build_torch(spec: dict[str, Any], optimizer: torch.optim.Optimizer) -> Any:
    """The torch object a user would construct for ``spec`` (children constructed in order)."""
    args = {k: v for k, v in spec.items() if k not in ("type", "library")}
    kind = spec["type"]
    if kind == "SequentialLR":
        children = [build_torch(c, optimizer) for c in args.pop("schedulers")]
        return lr_scheduler.SequentialLR(optimizer, children, **args)
    if kind == "ChainedScheduler":
        children = [build_torch(c, optimizer) for c in args.pop("schedulers")]
        return lr_scheduler.ChainedScheduler(children, optimizer=optimizer)
    if "lr_lambda" in args:
        src = args["lr_lambda"]
        args["lr_lambda"] = (
            [_function(s, "step") for s in src] if isinstance(src, list) else _function(src, "step")
        )
    if args.get("scale_fn") is not None:
        args["scale_fn"] = _function(args["scale_fn"], "x")
    if kind == "SWALR":
        return swa_utils.SWALR(optimizer, **args)
    return getattr(lr_scheduler, kind)(optimizer, **args)


def torch_curve(
    spec: dict[str, Any],
    steps: int,
    base_lrs: Sequence[float],
    *,
    optimizer: str = "sgd",
    metrics: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``param_groups[g]['lr']`` (and momentum / betas[0]) after i ``step()`` calls, i < steps."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    opt: torch.optim.Optimizer
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, betas=(0.9, 0.999))
    else:
        opt = torch.optim.SGD(groups, momentum=0.9)
    lrs = np.empty((len(base_lrs), steps))
    moms = np.empty((len(base_lrs), steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build_torch(spec, opt)
        for i in range(steps):
            if i:
                opt.step()
                if metrics is not None:
                    sched.step(metrics[i - 1])
                else:
                    sched.step()
            for g, group in enumerate(opt.param_groups):
                lrs[g, i] = float(group["lr"])
                moms[g, i] = float(group["betas"][0] if "betas" in group else group["momentum"])
    return lrs, moms


def ours(
    spec: dict[str, Any],
    steps: int,
    base_lrs: Sequence[float],
    metrics: Sequence[float] | None = None,
) -> Curve:
    resolved = resolve_spec(spec)
    mets = None if metrics is None else np.asarray(metrics, np.float64)
    return resolved.evaluate(EvalContext(steps, np.asarray(base_lrs, np.float64), mets))


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest ``|a-e|/|e|`` (0 where both are equal, inf where e == 0 != a)."""
    if actual.shape != expected.shape:
        return math.inf
    diff = np.abs(actual - expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(expected))
    return float(rel.max()) if rel.size else 0.0
