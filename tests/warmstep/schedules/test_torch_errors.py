"""torch's own errors (at construction or at the step where torch raises) become InvalidArgument
naming the field; one step fewer than torch's failing step still evaluates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.warmstep.schedules._torch_reference import ours, torch_curve
from warmstep.errors import InvalidArgument

ONE = (0.1,)

# (id, spec, steps at which torch fails (None: at construction), field, torch exception)
ERRORS: list[tuple[str, dict[str, Any], int | None, str, type[Exception]]] = [
    (
        "onecycle-past-end",
        {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10},
        12,
        "schedule.total_steps",
        ValueError,
    ),
    (
        "onecycle-pct1",
        {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 1.0},
        11,
        "schedule.pct_start",
        ZeroDivisionError,
    ),
    (
        "onecycle-pct-one-step",
        {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 0.1},
        None,
        "schedule.pct_start",
        ZeroDivisionError,
    ),
    (
        "onecycle-no-length",
        {"type": "OneCycleLR", "max_lr": 0.1},
        None,
        "schedule.total_steps",
        ValueError,
    ),
    (
        "onecycle-pct-range",
        {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10, "pct_start": 1.5},
        None,
        "schedule.pct_start",
        ValueError,
    ),
    (
        "constant-factor0",
        {"type": "ConstantLR", "factor": 0.0, "total_iters": 4},
        5,
        "schedule.factor",
        ZeroDivisionError,
    ),
    (
        "constant-factor-range",
        {"type": "ConstantLR", "factor": 1.5},
        None,
        "schedule.factor",
        ValueError,
    ),
    (
        "linear-start0",
        {"type": "LinearLR", "start_factor": 0.0},
        None,
        "schedule.start_factor",
        ValueError,
    ),
    (
        "cos-tmax0",
        {"type": "CosineAnnealingLR", "T_max": 0},
        2,
        "schedule.T_max",
        ZeroDivisionError,
    ),
    ("step-size0", {"type": "StepLR", "step_size": 0}, 2, "schedule.step_size", ZeroDivisionError),
    (
        "cawr-t0",
        {"type": "CosineAnnealingWarmRestarts", "T_0": 0},
        None,
        "schedule.T_0",
        ValueError,
    ),
    (
        "cyclic-groups",
        {"type": "CyclicLR", "base_lr": [0.1, 0.2], "max_lr": 1.0},
        None,
        "schedule.base_lr",
        ValueError,
    ),
    (
        "cyclic-mode",
        {"type": "CyclicLR", "base_lr": 0.1, "max_lr": 1.0, "mode": "sine"},
        None,
        "schedule.mode",
        ValueError,
    ),
    (
        "plateau-factor",
        {"type": "ReduceLROnPlateau", "factor": 1.0},
        None,
        "schedule.factor",
        ValueError,
    ),
    (
        "swalr-anneal",
        {"type": "SWALR", "swa_lr": 0.1, "anneal_epochs": -1},
        None,
        "schedule.anneal_epochs",
        ValueError,
    ),
    (
        "seq-milestones",
        {
            "type": "SequentialLR",
            "milestones": [1, 2],
            "schedulers": [{"type": "ExponentialLR", "gamma": 0.9}],
        },
        None,
        "schedule.milestones",
        ValueError,
    ),
    (
        "seq-plateau",
        {
            "type": "SequentialLR",
            "milestones": [2],
            "schedulers": [{"type": "ExponentialLR", "gamma": 0.9}, {"type": "ReduceLROnPlateau"}],
        },
        None,
        "schedule.schedulers[1]",
        ValueError,
    ),
    (
        "seq-chained-later",
        {
            "type": "SequentialLR",
            "milestones": [3],
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "ChainedScheduler", "schedulers": [{"type": "StepLR", "step_size": 2}]},
            ],
        },
        4,
        "schedule.schedulers[1]",
        NotImplementedError,
    ),
    (
        "seq-linear0-later",
        {
            "type": "SequentialLR",
            "milestones": [3],
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "LinearLR", "total_iters": 0},
            ],
        },
        4,
        "schedule.schedulers[1].total_iters",
        ZeroDivisionError,
    ),
    (
        "seq-cos-tmax0-later",
        {
            "type": "SequentialLR",
            "milestones": [2],
            "schedulers": [
                {"type": "ExponentialLR", "gamma": 0.9},
                {"type": "CosineAnnealingLR", "T_max": 0},
            ],
        },
        3,
        "schedule.schedulers[1].T_max",
        ZeroDivisionError,
    ),
]


@pytest.mark.parametrize(
    ("spec", "steps", "field", "torch_error"), [pytest.param(*c[1:], id=c[0]) for c in ERRORS]
)
def test_torch_errors(
    spec: dict[str, Any], steps: int | None, field: str, torch_error: type[Exception]
) -> None:
    base = ONE
    with pytest.raises(torch_error):
        torch_curve(spec, steps or 1, base)
    with pytest.raises(InvalidArgument) as caught:
        ours(spec, steps or 1, base)
    assert caught.value.field == field
    if steps is not None:
        expected, _ = torch_curve(spec, steps - 1, base)
        assert (ours(spec, steps - 1, base).lr == expected).all()


def test_plateau_needs_metrics() -> None:
    with pytest.raises(InvalidArgument) as caught:
        ours({"type": "ReduceLROnPlateau"}, 5, ONE, metrics=[1.0, 2.0])
    assert caught.value.field == "metrics"
    with pytest.raises(InvalidArgument):
        ours({"type": "ReduceLROnPlateau"}, 3, ONE)
    assert ours({"type": "ReduceLROnPlateau"}, 1, ONE).lr.tolist() == [[0.1]]


def test_non_torch_child_is_refused() -> None:
    child = {"type": "ConstantParamScheduler", "value": 1.0}
    with pytest.raises(InvalidArgument) as caught:
        ours({"type": "ChainedScheduler", "schedulers": [child]}, 3, ONE)
    assert caught.value.field == "schedule.schedulers[0].type"
