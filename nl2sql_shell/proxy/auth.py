"""The connection's start: TLS refused, the startup packet read, authentication relayed.

The proxy never authenticates anyone itself and never learns a password. It opens a
connection to the upstream server, forwards the client's startup packet unchanged, and from
then on relays every byte of the exchange (SCRAM-SHA-256, md5, cleartext, trust) both ways:
the server checks the client as if it had connected directly, so the client gets exactly
the access it would get without the proxy. `?` questions do not need credentials either:
they run over this same upstream connection (see bridge.py), so schema reads, EXPLAINs
and votes use the client's own session, role and rights.

TLS: an SSLRequest (and a GSSENCRequest) is answered 'N', so the client goes on in clear
text or gives up if it insists on TLS; the proxy listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict

from nl2sql_shell.proxy.codec import CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST, Startup, error, parse_startup

MAX_STARTUP = 10_000  # the server's own limit for a startup packet
DEFAULT_SOCKET_DIR = "/var/run/postgresql"


class StartupError(Exception):
    """The client's first packet is not PostgreSQL's."""


async def read_startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Startup:
    """The startup or cancel packet, after answering 'N' to a TLS and to a GSS encryption
    request. The server answers each kind once and reads a second as a startup packet of a
    protocol it does not know: so does the proxy (the server, asked first, would say 'N')."""
    answered: set[int] = set()
    while True:
        header = await reader.readexactly(4)
        length = struct.unpack("!I", header)[0]
        if not 8 <= length <= MAX_STARTUP:
            raise StartupError(f"bad startup packet length {length}")
        startup = parse_startup(header + await reader.readexactly(length - 4))
        if startup.code in (SSL_REQUEST, GSSENC_REQUEST):
            if startup.code in answered:
                version = f"{startup.code >> 16}.{startup.code & 0xFFFF}"
                writer.write(error(f"unsupported frontend protocol {version}", "0A000", "FATAL"))
                await writer.drain()
                raise StartupError(f"a second request {version}")
            answered.add(startup.code)
            writer.write(b"N")
            await writer.drain()
            continue
        return startup


@dataclass(frozen=True)
class Upstream:
    """Where the real server listens: a TCP host and port, or a unix socket folder.

    Only the address is taken from the upstream conninfo: the user and database are the
    client's own, from its startup packet, and the password is the client's to give.
    """

    host: str
    port: int

    @classmethod
    def from_conninfo(cls, conninfo: str) -> Upstream:
        params = conninfo_to_dict(conninfo)
        host = str(params.get("hostaddr") or params.get("host") or DEFAULT_SOCKET_DIR).split(",")[0]
        port = int(str(params.get("port") or 5432).split(",")[0])
        return cls(host, port)

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.is_socket:
            return await asyncio.open_unix_connection(f"{self.host}/.s.PGSQL.{self.port}", limit=1 << 20)
        return await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def cancel(self, packet: bytes) -> None:
        """Forward a CancelRequest packet unchanged: the key in it is the server's own, which
        the proxy passed on to the client, so only a client that holds it can cancel."""
        _, writer = await self.open()
        try:
            writer.write(packet)
            await writer.drain()
        finally:
            writer.close()


def is_cancel(startup: Startup) -> bool:
    return startup.code == CANCEL_REQUEST
