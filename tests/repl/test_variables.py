"""psql variables: \\set, \\unset, \\echo, -v, and :name / :'name' / :"name" in SQL and `?`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, theirs, twin_databases

from nl2sql_shell.repl.variables import meta_arguments, substitute

SCRIPT = r"""\set n 3
\set name 'O''Reilly'
\set tbl 'My Table'
\set back 'a\\b'
\set joined a b 'c d'
\echo :n :name :'name' :"tbl" :joined :nosuch '::n' -n
\echo -n no newline
\echo
select :n as n, :'name' as name, ':n' as quoted, 1::int as cast, :'back' as back -- :n
;
create table :"tbl" (id int);
insert into :"tbl" values (:n);
select * from :"tbl";
select :'nosuch';
\unset n
select :n;
\echo :v1 :v2 :v3
"""


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_variables_are_substituted_as_psql_does(pg_server, tmp_path: Path):
    (tmp_path / "v.sql").write_text(SCRIPT)
    args = ("-f", "v.sql", "-v", "v1=hello", "--set", "v2=x=y", "--variable", "v3=z", "-v", "v3")
    with twin_databases(pg_server.conninfo()) as (mine, psqls):
        result, expected = ours(mine, *args, cwd=tmp_path), theirs(psqls, *args, cwd=tmp_path)
    assert result == expected
    assert b"3 O'Reilly 'O''Reilly' \"My Table\" abc d :nosuch ::n -n\nno newline\n" in result[1]
    assert b"hello x=y :v3\n" in result[1]


def test_substitution_skips_quotes_comments_and_casts():
    values = {"n": "3", "name": "O'Reilly", "tbl": 'a"b', "back": "a\\b"}
    sql = "select :n, :'name', :\"tbl\", ':n', \"x:n\", 1::int, :foo, :'back' -- :n\n, $$ :n $$, /* :n */ e':n'"
    assert substitute(sql, values) == (
        "select 3, 'O''Reilly', \"a\"\"b\", ':n', \"x:n\", 1::int, :foo,  E'a\\\\b' -- :n\n, $$ :n $$, /* :n */ e':n'"
    )
    assert substitute("? orders above :limit that aren't :n's", {"limit": "100", "n": "x"}, sql=False) == "? orders above 100 that aren't x's"


def test_meta_command_words_are_read_as_psql_reads_them():
    assert meta_arguments("name 'O''Reilly' \"q r\" :n 'a\\tb' a'b'c", {"n": "3"}) == ["name", "O'Reilly", '"q r"', "3", "a\tb", "abc"]


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_set_refuses_names_psql_refuses(pg_server, tmp_path: Path):
    (tmp_path / "names.sql").write_text("\\set a-b 1\n\\echo :a-b\n\\set ab_1 2\n\\echo :ab_1\n\\set é 3\n\\echo :é\n\\set '' x\n\\set 1x y\n\\echo :1x\n")
    with twin_databases(pg_server.conninfo()) as (mine, psqls):
        result, expected = ours(mine, "-f", "names.sql", cwd=tmp_path), theirs(psqls, "-f", "names.sql", cwd=tmp_path)
    assert result == expected
    assert b'invalid variable name: "a-b"' in result[2]


SPECIAL = ["ON_ERROR_STOP", "AUTOCOMMIT", "QUIET", "SHOW_ALL_RESULTS", "FETCH_COUNT", "HISTSIZE", "IGNOREEOF", "ECHO", "ECHO_HIDDEN",
           "ON_ERROR_ROLLBACK", "COMP_KEYWORD_CASE", "HISTCONTROL", "VERBOSITY", "SHOW_CONTEXT", "PROMPT1"]  # fmt: skip


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("name", SPECIAL)
def test_psqls_own_variables_are_reset_and_checked_as_psql_does(fresh_db, tmp_path: Path, name: str):
    """\\unset and a bare -v leave psql's default ("off", "0", "default"), an empty \\set
    leaves "on" for a boolean, and a value psql refuses is refused with its words."""
    (tmp_path / "s.sql").write_text(f"\\unset {name}\n\\echo :{name}\n\\set {name}\n\\echo :{name}\n\\set {name} bogus\n\\echo :{name}\n\\set {name} 0x10\n\\echo :{name}\n")
    for args in (("-f", "s.sql"), ("-v", name, "-c", f"\\echo :{name}")):
        result, expected = ours(fresh_db, *args, cwd=tmp_path), theirs(fresh_db, *args, cwd=tmp_path)
        assert result == expected
    if name == "ON_ERROR_STOP":
        assert result[1].startswith(b"off\n")  # the first echo, after \unset


MESSAGES = r"""select nosuch from pg_class;
do $$ begin raise notice 'hi %', 1 using detail = 'd', hint = 'h'; end $$;
do $$ begin perform 1/0; end $$;
do $$ begin execute 'select nosuch'; end $$;
create temp table t(a int not null);
insert into t values (null);
select 1 +;
"""


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("verbosity", ["default", "verbose", "terse", "sqlstate"])
@pytest.mark.parametrize("context", ["never", "errors", "always"])
def test_server_messages_follow_verbosity_and_show_context(fresh_db, tmp_path: Path, verbosity: str, context: str):
    """Errors and notices as psql lays them out for each VERBOSITY and SHOW_CONTEXT (verbose
    adds the SQLSTATE, object names and the server's LOCATION; terse keeps one line)."""
    (tmp_path / "m.sql").write_text(MESSAGES.replace("temp table t", f"temp table t_{verbosity}_{context}"))
    args = ("-v", f"VERBOSITY={verbosity}", "-v", f"SHOW_CONTEXT={context}", "-f", "m.sql")
    code, out, err = ours(fresh_db, *args, cwd=tmp_path)
    expected = theirs(fresh_db, *args, cwd=tmp_path)
    temp_schema = re.compile(rb"pg_temp_\d+")  # each session has its own
    assert (code, out, temp_schema.sub(b"pg_temp", err)) == (expected[0], expected[1], temp_schema.sub(b"pg_temp", expected[2]))
    if verbosity == "verbose":
        assert b"ERROR:  22012: division by zero\n" in err and b"LOCATION:  " in err
    if verbosity == "terse":
        assert b'column "nosuch" does not exist at character 8\n' in err and b"LINE 1" not in err
