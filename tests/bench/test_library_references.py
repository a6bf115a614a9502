"""The benchmark's library references (bench/library_references.py) against the engine.

For every kind of timm, fvcore, keras, optax and pytorch_transformers, the values the library's own
loop reads for the benchmark's spec must be the engine's curve for that spec: the parity fixtures
(tests/fixtures/schedules) already hold the engine to each library, so a difference here means the
spec -> library mapping of the reference is wrong, and the benchmark would time something else.
A library that is not installed skips its kinds (``make install-test`` installs them all)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bench import engine, library_references
from bench._common import TINY
from bench.specs import spec_for
from warmstep.schedules import EvalContext, Kind, all_kinds, resolve_spec

# The bench's spec at 500 steps: every phase of every spec (milestones at n/10 .. 8n/10) and a
# score of timm plateau decays fall inside. Two groups, so base lrs are scaled (or not) per group.
STEPS = 500
BASE_LRS = np.array([0.1, 0.03])
FLOAT32_LIBRARIES = ("keras", "optax")
KINDS = [k for k in all_kinds() if k.library.value in library_references.REFERENCES]


def _kind_id(kind: Kind) -> str:
    return f"{kind.library.value}:{kind.name}"


@pytest.fixture(scope="module", autouse=True)
def _stop_children() -> Iterator[None]:
    yield
    library_references.stop_children()


def _needs(library: str) -> None:
    if not library_references.available(library):
        pytest.skip(f"{library} is not importable here (make install-test installs it)")


def test_every_kind_of_the_referenced_libraries_is_covered() -> None:
    libraries = {k.library.value for k in KINDS}
    assert libraries == {"timm", "fvcore", "keras", "optax", "pytorch_transformers"}
    assert len(KINDS) == 41


@pytest.mark.parametrize("kind", KINDS, ids=_kind_id)
def test_reference_values_are_the_engine_curve(kind: Kind) -> None:
    library = kind.library.value
    _needs(library)
    spec = spec_for(library, kind.name, STEPS)
    metrics = engine.metric_series(STEPS) if kind.takes_metrics else None
    expected = resolve_spec(spec).evaluate(EvalContext(STEPS, BASE_LRS, metrics)).lr
    values = library_references.reference_values(kind, spec, STEPS, BASE_LRS, metrics)
    assert values is not None
    assert values.shape == expected.shape == (len(BASE_LRS), STEPS)
    if library not in FLOAT32_LIBRARIES:
        np.testing.assert_array_equal(values, expected)  # float64 libraries: bit for bit
        return
    # The library computes in float32 and the loop hands the optimizer that float32 value.
    assert np.array_equal(values, values.astype(np.float32).astype(np.float64))
    if "cos" not in json.dumps(spec).lower():
        np.testing.assert_array_equal(values, expected)
        return
    # The engine's float32 cos is correctly rounded, torch's and XLA's are within one ulp: one ulp
    # of cos moves a value by at most 2**-24 of the curve's scale (as in the parity tests).
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(values, expected, rtol=2.0**-23, atol=2.0**-23 * scale)
    assert np.mean(values == expected) >= 0.9


@pytest.mark.parametrize("library", sorted(library_references.REFERENCES))
def test_the_engine_benchmark_times_each_library(library: str) -> None:
    _needs(library)
    kind = next(k for k in KINDS if k.library.value == library)
    seconds = engine.reference_seconds(kind, spec_for(library, kind.name, 1_000), 20)
    assert seconds is not None and seconds > 0


def test_a_capped_reference_is_scaled_to_the_curve_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library whose run is capped below the size's reference steps is measured at its cap and
    scaled by n / cap; its row and the notes say both. (Each reference run "takes" 1 s here.)"""
    kinds = [next(k for k in all_kinds() if k.library.value == lib) for lib in ("torch", "keras")]
    capped = dataclasses.replace(library_references.REFERENCES["keras"], max_steps=50)
    monkeypatch.setitem(library_references.REFERENCES, "keras", capped)
    monkeypatch.setattr(engine, "all_kinds", lambda: kinds)
    measured: dict[str, list[int]] = {}

    def one_second(kind: Kind, spec: dict[str, Any], steps: int, repeats: int) -> float:
        measured.setdefault(kind.library.value, []).append(steps)
        return 1.0

    monkeypatch.setattr(engine, "best_reference_seconds", one_second)
    table = engine.run(TINY)[0]
    n, ref_n = TINY.engine_steps, TINY.reference_steps
    assert measured["torch"][0] == ref_n and measured["keras"][0] == 50
    rows = {row[1]: row for row in table.rows}
    assert float(rows["torch"][3]) == pytest.approx(1e3 * n / ref_n, rel=1e-2)
    assert float(rows["keras"][3]) == pytest.approx(1e3 * n / 50, rel=1e-2)
    assert "ref " not in rows["torch"][5]
    assert f"ref 50 steps x{n / 50:g}" in rows["keras"][5]
    notes = " ".join(table.notes)
    if not library_references.available("keras"):
        assert "keras: not installed in this venv" in notes
    else:
        assert f"keras: 50 steps of float(schedule(i)), scaled x{n / 50:g}" in notes
