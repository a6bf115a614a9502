"""Training overhead: updates/s of a job run by a real worker (queue, per-step events, checkpoints
on) against a bare hand-written PyTorch loop on the same model, data split, batch size,
accumulation, clipping, optimizer and LR schedule, in this process.

Worker rate: ``steps / elapsed_s`` of the job's last step event (``elapsed_s`` counts from the end
of the job's setup, so data loading and model building are excluded, as they are from the bare
loop's timer; checkpoints and event emission are included). Bare rate: the same count over the
loop's wall time. Each worker run sits between two bare runs (the machine's speed drifts by
10-30% over seconds on a shared VM); a row reports the median of each side and the median of the
ratios of each worker run to the mean of the bare runs around it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import redis
import torch
import torch.nn.functional as F
import transformers.optimization as hf

from bench._common import Size, Stack, Table, median, stack
from warmstep import keys
from warmstep.allocator import keep_freed_memory
from warmstep.config import Settings
from worker.training.registry import build_model, load_dataset

OVERHEAD_TARGET = 0.05  # on the tens-of-ms model
ROUNDS = 7  # worker runs per row at full size, each between two bare runs


@dataclass(frozen=True)
class Case:
    label: str
    model: dict[str, Any]
    data: dict[str, Any]
    batch_size: int
    accumulation: int

    def job(self, updates: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "data": self.data,
            "optimizer": {"type": "AdamW", "lr": 1e-3},
            "schedule": {"type": "get_linear_schedule_with_warmup"},
            "warmup_steps": max(updates // 10, 1),
            "max_steps": updates,
            "batch_size": self.batch_size,
            "gradient_accumulation_steps": self.accumulation,
            "max_grad_norm": 1.0,
            "checkpoint_every_steps": max(updates // 5, 1),
            "device": "cpu",
            "seed": 0,
        }


CASES = (
    Case(
        "tiny MLP (mlp [64], digits, batch 32, accum 2)", {"name": "mlp"}, {"name": "digits"}, 32, 2
    ),
    Case(
        "transformer_lm (d_model 128, 2 layers, tiny_corpus, batch 64)",
        {"name": "transformer_lm", "d_model": 128, "dim_feedforward": 256},
        {"name": "tiny_corpus"},
        64,
        1,
    ),
)


def _loss(task: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(output, target, reduction="sum")
    if task == "regression":
        return (output - target).pow(2).mean(dim=1).sum()
    flat = F.cross_entropy(output.flatten(0, 1), target.flatten(), reduction="sum")
    return flat / target.shape[1]


def bare_loop(case: Case, updates: int) -> float:
    """Updates/s of a plain loop: shuffle per epoch, accumulate, clip, AdamW, linear warmup."""
    spec = case.job(updates)
    kwargs = {k: v for k, v in case.data.items() if k != "name"}
    data = load_dataset(case.data["name"], kwargs, 0.2, 0)
    torch.manual_seed(0)
    model_kwargs = {k: v for k, v in case.model.items() if k != "name"}
    model = build_model(case.model["name"], model_kwargs, data.info).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = hf.get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        opt, spec["warmup_steps"], updates
    )
    x, y, task, n = data.train_x, data.train_y, data.info.task, data.train_size
    b, k = case.batch_size, case.accumulation
    done, epoch = 0, 0
    start = time.perf_counter()
    while done < updates:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        micro = [order[i : i + b] for i in range(0, n, b)]
        for u in range(0, len(micro), k):
            rows_list = micro[u : u + k]
            count = sum(len(r) for r in rows_list)
            total = torch.zeros(())
            for rows in rows_list:
                loss = _loss(task, model(x[rows]), y[rows])
                total += loss.detach()
                (loss / count).backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            _ = total.item() / count  # a loop that logs its loss syncs once per update
            done += 1
            if done == updates:
                break
        epoch += 1
    return updates / (time.perf_counter() - start)


def worker_run(running: Stack, case: Case, updates: int) -> tuple[float, int]:
    """Updates/s of the job on the stack's worker, and how many step events it wrote.

    The wait for the end is a blocking read of the job's stream (no polling through the front
    end), so the benchmark itself takes no CPU from the worker while the job runs."""
    answer = httpx.post(f"{running.http}/v1/jobs", json=case.job(updates), timeout=30)
    answer.raise_for_status()
    job_id = answer.json()["id"]
    client = redis.Redis.from_url(running.redis.url)
    try:
        status = _wait_finished(client, job_id)
        if status != "succeeded":
            detail = client.hgetall(keys.job_record(job_id))
            raise RuntimeError(f"job {job_id} {status}: {detail!r}")
        entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(  # type: ignore[assignment]
            keys.job_events(job_id)
        )
    finally:
        client.close()
    steps = [orjson.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"step"]
    return len(steps) / steps[-1]["elapsed_s"], len(steps)


def _wait_finished(client: redis.Redis, job_id: str, timeout_s: float = 600.0) -> str:
    """Block on the job's event stream until a final status event arrives."""
    stream, last, deadline = keys.job_events(job_id), "0-0", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer: Any = client.xread({stream: last}, count=1000, block=1000)
        for _, entries in answer or []:
            for entry_id, fields in entries:
                last = entry_id
                if fields[b"type"] == b"status":
                    status = orjson.loads(fields[b"data"])["status"]
                    if status in ("succeeded", "failed", "cancelled"):
                        return str(status)
    raise RuntimeError(f"timed out waiting for job {job_id}")


def run(size: Size) -> list[Table]:
    table = Table(
        "Training overhead: worker job vs a bare PyTorch loop (CPU, same process "
        "count of torch threads)",
        [
            "model",
            "updates",
            "bare upd/s",
            "worker upd/s",
            "worker/bare",
            "overhead",
            "step events",
        ],
    )
    rounds = ROUNDS if size.name == "full" else 1
    # The worker's job process keeps freed memory (warmstep.allocator); the bare loop runs the
    # same way, whichever benchmark ran before it in this process.
    keep = Settings().malloc_keep_bytes
    kept = keep_freed_memory(keep)
    spreads: list[str] = []
    with stack(workers=1) as running:
        for case, updates in zip(CASES, size.train_updates, strict=True):
            bare, worker, ratios, events = [bare_loop(case, updates)], [], [], 0
            for _ in range(rounds):
                rate, events = worker_run(running, case, updates)
                bare.append(bare_loop(case, updates))
                worker.append(rate)
                ratios.append(rate / ((bare[-2] + bare[-1]) / 2))  # bracketed by bare runs
            ratio = median(ratios)
            spreads.append(f"{case.label.split(' (')[0]} {min(ratios):.2f}-{max(ratios):.2f}")
            table.add(
                case.label,
                updates,
                median(bare),
                median(worker),
                f"{ratio:.2f}",
                f"{1 - ratio:+.1%}",
                events,
            )
    table.notes += [
        "job: AdamW lr 1e-3, get_linear_schedule_with_warmup (10% warmup), max_grad_norm 1.0, "
        "checkpoint every 20% of the updates, per-step events, validation split 0.2 (no eval "
        "during the run); bare loop: same split/model init (the worker's registry), "
        "torch.randperm order, transformers' scheduler, one .item() per update",
        f"both sides keep freed memory (warmstep.allocator, {keep >> 20} MiB: "
        f"{'set' if kept else 'not available'})",
        f"{rounds} worker runs per row, each between two bare runs: median rates, median of "
        "the ratios of each worker run to the mean of the bare runs around it",
        f"worker/bare of the single runs (the machine's drift): {', '.join(spreads)}",
        f"target: overhead within {OVERHEAD_TARGET:.0%} on the second model",
    ]
    return [table]
