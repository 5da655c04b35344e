"""The shell's state and what it does with a piece of input, prompt or no prompt.

Interactive use, `-c`, `-f` and piped stdin all feed text to `Shell.handle`, so a script
behaves exactly like the same lines typed at the prompt. Input is one of three things:
a backslash meta-command, a `?` question, or SQL (possibly several statements).
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING

import psycopg
from psycopg import pq

from nl2sql_shell.db import connect as db_connect
from nl2sql_shell.db.as_sent import backslashes_differ, text_encoding, undecodable
from nl2sql_shell.db.cells import visible_sql
from nl2sql_shell.db.embedded import EmbeddedServerError
from nl2sql_shell.db.execute import (
    CANCEL_MESSAGE,
    CANCEL_SQLSTATE,
    Executor,
    Outcome,
    Settings,
    error_text,
    install_notice_printer,
    timing_line,
)
from nl2sql_shell.output import Output, reencode
from nl2sql_shell.repl.conditionals import Conditionals
from nl2sql_shell.repl.statements import complete_end, drop_empty_lines, standard_strings, meta_command_end, next_piece, query_text, split_statements, starts_meta_command, statement_pieces
from nl2sql_shell.repl.transactions import run_in_transaction_mode
from nl2sql_shell.terminal_prompt import stdin_line
from nl2sql_shell.repl.variables import (
    boolean,
    CONNECTION_VARIABLES,
    builtin_variables,
    connection_variables,
    substitute,
)

if TYPE_CHECKING:
    from nl2sql_shell.repl.prompt_escapes import PromptRenderer

_SINGLE_STEP = (
    "***(Single step mode: verify command)*******************************************\n{}\n"
    "***(press return to proceed or enter x and return to cancel)********************\n"
)
_DDL = ("create", "alter", "drop", "comment", "grant", "revoke", "truncate")


# Where libpq's own words start after a server's FATAL in its error message.
_LIBPQ_OWN_WORDS = re.compile(r"^(?:server closed the connection|could not (?:receive|send) data|SSL |no connection to the server|connection not open|lost synchronization)", re.MULTILINE)


class ConnectionLost(Exception):
    """The server went away and could not be reached again (exit code 2 in scripts)."""


NOT_CONNECTED = "You are currently not connected to a database."


class StopScript(Exception):
    """ON_ERROR_STOP hit an error: the script ends with exit code 3, as psql's does."""


class ScriptCancelled(StopScript):
    """Ctrl-C stopped a statement of a script: the script ends, and every file that included
    it, back to the prompt (psql's cancel_pressed outside cur_cmd_interactive)."""


@dataclass
class Shell:
    """One connection plus everything the user set: the object every front end drives."""

    target: db_connect.Target
    conn: psycopg.Connection
    interactive: bool = True
    output: Output = field(default_factory=Output)
    settings: Settings = field(default_factory=Settings)
    errors: IO[str] = field(default_factory=lambda: sys.stderr)
    variables: dict[str, str] = field(default_factory=dict)
    banner_note: str | None = None
    last_sql: str = ""
    last_failed: bool = False
    pending_input: str = ""  # text for the next prompt's buffer (`\e`), or a script's when it ran there
    draft: str = ""  # a model answer the person chose to edit (`e`): for the prompt's buffer only, never a script's
    redisplay: bool = False  # an editor left pending_input or a draft: psql prints it after PROMPT1 (-n does)
    history: Callable[[], list[str]] | None = None  # the prompt's history, oldest first (interactive only)
    remember: Callable[[str], None] = lambda text: None  # adds to that history (interactive only)
    on_schema_change: list[Callable[[], None]] = field(default_factory=list)
    questions: object | None = None  # the `?` handler, set by the front end (see repl/questions.py)
    location: str = ""  # psql's "psql:FILE:LINE: " while a script runs, before each error it prints
    source: str | None = None  # the script file running (as named), for \\ir; None at the prompt and for stdin
    input_file: str | None = None  # psql's pset.inputfile: the script's name in messages ("<stdin>" for -f -); None without one
    # ON_ERROR_STOP as the running script's line started (psql reads it there: `\\set
    # ON_ERROR_STOP 1 \\\\ select 1/0` goes on); None outside a script: its value now
    die_on_error: bool | None = None
    sent_at: float | None = None  # when the g-family's query was sent (\\timing), None: not sent
    include_depth: int = 0  # how many \\i files are running inside each other
    read_line: Callable[[], str] | None = None  # the running script's next line (\\prompt in a script on stdin)
    last_error: tuple[psycopg.errors.Diagnostic, str] | None = None  # the last server error and libpq's text of it (\\errverbose)
    conditions: Conditionals = field(default_factory=Conditionals)  # the open \\if blocks (repl/conditionals.py)
    restrict_key: str | None = None  # `\\restrict KEY` (pg_dump's): meta-commands refused until `\\unrestrict KEY`
    meta_allowed: frozenset[str] | None = None  # the only meta-commands that run (a suite's dump: pg_dump's own); None: all
    # False after a `\\c` failed outside the prompt: psql has dropped the old connection, and
    # until a `\\c` with a whole connection string succeeds, what needs the server says so.
    connected: bool = True
    lost: bool = False  # not connected since a reset failed: `\\c` reuses its parameters, as psql's dead_conn
    # LISTEN's notifications as the connection reads them, shown after the user's next statement
    notifications: list[psycopg.Notify] = field(default_factory=list)
    # COPY FROM STDIN's data: the lines after it in a script (run_script sets this), else stdin.
    command_lines: Callable[[], Iterator[bytes]] | None = None
    # The embedded server's restart when a reset finds it gone (db/embedded_session.py): the
    # target on the server running now, None when the target is not its; None: a user's server.
    revive: Callable[[db_connect.Target], db_connect.Target | None] | None = None

    def __post_init__(self) -> None:
        self.variables = {**builtin_variables(), **self.variables}
        self._attach(self.conn)

    def _attach(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self._usable_encoding()  # (PGCLIENTENCODING=EUC_TW: nothing could be read from it)
        self.variables.update(connection_variables(conn))
        show = install_notice_printer(conn, lambda: self.errors, lambda: self.location, lambda: self.settings.messages, lambda: self.executor.held_notices)
        conn.add_notify_handler(self.notifications.append)
        self.executor = Executor(conn, self.settings, self.output, lambda: self.errors, lambda: self.location)
        self.executor.show_notice = show
        self.executor.copy_stdin = self.copy_lines
        self.follow_session()
        self.line_starts()

    def follow_session(self) -> None:
        """Write in the client encoding the connection has now (at connect, after SQL and
        `\\encoding`, which may change it), as psql prints the server's bytes; ENCODING names
        it, as psql's does."""
        encoding = self._usable_encoding()
        self.variables["ENCODING"] = self.conn.info.parameter_status("client_encoding") or ""
        encoding = text_encoding(encoding)  # SQL_ASCII: the bytes as they are (values load as UTF-8)
        if encoding != self.output.encoding:
            self.output.follow_encoding(encoding)
            reencode(self.errors, encoding)

    def _usable_encoding(self) -> str:
        """The connection's client encoding (Python's name). One Python has no codec for
        (EUC_TW, MULE_INTERNAL: psql can print them) left psycopg able to read nothing, and
        the shell ended with a traceback: the session goes back to the encoding it had, told
        in one line (SQL_ASCII, the server's bytes as they are, where the server converts its
        own to no other: a MULE_INTERNAL database)."""
        try:
            return self.conn.info.encoding
        except psycopg.NotSupportedError:
            pass
        name = (self.conn.pgconn.parameter_status(b"client_encoding") or b"").decode("ascii", "replace")
        previous = self.variables.get("ENCODING") or "UTF8"
        for fallback in dict.fromkeys(("UTF8" if previous == name else previous, "UTF8", "SQL_ASCII")):
            if self.conn.pgconn.exec_(b"SET client_encoding TO '" + fallback.encode("ascii") + b"'").status == pq.ExecStatus.COMMAND_OK:
                break
        self.error(f'{self.location}client encoding "{name}" cannot be used here (Python has no codec for it); it is {fallback} now')
        return self.conn.info.encoding

    def line_starts(self) -> None:
        """A line of input starts (a script's, or what the prompt reads): psql reads `'...'`
        in it as the session's standard_conforming_strings is now, whatever a statement on
        the line sets."""
        standard_strings.set(not self.connected or self.conn.info.parameter_status("standard_conforming_strings") != "off")

    def copy_lines(self) -> Iterator[bytes]:
        """COPY FROM STDIN's data: the running script's lines after it, else typed_lines."""
        return self.command_lines() if self.command_lines is not None else self.typed_lines()

    def typed_lines(self) -> Iterator[bytes]:
        """COPY data from standard input: on a terminal psql's instructions (unless quiet)
        and PROMPT3 before each line."""
        from nl2sql_shell.repl.copy import stdin_lines

        return stdin_lines(self.prompts.copy, quiet=boolean(self.variables.get("QUIET")))

    @cached_property
    def prompts(self) -> PromptRenderer:
        """PROMPT1, PROMPT2 and PROMPT3 of this session (one, so %w is PROMPT1's last width)."""
        from nl2sql_shell.repl.prompt_escapes import PromptRenderer

        return PromptRenderer(self)

    # -- state shown in the prompt ------------------------------------------------------------
    @property
    def dbname(self) -> str:
        return self.conn.info.dbname

    def transaction_marker(self) -> str:
        """psql's %x: '*' inside a transaction, '!' in a failed one, '?' when unknown."""
        status = self.conn.info.transaction_status
        return {
            pq.TransactionStatus.IDLE: "",
            pq.TransactionStatus.INTRANS: "*",
            pq.TransactionStatus.INERROR: "!",
            pq.TransactionStatus.ACTIVE: "*",
        }.get(status, "?")

    @property
    def has_query_buffer(self) -> bool:
        """Whether there is a query buffer (and the previous query) for \\g, \\p, \\w, \\e,
        \\watch: at the prompt and in a script, not in a `-c` meta-command, which psql runs
        without one."""
        return self.interactive or self.read_line is not None

    def previous_query(self) -> str:
        """The query \\g and its kin run again when the buffer is empty (none in a `-c`)."""
        return self.last_sql if self.has_query_buffer else ""

    def is_superuser(self) -> bool:
        return self.conn.info.parameter_status("is_superuser") == "on"

    def in_transaction(self) -> bool:
        return self.transaction_marker() in ("*", "!")

    # -- input ------------------------------------------------------------------------------------
    def handle(self, text: str) -> bool:
        """Run a complete piece of input; returns False when the shell should quit."""
        from nl2sql_shell.repl import metacommands

        stripped = text.strip()
        if not stripped:
            return True
        if starts_meta_command(stripped):  # one meta-command: psql's -c runs no more of the line
            go_on = metacommands.run(self, stripped[: meta_command_end(stripped, 0, len(stripped))].strip())
            self._lost_in_script()
            if self.executor.cancel_sent and not self.interactive:  # Ctrl-C in its catalog queries ends a script (psql)
                raise ScriptCancelled()
            return go_on
        if stripped.startswith("?"):
            question, _, rest = stripped.partition("\n") if self.interactive else (stripped, "", "")
            if self.conditions.active() and self.require_connection():
                self._ask(question.strip())
                self._lost_in_script()
            # A question is one line at the prompt (Enter sends it): lines pasted after it are
            # input of their own, read as the prompt reads a paste (meta-commands, complete
            # statements; an unfinished one waits in the buffer), not words of the question.
            from nl2sql_shell.repl.app import handle_line

            return handle_line(self, rest) if rest.strip() else True
        return self._run_text(drop_empty_lines(text))  # psql skips an empty line typed outside quotes

    @property
    def prompt_text(self) -> str:
        """What the next prompt's buffer starts with: an editor's leftover, then the draft."""
        if not self.draft:
            return self.pending_input
        return self.pending_input + ("\n" if self.pending_input and not self.pending_input.endswith("\n") else "") + self.draft

    def add_draft(self, text: str) -> None:
        """Text for the next prompt, on a line of its own after what is already kept there."""
        self.draft += ("\n" if self.draft and not self.draft.endswith("\n") else "") + text
        self.redisplay = True

    def run_text(self, text: str) -> bool:
        """Statements whose variables were substituted as they were read (the prompt's)."""
        return self._run_text(text, verbatim=True)

    def take_prompt_text(self) -> str:
        """`prompt_text`, which the prompt now holds: nothing is left waiting."""
        text, self.pending_input, self.draft = self.prompt_text, "", ""
        return text

    def take_edited(self, text: str) -> None:
        """What an editor left (`\\e`, `\\ef`, `\\ev`), read as psql reads it: as one line of
        input, so its complete statements run now and the rest waits in the query buffer, its
        last line ended, to be shown again (``redisplay``) before the next line is read."""
        end = complete_end(text)
        if end:  # psql's history gets what the editor gave back when it runs: the Up arrow recalls it
            self.remember(text.rstrip("\n"))
        if end and text.lstrip().startswith("?"):  # query text, not a question typed at the prompt (psql sends it)
            self._run_text(text[:end])
        elif end:
            self.handle(text[:end])
        rest = text[end:].lstrip("\n")
        self.pending_input = (rest if rest.endswith("\n") else rest + "\n") if rest.strip() else ""
        self.redisplay = bool(self.pending_input)

    def _run_text(self, text: str, *, verbatim: bool = False) -> bool:
        """Statements, and psql's `select 1 \\g` (query text, then a meta-command on its line).
        A last statement without its semicolon runs; at the prompt, query text that a
        meta-command left unsent goes back into the next prompt's buffer, as psql keeps it.
        False after a `\\q`: at the prompt psql quits dropping the query text before it, and
        elsewhere sends it first. ``verbatim``: its variables were substituted as it was read."""
        from nl2sql_shell.repl import metacommands
        from nl2sql_shell.repl.send import query_buffer, run_with_buffer

        pos, pending = 0, ""
        while True:
            statement, end, meta = next_piece(text, pos, held=bool(pending))
            if meta >= 0:
                newline = text.find("\n", meta)
                line_end = len(text) if newline < 0 else newline + 1
                buffer, command = query_buffer(query_text(pending + text[end:meta])), text[meta:line_end].strip()  # its \; sent as ;
                if command.split()[0] in ("\\q", "\\quit") and self.conditions.active() and metacommands.blocked(self, command.split()[0]) is None:
                    if buffer.strip() and not self.interactive:
                        self.run_sql(buffer)
                    return False
                pending = run_with_buffer(self, buffer, command)
                pos = line_end
                continue
            if statement is None:
                rest = (pending + text[pos:]).lstrip()
                if rest.strip() and self.interactive and pending:  # its last line ended: keys typed ahead start a new one
                    self.pending_input = rest if rest.endswith("\n") else rest + "\n"
                elif rest.strip() and split_statements(rest) != ([], ""):  # comments alone are not sent, as in psql
                    self.run_sql(query_text(rest.strip()), verbatim=verbatim)  # its \; sent as ;
                return True
            self.run_sql(pending + statement if pending else statement, verbatim=verbatim)
            pending, pos = "", end

    def run_sql(self, sql: str, *, read_only: bool = False, statement_timeout_ms: int | None = None, single: bool = False, verbatim: bool = False, watched: bool = False) -> Outcome:
        """Execute one statement with psql's output; reconnect once if the server went away.
        `single`: exactly one statement (model SQL), see Executor.run. The user's SQL gets
        psql's variable interpolation (`:name`, `:'name'`, `:"name"`) unless it comes `verbatim`
        (a -c string, which psql's lexer never reads); model SQL never does. ``watched``:
        `\\watch`'s, which psql sends with no AUTOCOMMIT BEGIN or ON_ERROR_ROLLBACK savepoint.
        In a branch of `\\if` that is not taken, nothing is sent."""
        if not self.conditions.active():
            if self.interactive:
                self.error("query ignored; use \\endif or Ctrl-C to exit current \\if block")
            return Outcome(True)
        if not self.require_connection():
            return Outcome(False, error=NOT_CONNECTED)
        if not (read_only or single):
            expanded = sql if verbatim else substitute(sql, self.variables)
            # a ; inside a variable's value ends a statement there, as in psql; those the
            # statement held (its `\\;`) do not: `insert ... :x \\; select 1/0` is one query
            # whose error undoes the insert, however its variables read
            split = expanded != sql and len(statement_pieces(expanded)) != len(statement_pieces(sql))
            pieces = statement_pieces(expanded) if split else [expanded]
            outcome = Outcome(True)
            for piece in pieces:
                if self.announce(piece):
                    outcome = self._send(piece, statement_timeout_ms, watched=watched)
            return outcome
        self._log_query(sql)  # model SQL: shown and agreed to already, but logged as every query psql sends
        return self._send(sql, statement_timeout_ms, read_only=read_only, single=single)

    def in_client_encoding(self, text: str) -> str:
        """Text read as bytes (a script, a `-c` argument) as the client encoding reads those
        bytes (`PGCLIENTENCODING=LATIN1`, `\\encoding`): psql sends the bytes it read, so
        `'caf\\xe9'` is café in LATIN1. Text that encoding cannot read stays as it was read."""
        encoding = self.conn.info.encoding if self.connected else "utf-8"
        if encoding == "utf-8" or text.isascii():
            return text
        try:
            return text.encode("utf-8", "surrogateescape").decode(encoding)
        except UnicodeDecodeError:
            return text

    def only_as_bytes(self, sql: str) -> bool:
        """Whether ``sql`` holds bytes that were no UTF-8 (typed or read; model SQL never holds
        them), which go to the server only as those bytes, for it to refuse, as psql sends
        them. Under SQL_ASCII the server takes any bytes: such a statement runs as any other."""
        return undecodable(sql) and not (self.connected and self.conn.info.encoding == "ascii")

    def _send(self, sql: str, statement_timeout_ms: int | None, *, read_only: bool = False, single: bool = False, watched: bool = False) -> Outcome:
        if undecodable(sql):  # bytes that are no UTF-8 (a -c argument): maybe the client encoding's
            sql = self.in_client_encoding(sql)
        if self.only_as_bytes(sql):
            return self.send_undecodable(sql)
        # \g and its kin send the previous query again as the session reads it: model SQL read
        # with standard_conforming_strings on (as it was proven) would read otherwise then
        self.last_sql = "" if (read_only or single) and backslashes_differ(self.conn, sql) else sql

        def run() -> Outcome:
            return self.executor.run(sql, read_only=read_only, statement_timeout_ms=statement_timeout_ms, single=single)

        if read_only:  # a model read: its own read-only transaction, nothing of the user's settings
            return self._finish(sql, run(), model=True)
        if single:  # a model write the person confirmed: one statement, in AUTOCOMMIT and ON_ERROR_ROLLBACK as typed SQL
            return self._finish(sql, self._in_transaction_mode(sql, run), model=True)
        # joined by \; : one query, every result printed, as psql sends its buffer
        send = (lambda: self.executor.run_simple(sql)) if len(statement_pieces(sql)) > 1 else run
        return self._finish(sql, send() if watched else self._in_transaction_mode(sql, send))

    def send_undecodable(self, sql: str) -> Outcome:
        """A statement holding bytes that are not UTF-8, sent as those bytes, as psql sends
        them: the server refuses them with its one line (an open transaction aborts, as
        psql's does), and the session goes on: as after any query, ERROR, SQLSTATE and
        LAST_ERROR_* say so, and `\\p` and `\\g` have it as the previous query."""
        self.last_sql = sql
        try:
            self.conn.execute(sql.encode("utf-8", "surrogateescape"))
            outcome = Outcome(True)
        except psycopg.Error as exc:
            self.error(self.location + error_text(exc, self.settings.messages))
            outcome = Outcome(False, error=error_text(exc), diag=exc.diag)
        self.last_failed = not outcome.ok
        self.record_result(outcome)
        return outcome

    def run_query_string(self, sql: str) -> Outcome:
        """Several statements sent as one query (psql's `-c`): one implicit transaction. As
        written: psql's lexer never reads a -c string, so `:name` is not interpolated."""
        if not self.conditions.active():
            return Outcome(True)
        if not self.announce(sql):
            return Outcome(True)
        if not self.require_connection():
            return Outcome(False, error=NOT_CONNECTED)
        self.last_sql = sql
        return self._finish(sql, self._in_transaction_mode(sql, lambda: self.executor.run_simple(sql)))

    def run_hidden(self, sql: str) -> bool:
        """A query of the shell's own (psql's PSQLexec): shown first with ECHO_HIDDEN (-E),
        its error printed as psql prints it; whether it succeeded."""
        if not self.show_hidden(sql):
            return True
        if not self.require_connection():
            return False
        try:
            self.conn.execute(sql)
        except psycopg.Error as exc:
            self.error(self.location + error_text(exc, self.settings.messages))
            return False
        return True

    def show_hidden(self, sql: str) -> bool:
        """What psql's PSQLexec does before one of its own queries: with ECHO_HIDDEN (-E) the
        query in its frame, on standard output and in the -L log; False under ``noexec``,
        where the query is only shown, never run."""
        mode = self.variables.get("ECHO_HIDDEN", "off")
        noexec = mode.lower() == "noexec"
        if not noexec and not boolean(mode):
            return True
        frame = f"********* QUERY **********\n{sql}\n**************************\n\n"
        self.output.say(frame)
        if self.output.log is not None:
            self.output.log.write(frame)
            self.output.log.flush()
        return not noexec

    @property
    def echo(self) -> str:
        """ECHO's value as psql's hook reads it: in any case (`\\set ECHO ERRORS` is errors)."""
        return self.variables.get("ECHO", "none").lower()

    @property
    def script_line(self) -> Callable[[], str] | None:
        """The script's next line when the script is standard input (`-f -`, a pipe): where
        psql's prompts (\\prompt, passwords, SINGLESTEP) read their answers without a terminal."""
        return self.read_line if self.source is None else None

    def announce(self, sql: str) -> bool:
        """psql's steps before sending a query: with SINGLESTEP (-s) show it and wait for Enter
        (x cancels it); with ECHO=queries (-e) print it."""
        if boolean(self.variables.get("SINGLESTEP")):
            self.output.say(_SINGLE_STEP.format(sql))
            answer = self.script_line() if self.script_line is not None else stdin_line()
            return not answer.startswith("x")
        if self.echo == "queries":
            self.output.say(sql + "\n")
        self._log_query(sql)
        return True

    def say_timing(self, started: float | None) -> None:
        """`\\timing`'s line for a query the shell sent at ``started`` (time.perf_counter) and
        handled itself (`\\gset`, `\\copy`...), as psql's SendQuery prints it; none for a
        query not sent (None)."""
        if started is not None and self.settings.timing:
            self.output.say(timing_line((time.perf_counter() - started) * 1000))

    def _log_query(self, sql: str) -> None:
        if self.output.log is not None:  # -L: psql's banner before each query in the log
            self.output.log.write(f"********* QUERY **********\n{sql}\n**************************\n\n")

    def _in_transaction_mode(self, sql: str, run: Callable[[], Outcome]) -> Outcome:
        """AUTOCOMMIT and ON_ERROR_ROLLBACK around a statement the user sent."""
        try:
            return run_in_transaction_mode(self.conn, sql, self.variables, self.interactive, run)
        except psycopg.Error as exc:  # the implicit BEGIN or a savepoint: the connection went away
            self.error(self.location + error_text(exc, self.settings.messages))
            return Outcome(False, error=error_text(exc))

    def _finish(self, sql: str, outcome: Outcome, *, model: bool = False) -> Outcome:
        """After a statement: a lost connection, a schema change, ON_ERROR_STOP. ``model``:
        the model wrote it, so ECHO=errors shows it as the confirmation did (`visible_sql`)."""
        if self.connected and (self.conn.closed or self.conn.broken):
            self._connection_lost()
            outcome = Outcome(False, error="connection lost")
        elif outcome.cancelled and (not self.interactive or self.include_depth > 0):  # Ctrl-C ends a script (an \\i'd one too), as in psql
            raise ScriptCancelled()
        else:
            if outcome.ok and sql.lstrip()[:8].lower().startswith(_DDL):
                self.schema_changed()
            self.follow_session()  # SET client_encoding, RESET ALL
        self.last_failed = not outcome.succeeded
        self.record_result(outcome)
        if not outcome.succeeded and self.echo == "errors":
            self.error(f"{self.location}STATEMENT:  {visible_sql(sql) if model else sql}")
        self._print_notifications()
        if not outcome.succeeded and self.stops_on_error():
            raise StopScript()
        return outcome

    def stops_on_error(self) -> bool:
        """Whether a failure now ends the script (ON_ERROR_STOP, as psql reads it)."""
        return not self.interactive and (boolean(self.variables.get("ON_ERROR_STOP")) if self.die_on_error is None else self.die_on_error)

    def _print_notifications(self) -> None:
        """psql's lines for the notifications read since the last statement (LISTEN's own
        session's NOTIFY, or another's), in the query output, after the statement's result."""
        while self.notifications:
            note = self.notifications.pop(0)
            payload = f' with payload "{note.payload}"' if note.payload else ""  # psql shows an empty payload as none
            self.output.echo(f'Asynchronous notification "{note.channel}"{payload} received from server process with PID {note.pid}.\n')

    def record_result(self, outcome: Outcome) -> None:
        """psql's ERROR, ROW_COUNT, LASTOID, SQLSTATE and LAST_ERROR_* variables (and the error for
        \\errverbose) after a query of the user's; none after a result or COPY data that could
        not be written, nor after a COPY that failed (psql 15 sets them only when all went well)."""
        if outcome.unwritten or outcome.unrecorded:
            return
        self.variables["ERROR"] = "false" if outcome.ok else "true"
        self.variables["ROW_COUNT"] = str(outcome.rows) if outcome.ok else "0"
        if self.executor.last_oid is not None:
            self.variables["LASTOID"] = self.executor.last_oid
        if outcome.ok:
            self.variables["SQLSTATE"] = "00000"
        elif outcome.diag is not None:
            self.last_error = outcome.diag, outcome.error or ""
            code = outcome.diag.sqlstate or ""
            self.variables.update(SQLSTATE=code, LAST_ERROR_SQLSTATE=code, LAST_ERROR_MESSAGE=outcome.diag.message_primary or "")
        elif outcome.cancelled:  # the server's error fields stayed inside psycopg
            self.last_error = None
            self.variables.update(SQLSTATE=CANCEL_SQLSTATE, LAST_ERROR_SQLSTATE=CANCEL_SQLSTATE, LAST_ERROR_MESSAGE=CANCEL_MESSAGE)
        else:  # libpq's own error (a lost connection): psql's empty code and message, not the last success's 00000
            self.last_error = None
            self.variables.update(SQLSTATE="", LAST_ERROR_SQLSTATE="", LAST_ERROR_MESSAGE="")


    def schema_changed(self) -> None:
        for callback in self.on_schema_change:
            callback()

    def _ask(self, line: str) -> None:
        if self.meta_allowed is not None or self.restrict_key is not None:  # a dump: data, not a person asking
            self.meta_error("? questions are not allowed here")
            self.last_failed = True
            return
        if self.questions is None:
            self.meta_error("? questions need the model extras: pip install 'nl2sql-shell[llm]'")
            self.last_failed = True
            return
        self.questions.ask(line)  # type: ignore[attr-defined]

    # -- connections ---------------------------------------------------------------------------
    def _connection_lost(self, *, own_query: bool = False) -> None:
        """libpq's words, then: at the prompt, psql reconnects; a script stops (exit code 2).
        ``own_query``: lost in one of the shell's own queries (a meta-command's, psql's
        PSQLexec), whose error line libpq's words follow as one message, unprefixed."""
        message = self.conn.pgconn.error_message.decode(errors="replace")
        if message.startswith(("FATAL:", "ERROR:")):  # the server's part was the statement's error (CONTEXT lines too)
            own = _LIBPQ_OWN_WORDS.search(message)
            message = message[own.start() :] if own else message.partition("\n")[2]
        if message.strip():
            self.error(("" if own_query else self.location) + message.rstrip("\n"))
        if not self.interactive:
            self.meta_error("connection to server was lost")
            raise ConnectionLost()
        self.error("The connection to the server was lost. Attempting reset: ", end="")
        try:
            conn = self._reconnect()
        except (psycopg.Error, EmbeddedServerError) as exc:
            self.error("Failed.")
            if isinstance(exc, EmbeddedServerError):
                self.error(f"nl2sql-shell: {exc}")
            self._disconnect()  # psql tries no more: "not connected" until a \c
            self.lost = True
            return
        self.error("Succeeded.")
        self._attach(conn)

    def _reconnect(self) -> psycopg.Connection:
        """psql's reset; the embedded server gone from its port is started again first."""
        try:
            return db_connect.connect(self.target)
        except psycopg.Error:
            if self.revive is None or (target := self.revive(self.target)) is None:
                raise
        conn = db_connect.connect(target)
        self.target = target
        return conn

    def _lost_in_script(self) -> None:
        """A connection lost during a meta-command's queries or a question ends a script
        (exit code 2) as a statement's does: the script went on running its commands (`\\!`
        too) and exited 0. At the prompt the next prompt resets it."""
        if not self.interactive and self.connected and (self.conn.closed or self.conn.broken):
            self._connection_lost(own_query=True)

    def reconnect_if_needed(self) -> None:
        """Before each prompt: a connection the server dropped while we idled is re-opened."""
        if self.connected and (self.conn.closed or self.conn.broken):
            self._connection_lost()

    def switch(self, target: db_connect.Target) -> bool:
        """`\\c`: open the new connection first, keep the old one if that fails at the prompt.
        Elsewhere psql drops the old one: a script ends there (exit code 2), and the `-c`
        strings after it run without a connection (see `connected`)."""
        try:
            conn = db_connect.connect(target, read_line=self.script_line)
        except psycopg.Error as exc:
            message = db_connect.libpq_message(exc)  # psql names the command only outside the prompt
            self.connect_failed(message if self.interactive else f"\\connect: {message}")
            return False
        old = self.conn
        self.target = target
        self._attach(conn)  # (first: a client encoding Python cannot read is set right there)
        same_place = self.connected and (old.info.host, old.info.port) == (conn.info.host, conn.info.port)
        self.connected, self.lost = True, False
        old.close()
        self.schema_changed()
        if not self.settings.quiet:  # psql says where only when there was no connection or the host or port changed
            self.output.say(db_connect.describe(conn, now=True, place=not same_place) + "\n")  # psql's printf
            if self.interactive and (tls := db_connect.ssl_line(conn)):  # psql's connection_warnings, on a terminal
                self.output.say(tls + "\n")
        return True

    def connect_failed(self, message: str) -> None:
        """A `\\c` that failed: at the prompt the old connection stays; elsewhere psql drops it."""
        self.meta_error(message)
        self.last_failed = True
        if not self.interactive:
            self._disconnect()
            return
        self.error("Previous connection kept")

    def _disconnect(self) -> None:
        """No connection from here on (a failed reset, a failed `\\c` outside the prompt): the
        variables that described it go, as psql's UnsyncVariables drops them."""
        self.conn.close()
        self.connected = False
        for name in CONNECTION_VARIABLES:
            self.variables.pop(name, None)

    def require_query_buffer(self) -> bool:
        """Whether there is a query buffer (`has_query_buffer`); if not, psql's error for the
        command that needed one (\\e, \\w, \\ef in a `-c`), which then fails."""
        if not self.has_query_buffer:
            self.meta_error("no query buffer")
            self.last_failed = True
        return self.has_query_buffer

    def require_connection(self) -> bool:
        """Whether there is a connection; if not, psql's error for the command that needed
        one, which then fails."""
        if not self.connected:
            self.meta_error(NOT_CONNECTED)
            self.last_failed = True
        return self.connected

    def meta_error(self, text: str) -> None:
        """A meta-command's error as psql prints it: ``psql:FILE:LINE: error: TEXT`` in a script
        file, the bare text elsewhere."""
        self.error(f"{self.location}error: {text}" if self.location else text)

    def meta_warning(self, text: str) -> None:
        """psql's warning, worded as `meta_error` words an error."""
        self.error(f"{self.location}warning: {text}" if self.location else text)

    def error(self, text: str, end: str = "\n") -> None:
        with contextlib.suppress(OSError):  # stderr that cannot be written: psql's fprintf fails quietly
            self.errors.write(text + end)
            self.errors.flush()

    def close(self) -> None:
        self.output.redirect(None)
        self.conn.close()
