"""The one way SQL is parsed here: PostgreSQL's dialect, and one error for any text that
cannot be read.

sqlglot's parser recurses about twenty Python frames per nesting level, so a reply from a
small model with some fifty nested parentheses or CASTs ends in RecursionError rather than a
ParseError. Every caller already handles a ParseError as "does not parse" (no SQL found, an
error for the repair round, treated as a write); this module makes deep nesting one of those.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

DIALECT = Dialect.get_or_raise("postgres")
PARSE_ERRORS = (ParseError, TokenError)
TOO_DEEP = "the statement is nested too deeply to read"


class UnlikePostgres(TokenError):
    """The tokenizer may read the text otherwise than PostgreSQL's lexer does."""


# What PostgreSQL's lexer takes for white space; any other character Python calls a space
# (U+00A0, U+2003, U+3000) is part of a name to PostgreSQL, and splits it for the tokenizer.
_SPACES = frozenset(" \t\n\r\f\v")
# A word the tokenizer keeps whole though PostgreSQL splits it at an operator character
# (`USER-DEFINED` is `current_user - defined`): letters beside anything but letters, digits,
# `_`, `$` and white space.
_NAME_CHAR = re.compile(r"[\w$]")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")  # PostgreSQL's numeric literal
_SPLIT_WORD = re.compile(r"[^\W\d](?=.*[^\w\s$])|[^\w\s$](?=.*[^\W\d])", re.DOTALL)


def tokenize(sql: str) -> list[Token]:
    """The tokens of ``sql``, where the tokenizer and PostgreSQL's lexer agree on them.

    Where they may not, what a check reads is not what the server runs, so this raises
    UnlikePostgres, a TokenError (unreadable: a write to the classifier, unproven to the
    proof): a space outside ASCII, but in a literal or a quoted name, inside what PostgreSQL
    reads as one name (`lower<NBSP>(x)` calls `"lower<NBSP>"`), `*/*` (in `/* a /* b */* */` PostgreSQL ends the inner comment
    and reads a `*`, the tokenizer ends it and opens another), and text the tokenizer took
    whole as a command's argument where no command starts (`AS begin ORDER BY begin FETCH
    FIRST (f()) ROWS ONLY`), which spans more than the literal it is said to be; a keyword the
    tokenizer keeps whole that PostgreSQL splits (`USER-DEFINED`) or does not know (`aſ`,
    which Python folds to AS); a `$` after a name, which continues it (`sort by$a$`); and
    `--` or `/*` where the tokenizer read operators (`#--'`); a number that takes in an
    operator (`2e3-1` is `2e3 - 1`). tests/nl2sql/
    test_lexer_agreement.py compares this reading with a model of PostgreSQL's lexer.
    """
    if "*/*" in sql:
        raise UnlikePostgres("`*/*`, which this check may read as a comment where PostgreSQL does not")
    tokens = DIALECT.tokenize(sql)
    spaces = [i for i, c in enumerate(sql) if c.isspace() and c not in _SPACES]
    if spaces:  # inside a literal or a quoted name both read it as a character like any other
        quoted = [(t.start, t.end) for t in tokens if t.token_type.name.endswith("STRING") or (t.token_type == TokenType.IDENTIFIER and sql[t.start] == '"')]
        if any(not any(start < i < end for start, end in quoted) for i in spaces):
            raise UnlikePostgres("a space character outside ASCII, which PostgreSQL reads as part of a name")
    for i, token in enumerate(tokens):
        if token.token_type.name.endswith("STRING"):
            if not sql[token.start : token.end + 1].endswith(("'", "$")) and not _command_text(tokens, i):
                raise UnlikePostgres("text the tokenizer read as one string, which PostgreSQL reads as SQL")
            continue
        if sql[token.end + 1 : token.end + 2] == "$" and _NAME_CHAR.fullmatch(sql[token.end]):
            raise UnlikePostgres("a `$` right after a name, which PostgreSQL reads as part of the name (`by$a$` is no keyword and quote)")
        if token.token_type == TokenType.NUMBER and not _NUMBER.fullmatch(token.text):
            raise UnlikePostgres(f"`{token.text}`, one number to this check and a number, an operator and another to PostgreSQL")
        if sql[token.start] in "\"'$" or token.token_type == TokenType.NUMBER:
            continue
        if _SPLIT_WORD.search(token.text):
            raise UnlikePostgres(f"`{token.text}`, which this check reads as one word and PostgreSQL as several")
        if not token.text.isascii() and token.token_type != TokenType.VAR:  # Python's upper() made it a keyword
            raise UnlikePostgres(f"`{token.text}`, a keyword to this check only: PostgreSQL folds no letter outside ASCII (`aſ` is no AS)")
    _comment_starts_agree(sql, tokens)
    return tokens


def _comment_starts_agree(sql: str, tokens: list[Token]) -> None:
    """PostgreSQL ends an operator before `--` or `/*` and starts a comment there (`#--'` is
    `#` and a comment); the tokenizer may take `#-` and `-` as operators and read on. Each
    `--` and `/*` outside a string or quoted name must lie outside every token."""
    covered: dict[int, Token] = {}
    for token in tokens:
        for position in range(token.start, token.end + 1):
            covered[position] = token
    for match in re.finditer(r"--|/\*", sql):
        for position in (match.start(), match.start() + 1):
            token = covered.get(position)
            if token is not None and not token.token_type.name.endswith("STRING") and token.token_type != TokenType.IDENTIFIER:
                raise UnlikePostgres(f"`{match.group()}` inside `{token.text}`, where PostgreSQL starts a comment")


def _command_text(tokens: list[Token], i: int) -> bool:
    """Whether the string token at ``i`` is the text of a command that starts a statement
    (EXPLAIN, SHOW, LOCK), which the tokenizer keeps whole and the classifier judges by its word."""
    command = i > 0 and tokens[i - 1].token_type in DIALECT.tokenizer_class.COMMANDS
    return command and (i == 1 or tokens[i - 2].token_type == TokenType.SEMICOLON)


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
    nothing. Compare after normalize_identifiers, so that `X.c` and `x.c` are the same; a
    schema named on both sides must be the same too (`hr.orders.id = public.orders.id`)."""
    return isinstance(left, exp.Column) and isinstance(right, exp.Column) and bool(left.table) and (left.table, left.name) == (right.table, right.name) and (left.text("db") == right.text("db") or not (left.text("db") and right.text("db")))
