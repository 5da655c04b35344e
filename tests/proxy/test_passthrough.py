"""Ordinary clients through the proxy see what they see directly: real psql and psycopg
against the real embedded server (SCRAM passwords), simple and extended protocol, errors in
a transaction, notices, COPY both ways, cancel, and TLS and other hosts refused."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time

import psycopg
import pytest
from psycopg import pq
from psycopg.conninfo import make_conninfo
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker
from nl2sql_shell.proxy import server

PSQL = "/usr/bin/psql"
SCRIPT = r"""
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric);
INSERT INTO items VALUES (1, 'pen', 1.50), (2, 'ink', 7.25);
SELECT * FROM items ORDER BY id;
DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$;
BEGIN;
INSERT INTO items VALUES (3, 'nib', 0.99);
SELECT 1 / 0;
SELECT 1;
ROLLBACK;
SELECT count(*) FROM items;
COPY items FROM STDIN;
4	paper	3.10
5	quill, goose	12.00
\.
COPY (SELECT * FROM items ORDER BY id) TO STDOUT (FORMAT csv);
\copy items TO STDOUT
\d items
SELECT repeat('x', 100000) = repeat('x', 100000) AS big;
"""


def psql(conninfo: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PSQL, "-X", conninfo], input=script, capture_output=True, text=True, timeout=60, check=False)


def _second_db(fresh_db: str) -> str:
    """Another empty database, so the direct and proxied runs of the script do the same."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        name = conn.info.dbname + "_b"
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(fresh_db, dbname=name)


def test_psql_sees_the_same_output(fresh_db, start_proxy):
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    direct = psql(fresh_db, SCRIPT)
    proxied = psql(proxy.via(_second_db(fresh_db)), SCRIPT)
    assert "division by zero" in direct.stderr and "hello from the server" in direct.stderr
    assert "current transaction is aborted" in direct.stderr
    assert "quill, goose" in direct.stdout and "COPY 2" in direct.stdout
    assert (proxied.stdout, proxied.stderr, proxied.returncode) == (direct.stdout, direct.stderr, direct.returncode)


def test_psycopg_extended_protocol_transactions_and_copy(fresh_db, start_proxy):
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    with psycopg.connect(proxy.via(fresh_db)) as conn:
        conn.execute("CREATE TABLE t (id int, note text)")
        for i in range(6):  # prepared after a few runs: named statements through the proxy
            conn.execute("INSERT INTO t VALUES (%s, %s)", (i, f"n{i}"))
        assert conn.execute("SELECT count(*) FROM t WHERE id >= %s", (2,)).fetchone() == (4,)
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT * FROM missing WHERE id = %s", (1,))
        assert conn.info.transaction_status == pq.TransactionStatus.INERROR
        conn.rollback()
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        conn.execute("CREATE TABLE t (id int, note text)")
        with conn.cursor().copy("COPY t FROM STDIN") as copy:
            for i in range(1000):
                copy.write_row((i, f"row {i}"))
        with conn.cursor().copy("COPY (SELECT * FROM t ORDER BY id) TO STDOUT") as copy:
            rows = list(copy.rows())
        assert len(rows) == 1000 and rows[999] == ("999", "row 999")
        conn.commit()
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        conn.execute("DO $$ BEGIN RAISE NOTICE 'through'; END $$")
        assert notices == ["through"]


def test_cancel_reaches_the_server(fresh_db, start_proxy):
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    with psycopg.connect(proxy.via(fresh_db), autocommit=True) as conn:
        threading.Timer(0.5, conn.cancel_safe).start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_authentication_is_the_servers(fresh_db, start_proxy):
    """SCRAM is relayed: a wrong password fails as it does directly, and a role gets only
    its own rights."""
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(make_conninfo(proxy.via(fresh_db), passfile="/dev/null", password="wrong"))
    with psycopg.connect(fresh_db, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS proxy_reader")
        admin.execute("CREATE ROLE proxy_reader LOGIN PASSWORD 'reader-secret'")
        admin.execute("CREATE TABLE secret (x int)")
    try:
        reader = make_conninfo(proxy.via(fresh_db), user="proxy_reader", password="reader-secret", passfile="/dev/null")
        with psycopg.connect(reader, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("proxy_reader",)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM secret")
    finally:
        with psycopg.connect(fresh_db, autocommit=True) as admin:
            admin.execute("DROP TABLE secret")
            admin.execute("DROP ROLE proxy_reader")


def test_tls_is_refused_not_faked(fresh_db, start_proxy):
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    with pytest.raises(psycopg.OperationalError, match="does not support SSL"):
        psycopg.connect(make_conninfo(proxy.via(fresh_db), sslmode="require"))


def _first_reply(port: int, *codes: int) -> list[bytes]:
    """The first byte the server (or proxy) answers each of these request codes with, sent
    one after another on one connection, up to the first that is not answered 'N'."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for code in codes:
            sock.sendall(struct.pack("!II", 8, code))
            replies.append(reply := sock.recv(65536))
            if reply != b"N":
                break
    return replies


@pytest.mark.parametrize("code", [80877103, 80877104])  # SSLRequest, GSSENCRequest
def test_a_second_tls_or_gss_request_gets_the_server_s_answer(pg_server, start_proxy, code):
    """The server answers each kind once; a second is a startup of an unknown protocol to
    it. The proxy answered 'N' to any number of them."""
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    direct, proxied = _first_reply(pg_server.port, code, code), _first_reply(proxy.port, code, code)
    assert direct[0] == proxied[0] == b"N"
    said = f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}".encode()
    for reply in (direct[1], proxied[1]):
        assert reply.startswith(b"E") and b"SFATAL\0" in reply and b"C0A000\0" in reply and said in reply


def _outward_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_other_hosts_are_refused(fresh_db, start_proxy):
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(make_conninfo(proxy.via(fresh_db), host=address, connect_timeout=5))
    with psycopg.connect(proxy.via(fresh_db)) as conn:  # loopback is served
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_client_that_never_finishes_its_startup_packet_is_let_go(fresh_db, start_proxy, monkeypatch):
    """As the server's authentication_timeout does: held open, such connections pile up."""
    monkeypatch.setattr(server, "STARTUP_TIMEOUT_S", 1.0)
    proxy = start_proxy(Asker(Scripted(["SELECT 1"])))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(struct.pack("!I", 100))  # a length, and nothing of what it announces
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed
        assert time.monotonic() - started < 5
