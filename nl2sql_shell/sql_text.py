"""Where SQL starts in a model's reply, and what in it is quoted or a comment: read by the stop
strings of generation (llm/model.cut_at_stop) and by the extraction of the statement
(nl2sql/extract.py), before sqlglot sees the text."""

from __future__ import annotations

import re

STATEMENT_KEYWORDS = (
    "SELECT|WITH|INSERT|UPDATE|DELETE|MERGE|VALUES|TABLE|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE"
    "|EXPLAIN|SHOW|COPY|VACUUM|ANALYZE|SET|RESET|BEGIN|COMMIT|ROLLBACK"
)
# Where a statement may start in free text: line start, after a colon, after a backtick (a
# query may open with parentheses there: `(SELECT ...) UNION ALL (SELECT ...)`); or a keyword
# written in capitals anywhere.
STATEMENT_START = re.compile(rf"(?:^|(?<=:)|(?<=`))[ \t]*((?:\([ \t]*)+(?:SELECT|WITH|VALUES|TABLE)|{STATEMENT_KEYWORDS})\b", re.I | re.M)
CAPITAL_START = re.compile(rf"\b({STATEMENT_KEYWORDS})\b")
_QUOTED_OR_COMMENT = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|/\*.*?(?:\*/|\Z)""", re.S)


def sql_start(text: str, end: int | None = None) -> int | None:
    """Where the first statement of ``text[:end]`` may start, or None before any."""
    end = len(text) if end is None else end
    found = [m.start(1) for pattern in (STATEMENT_START, CAPITAL_START) if (m := pattern.search(text, 0, end))]
    return min(found, default=None)


def in_quote_or_comment(text: str, at: int) -> bool:
    """Whether the character at ``at`` lies inside a quoted string or name or a comment of the
    SQL (one still open at ``at`` too). Quotes count from where SQL starts: the apostrophe of
    "Here's the query:" opens no string."""
    start = sql_start(text, at)
    return start is not None and any(m.start() < at < m.end() for m in _QUOTED_OR_COMMENT.finditer(text, start, at + 1))
