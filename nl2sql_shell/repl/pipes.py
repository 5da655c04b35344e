"""`|command` targets of `\\g`, `\\w` and `\\o`: text handed to a shell command's stdin, as
psql's popen(command, "w") does; the command's own output goes straight to the terminal."""

from __future__ import annotations

import subprocess
from typing import IO

from nl2sql_shell.output import AS_READ
from nl2sql_shell.own_environment import for_children

SH = "/bin/sh"


def sh(command: str) -> list[str]:
    """The arguments for SH (give ``executable=SH``) to run ``command`` as psql's system() and
    popen() run it: as `sh`, so that the shell's own messages read as under psql
    (`sh: 1: x: not found`, not `/bin/sh: 1: ...`)."""
    return ["sh", "-c", command]


def system(command: str) -> int:
    """Run ``command`` under /bin/sh and wait for it, as psql's system(): a Ctrl-C meanwhile is
    the command's (the terminal sends it to both; psql ignores it while it waits), so an editor
    that goes on after it (ed) keeps the terminal, and the shell waits for it. OSError when no
    shell could start."""
    process = subprocess.Popen(sh(command), executable=SH, env=for_children())
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def open_pipe(command: str, encoding: str = "utf-8") -> subprocess.Popen[str]:
    """Start ``command`` under /bin/sh with a text pipe to its standard input, in the client
    encoding (psql writes the server's bytes: a LATIN1 session's é is one byte)."""
    return subprocess.Popen(sh(command), executable=SH, stdin=subprocess.PIPE, text=True, encoding=encoding, errors=AS_READ, env=for_children())


def close_pipe(process: subprocess.Popen[str]) -> int:
    """Close the pipe and wait for the command, as psql's pclose; its exit status."""
    stream: IO[str] | None = process.stdin
    if stream is not None:
        try:
            stream.close()
        except BrokenPipeError:
            pass
    return process.wait()


def run_piped(command: str, text: str) -> int:
    """Hand ``text`` to ``command`` and wait for it."""
    process = open_pipe(command)
    try:
        assert process.stdin is not None
        process.stdin.write(text)
    except BrokenPipeError:
        pass
    return close_pipe(process)
