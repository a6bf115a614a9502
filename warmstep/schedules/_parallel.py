"""Transcendental passes over long curves, split across the machine's cores.

``np.cos`` of 10^6 float64 is one libm call per value (~5 ns each), the largest single cost of a
cosine schedule; numpy releases the GIL inside the loop, so slices of the array computed on
several threads at once give the very same values (each element is computed alone) in a
fraction of the time. Short arrays are computed inline: a thread hand-off costs more than it
saves below :data:`PARALLEL_MIN_VALUES`.

numpy's floating-point error state is per thread (a context variable), so each slice runs under
the caller's state: an invalid value still raises where the caller asked it to."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["PARALLEL_MIN_VALUES", "cos_inplace", "in_slices"]

FloatArray = npt.NDArray[np.float64]

PARALLEL_MIN_VALUES = 1 << 17  # per thread
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


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
    """``work(lo, hi)`` over consecutive slices that cover ``range(n)``: one slice per core
    when ``n`` is long (``work`` must release the GIL to gain from it, as numpy's loops and
    the compiled loops of :mod:`._loops` do), else one call inline. The first slice runs on the
    calling thread, the others on the pool's, each under the caller's numpy error state (two
    woken pool threads were often queued on one core while the caller's core idled, halving a
    millisecond-long pass). Returns, or raises the first slice's error, once every slice has
    finished."""
    # The size test comes first: asking the kernel for the cores costs more than a short pass.
    threads = 1 if n < 2 * PARALLEL_MIN_VALUES else min(_threads(), n // PARALLEL_MIN_VALUES)
    if threads < 2:
        work(0, n)
        return
    bounds = np.linspace(0, n, threads + 1).astype(int).tolist()
    state = np.geterr()
    pool = _executor(_threads())
    slices = list(itertools.pairwise(bounds))
    jobs = [pool.submit(_under_state, work, lo, hi, state) for lo, hi in slices[1:]]
    try:
        work(*slices[0])  # the caller's own share, on its own thread
    finally:
        for job in jobs:
            job.result()


def _under_state(work: Callable[[int, int], None], lo: int, hi: int, state: Any) -> None:
    with np.errstate(**state):
        work(lo, hi)
