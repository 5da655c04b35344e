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
To the server the proxy speaks as libpq would with the upstream conninfo's sslmode (and
sslrootcert, sslcert, sslkey): TLS where it asks for it, the certificate checked as it says.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import pq
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


class UpstreamError(ValueError):
    """An upstream conninfo the proxy cannot follow as libpq would, in one line."""


_REQUIRED = ("require", "verify-ca", "verify-full")
_TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
# settings libpq takes only these values of (case and all)
_VALUES = {"channel_binding": ("disable", "prefer", "require"), "gssencmode": ("disable", "prefer", "require")}
# what the proxy cannot do for its clients, who authenticate through it over clear text
_REFUSED = {
    ("channel_binding", "require"): "channel_binding=require: the proxy's clients authenticate through it in clear text and cannot bind to its TLS channel",
    ("gssencmode", "require"): "gssencmode=require: the proxy speaks no GSSAPI encryption to the server",
}


@dataclass(frozen=True)
class UpstreamTLS:
    """libpq's TLS settings for the proxy's own connections to a server over TCP."""

    mode: str  # prefer, require, verify-ca or verify-full (disable and allow: no TLS)
    server_name: str  # the host name a verify-full certificate must name
    rootcert: str | None = None  # None: no CA file (verify-ca and verify-full refuse that)
    cert: str | None = None
    key: str | None = None
    password: str | None = field(default=None, repr=False)  # sslpassword, for an encrypted key
    crl: str | None = None
    crl_dir: str | None = None
    min_version: str = "TLSv1.2"
    max_version: str | None = None

    @functools.cached_property
    def context(self) -> ssl.SSLContext:
        """As libpq: the certificate is checked against the root file when there is one (for
        require and prefer too), and the host name only under verify-full. Made once (and
        first when the proxy starts, so that a bad file is told then): an encrypted key
        without sslpassword had OpenSSL ask for its pass phrase on the proxy's terminal at
        every connection, all clients waiting."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version is not None:
            context.maximum_version = _TLS_VERSIONS[self.max_version]
        context.check_hostname = False
        if self.rootcert is None:
            context.verify_mode = ssl.CERT_NONE
        else:
            context.verify_mode = ssl.CERT_REQUIRED
            if self.rootcert == "system":
                context.load_default_certs()
            else:
                context.load_verify_locations(self.rootcert)
            if self.crl is not None or self.crl_dir is not None:
                context.load_verify_locations(cafile=self.crl, capath=self.crl_dir)
                context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
            context.check_hostname = self.mode == "verify-full"
        if self.cert is not None:
            context.load_cert_chain(self.cert, self.key, password=self.password or "")
        return context


@dataclass(frozen=True)
class Upstream:
    """Where the real server listens: a TCP host and port, or a unix socket folder, and how
    TLS is spoken there.

    Only the address and TLS are taken from the upstream conninfo: the user and database are
    the client's own, from its startup packet, and the password is the client's to give.
    """

    host: str
    port: int
    tls: UpstreamTLS | None = None  # None: clear text (a socket, sslmode disable or allow)
    connect_timeout: float | None = None

    @classmethod
    def from_conninfo(cls, conninfo: str) -> Upstream:
        """What libpq would read: the conninfo, then its service's lines (a service file),
        then the PG* environment (PGHOST, PGPORT, PGSSLMODE...). Only `host` and `port` were
        read, so `sslmode=verify-full` went to the server in clear text and unchecked, and
        `service=` or PGHOST to /var/run/postgresql. What it cannot do as libpq does is
        refused (UpstreamError), never done otherwise."""
        params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None and str(v) != ""}
        # each setting's environment variable, as libpq reads it (get_defaults would also give
        # PGSERVICE's service's lines, which an explicit service= replaces, not adds to)
        environment = {o.keyword.decode(): os.environ[o.envvar.decode()] for o in pq.Conninfo.get_defaults() if o.envvar and os.environ.get(o.envvar.decode())}
        service = params.get("service") or environment.get("service")
        params = {**environment, **(_service(service) if service else {}), **params}
        for key, allowed in _VALUES.items():
            if key in params and params[key] not in allowed:
                raise UpstreamError(f'invalid {key} value: "{params[key]}"')
        for (key, value), why in _REFUSED.items():
            if params.get(key) == value:
                raise UpstreamError(why)
        if params.get("target_session_attrs", "any") != "any":
            raise UpstreamError(f"target_session_attrs={params['target_session_attrs']}: the proxy relays to its one server without asking what it is")
        host = params.get("hostaddr") or params.get("host") or DEFAULT_SOCKET_DIR
        port = params.get("port") or "5432"
        if "," in host or "," in port:
            raise UpstreamError("several hosts: the proxy relays to one server; name one host and port")
        for key in ("port", "connect_timeout"):
            if key in params and not params[key].strip().lstrip("-").isdigit():
                raise UpstreamError(f'invalid integer value "{params[key]}" for connection option "{key}"')
        seconds = int(params.get("connect_timeout", "0"))
        timeout = max(seconds, 2) if seconds > 0 else None  # (libpq's least is 2 s; zero or less: no limit)
        mode = params.get("sslmode", "prefer")
        if mode not in ("disable", "allow", "prefer", *_REQUIRED):
            raise UpstreamError(f'invalid sslmode value: "{mode}"')
        low, high = params.get("ssl_min_protocol_version"), params.get("ssl_max_protocol_version")
        if low in _TLS_VERSIONS and high in _TLS_VERSIONS and _TLS_VERSIONS[low] > _TLS_VERSIONS[high]:
            raise UpstreamError("invalid SSL protocol version range")
        if host.startswith("/") or mode in ("disable", "allow"):  # (libpq ignores sslmode on a unix socket)
            return cls(host, int(port), connect_timeout=timeout)
        if mode == "verify-full" and not params.get("host"):
            raise UpstreamError("sslmode verify-full needs a host name to check the certificate against (hostaddr alone names none)")
        home = Path.home() / ".postgresql"
        rootcert = params.get("sslrootcert") or str(home / "root.crt")
        if rootcert != "system" and not os.path.exists(rootcert):
            if mode.startswith("verify"):
                raise UpstreamError(f'root certificate file "{rootcert}" does not exist: sslmode {mode} needs one to check the server')
            rootcert = None
        cert = params.get("sslcert") or str(home / "postgresql.crt")
        key = params.get("sslkey") or str(home / "postgresql.key")
        has_cert = os.path.exists(cert)
        if has_cert:
            _check_key_file(key)
        for name in ("ssl_min_protocol_version", "ssl_max_protocol_version"):
            if params.get(name) and params[name] not in _TLS_VERSIONS:
                raise UpstreamError(f'invalid {name} value: "{params[name]}"')
        tls = UpstreamTLS(
            mode, params.get("host") or host, rootcert, cert if has_cert else None, key if has_cert else None, params.get("sslpassword"),
            params.get("sslcrl"), params.get("sslcrldir"), params.get("ssl_min_protocol_version") or "TLSv1.2", params.get("ssl_max_protocol_version"),
        )
        try:
            tls.context  # noqa: B018 - made now: a bad file or pass phrase is told at the start
        except (ssl.SSLError, OSError) as exc:
            raise UpstreamError(f"TLS settings: {exc}") from None
        return cls(host, int(port), tls, timeout)

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the server, TLS begun where the conninfo asks for it (an SSLRequest,
        then the handshake), ready for the client's startup packet. OSError (ssl.SSLError for
        a certificate refused) when it cannot be had as asked."""
        if self.is_socket:
            return await asyncio.open_unix_connection(f"{self.host}/.s.PGSQL.{self.port}", limit=1 << 20)
        try:
            return await asyncio.wait_for(self._open_tcp(), self.connect_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"timeout expired (connect_timeout {self.connect_timeout:g} s)") from None

    async def _open_tcp(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        if self.tls is None:
            return reader, writer
        try:
            writer.write(struct.pack("!II", 8, SSL_REQUEST))
            await writer.drain()
            answer = await reader.readexactly(1)
            if answer == b"S":
                await writer.start_tls(self.tls.context, server_hostname=self.tls.server_name)
            elif answer != b"N" or self.tls.mode in _REQUIRED:
                raise ConnectionRefusedError(f"server does not support SSL, but SSL was required (sslmode {self.tls.mode})")
        except (OSError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise exc if isinstance(exc, OSError) else ConnectionResetError("the server closed the connection during the SSL request") from None
        return reader, writer

    async def cancel(self, packet: bytes) -> None:
        """Forward a CancelRequest packet unchanged: the key in it is the server's own, which
        the proxy passed on to the client, so only a client that holds it can cancel."""
        _, writer = await self.open()
        try:
            writer.write(packet)
            await writer.drain()
        finally:
            writer.close()


_KEYWORDS = frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def _service(name: str) -> dict[str, str]:
    """The settings of service ``name`` read as libpq's parseServiceFile reads them, from
    PGSERVICEFILE or ~/.pg_service.conf, then PGSYSCONFDIR's pg_service.conf: blanks around a
    line dropped, `#` comments, the first `[name]` section only, the first value of a key;
    a line without `=` is an error. (An INI reader took an indented `sslmode=require` for
    the line before's continuation, and a later section or value over the first: TLS lost.)"""
    files = [os.environ.get("PGSERVICEFILE") or str(Path.home() / ".pg_service.conf")]
    if os.environ.get("PGSYSCONFDIR"):
        files.append(os.path.join(os.environ["PGSYSCONFDIR"], "pg_service.conf"))
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UpstreamError(f'service file "{path}": {exc.strerror}') from None
        found, settings = False, {}
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                if found:
                    break
                found = line == f"[{name}]"
                continue
            if not found:
                continue
            key, equals, value = line.partition("=")
            if not equals or key not in _KEYWORDS:  # (`sslmode = verify-full`: no keyword, the whole file refused, as libpq)
                raise UpstreamError(f'syntax error in service file "{path}", line {number}')
            settings.setdefault(key, value)
        if found:
            return settings
    raise UpstreamError(f'definition of service "{name}" not found')


def _check_key_file(path: str) -> None:
    """libpq's rule for a client key: no access for group or others, unless root owns it
    and the group may read it (0640)."""
    try:
        info = os.stat(path)
    except OSError:
        return  # (load_cert_chain says what is wrong with it)
    allowed = 0o640 if info.st_uid == 0 else 0o600
    if stat.S_IMODE(info.st_mode) & ~allowed:
        raise UpstreamError(f'private key file "{path}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root')


def is_cancel(startup: Startup) -> bool:
    return startup.code == CANCEL_REQUEST
