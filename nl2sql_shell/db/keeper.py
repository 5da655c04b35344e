"""The embedded server's keeper: the parent of its postgres, so that the server serves every
shell, proxy and eval on its data folder for as long as any of them runs, whichever of them
started it (it stopped when the first shell exited, under a second one still using it).

Each of them holds a shared lock on the folder's holders file (``embedded.holders_file``)
while it uses the server. The keeper, started in a session of its own (a Ctrl-C or a closed
terminal does not reach it), looks a few times a second whether it can take the lock
exclusively: then nobody holds the server any more (the kernel lets go of a killed process's
lock too) and it stops the server. The server gets a parent-death signal, so it never outlives
its keeper.

    python -m nl2sql_shell.db.keeper HOLDERS_FILE POSTGRES_COMMAND...
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time

from nl2sql_shell.db.embedded import _child_setup, _server_environment, _unprivileged_ids, kill_processes

LOOK_EVERY_S = 0.25
_PR_SET_CHILD_SUBREAPER = 36


def keep(holders: str, command: list[str]) -> int:
    """Run the server until nobody holds it, or until it exits; its exit status."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)  # the server's orphans become ours
    lock = os.open(holders, os.O_RDONLY | os.O_NOFOLLOW)
    server = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        preexec_fn=_child_setup(_unprivileged_ids(), die_with_parent=True),  # noqa: PLW1509 - setuid and prctl need it
        cwd="/",
        env=_server_environment(),
    )
    while server.poll() is None:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(LOOK_EVERY_S)
            continue
        server.send_signal(signal.SIGINT)  # fast shutdown: the last holder is gone
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    server.wait()
    _end_orphans()
    return server.returncode


def _end_orphans() -> None:
    """Kill the backends a killed or crashed server left (each in a process group of its own):
    a busy one ran on without its postmaster, and no server could start on the folder until it
    ended ("Terminate any old server processes"). As the subreaper they are this process's
    children now."""
    me = os.getpid()
    kill_processes(lambda _pid, parent: parent == me)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, 0):
            pass


if __name__ == "__main__":
    sys.exit(keep(sys.argv[1], sys.argv[2:]))
