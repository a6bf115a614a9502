"""warmstep.plan: hand-computed step arithmetic (HF Trainer semantics) and per-epoch expansion."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from warmstep.errors import InvalidArgument
from warmstep.plan import PlanRequest, PlanResult, expand_per_epoch, plan


def run(**fields: Any) -> PlanResult:
    return plan(PlanRequest.model_validate(fields))


# (request, micro_batches_per_epoch, updates_per_epoch, total_updates, warmup, epochs,
#  last_accumulation_micro_batches, last_micro_batch_samples), every row worked out by hand.
CASES: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    # seed 000: 24 samples, batch 6 -> 4 updates; batch 3 with accumulation 2 -> still 4
    ("seed-batch6", {"examples": 24, "batch_size": 6, "epochs": 1}, (4, 4, 4, 0, 1, 1, 6)),
    ("seed-batch3-acc2", {"examples": 24, "batch_size": 3, "gradient_accumulation_steps": 2,
                          "epochs": 1}, (8, 4, 4, 0, 1, 2, 3)),
    # 25 samples: ceil(25/3) = 9 micro-batches (last holds 1), ceil(9/2) = 5 updates, the 5th of 1
    ("short-last-accumulation", {"examples": 25, "batch_size": 3,
                                 "gradient_accumulation_steps": 2, "epochs": 3},
     (9, 5, 15, 0, 3, 1, 1)),
    ("drop-last", {"examples": 25, "batch_size": 3, "gradient_accumulation_steps": 2,
                   "epochs": 3, "drop_last": True}, (8, 4, 12, 0, 3, 2, 3)),
    # jobs.py's example: 1437 samples, b 32, k 4: 45 micro-batches (last 29), 12 updates, 3 epochs
    ("digits", {"examples": 1437, "batch_size": 32, "gradient_accumulation_steps": 4,
                "epochs": 3, "warmup_ratio": 0.1}, (45, 12, 36, 4, 3, 1, 29)),
    # max_steps overrides epochs: ceil(50 / 12) = 5 epochs, the 5th stops after 2 updates
    ("max-steps", {"examples": 1437, "batch_size": 32, "gradient_accumulation_steps": 4,
                   "epochs": 2, "max_steps": 50, "warmup_steps": 7}, (45, 12, 50, 7, 5, 1, 29)),
    ("max-steps-exact", {"examples": 100, "batch_size": 10, "max_steps": 30},
     (10, 10, 30, 0, 3, 1, 10)),
    ("no-epochs-means-one", {"examples": 100, "batch_size": 10}, (10, 10, 10, 0, 1, 1, 10)),
    # accumulation larger than an epoch: one update per epoch of all 4 micro-batches
    ("acc-over-epoch", {"examples": 10, "batch_size": 3, "gradient_accumulation_steps": 8,
                        "epochs": 2}, (4, 1, 2, 0, 2, 4, 1)),
    ("batch-over-examples", {"examples": 5, "batch_size": 8, "epochs": 4},
     (1, 1, 4, 0, 4, 1, 5)),
    # ratio: ceil(1000 * 0.06) = 60; ceil(7 * 0.5) = 4; ratio 0 -> 0; ratio 1 -> all
    ("ratio", {"examples": 1000, "batch_size": 1, "epochs": 1, "warmup_ratio": 0.06},
     (1000, 1000, 1000, 60, 1, 1, 1)),
    ("ratio-half", {"examples": 7, "batch_size": 1, "epochs": 1, "warmup_ratio": 0.5},
     (7, 7, 7, 4, 1, 1, 1)),
    ("ratio-zero", {"examples": 7, "batch_size": 1, "epochs": 1, "warmup_ratio": 0.0},
     (7, 7, 7, 0, 1, 1, 1)),
    ("ratio-one", {"examples": 7, "batch_size": 2, "epochs": 2, "warmup_ratio": 1.0},
     (4, 4, 8, 8, 2, 1, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_hand_computed_plans(fields: dict[str, Any], expected: tuple[int, ...]) -> None:
    result = run(**fields)
    got = (
        result.micro_batches_per_epoch, result.updates_per_epoch, result.total_updates,
        result.warmup_steps, result.epochs, result.last_accumulation_micro_batches,
        result.last_micro_batch_samples,
    )  # fmt: skip
    assert got == expected
    assert result.samples_per_update == fields["batch_size"] * fields.get(
        "gradient_accumulation_steps", 1
    )
    assert result.scheduler_steps == result.total_updates
    assert result.notes


def test_seed_formula_undercounts_and_notes_say_why() -> None:
    result = run(examples=25, batch_size=3, gradient_accumulation_steps=2, epochs=1)
    assert int(25 / 3 / 2) == 4 and result.updates_per_epoch == 5
    text = " ".join(result.notes)
    assert "last holds 1 sample(s)" in text
    assert "only 1 micro-batch(es) and is still one update (HF Trainer)" in text


def test_float_ratio_is_hf_arithmetic_and_noted() -> None:
    # 100 * 0.07 == 7.000000000000001 in float64: HF's math.ceil gives 8, not 7
    result = run(examples=100, batch_size=1, epochs=1, warmup_ratio=0.07)
    assert result.warmup_steps == math.ceil(100 * 0.07) == 8
    assert any("exact decimal arithmetic this would be 7" in note for note in result.notes)
    assert not any("decimal" in n for n in run(examples=40, batch_size=1, warmup_ratio=0.1).notes)


def test_drop_last_counts() -> None:
    result = run(examples=25, batch_size=3, drop_last=True, epochs=1)
    assert result.dropped_examples_per_epoch == 1
    assert run(examples=25, batch_size=3, epochs=1).dropped_examples_per_epoch == 0


def test_epoch_interval() -> None:
    result = run(examples=100, batch_size=10, epochs=3, scheduler_interval="epoch")
    assert (result.total_updates, result.scheduler_steps) == (30, 3)
    assert any("once per epoch" in note for note in result.notes)


def test_max_steps_override_is_noted() -> None:
    result = run(examples=100, batch_size=10, epochs=2, max_steps=25)
    assert result.epochs == 3
    assert any("overrides epochs=2" in n and "after 5 update(s)" in n for n in result.notes)


def test_warmup_longer_than_training_is_noted() -> None:
    result = run(examples=10, batch_size=10, epochs=2, warmup_steps=5)
    assert result.warmup_steps == 5
    assert any("training ends in warmup" in note for note in result.notes)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"examples": 10, "batch_size": 0}, "batch_size"),
        ({"examples": 0, "batch_size": 1}, "examples"),
        ({"examples": 10, "batch_size": 1, "gradient_accumulation_steps": 0},
         "gradient_accumulation_steps"),
        ({"examples": 10, "batch_size": 1, "epochs": 0}, "epochs"),
        ({"examples": 10, "batch_size": 1, "max_steps": 0}, "max_steps"),
        ({"examples": 10, "batch_size": 1, "warmup_steps": -1}, "warmup_steps"),
        ({"examples": 10, "batch_size": 1, "warmup_ratio": 1.5}, "warmup_ratio"),
        ({"examples": 10, "batch_size": 1, "warmup_steps": 3, "warmup_ratio": 0.1},
         "warmup_ratio"),
        ({"examples": 10, "batch_size": 1, "scheduler_interval": "batch"}, "scheduler_interval"),
        ({"examples": 10, "batch_size": 1, "warmup": 3}, "warmup"),
    ],
)  # fmt: skip
def test_validation_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PlanRequest.model_validate(fields)
    first = caught.value.errors()[0]
    assert first["loc"] == (field,)
    if field == "warmup_ratio" and "warmup_steps" in fields:
        assert "give warmup_steps or warmup_ratio, not both" in first["msg"]
    if field == "batch_size":
        assert "greater than or equal to 1" in first["msg"]


def test_drop_last_without_a_full_batch_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        run(examples=5, batch_size=8, drop_last=True)
    assert caught.value.field == "batch_size"


def test_too_many_updates_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        run(examples=10**12, batch_size=1, epochs=10**6)
    assert caught.value.field == "epochs"


def test_result_is_json_shaped() -> None:
    dumped = run(examples=24, batch_size=3, gradient_accumulation_steps=2).model_dump(mode="json")
    assert dumped["updates_per_epoch"] == 4 and isinstance(dumped["notes"], list)


def test_expand_per_epoch() -> None:
    out = expand_per_epoch(np.array([1.0, 0.5]), 3, 5)
    assert out.tolist() == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert out.dtype == np.float64
    groups = expand_per_epoch(np.array([[1.0, 0.5, 0.25], [2.0, 1.0, 0.5]]), 2, 6)
    assert groups.tolist() == [[1.0, 1.0, 0.5, 0.5, 0.25, 0.25], [2.0, 2.0, 1.0, 1.0, 0.5, 0.5]]
    assert expand_per_epoch(np.array([0.1]), 4, 0).shape == (0,)
    # u // U: update 12 of 5 per epoch uses epoch 2
    values = np.arange(10, dtype=np.float64)
    assert expand_per_epoch(values, 5, 13)[12] == 2.0


def test_expand_per_epoch_refuses_short_or_bad_input() -> None:
    with pytest.raises(InvalidArgument, match="need 3 per-epoch values, got 2"):
        expand_per_epoch(np.array([1.0, 0.5]), 2, 5)
    with pytest.raises(InvalidArgument):
        expand_per_epoch(np.array([1.0]), 0, 1)
    with pytest.raises(InvalidArgument):
        expand_per_epoch(np.array(1.0), 1, 1)


def test_plan_and_expansion_agree() -> None:
    result = run(examples=25, batch_size=3, gradient_accumulation_steps=2, max_steps=13,
                 scheduler_interval="epoch")  # fmt: skip
    per_epoch = 0.5 ** np.arange(result.scheduler_steps)
    out = expand_per_epoch(per_epoch, result.updates_per_epoch, result.total_updates)
    assert out.shape == (13,)
    assert out.tolist() == [1.0] * 5 + [0.5] * 5 + [0.25] * 3
