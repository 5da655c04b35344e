"""Repairs that must not fire: a relation the schema does not list but the server reads (a
partition, the session's temporary table), a bare keyword whose quoted form would compare a
column with itself, a schema the model named, two foreign keys to one table, a column
compared outside a join. Each query either runs and comes back as written, or fails and
comes back unchanged or repaired to its one meaning."""

from __future__ import annotations

import psycopg
import pytest
from conftest import database_fixture

from nl2sql_shell.nl2sql.pipeline import Asker, Attempt, Options
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.readable import model_view

SCHEMA = """
CREATE TABLE ev(ev_id int, ev_year int NOT NULL) PARTITION BY LIST (ev_year);
CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES IN (2024);
CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES IN (2025);
CREATE TABLE ev_2024_backup(ev_id int, ev_year int);
INSERT INTO ev VALUES (1, 2024), (2, 2024), (3, 2025);
INSERT INTO ev_2024_backup VALUES (1, 2024);
CREATE TABLE deal(deal_id int PRIMARY KEY, "user" text NOT NULL);
INSERT INTO deal VALUES (1, 'ann'), (2, 'bob'), (3, 'ann');
CREATE TABLE tbl_users(usr_id int PRIMARY KEY, usr_name text);
CREATE TABLE tbl_messages(msg_id int PRIMARY KEY, msg_body text,
  sender_user_id int REFERENCES tbl_users(usr_id), recipient_user_id int REFERENCES tbl_users(usr_id));
INSERT INTO tbl_users VALUES (1, 'ann'), (2, 'bob'), (3, 'cyd');
INSERT INTO tbl_messages VALUES (1, 'hi', 1, 2), (2, 'yo', 3, 1);
CREATE TABLE tbl_a(a_id int PRIMARY KEY, a_code text);
CREATE TABLE tbl_b(b_id int PRIMARY KEY, a_id int REFERENCES tbl_a(a_id), a_code text);
INSERT INTO tbl_a VALUES (1, 'X'), (2, 'Y');
INSERT INTO tbl_b VALUES (1, 1, 'X'), (2, 2, 'Z');
CREATE TABLE tickets(id int PRIMARY KEY, assignee text, "user" text, subject text);
INSERT INTO tickets VALUES (1, current_user, 'ann', 'db down'), (2, 'bob', current_user, 'printer');
CREATE TABLE accounts(id int PRIMARY KEY, tenant_id int, name text);
CREATE TABLE invoices(id int PRIMARY KEY, tenant_id int, account_id int REFERENCES accounts(id), amount int);
INSERT INTO accounts VALUES (1, 1, 'acme'), (2, 1, 'globex'), (3, 2, 'initech');
INSERT INTO invoices VALUES (1, 1, 1, 100), (2, 1, 2, 50), (3, 2, 3, 7);
CREATE TABLE customers(id int PRIMARY KEY, name text);
CREATE TABLE orders(id int PRIMARY KEY, customer_id int REFERENCES customers(id), total int);
INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO orders VALUES (1, 2, 10), (2, 2, 20), (3, 2, 5), (4, 3, 1);
CREATE TABLE sales_fact(id int, date_key int, amount int);
INSERT INTO sales_fact SELECT g, 20260100 + g, g FROM generate_series(1, 28) AS g;
CREATE VIEW sales_v AS SELECT * FROM sales_fact;
CREATE TABLE budgets(year_start_epoch bigint, amount int);
INSERT INTO budgets VALUES (1751328000, 5), (1782864000, 7);
CREATE TABLE people(first_name text, last_name text, name_suffix text);
INSERT INTO people VALUES ('Ann', 'Lee', 'Jr');
CREATE TABLE sales(region text, product text);
INSERT INTO sales VALUES ('north', 'a'), ('north', 'b'), ('north', 'a'), ('south', 'a');
CREATE TABLE logins(login_at timestamp, day date);
CREATE TABLE holidays(day date, label text);
INSERT INTO logins VALUES ('2026-01-01 00:00', '2026-01-01'), ('2026-01-01 10:00', '2026-01-01'), ('2026-12-25 00:00', '2026-12-25');
INSERT INTO holidays VALUES ('2026-01-01', 'new year'), ('2026-12-25', 'christmas');
CREATE TABLE rooms(kind text, price numeric);
INSERT INTO rooms VALUES ('single', 50), ('double', 80), ('suite', 200);
CREATE TABLE orders2(tenant_id int, order_no int, placed date, PRIMARY KEY (tenant_id, order_no));
CREATE TABLE lines2(tenant_id int, order_no int, qty int, FOREIGN KEY (tenant_id, order_no) REFERENCES orders2);
CREATE TABLE shipments2(tenant_id int, order_ref int, weight int, FOREIGN KEY (tenant_id, order_ref) REFERENCES orders2);
INSERT INTO orders2 VALUES (1, 1, '2026-01-01'), (1, 2, '2026-01-02');
INSERT INTO lines2 VALUES (1, 1, 5), (1, 2, 7);
INSERT INTO shipments2 VALUES (1, 1, 100), (1, 2, 200);
CREATE TABLE business(bid int PRIMARY KEY, business_id text, category_id int, name text);
CREATE TABLE category(id int, business_id text, cname text);
INSERT INTO business VALUES (1, 'b1', 10, 'Cafe'), (2, 'b2', 20, 'Bar');
INSERT INTO category VALUES (10, 'b2', 'food'), (20, 'b1', 'drinks');
CREATE TABLE users2(id int PRIMARY KEY, uname text);
CREATE TABLE posts(id int PRIMARY KEY, title text, author_user int, editor_id int REFERENCES users2(id));
INSERT INTO users2 VALUES (1, 'ann'), (2, 'bob');
INSERT INTO posts VALUES (1, 'p1', 1, 2), (2, 'p2', 2, 1);
CREATE TABLE companies(cname text, year_founded int);
INSERT INTO companies VALUES ('a', 2020), ('b', 1999);
"""

# A database of several schemas, some off the search_path.
BILLING = """
CREATE SCHEMA billing;
CREATE TABLE billing.invoices(inv_id int PRIMARY KEY, inv_total numeric);
CREATE TABLE invoice(inv_id int PRIMARY KEY, inv_total numeric);
INSERT INTO billing.invoices VALUES (1, 10), (2, 20), (3, 30);
INSERT INTO invoice VALUES (7, 1);
CREATE SCHEMA crm;
CREATE TABLE crm.contacts(contact_id int PRIMARY KEY, full_name text);
CREATE TABLE billing.subscriptions(subscription_id int PRIMARY KEY, status text);
INSERT INTO billing.subscriptions VALUES (1, 'active'), (2, 'past_due');
CREATE TABLE billing.orders(order_id int PRIMARY KEY, placed date);
INSERT INTO billing.orders VALUES (1, '2024-01-02'), (2, '2024-02-03');
CREATE TABLE billing.parcels(parcel_id int PRIMARY KEY, order_id int REFERENCES billing.orders(order_id), carrier text);
INSERT INTO billing.parcels VALUES (10, 1, 'DHL'), (11, 2, 'UPS');
"""

conn = database_fixture("rules_two_readings", SCHEMA)
billing = database_fixture("rules_two_readings_billing", BILLING)


def _check(conn: psycopg.Connection, sql: str) -> tuple[Attempt, object]:
    attempt = Attempt(sql, sql)
    result = Asker(None, Options())._check(attempt, model_view(read_schema(conn)), conn)
    return attempt, result


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FROM ev_2024",  # a partition: the schema lists only its parent
        "SELECT COUNT(*) FROM ev_scratch",  # the session's temporary table
        "SELECT COUNT(*) FROM pg_temp.ev_scratch",
        'SELECT d.deal_id FROM deal AS d WHERE d."user" = user',  # bare user: the current user
        "SELECT subject FROM tickets WHERE assignee = user",  # a column compared with the current user
    ],
)
def test_a_query_the_server_runs_comes_back_as_written(conn, sql: str) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ev_scratch AS SELECT g FROM generate_series(1, 5) AS g")
    conn.execute(sql)
    attempt, result = _check(conn, sql)
    assert result is not None and attempt.sql == sql and attempt.changes == [] and attempt.errors == []


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # two foreign keys lead to tbl_users: sender or recipient, no one reading
        ("SELECT msg_body, usr_name FROM tbl_messages ORDER BY 1", None),
        # a_code compared in the select list: the two tables' codes differ there
        ("SELECT a_code, a.a_code = b.a_code AS same_code FROM tbl_a AS a JOIN tbl_b AS b ON a.a_id = b.a_id ORDER BY 1", None),
        ("SELECT a_code FROM tbl_a AS a JOIN tbl_b AS b ON a.a_id = b.a_id WHERE a.a_code <> b.a_code OR a.a_code = b.a_code", None),
    ],
)
def test_a_query_that_fails_is_left_failing_when_it_has_two_meanings(conn, written: str, meant: str | None) -> None:
    _repaired_only_to_its_meaning(conn, written, meant)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        # the declared foreign key, not the tenant key both tables carry
        ("SELECT a.name, SUM(i.amount) FROM invoices AS i JOIN accounts AS a ON i.acct_id = a.id GROUP BY a.name ORDER BY a.name",
         "SELECT a.name, SUM(i.amount) FROM invoices AS i JOIN accounts AS a ON i.account_id = a.id GROUP BY a.name ORDER BY a.name"),
        # a view's values are not read: date_key may be digits or seconds, the error stays
        ("SELECT SUM(amount) FROM sales_v WHERE date_key >= '2026-01-15'", None),
        # named for a year, holding seconds: the year of the time it holds
        ("SELECT EXTRACT(YEAR FROM year_start_epoch) AS yr, SUM(amount) FROM budgets GROUP BY 1 ORDER BY 1",
         "SELECT EXTRACT(YEAR FROM to_timestamp(year_start_epoch)) AS yr, SUM(amount) FROM budgets GROUP BY 1 ORDER BY 1"),
        # three columns hold "name"
        ("SELECT p.name FROM people AS p", None),
        # unnest makes a group's rows repeat: the DISTINCT is no no-op
        ("SELECT DISTINCT region, unnest(array_agg(product)) AS product FROM sales GROUP BY region ORDER BY COUNT(*) DESC", None),
        # a key of two columns: no one-column join says it
        ("SELECT o.placed, l.qty FROM lines2 AS l JOIN orders2 AS o ON l.order_id = o.order_no ORDER BY 1", None),
        ("SELECT weight, placed FROM shipments2 ORDER BY 1", None),
        # a misspelt join column is that column, not the other key both tables have
        ("SELECT b.name, c.cname FROM business AS b JOIN category AS c ON c.id = b.categry_id ORDER BY 1",
         "SELECT b.name, c.cname FROM business AS b JOIN category AS c ON c.id = b.category_id ORDER BY 1"),
        # the author is no editor, declared key or not
        ("SELECT p.title, u.uname FROM posts AS p JOIN users2 AS u ON p.author_id = u.id ORDER BY 1", None),
        # two repairs, the second one's rule before the first's in the registry
        ("SELECT cname FROM companies WHERE EXTRACT(YEAR FROM founded_year) = 2020", "SELECT cname FROM companies WHERE year_founded = 2020"),
    ],
)
def test_a_repair_keeps_the_one_meaning_or_the_error(conn, written: str, meant: str | None) -> None:
    _repaired_only_to_its_meaning(conn, written, meant)


def test_a_repair_stops_where_the_query_passes(conn) -> None:
    """Only the DISTINCT failed; the join of a timestamp with a date, which runs, was swapped
    for `l.day = h.day` too (another count)."""
    written = "SELECT DISTINCT h.label, COUNT(*) AS n FROM logins AS l JOIN holidays AS h ON l.login_at = h.day GROUP BY h.label ORDER BY MIN(l.login_at)"
    meant = "SELECT h.label, COUNT(*) AS n FROM logins AS l JOIN holidays AS h ON l.login_at = h.day GROUP BY h.label ORDER BY MIN(l.login_at)"
    attempt = _repaired_only_to_its_meaning(conn, written, meant)
    assert [c.rule for c in attempt.changes] == ["idle_distinct"] and "l.login_at = h.day" in attempt.sql


def test_a_join_of_a_column_with_itself_takes_the_declared_key(conn) -> None:
    """`c.id = c.id` runs (every order with every customer) but joins nothing: the one
    foreign key between the two, not every table's own `id` (`o.id = c.id`)."""
    written = "SELECT c.name, o.total FROM orders AS o JOIN customers AS c ON c.id = c.id ORDER BY 1, 2"
    attempt, result = _check(conn, written)
    assert result is not None and "o.customer_id = c.id" in attempt.sql, attempt.sql
    meant = "SELECT c.name, o.total FROM orders AS o JOIN customers AS c ON o.customer_id = c.id ORDER BY 1, 2"
    assert conn.execute(attempt.sql).fetchall() == conn.execute(meant).fetchall()


def test_a_change_is_named_only_where_the_query_has_it(conn) -> None:
    """`'double'` in a string and `double precision` as written: no "double -> double
    precision" in the reason."""
    written = "SELECT DISTINCT kind FROM rooms WHERE kind <> 'double' GROUP BY kind ORDER BY AVG(price)::double precision DESC"
    attempt = _repaired_only_to_its_meaning(conn, written, "SELECT kind FROM rooms WHERE kind <> 'double' GROUP BY kind ORDER BY AVG(price)::double precision DESC")
    assert [c.rule for c in attempt.changes] == ["idle_distinct"]


def test_a_table_the_model_put_in_a_schema_is_looked_for_in_that_schema(billing) -> None:
    """public's invoice is another table than billing's invoices; the reason said "invoice is
    not on the search_path" where it is."""
    written = "SELECT inv_id, inv_total FROM billing.invoice ORDER BY 1"
    attempt = _repaired_only_to_its_meaning(billing, written, "SELECT inv_id, inv_total FROM billing.invoices ORDER BY 1")
    assert [str(c) for c in attempt.changes] == ["billing.invoice -> billing.invoices AS invoice (no table billing.invoice; the schema has billing.invoices)"]


def _repaired_only_to_its_meaning(conn: psycopg.Connection, written: str, meant: str | None) -> Attempt:
    with pytest.raises(psycopg.Error):
        conn.execute(written)
    attempt, result = _check(conn, written)
    if meant is None or result is None:
        assert result is None and attempt.changes == [] and attempt.errors
        return attempt
    assert conn.execute(attempt.sql).fetchall() == conn.execute(meant).fetchall()
    return attempt


@pytest.mark.parametrize("written", ["SELECT COUNT(*) FROM billing.order", "SELECT order.placed FROM billing.order"])
def test_a_table_named_like_a_keyword_keeps_its_name_as_a_quoted_alias(billing, written: str) -> None:
    """`billing.order` (orders meant) became `billing.orders AS order`, which the server cannot
    parse: the repair was dropped and the question failed."""
    attempt, result = _check(billing, written)
    if "placed" in written:  # `order.placed` is no column reference the server reads: nothing to repair to
        assert result is None
        return
    assert result is not None and 'billing.orders AS "order"' in attempt.sql
    assert billing.execute(attempt.sql).fetchall() == [(2,)]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("SELECT order_id, placed, carrier FROM billing.orders", "SELECT o.order_id, o.placed, p.carrier FROM billing.orders o JOIN billing.parcels p ON o.order_id = p.order_id"),
        ("SELECT parcel_id, carrier FROM billing.orders", "SELECT parcel_id, carrier FROM billing.parcels"),
    ],
)
def test_the_owner_of_a_missing_column_is_read_in_a_database_of_several_schemas(billing, written: str, meant: str) -> None:
    """The owner repairs were off wherever the tables came from more than one schema (most
    real databases): `carrier` is a column of billing.parcels, joined on its declared key."""
    attempt = _repaired_only_to_its_meaning(billing, written, meant)
    assert [c.rule for c in attempt.changes] == ["table_owner"] and "billing.parcels" in attempt.sql


def test_a_table_the_named_schema_lacks_is_looked_for_everywhere(billing) -> None:
    """crm has no subscriptions; the database's one subscriptions table is billing's."""
    written = "SELECT COUNT(*) FROM crm.subscriptions WHERE status = 'past_due'"
    attempt = _repaired_only_to_its_meaning(billing, written, "SELECT COUNT(*) FROM billing.subscriptions WHERE status = 'past_due'")
    assert [c.rule for c in attempt.changes] == ["known_table"] and "billing.subscriptions" in attempt.sql
