"""More candidates only when the first batch leaves the answer open (Options.more_candidates).

A scripted model writes exact candidates (numbered, as the seeded backends number theirs: the
more asked for are the next ones); the checks, the proof and the vote run on a real server.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import BROKEN, CHEAP, DEAR, PRODUCTS, Counting, Scripted, words

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

SCHEMA = PRODUCTS


conn = database_fixture("more_candidates", SCHEMA)



def _ask(replies: list[str], conn, more: int):
    model = Counting(replies)
    answer = Asker(model, Options(candidates=4, more_candidates=more, max_repairs=0, greedy_first=False)).ask("which products are cheap", conn)  # a first batch of 4
    return answer, model.calls


def test_a_split_first_batch_is_settled_by_more_samples(conn):
    replies = [CHEAP, DEAR, CHEAP, DEAR, DEAR, DEAR, DEAR, DEAR]
    alone, calls = _ask(replies, conn, more=0)
    assert words(alone.sql) == words(CHEAP) and calls == [(0, 4)]  # a 2-2 tie goes to the first
    answer, calls = _ask(replies, conn, more=4)
    assert calls == [(0, 4), (4, 4)]
    assert words(answer.sql) == words(DEAR)
    assert len(answer.attempts) == 8 and "6 of 8 checked candidates returned the same rows" in answer.reason


def test_a_batch_with_a_strict_majority_is_not_extended(conn):
    answer, calls = _ask([CHEAP, CHEAP, CHEAP, DEAR, DEAR, DEAR, DEAR, DEAR], conn, more=4)
    assert calls == [(0, 4)]
    assert words(answer.sql) == words(CHEAP) and len(answer.attempts) == 4


def test_more_samples_when_no_query_passed(conn):
    answer, calls = _ask([BROKEN, BROKEN, BROKEN, BROKEN, CHEAP], conn, more=4)
    assert calls == [(0, 4), (4, 4)]
    assert answer.kind == "read" and words(answer.sql) == words(CHEAP)


def test_a_model_that_mostly_refuses_is_not_asked_again(conn):
    answer, calls = _ask([REFUSAL_SQL, REFUSAL_SQL, REFUSAL_SQL, BROKEN, CHEAP], conn, more=4)
    assert calls == [(0, 4)]
    assert answer.kind == "refusal"


def test_the_answer_counts_its_rounds(conn):
    """The first round, then one per repair: what `bench --demo-questions` reports."""
    failed = Asker(Scripted([BROKEN]), Options(candidates=4, max_repairs=2)).ask("which products are cheap", conn)
    assert failed.kind == "failed" and failed.rounds == 3
    assert Asker(Scripted([CHEAP]), Options(candidates=4, max_repairs=2)).ask("which products are cheap", conn).rounds == 1
