"""The proof reads a statement as PostgreSQL's lexer does, or not at all.

Rounds of attack found one disagreement after another between sqlglot's tokenizer and
PostgreSQL's (`USER-DEFINED` one word, `#--'` an operator and a string, `aſ` the keyword AS,
`sort by$a$` a keyword and a dollar quote): each hid a name, a call or a statement from the
proof. Here a seeded generator writes thousands of statements from the pieces where the two
may part (operators beside comments, every kind of quote, `$` beside names, keywords of
several words split by comments, letters outside ASCII, numbers) and a model of
PostgreSQL's lexer (postgres_lexer.py) says what the server reads. For each statement the
proof either says it cannot read it (then it is unproven), or it has seen every name and
operator PostgreSQL sees, and no second statement.
"""

from __future__ import annotations

import random

import pytest

from nl2sql_shell.nl2sql.proof import _FOLD, _read_tokens

from .postgres_lexer import LexError, lex

KEYWORDS_OF_SEVERAL_WORDS = [
    "CHARACTER VARYING", "CLUSTER BY", "CONNECT BY", "DISTRIBUTE BY", "DOUBLE PRECISION", "GROUP BY",
    "GROUPING SETS", "ORDER BY", "PARTITION BY", "PRIMARY KEY", "SIMILAR TO", "SORT BY", "SQL SECURITY", "USER-DEFINED",
]
WORDS = ["a", "w", "e", "b", "u", "n", "x", "select", "from", "as", "é", "ſ", "ß", "ı", "ﬀ", "a$", "x$y", "_1", "trim", "at", "escape", "filter", "over"]
OPERATOR_CHARS = "+-*/<>=~!@#%^&|`"  # `?` is left out: sqlglot's `?::` token hides nothing PostgreSQL can run
QUOTES = ["'", "E'", "U&'", "$$", "$a$", '"', "B'", "X'", "N'", "$_$"]
INSIDE = ["a", "\\", "'", "''", "$", "$a$", " ", "w(1)", "--", "/*", "*/", '"', "\\'", "\n"]
OTHERS = ["(", ")", ",", ".", "::", "[", "]", "$", "--c\n", "/* c */", "/* /* */ */", ";", "1", "1.5", ".5", "1e5", "2E3", "1.e2"]


def _piece(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        words = rng.choice(KEYWORDS_OF_SEVERAL_WORDS).split(" ")
        return rng.choice([" ", "\n", "/**/", "--c\n", "\t"]).join(w.lower() if rng.random() < 0.5 else w for w in words)
    if roll < 0.35:
        return rng.choice(WORDS)
    if roll < 0.5:
        return "".join(rng.choice(OPERATOR_CHARS) for _ in range(rng.randint(1, 3)))
    if roll < 0.7:
        kind = rng.choice(QUOTES)
        body = "".join(rng.choice(INSIDE) for _ in range(rng.randint(0, 3)))
        return kind + body + (kind if kind.startswith("$") else '"' if kind == '"' else "'")
    return rng.choice(OTHERS)


def _statement(rng: random.Random) -> str:
    return "SELECT " + "".join(_piece(rng) + rng.choice(["", "", " ", "\n"]) for _ in range(rng.randint(2, 7)))


def _disagreements(sql: str) -> list[str]:
    """What PostgreSQL reads in ``sql`` that the proof did not, when the proof reads it."""
    try:
        tokens = lex(sql)
    except LexError:
        return []
    facts, problem = _read_tokens(sql)
    if problem:
        return []
    missed = []
    for kind, text in tokens:
        if kind == "word" and text.translate(_FOLD) not in facts.words:
            missed.append(f"name {text!r}")
        elif kind == "name" and not text.startswith(("U&", "u&")) and text[1:-1].replace('""', '"') not in facts.words:
            missed.append(f"name {text!r}")
        elif kind == "operator" and not any(text in run for run in facts.operators):
            missed.append(f"operator {text!r}")
    if any(kind == "punctuation" and text == ";" for kind, text in tokens[:-1]):
        missed.append("a second statement")
    return missed


@pytest.mark.parametrize("seed", range(8))
def test_what_postgresql_reads_the_proof_reads_or_refuses(seed: int) -> None:
    rng = random.Random(seed)
    found = {}
    for _ in range(2500):
        sql = _statement(rng)
        for missed in _disagreements(sql):
            found.setdefault(missed, sql)
    assert not found, "\n".join(f"{missed}: {sql!r}" for missed, sql in list(found.items())[:10])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT user-defined(1)",
        "SELECT 1 #--'\n 2, w() --'",
        "SELECT to_json(aſ) FROM t aſ",
        "SELECT sort by$a$ FROM t, w() --$a$",
        "SELECT t.sort by FROM t",
        "SELECT 2e3-1",
    ],
)
def test_the_disagreements_found_by_attack_are_caught_here_too(sql: str) -> None:
    """Each would be a disagreement had the proof read it; it refuses or sees the names."""
    assert _disagreements(sql) == []
