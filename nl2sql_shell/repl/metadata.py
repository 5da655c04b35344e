"""Names the completer offers, read from the catalog in four quick queries.

Completion runs on every key press, so it reads this snapshot and never the database. The
snapshot is refreshed by the REPL (on connect, after DDL); loading it must not disturb the
user's session: it runs in a transaction of its own when none is open and in a savepoint
inside the user's transaction, read-only and rolled back, with the search_path pinned (see
`catalog_reads`: a database's owner may define operators that would run in these queries),
and it leaves a failed transaction alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from nl2sql_shell.db.execute import catalog_reads

log = logging.getLogger(__name__)

_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}
_HIDDEN_SCHEMAS = r"^pg_(toast|temp_|toast_temp_)"

_OVERVIEW = f"""
SELECT current_database(),
       ARRAY(SELECT nspname::text FROM pg_namespace WHERE nspname !~ '{_HIDDEN_SCHEMAS}' ORDER BY 1),
       ARRAY(SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1),
       ARRAY(SELECT upper(word) FROM pg_get_keywords() ORDER BY 1),
       ARRAY(SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T') ORDER BY 1)
"""
_COLUMNS = f"""
SELECT n.nspname, c.relname, c.relkind::text, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname !~ '{_HIDDEN_SCHEMAS}'
ORDER BY 1, 2, a.attnum
"""
# Functions a user calls by name: not type I/O, operator implementations or planner support.
_FUNCTIONS = f"""
SELECT DISTINCT n.nspname, p.proname
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'a', 'w') AND n.nspname !~ '{_HIDDEN_SCHEMAS}'
  AND p.prorettype NOT IN ('internal'::regtype, 'cstring'::regtype, 'trigger'::regtype,
                           'event_trigger'::regtype, 'language_handler'::regtype, 'fdw_handler'::regtype,
                           'index_am_handler'::regtype, 'table_am_handler'::regtype, 'tsm_handler'::regtype)
  AND NOT ('internal'::regtype = ANY (p.proargtypes::oid[]) OR 'cstring'::regtype = ANY (p.proargtypes::oid[]))
  AND NOT EXISTS (SELECT 1 FROM pg_operator o WHERE o.oprcode = p.oid)
  AND p.oid NOT IN (SELECT typsend FROM pg_type UNION SELECT typreceive FROM pg_type)
ORDER BY 1, 2
"""
# Types a column can be declared with: no arrays, pseudo-types or tables' row types.
_TYPES = f"""
SELECT n.nspname, t.typname
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm') AND t.typcategory <> 'A'
  AND (c.relkind IS NULL OR c.relkind = 'c') AND n.nspname !~ '{_HIDDEN_SCHEMAS}'
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str  # "table" | "view" | "materialized view" | "foreign table", as in schema.model.Table
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metadata:
    """A snapshot of the names in one database; the empty default is valid before any load."""

    database: str = ""
    search_path: tuple[str, ...] = ()  # current_schemas(true): where unqualified names resolve, in order
    schemas: tuple[str, ...] = ()  # every schema, for schema-qualified completion
    relations: tuple[Relation, ...] = ()  # in all schemas
    functions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # schema -> names
    data_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # schema -> names
    databases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # upper case, from pg_get_keywords()
    reserved: frozenset[str] = frozenset()  # lower case; such identifiers must be double-quoted

    @cached_property
    def _by_schema(self) -> dict[str, dict[str, Relation]]:
        index: dict[str, dict[str, Relation]] = {}
        for relation in self.relations:
            index.setdefault(relation.schema, {})[relation.name] = relation
        return index

    def relation(self, name: str, schema: str | None = None) -> Relation | None:
        """Resolve as PostgreSQL does: in ``schema`` if given, else the first hit on the search_path."""
        if schema is not None:
            return self._by_schema.get(schema, {}).get(name)
        return next((rel for s in self.search_path if (rel := self._by_schema.get(s, {}).get(name))), None)

    def relations_in(self, schema: str) -> tuple[Relation, ...]:
        return tuple(self._by_schema.get(schema, {}).values())

    @cached_property
    def _offer_order(self) -> tuple[str, ...]:
        """The search_path with pg_catalog last: the user's own names are offered first."""
        return tuple(sorted(self.search_path, key=lambda s: s == "pg_catalog"))

    @cached_property
    def visible_relations(self) -> tuple[Relation, ...]:
        """Relations reachable without a schema, user schemas first and pg_catalog last."""
        seen: set[str] = set()
        visible = []
        for schema in self._offer_order:
            for relation in self.relations_in(schema):
                if relation.name not in seen:
                    seen.add(relation.name)
                    visible.append(relation)
        return tuple(visible)

    @cached_property
    def off_path_relations(self) -> tuple[Relation, ...]:
        """The user's relations in schemas off the search_path: a query names their schema."""
        hidden = {*self.search_path, "pg_catalog", "information_schema"}
        return tuple(r for r in self.relations if r.schema not in hidden)

    @cached_property
    def visible_functions(self) -> tuple[str, ...]:
        return _visible(self.functions, self._offer_order)

    @cached_property
    def visible_types(self) -> tuple[str, ...]:
        return _visible(self.data_types, self._offer_order)


def _visible(by_schema: Mapping[str, tuple[str, ...]], schemas: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for schema in schemas for name in by_schema.get(schema, ())))


def load_metadata(conn: psycopg.Connection, previous: Metadata | None = None, *, statement_timeout_ms: int | None = None) -> Metadata:
    """Read a fresh snapshot, or return ``previous`` (else an empty one) when that is not safe
    or takes longer than ``statement_timeout_ms``.

    Not safe: the user's transaction has failed (any query would raise), a query is running,
    or the connection is gone. Catalog errors are logged and also give back ``previous``.
    """
    fallback = previous if previous is not None else Metadata()
    if conn.closed or conn.info.transaction_status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
        return fallback
    try:
        with catalog_reads(conn, statement_timeout_ms) as path, conn.cursor(row_factory=tuple_row) as cur:
            database, schemas, databases, keywords, reserved = cur.execute(_OVERVIEW).fetchone()
            columns = cur.execute(_COLUMNS).fetchall()
            functions = cur.execute(_FUNCTIONS).fetchall()
            types = cur.execute(_TYPES).fetchall()
    except psycopg.Error as exc:
        log.warning("could not read the catalog for completion: %s", exc)
        return fallback
    return Metadata(
        database=database,
        search_path=path.effective,
        schemas=tuple(schemas),
        relations=_relations(columns),
        functions=_group(functions),
        data_types=_group(types),
        databases=tuple(databases),
        keywords=tuple(keywords),
        reserved=frozenset(reserved),
    )


def _relations(rows: list[tuple[str, str, str, str | None]]) -> tuple[Relation, ...]:
    """One Relation per (schema, name) from rows ordered by relation, then column number."""
    columns: dict[tuple[str, str, str], list[str]] = {}
    for schema, name, relkind, column in rows:
        names = columns.setdefault((schema, name, relkind), [])
        if column is not None:
            names.append(column)
    return tuple(Relation(s, n, _KINDS[k], tuple(cols)) for (s, n, k), cols in columns.items())


def _group(rows: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for schema, name in rows:
        grouped.setdefault(schema, []).append(name)
    return {schema: tuple(names) for schema, names in grouped.items()}
