"""Parity for the kinds that take expressions (LambdaLR, MultiplicativeLR, CyclicLR scale_fn) and
for ReduceLROnPlateau's metric-driven loop."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.warmstep.schedules._torch_reference import ours, torch_curve
from warmstep.errors import InvalidArgument

TWO = (0.1, 0.03)

FUNCTION_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("lambda", {"type": "LambdaLR", "lr_lambda": "0.95 ** step"}, 50),
    ("lambda-warmup", {"type": "LambdaLR", "lr_lambda": "step / 10 if step < 10 else 1.0"}, 20),
    ("lambda-groups", {"type": "LambdaLR", "lr_lambda": ["1.0", "1 / (step + 1)"]}, 10),
    ("multiplicative", {"type": "MultiplicativeLR", "lr_lambda": "0.9"}, 30),
    (
        "seq-multiplicative",
        {
            "type": "SequentialLR",
            "milestones": [3],
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.5},
                {"type": "MultiplicativeLR", "lr_lambda": "0.5 if step == 0 else 0.9"},
            ],
        },
        10,
    ),
    (
        "chain-lambda-exp",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "LambdaLR", "lr_lambda": "1 / (step + 1)"},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        12,
    ),
    (
        "cyclic-scale-fn",
        {
            "type": "CyclicLR",
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 3,
            "scale_fn": "1 / (2.0 ** (x - 1))",
        },
        30,
    ),
    (
        "cyclic-scale-iter",
        {
            "type": "CyclicLR",
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 3,
            "scale_fn": "0.99 ** x",
            "scale_mode": "iterations",
        },
        30,
    ),
]


@pytest.mark.parametrize(("spec", "steps"), [pytest.param(*c[1:], id=c[0]) for c in FUNCTION_CASES])
def test_functions_match_torch(spec: dict[str, Any], steps: int) -> None:
    expected, expected_momentum = torch_curve(spec, steps, TWO)
    curve = ours(spec, steps, TWO)
    np.testing.assert_array_equal(curve.lr, expected)
    if curve.momentum is not None:
        np.testing.assert_array_equal(curve.momentum, expected_momentum)


def test_lambda_list_must_match_groups() -> None:
    with pytest.raises(InvalidArgument) as caught:
        ours({"type": "LambdaLR", "lr_lambda": ["1.0"]}, 3, TWO)
    assert caught.value.field == "schedule.lr_lambda"


RNG = np.random.default_rng(7)
NOISY = (1.0 / np.arange(1, 80) + RNG.normal(0, 0.02, 79)).tolist()
PLATEAU_CASES: list[tuple[str, dict[str, Any], list[float]]] = [
    ("defaults", {"type": "ReduceLROnPlateau"}, NOISY),
    ("patience0-cooldown", {"type": "ReduceLROnPlateau", "patience": 0, "cooldown": 3}, [1.0] * 30),
    (
        "max-abs",
        {
            "type": "ReduceLROnPlateau",
            "mode": "max",
            "threshold_mode": "abs",
            "threshold": 0.01,
            "patience": 2,
            "factor": 0.5,
        },
        NOISY,
    ),
    (
        "min-lr-groups",
        {"type": "ReduceLROnPlateau", "patience": 1, "min_lr": [0.001, 0.02]},
        [1.0] * 40,
    ),
    ("negative-rel", {"type": "ReduceLROnPlateau", "patience": 1}, (-np.asarray(NOISY)).tolist()),
    ("eps", {"type": "ReduceLROnPlateau", "patience": 0, "eps": 0.01}, [1.0] * 10),
]


@pytest.mark.parametrize(
    ("spec", "metrics"), [pytest.param(*c[1:], id=c[0]) for c in PLATEAU_CASES]
)
def test_plateau_matches_torch(spec: dict[str, Any], metrics: list[float]) -> None:
    steps = len(metrics) + 1
    expected, _ = torch_curve(spec, steps, TWO, metrics=metrics)
    np.testing.assert_array_equal(ours(spec, steps, TWO, metrics=metrics).lr, expected)
