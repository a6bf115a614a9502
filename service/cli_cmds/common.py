"""What every client command shares: the connection options, reading a JSON argument, and
turning a server error into one line on stderr and exit status 2."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from service.cli_cmds.transport import Transport, TransportKind, WarmstepError, connect

TransportOpt = Annotated[
    TransportKind,
    typer.Option(
        "--transport",
        envvar="WARMSTEP_TRANSPORT",
        help="rest or grpc.",
        rich_help_panel="Connection",
    ),
]
UrlOpt = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="WARMSTEP_URL",
        help="REST base URL of the front end.",
        rich_help_panel="Connection",
    ),
]
GrpcOpt = Annotated[
    str,
    typer.Option(
        "--grpc",
        envvar="WARMSTEP_GRPC_TARGET",
        help="gRPC host:port of the front end.",
        rich_help_panel="Connection",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_GRPC = "127.0.0.1:50051"


@contextlib.contextmanager
def session(kind: TransportKind, url: str, grpc_target: str) -> Iterator[Transport]:
    """A connected transport; server errors end the command with status 2 and one line."""
    transport = connect(kind, url, grpc_target, os.environ.get("WARMSTEP_TOKEN") or None)
    try:
        yield transport
    except WarmstepError as exc:
        field = f" (field {exc.field})" if exc.field else ""
        typer.echo(f"error: {exc.code}: {exc.message}{field}", err=True)
        raise typer.Exit(2) from None
    except httpx.TransportError as exc:
        typer.echo(f"error: cannot reach {url}: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        transport.close()


def load_json(text: str, what: str) -> Any:
    """Inline JSON (``{...}`` or ``[...]``) or the path of a JSON file."""
    stripped = text.strip()
    source = stripped if stripped[:1] in "{[" else None
    if source is None:
        path = Path(text)
        if not path.is_file():
            raise typer.BadParameter(f"{what}: neither inline JSON nor a file: {text}")
        source = path.read_text()
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what}: invalid JSON: {exc}") from None


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
