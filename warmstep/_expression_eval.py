"""Evaluator of :mod:`warmstep.expressions`: Python's numeric semantics on float64 arrays.

A Python value per element is a float64 plus an "is int" flag; ints are exact because they are
kept below 2**53 in magnitude. IEEE-exact operations run in numpy; libm-backed ones (float ``**``,
``exp``, ``log``, trig) are mapped with Python's own functions so the last bit matches. Branches
are evaluated on the subset of elements that take them, so errors count only where Python would
evaluate. See :mod:`warmstep.expressions` for the grammar and the contract.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from warmstep._expression_ranges import (
    MATH_CONSTANTS,
    MAX_INT,
    Bounds,
    call_name,
    decided_choice,
    decided_truth,
    interval,
)
from warmstep.errors import InvalidArgument

__all__ = [
    "COMPARISONS",
    "LIBM_CALLS",
    "MATH_CALLS",
    "MATH_CONSTANTS",
    "MAX_INT",
    "VECTOR_CALLS",
    "Ctx",
    "call_name",
    "evaluate",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_LIBM_NAMES = [
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cos",
    "cosh",
    "degrees",
    "erf",
    "erfc",
    "exp",
    "expm1",
    "log10",
    "log1p",
    "log2",
    "radians",
    "sin",
    "sinh",
    "tan",
    "tanh",
]
# name -> (allowed argument counts); libm-backed ones are evaluated by Python per element.
LIBM_CALLS: dict[str, tuple[int, ...]] = {f"math.{n}": (1,) for n in _LIBM_NAMES} | {
    "math.log": (1, 2),
    "math.atan2": (2,),
    "math.pow": (2,),
    "math.hypot": (2,),
}
VECTOR_CALLS: dict[str, tuple[int, ...]] = {
    **{f"math.{n}": (1,) for n in ("floor", "ceil", "trunc", "fabs", "sqrt")},
    **{f"math.{n}": (1,) for n in ("isfinite", "isinf", "isnan")},
    "math.copysign": (2,),
    "abs": (1,),
    "float": (1,),
    "int": (1,),
    "round": (1,),
    "min": tuple(range(2, 256)),
    "max": tuple(range(2, 256)),  # any count >= 2
}
MATH_CALLS = sorted(name for name in {**LIBM_CALLS, **VECTOR_CALLS} if name.startswith("math."))
COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}


@dataclass(frozen=True)
class _Value:
    """Python values as float64 (ints are exact: |v| < 2**53) plus where they are ints.
    ``num`` is 0-d when it does not depend on the variable, else 1-d over the current elements."""

    num: FloatArray
    is_int: BoolArray  # broadcastable to num
    # Known lowest and highest values (the variable over a range of steps, constants, and sums,
    # differences and products of those): an int result inside +-2**53 needs no scan.
    bounds: Bounds | None = None


class Ctx:
    """The elements being evaluated: the variable's values there (a subset, inside branches),
    and their bounds where known. The values of a range of steps are made on first use: a
    block decided from its bounds (a warmup's saturated part) may never need them."""

    __slots__ = ("_first", "_var", "bounds", "field", "shape", "var_is_int", "variable")

    def __init__(
        self,
        variable: str,
        field: str,
        var: FloatArray | None,
        var_is_int: bool,
        bounds: Bounds | None = None,
        steps: tuple[int, int] | None = None,
    ) -> None:
        """``var`` the values, or None with ``steps`` = ``(first, stop)``: ints first .. stop-1."""
        self.variable, self.field, self.var_is_int = variable, field, var_is_int
        self.bounds, self._var = bounds, var
        self.shape: tuple[int, ...]
        if var is not None:
            self._first, self.shape = 0, var.shape
        elif steps is not None:
            self._first, self.shape = steps[0], (steps[1] - steps[0],)
        else:
            raise ValueError("Ctx needs values or a range of steps")

    @property
    def size(self) -> int:
        return self.shape[0]

    @property
    def var(self) -> FloatArray:
        if self._var is None:  # exact: |steps| < 2**53
            self._var = np.arange(self._first, self._first + self.size, dtype=np.float64)
        return self._var

    def subset(self, mask: BoolArray) -> Ctx:
        return Ctx(self.variable, self.field, self.var[mask], self.var_is_int, self.bounds)

    def check(self, bad: npt.ArrayLike, message: str) -> None:
        """Raise for the first element where ``bad`` holds (Python raises there)."""
        if np.ndim(bad) == 0:  # one flag for every element: no need to spread it out
            if bool(bad) and self.size:
                self.fail(0, message)
            return
        flags = np.broadcast_to(np.asarray(bad, dtype=bool), self.shape)
        if flags.any():
            self.fail(int(np.argmax(flags)), message)

    def fail(self, index: int, message: str) -> None:
        value = self.var[index]
        shown = str(int(value)) if self.var_is_int else repr(float(value))
        raise InvalidArgument(f"{message} at {self.variable}={shown}", field=self.field)


def evaluate(tree: ast.expr, ctx: Ctx) -> FloatArray:
    """The validated expression ``tree`` over every element of ``ctx``: a new array, or, where
    the result is one value for every element (an expression that does not use the variable,
    or a ``min``/``max``/branch the bounds decide for a constant), that value repeated (a
    read-only view with zero strides: callers that fold a constant factor see it as one)."""
    with np.errstate(all="ignore"):
        num = np.asarray(_eval(tree, ctx).num, np.float64)
    if num.shape == ctx.shape:
        return num
    return np.broadcast_to(num, ctx.shape)


def _const(value: float, is_int: bool) -> _Value:
    bounds = (value, value) if math.isfinite(value) else None
    return _Value(np.asarray(value, dtype=np.float64), np.asarray(is_int), bounds)


def _eval(node: ast.expr, ctx: Ctx) -> _Value:
    match node:
        case ast.Constant(value=bool() | int() | float() as value):
            return _const(float(value), isinstance(value, int))
        case ast.Name():
            return _Value(ctx.var, np.asarray(ctx.var_is_int), ctx.bounds)
        case ast.Attribute(attr=attr):
            return _const(MATH_CONSTANTS[attr], False)
        case ast.UnaryOp(op=op, operand=operand):
            return _unary(op, _eval(operand, ctx), ctx)
        case ast.BinOp(op=op, left=left, right=right):
            return _binop(op, _eval(left, ctx), _eval(right, ctx), ctx)
        case ast.BoolOp(op=op, values=values):
            return _boolop(isinstance(op, ast.And), values, ctx)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            holds = decided_truth(node, ctx.bounds) if _worth_deciding(ctx) else None
            if holds is not None:  # the same way for every element: a bool, no comparisons
                return _const(float(holds), True)
            return _compare(_eval(left, ctx), ops, comparators, ctx)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            holds = decided_truth(test, ctx.bounds) if _worth_deciding(ctx) else None
            if holds is not None:  # one branch for every element: no masks, no merge
                return _eval(body if holds else orelse, ctx)
            taken = _truthy(_eval(test, ctx), ctx)
            return _merge(taken, _eval_where(body, ctx, taken), _eval_where(orelse, ctx, ~taken))
        case ast.Call(func=func, args=args):
            name = call_name(func)
            if name in ("min", "max") and _worth_deciding(ctx):
                chosen = decided_choice(name, args, ctx.bounds)
                if chosen is not None:  # the same argument for every element: only it
                    return _eval(args[chosen], ctx)
            arguments = [_eval(arg, ctx) for arg in args]
            if name in LIBM_CALLS:
                fn = getattr(math, name.removeprefix("math."))
                return _python_map(fn, name, arguments, ctx)
            return _vector_call(name, arguments, ctx)
    raise AssertionError(f"unvalidated node {type(node).__name__}")  # pragma: no cover


_DECIDE_MIN = 64  # elements worth deciding a min, max or comparison from bounds


def _worth_deciding(ctx: Ctx) -> bool:
    """Bounds known and enough elements that skipping whole passes pays for the analysis
    (:mod:`warmstep._expression_ranges`): the skipped nodes cannot raise, so no error is lost."""
    return ctx.bounds is not None and ctx.size >= _DECIDE_MIN


def _eval_where(node: ast.expr, ctx: Ctx, mask: BoolArray) -> _Value | None:
    """``node`` over the elements where ``mask`` holds only (None if there are none)."""
    return _eval(node, ctx.subset(mask)) if mask.any() else None


def _pick(value: _Value, mask: BoolArray) -> _Value:
    def take(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if a.ndim == 0 else a[mask]

    return _Value(take(value.num), take(value.is_int))


def _merge(mask: BoolArray, when_true: _Value | None, when_false: _Value | None) -> _Value:
    num, is_int = np.empty(mask.shape), np.zeros(mask.shape, dtype=bool)
    for part, where in ((when_true, mask), (when_false, ~mask)):
        if part is not None:
            num[where], is_int[where] = part.num, part.is_int
    return _Value(num, is_int)


def _truthy(value: _Value, ctx: Ctx) -> BoolArray:
    return np.broadcast_to(value.num != 0, ctx.shape)  # bool(nan) is True, as in Python


def _boolop(is_and: bool, values: Sequence[ast.expr], ctx: Ctx) -> _Value:
    """``a and b``: b where a is truthy, else a; ``a or b``: a where truthy, else b."""
    first = _eval(values[0], ctx)
    if len(values) == 1:
        return first
    go_on = _truthy(first, ctx) if is_and else ~_truthy(first, ctx)
    rest = _boolop(is_and, values[1:], ctx.subset(go_on)) if go_on.any() else None
    first_kept = _pick(_broadcast(first, ctx), ~go_on)
    return _merge(go_on, rest, first_kept)


def _compare(
    left: _Value, ops: Sequence[ast.cmpop], rights: Sequence[ast.expr], ctx: Ctx
) -> _Value:
    """``a < b < c`` is ``a < b and b < c`` with b evaluated once, c only where a < b."""
    right = _eval(rights[0], ctx)
    holds = np.broadcast_to(COMPARISONS[type(ops[0])](left.num, right.num), ctx.shape)
    if len(ops) == 1 or not holds.any():
        return _Value(holds.astype(np.float64), np.asarray(True))
    rest = _compare(_pick(_broadcast(right, ctx), holds), ops[1:], rights[1:], ctx.subset(holds))
    return _merge(holds, rest, _const(0.0, True))


def _broadcast(value: _Value, ctx: Ctx) -> _Value:
    return _Value(np.broadcast_to(value.num, ctx.shape), np.broadcast_to(value.is_int, ctx.shape))


def _ints(
    num: FloatArray, is_int: npt.ArrayLike, ctx: Ctx, what: str, bounds: Bounds | None = None
) -> _Value:
    """Int results: refuse |v| >= 2**53 (Python would go to big ints); -0.0 is the int 0.
    ``bounds``, where known, stand in for a scan of the values."""
    is_int = np.asarray(is_int, dtype=bool)
    if is_int.ndim == 0:  # the common case: one kind for every element
        if not is_int:
            return _Value(num, is_int, bounds)
        if bounds is not None and -MAX_INT < bounds[0] <= bounds[1] < MAX_INT:
            low, high = bounds
        elif np.size(num):
            low, high = float(np.min(num)), float(np.max(num))
        else:
            low, high = 1.0, 1.0
        if not -MAX_INT < low <= high < MAX_INT:  # NaN included: look element by element
            ctx.check(np.abs(num) >= MAX_INT, f"{what}: integer result beyond 2**53")
        return _Value(num if low > 0.0 else num + 0.0, is_int, bounds)  # no zero: no -0.0
    ctx.check(is_int & (np.abs(num) >= MAX_INT), f"{what}: integer result beyond 2**53")
    return _Value(np.where(is_int, num + 0.0, num), is_int)


def _unary(op: ast.unaryop, value: _Value, ctx: Ctx) -> _Value:
    if isinstance(op, ast.Not):
        return _Value((value.num == 0).astype(np.float64), np.asarray(True))
    if isinstance(op, ast.USub):
        bounds = None if value.bounds is None else (-value.bounds[1], -value.bounds[0])
        return _ints(np.negative(value.num), value.is_int, ctx, "-", bounds)
    return value


def _binop(op: ast.operator, a: _Value, b: _Value, ctx: Ctx) -> _Value:
    both_int = a.is_int & b.is_int
    match op:
        case ast.Add():
            return _ints(a.num + b.num, both_int, ctx, "+", interval(op, a.bounds, b.bounds))
        case ast.Sub():
            return _ints(a.num - b.num, both_int, ctx, "-", interval(op, a.bounds, b.bounds))
        case ast.Mult():
            return _ints(a.num * b.num, both_int, ctx, "*", interval(op, a.bounds, b.bounds))
        case ast.Div():
            ctx.check(b.num == 0, "division by zero")
            return _Value(a.num / b.num, np.asarray(False))
        case ast.FloorDiv() | ast.Mod():
            ctx.check(b.num == 0, "floor division or modulo by zero")
            if np.ndim(both_int) == 0 and both_int:  # Python ints: in int64
                return _int_divmod(isinstance(op, ast.FloorDiv), a, b, ctx)
            # CPython's float divmod: mod = fmod(x, y) moved to the sign of y; div = (x - mod)/y,
            # minus 1 if mod moved, snapped to the nearest integer; a zero quotient or remainder
            # takes the sign of x/y or of y (-7.0 // 2.0 = -4.0, -7.0 % 2.0 = 1.0,
            # 6.0 % -3.0 = -0.0). numpy's float floor_divide and remainder implement the same
            # algorithm; the tests check them against Python.
            if isinstance(op, ast.FloorDiv):
                return _ints(np.floor_divide(a.num, b.num), both_int, ctx, "//")
            return _ints(np.remainder(a.num, b.num), both_int, ctx, "%")
    return _pow(a, b, ctx)


def _int_divmod(floor_div: bool, a: _Value, b: _Value, ctx: Ctx) -> _Value:
    """``a // b`` or ``a % b`` of Python ints (|v| < 2**53, b nonzero) in int64: numpy's integer
    floor division rounds toward -inf as Python's does, and by one divisor for every element it
    is a multiply and a shift, ~15x the float divmod's speed; the remainder ``a - q * b`` is
    exact in int64. A constant divisor bounds the results (no scan for |v| >= 2**53)."""
    x, y = a.num.astype(np.int64), b.num.astype(np.int64)
    quotient = np.floor_divide(x, y)
    result = quotient if floor_div else x - quotient * y
    bounds = None
    if y.ndim == 0 and a.bounds is not None:
        divisor, low, high = int(y), math.floor(a.bounds[0]), math.ceil(a.bounds[1])
        if floor_div:
            ends = sorted((low // divisor, high // divisor))
            bounds = (float(ends[0]), float(ends[1]))
        else:
            bounds = (0.0, float(divisor - 1)) if divisor > 0 else (float(divisor + 1), 0.0)
    if bounds is not None:  # inside +-2**53 (|a // b| <= |a|, |a % b| < |b|); int64 has no -0.0
        return _Value(result.astype(np.float64), np.asarray(True), bounds)
    return _ints(result.astype(np.float64), True, ctx, "//" if floor_div else "%")


def _pow(base: _Value, exponent: _Value, ctx: Ctx) -> _Value:
    """``int ** int`` with a non-negative exponent is an exact int (by squaring); anything else is
    Python's float ``**`` (libm ``pow``), element by element."""
    both_int = base.is_int & exponent.is_int
    if np.ndim(both_int) == 0 and not both_int:  # a float on one side everywhere: no scan
        return _python_map(_float_pow, "**", [base, exponent], ctx)
    exact = np.broadcast_to(both_int & (exponent.num >= 0), ctx.shape)
    if exact.all():
        return _ints(_int_pow(base.num, exponent.num), True, ctx, "**")
    if not exact.any():
        return _python_map(_float_pow, "**", [base, exponent], ctx)
    ints = _ints(_int_pow(base.num, exponent.num), exact, ctx, "**")
    floats = _python_map(
        _float_pow,
        "**",
        [_pick(_broadcast(v, ctx), ~exact) for v in (base, exponent)],
        ctx.subset(~exact),
    )
    return _merge(exact, _pick(_broadcast(ints, ctx), exact), floats)


def _int_pow(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """Exact ``b ** e`` for ints with |result| < 2**53 (larger results come out >= 2**53 or inf
    and are refused by the caller). Exponents above 64 are replaced by 64 or 65 of the same
    parity: the value is then unchanged for |b| <= 1 and still >= 2**64 for |b| >= 2. Elements
    that are not int ** non-negative int get meaningless values (the caller ignores them)."""
    e = np.where(exponent > 64, 64 + np.remainder(exponent, 2), exponent)
    if base.ndim == 0:  # one base: a table of its 66 powers, from Python ints
        powers = [int(base) ** k for k in range(66)]
        table = np.array([float(p) if abs(p) < MAX_INT else float(MAX_INT) for p in powers])
        return np.asarray(table[np.clip(np.nan_to_num(e), 0, 65).astype(np.intp)], np.float64)
    result = np.ones(np.broadcast(base, e).shape)
    square = base
    if e.ndim == 0:  # one exponent, 0 <= e <= 65: its bits
        bits = int(e) if 0 < e <= 65 else 0
        while bits:
            result = result * square if bits & 1 else result
            square, bits = square * square, bits >> 1
        return result
    for _ in range(7):  # 2**7 > 65
        result = np.where(np.remainder(e, 2) == 1, result * square, result)
        square, e = square * square, np.floor(e / 2)
    return result


def _float_pow(x: float, y: float) -> float:
    result: float | complex = x**y
    if isinstance(result, complex):
        raise ValueError("negative number cannot be raised to a fractional power")
    return result


def _python_map(fn: Callable[..., float], name: str, args: Sequence[_Value], ctx: Ctx) -> _Value:
    """``fn`` applied by Python to every element (as floats: ints are exact); Python's errors
    become InvalidArgument at the first failing element."""
    tabled = _table_map(fn, args)
    if tabled is not None:
        return tabled
    compiled = _compiled_map(fn, args)
    if compiled is not None:
        return compiled
    nums = np.broadcast_arrays(*(a.num for a in args))
    columns = [n.ravel().tolist() for n in nums]
    try:
        out = np.fromiter(map(fn, *columns), dtype=np.float64, count=len(columns[0]))
    except (ArithmeticError, ValueError):
        for index, row in enumerate(zip(*columns, strict=True)):
            try:
                fn(*row)
            except (ArithmeticError, ValueError) as exc:
                ctx.fail(index if nums[0].ndim else 0, f"{name}: {exc}")
        raise  # pragma: no cover - the loop above re-raises the same error
    return _Value(out.reshape(nums[0].shape), np.asarray(False))


_COMPILED_MIN = 64  # elements worth a compiled loop
_COMPILED_UNARY: dict[Callable[..., float], str] = {
    math.cos: "cos",
    math.sin: "sin",
    math.exp: "exp",
    math.log: "log",
    math.tanh: "tanh",
}


def _compiled_map(fn: Callable[..., float], args: Sequence[_Value]) -> _Value | None:
    """``fn`` by the C library function Python itself calls for it, from a compiled loop (the
    very same floats, :mod:`warmstep.schedules._libm`): ``math.cos``, ``sin``, ``exp``,
    ``log``, ``tanh`` and the float power. None where that does not apply, or where Python
    raises somewhere (the elementwise path then names the first failing element)."""
    unary = _COMPILED_UNARY.get(fn) if len(args) == 1 else None
    power = len(args) == 2 and fn in (_float_pow, math.pow)
    if unary is None and not power:
        return None
    nums = np.broadcast_arrays(*(a.num for a in args))
    if nums[0].size < _COMPILED_MIN:
        return None
    from warmstep.schedules._libm import pow_like_python, unary_like_python

    try:
        out = unary_like_python(unary, nums[0]) if unary else pow_like_python(nums[0], nums[1])
    except (ArithmeticError, ValueError):
        return None
    return _Value(out, np.asarray(False))


_TABLE_MIN, _TABLE_MAX = 4096, 4096  # elements worth a table; distinct values it may hold


def _table_map(fn: Callable[..., float], args: Sequence[_Value]) -> _Value | None:
    """``fn`` by table lookup when one argument varies over whole numbers in a short range and
    the others are constant (``0.95 ** step``, ``math.exp(step // 100)``): ``fn`` once per value
    of the range, the same Python call as element by element. None where that does not apply
    or a value of the range raises (the elementwise path then reports the first failure)."""
    varying = [i for i, a in enumerate(args) if a.num.ndim]
    if len(varying) != 1 or args[varying[0]].num.size < _TABLE_MIN:
        return None
    arg = args[varying[0]]
    v = arg.num
    # ints with known bounds (``step // 1000`` over a block) need no scan: whole numbers, no -0.0
    ints = np.ndim(arg.is_int) == 0 and bool(arg.is_int)
    bounds = arg.bounds if ints else None
    known_ints = bounds is not None
    low, high = (
        (math.floor(bounds[0]), math.ceil(bounds[1]))
        if bounds is not None
        else (float(v.min()), float(v.max()))
    )
    if not (math.isfinite(low) and math.isfinite(high)) or high - low >= _TABLE_MAX:
        return None
    offset = v - low
    index = offset.astype(np.intp)
    if not known_ints and (
        not np.array_equal(index, offset) or (low <= 0 <= high and np.signbit(v[v == 0]).any())
    ):
        return None  # not whole numbers, or a -0.0 that the table would read as 0.0
    fixed = [float(a.num) if a.num.ndim == 0 else 0.0 for a in args]
    table = []
    for k in range(int(high - low) + 1):
        fixed[varying[0]] = low + k
        try:
            table.append(fn(*fixed))
        except (ArithmeticError, ValueError):
            return None
    return _Value(np.asarray(table, np.float64)[index], np.asarray(False))


def _to_int(rounded: FloatArray, x: _Value, ctx: Ctx, name: str) -> _Value:
    """Python's float -> int conversions (``int``, ``round``, ``math.floor`` ...)."""
    ctx.check(np.isinf(x.num), f"{name}: cannot convert float infinity to integer")
    ctx.check(np.isnan(x.num), f"{name}: cannot convert float NaN to integer")
    return _ints(np.where(x.is_int, x.num, rounded), True, ctx, name)


def _vector_call(name: str, args: list[_Value], ctx: Ctx) -> _Value:
    x = args[0]
    if name in ("min", "max"):
        for other in args[1:]:  # Python keeps the first of equals, and skips NaN challengers
            take = other.num < x.num if name == "min" else other.num > x.num
            same_kind = np.ndim(x.is_int) == np.ndim(other.is_int) == 0 and x.is_int == other.is_int
            is_int = x.is_int if same_kind else np.where(take, other.is_int, x.is_int)
            x = _Value(np.where(take, other.num, x.num), np.asarray(is_int))
        return x
    rounding = {
        "int": np.trunc,
        "math.trunc": np.trunc,
        "round": np.rint,
        "math.floor": np.floor,
        "math.ceil": np.ceil,
    }
    if name in rounding:
        return _to_int(rounding[name](x.num), x, ctx, name)
    if name == "abs":
        return _Value(np.abs(x.num), x.is_int)
    if name == "math.sqrt":
        ctx.check(x.num < 0, "math.sqrt: math domain error")
        return _Value(np.sqrt(x.num), np.asarray(False))
    if name.startswith("math.is"):
        test = {"math.isfinite": np.isfinite, "math.isinf": np.isinf, "math.isnan": np.isnan}
        return _Value(test[name](x.num).astype(np.float64), np.asarray(True))
    functions = {"float": np.positive, "math.fabs": np.abs, "math.copysign": np.copysign}
    return _Value(np.asarray(functions[name](*(a.num for a in args))), np.asarray(False))
