"""A statement's text with its string constants and comments blanked, as PostgreSQL's lexer
reads them, so that a name inside a literal or a comment (`'installed nl2sql'`, `-- nl2sql`)
is no name of the statement's.

Only what is surely a constant or a comment is blanked: nested block comments, `--` lines,
dollar quotes (not after an identifier, where `$` is part of the name: `a$x$`), E'' with its
backslash escapes, and plain quotes, whose backslashes mean something only when
standard_conforming_strings is off: the caller reads the text both ways. Quoted identifiers
stay, as do unterminated constants (the server refuses the statement anyway).
"""

from __future__ import annotations

import re

_DOLLAR = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)?\$")
_IDENTIFIER = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9$\u0080-\U0010ffff]*")


def code_only(sql: str, *, backslash_quotes: bool) -> str:
    """``sql`` with every string constant and comment replaced by one space;
    ``backslash_quotes``: a plain '...' constant takes backslash escapes (standard_conforming_strings off)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if sql.startswith("--", i):
            i = _line_end(sql, i)
        elif sql.startswith("/*", i):
            i = _comment_end(sql, i)
        elif char == "'":
            i = _quote_end(sql, i + 1, backslash_quotes)
        elif char == '"':
            end = _quote_end(sql, i + 1, False, quote='"')
            out.append(sql[i:end])
            i = end
            continue
        elif char == "$" and (dollar := _DOLLAR.match(sql, i)):
            close = sql.find(dollar.group(), dollar.end())
            i = n if close < 0 else close + len(dollar.group())
        elif identifier := _IDENTIFIER.match(sql, i):
            word, i = identifier.group(), identifier.end()
            prefix = word.lower()
            if i < n and sql[i] == "'" and prefix in ("e", "n", "b", "x"):  # E'...', N'...', B'...', X'...'
                i = _quote_end(sql, i + 1, backslash_quotes or prefix == "e")
            elif prefix == "u" and sql.startswith("&'", i):  # U&'...' (its escapes are not backslash quotes)
                i = _quote_end(sql, i + 2, False)
            else:
                out.append(word)
                continue
        else:
            out.append(char)
            i += 1
            continue
        out.append(" ")
    return "".join(out)


def _line_end(sql: str, start: int) -> int:
    ends = [pos for pos in (sql.find("\n", start), sql.find("\r", start)) if pos >= 0]
    return min(ends) if ends else len(sql)


def _comment_end(sql: str, start: int) -> int:
    """After the block comment at ``start``; they nest in PostgreSQL."""
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if not depth:
                return i
        else:
            i += 1
    return len(sql)


def _quote_end(sql: str, start: int, backslashes: bool, quote: str = "'") -> int:
    """After the quoted text whose body begins at ``start`` (a doubled quote is one)."""
    i = start
    while i < len(sql):
        char = sql[i]
        if backslashes and char == "\\":
            i += 2
        elif char == quote:
            if not sql.startswith(quote * 2, i):
                return i + 1
            i += 2
        else:
            i += 1
    return len(sql)
