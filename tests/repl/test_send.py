"""`\\g`, `\\gx`, `\\g FILE`, `\\gset [PREFIX]` after query text, compared byte for byte with psql."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, theirs

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.output import Output
from nl2sql_shell.repl.app import handle_line
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.statements import is_complete, next_piece

SCRIPT = """select 1 as a \\g
select 2 as b, 'x' as c \\gx
select 3 as n, null as gone, 'O''R' as name \\gset
\\echo :n :gone :name
select 4 as n \\gset p_
\\echo :p_n
select 1 where false \\gset
select generate_series(1,2) as k \\gset
select '%`echo pwned`' as "PROMPT1", 'on' as "AUTOCOMMIT", 'y' as other \\gset
\\echo :other :AUTOCOMMIT
select 5 as five \\g gout.txt
\\g
select 6
\\g
select 7
\\gx
select nosuch \\gset
select 8 as x; select 9 as y \\g
select 10 \\echo hi
;
select 11 as eleven
"""


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_send_commands_as_psql(fresh_db, tmp_path: Path, how: str):
    (tmp_path / "g.sql").write_text(SCRIPT)
    for side in ("ours", "psql"):
        (tmp_path / side).mkdir()
    args, stdin = (["-f", "../g.sql"], None) if how == "file" else ([], SCRIPT.encode())
    result = ours(fresh_db, *args, cwd=tmp_path / "ours", stdin=stdin)
    expected = theirs(fresh_db, *args, cwd=tmp_path / "psql", stdin=stdin)
    assert result == expected
    assert (tmp_path / "ours" / "gout.txt").read_bytes() == (tmp_path / "psql" / "gout.txt").read_bytes()
    assert b"3 :gone O'R\n4\n" in result[1]


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_a_command_string_sends_the_backslash_to_the_server_as_psql(fresh_db):
    assert ours(fresh_db, "-c", "select 1 \\g") == theirs(fresh_db, "-c", "select 1 \\g")


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_a_failed_connect_outside_the_prompt_unsets_the_connection_variables_as_psql(fresh_db):
    args = ("-c", "\\c no_such_database", "-c", "\\echo :DBNAME :USER :HOST :PORT :ENCODING :SERVER_VERSION_NUM")
    result = ours(fresh_db, *args)
    assert result == theirs(fresh_db, *args)
    assert b":DBNAME :USER :HOST :PORT :ENCODING :SERVER_VERSION_NUM\n" in result[1]


def test_at_the_prompt(fresh_db):
    out, err = io.StringIO(), io.StringIO()
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
    assert is_complete("select 1 as a \\gx")
    shell.handle("select 1 as a \\gx")
    shell.handle("select 2 as v \\gset")
    shell.handle("\\echo :v")
    shell.handle("select 3 \\echo pending")
    assert out.getvalue() == "-[ RECORD 1 ]\na | 1\n\n2\npending\n"
    assert shell.pending_input == "select 3 \n"  # psql keeps the unsent query text in the buffer (its line ended)
    assert err.getvalue() == ""


def test_typed_lines_keep_a_block_comment_and_skip_empty_lines_as_psql(fresh_db):
    """psql's buffer keeps `/* c */` typed alone (it was dropped at Enter) and drops an empty
    line, so the server's LINE n counts what psql sends."""
    out, err = io.StringIO(), io.StringIO()
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
    assert handle_line(shell, "/* c */")
    assert shell.pending_input == "/* c */\n"
    assert handle_line(shell, shell.take_prompt_text() + "select 1 as x\n\nselec 2; /* d */")
    assert "LINE 3: selec 2;" in err.getvalue()
    assert shell.pending_input == "/* d */\n"


def test_next_piece_stops_at_a_backslash_outside_quotes():
    assert next_piece("select 'a\\b' \\g\n", 0) == (None, 0, 13)
    assert next_piece("select 1; \\g", 0) == ("select 1;", 9, -1)


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_gset_refuses_a_column_that_is_no_variable_name_as_psql(fresh_db, tmp_path: Path):
    script = "select 1 as ok, 2 \\gset\n\\echo :ok\nselect null as \"a b\", 3 as c \\gset p_\n\\echo :p_c\nselect 4 as \"x-y\", 5 as z \\gset\n\\echo :z\n"
    (tmp_path / "g.sql").write_text(script)
    result, expected = ours(fresh_db, "-f", "g.sql", cwd=tmp_path), theirs(fresh_db, "-f", "g.sql", cwd=tmp_path)
    assert result == expected
    assert b'invalid variable name: "?column?"' in result[2]


GDESC_GEXEC = """\\gdesc
select 1 as a, 'x'::varchar(5) as b, now() \\gdesc
create temp table g(a int) \\gdesc
select format('select %s as x', g) from generate_series(1,2) g \\gexec
select 'select 1/0', 'select 7 as y', null \\gexec
\\gdesc
select nosuch \\gdesc
\\warn -n to stderr
\\getenv h HOME
\\echo :h
select 'never' as reached;
"""


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("flags", [[], ["-e"], ["-a"], ["-v", "ON_ERROR_STOP=1"]])
def test_gdesc_gexec_warn_and_getenv_as_psql(fresh_db, tmp_path: Path, flags: list[str]):
    """\\gdesc describes without running (no table is created), \\gexec runs each value as a
    query (a failing one is reported and, without ON_ERROR_STOP, the rest go on), \\warn
    writes to stderr, \\getenv reads the environment."""
    (tmp_path / "g.sql").write_text(GDESC_GEXEC)
    result = ours(fresh_db, *flags, "-f", "g.sql", cwd=tmp_path)
    assert result == theirs(fresh_db, *flags, "-f", "g.sql", cwd=tmp_path)
    code, out, err = result
    assert b"The command has no result, or the result has no columns.\n" in out.split(b" Column ")[0]  # an empty buffer at the start: psql describes the empty query
    assert b" b      | character varying(5)\n" in out and b"The command has no result, or the result has no columns.\n" in out
    assert (b" y \n---\n 7\n" in out) == (flags != ["-v", "ON_ERROR_STOP=1"]) and b"division by zero" in err
