"""Non-interactive input (-f FILE, piped stdin, \\i): the same lines a person would type."""

from __future__ import annotations

from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.statements import split_statements


def run_script(shell: Shell, text: str) -> bool:
    """Feed a script line by line, psql-style; returns False if it asked to quit (\\q).

    A backslash or `?` line at a statement boundary is a command of its own; SQL lines gather
    until a statement is complete. A last statement without a semicolon still runs.
    """
    buffer = ""
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not buffer.strip() and stripped.startswith(("\\", "?")):
            if not shell.handle(stripped):
                return False
            continue
        buffer += line
        statements, rest = split_statements(buffer)
        if statements:
            buffer = rest
        for statement in statements:
            shell.run_sql(statement)
    if buffer.strip():
        shell.handle(buffer)
    return True
