"""The proxy serves only the OS user who started it: behind it, a server's peer or ident
authentication takes every connection for that user."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from nl2sql_shell.db import embedded
from nl2sql_shell.proxy import peers
from nl2sql_shell.proxy.auth import Upstream
from nl2sql_shell.proxy.server import Proxy

from .conftest import RunningProxy

NOBODY = 65534


def _psql(conninfo: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/psql", "-X", "-A", "-t", conninfo, "-c", "SELECT current_user"], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": "/"}, check=False, **options)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another OS user")
def test_another_local_user_is_refused_and_the_proxys_own_user_served(db, start_proxy):
    through = start_proxy(lambda: None).via(db)
    mine = _psql(through)
    assert mine.returncode == 0, mine.stderr
    other = _psql(through, user=NOBODY, group=NOBODY)
    assert other.returncode != 0
    assert "the proxy serves only the OS user who started it" in other.stderr


# Another user's client that sends its startup and closes its sending side at once: its end of
# the connection is no longer "established" when the proxy asks who owns it.
HALF_CLOSED = """
import socket, struct, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = struct.pack("!I", 196608) + b"user\\0postgres\\0database\\0postgres\\0\\0"
sock.sendall(struct.pack("!I", len(body) + 4) + body)
sock.shutdown(socket.SHUT_WR)
sys.stdout.buffer.write(sock.recv(4096))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another OS user")
def test_another_local_user_that_closes_its_side_at_once_is_refused(db, start_proxy):
    proxy = start_proxy(lambda: None)
    reply = subprocess.run(["python3", "-c", HALF_CLOSED, str(proxy.port)], capture_output=True, timeout=30, user=NOBODY, group=NOBODY, env={"PATH": "/usr/bin:/bin", "HOME": "/"}, check=False)
    assert b"the proxy serves only the OS user who started it" in reply.stdout, reply


def _own_address() -> str | None:
    """This host's address on its default route, if it has one that is not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: the kernel only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.skipif(os.geteuid() != 0 or _own_address() is None, reason="needs root and an address that is not loopback")
def test_another_local_user_through_one_of_this_host_s_other_addresses_is_refused(pg_server):
    """Listening on every address in front of a TCP server: a local user who connects to the
    host's own network address is this host, not another: the uid check holds."""
    running = RunningProxy(Proxy(Upstream(pg_server.host, pg_server.port), lambda: None, listen=("0.0.0.0", 0)), embedded.read_password(pg_server.data_dir))
    try:
        address = _own_address()
        other = subprocess.run(["python3", "-c", HALF_CLOSED.replace('"127.0.0.1"', repr(address)), str(running.port)], capture_output=True, timeout=30, user=NOBODY, group=NOBODY, env={"PATH": "/usr/bin:/bin", "HOME": "/"}, check=False)
        assert b"the proxy serves only the OS user who started it" in other.stdout, other
        mine = subprocess.run(["python3", "-c", HALF_CLOSED.replace('"127.0.0.1"', repr(address)), str(running.port)], capture_output=True, timeout=30, check=False)
        assert b"the proxy serves only the OS user" not in mine.stdout, mine  # its own user: on to the server
    finally:
        running.stop()


@pytest.mark.skipif(_own_address() is None, reason="needs an address that is not loopback")
def test_a_client_end_closed_at_once_through_another_address_is_refused(tmp_path, monkeypatch):
    """Through the host's own network address, a client that sent its statements and closed
    at once (its end held by no process: no uid to read) was taken for another host's and
    served: in front of an ident or trust upstream, 7 of 10 of another user's statements ran."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # a proxy that is never started makes no folder
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    proxy = Proxy(Upstream("db.internal", 5432), lambda: None, listen=("0.0.0.0", 6432))
    with socket.create_server((_own_address(), 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, peer = server.accept()
        with accepted:
            assert proxy._refusal(peer, accepted.getsockname()) is None  # its own user, while it is there
            client.close()
            assert "serves only the OS user who started it" in proxy._refusal(peer, accepted.getsockname())
    assert proxy._refusal(("203.0.113.9", 40000), ("10.0.0.2", 6432)) is None  # another host, in front of TCP


def test_the_owner_of_a_loopback_connection_is_read_from_the_system():
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()):
        accepted, peer = server.accept()
        with accepted:
            assert peers.client_uid(peer, accepted.getsockname()) == os.geteuid()
            assert peers.client_uid(("127.0.0.1", 1), accepted.getsockname()) == peers.NOBODY  # no such connection
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, peer = server.accept()
        client.close()  # its end lingers, held by no process
        with accepted:
            assert peers.client_uid(peer, accepted.getsockname()) == peers.CLOSED
    assert peers.is_local_address(("127.0.0.1", 1)) and not peers.is_local_address(("203.0.113.9", 1))


def test_other_hosts_are_refused_in_front_of_a_unix_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # a proxy that is never started makes no folder
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    remote = ("192.0.2.7", 40000)
    for upstream, refused in ((Upstream("/run/postgresql", 5432), True), (Upstream("db.internal", 5432), False)):
        proxy = Proxy(upstream, lambda: None, listen=("0.0.0.0", 6432))
        reason = proxy._refusal(remote, ("10.0.0.2", 6432))
        assert (reason is not None and "unix socket" in reason) is refused
    loopback_only = Proxy(Upstream("db.internal", 5432), lambda: None, listen=("127.0.0.1", 6432))
    assert "other hosts" in loopback_only._refusal(remote, ("127.0.0.1", 6432))
    assert list(tmp_path.iterdir()) == []


def _link_local() -> tuple[str, int] | None:
    """One of this host's IPv6 link-local addresses and its interface index, if it has one."""
    try:
        lines = open("/proc/net/if_inet6").read().splitlines()
    except OSError:
        return None
    for line in lines:
        raw, index = line.split()[:2]
        if raw.startswith("fe80"):
            return ":".join(raw[i : i + 4] for i in range(0, 32, 4)), int(index, 16)
    return None


@pytest.mark.skipif(_link_local() is None, reason="needs an IPv6 link-local address")
def test_a_link_local_address_of_this_host_is_this_host():
    """Its scope was dropped: the probe could not bind it, the client (its end gone) was
    another host's and served in front of a TCP upstream."""
    address, index = _link_local()
    assert peers.is_local_address((address, 40000, 0, index))
    assert not peers.is_local_address(("fe80::dead:beef:1", 40000, 0, index))


def test_a_peer_check_that_cannot_read_or_probe_refuses(tmp_path, monkeypatch):
    """Out of file descriptors the tables could not be read: the owner was unknown, and an
    unknown loopback client was served (another user's INSERT ran)."""
    monkeypatch.setattr(peers, "_TABLES", (tmp_path,))  # a folder: reading it fails, as at EMFILE
    assert peers.client_uid(("127.0.0.1", 1), ("127.0.0.1", 2)) == peers.UNREADABLE
    script = (
        "import resource, socket\n"
        "from nl2sql_shell.proxy import peers\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
        "held = []\n"
        "try:\n"
        "    while True: held.append(socket.socket())\n"
        "except OSError: pass\n"
        "print(peers.is_local_address(('203.0.113.9', 1)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"  # taken as this host's: refused
