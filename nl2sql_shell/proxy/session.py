"""One client connection: its bytes pumped both ways, its questions caught and answered.

Everything that is not a question goes to the upstream server as it came, and everything
the server says comes back unchanged: simple and extended protocol, COPY both ways,
notices, errors and transaction status, so an ordinary client cannot tell the proxy is
there. The proxy follows the upstream stream only to know what it needs for questions: the
transaction status and the ReadyForQuery messages still owed to the client (a question
waits until the server is idle before borrowing the connection), ParameterStatus values
and the cancel key (handed to the bridge's psycopg connection), and DDL (the shared schema
cache is dropped, as in the REPL).

A question in a simple Query is answered by the proxy itself: a NOTICE with the SQL, one
row, ReadyForQuery. A question in a Parse (the extended protocol) is answered when it
starts a batch: the proxy asks, then sends the server, in its place, a SELECT of the answer
as constants, so that Bind, Describe, Execute, Close and a reused statement name all behave
as for any statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg._encodings import pg2pyenc

from nl2sql_shell.nl2sql.examples import ExampleStore, store_path
from nl2sql_shell.nl2sql.pipeline import Answer
from nl2sql_shell.proxy import codec
from nl2sql_shell.proxy.questions import ANSWER_COLUMNS, Ask, Conversation, NotRunnable, Run, RunResult, answer_row, notice_text, parse_command

if TYPE_CHECKING:
    from nl2sql_shell.proxy.server import Proxy

_READ = 1 << 18
_MAYBE_COMMAND = re.compile(rb"\s*[?sS]")
_DDL = (b"CREATE", b"ALTER", b"DROP", b"COMMENT", b"GRANT", b"REVOKE", b"TRUNCATE")
_EXTENDED = frozenset(b"PBDECH")
Q, P, S, F = (ord(c) for c in "QPSF")


class Session:
    """The state the proxy keeps of one client and its upstream connection."""

    def __init__(
        self,
        proxy: Proxy,
        startup: codec.Startup,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.startup = startup
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.parameters: dict[str, str] = {}
        self.backend_key: bytes | None = None
        self.status = b"I"  # the upstream's transaction status at its last ReadyForQuery
        self.cancel: threading.Event | None = None  # set by a CancelRequest while a question runs
        self.conversation = Conversation(ExampleStore(store_path(proxy.upstream.host, proxy.upstream.port, startup.database)))
        self._owed = 1  # ReadyForQuery messages the server still owes the client (the startup's first)
        self._idle = asyncio.Event()
        self._in_batch = False  # extended-protocol messages sent since the last Sync
        self._bridge: asyncio.StreamWriter | None = None

    @property
    def encoding(self) -> str:
        try:
            return pg2pyenc(self.parameters.get("client_encoding", "UTF8").encode())
        except psycopg.NotSupportedError:
            return "utf-8"

    async def run(self) -> None:
        tasks = {asyncio.create_task(self._pump_upstream()), asyncio.create_task(self._pump_client())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.proxy.forget(self)
            for writer in (self.client_writer, self.upstream_writer):
                writer.close()

    # -- the bridge's side -----------------------------------------------------------------------
    def attach(self, writer: asyncio.StreamWriter) -> None:
        """The server's replies go to the bridge's psycopg connection until `detach`."""
        self._bridge = writer

    def detach(self) -> None:
        self._bridge = None

    async def send_upstream(self, data: bytes) -> None:
        self.upstream_writer.write(data)
        await self.upstream_writer.drain()

    # -- pumps --------------------------------------------------------------------------------------
    async def _pump_upstream(self) -> None:
        scanner = codec.FrameScanner(b"ZSKC")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await self.upstream_reader.read(_READ):
                sink = self._bridge
                for message in scanner.feed(data):
                    self._track(message, bridged=sink is not None)
                target = sink or self.client_writer
                target.write(data)
                await target.drain()

    def _track(self, message: codec.Message, bridged: bool) -> None:
        kind, body = chr(message.kind), message.body
        if kind == "Z":
            self.status = body[:1]
            if not bridged:
                self._owed = max(self._owed - 1, 0)
                if not self._owed:
                    self._idle.set()
        elif kind == "S":
            name, pos = codec.read_cstring(body)
            self.parameters[name.decode(errors="replace")] = codec.read_cstring(body, pos)[0].decode(errors="replace")
        elif kind == "K":
            self.backend_key = body
            self.proxy.remember(self)
        elif kind == "C" and body.startswith(_DDL):
            self.proxy.schema_changed()

    async def _pump_client(self) -> None:
        frames = codec.FrameReader()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await self.client_reader.read(_READ):
                out = bytearray()
                for message in frames.feed(data):
                    command = self._command(message)
                    if command is None:
                        self._count(message.kind)
                        out += message.wire()
                        continue
                    if out:
                        await self.send_upstream(bytes(out))
                        out = bytearray()
                    if message.kind == Q:
                        await self._answer_query(command)
                    else:
                        await self._answer_parse(message, command)
                if out:
                    await self.send_upstream(bytes(out))

    def _count(self, kind: int) -> None:
        if kind in (Q, S, F):
            self._owed += 1
            self._idle.clear()
        if kind in _EXTENDED:
            self._in_batch = True
        elif kind == S:
            self._in_batch = False

    def _command(self, message: codec.Message) -> Ask | Run | None:
        if message.kind == Q:
            sql = codec.query_text(message)
        elif message.kind == P:
            sql = codec.parse_fields(message)[1]
        else:
            return None
        if not _MAYBE_COMMAND.match(sql):
            return None
        return parse_command(sql.decode(self.encoding, errors="replace"))

    # -- questions ------------------------------------------------------------------------------------
    async def _answer_query(self, command: Ask | Run) -> None:
        await self._idle.wait()  # every earlier reply delivered: the connection can be lent
        outcome = await self._outcome(command)
        encoding = self.encoding
        if isinstance(outcome, Failure):
            reply = _response_from(b"E", outcome.diag, encoding) if outcome.diag else codec.error(outcome.message, outcome.sqlstate, encoding=encoding)
        elif isinstance(outcome, RunResult):
            reply = _result_bytes(outcome, encoding)
        else:
            reply = (
                codec.notice(notice_text(outcome), encoding)
                + codec.row_description(ANSWER_COLUMNS, encoding)
                + codec.data_row(answer_row(outcome), encoding)
                + codec.command_complete("SELECT 1")
            )
        self.client_writer.write(reply + codec.ready_for_query(self.status))
        await self.client_writer.drain()

    async def _answer_parse(self, message: codec.Message, command: Ask | Run) -> None:
        """The question's Parse becomes a Parse of its answer as constants; ?run needs the
        simple protocol (it must run when executed, not when parsed), so it becomes an error."""
        name, _, rest = codec.parse_fields(message)
        if isinstance(command, Run):
            sql = _raise_sql("?run needs the simple query protocol (psql, psycopg); here, run the proposed SQL yourself")
        elif self._in_batch:
            sql = _raise_sql("send SELECT nl2sql(...) on its own, not inside a pipelined batch")
        else:
            await self._idle.wait()
            outcome = await self._outcome(command)
            if isinstance(outcome, Answer):
                self.client_writer.write(codec.notice(notice_text(outcome), self.encoding))
                sql = _constant_select(answer_row(outcome))
            else:
                assert isinstance(outcome, Failure)
                sql = _raise_sql(outcome.message)
        self._count(P)
        await self.send_upstream(codec.parse_message(name, sql.encode(self.encoding, errors="replace"), rest).wire())

    async def _outcome(self, command: Ask | Run) -> Answer | RunResult | Failure:
        """Ask or run over the bridge; what went wrong as a Failure, never raised."""
        if self.status == b"E":
            return Failure("current transaction is aborted, commands ignored until end of transaction block", "25P02")
        if isinstance(command, Ask) and not command.question:
            return Failure("usage: ? QUESTION  (e.g. ? top 5 customers by total amount)", "42601")
        try:
            if isinstance(command, Run):
                return await self.proxy.run(self, command)
            answer = await self.proxy.ask(self, command)
        except NotRunnable as exc:
            return Failure(str(exc), "55000")
        except psycopg.Error as exc:
            diag = exc.diag if exc.diag.sqlstate else None
            return Failure(str(exc).strip() or exc.__class__.__name__, exc.diag.sqlstate or "08006", diag)
        except Exception as exc:  # noqa: BLE001 - the model failed to load or to answer: one error, the session goes on
            return Failure(f"could not answer: {exc}", "XX000")
        if answer.kind == "cancelled":
            return Failure("canceling statement due to user request", "57014")
        return answer


@dataclass
class Failure:
    """An error for the client: the server's own (``diag``) or the proxy's."""

    message: str
    sqlstate: str
    diag: psycopg.errors.Diagnostic | None = None


def _result_bytes(result: RunResult, encoding: str) -> bytes:
    out = bytearray()
    for diag in result.notices:
        out += _response_from(b"N", diag, encoding)
    if result.columns is not None:
        out += codec.row_description(result.columns, encoding)
        for row in result.rows:
            out += codec.data_row(row, encoding)
    out += codec.command_complete(result.tag)
    return bytes(out)


def _response_from(kind: bytes, diag: psycopg.errors.Diagnostic, encoding: str) -> bytes:
    fields = {
        "S": diag.severity,
        "V": diag.severity_nonlocalized,
        "C": diag.sqlstate,
        "M": diag.message_primary,
        "D": diag.message_detail,
        "H": diag.message_hint,
        "P": diag.statement_position,
        "W": diag.context,
    }
    return codec.response(kind, {code: value for code, value in fields.items() if value}, encoding)


def _literal(value: str | None) -> str:
    """A string constant that reads the same whatever standard_conforming_strings says."""
    if value is None:
        return "NULL"
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _constant_select(row: tuple[str | None, ...]) -> str:
    values = ", ".join(f"{_literal(value)}::{'boolean' if oid == codec.BOOL_OID else 'text'} AS {name}" for value, (name, oid) in zip(row, ANSWER_COLUMNS))
    return f"SELECT {values}"


def _raise_sql(message: str) -> str:
    """A statement the server rejects with ``message`` when executed, harmless when not."""
    return f"DO $nl2sql$BEGIN RAISE EXCEPTION USING MESSAGE = {_literal(message)}, ERRCODE = 'feature_not_supported'; END$nl2sql$"
