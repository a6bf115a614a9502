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


def test_engine_rows_for_chosen_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    chosen = ["fvcore:StepParamScheduler", "torch:StepLR"]
    assert main(["engine", "--tiny", "--kinds", ",".join(chosen)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    named = [row.split("|")[1].strip() for row in rows if not row.startswith("| kind ")]
    assert named == ["StepParamScheduler", "StepLR"] * 2, out  # the long and the short table
    assert "closed-form kinds with a reference: 2," in out
    assert "writing 2,000 float64 alone" in out and "no curve costs less" in out


def test_engine_refuses_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["engine", "--tiny", "--kinds", "torch:StepLR,torch:NoSuchLR"])
    assert exited.value.code == 2
    assert "unknown kind torch:NoSuchLR" in capsys.readouterr().err
