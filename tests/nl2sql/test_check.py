"""Static checks of generated SQL: the errors a repair round and a user read, and a pretty
form that never changes what runs (compared by executing both on a real server)."""

from __future__ import annotations

import psycopg
import pytest
from conftest import DEFOG, load_defog_db

from nl2sql_shell.eval.scoring import gold_queries
from nl2sql_shell.eval.suite import load_suite
from nl2sql_shell.nl2sql.check import check_sql
from nl2sql_shell.nl2sql.extract import extract_sql
from nl2sql_shell.nl2sql.rules import RULES, apply_rules
from nl2sql_shell.nl2sql.safety import classify
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.model import Column, Schema, Table


def _table(name: str, *columns: str, schema: str = "public") -> Table:
    return Table(schema, name, columns=tuple(Column(c, "text") for c in columns))


SCHEMA = Schema(
    "academic",
    ("public",),
    (
        _table("author", "aid", "name", "homepage", "oid"),
        _table("writes", "aid", "pid"),
        _table("publication", "pid", "title", "year", "citation_num"),
        _table("MixedCase", "Id"),
    ),
)


@pytest.mark.parametrize(
    "sql",
    [
        "select a.name, count(*) c from author a join writes w on a.aid = w.aid group by 1 order by c desc",
        "with x as (select aid from author) select aid from x",
        "with c(k) as (select aid, name from author) select c.k, c.name from c",
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select n from r",
        "select n from (select name as n from author) s",
        "select t.x, t.name from (select aid, name from author) t(x)",
        "select x.title from (select * from publication) x",
        "select name from author a where exists (select 1 from writes w where w.aid = a.aid)",
        "select * from author, lateral (select w.pid from writes w where w.aid = author.aid) z where z.pid > 1",
        "select g, x from generate_series(1, 3) g, unnest(array[1, 2]) as x",
        "select u.x from unnest(array[1, 2]) as u(x)",
        "select lower(name) as n from author group by n having count(*) > 1 order by n",
        "select name from author union select title from publication order by name",
        "select public.author.name from public.author",
        "select row_to_json(a), ctid from author a",
        'select "Id" from "MixedCase"',
        "select relname from pg_class",
        "select table_name from information_schema.tables",
        "select extract(year from now()), current_date, current_user",
        "SELECT a.name FROM author AS a JOIN writes USING (aid) WHERE writes.pid > 3",
        "select a.name from author a join writes w on w.aid = a.aid and a.aid = a.aid",  # harmless beside a real condition
    ],
)
def test_valid_queries_pass(sql: str) -> None:
    result = check_sql(sql, SCHEMA)
    assert result.ok, result.errors
    assert result.statement_count == 1 and result.kind == "read"


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("select foo from author", 'column "foo" does not exist in table "author"; its columns are: aid, name, homepage, oid'),
        ("select a.nme from author a", 'column "nme" does not exist in table "author AS a"; its columns are: aid, name, homepage, oid; did you mean "name"?'),
        ("select * from authors", 'table "authors" does not exist; tables are: author, writes, publication, MixedCase; did you mean "author"?'),
        ("select * from MixedCase", 'table "mixedcase" does not exist; tables are: author, writes, publication, MixedCase; did you mean "MixedCase"?'),
        ('select id from "MixedCase"', 'column "id" does not exist in table "MixedCase"; its columns are: Id; did you mean "Id"?'),
        ("select b.name from author a", 'missing FROM-clause entry for table "b"; the query has: a'),
        (
            "select publication.title from author a",
            'missing FROM-clause entry for table "publication"; the query has: a; "publication" is a table the query does not join: add it to FROM',
        ),
        (
            "select a.title from author a join writes w on a.aid = w.aid",
            'column "title" does not exist in table "author AS a"; its columns are: aid, name, homepage, oid; "title" is a column of publication: join that table',
        ),
        ("with x as (select aid from author) select x.name from x", 'column "name" does not exist in table "x"; its columns are: aid'),
        ("select s.name from (select name as n from author) s", 'column "name" does not exist in table "s"; its columns are: n'),
        ("select x.nothing from (select * from publication) x", 'column "nothing" does not exist in table "x"; its columns are: pid, title, year, citation_num'),
        ("select t.aid from (select aid, name from author) t(x)", 'column "aid" does not exist in table "t"; its columns are: x, name'),
        ("select foo", 'column "foo" does not exist; the query reads no table'),
        ("select name as n from author where n = 'x'", 'column "n" does not exist in table "author"'),  # aliases are not visible in WHERE
        (
            "select nme from author a join writes w on a.aid = w.aid",
            'column "nme" does not exist in any table of the query (author AS a: aid, name, homepage, oid; writes AS w: aid, pid); did you mean "a.name"?',
        ),
        ("select name from author a where exists (select 1 from writes w where w.aid = a.aid and title = 'x')", 'column "title" does not exist in any table'),
        ("insert into author (aid, nam) values (1, 'x')", 'column "nam" does not exist in table "author"'),
        ("update author set nam = 'x' where aid = 1", 'column "nam" does not exist in table "author"'),
        ("delete from nope", 'table "nope" does not exist'),
        ("select year(year) from publication", "YEAR() is not a PostgreSQL function; use EXTRACT(YEAR FROM x)"),
        ("select month(year) from publication", "use EXTRACT(MONTH FROM x)"),
        ("select ifnull(title, '') from publication", "IFNULL() is not a PostgreSQL function; use COALESCE(x, y)"),
        ("select date_format(year, '%Y') from publication", "DATE_FORMAT() is not a PostgreSQL function; use to_char("),
        ("select title from publication limit 1, 2", "write LIMIT count OFFSET offset"),
        ("select top 3 title from publication", "end the query with LIMIT n"),
        ("select `title` from publication", 'PostgreSQL quotes identifiers with double quotes ("name"), not backticks'),
        (
            "select p.title from author a join writes w on a.aid = a.aid join publication p on p.pid = w.pid",
            "JOIN writes AS w ON a.aid = a.aid compares a column with itself: equate a column of w with a column of a table joined before it",
        ),
        (
            "select p.title from author a join writes w on a.aid = w.aid join publication p on w.aid = a.aid",
            "JOIN publication AS p ON w.aid = a.aid never names p: equate a column of p",
        ),
        (
            "select p.title from author a join publication p on p.pid = p.year",
            "JOIN publication AS p ON p.pid = p.year names no table joined before p: equate a column of p",
        ),
        ("selec title from publication", "syntax error at line 1, column 16"),
        ("select title from publication; select 1", "expected one statement, got 2"),
        ("", "expected one statement, got 0"),
    ],
)
def test_errors_say_what_is_wrong_and_what_exists(sql: str, error: str) -> None:
    result = check_sql(sql, SCHEMA)
    assert not result.ok
    assert any(error in e for e in result.errors), result.errors
    assert all("\n" not in e for e in result.errors)


APP = Schema(
    "app",
    ("public",),
    (_table("customers", "id", "name"), _table("orders", "order_id", "customer_id", "order_num"), _table("shipments", "shipment_id", "order_id", "shipped_at")),
)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("select c.name, count(*) from customers c, orders o where o.customer_id = o.customer_id group by 1",
         "FROM ..., orders AS o WHERE o.customer_id = o.customer_id compares a column with itself: equate a column of o with a column of a table before it"),
        ("select c.name from customers c, orders o where c.id = c.id and o.order_num > 2",
         "FROM ..., orders AS o WHERE c.id = c.id compares a column with itself: equate a column of o with a column of a table before it"),
        ("select s.shipped_at from customers c join orders o on o.customer_id = c.id, shipments s where s.order_id = s.order_id",
         "FROM ..., shipments AS s WHERE s.order_id = s.order_id compares a column with itself: equate a column of s with a column of a table before it"),
        ("select c.name from customers c, orders o where o.customer_id = o.customer_id and o.customer_id = c.id", None),  # tied as well
        ("select c.name from customers c, orders o where o.customer_id = o.customer_id and customer_id > 1", None),  # a bare column may tie them
        ("select c.name, s.a from customers c, (select avg(order_num) a from orders) s", None),  # a cross join meant
        ("select c.name from customers c, orders o where c.id = o.customer_id", None),
    ],
)
def test_a_comma_join_whose_condition_compares_a_column_with_itself_fails_as_a_join_on_does(sql: str, error: str | None) -> None:
    """The comma join's twin of `JOIN d ON d.x = d.x`: it ran, pairing every row with every
    row before it (a schema of no benchmark)."""
    assert check_sql(sql, APP).errors == ([error] if error else [])


def test_a_deeply_nested_reply_is_an_error_not_a_crash() -> None:
    """sqlglot recurses per nesting level; a small model once wrote enough CASTs to exhaust
    Python's stack and end a whole eval run."""
    sql = "SELECT " + "CAST(" * 80 + "citation_num" + " AS int)" * 80 + " FROM publication"
    result = check_sql(sql, SCHEMA)
    assert not result.ok and "nested too deeply" in result.errors[0]
    assert classify(sql).writes  # what cannot be read is treated as a write
    assert apply_rules(sql, SCHEMA, enabled={r.name for r in RULES}, failing=True).changes == []
    assert extract_sql(f"```sql\n{sql}\n```") in (None, sql)


def test_one_mistake_gives_one_error() -> None:
    result = check_sql("select name from author a where exists (select 1 from writes w where title = 'x')", SCHEMA)
    assert len(result.errors) == 1


def test_the_result_names_the_tables_read_and_the_kind() -> None:
    read = check_sql("select name from author where aid in (select aid from writes)", SCHEMA)
    assert set(read.tables) == {"public.author", "public.writes"} and read.kind == "read"
    write = check_sql("delete from writes where aid in (select aid from author)", SCHEMA)
    assert write.ok and write.kind == "write" and write.tables == ("public.author",)


def test_several_schemas_are_resolved_by_qualification_and_search_path() -> None:
    schema = Schema("db", ("app", "public"), (_table("users", "id", schema="app"), _table("users", "uid"), _table("audit", "at")))
    assert check_sql("select id from users", schema).ok  # app comes first on the search_path
    assert check_sql("select uid from public.users", schema).ok
    assert check_sql("select id from public.users", schema).errors[0].startswith('column "id" does not exist in table "users"')
    assert check_sql("select * from app.audit", schema).errors == ['table "app.audit" does not exist; tables are: app.users, public.users, public.audit; did you mean "public.audit"?']
    # the table that has the column, as a query must name it (the search_path's `users` is app's)
    assert check_sql("select at from users", schema).errors[0].endswith('"at" is a column of audit: join that table')
    assert check_sql("select uid from audit", schema).errors[0].endswith('"uid" is a column of public.users: join that table')


def test_queries_are_pretty_printed_without_changing_their_text_otherwise() -> None:
    result = check_sql("select name,count(*) as n from author group by name order by n desc;", SCHEMA)
    assert result.sql == "SELECT\n  name,\n  COUNT(*) AS n\nFROM author\nGROUP BY\n  name\nORDER BY\n  n DESC"
    # sqlglot would write now() as CURRENT_TIMESTAMP, renaming the output column: keep the original
    assert check_sql("select now(), name from author;", SCHEMA).sql == "select now(), name from author"
    # nor where sqlglot reads both forms alike but PostgreSQL does not: a to_char format's case
    # (`tmmon` became `tMMon`: "t03on" for "mar"), a two-word type read as a type and an alias,
    # PostgreSQL 16's hex integers written as bit strings
    # nor a name in other letters, which PostgreSQL does not fold: sqlglot's ИТОГО is another function
    # nor `bool`, which is no keyword: a domain `bool` of the user's on the search_path is what it
    # names (its CHECK runs), where BOOLEAN is always pg_catalog's
    for kept in ("select to_char(date '2024-03-05', 'tmmon') as m", "select B'1011'::bit varying", "select 0x41 as n", "select итого(name), méfunc() from author", "select cast(aid > 1 as bool) as big from author"):
        assert check_sql(kept, SCHEMA).sql == kept
    assert check_sql("select cast(aid > 1 as integer) as big from author", SCHEMA).sql == "SELECT\n  CAST(aid > 1 AS INT) AS big\nFROM author"


ROUND_TRIPS = [
    "SELECT DISTINCT ON (name) name, id FROM t ORDER BY name, id DESC",
    "SELECT name FROM t WHERE name ~* '^a' OR name SIMILAR TO 'b%'",
    "SELECT doc->>'a', doc #>> '{a,b}', doc->'a'->>'b' FROM t",
    "SELECT born::text, ts AT TIME ZONE 'UTC', born + interval '1 day', date '2020-01-01' - born FROM t",
    "SELECT string_agg(name, ',' ORDER BY name DESC), array_agg(id ORDER BY id) FROM t",
    "SELECT count(*) FILTER (WHERE score > 0), count(DISTINCT name), percentile_cont(0.5) WITHIN GROUP (ORDER BY score) FROM t",
    "SELECT round(score::numeric, 2), extract(epoch FROM ts), to_char(ts, 'YYYY-MM'), date_trunc('month', ts) FROM t",
    "SELECT id FROM t WHERE name IS DISTINCT FROM 'Ann' AND tags @> ARRAY['red'] OR name LIKE ANY (ARRAY['b%', 'C%'])",
    "SELECT E'a\\nb', $$it's$$, 'x' || name, substring(name from 1 for 2), position('n' in name), trim(both 'A' from name) FROM t",
    "SELECT id % 2, id / 2, 7 / 2.0, -id, abs(score) FROM t ORDER BY id DESC NULLS LAST",
    "SELECT name, rank() OVER (PARTITION BY born IS NULL ORDER BY score DESC NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
    "SELECT id FROM t ORDER BY score DESC",
    "SELECT id FROM t ORDER BY score NULLS FIRST",
    "SELECT g, t.name FROM generate_series(1, 3) AS g LEFT JOIN t ON t.id = g",
    "SELECT now()::date - born, current_date FROM t",
    "SELECT date_part('year', born), extract(year from born), EXTRACT(dow FROM born) FROM t",
    "SELECT length(name), char_length(name), left(name, 1), replace(name, 'A', 'a') FROM t",
    "SELECT name::varchar(2), score::int, id::float, '5'::integer + 1, cast(score AS real) FROM t",
    "SELECT ts::timestamp(0), interval '1 month' * 2 FROM t WHERE born > now() - interval '100 years'",
    "SELECT id FROM t UNION ALL SELECT id FROM t INTERSECT SELECT 1 ORDER BY 1",
    "SELECT name FROM t GROUP BY GROUPING SETS ((name), ())",
    "SELECT tags[1], array_length(tags, 1), json_build_object('id', id), doc ? 'a' FROM t",
]


@pytest.fixture(scope="module")
def typed_db(pg_server) -> str:
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS check_round_trip")
        admin.execute("CREATE DATABASE check_round_trip")
    conninfo = pg_server.conninfo("check_round_trip")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text, born date, ts timestamptz, score numeric, doc jsonb, tags text[])")
        conn.execute(
            "INSERT INTO t VALUES (1, 'Ann', '1990-05-01', '2024-01-01 10:00+00', 3.14159, '{\"a\": {\"b\": \"x\"}}', '{red,blue}'),"
            " (2, 'bob', NULL, '2024-06-30 23:30+00', NULL, '{\"a\": {\"b\": \"y\"}}', '{}'), (3, 'Çe', '2001-12-31', NULL, -2, NULL, NULL)"
        )
    return conninfo


def _run(conn: psycopg.Connection, sql: str) -> tuple[list[tuple[str, int]], list[tuple[str, ...]]]:
    """Column names and types and the rows as text: everything a user sees of a result."""
    cur = conn.execute(sql)
    return [(d.name, d.type_code) for d in cur.description], [tuple(map(repr, row)) for row in cur.fetchall()]


@pytest.mark.parametrize("sql", ROUND_TRIPS)
def test_the_pretty_form_returns_the_same_columns_and_rows(typed_db: str, sql: str) -> None:
    with psycopg.connect(typed_db, autocommit=True) as conn:
        result = check_sql(sql, read_schema(conn))
        assert result.ok, result.errors
        assert _run(conn, result.sql) == _run(conn, sql)


def test_every_benchmark_gold_query_passes_and_keeps_its_result_when_pretty_printed(pg_server) -> None:
    """No false alarms on 342 real PostgreSQL queries over 7 introspected schemas."""
    suite = load_suite(DEFOG)
    pretty = 0
    for db in sorted({q.db_name for q in suite.questions}):
        with psycopg.connect(load_defog_db(pg_server, db), autocommit=True) as conn:
            schema = read_schema(conn)
            for question in (q for q in suite.questions if q.db_name == db):
                for gold in gold_queries(question.gold):
                    result = check_sql(gold, schema)
                    assert result.ok, (gold, result.errors)
                    assert result.tables and all(t.startswith("public.") for t in result.tables)
                    if result.sql != gold.strip().rstrip(";").strip():
                        pretty += 1
                        assert sorted(_run(conn, result.sql)[1]) == sorted(_run(conn, gold)[1]), gold
    # the pretty form is the rule (291 of 342), the original text the exception: where sqlglot
    # changes more than the layout (a NULLS LAST it calls the default, a date unit's case)
    assert pretty > 280


def test_a_subquery_that_lists_the_outer_querys_column_is_an_error(fresh_db: str) -> None:
    """`isbn NOT IN (SELECT isbn FROM loan)` where loan has no isbn runs in PostgreSQL: the
    subquery lists each book's own isbn, so every book with any loan counts as lent. A
    query that runs and answers wrong is rejected, as a join on a column equal to itself is."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE book (isbn text PRIMARY KEY, title text); CREATE TABLE loan (loan_id int PRIMARY KEY, copy_isbn text);"
            "INSERT INTO book VALUES ('1', 'Dune'), ('2', 'Mort'); INSERT INTO loan VALUES (1, '1');"
        )
        schema = read_schema(conn)
        trap = "SELECT title FROM book WHERE isbn NOT IN (SELECT isbn FROM loan)"
        assert conn.execute(trap).fetchall() == []  # it runs, and says every book is lent
        checked = check_sql(trap, schema)
        assert not checked.ok and checked.errors == [
            'the subquery lists "isbn" of the outer query (no table it reads, loan, has it): '
            "it gives each outer row its own value; list a column of the subquery's tables"
        ]
        meant = "SELECT title FROM book WHERE isbn NOT IN (SELECT copy_isbn FROM loan)"
        assert check_sql(meant, schema).ok and conn.execute(meant).fetchall() == [("Mort",)]
        # the outer row read in the subquery's WHERE, or under EXISTS, is a correlation, not the trap
        for correlated in (
            "SELECT title FROM book b WHERE EXISTS (SELECT b.isbn FROM loan l WHERE l.copy_isbn = b.isbn)",
            "SELECT title FROM book b WHERE 1 IN (SELECT l.loan_id FROM loan l WHERE l.copy_isbn = b.isbn)",
        ):
            assert check_sql(correlated, schema).ok, correlated


def test_a_table_named_like_another_but_for_case_is_the_one_written() -> None:
    """`tk_note` and "TK_NOTE" both exist: the case-blind lookup found "TK_NOTE" first, so
    `SELECT count(*) FROM tk_note`, which runs, failed as a table that does not exist."""
    schema = Schema("app", ("other", "public"), (_table("TK_NOTE", "id"), _table("tk_note", "id"), _table("Orders", "id", schema="other"), _table("orders", "id")))
    for sql in ("SELECT count(*) FROM tk_note", 'SELECT count(*) FROM "tk_note"', 'SELECT count(*) FROM "TK_NOTE"', "SELECT id FROM orders", 'SELECT id FROM "Orders"'):
        assert check_sql(sql, schema).errors == [], sql
    assert schema.table("orders").schema == "public"  # the server's reading, not other."Orders" earlier on the path
    assert schema.table("ORDERS").schema == "other"  # a case slip: the first on the path, as before


def test_two_tables_of_one_name_in_two_schemas_joined_by_their_schema_qualified_columns() -> None:
    """PostgreSQL runs `FROM hr.orders JOIN public.orders ON hr.orders.id = public.orders.id`;
    the checks read both sides as one table's: "compares a column with itself", "names no
    table joined before", and the other table's column as missing, so the answer was lost."""
    schema = Schema("app", ("public",), (_table("orders", "id", "total", schema="hr"), _table("orders", "id", "note")))
    for sql in (
        "SELECT hr.orders.total, public.orders.note FROM hr.orders JOIN public.orders ON hr.orders.id = public.orders.id",
        "SELECT count(*) FROM hr.orders, public.orders WHERE hr.orders.id = public.orders.id",
        "SELECT public.orders.note FROM hr.orders o JOIN public.orders ON public.orders.id = o.id",
    ):
        assert check_sql(sql, schema).errors == [], sql
    assert check_sql("SELECT 1 FROM hr.orders JOIN public.orders ON public.orders.id = public.orders.id", schema).errors[0].endswith("compares a column with itself: equate a column of orders with a column of a table joined before it")
    assert check_sql("SELECT 1 FROM hr.orders o JOIN public.orders ON public.orders.id = 1", schema).errors[0].startswith("JOIN public.orders ON public.orders.id = 1 names no table joined before orders")
    assert check_sql("SELECT o.nosuch FROM hr.orders o", schema).errors[0].startswith('column "nosuch" does not exist in table "orders AS o"; its columns are: id, total')
