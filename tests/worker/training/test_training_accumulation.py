"""Gradient accumulation: k micro-batches equal one batch of k times the size, and a short
last accumulation is weighted by its real sample count."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch

from warmstep.jobs import JobSpec
from worker.training import Hooks, StepEvent, build_model, load_dataset, plan_job, run_training
from worker.training.batching import epoch_order

SpecFactory = Callable[..., JobSpec]
LrsFactory = Callable[[JobSpec, float], npt.NDArray[np.float64]]


def _close_state(a: torch.nn.Module, b: torch.nn.Module, atol: float) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=atol, msg=name)


def test_batch_64_equals_4_micro_batches_of_16(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    data = {"name": "synthetic_classification", "n_samples": 250, "validation_fraction": 0.0}
    for optimizer in (
        {"type": "SGD", "lr": 0.1, "momentum": 0.9},
        {"type": "AdamW", "lr": 0.01, "weight_decay": 0.1},
    ):
        whole = make_spec(data=data, optimizer=optimizer, batch_size=64, max_steps=8)
        accum = make_spec(
            data=data,
            optimizer=optimizer,
            batch_size=16,
            gradient_accumulation_steps=4,
            max_steps=8,
        )
        a_events: list[StepEvent] = []
        b_events: list[StepEvent] = []
        a = run_training(whole, constant_lrs(whole, 0.05), hooks=Hooks(on_step=a_events.append))
        b = run_training(accum, constant_lrs(accum, 0.05), hooks=Hooks(on_step=b_events.append))
        # 250 rows: 3 full updates of 64, then 58 (one short batch / 3 x 16 + 10)
        assert [e.samples for e in a_events] == [e.samples for e in b_events]
        assert a_events[3].samples == 58
        np.testing.assert_allclose(
            [e.loss for e in a_events], [e.loss for e in b_events], rtol=1e-5
        )
        _close_state(a.model, b.model, atol=1e-6)


def test_short_last_accumulation_matches_reference_loop(make_spec: SpecFactory) -> None:
    """50 rows, batch 8, k=3: updates of 24, 24 and 2 samples per epoch; the last one's loss
    is the mean over its 2 samples (not divided by k)."""
    data = {
        "name": "synthetic_regression",
        "n_samples": 50,
        "n_features": 3,
        "validation_fraction": 0.0,
    }
    spec = make_spec(
        model={"name": "linear_regression"},
        data=data,
        batch_size=8,
        gradient_accumulation_steps=3,
        max_steps=None,
        epochs=2,
    )
    plan = plan_job(spec)
    assert (plan.updates_per_epoch, plan.total_updates) == (3, 6)
    lrs = np.linspace(0.2, 0.05, plan.total_updates)[None, :]
    events: list[StepEvent] = []
    result = run_training(spec, lrs, hooks=Hooks(on_step=events.append))

    dataset = load_dataset("synthetic_regression", {"n_samples": 50, "n_features": 3}, 0.0, 7)
    torch.manual_seed(spec.seed)
    model = build_model("linear_regression", {}, dataset.info)
    reference_losses, i = [], 0
    for epoch in range(2):
        order = epoch_order(50, spec.seed, epoch)
        for rows in (order[0:24], order[24:48], order[48:50]):
            pred = model(dataset.train_x[rows])
            loss = ((pred - dataset.train_y[rows]) ** 2).mean(dim=1).mean()
            grads = torch.autograd.grad(loss, list(model.parameters()))
            with torch.no_grad():
                for p, g in zip(model.parameters(), grads, strict=True):
                    p.sub_(g, alpha=float(lrs[0, i]))
            reference_losses.append(loss.item())
            i += 1
    assert [e.samples for e in events] == [24, 24, 2] * 2
    np.testing.assert_allclose([e.loss for e in events], reference_losses, rtol=1e-5)
    _close_state(result.model, model, atol=1e-6)
