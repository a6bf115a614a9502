"""Background checkpoints: the saved state is the state at the checkpoint, whatever training
does afterwards; saves land in order, one at a time; a failed save fails the run."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
import torch

from worker.jobs.checkpoints import CheckpointWriter, detached_copy
from worker.jobs.storage import from_bytes, to_bytes


def _live_state() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(8, 4)).sum().backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    return model, optimizer


def test_saved_state_is_the_state_at_submit_not_after_later_updates() -> None:
    model, optimizer = _live_state()
    saved: list[tuple[bytes, int]] = []
    release = threading.Event()

    def save(state: Mapping[str, Any], step: int, events_before: int) -> None:
        release.wait(10)  # the save runs while training goes on
        saved.append((to_bytes(state), step))

    writer = CheckpointWriter(save)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 1}
    expected = to_bytes(detached_copy(state))
    writer.submit(state, 1, 0)
    for _ in range(3):  # updates after the checkpoint change every live tensor in place
        model(torch.randn(8, 4)).sum().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    release.set()
    writer.close()
    assert [step for _, step in saved] == [1]
    restored, reference = from_bytes(saved[0][0]), from_bytes(expected)
    assert restored["step"] == 1
    for name, tensor in reference["model"].items():
        torch.testing.assert_close(restored["model"][name], tensor, rtol=0, atol=0)
        assert not torch.equal(restored["model"][name], model.state_dict()[name])
    for index, slots in reference["optimizer"]["state"].items():
        for name, tensor in slots.items():
            torch.testing.assert_close(
                restored["optimizer"]["state"][index][name], tensor, rtol=0, atol=0
            )


def test_one_save_in_flight_and_saves_land_in_order() -> None:
    in_flight, most, order = 0, 0, []
    lock = threading.Lock()

    def save(state: Mapping[str, Any], step: int, events_before: int) -> None:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        threading.Event().wait(0.01)
        order.append(step)
        with lock:
            in_flight -= 1

    writer = CheckpointWriter(save)
    for step in range(1, 21):
        writer.submit({"w": torch.full((3,), float(step)), "step": step}, step, step)
    writer.close()
    assert order == list(range(1, 21))
    assert most == 1


def test_a_failed_background_save_is_raised_on_the_training_thread() -> None:
    def save(state: Mapping[str, Any], step: int, events_before: int) -> None:
        raise ValueError(f"state at {step} too large")

    writer = CheckpointWriter(save)
    writer.submit({"w": torch.zeros(2)}, 5, 0)
    with pytest.raises(ValueError, match="state at 5 too large"):
        writer.submit({"w": torch.zeros(2)}, 6, 0)  # the next checkpoint finds the failure
    writer.close()
    last = CheckpointWriter(save)
    last.submit({"w": torch.zeros(2)}, 7, 0)
    with pytest.raises(ValueError, match="state at 7 too large"):
        last.close()  # a failure of the last one is found before the job is recorded


def test_detached_copy_shares_no_tensor_memory() -> None:
    live = {"a": [torch.ones(3), (torch.zeros(2), 7)], "b": "text"}
    copy = detached_copy(live)
    live["a"][0].add_(1)  # type: ignore[union-attr]
    live["a"][1][0].add_(1)  # type: ignore[index]
    assert torch.equal(copy["a"][0], torch.ones(3))
    assert torch.equal(copy["a"][1][0], torch.zeros(2))
    assert copy["a"][1][1] == 7 and copy["b"] == "text"
