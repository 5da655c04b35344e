"""Deterministic corrections: the wrong alias and the ambiguous join column, checked on a real server."""

from __future__ import annotations

import psycopg
import pytest
from conftest import create_database

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.fixes import fix_sql
from nl2sql_shell.schema.introspect import read_schema

SCHEMA = """
CREATE TABLE restaurant (id int, name text, food_type text, city_name text, rating real);
CREATE TABLE location (restaurant_id int, house_number int, street_name text, city_name text);
INSERT INTO restaurant VALUES (1, 'Taqueria', 'mexican', 'San Francisco', 4.6), (2, 'Pasta', 'italian', 'Berkeley', 3.9);
INSERT INTO location VALUES (1, 10, 'Market St', 'San Francisco'), (2, 5, 'Shattuck Ave', 'Berkeley');
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


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT T1.name FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # already right
        "SELECT T2.city_name FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # both have it
        "SELECT T2.nme FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id",  # nobody has it
        "SELECT T2.name FROM restaurant AS T1 JOIN (SELECT * FROM location) AS T2 ON true",  # a subquery might
        "SELECT city_name FROM restaurant r JOIN location l ON r.id = l.restaurant_id",  # not joined on it: a guess
        "SELECT DISTINCT count(*) FROM restaurant GROUP BY city_name ORDER BY count(*)",  # DISTINCT matters here
    ],
)
def test_nothing_is_guessed(conn, sql: str) -> None:
    assert fix_sql(sql, read_schema(conn)).changes == []
    assert fix_sql(sql, read_schema(conn)).sql == sql
