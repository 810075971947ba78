"""The contract between ``koc serve`` and the ``koc`` commands it runs for local clients.

While ``koc serve`` holds the embedded store, no other process can open that DuckDB
file, so a ``koc`` command on the same store sends its command line to the server
(``POST`` :data:`CLI_PATH` with the :data:`TOKEN_HEADER` of the server's link file),
which runs it in-process. The HTTP side (:mod:`api.http.routes.cli_bridge`) knows
only this contract; the command line side implements it
(:class:`api.cli._inprocess.CommandRunner`, :mod:`api.cli._server_link`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["CLI_PATH", "TOKEN_HEADER", "LocalCommands"]

#: the server's endpoint that runs a forwarded command line (not in the OpenAPI schema)
CLI_PATH = "/_koc/cli"
#: the header carrying the token of the server's link file
TOKEN_HEADER = "X-Koc-Cli-Token"


class LocalCommands(Protocol):
    """Runs ``koc`` command lines in the serving process."""

    #: the secret a client must present (from the link file, readable by its owner only)
    token: str
    #: held while a command runs; the server sets it to its store's write lock
    write_lock: Any

    def run(
        self, argv: list[str], cwd: Path, out: Callable[[str], None], err: Callable[[str], None]
    ) -> int:
        """Run ``koc ARGV`` as if started in ``cwd``; output to ``out``/``err``; the status."""
        ...
