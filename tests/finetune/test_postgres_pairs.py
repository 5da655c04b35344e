"""Training pairs read as the shell meets a database: the inference renderer's schema text and
PostgreSQL answers (the pairs come from Spider's SQLite databases)."""

from __future__ import annotations

import json

import psycopg

from nl2sql_shell.finetune.data import read_pairs
from nl2sql_shell.finetune.postgres import inference_schema, postgres_answer
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.render import render_schema

CONTEXT = "CREATE TABLE head (head_ID NUMERIC, name TEXT, born_state TEXT, age NUMERIC); CREATE TABLE management (department_ID NUMERIC, head_ID NUMERIC, temporary_acting TEXT)"


def test_the_schema_is_what_the_shell_renders_for_the_same_tables_on_a_server(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(CONTEXT)
        live = render_schema(read_schema(conn).tables, qualify=False)
    rendered, names = inference_schema(CONTEXT)
    assert rendered == live
    assert {"head", "head_id", "department_id", "temporary_acting"} <= names


def test_answers_are_postgresql_that_runs_on_those_tables(fresh_db):
    _, names = inference_schema(CONTEXT)
    sqlite = 'SELECT name FROM head WHERE born_state = "Alabama" ORDER BY age LIMIT 3'
    answer = postgres_answer(sqlite, names)
    assert answer == "SELECT name FROM head WHERE born_state = 'Alabama' ORDER BY age LIMIT 3"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(CONTEXT)
        conn.execute("INSERT INTO head VALUES (1, 'Ann', 'Alabama', 50), (2, 'Bo', 'Ohio', 40), (3, 'Cy', 'Alabama', NULL)")
        assert conn.execute(answer).fetchall() == [("Ann",), ("Cy",)]  # PostgreSQL's own NULL order, as written


def test_a_pair_that_does_not_parse_is_kept_as_written(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"question": "q?", "context": "not sql at all (", "answer": "SELECT ((("}) + "\n")
    (pair,) = read_pairs(data)
    assert (pair.context, pair.answer) == ("not sql at all (", "SELECT (((")


def test_a_limit_takes_pairs_from_the_whole_file(tmp_path):
    """Spider's file is grouped by database: the first N pairs would come from a few of them."""
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}?", "context": "CREATE TABLE t (a TEXT)", "answer": "SELECT a FROM t"}) + "\n" for i in range(10)))
    assert [p.question for p in read_pairs(data, limit=3)] == ["q0?", "q3?", "q6?"]
    assert len(read_pairs(data, limit=50)) == 10


def test_refusal_pairs_show_a_question_with_a_schema_that_has_none_of_its_words():
    from nl2sql_shell.finetune.data import Pair, with_refusals
    from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

    pairs = [
        Pair("How many singers are from France?", "CREATE TABLE singer (singer_id INTEGER, country TEXT);", "SELECT COUNT(*) FROM singer WHERE country = 'France'"),
        Pair("What is the average age of singers?", "CREATE TABLE singer (singer_id INTEGER, age INTEGER);", "SELECT AVG(age) FROM singer"),
        Pair("List the stadium capacities.", "CREATE TABLE stadium (stadium_id INTEGER, capacity INTEGER);", "SELECT capacity FROM stadium"),
        Pair("Which ships were lost in battle?", "CREATE TABLE ship (ship_id INTEGER, lost_in_battle INTEGER);", "SELECT ship_id FROM ship WHERE lost_in_battle = 1"),
    ]
    out = with_refusals(pairs, 0.5, seed=7)
    assert out[:4] == pairs and len(out) == 6
    for added in out[4:]:
        assert added.answer == REFUSAL_SQL
        own = next(p for p in pairs if p.question == added.question)
        assert added.context != own.context
        # the schema shown has none of the question's words: singer questions never get a singer table
        assert not ("singer" in added.question.lower() and "singer" in added.context)
        assert not ("stadium" in added.question.lower() and "stadium" in added.context)
    assert with_refusals(pairs, 0.5, seed=7) == out  # a resumed run trains on the same pairs
    assert with_refusals(pairs, 0.0, seed=7) == pairs
