"""The shell as a user runs it: a real process against the real server, compared with psql."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from conftest import load_defog_db

from nl2sql_shell.db import embedded

SHELL = [sys.executable, "-m", "nl2sql_shell"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({"PAGER": "", "LC_ALL": "C.UTF-8", "NL2SQL_SHELL_HISTORY": "/dev/null"}, **extra)
    return env


def shell(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHELL, *args], input=stdin, capture_output=True, text=True, env=_env(**env), timeout=120)


def psql(conninfo: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", "-X", conninfo, *args], input=stdin, capture_output=True, text=True, env=_env(), timeout=60)


QUERIES = [
    "SELECT * FROM author ORDER BY aid LIMIT 7",
    "SELECT title, citation_num, year FROM publication ORDER BY citation_num DESC NULLS LAST LIMIT 5",
    "SELECT a.name, count(*) AS papers FROM author a JOIN writes w ON w.aid = a.aid GROUP BY a.name ORDER BY papers DESC, a.name LIMIT 5",
    "SELECT title, abstract FROM publication WHERE abstract IS NULL OR abstract = '' ORDER BY pid LIMIT 3",
    "SELECT avg(citation_num), sum(reference_num)::float8 / 3 AS ratio, NULL AS nothing FROM publication",
    "SELECT * FROM domain WHERE false",
    "SELECT nosuchcolumn FROM author",
    "SELECT E'two\\nlines' AS text, 'ünïcödé 漢字' AS wide, -1.5::numeric AS neg",
]


@pytest.mark.parametrize("mode", [[], ["-x"], ["--csv"], ["-t"]], ids=["aligned", "expanded", "csv", "tuples"])
def test_output_is_byte_identical_to_psql(pg_server, mode):
    conninfo = load_defog_db(pg_server, "academic")
    for query in QUERIES:
        ours = shell(conninfo, *mode, "-c", query)
        theirs = psql(conninfo, *mode, "-c", query)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), query


def test_errors_exit_codes_and_on_error_stop_match_psql(fresh_db):
    for args in (["-c", "select 1/0"], ["-c", "select 1/0", "-c", "select 2"], ["-c", "selec 1"], ["-c", "select * from nothere"]):
        ours, theirs = shell(fresh_db, *args), psql(fresh_db, *args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
    script = "select 1/0;\nselect 2;\n"
    for args in ([], ["-v", "ON_ERROR_STOP=1"]):
        ours, theirs = shell(fresh_db, *args, stdin=script), psql(fresh_db, *args, stdin=script)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
    assert shell(fresh_db, "-v", "ON_ERROR_STOP=1", stdin=script).returncode == 3


def test_script_file_with_transactions_meta_commands_and_copy(fresh_db, tmp_path: Path):
    data = tmp_path / "in.csv"
    data.write_text("1,alpha\n2,beta\n")
    script = tmp_path / "script.sql"
    script.write_text(
        "create table t (id int primary key, name text);\n"
        f"\\copy t from '{data}' with (format csv)\n"
        "begin;\ninsert into t values (3, 'gam;ma')\n  returning id;\nrollback;\n"
        "\\echo done copying\n"
        "select count(*) from t;\n"
        f"\\o {tmp_path / 'out.txt'}\n"
        "select name from t order by id;\n"
        "\\o\n"
        "select $$dollar ; quoted$$ as d"  # the last statement may lack its semicolon
    )
    result = shell(fresh_db, "-f", str(script))
    assert result.returncode == 0, result.stderr
    assert "COPY 2" in result.stdout
    assert "INSERT 0 1" in result.stdout and "ROLLBACK" in result.stdout
    assert "done copying" in result.stdout
    assert " count \n-------\n     2\n(1 row)" in result.stdout
    assert "alpha" not in result.stdout and "alpha" in (tmp_path / "out.txt").read_text()
    assert "dollar ; quoted" in result.stdout


def test_unreachable_server_is_libpqs_message_and_exit_code_2():
    """psql prints libpq's message whole: the error, then its tab-indented hint; no traceback."""
    result = shell("host=127.0.0.1 port=1 user=nobody dbname=x connect_timeout=2", "-c", "select 1")
    assert result.returncode == 2
    assert result.stderr == (
        'nl2sql-shell: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?\n"
    )


def test_pg_environment_variables_are_honoured(pg_server, fresh_db):
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    result = shell("-c", "select current_database()", "-t", PGHOST=str(pg_server.data_dir), PGPORT=str(pg_server.port), PGUSER="postgres", PGDATABASE=dbname, PGPASSFILE=str(pg_server.password_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == dbname


def test_flags_like_psql(pg_server, fresh_db):
    dbname = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    result = shell("-h", "127.0.0.1", "-p", str(pg_server.port), "-U", "postgres", "-d", dbname, "-c", "\\conninfo", PGPASSWORD=embedded.read_password(pg_server.data_dir))
    assert result.returncode == 0, result.stderr
    assert f'You are connected to database "{dbname}" as user "postgres" on host "127.0.0.1" at port "{pg_server.port}".' in result.stdout


def test_embedded_demo_database_starts_from_nothing(reachable_tmp: Path):
    data = reachable_tmp / "embedded"
    result = shell("-c", "select count(*) > 1000 from transaction", "-t", NL2SQL_SHELL_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "t"
    again = shell("--demo", "-c", "select current_database()", "-t", NL2SQL_SHELL_DATA_DIR=str(data))
    assert again.stdout.strip() == "nl2sql_demo"


def test_a_second_shell_on_the_demo_keeps_its_server_when_the_first_one_quits(reachable_tmp: Path):
    """The server was the first shell's child and stopped when that shell exited: a second
    shell open on the demo lost its connection in the middle of its work."""
    data = reachable_tmp / "two-shells"
    env = _env(NL2SQL_SHELL_DATA_DIR=str(data))
    first = subprocess.Popen([*SHELL, "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert _waited(lambda: embedded.password_file(data).exists() and (data / "postmaster.pid").exists())
        server = embedded.start(data)  # (this test's own look at the server)
        second = subprocess.Popen([*SHELL, "-At", "-c", "select pg_sleep(4)", "-c", "select count(*) > 1000 from transaction"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            assert _waited(lambda: conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").fetchone() == (1,))
        server.stop()
        assert first.communicate("select 'first';\n", timeout=60) == ("first\n", "") and first.returncode == 0
        assert second.communicate(timeout=60) == ("\nt\n", "") and second.returncode == 0
    finally:
        first.kill()
    assert _waited(lambda: not (data / "postmaster.pid").exists())  # the last one gone, the server stopped


def _waited(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ('candidates = "x"', "candidates must be an integer"),
        ('check_seconds = "abc"', "check_seconds must be a number"),
        ('vi = "false"', "vi must be true or false"),
        ("candidates = 0", "candidates must be at least 1, not 0"),  # (every question then failed)
        ("check_seconds = 0", "check_seconds must be more than 0, not 0"),  # (every check was cancelled at once)
    ],
)
def test_a_config_value_of_the_wrong_kind_is_one_line(fresh_db, tmp_path, setting, named):
    """`candidates = "x"` ended in a traceback; `vi = "false"` switched vi keys on."""
    (tmp_path / "config.toml").write_text(setting + "\n")
    done = shell(fresh_db, "-X", "-c", "select 1", NL2SQL_SHELL_CONFIG=str(tmp_path / "config.toml"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and named in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_config_key_is_one_warning_line_and_the_session_goes_on(fresh_db, tmp_path):
    """`modle = "..."` (misspelt) changed nothing, silently."""
    (tmp_path / "config.toml").write_text('modle = "Qwen/Qwen2.5-Coder-1.5B-Instruct"\n')
    done = shell(fresh_db, "-X", "-c", "select 1 as one", NL2SQL_SHELL_CONFIG=str(tmp_path / "config.toml"))
    assert done.returncode == 0 and " one \n" in done.stdout
    assert done.stderr.splitlines() == [f"nl2sql-shell: {tmp_path / 'config.toml'}: unknown setting 'modle' ignored; the settings are: adapter, backend, candidates, check_seconds, device, grammar, model, model_url, quantize, rules, vi"]


def test_zero_candidates_is_a_usage_error(fresh_db):
    done = shell(fresh_db, "-X", "--candidates", "0", "-c", "select 1")
    assert done.returncode == 2 and "'--candidates': 0 is not in the range x>=1" in done.stderr


def test_a_config_value_of_the_wrong_kind_is_told_before_connecting(tmp_path):
    """It was checked only once connected: with the server down, the person was sent to fix
    the connection first and met the file's error after."""
    (tmp_path / "config.toml").write_text('candidates = "x"\n')
    done = shell(f"host={tmp_path} port=1 dbname=x", "-X", "-c", "select 1", NL2SQL_SHELL_CONFIG=str(tmp_path / "config.toml"))
    assert done.returncode == 1 and "candidates must be an integer" in done.stderr and "connect" not in done.stderr


def test_the_config_s_local_model_settings_leave_a_model_server_alone(fresh_db, tmp_path):
    """`quantize = "4bit"` in the file (its own docstring's example) with `--model-url` on
    the command line: every question failed, blaming flags that were never typed."""
    (tmp_path / "config.toml").write_text('quantize = "4bit"\ndevice = "cpu"\nbackend = "llamacpp"\n')  # (the URL was ignored for the file's backend)
    done = shell(fresh_db, "-X", "--model-url", "http://127.0.0.1:9/v1", "--model", "none", "-c", "? how many rows", NL2SQL_SHELL_CONFIG=str(tmp_path / "config.toml"))
    assert "do not apply to a model server" not in done.stderr and "127.0.0.1:9" in done.stderr


def test_model_url_and_a_local_backend_given_together_is_one_line(fresh_db):
    done = shell(fresh_db, "-X", "--model-url", "http://127.0.0.1:9/v1", "--backend", "llamacpp", "-c", "select 1")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "--backend llamacpp runs a model here, and --model-url asks a server" in done.stderr



def test_bytes_that_are_no_text_are_written_as_read_in_a_strict_utf8_locale(fresh_db, tmp_path: Path):
    """Python writes strict UTF-8 in an en_US.UTF-8 terminal: `\\echo '\\xe9'` ended the session
    with a traceback, `\\warn` wrote `\\udce9` and a `\\o` file `?`. psql writes the byte."""
    def run(command: list[str], out: Path, **env: str) -> tuple[bytes, bytes, int, bytes]:
        args = ["-X", fresh_db, "-c", "\\echo '\\xe9'", "-c", "\\warn '\\xe9'", "-c", f"\\o {out}", "-c", "\\qecho '\\xe9'", "-c", "select 1 as one"]
        done = subprocess.run([*command, *args], capture_output=True, env=_env(**env), timeout=60)
        return done.stdout, done.stderr, done.returncode, out.read_bytes()

    ours = run(SHELL, tmp_path / "ours", PYTHONIOENCODING="utf-8:strict")
    assert ours == run(["psql"], tmp_path / "theirs")
    assert ours[:2] == (b"\xe9\n", b"\xe9\n") and ours[3].startswith(b"\xe9\n")


def test_a_subcommand_typed_wrong_is_named_after_the_connection_error(tmp_path):
    """`nl2sql-shell proxxy` is a database name by psql's rules: the user saw only libpq's
    two lines about a socket, nothing about the command they meant."""
    done = shell("proxxy", "-h", str(tmp_path), "-X", "-c", "select 1")
    assert done.returncode == 2 and done.stderr.splitlines()[-1] == "nl2sql-shell: hint: proxxy was read as a database name; the command is proxy"
    assert "hint" not in shell("shop", "-h", str(tmp_path), "-X", "-c", "select 1").stderr  # a database name as any other: psql's lines alone
