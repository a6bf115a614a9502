"""detectron2 (LRMultiplier, WarmupParamScheduler, WarmupMultiStepLR, WarmupCosineLR) and
maskrcnn-benchmark (WarmupMultiStepLR) against their own code.

The table is tests/fixtures/schedules/detectron2.json, written by
scripts/fixtures/gen_detectron2.py: the libraries' lr_scheduler.py files run on torch 2.13.0,
value i = param_groups[g]["lr"] after i calls of step(). Every value bit for bit (the design asks
for 1e-12 relative at least). Hand-computed values check the docstring examples.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, _parallel, resolve_spec

FIXTURE = Path(__file__).parents[2] / "fixtures/schedules/detectron2.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["cases"]
VALUE_CASES = [c for c in CASES if "expected" in c]
ERROR_CASES = [c for c in CASES if "error" in c]


def evaluate(spec: dict[str, Any], steps: int, base_lrs: list[float]) -> np.ndarray:
    context = EvalContext(steps, np.asarray(base_lrs, dtype=np.float64))
    return resolve_spec(spec).evaluate(context).lr


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c["name"] for c in VALUE_CASES])
def test_values_match_detectron2(case: dict[str, Any]) -> None:
    lr = evaluate(case["spec"], case["steps"], case["base_lrs"])
    kept = lr if case["indices"] is None else lr[:, case["indices"]]
    expected = np.asarray(case["expected"], dtype=np.float64)
    np.testing.assert_array_equal(kept, expected)  # bit for bit


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_errors_match_detectron2(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument) as raised:
        evaluate(case["spec"], case["steps"], case["base_lrs"])
    assert raised.value.field == f"schedule.{case['field']}"


def test_shared_name_needs_library() -> None:
    with pytest.raises(InvalidArgument) as raised:
        resolve_spec({"type": "WarmupMultiStepLR", "milestones": [3]})
    assert raised.value.field == "schedule.library"


def test_defaults_differ_between_detectron2_and_maskrcnn() -> None:
    spec = {"type": "WarmupMultiStepLR", "milestones": [2000]}
    d2 = evaluate({**spec, "library": "detectron2"}, 2, [1.0])[0]
    mrcnn = evaluate({**spec, "library": "maskrcnn_benchmark"}, 2, [1.0])[0]
    # detectron2: factor 0.001 over 1000 iters; maskrcnn: 1/3 over 500 iters.
    np.testing.assert_allclose(d2, [0.001, 0.001 * (1 - 1e-3) + 1e-3], rtol=1e-15)
    np.testing.assert_allclose(mrcnn, [1 / 3, (1 / 3) * (1 - 1 / 500) + 1 / 500], rtol=1e-15)


def test_hand_computed_multistep_docstring_example() -> None:
    spec = {
        "type": "WarmupMultiStepLR",
        "library": "detectron2",
        "milestones": [3],
        "gamma": 0.1,
        "warmup_factor": 0.5,
        "warmup_iters": 2,
    }
    np.testing.assert_allclose(evaluate(spec, 5, [2.0])[0], [1.0, 1.5, 2.0, 0.2, 0.2])


def test_hand_computed_cosine_multiplies_the_warmup() -> None:
    spec = {"type": "WarmupCosineLR", "max_iters": 4, "warmup_factor": 0.5, "warmup_iters": 2}
    half = 0.5 * (1 + np.cos(np.pi / 4))
    np.testing.assert_allclose(
        evaluate(spec, 6, [1.0])[0], [0.5, 0.75 * half, 0.5, 1 - half, 0.0, 1 - half], atol=1e-15
    )


def test_hand_computed_warmup_param_scheduler() -> None:
    # Linear from 0.1 * s(0) = 0.1 to s(0.5) = 0.5 over where [0, 0.5), then s at global where.
    spec = {
        "type": "LRMultiplier",
        "max_iter": 4,
        "multiplier": {
            "type": "WarmupParamScheduler",
            "scheduler": {"type": "LinearParamScheduler", "start_value": 1.0, "end_value": 0.0},
            "warmup_factor": 0.1,
            "warmup_length": 0.5,
        },
    }
    np.testing.assert_allclose(evaluate(spec, 4, [1.0])[0], [0.1, 0.3, 0.5, 0.25])


def test_multiplier_must_be_a_param_scheduler() -> None:
    spec = {
        "type": "LRMultiplier",
        "max_iter": 4,
        "multiplier": {"type": "WarmupCosineLR", "max_iters": 4},
    }
    with pytest.raises(InvalidArgument) as raised:
        resolve_spec(spec)
    assert raised.value.field == "schedule.multiplier"


def _get_lr(spec: dict[str, Any], base_lr: float, i: int) -> float:
    """detectron2's WarmupMultiStepLR.get_lr at ``last_epoch = i``, with Python floats."""
    warmup_iters, factor = spec["warmup_iters"], spec["warmup_factor"]
    if i >= warmup_iters:
        warming = 1.0
    elif spec["warmup_method"] == "constant":
        warming = factor
    else:
        alpha = i / warmup_iters
        warming = factor * (1 - alpha) + alpha
    return base_lr * warming * spec["gamma"] ** bisect.bisect_right(spec["milestones"], i)


@pytest.mark.parametrize("library", ["detectron2", "maskrcnn_benchmark"])
def test_milestone_fills_match_get_lr_step_by_step(library: str) -> None:
    """The steps after the warmup are written as one fill per run between milestones: every
    step equals get_lr, with milestones inside the warmup, repeated, past the end, or many."""
    rng = np.random.default_rng(8)
    for _ in range(60):
        steps = int(rng.choice([1, 5, int(rng.integers(6, 3000))]))
        milestones = sorted(int(m) for m in rng.integers(-3, steps + 50, int(rng.integers(0, 8))))
        if rng.random() < 0.2:
            milestones = sorted(int(m) for m in rng.integers(0, steps + 1, 100))  # > 64 runs
        spec = {
            "type": "WarmupMultiStepLR",
            "library": library,
            "milestones": milestones,
            "gamma": float(rng.choice([0.1, 0.5, 0.9999, 3.0])),
            "warmup_factor": float(rng.choice([0.001, 1 / 3, 1.0])),
            "warmup_iters": int(rng.choice([0, 1, 7, steps // 2, steps + 5])),
            "warmup_method": str(rng.choice(["linear", "constant"])),
        }
        base_lrs = [0.1, float(rng.uniform(0.001, 2))]
        expected = [[_get_lr(spec, base, i) for i in range(steps)] for base in base_lrs]
        np.testing.assert_array_equal(evaluate(spec, steps, base_lrs), expected, str(spec))


def test_cosine_after_the_warmup_matches_get_lr_step_by_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """WarmupCosineLR's steps after the warmup come from a compiled pass that skips the
    factor: every step equals get_lr's ``base_lr * warmup_factor * 0.5 * (1.0 +
    math.cos(math.pi * i / max_iters))`` (curves of several slices across the threads)."""
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 512)
    rng = np.random.default_rng(9)
    for _ in range(40):
        steps = int(rng.choice([1, 5, int(rng.integers(6, 3000))]))
        spec = {
            "type": "WarmupCosineLR",
            "max_iters": int(rng.choice([1, 7, steps, steps * 3 + 1])),
            "warmup_factor": float(rng.choice([0.001, 1 / 3, 1.0])),
            "warmup_iters": int(rng.choice([-2, 0, 1, 7, steps // 2, steps + 5])),
            "warmup_method": str(rng.choice(["linear", "constant"])),
        }
        base_lrs = [0.1, float(rng.uniform(0.001, 2))]
        warm = {**spec, "milestones": [], "gamma": 1.0}
        expected = [
            [
                _get_lr(warm, base, i) * 0.5 * (1.0 + math.cos(math.pi * i / spec["max_iters"]))
                for i in range(steps)
            ]
            for base in base_lrs
        ]
        np.testing.assert_array_equal(evaluate(spec, steps, base_lrs), expected, str(spec))
