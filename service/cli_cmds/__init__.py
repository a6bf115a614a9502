"""The client commands of ``warmstep`` (everything but dev/serve/worker), each in a small module;
:func:`register` adds them to the typer app."""

from __future__ import annotations

import typer

from service.cli_cmds import export, jobs, schedules

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("kinds")(schedules.kinds)
    app.command("eval")(schedules.evaluate)
    app.command("plan")(schedules.plan)
    app.command("submit")(jobs.submit)
    app.command("jobs")(jobs.jobs)
    app.command("follow")(jobs.follow)
    app.command("cancel")(jobs.cancel)
    app.command("artifacts")(jobs.artifacts)
    app.command("export")(export.export)
