"""`\\g`, `\\gx`, `\\gset`, `\\gdesc`, `\\gexec`: send the query buffer, as psql 15 does after
query text on a line.

psql's lexer ends a line's SQL at a backslash; `select 1 \\g` sends ``select 1 `` (the text as
typed, without a semicolon), `\\gx` shows it expanded, `\\g FILE` writes that one result to
FILE, and `\\gset [PREFIX]` stores the one row's columns in variables (a NULL unsets one);
`\\gdesc` shows the result's columns and types without running the query, `\\gexec` runs each
value of the result as a query of its own.
With an empty buffer they send the previous query again. Any other command leaves the buffer
pending, to be finished on a later line.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable, Iterator
from typing import IO
from dataclasses import dataclass, field, replace

import psycopg

from nl2sql_shell.db import format as fmt
from nl2sql_shell.db.as_sent import as_query
from nl2sql_shell.db.copy import copy_direction
from nl2sql_shell.db.execute import Outcome, error_text
from nl2sql_shell.db.settings import Settings
from nl2sql_shell.output import Output
from nl2sql_shell.repl.conditionals import CONDITIONAL_COMMANDS, branch
from nl2sql_shell.repl.pipes import close_pipe, open_pipe
from nl2sql_shell.repl.session_commands import BUFFER_COMMANDS, buffer_command
from nl2sql_shell.repl.shell import Shell, StopScript
from nl2sql_shell.repl.special_variables import HOOKED
from nl2sql_shell.repl.statements import split_meta_command, statement_pieces
from nl2sql_shell.repl.transactions import implicit_transaction, no_transaction, run_in_transaction_mode
from nl2sql_shell.repl.variables import boolean, drop_word_semicolons, meta_arguments, meta_words, substitute, valid_name, without_unterminated

SENDERS = ("\\g", "\\gx", "\\gset", "\\gdesc", "\\gexec", "\\crosstabview", "\\watch")


def query_buffer(text: str) -> str:
    """The buffer psql sends: leading blanks dropped, the line break before the command too."""
    text = text.lstrip()
    return text.removesuffix("\n")


def run_with_buffer(shell: Shell, buffer: str, line: str) -> str:
    """Run the meta-command ``line`` that followed query text ``buffer``; returns what stays in
    the query buffer ("" once sent)."""
    from nl2sql_shell.repl import metacommands

    name, argument = split_meta_command(line)
    argument = argument.removeprefix(" ")
    if metacommands.refused(shell, name):
        return buffer
    if name in CONDITIONAL_COMMANDS:
        shell.last_failed = False
        return branch(shell, name, argument, buffer)
    if name in BUFFER_COMMANDS and shell.conditions.active():
        return buffer_command(shell, name, buffer, argument)
    if name in ("\\e", "\\edit") and shell.conditions.active():
        return metacommands.edit_buffer(shell, buffer, argument)
    if name not in SENDERS:
        metacommands.run(shell, line)
        return buffer
    if not shell.conditions.active():  # a branch of \\if not taken: nothing sent, the buffer kept (psql)
        if shell.interactive:
            shell.error(f"{name} command ignored; use \\endif or Ctrl-C to exit current \\if block")
        return buffer
    return "" if send(shell, name, buffer, argument) else buffer


def send(shell: Shell, name: str, buffer: str, argument: str, *, options: bool = True) -> bool:
    """One of \\g, \\gx, \\gset, \\watch with its argument; an empty buffer means the previous
    query. False when \\g's (OPTIONS) were refused: nothing was sent, the buffer stays.
    ``options``: a ( begins print options (after them it begins a file name)."""
    if options and name in ("\\g", "\\gx") and argument.lstrip().startswith("("):
        with print_options(shell, name, argument) as rest:
            if rest is None:
                return False
            send(shell, name, buffer, rest, options=False)
        return True
    if name == "\\watch":
        from nl2sql_shell.repl.psql_only import watch

        watch(shell, buffer, drop_word_semicolons(argument))
        return True
    if not (name in ("\\g", "\\gx") and argument.lstrip().startswith("|")):  # `\\g |cmd` takes the line as typed
        argument = without_unterminated(argument, shell.meta_error)
    _warn_unread(shell, name, argument)
    sql = buffer if buffer.strip() else shell.previous_query()
    if not sql.strip() and (name != "\\gdesc" or not shell.has_query_buffer):  # (psql describes the empty query: "The command has no result, ..."; a -c meta-command has no buffer to send)
        return True
    verbatim = not buffer.strip()  # the previous query is sent as it went: its variables already in
    words = meta_arguments(argument, shell.variables)
    ended: Callable[[bool], None] = no_transaction
    if name in ("\\gset", "\\gexec", "\\crosstabview"):
        last = _last_statement(shell, sql, verbatim)
        if last is None:
            return True
        sql, ended = last
        if copy_direction(sql) is not None:  # a COPY is run as any query, its rows none of theirs (psql)
            ended(shell.run_sql(sql, verbatim=verbatim).ok)
            return True
    if name in ("\\gset", "\\gdesc", "\\gexec", "\\crosstabview"):
        shell.sent_at = None
        if name == "\\crosstabview":
            from nl2sql_shell.repl.crosstab import crosstab

            crosstab(shell, sql, drop_word_semicolons(argument), verbatim, ended)
        elif name == "\\gset":
            _gset(shell, sql, words[0] if words else "", verbatim, ended)
        elif name == "\\gexec":
            _gexec(shell, sql, verbatim, ended)
        elif shell.announce(sql := sql if verbatim else substitute(sql, shell.variables)):  # (timed by the executor)
            described = run_in_transaction_mode(shell.conn, sql, shell.variables, shell.interactive, lambda: shell.executor.describe_result(sql))  # psql's SendQuery: BEGIN, savepoint
            shell.last_failed, shell.last_sql = not described.succeeded, sql
            shell.record_result(described)  # ROW_COUNT: the columns described, as psql counts its rows
        shell.say_timing(shell.sent_at)  # after the rows are handled, failed or not (psql's SendQuery)
        if shell.last_failed and shell.echo == "errors" and shell.sent_at is not None:  # (-b) as SendQuery echoes a query that failed
            shell.error(f"{shell.location}STATEMENT:  {shell.last_sql}")
        if shell.last_failed and shell.stops_on_error():
            raise StopScript()
        return True
    target = argument.strip() if argument.strip().startswith("|") else words[0] if words else None
    with _expanded(shell, name == "\\gx"), _output_to(shell, target):
        shell.run_sql(sql, verbatim=verbatim)
    return True


# The words each sender reads (after \\g's options); psql warns of the others before it sends.
_WORDS_READ = {"\\g": 1, "\\gx": 1, "\\gset": 1, "\\gexec": 0, "\\gdesc": 0, "\\crosstabview": 4}


def _warn_unread(shell: Shell, name: str, argument: str) -> None:
    if name in ("\\g", "\\gx") and argument.lstrip().startswith("|"):  # the command takes the line
        return
    for word in meta_arguments(argument, shell.variables, evaluated=0)[_WORDS_READ[name]:]:
        shell.meta_warning(f'{name}: extra argument "{word}" ignored')


def _last_statement(shell: Shell, sql: str, verbatim: bool) -> tuple[str, Callable[[bool], None]] | None:
    """Of a buffer joined by ``\\;``, the statement whose result \\gset, \\gexec and
    \\crosstabview take, and what to call with whether it went well once its rows are read
    (the end of psql's one implicit transaction, see `implicit_transaction`); the ones before
    it run first, their results printed as psql prints them. None when one of those failed
    (psql's one query stops there)."""
    pieces = statement_pieces(sql)
    if len(pieces) < 2:
        return sql, no_transaction
    ended = implicit_transaction(shell.conn, pieces, shell.variables)
    if not shell.run_sql("\n".join(pieces[:-1]), verbatim=verbatim).ok:
        ended(False)
        shell.last_failed = True
        return None
    return pieces[-1], ended


@contextlib.contextmanager
def print_options(shell: Shell, name: str, argument: str) -> Iterator[str | None]:
    """psql's `\\g (OPTION[=VALUE] ...) [FILE]`: each option set as `\\pset` sets it (no
    message) for this one query, every setting back afterwards. Yields the rest of the line
    (the file or |command), or None after psql's error for an option it refuses or a
    missing ``)``, when nothing is to be sent (and the settings are already back)."""
    from nl2sql_shell.repl.pset import PsetError, apply

    settings = shell.settings
    saved = replace(settings)
    rest: str | None = None
    try:
        for word, end in meta_words(argument.lstrip()[1:], shell.variables):
            closed = word.endswith(")")
            option = word.removesuffix(")")
            if option:
                option_name, equals, value = option.partition("=")
                apply(settings, option_name, value if equals else None)
            if closed:
                rest = argument.lstrip()[1 + end :]
                break
        else:
            shell.meta_error(f"{name}: missing right parenthesis")
    except PsetError as exc:
        shell.meta_error(str(exc))
    if rest is None:
        shell.last_failed = True
    _configure(shell, settings)
    try:
        yield rest
    finally:
        for field_name, value in vars(saved).items():
            setattr(settings, field_name, value)
        _configure(shell, settings)


def _configure(shell: Shell, settings: Settings) -> None:
    """The pager follows `\\pset pager`, which an option may have changed."""
    shell.output.configure_pager(settings.pager, settings.pager_min_lines)


class _expanded:
    """\\gx: expanded display for this one query, whatever \\x says."""

    def __init__(self, shell: Shell, on: bool) -> None:
        self.shell, self.on, self.saved = shell, on, shell.settings.expanded

    def __enter__(self) -> None:
        if self.on:
            self.shell.settings.expanded = "on"

    def __exit__(self, *_: object) -> None:
        self.shell.settings.expanded = self.saved


class _output_to:
    """\\g FILE: this one result's rows (or COPY data) go to FILE (`|command`: to the
    command's input), its command tag to the query output as psql prints it there; a FILE
    is created only once rows come for it, as psql opens it. \\o's target is back afterwards."""

    def __init__(self, shell: Shell, path: str | None) -> None:
        self.shell, self.path = shell, path
        self.saved: Output | None = None
        self.pipe = None
        self.file: _FileOnFirstWrite | None = None
        self.failed = False

    def __enter__(self) -> None:
        if self.path is None:
            return
        if self.path.startswith("|"):
            self.pipe = open_pipe(self.path[1:].strip(), self.shell.output.encoding)
            self._use(Output(self.pipe.stdin, use_pager=False, to_command=True, messages=self.shell.output.messages))
            return
        self.file = _FileOnFirstWrite(os.path.expanduser(self.path), self._cannot_open, self.shell.output.encoding)
        self._use(Output(self.file, use_pager=False, messages=self.shell.output.messages))  # type: ignore[arg-type]

    def _cannot_open(self, exc: OSError) -> None:
        """psql opens the file when rows come: the query has run, its rows are dropped, and
        the command failed (ON_ERROR_STOP stops after it)."""
        self.shell.meta_error(f"{self.path}: {exc.strerror}")
        self.shell.output.told_failure()  # as psql's: no result variables set, and -b's STATEMENT follows
        self.failed = True

    def _use(self, output: Output) -> None:
        self.saved = self.shell.output
        output.log = self.saved.log  # psql logs what \\g sent elsewhere too
        self.shell.executor.status_output = self.saved
        self.shell.output = output
        self.shell.executor.output = output

    def __exit__(self, *_: object) -> None:
        if self.saved is None:
            return
        if self.pipe is not None:
            close_pipe(self.pipe)
        elif self.file is not None:
            with contextlib.suppress(OSError):  # a write that failed is told already
                self.file.close()
        self.shell.output = self.shell.executor.output = self.saved
        self.shell.executor.status_output = None
        self.shell.last_failed = self.shell.last_failed or self.failed


class _FileOnFirstWrite:
    """A text file opened (truncated) only when the first text or bytes come for it; if it
    cannot be opened, ``cannot_open`` hears why once and what comes is dropped."""

    def __init__(self, path: str, cannot_open: Callable[[OSError], None], encoding: str = "utf-8") -> None:
        self.path, self.cannot_open, self.encoding = path, cannot_open, encoding
        self.handle: IO[str] | None = None
        self.dropped = False

    def _open(self) -> IO[str]:
        if self.handle is None and not self.dropped:
            try:
                self.handle = open(self.path, "w", encoding=self.encoding, errors="replace")  # noqa: SIM115 - closed by close(); in the client encoding, as \\o
            except OSError as exc:
                self.dropped = True
                self.cannot_open(exc)
        return self.handle if self.handle is not None else io.StringIO()

    def write(self, text: str) -> int:
        return self._open().write(text)

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    @property
    def buffer(self) -> IO[bytes]:
        """The binary file beneath, for COPY data."""
        handle = self._open()
        return handle.buffer if handle is self.handle else io.BytesIO()  # type: ignore[attr-defined]

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


@dataclass
class Result:
    """A query's whole result as text: what \\gset, \\gexec and \\crosstabview work on."""

    names: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)  # right-aligned, as psql aligns the type
    rows: list[tuple[str | None, ...]] = field(default_factory=list)
    status: str = ""  # the command tag: psql prints INSERT/UPDATE/DELETE's after what the rows were for

    def tag(self, shell: Shell) -> None:
        """The tag of a statement whose RETURNING rows \\gset, \\gexec or \\crosstabview
        took, printed after them (logged under QUIET), as psql prints it."""
        shell.executor.status_after_rows(self.status)


def fetch_result(shell: Shell, sql: str, limit: int | None = None, *, verbatim: bool = False, ended: Callable[[bool], None]) -> Result | None:
    """Run the query as the user's (AUTOCOMMIT, ON_ERROR_ROLLBACK) and keep its rows as text,
    at most ``limit``; None after an error, which is printed and sets psql's ERROR, SQLSTATE
    and LAST_ERROR_* (and \\errverbose's error), or when single-step mode (-s) cancelled it.
    The query is first echoed (-e), logged (-L) and single-stepped as psql's SendQuery does.
    The caller records a success (`done`): psql sets ROW_COUNT only once \\gset, \\gexec or
    \\crosstabview went well. A statement that returns no rows (INSERT) is a query as any
    other: its tag printed and its variables recorded here, and None, as there is nothing
    more to do. ``verbatim``: the previous query, sent as it went (its
    variables already in)."""
    sql = sql if verbatim else substitute(sql, shell.variables)
    shell.last_sql = sql
    if not shell.announce(sql):
        ended(False)
        shell.last_failed = True
        return None
    shell.sent_at = time.perf_counter()
    result = Result()
    returned_rows = [True]

    def run() -> Outcome:
        try:
            with shell.conn.cursor() as cur:
                fmt.text_loading(cur)
                cur.execute(as_query(sql, shell.conn.info.encoding), prepare=False)
                if fmt.result_columns(cur) is None:  # a command: psql prints its tag, as for any query
                    returned_rows[0] = False
                    return Outcome(True, max(cur.rowcount, 0), cur.statusmessage)
                result.names, result.numeric = fmt.describe(cur)  # (none: `select` has no columns, but rows)
                result.rows = [tuple(row) for row in (cur.fetchall() if limit is None else cur.fetchmany(limit))]
                result.status = cur.statusmessage or ""
                return Outcome(True, len(result.rows), cur.statusmessage)
        except psycopg.Error as exc:
            shell.error(shell.location + error_text(exc, shell.settings.messages))
            return Outcome(False, error=error_text(exc), diag=exc.diag)

    outcome = run_in_transaction_mode(shell.conn, sql, shell.variables, shell.interactive, run)
    if not outcome.ok:
        shell.reconnect_if_needed()  # a lost connection ends a script (exit code 2) or is reset, as after any query
    ended(outcome.ok)  # the buffer's one query ends here (see _last_statement)
    shell.last_failed = not outcome.ok
    if outcome.ok and not returned_rows[0]:
        shell.executor.print_status(outcome.status or "")
    if not (outcome.ok and returned_rows[0]):
        shell.record_result(outcome)
        return None
    return result


def done(shell: Shell, result: Result) -> None:
    """psql's variables after a \\gset, \\gexec or \\crosstabview whose every step went
    well: ROW_COUNT is the rows of the query itself (not of what \\gexec ran)."""
    shell.record_result(Outcome(True, len(result.rows)))


def _gexec(shell: Shell, sql: str, verbatim: bool, ended: Callable[[bool], None]) -> None:
    """psql's \\gexec: each non-null value, row by row and column by column, sent as a query of
    its own (echoed with -a, shown with -e); with ON_ERROR_STOP the first failure ends it."""
    result = fetch_result(shell, sql, verbatim=verbatim, ended=ended)
    if result is None:
        return
    failed = False
    for values in result.rows:
        for value in values:
            if value is None:
                continue
            if shell.echo == "all" and not boolean(shell.variables.get("SINGLESTEP")):
                shell.output.say(value + "\n")
            failed = not shell.run_sql(value, verbatim=True).succeeded or failed  # ON_ERROR_STOP stops there
    result.tag(shell)
    shell.last_sql, shell.last_failed = substitute(sql, shell.variables), failed
    if not failed:
        done(shell, result)


def _gset(shell: Shell, sql: str, prefix: str, verbatim: bool, ended: Callable[[bool], None]) -> None:
    """Store the single row's columns as PREFIX+column; psql's errors for no row or several,
    and its warning for a variable it gives a hook (PROMPT1, AUTOCOMMIT...)."""
    result = fetch_result(shell, sql, 2, verbatim=verbatim, ended=ended)
    if result is None:
        return
    try:
        _store_row(shell, result, prefix)
    finally:
        result.tag(shell)


def _store_row(shell: Shell, result: Result, prefix: str) -> None:
    rows = result.rows
    if len(rows) != 1:
        shell.meta_error("no rows returned for \\gset" if not rows else "more than one row returned for \\gset")
        shell.last_failed = True
        return
    for column, value in zip(result.names, rows[0], strict=True):
        if not valid_name(prefix + column):  # psql's SetVariable: unsetting such a name is no error
            if value is None:
                continue
            shell.meta_error(f'invalid variable name: "{prefix + column}"')
            shell.last_failed = True
            return
        if prefix + column in HOOKED:
            shell.meta_warning(f'attempt to \\gset into specially treated variable "{prefix + column}" ignored')
            continue
        _store(shell.variables, prefix + column, value)
    done(shell, result)


def _store(variables: dict[str, str], name: str, value: str | None) -> None:
    if value is None:
        variables.pop(name, None)
    else:
        variables[name] = value


def registered(name: str) -> Callable[[Shell, str], bool]:
    """The handler for a \\g-family line with no query text before it."""

    def handler(shell: Shell, argument: str) -> bool:
        send(shell, name, "", argument)
        return True

    return handler
