"""The LR curve a training job uses: the engine's values for the job's schedule, so a schedule
previewed through the query API is exactly the schedule trained with.

* Param groups: one row per optimizer group, base LRs from ``optimizer.group_lrs()``.
* ``scheduler_interval='step'``: value i is update i. ``'epoch'``: the schedule is evaluated per
  epoch and every update of epoch e uses value e (the loop calls ``scheduler.step()`` after each
  epoch).
* Like HF Trainer's ``get_scheduler``, a schedule argument named ``num_warmup_steps`` or
  ``num_training_steps`` that the spec leaves out is filled from the job's resolved warmup and
  total updates (epochs for a per-epoch schedule).
* No schedule: the optimizer's LR, constant.
* Metric-driven kinds are stepped once per evaluation with the validation loss; the curve is
  therefore known only as the job runs (:func:`metric_value`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from warmstep.jobs import JobSpec, TrainingPlan
from warmstep.plan import expand_per_epoch
from warmstep.schedules import Curve, EvalContext, ResolvedSchedule, find_kind, resolve_spec
from warmstep.schedules._core import FloatArray

__all__ = ["job_curve", "metric_value", "resolve_job_schedule"]


def resolve_job_schedule(spec: JobSpec, plan: TrainingPlan) -> ResolvedSchedule | None:
    if spec.schedule is None:
        return None
    schedule: dict[str, Any] = dict(spec.schedule)
    kind = find_kind(str(schedule.get("type")), schedule.get("library"), "schedule")
    per_epoch = spec.scheduler_interval == "epoch"
    fields = kind.params.model_fields
    if "num_training_steps" in fields and "num_training_steps" not in schedule:
        schedule["num_training_steps"] = plan.epochs if per_epoch else plan.total_updates
    if "num_warmup_steps" in fields and "num_warmup_steps" not in schedule:
        schedule["num_warmup_steps"] = plan.warmup_steps
    return resolve_spec(schedule)


def job_curve(spec: JobSpec, plan: TrainingPlan) -> Curve:
    """LR (and momentum) of every group for every update of the job, shape (groups, total)."""
    base_lrs = np.asarray(spec.optimizer.group_lrs(), np.float64)
    resolved = resolve_job_schedule(spec, plan)
    total = plan.total_updates
    if resolved is None:
        return Curve(np.repeat(base_lrs[:, None], total, axis=1))
    if resolved.kind.takes_metrics:
        return Curve(np.repeat(metric_value(resolved, base_lrs, [])[:, None], total, axis=1))
    if spec.scheduler_interval == "step":
        return resolved.evaluate(EvalContext(total, base_lrs))
    per_epoch = resolved.evaluate(EvalContext(plan.epochs, base_lrs))
    momentum = per_epoch.momentum
    return Curve(
        expand_per_epoch(per_epoch.lr, plan.updates_per_epoch, total),
        None if momentum is None else expand_per_epoch(momentum, plan.updates_per_epoch, total),
    )


def metric_value(
    resolved: ResolvedSchedule, base_lrs: FloatArray, metrics: list[float]
) -> FloatArray:
    """The LR of every group after ``len(metrics)`` calls of a metric-driven schedule, the
    i-th call receiving ``metrics[i]``: engine value ``len(metrics)``. Shape (groups,)."""
    calls = len(metrics)
    series = np.asarray(metrics, np.float64) if metrics else None
    return resolved.evaluate(EvalContext(calls + 1, base_lrs, series)).lr[:, -1].copy()
