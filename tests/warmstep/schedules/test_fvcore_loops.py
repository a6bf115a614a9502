"""fvcore's linear and cosine schedulers under an LRMultiplier in one compiled pass
(``adapters/_fvcore_loops.py``): bit for bit the numpy evaluation of ``at`` it replaces, on
random specs (curves shorter and longer than ``max_iter``, several groups, many slices across
threads), and fvcore itself. fvcore is installed by ``make install-test``."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from warmstep.schedules import EvalContext, _parallel, resolve_spec
from warmstep.schedules.adapters import fvcore

Spec = dict[str, Any]
KINDS = ["LinearParamScheduler", "CosineParamScheduler"]


def _curve(spec: Spec, steps: int, base_lrs: list[float]) -> np.ndarray:
    context = EvalContext(steps, np.asarray(base_lrs, np.float64))
    return np.asarray(resolve_spec(spec).evaluate(context).lr)


def _random_spec(rng: np.random.Generator, kind: str, steps: int) -> Spec:
    values = [0.0, 1.0, 1e-4, -0.3, float(rng.uniform(-2, 2)), float(rng.uniform(0, 1e-2))]
    return {
        "type": kind,
        "start_value": float(rng.choice(values)),
        "end_value": float(rng.choice(values)),
        "max_iter": int(rng.choice([1, 3, 7, max(steps - 1, 1), steps + 13, 999_983])),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_the_compiled_pass_equals_at(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)  # several slices from 2,048
    rng = np.random.default_rng(len(kind))
    for _ in range(200):
        steps = int(rng.choice([1, 2, int(rng.integers(3, 500)), int(rng.integers(2_000, 9_000))]))
        spec = _random_spec(rng, kind, steps)
        base_lrs = rng.uniform(0.01, 1.0, int(rng.integers(1, 4))).tolist()
        compiled = _curve(spec, steps, base_lrs)
        with monkeypatch.context() as patch:
            patch.setattr(getattr(fvcore, kind), "compiled_shape", lambda self: None)
            expected = _curve(spec, steps, base_lrs)
        np.testing.assert_array_equal(compiled, expected, err_msg=str(spec))


@pytest.mark.parametrize("kind", KINDS)
def test_matches_fvcore(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        module = importlib.import_module("fvcore.common.param_scheduler")
    except ImportError:
        pytest.skip("fvcore is not importable here (make install-test installs it)")
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 4096)
    start, end, max_iter, steps = 0.37, 1.3e-4, 29_989, 30_000
    spec = {"type": kind, "start_value": start, "end_value": end, "max_iter": max_iter}
    scheduler = getattr(module, kind)(start_value=start, end_value=end)
    base_lrs = [0.1, 3.0]
    expected = [[base * scheduler(i / max_iter) for i in range(steps)] for base in base_lrs]
    np.testing.assert_array_equal(_curve(spec, steps, base_lrs), np.asarray(expected))
