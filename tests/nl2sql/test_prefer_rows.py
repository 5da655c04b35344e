"""Options.prefer_rows: empty (or all-NULL) results are set aside in the vote when another
candidate returns rows.

A scripted model writes exact candidates; the checks, the proof and the vote run on a real
server.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import create_database
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options

SCHEMA = """
CREATE TABLE cities (id int PRIMARY KEY, name text NOT NULL, population int);
INSERT INTO cities VALUES (1, 'New York', 8800000), (2, 'Boston', 650000), (3, 'Springfield', NULL);
"""
WRONG_CASE = "SELECT population FROM cities WHERE name = 'new york';"  # no rows
NULL_ROW = "SELECT max(population) FROM cities WHERE name = 'new york';"  # one row, NULL
RIGHT = "SELECT population FROM cities WHERE name ILIKE 'new york';"
OTHER = "SELECT population FROM cities WHERE name = 'Boston';"


@pytest.fixture(scope="module")
def conn(pg_server):
    with psycopg.connect(create_database(pg_server, "prefer_rows", SCHEMA), autocommit=True) as connection:
        yield connection


def _ask(replies: list[str], conn, on: bool):
    return Asker(Scripted(replies), Options(candidates=4, max_repairs=0, prefer_rows=on)).ask("what is the population of new york", conn)


def _same(sql: str, expected: str) -> bool:
    return sql.rstrip(";").split() == expected.rstrip(";").split()


def test_rows_win_over_a_majority_of_empty_results(conn):
    replies = [WRONG_CASE, NULL_ROW, WRONG_CASE, RIGHT]
    assert _same(_ask(replies, conn, on=False).sql, WRONG_CASE)  # two agree on no rows
    answer = _ask(replies, conn, on=True)
    assert _same(answer.sql, RIGHT)
    assert "3 empty set aside" in answer.reason


def test_the_vote_among_rows_is_unchanged(conn):
    replies = [OTHER, RIGHT, RIGHT, WRONG_CASE]
    assert _same(_ask(replies, conn, on=True).sql, RIGHT)


def test_all_empty_still_answers(conn):
    """Nothing to prefer: the empty result stands, and nothing is said of it."""
    answer = _ask([WRONG_CASE, WRONG_CASE, NULL_ROW, WRONG_CASE], conn, on=True)
    assert _same(answer.sql, WRONG_CASE) and "set aside" not in answer.reason
