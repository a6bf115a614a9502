"""Parity with keras 3.15.1 (torch backend): tables of (spec, steps, values keras's optimizer
read), made by ``scripts/fixtures/gen_keras.py`` (its docstring has the command). keras computes
in float32; every value must be the same float32, bit for bit, except in schedules that take a
cosine: the engine's float32 cos is correctly rounded and torch's CPU cos (SLEEF, within 1 ulp)
is not, so those may differ by one ulp of cos, i.e. 2**-24 of the curve's scale (1-5% of their
values do; every other value is exact)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec

TABLE = json.loads(
    (Path(__file__).parents[2] / "fixtures/schedules/keras.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = TABLE["cases"]


def evaluate(case: dict[str, Any]) -> np.ndarray:
    context = EvalContext(steps=case["steps"], base_lrs=np.asarray(case["base_lrs"]))
    lr = resolve_spec(case["spec"]).evaluate(context).lr
    assert lr.shape == (len(case["base_lrs"]), case["steps"])
    return lr if case["indices"] is None else np.asarray(lr[:, case["indices"]])


def test_table_is_keras_3_15_1() -> None:
    assert TABLE["version"] == "3.15.1"
    assert len(CASES) >= 20


def float32_ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 ulps (the ordered integer views of positive floats differ by it)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    distance: np.ndarray = np.abs(ia - ib)
    return distance


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_keras_in_float32(case: dict[str, Any]) -> None:
    lr = evaluate(case)
    assert np.array_equal(lr, lr.astype(np.float32).astype(np.float64), equal_nan=True)
    expected = np.asarray(case["expected"], dtype=np.float64)
    if "cos" not in json.dumps(case["spec"]).lower():
        assert float32_ulps(lr, expected).max() == 0
        return
    # one ulp of cos(x) (|cos| <= 1) moves the value by at most 2**-24 of its scale
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(lr, expected, rtol=2.0**-23, atol=2.0**-23 * scale)


def test_most_values_are_bit_for_bit() -> None:
    exact = total = 0
    for case in CASES:
        lr, expected = evaluate(case), np.asarray(case["expected"], dtype=np.float64)
        exact += int(np.sum(lr == expected))
        total += expected.size
    assert exact >= 0.98 * total


def test_every_group_gets_the_absolute_curve() -> None:
    spec = {
        "type": "ExponentialDecay",
        "initial_learning_rate": 0.1,
        "decay_steps": 10,
        "decay_rate": 0.5,
    }
    lr = resolve_spec(spec).evaluate(EvalContext(11, np.array([3.0, 7.0]))).lr
    assert lr[0, 0] == lr[1, 0] == 0.10000000149011612
    assert lr[0, 10] == lr[1, 10] == 0.05000000074505806


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {
                "type": "ExponentialDecay",
                "initial_learning_rate": 0.1,
                "decay_steps": 0,
                "decay_rate": 0.5,
            },
            "schedule.decay_steps",
        ),
        (
            {"type": "CosineDecayRestarts", "initial_learning_rate": 0.1, "first_decay_steps": -1},
            "schedule.first_decay_steps",
        ),
        (
            {"type": "PiecewiseConstantDecay", "boundaries": [1, 2], "values": [0.1, 0.2]},
            "schedule",
        ),
        ({"type": "PiecewiseConstantDecay", "boundaries": [], "values": [0.1]}, "schedule"),
        (
            {"type": "CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 5, "beta": 1},
            "schedule.beta",
        ),
    ],
)
def test_refuses_what_keras_refuses(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_spec(spec)
    assert info.value.field == field
