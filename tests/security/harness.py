"""Drive the whole `?` path with a scripted model, the way a person or `-c` would, and look
for what a model-written statement did on the server.

Every case asks a question whose answer the model "writes" (tests/scripted.py), lets the shell
do what it does (checks, EXPLAIN, voting between candidates, the confirmation), and then looks
for the effect itself from another session while the shell's own connection is still open:
a session-level advisory lock, for one, goes away with the connection that took it.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.output import Output
from nl2sql_shell.repl.questions import QuestionHandler
from nl2sql_shell.repl.shell import Shell
from scripted import Scripted

# How the person meets the model's SQL:
#   answer_n        interactive, the person answers `n`;
#   unattended      `-c '? ...'` without --yes (prints only);
#   unattended_yes  `-c '? ...' --yes` (runs what is proven harmless, nothing else);
#   answer_enter    interactive, the person presses Enter (runs what is proven harmless, nothing else).
MODES = ("answer_n", "unattended", "unattended_yes", "answer_enter")
RUNNING_MODES = ("unattended_yes", "answer_enter")  # where an innocent read must run
QUESTION = "? how many accounts are there"

SETUP_ACCOUNTS = """
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 250), (3, 'cy', 75);
"""
INNOCENT = "SELECT count(*) AS n FROM accounts"
INNOCENT_ANSWER = " n \n---\n 3\n(1 row)"


@dataclass
class Asked:
    """One shell with a scripted model; `out`, `err` and `prompts` say what the person saw."""

    shell: Shell
    handler: QuestionHandler
    out: io.StringIO
    err: io.StringIO
    prompts: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.shell.conn.info.backend_pid

    def ask(self, question: str = QUESTION) -> None:
        self.shell.handle(question)

    @property
    def shown(self) -> str:
        return self.out.getvalue() + self.err.getvalue()


@contextlib.contextmanager
def asking(conninfo: str, replies: list[str], mode: str, answers: list[str] | None = None) -> Iterator[Asked]:
    """A shell on `conninfo` whose model writes `replies` (one per candidate, so 2-4 replies
    mean voting); the person answers `answers` (default: what `mode` says) and then `n`."""
    assert mode in MODES, mode
    interactive = mode.startswith("answer_")
    out, err = io.StringIO(), io.StringIO()
    target = Target(conninfo)
    shell = Shell(target, connect(target), interactive=interactive, output=Output(out, use_pager=False), errors=err)
    asker = Asker(Scripted(list(replies)), Options(candidates=len(replies)))
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None, asker=asker, assume_yes=mode == "unattended_yes")
    asked = Asked(shell, handler, out, err)
    if interactive:
        queue = list(answers if answers is not None else (["n"] if mode == "answer_n" else [""]))

        def confirm(prompt: str) -> str:
            asked.prompts.append(prompt)
            return queue.pop(0) if queue else "n"

        handler.confirm = confirm
    shell.questions = handler
    try:
        yield asked
    finally:
        shell.close()


def ask_once(conninfo: str, replies: list[str], mode: str, check: Callable[[Asked], None], answers: list[str] | None = None, question: str = QUESTION) -> Asked:
    """Ask, then run `check` while the shell's connection is still open."""
    with asking(conninfo, replies, mode, answers) as asked:
        asked.ask(question)
        check(asked)
    return asked


def replies_for(attack: str, shape: str = "with_innocent") -> list[str]:
    """2-4 candidates so that the pipeline votes: the attack beside an innocent query, or alone."""
    if shape == "with_innocent":
        return [attack, INNOCENT, attack]
    return [attack, attack]


# -- looking from another session -------------------------------------------------------------------


def query(conninfo: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(conninfo: str, sql: str, params: tuple = ()):
    return query(conninfo, sql, params)[0][0]


class Victim:
    """A second session the attack tries to end: alive means it still answers and is listed."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.pid = self.conn.info.backend_pid

    def alive(self) -> bool:
        try:
            answered = self.conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            answered = False
        listed = scalar(self.conninfo, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (self.pid,)) == 1
        return answered and listed

    def close(self) -> None:
        self.conn.close()


def advisory_locks(conninfo: str, key: int) -> int:
    """Advisory locks on `key` held by any session of the database, seen from another one."""
    return scalar(
        conninfo,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (key,),
    )


def conf_load_time(conninfo: str):
    """When the server last read its configuration, as a new session inherits it."""
    return scalar(conninfo, "SELECT pg_conf_load_time()")


def settle(seconds: float = 0.3) -> None:
    """Let an asynchronous effect (a reload, a signal) land before looking for it."""
    time.sleep(seconds)


@contextlib.contextmanager
def old_voting_path(conn: psycopg.Connection) -> Iterator[None]:
    """How an older build ran a read candidate while voting: a READ ONLY transaction, rolled
    back, nothing else. The detector tests run attacks this way to show that each check above
    sees the effect when it happens (written out here, not taken from the product's code)."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL transaction_read_only = on")
        yield
