"""State shared by all ``koc`` subcommands: settings overrides and the store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from graph.factory import open_store
from graph.settings import Settings, get_settings
from graph.store import GraphStore

__all__ = ["CliContext", "pass_cli", "echo_json"]


@dataclass
class CliContext:
    """Global options of ``koc`` and lazily built settings."""

    db: Path | None = None
    store: str | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings(db_path=self.db, store=self.store)
        return self._settings

    def open_store(self, *, read_only: bool = False) -> GraphStore:
        """Open the configured store (close it, or use it as a context manager)."""
        return open_store(self.settings, read_only=read_only)


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (for ``--json`` options)."""
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str, ensure_ascii=False))
