"""Commands that used to end the shell with a traceback: each works as psql 15's or is psql's
own one-line error (compared byte for byte with /usr/bin/psql where it prints)."""

from __future__ import annotations

import io

import psycopg
import pytest
from psqlcompare import PSQL, same

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.output import Output
from nl2sql_shell.repl import psql_only
from nl2sql_shell.repl.shell import Shell


@pytest.mark.skipif(PSQL is None, reason="psql is not installed")
@pytest.mark.parametrize("command", ["\\watch 1", "\\ef", "\\ev", "\\ef nosuch", "\\do", "\\do+ =", "\\doS ~~", "\\do ###", "\\n", "\\ns", "\\nd", "\\n foo", "\\z+"])
def test_as_psql_prints_it(fresh_db, command: str):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create operator ### (function = int4pl, leftarg = int, rightarg = int)")
    _, _, err = same(fresh_db, fresh_db, "-c", command)
    assert b"Traceback" not in err


def _shell(conninfo: str) -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    target = Target(conninfo)
    return Shell(target, connect(target), output=Output(out, use_pager=False), errors=err), out, err


def test_watch_reruns_the_query_until_ctrl_c(fresh_db, monkeypatch):
    shell, out, err = _shell(fresh_db)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(psql_only.time, "sleep", sleep)
    shell.handle("select 42 as answer \\watch 0.5")
    assert out.getvalue().count(" answer \n--------\n     42\n(1 row)\n") == 2
    assert "(every 0.5s)\n\n" in out.getvalue() and naps == [0.5, 0.5] and err.getvalue() == ""


def test_watch_reads_its_interval_as_psql_s_strtod(fresh_db, monkeypatch):
    """C's strtod reads ASCII digits only: psql 15 waits its default second for `\\watch ٣`
    (Arabic-Indic three); Python's float() read 3."""
    shell, out, _ = _shell(fresh_db)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        raise KeyboardInterrupt

    monkeypatch.setattr(psql_only.time, "sleep", sleep)
    shell.handle("select 1 \\watch \u0663")
    shell.handle("select 1 \\watch 2.5s")
    assert naps == [1, 2.5] and "(every 1s)" in out.getvalue()


def test_e_edits_the_query_buffer_and_runs_the_statements_it_completes(fresh_db, monkeypatch):
    """psql's \\e: the buffer (else the last query) in the editor; what comes back is read as
    input, so a complete statement runs at once; left unchanged, the last query is not rerun."""
    shell, out, err = _shell(fresh_db)
    monkeypatch.setenv("EDITOR", "sed -i s/1/2/")
    shell.handle("select 11 as x\n\\e")
    assert shell.pending_input == "select 21 as x\n" and shell.redisplay and out.getvalue() == ""
    monkeypatch.setenv("EDITOR", "sed -i '$s/$/;/'")  # run through the shell, as psql runs it
    shell.handle(shell.pending_input + "\n\\e")
    assert shell.pending_input == "" and out.getvalue() == " x  \n----\n 21\n(1 row)\n\n"
    monkeypatch.setenv("EDITOR", "true")
    shell.handle("\\e")  # the last query, unchanged: not run again
    shell.handle("select 5\n\\e")  # the buffer, unchanged: it stays
    assert shell.pending_input == "select 5\n" and out.getvalue().count("21") == 1 and err.getvalue() == ""


def test_e_hands_the_editor_the_last_query_with_its_last_line_ended(fresh_db, monkeypatch, tmp_path):
    """As psql: editors and editor scripts saw a file with no final newline."""
    shell, _, _ = _shell(fresh_db)
    seen = tmp_path / "seen.sql"
    monkeypatch.setenv("EDITOR", f"sh -c 'cp \"$0\" {seen}'")
    shell.handle("select 1 as x;")
    shell.handle("\\e")
    assert seen.read_text() == "select 1 as x;\n"


def test_ef_and_ev_put_the_edited_definition_in_the_next_prompt(fresh_db, monkeypatch):
    shell, out, err = _shell(fresh_db)
    monkeypatch.setenv("EDITOR", "sed -i s/1/2/")
    shell.handle("create function twice(n int) returns int language sql as 'select n * 1';")
    shell.handle("create view v as select 1 as one;")
    shell.handle("\\ef twice")
    assert shell.pending_input.startswith("CREATE OR REPLACE FUNCTION public.twice(n integer)") and "n * 2" in shell.pending_input
    shell.handle("\\ev v")
    assert shell.pending_input == "CREATE OR REPLACE VIEW public.v AS\n SELECT 2 AS one\n"
    shell.pending_input = ""
    monkeypatch.setenv("EDITOR", "true")  # left as it was: psql's "No changes", nothing kept
    shell.handle("\\ef twice")
    assert shell.pending_input == "" and out.getvalue().endswith("CREATE VIEW\nNo changes\n") and err.getvalue() == ""
