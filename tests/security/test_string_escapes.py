"""With `standard_conforming_strings = off` a backslash escapes a quote: the server ends
`'a\\' , '` one quote later than a tokenizer that reads strings the standard way, so what that
tokenizer takes for a string literal runs as SQL. The product sends model SQL under
`SET LOCAL standard_conforming_strings = on`, so the server reads it as the proof did."""

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
    old_voting_path,
    replies_for,
    settle,
)

ATTACKS = {
    # The call looks like code to a standard tokenizer (and like a string to the server):
    "call_after_escaped_quote": r"SELECT 'a\' , pg_terminate_backend({pid}) --'",
    # The call looks like a string to a standard tokenizer, and runs on the server, which
    # reads the rest of its line as a comment; it stays valid SQL when the checks reprint it
    # one select item a line, and its FROM keeps it from looking like a refusal:
    "call_hidden_in_a_string": r"SELECT 'a\' AS x, ' , pg_terminate_backend({pid}) AS t -- ' AS note FROM accounts",
}


@pytest.fixture(scope="module")
def db(pg_server):
    database = ModuleDb(pg_server, SETUP_ACCOUNTS, settings={"standard_conforming_strings": "off", "escape_string_warning": "off"})
    yield database
    database.drop()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", ATTACKS)
def test_a_backslash_does_not_move_sql_out_of_a_string(db, victim, shape, mode):
    attack = ATTACKS[shape].format(pid=victim.pid)

    def check(asked):
        settle(0.1)
        assert victim.alive(), f"{attack!r} terminated backend {victim.pid} ({mode})\n{asked.shown}"

    ask_once(db.conninfo, replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", RUNNING_MODES)
def test_positive_control_an_innocent_read_runs(db, mode):
    def check(asked):
        assert INNOCENT_ANSWER in asked.out.getvalue(), asked.shown

    ask_once(db.conninfo, [INNOCENT, INNOCENT], mode, check)


def test_detector_sees_the_hidden_call(db, victim):
    """The database really reads strings the old way, and the hidden call really ends a backend."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)
        with old_voting_path(conn):
            conn.execute(ATTACKS["call_hidden_in_a_string"].format(pid=victim.pid)).fetchall()
    settle(0.1)
    assert not victim.alive()
