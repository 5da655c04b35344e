"""Tab completion that knows where the cursor is in the statement, like pgcli for common cases.

The statement under the cursor is half-typed, so it is never parsed: sqlparse's lexer turns it
into tokens (it copes with any fragment) and a backwards walk from the cursor finds the
clause that decides what fits there:

* after FROM / JOIN / INTO / UPDATE / TABLE (and ``\\d``): tables, views and schemas;
  ``schema.`` narrows to that schema's relations;
* in SELECT / WHERE / ON / GROUP BY / ORDER BY / HAVING / SET: the columns of the statement's
  tables (all visible tables while there is no FROM yet), functions and keywords;
  ``alias.`` or ``table.`` narrows to that table's columns, aliases read from the statement;
* after ``::``: data types; ``\\c`` offers databases; ``\\`` at a line start, meta-commands.

Keywords follow psql's COMP_KEYWORD_CASE: ``lower`` or ``upper`` always, and with the
``preserve-`` settings the case of the word begun (before any letter, of the statement's last
keyword; else lower or upper). Names that need it are double-quoted in the inserted text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import chain

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from sqlparse import lexer, tokens

from nl2sql_shell.repl.metadata import Metadata, Relation
from nl2sql_shell.repl.statements import in_code, split_statements

# The word being typed: a name, or a quoted one not closed yet (`"Us` completes to `"User"`).
_WORD_AT_END = re.compile(r'(?P<qualifier>(?:(?:[^\W\d][\w$]*|"(?:[^"]|"")+")\.)*)(?P<word>"(?:[^"]|"")*|[\w$]*)\Z')
_WORD_SPAN = 1000  # characters before the cursor a typed name may span (the search is quadratic in them)


def _word_at_end(text: str) -> re.Match[str]:
    """The (qualified) name being typed at the end of ``text``: searched in its last
    _WORD_SPAN characters only, since every start in a long run of word characters (a pasted
    hex string) tried every length of it: 40,000 took 20 s, the prompt frozen."""
    match = _WORD_AT_END.search(text, max(len(text) - _WORD_SPAN, 0))
    assert match is not None  # (every part of the pattern may be empty)
    return match
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")
_META_LINE = re.compile(r"\s*(?P<command>\\\S*)(?P<args>\s.*)?\Z", re.DOTALL)

_RELATION_CLAUSES = {"FROM", "JOIN", "UPDATE", "INTO", "TABLE", "TRUNCATE"}
_BEFORE_RELATION = {"ONLY", "LATERAL", ","}
_COLUMN_CLAUSES = {
    "SELECT", "DISTINCT", "WHERE", "ON", "USING", "GROUP BY", "ORDER BY", "HAVING", "SET",
    "RETURNING", "AND", "OR", "NOT", "CASE", "WHEN", "THEN", "ELSE", "BY", "VALUES",
}
# Words that end a table reference rather than name its alias (besides reserved keywords).
_NOT_ALIAS = _RELATION_CLAUSES | _COLUMN_CLAUSES | {"AS", "LIMIT", "OFFSET", "WINDOW", "FOR", "UNION"}

# Offered before the other ~500 keywords, in this order (the rest follow alphabetically).
_COMMON_KEYWORDS = (
    "SELECT", "FROM", "WHERE", "JOIN", "LEFT", "INNER", "ON", "AND", "OR", "NOT", "IN", "IS", "NULL",
    "AS", "GROUP", "ORDER", "BY", "HAVING", "LIMIT", "OFFSET", "DISTINCT", "ASC", "DESC", "LIKE",
    "ILIKE", "BETWEEN", "EXISTS", "CASE", "WHEN", "THEN", "ELSE", "END", "UNION", "WITH", "INSERT",
    "INTO", "VALUES", "UPDATE", "SET", "DELETE", "RETURNING", "CREATE", "TABLE", "ALTER", "DROP",
)
_META_ARGUMENTS = {  # meta-command (without S/+ modifiers) -> what its argument names
    "\\c": "database", "\\connect": "database", "\\l": "database", "\\list": "database",
    "\\d": "relation", "\\dt": "relation", "\\dv": "relation", "\\dm": "relation", "\\dE": "relation",
    "\\dp": "relation", "\\z": "relation", "\\copy": "relation",
    "\\dn": "schema",
    "\\df": "function", "\\sf": "function", "\\ef": "function",
    "\\dT": "datatype", "\\dD": "datatype",
    **dict.fromkeys(("\\i", "\\include", "\\ir", "\\include_relative", "\\o", "\\out", "\\w", "\\write", "\\e", "\\edit", "\\s", "\\g", "\\gx", "\\lo_import"), "file"),
}


@dataclass(frozen=True)
class _Token:
    kind: str  # "keyword" | "name" | "punct" | "other"
    value: str  # keywords upper case with single spaces; names as PostgreSQL folds them
    text: str  # as typed


def _tokenize(sql: str) -> list[_Token]:
    """sqlparse's lexer output reduced to what the context walk needs (no blanks, no comments)."""
    result = []
    for ttype, text in lexer.tokenize(sql):
        if ttype in tokens.Whitespace or ttype in tokens.Comment:
            continue
        if ttype in tokens.Keyword:
            result.append(_Token("keyword", " ".join(text.upper().split()), text))
        elif ttype in tokens.Name:
            result.append(_Token("name", text.lower(), text))
        elif ttype in tokens.String.Symbol:  # "Quoted" identifier
            result.append(_Token("name", text[1:-1].replace('""', '"'), text))
        elif ttype in tokens.Punctuation:
            result.append(_Token("punct", text, text))
        else:
            result.append(_Token("other", text, text))
    return result


_META_WORD = re.compile(r'(?:"(?:[^"]|"")*"?|[^\s"])+')  # a meta-command's word, blanks inside quotes and all


def _split_qualifier(qualifier: str) -> list[str]:
    """``public."My Tab".`` -> ["public", "My Tab"], folding unquoted parts as PostgreSQL does."""
    parts = re.findall(r'"((?:[^"]|"")+)"|([^."]+)', qualifier)
    return [quoted.replace('""', '"') if quoted else plain.lower() for quoted, plain in parts]


class SQLCompleter(Completer):
    """Completions for the REPL buffer; ``metadata_getter`` returns the current snapshot, or
    None while there is none (it is called on every Tab, so it must be cheap). ``meta_commands``
    maps backslash commands to a one-line description; by default pgspecial's list."""

    def __init__(
        self,
        metadata_getter: Callable[[], Metadata | None],
        meta_commands: Mapping[str, str] | None = None,
        keyword_case: Callable[[], str] = lambda: "preserve-upper",
    ):
        self._metadata_getter = metadata_getter
        self._keyword_case = keyword_case  # the COMP_KEYWORD_CASE variable's value
        self._meta_commands = dict(meta_commands) if meta_commands is not None else _pgspecial_commands()

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        if before.lstrip().startswith("?") or not (in_code(before) or _in_quoted_name(before)):
            return iter(())
        meta = _META_LINE.match(document.current_line_before_cursor)
        if meta:
            return self._meta_completions(meta["command"], meta["args"])
        return self._sql_completions(document)

    # -- backslash commands -------------------------------------------------------------
    def _meta_completions(self, command: str, args: str | None) -> Iterator[Completion]:
        if args is None:
            return _matching(command, self._meta_commands.items(), str)
        words = _META_WORD.findall(args)  # `"Mixed Case".` is one word
        word = "" if args[-1].isspace() else words[-1]
        if len(words) > (1 if word else 0):
            return iter(())  # only the first argument is a name we know
        target = _META_ARGUMENTS.get(command.rstrip("S+"))
        if target == "file":  # readline's file names, as psql offers them
            return PathCompleter(expanduser=True).get_completions(Document(word), CompleteEvent(completion_requested=True))
        metadata = self._metadata()
        typed = _word_at_end(word)
        qualifier, prefix = _split_qualifier(typed["qualifier"]), typed["word"]
        if target == "database":
            candidates: Iterable[tuple[str, str]] = ((d, "database") for d in metadata.databases)
        elif target == "relation":
            return self._relations(prefix, metadata, qualifier, partial(_quote, reserved=metadata.reserved))
        elif target == "schema":
            candidates = ((s, "schema") for s in metadata.schemas)
        elif target == "function":
            names = metadata.functions.get(qualifier[-1], ()) if qualifier else metadata.visible_functions
            candidates = ((f, "function") for f in names)
        elif target == "datatype":
            candidates = ((t, "datatype") for t in metadata.visible_types)
        else:
            return iter(())
        return _matching(prefix, candidates, partial(_quote, reserved=metadata.reserved))

    # -- SQL ----------------------------------------------------------------------------
    def _sql_completions(self, document: Document) -> Iterator[Completion]:
        before = document.text_before_cursor
        _, rest = split_statements(before)
        current = before[before.rfind(rest):] if rest else ""
        typed = _word_at_end(current)
        word, qualifier = typed["word"], _split_qualifier(typed["qualifier"])
        prior = _tokenize(current[: typed.start()])
        after, after_rest = split_statements(current + document.text_after_cursor)
        statement = _tokenize(after[0] if after else after_rest)

        metadata = self._metadata()
        refs = _table_refs(statement, metadata)
        clause, last = _clause(prior)
        case = _keyword_case(self._keyword_case(), word, prior)
        keywords = ((case(k), "keyword") for k in _ranked(metadata.keywords))
        quote = partial(_quote, reserved=metadata.reserved)

        if last == "::":
            return _matching(word, ((t, "datatype") for t in metadata.visible_types), quote)
        if clause is not None and (clause in _RELATION_CLAUSES or clause.endswith("JOIN")):
            if qualifier or last == clause or last in _BEFORE_RELATION:
                return self._relations(word, metadata, qualifier, quote)
            return _matching(word, keywords, quote)
        if clause in _COLUMN_CLAUSES:
            if qualifier:
                return _matching(word, _qualified_columns(qualifier, refs, metadata), quote)
            functions = ((f, "function") for f in metadata.visible_functions)
            return _matching(word, chain(_columns(refs, metadata), functions, keywords), quote)
        return _matching(word, keywords, quote)

    def _metadata(self) -> Metadata:
        return self._metadata_getter() or Metadata()

    @staticmethod
    def _relations(word: str, metadata: Metadata, qualifier: list[str], quote: Callable[[str], str]) -> Iterator[Completion]:
        """Relations by name: a schema's after ``schema.``; else those on the search_path, the
        schemas, then the tables of other schemas as ``schema.name`` (typed by either part)."""
        if qualifier:
            return _matching(word, ((r.name, r.kind) for r in metadata.relations_in(qualifier[-1])), quote)
        visible = chain(((r.name, r.kind) for r in metadata.visible_relations), ((s, "schema") for s in metadata.schemas))
        lowered = word.lower().lstrip('"')
        off_path = (
            Completion(f"{quote(r.schema)}.{quote(r.name)}", start_position=-len(word), display_meta=r.kind)
            for r in metadata.off_path_relations
            if r.name.lower().startswith(lowered) or f"{r.schema}.{r.name}".lower().startswith(lowered)
        )
        return chain(_matching(word, visible, quote), off_path)


def _in_quoted_name(before: str) -> bool:
    """For text that does not end in code: the cursor is inside a quoted name being typed,
    code up to its opening quote."""
    quote = before.rfind('"')
    return quote >= 0 and in_code(before[:quote])


def _clause(prior: list[_Token]) -> tuple[str | None, str | None]:
    """The clause keyword governing the cursor (walking back at parenthesis depth 0, through
    the parenthesis that encloses the cursor), and the token right before the cursor."""
    last = prior[-1].value if prior else None
    depth = 0
    for index in range(len(prior) - 1, -1, -1):
        token = prior[index]
        if token.value == ")":
            depth += 1
        elif token.value == "(":
            if depth == 0 and index >= 2 and prior[index - 2].value == "INTO":
                return "SELECT", last  # INSERT INTO t ( column list
            depth = max(depth - 1, 0)
        elif depth == 0 and token.kind == "keyword" and (
            token.value in _RELATION_CLAUSES or token.value in _COLUMN_CLAUSES or token.value.endswith("JOIN")
        ):
            return token.value, last
    return None, last


def _table_refs(statement: list[_Token], metadata: Metadata) -> dict[str, Relation]:
    """Relations the statement names after FROM/JOIN/UPDATE/INTO, by alias and by name."""
    refs: dict[str, Relation] = {}
    index = 0
    while index < len(statement):
        token = statement[index]
        index += 1
        if not (token.kind == "keyword" and (token.value in _RELATION_CLAUSES or token.value.endswith("JOIN"))):
            continue
        while True:  # one reference, then more after commas in a FROM list
            while index < len(statement) and statement[index].value in ("ONLY", "LATERAL"):
                index += 1
            parts, index = _dotted_name(statement, index, metadata)
            if parts:
                relation = metadata.relation(parts[-1], parts[-2] if len(parts) > 1 else None)
                if index < len(statement) and statement[index].value == "AS":
                    index += 1
                alias = None
                if index < len(statement) and _is_name(statement[index], metadata):
                    alias, index = statement[index].value, index + 1
                if relation is not None:
                    refs[relation.name] = relation
                    if alias:
                        refs[alias] = relation
            if token.value == "FROM" and index < len(statement) and statement[index].value == ",":
                index += 1
                continue
            break
    return refs


def _dotted_name(statement: list[_Token], index: int, metadata: Metadata) -> tuple[list[str], int]:
    parts: list[str] = []
    while index < len(statement) and _is_name(statement[index], metadata):
        parts.append(statement[index].value)
        index += 1
        if index < len(statement) and statement[index].value == ".":
            index += 1
        else:
            break
    return parts, index


def _is_name(token: _Token, metadata: Metadata) -> bool:
    """Names and non-reserved keywords (sqlparse calls ``user`` or ``year`` a keyword)."""
    if token.kind == "name":
        return True
    return (
        token.kind == "keyword" and " " not in token.value and token.value not in _NOT_ALIAS
        and token.value.lower() not in metadata.reserved
    )


def _keyword_case(setting: str, word: str, prior: list[_Token]) -> Callable[[str], str]:
    """psql's COMP_KEYWORD_CASE: ``lower`` or ``upper`` always; ``preserve-lower`` and
    ``preserve-upper`` follow the first letter of the word begun or, before any letter, the
    statement's last keyword, and only with neither the case they name."""
    setting = setting.lower()  # psql's hook reads it in any case
    if setting in ("lower", "upper"):
        return str.lower if setting == "lower" else str.upper
    first = next((c for c in word if c.isalpha()), None)
    if first is None:
        first = next((t.text for t in reversed(prior) if t.kind == "keyword"), None)
    if first is None:
        return str.lower if setting == "preserve-lower" else str.upper
    return str.lower if first[0].islower() else str.upper


def _columns(refs: Mapping[str, Relation], metadata: Metadata) -> Iterator[tuple[str, str]]:
    relations = dict.fromkeys(refs.values()) or [r for r in metadata.visible_relations if r.schema != "pg_catalog"]
    return ((column, "column") for relation in relations for column in relation.columns)


def _qualified_columns(qualifier: list[str], refs: Mapping[str, Relation], metadata: Metadata) -> Iterator[tuple[str, str]]:
    """``alias.`` / ``table.`` / ``schema.table.`` -> columns; ``schema.`` -> its relations and functions."""
    name = qualifier[-1]
    schema = qualifier[-2] if len(qualifier) > 1 else None
    relation = (refs.get(name) if schema is None else None) or metadata.relation(name, schema)
    if relation is not None:
        return ((column, "column") for column in relation.columns)
    return chain(((r.name, r.kind) for r in metadata.relations_in(name)), ((f, "function") for f in metadata.functions.get(name, ())))


@lru_cache(maxsize=4)
def _ranked(keywords: tuple[str, ...]) -> tuple[str, ...]:
    rank = {k: i for i, k in enumerate(_COMMON_KEYWORDS)}
    return tuple(sorted(keywords, key=lambda k: (rank.get(k, len(rank)), k)))


def _matching(prefix: str, candidates: Iterable[tuple[str, str]], render: Callable[[str], str]) -> Iterator[Completion]:
    """Candidates starting with ``prefix`` (case-insensitively), first of each text only;
    names are rendered (quoted) for insertion, keywords come already in the user's case."""
    if prefix.startswith('"'):
        yield from _quoted_matching(prefix, candidates)
        return
    lowered = prefix.lower()
    seen: set[str] = set()
    for name, meta in candidates:
        if name.lower().startswith(lowered):
            text = name if meta == "keyword" else render(name)
            if text.lower() not in seen:
                seen.add(text.lower())
                yield Completion(text, start_position=-len(prefix), display_meta=meta)


def _quoted_matching(prefix: str, candidates: Iterable[tuple[str, str]]) -> Iterator[Completion]:
    """After an opening quote, as psql: names (not keywords) that start with the quoted text
    exactly as written (a quoted name keeps its case), closed in quotes."""
    written = prefix[1:].replace('""', '"')
    seen: set[str] = set()
    for name, meta in candidates:
        if meta != "keyword" and name.startswith(written) and name not in seen:
            seen.add(name)
            yield Completion('"' + name.replace('"', '""') + '"', start_position=-len(prefix), display_meta=meta)


def _quote(name: str, reserved: frozenset[str]) -> str:
    if _PLAIN_NAME.fullmatch(name) and name not in reserved:
        return name
    return '"' + name.replace('"', '""') + '"'


def _pgspecial_commands() -> dict[str, str]:
    from pgspecial.main import PGSpecial

    return {name: command.description for name, command in PGSpecial().commands.items() if name.startswith("\\")}
