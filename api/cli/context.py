"""State shared by all ``koc`` subcommands: settings overrides and the store.

Every command opens its store through :meth:`CliContext.open_store`, which says
on standard error which store it uses, refuses to create a store file that a
reading command names by mistake, and names the server holding a locked file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from graph.errors import StoreError
from graph.factory import open_store
from graph.money import format_money
from graph.settings import Settings, get_settings
from graph.store import GraphStore

__all__ = ["CliContext", "pass_cli", "echo_json"]


@dataclass
class CliContext:
    """Global options of ``koc`` and lazily built settings."""

    db: Path | None = None
    store: str | None = None
    debug: bool = False
    #: True when ``koc serve`` runs the command for a client, in the process holding the store
    shared: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _announced: bool = field(default=False, repr=False)

    @classmethod
    def for_server(cls, settings: Settings) -> CliContext:
        """The context of a command that ``koc serve`` runs for a client on its own store
        (its own connection to the database the server has open)."""
        return cls(shared=True, _settings=settings)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings(db_path=self.db, store=self.store)
        return self._settings

    def reset_settings(self) -> None:
        """Forget the built settings (after ``--db`` / ``--store`` changed)."""
        self._settings = None

    def describe_store(self) -> str:
        """The store in words: ``data/koc.duckdb`` or ``neo4j at neo4j://... (ledger ...)``."""
        s = self.settings
        if s.store == "neo4j":
            return f"neo4j at {s.neo4j_uri} (ledger {s.ledger_path})"
        return str(s.db_path)

    def announce_store(self, *, create: bool = False) -> None:
        """Say on standard error which store this command uses; refuse a missing file.

        Raises
        ------
        StoreError
            The embedded store file does not exist and ``create`` is false.
        """
        if not self._announced:
            via = " (through koc serve)" if self.shared else ""
            click.echo(f"store: {self.describe_store()}{via}", err=True)
            self._announced = True
        path = Path(self.settings.db_path)
        if self.settings.store != "duckdb" or str(path) == ":memory:" or create:
            return
        if not path.exists():
            raise StoreError(
                f"No store at {path}: nothing was loaded there yet. Load data first "
                "(`koc ingest FILES` or `koc demo`), or name the store with --db PATH "
                "or KOC_DB_PATH.",
                path=str(path),
            )

    def open_store(self, *, read_only: bool = False, create: bool = False) -> GraphStore:
        """Open the configured store (close it, or use it as a context manager).

        Parameters
        ----------
        read_only : bool
            Open without write access (ignored when the server runs the command:
            it has the file open for writing).
        create : bool
            Create the embedded store file when it does not exist (commands that
            load data); otherwise a missing file is an error, never a new empty store.

        Raises
        ------
        StoreError
            No store file at the path (and ``create`` is false), or the file is
            locked by another process.
        """
        s = self.settings
        self.announce_store(create=create)
        path = Path(s.db_path)
        read_only = read_only and not self.shared
        try:
            return open_store(s, read_only=read_only)
        except StoreError as exc:
            if read_only:  # this process may hold it read-write already (one config per file)
                try:
                    return open_store(s, read_only=False)
                except StoreError:
                    pass
            from api.cli._server_link import link_path, store_file

            held = link_path(store_file(s))
            if held.exists():
                raise StoreError(
                    f"{exc.message} A koc serve holds it ({held}); if that server is still "
                    "starting, retry in a moment.",
                    path=str(path),
                ) from exc
            raise


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot encode: a Decimal is money (2 decimals for CNY)."""
    if isinstance(value, Decimal):
        return format_money(value)
    return str(value)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as JSON on stdout (for ``--json`` options); Decimals as money."""
    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=_plain, ensure_ascii=False))
