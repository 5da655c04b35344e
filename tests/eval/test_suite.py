"""The defog-dev suite as read from disk, and fresh loads of its databases."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.eval.suite import column_descriptions, load_database, load_suite, select

SUITE = Path(__file__).resolve().parents[3] / "shared" / "bench" / "defog-dev"
COMMENT_SQL = (
    "SELECT col_description(c.oid, a.attnum) FROM pg_class c"
    " JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.relname = %s AND a.attname = %s"
)


def test_the_suite_holds_its_questions_idk_questions_and_databases() -> None:
    suite = load_suite(SUITE)
    assert len(suite.questions) == 190 and len(suite.idk) == 105
    assert [d.name for d in suite.databases] == ["academic", "advising", "atis", "geography", "restaurants", "scholar", "yelp"]
    assert Counter(q.category for q in suite.questions)["order_by"] == 35
    first = suite.questions[0]
    assert (first.index, first.db_name, first.category) == (0, "academic", "group_by")
    assert first.gold.startswith("SELECT {author.name,author.aid} FROM author")
    assert any(q.instructions for q in suite.questions)
    refusal = suite.idk[0]
    assert refusal.gold.startswith("SELECT 'Alas") and refusal.gold in refusal.instructions
    assert suite.database("yelp").dump.name == "yelp.sql" and suite.database("yelp").descriptions.name == "yelp.json"


def test_selecting_by_database_category_and_limit() -> None:
    suite = load_suite(SUITE)
    picked = suite.select(db=["yelp", "atis"], category="order_by", limit=3)
    assert len(picked.questions) == 3 and {q.category for q in picked.questions} == {"order_by"}
    assert [q.index for q in picked.questions] == sorted(q.index for q in picked.questions)
    assert picked.idk == ()  # no idk question has the order_by category
    assert {d.name for d in picked.databases} == {q.db_name for q in picked.questions}
    assert len(select(suite.idk, db="scholar")) == 15


def test_a_suite_without_idk_loads_and_a_missing_dump_is_reported(tmp_path: Path) -> None:
    (tmp_path / "dbs").mkdir()
    (tmp_path / "dbs" / "shop.sql").write_text("CREATE TABLE item (id int);")
    with (tmp_path / "questions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "query", "db_name", "query_category", "instructions"])
        writer.writerow(["How many items?", "SELECT COUNT(*) FROM item", "shop", "ratio", ""])
    suite = load_suite(tmp_path)
    assert suite.idk == () and suite.database("shop").descriptions is None
    with (tmp_path / "questions.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["Who?", "SELECT 1", "crm", "ratio", ""])
    with pytest.raises(ValueError, match="crm"):
        load_suite(tmp_path)


def test_column_descriptions_by_table_and_column() -> None:
    descriptions = column_descriptions(SUITE / "dbs" / "academic.json")
    assert descriptions["cite"]["cited"] == "ID of the publication being cited"
    assert sum(len(columns) for columns in descriptions.values()) == 42


def test_load_database_starts_fresh_and_carries_comments(pg_server) -> None:
    admin, dump = pg_server.conninfo("postgres"), SUITE / "dbs" / "academic.sql"
    conninfo = load_database(admin, "eval_suite_academic", dump, pg_server.conninfo)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            assert conn.execute(COMMENT_SQL, ("cite", "cited")).fetchone() == ("ID of the publication being cited",)
            before = conn.execute("SELECT count(*) FROM author").fetchone()
            conn.execute("DELETE FROM author")
            # reloading while this session is still open: the old database is dropped regardless
            load_database(admin, "eval_suite_academic", dump, pg_server.conninfo, comments=False)
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT count(*) FROM author").fetchone() == before != (0,)
            assert conn.execute(COMMENT_SQL, ("cite", "cited")).fetchone() == (None,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "eval_suite_academic" WITH (FORCE)')


def test_descriptions_reach_tables_outside_the_search_path(pg_server) -> None:
    """The unfamiliar suite keys its saas tables as billing.invoices: they are commented too."""
    admin = pg_server.conninfo("postgres")
    dump = Path(__file__).resolve().parents[2] / "bench" / "unfamiliar" / "dbs" / "saas.sql"
    conninfo = load_database(admin, "eval_suite_saas", dump, pg_server.conninfo)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            assert conn.execute(COMMENT_SQL, ("invoices", "invoice_id")).fetchone() == ("Unique id of the invoice",)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "eval_suite_saas" WITH (FORCE)')
