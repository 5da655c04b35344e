"""Run our shell and psql 15 on the same input and compare what each printed, byte for byte.

Scripts that change data run once per program, each in its own database (`twin_databases`),
so that the second run does not meet the first one's tables. Our error lines say
``nl2sql-shell:FILE:LINE:`` where psql's say ``psql:FILE:LINE:``; that is the only rewrite.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PSQL = shutil.which("psql")
SHELL = [sys.executable, "-m", "nl2sql_shell"]
_counter = itertools.count()
_OUR_PREFIX = re.compile(rb"^nl2sql-shell:", re.MULTILINE)

Result = tuple[int, bytes, bytes]


def env() -> dict[str, str]:
    """No PG* variables from the caller, no pager, no history file."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values.update(PAGER="", LC_ALL="C.UTF-8", NL2SQL_SHELL_HISTORY="/dev/null")
    return values


def run(command: list[str], cwd: Path | None = None, stdin: bytes | None = None) -> Result:
    done = subprocess.run(command, input=stdin, capture_output=True, env=env(), cwd=cwd, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def ours(conninfo: str, *args: str, cwd: Path | None = None, stdin: bytes | None = None) -> Result:
    """Our shell's (exit code, stdout, stderr), our program name in error lines made psql's."""
    code, out, err = run([*SHELL, conninfo, *args], cwd, stdin)
    return code, out, _OUR_PREFIX.sub(b"psql:", err)


def theirs(conninfo: str, *args: str, cwd: Path | None = None, stdin: bytes | None = None) -> Result:
    assert PSQL is not None
    return run([PSQL, "-X", conninfo, *args], cwd, stdin)


def same(ours_db: str, theirs_db: str, *args: str, cwd: Path | None = None, stdin: bytes | None = None) -> Result:
    """Run both (each on its own database), assert equal results, return ours."""
    mine, psql = ours(ours_db, *args, cwd=cwd, stdin=stdin), theirs(theirs_db, *args, cwd=cwd, stdin=stdin)
    assert mine == psql
    return mine


@contextmanager
def twin_databases(server_conninfo: str, setup: str = "", *, options: str = "") -> Iterator[tuple[str, str]]:
    """Two new databases (CREATE DATABASE's ``options``) with the same ``setup`` SQL run in
    each: (ours, psql's)."""
    names = [f"twin_{os.getpid()}_{next(_counter)}_{side}" for side in ("ours", "psql")]
    base = psycopg.conninfo.conninfo_to_dict(server_conninfo)
    infos = [psycopg.conninfo.make_conninfo(**{**base, "dbname": name}) for name in names]
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}" {options}')
    try:
        if setup:
            for info in infos:
                with psycopg.connect(info, autocommit=True) as conn:
                    conn.execute(setup)
        yield infos[0], infos[1]
    finally:
        with psycopg.connect(server_conninfo, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
