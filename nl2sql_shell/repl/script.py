"""Non-interactive input (-f FILE, piped stdin, \\i): the same lines a person would type.

Scripts are read as bytes and decoded as UTF-8 with ``surrogateescape``, so a byte that is not
UTF-8 cannot stop the read. Where the client encoding is another (``PGCLIENTENCODING=LATIN1``,
``\\encoding``), each statement and command is read in it, as psql sends the bytes it read.
A statement holding bytes that encoding cannot read goes to the server as the original bytes,
exactly as psql sends it: the server refuses it (``invalid byte sequence for encoding "UTF8"``),
an open transaction stays open (aborted, as in psql), and the rest of the script runs. A
backslash command or question line gets U+FFFD in its place, which prints as psql's raw byte does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from nl2sql_shell.db.as_sent import undecodable
from nl2sql_shell.repl.conditionals import Conditionals, close
from nl2sql_shell.repl.metacommands import blocked
from nl2sql_shell.repl.copy import data_lines
from nl2sql_shell.repl.send import query_buffer, run_with_buffer
from nl2sql_shell.repl.shell import Shell, StopScript
from nl2sql_shell.repl.statements import (
    CONTINUE,
    after_meta_command,
    drop_empty_lines,
    input_state,
    line_comment_end,
    meta_command_end,
    next_piece,
    query_text,
    starts_meta_command,
)
from nl2sql_shell.repl.variables import boolean
from nl2sql_shell.terminal_prompt import standard_input_script

PROGRAM = "nl2sql-shell"


def read_script(path: str | os.PathLike[str] | None) -> str:
    """The text of a script file (stdin when ``path`` is None), invalid UTF-8 kept as
    surrogate escapes (run_script sends those bytes as they were); OSError if it cannot be read
    (a name as typed: `''` is no file, where Path('') is the current folder)."""
    if path is None:
        data = sys.stdin.buffer.read() if sys.stdin is not None else b""
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    return _as_psql_reads(data).decode("utf-8", "surrogateescape")


_FGETS_CHUNK = 1023  # psql reads a script with fgets into a 1024-byte buffer


def _as_psql_reads(data: bytes) -> bytes:
    """The script as psql sees it: each piece fgets reads is kept as a C string, so a NUL
    ends it there, and a line whose newline came after a NUL goes on with the next line
    (psql never sends what followed the NUL)."""
    if b"\0" not in data:
        return data
    kept = bytearray()
    lines = data.split(b"\n")  # fgets ends a piece at a newline alone
    for i, line in enumerate(lines):
        line += b"\n" if i < len(lines) - 1 else b""
        for start in range(0, len(line), _FGETS_CHUNK):
            kept += line[start : start + _FGETS_CHUNK].split(b"\0", 1)[0]
    return bytes(kept)


def directory_error(name: str, exc: IsADirectoryError) -> str:
    """psql's line for a script that is a directory: it opens it, then its first read fails,
    so the error is the file's own (``FILE: error:``), not the one of a file that is missing."""
    return f"{PROGRAM}:{name}: error: could not read from input file: {exc.strerror}"


def run_script(shell: Shell, text: str, source: str | None = None) -> bool:
    """Feed a script psql-style; returns False if it asked to quit (\\q).

    A backslash or `?` line at a statement boundary is a command of its own; SQL gathers until
    a statement is complete. A last statement without a semicolon still runs. ``source`` names
    the file in error lines (``nl2sql-shell:FILE:LINE: ERROR: ...``); stdin has none, as in psql.
    COPY ... FROM STDIN reads its data from the lines after it (up to ``\\.``), as psql does.
    Each statement is found by one forward scan, so a huge script or statement costs linear time.
    """
    # each file has its own previous query too (psql's MainLoop): `\\g` after `\\i` ran the
    # included file's INSERT again, and `\\g` in it the including file's
    saved = shell.location, shell.command_lines, shell.conditions, shell.source, shell.read_line, shell.input_file, shell.die_on_error, shell.last_sql
    shell.last_sql = ""
    if shell.variables.get("ENCODING") == "UTF8":
        text = text.removeprefix("\ufeff")  # psql drops a UTF-8 byte order mark from a file's first line
    shell.conditions = Conditionals()  # each file has its own \\if blocks, as in psql
    shell.source = source if source != "<stdin>" else None
    shell.input_file = source
    script = _ScriptRun(shell, text, source)
    reading = standard_input_script.set(script.read_from_inside) if shell.source is None else None  # (its text is standard input's)
    try:
        finished = script.run()
        if finished and close(shell, script.at_last_line()):
            _stop_on_error(shell)  # psql: the script failed, as a statement would have
        return finished
    finally:
        if reading is not None:
            standard_input_script.reset(reading)
        shell.location, shell.command_lines, shell.conditions, shell.source, shell.read_line, shell.input_file, shell.die_on_error, shell.last_sql = saved


class _ScriptRun:
    """One pass over a script; its data lines are handed to a COPY FROM STDIN on request."""

    def __init__(self, shell: Shell, text: str, source: str | None) -> None:
        self.shell, self.text, self.source = shell, text, source
        self.lines = _LineNumbers(text)
        self.data_pos: int | None = None  # where COPY data would start (the line after the statement)
        self.echoed = 0  # with ECHO=all (-a), the input up to here has been printed
        self.uncounted = 0  # lines \\prompt or -s took from the script: psql's line numbers skip them
        shell.command_lines = self._data
        shell.read_line = self._read_uncounted

    def _at(self, pos: int) -> str:
        """psql's ``FILE:LINE:`` prefix for the line holding ``pos``."""
        return _location(self.source, self.lines.at(pos) - self.uncounted)

    def at_last_line(self) -> str:
        """The prefix for the script's last line (an \\if left open at its end)."""
        return _location(self.source, self.text.count("\n") + (not self.text.endswith("\n")) - self.uncounted)

    def _read_uncounted(self) -> str:
        """A line for \\prompt or -s's question, which psql reads past its line counter."""
        line = self._readline()
        self.uncounted += bool(line)
        return line

    def _drop_data(self, start: int, stop: int) -> None:
        """The COPY data at ``text[start:stop]`` taken out of the script, its lines still
        counted (psql counts the data lines it reads in its line numbers)."""
        self.uncounted -= self.text.count("\n", start, stop)
        self.text = self.text[:start] + self.text[stop:]
        self.lines = _LineNumbers(self.text)  # (it had counted into the data)

    def read_from_inside(self) -> str:
        """A line of this script (standard input) read by a file it included: that file's
        place stays the one its messages name."""
        location = self.shell.location
        try:
            return self._read_uncounted()
        finally:
            self.shell.location = location

    def _readline(self) -> str:
        """The line at ``data_pos`` (the script resumes after it); "" at the end."""
        assert self.data_pos is not None
        if self.data_pos >= len(self.text):
            return ""
        newline = self.text.find("\n", self.data_pos)
        end = len(self.text) if newline < 0 else newline + 1
        line, self.data_pos = self.text[self.data_pos : end], end
        self.shell.location = self._at(end - 1)
        return line

    def _data(self) -> Iterator[bytes]:
        """The lines from ``data_pos`` to the ``\\.`` line; the script resumes after them."""
        return data_lines(self._readline)

    def _echo_through(self, pos: int) -> None:
        """ECHO=all (-a): print the input lines not yet printed, up to the end of the line
        holding ``pos - 1``, before what they hold runs (psql prints each line as it reads it)."""
        if self.shell.echo != "all" or pos <= self.echoed:
            return
        newline = self.text.find("\n", max(pos - 1, 0))
        end = len(self.text) if newline < 0 else newline + 1
        lines = drop_empty_lines(self.text[self.echoed : end]).removesuffix("\n")
        self.echoed = end
        if lines:
            self.shell.output.say(_replace_invalid(self.shell, lines) + "\n")

    def _single_line(self, pos: int, limit: int) -> int:
        """SINGLELINE (-S): where the first line end before ``limit`` ends the SQL from ``pos``
        (one outside quotes, comments and parentheses), as psql sends it there; -1 if none."""
        if not boolean(self.shell.variables.get("SINGLELINE")):
            return -1
        newline = self.text.find("\n", pos)
        while 0 <= newline < limit:
            if input_state(self.text[pos:newline]) == CONTINUE:
                return newline + 1
            newline = self.text.find("\n", newline + 1)
        return -1

    def _resume(self, line_end: int, cut: int) -> int:
        """Where the script goes on after a meta-command that ended at ``cut`` on the line
        ending at ``line_end``: the rest of that line (after a ``\\\\``, or the next command)
        unless there is none, the command read lines of the script (COPY data) past it, or it
        failed: psql throws the rest of the line away after an erroneous command."""
        self.echoed = max(line_end, self.data_pos or 0, self.echoed)
        rest = after_meta_command(self.text, cut) if cut < line_end and not self.shell.last_failed else line_end
        return rest if self.data_pos == line_end and self.text[rest:line_end].strip() else self.echoed

    def run(self) -> bool:
        """The script to its end, \\q or an error that stops it; with -a the lines left after
        the last command (comments) are echoed at the end, not those after \\q or a stop."""
        finished = self._run()
        if finished and self.shell.connected:
            self._echo_through(len(self.text))
        return finished

    def _run(self) -> bool:
        shell, text = self.shell, self.text
        pos, size = 0, len(text)
        pending = ""  # query text left before a meta-command that did not send it (psql's buffer)
        started = False
        while pos < size:
            if pos == 0 or text[pos - 1] == "\n":  # a line starts: psql reads ON_ERROR_STOP and standard_conforming_strings here
                shell.die_on_error = boolean(shell.variables.get("ON_ERROR_STOP"))
                shell.line_starts()
            newline = text.find("\n", pos)
            line_end = size if newline < 0 else newline + 1
            stripped = text[pos:line_end].strip()
            if not pending and (not stripped or stripped.startswith("--")):
                comment_end = line_comment_end(text, text.index("--", pos)) if stripped else -1
                pos = comment_end + 1 if 0 <= comment_end < line_end - 1 else line_end  # a -- comment ends at a carriage return too
                continue
            if started and not shell.connected:  # psql's script ends after the command that left it without one
                return True
            started = True
            if pending and stripped == ";":
                self._echo_through(line_end)
                shell.location = self._at(pos)
                _run_statement(shell, _held_statement(pending, text, pos, text.index(";", pos) + 1))
                pending, pos = "", line_end
                continue
            command = starts_meta_command(stripped)
            # a question is a line that starts with `?`: the rest of a line after `\\` or a
            # statement is query text, and with query text held a `?` line is more of it (psql)
            question = stripped.startswith("?") and not text[text.rfind("\n", 0, pos) + 1 : pos].strip()
            if (command or question) and not pending:
                self._echo_through(line_end)
                shell.location = self._at(pos)
                self.data_pos = line_end
                start = text.index(stripped[0], pos)
                cut = meta_command_end(text, start, line_end) if command else line_end
                shell.last_failed = False
                if not shell.handle(_replace_invalid(shell, text[start:cut].strip())):
                    return False
                if shell.last_failed:  # a failed meta-command or `?` question
                    _stop_on_error(shell)
                pending = _edited_buffer(shell)
                pos = self._resume(line_end, cut)
                continue
            statement, end, meta = next_piece(text, pos, held=bool(pending))
            single_end = -1 if pending else self._single_line(pos, meta if meta >= 0 else end if statement else size)
            if single_end >= 0:
                self._echo_through(single_end)
                shell.location = self._at(single_end - 1)
                self.data_pos = single_end
                _run_statement(shell, query_text(text[pos:single_end].strip()))
                pos = self.echoed = max(single_end, self.data_pos, self.echoed)
                continue
            if meta >= 0:  # `select 1 \\g`: the line's query text, then a meta-command
                newline = text.find("\n", meta)
                line_end = size if newline < 0 else newline + 1
                self._echo_through(line_end)
                shell.location = self._at(meta)
                self.data_pos = line_end
                cut = meta_command_end(text, meta, line_end)
                buffer = query_buffer(drop_empty_lines(query_text(_joined(pending, text, end, meta))))
                command = _replace_invalid(shell, text[meta:cut].strip())
                if command.split()[0] in ("\\q", "\\quit") and shell.conditions.active() and blocked(shell, command.split()[0]) is None:
                    if buffer.strip():
                        _run_statement(shell, buffer)  # psql sends what its buffer holds, then quits
                    return False
                shell.last_failed = False
                pending = run_with_buffer(shell, buffer, command) + _edited_buffer(shell)  # `select 1 \\e`: the editor's text
                if shell.last_failed:  # `select 1 \\foo`: a failed meta-command stops as on a line of its own
                    _stop_on_error(shell)
                pos = self._resume(line_end, cut)
                continue
            if statement is None:  # the unfinished rest of the file (or only comments)
                rest = shell.in_client_encoding(drop_empty_lines(_joined(pending, text, pos, size)))
                self._echo_through(size)
                shell.location = self._at(size - 1)
                self.data_pos = size
                if shell.only_as_bytes(rest):
                    _send_bytes(shell, rest.strip())
                elif rest.lstrip().startswith("?"):  # not at a line's start (those are asked above): query text
                    shell.run_sql(rest.strip())
                else:
                    shell.handle(rest)
                return True
            self._echo_through(end)
            shell.location = self._at(end - 1)
            newline = text.find("\n", end)
            self.data_pos = size if newline < 0 else newline + 1
            start_of_data = self.data_pos
            _run_statement(shell, _held_statement(pending, text, pos, end) if pending else statement)
            pending = ""
            if self.data_pos != start_of_data and text[end:start_of_data].strip():
                # COPY data was read, and its line goes on (`copy t from stdin; insert ...`):
                # the rest of the line runs after the data, as psql's lexer finishes its line
                self._drop_data(start_of_data, self.data_pos)
                text, size = self.text, len(self.text)
                pos, self.echoed = end, max(start_of_data, self.echoed)
            elif self.data_pos != start_of_data:  # COPY data lines were read: not echoed
                pos = self.echoed = max(self.data_pos, self.echoed)
            else:
                pos = end
        if pending.strip() and not (started and not shell.connected):  # (after a `\\c` that failed psql sends nothing more)
            _run_statement(shell, pending)
        return True


class _LineNumbers:
    """1-based line numbers of positions that only move forward: counting stays linear."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _location(source: str | None, line: int) -> str:
    """psql's prefix for errors in a file (``nl2sql-shell:FILE:LINE: ``); none for stdin."""
    return f"{PROGRAM}:{source}:{line}: " if source is not None else ""


def _replace_invalid(shell: Shell, text: str) -> str:
    """The text in the client encoding, each byte it cannot read as U+FFFD, for text that must
    be a Python string (a meta-command, a question, an echoed line)."""
    text = shell.in_client_encoding(text)
    return text if not undecodable(text) else text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _held_statement(pending: str, text: str, pos: int, end: int) -> str:
    """The statement held query text and ``text[pos:end]`` (through its ``;``) make, each
    ``\\;`` in it a plain ``;`` as psql sends it (`select 1\\n\\echo x\\n\\; select 2;`)."""
    joined = _joined(pending, text, pos, end)
    return query_text(joined[:-1]) + joined[-1:]


def _joined(pending: str, text: str, pos: int, end: int) -> str:
    """psql's query buffer when ``text[pos:end]`` follows held query text (a meta-command came
    between): as written (its blanks and comments are the query's now), on a line of its own
    when it starts one (not the rest of a line after ``\\\\``)."""
    if not pending:
        return text[pos:end]
    return pending + ("\n" if pos == 0 or text[pos - 1] == "\n" else "") + text[pos:end]


def _edited_buffer(shell: Shell) -> str:
    """What `\\e`, `\\ef` or `\\ev` left in the query buffer once its complete statements ran
    (Shell.take_edited): the start of the script's next statement."""
    text, shell.pending_input = shell.pending_input, ""
    shell.redisplay = bool(shell.draft) and shell.redisplay  # a model answer to edit waits for the prompt
    return text


def _run_statement(shell: Shell, statement: str) -> None:
    """Run one statement (without the empty lines psql skips), its bytes read in the
    connection's client encoding as psql sends them; bytes that encoding cannot read go as
    they are, for the server to refuse."""
    statement = shell.in_client_encoding(drop_empty_lines(statement))
    if not shell.only_as_bytes(statement):
        shell.run_sql(statement)
    else:
        _send_bytes(shell, statement)


def _send_bytes(shell: Shell, statement: str) -> None:
    """Send the statement's original bytes, as psql would: the server's refusal is psql's
    message and aborts an open transaction as psql's does (a script's COMMIT then rolls back)."""
    if shell.conditions.active() and not shell.send_undecodable(statement).ok:
        _stop_on_error(shell)


def _stop_on_error(shell: Shell) -> None:
    """ON_ERROR_STOP ends a script at a failed statement or meta-command, as psql's does."""
    if shell.stops_on_error():
        raise StopScript()
