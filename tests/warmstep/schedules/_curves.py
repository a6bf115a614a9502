"""Test helper: a spec's learning-rate curve as the engine gives it."""

from __future__ import annotations

from typing import Any

import numpy as np

from warmstep.schedules import EvalContext, resolve_spec


def curve(spec: dict[str, Any], steps: int, base_lrs: list[float]) -> np.ndarray:
    """``lr`` (groups x steps) of ``spec`` evaluated over ``steps`` steps."""
    context = EvalContext(steps, np.asarray(base_lrs, np.float64))
    return np.asarray(resolve_spec(spec).evaluate(context).lr)
