"""Servers and databases for the security suite.

Everything runs on the embedded PostgreSQL of tests/conftest.py, except what needs contrib
extensions (dblink, tablefunc, file_fdw): those run on Debian's PostgreSQL 15, started here
once per session in a private folder, as `nobody` when we are root (initdb refuses root),
listening only on a unix socket in a 0700 folder owned by the server's user (trust
authentication is then reachable by that user and root only). When PostgreSQL 15 is not
installed, the embedded server stands in if it has the extension; otherwise the case skips.

Each module builds its database once as a template (setup, then VACUUM FREEZE so that later
reads write no WAL), clones it, and clones it again after a case that left it changed: a case
that fails because an attack worked must not make the next case fail for another reason.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from nl2sql_shell.db import embedded

from .harness import Victim

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
PG15_EXTENSIONS = Path("/usr/share/postgresql/15/extension")
CONTRIB = ("dblink", "tablefunc", "file_fdw")
_names = itertools.count()

# What a database looks like, so that a case which changed it can be undone before the next:
# relations of `public` with their columns, every row of `accounts`, sequences, large objects,
# functions, policies and the database's own settings.
_FINGERPRINT = [
    "SELECT string_agg(c.relname || ':' || c.relkind || ':' || c.relnatts, ',' ORDER BY c.relname) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace",
    "SELECT string_agg(a::text, ',' ORDER BY a.id) FROM accounts a",
    "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, '-'), ',' ORDER BY sequencename) FROM pg_sequences",
    "SELECT count(*) FROM pg_largeobject_metadata",
    "SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    "SELECT string_agg(polname, ',' ORDER BY polname) FROM pg_policy",
]


@dataclass
class Pg15Server:
    """Debian's PostgreSQL 15, on a unix socket only."""

    root: Path
    socket_dir: Path
    port: int
    process: subprocess.Popen[bytes]

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _pg15_missing() -> str | None:
    for binary in ("initdb", "postgres"):
        if not (PG15_BIN / binary).exists():
            return f"PostgreSQL 15 is not installed ({PG15_BIN / binary} is missing)"
    return None


def _start_pg15() -> Pg15Server:
    ids = embedded._unprivileged_ids()  # nobody's uid/gid when we are root, else None
    root = Path(tempfile.mkdtemp(prefix="nl2sql-security-pg15-"))
    os.chmod(root, 0o711)  # nobody must reach the folders below
    data, sockets = root / "data", root / "socket"
    for folder in (data, sockets):
        embedded._prepare_dir(folder, ids)  # 0700, owned by the server's user
    result = subprocess.run(
        [str(PG15_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
        capture_output=True,
        check=False,
        preexec_fn=embedded._child_setup(ids, die_with_parent=False),
        cwd="/",
    )
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError("PostgreSQL 15 initdb failed: " + result.stderr.decode(errors="replace").strip()[-500:])
    log = open(root / "server.log", "ab")  # noqa: SIM115 - the server writes to it until stop()
    if ids is not None:
        os.chown(root / "server.log", *ids)
    port = 5432  # only names the socket file, inside our own folder
    process = subprocess.Popen(
        [
            str(PG15_BIN / "postgres"), "-D", str(data), "-p", str(port),
            "-c", "listen_addresses=", "-c", f"unix_socket_directories={sockets}",
            "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        preexec_fn=embedded._child_setup(ids, die_with_parent=True),  # noqa: PLW1509 - started from the main thread
        cwd="/",
    )
    log.close()
    server = Pg15Server(root, sockets, port, process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            tail = (root / "server.log").read_text(errors="replace").strip()[-500:]
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL 15 did not start: {tail}")
        with contextlib.suppress(psycopg.OperationalError), psycopg.connect(server.conninfo(), connect_timeout=1):
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("PostgreSQL 15 did not accept connections within 30 s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def pg15_server() -> Iterator[Pg15Server | None]:
    """Debian's PostgreSQL 15 with its contrib extensions, or None when it is not installed."""
    if _pg15_missing():
        yield None
        return
    server = _start_pg15()
    yield server
    server.stop()


def _has_extension(server, name: str) -> bool:
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,)).fetchone() is not None


@pytest.fixture(scope="session")
def contrib_server(pg15_server, pg_server):
    """A server with dblink, tablefunc and file_fdw: PostgreSQL 15, else the embedded one if it
    ships them; tests that need one of them call `need_extension` to skip with the reason."""
    if pg15_server is not None:
        return pg15_server
    return pg_server


def need_extension(server, name: str) -> None:
    if isinstance(server, Pg15Server):
        if not (PG15_EXTENSIONS / f"{name}.control").exists() or not _has_extension(server, name):
            pytest.skip(f"the {name} extension is not installed for PostgreSQL 15 ({PG15_EXTENSIONS}/{name}.control)")
        return
    if not _has_extension(server, name):
        reason = _pg15_missing() or "PostgreSQL 15 is not used"
        pytest.skip(f"{reason}, and the embedded server has no {name} extension")


class ModuleDb:
    """A module's database: built once from `setup` as a template, cloned for use, and cloned
    again whenever a case left it different (see `_FINGERPRINT`)."""

    def __init__(self, server, setup: str, settings: dict[str, str] | None = None) -> None:
        self.server = server
        base = f"sec_{os.getpid()}_{next(_names)}"
        self.template, self.name = base + "_tmpl", base
        self.settings = settings or {}
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.template}"')
        with psycopg.connect(server.conninfo(self.template), autocommit=True) as conn:
            conn.execute(setup)
            conn.execute("VACUUM (FREEZE, ANALYZE)")
        self._clone()
        self.baseline = self.fingerprint()

    @property
    def conninfo(self) -> str:
        return self.server.conninfo(self.name)

    def _clone(self) -> None:
        with psycopg.connect(self.server.conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')
            for key, value in self.settings.items():
                admin.execute(f'ALTER DATABASE "{self.name}" SET {key} = {value}')

    def fingerprint(self) -> tuple | None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                return tuple(conn.execute(sql).fetchone()[0] for sql in _FINGERPRINT) + (
                    conn.execute("SELECT coalesce(array_agg(setconfig), '{}') FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0],
                )
        except psycopg.Error:
            return None

    def restore_if_changed(self) -> None:
        if self.baseline is None or self.fingerprint() != self.baseline:
            self._clone()

    def drop(self) -> None:
        with psycopg.connect(self.server.conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _restore(request) -> Iterator[None]:
    """Each case leaves its module's database (the module's `db`) as the module set it up."""
    db = request.getfixturevalue("db") if "db" in request.fixturenames else None
    yield
    if db is not None:
        db.restore_if_changed()


@pytest.fixture
def victim(db) -> Iterator[Victim]:
    """Another session on the module's database: the backend an attack would terminate."""
    session = Victim(db.conninfo)
    yield session
    session.close()


@pytest.fixture(autouse=True)
def _private_examples(tmp_path_factory, monkeypatch) -> None:
    """Accepted answers go to an example store: keep it out of the user's data folder."""
    monkeypatch.setenv("NL2SQL_SHELL_EXAMPLES_DIR", str(tmp_path_factory.getbasetemp() / "examples"))


@pytest.fixture(scope="session")
def effects_dir(reachable_tmp: Path) -> Path:
    """Where an attack would make the server write a file: writable by the server's user."""
    folder = reachable_tmp / "security-effects"
    folder.mkdir(exist_ok=True)
    os.chmod(folder, 0o1777)
    return folder


@pytest.fixture
def effect_file(effects_dir: Path, request) -> Path:
    """A path no file is at yet; the case asserts that none appears there."""
    path = effects_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)}-{next(_names)}"
    assert not path.exists()
    return path
