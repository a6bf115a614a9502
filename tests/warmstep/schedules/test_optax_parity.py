"""Parity with optax 0.2.8 (jax 0.10.2): tables of (spec, steps, values optax
read), made by ``scripts/fixtures/gen_optax.py`` (its docstring has the command). optax computes
in float32; every value must be the same float32, bit for bit, except in schedules that take a
cosine: the engine's float32 cos is correctly rounded and XLA's CPU cos (within 1 ulp) is not, so
those may differ by one ulp of cos, i.e. 2**-24 of the curve's scale (1-5% of their values
do; every other value is exact)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec

TABLE = json.loads(
    (Path(__file__).parents[2] / "fixtures/schedules/optax.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = TABLE["cases"]


def evaluate(case: dict[str, Any]) -> np.ndarray:
    context = EvalContext(steps=case["steps"], base_lrs=np.asarray(case["base_lrs"]))
    lr = resolve_spec(case["spec"]).evaluate(context).lr
    assert lr.shape == (len(case["base_lrs"]), case["steps"])
    return lr if case["indices"] is None else np.asarray(lr[:, case["indices"]])


def test_table_is_optax_0_2_8() -> None:
    assert TABLE["version"] == "0.2.8"
    assert len(CASES) >= 20


def float32_ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 ulps (the ordered integer views of positive floats differ by it)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    distance: np.ndarray = np.abs(ia - ib)
    return distance


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_optax_in_float32(case: dict[str, Any]) -> None:
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


def test_int_and_float_powers_differ_as_in_jax() -> None:
    def curve(power: float) -> np.ndarray:
        spec = {
            "type": "polynomial_schedule",
            "init_value": 0.7,
            "end_value": 0.01,
            "power": power,
            "transition_steps": 33,
        }
        return np.asarray(resolve_spec(spec).evaluate(EvalContext(33, np.ones(1))).lr[0])

    spec = {
        "type": "polynomial_schedule",
        "init_value": 1.0,
        "end_value": 0.0,
        "power": 3,
        "transition_steps": 3,
    }
    assert isinstance(resolve_spec(spec).params.model_dump()["power"], int)
    assert np.max(np.abs(curve(3) - curve(3.0)) / curve(3.0)) < 1e-6


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {"type": "cosine_decay_schedule", "init_value": 0.1, "decay_steps": 0},
            "schedule.decay_steps",
        ),
        (
            {
                "type": "warmup_cosine_decay_schedule",
                "init_value": 0.0,
                "peak_value": 0.1,
                "warmup_steps": 10,
                "decay_steps": 10,
            },
            "schedule",
        ),
        (
            {
                "type": "piecewise_constant_schedule",
                "init_value": 0.1,
                "boundaries_and_scales": {"3": -0.5},
            },
            "schedule.boundaries_and_scales",
        ),
        (
            {"type": "linear_onecycle_schedule", "transition_steps": 0, "peak_value": 0.1},
            "schedule.transition_steps",
        ),
        (
            {
                "type": "join_schedules",
                "boundaries": [3],
                "schedules": [
                    {"type": "constant_schedule", "value": 0.1},
                    {"type": "CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 5},
                ],
            },
            "schedule",
        ),
        (
            {
                "type": "join_schedules",
                "boundaries": [3],
                "schedules": [
                    {"type": "constant_schedule", "value": 0.1},
                    {"type": "cosine_decay_schedule", "init_value": 0.1, "decay_steps": -5},
                ],
            },
            "schedule.schedules[1].decay_steps",
        ),
    ],
)
def test_refuses_what_optax_refuses(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_spec(spec)
    assert info.value.field == field


def test_join_boundary_past_the_end_and_groups() -> None:
    spec = {
        "type": "join_schedules",
        "boundaries": [50],
        "schedules": [
            {"type": "constant_schedule", "value": 0.1},
            {"type": "constant_schedule", "value": 0.2},
        ],
    }
    lr = resolve_spec(spec).evaluate(EvalContext(10, np.array([1.0, 2.0]))).lr
    assert lr.shape == (2, 10) and np.all(lr == np.float64(np.float32(0.1)))
