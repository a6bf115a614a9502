"""pytorch-transformers 1.2.0 schedules against values computed by the library's own
``optimization.py`` (tests/fixtures/schedules/pytorch_transformers.json, written by
scripts/fixtures/gen_pytorch_transformers.py; value i = group lr after i ``step()`` calls).
Every value must be within 1e-12 relative, and every case is in fact bit-for-bit equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.schedules import EvalContext, find_kind, resolve_spec

FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures/schedules/pytorch_transformers.json")
                     .read_text())  # fmt: skip
CASES: list[dict[str, Any]] = FIXTURE["cases"]
BASE_LRS = np.asarray(FIXTURE["base_lrs"], dtype=np.float64)


@pytest.mark.parametrize("case", CASES, ids=[json.dumps(c["spec"]) for c in CASES])
def test_values_match_pytorch_transformers(case: dict[str, Any]) -> None:
    lr = resolve_spec(case["spec"]).evaluate(EvalContext(case["steps"], BASE_LRS)).lr
    kept = lr if case["indices"] is None else lr[:, case["indices"]]
    expected = np.asarray(case["expected"], dtype=np.float64)
    np.testing.assert_allclose(kept, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(kept, expected)


def test_kinds_scale_base_lrs() -> None:
    for name in ("ConstantLRSchedule", "WarmupLinearSchedule", "WarmupCosineSchedule"):
        assert find_kind(name, None, "schedule").needs_base_lr is True
