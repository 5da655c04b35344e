"""Objects already in the database that run code with effects when model SQL merely reads:
user functions (whatever volatility they claim), views over them, row-level-security
policies, user-defined operators, SQL-language wrappers. Each one here would run
`COPY (SELECT 1) TO PROGRAM 'touch FILE'` as the server's user; the file must not appear.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

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
)

ANALYST = "security_suite_analyst"


def _setup(touched: str) -> str:
    return SETUP_ACCOUNTS + f"""
CREATE FUNCTION touch_it() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  COPY (SELECT 1) TO PROGRAM 'touch {touched}; cat > /dev/null';
  RETURN 1;
END $$;
CREATE FUNCTION account_total() RETURNS int LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  COPY (SELECT 1) TO PROGRAM 'touch {touched}; cat > /dev/null';
  RETURN 3;
END $$;
-- Non-volatile PL/pgSQL may not run COPY itself, but may call a volatile function that does.
CREATE FUNCTION account_rate() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN touch_it(); END $$;
CREATE FUNCTION account_rank(a int) RETURNS int LANGUAGE plpgsql STABLE AS $$ BEGIN PERFORM touch_it(); RETURN a; END $$;
CREATE FUNCTION account_label() RETURNS int LANGUAGE sql STABLE AS 'SELECT account_total()';
CREATE FUNCTION touching_eq(a int, b int) RETURNS bool LANGUAGE plpgsql AS $$ BEGIN PERFORM touch_it(); RETURN a = b; END $$;
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = touching_eq);
CREATE VIEW account_report AS SELECT id, owner, account_total() AS total FROM accounts;
CREATE TABLE ledger (id int PRIMARY KEY, account_id int, amount numeric);
INSERT INTO ledger VALUES (1, 1, 10), (2, 2, 20);
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY ledger_visible ON ledger USING (account_total() > 0);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ANALYST}') THEN CREATE ROLE {ANALYST} NOLOGIN; END IF;
END $$;
GRANT SELECT ON accounts, ledger, account_report TO {ANALYST};
"""


ATTACKS = {
    "plpgsql_volatile": "SELECT touch_it() AS n",
    "plpgsql_security_definer": "SELECT account_total() AS n",
    "plpgsql_marked_immutable": "SELECT account_rate() AS n",
    "plpgsql_marked_stable": "SELECT account_rank(id) FROM accounts",
    "sql_function_wrapper": "SELECT account_label() AS n",
    "user_operator": "SELECT count(*) FROM accounts WHERE id OPERATOR(public.===) 1",
    "view_over_function": "SELECT * FROM account_report",
    "rls_policy_function": "SELECT count(*) FROM ledger",
}


@pytest.fixture(scope="module")
def touched(effects_dir):
    return effects_dir / "existing-objects-touched"


@pytest.fixture(scope="module")
def db(pg_server, touched):
    database = ModuleDb(pg_server, _setup(str(touched)))
    yield database
    database.drop()


@pytest.fixture(autouse=True)
def _clean(touched):
    touched.unlink(missing_ok=True)
    yield
    touched.unlink(missing_ok=True)


def _conninfo(db, shape: str) -> str:
    """Superusers bypass row-level security: the policy case asks as a plain role."""
    if shape == "rls_policy_function":
        return make_conninfo(db.conninfo, options=f"-c role={ANALYST}")
    return db.conninfo


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", ATTACKS)
def test_no_code_in_existing_objects_runs(db, touched, shape, mode):
    attack = ATTACKS[shape]

    def check(asked):
        assert not touched.exists(), f"{attack!r} ran a program through {shape} ({mode})\n{asked.shown}"

    ask_once(_conninfo(db, shape), replies_for(attack), mode, check)


@pytest.mark.parametrize("mode", RUNNING_MODES)
def test_positive_control_an_innocent_read_runs(db, touched, mode):
    def check(asked):
        assert INNOCENT_ANSWER in asked.out.getvalue(), asked.shown
        assert not touched.exists()

    ask_once(db.conninfo, [INNOCENT, INNOCENT], mode, check)


@pytest.mark.parametrize("shape", ATTACKS)
def test_detector_sees_the_program_run(db, touched, shape):
    """As the old voting path ran a read candidate (READ ONLY, rolled back): the file appears."""
    with psycopg.connect(_conninfo(db, shape), autocommit=True) as conn, old_voting_path(conn):
        conn.execute(ATTACKS[shape]).fetchall()
    assert touched.exists()
