"""Transcendental passes split across threads give numpy's own values, bit for bit, and keep the
caller's floating-point error state."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules._parallel import (
    MIN_SLICE_VALUES,
    PARALLEL_MIN_VALUES,
    _current_cpu,
    _off_cpu,
    _threads,
    cos_inplace,
    guided_bounds,
    in_slices,
    in_slices_folded,
)


@pytest.mark.parametrize("size", [10, PARALLEL_MIN_VALUES * 2 + 7, 1_000_003])
def test_values_are_numpys_own(size: int) -> None:
    x = np.random.default_rng(size).uniform(-50.0, 50.0, size)
    expected = np.cos(x)
    out = cos_inplace(x.copy())
    np.testing.assert_array_equal(out, expected)
    assert out.tobytes() == expected.tobytes()


def test_the_callers_error_state_holds_in_every_slice() -> None:
    x = np.zeros(PARALLEL_MIN_VALUES * 4)
    x[-1] = np.inf  # in the last slice, computed on whichever thread takes it
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        cos_inplace(x.copy())
    with np.errstate(invalid="ignore"):
        assert np.isnan(cos_inplace(x.copy())[-1])


def test_a_long_cosine_schedule_equals_the_short_path() -> None:
    """The same kind evaluated long (threaded cos) and in short pieces agree value for value."""
    spec = {
        "type": "get_cosine_schedule_with_warmup",
        "num_warmup_steps": 1000,
        "num_training_steps": 600_000,
    }
    resolved = resolve_spec(spec)
    long = resolved.evaluate(EvalContext(600_000, np.array([0.1]))).lr[0]
    short = resolved.evaluate(EvalContext(100_000, np.array([0.1]))).lr[0]  # one thread
    np.testing.assert_array_equal(long[:100_000], short)


def test_slices_cover_the_range_once_and_the_caller_takes_part() -> None:
    """Slices go to whichever thread asks next, the caller's included: a pool thread that
    starts late (an idle core waking slowly) leaves the caller working, not waiting."""
    seen: list[tuple[int, int, int]] = []

    def work(lo: int, hi: int) -> None:
        seen.append((lo, hi, threading.get_ident()))
        time.sleep(0.002)

    n = PARALLEL_MIN_VALUES * 4 + 3
    in_slices(work, n)
    covered = sorted((lo, hi) for lo, hi, _ in seen)
    assert covered[0][0] == 0 and covered[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    if _threads() > 1:
        assert covered == list(itertools.pairwise(guided_bounds(n, min(_threads(), 4))))
        assert any(ident == threading.get_ident() for _, _, ident in seen)


@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("n", [2 * PARALLEL_MIN_VALUES, 1_000_000, 10_000_019])
def test_guided_slices_shrink_to_the_smallest_and_cover_the_range(threads: int, n: int) -> None:
    """Each slice is a 1/(2·threads) share of what is left, never under MIN_SLICE_VALUES
    (but the last, what is left): the first is the largest, the last ones the smallest."""
    bounds = guided_bounds(n, threads)
    sizes = [hi - lo for lo, hi in itertools.pairwise(bounds)]
    assert bounds[0] == 0 and bounds[-1] == n and all(size > 0 for size in sizes)
    assert sizes[0] == -(-n // (2 * threads))
    assert all(a >= b for a, b in itertools.pairwise(sizes))
    assert all(size >= MIN_SLICE_VALUES for size in sizes[:-1])
    for lo, size in zip(bounds, sizes[:-1], strict=False):
        assert size == max(MIN_SLICE_VALUES, -(-(n - lo) // (2 * threads)))
    assert guided_bounds(1_000_000, 2)[:4] == [0, 250_000, 437_500, 578_125]


def test_a_failing_slice_stops_the_pass_and_raises_once_none_is_running() -> None:
    running, started = [0], [0]
    lock = threading.Lock()

    def work(lo: int, hi: int) -> None:
        with lock:
            running[0] += 1
            started[0] += 1
        try:
            time.sleep(0.02)
            if lo > 0 and started[0] >= 2:
                raise ValueError("a slice failed")
        finally:
            with lock:
                running[0] -= 1

    n = PARALLEL_MIN_VALUES * 4
    if _threads() < 2:
        pytest.skip("one core: the pass runs inline")
    with pytest.raises(ValueError, match="a slice failed"):
        in_slices(work, n)
    assert running[0] == 0  # every slice finished: none still writing after the raise
    assert started[0] < len(guided_bounds(n, min(_threads(), 4))) - 1  # none after the failure


def test_each_slice_is_folded_in_order_after_its_work() -> None:
    """The fold runs on the caller's thread, slice by slice in order, each slice only once its
    work is done, while later slices are still being worked on."""
    done: set[tuple[int, int]] = set()
    folded: list[tuple[int, int]] = []
    lock = threading.Lock()

    def work(lo: int, hi: int) -> None:
        time.sleep(0.003 if lo % 2 else 0.001)  # finished out of order
        with lock:
            done.add((lo, hi))

    def fold(lo: int, hi: int) -> None:
        assert threading.get_ident() == caller
        with lock:
            assert (lo, hi) in done
        folded.append((lo, hi))

    caller = threading.get_ident()
    n = PARALLEL_MIN_VALUES * 4 + 3
    in_slices_folded(work, fold, n)
    assert folded[0][0] == 0 and folded[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(folded))
    assert sorted(done) == folded
    short: list[tuple[int, int]] = []
    in_slices_folded(lambda lo, hi: None, lambda lo, hi: short.append((lo, hi)), 10)
    assert short == [(0, 10)]


@pytest.mark.parametrize("failing", ["work", "fold"])
def test_a_failure_stops_the_folded_pass(failing: str) -> None:
    """A slice whose work fails on a pool thread, or whose fold fails, raises that error once
    no slice is running, and neither it nor anything after it is folded."""
    if _threads() < 2:
        pytest.skip("one core: the pass runs inline")
    running, folded, failed_at = [0], [], []
    lock = threading.Lock()
    n = PARALLEL_MIN_VALUES * 4
    bad = n // 2
    caller = threading.get_ident()

    def work(lo: int, hi: int) -> None:
        with lock:
            running[0] += 1
        try:
            time.sleep(0.002)
            if failing == "work" and lo >= bad and threading.get_ident() != caller:
                failed_at.append(lo)
                raise ValueError("a slice failed")
        finally:
            with lock:
                running[0] -= 1

    def fold(lo: int, hi: int) -> None:
        if failing == "fold" and lo <= bad < hi:
            raise ValueError("a slice failed")
        folded.append((lo, hi))

    with pytest.raises(ValueError, match="a slice failed"):
        in_slices_folded(work, fold, n)
    assert running[0] == 0
    assert folded and folded[-1][1] <= (failed_at[0] if failing == "work" else bad)


def test_a_pool_thread_steps_off_the_callers_core() -> None:
    if _current_cpu is None or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs sched_getcpu and two cores")
    seen: dict[str, object] = {}

    def beside() -> None:
        here = _current_cpu()  # type: ignore[misc]
        before = os.sched_getaffinity(0)
        with _off_cpu(here):
            seen["inside"] = _current_cpu()  # type: ignore[misc]
            seen["allowed"] = os.sched_getaffinity(0)
        seen["here"], seen["after"], seen["before"] = here, os.sched_getaffinity(0), before

    thread = threading.Thread(target=beside)
    thread.start()
    thread.join()
    assert seen["inside"] != seen["here"] and seen["here"] not in seen["allowed"]  # type: ignore[operator]
    assert seen["after"] == seen["before"]


def test_callers_on_many_threads_each_finish_their_own_pass() -> None:
    """More concurrent passes than pool threads (a front end's threads evaluating long curves at
    once): each caller drains its own slices, so none waits for a pool thread that is busy."""
    n = PARALLEL_MIN_VALUES * 4
    results: dict[int, np.ndarray] = {}

    def one_pass(k: int) -> None:
        x = np.random.default_rng(k).uniform(-50.0, 50.0, n)
        results[k] = cos_inplace(x.copy()) - np.cos(x)

    _on_threads(one_pass, 8)
    assert sorted(results) == list(range(8))
    assert all(not diff.any() for diff in results.values())


def test_folded_passes_on_many_threads_each_fold_their_own_slices_in_order() -> None:
    """Concurrent folded passes (long CosineAnnealingLR curves evaluated at once): each caller
    folds its own pass in order, whether or not a pool thread took part in it."""
    n = PARALLEL_MIN_VALUES * 4
    results: dict[int, np.ndarray] = {}

    def one_pass(k: int) -> None:
        values = np.random.default_rng(k).uniform(0.9999, 1.0001, n)
        squares = np.empty(n)
        products = np.empty(n)
        carried = [1.0]

        def work(lo: int, hi: int) -> None:
            np.multiply(values[lo:hi], values[lo:hi], out=squares[lo:hi])

        def fold(lo: int, hi: int) -> None:
            np.multiply.accumulate(squares[lo:hi], out=products[lo:hi])
            products[lo:hi] *= carried[0]
            carried[0] = float(products[hi - 1])

        in_slices_folded(work, fold, n)
        results[k] = products

    _on_threads(one_pass, 8)
    assert sorted(results) == list(range(8))
    for k, products in results.items():
        values = np.random.default_rng(k).uniform(0.9999, 1.0001, n)
        np.testing.assert_allclose(products, np.cumprod(values * values), rtol=1e-9)


def _on_threads(one_pass: Callable[[int], None], count: int) -> None:
    """``one_pass(k)`` for ``k`` in ``range(count)``, each on its own thread, all at once."""
    threads = [threading.Thread(target=one_pass, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
