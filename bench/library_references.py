"""Reference loops for the libraries beyond torch and transformers: timm, fvcore, keras, optax and
pytorch_transformers, each built from one of our specs (bench/specs.py) and driven as a user's
training loop drives it. The engine benchmark times them against the engine's curve for the same
spec; tests/bench/test_library_references.py checks that their values are the engine's, which
proves the spec -> library mapping right.

Per step ``i``, what the loop does to get that step's lr from the library (the library's own code
runs, unmodified):

- timm: read every param group's lr, then ``step_update(num_updates=i + 1)`` (``t_in_epochs=False``;
  ``step(epoch=i + 1)`` otherwise). PlateauLRScheduler: ``step(i + 1, metrics[i])``, so that, as in
  the engine, value ``i`` has seen ``metrics[0 .. i-1]``.
- pytorch_transformers: read every param group's lr, then ``scheduler.step()`` (a torch LambdaLR,
  stepped as the torch kinds are).
- fvcore: ``scheduler(i / max_iter)`` times each base lr (detectron2's ``LRMultiplier``;
  ``max_iter`` is the spec's, our extra argument).
- keras: ``float(schedule(i))`` (torch backend unless ``KERAS_BACKEND`` says otherwise).
- optax: ``float(np.float32(schedule(i)))``, un-jitted, as a Python loop calls it; ``np.float32``
  because the optimizer applies the value in float32 (``constant_schedule`` returns a Python float).

optax runs in a spawned child process (see :class:`LibraryReference`'s ``isolated``): the timing
is taken there, around the same loop. keras and optax compute in float32 (jax's x64 mode stays
off, as in their parity fixtures): their values are float32 widened to float64, as the engine's
are for those kinds.

The spec -> constructor mapping of fvcore and optax is the one their fixture scripts use
(scripts/fixtures/gen_fvcore.py, gen_optax.py: their ``build``); timm, keras and
pytorch_transformers construct the kind's class from the spec's arguments directly.
"""

from __future__ import annotations

import importlib
import importlib.util
import multiprocessing
import os
import sys
import time
import types
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench._common import no_gc
from warmstep.schedules import Kind

Spec = dict[str, Any]
Floats = Sequence[float] | np.ndarray  # base lrs and metrics, as lists or arrays
Rows = list[list[float]]  # per step, one lr per param group
Loop = Callable[[], Rows]  # runs the whole loop once on a freshly built scheduler
Prepare = Callable[[Any, Spec, int, list[float], list[float] | None], Loop]


def _arguments(spec: Spec) -> Spec:
    """The spec's constructor arguments: everything but ``type`` and ``library``."""
    return {k: v for k, v in spec.items() if k not in ("type", "library")}


def _optimizer(base_lrs: list[float]) -> torch.optim.Optimizer:
    """An SGD optimizer with one one-parameter group per base lr, for the torch-based libraries."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in base_lrs]
    return torch.optim.SGD(groups)


def _load_timm() -> Any:
    """``timm.scheduler`` without ``import timm``: timm's ``__init__`` imports torchvision (through
    ``timm.layers``), which this venv does not carry, while ``timm.scheduler`` needs only torch. A
    bare ``timm`` package over the installed folder goes into ``sys.modules`` first."""
    if "timm" not in sys.modules:
        found = importlib.util.find_spec("timm")
        if found is None or found.submodule_search_locations is None:
            raise ModuleNotFoundError("timm is not installed", name="timm")
        bare = types.ModuleType("timm")
        bare.__path__ = list(found.submodule_search_locations)
        sys.modules["timm"] = bare
        try:
            return importlib.import_module("timm.scheduler")
        except ImportError:
            del sys.modules["timm"]
            raise
    return importlib.import_module("timm.scheduler")


def _load_pytorch_transformers() -> Any:
    """pytorch-transformers 1.2.0's ``optimization.py`` alone: the package's ``__init__`` imports
    its tokenizers and models (boto3, sentencepiece, ...), while that file imports torch only."""
    found = importlib.util.find_spec("pytorch_transformers")
    if found is None or found.submodule_search_locations is None:
        raise ModuleNotFoundError(
            "pytorch_transformers is not installed", name="pytorch_transformers"
        )
    path = Path(next(iter(found.submodule_search_locations))) / "optimization.py"
    module_spec = importlib.util.spec_from_file_location("pytorch_transformers_optimization", path)
    if module_spec is None or module_spec.loader is None:
        raise ModuleNotFoundError(f"cannot load {path}", name="pytorch_transformers")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _load_keras() -> Any:
    """``keras.optimizers.schedules`` on the torch backend (the one the keras fixtures used) unless
    ``KERAS_BACKEND`` names another; keras reads the variable once, at its first import."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return importlib.import_module("keras").optimizers.schedules


def _timm_loop(
    module: Any, spec: Spec, steps: int, base_lrs: list[float], metrics: list[float] | None
) -> Loop:
    optimizer = _optimizer(base_lrs)
    arguments = _arguments(spec)
    scheduler = getattr(module, spec["type"])(optimizer, **arguments)
    groups = optimizer.param_groups
    plateau = spec["type"] == "PlateauLRScheduler"
    per_epoch = arguments.get("t_in_epochs", True)
    series = metrics if metrics is not None else []
    if plateau and len(series) < steps:
        raise ValueError("PlateauLRScheduler needs one metric per step")

    def run() -> Rows:
        rows = []
        for i in range(1, steps + 1):
            rows.append([g["lr"] for g in groups])
            if plateau:
                scheduler.step(i, series[i - 1])
            elif per_epoch:
                scheduler.step(epoch=i)
            else:
                scheduler.step_update(num_updates=i)
        return rows

    return run


def _pytorch_transformers_loop(
    module: Any, spec: Spec, steps: int, base_lrs: list[float], metrics: list[float] | None
) -> Loop:
    optimizer = _optimizer(base_lrs)
    scheduler = getattr(module, spec["type"])(optimizer, **_arguments(spec))
    groups = optimizer.param_groups

    def run() -> Rows:
        rows = []
        for _ in range(steps):
            rows.append([g["lr"] for g in groups])
            scheduler.step()
        return rows

    return run


def _fvcore_loop(
    module: Any, spec: Spec, steps: int, base_lrs: list[float], metrics: list[float] | None
) -> Loop:
    from scripts.fixtures.gen_fvcore import build  # the fixtures' mapping, nested specs included

    scheduler = build(module, {k: v for k, v in spec.items() if k != "library"})
    max_iter = spec["max_iter"]

    def run() -> Rows:
        rows = []
        for i in range(steps):
            multiplier = scheduler(i / max_iter)
            rows.append([base * multiplier for base in base_lrs])
        return rows

    return run


def _keras_loop(
    module: Any, spec: Spec, steps: int, base_lrs: list[float], metrics: list[float] | None
) -> Loop:
    schedule = getattr(module, spec["type"])(**_arguments(spec))
    groups = len(base_lrs)

    def run() -> Rows:
        return [[float(schedule(i))] * groups for i in range(steps)]

    return run


def _optax_loop(
    module: Any, spec: Spec, steps: int, base_lrs: list[float], metrics: list[float] | None
) -> Loop:
    from scripts.fixtures.gen_optax import build  # the fixtures' mapping, join_schedules included

    schedule = build(spec)
    groups = len(base_lrs)

    def run() -> Rows:
        return [[float(np.float32(schedule(i)))] * groups for i in range(steps)]

    return run


@dataclass(frozen=True)
class LibraryReference:
    """One library's reference: how to import it, the loop builder, what a step does (for the
    benchmark's notes), how many steps one timed run takes at most (None: as many as the torch
    rows) and whether it runs in a child process.

    Per-step costs decide the cap: keras and optax calls dispatch tens of tensor ops each (30-700
    us a step); the benchmark scales a capped run linearly to the curve's length.

    ``isolated``: jax, once its backend has started (optax's first call), warns on every later
    fork of the process ("JAX is multithreaded, so this will likely lead to a deadlock"), and
    the benchmarks and tests that follow fork (the embedded Redis starts with a ``preexec_fn``):
    such a library is imported, built and timed in a spawned child process instead."""

    load: Callable[[], Any]
    prepare: Prepare
    per_step: str
    max_steps: int | None = None
    isolated: bool = False


REFERENCES: dict[str, LibraryReference] = {
    "timm": LibraryReference(
        _load_timm,
        _timm_loop,
        "read lr, step_update(num_updates=i) (PlateauLRScheduler: step(i, metric))",
    ),
    "pytorch_transformers": LibraryReference(
        _load_pytorch_transformers, _pytorch_transformers_loop, "read lr, step()"
    ),
    "fvcore": LibraryReference(
        lambda: importlib.import_module("fvcore.common.param_scheduler"),
        _fvcore_loop,
        "base_lr * scheduler(i / max_iter)",
    ),
    "keras": LibraryReference(_load_keras, _keras_loop, "float(schedule(i))", 2_000),
    "optax": LibraryReference(
        lambda: importlib.import_module("optax"),
        _optax_loop,
        "float(np.float32(schedule(i))), un-jitted, in a child process",
        2_000,
        isolated=True,
    ),
}


@cache
def library_module(library: str) -> Any | None:
    """The library's module the loops use, or None when it is not importable in this process
    (imported once, its import-time warnings silenced). For an isolated library, see
    :func:`available`: only its child process should call this."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return REFERENCES[library].load()
    except ImportError:
        return None


_children: dict[str, ProcessPoolExecutor] = {}


def _call(library: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(library, *args)`` here, or in the library's child process when it is isolated (a
    spawned process started on first use, kept until :func:`stop_children`)."""
    if not REFERENCES[library].isolated:
        return fn(library, *args)
    if library not in _children:
        _children[library] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return _children[library].submit(fn, library, *args).result()


def stop_children() -> None:
    """Stop the child processes of the isolated libraries (a later call starts them again)."""
    while _children:
        _children.popitem()[1].shutdown()


def _importable(library: str) -> bool:
    return library_module(library) is not None


@cache
def available(library: str) -> bool:
    """Whether ``library`` has a reference here: it is one of :data:`REFERENCES` and importable
    (asked in its child process when it is isolated)."""
    return library in REFERENCES and bool(_call(library, _importable))


def reference_steps(library: str, wanted: int) -> int:
    """How many steps one timed reference run of ``library`` takes when ``wanted`` are asked:
    ``wanted``, capped by the library's :attr:`LibraryReference.max_steps`."""
    reference = REFERENCES.get(library)
    if reference is None or reference.max_steps is None:
        return wanted
    return min(wanted, reference.max_steps)


def notes(wanted: int, n: int) -> str:
    """For the benchmark's notes, per library: what a reference step does, how many steps a run
    takes when ``wanted`` are asked and the scaling to an ``n``-step curve, or that the library is
    not installed."""
    parts = []
    for library, reference in REFERENCES.items():
        if not available(library):
            parts.append(f"{library}: not installed in this venv")
            continue
        steps = reference_steps(library, wanted)
        parts.append(f"{library}: {steps:,} steps of {reference.per_step}, scaled x{n / steps:g}")
    return "; ".join(parts)


def _run(
    library: str,
    spec: Spec,
    steps: int,
    base_lrs: list[float],
    metrics: list[float] | None,
    timed: bool,
) -> float | Rows:
    """Build the library's loop from ``spec`` and run it once: its seconds (garbage collector off,
    building not timed) when ``timed``, else the rows it read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loop = REFERENCES[library].prepare(library_module(library), spec, steps, base_lrs, metrics)
        if not timed:
            return loop()
        with no_gc():
            start = time.perf_counter()
            loop()
            return time.perf_counter() - start


def _reference(
    kind: Kind,
    spec: Spec,
    steps: int,
    base_lrs: Floats,
    metrics: Floats | None,
    timed: bool,
) -> Any:
    library = kind.library.value
    if not available(library):
        return None
    series = None if metrics is None else [float(m) for m in metrics]
    return _call(library, _run, spec, steps, [float(b) for b in base_lrs], series, timed)


def reference_seconds(
    kind: Kind,
    spec: Spec,
    steps: int,
    base_lrs: Floats,
    metrics: Floats | None = None,
) -> float | None:
    """Seconds for ``steps`` steps of the library's loop on a freshly built schedule (building not
    timed, garbage collector off), or None when the kind's library has no reference here."""
    seconds: float | None = _reference(kind, spec, steps, base_lrs, metrics, timed=True)
    return seconds


def reference_values(
    kind: Kind,
    spec: Spec,
    steps: int,
    base_lrs: Floats,
    metrics: Floats | None = None,
) -> np.ndarray | None:
    """The lrs the library's loop reads for steps ``0 .. steps-1``, shape ``(groups, steps)`` as the
    engine's ``Curve.lr``, or None when the kind's library has no reference here."""
    rows = _reference(kind, spec, steps, base_lrs, metrics, timed=False)
    return None if rows is None else np.asarray(rows, dtype=np.float64).T
