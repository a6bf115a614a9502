"""Clipping once per update: the reported pre-clip norm and the clipped gradient equal
``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` on the same gradients."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from warmstep.jobs import JobSpec
from worker.training import Hooks, StepEvent, build_model, load_dataset, run_training
from worker.training.batching import epoch_order
from worker.training.clip import clip_gradients, was_clipped

SpecFactory = Callable[..., JobSpec]
LrsFactory = Callable[[JobSpec, float], npt.NDArray[np.float64]]


def _grad(p: torch.Tensor) -> torch.Tensor:
    assert p.grad is not None
    return p.grad


def _params_with_grads(seed: int) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    params = [
        torch.nn.Parameter(torch.randn(shape, generator=generator))
        for shape in ((5, 3), (3,), (7,))
    ]
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator) * 3
    return params


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_by_norm_equals_torch(norm_type: float, max_norm: float) -> None:
    ours, theirs = _params_with_grads(0), _params_with_grads(0)
    norm, peak = clip_gradients(ours, max_norm, norm_type, None)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert peak is None
    assert norm.item() == expected.item()
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(_grad(a), _grad(b))
    assert was_clipped(norm.item(), None, max_norm, None) is (max_norm < 1e3)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_by_value_equals_torch(norm_type: float) -> None:
    ours, theirs = _params_with_grads(1), _params_with_grads(1)
    expected_norm = torch.nn.utils.get_total_norm([_grad(p) for p in theirs], norm_type)
    expected_peak = max(_grad(p).abs().max().item() for p in theirs)
    norm, peak = clip_gradients(ours, None, norm_type, 0.25)
    torch.nn.utils.clip_grad_value_(theirs, 0.25)
    assert norm.item() == expected_norm.item()
    assert peak is not None and peak.item() == expected_peak
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(_grad(a), _grad(b))
    assert was_clipped(norm.item(), peak.item(), None, 0.25)
    assert not was_clipped(norm.item(), peak.item(), None, 100.0)


@pytest.mark.parametrize(
    "clip",
    [{"max_grad_norm": 0.05}, {"max_grad_norm": 0.05, "norm_type": "inf"}, {"clip_value": 0.01}],
)
def test_loop_reports_pre_clip_norm_and_steps_with_clipped_gradient(
    make_spec: SpecFactory, clip: dict[str, Any]
) -> None:
    """One update of SGD (lr 1) against the same update written by hand."""
    spec = make_spec(max_steps=1, batch_size=32, gradient_accumulation_steps=2, **clip)
    events: list[StepEvent] = []
    result = run_training(spec, [[1.0]], hooks=Hooks(on_step=events.append))

    data = load_dataset("synthetic_classification", {"n_samples": 160}, 0.0, spec.seed)
    torch.manual_seed(spec.seed)
    model = build_model("mlp", {"hidden_sizes": [16]}, data.info)
    before = copy.deepcopy(model)
    rows = epoch_order(data.train_size, spec.seed, 0)[:64]
    loss = torch.nn.functional.cross_entropy(model(data.train_x[rows]), data.train_y[rows])
    loss.backward()  # type: ignore[no-untyped-call]
    params = list(model.parameters())
    norm_type = spec.norm_type_value
    if spec.max_grad_norm is not None:
        expected_norm = torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm, norm_type)
    else:
        expected_norm = torch.nn.utils.get_total_norm([_grad(p) for p in params], norm_type)
        torch.nn.utils.clip_grad_value_(params, 0.01)
    (event,) = events
    assert event.clipped
    assert event.grad_norm == pytest.approx(expected_norm.item(), rel=1e-5)
    with torch.no_grad():
        for new, old, p in zip(result.model.parameters(), before.parameters(), params, strict=True):
            torch.testing.assert_close(old - new, _grad(p), rtol=1e-4, atol=1e-7)
