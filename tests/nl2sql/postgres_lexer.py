"""A small model of PostgreSQL's lexer (scan.l, standard_conforming_strings on), to compare
what the server reads with what the proof reads (test_lexer_agreement.py).

It knows what decides where tokens end: white space, `--` and nested `/* */` comments, the
string forms ('', E'', U&'', B'', X'', N'', dollar quotes), quoted and unquoted names (`$`
continues a name), numbers, parameters, and operators, which end before `--` or `/*` and
lose a trailing `+`/`-` unless they hold one of `~ ! @ # % ^ & | \\` ?`. Anything it is not
sure of raises LexError, and the statement is not compared.
"""

from __future__ import annotations

import re

_OPERATOR_CHARS = frozenset("~!@#^&|`?+-*/%<>=")
_KEEPS_TRAILING_SIGN = frozenset("~!@#^&|`?%")
_PUNCTUATION = frozenset(",()[].;:")
_NAME = re.compile(r"[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SPACE = " \t\n\r\f\v"


class LexError(Exception):
    """Text this model does not read with certainty."""


def lex(sql: str) -> list[tuple[str, str]]:
    """(kind, text) for each token: "word", "name" (quoted), "string", "number", "param",
    "operator" or "punctuation"."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(sql):
        end, kind = _token_end(sql, i)
        if kind is not None:
            tokens.append((kind, sql[i:end]))
        i = end
    return tokens


def _token_end(sql: str, i: int) -> tuple[int, str | None]:
    c = sql[i]
    if c in _SPACE:
        return i + 1, None
    if sql.startswith("--", i):
        ends = [e for e in (sql.find("\n", i), sql.find("\r", i)) if e >= 0]
        return (min(ends) if ends else len(sql)), None
    if sql.startswith("/*", i):
        return _comment_end(sql, i), None
    if re.match(r"[bBxX]'", sql[i:]):  # bits and hex digits: no doubled quote inside
        close = sql.find("'", i + 2)
        if close < 0:
            raise LexError("an unterminated quote")
        return close + 1, "string"
    prefix = re.match(r"[uU]&(?=['\"])|[eEnN](?=')", sql[i:])
    if prefix:
        start = i + len(prefix.group())
        quote = sql[start]
        backslashes = prefix.group() in ("e", "E")
        return _quoted_end(sql, start + 1, quote, backslashes), "name" if quote == '"' else "string"
    if c in "'\"":
        return _quoted_end(sql, i + 1, c, False), "string" if c == "'" else "name"
    if c == "$":
        if tag := _DOLLAR_TAG.match(sql, i):
            close = sql.find(tag.group(), tag.end())
            if close < 0:
                raise LexError("an unterminated dollar quote")
            return close + len(tag.group()), "string"
        if param := re.match(r"\$\d+", sql[i:]):
            if _NAME.match(sql, i + len(param.group())):
                raise LexError("a parameter with trailing letters")
            return i + len(param.group()), "param"
        raise LexError("a lone $")
    if c.isdigit() or (c == "." and sql[i + 1 : i + 2].isdigit()):
        end = _NUMBER.match(sql, i).end()
        if end < len(sql) and (_NAME.match(sql, end) or sql[end] in "._$"):
            raise LexError("a number with trailing junk")
        return end, "number"
    if name := _NAME.match(sql, i):
        return name.end(), "word"
    if sql.startswith(("::", ":=", ".."), i):
        return i + 2, "punctuation"
    if c in _OPERATOR_CHARS:
        return i + len(_operator(sql, i)), "operator"
    if c in _PUNCTUATION:
        return i + 1, "punctuation"
    raise LexError(f"a character this model does not know: {c!r}")


def _comment_end(sql: str, i: int) -> int:
    depth, i = 1, i + 2
    while depth:
        if i >= len(sql):
            raise LexError("an unterminated comment")
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _quoted_end(sql: str, i: int, quote: str, backslashes: bool) -> int:
    while i < len(sql):
        if backslashes and sql[i] == "\\":
            i += 2
        elif sql[i] == quote and sql[i + 1 : i + 2] == quote:
            i += 2
        elif sql[i] == quote:
            return i + 1
        else:
            i += 1
    raise LexError("an unterminated quote")


def _operator(sql: str, i: int) -> str:
    end = i
    while end < len(sql) and sql[end] in _OPERATOR_CHARS and not sql.startswith(("--", "/*"), end):
        end += 1
    operator = sql[i:end]
    if len(operator) > 1 and not _KEEPS_TRAILING_SIGN & set(operator):
        operator = operator.rstrip("+-") or operator[0]
    return operator
