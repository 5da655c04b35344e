"""A query over one table that reads columns of another.

`SELECT student_id, SUM(total_credit) FROM student_record GROUP BY student_id` fails because
`total_credit` is a column of `student`, and `SELECT region, COUNT(*) FROM restaurant GROUP
BY region` fails because `region` is a column of `geographic`. The schema says which table
owns the missing columns, and so which of two corrections was meant:

- the owner has every column the query reads: the model named the wrong table, so read the
  owner instead (`FROM student`);
- the owner has only the missing ones: the query needs both tables, so join the owner on the
  key between them: a declared foreign key, `<table>_id` = `id`, or else the one column the
  two tables share (`JOIN geographic ON restaurant.city_name = geographic.city_name`).

Anything less certain (two possible owners, no shared column or several) is left as the
error it is.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Schema, Table
from nl2sql_shell.schema.words import declared_words

from .base import Change, Context, Tables, column_ref, declared_keys, identifier, sql_of, table_source


def table_owner(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Correct a one-table SELECT whose missing columns belong to one other table (a repair:
    the query as written fails)."""
    if change := _read_from_owner(scope, context.schema):
        yield change


def _read_from_owner(scope: Scope, schema: Schema) -> Change | None:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return None
    from_ = select.args.get("from_")
    if from_ is None or select.args.get("joins") or not isinstance(from_.this, exp.Table):
        return None
    source = from_.this
    table = schema.table(source.name, source.db or None)  # (in its schema, or as the search_path finds it)
    alias = source.alias_or_name
    if table is None or any(isinstance(c.this, exp.Star) or c.table not in ("", alias) for c in scope.columns):
        return None
    labels = {s.alias for s in select.selects if s.alias}
    names = {c.name for c in scope.columns} - labels
    missing = sorted(n for n in names if table.column(n) is None)
    if not missing or _elsewhere_in_statement(select, missing, schema, source):
        return None
    owners = [t for t in schema.tables if t is not table and all(t.column(n) for n in missing)]
    kept = names - set(missing)
    readers = [t for t in owners if kept and all(t.column(n) for n in kept)]
    if len(readers) == 1 and _same_entity(table, readers[0]):
        return _switch(scope, source, table, readers[0], missing, schema)
    if len(owners) == 1:
        return _join(scope, alias, table, owners[0], missing, schema)
    return None


def _same_entity(table: Table, owner: Table) -> bool:
    """Whether the two names share a word (`student_record`, `student`): reading the owner is
    the same question on the table meant. `vets` read as `owners` because owners have a city
    answered "which vets are in Leeds?" with owners: another entity, a meaning invented."""
    def stems(name: str) -> set[str]:
        return {word.removesuffix("s") for word in declared_words(name) if len(word) > 1}

    return bool(stems(table.name) & stems(owner.name))


def _elsewhere_in_statement(select: exp.Select, missing: list[str], schema: Schema, source: exp.Table) -> bool:
    """Whether another table of the whole statement has a missing column: then it may be an
    outer query's column that a subquery reads, which is no error."""
    for other in select.root().find_all(exp.Table):
        found = schema.table(other.name, other.db or None) if other is not source else None
        if found is not None and any(found.column(n) for n in missing):
            return True
    return False


def _switch(scope: Scope, source: exp.Table, table: Table, owner: Table, missing: list[str], schema: Schema) -> Change:
    """Read `owner` in place of `table`, keeping the alias the columns are qualified with."""
    if not source.alias:
        for read in scope.columns:
            if read.table:
                read.set("table", identifier(owner.name))
    source.set("this", identifier(owner.name))
    source.set("db", table_source(owner, schema).args.get("db"))
    return Change("table_owner", f"FROM {table.name}", f"FROM {owner.name}", f"{table.name} has no {', '.join(missing)}; {owner.name} has every column the query reads")


def _join(scope: Scope, alias: str, table: Table, owner: Table, missing: list[str], schema: Schema) -> Change | None:
    """Join `owner` on the key between the two tables, and read the missing columns from it."""
    key = _join_key(table, owner, schema)
    owner_alias = owner.name
    if key is None or owner_alias == alias:
        return None
    for read in scope.columns:
        if read.name in missing:
            read.set("table", identifier(owner_alias))
        elif not read.table and owner.column(read.name) is not None:
            read.set("table", identifier(alias))  # both tables have it now
    mine, theirs = key
    condition = exp.EQ(this=column_ref(mine, alias), expression=column_ref(theirs, owner_alias))
    join = exp.Join(this=table_source(owner, schema), on=condition)
    scope.expression.append("joins", join)
    before = f"FROM {table.name}" if alias == table.name else f"FROM {table.name} AS {alias}"
    return Change("table_owner", before, f"{before} {sql_of(join)}", f"{table.name} has no {', '.join(missing)}")


def _join_key(table: Table, owner: Table, schema: Schema) -> tuple[str, str] | None:
    """(column of `table`, column of `owner`) to join on: a declared single-column foreign key
    either way, else the `<table>_id` = `id` convention, else (in a schema that declares no
    foreign key at all) the one column both tables have (`city_name`) with the same type; None
    when that is not one clear choice (two foreign keys, `sender_user_id` and
    `recipient_user_id`, are two readings). Where the schema declares its keys, a join on
    anything else is a meaning invented (`vets.full_name = owners.full_name`)."""
    declared = declared_keys(table, owner)
    if declared is None:
        return None  # a key of several columns: no one-column join says it
    if declared:
        return declared[0] if len(declared) == 1 else None
    for child, parent, flip in ((table, owner, False), (owner, table, True)):
        for name in (f"{parent.name}_id", f"{parent.name}id"):
            if child.column(name) is not None and parent.column("id") is not None:
                return ("id", name) if flip else (name, "id")
    if any(t.foreign_keys for t in schema.tables):
        return None
    shared = [c.name for c in table.columns if c.name != "id" and (twin := owner.column(c.name)) is not None and twin.data_type == c.data_type]
    return (shared[0], shared[0]) if len(shared) == 1 else None
