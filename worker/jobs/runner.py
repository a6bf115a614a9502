"""One job attempt, in four steps: claim, load, run, record.

While it runs, a lease thread keeps the dispatch entry and watches for a cancel request; the
loop checks a flag before every micro-batch, so cancel takes effect within one micro-batch. A
refused fenced write (this attempt was superseded) makes the worker abandon the job without
touching it again, and without acknowledging the entry, which another worker now owns.

A graceful stop (SIGTERM) checkpoints at the end of the update in progress, hands the job back
(status ``queued``, a fresh dispatch entry) and acknowledges the old entry, so another worker
continues at once. A Redis error is never turned into a job failure: it propagates to the
consume loop, the entry stays pending, and the next attempt resumes from the checkpoint."""

from __future__ import annotations

import logging
import os
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

EXIT_HARD_CANCEL = 70


@dataclass
class WorkerContext:
    client: redis.Redis  # decode_responses=True
    binary: redis.Redis  # raw bytes (checkpoints, artifacts)
    queue: DispatchQueue
    worker_id: str
    heartbeat_s: float
    max_state_bytes: int
    stopping: threading.Event  # graceful stop requested (SIGTERM)
    cancel_grace_s: float = 30.0  # a cancel not honoured this long ends the process
    event_batch_s: float = 0.1  # pause between two writes of the job's events (EventWriter)


class Attempt:
    """Everything one attempt of one job holds while it runs."""

    def __init__(self, ctx: WorkerContext, entry: DispatchEntry, attempt: int) -> None:
        self.ctx = ctx
        self.entry = entry
        self.job_id = entry.job_id
        self.attempt = attempt
        self.events = EventWriter(ctx.client, entry.job_id, attempt, batch_s=ctx.event_batch_s)
        self.blobs = BlobStore(ctx.binary, entry.job_id, attempt, ctx.max_state_bytes)
        self.cancel_requested = threading.Event()
        self.lost = threading.Event()  # the lease or the fence says another attempt owns it
        self.progressed = threading.Event()  # this attempt completed an update
        self.stop_checkpointed = threading.Event()  # graceful stop: the state is saved
        self._done = threading.Event()
        self._finish = ctx.client.register_script(lifecycle.FINISH)
        self._hand_back = ctx.client.register_script(lifecycle.HAND_BACK)

    def should_stop(self) -> bool:
        """Checked before every micro-batch. A graceful stop waits for the checkpoint at the end
        of the update in progress (none is needed before this attempt's first update)."""
        if self.cancel_requested.is_set() or self.lost.is_set() or self.events.fenced.is_set():
            return True
        return self.ctx.stopping.is_set() and (
            self.stop_checkpointed.is_set() or not self.progressed.is_set()
        )

    def keep_lease(self) -> None:
        """Runs on its own thread: refresh the lease, watch for a cancel request, and end the
        process when a cancel is not honoured within the grace period (the job is stuck in one
        micro-batch). The supervisor then starts a new job process, which takes the entry back;
        CLAIM sees the cancel request and records the job as cancelled."""
        cancel_seen: float | None = None
        while not self._done.wait(self.ctx.heartbeat_s):
            try:
                if not self.ctx.queue.keep_lease(self.entry):
                    self.lost.set()
                if self.ctx.client.hget(keys.job_record(self.job_id), "cancel_requested") == "1":
                    self.cancel_requested.set()
            except redis.RedisError as exc:
                log.warning("lease refresh failed: %s", exc)
            if self.cancel_requested.is_set():
                cancel_seen = cancel_seen or time.monotonic()
                if time.monotonic() - cancel_seen > self.ctx.cancel_grace_s:
                    log.error(
                        "job %s ignored its cancel for %.0f s: ending the job process",
                        self.job_id,
                        self.ctx.cancel_grace_s,
                    )
                    os._exit(EXIT_HARD_CANCEL)

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
    if attempt < 0:  # cancelled, exhausted (dead-lettered by the claim) or already finished
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
    except redis.RedisError:
        raise  # not the job's fault: the consume loop retries the entry
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
    if run.hand_back():
        run.ctx.queue.hand_back(run.entry)
        log.info("job %s handed back at update %s", run.job_id, exc.step)
    return False


def _resume_note(attempt: int, resume: dict[str, Any] | None) -> dict[str, Any]:
    """The log event that tells followers which earlier events this attempt repeats."""
    start = 0 if resume is None else int(resume["step"])
    where = "the start (no checkpoint)" if resume is None else f"the checkpoint at step {start}"
    return {
        "message": (
            f"attempt {attempt} resumed from {where}; step events of earlier attempts with "
            f"step >= {start} are superseded by this attempt's"
        ),
        "resumed_from_step": start,
        "supersedes": {"attempts_before": attempt, "from_step": start},
    }


def _train(run: Attempt, spec: JobSpec) -> TrainingResult:
    plan = plan_job(spec)
    totals = JobTotals.model_validate(plan, from_attributes=True)
    run.blobs.set_field("totals", totals.model_dump_json())
    curve = job_curve(spec, plan)
    resolved = resolve_job_schedule(spec, plan)
    metric_fed = resolved is not None and resolved.kind.takes_metrics
    resume = run.blobs.load_checkpoint() if run.attempt > 1 else None
    if run.attempt > 1:
        run.events.emit("log", _resume_note(run.attempt, resume))
    hooks = JobHooks(run, curve.lr, resolved if metric_fed else None, spec, metric_value)
    try:
        return run_training(spec, curve.lr, curve.momentum, hooks.as_hooks(), resume)
    finally:
        hooks.close()
