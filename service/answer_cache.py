"""The last evaluate answers, by request (REST: media type and body bytes; gRPC: the request
message's bytes), for both transports.

A dashboard asks for the same curve again and again (every viewer of a run, every refresh); an
answer is a pure function of the request (the schedule engine is deterministic and the settings
are fixed for the process), so the encoded answer can be served again without parsing,
evaluating or encoding. Access is checked before the cache is read.

Bounded: at most ``max_bytes`` of keys and answers together, least recently used first out; an
answer over ``max_entry_bytes`` (a 10^6-step curve) is never kept. Used from the event loop only,
so it needs no lock. Values are never changed after they are put."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi.responses import Response

V = TypeVar("V")
Key = tuple[str, bytes]


@dataclass(frozen=True)
class CachedAnswer:
    """A REST answer: body, media type and extra headers; ``raw_headers`` are the headers
    :meth:`response` sends, as ASGI's raw pairs, written once: the extra headers, then the
    length and the type (``; charset=utf-8`` after a ``text/`` type, as Starlette adds it)."""

    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...]
    raw_headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        media = self.media_type
        if media.startswith("text/") and "charset=" not in media.lower():
            media += "; charset=utf-8"
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        raw.append((b"content-type", media.encode("latin-1")))
        object.__setattr__(self, "raw_headers", raw)

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers))


class AnswerCache(Generic[V]):
    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[Key, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> V | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found[0]

    def put(self, key: Key, value: V, value_bytes: int) -> None:
        """Keep ``value`` (``value_bytes`` large) unless it alone breaks a bound."""
        cost = len(key[0]) + len(key[1]) + value_bytes
        if cost > self.max_entry_bytes or cost > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._entries[key] = (value, cost)
        self._bytes += cost
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
