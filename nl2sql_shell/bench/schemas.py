"""Synthetic schemas of a known size for speed measurements (no database needed).

Speed depends on how many tokens the schema takes, not on what the tables mean, so bench
builds a small schema (a few tables) and a large one grown until it passes a token count.
"""

from __future__ import annotations

from collections.abc import Callable

from nl2sql_shell.schema.model import Column, ForeignKey, Table
from nl2sql_shell.schema.render import render_schema

_ENTITIES = (
    "customer", "account", "merchant", "branch", "card", "loan", "payment", "invoice", "product",
    "supplier", "warehouse", "shipment", "employee", "department", "project", "ticket", "campaign",
    "store", "region", "contract",
)


def _table(index: int, referenced: str | None) -> Table:
    entity = _ENTITIES[index % len(_ENTITIES)] + ("" if index < len(_ENTITIES) else f"_{index // len(_ENTITIES)}")
    columns = [
        Column(f"{entity}_id", "integer", not_null=True, comment=f"unique id of the {entity}"),
        Column("name", "text", not_null=True, comment=f"display name of the {entity}"),
        Column("status", "text", comment="lifecycle state", sample_values=("active", "closed", "pending")),
        Column("created_at", "timestamp without time zone", not_null=True, comment="when the row was created"),
        Column("amount", "numeric(12,2)", comment="monetary amount in the row's currency"),
        Column("currency", "character(3)", comment="ISO currency code", sample_values=("USD", "EUR", "GBP")),
    ]
    keys: tuple[ForeignKey, ...] = ()
    if referenced:
        columns.append(Column(f"{referenced}_id", "integer", comment=f"the {referenced} this row belongs to"))
        keys = (ForeignKey((f"{referenced}_id",), "public", referenced, (f"{referenced}_id",)),)
    return Table("public", entity, columns=tuple(columns), primary_key=(f"{entity}_id",), foreign_keys=keys, comment=f"{entity} records", row_estimate=10_000)


def small_tables() -> list[Table]:
    """Three related tables: a typical 'explore my dev database' prompt."""
    tables = [_table(0, None)]
    for index in (1, 2):
        tables.append(_table(index, tables[-1].name))
    return tables


def small_schema() -> str:
    return render_schema(small_tables(), qualify=False)


def large_schema(count_tokens: Callable[[str], int], min_tokens: int = 2500) -> str:
    """Tables chained by foreign keys until the rendered schema takes `min_tokens` or more."""
    return render_schema(_large_tables(count_tokens, min_tokens), qualify=False)


def large_schema_reselected(count_tokens: Callable[[str], int], min_tokens: int = 2500) -> str:
    """The large schema with its last quarter of tables swapped for others: what the linker
    gives the next question on a database too big to show whole (same head, different tail)."""
    tables = _large_tables(count_tokens, min_tokens)
    kept = tables[: len(tables) * 3 // 4]
    others = [_table(index, kept[-1].name) for index in range(len(tables) + 1, len(tables) + 1 + len(tables) - len(kept))]
    return render_schema(kept + others, qualify=False)


def _large_tables(count_tokens: Callable[[str], int], min_tokens: int) -> list[Table]:
    tables: list[Table] = []
    while count_tokens(render_schema(tables, qualify=False)) < min_tokens:
        tables.append(_table(len(tables), tables[-1].name if tables else None))
    return tables
