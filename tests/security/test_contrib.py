"""Contrib extensions that run SQL or programs behind a plain read: SQL inside a string
argument (tablefunc's crosstab, dblink's dblink_exec over a second connection, which no READ
ONLY transaction of ours covers) and a file_fdw foreign table whose `program` option runs on
every scan. They run on Debian's PostgreSQL 15 (see conftest.py)."""

from __future__ import annotations

import psycopg
import pytest

from .conftest import ModuleDb, need_extension
from .harness import (
    INNOCENT,
    INNOCENT_ANSWER,
    MODES,
    RUNNING_MODES,
    SETUP_ACCOUNTS,
    ask_once,
    old_voting_path,
    replies_for,
    scalar,
    settle,
)

ROWS = "SELECT string_agg(a::text, ',' ORDER BY id) FROM accounts a"


@pytest.fixture(scope="module")
def server(contrib_server):
    for name in ("dblink", "tablefunc", "file_fdw"):
        need_extension(contrib_server, name)
    return contrib_server


@pytest.fixture(scope="module")
def touched(effects_dir):
    return effects_dir / "contrib-report-lines-touched"


@pytest.fixture(scope="module")
def db(server, touched):
    setup = SETUP_ACCOUNTS + f"""
CREATE EXTENSION dblink;
CREATE EXTENSION tablefunc;
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE report_lines (line text) SERVER files OPTIONS (program 'touch {touched}; echo report');
"""
    database = ModuleDb(server, setup)
    yield database
    database.drop()


@pytest.fixture(autouse=True)
def _clean(touched):
    touched.unlink(missing_ok=True)
    yield
    touched.unlink(missing_ok=True)


def _dblink_attack(db) -> str:
    return f"SELECT dblink_exec('{db.conninfo}', 'DELETE FROM accounts')"


@pytest.mark.parametrize("mode", MODES)
def test_crosstab_does_not_run_the_sql_in_its_argument(db, victim, mode):
    attack = f"SELECT * FROM crosstab('SELECT 1::text, 1::text, pg_terminate_backend({victim.pid})::text') AS t(a text, b text)"

    def check(asked):
        settle(0.1)
        assert victim.alive(), f"crosstab's query terminated backend {victim.pid} ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", MODES)
def test_dblink_exec_does_not_delete_over_another_connection(db, mode):
    before = scalar(db.conninfo, ROWS)

    def check(asked):
        assert scalar(db.conninfo, ROWS) == before, f"dblink_exec deleted rows ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(_dblink_attack(db)), mode, check)


@pytest.mark.parametrize("mode", MODES)
def test_a_foreign_table_does_not_run_its_program(db, touched, mode):
    def check(asked):
        assert not touched.exists(), f"SELECT * FROM report_lines ran file_fdw's program ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for("SELECT * FROM report_lines"), mode, check, question="? show the report lines")


@pytest.mark.parametrize("mode", RUNNING_MODES)
def test_positive_control_an_innocent_read_runs(db, touched, mode):
    def check(asked):
        assert INNOCENT_ANSWER in asked.out.getvalue(), asked.shown
        assert not touched.exists()

    ask_once(db.conninfo, [INNOCENT, INNOCENT], mode, check)


def test_detectors_see_each_effect(db, victim, touched):
    """As the old voting path ran read candidates (READ ONLY, rolled back): each effect shows."""
    before = scalar(db.conninfo, ROWS)
    for sql in (
        f"SELECT * FROM crosstab('SELECT 1::text, 1::text, pg_terminate_backend({victim.pid})::text') AS t(a text, b text)",
        _dblink_attack(db),
        "SELECT * FROM report_lines",
    ):
        with psycopg.connect(db.conninfo, autocommit=True) as conn, old_voting_path(conn):
            conn.execute(sql).fetchall()
    settle(0.1)
    assert not victim.alive()
    assert scalar(db.conninfo, ROWS) != before
    assert touched.exists()
