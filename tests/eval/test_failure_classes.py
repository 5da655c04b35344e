"""The failure classes eval reports are read from the checks' and the server's own errors."""

from __future__ import annotations

import pytest
from conftest import database_fixture

from nl2sql_shell.eval.runner import classify_failure
from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.pipeline import Answer, Attempt, Options, explain
from nl2sql_shell.schema.introspect import read_schema

DDL = "CREATE TABLE river (river_name text, length bigint, country_name text); CREATE TABLE state (state_name text, area double precision);"


conn = database_fixture("failure_classes", DDL)


def _failed(conn, *sqls: str | None) -> Answer:
    schema = read_schema(conn)
    attempts = []
    for sql in sqls:
        attempt = Attempt(sql or "I am not sure.", sql)
        if sql is None:
            attempt.errors.append("the reply contains no SQL query")
        else:
            attempt.errors.extend(check_sql(sql, schema).errors or [explain(conn, sql, Options(statement_timeout_ms=5000))])
        attempts.append(attempt)
    return Answer("q", sqls[-1], "failed", "", attempts=attempts)


@pytest.mark.parametrize(
    ("sqls", "verdict"),
    [
        (("SELEC river_name FROM river",), "did not parse"),
        (("SELECT river_name FROM river WHERE length = 'Rhine'",), "server error"),  # invalid input syntax for type bigint
        (("SELECT r.lenght FROM river r",), "unknown table/column"),
        (("SELECT count(*) FROM river r JOIN state s ON r.country_name = r.country_name",), "wrong result"),
        ((None, None), "no SQL"),
        (("SELECT r.lenght FROM river r", "SELECT river_name FROM river WHERE length = 'Rhine'"), "server error"),  # the last attempt decides
    ],
)
def test_a_rejected_answer_is_classed_by_what_rejected_it(conn, sqls, verdict):
    assert classify_failure(_failed(conn, *sqls), False, None) == verdict
