"""The TLS of a connection told as psql tells it: `\\conninfo`'s SSL line (the shell printed
none, so a person could not see that the connection was encrypted, or that it was not)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from psqlcompare import PSQL, same
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tlsfront import TlsFront, certificate

from nl2sql_shell.db import embedded

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")


def test_conninfo_says_the_connection_is_over_tls(pg_server, fresh_db, tmp_path: Path):
    cert, key = certificate(tmp_path, "server")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        front = TlsFront(f"{pg_server.data_dir}/.s.PGSQL.{pg_server.port}", cert, key, loop, offer=True)
        params = conninfo_to_dict(fresh_db)
        base = {"host": "127.0.0.1", "port": front.port, "user": params["user"], "dbname": params["dbname"], "password": embedded.read_password(pg_server.data_dir)}
        _, out, _ = same(make_conninfo(**base, sslmode="require"), make_conninfo(**base, sslmode="require"), "-c", "\\conninfo")
        assert out.splitlines()[1].startswith(b"SSL connection (protocol: TLSv1.")
        _, out, _ = same(make_conninfo(**base, sslmode="disable"), make_conninfo(**base, sslmode="disable"), "-c", "\\conninfo")
        assert b"SSL" not in out
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
