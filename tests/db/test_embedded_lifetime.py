"""How long the embedded server lives: while any process uses it, whichever started it, and
not after the last one is gone, even one killed outright."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nl2sql_shell.db import embedded


@pytest.fixture
def data_dir(reachable_tmp: Path) -> Iterator[Path]:
    folder = reachable_tmp / f"lifetime-{uuid.uuid4().hex[:8]}"
    yield folder
    embedded.remove(folder)


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
