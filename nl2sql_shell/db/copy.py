"""COPY ... FROM STDIN and COPY ... TO STDOUT, which need the client to carry the data.

psycopg runs these only through ``cursor.copy()``: sent through ``execute()`` they fail with
"COPY cannot be used with this method" and leave the connection in the COPY state, so every
later statement fails too. psql learns the direction from the server's reply; psycopg needs it
before sending, so `copy_direction` reads it off the statement (outside quotes, comments and the
parenthesised query of ``COPY (query) TO STDOUT``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import psycopg
from psycopg import generators
from psycopg.copy import LibpqWriter

from nl2sql_shell.db.as_sent import as_query
from nl2sql_shell.output import why_write_failed

# Quotes and comments are one token each, so a FROM or STDIN inside them is never seen.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'? | "(?:[^"]|"")*"? | (\$\w*\$)[\s\S]*?(?:\1|$) | --[^\n]* | /\*[\s\S]*?(?:\*/|$)
      | [()] | [^\s()'";]+""",
    re.VERBOSE,
)


def copy_direction(sql: str) -> str | None:
    """``"in"`` for COPY ... FROM STDIN, ``"out"`` for COPY ... TO STDOUT, else None (COPY to or
    from a server file runs as any other statement)."""
    words: list[str] = []
    depth = 0
    for match in _TOKEN.finditer(sql):
        token = match.group()
        if token.startswith(("--", "/*")):
            continue
        if not words and token.lower() != "copy":
            return None
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            words.append(token.lower())
            if len(words) >= 3 and words[-2] in ("from", "to"):
                return {("from", "stdin"): "in", ("to", "stdout"): "out"}.get((words[-2], words[-1]))
    return None


class CopySink:
    """Where COPY TO's data goes, written as psql's handleCopyOut writes it: after a write
    that fails (a full disk, a program that has ended) the rest of the server's data is read
    and dropped, since the COPY must end, and `finish` says why, once (see `why_write_failed`)."""

    def __init__(self, write: Callable[[bytes], object], flush: Callable[[], object] | None = None, *, to_stdout: bool = False) -> None:
        self._write, self._flush, self._to_stdout = write, flush, to_stdout
        self.failure: str | None = None

    def __call__(self, data: bytes) -> None:
        if self.failure is None:
            self._guarded(self._write, data)

    def finish(self) -> str | None:
        """The data flushed; why a write failed, if one did."""
        if self.failure is None and self._flush is not None:
            self._guarded(self._flush)
        return self.failure

    def _guarded(self, action: Callable[..., object], *args: bytes) -> None:
        try:
            action(*args)
        except OSError as exc:
            self.failure = why_write_failed(exc, to_stdout=self._to_stdout)


def run_copy(conn: psycopg.Connection, sql: str, source: Iterable[bytes] | None, sink: CopySink | None, started: Callable[[], None] = lambda: None) -> str:
    """Run one COPY, feeding it ``source`` (FROM STDIN) or handing each chunk to ``sink`` (TO
    STDOUT); returns the server's tag (``COPY n``). When the server refuses the data part way,
    the rest of ``source`` is still read, as psql reads to the end marker, so that a script's
    data lines are never taken for SQL; a COPY refused before it starts reads none (in psql,
    the lines then run as SQL). ``started`` is called once the server is copying. Ctrl-C
    while ``source`` waits for a line (typed at the terminal) ends the COPY as psql's does,
    with the server's error "COPY from stdin failed: canceled by user"."""
    with conn.cursor() as cur:
        writer = _Cancellable(cur) if sink is None else None
        with cur.copy(as_query(sql, conn.info.encoding), writer=writer) as copy:
            started()
            if writer is not None:
                lines = iter(source or ())
                try:
                    for chunk in lines:
                        copy.write(chunk)
                except KeyboardInterrupt:
                    writer.cancelled = True  # (the lines after it are no data: nothing more is read)
                else:
                    for _ in lines:
                        pass
            else:
                for data in copy:
                    sink(bytes(data))
        return f"COPY {cur.rowcount}"  # the tag's count (psycopg keeps no tag after COPY TO)


class _Cancellable(LibpqWriter):
    """COPY FROM STDIN's writer, which ends a COPY the person cancelled with psql's words:
    "canceled by user" (psycopg's own, ending it for an exception, are "error from Python:
    KeyboardInterrupt", and it keeps the interrupt rather than the server's error)."""

    def __init__(self, cursor: psycopg.Cursor) -> None:
        super().__init__(cursor)
        self.cancelled = False

    def finish(self, exc: BaseException | None = None) -> None:
        if not self.cancelled or exc is not None:
            super().finish(exc)
            return
        self.connection.wait(generators.copy_end(self.connection.pgconn, b"canceled by user"))  # raises the server's error
