"""What the rest of the product knows about a database's schema: plain, immutable dataclasses.

Introspection fills them from the live catalog; linking picks a subset for a question;
rendering turns them into the CREATE TABLE text the model reads; the SQL checks use them to
reject invented tables and columns. None of these modules talks to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache


def is_key_name(name: str) -> bool:
    """`aid`, `author_id`, `paperid`: the names a schema without FOREIGN KEYs gives its keys.
    A bare `id` is every table's own key, so sharing it says nothing about a join."""
    return name != "id" and name.lower().endswith("id")


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # as format_type() prints it: "integer", "character varying(20)", "status_enum"; a domain's base type
    not_null: bool = False
    comment: str | None = None
    enum_labels: tuple[str, ...] = ()  # labels when the type is an enum
    sample_values: tuple[str, ...] = ()  # a few distinct values of a low-cardinality text column
    element_values: tuple[str, ...] = ()  # a few elements of a text array column (tags, categories)
    json_keys: tuple[str, ...] = ()  # the most common top-level keys of a json/jsonb column's objects
    domain: str | None = None  # the domain the column is declared with (`cents`), when it is one
    is_text: bool = False  # a string type (text, varchar, char...): its values may be named in a question
    value_range: tuple[float, float] | None = None  # a number column's least and greatest value, when statistics or a small table's probe tell


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    kind: str = "table"  # "table" | "view" | "materialized view" | "foreign table"
    columns: tuple[Column, ...] = ()
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    comment: str | None = None
    row_estimate: int | None = None  # pg_class.reltuples; None when never analyzed, or small (introspect.py)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


@dataclass(frozen=True)
class Schema:
    """The tables of every schema the user can read, those on the search_path first.

    Users keep whole applications in schemas that are not on the search_path
    (``billing.invoices``); such tables are as much part of the database as ``public``'s,
    but a query must name them with their schema.
    """

    database: str
    search_path: tuple[str, ...]
    tables: tuple[Table, ...] = field(default_factory=tuple)
    # (schema, name) of relations on the search_path (pg_catalog's too) that are not listed
    # (partitions, sequences, indexes, an extension's tables, system catalogs) but named like
    # one that is: a bare name reaches whichever comes first on the path, as the server does.
    hidden: frozenset[tuple[str, str]] = frozenset()
    # (schema, name) of relations a query may read that are not listed: partitions (their
    # parent is) and the session's temporary tables (which come first for a bare name).
    unlisted: frozenset[tuple[str, str]] = frozenset()

    @property
    def multiple_schemas(self) -> bool:
        """When tables come from several schemas, some names need their schema."""
        return len({t.schema for t in self.tables}) > 1

    @cached_property
    def _by_name(self) -> dict[str, list[Table]]:
        """The tables by lowercased name: a lookup per name, not a scan of 5,000 tables."""
        found: dict[str, list[Table]] = {}
        for t in self.tables:
            found.setdefault(t.name.lower(), []).append(t)
        return found

    @cached_property
    def _others_by_name(self) -> dict[str, list[str]]:
        """The schemas of the relations `hidden` and `unlisted` name, by lowercased name."""
        return _schemas_by_name(self.hidden | self.unlisted)

    def table(self, name: str, schema: str | None = None) -> Table | None:
        """Find a table as PostgreSQL would: exact schema if given, else first on search_path."""
        lowered = name.lower()
        matches = [t for t in self._by_name.get(lowered, ()) if schema is None or t.schema.lower() == schema.lower()]
        if schema is None:
            matches = [t for t in matches if t.schema in self.search_path]
        if not matches:
            return None
        # the name as written first, where another differs only in case (`tk_note` and
        # "TK_NOTE"): that one the server reads; a case slip finds the other
        found = min([t for t in matches if t.name == name] or matches, key=lambda t: self._position(t.schema))
        if schema is None and any(self._position(s) < self._position(found.schema) for s in self._others_by_name.get(lowered, ())):
            return None  # the server reads a relation the schema does not list (pg_catalog's pg_roles, a temporary table)
        return found

    def reads_unlisted(self, name: str, schema: str | None = None) -> bool:
        """Whether the server reads a relation the schema does not list (`unlisted`) for
        ``name``, in ``schema`` (`pg_temp`: the session's temporary schema) or, bare, where
        the search_path leads it."""
        for where in _schemas_by_name(self.unlisted).get(name.lower(), ()):
            if schema is None and self._position(where) < len(self.search_path):
                return True
            if schema is not None and (where.lower() == schema.lower() or (schema.lower() == "pg_temp" and where.startswith("pg_temp_"))):
                return True
        return False

    def _position(self, schema: str) -> int:
        """Where the server looks for a bare name in ``schema``: in search_path order, and
        the session's temporary schema and pg_catalog, where the path does not list them,
        before it."""
        if schema in self.search_path:
            return self.search_path.index(schema)
        return -1 if schema == "pg_catalog" else -2 if schema.startswith("pg_temp") else len(self.search_path)

    def needs_schema(self, schema: str, name: str) -> bool:
        """Whether a query must write ``schema.name``: the schema is not on the search_path,
        or a same-named table earlier on it shadows this one."""
        visible = self.table(name)
        return visible is None or visible.schema != schema

    def reference(self, table: Table) -> str:
        """The table's name as a query writes it (unquoted), schema-qualified only when needed."""
        return table.qualified_name if self.needs_schema(table.schema, table.name) else table.name


@lru_cache(maxsize=8)
def _schemas_by_name(relations: frozenset[tuple[str, str]]) -> dict[str, list[str]]:
    """(schema, name) pairs as the schemas of each lowercased name."""
    found: dict[str, list[str]] = {}
    for where, relation in relations:
        found.setdefault(relation.lower(), []).append(where)
    return found
