"""transformers 5.23 schedules against the installed library, live.

For each case a torch SGD optimizer with two param groups (lr 0.1 and 0.03, defaults lr 0.1) is
built, the real transformers function is called, and value i is ``param_groups[g]['lr']`` after i
``scheduler.step()`` calls (metric-driven kinds: ``step(metrics[i-1])``). Every value must be
within 1e-12 relative of the library's, and every case is in fact bit-for-bit equal, which is
asserted too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import transformers.optimization as hf

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, resolve_spec

LRS = (0.1, 0.03)
Case = tuple[str, dict[str, Any], int]


def _torch_curve(name: str, kwargs: dict[str, Any], steps: int, metrics: list[float]) -> np.ndarray:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    opt = torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(params, LRS, strict=True)], lr=LRS[0]
    )
    if name == "get_scheduler":
        kwargs = dict(kwargs)
        sched = hf.get_scheduler(kwargs.pop("name"), opt, **kwargs)
    else:
        sched = getattr(hf, name)(opt, **kwargs)
    out = []
    for i in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if i + 1 < steps:
            sched.step(metrics[i]) if metrics else sched.step()
    return np.asarray(out, dtype=np.float64).T


def _ours(spec: dict[str, Any], steps: int, metrics: list[float] | None = None) -> np.ndarray:
    m = None if metrics is None else np.asarray(metrics, dtype=np.float64)
    return resolve_spec(spec).evaluate(EvalContext(steps, np.asarray(LRS), m)).lr


W, N = "num_warmup_steps", "num_training_steps"
L, C, HR = (
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
)
P, IS, ML, MLR, WSD = (
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_wsd_schedule",
)
CASES: list[Case] = [
    ("get_constant_schedule", {}, 20),
    ("get_constant_schedule_with_warmup", {W: 0}, 10),
    ("get_constant_schedule_with_warmup", {W: 7}, 20),
    (L, {W: 0, N: 50}, 70),
    (L, {W: 10, N: 100}, 130),
    (L, {W: 10, N: 10}, 20),
    (L, {W: 20, N: 10}, 40),
    (L, {W: 1000, N: 100_000}, 100_010),
    (C, {W: 0, N: 50}, 120),
    (C, {W: 10, N: 100}, 300),
    (C, {W: 5, N: 60, "num_cycles": 1.0}, 100),
    (C, {W: 3, N: 3}, 12),
    (C, {W: 2000, N: 100_000, "num_cycles": 0.3}, 100_000),
    (HR, {W: 0, N: 40}, 60),
    (HR, {W: 10, N: 100, "num_cycles": 3}, 130),
    (HR, {W: 7, N: 7, "num_cycles": 2}, 20),
    (HR, {W: 500, N: 100_000, "num_cycles": 7}, 100_005),
    (P, {W: 0, N: 50}, 60),
    (P, {W: 10, N: 100, "lr_end": 1e-4, "power": 2.0}, 130),
    (P, {W: 5, N: 40, "lr_end": 0.0, "power": 0.5}, 60),
    (P, {W: 5, N: 40, "lr_end": 1e-3, "power": 3.7}, 60),
    (P, {W: 10, N: 10}, 10),
    (P, {W: 1000, N: 100_000, "power": 1.5}, 100_010),
    (IS, {W: 0}, 30),
    (IS, {W: 10}, 60),
    (IS, {W: 10, "timescale": 3}, 60),
    (IS, {W: 4000}, 100_000),
    (ML, {W: 0, N: 50, "min_lr_rate": 0.1}, 120),
    (ML, {W: 10, N: 100, "min_lr": 1e-3}, 130),
    (ML, {W: 10, N: 100, "min_lr": 1e-3, "num_cycles": 1.0}, 130),
    (ML, {W: 8, N: 8, "min_lr_rate": 0.05}, 20),
    (ML, {W: 1000, N: 100_000, "min_lr_rate": 0.01}, 100_000),
    (MLR, {W: 0, N: 50, "min_lr_rate": 0.1}, 70),
    (MLR, {W: 1, N: 50, "min_lr_rate": 0.1}, 70),
    (MLR, {W: 10, N: 100, "min_lr": 1e-3}, 130),
    (MLR, {W: 10, N: 100, "min_lr_rate": 0.0, "warmup_lr_rate": 0.1}, 130),
    (MLR, {W: 1, N: 20, "min_lr_rate": 0.2, "warmup_lr_rate": 0.5}, 30),
    (MLR, {W: 1000, N: 100_000, "min_lr_rate": 0.01}, 100_000),
    (WSD, {W: 10, "num_decay_steps": 20, N: 100}, 120),
    (WSD, {W: 0, "num_decay_steps": 0, N: 30}, 40),
    (WSD, {W: 10, "num_decay_steps": 20, "num_stable_steps": 30,
           "warmup_type": "cosine", "decay_type": "linear", "min_lr_ratio": 0.1}, 80),
    (WSD, {W: 10, "num_decay_steps": 30, N: 100, "warmup_type": "1-sqrt",
           "decay_type": "1-sqrt", "min_lr_ratio": 0.05}, 120),
    (WSD, {W: 10, "num_decay_steps": 30, N: 30}, 60),
    (WSD, {W: 4, "num_decay_steps": 16, N: 40, "num_cycles": 1.0, "min_lr_ratio": 0.2}, 50),
    (WSD, {W: 1000, "num_decay_steps": 20_000, N: 100_000}, 100_000),
]  # fmt: skip


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_matches_transformers(index: int) -> None:
    name, kwargs, steps = CASES[index]
    expected = _torch_curve(name, kwargs, steps, [])
    got = _ours({"type": name, **kwargs}, steps)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(got, expected)  # and in fact bit-for-bit


def _metrics(seed: int, n: int) -> list[float]:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, 1.0, n)) * 0.05
    trend = np.r_[np.linspace(2.0, 1.0, n // 3), np.full(n - n // 3, 1.0)]
    return [float(v) for v in trend + walk]


METRIC_CASES: list[Case] = [
    ("get_reduce_on_plateau_schedule", {}, 300),
    ("get_reduce_on_plateau_schedule", {"patience": 0, "cooldown": 3, "factor": 0.5}, 200),
    ("get_reduce_on_plateau_schedule", {"mode": "max", "threshold_mode": "abs",
                                        "threshold": 0.01, "patience": 2, "min_lr": [0.02, 0.0]},
     300),
    ("get_reduce_on_plateau_schedule", {"patience": 1, "eps": 0.005, "factor": 0.9}, 200),
    ("get_greedy_schedule", {}, 400),
    ("get_greedy_schedule", {"patience": 2, "cooldown": 2, "warmup": 1, "factor": 0.8,
                             "min_lr": 1e-3, "max_lr": [0.5, 0.05]}, 400),
    ("get_greedy_schedule", {"patience": 0, "factor": 0.5, "min_lr": 0.01, "reset_start": 3,
                             "threshold_mode": "rel", "mode": "max"}, 300),
    ("get_greedy_schedule", {"smooth": True, "window_size": 7, "patience": 3}, 400),
]  # fmt: skip


@pytest.mark.parametrize("index", range(len(METRIC_CASES)))
def test_metric_driven_matches_transformers(index: int) -> None:
    name, kwargs, steps = METRIC_CASES[index]
    metrics = _metrics(index, steps)
    expected = _torch_curve(name, kwargs, steps, metrics)
    got = _ours({"type": name, **kwargs}, steps, metrics)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got)) > 3, "the case must actually move the lr"


SCHEDULER_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("linear", {W: 5, N: 30}, 40),
    ("cosine", {W: 5, N: 30, "scheduler_specific_kwargs": {"num_cycles": 1.5}}, 40),
    ("cosine_with_restarts", {W: 5, N: 30, "scheduler_specific_kwargs": {"num_cycles": 2}}, 40),
    ("polynomial", {W: 5, N: 30, "scheduler_specific_kwargs": {"power": 2.0}}, 40),
    ("constant", {W: 5, N: 30, "scheduler_specific_kwargs": {"ignored": 1}}, 10),
    ("constant_with_warmup", {W: 5}, 10),
    ("inverse_sqrt", {W: 5, "scheduler_specific_kwargs": {"timescale": 2}}, 20),
    ("cosine_with_min_lr", {W: 5, N: 30, "scheduler_specific_kwargs": {"min_lr": 1e-3}}, 40),
    ("cosine_warmup_with_min_lr", {W: 5, N: 30,
                                   "scheduler_specific_kwargs": {"min_lr_rate": 0.1}}, 40),
    ("warmup_stable_decay", {W: 5, N: 30, "scheduler_specific_kwargs": {"num_decay_steps": 10}},
     40),
]  # fmt: skip


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=[c[0] for c in SCHEDULER_CASES])
def test_get_scheduler_dispatches_as_transformers(case: tuple[str, dict[str, Any], int]) -> None:
    name, kwargs, steps = case
    got = _ours({"type": "get_scheduler", "name": name, **kwargs}, steps)
    np.testing.assert_array_equal(
        got, _torch_curve("get_scheduler", {"name": name, **kwargs}, steps, [])
    )


def test_get_scheduler_metric_driven() -> None:
    metrics = _metrics(3, 100)
    spec = {"name": "reduce_lr_on_plateau", "scheduler_specific_kwargs": {"patience": 2}}
    expected = _torch_curve("get_scheduler", spec, 100, metrics)
    np.testing.assert_array_equal(_ours({"type": "get_scheduler", **spec}, 100, metrics), expected)


def _library_raises(call: Callable[[], Any]) -> str:
    with pytest.raises((ValueError, TypeError, ZeroDivisionError)) as raised:
        call()
    return type(raised.value).__name__


ERROR_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    (P, {W: 10, N: 10}, 11, "num_training_steps"),
    (P, {W: 0, N: 10, "lr_end": 0.5}, 5, "lr_end"),
    (ML, {W: 0, N: 10}, 5, "min_lr_rate"),
    (ML, {W: 0, N: 10, "min_lr": 0.1, "min_lr_rate": 0.1}, 5, "min_lr"),
    (WSD, {W: 0, "num_decay_steps": 5}, 5, "num_training_steps"),
    ("get_reduce_on_plateau_schedule", {"factor": 1.0}, 5, "factor"),
    ("get_greedy_schedule", {"max_lr": [1.0]}, 5, "max_lr"),
    ("get_scheduler", {"name": "linear", W: 5}, 5, "num_training_steps"),
    ("get_scheduler", {"name": "cosine"}, 5, "num_warmup_steps"),
    ("get_scheduler", {"name": "linear", W: 5, N: 9,
                       "scheduler_specific_kwargs": {"num_cycles": 2}}, 5,
     "scheduler_specific_kwargs.num_cycles"),
]  # fmt: skip


@pytest.mark.parametrize("case", ERROR_CASES, ids=[f"{c[0]}-{c[3]}" for c in ERROR_CASES])
def test_library_errors_become_invalid_argument(case: tuple[str, dict[str, Any], int, str]) -> None:
    name, kwargs, steps, field = case
    metric_driven = name in ("get_reduce_on_plateau_schedule", "get_greedy_schedule")
    metrics = [1.0] * steps if metric_driven else []
    _library_raises(lambda: _torch_curve(name, kwargs, steps, metrics))
    with pytest.raises(InvalidArgument) as raised:
        _ours({"type": name, **kwargs}, steps, [1.0] * steps)
    assert raised.value.field == f"schedule.{field}"


def test_polynomial_zero_span_is_fine_before_step_n() -> None:
    # N == W divides by zero only when step N is evaluated.
    expected = _torch_curve(P, {W: 10, N: 10}, 10, [])
    np.testing.assert_array_equal(_ours({"type": P, W: 10, N: 10}, 10), expected)


def test_optimizer_lr_makes_the_hidden_input_explicit() -> None:
    """transformers reads optimizer.defaults['lr'] (here 0.2, no group has it)."""
    ps = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    opt = torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(ps, LRS, strict=True)], lr=0.2
    )
    sched = hf.get_polynomial_decay_schedule_with_warmup(opt, 2, 10, lr_end=0.01, power=2.0)  # type: ignore[no-untyped-call]
    expected = []
    for _ in range(15):
        expected.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    spec = {"type": P, W: 2, N: 10, "lr_end": 0.01, "power": 2.0, "optimizer_lr": 0.2}
    np.testing.assert_array_equal(_ours(spec, 15), np.asarray(expected).T)
    assert not math.isclose(_ours({**spec, "optimizer_lr": None}, 15)[1, -1], expected[-1][1])


def test_metric_driven_needs_metrics() -> None:
    with pytest.raises(InvalidArgument) as raised:
        _ours({"type": "get_greedy_schedule"}, 10, [1.0] * 3)
    assert raised.value.field == "metrics"


def test_ten_million_steps_vectorised() -> None:
    lr = _ours({"type": C, W: 1000, N: 10_000_000}, 10_000_000)
    assert lr.shape == (2, 10_000_000) and lr[0, 1000] == 0.1 and lr[0, -1] > 0


LONG_STEPS = 300_000  # past 2 * 2**17: the compiled lambdas run on several threads


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (L, {W: 30_000, N: 250_000}),
        (C, {W: 30_000, N: 250_000, "num_cycles": 0.7}),
        (HR, {W: 1_000, N: 290_000, "num_cycles": 7}),
        (P, {W: 10_000, N: 280_000, "lr_end": 1e-4, "power": 2.5}),
        (P, {W: 10_000, N: 280_000, "lr_end": 1e-4, "power": 2.0}),  # squares without pow
        (IS, {W: 4_000}),
        (ML, {W: 5_000, N: 260_000, "min_lr_rate": 0.05}),
        (MLR, {W: 5_000, N: 260_000, "min_lr_rate": 0.05}),
        (MLR, {W: 5_000, N: 260_000, "min_lr_rate": 0.05, "warmup_lr_rate": 0.01}),
        (WSD, {W: 30_000, "num_decay_steps": 50_000, N: 250_000, "num_cycles": 0.7}),
        (
            WSD,
            {
                W: 20_000,
                "num_decay_steps": 90_000,
                "num_stable_steps": 150_000,
                "warmup_type": "cosine",
                "decay_type": "1-sqrt",
                "min_lr_ratio": 0.1,
            },
        ),
        (
            WSD,
            {
                W: 150_000,
                "num_decay_steps": 100_000,
                N: 200_000,  # a negative stable phase: the decay starts inside the warmup
                "warmup_type": "1-sqrt",
                "decay_type": "linear",
                "num_cycles": 1.5,
            },
        ),
    ],
    ids=[
        "linear",
        "cosine",
        "hard-restarts",
        "polynomial",
        "polynomial-squares",
        "inverse-sqrt",
        "min-lr",
        "min-lr-rate",
        "min-lr-rate-warmup",
        "wsd",
        "wsd-cosine-1-sqrt",
        "wsd-negative-stable",
    ],
)
def test_long_curves_match_the_library_lambdas(name: str, kwargs: dict[str, Any]) -> None:
    """Every value of a long curve against ``base_lr * λ(s)`` with the library's own λ."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LRS[0])
    lam = getattr(hf, name)(opt, **kwargs).lr_lambdas[0]
    expected = np.asarray([[base * lam(s) for s in range(LONG_STEPS)] for base in LRS])
    np.testing.assert_array_equal(_ours({"type": name, **kwargs}, LONG_STEPS), expected)


def test_an_infinite_cosine_angle_is_the_library_error() -> None:
    spec = {"type": C, W: 2, N: 10, "num_cycles": math.inf}
    np.testing.assert_array_equal(_ours(spec, 3)[0], [0.0, 0.05, 0.0])  # cos(nan): max -> 0
    with pytest.raises(InvalidArgument, match="math domain error at step 3"):
        _ours(spec, 6)
