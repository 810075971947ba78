"""What the command line adds to a library error: the option or command to use next.

Library messages speak in domain terms (runs, role models, held entries, a function's
parameters); the CLI translates them into ``koc`` terms here, as the HTTP API does in
:mod:`api.http.errors`. A :class:`graph.errors.ParameterError` gets the option of the
invoked command that sets that parameter; a few errors get the command that shows what
exists.
"""

from __future__ import annotations

import click

from graph.errors import KocError, ParameterError

__all__ = ["NEXT_STEPS", "cli_message", "invoked_command"]

#: (error code, context key present) -> the command that helps next
NEXT_STEPS: dict[tuple[str, str], str] = {
    ("not_found", "run_id"): "`koc runs` lists the runs.",
    ("not_found", "model_version"): "`koc roles infer` trains one.",
    ("not_found", "entry_id"): "`koc commissions holds` lists held entries.",
}


def invoked_command(group: click.Group, argv: list[str]) -> click.Command | None:
    """The (sub)command ``argv`` runs, found without running it (None when unclear)."""
    command: click.Command = group
    ctx = click.Context(group)
    args = iter(argv)
    for arg in args:
        if not isinstance(command, click.Group):
            break
        if arg.startswith("-"):
            option = next((p for p in command.params if arg.split("=")[0] in p.opts), None)
            if isinstance(option, click.Option) and not option.is_flag and "=" not in arg:
                next(args, None)  # the option's value
            continue
        found = command.get_command(ctx, arg)
        if found is None:
            return None
        command = found
    return None if command is group else command


def _option(command: click.Command, parameter: str) -> str | None:
    for param in command.params:
        if isinstance(param, click.Option) and param.name == parameter:
            return max(param.opts, key=len)
    return None


def cli_message(exc: KocError, command: click.Command | None) -> str:
    """``exc``'s message with the option or command a CLI user needs next."""
    message = exc.message
    if isinstance(exc, ParameterError) and command is not None:
        option = _option(command, exc.parameter)
        if option is not None:
            message += f" (option {option})"
    for (code, key), step in NEXT_STEPS.items():
        if exc.code == code and key in exc.context:
            message += f" {step}"
            break
    return message
