"""`\\if`, `\\elif`, `\\else`, `\\endif` as psql 15 runs them in scripts: branches not taken
send no SQL and run no meta-command, psql's boolean words, nesting, psql's errors; compared
byte for byte with /usr/bin/psql."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SCRIPT = r"""\set x 1
\if :x
\echo one
\elif 1
\echo no
\else
\echo no2
\endif
\if false
  \echo skipped :nosuch
  insert into log values ('skipped');
  select 1/0;
  \set y should-not-be-set
  \if true
    \echo nested-skip
  \else
    \echo nested-skip2
  \endif
\elif ye
  \echo elif-yes
  insert into log values ('elif');
\endif
\echo y is :y
\if maybe
\echo maybe-true
\else
\echo maybe-else
\endif
\if
\echo empty-if
\endif
\if on off
\echo two-words
\endif
\else
\elif 1
\endif
\if 0
\else
\echo in-else
\else
\echo double-else
\elif 1
\endif
\if `echo yes`
\echo backtick-true
\endif
\if 'of'
\echo quoted-off
\else
\echo quoted-off-else
\endif
\if 1
select 'inside' \g
\endif
\if 0
select 'never' \g
\endif
select 'after';
\if 1
\echo unclosed
"""


def test_a_script_with_conditionals_runs_as_in_psql(pg_server, tmp_path: Path):
    (tmp_path / "c.sql").write_text(SCRIPT)
    with twin_databases(pg_server.conninfo(), "create table log (what text)") as (mine, psqls):
        code, out, err = same(mine, psqls, "-f", "c.sql", cwd=tmp_path)
        with psycopg.connect(mine) as conn:
            assert conn.execute("select what from log").fetchall() == [("elif",)]
    assert b"skipped" not in out and b"never" not in out and b"nested-skip" not in out
    assert b"y is :y" in out and b"backtick-true" in out and b"quoted-off-else" in out
    assert b"psql:c.sql:24: error: unrecognized value \"maybe\" for \"\\if expression\": Boolean expected\n" in err
    assert err.endswith(b"reached EOF without finding closing \\endif(s)\n")


def test_an_included_file_has_its_own_if_blocks(fresh_db, tmp_path: Path):
    (tmp_path / "inner.sql").write_text("\\if 1\n\\echo inner\n")
    (tmp_path / "outer.sql").write_text("\\if 1\n\\i inner.sql\n\\echo outer-still-on\n\\endif\n\\echo done\n")
    code, out, _ = same(fresh_db, fresh_db, "-f", "outer.sql", cwd=tmp_path)
    assert out == b"inner\nouter-still-on\ndone\n"


def test_conditionals_on_standard_input(fresh_db):
    same(fresh_db, fresh_db, stdin=b"\\if 1\n\\echo a\n\\elif 1\n\\echo b\n\\endif\n\\if bad\n\\echo c\n\\endif\n\\if 1\n")


def test_at_the_prompt_a_skipped_branch_says_so(fresh_db, monkeypatch, tmp_path: Path):
    """psql's interactive warnings for what a branch not taken ignores, and its '@' prompt."""
    from nl2sql_shell.db.connect import Target, connect
    from nl2sql_shell.output import Output
    from nl2sql_shell.repl.prompt_escapes import PromptRenderer
    from nl2sql_shell.repl.shell import Shell

    out, err = _typed(fresh_db, monkeypatch, tmp_path, "\\if false\n\\echo no\nselect 1 as a;\n\\endif\n\\if true\n\\echo yes\n\\endif\n\\q\n")
    assert out.getvalue() == "yes\n"
    assert err.getvalue() == (
        "\\echo command ignored; use \\endif or Ctrl-C to exit current \\if block\n"
        "query ignored; use \\endif or Ctrl-C to exit current \\if block\n"
    )
    target = Target(fresh_db)
    fresh = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
    fresh.conditions.stack.append("false")
    assert PromptRenderer(fresh).first() == f"{fresh.dbname}@# "
    fresh.close()


BUFFERED = r"""create table keep(x int);
insert into keep values (1), (2);
select count(*) from keep
\if false
; delete from keep
\endif
;
select count(*) as after_if from keep;
select count(*) from keep
\if true
\else
; delete from keep
\endif
;
select 1 as a
\if false
, 2 as b
\elif true
, 3 as c
\else
, 4 as d
\endif
;
\if false
select 5
\endif
;
select count(*) as still from keep;
select 1234567890123456789 as long
\if false
\g
delete from keep where x = 1 and false
\endif
;
select 'pre' as p
\if false
\gset
\endif
;
\echo :p
select count(*) as last_one from keep
\if false
\g
\endif
"""


def test_query_text_of_a_branch_not_taken_is_dropped_at_its_end(pg_server, tmp_path: Path):
    """A statement begun before the `\\if`: its `;` inside the branch not taken sent the text
    before it, and the rest ran after the `\\endif` (a `delete` in a false branch deleted)."""
    (tmp_path / "b.sql").write_text(BUFFERED)
    with twin_databases(pg_server.conninfo()) as (mine, psqls):
        code, out, err = same(mine, psqls, "-f", "b.sql", cwd=tmp_path)
        with psycopg.connect(mine) as conn:
            assert conn.execute("select count(*) from keep").fetchone() == (2,)
    assert b"DELETE" not in out and b" a | c \n" in out and b" last_one \n" in out and (code, err) == (0, b"")


def test_a_branch_not_taken_still_names_an_invalid_command_and_extra_words(fresh_db, tmp_path: Path):
    (tmp_path / "i.sql").write_text("\\if false\n\\nosuch\n\\endif\n\\if true\n\\else extra\n\\endif more\n\\if false\n\\endif more\n\\echo after\n\\html\n\\html\n")
    code, out, err = same(fresh_db, fresh_db, "-f", "i.sql", cwd=tmp_path)
    assert b"invalid command \\nosuch" in err and err.count(b'\\endif: extra argument "more" ignored') == 2 and out.startswith(b"after\n")
    (tmp_path / "s.sql").write_text("\\set ON_ERROR_STOP 1\n\\if false\n\\nosuch\n\\endif\n\\echo after\n")
    assert same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)[:2] == (3, b"")


def test_at_the_prompt_a_statement_ended_in_a_branch_not_taken_runs_nothing_after_it(fresh_db, monkeypatch, tmp_path: Path):
    """Typed: a `;` in a false branch dropped the statement begun before the `\\if`, and the
    branch's rest (a DELETE) ran at the `;` after the `\\endif`; psql drops the branch's text."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table keep (x int); insert into keep values (1), (2)")
    out, _ = _typed(fresh_db, monkeypatch, tmp_path, "select count(*) as n from keep\n\\if false\n; delete from keep\n\\endif\n;\n\\q\n")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from keep").fetchone() == (2,)
    assert " n \n---\n 2\n(1 row)" in out.getvalue() and "DELETE" not in out.getvalue()


def _typed(conninfo: str, monkeypatch, tmp_path: Path, keys: str):  # noqa: ANN001
    """``keys`` typed at the interactive prompt of a shell on ``conninfo``: its output and errors."""
    import io

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from nl2sql_shell.db.connect import Target, connect
    from nl2sql_shell.output import Output
    from nl2sql_shell.repl.app import run_interactive
    from nl2sql_shell.repl.shell import Shell

    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(tmp_path / "history"))
    out, err = io.StringIO(), io.StringIO()
    target = Target(conninfo)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        run_interactive(shell, input=pipe, output=DummyOutput())
    return out, err
