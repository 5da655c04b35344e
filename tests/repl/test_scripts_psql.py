"""Scripts as psql 15 runs them: -c strings, -f files in command-line order, exit codes and
where a script stops; every case compared byte for byte with /usr/bin/psql."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

TABLE = "create table m (id int primary key)"


@pytest.mark.parametrize(
    "command",
    [
        "insert into m values (1); insert into m values ('bad'); select 3",  # one transaction: no row kept
        "insert into m values (2); select 1/0; select 5",
        "create database never_x; drop database never_x",  # refused inside the implicit transaction
        "begin; insert into m values (7); commit; select count(*) from m",
        "select 1 as a; select 2 as b",
        "select 1; \\echo hi",  # a backslash after SQL goes to the server, as psql sends it
        "select 1;;",
        " ",
    ],
)
def test_a_command_string_is_one_query(pg_server, command: str):
    with twin_databases(pg_server.conninfo(), TABLE) as (mine, psqls):
        same(mine, psqls, "-c", command)
        same(mine, psqls, "-x", "-c", command)
        same(mine, psqls, "-c", "select * from m order by id")


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "select 1", "-f", "a.sql", "-c", "select 2"],
        ["-f", "a.sql", "-c", "select 1", "-f", "a.sql"],
        ["-f", "nofile", "-c", "select 1"],
        ["-v", "ON_ERROR_STOP=1", "-f", "nofile", "-c", "select 1"],
        ["-f", "q.sql", "-c", "select 3"],  # \q ends only its file
        ["-c", "select 1/0", "-f", "a.sql"],
        ["-v", "ON_ERROR_STOP=1", "-c", "select 1/0", "-f", "a.sql"],
        ["-v", "ON_ERROR_STOP=1", "-c", "bad sql"],
        ["-v", "ON_ERROR_STOP=1", "-c", "\\foo", "-f", "a.sql"],
        ["-v", "ON_ERROR_STOP=1", "-f", "bad.sql", "-c", "select 4"],
        ["-c", "\\echo x", "-c", "select 1; select 2 as b"],
    ],
)
def test_commands_and_files_run_in_command_line_order(fresh_db, tmp_path: Path, args: list[str]):
    (tmp_path / "a.sql").write_text("select 10;\n")
    (tmp_path / "q.sql").write_text("select 20;\n\\q\nselect 21;\n")
    (tmp_path / "bad.sql").write_text("select 30;\nselect 1/0;\nselect 31;\n")
    same(fresh_db, fresh_db, *args, cwd=tmp_path)


def test_errors_in_a_file_carry_its_name_and_line(fresh_db, tmp_path: Path):
    (tmp_path / "e.sql").write_text("select 1;\n\nselect\n  nosuch;\n\\foo\ndo $$ begin raise notice 'hi'; end $$;\n")
    _, _, err = same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path)
    assert err.startswith(b"psql:e.sql:4: ERROR:  column \"nosuch\" does not exist\n")
    assert b"psql:e.sql:5: error: invalid command \\foo\n" in err
    assert b"psql:e.sql:6: NOTICE:  hi\n" in err


def test_no_row_survives_a_failed_command_string(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(TABLE)
    same(fresh_db, fresh_db, "-c", "insert into m values (1); insert into m values ('bad')")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from m").fetchone() == (0,)
