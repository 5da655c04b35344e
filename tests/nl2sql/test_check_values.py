"""Options.check_values (on by default): a candidate that compares a text column with a value no row holds is
not trusted alone, and candidates whose values exist are voted on first.

A scripted model writes exact candidates; the probes, the proof and the vote run on a real
server, on a schema from no benchmark (a small atlas of peaks).
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import Counting, words

from nl2sql_shell.nl2sql.literals import unfound_values
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.schema.introspect import read_schema

SCHEMA = """
CREATE TABLE regions (region_id int PRIMARY KEY, region_name text NOT NULL, country text NOT NULL);
CREATE TABLE peaks (peak_id int PRIMARY KEY, peak_name text NOT NULL, country text NOT NULL, height_m int NOT NULL,
                    region_id int REFERENCES regions);
INSERT INTO regions VALUES (1, 'Khumbu', 'Nepal'), (2, 'Valais', 'Switzerland');
INSERT INTO peaks VALUES (1, 'Everest', 'Nepal', 8849, 1), (2, 'Lhotse', 'Nepal', 8516, 1), (3, 'Matterhorn', 'Switzerland', 4478, 2);
CREATE VIEW nepal_peaks AS SELECT * FROM peaks WHERE country = 'Nepal';
"""
QUESTION = "Which peaks are in Nepal?"
WRONG_COLUMN = "SELECT p.peak_name FROM peaks p JOIN regions r ON r.region_id = p.region_id WHERE r.region_name = 'Nepal';"
RIGHT = "SELECT peak_name FROM peaks WHERE country = 'Nepal';"


conn = database_fixture("check_values", SCHEMA)


def test_a_comparison_no_row_satisfies_is_found_and_others_are_not(conn):
    schema = read_schema(conn)
    assert unfound_values(conn, schema, WRONG_COLUMN) == ("regions.region_name = 'Nepal'",)
    assert unfound_values(conn, schema, RIGHT) == ()
    assert unfound_values(conn, schema, "SELECT peak_name FROM peaks WHERE peak_name ILIKE '%ever%' AND peak_name NOT LIKE '%K2%'") == ()
    assert unfound_values(conn, schema, "SELECT peak_name FROM peaks WHERE region_id IN (SELECT region_id FROM regions WHERE country = 'Peru')") == ("regions.country = 'Peru'",)
    # a CTE that shadows a table, and a view, are not probed: their rows are not the table's
    assert unfound_values(conn, schema, "WITH peaks AS (SELECT 'Peru' AS country) SELECT country FROM peaks WHERE country = 'Peru'") == ()
    assert unfound_values(conn, schema, "SELECT peak_name FROM nepal_peaks WHERE peak_name = 'K2'") == ()


def test_the_greedy_query_with_an_unfound_value_waits_for_the_samples_and_loses(conn):
    model = Counting([WRONG_COLUMN, RIGHT, RIGHT, WRONG_COLUMN])
    answer = Asker(model, Options(candidates=4, max_repairs=0)).ask(QUESTION, conn)
    assert model.calls == [(0, 1), (1, 3)]  # the greedy query was not trusted alone
    assert words(answer.sql) == words(RIGHT)
    assert "2 set aside: no row holds a value they compare with (regions.region_name = 'Nepal')" in answer.reason
    plain = Counting([WRONG_COLUMN, RIGHT])
    assert "region_name = 'Nepal'" in Asker(plain, Options(candidates=4, max_repairs=0, check_values=False)).ask(QUESTION, conn).sql  # off: as before
    assert plain.calls == [(0, 1)]


def test_a_value_no_candidate_finds_is_still_answered(conn):
    """"Peaks in Peru": every candidate compares with a value no row holds, and the empty answer stands."""
    peru = "SELECT peak_name FROM peaks WHERE country = 'Peru';"
    answer = Asker(Counting([peru]), Options(candidates=2, max_repairs=0)).ask("Which peaks are in Peru?", conn)
    assert answer.kind == "read" and words(answer.sql) == words(peru) and "set aside" not in answer.reason
