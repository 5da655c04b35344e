"""Functions whose effect a READ ONLY transaction does not stop, called by model SQL, and SQL
hidden in a string argument (ts_rewrite runs its second argument as a query).

Measured on an older build: each of these was classified "read" or ran during voting, also
when the person then answered `n`, and in `-c '? ...'` without --yes.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from .conftest import ModuleDb
from .harness import (
    INNOCENT,
    INNOCENT_ANSWER,
    MODES,
    RUNNING_MODES,
    SETUP_ACCOUNTS,
    advisory_locks,
    ask_once,
    asking,
    conf_load_time,
    old_voting_path,
    replies_for,
    scalar,
    settle,
)

LOCK_KEY = 42
LARGE_OBJECT = 424242
SETUP = SETUP_ACCOUNTS + f"SELECT lo_from_bytea({LARGE_OBJECT}, 'secret');"


@pytest.fixture(scope="module")
def db(pg_server):
    database = ModuleDb(pg_server, SETUP)
    yield database
    database.drop()


TERMINATE = {
    "direct": "SELECT pg_terminate_backend({pid})",
    "in_from_schema_qualified": "SELECT * FROM pg_catalog.pg_terminate_backend({pid})",
    "ts_rewrite_string": "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery FROM pg_terminate_backend({pid})')",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", TERMINATE)
def test_another_backend_is_not_terminated(db, victim, shape, mode):
    attack = TERMINATE[shape].format(pid=victim.pid)

    def check(asked):
        settle(0.1)
        assert victim.alive(), f"backend {victim.pid} was terminated by {attack!r} ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("function", ["pg_advisory_lock", "pg_try_advisory_lock_shared"])
def test_no_advisory_lock_is_taken(db, function, mode):
    attack = f"SELECT {function}({LOCK_KEY})"

    def check(asked):
        assert advisory_locks(db.conninfo, LOCK_KEY) == 0, f"{attack!r} left advisory lock {LOCK_KEY} held ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", MODES)
def test_configuration_is_not_reloaded(db, mode):
    before = conf_load_time(db.conninfo)
    time.sleep(0.01)

    def check(asked):
        settle(0.3)  # the postmaster reloads asynchronously
        assert conf_load_time(db.conninfo) == before, f"pg_reload_conf() ran ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for("SELECT pg_reload_conf()"), mode, check)


@pytest.mark.parametrize("mode", MODES)
def test_no_large_object_is_exported_to_a_file(db, effect_file, mode):
    attack = f"SELECT lo_export({LARGE_OBJECT}, '{effect_file}')"

    def check(asked):
        assert not effect_file.exists(), f"lo_export wrote {effect_file} ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(attack), mode, check)


def _wal_records(conninfo: str, session: psycopg.Connection) -> int:
    """WAL records written by `session`'s backend so far (its pending statistics flushed first)."""
    session.execute("SELECT pg_stat_force_next_flush()")
    return scalar(conninfo, "SELECT wal_records FROM pg_stat_get_backend_wal(%s)", (session.info.backend_pid,))


def _has_backend_wal(conninfo: str) -> bool:
    return bool(scalar(conninfo, "SELECT count(*) FROM pg_proc WHERE proname = 'pg_stat_get_backend_wal'"))


def _warm_up(db) -> None:
    """The first question on a freshly cloned database writes a few WAL records (hint bits of
    pages read for the first time); one innocent question first, so only an effect counts."""
    ask_once(db.conninfo, [INNOCENT, INNOCENT], "answer_n", lambda asked: None)


def _standby_snapshots_since(conninfo: str, lsn: str) -> int:
    """RUNNING_XACTS records (what pg_log_standby_snapshot writes) in the cluster's WAL since
    `lsn`, read through pg_walinspect in the maintenance database, so the database under test
    keeps its schema."""
    maintenance = psycopg.conninfo.make_conninfo(conninfo, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        end = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        if not conn.execute("SELECT %s::pg_lsn < %s::pg_lsn", (lsn, end)).fetchone()[0]:
            return 0
        # pg_walinspect reads flushed WAL. The walwriter may leave a last partial page of
        # records no commit waits for (it did for over 5 s in a loaded CI run): a commit of our
        # own, synchronous, flushes past `end`.
        conn.execute("SET synchronous_commit = on")
        conn.execute("SELECT pg_current_xact_id()")
        deadline = time.monotonic() + 5
        while conn.execute("SELECT pg_current_wal_flush_lsn() < %s::pg_lsn", (end,)).fetchone()[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"WAL up to {end} was not flushed in 5 seconds")
            time.sleep(0.05)
        return conn.execute(
            "SELECT count(*) FROM pg_get_wal_records_info(%s, %s)"
            " WHERE resource_manager = 'Standby' AND record_type = 'RUNNING_XACTS'",
            (lsn, end),
        ).fetchone()[0]


@pytest.mark.parametrize("mode", MODES)
def test_no_standby_snapshot_is_written_to_the_wal(db, mode):
    """pg_log_standby_snapshot() writes a WAL record: the shell's backend writes no standby
    snapshot while the question is answered. Both must hold to fail: its own WAL count rose
    (a read may also prune a page, once in a fresh-clone run) and a RUNNING_XACTS record
    appeared (the background writer also logs one every 15 seconds). Both by chance happened
    once in a loaded run: the question is asked again then, and both must hold twice."""
    if not _has_backend_wal(db.conninfo):
        pytest.skip("per-backend WAL statistics need PostgreSQL 18")
    _warm_up(db)
    shown = []
    for _ in range(2):
        with asking(db.conninfo, replies_for("SELECT pg_log_standby_snapshot()"), mode) as asked:
            before = _wal_records(db.conninfo, asked.shell.conn)
            lsn = scalar(db.conninfo, "SELECT pg_current_wal_insert_lsn()::text")
            asked.ask()
            wrote = _wal_records(db.conninfo, asked.shell.conn) - before
            if not (wrote and _standby_snapshots_since(db.conninfo, lsn)):
                return
            shown.append(asked.shown)
    raise AssertionError(f"the shell's backend wrote a standby snapshot ({mode})\n{shown[-1]}")


@pytest.mark.parametrize("mode", RUNNING_MODES)
def test_positive_control_an_innocent_read_runs(db, victim, mode):
    """The suite would notice if everything were simply refused: a plain count runs."""
    before = conf_load_time(db.conninfo)

    _warm_up(db)
    with asking(db.conninfo, [INNOCENT, INNOCENT, "SELECT count(id) AS n FROM accounts"], mode) as asked:
        asked.ask()
        assert INNOCENT_ANSWER in asked.out.getvalue(), asked.shown
        assert victim.alive() and advisory_locks(db.conninfo, LOCK_KEY) == 0
        assert conf_load_time(db.conninfo) == before


# -- the checks above see the effect when it happens (as it did in the old voting path) ---------


def _in_old_voting_path(conninfo: str, sql: str) -> psycopg.Connection:
    """Run `sql` as the old pipeline ran read candidates: READ ONLY, rolled back. The
    connection stays open (a session lock lives as long as it)."""
    conn = psycopg.connect(conninfo, autocommit=True)
    with old_voting_path(conn):
        conn.execute(sql).fetchall()
    return conn


def test_detectors_see_each_effect(db, victim, effect_file):
    before = conf_load_time(db.conninfo)
    conns = [_in_old_voting_path(db.conninfo, TERMINATE["ts_rewrite_string"].format(pid=victim.pid))]
    settle(0.1)
    assert not victim.alive()
    conns.append(_in_old_voting_path(db.conninfo, f"SELECT pg_advisory_lock({LOCK_KEY})"))
    assert advisory_locks(db.conninfo, LOCK_KEY) == 1
    conns.append(_in_old_voting_path(db.conninfo, f"SELECT lo_export({LARGE_OBJECT}, '{effect_file}')"))
    assert effect_file.exists()
    conns.append(_in_old_voting_path(db.conninfo, "SELECT pg_reload_conf()"))
    settle(0.3)
    assert conf_load_time(db.conninfo) != before
    if _has_backend_wal(db.conninfo):
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            before = _wal_records(db.conninfo, conn)
            lsn = scalar(db.conninfo, "SELECT pg_current_wal_insert_lsn()::text")
            with old_voting_path(conn):
                conn.execute("SELECT pg_log_standby_snapshot()")
            assert _wal_records(db.conninfo, conn) > before and _standby_snapshots_since(db.conninfo, lsn)
    for conn in conns:
        conn.close()
