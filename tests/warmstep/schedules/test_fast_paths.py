"""The engine's fast paths against their slow references, bit for bit, on random parameters.

- torch standalone chainable kinds (:mod:`..adapters.torch._fast`) vs the full simulation;
- the compiled fold (:mod:`warmstep.schedules._loops`) vs torch's expressions in Python floats,
  and long recurrences against torch itself;
- the segment products of :mod:`..adapters.torch._scan` vs a plain Python product;
- the plateau decision loop vs the original per-call loop (torch's own expressions);
- GreedyLR's fast replay vs calling ``step(metric)`` once per metric;
- the exact square and exp helpers vs Python's own ``**`` and ``math.exp``.
"""

from __future__ import annotations

import importlib.util
import math
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.warmstep.schedules._torch_reference import torch_curve
from warmstep.errors import InvalidArgument
from warmstep.schedules import (
    EvalContext,
    _loops,
    _parallel,
    prepare_compiled_loops,
    prepare_compiled_loops_soon,
    resolve_spec,
)
from warmstep.schedules._libm import (
    exp_like_python,
    log_like_python,
    pow_like_python,
    tanh_like_python,
)
from warmstep.schedules.adapters import _decision_loops as decision_loops
from warmstep.schedules.adapters import _detectron2_loops as detectron2_loops
from warmstep.schedules.adapters import _fvcore_loops as fvcore_loops
from warmstep.schedules.adapters import _plateau_scan as plateau_scan
from warmstep.schedules.adapters import _timm_loops as timm_loops
from warmstep.schedules.adapters import _transformers_loops as transformers_loops
from warmstep.schedules.adapters import _transformers_metric as greedy
from warmstep.schedules.adapters.torch import _chain, _fast, _scan, functional
from warmstep.schedules.adapters.torch import _cycle_loops as cycle_loops
from warmstep.schedules.adapters.torch import _fold_loop as fold_loop
from warmstep.schedules.adapters.torch import _polynomial_loop as polynomial_loop
from warmstep.schedules.adapters.torch._ops import ADD, AFFINE, MUL, SET, SWA, make_ops

Spec = dict[str, Any]


def _curve(spec: Spec, steps: int, base: list[float], metrics: Any = None) -> np.ndarray:
    context = EvalContext(steps, np.asarray(base, np.float64), metrics)
    return np.asarray(resolve_spec(spec).evaluate(context).lr)


def _torch_spec(rng: np.random.Generator, kind: str, steps: int) -> Spec:
    span = int(rng.integers(0, steps + 3))
    gamma = float(rng.choice([0.1, 0.5, 0.9, 0.97, 1.0, 1.003, float(rng.uniform(0.2, 1.2))]))
    return {
        "StepLR": {"step_size": max(span // 3, 1), "gamma": gamma},
        "MultiStepLR": {
            "milestones": rng.integers(-2, steps + 2, int(rng.integers(0, 6))).tolist(),
            "gamma": gamma,
        },
        "ConstantLR": {
            "factor": float(rng.choice([0.0, 0.25, 1 / 3, rng.uniform()])),
            "total_iters": span,
        },
        "LinearLR": {
            "start_factor": float(rng.uniform(0.01, 1.0)),
            "total_iters": span,
            "end_factor": float(rng.choice([0.0, 1.0, rng.uniform()])),
        },
        "ExponentialLR": {"gamma": gamma},
        "PolynomialLR": {"total_iters": span, "power": float(rng.choice([1.0, 2.0, 0.5, 2.7]))},
        "MultiplicativeLR": {"lr_lambda": f"{gamma} ** (step % 3) * (1 - step / {steps + 7})"},
        "LambdaLR": {"lr_lambda": f"{gamma} ** step * min(1.0, (step + 1) / 7)"},
        "CosineAnnealingLR": {  # T_max 0 raises; short periods restart (e = T+1 mod 2T)
            "T_max": int(rng.choice([0, 1, 2, max(span // 5, 1), span + 1])),
            "eta_min": float(rng.choice([0.0, 1e-3, rng.uniform(0.0, 2.0)])),
        },
        "CosineAnnealingWarmRestarts": {
            "T_0": int(rng.choice([1, 2, max(span // 4, 1), span + 1])),
            "T_mult": int(rng.integers(1, 4)),
            "eta_min": float(rng.choice([0.0, rng.uniform(0.0, 0.05)])),
        },
        "SWALR": {
            "swa_lr": float(rng.uniform(0.001, 0.5)),
            "anneal_epochs": int(rng.choice([0, 1, 2, span])),
            "anneal_strategy": str(rng.choice(["cos", "linear"])),
        },
    }[kind] | {"type": kind}


@pytest.mark.parametrize(
    "kind",
    [
        "StepLR",
        "MultiStepLR",
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "PolynomialLR",
        "MultiplicativeLR",
        "LambdaLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "SWALR",
    ],
)
def test_torch_standalone_matches_simulation(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(len(kind))
    for _ in range(60):
        steps = int(rng.integers(0, 400))
        base = rng.uniform(0.001, 1.0, int(rng.integers(1, 3))).tolist()
        spec = _torch_spec(rng, kind, steps)
        fast = _curve_or_error(spec, steps, base)
        with monkeypatch.context() as patch:
            patch.setattr(_chain, "FAST_PATHS", False)
            slow = _curve_or_error(spec, steps, base)
        if isinstance(slow, str):
            assert fast == slow, spec
        else:
            np.testing.assert_array_equal(fast, slow, err_msg=str(spec))


def _closed_form_spec(rng: np.random.Generator, kind: str, steps: int) -> Spec:
    span = int(rng.integers(1, steps + 3))
    return {
        "CyclicLR": {
            "base_lr": float(rng.uniform(0.001, 0.05)),
            "max_lr": float(rng.uniform(0.05, 1.0)),
            "step_size_up": max(span // 4, 1),
            "step_size_down": [None, max(span // 3, 1)][int(rng.integers(0, 2))],
            "mode": str(rng.choice(["triangular", "triangular2", "exp_range"])),
            "gamma": float(rng.uniform(0.99, 1.0)),
            "cycle_momentum": bool(rng.integers(0, 2)),
        },
        "OneCycleLR": {
            "max_lr": float(rng.uniform(0.01, 1.0)),
            "total_steps": steps + int(rng.integers(-3, 5)),  # steps - 1 past it raises
            "pct_start": float(rng.uniform(0.05, 0.5)),
            "anneal_strategy": str(rng.choice(["cos", "linear"])),
            "three_phase": bool(rng.integers(0, 2)),
            "cycle_momentum": bool(rng.integers(0, 2)),
        },
        "CosineAnnealingWarmRestarts": {
            "T_0": max(span // 3, 1),
            "T_mult": int(rng.integers(1, 3)),
            "eta_min": float(rng.choice([0.0, rng.uniform(0.0, 0.01)])),
        },
    }[kind] | {"type": kind}


@pytest.mark.parametrize("kind", ["CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"])
def test_torch_closed_form_writes_match_the_replay(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kinds whose every call sets the lr skip the replay and the momentum's forward fill (and
    CyclicLR and OneCycleLR alone are one compiled pass from the epoch): the curves (lr and
    momentum) are the replayed ones bit for bit, and so are the errors."""
    rng = np.random.default_rng(len(kind) + 1)
    for _ in range(60):
        steps = int(rng.integers(1, 400))
        base = rng.uniform(0.001, 1.0, int(rng.integers(1, 3))).tolist()
        spec = _closed_form_spec(rng, kind, steps)
        context = EvalContext(steps, np.asarray(base, np.float64))
        fast = _evaluation_or_error(spec, context)
        with monkeypatch.context() as patch:
            patch.setattr(_chain, "FAST_PATHS", False)
            slow = _evaluation_or_error(spec, context)
        if isinstance(slow, str) or isinstance(fast, str):
            assert fast == slow, spec
            continue
        np.testing.assert_array_equal(fast.lr, slow.lr, err_msg=str(spec))
        assert (fast.momentum is None) == (slow.momentum is None), spec
        if slow.momentum is not None:
            np.testing.assert_array_equal(fast.momentum, slow.momentum, err_msg=str(spec))


def _evaluation_or_error(spec: Spec, context: EvalContext) -> Any:
    try:
        return resolve_spec(spec).evaluate(context)
    except InvalidArgument as error:
        return str(error)


def _curve_or_error(spec: Spec, steps: int, base: list[float]) -> np.ndarray | str:
    try:
        return _curve(spec, steps, base)
    except InvalidArgument as error:
        return str(error)


@pytest.mark.parametrize("composite", ["SequentialLR", "ChainedScheduler"])
def test_torch_composite_merges_match_general_merge(
    composite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(len(composite))
    kinds = [
        "StepLR",
        "ExponentialLR",
        "LinearLR",
        "ConstantLR",
        "PolynomialLR",
        "MultiplicativeLR",
        "LambdaLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "SWALR",
    ]
    for _ in range(80):
        steps = int(rng.integers(1, 300))
        children = [
            _torch_spec(rng, str(rng.choice(kinds)), steps) for _ in range(int(rng.integers(1, 4)))
        ]
        spec: Spec = {"type": composite, "schedulers": children}
        if composite == "SequentialLR":
            cuts = rng.integers(0, steps + 2, len(children) - 1)
            spec["milestones"] = (np.sort(cuts) if rng.uniform() < 0.8 else cuts).tolist()
        base = rng.uniform(0.001, 1.0, int(rng.integers(1, 3))).tolist()
        fast = _curve_or_error(spec, steps, base)
        with monkeypatch.context() as patch:
            patch.setattr(_chain, "FAST_PATHS", False)
            slow = _curve_or_error(spec, steps, base)
        if isinstance(slow, str):
            assert fast == slow, spec
        else:
            np.testing.assert_array_equal(fast, slow, err_msg=str(spec))


def _random_writes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Runs of one kind (random lengths), AFFINE runs with one eta_min each."""
    kinds: list[int] = []
    a: list[float] = []
    b: list[float] = []
    c: list[float] = []
    while len(kinds) < n:
        k = int(rng.choice([SET, MUL, AFFINE, ADD, SWA], p=[0.1, 0.3, 0.4, 0.1, 0.1]))
        length = int(rng.integers(1, 200))
        eta = float(rng.choice([0.0, 1e-3, rng.uniform(0, 0.1)]))
        kinds += [k] * length
        a += (rng.normal(0, 1e-3, length) if k == ADD else rng.uniform(0.9, 1.0, length)).tolist()
        b += [eta] * length if k != SWA else rng.uniform(0, 1, length).tolist()
        c += rng.uniform(0.01, 0.1, length).tolist()
    return (
        np.asarray(kinds[:n], np.int64),
        np.asarray(a[:n], np.float64),
        np.asarray(b[:n], np.float64),
        np.asarray(c[:n], np.float64),
    )


def _fold_reference(lr: float, kind: Any, a: Any, b: Any, c: Any) -> np.ndarray:
    """torch's write expressions, one Python float operation per write."""
    out = []
    for k, x, y, z in zip(kind.tolist(), a.tolist(), b.tolist(), c.tolist(), strict=True):
        if k == MUL:
            lr = lr * x
        elif k == AFFINE:
            lr = x * (lr - y) + y
        elif k == SET:
            lr = x
        elif k == ADD:
            lr = lr + x
        else:
            lr = z * y + z * (1 - y) if x == 1 else z * y + (lr - x * z) / (1 - x) * (1 - y)
        out.append(lr)
    return np.asarray(out, np.float64)


def test_compiled_fold_matches_python_floats() -> None:
    rng = np.random.default_rng(7)
    for n in [0, 1, 5, 64, 3000, 20000]:
        kind, a, b, c = _random_writes(rng, n)
        a[rng.uniform(size=n) < 0.01] = 1.0  # SWA's settled weight, MUL by exactly 1
        lr = float(rng.uniform(0.01, 1))
        expected = _fold_reference(lr, kind, a, b, c)
        np.testing.assert_array_equal(fold_loop.fold_writes(lr, kind, a, b, c), expected)


def test_compiled_fold_reads_broadcast_parameters() -> None:
    kind = np.full(1000, AFFINE, np.int64)
    a = np.random.default_rng(2).uniform(0.9, 1.0, 1000)
    eta = np.broadcast_to(np.float64(1e-3), (1000,))  # read-only, stride 0
    got = fold_loop.fold_writes(0.1, kind, a, eta, eta)
    np.testing.assert_array_equal(got, _fold_reference(0.1, kind, a, eta.copy(), eta.copy()))


def test_writes_broadcast_their_scalars_read_only() -> None:
    ops = make_ops(AFFINE, np.full((2, 5), 0.5), 1e-3)
    assert ops.kind.tolist() == [AFFINE] * 5 and ops.b.shape == ops.c.shape == (2, 5)
    assert (ops.b == 1e-3).all() and (ops.c == 0.0).all() and np.isnan(ops.momentum).all()
    for shared in (ops.kind, ops.b, ops.c, ops.momentum):
        with pytest.raises(ValueError, match="read-only"):
            shared[..., 0] = 1


@pytest.mark.parametrize("milestones", [[5, 5, 12], [0, 3, 40], [1, 2, 3], [30, 60, 90]])
def test_sequential_children_as_slices_match_torch(milestones: list[int]) -> None:
    spec = {
        "type": "SequentialLR",
        "milestones": milestones,
        "schedulers": [
            {"type": "LinearLR", "start_factor": 0.1, "total_iters": 4},
            {"type": "CosineAnnealingLR", "T_max": 7, "eta_min": 0.01},
            {"type": "ExponentialLR", "gamma": 0.9},
            {"type": "CosineAnnealingLR", "T_max": 20},
        ],
    }
    expected, _ = torch_curve(spec, 120, [0.1, 0.5])
    np.testing.assert_array_equal(_curve(spec, 120, [0.1, 0.5]), expected)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "CosineAnnealingWarmRestarts", "T_0": 7, "T_mult": 2, "eta_min": 0.001},
        {"type": "CosineAnnealingWarmRestarts", "T_0": 1, "T_mult": 3},
        {"type": "CosineAnnealingWarmRestarts", "T_0": 13, "eta_min": 0.02},
        {"type": "OneCycleLR", "max_lr": [0.1, 0.3], "total_steps": 3000, "three_phase": True},
        {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 3000, "anneal_strategy": "linear"},
    ],
    ids=["restarts-x2", "restarts-x3", "restarts-x1", "onecycle-3phase", "onecycle-linear"],
)
def test_closed_form_cycles_match_torch(spec: Spec) -> None:
    """Cycles computed a slice at a time over thousands of steps, lr and momentum, vs torch."""
    _assert_matches_torch(spec, 3000)


def _assert_matches_torch(spec: Spec, steps: int) -> None:
    """lr and momentum over ``steps`` steps for two groups, bit for bit torch's."""
    expected, momentum = torch_curve(spec, steps, [0.1, 0.37])
    curve = resolve_spec(spec).evaluate(EvalContext(steps, np.array([0.1, 0.37])))
    np.testing.assert_array_equal(curve.lr, expected)
    if curve.momentum is not None:
        np.testing.assert_array_equal(curve.momentum, momentum)


@pytest.mark.parametrize(
    "children",
    [
        [
            {"type": "ConstantLR", "factor": 0.5, "total_iters": 40},
            {"type": "ExponentialLR", "gamma": 0.999},
        ],
        [
            {"type": "CosineAnnealingLR", "T_max": 37, "eta_min": 0.01},
            {"type": "StepLR", "step_size": 50},
        ],
        [
            {"type": "LinearLR", "start_factor": 0.2, "total_iters": 30},
            {"type": "SWALR", "swa_lr": 0.05, "anneal_epochs": 25},
            {"type": "MultiplicativeLR", "lr_lambda": "0.999"},
        ],
    ],
    ids=["constant-exponential", "cosine-step", "linear-swa-multiplicative"],
)
def test_chained_writers_folded_step_by_step_match_torch(children: list[Spec]) -> None:
    spec = {"type": "ChainedScheduler", "schedulers": children}
    expected, _ = torch_curve(spec, 2000, [0.1, 0.37])
    np.testing.assert_array_equal(_curve(spec, 2000, [0.1, 0.37]), expected)


def test_the_loop_cache_follows_every_engine_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop's cache holds the helpers it calls from other files, which numba does not check:
    the cache folder is named after all the engine's sources, so any change starts afresh."""
    import numba

    (tmp_path / "adapters").mkdir()
    (tmp_path / "_loops.py").write_text("x = 1\n")
    (tmp_path / "adapters" / "_loop.py").write_text("y = 2\n")
    before = _loops.sources_digest(tmp_path)
    (tmp_path / "_loops.py").write_text("x = 3\n")  # a helper changes, its callers do not
    changed = _loops.sources_digest(tmp_path)
    (tmp_path / "adapters" / "_loop.py").rename(tmp_path / "adapters" / "_other.py")
    assert len({before, changed, _loops.sources_digest(tmp_path)}) == 3
    assert _loops.cache_folder() == numba.config.CACHE_DIR
    assert Path(_loops.cache_folder()).name.startswith("loops-")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert Path(_loops.cache_folder()).parent == tmp_path


def test_prepare_compiled_loops_compiles_every_loop() -> None:
    prepare_compiled_loops_soon().join()
    prepare_compiled_loops()  # again: loaded already
    assert len(fold_loop._fold_steps.signatures) >= 2  # writable and read-only parameters
    assert decision_loops._plateau_reductions.signatures and decision_loops._greedy.signatures
    assert _loops._powers.signatures and _loops._unary.signatures
    assert transformers_loops._cosine.signatures and transformers_loops._polynomial.signatures
    assert cycle_loops._cyclic.signatures and cycle_loops._phase.signatures
    assert polynomial_loop._factors.signatures
    assert timm_loops._cycles.signatures and fvcore_loops._span.signatures
    assert detectron2_loops._cosine.signatures


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "CosineAnnealingLR", "T_max": 5000, "eta_min": 0.0013},
        {"type": "CosineAnnealingLR", "T_max": 7, "eta_min": 0.02},
        {"type": "CosineAnnealingLR", "T_max": 5000},  # eta_min 0: a plain product
        {"type": "CosineAnnealingLR", "T_max": 7, "eta_min": 0.0},  # restarts every 14
        {"type": "SWALR", "swa_lr": 0.05, "anneal_epochs": 3000},
        {"type": "SWALR", "swa_lr": [0.05, 0.2], "anneal_epochs": 40, "anneal_strategy": "linear"},
    ],
    ids=[
        "cosine-long",
        "cosine-short-period",
        "cosine-no-eta",
        "cosine-no-eta-short-period",
        "swalr-cos",
        "swalr-linear",
    ],
)
def test_long_recurrences_match_torch(spec: Spec) -> None:
    """Thousands of history-dependent writes in a row, folded in compiled code, against torch."""
    expected, _ = torch_curve(spec, 12_000, [0.1, 0.37])
    np.testing.assert_array_equal(_curve(spec, 12_000, [0.1, 0.37]), expected)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "ExponentialLR", "gamma": 0.9999},
        {"type": "MultiplicativeLR", "lr_lambda": "0.9999"},
        {"type": "MultiplicativeLR", "lr_lambda": "0.9999 if step % 3 else 1.0002"},
        {
            "type": "ChainedScheduler",
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.5, "total_iters": 900},
                {"type": "ExponentialLR", "gamma": 0.99995},
                {"type": "StepLR", "step_size": 7000, "gamma": 0.3},
                {"type": "LambdaLR", "lr_lambda": "1.0 if step < 15000 else 0.5"},
                {"type": "MultiplicativeLR", "lr_lambda": "0.99999"},
            ],
        },
        {
            "type": "CyclicLR",
            "base_lr": [0.01, 0.02],
            "max_lr": 0.1,
            "step_size_up": 1500,
            "step_size_down": 2200,
            "mode": "triangular2",
        },
        {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 999},
        {"type": "OneCycleLR", "max_lr": [0.1, 0.3], "total_steps": 20_000, "three_phase": True},
        {"type": "LambdaLR", "lr_lambda": "min(1.0, (step + 1) / 5000) * 0.99999 ** step"},
        {"type": "LambdaLR", "lr_lambda": ["(step % 700) / 700", "1 - step / 30000"]},
        {"type": "LambdaLR", "lr_lambda": "min(1.0, (step + 1) / 5000)"},
        {
            "type": "LambdaLR",
            "lr_lambda": ["step / 3000 if step < 3000 else 1.0", "max(0.05, 1 - step / 12000)"],
        },
        {"type": "PolynomialLR", "total_iters": 15_000, "power": 2.0},
        {"type": "PolynomialLR", "total_iters": 30_000, "power": 0.5},
        {"type": "CosineAnnealingWarmRestarts", "T_0": 100, "T_mult": 2, "eta_min": 0.001},
        {"type": "CosineAnnealingWarmRestarts", "T_0": 333},
        {"type": "LinearLR", "start_factor": 0.01, "total_iters": 17_000},
        {"type": "CosineAnnealingLR", "T_max": 777, "eta_min": 0.001},
        {"type": "CosineAnnealingLR", "T_max": 1_250},
        {
            "type": "SequentialLR",
            "milestones": [3_001],
            "schedulers": [
                {"type": "PolynomialLR", "total_iters": 2_000, "power": 2.0},
                {"type": "PolynomialLR", "total_iters": 40_000, "power": 0.5},
            ],
        },
        {"type": "LinearLR", "start_factor": 0.3, "end_factor": 0.05, "total_iters": 25_000},
        {"type": "MultiStepLR", "milestones": [3, 3, 900, 12_000, 12_000, 12_000], "gamma": 0.7},
        {
            "type": "SequentialLR",
            "milestones": [16_500],
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.02, "total_iters": 16_500},
                {"type": "CosineAnnealingLR", "T_max": 3_000, "eta_min": 0.001},
            ],
        },
    ],
    ids=[
        "exponential",
        "multiplicative-constant",
        "multiplicative",
        "chained",
        "cyclic-triangular2",
        "cyclic",
        "onecycle",
        "lambda",
        "lambda-per-group",
        "lambda-warmup-decided",
        "lambda-per-group-decided",
        "polynomial-squares",
        "polynomial-root",
        "warm-restarts-x2",
        "warm-restarts-x1",
        "linear-ramp-folded",
        "cosine-restarts-in-later-slices",
        "cosine-no-eta-restart-on-a-slice-edge",
        "sequential-polynomials",
        "linear-ramp-past-the-curve",
        "multistep-repeated-milestones",
        "sequential-folded-ramp-then-cosine",
    ],
)
def test_long_compiled_curves_match_torch(spec: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the length where a factor at every call is folded in compiled code, and the
    closed-form cycles written by several threads (slices of 1,024 epochs here): lr and
    momentum against torch."""
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)
    monkeypatch.setattr(functional, "BLOCK", 4096)  # lambdas a block of steps at a time
    _assert_matches_torch(spec, 20_000)


@pytest.mark.parametrize(
    ("total_iters", "power", "steps"),
    [
        (10, -1.0, 20),
        (10, -1.0, 10),
        (10, -2.5, 11),
        (30, 1e300, 25),
        (30, -1e-300, 40),
        (10, 1030.0, 12),  # a subnormal factor: Python's ** returns it too
        (10, -1100.0, 10),  # 0.5 ** -1100 overflows: Python raises, as torch would
    ],
)
def test_polynomial_factors_fail_or_not_as_the_simulation(
    total_iters: int, power: float, steps: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative powers reach 0.0 ** power at e = total_iters; huge powers underflow or
    overflow, where Python's ``**`` (not the C library's ``pow``) decides."""
    spec = {"type": "PolynomialLR", "total_iters": total_iters, "power": power}
    fast = _curve_or_error(spec, steps, [0.1, 0.3])
    monkeypatch.setattr(_chain, "FAST_PATHS", False)
    slow = _curve_or_error(spec, steps, [0.1, 0.3])
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
    else:
        np.testing.assert_array_equal(fast, slow)


def test_a_polynomial_overflow_in_a_later_slice_is_the_simulation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Factors on several threads, folded slice by slice: Python's own ``**`` where the
    compiled pass flagged a factor (from epoch ~28,600 here it overflows), raising the error
    the step-by-step simulation raises."""
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)
    spec = {"type": "PolynomialLR", "total_iters": 30_000, "power": -1e6}
    fast = _curve_or_error(spec, 29_000, [0.1, 0.3])
    monkeypatch.setattr(_chain, "FAST_PATHS", False)
    assert isinstance(fast, str) and fast == _curve_or_error(spec, 29_000, [0.1, 0.3])


def test_a_fold_refuses_fewer_factors_than_steps() -> None:
    """The compiled loops read one factor per step and do not check bounds: short input is
    refused before them (sparse children list their own calls)."""
    with pytest.raises(ValueError, match="3 factors for 4 steps"):
        fold_loop.chained_multipliers(1.0, [(None, np.ones(3), False)], np.empty(4))
    out = np.empty(4)
    fold_loop.chained_multipliers(1.0, [(np.array([2]), np.array([0.5]), False)], out)
    assert out.tolist() == [1.0, 1.0, 0.5, 0.5]


@pytest.mark.parametrize(
    "calls",
    [
        np.arange(20_000),  # a factor at every call: folded
        np.concatenate([[0, 0], np.arange(2, 19_999)]),  # from 0 to count - 1, one repeated
        np.arange(3, 20_003, 2),  # every other call: multiplied, then repeated
        np.array([0, 4, 4, 9]),  # few runs: filled one by one
    ],
    ids=["dense", "dense-looking-with-a-repeat", "sparse", "few-runs"],
)
def test_multipliers_expand_into_a_block_as_a_python_loop(calls: np.ndarray) -> None:
    """Each path of ``expand_into`` (a compiled fold for factors at the first calls, numpy's
    products and repeats, fills for a few runs) against ``lr *= factor`` call by call, into a
    block of a wider curve (a SequentialLR child's)."""
    rng = np.random.default_rng(calls.shape[0])
    factors = rng.uniform(0.999, 1.001, (2, calls.shape[0]))
    lr0, steps = np.array([0.1, 0.37]), int(calls[-1]) + 40
    wide = np.full((2, steps + 10), -1.0)
    _fast.expand_into(lr0, _fast.Multipliers(calls, factors), wide[:, 5 : 5 + steps])
    for g in range(2):
        lr, expected, j = float(lr0[g]), [float(lr0[g])], 0
        for call in range(steps - 1):
            while j < calls.shape[0] and calls[j] == call:
                lr *= float(factors[g, j])
                j += 1
            expected.append(lr)
        np.testing.assert_array_equal(wide[g, 5 : 5 + steps], expected)
    assert (wide[:, :5] == -1.0).all() and (wide[:, 5 + steps :] == -1.0).all()


def test_a_lambda_error_in_a_later_block_names_the_same_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(functional, "BLOCK", 4096)
    spec = {"type": "LambdaLR", "lr_lambda": "1 / (step - 9000) + 1 / (step - 13000)"}
    fast = _curve_or_error(spec, 20_000, [0.1])
    monkeypatch.setattr(_chain, "FAST_PATHS", False)
    assert fast == _curve_or_error(spec, 20_000, [0.1])
    assert isinstance(fast, str) and "step=9000" in fast


def test_a_long_cosine_annealing_matches_torch_on_every_core() -> None:
    """Past two slices of 2**17 epochs: the cosine ratios come from several threads (each slice
    computes the one cosine before it), the fold runs once over all of them."""
    spec = {"type": "CosineAnnealingLR", "T_max": 120_000, "eta_min": 1e-3}
    expected, _ = torch_curve(spec, 300_000, [0.1])
    np.testing.assert_array_equal(_curve(spec, 300_000, [0.1]), expected)


def test_segment_products_match_python() -> None:
    rng = np.random.default_rng(3)
    for n in [1, 2, 10, 1000, 1000, 5000]:
        kinds = np.where(rng.uniform(size=n) < rng.choice([0.002, 0.02, 0.5, 1.0]), SET, MUL)
        kinds[0] = SET
        values = rng.uniform(0.5, 1.5, (2, n))
        expected = values.copy()
        for i in range(1, n):
            if kinds[i] == MUL:
                expected[:, i] = expected[:, i - 1] * values[:, i]
        np.testing.assert_array_equal(_scan._segment_products(values, kinds), expected)


def _plateau_reference(p: Spec, metrics: list[float], base: list[float]) -> np.ndarray:
    """torch ReduceLROnPlateau.step(metric), call by call (its own expressions)."""
    th, mode, rel = p["threshold"], p["mode"], p["threshold_mode"] == "rel"
    lrs, best = list(base), (math.inf if mode == "min" else -math.inf)
    bad = cooldown = 0
    out = [list(lrs)]
    for a in metrics:
        if mode == "min":
            better = a < best * (1.0 - th) if rel else a < best - th
        else:
            better = a > best * (th + 1.0) if rel else a > best + th
        best, bad = (a, 0) if better else (best, bad + 1)
        if cooldown > 0:
            cooldown, bad = cooldown - 1, 0
        if bad > p["patience"]:
            new = [max(old * p["factor"], 0.0) for old in lrs]
            lrs = [n if o - n > p["eps"] else o for o, n in zip(lrs, new, strict=True)]
            cooldown, bad = p["cooldown"], 0
        out.append(list(lrs))
    return np.asarray(out).T


def _metric_series(rng: np.random.Generator, n: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float64)
    noise = float(rng.choice([0.0, 0.01, 0.3]))
    series = 1.0 / (1.0 + float(rng.uniform(0, 0.05)) * i) + noise * np.sin(0.37 * i)
    if rng.uniform() < 0.3:
        series = np.round(series, 1)  # plateaus and exact ties
    return series * float(rng.choice([1.0, -1.0]))


def test_plateau_loop_matches_reference() -> None:
    rng = np.random.default_rng(11)
    for _ in range(150):
        p = {
            "mode": str(rng.choice(["min", "max"])),
            "threshold_mode": str(rng.choice(["rel", "abs"])),
            "threshold": float(rng.choice([0.0, 1e-4, 0.05])),
            "patience": int(rng.integers(-1, 6)),
            "cooldown": int(rng.integers(-1, 4)),
            "factor": float(rng.choice([0.1, 0.5, 0.9])),
            "eps": float(rng.choice([1e-8, 1e-3])),
        }
        steps = int(rng.integers(1, 300))
        metrics = _metric_series(rng, steps - 1)
        got = _curve({"type": "ReduceLROnPlateau", **p}, steps, [0.1, 0.02], metrics)
        np.testing.assert_array_equal(got, _plateau_reference(p, metrics.tolist(), [0.1, 0.02]))


@pytest.mark.parametrize("mode", ["min", "max"])
def test_long_plateau_scan_matches_torch(mode: str) -> None:
    """20,000 decisions in the compiled loop, with NaN and infinite metrics, against torch."""
    rng = np.random.default_rng(17)
    metrics = _metric_series(rng, 19_999)
    metrics[rng.uniform(size=metrics.size) < 0.002] = np.nan
    metrics[rng.uniform(size=metrics.size) < 0.001] = np.inf
    spec = {"type": "ReduceLROnPlateau", "mode": mode, "patience": 3, "factor": 0.9, "eps": 0.0}
    expected, _ = torch_curve(spec, 20_000, [0.1, 0.02], metrics=metrics.tolist())
    got = _curve(spec, 20_000, [0.1, 0.02], metrics)
    np.testing.assert_array_equal(got, expected)
    assert np.unique(got[0]).size > 10  # it did reduce, many times


def test_long_greedy_replay_matches_step_by_step() -> None:
    """30,000 calls with NaN metrics, resets and a smoothing window in the compiled loop."""
    rng = np.random.default_rng(29)
    metrics = _metric_series(rng, 29_999)
    metrics[rng.uniform(size=metrics.size) < 0.001] = np.nan
    for smooth in (False, True):
        params = greedy.GreedyParams(
            patience=2, factor=0.5, min_lr=0.01, reset_start=3, smooth=smooth, window_size=9
        )
        context = EvalContext(30_000, np.array([0.1, 0.3]), metrics)
        fast = greedy.evaluate_greedy(params, context).lr
        np.testing.assert_array_equal(fast, greedy.replay_greedy(params, context).lr)
        assert np.unique(fast[0]).size > 3


@pytest.mark.parametrize("params", [{"factor": 0.0}, {"smooth": True, "window_size": 0}])
def test_greedy_division_by_zero_is_the_library_error(params: Spec) -> None:
    spec = {"type": "get_greedy_schedule", "library": "transformers", "patience": 1, **params}
    with pytest.raises(InvalidArgument, match="ZeroDivisionError"):
        _curve(spec, 40, [0.1], np.linspace(1.0, 0.0, 39))


@pytest.mark.parametrize(
    ("start", "factor", "floor", "eps"),
    [
        (0.1, 0.5, 0.0, 1e-8),
        (0.1, 0.9, 0.0, 0.0),
        (0.1, 0.5, 0.003, 1e-8),
        (-0.0, 0.5, -0.0, -1.0),
        (0.0, 0.5, -0.0, -1.0),
        (math.nan, 0.5, 0.0, 1e-8),
        (0.1, 0.999, 1e-6, 1e-12),
    ],
)
def test_reduced_levels_stop_at_the_fixed_point(
    start: float, factor: float, floor: float, eps: float
) -> None:
    def reduce(old: float) -> float:
        new = max(old * factor, floor)
        return new if old - new > eps else old

    for count in [0, 1, 7, 50, 9000]:
        expected = [start]
        for _ in range(count):
            expected.append(reduce(expected[-1]))
        got = plateau_scan.reduced_levels(start, count, reduce)
        assert len(got) == count + 1
        assert [struct.pack("<d", v) for v in got] == [struct.pack("<d", v) for v in expected]


def test_greedy_fast_replay_matches_step_by_step() -> None:
    rng = np.random.default_rng(5)
    for _ in range(120):
        params = greedy.GreedyParams(
            mode=str(rng.choice(["min", "max"])),
            threshold_mode=str(rng.choice(["rel", "abs"])),
            threshold=float(rng.choice([0.0, 1e-6, 0.01])),
            patience=int(rng.integers(0, 6)),
            cooldown=int(rng.integers(0, 4)),
            warmup=int(rng.integers(0, 4)),
            factor=float(rng.choice([0.5, 0.8, 0.95])),
            min_lr=float(rng.choice([1e-3, 0.05])),
            max_lr=float(rng.choice([0.2, 1.0])),
            smooth=bool(rng.uniform() < 0.6),
            window_size=int(rng.integers(1, 60)),
            reset_start=int(rng.integers(1, 8)),
        )
        steps = int(rng.integers(1, 1500))
        context = EvalContext(steps, np.array([0.1, 0.3]), _metric_series(rng, steps - 1))
        fast = greedy.evaluate_greedy(params, context).lr
        np.testing.assert_array_equal(fast, greedy.replay_greedy(params, context).lr)


def test_square_matches_python_pow() -> None:
    """Squares are IEEE products where the exact square lies clear of a halfway point, the C
    library's pow elsewhere: random values, and values n·2^-27 whose squares sit exactly on
    halfway points, quarter and eighth points between floats."""
    rng = np.random.default_rng(13)
    powers = 2.0 ** np.arange(-300, 300)
    on_grid = (2**27 + rng.integers(0, 2**27, 200_000)) * 2.0**-27
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 100_000) * rng.choice([1.0, 1e-3, 7.3, 1e5], 100_000),
            rng.uniform(0, 1, 1_000_000),
            on_grid,
            on_grid * 2.0**-500,
            1 - rng.uniform(0, 1e-6, 20_000),
            powers,
            -powers,
            np.sqrt(powers),
            np.nextafter(np.sqrt(powers), 0),
            [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 5e-324],
        ]
    )
    want = np.asarray([v**2.0 for v in x.tolist()])
    got = pow_like_python(x, np.full(x.shape, 2.0))
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    # a compiled caller whose exponent is the constant 2.0 (the optimizer sees y == 2.0)
    positive = np.abs(x[np.isfinite(x)])
    for out in (_squares_with_a_constant(positive), _squares_into(positive)):
        np.testing.assert_array_equal(out, [v**2.0 for v in positive.tolist()])


@pytest.mark.parametrize(
    ("libc", "documented"),
    [
        (("glibc", "2.36"), True),
        (("glibc", "2.28"), True),
        (("glibc", "2.27"), False),  # before its pow's stated 0.54 ulp
        (("", ""), False),  # musl and others: squares all go to pow
        (("glibc", "unknown"), False),
    ],
)
def test_squares_skip_pow_only_with_a_documented_pow(
    libc: tuple[str, str], documented: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_loops.platform, "libc_ver", lambda: libc)
    assert _loops.glibc_bounds_stated() is documented


@_loops.compiled
def _squares_with_a_constant(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _loops.c_pow(x[i], 2.0)
    return out


@_loops.compiled
def _squares_into(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _loops.c_pow_into(x, 2.0, out, x.shape[0])
    return out


def test_power_matches_python_pow() -> None:
    rng = np.random.default_rng(23)
    n = 300_000  # long enough to be split across threads
    base = np.concatenate(
        [rng.uniform(0, 2, n), [0.0, -0.0, 1.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 5e-324, 0.5]]
    )
    exponent = np.concatenate(
        [rng.uniform(-60, 60, n), [3.0, 2.0, np.nan, 0.0, 3.0, -1.0, 2.0, 0.0, 0.5, 1074.5]]
    )
    got = pow_like_python(base, exponent)
    want = [b**e for b, e in zip(base.tolist(), exponent.tolist(), strict=True)]
    assert [struct.pack("<d", v) for v in got.tolist()] == [struct.pack("<d", v) for v in want]


@pytest.mark.parametrize(
    ("base", "exponent", "error"),
    [(10.0, 400.0, OverflowError), (0.0, -1.0, ZeroDivisionError), (-8.0, 1 / 3, ValueError)],
)
def test_power_raises_what_python_raises(
    base: float, exponent: float, error: type[Exception]
) -> None:
    with pytest.raises(error):
        pow_like_python(np.array([0.5, base]), np.array([2.0, exponent]))
    with pytest.raises(error):  # one exponent for every base
        pow_like_python(np.array([0.5, base]), exponent)


@pytest.mark.parametrize("exponent", [2.0, 0.5, -1.0, 3.7, -2.0, 0.0, math.nan, math.inf, 1e300])
def test_one_exponent_for_every_base_matches_python_pow(exponent: float) -> None:
    rng = np.random.default_rng(29)
    base = np.concatenate(
        [
            rng.uniform(0, 2, 300_000),  # split across threads
            1 - rng.uniform(0, 1e-6, 1000),
            [0.0, -0.0, 1.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 5e-324, 1e-200, 1e200],
        ]
    )
    want: list[Any] = []
    for b in base.tolist():
        try:
            value = b**exponent
            want.append(ValueError if isinstance(value, complex) else value)
        except (OverflowError, ZeroDivisionError) as error:
            want.append(type(error))
    fine = [i for i, w in enumerate(want) if isinstance(w, float)]
    got = pow_like_python(base[fine], exponent)
    expected = [struct.pack("<d", want[i]) for i in fine]
    assert [struct.pack("<d", v) for v in got.tolist()] == expected
    for i in set(range(len(want))) - set(fine):  # each base Python refuses, alone
        with pytest.raises(want[i]):
            pow_like_python(base[[i]], exponent)


def test_exp_like_python_matches_math_exp() -> None:
    rng = np.random.default_rng(17)
    x = np.concatenate([-rng.uniform(0, 30, 50_000), rng.normal(0, 1, 20_000), [0.0, -0.0]])
    np.testing.assert_array_equal(exp_like_python(x), [math.exp(v) for v in x.tolist()])


def test_exp_like_python_special_values() -> None:
    x = np.array([np.nan, np.inf, -np.inf, -745.2, -800.0, 709.7, 1e-300, -0.0])
    got = exp_like_python(x)
    want = [math.exp(v) for v in x.tolist()]
    assert [struct.pack("<d", v) for v in got.tolist()] == [struct.pack("<d", v) for v in want]
    with pytest.raises(OverflowError):
        exp_like_python(np.array([1.0, 710.0]))


def test_tanh_and_log_like_python_match_math() -> None:
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.normal(0, 3, 300_000), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310]])
    want = [math.tanh(v) for v in x.tolist()]
    got = tanh_like_python(x)
    assert [struct.pack("<d", v) for v in got.tolist()] == [struct.pack("<d", v) for v in want]
    positive = np.concatenate([rng.uniform(0, 1e3, 300_000), [1.0, np.inf, 5e-324, 2.0**-1074]])
    got = log_like_python(positive)
    np.testing.assert_array_equal(got, [math.log(v) for v in positive.tolist()])
    assert np.isnan(log_like_python(np.array([np.nan]))[0])
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="math domain error"):
            log_like_python(np.array([2.0, bad]))


def test_tri_stage_looks_up_the_same_exponentials() -> None:
    rng = np.random.default_rng(19)
    for _ in range(40):
        w, h, d = (int(v) for v in rng.integers(0, 60, 3))
        final = float(rng.choice([0.01, 0.3]))
        spec = {
            "type": "tri_stage",
            "library": "fairseq",
            "warmup_steps": w,
            "hold_steps": h,
            "decay_steps": d + 1,
            "final_lr_scale": final,
            "lr": 0.7,
        }
        steps = int(rng.integers(0, 250))
        n = np.arange(steps, dtype=np.float64)
        rate = -math.log(final) / (d + 1)
        decay = 0.7 * exp_like_python(-rate * np.clip(n - w - h, 0, d + 1))
        got = _curve(spec, steps, [0.1])[0]
        in_decay = (n >= w + h) & (n <= w + h + d + 1)
        np.testing.assert_array_equal(got[in_decay], decay[in_decay])


def test_zero_underflows_stay_in_the_compiled_loops() -> None:
    """A pow or exp that underflows to exactly 0.0 is Python's own result (CPython clears the
    C library's ERANGE for a zero), so the compiled loops keep it instead of handing each such
    step to Python (``0.95 ** step`` is 0.0 from step ~14,550 on); subnormal results still go
    to Python. Values against Python, and which elements were left to it."""
    steps = np.arange(0.0, 20_000.0)
    want = [0.95**k for k in range(20_000)]
    assert pow_like_python(0.95, steps).tolist() == want
    assert pow_like_python(np.full(steps.shape, 0.95), steps).tolist() == want
    out = np.full_like(steps, np.nan)  # elements left to Python stay unwritten: select by
    left = _loops.powers(np.full(steps.shape, 0.95), steps, out)  # Python's own values
    python = np.array(want)
    zero, subnormal = python == 0.0, (python > 0.0) & (python < 2.2250738585072014e-308)
    assert zero.sum() > 5000 and not left[zero].any() and left[subnormal].all()
    assert (out[zero] == 0.0).all()
    tiny = np.array([1e-170, 1e-200, 1e-300, 1e-160, 0.5])  # squares: zero, subnormal, normal
    squares = np.empty_like(tiny)
    left = _loops.powers_of(tiny, 2.0, squares)
    assert squares[:3].tolist() == [0.0, 0.0, 0.0] and left.tolist() == [0, 0, 0, 1, 0]
    assert pow_like_python(tiny, 2.0).tolist() == [v**2.0 for v in tiny.tolist()]
    x = -np.arange(700.0, 760.0, 0.25)
    assert exp_like_python(x).tolist() == [math.exp(v) for v in x.tolist()]
    exp_out = np.full_like(x, np.nan)
    left = _loops.unary(x, exp_out, "exp")
    exp_zero = np.array([math.exp(v) == 0.0 for v in x.tolist()])
    assert not left[exp_zero].any() and exp_zero.sum() > 10 and (exp_out[exp_zero] == 0.0).all()


def test_squares_near_one_take_the_narrower_margin() -> None:
    """Squares in [2^-20, 2^20) are the product wherever the exact square lies more than 0.012
    ulp from a halfway point (0.045 ulp elsewhere): the squares 0.012-0.045 ulp from one, picked
    out exactly with fractions, are the product and equal Python's ``x ** 2.0``; about 1 in 40
    near 1 is left to pow (1 in 11 with the wider margin)."""
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.uniform(0.001, 1.0, 60_000), rng.uniform(1.0, 1000.0, 60_000)])
    square = x * x
    ulp = np.spacing(square)
    exact_error = [
        float((Fraction(v) ** 2 - Fraction(s)) / Fraction(u))
        for v, s, u in zip(x.tolist(), square.tolist(), ulp.tolist(), strict=True)
    ]
    from_halfway = 0.5 - np.abs(exact_error)  # in ulps of the square
    window = x[(from_halfway > 0.013) & (from_halfway < 0.044)]
    assert window.size > 3000
    products = _certain_squares(window)
    assert not np.isnan(products).any()  # the product, no pow
    assert products.tolist() == [v**2.0 for v in window.tolist()]
    left = np.isnan(_certain_squares(x)).mean()
    assert 0.015 < left < 0.035
    for scale in (2.0**-20, 2.0**20):  # the same digits, squares below 2^-20 and above 2^20
        wide = np.isnan(_certain_squares(x * scale)).mean()
        assert 0.07 < wide < 0.11


def _check_script() -> Any:
    """``scripts/check_certified_math.py``, whose squares the test below shares."""
    path = Path(__file__).resolve().parents[3] / "scripts" / "check_certified_math.py"
    spec = importlib.util.spec_from_file_location("check_certified_math", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_squares_of_bases_close_to_one_take_a_margin_that_shrinks_with_the_distance() -> None:
    """Within 2^-10 of 1 the margin is 0.001 + 7 |x - 1| ulp (glibc's pow is as accurate as
    that there, ``_loops``' comment says why): squares of bases 2^-13 to 2^-10 from 1 (where
    the distance term is most of the margin), built near halfway points, are the product only
    where pow agrees, and the product wherever the exact square lies outside that margin."""
    x, distance = _check_script().squares_near_halfway(20_000, seed=37, closest=2.0**-13)
    margin = 0.001 + 7 * np.abs(x - 1)
    products = _certain_squares(x)
    by_pow = np.array([v**2.0 for v in x.tolist()])
    kept = ~np.isnan(products)
    assert (products[kept] == by_pow[kept]).all()
    assert (by_pow != x * x).sum() > 10  # pow is not the product at some of them
    assert kept[distance > margin * 1.001].all()  # (0.1%: the distance is a float)
    assert (distance[kept] < 0.012).sum() > 10_000  # most within the old margin of 0.012


@_loops.compiled
def _certain_squares(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _loops._certain_square(x[i])
    return out


# Arguments where glibc 2.36's pow(x, 0.5) is not sqrt(x): the exact root lies ~0.0071-0.0076
# ulp from a halfway point (found by scanning 6e8 arguments). A margin under that would return
# sqrt's float here instead of the C library's.
POW_NOT_SQRT = [
    "0x1.ba3068d560de6p+39",
    "0x1.8d33dcda6f876p-39",
    "0x1.8d461459f1f41p-39",
    "0x1.abc26b4ab56a1p+5",
    "0x1.e2f6fc79b094cp-3",
    "0x1.e7d550942562cp-1",
    "0x1.8487c76fd9e77p-1",
    "0x1.8d2c0e95abbc5p-1",
    "0x1.67c22012277c5p-1",
    "0x1.5856e47df2dbep-1",
]


@_loops.compiled
def _roots_with_a_constant(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _loops.c_pow(x[i], 0.5)
    return out


@_loops.compiled
def _roots_into(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    _loops.c_pow_into(x, 0.5, out, x.shape[0])
    return out


@_loops.compiled
def _certain_roots(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _loops._certain_root(x[i])
    return out


def test_square_roots_match_python_pow() -> None:
    """``x ** 0.5`` is the IEEE square root where the exact root lies clear of a halfway point,
    the C library's pow elsewhere: random values over the whole range, exact squares, zeros,
    subnormals, negatives (left to Python), infinities; through pow_like_python, a compiled
    caller with the constant 0.5 and c_pow_into."""
    rng = np.random.default_rng(17)
    powers = 2.0 ** np.arange(-1070, 1020, 7.0)
    x = np.concatenate(
        [
            rng.uniform(0, 1, 1_000_000),
            np.exp(rng.uniform(-700, 700, 300_000)),
            1 - rng.uniform(0, 1e-6, 20_000),
            rng.integers(1, 2**26, 50_000).astype(np.float64) ** 2,  # exact squares
            powers,
            [0.0, -0.0, np.inf, np.nan, 1.0, 5e-324, 2.2250738585072014e-308, 1.7e308],
        ]
    )
    want = np.asarray([v**0.5 for v in x.tolist()])
    got = pow_like_python(x, 0.5)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="complex"):
        pow_like_python(np.array([4.0, -1.0]), 0.5)
    finite = x[np.isfinite(x)]
    for out in (_roots_with_a_constant(finite), _roots_into(finite)):
        np.testing.assert_array_equal(out, [v**0.5 for v in finite.tolist()])


def test_where_pow_is_not_sqrt_the_c_library_wins() -> None:
    x = np.array([float.fromhex(h) for h in POW_NOT_SQRT])
    want = [v**0.5 for v in x.tolist()]
    for out in (pow_like_python(x, 0.5), _roots_with_a_constant(x), _roots_into(x)):
        assert out.tolist() == want
    if want == np.sqrt(x).tolist():
        pytest.skip("this C library's pow(x, 0.5) is sqrt(x) at every witness")
    assert np.isnan(_certain_roots(x)).all()  # each left to pow


def test_most_square_roots_skip_pow() -> None:
    """~1 root in 40 near 1 lies within 0.012 ulp of a halfway point (plus a 2^-51 relative
    slack) and calls pow; outside [2^-20, 2^20) the margin is 0.045 ulp (~1 in 11)."""
    rng = np.random.default_rng(19)
    near = rng.uniform(0.25, 4.0, 400_000)
    left = np.isnan(_certain_roots(near)).mean()
    assert 0.015 < left < 0.035
    far = np.isnan(_certain_roots(near * 2.0**-60)).mean()
    assert 0.07 < far < 0.11
    assert np.isnan(_certain_roots(np.array([0.0, 5e-324, -1.0, np.inf, np.nan]))).all()


def _root_clear_of_halfway(x: float, root: float, margin_ulp: float) -> bool:
    """Exactly (rationals): the exact square root of ``x`` lies within ``0.5 - margin_ulp`` ulp
    of ``root`` (the ulp of ``root``'s binade), i.e. ``x`` between the squares of those bounds."""
    ulp = Fraction(math.ulp(root))
    reach = (Fraction(1, 2) - Fraction(margin_ulp)) * ulp
    low, high = Fraction(root) - reach, Fraction(root) + reach
    return low * low < Fraction(x) < high * high


def test_root_certificate_against_exact_arithmetic() -> None:
    """The certificate (a remainder against a product, no division) keeps sqrt's float exactly
    where the exact root lies farther than the margin from a halfway point: checked with
    rationals on random arguments in both margins' ranges, just above and below powers of
    four (roots at and under powers of two) and around 1. About 1 in 40 lies within the margin.
    A bound off by a factor of two either way, or without the margin, fails it."""
    rng = np.random.default_rng(23)
    fours = 4.0 ** rng.integers(-30, 30, 2000).astype(np.float64)
    x = np.concatenate(
        [
            rng.uniform(0.0, 1.0, 6000),
            rng.uniform(0.0, 1.0, 2000) * 2.0**-50,
            rng.uniform(1.0, 1e6, 2000),
            fours * (1.0 + rng.uniform(0.0, 1e-12, 2000)),
            fours * (1.0 - rng.uniform(0.0, 1e-12, 2000)),
            1.0 - rng.uniform(0.0, 1e-9, 1000),
        ]
    )
    got = _certain_roots(x)
    kept = left = 0
    for value, out in zip(x.tolist(), got.tolist(), strict=True):
        root = math.sqrt(value)
        margin = 0.012 if 2.0**-20 <= root < 2.0**20 else 0.045
        if math.isnan(out):
            assert not _root_clear_of_halfway(value, root, margin + 1e-9), value.hex()
            left += 1
        else:
            assert out == root and _root_clear_of_halfway(value, root, margin), value.hex()
            kept += 1
    assert kept > 10_000 and left > 200  # both sides of the bound are exercised


@_loops.compiled
def _nan_positions(values: np.ndarray) -> np.ndarray:
    found = np.empty(values.shape[0], np.int64)
    count = 0
    for block in range(0, values.shape[0], 64):
        bits = _loops.nan_bits(values, block, min(values.shape[0], block + 64))
        while bits:
            found[count] = block + _loops.lowest_bit(bits)
            count += 1
            bits &= bits - 1
    return found[:count]


@pytest.mark.parametrize("length", [1, 63, 64, 65, 200, 256])
def test_nan_bits_visit_every_nan_once_in_order(length: int) -> None:
    """Bit 63 (the sign bit of the mask), the first value of the next block and a last block
    shorter than 64 included."""
    rng = np.random.default_rng(length)
    values = rng.uniform(0, 1, length)
    chosen = {0, 62, 63, 64, 127, 128, length - 1} & set(range(length))
    chosen |= set(rng.choice(length, length // 10, replace=False).tolist())
    values[sorted(chosen)] = np.nan
    assert _nan_positions(values).tolist() == sorted(chosen)
    assert _nan_positions(np.ones(length)).tolist() == []
    assert _nan_positions(np.full(length, np.nan)).tolist() == list(range(length))


def _cosine_fold_reference(
    lr: float, first: int, t: int, eta: float, bump: float, ratio: np.ndarray
) -> list[float]:
    """torch's CosineAnnealingLR.step() writes, one Python float expression per step."""
    out = []
    for i, r in enumerate(ratio.tolist()):
        restart = (first + i - 1 - t) % (2 * t) == 0  # torch adds instead at e = t+1 (mod 2t)
        lr = lr + bump if restart else r * (lr - eta) + eta
        out.append(lr)
    return out


@pytest.mark.parametrize(
    ("first", "t", "eta", "lr", "steps"),
    [
        (1, 200_000, 1e-3, 0.1, 199_999),  # runs kept whole, stretches of misses, the bottom
        (1, 50_000, 0.01, 0.1, 50_000),  # eta close to the lr: most runs miss
        (1, 300, 1e-3, 0.1, 5_000),  # restarts every 600 epochs, inside runs
        (777, 1_000, 0.02, 1.0, 3_000),  # a fold starting mid-curve (a later slice)
        (1, 10_000, 0.0, 0.1, 10_000),  # eta 0: one multiplication a step
        (1, 10_000, -0.0, 0.1, 10_000),  # -0.0: torch's three operations
        (1, 10_000, 1e-3, -0.1, 10_000),  # a negative lr
        (1, 1_000, 1e-3, 0.1, 1),  # a single step
    ],
)
def test_the_cosine_fold_guesses_runs_and_keeps_torch_values(
    first: int, t: int, eta: float, lr: float, steps: int
) -> None:
    epochs = np.arange(first, first + steps, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (1 + np.cos(np.pi * epochs / t)) / (1 + np.cos(np.pi * (epochs - 1) / t))
    bump = (lr - eta) * (1 - math.cos(math.pi / t)) / 2
    out = np.empty(steps)
    last = fold_loop._cosine_annealing_fold(lr, first, t, eta, bump, ratio, out)
    expected = _cosine_fold_reference(lr, first, t, eta, bump, ratio)
    assert out.tolist() == expected
    assert last == expected[-1]


def test_the_cosine_fold_keeps_nan_and_infinite_ratios() -> None:
    """A NaN product never passes the guess's check; an infinite one is kept as torch's."""
    ratio = np.full(2_000, 0.9999)
    ratio[[5, 700]] = np.nan
    ratio[1_500] = np.inf
    out = np.empty(2_000)
    fold_loop._cosine_annealing_fold(0.1, 1, 10**6, 1e-3, 0.0, ratio, out)
    expected = _cosine_fold_reference(0.1, 1, 10**6, 1e-3, 0.0, ratio)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("what", "count"),
    [("cos", "2e5"), ("squares", "300"), ("tanh", "2e5"), ("tanh-thresholds", "100")],
)
def test_the_certified_maths_check_runs_and_finds_no_difference(what: str, count: str) -> None:
    """The script that checks them at scale (``scripts/check_certified_math.py``) at a small
    size: exit status 0, its counts printed."""
    assert _check_script().main([what, count]) == 0


def test_linear_ramp_is_torch_expression_and_refuses_a_zero_denominator() -> None:
    """LinearLR's factors in one compiled pass: torch's ``1. + (end - start) / (total_iters *
    start + (e - 1) * (end - start))`` at e = 1, 2, ...; False where a denominator is 0."""
    total, start, end = 70_001, 0.013, 0.9
    out = np.empty(total)
    assert fold_loop.linear_ramp(total * start, end - start, out)
    expected = [
        1.0 + (end - start) / (total * start + (e - 1) * (end - start)) for e in range(1, total + 1)
    ]
    assert out.tolist() == expected
    assert not fold_loop.linear_ramp(2.0, -1.0, np.empty(3))  # 2, 1, then 0
    assert fold_loop.linear_ramp(2.0, -1.0, np.empty(2))
