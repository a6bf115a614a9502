"""Transcendental passes over long curves, split across the machine's cores.

``np.cos`` of 10^6 float64 is one libm call per value (~5 ns each), the largest single cost of a
cosine schedule; numpy releases the GIL inside the loop, so slices of the array computed on
several threads at once give the very same values (each element is computed alone) in a
fraction of the time. Short arrays are computed inline: a thread hand-off costs more than it
saves below :data:`PARALLEL_MIN_VALUES`.

numpy's floating-point error state is per thread (a context variable), so each slice runs under
the caller's state: an invalid value still raises where the caller asked it to."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PARALLEL_MIN_VALUES",
    "cos_inplace",
    "guided_bounds",
    "in_slices",
    "in_slices_folded",
]

FloatArray = npt.NDArray[np.float64]

PARALLEL_MIN_VALUES = 1 << 17  # per thread
MIN_SLICE_VALUES = 1 << 14  # the smallest slice of a pass (the last ones)
FOLDED_SLICES_PER_THREAD = 8  # finer: the fold starts after the first slice, not the last
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _cpu_reader() -> Callable[[], int] | None:
    """The C library's ``sched_getcpu`` (glibc, musl), or None where there is none."""
    try:
        function = ctypes.CDLL(None).sched_getcpu
    except (AttributeError, OSError, TypeError):  # TypeError: no CDLL(None) off POSIX
        return None
    function.restype, function.argtypes = ctypes.c_int, []
    return function


_current_cpu = _cpu_reader()


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ufunc")
        return _pool


def cos_inplace(x: FloatArray) -> FloatArray:
    """``x[:] = np.cos(x)`` for a 1-D contiguous float64 array, on several cores when long."""
    if x.ndim != 1 or not x.flags.c_contiguous:
        np.cos(x, out=x)
        return x

    def pass_over(lo: int, hi: int) -> None:
        np.cos(x[lo:hi], out=x[lo:hi])

    in_slices(pass_over, x.size)
    return x


def in_slices(work: Callable[[int, int], None], n: int) -> None:
    """``work(lo, hi)`` over consecutive slices that cover ``range(n)``, each slice once: on
    every core when ``n`` is long (``work`` must release the GIL to gain from it, as numpy's
    loops and the compiled loops of :mod:`._loops` do), else one call inline. Returns, or
    raises the first error, once no slice is running.

    A long pass is cut into slices handed out in order to whichever thread asks next, the
    caller's own thread included, each slice under the caller's numpy error state. A pool
    thread woken after a pause may start milliseconds late (a virtual machine's idle core wakes
    slowly); fixed halves then left the caller waiting for the late half, where shared slices
    let the caller go on with them. Each slice is a ``1/(2·threads)`` share of what is left
    (:func:`guided_bounds`): large slices first, then smaller ones, so that the threads run out
    of work within a small slice of each other (equal slices left one core idle for half a
    slice on average at the end)."""
    if not _shared(work, n, guided_bounds, lambda slices: slices.drain()):
        work(0, n)


def in_slices_folded(
    work: Callable[[int, int], None], fold: Callable[[int, int], None], n: int
) -> None:
    """:func:`in_slices` followed by a sequential pass that reads its results: ``work(lo, hi)``
    on every core, and ``fold(lo, hi)`` for each slice in order on the caller's thread, as
    soon as that slice's work is done (the caller does work whenever the next slice to fold is
    not ready). A fold that carries a value from one step to the next (torch's recurrences)
    then overlaps the parallel pass instead of waiting for all of it. Raises the first error
    of either, once no slice is running; no slice is folded after a failed one."""
    if not _shared(work, n, _even_bounds, lambda slices: slices.fold_in_order(fold), ordered=True):
        work(0, n)
        fold(0, n)


def guided_bounds(n: int, threads: int) -> list[int]:
    """Bounds of slices over ``range(n)``: each a ``1/(2·threads)`` share of what the slices
    before it left, and no smaller than :data:`MIN_SLICE_VALUES` (nor than what is left).
    Example: ``n`` 1,000,000 on 2 threads: 250,000, 187,500, 140,625, ... then 16,384s."""
    bounds = [0]
    while bounds[-1] < n:
        left = n - bounds[-1]
        bounds.append(bounds[-1] + min(left, max(MIN_SLICE_VALUES, -(-left // (2 * threads)))))
    return bounds


def _even_bounds(n: int, threads: int) -> list[int]:
    """:data:`FOLDED_SLICES_PER_THREAD` equal slices per thread: the fold follows them in order,
    so the first must be short too."""
    count = threads * FOLDED_SLICES_PER_THREAD
    return [n * i // count for i in range(count + 1)]


def _shared(
    work: Callable[[int, int], None],
    n: int,
    cut: Callable[[int, int], list[int]],
    callers_part: Callable[[_Slices], None],
    *,
    ordered: bool = False,
) -> bool:
    """Slices of ``range(n)`` (bounds from ``cut(n, threads)``) for ``work`` handed to pool
    threads and the caller (which runs ``callers_part``); False, with nothing run, where ``n``
    is too short to share."""
    # The size test comes first: asking the kernel for the cores costs more than a short pass.
    threads = 1 if n < 2 * PARALLEL_MIN_VALUES else min(_threads(), n // PARALLEL_MIN_VALUES)
    if threads < 2:
        return False
    slices = _Slices(list(itertools.pairwise(cut(n, threads))), work, ordered)
    state = np.geterr()
    pool = _executor(_threads())
    caller = _current_cpu() if _current_cpu is not None else -1
    helpers = [pool.submit(_drain_beside, slices, state, caller) for _ in range(threads - 1)]
    try:
        callers_part(slices)
    finally:
        for helper in helpers:
            if not helper.cancel():  # a helper still queued (the pool busy) is not waited for
                helper.result()
    return True


class _Slices:
    """Slices of one pass, handed out in order; none after one has failed."""

    def __init__(
        self, slices: list[tuple[int, int]], work: Callable[[int, int], None], ordered: bool
    ) -> None:
        self._slices = slices
        self._work = work
        self._next = 0
        self._lock = threading.Lock()
        self._failed = False
        # An event per slice, set when its work is done, where the slices are folded in order.
        self._done = [threading.Event() for _ in slices] if ordered else []

    def _take(self) -> int | None:
        with self._lock:
            if self._failed or self._next >= len(self._slices):
                return None
            self._next += 1
            return self._next - 1

    def _run(self, index: int) -> None:
        try:
            self._work(*self._slices[index])
        except BaseException:
            self._failed = True
            for done in self._done:  # a caller waiting on a slice wakes to the failure
                done.set()
            raise
        if self._done:
            self._done[index].set()

    def drain(self) -> None:
        while (index := self._take()) is not None:
            self._run(index)

    def fold_in_order(self, fold: Callable[[int, int], None]) -> None:
        """Fold each slice in order once its work is done, doing work meanwhile (slices made
        ``ordered``)."""
        for index, bounds in enumerate(self._slices):
            while not self._done[index].is_set():
                taken = self._take()
                if taken is None:
                    self._done[index].wait()
                else:
                    self._run(taken)
            if self._failed:
                return  # the helper's error is raised by its future
            try:
                fold(*bounds)
            except BaseException:
                self._failed = True
                raise


def _drain_beside(slices: _Slices, state: Any, caller_cpu: int) -> None:
    with np.errstate(**state), _off_cpu(caller_cpu):
        slices.drain()


@contextlib.contextmanager
def _off_cpu(cpu: int) -> Iterator[None]:
    """Run the block away from core ``cpu`` if this thread is on it (and may run elsewhere):
    the kernel wakes a thread on its waker's core, where it would share the caller's core
    while another idles."""
    if _current_cpu is None or cpu < 0 or _current_cpu() != cpu:
        yield
        return
    allowed = os.sched_getaffinity(0)  # 0: this thread
    others = allowed - {cpu}
    if not others:
        yield
        return
    os.sched_setaffinity(0, others)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
