"""Ordinary writes and READ ONLY escapes in model SQL: none may take effect before a typed
`yes` (and several statements never run as such, even after `yes`)."""

from __future__ import annotations

import psycopg
import pytest

from .conftest import ModuleDb
from .harness import (
    INNOCENT,
    INNOCENT_ANSWER,
    MODES,
    RUNNING_MODES,
    SETUP_ACCOUNTS,
    ask_once,
    replies_for,
    scalar,
)

SETUP = SETUP_ACCOUNTS + """
CREATE TABLE audit (id int PRIMARY KEY, note text);
INSERT INTO audit VALUES (1, 'kept');
CREATE SEQUENCE account_numbers;
CREATE PROCEDURE close_accounts() LANGUAGE sql AS 'DELETE FROM accounts';
"""

ATTACKS = {
    # READ ONLY escapes: end the read-only transaction, then write outside it.
    "end_then_drop": "END; DROP TABLE audit",
    "rollback_then_delete": "ROLLBACK; DELETE FROM accounts",
    "commit_then_delete": "COMMIT; DELETE FROM accounts",
    "select_then_delete": "SELECT 1; DELETE FROM accounts",
    # Ordinary writes.
    "delete": "DELETE FROM accounts",
    "update": "UPDATE accounts SET balance = 0",
    "insert": "INSERT INTO accounts VALUES (9, 'mallory', 1000000)",
    "drop_table": "DROP TABLE audit",
    "select_into": "SELECT * INTO stolen FROM accounts",
    "writable_cte": "WITH gone AS (DELETE FROM accounts RETURNING *) SELECT count(*) FROM gone",
    "copy_from_program": "COPY accounts FROM PROGRAM 'echo 9,mallory,1' WITH (FORMAT csv)",
    "do_block": "DO $$ BEGIN DELETE FROM accounts; END $$",
    "call_procedure": "CALL close_accounts()",
    "nextval": "SELECT nextval('account_numbers')",
    "set_config": "SELECT set_config('search_path', 'nowhere', false)",
}


def _state(conninfo: str) -> tuple:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return (
            conn.execute("SELECT string_agg(a::text, ',' ORDER BY id) FROM accounts a").fetchone()[0],
            conn.execute("SELECT string_agg(a::text, ',') FROM audit a").fetchone()[0],
            conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'").fetchone()[0],
            conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'stolen'").fetchone()[0],
            conn.execute("SELECT last_value, is_called FROM account_numbers").fetchone(),
        )


@pytest.fixture(scope="module")
def db(pg_server):
    database = ModuleDb(pg_server, SETUP)
    yield database
    database.drop()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", ATTACKS)
def test_no_write_takes_effect_without_yes(db, shape, mode):
    attack = ATTACKS[shape]
    before = _state(db.conninfo)

    def check(asked):
        try:
            after = _state(db.conninfo)
        except psycopg.Error as exc:  # a table is gone
            after = str(exc)
        assert after == before, f"{attack!r} took effect ({mode})\n{asked.shown}"
        search_path = asked.shell.conn.execute("SHOW search_path").fetchone()[0]
        assert search_path == '"$user", public', f"{attack!r} changed the session's search_path ({mode})"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", MODES)
def test_select_for_update_holds_no_row_lock(db, mode):
    attack = "SELECT * FROM accounts WHERE id = 1 FOR UPDATE"

    def check(asked):
        with psycopg.connect(db.conninfo, autocommit=True) as other:
            try:
                with other.transaction(force_rollback=True):
                    other.execute("SELECT * FROM accounts WHERE id = 1 FOR UPDATE NOWAIT")
            except psycopg.errors.LockNotAvailable:
                pytest.fail(f"{attack!r} left row 1 locked ({mode})\n{asked.shown}")
        assert asked.shell.transaction_marker() == "", "the shell was left inside a transaction"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("reply", ["yes", ""])
@pytest.mark.parametrize("attack", ["SELECT 1; DELETE FROM accounts", "SELECT count(*) FROM accounts; DELETE FROM accounts"])
def test_several_statements_never_run_as_such_even_after_yes(db, attack, reply):
    """Model SQL goes to the server as exactly one statement: after `yes` it fails as a whole
    (or the shell refuses it); the DELETE never runs."""
    before = _state(db.conninfo)

    def check(asked):
        assert _state(db.conninfo) == before, f"{attack!r} confirmed with {reply!r} ran its DELETE\n{asked.shown}"

    ask_once(db.conninfo, [attack, attack], "answer_enter", check, answers=[reply, "n"])


@pytest.mark.parametrize("mode", RUNNING_MODES)
def test_positive_control_an_innocent_read_runs(db, mode):
    def check(asked):
        assert INNOCENT_ANSWER in asked.out.getvalue(), asked.shown

    ask_once(db.conninfo, [INNOCENT, INNOCENT], mode, check)


def test_positive_control_a_write_runs_after_a_typed_yes(db):
    """And a single write does run once the person types the whole word."""
    ask_once(db.conninfo, ["DELETE FROM accounts WHERE id = 3"] * 2, "answer_enter", lambda asked: None, answers=["yes"])
    assert scalar(db.conninfo, "SELECT count(*) FROM accounts") == 2
