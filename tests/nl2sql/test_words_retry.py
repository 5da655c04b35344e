"""The greedy query on the names in words, after the one on the schema's own names fails
(Options.words_retry), on schemas written for this test (none from a benchmark).

A scripted model answers each call in turn; the checks, the proof and the run are real.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import create_database
from scripted import EachCall

from nl2sql_shell.nl2sql.pipeline import WORDS, Asker, Options

# A prefix on every table and column (folded by PostgreSQL), and the same shop in plain names.
PREFIXED = """
CREATE TABLE kmShop (kmShopId int PRIMARY KEY, kmShopName text NOT NULL, kmShopCity text NOT NULL);
CREATE TABLE kmStaff (kmStaffId int PRIMARY KEY, kmStaffShopId int REFERENCES kmShop (kmShopId), kmStaffName text);
CREATE TABLE kmSale (kmSaleId int PRIMARY KEY, kmSaleStaffId int REFERENCES kmStaff (kmStaffId), kmSaleAmount numeric);
INSERT INTO kmShop VALUES (1, 'North', 'Oslo'), (2, 'South', 'Rome');
INSERT INTO kmStaff VALUES (10, 1, 'Ann'), (11, 1, 'Bo'), (12, 2, 'Cy');
"""
PLAIN = """
CREATE TABLE shop (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL);
INSERT INTO shop VALUES (1, 'North', 'Oslo'), (2, 'South', 'Rome');
"""
OWN_NAMES_WRONG = "SELECT kmshop.kmtown FROM kmshop WHERE kmshop.kmname = 'North';"  # an invented prefix and a word no name has
IN_WORDS = "SELECT city FROM shop WHERE name = 'North';"


@pytest.fixture(scope="module")
def prefixed(pg_server):
    return create_database(pg_server, "words_retry_prefixed", PREFIXED)


@pytest.fixture(scope="module")
def plain(pg_server):
    return create_database(pg_server, "words_retry_plain", PLAIN)


def _ask(conninfo: str, batches: list[list[str]], *, words_retry: bool = True):
    model = EachCall(batches)
    with psycopg.connect(conninfo) as conn:
        answer = Asker(model, Options(candidates=4, max_repairs=0, words_retry=words_retry)).ask("which city is the North shop in", conn)
        rows = conn.execute(answer.sql).fetchall() if answer.kind == "read" else None
    return answer, model.calls, rows


def test_a_failing_query_on_prefixed_names_is_written_again_on_the_names_in_words(prefixed):
    answer, calls, rows = _ask(prefixed, [[OWN_NAMES_WRONG], [IN_WORDS], ["SELECT 1;"] * 3])
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (0, 1)]  # no samples: the second greedy query stands
    assert "CREATE TABLE kmshop (" in calls[0][2] and "CREATE TABLE shop (" in calls[1][2]
    assert rows == [("Oslo",)] and "kmshopcity" in answer.sql  # the answer in the schema's own names
    assert [a.second_try for a in answer.attempts] == [None, WORDS] and answer.attempts[1].chosen
    assert "names in words" in answer.reason


def test_the_samples_follow_when_the_query_in_words_fails_too(prefixed):
    answer, calls, rows = _ask(prefixed, [[OWN_NAMES_WRONG], ["SELECT town FROM shop;"], ["SELECT kmshopcity FROM kmshop WHERE kmshopname = 'North';"] * 3])
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (0, 1), (1, 3)]  # samples numbered as in one batch of 4
    assert "CREATE TABLE kmshop (" in calls[2][2]  # sampled on the schema's own names
    assert rows == [("Oslo",)] and "names in words" not in answer.reason


def test_a_passing_greedy_query_and_a_plain_schema_never_retry(prefixed, plain):
    answer, calls, _ = _ask(prefixed, [["SELECT kmshopcity FROM kmshop WHERE kmshopname = 'North';"]])
    assert len(calls) == 1 and answer.greedy_alone
    answer, calls, rows = _ask(plain, [["SELECT town FROM shop;"], [IN_WORDS] * 3])
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (1, 3)]  # nothing to read in other words
    assert rows == [("Oslo",)]


def test_off_the_samples_come_straight_after_the_failing_greedy_query(prefixed):
    _, calls, _ = _ask(prefixed, [[OWN_NAMES_WRONG], [IN_WORDS] * 3], words_retry=False)
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (1, 3)]


def test_the_shell_shows_the_answer_in_the_schemas_names_and_says_how_it_was_written(prefixed):
    """What a person sees at `?`: the query in the schema's own names, a reason line that says
    it was written on the names in words, and `\\explain-last` marking that attempt; Enter runs it."""
    from tests.repl.test_question_safety import _handler

    handler, out = _handler(prefixed, [""])
    handler.asker = Asker(EachCall([[OWN_NAMES_WRONG], [IN_WORDS]]), Options(candidates=4, max_repairs=0))
    handler.ask("? which city is the North shop in")
    shown = out.getvalue()
    assert "kmshopcity" in shown and "written on the schema's names in words" in shown
    assert " Oslo\n(1 row)" in shown
    handler.explain_last()
    assert "Attempt 2 (written on the schema's names in words): SELECT" in out.getvalue()
