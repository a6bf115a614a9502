"""fvcore's schedulers under an LRMultiplier in compiled passes (``adapters/_fvcore_loops.py``)
and fills: bit for bit the numpy evaluation of ``at`` they replace, errors included, on random
specs (leaf kinds, composites and detectron2's warmup of them and of step-shaped kinds; curves
shorter and longer than ``max_iter``, several groups, many slices across threads), and fvcore
itself. fvcore is installed by
``make install-test``."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

from tests.warmstep.schedules._curves import curve
from warmstep.errors import WarmstepError
from warmstep.schedules import _parallel
from warmstep.schedules.adapters import detectron2, fvcore

Spec = dict[str, Any]
LEAVES = [
    "LinearParamScheduler",
    "CosineParamScheduler",
    "ConstantParamScheduler",
    "ExponentialParamScheduler",
    "PolynomialDecayParamScheduler",
]
WITH_SPANS = [
    *(getattr(fvcore, kind) for kind in LEAVES),
    fvcore.CompositeParamScheduler,
    detectron2.WarmupParamScheduler,
]
NUMBERS = [0.0, 1.0, 1e-4, -0.3, 0.42, 2.0]


def _outcome(spec: Spec, steps: int, base_lrs: list[float]) -> np.ndarray | str:
    try:
        return curve(spec, steps, base_lrs)
    except (WarmstepError, ValueError, ArithmeticError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _leaf(rng: np.random.Generator, kind: str | None = None) -> Spec:
    kind = kind or str(rng.choice(LEAVES))
    number = lambda: float(rng.choice([*NUMBERS, float(rng.uniform(-2, 2))]))  # noqa: E731
    if kind == "ConstantParamScheduler":
        return {"type": kind, "value": number()}
    if kind == "ExponentialParamScheduler":
        decays = [0.02, 0.5, 1.0, 2.0, 1e-300, 0.0, -0.5, float(rng.uniform(0.001, 3))]
        return {"type": kind, "start_value": number(), "decay": float(rng.choice(decays))}
    if kind == "PolynomialDecayParamScheduler":
        powers = [0.9, 2.0, 0.5, 1.0, 3.7, -1.0, 800.0, -400.0, float(rng.uniform(0.1, 4))]
        return {"type": kind, "base_value": number(), "power": float(rng.choice(powers))}
    return {"type": kind, "start_value": number(), "end_value": number()}


def _step_shaped(rng: np.random.Generator) -> Spec:
    """A step-shaped kind (a composite fills its steps)."""
    kind = str(rng.choice(["MultiStep", "Step", "StepWithFixedGamma"]))
    updates = int(rng.choice([1, 3, 10, 1000]))
    if kind == "MultiStep":
        values = [float(v) for v in rng.uniform(0, 1, int(rng.integers(1, 5)))]
        return {"type": "MultiStepParamScheduler", "values": values, "num_updates": updates}
    if kind == "Step":
        values = [float(v) for v in rng.uniform(0, 1, int(rng.integers(1, 5)))]
        return {"type": "StepParamScheduler", "values": values, "num_updates": updates}
    return {
        "type": "StepWithFixedGammaParamScheduler",
        "base_value": float(rng.uniform(0.01, 1)),
        "num_decays": int(rng.integers(1, 4)),
        "gamma": float(rng.choice([0.1, 0.5])),
        "num_updates": updates,
    }


def _child(rng: np.random.Generator) -> Spec:
    return _step_shaped(rng) if rng.random() < 0.35 else _leaf(rng)


def _lengths(rng: np.random.Generator, parts: int) -> list[float]:
    if rng.random() < 0.2:  # lengths fvcore keeps as given: 0, or one part taking all
        return [1.0 if k == parts - 1 else 0.0 for k in range(parts)]
    cuts = np.sort(rng.uniform(0, 1, parts - 1))
    return np.diff(np.concatenate([[0.0], cuts, [1.0]])).round(int(rng.integers(1, 7))).tolist()


def _composite(rng: np.random.Generator) -> Spec:
    parts = int(rng.integers(1, 5))
    return {
        "type": "CompositeParamScheduler",
        "schedulers": [_child(rng) for _ in range(parts)],
        "lengths": _lengths(rng, parts),
        "interval_scaling": [str(rng.choice(["rescaled", "fixed"])) for _ in range(parts)],
    }


def _warmup(rng: np.random.Generator) -> Spec:
    return {
        "type": "WarmupParamScheduler",
        "scheduler": _child(rng),
        "warmup_factor": float(rng.choice([0.001, 0.01, 0.5, 1.0])),
        "warmup_length": float(rng.choice([0.0, 0.01, 0.1, 0.37, 1.0])),
        "warmup_method": str(rng.choice(["linear", "constant"])),
        "rescale_interval": bool(rng.random() < 0.5),
    }


def _compare(make: Any, seed: int, rounds: int, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """``rounds`` random specs from ``make``: the compiled passes against ``at``; answers how
    many gave curves and how many raised."""
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 1024)  # several slices from 2,048
    rng = np.random.default_rng(seed)
    curves = errors = 0
    for _ in range(rounds):
        steps = int(rng.choice([1, 2, int(rng.integers(3, 500)), int(rng.integers(2_000, 9_000))]))
        max_iter = int(rng.choice([1, 3, 7, max(steps - 1, 1), steps, steps + 13, 999_983]))
        spec = make(rng) | {"max_iter": max_iter}
        base_lrs = rng.uniform(0.01, 1.0, int(rng.integers(1, 4))).tolist()
        compiled = _outcome(spec, steps, base_lrs)
        with monkeypatch.context() as patch:
            for params in WITH_SPANS:
                patch.setattr(params, "spans", lambda self, *args: None)
            expected = _outcome(spec, steps, base_lrs)
        if isinstance(expected, str):
            assert compiled == expected, spec
            errors += 1
        else:
            assert not isinstance(compiled, str), (spec, compiled)
            np.testing.assert_array_equal(compiled, expected, err_msg=str(spec))
            curves += 1
    return curves, errors


@pytest.mark.parametrize("kind", LEAVES)
def test_a_leaf_kind_compiled_equals_at(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    curves, errors = _compare(lambda rng: _leaf(rng, kind), len(kind), 200, monkeypatch)
    assert curves > 100  # most random specs evaluate; those that raise must raise the same
    if kind in ("ConstantParamScheduler", "PolynomialDecayParamScheduler"):
        assert errors > 0  # past max_iter: fvcore's range check, a complex power


def test_a_composite_compiled_equals_at(monkeypatch: pytest.MonkeyPatch) -> None:
    curves, errors = _compare(_composite, 11, 300, monkeypatch)
    assert curves > 100 and errors > 0


def test_detectron2_warmup_compiled_equals_at(monkeypatch: pytest.MonkeyPatch) -> None:
    curves, errors = _compare(_warmup, 12, 250, monkeypatch)
    assert curves > 100 and errors > 0


def test_a_composite_boundary_follows_fvcore_epsilon() -> None:
    """Part 0 serves every step whose ``i / max_iter + 1e-6 <= 0.3``: with max_iter 10**7, steps
    up to 2,999,990 (not 2,999,999)."""
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [
            {"type": "ConstantParamScheduler", "value": 5.0},
            {"type": "LinearParamScheduler", "start_value": 1.0, "end_value": 0.0},
        ],
        "lengths": [0.3, 0.7],
        "interval_scaling": ["fixed", "fixed"],
        "max_iter": 10**7,
    }
    lr = curve(spec, 3_000_100, [1.0])[0]
    assert lr[2_999_990] == 5.0 and lr[2_999_991] != 5.0
    assert lr[2_999_991] == 0.0 * (2_999_991 / 10**7) + 1.0 * (1 - 2_999_991 / 10**7)


def _fvcore() -> Any:
    try:
        return importlib.import_module("fvcore.common.param_scheduler")
    except ImportError:
        pytest.skip("fvcore is not importable here (make install-test installs it)")


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [
        ("LinearParamScheduler", {"start_value": 0.37, "end_value": 1.3e-4}),
        ("CosineParamScheduler", {"start_value": 0.37, "end_value": 1.3e-4}),
        ("ExponentialParamScheduler", {"start_value": 2.0, "decay": 0.02}),
        ("PolynomialDecayParamScheduler", {"base_value": 0.1, "power": 0.9}),
        ("PolynomialDecayParamScheduler", {"base_value": 0.1, "power": 2.0}),
    ],
)
def test_matches_fvcore(
    kind: str, arguments: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _fvcore()
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 4096)
    max_iter, steps = 29_989, 29_989
    scheduler = getattr(module, kind)(**arguments)
    base_lrs = [0.1, 3.0]
    expected = [[base * scheduler(i / max_iter) for i in range(steps)] for base in base_lrs]
    spec = {"type": kind, **arguments, "max_iter": max_iter}
    np.testing.assert_array_equal(curve(spec, steps, base_lrs), np.asarray(expected))


def test_a_composite_matches_fvcore(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fvcore()
    monkeypatch.setattr(_parallel, "PARALLEL_MIN_VALUES", 4096)
    children = [
        ("ConstantParamScheduler", {"value": 0.42}),
        ("ExponentialParamScheduler", {"start_value": 0.42, "decay": 0.1}),
        ("CosineParamScheduler", {"start_value": 0.3, "end_value": 1e-4}),
        ("PolynomialDecayParamScheduler", {"base_value": 0.05, "power": 0.9}),
    ]
    lengths, scaling = [0.1, 0.25, 0.4, 0.25], ["rescaled", "fixed", "rescaled", "rescaled"]
    scheduler = module.CompositeParamScheduler(
        [getattr(module, kind)(**arguments) for kind, arguments in children],
        lengths=lengths,
        interval_scaling=scaling,
    )
    max_iter = steps = 30_011
    expected = [0.5 * scheduler(i / max_iter) for i in range(steps)]
    spec = {
        "type": "CompositeParamScheduler",
        "schedulers": [{"type": kind, **arguments} for kind, arguments in children],
        "lengths": lengths,
        "interval_scaling": scaling,
        "max_iter": max_iter,
    }
    np.testing.assert_array_equal(curve(spec, steps, [0.5])[0], np.asarray(expected))
