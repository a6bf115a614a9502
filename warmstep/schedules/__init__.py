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


def prepare_compiled_loops() -> None:
    """Import and compile (or load from numba's disk cache) the engine's compiled loops
    (:mod:`warmstep.schedules._loops`) now, so that the first long recurrence does not pay it;
    the front end runs this on a thread as it starts."""
    from warmstep.schedules import _loops

    _loops.warm()


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
    "prepare_compiled_loops",
    "register",
    "resolve_spec",
]
