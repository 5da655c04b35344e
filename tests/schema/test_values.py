"""Looking up the values a question names, on a real server, on a schema from no benchmark.

A library with 40 members: too many distinct names for the schema's sample values, so the
model cannot see "Sarah Williams" unless she is looked up.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import database_fixture
from scripted import Recording

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.values import find_values, value_phrases, values_hint

SCHEMA = """
CREATE SCHEMA lending;
CREATE TABLE members (member_id int PRIMARY KEY, full_name text NOT NULL, city varchar(40));
CREATE TABLE lending.loans (loan_id int PRIMARY KEY, member_id int REFERENCES members, title text, note text);
INSERT INTO members SELECT i, 'Member ' || i, CASE WHEN i % 2 = 0 THEN 'Port Elizabeth' ELSE 'Porto Alegre' END FROM generate_series(1, 40) i;
INSERT INTO members VALUES (41, 'Sarah Williams', 'Leeds'), (42, 'O''Brien', 'Cork');
INSERT INTO lending.loans SELECT i, i, 'Title ' || i, NULL FROM generate_series(1, 40) i;
INSERT INTO lending.loans VALUES (41, 1, 'The Leeds Almanac', repeat('a long note that mentions Sarah Williams ', 5));
CREATE TABLE lending.branches (branch_id int PRIMARY KEY, city text);
INSERT INTO lending.branches VALUES (1, 'Leeds'), (2, 'York');
ANALYZE;
"""


conn = database_fixture("value_lookup", SCHEMA)


def _find(conn, question: str):
    schema = read_schema(conn)
    return find_values(conn, schema, schema.tables, question)


def test_phrases_are_quoted_text_and_capitalised_words_after_the_first():
    assert value_phrases('Which loans did Sarah Williams take out of "the Leeds branch"?') == ["the Leeds branch", "Sarah Williams"]
    assert value_phrases("List the members of Bank of America. Show their Loans") == ["Bank of America", "Loans"]
    assert value_phrases("Reviews of Mark's Bistro and Tom's Diner") == ["Mark's Bistro", "Tom's Diner"]
    assert value_phrases("how many members are there") == []


def test_a_name_is_found_in_the_column_that_holds_it(conn):
    matches = _find(conn, "Which books has Sarah Williams borrowed?")
    # not in loans.note: a value that long is prose that mentions her, not her name
    assert [m.condition() for m in matches] == ["members.full_name = 'Sarah Williams'"]
    assert values_hint(matches) == "Values in the database: members.full_name = 'Sarah Williams'"


def test_a_value_in_two_columns_names_both_and_quotes_as_sql_does(conn):
    """Columns that hold the very value are named, not one whose values merely contain it
    ("The Leeds Almanac"); a table off the search_path is written with its schema."""
    matches = _find(conn, "Who lives in Leeds, and who wrote to O'Brien?")
    assert sorted(m.condition() for m in matches) == ["lending.branches.city = 'Leeds'", "members.city = 'Leeds'", "members.full_name = 'O''Brien'"]


def test_a_phrase_inside_several_values_is_compared_with_ilike(conn):
    matches = _find(conn, "How many members live in Port?")
    assert [m.condition() for m in matches] == ["members.city ILIKE '%Port%'"]


def test_nothing_found_means_no_hint(conn):
    assert _find(conn, "Which books has Jane Austen borrowed?") == []
    assert values_hint([]) is None


def test_nothing_is_read_inside_the_users_transaction(pg_server):
    with psycopg.connect(pg_server.conninfo("value_lookup")) as conn:
        schema = read_schema(conn)
        conn.execute("INSERT INTO members VALUES (43, 'Ada Lovelace', 'London')")
        assert find_values(conn, schema, schema.tables, "Ada Lovelace") == []
        assert conn.execute("SELECT count(*) FROM members WHERE member_id = 43").fetchone() == (1,)  # the user's row is still there
        conn.rollback()


@pytest.mark.parametrize("on", [True, False])
def test_the_model_reads_where_the_value_is_only_when_asked(conn, on):
    model = Recording(["SELECT count(*) FROM lending.loans l JOIN members m ON m.member_id = l.member_id WHERE m.full_name = 'Sarah Williams';"])
    answer = Asker(model, Options(candidates=1, max_repairs=0, values=on)).ask("How many loans has Sarah Williams?", conn)
    assert answer.kind == "read"
    assert ("Values in the database: members.full_name = 'Sarah Williams'" in model.prompts[0]) is on
