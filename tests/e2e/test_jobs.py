"""Training jobs end to end: a real front end, a real worker process, a real Redis."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from tests.processes import Stack
from warmstep_client import WarmstepClient, WarmstepError

DIGITS_MLP: dict[str, Any] = {
    "model": {"name": "mlp", "hidden_sizes": [32]},
    "data": {"name": "digits"},
    "optimizer": {"type": "SGD", "lr": 0.05},
    "batch_size": 32,
}


@pytest.fixture
def client(stack: Stack) -> Iterator[WarmstepClient]:
    with WarmstepClient(stack.base_url, timeout_s=60) as c:
        yield c


def run(client: WarmstepClient, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    job = client.submit({**spec, "labels": {"test": uuid.uuid4().hex[:8]}})
    final = client.wait(job["id"])
    return final, client.metrics(job["id"])


def standing(history: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [r for r in history["steps"] if r["superseded_by"] is None]
    assert [r["step"] for r in rows] == list(range(len(rows)))
    return rows


def weights(client: WarmstepClient, job_id: str) -> dict[str, torch.Tensor]:
    state = torch.load(io.BytesIO(client.artifact(job_id)), weights_only=True)
    return dict(state)


def test_streamed_lr_per_update_equals_evaluate_for_two_groups(client: WarmstepClient) -> None:
    spec = {
        **DIGITS_MLP,
        "optimizer": {"type": "SGD", "lr": 0.1, "groups": [{"params": ["bias"], "lr": 0.01}]},
        "schedule": {"type": "get_cosine_schedule_with_warmup"},
        "epochs": 2,
        "warmup_ratio": 0.1,
    }
    final, history = run(client, spec)
    assert final["status"] == "succeeded", final["error"]
    totals = final["totals"]
    assert totals["warmup_steps"] == -(-totals["total_updates"] // 10)
    rows = standing(history)
    assert len(rows) == totals["total_updates"]
    expected = client.evaluate(
        {
            "type": "get_cosine_schedule_with_warmup",
            "num_warmup_steps": totals["warmup_steps"],
            "num_training_steps": totals["total_updates"],
        },
        steps=totals["total_updates"],
        base_lr=[0.1, 0.01],
    )
    streamed = np.array([r["lr"] for r in rows]).T
    np.testing.assert_array_equal(streamed, expected.lr)


def test_streamed_lr_and_momentum_of_onecycle_equal_evaluate(client: WarmstepClient) -> None:
    schedule = {"type": "OneCycleLR", "max_lr": 0.01, "total_steps": 40}
    spec = {
        **DIGITS_MLP,
        "optimizer": {"type": "AdamW", "lr": 0.001},
        "schedule": schedule,
        "max_steps": 40,
    }
    final, history = run(client, spec)
    assert final["status"] == "succeeded", final["error"]
    rows = standing(history)
    expected = client.evaluate(schedule, steps=40, base_lr=0.001)
    assert expected.momentum is not None
    np.testing.assert_array_equal(np.array([r["lr"] for r in rows]).T, expected.lr)
    np.testing.assert_array_equal(np.array([r["momentum"] for r in rows]).T, expected.momentum)


def test_streamed_lr_of_a_per_epoch_schedule_holds_through_each_epoch(
    client: WarmstepClient,
) -> None:
    schedule = {"type": "StepLR", "step_size": 1, "gamma": 0.5}
    spec = {
        **DIGITS_MLP,
        "schedule": schedule,
        "scheduler_interval": "epoch",
        "epochs": 3,
        "batch_size": 256,
    }
    final, history = run(client, spec)
    assert final["status"] == "succeeded", final["error"]
    per_epoch = final["totals"]["updates_per_epoch"]
    expected = client.evaluate(schedule, steps=3, base_lr=0.05).lr[0]
    lrs = [r["lr"][0] for r in standing(history)]
    assert lrs == [float(v) for v in np.repeat(expected, per_epoch)]


def test_accumulation_through_the_worker_equals_one_big_batch(client: WarmstepClient) -> None:
    common = {**DIGITS_MLP, "max_steps": 6, "seed": 3, "data": {"name": "digits"}}
    big, _ = run(client, {**common, "batch_size": 64})
    small, _ = run(client, {**common, "batch_size": 16, "gradient_accumulation_steps": 4})
    assert big["status"] == small["status"] == "succeeded"
    a, b = weights(client, big["id"]), weights(client, small["id"])
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert not torch.equal(a[next(iter(a))], weights(client, big["id"])[next(iter(a))] + 1)


def test_same_job_twice_gives_the_same_loss_curve(client: WarmstepClient) -> None:
    spec = {**DIGITS_MLP, "max_steps": 15, "seed": 11, "max_grad_norm": 1.0}
    first, one = run(client, spec)
    second, two = run(client, spec)
    assert first["id"] != second["id"]
    assert [r["loss"] for r in standing(one)] == [r["loss"] for r in standing(two)]


def test_bf16_autocast_job_runs_on_cpu(client: WarmstepClient) -> None:
    final, history = run(client, {**DIGITS_MLP, "max_steps": 5, "precision": "bf16"})
    assert final["status"] == "succeeded", final["error"]
    assert all(np.isfinite(r["loss"]) for r in standing(history))


def test_divergent_job_reports_non_finite_loss_and_fails(client: WarmstepClient) -> None:
    spec = {**DIGITS_MLP, "optimizer": {"type": "SGD", "lr": 1e12}, "max_steps": 50}
    final, history = run(client, spec)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "non_finite"
    assert history["steps"][-1]["nonfinite"] is True


def test_cancel_stops_a_running_job_and_the_worker_takes_the_next(client: WarmstepClient) -> None:
    job = client.submit({**DIGITS_MLP, "max_steps": 1_000_000, "batch_size": 4})
    for event in client.follow(job["id"]):
        if event["type"] == "step":
            break
    client.cancel(job["id"])
    final = client.wait(job["id"])
    assert final["status"] == "cancelled"
    assert final["error"]["code"] == "cancelled"
    following, _ = run(client, {**DIGITS_MLP, "max_steps": 2})
    assert following["status"] == "succeeded"


def test_cancel_of_a_finished_job_is_refused(client: WarmstepClient) -> None:
    final, _ = run(client, {**DIGITS_MLP, "max_steps": 1})
    with pytest.raises(WarmstepError) as refused:
        client.cancel(final["id"])
    assert refused.value.status == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": {"name": "resnet9000"}}, "model.name"),
        ({"optimizer": {"type": "Adamm", "lr": 0.1}}, "optimizer.type"),
        ({"optimizer": {"type": "SGD", "lr": 0.1, "momentom": 0.9}}, "optimizer.momentom"),
        ({"model": {"name": "mlp", "hidden_size": 3}}, "model.hidden_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"schedule": {"type": "CosineAnnealingLRR", "T_max": 3}}, "schedule.type"),
        ({"schedule": {"type": "StepLR"}}, "schedule.step_size"),
        (
            {"schedule": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 3}},
            "schedule.total_steps",
        ),
    ],
)
def test_bad_specs_are_refused_at_submit_naming_the_field(
    client: WarmstepClient, change: dict[str, Any], field: str
) -> None:
    label = uuid.uuid4().hex[:8]
    spec = {**DIGITS_MLP, "max_steps": 10, **change, "labels": {"bad": label}}
    with pytest.raises(WarmstepError) as refused:
        client.submit(spec)
    assert refused.value.status == 422
    assert refused.value.field == field
    assert client.jobs(label=f"bad={label}")["jobs"] == []


def test_idempotency_key_makes_one_job(client: WarmstepClient) -> None:
    key = uuid.uuid4().hex
    first = client.submit({**DIGITS_MLP, "max_steps": 1}, idempotency_key=key)
    again = client.submit({**DIGITS_MLP, "max_steps": 1}, idempotency_key=key)
    assert first["id"] == again["id"]
    client.wait(first["id"])


def test_metrics_history_as_csv_has_a_row_per_step(client: WarmstepClient, stack: Stack) -> None:
    import httpx

    final, history = run(client, {**DIGITS_MLP, "max_steps": 4})
    csv_text = httpx.get(
        f"{stack.base_url}/v1/jobs/{final['id']}/metrics", headers={"Accept": "text/csv"}
    ).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("step,") and "lr_0" in lines[0] and "superseded_by" in lines[0]
    assert len(lines) == 1 + len(history["steps"]) == 5


def test_metric_driven_schedule_is_fed_by_the_evaluation_loss(client: WarmstepClient) -> None:
    # mode "max" on a falling validation loss never improves: the LR halves at every evaluation
    # after the first, exactly as the engine's value for the same metric series.
    schedule = {"type": "ReduceLROnPlateau", "mode": "max", "patience": 0, "factor": 0.5}
    spec = {**DIGITS_MLP, "schedule": schedule, "max_steps": 24, "eval_every_steps": 6}
    final, history = run(client, spec)
    assert final["status"] == "succeeded", final["error"]
    evals = [e for e in history["evals"] if e["superseded_by"] is None]
    losses = [e["val_loss"] for e in evals]
    assert len(losses) >= 3
    values = client.evaluate(schedule, steps=len(losses) + 1, base_lr=0.05, metrics=losses).lr[0]
    assert values[-1] < values[0]
    for row in standing(history):
        done = sum(1 for e in evals if e["step"] + 1 <= row["step"])
        assert row["lr"][0] == values[done]
