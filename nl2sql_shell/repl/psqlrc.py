"""psql's start-up files, read before any -c, -f or prompt unless -X.

psql reads the system file (``$PGSYSCONFDIR/psqlrc``, Debian's /etc/postgresql-common) and
then the user's (``$PSQLRC``, else ``~/.psqlrc``). For each it takes the first of
``FILE-15.<minor>`` (not known here), ``FILE-15`` and ``FILE`` that exists, so a user's
settings for psql 15 apply here too. Errors in them name the file as psql does.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nl2sql_shell.repl.shell import Shell, StopScript

MAJOR = "15"
SYSCONFDIR = "/etc/postgresql-common"


def startup_files() -> list[Path]:
    """The files psql 15 would read, in order: at most one system file, one user file."""
    system = Path(os.environ.get("PGSYSCONFDIR") or SYSCONFDIR) / "psqlrc"
    user = os.environ.get("PSQLRC")
    user_file = Path(os.path.expanduser(user)) if user else Path(os.path.expanduser("~")) / ".psqlrc"
    found = []
    for base in (system, user_file):
        for candidate in (Path(f"{base}-{MAJOR}"), base):
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def run_startup_files(shell: Shell) -> None:
    """Run each start-up file as psql runs them (like \\i): a `\\q` in one, or an error under
    ON_ERROR_STOP, ends that file only; psql ignores how it ended and goes on."""
    from nl2sql_shell.repl.script import read_script, run_script

    for path in startup_files():
        try:
            text = read_script(path)
        except OSError:
            continue
        with contextlib.suppress(StopScript):
            run_script(shell, text, source=str(path))
