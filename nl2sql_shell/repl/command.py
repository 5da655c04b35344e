"""`-c STRING` as psql runs it: one backslash line, one `?` question, or one query.

psql sends a `-c` string that is SQL to the server whole, as one simple-protocol query: its
statements form one implicit transaction (an error undoes the ones before it) and commands
that cannot run in a transaction block (CREATE DATABASE) are refused. A single statement runs
as any typed statement does, so COPY FROM STDIN reads standard input and big results stream.
"""

from __future__ import annotations

from nl2sql_shell.repl.conditionals import Conditionals
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.statements import split_statements


def run_command_string(shell: Shell, text: str) -> bool:
    """Run one `-c` string; True when it succeeded (psql's exit code 0 for it)."""
    shell.last_failed = False
    shell.line_starts()
    if shell.echo == "all":  # -a: psql prints each -c string first (a backslash command without its backslash)
        shell.output.say(text.removeprefix("\\") + "\n")
    if text.startswith(("\\", "?")):
        outer, shell.conditions = shell.conditions, Conditionals()  # psql: each -c has its own \\if blocks
        try:
            shell.handle(text)
        finally:
            shell.conditions = outer
        return not shell.last_failed
    statements, rest = split_statements(text)
    if rest:
        statements.append(rest)
    if not statements:
        return True
    if len(statements) == 1:  # as written, spaces and :names too: psql sends the string itself
        shell.run_sql(text, verbatim=True)
    else:  # (a COPY among them fed from standard input or drained to the output, in its turn)
        shell.run_query_string(text)
    return not shell.last_failed
