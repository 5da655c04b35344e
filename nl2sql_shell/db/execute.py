"""Run one statement the way psql does and stream its result to an Output.

Row-returning statements go through a server-side cursor (psql's FETCH_COUNT strategy), so
a big result never sits whole in memory: each batch is formatted and written as it arrives.
Ctrl-C while the server runs a statement sends it a cancel request, as psql's SIGINT handler
does, and the statement ends with the server's own error; anywhere else it interrupts.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import IO

import psycopg
import psycopg.sql
from psycopg import generators, pq

from nl2sql_shell.db.as_sent import as_query, sent_bytes, text_encoding
from nl2sql_shell.db.cells import visible
from nl2sql_shell.db import format as fmt
from nl2sql_shell.db.aligned import auto_vertical
from nl2sql_shell.db.copy import CopySink, copy_direction, run_copy
from nl2sql_shell.db.messages import MessageStyle, server_message
from nl2sql_shell.db.settings import Settings
from nl2sql_shell.output import Output

_CURSOR_NAME = "nl2sql_shell_cursor"
_SAVEPOINT = "nl2sql_shell_declare"
_PSQL_CURSOR = "_psql_cursor"  # the name psql declares, seen in its errors
# The server's error for a statement Ctrl-C cancelled, where psycopg kept its result to itself
# (Ctrl-C while rows were being printed).
CANCEL_SQLSTATE, CANCEL_MESSAGE = "57014", "canceling statement due to user request"
_ROW_STATEMENT = re.compile(r"^\s*(?:\(\s*)*(select|values|table|with)\b", re.IGNORECASE)
# A word that rules out DECLARE, or the start of a quote or comment where such words don't count.
# Only fixed alternatives: a repeated group over the whole statement text keeps backtracking
# state per repetition (1.2 GB for a 10 MB literal), so quote and comment bodies are skipped
# with str.find instead.
_NOT_IN_CURSOR_OR_SKIPPED = re.compile(r"\b(?:insert|update|delete|merge|into)\b|['\"]|--|/\*", re.IGNORECASE)
_SKIPPED_UNTIL = {"--": "\n", "/*": "*/"}
# psql's is_select_command: FETCH_COUNT fetches through a cursor only for SELECT and VALUES.
_SELECT_COMMAND = re.compile(r"(?:\s+|\(|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/)*(?:select|values)(?![A-Za-z])", re.IGNORECASE)
# Without FETCH_COUNT, psql prints a result on widths computed over all of it. We hold this
# much before printing (so the widths are exact up to it) and print in parts beyond it.
HELD_ROWS = 100_000
HELD_BYTES = 32 << 20
_CHUNK = 5000  # rows per FETCH while holding
# psql 15 prints a command tag after rows only for these (INSERT ... RETURNING and the like).
_TAG_AFTER_ROWS = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Outcome:
    """What happened, for exit codes and the `?` pipeline: ok, rows seen, the server's tag."""

    ok: bool
    rows: int = 0
    status: str | None = None
    error: str | None = None
    diag: psycopg.errors.Diagnostic | None = None  # the server's error fields (SQLSTATE, \\errverbose)
    cancelled: bool = False  # Ctrl-C ended it (a script stops, as psql's does)
    # it ran, but its result or COPY data could not be written (a full disk, a command that
    # ended): it failed for ON_ERROR_STOP and the exit code, and psql leaves its result
    # variables as they were (it sets them only when all went well)
    unwritten: bool = False
    # a COPY that failed: psql 15 reports it and leaves the result variables as they were
    unrecorded: bool = False
    # every result's tag of a query of several statements (`savepoint a \; insert ...`): psql
    # leaves its ON_ERROR_ROLLBACK savepoint alone after any of them that is transaction control
    tags: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.ok and not self.unwritten


def uses_cursor(sql: str) -> bool:
    """True for plain queries; data-modifying CTEs and SELECT INTO cannot be DECLAREd."""
    if not _ROW_STATEMENT.match(sql):
        return False
    pos = 0
    while (found := _NOT_IN_CURSOR_OR_SKIPPED.search(sql, pos)) is not None:
        mark = found.group()
        if mark in _SKIPPED_UNTIL:
            close = sql.find(_SKIPPED_UNTIL[mark], found.end())
            pos = len(sql) if close < 0 else close + len(_SKIPPED_UNTIL[mark])
        elif mark in ("'", '"'):
            pos = _after_quoted(sql, found.end(), mark)
        else:
            return False
    return True


def _after_quoted(sql: str, pos: int, quote: str) -> int:
    """Position after the quote closing a body that starts at ``pos`` ('' stands for ')."""
    while (close := sql.find(quote, pos)) >= 0:
        if not sql.startswith(quote, close + 1):
            return close + 1
        pos = close + 2
    return len(sql)


def error_text(exc: psycopg.Error, style: MessageStyle | None = None) -> str:
    """The message exactly as psql prints it: libpq's own text with LINE n: and the caret,
    laid out for VERBOSITY and SHOW_CONTEXT when ``style`` is not psql's default."""
    if exc.pgresult is not None and exc.pgresult.error_message:  # in the client encoding psycopg read the connection's in
        text = exc.pgresult.error_message.decode(text_encoding(getattr(exc, "_encoding", "utf-8")), errors="replace").rstrip("\n")
        return text if style is None or style.plain else server_message(exc.diag, style, error=True, libpq_text=text)
    message = str(exc).strip()
    return message if message.startswith(("ERROR:", "FATAL:")) else f"ERROR:  {message}"


NoticePrinter = Callable[[str], None]
_LINE_DISPLAY = re.compile(r"^LINE (\d+): (.*)\n( *)\^$", re.MULTILINE)


def _one_line_up(libpq_text: str) -> str:
    """libpq's LINE display of a statement sent after a line of the shell's own (`DECLARE
    ... FOR` + newline) as psql's of the statement alone: its line numbers one less, the
    caret moved with them; none when it points into the shell's line."""
    def up(match: re.Match[str]) -> str:
        number = int(match.group(1)) - 1
        if number < 1:
            return ""
        shift = len(str(number)) - len(match.group(1))
        return f"LINE {number}: {match.group(2)}\n{' ' * (len(match.group(3)) + shift)}^"

    return _LINE_DISPLAY.sub(up, libpq_text)


def install_notice_printer(
    conn: psycopg.Connection,
    stream: Callable[[], IO[str]] = lambda: sys.stderr,
    location: Callable[[], str] = lambda: "",
    style: Callable[[], MessageStyle] = MessageStyle,
    held: Callable[[], list[str] | None] = lambda: None,
) -> NoticePrinter:
    """Server NOTICEs and WARNINGs go to stderr, formatted as psql formats them (after the
    script's ``FILE:LINE:`` prefix, as psql puts it on every server message from a file);
    while ``held()`` gives a list they go there instead, without the LINE display (see
    Executor.held_notices). Returns the writer of such held text."""

    def write(text: str) -> None:
        out = stream()
        out.write(text)
        out.flush()

    def arrived(diag: psycopg.errors.Diagnostic) -> None:
        holding = held()
        # libpq's own text of the notice holds its LINE display, as for an error (psycopg
        # keeps the notice's result only in a private field, and only during this call);
        # at our DECLARE the statement is its second line on: one line up, it is psql's
        result = getattr(diag, "_info", None)
        libpq_text = (getattr(result, "error_message", None) or b"").decode(errors="replace").rstrip("\n")
        libpq_text = libpq_text if holding is None else _one_line_up(libpq_text)
        text = f"{location()}{server_message(diag, style(), error=False, libpq_text=libpq_text)}\n"
        if holding is not None:
            holding.append(text)
        else:
            write(text)

    conn.add_notice_handler(arrived)
    return write


# How long anything in a read-only transaction of the shell waits for a lock: the shell's own
# reads, the checks' EXPLAIN and vote, and the model's reads. Not at all, in effect: while a
# read waits behind a lock another session holds, that session can swap what the read names
# (a table for a view that calls code, a function's body) after the proof judged it, and the
# read, once it has its lock, looks the name up again and runs the new object. It fails at
# once instead, with the server's one line (a migration's or VACUUM FULL's table).
NO_WAIT_MS = 1


@contextlib.contextmanager
def read_only_transaction(conn: psycopg.Connection, statement_timeout_ms: int | None = None) -> Iterator[None]:
    """A transaction (a savepoint inside the user's own) that the server keeps read-only and
    that waits for no lock (NO_WAIT_MS) nor for a safe snapshot (NOT DEFERRABLE).

    It always rolls back: whatever runs inside only reads, so nothing is lost, and the
    read-only setting ends with it instead of leaking into the user's transaction. Strings
    are read with standard_conforming_strings on, as the safety checks read them: with it off,
    `'a\\'` would end one character later on the server than in the checks.
    """
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:  # psycopg's savepoint would fail and log its rollback's failure
        conn.execute("SELECT")  # the server's own error: current transaction is aborted
    own = conn.info.transaction_status == pq.TransactionStatus.IDLE
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL transaction_read_only = on")
        if own:  # a role's serializable + deferrable default would wait for a safe snapshot: no lock_timeout ends that
            conn.execute("SET LOCAL transaction_deferrable = off")
        conn.execute("SET LOCAL standard_conforming_strings = on")
        conn.execute(f"SET LOCAL lock_timeout = {NO_WAIT_MS}")
        if statement_timeout_ms:  # in a transaction of our own, the tighter of ours and the session's (a role's limit is the administrator's)
            # (read before the search_path is pinned: only pg_catalog's `=` may resolve here, or an owner's text operator ran as the asker)
            current = conn.execute("SELECT setting::pg_catalog.int8 FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'statement_timeout'").fetchone() if own else None
            limit = min(int(statement_timeout_ms), current[0]) if current and current[0] > 0 else int(statement_timeout_ms)
            conn.execute(f"SET LOCAL statement_timeout = {limit}")  # (in the user's, no query of ours may take its snapshot first)
        yield


@dataclass(frozen=True)
class SearchPath:
    """The user's search_path as the server resolves it: ``listed`` the schemas named in it
    (current_schemas(false)), ``effective`` with pg_catalog and the temporary schema where
    they are searched (current_schemas(true))."""

    listed: tuple[str, ...]
    effective: tuple[str, ...]
    setting: str = ""  # the search_path setting as written (`"$user", public`)


@contextlib.contextmanager
def catalog_reads(conn: psycopg.Connection, statement_timeout_ms: int | None = None) -> Iterator[SearchPath]:
    """The shell's own reads of a user's database (schema, samples, completion, the proof),
    in a read-only transaction that rolls back (see `read_only_transaction`), with the
    search_path pinned to pg_catalog and row security off.

    A database's owner may put an operator or a function in public that matches the shell's
    SQL better than pg_catalog's (`||(bigint, text)`, `=(oid, integer)`, `unnest(text[])`;
    PostgreSQL picks the closest argument types across the whole search_path), put pg_catalog
    last on the path, or make a row-security policy call a function: any of them would run
    their code inside the shell's reads. Pinned, only built-ins resolve, and a table with a
    policy cannot be read at all (an error, which each reader survives). Yields the user's
    own search_path, read first, for resolving the user's names as the user's queries will.
    """
    if conn.info.encoding == "ascii":  # SQL_ASCII: psycopg loads text as bytes, which no reader here expects
        fmt.text_as_str(conn)
    with read_only_transaction(conn, statement_timeout_ms):
        listed, effective, setting = conn.execute(
            "SELECT pg_catalog.current_schemas(false), pg_catalog.current_schemas(true), pg_catalog.current_setting('search_path')"
        ).fetchone()
        conn.execute("SET LOCAL search_path = pg_catalog, pg_temp")
        conn.execute("SET LOCAL row_security = off")
        yield SearchPath(tuple(listed), tuple(effective), setting)


def timing_line(msec: float) -> str:
    """`\\timing`'s line, as psql's PrintTiming: from a second on, also as [[d ]hh:]mm:ss.fff."""
    if msec < 1000.0:
        return f"Time: {msec:.3f} ms\n"
    minutes, seconds = divmod(msec / 1000.0, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    days, hours = divmod(hours, 24)
    clock = f"{int(minutes):02d}:{seconds:06.3f}" if not hours and not days else f"{hours:02d}:{int(minutes):02d}:{seconds:06.3f}"
    return f"Time: {msec:.3f} ms ({f'{days} d ' if days else ''}{clock})\n"


def _row_count(shown: int, status: str) -> int:
    """psql's ROW_COUNT after rows it printed: the count the tag holds (PQcmdTuples), so 0
    after EXPLAIN or SHOW, whose tags hold none."""
    return shown if status.rsplit(" ", 1)[-1].isdigit() else 0


class OneStatementCursor(psycopg.Cursor):
    """A cursor that always uses the extended query protocol, which runs exactly one statement.

    psycopg sends a query without parameters by the simple protocol, where `END; DROP TABLE t`
    is two statements and both run. Model-written SQL goes through this cursor instead: the
    server refuses a second statement before running any.
    """

    def _execute_send(self, query, *, force_extended: bool = False, binary: bool | None = None) -> None:
        super()._execute_send(query, force_extended=True, binary=binary)


COPY_CHUNK = 1 << 16  # bytes of COPY TO STDOUT data held before one write


class Executor:
    """Runs statements on one connection with the current display settings."""

    def __init__(
        self,
        conn: psycopg.Connection,
        settings: Settings,
        output: Output,
        errors: Callable[[], IO[str]] = lambda: sys.stderr,
        location: Callable[[], str] = lambda: "",
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.output = output
        self.errors = errors
        self.location = location  # psql's "psql:FILE:LINE: " before errors from a script
        # Where COPY ... FROM STDIN reads: the lines after it in a script, else standard input.
        self.copy_stdin: Callable[[], Iterable[bytes]] = lambda: ()
        # While `\\g FILE` sends rows and COPY data to FILE: the query output, where psql still
        # prints the command tags (``COPY n`` too, as the data went elsewhere).
        self.status_output: Output | None = None
        self.last_oid: str | None = None  # psql's LASTOID: the OID in the last command tag shown
        self._cancel_sent = False  # Ctrl-C sent the server a cancel request for this statement
        self._unwritten = False  # a result of this statement could not be written
        self._dropped = False  # ... nor opened (told): psql prints no tag after its rows
        self._typing_data = False  # a COPY FROM STDIN waits for its next line of data
        self.held_notices: list[str] | None = None  # notices held while our DECLARE runs
        self.show_notice: NoticePrinter | None = None  # how the shell prints one (install_notice_printer)

    def run(self, sql: str, *, read_only: bool = False, statement_timeout_ms: int | None = None, single: bool = False) -> Outcome:
        """Run one statement and print its result; errors are printed, never raised.

        `read_only` wraps the statement in a READ ONLY transaction (with an optional statement
        timeout) so the server itself refuses writes; `single` sends it by the extended protocol,
        so that it is one statement or none. That is how model-written SQL runs.
        """
        started = time.perf_counter()
        self._cancel_sent = self._unwritten = self._dropped = False
        try:
            if read_only:
                outcome = self._run_guarded(sql, statement_timeout_ms, single)
            else:
                outcome = self._run(sql, single)
        except KeyboardInterrupt:
            outcome = self._cancelled()
        except psycopg.Error as exc:
            outcome = self._failed(exc, model=read_only or single)
        if self.settings.timing:
            self.output.say(timing_line((time.perf_counter() - started) * 1000))
        return replace(outcome, unwritten=outcome.unwritten or self._unwritten)

    def _cancelled(self) -> Outcome:
        """Ctrl-C outside the server's wait (rows being printed): psycopg has sent the server a
        cancel request and kept the server's answer to itself."""
        stream = self.errors()
        stream.write("Cancel request sent\n")
        self._report(f"ERROR:  {CANCEL_MESSAGE}")
        return Outcome(False, error=f"ERROR:  {CANCEL_MESSAGE}", cancelled=True)

    def _failed(self, exc: psycopg.Error, *, model: bool = False) -> Outcome:
        """The server's error, printed as psql prints it; for model-written SQL made safe to
        show (`visible`): the server quotes the statement's text (an invalid value, LINE),
        which the person was only shown escaped."""
        text = error_text(exc, self.settings.messages)
        self._report(visible(text) if model else text)
        return Outcome(False, error=error_text(exc), diag=exc.diag, cancelled=self._cancel_sent)

    @contextlib.contextmanager
    def own_query(self) -> Iterator[None]:
        """Around one of the shell's own catalog queries (a describe command's): Ctrl-C cancels
        it as psql's handler does ("Cancel request sent", then the server's error), where it
        interrupted the command ("Cancelled.") and, in a script, ended it without a word."""
        self._cancel_sent = False
        with self._cancel_on_interrupt():
            yield

    @property
    def cancel_sent(self) -> bool:
        """Ctrl-C sent the server a cancel request for the last query."""
        return self._cancel_sent

    @contextlib.contextmanager
    def _cancel_on_interrupt(self) -> Iterator[None]:
        """psql's SIGINT handler while a statement runs: Ctrl-C sends the server a cancel
        request, says so at once, and the statement ends with the server's own error (SQLSTATE
        57014, and its LOCATION for \\errverbose). Where the server is not running one (rows
        being printed) Ctrl-C interrupts as ever. Only the main thread can own the handler."""
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or previous is signal.SIG_IGN:
            yield
            return

        def interrupt(signum: int, frame: object) -> None:
            if self._typing_data or self.conn.info.transaction_status != pq.TransactionStatus.ACTIVE:
                raise KeyboardInterrupt  # (while COPY data is read: the copy is ended, see db/copy.py)
            self._cancel_sent = True
            stream = self.errors()
            stream.write("Cancel request sent\n")
            stream.flush()
            with contextlib.suppress(psycopg.Error):
                self.conn.cancel_safe()

        signal.signal(signal.SIGINT, interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _report(self, text: str) -> None:
        stream = self.errors()
        with contextlib.suppress(OSError):  # stderr that cannot be written: psql's fprintf fails quietly
            stream.write(self.location() + text + "\n")
            stream.flush()

    def _client_error(self, text: str) -> None:
        """psql's own error (pg_log_error): ``psql:FILE:LINE: error: TEXT`` in a script file."""
        self._report(f"error: {text}" if self.location() else text)

    def _run_guarded(self, sql: str, statement_timeout_ms: int | None, single: bool) -> Outcome:
        with read_only_transaction(self.conn, statement_timeout_ms):
            return self._run(sql, single)

    def _run(self, sql: str, single: bool = False) -> Outcome:
        direction = None if single else copy_direction(sql)
        if direction == "in":
            return self._copy(sql, self.copy_stdin(), None)
        if direction == "out":  # psql prints COPY n unless it would follow the data
            return self._copy(sql, None, self.data_sink(), show_status=self.status_output is not None)
        with self._cancel_on_interrupt():
            if uses_cursor(sql) and isinstance(as_query(sql, self.conn.info.encoding), str):  # (psycopg declares a cursor from text only)
                return self._run_with_cursor(sql, single)
            return self._run_plain(sql, single)

    def run_simple(self, sql: str) -> Outcome:
        """psql's `-c STRING`: the whole string as one simple-protocol query, so its statements
        run as one implicit transaction (an error undoes them all; CREATE DATABASE is refused)
        and every result is printed in turn, up to the first error, as psql 15 prints them."""
        started = time.perf_counter()
        declared = self.settings.fetch_count > 0 and bool(_SELECT_COMMAND.match(sql))
        own = declared and self.conn.info.transaction_status == pq.TransactionStatus.IDLE
        outcome = Outcome(False, error="")
        self._cancel_sent = self._unwritten = self._dropped = False
        try:
            with self._cancel_on_interrupt():
                if own:
                    self._simple("BEGIN")
                shown: list[Outcome] = []
                results = self._simple(f"DECLARE {_PSQL_CURSOR} NO SCROLL CURSOR FOR\n{sql}" if declared else sql, None if declared else lambda done: shown.extend(self._print_results(done, final=False)))
                if declared:
                    outcome = self._fetch_declared(results[-1])
        except KeyboardInterrupt:
            return self._cancelled()
        except psycopg.Error as exc:
            return self._failed(exc)
        finally:
            if declared and not self.conn.broken:  # psql: CLOSE, then COMMIT or ROLLBACK its own
                self._simple(f"CLOSE {_PSQL_CURSOR}")
                if own:
                    self._simple("COMMIT" if outcome.ok else "ROLLBACK")
        if not declared:
            shown += self._print_results(results)
            failed = [one for one in shown if not one.ok]
            outcome = replace(failed[0] if failed else shown[-1] if shown else Outcome(True), tags=tuple(one.status or "" for one in shown))
        if self.settings.timing:
            self.output.say(timing_line((time.perf_counter() - started) * 1000))
        return replace(outcome, unwritten=outcome.unwritten or self._unwritten)

    def describe_result(self, sql: str) -> Outcome:
        """psql's \\gdesc: the columns and types of ``sql``'s result, from the server's
        description of it as an unnamed prepared statement; the query itself does not run."""
        started = time.perf_counter()
        encoding = self.conn.info.encoding
        with self.conn.lock:
            prepared = self.conn.pgconn.prepare(b"", sent_bytes(sql, encoding))
            described = prepared if prepared.status == pq.ExecStatus.FATAL_ERROR else self.conn.pgconn.describe_prepared(b"")
        if described.status == pq.ExecStatus.FATAL_ERROR:
            return self._print_result(described)
        if not described.nfields:
            self.output.write("The command has no result, or the result has no columns.\n")
            if self.settings.timing:  # (with columns, the query that shows them is timed)
                self.output.say(timing_line((time.perf_counter() - started) * 1000))
            return Outcome(True)
        rows = [
            psycopg.sql.SQL("({}, {}::pg_catalog.oid, {})").format(
                (described.fname(i) or b"").decode(encoding, "replace"), described.ftype(i), described.fmod(i)
            )
            for i in range(described.nfields)
        ]
        query = psycopg.sql.SQL(
            'SELECT name AS "Column", pg_catalog.format_type(tp, tpm) AS "Type"\nFROM (VALUES {}) s(name, tp, tpm)'
        ).format(psycopg.sql.SQL(", ").join(rows))
        return self.run(query.as_string(self.conn))

    def _simple(self, sql: str, before_copy: Callable[[list[pq.PGresult]], None] | None = None) -> list[pq.PGresult]:
        """One simple-protocol query (several statements allowed); every result, errors too.
        A COPY among them is fed or drained as psql does (the data lines after it in a script,
        or standard input; its rows to the query output), and the statements after it run:
        left in COPY, the connection refused everything after. ``before_copy`` gets the
        results so far before a COPY's rows are written, which then are not returned."""
        pgconn = self.conn.pgconn
        with self.conn.lock:
            pgconn.send_query(sent_bytes(sql, self.conn.info.encoding))
            results = self.conn.wait(generators.execute(pgconn))
            while results and results[-1].status in (pq.ExecStatus.COPY_OUT, pq.ExecStatus.COPY_IN):
                if before_copy is not None:  # printed in their order, before the COPY's own rows
                    before_copy(results[:-1])
                    results = results[-1:]
                if results[-1].status == pq.ExecStatus.COPY_OUT:
                    sink = self.data_sink()
                    self.conn.wait(_copy_out(pgconn, sink))
                    if (failure := sink.finish()) is not None:
                        self._client_error(f"could not write COPY data: {failure}")
                        self._unwritten = True
                    elif self.output.take_failure() is not None:  # (told: a \\g FILE that could not be opened)
                        self._unwritten = True
                else:
                    self.conn.wait(_copy_in(pgconn, self.copy_stdin()))
                results += self.conn.wait(generators.fetch_many(pgconn))  # the COPY's own result, then the rest
            return results

    def _fetch_declared(self, last: pq.PGresult) -> Outcome:
        """psql's FETCH_COUNT on a -c string of several statements: it declares its cursor over
        the whole string, so only when the last statement is a command does it fetch; when the
        last one returned rows, it fails without a word (exit code 1)."""
        if last.status == pq.ExecStatus.FATAL_ERROR:
            return self._print_result(last)
        if last.status != pq.ExecStatus.COMMAND_OK:
            return Outcome(False, error="")
        with self.conn.cursor() as cur:
            fmt.text_loading(cur)

            def fetchmany(count: int) -> list:
                cur.execute(f"FETCH FORWARD {count} FROM {_PSQL_CURSOR}", prepare=False)
                return cur.fetchall()

            cur.execute(f"FETCH FORWARD 0 FROM {_PSQL_CURSOR}", prepare=False)  # the columns, no rows
            columns, numeric = fmt.describe(cur)
            shown = self.print_rows(columns, numeric, fetchmany, self.settings.fetch_count)
        return Outcome(True, shown, f"SELECT {shown}")

    def _print_results(self, results: list[pq.PGresult], final: bool = True) -> list[Outcome]:
        """Results of a simple query in turn, up to the first error; a COPY's tag is the result
        after its own, printed unless its rows went to the query output (as psql prints it).
        Under SHOW_ALL_RESULTS off only the query's last result (``final``: these end it) and
        errors are printed."""
        outcomes: list[Outcome] = []
        copied_out = copied = False
        for i, result in enumerate(results):
            if result.status in (pq.ExecStatus.COPY_OUT, pq.ExecStatus.COPY_IN):
                copied_out, copied = result.status == pq.ExecStatus.COPY_OUT, True
                continue
            if not self.settings.show_all_results and result.status != pq.ExecStatus.FATAL_ERROR and not (final and i == len(results) - 1):
                status = (result.command_status or b"").decode()
                outcomes.append(Outcome(True, result.command_tuples or 0, status))
            else:
                outcomes.append(self._print_result(result, show_status=not copied_out or self.status_output is not None))
            if copied and not outcomes[-1].ok:
                outcomes[-1] = replace(outcomes[-1], unrecorded=True)
            copied_out = copied = False
            if not outcomes[-1].ok:
                break
        return outcomes

    def _print_result(self, result: pq.PGresult, *, show_status: bool = True) -> Outcome:
        """One result of a simple query: its rows, its tag or its error."""
        if result.status == pq.ExecStatus.FATAL_ERROR:
            text = (result.error_message or b"").decode(text_encoding(self.conn.info.encoding), errors="replace").rstrip("\n")
            style, diag = self.settings.messages, psycopg.errors.Diagnostic(result, self.conn.info.encoding)
            self._report(text if style.plain else server_message(diag, style, error=True, libpq_text=text))
            return Outcome(False, error=text, diag=diag)  # SQLSTATE, LAST_ERROR_*, \\errverbose
        status = (result.command_status or b"").decode()
        if result.status != pq.ExecStatus.TUPLES_OK:
            if show_status:
                self.print_status(status)
            counted = show_status or not status.startswith("COPY ")  # (COPY rows the shell wrote itself count 0, as psql's)
            return Outcome(True, (result.command_tuples or 0) if counted else 0, status)
        encoding = self.conn.info.encoding
        columns = fmt.column_names(result, encoding)
        numeric = [fmt.is_numeric_oid(result.ftype(i)) for i in range(result.nfields)]
        rows = [
            tuple(None if (value := result.get_value(r, c)) is None else bytes(value).decode(encoding, errors="replace") for c in range(result.nfields))
            for r in range(result.ntuples)
        ]

        def fetchmany(count: int) -> list[tuple[str | None, ...]]:
            batch, rows[:count] = rows[:count], []
            return batch

        shown = self.print_rows(columns, numeric, fetchmany)
        self.status_after_rows(status)
        return Outcome(True, _row_count(shown, status), status)

    def print_status(self, status: str) -> None:
        """psql's PrintQueryStatus: the command tag, unless quiet (an HTML paragraph in -H);
        quiet or not, LASTOID becomes the OID libpq reads off the tag (``INSERT oid rows``)."""
        if status:
            words = status.split()
            self.last_oid = words[1] if words[0] == "INSERT" and len(words) == 3 else "0"
        if not status:
            return
        if not self.settings.quiet:
            output = self.status_output or self.output
            if self.settings.format == "html":
                from nl2sql_shell.db.html import escape

                output.write_unlogged(f"<p>{escape(status)}</p>\n")
            else:
                output.write_unlogged(status + "\n")
        self.output.log_text(status + "\n")  # quiet or not, and plain in -H, as psql logs it

    def status_after_rows(self, status: str) -> None:
        """After rows psql 15 prints the tag only for INSERT/UPDATE/DELETE ... RETURNING:
        not for SELECT, SHOW, EXPLAIN or FETCH."""
        if status.startswith(_TAG_AFTER_ROWS) and not self._dropped:
            self.print_status(status)

    def copy(self, sql: str, source: Iterable[bytes] | None, sink: CopySink | None, *, show_status: bool = True) -> Outcome:
        """`\\copy`: one COPY with the client's end chosen by the caller, errors printed as run's."""
        self._cancel_sent = False
        try:
            return self._copy(sql, source, sink, show_status=show_status)
        except KeyboardInterrupt:
            return self._cancelled()
        except psycopg.Error as exc:
            return self._failed(exc)

    def _copy(self, sql: str, source: Iterable[bytes] | None, sink: CopySink | None, *, show_status: bool = True) -> Outcome:
        """psql prints ``COPY n`` except when the data itself went to the query output. Data
        that cannot be written is told once, as psql's handleCopyOut tells it, and the
        server's is still read to the COPY's end."""
        error: psycopg.Error | None = None
        copying: list[bool] = []
        try:  # Ctrl-C: a cancel request, and the server's data up to its error is still read
            with self._cancel_on_interrupt():  # (a KeyboardInterrupt inside psycopg's read left the COPY half read: the session broken)
                status = run_copy(self.conn, sql, None if source is None else self._read(source), sink, lambda: copying.append(True))
        except psycopg.Error as exc:
            error = exc
        finally:  # (what came before the server's error is written too, as psql's stdio writes it)
            failure = None if sink is None else sink.finish()
        if error is not None:  # refused once copying: psql 15 leaves the result variables as they were
            return replace(self._failed(error), unrecorded=bool(copying))
        if failure is not None:
            self._client_error(f"could not write COPY data: {failure}")
        elif sink is not None and self.output.take_failure() is not None:  # (told: a \\g FILE that could not be opened)
            failure = ""
        if show_status:
            self.print_status(status)
        # psql counts the rows only where it printed the tag (its ROW_COUNT is 0 after rows it wrote itself)
        rows = int(status.split()[-1]) if show_status and status.split()[-1].isdigit() else 0
        return Outcome(True, rows, status, unwritten=failure is not None)

    def _read(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        """COPY data as it is read, ``_typing_data`` while the next line is awaited: Ctrl-C
        there ends the COPY (psql's "canceled by user"), where a cancel request would leave the
        server discarding what follows up to `\\.`, and the person typing into it."""
        source = iter(lines)
        while True:
            self._typing_data = True
            try:
                line = next(source, None)
            finally:
                self._typing_data = False
            if line is None:
                return
            yield line

    def data_sink(self) -> CopySink:
        """COPY TO STDOUT's data for the query output (or `\\g`'s file or command), written in
        pieces of COPY_CHUNK bytes (one write and flush per row made a million rows nine times
        slower than psql's buffered stdio), row by row on a terminal."""
        output = self.output
        held: list[bytes] = []
        size = 0
        chunk = 0 if output.is_terminal and output.to_stdout else COPY_CHUNK  # a terminal sees each row as it comes, as psql's

        def flush() -> None:
            nonlocal size
            if held:
                data, size = b"".join(held), 0
                held.clear()
                output.write_bytes(data)

        def write(data: bytes) -> None:
            nonlocal size
            held.append(data)
            size += len(data)
            if size >= chunk:
                flush()

        return CopySink(write, flush, to_stdout=output.to_stdout)

    def _run_plain(self, sql: str, single: bool = False) -> Outcome:
        with OneStatementCursor(self.conn) if single else fmt.TextCursor(self.conn) as cur:
            if single:
                fmt.text_loading(cur)  # only our own cursors: pgspecial and the schema reader want Python values
            cur.execute(as_query(sql, self.conn.info.encoding), prepare=False)
            if fmt.result_columns(cur) is None:
                status = cur.statusmessage or ""
                self.print_status(status)
                return Outcome(True, max(cur.rowcount, 0), status)
            shown = self._print(cur)
            status = cur.statusmessage or ""
            self.status_after_rows(status)
            return Outcome(True, _row_count(shown, status), status)

    def _run_with_cursor(self, sql: str, single: bool = False) -> Outcome:
        """DECLARE + FETCH in batches, inside our own transaction unless the user has one open.

        If DECLARE itself fails (a typo, a missing column), the error would quote our DECLARE
        text; in our own (now rolled back) transaction we rerun the statement plainly so the
        message, LINE and caret are exactly psql's. It failed before running, so it fails
        the same way again. Inside the user's transaction "our own" is a savepoint, so the
        rerun's error is what leaves the transaction aborted, as psql's statement would.

        With FETCH_COUNT, psql itself declares a cursor for SELECT and VALUES, and its errors
        quote the query as line 2 of its DECLARE: so does ours, and it fails as psql's does,
        in the user's transaction with no savepoint.
        """
        status = self.conn.info.transaction_status
        psql_cursor = not single and self.settings.fetch_count > 0 and bool(_SELECT_COMMAND.match(sql))
        if (single or psql_cursor) and status != pq.TransactionStatus.IDLE:
            return self._fetch_all(sql, [False], psql_cursor)
        if status == pq.TransactionStatus.INERROR:  # refused whatever it is: the server's own words
            return self._run_plain(sql, single)
        if status == pq.TransactionStatus.INTRANS:
            return self._in_their_transaction(sql, single)
        declared = [False]
        try:
            with self.conn.transaction():
                return self._fetch_all(sql, declared, psql_cursor)
        except psycopg.Error:
            # a cancelled statement is not run again, nor one whose connection the server
            # ended (its FATAL came at our BEGIN): the server's words are the error
            if declared[0] or psql_cursor or self._cancel_sent or self.conn.broken:
                raise
        return self._run_plain(sql, single)

    def _in_their_transaction(self, sql: str, single: bool) -> Outcome:
        """Inside the person's transaction the savepoint covers the DECLARE alone (a statement
        that fails before it runs is rerun plainly for psql's message, and that rerun aborts
        the transaction); once declared, the cursor is theirs, so an error met while its rows
        are read (a division by zero, a timeout, Ctrl-C) aborts their transaction, as psql's
        statement does, and COMMIT then rolls back."""
        self.conn.execute(f"SAVEPOINT {_SAVEPOINT}")
        declared = [False]
        try:
            return self._fetch_all(sql, declared, then=lambda: self.conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}"))
        except psycopg.Error:
            if declared[0] or self._cancel_sent or self.conn.broken:
                raise
        self.conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        self.conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        return self._run_plain(sql, single)

    def _fetch_all(self, sql: str, declared: list[bool], psql_cursor: bool = False, then: Callable[[], object] | None = None) -> Outcome:
        """DECLARE, then (``then`` first, once declared) the rows in batches. The server's
        notices at our DECLARE (a WARNING of the statement's text) wait: printed once it is
        declared, without a LINE display that would quote our DECLARE, and dropped when it
        failed and the statement is run again plainly (which repeats them)."""
        with self.conn.cursor(name=_CURSOR_NAME, scrollable=False) as cur:
            fmt.text_loading(cur)
            self.held_notices = [] if not psql_cursor and self.show_notice is not None else None
            try:
                cur.execute("\n" + sql)  # psql's own: "DECLARE _psql_cursor NO SCROLL CURSOR FOR\n<query>"; ours too (see _one_line_up)
            finally:
                held, self.held_notices = self.held_notices, None
            for notice in held or ():  # (a DECLARE that failed raised: its notices go)
                self.show_notice(notice)  # type: ignore[misc]
            declared[0] = True
            if then is not None:
                then()
            columns, numeric = fmt.describe(cur)
            fetch_count = self.settings.fetch_count if _SELECT_COMMAND.match(sql) else 0
            shown = self.print_rows(columns, numeric, cur.fetchmany, fetch_count)
            return Outcome(True, shown, f"SELECT {shown}")

    def _print(self, cur: psycopg.Cursor) -> int:
        columns, numeric = fmt.describe(cur)
        return self.print_rows(columns, numeric, cur.fetchmany)

    def print_rows(self, columns: list[str], numeric: list[bool], fetchmany: Callable[[int], Sequence[Sequence[str | None]]], fetch_count: int = 0) -> int:
        """Format and write a result; returns its row count.

        With ``fetch_count`` (psql's FETCH_COUNT, for SELECT and VALUES) each batch of that
        many rows is printed on its own widths as it arrives, as psql does. Without it, psql
        prints on widths computed over the whole result: we hold the rows up to HELD_ROWS or
        HELD_BYTES and print them at once, so an error part way prints only the error; a
        bigger result goes on in parts of that size, with one notice on stderr, so that memory
        stays bounded whatever the result's size.
        """
        render = self._renderer(columns, numeric, self.settings)
        shown = 0
        try:
            with self.output.page(log=False) as shown_write:
                logged = self.settings.logged

                def log(rows: fmt.Rows, start: bool, stop: bool, prior: int) -> None:
                    if self.output.log is not None:
                        self.output.log_text(fmt.render(columns, numeric, rows, logged, start=start, stop=stop, prior_rows=prior, output_columns=logged.columns))

                if fetch_count > 0:
                    # psql opens its pager once a batch is full and then, in \x auto, prints every
                    # batch vertically so that the batches do not decide differently.
                    batches = self._renderer(columns, numeric, self._fixed_expanded(True), paged=True) if self.output.to_stdout else render

                    def counted(rows: fmt.Rows, start: bool, stop: bool, prior: int) -> str:
                        nonlocal shown
                        shown = prior + len(rows)
                        log(rows, start, stop, prior)
                        return (render if stop and start else batches)(rows, start, stop, prior)

                    for text in fmt.stream(counted, fetchmany, fetch_count):
                        shown_write(text)
                        if self.output.failure is not None:  # psql: the reader is gone, no use fetching
                            if self.output.failure:  # more; it stops there without a word (one told is
                                self.output.take_failure()  # left to _written: a \\g FILE not opened)
                            break
                    return shown
                for rows, done in _parts(fetchmany):
                    if not shown and not done:
                        self._report(
                            f"Note: more than {HELD_ROWS:,} rows or {HELD_BYTES >> 20} MB: printing in parts from here; "
                            "column widths may change between parts (\\set FETCH_COUNT N prints N rows at a time)."
                        )
                        # \x auto decides on the first part and keeps to it for the others
                        render = self._renderer(columns, numeric, self._fixed_expanded(auto_vertical(columns, rows, self.settings, self.output.columns(self.settings.columns))))
                    shown_write(render(rows, not shown, done, shown))
                    log(rows, not shown, done, shown)
                    shown += len(rows)
                return shown
        finally:
            self._written()

    def _written(self) -> None:
        """After a result: a write that failed is told, as psql's "could not print result
        table" (a failure met writing a command's tag before it is told here too, as psql's
        stream error stays until the next result)."""
        if (failure := self.output.take_failure()) is not None:
            if failure:
                self._client_error(f"could not print result table: {failure}")
            else:  # told already (Output.told_failure): the rows went nowhere, and so does psql's tag after them
                self._dropped = True
            self._unwritten = True

    def _fixed_expanded(self, vertical: bool) -> Settings:
        """The settings with \\x auto made on or off (aligned and wrapped formats only)."""
        if self.settings.expanded != "auto" or self.settings.format not in ("aligned", "wrapped"):
            return self.settings
        return replace(self.settings, expanded="on" if vertical else "off")

    def _renderer(self, columns: list[str], numeric: list[bool], settings: Settings, *, paged: bool = False) -> fmt.Render:
        width = self.output.columns(settings.columns, paged=paged)

        def render(rows: fmt.Rows, start: bool, stop: bool, prior: int) -> str:
            return fmt.render(columns, numeric, rows, settings, start=start, stop=stop, prior_rows=prior, output_columns=width)

        return render


def _parts(fetchmany: Callable[[int], Sequence[Sequence[str | None]]]) -> Iterator[tuple[list[Sequence[str | None]], bool]]:
    """The result in parts of up to HELD_ROWS rows or HELD_BYTES of values (a whole result
    that fits is one part), each with whether it is the last. Past a full part one more chunk
    is read, so that a result ending right at the bound is still one part."""
    carried: list[Sequence[str | None]] = []
    while True:
        held, carried = carried, []
        size = _size(held)
        while len(held) < HELD_ROWS and size < HELD_BYTES:
            wanted = min(_CHUNK, HELD_ROWS - len(held))
            chunk = fetchmany(wanted)
            held += chunk
            if len(chunk) < wanted:
                yield held, True
                return
            size += _size(chunk)
        carried = list(fetchmany(_CHUNK))
        yield held, not carried
        if not carried:
            return


def _size(rows: Sequence[Sequence[str | None]]) -> int:
    return sum(map(len, filter(None, chain.from_iterable(rows))))


def _copy_out(pgconn: pq.abc.PGconn, sink: CopySink) -> Iterator:
    """(A psycopg wait generator.) A COPY TO STDOUT's rows, handed to ``sink`` until its end."""
    while True:
        size, data = pgconn.get_copy_data(1)
        if size == 0:  # nothing yet
            while not (yield generators.WAIT_R):
                continue
            pgconn.consume_input()
        elif size < 0:
            return
        else:
            sink(bytes(data))


def _copy_in(pgconn: pq.abc.PGconn, lines: Iterable[bytes]) -> Iterator:
    """(A psycopg wait generator.) A COPY FROM STDIN fed ``lines``, then ended."""
    for line in lines:
        yield from generators.copy_to(pgconn, line, flush=False)
    while pgconn.put_copy_end(None) == 0:
        while not (yield generators.WAIT_W):
            continue
    while pgconn.flush() != 0:
        while not (yield generators.WAIT_W):
            continue
