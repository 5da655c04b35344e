"""Numbers that hold points in time (epoch seconds, milliseconds, dates written as digits),
used as times by the model's query: their names say a time, their values say how it is written."""

from __future__ import annotations

import psycopg
import pytest

from scripted import Scripted

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.rules import apply_rules
from nl2sql_shell.nl2sql.rules.times import conversion_errors
from nl2sql_shell.schema.introspect import read_schema

# An app that keeps times as epoch seconds, beside counters that are not times; a warehouse
# that keys days as 20260131 (small, probed; and big enough to be read from its statistics);
# a log in milliseconds; a column named as a time that holds small counts.
APP = """
CREATE TABLE signups (id int PRIMARY KEY, created_at bigint NOT NULL, order_num int, created_ms bigint);
INSERT INTO signups SELECT g, extract(epoch FROM now())::bigint - g * 86400, g, 0 FROM generate_series(1, 60) g;
CREATE TABLE sales (sale_id int PRIMARY KEY, date_key int NOT NULL, amount numeric);
INSERT INTO sales SELECT g, to_char(date '2025-01-01' + g % 700, 'YYYYMMDD')::int, g % 90 FROM generate_series(1, 40) g;
CREATE TABLE big_sales AS SELECT g AS sale_id, to_char(date '2025-01-01' + g % 700, 'YYYYMMDD')::int AS date_key, repeat('x', 40) AS note FROM generate_series(1, 30000) g;
ANALYZE big_sales;
CREATE TABLE clicks (click_id int PRIMARY KEY, clicked_at_ms bigint, retry_time int);
INSERT INTO clicks SELECT g, (extract(epoch FROM now()) * 1000)::bigint - g * 3600000, g % 3 FROM generate_series(1, 50) g;
"""


@pytest.fixture
def app(fresh_db: str):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(APP)
        yield conn, read_schema(conn)


@pytest.mark.parametrize(
    ("sql", "meant"),
    [
        (
            "SELECT COUNT(*) FROM signups WHERE created_at > NOW() - INTERVAL '30 days'",
            "SELECT COUNT(*) FROM signups WHERE to_timestamp(created_at) > NOW() - INTERVAL '30 days'",
        ),
        (
            "SELECT COUNT(*) FROM signups WHERE created_at BETWEEN CURRENT_DATE - 10 AND CURRENT_DATE",
            "SELECT COUNT(*) FROM signups WHERE to_timestamp(created_at) BETWEEN CURRENT_DATE - 10 AND CURRENT_DATE",
        ),
        (
            "SELECT EXTRACT(DOW FROM created_at) AS d, COUNT(*) FROM signups GROUP BY 1",
            "SELECT EXTRACT(DOW FROM to_timestamp(created_at)) AS d, COUNT(*) FROM signups GROUP BY 1",
        ),
        (
            "SELECT SUM(amount) FROM sales WHERE date_key BETWEEN '2025-01-10' AND '2025-01-20'",
            "SELECT SUM(amount) FROM sales WHERE to_date(date_key::text, 'YYYYMMDD') BETWEEN '2025-01-10' AND '2025-01-20'",
        ),
        (
            "SELECT COUNT(*) FROM big_sales WHERE EXTRACT(YEAR FROM date_key) = 2026",
            "SELECT COUNT(*) FROM big_sales WHERE date_key >= 20260101",
        ),
        (
            "SELECT COUNT(*) FROM clicks WHERE clicked_at_ms > NOW() - INTERVAL '1 day'",
            "SELECT COUNT(*) FROM clicks WHERE click_id < 24",
        ),
    ],
)
def test_a_time_named_number_used_as_a_time_reads_as_the_time_its_values_hold(app, sql: str, meant: str) -> None:
    conn, schema = app
    with pytest.raises(psycopg.Error):  # no operator or function for a number and a time, or a date literal read as a number
        conn.execute(sql)
    repaired = apply_rules(sql, schema, failing=True)
    assert {c.rule for c in repaired.changes} <= {"epoch_comparison", "epoch_seconds"} and repaired.changes
    rows = sorted(conn.execute(repaired.sql).fetchall())
    assert rows == sorted(conn.execute(meant).fetchall()) and rows


def test_numbers_not_named_as_times_or_whose_values_hold_no_time_stay_errors(app) -> None:
    conn, schema = app
    for sql in (
        "SELECT COUNT(*) FROM signups WHERE order_num > NOW()",
        "SELECT COUNT(*) FROM signups WHERE created_ms > NOW() - INTERVAL '1 day'",  # all 0
        "SELECT EXTRACT(YEAR FROM order_num) FROM signups",
        "SELECT COUNT(*) FROM clicks WHERE retry_time > NOW() - INTERVAL '1 day'",  # 0 to 2: no time
    ):
        repaired = apply_rules(sql, schema, failing=True)
        assert repaired.changes == [] and not check_sql(sql, schema).ok or _fails(conn, repaired.sql)


@pytest.mark.parametrize(
    ("sql", "meant", "says"),
    [
        (  # runs, and puts every sale in August 1970
            "SELECT COUNT(*) FROM sales WHERE TO_TIMESTAMP(date_key) >= '2025-02-01'",
            "SELECT COUNT(*) FROM sales WHERE date_key >= 20250201",
            "puts its values in 1970; they are dates written as digits (YYYYMMDD)",
        ),
        (  # statistics, not a probe, tell this one's values
            "SELECT COUNT(*) FROM big_sales WHERE EXTRACT(YEAR FROM TO_TIMESTAMP(date_key)) = 2025",
            "SELECT COUNT(*) FROM big_sales WHERE date_key < 20260101",
            "puts its values in 1970",
        ),
        (  # milliseconds read as seconds: the year 58,000
            "SELECT COUNT(*) FROM clicks WHERE to_timestamp(clicked_at_ms) > now() - interval '1 day'",
            "SELECT COUNT(*) FROM clicks WHERE click_id < 24",
            "they are milliseconds since 1970",
        ),
        (  # seconds divided as if milliseconds: January 1970
            "SELECT COUNT(*) FROM signups WHERE to_timestamp(created_at / 1000) > now() - interval '30 days'",
            "SELECT COUNT(*) FROM signups WHERE to_timestamp(created_at) > now() - interval '30 days'",
            "puts its values in 1970; they are seconds since 1970",
        ),
    ],
)
def test_a_conversion_the_values_contradict_fails_the_checks_and_reads_what_they_hold(app, sql: str, meant: str, says: str) -> None:
    conn, schema = app
    assert conn.execute(sql).fetchone()[0] in (0, 60, 50)  # it runs: nothing or everything, never the answer
    errors = conversion_errors(sql, schema)
    assert len(errors) == 1 and says in errors[0]
    assert apply_rules(sql, schema).changes == []  # a query that runs is not changed unless it fails a check
    repaired = apply_rules(sql, schema, failing=True)
    assert [c.rule for c in repaired.changes] == ["time_conversion"] and conversion_errors(repaired.sql, schema) == []
    rows = conn.execute(repaired.sql).fetchall()
    assert rows == conn.execute(meant).fetchall() and rows[0][0] not in (0, 60, 50)


def test_conversions_the_values_agree_with_or_cannot_judge_pass(app) -> None:
    conn, schema = app
    for sql in (
        "SELECT to_timestamp(created_at) FROM signups",
        "SELECT to_timestamp(s.clicked_at_ms / 1000.0) FROM clicks AS s",
        "SELECT to_timestamp(retry_time) FROM clicks",  # 0 to 2: no way of holding a time
        "SELECT to_timestamp(created_ms) FROM signups",  # all 0
        "WITH k AS (SELECT date_key AS d FROM sales) SELECT to_timestamp(d) FROM k",  # a CTE's values are not known
        "SELECT to_timestamp(date_key::text, 'YYYYMMDD') FROM sales",
    ):
        assert conversion_errors(sql, schema) == [], sql


def test_a_time_named_number_cast_to_a_time_is_the_cast_of_the_time_it_holds(app) -> None:
    conn, schema = app
    for sql, meant in (
        ("SELECT COUNT(*) FROM sales WHERE date_key::date >= '2025-02-01'", "SELECT COUNT(*) FROM sales WHERE date_key >= 20250201"),
        ("SELECT COUNT(*) FROM signups WHERE CAST(created_at AS timestamp) > now() - interval '30 days'", "SELECT COUNT(*) FROM signups WHERE to_timestamp(created_at) > now() - interval '30 days'"),
    ):
        assert _fails(conn, sql)  # cannot cast type integer to date
        repaired = apply_rules(sql, schema, failing=True)
        assert [c.rule for c in repaired.changes] == ["time_conversion"]
        assert conn.execute(repaired.sql).fetchall() == conn.execute(meant).fetchall()


def test_the_answer_reads_a_date_key_as_the_date_it_holds_and_says_so(app) -> None:
    """`?` on the warehouse: the model's query ran and counted nothing; the answer counts the
    February sales and its reason line names the correction."""
    conn, _ = app
    model = Scripted(["SELECT COUNT(*) FROM sales WHERE TO_TIMESTAMP(date_key) >= '2025-02-01'"])
    answer = Asker(model, Options(candidates=1, max_repairs=0)).ask("How many sales were made from February 2025 on?", conn)
    assert answer.kind == "read" and "TO_DATE(CAST(date_key AS TEXT), 'YYYYMMDD')" in answer.sql
    assert conn.execute(answer.sql).fetchone()[0] == 10
    assert "corrected TO_TIMESTAMP(date_key) -> TO_DATE(CAST(date_key AS TEXT), 'YYYYMMDD') (its values are dates written as digits (YYYYMMDD))" in answer.reason
    plain = Asker(model, Options(candidates=1, max_repairs=0, rules=frozenset())).ask("How many sales were made from February 2025 on?", conn)
    assert plain.kind == "failed" and "puts its values in 1970" in plain.reason  # repairs off: the check still says why


def _fails(conn: psycopg.Connection, sql: str) -> bool:
    try:
        conn.execute(sql)
    except psycopg.Error:
        return True
    return False
