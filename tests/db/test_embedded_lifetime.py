"""How long the embedded server lives: while any process uses it, whichever started it, and
not after the last one is gone, even one killed outright."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.db import embedded
from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.db.embedded_session import EmbeddedSession
from nl2sql_shell.output import Output
from nl2sql_shell.repl.shell import Shell


@pytest.fixture
def data_dir(reachable_tmp: Path) -> Iterator[Path]:
    folder = reachable_tmp / f"lifetime-{uuid.uuid4().hex[:8]}"
    yield folder
    embedded.remove(folder)


def _busy(server: embedded.EmbeddedServer) -> tuple[subprocess.Popen, int]:
    """A client whose query runs for minutes, and its backend's pid once it runs."""
    busy = subprocess.Popen([sys.executable, "-c", "import psycopg, sys; psycopg.connect(sys.argv[1]).execute('SELECT count(*) FROM generate_series(1, 3e9)')", server.conninfo()], stderr=subprocess.DEVNULL)
    query = "SELECT pid FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 3e9)%' AND pid <> pg_backend_pid()"
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        deadline = time.monotonic() + 20
        while (row := conn.execute(query).fetchone()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return busy, row[0]


def _stopped(data_dir: Path, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while (data_dir / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_server_serves_a_second_user_after_the_first_one_stops(data_dir):
    first = embedded.start(data_dir)
    second = embedded.start(data_dir)
    assert first.keeper is not None and second.keeper is None and second.port == first.port
    first.stop()
    with psycopg.connect(second.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    second.stop()
    assert _stopped(data_dir, within=0)  # the last one stops it before stop() returns


def test_a_user_killed_outright_leaves_no_server_behind(data_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from nl2sql_shell.db import embedded; "
         "print(embedded.start(Path(sys.argv[1])).port, flush=True); time.sleep(120)", str(data_dir)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip().isdigit()
        attached = embedded.start(data_dir)
        holder.kill()
        holder.wait()
        with psycopg.connect(attached.conninfo()) as conn:  # still held by this process
            assert conn.execute("SELECT 1").fetchone() == (1,)
        attached.stop()
        assert _stopped(data_dir)
        holder = subprocess.Popen(holder.args, stdout=subprocess.PIPE, text=True)  # alone this time
        assert holder.stdout.readline().strip().isdigit()
        holder.kill()
        holder.wait()
        assert _stopped(data_dir)
    finally:
        holder.kill()
        holder.wait()


def test_shells_starting_at_once_on_a_new_folder_share_one_server(data_dir):
    """A second shell started while the first ran initdb took the folder for one from before
    passwords and set a password of its own, which the first then replaced in the file: every
    later start was refused ("refused the password")."""
    code = "import sys; from pathlib import Path; from nl2sql_shell.db import embedded; s = embedded.start(Path(sys.argv[1])); print(s.port, flush=True); sys.stdin.read()"
    starts = [subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    ports = {start.stdout.readline().strip() for start in starts}
    errors = [start.communicate("", timeout=60)[1] for start in starts]
    assert len(ports) == 1 and ports.pop().isdigit(), errors
    later = embedded.start(data_dir)
    with psycopg.connect(later.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    later.stop()


def test_the_keeper_runs_the_code_of_the_shell_that_started_it(data_dir):
    """Started from /, it imported whichever nl2sql_shell was installed (or none)."""
    server = embedded.start(data_dir)
    try:
        environment = Path(f"/proc/{server.keeper.pid}/environ").read_bytes().split(b"\0")
        path = next(entry for entry in environment if entry.startswith(b"PYTHONPATH=")).decode()
        assert path.removeprefix("PYTHONPATH=").split(os.pathsep)[0] == str(Path(embedded.__file__).resolve().parents[2])
    finally:
        server.stop()


def test_a_server_killed_outright_leaves_no_backend_running(data_dir):
    """Its busy backends ran on without a postmaster, and no server could start on the folder
    until they ended ("Terminate any old server processes")."""
    server = embedded.start(data_dir)
    busy, backend = _busy(server)
    try:
        os.kill(int((data_dir / "postmaster.pid").read_text().splitlines()[0]), 9)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{backend}").exists() and Path(f"/proc/{backend}/stat").read_text().split()[2] != "Z":
            assert time.monotonic() < deadline, "the backend runs on"
            time.sleep(0.05)
    finally:
        busy.kill()
        server.stop()


def test_a_shell_killed_during_its_first_initdb_leaves_a_folder_the_next_start_sets_up(data_dir):
    """Its initdb ran on: the next start took the half-made folder for one from before
    passwords, and its single-user postgres met initdb's ("lock file already exists")."""
    code = "import sys; from pathlib import Path; from nl2sql_shell.db import embedded; embedded.start(Path(sys.argv[1]))"
    first = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not subprocess.run(["pgrep", "-f", f"initdb -D {data_dir}"], capture_output=True).stdout:
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.01)
    first.kill()
    first.wait()
    server = embedded.start(data_dir)
    with psycopg.connect(server.conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert not list(data_dir.parent.glob(f".{data_dir.name}.initdb-*"))


@pytest.mark.parametrize("linked", [False, True], ids=["folder", "through-a-link"])
def test_a_backend_left_by_a_server_and_keeper_killed_together_does_not_block_the_next_start(data_dir, linked):
    """Through a link: the backends' working folder is the real path; compared with the
    link's, none was found, and the next start met "pre-existing shared memory block is still
    in use"."""
    if linked:
        real = data_dir.with_name(f"real-{data_dir.name}")
        real.mkdir()
        data_dir.with_name(f"link-{data_dir.name}").symlink_to(real)
        data_dir = data_dir.with_name(f"link-{data_dir.name}") / "pgdata"
    server = embedded.start(data_dir)
    busy, _ = _busy(server)
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(server.keeper.pid, 9)
        os.kill(postmaster, 9)
        server.keeper.wait()
        again = embedded.start(data_dir, timeout=20)
        with psycopg.connect(again.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        again.stop()
    finally:
        busy.kill()
        server.stop()
        if linked:
            embedded.remove(data_dir)


# A process that is its orphans' subreaper: the server killed with its keeper becomes its zombie,
# collected after argv[2] seconds (never if negative), as PID 1 of a container does, late or never.
_UNCOLLECTED = """
import ctypes, os, sys, threading
from pathlib import Path
import psycopg
from nl2sql_shell.db import embedded
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
data_dir, collect_after, timeout = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
server = embedded.start(data_dir)
postmaster = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
os.kill(server.keeper.pid, 9)
server.keeper.wait()
os.kill(postmaster, 9)
if collect_after >= 0:
    threading.Timer(collect_after, os.waitpid, (postmaster, 0)).start()
try:
    again = embedded.start(data_dir, timeout=timeout)
except embedded.EmbeddedServerError as exc:
    print(exc)
    sys.exit(1)
with psycopg.connect(again.conninfo()) as conn:
    print(conn.execute("SELECT 'answers'").fetchone()[0])
again.stop()
server.stop()
"""


def test_a_killed_server_collected_late_does_not_block_the_next_start(data_dir):
    """PostgreSQL takes an uncollected (zombie) server for a live one ("lock file already
    exists"): the next start tried three times at once and gave up ("does not answer")."""
    run = subprocess.run([sys.executable, "-c", _UNCOLLECTED, str(data_dir), "2", "20"], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "answers", run.stdout + run.stderr


def test_a_killed_server_never_collected_is_named_as_the_reason(data_dir):
    run = subprocess.run([sys.executable, "-c", _UNCOLLECTED, str(data_dir), "-1", "2"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "has exited, but nothing has collected it" in run.stdout and "--init" in run.stdout, run.stdout + run.stderr


def test_a_shell_whose_server_died_starts_it_again_and_goes_on(data_dir):
    """psql's reset knocked at the dead server's port ("Failed."), and the shell stayed
    unconnected for good: nobody else starts the embedded server."""
    session = EmbeddedSession(embedded.start(data_dir))
    first_port = session.server.port
    target = Target(session.server.conninfo())
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=err, interactive=True, revive=session.revive)
    try:
        shell.handle("\\set kept 42")
        os.kill(session.server.keeper.pid, 9)  # the server dies with it
        session.server.keeper.wait()
        shell.handle("select 1;")
        shell.handle("select :kept as kept;")
        assert "The connection to the server was lost. Attempting reset: Succeeded." in err.getvalue()
        assert " kept \n------\n   42\n(1 row)\n" in out.getvalue()
        assert shell.connected and shell.variables["PORT"] == str(session.server.port) != str(first_port)
    finally:
        shell.conn.close()
        session.stop()
    assert _stopped(data_dir)


def test_a_data_folder_whose_parent_does_not_exist_yet_is_made(reachable_tmp):
    """A new user's first start (~/.local/share/nl2sql-shell not there yet) failed: "No such
    file or directory: '.../pgdata.auth'"."""
    data_dir = reachable_tmp / f"new-{uuid.uuid4().hex[:8]}" / "nl2sql-shell" / "pgdata"
    umask = os.umask(0o077)  # the folders made for it are still passable by the server's user (as root: nobody's initdb failed)
    try:
        server = embedded.start(data_dir)
    finally:
        os.umask(umask)
    try:
        with psycopg.connect(server.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
        embedded.remove(data_dir)


def test_ending_orphans_leaves_a_server_that_runs_alone(data_dir):
    """Called when a start finds no server answering, it killed every postgres working in the
    folder: the server another shell was starting, not answering yet, died with it."""
    server = embedded.start(data_dir)
    busy, backend = _busy(server)
    try:
        embedded._end_orphans(data_dir)
        time.sleep(0.5)
        assert Path(f"/proc/{backend}").exists() and busy.poll() is None
        with psycopg.connect(server.conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        busy.kill()
        server.stop()


def test_a_reset_that_fails_on_a_running_server_leaves_it_and_its_other_clients_alone(data_dir):
    """The database the shell was in was dropped: the reset found the server running, yet
    stopped it to start another (every other client lost its session, and the new port)."""
    session = EmbeddedSession(embedded.start(data_dir))
    with psycopg.connect(session.server.conninfo(), autocommit=True) as admin:
        admin.execute("CREATE DATABASE doomed")
    target = Target(session.server.conninfo("doomed"))
    err = io.StringIO()
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=err, interactive=True, revive=session.revive)
    other = psycopg.connect(session.server.conninfo(), autocommit=True)
    postmaster = (data_dir / "postmaster.pid").read_text().splitlines()[0]
    try:
        with psycopg.connect(session.server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP DATABASE doomed WITH (FORCE)")
        shell.handle("select 1;")
        assert "Attempting reset: Failed." in err.getvalue()
        assert (data_dir / "postmaster.pid").read_text().splitlines()[0] == postmaster
        assert other.execute("SELECT 1").fetchone() == (1,)
    finally:
        other.close()
        session.stop()
