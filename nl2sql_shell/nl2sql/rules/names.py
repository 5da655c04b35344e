"""Names the schema does not have, read as the names it does have that say the same words.

A small model writes the names a question uses (`orders`, `customer_name`, `visitId`) where
the schema spells them its own way (`xyorder`, `xycustname`, `"visitId"`), or leaves off the
schema of a table that is not on the search_path (`invoices` for `billing.invoices`). Such a
query fails; the name it meant is the schema's one name that is spelled almost the same
(a typo, or the case PostgreSQL folded away) or that holds every word of it, abbreviations
included (`schema/words.py`). Where no name, or more than one, fits that well, the error stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from nl2sql_shell.schema.model import Table
from nl2sql_shell.schema.render import RESERVED_WORDS, quote_name
from nl2sql_shell.schema.words import closest_name, mostly_other_words, shared_affixes

from ..check import is_bare_keyword, is_catalog
from .base import Change, Context, Tables, identifier, scope_tables, sql_of
from .base import owners as column_owners

# Only a near-identical spelling counts by letters alone: `total_price` is not `total_cost`.
SPELLING_CUTOFF = 0.85


def known_table(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`FROM orders` where the schema has no `orders` but `xyorder` (or `billing.orders`)."""
    schema = context.schema
    for alias, source in scope.sources.items():
        known = tables.get(alias)
        if not isinstance(source, exp.Table) or is_catalog(source, schema) or (known is None and schema.reads_unlisted(source.name, source.db or None)):
            continue  # (a partition or a temporary table: the server reads it as named)
        if known is not None and known.name == source.name:
            if is_bare_keyword(source):
                yield _quoted_keyword(source, known, scope)
            continue
        # the same name in another case (`PatientVisit` folded to patientvisit), or off the
        # search_path; first in the schema the model named (billing.invoice is billing's
        # invoices before public's invoice), then anywhere
        named = [t for t in schema.tables if t.schema == source.db] if source.db else []
        found = next((t for t in (_fitting(source.name, tables) for tables in (named, schema.tables) if tables) if t is not None), None)
        if found is None:
            continue
        before, original = sql_of(source), source.name
        named_schema = source.db
        written = f"{named_schema}.{original}" if named_schema else original
        if not source.alias:  # `orders.x` still resolves; a keyword's name is quoted (`AS "order"`), as it is only in FROM
            alias = source.this.copy()
            if not alias.quoted and original.lower() in RESERVED_WORDS:
                alias = exp.to_identifier(original.lower(), quoted=True)
            source.set("alias", exp.TableAlias(this=alias))
        source.set("this", identifier(found.name))
        source.set("db", identifier(found.schema) if schema.needs_schema(found.schema, found.name) else None)
        reference = schema.reference(found)
        why = f"{reference} is not on the search_path" if found.name == original and not named_schema else f"no table {written}; the schema has {reference}"
        yield Change("known_table", before, sql_of(source), why)


def _fitting(name: str, tables: Sequence[Table]) -> Table | None:
    """The one table of ``tables`` named ``name`` in another case, else the one whose name is
    spelled almost the same or holds its every word; None when not exactly one."""
    same_name = [t for t in tables if t.name.lower() == name.lower()]
    if len(same_name) == 1:
        return same_name[0]
    closest = closest_name(name, [t.name for t in tables], cutoff=SPELLING_CUTOFF, every_word=True)
    same = [t for t in tables if t.name == closest]
    return same[0] if len(same) == 1 else None


def known_column(scope: Scope, tables: Tables, context: Context) -> Iterator[Change]:
    """`c.customer_name` where c's table has no such column but `xycustname`; an unqualified
    one when the query's tables together have exactly one such column."""
    if any(t is None for t in tables.values()):
        return  # a subquery's columns are unknown here: it might have the name
    outputs = {s.alias for s in scope.expression.selects if isinstance(s, exp.Alias)} if isinstance(scope.expression, exp.Select) else set()
    table_prefixes = shared_affixes(tuple(t.name for t in context.schema.tables))[0]  # often on the columns too (whorder.whordtotal)
    for column in scope.columns:
        if isinstance(column.this, exp.Star) or (column.table and column.table not in tables):
            continue
        owners = {column.table: tables[column.table]} if column.table else tables
        names = [c.name for t in owners.values() for c in t.columns]
        if is_bare_keyword(column) and len(column_owners(column.name, tables)) == 1:
            before = sql_of(column)
            column.set("this", identifier(column.name))
            yield Change("known_column", before, sql_of(column), f"bare {before} is a PostgreSQL keyword; the column is {sql_of(column)}")
            continue
        if any(c.name == column.name for t in tables.values() for c in t.columns) or (not column.table and column.name in outputs):
            continue  # the name is here (on another table: other rules' errors)
        if not column.table and _outer_column(scope, column.name, context):
            continue  # a correlated reference to the outer query's row: no error to repair
        if column.name == "id":
            # every table's own key: its one-column primary key, whatever it is called
            keys = [t.primary_key[0] for t in owners.values() if len(t.primary_key) == 1]
            name = keys[0] if len(owners) == 1 and keys else None
        else:
            name = closest_name(column.name, names, cutoff=SPELLING_CUTOFF, every_word=True, prefixes=table_prefixes)
            if name is not None and mostly_other_words(column.name, name, (*table_prefixes, *shared_affixes(names)[0])):
                continue  # `username` is not `raw_user_meta_data`: that would invent a meaning
        if name is None or names.count(name) != 1:
            continue
        if not column.table and name in outputs:
            continue  # written bare, ORDER BY would read it as the output of that name, not the column
        before, original = sql_of(column), column.name
        column.set("this", identifier(name))
        yield Change("known_column", before, sql_of(column), f"no column {original} in {_label(owners)}; it has {quote_name(name)}")


def _outer_column(scope: Scope, name: str, context: Context) -> bool:
    """Whether an enclosing query's table (or one whose columns are unknown) may hold ``name``."""
    outer = scope.parent
    while outer is not None:
        for table in scope_tables(outer, context.schema).values():
            if table is None or any(c.name == name for c in table.columns):
                return True
        outer = outer.parent
    return False


def _quoted_keyword(source: exp.Table, table: Table, scope: Scope) -> Change:
    """`FROM user u` meant the schema's table "user" (bare, PostgreSQL reads the keyword USER,
    the current user's name): the same table, written in quotes, and so are the columns
    qualified by its bare name."""
    before = sql_of(source)
    bare = source.name
    source.set("this", identifier(table.name))
    if not source.alias:
        for column in scope.columns:
            if column.table == bare and not column.args["table"].quoted:
                column.set("table", identifier(bare))
    return Change("known_table", before, sql_of(source), f"bare {bare} is a PostgreSQL keyword; the table is {quote_name(table.name)}")


def _label(owners: Tables) -> str:
    return ", ".join(sorted({t.name for t in owners.values() if t is not None}))
