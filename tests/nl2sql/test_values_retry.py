"""The greedy query written again with the question's values looked up, after a query compared
with a text value no row holds (Options.values_retry), on a schema written for this test (a
small hiking club, from no benchmark).

A scripted model answers each call in turn; the lookup, the probes, the proof and the run are
real.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import EachCall

from nl2sql_shell.nl2sql.pipeline import LOOKED_UP, Asker, Options

SCHEMA = """
CREATE TABLE groups (group_id int PRIMARY KEY, group_name text NOT NULL, meets_on text NOT NULL);
CREATE TABLE members (member_id int PRIMARY KEY, full_name text NOT NULL, group_id int REFERENCES groups, level text NOT NULL);
INSERT INTO groups VALUES (1, 'Ridge Runners', 'Saturday'), (2, 'Valley Walkers', 'Sunday');
INSERT INTO members VALUES (1, 'Ana Lind', 1, 'expert'), (2, 'Bo Sand', 1, 'novice'), (3, 'Cy Berg', 2, 'novice');
"""
QUESTION = "Who belongs to the Ridge Runners group?"
WRONG_COLUMN = "SELECT full_name FROM members WHERE level = 'Ridge Runners';"  # runs, and returns nothing
RIGHT = "SELECT m.full_name FROM members m JOIN groups g ON g.group_id = m.group_id WHERE g.group_name = 'Ridge Runners';"
SAMPLE = "SELECT full_name FROM members WHERE group_id = 1;"

conn = database_fixture("values_retry", SCHEMA)


def _ask(conn, batches: list[list[str]], question: str = QUESTION, **options):
    model = EachCall(batches)
    answer = Asker(model, Options(**{"candidates": 4, "max_repairs": 0, "values_retry": True, **options})).ask(question, conn)
    rows = sorted(conn.execute(answer.sql).fetchall()) if answer.kind == "read" else None
    return answer, model.calls, rows


def test_a_value_put_on_the_wrong_column_is_looked_up_and_the_query_written_again(conn):
    answer, calls, rows = _ask(conn, [[WRONG_COLUMN], [RIGHT], [SAMPLE] * 3])
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (0, 1)]  # no samples: the second greedy query stands
    assert "Values in the database: groups.group_name = 'Ridge Runners'" in calls[1][2]
    assert "Values in the database" not in calls[0][2]
    assert rows == [("Ana Lind",), ("Bo Sand",)]
    assert [a.second_try for a in answer.attempts] == [None, LOOKED_UP] and answer.attempts[1].chosen
    assert "looked up" in answer.reason
    assert any("'Ridge Runners' are a value of column group_name" in line for line in answer.linking)


def test_the_samples_follow_when_nothing_is_found_or_the_second_query_misses_too(conn):
    # "Peak Baggers" is no group: nothing to look up, so the samples come straight after
    missing = "SELECT full_name FROM members WHERE level = 'Peak Baggers';"
    answer, calls, _ = _ask(conn, [[missing], [missing] * 3], question="Who belongs to the Peak Baggers group?")
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (1, 3)]
    assert answer.kind == "read" and "looked up" not in answer.reason  # every candidate agrees: the empty answer stands
    # found, but the second query compares wrongly too: the samples vote, among those whose values exist
    answer, calls, rows = _ask(conn, [[WRONG_COLUMN], [WRONG_COLUMN], [SAMPLE] * 3])
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (0, 1), (1, 3)]
    assert rows == [("Ana Lind",), ("Bo Sand",)] and "looked up" not in answer.reason


def test_a_greedy_query_whose_values_exist_and_the_option_off_never_look_up(conn):
    answer, calls, _ = _ask(conn, [[RIGHT]])
    assert len(calls) == 1 and answer.greedy_alone
    answer, calls, _ = _ask(conn, [[WRONG_COLUMN], [SAMPLE] * 3], values_retry=False)
    assert [(first, n) for first, n, _ in calls] == [(0, 1), (1, 3)]
    answer, calls, _ = _ask(conn, [[WRONG_COLUMN], [SAMPLE] * 3], check_values=False)
    assert len(calls) == 1 and answer.greedy_alone  # unprobed, the comparison is never known to miss
