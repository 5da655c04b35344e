"""Shared fixtures: one real embedded PostgreSQL for the whole run, fresh databases per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.db import embedded

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFOG = SHARED / "bench" / "defog-dev"
_counter = itertools.count()


def make_reachable(folder: Path) -> Path:
    """As root the server runs as `nobody`, which must be able to reach its data folder."""
    if os.geteuid() == 0:
        for path in (folder, *folder.parents):
            if str(path).startswith("/tmp/") and path.exists():
                os.chmod(path, os.stat(path).st_mode | 0o711)
    return folder


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.EmbeddedServer]:
    """The embedded server, in a throw-away data folder, started once for the session."""
    data_dir = make_reachable(tmp_path_factory.mktemp("pg")) / "data"
    server = embedded.start(data_dir)
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


def load_defog_db(pg_server: embedded.EmbeddedServer, db: str) -> str:
    """Load ../shared/bench/defog-dev/dbs/<db>.sql into a database named <db> (once per run)."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{db}"')
            with psycopg.connect(pg_server.conninfo(db), autocommit=True) as conn:
                conn.execute((DEFOG / "dbs" / f"{db}.sql").read_text())
    return pg_server.conninfo(db)
