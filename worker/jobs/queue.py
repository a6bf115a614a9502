"""The worker's side of the dispatch streams: read one entry per free device, keep the lease of
the running one, reclaim entries whose worker went silent, acknowledge after the terminal state.

Lease: an entry stays in the consumer group's pending list while its job runs. The running
worker re-claims its own entry (XCLAIM, which resets the idle time) every heartbeat; an entry
idle longer than ``lease_s`` belongs to a dead or frozen worker and XAUTOCLAIM hands it to
another. A long healthy job is therefore never handed out twice.

Own pending entries come first: a worker whose job process died (the supervisor restarts it
under the same consumer name, :mod:`worker.main`), or whose attempt ended without an
acknowledgement while it still owns the entry (Redis unreachable at the end), takes its own
unfinished entries again before anything new; CLAIM then starts the next attempt, and the
attempt cap bounds how often that can happen."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from warmstep import keys, lifecycle

log = logging.getLogger("warmstep.worker")


@dataclass(frozen=True)
class DispatchEntry:
    stream: str
    entry_id: str
    job_id: str


class DispatchQueue:
    def __init__(
        self,
        client: redis.Redis,
        device_kind: str,
        worker_id: str,
        lease_s: float,
        max_attempts: int,
    ) -> None:
        self._redis = client
        self._consumer = worker_id
        self._lease_ms = int(lease_s * 1000)
        self._max_attempts = max_attempts
        # A CUDA worker takes CUDA jobs first, then CPU jobs; a CPU worker only CPU jobs.
        kinds = ["cuda", "cpu"] if device_kind == "cuda" else ["cpu"]
        self.streams = [keys.dispatch_stream(k) for k in kinds]
        self._claim = client.register_script(lifecycle.CLAIM)
        self._keep_lease = client.register_script(lifecycle.KEEP_LEASE)

    def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                self._redis.xgroup_create(stream, keys.DISPATCH_GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def next_entry(self, block_ms: int) -> DispatchEntry | None:
        """This consumer's own unfinished entry first, then a reclaimed entry of a silent
        worker, else a new one (waiting up to block_ms)."""
        for stream in self.streams:
            own = self._own_pending(stream)
            if own is not None:
                return own
        for stream in self.streams:
            reclaimed = self._autoclaim(stream)
            if reclaimed is not None:
                return reclaimed
        for stream in self.streams:
            answer: Any = self._redis.xreadgroup(
                keys.DISPATCH_GROUP,
                self._consumer,
                {stream: ">"},
                count=1,
                block=block_ms if stream == self.streams[-1] else None,
            )
            for _, entries in answer or []:
                for entry_id, fields in entries:
                    return DispatchEntry(stream, entry_id, fields["job"])
        return None

    def _own_pending(self, stream: str) -> DispatchEntry | None:
        answer: Any = self._redis.xreadgroup(
            keys.DISPATCH_GROUP, self._consumer, {stream: "0"}, count=10
        )
        for _, entries in answer or []:
            for entry_id, fields in entries:
                if fields:
                    log.info(
                        "taking back own unfinished entry %s (job %s)", entry_id, fields["job"]
                    )
                    return DispatchEntry(stream, entry_id, fields["job"])
                self.ack(DispatchEntry(stream, entry_id, ""))  # deleted from the stream
        return None

    def _autoclaim(self, stream: str) -> DispatchEntry | None:
        answer: Any = self._redis.xautoclaim(
            stream, keys.DISPATCH_GROUP, self._consumer, self._lease_ms, "0-0", count=1
        )
        # Redis 6.2 answers [cursor, entries]; 7.x adds the ids of deleted entries.
        for entry_id, fields in answer[1]:
            if fields:
                log.info("reclaimed %s (job %s) from a silent worker", entry_id, fields["job"])
                return DispatchEntry(stream, entry_id, fields["job"])
        return None

    def claim_job(self, entry: DispatchEntry) -> int:
        """The job's new attempt number, or a negative :class:`lifecycle.ClaimOutcome`
        (EXHAUSTED: the job is failed and the entry dead-lettered and acknowledged, at once)."""
        job = entry.job_id
        return int(
            self._claim(
                keys=[
                    keys.job_record(job),
                    keys.job_events(job),
                    keys.DEAD_LETTER_STREAM,
                    entry.stream,
                ],
                args=[
                    self._consumer,
                    repr(time.time()),
                    self._max_attempts,
                    uuid.uuid4().hex,
                    entry.entry_id,
                    keys.DISPATCH_GROUP,
                    job,
                ],
            )
        )

    def keep_lease(self, entry: DispatchEntry) -> bool:
        """Reset the entry's idle time; False when another worker has taken it over."""
        owned = self._keep_lease(
            keys=[entry.stream], args=[keys.DISPATCH_GROUP, self._consumer, entry.entry_id]
        )
        return bool(owned)

    def ack(self, entry: DispatchEntry) -> None:
        self._redis.xack(entry.stream, keys.DISPATCH_GROUP, entry.entry_id)

    def hand_back(self, entry: DispatchEntry) -> None:
        """Re-deliver at once: a new entry for the job, the old one acknowledged."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(entry.stream, {"job": entry.job_id})
        pipe.xack(entry.stream, keys.DISPATCH_GROUP, entry.entry_id)
        pipe.execute()
