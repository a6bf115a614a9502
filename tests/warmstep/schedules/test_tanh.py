"""The engine's own ``tanh`` (``warmstep/schedules/_tanh.py``) against the C library's, bit for
bit: at every threshold of tanh and of its expm1, over every binade, in timm's range; the gate
that turns it off where they differ; and the passes that use it."""

from __future__ import annotations

import math
import platform
from pathlib import Path

import numpy as np
import pytest

from warmstep.schedules import _tanh
from warmstep.schedules._libm import tanh_like_python


def _bits(values: np.ndarray) -> list[int]:
    return values.view(np.int64).tolist()


def _agrees_or_skip() -> None:
    if not _tanh.emulation_agrees():
        pytest.skip("this C library's tanh is not glibc's FMA build: the engine calls it")


def _glibc_with_fma() -> bool:
    """glibc 2.36 (Debian 12, this project's machines and image) on an x86-64 CPU with FMA,
    where glibc runs its FMA build of expm1."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.exists() else []
    return (
        platform.libc_ver() == ("glibc", "2.36")
        and platform.machine() == "x86_64"
        and "fma" in flags
    )


def test_it_is_on_where_it_was_written_for() -> None:
    """A change that breaks the emulation would only turn it off (the gate) and cost speed:
    on the C library it reproduces, it must be on."""
    if not _glibc_with_fma():
        pytest.skip("not glibc 2.36 on x86-64 with FMA")
    assert _tanh.emulation_agrees()


def test_thresholds_and_special_values_bit_for_bit() -> None:
    """Each threshold (tanh's 2^-55, 1 and 22; expm1's reduction bounds and the first argument
    of every k up to 65, as 2|x|) and its neighbours, both signs, zeros, infinities, NaN."""
    _agrees_or_skip()
    x = _tanh.threshold_arguments()
    emulated, called = _tanh.tanh_pairs(x)
    assert _bits(emulated) == _bits(called)
    assert _bits(emulated) == _bits(np.array([math.tanh(v) for v in x.tolist()]))


@pytest.mark.parametrize(
    ("low", "high"),
    [(-7.0, 3.0), (-30.0, 30.0), (-1.0, 1.0), (-0.35, 0.35), (-1e-4, 1e-4)],
    ids=["timm-default", "saturating", "below-one", "unreduced", "small"],
)
def test_ranges_bit_for_bit(low: float, high: float) -> None:
    _agrees_or_skip()
    x = np.random.default_rng(5).uniform(low, high, 300_000)
    emulated, called = _tanh.tanh_pairs(x)
    assert _bits(emulated) == _bits(called)


def test_every_binade_bit_for_bit() -> None:
    _agrees_or_skip()
    rng = np.random.default_rng(9)
    x = np.exp2(rng.uniform(-60.0, 6.0, 400_000)) * rng.choice([-1.0, 1.0], 400_000)
    emulated, called = _tanh.tanh_pairs(x)
    assert _bits(emulated) == _bits(called)


def test_the_gate_compares_bit_for_bit_and_the_call_stands_in() -> None:
    """emulation_agrees is the comparison itself on its arguments; with it off, the pass calls
    the C library (the same floats)."""
    emulated, called = _tanh.tanh_pairs(_tanh.agreement_arguments())
    assert _tanh.emulation_agrees() == (_bits(emulated) == _bits(called))
    x = np.linspace(-7.0, 3.0, 10_001)
    out = np.empty_like(x)
    python = np.zeros(x.size, np.bool_)
    _tanh.flagged_tanh(x, out, python, False)
    assert _bits(out) == _bits(np.array([math.tanh(v) for v in x.tolist()]))
    assert not python.any()


def test_tanh_like_python_uses_it() -> None:
    """The array function every tanh of the engine goes through (expressions, timm's numpy
    passes) gives math.tanh's floats, NaN signs included."""
    x = np.concatenate([np.random.default_rng(3).normal(0.0, 4.0, 100_000), [np.nan, -np.nan]])
    assert _bits(tanh_like_python(x)) == _bits(np.array([math.tanh(v) for v in x.tolist()]))
