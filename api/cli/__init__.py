"""The ``koc`` command line: one entry point, one subcommand per job.

Each subcommand lives in its own module in this package, named like the command;
every module here that defines a click command or group named ``command`` is
registered automatically and imported only when it is used. Library errors (:class:`graph.errors.KocError`) are
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


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs.

    ``koc top`` then loads the ranking code but not FastAPI, scikit-learn or the
    commission reports, which keeps every command quick to start.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_MODULE_BY_COMMAND))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _MODULE_BY_COMMAND:
            return found
        module = importlib.import_module(_MODULE_BY_COMMAND[cmd_name])
        command = getattr(module, "command", None)
        return command if isinstance(command, click.Command) else None


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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


#: command name (the module's name, ``_`` read as ``-``) -> module defining it
_MODULE_BY_COMMAND: dict[str, str] = {
    name.rsplit(".", 1)[1].replace("_", "-"): name for name in COMMAND_MODULES
}


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn KocErrors into clean messages."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        status = cli.main(args=argv, prog_name="koc", standalone_mode=False)
        if isinstance(status, int) and status:  # ctx.exit(N) inside a command
            sys.exit(status)
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
