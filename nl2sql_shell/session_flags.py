"""psql's session flags: -a -e -b -E -s -S -1 -L -n -w -l, as one click decorator.

Most of them only set one of psql's variables (ECHO, ECHO_HIDDEN, SINGLESTEP, SINGLELINE), which
the shell reads where psql reads them, so `\\set ECHO queries` in a script does what -e does.
They are gathered into one ``session`` argument so that the command line and `run_shell` grow
by one name (see display_flags.py for the output flags).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class SessionFlags:
    echo_all: bool = False
    echo_queries: bool = False
    echo_errors: bool = False
    echo_hidden: bool = False
    single_step: bool = False
    single_line: bool = False
    single_transaction: bool = False
    log_file: str | None = None
    no_readline: bool = False
    no_password: bool = False
    list_databases: bool = False

    def variables(self) -> dict[str, str]:
        """The psql variables these flags set, as psql's option parser sets them."""
        values: dict[str, str] = {}
        for flag, echo in ((self.echo_errors, "errors"), (self.echo_queries, "queries"), (self.echo_all, "all")):
            if flag:
                values["ECHO"] = echo
        for flag, name in ((self.echo_hidden, "ECHO_HIDDEN"), (self.single_step, "SINGLESTEP"), (self.single_line, "SINGLELINE")):
            if flag:
                values[name] = "on"
        return values


_OPTIONS = (
    click.option("-a", "--echo-all", is_flag=True, help="echo all input from script"),
    click.option("-e", "--echo-queries", is_flag=True, help="echo commands sent to server"),
    click.option("-b", "--echo-errors", is_flag=True, help="echo failed commands"),
    click.option("-E", "--echo-hidden", is_flag=True, help="display queries that internal commands generate"),
    click.option("-s", "--single-step", is_flag=True, help="single-step mode (confirm each query)"),
    click.option("-S", "--single-line", is_flag=True, help="single-line mode (end of line terminates SQL command)"),
    click.option("-1", "--single-transaction", is_flag=True, help="execute as a single transaction (with -c or -f)"),
    click.option("-L", "--log-file", metavar="FILENAME", help="send session log to file"),
    click.option("-n", "--no-readline", is_flag=True, help="disable enhanced command line editing (readline)"),
    click.option("-w", "--no-password", is_flag=True, help="never prompt for password"),
    click.option("-l", "--list", "list_databases", is_flag=True, help="list available databases, then exit"),
)


# What each flag sets, as psql's option parser sets it (-q, a flag of the command's own, too).
_ASSIGNMENTS = {
    "echo_all": "ECHO=all",
    "echo_queries": "ECHO=queries",
    "echo_errors": "ECHO=errors",
    "echo_hidden": "ECHO_HIDDEN=on",
    "single_step": "SINGLESTEP=on",
    "single_line": "SINGLELINE=on",
    "quiet": "QUIET=on",
}


def session_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the flags to a click command; its callback receives them as ``session=SessionFlags``,
    and its ``variables`` (the -v assignments) with the flags' own among them in command-line
    order (see `in_order`)."""

    @functools.wraps(command)
    def packed(*args: object, **options: object) -> None:
        names = SessionFlags.__dataclass_fields__
        flags = SessionFlags(**{name: options.pop(name) for name in names})  # type: ignore[arg-type]
        order = click.get_current_context().meta.get("order")
        if order is not None:
            options["variables"] = in_order(order, options["variables"])  # type: ignore[arg-type]
            if flags.no_password and options.get("prompt_password"):  # psql keeps one setting: the later of -W and -w
                if _last_of(order, ("no_password", "prompt_password")) == "no_password":
                    options["prompt_password"] = False
                else:
                    flags = dataclasses.replace(flags, no_password=False)
        for name in _invalid_names(options["variables"]):  # type: ignore[arg-type]
            click.echo(f'nl2sql-shell: error: invalid variable name: "{name}"', err=True)
            sys.exit(1)  # as psql's option parser, before connecting
        command(*args, session=flags, **options)

    for option in reversed(_OPTIONS):
        packed = option(packed)
    return packed


def in_order(order: list[str], assignments: tuple[str, ...]) -> tuple[str, ...]:
    """The -v assignments with the flags' own (-e is ``ECHO=queries``) in their places: psql
    sets each variable as it reads the option, so the last of ``-a -e -b -v ECHO=...`` wins,
    and ``-v QUIET=off -q`` is quiet. ``order``: the parameter names, once per use."""
    given = iter(assignments)
    ordered = [next(given) if name == "variables" else _ASSIGNMENTS.get(name) for name in order]
    return tuple(assignment for assignment in ordered if assignment is not None)


def _last_of(order: list[str], names: tuple[str, ...]) -> str:
    return [name for name in order if name in names][-1]


def _invalid_names(assignments: tuple[str, ...]) -> list[str]:
    """The names psql refuses to set (-v NAME=VALUE): empty, or with a character other than
    an ASCII letter, digit or ``_`` or a non-ASCII one; unsetting such a name is no error."""
    from nl2sql_shell.repl.variables import valid_name

    names = [name for name, equals, _ in (assignment.partition("=") for assignment in assignments) if equals]
    return [name for name in names if not valid_name(name)]


def run_single_transaction(shell, run: Callable[[], int]) -> int:  # noqa: ANN001 - Shell
    """-1: BEGIN, the -c strings and -f files, then COMMIT; ROLLBACK instead when ON_ERROR_STOP
    ended the run on an error, as psql 15 does (without ON_ERROR_STOP the COMMIT of a failed
    transaction is the server's ROLLBACK)."""
    from nl2sql_shell.repl.shell import StopScript
    from nl2sql_shell.repl.variables import boolean

    shell.run_hidden("BEGIN")
    try:
        code = run()
    except StopScript:
        shell.run_hidden("ROLLBACK")
        raise
    stopping = boolean(shell.variables.get("ON_ERROR_STOP"))
    if not shell.run_hidden("ROLLBACK" if code != 0 and stopping else "COMMIT") and stopping:
        raise StopScript()  # a COMMIT that failed (a deferred constraint): psql 15's exit code 3 (0 without ON_ERROR_STOP)
    return code
