"""The correction rules' contract, through the pipeline's own check step on a real server: a
query that runs comes back exactly as written, one that fails comes back unchanged or
repaired to the same meaning, and a rewrite runs only when switched on by name."""

from __future__ import annotations

import psycopg
import pytest
from conftest import database_fixture
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Attempt, Options
from nl2sql_shell.nl2sql.rules import RULES, Change, Effect, RuleError, default_rules, parse_rules
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.readable import model_view

SCHEMA = """
CREATE TABLE customers(id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders(order_id int PRIMARY KEY, customer_id int REFERENCES customers(id), order_num int NOT NULL);
CREATE TABLE shipments(shipment_id int PRIMARY KEY, order_id int REFERENCES orders(order_id), shipped_at date);
CREATE TABLE invoices(invoice_id int PRIMARY KEY, order_id int REFERENCES orders(order_id), amount numeric);
CREATE TABLE users(user_id int PRIMARY KEY, name text);
CREATE TABLE messages(message_id int PRIMARY KEY, sender_user_id int REFERENCES users(user_id),
  recipient_user_id int REFERENCES users(user_id), body text, sent_epoch bigint);
CREATE TABLE books(book_id int PRIMARY KEY, title text NOT NULL, authors text[] NOT NULL, tags text[]);
INSERT INTO books VALUES (1, 'Good Omens', '{Terry Pratchett,Neil Gaiman}', '{fantasy,comedy}'),
  (2, 'Mort', '{Terry Pratchett}', '{fantasy}'), (3, 'Dune', '{Frank Herbert}', '{scifi}'), (4, 'Untagged', '{Anon}', NULL);
CREATE TABLE bookings(booking_id int PRIMARY KEY, room text NOT NULL, during tstzrange NOT NULL, nights int4range);
INSERT INTO bookings VALUES (1, 'blue', '[2024-03-01 14:00+00,2024-03-04 11:00+00)', '[1,4)'),
  (2, 'red', '[2024-03-03 14:00+00,2024-03-05 11:00+00)', '[3,5)'), (3, 'blue', '[2024-04-01 14:00+00,2024-04-02 11:00+00)', NULL);
INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');
INSERT INTO orders VALUES (10, 1, 5), (11, 2, 7), (12, 2, 9);
INSERT INTO shipments VALUES (100, 10, '2024-01-02'), (101, 10, '2024-01-05'), (102, 11, '2024-02-01');
INSERT INTO invoices VALUES (1000, 10, 50), (1001, 11, 70);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
INSERT INTO messages VALUES (1, 1, 2, 'hi', 1704164645), (2, 2, 1, 'yo', 1672531200), (3, 1, 2, 'ok', 1717200000);
CREATE TABLE tickets(ticket_id int PRIMARY KEY, customer_id int REFERENCES customers(id), customer int, note text);
INSERT INTO tickets VALUES (1, 1, 1, 'x'), (2, 1, NULL, 'y'), (3, 2, 2, 'x'), (4, 2, 2, 'y');
CREATE TABLE usr(id int PRIMARY KEY, name text);
CREATE TABLE tix(id int PRIMARY KEY, owner_id int REFERENCES usr, note text);
INSERT INTO usr SELECT g, 'name' || g FROM generate_series(1, 5) g;
INSERT INTO tix SELECT g, 1 + g % 5, 'n' FROM generate_series(1, 10) g;
CREATE TABLE tk_project(tk_org int, tk_num int, tk_title text, PRIMARY KEY (tk_org, tk_num));
CREATE TABLE tk_ticket(tk_id int PRIMARY KEY, tk_owner int REFERENCES usr, tk_org int, tk_num int, tk_meta jsonb, FOREIGN KEY (tk_org, tk_num) REFERENCES tk_project);
CREATE TABLE tk_invoice(tk_id int PRIMARY KEY, tk_ticket int REFERENCES tk_ticket, tk_total numeric);
INSERT INTO tk_project SELECT o, n, 'proj ' || o || '-' || n FROM generate_series(1, 2) o, generate_series(1, 3) n;
INSERT INTO tk_ticket SELECT g, 1 + g % 5, 1 + g % 2, 1 + g % 3, '{"p": 1}' FROM generate_series(1, 30) g;
INSERT INTO tk_invoice SELECT g, 31 - g, g * 10 FROM generate_series(1, 10) g;
CREATE SCHEMA audit;
CREATE TABLE audit.events(event_id int PRIMARY KEY, at_epoch bigint NOT NULL);
INSERT INTO audit.events VALUES (1, 1704164645), (2, 1717200000);
"""

RUNS = [
    "SELECT COUNT(o.order_num) FROM orders o",  # a count of orders, not a sum of their numbers
    "SELECT u.name, m.body FROM messages m JOIN users u ON m.sender_user_id = u.user_id",
    "SELECT i.invoice_id, i.amount FROM invoices i JOIN shipments s ON i.order_id = s.order_id JOIN orders o ON s.order_id = o.order_id",
    "SELECT name FROM customers ORDER BY id",
    "SELECT title FROM books WHERE tags = '{fantasy}'",  # the whole array, written as one
    "SELECT room FROM bookings WHERE during = '[2024-04-01 14:00+00,2024-04-02 11:00+00)'",  # the whole range
]
FAILS = [
    # (written, a query with the meaning it had, what a repair may contain)
    ("SELECT COUNT(*) FROM messages WHERE EXTRACT(YEAR FROM sent_epoch) = 2024",
     "SELECT COUNT(*) FROM messages WHERE EXTRACT(YEAR FROM to_timestamp(sent_epoch)) = 2024", "to_timestamp(sent_epoch)"),
    ("SELECT order_id, s.shipped_at FROM shipments s RIGHT JOIN orders o ON s.order_id = o.order_id ORDER BY 1, 2",
     "SELECT o.order_id, s.shipped_at FROM shipments s RIGHT JOIN orders o ON s.order_id = o.order_id ORDER BY 1, 2", "o.order_id"),
    # an array compared with one value: is it among the elements (malformed array literal as written)
    ("SELECT title FROM books WHERE authors = 'Terry Pratchett' ORDER BY 1",
     "SELECT title FROM books WHERE 'Terry Pratchett' = ANY(authors) ORDER BY 1", "= ANY("),
    ("SELECT COUNT(*) FROM books b WHERE b.tags <> 'comedy'", "SELECT COUNT(*) FROM books b WHERE 'comedy' <> ALL(b.tags)", "<> ALL"),
    # a range compared with one value: does it contain it (malformed range literal as written)
    ("SELECT room FROM bookings WHERE during = '2024-03-03 20:00+00' ORDER BY 1",
     "SELECT room FROM bookings WHERE during @> timestamptz '2024-03-03 20:00+00' ORDER BY 1", "@> CAST("),
    ("SELECT booking_id FROM bookings b WHERE 2 <> b.nights ORDER BY 1", "SELECT booking_id FROM bookings WHERE NOT nights @> 2 ORDER BY 1", "@> CAST(2 AS INT)"),
    # a repair keeps the parts that did not fail: `t.customer = t.customer` is a NOT NULL test
    ("SELECT c.name, t.notes FROM customers c JOIN tickets t ON t.customer_id = c.id AND t.customer = t.customer ORDER BY 1, 2",
     "SELECT c.name, t.note FROM customers c JOIN tickets t ON t.customer_id = c.id AND t.customer = t.customer ORDER BY 1, 2", "t.customer = t.customer"),
    # an unqualified name of the outer query's table inside a subquery is that row's value
    ("SELECT c.nam FROM customers c WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.ticket_id = id + 2) ORDER BY 1",
     "SELECT c.name FROM customers c WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.ticket_id = c.id + 2) ORDER BY 1", "= id + 2"),
    # the parts no rule touched stay as written: sqlglot reads `::bit varying` as a cast to bit
    # aliased varying, drops current_timestamp's precision, makes date_part an EXTRACT
    ("SELECT notes, '101'::bit varying AS b FROM tickets ORDER BY ticket_id", "SELECT note, '101'::bit varying AS b FROM tickets ORDER BY ticket_id", "bit varying"),
    ("SELECT notes, current_timestamp(0) = date_trunc('second', current_timestamp) AS t FROM tickets ORDER BY ticket_id",
     "SELECT note, current_timestamp(0) = date_trunc('second', current_timestamp) AS t FROM tickets ORDER BY ticket_id", "current_timestamp(0)"),
    # sqlglot reads a typed literal cast again the wrong way round (a date for a timestamp)
    ("SELECT room, DATE '2024-03-03'::timestamp AS d FROM bookings WHERE during = '2024-03-03 20:00+00' ORDER BY 1",
     "SELECT room, DATE '2024-03-03'::timestamp AS d FROM bookings WHERE during @> timestamptz '2024-03-03 20:00+00' ORDER BY 1", "@> CAST("),
    ("SELECT notes, date_part('epoch', timestamp '2024-01-05') AS e FROM tickets ORDER BY ticket_id",
     "SELECT note, date_part('epoch', timestamp '2024-01-05') AS e FROM tickets ORDER BY ticket_id", "date_part("),
    # a join between types that cannot be equal: the foreign key declared, not the other
    # table's own id (`u.id = t.id` ran, and named the wrong owner of every ticket)
    ("SELECT t.id, u.name FROM tix t JOIN usr u ON u.id = t.note ORDER BY 1", "SELECT t.id, u.name FROM tix t JOIN usr u ON u.id = t.owner_id ORDER BY 1", "t.owner_id"),
    ("SELECT t.tk_id, u.name FROM tk_ticket t JOIN usr u ON u.id = t.tk_meta ORDER BY 1", "SELECT t.tk_id, u.name FROM tk_ticket t JOIN usr u ON u.id = t.tk_owner ORDER BY 1", "t.tk_owner"),
    # ... and not one column of a key of two (each project got every ticket of its org)
    ("SELECT p.tk_title, count(*) FROM tk_ticket t JOIN tk_project p ON p.tk_org = t.tk_meta GROUP BY 1 ORDER BY 1",
     "SELECT p.tk_title, count(*) FROM tk_ticket t JOIN tk_project p ON (p.tk_org, p.tk_num) = (t.tk_org, t.tk_num) GROUP BY 1 ORDER BY 1", "tk_num"),
]


conn = database_fixture("rules_contract", SCHEMA)


def _check(conn, sql: str, rules: frozenset[str] | None = None) -> tuple[Attempt, object]:
    options = Options() if rules is None else Options(rules=rules)
    attempt = Attempt(sql, sql)
    result = Asker(None, options)._check(attempt, model_view(read_schema(conn)), conn)
    return attempt, result


@pytest.mark.parametrize("sql", RUNS)
def test_a_query_that_runs_comes_back_unchanged(conn, sql: str) -> None:
    conn.execute(sql)
    attempt, result = _check(conn, sql)
    assert result is not None and attempt.sql == sql and attempt.changes == [] and attempt.written is None


@pytest.mark.parametrize(("written", "meant", "repaired_with"), FAILS)
def test_a_query_that_fails_comes_back_unchanged_or_with_its_meaning(conn, written: str, meant: str, repaired_with: str) -> None:
    with pytest.raises(psycopg.Error):
        conn.execute(written)
    attempt, result = _check(conn, written)
    if result is None:
        assert attempt.sql == written and attempt.errors
        return
    assert repaired_with.lower() in attempt.sql.lower() and attempt.written == written
    assert all(change.rule in {r.name for r in RULES if r.effect is Effect.REPAIR} for change in attempt.changes)
    assert conn.execute(attempt.sql).fetchall() == conn.execute(meant).fetchall()


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("SELECT t.tk_owner, sum(i.tk_total) FROM tk_ticket t JOIN tk_invoice i ON t.tk_id = t.tk_id GROUP BY 1 ORDER BY 1",
         "SELECT t.tk_owner, sum(i.tk_total) FROM tk_ticket t JOIN tk_invoice i ON t.tk_id = i.tk_ticket GROUP BY 1 ORDER BY 1"),
        ("SELECT t.tk_owner, sum(i.tk_total) FROM tk_ticket t JOIN tk_invoice i ON i.tk_id = i.tk_id GROUP BY 1 ORDER BY 1",
         "SELECT t.tk_owner, sum(i.tk_total) FROM tk_ticket t JOIN tk_invoice i ON t.tk_id = i.tk_ticket GROUP BY 1 ORDER BY 1"),
    ],
)
def test_a_column_equal_to_itself_joins_by_the_declared_key_not_each_table_s_own(conn, written: str, meant: str) -> None:
    """`t.tk_id = t.tk_id` joining invoices became `t.tk_id = i.tk_id`: a ticket paired with
    the invoice of the same number (a prefix on every column hid that both are own keys)."""
    attempt, result = _check(conn, written)
    assert result is not None and [c.rule for c in attempt.changes] == ["self_join"]
    assert conn.execute(attempt.sql).fetchall() == conn.execute(meant).fetchall()


def test_a_rewrite_switched_on_by_name_changes_a_query_that_runs(conn) -> None:
    sql = RUNS[0]
    attempt, result = _check(conn, sql, parse_rules("+count_column"))
    assert result is not None and attempt.written == sql
    assert [c.rule for c in attempt.changes] == ["count_column"] and "SUM(o.order_num)" in attempt.sql
    attempt, _ = _check(conn, sql, parse_rules("+count_column,-count_column"))
    assert attempt.changes == []


def test_every_rewrite_is_off_by_default_and_every_rule_has_a_unique_name() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert default_rules() == {r.name for r in RULES if r.effect is not Effect.REWRITE}
    assert {"count_column", "sort_keys", "group_keys", "pass_through_join", "month_order"} <= set(names) - default_rules()


def test_rule_settings_read_as_switches() -> None:
    assert parse_rules("+sort_keys, -bridge") == (default_rules() | {"sort_keys"}) - {"bridge"}
    assert parse_rules(["sort_keys"]) == default_rules() | {"sort_keys"}
    assert parse_rules("-all") == frozenset()
    assert parse_rules("-all,+bridge") == {"bridge"}
    assert parse_rules("") == parse_rules(None) == default_rules()
    with pytest.raises(RuleError, match="unknown rule 'sort_key'") as error:
        parse_rules("+sort_key")
    assert "\n" not in str(error.value)


def test_a_change_reads_as_before_after_and_why() -> None:
    change = Change("sort_keys", "SELECT name", "SELECT name, id", "the rows are sorted by it")
    assert str(change) == "SELECT name -> SELECT name, id (the rows are sorted by it)"
    assert str(Change("pass_through_join", "JOIN t ON a.k = t.k", "", "nothing is read from it")) == "removed JOIN t ON a.k = t.k (nothing is read from it)"


CLEAN = "SELECT name FROM customers ORDER BY id"
EPOCH = FAILS[0][0]


@pytest.mark.parametrize(("replies", "chosen", "corrected"), [([CLEAN, EPOCH, EPOCH], 1, True), ([EPOCH, CLEAN, CLEAN], 1, False)])
def test_the_reason_names_the_corrections_of_the_chosen_candidate(conn, replies: list[str], chosen: int, corrected: bool) -> None:
    asker = Asker(Scripted(replies), Options(candidates=3, max_repairs=0, greedy_first=False))  # one batch, voted
    answer = asker.ask("how many messages were sent in 2024", conn, check_grounding=False)
    assert [a.chosen for a in answer.attempts] == [i == chosen for i in range(3)]
    assert answer.reason.startswith("2 of 3 checked candidates returned the same rows")
    assert ("; corrected EXTRACT(YEAR FROM sent_epoch) -> " in answer.reason) is corrected
    assert ("epoch_seconds" in [c.rule for c in answer.attempts[chosen].changes]) is corrected


@pytest.mark.parametrize(("reply", "subject"), [(EPOCH, "the corrected query"), (CLEAN, "the model's query")])
def test_the_reason_says_whose_query_passed(conn, reply: str, subject: str) -> None:
    """The model's query failed and only its repair passed: the reason said the model's did."""
    asker = Asker(Scripted([reply]), Options(candidates=1, max_repairs=0))
    answer = asker.ask("how many messages were sent in 2024", conn, check_grounding=False)
    assert answer.reason.startswith(f"{subject} passed the schema and server checks")
    assert ("; corrected " in answer.reason) is (reply == EPOCH)


def test_an_output_name_that_is_also_a_column_is_no_group_key_of_the_distinct_rows(conn) -> None:
    """GROUP BY customer_id groups by the column, not by the output named customer_id: the
    groups' rows may repeat, and DISTINCT is no no-op to drop."""
    attempt, _ = _check(conn, "SELECT DISTINCT max(note) AS customer_id, count(*) AS n FROM tickets GROUP BY customer_id ORDER BY max(ticket_id)")
    assert "idle_distinct" not in [c.rule for c in attempt.changes]


def test_group_keys_leave_a_query_sorted_by_position_alone(conn) -> None:
    """Put first, the keys took over `ORDER BY 1`: the sort and the row kept changed."""
    attempt, _ = _check(conn, "SELECT count(*) AS n FROM tickets GROUP BY customer_id ORDER BY 1 DESC LIMIT 1", parse_rules("+group_keys"))
    assert attempt.changes == []


def test_a_column_repaired_to_the_name_of_an_output_is_not_written_bare(conn) -> None:
    """Bare in ORDER BY, the repaired name `note` sorted by the output named note (the ticket
    number), not by the column the repair said it meant."""
    attempt, _ = _check(conn, "SELECT ticket_id, ticket_id AS note FROM tickets ORDER BY notes DESC LIMIT 2")
    assert "known_column" not in [c.rule for c in attempt.changes]


@pytest.mark.parametrize(
    "written",
    [
        "SELECT event_id, date_part('epoch', to_timestamp(at_epoch)) AS e FROM events ORDER BY event_id",
        "SELECT e.event_id, current_timestamp(0) > to_timestamp(e.at_epoch) AS past FROM events e ORDER BY 1",
    ],
)
def test_a_table_read_from_another_schema_is_edited_into_the_text_as_written(conn, written: str) -> None:
    """`events` -> `audit.events`: the whole statement went through sqlglot, which rewrites
    date_part and current_timestamp(0), so the repair was refused ("no usable SQL")."""
    attempt, result = _check(conn, written)
    assert result is not None and "audit.events" in attempt.sql
    assert attempt.sql.replace("audit.events AS events", "events").replace("audit.events", "events") == written
    assert conn.execute(attempt.sql).fetchall()
