"""Names as the model reads them, on schemas written for this test (none from a benchmark).

What a user would notice: on a schema with a prefix on every name, or with quoted camelCase,
the prompt shows words the model can write; whatever the model writes in those words comes
back as a query in the schema's own names that runs and returns what the model's query
means; a schema of plain names is shown and queried exactly as it is.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import create_database
from scripted import InTurn, Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.readable import model_view, prefix_conventions, readable_names, readable_word, render_for_model
from nl2sql_shell.schema.render import render_schema

# A prefix on every table and column, declared in camelCase without quotes: PostgreSQL folds it.
PREFIXED = """
CREATE SCHEMA ops;
CREATE TABLE kmShop (kmShopId int PRIMARY KEY, kmShopName text NOT NULL, kmShopCity text NOT NULL);
CREATE TABLE kmStaff (kmStaffId int PRIMARY KEY, kmStaffShopId int REFERENCES kmShop (kmShopId), kmStaffName text, kmStaffHiredOn date);
CREATE TABLE kmSale (kmSaleId int PRIMARY KEY, kmSaleStaffId int REFERENCES kmStaff (kmStaffId), kmSaleAmount numeric, kmSaleOrder int);
CREATE TABLE kmUser (kmUserId int PRIMARY KEY, kmUserName text, kmUserEmail text);
CREATE TABLE ops.kmAudit (kmAuditId int PRIMARY KEY, kmAuditShopId int, kmAuditScore int, kmAuditNote text);
INSERT INTO kmShop VALUES (1, 'North', 'Oslo'), (2, 'South', 'Rome');
INSERT INTO kmStaff VALUES (10, 1, 'Ann', '2020-01-01'), (11, 1, 'Bo', '2021-06-01'), (12, 2, 'Cy', '2022-03-01');
INSERT INTO kmSale VALUES (100, 10, 5, 1), (101, 10, 7, 2), (102, 11, 3, 1), (103, 12, 20, 1);
INSERT INTO kmUser VALUES (1, 'root', 'r@x');
INSERT INTO ops.kmAudit VALUES (1, 1, 80, 'ok'), (2, 2, 60, 'late');
"""
# Quoted camelCase: every query must write the quotes.
QUOTED = """
CREATE TABLE "Member" ("memberId" int PRIMARY KEY, "fullName" text, "joinedOn" date);
CREATE TABLE "GymVisit" ("visitId" int PRIMARY KEY, "memberId" int REFERENCES "Member" ("memberId"), "visitDate" date, "minutesSpent" int);
INSERT INTO "Member" VALUES (1, 'Ada', '2024-01-01'), (2, 'Bob', '2024-02-01');
INSERT INTO "GymVisit" VALUES (1, 1, '2024-03-01', 30), (2, 1, '2024-03-02', 45), (3, 2, '2024-03-02', 60);
"""
PLAIN = """
CREATE TABLE customers (id int PRIMARY KEY, customer_name text, country text);
CREATE TABLE orders (order_id int PRIMARY KEY, customer_id int REFERENCES customers (id), total numeric);
CREATE TABLE contact (contact_id int PRIMARY KEY, company text);
CREATE TABLE country (code text PRIMARY KEY, continent text);
"""


@pytest.fixture(scope="module")
def prefixed(pg_server):
    return create_database(pg_server, "readable_prefixed", PREFIXED)


@pytest.fixture(scope="module")
def quoted(pg_server):
    return create_database(pg_server, "readable_quoted", QUOTED)


def _schema(conninfo):
    with psycopg.connect(conninfo) as conn:
        return read_schema(conn)


def test_a_prefix_on_every_name_is_shown_as_words(prefixed):
    schema = _schema(prefixed)
    text = render_for_model(model_view(schema), schema.tables)
    shop = text[text.index("CREATE TABLE shop (") :].split(");")[0].splitlines()
    assert [line.split(" --")[0] for line in shop[1:]] == ["id integer PRIMARY KEY,", "name text NOT NULL,", "city text NOT NULL"]
    assert "FOREIGN KEY (shop_id) REFERENCES shop(id)" in text
    assert "hired_on date" in text  # the rest of a run of letters is split into words
    assert "CREATE TABLE users (" in text  # `user` is a keyword: the plural, which is free
    assert "CREATE TABLE ops.audit (" in text  # off the search_path: still written with its schema
    assert "km" not in text.replace("kmaudit", "")


def test_quoted_camel_case_is_shown_in_snake_case(quoted):
    schema = _schema(quoted)
    text = render_for_model(model_view(schema), schema.tables)
    assert "CREATE TABLE gym_visit (" in text and "minutes_spent integer" in text
    assert "FOREIGN KEY (member_id) REFERENCES member(member_id)" in text


def test_plain_names_are_shown_and_queried_as_they_are(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(PLAIN)
        schema = read_schema(conn)
    names = readable_names(schema)
    assert not names
    assert render_for_model(model_view(schema), schema.tables) == render_schema(schema.tables, qualify=schema.needs_schema)
    sql = "SELECT c.customer_name FROM customers c JOIN orders o ON o.customer_id = c.id;"
    assert names.to_schema(sql, schema) == sql


def test_letters_shared_by_chance_are_no_convention():
    assert prefix_conventions(["customer", "contact", "country", "company"]) == []
    assert prefix_conventions(["referralId", "referringClinicianId", "referredOn", "reason", "isUrgent"]) == []
    assert prefix_conventions(["xyshop", "xystaff", "xysale"]) == ["xy"]  # not "xys"
    assert readable_word("hba1cPct") == "hba1c_pct"
    assert readable_word("order_lines") == "order_lines"


MODEL_QUERIES = [
    # (as the model writes it in readable names, the same query written by hand in the schema's names)
    (
        "SELECT s.name, SUM(sa.amount) AS total FROM shop s JOIN staff st ON st.shop_id = s.id JOIN sale sa ON sa.staff_id = st.id GROUP BY s.name",
        "SELECT kmshopname, SUM(kmsaleamount) FROM kmshop JOIN kmstaff ON kmstaffshopid = kmshopid JOIN kmsale ON kmsalestaffid = kmstaffid GROUP BY kmshopname",
    ),
    ("SELECT shop.city FROM shop WHERE shop.name = 'North'", "SELECT kmshopcity FROM kmshop WHERE kmshopname = 'North'"),
    ("SELECT name FROM staff WHERE hired_on >= '2021-01-01' ORDER BY name", "SELECT kmstaffname FROM kmstaff WHERE kmstaffhiredon >= '2021-01-01' ORDER BY 1"),
    (
        "SELECT name FROM shop WHERE EXISTS (SELECT 1 FROM staff WHERE staff.shop_id = shop.id AND staff.name = 'Cy')",
        "SELECT kmshopname FROM kmshop WHERE EXISTS (SELECT 1 FROM kmstaff WHERE kmstaffshopid = kmshopid AND kmstaffname = 'Cy')",
    ),
    (
        "WITH big AS (SELECT staff_id, amount FROM sale WHERE amount > 4) SELECT st.name, big.amount FROM big JOIN staff st ON st.id = big.staff_id",
        "SELECT kmstaffname, kmsaleamount FROM kmsale JOIN kmstaff ON kmstaffid = kmsalestaffid WHERE kmsaleamount > 4",
    ),
    # an output name in ORDER BY is the select list's, even where a column has that name
    ("SELECT staff_id, COUNT(*) AS orders FROM sale GROUP BY staff_id ORDER BY orders DESC, staff_id", "SELECT kmsalestaffid, COUNT(*) FROM kmsale GROUP BY 1 ORDER BY 2 DESC, 1"),
    ("SELECT a.score FROM ops.audit a JOIN shop ON shop.id = a.shop_id WHERE shop.city = 'Rome'", "SELECT kmauditscore FROM ops.kmaudit JOIN kmshop ON kmshopid = kmauditshopid WHERE kmshopcity = 'Rome'"),
    ("SELECT name, email FROM users", "SELECT kmusername, kmuseremail FROM kmuser"),
    # a function in FROM is no table of the schema
    ("SELECT s.name, g.n FROM shop s, generate_series(1, 2) AS g(n) WHERE s.city = 'Rome'", "SELECT kmshopname, n FROM kmshop, generate_series(1, 2) AS n WHERE kmshopcity = 'Rome'"),
]


@pytest.mark.parametrize(("written", "expected"), MODEL_QUERIES)
def test_what_the_model_writes_runs_in_the_schemas_names(prefixed, written, expected):
    schema = _schema(prefixed)
    sql = readable_names(schema).to_schema(written, schema)
    with psycopg.connect(prefixed) as conn:
        assert conn.execute(sql).fetchall() == conn.execute(expected).fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute(written)  # the readable query alone names nothing that exists


def test_quoted_names_come_back_with_their_quotes(quoted):
    schema = _schema(quoted)
    written = "SELECT m.full_name, SUM(v.minutes_spent) FROM member m JOIN gym_visit v ON v.member_id = m.member_id GROUP BY m.full_name ORDER BY 2 DESC"
    sql = readable_names(schema).to_schema(written, schema)
    assert '"GymVisit"' in sql and '"minutesSpent"' in sql
    with psycopg.connect(quoted) as conn:
        assert conn.execute(sql).fetchall() == [("Ada", 75), ("Bob", 60)]


def test_examples_are_shown_in_readable_names_and_back_again(prefixed):
    schema = _schema(prefixed)
    names = readable_names(schema)
    real = "SELECT kmshopname FROM kmshop WHERE kmshopcity = 'Oslo'"
    shown = names.to_readable(real, schema)
    assert shown == "SELECT name FROM shop WHERE city = 'Oslo'"
    assert names.to_schema(shown, schema) == "SELECT kmshopname AS name FROM kmshop WHERE kmshopcity = 'Oslo'"


def test_a_question_is_answered_in_the_schemas_names(prefixed):
    """The whole `?` path: the prompt shows words, the answer is SQL the server runs."""
    model = Scripted(["SELECT s.city, COUNT(st.id) FROM shop s JOIN staff st ON st.shop_id = s.id GROUP BY s.city;"])
    with psycopg.connect(prefixed) as conn:
        answer = Asker(model, Options(candidates=1, max_repairs=0, readable_names=True)).ask("how many staff work in each city", conn)
        assert answer.kind == "read", answer.reason
        assert "kmshopcity" in answer.sql and "kmstaffshopid" in answer.sql
        assert not any(a.changes for a in answer.attempts)  # a translation, not a correction
        assert sorted(conn.execute(answer.sql).fetchall()) == [("Oslo", 2), ("Rome", 1)]


def test_a_repair_round_shows_the_error_in_readable_names(prefixed):
    model = InTurn(["SELECT s.town FROM shop s;", "SELECT s.city FROM shop s;"])
    with psycopg.connect(prefixed) as conn:
        answer = Asker(model, Options(candidates=1, max_repairs=1, rules=frozenset(), readable_names=True)).ask("which cities have a shop", conn)
    assert answer.kind == "read" and "kmshopcity" in answer.sql
    repair_turn = model.prompts[-1].split("That query is wrong:")[-1]
    assert "town" in repair_turn and "kmshop" not in repair_turn


def test_a_column_on_the_wrong_table_is_repaired_in_the_names_the_model_wrote(prefixed):
    """The corrections read the schema as the model does: `qty`-like words that several tables
    have are found on the table of the query that has them (column_owner), and the answer
    runs in the schema's own names."""
    model = Scripted(["SELECT st.name, SUM(s.amount) FROM staff st JOIN sale s ON s.staff_id = st.id WHERE st.amount > 4 GROUP BY st.name;"])
    with psycopg.connect(prefixed) as conn:
        answer = Asker(model, Options(candidates=1, max_repairs=0, readable_names=True)).ask("total sales above 4 per staff member", conn)
        assert answer.kind == "read", answer.reason
        assert "st.amount -> s.amount" in answer.reason  # told in the names the model wrote
        assert sorted(conn.execute(answer.sql).fetchall()) == [("Ann", 12), ("Cy", 20)]


def test_by_default_the_model_reads_the_schemas_own_names(prefixed):
    """Off by default (it has not yet shown a gain on bench/unfamiliar): the prompt holds the
    schema's names and a query in readable names is not translated."""
    model = InTurn(["SELECT city FROM shop;"])
    with psycopg.connect(prefixed) as conn:
        answer = Asker(model, Options(candidates=1, max_repairs=0, rules=frozenset())).ask("which cities have a shop", conn)
    assert "CREATE TABLE kmshop (" in model.prompts[0] and "CREATE TABLE shop (" not in model.prompts[0]
    assert answer.kind == "failed"
