"""A statement a rule or a translation changed, as text: the model's own text with only what
changed edited in, never sqlglot's normalised rewrite of parts no one touched.

sqlglot normalises while it parses: `'101'::bit varying` becomes a cast to bit aliased
"varying", `current_timestamp(0)` loses its precision, `date_part('epoch', x)` becomes EXTRACT
(numeric, not double precision), `log10(x)` becomes LOG(10, x), PostgreSQL 16's `0x1F` a bit
string; it reads `DATE '2025-01-01'::timestamp` as the casts the other way round. Written
back whole, a repaired or translated query ran with those changes too, and printed other
values. So a change that only renames (a column, a table, a qualifier's name) or reads a
table from another schema is edited into the original text at the names' own places; any
other change is written by sqlglot only where sqlglot keeps every constant of the statement
as written (and no typed literal is cast again); otherwise there is no text for it (None),
and the statement stays as written.
"""

from __future__ import annotations

from collections import Counter

from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.tokens import TokenType

from .parsing import DIALECT, parse_one


def written_back(original: str, tree: exp.Expression, *, pretty: bool = True) -> str | None:
    """``tree`` (parsed from ``original`` and changed since) as text, or None (see above);
    ``pretty``: sqlglot's layout where sqlglot writes it."""
    try:
        before = parse_one(original)
    except (ParseError, TokenError):
        return None
    normalize_identifiers(before, dialect=DIALECT)
    if (edited := _renamed(original, before, tree)) is not None:
        return edited
    try:
        if _literals(before.sql(dialect=DIALECT)) != _literals(original) or _cast_typed_literal(original):
            return None
        return tree.sql(dialect=DIALECT, pretty=pretty, unsupported_level=ErrorLevel.RAISE)
    except (ParseError, TokenError, UnsupportedError):
        return None


def _literals(sql: str) -> Counter[str]:
    """The statement's constants as written (an interval's in any case): what sqlglot's own
    rewrites of PostgreSQL lose or add (`current_timestamp(0)`'s 0, `date_part`'s 'epoch',
    `log10`'s implied 10, `0x1F` written x'1F'), where its other rewrites (`::` as CAST, now()
    as CURRENT_TIMESTAMP, MySQL's YEAR() as EXTRACT) keep every one."""
    tokens = DIALECT.tokenize(sql)
    found: Counter[str] = Counter()
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.NUMBER or "STRING" in token.token_type.name:
            raw = sql[token.start : token.end + 1]
            found[raw.lower() if i and tokens[i - 1].token_type == TokenType.INTERVAL else raw] += 1
    return found


def _cast_typed_literal(sql: str) -> bool:
    """Whether a typed literal is cast again (`DATE '2025-01-01'::timestamp`), which sqlglot
    reads the wrong way round: `CAST(CAST('2025-01-01' AS TIMESTAMP) AS DATE)`, a date where
    PostgreSQL gives a timestamp (an interval's it reads right)."""
    tokens = DIALECT.tokenize(sql)
    return any(
        a.token_type in _TYPES and "STRING" in b.token_type.name and c.token_type == TokenType.DCOLON
        for a, b, c in zip(tokens, tokens[1:], tokens[2:])
    )


_TYPES = DIALECT.parser_class.TYPE_TOKENS - {TokenType.INTERVAL}


def _renamed(original: str, before: exp.Expression, after: exp.Expression) -> str | None:
    """The original text with the names that differ edited in, when names (and the schema a
    table is read from: `fm_event` -> `audit.fm_event AS fm_event`) are all that differ."""
    requalified = _requalified(before, after)
    if requalified is None:
        return None
    before, after, edits = requalified
    old, new = list(before.find_all(exp.Identifier)), list(after.find_all(exp.Identifier))
    if len(old) != len(new) or _masked(before) != _masked(after):
        return None
    renamed = [(o, n) for o, n in zip(old, new, strict=True) if (o.this, o.quoted) != (n.this, n.quoted)]
    if any("start" not in o.meta for o, _ in renamed):
        return None
    edits += [(o.meta["start"], o.meta["end"] + 1, n.sql(dialect=DIALECT)) for o, n in renamed]
    text = original
    for start, end, name in sorted(edits, reverse=True):
        text = text[:start] + name + text[end:]
    return text


def _requalified(before: exp.Expression, after: exp.Expression) -> tuple[exp.Expression, exp.Expression, list[tuple[int, int, str]]] | None:
    """The tables read from another schema than written (an alias added to keep the name the
    rest of the query uses), as edits of the original text at the table's name, and copies
    of both trees with those tables made alike; None when a table's alias changed otherwise."""
    before, after = before.copy(), after.copy()
    old, new = list(before.find_all(exp.Table)), list(after.find_all(exp.Table))
    if len(old) != len(new):
        return None
    edits: list[tuple[int, int, str]] = []
    for o, n in zip(old, new, strict=True):
        if all(o.args.get(key) == n.args.get(key) for key in ("db", "catalog", "alias")):
            continue
        if o.args.get("alias") is not None and o.args.get("alias") != n.args.get("alias"):
            return None
        parts = [part for part in (o.args.get("catalog"), o.args.get("db"), o.this) if isinstance(part, exp.Identifier)]
        if not parts or any("start" not in part.meta for part in parts):
            return None
        name = exp.Table(**{key: n.args[key].copy() for key in ("this", "db", "catalog") if n.args.get(key) is not None}).sql(dialect=DIALECT)
        added = n.args.get("alias") if o.args.get("alias") is None else None
        edits.append((parts[0].meta["start"], o.this.meta["end"] + 1, name + (f" AS {added.sql(dialect=DIALECT)}" if added is not None else "")))
        for table in (o, n):
            for key in ("db", "catalog", "alias"):
                table.set(key, None)
        n.set("this", o.this.copy())
    return before, after, edits


def _masked(tree: exp.Expression) -> exp.Expression:
    """The tree with every name the same: equal for two trees that differ only in names."""
    copy = tree.copy()
    for node in copy.find_all(exp.Identifier):
        node.set("this", "_")
        node.set("quoted", False)
    return copy
