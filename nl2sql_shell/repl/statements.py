"""Where statements end in what the user typed: a small scanner that follows psql's lexer.

The REPL needs three answers on every key press: which complete statements to run, whether
Enter should submit or open a new line, and what the continuation prompt shows (psql's
``%R``). A SQL parser cannot answer them for half-typed text, so this scanner only tracks
what decides them, exactly as psql 15's ``psqlscan.l`` does:

* a ``;`` ends a statement only outside quotes, comments, parentheses and the
  ``BEGIN ... END`` body of ``CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC``;
* quotes: ``'...'`` (with ``''``), ``E'...'`` (with backslash escapes), ``"..."`` identifiers,
  ``$$...$$`` / ``$tag$...$tag$`` dollar quotes; ``--`` and nested ``/* */`` comments;
* ``--`` comments and blank space before a statement are not part of it (psql does not send
  them either).

Deliberate differences from psql: an empty statement (``;`` alone, or only comments before
``;``) is dropped instead of being sent, and a rest that holds only comments counts as empty
(though a ``/* */`` one keeps the prompt's buffer open, as psql's does).
With ``standard_conforming_strings`` off (`standard_strings`), a backslash escapes the next
character in ``'...'`` too, as in psql's lexer and the server's.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field

# The session's standard_conforming_strings (on unless the server says off): psql's lexer
# reads it for every line; the shell sets it after connecting and after every statement.
standard_strings: ContextVar[bool] = ContextVar("standard_strings", default=True)

# One alternation finds the next thing that can change the scanner's state; everything in
# between (operators, numbers, blanks) is skipped by re.search in C.
_TOKEN = re.compile(
    r"""
      (?P<ident>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)   # a name or keyword; $ continues it (a$$b is one name)
    | (?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)  # $$ or $tag$: any character outside ASCII, as PostgreSQL
    | (?P<squote>')
    | (?P<dquote>")
    | (?P<line>--)
    | (?P<block>/\*)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<semi>;)
    | (?P<backslash>\\)                     # a meta-command (\\g, \\gset...) after the query text
    """,
    re.VERBOSE,
)
# Quote bodies and leading comments are skipped with str.find and single-character repeats:
# a repeated group (even an unrolled loop) keeps backtracking state for every repetition, which
# for a 10 MB literal full of '' pairs or escapes took hundreds of MB.
_BLANKS = re.compile(r"\s*")
_ESCAPE_OR_QUOTE = re.compile(r"[\\']")
_BLOCK_MARK = re.compile(r"/\*|\*/")
# psqlscan.l's whitespace_with_newline then a quote, within one line: the newline a carriage return.
_QUOTE_CONTINUES = re.compile(r"(?:[ \t\f]|--[^\n\r]*+)*+\r(?:[ \t\f\v\r]|--[^\n\r]*+\r)*+'")

# First identifiers of CREATE [OR REPLACE] {FUNCTION|PROCEDURE}, as psql records them.
_ROUTINE_WORDS = {"create": "c", "or": "o", "replace": "r", "function": "f", "procedure": "p"}

READY, CONTINUE, SINGLE_QUOTE, DOUBLE_QUOTE, DOLLAR_QUOTE, COMMENT, PAREN = "=", "-", "'", '"', "$", "*", "("


@dataclass
class _Scan:
    statements: list[str]
    rest: str
    state: str  # one of the %R characters above
    in_line_comment: bool = False  # the text ends inside a -- comment
    end: int = 0  # position just after the last complete statement's ;
    meta: int = -1  # with meta=True: where a backslash command starts before any ;
    escapes: list[int] = field(default_factory=list)  # the backslashes of the rest's \; (psql's ; that ends nothing)
    begin_depth: int = 0  # open BEGIN ATOMIC ... END blocks at the end


def _scan(text: str, pos: int = 0, first: bool = False, meta: bool = False, held: bool = False) -> _Scan:
    """Scan ``text`` from ``pos``; with ``first``, stop after the first complete statement;
    with ``meta``, stop at a backslash outside quotes and comments, where psql's lexer ends the
    query text of the line and a meta-command begins (``select 1 \\g``); with ``held``, the
    first ``;`` ends a statement even with nothing before it (it ends query text held before)."""
    statements: list[str] = []
    end = pos
    start = pos = _skip_noise(text, pos)
    depth, begin_depth = 0, 0
    head: list[str] = []  # first-letter codes of the statement's first identifiers (psql's heuristic)
    routine = False  # the statement is CREATE [OR REPLACE] FUNCTION|PROCEDURE
    in_line_comment = False
    kept_semis: list[int] = []  # where the statement's \; are: their backslashes are not sent
    n = len(text)
    while pos < n:
        match = _TOKEN.search(text, pos)
        if match is None:
            break
        kind, pos = match.lastgroup, match.end()
        if kind == "ident":
            word = match.group().lower()
            if word == "e" and text.startswith("'", pos):  # E'...' escape string
                pos = _escape_string_end(text, pos + 1)
                if pos < 0:
                    return _Scan(statements, text[start:].strip(), SINGLE_QUOTE, end=end)
                continue
            if len(head) < 4:
                head.append(_ROUTINE_WORDS.get(word, ""))
                routine = _in_routine_header(head)
            if routine and depth == 0:
                if word == "begin" or (word == "case" and begin_depth > 0):
                    begin_depth += 1
                elif word == "end" and begin_depth > 0:
                    begin_depth -= 1
        elif kind == "squote" and not standard_strings.get():
            pos = _escape_string_end(text, pos)
            if pos < 0:
                return _Scan(statements, text[start:].strip(), SINGLE_QUOTE, end=end)
        elif kind in ("squote", "dquote"):
            pos = _quoted_end(text, pos, match.group())
            if pos < 0:
                return _Scan(statements, text[start:].strip(), SINGLE_QUOTE if kind == "squote" else DOUBLE_QUOTE, end=end)
        elif kind == "dollar":
            close = text.find(match.group(), pos)
            if close < 0:
                return _Scan(statements, text[start:].strip(), DOLLAR_QUOTE, end=end)
            pos = close + len(match.group())
        elif kind == "line":
            newline = line_comment_end(text, pos)
            if newline < 0:
                in_line_comment = True
                break
            pos = newline + 1
        elif kind == "block":
            pos = _skip_block_comment(text, pos)
            if pos < 0:
                return _Scan(statements, text[start:].strip(), COMMENT, end=end)
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(depth - 1, 0)
        elif kind == "backslash":
            if text.startswith(";", pos):  # psql's \; : a ; sent with the statement, not ending it
                kept_semis.append(match.start())
                pos += 1
                head, routine = [], False  # psql counts a statement's first words again after it
            elif text.startswith(":", pos):  # psql's \: : a : that names no variable (variables.substitute sends it)
                pos += 1
            elif meta:
                return _Scan(statements, _unescaped(text, start, match.start(), kept_semis).strip(), READY, end=end, meta=match.start())
        elif kind == "semi" and depth == 0 and begin_depth == 0:
            if _skip_comments(text, start) < match.start() or (held and not statements):  # not just comments before the ;
                statements.append(_unescaped(text, start, pos, kept_semis).strip())
            end = pos
            if first and statements:
                return _Scan(statements, "", READY, end=end)
            start = pos = _skip_noise(text, pos)
            head, routine, kept_semis = [], False, []
    rest = "" if _skip_comments(text, start) == n else _unescaped(text, start, n, kept_semis).strip()
    if depth > 0:
        state = PAREN
    elif rest or begin_depth > 0 or start < n:  # psql keeps a /* */ comment in its buffer (not -- ones)
        state = CONTINUE
    else:
        state = READY
    return _Scan(statements, rest, state, in_line_comment, end, escapes=kept_semis, begin_depth=begin_depth)


def _unescaped(text: str, start: int, stop: int, backslashes: list[int]) -> str:
    """``text[start:stop]`` without the backslashes of its ``\\;`` (psql sends ``;``)."""
    cuts = [c for c in backslashes if start <= c < stop]
    return "".join(text[a + 1 : b] for a, b in zip([start - 1, *cuts], [*cuts, stop]))


def query_text(text: str) -> str:
    """Query text that no ``;`` ended (held before a ``\\g``) as psql sends it: each ``\\;``
    outside quotes and comments a plain ``;``, everything else as written."""
    if "\\;" not in text:  # nothing to unescape: no second scan of a long buffer
        return text
    return _unescaped(text, 0, len(text), _scan(text).escapes)


def _in_routine_header(head: list[str]) -> bool:
    """psql's test for CREATE [OR REPLACE] FUNCTION|PROCEDURE, whose BEGIN ATOMIC body holds ;."""
    codes = "".join(code or " " for code in head)
    return codes.startswith(("cf", "cp", "corf", "corp"))


def line_comment_end(text: str, pos: int) -> int:
    """Where a ``--`` comment from ``pos`` ends: PostgreSQL's and psql's lexers end it at a
    carriage return as at a newline (-1: at the end of the text)."""
    ends = [e for e in (text.find("\n", pos), text.find("\r", pos)) if e >= 0]
    return min(ends) if ends else -1


def _skip_noise(text: str, pos: int) -> int:
    """The first position from ``pos`` on that is not blank space or a ``--`` comment."""
    while True:
        pos = _BLANKS.match(text, pos).end()
        if not text.startswith("--", pos):
            return pos
        newline = line_comment_end(text, pos)
        if newline < 0:
            return len(text)
        pos = newline + 1


def _quoted_end(text: str, pos: int, quote: str) -> int:
    """Position after the quote closing a '...' or "..." body that starts at ``pos`` (a
    doubled quote stands for itself); -1 if unclosed."""
    while True:
        close = text.find(quote, pos)
        if close < 0:
            return -1
        if not text.startswith(quote, close + 1):
            return close + 1
        pos = close + 2


def _escape_string_end(text: str, pos: int) -> int:
    """Like _quoted_end for an E'...' body, where a backslash escapes the next character.
    A closing quote, blank space holding a carriage return, and a quote go on with the same
    string, escapes and all (PostgreSQL's and psql's quote continuation; psql lexes line by
    line, so a newline never leads to one)."""
    while True:
        mark = _ESCAPE_OR_QUOTE.search(text, pos)
        if mark is None:
            return -1
        pos = mark.end()
        if mark.group() == "\\" or text.startswith("'", pos):  # an escaped character or ''
            pos += 1
        elif continued := _QUOTE_CONTINUES.match(text, pos):
            pos = continued.end()
        else:
            return pos


def _skip_comments(text: str, pos: int) -> int:
    """The first position from ``pos`` on that is not blank space or a comment."""
    while True:
        pos = _skip_noise(text, pos)
        if not text.startswith("/*", pos) or (end := _skip_block_comment(text, pos + 2)) < 0:
            return pos
        pos = end


def _skip_block_comment(text: str, pos: int) -> int:
    """Position after the */ closing a comment opened just before ``pos``; -1 if unclosed."""
    depth = 1
    for mark in _BLOCK_MARK.finditer(text, pos):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    return -1


# What opens a quote or a comment, for drop_empty_lines (identifiers so that a$$b is one name
# and E'...' is seen as an escape string).
_QUOTE_OR_COMMENT = re.compile(
    r"(?P<ident>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)|(?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)|(?P<quote>['\"])|(?P<line>--)|(?P<block>/\*)"
)
_EMPTY_LINES = re.compile(r"\n\n+")


def drop_empty_lines(text: str) -> str:
    """``text`` (starting at a line's start) without its empty lines, as psql reads a script
    line by line and skips an empty line unless a quote or a ``/*`` comment is open there: the
    query it sends has none of them (so the server's ``LINE n:`` counts only the lines kept),
    and ``-a`` does not echo them."""
    if "\n\n" not in text and not text.startswith("\n"):
        return text
    text = "\n" + text  # the line before: a first empty line goes too
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _QUOTE_OR_COMMENT.search(text, pos)
        code_end = len(text) if match is None else match.start()
        out.append(_EMPTY_LINES.sub("\n", text[pos:code_end]))
        pos = len(text) if match is None else _past(text, match)
        out.append(text[code_end:pos])
    return "".join(out)[1:]


def _past(text: str, match: re.Match[str]) -> int:
    """Where what ``match`` opened ends: after its quote or comment, the end of the text when
    unclosed; after an identifier (an ``E'...'`` string with it), before a ``--`` comment's newline."""
    kind, pos = match.lastgroup, match.end()
    if kind == "ident":
        end = _escape_string_end(text, pos + 1) if match.group() in ("e", "E") and text.startswith("'", pos) else pos
    elif kind == "quote":
        end = _escape_string_end(text, pos) if match.group() == "'" and not standard_strings.get() else _quoted_end(text, pos, match.group())
    elif kind == "dollar":
        close = text.find(match.group(), pos)
        end = close + len(match.group()) if close >= 0 else -1
    elif kind == "line":
        end = line_comment_end(text, pos)
    else:
        end = _skip_block_comment(text, pos)
    return len(text) if end < 0 else end


# Meta-commands whose argument is the rest of the line, backslashes and all (psql's
# OT_WHOLE_LINE), and those whose file argument may be a |command that takes the rest (OT_FILEPIPE).
_WHOLE_LINE_COMMANDS = frozenset({"\\!", "\\copy", "\\ef", "\\ev", "\\sf", "\\sf+", "\\sv", "\\sv+", "\\h", "\\help"})
_PIPE_COMMANDS = frozenset({"\\o", "\\out", "\\g", "\\gx", "\\w", "\\write"})


def split_meta_command(line: str) -> tuple[str, str]:
    """A meta-command line's name and the rest: psql's name ends at any blank or backslash
    (``\\!ls`` is the command ``!ls``, not ``\\!`` with ``ls``)."""
    end = next((i for i, char in enumerate(line) if i and (char.isspace() or char == "\\")), len(line))
    return line[:end], line[end:]


def meta_command_end(text: str, start: int, stop: int) -> int:
    """Where the meta-command whose backslash is ``text[start]`` ends, before ``stop`` (its
    line's end), as psql's backslash lexer ends it: at the first backslash outside quotes in
    its arguments (``\\\\`` hands the rest of the line back as query text; any other begins
    the next command, as in ``\\echo a \\echo b``); ``stop`` when there is none, and for the
    commands that take the whole line (``\\!``, ``\\copy``, ``\\sf``, ``\\o |command``...)."""
    name_end = start + 1
    while name_end < stop and not text[name_end].isspace() and text[name_end] != "\\":
        name_end += 1
    name = text[start:name_end]
    if name in _WHOLE_LINE_COMMANDS or (name in _PIPE_COMMANDS and text[name_end:stop].lstrip().startswith("|")):
        return stop
    pos = name_end
    while pos < stop:
        char = text[pos]
        if char == "\\":
            return pos
        pos = _argument_quote_end(text, pos + 1, char, stop) if char in "'\"`" else pos + 1
    return stop


def _argument_quote_end(text: str, pos: int, quote: str, stop: int) -> int:
    """Position after the ``quote`` closing a meta-command argument's quote that starts at
    ``pos`` (doubled, it stands for itself; in '...' a backslash escapes the next character);
    ``stop`` if unclosed."""
    while pos < stop:
        char = text[pos]
        escaped = char == "\\" and quote == "'"
        if escaped or (char == quote and quote != "`" and text.startswith(quote, pos + 1)):
            pos += 2
        elif char == quote:
            return pos + 1
        else:
            pos += 1
    return stop


def after_meta_command(text: str, end: int) -> int:
    """Where input resumes after a meta-command that ended at ``end``: past a ``\\\\``
    separator, else at the backslash of the next command."""
    return end + 2 if text.startswith("\\\\", end) else end


def split_statements(text: str) -> tuple[list[str], str]:
    """The complete statements (each ending with its ``;``, trimmed) and the incomplete rest.

    The rest is ``""`` when nothing but blanks and comments follows the last statement.
    """
    scan = _scan(text)
    return scan.statements, scan.rest


def statement_pieces(text: str) -> list[str]:
    """The statements of ``text`` (the last may lack its ``;``), or ``[text]`` as written,
    blanks and all, when it holds one: a buffer joined by ``\\;``, or a variable whose value
    holds a ``;``, is several."""
    if ";" not in text.rstrip().removesuffix(";"):  # no ; that could end a first statement: no scan of a long one
        return [text]
    statements, rest = split_statements(text)
    pieces = statements + [rest] if rest else statements
    return pieces if len(pieces) > 1 else [text]


def complete_end(text: str) -> int:
    """Where the complete statements at the start of ``text`` end (after the last ``;``
    outside quotes, comments and parentheses); 0 when there is none. psql sends these as soon
    as the line that completes them is read, whatever follows on it."""
    return _scan(text).end


def next_piece(text: str, pos: int, *, held: bool = False) -> tuple[str | None, int, int]:
    """The first complete statement from ``pos`` and the position after its ``;``:
    ``(statement, end, -1)``. A backslash before that ``;`` wins, as in psql's lexer:
    ``(None, start, meta)``, where ``text[start:meta]`` is the query text so far (after any
    empty statements, which are dropped) and ``meta`` the position of the meta-command on its
    line. ``(None, start, -1)`` when nothing is complete. With query text ``held`` before
    ``pos`` (a meta-command came between), a ``;`` with nothing before it ends that text: the
    statement is then "". Scanning stops there, so a script runs piece by piece in one pass
    however long it is."""
    scan = _scan(text, pos, first=True, meta=True, held=held)
    if scan.statements:
        return scan.statements[0], scan.end, -1
    return None, scan.end, scan.meta


def input_state(text: str) -> str:
    """psql's ``%R`` for a buffer: ``=`` nothing pending, ``-`` plain continuation, ``'``, ``"``,
    ``$`` inside a quote of that kind, ``*`` inside a ``/*`` comment, ``(`` open parenthesis."""
    return _scan(text).state


def line_prompt(text: str, line: int, *, numbered: bool = True) -> tuple[str, int]:
    """psql's %R and %l on the PROMPT2 of ``text``'s line ``line`` (1: its second): the state
    the lines before it left and the statement's line number. psql counts a line only when its
    lexer ends it with text pending outside quotes, comments, parentheses and BEGIN ATOMIC
    blocks (PSCAN_EOL), and starts again at 1 once it sends a statement. Numbering scans each
    line before; without ``numbered`` (no %l to show) the number is 0 and one scan does."""
    lines = text.split("\n")
    if not numbered:
        return _scan("\n".join(lines[:line]) + "\n").state, 0
    number, sent, state = 1, 0, READY
    for count in range(1, line + 1):
        scan = _scan("\n".join(lines[:count]) + "\n")
        if len(scan.statements) > sent:
            number, sent = 1, len(scan.statements)
        if scan.state == CONTINUE and scan.begin_depth == 0:
            number += 1
        state = scan.state
    return state, number


def in_code(text: str) -> bool:
    """Whether the end of ``text`` is SQL code, not inside a quote or comment (where the
    completer has nothing to offer)."""
    scan = _scan(text)
    return scan.state in (READY, CONTINUE, PAREN) and not scan.in_line_comment


def starts_meta_command(stripped: str) -> bool:
    """Whether a line (its blanks stripped) starts with a meta-command: a backslash, except
    psql's ``\\;`` and ``\\:``, which are query text (a ``;`` that ends nothing, a ``:`` that
    names no variable)."""
    return stripped.startswith("\\") and not stripped.startswith(("\\;", "\\:"))


def is_complete(text: str) -> bool:
    """Whether Enter should submit the buffer rather than start a new line.

    True for an empty buffer, a backslash meta-command line, a ``?`` question (always one
    line), and SQL with no unfinished statement after the complete ones.
    """
    stripped = text.lstrip()
    if not stripped or stripped.startswith("?") or starts_meta_command(stripped):
        return True
    scan = _scan(text, meta=True)
    return scan.meta >= 0 or scan.state == READY
