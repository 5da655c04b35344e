"""Scripts as psql 15 runs them: -c strings, -f files in command-line order, exit codes and
where a script stops; every case compared byte for byte with /usr/bin/psql."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, ours, same, theirs, twin_databases

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
        # with a COPY among them still one query: it was split, and the first INSERT stayed
        "insert into m values (1); copy m to stdout; insert into m values (1)",
        "select 1/0; copy m to stdout",
        "copy m to stdout; vacuum m",
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
        ["-a", "-v", "ON_ERROR_STOP=1", "-f", "bad.sql"],  # -a echoes nothing after the stop
        ["-a", "-f", "q.sql"],  # nor after \q
        ["-c", "\\if false", "-c", "\\echo a", "-c", "\\endif", "-c", "\\echo b"],  # each -c has its own \\if blocks
        ["-c", "\\if false \\echo a \\endif", "-c", "\\echo b"],
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


def test_a_failed_backslash_connect_ends_the_script(fresh_db, tmp_path: Path):
    (tmp_path / "c.sql").write_text("select 1;\n\\c no_such_database_here\nselect 2;\n")
    code, out, err = same(fresh_db, fresh_db, "-f", "c.sql", cwd=tmp_path)
    assert code == 2 and b"        2" not in out
    assert err.startswith(b'psql:c.sql:2: error: \\connect: connection to server on socket')


@pytest.mark.parametrize(
    "args",
    [
        ["-c", "\\c no_such_database_here"],  # the last -c failed: exit 1
        ["-c", "\\c no_such_database_here", "-c", "select 1", "-c", "\\dt", "-c", "\\copy (select 1) to stdout", "-c", "\\echo still here"],
        ["-c", "\\c no_such_database_here", "-c", "\\conninfo", "-c", "\\c", "-c", "\\c postgres"],  # nothing to re-use
        ["-c", "\\c no_such_database_here", "-c", "\\i c.sql", "-c", "\\echo after the file"],  # \\i ends early, the -c go on
        ["-c", "\\c no_such_database_here", "-f", "c.sql"],  # a file ends after its first command: exit 2
        ["-c", "\\c no_such_database_here", "-c", "? how many rows", "-c", "\\x"],
        ["-v", "ON_ERROR_STOP=1", "-c", "\\c no_such_database_here", "-c", "select 1"],
        ["-1", "-c", "\\c no_such_database_here", "-c", "select 1"],
    ],
)
def test_command_strings_after_a_failed_backslash_connect_run_without_a_connection(fresh_db, tmp_path: Path, args: list[str]):
    (tmp_path / "c.sql").write_text("\\echo first line\nselect 2;\n")
    code, out, err = same(fresh_db, fresh_db, *args, cwd=tmp_path)
    assert b"        2" not in out and b"You are now connected" not in out
    assert err.startswith(b'\\connect: connection to server on socket')


def test_a_whole_connection_string_connects_again_after_a_failed_backslash_connect(fresh_db):
    fresh_db = fresh_db.replace(" password=''", "")  # (the empty password's quotes would end the quoted argument)
    code, out, _ = same(fresh_db, fresh_db, "-c", "\\c no_such_database_here", "-c", f"\\c '{fresh_db}'", "-c", "select 7 as seven")
    assert code == 0 and b'as user "postgres" via socket in' in out and b"     7\n(1 row)" in out


@pytest.mark.parametrize(
    "command",
    [
        "\\c",  # the same parameters again: a new connection
        "\\c -reuse-previous=on postgres",
        "\\c -reuse-previous=maybe postgres",
        "\\c -reuse-previous=off postgres",  # libpq's defaults, not the previous host and port
        "\\c -reuse-previous=on dbname=postgres",  # a connection string that keeps the rest
        "\\c 'dbname=postgres' postgres",  # a connection string and a user: refused
    ],
)
def test_backslash_connect_reuses_the_previous_parameters_as_psql_does(fresh_db, command: str):
    code, out, err = same(fresh_db, fresh_db, "-c", command, "-c", "select current_database()")
    assert (b"You are now connected" in out) == (command in ("\\c", "\\c -reuse-previous=on postgres", "\\c -reuse-previous=on dbname=postgres"))


@pytest.mark.parametrize(
    "command",
    [
        "\\c postgres;",  # psql drops a trailing ;
        "\\c postgres ;",  # a word left empty by it is "the same"
        "\\c - - - -;",
        "\\c :target",  # a variable's value is one word, blanks and all
        "\\c `echo postgres`",  # backquotes run
        "\\c '' postgres",  # quoted empty: libpq's default database (the user's name)
        "\\c \"postgres\"",
        "\\c 'postgres' \"postgres\"",
    ],
)
def test_backslash_connect_reads_its_words_as_psql_does(fresh_db, command: str):
    """shlex split them: `\\c postgres;` looked for a database "postgres;", and a variable
    holding `postgres nosuchuser` became a user name."""
    code, out, err = same(fresh_db, fresh_db, "-v", "target=postgres nosuchuser", "-c", command, "-c", "select current_database(), current_user")
    if command == "\\c :target":
        assert b'database "postgres nosuchuser" does not exist' in err
    else:
        assert b"You are now connected" in out and (b" postgres         | postgres" in out) == (command != "\\c - - - -;"), (out, err)


def test_a_backslash_command_s_words_lose_their_semicolons_where_psql_drops_them(fresh_db, tmp_path: Path):
    """`\\d t1;` found no relation "t1;" and `\\x on;` was an error in scripts, where psql drops
    the `;` (most commands; \\set, \\pset, \\echo, \\timing, \\g keep it)."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table t1 (id int)")
    (tmp_path / "inc.sql").write_text("\\echo included\n")
    (tmp_path / "s.sql").write_text(
        "\\d t1;\n\\dt t1;;\n\\x on;\nselect 1 as one;\n\\x off\n\\t on;\n\\t off\n\\C title;\nselect 2 as two;\n\\C\n"
        "\\encoding LATIN1;\n\\encoding\n\\encoding UTF8\n\\i inc.sql;\n\\o out.txt;\nselect 3 as three;\n\\o\n\\set a b;\n\\echo [:a] x;\n\\pset null n;\nselect null as n;\n"
        "\\timing on;\nselect 1 as a, 2 as b, 3 as c \\crosstabview a b c;\nselect 1\n\\w w.txt;\n\\c 'nosuchdb;'\n"
    )
    code, out, err = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert code == 2 and b'Table "public.t1"' in out  # (the last line's \\c fails: exit 2, and the buffer is not sent) and b"-[ RECORD 1 ]\none | 1" in out and b"title\n two" in out and b"LATIN1\n" in out and b"included\n" in out
    assert (tmp_path / "out.txt").is_file() and b"[b;] x;" in out and b'Null display is "n;".' in out and b'"on;" for "\\timing"' in err
    assert (tmp_path / "w.txt").is_file() and b'database "nosuchdb;" does not exist' in err  # a ; inside quotes is the name's


def test_a_lost_connection_ends_the_script_with_exit_code_2(fresh_db, tmp_path: Path):
    (tmp_path / "lost.sql").write_text("select 1;\nselect pg_terminate_backend(pg_backend_pid());\nselect 2;\n")
    code, out, err = same(fresh_db, fresh_db, "-f", "lost.sql", cwd=tmp_path)
    assert code == 2 and b"        2" not in out
    assert err.endswith(b"psql:lost.sql:2: error: connection to server was lost\n")


def _interrupted(command: list[str], conninfo: str, cwd: Path) -> tuple[int, bytes, bytes]:
    """Run ``command`` on a script whose second statement sleeps; SIGINT once the server runs it."""
    import signal
    import subprocess
    import time

    from psqlcompare import env

    process = subprocess.Popen(command, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if watcher.execute("select 1 from pg_stat_activity where query like 'select pg_sleep(60)%'").fetchone():
                break
            time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err.replace(b"nl2sql-shell:", b"psql:")


@pytest.mark.parametrize("verbosity", ["default", "verbose"])
def test_ctrl_c_in_a_script_cancels_and_stops_it_as_psql(fresh_db, tmp_path: Path, verbosity: str):
    """The cancelled statement's error is the server's own: verbose, it has SQLSTATE and LOCATION."""
    import sys

    (tmp_path / "sleep.sql").write_text(f"\\set VERBOSITY {verbosity}\nselect 1;\nselect pg_sleep(60);\nselect 2;\n")
    ours = _interrupted([sys.executable, "-m", "nl2sql_shell", fresh_db, "-f", "sleep.sql"], fresh_db, tmp_path)
    theirs = _interrupted([str(PSQL), "-X", fresh_db, "-f", "sleep.sql"], fresh_db, tmp_path)
    assert ours == theirs
    assert theirs[0] == 3 and b"Cancel request sent\n" in theirs[2]


def test_a_refused_connection_names_host_port_and_reason():
    from psqlcompare import ours, theirs

    target = "host=127.0.0.1 port=1 user=nobody dbname=x connect_timeout=2"
    mine, psql = ours(target, "-c", "select 1"), theirs(target, "-c", "select 1")
    assert mine == psql and psql[0] == 2  # our program name made psql's by ours()
    assert psql[2].startswith(b'psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server')


EMPTY_LINES = (
    "select 1 as a,\n\nnosuch;\n"  # psql skips the empty line: the server's LINE 2
    "select $$a\n\nb$$ as q;\n"  # but keeps one inside a quote (and echoes it with -a)
    "select 1 as b, /* c\n\n */\n  \nnosuch;\n"  # and in a comment; a line of blanks is a line
    "select 1 as c,\n\\echo between\n  -- comment\n\n  nosuch;\n"  # held text, a meta-command, then a line of its own
    "select 2 as d,\n\\echo x\n3 as e\n;\n"
    "select 4 as f,\n\\echo y\n  5 as g \\g\n"
    "select 6 as h,\n\\echo end\n\n nosuch"
)


@pytest.mark.parametrize("flags", [[], ["-a"], ["-e"]])
def test_empty_lines_and_lines_after_a_meta_command_as_psql_reads_them(fresh_db, tmp_path: Path, flags: list[str]):
    (tmp_path / "e.sql").write_text(EMPTY_LINES)
    _, _, err = same(fresh_db, fresh_db, *flags, "-f", "e.sql", cwd=tmp_path)
    assert b"LINE 2: nosuch;\n" in err and b"LINE 3:   nosuch;\n" in err and b"LINE 2:  nosuch\n" in err
    same(fresh_db, fresh_db, *flags, cwd=tmp_path, stdin=EMPTY_LINES.encode())


SEPARATORS = (
    "\\echo a \\echo b\n"  # an unquoted backslash in the arguments begins the next command
    "\\echo c \\\\ \\echo d\n"
    "\\echo e\\\\f\n"  # after \\ the rest of the line is query text: 'f' waits in the buffer
    "\\echo \"g \\\\ h\" 'i \\\\ j' k\n"  # not inside quotes
    "\\x \\\\ select 1 as x;\n"  # 'f select 1 as x;': one line, no line break between
    "\\echo l \\\\ select 2 as y\n"
    "\\echo m \\\\\n"
    ";\n"
    "\\! echo n \\\\ o\n"  # \\! takes the whole line
    "select 3 as z\n"
    "\\echo p\\q\n"  # \\q sends the buffer first
    "\\echo never\n"
)


@pytest.mark.parametrize("flags", [[], ["-a"]])
def test_backslash_ends_a_meta_command_as_psqls_lexer(fresh_db, tmp_path: Path, flags: list[str]):
    (tmp_path / "b.sql").write_text(SEPARATORS)
    _, out, err = same(fresh_db, fresh_db, *flags, "-f", "b.sql", cwd=tmp_path)
    assert b"LINE 1: f select 1 as x;\n" in err and b"y | 2\n" in out and b"n \\ o\n" in out and b"never" not in out
    same(fresh_db, fresh_db, *flags, cwd=tmp_path, stdin=SEPARATORS.encode())


@pytest.mark.parametrize("command", ["\\echo a \\echo b", "\\echo a \\\\ select 1 as x", "\\echo \"x \\\\ y\" z", "\\! echo a \\\\ b"])
def test_a_backslash_command_string_runs_its_first_command_only(fresh_db, command: str):
    same(fresh_db, fresh_db, "-c", command)


def test_a_statement_with_variables_is_sent_as_written(fresh_db, tmp_path: Path):
    """Blanks before \\g stay in the query (the echo and the error's LINE show them)."""
    (tmp_path / "v.sql").write_text("\\set v 5\nselect :'v' as c \\g\nselect :v as a, nosuch \\g\nselect :v  ,\n nosuch2 ;\n")
    _, out, err = same(fresh_db, fresh_db, "-e", "-f", "v.sql", cwd=tmp_path)
    assert b"select '5' as c \n" in out and b"LINE 1: select 5 as a, nosuch \n" in err


@pytest.mark.parametrize("command", ["select :v as a; select 2 as b", "select :v as a", "  select nosuch  "])
def test_a_command_string_is_sent_as_written(fresh_db, command: str):
    """psql's lexer never reads a -c string: `:v` and the blanks around it go to the server
    as written (the error's LINE shows them), echoed as written with -e."""
    _, out, err = same(fresh_db, fresh_db, "-e", "-v", "v=1", "-c", command)
    assert out.startswith(command.encode() + b"\n")
    assert err.startswith((b'ERROR:  syntax error at or near ":"', b'ERROR:  column "nosuch" does not exist\nLINE 1:   select nosuch  '))


def test_fetch_count_errors_quote_the_query_as_psql_declares_it(fresh_db, tmp_path: Path):
    """With FETCH_COUNT psql sends SELECT and VALUES as `DECLARE ... CURSOR FOR\n<query>`:
    the error's LINE is one more than the file's, and inside a transaction it aborts it."""
    (tmp_path / "f.sql").write_text("begin;\nselect x\n  from nowhere;\nselect 1;\nrollback;\nvalues (1), (2), (3);\n")
    _, out, err = same(fresh_db, fresh_db, "-v", "FETCH_COUNT=2", "-f", "f.sql", cwd=tmp_path)
    assert b"LINE 3:   from nowhere;" in err and b"current transaction is aborted" in err and b"(3 rows)" in out
    same(fresh_db, fresh_db, "-v", "FETCH_COUNT=2", "-c", "  select nosuch")


@pytest.mark.parametrize(
    "commands",
    [
        ["-c", "select 1; select 2"],  # psql's cursor over the whole string: fails without a word
        ["-c", "select 1 as a; select 2/0"],
        ["-c", "select generate_series(1, 5) as g; set search_path = public"],  # the last is a command: fetched
        ["-c", "begin", "-c", "select 1; select 2", "-c", "select 1; select 2", "-c", "select 3", "-c", "commit"],
    ],
)
def test_a_command_string_of_several_statements_under_fetch_count(fresh_db, commands: list[str]):
    same(fresh_db, fresh_db, "-v", "FETCH_COUNT=2", *commands)


@pytest.mark.parametrize(
    "script",
    [
        "\\o /dev/full\nselect 2;\n\\echo A :ERROR\ninsert into nosuch values (1);\n\\qecho hi\ncopy (select 1) to stdout;\n\\echo D :ERROR\n\\o\n"
        "select 1 \\g /dev/full\n\\echo E :ERROR :ROW_COUNT\n\\copy (select 1) to /dev/full\n\\echo F :ERROR\n",
        "select g from generate_series(1, 100000) g \\g |true\n\\echo after :ERROR\n\\o |true\ncopy (select g from generate_series(1, 200000) g) to stdout;\n"
        "\\echo X :ERROR\n\\o\n\\copy (select g from generate_series(1, 200000) g) to program 'exit 3'\n\\echo Y :ERROR\n",
        "\\set ON_ERROR_STOP 1\nselect 1 \\g /dev/full\n\\echo after\n",
    ],
    ids=["full-disk", "ended-command", "on-error-stop"],
)
def test_output_that_cannot_be_written_is_one_line_and_the_script_goes_on(fresh_db, tmp_path: Path, script: str):
    """A full disk or a command that has ended: the shell ended with a traceback, or silently
    with exit code 1, and the rest of the script was lost."""
    (tmp_path / "s.sql").write_text(script)
    for way in (("-f", "s.sql"), ()):
        code, _, err = same(fresh_db, fresh_db, *way, cwd=tmp_path, stdin=script.encode())
        assert b"could not" in err and b"Traceback" not in err


def test_a_command_string_s_result_that_cannot_be_written(fresh_db):
    code, _, err = same(fresh_db, fresh_db, "-c", "select 1", "-o", "/dev/full")
    assert code == 1 and err == b"could not print result table: No space left on device\n"


def test_a_closed_standard_output_is_told_as_psql_tells_it(fresh_db, tmp_path: Path):
    """`nl2sql-shell -c ... >&-`: every result was dropped in silence (Python leaves no
    sys.stdout), where psql says it could not print (exit 1 when that was the last command)."""
    import subprocess

    from psqlcompare import PSQL, SHELL, env

    told = []
    for command in ([*SHELL, fresh_db], [PSQL, "-X", fresh_db]):
        done = subprocess.run(
            [*command, "-c", "copy (select 1) to stdout", "-c", "select 2", "-c", "\\o x.txt", "-c", "\\! echo child; echo child >&2"],
            stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1), env=env(), cwd=tmp_path, timeout=120, check=False,
        )
        told.append((done.returncode, done.stderr, (tmp_path / "x.txt").read_bytes()))
    assert told[0] == told[1]
    assert told[0][:2] == (0, b"could not write COPY data: Bad file descriptor\ncould not print result table: Bad file descriptor\nsh: 1: echo: echo: I/O error\nchild\n")


def test_shell_commands_and_getenv_as_psql(fresh_db, tmp_path: Path):
    """`\\! exit 127` stopped a script under ON_ERROR_STOP (psql's test for 127 never matches a
    command's exit status); /bin/sh's own messages read `/bin/sh:` where psql's read `sh:`;
    `\\getenv` of a missing variable unset the shell variable (psql leaves it)."""
    script = "\\setenv FOO bar\n\\getenv f FOO\n\\setenv FOO\n\\getenv f FOO\n\\echo :f\n\\set ON_ERROR_STOP 1\n\\! exit 127\n\\! nosuchcmd_x\n\\echo after\n"
    code, out, err = same(fresh_db, fresh_db, cwd=tmp_path, stdin=script.encode())
    assert code == 0 and out == b"bar\nafter\n" and err == b"sh: 1: nosuchcmd_x: not found\n"


@pytest.mark.parametrize(
    "script",
    [
        # \gset, \gexec and \crosstabview on a command or a result of no columns: its tag, as any query
        "create temp table e(a int);\nselect \\gset\n\\echo :ROW_COUNT\nselect from generate_series(1,2) \\gset\ninsert into e values (1) \\gset\n"
        "\\echo :ROW_COUNT :ERROR\ninsert into e values (1) \\gexec\ninsert into e values (1) \\crosstabview\ncreate temp table zz() \\gset\nset x.y=1 \\gset\n",
        # rows of no columns are counted in every format, and print no record of their own
        "".join(
            f"\\pset format {f}\nselect;\nselect from generate_series(1,3);\n\\x on\nselect from generate_series(1,3);\n\\x off\n\\set FETCH_COUNT 2\n"
            "select from generate_series(1,3);\n\\x on\nselect from generate_series(1,3);\n\\x off\n\\unset FETCH_COUNT\n"
            for f in ("aligned", "asciidoc", "latex", "troff-ms")
        ),
        # numbers read as C's atoi into psql's own types; HIDE_* are booleans
        "\\pset border -1\nselect 1 as a, 2 as b;\n\\pset format html\nselect 1 as a;\n\\pset columns 99999999999\n\\pset border 70000\n"
        "\\set HIDE_TABLEAM x\n\\echo :HIDE_TABLEAM\n",
        "select 'r' as r, g::text as c, 1 as v from generate_series(1, 1601) g \\crosstabview\n\\echo after\n",
        # a COPY inside a \\;-joined query left the connection in COPY: everything after failed
        "copy (select 2) to stdout \\; select 1 as a;\nselect 3 as c;\nselect 1 as a \\; copy (select 2) to stdout;\nselect 4 as d;\ncreate temp table cc(a int);\n"
        "select 1 as a \\; copy cc from stdin;\n5\n6\n\\.\nselect count(*) from cc;\n\\echo :ROW_COUNT\ncopy (select 1 union all select 2) to stdout;\n\\echo :ROW_COUNT\n"
        "\\copy cc to /dev/null\n\\echo :ROW_COUNT\n",
        "copy (select 1) to stdout \\gset\n\\echo :ROW_COUNT :ERROR\ncopy (select 1) to stdout \\gexec\ncopy (select 1 as a, 2 as b, 3 as c) to stdout \\crosstabview\nselect 5 as e;\n",
        "select 1 as a \\g /dev/null extra\nselect 1 as a \\gset p_ extra3\nselect 1 \\gexec extra4\nselect 1 as a \\gdesc zz\n\\gexec ww\n"
        "select 1 as a, 2 as b, 3 as c \\crosstabview a b c a extra5\nselect 1 \\g (format=csv) /dev/null extra6\n",
    ],
    ids=["commands-sent-by-g-family", "no-columns", "numbers-and-booleans", "crosstab-too-wide", "extra-arguments", "copy-in-one-query", "copy-by-g-family"],
)
def test_corners_of_output_as_psql(fresh_db, tmp_path: Path, script: str):
    same(fresh_db, fresh_db, cwd=tmp_path, stdin=script.encode())


def test_the_log_file_holds_what_psql_s_holds(fresh_db, tmp_path: Path):
    """-L: results sent elsewhere by \\g were not logged; a listing was logged in \\pset's
    format (CSV), and a wrapped result unwrapped, where psql logs print_aligned_text's."""
    script = (
        "select 1 as a \\g /dev/null\nselect 2 as b \\g |cat > /dev/null\n\\pset format csv\n\\dn\n\\pset format wrapped\n\\pset columns 20\n"
        "select repeat('x', 50) as w;\n\\x on\nselect 1 as a;\n"
        # psql's own printf output is not logged, its tables and command tags are
        "create temp table x(a int);\ninsert into x values (1);\n\\conninfo\n\\set\n\\copyright\n\\sf pg_catalog.abs(int)\n\\h select\n\\?\n\\dn\n\\x\n"
        "\\set QUIET 1\ninsert into x values (2);\nbegin;\ncommit;\n"  # quiet: the tags are logged all the same
    )
    logs = []
    for side in ("ours", "theirs"):
        log = tmp_path / f"{side}.log"
        same_args = ("-L", str(log))
        (ours if side == "ours" else theirs)(fresh_db, *same_args, cwd=tmp_path, stdin=script.encode())
        logs.append(log.read_text())
    assert logs[0] == logs[1] and "(1 row)" in logs[0] and "List of schemas" in logs[0]


@pytest.mark.parametrize(
    "script",
    [
        "\\o /dev/full\nselect 1 \\watch 0.2\n\\o\n\\echo after :ERROR\n",  # watched forever, the error every 0.2 s
        "\\set ON_ERROR_STOP 1\n\\o /dev/full\nselect 1 as a \\gdesc\n\\o\n\\echo reached\n",
        "\\c 'dbname=x foo'\n\\echo after\n",  # a traceback
        # with FETCH_COUNT psql stops fetching at the first batch it cannot write, without a word
        "\\set FETCH_COUNT 10\ncreate temp table t as select g as a from generate_series(1,1000) g;\n\\o /dev/full\nselect * from t;\n\\o\n"
        "\\echo :ROW_COUNT :ERROR\n\\o /dev/full\nselect case when a<300 then a else 1/(a-a) end from t;\n\\o\n\\echo :ROW_COUNT :ERROR\n",
    ],
    ids=["watch-unwritable", "gdesc-unwritable", "bad-connection-string", "fetch-count-unwritable"],
)
def test_failures_around_output_and_connecting_as_psql(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "s.sql").write_text(script)
    same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)


def test_standard_error_or_output_that_cannot_be_written_ends_nothing(fresh_db, tmp_path: Path):
    """stderr on a full disk ended the session at the first error; stdout closed at start
    (`>&-`) was a traceback."""
    import subprocess
    import sys

    from psqlcompare import env

    (tmp_path / "s.sql").write_text("select 1/0;\nselect 1 as a;\n")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nl2sql_shell", fresh_db, "-X", "-f", "s.sql"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=full, env=env(), timeout=60, check=False)
        psql = subprocess.run([PSQL, "-X", fresh_db, "-f", "s.sql"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=full, env=env(), timeout=60, check=False)
    assert (done.returncode, done.stdout) == (psql.returncode, psql.stdout) and b"(1 row)" in done.stdout
    closed = subprocess.run([sys.executable, "-m", "nl2sql_shell", fresh_db, "-X", "-f", "s.sql"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), timeout=60, check=False, preexec_fn=lambda: os.close(1))
    assert b"Traceback" not in closed.stderr


@pytest.mark.parametrize("query", ["select generate_series(1, 300000)", "copy (select generate_series(1, 3000000)) to stdout"], ids=["rows", "copy"])
def test_a_reader_of_standard_output_that_leaves_ends_the_shell_as_psql(fresh_db, query: str):
    """`nl2sql-shell -c ... | head -1`: psql dies of SIGPIPE (status 141 in a pipeline under
    pipefail); the shell ended with click's status 1."""
    import subprocess
    import sys

    from psqlcompare import env

    codes = []
    for command in ([sys.executable, "-m", "nl2sql_shell"], [PSQL]):
        process = subprocess.Popen([*command, "-X", fresh_db, "-c", query], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
        assert process.stdout is not None and process.stdout.readline()
        process.stdout.close()
        codes.append((process.wait(timeout=60), b"Traceback" in process.stderr.read()))
        process.stderr.close()
    assert codes[0] == codes[1] == (-13, False)


def test_a_ctrl_c_while_a_shell_command_runs_is_the_command_s_as_psql(fresh_db, tmp_path: Path):
    """psql waits out a SIGINT while `\\!` (or `\\e`'s editor) runs, as system() does; the
    shell killed the command (an `ed` lost its edit) and went on at once."""
    import signal
    import subprocess
    import sys
    import time

    from psqlcompare import env

    outputs = []
    for i, command in enumerate(([sys.executable, "-m", "nl2sql_shell"], [PSQL])):
        started = tmp_path / f"started-{i}"
        process = subprocess.Popen([*command, "-X", fresh_db, "-c", f"\\! touch {started}; sleep 1; echo survived", "-c", "\\echo after"], stdout=subprocess.PIPE, env=env())
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        outputs.append(process.communicate(timeout=60)[0])
    assert outputs[0] == outputs[1] == b"survived\nafter\n"


def test_a_sql_ascii_database_takes_the_script_s_bytes_as_psql(pg_server, tmp_path: Path):
    """SQL_ASCII (psycopg's "ascii"): `select 'café'` was a traceback; a COPY whose table name
    held a byte that is no UTF-8 failed, and its data lines then ran as commands (`\\!`)."""
    marker = tmp_path / "ran"
    script = b'create table "caf\xe9" (a text);\ncopy "caf\xe9" (a) from stdin;\n\\! touch ' + str(marker).encode() + b'\n\\.\n'
    script += b'select count(*) from "caf\xe9";\nselect a like \'%touch%\' as kept from "caf\xe9";\nselect \'caf\xc3\xa9\' = convert_from(\'\\x636166c3a9\', \'SQL_ASCII\') as same;\n'
    (tmp_path / "a.sql").write_bytes(script)
    with twin_databases(pg_server.conninfo(), options="ENCODING SQL_ASCII TEMPLATE template0") as (mine, psqls):
        same(mine, psqls, "-f", "a.sql", cwd=tmp_path)
    assert not marker.exists()


SQL_ASCII_NAMES = (
    b'select 1 as "caf\xc3\xa9", 2 as "\xe2\x82\xac";\n\\set FETCH_COUNT 1\nselect 3 as "caf\xc3\xa9";\n\\unset FETCH_COUNT\n'
    b'select 4 as "caf\xc3\xa9" \\gset\n\\echo :caf\xc3\xa9\nselect 1 as "r\xc3\xa9", 2 as c, 3 as v \\crosstabview\nselect 2 as ok;\n'
    b'select 1 \\; select 5 as "caf\xc3\xa9";\n'  # a query of several statements reads its results itself
)


def test_a_sql_ascii_result_column_named_with_other_bytes_prints_as_psql(pg_server, tmp_path: Path):
    """psycopg decodes a column's name as ASCII under SQL_ASCII: `select 1 as "café"` was a
    traceback that ended the script. The names print as psql prints them, but for the width
    of the rule under them (psql counts bytes there)."""
    (tmp_path / "a.sql").write_bytes(SQL_ASCII_NAMES)
    with twin_databases(pg_server.conninfo(), options="ENCODING SQL_ASCII TEMPLATE template0") as (mine, psqls):
        code, out, err = ours(mine, "-f", "a.sql", cwd=tmp_path)
        psql = theirs(psqls, "-f", "a.sql", cwd=tmp_path)
    assert (code, err) == (psql[0], psql[2]) == (0, b"")
    assert out.replace(b"-", b"").split() == psql[1].replace(b"-", b"").split()
    assert b" caf\xc3\xa9 |" in out and b"\n4\n" in out and b" ok \n" in out


def test_a_c_argument_in_the_client_encoding_s_bytes_as_psql(pg_server):
    """`-c "select 'caf\\xe9'"` on a LATIN1 database ran as bytes to be refused, and printed no
    result (psql sends the bytes, which LATIN1 reads as café)."""
    with twin_databases(pg_server.conninfo(), options="ENCODING LATIN1 LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0") as (mine, psqls):
        _, out, _ = same(mine, psqls, "-c", "select 'caf\udce9' as v")
        same(mine, psqls, stdin=b"select 'caf\xe9' as v \\gset\n\\echo :v\nselect 1 as a, 'caf\xe9' as b, 2 as c \\crosstabview\n")  # (a traceback)
    assert b"caf\xe9" in out


def test_w_writes_a_buffer_s_bytes_as_read_as_psql(fresh_db, tmp_path: Path):
    """`\\w FILE` and `\\w |cmd` of a buffer holding a byte that is no UTF-8 were a traceback."""
    (tmp_path / "s.sql").write_bytes(b"select 'caf\xe9'\n\\w out.sql\n\\w |cat > piped.sql\n\\r\n")
    same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert (tmp_path / "out.sql").read_bytes() == (tmp_path / "piped.sql").read_bytes() == b"select 'caf\xe9'\n"


def test_editing_a_directory_or_a_file_that_is_no_utf8_is_no_traceback(fresh_db, tmp_path: Path):
    """`\\e adir` and `\\e latin1.sql` read the file as UTF-8 text: a traceback that ended the
    session, interactive too."""
    import subprocess
    import sys

    from psqlcompare import env

    (tmp_path / "adir").mkdir()
    (tmp_path / "latin1.sql").write_bytes(b"select 'caf\xe9' as x;\n")
    (tmp_path / "s.sql").write_text("\\e adir\n\\e latin1.sql\nselect 1 as one;\n")
    done = subprocess.run([sys.executable, "-m", "nl2sql_shell", "-X", fresh_db, "-f", "s.sql"], cwd=tmp_path, capture_output=True, env={**env(), "EDITOR": "true"}, timeout=60, check=False)
    assert b"Traceback" not in done.stderr and b" one \n" in done.stdout, done.stderr


def test_standard_input_shared_by_commands_and_a_script_as_psql(pg_server):
    """COPY data read by a `-c` took more of standard input than its lines (the text layer read
    ahead), so the `-f -` script after it lost its statements; ROW_COUNT after a `-c` string
    ending in a DELETE was 0."""
    with twin_databases(pg_server.conninfo(), "create table t (a int, b text); insert into t values (5, 'e'), (6, 'f')") as (mine, psqls):
        same(mine, psqls, "-c", "copy t from stdin", "-f", "-", stdin=b"1\tx\n\\.\nselect 42 as after;\n")
        same(mine, psqls, "-q", "-c", "select 1 as x; delete from t", "-c", "\\echo ROW_COUNT=:ROW_COUNT")


def test_standard_input_closed_at_the_start_is_no_traceback(fresh_db):
    import subprocess
    import sys

    from psqlcompare import env

    done = subprocess.run([sys.executable, "-m", "nl2sql_shell", fresh_db, "-X", "-c", "\\prompt x", "-c", "select 1 as one"], stdin=subprocess.DEVNULL, capture_output=True, env=env(), timeout=60, check=False, preexec_fn=lambda: os.close(0))
    assert b"one" in done.stdout and b"Traceback" not in done.stderr


def test_a_joined_buffer_sent_with_gset_gexec_or_crosstabview_is_one_transaction(pg_server):
    """psql sends `insert ... \\; select 1/0 \\gset` as one query: the error undoes the INSERT.
    The shell ran the statements before the last one as a query of their own, which stayed."""
    script = (
        "insert into t values (1) \\; select 1/0 \\gset\nselect count(*) from t;\n"
        "insert into t values (3) \\; select 1/0, 1, 2 \\crosstabview\nselect count(*) from t;\n"
        "insert into t values (4) \\; select 1/0 \\gexec\nselect count(*) from t;\n"
        "insert into t values (5) \\; select 7 as v \\gset\n\\echo :v\nselect count(*) from t;\n"
        "insert into t values (6) \\; select 'select 8' \\gexec\nselect count(*) from t;\n"
        "begin;\ninsert into t values (9) \\; select 1/0 \\gset\nrollback;\nselect count(*) from t;\n"
    )
    with twin_databases(pg_server.conninfo(), "create table t (a int)") as (mine, psqls):
        _, out, _ = same(mine, psqls, stdin=script.encode())
    assert out.count(b"     0\n(1 row)") == 3


@pytest.mark.parametrize("way", [(), ("-f", "-")], ids=["piped", "dash-f"])
def test_a_file_included_by_a_script_on_standard_input_reads_that_script_s_next_lines(pg_server, tmp_path: Path, way: tuple[str, ...]):
    """psql's `\\prompt` and `\\copy ... from pstdin` in an `\\i`'d file read standard input,
    which is the including script: the shell had read that whole, so `\\prompt` failed
    ("could not read value") and the lines meant as answers and data ran as SQL."""
    (tmp_path / "inc.sql").write_text("\\prompt 'name? ' x\n\\echo got :x\n\\copy t from pstdin\n\\echo after\nselect nosuch;\n")
    script = "select 1 as a;\n\\i inc.sql\nhello\n5\n6\n\\.\nselect count(*) from t;\nselect nosuch2;\n"
    with twin_databases(pg_server.conninfo(), "create table t(a int)") as (mine, psqls):
        _, out, err = same(mine, psqls, *way, cwd=tmp_path, stdin=script.encode())
    assert b"got hello\nCOPY 2\nafter\n" in out and b"     2\n" in out and b"inc.sql:5: ERROR:" in err


@pytest.mark.parametrize("fetch_count", ["0", "1"])
def test_a_g_file_that_cannot_be_opened_leaves_the_result_variables_and_echoes_the_statement(fresh_db, fetch_count: str):
    """psql treats a `\\g FILE` it cannot open as a failed statement: -b echoes its STATEMENT,
    ERROR and ROW_COUNT stay as the previous query left them, and no tag follows RETURNING
    rows. The shell recorded a success and echoed nothing (and printed INSERT 0 1)."""
    script = (
        "\\set FETCH_COUNT " + fetch_count + "\nselect 1/0;\nselect 1 \\g /nonexistent/x\n\\echo :ERROR :ROW_COUNT\n"
        "select 1/0;\ncopy (select 5) to stdout \\g /nonexistent/z\n\\echo :ERROR :ROW_COUNT\n"
        "create temp table w(a int);\nselect 1/0;\ninsert into w values (1) returning a \\g /nonexistent/q\n\\echo :ERROR :ROW_COUNT\n"
        "select g from generate_series(1, 3) g \\g /dev/full\n\\echo :ERROR :ROW_COUNT\n"
    )
    _, out, err = same(fresh_db, fresh_db, "-b", stdin=script.encode())
    assert out.startswith(b"true 0\n") and out.count(b"true 0\n") >= 3 and b"INSERT" not in out
    assert err.count(b"STATEMENT:  select 1 \n") == 1 and b"STATEMENT:  copy (select 5) to stdout \n" in err and b"STATEMENT:  insert into w" in err


@pytest.mark.parametrize("way", [("-f", "s.sql"), ()], ids=["file", "stdin"])
def test_what_follows_copy_from_stdin_on_its_line_runs_after_the_data(fresh_db, tmp_path: Path, way: tuple[str, ...]):
    """`copy t from stdin; insert ...` on one line: psql reads the data from the next lines,
    then goes on with its line. The rest of the line was dropped without a word (a statement
    lost), and line numbers after it count the data lines, as psql's do."""
    script = (
        "create temp table cc(a int);\ncopy cc from stdin; select nosuch; copy cc from stdin; insert into cc values (9);\n1\n2\n\\.\n7\n\\.\n"
        "select count(*) from cc;\ncopy cc from stdin; \\echo after\n3\n\\.\nselect nosuch2;\n"
    )
    (tmp_path / "s.sql").write_text(script)
    _, out, err = same(fresh_db, fresh_db, "-a", *way, cwd=tmp_path, stdin=script.encode())
    assert b"COPY 2\nCOPY 1\nINSERT 0 1\n" in out and b"     4\n" in out and b"COPY 1\nafter\n" in out
    assert err.count(b"does not exist") == 2


@pytest.mark.parametrize(
    ("flags", "script"),
    [
        ((), "select 1 as a\n\\echo x\n\\; select 2 as b;\nselect 5 as c\n\\echo y\n, 6 as d \\; select 7;\nselect 8 as e\n\\echo z\n;\n"),
        (("-S",), "select 1 as a \\; select 2 as b\nselect 3 \\; select 4;\n"),
    ],
    ids=["after-a-meta-command", "singleline"],
)
def test_a_backslash_semicolon_is_a_plain_semicolon_on_every_path(fresh_db, tmp_path: Path, flags: tuple[str, ...], script: str):
    """A statement held across a meta-command line, and -S's statements, went to the server
    with their `\\;` as written: a syntax error where psql runs both statements."""
    (tmp_path / "s.sql").write_text(script)
    _, _, err = same(fresh_db, fresh_db, *flags, "-f", "s.sql", cwd=tmp_path)
    assert err == b""


def test_returning_rows_taken_by_gset_gexec_or_crosstabview_are_followed_by_their_tag(fresh_db, tmp_path: Path):
    """psql prints INSERT/UPDATE/DELETE's tag after what \\gset, \\gexec or \\crosstabview did
    with the RETURNING rows (after their errors too), and logs it under QUIET: the shell
    printed and logged none."""
    script = (
        "create temp table t(a int, b text);\ninsert into t values (1, 'x') returning a \\gset\n\\echo :a\n"
        "insert into t values (2, 'y'), (3, 'z') returning a \\gset\ninsert into t values (4, 'y') returning 'select ' || a \\gexec\n"
        "update t set a = a + 10 where a < 3 returning a, b, a \\crosstabview\ndelete from t where a > 100 returning a \\gset\n"
        "\\set QUIET 1\ninsert into t values (5, 'q') returning a \\gset\n"
    )
    logs = []
    for program, side in ((ours, "ours"), (theirs, "psql")):
        code, out, err = program(fresh_db, "-L", f"{side}.log", cwd=tmp_path, stdin=script.encode())
        logs.append((code, out, err, (tmp_path / f"{side}.log").read_bytes()))
    assert logs[0] == logs[1]
    assert b"INSERT 0 1\n1\nINSERT 0 2\n" in logs[0][1] and b"UPDATE 2\nDELETE 0\n" in logs[0][1] and logs[0][3].endswith(b"INSERT 0 1\n")


def test_getenv_and_prompt_set_special_variables_through_their_checks(fresh_db, tmp_path: Path):
    """`\\getenv`/`\\prompt` into FETCH_COUNT, VERBOSITY, ON_ERROR_ROLLBACK...: any value was
    stored (psql refuses `abc`, and stops there under ON_ERROR_STOP), and a good one never
    took effect (FETCH_COUNT printed no rows before the error)."""
    script = (
        "\\setenv N 1\n\\getenv FETCH_COUNT N\nselect 1/(3-g) from generate_series(1,4) g;\n\\setenv A abc\n"
        "\\getenv ON_ERROR_ROLLBACK A\n\\echo [:ON_ERROR_ROLLBACK]\n\\prompt FETCH_COUNT\n\\prompt ON_ERROR_ROLLBACK\n"
        "\\echo [:FETCH_COUNT] [:ON_ERROR_ROLLBACK]\n\\set ON_ERROR_STOP 1\n\\getenv ON_ERROR_ROLLBACK A\n\\echo not reached\n"
    )
    (tmp_path / "e.sql").write_text(script)
    code, out, err = same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path, stdin=b"2\nxyz\n")
    assert code == 3 and b"        0\n        1\n" in out and b"[off]\n[2] [off]\n" in out and b"not reached" not in out
    assert err.count(b'unrecognized value "abc" for "ON_ERROR_ROLLBACK"') == 2 and b'unrecognized value "xyz"' in err


def test_commands_the_person_starts_see_the_environment_they_had(fresh_db):
    """`\\! env` showed LC_CTYPE=C.UTF-8 (Python's locale coercion in a C locale) and, once a
    model had loaded, MKL_CBWR and TRANSFORMERS_VERBOSITY: the shell's own settings for its
    libraries, which psql's children never see. One the person `\\setenv`s is theirs."""
    import subprocess

    from psqlcompare import PSQL, SHELL, env

    # (the suite's own process may hold them already, from a model loaded in it: not the person's)
    plain = {k: v for k, v in env().items() if k not in ("LANG", "LC_ALL", "LC_CTYPE") and not k.startswith(("MKL_", "OMP_", "TRANSFORMERS_"))}
    script = ["-c", "\\! env | grep -E '^(LC_|MKL_|TRANSFORMERS_|OMP_)' | sort; echo end", "-c", "\\setenv LC_CTYPE C.UTF-8", "-c", "\\! env | grep '^LC_CTYPE'"]
    seen = [subprocess.run([*command, fresh_db, *script], capture_output=True, env=plain, timeout=60).stdout for command in (SHELL, [PSQL, "-X"])]
    assert seen[0] == seen[1] == b"end\nLC_CTYPE=C.UTF-8\n"
