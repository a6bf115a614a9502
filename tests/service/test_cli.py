"""The real ``warmstep`` CLI (a subprocess per command) against a real dev stack, over REST and
gRPC: kinds, eval (table, CSV, PNG), plan, submit --follow, jobs, follow, cancel, artifacts and
export --tensorboard (read back record by record)."""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.embedded_redis import free_port
from tests.processes import ROOT, descendants, spawn, wait_for

pytestmark = pytest.mark.timeout(240)

IRIS = {
    "model": {"name": "mlp"},
    "data": {"name": "iris"},
    "optimizer": {"type": "AdamW", "lr": 0.01},
    "schedule": {"type": "get_cosine_schedule_with_warmup"},
    "batch_size": 16,
    "epochs": 2,
    "warmup_ratio": 0.1,
    "eval_every_steps": 5,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A dev stack; answers the environment the CLI needs to reach it."""
    tmp = tmp_path_factory.mktemp("cli")
    env = {
        k: v for k, v in os.environ.items() if not (k.startswith("WARMSTEP_") or k == "REDIS_URL")
    }
    http_port, grpc_port = free_port(), free_port()
    env |= {
        "WARMSTEP_DATA_DIR": str(tmp / "data"),
        "WARMSTEP_HTTP_PORT": str(http_port),
        "WARMSTEP_GRPC_PORT": str(grpc_port),
        "WARMSTEP_LOG_LEVEL": "warning",
    }
    dev = spawn(["dev"], env, tmp / "dev.log")
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/readyz").json()["workers"] == 1 or None, "a worker")
        yield {
            **env,
            "WARMSTEP_URL": url,
            "WARMSTEP_GRPC_TARGET": f"127.0.0.1:{grpc_port}",
            "COLUMNS": "200",
        }
    finally:
        family = descendants(dev.pid)
        dev.terminate()
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
        for pid in family:
            subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_kinds_and_eval_table(stack: dict[str, str], transport: str) -> None:
    kinds = cli(stack, "kinds", "--library", "torch", "--transport", transport)
    assert kinds.returncode == 0, kinds.stderr
    assert "CosineAnnealingLR" in kinds.stdout and "get_cosine" not in kinds.stdout
    spec = '{"type": "StepLR", "step_size": 2, "gamma": 0.5}'
    shown = cli(
        stack,
        "eval",
        spec,
        "--steps",
        "5",
        "--base-lr",
        "1",
        "--rows",
        "0",
        "--transport",
        transport,
    )
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.strip().splitlines()]
    assert rows == [
        ["step", "lr_0"],
        ["0", "1"],
        ["1", "1"],
        ["2", "0.5"],
        ["3", "0.5"],
        ["4", "0.25"],
    ]


def test_eval_csv_plot_and_field_errors(stack: dict[str, str], tmp_path: Path) -> None:
    request = {
        "schedule": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 1000},
        "steps": 1000,
        "base_lr": [0.1, 0.2],
    }
    (tmp_path / "req.json").write_text(json.dumps(request))
    out = cli(
        stack,
        "eval",
        str(tmp_path / "req.json"),
        "--csv",
        str(tmp_path / "c.csv"),
        "--plot",
        str(tmp_path / "c.png"),
    )
    assert out.returncode == 0, out.stderr
    table = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text())))
    expected = httpx.post(f"{stack['WARMSTEP_URL']}/v1/schedules/evaluate", json=request).json()
    assert len(table) == 1000
    assert [float(r["lr_1"]) for r in table] == expected["lr"][1]  # repr round-trips exactly
    assert [float(r["momentum_0"]) for r in table] == expected["momentum"][0]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bad = cli(stack, "eval", '{"type": "CosineAnnealingLR"}', "--steps", "10", "--base-lr", "1")
    assert bad.returncode == 2 and "schedule.T_max" in bad.stderr
    bad_grpc = cli(
        stack,
        "eval",
        '{"type": "CosineAnnealingLR"}',
        "--steps",
        "10",
        "--base-lr",
        "1",
        "--transport",
        "grpc",
    )
    assert bad_grpc.returncode == 2 and "schedule.T_max" in bad_grpc.stderr


def test_eval_of_a_long_curve_over_grpc(stack: dict[str, str]) -> None:
    """2,000,000 float64 values (16 MB) pass gRPC's default 4 MiB message limit: the CLI's
    channel allows 64 MiB, as the server and the client package do."""
    spec = '{"type": "CosineAnnealingLR", "T_max": 1500000, "eta_min": 0.001}'
    args = ("eval", spec, "--steps", "2000000", "--base-lr", "0.1", "--rows", "5")
    over_grpc = cli(stack, *args, "--transport", "grpc")
    assert over_grpc.returncode == 0, over_grpc.stderr
    over_rest = cli(stack, *args)
    assert over_rest.returncode == 0, over_rest.stderr
    rows = [line.split() for line in over_grpc.stdout.strip().splitlines()]
    assert len(rows) == 6 and rows[-1][0] == "1999999", "every step came back"
    assert over_grpc.stdout == over_rest.stdout


def test_plan(stack: dict[str, str]) -> None:
    out = cli(
        stack,
        "plan",
        "--examples",
        "1000",
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--accumulation",
        "2",
    )
    assert out.returncode == 0, out.stderr
    values = dict(line.split(None, 1) for line in out.stdout.splitlines()[1:] if line.strip())
    assert values["updates_per_epoch"].strip() == "16" and values["total_updates"].strip() == "48"


def _tfrecords(path: Path) -> Iterator[bytes]:
    raw = path.read_bytes()
    offset = 0
    while offset < len(raw):
        (length,) = struct.unpack("<Q", raw[offset : offset + 8])
        yield raw[offset + 12 : offset + 12 + length]
        offset += 12 + length + 4


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_submit_follow_then_jobs_artifacts_export(
    stack: dict[str, str], tmp_path: Path, transport: str
) -> None:
    spec = {**IRIS, "name": f"cli-{transport}"}
    out = cli(stack, "submit", json.dumps(spec), "--follow", "--transport", transport)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.splitlines()[0]
    assert f"job {job_id} succeeded: 16/16 steps" in out.stdout
    assert "eval after step 4" in out.stderr and "16/16" in out.stderr

    listed = cli(stack, "jobs", "--status", "succeeded", "--transport", transport)
    assert any(
        line.startswith(job_id) and f"cli-{transport}" in line
        for line in listed.stdout.splitlines()
    )
    arts = cli(stack, "artifacts", job_id)
    assert arts.returncode == 0 and "model" in arts.stdout
    got = cli(stack, "artifacts", job_id, "--download", "model", "--out", str(tmp_path / "m.pt"))
    assert got.returncode == 0 and (tmp_path / "m.pt").stat().st_size > 100

    exported = cli(
        stack, "export", job_id, "--tensorboard", str(tmp_path / "tb"), "--transport", transport
    )
    assert exported.returncode == 0, exported.stderr
    from tensorboardX.proto import event_pb2

    (event_file,) = (tmp_path / "tb" / f"cli-{transport}-{job_id}").glob("events.out.tfevents*")
    scalars: dict[str, list[tuple[int, float]]] = {}
    for record in _tfrecords(event_file):
        event = event_pb2.Event.FromString(record)
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    history = httpx.get(f"{stack['WARMSTEP_URL']}/v1/jobs/{job_id}/events")
    lrs = [
        json.loads(line[5:])["data"]["lr"][0]
        for line in history.text.splitlines()
        if line.startswith("data:") and '"type":"step"' in line
    ]
    assert [s for s, _ in scalars["train/lr"]] == list(range(1, 17))
    assert [v for _, v in scalars["train/lr"]] == pytest.approx(lrs, rel=1e-6)  # float32
    assert len(scalars["train/loss"]) == 16 and len(scalars["eval/val_loss"]) == 4


def test_failed_job_exits_1_and_cancelled_exits_3(stack: dict[str, str]) -> None:
    failing = {**IRIS, "max_runtime_s": 1e-9}
    out = cli(stack, "submit", json.dumps(failing), "--follow")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "failed" in out.stdout

    long = {**IRIS, "epochs": 5000, "eval_every_steps": None}
    job_id = cli(stack, "submit", json.dumps(long)).stdout.strip()
    cancelled = cli(stack, "cancel", job_id, "--transport", "grpc")
    assert cancelled.returncode == 0 and job_id in cancelled.stdout
    follow = cli(stack, "follow", job_id)
    assert follow.returncode == 3 and "cancelled" in follow.stdout


def test_metrics_show_the_live_worker(stack: dict[str, str]) -> None:
    text = httpx.get(f"{stack['WARMSTEP_URL']}/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    workers = sum(v for (name, _), v in samples.items() if name == "warmstep_workers")
    assert workers == 1
    (age,) = [
        v for (name, _), v in samples.items() if name == "warmstep_worker_heartbeat_age_seconds"
    ]
    assert 0 <= age < 10  # the heartbeat TTL: an older heartbeat would be a dead worker
