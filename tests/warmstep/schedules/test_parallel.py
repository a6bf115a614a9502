"""Transcendental passes split across threads give numpy's own values, bit for bit, and keep the
caller's floating-point error state."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules._parallel import PARALLEL_MIN_VALUES, _threads, cos_inplace, in_slices


@pytest.mark.parametrize("size", [10, PARALLEL_MIN_VALUES * 2 + 7, 1_000_003])
def test_values_are_numpys_own(size: int) -> None:
    x = np.random.default_rng(size).uniform(-50.0, 50.0, size)
    expected = np.cos(x)
    out = cos_inplace(x.copy())
    np.testing.assert_array_equal(out, expected)
    assert out.tobytes() == expected.tobytes()


def test_the_callers_error_state_holds_in_every_slice() -> None:
    x = np.zeros(PARALLEL_MIN_VALUES * 4)
    x[-1] = np.inf  # in the last slice, computed on another thread
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


def test_the_caller_computes_one_slice_itself() -> None:
    """One slice on the calling thread, the others on the pool: waking one thread instead of
    two keeps a millisecond-long pass on both cores (two woken pool threads were often queued
    on the same core while the caller's core idled)."""
    seen: list[tuple[int, int, int]] = []

    def work(lo: int, hi: int) -> None:
        seen.append((lo, hi, threading.get_ident()))

    n = PARALLEL_MIN_VALUES * 4 + 3
    in_slices(work, n)
    covered = sorted((lo, hi) for lo, hi, _ in seen)
    assert covered[0][0] == 0 and covered[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
    if len(seen) > 1:  # a machine with one core computes it all inline
        callers = [lo for lo, _, ident in seen if ident == threading.get_ident()]
        assert callers == [0]


def test_a_failing_slice_raises_after_every_slice_has_finished() -> None:
    finished: list[int] = []

    def work(lo: int, hi: int) -> None:
        if lo == 0:
            raise ValueError("first slice")
        time.sleep(0.05)
        finished.append(lo)

    n = PARALLEL_MIN_VALUES * 4
    with pytest.raises(ValueError, match="first slice"):
        in_slices(work, n)
    if _threads() > 1:
        assert finished  # waited for, not abandoned while still writing
