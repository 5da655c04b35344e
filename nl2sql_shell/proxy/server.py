"""The proxy: listens, starts a session per client, shares one model, routes cancels.

One model serves every connection. Each question runs in a thread of its own over its
client's session, and only the model's calls take turns, first come first served
(llm/shared.py): a question whose checks wait on a lock or a slow plan holds no other
client's question; `?run` does not need the model and runs at once. A CancelRequest goes to the upstream server as always
and, when its key is that of a connection whose question is waiting or generating, also
stops it (the pipeline's `cancel` event stops the model within a token).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from nl2sql_shell.llm.shared import SharedModel, TurnCancelled, shared
from nl2sql_shell.nl2sql.pipeline import Answer, Asker
from nl2sql_shell.proxy import codec, peers
from nl2sql_shell.proxy.auth import StartupError, Upstream, is_cancel, read_startup
from nl2sql_shell.proxy.bridge import Bridge
from nl2sql_shell.proxy.questions import Ask, Run, RunResult
from nl2sql_shell.proxy.session import Session


CLIENT_THREADS = 32  # questions answered at once, and as many ?run; more wait for a thread
_CANCEL_POLL_S = 0.1  # how often a question waiting for the model to load looks at its cancel
STARTUP_TIMEOUT_S = 60.0  # the server's authentication_timeout: a client that never finishes its startup packet is let go


class Proxy:
    """Serves clients on ``listen`` (host, port) in front of ``upstream``.

    ``asker`` is a loaded pipeline, or a function that loads one (called once, in a thread,
    when the proxy starts, so that pass-through works while the model loads).
    """

    def __init__(self, upstream: Upstream, asker: Asker | Callable[[], Asker], listen: tuple[str, int] = ("127.0.0.1", 6432)) -> None:
        self.upstream = upstream
        self.listen = listen
        self.bridge = Bridge(upstream)
        self._asker: Asker | None = _sharing(asker) if isinstance(asker, Asker) else None
        self._load = None if isinstance(asker, Asker) else asker
        self._load_error: BaseException | None = None
        self._loaded = threading.Event()
        self._load_lock = threading.Lock()
        self._questions = ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="nl2sql-question")
        # `?run` and its Describe, which may wait on a lock as long as the client's statements
        # may: threads of their own, so that waiting ones hold neither questions nor the
        # default executor's few threads, which open upstream connections and forward cancels
        self._statements = ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="nl2sql-run")
        self._sessions: dict[bytes, Session] = {}
        self._server: asyncio.base_events.Server | None = None
        self._clients: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        """The port actually bound (``listen`` may ask for 0: any free port)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        await self.bridge.start()
        self._server = await asyncio.start_server(self._serve, *self.listen, limit=1 << 20)
        if self._load is None:
            self._loaded.set()
        else:
            threading.Thread(target=self._load_model, args=(self._loaded,), name="nl2sql-model-loader", daemon=True).start()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._clients:
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await self.bridge.close()
        self._questions.shutdown(wait=False, cancel_futures=True)
        self._statements.shutdown(wait=False, cancel_futures=True)

    async def serve_forever(self, listening: Callable[[], None] = lambda: None) -> None:
        """Listen (OSError when the address is taken), call ``listening``, serve until cancelled."""
        await self.start()
        listening()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.close()

    def _load_model(self, done: threading.Event) -> None:
        assert self._load is not None
        try:
            self._asker = _sharing(self._load())
        except BaseException as exc:  # noqa: BLE001 - told to each question, the proxy goes on
            self._load_error = exc
        finally:
            done.set()

    def _loading(self) -> threading.Event:
        """What is set once the model is loaded or its load failed. After a load that failed (a
        model server still starting), the next question starts another, as the shell's next `?`."""
        with self._load_lock:
            if self._loaded.is_set() and self._asker is None and self._load is not None:
                self._loaded = threading.Event()
                threading.Thread(target=self._load_model, args=(self._loaded,), name="nl2sql-model-loader", daemon=True).start()
            return self._loaded

    # -- connections ------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            try:  # (a TLS request answered N first: the refusal reads as one)
                startup = await asyncio.wait_for(read_startup(reader, writer), STARTUP_TIMEOUT_S)
            except asyncio.TimeoutError:
                return
            # (the system's tables read in a thread: thousands of lines each time, and the
            # event loop serves every other session meanwhile)
            refusal = await asyncio.to_thread(self._refusal, writer.get_extra_info("peername"), writer.get_extra_info("sockname"))
            if refusal is not None:
                writer.write(codec.error(refusal, "28000", "FATAL"))
                await writer.drain()
                return
            if is_cancel(startup):
                await self._cancel(startup.raw)
                return
            try:
                upstream = await self.upstream.open()
            except OSError as exc:
                writer.write(codec.error(f"the proxy could not reach the server: {exc}", "08006", "FATAL"))
                await writer.drain()
                return
            upstream[1].write(startup.raw)
            await Session(self, startup, (reader, writer), upstream).run()
        except (StartupError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the proxy closing: the task ends quietly (Python 3.11's
            pass  # streams callback would log a cancelled client task as an unhandled exception)
        finally:
            self._clients.discard(task)
            writer.close()

    def _refusal(self, peer: tuple | None, here: tuple | None) -> str | None:
        """Why this client is not served, if it is not: a proxy listening on loopback serves only
        this host, whatever routes reach it; on this host, only its own OS user (`peers`); and
        in front of a unix socket, whose peer authentication would take any client for the
        proxy's own OS user, never another host."""
        if peer is None or here is None:
            return None
        if not _is_loopback(peer[0]) and _is_loopback(self.listen[0]):
            return "connections from other hosts are refused (see --listen)"
        uid = peers.client_uid(peer, here)  # (the system's tables, read once)
        if not _is_loopback(peer[0]) and uid in (None, peers.NOBODY) and not peers.is_local_address(peer):  # another host
            if self.upstream.is_socket:
                return "connections from other hosts are refused in front of a unix socket, where the server would take them for the proxy's own OS user: give the upstream as a TCP address"
            return None
        # this host (loopback, or one of its other addresses): its own OS user only (a client that
        # sent its statements and closed at once is nobody's: it was served as another host's)
        if uid is None:  # the system does not say
            if self.upstream.is_socket:
                return "the proxy cannot tell which OS user connected, and in front of a unix socket the server would take it for the proxy's own: give the upstream as a TCP address"
            return None
        return None if uid == os.geteuid() else _OTHER_USER

    async def _cancel(self, packet: bytes) -> None:
        """A question in progress is stopped by its cancel event alone: the server runs nothing
        of the client's then, and a forwarded cancel could arrive late and hit the client's
        next statement. Otherwise the request goes to the server, as a direct one would."""
        session = self._sessions.get(packet[8:])
        if session is not None and session.cancel is not None:
            session.cancel.set()
            return
        try:
            await self.upstream.cancel(packet)
        except OSError:
            pass

    def remember(self, session: Session) -> None:
        """A session's cancel key, as the server gave it (and the proxy passed it on)."""
        assert session.backend_key is not None
        self._sessions[session.backend_key] = session

    def forget(self, session: Session) -> None:
        if session.backend_key is not None:
            self._sessions.pop(session.backend_key, None)

    def schema_changed(self) -> None:
        if self._asker is not None:
            self._asker.schemas.invalidate()

    # -- questions --------------------------------------------------------------------------------
    async def ask(self, session: Session, command: Ask) -> Answer:
        """The answer, from a question thread; a client that goes away meanwhile, or a session
        that ends, cancels its question (the model's turns are let go at once)."""
        cancel = session.cancel = threading.Event()
        left = asyncio.ensure_future(session.left.wait())
        try:
            answer = asyncio.get_running_loop().run_in_executor(self._questions, self._ask, session, command, cancel)
            await asyncio.wait({answer, left}, return_when=asyncio.FIRST_COMPLETED)
            if not answer.done():  # the client left
                cancel.set()
            return await answer
        except asyncio.CancelledError:  # the session ended (its server connection died): let the model go
            cancel.set()
            raise
        finally:
            left.cancel()
            session.cancel = None

    def _ask(self, session: Session, command: Ask, cancel: threading.Event) -> Answer:
        """(In a question thread.) Waits for the model to load (a cancel ends the wait), then
        asks over the client's connection."""
        loaded = self._loading()
        while not loaded.wait(_CANCEL_POLL_S) and not cancel.is_set():
            pass
        if cancel.is_set():
            return Answer(command.question, None, "cancelled", "generation stopped")
        if self._asker is None:
            raise RuntimeError(f"the model is not available: {self._load_error}")
        model = self._asker.model
        assert isinstance(model, SharedModel)
        try:
            with model.asking(cancel), self.bridge.connect(session) as conn:
                return session.conversation.ask(self._asker, conn, command, cancel)
        except TurnCancelled:
            return Answer(command.question, None, "cancelled", "generation stopped")

    async def run(self, session: Session, command: Run, *, binary: bool = False) -> RunResult:
        return await asyncio.get_running_loop().run_in_executor(self._statements, self._run, session, command, binary)

    def _run(self, session: Session, command: Run, binary: bool) -> RunResult:
        with self.bridge.connect(session) as conn:
            return session.conversation.run(conn, command, binary=binary)

    async def describe(self, session: Session, command: Run) -> list[tuple[str, int]] | None:
        """The columns of the session's last proposal, without running it."""
        if session.conversation.last is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(self._statements, self._describe, session, command)

    def _describe(self, session: Session, command: Run) -> list[tuple[str, int]] | None:
        with self.bridge.connect(session) as conn:
            return session.conversation.describe(conn, confirmed=command.confirmed)


_OTHER_USER = "the proxy serves only the OS user who started it: the server would take this connection for that user"


def _sharing(asker: Asker) -> Asker:
    """``asker`` with its model taking turns between the question threads."""
    asker.model = shared(asker.model)
    return asker


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
