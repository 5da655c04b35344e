"""A proof made inside a transaction the person opened (BEGIN, AUTOCOMMIT off, a driver's
default) sees what another session committed since: the owner swapping a table for a view
that calls their code between `?` and Enter (or the proxy's `?run`) makes the statement
unproven, as it does outside a transaction. The backend's catalog cache, which name lookups
read, is brought up to date only when a lock is taken, so the swapped name still led to the
dropped table, whose catalog rows were gone: nothing was judged, and the view's code ran."""

from __future__ import annotations

import psycopg
import pytest

from nl2sql_shell.nl2sql.proof import prove

SETUP = """
CREATE FUNCTION effect() RETURNS bool LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN true; END$$;
CREATE TABLE items (id int, name text);
INSERT INTO items VALUES (1, 'pen'), (2, 'ink');
CREATE TABLE items_base AS SELECT * FROM items;
CREATE DOMAIN tag AS text CHECK (VALUE <> '');
"""
SWAPS = {
    "dropped": ("SELECT count(*) FROM items", "DROP TABLE items; CREATE VIEW items AS SELECT * FROM items_base WHERE effect()"),
    "renamed": ("SELECT count(*) FROM items", "ALTER TABLE items RENAME TO items_old; CREATE VIEW items AS SELECT * FROM items_base WHERE effect()"),
    "domain": ("SELECT 'pen'::tag AS t", "DROP DOMAIN tag; CREATE DOMAIN tag AS text CHECK (effect())"),
}


@pytest.fixture
def owned(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SETUP)
    return fresh_db


def _locked(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("swap", SWAPS)
def test_a_swap_committed_while_the_persons_transaction_is_open_is_seen(owned, swap: str):
    sql, ddl = SWAPS[swap]
    with psycopg.connect(owned, autocommit=True) as person, psycopg.connect(owned, autocommit=True) as owner:
        person.execute("BEGIN")
        person.execute("SELECT 1")
        assert prove(person, sql).proven  # when the model proposed it
        owner.execute(ddl)
        proof = prove(person, sql)  # again, at Enter or ?run
        assert not proof.proven
        assert not _locked(person)
        person.execute("ROLLBACK")
        assert not prove(person, sql).proven  # and outside the transaction, as before


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_snapshot_transaction_proves_nothing(owned, level: str):
    """Its catalog reads see its first snapshot, older than the objects a statement runs."""
    with psycopg.connect(owned, autocommit=True) as person:
        person.execute(f"BEGIN ISOLATION LEVEL {level}")
        proof = prove(person, "SELECT count(*) FROM items")
        assert not proof.proven and f"inside this {level} transaction" in proof.reasons[0]
        person.execute("ROLLBACK")
        assert prove(person, "SELECT count(*) FROM items").proven


VICTIM = "victim_path"
# (statement, setup, the owner's change): a schema earlier on the person's search_path that
# another session creates, grants or renames while the transaction is open, holding an object
# of the same name that calls the owner's code.
PATH_CHANGES = {
    "created": (
        "SELECT count(*) FROM items",
        "",
        f"CREATE SCHEMA {VICTIM}; GRANT USAGE ON SCHEMA {VICTIM} TO {VICTIM};"
        f"CREATE VIEW {VICTIM}.items AS SELECT * FROM items_base WHERE effect(); GRANT SELECT ON {VICTIM}.items TO {VICTIM}",
    ),
    "granted": (
        "SELECT count(*) FROM items",
        f"CREATE SCHEMA {VICTIM}; CREATE VIEW {VICTIM}.items AS SELECT * FROM items_base WHERE effect(); GRANT SELECT ON {VICTIM}.items TO {VICTIM}",
        f"GRANT USAGE ON SCHEMA {VICTIM} TO {VICTIM}",
    ),
    "renamed": (
        "SELECT count(*) FROM items",
        f"CREATE SCHEMA staging; GRANT USAGE ON SCHEMA staging TO {VICTIM};"
        f"CREATE VIEW staging.items AS SELECT * FROM items_base WHERE effect(); GRANT SELECT ON staging.items TO {VICTIM}",
        f"ALTER SCHEMA staging RENAME TO {VICTIM}",
    ),
    "function": (
        "SELECT fmt(name) FROM items",
        "CREATE FUNCTION fmt(text) RETURNS text LANGUAGE sql AS $$ SELECT upper($1) $$",
        f"CREATE SCHEMA {VICTIM}; GRANT USAGE ON SCHEMA {VICTIM} TO {VICTIM};"
        f"CREATE FUNCTION {VICTIM}.fmt(text) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN $1; END$$",
    ),
}


LONG = "s" * 70  # PostgreSQL cuts a name to 63 bytes
# A path set as written (set_config keeps the text), its names as PostgreSQL reads them:
# ASCII letters only in lower case, cut to 63 bytes.
WRITTEN_PATHS = {
    "non-ASCII capital": ("Ämter, public", '"Ämter"'),
    "long name": (f"{LONG}, public", LONG[:63]),
}


@pytest.mark.parametrize("change", [*PATH_CHANGES, *WRITTEN_PATHS])
def test_a_schema_that_appears_earlier_on_the_path_while_the_transaction_is_open_is_seen(owned, change: str):
    if change in WRITTEN_PATHS:
        path, schema = WRITTEN_PATHS[change]
        sql, setup = "SELECT count(*) FROM items", ""
        ddl = (
            f"CREATE SCHEMA {schema}; GRANT USAGE ON SCHEMA {schema} TO {VICTIM};"
            f"CREATE VIEW {schema}.items AS SELECT * FROM items_base WHERE effect(); GRANT SELECT ON {schema}.items TO {VICTIM}"
        )
    else:
        path = None
        sql, setup, ddl = PATH_CHANGES[change]
    with psycopg.connect(owned, autocommit=True) as owner:
        owner.execute(f"DROP ROLE IF EXISTS {VICTIM}")
        owner.execute(f"CREATE ROLE {VICTIM}; GRANT SELECT ON items, items_base TO {VICTIM}")
        if setup:
            owner.execute(setup)
    try:
        with psycopg.connect(owned, autocommit=True) as person, psycopg.connect(owned, autocommit=True) as owner:
            person.execute(f"SET ROLE {VICTIM}")
            if path is not None:
                person.execute("SELECT set_config('search_path', %s, false)", (path,))
            person.execute("BEGIN")
            person.execute("SELECT 1")
            assert prove(person, sql).proven  # when the model proposed it
            owner.execute(ddl)
            proof = prove(person, sql)  # again, at Enter or ?run
            assert not proof.proven and "on the search_path has changed" in proof.reasons[0]
            person.execute(sql).fetchall()  # what it would have run
            assert _locked(person)
            person.execute("ROLLBACK")
    finally:
        with psycopg.connect(owned, autocommit=True) as owner:
            owner.execute(f"DROP OWNED BY {VICTIM}; DROP ROLE {VICTIM}")
