"""\\lo_import, \\lo_export, \\lo_unlink as psql 15 runs them, compared byte for byte; the
bytes that come back are the file's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, theirs

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SCRIPT = """\\lo_import data.bin
\\set first :LASTOID
\\lo_import data.bin 'it''s a comment'
select description from pg_description where objoid = :LASTOID;
\\lo_export :LASTOID NAME.out
\\lo_unlink :LASTOID
\\lo_unlink :first
\\lo_unlink 999999
\\lo_import nonexist.bin
\\lo_export 999999 never.out
\\lo_export
begin;
\\lo_import data.bin
rollback;
select count(*) from pg_largeobject_metadata where oid = :LASTOID;
\\set AUTOCOMMIT off
\\lo_import data.bin
rollback;
select count(*) from pg_largeobject_metadata where oid = :LASTOID;
"""
_OID = re.compile(rb"\b\d{4,}\b")  # each run gets its own OIDs


def test_large_objects_go_in_and_out_as_with_psql(fresh_db, tmp_path: Path):
    data = b"hello\0world\xff" * 1000
    (tmp_path / "data.bin").write_bytes(data)
    results = []
    for program, name in ((ours, "ours"), (theirs, "psql")):
        (tmp_path / f"{name}.sql").write_text(SCRIPT.replace("NAME", name))
        code, out, err = program(fresh_db, "-f", f"{name}.sql", cwd=tmp_path)
        results.append((code, _OID.sub(b"OID", out), _OID.sub(b"OID", err).replace(f"{name}.sql".encode(), b"SCRIPT")))
    assert results[0] == results[1]
    assert (tmp_path / "ours.out").read_bytes() == data == (tmp_path / "psql.out").read_bytes()
    out = results[0][1]
    assert out.startswith(b"lo_import OID\nlo_import OID\n") and b" it's a comment\n" in out and out.count(b"     0\n") == 2
    assert not (tmp_path / "never.out").exists()


def test_their_lines_in_html_and_in_the_log_are_psql_s(fresh_db, tmp_path: Path):
    """In -H psql prints each line as an HTML paragraph, and logs it (-L) quiet or not; the
    shell printed plain lines and logged none."""
    (tmp_path / "data.bin").write_bytes(b"hi\n")
    script = "\\pset format html\n\\lo_import data.bin\n\\lo_export :LASTOID x.out\n\\lo_unlink :LASTOID\n\\set QUIET 1\n\\lo_import data.bin\n\\lo_unlink :LASTOID\n"
    results = []
    for program, name in ((ours, "ours"), (theirs, "psql")):
        code, out, err = program(fresh_db, "-L", f"{name}.log", cwd=tmp_path, stdin=script.encode())
        results.append((code, _OID.sub(b"OID", out), err, _OID.sub(b"OID", (tmp_path / f"{name}.log").read_bytes())))
    assert results[0] == results[1]
    assert results[0][1] == b"Output format is html.\n<p>lo_import OID</p>\n<p>lo_export</p>\n<p>lo_unlink OID</p>\n"
    assert results[0][3] == b"lo_import OID\nlo_export\nlo_unlink OID\nlo_import OID\nlo_unlink OID\n"


def test_in_a_failed_transaction_they_say_so_themselves(fresh_db, tmp_path: Path):
    """psql checks the transaction first (`\\lo_import: current transaction is aborted`) and
    sends nothing; the shell sent them and printed the server's "commands ignored" error."""
    (tmp_path / "data.bin").write_bytes(b"hi\n")
    (tmp_path / "a.sql").write_text("begin;\nselect 1/0;\n\\lo_import data.bin\n\\lo_export 1 x\n\\lo_unlink 1\nrollback;\n")
    results = [program(fresh_db, "-f", "a.sql", cwd=tmp_path) for program in (ours, theirs)]
    assert results[0] == results[1] and results[0][2].count(b": current transaction is aborted\n") == 3


@pytest.mark.parametrize("mode", ["noexec", "on"])
def test_echo_hidden_shows_their_transaction_and_noexec_does_nothing(fresh_db, tmp_path: Path, mode: str):
    """ECHO_HIDDEN=noexec: psql shows its BEGIN and imports nothing; the shell imported the
    file and set LASTOID. With on, psql shows its BEGIN and COMMIT around each."""
    (tmp_path / "data.bin").write_bytes(b"hi\n")
    results = []
    for program in (ours, theirs):
        code, out, err = program(fresh_db, "-v", f"ECHO_HIDDEN={mode}", "-c", "\\lo_import data.bin", "-c", "\\echo [:LASTOID]", "-c", "\\lo_unlink :LASTOID", cwd=tmp_path)
        results.append((code, _OID.sub(b"OID", out), _OID.sub(b"OID", err)))
    assert results[0] == results[1] and results[0][1].count(b"BEGIN") == 2 and (b"lo_import OID" in results[0][1]) == (mode == "on")
