"""More of psql 15's command line and output, compared byte for byte (stdout, stderr, exit
code) with /usr/bin/psql on the same server: flags and variables in command-line order, option
errors, $COLUMNS and the pager on and off a terminal, and the prompt of continuation lines."""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable

import psycopg
import pytest
from psqlcompare import PSQL, same

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

_sessions = itertools.count()
TWO_ROWS = "select 1 as a, 2 as b union all select 3, 4"


@pytest.mark.parametrize(
    "flags",
    [
        "-A -P fieldsep=x -F y",
        "-A -F y -P fieldsep=x",
        "-A -R y -P recordsep=x",
        "-A -P recordsep=x -R y",
        "-A -z -P fieldsep=x",
        "-A -P fieldsep=x -z",
        "-A -z -F q",
        "-A -F q -P fieldsep_zero",
        "-A -0 -R q",
        "-A -R q -P recordsep_zero",
        "-F b -P fieldsep=x -F a -A",
        "-H -T a=1 -P tableattr=b",
        "-H -P tableattr=b -T a=1",
        "-t -P tuples_only=off",
        "-P tuples_only=off -t",
        "-x -P expanded=off",
        "-P expanded=off -x",
    ],
)
def test_output_flags_apply_in_command_line_order(fresh_db, flags: str):
    same(fresh_db, fresh_db, *flags.split(), "-c", TWO_ROWS)


WIDE = "select repeat('abc ', 10) as long_text, 2 as b from generate_series(1, 3)"


@pytest.mark.parametrize("flags", ["-P format=wrapped", "-P expanded=auto", "-P expanded=auto -v FETCH_COUNT=2", "-x -P format=wrapped"])
def test_columns_counts_for_no_pipe(fresh_db, monkeypatch: pytest.MonkeyPatch, flags: str):
    """$COLUMNS is the width of a terminal: into a pipe psql neither wraps nor turns \\x auto
    vertical by it (batches of FETCH_COUNT are vertical in \\x auto whatever the width)."""
    monkeypatch.setenv("COLUMNS", "20")
    _, out, _ = same(fresh_db, fresh_db, *flags.split(), "-c", WIDE)
    assert b"abc abc abc abc abc abc abc abc abc abc" in out


def _on_a_terminal(command: list[str], stdin: bytes | None, width: int, output_terminal: bool, **environment: str) -> tuple[int, bytes]:
    """Run ``command`` on a pseudo-terminal ``width`` columns wide: standard input there unless
    ``stdin`` is given (then a pipe carrying it), standard output there or, unless
    ``output_terminal``, into a pipe; (exit code, standard output)."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import termios

    from psqlcompare import env

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    process = subprocess.Popen(
        command,
        stdin=follower if stdin is None else subprocess.PIPE,
        stdout=follower if output_terminal else subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**env(), **environment},
    )
    os.close(follower)
    piped, _ = process.communicate(stdin, timeout=60)
    output = b""
    while output_terminal:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the last process on it
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=60), output if output_terminal else piped


def _both_on_a_terminal(conninfo: str, *args: str, stdin: bytes | None = None, width: int = 100, output_terminal: bool = True, **environment: str) -> bytes:
    """Ours and psql on a terminal; both alike, ours returned."""
    from psqlcompare import SHELL

    mine = _on_a_terminal([*SHELL, conninfo, *args], stdin, width, output_terminal, **environment)
    assert mine == _on_a_terminal([str(PSQL), "-X", conninfo, *args], stdin, width, output_terminal, **environment)
    return mine[1]


PAGER = "sed s/^/paged:/"


def test_pager_always_pages_only_with_a_terminal_at_both_ends(fresh_db):
    """psql's PageOutput: standard input and output must both be terminals."""
    assert b"paged: x \r\n" in _both_on_a_terminal(fresh_db, "-P", "pager=always", "-c", "select 1 as x", PAGER=PAGER)
    piped_in = _both_on_a_terminal(fresh_db, "-P", "pager=always", stdin=b"select 1 as x;\n", PAGER=PAGER)
    assert b"paged" not in piped_in and b" x \r\n" in piped_in
    piped_out = _both_on_a_terminal(fresh_db, "-P", "pager=always", "-c", "select 1 as x", output_terminal=False, PAGER=PAGER)
    assert piped_out == b" x \n---\n 1\n(1 row)\n\n"


@pytest.mark.parametrize("columns", ["", "20", "20x"])  # read as atoi reads it
@pytest.mark.parametrize("flags", ["-P format=wrapped", "-P expanded=auto"])
def test_terminal_width_or_columns_on_a_terminal(fresh_db, columns: str, flags: str):
    """On a terminal psql formats for $COLUMNS when set, else the terminal's width."""
    _both_on_a_terminal(fresh_db, *flags.split(), "-c", WIDE, width=30, COLUMNS=columns, PAGER="")


SHOW_VARIABLES = "\\echo :ECHO :QUIET :ECHO_HIDDEN :SINGLESTEP :SINGLELINE"


@pytest.mark.parametrize(
    "flags",
    ["-a -e", "-e -a", "-e -b", "-a -b", "-b -a", "-a -e -b", "-n -e", "-e -v ECHO=errors", "-v ECHO=errors -e",
     "-v QUIET=off -q", "-q -v QUIET=off", "-v ECHO_HIDDEN=off -E", "-v SINGLELINE=off -S", "-S -v SINGLELINE=off"],
)  # fmt: skip
def test_flags_and_variables_set_in_command_line_order(fresh_db, tmp_path, flags: str):
    """psql sets a flag's variable as it reads the flag: the last of -a/-e/-b/-v ECHO= wins."""
    (tmp_path / "s.sql").write_text("select 1 as a;\nselect 1/0;\ncreate temp table w (i int);\n")
    same(fresh_db, fresh_db, *flags.split(), "-c", SHOW_VARIABLES, "-f", "s.sql", cwd=tmp_path)


def _screen_after_typing(command: list[str], keys: list[list[str]], until: bytes) -> list[str]:
    """Start ``command`` in a tmux window 100x60, type each group of ``keys`` (tmux send-keys
    words), and return the screen's lines from the first prompt to the last, once ``until``
    shows twice (once for each statement typed); our status bar below is left out."""
    import os
    import shlex
    import subprocess
    import time

    from psqlcompare import env

    name = f"flags-more-{os.getpid()}-{next(_sessions)}"
    environment = [f"{key}={value}" for key, value in env().items() if key in ("PAGER", "LC_ALL", "NL2SQL_SHELL_HISTORY", "PATH", "HOME")]
    tmux = ["tmux", "-L", name]  # a server of its own: never one still exiting after the last test's
    subprocess.run([*tmux, "new-session", "-d", "-s", name, "-x", "100", "-y", "60", shlex.join(["env", "-i", *environment, "TERM=xterm", *command])], check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True, check=True).stdout

    def wait_for(done: Callable[[str], bool]) -> str:
        deadline, text = time.monotonic() + 30, ""
        while not done(text) and time.monotonic() < deadline:
            time.sleep(0.2)
            text = screen()
        return text

    try:
        wait_for(lambda text: any(line.rstrip().endswith("=#") for line in text.splitlines()))  # the first prompt: nothing typed ahead
        for group in itertools.chain([["\\echo ready", "Enter"]], keys):
            time.sleep(0.3)
            subprocess.run([*tmux, "send-keys", "-t", name, *group], check=True)
        lines = [line.rstrip() for line in wait_for(lambda text: text.count(until.decode()) >= 2).splitlines()]
        last_prompt = max(number for number, line in enumerate(lines) if line.endswith("=#"))
        return lines[lines.index("ready") + 1 : last_prompt + 1]
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_continuation_lines_keep_psqls_prompt2_on_the_screen(fresh_db):
    """Each line of a statement keeps the prompt it was typed at (PROMPT2: %R is '-', or the
    quote or parenthesis left open), the last one too; a line too long for the screen wraps
    with no prompt, as readline draws it; an empty line is not part of the query."""

    from psqlcompare import SHELL

    keys = [["select 1 as a,"], ["Enter"], ["Enter"], ["nosuch\\;", "Enter"]]  # the empty line is not sent: LINE 2
    keys += [["select"], ["Enter"], ["'a"], ["Enter"], ["b',"], ["Enter"], ["(1"], ["Enter"], [")\\;", "Enter"]]
    keys += [["select '" + "x" * 120 + "' as"], ["Enter"], ["y\\;", "Enter"]]
    no_model = ["--model-url", "http://127.0.0.1:9/v1", "--model", "none"]  # never load a model here
    mine = _screen_after_typing([*SHELL, *no_model, fresh_db], keys, b"(1 row)")
    psql = _screen_after_typing([str(PSQL), "-X", fresh_db], keys, b"(1 row)")
    assert mine == psql
    assert any(line.endswith("(# );") for line in mine) and any(line.endswith("-# y;") for line in mine)
    assert "LINE 2: nosuch;" in mine


@pytest.mark.parametrize("assignment", ["=x", "a b=1", "a-b=1", "a-b", "é=1", "x=1"])
def test_variable_names_psql_refuses_on_the_command_line(fresh_db, assignment: str):
    """-v with an empty name or one with other characters than letters, digits and _ stops
    psql before it connects; unsetting such a name is no error."""
    same(fresh_db, fresh_db, "-v", assignment, "-c", "select 1 as a")


@pytest.mark.parametrize("args", ["--bogus", "-k", "-xk", "-c", "--command", "--echo-all=x"])
def test_option_errors_end_the_program_as_psqls_getopt(fresh_db, args: str):
    """getopt's line and psql's hint, exit code 1; the names are each program's own (psql's
    first line names its binary, /usr/lib/postgresql/15/bin/psql on Debian)."""
    import re

    from psqlcompare import ours, theirs

    code, out, err = ours(fresh_db, *args.split())
    psql = theirs(fresh_db, *args.split())
    assert (code, out, err.replace(b'Try "nl2sql-shell --help"', b'Try "psql --help"')) == (psql[0], psql[1], re.sub(rb"^\S*psql:", b"psql:", psql[2]))
    assert code == 1 and err.count(b"\n") == 2


@pytest.mark.parametrize("args", ["extra1 extra2", "-q extra1", "-v QUIET=1 extra1", "-q -v QUIET=off extra1"])
def test_extra_words_after_the_user_name_are_ignored_with_a_warning(fresh_db, args: str):
    same(fresh_db, fresh_db, "-U", "postgres", "-c", "select 1 as a", *args.split())


def test_help_and_connection_messages_go_to_standard_output_whatever_o_says(fresh_db, tmp_path):
    """psql prints \\copyright, \\conninfo, `\\c`'s sentence, \\? and the \\set list with
    printf or its pager, never into the \\o file (they went into it)."""
    from psqlcompare import ours, theirs

    script = "\\o out.txt\n\\copyright\n\\conninfo\n\\c\nselect 1 as a;\n\\qecho q\n"
    results = {}
    for program, side in ((ours, "ours"), (theirs, "psql")):
        (tmp_path / side).mkdir()
        (tmp_path / side / "s.sql").write_text(script)
        results[side] = program(fresh_db, "-f", "s.sql", cwd=tmp_path / side)
    code, out, err = results["ours"]
    out = re.sub(rb"Password file: .*\n", b"", out, count=1)  # the embedded server's, which \\conninfo names after psql's line
    assert (code, out, err) == results["psql"]
    assert (tmp_path / "ours" / "out.txt").read_bytes() == (tmp_path / "psql" / "out.txt").read_bytes() == b" a \n---\n 1\n(1 row)\n\nq\n"
    code, out, _ = ours(fresh_db, "-o", "o.txt", "-c", "\\?", "-c", "\\set", cwd=tmp_path)
    assert code == 0 and b"\\copyright" in out and b"AUTOCOMMIT = 'on'\n" in out
    assert (tmp_path / "o.txt").read_bytes() == b""


# -H logs the plain command tag, not its <p>; \x auto logs a result wider than `columns` vertically
@pytest.mark.parametrize("flags", [[], ["-H"], ["-P", "expanded=auto", "-P", "columns=10"]])
def test_output_and_log_files(fresh_db, tmp_path, flags):
    """-o gets results and \\qecho; -L logs each query and its result, not \\qecho's text."""
    from psqlcompare import ours, theirs

    commands = ["-c", "select 1 as a", "-c", "\\qecho q", "-c", "\\echo e", "-c", "select 1/0", "-c", "\\dn", "-c", "create temp table z (i int)"]
    for program, name in ((ours, "ours"), (theirs, "psql")):
        program(fresh_db, *flags, "-o", f"{name}.out", "-L", f"{name}.log", *commands, cwd=tmp_path)
    for kind in ("out", "log"):
        assert (tmp_path / f"ours.{kind}").read_bytes() == (tmp_path / f"psql.{kind}").read_bytes()
    assert b"q\n" in (tmp_path / "psql.out").read_bytes() and b"q\n" not in (tmp_path / "psql.log").read_bytes()
    same(fresh_db, fresh_db, "-o", "/dev/null", "-L", "/dev/null", *commands, cwd=tmp_path)


@pytest.mark.parametrize("args", [["--tuples", "-c", "select 1"], ["--comm=select 2"], ["--single-t", "-c", "select 3"], ["-c", "--tuples"], ["--no-a", "-c", "select 4 as x"]])
def test_a_long_option_s_unique_prefix_is_that_option(fresh_db, args: list[str]):
    """getopt_long, which psql reads its options with, takes `--tuples` for --tuples-only: the
    shell said "unrecognized option" and exited 1. (`-c --tuples`: a value, not an option.)"""
    code, out, _ = same(fresh_db, fresh_db, *args)
    assert code == 0


def test_an_ambiguous_long_option_lists_psql_s_possibilities(fresh_db):
    from psqlcompare import ours, theirs

    mine, psql = ours(fresh_db, "--no", "-c", "select 1"), theirs(fresh_db, "--no", "-c", "select 1")
    assert mine[0] == psql[0] == 1
    assert mine[2].split(b": ", 1)[1].splitlines()[0] == psql[2].split(b": ", 1)[1].splitlines()[0] == (
        b"option '--no' is ambiguous; possibilities: '--no-align' '--no-readline' '--no-password' '--no-psqlrc'"
    )


def test_list_without_a_database_lists_from_postgres_whatever_pgdatabase_says(fresh_db):
    """`PGDATABASE=nosuch psql -l` lists (psql connects to postgres for -l); the shell went to
    PGDATABASE's database and failed with exit code 2."""
    import subprocess

    from psqlcompare import SHELL, env

    params = psycopg.conninfo.conninfo_to_dict(fresh_db)
    environment = {**env(), "PGDATABASE": "nosuch", "PGPASSFILE": str(params["passfile"])}
    flags = ["-h", str(params["host"]), "-p", str(params["port"]), "-U", str(params["user"]), "-l", "-A", "-t"]
    done = subprocess.run([*SHELL, *flags], capture_output=True, env=environment, timeout=60)  # (psql 15's \\l fails on PostgreSQL 18's catalog)
    assert (done.returncode, done.stderr) == (0, b"") and f"{params['dbname']}|".encode() in done.stdout
