"""timm's CosineLRScheduler, PolyLRScheduler and TanhLRScheduler at their defaults
(``cycle_mul`` 1, ``k_decay`` 1) in one compiled pass (``adapters/_timm_loops.py``) against
the numpy passes it replaces, bit for bit, on random specs (warmup with and without prefix,
cycle limits and decays, short periods, powers whose results overflow or are subnormal,
several groups, curves cut into slices across threads), and against timm itself stepped one
update at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from bench import library_references
from tests.warmstep.schedules._curves import curve
from warmstep.errors import InvalidArgument
from warmstep.schedules import _parallel
from warmstep.schedules.adapters import timm

Spec = dict[str, Any]


def _curve_or_error(spec: Spec, steps: int, base_lrs: list[float]) -> np.ndarray | str:
    try:
        return curve(spec, steps, base_lrs)
    except InvalidArgument as error:
        return str(error)


def _random_spec(rng: np.random.Generator, kind: str, steps: int) -> Spec:
    warmup = int(rng.choice([0, 0, int(rng.integers(1, max(steps // 3, 2)))]))
    own = {
        "PolyLRScheduler": {
            "power": float(rng.choice([0.5, 2.0, 1.0, 0.0, 3.7, -0.5, -150.0, 1100.0]))
        },
        "TanhLRScheduler": {"lb": float(rng.uniform(-30, 0)), "ub": float(rng.uniform(0.5, 30))},
    }
    return own.get(kind, {}) | {
        "type": kind,
        "t_initial": int(rng.choice([1, 2, 7, int(rng.integers(1, steps + 2)), steps + 5])),
        "lr_min": float(rng.choice([0.0, 1e-5, float(rng.uniform(0.0, 0.01))])),
        "cycle_decay": float(rng.choice([1.0, 0.5, float(rng.uniform(0.3, 1.0))])),
        "cycle_limit": int(rng.choice([0, 1, 2, 5, 10**9])),
        "warmup_t": warmup,
        "warmup_lr_init": float(rng.choice([0.0, 1e-4])),
        "warmup_prefix": bool(rng.integers(0, 2)),
        "t_in_epochs": False,
    }


@pytest.mark.parametrize(
    ("kind", "fill"),
    [
        ("CosineLRScheduler", "_cosine_fill"),
        ("PolyLRScheduler", "_poly_fill"),
        ("TanhLRScheduler", "_tanh_fill"),
    ],
)
def test_the_compiled_pass_equals_the_numpy_passes(
    kind: str, fill: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)  # several slices from 2,048
    rng = np.random.default_rng(7)
    errors = 0
    for _ in range(150):
        steps = int(rng.choice([1, 2, int(rng.integers(3, 400)), int(rng.integers(2_000, 9_000))]))
        spec = _random_spec(rng, kind, steps)
        base_lrs = rng.uniform(0.01, 1.0, int(rng.integers(1, 4))).tolist()
        compiled = _curve_or_error(spec, steps, base_lrs)
        with monkeypatch.context() as patch:
            patch.setattr(timm, fill, lambda params, context: None)
            expected = _curve_or_error(spec, steps, base_lrs)
        if isinstance(expected, str):
            errors += 1
            assert isinstance(compiled, str) and compiled == expected, spec
        else:
            np.testing.assert_array_equal(compiled, expected, err_msg=str(spec))
    assert errors < 50


def test_other_cycles_and_decays_keep_the_numpy_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cycle_mul`` other than 1 or ``k_decay`` other than 1 are not the compiled pass's."""
    calls: list[int] = []
    original = timm._cosine_fill
    monkeypatch.setattr(timm, "_cosine_fill", lambda *a: calls.append(1) or original(*a))
    base = {"type": "CosineLRScheduler", "t_initial": 50, "t_in_epochs": False}
    curve(base, 200, [0.1])
    assert calls == [1]
    curve(base | {"cycle_mul": 2.0, "cycle_limit": 3}, 200, [0.1])
    curve(base | {"k_decay": 0.5}, 200, [0.1])
    assert calls == [1]


@pytest.mark.parametrize(
    "arguments",
    [
        {"t_initial": 30_000, "warmup_t": 6_000, "warmup_lr_init": 1e-5},  # compiled ramp
        {"t_initial": 700, "lr_min": 1e-4, "cycle_decay": 0.7, "cycle_limit": 40},
        {"t_initial": 1_000, "warmup_t": 500, "warmup_prefix": True, "cycle_limit": 3},
    ],
    ids=["one-long-cycle", "decaying-restarts", "prefix-then-limit"],
)
@pytest.mark.parametrize("kind", ["CosineLRScheduler", "PolyLRScheduler", "TanhLRScheduler"])
def test_matches_timm_stepped(kind: str, arguments: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    if not library_references.available("timm"):
        pytest.skip("timm is not installed (make install-test installs it)")
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 4096)
    spec = {"type": kind, "t_in_epochs": False} | arguments
    steps, base_lrs = 30_000, [0.1, 0.37]
    scheduler = getattr(library_references.library_module("timm"), kind)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    optimizer = torch.optim.SGD(groups)
    stepped = scheduler(optimizer, **{k: v for k, v in spec.items() if k != "type"})
    expected = []
    for i in range(1, steps + 1):
        expected.append([group["lr"] for group in optimizer.param_groups])
        stepped.step_update(num_updates=i)
    np.testing.assert_array_equal(curve(spec, steps, base_lrs), np.asarray(expected).T)


def test_flagged_powers_beside_cycles_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powers Python must compute (subnormal results of a large power) in the same pass as
    cycles past cycle_limit (lr_min, no power): only the former go to Python."""
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)
    spec = {
        "type": "PolyLRScheduler",
        "t_initial": 1000,
        "power": 1100.0,
        "cycle_limit": 1,
        "lr_min": 1e-6,
        "t_in_epochs": False,
    }
    compiled = curve(spec, 6000, [0.1, 0.5])
    with monkeypatch.context() as patch:
        patch.setattr(timm, "_poly_fill", lambda params, context: None)
        expected = curve(spec, 6000, [0.1, 0.5])
    np.testing.assert_array_equal(compiled, expected)
    assert (compiled[:, 1000:] == 1e-6).all()
