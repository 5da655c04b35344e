"""psql's simple_prompt, for its password prompts and `\\prompt`: the question and the answer
go to the terminal itself (/dev/tty) even when standard input and output are redirected, so a
script's data is never read as an answer; without a terminal, the question goes to standard
error and the answer comes from standard input."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import sys
import termios
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import IO


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is open on a terminal: a standard stream may be None (started with
    it closed) or closed since (ValueError), and both are "not a terminal"."""
    try:
        return stream is not None and stream.isatty()
    except ValueError:
        return False


@contextlib.contextmanager
def _terminal() -> Iterator[io.TextIOWrapper | None]:
    """The controlling terminal for reading and writing, or None without one. Opened as
    getpass opens it: `open("/dev/tty", "r+")` asks for a seekable file, which a terminal
    never is, so every prompt fell back to standard input with its echo on."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        yield None
        return
    with io.TextIOWrapper(io.FileIO(fd, "w+"), encoding="utf-8", errors="replace") as terminal:
        yield terminal


def simple_prompt(prompt: str, *, echo: bool, read_line: Callable[[], str] | None = None) -> str:
    """The answer to `prompt`: echoed as typed, or unechoed (a password: then without its line
    end, and a newline written after it; Ctrl-D is the empty answer, as psql reads it).
    `read_line` stands in for standard input's next line when there is no terminal; end of
    input is ""."""
    with _terminal() as terminal:
        if terminal is not None:
            if not echo:
                try:
                    return getpass.getpass(prompt, stream=terminal)
                except EOFError:  # getpass ends the line only after an answer
                    terminal.write("\n")
                    terminal.flush()
                    return ""
            terminal.write(prompt)
            terminal.flush()
            return terminal.readline()
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = read_line() if read_line is not None else stdin_line()
    if not echo:
        answer = answer.removesuffix("\n").removesuffix("\r")
        sys.stderr.write("\n")
        sys.stderr.flush()
    return answer


# The next line of the script running from standard input (`psql < script`, `-f -`), whose
# text the shell has read whole: a file it includes (`\\i`) that reads standard input
# (\\prompt, `\\copy ... from pstdin`, SINGLESTEP) takes that script's next line, as psql's
# reads of stdin do. None while no such script runs.
standard_input_script: ContextVar[Callable[[], str] | None] = ContextVar("standard_input_script", default=None)


def stdin_line() -> str:
    """One line of standard input, read from the bytes beneath as psql's fgets reads it: what
    is read after it (COPY data, then a script on standard input with `-f -`) starts right
    behind it, where the text layer would have read ahead; "" at its end, or when standard
    input was closed at the start."""
    if (script := standard_input_script.get()) is not None:
        return script()
    if sys.stdin is None:
        return ""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a stream of text alone (a test's StringIO)
        return sys.stdin.readline()
    return raw.readline().decode(sys.stdin.encoding or "utf-8", "surrogateescape")


def drop_unread(fd: int) -> None:
    """Discard the lines a terminal holds that no one has read yet (keys typed ahead of a
    question, which are no answer to it); nothing for a pipe or file, a script of answers."""
    if os.isatty(fd):
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(fd, termios.TCIFLUSH)
