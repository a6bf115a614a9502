"""Transcendental passes split across threads give numpy's own values, bit for bit, and keep the
caller's floating-point error state."""

from __future__ import annotations

import numpy as np
import pytest

from warmstep.schedules import EvalContext, resolve_spec
from warmstep.schedules._parallel import PARALLEL_MIN_VALUES, cos_inplace


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
