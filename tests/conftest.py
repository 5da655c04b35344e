"""Shared fixtures: one real embedded PostgreSQL for the whole run, fresh databases per test."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.db import embedded

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFOG = SHARED / "bench" / "defog-dev"
_counter = itertools.count()


@pytest.fixture(scope="session")
def reachable_tmp() -> Iterator[Path]:
    """A scratch folder that `nobody` (the server's user when we are root) can reach.

    Not under pytest's own tmp root: pytest resets that to 0700 whenever another pytest
    session starts, which would cut a running server off from its data folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="nl2sql-shell-tests-"))
    os.chmod(folder, 0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def private_user_files(reachable_tmp: Path) -> Iterator[None]:
    """Keep the suite's examples memory and history out of the person's own folders.

    Questions asked by tests are remembered as examples (and lines typed into the shell as
    history): without this, every run left files in ~/.local/share/nl2sql-shell that the
    next real session would read back into its prompts. Subprocesses inherit the setting.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NL2SQL_SHELL_EXAMPLES_DIR", str(reachable_tmp / "examples"))
        patch.setenv("NL2SQL_SHELL_HISTORY", str(reachable_tmp / "history"))
        yield


@pytest.fixture(scope="session")
def pg_server(reachable_tmp: Path) -> Iterator[embedded.EmbeddedServer]:
    """The embedded server, in a throw-away data folder, started once for the session."""
    server = embedded.start(reachable_tmp / "pgdata")
    yield server
    server.stop()


@pytest.fixture
def fresh_db(pg_server: embedded.EmbeddedServer) -> Iterator[str]:
    """Create an empty database for one test and yield its conninfo; dropped afterwards."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.conninfo(name)
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(pg_server: embedded.EmbeddedServer, name: str, ddl: str) -> str:
    """(Re)create database ``name`` with ``ddl`` run in it, for a module's tests; its conninfo."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        conn.execute(ddl)
    return pg_server.conninfo(name)


def database_fixture(name: str, ddl: str):
    """A module's `conn` fixture (``conn = database_fixture(...)``): database ``name``
    (re)created once with ``ddl``, and one autocommit connection to it for the module."""

    @pytest.fixture(scope="module")
    def conn(pg_server: embedded.EmbeddedServer) -> Iterator[psycopg.Connection]:
        with psycopg.connect(create_database(pg_server, name, ddl), autocommit=True) as connection:
            yield connection

    return conn


def load_defog_db(pg_server: embedded.EmbeddedServer, db: str) -> str:
    """Load ../shared/bench/defog-dev/dbs/<db>.sql into a database named <db> (once per run)."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{db}"')
            with psycopg.connect(pg_server.conninfo(db), autocommit=True) as conn:
                conn.execute((DEFOG / "dbs" / f"{db}.sql").read_text())
    return pg_server.conninfo(db)
