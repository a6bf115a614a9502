"""User functions as expression strings: parsed with a whitelist, evaluated vectorised, never eval'd.

``LambdaLR.lr_lambda``, ``MultiplicativeLR.lr_lambda`` and ``CyclicLR.scale_fn`` are Python
callables in the libraries; a spec gives them as one expression in one variable (``step``, or
``x`` for ``scale_fn``)::

    compile_expression("step / 10 if step < 10 else 1.0", "step", field="schedule.lr_lambda")

Grammar (``ast`` nodes; anything else is an :class:`InvalidArgument` naming ``field``):
int / float / bool literals, the variable, ``math.pi e tau inf nan``; unary ``- + not``;
``+ - * / // % **``; ``and or``; comparisons ``== != < <= > >=`` (chained too); ``a if c else b``;
calls to ``min max abs float int round`` and the ``math`` functions listed in ``_MATH_CALLS``.
No other names, no attribute access beyond ``math.<name>``, no keywords, no ``*args``.

Semantics: value ``i`` of ``expr(values)`` equals ``float(f(v))`` where ``f`` is the same
expression as a Python lambda and ``v`` is ``values[i]`` as a Python ``int`` (integer arrays: torch
calls the lambda with an int epoch) or ``float``, bit for bit, including Python's per-element types
(``7 // 2`` is the int 3, ``min(1, 0.5)`` keeps the int or float it picks, ``math.floor`` gives
ints, ``int ** int`` is exact) and Python's lazy evaluation: the branch not taken, the right side
of a short-circuited ``and``/``or`` and the rest of a false chained comparison are not evaluated
for that element, so their errors do not count. Example: ``"0.95 ** step"`` at ``[0, 1, 2]`` gives
``[1.0, 0.95, 0.9025]``.

How: every value is a float64 array plus an "is int" mask. Operations that IEEE arithmetic makes
exact (``+ - * /``, comparisons, ``floor``, ``sqrt``, ...) run in numpy; ``//`` and ``%`` follow
CPython's float divmod step by step. Functions that go through libm (``**`` on floats, ``exp``,
``log``, trig, ...) are mapped element by element with Python's own ``math`` function or ``**``,
because numpy's SIMD versions differ from libm in the last bit; there are at most
``MAX_LIBM_CALLS`` of them per expression, so the cost stays a few Python calls per step.

Errors Python would raise for some element (``ZeroDivisionError``, ``OverflowError`` from
``**``/``exp``/``int(inf)``, ``ValueError`` from ``math.log(0)``, a complex result of
``(-8) ** (1/3)``) become :class:`InvalidArgument` naming ``field`` and the first such value of the
variable. Infinities and NaN that Python itself produces (``1e308 * 10``, ``math.inf``) are kept.

Deliberate limits (Python would not fail, warmstep refuses, so that no request can hang):
every int (literal, variable value, intermediate result) must satisfy ``|v| < 2**53`` (so
``2 ** 60`` or ``math.floor(1e300)`` are refused; Python would make a big int); ``round`` takes
one argument; source at most ``MAX_SOURCE_CHARS`` characters, ``MAX_NODES`` expression nodes,
nesting depth ``MAX_DEPTH``. ``10 ** 10 ** 10`` is refused in microseconds (an int power is
computed by squaring with the exponent capped, never with Python ints).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from warmstep.errors import InvalidArgument

__all__ = [
    "MAX_DEPTH",
    "MAX_INT",
    "MAX_LIBM_CALLS",
    "MAX_NODES",
    "MAX_SOURCE_CHARS",
    "Expression",
    "compile_expression",
]

MAX_SOURCE_CHARS = 1000
MAX_NODES = 200
MAX_DEPTH = 32
MAX_LIBM_CALLS = 16
MAX_INT = 2**53  # exclusive bound on |int| values: exactly representable in float64

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}
_LIBM_NAMES = (
    "acos acosh asin asinh atan atanh cos cosh degrees erf erfc exp expm1 log10 log1p log2 "
    "radians sin sinh tan tanh"
).split()
# name -> (allowed argument counts); libm-backed ones are evaluated by Python per element.
_LIBM_CALLS: dict[str, tuple[int, ...]] = {f"math.{n}": (1,) for n in _LIBM_NAMES} | {
    "math.log": (1, 2), "math.atan2": (2,), "math.pow": (2,), "math.hypot": (2,),
}
_VECTOR_CALLS: dict[str, tuple[int, ...]] = {
    **{f"math.{n}": (1,) for n in ("floor", "ceil", "trunc", "fabs", "sqrt")},
    **{f"math.{n}": (1,) for n in ("isfinite", "isinf", "isnan")},
    "math.copysign": (2,), "abs": (1,), "float": (1,), "int": (1,), "round": (1,),
    "min": tuple(range(2, MAX_NODES)), "max": tuple(range(2, MAX_NODES)),
}
_MATH_CALLS = sorted(name for name in {**_LIBM_CALLS, **_VECTOR_CALLS} if name.startswith("math."))
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: np.equal, ast.NotEq: np.not_equal, ast.Lt: np.less,
    ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
}
_REFUSED = {
    ast.Lambda: "lambda", ast.NamedExpr: "assignment expression (:=)", ast.JoinedStr: "f-string",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression", ast.Subscript: "subscript", ast.Starred: "*args",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}


# ----------------------------------------------------------------------------- validation


def compile_expression(source: str, variable: str, *, field: str) -> Expression:
    """Parse and validate ``source`` as an expression in ``variable``; errors name ``field``."""
    if not variable.isidentifier() or variable == "math":
        raise ValueError(f"bad expression variable {variable!r}")

    def refuse(message: str) -> InvalidArgument:
        return InvalidArgument(message, field=field)

    if not isinstance(source, str):
        raise refuse("the expression must be a string")
    if len(source) > MAX_SOURCE_CHARS:
        raise refuse(f"expression too long ({len(source)} > {MAX_SOURCE_CHARS} characters)")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise refuse(f"invalid expression: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, Warning) as exc:
        raise refuse(f"invalid expression: {exc}") from None
    _check_size(tree.body, refuse)
    libm_calls = _validate(tree.body, variable, refuse)
    if libm_calls > MAX_LIBM_CALLS:
        raise refuse(f"too many '**' and math function calls ({libm_calls} > {MAX_LIBM_CALLS})")
    return Expression(source, variable, field, tree.body)


def _check_size(root: ast.expr, refuse: Callable[[str], InvalidArgument]) -> None:
    """Node count and nesting depth, iteratively (the tree may be deep: nothing recursive yet)."""
    count, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise refuse(f"expression too large (more than {MAX_NODES} nodes)")
        if depth > MAX_DEPTH:
            raise refuse(f"expression nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))


def _validate(node: ast.expr, variable: str, refuse: Callable[[str], InvalidArgument]) -> int:
    """Refuse anything outside the grammar; return the number of libm-backed operations."""

    def sub(*children: ast.expr) -> int:
        return sum(_validate(child, variable, refuse) for child in children)

    match node:
        case ast.Constant(value=bool() | float()):
            return 0
        case ast.Constant(value=int() as value):
            if abs(value) >= MAX_INT:
                raise refuse(f"integer literal too large (|value| must be < 2**53): {value}")
            return 0
        case ast.Constant(value=value):
            raise refuse(f"only int and float literals are allowed, not {type(value).__name__}")
        case ast.Name(id=name) if name == variable:
            return 0
        case ast.Name(id=name):
            raise refuse(f"unknown name {name!r} (the only variable is {variable!r})")
        case ast.Attribute(value=ast.Name(id="math"), attr=attr) if attr in _MATH_CONSTANTS:
            return 0
        case ast.Attribute(value=ast.Name(id="math"), attr=attr) if f"math.{attr}" in _MATH_CALLS:
            raise refuse(f"math.{attr} must be called")
        case ast.Attribute():
            raise refuse(f"attribute access not allowed: {_show(node)} (only math.<constant>)")
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() | ast.Not(), operand=operand):
            return sub(operand)
        case ast.BinOp(op=op, left=left, right=right) if isinstance(op, _BINOPS):
            return sub(left, right) + isinstance(op, ast.Pow)
        case ast.BoolOp(values=values):
            return sub(*values)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            if not all(type(op) in _COMPARE for op in ops):
                raise refuse("only the comparisons == != < <= > >= are allowed")
            return sub(left, *comparators)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return sub(test, body, orelse)
        case ast.Call(func=func, args=args, keywords=keywords):
            name = _call_name(func)
            arities = _LIBM_CALLS.get(name) or _VECTOR_CALLS.get(name)
            if arities is None:
                raise refuse(f"call to {name!r} not allowed (allowed: min, max, abs, float, "
                              f"int, round, {', '.join(_MATH_CALLS)})")
            if keywords or len(args) not in arities:
                raise refuse(f"{name}() takes {_arity_text(arities)} positional argument(s) here")
            return sub(*args) + (name in _LIBM_CALLS)
        case ast.UnaryOp() | ast.BinOp():
            raise refuse(f"operator {type(node.op).__name__} is not allowed")
    what = _REFUSED.get(type(node), type(node).__name__)
    raise refuse(f"{what} is not allowed in an expression")


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return _show(func)


def _show(node: ast.expr) -> str:
    return ast.unparse(node)[:60]


def _arity_text(arities: tuple[int, ...]) -> str:
    return "at least 2" if len(arities) > 2 else " or ".join(map(str, arities))


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Value:
    """Python values as float64 (ints are exact: |v| < 2**53) plus where they are ints.
    ``num`` is 0-d when it does not depend on the variable, else 1-d over the current elements."""

    num: FloatArray
    is_int: BoolArray  # broadcastable to num


@dataclass(frozen=True)
class _Ctx:
    """The elements being evaluated: the variable's values there (a subset, inside branches)."""

    variable: str
    field: str
    var: FloatArray
    var_is_int: bool

    def subset(self, mask: BoolArray) -> _Ctx:
        return _Ctx(self.variable, self.field, self.var[mask], self.var_is_int)

    def check(self, bad: npt.ArrayLike, message: str) -> None:
        """Raise for the first element where ``bad`` holds (Python raises there)."""
        flags = np.broadcast_to(np.asarray(bad, dtype=bool), self.var.shape)
        if flags.any():
            self.fail(int(np.argmax(flags)), message)

    def fail(self, index: int, message: str) -> None:
        value = self.var[index]
        shown = str(int(value)) if self.var_is_int else repr(float(value))
        raise InvalidArgument(f"{message} at {self.variable}={shown}", field=self.field)


class Expression:
    """A validated expression in one variable; call it on an array of the variable's values."""

    __slots__ = ("_tree", "field", "source", "variable")

    def __init__(self, source: str, variable: str, field: str, tree: ast.expr) -> None:
        self.source, self.variable, self.field, self._tree = source, variable, field, tree

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, {self.variable!r})"

    def __call__(self, values: npt.ArrayLike) -> FloatArray:
        """float64 array, same shape: ``float(f(v))`` per element (module docstring)."""
        arr = np.asarray(values)
        if arr.dtype.kind in "iub":
            if arr.size and (arr.max() >= MAX_INT or arr.min() <= -MAX_INT):
                raise InvalidArgument(f"{self.variable} out of range (|value| must be < 2**53)",
                                      field=self.field)
        elif arr.dtype.kind != "f":
            raise TypeError(f"expression values must be ints or floats, not {arr.dtype}")
        var = arr.astype(np.float64).ravel()
        if var.size == 0:
            return var.reshape(arr.shape)
        ctx = _Ctx(self.variable, self.field, var, arr.dtype.kind != "f")
        with np.errstate(all="ignore"):
            result = _eval(self._tree, ctx).num
        return np.broadcast_to(result, var.shape).astype(np.float64).reshape(arr.shape)

    def scalar(self, value: float) -> float:
        """The expression at one value (an ``int`` is evaluated as a Python int)."""
        dtype = np.int64 if isinstance(value, int) else np.float64
        return float(self(np.asarray([value], dtype=dtype))[0])


def _const(value: float, is_int: bool) -> _Value:
    return _Value(np.asarray(value, dtype=np.float64), np.asarray(is_int))


def _eval(node: ast.expr, ctx: _Ctx) -> _Value:
    match node:
        case ast.Constant(value=value):
            return _const(float(value), isinstance(value, int))
        case ast.Name():
            return _Value(ctx.var, np.asarray(ctx.var_is_int))
        case ast.Attribute(attr=attr):
            return _const(_MATH_CONSTANTS[attr], False)
        case ast.UnaryOp(op=op, operand=operand):
            return _unary(op, _eval(operand, ctx), ctx)
        case ast.BinOp(op=op, left=left, right=right):
            return _binop(op, _eval(left, ctx), _eval(right, ctx), ctx)
        case ast.BoolOp(op=op, values=values):
            return _boolop(isinstance(op, ast.And), values, ctx)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            return _compare(_eval(left, ctx), ops, comparators, ctx)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            taken = _truthy(_eval(test, ctx), ctx)
            return _merge(taken, _eval_where(body, ctx, taken), _eval_where(orelse, ctx, ~taken))
        case ast.Call(func=func, args=args):
            name = _call_name(func)
            values = [_eval(arg, ctx) for arg in args]
            if name in _LIBM_CALLS:
                fn = getattr(math, name.removeprefix("math."))
                return _python_map(fn, name, values, ctx)
            return _vector_call(name, values, ctx)
    raise AssertionError(f"unvalidated node {type(node).__name__}")  # pragma: no cover


def _eval_where(node: ast.expr, ctx: _Ctx, mask: BoolArray) -> _Value | None:
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


def _truthy(value: _Value, ctx: _Ctx) -> BoolArray:
    return np.broadcast_to(value.num != 0, ctx.var.shape)  # bool(nan) is True, as in Python


def _boolop(is_and: bool, values: Sequence[ast.expr], ctx: _Ctx) -> _Value:
    """``a and b``: b where a is truthy, else a; ``a or b``: a where truthy, else b."""
    first = _eval(values[0], ctx)
    if len(values) == 1:
        return first
    go_on = _truthy(first, ctx) if is_and else ~_truthy(first, ctx)
    rest = _boolop(is_and, values[1:], ctx.subset(go_on)) if go_on.any() else None
    first_kept = _pick(_broadcast(first, ctx), ~go_on)
    return _merge(go_on, rest, first_kept)


def _compare(left: _Value, ops: Sequence[ast.cmpop], rights: Sequence[ast.expr], ctx: _Ctx
             ) -> _Value:
    """``a < b < c`` is ``a < b and b < c`` with b evaluated once, c only where a < b."""
    right = _eval(rights[0], ctx)
    holds = np.broadcast_to(_COMPARE[type(ops[0])](left.num, right.num), ctx.var.shape)
    if len(ops) == 1 or not holds.any():
        return _Value(holds.astype(np.float64), np.asarray(True))
    rest = _compare(_pick(_broadcast(right, ctx), holds), ops[1:], rights[1:], ctx.subset(holds))
    return _merge(holds, rest, _const(0.0, True))


def _broadcast(value: _Value, ctx: _Ctx) -> _Value:
    return _Value(np.broadcast_to(value.num, ctx.var.shape),
                  np.broadcast_to(value.is_int, ctx.var.shape))


def _ints(num: FloatArray, is_int: npt.ArrayLike, ctx: _Ctx, what: str) -> _Value:
    """Int results: refuse |v| >= 2**53 (Python would go to big ints); -0.0 is the int 0."""
    is_int = np.asarray(is_int, dtype=bool)
    ctx.check(is_int & (np.abs(num) >= MAX_INT), f"{what}: integer result beyond 2**53")
    return _Value(np.where(is_int, num + 0.0, num), is_int)


def _unary(op: ast.unaryop, value: _Value, ctx: _Ctx) -> _Value:
    if isinstance(op, ast.Not):
        return _Value((value.num == 0).astype(np.float64), np.asarray(True))
    if isinstance(op, ast.USub):
        return _ints(np.negative(value.num), value.is_int, ctx, "-")
    return value


def _binop(op: ast.operator, a: _Value, b: _Value, ctx: _Ctx) -> _Value:
    both_int = a.is_int & b.is_int
    match op:
        case ast.Add():
            return _ints(a.num + b.num, both_int, ctx, "+")
        case ast.Sub():
            return _ints(a.num - b.num, both_int, ctx, "-")
        case ast.Mult():
            return _ints(a.num * b.num, both_int, ctx, "*")
        case ast.Div():
            ctx.check(b.num == 0, "division by zero")
            return _Value(a.num / b.num, np.asarray(False))
        case ast.FloorDiv() | ast.Mod():
            ctx.check(b.num == 0, "integer division or modulo by zero")
            quotient, remainder = _py_divmod(a.num, b.num)
            is_floor = isinstance(op, ast.FloorDiv)
            return _ints(quotient if is_floor else remainder, both_int, ctx, "// or %")
    return _pow(a, b, ctx)


def _py_divmod(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """CPython's float ``divmod`` (``x // y``, ``x % y``) for y != 0, every step exact in IEEE:
    mod = fmod(x, y), moved to the sign of y; div = (x - fmod) / y, minus 1 if mod moved, snapped
    to the nearest integer; a zero quotient or remainder takes the sign of x / y or of y.
    Example: -7.0 // 2.0 = -4.0, -7.0 % 2.0 = 1.0, 6.0 % -3.0 = -0.0."""
    mod = np.fmod(x, y)
    div = (x - mod) / y
    moved = (mod != 0) & ((y < 0) != (mod < 0))
    mod = np.where(mod != 0, np.where(moved, mod + y, mod), np.copysign(0.0, y))
    div = np.where(moved, div - 1.0, div)
    floor = np.floor(div)
    floor = np.where(div - floor > 0.5, floor + 1.0, floor)
    return np.where(div != 0, floor, np.copysign(0.0, x / y)), mod


def _pow(base: _Value, exponent: _Value, ctx: _Ctx) -> _Value:
    """``int ** int`` with a non-negative exponent is an exact int (by squaring); anything else is
    Python's float ``**`` (libm ``pow``), element by element."""
    exact = np.broadcast_to(base.is_int & exponent.is_int & (exponent.num >= 0), ctx.var.shape)
    if exact.all():
        return _ints(_int_pow(base.num, exponent.num), True, ctx, "**")
    if not exact.any():
        return _python_map(_float_pow, "**", [base, exponent], ctx)
    ints = _ints(_int_pow(base.num, exponent.num), exact, ctx, "**")
    floats = _python_map(_float_pow, "**", [_pick(_broadcast(v, ctx), ~exact)
                                          for v in (base, exponent)], ctx.subset(~exact))
    return _merge(exact, _pick(_broadcast(ints, ctx), exact), floats)


def _int_pow(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """Exact ``b ** e`` for ints with |result| < 2**53 (larger results come out >= 2**53 or inf
    and are refused by the caller). Exponents above 64 are replaced by 64 or 65 of the same
    parity: the value is then unchanged for |b| <= 1 and still >= 2**64 for |b| >= 2."""
    e = np.where(exponent > 64, 64 + np.fmod(exponent, 2), exponent)
    result = np.ones(np.broadcast(base, e).shape)
    square = base
    for _ in range(7):  # 2**7 > 65
        result = np.where(np.fmod(e, 2) == 1, result * square, result)
        square, e = square * square, np.floor(e / 2)
    return result


def _float_pow(x: float, y: float) -> float:
    result = x**y
    if isinstance(result, complex):
        raise ValueError("negative number cannot be raised to a fractional power")
    return result


def _python_map(fn: Callable[..., float], name: str, args: Sequence[_Value], ctx: _Ctx
                ) -> _Value:
    """``fn`` applied by Python to every element (as floats: ints are exact); Python's errors
    become InvalidArgument at the first failing element."""
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


def _to_int(rounded: FloatArray, x: _Value, ctx: _Ctx, name: str) -> _Value:
    """Python's float -> int conversions (``int``, ``round``, ``math.floor`` ...)."""
    ctx.check(np.isinf(x.num), f"{name}: cannot convert float infinity to integer")
    ctx.check(np.isnan(x.num), f"{name}: cannot convert float NaN to integer")
    return _ints(np.where(x.is_int, x.num, rounded), True, ctx, name)


def _vector_call(name: str, args: list[_Value], ctx: _Ctx) -> _Value:
    x = args[0]
    if name in ("min", "max"):
        for other in args[1:]:  # Python keeps the first of equals, and skips NaN challengers
            take = other.num < x.num if name == "min" else other.num > x.num
            x = _Value(np.where(take, other.num, x.num), np.where(take, other.is_int, x.is_int))
        return x
    rounding = {"int": np.trunc, "math.trunc": np.trunc, "round": np.rint,
                "math.floor": np.floor, "math.ceil": np.ceil}
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
