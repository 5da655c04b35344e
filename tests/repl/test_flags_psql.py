"""psql 15's session flags -a -e -b -S -s -1 (and the ECHO, SINGLELINE variables behind them),
compared byte for byte with /usr/bin/psql; -E, -l, -n, -w where psql cannot be compared."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, ours, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SCRIPT = "-- comment\nselect 1 as a;\n\\echo hi\nselect 1/0;\nselect\n  2 as b; select 3 as c;\n\n   \ncopy (select 9) to stdout;\n"


@pytest.mark.parametrize("flags", [["-a"], ["-e"], ["-b"], ["-v", "ECHO=all"], ["-e", "-x"], ["-a", "-q"]])
def test_echo_flags_on_a_file(fresh_db, tmp_path: Path, flags: list[str]):
    (tmp_path / "f.sql").write_text(SCRIPT)
    code, out, err = same(fresh_db, fresh_db, *flags, "-f", "f.sql", cwd=tmp_path)
    if "-a" in flags:
        assert out.startswith(b"-- comment\nselect 1 as a;\n a \n")


@pytest.mark.parametrize("flags", [["-a"], ["-e"], ["-b"]])
def test_echo_flags_on_commands_and_stdin(fresh_db, flags: list[str]):
    same(fresh_db, fresh_db, *flags, "-c", "select 1 as a; select 2 as b", "-c", "select 1/0", "-c", "\\echo x")
    same(fresh_db, fresh_db, *flags, stdin=SCRIPT.encode())


def test_single_line_mode(fresh_db, tmp_path: Path):
    (tmp_path / "s.sql").write_text("select 1 as a\nselect (2\n) as b\nselect 3 as c; select 4\n as d\nselect 'x\ny' as e\n\\echo done\n")
    _, out, _ = same(fresh_db, fresh_db, "-S", "-f", "s.sql", cwd=tmp_path)
    assert b" a \n" in out and b" b \n" in out and b" e \n" in out


def test_single_step_asks_before_each_query(fresh_db, tmp_path: Path):
    (tmp_path / "s.sql").write_text("select 1 as a;\nselect 2 as b;\nselect 3 as c;\n")
    _, out, _ = same(fresh_db, fresh_db, "-s", "-f", "s.sql", cwd=tmp_path, stdin=b"\nx\n\n")
    assert b" a \n" in out and b" b \n" not in out and b" c \n" in out


@pytest.mark.parametrize(
    "args",
    [
        ["-1", "-f", "t.sql"],
        ["-1", "-v", "ON_ERROR_STOP=1", "-f", "t.sql"],
        ["-1", "-f", "ok.sql", "-c", "insert into m values (5)"],
        ["-1", "-c", "insert into m values (6)", "-c", "select 1/0"],
        ["-1", "-v", "ON_ERROR_STOP=1", "-c", "insert into m values (6)", "-c", "select 1/0", "-c", "insert into m values (7)"],
        ["-1", "-e", "-f", "ok.sql"],
    ],
)
def test_single_transaction(pg_server, tmp_path: Path, args: list[str]):
    (tmp_path / "t.sql").write_text("insert into m values (1);\nselect 1/0;\ninsert into m values (2);\n")
    (tmp_path / "ok.sql").write_text("insert into m values (3);\ninsert into m values (4);\n")
    with twin_databases(pg_server.conninfo(), "create table m (id int)") as (mine, psqls):
        same(mine, psqls, *args, cwd=tmp_path)
        counts = []
        for db in (mine, psqls):
            with psycopg.connect(db) as conn:
                counts.append(conn.execute("select array_agg(id order by id) from m").fetchone())
        assert counts[0] == counts[1]


def test_echo_hidden_shows_the_catalog_query(fresh_db):
    code, out, _ = ours(fresh_db, "-E", "-c", "\\du")
    assert code == 0 and out.startswith(b"********* QUERY **********\nSELECT r.rolname")
    assert b"List of roles" in out


def test_list_databases(pg_server, fresh_db):
    code, out, _ = ours(fresh_db, "-l")
    name = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"].encode()
    assert code == 0 and b"List of databases" in out and b"ICU Locale | Locale Provider" in out and b"\n " + name in out


def test_readline_and_password_flags_are_accepted(fresh_db):
    assert ours(fresh_db, "-n", "-w", "-c", "select 1 as a")[:2] == (0, b" a \n---\n 1\n(1 row)\n\n")


def test_log_file_gets_queries_and_results(fresh_db, tmp_path: Path):
    from psqlcompare import theirs

    (tmp_path / "l.sql").write_text("select 1 as a;\n\\echo hi\ncreate temp table q(x int);\ninsert into q values (1);\nselect 1/0;\n\\dn\n")
    mine = ours(fresh_db, "-L", "mine.log", "-f", "l.sql", cwd=tmp_path)
    assert mine == theirs(fresh_db, "-L", "psql.log", "-f", "l.sql", cwd=tmp_path)
    log = (tmp_path / "mine.log").read_bytes()
    assert log == (tmp_path / "psql.log").read_bytes()
    assert log.startswith(b"********* QUERY **********\nselect 1 as a;\n**************************\n\n a \n") and b"INSERT 0 1\n" in log


def test_the_log_keeps_results_aligned_and_no_copy_data(fresh_db, tmp_path: Path):
    """psql logs every result aligned and not expanded, whatever \\pset format and \\x say,
    never COPY data, and \\copy's COPY as it rebuilt it; so with FETCH_COUNT too."""
    from psqlcompare import theirs

    (tmp_path / "l.sql").write_text(
        "\\pset format csv\nselect 2 as a, 'y' as b;\n\\pset format unaligned\n\\x\nselect 3 as a;\n\\x\n"
        "copy (select 5) to stdout;\n\\copy (select 6) to stdout\n\\pset format aligned\n\\pset border 2\n\\t\nselect 9 as h;\n"
    )
    for fetch_count in ("0", "1"):
        mine = ours(fresh_db, "-v", f"FETCH_COUNT={fetch_count}", "-L", "mine.log", "-f", "l.sql", cwd=tmp_path)
        assert mine == theirs(fresh_db, "-v", f"FETCH_COUNT={fetch_count}", "-L", "psql.log", "-f", "l.sql", cwd=tmp_path)
        log = (tmp_path / "mine.log").read_bytes()
        assert log == (tmp_path / "psql.log").read_bytes()
        assert b" a | b \n---+---\n 2 | y\n" in log and b"COPY  ( select 6 ) TO STDOUT \n" in log and b"\n5\n" not in log
        (tmp_path / "mine.log").unlink()
        (tmp_path / "psql.log").unlink()


@pytest.mark.parametrize("flags", [["-h", "/nonexistent"], ["-p", "1"], ["-U", "nosuchuser"]])
def test_a_connection_string_s_own_host_port_and_user_win_over_the_flags(fresh_db, flags: list[str]):
    """psql passes the string after -h/-p/-U, and libpq lets it win: `-h /nonexistent
    'host=... dbname=...'` connects as the string says; the flags won here (exit 2, and a
    password in the string was offered to the -h host)."""
    code, out, err = same(fresh_db, fresh_db, *flags, "-c", "select 1 as one")
    assert code == 0 and b" one \n-----\n   1\n" in out


def test_conninfo_names_the_address_of_a_tcp_connection_made_with_hostaddr(fresh_db):
    """A socket directory as host and hostaddr=127.0.0.1 is a TCP connection: psql says
    `on address "127.0.0.1"`; the shell said `via socket in "<folder>"`."""
    from psqlcompare import theirs

    mine, psql = (run(f"{fresh_db} hostaddr=127.0.0.1", "-c", "\\conninfo") for run in (ours, theirs))
    assert mine[1].splitlines()[0] == psql[1].splitlines()[0] and b' on address "127.0.0.1" at port ' in mine[1]  # (then the embedded server's password file, ours alone)
