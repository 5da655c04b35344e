"""Numbers that hold points in time (epoch seconds), used as times by the model's query."""

from __future__ import annotations

import psycopg
import pytest

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.rules import apply_rules
from nl2sql_shell.schema.introspect import read_schema

# An app that keeps times as epoch seconds, beside counters that are not times.
APP = """
CREATE TABLE signups (id int PRIMARY KEY, created_at bigint NOT NULL, order_num int, created_ms bigint);
INSERT INTO signups SELECT g, extract(epoch FROM now())::bigint - g * 86400, g, 0 FROM generate_series(1, 60) g;
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
    ],
)
def test_a_time_named_number_used_as_a_time_reads_as_epoch_seconds(app, sql: str, meant: str) -> None:
    conn, schema = app
    with pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute(sql)
    repaired = apply_rules(sql, schema, failing=True)
    assert {c.rule for c in repaired.changes} <= {"epoch_comparison", "epoch_seconds"} and repaired.changes
    rows = sorted(conn.execute(repaired.sql).fetchall())
    assert rows == sorted(conn.execute(meant).fetchall()) and rows


def test_numbers_not_named_as_times_or_finer_than_seconds_stay_errors(app) -> None:
    conn, schema = app
    for sql in (
        "SELECT COUNT(*) FROM signups WHERE order_num > NOW()",
        "SELECT COUNT(*) FROM signups WHERE created_ms > NOW() - INTERVAL '1 day'",
        "SELECT EXTRACT(YEAR FROM order_num) FROM signups",
    ):
        repaired = apply_rules(sql, schema, failing=True)
        assert repaired.changes == [] and not check_sql(sql, schema).ok or _fails(conn, repaired.sql)


def _fails(conn: psycopg.Connection, sql: str) -> bool:
    try:
        conn.execute(sql)
    except psycopg.Error:
        return True
    return False
