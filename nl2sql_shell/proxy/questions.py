"""What a question statement is, what the proxy answers, and how `?run` runs a proposal.

The forms a client can send:

- ``? QUESTION`` (``?! QUESTION`` to let the model try words the schema does not have): psql
  sends it at the ``;`` like any statement.
- ``SELECT nl2sql('QUESTION')``: the same question in plain SQL, for JDBC tools (DBeaver,
  DataGrip) that take a bare ``?`` for a bind placeholder; it works through the extended
  protocol too. Quotes inside are doubled as in any SQL string.
- ``?run`` runs the connection's last proposal if it is proven harmless; ``?run yes`` runs one
  that writes or could not be proven (the rule of the REPL's confirmation). ``SELECT
  nl2sql_run()`` and ``SELECT nl2sql_run('yes')`` are the same for JDBC tools. Both work
  through the extended protocol: the proposal runs at the Execute, not at the Parse.

Everything here is synchronous and takes a psycopg connection onto the client's own session
(bridge.py); the proxy calls it from worker threads. Asking goes through `Asker.ask`, the
one pipeline of the REPL and eval; running goes through `OneStatementCursor` and
`read_only_transaction`, as the REPL runs a confirmed answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import psycopg
from psycopg import generators, pq
from psycopg.adapt import Loader
from sqlglot.errors import TokenError

from nl2sql_shell.db.as_sent import backslashes_differ
from nl2sql_shell.db.cells import visible, visible_sql
from nl2sql_shell.db.execute import OneStatementCursor, read_only_transaction
from nl2sql_shell.db.format import column_names, result_columns, text_loading
from nl2sql_shell.nl2sql.examples import ExampleStore
from nl2sql_shell.nl2sql.followup import FOLLOW_UP, READ_TIMEOUT_MS
from nl2sql_shell.nl2sql.parsing import UnlikePostgres, tokenize
from nl2sql_shell.nl2sql.pipeline import Answer, Asker
from nl2sql_shell.nl2sql.proof import prove
from nl2sql_shell.nl2sql.prompt import Example
from nl2sql_shell.proxy.codec import BOOL_OID, TEXT_OID
from nl2sql_shell.schema.introspect import current_role

ANSWER_COLUMNS = (("sql", TEXT_OID), ("tables", TEXT_OID), ("writes", BOOL_OID), ("proven", BOOL_OID), ("reason", TEXT_OID))
# Blanks are taken whole (possessive `*+`): a statement padded with blanks before a last word
# was tried at every split of them, quadratic time on the proxy's event loop (40,000 blanks:
# 10 s during which no client was answered).
_BLANK = r"(?:\s|--[^\n]*+|/\*(?:(?!\*/).)*+\*/)"  # (a comment is blank here too: `?run -- go` runs)
_RUN = re.compile(rf"^{_BLANK}*+\?run(?:{_BLANK}++(yes))?{_BLANK}*+;?{_BLANK}*+$", re.IGNORECASE | re.DOTALL)
_ASK = re.compile(rf"^{_BLANK}*+\?(!?)(.*)$", re.DOTALL)  # (comments before it too: a GUI's `-- from DBeaver` line)
_CALL = re.compile(r"^\s*+select\s++nl2sql\s*+\(\s*+'((?:[^']|'')*+)'\s*+\)\s*+;?\s*+$", re.IGNORECASE | re.DOTALL)
_OUR_NAMES = re.compile(r"\bnl2sql(?:_run)?\b", re.IGNORECASE)
_UNICODE_TEXT = re.compile(r"""(?=U&(["'])((?:(?!\1).|\1\1)*)\1)""", re.IGNORECASE | re.DOTALL)  # (a lookahead: each `U&"` or `U&'`, also one inside another's text)
# (a -- comment runs to its line's end, in one way only: "--" "--" splits of a dashed line
# made the search exponential and held every client of the proxy)
_CONTINUATION = re.compile(r"'[ \t\f\v]*(?:--[^\n\r]*)?[\n\r](?:\s|--[^\n\r]*(?![^\n\r]))*'")  # 'a' <newline> 'b' is 'ab'
_BACKSLASH_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)  # (\\l is l)
_ESCAPE_CHARACTERS = re.compile(r"[^0-9A-Fa-f+'\"\s]")  # what UESCAPE may name
_RUN_CALL = re.compile(r"^\s*+select\s++nl2sql_run\s*+\(\s*+(?:'(yes)'\s*+)?\)\s*+;?\s*+$", re.IGNORECASE)


@dataclass(frozen=True)
class Ask:
    question: str
    insist: bool = False  # `?!`: no refusal of words the schema does not have


@dataclass(frozen=True)
class Run:
    confirmed: bool  # `?run yes`


@dataclass(frozen=True)
class Misused:
    """A statement that calls nl2sql() or nl2sql_run() in another form than the proxy answers
    (a bind parameter, a comment, a schema before the name): sent on, it would call whatever
    the database has under that name, as the client's user, and its answer could pass for the
    proxy's. It is refused instead."""

    message: str = (
        "the proxy answers only SELECT nl2sql('QUESTION'), SELECT nl2sql_run() and SELECT nl2sql_run('yes'), "
        "each alone with its question written as a string literal; this statement was not sent to the server"
    )


def parse_command(sql: str) -> Ask | Run | Misused | None:
    """The question or `?run` in a statement's text, or None for ordinary SQL."""
    if run := _RUN.match(sql):
        return Run(confirmed=run.group(1) is not None)
    if run := _RUN_CALL.match(sql):
        return Run(confirmed=run.group(1) is not None)
    if call := _CALL.match(sql):
        return Ask(call.group(1).replace("''", "'").strip())
    if ask := _ASK.match(sql):
        return Ask(_without_ends(ask.group(2)), insist=ask.group(1) == "!")
    if _names_ours(sql):
        return Misused()
    return None


def _without_ends(text: str) -> str:
    """The question without the blanks around it and the semicolons after it."""
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] == ";"):
        end -= 1
    return text[:end].strip()


def _names_ours(sql: str) -> bool:
    """Whether the statement names nl2sql or nl2sql_run anywhere, as written or spelled with
    escapes: however a call of it is written (a comment before its parenthesis, a schema, a
    bind parameter), it is one of ours. Inside a string constant or a comment too: a constant
    can be code (DO, CREATE FUNCTION, EXECUTE, query_to_xml), and where a constant ends depends
    on settings and encodings only the server knows. So the text is searched as written, with
    string constants that SQL joins joined (`'nl2' <newline> 'sql_run'`), with backslash escapes
    read (E'\\x6c'), and with every `U&"..."` or `U&'...'` read with any escape character it
    could have been given (a UESCAPE clause may follow after comments). A name built at run
    time (`'nl2' || 'sql_run'`) is beyond any reading of the text."""
    texts = {sql, _CONTINUATION.sub("", sql)}
    texts |= {_BACKSLASH_ESCAPE.sub(_escaped_character, text) for text in texts}
    for text in texts:
        if _OUR_NAMES.search(text):
            return True
        for quote, body in _UNICODE_TEXT.findall(text):
            if _spells_ours(body.replace(quote * 2, quote)):
                return True
    return False


def _spells_ours(body: str) -> bool:
    """Whether a U&"..." text, read with any escape character it could be given, names
    nl2sql or nl2sql_run. Read whole for the default (backslash); for any other character,
    only around its escapes of a letter of those names (or its doubling, where it is one): a
    name spelled with it lies within _NEAR characters of one. Reading the whole text once per
    character it holds held every client of the proxy (40,000 distinct characters: 48 s)."""
    if _OUR_NAMES.search(body) or _OUR_NAMES.search(_unescaped(body, "\\")):
        return True
    anchors: dict[str, list[int]] = {}
    for m in _ESCAPE_OF.finditer(body):
        escape, code = m.group(1), m.group(2) or m.group(3)
        if (chr(int(code, 16)) if code else escape).lower() in _NAME_LETTERS:
            anchors.setdefault(escape, []).append(m.start())
    for escape, places in anchors.items():
        start = end = None
        for place in [*places, None]:
            if start is not None and (place is None or place - end > _NEAR):  # a window ends: read it
                low = max(start - _NEAR, 0)
                while low and body[low - 1] == escape:  # (a run of them pairs up from its start)
                    low -= 1
                if _OUR_NAMES.search(_unescaped(body[low : end + _NEAR], escape)):
                    return True
                start = None
            if place is not None:
                start, end = (place if start is None else start), place
    return False


# An escape (XXXX or +XXXXXX) or a doubled escape character, at each place one may start;
# the letters of our names; how far a name spelled with escapes reaches from one (10
# characters of at most 8 written each, and a margin that no other escape of the same
# character lies in, so that a window never starts inside one)
_ESCAPE_OF = re.compile(r"""(?=([^0-9A-Fa-f+'"\s])(?:\+([0-9A-Fa-f]{6})|([0-9A-Fa-f]{4})|\1))""")
_NAME_LETTERS = frozenset("nl2sq_ru")
_NEAR = 90


def _escaped_character(match: re.Match[str]) -> str:
    """The character of an E'' string's backslash escape (``\\x6c``, ``\\154``, ``\\u006c``; an
    octal byte is taken mod 256, as the server takes it; any other character stands for
    itself: ``\\l`` is l)."""
    if match.group(5) is not None:
        return match.group(5)
    if match.group(2) is not None:
        return chr(int(match.group(2), 8) & 0xFF)
    try:
        return chr(int(match.group(1) or match.group(3) or match.group(4), 16))
    except (ValueError, OverflowError):
        return match.group()


def _unescaped(body: str, escape: str) -> str:
    """A U&"..." identifier's text: XXXX and +XXXXXX after the escape character are code points."""
    pattern = re.escape(escape) + r"(?:\+([0-9A-Fa-f]{6})|([0-9A-Fa-f]{4})|(" + re.escape(escape) + "))"
    return re.sub(pattern, lambda m: escape if m.group(3) else chr(int(m.group(1) or m.group(2), 16)), body)


@dataclass(frozen=True)
class Notice:
    """A notice's fields, copied while psycopg still holds the server's message: a Diagnostic
    read after its result is freed is empty (psql then shows "no error message available")."""

    severity: str | None
    severity_nonlocalized: str | None
    sqlstate: str | None
    message_primary: str | None
    message_detail: str | None
    message_hint: str | None
    statement_position: str | None
    context: str | None

    @classmethod
    def of(cls, diag: psycopg.errors.Diagnostic) -> Notice:
        return cls(*(getattr(diag, f.name) for f in fields(cls)))


@dataclass
class RunResult:
    """A proposal's result, as text values, ready to be written to the client."""

    columns: list[tuple[str, int]] | None  # None when the statement returns no rows
    rows: list[tuple[str | bytes | None, ...]]  # bytes: binary format
    tag: str
    notices: list[Notice] = field(default_factory=list)


class NotRunnable(Exception):
    """`?run` refused: nothing proposed, or a proposal that needs `?run yes`."""


@dataclass
class Conversation:
    """One client connection's questions: its last proposal and the follow-up history.

    Unlike the REPL, a proposal counts for follow-ups as soon as it is shown: through the
    proxy a person often runs the SQL themselves, or edits it, instead of `?run`.
    """

    stores: Callable[[str], ExampleStore]  # the examples memory of this database for a role
    last: Answer | None = None
    history: list[Example] = field(default_factory=list)

    def forget(self) -> None:
        """DISCARD ALL: a pooler hands the session to another client, who must neither run
        this one's proposal nor have its questions in a follow-up's prompt."""
        self.last = None
        self.history.clear()

    def _store(self, conn: psycopg.Connection) -> ExampleStore | None:
        """The examples of the role the session acts as now (SET ROLE, `options=-c role=`), not
        the one it logged in as: one role's literals were examples in another's prompt. None
        in a failed transaction, where no one can ask."""
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            return None
        return self.stores(current_role(conn))

    def ask(self, asker: Asker, conn: psycopg.Connection, command: Ask, cancel: threading.Event) -> Answer:
        """The answer to a question; it is what `?run` runs next, and a question with no
        proposal (refused, failed, cancelled) leaves nothing to run, not the one before."""
        self.last = None
        history = self.history[-1:] if self.history and FOLLOW_UP.search(command.question) else []
        store = self._store(conn)
        answer = asker.ask(
            command.question,
            conn,
            examples=store.similar(command.question) if store else [],
            history=history,
            cancel=cancel,
            check_grounding=not command.insist,
        )
        if answer.kind in ("read", "write") and answer.sql:
            self.last = answer
            self.history.append(Example(answer.question, answer.sql))
        return answer

    def shown_again(self, answer: Answer) -> None:
        """A question's statement executed again (a driver's prepared statement) shows its
        old answer, not the proposal asked since: that one is no longer what the client saw
        last, so nothing runs until a question is asked again. (Not the old answer either:
        the proxy sees the client's Bind, not whether the server took it and the client got
        its row.)"""
        if self.last is not answer:
            self.withdraw()

    def withdraw(self) -> None:
        """Nothing to run until the next question: the client may have been shown an older
        answer since the last proposal (see shown_again)."""
        self.last = None

    def run(self, conn: psycopg.Connection, command: Run, *, binary: bool = False) -> RunResult:
        """Run the last proposal once: a proven read READ ONLY with a timeout; anything else
        only with `?run yes`, a write as itself and an unproven read still READ ONLY.
        ``binary``: the values in binary format, as a client's Bind asked for them."""
        answer = self.last
        if answer is None or answer.sql is None:
            raise NotRunnable("no proposal to run: ask a question with ? first")
        if not answer.proven and not command.confirmed:
            what = "writes" if answer.writes else "may have side effects (not proven harmless)"
            raise NotRunnable(f"not run: this statement {what}; read it, then send ?run yes to run it")
        if not command.confirmed and not (proof := prove(conn, answer.sql)).proven:  # the schema may have changed since
            raise NotRunnable(f"not run: since it was proposed, it may have side effects ({'; '.join(proof.reasons)}); read it, then send ?run yes to run it")
        if answer.writes and (problem := backslashes_differ(conn, answer.sql)):
            raise NotRunnable(f"not run: {problem}")
        if _copies_with_the_client(answer.sql):  # psycopg here cannot feed or take its rows: the server would wait in COPY
            raise NotRunnable("not run: a COPY from STDIN or to STDOUT runs only as your own statement")
        self.last = None  # run once, whatever comes of it: a second ?run must not repeat a write, nor one that failed or was cancelled
        result = execute(conn, answer.sql, read_only=not answer.writes, statement_timeout_ms=None if answer.writes else READ_TIMEOUT_MS, binary=binary)
        if store := self._store(conn):
            store.add(answer.question, answer.sql)
        return result

    def describe(self, conn: psycopg.Connection, *, confirmed: bool) -> list[tuple[str, int]] | None:
        """The columns the last proposal would return (None: no rows, nothing proposed, or
        nothing that may be parsed yet), from the server's Parse and Describe of it, in a
        read-only transaction. Parsing alone may run code (a literal of a domain checks its
        CHECK), so only a proposal proven harmless now, or one the client confirmed with
        `?run yes`, is parsed; another's Execute is refused as `run` refuses it."""
        answer = self.last
        if answer is None or answer.sql is None:
            return None
        if not confirmed and not (answer.proven and prove(conn, answer.sql).proven):
            return None
        return describe(conn, answer.sql)


def _copies_with_the_client(sql: str) -> bool:
    """A COPY that names STDIN or STDOUT anywhere (read whole words, outside strings and
    comments; a statement the tokenizer cannot read counts as one: refusing is safe)."""
    try:
        words = [token.text.upper() for token in tokenize(sql)]
    except (TokenError, UnlikePostgres):
        return True
    return bool(words) and words[0] == "COPY" and not {"STDIN", "STDOUT"}.isdisjoint(words)


def execute(conn: psycopg.Connection, sql: str, *, read_only: bool, statement_timeout_ms: int | None, binary: bool = False) -> RunResult:
    """One statement (the extended protocol refuses a second), its rows fetched as the
    server's text, or as its binary format's bytes."""
    notices: list[Notice] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(Notice.of(diag))

    conn.add_notice_handler(keep)
    try:
        return _execute(conn, sql, read_only=read_only, statement_timeout_ms=statement_timeout_ms, binary=binary, notices=notices)
    finally:
        conn.remove_notice_handler(keep)


def _execute(conn: psycopg.Connection, sql: str, *, read_only: bool, statement_timeout_ms: int | None, binary: bool, notices: list[Notice]) -> RunResult:
    with OneStatementCursor(conn) as cur:
        if binary:
            raw_binary_loading(cur)
        else:
            text_loading(cur)
        if read_only:
            with read_only_transaction(conn, statement_timeout_ms):
                cur.execute(sql, prepare=False, binary=binary)
                rows = cur.fetchall() if result_columns(cur) is not None else []
        else:
            cur.execute(sql, prepare=False, binary=binary)
            rows = cur.fetchall() if result_columns(cur) is not None else []
        columns = result_columns(cur)
        return RunResult(columns, rows, cur.statusmessage or "", notices)


def describe(conn: psycopg.Connection, sql: str) -> list[tuple[str, int]] | None:
    """Parse and Describe ``sql`` as the unnamed statement (one statement: a Parse takes no
    more), inside a read-only transaction that rolls back. None: it returns no rows."""
    encoding, pgconn = conn.info.encoding, conn.pgconn
    with read_only_transaction(conn):
        # libpq's blocking calls would hold the GIL, and the proxy's loop runs in this process:
        # send, then wait as psycopg does.
        pgconn.send_prepare(b"", sql.encode(encoding))
        (prepared,) = conn.wait(generators.execute(pgconn))
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(prepared, encoding=encoding)
        pgconn.send_describe_prepared(b"")
        (described,) = conn.wait(generators.execute(pgconn))
        if described.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(described, encoding=encoding)
    names = column_names(described, encoding)
    return [(names[i], described.ftype(i)) for i in range(described.nfields)] or None


class _RawBinary(Loader):
    format = pq.Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data)


def raw_binary_loading(cur: psycopg.Cursor) -> None:
    """Binary-format values as the server's bytes, whatever the type (see text_loading)."""
    oids = {0}
    for info in cur.adapters.types:
        oids.update((info.oid, info.array_oid))
    for oid in oids:
        cur.adapters.register_loader(oid, _RawBinary)


def answer_row(answer: Answer) -> tuple[str | None, ...]:
    """The row the proxy returns for a question: sql, tables, writes, proven, reason. Each
    text shown with its control, bidi and zero-width characters escaped, as the REPL shows
    them: a client prints the row (psql -A passes ESC through), and `?run` runs the
    proposal the proxy kept, not this text."""
    shown = answer.kind in ("read", "write")
    sql = visible_sql(answer.sql) if shown and answer.sql is not None else None
    escaped = " (the sql holds control, invisible or look-alike characters, shown as \\t, \\xNN or \\uNNNN escapes)" if sql != (answer.sql if shown else None) else ""
    return (
        sql,
        visible(", ".join(answer.tables_read)) if shown else None,
        "t" if answer.writes else "f",
        "t" if answer.proven else "f",
        visible(verdict(answer)) + escaped,
    )


def verdict(answer: Answer) -> str:
    """Why this SQL can or cannot run, and how: the REPL's summary line, for a client."""
    if answer.kind == "refusal":
        if not answer.absent:
            return "the model says this database cannot answer that question"
        return f"this database cannot answer that: {answer.reason}; use the schema's words, or ask with ?! to let the model try anyway"
    if answer.kind == "cancelled":
        return "generation stopped"
    if answer.kind == "failed" or answer.sql is None:
        return f"no usable SQL: {answer.reason}"
    if answer.writes:
        return "WRITES: " + "; ".join(answer.safety.reasons if answer.safety else []) + "; not run: send ?run yes to run it"
    if not answer.proven:
        why = "; ".join(answer.proof.reasons) if answer.proof is not None else "not checked"
        return f"MAY HAVE SIDE EFFECTS: not proven harmless ({why}); not run: send ?run yes to run it"
    return f"{answer.reason}; not run: send ?run to run it"


def notice_text(answer: Answer) -> str:
    """The NOTICE psql shows above the result: the SQL itself, then the verdict."""
    row = answer_row(answer)  # escaped: psql prints a notice as it comes, nothing in it may move the cursor
    return f"{row[0]}\n-- {row[4]}" if row[0] else row[4] or ""
