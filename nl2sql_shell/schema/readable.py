"""Names as the model reads them: the schema's own names, where those are hard to write.

A small model writes the names it has seen in training: snake_case words. Schemas that spell
names another way lose most of its queries to names it cannot get right: quoted camelCase
(``"PatientVisit"."primaryClinicianId"``, which must be written with its quotes) or a short
prefix on every table and column, folded to lower case by PostgreSQL (``whorderline``,
``whorderlinecustid``). So the prompt shows such names in words (``patient_visit``,
``primary_clinician_id``; ``order_line``, ``cust_id``), and the query the model writes is
translated back before anything checks or runs it. The translation is a renaming by a
one-to-one map: the query the person sees, checks and runs names the schema's own tables and
columns, and means what the model wrote.

Reading every prompt in words (`Options.readable_names`, `eval --readable-names`) is off by
default: on bench/unfamiliar's prefixed and camelCase databases it gained nothing measurable
(8/36 with and without, docs/benchmarks.md); the prefixes had told the model which table a
column is on. As a second try it helps: when the greedy query on the schema's own names
fails the checks, the greedy query in words comes next (`Options.words_retry`, on).

Only names that need it are renamed; a schema of plain snake_case names (most schemas) reads
exactly as it is and its queries are never touched. A readable name is kept only when it is a
valid bare identifier, not a keyword, and unique where it is used (a table among its schema's
tables, a column among its table's columns); otherwise the name stays as the schema spells it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import Scope, traverse_scope

from nl2sql_shell.nl2sql.parsing import PARSE_ERRORS, parse_one
from nl2sql_shell.nl2sql.written_back import written_back

from .model import ForeignKey, Schema, Table
from .render import RESERVED_WORDS, quote_name, render_schema
from .words import MIN_AFFIX, MIN_SEGMENTED, SHARED_AFFIX_SHARE, declared_words, segment

_BARE = re.compile(r"[a-z_][a-z0-9_]*")
_KEY_SUFFIX = "id"  # `ordid` is `ord` + `id`, whatever a word model says (`or did`)


@dataclass(frozen=True)
class ReadableNames:
    """A one-to-one map between the schema's names and the names the model reads.

    Keys are the schema's own names; only names that differ are present."""

    tables: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (schema, table) -> readable
    columns: Mapping[tuple[str, str, str], str] = field(default_factory=dict)  # (schema, table, column) -> readable

    def __bool__(self) -> bool:
        return bool(self.tables or self.columns)

    def table(self, table: Table) -> Table:
        """The table as the prompt shows it: its name, columns, keys and references in words."""
        if not self:
            return table
        name = self.tables.get((table.schema, table.name), table.name)

        def col(owner_schema: str, owner: str, column: str) -> str:
            return self.columns.get((owner_schema, owner, column), column)

        return replace(
            table,
            name=name,
            columns=tuple(replace(c, name=col(table.schema, table.name, c.name)) for c in table.columns),
            primary_key=tuple(col(table.schema, table.name, c) for c in table.primary_key),
            foreign_keys=tuple(
                ForeignKey(
                    tuple(col(table.schema, table.name, c) for c in fk.columns),
                    fk.ref_schema,
                    self.tables.get((fk.ref_schema, fk.ref_table), fk.ref_table),
                    tuple(col(fk.ref_schema, fk.ref_table, c) for c in fk.ref_columns),
                )
                for fk in table.foreign_keys
            ),
        )

    def schema_name(self, schema: str, readable: str) -> str:
        """The schema's own name of the table shown as ``readable`` in ``schema``."""
        return next((real for (s, real), shown in self.tables.items() if s == schema and shown == readable), readable)

    def to_schema(self, sql: str, schema: Schema) -> str:
        """The model's query with the schema's own names (unchanged when nothing is renamed
        or it does not parse: the checks will say what is wrong with it)."""
        return _translate(sql, schema, self, to_readable=False) if self else sql

    def to_readable(self, sql: str, schema: Schema) -> str:
        """A query in the schema's names as the model would write it (examples, history)."""
        return _translate(sql, schema, self, to_readable=True) if self else sql

    def readable_text(self, text: str) -> str:
        """Free text (an error message) with the schema's names replaced by readable ones."""
        if not self:
            return text
        names = {real: shown for (_, real), shown in self.tables.items()}
        names.update({real: shown for (_, _, real), shown in self.columns.items()})
        pattern = re.compile(r"(?<![\w$])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w$])")
        return pattern.sub(lambda m: names[m.group(1)], text)


def readable_names(schema: Schema) -> ReadableNames:
    """The readable names of ``schema`` (cached: the same schema object gives the same map)."""
    return _readable_names(schema)


@dataclass(frozen=True)
class ModelView:
    """A database as the model reads it, and the way back to the database's own names.

    ``readable`` is the schema with every table under its readable names: the static checks
    and the corrections read it, so that they work in the names the model writes and their
    messages use them too; only a query that passed them is translated, to go to the server.
    """

    schema: Schema
    names: ReadableNames
    readable: Schema

    def to_schema(self, sql: str) -> str:
        return self.names.to_schema(sql, self.schema)

    def to_readable(self, sql: str) -> str:
        return self.names.to_readable(sql, self.schema)

    def readable_text(self, text: str) -> str:
        return self.names.readable_text(text)


def model_view(schema: Schema, *, readable: bool = True) -> ModelView:
    """``schema`` as the model reads it: with its names in words, or (``readable=False``) as
    it is, where nothing is translated."""
    return _model_view(schema) if readable else ModelView(schema, ReadableNames(), schema)


@lru_cache(maxsize=16)
def _model_view(schema: Schema) -> ModelView:
    names = readable_names(schema)
    readable = replace(schema, tables=tuple(names.table(t) for t in schema.tables)) if names else schema
    return ModelView(schema, names, readable)


@lru_cache(maxsize=16)
def _readable_names(schema: Schema) -> ReadableNames:
    tables: dict[tuple[str, str], str] = {}
    columns: dict[tuple[str, str, str], str] = {}
    prefixes = prefix_conventions([t.name for t in schema.tables])  # a convention of the whole database
    for namespace in dict.fromkeys(t.schema for t in schema.tables):
        group = [t for t in schema.tables if t.schema == namespace]
        tables.update(_unique({(namespace, t.name): readable_word(t.name, prefixes) for t in group}, [t.name for t in group]))
        for t in group:
            own = (*_own_name(t), *prefix_conventions([c.name for c in t.columns]), *prefixes)
            wanted = {(namespace, t.name, c.name): readable_word(c.name, own) for c in t.columns}
            columns.update(_unique(wanted, [c.name for c in t.columns]))
    return ReadableNames(tables, columns)


def prefix_conventions(names: Sequence[str]) -> list[str]:
    """Prefixes that at least 60% of ``names`` (three at least) carry as a word of their own,
    longest first: ``wh`` of ``whSite, whOrder, whBin``, ``whsite`` of ``whsitename,
    whsitecity, whsitesqm``. Where it ends, most of the names carrying it start a new word,
    by their camelCase humps or, for names folded to lower case, by an English word model;
    letters that names share by chance (``co`` of ``customer, contact, country``) are not a
    convention."""
    texts = {n: "".join(declared_words(n)) for n in names}
    needed = max(3, SHARED_AFFIX_SHARE * len(texts))
    found = []
    for size in range(max(map(len, texts.values()), default=0), MIN_AFFIX - 1, -1):
        carriers: dict[str, list[str]] = {}
        for name, text in texts.items():
            if len(text) >= size + 2:
                carriers.setdefault(text[:size], []).append(name)
        for prefix, carrying in carriers.items():
            if len(carrying) >= needed and sum(size in _word_starts(n) for n in carrying) >= SHARED_AFFIX_SHARE * len(carrying):
                found.append(prefix)
    return found


def _own_name(table: Table) -> list[str]:
    """The table's own name, when most of its columns begin with it (``kmuserid``,
    ``kmusername`` in ``kmUser``): a convention whatever a word model makes of the rest."""
    own = "".join(declared_words(table.name))
    carrying = sum("".join(declared_words(c.name)).startswith(own) for c in table.columns)
    return [own] if len(table.columns) >= 3 and carrying >= SHARED_AFFIX_SHARE * len(table.columns) else []


def _word_starts(name: str) -> set[int]:
    """Offsets in the name's letters where a word starts: its humps, or a word model's split."""
    words = declared_words(name)
    if len(words) == 1 and words[0].isalpha():
        words = list(segment(words[0]))
    offsets, seen = set(), 0
    for word in words:
        offsets.add(seen)
        seen += len(word)
    return offsets


def readable_word(name: str, prefixes: Sequence[str] = ()) -> str:
    """``name`` in lower-case words joined by underscores. camelCase is split at its humps; a
    name that writes its words without separators loses the longest of ``prefixes`` it starts
    with (whole words only, when it has humps), and a run of letters left is segmented into
    words. Names already written as the model would write them stay as they are."""
    snake = _snake(name)
    if "_" not in name:  # the schema kept no separators of its own
        words = snake.split("_")
        text = "".join(words)
        for prefix in sorted((p for p in prefixes if text.startswith(p) and len(text) - len(p) >= 2), key=len, reverse=True):
            if len(words) == 1:
                return "_".join(_split(text[len(prefix) :]))
            if rest := _after(words, len(prefix)):
                return "_".join(rest)
    return name if _plain(name) else snake


def _snake(name: str) -> str:
    """``primaryClinicianId`` -> ``primary_clinician_id``, ``HTTPServer`` -> ``http_server``,
    ``hba1cPct`` -> ``hba1c_pct`` (digits stay with their word)."""
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or name


def _plain(name: str) -> bool:
    return _BARE.fullmatch(name) is not None and name not in RESERVED_WORDS


def _after(words: list[str], size: int) -> list[str]:
    """The words after the first ``size`` letters; empty when those end inside a word."""
    seen = 0
    for i, word in enumerate(words):
        seen += len(word)
        if seen == size:
            return words[i + 1 :]
        if seen > size:
            return []
    return []


def _split(word: str) -> list[str]:
    if len(word) < MIN_SEGMENTED or not word.isalpha():
        return [word]
    if word.endswith(_KEY_SUFFIX) and len(word) > len(_KEY_SUFFIX) + 1:
        return [*_split(word[: -len(_KEY_SUFFIX)]), _KEY_SUFFIX] if len(word) - 2 >= MIN_SEGMENTED else [word[:-2], _KEY_SUFFIX]
    return list(segment(word))


def _unique(wanted: dict, names: Iterable[str]) -> dict:
    """Keep the readable names that are valid, not keywords and one-to-one among ``names``;
    a keyword gets a plural (`order` -> `orders`) when that is free."""
    taken = Counter(n.lower() for n in names)
    chosen: dict = {}
    for key, shown in wanted.items():
        real = key[-1]
        if shown == real:
            continue
        if shown in RESERVED_WORDS:
            shown += "s"
        if _plain(shown) and taken[shown] == (shown == real.lower()):  # no other name spelled so
            chosen[key] = shown
    counts: dict[str, int] = {}
    for shown in chosen.values():
        counts[shown] = counts.get(shown, 0) + 1
    return {key: shown for key, shown in chosen.items() if counts[shown] == 1}


# -- translating queries --------------------------------------------------------------------------


def _translate(sql: str, schema: Schema, names: ReadableNames, *, to_readable: bool) -> str:
    try:
        tree = parse_one(sql)
        scopes = list(traverse_scope(tree))
    except (*PARSE_ERRORS, OptimizeError):  # the checks will say what is wrong with it
        return sql
    if not scopes:
        return sql
    view = _View(schema, names, to_readable, {c.table for c in tree.find_all(exp.Column) if c.table})
    sources = {id(scope): view.sources(scope) for scope in scopes}
    for scope in scopes:
        for column in scope.columns:
            view.rename_column(column, scope, sources)
    for scope in scopes:
        for alias, (node, table) in sources[id(scope)].items():
            view.rename_table(node, table)
    text = written_back(sql, tree, pretty=False)
    if text is None:
        return sql  # sqlglot would have changed more than names: the checks will say what is wrong
    return text + ";" if sql.rstrip().endswith(";") and not text.rstrip().endswith(";") else text


@dataclass
class _View:
    """Reads table and column names on one side of the map and writes them on the other."""

    schema: Schema
    names: ReadableNames
    to_readable: bool
    qualifiers: set[str]  # the table names and aliases columns are qualified with

    def sources(self, scope: Scope) -> dict[str, tuple[exp.Table, Table]]:
        """This scope's aliases and the schema table behind each (CTEs and subqueries left out)."""
        found = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and (table := self._table(source)) is not None:
                found[alias] = (source, table)
        return found

    def _table(self, node: exp.Table) -> Table | None:
        if not isinstance(node.this, exp.Identifier):
            return None  # a function in FROM (`jsonb_to_record(j) AS x(a int)`, `generate_series(1, 3) AS g`)
        name, db = _folded(node.this), node.db or None
        if self.to_readable:
            return self.schema.table(name, db)
        for table in self.schema.tables:
            shown = self.names.tables.get((table.schema, table.name), table.name)
            if shown == name and (db is None or table.schema.lower() == db.lower()):
                if db is not None or table.schema in self.schema.search_path or self.schema.table(table.name) is None:
                    return table
        return self.schema.table(name, db)

    def rename_table(self, node: exp.Table, table: Table) -> None:
        shown = self.names.tables.get((table.schema, table.name), table.name)
        written = node.name
        target = shown if self.to_readable else table.name
        if written == target:
            return
        original = node.this
        node.set("this", exp.to_identifier(target, quoted=quote_name(target) != target))
        if not self.to_readable and node.db:
            node.set("db", exp.to_identifier(table.schema, quoted=quote_name(table.schema) != table.schema))
        if not node.alias and written in self.qualifiers:  # `site.name` must still find its table
            node.set("alias", exp.TableAlias(this=original))

    def rename_column(self, column: exp.Column, scope: Scope, sources: dict[int, dict[str, tuple[exp.Table, Table]]]) -> None:
        """Rename a column to the other side's name. A bare column of a select list keeps its
        output name (``kmshopname AS name``): an outer query, ORDER BY or the person reading
        the result header may refer to it by the name the model wrote."""
        owner = self._owner(column, scope, sources)
        target = self._column_name(owner, column.this) if owner is not None else None
        if target is None or target == column.name:
            return
        written = column.this
        column.set("this", exp.to_identifier(target, quoted=quote_name(target) != target))
        in_select_list = isinstance(column.parent, exp.Select) and column.arg_key == "expressions"
        if in_select_list and not (self.to_readable and scope.is_root):
            column.replace(exp.alias_(column.copy(), written.copy()))

    def _owner(self, column: exp.Column, scope: Scope, sources) -> Table | None:
        """The table a column belongs to: by its qualifier, else the one table of the nearest
        scope that has it (an output name in ORDER BY is the select list's, not a table's)."""
        if not column.table and isinstance(column.parent, exp.Ordered) and column.name in _output_names(scope):
            return None
        current: Scope | None = scope
        while current is not None:
            here = sources.get(id(current), {})
            if column.table:
                if column.table in here:
                    return here[column.table][1]
            else:
                owners = [t for _, t in here.values() if self._column_name(t, column.this) is not None]
                if len(owners) == 1:
                    return owners[0]
                if owners:
                    return None  # ambiguous: leave it for the checks to report
            current = current.parent
        return None

    def _column_name(self, table: Table, written: exp.Identifier | str) -> str | None:
        """The other side's name of column ``written`` of ``table``; None when it has none."""
        name = _folded(written)
        for column in table.columns:
            shown = self.names.columns.get((table.schema, table.name, column.name), column.name)
            source, target = (column.name, shown) if self.to_readable else (shown, column.name)
            if name == source:
                return target
        return None


def _folded(name: exp.Identifier | str) -> str:
    """A name as PostgreSQL reads it: unquoted names fold to lower case."""
    if isinstance(name, exp.Identifier):
        return name.name if name.quoted else name.name.lower()
    return name


def _output_names(scope: Scope) -> set[str]:
    select = scope.expression
    return {s.alias for s in select.selects if s.alias} if isinstance(select, exp.Select) else set()



def render_for_model(view: ModelView, tables: Sequence[Table]) -> str:
    """The CREATE TABLE text of ``tables`` (the database's own) as the model reads them in
    ``view``, each table schema-qualified where a query must write it so."""
    names, schema = view.names, view.schema
    return render_schema([names.table(t) for t in tables], qualify=lambda s, n: schema.needs_schema(s, names.schema_name(s, n)))
