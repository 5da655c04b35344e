"""The proxy speaks to its server as libpq would with the upstream conninfo: TLS where
sslmode asks for it and the certificate checked as it says, a service file's and the PG*
variables' settings read. It took the host and port alone: `sslmode=verify-full` went in
clear text and unchecked, `service=` and PGHOST to /var/run/postgresql.

The server here is the session's embedded one behind a TLS front of the test's own (it
speaks PostgreSQL's SSLRequest, then relays to the server's socket), which records whether
each connection came in TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nl2sql_shell.db import embedded
from nl2sql_shell.proxy.auth import Upstream, UpstreamError
from nl2sql_shell.proxy.server import Proxy
from tests.proxy.conftest import RunningProxy

SSL_REQUEST = 80877103


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, key_file


class TlsFront:
    """127.0.0.1:port answering an SSLRequest with 'S' (``offer``) or 'N', then relaying to the
    server's socket; ``seen`` says, per connection, whether it came in TLS."""

    def __init__(self, socket_path: str, cert: Path, key: Path, loop: asyncio.AbstractEventLoop, *, offer: bool) -> None:
        self.socket_path, self.offer, self.loop, self.seen = socket_path, offer, loop, []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, "127.0.0.1", 0), loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(8)
        tls = struct.unpack("!II", first) == (8, SSL_REQUEST)
        if tls:
            writer.write(b"S" if self.offer else b"N")
            await writer.drain()
            if self.offer:
                await writer.start_tls(self.context)
            first = b""
        self.seen.append(tls and self.offer)
        server_reader, server_writer = await asyncio.open_unix_connection(self.socket_path)
        server_writer.write(first)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, server_writer), pipe(server_reader, writer), return_exceptions=True)


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
    server_cert, server_key = _certificate(tmp_path, "server")
    other_cert, _ = _certificate(tmp_path, "other")
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
    front = TlsFront(f"{pg_server.host}/.s.PGSQL.{pg_server.port}", certificates["cert"], certificates["key"], loop, offer=offer)
    upstream = f"host=localhost port={front.port} sslmode={sslmode}" + (f" sslrootcert={certificates[root]}" if root else "")
    assert answer in _through(pg_server, fresh_db, upstream)
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
