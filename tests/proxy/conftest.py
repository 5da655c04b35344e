"""A proxy running in a thread of the test process, in front of the session's embedded server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from nl2sql_shell.db import embedded
from nl2sql_shell.nl2sql.pipeline import Asker
from nl2sql_shell.proxy.auth import Upstream
from nl2sql_shell.proxy.server import Proxy


# The table the question tests ask about: three customers and their revenue.
SETUP = """
CREATE TABLE customers (id int PRIMARY KEY, name text, revenue numeric);
INSERT INTO customers VALUES (1, 'Ada', 300), (2, 'Bo', 100), (3, 'Cy', 200);
"""


@pytest.fixture
def db(fresh_db: str) -> str:
    """A fresh database holding SETUP's customers."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SETUP)
    return fresh_db


def count(conninfo: str) -> int:
    """How many customers are left: a write that ran shows here."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0]


class RunningProxy:
    """A Proxy on its own event loop in a daemon thread; ``via`` points a conninfo at it."""

    def __init__(self, proxy: Proxy, password: str) -> None:
        self.proxy = proxy
        self.password = password
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="proxy-loop", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(10)

    @property
    def port(self) -> int:
        return self.proxy.port

    def via(self, conninfo: str) -> str:
        """The same database and user, through the proxy, with the test server's password (its
        password file serves the socket alone: never TCP, where a port can be anyone's)."""
        return make_conninfo(conninfo, host="127.0.0.1", port=self.port, password=self.password)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def start_proxy(pg_server, tmp_path, monkeypatch) -> Iterator[Callable[[Asker], RunningProxy]]:
    """Start a proxy with a given (scripted) Asker; examples memory in this test's folder."""
    monkeypatch.setenv("NL2SQL_SHELL_EXAMPLES_DIR", str(tmp_path / "examples"))
    started: list[RunningProxy] = []

    def start(asker: Asker) -> RunningProxy:
        running = RunningProxy(Proxy(Upstream(pg_server.host, pg_server.port), asker, listen=("127.0.0.1", 0)), embedded.read_password(pg_server.data_dir))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
