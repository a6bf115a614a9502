"""The fvcore ``ParamScheduler`` machinery shared by the fvcore and detectron2 adapters.

A ParamScheduler kind is a pydantic model with ``at(where, path)``: its value at each training
progress ``where`` (a float64 array), raising :class:`WhereError` (with the positions that raise)
wherever fvcore raises. :func:`lr_multiplier_curve` turns one into a training schedule as
detectron2's ``LRMultiplier`` does; :func:`composite_at` is ``CompositeParamScheduler.__call__``.

The linear, cosine, constant, exponential and polynomial kinds, and composites of them (fvcore's
``CompositeParamScheduler``, detectron2's ``WarmupParamScheduler``), run as compiled passes
(:mod:`._fvcore_loops`) over their :class:`Span` s. A step-shaped kind (constant, step,
multi-step) also gives its :class:`Pieces`: an index that never falls as ``where`` grows, and
the value of each index. Its curve is then a few fills (where the index changes found in
compiled code by galloping and bisection: a few dozen looks at it per piece) instead of ``at``
over every step: the same values, written at the memory's speed.
"""

from __future__ import annotations

import abc
import bisect
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import Field

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, FloatArray, KindParams
from warmstep.schedules._libm import pow_like_python

WHERE_EPSILON = 1e-6  # fvcore ParamScheduler.WHERE_EPSILON
BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]
_MOST_PIECES = 64  # more pieces than this: ``at`` over every step


class WhereError(Exception):
    """fvcore raised while evaluating; ``bad`` marks the positions of ``where`` that raise."""

    def __init__(self, reason: str, bad: BoolArray) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bad = bad


def raise_if(bad: BoolArray, reason: Callable[[int], str]) -> None:
    if bad.any():
        raise WhereError(reason(int(np.argmax(bad))), bad)


class ParamSchedulerParams(KindParams, abc.ABC):
    """Base of every kind that is an fvcore ``ParamScheduler`` (a function of ``where``)."""

    max_iter: int | None = Field(
        default=None,
        ge=1,
        description="detectron2 LRMultiplier's max_iter: value i = base_lr * scheduler(i / "
        "max_iter). Required at the top level, refused inside a composite.",
    )

    @abc.abstractmethod
    def at(self, where: FloatArray, path: str) -> FloatArray:
        """The scheduler's value at each ``where`` (raises :class:`WhereError` as fvcore does)."""

    def pieces(self) -> Pieces | None:
        """The kind as :class:`Pieces` where it is step-shaped, else None."""
        return None

    def compiled_shape(self) -> tuple[str, float, float] | None:
        """The kind as a shape of :mod:`._fvcore_loops` with its two numbers, where that
        compiled pass computes it, else None."""
        return None

    def spans(self, max_iter: int, steps: int, path: str) -> list[Span] | None:
        """The first ``steps`` steps of the kind under an LRMultiplier as compiled
        :class:`Span` s, or None where it has none."""
        shape = self.compiled_shape()
        return None if shape is None else [Span(0, steps, *shape)]

    def part_form(self) -> tuple[str, float, float] | Pieces | None:
        """How a composite computes this kind as one of its parts: its :class:`Pieces` (fills)
        where it is step-shaped, else its compiled shape, else None (``at``)."""
        return self.pieces() or self.compiled_shape()


class Span(NamedTuple):
    """Steps ``[lo, hi)`` of an LRMultiplier curve served by one scheduler, at the progress
    ``where = i / max_iter``, or at ``(where - offset) / length`` where ``rescaled`` (a
    composite's part): a shape of :mod:`._fvcore_loops` with its two numbers ``a`` and ``b``,
    or (shape ``"pieces"``) the fills of a step-shaped scheduler's ``pieces``."""

    lo: int
    hi: int
    shape: str
    a: float
    b: float
    rescaled: bool = False
    offset: float = 0.0
    length: float = 1.0
    pieces: Pieces | None = None

    def progress_at(self, step: int, max_iter: int) -> float:
        """The scheduler's ``where`` at ``step``, with fvcore's arithmetic."""
        where = step / float(max_iter)
        return (where - self.offset) / self.length if self.rescaled else where


def composite_spans(
    forms: Sequence[tuple[str, float, float] | Pieces | None],
    lengths: Sequence[float],
    scaling: Sequence[str],
    max_iter: int,
    steps: int,
) -> list[Span] | None:
    """:func:`composite_at` over the first ``steps`` steps as :class:`Span` s (parts as their
    :meth:`~ParamSchedulerParams.part_form`, ``lengths`` already :func:`checked_lengths`), or
    None where a part that serves some step has neither form or would raise (those go the
    elementwise way, which names the error). Part k serves the steps whose ``i / max_iter +
    1e-6`` first falls at or below ``l0 + … + lk``: with no negative length, those sums never
    fall, so each part's steps are one run, its end found with fvcore's own arithmetic at every
    step looked at (:func:`_first_step_past`)."""
    if any(not length >= 0 for length in lengths):
        return None
    totals = np.cumsum(np.asarray(lengths, dtype=np.float64))
    divisor = float(max_iter)
    spans, lo = [], 0
    for k, form in enumerate(forms):
        hi = steps
        if k < len(forms) - 1:
            hi = _first_step_past(float(totals[k]), divisor, lo, steps)
        if hi > lo:
            if form is None or k >= len(scaling):
                return None
            rescaled = scaling[k] == "rescaled"
            if rescaled and lengths[k] == 0:
                return None
            rescaling = (rescaled, float(totals[k] - lengths[k]), float(lengths[k]))
            if isinstance(form, Pieces):
                spans.append(Span(lo, hi, "pieces", 0.0, 0.0, *rescaling, pieces=form))
            else:
                spans.append(Span(lo, hi, *form, *rescaling))
        lo = hi
    return spans


def _first_step_past(total: float, divisor: float, lo: int, steps: int) -> int:
    """The first step ``i`` in ``[lo, steps]`` whose ``i / divisor + 1e-6 > total`` (``steps``
    where none is): from the step the arithmetic points at, a few steps either way (bisection
    where that is not enough)."""

    def past(i: int) -> bool:
        return float(i) / divisor + WHERE_EPSILON > total

    guess = (total - WHERE_EPSILON) * divisor
    i = min(max(int(guess), lo), steps) if math.isfinite(guess) else lo
    for _ in range(4):
        if i > lo and past(i - 1):
            i -= 1
        elif i < steps and not past(i):
            i += 1
        else:
            return i
    return bisect.bisect_left(range(steps), True, lo, key=past)


class Pieces(NamedTuple):
    """A step-shaped scheduler: ``values[index]`` wherever ``at`` does not raise, the index
    from the epoch ``trunc((where + 1e-6) * scale)``: the epoch itself (fvcore's Step:
    ``milestones`` None) or how many ``milestones`` (sorted) are at or below it (MultiStep;
    none for a constant). The index never falls as ``where`` grows. ``at`` raises exactly where
    ``where_ok`` is false (fvcore's range check of ``where``; it must only fail from some
    ``where`` on) or the index falls outside ``values`` (a list index out of range)."""

    scale: float
    milestones: FloatArray | None
    values: FloatArray
    where_ok: Callable[[float], bool] = lambda where: True

    def index_of(self, where: FloatArray) -> IndexArray:
        epoch = np.trunc((where + WHERE_EPSILON) * self.scale)
        if self.milestones is None:
            return epoch.astype(np.intp)
        return np.searchsorted(self.milestones, epoch, side="right")


def param_scheduler_child(value: object, name: str) -> ParamSchedulerParams:
    """A nested schedule that must be an fvcore ParamScheduler without its own ``max_iter``."""
    params = getattr(value, "params", None)
    if not isinstance(params, ParamSchedulerParams):
        kind = getattr(getattr(value, "kind", None), "name", "?")
        raise ValueError(f"{name} takes fvcore ParamSchedulers, not {kind}")
    if params.max_iter is not None:
        raise ValueError(f"max_iter belongs on the outermost scheduler, not inside {name}")
    return params


def lr_multiplier_curve(
    scheduler: ParamSchedulerParams,
    max_iter: int,
    context: EvalContext,
    scheduler_path: str | None = None,
) -> Curve:
    """detectron2 ``LRMultiplier``: ``lr[g, i] = base_lr[g] * scheduler(i / max_iter)``.

    ``scheduler_path`` locates the scheduler's own spec (default: ``context.path``); errors
    raised while evaluating name ``<context.path>.max_iter``."""
    pieces = scheduler.pieces()
    if pieces is not None:
        filled = _filled_curve(pieces, max_iter, context)
        if filled is not None:
            return filled
    spans = scheduler.spans(max_iter, context.steps, scheduler_path or context.path)
    if spans is not None:
        lr = np.empty((context.groups, context.steps), np.float64)
        if _spans_written(spans, max_iter, np.ascontiguousarray(context.base_lrs, np.float64), lr):
            return Curve(lr=lr)
    where = np.arange(context.steps, dtype=np.float64) / float(max_iter)
    try:
        multiplier = scheduler.at(where, scheduler_path or context.path)
    except WhereError as exc:
        step = int(np.argmax(exc.bad))
        raise InvalidArgument(
            f"fvcore raises at step {step} (where = {step}/{max_iter}): {exc.reason}",
            field=f"{context.path}.max_iter",
        ) from None
    return Curve(lr=context.base_lrs[:, None] * multiplier[None, :])


def _filled_curve(pieces: Pieces, max_iter: int, context: EvalContext) -> Curve | None:
    """:func:`lr_multiplier_curve` of a step-shaped scheduler as fills, or None (many pieces,
    or fvcore raising somewhere: the elementwise path names the first step that raises)."""
    lr = np.empty((context.base_lrs.shape[0], context.steps), np.float64)
    span = Span(0, context.steps, "pieces", 0.0, 0.0, pieces=pieces)
    bases = np.ascontiguousarray(context.base_lrs, np.float64)
    return Curve(lr=lr) if _filled(span, pieces, max_iter, bases, lr) else None


def _spans_written(spans: Sequence[Span], max_iter: int, bases: FloatArray, lr: FloatArray) -> bool:
    """Each span's steps of ``lr``: fills for step-shaped parts, one compiled pass for the
    rest; False where some span cannot be written so (fvcore raises, too many pieces)."""
    compiled = [span for span in spans if span.pieces is None]
    for span in spans:
        if span.pieces is not None and not _filled(span, span.pieces, max_iter, bases, lr):
            return False
    if not compiled:
        return True
    from warmstep.schedules.adapters._fvcore_loops import lr_multiplier  # imports numba

    return lr_multiplier(compiled, max_iter, bases, lr)


def _filled(span: Span, pieces: Pieces, max_iter: int, bases: FloatArray, lr: FloatArray) -> bool:
    """``lr[:, span.lo:span.hi]`` as fills of a step-shaped scheduler; False (nothing promised
    about ``lr``) where there are too many pieces or fvcore raises somewhere (its range check
    fails at the span's last step, or the index leaves the list). ``bases`` float64 and ``lr``
    C-contiguous."""
    if span.hi <= span.lo:
        return True
    if not pieces.where_ok(span.progress_at(span.hi - 1, max_iter)):
        return False
    from warmstep.schedules.adapters._fvcore_loops import pieces_filled  # imports numba

    return pieces_filled(span, pieces, max_iter, bases, lr, _MOST_PIECES)


def evaluate_param_scheduler(params: ParamSchedulerParams, context: EvalContext) -> Curve:
    """A top-level ParamScheduler kind: its ``max_iter`` makes it an LRMultiplier."""
    if params.max_iter is None:
        raise InvalidArgument(
            "an fvcore ParamScheduler is a function of progress: give max_iter "
            "(value i = base_lr * scheduler(i / max_iter), as detectron2's LRMultiplier)",
            field=f"{context.path}.max_iter",
        )
    return lr_multiplier_curve(params, params.max_iter, context)


def range_error(where: FloatArray) -> Callable[[int], str]:
    return lambda k: f"where in ParamScheduler must be in [0, 1]: got {where[k]}"


def power(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """Python's ``float ** float``, which raises where numpy would give nan or inf."""
    complex_result = (base < 0) & (np.floor(exponent) != exponent)
    raise_if(complex_result, lambda k: f"{base[k]} ** {exponent[k]} is a complex number")
    raise_if((base == 0) & (exponent < 0), lambda k: "0.0 cannot be raised to a negative power")
    try:
        return pow_like_python(base, exponent)
    except OverflowError:
        with np.errstate(all="ignore"):
            overflow = ~np.isfinite(np.power(base, exponent))
        raise_if(overflow, lambda k: "OverflowError: numerical result out of range")
        raise


def checked_lengths(lengths: Sequence[float]) -> list[float]:
    """fvcore's length check and fix-up: the sum must be 1 within 1e-3; if it is not exactly 1
    the last length becomes ``1 - sum(others)``. Sums are plain left-to-right float additions
    (fvcore under Python 3.11; Python ≥ 3.12's compensated ``sum`` can differ by an ulp)."""
    if not lengths:
        raise ValueError("There must be at least one scheduler in the composite scheduler")
    total = _plain_sum(lengths)
    if abs(total - 1.0) >= 1e-3:
        raise ValueError("The sum of all values in lengths must be 1")
    fixed = list(lengths)
    if total != 1.0:
        fixed[-1] = 1.0 - _plain_sum(fixed[:-1])
    return fixed


def _plain_sum(values: Sequence[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total


WhereFn = Callable[[FloatArray], FloatArray]


def composite_at(
    where: FloatArray, parts: Sequence[WhereFn], lengths: Sequence[float], scaling: Sequence[str]
) -> FloatArray:
    """fvcore ``CompositeParamScheduler.__call__``: part k serves where + 1e-6 ≤ l0 + … + lk
    (the first such k; the last part takes the rest). 'rescaled' passes
    ``(where - start_k) / l_k`` with ``start_k = (l0 + … + lk) - lk``; 'fixed' the global where.
    ``lengths`` are already :func:`checked_lengths`."""
    totals = list(np.cumsum(np.asarray(lengths, dtype=np.float64)))
    shifted = where + WHERE_EPSILON
    chosen_part = np.full(where.shape, len(parts) - 1, dtype=np.intp)
    for k in range(len(parts) - 2, -1, -1):
        chosen_part = np.where(shifted <= totals[k], k, chosen_part)
    out = np.empty_like(where)
    for k, part in enumerate(parts):
        chosen = chosen_part == k
        if not chosen.any():
            continue
        if k >= len(scaling):
            raise WhereError("interval_scaling: list index out of range", chosen)
        local = where[chosen]
        if scaling[k] == "rescaled":
            if lengths[k] == 0:
                raise WhereError("lengths: float division by zero", chosen)
            local = (local - (totals[k] - lengths[k])) / lengths[k]
        try:
            out[chosen] = part(local)
        except WhereError as exc:
            bad = np.zeros(where.shape, dtype=np.bool_)
            bad[chosen] = exc.bad
            raise WhereError(exc.reason, bad) from None
    return out


def bound(scheduler: ParamSchedulerParams, path: str) -> WhereFn:
    return lambda where: scheduler.at(where, path)
