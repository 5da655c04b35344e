"""The correction rules on a real server: a query as written fails (or silently joins every
row), its repair returns the rows meant, rewrites change nothing unless switched on, and
nothing is guessed."""

from __future__ import annotations

import psycopg
import pytest
from conftest import database_fixture

from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.rules import RULES, Effect, apply_rules, parse_rules
from nl2sql_shell.schema.introspect import read_schema

SCHEMA = """
CREATE TABLE restaurant (id int, name text, food_type text, city_name text, rating real);
CREATE TABLE location (restaurant_id int, house_number int, street_name text, city_name text);
CREATE TABLE business (bid bigint, business_id text, name text, year_founded bigint);
CREATE TABLE checkin (cid bigint, business_id text, count bigint);
CREATE TABLE category (id int, business_id text, category_name text);
CREATE TABLE author (aid int, name text, oid int);
CREATE TABLE domain_author (aid int, did int);
CREATE TABLE geographic (city_name text, region text);
CREATE TABLE review (rid int, month text);
CREATE TABLE paper (pid int, title text);
CREATE TABLE writes (aid int, pid int);
CREATE TABLE student (student_id int, total_credit int);
CREATE TABLE student_record (student_id int, course_id int);
INSERT INTO restaurant VALUES (1, 'Taqueria', 'mexican', 'San Francisco', 4.6), (2, 'Pasta', 'italian', 'Berkeley', 3.9);
INSERT INTO location VALUES (1, 10, 'Market St', 'San Francisco'), (2, 5, 'Shattuck Ave', 'Berkeley');
INSERT INTO business VALUES (1, 'b-x', 'Cafe', 2019), (2, 'b-y', 'Deli', 2021);
INSERT INTO category VALUES (7, 'b-y', 'Sandwiches'), (8, 'b-x', 'Coffee');
INSERT INTO checkin VALUES (1, 'b-x', 3), (2, 'b-x', 4), (3, 'b-y', 1);
INSERT INTO author VALUES (1, 'Ann', 2), (2, 'Bob', 1);
INSERT INTO domain_author VALUES (1, 10), (2, 20);
INSERT INTO paper VALUES (1, 'On joins'), (2, 'On keys');
INSERT INTO writes VALUES (1, 2), (2, 1);
INSERT INTO review VALUES (1, 'January'), (2, 'April'), (3, 'December'), (4, 'August'), (5, 'April');
INSERT INTO geographic VALUES ('San Francisco', 'Bay Area'), ('Berkeley', 'East Bay'), ('Oakland', 'East Bay');
INSERT INTO student VALUES (1, 30), (2, 12);
INSERT INTO student_record VALUES (1, 101), (1, 102), (2, 101);
"""


conn = database_fixture("fixes_test", SCHEMA)


def _rows(conn, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def _changes(sql: str, schema, **kwargs) -> list[str]:
    return [str(change) for change in apply_rules(sql, schema, **kwargs).changes]


ALL = frozenset(rule.name for rule in RULES)


REJECTED = [
    (
        "SELECT T2.name, T2.food_type FROM restaurant AS T1 JOIN location AS T2 ON T1.id = T2.restaurant_id WHERE T2.street_name = 'Market St'",
        psycopg.errors.UndefinedColumn,
        ["t2.name -> t1.name (location has no column name)", "t2.food_type -> t1.food_type (location has no column food_type)"],
        [("Taqueria", "mexican")],
    ),
    (
        "SELECT city_name, count(*) FROM restaurant r JOIN location l ON r.city_name = l.city_name GROUP BY city_name ORDER BY city_name",
        psycopg.errors.AmbiguousColumn,
        ["city_name -> r.city_name (ambiguous; the tables are joined on it)"],
        [("Berkeley", 1), ("San Francisco", 1)],
    ),
    (
        "SELECT DISTINCT city_name FROM restaurant GROUP BY city_name ORDER BY count(*) DESC, city_name",
        psycopg.errors.InvalidColumnReference,
        ["SELECT DISTINCT -> SELECT (a grouped query's rows are already distinct; it made ORDER BY fail)"],
        [("Berkeley",), ("San Francisco",)],
    ),
    (
        "SELECT b.name, SUM(c.count) FROM business b JOIN checkin c ON b.bid = c.business_id GROUP BY b.name ORDER BY b.name",
        psycopg.errors.UndefinedFunction,  # operator does not exist: bigint = text
        ["b.bid = c.business_id -> b.business_id = c.business_id (bigint cannot equal text)"],
        [("Cafe", 7), ("Deli", 1)],
    ),
    (
        "SELECT c.category_name, b.name FROM category c JOIN business b ON c.id = b.category_id ORDER BY b.name",
        psycopg.errors.UndefinedColumn,
        ["c.id = b.category_id -> c.business_id = b.business_id (b.category_id does not exist; both tables have the key business_id)"],
        [("Coffee", "Cafe"), ("Sandwiches", "Deli")],
    ),
    (
        "SELECT b.name, c.count FROM business AS b JOIN checkin AS c ON b.cid = c.cid ORDER BY c.count",
        psycopg.errors.UndefinedColumn,
        ["b.cid = c.cid -> b.business_id = c.business_id (b.cid does not exist; both tables have the key business_id)"],
        [("Deli", 1), ("Cafe", 3), ("Cafe", 4)],
    ),
    (
        "SELECT student_id, SUM(total_credit) FROM student_record GROUP BY student_id ORDER BY 2 DESC",
        psycopg.errors.UndefinedColumn,
        ["FROM student_record -> FROM student (student_record has no total_credit; student has every column the query reads)"],
        [(1, 30), (2, 12)],
    ),
    (
        "SELECT region, COUNT(*) FROM restaurant GROUP BY region ORDER BY region",
        psycopg.errors.UndefinedColumn,
        ["FROM restaurant -> FROM restaurant JOIN geographic ON restaurant.city_name = geographic.city_name (restaurant has no region)"],
        [("Bay Area", 1), ("East Bay", 1)],
    ),
    (
        "SELECT p.title FROM author a JOIN paper p ON a.pid = p.pid WHERE a.name = 'Ann'",
        psycopg.errors.UndefinedColumn,  # authors and papers meet in writes
        ["a.pid = p.pid -> JOIN writes ON a.aid = writes.aid JOIN paper AS p ON writes.pid = p.pid (author has no pid; writes links the two)"],
        [("On keys",)],
    ),
    (
        "SELECT r.name, r.street_name FROM restaurant r ORDER BY r.name",
        psycopg.errors.UndefinedColumn,  # location also has city_name, but restaurant_id is the key
        ["FROM restaurant AS r -> FROM restaurant AS r JOIN location ON r.id = location.restaurant_id (restaurant has no street_name)"],
        [("Pasta", "Shattuck Ave"), ("Taqueria", "Market St")],
    ),
    (
        "SELECT name, CAST(year_founded AS double) / 2 FROM business WHERE YEAR(year_founded) = 2019 AND EXTRACT(YEAR FROM year_founded) = 2019",
        psycopg.errors.UndefinedObject,  # type "double" does not exist
        [
            "YEAR(year_founded) -> year_founded (a bigint column that already holds the year)",
            "EXTRACT(YEAR FROM year_founded) -> year_founded (a bigint column that already holds the year)",
            "double -> double precision (PostgreSQL's spelling)",
        ],
        [("Cafe", 1009.5)],
    ),
    (
        "SELECT YEAR(now()) > 2000, MONTH(now()) > 0",
        psycopg.errors.UndefinedFunction,
        ["YEAR(...) -> EXTRACT(YEAR FROM ...) (PostgreSQL's spelling)", "MONTH(...) -> EXTRACT(MONTH FROM ...) (PostgreSQL's spelling)"],
        [(True, True)],
    ),
    (
        "SELECT count(*) FROM business WHERE to_date(year_founded::text, 'YYYY') >= DATE('now', '-100 years') AND now() < DATETIME('now', '+1 day')",
        psycopg.errors.UndefinedFunction,  # date(unknown, unknown) does not exist
        [
            "DATE('now', '-100 years') -> CURRENT_DATE - INTERVAL '100 years' (SQLite's date arithmetic)",
            "DATETIME('now', '+1 day') -> CURRENT_TIMESTAMP + INTERVAL '1 day' (SQLite's date arithmetic)",
        ],
        [(2,)],
    ),
    (
        "SELECT city_name, count(*)::float / count(CASE WHEN rating > 4 THEN 1 END) FROM restaurant GROUP BY city_name ORDER BY city_name",
        psycopg.errors.DivisionByZero,
        ["/ COUNT(...) -> / NULLIF(COUNT(...), 0) (one group counting zero would fail the whole query)"],
        [("Berkeley", None), ("San Francisco", 1.0)],
    ),
]


@pytest.mark.parametrize(("written", "error", "changes", "rows"), REJECTED)
def test_a_query_the_server_rejects_is_corrected_to_the_rows_meant(conn, written: str, error: type, changes: list[str], rows: list[tuple]) -> None:
    with pytest.raises(error):
        _rows(conn, written)
    schema = read_schema(conn)
    assert apply_rules(written, schema).changes == []  # repairs wait for the query to fail
    fixed = apply_rules(written, schema, failing=True)
    assert [str(c) for c in fixed.changes] == changes
    assert all(next(r for r in RULES if r.name == c.rule).effect is Effect.REPAIR for c in fixed.changes)
    assert _rows(conn, fixed.sql) == rows


@pytest.mark.parametrize(
    ("written", "change"),
    [
        ("SELECT r.name FROM location AS l JOIN restaurant AS r ON l.city_name = l.city_name WHERE l.street_name = 'Market St'",
         "l.city_name = l.city_name -> l.city_name = r.city_name (a column equal to itself joins nothing)"),
        ("SELECT r.name FROM location AS l JOIN restaurant AS r ON r.city_name = r.city_name WHERE l.street_name = 'Market St'",
         "r.city_name = r.city_name -> l.city_name = r.city_name (a column equal to itself joins nothing)"),
    ],
)
def test_a_join_column_equal_to_itself_is_pointed_at_the_joined_table(conn, written: str, change: str) -> None:
    assert len(_rows(conn, written)) == 2  # every pair of rows: the wrong answer, silently
    schema = read_schema(conn)
    assert not check_sql(written, schema).ok  # the check rejects it: a repair may fire
    fixed = apply_rules(written, schema, failing=True)
    assert [str(c) for c in fixed.changes] == [change]
    assert _rows(conn, fixed.sql) == [("Taqueria",)]


@pytest.mark.parametrize(
    ("written", "wrong", "change", "rows"),
    [
        # author's organization id joined with domain_author's author id: runs, and names Ann
        ("SELECT a.name FROM author AS a JOIN domain_author AS da ON a.oid = da.aid WHERE da.did = 20", [("Ann",)],
         "a.oid = da.aid -> a.aid = da.aid (both tables have the key aid)", [("Bob",)]),
        ("SELECT count(*) FROM restaurant GROUP BY city_name ORDER BY city_name", [(1,), (1,)],
         "SELECT COUNT(*) -> SELECT city_name, COUNT(*) (the groups the counts belong to)", [("Berkeley", 1), ("San Francisco", 1)]),
        ("SELECT name FROM business ORDER BY year_founded DESC", [("Deli",), ("Cafe",)],
         "SELECT name -> SELECT name, year_founded (the rows are sorted by it)", [("Deli", 2021), ("Cafe", 2019)]),
        ("SELECT b.name, COUNT(c.count) FROM business b JOIN checkin c ON b.business_id = c.business_id GROUP BY b.name ORDER BY b.name",
         [("Cafe", 2), ("Deli", 1)], "COUNT(c.count) -> SUM(c.count) (the column holds counts; COUNT would count its rows)", [("Cafe", 7), ("Deli", 1)]),
        ("SELECT business_id, COUNT(*) AS count FROM checkin GROUP BY business_id ORDER BY business_id", [("b-x", 2), ("b-y", 1)],
         "COUNT(*) -> SUM(checkin.count) (the column holds counts; COUNT would count its rows)", [("b-x", 7), ("b-y", 1)]),
        # checkin passes business_id from category to business: it doubles Coffee's row
        ("SELECT t.category_name, COUNT(*) FROM category t JOIN checkin c ON t.business_id = c.business_id "
         "JOIN business b ON c.business_id = b.business_id GROUP BY t.category_name ORDER BY 1", [("Coffee", 2), ("Sandwiches", 1)],
         "removed JOIN checkin AS c ON t.business_id = c.business_id (nothing is read from it; it only repeated rows)", [("Coffee", 1), ("Sandwiches", 1)]),
        ("SELECT b.name FROM checkin c JOIN category t ON c.business_id = t.business_id "
         "JOIN business b ON b.business_id = c.business_id WHERE t.category_name = 'Coffee'", [("Cafe",), ("Cafe",)],
         "removed FROM checkin AS c (nothing is read from it; it only repeated rows)", [("Cafe",)]),
        ("SELECT month, COUNT(*) FROM review GROUP BY month ORDER BY month", [("April", 2), ("August", 1), ("December", 1), ("January", 1)],
         "ORDER BY month -> ORDER BY TO_DATE(month, 'Month') (month names sort alphabetically)",
         [("January", 1), ("April", 2), ("August", 1), ("December", 1)]),
        ("SELECT COUNT(*) FROM review WHERE month BETWEEN 'March' AND 'September'", [(0,)],
         "month BETWEEN 'March' AND 'September' -> TO_DATE(month, 'Month') BETWEEN TO_DATE('March', 'Month') AND "
         "TO_DATE('September', 'Month') (month names compare alphabetically)", [(3,)]),
    ],
)
def test_a_rewrite_changes_a_query_that_runs_only_when_switched_on(conn, written: str, wrong: list[tuple], change: str, rows: list[tuple]) -> None:
    assert _rows(conn, written) == wrong
    schema = read_schema(conn)
    assert check_sql(written, schema).ok
    assert apply_rules(written, schema).sql == written  # off by default, failing or not
    assert apply_rules(written, schema, failing=True).sql == written
    fixed = apply_rules(written, schema, enabled=ALL)
    assert [str(c) for c in fixed.changes] == [change]
    (rule,) = {c.rule for c in fixed.changes}
    assert next(r for r in RULES if r.name == rule).effect is Effect.REWRITE
    assert apply_rules(written, schema, enabled=parse_rules(f"+{rule}")).sql == fixed.sql  # switched on by name
    assert _rows(conn, fixed.sql) == rows


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
        "SELECT r.name FROM restaurant AS r JOIN location AS l ON r.id = r.id",  # location has no id to join on
        "SELECT r.name FROM restaurant AS r JOIN student_record AS s ON r.student_id = s.course_id",  # s with itself joins nothing
        "SELECT EXTRACT(MONTH FROM now())",  # already PostgreSQL
        "SELECT DATE('now') - DATE('2024-01-01')",  # so is date('now')
        "SELECT sum(rating) / NULLIF(count(*), 0), sum(rating) / 2 FROM restaurant",  # guarded, or by a constant
        "SELECT a.name FROM author AS a JOIN author AS o ON a.oid = o.aid",  # one table, two roles: meant
        "SELECT r.name FROM restaurant AS r JOIN business AS b ON r.id = b.restaurant_id",  # no key in common
        "SELECT r.name FROM restaurant AS r JOIN location AS l ON l.restaurant_id = r.id",  # id is every table's key
        "SELECT city_name, count(*) FROM restaurant GROUP BY city_name",  # the groups are shown
        "SELECT DISTINCT food_type FROM restaurant ORDER BY rating",  # DISTINCT: another column changes the rows
        "SELECT name AS n, year_founded FROM business ORDER BY n, 2, year_founded",  # sorted by what is shown
        "SELECT * FROM business ORDER BY year_founded",  # everything is shown
        "SELECT count(*) FROM restaurant GROUP BY 1 = 1",  # an expression: left as written
        "SELECT name FROM business ORDER BY lower(name)",  # sorted by a function of what is shown
        "SELECT b.name, count(*) FROM business b JOIN checkin c ON b.business_id = c.business_id GROUP BY b.name",  # counts check-ins
        "SELECT t.category_name FROM category t LEFT JOIN checkin c ON t.business_id = c.business_id "
        "LEFT JOIN business b ON c.business_id = b.business_id",  # outer joins keep rows
        "SELECT t.category_name, c.count FROM category t JOIN checkin c ON t.business_id = c.business_id "
        "JOIN business b ON c.business_id = b.business_id",  # checkin is read
        "SELECT count(DISTINCT count), count(cid) FROM checkin",  # distinct counts; cid is no count
        "SELECT b.name, count(*) AS count FROM business b JOIN checkin c ON b.business_id = c.business_id GROUP BY b.name",  # joined rows
        "SELECT city_name FROM restaurant WHERE region = 'x' AND house_number = 1",  # no one table owns both
        "SELECT name FROM business WHERE region = 'x'",
        "SELECT r.name FROM restaurant r JOIN location l ON r.rid = l.restaurant_id",  # no table links them
        "SELECT DISTINCT month FROM review ORDER BY month",  # DISTINCT: ORDER BY must name a selected column
        "SELECT rid FROM review WHERE month = 'April' OR month > 'x' ORDER BY rid",  # equal names; no month named
        "SELECT food_type FROM restaurant ORDER BY food_type",  # not month names  # geographic owns region, but no key to join on
        "SELECT name FROM restaurant r WHERE EXISTS (SELECT 1 FROM location l WHERE l.restaurant_id = id)",  # outer id
    ],
)
def test_nothing_is_guessed(conn, sql: str) -> None:
    fixed = apply_rules(sql, read_schema(conn), enabled=ALL, failing=True)  # every rule, as if it failed
    assert fixed.changes == []
    assert fixed.sql == sql
