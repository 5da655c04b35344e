"""The prompt without line editing (`-n`, psql's --no-readline): the prompt printed on standard
output, each line read as the terminal delivers it, no history, no completion, no colours.

psql without readline reads lines with fgets: the terminal's own cooked mode is all the
editing there is (an arrow key is just text), nothing is remembered (`\\s` fails quietly),
Ctrl-C drops the lines typed so far, and end of input prints ``\\q`` (an empty line when
quiet) and leaves, an open transaction or not (``\\q`` typed still asks first). Each line
joins the buffer, whose complete statements run at once (psql sends them as their line is
read); what is left waits for the next line.
"""

from __future__ import annotations

import contextlib
import sys

from nl2sql_shell.db.cells import visible
from nl2sql_shell.repl.app import ends_at_eof, handle_line, quit_is_confirmed
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.statements import complete_end, is_complete, line_prompt
from nl2sql_shell.terminal_prompt import drop_unread, stdin_line


def run_plain(shell: Shell) -> int:
    """Read-eval-print until \\q or end of input; returns the process exit code."""
    shell.history = None  # psql's \\s without readline: no history to show
    if shell.questions is not None:
        shell.questions.confirm = _confirm  # type: ignore[attr-defined]
    buffer = ""
    prompts = shell.prompts
    eofs = 0  # ends of input in a row (IGNOREEOF)
    while True:
        shell.reconnect_if_needed()
        shell.line_starts()
        if not buffer:
            buffer = shell.take_prompt_text()
        try:
            line = _ask(prompts.continuation(*line_prompt(buffer, buffer.count("\n") + 1, numbered=prompts.numbers_lines)) if buffer else prompts.first(), eof=None)
        except KeyboardInterrupt:
            sys.stdout.write("\n")  # psql: a new line, the buffer dropped
            buffer = ""
            continue
        if line is None:  # end of input: psql's \\q, after IGNOREEOF's reminders
            eofs += 1
            if ends_at_eof(shell, eofs):
                break
            continue
        eofs = 0
        buffer = f"{buffer}\n{line}" if buffer else line
        end = len(buffer) if is_complete(buffer) else complete_end(buffer)
        if not end:
            continue
        text, buffer = buffer[:end], buffer[end:].lstrip()
        try:
            keep_going = handle_line(shell, text)
        except KeyboardInterrupt:
            shell.error("Cancelled.")
            continue
        if shell.redisplay:  # psql shows what an editor left in the buffer, after PROMPT1
            shell.redisplay = False
            text = visible(shell.prompt_text)  # as \p shows it: the model's text may hold escapes
            sys.stdout.write(prompts.first() + text + ("" if text.endswith("\n") else "\n"))
            sys.stdout.flush()
        if not keep_going and quit_is_confirmed(_ask, shell):
            break
    shell.close()
    return 0


def _confirm(prompt: str) -> str | None:
    """A question about the model's answer: lines typed at the terminal before it was shown
    (while the model wrote) are no answer to it, and are dropped: a `yes` typed ahead ran a
    write no one had seen. (Piped input is a script of answers, kept.)"""
    with contextlib.suppress(AttributeError, OSError):  # (no standard input, or a stream with no file: io.UnsupportedOperation)
        drop_unread(sys.stdin.fileno())
    return _ask(prompt)


def _ask(prompt: str, eof: str | None = "n") -> str | None:
    """One line from standard input after ``prompt``, without its line end; ``eof`` at the end
    of input (a yes/no question takes that as "n")."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = stdin_line()
    return line.removesuffix("\n") if line else eof
