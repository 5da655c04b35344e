"""From whatever a model wrote to the one SQL statement it meant, and whether it declined.

Small models wrap SQL in many ways: a ```sql fence, a bare fence, an inline `code` span, prose
before ("Here is the query: SELECT ...") and an explanation after the semicolon, or the bare
statement. They also leave chat-template tokens and <think> blocks behind. A fence is taken
as meant; in free text a statement must start with an SQL keyword where a statement can start
(line start, after a colon or backtick, or written in capitals), and the first candidate that
sqlglot can parse wins, so ordinary prose ("select the rows where...") is not mistaken for SQL.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from nl2sql_shell.sql_text import CAPITAL_START, STATEMENT_START, in_quote_or_comment

from .parsing import DIALECT, PARSE_ERRORS, parse_one, parse_statements

_TEMPLATE_TOKENS = re.compile(r"<\|[^|>\s]*\|>|</?s>|\[/?INST\]|<think>.*?</think>|<think>.*\Z", re.S)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n?(.*?)(?:```|\Z)", re.S)
_SQL_FENCE_LANGUAGES = frozenset({"", "sql", "postgres", "postgresql", "psql", "pgsql", "plpgsql"})
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A line of explanation: a capitalised word (not an SQL clause's, as in `Where id > 3`), a
# numbered or bulleted item.
_CLAUSE = "where|and|or|not|from|join|inner|left|right|full|cross|natural|on|using|group|order|having|limit|offset|fetch|union|intersect|except|window|with|select|case|when|then|else|end|as|in|is|between|like|ilike|returning|values|set|for"
_PROSE_LINE = re.compile(rf"^[ \t]*(?:(?!(?i:{_CLAUSE})\b)[A-Z][a-z]+[ ,:]|\d+\.[ \t]|[-*][ \t])", re.M)

_REFUSAL_WORDS = re.compile(
    r"\b(cannot|can't|can not|unable|not (?:possible|available|enough|sufficient)|unavailable|insufficient"
    r"|no (?:information|data|table|column)|does ?n[o']t (?:contain|have|include|exist)|sorry|lack)",
    re.I,
)


def extract_sql(text: str) -> str | None:
    """The SQL in a model's reply, stripped and without a trailing semicolon; None if there is none."""
    text = _TEMPLATE_TOKENS.sub(lambda m: m.group() if in_quote_or_comment(text, m.start()) else "", text)  # `'</s>'` is data
    for language, body in _FENCE.findall(text):
        if language.lower() in _SQL_FENCE_LANGUAGES and body.strip():
            return _tidy(body)
    if "```" in text:  # fences only in other languages: look at the prose around them
        text = _FENCE.sub("", text)
    at_start = {m.start(1) for m in STATEMENT_START.finditer(text)}
    capitals = {m.start(1) for m in CAPITAL_START.finditer(text)}
    # a statement where one starts (a line's start, after a colon) before one named in a
    # sentence ("I would not run DELETE FROM t; instead ...")
    candidates = {start: _statement_at(text, start) for start in [*sorted(at_start), *sorted(capitals - at_start)]}
    for start in sorted(at_start):  # nor a part of a statement that starts before it (`EXPLAIN SELECT ...`'s SELECT)
        if start in candidates:
            end = text.find(candidates[start], start) + len(candidates[start])
            candidates = {other: sql for other, sql in candidates.items() if not start < other < end}
    parsed = next((sql for full in candidates.values() for sql in (full, _before_prose(full)) if _parses(sql)), None)
    # Capitals at a statement start are SQL even when sqlglot cannot parse them (e.g. MySQL
    # backticks): return them so that the checks can say what is wrong.
    return parsed or next((_before_prose(candidates[start]) for start in sorted(at_start & capitals)), None)


# Three words or more: prose, not a label such as 'yes' or 'high value'.
_SENTENCE = re.compile(r"\w+\s+\w+\s+\w+")


def is_refusal(sql_or_text: str) -> bool:
    """The model abstained: a SELECT of string literals only (the benchmark's convention, e.g.
    ``SELECT 'I cannot answer that' AS answer``), or prose without SQL saying it cannot answer.

    Read from a table, a SELECT of sentences only (``SELECT 'Stretch that can help' FROM
    visits WHERE ...``) is prose too: none of its columns carries the database's data. A
    short label (``SELECT 'yes' FROM t WHERE ...``) may answer a question and is not, nor is
    a bare value read from nowhere (``SELECT 'Eclair' AS name``: an answer made up, which eval
    counted as a question rightly refused and the shell told as the model's refusal)."""
    sql = extract_sql(sql_or_text)
    if sql is None:
        return bool(_REFUSAL_WORDS.search(sql_or_text))
    try:
        tree = parse_one(sql)
    except PARSE_ERRORS:
        return False
    if not isinstance(tree, exp.Select):
        return False
    strings = [s.unalias() for s in tree.selects]
    if not all(isinstance(s, exp.Literal) and s.is_string for s in strings):
        return False
    texts = [s.this for s in strings]
    if any(tree.args.get(arg) for arg in ("from_", "where", "group", "having", "joins")):
        return all(_SENTENCE.search(text) for text in texts)
    return any(_SENTENCE.search(text) or _REFUSAL_WORDS.search(text) for text in texts)


def _statement_at(text: str, start: int) -> str:
    """From a keyword to the end of its statement: the first semicolon outside quotes, or a
    blank line (where prose usually resumes), or a closing backtick when it began inside one."""
    rest = text[start:]
    if start and text[start - 1] == "`" and "`" in rest:
        rest = rest[: rest.index("`")]
    whole = _up_to_semicolon(rest)
    if (paragraph := _PARAGRAPH_BREAK.search(whole)) and not _parses(whole):  # a blank line inside a statement that parses is its own
        return _up_to_semicolon(rest[: paragraph.start()])
    return whole


def _up_to_semicolon(text: str) -> str:
    """The text before its first semicolon outside quotes and comments."""
    for match in re.finditer(";", text):
        if _tokenizes(text[: match.start()]) and not in_quote_or_comment(text, match.start()):
            return _tidy(text[: match.start()])
    return _tidy(text)


def _before_prose(sql: str) -> str:
    """The statement without an explanation that follows it on the next line ("This query ...")."""
    prose = _PROSE_LINE.search(sql)
    return _tidy(sql[: prose.start()]) if prose else sql


def _tidy(sql: str) -> str:
    return _outside_strings(sql.strip().rstrip(";").strip())


_STRINGS = frozenset({TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING, TokenType.HEREDOC_STRING, TokenType.BIT_STRING, TokenType.HEX_STRING, TokenType.BYTE_STRING})


_LONG_BLANK = re.compile(r"[ \t]{40,}")


def _outside_strings(sql: str) -> str:
    """Layout PostgreSQL reads as such, written so that the screen shows it: a carriage return
    as the line break it is (it ends a `--` comment, but shown as `\\r` it read as more of the
    comment: `-- just this one\\r OR now() IS NOT NULL` deleted every row), and a run of
    blanks long enough to push the rest of a line off the screen as one. In a string both are
    data, kept as written."""
    if "\r" not in sql and not _LONG_BLANK.search(sql):
        return sql
    try:
        tokens = DIALECT.tokenize(sql)
    except TokenError:
        return sql
    kept = [(token.start, token.end) for token in tokens if token.token_type in _STRINGS or (token.token_type == TokenType.IDENTIFIER and sql[token.start] == '"')]
    out, pos = [], 0
    for start, end in kept:
        out += [_laid_out(sql[pos:start]), sql[start : end + 1]]
        pos = end + 1
    out.append(_laid_out(sql[pos:]))
    return "".join(out)


def _laid_out(text: str) -> str:
    return _LONG_BLANK.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def _tokenizes(sql: str) -> bool:
    """True when the text ends outside any string literal (an unclosed quote fails to tokenize)."""
    try:
        DIALECT.tokenize(sql)
    except TokenError:
        return False
    return True


def _parses(sql: str) -> bool:
    """sqlglot understands it (a Command is its fallback for text it does not understand)."""
    try:
        statements = parse_statements(sql)
    except PARSE_ERRORS:
        return False
    return bool(statements) and all(not isinstance(e, exp.Command) for e in statements)
