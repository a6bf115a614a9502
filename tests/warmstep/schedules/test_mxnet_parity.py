"""MXNet 1.9.1 lr_scheduler kinds against values computed by MXNet's own lr_scheduler.py.

The table is tests/fixtures/schedules/mxnet.json, written by scripts/fixtures/gen_mxnet.py
(value i = sched(i + 1), a fresh scheduler called with n = 1, 2, … in order). Every value must
be bit for bit (the design asks for 1e-12 relative at least), powers and cosines included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, find_kind, resolve_spec

FIXTURE = Path(__file__).parents[2] / "fixtures/schedules/mxnet.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["cases"]
VALUE_CASES = [c for c in CASES if "expected" in c]
ERROR_CASES = [c for c in CASES if "error" in c]
BASE_LRS = np.array([1.0, 0.25, 7.0])  # absolute kinds: groups only fix the row count


def evaluate(spec: dict[str, Any], steps: int) -> np.ndarray:
    return resolve_spec(spec).evaluate(EvalContext(steps, BASE_LRS)).lr


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c["name"] for c in VALUE_CASES])
def test_values_match_mxnet(case: dict[str, Any]) -> None:
    lr = evaluate(case["spec"], case["steps"])
    assert lr.shape == (BASE_LRS.size, case["steps"])
    kept = lr if case["indices"] is None else lr[:, case["indices"]]
    expected = np.broadcast_to(np.asarray(case["expected"], dtype=np.float64), kept.shape)
    np.testing.assert_array_equal(kept, expected)  # bit for bit


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_errors_match_mxnet(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        evaluate(case["spec"], case["steps"])
    assert raised.value.field == f"schedule.{case['field']}"


def test_zero_span_raises_only_once_reached() -> None:
    spec = {"type": "CosineScheduler", "max_update": 4, "warmup_steps": 4, "base_lr": 0.1}
    # n = 1, 2, 3 are warmup; MXNet divides by zero at n = 4, i.e. value index 3.
    np.testing.assert_allclose(evaluate(spec, 3)[0], [0.025, 0.05, 0.075], rtol=1e-15)
    with pytest.raises(InvalidArgument):
        evaluate(spec, 4)


def test_kinds_take_absolute_lrs() -> None:
    for name in ("FactorScheduler", "MultiFactorScheduler", "PolyScheduler", "CosineScheduler"):
        assert find_kind(name, "mxnet", "schedule").needs_base_lr is False


def test_factor_ten_million_steps_vectorised() -> None:
    spec = {"type": "FactorScheduler", "step": 1, "factor": 0.999999, "base_lr": 0.5}
    lr = evaluate(spec, 10_000_000)[0]
    # value i = sched(i + 1): i decays with step=1, each a product rounded in turn.
    assert lr[0] == 0.5 and lr[1] == 0.5 * 0.999999 and lr[2] == 0.5 * 0.999999 * 0.999999
    assert lr[-1] == pytest.approx(0.5 * 0.999999**9_999_999, rel=1e-6)
