"""Execution-match scoring of a predicted query against a defog sql-eval gold cell.

The rules follow defog-ai/sql-eval (``eval/eval.py``), re-implemented without pandas:

* a gold cell holds alternatives separated by ``;`` and ``{a, b}`` in a SELECT list stands for
  every non-empty subset of those columns (``{}`` elsewhere, as in ``GROUP BY {}``, follows the
  chosen subset); the prediction is compared with each resulting query;
* both run on the same database, the prediction in a read-only transaction, with a 10 s timeout
  (and a result of more than ``MAX_ROWS`` rows is not compared: upstream holds it all);
* *exact*: after dropping duplicate rows and sorting columns by name, the values are equal,
  rows compared as sets unless the question asks for an order;
* *correct* (the reported figure): exact, or every gold column equals a distinct predicted
  column (extra predicted columns allowed); an empty gold result never matches this way.

Where we knowingly differ from upstream (each makes a right answer less likely to be failed,
or a wrong one less likely to pass):

* numbers: whole NUMERIC values stay exact ints (as float, 9007199254740993 was ...992); other
  NUMERIC values become floats as pandas does, and every float is rounded to ``DECIMALS``
  places (``SIGNIFICANT`` digits for a small one) in both results, where upstream compares
  exactly (its ``--decimal_points`` is off by default) in the exact test and with a relative
  tolerance of 1e-5 in the column test; rounding absorbs float-versus-numeric noise (a `real`
  answer beside a `double precision` gold) without making equality non-transitive, and a
  small value is not 0 (a value on a rounding boundary may still split: an average);
* booleans are no numbers (pandas' True equals 1);
* NULLs equal NULLs (upstream's exact test fails on NULLs in float columns);
* ordered comparisons: the order is only required on the gold's ORDER BY keys that appear in
  its output; rows tied on those keys may come in any order (upstream's latest version sorts
  both frames entirely, its earlier one compared raw order). A gold without ORDER BY imposes
  no order, whatever the question says;
* `{a, b}` is read where SQL has braces, not inside literals (upstream's regex also expands
  `'^[0-9]{3,4}$'`);
* columns are paired by search rather than greedily, so a gold column is not lost to an
  earlier gold column that happened to match the same predicted column first.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from nl2sql_shell.db.format import result_columns

TIMEOUT_S = 10.0
DECIMALS = 6  # places kept of a number, and at least SIGNIFICANT digits of a small one
SIGNIFICANT = 6
MAX_ROWS = 100_000  # of a result compared: a suite's answers have a few hundred at most
MAX_PAIRINGS = 1000  # bounds the column search when many columns hold the same values (all NULL...)
# A question asks for an order in these words; "order" alone is often a thing (a purchase order).
_ORDER_WORDS = re.compile(
    r"\b(?:in\s+(?:\w+\s+){0,3}order|order(?:ed)?\s+(?:\w+\s+){0,3}(?:by|from|of)|sort(?:s|ed|ing)?|arranged?|rank(?:s|ed|ing)?|ascending|descending)\b",
    re.IGNORECASE,
)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Result:
    """A query's answer: column names and rows of canonical (hashable, comparable) cells."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Verdict:
    correct: bool
    exact: bool
    error: str | None = None  # the server's error for the predicted query
    reason: str = ""


class GoldQueryError(RuntimeError):
    """No gold alternative could be run: the suite or the database is broken, not the prediction."""


# --- gold cells ---------------------------------------------------------------------------

def split_statements(text: str) -> list[str]:
    """Split at top-level semicolons (tokenised, so ``';'`` inside literals stays); empty parts dropped."""
    cuts = [t.start for t in sqlglot.Dialect.get_or_raise("postgres").tokenize(text) if t.token_type == TokenType.SEMICOLON]
    bounds = zip([-1, *cuts], [*cuts, len(text)])
    return [part for start, end in bounds if (part := text[start + 1 : end].strip())]


def expand_column_subsets(query: str) -> list[str]:
    """Every query ``{a, b}`` stands for: one per non-empty subset, smallest first, ``{}`` following it.
    Braces are read where SQL has them, not inside a literal (`'^[0-9]{3,4}$'`, `'{ann,bob}'`),
    a quoted name or a comment."""
    braces = _braces(query)
    first = next(((start, end) for start, end in braces if query[start + 1 : end - 1].strip()), None)
    if first is None:
        return [query]
    options = [o.strip() for o in query[first[0] + 1 : first[1] - 1].split(",")]
    head, tail = query[: first[0]], query[first[1] :]
    follows = [(start - first[1], end - first[1]) for start, end in braces if start >= first[1] and end - start == 2]  # each `{}` after it
    return [
        head + ", ".join(combo) + _filled(tail, follows, ", ".join(combo))
        for size in range(1, len(options) + 1)
        for combo in itertools.combinations(options, size)
    ]


def _braces(query: str) -> list[tuple[int, int]]:
    """(start, end) of each `{...}` written as SQL, in order; none when the text does not tokenize."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(query)
    except sqlglot.errors.TokenError:
        return []
    spans, opened = [], None
    for token in tokens:
        if token.token_type == TokenType.L_BRACE:
            opened = token.start
        elif token.token_type == TokenType.R_BRACE and opened is not None:
            spans.append((opened, token.end + 1))
            opened = None
    return spans


def _filled(text: str, holes: list[tuple[int, int]], value: str) -> str:
    """``text`` with each (start, end) span replaced by ``value``."""
    for start, end in reversed(holes):
        text = text[:start] + value + text[end:]
    return text


def gold_queries(gold: str) -> list[str]:
    """All acceptable queries of a gold cell: each alternative, with its column subsets expanded."""
    return [q for alternative in split_statements(gold) for q in expand_column_subsets(alternative)]


# --- running queries ----------------------------------------------------------------------

@dataclass(frozen=True)
class Boolean:
    """A boolean cell: Python's True equals 1, a boolean answer to a count question does not."""

    value: bool


def canonical(value: Any) -> Any:
    """A cell as compared: whole NUMERIC values as ints (exact, however big), other numbers as
    floats rounded to ``DECIMALS`` places, or to ``SIGNIFICANT`` digits where that keeps more
    (3e-7 is not 0), containers hashable, others as is."""
    if isinstance(value, bool):
        return Boolean(value)
    if value is None or isinstance(value, (int, str, bytes, date, time, timedelta, UUID)):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, (float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if not math.isfinite(number) or number == 0:
            return number
        return round(number, max(DECIMALS, SIGNIFICANT - 1 - math.floor(math.log10(abs(number)))))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _cell_key(value: Any) -> tuple[Any, ...]:
    """A total order over canonical cells of any type (only consistency with equality matters)."""
    if value is None:
        return (0,)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, type(value).__name__, str(value))


def _row_key(row: Row) -> tuple[tuple[Any, ...], ...]:
    return tuple(_cell_key(v) for v in row)


def connect(conninfo: str, timeout_s: float = TIMEOUT_S) -> psycopg.Connection:
    """A session whose every transaction is read-only and whose statements stop after ``timeout_s``.

    Read-only by default (not only by ``BEGIN READ ONLY``), so a prediction that sneaks in a
    COMMIT cannot write in the transaction that follows.
    """
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false)")
    conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, false)", (f"{int(timeout_s * 1000)}",))
    return conn


class ResultTooLarge(Exception):
    """A query returned more than MAX_ROWS rows: not held in memory, not compared."""


def run_query(conn: psycopg.Connection, query: str) -> Result:
    """Run ``query`` (no parameters, so ``%`` is literal) in a rolled-back transaction.

    A single statement a cursor can hold is read from a server-side cursor, MAX_ROWS + 1 rows
    at most: a cross join the model wrote returns tens of millions of rows within the timeout,
    which held in memory ended a long eval. Other text (SHOW, EXPLAIN, several statements,
    where the last one that returns rows is the answer) runs as sent.
    """
    with conn.transaction(force_rollback=True):
        statements = _statements(query)
        if len(statements) == 1:
            try:
                with conn.transaction(), conn.cursor(name="nl2sql_shell_eval") as cur:
                    cur.execute(statements[0])
                    described = result_columns(cur)
                    rows = cur.fetchmany(MAX_ROWS + 1)
                return _result(described, rows)
            except (psycopg.errors.SyntaxError, psycopg.errors.FeatureNotSupported):  # no query a cursor can hold: run as sent below
                pass
        with conn.cursor() as cur:
            cur.execute(query)
            result = Result((), ())
            while True:
                if (described := result_columns(cur)) is not None:
                    result = _result(described, cur.fetchmany(MAX_ROWS + 1))
                if not cur.nextset():
                    return result


def _statements(text: str) -> list[str]:
    """The statements of ``text``, comments alone dropped; none when sqlglot cannot tokenise it."""
    try:
        return [part for part in split_statements(text) if sqlglot.Dialect.get_or_raise("postgres").tokenize(part)]
    except sqlglot.errors.SqlglotError:
        return []


def _result(described: list[tuple[str, int]] | None, rows: list[Row]) -> Result:
    if len(rows) > MAX_ROWS:
        raise ResultTooLarge(f"more than {MAX_ROWS} rows")
    return Result(tuple(name for name, _ in described or ()), tuple(tuple(canonical(v) for v in row) for row in rows))


# --- comparing results ----------------------------------------------------------------------

def asks_for_order(question: str, category: str) -> bool:
    """Upstream's rule: row order matters for the ``order_by`` category or when the question says so."""
    return category == "order_by" or _ORDER_WORDS.search(question) is not None


def order_key_columns(query: str, columns: Sequence[str]) -> tuple[int, ...] | None:
    """Output positions of the query's ORDER BY keys, or None when it has no top-level ORDER BY.

    Only the leading keys found in the output are returned: rows tied on them may legitimately
    come in either order. When the first key is not in the output (`ORDER BY LENGTH(name)`),
    which rows tie cannot be seen: empty, the rows' order is compared as it comes (a reversed
    order is wrong; so, too strictly, is another order of tied rows).
    """
    try:
        tree = sqlglot.parse_one(query, read="postgres")
    except sqlglot.errors.ParseError:
        return ()
    order = tree.args.get("order") if isinstance(tree, exp.Query) else None
    if order is None:
        return None
    selects = [s.unalias() for s in tree.selects]
    positional = len(selects) == len(columns) and not any(s.is_star for s in selects)
    lowered = [c.lower() for c in columns]
    keys: list[int] = []
    for ordered in order.expressions:
        term = ordered.this
        if isinstance(term, exp.Literal) and term.is_int and 0 < int(term.this) <= len(columns):
            index = int(term.this) - 1
        elif isinstance(term, exp.Column) and not term.table and lowered.count(term.name.lower()) == 1:  # an output name first, as PostgreSQL
            index = lowered.index(term.name.lower())
        elif positional and term in selects:
            index = selects.index(term)
        elif isinstance(term, exp.Column) and lowered.count(term.name.lower()) == 1:  # `t.salary` shown as salary
            index = lowered.index(term.name.lower())
        else:
            break
        keys.append(index)
    return tuple(keys)


def _normalise_rows(rows: Sequence[Row], order_keys: tuple[int, ...] | None) -> list[Row]:
    """Drop duplicate rows, then sort them (unordered) or only within runs tied on the keys."""
    unique = list(dict.fromkeys(rows))
    if order_keys is None:
        return sorted(unique, key=_row_key)
    if not order_keys:
        return unique
    runs = itertools.groupby(unique, key=lambda r: tuple(r[i] for i in order_keys))
    return [row for _, run in runs for row in sorted(run, key=_row_key)]


def _project(rows: Sequence[Row], positions: Sequence[int]) -> list[Row]:
    return [tuple(row[i] for i in positions) for row in rows]


def exact_match(gold: Result, pred: Result, order_keys: tuple[int, ...] | None = None) -> bool:
    """Same values once duplicates go and columns are sorted by name (names need not be equal).

    ``order_keys`` are gold positions when the order matters, else None.
    """
    if gold.columns and len(gold.columns) == len(pred.columns) and gold.rows == pred.rows:
        return True
    if len(gold.columns) != len(pred.columns):
        return False
    gold_order = sorted(range(len(gold.columns)), key=lambda i: gold.columns[i])
    pred_order = sorted(range(len(pred.columns)), key=lambda i: pred.columns[i])
    keys = None if order_keys is None else tuple(gold_order.index(k) for k in order_keys)
    return _normalise_rows(_project(gold.rows, gold_order), keys) == _normalise_rows(_project(pred.rows, pred_order), keys)


def subset_match(gold: Result, pred: Result, order_keys: tuple[int, ...] | None = None) -> bool:
    """Every gold column equals a distinct predicted column, and the rows agree on those columns.

    Columns are first paired by their sorted values (row counts must agree), then the predicted
    columns so chosen must give the gold rows. An empty gold result never matches.
    """
    if not gold.rows or not gold.columns:
        return False
    gold_columns = [sorted((row[i] for row in gold.rows), key=_cell_key) for i in range(len(gold.columns))]
    pred_columns = [sorted((row[j] for row in pred.rows), key=_cell_key) for j in range(len(pred.columns))]
    candidates = [[j for j, p in enumerate(pred_columns) if p == g] for g in gold_columns]
    wanted = _normalise_rows(gold.rows, order_keys)
    pairings = _pairings(candidates, (), gold.rows, pred.rows, [MAX_PAIRINGS])
    return any(_normalise_rows(_project(pred.rows, pairing), order_keys) == wanted for pairing in pairings)


def _pairings(candidates: list[list[int]], taken: tuple[int, ...], gold_rows: Sequence[Row], pred_rows: Sequence[Row], budget: list[int]):
    """Each way to give every gold column its own predicted column among its candidates, such
    that the rows agree on the columns paired so far (a pairing that fails there fails whole:
    the search reaches the right one among many columns of the same values); at most
    ``budget`` pairings, whole or partial, are tried in all (columns all NULL pair every way)."""
    if len(taken) == len(candidates):
        yield taken
        return
    wanted = set(_project(gold_rows, range(len(taken) + 1)))
    for j in candidates[len(taken)]:
        if j in taken:
            continue
        budget[0] -= 1
        if budget[0] < 0:
            return
        if set(_project(pred_rows, (*taken, j))) == wanted:
            yield from _pairings(candidates, (*taken, j), gold_rows, pred_rows, budget)


def compare(gold: Result, pred: Result, *, ordered: bool, gold_query: str) -> tuple[bool, bool]:
    """(exact, correct) of a predicted result against one gold query's result."""
    order_keys = order_key_columns(gold_query, gold.columns) if ordered else None
    if exact_match(gold, pred, order_keys):
        return True, True
    return False, subset_match(gold, pred, order_keys)


def score(
    pred_sql: str,
    gold: str,
    conninfo: str,
    *,
    question: str,
    category: str,
    timeout_s: float = TIMEOUT_S,
    run_unproven: bool = True,
) -> Verdict:
    """Score a predicted query against every query of a gold cell on the database at ``conninfo``.
    Without ``run_unproven`` (no role of eval's own to run it as) a prediction not proven
    harmless is not run, and is not right; nor is a gold query (finetune's held-out check
    ran a data file's `COPY ... TO PROGRAM` with the rights of the user's --db).

    Raises GoldQueryError when no gold query runs (a broken suite must not read as a bad model).
    """
    from nl2sql_shell.nl2sql.proof import prove

    ordered = asks_for_order(question, category)
    with connect(conninfo, timeout_s) as conn:
        if not run_unproven:
            if not (proof := prove(conn, pred_sql)).proven:
                return Verdict(False, False, reason=f"not run: not proven harmless ({'; '.join(proof.reasons)}), and eval has no role of its own on this server")
        too_large = None
        try:
            pred = run_query(conn, pred_sql)
        except psycopg.Error as e:
            message = (e.diag.message_primary or str(e)).strip()
            return Verdict(False, False, error=message, reason=f"predicted query failed: {message}")
        except ResultTooLarge as e:  # wrong, unless no gold runs either (then the suite is broken)
            too_large = Verdict(False, False, reason=f"predicted query returned {e}: not compared")
        queries, correct, failures = gold_queries(gold), False, []
        for query, expected in _gold_results(conn, queries, failures, run_unproven=run_unproven):
            if too_large is not None:
                continue
            exact, subset = compare(expected, pred, ordered=ordered, gold_query=query)
            if exact:
                return Verdict(True, True, reason="same result as a gold query")
            correct = correct or subset
    if len(failures) == len(queries):
        raise GoldQueryError("; ".join(failures))
    if too_large is not None:
        return too_large
    if correct:
        return Verdict(True, False, reason="every gold column found among the predicted columns")
    return Verdict(False, False, reason="result differs from every gold query")


def check_gold(conn: psycopg.Connection, gold: str, *, run_unproven: bool = True) -> None:
    """Raise GoldQueryError unless some query of a gold cell runs on ``conn`` (a session from
    `connect`): eval asks this of every question before its model loads, so a broken suite is
    told in seconds, not when its question comes up an hour into the run."""
    queries, failures = gold_queries(gold), []
    for _ in _gold_results(conn, queries, failures, run_unproven=run_unproven):
        return
    raise GoldQueryError("; ".join(failures))


def _gold_results(conn: psycopg.Connection, queries: list[str], failures: list[str], *, run_unproven: bool) -> Iterator[tuple[str, Result]]:
    """(query, result) of each gold query that runs, in order, run as it is asked for; why
    each other one did not is appended to ``failures``."""
    from nl2sql_shell.nl2sql.proof import prove

    for query in queries:
        if not run_unproven and not (proof := prove(conn, query)).proven:
            failures.append(f"{query}: not run: not proven harmless ({'; '.join(proof.reasons)})")
            continue
        try:
            expected = run_query(conn, query)
        except (psycopg.Error, ResultTooLarge) as e:
            failures.append(f"{query}: {e}")
            continue
        yield query, expected
