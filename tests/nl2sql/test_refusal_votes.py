"""Options.refusal_votes: the model's refusals count as votes against the queries that pass.

A scripted model writes exact candidates; the checks, the proof and the vote run on a real
server.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import CHEAP, DEAR, PRODUCTS, Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

SCHEMA = PRODUCTS


conn = database_fixture("refusal_votes", SCHEMA)


def _ask(replies: list[str], conn, on: bool):
    return Asker(Scripted(replies), Options(candidates=4, max_repairs=0, refusal_votes=on)).ask("which products are cheap", conn)


def test_more_refusals_than_agreeing_queries_refuse(conn):
    replies = [REFUSAL_SQL, CHEAP, REFUSAL_SQL, DEAR]
    assert _ask(replies, conn, on=False).kind == "read"  # a query passed: it is the answer
    answer = _ask(replies, conn, on=True)
    assert answer.kind == "refusal" and "2 of 4 candidates say" in answer.reason


def test_a_tie_keeps_the_answer(conn):
    """Answerable questions refused come first: as many agreeing queries as refusals answer."""
    answer = _ask([REFUSAL_SQL, CHEAP, REFUSAL_SQL, CHEAP], conn, on=True)
    assert answer.kind == "read" and answer.sql.rstrip(";").split() == CHEAP.rstrip(";").split()
