"""Step-shaped fvcore kinds (constant, step, multi-step) written as fills: the same values as
``at`` over every step, and as fvcore itself gives them.

:func:`_filled_curve` finds where the index changes in compiled code: from the start of each
piece it looks 1, 2, 4, ... steps on until the index differs, then bisects; these cases put
changes on the second step and on the last, at and around powers of two from a piece's start,
several close together, a piece of one step, one step jumping two milestones, past the 64
pieces it takes, and fvcore's epsilon moving a boundary.
fvcore is installed by ``make install-test`` (for the engine benchmark's references); the
comparisons with the elementwise path run without it.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules.adapters._param_scheduler import (
    ParamSchedulerParams,
    _filled_curve,
)

BASE_LRS = np.array([1.0, 0.3])

CASES: list[tuple[str, dict[str, Any], int]] = [
    ("constant", {"type": "ConstantParamScheduler", "value": 0.42, "max_iter": 5000}, 5000),
    (
        "step, changes on a look",
        {
            "type": "StepParamScheduler",
            "num_updates": 4,
            "values": [1, 0.1, 0.01, 1e-3],
            "max_iter": 2048,
        },
        2048,
    ),
    (
        "step, max_iter past 1e6 (the epsilon moves each boundary)",
        {
            "type": "StepParamScheduler",
            "num_updates": 3,
            "values": [0.5, 0.25, 0.125],
            "max_iter": 3_000_001,
        },
        2_999_990,  # (it raises from step 2,999,998: index 3)
    ),
    (
        "step, repeated values",
        {
            "type": "StepParamScheduler",
            "num_updates": 5,
            "values": [1, 1, 0.5, 1, 0.5],
            "max_iter": 7777,
        },
        7777,
    ),
    (
        "step with fixed gamma",
        {
            "type": "StepWithFixedGammaParamScheduler",
            "base_value": 0.1,
            "num_decays": 7,
            "gamma": 0.3,
            "num_updates": 100,
            "max_iter": 99_999,
        },
        99_999,
    ),
    (
        "multi-step, three changes within one stride",
        {
            "type": "MultiStepParamScheduler",
            "values": [1, 0.5, 0.25, 0.125],
            "milestones": [5, 6, 7],
            "num_updates": 1000,
            "max_iter": 2000,
        },
        2000,
    ),
    (
        "multi-step, changes around powers of two from a piece's start (255, 257, 512), and "
        "far apart",
        {
            "type": "MultiStepParamScheduler",
            "values": [6, 5, 4, 3, 2, 1],
            "milestones": [255, 257, 512, 769, 1900],
            "num_updates": 2000,
            "max_iter": 2000,
        },
        2000,
    ),
    (
        "multi-step, changes on the second step, after a piece of one step, and on the last",
        {
            "type": "MultiStepParamScheduler",
            "values": [4, 3, 2, 1, 0.5],
            "milestones": [1, 1025, 1026, 4999],
            "num_updates": 5000,
            "max_iter": 5000,
        },
        5000,
    ),
    (
        "multi-step, epochs longer than steps (one step jumps two milestones)",
        {
            "type": "MultiStepParamScheduler",
            "values": [1, 0.5, 0.25, 0.125],
            "milestones": [300, 301, 700],
            "num_updates": 1000,
            "max_iter": 1500,
        },
        1501,
    ),
    (
        "multi-step, milestones from num_updates",
        {
            "type": "MultiStepParamScheduler",
            "values": [0.3, 0.03, 0.003],
            "num_updates": 12345,
            "max_iter": 12345,
        },
        12346,
    ),
]


def _params(spec: dict[str, Any]) -> ParamSchedulerParams:
    params = resolve_spec(spec).params
    assert isinstance(params, ParamSchedulerParams)
    return params


def _elementwise(spec: dict[str, Any], steps: int) -> np.ndarray:
    params = _params(spec)
    assert params.max_iter is not None
    where = np.arange(steps, dtype=np.float64) / float(params.max_iter)
    return BASE_LRS[:, None] * params.at(where, "schedule")[None, :]


def _filled(spec: dict[str, Any], steps: int) -> np.ndarray:
    params = _params(spec)
    pieces = params.pieces()
    assert pieces is not None and params.max_iter is not None
    curve = _filled_curve(pieces, params.max_iter, EvalContext(steps, BASE_LRS))
    assert curve is not None, "the fill path declined a step-shaped curve"
    return curve.lr


@pytest.mark.parametrize(("name", "spec", "steps"), CASES, ids=[c[0] for c in CASES])
def test_fills_equal_the_elementwise_values(name: str, spec: dict[str, Any], steps: int) -> None:
    filled = _filled(spec, steps)
    np.testing.assert_array_equal(filled, _elementwise(spec, steps))
    evaluated = resolve_spec(spec).evaluate(EvalContext(steps, BASE_LRS)).lr
    np.testing.assert_array_equal(evaluated, filled)
    assert np.unique(filled[0]).size > 1 or spec["type"] == "ConstantParamScheduler"


@pytest.mark.parametrize(("name", "spec", "steps"), CASES, ids=[c[0] for c in CASES])
def test_fills_equal_fvcore(name: str, spec: dict[str, Any], steps: int) -> None:
    try:
        module = importlib.import_module("fvcore.common.param_scheduler")
    except ImportError:
        pytest.skip("fvcore is not importable here (make install-test installs it)")
    from scripts.fixtures.gen_fvcore import build

    scheduler = build(module, spec)
    max_iter = spec["max_iter"]
    kept = np.unique(np.r_[0 : min(steps, 3000), np.linspace(0, steps - 1, 20001).astype(int)])
    expected = [[b * scheduler(int(i) / max_iter) for i in kept] for b in BASE_LRS]
    filled = _filled(spec, steps)
    np.testing.assert_array_equal(filled[:, kept], np.asarray(expected))


def test_every_boundary_of_a_long_step_curve_equals_fvcore() -> None:
    """Steps around each change (where the epsilon decides) against fvcore, one by one."""
    module = pytest.importorskip("fvcore.common.param_scheduler")
    spec = {
        "type": "StepParamScheduler",
        "num_updates": 7,
        "values": [7, 6, 5, 4, 3, 2, 1],
        "max_iter": 7_000_003,
    }
    scheduler = module.StepParamScheduler(num_updates=7, values=[7, 6, 5, 4, 3, 2, 1])
    # (fvcore raises from step 6,999,996: its epsilon indexes past the list)
    lr = resolve_spec(spec).evaluate(EvalContext(6_999_990, np.ones(1))).lr[0]
    changes = np.flatnonzero(np.diff(lr)) + 1
    assert changes.size == 6
    for change in changes:
        for i in range(change - 3, change + 3):
            assert lr[i] == scheduler(i / 7_000_003), i


def test_many_pieces_go_through_every_step() -> None:
    values = [1.0 / (k + 1) for k in range(200)]
    spec = {"type": "StepParamScheduler", "num_updates": 1, "values": values, "max_iter": 4000}
    params = _params(spec)
    pieces = params.pieces()
    assert pieces is not None
    context = EvalContext(4000, BASE_LRS)
    assert _filled_curve(pieces, 4000, context) is None  # 200 pieces: declined
    np.testing.assert_array_equal(resolve_spec(spec).evaluate(context).lr, _elementwise(spec, 4000))


@pytest.mark.parametrize("steps", [1, 2, 100, 1023])
def test_short_curves_are_filled_too(steps: int) -> None:
    """A dashboard's short curve: the same compiled fills, the same values as every step's."""
    spec = {
        "type": "MultiStepParamScheduler",
        "values": [1, 0.5, 0.25],
        "milestones": [1, 50],
        "num_updates": 2000,
        "max_iter": 2000,
    }
    np.testing.assert_array_equal(_filled(spec, steps), _elementwise(spec, steps))


@pytest.mark.parametrize(
    ("spec", "first_bad"),
    [
        ({"type": "ConstantParamScheduler", "value": 0.5, "max_iter": 5000}, 5000),
        (
            {
                "type": "MultiStepParamScheduler",
                "values": [1, 0.1],
                "num_updates": 10,
                "max_iter": 3000,
            },
            3001,
        ),
        (
            {"type": "StepParamScheduler", "num_updates": 2, "values": [1, 0.1], "max_iter": 3000},
            3000,
        ),
    ],
)
@pytest.mark.parametrize("past", [1, 500], ids=["ending on it", "past it"])
def test_a_raising_step_is_named_on_long_curves(
    spec: dict[str, Any], first_bad: int, past: int
) -> None:
    params = _params(spec)
    pieces = params.pieces()
    assert pieces is not None and params.max_iter is not None
    context = EvalContext(first_bad + past, BASE_LRS)
    assert _filled_curve(pieces, params.max_iter, context) is None
    with pytest.raises(InvalidArgument, match=rf"step {first_bad} \(") as raised:
        resolve_spec(spec).evaluate(context)
    assert raised.value.field == "schedule.max_iter"
    # one step short of the first raising one: filled, and equal to every step's value
    np.testing.assert_array_equal(_filled(spec, first_bad), _elementwise(spec, first_bad))
