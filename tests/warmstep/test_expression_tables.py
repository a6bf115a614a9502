"""The evaluator's table lookup (one Python call per distinct whole-number argument) against
Python evaluating the expression element by element, errors included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warmstep import _expression_eval
from warmstep.errors import InvalidArgument
from warmstep.expressions import compile_expression

EXPRESSIONS = [
    "0.97 ** step",
    "0.5 ** (step // 1000)",
    "1.0001 ** (step - 3000)",
    "math.exp(-(step // 100))",
    "math.cos(step % 50) * math.pow(0.9, step // 7)",
    "(-0.5) ** (step % 7 - 3)",
    "0.0 ** (step % 5 - 2)",
    "10.0 ** (step % 400)",
    "math.log(step)",
    "math.sin(-(step % 3) * 0.0) + step ** 0.5",
]


def _python(source: str, steps: list[int]) -> np.ndarray | str:
    code = compile(source, "<expr>", "eval")
    out = []
    for step in steps:
        try:
            out.append(float(eval(code, {"math": math}, {"step": step})))
        except (ArithmeticError, ValueError):
            return "error"
    return np.asarray(out)


@pytest.mark.parametrize("source", EXPRESSIONS)
@pytest.mark.parametrize("n", [5000, 9000])
def test_tables_match_python(source: str, n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    steps = np.arange(n)
    expected = _python(source, steps.tolist())
    fn = compile_expression(source, "step", field="f")
    if isinstance(expected, str):
        with pytest.raises(InvalidArgument):
            fn(steps)
        return
    np.testing.assert_array_equal(fn(steps), expected)
    with monkeypatch.context() as patch:  # the elementwise path gives the same floats
        patch.setattr(_expression_eval, "_TABLE_MIN", 10**9)
        np.testing.assert_array_equal(fn(steps), expected)


def test_table_error_names_the_first_failing_step() -> None:
    fn = compile_expression("0.0 ** (step - 4500)", "step", field="f")
    with pytest.raises(InvalidArgument, match="step=0"):
        fn(np.arange(5000))
