"""A question is refused when two pieces of evidence meet: a content word of the question that
nothing in the database matches, and the model's own doubt (the probability it gives to
beginning its refusal reaches `Options.refusal_doubt`). Either alone is no refusal. The doubt
is read before any query is written, so a refused question costs no generation.

A scripted model says what probability it gives (`Scripted.doubt`) and counts its calls; the
schema (a shop) is from no benchmark, and the checks run on a real server.
"""

from __future__ import annotations

import math

from conftest import database_fixture
from scripted import CHEAP, PRODUCTS, Counting

from nl2sql_shell.nl2sql import REFUSAL_DOUBT_LOGPROB
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_OPENING, REFUSAL_SQL

conn = database_fixture("refusal_doubt", PRODUCTS)

UNMATCHED = "what is the price of each product for loyalty members"  # "loyalty", "members": nowhere in the shop
GROUNDED = "what is the price of each product"

DOUBTFUL = REFUSAL_DOUBT_LOGPROB + 1.0  # the model gives its refusal a little more than the bar
SURE = REFUSAL_DOUBT_LOGPROB - 1.0


class Doubting(Counting):
    """Counting, and each logprob() call written down: which text the pipeline asked about."""

    def __init__(self, replies: list[str], doubt: float | None) -> None:
        super().__init__(replies)
        self.doubt = doubt
        self.asked: list[str] = []

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        self.asked.append(text)
        return self.doubt


def _ask(model: Doubting, question: str, conn, **ask):
    return Asker(model, Options(candidates=2, max_repairs=0)).ask(question, conn, **ask)


def test_an_unmatched_word_and_the_models_doubt_are_a_refusal_before_any_query_is_written(conn):
    model = Doubting([CHEAP], DOUBTFUL)
    answer = _ask(model, UNMATCHED, conn)
    assert answer.kind == "refusal" and answer.sql == REFUSAL_SQL
    assert answer.absent == ("loyalty", "members")
    share = math.exp(DOUBTFUL)
    assert answer.reason == f'nothing in this database matches "loyalty", "members", and the model itself gives refusing a chance of {share:.1%}'
    assert model.asked == [REFUSAL_OPENING] and model.calls == []  # nothing generated


def test_a_sure_model_answers_the_same_question(conn):
    model = Doubting([CHEAP], SURE)
    answer = _ask(model, UNMATCHED, conn)
    assert answer.kind == "read" and "price < 50" in answer.sql
    assert model.asked == [REFUSAL_OPENING] and model.calls == [(0, 1)]


def test_doubt_without_an_unmatched_word_is_not_asked_for(conn):
    model = Doubting([CHEAP], 0.0)  # the model would refuse outright
    assert _ask(model, GROUNDED, conn).kind == "read" and model.asked == []


def test_a_backend_that_cannot_tell_answers(conn):
    assert _ask(Doubting([CHEAP], None), UNMATCHED, conn).kind == "read"


def test_insisting_with_bang_or_switching_it_off_answers(conn):
    assert _ask(Doubting([CHEAP], DOUBTFUL), UNMATCHED, conn, check_grounding=False).kind == "read"
    model = Doubting([CHEAP], DOUBTFUL)
    answer = Asker(model, Options(candidates=2, max_repairs=0, refusal_doubt=None)).ask(UNMATCHED, conn)
    assert answer.kind == "read" and model.asked == []


def test_the_shell_says_the_database_cannot_answer(conn):
    from nl2sql_shell.proxy.questions import verdict

    answer = _ask(Doubting([CHEAP], DOUBTFUL), UNMATCHED, conn)
    assert verdict(answer).startswith('this database cannot answer that: nothing in this database matches "loyalty", "members"')
