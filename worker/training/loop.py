"""The training loop: accumulation, per-update LR from the engine's curve, clipping, AMP.

Update ``i`` (0-based; the event's ``step`` is ``i + 1``):

1. for each of its ``<= k`` micro-batches (``should_cancel`` checked before each):
   ``L_j = sum of per-sample losses``; backward of ``L_j / N`` where ``N`` is the real sample
   count of the whole accumulation, so the gradient is that of the mean loss over the ``N``
   samples (a short last accumulation is divided by its own ``N``, not by ``k * batch_size``);
2. ``group["lr"] = lrs[g, i]`` for every group (and ``momentum`` / ``betas[0]`` from the
   momentum curve when the schedule cycles it);
3. fp16: ``GradScaler.unscale_``; then clip once (by norm, any ``norm_type``, or by value);
4. one device sync for loss, pre-clip norm and clip flag (on CPU, plain reads); a non-finite
   loss (or, without loss scaling, gradient) is reported then raised as :class:`NonFiniteError`
   without stepping; otherwise ``optimizer.step()`` (fp16: ``scaler.step`` / ``update``, which
   skips overflow).

``scheduler_interval='epoch'``: the caller passes the per-epoch curve already expanded per
update (``warmstep.plan.expand_per_epoch``), so the loop always reads ``lrs[:, i]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from warmstep.jobs import JobSpec
from worker.training.batching import accumulation_bounds, epoch_order
from worker.training.checkpoint import capture
from worker.training.clip import clip_gradients, was_clipped
from worker.training.events import (
    EvalEvent,
    Hooks,
    NonFiniteError,
    RuntimeLimitExceeded,
    StepEvent,
    TrainingCancelled,
    TrainingResult,
)
from worker.training.losses import evaluate, loss_sum
from worker.training.setup import Prepared, check_curve, prepare

__all__ = ["run_training"]


@dataclass
class _Run:
    spec: JobSpec
    job: Prepared
    hooks: Hooks
    lrs: npt.NDArray[np.float64]
    momentum: npt.NDArray[np.float64] | None
    params: list[torch.Tensor]
    loss_acc: torch.Tensor
    started: float
    last_tick: float

    def elapsed(self) -> float:
        return self.job.progress.elapsed_s + time.perf_counter() - self.started


def run_training(
    spec: JobSpec,
    lrs: npt.ArrayLike,
    momentum: npt.ArrayLike | None = None,
    hooks: Hooks | None = None,
    resume_from: Mapping[str, Any] | None = None,
    *,
    grad_scaler_init_scale: float = 65536.0,
) -> TrainingResult:
    """Train ``spec`` with ``lrs[g, i]`` (float64, shape ``(groups, total_updates)``, see
    ``warmstep.jobs.plan_training``) as the LR of group ``g`` at update ``i``; ``momentum`` the
    same shape or ``None``. ``resume_from``: a state given to ``hooks.on_checkpoint``.
    Raises :class:`TrainingStopped` subclasses (non-finite, cancelled, runtime limit)."""
    job = prepare(spec, momentum is not None, resume_from, grad_scaler_init_scale)
    groups, total = spec.num_groups, job.plan.total_updates
    params = [p for group in job.optimizer.param_groups for p in group["params"]]
    now = time.perf_counter()
    run = _Run(
        spec,
        job,
        hooks or Hooks(),
        check_curve(lrs, groups, total, "lr"),
        None if momentum is None else check_curve(momentum, groups, total, "momentum"),
        params,
        torch.zeros((), device=job.device),
        now,
        now,
    )
    last: StepEvent | None = None
    last_eval: EvalEvent | None = None
    order, order_epoch = torch.empty(0), -1
    while job.progress.step < total:
        if job.progress.epoch != order_epoch:
            order_epoch = job.progress.epoch
            order = epoch_order(job.data.train_size, spec.seed, order_epoch).to(job.device)
        last = _update(run, order)
        last_eval = _after_update(run, last) or last_eval
    if job.data.val_size and (last_eval is None or last_eval.step != job.progress.step):
        last_eval = _evaluate(run, job.progress.epoch if last is None else last.epoch)
    last_loss = None if last is None else last.loss
    return TrainingResult(job.model, job.progress.step, last_loss, last_eval, run.elapsed())


def _check_stop(run: _Run) -> None:
    step = run.job.progress.step
    if run.hooks.should_cancel is not None and run.hooks.should_cancel():
        raise TrainingCancelled(f"cancelled after {step} updates", step=step)
    limit = run.spec.max_runtime_s
    if limit is not None and run.elapsed() > limit:
        raise RuntimeLimitExceeded(
            f"ran past max_runtime_s={limit} after {step} updates", step=step
        )


def _accumulate(run: _Run, order: torch.Tensor) -> tuple[int, int]:
    """Forward/backward of one accumulation; returns (micro-batches, samples)."""
    spec, job = run.spec, run.job
    data, task = job.data, job.data.info.task
    bounds = accumulation_bounds(
        data.train_size, spec.batch_size, spec.gradient_accumulation_steps, job.progress.position
    )
    count = bounds[-1][1] - bounds[0][0]
    run.loss_acc.zero_()
    for lo, hi in bounds:
        _check_stop(run)
        rows = order[lo:hi]
        with job.autocast:
            output = job.model(data.train_x.index_select(0, rows))
        micro_loss = loss_sum(task, output, data.train_y.index_select(0, rows))
        run.loss_acc += micro_loss.detach()
        scaled = micro_loss / count
        if job.scaler is not None:
            scaled = job.scaler.scale(scaled)
        scaled.backward()  # type: ignore[no-untyped-call]
    return len(bounds), count


def _set_hyperparameters(
    run: _Run, index: int
) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
    groups = run.job.optimizer.param_groups
    lr = tuple(run.lrs[:, index].tolist())
    for group, value in zip(groups, lr, strict=True):
        group["lr"] = value
    if run.momentum is None:
        return lr, None
    momentum = tuple(run.momentum[:, index].tolist())
    for group, value in zip(groups, momentum, strict=True):
        if run.job.momentum_key == "betas":
            group["betas"] = (value, group["betas"][1])
        else:
            group["momentum"] = value
    return lr, momentum


def _update(run: _Run, order: torch.Tensor) -> StepEvent:
    spec, job = run.spec, run.job
    micro_batches, count = _accumulate(run, order)
    lr, momentum = _set_hyperparameters(run, job.progress.step)
    if job.scaler is not None:
        job.scaler.unscale_(job.optimizer)
    norm_t, peak_t = clip_gradients(
        run.params, spec.max_grad_norm, spec.norm_type_value, spec.clip_value
    )
    parts = [run.loss_acc, norm_t] + ([] if peak_t is None else [peak_t])
    if norm_t.device.type == "cpu":  # nothing to wait for: plain reads, no extra tensor ops
        values = [t.item() for t in parts]
    else:
        values = torch.stack([t.to(torch.float64) for t in parts]).tolist()  # the one sync
    loss, norm = values[0] / count, values[1]
    peak = values[2] if peak_t is not None else None
    nonfinite = not math.isfinite(loss) or (job.scaler is None and not math.isfinite(norm))
    skipped = nonfinite or not math.isfinite(norm)
    if not nonfinite:
        if job.scaler is None:
            job.optimizer.step()
        else:
            job.scaler.step(job.optimizer)
            job.scaler.update()
    job.optimizer.zero_grad(set_to_none=True)
    event = _record(run, lr, momentum, loss, norm, peak, count, nonfinite, skipped)
    job.progress.position += micro_batches
    if nonfinite:
        raise NonFiniteError(
            f"non-finite {'loss' if not math.isfinite(loss) else 'gradient norm'} at update "
            f"{event.step} (loss={loss}, grad_norm={norm}, lr={list(lr)}): the run diverged",
            step=event.step,
        )
    return event


def _record(
    run: _Run,
    lr: tuple[float, ...],
    momentum: tuple[float, ...] | None,
    loss: float,
    norm: float,
    peak: float | None,
    count: int,
    nonfinite: bool,
    skipped: bool,
) -> StepEvent:
    progress, now = run.job.progress, time.perf_counter()
    progress.step += 1
    progress.samples_seen += count
    event = StepEvent(
        step=progress.step,
        epoch=progress.epoch,
        lr=lr,
        momentum=momentum,
        loss=loss,
        grad_norm=norm,
        clipped=not skipped
        and was_clipped(norm, peak, run.spec.max_grad_norm, run.spec.clip_value),
        samples=count,
        samples_per_s=count / max(now - run.last_tick, 1e-9),
        elapsed_s=run.elapsed(),
        nonfinite=nonfinite,
        skipped=skipped,
    )
    run.last_tick = now
    if run.hooks.on_step is not None:
        run.hooks.on_step(event)
    return event


def _after_update(run: _Run, event: StepEvent) -> EvalEvent | None:
    """Epoch rollover, then eval and checkpoint cadences (counted in updates)."""
    spec, job = run.spec, run.job
    progress = job.progress
    if progress.position >= job.plan.micro_batches_per_epoch:
        progress.epoch, progress.position = progress.epoch + 1, 0
    evaluated = None
    if spec.eval_every_steps and job.data.val_size and event.step % spec.eval_every_steps == 0:
        evaluated = _evaluate(run, event.epoch)
    on_checkpoint, every = run.hooks.on_checkpoint, spec.checkpoint_every_steps
    cadence = every is not None and event.step % every == 0
    asked = run.hooks.checkpoint_now is not None and run.hooks.checkpoint_now()
    if on_checkpoint is not None and (cadence or asked):
        progress.elapsed_s, run.started = run.elapsed(), time.perf_counter()
        on_checkpoint(capture(job.model, job.optimizer, job.scaler, progress))
    return evaluated


def _evaluate(run: _Run, epoch: int) -> EvalEvent:
    job = run.job
    batch = run.spec.batch_size * run.spec.gradient_accumulation_steps
    val_loss, accuracy = evaluate(job.model, job.data, batch, job.autocast, job.device)
    event = EvalEvent(
        job.progress.step, epoch, val_loss, accuracy, job.data.val_size, run.elapsed()
    )
    if run.hooks.on_eval is not None:
        run.hooks.on_eval(event)
    return event
