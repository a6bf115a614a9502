"""Checkpoints saved off the training thread.

At a checkpoint the loop hands over the live state; :meth:`CheckpointWriter.submit` copies its
tensors (a memory copy, well under a millisecond for models of a few MB) and returns, and one
background thread serialises the copy and writes it through the attempt fence while training
goes on. So the loop pays for the copy, not for ``torch.save``, the transfer to Redis and Redis's
fsync.

At most one checkpoint is in flight: the next one waits for the previous write first, so
checkpoints land in order and memory holds at most one extra copy of the state. A graceful stop
saves synchronously (after :meth:`flush`): the job is handed back only once its state is
stored. :meth:`close` waits for the write in flight; the job's final status is recorded after
it. An error of a background save (a state over the size bound) is raised on the training
thread at the next :meth:`submit`, :meth:`flush` or :meth:`close`, so it fails the job as a
synchronous save would have."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

SaveState = Callable[[Mapping[str, Any], int, int], None]  # (state, step, events before it)


def detached_copy(value: Any) -> Any:
    """A copy of a state tree whose tensors no later training step can change: tensors are
    copied to host memory, dicts, lists and tuples rebuilt, other values (immutable) shared."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {key: detached_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [detached_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(detached_copy(item) for item in value)
    return value


class CheckpointWriter:
    """Runs ``save(state, step, events_before)`` for each submitted checkpoint on one
    background thread."""

    def __init__(self, save: SaveState) -> None:
        self._save = save
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future[None] | None = None

    def submit(self, state: Mapping[str, Any], step: int, events_before: int) -> None:
        """Save ``state`` (the loop's live state at update ``step``, after ``events_before`` of
        the attempt's events) in the background; return once it is copied."""
        self.flush()
        self._pending = self._pool.submit(self._save, detached_copy(state), step, events_before)

    def flush(self) -> None:
        """Wait for the checkpoint in flight (raising its error, if any)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the checkpoint in flight, then stop the thread."""
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)
