"""``warmstep kinds``, ``eval`` and ``plan``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from service.cli_cmds.common import (
    DEFAULT_GRPC,
    DEFAULT_URL,
    GrpcOpt,
    TransportOpt,
    UrlOpt,
    load_json,
    session,
    table,
)
from service.cli_cmds.transport import TransportKind
from warmstep_client import Curve


def kinds(
    library: Annotated[str | None, typer.Option(help="Only this library's kinds.")] = None,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """List the schedule kinds: name, library, parameters and a one-line doc."""
    with session(transport, url, grpc_target) as client:
        found = client.kinds(library)
    rows = [
        [
            k["name"],
            k["library"],
            ",".join(k["parameters"].get("properties", {}))[:50],
            k.get("doc", "")[:60],
        ]
        for k in found
    ]
    typer.echo(table(rows, ["KIND", "LIBRARY", "PARAMETERS", "DOC"]))


def evaluate(
    spec: Annotated[
        str,
        typer.Argument(
            help="Schedule spec, or a whole evaluate request (with "
            "'schedule'), as inline JSON or a JSON file."
        ),
    ],
    steps: Annotated[int | None, typer.Option(help="Optimizer updates.")] = None,
    base_lr: Annotated[list[float] | None, typer.Option(help="Base LR; repeat per group.")] = None,
    points: Annotated[int | None, typer.Option(help="Downsample to this many buckets.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Metric series (JSON list or file).")] = None,
    rows: Annotated[int, typer.Option(help="Table rows to print, evenly spaced (0: all).")] = 20,
    csv_path: Annotated[
        str | None, typer.Option("--csv", help="Write every value as CSV ('-' for stdout).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Plot to this PNG file.")] = None,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Evaluate a schedule: the LR of every param group at every step."""
    request = _request(load_json(spec, "spec"), steps, base_lr, points, metrics)
    with session(transport, url, grpc_target) as client:
        curve = client.evaluate(request)
    if csv_path is not None:
        _write_csv(curve, csv_path)
    if plot is not None:
        _plot(curve, str(request["schedule"].get("type")), plot)
    if csv_path != "-":
        typer.echo(_table(curve, rows))


def _request(
    loaded: Any,
    steps: int | None,
    base_lr: list[float] | None,
    points: int | None,
    metrics: str | None,
) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise typer.BadParameter("spec: a JSON object")
    request: dict[str, Any] = dict(loaded) if "schedule" in loaded else {"schedule": loaded}
    overrides = {
        "steps": steps,
        "base_lr": base_lr,
        "points": points,
        "metrics": None if metrics is None else load_json(metrics, "metrics"),
    }
    request |= {k: v for k, v in overrides.items() if v is not None}
    if isinstance(request.get("base_lr"), list) and len(request["base_lr"]) == 1:
        request["base_lr"] = request["base_lr"][0]
    if "steps" not in request:
        raise typer.BadParameter("give --steps (or 'steps' in the request)")
    return {k: request.get(k) for k in ("schedule", "steps", "base_lr", "metrics", "points")}


def _steps(curve: Curve) -> np.ndarray[Any, np.dtype[np.int64]]:
    return curve.index if curve.index is not None else np.arange(curve.lr.shape[1])


def _columns(curve: Curve) -> tuple[list[str], list[np.ndarray[Any, Any]]]:
    groups = curve.lr.shape[0]
    header = ["step"] + [f"lr_{g}" for g in range(groups)]
    columns: list[np.ndarray[Any, Any]] = [_steps(curve), *curve.lr]
    if curve.momentum is not None:
        header += [f"momentum_{g}" for g in range(groups)]
        columns += list(curve.momentum)
    return header, columns


def _write_csv(curve: Curve, path: str) -> None:
    header, columns = _columns(curve)
    handle = sys.stdout if path == "-" else open(path, "w", newline="")  # noqa: SIM115
    try:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for i in range(len(columns[0])):
            writer.writerow([int(columns[0][i]), *(repr(float(c[i])) for c in columns[1:])])
    finally:
        if handle is not sys.stdout:
            handle.close()


def _table(curve: Curve, rows: int) -> str:
    header, columns = _columns(curve)
    n = len(columns[0])
    picks = (
        np.arange(n)
        if rows <= 0 or rows >= n
        else np.unique(np.linspace(0, n - 1, rows).round().astype(np.int64))
    )
    body = [[str(int(columns[0][i])), *(f"{float(c[i]):.8g}" for c in columns[1:])] for i in picks]
    return table(body, header)


def _plot(curve: Curve, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    steps = _steps(curve)
    for g, values in enumerate(curve.lr):
        ax.plot(steps, values, label=f"lr group {g}")
    if curve.momentum is not None:
        twin = ax.twinx()
        for g, values in enumerate(curve.momentum):
            twin.plot(steps, values, "--", alpha=0.6, label=f"momentum group {g}")
        twin.set_ylabel("momentum")
    ax.set(xlabel="step (optimizer update)", ylabel="learning rate", title=title)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plan(
    examples: Annotated[int, typer.Option(help="Training examples.")],
    batch_size: Annotated[int, typer.Option(help="Micro-batch size.")],
    gradient_accumulation_steps: Annotated[int, typer.Option("--accumulation")] = 1,
    epochs: Annotated[int | None, typer.Option()] = None,
    max_steps: Annotated[int | None, typer.Option()] = None,
    warmup_steps: Annotated[int | None, typer.Option()] = None,
    warmup_ratio: Annotated[float | None, typer.Option()] = None,
    drop_last: Annotated[bool, typer.Option()] = False,
    scheduler_interval: Annotated[str, typer.Option("--interval", help="step or epoch")] = "step",
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Optimizer updates per epoch, total updates and warmup steps for a training setup."""
    request = {
        "examples": examples,
        "batch_size": batch_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "epochs": epochs,
        "max_steps": max_steps,
        "warmup_steps": warmup_steps,
        "warmup_ratio": warmup_ratio,
        "drop_last": drop_last,
        "scheduler_interval": scheduler_interval,
    }
    with session(transport, url, grpc_target) as client:
        answer = client.plan({k: v for k, v in request.items() if v is not None})
    answer = answer.get("plan", answer) if isinstance(answer.get("plan"), dict) else answer
    typer.echo(table([[k, str(v)] for k, v in answer.items()], ["FIELD", "VALUE"]))
