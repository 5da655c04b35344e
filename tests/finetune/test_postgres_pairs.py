"""Training pairs read as the shell meets a database: the inference renderer's schema text and
PostgreSQL answers (the pairs come from Spider's SQLite databases)."""

from __future__ import annotations

import json

import psycopg

from nl2sql_shell.finetune.data import read_pairs
from nl2sql_shell.finetune.postgres import inference_pair
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.readable import render_for_model

CONTEXT = "CREATE TABLE head (head_ID NUMERIC, name TEXT, born_state TEXT, age NUMERIC); CREATE TABLE management (department_ID NUMERIC, head_ID NUMERIC, temporary_acting TEXT)"


def test_the_schema_is_what_the_shell_renders_for_the_same_tables_on_a_server(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(CONTEXT)
        schema = read_schema(conn)
        live = render_for_model(schema, schema.tables)
    rendered, _ = inference_pair(CONTEXT, "SELECT 1")
    assert rendered == live


def test_prefixed_names_are_trained_as_the_prompt_shows_them(fresh_db):
    """The model writes what it reads: a pair on a schema whose names the shell shows in words
    teaches those words, and its answer translated back is the answer as written."""
    context = "CREATE TABLE xyShop (xyShopId NUMERIC, xyShopCity TEXT, xyShopName TEXT); CREATE TABLE xyStaff (xyStaffId NUMERIC, xyStaffShopId NUMERIC, xyStaffName TEXT); CREATE TABLE xySale (xySaleId NUMERIC, xySaleStaffId NUMERIC, xySaleAmount NUMERIC)"
    rendered, answer = inference_pair(context, 'SELECT T1.xyShopName FROM xyShop AS T1 JOIN xyStaff AS T2 ON T1.xyShopId = T2.xyStaffShopId WHERE T2.xyStaffName = "Ann"')
    assert "CREATE TABLE shop (\nid numeric,\ncity text,\nname text\n);" in rendered
    assert answer == "SELECT T1.name FROM shop AS T1 JOIN staff AS T2 ON T1.id = T2.shop_id WHERE T2.name = 'Ann'"


def test_answers_are_postgresql_that_runs_on_those_tables(fresh_db):
    sqlite = 'SELECT name FROM head WHERE born_state = "Alabama" ORDER BY age LIMIT 3'
    _, answer = inference_pair(CONTEXT, sqlite)
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
