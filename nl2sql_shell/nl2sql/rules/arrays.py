"""A column that holds several values (an array, a range) compared with one value.

Applications keep tags, genres and authors in arrays (`genres text[]`), and a model writes
`genres = 'fantasy'` as it would for a text column; PostgreSQL fails on it (malformed array
literal). A comparison of several values with one can only ask whether it is among them:
`'fantasy' = ANY(genres)`, and `<>` that it is none of them: `'fantasy' <> ALL(genres)`. A
value written as an array literal (`'{fantasy}'`) is compared as written.

A range (`period daterange`, `during tstzrange`) holds every value between its bounds, and
`period = '2026-11-01'` fails the same way (malformed range literal): one value compared with
a range can only ask whether the range contains it, `period @> '2026-11-01'::date`. A value
written as a range literal (`'[2026-11-01,2026-12-01)'`, `'empty'`) is compared as written.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from .base import Change, Context, Tables, sql_of, type_of


def array_membership(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`a.genres = 'fantasy'` -> `'fantasy' = ANY(a.genres)`; `<>` -> `<> ALL`."""
    for node in list(scope.expression.find_all(exp.EQ, exp.NEQ)):
        if node.find_ancestor(exp.Select) is not scope.expression:
            continue
        for column, value in ((node.this, node.expression), (node.expression, node.this)):
            if not (isinstance(column, exp.Column) and _is_array(column, tables) and _one_value(value)):
                continue
            before = sql_of(node)
            quantifier = exp.Any if isinstance(node, exp.EQ) else exp.All
            node.replace(replaced := type(node)(this=value.copy(), expression=quantifier(this=exp.Paren(this=column.copy()))))
            yield Change("array_membership", before, sql_of(replaced), f"{column.name} is an array: one value is compared with its elements")
            break


def _is_array(column: exp.Column, tables: Tables) -> bool:
    data_type = type_of(column, tables)
    return data_type is not None and data_type.endswith("[]")


def _one_value(value: exp.Expression) -> bool:
    """A string or number written as one value: not an array literal (`'{a,b}'`, ARRAY[...])."""
    return isinstance(value, exp.Literal) and not (value.is_string and value.this.lstrip().startswith("{"))


# PostgreSQL's built-in ranges and multiranges, and the type of the values they hold.
_RANGE_ELEMENTS = {
    "int4": "integer", "int8": "bigint", "num": "numeric", "date": "date",
    "ts": "timestamp", "tstz": "timestamp with time zone",
}
_RANGE_TYPES = {
    f"{prefix}{kind}": element for prefix, element in _RANGE_ELEMENTS.items() for kind in ("range", "multirange")
}


def range_containment(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`i.period = '2026-11-01'` -> `i.period @> CAST('2026-11-01' AS DATE)`; `<>` -> `NOT ... @>`."""
    for node in list(scope.expression.find_all(exp.EQ, exp.NEQ)):
        if node.find_ancestor(exp.Select) is not scope.expression:
            continue
        for column, value in ((node.this, node.expression), (node.expression, node.this)):
            element = _RANGE_TYPES.get(type_of(column, tables) or "") if isinstance(column, exp.Column) else None
            if element is None or not _one_point(value):
                continue
            before = sql_of(node)
            contains = exp.ArrayContainsAll(this=column.copy(), expression=exp.cast(value.copy(), element))
            node.replace(replaced := contains if isinstance(node, exp.EQ) else exp.Not(this=exp.Paren(this=contains)))
            yield Change("range_containment", before, sql_of(replaced), f"{column.name} is a range: one value is compared with what it contains")
            break


def _one_point(value: exp.Expression) -> bool:
    """A string or number written as one value: not a range literal (`'[1,5)'`, `'empty'`)."""
    if not isinstance(value, exp.Literal):
        return False
    text = value.this.strip().lower()
    return not (value.is_string and (text.startswith(("[", "(")) or text == "empty"))
