"""The name repairs on schemas unlike the benchmark's: prefixed folded camelCase, quoted
camelCase, a schema off the search_path. Each query fails as written and, repaired, returns
what it meant; a name no schema word fits stays an error."""

from __future__ import annotations

import psycopg
import pytest

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.rules import apply_rules
from nl2sql_shell.schema.introspect import read_schema

SHOP = """
CREATE TABLE whCustomer (whCustId int PRIMARY KEY, whCustName text, whCustRegion text);
CREATE TABLE whOrder (whOrdId int PRIMARY KEY, whOrdCustId int REFERENCES whCustomer, whOrdTotal numeric);
CREATE TABLE whOrderLine (whOlOrdId int REFERENCES whOrder, whOlQty int);
CREATE TABLE "PatientVisit" ("visitId" int PRIMARY KEY, "patientName" text);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int PRIMARY KEY, amount numeric);
INSERT INTO whCustomer VALUES (1, 'Ann', 'north'), (2, 'Bob', 'south');
INSERT INTO whOrder VALUES (10, 1, 5), (11, 1, 7), (12, 2, 1);
INSERT INTO "PatientVisit" VALUES (1, 'Cy'), (2, 'Di');
INSERT INTO billing.invoices VALUES (1, 10), (2, 32);
"""

CASES = [
    (
        "SELECT c.customer_name, SUM(o.order_total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.customer_name",
        [("Ann", 12), ("Bob", 1)],
    ),
    ("SELECT SUM(amount) FROM invoices", [(42,)]),
    ("SELECT patientname FROM patient_visits WHERE visitid = 2", [("Di",)]),
    ("SELECT orders.order_total FROM orders WHERE orders.order_id = 12", [(1,)]),
]


@pytest.fixture
def shop(fresh_db: str):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SHOP)
        yield conn, read_schema(conn)


@pytest.mark.parametrize(("sql", "rows"), CASES)
def test_a_failing_name_becomes_the_schema_name_with_its_words(shop, sql: str, rows: list[tuple]) -> None:
    conn, schema = shop
    with pytest.raises(psycopg.errors.Error):
        conn.execute(sql)
    assert not check_sql(sql, schema).ok
    repaired = apply_rules(sql, schema, failing=True)
    assert repaired.changes and {c.rule for c in repaired.changes} <= {"known_table", "known_column", "missing_join_key"}  # (the declared key)
    assert check_sql(repaired.sql, schema).ok, repaired.sql
    assert sorted(conn.execute(repaired.sql).fetchall()) == rows


def test_names_no_schema_word_fits_stay_errors(shop) -> None:
    conn, schema = shop
    for sql in (
        "SELECT shipping_weight FROM orders",  # no column holds "shipping weight"
        "SELECT * FROM suppliers",  # no table of suppliers
        "SELECT l.id FROM customers c JOIN orderline l ON TRUE",  # order lines have no key of their own
    ):
        repaired = apply_rules(sql, schema, failing=True)
        assert not check_sql(repaired.sql, schema).ok, repaired.sql


def test_a_name_that_says_mostly_other_things_is_no_repair(fresh_db: str) -> None:
    """Supabase's auth.users has no username; raw_user_meta_data holds the word "user" and
    three others, so reading `username` as it would invent a meaning: the error stays."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, email text, raw_user_meta_data jsonb, last_sign_in_at timestamptz)")
        schema = read_schema(conn)
    repaired = apply_rules("SELECT username FROM users", schema, failing=True)
    assert repaired.changes == [] and not check_sql(repaired.sql, schema).ok
    assert "raw_user_meta_data" in apply_rules("SELECT user_meta_data FROM users", schema, failing=True).sql
    assert "last_sign_in_at" in apply_rules("SELECT last_signin FROM users", schema, failing=True).sql


def test_queries_that_run_are_not_touched(shop) -> None:
    conn, schema = shop
    sql = "SELECT whcustname FROM whcustomer ORDER BY whcustid"
    assert conn.execute(sql).fetchall() == [("Ann",), ("Bob",)]
    assert apply_rules(sql, schema, failing=False).changes == []


CLINIC = """
CREATE TABLE "Patient" ("patientId" int PRIMARY KEY, "fullName" text);
CREATE TABLE "PatientVisit" ("visitId" int PRIMARY KEY, "patientId" int REFERENCES "Patient");
CREATE TABLE "VisitSummary" ("summaryId" int PRIMARY KEY, "visitId" int REFERENCES "PatientVisit", "visitType" text);
INSERT INTO "Patient" VALUES (1, 'Cy'), (2, 'Di');
INSERT INTO "PatientVisit" VALUES (10, 1), (11, 2), (12, 2);
INSERT INTO "VisitSummary" VALUES (100, 10, 'urgent'), (101, 11, 'routine'), (102, 12, 'urgent');
"""


def test_tables_and_keys_a_repair_adds_are_written_as_the_schema_spells_them(fresh_db: str) -> None:
    """A join the repair inserts names "PatientVisit" and "visitId" quoted: bare, PostgreSQL
    would fold them to names that do not exist and the repaired query would fail again."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(CLINIC)
        schema = read_schema(conn)
        sql = 'SELECT p."fullName", count(*) FROM "Patient" p JOIN "VisitSummary" vs ON p."patientId" = vs."patientId" WHERE vs."visitType" = \'urgent\' GROUP BY p."fullName"'
        repaired = apply_rules(sql, schema, failing=True)
        assert "bridge" in {c.rule for c in repaired.changes} and '"PatientVisit"' in repaired.sql
        assert check_sql(repaired.sql, schema).ok, repaired.sql
        assert sorted(conn.execute(repaired.sql).fetchall()) == [("Cy", 1), ("Di", 1)]


LIBRARY = """
CREATE TABLE "user" (id int PRIMARY KEY, "Display Name" text NOT NULL);
CREATE TABLE "order" (id int PRIMARY KEY, "user" int REFERENCES "user", total numeric);
INSERT INTO "user" VALUES (1, 'Ann'), (2, 'Bob');
INSERT INTO "order" VALUES (10, 1, 5), (11, 2, 7), (12, 2, 1);
"""


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        # runs as written: FROM user is the one-row table of the current user's name
        ("SELECT count(*) FROM user", [(2,)]),
        # runs as written and compares the current user's name with 2: no rows
        ("SELECT total FROM \"order\" WHERE user = 2 ORDER BY total", [(1,), (7,)]),
        # fails as written: u.id is no column of the current user's name
        ('SELECT u."Display Name", SUM(o.total) FROM user u JOIN "order" o ON o."user" = u.id GROUP BY u."Display Name"', [("Ann", 5), ("Bob", 8)]),
        # does not parse as written
        ("SELECT user.id FROM order JOIN user ON user.id = order.user WHERE order.total > 4", [(1,), (2,)]),
    ],
)
def test_a_table_or_column_named_by_a_keyword_is_read_in_quotes(fresh_db: str, sql: str, rows: list[tuple]) -> None:
    """Applications name tables `user` and `order`; a model writes them bare, as the schema
    shows every other name, and PostgreSQL reads the keyword instead (or fails to parse). The
    check names it, and the repair quotes the name the schema has, nothing else."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(LIBRARY)
        schema = read_schema(conn)
        try:
            as_written = sorted(conn.execute(sql).fetchall())
        except psycopg.errors.Error:
            as_written = None
        assert as_written != rows
        checked = check_sql(sql, schema)
        assert any("is a PostgreSQL keyword" in e for e in checked.errors), checked.errors
        repaired = apply_rules(sql, schema, failing=True)
        assert repaired.changes and {c.rule for c in repaired.changes} <= {"known_table", "known_column", "missing_join_key"}  # (the declared key)
        assert check_sql(repaired.sql, schema).ok, repaired.sql
        assert sorted(conn.execute(repaired.sql).fetchall()) == rows
        # a keyword meant as a keyword is left alone
        assert check_sql("SELECT user", schema).ok and check_sql('SELECT o.user FROM "order" o', schema).ok
