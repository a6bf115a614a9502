"""One job attempt, in four steps: claim, load, run, record.

While it runs, a lease thread keeps the dispatch entry and watches for a cancel request; the
loop checks a flag before every micro-batch, so cancel takes effect within one micro-batch. A
refused fenced write (this attempt was superseded) makes the worker abandon the job without
touching it again, and without acknowledging the entry, which another worker now owns."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from warmstep import keys, lifecycle
from warmstep.errors import WarmstepError
from warmstep.job_schedule import job_curve, metric_value, resolve_job_schedule
from warmstep.job_views import JobTotals
from warmstep.jobs import JobSpec
from worker.jobs.events import EventWriter
from worker.jobs.hooks import JobHooks
from worker.jobs.queue import DispatchEntry, DispatchQueue
from worker.jobs.storage import BlobStore
from worker.training.events import TrainingCancelled, TrainingResult, TrainingStopped
from worker.training.loop import run_training
from worker.training.setup import plan_job

log = logging.getLogger("warmstep.worker")


@dataclass
class WorkerContext:
    client: redis.Redis  # decode_responses=True
    binary: redis.Redis  # raw bytes (checkpoints, artifacts)
    queue: DispatchQueue
    worker_id: str
    heartbeat_s: float
    max_state_bytes: int
    stopping: threading.Event  # graceful stop requested (SIGTERM)


class Attempt:
    """Everything one attempt of one job holds while it runs."""

    def __init__(self, ctx: WorkerContext, entry: DispatchEntry, attempt: int) -> None:
        self.ctx = ctx
        self.entry = entry
        self.job_id = entry.job_id
        self.attempt = attempt
        self.events = EventWriter(ctx.client, entry.job_id, attempt)
        self.blobs = BlobStore(ctx.binary, entry.job_id, attempt, ctx.max_state_bytes)
        self.cancel_requested = threading.Event()
        self.lost = threading.Event()  # the lease or the fence says another attempt owns it
        self._done = threading.Event()
        self._finish = ctx.client.register_script(lifecycle.FINISH)
        self._hand_back = ctx.client.register_script(lifecycle.HAND_BACK)

    def should_stop(self) -> bool:
        return (
            self.cancel_requested.is_set()
            or self.lost.is_set()
            or self.events.fenced.is_set()
            or self.ctx.stopping.is_set()
        )

    def keep_lease(self) -> None:
        while not self._done.wait(self.ctx.heartbeat_s):
            try:
                if not self.ctx.queue.keep_lease(self.entry):
                    self.lost.set()
                if self.ctx.client.hget(keys.job_record(self.job_id), "cancel_requested") == "1":
                    self.cancel_requested.set()
            except redis.RedisError as exc:
                log.warning("lease refresh failed: %s", exc)

    def finish(
        self,
        status: lifecycle.JobStatus,
        result: dict[str, Any] | None = None,
        code: str = "",
        message: str = "",
    ) -> bool:
        written = self.events.close()
        event = {"status": status.value, "attempt": self.attempt}
        if code:
            event |= {"error_code": code, "reason": message}
        done = self._finish(
            keys=[keys.job_record(self.job_id), keys.job_events(self.job_id)],
            args=[
                self.attempt,
                status.value,
                repr(time.time()),
                orjson.dumps(result).decode() if result else "",
                code,
                message,
                orjson.dumps(event).decode(),
            ],
        )
        return bool(done) and written

    def hand_back(self) -> bool:
        self.events.close()
        done = self._hand_back(
            keys=[keys.job_record(self.job_id), keys.job_events(self.job_id)],
            args=[self.attempt, "worker stopping; handed back for re-delivery"],
        )
        return bool(done)

    def close(self) -> None:
        self._done.set()


def run_entry(ctx: WorkerContext, entry: DispatchEntry) -> None:
    """Claim the entry's job, run it, record the outcome, acknowledge."""
    attempt = ctx.queue.claim_job(entry)
    if attempt == lifecycle.ClaimOutcome.EXHAUSTED:
        ctx.queue.dead_letter(entry, "attempts exhausted")
        return
    if attempt < 0:
        ctx.queue.ack(entry)
        return
    run = Attempt(ctx, entry, attempt)
    lease = threading.Thread(target=run.keep_lease, name="lease", daemon=True)
    lease.start()
    try:
        acknowledge = _run_attempt(run)
    finally:
        run.close()
        lease.join()
    if acknowledge:
        ctx.queue.ack(entry)


def _run_attempt(run: Attempt) -> bool:
    """Answers whether the dispatch entry may be acknowledged."""
    raw = run.ctx.client.hget(keys.job_record(run.job_id), "spec")
    spec = JobSpec.model_validate_json(str(raw))
    run.events.start()
    try:
        result = _train(run, spec)
    except TrainingCancelled as exc:
        return _stopped(run, exc)
    except TrainingStopped as exc:
        run.finish(lifecycle.JobStatus.FAILED, code=exc.reason, message=exc.message)
        return True
    except WarmstepError as exc:
        run.finish(lifecycle.JobStatus.FAILED, code=exc.code.value, message=str(exc))
        return True
    except Exception as exc:
        log.exception("job %s failed", run.job_id)
        run.finish(
            lifecycle.JobStatus.FAILED, code="internal", message=f"{type(exc).__name__}: {exc}"
        )
        return True
    summary = {
        "steps": result.steps,
        "last_loss": result.last_loss,
        "elapsed_s": result.elapsed_s,
        "last_eval": None if result.last_eval is None else result.last_eval.to_dict(),
    }
    run.blobs.save_artifact("model", result.model.state_dict())
    return run.finish(lifecycle.JobStatus.SUCCEEDED, summary)


def _stopped(run: Attempt, exc: TrainingCancelled) -> bool:
    if run.lost.is_set() or run.events.fenced.is_set():
        log.warning("job %s: attempt %s superseded; abandoning it", run.job_id, run.attempt)
        return False
    if run.cancel_requested.is_set():
        run.finish(
            lifecycle.JobStatus.CANCELLED, code="cancelled", message=f"cancelled at step {exc.step}"
        )
        return True
    run.hand_back()
    run.ctx.queue.hand_back(run.entry)
    return False


def _train(run: Attempt, spec: JobSpec) -> TrainingResult:
    plan = plan_job(spec)
    totals = JobTotals.model_validate(plan, from_attributes=True)
    run.blobs.set_field("totals", totals.model_dump_json())
    curve = job_curve(spec, plan)
    resolved = resolve_job_schedule(spec, plan)
    metric_fed = resolved is not None and resolved.kind.takes_metrics
    resume = run.blobs.load_checkpoint() if run.attempt > 1 else None
    if resume is not None:
        run.events.emit(
            "log",
            {
                "message": f"resumed from the checkpoint at step {resume['step']}",
                "resumed_from_step": int(resume["step"]),
            },
        )
    hooks = JobHooks(run, curve.lr, resolved if metric_fed else None, spec, metric_value)
    return run_training(spec, curve.lr, curve.momentum, hooks.as_hooks(), resume)
