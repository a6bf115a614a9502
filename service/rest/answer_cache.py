"""The last evaluate answers, by request body and media type.

A dashboard asks for the same curve again and again (every viewer of a run, every refresh); an
answer is a pure function of the request body and the media type (the schedule engine is
deterministic, and the settings are fixed for the process), so the encoded bytes can be served
again without parsing, evaluating or encoding. Access is checked before the cache is read.

Bounded: at most ``max_bytes`` of bodies and answers together, least recently used first out;
an answer over ``max_entry_bytes`` (a 10^6-step curve) is never kept. Used from the event loop
only, so it needs no lock."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from fastapi.responses import Response


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers))


class AnswerCache:
    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[tuple[str, bytes], CachedAnswer] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, media: str, body: bytes) -> CachedAnswer | None:
        answer = self._entries.get((media, body))
        if answer is None:
            self.misses += 1
            return None
        self._entries.move_to_end((media, body))
        self.hits += 1
        return answer

    def put(self, media: str, body: bytes, answer: CachedAnswer) -> None:
        cost = len(body) + len(answer.body)
        if cost > self.max_entry_bytes or cost > self.max_bytes:
            return
        old = self._entries.pop((media, body), None)
        if old is not None:
            self._bytes -= len(body) + len(old.body)
        self._entries[media, body] = answer
        self._bytes += cost
        while self._bytes > self.max_bytes:
            (_, evicted_body), evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted_body) + len(evicted.body)
