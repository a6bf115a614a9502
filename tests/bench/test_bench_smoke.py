"""Each benchmark runs once at tiny size and prints its table (no timing is asserted)."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS, main


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_and_prints_its_table(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--tiny"]) == 0
    out = capsys.readouterr().out
    assert "machine:" in out
    assert out.count("\n## ") >= 1, out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 3, out  # a header and at least two rows of figures
    if name == "engine":  # the long curves and the short ones a dashboard asks for
        assert out.count("\n## Engine: ") == 2 and "(a dashboard's query)" in out, out
