"""Where the names a question quotes live in the database: "papers by Sarah Williams".

A question names rows by their values: a person ("Sarah Williams"), a place ("Nepal"), a
title ("IEEE Transactions"). The schema shows a few sample values only for columns with
few distinct ones; a name among thousands is invisible to the model, which then compares it
with whatever column is at hand (`review.text LIKE '%Sarah Williams'`). Looking the value up
is what a person would do first: this module finds, for each value-like phrase of the
question (quoted text, capitalised words after the first), the text columns of the tables
shown to the model that hold it, and says so in one line of the prompt. Views are not
scanned (their values are their tables'), nor are foreign tables (another server's).

It reads the data, so it runs like the vote: read-only, with a statement timeout and a wall
clock, outside the user's own transaction only, one scan per table for all phrases at once,
and never on a table too large to scan quickly. Anything that goes wrong means no hint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import pq, sql

from nl2sql_shell.db.execute import catalog_reads
from nl2sql_shell.nl2sql.proof import plain_reads

from .introspect import secret
from .model import Schema, Table
from .render import quote_name

# Larger tables are not scanned, and scanning stops after BUDGET_S: a hint is not worth a slow
# question. A table never analyzed (no estimate) is scanned under the statement timeout.
MAX_ROWS = 200_000
TIMEOUT_MS = 500
BUDGET_S = 1.5
MAX_VALUE_CHARS = 80  # longer values are prose (a review's text), not a name
MAX_COLUMNS = 2  # places named per phrase; more says the phrase is everywhere
MAX_PHRASES = 6

_QUOTED = re.compile(r'"([^"]{2,60})"|“([^”]{2,60})”|(?<!\w)\'([^\']{2,60})\'(?!\w)')
_CONNECTORS = ("of", "de", "la", "du", "van", "von", "the", "&")
_CAPITALISED = re.compile(r"\b[A-Z][\w&'-]*(?:\s+(?:(?:" + "|".join(_CONNECTORS) + r")\s+)?[A-Z][\w&'-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s+)$")


@dataclass(frozen=True)
class ValueMatch:
    """A question's phrase and a column that holds it: exactly (``value``), or inside several
    values (``value`` None: compare with ILIKE)."""

    phrase: str
    table: str  # as a query writes it: schema-qualified when it must be
    column: str
    value: str | None

    def condition(self) -> str:
        """The match as the SQL a person would write for it."""
        target = f"{self.table}.{quote_name(self.column)}"
        if self.value is not None:
            return f"{target} = {_literal(self.value)}"
        return f"{target} ILIKE {_literal('%' + self.phrase + '%')}"


def value_phrases(question: str) -> list[str]:
    """Quoted text, and runs of capitalised words that do not merely start a sentence."""
    phrases = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(question)]
    unquoted = _QUOTED.sub(lambda m: " " * len(m.group(0)), question)
    for m in _CAPITALISED.finditer(unquoted):
        words = m.group(0).split()
        if _SENTENCE_START.search(unquoted[: m.start()]):
            words = words[1:]  # "Which", "List": capitalised because a sentence starts there
        while words and words[0] in _CONNECTORS:
            words = words[1:]
        phrase = " ".join(words).strip("'")
        if len(phrase) >= 2 and phrase != "I":
            phrases.append(phrase)
    return list(dict.fromkeys(phrases))[:MAX_PHRASES]


def find_values(conn: psycopg.Connection, schema: Schema, tables: Sequence[Table], question: str) -> list[ValueMatch]:
    """The text columns of ``tables`` that hold the question's value-like phrases."""
    phrases = value_phrases(question)
    if not phrases or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return []
    found: dict[str, list[ValueMatch]] = {p: [] for p in phrases}
    deadline = time.monotonic() + BUDGET_S
    for table in plainly_scannable(conn, tables):
        columns = [c.name for c in table.columns if c.is_text and not secret(c.name)]
        if not columns:
            continue
        if time.monotonic() > deadline:
            break
        for phrase, column, values in _scan(conn, table, columns, phrases):
            exact = [v for v in values if v.lower() == phrase.lower()]
            value = exact[0] if exact else values[0] if len(values) == 1 else None
            found[phrase].append(ValueMatch(phrase, schema.reference(table), column, value))
    matches = []
    for phrase, places in found.items():
        exact = [m for m in places if m.value is not None and m.value.lower() == phrase.lower()]
        chosen = exact or places
        if 0 < len(chosen) <= MAX_COLUMNS:
            matches += chosen
    return matches


def scannable(table: Table) -> bool:
    """Whether reading ``table``'s values is quick and reads only its own rows: a table or
    materialized view of at most MAX_ROWS estimated rows (a view's scan runs its query; a
    foreign table's reads another server)."""
    return table.kind in ("table", "materialized view") and (table.row_estimate or 0) <= MAX_ROWS


def plainly_scannable(conn: psycopg.Connection, tables: Iterable[Table]) -> list[Table]:
    """Of these tables, the `scannable` ones whose scan runs nothing the proof does not find
    harmless, as they are now: planning a scan folds the constant calls of a table's index
    expressions, CHECKs and statistics, and opening it calls its access method's handler
    (`proof.plain_reads`). Judged by the tables' identities, qualified, as the scan names them."""
    wanted = list(dict.fromkeys(t for t in tables if scannable(t)))
    if not wanted:
        return []
    try:
        with catalog_reads(conn, TIMEOUT_MS) as path:
            found = conn.execute(
                "SELECT n.nspname, c.relname, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([t.schema for t in wanted], [t.name for t in wanted]),
            ).fetchall()
            oids = {(schema, name): oid for schema, name, oid in found}
            plain = plain_reads(conn, path.effective, oids.values())
    except psycopg.Error:
        return []
    return [t for t in wanted if oids.get((t.schema, t.name)) in plain]


def values_hint(matches: Sequence[ValueMatch]) -> str | None:
    """The prompt's line for the matches, or None when there are none."""
    if not matches:
        return None
    return "Values in the database: " + "; ".join(m.condition() for m in matches)


def _scan(conn: psycopg.Connection, table: Table, columns: list[str], phrases: list[str]) -> list[tuple[str, str, list[str]]]:
    """(phrase, column, short distinct values holding it) for every hit in one table scan."""
    patterns = ["%" + _escape_like(p) + "%" for p in phrases]
    pairs = sql.SQL(", ").join(sql.SQL("({}, {}::text)").format(sql.Literal(c), sql.Identifier(c)) for c in columns)
    query = sql.SQL(
        "SELECT DISTINCT p.phrase, x.col, x.val FROM ONLY {table}, LATERAL (VALUES {pairs}) AS x(col, val),"
        " unnest(%(phrases)s::text[], %(patterns)s::text[]) AS p(phrase, pattern)"
        " WHERE x.val ILIKE p.pattern AND length(x.val) <= %(max_chars)s LIMIT 50"
    ).format(table=sql.Identifier(table.schema, table.name), pairs=pairs)
    try:
        with catalog_reads(conn, TIMEOUT_MS), conn.cursor() as cur:
            rows = cur.execute(query, {"phrases": phrases, "patterns": patterns, "max_chars": MAX_VALUE_CHARS}).fetchall()
    except psycopg.Error:
        return []
    hits: dict[tuple[str, str], list[str]] = {}
    for phrase, column, value in rows:
        hits.setdefault((phrase, column), []).append(value)
    return [(phrase, column, sorted(values, key=len)) for (phrase, column), values in hits.items()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
