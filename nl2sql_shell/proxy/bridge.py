"""A psycopg connection onto a client's own upstream session, for the question pipeline.

`Asker.ask` and the `?run` code take a psycopg connection. Opening a second connection to
the upstream server would need the client's password, which the proxy never learns when
authentication is relayed (SCRAM cannot be replayed). Instead, while the client waits for
the answer to its question, the proxy lends the client's upstream connection to psycopg:

- psycopg connects to a private unix socket of the proxy (a 0700 folder) with a one-time
  token as its password;
- the proxy answers as a server would right after authentication: the upstream's own
  ParameterStatus values, its BackendKeyData and a ReadyForQuery carrying the session's
  real transaction status, so psycopg uses savepoints inside the client's transaction;
- from then on psycopg's messages go to the upstream connection and the upstream's replies
  come back to psycopg, until psycopg says Terminate, which is not forwarded.

So the pipeline's catalog reads, EXPLAINs and votes run as the client: same role, same
search_path, same transaction (inside an open one there is no vote, as in the REPL), and
no connection, credential or right that the client does not already have.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import generators

from nl2sql_shell.proxy import codec
from nl2sql_shell.proxy.auth import StartupError, Upstream, is_cancel, read_startup

if TYPE_CHECKING:
    from nl2sql_shell.proxy.session import Session

ATTACH_TIMEOUT_S = 30.0
_PORT = 5432  # part of the socket file's name only


@dataclass
class Ticket:
    """One psycopg connection's right to attach to one session, used once."""

    session: Session
    keyed: bool  # the psycopg connection speaks the session's protocol, so it can take its cancel key
    attached: threading.Event = field(default_factory=threading.Event)
    detached: threading.Event = field(default_factory=threading.Event)


class Bridge:
    """The private socket that psycopg connects to, and the tickets it accepts."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream  # where psycopg's cancel requests go
        self.folder = ""  # made at start: a proxy never started leaves nothing behind
        self._tickets: dict[str, Ticket] = {}
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="nl2sql-proxy-")  # mkdtemp makes it 0700
        path = os.path.join(self.folder, f".s.PGSQL.{_PORT}")
        self._server = await asyncio.start_unix_server(self._serve, path, limit=1 << 20)
        os.chmod(path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    @contextlib.contextmanager
    def connect(self, session: Session) -> Iterator[psycopg.Connection]:
        """(From a worker thread.) A psycopg connection onto ``session``'s upstream; the
        session is the client's again once this returns."""
        token = secrets.token_urlsafe(24)
        protocol = _protocol(session.protocol_minor)
        ticket = self._tickets[token] = Ticket(session, keyed=protocol is not None)
        try:
            conn = psycopg.connect(
                **(protocol or {}),
                host=self.folder,
                port=_PORT,
                user=session.startup.user,
                dbname=session.startup.database,
                password=token,
                sslmode="disable",
                gssencmode="disable",
                autocommit=True,
                prepare_threshold=None,  # a prepared statement would outlive the question in the client's session
                connect_timeout=int(ATTACH_TIMEOUT_S),
            )
        finally:
            self._tickets.pop(token, None)
        try:
            yield conn
        finally:
            _drop_unnamed(conn)
            conn.close()
            if ticket.attached.is_set():
                ticket.detached.wait(ATTACH_TIMEOUT_S)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            startup = await read_startup(reader, writer)
            if is_cancel(startup):  # psycopg's own cancel (a check's wall clock): the server's key
                await self._cancel(startup.raw)
                return
            writer.write(codec.authentication(3))  # cleartext: the token, over a private socket
            await writer.drain()
            frames = codec.FrameReader()
            ticket = None
            while ticket is None:
                data = await reader.read(1 << 16)
                if not data:
                    return
                for message in frames.feed(data):
                    token = message.body.rstrip(b"\0").decode(errors="replace")
                    ticket = self._tickets.pop(token, None)
                    if ticket is None:
                        writer.write(codec.error("the proxy's bridge refused this connection", "28P01", "FATAL"))
                        await writer.drain()
                        return
            await self._lend(ticket, frames, reader, writer)
        except (StartupError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _cancel(self, packet: bytes) -> None:
        with contextlib.suppress(OSError):
            await self.upstream.cancel(packet)

    async def _lend(self, ticket: Ticket, frames: codec.FrameReader, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ticket.session
        hello = bytearray(codec.authentication(0))
        for name, value in session.parameters.items():
            hello += codec.parameter_status(name, value)
        if session.backend_key is not None and ticket.keyed:
            hello += codec.encode(b"K", session.backend_key)
        hello += codec.ready_for_query(session.status)
        session.attach(writer)
        ticket.attached.set()
        try:
            writer.write(hello)
            await writer.drain()
            while data := await reader.read(1 << 16):
                out = bytearray()
                for message in frames.feed(data):
                    if message.kind == ord("X"):
                        return
                    out += message.wire()
                await session.send_upstream(bytes(out))
        finally:
            session.detach()
            ticket.detached.set()


def _protocol(minor: int) -> dict[str, str] | None:
    """psycopg's connection options for the session's protocol version. None where its libpq
    (before 18) speaks only 3.0 while the session speaks a later one: that connection then
    gets no cancel key, which 3.0 could not read (3.2's is longer), and a check's wall clock
    stops nothing on the server (its statement timeout still does)."""
    if minor < 2:  # 3.1 was never a protocol of its own: the server speaks it as 3.0
        return {}
    if psycopg.pq.version() < 180000:
        return None
    return {"min_protocol_version": f"3.{minor}", "max_protocol_version": f"3.{minor}"}


def _drop_unnamed(conn: psycopg.Connection) -> None:
    """An empty simple Query, on which the server drops the unnamed statement: psycopg's last,
    maybe the model's write run by `?run yes`, would otherwise be the client's unnamed
    statement, and a client's `Bind ""` would run it again. (Sent, then waited for, as
    psycopg does: a blocking libpq call would hold the proxy's loop.)"""
    with contextlib.suppress(psycopg.Error):
        conn.pgconn.send_query(b"")
        conn.wait(generators.execute(conn.pgconn))
