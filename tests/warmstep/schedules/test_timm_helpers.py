"""The timm adapters' integer helpers against Python's own ``//`` and ``**`` (timm's ints)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warmstep.schedules.adapters.timm import integer_power, whole_floor_divide

TIMES = np.arange(-60, 61, dtype=np.float64)


@pytest.mark.parametrize("divisor", [7, -7, 1, 60, 2.5, -0.75, 7.0, 1e300, 2.0**53, 2**60])
def test_whole_floor_divide_is_python_floor_division(divisor: float) -> None:
    ours = whole_floor_divide(TIMES, divisor)
    expected = [int(t) // divisor if isinstance(divisor, int) else t // divisor for t in TIMES]
    assert [float(v) for v in ours] == [float(v) for v in expected]
    whole = float(divisor).is_integer() and abs(divisor) < 2**53
    assert ours.dtype == (np.int64 if whole else np.float64)


@pytest.mark.parametrize("base", [0.7, 0.5, 1.3, -0.9, 1.0])
def test_integer_power_of_int_exponents_is_pythons(base: float) -> None:
    exponents = np.array([3, -5, 0, 40, 7, -5, 12], dtype=np.int64)
    expected = [base ** int(k) for k in exponents]
    assert integer_power(base, exponents).tolist() == expected
    wide = np.arange(0, 9000, 2, dtype=np.int64)  # more distinct exponents than a table holds
    if abs(base) > 1:  # 1.3 ** 8998 overflows: Python raises, and so does the engine
        with pytest.raises(OverflowError):
            math.pow(base, 8998.0)
        with pytest.raises(OverflowError):
            integer_power(base, wide)
        return
    assert integer_power(base, wide).tolist() == [math.pow(base, float(k)) for k in wide]
