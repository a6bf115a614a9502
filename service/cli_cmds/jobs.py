"""``warmstep submit``, ``jobs``, ``follow``, ``cancel`` and ``artifacts``."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from service.cli_cmds import progress
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

JobArg = Annotated[str, typer.Argument(help="Job id.")]


def submit(
    spec: Annotated[str, typer.Argument(help="JobSpec as inline JSON or a JSON file.")],
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Show live progress; exit 1 if the job fails, 3 if cancelled."
        ),
    ] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe submit key.")] = None,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Submit a training job; prints its id (and follows it with --follow)."""
    body = load_json(spec, "spec")
    with session(transport, url, grpc_target) as client:
        job = client.submit(body, idempotency_key)
        typer.echo(job["id"])
        if job.get("totals"):
            typer.echo(_totals(job), err=True)
        if follow:
            raise typer.Exit(progress.follow(client, job))


def _totals(job: dict[str, Any]) -> str:
    totals = job["totals"]
    return ", ".join(f"{k} {v}" for k, v in totals.items())


def _when(stamp: Any) -> str:
    if not stamp:
        return "-"
    return datetime.datetime.fromtimestamp(float(stamp)).strftime("%Y-%m-%d %H:%M:%S")


def jobs(
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, ...")] = None,
    label: Annotated[str | None, typer.Option(help="key=value")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """List jobs, newest first."""
    with session(transport, url, grpc_target) as client:
        found = client.jobs(status, label, limit)
    rows = [
        [
            j["id"],
            j["status"],
            str(j.get("name") or ""),
            j.get("device_class", ""),
            str((j.get("totals") or {}).get("total_updates", "-")),
            _when(j.get("created_at")),
            ((j.get("error") or {}).get("code") or ""),
        ]
        for j in found
    ]
    typer.echo(table(rows, ["ID", "STATUS", "NAME", "DEVICE", "UPDATES", "CREATED", "ERROR"]))


def follow(
    job_id: JobArg,
    after: Annotated[str | None, typer.Option(help="Resume after this event id.")] = None,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Follow a job live until it ends; exit 1 if it failed, 3 if cancelled."""
    with session(transport, url, grpc_target) as client:
        raise typer.Exit(progress.follow(client, client.get(job_id), after))


def cancel(
    job_id: JobArg,
    transport: TransportOpt = TransportKind.REST,
    url: UrlOpt = DEFAULT_URL,
    grpc_target: GrpcOpt = DEFAULT_GRPC,
) -> None:
    """Cancel a job (queued: never starts; running: stops within one micro-batch)."""
    with session(transport, url, grpc_target) as client:
        job = client.cancel(job_id)
    requested = (
        " (cancel requested)"
        if job.get("cancel_requested") and (job["status"] == "running")
        else ""
    )
    typer.echo(f"job {job['id']} {job['status']}{requested}")


def artifacts(
    job_id: JobArg,
    download: Annotated[
        str | None, typer.Option(help="Download this artifact (model, ...).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the download.")] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """List a job's artifacts, or download one (REST only: artifacts are plain HTTP)."""
    token = os.environ.get("WARMSTEP_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60.0) as http:
        if download is None:
            answer = _checked(http.get(f"/v1/jobs/{job_id}/artifacts"))
            rows = [
                [a["name"], a.get("doc", ""), a.get("url", "")] for a in answer.json()["artifacts"]
            ]
            typer.echo(table(rows, ["NAME", "WHAT", "URL"]))
            return
        answer = _checked(http.get(f"/v1/jobs/{job_id}/artifacts/{download}"))
    target = out or Path(f"{job_id}-{download}.pt")
    target.write_bytes(answer.content)
    typer.echo(f"wrote {target} ({len(answer.content)} bytes)")


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)
    return response
