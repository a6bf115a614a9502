"""JobSpec validation and the step arithmetic of a job."""

from __future__ import annotations

import math
from typing import Any

import pytest

from warmstep.errors import InvalidArgument
from warmstep.jobs import parse_job_spec, plan_training

BASE: dict[str, Any] = {
    "model": {"name": "mlp", "hidden_sizes": [64]},
    "data": {"name": "digits"},
    "optimizer": {"type": "AdamW", "lr": 3e-4, "weight_decay": 0.01, "no_decay": ["bias"]},
}


def test_defaults_and_open_component_kwargs() -> None:
    spec = parse_job_spec(BASE)
    assert spec.model.kwargs == {"hidden_sizes": [64]}
    assert spec.optimizer.kwargs == {"weight_decay": 0.01}
    assert spec.data.validation_fraction == 0.2
    assert (spec.batch_size, spec.gradient_accumulation_steps, spec.precision) == (32, 1, "fp32")
    assert spec.num_groups == 2
    assert parse_job_spec({**BASE, "norm_type": "inf"}).norm_type_value == math.inf


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
        ({"optimizer": {"type": "SGD", "lr": -1}}, "optimizer.lr"),
        ({"data": {"name": "digits", "validation_fraction": 1.0}}, "data.validation_fraction"),
        ({"precision": "fp8"}, "precision"),
        ({"norm_type": "two"}, "norm_type"),
        ({"norm_type": -1.0}, "norm_type"),
        ({"max_grad_norm": 1.0, "clip_value": 0.5}, "clip_value"),
        ({"epochs": 2, "max_steps": 10}, "max_steps"),
        ({"warmup_steps": 2, "warmup_ratio": 0.1}, "warmup_ratio"),
        ({"schedule": {"T_max": 3}}, "schedule.type"),
        ({"lerning_rate": 0.1}, "lerning_rate"),
        ({"labels": {"team": 3}}, "labels.team"),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_job_spec({**BASE, **change})
    assert caught.value.field == field


def test_plan_counts_partial_batches_and_accumulations() -> None:
    spec = parse_job_spec(
        {
            **BASE,
            "batch_size": 32,
            "gradient_accumulation_steps": 4,
            "epochs": 3,
            "warmup_ratio": 0.1,
        }
    )
    plan = plan_training(spec, 1437)
    assert (plan.micro_batches_per_epoch, plan.updates_per_epoch) == (45, 12)
    assert (plan.total_updates, plan.warmup_steps) == (36, 4)
    steps = plan_training(parse_job_spec({**BASE, "max_steps": 30, "warmup_steps": 5}), 100)
    assert (steps.updates_per_epoch, steps.epochs, steps.total_updates) == (4, 8, 30)
    assert steps.warmup_steps == 5
