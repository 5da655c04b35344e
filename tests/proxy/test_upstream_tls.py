"""The proxy speaks to its server as libpq would with the upstream conninfo: TLS where
sslmode asks for it and the certificate checked as it says, a service file's and the PG*
variables' settings read. It took the host and port alone: `sslmode=verify-full` went in
clear text and unchecked, `service=` and PGHOST to /var/run/postgresql.

The server here is the session's embedded one behind a TLS front (tests/tlsfront.py), which
records whether each connection came in TLS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tlsfront import TlsFront, certificate

from nl2sql_shell.db import embedded
from nl2sql_shell.proxy.auth import Upstream, UpstreamError
from nl2sql_shell.proxy.server import Proxy
from tests.proxy.conftest import RunningProxy

@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def certificates(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql of the person running the tests
    for name in ("PGHOST", "PGPORT", "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE", "PGSERVICEFILE"):
        monkeypatch.delenv(name, raising=False)
    server_cert, server_key = certificate(tmp_path, "server")
    other_cert, _ = certificate(tmp_path, "other")
    return {"cert": server_cert, "key": server_key, "other": other_cert}


def _through(pg_server, fresh_db: str, upstream: str) -> str:
    """SELECT 1's answer through a proxy whose upstream is ``upstream``, or the client's error."""
    running = RunningProxy(Proxy(Upstream.from_conninfo(upstream), lambda: None, listen=("127.0.0.1", 0)), embedded.read_password(pg_server.data_dir))
    try:
        with psycopg.connect(running.via(fresh_db), autocommit=True) as conn:
            return str(conn.execute("SELECT 1").fetchone()[0])
    except psycopg.OperationalError as exc:
        return str(exc)
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("sslmode", "root", "offer", "answer", "tls"),
    [
        ("verify-full", "cert", True, "1", True),
        ("verify-ca", "cert", True, "1", True),
        ("require", None, True, "1", True),
        ("prefer", None, True, "1", True),
        ("verify-full", "other", True, "certificate verify failed", None),
        ("require", "other", True, "certificate verify failed", None),  # a root file there: checked, as libpq does
        ("require", None, False, "server does not support SSL, but SSL was required", None),
        ("prefer", None, False, "1", False),
        ("disable", None, True, "1", False),
    ],
)
def test_the_server_is_reached_with_the_tls_the_conninfo_asks_for(pg_server, fresh_db, loop, certificates, sslmode, root, offer, answer, tls):
    front = TlsFront(f"{pg_server.data_dir}/.s.PGSQL.{pg_server.port}", certificates["cert"], certificates["key"], loop, offer=offer)
    upstream = f"host=localhost port={front.port} sslmode={sslmode}" + (f" sslrootcert={certificates[root]}" if root else "")
    got = _through(pg_server, fresh_db, upstream)
    assert got == answer if answer == "1" else answer in got
    if tls is not None:  # (a refused certificate: no connection came through)
        assert front.seen[:1] == [tls]


def test_service_files_and_the_environment_are_read_as_libpq_reads_them(certificates, tmp_path: Path, monkeypatch):
    (tmp_path / "services").write_text("[mine]\nhost=db.internal\nport=6543\nsslmode=disable\n")
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services"))
    assert Upstream.from_conninfo("service=mine dbname=x") == Upstream("db.internal", 6543)
    assert Upstream.from_conninfo("service=mine port=7000") == Upstream("db.internal", 7000)  # the conninfo wins
    monkeypatch.setenv("PGHOST", "/run/elsewhere")
    monkeypatch.setenv("PGPORT", "5499")
    assert Upstream.from_conninfo("dbname=x") == Upstream("/run/elsewhere", 5499)
    for conninfo, message in (
        ("service=nosuch", 'definition of service "nosuch" not found'),
        ("host=a,b port=1,2", "several hosts"),
        ("host=db.internal sslmode=verify-full", "root certificate file"),
        ("host=db.internal sslmode=sometimes", 'invalid sslmode value: "sometimes"'),
    ):
        with pytest.raises(UpstreamError, match=message):
            Upstream.from_conninfo(conninfo)


def test_scram_through_a_tls_upstream_is_offered_without_channel_binding(pg_server, fresh_db, loop, certificates):
    """A server behind TLS offers SCRAM-SHA-256-PLUS: relayed as it was to a client whose own
    link to the proxy is clear text, libpq refused ("server offered SCRAM-SHA-256-PLUS
    authentication over a non-SSL connection"), so no psql could log in with a password.
    Here the embedded server's own SCRAM exchange, through TLS, with a password typed."""
    front = TlsFront(f"{pg_server.data_dir}/.s.PGSQL.{pg_server.port}", certificates["cert"], certificates["key"], loop, offer=True, plus=True)
    assert _through(pg_server, fresh_db, f"host=localhost port={front.port} sslmode=require") == "1"
    assert front.seen[:1] == [True] and front.offered_plus


def test_what_the_proxy_cannot_do_as_libpq_is_refused_at_its_start(certificates, tmp_path: Path, monkeypatch):
    """Settings libpq would honour and the proxy did not (a client key open to all, channel
    binding, an encrypted key without its pass phrase, whose prompt then waited on the
    proxy's terminal at every connection): refused at the start, in one line."""
    (tmp_path / "services").write_text("[indented]\nhost=db.internal\n   sslmode=verify-full\n[twice]\nhost=db.internal\nsslmode=verify-full\nsslmode=disable\n[twice]\nsslmode=disable\n")
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services"))
    for service in ("indented", "twice"):  # libpq's reading: the indented line is a setting; the first section, the first value
        with pytest.raises(UpstreamError, match="root certificate file"):
            Upstream.from_conninfo(f"service={service}")
    certificates["key"].chmod(0o644)
    loose = f"host=localhost sslmode=require sslcert={certificates['cert']} sslkey={certificates['key']}"
    with pytest.raises(UpstreamError, match="has group or world access"):
        Upstream.from_conninfo(loose)
    certificates["key"].chmod(0o600)
    assert Upstream.from_conninfo(loose).tls.cert == str(certificates["cert"])
    for conninfo, message in (
        ("host=localhost channel_binding=require", "channel_binding=require"),
        ("hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=" + str(certificates["cert"]), "needs a host name"),
        ("host=localhost sslmode=require ssl_min_protocol_version=TLSv9", "invalid ssl_min_protocol_version"),
    ):
        with pytest.raises(UpstreamError, match=message):
            Upstream.from_conninfo(conninfo)


def test_a_client_that_stops_sending_gets_every_reply_over_a_tls_upstream(pg_server, fresh_db, loop, certificates):
    """A TLS link cannot be half-closed: the proxy's write_eof raised (a traceback at nearly
    every disconnect) and a client that shut its sending side got no reply at all."""
    import socket

    from tests.proxy.test_questions import _message, _raw, _until_closed

    front = TlsFront(f"{pg_server.data_dir}/.s.PGSQL.{pg_server.port}", certificates["cert"], certificates["key"], loop, offer=True)
    running = RunningProxy(Proxy(Upstream.from_conninfo(f"host=localhost port={front.port} sslmode=require"), lambda: None, listen=("127.0.0.1", 0)), embedded.read_password(pg_server.data_dir))
    try:
        with psycopg.connect(running.via(fresh_db), autocommit=True) as conn:
            sock = _raw(conn)
            sock.sendall(_message(b"Q", b"SELECT pg_sleep(0.2); SELECT 42 AS answer\0"))
            sock.shutdown(socket.SHUT_WR)
            received = _until_closed(sock)
            sock.close()
    finally:
        running.stop()
    assert received.count(b"Z\x00\x00\x00\x05I") == 1 and b"\x00\x00\x00\x0242" in received


def test_settings_libpq_refuses_or_reads_otherwise_are_read_as_libpq_does(tmp_path: Path, monkeypatch):
    """A service line libpq calls a syntax error (`sslmode = verify-full`) was skipped, and the
    mode fell back to unchecked TLS; PGSERVICE's service leaked into an explicit `service=`
    (its sslmode=disable into clear text); a port or timeout that is no number was a traceback;
    values libpq refuses were taken."""
    for name in ("PGHOST", "PGPORT", "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE", "PGSERVICEFILE", "PGTARGETSESSIONATTRS", "PGCHANNELBINDING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "services").write_text("[spaced]\nhost=db.internal\nsslmode = verify-full\n[plain]\nsslmode=disable\n[other]\nhost=db.internal\nport=6000\n")
    monkeypatch.setenv("PGSERVICEFILE", str(tmp_path / "services"))
    with pytest.raises(UpstreamError, match="syntax error in service file .*line 3"):
        Upstream.from_conninfo("service=spaced")
    monkeypatch.setenv("PGSERVICE", "plain")
    assert Upstream.from_conninfo("service=other").tls is not None  # other's own settings: sslmode prefer
    assert Upstream.from_conninfo("host=db.internal").tls is None  # PGSERVICE's, where none is named
    for conninfo, message in (
        ("host=h port=abc", 'invalid integer value "abc" for connection option "port"'),
        ("host=h connect_timeout=abc", 'invalid integer value "abc" for connection option "connect_timeout"'),
        ("host=h channel_binding=REQUIRE", 'invalid channel_binding value: "REQUIRE"'),
        ("host=h ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", "invalid SSL protocol version range"),
        ("host=h target_session_attrs=read-write", "target_session_attrs=read-write"),
    ):
        with pytest.raises(UpstreamError, match=message):
            Upstream.from_conninfo(conninfo)
    assert Upstream.from_conninfo("host=h sslmode=disable connect_timeout=-1").connect_timeout is None  # (libpq: no limit)
