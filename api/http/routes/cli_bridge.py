"""``POST /_koc/cli``: run a ``koc`` command line for a local client, in this process.

While ``koc serve`` holds the embedded store no other process can open it, so a
``koc`` command on the same store sends its command line here (the contract:
:mod:`api.services.local_commands`). The request needs the token of the link file
next to the store (readable by its owner only) and must come from this machine; the
command runs on its own connection to the same database (``app.state.local_commands``,
given by ``koc serve``) and its output streams back as NDJSON lines
``{"out": text}``, ``{"err": text}``, a keep-alive ``{}`` every few seconds, and
finally ``{"exit": status}``. Not part of the public API (not in the OpenAPI
schema). Afterwards the verified-key cache is cleared, so ``koc keys revoke``
takes effect at once.
"""

from __future__ import annotations

import hmac
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.http.errors import ApiError
from api.services.local_commands import CLI_PATH, TOKEN_HEADER, LocalCommands

__all__ = ["router", "CliRequest"]

router = APIRouter(include_in_schema=False)

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_KEEPALIVE_S = 5.0


class CliRequest(BaseModel):
    """A command line after ``koc`` and the client's working directory."""

    argv: list[str] = Field(max_length=10_000)
    cwd: str = Field(max_length=4096)


def _stream(request: Request, runner: LocalCommands, body: CliRequest) -> Iterator[bytes]:
    lines: queue.Queue[dict[str, object] | None] = queue.Queue()

    def work() -> None:
        try:
            status = runner.run(
                body.argv,
                Path(body.cwd),
                lambda text: lines.put({"out": text}),
                lambda text: lines.put({"err": text}),
            )
        except Exception as exc:  # noqa: BLE001 - reported to the client, never lost
            lines.put({"err": f"Error: the server could not run the command: {exc}\n"})
            status = 1
        finally:
            request.app.state.key_cache.clear()  # a revoked key stops working now
        lines.put({"exit": status})
        lines.put(None)

    threading.Thread(target=work, name="koc-cli", daemon=True).start()
    while True:
        try:
            item = lines.get(timeout=_KEEPALIVE_S)
        except queue.Empty:
            yield b"{}\n"
            continue
        if item is None:
            return
        yield json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"


@router.post(CLI_PATH)
def run_cli(request: Request, body: CliRequest) -> StreamingResponse:
    """Run ``koc ARGV`` here for a local client holding the link file's token."""
    runner: LocalCommands | None = request.app.state.local_commands
    given = request.headers.get(TOKEN_HEADER, "")
    host = request.client.host if request.client else ""
    if (
        runner is None
        or host not in _LOOPBACK
        or not hmac.compare_digest(given.encode(), runner.token.encode())
    ):
        raise ApiError(403, "forbidden", "Only a local koc command with the server's token.")
    return StreamingResponse(_stream(request, runner, body), media_type="application/x-ndjson")
