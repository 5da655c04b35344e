"""Joins that skip the table linking two others.

Many-to-many links live in a table of their own: authors and papers meet in `writes (aid,
pid)`, domains and publications in `domain_publication (did, pid)`. A small model joins the
two ends directly, `author a JOIN publication p ON a.pid = p.pid`, on a key one end does not
have, and the server rejects it. When exactly one table of the schema has the key of one end
and shares exactly one key with the other (or, of several, one is named after both ends), the
join goes through it:
`author a JOIN writes ON writes.aid = a.aid JOIN publication p ON writes.pid = p.pid`.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Column, Schema, Table, is_key_name

from .base import Change, Context, Tables, column_ref, declared_keys, is_inner_join, sql_of, table_source


def bridge(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Route each inner join whose one equality names a key its table lacks through the one
    table that links the two (a repair: the join as written fails)."""
    select = scope.expression
    for join in list(select.args.get("joins") or []):
        if change := _bridge(select, join, tables, context.schema):
            yield change


def _bridge(select: exp.Select, join: exp.Join, tables: Tables, schema: Schema) -> Change | None:
    condition = join.args.get("on")
    if not is_inner_join(join) or not isinstance(join.this, exp.Table) or not isinstance(condition, exp.EQ):
        return None
    joined = join.this.alias_or_name
    sides = [side for side in (condition.left, condition.right) if isinstance(side, exp.Column) and side.table in tables]
    if len(sides) != 2 or joined not in {s.table for s in sides} or sides[0].table == sides[1].table:
        return None
    found = [_column(side, tables) for side in sides]
    if sum(column is None for column in found) != 1:
        return None
    present, missing = (sides[0], sides[1]) if found[1] is None else (sides[1], sides[0])
    present_column = found[0] or found[1]
    missing_table = tables[missing.table]
    if missing_table is None or not (is_key_name(present.name) and is_key_name(missing.name)):
        return None
    present_table = tables[present.table]
    if present_table is not None and declared_keys(present_table, missing_table) != []:
        return None  # the two are linked directly (`administered_by`): no table between them is meant
    links = [(t, key) for t in schema.tables if t not in tables.values() and (key := _link(t, present_column, missing_table)) is not None]
    if len(links) > 1:  # `domain_conference` and `domain_publication` both link domain and publication
        ends = (tables[present.table], missing_table)
        links = [(t, key) for t, key in links if all(end is not None and end.name in t.name for end in ends)]
    if len(links) != 1 or links[0][0].name in tables:
        return None
    link, key = links[0]
    written = sql_of(condition)
    via = column_ref(present.name, link.name), column_ref(key, link.name)
    if missing.table == joined:  # ... JOIN link ON present = link.present JOIN missing ON link.key = missing.key
        first = exp.EQ(this=present.copy(), expression=via[0])
        second = exp.EQ(this=via[1], expression=column_ref(key, missing.table))
    else:  # ... JOIN link ON missing.key = link.key JOIN present ON link.present = present
        first = exp.EQ(this=column_ref(key, missing.table), expression=via[1])
        second = exp.EQ(this=via[0], expression=present.copy())
    joins = select.args["joins"]
    joins.insert(joins.index(join), exp.Join(this=table_source(link, schema), on=first))
    select.set("joins", joins)
    join.set("on", second)
    after = f"{sql_of(first)} JOIN {sql_of(join.this)} ON {sql_of(second)}"
    return Change("bridge", written, f"JOIN {link.name} ON {after}", f"{missing_table.name} has no {missing.name}; {link.name} links the two")


def _column(side: exp.Column, tables: Tables) -> Column | None:
    table = tables.get(side.table)
    return table.column(side.name) if table is not None else None


def _link(table: Table, present: Column, missing_table: Table) -> str | None:
    """The one key `table` shares with `missing_table`, when `table` also has the present
    side's key with its type; None otherwise."""
    own = table.column(present.name)
    if own is None or own.data_type != present.data_type:
        return None
    shared = [
        c.name
        for c in table.columns
        if c.name != present.name and is_key_name(c.name) and (other := missing_table.column(c.name)) is not None and other.data_type == c.data_type
    ]
    return shared[0] if len(shared) == 1 else None
