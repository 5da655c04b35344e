"""`nl2sql-shell proxy` as a person starts it: the command, a real psql through it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from psycopg.conninfo import make_conninfo

from nl2sql_shell.db import embedded
from nl2sql_shell.proxy.questions import parse_command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_until_listening(proxy: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while not _listening(port):
        assert proxy.poll() is None and time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.1)


def test_command_serves_psql_and_stops_clean_on_sigterm(fresh_db, pg_server, tmp_path):
    port = _free_port()
    scratch = tmp_path / "tmp"  # where the proxy's private socket folder goes
    scratch.mkdir()
    # A model server that is not there: pass-through works, a question says why it cannot answer.
    command = [sys.executable, "-m", "nl2sql_shell", "proxy", fresh_db, "--listen", f"127.0.0.1:{port}", "--model-url", "http://127.0.0.1:9/v1", "--model", "none"]
    proxy = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "NL2SQL_SHELL_EXAMPLES_DIR": str(tmp_path), "TMPDIR": str(scratch)})
    try:
        _wait_until_listening(proxy, port)
        through = make_conninfo(fresh_db, host="127.0.0.1", port=port, password=embedded.read_password(pg_server.data_dir))
        result = subprocess.run(["/usr/bin/psql", "-X", "-A", "-t", through, "-c", "SELECT 40 + 2", "-c", "? how many tables"], capture_output=True, text=True, timeout=60, check=False)
        assert result.stdout.splitlines()[0] == "42"
        assert "could not answer" in result.stderr, result.stderr
        assert [p.name[:13] for p in scratch.iterdir()] == ["nl2sql-proxy-"]
    finally:
        proxy.terminate()  # SIGTERM, as `kill` or a service manager stops it
        proxy.wait(10)
    assert proxy.returncode == 0
    assert f"nl2sql-shell proxy on 127.0.0.1:{port}" in proxy.stderr.read()
    assert list(scratch.iterdir()) == []  # the socket folder went with it


def test_port_0_is_the_port_bound_in_the_banner_and_a_bad_upstream_is_one_line(fresh_db, pg_server, tmp_path):
    """`--listen 127.0.0.1:0` said "connect with: psql -h 127.0.0.1 -p 0 DBNAME"; a connection
    string libpq cannot read was a traceback."""
    command = [sys.executable, "-m", "nl2sql_shell", "proxy", fresh_db, "--listen", "127.0.0.1:0", "--model-url", "http://127.0.0.1:9/v1", "--model", "none"]
    proxy = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "NL2SQL_SHELL_EXAMPLES_DIR": str(tmp_path)})
    try:
        banner = proxy.stderr.readline()
        port = int(banner.split("127.0.0.1:")[1].split(";")[0])
        dbname = fresh_db.split("dbname=")[1].split()[0]
        assert port > 0 and banner.endswith(f"connect with: psql -h 127.0.0.1 -p {port} {dbname}\n"), banner
        through = make_conninfo(fresh_db, host="127.0.0.1", port=port, password=embedded.read_password(pg_server.data_dir))
        result = subprocess.run(["/usr/bin/psql", "-X", "-A", "-t", through, "-c", "SELECT 40 + 2"], capture_output=True, text=True, timeout=60, check=False)
        assert result.stdout == "42\n"
    finally:
        proxy.terminate()
        proxy.wait(10)
    bad = subprocess.run([sys.executable, "-m", "nl2sql_shell", "proxy", "bad=1", "--model-url", "http://127.0.0.1:9/v1"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and bad.stderr == 'Error: the server to proxy: invalid connection option "bad"\n'


def test_the_proxy_reads_the_shell_s_config_file(fresh_db, pg_server, tmp_path):
    """The README's `model_url = "..."` in config.toml: the shell used it, the proxy did not
    (`--backend openai needs --model-url URL`), nor any other setting of the file."""
    port = _free_port()
    (tmp_path / "config.toml").write_text('model_url = "http://127.0.0.1:9/v1"\nmodel = "none"\n')
    command = [sys.executable, "-m", "nl2sql_shell", "proxy", fresh_db, "--listen", f"127.0.0.1:{port}", "--backend", "openai"]
    environment = {**os.environ, "NL2SQL_SHELL_EXAMPLES_DIR": str(tmp_path), "NL2SQL_SHELL_CONFIG": str(tmp_path / "config.toml")}
    proxy = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        _wait_until_listening(proxy, port)
        through = make_conninfo(fresh_db, host="127.0.0.1", port=port, password=embedded.read_password(pg_server.data_dir))
        result = subprocess.run(["/usr/bin/psql", "-X", "-A", "-t", through, "-c", "? how many tables"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        proxy.terminate()
        proxy.wait(10)
    assert "could not answer" in result.stderr and "needs --model-url" not in result.stderr, result.stderr


@pytest.mark.parametrize("head", ["?", "?run", "SELECT nl2sql('q')", "SELECT nl2sql_run()"])
def test_a_statement_padded_with_blanks_is_read_in_linear_time(head):
    """Read on the proxy's event loop: 40,000 blanks before a last word took 10 s, during
    which no other client was answered."""
    started = time.monotonic()
    parse_command(head + " " * 200_000 + "x; ;")
    assert time.monotonic() - started < 1


def test_a_port_in_digits_outside_ascii_is_a_clear_error():
    """`--listen :²` ended in a traceback (Python's isdigit() takes ² for a digit)."""
    import click

    from nl2sql_shell.proxy.command import parse_listen

    with pytest.raises(click.BadParameter, match="expected HOST:PORT"):
        parse_listen(":²")
    with pytest.raises(click.BadParameter, match="a port from 0 to 65535"):  # (bind's OverflowError was a traceback)
        parse_listen("127.0.0.1:65536")
    assert parse_listen("127.0.0.1:65535") == ("127.0.0.1", 65535)


def test_a_port_already_taken_is_one_line_and_no_banner(fresh_db):
    """The proxy printed "proxy on ...; connect with ..." and then a traceback ending in
    "address already in use" (the default port 6432 is pgbouncer's)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "nl2sql_shell", "proxy", fresh_db, "--listen", f"127.0.0.1:{port}", "--model-url", "http://127.0.0.1:9/v1", "--model", "none"],
            capture_output=True, text=True, timeout=60,
        )
    assert done.returncode == 1 and "Traceback" not in done.stderr and "connect with" not in done.stderr
    assert done.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}:") and done.stderr.count("\n") == 1, done.stderr
