"""A TLS front for the session's embedded server: it answers PostgreSQL's SSLRequest and
relays to the server's unix socket, so that libpq, psql and the proxy meet a server that
speaks TLS (the embedded one listens on its socket alone, where no TLS is spoken)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import struct
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SSL_REQUEST = 80877103


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
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
    server's socket; ``seen`` says, per connection, whether it came in TLS. With ``plus`` the
    server's SASL offer gains SCRAM-SHA-256-PLUS, as a server over TLS offers it
    (``offered_plus``: it did)."""

    def __init__(self, socket_path: str, cert: Path, key: Path, loop: asyncio.AbstractEventLoop, *, offer: bool, plus: bool = False) -> None:
        self.socket_path, self.offer, self.loop, self.seen = socket_path, offer, loop, []
        self.plus, self.offered_plus = plus, False
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

        async def first_offer() -> None:
            """The server's first message, its SASL offer given SCRAM-SHA-256-PLUS first."""
            header = await server_reader.readexactly(5)
            body = await server_reader.readexactly(struct.unpack("!I", header[1:])[0] - 4)
            if self.plus and header[:1] == b"R" and body[:4] == struct.pack("!I", 10):
                body = body[:4] + b"SCRAM-SHA-256-PLUS\0" + body[4:]
                self.offered_plus = True
            writer.write(header[:1] + struct.pack("!I", len(body) + 4) + body)
            await pipe(server_reader, writer)

        await asyncio.gather(pipe(reader, server_writer), first_offer(), return_exceptions=True)
