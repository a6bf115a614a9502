"""What an expression's values are known to be over a range of its variable, before evaluating.

Interval arithmetic over the expression tree: from the variable's lowest and highest value (a
block of steps is ``first .. stop - 1``), the lowest and highest value of every node built from
constants, the variable, ``+ - *``, unary minus, ``/`` by a range without zero,
``float``, ``min`` and ``max``. Each of these is monotonic in each argument over the ranges
allowed, and rounding to float64 is monotonic, so Python's own results stay inside the bounds
computed from the corners. A node gets bounds only where it cannot raise (no division by zero, no
int beyond 2**53, nothing infinite or NaN), so a node with bounds may be skipped safely.

The evaluator uses this to decide, for a whole block at once, which argument ``min`` / ``max``
picks and which way a comparison goes: ``min(1.0, (step + 1) / 1000)`` over steps 5,000-9,999
is the constant 1.0 there, and ``step / w if step < w else 1.0`` past the warmup is 1.0 without
masks, subsets or a merge. Example: ``static_bounds(parse("(step + 1) / 4"), (0.0, 7.0))`` is
``(0.25, 2.0)``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

__all__ = [
    "MATH_CONSTANTS",
    "MAX_INT",
    "Bounds",
    "call_name",
    "decided_choice",
    "decided_truth",
    "interval",
    "static_bounds",
]

MAX_INT = 2**53  # exclusive bound on |int| values: exactly representable in float64
MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}
Bounds = tuple[float, float]


def call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return ast.unparse(func)[:60]


def interval(op: ast.operator, a: Bounds | None, b: Bounds | None) -> Bounds | None:
    """Bounds of ``a op b`` for ``+ - * /`` (the exact results' bounds, rounded: rounding is
    monotonic, so the rounded results stay inside); None where unknown, where ``b`` may be zero
    for ``/``, or where a bound is not finite."""
    if a is None or b is None:
        return None
    if isinstance(op, ast.Add):
        corners = [a[0] + b[0], a[1] + b[1]]
    elif isinstance(op, ast.Sub):
        corners = [a[0] - b[1], a[1] - b[0]]
    elif isinstance(op, ast.Mult):
        corners = [x * y for x in a for y in b]
    elif isinstance(op, ast.Div) and (b[0] > 0.0 or b[1] < 0.0):
        corners = [x / y for x in a for y in b]  # one sign of divisor: monotonic in x and y
    else:
        return None
    low, high = min(corners), max(corners)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def static_bounds(node: ast.expr, variable: Bounds | None) -> Bounds | None:
    """Bounds of ``node``'s values when the variable stays within ``variable``, for a node that
    cannot raise there; None where not known that way. ``node`` is a validated expression."""
    bounds: Bounds | None
    match node:
        case ast.Constant(value=bool() | int() | float() as value):
            bounds = (float(value), float(value))
        case ast.Name():
            bounds = variable
        case ast.Attribute(attr=attr):
            bounds = (MATH_CONSTANTS[attr], MATH_CONSTANTS[attr])
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            inner = static_bounds(operand, variable)
            bounds = None if inner is None else (-inner[1], -inner[0])
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            bounds = static_bounds(operand, variable)
        case ast.BinOp(op=op, left=left, right=right):
            bounds = interval(op, static_bounds(left, variable), static_bounds(right, variable))
        case ast.Call(func=func, args=args) if call_name(func) in ("min", "max", "float"):
            parts = [static_bounds(arg, variable) for arg in args]
            known = [p for p in parts if p is not None]
            if len(known) < len(parts):
                return None
            pick = min if call_name(func) == "min" else max
            bounds = (pick(p[0] for p in known), pick(p[1] for p in known))
        case _:
            return None
    if bounds is None or not -MAX_INT < bounds[0] <= bounds[1] < MAX_INT:
        return None  # unknown, not finite, NaN, or an int Python would make big
    return bounds


def decided_choice(name: str, args: list[ast.expr], variable: Bounds | None) -> int | None:
    """The index of the argument ``min`` or ``max`` returns for every element, when the bounds
    decide it and every argument can be skipped safely; None otherwise. Python keeps the first
    of equals: a challenger replaces the one kept only where strictly smaller (larger)."""
    if variable is None:
        return None
    parts = [static_bounds(arg, variable) for arg in args]
    if parts[0] is None:
        return None
    kept = 0
    for index, challenger in enumerate(parts[1:], start=1):
        held = parts[kept]
        if challenger is None or held is None:
            return None
        always, never = (
            (challenger[1] < held[0], challenger[0] >= held[1])
            if name == "min"
            else (challenger[0] > held[1], challenger[1] <= held[0])
        )
        if always:
            kept = index
        elif not never:
            return None
    return kept


_Test = Callable[[Bounds, Bounds], bool]
# comparison -> (holds for every pair of values in the bounds, holds for none)
_HOLDS: dict[type[ast.cmpop], tuple[_Test, _Test]] = {
    ast.Lt: (lambda a, b: a[1] < b[0], lambda a, b: a[0] >= b[1]),
    ast.LtE: (lambda a, b: a[1] <= b[0], lambda a, b: a[0] > b[1]),
    ast.Gt: (lambda a, b: a[0] > b[1], lambda a, b: a[1] <= b[0]),
    ast.GtE: (lambda a, b: a[0] >= b[1], lambda a, b: a[1] < b[0]),
    ast.Eq: (
        lambda a, b: a[0] == a[1] == b[0] == b[1],
        lambda a, b: a[1] < b[0] or b[1] < a[0],
    ),
    ast.NotEq: (
        lambda a, b: a[1] < b[0] or b[1] < a[0],
        lambda a, b: a[0] == a[1] == b[0] == b[1],
    ),
}


def decided_truth(node: ast.expr, variable: Bounds | None) -> bool | None:
    """Whether ``node`` is true for every element or false for every element, when its bounds
    decide it and it cannot raise (a comparison, chained too, or a value whose bounds exclude
    zero or are zero); None otherwise."""
    if variable is None:
        return None
    if isinstance(node, ast.Compare):
        operands = [static_bounds(n, variable) for n in (node.left, *node.comparators)]
        decisions = []
        for op, a, b in zip(node.ops, operands, operands[1:], strict=False):
            if a is None or b is None:
                return None
            always, never = _HOLDS[type(op)]
            decisions.append(True if always(a, b) else False if never(a, b) else None)
        for decision in decisions:
            if decision is not True:
                return decision  # False: the chain stops there, for every element
        return True
    bounds = static_bounds(node, variable)
    if bounds is None:
        return None
    if bounds[0] > 0.0 or bounds[1] < 0.0:
        return True
    return False if bounds == (0.0, 0.0) else None
