"""Parity with timm 1.0.31: tables of (spec, steps, values timm wrote), made by
``scripts/fixtures/gen_timm.py`` (its docstring has the command). timm computes in float64; the
engine agrees bit for bit (the design asks for 1e-12 relative at least): timm's ``**``,
``math.tanh`` and ``math.log`` are the C library's, which the engine calls too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec

TABLE = json.loads(
    (Path(__file__).parents[2] / "fixtures/schedules/timm.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = TABLE["cases"]


def evaluate(case: dict[str, Any]) -> np.ndarray:
    metrics = case.get("metrics")
    context = EvalContext(
        steps=case["steps"],
        base_lrs=np.asarray(case["base_lrs"], dtype=np.float64),
        metrics=None if metrics is None else np.asarray(metrics, dtype=np.float64),
    )
    lr = resolve_spec(case["spec"]).evaluate(context).lr
    assert lr.shape == (len(case["base_lrs"]), case["steps"])
    return lr if case["indices"] is None else np.asarray(lr[:, case["indices"]])


def test_table_is_timm_1_0_31() -> None:
    assert TABLE["version"] == "1.0.31"
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_timm(case: dict[str, Any]) -> None:
    np.testing.assert_array_equal(evaluate(case), np.asarray(case["expected"]))  # bit for bit


def test_warmup_and_constructor_value() -> None:
    spec = {"type": "CosineLRScheduler", "t_initial": 10, "warmup_t": 4, "warmup_lr_init": 0.01}
    lr = resolve_spec(spec).evaluate(EvalContext(5, np.array([0.1]))).lr[0]
    np.testing.assert_allclose(lr[:4], [0.01, 0.0325, 0.055, 0.0775], rtol=1e-15)


def test_multistep_decays_one_step_early() -> None:
    spec = {"type": "MultiStepLRScheduler", "decay_t": [5], "decay_rate": 0.5}
    lr = resolve_spec(spec).evaluate(EvalContext(6, np.array([0.1]))).lr[0]
    assert lr.tolist() == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {"type": "CosineLRScheduler", "t_initial": 10, "noise_range_t": 5},
            "schedule.noise_range_t",
        ),
        ({"type": "CosineLRScheduler", "t_initial": 0}, "schedule.t_initial"),
        ({"type": "PolyLRScheduler", "t_initial": 5, "lr_min": -1.0}, "schedule.lr_min"),
        ({"type": "TanhLRScheduler", "t_initial": 5, "lb": 3.0, "ub": 1.0}, "schedule"),
        ({"type": "StepLRScheduler", "decay_t": 0}, "schedule.decay_t"),
        ({"type": "MultiStepLRScheduler", "decay_t": [5, 3]}, "schedule.decay_t"),
        ({"type": "WSDLRScheduler", "t_initial": 10, "decay_t": 11}, "schedule"),
        (
            {"type": "WSDLRScheduler", "t_initial": 10, "decay_t": 5, "stable_fn": "rsqrt"},
            "schedule",
        ),
        ({"type": "PlateauLRScheduler", "decay_rate": 1.0}, "schedule.decay_rate"),
        (
            {"type": "CosineLRScheduler", "t_initial": 10, "warmup_steps": 5},
            "schedule.warmup_steps",
        ),
    ],
)
def test_refuses_what_timm_refuses(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_spec(spec)
    assert info.value.field is not None and info.value.field.startswith(field)


def test_shrinking_cycles_run_out_like_timm() -> None:
    spec = {"type": "CosineLRScheduler", "t_initial": 10, "cycle_mul": 0.5, "cycle_limit": 9}
    schedule = resolve_spec(spec)
    assert schedule.evaluate(EvalContext(19, np.array([0.1]))).lr.shape == (1, 19)
    with pytest.raises(InvalidArgument, match="math domain error") as info:
        schedule.evaluate(EvalContext(21, np.array([0.1])))
    assert info.value.field == "schedule.cycle_mul"


def test_plateau_needs_metrics() -> None:
    schedule = resolve_spec({"type": "PlateauLRScheduler"})
    with pytest.raises(InvalidArgument) as info:
        schedule.evaluate(EvalContext(5, np.array([0.1]), metrics=np.zeros(3)))
    assert info.value.field == "metrics"
    lr = schedule.evaluate(EvalContext(5, np.array([0.1]), metrics=np.zeros(4))).lr
    assert lr.tolist() == [[0.1] * 5]
