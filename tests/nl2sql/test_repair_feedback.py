"""A repair round tells the model what still fails its query once the rules have mended what
they can: a small model that drops the quotes of camelCase names hears of the column it
invented, not of the quotes, which no longer stand in the way.

The schema (a bookshop with quoted camelCase names) is from no benchmark; the checks run on a
real server.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import InTurn

from nl2sql_shell.nl2sql.pipeline import Asker, Options

BOOKSHOP = """
CREATE TABLE "Author" ("authorId" int PRIMARY KEY, "fullName" text NOT NULL);
CREATE TABLE "Book" ("bookId" int PRIMARY KEY, "authorId" int NOT NULL REFERENCES "Author", title text NOT NULL, "pageCount" int);
INSERT INTO "Author" VALUES (1, 'Ann Author');
INSERT INTO "Book" VALUES (1, 1, 'Short', 90), (2, 1, 'Long', 400);
"""
conn = database_fixture("repair_feedback", BOOKSHOP)

UNQUOTED = "SELECT B.title FROM Book AS B WHERE B.rating > 4;"  # unquoted camelCase, and `rating` invented
RIGHT = 'SELECT b.title FROM "Book" AS b WHERE b."pageCount" > 100;'


def test_the_repair_round_shows_the_mended_query_and_the_error_left(conn):
    model = InTurn([UNQUOTED, RIGHT])
    answer = Asker(model, Options(candidates=1, max_repairs=1, repair_samples=1)).ask("list the titles of the long books", conn)
    assert answer.kind == "read" and "after 1 repair" in answer.reason
    assert conn.execute(answer.sql).fetchall() == [("Long",)]
    failed, error = model.prompts[-1].split("That query is wrong:")
    assert failed.rstrip().endswith('SELECT B.title FROM "Book" AS B WHERE B.rating > 4;')  # the query as written, the name the rules mended edited in
    assert 'column "rating" does not exist' in error and 'table "book"' not in error


def test_what_the_person_reads_of_a_failure_is_the_query_as_written(conn):
    answer = Asker(InTurn([UNQUOTED]), Options(candidates=1, max_repairs=0)).ask("list the titles of the long books", conn)
    assert answer.kind == "failed" and answer.sql == UNQUOTED.rstrip(";")
    assert 'table "book" does not exist' in answer.reason
