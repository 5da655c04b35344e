"""Bytes that are not UTF-8 and huge statements, run through the real CLI and compared with psql.

psql sends a statement's bytes as they are and the server refuses them; it prints
`psql:FILE:LINE: ERROR:  invalid byte sequence for encoding "UTF8": 0xff` (no FILE:LINE: for
plain stdin) and goes on with the script. Our lines are the same with our program's name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect

SHELL = [sys.executable, "-m", "nl2sql_shell"]
MB = 1024 * 1024


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PAGER="", LC_ALL="C.UTF-8", NL2SQL_SHELL_HISTORY="/dev/null")
    return env


def run(command: list[str], cwd: Path, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    done = subprocess.run(command, check=False, input=stdin, capture_output=True, env=_env(), cwd=cwd, timeout=120)
    return done.returncode, done.stdout, done.stderr


def same_as_psql(conninfo: str, cwd: Path, *args: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Ours and psql's (exit code, stdout, stderr), asserted equal up to the program name."""
    ours = run([*SHELL, conninfo, *args], cwd, stdin)
    theirs = run(["psql", "-X", conninfo, *args], cwd, stdin)
    assert ours == (theirs[0], theirs[1], theirs[2].replace(b"psql:", b"nl2sql-shell:"))
    return ours


def test_script_file_goes_on_after_a_bad_byte_like_psql(fresh_db, tmp_path: Path):
    (tmp_path / "bad.sql").write_bytes(b"select 1;\nselect '\xff';\nselect 2;\n")
    code, out, err = same_as_psql(fresh_db, tmp_path, "-f", "bad.sql")
    assert code == 0 and b"        2\n" in out
    assert err == b'nl2sql-shell:bad.sql:2: ERROR:  invalid byte sequence for encoding "UTF8": 0xff\n'


def test_a_statement_with_a_bad_byte_sets_the_error_variables_and_is_the_previous_query(fresh_db, tmp_path: Path):
    """ERROR, SQLSTATE and LAST_ERROR_* stayed unset (`\\if :ERROR` took the wrong branch), and
    `\\p` and `\\g` had no previous query."""
    (tmp_path / "bad.sql").write_bytes(b"select 'a\xffb';\n\\echo [:ERROR] [:SQLSTATE] [:LAST_ERROR_SQLSTATE]\n\\p\n\\g\n")
    code, out, err = same_as_psql(fresh_db, tmp_path, "-f", "bad.sql")
    assert out.startswith(b"[true] [22021] [22021]\nselect 'a\xffb';\n") and err.count(b"invalid byte sequence") == 2


def test_the_line_and_bytes_reported_are_psqls(fresh_db, tmp_path: Path):
    script = b"select 1,\n'\xc3(' as x,\n3;\nselect 'a\xe2\x82';\n-- \xff in a comment is never sent\nselect 'b' \xc3\n;\nselect 'tail \xff'"
    (tmp_path / "multi.sql").write_bytes(script)
    _, _, err = same_as_psql(fresh_db, tmp_path, "-f", "multi.sql")
    assert err.splitlines() == [
        b'nl2sql-shell:multi.sql:3: ERROR:  invalid byte sequence for encoding "UTF8": 0xc3 0x28',
        b'nl2sql-shell:multi.sql:4: ERROR:  invalid byte sequence for encoding "UTF8": 0xe2 0x82 0x27',
        b'nl2sql-shell:multi.sql:7: ERROR:  invalid byte sequence for encoding "UTF8": 0xc3 0x0a',
        b'nl2sql-shell:multi.sql:8: ERROR:  invalid byte sequence for encoding "UTF8": 0xff',
    ]


def test_stdin_and_on_error_stop_exit_codes(fresh_db, tmp_path: Path):
    script = b"select 1;\nselect '\xff';\nselect 2;\n"
    code, _, err = same_as_psql(fresh_db, tmp_path, stdin=script)
    assert code == 0 and err == b'ERROR:  invalid byte sequence for encoding "UTF8": 0xff\n'
    code, out, _ = same_as_psql(fresh_db, tmp_path, "-v", "ON_ERROR_STOP=1", stdin=script)
    assert code == 3 and b"2\n" not in out
    code, _, err = same_as_psql(fresh_db, tmp_path, "-v", "ON_ERROR_STOP=1", "-f", "-", stdin=script)
    assert code == 3 and err.startswith(b"nl2sql-shell:<stdin>:2: ERROR:")


def test_included_file_is_named_and_an_open_transaction_fails_as_in_psql(fresh_db, tmp_path: Path):
    """A bad statement inside BEGIN aborts it as psql's does, so COMMIT cannot keep half a script."""
    (tmp_path / "bad.sql").write_bytes(b"select '\xff';\n")
    (tmp_path / "main.sql").write_text(
        "begin;\ncreate temp table t (a int);\ninsert into t values (1);\n\\i bad.sql\nselect count(*) from t;\ncommit;\n"
    )
    code, out, err = run([*SHELL, fresh_db, "-f", "main.sql"], tmp_path)
    theirs = run(["psql", "-X", fresh_db, "-f", "main.sql"], tmp_path)
    assert (code, out) == theirs[:2] and out.endswith(b"ROLLBACK\n")
    assert err.splitlines()[0] == b'nl2sql-shell:bad.sql:1: ERROR:  invalid byte sequence for encoding "UTF8": 0xff'


def test_backslash_command_with_a_bad_byte_runs(fresh_db, tmp_path: Path):
    (tmp_path / "echo.sql").write_bytes(b"\\echo a\xffb\nselect 9;\n")
    code, out, err = run([*SHELL, fresh_db, "-f", "echo.sql"], tmp_path)
    assert (code, err) == (0, b"")
    assert out.startswith("a\ufffdb\n".encode()) and b"        9\n" in out


def test_interactive_include_of_a_binary_file_keeps_the_session_and_its_transaction(fresh_db, tmp_path: Path):
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 8 + b"\xff\xfe;\n\x00\x01;\n")
    env = _env()
    env["TERM"] = "dumb"
    child = pexpect.spawn(sys.executable, ["-m", "nl2sql_shell", fresh_db], env=env, encoding="utf-8", codec_errors="replace", timeout=30, dimensions=(40, 200))
    child.expect("=# ")
    child.sendline("begin;")
    child.expect(r"=\*# ")
    child.sendline("create table kept (a int);")
    child.expect(r"=\*# ")
    child.sendline(f"\\i {binary}")
    child.expect("invalid byte sequence for encoding")
    child.expect(r"=!# ")  # still in the transaction, failed as psql leaves it
    child.sendline("rollback;")
    child.expect("ROLLBACK")
    child.expect("=# ")
    child.sendline("select 'still here' as status;")
    child.expect("still here")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def _peak_rss_mb(conninfo: str, script: Path) -> tuple[int, float]:
    """Exit code and peak resident memory (MB) of the CLI running ``script`` from stdin."""
    with script.open("rb") as stdin:
        process = subprocess.Popen([*SHELL, conninfo], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.stderr is not None and process.stderr.read() == b""
    return process.returncode, usage.ru_maxrss / 1024


def test_ten_megabyte_statements_stay_within_200_mb(fresh_db, tmp_path: Path):
    idle = tmp_path / "idle.sql"
    idle.write_text("select 1;\n")
    statements = {
        "literal": "SELECT length('" + "x" * (10 * MB) + "');\n",
        "in-list": "SELECT count(*) FROM generate_series(1, 3) g WHERE g IN (" + ",".join(map(str, range(1_400_000))) + ");\n",
        "quotes": "SELECT length('" + "ab''" * (10 * MB // 4) + "') AS n, 'it''s' /* c */ -- d\n;\n",
        "escapes": "SELECT length(E'" + "a\\n" * (10 * MB // 3) + "');\n",
        "comments": "SELECT 1 " + "/* c */ -- d\n" * (10 * MB // 13) + ";\n",
    }
    code, baseline = _peak_rss_mb(fresh_db, idle)
    assert code == 0
    for name, text in statements.items():
        script = tmp_path / f"{name}.sql"
        script.write_text(text)
        code, peak = _peak_rss_mb(fresh_db, script)
        assert code == 0, name
        assert peak - baseline < 200, f"{name}: {peak:.0f} MB at peak, {baseline:.0f} MB idle"
