"""psql's variables: the values the shell reads from them.

psql stores every variable as text and reads a boolean one (AUTOCOMMIT, ON_ERROR_STOP) by
its own rule, which accepts any unambiguous prefix of true/false/yes/no/on/off and 1/0.
"""

from __future__ import annotations

import re


def boolean(value: str | None, default: bool = False) -> bool:
    """psql's ParseVariableBool: an unset or unrecognised value is ``default``."""
    if value is None:
        return default
    text = value.strip().lower()
    if not text:
        return default
    if text in ("1", "0"):
        return text == "1"
    if len(text) >= 2 and "on".startswith(text):
        return True
    if len(text) >= 2 and "off".startswith(text):
        return False
    for word, meaning in (("true", True), ("false", False), ("yes", True), ("no", False)):
        if word.startswith(text):
            return meaning
    return default


# What psql's lexer skips (quotes, comments, casts) and the three forms of a variable.
_SQL_TOKEN = re.compile(
    r"""(?P<skip>[Ee]'(?:[^'\\]|\\.|'')*'?|'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|/\*[\s\S]*?(?:\*/|$)|(\$(?:[^\W\d]\w*)?\$)[\s\S]*?(?:\2|$)|::|[\w$]+)
      | :'(?P<literal>\w+)' | :"(?P<ident>\w+)" | :(?P<plain>\w+)""",
    re.VERBOSE,
)


# In plain text (a `?` question) only casts and words are skipped: an apostrophe is English.
_TEXT_TOKEN = re.compile(r"""(?P<skip>::|[\w$]+) | :'(?P<literal>\w+)' | :"(?P<ident>\w+)" | :(?P<plain>\w+)""", re.VERBOSE)


def quote_literal(value: str) -> str:
    """libpq's PQescapeLiteral, as psql's :'name' writes a value: E'' when it holds a backslash."""
    body = value.replace("'", "''")
    if "\\" in value:
        return " E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def quote_identifier(value: str) -> str:
    """libpq's PQescapeIdentifier, as psql's :"name" writes a value."""
    return '"' + value.replace('"', '""') + '"'


def substitute(text: str, variables: dict[str, str], *, sql: bool = True) -> str:
    """psql's interpolation in SQL: ``:name`` is the value, ``:'name'`` a quoted literal,
    ``:"name"`` a quoted identifier; never inside quotes or comments, never in ``::`` casts,
    and an unknown name is left as written. ``sql=False``: text that is not SQL (a question),
    where quotes and comments mean nothing."""
    if ":" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match["skip"] is not None:
            return match.group()
        name = match["literal"] or match["ident"] or match["plain"]
        if name not in variables:
            return match.group()
        value = variables[name]
        if match["literal"]:
            return quote_literal(value)
        return quote_identifier(value) if match["ident"] else value

    return (_SQL_TOKEN if sql else _TEXT_TOKEN).sub(replace, text)


_META_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "r": "\r", "f": "\f"}
_META_TOKEN = re.compile(
    r"""(?P<space>\s+) | '(?P<single>(?:[^'\\]|\\.|'')*)'? | (?P<double>"(?:[^"]|"")*"?)
      | :'(?P<literal>\w+)' | :"(?P<ident>\w+)" | :(?P<plain>\w+) | (?P<other>[^\s'":]+|:)""",
    re.VERBOSE,
)


def meta_arguments(text: str, variables: dict[str, str]) -> list[str]:
    """A backslash command's arguments as psql reads them: words split on blanks, '...' with
    '' and backslash escapes (\\n, \\t, octal) taken as its content, "..." kept with its
    quotes, and variables substituted as in SQL; adjacent pieces join into one word."""
    words: list[str] = []
    current: list[str] | None = None
    for match in _META_TOKEN.finditer(text):
        if match["space"] is not None:
            if current is not None:
                words.append("".join(current))
            current = None
            continue
        piece = match.group()
        if match["single"] is not None:
            piece = _unescape(match["single"])
        elif (name := match["literal"] or match["ident"] or match["plain"]) and name in variables:
            value = variables[name]
            piece = quote_literal(value) if match["literal"] else quote_identifier(value) if match["ident"] else value
        current = (current or []) + [piece]
    if current is not None:
        words.append("".join(current))
    return words


def _unescape(body: str) -> str:
    """The inside of a '...' meta-command argument: '' is ', backslash escapes as psql's."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "'" and body.startswith("''", i):
            out.append("'")
            i += 2
            continue
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            octal = re.match(r"[0-7]{1,3}", body[i + 1 :])
            if octal:
                out.append(chr(int(octal.group(), 8)))
                i += 1 + len(octal.group())
                continue
            out.append(_META_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)
