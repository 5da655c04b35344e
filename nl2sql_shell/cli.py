"""Command line: `nl2sql-shell [OPTIONS] [DBNAME|URI|CONNINFO]` plus `eval`, `bench`, `finetune`, `proxy`.

psql's flags where they overlap (-h is the host, so help is --help or -?). Nothing heavy is
imported here: torch and transformers load only when a `?` question or a subcommand needs them.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from nl2sql_shell import __version__
from nl2sql_shell.config import rules_option
from nl2sql_shell.display_flags import display_options
from nl2sql_shell.model_choice import model_options
from nl2sql_shell.nl2sql import DEFAULT_CANDIDATES
from nl2sql_shell.session_flags import session_options


class _ShellGroup(click.Group):
    """Anything that is not a subcommand name goes to the shell, as with psql's arguments."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["shell", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        """A subcommand's one-line error, safe on a terminal: a suite, a dump or a model
        server may put escape sequences in it (a window title, a cleared screen)."""
        from nl2sql_shell.db.cells import visible

        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = visible(exc.message)
            raise


class _InOrderCommand(click.Command):
    """Keeps the order of -c and -f on the command line (psql runs them in that order), and of
    the output flags (psql applies them in that order)."""

    def make_parser(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_in_order(args: list[str]):  # type: ignore[no-untyped-def]
            opts, rest, order = parse(args)
            ctx.meta["actions"] = [param.name for param in order if param.name in ("commands", "files")]
            ctx.meta["order"] = [param.name for param in order]  # -A --csv -H -P format=: the last one wins
            return opts, rest, order

        parser.parse_args = parse_in_order  # type: ignore[method-assign]
        return parser

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """An unknown option or a missing argument ends the program as psql's does: getopt's
        line, psql's hint, exit code 1. `--help=TOPIC` is psql's help on that topic, met where
        getopt meets it: an error earlier on the line is the one told."""
        try:
            words = list(_words(self.get_params(ctx), args))
        except _Ambiguous as exc:
            click.echo(f"nl2sql-shell: {exc}", err=True)
            _hint(ctx)
        try:
            return super().parse_args(ctx, [word for word, _ in words])
        except click.UsageError as exc:
            if isinstance(exc, click.BadOptionUsage) and exc.option_name == "--help":  # `--help=TOPIC`, which click's flag refuses
                _help_topic(ctx, next(word for word, own in words if own and word.startswith("--help=")).partition("=")[2])
            complaint = _getopt_complaint(self, exc)
            if complaint is None:
                raise
            click.echo(f"nl2sql-shell: {complaint}", err=True)
            _hint(ctx)


def _hint(ctx: click.Context) -> NoReturn:
    """psql's last words on a command line it cannot use: the hint, exit code 1."""
    click.echo('nl2sql-shell: hint: Try "nl2sql-shell --help" for more information.', err=True)
    ctx.exit(1)


def _help_topic(ctx: click.Context, topic: str) -> NoReturn:
    """psql's `--help=options|commands|variables`: that help on standard output, unpaged,
    exit code 0; `\\?`'s settings are the defaults, with no connection. Another topic is
    psql's hint."""
    from nl2sql_shell.db.settings import Settings
    from nl2sql_shell.repl.help import topic_help

    text = topic_help(topic, Settings(), None)
    if text is None:
        _hint(ctx)
    click.echo(text, nl=False)
    ctx.exit(0)


class _Ambiguous(Exception):
    """A long option's prefix that several options start with: getopt's line."""


# psql's long options in its own order (startup.c), which getopt lists the possibilities of
# an ambiguous prefix in; ours that psql lacks come after.
_PSQL_LONG_OPTIONS = tuple(
    "--" + name
    for name in (
        "echo-all no-align command dbname echo-queries echo-errors echo-hidden file field-separator field-separator-zero host html"
        " list log-file no-readline single-transaction output port pset quiet record-separator record-separator-zero single-step"
        " single-line tuples-only table-attr username set variable version no-password password expanded no-psqlrc help csv"
    ).split()
)


def _words(params: list[click.Parameter], args: list[str]) -> Iterator[tuple[str, bool]]:
    """The line's words as getopt_long reads them, each with whether getopt reads it itself
    (False for an option's value and for what follows `--`). A long option's unique prefix is
    that option, which psql takes (`--tuples` is --tuples-only, `--comm=...` --command); one
    several options start with is getopt's error (_Ambiguous). The value of an option that
    takes one is never read as an option."""
    options = [p for p in params if isinstance(p, click.Option)]
    names = sorted({name for p in options for name in (*p.opts, *p.secondary_opts) if name.startswith("--")})
    valued = {name for p in options if not p.is_flag and not p.count for name in p.opts}
    value_next = False
    for index, arg in enumerate(args):
        if value_next or arg == "--":
            if not value_next:
                yield from ((word, False) for word in args[index:])
                return
            yield arg, False
            value_next = False
            continue
        if arg.startswith("--") and len(arg) > 2:
            name, equals, value = arg.partition("=")
            found = [known for known in names if known.startswith(name)]
            if name not in names and len(found) > 1:
                order = sorted(found, key=lambda known: _PSQL_LONG_OPTIONS.index(known) if known in _PSQL_LONG_OPTIONS else len(_PSQL_LONG_OPTIONS))
                raise _Ambiguous(f"option '{name}' is ambiguous; possibilities: " + " ".join(f"'{known}'" for known in order))
            name = found[0] if name not in names and found else name
            arg, value_next = name + equals + value, not equals and name in valued
        elif arg.startswith("-") and len(arg) > 1:  # `-Xc`: the first letter that takes a value ends the cluster
            letters = arg[1:]
            at = next((i for i, letter in enumerate(letters) if f"-{letter}" in valued), None)
            value_next = at == len(letters) - 1
        yield arg, True


def _getopt_complaint(command: click.Command, exc: click.UsageError) -> str | None:
    """What glibc's getopt says of the usage error psql's option parser would meet; None for
    an error of one of our own options' values."""
    if isinstance(exc, click.NoSuchOption):
        name = exc.option_name
        return f"unrecognized option '{name}'" if name.startswith("--") else f"invalid option -- '{name[1:]}'"
    if not isinstance(exc, click.BadOptionUsage):
        return None
    name = exc.option_name
    if not name.startswith("--"):
        return f"option requires an argument -- '{name[1:]}'"
    flag = any(isinstance(param, click.Option) and param.is_flag and name in param.opts for param in command.params)
    return f"option '{name}' doesn't allow an argument" if flag else f"option '{name}' requires an argument"


def _positionals(options: dict[str, object]) -> None:
    """psql's words after the options: the database name unless -d gave one, then the user
    name unless -U did; a warning for each word left (none under -q or QUIET)."""
    from nl2sql_shell.repl.variables import boolean

    words = [word for word in (options["target"], options["username_arg"], *options.pop("extra")) if word is not None]  # type: ignore[misc]
    options["target"] = options["username_arg"] = None
    for name in ("dbname", "username"):
        if options[name] is None and words:
            options[name] = words.pop(0)
    quiet = [assignment.partition("=")[2] for assignment in options["variables"] if assignment.startswith("QUIET=")]  # type: ignore[attr-defined]
    if not boolean(quiet[-1] if quiet else None):
        for word in words:
            click.echo(f'nl2sql-shell: warning: extra command-line argument "{word}" ignored', err=True)


def _show_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """-V/--version anywhere on the line, as psql's: the version line on stdout, exit 0 before
    anything connects. psql's shape (``psql (PostgreSQL) 15.18``) with this program's name."""
    if value:
        click.echo(f"nl2sql-shell (nl2sql-shell) {__version__}")
        ctx.exit(0)


@click.group(cls=_ShellGroup, context_settings={"help_option_names": ["--help", "-?"]})
def main() -> None:
    """psql with a local text-to-SQL model inside."""
    _reopen_closed_standard_streams()


def _reopen_closed_standard_streams() -> None:
    """A standard descriptor the caller closed (`nl2sql-shell -c ... >&-`) is held by
    /dev/null, so that the next file or socket opened does not take its number (a `\\!`
    command's output went into it). Python had left sys.stdout None, so every result was
    dropped in silence with exit 0, where psql says "could not print result table: Bad file
    descriptor" and exits 1: standard output stays a stream whose every write fails so."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_WRONLY if fd == 2 else os.O_RDONLY)  # (fd 1 read-only: a child's writes fail too)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        setattr(sys, name, _Unwritable() if fd == 1 else open(fd, "w" if fd else "r", closefd=False))  # noqa: SIM115 - the process's own


class _Unwritable(io.TextIOBase):
    """Standard output the caller closed: nothing is held back to fail again at exit."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def fileno(self) -> int:
        return 1


@main.command("shell", cls=_InOrderCommand, context_settings={"help_option_names": ["--help", "-?"]})
@click.argument("target", required=False)
@click.argument("username_arg", required=False, metavar="[USERNAME]")
@click.argument("extra", nargs=-1, required=False, metavar="")
@click.option("-h", "--host", help="database server host or socket directory")
@click.option("-p", "--port", help="database server port")
@click.option("-U", "--username", help="database user name")
@click.option("-d", "--dbname", help="database name to connect to")
@click.option("-W", "--password", "prompt_password", is_flag=True, help="force password prompt")
@click.option("-c", "--command", "commands", multiple=True, help="run only this command (SQL, \\meta or ? question); repeatable")
@click.option("-f", "--file", "files", multiple=True, type=click.Path(), help="execute commands from file, then exit")
@click.option("-v", "--set", "--variable", "variables", multiple=True, metavar="NAME=VALUE", help="set variable (e.g. ON_ERROR_STOP=1)")
@click.option("--csv", is_flag=True, help="CSV (comma-separated values) table output mode")
@click.option("-t", "--tuples-only", is_flag=True, help="print rows only")
@click.option("-x", "--expanded", is_flag=True, help="turn on expanded table output")
@click.option("-X", "--no-psqlrc", is_flag=True, help="do not read start-up files (~/.psqlrc)")
@click.option("-q", "--quiet", is_flag=True, help="run quietly (no banner, no command tags or \\pset messages)")
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version, help="output version information, then exit")
@display_options
@session_options
@click.option("--demo", is_flag=True, help="use the embedded PostgreSQL and its demo database")
@click.option("--vi", is_flag=True, help="vi editing mode (F4 toggles)")
@model_options
@click.option("--yes", is_flag=True, help="with -c '? ...': run the answer if it only reads")
@click.option("--candidates", type=click.IntRange(min=1), default=None, help=f"queries written per question, voted on by their rows  [default: {DEFAULT_CANDIDATES}]")
@rules_option
@click.pass_context
def shell_command(ctx: click.Context, **options) -> None:
    """Connect like psql and start the shell (or run -c / -f / stdin and exit).

    Subcommands: proxy, eval, bench, finetune (see `nl2sql-shell COMMAND --help`).
    """
    from nl2sql_shell.startup import run_shell

    _positionals(options)
    values = {"commands": iter(options["commands"]), "files": iter(options["files"])}
    actions = tuple(("c" if name == "commands" else "f", next(values[name])) for name in ctx.meta.get("actions", []))
    try:
        code = run_shell(**options, actions=actions)
    except BrokenPipeError:
        _end_by_sigpipe()
    sys.exit(code)


def _end_by_sigpipe() -> NoReturn:
    """Standard output's reader has gone (`| head -1`): end as psql ends, by SIGPIPE, so a
    pipeline's status (141 under `set -o pipefail`) is psql's, not click's status 1."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    raise SystemExit(141)  # (not reached: the signal ends the process)


def _register_subcommands() -> None:
    """Subcommands live in their own packages; importing them here stays cheap (no torch)."""
    from nl2sql_shell.bench.command import bench
    from nl2sql_shell.eval.command import eval_command
    from nl2sql_shell.finetune.command import finetune
    from nl2sql_shell.proxy.command import proxy

    main.add_command(eval_command, "eval")
    main.add_command(bench, "bench")
    main.add_command(finetune, "finetune")
    main.add_command(proxy, "proxy")


_register_subcommands()
