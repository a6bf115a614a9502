"""Engine benchmark: an ``n``-step curve per registered kind through the engine, against stepping
the real torch scheduler (or the real transformers function's scheduler) in a Python loop, or
calling the real timm, fvcore, keras, optax or pytorch_transformers schedule as a user's loop does
(bench/library_references.py says what each step does there).

Reference loop, per step: read ``param_groups[g]["lr"]`` of every group, then
``scheduler.step()`` (``step(metric)`` for plateau kinds). No ``optimizer.step()`` and no
parameters to update: the baseline is the scheduler alone, the cheapest a user's loop can be. The
reference runs ``reference_steps`` steps of the same spec (fewer for libraries whose call costs
tens of microseconds: keras, optax) and is scaled linearly to ``n``. Kinds of libraries without
a reference here (detectron2, mxnet, fairseq, tensorflow, or one of the above not installed) get
the engine time only: a Python loop of our own formula would not be a fair reference."""

from __future__ import annotations

import cProfile
import io
import math
import pstats
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import transformers.optimization as hf
from torch.optim import lr_scheduler, swa_utils

from bench import library_references
from bench._common import Size, Table, best_of, no_gc
from bench.specs import spec_for
from warmstep.allocator import keep_freed_memory
from warmstep.config import Settings
from warmstep.schedules import EvalContext, Kind, all_kinds, prepare_compiled_loops, resolve_spec

TARGET = 1000.0
BASE_LR = np.array([0.1])


def metric_series(n: int) -> np.ndarray:
    """A slowly improving, noisy validation loss (plateaus now and then)."""
    i = np.arange(n, dtype=np.float64)
    return 1.0 / (1.0 + 1e-4 * i) + 0.01 * np.sin(0.37 * i)


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / max(len(values), 1))


def _lambda(source: str) -> Callable[[int], float]:
    code = compile(source, "<lr_lambda>", "eval")
    return lambda step: float(eval(code, {"__builtins__": {}, "min": min}, {"step": step}))


def _build_torch(spec: dict[str, Any], opt: torch.optim.Optimizer) -> Any:
    args = {k: v for k, v in spec.items() if k not in ("type", "library")}
    kind = spec["type"]
    if kind in ("SequentialLR", "ChainedScheduler"):
        children = [_build_torch(c, opt) for c in args.pop("schedulers")]
        if kind == "ChainedScheduler":
            return lr_scheduler.ChainedScheduler(children, optimizer=opt)
        return lr_scheduler.SequentialLR(opt, children, **args)
    if "lr_lambda" in args:
        args["lr_lambda"] = _lambda(args["lr_lambda"])
    if kind == "SWALR":
        return swa_utils.SWALR(opt, **args)
    return getattr(lr_scheduler, kind)(opt, **args)


def _build_transformers(spec: dict[str, Any], opt: torch.optim.Optimizer) -> Any:
    args = {k: v for k, v in spec.items() if k not in ("type", "library")}
    if spec["type"] == "get_scheduler":
        return hf.get_scheduler(args.pop("name"), opt, **args)
    return getattr(hf, spec["type"])(opt, **args)


def reference_seconds(kind: Kind, spec: dict[str, Any], steps: int) -> float | None:
    """Seconds to step the real library's scheduler ``steps`` times, or None without one."""
    build = {"torch": _build_torch, "transformers": _build_transformers}.get(kind.library.value)
    if build is None:
        metrics = metric_series(steps) if kind.takes_metrics else None
        return library_references.reference_seconds(kind, spec, steps, BASE_LR, metrics)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [param], "lr": float(BASE_LR[0])}], momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(spec, opt)
        metrics = metric_series(steps).tolist() if kind.takes_metrics else None
        groups = opt.param_groups
        out: list[list[float]] = []
        with no_gc():
            start = time.perf_counter()
            if metrics is None:
                for _ in range(steps):
                    out.append([g["lr"] for g in groups])
                    sched.step()
            else:
                for i in range(steps):
                    out.append([g["lr"] for g in groups])
                    sched.step(metrics[i])
            return time.perf_counter() - start


def best_reference_seconds(
    kind: Kind, spec: dict[str, Any], steps: int, repeats: int
) -> float | None:
    """The fastest of ``repeats`` reference runs (each on a fresh scheduler), as for the
    engine: the run least disturbed by the machine, on both sides of the ratio."""
    runs = [reference_seconds(kind, spec, steps) for _ in range(repeats)]
    return None if runs[0] is None else min(r for r in runs if r is not None)


def engine_seconds(kind: Kind, spec: dict[str, Any], steps: int, repeats: int) -> float:
    metrics = metric_series(steps) if kind.takes_metrics else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the engine must not warn
        return best_of(
            repeats, lambda: resolve_spec(spec).evaluate(EvalContext(steps, BASE_LR, metrics))
        )


SHORT_CALLS = 50  # engine calls per timed run of a short curve


def short_curve_table(size: Size, kinds: Sequence[Kind]) -> Table:
    """Every kind at ``size.short_steps`` steps (a dashboard's query): the engine's time per
    call (the fastest of ``size.repeats`` runs of :data:`SHORT_CALLS` calls each, resolution
    included) against the real scheduler stepped as often (fastest of as many runs)."""
    n = size.short_steps
    table = Table(
        f"Engine: {n:,}-step curve per kind (a dashboard's query) vs stepping the real scheduler",
        ["kind", "library", "engine us", "reference us", "ratio"],
    )
    for kind in kinds:
        spec = spec_for(kind.library.value, kind.name, n)
        metrics = metric_series(n) if kind.takes_metrics else None

        def calls(spec: dict[str, Any] = spec, metrics: Any = metrics) -> None:
            for _ in range(SHORT_CALLS):
                resolve_spec(spec).evaluate(EvalContext(n, BASE_LR, metrics))

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the engine must not warn
            engine = best_of(size.repeats, calls) / SHORT_CALLS
        ref = best_reference_seconds(kind, spec, n, size.repeats)
        if ref is None:
            table.add(kind.name, kind.library.value, engine * 1e6, "-", "-")
        else:
            table.add(kind.name, kind.library.value, engine * 1e6, ref * 1e6, ref / engine)
    table.notes.append(
        f"engine: fastest of {size.repeats} runs of {SHORT_CALLS} calls of resolve_spec(spec)"
        f".evaluate(EvalContext({n}, [0.1])), per call; reference: fastest of {size.repeats} runs "
        f"of {n:,} steps of the real scheduler (read lr, step(); the library's call per step "
        "for timm, fvcore, keras, optax, pytorch_transformers); no target: a short curve's "
        "cost is the engine's fixed cost per query (validation, the torch chain's set-up)"
    )
    return table


def profile_kind(kind: Kind, steps: int, top: int = 8) -> str:
    spec = spec_for(kind.library.value, kind.name, steps)
    metrics = metric_series(steps) if kind.takes_metrics else None
    profiler = cProfile.Profile()
    profiler.enable()
    resolve_spec(spec).evaluate(EvalContext(steps, BASE_LR, metrics))
    profiler.disable()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return "\n".join(f"    {ln}" for ln in lines[start : start + top + 1])


def selected_kinds(only: Sequence[str] | None) -> list[Kind]:
    """Every kind in table order, or those named ``library:Name`` in ``only`` (in its
    order); ValueError naming any that is not a kind."""
    kinds = all_kinds()
    if not only:
        return kinds
    by_name = {f"{k.library.value}:{k.name}": k for k in kinds}
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise ValueError(
            f"unknown kind {', '.join(unknown)} (write library:Name, e.g. torch:StepLR)"
        )
    return [by_name[name] for name in only]


def fill_seconds(steps: int, repeats: int) -> float:
    """A new array of ``steps`` float64 written with one value, the least any curve costs."""
    return best_of(repeats, lambda: np.empty(steps, np.float64).fill(0.1))


def run(size: Size, *, profile: bool = False, only: Sequence[str] | None = None) -> list[Table]:
    kinds = selected_kinds(only)
    n, ref_n = size.engine_steps, size.reference_steps
    keep = Settings().malloc_keep_bytes
    kept = keep_freed_memory(keep)  # as the front end runs the engine
    prepare_compiled_loops()  # as the front end does at start: no row pays numba's first load
    table = Table(
        f"Engine: {n:,}-step curve per kind vs stepping the real scheduler",
        ["kind", "library", "engine ms", "reference ms", "ratio", "note"],
    )
    misses: list[Kind] = []
    under_fill: list[Kind] = []  # misses whose 1000x would be less than writing the array
    libraries = dict.fromkeys(k.library.value for k in kinds)  # in table order
    fills = []
    for kind in kinds:
        fills.append(fill_seconds(n, size.repeats))  # beside each row: the machine drifts
        spec = spec_for(kind.library.value, kind.name, n)
        engine = engine_seconds(kind, spec, n, size.repeats)
        steps = library_references.reference_steps(kind.library.value, ref_n)
        ref = best_reference_seconds(kind, spec, steps, size.repeats)
        sequential = kind.takes_metrics
        if ref is None:
            table.add(
                kind.name, kind.library.value, engine * 1e3, "-", "-", "no reference in this venv"
            )
            continue
        scaled = ref * n / steps
        ratio = scaled / engine
        notes = ["sequential (metric-driven)"] if sequential else []
        if not sequential and ratio < TARGET:
            budget = scaled / TARGET  # the engine time that would make 1000x
            notes = [f"MISS (<1000x: needs {budget * 1e3:.3g} ms)"]
            misses.append(kind)
            if budget < fills[-1]:
                under_fill.append(kind)
        if steps != ref_n:
            notes.append(f"ref {steps:,} steps x{n / steps:g}")
        note = "; ".join(notes)
        table.add(kind.name, kind.library.value, engine * 1e3, scaled * 1e3, ratio, note)
    closed_form = [r for r in table.rows if r[4] != "-" and not r[5].startswith("seq")]
    ratios = [float(r[4]) for r in closed_form]
    per_library = {lib: [float(r[4]) for r in closed_form if r[1] == lib] for lib in libraries}
    unreferenced = sorted(
        set(libraries) - {"torch", "transformers", *library_references.REFERENCES}
    )
    table.notes += [
        f"engine: best of {size.repeats} calls of resolve_spec(spec).evaluate(EvalContext({n}, "
        "[0.1])), resolution included; this process keeps freed memory and has its compiled "
        f"loops ready as the front end does (warmstep.allocator, {keep >> 20} MiB: "
        f"{'set' if kept else 'not available'}; prepare_compiled_loops)",
        f"reference: best of {size.repeats} runs of {ref_n:,} steps of the real "
        f"torch/transformers scheduler (read lr, step()), scaled x{n / ref_n:g}; "
        + library_references.notes(ref_n, n)
        + (f"; {', '.join(unreferenced)}: no reference in this venv" if unreferenced else ""),
        f"closed-form kinds with a reference: {len(ratios)}, geometric mean ratio "
        f"{geometric_mean(ratios):.0f}x (per library: "
        + ", ".join(f"{lib} {geometric_mean(r):.0f}x" for lib, r in per_library.items() if r)
        + f"), below {TARGET:.0f}x: {', '.join(k.name for k in misses) or 'none'}",
        f"writing {n:,} float64 alone (a new array filled with one value, best of "
        f"{size.repeats}, before each row): {min(fills) * 1e3:.3g}-{max(fills) * 1e3:.3g} ms, "
        f"median {float(np.median(fills)) * 1e3:.3g}: no curve costs less",
        "misses whose 1000x needs less time than writing the array (the fill beside the row: "
        "out of reach of any engine that answers an array): "
        + (", ".join(k.name for k in under_fill) or "none"),
    ]
    tables = [table, short_curve_table(size, kinds)]
    library_references.stop_children()  # optax's child process (jax) is done
    if profile:
        for kind in misses:
            table.notes.append(
                f"profile of {kind.name} (cProfile, tottime):\n" + profile_kind(kind, n)
            )
    return tables
