"""The `koc` entry point: lazy subcommands, --help everywhere, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from api.cli import COMMAND_MODULES, cli, main
from graph.errors import NotFoundError, ParameterError


def _all_commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"koc {' '.join((*prefix, name))} does not load"
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, ctx, (*prefix, name))


def test_cli_every_module_registers_one_command() -> None:
    ctx = click.Context(cli)
    names = set(cli.list_commands(ctx))
    for module in COMMAND_MODULES:
        assert module.rsplit(".", 1)[1].replace("_", "-") in names


def test_cli_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = click.Context(cli)
    paths = [path for path, _ in _all_commands(cli, ctx)]
    assert {("ingest",), ("rank",), ("top",), ("commissions", "run"), ("serve",)} <= set(paths)
    for path in paths:
        try:
            main([*path, "--help"])
        except SystemExit as exc:  # pragma: no cover - only on failure
            pytest.fail(f"koc {' '.join(path)} --help exited with {exc.code}")
        out = capsys.readouterr().out
        assert out.startswith("Usage: koc " + " ".join(path)), path
        assert len(out.splitlines()) > 3, f"koc {' '.join(path)} --help explains nothing"


def test_cli_every_option_has_help_and_every_limit_has_n() -> None:
    ctx = click.Context(cli)
    missing, no_short, progress = [], [], set()
    for path, cmd in _all_commands(cli, ctx):
        for param in cmd.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            if not param.help:
                missing.append(f"koc {' '.join(path)} {param.opts[0]}")
            if "--limit" in param.opts and "-n" not in param.opts:
                no_short.append(f"koc {' '.join(path)}")
            if {"--progress", "--quiet", "-q", "--no-progress"} & {
                *param.opts,
                *param.secondary_opts,
            }:
                progress.add((tuple(param.opts), tuple(sorted(param.secondary_opts))))
    assert missing == [] and no_short == []
    # one convention everywhere: --progress/--no-progress, -q and --quiet meaning --no-progress
    assert progress == {(("--progress",), ("--no-progress", "--quiet", "-q"))}


def test_cli_progress_flag_every_spelling_works(tmp_path: Path) -> None:
    runner = CliRunner()
    for i, flag in enumerate(("--progress", "--no-progress", "-q", "--quiet")):
        out = tmp_path / f"d{i}"
        result = runner.invoke(cli, ["synth", "--users", "200", "--out", str(out), flag])
        assert result.exit_code == 0, (flag, result.output)
        assert (out / "manifest.json").exists()


def test_cli_every_command_takes_db_and_store_after_its_name() -> None:
    ctx = click.Context(cli)
    for path, cmd in _all_commands(cli, ctx):
        if isinstance(cmd, click.Group):
            continue
        opts = {o for p in cmd.params for o in p.opts}
        assert {"--db", "--store"} <= opts, f"koc {' '.join(path)}"
    db_help = {p.help for p in cli.params if "--db" in p.opts}
    sub_help = {p.help for p in cli.get_command(ctx, "top").params if "--db" in p.opts}
    assert db_help == sub_help  # one definition of the option for both places


@pytest.mark.parametrize("args", [("runs", "--json"), ("roles", "summary", "--json")])
def test_cli_db_before_or_after_the_subcommand_reads_the_same_store(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    from graph.duckdb_store import DuckDBStore

    db = tmp_path / "x.duckdb"
    DuckDBStore(db).close()
    runner = CliRunner()
    before = runner.invoke(cli, ["--db", str(db), *args])
    after = runner.invoke(cli, [*args, "--db", str(db)])
    assert before.exit_code == after.exit_code == 0, (before.output, after.output)
    assert f"store: {db}" in before.stderr and f"store: {db}" in after.stderr
    first, second = json.loads(before.stdout), json.loads(after.stdout)
    if isinstance(first, dict):  # roles summary: "at" is the time of the call
        first.pop("at"), second.pop("at")
    assert first == second


def test_cli_every_argument_is_explained_in_its_command_help() -> None:
    # click arguments carry no help text of their own: the command's docstring names them
    ctx = click.Context(cli)
    unexplained = [
        f"koc {' '.join(path)} {param.human_readable_name}"
        for path, cmd in _all_commands(cli, ctx)
        for param in cmd.params
        if isinstance(param, click.Argument)
        and param.human_readable_name.upper() not in (cmd.help or "")
    ]
    assert unexplained == []


def test_cli_serve_help_shows_default_values(capsys: pytest.CaptureFixture[str]) -> None:
    main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "[default: 127.0.0.1, or KOC_API_HOST]" in out
    assert "[default: 8000, or KOC_API_PORT]" in out


def test_main_turns_koc_errors_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    @cli.command("_fail_for_test")
    def _fail() -> None:
        raise NotFoundError("No ranking run 'x'; `koc runs` lists the runs.")

    try:
        with pytest.raises(SystemExit) as exc:
            main(["_fail_for_test"])
    finally:
        cli.commands.pop("_fail_for_test")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "No ranking run 'x'" in err and "Traceback" not in err


def test_main_keeps_exit_code_of_ctx_exit() -> None:
    @cli.command("_exit3_for_test")
    @click.pass_context
    def _exit3(ctx: click.Context) -> None:
        ctx.exit(3)

    try:
        with pytest.raises(SystemExit) as exc:
            main(["_exit3_for_test"])
    finally:
        cli.commands.pop("_exit3_for_test")
    assert exc.value.code == 3


def test_main_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "No such command" in capsys.readouterr().err


def test_configuration_docs_list_every_setting() -> None:
    from pathlib import Path

    from graph.settings import Settings

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`KOC_{n.upper()}`" not in doc]
    assert not missing, f"docs/configuration.md does not describe {missing}"


def test_cli_error_names_the_option_of_a_bad_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    # the library names the function's parameter; the CLI adds the flag that sets it
    @cli.command("_param_for_test")
    @click.option("--max-hops", "max_hops", type=int, default=0)
    def _param(max_hops: int) -> None:
        raise ParameterError(
            f"The 'max_hops' parameter of reach must be an int >= 1. Got {max_hops} instead.",
            parameter="max_hops",
        )

    try:
        with pytest.raises(SystemExit) as exc:
            main(["--db", "unused.duckdb", "_param_for_test", "--max-hops", "0"])
    finally:
        cli.commands.pop("_param_for_test")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "The 'max_hops' parameter of reach must be an int >= 1. Got 0 instead." in err
    assert "(option --max-hops)" in err


def test_cli_error_adds_the_command_that_lists_runs(tmp_path, capsys):
    from graph.duckdb_store import DuckDBStore

    DuckDBStore(tmp_path / "k.duckdb").close()  # a store without runs
    with pytest.raises(SystemExit):
        main(["--db", str(tmp_path / "k.duckdb"), "runs", "show", "r-missing"])
    err = capsys.readouterr().err
    assert "No ranking run 'r-missing' in the store." in err
    assert "`koc runs` lists the runs." in err


def test_cli_runs_shows_run_of_killed_process_as_abandoned(tmp_path, capsys):
    import json
    import socket
    import subprocess
    import sys
    from datetime import UTC, datetime

    from graph.duckdb_store import DuckDBStore
    from graph.store import RunRecord

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the `koc rank` that was killed
    with DuckDBStore(tmp_path / "k.duckdb") as store:
        owner = {"host": socket.gethostname(), "pid": gone.pid}
        killed = RunRecord("r-killed", datetime(2026, 1, 1, tzinfo=UTC), params={"owner": owner})
        store.save_run(killed)
        other = {"host": "another-host", "pid": 1}
        away = RunRecord("r-away", datetime(2026, 1, 2, tzinfo=UTC), params={"owner": other})
        store.save_run(away)
    try:
        main(["--db", str(tmp_path / "k.duckdb"), "runs", "--json"])
    except SystemExit as done:
        assert done.code in (0, None)
    status = {r["run_id"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert status == {"r-killed": "abandoned", "r-away": "running"}  # other hosts: not judged
    with DuckDBStore(tmp_path / "k.duckdb", read_only=True) as store:
        assert store.get_run("r-killed").status == "running"  # a read-only listing writes nothing
