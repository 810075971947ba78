"""Options several ``koc`` commands share, each defined once here.

* ``--db`` / ``--store``: on the root group (``koc --db x.duckdb top``) and, added
  by :func:`api.cli._prepare`, after every subcommand (``koc top --db x.duckdb``);
  both spellings come from :func:`store_params`.
* ``--progress/--no-progress`` (``-q`` and ``--quiet`` are ``--no-progress``): on
  every command that draws a progress bar (:data:`progress_option`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from api.cli._cwd import CwdPath

__all__ = ["store_params", "store_options", "progress_option"]

F = TypeVar("F", bound=Callable[..., Any])

#: ``--db`` and ``--store``: names, value types and help, for every place they appear
_STORE_OPTIONS: dict[str, dict[str, Any]] = {
    "--db": {
        "type": CwdPath(dir_okay=False, path_type=Path),
        "help": "Embedded store file (default: KOC_DB_PATH or data/koc.duckdb).",
    },
    "--store": {
        "type": click.Choice(["duckdb", "neo4j"]),
        "help": "Store backend (default: KOC_STORE or duckdb).",
    },
}


def store_params(**attrs: Any) -> list[click.Option]:
    """``--db`` and ``--store`` as click options, with ``attrs`` (e.g. a callback) added."""
    return [click.Option([name], **spec, **attrs) for name, spec in _STORE_OPTIONS.items()]


def store_options(f: F) -> F:
    """Decorator: ``--db`` and ``--store`` passed to ``f`` as ``db`` and ``store``."""
    for name, spec in reversed(_STORE_OPTIONS.items()):
        f = click.option(name, default=None, **spec)(f)
    return f


#: ``--progress/--no-progress`` (passed as ``progress``); ``-q``/``--quiet`` mean ``--no-progress``
progress_option = click.option(
    "--progress/--no-progress",
    " /-q",
    " /--quiet",
    "progress",
    default=True,
    show_default=True,
    help="Draw a progress bar on standard error (only on a terminal, never with --json); "
    "-q and --quiet are --no-progress.",
)
