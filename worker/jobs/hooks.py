"""The loop's callbacks for a queued job: events into the stream, checkpoints into Redis,
metric-driven schedules fed by the evaluation loss, and the stop check.

Graceful stop (SIGTERM): the loop finishes the update in progress, ``checkpoint_now`` makes it
checkpoint at that update, and only then does the stop check answer true, so the next attempt
resumes exactly where this one stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import redis

from warmstep.jobs import JobSpec
from warmstep.schedules import ResolvedSchedule
from warmstep.schedules._core import FloatArray
from worker.jobs.checkpoints import CheckpointWriter
from worker.training.events import EvalEvent, Hooks, StepEvent

if TYPE_CHECKING:
    from worker.jobs.runner import Attempt

log = logging.getLogger("warmstep.worker")

EVENTS_BEFORE_CHECKPOINT_S = 60.0  # a checkpoint waits this long for the events before it

MetricValue = Callable[[ResolvedSchedule, FloatArray, list[float]], FloatArray]


class JobHooks:
    """``step`` in the stream is the 0-based index of the update (the schedule's value index);
    the loop's own ``step`` counts updates done (1-based)."""

    def __init__(
        self,
        run: Attempt,
        lrs: FloatArray,
        metric_schedule: ResolvedSchedule | None,
        spec: JobSpec,
        metric_value: MetricValue,
    ) -> None:
        self._run = run
        self._lrs = lrs
        self._metric_schedule = metric_schedule
        self._metric_value = metric_value
        self._base_lrs = np.asarray(spec.optimizer.group_lrs(), np.float64)
        self._metrics: list[float] = []
        self._checkpoints = CheckpointWriter(self._save_checkpoint)

    def as_hooks(self) -> Hooks:
        return Hooks(
            on_step=self.on_step,
            on_eval=self.on_eval,
            on_checkpoint=self.on_checkpoint,
            should_cancel=self._run.should_stop,
            checkpoint_now=self._run.ctx.stopping.is_set,
        )

    def on_step(self, event: StepEvent) -> None:
        data = event.to_dict()
        data.pop("kind", None)
        data["step"] = event.step - 1
        data["attempt"] = self._run.attempt
        self._run.events.emit("step", data)
        if not self._run.progressed.is_set():  # (set() takes a lock even when set)
            self._run.progressed.set()

    def on_eval(self, event: EvalEvent) -> None:
        data = event.to_dict()
        data.pop("kind", None)
        data["step"] = event.step - 1
        self._run.events.emit("eval", data)
        if self._metric_schedule is not None:
            # The loop reads lrs[:, i] at each update: later updates get the new value.
            self._metrics.append(event.val_loss)
            value = self._metric_value(self._metric_schedule, self._base_lrs, self._metrics)
            self._lrs[:, event.step :] = value[:, None]

    def on_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Cadence checkpoints are saved in the background; a graceful stop's is saved before
        returning (after any still in flight), so the job is handed back with it stored. Either
        is stored only after the events emitted up to it (this update's step and eval)."""
        step, events_before = int(state["step"]), self._run.events.emitted()
        if not self._run.ctx.stopping.is_set():
            self._checkpoints.submit(state, step, events_before)
            return
        self._checkpoints.flush()
        self._save_checkpoint(state, step, events_before, reason="worker stopping")
        self._run.stop_checkpointed.set()

    def close(self) -> None:
        """Wait for the checkpoint in flight (call before recording the job's outcome)."""
        self._checkpoints.close()

    def _save_checkpoint(
        self, state: Mapping[str, Any], step: int, events_before: int, reason: str = ""
    ) -> None:
        """Save (fenced) once the first ``events_before`` events are in the stream: a resumed
        attempt repeats no step before the checkpoint, so none of those may be missing. A Redis
        outage (or a refused fence) skips this checkpoint rather than failing the job."""
        if not self._run.events.wait_written(events_before, EVENTS_BEFORE_CHECKPOINT_S):
            log.warning("checkpoint at update %s not saved: its events are not written", step)
            return
        try:
            if self._run.blobs.save_checkpoint(state, step):
                data: dict[str, Any] = {"step": step - 1, "updates_done": step}
                if reason:
                    data["reason"] = reason
                self._run.events.emit("checkpoint", data)
        except redis.RedisError as exc:
            log.warning("checkpoint at update %s not saved: %s", step, exc)
