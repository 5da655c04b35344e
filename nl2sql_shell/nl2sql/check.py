"""Static checks of one generated statement against the schema, before the server sees it.

Errors are single lines meant for two readers: the model in a repair round (so they name the
valid alternatives and the closest match) and the user (so they read like PostgreSQL's own).
Names are resolved scope by scope with sqlglot's scope analysis: CTEs, derived tables, table
aliases, correlated subqueries and table functions each see what PostgreSQL would let them
see. Where the columns of a source cannot be known (a table function, a system catalog, a
subquery with SELECT * or unnamed expressions) the check stays silent rather than guess.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.resolver import Resolver
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import Token, TokenType

from nl2sql_shell.schema.model import Schema, Table
from nl2sql_shell.schema.render import RESERVED_WORDS
from nl2sql_shell.schema.words import closest_name

from .parsing import DIALECT, parse_statements, same_column
from .safety import classify

_CATALOG_SCHEMAS = frozenset({"pg_catalog", "information_schema"})
_SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
# SQL-standard functions written without parentheses (and DEFAULT) that sqlglot reads as columns.
_PSEUDO_COLUMNS = frozenset({"user", "current_user", "session_user", "current_role", "current_catalog", "current_schema", "default"})
_MAX_LISTED = 60
_CLOSE = 0.7  # difflib similarity for "did you mean"
# What a join error says: a join the server would run, pairing every row with every other.
JOIN_ERRORS = ("compares a column with itself", "never names", "names no table joined before")

_HINTS = {
    **{unit: f"EXTRACT({unit.upper()} FROM x)" for unit in ("year", "month", "day", "hour", "minute", "second", "quarter", "week")},
    "dayofweek": "EXTRACT(DOW FROM x)",
    "weekday": "EXTRACT(ISODOW FROM x) - 1",
    "dayofmonth": "EXTRACT(DAY FROM x)",
    "dayofyear": "EXTRACT(DOY FROM x)",
    "weekofyear": "EXTRACT(WEEK FROM x)",
    "date_format": "to_char(x, 'YYYY-MM-DD')",
    "strftime": "to_char(x, 'YYYY-MM-DD')",
    "str_to_date": "to_date(text, 'YYYY-MM-DD') or to_timestamp(text, format)",
    "ifnull": "COALESCE(x, y)",
    "isnull": "COALESCE(x, y) or x IS NULL",
    "nvl": "COALESCE(x, y)",
    "datediff": "date1::date - date2::date (days) or AGE(date1, date2)",
    "date_add": "x + INTERVAL '1 day'",
    "adddate": "x + INTERVAL '1 day'",
    "date_sub": "x - INTERVAL '1 day'",
    "subdate": "x - INTERVAL '1 day'",
    "curdate": "CURRENT_DATE",
    "getdate": "now()",
    "sysdate": "now()",
    "datetime": "x::timestamp",
    "julianday": "EXTRACT(EPOCH FROM x) / 86400",
    "unix_timestamp": "EXTRACT(EPOCH FROM x)",
    "from_unixtime": "to_timestamp(x)",
    "group_concat": "string_agg(x::text, ',')",
    "if": "CASE WHEN condition THEN a ELSE b END",
    "iif": "CASE WHEN condition THEN a ELSE b END",
    "instr": "strpos(string, substring)",
    "locate": "strpos(string, substring)",
    "charindex": "strpos(string, substring)",
    "substring_index": "split_part(string, delimiter, n)",
    "len": "length(x)",
}
# A name before "(" after these words is a table or CTE being defined, not a function call.
_DEFINING_WORDS = frozenset({"into", "table", "references", "with", "view"})


@dataclass
class CheckResult:
    """What the checks found; `sql` is the statement to show and run (pretty when that is safe)."""

    ok: bool
    sql: str
    statement_count: int
    tables: tuple[str, ...] = ()  # qualified names of the schema's tables the statement reads
    errors: list[str] = field(default_factory=list)
    kind: str = "read"  # "read" | "write", from safety.classify
    # Tables and columns the statement names that the schema does not have, as written: what
    # the model needed and could not find (the pipeline compares them with the question's words).
    unknown: tuple[str, ...] = ()


def check_sql(sql: str, schema: Schema) -> CheckResult:
    errors = _dialect_hints(sql)
    plain = sql.strip().rstrip(";").rstrip()
    try:
        statements = parse_statements(sql)
    except (ParseError, TokenError) as exc:
        return CheckResult(False, plain, 0, (), [*errors, _syntax_error(exc)], "write")
    kind = "write" if classify(sql).writes else "read"
    if len(statements) != 1:
        errors.append(f"expected one statement, got {len(statements)}")
        return CheckResult(False, plain, len(statements), (), errors, kind)
    tree = statements[0]
    pretty = _pretty(tree, sql) if not errors else None
    named = tree.copy()
    checker = _check_names(named, schema)  # normalizes the names of `named`
    errors += checker.errors + _join_errors(named)
    return CheckResult(not errors, pretty or plain, 1, tuple(dict.fromkeys(checker.read)), errors, kind, tuple(dict.fromkeys(checker.unknown)))


def _syntax_error(exc: ParseError | TokenError) -> str:
    details = exc.errors[0] if isinstance(exc, ParseError) and exc.errors else None
    if details is None:
        return "syntax error: " + " ".join(str(exc).split())
    near = f' near "{details["highlight"]}"' if details.get("highlight") else ""
    return f"syntax error at line {details['line']}, column {details['col']}{near}: {details['description']}"


def _pretty(tree: exp.Expression, original: str) -> str | None:
    """sqlglot's pretty form, only where it changes nothing but the layout: the same tokens as
    the original, but for blanks, the case of unquoted words and an `AS` before an alias.

    sqlglot normalises while parsing (now() becomes CURRENT_TIMESTAMP, 'a' 'b' a CONCAT, a
    to_char format's case, `::bit varying` a cast to bit aliased "varying", PostgreSQL 16's
    0x41 a bit string), and reads some of its own rewrites back the same way, so neither the
    tree nor the words it holds prove the meaning kept: then the model's own text is kept,
    since pretty-printing must never change what runs.
    """
    try:
        text = tree.sql(dialect=DIALECT, pretty=True, unsupported_level=ErrorLevel.RAISE)
        same = layout_free(text) == layout_free(original)
    except (ParseError, TokenError, UnsupportedError):
        return None
    return text if same else None


def layout_free(sql: str) -> list[str]:
    """The statement's tokens as written, with what layout may change taken out: unquoted words
    in lower case, synonyms as one (`!=` and `<>`, float and double precision), no `AS` before
    an alias, no final `;`; literals and quoted names exact. Only ASCII letters fold, as
    PostgreSQL folds them: `итого(x)` and sqlglot's `ИТОГО(x)` name two functions."""
    shape: list[str] = []
    for token in DIALECT.tokenize(sql):
        raw = sql[token.start : token.end + 1]
        if token.token_type in (TokenType.ALIAS, TokenType.SEMICOLON):  # (one statement: its ; ends it)
            continue
        word = raw.translate(_ASCII_LOWER)
        shape.append(raw if _is_string(token) or raw.startswith('"') else _SAME_WORDS.get(word, word))
        if shape[-2:] in (["nulls", "last"], ["nulls", "first"]) and (shape[-1] == "last") != (shape[-3:-2] == ["desc"]):
            del shape[-2:]  # the order PostgreSQL gives NULLs anyway (last ascending, first descending), which sqlglot leaves out
    return shape


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# spellings PostgreSQL reads as one another, which sqlglot writes its own way (keywords all:
# `bool` is none, so a type `bool` of the user's on the search_path is what `bool` names, not
# BOOLEAN's pg_catalog.bool)
_SAME_WORDS = {"!=": "<>", "double precision": "float", "integer": "int"}


def _dialect_hints(sql: str) -> list[str]:
    """Spellings from MySQL, SQLite or SQL Server that sqlglot would quietly translate, named
    with their PostgreSQL form so that a repair round can fix them."""
    try:
        tokens = DIALECT.tokenize(sql)
    except TokenError:
        return []
    hints = []
    if any(t.text == "`" for t in tokens):
        hints.append("PostgreSQL quotes identifiers with double quotes (\"name\"), not backticks")
    for i, token in enumerate(tokens):
        word, before = token.text.lower(), tokens[i - 1].text.lower() if i else ""
        following = [t.token_type for t in tokens[i + 1 : i + 3]]
        if following[:1] == [TokenType.L_PAREN] and word in _HINTS and not _is_string(token) and before not in _DEFINING_WORDS:
            hints.append(f"{word.upper()}() is not a PostgreSQL function; use {_HINTS[word]}")
        elif token.token_type == TokenType.LIMIT and following == [TokenType.NUMBER, TokenType.COMMA]:
            hints.append("LIMIT offset, count is MySQL; in PostgreSQL write LIMIT count OFFSET offset")
        elif word == "top" and before in {"select", "distinct"} and following[:1] == [TokenType.NUMBER]:
            hints.append("SELECT TOP n is SQL Server; in PostgreSQL end the query with LIMIT n")
    return list(dict.fromkeys(hints))


def _is_string(token: Token) -> bool:
    return token.token_type.name.endswith("STRING")


def _join_errors(tree: exp.Expression) -> list[str]:
    """JOIN conditions that cannot be what was meant: `ON a.x = a.x`, an ON that never names
    the joined table, or one that names only it (`JOIN d ON d.tenant_id = d.id`). Each pairs
    every row of the joined table with every row before it, so the query runs and returns
    plausible but wrong numbers; a small model writes them often."""
    errors = []
    for join in tree.find_all(exp.Join):
        on = join.args.get("on")
        if on is None and _comma_join(join):
            errors += _comma_join_errors(join)
            continue
        if on is None or on.find(exp.Select) is not None:
            continue
        joined = join.this.alias_or_name.lower()
        joined_schema = "" if join.this.alias else join.this.text("db").lower()  # (`hr.orders` beside `public.orders`)
        itself = [eq for eq in on.find_all(exp.EQ) if same_column(eq.left, eq.right)]
        columns = [c for c in on.find_all(exp.Column) if not any(c.parent is eq for eq in itself)]
        named = [c.table.lower() == joined and c.text("db").lower() in ("", joined_schema or c.text("db").lower()) for c in columns] if columns and all(c.table for c in columns) else None
        if itself and not columns:
            wrong = JOIN_ERRORS[0]
        elif named is not None and not any(named):
            wrong = f"{JOIN_ERRORS[1]} {joined}"
        elif named is not None and all(named):
            wrong = f"{JOIN_ERRORS[2]} {joined}"
        else:
            continue  # (a harmless `x = x` beside a real join condition stays)
        errors.append(f"JOIN {join.this.sql(dialect=DIALECT)} ON {on.sql(dialect=DIALECT)} {wrong}: equate a column of {joined} with a column of a table joined before it")
    return errors


def _comma_join(join: exp.Join) -> bool:
    """`FROM a, d`: a join with no kind, side, ON or USING, whose conditions are in WHERE."""
    return not any(join.args.get(arg) for arg in ("kind", "side", "on", "using", "method")) and isinstance(join.parent, exp.Select)


def _comma_join_errors(join: exp.Join) -> list[str]:
    """`FROM a, d WHERE d.x = d.x` (or `a.x = a.x`): where d's join condition was due, a
    column is compared with itself, and nothing ties d to a table before it, so every row of d
    pairs with every row before it, as `JOIN d ON d.x = d.x` does. A comma join with no condition at all (`FROM t, (SELECT avg(x) ...) s`) is often
    meant, and stays."""
    where = join.parent.args.get("where")
    if where is None or where.find(exp.Select) is not None:
        return []
    joined = join.this.alias_or_name.lower()
    conditions = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    itself = [c for c in conditions if isinstance(c, exp.EQ) and same_column(c.left, c.right)]
    relating = [c for c in conditions if c not in itself and _relates(c, joined)]
    if not itself or relating:
        return []
    return [f"FROM ..., {join.this.sql(dialect=DIALECT)} WHERE {itself[0].sql(dialect=DIALECT)} {JOIN_ERRORS[0]}: equate a column of {joined} with a column of a table before it"]


def _relates(condition: exp.Expression, joined: str) -> bool:
    """Whether a WHERE condition may tie ``joined`` to another table: it names ``joined`` and
    another table, or a column without its table (which may be either)."""
    tables = {c.table.lower() for c in condition.find_all(exp.Column)}
    return "" in tables or (joined in tables and len(tables) > 1)


def _check_names(tree: exp.Expression, schema: Schema) -> _NameChecker:
    """The checker after reading every scope: tables read (qualified), the errors for unknown
    tables and columns, and their names."""
    normalize_identifiers(tree, dialect=DIALECT)  # unquoted names fold to lower case, as in PostgreSQL
    checker = _NameChecker(schema, tree)
    if isinstance(tree, (exp.Insert, exp.Update, exp.Delete, exp.Merge)):
        checker.check_target(tree)
    try:
        scopes = list(traverse_scope(tree))
    except OptimizeError:
        scopes = []  # sqlglot cannot build scopes here; the server's EXPLAIN will judge
    for scope in scopes:
        checker.check_scope(scope)
    checker.errors = list(dict.fromkeys(checker.errors))
    return checker


class _NameChecker:
    """Resolves table and column names scope by scope; collects what it reads and what is wrong."""

    def __init__(self, schema: Schema, tree: exp.Expression) -> None:
        self.schema = schema
        # A recursive CTE reads itself as a table; it is no table of the schema.
        self._ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        self.read: list[str] = []
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self._tables: dict[int, Table | None] = {}  # id(exp.Table) -> schema table (None: unknown columns)
        self._empty = MappingSchema(dialect=DIALECT)

    # -- tables ---------------------------------------------------------------------------

    def check_target(self, statement: exp.Expression) -> None:
        """The table an INSERT/UPDATE/DELETE/MERGE writes, and the columns it names."""
        target = statement.this
        columns = target.expressions if isinstance(target, exp.Schema) else []
        if isinstance(target, exp.Schema):
            target = target.this
        if not isinstance(target, exp.Table):
            return
        table = self._table(target)
        if isinstance(statement, exp.Update):
            columns = [e.this for e in statement.expressions if isinstance(e, exp.EQ)]
        for column in columns:
            if table is not None and isinstance(column, (exp.Column, exp.Identifier)) and table.column(column.name) is None:
                self.errors.append(_missing_column(column.name, [(table.name, [c.name for c in table.columns])]))
                self.unknown.append(column.name)

    def _table(self, node: exp.Table) -> Table | None:
        if id(node) in self._tables:
            return self._tables[id(node)]
        table = None
        if isinstance(node.this, exp.Identifier) and not is_catalog(node, self.schema) and not (not node.db and node.name in self._ctes):
            table = self.schema.table(node.name, node.db or None)
            if table is None and self.schema.reads_unlisted(node.name, node.db or None):
                pass  # a partition, a temporary table: it exists, its columns are not known here
            elif table is None or table.name != node.name or (node.db and table.schema != node.db):
                self.errors.append(self._missing_table(node))
                self.unknown.append(node.name)
                table = None
            elif is_bare_keyword(node):
                self.errors.append(keyword_error(node.name, "table"))
        self._tables[id(node)] = table
        return table

    def _missing_table(self, node: exp.Table) -> str:
        names = [t.qualified_name if node.db else self.schema.reference(t) for t in self.schema.tables]
        wanted = f"{node.db}.{node.name}" if node.db else node.name
        if not names:
            return f'table "{wanted}" does not exist; the database has no tables'
        same_name = [n for t, n in zip(self.schema.tables, names, strict=True) if t.name.lower() == node.name.lower()]
        hint = f'; did you mean "{same_name[0]}"?' if same_name else _suggestion(wanted, names)
        return f'table "{wanted}" does not exist; tables are: {_listing(names)}{hint}'

    # -- columns --------------------------------------------------------------------------

    def check_scope(self, scope: Scope) -> None:
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and (table := self._table(source)) is not None:
                self.read.append(table.qualified_name)
        # sqlglot also lists here the outer references of nested scopes; those are checked
        # (against the same visible sources) where they are written.
        children = [*scope.subquery_scopes, *scope.udtf_scopes, *scope.derived_table_scopes]
        nested = {id(c) for child in children for c in child.external_columns}
        for column in scope.columns:
            error = None if id(column) in nested else self._column_error(scope, column)
            if error:
                self.errors.append(error)
        self.errors += self._outer_values(scope)

    def _outer_values(self, scope: Scope) -> list[str]:
        """`x IN (SELECT c FROM t ...)` where t has no column c but the outer query does:
        PostgreSQL reads the outer row's c, so the subquery lists that row's own value and
        the IN holds for every row (NOT IN for none) wherever t has a matching row. The query
        runs and its rows look plausible; it is the classic trap, never what was meant."""
        query = scope.expression
        holder = query.parent.parent if isinstance(query.parent, exp.Subquery) else query.parent
        if not isinstance(query, exp.Select) or not isinstance(holder, (exp.In, exp.Any, exp.All)):
            return []
        own = [self._source_columns(scope, alias) for alias in scope.sources]
        if not own or any(columns is None for columns in own):
            return []  # what the subquery's own tables hold is not known: stay silent
        names = {c for columns in own if columns is not None for c in columns}
        outer = _visible_scopes(scope)[1:]
        outer_names = {c for s in outer for alias in s.sources for c in self._source_columns(s, alias) or ()}

        def from_outside(column: exp.Column) -> bool:
            if column.table:
                return column.table not in scope.sources and any(column.table in s.sources for s in outer)
            return column.name not in names and column.name in outer_names

        errors = []
        for projection in query.selects:
            columns = list(projection.find_all(exp.Column))
            if columns and all(from_outside(c) for c in columns):
                read = ", ".join(self._label(scope, alias) for alias in scope.sources)
                errors.append(
                    f'the subquery lists "{columns[0].sql()}" of the outer query (no table it reads, {read}, has it): '
                    "it gives each outer row its own value; list a column of the subquery's tables"
                )
        return errors

    def _column_error(self, scope: Scope, column: exp.Column) -> str | None:
        name, qualifier = column.name, column.table
        chain = _visible_scopes(scope)
        if qualifier:
            owner = next((s for s in chain if qualifier in s.sources), None)
            if owner is None:
                aliases = [a for s in chain for a in s.sources if a]
                joinable = f'; "{qualifier}" is a table the query does not join: add it to FROM' if self.schema.table(qualifier) else ""
                return f'missing FROM-clause entry for table "{qualifier}"; the query has: {_listing(aliases)}{_suggestion(qualifier, aliases)}{joinable}'
            source = owner.sources[qualifier]
            if column.text("db") and isinstance(source, exp.Table) and source.db and column.text("db") != source.db:
                return None  # `hr.orders.x` beside `public.orders`: a scope holds one source per name; the server judges
            columns = self._source_columns(owner, qualifier)
            if isinstance(column.this, exp.Star) or columns is None or name in columns or name in _SYSTEM_COLUMNS:
                return None
            self.unknown.append(name)
            return _missing_column(name, [(self._label(owner, qualifier), columns)]) + self._elsewhere(name)
        if is_bare_keyword(column) and any(name in (self._source_columns(s, alias) or ()) for s in chain for alias in s.sources):
            return keyword_error(name, "column")
        if name in _PSEUDO_COLUMNS or name in _SYSTEM_COLUMNS or self._is_output_name(scope, column):
            return None
        known: list[tuple[str, list[str]]] = []
        for visible in chain:
            if name in visible.sources:  # a whole-row reference such as row_to_json(t)
                return None
            for alias in visible.sources:
                columns = self._source_columns(visible, alias)
                if columns is None or name in columns:
                    return None
                known.append((self._label(visible, alias), columns))
        self.unknown.append(name)
        if not known:
            return f'column "{name}" does not exist; the query reads no table' + self._elsewhere(name)
        return _missing_column(name, known) + self._elsewhere(name)

    def _elsewhere(self, name: str) -> str:
        """The tables the query does not read that have the column: small models put a column
        on a table they already joined rather than join the table that has it."""
        read = set(self.read)
        owners = [self.schema.reference(t) for t in self.schema.tables if t.qualified_name not in read and t.column(name) is not None]
        return f'; "{name}" is a column of {_listing(owners)}: join that table' if owners else ""

    def _source_columns(self, scope: Scope, alias: str) -> list[str] | None:
        """Column names of one source, or None when they cannot be known."""
        source = scope.sources[alias]
        if isinstance(source, exp.Table):
            table = self._table(source)
            if table is None:
                return None
            columns = [c.name for c in table.columns]
            renamed = source.alias_column_names
            return [*renamed, *columns[len(renamed) :]]
        query = source.expression
        if isinstance(query, exp.Select) and any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and isinstance(s.this, exp.Star)) for s in query.selects):
            columns = self._star_columns(source, query)
        else:
            try:
                columns = list(Resolver(scope, self._empty).get_source_columns(alias))
            except OptimizeError:
                return None
        if columns is None or not columns or "" in columns or "*" in columns:
            return None
        renamed = _declared_columns(query)
        return [*renamed, *columns[len(renamed) :]]

    def _star_columns(self, scope: Scope, query: exp.Select) -> list[str] | None:
        """Output columns of a SELECT with * or t.*, expanded from its sources when known."""
        columns: list[str] = []
        for projection in query.selects:
            if isinstance(projection, exp.Star):
                expanded = [self._source_columns(scope, alias) for alias in scope.selected_sources]
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                expanded = [self._source_columns(scope, projection.table) if projection.table in scope.sources else None]
            else:
                expanded = [[projection.alias_or_name]]
            if any(e is None for e in expanded):
                return None
            columns += [c for e in expanded for c in e]
        return columns

    def _label(self, scope: Scope, alias: str) -> str:
        source = scope.sources[alias]
        if isinstance(source, exp.Table) and (table := self._tables.get(id(source))) is not None and table.name != alias:
            return f"{table.name} AS {alias}"
        return alias

    @staticmethod
    def _is_output_name(scope: Scope, column: exp.Column) -> bool:
        """Output columns may be named in ORDER BY, GROUP BY and HAVING, and after a UNION."""
        query = scope.expression
        if isinstance(query, exp.SetOperation):
            return column.name in query.named_selects
        clause = column.find_ancestor(exp.Order, exp.Group, exp.Having, exp.Select)
        return isinstance(clause, (exp.Order, exp.Group, exp.Having)) and clause.parent is query and column.name in query.named_selects


def _declared_columns(query: exp.Expression) -> list[str]:
    """Column names given with the alias, as in `WITH c(a, b) AS (...)` or `(...) AS s(a, b)`;
    a recursive CTE's anchor reaches its CTE through the UNION."""
    node = query.parent
    while isinstance(node, exp.SetOperation):
        node = node.parent
    return node.alias_column_names if isinstance(node, (exp.CTE, exp.Subquery)) else []


def _visible_scopes(scope: Scope) -> list[Scope]:
    """The scope and the outer ones a correlated subquery or LATERAL item may reference."""
    chain = [scope]
    while chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    return chain


def is_catalog(node: exp.Table, schema: Schema) -> bool:
    """System catalogs are always readable and are not part of the Schema."""
    if node.db:
        return node.db in _CATALOG_SCHEMAS
    return node.name.startswith("pg_") and schema.table(node.name) is None


def is_bare_keyword(node: exp.Table | exp.Column) -> bool:
    """An unqualified name written bare that PostgreSQL reads as a keyword: `FROM user` is the
    current user's name (a one-row table), `WHERE user = 'bob'` compares it, `FROM order`
    does not parse. The schema's table or column of that name must be written in quotes.
    Where the statement writes that column quoted or qualified too (`d."user" = user`), its
    author told the two apart, and a bare one compared with another column (`assignee =
    user`) is the idiom for the current user: there it is the keyword."""
    qualifier = node.args.get("db") if isinstance(node, exp.Table) else node.args.get("table")
    if qualifier or not isinstance(node.this, exp.Identifier) or node.this.quoted or node.name not in RESERVED_WORDS:
        return False
    if not isinstance(node, exp.Column):
        return True
    parent = node.parent
    if isinstance(parent, (exp.EQ, exp.NEQ)) and isinstance(other := (parent.right if parent.left is node else parent.left), exp.Column) and other.name != node.name:
        return False
    return not any(other is not node and other.name == node.name and (other.table or other.this.quoted) for other in node.root().find_all(exp.Column))


def keyword_error(name: str, kind: str) -> str:
    return f'bare {name} is a PostgreSQL keyword, not the {kind} "{name}": write it in double quotes'


def _missing_column(name: str, sources: list[tuple[str, list[str]]]) -> str:
    if len(sources) == 1:
        label, columns = sources[0]
        return f'column "{name}" does not exist in table "{label}"; its columns are: {_listing(columns)}{_suggestion(name, columns)}'
    described = "; ".join(f"{label}: {_listing(columns)}" for label, columns in sources)
    candidates = {c: f"{label.split(' AS ')[-1]}.{c}" for label, columns in reversed(sources) for c in columns}
    close = closest_name(name, list(candidates), cutoff=_CLOSE)
    hint = f'; did you mean "{candidates[close]}"?' if close else ""
    return f'column "{name}" does not exist in any table of the query ({described}){hint}'


def _listing(names: Iterable[str]) -> str:
    names = list(dict.fromkeys(names))
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f", ... ({len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else "")


def _suggestion(name: str, candidates: list[str]) -> str:
    close = closest_name(name, candidates, cutoff=_CLOSE)
    return f'; did you mean "{close}"?' if close else ""
