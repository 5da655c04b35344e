"""psql's AUTOCOMMIT off and ON_ERROR_ROLLBACK, around each statement the user runs, and the
implicit transaction of a query of several statements where the shell sends them one by one.

With AUTOCOMMIT off, psql sends a silent BEGIN before the first statement that is not itself
transaction control (or a command that cannot run in a transaction block), so that work stays
uncommitted until COMMIT. With ON_ERROR_ROLLBACK (on, or interactive at the prompt), each
statement inside a transaction runs under a savepoint, so that an error undoes only that
statement and the transaction goes on. Both follow psql 15's common.c.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
from psycopg import pq

from nl2sql_shell.db.execute import Outcome
from nl2sql_shell.repl.variables import boolean

SAVEPOINT = "pg_psql_temporary_savepoint"
_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/)*")
_WORD = re.compile(r"[A-Za-z]+")  # psql's isalpha() run: `(vacuum` has no first word, `vacuum_x` is vacuum
# First words after which psql sends no BEGIN (psql's command_no_begin): transaction control
# but for the savepoint commands, which need the transaction BEGIN opens.
_NO_BEGIN = {"abort", "begin", "start", "commit", "end", "rollback", "vacuum"}
_NO_BEGIN_PAIRS = {
    ("prepare", "transaction"),  # PREPARE foo is a statement like any other
    ("discard", "all"),  # the other DISCARDs run inside a transaction
    ("alter", "system"),
    ("create", "database"),
    ("drop", "database"),
    ("create", "tablespace"),
    ("drop", "tablespace"),
}
# psql leaves its savepoint alone after the user's own transaction control, in any result of
# the query (`savepoint a \\; insert ...`: releasing its own would release the user's too).
_SAVEPOINT_GONE = ("COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def _words(sql: str, count: int) -> list[str]:
    """The first ``count`` words as psql's command_no_begin reads them: each right after the
    blanks and comments that end the one before; none past anything else (`(`, `;`)."""
    words: list[str] = []
    pos = 0
    while len(words) < count:
        pos = _LEADING_NOISE.match(sql, pos).end()  # type: ignore[union-attr]
        if (word := _WORD.match(sql, pos)) is None:
            break
        words.append(word.group().lower())
        pos = word.end()
    return words


def needs_no_begin(sql: str) -> bool:
    """Transaction control, VACUUM, CREATE/DROP DATABASE and the others psql runs bare."""
    words = _words(sql, 4)
    if not words:
        return _LEADING_NOISE.match(sql).end() == len(sql)  # type: ignore[union-attr]  # (`(vacuum)` gets its BEGIN, as psql's)
    first = words[0]
    if first in _NO_BEGIN or (first == "cluster" and len(words) == 1):
        return True
    if tuple(words[:2]) in _NO_BEGIN_PAIRS:
        return True
    if first == "reindex" and len(words) > 1 and (words[1] in ("database", "system") or "concurrently" in words[1:3]):
        return True
    return first in ("create", "drop") and "index" in words[1:3] and "concurrently" in words[1:4]


def run_in_transaction_mode(
    conn: psycopg.Connection, sql: str, variables: dict[str, str], interactive: bool, run: Callable[[], Outcome]
) -> Outcome:
    """Run ``run`` (one user statement) with AUTOCOMMIT and ON_ERROR_ROLLBACK applied."""
    if conn.info.transaction_status == pq.TransactionStatus.IDLE and not boolean(variables.get("AUTOCOMMIT"), True) and not needs_no_begin(sql):
        conn.execute("BEGIN")
    mode = variables.get("ON_ERROR_ROLLBACK", "off").strip().lower()
    wanted = boolean(mode) or (mode == "interactive" and interactive)
    savepoint = wanted and conn.info.transaction_status == pq.TransactionStatus.INTRANS
    if savepoint:
        conn.execute(f"SAVEPOINT {SAVEPOINT}")
    outcome = run()
    if not savepoint or conn.closed or conn.broken:
        return outcome
    status = conn.info.transaction_status
    if status == pq.TransactionStatus.INERROR:
        conn.execute(f"ROLLBACK TO {SAVEPOINT}")
    elif status == pq.TransactionStatus.INTRANS and not any(tag.startswith(_SAVEPOINT_GONE) for tag in outcome.tags or (outcome.status or "",)):
        conn.execute(f"RELEASE {SAVEPOINT}")
    return outcome


def no_transaction(ok: bool) -> None:
    """(No transaction of the shell's own to end.)"""


def implicit_transaction(conn: psycopg.Connection, statements: list[str], variables: dict[str, str]) -> Callable[[bool], None]:
    """psql sends statements joined by ``\\;`` as one query, one implicit transaction: a failing
    statement undoes the ones before it. Where the shell runs them one by one (to take the last
    one's rows), outside a transaction with AUTOCOMMIT on, a BEGIN of its own stands for it;
    returns what ends it, called with whether all went well (COMMIT, else ROLLBACK). Statements
    holding transaction control or a command that runs outside transactions (VACUUM) run as
    before, one after another, with nothing begun."""
    if conn.info.transaction_status != pq.TransactionStatus.IDLE or not boolean(variables.get("AUTOCOMMIT"), True) or any(map(needs_no_begin, statements)):
        return no_transaction
    conn.execute("BEGIN")

    def ended(ok: bool) -> None:
        if not (conn.closed or conn.broken):
            conn.execute("COMMIT" if ok and conn.info.transaction_status == pq.TransactionStatus.INTRANS else "ROLLBACK")

    return ended
