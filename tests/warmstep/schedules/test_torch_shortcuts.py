"""The torch chain's shortcuts for single calls (a leaf's constructor step, a SequentialLR
milestone's ``_update_lr(0)``) write what the leaf's own ops write, counters included, and
leave to ops whatever ops would refuse."""

from __future__ import annotations

import numpy as np
import pytest

from warmstep.schedules.adapters.torch._chain import INITIAL, UPDATE0, Leaf, Optimizer
from warmstep.schedules.adapters.torch.cosine import (
    CosineAnnealingLRParams,
    CosineAnnealingWarmRestartsParams,
    CosineLeaf,
    WarmRestartsLeaf,
)
from warmstep.schedules.adapters.torch.simple import (
    ConstantLeaf,
    ConstantLRParams,
    ExponentialLeaf,
    ExponentialLRParams,
    LinearLeaf,
    LinearLRParams,
    PolynomialLeaf,
    PolynomialLRParams,
    StepLeaf,
    StepLRParams,
)

BASE = np.array([0.1, 0.037, 3.3])


def _leaves() -> list[Leaf]:
    groups = BASE.size
    return [
        StepLeaf(StepLRParams(step_size=3, gamma=0.5), "schedule", groups),
        ExponentialLeaf(ExponentialLRParams(gamma=0.9), "schedule", groups),
        PolynomialLeaf(PolynomialLRParams(total_iters=7, power=2.0), "schedule", groups),
        CosineLeaf(CosineAnnealingLRParams(T_max=9, eta_min=0.013), "schedule", groups),
        ConstantLeaf(ConstantLRParams(factor=0.37, total_iters=4), "schedule", groups),
        LinearLeaf(LinearLRParams(start_factor=0.011, total_iters=5), "schedule", groups),
        WarmRestartsLeaf(
            CosineAnnealingWarmRestartsParams(T_0=7, eta_min=0.02), "schedule", groups
        ),
    ]


@pytest.mark.parametrize("index", range(7))
def test_the_constructor_step_is_what_ops_writes(index: int) -> None:
    shortcut, through_ops = _leaves()[index], _leaves()[index]
    assert shortcut.constructor_lr(BASE) is not None
    opt, reference = Optimizer(lr=BASE.copy()), Optimizer(lr=BASE.copy())
    shortcut.base_lrs = opt.setdefault_initial_lr()
    shortcut.initial_step(opt)
    through_ops.base_lrs = reference.setdefault_initial_lr()
    through_ops.step_count = 0
    reference.apply(through_ops.ops(through_ops.advance(np.array([INITIAL], np.int64)), reference))
    assert opt.lr.tobytes() == reference.lr.tobytes()
    assert (shortcut.last_epoch, shortcut.step_count) == (
        through_ops.last_epoch,
        through_ops.step_count,
    )


def test_a_milestone_write_is_what_ops_writes() -> None:
    shortcut, through_ops = _leaves()[3], _leaves()[3]
    for leaf in (shortcut, through_ops):
        leaf.base_lrs = BASE.copy()
        leaf.last_epoch, leaf.step_count = 41, 42
    opt, reference = Optimizer(lr=BASE * 0.5), Optimizer(lr=BASE * 0.5)
    shortcut.step_now(opt, UPDATE0)
    reference.apply(through_ops.ops(through_ops.advance(np.array([UPDATE0], np.int64)), reference))
    assert opt.lr.tobytes() == reference.lr.tobytes()
    assert (shortcut.last_epoch, shortcut.step_count) == (0, 42)
    assert (through_ops.last_epoch, through_ops.step_count) == (0, 42)


def test_a_zero_t_max_is_left_to_ops() -> None:
    """T_max=0: torch divides by zero at the milestone; the shortcut steps aside."""
    leaf = CosineLeaf(CosineAnnealingLRParams(T_max=0), "schedule", 1)
    leaf.base_lrs = np.array([0.1])
    assert leaf.milestone_values() is None
