"""fvcore ParamSchedulers against values computed by fvcore 0.1.5.post20221221 itself.

The table is tests/fixtures/schedules/fvcore.json, written by scripts/fixtures/gen_fvcore.py
(value i = base_lr * scheduler(i / max_iter), detectron2's LRMultiplier). Every value must be
bit for bit, the cases with cos and pow too (the design asks for 1e-12 relative at least).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec

FIXTURE = Path(__file__).parents[2] / "fixtures/schedules/fvcore.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["cases"]
VALUE_CASES = [c for c in CASES if "expected" in c]
ERROR_CASES = [c for c in CASES if "error" in c]
# Pure arithmetic (no cos, no pow): IEEE fixes every operation, so equality is exact anywhere.


def evaluate(spec: dict[str, Any], steps: int, base_lrs: list[float]) -> np.ndarray:
    context = EvalContext(steps, np.asarray(base_lrs, dtype=np.float64))
    return resolve_spec(spec).evaluate(context).lr


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c["name"] for c in VALUE_CASES])
def test_values_match_fvcore(case: dict[str, Any]) -> None:
    lr = evaluate(case["spec"], case["steps"], case["base_lrs"])
    assert lr.shape == (len(case["base_lrs"]), case["steps"])
    kept = lr if case["indices"] is None else lr[:, case["indices"]]
    expected = np.asarray(case["expected"], dtype=np.float64)
    np.testing.assert_array_equal(kept, expected)  # bit for bit, cos and pow included


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_errors_match_fvcore(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        evaluate(case["spec"], case["steps"], case["base_lrs"])
    assert raised.value.field == f"schedule.{case['field']}"


def test_error_names_the_first_raising_step() -> None:
    spec = {"type": "ConstantParamScheduler", "value": 0.5, "max_iter": 10}
    with pytest.raises(InvalidArgument, match=r"step 10 \(where = 10/10\)"):
        evaluate(spec, 12, [1.0])


def test_max_iter_is_required_at_the_top() -> None:
    spec = {"type": "CosineParamScheduler", "start_value": 1.0, "end_value": 0.0}
    resolved = resolve_spec(spec)  # valid as a child; only evaluation needs max_iter
    with pytest.raises(InvalidArgument) as raised:
        resolved.evaluate(EvalContext(3, np.ones(1)))
    assert raised.value.field == "schedule.max_iter"


def test_children_take_no_max_iter() -> None:
    child = {"type": "ConstantParamScheduler", "value": 1.0, "max_iter": 5}
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [child],
        "lengths": [1.0],
        "interval_scaling": ["rescaled"],
        "max_iter": 5,
    }
    with pytest.raises(InvalidArgument) as raised:
        resolve_spec(spec)
    assert raised.value.field == "schedule.schedulers"


def test_children_must_be_param_schedulers() -> None:
    child = {"type": "WarmupCosineLR", "max_iters": 10}
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [child],
        "lengths": [1.0],
        "interval_scaling": ["fixed"],
        "max_iter": 5,
    }
    with pytest.raises(InvalidArgument, match="fvcore ParamSchedulers"):
        resolve_spec(spec)


def test_child_error_reports_the_outer_max_iter() -> None:
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [
            {"type": "LinearParamScheduler", "start_value": 0.0, "end_value": 1.0},
            {"type": "StepParamScheduler", "num_updates": 2, "values": [1.0, 0.5]},
        ],
        "lengths": [0.5, 0.5],
        "interval_scaling": ["rescaled", "fixed"],
        "max_iter": 4,
    }
    np.testing.assert_array_equal(evaluate(spec, 4, [2.0])[0], [0.0, 1.0, 1.0, 1.0])
    with pytest.raises(InvalidArgument, match="step 4") as raised:
        evaluate(spec, 5, [2.0])
    assert raised.value.field == "schedule.max_iter"


def test_two_million_steps_in_one_vectorised_pass() -> None:
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [
            {"type": "LinearParamScheduler", "start_value": 0.0, "end_value": 1.0},
            {"type": "CosineParamScheduler", "start_value": 1.0, "end_value": 0.0},
        ],
        "lengths": [0.01, 0.99],
        "interval_scaling": ["rescaled", "rescaled"],
        "max_iter": 2_000_000,
    }
    lr = evaluate(spec, 2_000_000, [0.1])
    assert lr[0, 0] == 0.0
    assert lr[0, 20_000] == pytest.approx(0.1, rel=1e-9)
    assert np.all(np.diff(lr[0, 20_001:]) <= 0)
