"""The working directory of the ``koc`` client whose command line runs here.

A command forwarded to the ``koc serve`` that holds the store (:mod:`api.cli._inprocess`)
runs in the server's process, but its relative paths belong to the client:
:data:`client_cwd` holds the client's directory while such a command runs, and every path
option of the CLI is a :class:`CwdPath`, which resolves a relative path against it.
Kept apart from :mod:`api.cli._inprocess` so that the ``koc`` group can use
:class:`CwdPath` without importing the runner (which imports the group).
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any

import click

__all__ = ["CwdPath", "client_cwd"]

#: the working directory of the ``koc`` client whose command runs in this thread
client_cwd: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "koc_client_cwd", default=None
)


class CwdPath(click.Path):
    """``click.Path`` that reads a relative path from the client's working directory."""

    @classmethod
    def like(cls, other: click.Path) -> CwdPath:
        """The same checks as ``other`` (exists, file/dir, path type, ...)."""
        return cls(
            exists=other.exists,
            file_okay=other.file_okay,
            dir_okay=other.dir_okay,
            writable=other.writable,
            readable=other.readable,
            resolve_path=other.resolve_path,
            allow_dash=other.allow_dash,
            path_type=other.type,
            executable=other.executable,
        )

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        base = client_cwd.get()
        if base is not None and isinstance(value, (str, os.PathLike)):
            raw = os.fsdecode(value)
            if raw != "-" and not os.path.isabs(raw):
                value = type(value)(base / raw) if isinstance(value, Path) else str(base / raw)
        return super().convert(value, param, ctx)
