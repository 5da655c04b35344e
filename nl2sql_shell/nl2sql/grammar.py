"""A grammar for the model's reply (llama.cpp's GBNF): one bare SQL statement in which every
name after a dot is one of the schema's.

Why: a small model on a schema it has never seen writes columns that do not exist, such as
`pw.aid` on a table without `aid`. Under this grammar decoding cannot write one after a dot;
the model writes its most likely existing name instead. (Measured, it seldom bites: this
model's invented names are mostly bare, or the other table's; docs/benchmarks.md.) The grammar is
lexical, not SQL's syntax: words, quoted names, strings, numbers and punctuation in any
order, with two rules only: a name after `.` is a column, table or schema name the prompt
showed (or `*`), and two words never touch (so `pw.aid` cannot pass as `pw.a` + `id`). Bare
names such as aliases and functions stay free: the grammar cannot know an alias from a
column. No fence and no prose: the reply is the statement, as the prompt asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nl2sql_shell.schema.model import Table

# `body` alternates between at most one word-like token and one separator, so that each text
# has exactly one parse: llama.cpp keeps a stack per parse, and ambiguity multiplies them.
_RULES = r"""root ::= [ \t\n]* body ";"?
body ::= word? (sep word?)*
word ::= (bare | quoted) qualified* | [0-9]+ ("." [0-9]+)?
qualified ::= "." (known | "*")
bare ::= [a-zA-Z_] [a-zA-Z0-9_$]*
quoted ::= "\"" [^"\n]+ "\""
sep ::= [ \t\n(),+*/%<>=!|:~^&\[\]-] | "'" [^']* "'"
"""
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def sql_grammar(tables: Sequence[Table]) -> str:
    """The GBNF for a reply over ``tables``, in the names the model reads them by."""
    names: dict[str, None] = {}
    for table in tables:
        for name in (table.schema, table.name, *(c.name for c in table.columns)):
            names['"' + name.replace('"', '""') + '"'] = None
            if _WORD.fullmatch(name):  # after a dot PostgreSQL reads any word, keywords too
                # unquoted as declared or in lower case: wrong for `"fullName"`, but the
                # corrections repair a folded name, and forbidding it derails the model
                names[name] = names[name.lower()] = None
    known = " | ".join(_literal(n) for n in names) or '"*"'
    return _RULES + f"known ::= {known}\n"


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
