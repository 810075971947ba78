"""The ``koc`` command line: one entry point, one subcommand per job.

Each subcommand lives in its own module in this package, named like the command;
every module here that defines a click command or group named ``command`` is
registered automatically and imported only when it is used. Library errors (:class:`graph.errors.KocError`) are
printed as one clear line (with the option or command to use next, :mod:`api.cli.hints`) and exit with status 2; no traceback unless
``--debug`` is given.

Every subcommand also accepts ``--db`` and ``--store`` after its name
(``koc top --db x.duckdb``). When ``koc serve`` holds the store, a command is
run by that server on the same database (:mod:`api.cli._server_link`).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

import click

from api.cli._cwd import CwdPath
from api.cli._options import store_options, store_params
from api.cli.context import CliContext
from api.cli.hints import cli_message, invoked_command
from graph.duckdb_files import fault_of
from graph.errors import KocError

__all__ = ["main", "run", "cli", "COMMAND_MODULES"]

#: modules of this package that each define one click command or group named ``command``
COMMAND_MODULES: tuple[str, ...] = tuple(
    f"{__name__}.{m.name}"
    for m in pkgutil.iter_modules(__path__)
    if m.name not in {"context", "hints"} and not m.name.startswith("_")
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
        if not isinstance(command, click.Command):
            return None
        _prepare(command)
        return command


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``--db`` / ``--store`` given after a subcommand: the same as before it."""
    if value is None:
        return
    obj = ctx.find_object(CliContext)
    if obj is None or obj.shared:  # run by a server: its settings name the store already
        return
    setattr(obj, str(param.name), value)
    obj.reset_settings()


def _prepare(command: click.Command) -> None:
    """Give ``command`` (and its subcommands) ``--db``/``--store`` and client-relative paths.

    A group gets them too: ``koc runs --db x.duckdb`` (a group that runs on its own)
    and ``koc roles --db x.duckdb summary`` both work.
    """
    if getattr(command, "_koc_prepared", False):
        return
    command._koc_prepared = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _prepare(sub)
    for param in command.params:
        if isinstance(param.type, click.Path) and not isinstance(param.type, CwdPath):
            param.type = CwdPath.like(param.type)
    names = {opt for p in command.params for opt in p.opts}
    command.params += [
        p
        for p in store_params(expose_value=False, is_eager=True, callback=_set_global)
        if not names & set(p.opts)
    ]


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@store_options
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
    if isinstance(ctx.obj, CliContext):  # run by `koc serve` for a client: keep its context
        ctx.obj.debug = debug
        return
    ctx.obj = CliContext(db=db, store=store, debug=debug)


#: command name (the module's name, ``_`` read as ``-``) -> module defining it
_MODULE_BY_COMMAND: dict[str, str] = {
    name.rsplit(".", 1)[1].replace("_", "-"): name for name in COMMAND_MODULES
}


def run(argv: list[str], *, obj: CliContext | None = None) -> int:
    """Run ``koc ARGV`` here and return its exit status (errors printed, not raised).

    ``obj`` is the context to run with (``koc serve`` passes its own settings and
    store for a forwarded command); by default one is built from the options.
    """
    debug = "--debug" in argv
    try:
        status = cli.main(args=argv, prog_name="koc", standalone_mode=False, obj=obj)
        return status if isinstance(status, int) else 0  # ctx.exit(N) inside a command
    except click.exceptions.Abort:
        hint = " (it asks for confirmation: add --yes)" if obj is not None and obj.shared else ""
        click.echo(f"Aborted{hint}.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KocError as exc:
        if debug and obj is None:
            raise
        message = cli_message(exc, invoked_command(cli, list(argv)))
        click.secho(f"Error: {message}", fg="red", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing half-written was kept.", err=True)
        return 130
    except Exception as exc:  # a damaged store or a full disk: one clear line, no traceback
        fault = fault_of(exc, _db_arg(argv) or os.environ.get("KOC_DB_PATH"))
        if fault is None or (debug and obj is None):
            raise
        click.secho(f"Error: {fault.message}", fg="red", err=True)
        return 2


def _db_arg(argv: list[str]) -> str | None:
    """The value of ``--db`` in ``argv`` (for naming the store in an error), if any."""
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the command here, or in the ``koc serve`` holding its store."""
    from api.cli._server_link import forward, link_for_argv

    args = list(sys.argv[1:] if argv is None else argv)
    link = link_for_argv(args)
    if link is None:
        status = run(args)
    else:
        try:
            status = forward(link, args, Path(os.getcwd()))
        except KocError as exc:
            click.secho(f"Error: {exc.message}", fg="red", err=True)
            status = 2
    if status:
        sys.exit(status)
