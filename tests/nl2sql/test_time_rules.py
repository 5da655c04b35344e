"""Numbers that hold points in time (epoch seconds, milliseconds, dates written as digits),
used as times by the model's query: their names say a time, their values say how it is written."""

from __future__ import annotations

import psycopg
import pytest

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.rules import apply_rules
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


def _fails(conn: psycopg.Connection, sql: str) -> bool:
    try:
        conn.execute(sql)
    except psycopg.Error:
        return True
    return False
