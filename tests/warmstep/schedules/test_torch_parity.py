"""Parity with torch 2.13: each case steps the real scheduler and compares every value.

Every case must agree to 1e-12 relative; cases marked ``exact`` must agree bit for bit (all but
the cosine-with-eta_min recursions, which the engine evaluates as an affine scan).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.warmstep.schedules._torch_reference import max_relative_error, ours, torch_curve

ONE = (0.1,)
TWO = (0.1, 0.03)

# (id, spec, steps, base_lrs, bit-exact expected)
Case = tuple[str, dict[str, Any], int, tuple[float, ...], bool]

SIMPLE: list[Case] = [
    ("step", {"type": "StepLR", "step_size": 3}, 20, ONE, True),
    ("step-gamma1", {"type": "StepLR", "step_size": 2, "gamma": 1.0}, 10, TWO, True),
    ("step-size1", {"type": "StepLR", "step_size": 1, "gamma": 0.9}, 300, TWO, True),
    ("multistep", {"type": "MultiStepLR", "milestones": [3, 7]}, 12, TWO, True),
    (
        "multistep-unsorted-repeat",
        {"type": "MultiStepLR", "milestones": [7, 3, 3], "gamma": 0.5},
        12,
        ONE,
        True,
    ),
    ("multistep-zero", {"type": "MultiStepLR", "milestones": [0, 4]}, 8, ONE, True),
    ("constant", {"type": "ConstantLR"}, 10, TWO, True),
    ("constant-0iters", {"type": "ConstantLR", "factor": 0.5, "total_iters": 0}, 6, ONE, True),
    (
        "constant-factor0-short",
        {"type": "ConstantLR", "factor": 0.0, "total_iters": 4},
        4,
        ONE,
        True,
    ),
    ("linear", {"type": "LinearLR"}, 10, TWO, True),
    (
        "linear-down",
        {"type": "LinearLR", "start_factor": 1.0, "end_factor": 0.0, "total_iters": 37},
        50,
        ONE,
        True,
    ),
    ("linear-0iters", {"type": "LinearLR", "start_factor": 0.25, "total_iters": 0}, 5, ONE, True),
    ("exponential", {"type": "ExponentialLR", "gamma": 0.97}, 2000, TWO, True),
    ("exponential-grow", {"type": "ExponentialLR", "gamma": 1.01}, 100, ONE, True),
    ("exponential-100k", {"type": "ExponentialLR", "gamma": 0.99995}, 100_000, ONE, True),
    ("poly", {"type": "PolynomialLR"}, 10, ONE, True),
    ("poly-power", {"type": "PolynomialLR", "total_iters": 97, "power": 2.5}, 120, TWO, True),
    ("poly-0iters", {"type": "PolynomialLR", "total_iters": 0}, 4, ONE, True),
    ("cos", {"type": "CosineAnnealingLR", "T_max": 50}, 51, TWO, True),
    ("cos-past-end", {"type": "CosineAnnealingLR", "T_max": 7}, 60, ONE, True),
    ("cos-tmax1", {"type": "CosineAnnealingLR", "T_max": 1}, 9, ONE, True),
    ("cos-100k", {"type": "CosineAnnealingLR", "T_max": 100_000}, 100_000, ONE, True),
    ("cos-eta-short", {"type": "CosineAnnealingLR", "T_max": 10, "eta_min": 0.001}, 30, TWO, True),
    ("cos-eta", {"type": "CosineAnnealingLR", "T_max": 1000, "eta_min": 0.001}, 2500, TWO, True),
    (
        "cos-eta-100k",
        {"type": "CosineAnnealingLR", "T_max": 100_000, "eta_min": 1e-3},
        100_000,
        ONE,
        True,
    ),
    ("cos-eta-above", {"type": "CosineAnnealingLR", "T_max": 300, "eta_min": 0.2}, 700, ONE, True),
    ("cawr", {"type": "CosineAnnealingWarmRestarts", "T_0": 5}, 30, TWO, True),
    (
        "cawr-mult",
        {"type": "CosineAnnealingWarmRestarts", "T_0": 3, "T_mult": 2, "eta_min": 0.001},
        100,
        TWO,
        True,
    ),
    ("swalr-cos", {"type": "SWALR", "swa_lr": 0.05}, 20, TWO, True),
    (
        "swalr-linear",
        {"type": "SWALR", "swa_lr": [0.5, 0.01], "anneal_epochs": 4, "anneal_strategy": "linear"},
        10,
        TWO,
        True,
    ),
    ("swalr-0", {"type": "SWALR", "swa_lr": 0.05, "anneal_epochs": 0}, 5, ONE, True),
    ("swalr-long", {"type": "SWALR", "swa_lr": 0.02, "anneal_epochs": 1000}, 1200, ONE, True),
]

CYCLIC: list[Case] = [
    (
        "cyclic",
        {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4},
        30,
        TWO,
        True,
    ),
    (
        "cyclic-asym",
        {
            "type": "CyclicLR",
            "base_lr": [0.01, 0.02],
            "max_lr": [0.1, 0.3],
            "step_size_up": 3,
            "step_size_down": 7,
            "base_momentum": [0.8, 0.7],
        },
        45,
        TWO,
        True,
    ),
    (
        "cyclic-tri2",
        {
            "type": "CyclicLR",
            "base_lr": 0.001,
            "max_lr": 0.1,
            "step_size_up": 5,
            "mode": "triangular2",
        },
        80,
        ONE,
        True,
    ),
    (
        "cyclic-exp",
        {
            "type": "CyclicLR",
            "base_lr": 0.001,
            "max_lr": 0.1,
            "step_size_up": 6,
            "mode": "exp_range",
            "gamma": 0.99,
        },
        200,
        ONE,
        True,
    ),
    (
        "cyclic-nomom",
        {
            "type": "CyclicLR",
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 2,
            "cycle_momentum": False,
        },
        9,
        ONE,
        True,
    ),
    ("onecycle", {"type": "OneCycleLR", "max_lr": 1.0, "total_steps": 100}, 101, ONE, True),
    (
        "onecycle-groups",
        {"type": "OneCycleLR", "max_lr": [0.5, 0.05], "total_steps": 40, "pct_start": 0.25},
        41,
        TWO,
        True,
    ),
    (
        "onecycle-linear",
        {
            "type": "OneCycleLR",
            "max_lr": 0.2,
            "epochs": 3,
            "steps_per_epoch": 7,
            "anneal_strategy": "linear",
            "div_factor": 10.0,
        },
        21,
        ONE,
        True,
    ),
    (
        "onecycle-3phase",
        {"type": "OneCycleLR", "max_lr": 0.3, "total_steps": 50, "three_phase": True},
        51,
        TWO,
        True,
    ),
    (
        "onecycle-nomom",
        {"type": "OneCycleLR", "max_lr": 0.3, "total_steps": 20, "cycle_momentum": False},
        21,
        ONE,
        True,
    ),
    (
        "onecycle-pct1",
        {"type": "OneCycleLR", "max_lr": 0.3, "total_steps": 20, "pct_start": 1.0},
        20,
        ONE,
        True,
    ),
]

LINEAR_WARMUP = {"type": "LinearLR", "start_factor": 0.01, "total_iters": 5}
COMPOSITE: list[Case] = [
    (
        "seq-warmup-cos",
        {
            "type": "SequentialLR",
            "milestones": [5],
            "schedulers": [LINEAR_WARMUP, {"type": "CosineAnnealingLR", "T_max": 20}],
        },
        30,
        TWO,
        True,
    ),
    (
        "seq-warmup-cos-eta",
        {
            "type": "SequentialLR",
            "milestones": [5],
            "schedulers": [
                LINEAR_WARMUP,
                {"type": "CosineAnnealingLR", "T_max": 20, "eta_min": 0.001},
            ],
        },
        30,
        TWO,
        True,
    ),
    (
        "seq-three",
        {
            "type": "SequentialLR",
            "milestones": [3, 8],
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.5, "total_iters": 10},
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "StepLR", "step_size": 2, "gamma": 0.5},
            ],
        },
        20,
        ONE,
        True,
    ),
    (
        "seq-milestone0",
        {
            "type": "SequentialLR",
            "milestones": [0],
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.5},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        10,
        ONE,
        True,
    ),
    (
        "seq-repeated",
        {
            "type": "SequentialLR",
            "milestones": [4, 4],
            "schedulers": [
                LINEAR_WARMUP,
                {"type": "ExponentialLR", "gamma": 0.5},
                {"type": "MultiStepLR", "milestones": [0, 2]},
            ],
        },
        10,
        ONE,
        True,
    ),
    (
        "seq-unsorted",
        {
            "type": "SequentialLR",
            "milestones": [6, 2],
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "StepLR", "step_size": 2},
                {"type": "PolynomialLR", "total_iters": 4},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "seq-onecycle-first",
        {
            "type": "SequentialLR",
            "milestones": [10],
            "schedulers": [
                {"type": "OneCycleLR", "max_lr": 0.5, "total_steps": 10},
                {"type": "ConstantLR", "factor": 0.1, "total_iters": 3},
            ],
        },
        16,
        TWO,
        True,
    ),
    (
        "seq-cyclic-second",
        {
            "type": "SequentialLR",
            "milestones": [3],
            "schedulers": [
                {"type": "LinearLR", "total_iters": 3},
                {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.2, "step_size_up": 2},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "seq-cawr",
        {
            "type": "SequentialLR",
            "milestones": [4],
            "schedulers": [LINEAR_WARMUP, {"type": "CosineAnnealingWarmRestarts", "T_0": 3}],
        },
        15,
        TWO,
        True,
    ),
    (
        "seq-chained-first",
        {
            "type": "SequentialLR",
            "milestones": [6],
            "schedulers": [
                {
                    "type": "ChainedScheduler",
                    "schedulers": [
                        {"type": "ConstantLR", "factor": 0.5, "total_iters": 3},
                        {"type": "ExponentialLR", "gamma": 0.9},
                    ],
                },
                {"type": "StepLR", "step_size": 2},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "seq-nested-seq",
        {
            "type": "SequentialLR",
            "milestones": [5],
            "schedulers": [
                {
                    "type": "SequentialLR",
                    "milestones": [2],
                    "schedulers": [
                        {"type": "ConstantLR", "factor": 0.5, "total_iters": 1},
                        {"type": "ExponentialLR", "gamma": 0.8},
                    ],
                },
                {"type": "StepLR", "step_size": 2},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "chain-constant-exp",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.1, "total_iters": 2},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        10,
        TWO,
        True,
    ),
    (
        "chain-linear-cos",
        {
            "type": "ChainedScheduler",
            "schedulers": [LINEAR_WARMUP, {"type": "CosineAnnealingLR", "T_max": 12}],
        },
        40,
        TWO,
        True,
    ),
    (
        "chain-step-multistep",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "StepLR", "step_size": 3, "gamma": 0.9},
                {"type": "MultiStepLR", "milestones": [0, 5, 5], "gamma": 0.5},
            ],
        },
        15,
        ONE,
        True,
    ),
    (
        "chain-overwrite-last",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "CosineAnnealingWarmRestarts", "T_0": 4},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "chain-cawr-then-exp",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "CosineAnnealingWarmRestarts", "T_0": 4},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        12,
        TWO,
        True,
    ),
    (
        "chain-swa",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.95},
                {"type": "SWALR", "swa_lr": 0.01, "anneal_epochs": 5},
            ],
        },
        12,
        ONE,
        True,
    ),
    (
        "chain-cos-eta",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "CosineAnnealingLR", "T_max": 30, "eta_min": 0.01},
                {"type": "ExponentialLR", "gamma": 0.99},
            ],
        },
        400,
        ONE,
        True,
    ),
    (
        "chain-in-chain",
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {
                    "type": "ChainedScheduler",
                    "schedulers": [{"type": "StepLR", "step_size": 2, "gamma": 0.5}, LINEAR_WARMUP],
                },
                {"type": "ExponentialLR", "gamma": 0.99},
            ],
        },
        12,
        ONE,
        True,
    ),
]

CASES = SIMPLE + CYCLIC + COMPOSITE


@pytest.mark.parametrize(
    ("spec", "steps", "lrs", "exact"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_matches_torch(
    spec: dict[str, Any], steps: int, lrs: tuple[float, ...], exact: bool
) -> None:
    expected, expected_momentum = torch_curve(spec, steps, lrs)
    curve = ours(spec, steps, lrs)
    assert curve.lr.shape == (len(lrs), steps)
    assert max_relative_error(curve.lr, expected) <= 1e-12
    if exact:
        np.testing.assert_array_equal(curve.lr, expected)
    if curve.momentum is not None:
        np.testing.assert_array_equal(curve.momentum, expected_momentum)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "OneCycleLR", "max_lr": [0.4, 0.04], "total_steps": 30, "base_momentum": 0.8},
        {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3},
    ],
    ids=["onecycle", "cyclic"],
)
def test_momentum_is_adam_beta1(spec: dict[str, Any]) -> None:
    _, betas = torch_curve(spec, 31, TWO, optimizer="adam")
    _, sgd = torch_curve(spec, 31, TWO)
    curve = ours(spec, 31, TWO)
    assert curve.momentum is not None
    np.testing.assert_array_equal(curve.momentum, betas)
    np.testing.assert_array_equal(curve.momentum, sgd)


def test_momentum_is_none_without_cycling() -> None:
    assert ours({"type": "StepLR", "step_size": 2}, 5, ONE).momentum is None
