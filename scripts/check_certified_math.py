"""Check the engine's certified maths against the C library at scale.

The engine computes most cosines and squares itself and keeps its own float only where it is
certain to be the one the C library's ``cos`` / ``pow`` returns (``warmstep/schedules/_cosine.py``,
``warmstep/schedules/_loops.py``). The tests check this on tens of thousands of values; this
script checks as many as asked for:

    python scripts/check_certified_math.py cos 1e9       # schedule-like runs of angles
    python scripts/check_certified_math.py squares 2e6   # squares of bases near 1, near halfway
    python scripts/check_certified_math.py tanh 1e9      # tanh computed as glibc computes it
    python scripts/check_certified_math.py tanh-thresholds 1e6   # every float that near each

``cos``: runs of ``π·k/T`` (rising, falling, some wrapped into [0, 3.2)) through the engine's
cosine pass and through a compiled loop of ``math.cos``; prints how many differ (none expected)
and the share left to the C library. ``squares``: bases within 2^-10 of 1 whose exact squares
lie within 0.015 ulp of a halfway point between two floats, built with integer arithmetic;
prints how many squares ``pow`` rounds differently from the product, how far from the halfway
point the farthest of those lies (in units of ``|x - 1|`` ulp), and how many the engine keeps
where ``pow`` differs (none expected). ``tanh``: the engine's own ``tanh``
(``warmstep/schedules/_tanh.py``, used where it agrees with this C library) against the C
library's on arguments spread over every binade from 2^-60 to 32, both signs, and a share
uniform in timm's default range [-7, 3]; prints how many differ, bit for bit (none expected).
``tanh-thresholds``: every float within ``count`` ulps of each threshold argument of ``tanh``
and its ``expm1`` (``_tanh.threshold_arguments``), both signs, the same comparison.
Exit status 1 when any value differs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numba
import numpy as np
import numpy.typing as npt

from warmstep.schedules import _cosine, _loops, _tanh

FloatArray = npt.NDArray[np.float64]


@numba.njit(nogil=True)
def _library_cos(x: FloatArray, out: FloatArray) -> None:
    for i in range(x.shape[0]):
        out[i] = math.cos(x[i])


@numba.njit(nogil=True)
def _library_squares(x: FloatArray, exponent: FloatArray, out: FloatArray) -> None:
    for i in range(x.shape[0]):  # (the exponent from an array: LLVM would square a constant 2)
        out[i] = x[i] ** exponent[0]


@numba.njit(nogil=True, error_model="numpy")  # (no disk cache: this file is also imported)
def _engine_squares(x: FloatArray, out: FloatArray) -> None:
    for i in range(x.shape[0]):
        out[i] = _loops._certain_square(x[i])


def check_cosines(count: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    total = differing = called = 0
    started = time.perf_counter()
    while total < count:
        n = int(rng.integers(1_000, 2_000_000))
        period = float(rng.uniform(n * 0.5, n * 50))
        k = np.arange(n, dtype=np.float64) + float(rng.integers(0, 10**6))
        x = (math.pi * k) / period
        if rng.uniform() < 0.3:
            x = np.mod(x, 3.2)
        if rng.uniform() < 0.5:
            x = x[::-1].copy()
        engine, library = np.empty_like(x), np.empty_like(x)
        called += _cosine._cosines(x, engine)
        _library_cos(x, library)
        differing += int((engine != library).sum())
        total += n
    seconds = time.perf_counter() - started
    print(f"cosines checked: {total}, different from cos: {differing}, ", end="")
    print(f"left to cos: {called / total:.2%} ({seconds:.0f} s)")
    return differing


def squares_near_halfway(
    count: int, seed: int, closest: float = 2.0**-39
) -> tuple[FloatArray, FloatArray]:
    """Bases from ``closest`` to 2^-10 away from 1 (log-uniform) and their squares' distances
    (in ulps) from a halfway point."""
    rng = np.random.default_rng(seed)
    bases, distances = [], []
    for _ in range(count):
        below = rng.uniform() < 0.5  # x = 1 - j/2^53 (ulp of x² 2^-53) or 1 + j/2^52 (2^-52)
        bits = 53 if below else 52
        j = int(2.0 ** rng.uniform(math.log2(closest) + 53, 42))
        whole = j * j >> bits
        target = ((2 * whole + 1) << (bits - 1)) + int(rng.uniform(-0.015, 0.015) * 2**bits)
        j = math.isqrt(target)
        fraction = (j * j) % (1 << bits)
        distances.append(abs(fraction - (1 << (bits - 1))) / 2**bits)
        bases.append(1 - j / 2**53 if below else 1 + j / 2**52)
    return np.array(bases), np.array(distances)


def check_squares(count: int, seed: int) -> int:
    x, distance = squares_near_halfway(count, seed)
    library, engine = np.empty_like(x), np.empty_like(x)
    _library_squares(x, np.array([2.0]), library)
    _engine_squares(x, engine)
    pow_differs = library != x * x
    kept = ~np.isnan(engine)
    wrong = int((kept & (engine != library)).sum())
    closeness = distance[pow_differs] / np.abs(x - 1)[pow_differs]
    print(f"squares checked: {x.size}, pow not the product: {int(pow_differs.sum())}, ", end="")
    farthest = f"{closeness.max():.2f}" if closeness.size else "-"
    print(f"farthest of those from halfway: {farthest} |x - 1| ulp, ", end="")
    print(f"kept by the engine: {int(kept.sum())}, different from pow: {wrong}")
    return wrong


def check_tanh(count: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    print(f"this C library's tanh is the engine's: {_tanh.emulation_agrees()}")
    total = differing = 0
    started = time.perf_counter()
    while total < count:
        n = min(2_000_000, count - total)
        x = np.concatenate(
            [
                np.exp2(rng.uniform(-60.0, 5.0, n - n // 4)) * rng.choice([-1.0, 1.0], n - n // 4),
                rng.uniform(-7.0, 3.0, n // 4),
            ]
        )
        emulated, called = _tanh.tanh_pairs(x)
        differing += int((emulated.view(np.int64) != called.view(np.int64)).sum())
        total += n
    elapsed = time.perf_counter() - started
    print(f"tanh checked: {total}, different from the C library: {differing} ({elapsed:.0f} s)")
    return differing


def check_tanh_thresholds(count: int, seed: int) -> int:
    del seed  # every float in each neighbourhood: nothing is drawn
    arguments = _tanh.threshold_arguments()
    points = np.unique(np.abs(arguments[np.isfinite(arguments) & (arguments != 0.0)]))
    offsets = np.arange(-count, count + 1, dtype=np.int64)
    total = differing = 0
    started = time.perf_counter()
    for point in points.tolist():
        neighbours = (np.float64(point).view(np.int64) + offsets).view(np.float64)
        for x in (neighbours, -neighbours):
            emulated, called = _tanh.tanh_pairs(x[np.isfinite(x)])
            differing += int((emulated.view(np.int64) != called.view(np.int64)).sum())
            total += emulated.size
    elapsed = time.perf_counter() - started
    print(
        f"tanh checked within {count} ulps of {points.size} thresholds: {total}, "
        f"different from the C library: {differing} ({elapsed:.0f} s)"
    )
    return differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["cos", "squares", "tanh", "tanh-thresholds"])
    parser.add_argument("count", type=float, help="values to check (e.g. 1e8)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    check = {
        "cos": check_cosines,
        "squares": check_squares,
        "tanh": check_tanh,
        "tanh-thresholds": check_tanh_thresholds,
    }[args.what]
    return 1 if check(int(args.count), args.seed) else 0


if __name__ == "__main__":
    sys.exit(main())
