"""warmstep._expression_ranges: bounds that hold every value Python computes, and decisions
(which argument ``min``/``max`` picks, which way a comparison goes) that change no bit and lose
no error."""

from __future__ import annotations

import ast
import contextlib
import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.warmstep.test_expressions import (
    FIELD,
    Drawn,
    TooBig,
    python_reference,
    same_bits,
    trees,
)
from warmstep import _expression_eval
from warmstep._expression_ranges import decided_choice, decided_truth, interval, static_bounds
from warmstep.errors import InvalidArgument
from warmstep.expressions import compile_expression

ranges = st.tuples(st.integers(-40, 70), st.integers(0, 7))  # first step, count - 1


@contextlib.contextmanager
def deciding_from(elements: int) -> Iterator[None]:
    """Decisions from bounds on blocks of at least ``elements`` (1: every block)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_expression_eval, "_DECIDE_MIN", elements)
        yield


def tree_of(source: str) -> ast.expr:
    return ast.parse(source, mode="eval").body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=trees, steps=ranges)
def test_static_bounds_hold_every_python_value(drawn: Drawn, steps: tuple[int, int]) -> None:
    source, fn = drawn
    first, last = steps[0], steps[0] + steps[1]
    bounds = static_bounds(tree_of(source), (float(first), float(last)))
    if bounds is None:
        return
    for step in range(first, last + 1):
        try:
            value = float(fn(step))  # a node with bounds cannot raise
        except (ArithmeticError, ValueError, TooBig) as exc:
            pytest.fail(f"{source} has bounds {bounds} but raises {exc!r} at step={step}")
        assert bounds[0] <= value <= bounds[1], (source, step, value, bounds)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=trees, steps=ranges)
def test_decided_blocks_match_python_and_keep_errors(drawn: Drawn, steps: tuple[int, int]) -> None:
    """Every block decided where it can be: Python's bits, or the error the undecided
    evaluation reports (the same first failing node, so the same step)."""
    source, fn = drawn
    try:
        expr = compile_expression(source, "step", field=FIELD)
    except InvalidArgument:
        return  # a size limit
    first, stop = steps[0], steps[0] + steps[1] + 1
    values = np.arange(first, stop, dtype=np.int64)
    with deciding_from(10**9):
        try:
            undecided: np.ndarray | str = expr.over_steps(first, stop)
        except InvalidArgument as error:
            undecided = error.message
    expected = python_reference(fn, values)
    with deciding_from(1):
        for run in (lambda: expr.over_steps(first, stop), lambda: expr(values)):
            if isinstance(undecided, str):
                with pytest.raises(InvalidArgument) as caught:
                    run()
                assert caught.value.message == undecided, source
                continue
            ours = run()
            assert same_bits(ours, undecided), source
            if expected is not None:
                assert same_bits(ours, expected), (source, ours, expected)


@pytest.mark.parametrize(
    ("source", "first", "stop", "python"),
    [
        ("min(1.0, (step + 1) / 10)", 100, 300, lambda s: min(1.0, (s + 1) / 10)),
        ("max(0.0, 1 - step / 50)", 60, 200, lambda s: max(0.0, 1 - s / 50)),
        ("step / 10 if step < 10 else 1.0", 20, 120, lambda s: s / 10 if s < 10 else 1.0),
        ("0.5 if step >= 1000 else 1 / (step - 5)", 1000, 1100, lambda s: 0.5),
        ("(step < 7) * 3 + 0.25", 7, 100, lambda s: (s < 7) * 3 + 0.25),
        ("min(step, 2 * step, 3 * step)", 1, 90, lambda s: min(s, 2 * s, 3 * s)),  # undecided:
    ],
)
def test_decided_blocks_skip_passes(source: str, first: int, stop: int, python: object) -> None:
    """A block whose min/max/comparison is decided comes back as one value over the block (no
    pass over its elements), except where the kept argument varies; Python's values either way."""
    expr = compile_expression(source, "step", field=FIELD)
    ours = expr.over_steps(first, stop)
    assert callable(python)
    assert same_bits(ours, np.array([float(python(s)) for s in range(first, stop)]))
    varies = source.startswith("min(step")
    assert (ours.strides[0] == 0) != varies, source


def test_a_block_that_may_divide_by_zero_is_not_decided() -> None:
    """``1 / (step - 50)`` has no bounds over 0..99 (its divisor's range holds 0), so the ``min``
    is evaluated in full and Python's error is reported."""
    expr = compile_expression("min(1.0, 1 / (step - 50))", "step", field=FIELD)
    with pytest.raises(InvalidArgument) as caught:
        expr.over_steps(0, 100)
    assert caught.value.message == "division by zero at step=50"
    assert static_bounds(tree_of("1 / (step - 50)"), (0.0, 99.0)) is None
    assert static_bounds(tree_of("1 / (step - 50)"), (51.0, 99.0)) == (1 / 49, 1.0)


def test_bounds_refuse_what_python_makes_big_or_not_finite() -> None:
    assert static_bounds(tree_of("step * 4503599627370496"), (0.0, 1.0)) == (0.0, 2.0**52)
    assert static_bounds(tree_of("step * 4503599627370496"), (0.0, 2.0)) is None  # 2**53: a big int
    assert static_bounds(tree_of("math.inf"), None) is None
    assert static_bounds(tree_of("math.nan + step"), (0.0, 1.0)) is None
    assert static_bounds(tree_of("step ** 2"), (0.0, 1.0)) is None  # not handled: unknown
    assert static_bounds(tree_of("-min(step, 3) + float(2)"), (1.0, 5.0)) == (-1.0, 1.0)


def test_decisions_keep_the_first_of_equals() -> None:
    """Python's min keeps the first of equals (0.0 before -0.0, an int before an equal float),
    so a challenger that only ties never replaces it; a tie is undecided when it may go both
    ways."""
    args = [tree_of(s) for s in ("0.0", "-0.0")]
    assert decided_choice("min", args, (0.0, 1.0)) == 0
    assert decided_choice("max", args, (0.0, 1.0)) == 0
    args = [tree_of(s) for s in ("step", "5")]
    assert decided_choice("min", args, (0.0, 5.0)) == 0  # 5 < step never holds
    assert decided_choice("min", args, (0.0, 6.0)) is None
    assert decided_choice("max", args, (5.0, 9.0)) == 0
    assert decided_choice("max", args, (6.0, 9.0)) == 0
    assert decided_choice("max", args, (0.0, 4.0)) == 1
    assert decided_choice("min", args, None) is None
    expr = compile_expression("min(0.0, -0.0 * step)", "step", field=FIELD)
    assert math.copysign(1.0, float(expr.over_steps(1, 100)[0])) == 1.0  # min(0.0, -0.0)


@pytest.mark.parametrize(
    ("source", "low", "high", "truth"),
    [
        ("step < 10", 0.0, 9.0, True),
        ("step < 10", 10.0, 20.0, False),
        ("step < 10", 5.0, 15.0, None),
        ("step <= 10", 0.0, 10.0, True),
        ("step > 10", 0.0, 10.0, False),
        ("step >= 10", 10.0, 11.0, True),
        ("step == 3", 3.0, 3.0, True),
        ("step == 3", 4.0, 9.0, False),
        ("step != 3", 4.0, 9.0, True),
        ("step != 3", 0.0, 9.0, None),
        ("0 < step < 10", 1.0, 9.0, True),
        ("0 < step < 10", -5.0, 0.0, False),
        ("0 < step < 10", 1.0, 12.0, None),
        ("5 < step < 1 / 0", 0.0, 5.0, None),  # 1 / 0 may raise: never skipped
        ("step - 3", 4.0, 9.0, True),
        ("step * 0", 4.0, 9.0, False),
        ("step", 0.0, 9.0, None),
    ],
)
def test_decided_truth(source: str, low: float, high: float, truth: bool | None) -> None:
    assert decided_truth(tree_of(source), (low, high)) is truth


def test_interval_of_a_division() -> None:
    """Every quotient of values inside the operands' bounds lies inside the quotient's bounds,
    for divisors of either sign; a divisor range that holds zero has none."""
    rng = np.random.default_rng(11)
    for _ in range(2000):
        a = np.sort(rng.integers(-50, 50, 2)).astype(float)
        b = np.sort(rng.integers(1, 40, 2)).astype(float) * rng.choice([-1.0, 1.0])
        b = np.sort(b)
        xs, ys = np.linspace(a[0], a[1], 7), np.linspace(b[0], b[1], 7)
        bounds = interval(ast.Div(), (a[0], a[1]), (b[0], b[1]))
        assert bounds is not None
        results = xs[:, None] / ys[None, :]
        assert bounds[0] == results.min() and bounds[1] == results.max(), (a, b)
    assert interval(ast.Div(), (1.0, 2.0), (-1.0, 2.0)) is None
    assert interval(ast.Div(), (1.0, 2.0), (0.0, 2.0)) is None
    assert interval(ast.Mod(), (1.0, 2.0), (1.0, 2.0)) is None
