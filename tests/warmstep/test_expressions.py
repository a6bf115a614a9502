"""warmstep.expressions: bit-equality with Python evaluating the same expression per element,
Python's errors as InvalidArgument, and a whitelist that no source string gets around."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warmstep._expression_ranges import interval as _interval
from warmstep.errors import InvalidArgument
from warmstep.expressions import (
    MAX_DEPTH,
    MAX_LIBM_CALLS,
    MAX_NODES,
    MAX_SOURCE_CHARS,
    Expression,
    compile_expression,
)

FIELD = "schedule.lr_lambda"
INTS = np.arange(-3, 64, dtype=np.int64)
FLOATS = np.array(
    [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -7.25, 1e-300, 5e-324, 1e300, 1e308, -1e308,
     math.pi, math.inf, -math.inf, math.nan, 2.0**52 + 0.5, -(2.0**52) - 0.5],
)  # fmt: skip
PyFn = Callable[[Any], Any]


def python_reference(fn: PyFn, values: np.ndarray) -> np.ndarray | None:
    """``float(fn(v))`` per element with v a Python int or float; None if Python raises."""
    out = []
    for v in values.tolist():
        try:
            result = fn(v)
            if isinstance(result, complex):
                return None
            out.append(float(result))
        except (ArithmeticError, ValueError, TooBig):
            return None
    return np.array(out, dtype=np.float64)


class TooBig(Exception):
    """The reference produced an int that warmstep refuses (|v| >= 2**53)."""


def same_bits(ours: np.ndarray, expected: np.ndarray) -> bool:
    nan = np.isnan(expected)
    return bool(
        np.array_equal(nan, np.isnan(ours))
        and np.array_equal(ours[~nan].view(np.int64), expected[~nan].view(np.int64))
    )


def check_against_python(source: str, fn: PyFn, values: np.ndarray) -> None:
    expected = python_reference(fn, values)
    expr = compile_expression(source, "step", field=FIELD)
    if expected is None:
        with pytest.raises(InvalidArgument) as caught:
            expr(values)
        assert caught.value.field == FIELD
        return
    ours = expr(values)
    assert ours.dtype == np.float64 and ours.shape == values.shape
    assert same_bits(ours, expected), (source, ours, expected)


TABLE: list[tuple[str, PyFn]] = [
    ("0.95 ** step", lambda s: 0.95**s),
    ("step / 10 if step < 10 else 1.0", lambda s: s / 10 if s < 10 else 1.0),
    ("min(1.0, step / 100)", lambda s: min(1.0, s / 100)),
    ("math.cos(math.pi * step / 100)", lambda s: math.cos(math.pi * s / 100)),
    ("1 / (2. ** (step - 1))", lambda s: 1 / (2.0 ** (s - 1))),
    ("0.5 * (1 + math.cos(math.pi * step / 50))", lambda s: 0.5 * (1 + math.cos(math.pi * s / 50))),
    (
        "float(step) / float(max(1, 20)) if step < 20 else "
        "max(0.0, float(60 - step) / float(max(1.0, 60 - 20)))",
        lambda s: (
            float(s) / float(max(1, 20))
            if s < 20
            else max(0.0, float(60 - s) / float(max(1.0, 60 - 20)))
        ),
    ),
    ("0.1 ** (step // 10)", lambda s: 0.1 ** (s // 10)),
    ("step // 3 % 2", lambda s: s // 3 % 2),
    ("-step // 4 + step % -3", lambda s: -s // 4 + s % -3),
    ("step // 0.7 + step % 0.3", lambda s: s // 0.7 + s % 0.3),
    ("-step * 0", lambda s: -s * 0),
    ("-step * 0.0", lambda s: -s * 0.0),
    ("2 ** (step % 53)", lambda s: 2 ** (s % 53)),
    ("3 ** (step % 20) - 1", lambda s: 3 ** (s % 20) - 1),
    ("(-1) ** step", lambda s: (-1) ** s),
    (
        "step ** 3 - (step % 7) ** (step % 5) + (-3) ** (step % 34)",
        lambda s: s**3 - (s % 7) ** (s % 5) + (-3) ** (s % 34),
    ),
    ("2 ** 52 + 0 ** step + step ** (step % 4)", lambda s: 2**52 + 0**s + s ** (s % 4)),
    ("(-2.0) ** step", lambda s: (-2.0) ** s),
    ("(-2.0) ** (step / 2)", lambda s: (-2.0) ** (s / 2)),
    ("step ** 0.5", lambda s: s**0.5),
    ("step ** -1", lambda s: s**-1),
    ("1e300 ** step", lambda s: 1e300**s),
    ("1 / (step - 3)", lambda s: 1 / (s - 3)),
    ("1 // (step - 70)", lambda s: 1 // (s - 70)),
    ("1 < step < 5", lambda s: 1 < s < 5),
    ("step == 3 or step > 40 != step % 7", lambda s: s == 3 or s > 40 != s % 7),
    ("step and 3 or 7.5", lambda s: (s and 3) or 7.5),
    ("not step - 2", lambda s: not s - 2),
    ("True + step * False", lambda s: True + s * False),
    ("step if step >= 0 else 1 / 0", lambda s: s if s >= 0 else 1 / 0),
    ("step > 0 and 1 / step", lambda s: s > 0 and 1 / s),
    ("step <= 0 or math.log(step)", lambda s: s <= 0 or math.log(s)),
    ("0 < step < 1 / step", lambda s: 0 < s < 1 / s),
    ("math.log(step)", lambda s: math.log(s)),
    ("math.log(step + 4, 2)", lambda s: math.log(s + 4, 2)),
    ("math.exp(step * 12.5)", lambda s: math.exp(s * 12.5)),
    (
        "math.exp(-step / 7) + math.tanh(step / 9) + math.atan2(step, 3)",
        lambda s: math.exp(-s / 7) + math.tanh(s / 9) + math.atan2(s, 3),
    ),
    (
        "math.sqrt(step) + math.log2(step + 4) + math.log10(step + 4) + math.tan(step)",
        lambda s: math.sqrt(s) + math.log2(s + 4) + math.log10(s + 4) + math.tan(s),
    ),
    (
        "math.sqrt(step + 3) * math.sin(step) + math.pow(1.1, step) + math.hypot(step, 2)",
        lambda s: math.sqrt(s + 3) * math.sin(s) + math.pow(1.1, s) + math.hypot(s, 2),
    ),
    (
        "math.floor(step / 7) + math.ceil(-step / 7) + math.trunc(-step / 3)",
        lambda s: math.floor(s / 7) + math.ceil(-s / 7) + math.trunc(-s / 3),
    ),
    (
        "round(step / 2) + int(-step / 4) + abs(-step) + math.fabs(-step)",
        lambda s: round(s / 2) + int(-s / 4) + abs(-s) + math.fabs(-s),
    ),
    (
        "min(step, 10) + max(2, step / 3, 7) - min(1, 1.0)",
        lambda s: min(s, 10) + max(2, s / 3, 7) - min(1, 1.0),
    ),
    (
        "math.copysign(1, -step) * math.e + math.tau * math.isfinite(step)",
        lambda s: math.copysign(1, -s) * math.e + math.tau * math.isfinite(s),
    ),
    ("math.inf * step", lambda s: math.inf * s),
    ("math.nan + step", lambda s: math.nan + s),
    ("1e308 * step", lambda s: 1e308 * s),
]


@pytest.mark.parametrize(("source", "fn"), TABLE, ids=[row[0][:40] for row in TABLE])
def test_table_matches_python_per_element(source: str, fn: PyFn) -> None:
    check_against_python(source, fn, INTS)
    check_against_python(source, fn, FLOATS)


def test_lambda_warmup_example_and_scalar() -> None:
    expr = compile_expression("0.95 ** step", "step", field=FIELD)
    assert expr(np.array([0, 1, 2])).tolist() == [1.0, 0.95, 0.95**2]
    assert expr.scalar(3) == 0.95**3
    scale = compile_expression("1 / (2. ** (x - 1))", "x", field="schedule.scale_fn")
    assert scale.scalar(3) == 0.25
    assert compile_expression("7 // 2", "step", field=FIELD).scalar(1.5) == 3.0


def test_shape_and_dtype_are_kept() -> None:
    expr = compile_expression("step * 2", "step", field=FIELD)
    out = expr(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert out.dtype == np.float64 and out.shape == (2, 3)
    assert out.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert expr(np.empty(0, dtype=np.int64)).shape == (0,)
    assert compile_expression("1 / 0", "step", field=FIELD)(np.empty(0)).shape == (0,)
    assert compile_expression("3", "step", field=FIELD)(np.arange(4)).tolist() == [3.0] * 4


def test_an_expression_without_the_variable_is_evaluated_once() -> None:
    """MultiplicativeLR's ``0.95``: one value, repeated as a read-only zero-stride view (a
    compiled fold reads it as one factor); errors still name the first step."""
    out = compile_expression("0.9 * 0.99 + math.sin(1)", "step", field=FIELD)(np.arange(1, 7))
    assert out.shape == (6,) and out.strides == (0,) and not out.flags.writeable
    assert out.tolist() == [0.9 * 0.99 + math.sin(1)] * 6
    two_d = compile_expression("2 ** 0.5", "step", field=FIELD)(np.arange(6).reshape(2, 3))
    assert two_d.shape == (2, 3) and two_d.tolist() == [[2**0.5] * 3] * 2
    with pytest.raises(InvalidArgument, match=r"division by zero at step=3"):
        compile_expression("1 / (2 - 2)", "step", field=FIELD)(np.arange(3, 9))


def test_error_names_field_and_first_failing_step() -> None:
    expr = compile_expression("1 / (step - 5) + 1 / (step - 3)", "step", field=FIELD)
    with pytest.raises(InvalidArgument) as caught:
        expr(np.arange(10))
    assert caught.value.field == FIELD
    assert "division by zero" in caught.value.message and "step=5" in caught.value.message
    with pytest.raises(InvalidArgument, match=r"math\.log: math domain error at step=0"):
        compile_expression("math.log(step)", "step", field=FIELD)(np.arange(3))
    with pytest.raises(InvalidArgument, match="out of range"):
        compile_expression("step", "step", field=FIELD)(np.array([2**60]))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("foo + step", "unknown name 'foo'"),
        ("x", "unknown name 'x'"),
        ("math", "unknown name 'math'"),
        ("step.real", "attribute access not allowed"),
        ("math.sys", "attribute access not allowed"),
        ("().__class__", "attribute access not allowed"),
        ("math.cos", "math.cos must be called"),
        ("bar(step)", "call to 'bar' not allowed"),
        ("__import__('os')", "call to '__import__' not allowed"),
        ("math.factorial(step)", "call to 'math.factorial' not allowed"),
        ("min(step)", "min() takes at least 2"),
        ("round(step, 2)", "round() takes 1"),
        ("math.log(step, 2, 3)", "math.log() takes 1 or 2"),
        ("max(step, key=abs)", "max() takes"),
        ("min(*step)", "min() takes"),
        ("lambda: 1", "lambda is not allowed"),
        ("[s for s in step]", "comprehension is not allowed"),
        ("(y := step)", "assignment expression"),
        ("f'{step}'", "f-string is not allowed"),
        ("'abc'", "only int and float literals"),
        ("None", "only int and float literals"),
        ("1j * step", "only int and float literals"),
        ("step[0]", "subscript is not allowed"),
        ("step << 2", "operator LShift is not allowed"),
        ("~step", "operator Invert is not allowed"),
        ("step is 1", "only the comparisons"),
        ("step in (1, 2)", "only the comparisons"),
        ("(1, 2)", "Tuple is not allowed"),
        ("9007199254740992 * step", "integer literal too large"),
        ("step +", "invalid expression"),
        ("step\x00", "invalid expression"),
        ("1\n+1", "invalid expression"),
        ("s" * (MAX_SOURCE_CHARS + 1), "expression too long"),
        ("max(" + ",".join(["1"] * MAX_NODES) + ")", "expression too large"),
        ("-" * (MAX_DEPTH + 1) + "step", "nested too deeply"),
        ("(" * 300 + "step" + ")" * 300, "invalid expression"),
        ("+".join(["math.exp(step)"] * (MAX_LIBM_CALLS + 1)), "too many '**'"),
    ],
)
def test_refused_sources(source: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)) as caught:
        compile_expression(source, "step", field=FIELD)
    assert caught.value.field == FIELD


def test_compiled_expressions_are_remembered_per_field_and_refusals_are_not() -> None:
    """A schedule is rebuilt for every evaluation: the same source compiles once, but each
    field keeps its own (errors name it), and a refused source is refused every time."""
    first = compile_expression("0.95 ** step", "step", field=FIELD)
    assert compile_expression("0.95 ** step", "step", field=FIELD) is first
    other = compile_expression("0.95 ** step", "step", field="schedule.lr_lambda[1]")
    assert other is not first and other.field == "schedule.lr_lambda[1]"
    for _ in range(2):
        with pytest.raises(InvalidArgument, match="unknown name 'x'"):
            compile_expression("x + step", "step", field=FIELD)
    with pytest.raises(InvalidArgument, match="must be a string") as caught:
        compile_expression(["step"], "step", field=FIELD)  # type: ignore[arg-type]
    assert caught.value.field == FIELD


def test_branch_errors_only_count_where_taken() -> None:
    expr = compile_expression("math.log(step) if step > 0 else 1 / 0", "step", field=FIELD)
    assert expr(np.arange(1, 4)).tolist() == [0.0, math.log(2), math.log(3)]
    with pytest.raises(InvalidArgument, match="division by zero at step=0"):
        expr(np.arange(0, 4))


def test_refusal_is_fast_for_huge_powers() -> None:
    huge = ("10 ** 10 ** 10", "2 ** 53 + step", "step ** step ** step", "(step + 2) ** 10**15")
    for source in huge:
        expr = compile_expression(source, "step", field=FIELD)
        with pytest.raises(InvalidArgument, match=r"2\*\*53"):
            expr(np.arange(2, 50))
    # 10.0 ** 10 ** 10 goes through float pow: Python raises OverflowError
    with pytest.raises(InvalidArgument, match=r"\*\*: .*Numerical result out of range"):
        compile_expression("10.0 ** 10 ** 10", "step", field=FIELD)(np.arange(3))


def test_float_divmod_matches_python() -> None:
    xs = np.array([v for v in FLOATS.tolist() if v != 0.0])
    for y in (0.7, -0.7, 3.0, -3.0, 1e-300, 1e300, math.inf, -math.inf, math.nan, 5e-324):
        for op, fn in (("//", lambda a, b: a // b), ("%", lambda a, b: a % b)):
            source = f"step {op} ({y!r})" if math.isfinite(y) else f"step {op} ({_const(y)})"
            check_against_python(source, _with_right(fn, y), xs)
            source = f"({y!r}) {op} step" if math.isfinite(y) else f"{_const(y)} {op} step"
            check_against_python(source, _with_left(fn, y), xs)


def _with_right(fn: Callable[[Any, Any], Any], y: float) -> PyFn:
    return lambda s: fn(s, y)


def _with_left(fn: Callable[[Any, Any], Any], y: float) -> PyFn:
    return lambda s: fn(y, s)


def _const(y: float) -> str:
    return "math.nan" if math.isnan(y) else ("math.inf" if y > 0 else "(-math.inf)")


@settings(max_examples=200, deadline=None)
@given(
    x=st.floats(allow_nan=True, allow_infinity=True),
    y=st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: v != 0),
)
def test_float_operators_match_python_for_any_floats(x: float, y: float) -> None:
    values = np.array([x])
    literal = f"({y!r})" if math.isfinite(y) else _const(y)
    operators: list[tuple[str, Callable[[float, float], Any]]] = [
        ("//", float.__floordiv__), ("%", float.__mod__), ("/", float.__truediv__),
        ("*", float.__mul__), ("**", _pow),
    ]  # fmt: skip
    for op, fn in operators:
        check_against_python(f"step {op} {literal}", _with_right(fn, y), values)
        check_against_python(f"{literal} {op} step", _with_left(fn, y), values)


def _pow(a: float, b: float) -> Any:
    return a**b


# ----------------------------------------------------------------------------- random trees
# Each strategy draws (source, closure): the same expression as text for warmstep and as a
# hand-composed Python function for the reference, so nothing is ever eval'd.

Drawn = tuple[str, PyFn]


def _checked(value: Any) -> Any:
    if isinstance(value, int) and abs(value) >= 2**53:
        raise TooBig
    return value


def _int_pow_guard(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 64 and abs(a) >= 2:
        raise TooBig  # the result is >= 2**65: do not let Python build it
    result = a**b
    if isinstance(result, complex):
        raise ValueError("complex result")  # warmstep refuses it; Python fails later
    return result


LEAVES: list[Drawn] = [
    ("step", lambda s: s),
    ("math.pi", lambda s: math.pi),
    ("math.inf", lambda s: math.inf),
    ("math.nan", lambda s: math.nan),
    ("True", lambda s: True),
    ("1e308", lambda s: 1e308),
    ("0.0", lambda s: 0.0),
]
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "//": lambda a, b: a // b, "%": lambda a, b: a % b,
    "**": _int_pow_guard,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}  # fmt: skip
CALLS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "float": float, "int": int, "round": round,
    "math.floor": math.floor, "math.ceil": math.ceil, "math.sqrt": math.sqrt,
    "math.exp": math.exp, "math.log": math.log, "math.cos": math.cos, "math.atan2": math.atan2,
    "math.isnan": math.isnan, "math.copysign": math.copysign, "math.pow": math.pow,
}  # fmt: skip
ARITY = {"min": 2, "max": 3, "math.atan2": 2, "math.copysign": 2, "math.pow": 2}

STEP: Drawn = ("step", lambda s: s)
leaves = st.one_of(
    st.just(STEP),
    st.just(STEP),
    st.sampled_from(LEAVES),
    st.integers(-20, 20).map(lambda i: (f"({i})", lambda s, i=i: i)),
    st.sampled_from([0.5, 1.5, 2.5, 0.1, 3.0, 1e-3]).map(lambda f: (repr(f), lambda s, f=f: f)),
)


def _binary(pair: tuple[Drawn, str, Drawn]) -> Drawn:
    (ls, lf), op, (rs, rf) = pair
    fn = BINARY[op]
    return f"({ls} {op} {rs})", lambda s: _checked(fn(lf(s), rf(s)))


def _unary(pair: tuple[str, Drawn]) -> Drawn:
    op, (src, f) = pair
    table: dict[str, PyFn] = {"-": lambda v: -v, "not ": lambda v: not v, "+": lambda v: +v}
    return f"({op}{src})", lambda s: _checked(table[op](f(s)))


def _ifexp(parts: tuple[Drawn, Drawn, Drawn]) -> Drawn:
    (bs, bf), (ts, tf), (es, ef) = parts
    return f"({bs} if {ts} else {es})", lambda s: bf(s) if tf(s) else ef(s)


def _boolop(parts: tuple[Drawn, str, Drawn]) -> Drawn:
    (ls, lf), op, (rs, rf) = parts
    if op == "and":
        return f"({ls} and {rs})", lambda s: lf(s) and rf(s)
    return f"({ls} or {rs})", lambda s: lf(s) or rf(s)


def _chain(parts: tuple[Drawn, Drawn, Drawn]) -> Drawn:
    (a, af), (b, bf), (c, cf) = parts

    def fn(s: Any) -> Any:
        middle = bf(s)
        return af(s) < middle and middle <= cf(s)

    return f"({a} < {b} <= {c})", fn


def _call(parts: tuple[str, list[Drawn]]) -> Drawn:
    name, args = parts
    args = args[: ARITY.get(name, 1)]
    fn = CALLS[name]
    source = f"{name}({', '.join(a for a, _ in args)})"
    return source, lambda s: _checked(fn(*(f(s) for _, f in args)))


def _extend(children: st.SearchStrategy[Drawn]) -> st.SearchStrategy[Drawn]:
    return st.one_of(
        st.tuples(children, st.sampled_from(sorted(BINARY)), children).map(_binary),
        st.tuples(st.sampled_from(["-", "not ", "+"]), children).map(_unary),
        st.tuples(children, children, children).map(_ifexp),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(_boolop),
        st.tuples(children, children, children).map(_chain),
        st.tuples(st.sampled_from(sorted(CALLS)), st.lists(children, min_size=3, max_size=3)).map(
            _call
        ),
    )


trees = st.recursive(leaves, _extend, max_leaves=16)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=trees)
def test_random_expressions_match_python(drawn: Drawn) -> None:
    source, fn = drawn
    try:
        compile_expression(source, "step", field=FIELD)
    except InvalidArgument as exc:  # only the size limits may refuse a well-formed tree
        assert "too large" in exc.message or "too many" in exc.message or "nested" in exc.message
        return
    check_against_python(source, fn, INTS)
    check_against_python(source, fn, FLOATS)
    check_over_steps(source, int(INTS[0]), int(INTS[-1]) + 1)


def check_over_steps(source: str, first: int, stop: int) -> None:
    """``over_steps`` (bounds instead of scans) gives ``__call__``'s bits, or its error."""
    expr = compile_expression(source, "step", field=FIELD)
    try:
        expected = expr(np.arange(first, stop, dtype=np.int64))
    except InvalidArgument as error:
        with pytest.raises(InvalidArgument) as caught:
            expr.over_steps(first, stop)
        assert caught.value.message == error.message
        return
    assert same_bits(expr.over_steps(first, stop), expected), source


def test_interval_bounds_every_result() -> None:
    """The bounds of a sum, difference or product hold every result of values inside the
    operands' bounds (mixed signs included), as the rounded results do."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        a = np.sort(rng.integers(-50, 50, 2)).astype(float)
        b = np.sort(rng.integers(-50, 50, 2)).astype(float)
        xs, ys = np.linspace(a[0], a[1], 7), np.linspace(b[0], b[1], 7)
        for op, results in [
            (ast.Add(), xs[:, None] + ys[None, :]),
            (ast.Sub(), xs[:, None] - ys[None, :]),
            (ast.Mult(), xs[:, None] * ys[None, :]),
        ]:
            bounds = _interval(op, (a[0], a[1]), (b[0], b[1]))
            assert bounds is not None
            assert bounds[0] == results.min() and bounds[1] == results.max(), (op, a, b)
    assert _interval(ast.Mod(), (1.0, 2.0), (1.0, 2.0)) is None
    assert _interval(ast.Mult(), (1e300, 1e300), (1e300, 1e300)) is None  # not finite


@pytest.mark.parametrize(
    "source",
    [
        "step * 3",
        "step * 2 - step",
        "-(step * 4) + 1",
        "(step + 1) * (step - 1)",
        "step * -1.5",
        "min(1.0, (step + 1) / 7)",
        "0.9 ** step if step < 2**51 + 3 else step - 2**52",
        "step - 2**51 - 2**51",
        "-step - 2**52 - 2**52",
        f"-step - {2**52} - {2**52}",  # literal constants: bounds known throughout
        f"step * 3 - {2**52}",
        "step * -1",  # 0 * -1 is -0.0 as a float, the int 0 in Python
    ],
)
def test_steps_near_two_to_the_53_match_a_scan(source: str) -> None:
    """Ranges of steps where int results cross 2**53 (an error) or come close to it, and
    constant expressions: ``over_steps`` against a scan."""
    for first in [2**51 - 2, 2**51 + 1, 2**52 - 9, -(2**52) - 3, 0, -8]:
        check_over_steps(source, first, first + 9)
    check_over_steps("0.95", 3, 9)
    check_over_steps("1 / 0", 3, 9)


# ----------------------------------------------------------------------------- adversarial text

TOKENS = [
    "step", "x", "(", ")", "[", "]", "{", "}", ",", ".", ":", ":=", "**", "*", "-", "+", "/",
    "//", "%", "<", "==", "not", "and", "or", "if", "else", "for", "in", "lambda", "10", "0",
    "1e309", "9" * 40, "0.5", "math", "cos", "__class__", "__bases__", "__subclasses__",
    "__import__", "'os'", "__builtins__", "globals", "f'{", "}'", "True", "None", "...", "@",
    "yield", "await", "min", "max", "int", "round", "math.exp", "math.inf", "\\", "\n", "#",
    "  ", "\x00", "é",
]  # fmt: skip
ADVERSARIAL = [
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('true')",
    "10**10**10",
    "10.0**10**10",
    "step**step**step**step",
    "(" * 100 + "step" + ")" * 100,
    "-" * 500 + "step",
    "not " * 200 + "step",
    "9" * 999,
    "1e999999 * step",
    "lambda: step",
    "[step for step in (1,)]",
    "(s := step)",
    "f'{step}'",
    "math.__dict__",
    "math.cos.__globals__",
    "min.__self__",
    "step.__class__",
    "int(math.nan)",
    "round(math.inf)",
    "math.floor(1e300)",
    "2 ** -1075 * step",
    "(-8) ** (1 / 3)",
    "0 ** -1",
    "math.exp(step * 1e6)",
    "math.atanh(1)",
    "max(" + ", ".join(["step"] * 150) + ")",
]
sources = st.one_of(
    st.sampled_from(ADVERSARIAL),
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
    st.text(max_size=60),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=sources)
def test_any_source_gives_floats_or_invalid_argument(source: str) -> None:
    values = np.concatenate([INTS, [10**6]])
    try:
        expr = compile_expression(source, "step", field=FIELD)
        out = expr(values)
        out_floats = expr(FLOATS)
    except InvalidArgument as exc:
        assert exc.field == FIELD and exc.message
        return
    assert isinstance(expr, Expression)
    assert out.dtype == np.float64 and out.shape == values.shape
    assert out_floats.dtype == np.float64 and out_floats.shape == FLOATS.shape


def test_large_curve_is_vectorised() -> None:
    steps = np.arange(1_000_000)
    expr = compile_expression(
        "min(1.0, step / 1000) * 0.5 * (1 + math.cos(math.pi * step / 1_000_000))",
        "step", field=FIELD,
    )  # fmt: skip
    out = expr(steps)
    picks: Sequence[int] = [0, 1, 999, 1000, 123_457, 999_999]
    for s in picks:
        assert out[s] == min(1.0, s / 1000) * 0.5 * (1 + math.cos(math.pi * s / 1_000_000))


# ----------------------------------------------------------------------------- adversarial sizes

# Each template repeats a hostile fragment n times: deep nesting, attribute walks, power towers,
# huge literals. Around MAX_SOURCE_CHARS the parser, the size checks or the length bound must
# refuse them with InvalidArgument: never RecursionError, MemoryError or a hang.
TEMPLATES: list[Callable[[int], str]] = [
    lambda n: "(" * n + "step" + ")" * n,
    lambda n: "-" * n + "step",
    lambda n: "not " * n + "step",
    lambda n: "step" + " ** step" * n,
    lambda n: "10" + " ** 10" * n,
    lambda n: "9" * n,
    lambda n: "1e" + "9" * n,
    lambda n: "().__class__" + ".__base__" * n,
    lambda n: "math.exp(" * n + "step" + ")" * n,
    lambda n: "[" * n,
    lambda n: "step if step else " * n + "step",
    lambda n: "max(" + ", ".join(["step"] * n) + ")",
    lambda n: "__import__('os')" + ".system" * n,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(template=st.sampled_from(TEMPLATES), n=st.integers(1, 5_000), noise=st.sampled_from(TOKENS))
def test_adversarial_sizes_give_floats_or_invalid_argument(
    template: Callable[[int], str], n: int, noise: str
) -> None:
    for source in (template(n), template(n) + " " + noise, noise + template(n)):
        try:
            out = compile_expression(source, "step", field=FIELD)(INTS)
        except InvalidArgument as exc:
            assert exc.field == FIELD and exc.message
            continue
        assert out.dtype == np.float64 and out.shape == INTS.shape


# ---------------------------------------------------------- C library functions from compiled loops

COMPILED: list[tuple[str, PyFn]] = [
    ("math.cos(step / 7) + math.sin(step * 3.1)", lambda s: math.cos(s / 7) + math.sin(s * 3.1)),
    (
        "math.exp(-step / 50) * math.tanh(step / 300)",
        lambda s: math.exp(-s / 50) * math.tanh(s / 300),
    ),
    ("math.log(step + 0.5)", lambda s: math.log(s + 0.5)),
    (
        "(step / 1000 + 1.5) ** 2.7 + math.pow(1.0001, step)",
        lambda s: (s / 1000 + 1.5) ** 2.7 + math.pow(1.0001, s),
    ),
    ("step ** 0.5 - math.exp(step)", lambda s: s**0.5 - math.exp(s)),
]


@pytest.mark.parametrize(("source", "fn"), COMPILED, ids=[row[0][:40] for row in COMPILED])
def test_compiled_functions_match_python_per_element(source: str, fn: PyFn) -> None:
    """Thousands of elements (the compiled path): the very floats Python computes, and where
    Python raises for some element, the same refusal."""
    values = np.concatenate([np.random.default_rng(41).uniform(0, 700, 4000), np.arange(500.0)])
    check_against_python(source, fn, values)
    check_against_python(source, fn, -values)


def test_compiled_path_names_the_first_failing_step() -> None:
    expr = compile_expression("math.log(500.5 - step)", "step", field=FIELD)
    with pytest.raises(InvalidArgument, match=r"math\.log: math domain error at step=501"):
        expr(np.arange(1000))
    with pytest.raises(InvalidArgument, match=r"at step=710"):
        compile_expression("math.exp(step)", "step", field=FIELD)(np.arange(1000))


@pytest.mark.parametrize(
    ("source", "python"),
    [
        ("step // 7", lambda s: s // 7),
        ("step % 7", lambda s: s % 7),
        ("step // -7", lambda s: s // -7),
        ("step % -7", lambda s: s % -7),
        ("(step - 500) // (step % 5 + 1)", lambda s: (s - 500) // (s % 5 + 1)),
        ("(step - 500) % (step // 100 - 3)", lambda s: (s - 500) % (s // 100 - 3)),
        ("min(6, step % 7) + step // 7 * 0.5", lambda s: min(6, s % 7) + s // 7 * 0.5),
        ("(step - 2**40) // 3 % 11", lambda s: (s - 2**40) // 3 % 11),
        ("step * 1.0 // 7", lambda s: s * 1.0 // 7),  # a float operand: CPython's float divmod
    ],
)
def test_int_floor_division_and_modulo(source: str, python: PyFn) -> None:
    """Ints take numpy's int64 floor division (Python's rounding toward -inf), negative
    dividends and divisors included; over a range of steps and over the same values as ints."""
    expr = compile_expression(source, "step", field=FIELD)
    steps = np.arange(-1000, 1000, dtype=np.int64)
    expected = python_reference(python, steps)
    if expected is None:
        with pytest.raises(InvalidArgument, match="by zero"):
            expr.over_steps(-1000, 1000)
        return
    assert same_bits(expr(steps), expected), source
    assert same_bits(expr.over_steps(-1000, 1000), expected), source


def test_int_modulo_bounds_still_catch_big_ints() -> None:
    """``step % 7`` is at most 6: times 1501199875790166 that is above 2**53 (Python would make
    a big int), refused at the first step where it happens."""
    expr = compile_expression("(step % 7) * 1501199875790166", "step", field=FIELD)
    with pytest.raises(InvalidArgument) as caught:
        expr.over_steps(0, 100)
    assert caught.value.message == "*: integer result beyond 2**53 at step=6"
    assert expr.over_steps(0, 6)[-1] == 5 * 1501199875790166


def test_int_floor_division_bounds_still_catch_big_ints() -> None:
    """``step // 7`` reaches 14 at step 98 over 0..99: times 643371375338643 that is above
    2**53, where 13 times it is not."""
    expr = compile_expression("(step // 7) * 643371375338643", "step", field=FIELD)
    with pytest.raises(InvalidArgument) as caught:
        expr.over_steps(0, 100)
    assert caught.value.message == "*: integer result beyond 2**53 at step=98"
    assert expr.over_steps(0, 98)[-1] == 13 * 643371375338643
