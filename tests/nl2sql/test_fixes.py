"""Deterministic corrections: the wrong alias and the ambiguous join column, checked on a real server."""

from __future__ import annotations

import datetime

import psycopg
import pytest
from conftest import create_database

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.fixes import fix_sql
from nl2sql_shell.schema.introspect import read_schema

SCHEMA = """
CREATE TABLE restaurant (id int, name text, food_type text, city_name text, rating real);
CREATE TABLE location (restaurant_id int, house_number int, street_name text, city_name text);
CREATE TABLE business (bid bigint, business_id text, name text, founded bigint);
CREATE TABLE checkin (cid bigint, business_id text, count bigint);
INSERT INTO restaurant VALUES (1, 'Taqueria', 'mexican', 'San Francisco', 4.6), (2, 'Pasta', 'italian', 'Berkeley', 3.9);
INSERT INTO location VALUES (1, 10, 'Market St', 'San Francisco'), (2, 5, 'Shattuck Ave', 'Berkeley');
INSERT INTO business VALUES (1, 'b-x', 'Cafe', 2019), (2, 'b-y', 'Deli', 2021);
INSERT INTO checkin VALUES (1, 'b-x', 3), (2, 'b-x', 4), (3, 'b-y', 1);
"""


@pytest.fixture(scope="module")
def conn(pg_server):
    with psycopg.connect(create_database(pg_server, "fixes_test", SCHEMA), autocommit=True) as connection:
        yield connection


def _rows(conn, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def test_a_column_on_the_wrong_alias_moves_to_the_table_that_has_it(conn) -> None:
    schema = read_schema(conn)
    wrong = "SELECT T2.name, T2.food_type FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id WHERE T2.street_name = 'Market St'"
    assert not check_sql(wrong, schema).ok
    fixed = fix_sql(wrong, schema)
    assert fixed.changes == ["t2.name -> t1.name (location has no column name)", "t2.food_type -> t1.food_type (location has no column food_type)"]
    assert check_sql(fixed.sql, schema).ok
    assert _rows(conn, fixed.sql) == [("Taqueria", "mexican")]


def test_an_ambiguous_column_the_tables_are_joined_on_is_qualified(conn) -> None:
    schema = read_schema(conn)
    ambiguous = "SELECT city_name, count(*) FROM restaurant r JOIN location l ON r.city_name = l.city_name GROUP BY city_name ORDER BY city_name"
    with pytest.raises(psycopg.errors.AmbiguousColumn):
        _rows(conn, ambiguous)
    fixed = fix_sql(ambiguous, schema)
    assert fixed.changes == ["city_name -> r.city_name (ambiguous; the tables are joined on it)"]
    assert _rows(conn, fixed.sql) == [("Berkeley", 1), ("San Francisco", 1)]


def test_an_idle_distinct_that_breaks_order_by_is_dropped(conn) -> None:
    schema = read_schema(conn)
    failing = "SELECT DISTINCT city_name FROM restaurant GROUP BY city_name ORDER BY count(*) DESC, city_name"
    with pytest.raises(psycopg.errors.InvalidColumnReference):
        _rows(conn, failing)
    fixed = fix_sql(failing, schema)
    assert fixed.changes == ["dropped DISTINCT (a grouped query's rows are already distinct; it made ORDER BY fail)"]
    assert _rows(conn, fixed.sql) == [("Berkeley",), ("San Francisco",)]


def test_a_join_column_equal_to_itself_is_pointed_at_the_joined_table(conn) -> None:
    schema = read_schema(conn)
    for written, change in [
        ("SELECT r.name FROM restaurant AS r JOIN location AS l ON r.id = r.id WHERE l.street_name = 'Market St'", None),  # location has no id
        ("SELECT r.name FROM location AS l JOIN restaurant AS r ON l.city_name = l.city_name WHERE l.street_name = 'Market St'",
         "l.city_name = l.city_name -> l.city_name = r.city_name (a column equal to itself joins nothing)"),
        ("SELECT r.name FROM location AS l JOIN restaurant AS r ON r.city_name = r.city_name WHERE l.street_name = 'Market St'",
         "r.city_name = r.city_name -> l.city_name = r.city_name (a column equal to itself joins nothing)"),
    ]:
        fixed = fix_sql(written, schema)
        if change is None:
            assert fixed.changes == []
            continue
        assert len(_rows(conn, written)) == 2  # every pair of rows: the wrong answer, silently
        assert fixed.changes == [change]
        assert _rows(conn, fixed.sql) == [("Taqueria",)]


def test_a_join_between_a_number_and_text_takes_the_same_named_column(conn) -> None:
    schema = read_schema(conn)
    failing = "SELECT b.name, SUM(c.count) FROM business b JOIN checkin c ON b.bid = c.business_id GROUP BY b.name ORDER BY b.name"
    with pytest.raises(psycopg.errors.UndefinedFunction):  # operator does not exist: bigint = text
        _rows(conn, failing)
    fixed = fix_sql(failing, schema)
    assert fixed.changes == ["b.bid = c.business_id -> b.business_id = c.business_id (bigint cannot equal text)"]
    assert _rows(conn, fixed.sql) == [("Cafe", 7), ("Deli", 1)]


def test_mysql_spellings_become_postgresql(conn) -> None:
    schema = read_schema(conn)
    failing = "SELECT name, CAST(founded AS double) / 2 FROM business WHERE YEAR(founded) = 2019 AND EXTRACT(YEAR FROM founded) = 2019"
    with pytest.raises(psycopg.errors.UndefinedObject):  # type "double" does not exist
        _rows(conn, failing)
    fixed = fix_sql(failing, schema)
    assert fixed.changes == [
        "YEAR(founded) -> founded (a bigint column that already holds the year)",
        "EXTRACT(YEAR FROM founded) -> founded (a bigint column that already holds the year)",
        "double -> double precision",
    ]
    assert _rows(conn, fixed.sql) == [("Cafe", 1009.5)]
    dated = fix_sql("SELECT YEAR(now()) = 2026, MONTH(now()) > 0", schema)
    assert dated.changes == ["YEAR(...) -> EXTRACT(YEAR FROM ...)", "MONTH(...) -> EXTRACT(MONTH FROM ...)"]
    assert _rows(conn, dated.sql) == [(datetime.date.today().year == 2026, True)]


def test_a_ratio_over_a_group_counting_zero_is_null_not_an_error(conn) -> None:
    schema = read_schema(conn)
    failing = "SELECT city_name, count(*)::float / count(CASE WHEN rating > 4 THEN 1 END) FROM restaurant GROUP BY city_name ORDER BY city_name"
    with pytest.raises(psycopg.errors.DivisionByZero):
        _rows(conn, failing)
    fixed = fix_sql(failing, schema)
    assert fixed.changes == ["/ COUNT(...) -> / NULLIF(COUNT(...), 0) (one group counting zero would fail the whole query)"]
    assert _rows(conn, fixed.sql) == [("Berkeley", None), ("San Francisco", 1.0)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT T1.name FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # already right
        "SELECT T2.city_name FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # both have it
        "SELECT T2.nme FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # nobody has it
        "SELECT T2.name FROM restaurant AS T1 JOIN (SELECT * FROM location) AS T2 ON true",  # a subquery might
        "SELECT city_name FROM restaurant r JOIN location l ON r.id = l.restaurant_id",  # not joined on it: a guess
        "SELECT DISTINCT count(*) FROM restaurant GROUP BY city_name ORDER BY count(*)",  # DISTINCT matters here
        "SELECT b.name FROM business b JOIN checkin c ON b.bid = c.cid",  # numbers both: maybe meant
        "SELECT r.name FROM restaurant r JOIN location l ON l.restaurant_id = r.id AND r.id = r.id",  # harmless, other side joins
        "SELECT EXTRACT(MONTH FROM now())",  # already PostgreSQL
        "SELECT sum(rating) / NULLIF(count(*), 0), sum(rating) / 2 FROM restaurant",  # guarded, or by a constant
    ],
)
def test_nothing_is_guessed(conn, sql: str) -> None:
    assert fix_sql(sql, read_schema(conn)).changes == []
    assert fix_sql(sql, read_schema(conn)).sql == sql
