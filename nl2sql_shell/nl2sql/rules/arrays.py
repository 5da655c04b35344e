"""An array column compared with one value.

Applications keep tags, genres and authors in arrays (`genres text[]`), and a model writes
`genres = 'fantasy'` as it would for a text column; PostgreSQL fails on it (malformed array
literal). A comparison of several values with one can only ask whether it is among them:
`'fantasy' = ANY(genres)`, and `<>` that it is none of them: `'fantasy' <> ALL(genres)`. A
value written as an array literal (`'{fantasy}'`) is compared as written.
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
