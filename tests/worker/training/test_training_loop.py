"""The loop end to end on tiny jobs: determinism, precision, divergence, resume, cancel,
curves applied per update and per group."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from warmstep.errors import InvalidArgument
from warmstep.jobs import JobSpec
from worker.training import (
    EvalEvent,
    Hooks,
    NonFiniteError,
    StepEvent,
    TrainingCancelled,
    plan_job,
    run_training,
)
from worker.training.models import MLP

SpecFactory = Callable[..., JobSpec]
LrsFactory = Callable[[JobSpec, float], npt.NDArray[np.float64]]


def _losses(spec: JobSpec, lrs: npt.ArrayLike, **kwargs: Any) -> tuple[list[StepEvent], Any]:
    events: list[StepEvent] = []
    result = run_training(spec, lrs, hooks=Hooks(on_step=events.append), **kwargs)
    return events, result


def test_same_job_twice_gives_the_same_loss_curve(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    spec = make_spec(
        model={"name": "mlp", "hidden_sizes": [16], "dropout": 0.3, "batchnorm": True},
        optimizer={"type": "AdamW", "lr": 0.01},
        gradient_accumulation_steps=2,
    )
    first, _ = _losses(spec, constant_lrs(spec, 0.01))
    second, _ = _losses(spec, constant_lrs(spec, 0.01))
    assert [e.loss for e in first] == [e.loss for e in second]
    assert [e.grad_norm for e in first] == [e.grad_norm for e in second]
    other, _ = _losses(make_spec(seed=8), constant_lrs(spec, 0.01))
    assert [e.loss for e in other] != [e.loss for e in first]


def test_bf16_autocast_runs_on_cpu(make_spec: SpecFactory, constant_lrs: LrsFactory) -> None:
    fp32, _ = _losses(make_spec(), constant_lrs(make_spec(), 0.1))
    bf16, _ = _losses(make_spec(precision="bf16"), constant_lrs(make_spec(), 0.1))
    assert all(np.isfinite(e.loss) and not e.skipped for e in bf16)
    np.testing.assert_allclose([e.loss for e in bf16], [e.loss for e in fp32], rtol=0.05)
    assert [e.loss for e in bf16] != [e.loss for e in fp32]  # autocast really engaged


def test_fp16_overflow_skips_the_update_and_says_so(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    """A loss scale of 2**100 overflows the fp16 backward: GradScaler skips, the event says so,
    and the weights do not move."""
    spec = make_spec(precision="fp16", max_steps=2)
    events, result = _losses(spec, constant_lrs(spec, 0.1), grad_scaler_init_scale=2.0**100)
    assert all(e.skipped and not e.nonfinite for e in events)
    fresh = run_training(make_spec(max_steps=1), [[0.0]]).model
    for a, b in zip(result.model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_on_cuda_trains(make_spec: SpecFactory, constant_lrs: LrsFactory) -> None:
    spec = make_spec(precision="fp16", device="cuda", max_steps=6)
    events, _ = _losses(spec, constant_lrs(spec, 0.1))
    assert all(np.isfinite(e.loss) for e in events)
    assert events[-1].loss < events[0].loss


def test_huge_lr_diverges_with_a_clear_reason(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    spec = make_spec(
        model={"name": "linear_regression"},
        data={"name": "synthetic_regression", "n_samples": 64, "validation_fraction": 0.0},
        max_steps=50,
    )
    events: list[StepEvent] = []
    with pytest.raises(NonFiniteError, match="diverged") as caught:
        run_training(spec, constant_lrs(spec, 1e12), hooks=Hooks(on_step=events.append))
    assert caught.value.reason == "non_finite"
    assert events[-1].nonfinite and events[-1].skipped
    assert caught.value.step == events[-1].step < 50
    assert not any(e.nonfinite for e in events[:-1])


def test_resume_gives_the_same_final_weights(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    spec = make_spec(
        model={"name": "mlp", "hidden_sizes": [16], "dropout": 0.2},
        optimizer={"type": "AdamW", "lr": 0.01},
        gradient_accumulation_steps=3,
        max_steps=None,
        epochs=3,
        checkpoint_every_steps=2,
    )
    lrs = np.linspace(0.02, 0.001, plan_job(spec).total_updates)[None, :]
    saved: dict[int, bytes] = {}

    def keep(state: Mapping[str, Any]) -> None:
        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        saved[int(state["step"])] = buffer.getvalue()

    full: list[StepEvent] = []
    straight = run_training(spec, lrs, hooks=Hooks(on_step=full.append, on_checkpoint=keep))
    # 160 rows, 16 per micro-batch, k=3: 4 updates per epoch (3 + 3 + 3 + 1 micro-batches)
    assert sorted(saved) == [2, 4, 6, 8, 10, 12]
    for step in (2, 4, 10):  # mid-epoch, at an epoch boundary, in the last epoch
        state = torch.load(io.BytesIO(saved[step]), weights_only=True)
        rest, resumed = _losses(spec, lrs, resume_from=state)
        assert [e.loss for e in rest] == [e.loss for e in full[step:]]
        for a, b in zip(
            straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)


def test_cancel_stops_within_one_micro_batch(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    spec = make_spec(gradient_accumulation_steps=3)
    forwards, checks = [], []

    def count(module: torch.nn.Module, args: Any) -> None:
        if isinstance(module, MLP):
            forwards.append(1)

    def should_cancel() -> bool:
        checks.append(1)
        return len(checks) == 5

    handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
    try:
        with pytest.raises(TrainingCancelled) as caught:
            run_training(spec, constant_lrs(spec, 0.1), hooks=Hooks(should_cancel=should_cancel))
    finally:
        handle.remove()
    assert len(forwards) == 4  # the 5th micro-batch never ran
    assert caught.value.step == 1 and caught.value.reason == "cancelled"


def test_group_lrs_and_momentum_curve_are_applied(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    """Row 1 of the curve (the no_decay group: biases) at 0 leaves biases untouched; a
    momentum curve of 0 turns SGD(momentum=0.9) into plain SGD."""
    spec = make_spec(optimizer={"type": "SGD", "lr": 0.1, "momentum": 0.9, "no_decay": ["bias"]})
    lrs = constant_lrs(spec, 0.1)
    lrs[1] = 0.0
    events, result = _losses(spec, lrs, momentum=np.zeros_like(lrs))
    assert events[0].lr == (0.1, 0.0) and events[0].momentum == (0.0, 0.0)
    fresh = run_training(make_spec(max_steps=1), [[0.0]]).model
    for (name, a), b in zip(result.model.named_parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b) == name.endswith("bias")
    plain, _ = _losses(make_spec(), constant_lrs(make_spec(), 0.1))
    mixed_spec = make_spec(optimizer={"type": "SGD", "lr": 0.1, "momentum": 0.9})
    zero_momentum, _ = _losses(mixed_spec, constant_lrs(mixed_spec, 0.1), momentum=np.zeros((1, 6)))
    assert [e.loss for e in plain] == [e.loss for e in zero_momentum]


def test_eval_events_on_cadence_and_at_the_end(
    make_spec: SpecFactory, constant_lrs: LrsFactory
) -> None:
    spec = make_spec(
        data={"name": "iris"},
        model={"name": "logistic_regression"},
        max_steps=None,
        epochs=2,
        eval_every_steps=3,
        batch_size=32,
    )
    evals: list[EvalEvent] = []
    result = run_training(spec, constant_lrs(spec, 0.5), hooks=Hooks(on_eval=evals.append))
    assert plan_job(spec).total_updates == 8  # 120 train rows / 32 -> 4 per epoch
    assert [e.step for e in evals] == [3, 6, 8]
    assert evals[-1].samples == 30 and evals[-1].accuracy is not None
    assert result.last_eval == evals[-1] and 0.0 <= evals[-1].accuracy <= 1.0


def test_curve_of_the_wrong_shape_is_refused(make_spec: SpecFactory) -> None:
    with pytest.raises(InvalidArgument, match=r"\(1, 6\)") as caught:
        run_training(make_spec(), np.full((1, 5), 0.1))
    assert caught.value.field == "schedule"
