"""The scanner must cut input exactly where psql 15 does, or the REPL runs the wrong text."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from nl2sql_shell.repl.statements import (
    in_code,
    input_state,
    is_complete,
    split_statements,
)

PSQL = shutil.which("psql")

# (input, complete statements, incomplete rest)
SPLITS = [
    ("select 1;", ["select 1;"], ""),
    ("select 1; select 2;", ["select 1;", "select 2;"], ""),
    ("select ';' ; select 'it''s; ok';", ["select ';' ;", "select 'it''s; ok';"], ""),
    ("select E'a\\';b'; select 2;", ["select E'a\\';b';", "select 2;"], ""),
    ("select 'a\\'; select 2;", ["select 'a\\';", "select 2;"], ""),  # no backslash escape without E
    ('select "a;""b" from t;', ['select "a;""b" from t;'], ""),
    ("select $$a;b$$, $t$ $$; $t$; select 2;", ["select $$a;b$$, $t$ $$; $t$;", "select 2;"], ""),
    ("select a$$b from t; select $1;", ["select a$$b from t;", "select $1;"], ""),  # $ inside a name, a parameter
    ("select $€$ a; \\! b $€$, 1; select 2;", ["select $€$ a; \\! b $€$, 1;", "select 2;"], ""),  # any character outside ASCII tags a quote
    ("select 1 -- x\r'; \\! b\n', 2; select 3;", ["select 1 -- x\r'; \\! b\n', 2;", "select 3;"], ""),  # a carriage return ends a -- comment
    ("select /* a /* b; */ c; */ 1;", ["select /* a /* b; */ c; */ 1;"], ""),
    ("select 1 -- no; end\n, 2;", ["select 1 -- no; end\n, 2;"], ""),
    ("-- lead\n  select 1; -- tail\nselect 2;", ["select 1;", "select 2;"], ""),
    ("select (1;\n2);", ["select (1;\n2);"], ""),
    ("select (1;", [], "select (1;"),
    ("select 1; select 2 -- trailing", ["select 1;"], "select 2 -- trailing"),
    ("select 1;\nselect 'abc;", ["select 1;"], "select 'abc;"),
    (
        "create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end; select 3;",
        ["create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end;", "select 3;"],
        "",
    ),
    ("create or replace procedure p() begin atomic select 1; end; select 2;",
     ["create or replace procedure p() begin atomic select 1; end;", "select 2;"], ""),
    ("begin; select 1; end;", ["begin;", "select 1;", "end;"], ""),  # a transaction is not a body
]


@pytest.mark.parametrize(("text", "statements", "rest"), SPLITS)
def test_split_statements(text: str, statements: list[str], rest: str) -> None:
    assert split_statements(text) == (statements, rest)


def test_empty_statements_and_comment_only_rest_are_dropped() -> None:
    # psql would send ";" and "/* c */;" to the server; the REPL has nothing to run there.
    assert split_statements("  ; select 1;; /* c */;") == (["select 1;"], "")
    assert split_statements("select 1; /* note */ -- more\n") == (["select 1;"], "")


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize(("text", "statements", "rest"), [case for case in SPLITS if "'abc" not in case[0] and "\r" not in case[0]])  # a lone CR does not come back whole through the comparison
def test_psql_sends_the_same_statements(pg_server, tmp_path, text: str, statements: list[str], rest: str) -> None:
    """psql -f echoes every query it sends (and at end of file, the unfinished rest)."""
    script = tmp_path / "input.sql"
    script.write_text(text)
    result = subprocess.run(
        [PSQL, "-X", "-q", "-o", "/dev/null", "-c", r"\set ECHO queries", "-f", str(script), pg_server.conninfo()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    sent = [line for line in result.stdout.split("\n") if line != ";"]
    assert "\n".join(sent).strip() == "\n".join(statements + ([rest] if rest else []))


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("", "="),
        ("select 1;", "="),
        ("select 1; -- done", "="),
        ("/* note */", "-"),
        ("select 1; /* note */", "-"),
        ("select 1", "-"),
        ("select 1 -- c;", "-"),
        ("select 'a;", "'"),
        ("select E'a\\';", "'"),
        ('select "a;', '"'),
        ("select $f$ a; $$", "$"),
        ("select /* a /* b */ ;", "*"),
        ("select (1,", "("),
        ("select ((1)", "("),
        ("create function f() returns int begin atomic select 1;", "-"),
    ],
)
def test_input_state_is_psql_prompt_r(text: str, state: str) -> None:
    assert input_state(text) == state


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("", True),
        ("   \n", True),
        ("select 1;", True),
        ("select 1;  -- comment", True),
        ("select 1; /* comment */", False),  # psql keeps a block comment in its buffer (prompt '-#')
        ("/* comment */", False),
        ("-- comment", True),
        ("select 1", False),
        ("select 1; select 2", False),
        ("select ';", False),
        ("select (1;", False),
        ("\\dt", True),
        ("  \\c other", True),
        ("? how many users signed up in 2024", True),
        ("select 1 -- ;", False),
    ],
)
def test_is_complete(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


@pytest.mark.parametrize(
    ("text", "expected"),
    [("select na", True), ("select (1, ", True), ("select 'na", False), ("select 1 -- na", False),
     ("select 1 -- c\n, na", True), ("select /* na", False), ('select "Na', False)],
)
def test_in_code(text: str, expected: bool) -> None:
    assert in_code(text) is expected


def test_large_paste_scans_quickly() -> None:
    text = "insert into t values (1, 'it''s; fine', $$x;y$$, E'a\\'b'); -- c;\n" * 5000
    started = time.perf_counter()
    statements, rest = split_statements(text)
    assert len(statements) == 5000 and rest == ""
    assert time.perf_counter() - started < 1.0
