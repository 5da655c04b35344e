"""`e` at a `?` answer's confirmation without readline (-n): the SQL waits in the query
buffer and is shown again after the prompt, as psql shows what `\\e` left there."""

from __future__ import annotations

import io
import sys

from scripted import Scripted

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.output import Output
from nl2sql_shell.repl.plain import run_plain
from nl2sql_shell.repl.questions import QuestionHandler
from nl2sql_shell.repl.shell import Shell


def _run_plain(conninfo: str, monkeypatch, reply: str, typed: str) -> tuple[str, str, str]:
    """The plain prompt on ``typed``, a scripted model writing ``reply``: (what the terminal
    showed, the results, the first prompt)."""
    out = io.StringIO()
    target = Target(conninfo)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=io.StringIO())
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    handler.asker = Asker(Scripted([reply]), Options(max_repairs=0, candidates=1))
    shell.questions = handler
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    monkeypatch.setattr(sys, "stdout", terminal)
    prompt = shell.prompts.first()
    run_plain(shell)
    return terminal.getvalue(), out.getvalue(), prompt


def test_edit_at_the_confirmation_shows_the_sql_in_the_buffer_and_the_next_line_ends_it(fresh_db, monkeypatch):
    terminal, out, prompt = _run_plain(fresh_db, monkeypatch, "SELECT 41 + 1 AS answer", "? the answer\ne\n;\n")
    assert f"Run it? [Enter=run, e=edit, n=drop, ?=why] {prompt}SELECT\n  41 + 1 AS answer\n" in terminal
    assert " answer \n--------\n     42\n(1 row)\n" in out  # the ; ended the buffer, which ran


def test_an_answer_with_control_characters_is_not_put_in_the_buffer_to_edit(fresh_db, monkeypatch):
    """The redisplay wrote the model's text raw: an erase-line escape in a comment hid the
    FROM clause on the screen while the buffer held it. Such an answer is not editable (a
    buffer shows its characters as typed); the confirmation asks again, and nothing is raw."""
    terminal, out, _ = _run_plain(fresh_db, monkeypatch, "SELECT 1 AS n /* \x1b[2K\x1b[1Ghidden */", "?! the answer\ne\nn\n")
    assert "\x1b" not in terminal + out and terminal.count("Run it? [Enter=run, e=edit, n=drop, ?=why] ") == 2 and "Dropped." in out
