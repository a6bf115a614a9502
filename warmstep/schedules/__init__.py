"""The schedule engine: every library's schedules as pure, vectorised functions of the step."""

from warmstep.schedules._core import (
    Curve,
    EvalContext,
    Kind,
    KindParams,
    Library,
    ResolvedSchedule,
)
from warmstep.schedules._registry import (
    NestedSchedule,
    NestedSchedules,
    all_kinds,
    find_kind,
    register,
    resolve_spec,
)

__all__ = [
    "Curve",
    "EvalContext",
    "Kind",
    "KindParams",
    "Library",
    "NestedSchedule",
    "NestedSchedules",
    "ResolvedSchedule",
    "all_kinds",
    "find_kind",
    "register",
    "resolve_spec",
]
