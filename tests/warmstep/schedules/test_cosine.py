"""The C library's ``cos`` over arrays, mostly without the call (warmstep.schedules._cosine):
the values against Python's ``math.cos`` everywhere, the table against mpmath, and the share
of values left to the call."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from warmstep.schedules import _cosine, _loops
from warmstep.schedules._libm import cos_like_python, unary_like_python

# Arguments where glibc 2.36's cos is not the float nearest the exact cosine: the exact value
# lies ~0.0154 ulp from a halfway point (found by scanning 3.8e8 arguments). A margin under
# that would return the nearest float here instead of the C library's.
NOT_NEAREST = [
    "0x1.613b38202b2dfp+0",
    "0x1.719cdcd7ab6d5p+0",
    "0x1.b37f3a9324478p+0",
    "0x1.b4e0d127a0ebfp+0",
    "0x1.b4d2718c7821cp+0",
    "0x1.b55e3799a5dfbp+0",
    "0x1.71230d6445812p+0",
    "0x1.b6f19a141f138p+0",
    "0x1.5cdef32da8b7fp+0",
]


def python_cos(x: np.ndarray) -> list[float]:
    return [math.cos(v) for v in x.tolist()]


def nearest_cos(x: float) -> float:
    with mpmath.workprec(200):
        return float(mpmath.cos(mpmath.mpf(x)))  # mpmath rounds to the nearest float


@_loops.compiled
def _certain_share(x: np.ndarray, j: int, far_from_zero: bool = False) -> float:
    """The share of ``x`` (one run from the table point ``j / 1024``) that
    :func:`_cosine._certain_cos` decides without the C library."""
    t = j * (1.0 / 1024.0)
    row = _cosine._TABLE[j]
    certain = 0
    for i in range(x.shape[0]):
        value = _cosine._certain_cos(x[i], t, row[0], row[1], row[2], row[3], far_from_zero)
        certain += not math.isnan(value)
    return certain / x.shape[0]


def test_table_pairs_sum_to_cos_and_sin_within_2_to_the_minus_100() -> None:
    table = _cosine.cosine_table()
    assert table.shape == (3278, 4)
    with mpmath.workprec(240):
        for j in [*range(0, table.shape[0], 37), table.shape[0] - 1]:
            t = mpmath.mpf(j) / 1024
            for column, function in ((0, mpmath.cos), (2, mpmath.sin)):
                pair = mpmath.mpf(table[j, column]) + mpmath.mpf(table[j, column + 1])
                assert abs(pair - function(t)) < mpmath.mpf(2) ** -100, (j, column)
                assert table[j, column] == float(function(t))  # the high part: the nearest


@pytest.mark.parametrize(
    "arguments",
    [
        math.pi * (np.arange(1_000_000) / 1_000_000),  # transformers: π·p
        math.pi * np.arange(300_000) / 300_000,  # torch: π·e/T
        np.tile(math.pi * (np.arange(100_000) / 100_000), 3),  # restarts
        math.pi * (1.0 - np.arange(200_000) / 200_000),  # falling angles
        math.pi * (np.arange(10_000) / 10_000),  # runs wider than the table's reach
        np.sort(np.random.default_rng(3).uniform(0.0, 3.2, 500_000)),
        np.sort(np.random.default_rng(4).uniform(1.5, 1.65, 500_000)),  # through cos = 0
        np.random.default_rng(5).uniform(-4.0, 8.0, 100_000),  # unsorted, out of the table
        np.array([0.0, -0.0, 5e-324, 1e-300, 1e-8, 3.2, np.nextafter(3.2, 4.0), -1e-9, 1e300]),
        np.concatenate([[1.0], np.linspace(0.2, 3.0, 254), [1.0]]),  # ends close, a wide inside
        np.concatenate([[1.0], 1.0 - np.arange(1, 255) * 1e-6, [1.0]]),  # inside below the ends
    ],
    ids=[
        "pi-p",
        "pi-e-over-t",
        "restarts",
        "falling",
        "sparse",
        "random",
        "zero",
        "wide",
        "edges",
        "wide-inside",
        "dip",
    ],
)
def test_cosines_are_the_c_library_cos(arguments: np.ndarray) -> None:
    out = cos_like_python(arguments)
    assert out.tolist() == python_cos(arguments)


def test_where_glibc_is_not_nearest_the_c_library_wins() -> None:
    x = np.array([float.fromhex(h) for h in NOT_NEAREST])
    out = cos_like_python(x)
    assert out.tolist() == python_cos(x)
    if all(math.cos(v) == nearest_cos(v) for v in x.tolist()):
        pytest.skip("this C library's cos is the nearest float at every witness")
    assert any(value != nearest_cos(v) for value, v in zip(out.tolist(), x.tolist(), strict=True))


def test_special_values_are_left_to_python() -> None:
    x = np.array([0.5, np.inf, -np.inf, np.nan, 2.0])
    with pytest.raises(ValueError, match="math domain error"):
        unary_like_python("cos", x)
    out = unary_like_python("cos", np.array([0.5, np.nan, 2.0, 1e22]))
    assert out[[0, 2, 3]].tolist() == [math.cos(0.5), math.cos(2.0), math.cos(1e22)]
    assert np.isnan(out[1])
    flags = np.zeros(5, np.bool_)
    _cosine.flagged_cosines(x, np.empty(5), flags)
    assert flags.tolist() == [False, True, True, True, False]  # NaN: Python's own NaN


def test_most_values_skip_the_call_and_the_uncertain_do_not() -> None:
    """~4% of a dense run is within 0.02 ulp (plus the error bound) of a halfway point and
    calls ``cos``; arguments outside the table's reach of the run's point are left too."""
    run = 1.0 + np.arange(100_000) * 2.0**-9 / 100_000  # one table point's reach
    share = _certain_share(run, 1024)
    assert 0.94 < share < 0.98
    assert _certain_share(run, 1024, True) == share  # |cos 1| >= 2^-7: the ordered sums
    assert _certain_share(np.array([1.0, 1.0 + 2.0**-9]), 1024) == 0.5  # d = 2^-9: past it
    assert _certain_share(np.array([1.0, 1.0 - 2.0**-12]), 1024) == 0.5  # d < 0
    assert _certain_share(np.array([1.0, 1.0 - 2.0**-12]), 1023) == 1.0


@pytest.mark.parametrize(
    ("steps", "most", "falling"),
    [
        (1_000_000, 0.06, False),
        (1_000_000, 0.06, True),
        (100_000, 0.06, False),
        (400_000, 0.06, False),  # a chunk's spread between half the reach and all of it
        (571_000, 0.06, False),
        (10_000, 1.0, False),  # runs wider than the table's reach: every value calls cos
    ],
)
def test_share_of_a_curve_that_calls_cos(steps: int, most: float, falling: bool) -> None:
    x = math.pi * (np.arange(steps) / steps)
    x = x[::-1].copy() if falling else x
    called = _cosine._cosines(x, np.empty_like(x))
    assert 0.02 * steps < called <= most * steps


@_loops.compiled
def _into_prefix(x: np.ndarray, m: int) -> np.ndarray:
    out = np.full(x.shape[0], -2.0)
    _cosine.c_cos_into(x, out, m)
    return out


def test_c_cos_into_writes_the_first_m_values_only() -> None:
    x = math.pi * (np.arange(700) / 7000.0)
    out = _into_prefix(x, 500)
    assert out[:500].tolist() == python_cos(x[:500])
    assert (out[500:] == -2.0).all()
