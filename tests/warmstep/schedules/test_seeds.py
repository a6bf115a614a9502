"""Kinds named by the project's seeds: ``WarmupMultiFactorScheduler`` (warmstep) against
hand-computed values, and TensorFlow 1.x ``polynomial_decay`` / BERT's warmup variant against
hand-computed values and against an independent scalar reimplementation of TF's formula in
float32 written here (TensorFlow itself is not installed; the reimplementation follows
``tf.compat.v1.train.polynomial_decay``: every operand cast to the float32 dtype of
``learning_rate``, then ``(lr - end) * pow(1 - step / decay_steps, power) + end``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, find_kind, resolve_spec

F = np.float32


def evaluate(spec: dict[str, Any], steps: int, base_lrs: tuple[float, ...] = (0.01, 0.5)) -> Any:
    return resolve_spec(spec).evaluate(EvalContext(steps, np.asarray(base_lrs))).lr


SEED = {"type": "WarmupMultiFactorScheduler", "factor": 0.1, "warmup_epochs": 5,
        "milestones": [30, 60, 90], "warmup_lr": 0.001}  # fmt: skip


def test_warmup_multifactor_linear_by_hand() -> None:
    lr = evaluate(SEED, 100)
    warm = [0.001 + (0.01 - 0.001) * i / 5 for i in range(5)]
    np.testing.assert_array_equal(lr[0, :5], warm)  # 0.001, 0.0028, 0.0046, 0.0064, 0.0082
    np.testing.assert_allclose(lr[0, :5], [0.001, 0.0028, 0.0046, 0.0064, 0.0082], rtol=1e-15)
    assert (lr[0, 5:30] == 0.01).all()
    assert (lr[0, 30:60] == 0.01 * 0.1).all()
    assert (lr[0, 60:90] == 0.01 * 0.1**2).all()
    assert (lr[0, 90:] == 0.01 * 0.1**3).all()
    assert lr[1, 0] == 0.001 and lr[1, 5] == 0.5 and lr[1, 30] == 0.5 * 0.1


def test_warmup_multifactor_constant_and_early_milestone() -> None:
    spec = {**SEED, "warmup_strategy": "constant", "milestones": [3, 8]}
    lr = evaluate(spec, 10, (1.0,))
    np.testing.assert_array_equal(lr[0], [0.001] * 5 + [0.1] * 3 + [0.1**2] * 2)


def test_warmup_multifactor_no_warmup_and_milestone_zero() -> None:
    spec = {**SEED, "warmup_epochs": 0, "milestones": [0, 2]}
    np.testing.assert_array_equal(evaluate(spec, 4, (1.0,))[0], [0.1, 0.1, 0.1**2, 0.1**2])


def test_warmup_multifactor_refuses_unsorted_milestones() -> None:
    with pytest.raises(InvalidArgument) as raised:
        resolve_spec({**SEED, "milestones": [60, 30]})
    assert raised.value.field == "schedule.milestones"


def tf_polynomial_decay(lr: float, step: int, decay_steps: int, end: float, power: float,
                        cycle: bool) -> np.float32:  # fmt: skip
    """Scalar float32 reimplementation of tf.compat.v1.train.polynomial_decay."""
    lr32, end32, power32, g, d = F(lr), F(end), F(power), F(step), F(decay_steps)
    if cycle:
        multiplier = F(1.0) if g == 0 else F(math.ceil(g / d))
        d = d * multiplier
    else:
        g = min(g, d)
    p = g / d
    return (lr32 - end32) * F((F(1) - p) ** power32) + end32


def tf_bert(init_lr: float, step: int, num_train: int, num_warmup: int) -> np.float32:
    decayed = tf_polynomial_decay(init_lr, step, num_train, 0.0, 1.0, False)
    if not num_warmup:
        return decayed
    is_warmup = F(1.0) if step < num_warmup else F(0.0)
    warm = F(init_lr) * (F(step) / F(num_warmup))
    return (F(1.0) - is_warmup) * decayed + is_warmup * warm


POLY_CASES = [
    {"learning_rate": 0.1, "decay_steps": 100},
    {"learning_rate": 2e-5, "decay_steps": 1000, "end_learning_rate": 0.0},
    {"learning_rate": 0.1, "decay_steps": 30, "end_learning_rate": 0.01, "cycle": True},
    {"learning_rate": 0.3, "decay_steps": 50, "power": 2.0},
    {"learning_rate": 0.05, "decay_steps": 40, "power": 0.5, "cycle": True},
]


@pytest.mark.parametrize("args", POLY_CASES)
def test_polynomial_decay_matches_float32_formula(args: dict[str, Any]) -> None:
    full = {"end_learning_rate": 0.0001, "power": 1.0, "cycle": False, **args}
    steps = 3 * full["decay_steps"]
    lr = evaluate({"type": "polynomial_decay", **args}, steps)
    expected = [tf_polynomial_decay(full["learning_rate"], i, full["decay_steps"],
                                    full["end_learning_rate"], full["power"], full["cycle"])
                for i in range(steps)]  # fmt: skip
    np.testing.assert_array_equal(lr, np.broadcast_to(np.asarray(expected, np.float64), lr.shape))


def test_polynomial_decay_by_hand() -> None:
    lr = evaluate({"type": "polynomial_decay", "learning_rate": 0.1, "decay_steps": 4,
                   "end_learning_rate": 0.0}, 6)[0]  # fmt: skip
    assert lr[0] == float(F(0.1)) == 0.10000000149011612
    np.testing.assert_allclose(lr, [0.1, 0.075, 0.05, 0.025, 0.0, 0.0], rtol=1e-7)
    assert lr.dtype == np.float64 and all(float(F(v)) == v for v in lr)


@pytest.mark.parametrize(("num_train", "num_warmup"), [(10, 2), (1000, 100), (50, 0), (20, 20)])
def test_bert_warmup_matches_float32_formula(num_train: int, num_warmup: int) -> None:
    spec = {"type": "bert_polynomial_decay_with_warmup", "init_lr": 5e-5,
            "num_train_steps": num_train, "num_warmup_steps": num_warmup}  # fmt: skip
    lr = evaluate(spec, num_train + 5)
    expected = [tf_bert(5e-5, i, num_train, num_warmup) for i in range(num_train + 5)]
    np.testing.assert_array_equal(lr[0], np.asarray(expected, np.float64))
    np.testing.assert_array_equal(lr[1], lr[0])


def test_bert_by_hand() -> None:
    spec = {"type": "bert_polynomial_decay_with_warmup", "init_lr": 1e-4,
            "num_train_steps": 10, "num_warmup_steps": 2}  # fmt: skip
    np.testing.assert_allclose(evaluate(spec, 5)[0], [0, 5e-5, 8e-5, 7e-5, 6e-5], rtol=1e-6)


def test_zero_decay_steps_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        evaluate({"type": "polynomial_decay", "learning_rate": 0.1, "decay_steps": 0}, 3)
    assert raised.value.field == "schedule.decay_steps"


def test_library_and_base_lr_flags() -> None:
    assert find_kind("polynomial_decay", None, "schedule").needs_base_lr is False
    assert find_kind("WarmupMultiFactorScheduler", None, "schedule").needs_base_lr is True
