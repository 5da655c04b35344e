"""`?` at the confirmation: the model says why its query answers the question, streamed a
whole sentence at a time, so that a reply the token limit cuts off ends on a full stop."""

from __future__ import annotations

import io
import re

import pytest
from scripted import Scripted

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.output import Output
from nl2sql_shell.repl.questions import QuestionHandler
from nl2sql_shell.repl.shell import Shell

QUERY = "SELECT 1 AS one"


class Explaining(Scripted):
    """Writes QUERY for the question, and `explanation` when asked why, streamed in pieces
    as a backend streams them, ending for the reason `finish` gives."""

    def __init__(self, explanation: str, finish: str) -> None:
        super().__init__([QUERY])
        self.explanation, self.explained = explanation, finish

    def generate(self, prompt: str, **options):
        if "Why does this query answer the question?" not in prompt:
            return super().generate(prompt, **options)
        for piece in re.findall(r"\S+\s*", self.explanation):
            options["on_text"](piece)
        explaining = Scripted([self.explanation])
        explaining.finish = self.explained
        return explaining.generate(prompt)


def _explained(conninfo: str, explanation: str, finish: str) -> str:
    out = io.StringIO()
    target = Target(conninfo)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=io.StringIO())
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    replies = ["?", "n"]
    handler.confirm = lambda prompt: replies.pop(0)
    handler.asker = Asker(Explaining(explanation, finish), Options(max_repairs=0, candidates=1))
    shell.questions = handler
    handler.ask("? what is one")
    return out.getvalue()


@pytest.mark.parametrize(
    ("explanation", "finish", "shown"),
    [
        ("\nIt selects the number one. Nothing is read. Then it rambles on about the colu", "length", "It selects the number one. Nothing is read.\nDropped."),
        ("It selects the number one. Nothing is read", "stop", "It selects the number one. Nothing is read\nDropped."),
        ("It selects the number one and then goes on and on about the colu", "length", "It selects the number one and then goes on and on about the colu…\nDropped."),
    ],
    ids=["cut after two sentences", "ended by the model", "one long cut sentence"],
)
def test_the_explanation_ends_on_a_whole_sentence(fresh_db, explanation, finish, shown):
    assert _explained(fresh_db, explanation, finish).endswith(shown + "\n")
