"""Candidates in stages where a batch costs each sequence's arithmetic (a CPU): half first, the
rest only when those do not all return the same rows. The answer must be the one all of them
at once would give, for every mix of replies.

A scripted model writes exact candidates; the checks, the proof and the vote run on a real
server.
"""

from __future__ import annotations

import itertools

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
ALSO_CHEAP = "SELECT p.name FROM products p WHERE p.price <= 49;"  # other text, same rows
DEAR = "SELECT name FROM products WHERE price >= 50;"
BROKEN = "SELECT title FROM products;"


class Counting(Scripted):
    def __init__(self, replies: list[str], *, cheap_batches: bool) -> None:
        super().__init__(replies, cheap_batches=cheap_batches)
        self.calls: list[tuple[int, int]] = []

    def generate(self, prompt: str, *, n: int = 1, first: int = 0, **options):
        self.calls.append((first, n))
        return super().generate(prompt, n=n, first=first, **options)


@pytest.fixture(scope="module")
def conn(pg_server):
    with psycopg.connect(create_database(pg_server, "staged_candidates", SCHEMA), autocommit=True) as connection:
        yield connection


def _ask(replies, conn, *, cheap_batches: bool):
    model = Counting(list(replies), cheap_batches=cheap_batches)
    answer = Asker(model, Options(candidates=4, max_repairs=0)).ask("which products are cheap", conn)
    return answer, model.calls


def test_two_that_agree_settle_the_vote(conn):
    answer, calls = _ask([CHEAP, ALSO_CHEAP, DEAR, DEAR], conn, cheap_batches=False)
    assert calls == [(0, 2)] and len(answer.attempts) == 2
    assert answer.sql.rstrip(";").split() == CHEAP.rstrip(";").split()
    assert "2 of 2 checked candidates returned the same rows" in answer.reason


def test_two_that_differ_ask_for_the_other_two(conn):
    answer, calls = _ask([CHEAP, DEAR, DEAR, DEAR], conn, cheap_batches=False)
    assert calls == [(0, 2), (2, 2)] and len(answer.attempts) == 4
    assert answer.sql.rstrip(";").split() == DEAR.rstrip(";").split()


def test_a_gpu_writes_them_all_at_once(conn):
    _, calls = _ask([CHEAP, CHEAP, DEAR, DEAR], conn, cheap_batches=True)
    assert calls == [(0, 4)]


def test_every_mix_of_replies_gets_the_answer_all_at_once_gives(conn):
    for replies in itertools.product((CHEAP, DEAR, BROKEN), repeat=4):
        staged, _ = _ask(replies, conn, cheap_batches=False)
        together, _ = _ask(replies, conn, cheap_batches=True)
        assert (staged.kind, staged.sql) == (together.kind, together.sql), replies


def test_the_answer_counts_its_rounds(conn):
    model = Scripted([BROKEN], cheap_batches=False)
    answer = Asker(model, Options(candidates=4, max_repairs=2)).ask("which products are cheap", conn)
    assert answer.kind == "failed" and answer.rounds == 3
    assert Asker(Scripted([CHEAP]), Options(candidates=4, max_repairs=2)).ask("which products are cheap", conn).rounds == 1
