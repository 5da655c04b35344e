"""The greedy query alone when the model was sure of it (Options.sure_enough).

A scripted model writes exact candidates and says how sure it was of the greedy one; the
checks, the proof and the vote run on a real server.
"""

from __future__ import annotations

import psycopg
import pytest
from conftest import create_database
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options

SCHEMA = """
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric NOT NULL);
INSERT INTO products VALUES (1, 'pen', 2), (2, 'desk', 150), (3, 'lamp', 40);
"""
CHEAP = "SELECT name FROM products WHERE price < 50;"
DEAR = "SELECT name FROM products WHERE price >= 50;"
BROKEN = "SELECT title FROM products;"


@pytest.fixture(scope="module")
def conn(pg_server):
    with psycopg.connect(create_database(pg_server, "sure_enough", SCHEMA), autocommit=True) as connection:
        yield connection


class Counting(Scripted):
    def __init__(self, replies: list[str], sure: float | None) -> None:
        super().__init__(replies, sure)
        self.calls: list[tuple[int, int]] = []

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, **options):
        self.calls.append((first, n))
        return super().generate(prompt, n=n, first=first, **options)


def _ask(replies: list[str], conn, *, sure: float | None, sure_enough: float):
    model = Counting(replies, sure)
    answer = Asker(model, Options(candidates=4, max_repairs=0, sure_enough=sure_enough)).ask("which products are cheap", conn)
    return answer, model.calls


def test_a_sure_greedy_query_that_passes_stands_alone(conn):
    answer, calls = _ask([CHEAP, DEAR, DEAR, DEAR], conn, sure=0.9, sure_enough=0.5)
    assert calls == [(0, 1)]  # no samples written
    assert answer.sure and answer.sql.split() == CHEAP.rstrip(";").split()
    assert len(answer.attempts) == 1 and "the model was sure of every word" in answer.reason


def test_an_unsure_greedy_query_is_voted_on_with_the_same_samples_as_one_batch(conn):
    replies = [CHEAP, DEAR, DEAR, DEAR]
    answer, calls = _ask(replies, conn, sure=0.3, sure_enough=0.5)
    assert calls == [(0, 1), (1, 3)]  # the samples are numbers 1-3, as in a batch of 4
    batch, batch_calls = _ask(replies, conn, sure=0.3, sure_enough=0.0)
    assert batch_calls == [(0, 4)]
    assert not answer.sure and answer.sql == batch.sql and answer.sql.split() == DEAR.rstrip(";").split()
    assert [a.sql for a in answer.attempts] == [a.sql for a in batch.attempts]


def test_a_sure_greedy_query_that_fails_the_checks_gets_the_samples(conn):
    answer, calls = _ask([BROKEN, CHEAP, CHEAP, CHEAP], conn, sure=0.99, sure_enough=0.5)
    assert calls == [(0, 1), (1, 3)]
    assert not answer.sure and answer.sql.split() == CHEAP.rstrip(";").split()


def test_a_backend_that_cannot_say_how_sure_it_was_writes_every_candidate(conn):
    answer, calls = _ask([CHEAP, DEAR, DEAR, DEAR], conn, sure=None, sure_enough=0.5)
    assert calls == [(0, 4)]  # one batch, as without the option
    assert not answer.sure and answer.sql.split() == DEAR.rstrip(";").split()
