"""The ``warmstep`` command: ``dev`` (everything, embedded Redis), ``serve`` (front end),
``worker`` (training worker), and the client commands of ``service.cli_cmds`` (kinds, eval,
plan, submit, jobs, follow, cancel, artifacts, export)."""

from __future__ import annotations

import asyncio
import logging

import typer

from service.cli_cmds import register
from warmstep.config import get_settings

app = typer.Typer(no_args_is_help=True, help="warmstep: learning-rate schedules and training jobs")


def _logging() -> None:
    level = get_settings().log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")


@app.command()
def dev() -> None:
    """Start an embedded Redis (unless REDIS_URL is set), the front end and one worker."""
    from service.dev import run_dev

    _logging()
    raise typer.Exit(run_dev(get_settings()))


@app.command()
def serve() -> None:
    """Start the front end: REST and gRPC in one process (needs REDIS_URL)."""
    from service.serve import serve as serve_async

    _logging()
    asyncio.run(serve_async(get_settings()))


@app.command()
def worker() -> None:
    """Start a training worker (needs REDIS_URL and torch)."""
    from worker.main import run_worker

    _logging()
    run_worker(get_settings())


register(app)

if __name__ == "__main__":
    app()
