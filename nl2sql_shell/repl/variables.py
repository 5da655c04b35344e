"""psql's variables: the values the shell reads from them.

psql stores every variable as text and reads a boolean one (AUTOCOMMIT, ON_ERROR_STOP) by
its own rule, which accepts any unambiguous prefix of true/false/yes/no/on/off and 1/0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import psycopg

from nl2sql_shell.repl.statements import standard_strings

# The variables psql 15 sets before reading any input (`\\set` lists them), with its values.
# VERSION* name this program; VERSION_NUM is the psql release whose behaviour it follows, for
# scripts that test it.
DEFAULTS = {
    "AUTOCOMMIT": "on",
    "COMP_KEYWORD_CASE": "preserve-upper",
    "ECHO": "none",
    "ECHO_HIDDEN": "off",
    "FETCH_COUNT": "0",
    "HIDE_TABLEAM": "off",
    "HIDE_TOAST_COMPRESSION": "off",
    "HISTCONTROL": "none",
    "HISTSIZE": "500",
    "IGNOREEOF": "0",
    "LAST_ERROR_MESSAGE": "",
    "LAST_ERROR_SQLSTATE": "00000",
    "ON_ERROR_ROLLBACK": "off",
    "ON_ERROR_STOP": "off",
    "PROMPT1": "%/%R%x%# ",
    "PROMPT2": "%/%R%x%# ",
    "PROMPT3": ">> ",
    "QUIET": "off",
    "SHOW_ALL_RESULTS": "on",
    "SHOW_CONTEXT": "errors",
    "SINGLELINE": "off",
    "SINGLESTEP": "off",
    "VERBOSITY": "default",
    "VERSION_NUM": "150000",
}


def builtin_variables() -> dict[str, str]:
    """psql's variables at start-up, before the connection's own (see connection_variables)."""
    from nl2sql_shell import __version__

    return {**DEFAULTS, "VERSION": f"nl2sql-shell {__version__} (psql 15 compatible)", "VERSION_NAME": __version__}


CONNECTION_VARIABLES = ("DBNAME", "SERVICE", "USER", "HOST", "PORT", "ENCODING", "SERVER_VERSION_NAME", "SERVER_VERSION_NUM")


def connection_variables(conn: psycopg.Connection) -> dict[str, str]:
    """What psql sets on each connection: DBNAME, USER, HOST, PORT, ENCODING, SERVER_VERSION_*."""
    info = conn.info
    return {
        "DBNAME": info.dbname,
        "USER": info.user,
        "HOST": info.host,
        "PORT": str(info.port),
        "ENCODING": info.parameter_status("client_encoding") or "",
        "SERVER_VERSION_NAME": info.parameter_status("server_version") or "",
        "SERVER_VERSION_NUM": str(info.server_version),
    }


def atoi(value: str) -> int:
    """C's atoi, as psql reads numbers in meta-commands: blanks, a sign, then ASCII digits only
    (a digit Python also reads, `²` or `٣`, ends the number); 0 without any. glibc's is
    strtol's long (clamped to 64 bits) cut to a 32-bit int: `99999999999` reads 1215752191."""
    found = re.match(r"\s*([+-]?[0-9]+)", value)
    if not found:
        return 0
    number = max(min(int(found.group(1)), (1 << 63) - 1), -(1 << 63))
    return (number + (1 << 31)) % (1 << 32) - (1 << 31)


def is_number(value: str) -> bool:
    """Whether psql takes ``value`` for a number (ASCII digits), not a name."""
    return bool(re.fullmatch(r"[0-9]+", value))


def valid_name(name: str) -> bool:
    """Whether psql sets a variable of this name: not empty, and only ASCII letters, digits,
    ``_`` or non-ASCII characters (psql's VariableValidName)."""
    return bool(name) and all(not char.isascii() or char.isalnum() or char == "_" for char in name)


def boolean(value: str | None, default: bool = False) -> bool:
    """psql's ParseVariableBool: an unset or unrecognised value is ``default``."""
    parsed = None if value is None else parse_boolean(value)
    return default if parsed is None else parsed


def parse_boolean(value: str) -> bool | None:
    """psql's ParseVariableBool: True/False, or None for a value it does not recognise (a
    blank around the word too: `\\set ON_ERROR_STOP 'on '` is psql's error, not on)."""
    text = value.lower()
    if not text:
        return None
    if text in ("1", "0"):
        return text == "1"
    if len(text) >= 2 and "on".startswith(text):
        return True
    if len(text) >= 2 and "off".startswith(text):
        return False
    for word, meaning in (("true", True), ("false", False), ("yes", True), ("no", False)):
        if word.startswith(text):
            return meaning
    return None


# What psql's lexer skips (quotes, comments, casts) and the three forms of a variable; with
# standard_conforming_strings off, a backslash escapes in '...' too.
_SQL_TOKEN_PATTERN = r"""(?P<skip>[Ee]'(?:[^'\\]|\\.|'')*'?|'(?:PLAIN)*'?|"(?:[^"]|"")*"?|--[^\n\r]*|/\*[\s\S]*?(?:\*/|$)|(\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)[\s\S]*?(?:\2|$)|::|[A-Za-z0-9_$\x80-\U0010ffff]+)
      | (?P<colon>\\:) | :'(?P<literal>[A-Za-z0-9_\x80-\U0010ffff]+)' | :"(?P<ident>[A-Za-z0-9_\x80-\U0010ffff]+)" | :\{\?(?P<test>[A-Za-z0-9_\x80-\U0010ffff]+)\} | :(?P<plain>[A-Za-z0-9_\x80-\U0010ffff]+)"""
_SQL_TOKEN = {
    True: re.compile(_SQL_TOKEN_PATTERN.replace("PLAIN", "[^']|''"), re.VERBOSE),
    False: re.compile(_SQL_TOKEN_PATTERN.replace("PLAIN", "[^'\\\\]|\\\\.|''"), re.VERBOSE),
}


# In plain text (a `?` question) only casts and words are skipped: an apostrophe is English.
_TEXT_TOKEN = re.compile(r"""(?P<skip>::|[A-Za-z0-9_$\x80-\U0010ffff]+) | :'(?P<literal>[A-Za-z0-9_\x80-\U0010ffff]+)' | :"(?P<ident>[A-Za-z0-9_\x80-\U0010ffff]+)" | :\{\?(?P<test>[A-Za-z0-9_\x80-\U0010ffff]+)\} | :(?P<plain>[A-Za-z0-9_\x80-\U0010ffff]+)""", re.VERBOSE)


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
    and an unknown name is left as written; ``\\:`` is a plain colon. ``sql=False``: text that is not SQL (a question),
    where quotes and comments mean nothing."""
    if ":" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match["skip"] is not None:
            return match.group()
        if sql and match["colon"] is not None:  # \: is a colon that names no variable (psql's lexer)
            return ":"
        if match["test"] is not None:  # :{?name}: whether it is set
            return "TRUE" if match["test"] in variables else "FALSE"
        name = match["literal"] or match["ident"] or match["plain"]
        if name not in variables:
            return match.group()
        value = variables[name]
        if match["literal"]:
            return quote_literal(value)
        return quote_identifier(value) if match["ident"] else value

    return (_SQL_TOKEN[standard_strings.get()] if sql else _TEXT_TOKEN).sub(replace, text)


_META_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "r": "\r", "f": "\f"}
_META_TOKEN = re.compile(
    r"""(?P<space>\s+) | '(?P<single>(?:[^'\\]|\\.|\\$|'')*)'? | (?P<double>"(?:[^"]|"")*"?) | `(?P<backtick>[^`]*)`?
      | :'(?P<literal>[A-Za-z0-9_\x80-\U0010ffff]+)' | :"(?P<ident>[A-Za-z0-9_\x80-\U0010ffff]+)" | :\{\?(?P<test>[A-Za-z0-9_\x80-\U0010ffff]+)\} | :(?P<plain>[A-Za-z0-9_\x80-\U0010ffff]+) | (?P<other>[^\s'":`]+|:)""",
    re.VERBOSE,
)


def meta_arguments(text: str, variables: dict[str, str], evaluated: int | None = None) -> list[str]:
    """A backslash command's arguments as psql reads them: words split on blanks, '...' with
    '' and backslash escapes (\\n, \\t, octal) taken as its content, "..." kept with its
    quotes, and variables substituted as in SQL; adjacent pieces join into one word.
    ``evaluated``: only that many words have their variables and `commands` evaluated; the
    rest, which the command ignores, are kept as written, a `command` unquoted and not run
    (psql's OT_NO_EVAL for the words it only warns about)."""
    return [word for word, _ in meta_words(text, variables, evaluated)]


def meta_words(text: str, variables: dict[str, str], evaluated: int | None = None) -> Iterator[tuple[str, int]]:
    """`meta_arguments`' words, each with where it ends in ``text``, read one at a time (a
    command that reads some words, then the rest of the line its own way, such as `\\g
    (OPTIONS) |command`, runs no `backquoted` command past the words it took)."""
    count = 0  # words read so far
    current: list[str] | None = None
    end = 0
    for match in _META_TOKEN.finditer(text):
        if match["space"] is not None:
            if current is not None:
                yield _c_string("".join(current)), end
                count += 1
            current = None
            continue
        end = match.end()
        piece = match.group()
        if evaluated is not None and count >= evaluated and match["single"] is None:
            piece = match["backtick"] if match["backtick"] is not None else piece  # `cmd` is not run: its text, unquoted
        elif match["single"] is not None:
            piece = _unescape(match["single"])
        elif match["backtick"] is not None:  # unclosed, it is an absent word (unterminated): not run
            piece = backtick(_for_the_shell(match["backtick"], variables)) if _CLOSED["backtick"].fullmatch(match.group()) else match["backtick"]
        elif match["test"] is not None:
            piece = "TRUE" if match["test"] in variables else "FALSE"
        elif (name := match["literal"] or match["ident"] or match["plain"]) and name in variables:
            value = variables[name]
            piece = quote_literal(value) if match["literal"] else quote_identifier(value) if match["ident"] else value
        current = (current or []) + [piece]
    if current is not None:
        yield _c_string("".join(current)), end


def _for_the_shell(command: str, variables: dict[str, str]) -> str:
    """A `command`'s variables as psql substitutes them there: ``:name`` its value, ``:'name'``
    quoted for the shell (a value holding a line break is left as written), ``:"name"`` not
    at all."""

    def replace(match: re.Match[str]) -> str:
        name = match["literal"] or match["plain"]
        value = variables.get(name)
        if value is None or (match["literal"] and ("\n" in value or "\r" in value)):
            return match.group()
        if not match["literal"] or (value and _SHELL_SAFE.fullmatch(value)):
            return value
        return "'" + value.replace("'", "'\"'\"'") + "'"

    return _SHELL_TOKEN.sub(replace, command)


_SHELL_TOKEN = re.compile(r""":'(?P<literal>[A-Za-z0-9_\x80-\U0010ffff]+)'|:"[A-Za-z0-9_\x80-\U0010ffff]+"|:(?P<plain>[A-Za-z0-9_\x80-\U0010ffff]+)""")
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_./:-]+")


def _c_string(word: str) -> str:
    """The word as psql's C string holds it: up to a NUL (`'a\\0b'`, a command's output)."""
    return word.partition("\0")[0]


_CLOSED = {"single": re.compile(r"'(?:[^'\\]|\\.|'')*'", re.S), "double": re.compile(r'"(?:[^"]|"")*"'), "backtick": re.compile(r"`[^`]*`")}


def unterminated(text: str) -> bool:
    """Whether a command's words end inside a quote ('..., "..., `...): psql then says
    "unterminated quoted string" and reads that last word as absent."""
    return before_unterminated(text) is not None


def without_unterminated(argument: str, error: Callable[[str], None]) -> str:
    """``argument`` as psql's lexer reads a command's words: a last word left inside a quote
    absent, after psql's error (through ``error``)."""
    cut = before_unterminated(argument)
    if cut is None:
        return argument
    error("unterminated quoted string")
    return cut


def drop_word_semicolons(text: str) -> str:
    """A meta-command's arguments with the `;`s that end a word dropped, outside quotes, as
    psql reads the words of most commands (`\\d t1;`, `\\x on;`, `\\o file;`): a habit from
    SQL that psql forgives."""
    tokens = [match.group() for match in _META_TOKEN.finditer(text)]
    for index, token in enumerate(tokens):
        ends_word = index + 1 == len(tokens) or tokens[index + 1][:1].isspace()
        if ends_word and token[:1] not in "'\"`" and token.endswith(";"):
            tokens[index] = token.rstrip(";")
    return "".join(tokens)


def sql_identifier(word: str, *, downcase: bool = True) -> str:
    """psql's reading of a name argument (OT_SQLID; \\c's OT_SQLIDHACK without ``downcase``)
    from a `meta_arguments` word: double quotes taken off (`""` inside them stands for one),
    ASCII letters outside them lower-cased. (The `;`s ending a word go before quotes are read:
    `drop_word_semicolons`; `\\c 'db;'` names the database "db;".)"""
    out, quoted, pos = [], False, 0
    while pos < len(word):
        char = word[pos]
        if char == '"' and quoted and word.startswith('"', pos + 1):
            out.append('"')
            pos += 1
        elif char == '"':
            quoted = not quoted
        else:
            out.append(char.lower() if downcase and not quoted and char.isascii() else char)
        pos += 1
    return "".join(out)


def before_unterminated(text: str) -> str | None:
    """``text`` up to the last word when that word ends inside a quote (see `unterminated`),
    so that it reads as absent; None when every quote closes."""
    last, word_start = None, 0
    for last in _META_TOKEN.finditer(text):
        if last["space"] is not None:
            word_start = last.end()
    if last is None:
        return None
    kind = next((kind for kind in _CLOSED if last[kind] is not None), None)
    return text[:word_start] if kind is not None and _CLOSED[kind].fullmatch(last.group()) is None else None


def backtick(command: str) -> str:
    """psql's `command` in a meta-command's words: the command's output, less one final
    newline (`\\set now `date``)."""
    import subprocess

    from nl2sql_shell.own_environment import for_children
    from nl2sql_shell.repl.pipes import SH, sh

    done = subprocess.run(sh(command), executable=SH, stdout=subprocess.PIPE, check=False, env=for_children())
    return done.stdout.decode(errors="replace").removesuffix("\n")


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
                out.append(_byte(int(octal.group(), 8)))
                i += 1 + len(octal.group())
                continue
            hexadecimal = re.match(r"x([0-9A-Fa-f]{1,2})", body[i + 1 :])
            if hexadecimal:  # psql's \xHH
                out.append(_byte(int(hexadecimal.group(1), 16)))
                i += 1 + len(hexadecimal.group())
                continue
            out.append(_META_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out).encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")


def _byte(value: int) -> str:
    """A byte an escape wrote (`\\xc3\\xa9` is two bytes, é in UTF-8, as psql writes them),
    held as a surrogate until the word's bytes are read together; an ASCII byte is itself."""
    value &= 0xFF  # (`\\777`: psql keeps the low byte)
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


_NO_NEWLINE = re.compile(r"\s*-n(?:\s|$)")


def echo(argument: str, variables: dict[str, str], write: Callable[[str], None], error: Callable[[str], None]) -> None:
    """\\echo, \\qecho and \\warn: the words joined by blanks, then a newline unless the
    first word is -n as written (not quoted, not a variable's value). A last word inside an
    unclosed quote is absent and its `command` not run; psql reports it between the words and
    the newline, and so does this."""
    words = meta_arguments(argument, variables)
    broken = unterminated(argument)
    if broken:
        words.pop()
    newline = not (words[:1] == ["-n"] and _NO_NEWLINE.match(argument))
    write(" ".join(words if newline else words[1:]))
    if broken:
        error("unterminated quoted string")
    if newline:
        write("\n")
