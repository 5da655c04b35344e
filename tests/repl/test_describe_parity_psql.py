"""Catalog commands where a survey against psql 15 found us printing something else: `\\do`
with schema-qualified and wildcard patterns and operand types, `\\dL` with a pattern, `\\sv`
of a view with options, and command names as psql reads them (`\\dtx` lists tables, `\\dAS`
is invalid, `\\dfx`'s letters are refused), HIDE_TABLEAM and HIDE_TOAST_COMPRESSION, a
partitioned table without partitions; compared byte for byte with /usr/bin/psql on one
database (these commands only read it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import create_database
from psqlcompare import PSQL, same, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SCHEMA = """
create schema s;
create table t (a int primary key, b text);
create view v as select a, b from t;
create view v_sb with (security_barrier) as select 1 as one;
create view v_opts with (security_barrier, check_option = cascaded, security_invoker = false) as select * from t;
create materialized view mv as select 1 as x;
create sequence sq;
create index t_b on t (b);
create function op_f(int, text) returns bool language sql as 'select true';
create operator ### (leftarg = int, rightarg = text, function = op_f);
comment on operator ###(int, text) is 'triple hash';
create operator s.!! (rightarg = int, function = int4abs);
create operator s.+| (leftarg = int, rightarg = int, function = int4pl);
create conversion myconv for 'LATIN1' to 'UTF8' from iso8859_1_to_utf8;
create function evtf() returns event_trigger language plpgsql as $$ begin end $$;
create event trigger evt on ddl_command_start execute function evtf();
alter default privileges in schema s grant select on tables to public;
comment on constraint t_pkey on t is 'pk';
create table pam (a int) partition by list (a);
create index pam_i on pam (a);
"""


@pytest.fixture(scope="module")
def db(pg_server) -> Iterator[str]:
    conninfo = create_database(pg_server, "describe_parity", SCHEMA)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("alter database describe_parity set work_mem = '2MB'")
    yield conninfo
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute('DROP DATABASE IF EXISTS "describe_parity" WITH (FORCE)')


OPERATORS = [
    "\\do", "\\do+", "\\do s.*", "\\do+ s.*", "\\do s.!!", "\\do *.!!", "\\do \"###\"", "\\do ###", "\\do s.+|", "\\do ?",
    "\\do - int", "\\do+ - int", "\\do + int int", "\\do = text text", "\\do * int4 int4", "\\do ### int", "\\do ### int text",
    "\\do+ ### - -", "\\do !! - int", "\\do s.!! - int4", "\\do ### int text more", "\\doS ~~", "\\do a.b.c.d", "\\do other.s.!!",
    "\\do describe_parity.s.!!", "\\do ### a.b.c.d",
]


@pytest.mark.parametrize("command", OPERATORS)
def test_do_reads_patterns_and_operand_types_as_psql(db, command: str):
    same(db, db, "-c", command)


def test_do_matches_operators_by_schema_and_operand_types(db):
    _, out, _ = same(db, db, "-c", "\\do s.*", "-c", "\\do = text text")
    assert b" s      | !!   |" in out and b"| text          | text           | boolean" in out and b"(1 row)" in out


@pytest.mark.parametrize("command", ["\\dL c", "\\dL+ sql", "\\dLS c*", "\\dL plpgsql"])
def test_dl_with_a_pattern_finds_internal_languages(db, command: str):
    same(db, db, "-c", command)


@pytest.mark.parametrize("command", ["\\sv v_sb", "\\sv+ v_opts", "\\sv v_opts", "\\sv v"])
def test_sv_quotes_option_values_as_psql(db, command: str):
    _, out, _ = same(db, db, "-c", command)
    assert b"=true" not in out


def test_sv_of_an_oid_that_names_no_relation_fails_as_psql(db):
    code, out, err = same(db, db, "-c", "\\sv 123")
    assert (code, out, err) == (1, b"", b"ERROR:  (not available)\n")


NAMES = [
    "\\dtx", "\\dtvx", "\\dtS+x pg_class", "\\dix", "\\dsx", "\\dvx", "\\dmx", "\\dnx", "\\dxyz", "\\dconf", "\\dcon", "\\dcx",
    "\\dconfigx work_mem", "\\ddpx", "\\ddx", "\\drdsx", "\\dux postgres", "\\dgS+x pg_mon*", "\\dlx", "\\dpx", "\\dy+x", "\\dTx mood",
    "\\dfx", "\\dfS+x", "\\dfSa", "\\dfna op*", "\\dAS", "\\dAS+", "\\dA+S", "\\dAcx btree int4", "\\dFS", "\\dF+S", "\\dPx", "\\drd",
    "\\dq", "\\dex", "\\d+x t", "\\dSx t", "\\dtx t extra", "\\dAcx btree int4 extra",
]


@pytest.mark.parametrize("command", NAMES)
def test_command_names_are_read_as_psql_reads_them(db, command: str):
    same(db, db, "-c", command)


def test_a_letter_df_does_not_take_is_reported_and_the_script_goes_on(db, tmp_path: Path):
    (tmp_path / "s.sql").write_text("\\set ON_ERROR_STOP 1\n\\dfx\n\\echo unreached\n")
    (tmp_path / "t.sql").write_text("\\set ON_ERROR_STOP 1\n\\dfS+x\n\\dtx extra words\n\\echo reached\n")
    code, out, err = same(db, db, "-f", "s.sql", cwd=tmp_path)
    assert code == 3 and b"unreached" not in out and b"invalid command \\dfx" in err
    code, out, err = same(db, db, "-f", "t.sql", cwd=tmp_path)
    assert code == 0 and b"reached" in out and b"\\df only takes [anptwS+] as options" in err


@pytest.mark.parametrize(("variable", "hidden"), [("HIDE_TABLEAM", b"Access method"), ("HIDE_TOAST_COMPRESSION", b"Compression")])
def test_hide_variables_leave_out_what_they_name(db, variable: str, hidden: bytes):
    _, out, _ = same(db, db, "-v", f"{variable}=on", "-c", "\\d+ t", "-c", "\\dt+", "-c", "\\di+", "-c", f"\\unset {variable}", "-c", "\\d+ t")
    assert out.count(hidden) == 1  # only in the last \\d+ t, after the \\unset


@pytest.mark.parametrize("command", ["\\d+ pam", "\\d pam", "\\d+ pam_i", "\\d pam_i"])
def test_no_partitions_are_counted_even_under_plus(db, command: str):
    _, out, _ = same(db, db, "-c", command)
    assert b"Number of partitions: 0\n" in out


INTERPOLATED = [
    ["-v", "x=t", "-c", "\\d :'x'"], ["-v", "x=t", "-c", "\\d :x"], ["-v", "x=a b", "-c", "\\dt :x"], ["-v", "x=a b", "-c", "\\dt :\"x\""],
    ["-v", "x=int", "-c", "\\df op_f :'x'"], ["-v", "x=btree", "-c", "\\dAc :'x'"], ["-v", "x=btree", "-c", "\\dAc :x int4 :x"],
    ["-v", "x=v", "-c", "\\sv :x"], ["-v", "x=op_f", "-c", "\\sf :x"], ["-c", "\\dt `echo t`"],
    ["-v", "x=btree", "-c", "\\dt t :x :'x' `echo hi` 'a b' \"q\""], ["-c", "\\dt t x`echo hi`y"],
]


@pytest.mark.parametrize("args", INTERPOLATED)
def test_variables_in_patterns_are_read_as_psql_reads_them(db, args: list[str]):
    """:'x' is one quoted word, :x one word even with a blank in it; \\\\sf and \\\\sv take their
    line as typed; the words only warned about are neither interpolated nor run."""
    same(db, db, *args)


def test_a_command_in_an_ignored_word_is_not_run(db, tmp_path: Path):
    code, _, err = same(db, db, "-c", "\\dt t `touch ran`", cwd=tmp_path)
    assert code == 0 and b'extra argument "touch ran" ignored' in err and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("command", ["\\dt 't", "\\d \"t", "\\dt `echo t", "\\dt t 'x", "\\dt t x 'y", "\\dt t `echo hi", "\\df op_f 'int", "\\dt 'a''"])
def test_an_unterminated_quote_is_psqls_error_and_an_absent_word(db, command: str):
    _, _, err = same(db, db, "-c", command)
    assert err.endswith(b"unterminated quoted string\n")


def test_pset_null_leaves_listings_alone_as_in_psql(db):
    """psql's describe.c prints NULL empty whatever `\\pset null` says: the shell showed the
    null string in \\dt+'s description, \\dn+'s privileges, \\l+..."""
    _, out, _ = same(db, db, "-c", "\\pset null (nul)", "-c", "\\dt+ t", "-c", "\\dn+ s", "-c", "\\d+ t", "-c", "\\df op_f", "-c", "select null as n")
    assert out.count(b"(nul)") == 2  # the \\pset message and the query's own NULL


def test_lo_list_takes_a_plus_and_nothing_else(fresh_db):
    """`\\lo_listS`, `\\lo_list+S`, `\\lo_list++` listed large objects; psql knows only
    `\\lo_list` and `\\lo_list+` (the \\lo_ commands take no S)."""
    script = "\\lo_listS\n\\lo_list+S\n\\lo_listS+\n\\lo_list++\n\\lo_list+\n\\dlS\n"
    _, _, err = same(fresh_db, fresh_db, stdin=script.encode())
    assert err.count(b"invalid command") == 4


def test_the_words_only_warned_about_keep_their_semicolons(pg_server):
    """psql drops the `;` that ends a word the command reads (`\\dt t;`), not those of the
    words it ignores: `extra argument "foo;" ignored` (the shell said "foo")."""
    script = "\\dt t foo;\n\\dt t; select 1;\n\\dt t;\n\\df abs int4;\n\\dn pub*; extra; more\n\\drds a; b; c;\n"
    with twin_databases(pg_server.conninfo(), "create table t(a int)") as (mine, psqls):
        _, _, err = same(mine, psqls, stdin=script.encode())
    assert b'extra argument "foo;" ignored' in err and b'extra argument "1;" ignored' in err


@pytest.mark.parametrize("flags", [("-A", "-R", "@"), ("-A", "-0"), ("-H",), ("-P", "format=latex"), ("-x", "-H"), ("-P", "format=troff-ms")])
def test_a_view_s_definition_is_one_footer(pg_server, flags: tuple[str, ...]):
    """`\\d+ VIEW`: psql keeps the definition one footer, its lines inside it; the shell made
    each line a footer of its own, so -A's record separator (NUL with -0) and HTML's and
    LaTeX's footer breaks came between them."""
    with twin_databases(pg_server.conninfo(), "create table vt(a int); create view vv with (security_barrier) as select a from vt where a > 1") as (mine, psqls):
        same(mine, psqls, *flags, "-c", "\\d+ vv")
