"""Where results go: the terminal (through $PAGER when they do not fit), or a `\\o` file.

Output is written as it is produced, so a large result streams; the pager is started only
once the text would overflow the screen, like psql with `less -SRXF`.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from typing import IO

from nl2sql_shell.terminal_prompt import is_terminal
from nl2sql_shell.own_environment import for_children

DEFAULT_PAGER = "less -SRXF"


def _as_read(error: UnicodeError) -> tuple[bytes, int]:
    """Bytes the shell read that were no text (a script's, `\\echo '\\xe9'`'s; held as the
    lone surrogates of Python's surrogateescape) go out as those bytes, as psql writes what it
    read; any other character the encoding lacks prints as `?`. Python's own default for a
    UTF-8 terminal (strict) ended the session with a traceback."""
    assert isinstance(error, UnicodeEncodeError)
    text = error.object[error.start : error.end]
    return b"".join(bytes([ord(c) - 0xDC00]) if 0xDC80 <= ord(c) <= 0xDCFF else b"?" for c in text), error.end


AS_READ = "nl2sql-shell-as-read"
codecs.register_error(AS_READ, _as_read)


def write_as_read(stream: IO[str]) -> None:
    """``stream`` (standard output or error) writes text with ``AS_READ``, in its encoding."""
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors=AS_READ)


def why_write_failed(exc: OSError, *, to_stdout: bool) -> str:
    """Why a write of results failed, for the one line psql prints and goes on after. A write
    to standard output whose reader has gone ends the shell instead (the error is raised
    again), as SIGPIPE ends psql, which ignores it only while writing to its own commands."""
    if isinstance(exc, BrokenPipeError) and to_stdout:
        raise exc
    return exc.strerror or str(exc)


class Output:
    """A sink for query results; `page()` opens one paged block (one statement's result)."""

    def __init__(self, stream: IO[str] | None = None, *, use_pager: bool | None = None, to_command: bool = False, messages: IO[str] | None = None) -> None:
        self._default = stream or sys.stdout
        self.messages = messages or self._default  # where `say` writes: \g FILE's results go to FILE, its messages stay
        self._to_command = to_command  # `\\g |command`: the stream is a command's input
        self._file: IO[str] | None = None
        self._pipe: subprocess.Popen[str] | None = None  # `\\o |command`
        self.log: IO[str] | None = None  # -L FILE: every result is copied there too
        self.is_terminal = is_terminal(self._default)
        # psql's PageOutput pages only when standard input is a terminal too (`psql < file`
        # on a terminal never pages, even with \pset pager always); a stream handed in
        # stands for a whole terminal.
        self._pageable = self.is_terminal and (stream is not None or is_terminal(sys.stdin))
        self.use_pager = self._pageable if use_pager is None else use_pager
        self.always_page = False
        self.pager_min_lines = 0
        self.encoding = "utf-8"
        self.failure: str | None = None  # why a write failed since the last result was printed

    @property
    def stream(self) -> IO[str]:
        return self._file or self._default

    @property
    def to_stdout(self) -> bool:
        """Results go to standard output (psql's fout == stdout): no \\o or \\g file."""
        return self._file is None and self._default is sys.stdout

    @property
    def redirected(self) -> bool:
        """Whether `\\o` sends results to a file (psql's queryFout is not stdout)."""
        return self._file is not None

    def redirect(self, path: str | None) -> None:
        """`\\o FILE` sends results to FILE, `\\o |command` to the command's input (it ends
        at the next `\\o`, as psql's pclose); `\\o` alone back. The new target is opened
        before the old one is closed, as psql's setQFout: one that cannot be opened (OSError)
        leaves results where they went."""
        from nl2sql_shell.repl.pipes import close_pipe, open_pipe

        pipe = open_pipe(path[1:].strip(), self.encoding) if path and path.startswith("|") else None
        new = pipe.stdin if pipe is not None else open(os.path.expanduser(path), "w", encoding=self.encoding, errors=AS_READ) if path else None  # noqa: SIM115
        if self._pipe is not None:
            close_pipe(self._pipe)
        elif self._file is not None:
            with contextlib.suppress(OSError):  # a full disk: told at the result that met it
                self._file.close()
        self._pipe, self._file = pipe, new
        self.failure = None

    @contextlib.contextmanager
    def through(self, command: str):
        """Results go to ``command``'s standard input meanwhile, whatever `\\o` says, then
        back (psql's PSQL_WATCH_PAGER for `\\watch`); yields the command's process."""
        from nl2sql_shell.repl.pipes import close_pipe, open_pipe

        saved = self._file, self._pipe
        process = open_pipe(command, self.encoding)
        self._file, self._pipe = process.stdin, None
        try:
            yield process
        finally:
            self._file, self._pipe = saved
            close_pipe(process)

    @property
    def pageable(self) -> bool:
        """Standard input and output are both terminals: where psql pages at all."""
        return self._pageable

    def follow_encoding(self, encoding: str) -> None:
        """Results and messages in the connection's client encoding (Python's name for it),
        as psql prints the server's bytes: `PGCLIENTENCODING=LATIN1` or `\\encoding LATIN1`
        gives LATIN1 bytes on standard output and in a `\\o` file opened afterwards."""
        self.encoding = encoding
        reencode(self._default, encoding)

    def write(self, text: str) -> None:
        self.write_unlogged(text)
        self.log_text(text)

    def write_unlogged(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            self.write_failed(exc)

    def write_failed(self, exc: OSError) -> None:
        """A write that failed: a full disk, or a command (`\\o |cmd`, `\\g |cmd`) that has
        ended. Kept for the executor to tell once the result is printed, as psql tells "could
        not print result table" and goes on."""
        why = why_write_failed(exc, to_stdout=self.to_stdout)
        self.failure = self.failure or why

    def told_failure(self) -> None:
        """A failure its finder told in its own words (`\\g FILE` that cannot be opened): the
        result counts as not written (no result variables, -b's STATEMENT), nothing more said."""
        self.failure = self.failure if self.failure is not None else ""

    def take_failure(self) -> str | None:
        failure, self.failure = self.failure, None
        return failure

    def write_bytes(self, data: bytes) -> None:
        """COPY ... TO STDOUT data as the server sent it: binary COPY is not text, and psql
        writes neither format through a decoder. A stream without bytes beneath (a test's
        StringIO, a closed standard output) gets it decoded; a failed write is raised, as
        the raw one's, for the COPY to tell."""
        raw = getattr(self.stream, "buffer", None)
        if raw is None:
            self.stream.write(data.decode("utf-8", "replace"))
            return
        if self._to_command or self._pipe is not None:
            # psql's stdio buffer reaches the command when it fills or at pclose, so the
            # COPY tag printed to the terminal meanwhile comes before the command's output
            raw.write(data)
            return
        self.stream.flush()
        raw.write(data)
        raw.flush()  # never into the -L log: psql logs queries and results, not COPY data

    def echo(self, text: str) -> None:
        """Text of the user's own for the query output (``\\qecho``): the \\o target, but
        not the -L log, which psql keeps for queries and their results."""
        self.write_unlogged(text)

    def configure_pager(self, mode: int, min_lines: int) -> None:
        """``\\pset pager`` 0 (off), 1 (when a result does not fit) or 2 (always), and
        ``\\pset pager_min_lines`` (results shorter than that are never paged), as psql's."""
        self.use_pager = mode > 0 and self._pageable
        self.always_page = mode == 2
        self.pager_min_lines = min_lines

    def say(self, text: str) -> None:
        """A message psql prints with printf (\\pset's, \\timing's, ``Time:``): on standard
        output, never into the \\o file."""
        try:
            self.messages.write(text)
            self.messages.flush()
        except OSError as exc:
            why_write_failed(exc, to_stdout=self.messages is sys.stdout)  # else unchecked, as printf

    def columns(self, configured: int = 0, *, paged: bool = False) -> int:
        """The width psql formats for (wrapped format, ``\\x auto``): ``\\pset columns`` when
        set, else the terminal's when results go to one, else 0 (unknown: a pipe or a file).
        ``paged``: psql's batches under FETCH_COUNT count as paged output, which takes $COLUMNS
        even when standard output is a pipe."""
        if configured > 0:
            return configured
        if self._file is not None or not (self.is_terminal or paged):
            return 0
        # $COLUMNS as psql reads it (atoi: `25x` is 25), then the terminal's own width
        digits = re.match(r"\s*[+-]?[0-9]+", os.environ.get("COLUMNS", ""))
        if digits and int(digits.group()) > 0:
            return int(digits.group())
        return shutil.get_terminal_size().columns if self.is_terminal else 0

    def log_text(self, text: str) -> None:
        """Into the -L log only (a result as psql logs it, see Executor.print_rows)."""
        if self.log is not None:
            with contextlib.suppress(OSError):  # psql's fprintf to its log: unchecked
                self.log.write(text)
                self.log.flush()

    @contextlib.contextmanager
    def page(self, *, log: bool = True, help_text: bool = False):
        """Yield a writer for one result; it pages only on a terminal and only when needed.
        ``log=False``: the caller writes the -L log itself. ``help_text``: psql's help (`\\?`,
        `\\h`), paged on standard output whatever `\\o` says, never logged."""
        if help_text and (not self.use_pager or not pager_command()):
            yield self.say
            return
        if not help_text and (self._file is not None or not self.use_pager or not pager_command()):
            yield self.write if log else self.write_unlogged
            return
        log = log and not help_text
        pager = _LazyPager(self._default, self.always_page, self.pager_min_lines)

        def write(text: str) -> None:
            pager.write(text)
            if log and self.log is not None:
                self.log.write(text)

        try:
            yield write
        finally:
            pager.close()


def pager_command() -> str:
    """psql's pager: PSQL_PAGER, else PAGER, else ours; one set to blanks means none ("")."""
    for name in ("PSQL_PAGER", "PAGER"):
        if name in os.environ:
            return os.environ[name] if os.environ[name].strip() else ""
    return DEFAULT_PAGER


class _LazyPager:
    """Buffers up to a screenful; past that, starts $PAGER and hands it everything."""

    def __init__(self, terminal: IO[str], always: bool = False, min_lines: int = 0) -> None:
        self.terminal = terminal
        self.always, self.min_lines = always, min_lines
        size = shutil.get_terminal_size()
        self.max_lines, self.max_width = size.lines - 1, size.columns
        self.buffer: list[str] = []
        self.lines = 0
        self.process: subprocess.Popen[str] | None = None

    def write(self, text: str) -> None:
        if self.process is not None:
            self._pipe(text)
            return
        self.buffer.append(text)
        self.lines += text.count("\n")
        too_wide = any(len(line) > self.max_width for line in text.splitlines())
        if self.always or too_wide or (self.lines > self.max_lines and self.lines >= self.min_lines):
            from nl2sql_shell.repl.pipes import SH, sh

            try:  # through /bin/sh, as psql's popen: `less -S | tee log` is a pager too
                self.process = subprocess.Popen(sh(pager_command()), executable=SH, stdin=subprocess.PIPE, text=True, env=for_children())
            except OSError:
                self.max_lines = 1 << 62  # no pager to be had: print straight through
                return
            pending, self.buffer = "".join(self.buffer), []
            self._pipe(pending)

    def _pipe(self, text: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the user quit the pager early
            self.process.stdin.write(text)

    def close(self) -> None:
        if self.process is None:
            self.terminal.write("".join(self.buffer))
            self.terminal.flush()
            return
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()  # type: ignore[union-attr]
        while True:
            try:
                self.process.wait()
                return
            except KeyboardInterrupt:  # Ctrl-C belongs to the pager while it runs
                continue


def reencode(stream: IO[str], encoding: str) -> None:
    """Write ``stream`` in ``encoding`` from now on, if it is a file's text layer (a test's
    StringIO has no bytes beneath), with ``AS_READ``."""
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != codecs.lookup(encoding).name:
        stream.reconfigure(encoding=encoding, errors=AS_READ)
