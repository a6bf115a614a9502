"""The schedule engine: every library's schedules as pure, vectorised functions of the step."""

import logging
import threading

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
    (:mod:`warmstep.schedules._loops` and the loop modules beside the adapters) now, so that
    the first long curve does not pay it; the front end and the worker run this on a thread
    as they start."""
    from warmstep.schedules import _cosine, _loops, _tanh
    from warmstep.schedules.adapters import (
        _decision_loops,
        _detectron2_loops,
        _fvcore_loops,
        _timm_loops,
        _transformers_loops,
    )
    from warmstep.schedules.adapters.torch import _cycle_loops, _fold_loop, _polynomial_loop

    modules = (_loops, _cosine, _tanh, _fold_loop, _cycle_loops, _polynomial_loop)
    adapters = (_decision_loops, _detectron2_loops, _fvcore_loops, _timm_loops, _transformers_loops)
    for module in (*modules, *adapters):
        module.warm()


def prepare_compiled_loops_soon() -> threading.Thread:
    """:func:`prepare_compiled_loops` on a daemon thread, started now (the front end and the
    worker's job process call it as they start). A failure is logged; the loops then compile
    on first use."""

    def prepare() -> None:
        try:
            prepare_compiled_loops()
        except Exception:
            logging.getLogger("warmstep.schedules").exception(
                "compiling the engine's loops ahead of time failed"
            )

    thread = threading.Thread(target=prepare, name="prepare-loops", daemon=True)
    thread.start()
    return thread


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
    "prepare_compiled_loops_soon",
    "register",
    "resolve_spec",
]
