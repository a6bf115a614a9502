"""The catalog of kinds and the one way a user's spec becomes a :class:`ResolvedSchedule`.

Adapter modules call :func:`register` at import time; ``warmstep.schedules`` imports them all.
A spec is ``{"type": <library name>, "library": <optional>, **library keyword arguments}``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import PlainValidator, ValidationError, ValidationInfo, WithJsonSchema

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Kind, Library, ResolvedSchedule

_KINDS: dict[tuple[str, Library], Kind] = {}
_BY_NAME: dict[str, list[Kind]] = {}  # every library's kind of each name

MAX_NESTING_DEPTH = 8


def register(kind: Kind) -> Kind:
    key = (kind.name, kind.library)
    if key in _KINDS:
        raise RuntimeError(f"kind {kind.name!r} of {kind.library} registered twice")
    _KINDS[key] = kind
    _BY_NAME.setdefault(kind.name, []).append(kind)
    return kind


def _ensure_loaded() -> None:
    from warmstep.schedules.adapters import load_all

    load_all()


def all_kinds() -> list[Kind]:
    _ensure_loaded()
    return sorted(_KINDS.values(), key=lambda k: (k.library.value, k.name))


def find_kind(name: str, library: str | None, path: str) -> Kind:
    _ensure_loaded()
    matches = _BY_NAME.get(name, [])
    if library is not None:
        try:
            lib = Library(library)
        except ValueError:
            choices = ", ".join(sorted(v.value for v in Library))
            raise InvalidArgument(
                f"unknown library {library!r}; one of {choices}", field=f"{path}.library"
            ) from None
        matches = [k for k in matches if k.library is lib]
    if not matches:
        close = difflib.get_close_matches(name, sorted({n for n, _ in _KINDS}), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        where = f" in library {library!r}" if library else ""
        raise InvalidArgument(f"unknown schedule type {name!r}{where}{hint}", field=f"{path}.type")
    if len(matches) > 1:
        libs = ", ".join(sorted(k.library.value for k in matches))
        raise InvalidArgument(
            f"{name!r} exists in several libraries ({libs}); set 'library'",
            field=f"{path}.library",
        )
    return matches[0]


def resolve_spec(
    spec: Mapping[str, Any], path: str = "schedule", depth: int = 0
) -> ResolvedSchedule:
    """Validate a spec once: find its kind and parse its arguments with the kind's model.

    Nested specs (``SequentialLR.schedulers`` ...) are resolved by the composite kind's own
    parameter validation, which calls back into this function with a deeper ``path``.
    """
    if depth > MAX_NESTING_DEPTH:
        raise InvalidArgument(f"schedules nest deeper than {MAX_NESTING_DEPTH}", field=path)
    if not isinstance(spec, Mapping):
        raise InvalidArgument("a schedule spec is an object with a 'type'", field=path)
    name = spec.get("type")
    if not isinstance(name, str):
        raise InvalidArgument("missing schedule 'type'", field=f"{path}.type")
    library = spec.get("library")
    if library is not None and not isinstance(library, str):
        raise InvalidArgument("'library' is a string", field=f"{path}.library")
    kind = find_kind(name, library, path)
    arguments = {k: v for k, v in spec.items() if k not in ("type", "library")}
    try:
        params = kind.params.model_validate(arguments, context={"path": path, "depth": depth})
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc, path) from None
    return ResolvedSchedule(kind=kind, params=params, path=path)


def _resolve_nested_list(value: Any, info: ValidationInfo) -> tuple[ResolvedSchedule, ...]:
    context = info.context or {}
    path = f"{context.get('path', 'schedule')}.{info.field_name}"
    depth = int(context.get("depth", 0)) + 1
    if isinstance(value, Mapping) or not isinstance(value, list | tuple):
        raise InvalidArgument("a list of schedule specs", field=path)
    return tuple(resolve_spec(item, f"{path}[{i}]", depth) for i, item in enumerate(value))


def _resolve_nested_one(value: Any, info: ValidationInfo) -> ResolvedSchedule:
    context = info.context or {}
    path = f"{context.get('path', 'schedule')}.{info.field_name}"
    return resolve_spec(value, path, int(context.get("depth", 0)) + 1)


_SPEC_SCHEMA = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "library": {"type": "string"}},
    "additionalProperties": True,
    "description": "a nested schedule spec",
}

# Field types for composite kinds: the user writes specs, the kind receives resolved schedules
# (already validated, with error paths such as ``schedule.schedulers[1].T_max``).
NestedSchedules = Annotated[
    tuple[ResolvedSchedule, ...],
    PlainValidator(_resolve_nested_list),
    WithJsonSchema({"type": "array", "items": _SPEC_SCHEMA}),
]
NestedSchedule = Annotated[
    ResolvedSchedule, PlainValidator(_resolve_nested_one), WithJsonSchema(_SPEC_SCHEMA)
]
