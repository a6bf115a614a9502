"""torch's stateful schedulers as a vectorised simulation: who writes the lr, when, and how.

torch's scheduler objects share one optimizer. A *node* is one scheduler: a *leaf* (StepLR,
OneCycleLR ...) turns calls into lr writes (:mod:`._ops`); a composite (SequentialLR,
ChainedScheduler) routes calls to its children. The simulation has two phases:

1. Construction (index 0), scalar: every constructor runs in list order, with its side effects
   on the shared optimizer (``initial_lr`` set by the first one, CyclicLR/OneCycleLR writing
   their own lrs and momenta, SequentialLR resetting to ``initial_lr``, undoing every child's
   counter and re-running the initial step of the one active at 0).
2. Steps ``1 .. steps-1``, vectorised: the root receives ``step()`` at every index; composites
   split those calls among children (SequentialLR turns the call at a milestone into the next
   child's ``_update_lr(0)``); each leaf turns its calls into writes at once. The writes are
   merged in execution order (step, then child order) and replayed by :func:`._scan.replay`.

``Curve.lr[g, i]`` is the lr after the last write of step ``i``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, FloatArray
from warmstep.schedules.adapters.torch._fast import Multipliers, expand_into
from warmstep.schedules.adapters.torch._ops import MUL, SET, IntArray, Ops, apply_one, concat_ops
from warmstep.schedules.adapters.torch._scan import replay

# Tests switch this off to compare the standalone fast paths (:mod:`._fast`) with the simulation.
FAST_PATHS = True

# A scheduler's next values from a given lr, written into a (groups x steps) block (see
# Leaf.segment).
Segment = Callable[[FloatArray, FloatArray], None]

# Call types a leaf receives.
STEP, UPDATE0, INITIAL = 0, 1, 2


@dataclass
class Optimizer:
    """The shared per-group optimizer state that constructors read and write."""

    lr: FloatArray
    fields: dict[str, FloatArray] = field(default_factory=dict)
    momentum: FloatArray | None = None

    def setdefault_initial_lr(self) -> FloatArray:
        if "initial_lr" not in self.fields:
            self.fields["initial_lr"] = self.lr.copy()
        return self.fields["initial_lr"].copy()

    def apply(self, ops: Ops) -> None:
        for k in range(ops.size):
            self.lr = apply_one(self.lr, int(ops.kind[k]), ops.a[:, k], ops.b[:, k], ops.c[:, k])
            if not np.isnan(ops.momentum[0, k]):
                self.momentum = ops.momentum[:, k].copy()


class Calls:
    """A leaf's calls in order: type, its ``last_epoch`` before and after, ``_step_count`` after.

    :meth:`counting` describes calls whose counters count up by one (``step()`` alone, or a
    milestone's ``_update_lr(0)`` then ``step()``): their arrays are made when first read (most
    leaves read one of the three, or none)."""

    def __init__(
        self,
        kind: IntArray,
        prev_epoch: IntArray | None,
        epoch: IntArray | None,
        step_count: IntArray | None,
        first: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        self.kind = kind
        self._prev_epoch, self._epoch, self._step_count = prev_epoch, epoch, step_count
        self._first = first  # epoch, step count and previous epoch of the first call (counting)

    @classmethod
    def counting(cls, kind: IntArray, epoch: int, step_count: int, prev_epoch: int) -> Calls:
        """Calls whose epoch and step count start at ``epoch`` and ``step_count`` and grow by
        one a call; the first call's previous epoch is ``prev_epoch``."""
        return cls(kind, None, None, None, (epoch, step_count, prev_epoch))

    def _counted(self, start: int) -> IntArray:
        return np.arange(start, start + self.size, dtype=np.int64)

    @property
    def epoch(self) -> IntArray:
        if self._epoch is None:
            self._epoch = self._counted(self._first[0])
        return self._epoch

    @property
    def prev_epoch(self) -> IntArray:
        if self._prev_epoch is None:
            self._prev_epoch = self._counted(self._first[0] - 1)
            if self.size:
                self._prev_epoch[0] = self._first[2]
        return self._prev_epoch

    @property
    def step_count(self) -> IntArray:
        if self._step_count is None:
            self._step_count = self._counted(self._first[1])
        return self._step_count

    @property
    def size(self) -> int:
        return int(self.kind.shape[0])


@dataclass
class Sink:
    """Collects every leaf's writes with the step index each belongs to."""

    groups: int
    parts: list[tuple[IntArray, int, Ops]] = field(default_factory=list)

    def add(self, steps: IntArray, order: int, ops: Ops) -> None:
        if ops.size:
            self.parts.append((steps, order, ops))

    def every_step(self, total_steps: int) -> list[Ops] | None:
        """The writers in execution order when there are several and each writes once at every
        step (a ChainedScheduler of leaves), else None."""
        parts = sorted(self.parts, key=lambda part: part[1])
        if len(parts) > 1 and all(part[0].shape[0] == total_steps for part in parts):
            return [part[2] for part in parts]
        return None

    def merged(self, total_steps: int) -> tuple[Ops, IntArray | None]:
        """All writes in execution order, and for each step the index of its last write (-1);
        None when step ``i`` (1-based) has exactly one write, write ``i-1``."""
        if len(self.parts) == 1:
            steps, _, ops = self.parts[0]
            if steps.shape[0] == total_steps:  # increasing, within 1..total: every step once
                return ops, None
            last = np.full(total_steps + 1, -1, np.int64)
            last[steps] = np.arange(steps.shape[0])
            return ops, np.maximum.accumulate(last)
        parts = sorted(self.parts, key=lambda part: part[1])
        if FAST_PATHS and parts and all(part[0].shape[0] == total_steps for part in parts):
            return _interleaved([part[2] for part in parts], self.groups, total_steps)
        if FAST_PATHS and sum(part[0].shape[0] for part in parts) == total_steps:
            covered = np.zeros(total_steps + 1, bool)
            for steps, _, _ in parts:
                covered[steps] = True
            if covered[1:].all():  # each step written by exactly one leaf
                return _scattered(parts, self.groups, total_steps), None
        counts = np.zeros(total_steps + 1, np.int64)
        for steps, _, _ in self.parts:
            counts[steps] += 1
        starts = np.concatenate([[0], np.cumsum(counts)])
        filled = np.zeros(total_steps + 1, np.int64)
        order = np.empty(int(starts[-1]), np.int64)
        offset = 0
        for steps, _, ops in sorted(self.parts, key=lambda part: part[1]):
            order[starts[steps] + filled[steps]] = np.arange(offset, offset + ops.size)
            filled[steps] += 1
            offset += ops.size
        ops = concat_ops([p[2] for p in sorted(self.parts, key=lambda part: part[1])], self.groups)
        merged = Ops(
            ops.kind[order],
            ops.a[:, order],
            ops.b[:, order],
            ops.c[:, order],
            ops.momentum[:, order],
        )
        return merged, starts[1:] - 1


def _interleaved(parts: list[Ops], groups: int, total: int) -> tuple[Ops, IntArray]:
    """Every leaf writes once per step: step ``i``'s writes are the ``i``-th of each, in order."""
    k = len(parts)

    def weave(arrays: list[FloatArray]) -> FloatArray:
        return np.stack(arrays, axis=2).reshape(groups, total * k)

    ops = Ops(
        np.stack([p.kind for p in parts], axis=1).reshape(total * k),
        weave([p.a for p in parts]),
        weave([p.b for p in parts]),
        weave([p.c for p in parts]),
        weave([p.momentum for p in parts]),
    )
    last = np.concatenate([[-1], np.arange(k - 1, total * k, k, dtype=np.int64)])
    return ops, last


def _scattered(parts: list[tuple[IntArray, int, Ops]], groups: int, total: int) -> Ops:
    """Each step written by exactly one leaf: the writes placed at their steps."""
    kind = np.empty(total, np.int64)
    fields = [np.empty((groups, total), np.float64) for _ in range(4)]
    for steps, _, ops in parts:
        first, count = int(steps[0]) - 1, steps.shape[0]
        # one leaf's steps are most often a run (SequentialLR): a slice, not a scatter
        where: slice | IntArray = (
            slice(first, first + count) if int(steps[-1]) - first == count else steps - 1
        )
        kind[where] = ops.kind
        for out, values in zip(fields, (ops.a, ops.b, ops.c, ops.momentum), strict=True):
            out[:, where] = values
    return Ops(kind, *fields)


class Node(Protocol):
    path: str

    def number(self, first: int) -> int:
        """Assign execution-order numbers to leaves from ``first``; return the next free one."""

    def construct(self, opt: Optimizer) -> None: ...
    def undo(self) -> None: ...
    def initial_step(self, opt: Optimizer) -> None: ...
    def step_now(self, opt: Optimizer, kind: int) -> None: ...
    def calls(self, steps: IntArray, kinds: IntArray, opt: Optimizer, sink: Sink) -> None: ...


class Leaf:
    """Base of every leaf: torch's ``last_epoch`` / ``_step_count`` bookkeeping.

    Subclasses implement :meth:`ops` (the writes of a batch of calls) and may extend
    :meth:`construct` for constructor side effects.
    """

    def __init__(self, path: str, base_lrs: FloatArray) -> None:
        self.path = path
        self.last_epoch = -1
        self.step_count = 0
        self.base_lrs = base_lrs
        self.order = 0

    def number(self, first: int) -> int:
        self.order = first
        return first + 1

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        raise NotImplementedError

    def standalone(self, total: int) -> Multipliers | None:
        """As the whole schedule, right after construction: its next ``total`` ``step()``
        calls as multiplications (:mod:`._fast`), or None where :meth:`ops` must run."""
        return None

    def whole(self, steps: int) -> Curve | None:
        """As the whole schedule, right after construction: its ``steps`` values (lr and
        momentum) where each is a closed form of its epoch that ignores the lr it finds, else
        None. Moves no counter, reads nothing that construction sets (:func:`simulate` calls
        it first), and raises what the constructor's step would."""
        return None

    def segment(self, steps: int) -> Segment | None:
        """``steps`` values of this scheduler stepped on its own from a known point: right
        after construction (the whole schedule), or right after a SequentialLR milestone's
        ``step(0)`` (its epoch 0): a function of the lr at that point and of a ``(groups,
        steps)`` block that writes into the block that lr, then the lr after each of ``steps -
        1`` ``step()`` calls (epochs 1, 2, ...); None where :meth:`ops` must run. Moves no
        counter. By default the multiplications of :meth:`standalone`."""
        multipliers = self.standalone(max(steps - 1, 0))
        if multipliers is None:
            return None
        return lambda lr0, out: expand_into(lr0, multipliers, out)

    def construct(self, opt: Optimizer) -> None:
        self.base_lrs = opt.setdefault_initial_lr()
        self.initial_step(opt)

    def undo(self) -> None:
        self.last_epoch -= 1

    def constructor_lr(self, lr: FloatArray) -> FloatArray | None:
        """Each group's lr after the constructor's ``step()`` from ``lr`` (torch's ``get_lr`` at
        epoch 0), for leaves where that write is all the step does; None where :meth:`ops`
        must say. The step then only counts and writes, with no ops to build (a dozen small
        numpy calls, ~0.1 ms before a long curve's first pass, most of a short curve's)."""
        return None

    def initial_step(self, opt: Optimizer) -> None:
        self.step_count = 0
        lr = self.constructor_lr(opt.lr)
        if lr is None:
            self.step_now(opt, INITIAL)
            return
        self.last_epoch += 1  # as advance() counts one step()
        self.step_count += 1
        opt.lr = lr

    def milestone_values(self) -> FloatArray | None:
        """What a SequentialLR milestone's ``_update_lr(0)`` sets each group's lr to, for leaves
        where that is all it does (a closed form at epoch 0); None where :meth:`ops` must say
        (or raise)."""
        return None

    def step_now(self, opt: Optimizer, kind: int) -> None:
        values = self.milestone_values() if kind == UPDATE0 else None
        if values is not None:  # as advance() counts one _update_lr(0), apply() a SET write
            self.last_epoch = 0
            opt.lr = values.copy()
            return
        opt.apply(self.ops(self.advance(np.array([kind], np.int64)), opt))

    def calls(self, steps: IntArray, kinds: IntArray, opt: Optimizer, sink: Sink) -> None:
        if steps.size:
            sink.add(steps, self.order, self.ops(self.advance(kinds), opt))

    def advance(self, kinds: IntArray) -> Calls:
        """Counters after each call: ``step()`` adds one to both, ``_update_lr(0)`` sets epoch 0."""
        n = kinds.shape[0]
        if not (kinds == UPDATE0).any():  # step() and the constructor's step count up by one
            last, count = self.last_epoch, self.step_count
            self.last_epoch, self.step_count = last + n, count + n
            return Calls.counting(kinds, last + 1, count + 1, last)
        if kinds[0] == UPDATE0 and np.all(kinds[1:] == STEP):  # a SequentialLR milestone
            last, count = self.last_epoch, self.step_count
            self.last_epoch, self.step_count = n - 1, count + n - 1
            return Calls.counting(kinds, 0, count, last)
        reset = kinds == UPDATE0
        counted = np.cumsum(~reset)
        positions = np.arange(kinds.shape[0])
        last_reset = np.maximum.accumulate(np.where(reset, positions, -1))
        epoch = np.where(
            last_reset >= 0, counted - counted[np.maximum(last_reset, 0)], self.last_epoch + counted
        ).astype(np.int64)
        prev = np.concatenate([[self.last_epoch], epoch[:-1]]).astype(np.int64)
        step_count = (self.step_count + counted).astype(np.int64)
        if kinds.size:
            self.last_epoch, self.step_count = int(epoch[-1]), int(step_count[-1])
        return Calls(kinds, prev, epoch, step_count)


def bisect_right_many(milestones: list[int], values: IntArray) -> IntArray:
    """``bisect.bisect_right(milestones, v)`` for every v, by the same halving steps, so it
    agrees with Python even for unsorted milestones (which torch does not reject)."""
    if all(a <= b for a, b in itertools.pairwise(milestones)):
        return np.searchsorted(np.asarray(milestones, np.int64), values, side="right")
    lo = np.zeros(values.shape, np.int64)
    hi = np.full(values.shape, len(milestones), np.int64)
    table = np.asarray(milestones, np.int64)
    while np.any(lo < hi):
        active = lo < hi
        mid = (lo + hi) // 2
        below = values < table[np.minimum(mid, len(milestones) - 1)] if table.size else active
        hi = np.where(active & below, mid, hi)
        lo = np.where(active & ~below, mid + 1, lo)
    return lo


class Sequential:
    """``SequentialLR``: one child active at a time; at a milestone the next child's
    ``_update_lr(0)`` writes its own epoch-0 value."""

    def __init__(self, path: str, children: list[Node], milestones: list[int]) -> None:
        self.path = path
        self.children = children
        self.milestones = milestones
        self.last_epoch = 0

    def number(self, first: int) -> int:
        for child in self.children:
            first = child.number(first)
        return first

    def construct(self, opt: Optimizer) -> None:
        for child in self.children:
            child.construct(opt)
        opt.lr = opt.fields["initial_lr"].copy()
        self.undo()
        self.children[bisect.bisect_right(self.milestones, 0)].initial_step(opt)

    def undo(self) -> None:
        for child in self.children:
            child.undo()

    def initial_step(self, opt: Optimizer) -> None:
        self.step_now(opt, STEP)

    def step_now(self, opt: Optimizer, kind: int) -> None:
        if kind == UPDATE0:
            raise _no_closed_form(self.path)
        self.last_epoch += 1
        index = bisect.bisect_right(self.milestones, self.last_epoch)
        at_milestone = index > 0 and self.milestones[index - 1] == self.last_epoch
        self.children[index].step_now(opt, UPDATE0 if at_milestone else STEP)

    def calls(self, steps: IntArray, kinds: IntArray, opt: Optimizer, sink: Sink) -> None:
        if np.any(kinds == UPDATE0):
            raise _no_closed_form(self.path)
        epochs = self.last_epoch + 1 + np.arange(steps.shape[0], dtype=np.int64)
        self.last_epoch += int(steps.shape[0])
        if all(a <= b for a, b in itertools.pairwise(self.milestones)):
            # Epochs increase by one: each child's calls are one slice, its first call the
            # milestone's _update_lr(0) when the slice starts there.
            starts = np.searchsorted(epochs, self.milestones, side="left").tolist()
            bounds = [0, *starts, int(steps.shape[0])]
            for j, child in enumerate(self.children):
                lo, hi = bounds[j], bounds[j + 1]
                if lo >= hi:
                    continue
                child_kinds = np.full(hi - lo, STEP, np.int64)
                if j > 0 and int(epochs[lo]) == self.milestones[j - 1]:
                    child_kinds[0] = UPDATE0
                child.calls(steps[lo:hi], child_kinds, opt, sink)
            return
        index = bisect_right_many(self.milestones, epochs)
        table = np.asarray([*self.milestones, 0], np.int64)
        hit = (index > 0) & (table[np.maximum(index - 1, 0)] == epochs)
        for j, child in enumerate(self.children):
            mine = index == j
            child.calls(steps[mine], np.where(hit[mine], UPDATE0, STEP), opt, sink)

    def by_segments(self, opt: Optimizer, lr0: FloatArray, steps: int) -> FloatArray | None:
        """Right after construction, with leaves for children and milestones 1 <= m1 < m2 ...:
        child 0 from ``lr0`` up to the first milestone, each next child from the value its
        ``step(0)`` writes at its milestone (the simulation's own write), each run by
        :meth:`Leaf.segment`. None, before any state moves, where a child has no segment."""
        cuts = self.milestones
        leaves = [child for child in self.children if isinstance(child, Leaf)]
        if len(leaves) < len(self.children):
            return None
        if (cuts and cuts[0] < 1) or any(a >= b for a, b in itertools.pairwise(cuts)):
            return None
        bounds = [0, *(min(cut, steps) for cut in cuts), steps]
        plan: list[tuple[Leaf, int, int, Segment]] = []
        for child, lo, hi in zip(leaves, bounds, bounds[1:], strict=False):
            if hi > lo:
                segment = child.segment(hi - lo)
                if segment is None:
                    return None
                plan.append((child, lo, hi, segment))
        out = np.empty((lr0.shape[0], steps), np.float64)
        lr = lr0
        for child, lo, hi, segment in plan:
            if lo > 0:  # the milestone: step(0) writes the child's epoch-0 value
                opt.lr = lr.copy()
                child.step_now(opt, UPDATE0)
                lr = opt.lr
            segment(lr, out[:, lo:hi])
            lr = out[:, hi - 1]
        return out


class Chained:
    """``ChainedScheduler``: every child's ``step()`` in list order; no reset at construction."""

    def __init__(self, path: str, children: list[Node]) -> None:
        self.path = path
        self.children = children

    def number(self, first: int) -> int:
        for child in self.children:
            first = child.number(first)
        return first

    def construct(self, opt: Optimizer) -> None:
        for child in self.children:
            child.construct(opt)

    def undo(self) -> None:
        for child in self.children:
            child.undo()

    def initial_step(self, opt: Optimizer) -> None:
        # torch's base _initial_step calls ChainedScheduler.step(): children step normally.
        self.step_now(opt, STEP)

    def step_now(self, opt: Optimizer, kind: int) -> None:
        if kind == UPDATE0:
            raise _no_closed_form(self.path)
        for child in self.children:
            child.step_now(opt, STEP)

    def by_multipliers(self, lr0: FloatArray, steps: int) -> FloatArray | None:
        """The curve where every child is a leaf whose calls are multiplications (or writes)
        known in advance (:meth:`Leaf.standalone`: a child of a ChainedScheduler is stepped
        at every step from its construction on, as on its own), folded step by step in child
        order in one compiled loop; else None (nothing moved)."""
        total = max(steps - 1, 0)
        leaves = [child for child in self.children if isinstance(child, Leaf)]
        if len(leaves) < len(self.children):
            return None
        multipliers = [m for m in (leaf.standalone(total) for leaf in leaves) if m is not None]
        if len(multipliers) < len(leaves):
            return None
        from warmstep.schedules.adapters.torch._fold_loop import chained_multipliers

        out = np.empty((lr0.shape[0], steps), np.float64)
        if steps == 0:
            return out
        out[:, 0] = lr0
        for g in range(lr0.shape[0]):
            children = [
                (m.calls, m.factors[min(g, m.factors.shape[0] - 1)], m.written) for m in multipliers
            ]
            chained_multipliers(float(lr0[g]), children, out[g, 1:])
        return out

    def calls(self, steps: IntArray, kinds: IntArray, opt: Optimizer, sink: Sink) -> None:
        if np.any(kinds == UPDATE0):
            raise _no_closed_form(self.path)
        for child in self.children:
            child.calls(steps, kinds, opt, sink)


def _no_closed_form(path: str) -> InvalidArgument:
    return InvalidArgument(
        "torch raises NotImplementedError here: a composite scheduler placed after the first "
        "position of a SequentialLR has no epoch-0 value to show at its milestone",
        field=path,
    )


def simulate(root: Node, context: EvalContext) -> Curve:
    """Construct ``root`` against fresh optimizer groups, step it ``steps-1`` times, record."""
    opt = Optimizer(lr=np.asarray(context.base_lrs, np.float64).copy())
    root.number(0)
    if FAST_PATHS and isinstance(root, Leaf) and context.steps:
        # Before construction: whole() reads only the leaf's own arguments, and raises what
        # the constructor's step would at epoch 0 (a curve with a value at epoch 0).
        whole = root.whole(context.steps)
        if whole is not None:
            return whole
    root.construct(opt)
    lr0 = opt.lr.copy()
    momentum0 = None if opt.momentum is None else opt.momentum.copy()
    total = max(context.steps - 1, 0)
    if FAST_PATHS and momentum0 is None:
        curve = _by_segments(root, opt, lr0, context.steps)
        if curve is not None:
            return Curve(lr=curve, momentum=None)
    sink = Sink(context.groups)
    steps = np.arange(1, total + 1, dtype=np.int64)
    root.calls(steps, np.full(total, STEP, np.int64), opt, sink)
    every = sink.every_step(total) if FAST_PATHS and momentum0 is None else None
    if every is not None:  # fold the writers in turn, step by step: nothing to merge or sample
        return Curve(lr=_fold_every_step(lr0, every, context.steps), momentum=None)
    ops, last_write = sink.merged(total)
    # Writes that all set the lr (closed forms: CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts)
    # leave nothing to replay: the lr after each write is the value it writes.
    only_sets = FAST_PATHS and (ops.size == 0 or int(ops.kind.max()) == SET)
    lr_after = ops.a if only_sets else replay(lr0, ops)
    lr = _sample(lr0, lr_after, last_write, context.steps)
    momentum = None
    if momentum0 is not None:
        written = ops.momentum
        every_call = FAST_PATHS and not np.isnan(written[0]).any()  # nothing to fill forward
        filled = written if every_call else _forward_fill(written, momentum0)
        momentum = _sample(momentum0, filled, last_write, context.steps)
    return Curve(lr=lr, momentum=momentum)


def _by_segments(root: Node, opt: Optimizer, lr0: FloatArray, steps: int) -> FloatArray | None:
    """The curve from the leaves' own :meth:`Leaf.segment`, where ``root`` is a leaf or a
    SequentialLR of leaves whose every active child has one, else None (nothing moved)."""
    if isinstance(root, Leaf):
        segment = root.segment(steps)
        if segment is None:
            return None
        out = np.empty((lr0.shape[0], steps), np.float64)
        segment(lr0, out)
        return out
    if isinstance(root, Sequential):
        return root.by_segments(opt, lr0, steps)
    if isinstance(root, Chained):
        return root.by_multipliers(lr0, steps)
    return None


def _fold_every_step(lr0: FloatArray, writers: list[Ops], steps: int) -> FloatArray:
    from warmstep.schedules.adapters.torch._fold_loop import (
        fold_steps,  # imports numba: only when needed
    )

    kind = np.stack([writer.kind for writer in writers])
    hard = bool(kind.size) and int(kind.max()) > MUL  # AFFINE, ADD, SWA read b and c
    out = np.empty((lr0.shape[0], steps), np.float64)
    if steps == 0:
        return out
    out[:, 0] = lr0
    for g in range(lr0.shape[0]):
        a = np.stack([writer.a[g] for writer in writers])
        b = np.stack([writer.b[g] for writer in writers]) if hard else a
        c = np.stack([writer.c[g] for writer in writers]) if hard else a
        out[g, 1:] = fold_steps(float(lr0[g]), kind, a, b, c)
    return out


def _forward_fill(written: FloatArray, initial: FloatArray) -> FloatArray:
    positions = np.arange(written.shape[1])
    last = np.maximum.accumulate(np.where(~np.isnan(written[0]), positions, -1))
    filled = written[:, np.maximum(last, 0)]
    return np.where(last[None, :] >= 0, filled, initial[:, None])


def _sample(
    initial: FloatArray, after: FloatArray, last_write: IntArray | None, steps: int
) -> FloatArray:
    out = np.empty((initial.shape[0], steps), np.float64)
    if steps == 0:
        return out
    out[:, 0] = initial
    if last_write is None:
        out[:, 1:] = after[:, : steps - 1]
        return out
    index = last_write[1:steps]
    # A step with no write of its own keeps the value of the latest earlier write.
    index = np.maximum.accumulate(index) if index.size else index
    out[:, 1:] = np.where(index[None, :] >= 0, after[:, np.maximum(index, 0)], initial[:, None])
    return out


def leaf_indices(mask: npt.NDArray[np.bool_]) -> IntArray:
    return np.flatnonzero(mask).astype(np.int64)
