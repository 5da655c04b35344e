"""Scripts, variables and flags where nl2sql-shell used to differ from psql 15, compared byte
for byte (stdout, stderr, exit code) with /usr/bin/psql on the same server: \\errverbose's LINE
display, the variables \\gset, \\gexec, \\gdesc and \\crosstabview set, \\g (OPTIONS), :{?name},
\\watch, \\ef and \\ev in a script, -E's frames and ECHO_HIDDEN noexec, ON_ERROR_STOP after a
meta-command that follows query text, \\prompt's line in a script on stdin, -n's prompt, and
the warning for each word a meta-command does not read."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, ours, same, theirs, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

LONG = "select " + ", ".join(f"{i} as c{i}" for i in range(60)) + ", nosuch;\n"


@pytest.mark.parametrize(
    "statement",
    [
        LONG,  # libpq cuts a long line around the error with "..."
        "select 'ééééé' as x, 'ñ' || nosuch;\n",  # the caret counts screen columns, not bytes
        "select '" + "é" * 80 + "' as x, nosuch;\n",
        "select 1,\n 2,\n  nosuch;\n",
    ],
)
def test_errverbose_shows_libpqs_line_display(fresh_db, tmp_path: Path, statement: str):
    (tmp_path / "e.sql").write_text(statement + "\\errverbose\n")
    _, _, err = same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path)
    assert err.count(b"LINE ") == 2 and b"at character" not in err


# LATIN1 bytes where the client encoding is LATIN1 (a legacy script, a LATIN1 terminal):
# psql sends the bytes it reads and prints the bytes the server sends, in the client encoding
# at that moment; a UTF-8 script under LATIN1 reads as its bytes do (two characters for é).
ENCODINGS = (
    b"\\echo caf\xe9\nselect 1 as one;\nselect 'caf\xe9' as word, length('caf\xe9');\n"
    b"select 'caf\xc3\xa9' as utf8_bytes;\n\\echo :ENCODING\n"
    b"set client_encoding to UTF8;\n\\echo :ENCODING\nselect chr(233) as e;\n"
    b"\\encoding LATIN1\nselect chr(233) as e, 'x' as \"caf\xe9\";\nreset client_encoding;\n\\echo :ENCODING\nselect chr(233) as e, 'last\xe9' as unterminated"
)


def test_a_script_in_the_client_encoding_reads_and_prints_as_in_psql(fresh_db, tmp_path: Path):
    (tmp_path / "latin1.sql").write_bytes(ENCODINGS)
    _, out, _ = same(f"{fresh_db} client_encoding=LATIN1", f"{fresh_db} client_encoding=LATIN1", "-f", "latin1.sql", cwd=tmp_path)
    assert out.startswith(b"caf\xe9\n") and b" caf\xe9 |      4\n" in out and b" \xc3\xa9\n" in out
    assert b"LATIN1\nSET\nUTF8\n" in out and b" \xe9 | x\n" in out and b"last\xe9" in out


def test_an_error_s_words_outside_ascii_print_in_the_client_encoding(fresh_db, tmp_path: Path):
    """The server's error text came out as `?` in every client encoding but UTF-8 (read as
    UTF-8): `"caf?"` where psql prints `"café"` in LATIN1 bytes, LINE display included."""
    (tmp_path / "l.sql").write_bytes(b"select 'caf\xe9'::int;\nselect * from nov\xe9;\nselect 1 \\; select 'x\xe9'::int;\n")
    _, _, err = same(f"{fresh_db} client_encoding=LATIN1", f"{fresh_db} client_encoding=LATIN1", "-f", "l.sql", cwd=tmp_path)
    assert b'"caf\xe9"' in err and b"LINE 1: select * from nov\xe9;" in err and b'"x\xe9"' in err


def test_g_and_o_to_files_and_commands_write_the_client_encoding_as_psql(fresh_db, tmp_path: Path):
    """\\g FILE, \\g |cmd and \\o |cmd wrote UTF-8 whatever the client encoding (\\o FILE did not)."""
    script = "select 'caf\xe9' as v \\g g.out\nselect 'caf\xe9' as v \\g |od -c\n\\o |od -c\nselect 'caf\xe9' as w;\n\\o\n"
    for side in ("ours", "psql"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "e.sql").write_bytes(script.encode("latin-1"))
    conninfo = f"{fresh_db} client_encoding=LATIN1"
    mine = ours(conninfo, "-f", "e.sql", cwd=tmp_path / "ours")
    assert mine == theirs(conninfo, "-f", "e.sql", cwd=tmp_path / "psql")
    assert (tmp_path / "ours" / "g.out").read_bytes() == (tmp_path / "psql" / "g.out").read_bytes() == b"  v   \n------\n caf\xe9\n(1 row)\n\n"


def test_a_client_encoding_python_cannot_read_is_one_line_and_the_session_goes_on(fresh_db, pg_server, tmp_path: Path):
    """EUC_TW and MULE_INTERNAL have no Python codec (psql prints them): the shell ended with a
    traceback, at connect (PGCLIENTENCODING), at `SET client_encoding` and at `\\c` to a
    MULE_INTERNAL database. It keeps the encoding it had, or takes the server's bytes as they
    are (SQL_ASCII) where the server converts its own to no other."""
    code, out, err = ours(f"{fresh_db} client_encoding=EUC_TW", "-c", "select 1 as one", "-c", "\\echo :ENCODING")
    assert (code, out) == (0, b" one \n-----\n   1\n(1 row)\n\nUTF8\n")
    assert err == b'client encoding "EUC_TW" cannot be used here (Python has no codec for it); it is UTF8 now\n'
    (tmp_path / "e.sql").write_text("\\encoding LATIN1\nset client_encoding = EUC_TW;\nselect 4 as four;\n\\echo :ENCODING\n")
    code, out, err = ours(fresh_db, "-f", "e.sql", cwd=tmp_path)
    assert (code, out) == (0, b"SET\n four \n------\n    4\n(1 row)\n\nLATIN1\n")
    assert err == b'psql:e.sql:2: client encoding "EUC_TW" cannot be used here (Python has no codec for it); it is LATIN1 now\n'
    mule = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"] + "_mule"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {mule} ENCODING 'MULE_INTERNAL' TEMPLATE template0 LOCALE 'C'")
    try:
        code, out, err = ours(fresh_db, "-c", f"\\c {mule}", "-c", "select 2 as two", "-c", "\\echo :ENCODING")
        assert (code, out.splitlines()[1:]) == (0, [b" two ", b"-----", b"   2", b"(1 row)", b"", b"SQL_ASCII"])
        assert err == b'client encoding "MULE_INTERNAL" cannot be used here (Python has no codec for it); it is SQL_ASCII now\n'
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {mule} WITH (FORCE)")


def test_each_file_and_a_watch_leave_the_previous_query_as_psql_does(fresh_db, tmp_path: Path):
    """psql keeps a previous query per file and \\watch never sets it: `\\g` after `\\i` ran
    the included file's INSERT a second time, `\\g` inside it the including file's, and `\\g`
    after a failed `\\watch` the watched query."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ins.sql").write_text("insert into cnt values (1);\n")
    (tmp_path / "sub" / "again.sql").write_text("\\g\n\\p\n")
    script = "create temp table cnt(a int);\n\\i sub/ins.sql\n\\g\n\\p\n\\i sub/again.sql\nselect count(*) from cnt;\nselect 1/0 \\watch 0.1\n\\g\n\\p\n"
    (tmp_path / "p.sql").write_text(script)
    _, out, _ = same(fresh_db, fresh_db, "-f", "p.sql", cwd=tmp_path)
    assert out.count(b"INSERT 0 1") == 1 and out.count(b"     1\n(1 row)") == 2
    same(fresh_db, fresh_db, "-c", "create temp table cnt(a int)", "-c", "insert into cnt values (1)", "-c", "\\i sub/again.sql", "-c", "select count(*) from cnt", cwd=tmp_path)


def test_quiet_hides_the_connect_and_empty_buffer_lines(fresh_db, tmp_path: Path):
    """-q (QUIET) hid neither `\\c`'s "You are now connected" nor `\\p`'s "Query buffer is empty."."""
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    _, out, _ = same(fresh_db, fresh_db, "-q", "-c", f"\\c {dbname}", "-c", "\\p", "-c", "select 1 as one", cwd=tmp_path)
    assert out == b" one \n-----\n   1\n(1 row)\n\n"
    (tmp_path / "q.sql").write_text(f"\\set QUIET on\n\\c {dbname}\n\\p\n\\set QUIET off\n\\p\n")
    _, out, _ = same(fresh_db, fresh_db, "-f", "q.sql", cwd=tmp_path)
    assert out == b"Query buffer is empty.\n"


RESULT_VARIABLES = (
    "select 1 as a union select 2 \\gset\n\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
    "select 1/0 \\gset\n\\echo :ROW_COUNT :ERROR :SQLSTATE :LAST_ERROR_MESSAGE\n\\errverbose\n"
    "select 5 as q \\gset\n\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
    "select 1 \\gexec\n\\echo :ROW_COUNT\n"
    "select $$select 1 union select 2$$ \\gexec\n\\echo :ROW_COUNT\n"
    "select 1, 2 \\crosstabview\n\\echo :ROW_COUNT\n"
    "select 1 as a, 2 as b, 3 as c \\crosstabview\n\\echo :ROW_COUNT\n"
    "select 1 as a, 'x'::text as b \\gdesc\n\\echo :ERROR :ROW_COUNT\n"
    "select nosuch \\gdesc\n\\echo :ERROR :ROW_COUNT :SQLSTATE\n\\errverbose\n"
    "\\echo :LASTOID\nselect 1;\n\\echo :LASTOID\n\\set QUIET on\ncreate temp table lo(a int);\n\\echo :LASTOID\n"
)


def test_gset_gexec_gdesc_and_crosstabview_set_psqls_variables(fresh_db, tmp_path: Path):
    (tmp_path / "v.sql").write_text(RESULT_VARIABLES)
    _, out, _ = same(fresh_db, fresh_db, "-f", "v.sql", cwd=tmp_path)
    assert b"0 true 22012 division by zero\n1 false 00000\n" in out
    assert out.endswith(b"\n0\n")  # LASTOID: set by a command tag, even a quiet one


@pytest.mark.parametrize("command", ["select 1; select 1/0", "select nosuch; select 1"])
def test_an_error_in_a_command_string_of_several_statements_sets_sqlstate(fresh_db, command: str):
    same(fresh_db, fresh_db, "-c", command, "-c", "\\echo :ERROR :SQLSTATE :ROW_COUNT :LAST_ERROR_MESSAGE", "-c", "\\errverbose")


G_OPTIONS = (
    "\\set fmt csv\nselect 1 as a, null as n \\g ( format=:fmt null='<n>' )\n"
    "select 1 as a \\g (format=csv\nselect 2 as b;\n"  # no ): psql's error, the buffer stays
    "select 3 as c \\g (tuples_only) |cat\nselect 4 as d \\gx (tuples_only)\n"
    "select 5 \\g (border=2 format=aligned) 'o u t.txt'\n"
    "\\if false\nselect 6 \\g (format=bad)\n\\endif\n"
    "select 7 as e \\g (format=bad)\n;\n\\pset\n"  # the settings are back after a refused option
    "select 8 \\g (expanded) \\echo after\n\\g (format=unaligned)\n"
    "select 9 as f \\gx (expanded=off)\nselect 10 as t \\g (title='hello world' footer=off)\n"
    "select 11 as a, 'x,y' as b \\g (format=csv) out.csv\n\\pset\n"
)


def test_g_with_print_options_for_one_query(fresh_db, tmp_path: Path):
    (tmp_path / "g.sql").write_text(G_OPTIONS)
    _, out, err = same(fresh_db, fresh_db, "-f", "g.sql", cwd=tmp_path)
    assert b"a,n\n1,<n>\n" in out and b"missing right parenthesis" in err
    csv = (tmp_path / "out.csv").read_bytes()
    (tmp_path / "out.csv").unlink()
    ours(fresh_db, "-X", "-f", "g.sql", cwd=tmp_path)
    assert (tmp_path / "out.csv").read_bytes() == csv == b"a,b\n11,\"x,y\"\n"


def test_the_echo_and_timing_of_a_query_sent_to_a_file_stay_on_standard_output(fresh_db, tmp_path: Path):
    """With -e and \\timing, the echoed query and the Time line went into the \\g FILE (and the
    \\g |cmd's input) with the rows: an exported CSV began with the query."""
    script = "select 1 as a \\g (format=csv) out.csv\n\\timing on\nselect 2 as b \\gx t1.txt\nselect 3 as c \\g |cat > t3.txt\n"
    files = {}
    for side, run in (("ours", ours), ("psql", theirs)):
        (tmp_path / side).mkdir()
        (tmp_path / side / "g.sql").write_text(script)
        code, out, err = run(fresh_db, "-e", "-f", "g.sql", cwd=tmp_path / side)
        files[side] = code, re.sub(rb"Time: [0-9.]+ ms", b"Time: x", out), err, *((tmp_path / side / name).read_bytes() for name in ("out.csv", "t1.txt", "t3.txt"))
    assert files["ours"] == files["psql"]
    assert files["ours"][3] == b"a\n1\n" and files["ours"][1].count(b"Time: x") == 2


@pytest.mark.parametrize("script", ["select 1 \\g (format=bad)\nselect 2;\n", "select 1 \\foo\nselect 2;\n", "select 1 \\g (format=csv\nselect 2;\n"])
def test_on_error_stop_after_a_meta_command_that_follows_query_text(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "s.sql").write_text(script)
    code, out, _ = same(fresh_db, fresh_db, "-v", "ON_ERROR_STOP=1", "-f", "s.sql", cwd=tmp_path)
    assert code == 3 and out == b""


def test_variable_test_is_true_or_false(fresh_db, tmp_path: Path):
    (tmp_path / "t.sql").write_text(
        "\\set a 1\n\\echo :{?a} :{?b} x:{?a}y\n\\if :{?a}\n\\echo yes\n\\endif\n\\if :{?b}\n\\echo no\n\\else\n\\echo else\n\\endif\n"
        "select :{?a} as t, :{?b} as f, ':{?a}' as q;\n\\set v :{?a}\n\\echo :v\n"
    )
    _, out, _ = same(fresh_db, fresh_db, "-f", "t.sql", cwd=tmp_path)
    assert out.startswith(b"TRUE FALSE xTRUEy\nyes\nelse\n")


_TIME = re.compile(rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \(every")


@pytest.mark.parametrize(
    "script",
    [
        "select 1/0 \\watch 1\nselect 2 as x;\n",
        "select 1/(2 - nextval('s')) as r \\watch 0.01\nselect 2 as x;\n",  # one result, then the error ends it
        "\\pset format unaligned\nselect 1/(2 - nextval('s')) as r \\watch abc\n",  # not a number: every 1s
        "\\pset format csv\nselect 1/(2 - nextval('s')) as r \\watch -1\n",
        "insert into w values (1) \\watch 0.01\n",  # a tag, no time line; the second insert fails
        "\\pset title 'My T'\nselect 1/(2 - nextval('s')) as r \\watch 0.01\n",  # \\pset title before the time (it was left out)
        "\\pset format html\n\\pset title 'My T'\nselect 1/(2 - nextval('s')) as r \\watch 0.01\n",
    ],
)
def test_watch_titles_each_result_and_ends_with_an_empty_line(pg_server, tmp_path: Path, script: str):
    (tmp_path / "w.sql").write_text(script)
    setup = "create sequence s; create table w (a int primary key)"
    with twin_databases(pg_server.conninfo(), setup) as (mine_db, psql_db):
        mine, psql = ours(mine_db, "-X", "-f", "w.sql", cwd=tmp_path), theirs(psql_db, "-f", "w.sql", cwd=tmp_path)
    assert (mine[0], _TIME.sub(b"TIME (every", mine[1]), mine[2]) == (psql[0], _TIME.sub(b"TIME (every", psql[1]), psql[2])
    assert psql[1].endswith(b"\n\n") or psql[1].endswith(b"\n\n x \n---\n 2\n(1 row)\n\n")


@pytest.mark.parametrize(
    "use",
    ["\\pset title :a\n\\pset title", "\\C :a\n\\pset title", "\\encoding :a", "\\pset border :n\n\\pset border", "\\prompt :a x", "\\qecho :a :'a'", "\\timing :t"],
)
def test_a_variables_value_is_substituted_once(fresh_db, tmp_path: Path, use: str):
    """`:a` in a meta-command's words is a's value as it is, even when that holds `:b`."""
    (tmp_path / "s.sql").write_text(f"\\set a ':b'\n\\set n ':b'\n\\set t ':b'\n\\set b on\n{use}\n")
    same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)


EDITED_FUNCTION = "create function ff(int) returns int language sql as 'select $1 + 1'; create view vv as select 1 as x"


@pytest.mark.parametrize(
    ("command", "editor"),
    [
        ("\\ef", "true"),
        ("\\ef ff", "true"),
        ("\\ev vv", "true"),
        ("\\ev", "true"),
        ("\\ef nosuch", "true"),
        ("\\ef ff 3", "true"),  # a line number needs PSQL_EDITOR_LINENUMBER_ARG
        ("\\ef ff 0", "true"),
        ("\\ef ff", "sed -i -e s/1/2/ -e '$ s/$/;/'"),  # changed and complete: it runs at once
        ("\\ev vv", "sed -i -e s/1/2/ -e '$ s/$/;/'"),
        ("\\ef", "false"),  # an editor that fails: the command fails without a word
        ("\\set x ff\n\\ef :x", "true"),  # the line as typed: no variable is substituted
        ("\\set x vv\n\\ev :x", "true"),
    ],
)
def test_ef_and_ev_in_a_script(pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, editor: str):
    monkeypatch.setenv("EDITOR", editor)
    (tmp_path / "e.sql").write_text(f"{command}\nselect 2;\n\\p\nselect ff(1);\ntable vv;\n")
    with twin_databases(pg_server.conninfo(), EDITED_FUNCTION) as (mine_db, psql_db):
        same(mine_db, psql_db, "-f", "e.sql", cwd=tmp_path)


VIEWS_WITH_OPTIONS = (
    "create table base(a int); create view vinv with (security_invoker = true) as select a from base where a > 1;"
    " create view vchk with (security_barrier) as select a from base where a > 1 with cascaded check option;"
    " create materialized view mv as select 1 as a; create function ff(int) returns int language sql as 'select $1 + 1'"
)


def test_ev_keeps_a_view_s_options_and_refuses_what_is_no_view(pg_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`\\ev` read a view without its WITH (...) and CHECK OPTION, so saving an edit dropped
    security_invoker (row security then ran as the view's owner) and security_barrier; on a
    table or a materialized view it opened an empty file, or a view's text, without an error
    (psql errs too, and leaves a piece of the definition in its query buffer, which runs
    later as a syntax error: not followed)."""
    monkeypatch.setenv("EDITOR", "sed -i -e s/1/2/ -e '$ s/$/;/'")
    script = (
        "\\ev vinv\n\\ev vchk\nselect relname, reloptions from pg_class where relname in ('vinv', 'vchk') order by 1;\n\\sv vchk\n"
        "\\sv mv\n\\set ECHO_HIDDEN noexec\n\\sv vinv\n\\sf ff\n"
    )
    (tmp_path / "e.sql").write_text(script)
    with twin_databases(pg_server.conninfo(), VIEWS_WITH_OPTIONS) as (mine_db, psql_db):
        _, out, err = same(mine_db, psql_db, "-f", "e.sql", cwd=tmp_path)
        assert b" vchk    | {security_barrier=true,check_option=cascaded}\n vinv    | {security_invoker=true}\n" in out
        assert b"  WHERE a > 2\n WITH CASCADED CHECK OPTION\n" in out and err == b'psql:e.sql:5: error: "public.mv" is not a view\n'
        (tmp_path / "n.sql").write_text("\\ev base\n\\ev mv\nselect 1 as after;\n")
        code, out, err = ours(mine_db, "-f", "n.sql", cwd=tmp_path)
    assert (code, out, err) == (0, b" after \n-------\n     1\n(1 row)\n\n", b'psql:n.sql:1: error: "public.base" is not a view\npsql:n.sql:2: error: "public.mv" is not a view\n')


# An editor that changes FILE and its time: psql 15 reads a named file back only when its
# modification time (in seconds) changed, which a person's edit always does.
_LATER = """sh -c 'sed -i %s "$0" && touch -d "+5 seconds" "$0"'"""


@pytest.mark.parametrize(
    ("command", "environment"),
    [
        ("select 1 as x \\e", {"PSQL_EDITOR": "sed -i -e s/1/2/ -e '$ s/$/;/'", "EDITOR": "false"}),  # PSQL_EDITOR first, run through the shell
        ("select 1 as x \\e", {"EDITOR": "sed -i -e s/1/3/ -e '$ s/$/;/'"}),
        ("\\e query.sql", {"EDITOR": _LATER % "s/1/4/"}),
        ("\\e query.sql 2", {"EDITOR": "true"}),  # a line number needs PSQL_EDITOR_LINENUMBER_ARG
        ("\\e query.sql 2", {"EDITOR": "sed -i s/1/5/", "PSQL_EDITOR_LINENUMBER_ARG": "-e 1p -e"}),  # within psql's second: not read back
        ("\\e query.sql x", {"EDITOR": "true"}),
        ("\\e nosuch.sql", {"EDITOR": "true"}),
        ("\\e nosuch.sql 2", {"EDITOR": "true"}),
        ("\\set f query.sql\n\\e :f", {"EDITOR": _LATER % "s/1/6/"}),
    ],
)
def test_e_with_a_file_a_line_and_the_editors_psql_reads(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, environment: dict):
    for name in ("PSQL_EDITOR", "EDITOR", "VISUAL", "PSQL_EDITOR_LINENUMBER_ARG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for side in ("ours", "theirs"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "query.sql").write_text("select 1 as y;\n")
        (tmp_path / side / "e.sql").write_text(f"{command}\nselect 9 as z;\n")
    mine, psql = ours(fresh_db, "-f", "e.sql", cwd=tmp_path / "ours"), theirs(fresh_db, "-f", "e.sql", cwd=tmp_path / "theirs")
    assert mine == psql
    assert (tmp_path / "ours" / "query.sql").read_text() == (tmp_path / "theirs" / "query.sql").read_text()
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == ["e.sql", "query.sql"]  # no file named "query.sql 2"


@pytest.mark.parametrize("command", ["\\g", "\\gx", "\\gdesc", "\\gexec", "\\crosstabview", "\\p", "\\w w.out", "\\watch 0.01", "\\e"])
def test_a_meta_command_string_has_no_previous_query(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str):
    """psql runs a `-c` meta-command without a query buffer: the query of the -c before it is
    not run again (\\g does nothing, \\p finds the buffer empty, \\w, \\e and \\watch fail)."""
    monkeypatch.setenv("EDITOR", "true")
    code, out, err = same(fresh_db, fresh_db, "-c", "select 1 as x", "-c", command, cwd=tmp_path)
    assert out.count(b"(1 row)") == 1 and code == (1 if command.split()[0] in ("\\w", "\\watch", "\\e") else 0)


def test_ef_in_a_command_string_has_no_query_buffer(fresh_db, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EDITOR", "true")
    code, _, err = same(fresh_db, fresh_db, "-c", "\\ef")
    assert code == 1 and err == b"no query buffer\n"


def _frames(text: bytes) -> bytes:
    """-E's frames with the query inside left out: ours are not psql's catalog queries."""
    return re.sub(rb"(\*{9} QUERY \*{10}\n)(.*?)(\n\*{26}\n)", rb"\1<query>\3", text, flags=re.S)


@pytest.mark.parametrize(
    "args",
    [
        ["-E", "-c", "\\dt", "-c", "\\dn", "-c", "\\do ~~"],
        ["-E", "-L", "log.txt", "-c", "\\dt", "-c", "select 1"],
        ["-E", "-o", "o.txt", "-c", "\\dn"],
        ["-v", "ECHO_HIDDEN=noexec", "-f", "h.sql"],
        ["-v", "ECHO_HIDDEN=noexec", "-v", "ON_ERROR_STOP=1", "-f", "h.sql"],  # noexec fails the command
        ["-v", "ECHO_HIDDEN=0", "-c", "\\dn"],  # a boolean, as psql reads it
    ],
)
def test_echo_hidden_frames_as_psql(pg_server, tmp_path: Path, args: list[str]):
    results = []
    with twin_databases(pg_server.conninfo(), "create table t (a int)") as dbs:
        for run, db in zip((ours, theirs), dbs, strict=True):
            (tmp_path / "h.sql").write_text("\\dt\n\\echo :ERROR\n\\dn\nselect 1;\n\\do\n")
            code, out, err = run(db, *args, cwd=tmp_path)
            written = {path.name: _frames(path.read_bytes()) for path in tmp_path.iterdir() if path.name != "h.sql"}
            for path in tmp_path.iterdir():
                path.unlink()
            results.append((code, _frames(out), err, written))
    assert results[0] == results[1]


def test_a_line_prompt_takes_from_a_script_on_stdin_is_not_counted(fresh_db, tmp_path: Path):
    script = (
        "\\prompt 'name? ' nm\nBob\n\\echo :nm\nselect nosuch;\n\\i nosuch.sql\n\\o /nonexistent/dir/f\n"
        "\\set ON_ERROR_STOP 1\n\\copy nosuch from stdin\nselect 'not reached';\n"
    ).encode()
    code, out, err = same(fresh_db, fresh_db, "-f", "-", cwd=tmp_path, stdin=script)
    assert code == 3 and out == b"name? Bob\n" and err.startswith(b'psql:<stdin>:3: ERROR:  column "nosuch" does not exist\n')
    assert b"psql:<stdin>:5: error: /nonexistent/dir/f: No such file or directory\n" in err
    same(fresh_db, fresh_db, cwd=tmp_path, stdin=script)  # without -f: the text on standard error
    same(fresh_db, fresh_db, "-c", "\\prompt 'x? ' v", "-c", "\\echo :v", stdin=b"hello\n")


def test_version_flag_anywhere_prints_one_line_and_exits_0(fresh_db):
    """psql's -V/--version shape, with this program's name and version: nothing connects."""
    from nl2sql_shell import __version__

    for args in (["-V"], ["--version"], ["-X", "-c", "select 1", "--version"]):
        assert ours("host=127.0.0.1 port=1", *args) == (0, f"nl2sql-shell (nl2sql-shell) {__version__}\n".encode(), b"")
        code, out, _ = theirs("host=127.0.0.1 port=1", *args)
        assert code == 0 and out.startswith(b"psql (PostgreSQL) 15.")


QUESTION = "select 1 as a;\n? how many rows\nselect 2 as b;\n"
NO_MODEL = ["--model", "/nonexistent/model.gguf", "--backend", "llamacpp"]  # fails at once, loads nothing


@pytest.mark.parametrize(("stop", "source"), [(False, "q.sql"), (True, "q.sql"), (False, "-"), (True, "-")])
def test_a_question_without_a_model_is_one_error_line(fresh_db, tmp_path: Path, stop: bool, source: str):
    """A `?` line in a script whose model cannot load: one error line (psql's FILE:LINE: prefix
    in a file), then the script goes on, or stops with exit code 3 under ON_ERROR_STOP."""
    (tmp_path / "q.sql").write_text(QUESTION)
    flags = ["-v", "ON_ERROR_STOP=1"] if stop else []
    code, out, err = ours(fresh_db, "-X", *NO_MODEL, *flags, "-f", source, cwd=tmp_path, stdin=QUESTION.encode())
    prefix = b"psql:q.sql:2: error: " if source == "q.sql" else b"psql:<stdin>:2: error: "
    assert err == prefix + b"GGUF file /nonexistent/model.gguf does not exist: fetch it or pass --model with another file\n"
    assert (code, b" b \n" in out) == ((3, False) if stop else (0, True))


_PROMPT_END = re.compile(rb"[=\-'\"$(*]# $")


def _typed_on_a_terminal(command: list[str], lines: list[bytes]) -> bytes:
    """Type ``lines`` one at a time at ``command`` on a pseudo-terminal, each once the prompt is
    back; everything the terminal showed (its own echo of the typing included)."""
    import os
    import pty
    import select
    import subprocess
    import time

    from psqlcompare import env

    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env={**env(), "TERM": "dumb"})
    os.close(follower)
    shown = b""

    def read_until(done) -> None:  # noqa: ANN001 - a predicate on what was shown
        nonlocal shown
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not done(shown):
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed with the program
                    return
                if not chunk:
                    return
                shown += chunk

    read_until(lambda text: _PROMPT_END.search(text))
    for line in lines:
        mark = len(shown)
        os.write(leader, line)
        read_until(lambda text, mark=mark: _PROMPT_END.search(text[mark:]) and text[mark:].count(b"\n") >= 1)
    os.write(leader, b"\x04")
    read_until(lambda text: False)
    process.wait(timeout=30)
    os.close(leader)
    return shown


def test_no_readline_prompt_reads_lines_as_psql_does(fresh_db):
    """-n: the prompt on standard output, the terminal's own echo and editing (an arrow key is
    text), each complete statement sent as soon as its line is read, \\q at end of input."""
    from psqlcompare import SHELL

    lines = [b"select 1 as a;\r", b"sel\x1b[Dx\r", b";\r", b"select 'a\r", b"b';\r", b"\\s\r", b"select 2 \\g\r", b"select 3; select\r", b"4;\r"]
    for quiet in (["-q"], []):  # quiet: an empty line at the end instead of \\q
        mine = _typed_on_a_terminal([*SHELL, fresh_db, "-X", "-n", *quiet], lines)
        psql = _typed_on_a_terminal([str(PSQL), "-X", fresh_db, "-n", *quiet], lines)
        if not quiet:  # psql's banner and ours differ by design
            prompt = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"].encode() + b"=# "
            mine, psql = mine[mine.index(prompt) :], psql[psql.index(prompt) :]
            assert psql.endswith(b"=# \\q\r\n")
        assert mine == psql


# Colours between %[ %], the user, socket and port, %~ for the user's own database, the
# transaction, %l, PROMPT2's %w (PROMPT1's width), a variable and a command's output, octal
# and unknown escapes; each prompt ends as _PROMPT_END expects.
CUSTOM_PROMPTS = [
    "-v", "PROMPT1=%[%033[1;32m%]%n@%m:%>/%~%]%x [%l] %:FOO: %`echo hi` |%q%% %0101 %R%# ",
    "-v", "PROMPT2=%w%l%R%# ",
]


def test_prompt1_and_prompt2_are_rendered_as_psql_renders_them(fresh_db):
    """Custom prompts, as a ~/.psqlrc sets them, on a terminal (-n, where psql prints them
    as they are): %l counts only the lines psql's lexer ends outside quotes and parentheses."""
    from psqlcompare import SHELL

    lines = [b"\\set FOO bar\r", b"select 1\r", b",'a\r", b"b'\r", b", (2\r", b")\r", b";\r", b"begin;\r", b"select\r", b"3;\r", b"commit;\r"]
    mine = _typed_on_a_terminal([*SHELL, fresh_db, "-X", "-n", "-q", *CUSTOM_PROMPTS], lines)
    psql = _typed_on_a_terminal([str(PSQL), "-X", fresh_db, "-n", "-q", *CUSTOM_PROMPTS], lines)
    assert mine == psql
    assert b"\x01\x1b[1;32m\x02" in psql and b"\x02* [1] bar hi " in psql and b"|q% A =# " in psql and b"2-# " in psql


def test_copy_data_typed_at_a_terminal_gets_the_instructions_and_prompt3(fresh_db):
    """COPY FROM STDIN at a terminal: psql's instructions (not with -q) and PROMPT3 before
    each data line, its %x the transaction the COPY holds open."""
    from psqlcompare import SHELL

    lines = [b"create temp table t (a int);\r", b"copy t from stdin;\r", b"1\r", b"2\r", b"\\.\r", b"select count(*) from t;\r"]
    for quiet in (["-q"], []):
        flags = ["-X", "-n", *quiet, "-v", "PROMPT3=%/%x copy=# "]
        mine = _typed_on_a_terminal([*SHELL, fresh_db, *flags], lines)
        psql = _typed_on_a_terminal([str(PSQL), fresh_db, *flags], lines)
        start = psql.index(b"create temp")
        assert mine[mine.index(b"create temp") :] == psql[start:]
        assert psql.count(b"* copy=# ") == 3 and (b"Enter data to be copied" in psql) == (not quiet)


def test_backslash_e_at_a_terminal_runs_what_the_editor_completes(fresh_db, tmp_path: Path, monkeypatch):
    """\\e on the last query, then on the query buffer: the editor's complete statement runs
    at once, as psql reads it back (-n, on a terminal)."""
    from psqlcompare import SHELL

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nfor f; do :; done\nprintf "select 42 as e;\\n" > "$f"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    lines = [b"select 1 as x;\r", b"\\e\r", b"select 2 as y\r", b"\\e\r", b"\\p\r"]
    mine = _typed_on_a_terminal([*SHELL, fresh_db, "-X", "-n", "-q"], lines)
    psql = _typed_on_a_terminal([str(PSQL), "-X", fresh_db, "-n", "-q"], lines)
    assert mine == psql and psql.count(b" 42\r\n(1 row)") == 2 and b" y \r" not in psql


def _detached(command: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    """Run without a controlling terminal (no /dev/tty), as psql's password prompt falls back
    to standard error and input then; our program name made psql's."""
    import subprocess

    from psqlcompare import env

    done = subprocess.run(command, input=stdin, capture_output=True, env=env(), timeout=60, check=False, start_new_session=True)
    return done.returncode, done.stdout, re.sub(rb"^nl2sql-shell:", b"psql:", done.stderr, flags=re.M)


@pytest.mark.parametrize(
    "target",
    [
        "host=localhost port=1",  # the name as given, the address after it
        "host=/nonexistent",
        "host=127.0.0.1,127.0.0.2 port=1",  # libpq's own walk over the hosts
        "host=nosuchhost.invalid",
        "port=abc",
    ],
)
def test_a_failed_connection_is_libpqs_whole_message(target: str):
    from psqlcompare import SHELL

    mine = _detached([*SHELL, target, "-c", "select 1"], b"")
    assert mine == _detached([str(PSQL), "-X", target, "-c", "select 1"], b"") and mine[0] == 2


@pytest.mark.parametrize("flags", [[], ["-w"], ["-W"]])
def test_a_password_is_asked_as_psql_asks(pg_server, flags: list[str]):
    """The embedded server wants a password that user has none for: psql asks (on standard
    error without a terminal, the answer from standard input), then fails; -w never asks."""
    from psqlcompare import SHELL

    target = pg_server.conninfo().replace(" password=''", "") + " user=no_such_user"  # (an empty password given would win over the one typed, in psql)
    mine = _detached([*SHELL, target, *flags, "-c", "select 1"], b"wrong\n")
    psql = _detached([str(PSQL), "-X", target, *flags, "-c", "select 1"], b"wrong\n")
    assert mine == psql and psql[0] == 2
    assert psql[2].startswith(b"" if flags == ["-w"] else b"Password: \n" if flags else b"Password for user no_such_user: \n")


def test_w_s_prompt_at_connect_names_the_user_only_as_typed(pg_server, fresh_db):
    """-W and `\\c DB` with no user: psql asks "Password: " (it names a user only when the
    line typed one); the shell named the user it reused."""
    from psqlcompare import SHELL

    from nl2sql_shell.db import embedded

    password = embedded.read_password(pg_server.data_dir)
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    stdin = f"{password}\n\\c {dbname}\n{password}\n\\c {dbname} postgres\n{password}\n\\c - -\n{password}\n".encode()
    mine = _detached([*SHELL, fresh_db, "-W"], stdin)
    psql = _detached([str(PSQL), "-X", fresh_db, "-W"], stdin)
    assert mine == psql and psql[2].count(b"Password: ") == 3 and psql[2].count(b"Password for user postgres: ") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "/nonexistent/x", "-c", "select 1"],
        ["-f", "/etc", "-c", "select 2"],
        ["-v", "ON_ERROR_STOP=1", "-f", "/etc", "-c", "select 3"],
        ["-f", "d.sql"],
        ["-v", "ON_ERROR_STOP=1", "-f", "d.sql"],
    ],
)
def test_files_that_cannot_be_used(fresh_db, tmp_path: Path, args: list[str]):
    (tmp_path / "sub").mkdir()
    (tmp_path / "d.sql").write_text("\\i /etc\n\\o /etc\nselect 1;\n\\copy (select 1) to /etc\n\\ir sub\n")
    same(fresh_db, fresh_db, *args, cwd=tmp_path)


G_FILES = (
    "create temp table t (a int, b text);\n"
    "insert into t values (3,'q') \\g o1.txt\n"  # a tag only: to the query output, no file made
    "insert into t values (4,'r') returning a \\g o2.txt\n"
    "copy t to stdout \\g o3.txt\n"  # the data to the file, COPY 2 to the query output
    "copy t to stdout with csv \\g |cat\n"
    "\\o o4.txt\ncopy t to stdout \\g o5.txt\nselect 1 \\g o6.txt\ncopy t to stdout;\n\\o\n"
    "copy t from stdin with csv;\n7,\"a\n\\.\nb\"\n\\.\n"  # psql ends CSV data at \\. and sends it
)


def test_g_file_takes_rows_and_copy_data_and_leaves_the_tag(fresh_db, tmp_path: Path):
    (tmp_path / "g.sql").write_text(G_FILES)
    outputs = []
    for run in (ours, theirs):
        result = run(fresh_db, "-f", "g.sql", cwd=tmp_path)
        outputs.append((result, {path.name: path.read_bytes() for path in sorted(tmp_path.glob("o*.txt"))}))
        for path in tmp_path.glob("o*.txt"):
            path.unlink()
    assert outputs[0] == outputs[1]
    assert "o1.txt" not in outputs[1][1] and outputs[1][1]["o4.txt"] == b"COPY 2\n3\tq\n4\tr\n"


def test_meta_command_quotes_take_hex_escapes(fresh_db):
    same(fresh_db, fresh_db, "-c", "\\echo 'tab\\there' '\\101\\x41\\x4a\\x4' 'nl\\nx'")


PSTDIN = "create temp table t (a int);\n\\copy t from stdin\n1\n2\n\\.\n\\copy t from pstdin\n3\n\\.\ncopy t from stdin;\n4\n\\.\nselect count(*) from t;\n"


@pytest.mark.parametrize("args", [["-f", "-"], [], ["-f", "c.sql"]])
def test_copy_from_pstdin_when_the_script_is_standard_input(fresh_db, tmp_path: Path, args: list[str]):
    (tmp_path / "c.sql").write_text(PSTDIN)
    _, out, _ = same(fresh_db, fresh_db, *args, cwd=tmp_path, stdin=PSTDIN.encode())
    assert b"     4\n" in out or args == ["-f", "c.sql"]


@pytest.mark.parametrize(
    "script",
    [
        "create temp table t (a int);\ninsert into t values (1) \\g /nonexistent/x\nselect 1 \\g /nonexistent/x\nselect count(*) from t;\n",
        "create temp table t (a int);\ninsert into t values (1);\ncopy t to stdout \\g /nonexistent/x\n\\set ON_ERROR_STOP 1\nselect 1 \\g /etc\nselect 2;\n",
    ],
)
def test_g_file_that_cannot_be_opened_still_runs_the_query(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "g.sql").write_text(script)
    same(fresh_db, fresh_db, "-f", "g.sql", cwd=tmp_path)


def test_ctrl_c_in_a_watched_query_ends_the_script_after_the_empty_line(fresh_db, tmp_path: Path):
    import sys

    from repl.test_scripts_psql import _interrupted  # SIGINT once the server runs pg_sleep(60)

    (tmp_path / "w.sql").write_text("select pg_sleep(60) \\watch 1\nselect 2 as after;\n")
    mine = _interrupted([sys.executable, "-m", "nl2sql_shell", fresh_db, "-f", "w.sql"], fresh_db, tmp_path)
    psql = _interrupted([str(PSQL), "-X", fresh_db, "-f", "w.sql"], fresh_db, tmp_path)
    assert mine == psql == (3, b"\n", b"Cancel request sent\npsql:w.sql:1: ERROR:  canceling statement due to user request\n")


EXTRA_WORDS = """\\timing on off
\\x on :foo
\\a 'quoted word' `echo never run`
\\pset border 2 3
\\t on z
\\C title more
\\f , x
\\errverbose x
\\setenv NL2SQL_X b c
\\unset a b
\\prompt a b c
\\o /dev/null x
\\o
\\connect - - - - extra
\\restrict k x
\\unrestrict k y
\\timing nope extra
\\q x
"""


@pytest.mark.parametrize("how", ["-f", "-c"])
def test_each_word_a_meta_command_does_not_read_is_warned_of(fresh_db, tmp_path: Path, how: str):
    """psql reads a fixed number of words for most meta-commands, runs the command, then warns
    of each word left ("\\timing: extra argument "off" ignored"), unevaluated; after a command
    that failed (`\\timing nope`) it drops them silently."""
    (tmp_path / "extra.sql").write_text(EXTRA_WORDS)
    args = ["-f", "extra.sql"] if how == "-f" else [arg for line in EXTRA_WORDS.splitlines() for arg in ("-c", line)]
    code, out, err = same(fresh_db, fresh_db, "-v", "foo=bar", *args, cwd=tmp_path, stdin=b"typed\n")
    assert b'\\timing: extra argument "off" ignored' in err and b'extra argument ":foo" ignored' in err
    assert b'\\a: extra argument "echo never run" ignored' in err and b"extra argument \"nope\"" not in err
    assert b'\\q: extra argument "x" ignored' in err


def test_listen_shows_each_notification_after_the_next_statement(fresh_db, tmp_path: Path):
    """LISTEN's notifications, this session's own and another's (sent by `\\! psql` between two
    statements), printed as psql prints them after the statement that read them, into the \\o
    file too; none after UNLISTEN. Only the sender's PID differs between the two runs."""
    other = f"\\! {PSQL} -X -q \"{fresh_db}\" -c \"notify jobs, 'from another session'\"\n"
    script = "listen jobs;\nnotify jobs, 'mine';\nnotify jobs;\n\\o out.txt\nselect pg_notify('jobs', 'to the file');\n\\o\n" + other + "select 1;\nunlisten *;\nnotify jobs;\n"
    (tmp_path / "listen.sql").write_text(script)
    runs = []
    for run in (ours, theirs):
        code, out, err = run(fresh_db, "-f", "listen.sql", cwd=tmp_path)
        runs.append((code, re.sub(rb"PID \d+", b"PID n", out), err, re.sub(r"PID \d+", "PID n", (tmp_path / "out.txt").read_text())))
    assert runs[0] == runs[1]
    code, out, _, to_file = runs[0]
    assert b'NOTIFY\nAsynchronous notification "jobs" with payload "mine" received from server process with PID n.\n' in out
    assert b'Asynchronous notification "jobs" received from server process with PID n.\n' in out  # no payload: none shown
    assert b'Asynchronous notification "jobs" with payload "from another session" received' in out
    assert 'with payload "to the file"' in to_file and out.endswith(b"UNLISTEN\nNOTIFY\n")


@pytest.mark.parametrize("flags", [["-e"], ["-L", "session.log"], ["-a"]])
def test_gset_and_crosstabview_queries_are_echoed_and_logged_as_psql_sends_them(fresh_db, tmp_path: Path, flags: list[str]):
    """-e prints, and -L logs, the query \\gset and \\crosstabview send (variables substituted),
    as for any other query."""
    (tmp_path / "sent.sql").write_text("\\set x 3\nselect :x as c \\gset\nselect 'a' as k, 'b' as c, :x as v \\crosstabview\n")
    logs = []
    for run in (ours, theirs):
        code, out, err = run(fresh_db, *flags, "-f", "sent.sql", cwd=tmp_path)
        log = tmp_path / "session.log"
        logs.append((code, out, err, log.read_text() if log.exists() else ""))
        log.unlink(missing_ok=True)
    assert logs[0] == logs[1]
    assert flags == ["-a"] or b"select 3 as c \n" in logs[0][1] + logs[0][3].encode()  # -a echoes the line as typed


def test_the_rest_of_a_line_is_thrown_away_after_a_meta_command_that_failed(fresh_db, tmp_path: Path):
    """`\\foo \\echo c` runs nothing after the invalid command, as psql; a command that succeeds
    lets the next one on its line run; \\copy's error sets LAST_ERROR_MESSAGE as a query's."""
    (tmp_path / "rest.sql").write_text(
        "\\timing nope \\\\ \\echo not shown\n\\echo a \\\\ \\foo \\\\ \\echo not shown\n\\foo \\echo not shown\n"
        "\\echo d \\\\ \\echo e\nselect 'x' \\\\ select 'y';\nselect 5;\n"
        "\\copy nosuch to stdout\n\\echo :ERROR :LAST_ERROR_MESSAGE\n\\o | cat\n\\o\n"
    )
    code, out, err = same(fresh_db, fresh_db, "-f", "rest.sql", cwd=tmp_path)
    assert b"not shown" not in out and out.startswith(b"Timing is off.\na\nd\ne\n")
    assert b'true relation "nosuch" does not exist\n' in out and b"warning" not in err


@pytest.mark.parametrize(
    "args",
    [["-c", "\\endif"], ["-c", "\\else"], ["-c", "\\if nope"], ["-v", "ON_ERROR_STOP=1", "-f", "cond.sql"]],
)
def test_a_misplaced_else_or_endif_is_a_failed_command(fresh_db, tmp_path: Path, args: list[str]):
    """`\\endif` with no \\if, or a second \\else, fails as psql's does (exit 1 from -c, 3 where
    ON_ERROR_STOP ends the file); an \\if value psql cannot read is only an error message."""
    (tmp_path / "cond.sql").write_text("\\if true\n\\else\n\\else\n\\endif\n\\echo not reached\n")
    code, out, err = same(fresh_db, fresh_db, *args, cwd=tmp_path)
    assert code == (0 if "\\if nope" in args else 3 if "-f" in args else 1) and b"not reached" not in out


JOINED = (
    "select 1 \\; select 2;\n"
    "select 'a\\;b', $$x\\;$$ \\; select 2 as \"q\\;\" \\gx\n"
    "select 3 \\;\n select 4;\n"
    "select 1 \\; select 1/0 \\; select 3;\n"
    "select 1 as x \\; select 2 as y \\gset\n\\echo :x :y\n"
    "select $$select 7$$ \\; select $$select 8$$ \\gexec\n"
    "select 1/0 \\; select 5 as z \\gset\n\\echo :z\n"
    "select 1 \\; select 2 \\p\n\\g\n"
)


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_backslash_semicolon_joins_statements_into_one_query(fresh_db, tmp_path: Path, where: str):
    """psql's \\; sends a ; without ending the statement: the statements go as one query and
    every result is printed; \\gset and \\gexec take the last one."""
    (tmp_path / "j.sql").write_text(JOINED)
    args, stdin = (("-f", "j.sql"), None) if where == "file" else ((), JOINED.encode())
    _, out, err = same(fresh_db, fresh_db, *args, cwd=tmp_path, stdin=stdin)
    assert b"a\\;b" in out and b"\nq\\; | 2\n" in out and b"\n:x 2\n" in out and b"\n:z\n" in out
    assert b"invalid command" not in err and err.count(b"division by zero") == 2


# Text where the shell's scanners once read a meta-command that psql's lexer does not: psql
# keeps each `\! touch ran` below inside a string, or refuses the command's name.
KEPT_IN_QUOTES = [
    "select 1;\n\\!touch ran\n",  # a command's name ends only at a blank: \!touch is no \!
    "select 1 as a\n\\: $$\n\\! touch ran\n$$ as b;\n",  # \: is a plain colon, also at a line's start
    "select 'x' \\: '\n\\! touch ran\n';\n",
    "select 1 as a;\n\\; select $$\n\\! touch ran\n$$ as b;\n",  # \; is a ; that ends nothing
    "-- note\rselect $$\n\\! touch ran\n$$ as b;\n",  # a -- comment ends at a carriage return
    "select E'a'\r'\\'; \\! touch ran #\r';\n",  # an E'' string goes on across a carriage return
    "\\set v 5\nselect \\:v as \"\\:v\";\n",  # \: names no variable
    "select 1 as a \\;\n",  # the unfinished rest: \; sent as ;
    "select 1 as x \\; create function f() returns int language sql begin atomic select 1; select 2; end;\n",
    "select 1 \\echo\tx\n\\p\r\n",  # a command's name ends at any blank
]


@pytest.mark.parametrize("where", ["file", "stdin"])
@pytest.mark.parametrize("script", KEPT_IN_QUOTES)
def test_text_psql_keeps_inside_a_string_runs_no_command(fresh_db, tmp_path: Path, script: str, where: str):
    (tmp_path / "k.sql").write_text(script, newline="")
    args, stdin = (("-f", "k.sql"), None) if where == "file" else ((), script.encode())
    with twin_databases(fresh_db) as (mine, psqls):
        same(mine, psqls, *args, cwd=tmp_path, stdin=stdin)
    assert not (tmp_path / "ran").exists()


def test_a_word_in_an_unclosed_quote_is_absent_and_its_command_not_run(fresh_db, tmp_path: Path):
    """psql reports the unterminated quote and drops that word; a backquoted command in it
    does not run."""
    script = "\\echo a 'b c\n\\echo x \"y\n\\echo p `touch ran\n\\qecho q 'r\nselect 1 \\g\tg.out\n\\echo done\n"
    (tmp_path / "u.sql").write_text(script)
    with twin_databases(fresh_db) as (mine, psqls):
        same(mine, psqls, "-f", "u.sql", cwd=tmp_path)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    "script",
    [
        "select 1 as a \\echo held\n; \\echo x\nselect 2 as b;\n",  # the ; after the meta-command sends the held text first
        "select 'held' as h \\p\n? how many rows\n;\n",  # with text held, a ? line is more query text
        ";\n\\echo a\nselect 1 as y\nfoo\n;\n",  # an empty statement is not held and glued to the next
        "select 1 as a \\echo held\n;\n",
    ],
)
def test_query_text_held_across_a_meta_command_ends_where_psql_ends_it(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "held.sql").write_text(script)
    same(fresh_db, fresh_db, "-f", "held.sql", cwd=tmp_path)


@pytest.mark.parametrize(
    "line",
    ["\\e ²", "\\e e.sql ²", "\\e e.sql 2x", "select 1 as a, 2 as b, 3 as c \\crosstabview ² b", "select 1 as a, 2 as b, 3 as c \\crosstabview 1٣ b", "\\pset border ٣"],
)
def test_a_digit_outside_ascii_is_no_number_to_psql(fresh_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str):
    """Python's isdigit() took `²` for a digit and int() then raised: the shell ended with a
    traceback. psql reads ASCII digits only (atoi)."""
    monkeypatch.setenv("EDITOR", "true")
    (tmp_path / "e.sql").write_text(line + "\nselect 9 as z;\n")
    same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path)


@pytest.mark.parametrize(
    "script",
    [
        b"select 1 as a\0; delete from t;\nselect count(*) from t;\n",  # psql reads a line as a C string: the rest is gone
        b"select 2 as b;\n" + b"x" * 1500 + b"\0 junk\nselect 3 as c;\n",  # fgets reads 1023 bytes at a time
        b"select 1 as a;\n\\echo one\0 two\n\\echo three\n",
    ],
    ids=["statement", "long-line", "meta-command"],
)
def test_a_nul_byte_in_a_script_ends_its_line_there_as_in_psql(pg_server, tmp_path: Path, script: bytes):
    """The shell read the whole line: psql never sends what follows a NUL on its line, so
    `select 1 as a\\0; delete from t;` deleted every row under the shell alone."""
    (tmp_path / "nul.sql").write_bytes(script)
    with twin_databases(pg_server.conninfo(), "CREATE TABLE t (a int); INSERT INTO t VALUES (1);") as (mine, psql):
        same(mine, psql, "-f", "nul.sql", cwd=tmp_path)
        with psycopg.connect(mine) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


@pytest.mark.parametrize(
    "script",
    [
        "\\echo a \\\\ ? how many rows in t\nselect 2 as two;\n",
        "select 1 as one; ? how many rows in t\nselect 2 as two;\n",
        "select 1 as one; ? how many rows in t\n",  # the unfinished end of the file
        "\\echo hi \\\\ ? how many rows in t",
        "\\setenv EDITOR 'printf \"? how many rows in t\\\\nselect 1 as a;\\\\n\" >'\n\\e\n",  # the editor's text
    ],
    ids=["after-meta", "after-statement", "file-end", "file-end-after-meta", "editor"],
)
def test_a_question_mark_inside_a_line_is_query_text_as_in_psql(fresh_db, tmp_path: Path, script: str):
    """Only a line that starts with `?` is a question: the rest of a line after `\\\\` or a
    statement is query text, joined with the next line, as psql reads it (here a syntax error)."""
    (tmp_path / "q.sql").write_text(script)
    mine = ours(fresh_db, "-X", *NO_MODEL, "-f", "q.sql", cwd=tmp_path)
    assert mine == theirs(fresh_db, "-f", "q.sql", cwd=tmp_path) and b'syntax error at or near "?"' in mine[2]


def test_a_connection_ended_between_statements_prints_the_server_s_fatal_as_psql(pg_server, tmp_path: Path):
    """The server ended the session while the script was between statements: a SELECT's
    first message (our BEGIN) got the FATAL, the statement was rerun on the dead connection,
    and "the connection is closed" replaced the server's own words."""
    admin = pg_server.conninfo()
    results = []
    with twin_databases(admin) as twins:
        for side, name in zip(("mine", "psql"), twins, strict=True):
            dbname = psycopg.conninfo.conninfo_to_dict(name)["dbname"]
            kill = f"select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '{dbname}' and pid <> pg_backend_pid()"
            (tmp_path / side).mkdir()
            (tmp_path / side / "t.sql").write_text(f'select 1 as one;\n\\! {PSQL} -X -qAt -d "{admin}" -c "{kill}" > /dev/null\nselect 2 as two;\n')
            run = ours if side == "mine" else theirs
            results.append(run(name, "-f", "t.sql", cwd=tmp_path / side))
    assert results[0] == results[1] and b"FATAL:  terminating connection due to administrator command" in results[0][2]


@pytest.mark.parametrize("interval", ["1e999", "nan", "1e20"])
def test_watch_with_an_interval_psql_s_timer_cannot_take_is_its_error(fresh_db, tmp_path: Path, interval: str):
    """`\\watch 1e999` ended the whole shell with a traceback (Python's sleep overflowed);
    psql prints the result, then "could not set timer", and goes on."""
    (tmp_path / "w.sql").write_text(f"select 1 as a \\watch {interval}\nselect 2 as b;\n")
    mine, psql = (run(fresh_db, "-f", "w.sql", cwd=tmp_path) for run in (ours, theirs))
    undated = [(code, re.sub(rb"^.* \(every", b"(every", out, flags=re.MULTILINE), err) for code, out, err in (mine, psql)]
    assert undated[0] == undated[1] and b"could not set timer: Invalid argument" in mine[2] and b" b \n" in mine[1]


@pytest.mark.parametrize("flags", [[], ["-v", "AUTOCOMMIT=off"], ["-1"]], ids=["begin", "autocommit-off", "single-transaction"])
def test_a_select_failing_as_its_rows_are_read_aborts_the_transaction_as_in_psql(pg_server, tmp_path: Path, flags: list[str]):
    """The shell's own savepoint around a SELECT inside the person's transaction swallowed an
    error met while its rows were fetched: the transaction went on, and COMMIT kept the rows
    psql rolls back."""
    script = "begin;\ninsert into k values (5);\nselect 1 / (a - 1) from k;\ninsert into k values (6);\ncommit;\nselect * from k order by a;\n"
    (tmp_path / "t.sql").write_text(script if flags != ["-1"] else script.replace("begin;\n", "").replace("commit;\n", ""))
    with twin_databases(pg_server.conninfo(), "CREATE TABLE k (a int); INSERT INTO k VALUES (1);") as (mine, psql):
        _, out, err = same(mine, psql, *flags, "-f", "t.sql", cwd=tmp_path)
        with psycopg.connect(mine) as conn:
            assert conn.execute("SELECT count(*) FROM k").fetchone() == (1,)
    assert b"division by zero" in err


def test_single_transaction_covers_a_script_on_stdin_as_in_psql(pg_server):
    """psql takes a script on stdin for a file, so -1 wraps it too; the shell ran each
    statement on its own and kept what came before the error."""
    script = b"create table u (a int primary key);\ninsert into u values (1);\ninsert into u values (1);\ninsert into u values (2);\n"
    with twin_databases(pg_server.conninfo()) as (mine, psql):
        same(mine, psql, "-1", stdin=script)
        with psycopg.connect(mine) as conn:
            assert conn.execute("SELECT to_regclass('u')").fetchone() == (None,)


FILE_WORDS = (
    "\\i 'my file.sql'\n\\set f a.sql\n\\i :f\n\\ir 'my file.sql'\n\\i \"a.sql\"\n\\i\n\\ir\n"
    "\\o 'out 1.txt'\nselect 1 as one;\n\\o /nonexistent/dir/x\nselect 2 as two;\n\\o\n\\! cat 'out 1.txt'\n"
)


def test_i_and_o_read_their_file_as_a_word_and_a_failed_o_keeps_its_target(fresh_db, tmp_path: Path):
    """psql reads `\\i`'s and `\\o`'s file as it reads any word (quotes, variables), and opens
    a new `\\o` target before it closes the old one: results after a failed `\\o` still go
    to the file."""
    (tmp_path / "my file.sql").write_text("select 42 as x;\n")
    (tmp_path / "a.sql").write_text("select 7 as y;\n")
    (tmp_path / "s.sql").write_text(FILE_WORDS)
    code, out, err = ours(fresh_db, "-f", "s.sql", cwd=tmp_path)
    (tmp_path / "out 1.txt").unlink()
    assert (code, out, err) == theirs(fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert out.count(b" 42\n") == 2 and b" one \n" in out and b" two \n" in out
    assert b"\\i: missing required argument" in err and b"\\ir: missing required argument" in err


def test_a_file_that_includes_itself_ends_in_one_error_line(fresh_db, tmp_path: Path):
    """psql nests until it runs out of open files (or stack) and then goes on; the shell stops
    at a depth of its own with one line, and the script goes on."""
    (tmp_path / "self.sql").write_text("select coalesce(:n, 0) + 1 as n \\gset\n\\i self.sql\n")
    code, out, err = ours(fresh_db, "-v", "n=0", "-f", "self.sql", "-c", "\\echo :n done", cwd=tmp_path)
    assert code == 0 and b"Traceback" not in err
    assert err.decode().splitlines() == ["psql:self.sql:2: error: self.sql: too many nested \\i (at most 64 files)"]
    assert out == b"65 done\n"


SCRIPT_RULES = {
    "q.sql": "\\echo in-q\n\\if true\n\\q\n\\endif\n\\echo not-here\n",
    "stops.sql": "\\set ON_ERROR_STOP 1\nselect 1/0;\n\\echo not-here\n",
    "open_if.sql": "\\if true\n\\echo inside\n",
    "main.sql": (
        "\\i q.sql\n\\echo after-q\n"  # \\q ends the included file only
        "\\i stops.sql\n\\echo after-stop\n"  # ON_ERROR_STOP set inside: the including file goes on
        "\\encoding bogus\n\\echo after-encoding\n"  # psql counts no failure
        "\\set AUTOCOMMIT off\nsavepoint s;\nrollback to s;\nprepare p as select 1;\nrollback;\ndiscard plans;\nrollback;\ncommit;\n\\set AUTOCOMMIT on\n"
        "explain select 1;\n\\echo :ROW_COUNT\nshow work_mem;\n\\echo :ROW_COUNT\nselect 1 \\; show work_mem;\n\\echo :ROW_COUNT\nvalues (1), (2);\n\\echo :ROW_COUNT\n"
        "\\echo :DBNAME :USER :MINE\n"
        "\\if false\n\\elif maybe\n\\endif\n"
        "\\i open_if.sql\n\\echo after-open-if\n"  # ON_ERROR_STOP is on: an \\if left open stops
    ),
}


def test_scripts_end_stop_and_count_as_psql(fresh_db, tmp_path: Path):
    """`\\q` in an included file ended the including one; an error in an included file that
    set ON_ERROR_STOP itself stopped the including one (psql reads the variable as each line
    starts); an \\if left open under ON_ERROR_STOP did not stop; `\\encoding bogus` failed;
    AUTOCOMMIT off sent no BEGIN before SAVEPOINT, PREPARE and DISCARD PLANS; ROW_COUNT
    counted EXPLAIN's and SHOW's rows; `-v DBNAME=` outlived the connection; `\\elif`'s bad
    value was named \\if's."""
    for name, text in SCRIPT_RULES.items():
        (tmp_path / name).write_text(text)
    code, out, err = same(fresh_db, fresh_db, "-v", "DBNAME=other", "-v", "USER=nobody", "-v", "MINE=mine", "-f", "main.sql", "-c", "\\echo not-run", cwd=tmp_path)
    assert code == 3 and b"in-q\nafter-q\n" in out and b"after-stop\nafter-encoding\n" in out and b"not-here" not in out
    assert out.count(b"(1 row)\n\n0\n") == 3 and b"(2 rows)\n\n2\n" in out and b" postgres mine\n" in out and b"inside\n" in out and b"after-open-if" not in out and b"not-run" not in out
    assert b'"\\elif expression"' in err and b"SAVEPOINT can only be used" not in err


UNTERMINATED = (
    "\\if 'true\n\\echo wrong-branch\n\\else\n\\echo else-branch\n\\endif\n"
    "\\set B \"q\n\\echo [:B]\n\\set D 'x\n\\echo [:D]\n\\pset null 'x\n\\getenv v 'HOME\n\\echo [:v]\n"
    "\\timing on 'x\n\\timing off\n\\set E 'ok' 'y\n\\echo :E\n"
)


def test_a_word_left_inside_a_quote_is_absent_after_psqls_error(fresh_db, tmp_path: Path):
    """Only \\echo and the \\d family knew: `\\if 'true` took the branch, `\\set D 'x` set x,
    `\\getenv v 'HOME` read HOME."""
    (tmp_path / "u.sql").write_text(UNTERMINATED)
    _, out, err = same(fresh_db, fresh_db, "-f", "u.sql", cwd=tmp_path)
    assert b"wrong-branch" not in out and b"else-branch" in out and b"[]\n[]\n" in out and err.count(b"unterminated quoted string") == 7


def test_timing_as_psql_prints_it(fresh_db, tmp_path: Path):
    """From a second on psql adds (mm:ss.fff); \\gset, \\crosstabview, \\gexec and \\copy
    are timed too."""
    (tmp_path / "t.sql").write_text(
        "\\timing on\nselect 1 as a \\gset\nselect 1 \\gset\n\\copy (select 1) to stdout\n\\copy (select 1) to /dev/null\n"
        "select 1 as x, 2 as y, 3 as v \\crosstabview\nselect 1 \\gdesc\nselect $$select 1 as q$$ \\gexec\nselect pg_sleep(1.05);\n"
    )

    def masked(result: tuple[int, bytes, bytes]) -> tuple[int, bytes, bytes]:
        code, out, err = result
        return code, re.sub(rb"Time: \d+\.\d{3} ms( \(00:01\.\d{3}\))?", lambda m: b"Time: N ms" + (b" (00:01.X)" if m.group(1) else b""), out), err

    mine, psql = masked(ours(fresh_db, "-f", "t.sql", cwd=tmp_path)), masked(theirs(fresh_db, "-f", "t.sql", cwd=tmp_path))
    assert mine == psql and mine[1].count(b"Time: N ms") == 9 and b"Time: N ms (00:01.X)\n" in mine[1]


NONSTANDARD = (
    "set standard_conforming_strings = off;\ncreate temp table q(a text);\ninsert into q values ('b\\'');\n"  # a WARNING at a position
    "set escape_string_warning = off;\nselect 'a\\'';\nselect 2 as two;\nselect 3 as \"';\";\nselect 4 as four;\n"
    "\\set s x\nselect 'a\\\\' || :'s' as joined;\nreset standard_conforming_strings;\nselect 'c\\' as c;\n"
)


def test_standard_conforming_strings_off_reads_backslashes_as_psql(fresh_db, tmp_path: Path):
    """The scanner took `'a\\''` as unclosed once the session set standard_conforming_strings
    off, and the statements after it ran as one; the server's WARNING lacked its LINE display."""
    (tmp_path / "s.sql").write_text(NONSTANDARD)
    _, out, err = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert b" two \n" in out and b" four \n" in out and b" a\\x\n" in out and b" c\\\n" in out
    assert b"LINE 1: insert into q values ('b\\'');" in err


def test_show_all_results_off_shows_the_last_result(fresh_db, tmp_path: Path):
    (tmp_path / "s.sql").write_text(
        "\\set SHOW_ALL_RESULTS off\nselect 1 as a \\; select 2 as b;\nselect 1 as a \\; select 1/0;\nselect 1/0 \\; select 2 as b;\n"
        "select 1 as a \\; copy (select 5) to stdout \\; select 3 as c;\n\\echo :ROW_COUNT\n"
    )
    _, out, _ = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert b" a \n" not in out and b" b \n" in out and b"5\n c \n" in out
    same(fresh_db, fresh_db, "-v", "SHOW_ALL_RESULTS=off", "-c", "select 1 as a; select 2 as b")


def test_include_of_stdin_and_the_same_line_s_on_error_stop_as_psql(fresh_db, tmp_path: Path):
    """`\\i -` looked for a file named `-`; `\\set ON_ERROR_STOP 1 \\\\ select 1/0` stopped the
    script where psql, which reads the variable as a line starts, goes on; `\\ir` named
    `a/b/../z.sql` in its errors where psql tidies the path."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "z.sql").write_text("select 1/0;\n")
    (tmp_path / "a" / "b" / "in.sql").write_text("\\ir ../z.sql\n")
    (tmp_path / "s.sql").write_text("select 1 as one;\n\\i -\nselect 2 as two;\n\\i a/b/in.sql\n\\set ON_ERROR_STOP 1 \\\\ select 1/0;\nselect 3 as three;\nselect 1/0;\nselect 4 as four;\n")
    code, out, err = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path, stdin=b"select 5 as five; select 1/0;\n")
    assert code == 3 and b" five \n" in out and b" three \n" in out and b"four" not in out
    assert b"psql:<stdin>:1: ERROR:  division by zero" in err and b"psql:a/z.sql:1: ERROR" in err


def test_g_words_left_inside_a_quote_and_watch_s_variables_as_psql(fresh_db, tmp_path: Path):
    """`\\g 'x y` wrote the result to a file named "x y" with no error; psql 15's \\watch sets
    none of ROW_COUNT, ERROR, SQLSTATE."""
    (tmp_path / "s.sql").write_text(
        "select 1 as a \\g 'x y\nselect 1 \\gx 'out2\nselect 1 as a \\gset 'p_\n\\echo :a\nselect 1 as b \\gset p_ 'q\n\\echo :p_b\n"
        "select 7;\nselect 1/0 as x \\watch 0.01\n\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
    )
    _, out, err = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert not (tmp_path / "x y").exists() and not (tmp_path / "out2").exists()
    assert err.count(b"unterminated quoted string") == 4 and out.endswith(b"1 false 00000\n")


def test_a_line_is_read_with_the_setting_it_started_with_and_warnings_once(fresh_db, tmp_path: Path):
    """`set standard_conforming_strings = off; select 'a\\' as y;` on one line: psql reads the
    whole line with the setting it started with, the shell read the rest with the new one and
    swallowed the next line into the string. A WARNING at a SELECT showed the shell's own
    DECLARE in its LINE display (or none), and twice when the statement then failed."""
    (tmp_path / "s.sql").write_text(
        "set standard_conforming_strings = off; select 'a\\' as y;\nselect 'q' as z;\n"
        "select 1 as one,\n  'b\\'' as w;\nselect 'c\\' as y;\nselect 'd' as z;\n"
    )
    _, out, err = same(fresh_db, fresh_db, "-f", "s.sql", cwd=tmp_path)
    assert b" z \n" in out and err.count(b"LINE 2:   'b\\'' as w;") == 1 and b"CURSOR" not in err


def test_echo_is_read_in_any_case_as_psql_reads_it(fresh_db, tmp_path: Path):
    """`\\set ECHO ERRORS` was taken and did nothing (the shell compared the lower-case word)."""
    (tmp_path / "e.sql").write_text("\\set ECHO ERRORS\nselect 1/0;\n\\set ECHO Queries\nselect 1;\n\\set ECHO ALL\nselect 2;\n")
    result = same(fresh_db, fresh_db, "-f", "e.sql", cwd=tmp_path)
    assert b"STATEMENT:  select 1/0;" in result[2] and b"select 2;\n" in result[1]



@pytest.mark.parametrize(
    "script",
    [
        # a NUL ends the word, as in psql's C strings (each was a traceback that ended the session)
        "\\setenv 'F\\0' x\n\\echo `echo $F`\n\\o 'out\\0put'\n\\o\n\\cd '\\x00'\n\\echo 'a\\0b' end\n\\set d `printf 'x\\0y'`\n\\echo :d\n",
        "\\setenv '' x\n\\echo after\n",  # setenv refuses the name; psql goes on
        # escapes write bytes: two of them are one UTF-8 character
        "\\echo '\\xc3\\xa9' '\\303\\251'\n\\set v '\\xc3\\xa9'\nselect :'v' as v, length(:'v');\n\\echo '\\xff' done\n",
        # a blank around a boolean is no boolean
        "\\set ON_ERROR_STOP 'on '\nselect 1/0;\n\\echo after\n\\if ' on'\n\\echo t\n\\else\n\\echo f\n\\endif\n\\x ' on'\n",
        # in a `command`: :'v' quoted for the shell, :"v" left as written
        "\\set v hello\n\\set sq 'it''s'\n\\set sp 'a b'\n\\echo `echo :\"v\"` `echo :v` `echo :'sq'` `echo :'sp'` `echo :'nosuch'`\n",
    ],
    ids=["nul", "empty-setenv", "escaped-bytes", "blank-boolean", "backtick-quoting"],
)
def test_meta_command_words_as_psql_reads_them(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "m.sql").write_text(script)
    code, out, err = same(fresh_db, fresh_db, "-f", "m.sql", cwd=tmp_path)
    assert b"Traceback" not in err and code == 0


@pytest.mark.parametrize(
    "script",
    [
        "\\set n -n\n\\echo '-n' x\n\\echo :n y\n\\echo -n z\n\\echo\n\\qecho \"-n\" q\n",  # -n only as written
        "\\lo_unlink abc\n\\lo_unlink 0500001\n\\lo_unlink ' 500003'\n\\lo_export x9 out.bin\n",  # OIDs read as strtoul reads them
        "\\include\n\\include_relative\n\\i ''\n\\w ''\n\\echo done\n",  # the command as typed; '' is no file
    ],
    ids=["echo-n", "oids", "file-names"],
)
def test_meta_command_arguments_read_as_psql_reads_them(fresh_db, tmp_path: Path, script: str):
    (tmp_path / "a.sql").write_text(script)
    same(fresh_db, fresh_db, "-f", "a.sql", cwd=tmp_path)


def test_a_files_byte_order_mark_is_dropped_as_psql_drops_it(fresh_db, tmp_path: Path):
    """A UTF-8 BOM before a file's first line was sent: `syntax error at or near "\ufeffselect"`.
    psql drops it there only (a later line's BOM is the server's to refuse)."""
    (tmp_path / "bom.sql").write_bytes(b"\xef\xbb\xbfselect 1 as a;\n\\i inner.sql\n")
    (tmp_path / "inner.sql").write_bytes(b"\xef\xbb\xbf\\echo inner\nselect 2 as b;\n\xef\xbb\xbfselect 3;\n")
    _, out, err = same(fresh_db, fresh_db, "-f", "bom.sql", cwd=tmp_path)
    assert out.startswith(b" a \n---\n 1\n(1 row)\n\ninner\n") and err.count(b"syntax error") == 1
    _, out, _ = same(fresh_db, fresh_db, cwd=tmp_path, stdin=b"\xef\xbb\xbfselect 4 as d;\n")
    assert b" 4\n" in out


def test_a_failed_copy_leaves_the_result_variables_and_gdesc_substitutes_variables(fresh_db, tmp_path: Path):
    """psql 15 sets ERROR, SQLSTATE and ROW_COUNT only when a COPY went well (`\\if :ERROR`
    took the other branch); `\\gdesc` sent `:v` as written."""
    script = (
        "create temp table c(a int);\nselect 1;\ncopy c from stdin;\nx\n\\.\n\\echo :ERROR :SQLSTATE :ROW_COUNT\n"
        "copy c to stdout (format binary, encoding 'nosuch');\n\\echo :ERROR :SQLSTATE\n"
        "\\set v 2\nselect :v as a \\gdesc\n"
    )
    (tmp_path / "s.sql").write_text(script)
    _, out, _ = same(fresh_db, fresh_db, "-e", "-f", "s.sql", cwd=tmp_path)
    assert b"false 00000 1\n" in out and b" a      | integer\n" in out


def test_single_transaction_whose_commit_fails_stops_with_exit_code_3(fresh_db):
    """A deferred constraint failing at -1's COMMIT: psql 15 exits 3 under ON_ERROR_STOP (the
    shell exited 0), 0 without it."""
    statements = ["-c", "create temp table p(a int primary key)", "-c", "create temp table ch(a int references p deferrable initially deferred)", "-c", "insert into ch values (1)"]
    code, _, err = same(fresh_db, fresh_db, "-1", "-v", "ON_ERROR_STOP=1", *statements)
    assert code == 3 and b"violates foreign key constraint" in err
    assert same(fresh_db, fresh_db, "-1", *statements)[0] == 0


@pytest.mark.parametrize("sender", ["as x \\gset", "as c, 1 as a, 2 as b \\crosstabview"])
def test_a_connection_lost_in_gset_or_crosstabview_ends_the_script(fresh_db, tmp_path: Path, sender: str):
    """The script went on without a connection and exited 0; psql says the connection was lost
    and exits 2."""
    (tmp_path / "lost.sql").write_text(f"select pg_terminate_backend(pg_backend_pid()) {sender}\n\\echo still running\n")
    code, out, err = same(fresh_db, fresh_db, "-f", "lost.sql", cwd=tmp_path)
    assert code == 2 and b"still running" not in out and b"connection to server was lost" in err


def test_echo_errors_shows_the_statement_of_a_gset_or_gexec_that_failed(fresh_db, tmp_path: Path):
    """-b printed no STATEMENT line after `\\gset`'s own errors, nor the outer query of a
    `\\gexec` one of whose statements failed."""
    (tmp_path / "b.sql").write_text(
        "select 1 as a union all select 2 \\gset\nselect 'select 1/0' \\gexec\nselect nosuch \\gset\n"
        "select 1 as \"bad name\" \\gset\nselect 5 as ok \\gset\n\\echo :ok\n"
    )
    _, _, err = same(fresh_db, fresh_db, "-b", "-f", "b.sql", cwd=tmp_path)
    assert err.count(b"STATEMENT:") == 5


def test_pset_errors_name_the_option_as_typed(fresh_db, tmp_path: Path):
    """`\\pset t foo` said "tuples_only", `\\pset x foo` "expanded": psql names what was typed."""
    (tmp_path / "p.sql").write_text("\\pset x foo\n\\pset t foo\n\\pset pager foo\n\\pset expanded foo\n\\pset footer foo\n")
    _, _, err = same(fresh_db, fresh_db, "-f", "p.sql", cwd=tmp_path)
    assert b'for "t": Boolean expected' in err and b'for "x"\n' in err


@pytest.mark.parametrize("command", ["\\d t", "\\dt", "\\l", "\\lo_list", "\\copy t to stdout", "\\dconfig work_mem"])
def test_a_connection_lost_in_a_meta_command_ends_the_script(fresh_db, tmp_path: Path, command: str):
    """A meta-command whose queries met a connection the server had ended printed the FATAL
    line and went on: the next `\\\\!` ran, and the exit code was 0 (1 for -c, 3 under
    ON_ERROR_STOP). psql says the connection was lost and exits 2."""
    (tmp_path / "kill.sh").write_text(f"#!/bin/sh\n{PSQL} -X -q '{fresh_db}' -c \"select pg_terminate_backend($PID)\" > /dev/null\n")
    (tmp_path / "kill.sh").chmod(0o755)
    script = f"create temp table t(a int);\nselect pg_backend_pid() as pid \\gset\n\\setenv PID :pid\n\\! ./kill.sh\n{command}\n\\echo after\n\\! echo ran\n"
    (tmp_path / "lost.sql").write_text(script)
    for flags in ((), ("-v", "ON_ERROR_STOP=1")):
        code, out, err = same(fresh_db, fresh_db, *flags, "-f", "lost.sql", cwd=tmp_path)
        assert code == 2 and b"after" not in out and b"ran" not in out and err.endswith(b"lost.sql:5: error: connection to server was lost\n")


@pytest.mark.parametrize("way", [("-c", "select selfkill()"), ("-f", "k.sql")])
def test_a_fatal_with_context_is_told_once(fresh_db, tmp_path: Path, way: tuple[str, ...]):
    """A session ended from inside a function: the server's FATAL carries CONTEXT lines, which
    the shell printed again between it and libpq's "server closed the connection"."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create function selfkill() returns int language plpgsql as $$ begin perform pg_terminate_backend(pg_backend_pid()); perform pg_sleep(1); return 1; end $$")
    (tmp_path / "k.sql").write_text("select selfkill();\n")
    code, _, err = same(fresh_db, fresh_db, *way, cwd=tmp_path)
    assert code == 2 and err.count(b"CONTEXT:") == 1


def test_gdesc_of_a_query_without_columns_is_timed(fresh_db):
    """`\\timing` then `\\gdesc` of an empty buffer, or of a command: psql prints its Time
    line after "The command has no result", the shell none."""
    results = []
    for program in (ours, theirs):
        code, out, err = program(fresh_db, stdin=b"\\timing on\n\\gdesc\ncreate temp table q(a int) \\gdesc\nselect 1 \\gdesc\n")
        results.append((code, re.sub(rb"Time: [0-9.]+ ms", b"Time: x", out), err))
    assert results[0] == results[1] and results[0][1].count(b"Time: x") == 3


def test_autocommit_off_reads_the_first_word_as_psql_reads_it(fresh_db):
    """`(vacuum);` under AUTOCOMMIT off: psql finds no first word there and begins a
    transaction (so the failed statement aborts it); the shell read `vacuum` past the `(`."""
    script = "\\set AUTOCOMMIT off\n(vacuum);\nselect 3;\nrollback;\nvacuum_x;\nselect 4;\nrollback;\n  /* c */ vacuum;\nselect 5;\nrollback;\n"
    _, out, err = same(fresh_db, fresh_db, stdin=script.encode())
    assert err.count(b"current transaction is aborted") == 1 and b"        5\n" in out


def test_a_quote_ending_in_a_backslash_at_the_end_of_the_line_is_unterminated(fresh_db, tmp_path: Path):
    """`\\set x 'a\\` (the backslash escapes the line's end): psql says "unterminated quoted
    string" and sets x to nothing; the shell stored `a\\`."""
    (tmp_path / "q.sql").write_text("\\set x 'a\\\n\\echo [:x]\n\\echo 'a\\\n\\echo 'ok\\'' done\n\\set y 'b\\\\'\n\\echo [:y]\n")
    _, out, err = same(fresh_db, fresh_db, "-f", "q.sql", cwd=tmp_path)
    assert err.count(b"unterminated quoted string") == 2 and out.startswith(b"[]\n")


def test_ctrl_c_during_a_describe_command_cancels_it_as_psql_does(pg_server, tmp_path: Path):
    """SIGINT while `\\dt+` waits for a lock: psql sends a cancel request, says so, prints the
    server's error and ends the script (exit 3). The shell ended with no word at all (and at
    the prompt said "Cancelled.", where psql shows the server's error)."""
    import signal
    import subprocess
    import time

    from psqlcompare import SHELL, env

    (tmp_path / "s.sql").write_text("\\echo before\n\\dt+ t\n\\echo after\n")
    results = []
    with twin_databases(pg_server.conninfo(), "create table t(a int)") as databases:
        for command, database in zip((SHELL, [PSQL, "-X"]), databases, strict=True):
            with psycopg.connect(database) as locker:
                locker.execute("lock table t")
                run = subprocess.Popen([*command, database, "-f", "s.sql"], cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                time.sleep(3)
                run.send_signal(signal.SIGINT)
                out, err = run.communicate(timeout=60)
            results.append((run.returncode, out, err.replace(b"nl2sql-shell:", b"psql:")))
    assert results[0] == results[1]
    assert results[0] == (3, b"before\n", b"Cancel request sent\npsql:s.sql:2: ERROR:  canceling statement due to user request\n")


def test_a_variable_name_may_hold_any_character_outside_ascii(fresh_db, tmp_path: Path):
    """psql's variable names take any byte outside ASCII (€, →, ©, a dash): `\\set €x 5` was
    set but `:€x` never substituted, and `:x—` read as `:x` followed by a dash."""
    (tmp_path / "v.sql").write_text("\\set €x 5\n\\echo :€x\n\\set a→b 1\n\\echo :a→b :'a→b' :\"a→b\" :{?a→b}\nselect 7 as \"©\" \\gset\nselect :©;\n\\set x 5\n\\echo :x— :x’s :x\n")
    _, out, _ = same(fresh_db, fresh_db, "-f", "v.sql", cwd=tmp_path)
    assert out.startswith("5\n1 '1' \"1\" TRUE\n".encode()) and out.endswith(":x— :x’s 5\n".encode())


@pytest.mark.parametrize("flags", [(), ("-e",), ("-S",)])
def test_statements_joined_by_backslash_semicolon_stay_one_query_whatever_their_variables(fresh_db, flags: tuple[str, ...]):
    """`insert ... (:x) \\; select 1/0`: psql sends one query, whose error undoes the insert;
    with a variable in it the shell sent two, and the insert stayed."""
    script = "create temp table vt(a int);\n\\set x 7\ninsert into vt values (:x) \\; select 1/0;\nselect count(*) from vt;\nselect :'x'::int \\; select 5;\n"
    _, out, _ = same(fresh_db, fresh_db, *flags, stdin=script.encode())
    assert b"     0\n" in out
