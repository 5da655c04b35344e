"""bench/unfamiliar: the held-out suite loads with the project's loader and every gold answers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.eval.scoring import connect, gold_queries, run_query
from nl2sql_shell.eval.suite import column_descriptions, load_database, load_suite

SUITE = Path(__file__).resolve().parents[2] / "bench" / "unfamiliar"
PREFIX = "unfamiliar_"  # server-side database names, apart from other tests' databases
TUNING, VALIDATION = slice(0, None, 2), slice(1, None, 2)  # --every 2 --offset 0 / 1


@pytest.fixture(scope="module")
def suite():
    return load_suite(SUITE)


@pytest.fixture(scope="module")
def loaded(pg_server, suite):
    """{db name: conninfo} with every dump freshly loaded (and its json turned into comments)."""
    admin = pg_server.conninfo("postgres")
    conninfos = {db.name: load_database(admin, PREFIX + db.name, db.dump, pg_server.conninfo) for db in suite.databases}
    yield conninfos
    with psycopg.connect(admin, autocommit=True) as conn:
        for db in suite.databases:
            conn.execute(f'DROP DATABASE IF EXISTS "{PREFIX + db.name}" WITH (FORCE)')


def test_counts_and_the_layout_of_the_dev_suite(suite) -> None:
    assert [d.name for d in suite.databases] == ["clinic", "game", "saas", "warehouse"]
    assert all(d.descriptions is not None for d in suite.databases)
    per_db = Counter(q.db_name for q in suite.questions)
    assert len(suite.questions) >= 64 and min(per_db.values()) >= 16
    assert len(suite.idk) >= 24 and set(Counter(q.db_name for q in suite.idk)) == set(per_db)
    assert sum(bool(q.instructions) for q in suite.questions) >= 8
    assert {q.category for q in suite.questions} == {"group_by", "order_by", "ratio", "table_join", "instruct", "date_functions"}
    for q in suite.idk:  # refusal golds, named in their instructions as in dev's idk.csv
        assert q.gold.startswith("SELECT '") and q.gold.endswith("AS answer;") and q.gold in q.instructions
    header = (SUITE / "questions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "question,query,db_name,query_category,instructions"
    assert (SUITE / "idk.csv").read_text(encoding="utf-8").splitlines()[0] == "question,instructions,query,db_name,query_category"


def test_both_halves_cover_every_database_and_category_fairly(suite) -> None:
    for rows, key in ((suite.questions, lambda q: q.db_name), (suite.questions, lambda q: q.category),
                      (suite.idk, lambda q: q.db_name), (suite.idk, lambda q: q.category)):
        tuning, validation = Counter(map(key, rows[TUNING])), Counter(map(key, rows[VALIDATION]))
        assert set(tuning) == set(validation) == set(map(key, rows))
        assert all(abs(tuning[k] - validation[k]) <= 1 for k in tuning)
    pairs = Counter((q.db_name, q.category) for q in suite.questions)
    for half in (suite.questions[TUNING], suite.questions[VALIDATION]):
        assert {(q.db_name, q.category) for q in half} == {pair for pair, n in pairs.items() if n >= 2}


def test_every_gold_query_runs_and_returns_rows(suite, loaded) -> None:
    conns = {name: connect(conninfo) for name, conninfo in loaded.items()}
    try:
        failures = []
        for q in (*suite.questions, *suite.idk):
            for query in gold_queries(q.gold):
                try:
                    result = run_query(conns[q.db_name], query)
                except psycopg.Error as e:
                    failures.append(f"{q.db_name} #{q.index}: {e}")
                    continue
                if not result.rows:
                    failures.append(f"{q.db_name} #{q.index}: no rows: {query}")
        assert failures == []
    finally:
        for conn in conns.values():
            conn.close()


def _one(conninfo: str, query: str):
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query).fetchall()


USER_TABLES = (
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
)


def test_the_schema_shapes_it_promises(loaded) -> None:
    tables = {db: _one(conninfo, USER_TABLES) for db, conninfo in loaded.items()}
    # quoted mixed-case identifiers (clinic)
    assert ("public", "PatientVisit", "r") in tables["clinic"]
    assert _one(loaded["clinic"], "SELECT count(*) FROM information_schema.columns WHERE column_name <> lower(column_name)")[0][0] > 50
    # every table and column prefixed, folded to lower case (warehouse)
    names = _one(loaded["warehouse"], "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
    assert len(names) > 30 and all(t.startswith("wh") and c.startswith("wh") and t == t.lower() and c == c.lower() for t, c in names)
    # two schemas off the search_path and nothing in public (saas)
    assert {schema for schema, _, _ in tables["saas"]} == {"billing", "crm"}
    off_path = _one(loaded["saas"], "SELECT 'billing' = ANY(current_schemas(false)) OR 'crm' = ANY(current_schemas(false))")
    assert off_path == [(False,)]
    # enums, views, a 60+ column table, two role-named foreign keys to the same table
    enums = {db: _one(conninfo, "SELECT count(*) FROM pg_type WHERE typtype = 'e'")[0][0] for db, conninfo in loaded.items()}
    assert all(n >= 1 for n in enums.values())
    assert all(any(kind == "v" for _, _, kind in rows) for db, rows in tables.items() if db != "warehouse")
    widest = _one(loaded["clinic"], "SELECT max(n) FROM (SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name) t")
    assert widest[0][0] >= 60
    role_fks = (
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint WHERE contype = 'f'"
        " GROUP BY 1, 2 HAVING count(*) >= 2"
    )
    assert ("gifts", "players") in _one(loaded["game"], role_fks)
    assert ('"Referral"', '"Clinician"') in _one(loaded["clinic"], role_fks)
    # epoch seconds in bigint columns, recent and not in milliseconds
    for db, table, column in (("game", "matches", "started_at"), ("warehouse", "whreading", "whreadingts")):
        kind, low, high = _one(loaded[db], f"SELECT pg_typeof({column})::text, min({column}), max({column}) FROM {table} GROUP BY 1")[0]
        assert kind == "bigint" and 1_000_000_000 < low <= high < 10_000_000_000


def test_descriptions_name_existing_columns_and_become_comments(suite, loaded) -> None:
    for db in suite.databases:
        columns = set(_one(loaded[db.name], "SELECT CASE WHEN table_schema = 'public' THEN table_name"
                                           " ELSE table_schema || '.' || table_name END, column_name FROM information_schema.columns"))
        described = {(table, column) for table, cols in column_descriptions(db.descriptions).items() for column in cols}
        assert described and described <= columns, db.name
    comment = _one(loaded["clinic"], "SELECT col_description(attrelid, attnum) FROM pg_attribute"
                                      " WHERE attrelid = '\"LabPanel\"'::regclass AND attname = 'glucoseMgDl'")
    assert comment == [("Fasting or random blood glucose, mg/dL",)]
