"""Session meta-commands as psql 15 runs them: the query buffer (\\r \\p \\w), \\qecho and
\\echo around \\o, \\ir, \\prompt, \\setenv, \\cd, \\encoding, \\! and `|command` targets;
compared byte for byte with /usr/bin/psql (stdout, stderr, exit code, files written)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

BUFFER = r"""\p
select 1 as a
\p
\r
\p
select 2 as b;
\p
select 3
\w w1.out
\r
\w w2.out
\o o1.out
\echo echo-to-stdout
\qecho qecho-to-file
select 4;
\o
\qecho qecho-stdout
\qecho -n no-newline
\echo
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.out"))}


def test_query_buffer_and_echo_around_o(fresh_db, tmp_path: Path):
    mine, psqls = tmp_path / "mine", tmp_path / "psql"
    for folder in (mine, psqls):
        folder.mkdir()
        (folder / "b.sql").write_text(BUFFER)
    from psqlcompare import ours, theirs

    assert ours(fresh_db, "-f", "b.sql", cwd=mine) == theirs(fresh_db, "-f", "b.sql", cwd=psqls)
    files = _files(mine)
    assert files == _files(psqls)
    assert files["w1.out"] == b"select 3\n" and b"qecho-to-file" in files["o1.out"] and b"echo-to-stdout" not in files["o1.out"]


def test_environment_directory_and_encoding(fresh_db, tmp_path: Path):
    (tmp_path / "e.sql").write_text(
        "\\setenv H17_FOO bar\n\\! echo $H17_FOO\n\\setenv H17_FOO\n\\! echo \"[$H17_FOO]\"\n"
        "\\cd sub\n\\! pwd | sed 's#.*/##'\n\\cd /nonexistent\n"
        "\\encoding\n\\encoding LATIN1\n\\encoding\n\\encoding nosuch\n\\encoding UTF8\n\\echo :ENCODING\n"
    )
    (tmp_path / "sub").mkdir()
    _, out, _ = same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path)
    assert out.startswith(b"bar\n[]\nsub\nUTF8\nLATIN1\n")


def test_include_relative_reads_next_to_the_script(fresh_db, tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "outer.sql").write_text("\\ir inner.sql\n\\i inner.sql\n\\ir nosuch.sql\n")
    (tmp_path / "sub" / "inner.sql").write_text("\\echo inner-sub\n")
    (tmp_path / "inner.sql").write_text("\\echo inner-top\n")
    _, out, _ = same(fresh_db, fresh_db, "-f", "sub/outer.sql", cwd=tmp_path)
    assert out == b"inner-sub\ninner-top\n"
    same(fresh_db, fresh_db, "-c", "\\ir inner.sql", cwd=tmp_path)


def test_prompt_reads_the_next_line(fresh_db, tmp_path: Path):
    _, out, _ = same(fresh_db, fresh_db, stdin=b'\\prompt "Name? " n\nalice\n\\echo got :n\n\\prompt\n')
    assert out == b"got alice\n"
    (tmp_path / "p.sql").write_text("\\prompt 'Name? ' n\n\\echo got :n\n\\prompt x\n\\echo got2 :x\n")
    _, out, _ = same(fresh_db, fresh_db, "-f", "p.sql", cwd=tmp_path, stdin=b"bob\ncarol\n")
    assert out == b"Name? got bob\ngot2 carol\n"
    code, out, err = same(fresh_db, fresh_db, "-c", "\\prompt a-b", "-c", "\\prompt pv;", "-c", "\\echo [:pv]", stdin=b"x\ny\n")  # names psql refuses
    assert err.count(b"invalid variable name") == 2 and out == b"[:pv]\n"


def test_results_and_buffers_piped_to_a_command(fresh_db, tmp_path: Path):
    _, out, _ = same(fresh_db, fresh_db, stdin=b"select 6 as x \\g | tr 6 7\nselect 5 as y\n\\w | tr 5 8\n\\r\n\\! echo done\n")
    assert b" 7\n" in out and b"select 8 as y\n" in out


def _without_version(listing: bytes) -> bytes:
    return b"".join(line for line in listing.splitlines(keepends=True) if not line.startswith(b"VERSION"))


def test_set_lists_psql_builtin_variables(fresh_db, tmp_path: Path):
    from psqlcompare import ours, theirs

    (tmp_path / "v.sql").write_text("\\set\n\\echo :AUTOCOMMIT :FETCH_COUNT :ENCODING\nselect 1 as a;\n\\set\n")
    mine, psqls = ours(fresh_db, "-v", "mine=1", "-f", "v.sql", cwd=tmp_path), theirs(fresh_db, "-v", "mine=1", "-f", "v.sql", cwd=tmp_path)
    assert (mine[0], _without_version(mine[1]), mine[2]) == (psqls[0], _without_version(psqls[1]), psqls[2])
    assert b"AUTOCOMMIT = 'on'\n" in mine[1] and b"\non 0 UTF8\n" in mine[1] and b"ROW_COUNT = '1'\n" in mine[1]
    assert b"VERSION_NUM = '150000'\n" in mine[1]


def test_backticks_and_semicolons_in_variables(fresh_db, tmp_path: Path):
    (tmp_path / "v.sql").write_text(
        "\\set d `echo 42`\n\\echo :d `echo hi` '`no`'\nselect :d as x;\n"
        "\\set q 'select 1 as a;'\n:q\nselect 2 as b;\n\\set t 'v; select 3 as c'\nselect 4 as :t;\n"
        "select 1 as a;\n\\echo :ERROR :ROW_COUNT :SQLSTATE\nselect 1/0;\n\\echo :ERROR :ROW_COUNT\n"
    )
    _, out, _ = same(fresh_db, fresh_db, "-f", "v.sql", cwd=tmp_path)
    assert out.startswith(b"42 hi `no`\n") and b" c \n" in out


def test_password_sends_only_the_encrypted_form(pg_server, fresh_db):
    from psqlcompare import ours, theirs

    with psycopg.connect(fresh_db, autocommit=True) as admin:
        admin.execute("drop role if exists h17_pw")
        admin.execute("create role h17_pw login")
        mismatch = b"one\ntwo\n"
        assert ours(fresh_db, "-c", "\\password h17_pw", stdin=mismatch) == theirs(fresh_db, "-c", "\\password h17_pw", stdin=mismatch)
        mine = ours(fresh_db, "-c", "\\password h17_pw", stdin=b"s3cret\ns3cret\n")
        assert mine == theirs(fresh_db, "-c", "\\password h17_pw", stdin=b"other\nother\n")
        assert mine[0] == 0 and b"s3cret" not in mine[1] + mine[2]
        stored = admin.execute("select rolpassword from pg_authid where rolname = 'h17_pw'").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$4096:")
        info = psycopg.conninfo.conninfo_to_dict(fresh_db)
        info.pop("passfile", None)
        admin.execute("alter role h17_pw password null")
        mine = ours(fresh_db, "-c", "\\password h17_pw", stdin=b"s3cret\ns3cret\n")
        with psycopg.connect(**{**info, "user": "h17_pw", "password": "s3cret"}) as conn:
            assert conn.execute("select current_user").fetchone() == ("h17_pw",)
        # Nothing left to read: psql reads two empty passwords, and the server clears it.
        mine = ours(fresh_db, "-c", "\\password h17_pw", stdin=b"")
        assert admin.execute("select rolpassword from pg_authid where rolname = 'h17_pw'").fetchone() == (None,)
        assert mine == theirs(fresh_db, "-c", "\\password h17_pw", stdin=b"")
        admin.execute("drop role h17_pw")
        mine = ours(fresh_db, "-c", "\\password h17_pw", stdin=b"x\nx\n")  # the server's refusal, as psql prints it
        assert mine == theirs(fresh_db, "-c", "\\password h17_pw", stdin=b"x\nx\n") and b'ERROR:  role "h17_pw" does not exist' in mine[2]


@pytest.mark.parametrize(("argument", "changed"), [("H37_Case", "h37_case"), ('"H37_Case"', "H37_Case"), ("h37_case;", "h37_case")])
def test_password_reads_its_user_as_a_name_as_psql_does(fresh_db, argument: str, changed: str):
    """`\\password H37_Case` set the password of the role "H37_Case", where psql folds the name
    to h37_case; `"H37_Case"` kept its quotes and `h37_case;` its semicolon (no such role)."""
    from psqlcompare import ours

    with psycopg.connect(fresh_db, autocommit=True) as admin:
        for role in ("h37_case", "H37_Case"):
            admin.execute(f'drop role if exists "{role}"')
            admin.execute(f'create role "{role}" login')
        try:
            assert ours(fresh_db, "-c", f"\\password {argument}", stdin=b"x\nx\n")[0] == 0
            assert admin.execute("select rolname from pg_authid where rolname in ('h37_case', 'H37_Case') and rolpassword is not null").fetchall() == [(changed,)]
        finally:
            for role in ("h37_case", "H37_Case"):
                admin.execute(f'drop role "{role}"')


@pytest.mark.parametrize("flags", [["-f", "-"], []])
def test_password_in_a_script_on_standard_input_reads_its_next_lines_as_psql(fresh_db, flags):
    """Without a terminal the answers are the script's next lines: they were read from a
    standard input the script reader had used up, so the password was cleared and its lines
    ran as SQL (the clear text in the server's log)."""
    from psqlcompare import ours, theirs

    with psycopg.connect(fresh_db, autocommit=True) as admin:
        admin.execute("drop role if exists h17_script")
        admin.execute("create role h17_script login")
        try:
            script = b"\\password h17_script\nS3cret9\nS3cret9\n\\echo after\n"
            mine = ours(fresh_db, *flags, stdin=script)
            assert mine == theirs(fresh_db, *flags, stdin=script)
            assert mine[1] == b"after\n" and b"S3cret9" not in mine[2]
            assert admin.execute("select rolpassword like 'SCRAM%%' from pg_authid where rolname = 'h17_script'").fetchone() == (True,)
        finally:
            admin.execute("drop role h17_script")


def test_o_to_a_command(fresh_db):
    script = b"\\o | tr a-z A-Z\nselect 'abc' as x;\n\\qecho hello\n\\echo on-stdout\n\\o\nselect 1 as y;\n\\o |cat -n\nselect 2 as z;\n"
    _, out, _ = same(fresh_db, fresh_db, stdin=script)
    assert b" ABC\n" in out and b"HELLO\n" in out and b"on-stdout\n" in out and b"\t z \n" in out


def test_errverbose_and_error_variables(pg_server, tmp_path: Path):
    (tmp_path / "e.sql").write_text(
        "\\errverbose\nselect 1/0;\n\\errverbose\nselect nosuch;\n\\errverbose\n"
        "\\echo :LAST_ERROR_SQLSTATE :SQLSTATE :ERROR :LAST_ERROR_MESSAGE\n"
        "insert into u values (1), (1);\n\\errverbose\n"
        "do $$ begin perform 1/0; end $$;\n\\errverbose\nselect 1 as a;\n\\echo :SQLSTATE :LAST_ERROR_SQLSTATE\n"
    )
    with twin_databases(pg_server.conninfo(), "create table u (x int primary key)") as (mine, psqls):
        _, out, err = same(mine, psqls, "-f", "e.sql", cwd=tmp_path)
    assert out.startswith(b"There is no previous error.\n") and b"42703 42703 true column" in out and out.endswith(b"00000 22012\n")
    assert b"psql:e.sql:3: error: ERROR:  22012: division by zero\nLOCATION:  int4div, int.c:" in err
