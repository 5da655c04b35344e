"""The interactive prompt, typed at for real: prompt_toolkit's pipe input, and a real pty."""

from __future__ import annotations

import io
import os
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import pexpect
import psycopg
import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.data_structures import Size
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.output.vt100 import Vt100_Output

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.output import Output
from nl2sql_shell.repl.app import PrivateHistory, run_interactive
from nl2sql_shell.repl.shell import Shell


@pytest.fixture
def typed(fresh_db, monkeypatch, tmp_path):
    """Run the REPL on a script of keystrokes; returns (stdout text, stderr text, shell)."""
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(tmp_path / "history"))

    def run(keys: str) -> tuple[str, str, Shell]:
        out, err = io.StringIO(), io.StringIO()
        target = Target(fresh_db)
        shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err)
        with create_pipe_input() as pipe:
            pipe.send_text(keys)
            run_interactive(shell, input=pipe, output=DummyOutput())
        return out.getvalue(), err.getvalue(), shell

    return run


def test_multiline_statement_runs_when_the_semicolon_comes(typed):
    out, err, _ = typed("select 1\n + 1\n as two;\n\\q\n")
    assert " two \n-----\n   2\n(1 row)\n" in out
    assert err == ""


def test_ctrl_space_sets_a_mark_and_typing_goes_on(typed):
    """Ctrl-Space (a NUL byte) started prompt_toolkit's selection, in which every key typed
    after it, Enter included, was dropped without a word; readline sets its mark, unseen."""
    out, err, _ = typed("select 15\x00 as ok;\n\x07\x03\n\\q\n")  # (Ctrl-G and Ctrl-C: out of a selection, so a failure ends)
    assert " ok \n----\n 15\n(1 row)\n" in out and err == ""


def test_enter_runs_the_complete_statements_of_a_line_and_keeps_the_rest(typed):
    """psql sends `select 1 as one;` as soon as the line that completes it is read, and keeps
    the unfinished rest in its buffer; the shell ran nothing until the rest was finished too."""
    out, err, _ = typed("select 1 as one; select 2\n\x03\\q\n")  # Ctrl-C then drops only the rest
    assert " one \n-----\n   1\n(1 row)\n" in out and err == ""
    # keys typed ahead go on a line of their own after the kept rest, not into its comment
    out, _, _ = typed("select 1 as one; select 2 -- the second\n as two;\n\\q\n")
    assert " one \n-----\n   1\n(1 row)\n" in out and " two \n-----\n   2\n(1 row)\n" in out


def test_a_connection_the_server_ended_is_said_as_psql_says_it(typed):
    """At the prompt psql prints libpq's lines about the lost connection before it resets."""
    _, err, _ = typed("select pg_terminate_backend(pg_backend_pid());\nselect 1;\n\\q\n")
    assert err.startswith(
        "FATAL:  terminating connection due to administrator command\nserver closed the connection unexpectedly\n"
        "\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n"
        "The connection to the server was lost. Attempting reset: Succeeded.\n"
    ), err


def test_a_variable_holding_a_whole_statement_runs_at_enter(typed):
    """psqlrc's `\\set q 'select ...;'` idiom: psql's lexer reads the value's `;`, and `:q`
    runs at Enter; the shell waited for a `;` of its own."""
    out, _, _ = typed("\\set s 'select 1 as a;'\n:s\n\\q\n")
    assert " a \n---\n 1\n(1 row)\n" in out


@pytest.mark.parametrize(
    ("keys", "shown"),
    [
        # text a meta-command left kept ends its line: the `;` typed next is not in its comment
        ("select 2 as b -- c\n\\echo x\n;\n", " b \n---\n 2\n"),
        # the kept text holds the variable's value of the moment it was read, as psql's buffer
        ("\\set q 'select 1 as one;'\n:q select 2 as two\n\\set q 'select 3 as three;'\n;\n", " one \n-----\n   1\n"),
        # `\;` in the buffer \g sends is a plain `;`
        ("select 4 as d \\; select 5 as e \\g\n", " e \n---\n 5\n"),
        # blanks inside a quote left open at the end of the kept text stay
        ("select 1 as x; select length('a   \nb') as len;\n", " len \n-----\n   6\n"),
    ],
    ids=["comment", "variable-statement", "escaped-semicolon", "open-quote"],
)
def test_kept_query_text_is_psql_s_buffer(typed, keys, shown):
    out, err, _ = typed(keys + "\\q\n")
    assert shown in out and "three" not in out and "ERROR" not in err, (out, err)


def test_meta_commands_change_display(typed):
    out, _, _ = typed("\\x on\nselect 1 as a, 2 as b;\n\\x off\n\\timing on\nselect 3 as c;\n\\q\n")
    assert "Expanded display is on." in out
    assert "-[ RECORD 1 ]\na | 1\nb | 2\n" in out
    assert " c \n---\n 3\n(1 row)\n" in out
    assert "Time: " in out


def test_error_then_the_session_goes_on(typed):
    out, err, _ = typed("select * from nothere;\nselect 42 as answer;\n\\q\n")
    assert 'ERROR:  relation "nothere" does not exist' in err
    assert "LINE 1: select * from nothere;" in err
    assert "    42" in out


def test_transaction_state_and_quit_asks_first(typed):
    out, err, shell = typed("create table t (a int);\nbegin;\ninsert into t values (1);\n\\q\nn\nselect 1/0;\nrollback;\n\\q\n")
    assert "BEGIN" in out and "INSERT 0 1" in out and "ROLLBACK" in out
    assert "division by zero" in err
    with psycopg.connect(shell.target.conninfo) as check:
        assert check.execute("select count(*) from t").fetchone() == (0,)


def test_prompt_shows_database_and_transaction_marker(fresh_db):
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    from nl2sql_shell.repl.prompt_escapes import PromptRenderer

    prompts, name = PromptRenderer(shell), shell.dbname
    assert prompts.first() == f"{name}=# "
    shell.handle("begin;")
    assert prompts.first() == f"{name}=*# "
    shell.handle("select 1/0;")
    assert prompts.first() == f"{name}=!# "
    shell.handle("rollback;")
    assert prompts.first() == f"{name}=# "
    shell.handle("\\if false")
    assert prompts.first() == f"{name}@# " and prompts.continuation("(", 3) == f"{name}(# "


def test_prompt_octal_escapes_are_bytes_as_psql_writes_them(fresh_db):
    """`%0` and `%400` (char 0) end their piece in psql; the shell wrote NUL characters, and
    `%377` as the two UTF-8 bytes of ÿ where psql writes the one byte 0xff."""
    from nl2sql_shell.repl.prompt_escapes import PromptRenderer

    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    shell.variables["PROMPT1"] = "<%09%9x%101%377%400%303%251%1000000000000000000000101>"
    assert PromptRenderer(shell).first() == "<99xA\ufffdé\ufffd>"


def test_a_query_that_meets_a_lost_connection_leaves_psql_s_empty_error_code(fresh_db):
    """libpq's own error has no SQLSTATE: psql sets SQLSTATE and LAST_ERROR_* empty; the shell
    kept the last success's 00000."""
    import psycopg

    target = Target(fresh_db)
    shell = Shell(target, connect(target), interactive=True, output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    shell.handle("select 1;")
    with psycopg.connect(fresh_db, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (shell.conn.info.backend_pid,))
    shell.handle("select 2;")
    assert "Attempting reset: Succeeded." in shell.errors.getvalue()
    assert {name: shell.variables.get(name) for name in ("ERROR", "SQLSTATE", "LAST_ERROR_SQLSTATE", "LAST_ERROR_MESSAGE")} == {
        "ERROR": "true", "SQLSTATE": "", "LAST_ERROR_SQLSTATE": "", "LAST_ERROR_MESSAGE": ""}


def test_connect_to_missing_database_keeps_the_old_connection(typed):
    out, err, shell = typed("\\c no_such_database\nselect current_database();\n\\q\n")
    assert err.startswith("connection to server on socket ") and err.endswith('database "no_such_database" does not exist\nPrevious connection kept\n'), err  # psql's words at the prompt: no "\\connect: "
    assert f" {shell.target.conninfo.split('dbname=')[1].split()[0]}\n(1 row)" in out


def test_a_failed_meta_command_drops_the_rest_of_its_line_as_psql_does(typed):
    out, err, _ = typed("\\foo \\echo not shown\n\\echo a \\\\ \\echo b\n\\q\n")
    assert "invalid command \\foo" in err and "not shown" not in out
    assert "a\nb\n" in out  # a command that succeeded lets the next one on the line run


def test_dropped_connection_is_reset(typed):
    keys = "select pg_terminate_backend(pg_backend_pid());\nselect 7 as seven;\n\\q\n"
    out, err, _ = typed(keys)
    assert "The connection to the server was lost. Attempting reset: Succeeded." in err
    assert "     7" in out


def test_a_reset_that_fails_leaves_the_session_not_connected_as_psql(typed, fresh_db):
    """psql tries once: then "not connected" and no DBNAME, USER... until a `\\c` (the shell
    kept a dead connection, tried again at every line and kept the old variables)."""
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]

    def end_the_session_for_good() -> None:  # while its pg_sleep runs: no reset can come back
        _wait_until_busy(fresh_db)
        with psycopg.connect(fresh_db, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'alter database "{dbname}" allow_connections false')
            admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (dbname,))

    killer = threading.Thread(target=end_the_session_for_good)
    killer.start()
    out, err, shell = typed("select pg_sleep(30);\nselect 7 as seven;\n\\conninfo\n\\echo :DBNAME :USER :PORT\n\\q\n")
    killer.join()
    assert err.count("Attempting reset: Failed.") == 1
    assert err.count("You are currently not connected to a database.") == 1  # the select's
    assert out.count("You are currently not connected to a database.") == 1  # \conninfo's, on standard output as psql prints it
    assert "seven" not in out and ":DBNAME :USER :PORT\n" in out
    assert not shell.connected


def test_connect_after_a_failed_reset_reuses_the_lost_connection_s_parameters(fresh_db):
    """psql keeps the dead connection's parameters for `\\c`; the shell said "No database
    connection exists to re-use parameters from" and only a whole conninfo got back."""
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    out, err = io.StringIO(), io.StringIO()
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err, interactive=True)
    with psycopg.connect(fresh_db, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'alter database "{dbname}" allow_connections false')
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (dbname,))
        shell.handle("select 1;")
        assert "Attempting reset: Failed." in err.getvalue() and not shell.connected
        admin.execute(f'alter database "{dbname}" allow_connections true')
    shell.handle("\\c")
    assert shell.connected and "No database connection" not in err.getvalue()
    assert f'You are now connected to database "{dbname}"' in out.getvalue() and shell.variables["DBNAME"] == dbname


def test_single_line_mode_sends_each_line_at_the_prompt_as_psql_s(typed):
    """-S (SINGLELINE): a line's end ends its statement, outside quotes, comments and
    parentheses; the prompt kept every line waiting for a semicolon."""
    keys = "\\set SINGLELINE on\nselect 1 as a\nselect 'x\ny' as b\nselect (2\n) as c\n\\echo :ROW_COUNT\n\\q\n"
    out, err, _ = typed(keys)
    assert " a \n---\n 1\n(1 row)\n" in out and " x+\n y\n(1 row)" in out and " c \n---\n 2\n(1 row)\n" in out
    assert out.endswith("1\n") and err == ""


def test_ctrl_d_prints_backslash_q_and_ignoreeof_counts_as_psql(typed):
    """psql prints \\q when Ctrl-D ends it, and with IGNOREEOF N only says how to leave for the
    first N-1 (the shell left at the first, silently)."""
    out, err, _ = typed("\x04")
    assert out == "\\q\n" and err == ""
    out, err, _ = typed("\\set IGNOREEOF 2\n\x04select 1 as a;\n\x04\x04")
    assert err.count('Use "\\q" to leave nl2sql-shell.') == 2  # a line read between starts the count again
    assert out.endswith("\\q\n") and " a \n---\n 1\n" in out


def test_history_keeps_what_was_typed(typed, tmp_path):
    typed("select 'remember me';\n\\q\n")
    assert "select 'remember me';" in (tmp_path / "history").read_text()


def test_backslash_q_after_unsent_query_text_quits_without_sending_it(typed):
    out, err, _ = typed("select 'half typed'\n\\q\nselect 'after quit';\n")
    assert out == "" and err == ""  # psql at the prompt: the buffer is dropped, nothing after runs


def test_histcontrol_ignorespace_keeps_a_line_typed_after_a_space_out(typed, tmp_path):
    typed("\\set HISTCONTROL ignorespace\n select 'not kept';\nselect 'kept';\n\\q\n")
    history = (tmp_path / "history").read_text()
    assert "select 'kept';" in history and "not kept" not in history


def test_histcontrol_ignorespace_keeps_the_answer_to_a_question_typed_after_a_space_out(tmp_path):
    """` ? find customer secretbob` was kept out, but the SQL it ran (`name = 'secretbob'`) went
    into the history file."""
    from nl2sql_shell.repl.app import PrivateHistory

    history = PrivateHistory(tmp_path / "history", control=lambda: "ignorespace")
    history.append_string(" ? find customer secretbob")
    history.remember_answer("SELECT * FROM customers WHERE name = 'secretbob'")
    history.append_string("? every customer")
    history.remember_answer("SELECT * FROM customers")
    assert [*PrivateHistory(tmp_path / "history").load_history_strings()] == ["SELECT * FROM customers", "? every customer"]


def test_history_is_shown_and_saved_with_backslash_s(typed, tmp_path):
    saved = tmp_path / "saved.txt"
    out, err, shell = typed(f"select 'remember me';\n\\s\n\\s {saved}\n\\q\n")
    shown = out.split("(1 row)", 1)[1]
    assert "select 'remember me';\n" in shown and f'Wrote history to file "{saved}".' in shown
    assert "select 'remember me';" in saved.read_text() and not shell.last_failed and not err


def _paged(conninfo: str, tmp_path: Path, monkeypatch) -> tuple[Shell, io.StringIO, Path]:
    """A shell whose pager (PAGER) appends what it pages to a file: (shell, screen, file)."""
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"tee -a {paged}")
    target = Target(conninfo)
    screen = io.StringIO()
    return Shell(target, connect(target), output=Output(screen, use_pager=True), errors=io.StringIO()), screen, paged


def test_pager_gets_results_that_do_not_fit(fresh_db, tmp_path, monkeypatch):
    shell, screen, paged = _paged(fresh_db, tmp_path, monkeypatch)
    shell.handle("select generate_series(1, 500) as n;")
    assert "(500 rows)" in paged.read_text()
    shell.handle("select 1 as small;")
    assert "small" in screen.getvalue() and "small" not in paged.read_text()


def test_listings_definitions_and_help_that_do_not_fit_are_paged_as_psql_pages_them(fresh_db, tmp_path, monkeypatch):
    """`\\d`, `\\l`, `\\df`, `\\sv` and `\\h` went straight to the terminal, whatever their length."""
    shell, screen, paged = _paged(fresh_db, tmp_path, monkeypatch)
    shell.handle("create table wide (" + ", ".join(f"c{i} int" for i in range(200)) + ");")
    shell.handle("create view long_view as select " + ", ".join(f"{i} as v{i}" for i in range(200)) + ";")
    for command in ("\\d wide", "\\dfS int4*", "\\sv long_view", "\\h select"):
        shell.handle(command)
    text = paged.read_text()
    assert 'Table "public.wide"' in text and " c199 " in text and "int4pl" in text and "AS v199" in text and "SELECT [ ALL | DISTINCT" in text
    assert "c199" not in screen.getvalue() and "v199" not in screen.getvalue()


def test_psql_pager_comes_first_and_runs_through_the_shell(fresh_db, tmp_path, monkeypatch):
    """psql's order (PSQL_PAGER, then PAGER) and its popen: a pager given as a pipeline."""
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", "false")
    monkeypatch.setenv("PSQL_PAGER", f"sed s/500/five-hundred/ | tee {paged} > /dev/null")
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=True), errors=io.StringIO())
    shell.handle("select generate_series(1, 500) as n;")
    assert "(five-hundred rows)" in paged.read_text()


def _spawn(conninfo: str, sigint_ignored: bool = False, flags: tuple[str, ...] = (), **environment: str) -> pexpect.spawn:
    """The shell on a pseudo-terminal; ``sigint_ignored``: started as a background job of a
    non-interactive shell starts it (SIGINT set to be ignored, which a child inherits)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "PSQL_WATCH_PAGER"}
    env.update({"PAGER": "", "TERM": "dumb", "NL2SQL_SHELL_HISTORY": "/dev/null", **environment})
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    return pexpect.spawn(sys.executable, ["-m", "nl2sql_shell", *flags, conninfo], env=env, encoding="utf-8", codec_errors="replace", timeout=30, dimensions=(40, 200), preexec_fn=ignore)


def test_passwords_are_read_unechoed_on_the_terminal_not_from_standard_input(fresh_db):
    """psql's simple_prompt reads a password on the terminal with its echo off, even when a
    script comes on standard input. The terminal was opened as a seekable file, which failed on
    every terminal: passwords were echoed, and a piped script's first line became the password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PAGER": "", "TERM": "dumb", "NL2SQL_SHELL_HISTORY": "/dev/null"})
    piped = f"printf 'select 42 as answer;\\n' | {shlex.quote(sys.executable)} -m nl2sql_shell -X -W {shlex.quote(fresh_db)}"
    child = pexpect.spawn("/bin/sh", ["-c", piped], env=env, encoding="utf-8", codec_errors="replace", timeout=30)
    password = Path(psycopg.conninfo.conninfo_to_dict(fresh_db)["passfile"]).read_text().strip().split(":", 4)[4]
    child.expect("Password: ")
    child.sendline(password)
    child.expect(r" answer \r\n-+\r\n +42\r\n")  # the script's line ran: it was no password
    assert password not in child.before
    child.expect(pexpect.EOF)

    child = pexpect.spawn("/bin/sh", ["-c", f"{shlex.quote(sys.executable)} -m nl2sql_shell -X -W -c 'select 1' {shlex.quote(fresh_db)}"], env=env, encoding="utf-8", codec_errors="replace", timeout=30)
    child.expect("Password: ")
    child.sendeof()  # Ctrl-D: no password, and the line ended as psql ends it
    child.expect(pexpect.EOF)
    assert child.before.startswith("\r\n"), child.before

    role = f"pw_{os.getpid()}"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        try:
            child = _spawn(fresh_db)
            child.expect("=# ")
            child.sendline(f"\\password {role}")
            for prompt in (f'Enter new password for user "{role}": ', "Enter it again: "):
                child.expect(prompt)
                assert "Typed1x" not in child.before
                child.sendline("Typed1x")
            child.expect("=# ")
            assert "Typed1x" not in child.before
            assert conn.execute("select rolpassword like 'SCRAM-SHA-256$%%' from pg_authid where rolname = %s", (role,)).fetchone()[0]
            child.sendline("\\q")
            child.expect(pexpect.EOF)
        finally:
            conn.execute(f"drop role {role}")


def test_a_terminal_gets_its_own_encoding_from_a_latin1_database_and_psql_s_application_name(pg_server):
    """psql asks for client_encoding=auto when standard input and output are terminals (a LATIN1
    database's bytes reached a UTF-8 terminal raw), and leaves application_name to the user."""
    name = f"latin1_{os.getpid()}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"create database {name} encoding 'LATIN1' lc_collate 'C' lc_ctype 'C' template template0")
    try:
        conninfo = pg_server.conninfo(name) + " application_name=mine"
        child = _spawn(conninfo, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        child.expect("=# ")
        child.sendline("select 'café' as v, current_setting('client_encoding') as e, current_setting('application_name') as a;")
        child.expect(r" café \| UTF8 \| mine\r\n")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


def test_a_c_locale_terminal_connects_to_a_database_named_outside_ascii(pg_server):
    """client_encoding=auto in the C locale is SQL_ASCII, under which psycopg read the
    database's name as ASCII: a traceback, the shell gone."""
    name = f"café_{os.getpid()}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        child = _spawn(pg_server.conninfo(name), LANG="C", LC_ALL="C")
        child.expect("=# ")
        child.sendline("select 41 + 1 as answer;")
        child.expect(" 42\r\n")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
        assert "Traceback" not in child.before
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f'drop database "{name}" with (force)')


def _wait_until_busy(conninfo: str, seconds: float = 20.0) -> None:
    """Until another session of the database runs a statement: Ctrl-C is meant for a running
    query (the shell's may show as its cursor's FETCH)."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and datname = current_database()"
            if conn.execute(busy).fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError(f"no statement started within {seconds} s")


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["sigint-default", "started-with-sigint-ignored"])
def test_real_terminal_ctrl_c_cancels_a_query_and_ctrl_d_quits(fresh_db, sigint_ignored):
    child = _spawn(fresh_db, sigint_ignored)
    child.expect("=# ")
    child.sendline("select pg_sleep(60);")
    _wait_until_busy(fresh_db)  # on a busy machine 1 s was not always enough
    started = time.monotonic()
    child.sendintr()
    child.expect("canceling statement due to user request")
    assert time.monotonic() - started < 10
    child.expect("=# ")
    child.sendline("\\echo :ERROR :SQLSTATE :LAST_ERROR_MESSAGE")  # as psql sets them after a cancel
    child.expect("true 57014 canceling statement due to user request")
    child.expect("=# ")
    child.sendline("\\errverbose")  # the server's own error, as psql keeps it after a cancel
    child.expect("ERROR:  57014: canceling statement due to user request\r\nLOCATION:  ProcessInterrupts, postgres.c:")
    child.expect("=# ")
    child.sendline("select 'still here' as status;")
    child.expect("still here")
    child.expect("=# ")
    child.send("select 'half typed")
    child.sendintr()  # Ctrl-C at the prompt clears the line
    child.expect("=# ")
    time.sleep(0.5)  # let the new prompt put the terminal in raw mode, as a person's pause would
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_in_an_included_file_ends_it_and_the_files_that_included_it(fresh_db, tmp_path):
    """psql's included files are not interactive: Ctrl-C cancels the statement and ends them,
    back to the prompt. The shell cancelled one statement and ran the rest of the file."""
    (tmp_path / "inner.sql").write_text("".join(f"select {n} as n, pg_sleep(0.3);\n" for n in range(40)))
    (tmp_path / "outer.sql").write_text(f"\\i {tmp_path / 'inner.sql'}\nselect 'after' as outer_line;\n")
    child = _spawn(fresh_db)
    child.expect("=# ")
    child.sendline(f"\\i {tmp_path / 'outer.sql'}")
    _wait_until_busy(fresh_db)
    child.sendintr()
    child.expect("canceling statement due to user request")
    child.expect("=# ")
    assert "outer_line" not in child.before and " 39\r\n" not in child.before
    child.sendline("select 'back' as at_the_prompt;")
    child.expect("at_the_prompt")
    child.expect("=# ")
    child.sendline("\\q")
    child.expect(pexpect.EOF)


def test_ctrl_c_during_copy_to_stdout_prints_the_rows_so_far_and_the_session_goes_on(fresh_db):
    """The interrupt came inside psycopg's read of the COPY: the rows already sent were lost and
    every later statement failed with "another command is already in progress"."""
    child = _spawn(fresh_db)
    child.expect("=# ")
    child.sendline("copy (select i, pg_sleep(case when i > 3 then 30 else 0 end) from generate_series(1, 6) i) to stdout;")
    _wait_until_busy(fresh_db)
    time.sleep(0.5)
    child.sendintr()
    child.expect("canceling statement due to user request")
    assert "3\t\r\n" in child.before
    child.expect("=# ")
    child.sendline("select 41 + 1 as answer;")
    child.expect(" 42\r\n")
    child.expect("=# ")
    child.sendline("\\q")
    child.expect(pexpect.EOF)


def test_watch_goes_to_psql_watch_pager_and_ends_when_the_pager_quits(fresh_db, tmp_path):
    """psql 15's PSQL_WATCH_PAGER: every result of \\watch to one pager (pspg --stream in
    real use; here one that keeps two results' lines and quits), none on the terminal."""
    paged = tmp_path / "paged.txt"
    child = _spawn(fresh_db, PSQL_WATCH_PAGER=f"head -n 12 > {paged}")
    child.expect("=# ")
    child.sendline("select 42 as answer \\watch 0.1")
    child.expect("=# ")  # the pager quit: so did the watch, with no Ctrl-C
    assert "every 0.1s" not in child.before
    assert paged.read_text().count("(every 0.1s)") == 2 and paged.read_text().count("     42\n") == 2
    child.sendline("select 'still here' as status;")
    child.expect("still here")
    child.expect("=# ")
    child.sendline("\\q")
    child.expect(pexpect.EOF)


def test_prompt1_and_prompt2_from_the_variables_on_the_line_editor(fresh_db):
    """A ~/.psqlrc's prompts on the prompt_toolkit screen: the colour between %[ %] takes no
    room and colours what follows, PROMPT2's %w lines its text up under PROMPT1's, %l numbers
    the statement's lines."""
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    shell.variables.update(PROMPT1="%[%033[1;32m%]%n%[%033[0m%]:%/%x%R%# ", PROMPT2="%w%l%R> ")
    first = f"{shell.conn.info.user}:{shell.conn.info.dbname}*=# "
    screen = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("begin;\rselect\r1;\rcommit;\r\\q\r")
        run_interactive(shell, input=pipe, output=Vt100_Output(screen, lambda: Size(rows=40, columns=200), term="xterm"))
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue())
    assert f"{first}select\r\n{' ' * len(first)}2-> 1;" in shown
    user = first.split(":")[0]
    assert re.search(rf"\x1b\[[0-9;]*\b32\b[0-9;]*m{user}\x1b\[0m:", screen.getvalue())  # drawn green, as its own style
    assert "\x01" not in shown and "\x02" not in shown


def test_histsize_keeps_the_last_entries_when_the_shell_quits(typed, tmp_path):
    """psql's HISTSIZE (500 by default), applied at exit: the history file keeps the last
    HISTSIZE entries, a multi-line one whole, and stays private."""
    typed("\\set HISTSIZE 2\nselect 1;\nselect\n  2;\nselect 3;\n\\q\n")
    history = tmp_path / "history"
    assert [*PrivateHistory(history).load_history_strings()] == ["\\q", "select 3;"]
    assert history.stat().st_mode & 0o777 == 0o600
    typed("select 4;\nselect\n  5;\n\\set HISTSIZE 3\n\\q\n")
    assert [*PrivateHistory(history).load_history_strings()] == ["\\q", "\\set HISTSIZE 3", "select\n  5;"]
    typed("\\set HISTSIZE -1\nselect 6;\n\\q\n")
    assert len([*PrivateHistory(history).load_history_strings()]) == 6  # negative: no limit


def test_a_byte_that_is_not_utf8_typed_at_the_prompt_is_the_server_s_one_line(fresh_db, tmp_path):
    """psql sends the bytes and the server refuses them; the shell crashed (its history file
    and psycopg each refused the byte) and the session was lost."""
    child = _spawn(fresh_db, NL2SQL_SHELL_HISTORY=str(tmp_path / "history"))
    child.expect("=# ")
    os.write(child.child_fd, b"-- \xff\r")
    child.expect("=# ")
    os.write(child.child_fd, b"select '\xff' as x;\r")
    child.expect('invalid byte sequence for encoding "UTF8": 0xff')
    child.expect("=# ")
    child.sendline("select 'still here' as status;")
    child.expect("still here")
    child.expect("=# ")
    time.sleep(0.5)  # the new prompt in raw mode, as a person's pause would leave it
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert b"\xff" in (tmp_path / "history").read_bytes()  # kept as typed



def test_a_long_line_typed_without_bracketed_paste_keeps_memory_linear(typed):
    """prompt_toolkit kept the whole text once per key typed for undo: a 200,000-character line
    pasted into a terminal without bracketed paste grew past 3 GB (8,000 characters: 45 MB)."""
    import tracemalloc

    tracemalloc.start()
    try:
        out, _, _ = typed("select length('" + "x" * 8000 + "');\n\\q\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "8000" in out and peak < 25_000_000, peak


def test_help_quit_and_exit_typed_alone_do_what_psql_does(typed):
    """The banner says `Type "help" for help.`, but `help`, `quit` and `exit` waited at a
    continuation prompt for a `;` (and `quit ;` ran as SQL)."""
    out, _, _ = typed("help\n\\q\n")
    assert out.startswith("You are using nl2sql-shell") and "\\q to quit" in out
    for word in ("quit", "exit", "QUIT ;", "exit;"):
        out, err, _ = typed(f"{word}\nselect 1 as never;\n\\q\n")
        assert "never" not in out and err == ""
    out, err, _ = typed("select 1\nquit\n;\n\\q\n")  # after other text: psql's reminder, and the line is the query's
    assert "Use \\q to quit.\n quit \n------\n    1\n" in out  # `select 1 quit`, as psql sends it
    out, err, _ = typed("select 2 as a\nexit;\n\\q\n")  # its `;` sends the query, as psql's buffer
    assert out.startswith("Use \\q to quit.\n") and 'syntax error at or near "exit"' in err
    for typed_line in (" quit\n;\n", "quit\u00a0\n;\n"):  # a blank before, or a space C's isspace does not know: no assistance word
        out, err, _ = typed(typed_line + "\\q\n")
        assert 'syntax error at or near "quit' in err and "You are using" not in out


def test_a_new_line_does_not_copy_the_indentation_of_the_one_before(typed):
    """prompt_toolkit's Enter copied a line's leading blanks into the next: inside a string
    literal the statement psql sends held blanks no one typed (length 7 instead of 5)."""
    out, _, _ = typed("  select length('ab\ncd') as n;\n\\q\n")
    assert " n \n---\n 5\n" in out, out


@pytest.mark.parametrize("flags", [[], ["-n"]], ids=["line-editing", "no-readline"])
def test_a_yes_typed_before_the_proposal_is_shown_is_no_answer(fresh_db, flags):
    """Keys typed while the model wrote waited in the terminal, and the confirmation took them
    as its answer: a `yes` typed before any SQL was on screen ran the model's DELETE (with -n
    too, which reads the terminal's lines as they come)."""
    import http.server
    import json
    import threading

    class SlowDelete(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"data": [{"id": "slow"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(2)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            event = {"choices": [{"index": 0, "delta": {"content": "DELETE FROM t WHERE a = 2;"}, "finish_reason": "stop"}]}
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\ndata: [DONE]\n\n")

        def log_message(self, *args) -> None:
            pass

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2), (3)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowDelete)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PAGER": "", "TERM": "dumb", "NL2SQL_SHELL_HISTORY": "/dev/null"})
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    child = pexpect.spawn(sys.executable, ["-m", "nl2sql_shell", fresh_db, *flags, "--model-url", url, "--model", "slow", "--candidates", "1"], env=env, encoding="utf-8", codec_errors="replace", timeout=60, dimensions=(40, 200))
    try:
        child.expect("=# ")
        child.sendline("? remove row two")
        time.sleep(0.3)
        child.sendline("yes")  # typed ahead, before the proposal is on screen
        child.expect("Type yes to run it")
        time.sleep(1)
        with psycopg.connect(fresh_db) as check:
            assert check.execute("SELECT count(*) FROM t").fetchone() == (3,)
        child.sendline("n")
        child.expect("Not run")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        server.shutdown()
    with psycopg.connect(fresh_db) as check:
        assert check.execute("SELECT count(*) FROM t").fetchone() == (3,)


def _copying_into(child: pexpect.spawn, table: str) -> None:
    """At the prompt: a new one-column table, and COPY into it waiting for data."""
    child.expect("=# ")
    child.sendline(f"create table {table} (name text);")
    child.expect("=# ")
    child.sendline(f"copy {table} from stdin;")
    child.expect(">> ")


def test_ctrl_c_while_copy_data_is_typed_ends_the_copy_as_psql(fresh_db):
    """Ctrl-C sent the server a cancel request and the shell went on reading data lines: the
    next statement typed was taken as a row, up to a `\\.`. psql ends the COPY ("canceled by
    user") and is back at its prompt."""
    child = _spawn(fresh_db, flags=("-X",))
    try:
        _copying_into(child, "typed_copy")
        child.sendline("abc")
        child.expect(">> ")
        child.sendintr()
        child.expect("ERROR:  COPY from stdin failed: canceled by user")
        child.expect("=# ")
        child.sendline("select count(*) as n from typed_copy;")
        child.expect(r" n \r\n---\r\n 0\r\n")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_a_last_copy_line_or_prompt_answer_ended_by_ctrl_d_keeps_its_last_character(fresh_db):
    """Python's input() took a line's last character for its newline when Ctrl-D ended it:
    `abc` then Ctrl-D twice stored `ab`, and `\\prompt` set `hell` for `hello`. psql keeps it."""
    child = _spawn(fresh_db, flags=("-X",))
    try:
        _copying_into(child, "typed_last")
        _typed_then_ctrl_d_twice(child, "abc")
        child.expect("COPY 1")
        child.sendline("\\prompt 'val: ' pv")
        child.expect("val: ")
        _typed_then_ctrl_d_twice(child, "hello")
        child.sendline("select name || '|' || :'pv' as got from typed_last;")
        child.expect(r"abc\|hello")
    finally:
        child.close(force=True)


def _typed_then_ctrl_d_twice(child: pexpect.spawn, text: str) -> None:
    """A line typed and ended as psql's terminal reads the end of input: the first Ctrl-D hands
    over the line, the second says there is no more."""
    child.send(text)
    for _ in range(2):
        time.sleep(0.3)
        child.sendcontrol("d")


def test_enter_in_a_history_search_runs_the_line_found(fresh_db, tmp_path):
    """Ctrl-R, a word, Enter: the line found vanished, nothing ran, and what was typed next went
    into a search no longer on the screen. readline runs the line found."""
    child = _spawn(fresh_db, NL2SQL_SHELL_HISTORY=str(tmp_path / "history"), TERM="xterm")
    try:
        child.expect("=#")
        child.sendline("select 42 as answer;")
        child.expect(r"\(1 row\)")
        child.expect("=#")
        child.sendcontrol("r")
        child.expect("I-search backward")
        child.send("answer")
        child.expect("answer")
        child.send("\r")
        child.expect(r"\(1 row\)")  # the line found ran
        child.expect("=#")
        child.sendline("select 5 as five;")  # typed into the prompt again, not a hidden search
        child.expect(r"-{6}\r\n +5\r\n")  # its result
    finally:
        child.close(force=True)


def test_ctrl_d_on_an_empty_line_after_query_text_quits_as_psql(fresh_db):
    """psql's readline ends its input there (`\\q`); the shell kept waiting at its `-#` prompt."""
    child = _spawn(fresh_db)
    try:
        child.expect("=# ")
        child.sendline("select 1 as a")
        time.sleep(0.5)
        child.sendcontrol("d")
        child.expect(r"\\q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_enter_with_the_cursor_inside_an_unfinished_line_takes_the_whole_line(typed):
    """readline's Enter hands psql the whole line wherever the cursor is; the shell broke the
    line at the cursor (`select 4` with the cursor after `sel` became `sel` and `ect 4`)."""
    out, err, _ = typed("select 4 as four\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\r;\r\\q\r")
    assert " four \n------\n    4\n(1 row)\n" in out and err == ""


@pytest.mark.parametrize(("flags", "prompted"), [("-W -w", False), ("-w -W", True), ("--password --no-password", False)])
def test_the_last_of_w_and_big_w_wins(fresh_db, flags, prompted):
    """psql keeps one setting for -W and -w, so the later flag wins; the shell prompted
    whenever -W was given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PAGER": "", "TERM": "dumb", "NL2SQL_SHELL_HISTORY": "/dev/null"})
    child = pexpect.spawn("/bin/sh", ["-c", f"{shlex.quote(sys.executable)} -m nl2sql_shell -X {flags} -c 'select 7 as seven' {shlex.quote(fresh_db)}"], env=env, encoding="utf-8", codec_errors="replace", timeout=30)
    assert child.expect(["Password: ", r" seven \r\n-+\r\n +7\r\n"]) == (0 if prompted else 1)
    child.close(force=True)


def test_what_the_editor_ran_is_in_the_history(typed, monkeypatch):
    """psql puts the text `\\e` hands back into its history when it runs, so the Up arrow
    brings the edited query back; the shell's history held only the `\\e`."""
    monkeypatch.setenv("EDITOR", "sed -i 's/.*/select 3 as three;/'")
    out, err, _ = typed("select 1;\n\\e\n\\s\n\\q\n")
    assert out.endswith(" three \n-------\n     3\n(1 row)\n\nselect 1;\n\\e\nselect 3 as three;\n\\s\n\n") and err == ""
