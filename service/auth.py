"""Bearer-token authentication shared by REST and gRPC: a token names a tenant.

Tokens are configured hashed (``WARMSTEP_AUTH_TOKENS='{"<sha256 hex>": "tenant-a"}'`` or a JSON
file of that shape in ``WARMSTEP_AUTH_TOKENS_FILE``); the server never holds a token in the
clear. A presented token is hashed and compared with every configured digest in constant time
(``hmac.compare_digest``, no early exit), so the answer's timing says nothing about which digest
came close. With no tokens configured, auth is off and every caller is the anonymous tenant
``""``. Messages never repeat a presented token.

Make a digest with ``printf %s "$TOKEN" | sha256sum`` or :func:`hash_token`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import orjson

from warmstep.config import Settings, check_token_table
from warmstep.errors import Unauthenticated

ANONYMOUS = ""  # the tenant of every caller while auth is off


def hash_token(token: str) -> str:
    """sha256 hex digest of a token, the form in which tokens are configured."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@dataclass(frozen=True)
class TokenTable:
    """sha256 digest -> tenant; empty means auth is off."""

    digests: tuple[tuple[bytes, str], ...]

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def tenant_for(self, token: str | None) -> str:
        """The tenant of ``token``; :class:`Unauthenticated` when auth is on and the token is
        missing or unknown."""
        if not self.enabled:
            return ANONYMOUS
        if token is None:
            raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
        presented = hashlib.sha256(token.encode()).digest()
        found: str | None = None
        for digest, tenant in self.digests:
            if hmac.compare_digest(presented, digest):
                found = tenant
        if found is None:
            raise Unauthenticated("unknown bearer token")
        return found


def load_token_table(settings: Settings) -> TokenTable:
    table = dict(settings.auth_tokens)
    if settings.auth_tokens_file is not None:
        try:
            loaded = orjson.loads(settings.auth_tokens_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"cannot read auth_tokens_file: {type(exc).__name__}") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise ValueError("auth_tokens_file holds a JSON object of sha256 hex -> tenant")
        table |= check_token_table(loaded)
    return TokenTable(tuple((bytes.fromhex(d), t) for d, t in sorted(table.items())))


def auth_banner(table: TokenTable) -> str:
    """The line the front end prints at start, so nobody runs without auth unknowingly."""
    if table.enabled:
        tenants = len({tenant for _, tenant in table.digests})
        return f"auth on: {len(table.digests)} tokens, {tenants} tenants"
    return (
        "auth OFF: no WARMSTEP_AUTH_TOKENS configured; every client is the anonymous tenant "
        "(fine on loopback for development, not on a shared network)"
    )


def redact_url(url: str) -> str:
    """``redis://user:secret@host:6379/0`` -> ``redis://user:***@host:6379/0`` for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
