"""``warmstep export JOB --tensorboard DIR``: a job's whole history as TensorBoard event files.

Every step and eval event becomes scalars (no sampling; start TensorBoard with
``--samples_per_plugin scalars=0`` to draw every point too). The x axis is updates done
(``step + 1``, as the HF Trainer's ``global_step``); wall time is the job's start plus the event's
``elapsed_s``. A retried job replays steps after its last checkpoint: the later attempt's value of
a step replaces the earlier one, so each tag has one value per step.

The run is written to ``DIR/<name>-<id>`` (or ``DIR/<id>``), so ``tensorboard --logdir DIR``
shows it next to the other runs there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli_cmds.common import (
    DEFAULT_GRPC,
    DEFAULT_URL,
    GrpcOpt,
    TransportOpt,
    UrlOpt,
    session,
)
from service.cli_cmds.transport import TransportKind

Scalars = dict[str, dict[int, tuple[float, float]]]  # tag -> step -> (value, wall time)
_STEP_FIELDS = ("loss", "grad_norm", "samples_per_s")
_EVAL_FIELDS = ("val_loss", "accuracy")


def scalars_of(events: list[dict[str, Any]], started_at: float) -> Scalars:
    """Tags and values of step and eval events; the last value written for a step wins."""
    out: Scalars = {}

    def put(tag: str, step: int, value: Any, elapsed: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        out.setdefault(tag, {})[step] = (float(value), started_at + elapsed)

    for event in events:
        data = event["data"]
        step, elapsed = int(data.get("step", 0)) + 1, float(data.get("elapsed_s") or 0.0)
        if event["type"] == "step":
            for name in _STEP_FIELDS:
                put(f"train/{name}", step, data.get(name), elapsed)
            put("train/clipped", step, float(bool(data.get("clipped"))), elapsed)
            for series in ("lr", "momentum"):
                values = data.get(series) or []
                for g, value in enumerate(values):
                    tag = f"train/{series}" if len(values) == 1 else f"train/{series}/group_{g}"
                    put(tag, step, value, elapsed)
        elif event["type"] == "eval":
            for name in _EVAL_FIELDS:
                put(f"eval/{name}", step, data.get(name), elapsed)
    return out


def write_tensorboard(scalars: Scalars, run_dir: Path) -> int:
    """Write the scalars to an event file in ``run_dir``; answers the number of points."""
    from tensorboardX import SummaryWriter

    run_dir.mkdir(parents=True, exist_ok=True)
    points = 0
    writer = SummaryWriter(logdir=str(run_dir), max_queue=1000, flush_secs=3600)
    try:
        for tag, series in sorted(scalars.items()):
            for step, (value, wall) in sorted(series.items()):
                writer.add_scalar(tag, value, global_step=step, walltime=wall)
                points += 1
    finally:
        writer.close()
    return points


def run_name(job: dict[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(job.get("name") or "")).strip("_")
    return f"{name}-{job['id']}" if name else str(job["id"])


def export(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    tensorboard: Annotated[Path, typer.Option(help="Log dir; the run goes in a sub-folder.")],
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Write a job's full history as TensorBoard event files (waits for a running job to end)."""
    with session(transport, url, grpc_target) as client:
        events = list(client.follow(job_id, None))
        job = client.get(job_id)
    started = float(job.get("started_at") or job.get("created_at") or 0.0)
    run_dir = tensorboard / run_name(job)
    points = write_tensorboard(scalars_of(events, started), run_dir)
    typer.echo(f"wrote {points} points to {run_dir}")
