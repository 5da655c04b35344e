"""`? orders above :limit`: psql's variables are substituted before the question goes to the model."""

from __future__ import annotations

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.repl.questions import QuestionHandler
from nl2sql_shell.repl.shell import Shell


def test_a_question_gets_its_variables_before_the_model(fresh_db, monkeypatch):
    target = Target(fresh_db)
    shell = Shell(target, connect(target))
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    asked: list[str] = []
    monkeypatch.setattr(handler, "_wait_for_model", lambda: True)
    monkeypatch.setattr(handler, "_generate", lambda question, insist=False: asked.append(question))
    shell.handle("\\set limit 100")
    handler.ask("? orders above :limit")
    assert asked == ["orders above 100"]
