"""AUTOCOMMIT off and ON_ERROR_ROLLBACK as psql 15 runs them, compared byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, same, twin_databases

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.output import Output
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.transactions import needs_no_begin
from nl2sql_shell.repl.variables import boolean

SCRIPT = """\\set AUTOCOMMIT off
create table ac (id int primary key);
insert into ac values (1);
rollback;
select count(*) from ac;
rollback;
create table ac (id int primary key);
commit;
insert into ac values (1);
insert into ac values (1);
select 1;
rollback;
\\set ON_ERROR_ROLLBACK on
insert into ac values (2);
insert into ac values (2);
select count(*) from ac;
savepoint s1;
insert into ac values (3);
rollback to s1;
commit;
select * from ac;
commit;
\\set AUTOCOMMIT on
begin;
insert into ac values (4);
insert into ac values (4);
insert into ac values (5);
commit;
\\set ON_ERROR_ROLLBACK interactive
begin;
insert into ac values (6);
insert into ac values (6);
commit;
\\set AUTOCOMMIT off
vacuum ac;
create database {db}_x;
drop database {db}_x;
begin;
select * from nosuch;
select 1;
rollback;
select * from ac order by 1;
"""


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_autocommit_off_and_on_error_rollback_as_psql(pg_server, tmp_path: Path):
    with twin_databases(pg_server.conninfo()) as (mine, psqls):
        for name, conninfo in (("ours", mine), ("psql", psqls)):
            db = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
            (tmp_path / f"{name}.sql").write_text(SCRIPT.format(db=db))
        from psqlcompare import ours, theirs

        result = ours(mine, "-f", "ours.sql", cwd=tmp_path)
        expected = theirs(psqls, "-f", "psql.sql", cwd=tmp_path)
        assert result == (expected[0], expected[1], expected[2].replace(b"psql.sql", b"ours.sql"))
        assert result[1].endswith(b" id \n----\n  2\n  4\n  5\n(3 rows)\n\n")


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_an_uncommitted_script_rolls_back_at_the_end(pg_server):
    with twin_databases(pg_server.conninfo(), "create table t (id int)") as (mine, psqls):
        same(mine, psqls, "-v", "AUTOCOMMIT=off", stdin=b"insert into t values (1);\n")
        same(mine, psqls, "-c", "select count(*) from t")


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
def test_the_user_s_own_savepoints_watch_and_gdesc_under_on_error_rollback_and_autocommit_off(pg_server):
    """ON_ERROR_ROLLBACK looked at the last result's tag alone: `savepoint a \\; insert ...`
    had psql's savepoint released, the user's `a` with it, and the rows the user rolled back
    to `a` were committed; `commit \\; begin \\; select 1` aborted the new transaction. \\watch
    ran in a savepoint (and AUTOCOMMIT off's BEGIN), so its failure committed; \\gdesc ran in
    neither."""
    script = (
        b"\\set ON_ERROR_ROLLBACK on\nbegin;\ninsert into tt values (160); savepoint a; insert into tt values (161);\nrollback to a;\ncommit;\n"
        b"begin;\ncommit \\; begin \\; select 1;\nselect 2;\ncommit;\n"
        b"begin;\ninsert into tt values (140);\nselect 1/0 \\watch 1\ncommit;\n"
        b"begin;\nselect nosuch \\gdesc\nselect 2;\ncommit;\nselect id from tt order by id;\n"
        b"\\set AUTOCOMMIT off\nselect 1 \\gdesc\nrollback;\nselect 1/0 \\watch 1\nrollback;\n"
    )
    with twin_databases(pg_server.conninfo(), "create table tt (id int primary key)") as (mine, psqls):
        code, out, err = same(mine, psqls, stdin=script)
    assert b" id  \n-----\n 160\n(1 row)" in out and b"COMMIT\nCOMMIT" not in out and b"WARNING:  there is no transaction in progress" in err


def test_the_prompt_shows_the_implicit_transaction(fresh_db):
    """At the prompt (interactive), ON_ERROR_ROLLBACK interactive undoes only the failed statement."""
    out, err = io.StringIO(), io.StringIO()
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
    for line in ("\\set AUTOCOMMIT off", "create table t (id int primary key);", "commit;", "\\set ON_ERROR_ROLLBACK interactive", "insert into t values (1);"):
        shell.handle(line)
    assert shell.transaction_marker() == "*"
    shell.handle("insert into t values (1);")
    assert shell.transaction_marker() == "*"
    shell.handle("commit;")
    assert shell.transaction_marker() == ""
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from t").fetchone() == (1,)
    assert 'duplicate key value violates unique constraint "t_pkey"' in err.getvalue()


@pytest.mark.parametrize(
    ("sql", "bare"),
    [("begin", True), ("  -- c\n COMMIT;", True), ("vacuum t", True), ("create database x", True), ("cluster", True),
     ("cluster t", False), ("create index concurrently i on t(a)", True), ("create index i on t(a)", False),
     ("reindex database x", True), ("insert into t values (1)", False), ("select 1", False)],
)
def test_which_statements_get_no_begin(sql: str, bare: bool):
    assert needs_no_begin(sql) is bare


@pytest.mark.parametrize(("text", "value"), [("off", False), ("of", False), ("ON", True), ("t", True), ("f", False), ("1", True), ("0", False), ("ye", True), ("n", False), ("junk", True)])
def test_psql_boolean_variables(text: str, value: bool):
    assert boolean(text, default=True) is value
