"""fairseq 0.12.2 ``inverse_sqrt`` / ``tri_stage`` against values computed by fairseq's own
scheduler files (tests/fixtures/schedules/fairseq.json, written by scripts/fixtures/gen_fairseq.py;
value i = ``step_update(i)``). Every value must be within 1e-12 relative; the powers and
exponentials are rounded as Python's, so every case is also bit-for-bit equal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, find_kind, resolve_spec
from warmstep.schedules._libm import exp_like_python
from warmstep.schedules.adapters.fairseq import rsqrt_like_python

FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures/schedules/fairseq.json").read_text())
CASES: list[dict[str, Any]] = FIXTURE["cases"]
VALUE_CASES = [c for c in CASES if "expected" in c]
ERROR_CASES = [c for c in CASES if "error" in c]
BASE_LRS = np.asarray(FIXTURE["base_lrs"], dtype=np.float64)


def evaluate(spec: dict[str, Any], steps: int) -> np.ndarray:
    return resolve_spec(spec).evaluate(EvalContext(steps, BASE_LRS)).lr


@pytest.mark.parametrize("case", VALUE_CASES, ids=[json.dumps(c["spec"]) for c in VALUE_CASES])
def test_values_match_fairseq(case: dict[str, Any]) -> None:
    lr = evaluate(case["spec"], case["steps"])
    kept = lr if case["indices"] is None else lr[:, case["indices"]]
    expected = np.broadcast_to(np.asarray(case["expected"], dtype=np.float64), kept.shape)
    np.testing.assert_allclose(kept, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(kept, expected)


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["error"][:40] for c in ERROR_CASES])
def test_errors_match_fairseq(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        evaluate(case["spec"], case["steps"])
    assert raised.value.field == f"schedule.{case['field']}"


def test_exp_like_python_is_math_exp() -> None:
    x = np.random.default_rng(0).uniform(-30.0, 5.0, 200_000)
    np.testing.assert_array_equal(exp_like_python(x), np.array([math.exp(v) for v in x]))


def test_lr_is_absolute() -> None:
    assert find_kind("tri_stage", "fairseq", "schedule").needs_base_lr is False
    lr = evaluate({"type": "inverse_sqrt", "warmup_updates": 2, "lr": 0.5}, 4)
    np.testing.assert_array_equal(
        lr, [[0.0, 0.25, 0.5 * 2**0.5 * 2**-0.5, 0.5 * 2**0.5 * 3**-0.5]] * 2
    )


def test_rsqrt_like_python_is_python_power() -> None:
    n = np.arange(1, 1_000_001, dtype=np.float64)
    np.testing.assert_array_equal(rsqrt_like_python(n), [float(v) ** -0.5 for v in n])
