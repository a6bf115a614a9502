"""The catalog of kinds as plain data: enough for a dashboard to build a form for each kind."""

from __future__ import annotations

import functools
from typing import Any

from warmstep.schedules import Kind, all_kinds


def describe(kind: Kind) -> dict[str, Any]:
    schema = kind.params.model_json_schema()
    schema.pop("title", None)
    return {
        "name": kind.name,
        "library": kind.library.value,
        "doc": kind.doc.strip().splitlines()[0] if kind.doc.strip() else "",
        "parameters": schema,
        "needs_base_lr": kind.needs_base_lr,
        "takes_metrics": kind.takes_metrics,
        "cycles_momentum": kind.cycles_momentum,
    }


@functools.cache
def catalog() -> tuple[dict[str, Any], ...]:
    return tuple(describe(kind) for kind in all_kinds())


def kinds_of(library: str | None) -> list[dict[str, Any]]:
    return [k for k in catalog() if library in (None, "", k["library"])]
