"""The timm adapters' integer helpers against Python's own ``//`` and ``**`` (timm's ints)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules.adapters import timm_step, timm_wsd
from warmstep.schedules.adapters.timm import integer_power, whole_floor_divide

TIMES = np.arange(-60, 61, dtype=np.float64)


@pytest.mark.parametrize("divisor", [7, -7, 1, 60, 2.5, -0.75, 7.0, 1e300, 2.0**53, 2**60])
def test_whole_floor_divide_is_python_floor_division(divisor: float) -> None:
    ours = whole_floor_divide(TIMES, divisor)
    expected = [int(t) // divisor if isinstance(divisor, int) else t // divisor for t in TIMES]
    assert [float(v) for v in ours] == [float(v) for v in expected]
    whole = float(divisor).is_integer() and abs(divisor) < 2**53
    assert ours.dtype == (np.int64 if whole else np.float64)


@pytest.mark.parametrize("base", [0.7, 0.5, 1.3, -0.9, 1.0])
def test_integer_power_of_int_exponents_is_pythons(base: float) -> None:
    exponents = np.array([3, -5, 0, 40, 7, -5, 12], dtype=np.int64)
    expected = [base ** int(k) for k in exponents]
    assert integer_power(base, exponents).tolist() == expected
    wide = np.arange(0, 9000, 2, dtype=np.int64)  # more distinct exponents than a table holds
    if abs(base) > 1:  # 1.3 ** 8998 overflows: Python raises, and so does the engine
        with pytest.raises(OverflowError):
            math.pow(base, 8998.0)
        with pytest.raises(OverflowError):
            integer_power(base, wide)
        return
    assert integer_power(base, wide).tolist() == [math.pow(base, float(k)) for k in wide]


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "StepLRScheduler", "decay_t": 700, "decay_rate": 0.5, "t_in_epochs": False},
        {"type": "StepLRScheduler", "decay_t": 3, "decay_rate": 0.999, "warmup_t": 40},
        {
            "type": "StepLRScheduler",
            "decay_t": 250,
            "decay_rate": 0.7,
            "warmup_t": 333,
            "warmup_lr_init": 1e-4,
            "warmup_prefix": False,
        },
        {"type": "StepLRScheduler", "decay_t": -400, "decay_rate": 0.9},  # timm allows it
        {"type": "StepLRScheduler", "decay_t": 2.5, "decay_rate": 0.99},
        {"type": "MultiStepLRScheduler", "decay_t": [1, 2, 2, 900, 4000, 9000], "decay_rate": 0.3},
        {
            "type": "MultiStepLRScheduler",
            "decay_t": [0, 50, 51, 2000],
            "decay_rate": 0.5,
            "warmup_t": 60,
            "warmup_prefix": False,
        },
        {"type": "WSDLRScheduler", "t_initial": 4000, "decay_t": 1500, "warmup_t": 300},
        {
            "type": "WSDLRScheduler",
            "t_initial": 5000,
            "decay_t": 5000,
            "decay_fn": "cosine",
            "lr_min": 0.002,
            "warmup_t": 7,
            "warmup_lr_init": 1e-5,
        },
        {"type": "WSDLRScheduler", "t_initial": 2000, "decay_t": 1, "decay_fn": "exp"},
        {"type": "WSDLRScheduler", "t_initial": 9000, "decay_t": 900, "decay_fn": "power"},
        {
            "type": "WSDLRScheduler",
            "t_initial": 3000,
            "decay_t": 800,
            "stable_fn": "rsqrt",
            "warmup_t": 100,
        },
    ],
)
def test_runs_written_as_fills_match_the_array_path(
    spec: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """timm's Step, MultiStep and WSD kinds write each constant run of their curve as a fill;
    the values are the element-by-element path's (forced here by passing no runs), bit for
    bit, through the warmup, the decay and what follows it."""
    context = EvalContext(6000, np.array([0.1, 0.03]))
    with_runs = resolve_spec(spec).evaluate(context).lr
    for module in (timm_step, timm_wsd):
        whole = module.timm_curve
        monkeypatch.setattr(module, "timm_curve", functools.partial(_without_runs, whole))
    array = resolve_spec(spec).evaluate(context).lr
    np.testing.assert_array_equal(with_runs, array)


def _without_runs(whole: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    kwargs.pop("runs", None)
    return whole(*args, **kwargs)
