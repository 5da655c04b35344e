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


class Interrupted(Scripted):
    """Streams the start of a query, then the person presses Ctrl-C (SIGINT to the main
    thread, as the terminal sends it), and stops at the cancel as a backend does."""

    def __init__(self, streamed: str) -> None:
        super().__init__([QUERY])
        self.streamed = streamed

    def generate(self, prompt: str, **options):
        import os
        import signal

        for line in self.streamed.splitlines(keepends=True):
            options["on_text"](line)
        os.kill(os.getpid(), signal.SIGINT)
        options["cancel"].wait(10)
        stopped = Scripted([self.streamed])
        stopped.finish = "cancelled"
        return stopped.generate(prompt)


@pytest.mark.parametrize("streamed", ["SELECT", "SELECT\n  branch,\n  COUNT(*)\nFROM"])
def test_ctrl_c_while_the_model_writes_leaves_the_message_and_no_draft(fresh_db, monkeypatch, streamed):
    """The dim draft is erased before "Generation stopped." is written, so the screen shows
    the question and the message, not a stray first line of SQL."""
    import signal
    import sys

    import pyte

    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)  # where the draft streams
    signal.signal(signal.SIGINT, signal.default_int_handler)
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(terminal, use_pager=False), errors=terminal)
    shell.conn.execute("CREATE TABLE copy (copy_id int PRIMARY KEY, branch text)")
    shell.conn.commit()
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    handler.asker = Asker(Interrupted(streamed), Options(max_repairs=0, candidates=1))
    shell.questions = handler
    terminal.write("lib=# ? copies per branch\n")
    handler.ask("? copies per branch")
    screen = pyte.Screen(80, 10)
    pyte.Stream(screen).feed(terminal.getvalue().replace("\n", "\r\n"))
    assert [line.rstrip() for line in screen.display if line.strip()] == ["lib=# ? copies per branch", "Generation stopped."]
    assert shell.last_failed


def test_ctrl_c_while_a_check_runs_gives_back_an_idle_connection(fresh_db, monkeypatch):
    """The candidate's check is busy on the server (its plan folds a slow immutable function).
    Ctrl-C gave the prompt back while the shell's read-only transaction still ran on the
    connection: what the person typed next ran inside it (a SET ROLE undone, an UPDATE
    refused). Now the server statement is cancelled too, and the prompt comes back with the
    connection idle."""
    import signal
    import threading
    import time

    from psycopg import pq

    signal.signal(signal.SIGINT, signal.default_int_handler)
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    shell.conn.execute("CREATE TABLE copy (copy_id int PRIMARY KEY, branch text)")
    shell.conn.execute("CREATE FUNCTION slow() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT count(*) FROM generate_series(1, 300000000) $$")
    shell.conn.commit()
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    handler.asker = Asker(Scripted(["SELECT branch, count(*) FROM copy WHERE slow() > 0 GROUP BY branch"]), Options(max_repairs=0, candidates=1))
    shell.questions = handler
    interrupt = threading.Timer(1.5, lambda: __import__("os").kill(__import__("os").getpid(), signal.SIGINT))
    interrupt.start()
    try:
        started = time.monotonic()
        handler.ask("? copies per branch")
        waited = time.monotonic() - started
    finally:
        interrupt.cancel()  # never a Ctrl-C after the test
    assert waited < 8 and shell.conn.info.transaction_status == pq.TransactionStatus.IDLE
    assert "Generation stopped." in shell.errors.getvalue()
    assert shell.conn.execute("SELECT current_user = session_user").fetchone() == (True,)


def test_a_question_on_a_table_another_session_holds_locked_fails_soon_and_says_why(fresh_db):
    """Each candidate's check waited out the statement timeout (10 s) on the lock; now the
    check waits for no lock (another session could swap the table meanwhile): it fails at
    once with the server's line, and the answer says so."""
    import time

    import psycopg

    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    shell.conn.execute("CREATE TABLE copy (copy_id int PRIMARY KEY, branch text)")
    shell.conn.commit()
    asker = Asker(Scripted(["SELECT branch, count(*) FROM copy GROUP BY branch"]), Options(max_repairs=0, candidates=2))
    asker.schemas.get(shell.conn)
    shell.conn.rollback()
    with psycopg.connect(fresh_db) as other:
        other.execute("LOCK TABLE copy IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        answer = asker.ask("copies per branch", shell.conn)
        assert time.monotonic() - started < 3
        assert answer.kind == "failed" and "lock timeout" in answer.reason
