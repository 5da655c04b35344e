"""The one way SQL is parsed here: PostgreSQL's dialect, and one error for any text that
cannot be read.

sqlglot's parser recurses about twenty Python frames per nesting level, so a reply from a
small model with some fifty nested parentheses or CASTs ends in RecursionError rather than a
ParseError. Every caller already handles a ParseError as "does not parse" (no SQL found, an
error for the repair round, treated as a write); this module makes deep nesting one of those.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

DIALECT = Dialect.get_or_raise("postgres")
PARSE_ERRORS = (ParseError, TokenError)
TOO_DEEP = "the statement is nested too deeply to read"


def parse_statements(sql: str) -> list[exp.Expression]:
    """The statements of ``sql`` as PostgreSQL reads them (empty ones dropped); raises one of
    PARSE_ERRORS."""
    try:
        statements = sqlglot.parse(sql, dialect=DIALECT)
    except RecursionError:
        raise ParseError(TOO_DEEP) from None
    return [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]


def parse_one(sql: str) -> exp.Expression:
    """A single statement; raises one of PARSE_ERRORS."""
    try:
        return sqlglot.parse_one(sql, dialect=DIALECT)
    except RecursionError:
        raise ParseError(TOO_DEEP) from None


def same_column(left: exp.Expression, right: exp.Expression) -> bool:
    """Whether both sides name the same qualified column (`x.c = x.c`): a condition that joins
    nothing. Compare after normalize_identifiers, so that `X.c` and `x.c` are the same."""
    return isinstance(left, exp.Column) and isinstance(right, exp.Column) and bool(left.table) and (left.table, left.name) == (right.table, right.name)
