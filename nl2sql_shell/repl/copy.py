"""The client's end of COPY: data lines read as psql reads them, and psql's `\\copy`.

COPY ... FROM STDIN reads from wherever the commands come from: the lines after it in a script
(a pg_dump file carries its rows that way), standard input for `-c`, the terminal at the prompt.
`\\copy` runs the same COPY with a file, a program or psql's own stdin/stdout at the client end.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from nl2sql_shell.db.copy import CopySink
from nl2sql_shell.own_environment import for_children
from nl2sql_shell.repl.pipes import SH, sh
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.transactions import run_in_transaction_mode
from nl2sql_shell.terminal_prompt import is_terminal, stdin_line

_PROMPT_TEXT = "Enter data to be copied followed by a newline.\nEnd with a backslash and a period on a line by itself, or an EOF signal.\n"
_END_MARKS = ("\\.\n", "\\.\r\n", "\\.")
# \copy's words: a quoted name or file, a parenthesis, or a run of anything else.
_TARGET = re.compile(r"'(?:[^']|'')*'?|[^\s;']+")
_WORD = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|[()]|[^\s()'"]+""")


def data_lines(readline: Callable[[], str]) -> Iterator[bytes]:
    """Lines up to a ``\\.`` line or the end of input, as bytes (a script's invalid UTF-8 goes as
    it was). psql 15 ends the data there whatever the format, CSV included, and sends that
    line too (the server's error about a CSV quote left open shows it)."""
    while line := readline():
        yield line.encode("utf-8", "surrogateescape")
        if line in _END_MARKS:
            return


def stdin_lines(prompt: Callable[[], str], *, quiet: bool = False) -> Iterator[bytes]:
    """COPY FROM STDIN data typed at the prompt or piped in: on a terminal psql's instructions
    first (unless quiet) and ``prompt`` (its PROMPT3) before each line."""
    if not is_terminal(sys.stdin):
        return data_lines(stdin_line)
    if not quiet:
        sys.stdout.write(_PROMPT_TEXT)
        sys.stdout.flush()

    ended = False

    def typed() -> str:
        """A line as typed, whole: Python's input() took the last character of a line ended
        by Ctrl-D for its newline (`1<TAB>abc` was stored as `1<TAB>ab`). A line ended that way
        is the last, as in psql: a terminal's end of input does not last."""
        nonlocal ended
        if ended:
            return ""
        sys.stdout.write(prompt())
        sys.stdout.flush()
        line = stdin_line()
        ended = not line.endswith("\n")
        return line

    return data_lines(typed)


@dataclass
class SlashCopy:
    """A parsed `\\copy`: the COPY to send and the client-side end of it."""

    sql: str
    direction: str  # "from" | "to"
    target: str  # a file name, a program's command, or stdin/stdout/pstdin/pstdout
    program: bool = False
    stdio: bool = False  # target is psql's own stdin/stdout/pstdin/pstdout (written bare, not quoted)


def parse(argument: str) -> SlashCopy | str:
    """psql's `\\copy` grammar: ``{table [(columns)] | (query)} {from|to} {'file' | program 'cmd'
    | stdin | stdout | pstdin | pstdout} [options]``; the query and options go to the server as
    written (a query's own FROM stays). A string is psql's error."""
    if not argument.strip():
        return "\\copy: arguments required"
    query_end = _query_end(argument)
    words = list(_WORD.finditer(argument, query_end))
    depth = 0
    for index, word in enumerate(words):
        text = word.group()
        depth += {"(": 1, ")": -1}.get(text, 0)
        if depth == 0 and (index > 0 or query_end) and text.lower() in ("from", "to"):
            break
    else:
        return "\\copy: parse error at end of line"
    direction, (what, stray) = text.lower(), _psql_spacing(argument[: word.start()])
    if stray is not None:  # psql takes a table, schema.table and a column list, then FROM or TO
        return f'\\copy: parse error at "{stray}"'
    rest = words[index + 1 :]
    if not rest:
        return "\\copy: parse error at end of line"
    program = rest[0].group().lower() == "program"
    if program:
        rest = rest[1:]
        if not rest or not rest[0].group().startswith("'"):
            return "\\copy: parse error at end of line" if not rest else f'\\copy: parse error at "{rest[0].group()}"'
    found = _TARGET.match(argument, rest[0].start())  # psql ends a file name at ';' too
    raw = found.group() if found and found.group() else rest[0].group()
    target = raw[1:-1].replace("''", "'") if raw.startswith("'") else raw
    stdio = not program and raw.lower() in ("stdin", "stdout", "pstdin", "pstdout")  # bare: 'stdin' is a file of that name
    if stdio:  # psql reads stdin and stdout as one word, pstdin and pstdout as another, whichever the direction
        target = ("p" if raw.lower().startswith("p") else "") + ("stdin" if direction == "from" else "stdout")
    end = rest[0].start() + len(raw)
    options = argument[end + 1 if argument[end : end + 1].isspace() else end :]
    endpoint = "FROM STDIN" if direction == "from" else "TO STDOUT"
    return SlashCopy(f"COPY {what} {endpoint} {options}", direction, target, program, stdio)


def _query_end(argument: str) -> int:
    """Where a `(query)` ends, read with psql's words (so that E'\\'' does not end a string);
    0 for a table."""
    query = argument.lstrip()
    if not query.startswith("("):
        return 0
    offset, depth = len(argument) - len(query) + 1, 1
    for word, end in _strtokx(argument[offset:], "()", "\"'", e_strings=True):
        depth += {"(": 1, ")": -1}.get(word, 0)
        if depth == 0:
            return offset + end
    return len(argument)


def _psql_spacing(what: str) -> tuple[str, str | None]:
    """The table or (query) part as psql rebuilds it for the server: its words, each after
    one space (`COPY  ( select 1 ) TO STDOUT `), which the server's error LINE, -e and -L
    show. psql's strtokx: parentheses are words of their own, quoted text one word. With it
    the first word psql's grammar does not take before FROM or TO (its parse error), or None:
    a word after the table was dropped (`\\copy t a, c, b from f` loaded the columns in the
    table's order)."""
    words = _strtokx(what, ".,()", '"', e_strings=False)
    if words[:1] and words[0][0] == "(":
        return " (" + "".join(" " + w for w, _ in _strtokx(what.lstrip()[1:], "()", "\"'", e_strings=True)), None
    text = " " + words[0][0] if words else ""
    rest = words[1:]
    if [w for w, _ in rest[:1]] == ["."]:  # schema . table: no spaces
        text += "".join(w for w, _ in rest[:2])
        rest = rest[2:]
    if [w for w, _ in rest[:1]] == ["("]:  # the column list, with psql's own tokens, to its ")"
        opened = rest[0][1]
        columns = _strtokx(what[opened:], "()", '"', e_strings=False)
        closed = next((i for i, (w, _) in enumerate(columns) if w == ")"), len(columns) - 1)
        text += " (" + "".join(" " + w for w, _ in columns[: closed + 1])
        after = opened + columns[closed][1] if columns else len(what)
        rest = _strtokx(what[after:], ".,()", '"', e_strings=False)
    return text, rest[0][0] if rest else None


def _strtokx(text: str, delimiters: str, quotes: str, *, e_strings: bool) -> list[tuple[str, int]]:
    """psql's strtokx over a whole string: words split at blanks, each delimiter a word, a
    quoted string (with doubled quotes, or backslashes in an E'' string) one word; each with
    where it ends."""
    words, i = [], 0
    while True:
        while i < len(text) and text[i] in " \t\n\r":
            i += 1
        if i == len(text):
            return words
        start, escape = i, None
        if text[i] in delimiters:
            i += 1
            words.append((text[start:i], i))
            continue
        if e_strings and text[i] in "Ee" and text[i + 1 : i + 2] == "'":
            i, escape = i + 1, "\\"
        if text[i] in quotes:
            quote, i = text[i], i + 1
            while i < len(text):
                if escape and text[i] == escape and i + 1 < len(text):
                    i += 2
                elif text[i] == quote and text[i + 1 : i + 2] == quote:
                    i += 2
                elif text[i] == quote:
                    i += 1
                    break
                else:
                    i += 1
        else:
            while i < len(text) and text[i] not in " \t\n\r" + delimiters + quotes:
                i += 1
        words.append((text[start:i], i))


def slash_copy(shell: Shell, argument: str) -> bool:
    """Run `\\copy`. psql prints ``COPY n`` unless the data went to the query output itself
    (`to stdout`, or `to pstdout` while `\\o` is off)."""
    command = parse(argument)
    if isinstance(command, str):
        shell.meta_error(command)
        shell.last_failed = True
        return True
    try:
        stream, process = _open(command)
    except OSError as exc:  # named as psql names it: the path with ~ expanded
        name = command.target if command.program else os.path.expanduser(command.target)
        why = "cannot copy from/to a directory" if isinstance(exc, IsADirectoryError) and command.direction == "from" else exc.strerror
        shell.meta_error(f"{name}: {why}")
        shell.last_failed = True
        return True
    executor = shell.executor
    if not shell.announce(command.sql):  # psql sends it as a query of the user's: -e, -s, -L
        return True
    started = time.perf_counter()
    if command.direction == "from":
        if stream is None:  # pstdin is standard input, which is the script itself when it comes from there
            from_script = command.target == "stdin" or shell.script_line is not None  # (stream is None: stdio)
            source = shell.copy_lines() if from_script else shell.typed_lines()
        else:
            source = data_lines(stream.readline)
        copy = lambda: executor.copy(command.sql, source, None)  # noqa: E731
    elif command.stdio and (command.target == "stdout" or (command.target == "pstdout" and not shell.output.redirected)):
        copy = lambda: executor.copy(command.sql, None, executor.data_sink(), show_status=False)  # noqa: E731
    else:
        out = stream if stream is not None else sys.stdout.buffer
        copy = lambda: executor.copy(command.sql, None, CopySink(out.write, out.flush, to_stdout=stream is None), show_status=True)  # noqa: E731
    # psql sends it through SendQuery: AUTOCOMMIT off begins a transaction first, and
    # ON_ERROR_ROLLBACK's savepoint undoes only this COPY when it fails
    outcome = run_in_transaction_mode(shell.conn, command.sql, shell.variables, shell.interactive, copy)
    shell.say_timing(started)  # psql's SendQuery times it, before the file or program is closed
    if stream is not None:
        with contextlib.suppress(OSError):  # a write that failed is told already
            stream.close()
    shell.last_failed = not outcome.succeeded
    shell.record_result(outcome)  # psql sends \\copy's COPY as a query: ERROR, ROW_COUNT, SQLSTATE, LAST_ERROR_*
    status = process.wait() if process is not None else 0
    if status != 0 and not (command.direction == "to" and status == -signal.SIGPIPE):  # psql's words for a program that failed (a signal ended); one that stopped reading is told as the write's failure
        shell.meta_error(f"{command.target}: {_child_status(status)}")
        shell.last_failed = True
    if not outcome.ok:  # as after any query psql's SendQuery sends: a lost connection is reset, or ends a script
        shell.reconnect_if_needed()
    return True


def _child_status(code: int) -> str:
    """psql's wait_result_to_str for /bin/sh's exit status."""
    if code == 127:
        return "command not found"
    if code == 126:
        return "command not executable"
    if code < 0:  # ended by a signal
        return f"child process was terminated by signal {-code}: {signal.strsignal(-code)}"
    return f"child process exited with exit code {code}"


def _open(command: SlashCopy) -> tuple[IO | None, subprocess.Popen | None]:
    """The file or program at the client end; (None, None) for stdin/stdout/pstdin/pstdout."""
    reading = command.direction == "from"
    if command.program:
        pipe = {"stdout": subprocess.PIPE} if reading else {"stdin": subprocess.PIPE}
        process = subprocess.Popen(sh(command.target), executable=SH, env=for_children(), **pipe)
        stream = process.stdout if reading else process.stdin
        return (_text(stream) if reading else stream), process
    if command.stdio:
        return None, None
    path = os.path.expanduser(command.target)
    return (open(path, encoding="utf-8", errors="surrogateescape", newline="") if reading else open(path, "wb")), None


def _text(stream: IO[bytes] | None) -> IO[str]:
    import io

    assert stream is not None
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
