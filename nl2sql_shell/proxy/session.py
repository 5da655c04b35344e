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
row, ReadyForQuery. A question in a Parse (the extended protocol) is asked at the Parse:
the proxy then sends the server, in its place, a SELECT of the answer as constants, so
that Bind, Describe, Execute, Close and a reused statement name all behave as for any
statement.

`?run` in a Parse makes a statement that only the proxy knows: the proxy answers its
Parse, Bind, Describe, Execute and Close itself (ParseComplete, BindComplete, the
proposal's columns as the server describes them, its rows in the formats the Bind asked
for) and the proposal runs at the Execute. A Sync still goes to the server, whose
ReadyForQuery carries the real transaction status.

Whenever the proxy must answer or borrow the connection in the middle of a batch (messages
since the last Sync already sent on), and before a simple Query or FunctionCall sent inside
one (the server answers it only if the batch has not failed), it first sends a Sync of its
own and waits for the server to be idle; that ReadyForQuery is not passed on. If the server
failed something of that first part, the rest of the client's batch is skipped up to its
Sync, as the server would. The client's implicit transaction then ends at that point, not at
its own Sync. A message held so while the server turns out to wait for COPY data (an Execute
just before it started one) goes to the server, which ends the connection as it would
directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg._encodings import pg2pyenc

from nl2sql_shell.db.as_sent import text_encoding
from nl2sql_shell.db.cells import visible
from nl2sql_shell.nl2sql.examples import ExampleStore, store_path
from nl2sql_shell.nl2sql.pipeline import Answer
from nl2sql_shell.proxy import codec
from nl2sql_shell.proxy.copying import CopyTracker
from nl2sql_shell.proxy.questions import (
    ANSWER_COLUMNS,
    Ask,
    Conversation,
    Misused,
    Notice,
    NotRunnable,
    Run,
    RunResult,
    answer_row,
    notice_text,
    parse_command,
)

if TYPE_CHECKING:
    from nl2sql_shell.proxy.server import Proxy

_READ = 1 << 18
_MAYBE_COMMAND = re.compile(rb"(?:\s|--[^\n]*+|/\*(?:(?!\*/).)*+\*/)*+[?sS]", re.DOTALL)  # after blanks and comments (questions.py's _BLANK)
# in any other statement, maybe a Misused form: the name, or what may spell it (see _names_ours)
_NAMED = re.compile(rb"nl2sql|u&|\\|'[ \t\f\v]*(?:--[^\n\r]*)?[\n\r]", re.IGNORECASE)
_DDL = (b"CREATE", b"ALTER", b"DROP", b"COMMENT", b"GRANT", b"REVOKE", b"TRUNCATE")
_EXTENDED = frozenset(b"PBDECH")
_REBIND = "?run: another question was answered after this portal was bound; bind ?run again to run the new proposal"
_INSPECTED = b"QPBDECSFHcf"  # the client's control messages; CopyData and the rest pass as bytes
Q, P, B, D, E, C, S, F, Z = (ord(c) for c in "QPBDECSFZ")
_Z_LENGTH = 6


class ServerInCopy(Exception):
    """The server waits for the client's COPY data: a message held for a question goes to it."""


@dataclass
class Portal:
    """A portal bound to a `?run` statement: what to run, the formats asked, its result, and
    the proposal its Bind confirmed (a question answered before its Execute must not put
    another statement under that confirmation)."""

    command: Run
    result_formats: tuple[int, ...]
    proposal: Answer | None
    described: bool = False
    result: RunResult | None = None
    sent: int = 0  # rows already sent (an Execute with a row limit suspends the portal)


@dataclass
class Virtual:
    """A statement only the proxy knows: `?run` parsed, and the columns it was described with."""

    command: Run
    columns: list[tuple[str, int]] | None = None
    described: bool = False


def _without_channel_binding(message: codec.Message, tls_upstream: bool) -> bytes | None:
    """An AuthenticationSASL offering SCRAM-SHA-256-PLUS over the proxy's TLS link to the
    server, without it: the client's own link is in clear text, so it can bind to no TLS
    channel, and libpq refuses a server that offers one over a non-SSL connection (no psql
    could log in with SCRAM). None for any other message, or with nothing to take out."""
    body = message.body
    if not tls_upstream or body[:4] != b"\0\0\0\x0a" or b"SCRAM-SHA-256-PLUS\0" not in body:
        return None
    mechanisms = [m for m in body[4:].split(b"\0") if m and m != b"SCRAM-SHA-256-PLUS"]
    return codec.encode(ord("R"), body[:4] + b"".join(m + b"\0" for m in mechanisms) + b"\0")


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
        # the protocol's minor version: the client's, or the newest the server offered in its
        # NegotiateProtocolVersion (3.2 carries a longer cancel key)
        self.protocol_minor = startup.code & 0xFFFF
        self.status = b"I"  # the upstream's transaction status at its last ReadyForQuery
        self.cancel: threading.Event | None = None  # set by a CancelRequest while a question runs
        self.conversation = Conversation(lambda role: ExampleStore(store_path(proxy.upstream.host, proxy.upstream.port, startup.database, role)))
        self.authenticated = False  # the server's AuthenticationOk came: until then the client's bytes pass unread
        self._owed = 1  # ReadyForQuery messages the server still owes (the startup's first)
        self._idle = asyncio.Event()
        self._in_batch = False  # extended-protocol messages sent since the last Sync
        self._bridge: asyncio.StreamWriter | None = None
        self._swallow = 0  # ReadyForQuery messages answering the proxy's own Syncs: not the client's
        self._failed = False  # an ErrorResponse since the last ReadyForQuery
        self._last_failed = False  # ... before the last one
        self._discarding = False  # the rest of a failed batch is skipped up to the client's Sync
        self._notifications = bytearray()  # NOTIFYs and ParameterStatus that came while the bridge had the connection
        self._fatal = b""  # the server's FATAL that ended the session while the bridge had it: the client's too
        self.copy = CopyTracker()
        self._lent_with: dict[str, str] = {}  # the parameters when the bridge was lent the connection
        self._reported: dict[str, bytes] = {}  # ... and the last ParameterStatus of each it reported since
        self._lent_in = b"I"  # ... and the transaction status then
        self._statements: dict[bytes, Virtual] = {}  # `?run` statements, by name
        self._read_ahead = bytearray()  # what the client sent while a question ran, read next
        self.left = asyncio.Event()  # the client closed its connection (what it sent before may still wait in _read_ahead)
        self._portals: dict[bytes, Portal] = {}
        # the server's statements that are a question's answer as constants (see _answer_parse):
        # bound again (a driver's prepared statement), they show an old answer, and `?run`
        # runs nothing until the next question (Conversation.shown_again)
        self._answered: dict[bytes, Answer] = {}
        self._answered_portals: dict[bytes, Answer] = {}  # ... and the portals bound to them

    @property
    def encoding(self) -> str:
        """The client encoding in Python's words; SQL_ASCII's bytes as UTF-8 (psycopg's
        "ascii" made every other byte `?` in questions, names and values)."""
        try:
            return text_encoding(pg2pyenc(self.parameters.get("client_encoding", "UTF8").encode()))
        except psycopg.NotSupportedError:
            return "utf-8"

    async def run(self) -> None:
        """Pump both ways until either side ends. A client that only stops sending (its end of
        the connection shut for writing) still gets every reply its statements are owed, as
        from the server directly: the server sees the same end after the last message and
        closes when done. (A question it asked is cancelled: a client that shut its side
        cannot be told from one that left, whose question must not hold the model.)"""
        upstream = asyncio.create_task(self._pump_upstream())
        tasks = {upstream, asyncio.create_task(self._pump_client())}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if self.left.is_set() and not upstream.done():
                if self.upstream_writer.can_write_eof():
                    self.upstream_writer.write_eof()
                else:  # a TLS link cannot half-close: a Terminate after what the client sent ends it as the server's end of input would
                    self.upstream_writer.write(codec.encode(ord("X")))
                await upstream
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.proxy.forget(self)
            if self._fatal:  # as the server would have told the client directly
                self.client_writer.write(self._fatal)
            for writer in (self.client_writer, self.upstream_writer, self._bridge):
                if writer is not None:  # the bridge's: its psycopg connection, mid-question, sees the end too
                    writer.close()

    # -- the bridge's side -----------------------------------------------------------------------
    def attach(self, writer: asyncio.StreamWriter) -> None:
        """The server's replies go to the bridge's psycopg connection until `detach`."""
        self._bridge = writer
        self._lent_with, self._reported, self._lent_in = dict(self.parameters), {}, self.status

    def detach(self) -> None:
        """The client's again; a parameter the lending changed is reported to it (the catalog
        reads' own SET LOCAL search_path, back as it was, is not)."""
        self._bridge = None
        if self._lent_in != b"I" and self.status == b"I":  # `?run yes` of COMMIT or ROLLBACK
            self._transaction_ended()
        for name, wire in self._reported.items():
            if self.parameters.get(name) != self._lent_with.get(name):
                self._notifications += wire

    def _transaction_ended(self) -> None:
        """`?run` portals live in the transaction they were bound in, as the server's own do."""
        self._portals.clear()

    async def send_upstream(self, data: bytes) -> None:
        self.upstream_writer.write(data)
        await self.upstream_writer.drain()

    # -- pumps --------------------------------------------------------------------------------------
    async def _pump_upstream(self) -> None:
        scanner = codec.FrameScanner(b"ZSKCEAvGWR")
        held = b""  # while a ReadyForQuery is to be swallowed: the last bytes, which may start it
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                while data := await self.upstream_reader.read(_READ):
                    sink = self._bridge
                    buffer = held + data if held else data
                    shift, edits = len(held), []  # (start, end, replacement) in buffer
                    for message in scanner.feed(data):
                        if message.kind == Z and self._swallow and sink is None:
                            self._swallow -= 1
                            edits.append((shift + message.end - _Z_LENGTH, shift + message.end, b""))
                        elif message.kind == ord("R") and not self.authenticated and (offered := _without_channel_binding(message, self.proxy.upstream.tls is not None)):
                            start = shift + message.end - len(message.body) - 5
                            if start >= 0:
                                edits.append((start, shift + message.end, offered))
                        self._track(message, bridged=sink is not None)
                    for start, end, replacement in reversed(edits):
                        buffer = buffer[:start] + replacement + buffer[end:]
                    if self._swallow and sink is None:
                        held, buffer = buffer[-(_Z_LENGTH - 1) :], buffer[: -(_Z_LENGTH - 1)]
                    else:
                        held = b""
                    if buffer:
                        target = sink or self.client_writer
                        target.write(buffer)
                        await target.drain()
        finally:
            if held:  # the server's last bytes (its end reset the connection, or the proxy's own Sync
                self.client_writer.write(held)  # went unanswered in COPY): the client's, not held back

    def _track(self, message: codec.Message, bridged: bool) -> None:
        kind, body = message.kind, message.body
        if kind in (ord("G"), ord("W")) and not bridged:
            self._owed -= self.copy.announced()
            if self.copy.waiting:  # the server waits for the client: a message held for a question goes to it
                self._idle.set()
        if kind == Z:
            self.status = body[:1]
            if self.status == b"I" and not bridged:  # COMMIT, ROLLBACK, or a statement's own transaction
                self._transaction_ended()
            if not bridged:
                self._last_failed, self._failed = self._failed, False
                self._owed = max(self._owed - 1, 0)
                if not self._owed:  # everything sent is answered
                    self._idle.set()
            self.copy.ready(all_answered=not bridged and not self._owed)
        elif kind == E:
            if not bridged:
                self._failed = True
                self.copy.failed()
            elif any(f"\0V{severity}\0".encode() in b"\0" + body for severity in ("FATAL", "PANIC")):
                self._fatal = message.wire()
        elif kind == ord("v") and len(body) >= 4:
            self.protocol_minor = min(self.protocol_minor, struct.unpack_from("!I", body)[0] & 0xFFFF)  # (3 << 16) | minor
        elif kind == ord("A"):
            if bridged:  # the client's LISTEN: its notifications are the client's, after the question
                self._notifications += message.wire()
        elif kind == S:
            name, pos = codec.read_cstring(body)
            key = name.decode(errors="replace")
            self.parameters[key] = codec.read_cstring(body, pos)[0].decode(errors="replace")
            if bridged:  # a SET the person confirmed with ?run yes: the client's driver must know (at detach)
                self._reported[key] = message.wire()  # (standard_conforming_strings decides its quoting)
        elif kind == ord("R") and body[:4] == b"\0\0\0\0":
            self.authenticated = True
        elif kind == ord("K"):
            self.backend_key = body
            self.proxy.remember(self)
        elif kind == C and body.startswith(_DDL):
            self.proxy.schema_changed()
        elif kind == C and body == b"ROLLBACK\0" and not bridged:  # (the bridge's own end its checks)
            # also ROLLBACK TO SAVEPOINT, which ends only the portals made after its savepoint:
            # which those are would need the savepoints' names, so all `?run` portals end (bound again)
            self._transaction_ended()
        elif kind == C and body in (b"DEALLOCATE ALL\0", b"DISCARD ALL\0", b"CLOSE CURSOR ALL\0"):  # the server's are gone, and so are ours
            if not body.startswith(b"CLOSE"):  # statements
                self._statements.clear()
                self._answered.clear()
            if not body.startswith(b"DEALLOCATE"):  # portals
                self._portals.clear()
            if body == b"DISCARD ALL\0" and not bridged:  # a pooler's reset between clients: the proposal and the follow-ups go too
                self.conversation.forget()
        elif kind == C and body == b"RESET\0" and not bridged:  # RESET ALL is asyncpg's pool reset (and any RESET may change what a proposal means):
            self.conversation.forget()  # the next borrower's `?run yes` ran the last one's UPDATE

    async def _pump_client(self) -> None:
        # Until the server has authenticated the client, its bytes pass unread, as the server
        # reads them (which takes a password message and nothing else): a Query claiming 2 GB,
        # held whole for a look at it, cost the proxy that much memory per connection.
        stream = codec.ClientStream(b"")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await self._next_data():
                if self.authenticated and not stream.inspected:
                    stream.inspected = frozenset(_INSPECTED)
                out: list[bytes] = []
                try:
                    pieces = stream.feed(data)
                except codec.ProtocolError as exc:  # as the server: one FATAL line, this connection ends
                    self.client_writer.write(codec.error(str(exc), "08P01", "FATAL"))
                    await self.client_writer.drain()
                    return
                for piece in pieces:
                    if isinstance(piece, bytes):  # CopyData and the like, unchanged
                        if not self._discarding:
                            self.copy.data()
                            out.append(piece)
                        continue
                    if self._discarding:
                        if piece.kind != S:
                            continue
                        self._discarding = False
                    if self._unsafe_in_copy(piece):
                        return await self._end_in_copy()
                    answer = self._answer(piece)
                    if answer is None:
                        self._forward(piece)
                        out.append(piece.wire())
                        continue
                    if out:
                        await self.send_upstream(out[0] if len(out) == 1 else b"".join(out))
                        out = []
                    try:
                        await self._while_reading(answer)
                    except ServerInCopy:  # the server ends the connection, as it would directly
                        if self._unsafe_in_copy(piece):
                            return await self._end_in_copy()
                        await self.send_upstream(piece.wire())
                if out:
                    await self.send_upstream(out[0] if len(out) == 1 else b"".join(out))

    def _ours(self, message: codec.Message) -> bool:
        """A question, `?run` or a statement naming the proxy's calls (see parse_command)."""
        try:
            return message.kind in (Q, P) and self._command(message) is not None
        except ValueError:
            return False

    def _unsafe_in_copy(self, message: codec.Message) -> bool:
        """One of ours while the server waits for an Execute's COPY data, with data sent: the
        data may have failed the COPY already (its error not here yet), and then the server
        runs what follows the next Sync, which would reach a function of that name. (Without
        data, or in a Query's COPY, the server ends the connection at it with its own FATAL.)"""
        return self.copy.waiting and self.copy.by_execute and self.copy.data_sent and self._ours(message)

    async def _end_in_copy(self) -> None:
        """The connection ends (see _unsafe_in_copy), as the server ends one that breaks the
        protocol in COPY."""
        self.client_writer.write(codec.error("a question or nl2sql call was sent while the server waits for COPY data; the proxy ends this connection", "08P01", "FATAL"))
        await self.client_writer.drain()

    async def _next_data(self) -> bytes:
        """The client's next bytes: first those read while a question ran; b"" at its end."""
        if self._read_ahead:
            data, self._read_ahead = bytes(self._read_ahead), bytearray()
            return data
        data = b"" if self.left.is_set() else await self.client_reader.read(_READ)
        if not data:
            self.left.set()
        return data

    async def _while_reading(self, answer: Coroutine[None, None, None]) -> None:
        """Await the proxy's own answer, reading on meanwhile what the client sends (kept to be
        handled after it, up to _READ bytes), so that a client that leaves is seen to leave and
        its question is cancelled, even with messages behind it (libpq's Terminate)."""
        task: asyncio.Future[None] = asyncio.ensure_future(answer)
        reading: asyncio.Future[bytes] | None = None
        try:
            while not task.done():
                if self.left.is_set() or len(self._read_ahead) >= _READ:
                    await asyncio.wait({task})
                    break
                reading = asyncio.ensure_future(self.client_reader.read(_READ))
                await asyncio.wait({task, reading}, return_when=asyncio.FIRST_COMPLETED)
                reading.cancel()  # a read cancelled while it waits has taken nothing
                with contextlib.suppress(asyncio.CancelledError):
                    chunk = await reading
                    self._read_ahead += chunk
                    if not chunk:
                        self.left.set()
        finally:
            task.cancel()
            if reading is not None:
                reading.cancel()
        task.result()

    def _forward(self, message: codec.Message) -> None:
        """Bookkeeping for a message that goes to the server."""
        kind = message.kind
        if kind in (ord("c"), ord("f")):  # CopyDone, CopyFail: what follows is read again
            if self.copy.waiting:  # the server answers the end of its COPY
                self._idle.clear()
            if self.copy.expecting_end:  # an Execute's COPY ends inside its batch
                self._in_batch = self.copy.by_execute
            self.copy.end_sent()
        if kind in (Q, E):
            self.copy.statement_sent(by_execute=kind == E)
        if kind in (Q, F) or (kind == S and self.copy.sync_sent()):  # the server ignores a Sync in COPY
            self._owed += 1
            self._idle.clear()
        if kind in _EXTENDED:
            self._in_batch = True
        elif kind == S:  # (its implicit transaction's end is seen at the ReadyForQuery that answers it)
            self._in_batch = False
        with contextlib.suppress(ValueError, struct.error):  # a message it cannot read: the server refuses it
            if kind == P and self._statements:  # a real statement of this name now, on the server
                self._statements.pop(codec.read_cstring(message.body)[0], None)
            elif kind == B and (self._portals or self._answered):
                self._portals.pop(codec.read_cstring(message.body)[0], None)
                # (a name stays in _answered whatever Close or Parse follows: the proxy cannot
                # tell whether the server took them, and a Bind of it only ends what may run)
                bind = codec.parse_bind(message)
                if (answer := self._answered.get(bind.statement)) is not None:
                    self.conversation.shown_again(answer)
                    self._answered_portals[bind.portal] = answer
            elif kind == E and (answer := self._answered_portals.get(codec.execute_fields(message)[0])) is not None:
                self.conversation.shown_again(answer)  # (a portal bound before a newer question)
            elif kind in (Q, P) and self._answered and _EXECUTES.search(codec.query_text(message) if kind == Q else codec.parse_fields(message)[1]):
                self.conversation.withdraw()  # SQL's EXECUTE may show an answered statement's old answer

    def _answer(self, message: codec.Message) -> Coroutine[None, None, None] | None:
        """What the proxy answers itself, as a coroutine to await in order; None: forward it
        (also a message it cannot read, which the server answers with its own error, and any
        message while the server waits for COPY data: it ends that connection, as directly)."""
        if message.kind == Q:  # any simple Query ends the unnamed statement and portal, one the proxy answers too
            self._statements.pop(b"", None)
            self._portals.pop(b"", None)
            self._answered.pop(b"", None)
        if self.copy.waiting:
            return None
        try:
            return self._own_answer(message)
        except (ValueError, struct.error):
            return None

    def _own_answer(self, message: codec.Message) -> Coroutine[None, None, None] | None:
        kind = message.kind
        if kind in (Q, P) and (command := self._command(message)) is not None:
            if kind == Q:
                return self._answer_query(command)
            if isinstance(command, Misused):
                return self._refuse(command)
            name = codec.read_cstring(message.body)[0]
            return self._parse_run(name, command) if isinstance(command, Run) else self._answer_parse(message, command)
        if kind == Q and (ended := self._ended_by_name(message)) is not None:
            return self._end_by_query(message, *ended)
        if kind in (Q, F):
            return self._after_batch(message) if self._in_batch else None
        if not (self._statements or self._portals):
            return None
        if kind == B:
            bind = codec.parse_bind(message)
            return self._bind(bind) if bind.statement in self._statements else None
        if kind in (D, C):
            what, name = codec.target(message)
            if name not in (self._statements if what == b"S" else self._portals):
                return None
            if kind == C:
                return self._close(what, name)
            return self._describe_statement(name) if what == b"S" else self._describe_portal(name)
        if kind == E:
            portal, limit = codec.execute_fields(message)
            return self._execute(portal, limit) if portal in self._portals else None
        return None

    def _command(self, message: codec.Message) -> Ask | Run | Misused | None:
        """The message's question or `?run`; None for ordinary SQL. A message that cannot be
        read (a string without its NUL) raises ValueError: `_answer` forwards it, and the
        server answers it with its error."""
        sql = codec.query_text(message) if message.kind == Q else codec.parse_fields(message)[1]
        if not (_MAYBE_COMMAND.match(sql) or _NAMED.search(sql)):
            return None
        return parse_command(sql.decode(self.encoding, errors="replace"))

    async def _settle(self) -> bool:
        """Wait until the server has answered everything sent before and is idle, ending a
        batch in progress with a Sync of the proxy's own. False: that batch failed, and the
        rest of the client's is skipped up to its Sync. Raises ServerInCopy when the server
        turns out to wait for COPY data (an Execute sent just before started it)."""
        if self._in_batch:
            self._swallow += 1
            self._owed += 1
            self._idle.clear()
            self._in_batch = False
            await self.send_upstream(codec.SYNC)
            await self._until_idle()
            if self._last_failed:
                self._discarding = True
                return False
        await self._until_idle()
        return True

    async def _until_idle(self) -> None:
        await self._idle.wait()
        if self.copy.waiting:
            raise ServerInCopy

    def _reply(self, data: bytes) -> None:
        """Bytes of the proxy's own, after any NOTIFY that came while the bridge had the connection."""
        if self._notifications:
            data, self._notifications = bytes(self._notifications) + data, bytearray()
        self.client_writer.write(data)

    def _fail(self, message: str, sqlstate: str, diag: psycopg.errors.Diagnostic | None = None, **fields: str) -> None:
        """An error for a message of a batch: the rest of the batch is skipped up to its Sync."""
        encoding = self.encoding
        self._reply(_response_from(b"E", diag, encoding) if diag else codec.error(visible(message), sqlstate, encoding=encoding, **fields))
        self._discarding = True

    # -- questions ------------------------------------------------------------------------------------
    async def _answer_query(self, command: Ask | Run | Misused) -> None:
        # every earlier reply delivered, a batch sent without its Sync ended as the server ends
        # it before a Query (its statements commit): the connection can be lent
        if not await self._settle():
            return
        outcome = await self._outcome(command)
        encoding = self.encoding
        if isinstance(outcome, Failure):
            reply = _response_from(b"E", outcome.diag, encoding) if outcome.diag else codec.error(visible(outcome.message), outcome.sqlstate, encoding=encoding)
        elif isinstance(outcome, RunResult):
            reply = _result_bytes(outcome, encoding)
        else:
            reply = (
                codec.notice(notice_text(outcome), encoding)
                + codec.row_description(ANSWER_COLUMNS, encoding)
                + codec.data_row(answer_row(outcome), encoding)
                + codec.command_complete("SELECT 1")
            )
        self._reply(reply + codec.ready_for_query(self.status))
        await self.client_writer.drain()

    async def _after_batch(self, message: codec.Message) -> None:
        """A Query or FunctionCall inside an extended batch: the server answers it with a
        ReadyForQuery only if the batch has not failed by then (the count of those owed
        would be off for good), so the batch is ended first with the proxy's Sync, as the
        Query would have ended its implicit transaction; after a failure it is skipped, as the
        server skips it."""
        if await self._settle():
            self._forward(message)
            await self.send_upstream(message.wire())

    async def _refuse(self, command: Misused) -> None:
        """A Parse of a Misused form: its error, and the rest of the batch skipped."""
        if await self._settle():
            self._fail(command.message, "42883")

    async def _answer_parse(self, message: codec.Message, command: Ask) -> None:
        """The question's Parse becomes a Parse of its answer as constants (asked now, at the
        Parse, after what the batch sent before is answered)."""
        name, _, rest = codec.parse_fields(message)
        if not await self._settle():
            return
        outcome = await self._outcome(command)
        if isinstance(outcome, Answer):
            self._reply(codec.notice(notice_text(outcome), self.encoding))
            sql = _constant_select(answer_row(outcome))
        else:
            assert isinstance(outcome, Failure)
            sql = _raise_sql(visible(outcome.message), outcome.sqlstate)
            self._reply(b"")
        parse = codec.parse_message(name, sql.encode(self.encoding, errors="replace"), rest)
        self._forward(parse)
        if isinstance(outcome, Answer):
            self._answered[name] = outcome
        await self.send_upstream(parse.wire())

    # -- ?run through the extended protocol: a statement only the proxy knows ----------------------------
    async def _parse_run(self, name: bytes, command: Run) -> None:
        if not await self._settle():
            return
        if name and name in self._statements:
            return self._fail(f'prepared statement "{name.decode(errors="replace")}" already exists', "42P05")
        self._statements[name] = Virtual(command)
        self._reply(codec.PARSE_COMPLETE)

    async def _bind(self, bind: codec.Bind) -> None:
        if not await self._settle():
            return
        if (statement := self._statement(bind.statement)) is None:
            return
        if bind.parameters:
            return self._fail(f"bind message supplies {bind.parameters} parameters, but prepared statement \"\" requires 0", "08P01")
        if statement.described:  # the client knows its columns: a different proposal must not be fed to them
            columns = await self._describe(statement.command)
            if isinstance(columns, Failure):
                return self._fail(columns.message, columns.sqlstate, columns.diag)
            if columns != statement.columns:
                # The server's own error for a prepared statement whose columns changed, with its
                # routine, by which drivers (asyncpg, pgjdbc) know to prepare again and retry.
                return self._fail("cached plan must not change result type", "0A000", R="RevalidateCachedQuery")
        self._portals[bind.portal] = Portal(statement.command, bind.result_formats, self.conversation.last)
        self._reply(codec.BIND_COMPLETE)

    async def _describe_statement(self, name: bytes) -> None:
        if not await self._settle():
            return
        if (statement := self._statement(name)) is None:
            return
        columns = await self._describe(statement.command)
        if isinstance(columns, Failure):
            return self._fail(columns.message, columns.sqlstate, columns.diag)
        statement.columns, statement.described = columns, True
        self._reply(codec.NO_PARAMETERS + (codec.row_description(columns, self.encoding) if columns else codec.NO_DATA))

    def _statement(self, name: bytes) -> Virtual | None:
        """The `?run` statement, or the server's error when it went while the proxy waited for
        the server (a DEALLOCATE ALL or DISCARD ALL earlier in the batch)."""
        statement = self._statements.get(name)
        if statement is None:
            self._fail(f'prepared statement "{name.decode(self.encoding, errors="replace")}" does not exist', "26000")
        return statement

    def _portal(self, name: bytes) -> Portal | None:
        """The `?run` portal, or the server's error when the transaction it lived in ended
        while the proxy waited for the server (a COMMIT earlier in the batch)."""
        portal = self._portals.get(name)
        if portal is None:
            self._fail(f'portal "{name.decode(self.encoding, errors="replace")}" does not exist', "34000")
        return portal

    async def _describe_portal(self, name: bytes) -> None:
        if not await self._settle():
            return
        if (portal := self._portal(name)) is None:
            return
        if portal.result is not None:
            columns = portal.result.columns
        elif self.conversation.last is not portal.proposal:
            return self._fail(_REBIND, "0A000")
        else:
            described = await self._describe(portal.command)
            if isinstance(described, Failure):
                return self._fail(described.message, described.sqlstate, described.diag)
            columns = described
        binary = _binary(portal.result_formats)
        if binary is None:
            return self._fail("?run: a result with both text and binary columns is not supported", "0A000")
        portal.described = True
        self._reply(codec.row_description(columns, self.encoding, binary) if columns else codec.NO_DATA)

    async def _execute(self, name: bytes, limit: int) -> None:
        """The proposal runs here, at the Execute (once), with the rows sent in the formats
        the Bind asked for, ``limit`` at a time when the client asks for a row limit."""
        if not await self._settle():
            return
        if (portal := self._portal(name)) is None:
            return
        encoding = self.encoding
        if portal.result is None:
            if self.conversation.last is not portal.proposal:
                return self._fail(_REBIND, "0A000")
            binary = _binary(portal.result_formats)
            if binary is None:
                return self._fail("?run: a result with both text and binary columns is not supported", "0A000")
            outcome = await self._outcome(portal.command, binary=binary)
            if isinstance(outcome, Failure):
                return self._fail(outcome.message, outcome.sqlstate, outcome.diag)
            assert isinstance(outcome, RunResult)
            portal.result = outcome
            reply = bytearray(b"".join(_response_from(b"N", diag, encoding) for diag in outcome.notices))
        else:
            reply = bytearray()
        result = portal.result
        rows = result.rows[portal.sent : portal.sent + limit] if limit else result.rows[portal.sent :]
        for row in rows:
            reply += codec.data_row(row, encoding)
        portal.sent += len(rows)
        if result.columns is not None and portal.sent < len(result.rows):
            reply += codec.PORTAL_SUSPENDED
        else:
            reply += codec.command_complete(result.tag)
        self._reply(bytes(reply))
        await self.client_writer.drain()

    def _ended_by_name(self, message: codec.Message) -> tuple[bytes, bytes] | None:
        """`DEALLOCATE name` or `CLOSE name` alone in a Query, naming a `?run` statement or
        portal, which the server does not know (it would say so): (b"S" or b"P", name)."""
        if self.status == b"E" or not (self._statements or self._portals):
            return None
        match = _ENDING.fullmatch(codec.query_text(message))
        if match is None or (match[3] or b"").lower() == b"all":  # (ALL: the server's, seen by its tag)
            return None
        what, name = (b"S" if match[1] else b"P"), (match[2].replace(b'""', b'"') if match[2] is not None else match[3].lower())
        return (what, name) if name in (self._statements if what == b"S" else self._portals) else None

    async def _end_by_query(self, message: codec.Message, what: bytes, name: bytes) -> None:
        if not await self._settle():
            return
        if self.status == b"E":  # (an earlier statement of the batch failed) the server refuses it, as directly
            self._forward(message)
            await self.send_upstream(message.wire())
            return
        (self._statements if what == b"S" else self._portals).pop(name, None)
        self._reply(codec.command_complete("DEALLOCATE" if what == b"S" else "CLOSE CURSOR") + codec.ready_for_query(self.status))
        await self.client_writer.drain()

    async def _close(self, what: bytes, name: bytes) -> None:
        if not await self._settle():
            return
        (self._statements if what == b"S" else self._portals).pop(name, None)
        self._reply(codec.CLOSE_COMPLETE)

    async def _describe(self, command: Run) -> list[tuple[str, int]] | None | Failure:
        try:
            return await self.proxy.describe(self, command)
        except psycopg.Error as exc:
            return _failure(exc)

    async def _outcome(self, command: Ask | Run | Misused, binary: bool = False) -> Answer | RunResult | Failure:
        """Ask or run over the bridge; what went wrong as a Failure, never raised."""
        if self.status == b"E":
            return Failure("current transaction is aborted, commands ignored until end of transaction block", "25P02")
        if isinstance(command, Ask):
            self.conversation.last = None  # a question with no proposal leaves nothing for ?run, whatever stops it
        if isinstance(command, Misused):
            return Failure(command.message, "42883")
        if isinstance(command, Ask) and not command.question:
            return Failure("usage: ? QUESTION  (e.g. ? top 5 customers by total amount)", "42601")
        try:
            if isinstance(command, Run):
                return await self.proxy.run(self, command, binary=binary)
            answer = await self.proxy.ask(self, command)
        except NotRunnable as exc:
            return Failure(str(exc), "55000")
        except psycopg.Error as exc:
            return _failure(exc)
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


def _failure(exc: psycopg.Error) -> Failure:
    """The error for the client: the server's own, else one of psycopg's (a client encoding
    Python has no codec for is no broken connection, which 08006 would tell a pool)."""
    diag = exc.diag if exc.diag.sqlstate else None
    fallback = "0A000" if isinstance(exc, psycopg.NotSupportedError) else "08006"
    return Failure(str(exc).strip() or exc.__class__.__name__, exc.diag.sqlstate or fallback, diag)


def _binary(formats: tuple[int, ...]) -> bool | None:
    """All text (False), all binary (True), or a mix (None) of a Bind's result formats."""
    if not formats or all(f == 0 for f in formats):
        return False
    if all(f == 1 for f in formats):
        return True
    return None


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


def _response_from(kind: bytes, diag: psycopg.errors.Diagnostic | Notice, encoding: str) -> bytes:
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
    """A string constant that reads the same whatever standard_conforming_strings and the
    client encoding say: ASCII only, every other character (and `$`, which could end the
    dollar quote of `_raise_sql`) as a Unicode escape. The text holds the model's words, and
    a client encoding such as SJIS sends `¥` as the byte of a backslash."""
    if value is None:
        return "NULL"
    return "E'" + "".join(_escaped(c) for c in value) + "'"


def _escaped(char: str) -> str:
    if char in "\\'":
        return char * 2
    if " " <= char <= "~" and char != "$":
        return char
    code = ord(char) or 0xFFFD  # NUL cannot be in a text value
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _constant_select(row: tuple[str | None, ...]) -> str:
    values = ", ".join(f"{_literal(value)}::pg_catalog.{'bool' if oid == codec.BOOL_OID else 'text'} AS {name}" for value, (name, oid) in zip(row, ANSWER_COLUMNS))
    return f"SELECT {values}"


def _raise_sql(message: str, sqlstate: str) -> str:
    """A statement the server rejects with ``message`` and ``sqlstate`` when executed (a
    cancelled question is 57014, as a cancelled statement), harmless when not."""
    code = sqlstate if _SQLSTATE.fullmatch(sqlstate) and sqlstate != "00000" else "XX000"
    return f"DO $nl2sql$BEGIN RAISE EXCEPTION USING MESSAGE = {_literal(message)}, ERRCODE = '{code}'; END$nl2sql$"


_SQLSTATE = re.compile(r"[0-9A-Z]{5}")
_EXECUTES = re.compile(rb"execute", re.IGNORECASE)
_ENDING = re.compile(rb'\s*(?:(deallocate)(?:\s+prepare)?|close)\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z_0-9$]*))\s*;?\s*', re.IGNORECASE)
