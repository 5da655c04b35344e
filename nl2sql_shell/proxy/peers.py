"""Who is at the other end of a connection to the proxy: which OS user, on this host.

The upstream server authenticates the proxy's connection, not the client's. With a password
method that is the same thing (the client answers the server's challenge), but `peer`
authentication on a unix socket (Debian's default for local connections) and `ident` ask the
operating system who opened the connection, and that is the proxy's own OS user. So a client
of another local user would act as the person who started the proxy. The proxy serves only its
own OS user's connections, and never another host's when the upstream is a unix socket.

On Linux the owner of a loopback TCP connection is in /proc/net/tcp and tcp6 (the uid column
of the client's own end of the connection, with the inode of the socket a process holds); a
client whose end no process holds is nobody's, refused; elsewhere it cannot be told, and a
loopback client is taken as unknown.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path

_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
NOBODY = -1  # the system lists connections, and the client's end of this one is not on this host
CLOSED = -2  # the client's end is on this host, but no process holds it any more (closed at once)
UNREADABLE = -3  # the system has the tables but they could not be read now (out of descriptors)

Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


def client_uid(client: tuple, server: tuple) -> int | None:
    """The uid owning the client's end of the TCP connection from ``client`` to ``server``
    (both (host, port, ...) as asyncio gives them), in whatever state (a client that sent its
    messages and closed its side at once is no longer "established"); CLOSED when no process
    owns that end any more (its uid column says 0, as if root's); NOBODY when this host holds
    no end of it; UNREADABLE when the tables are there but could not be read (a proxy out of
    file descriptors: the check failed open); None when the system has no such tables."""
    wanted = (_plain(client[0]), client[1]), (_plain(server[0]), server[1])
    listed, closed = False, False
    for table in _TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        except OSError:
            return UNREADABLE
        listed = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and (_address(fields[1]), _address(fields[2])) == wanted:
                if fields[9] != "0":
                    return int(fields[7])
                closed = True
    return (CLOSED if closed else NOBODY) if listed else None


def is_local_address(peer: tuple) -> bool:
    """Whether the peer's address (host, port[, flowinfo, scope id] as asyncio gives it) is one
    of this host's own (a socket can be bound to it, a link-local one in its scope): a client
    from there is on this host, whichever address it used. Only "no such address here" says
    another host; a probe that fails otherwise (out of descriptors) is taken as this host's."""
    address = _plain(peer[0])
    v6 = address.version == 6
    target = (str(address), 0, 0, peer[3] if len(peer) > 3 else 0) if v6 else (str(address), 0)
    try:
        with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(target)
    except OSError as exc:
        return exc.errno != errno.EADDRNOTAVAIL
    return True


def _plain(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A host as asyncio gives it, compared as `_unmapped`."""
    return _unmapped(ipaddress.ip_address(host.split("%")[0]))


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 address in IPv6 form (::ffff:127.0.0.1), as a dual-stack socket reports it, as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _address(field: str) -> Address:
    """``0100007F:1F90`` (IPv4) or 32 hex digits (IPv6), each 32-bit word in host byte order
    (little-endian on the machines Linux runs this on), and the port."""
    host, port = field.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return _unmapped(ipaddress.ip_address(words)), int(port, 16)
