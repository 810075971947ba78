"""The ``koc`` command line: one entry point, one subcommand per job.

Each subcommand lives in its own module in this package; every module here that
defines a click command or group named ``command`` is registered automatically. Library errors (:class:`graph.errors.KocError`) are
printed as one clear line and exit with status 2; no traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import click

from api.cli.context import CliContext
from graph.errors import KocError

__all__ = ["main", "cli", "COMMAND_MODULES"]

#: modules of this package that each define one click command or group named ``command``
COMMAND_MODULES: tuple[str, ...] = tuple(
    f"{__name__}.{m.name}"
    for m in pkgutil.iter_modules(__path__)
    if m.name not in {"context"} and not m.name.startswith("_")
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Embedded store file (default: KOC_DB_PATH or data/koc.duckdb).",
)
@click.option(
    "--store",
    type=click.Choice(["duckdb", "neo4j"]),
    default=None,
    help="Store backend (default: KOC_STORE or duckdb).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="koc-graph", prog_name="koc")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, store: str | None, debug: bool) -> None:
    """KOC Graph: find the customers whose social activity makes other people buy.

    \b
    Typical flow on the embedded store (no server needed):
      koc synth --users 20000 --out demo/        # realistic demo data
      koc ingest demo/*.csv.gz                    # validate and load
      koc rank                                    # score every user
      koc top --limit 20                          # the KOC leaderboard

    Settings come from KOC_* environment variables or the TOML file named by
    KOC_CONFIG; see docs/configuration.md.
    """
    ctx.obj = CliContext(db=db, store=store, debug=debug)


for _name in COMMAND_MODULES:
    _module = importlib.import_module(_name)
    if isinstance(getattr(_module, "command", None), click.Command):
        cli.add_command(_module.command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn KocErrors into clean messages."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="koc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KocError as exc:
        if debug:
            raise
        click.secho(f"Error: {exc.message}", fg="red", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing half-written was kept.", err=True)
        sys.exit(130)
