"""Join conditions that cannot be what the model meant.

`ON d.did = d.did` (a column equal to itself) joins nothing; `b.bid = c.business_id` between a
bigint and a text column fails on the server; `ON c.id = b.category_id` names a column its
table lacks. Where the schema offers exactly one join instead, it is taken: repairs, since
each of these fails a check or the server. `ON a.oid = da.aid` runs, but pairs an author's
organization with an author: taking the key both tables carry changes a result (a rewrite).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Column, Table, is_key_name
from nl2sql_shell.schema.words import closest_name

from ..parsing import same_column
from .base import Change, Context, Tables, column_of, column_type, declared_keys, identifier, owners, type_family
from .names import SPELLING_CUTOFF


def _equalities(scope: Scope) -> Iterator[tuple[str, exp.EQ]]:
    """(alias of the joined table, `x.a = y.b`) for each qualified column equality of an ON."""
    for join in scope.expression.args.get("joins") or []:
        condition = join.args.get("on")
        joined = join.this.alias_or_name if isinstance(join.this, exp.Table) else None
        if condition is None or joined is None:
            continue
        for eq in list(condition.find_all(exp.EQ)):
            left, right = eq.left, eq.right
            if isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.table and right.table:
                yield joined, eq


def _change(rule: str, before: str, eq: exp.EQ, why: str) -> Change:
    left, right = eq.left, eq.right
    return Change(rule, before, f"{left.table}.{left.name} = {right.table}.{right.name}", why)


def _written(eq: exp.EQ) -> str:
    return f"{eq.left.table}.{eq.left.name} = {eq.right.table}.{eq.right.name}"


def self_join(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Make `x.c = x.c` join the table of this JOIN by the one foreign key declared between
    it and x (`t.tk_id = t.tk_id` joining invoices: `t.tk_id = i.tk_ticket`), else with the one
    other table here that has `c`, unless `c` is each table's own key (`id`, `tk_id`), or
    with the one foreign key declared between the two (`c.id = c.id` joining orders:
    `o.customer_id = c.id`)."""
    for joined, eq in _equalities(scope):
        left, right = eq.left, eq.right
        if not same_column(left, right):
            continue
        before, name = _written(eq), left.name
        if left.table != joined:
            table, other = tables.get(joined), tables.get(left.table)
            if table is None or other is None or (keys := declared_keys(other, table)) is None or len(keys) > 1:
                continue  # a key of several columns, or two: no one reading
            if keys:
                (mine, theirs), = keys
                left.set("this", identifier(mine))
                right.set("this", identifier(theirs))
            elif table.column(name) is None or _own_keys(name, table, other):
                continue
            right.set("table", identifier(joined))
        else:
            others = [alias for alias in tables if alias != joined and tables[alias] is not None]
            keys = {alias: declared_keys(tables[alias], tables[joined]) for alias in others} if tables.get(joined) is not None else {}  # type: ignore[arg-type]
            if any(k is None for k in keys.values()):
                continue  # a key of several columns: no one-column join says it
            declared = [(alias, key) for alias, found in keys.items() for key in found or ()]
            sharing = [alias for alias in owners(name, tables) if alias != joined]
            if len(declared) == 1:
                alias, (mine, theirs) = declared[0]
                left.set("table", identifier(alias))
                left.set("this", identifier(mine))
                right.set("this", identifier(theirs))
            elif not declared and len(sharing) == 1 and not _own_keys(name, tables[joined], tables[sharing[0]]):  # type: ignore[arg-type]
                left.set("table", identifier(sharing[0]))
            else:
                continue
        yield _change("self_join", before, eq, "a column equal to itself joins nothing")


def join_types(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """Swap one side of a join between incomparable types: for its partner in the one foreign
    key declared between the two tables when the other side is its own (`u.id = t.note`:
    `u.id = t.owner_id`), else for its same-named comparable column, unless that pairs each
    table's own key (`u.id = t.id` numbers rows of two tables alike; it is no relation).
    Nothing where the key declared is of several columns: one column of it pairs too many rows."""
    for _, eq in _equalities(scope):
        left, right = eq.left, eq.right
        left_type, right_type = column_type(left, tables), column_type(right, tables)
        if left_type is None or right_type is None or type_family(left_type) == type_family(right_type):
            continue
        left_table, right_table = tables.get(left.table), tables.get(right.table)
        keys = declared_keys(left_table, right_table) if left_table is not None and right_table is not None else []
        if keys is None or len(keys) > 1:
            continue
        before = _written(eq)
        mine, theirs = keys[0] if keys else (None, None)  # (left's column, right's)
        for keep, swap, kept_key, swap_key in ((right, left, theirs, mine), (left, right, mine, theirs)):
            if keys:
                kept = column_of(keep, tables)
                twin = tables[swap.table].column(swap_key) if kept is not None and kept.name == kept_key else None  # type: ignore[union-attr,arg-type]
            elif (twin := _comparable_twin(swap, keep, tables)) is not None and _own_keys(twin.name, tables[swap.table], tables[keep.table]):  # type: ignore[arg-type]
                twin = None
            if twin is None:
                continue
            swapped_type = column_type(swap, tables)
            swap.set("this", identifier(twin.name))
            yield _change("join_types", before, eq, f"{swapped_type} cannot equal {column_type(keep, tables)}")
            break


def _own_keys(name: str, *tables: Table) -> bool:
    """Whether ``name`` is each table's own key: `id`, or its whole primary key in every one
    of them (`tk_id` where a prefix marks all of a schema's columns). Equal, such keys pair
    rows that happen to share a number, not rows that belong together."""
    return name.lower() == "id" or all(table.primary_key == (name,) for table in tables)


def _comparable_twin(swap: exp.Column, keep: exp.Column, tables: Tables) -> Column | None:
    """The column of `swap`'s table named like `keep`, when the server can compare the two."""
    table = tables.get(swap.table)
    twin = table.column(keep.name) if table is not None else None
    keep_type = column_type(keep, tables)
    if twin is None or keep_type is None or type_family(twin.data_type) != type_family(keep_type):
        return None
    return twin


def _spelled(column: exp.Column, table: Table, name: str | None = None) -> bool:
    """Whether ``column``'s name is a spelling of one of the table's names (``name`` alone when
    given): what known_column would read it as (`categry_id`: category_id; `acct_id`: account_id)."""
    names = [name] if name is not None else [c.name for c in table.columns]
    return closest_name(column.name, names, cutoff=SPELLING_CUTOFF, every_word=True) is not None


def shared_key(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`ON a.oid = da.aid` where author also has `aid`: both tables carry the key `aid`, and
    `oid` (author's organization) is a key of another table, so the join meant `a.aid = da.aid`.

    Only key-like names on both sides, only where the other table lacks the swapped-out name
    (`ON o.customer_id = c.id` stays: `id` is no shared key), and only for comparable types."""
    for _, eq in _equalities(scope):
        left, right = eq.left, eq.right
        if not (is_key_name(left.name) and is_key_name(right.name)) or same_column(left, right):
            continue
        before = _written(eq)
        for keep, swap in ((right, left), (left, right)):
            keep_table = tables.get(keep.table)
            if keep_table is None or keep_table.column(swap.name) is not None:
                continue
            if (twin := _comparable_twin(swap, keep, tables)) is not None:
                swap.set("this", identifier(twin.name))
                yield _change("shared_key", before, eq, f"both tables have the key {twin.name}")
                break


def missing_join_key(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`ON c.id = b.category_id` where business has no category_id fails on the server; when
    the two tables share exactly one key column of comparable types (category.business_id and
    business.business_id), that is the join the schema offers.

    Only for a condition that cannot run as written, and never between two roles of one table."""
    for _, eq in _equalities(scope):
        left, right = eq.left, eq.right
        left_table, right_table = tables.get(left.table), tables.get(right.table)
        if left_table is None or right_table is None or left_table is right_table:
            continue
        lacking = [(c, t) for c, t in ((left, left_table), (right, right_table)) if t.column(c.name) is None]
        if not lacking:
            continue
        if any(_spelled(c, t) for c, t in lacking):
            continue  # a misspelt name (`b.categry_id`): known_column reads it, not another key
        missing = [c.sql() for c, _ in lacking]
        declared = declared_keys(left_table, right_table)
        if declared is None or len(declared) > 1:
            continue  # a key of several columns, or two keys: no one reading
        if declared:  # the join the schema declares, where its names say what the query's do
            mine, theirs = declared[0]
            if all(c.name == name or _spelled(c, t, name) for c, t, name in ((left, left_table, mine), (right, right_table, theirs)) if t.column(c.name) is None):
                before = _written(eq)
                left.set("this", identifier(mine))
                right.set("this", identifier(theirs))
                yield _change("missing_join_key", before, eq, f"{missing[0]} does not exist; {left_table.name}.{mine} and {right_table.name}.{theirs} are the declared key")
            continue
        shared = [
            column.name
            for column in left_table.columns
            if is_key_name(column.name)
            and (other := right_table.column(column.name)) is not None
            and type_family(column.data_type) == type_family(other.data_type)
        ]
        if len(shared) != 1:
            continue
        before = _written(eq)
        for side in (left, right):
            side.set("this", identifier(shared[0]))
        yield _change("missing_join_key", before, eq, f"{missing[0]} does not exist; both tables have the key {shared[0]}")
