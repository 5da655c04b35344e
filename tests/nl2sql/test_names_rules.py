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
    assert repaired.changes and {c.rule for c in repaired.changes} <= {"known_table", "known_column"}
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
