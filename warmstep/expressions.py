"""User functions as expression strings: parsed with a whitelist, evaluated vectorised, no eval.

``LambdaLR.lr_lambda``, ``MultiplicativeLR.lr_lambda`` and ``CyclicLR.scale_fn`` are Python
callables in the libraries; a spec gives them as one expression in one variable (``step``, or
``x`` for ``scale_fn``)::

    compile_expression("step / 10 if step < 10 else 1.0", "step", field="schedule.lr_lambda")

Grammar (``ast`` nodes; anything else is an :class:`InvalidArgument` naming ``field``):
int / float / bool literals, the variable, ``math.pi e tau inf nan``; unary ``- + not``;
``+ - * / // % **``; ``and or``; comparisons ``== != < <= > >=`` (chained too); ``a if c else b``;
calls to ``min max abs float int round`` and the ``math`` functions listed in ``MATH_CALLS``.
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
exact (``+ - * /``, comparisons, ``floor``, ``sqrt``, ...) run in numpy; ``//`` and ``%`` use
numpy's float floor_divide / remainder, which implement CPython's float divmod. Functions that
go through libm (``**`` on floats, ``exp``, ``log``, trig, ...) are mapped element by element
with Python's own ``math`` function or ``**``, because numpy's SIMD versions differ from libm in
the last bit; there are at most ``MAX_LIBM_CALLS`` of them per expression, so the cost stays a
few Python calls per step (about 0.1-0.3 s per million steps each).

Errors Python would raise for some element (``ZeroDivisionError``, ``OverflowError`` from
``**``/``exp``/``int(inf)``, ``ValueError`` from ``math.log(0)``, a complex result of
``(-8) ** (1/3)``) become :class:`InvalidArgument` naming ``field`` and the first such value of the
variable. Infinities and NaN that Python itself produces (``1e308 * 10``, ``math.inf``) are kept.

Deliberate limits (Python would not fail, warmstep refuses, so that no request can hang):
every int (literal, variable value, intermediate result) must satisfy ``|v| < 2**53`` (so
``2 ** 60`` or ``math.floor(1e300)`` are refused; Python would make a big int); ``round`` takes
one argument; source at most ``MAX_SOURCE_CHARS`` characters, ``MAX_NODES`` expression nodes,
nesting depth ``MAX_DEPTH``. ``10 ** 10 ** 10`` is refused in microseconds (an int power is
computed with the exponent capped, never with unbounded Python ints). Branches are evaluated on
the subset of elements that take them (not both branches then ``np.where``): that is what makes
the lazy semantics exact. Over a range of int values (a block of steps) the bounds of the range
often decide a ``min``/``max`` or a comparison for every element at once
(:mod:`warmstep._expression_ranges`): ``min(1.0, (step + 1) / 1000)`` past step 999 is the
constant 1.0 and costs no pass over the block; only nodes that cannot raise are skipped that way.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from warmstep._expression_eval import (
    COMPARISONS,
    LIBM_CALLS,
    MATH_CALLS,
    MATH_CONSTANTS,
    MAX_INT,
    VECTOR_CALLS,
    Ctx,
    call_name,
    evaluate,
)
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

FloatArray = npt.NDArray[np.float64]
_BUILTINS = "min, max, abs, float, int, round, math.<function>"
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)

_REFUSED = {
    ast.Lambda: "lambda",
    ast.NamedExpr: "assignment expression (:=)",
    ast.JoinedStr: "f-string",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Subscript: "subscript",
    ast.Starred: "*args",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


# ----------------------------------------------------------------------------- validation


def compile_expression(source: str, variable: str, *, field: str) -> Expression:
    """Parse and validate ``source`` as an expression in ``variable``; errors name ``field``.

    The last few compiled expressions are remembered (an :class:`Expression` is immutable):
    a schedule is built afresh for each evaluation, and parsing and validating its lambda cost
    more than evaluating a short curve. A refused expression raises each time."""
    if not variable.isidentifier() or variable == "math":
        raise ValueError(f"bad expression variable {variable!r}")
    if not isinstance(source, str):
        raise InvalidArgument("the expression must be a string", field=field)
    return _compile(source, variable, field)


@functools.lru_cache(maxsize=256)
def _compile(source: str, variable: str, field: str) -> Expression:
    def refuse(message: str) -> InvalidArgument:
        return InvalidArgument(message, field=field)

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
        case ast.Attribute(value=ast.Name(id="math"), attr=attr) if attr in MATH_CONSTANTS:
            return 0
        case ast.Attribute(value=ast.Name(id="math"), attr=attr) if f"math.{attr}" in MATH_CALLS:
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
            if not all(type(op) in COMPARISONS for op in ops):
                raise refuse("only the comparisons == != < <= > >= are allowed")
            return sub(left, *comparators)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return sub(test, body, orelse)
        case ast.Call(func=func, args=args, keywords=keywords):
            name = call_name(func)
            arities = LIBM_CALLS.get(name) or VECTOR_CALLS.get(name)
            if arities is None:
                allowed = ", ".join(MATH_CALLS) if name.startswith("math.") else _BUILTINS
                raise refuse(f"call to {name!r} not allowed (allowed: {allowed})")
            if keywords or len(args) not in arities:
                raise refuse(f"{name}() takes {_arity_text(arities)} positional argument(s) here")
            return sub(*args) + (name in LIBM_CALLS)
        case ast.UnaryOp() | ast.BinOp():
            raise refuse(f"operator {type(node.op).__name__} is not allowed")
    what = _REFUSED.get(type(node), type(node).__name__)
    raise refuse(f"{what} is not allowed in an expression")


def _show(node: ast.expr) -> str:
    return ast.unparse(node)[:60]


def _arity_text(arities: tuple[int, ...]) -> str:
    return "at least 2" if len(arities) > 2 else " or ".join(map(str, arities))


class Expression:
    """A validated expression in one variable; call it on an array of the variable's values."""

    __slots__ = ("_constant", "_tree", "field", "source", "variable")

    def __init__(self, source: str, variable: str, field: str, tree: ast.expr) -> None:
        self.source, self.variable, self.field, self._tree = source, variable, field, tree
        self._constant = not any(
            isinstance(node, ast.Name) and node.id == variable for node in ast.walk(tree)
        )

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, {self.variable!r})"

    def __call__(self, values: npt.ArrayLike) -> FloatArray:
        """float64 array, same shape: ``float(f(v))`` per element (module docstring). An
        expression without the variable (MultiplicativeLR's ``0.95``) is evaluated once, at the
        first value, and comes back as that value repeated (a read-only view)."""
        arr = np.asarray(values)
        if self._constant and arr.size > 1:
            first = self(arr.reshape(-1)[:1])
            return np.broadcast_to(first.reshape(()), arr.shape)
        bounds = None
        if arr.dtype.kind in "iub":
            if arr.size:
                bounds = (float(arr.min()), float(arr.max()))
                if bounds[1] >= MAX_INT or bounds[0] <= -MAX_INT:
                    raise InvalidArgument(
                        f"{self.variable} out of range (|value| must be < 2**53)", field=self.field
                    )
        elif arr.dtype.kind != "f":
            raise TypeError(f"expression values must be ints or floats, not {arr.dtype}")
        var = arr.astype(np.float64).ravel()
        if var.size == 0:
            return var.reshape(arr.shape)
        ctx = Ctx(self.variable, self.field, var, arr.dtype.kind != "f", bounds)
        return evaluate(self._tree, ctx).reshape(arr.shape)

    @property
    def constant(self) -> bool:
        """True when the expression does not use its variable."""
        return self._constant

    def over_steps(self, first: int, stop: int) -> FloatArray:
        """``self(np.arange(first, stop))`` for int steps, without scanning them: the range's
        ends bound every value (and every sum, difference and product of the variable with
        constants), so int results need no check element by element."""
        if stop <= first:
            return np.empty(0, np.float64)
        if max(abs(first), abs(stop - 1)) >= MAX_INT:
            raise InvalidArgument(
                f"{self.variable} out of range (|value| must be < 2**53)", field=self.field
            )
        if self._constant and stop - first > 1:
            return np.broadcast_to(self.over_steps(first, first + 1).reshape(()), (stop - first,))
        bounds = (float(first), float(stop - 1))
        ctx = Ctx(self.variable, self.field, None, True, bounds, steps=(first, stop))
        return evaluate(self._tree, ctx)

    def scalar(self, value: float) -> float:
        """The expression at one value (an ``int`` is evaluated as a Python int)."""
        dtype = np.int64 if isinstance(value, int) else np.float64
        return float(self(np.asarray([value], dtype=dtype))[0])
