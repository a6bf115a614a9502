"""Following a job in the terminal: a live bar with step/total, loss, LR and ETA on stderr,
eval and log lines above it, and the final status on stdout."""

from __future__ import annotations

import math
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from service.cli_cmds.transport import Transport

TERMINAL = ("succeeded", "failed", "cancelled")
EXIT_STATUS = {"succeeded": 0, "failed": 1, "cancelled": 3}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return f"{float(value):.4g}"


def _total(job: dict[str, Any]) -> int | None:
    totals = job.get("totals") or {}
    total = totals.get("total_updates")
    return int(total) if total else None


def follow(client: Transport, job: dict[str, Any], cursor: str | None = None) -> int:
    """Show the job's events until it ends; answers the exit status for its outcome."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("lr {task.fields[lr]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    status = job["status"]
    last: dict[str, Any] = {}
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(status, total=_total(job), loss="-", lr="-")
        for event in client.follow(job["id"], cursor):
            data = event["data"]
            if event["type"] == "step":
                last = data
                bar.update(
                    task,
                    completed=int(data["step"]) + 1,
                    loss=_fmt(data.get("loss")),
                    lr=_fmt((data.get("lr") or [None])[0]),
                )
            elif event["type"] == "status":
                status = str(data.get("status"))
                _on_status(client, bar, task, job["id"], status, data)
            elif event["type"] == "eval":
                bar.console.print(
                    f"eval after step {int(data.get('step', 0))}: val_loss "
                    f"{_fmt(data.get('val_loss'))} accuracy "
                    f"{_fmt(data.get('accuracy'))}"
                )
            elif event["type"] == "log":
                bar.console.print(str(data.get("message", "")))
    final = client.get(job["id"])
    _summary(final, last)
    return EXIT_STATUS.get(final["status"], 1)


def _on_status(
    client: Transport,
    bar: Progress,
    task: TaskID,
    job_id: str,
    status: str,
    data: dict[str, Any],
) -> None:
    bar.update(task, description=status)
    if status == "running" and bar.tasks[task].total is None:
        bar.update(task, total=_total(client.get(job_id)))
    reason = data.get("reason") or data.get("error_message")
    if reason:
        bar.console.print(f"{status}: {reason}")


def _summary(job: dict[str, Any], last: dict[str, Any]) -> None:
    steps = "-" if not last else int(last["step"]) + 1
    line = f"job {job['id']} {job['status']}: {steps}/{_total(job) or '?'} steps"
    if last:
        line += f", last loss {_fmt(last.get('loss'))}"
    if job.get("error"):
        line += f"; {job['error'].get('code')}: {job['error'].get('message')}"
    typer.echo(line)
