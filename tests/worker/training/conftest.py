"""Small, fast job specs for the training-loop tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from warmstep.jobs import JobSpec, parse_job_spec
from worker.training import plan_job

SpecFactory = Callable[..., JobSpec]


@pytest.fixture
def make_spec() -> SpecFactory:
    def factory(**overrides: Any) -> JobSpec:
        base: dict[str, Any] = {
            "model": {"name": "mlp", "hidden_sizes": [16]},
            "data": {
                "name": "synthetic_classification",
                "n_samples": 160,
                "validation_fraction": 0.0,
            },
            "optimizer": {"type": "SGD", "lr": 0.1},
            "batch_size": 16,
            "max_steps": 6,
            "device": "cpu",
            "seed": 7,
        }
        base.update(overrides)
        return parse_job_spec(base)

    return factory


@pytest.fixture
def constant_lrs() -> Callable[[JobSpec, float], npt.NDArray[np.float64]]:
    def factory(spec: JobSpec, lr: float) -> npt.NDArray[np.float64]:
        return np.full((spec.num_groups, plan_job(spec).total_updates), lr)

    return factory
