"""Every kind in the catalog, fed plausible and hostile arguments: the engine answers a finite
curve of the right shape or an InvalidArgument naming a field, never another exception (which the
service would turn into a 500) and never a numpy warning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, Kind, all_kinds, resolve_spec

HOSTILE: list[Any] = [-1, 0, 1, 0.5, 1e308, -1e308, 10**12, "x", [], [3, 1, 1], None, {}, True]
STEPS = 40
CONTEXT = EvalContext(STEPS, np.array([0.1, 0.02]), np.linspace(1.0, 0.5, STEPS))


def plausible(schema: dict[str, Any]) -> Any:
    kinds = [o.get("type") for o in schema.get("anyOf", [schema])]
    if "integer" in kinds:
        return 10
    if "number" in kinds:
        return 0.5
    if "array" in kinds:
        return [2, 5]
    if "string" in kinds:
        enum = schema.get("enum") or next(
            (o.get("enum") for o in schema.get("anyOf", []) if o.get("enum")), None
        )
        return enum[0] if enum else "1.0"
    if "object" in kinds:
        return {"type": "ExponentialLR", "gamma": 0.9}
    return 1


def base_spec(kind: Kind) -> dict[str, Any]:
    schema = kind.params.model_json_schema()
    spec: dict[str, Any] = {"type": kind.name, "library": kind.library.value}
    for name in schema.get("required", []):
        spec[name] = plausible(schema["properties"][name])
    return spec


def answer(spec: dict[str, Any]) -> None:
    try:
        curve = resolve_spec(spec).evaluate(CONTEXT)
    except InvalidArgument as exc:
        assert exc.field and exc.field.startswith(("schedule", "metrics", "base_lr")), exc
        assert exc.message
        return
    assert curve.lr.shape[1] == STEPS
    assert curve.lr.dtype == np.float64


KINDS = all_kinds()


@pytest.mark.parametrize("kind", KINDS, ids=[f"{k.library.value}.{k.name}" for k in KINDS])
def test_kind_answers_a_curve_or_a_clear_error(kind: Kind) -> None:
    spec = base_spec(kind)
    answer(spec)
    for name in kind.params.model_json_schema().get("properties", {}):
        for value in HOSTILE:
            answer({**spec, name: value})


def test_catalog_is_large_and_every_kind_has_a_doc() -> None:
    assert len(KINDS) >= 80
    assert all(kind.doc.strip() for kind in KINDS)
