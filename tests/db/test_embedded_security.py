"""The embedded server is locked: another local user who finds its port gets nothing.

Measured before: pg_hba trusted 127.0.0.1, so any OS user could `psql -h 127.0.0.1 -p PORT -U
postgres`, become superuser and run `COPY ... TO PROGRAM` as the shell's server user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.db import embedded
from nl2sql_shell.db.connect import Target

OLD_TRUST_HBA = """local   all   all                  trust
host    all   all   127.0.0.1/32   trust
host    all   all   ::1/128        trust
local   replication   all                  trust
host    replication   all   127.0.0.1/32   trust
"""


def _methods(data_dir: Path) -> list[str]:
    """The METHOD of every pg_hba line (the last word: our lines carry no options)."""
    lines = [line.split("#", 1)[0].split() for line in (data_dir / "pg_hba.conf").read_text().splitlines()]
    return [words[-1] for words in lines if words]


def _refusal(conninfo: str, tmp_path: Path) -> str:
    """What libpq says to someone without the password (an empty passfile hides ~/.pgpass)."""
    empty = tmp_path / "empty-pgpass"
    empty.touch(mode=0o600)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(conninfo, passfile=str(empty), connect_timeout=5).close()
    return str(caught.value)


def _conninfos(server: embedded.EmbeddedServer) -> dict[str, str]:
    """The superuser's conninfo by TCP and by the unix socket, without the password file."""
    base = f"port={server.port} user={embedded.SUPERUSER} dbname=postgres"
    return {"tcp": f"host=127.0.0.1 {base}", "socket": f"host={server.data_dir} {base}"}


@pytest.fixture(autouse=True)
def _no_password_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PGPASSWORD", "PGPASSFILE"):
        monkeypatch.delenv(name, raising=False)


def test_pg_hba_asks_everyone_for_a_password(pg_server):
    methods = _methods(pg_server.data_dir)
    assert methods and set(methods) == {"scram-sha-256"}


@pytest.mark.parametrize("way", ["tcp", "socket"])
def test_without_the_password_the_server_says_no(pg_server, tmp_path, way):
    conninfo = _conninfos(pg_server)[way]
    assert "no password supplied" in _refusal(conninfo, tmp_path)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(conninfo, password="guess", connect_timeout=5).close()


def test_the_password_file_lets_us_in_through_the_socket_alone(pg_server, tmp_path):
    """Its lines for 127.0.0.1 and localhost matched any port: whoever held a port there
    while the server (or a proxy) did not could ask libpq for the password in clear text."""
    with psycopg.connect(f"{_conninfos(pg_server)['socket']} passfile={pg_server.password_file}") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    heard: list[bytes] = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with _asking_in_clear(port, heard), pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres passfile={pg_server.password_file}", connect_timeout=3).close()
    assert not any(embedded.read_password(pg_server.data_dir).encode() in message for message in heard)


def test_an_older_password_file_s_lines_for_tcp_are_dropped(own_server):
    password = embedded.read_password(own_server.data_dir)
    own_server.password_file.write_text(f"127.0.0.1:*:*:postgres:{password}\nlocalhost:*:*:postgres:{password}\n{own_server.data_dir}:*:*:postgres:{password}\n")
    again = embedded.start(own_server.data_dir)
    again.stop()
    assert own_server.password_file.read_text() == f"{own_server.data_dir}:*:*:postgres:{password}\n" and again.keeper is None


def test_remove_takes_the_password_file_along(tmp_path):
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    embedded.password_file(data_dir).parent.mkdir()
    embedded.password_file(data_dir).write_text("127.0.0.1:*:*:postgres:secret\n")
    embedded.remove(data_dir)
    assert not data_dir.exists() and not embedded.password_file(data_dir).parent.exists()


def test_conninfo_carries_the_password_file(pg_server):
    params = psycopg.conninfo.conninfo_to_dict(pg_server.conninfo("somedb"))
    assert params["passfile"] == str(pg_server.password_file)
    assert params["dbname"] == "somedb"


def test_password_file_is_ours_alone(pg_server):
    file_info = os.stat(pg_server.password_file)
    folder_info = os.stat(pg_server.password_file.parent)
    assert stat.S_IMODE(file_info.st_mode) == 0o600
    assert stat.S_IMODE(folder_info.st_mode) == 0o700  # in particular not world-writable
    assert file_info.st_uid == folder_info.st_uid == os.geteuid()  # as root: root's, not nobody's
    assert pg_server.data_dir not in pg_server.password_file.parents  # the server's user owns that folder


def test_password_file_is_libpq_pgpass_for_the_socket_alone(pg_server):
    lines = pg_server.password_file.read_text().splitlines()
    hosts = {line.split(":", 1)[0] for line in lines}
    assert hosts == {str(pg_server.data_dir)}  # the socket alone: over TCP a port can be anyone's
    assert all(line.split(":")[1:4] == ["*", "*", "postgres"] for line in lines)


def test_durable_and_listening_only_where_expected(pg_server):
    with psycopg.connect(pg_server.conninfo()) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in ("fsync", "full_page_writes", "listen_addresses", "unix_socket_directories")}
    assert settings == {"fsync": "on", "full_page_writes": "on", "listen_addresses": "127.0.0.1", "unix_socket_directories": str(pg_server.data_dir)}
    data_info = os.stat(pg_server.data_dir)
    assert stat.S_IMODE(data_info.st_mode) == 0o700  # the socket's folder: only the server's user (and root) enter


def _make_it_old(server: embedded.EmbeddedServer) -> None:
    """Turn a folder back into one from before passwords: no password, trust, no password file."""
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
        (server.data_dir / "pg_hba.conf").write_text(OLD_TRUST_HBA)
        conn.execute("SELECT pg_reload_conf()")
    server.password_file.unlink()


def _assert_locked(server: embedded.EmbeddedServer, tmp_path: Path) -> None:
    assert embedded.is_locked(server.data_dir)
    assert set(_methods(server.data_dir)) == {"scram-sha-256"}
    for conninfo in _conninfos(server).values():
        assert "no password supplied" in _refusal(conninfo, tmp_path)
    with psycopg.connect(server.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def own_server(reachable_tmp: Path) -> Iterator[embedded.EmbeddedServer]:
    """A server of this test's own, on a data folder that the test may break."""
    data_dir = reachable_tmp / f"security-{uuid.uuid4().hex[:8]}"
    server = embedded.start(data_dir)
    yield server
    server.stop()
    embedded.remove(data_dir)


def test_an_old_trust_folder_is_locked_on_its_next_start(own_server, tmp_path):
    _make_it_old(own_server)
    own_server.stop()
    assert not embedded.is_locked(own_server.data_dir)
    server = embedded.start(own_server.data_dir)
    try:
        _assert_locked(server, tmp_path)
    finally:
        server.stop()


def test_an_old_trust_server_still_running_is_locked_when_a_new_shell_attaches(own_server, tmp_path):
    _make_it_old(own_server)
    attached = embedded.start(own_server.data_dir)
    try:
        assert attached.keeper is None and attached.port == own_server.port
        _assert_locked(attached, tmp_path)
    finally:
        attached.stop()


@pytest.fixture
def other_user() -> Iterator[str]:
    """A fresh unprivileged OS user (removed afterwards): the neighbour who found our port."""
    if os.geteuid() != 0:
        pytest.skip("creating a second OS user needs root")
    if not all(shutil.which(tool) for tool in ("useradd", "userdel", "runuser", "psql")):
        pytest.skip("useradd, userdel, runuser or psql is missing")
    name = f"nl2sqlsec{os.getpid()}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    yield name
    subprocess.run(["userdel", name], check=False, capture_output=True)


def _as(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/", "LC_ALL": "C.UTF-8"}
    return subprocess.run(["runuser", "-u", user, "--", *command], check=False, capture_output=True, text=True, env=env, cwd="/", timeout=60)


def test_another_os_user_gets_neither_the_server_nor_the_password(pg_server, other_user, tmp_path):
    marker = Path(f"/tmp/nl2sql-security-{uuid.uuid4().hex}")
    attack = f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'"
    try:
        for way, expected in (("tcp", "no password supplied"), ("socket", "Permission denied")):
            result = _as(other_user, "psql", "-X", "-w", _conninfos(pg_server)[way], "-c", attack)
            assert result.returncode != 0 and expected in result.stderr, (way, result.stderr)
        stolen = _as(other_user, "cat", str(pg_server.password_file))
        assert stolen.returncode != 0 and "Permission denied" in stolen.stderr
        with_file = _as(other_user, "psql", "-X", "-w", f"{_conninfos(pg_server)['tcp']} passfile={pg_server.password_file}", "-c", attack)
        assert with_file.returncode != 0 and "no password supplied" in with_file.stderr
        assert not marker.exists()
        # The control: the same statement with the password does run, so the check above can fail.
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
            conn.execute(attack)
        assert marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def _shell(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PAGER="", LC_ALL="C.UTF-8", NL2SQL_SHELL_HISTORY="/dev/null")
    return subprocess.run([sys.executable, "-m", "nl2sql_shell", *args], check=False, capture_output=True, text=True, env=env, timeout=120)


def test_conninfo_names_the_password_file_and_psql_gets_in_with_it(pg_server):
    result = _shell(pg_server.conninfo(), "-c", "\\c template1", "-c", "\\conninfo")
    assert result.returncode == 0, result.stderr
    sentence, hint = result.stdout.splitlines()[-2:]
    assert sentence == f'You are connected to database "template1" as user "postgres" via socket in "{pg_server.data_dir}" at port "{pg_server.port}".'
    assert hint.startswith(f"Password file: {pg_server.password_file} (psql: PGPASSFILE=") and hint.endswith(")")
    assignment, *psql = shlex.split(hint.split("(psql: ", 1)[1][:-1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = assignment.split("=", 1)[1]
    psql_run = subprocess.run([psql[0], "-X", "-w", *psql[1:], "-tAc", "SELECT current_database()"], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert (psql_run.returncode, psql_run.stdout.strip()) == (0, "template1"), psql_run.stderr


def test_switching_server_drops_the_password_file_but_switching_database_keeps_it(pg_server):
    target = Target(pg_server.conninfo())
    assert psycopg.conninfo.conninfo_to_dict(target.with_database("other").conninfo)["passfile"] == str(pg_server.password_file)
    elsewhere = psycopg.conninfo.conninfo_to_dict(target.with_database("-", None, None, "5432").conninfo)
    assert "passfile" not in elsewhere and elsewhere["port"] == "5432"


def _asking_in_clear(port: int, heard: list[bytes]) -> socket.socket:
    """A listener on the server's TCP port that asks for the password in clear text, as
    another local user can once the port is free (before the server binds it, after it stops)."""
    listener = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                with client:
                    client.settimeout(5)
                    client.recv(65536)  # the startup packet
                    client.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
                    heard.append(client.recv(65536))

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_no_password_goes_to_whoever_holds_the_port_once_the_server_stopped(own_server):
    """A second shell attached to a server that then stopped connects again at its next
    statement: over TCP, whoever had taken the port by then got the password in clear."""
    own_server.stop()
    heard: list[bytes] = []
    with _asking_in_clear(own_server.port, heard):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(own_server.conninfo(), connect_timeout=3).close()
    password = own_server.password_file.read_text().split(":")[-1].strip()
    assert heard == [] and password


def test_the_server_gets_none_of_the_shell_s_secrets(reachable_tmp, monkeypatch):
    """As root the server runs as nobody, and nobody's other processes read its environment."""
    monkeypatch.setenv("NL2SQL_SHELL_API_KEY", "sk-not-for-nobody")
    data_dir = reachable_tmp / f"environment-{uuid.uuid4().hex[:8]}"
    server = embedded.start(data_dir)
    try:
        assert server.keeper is not None
        pid = (server.data_dir / "postmaster.pid").read_text().splitlines()[0]
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(b"sk-not-for-nobody" in entry for entry in environment) and any(entry.startswith(b"PATH=") for entry in environment)
    finally:
        server.stop()
        embedded.remove(data_dir)


def test_pgpassword_for_another_server_does_not_lock_us_out(pg_server, monkeypatch):
    """libpq prefers PGPASSWORD to the password file: the demo refused to start."""
    monkeypatch.setenv("PGPASSWORD", "the-password-of-another-server")
    with psycopg.connect(pg_server.conninfo()) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    elsewhere = psycopg.conninfo.conninfo_to_dict(Target(pg_server.conninfo()).with_database("-", None, "127.0.0.1", "5432").conninfo)
    assert "password" not in elsewhere and "passfile" not in elsewhere  # PGPASSWORD is that server's again


def test_a_data_folder_someone_else_made_first_is_refused(reachable_tmp):
    """In a shared place another user could make the folder first, with a postmaster.pid and
    socket of their own server's: the shell attached to theirs and put the demo data there."""
    for owner, mode in ((12345, 0o700), (None, 0o777)):
        data_dir = reachable_tmp / f"planted-{uuid.uuid4().hex[:8]}"
        data_dir.mkdir()
        (data_dir / "PG_VERSION").write_text("18\n")
        os.chmod(data_dir, mode)
        if owner is not None:
            os.chown(data_dir, owner, owner)
        elif os.geteuid() == 0:  # as root the server's own user owns it
            nobody = pwd.getpwnam("nobody")
            os.chown(data_dir, nobody.pw_uid, nobody.pw_gid)
        with pytest.raises(embedded.EmbeddedServerError, match="not a data folder of this user's"):
            embedded.start(data_dir)
        shutil.rmtree(data_dir)


def test_a_data_folder_inside_a_folder_others_can_change_is_refused(reachable_tmp):
    """A user who can rename entries in a folder above the data folder (theirs, or one open to
    all without the sticky bit) moved it aside and put a socket of their own at its path:
    libpq sent them the server's password from the password file, and with it they ran
    commands as this user. Refused before anything is made or started; a sticky folder open
    to all (/tmp) is fine, as is a link of this user's."""
    shared = reachable_tmp / f"shared-{uuid.uuid4().hex[:8]}"
    shared.mkdir()
    for mode, owner in ((0o777, None), (0o775, None), (0o755, 12345)):
        os.chmod(shared, mode)
        if owner is not None:
            os.chown(shared, owner, owner)
        with pytest.raises(embedded.EmbeddedServerError, match=f"^{shared} is (open to others|another user's)"):
            embedded.start(shared / "deeper" / "pgdata")
        assert not (shared / "deeper").exists()
    os.chown(shared, os.geteuid(), os.getegid())
    os.chmod(shared, 0o777)  # reached through a link inside it: priv/l1 -> shared/l2 -> priv2
    (reachable_tmp / "priv").mkdir()
    (reachable_tmp / "priv2").mkdir()
    (shared / "l2").symlink_to(reachable_tmp / "priv2")
    (reachable_tmp / "priv" / "l1").symlink_to(shared / "l2")
    with pytest.raises(embedded.EmbeddedServerError, match=f"^{shared} is open to others"):
        embedded.start(reachable_tmp / "priv" / "l1" / "pgdata")
    os.chmod(shared, 0o1777)
    (reachable_tmp / "link").symlink_to(shared)
    server = embedded.start(reachable_tmp / "link" / "pgdata")
    try:
        with psycopg.connect(server.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
        embedded.remove(reachable_tmp / "link" / "pgdata")


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as nobody only when the shell is root")
def test_a_data_folder_nobody_cannot_reach_is_one_line_saying_what_to_do(reachable_tmp):
    """NL2SQL_SHELL_DATA_DIR under one of root's 0700 folders (~/anything): initdb failed with
    "could not open file ... for reading: Permission denied" about a file of its own."""
    locked = reachable_tmp / f"locked-{uuid.uuid4().hex[:8]}"
    locked.mkdir(mode=0o700)
    os.chmod(locked, 0o700)
    with pytest.raises(embedded.EmbeddedServerError) as refused:
        embedded.start(locked / "deeper" / "pgdata")
    assert str(refused.value) == (f"as root the embedded server runs as nobody, which cannot pass through {locked} (mode 700): run `chmod o+x {locked}`"
                                  " or set NL2SQL_SHELL_DATA_DIR to a folder elsewhere (the default is /var/lib/nl2sql-shell/pgdata)")
    assert list(locked.iterdir()) == []
    (reachable_tmp / f"link-{locked.name}").symlink_to(locked / "inner", target_is_directory=True)  # reached through a link
    (locked / "inner").mkdir()
    with pytest.raises(embedded.EmbeddedServerError, match=f"cannot pass through {locked} "):
        embedded.start(reachable_tmp / f"link-{locked.name}" / "pgdata")


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as nobody only when the shell is root")
def test_the_server_s_user_cannot_make_root_hand_over_a_file(own_server, reachable_tmp):
    """server.log in nobody's folder, replaced by a link to a file of root's: root appended to
    the file and chowned it to nobody at the next start."""
    target = reachable_tmp / f"root-only-{uuid.uuid4().hex[:8]}"
    target.write_text("root's\n")
    os.chmod(target, 0o600)
    own_server.stop()
    log = own_server.data_dir / "server.log"
    log.unlink()
    log.symlink_to(target)
    with pytest.raises(OSError):
        embedded.start(own_server.data_dir)
    info = os.stat(target)
    assert (info.st_uid, target.read_text()) == (0, "root's\n")


def test_a_fifo_in_place_of_the_server_s_log_is_one_line_not_a_hang(own_server):
    """The server's user (nobody, as root) made server.log a FIFO: the next start hung, silent."""
    own_server.stop()
    log = own_server.data_dir / "server.log"
    log.unlink()
    os.mkfifo(log, 0o600)
    with pytest.raises(embedded.EmbeddedServerError, match="is not a regular file"):
        embedded.start(own_server.data_dir, timeout=10)
