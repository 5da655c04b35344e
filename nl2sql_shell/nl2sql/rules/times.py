"""Numbers that hold points in time: how each holds it, and conversions that contradict it.

A column named as a point in time (`sent_epoch`, `created_at`, `date_key`) may hold seconds
since 1970, milliseconds, or a date written as digits (20260131). Its least and greatest
value, when statistics or a probe of a small table give them, say which: seconds from 1973 to
2100 lie between 1e8 and 4.1e9, milliseconds a thousand times higher, digits between
19000101 and 21001231. With no values known (a view), only a name that says seconds (`epoch`,
`unix`) reads as seconds; `date_key` may be digits, and a guess would invent a meaning.

`to_timestamp(n)` reads n as seconds. On a column whose values are dates in digits it puts
every row in August 1970, and on milliseconds in the year 50,000; the query runs and answers
nothing, or nonsense. That contradiction is a fact of the data, so it counts as a failed
check (`conversion_errors`), which lets the repair of dialect.py read the column as what it
holds; values that fit no way of holding a time leave the query as it is.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import traverse_scope

from nl2sql_shell.schema.model import Schema
from nl2sql_shell.schema.words import name_words, names_a_time

from ..parsing import DIALECT, PARSE_ERRORS, parse_one
from .base import Tables, column_of, matches, scope_tables, sql_of

_SUBSECOND = re.compile(r"\w*(?:_ms|millis|micro|nano|msec)\w*")
_SECONDS_WORDS = frozenset({"epoch", "unix"})  # a name that says it counts seconds since 1970
# What a number holds, judged by its least and greatest value (0 is often "not set").
_SHAPES = {
    "seconds": (1e8, 4.1e9),
    "milliseconds": (1e11, 4.1e12),
    "digits": (1900_01_01, 2100_12_31),
}
SAYS = {"seconds": "seconds since 1970", "milliseconds": "milliseconds since 1970", "digits": "dates written as digits (YYYYMMDD)"}
_SECONDS_A_YEAR = 365.2425 * 86400


def time_held(column: exp.Column, tables: Tables) -> str | None:
    """How a number column named as a point in time holds it ("seconds", "milliseconds",
    "digits"), by its values when they are known; None when it is no time, or none of these."""
    found = column_of(column, tables)
    if found is None or not names_a_time(column.name):
        return None
    if found.value_range is None:  # (a view, a big table never analyzed): only a name that says seconds
        return "seconds" if not matches(_SUBSECOND, column.name) and not _SECONDS_WORDS.isdisjoint(name_words(column.name).words) else None
    return held_by_values(found.value_range)


def held_by_values(value_range: tuple[float, float]) -> str | None:
    """The one way of holding a time that every value fits, whatever the column's name."""
    least, greatest = value_range
    for shape, (low, high) in _SHAPES.items():
        if (least == 0 or low <= least) and low <= greatest <= high:
            return shape
    return None


def as_time(column: exp.Column, held: str) -> exp.Expression:
    """The point in time a number holds, as PostgreSQL computes it."""
    if held == "digits":
        return exp.Anonymous(this="to_date", expressions=[exp.cast(column.copy(), "text"), exp.Literal.string("YYYYMMDD")])
    stamp = column.copy() if held == "seconds" else exp.Div(this=column.copy(), expression=exp.Literal.number("1000.0"))
    return exp.Anonymous(this="to_timestamp", expressions=[stamp])


def misread(node: exp.UnixToTime, tables: Tables) -> tuple[exp.Column, str, tuple[float, float]] | None:
    """(column, what it holds, the seconds `to_timestamp` reads) for `to_timestamp(n)` or
    `to_timestamp(n / k)` whose column's known values are another way of holding a time."""
    argument, divisor = node.this.unnest(), 1.0
    if isinstance(argument, exp.Div) and isinstance(argument.expression, exp.Literal) and argument.expression.is_number:
        argument, divisor = argument.this.unnest(), float(argument.expression.name)
    if not isinstance(argument, exp.Column) or divisor <= 0 or node.args.get("scale") is not None:
        return None
    found = column_of(argument, tables)
    if found is None or found.value_range is None:
        return None
    seconds = (found.value_range[0] / divisor, found.value_range[1] / divisor)
    held = held_by_values(found.value_range)
    if held is None or held_by_values(seconds) == "seconds":
        return None
    return argument, held, seconds


def conversion_errors(sql: str, schema: Schema) -> list[str]:
    """One line for each `to_timestamp` of a number whose values it reads as the wrong unit."""
    try:
        tree = parse_one(sql)
        normalize_identifiers(tree, dialect=DIALECT)
        scopes = list(traverse_scope(tree))
    except (*PARSE_ERRORS, OptimizeError):
        return []
    errors = []
    for scope in scopes:
        tables = scope_tables(scope, schema)
        for node in scope.expression.find_all(exp.UnixToTime):
            if node.find_ancestor(exp.Select) is not scope.expression or (found := misread(node, tables)) is None:
                continue
            column, held, seconds = found
            errors.append(f"{sql_of(node)} reads {sql_of(column)} as seconds since 1970, which puts its values {_years(seconds)}; they are {SAYS[held]}")
    return list(dict.fromkeys(errors))


def _years(seconds: tuple[float, float]) -> str:
    first, last = (int(1970 + s // _SECONDS_A_YEAR) for s in seconds)
    return f"in {first}" if first == last else f"in the years {first} to {last}"
