"""psql 15's meta-commands about the session rather than the database: the query buffer
(`\\r`, `\\p`, `\\w`), `\\qecho`, `\\ir`, `\\prompt`, `\\setenv`, `\\cd`, `\\encoding`.

The query buffer is the query text typed so far and not yet sent (see repl/send.py); with
none, `\\p` and `\\w` use the previous query, as psql does. `\\echo` and these messages go
to standard output while `\\qecho` follows `\\o`.
"""

from __future__ import annotations

import contextlib
import os
import sys

import psycopg

from nl2sql_shell.db.cells import visible
from nl2sql_shell.db.execute import error_text
from nl2sql_shell.db.messages import position_display
from nl2sql_shell.own_environment import release
from nl2sql_shell.repl.pset import assign_variable
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import drop_word_semicolons, echo, meta_arguments, sql_identifier, valid_name
from nl2sql_shell.terminal_prompt import simple_prompt, stdin_line

BUFFER_COMMANDS = ("\\r", "\\reset", "\\p", "\\print", "\\w", "\\write")


def buffer_command(shell: Shell, name: str, buffer: str, argument: str) -> str:
    """`\\r`, `\\p`, `\\w FILE` on ``buffer``; returns what stays in the buffer."""
    if name in ("\\r", "\\reset"):
        if not shell.settings.quiet:
            shell.output.say("Query buffer reset (cleared).\n")
        return ""
    text = buffer or shell.previous_query()
    if name in ("\\p", "\\print"):
        if text or not shell.settings.quiet:  # (psql's "empty" is quiet under -q too)
            shell.output.say(visible(text) + "\n" if text else "Query buffer is empty.\n")  # model SQL may be in it: shown as the REPL showed it
        return buffer
    if not shell.require_query_buffer():  # \\w in a -c string
        return buffer
    words = meta_arguments(drop_word_semicolons(argument), shell.variables)  # `\\w file;` writes file, as psql's
    if not words:
        shell.meta_error(f"{name}: missing required argument")
        shell.last_failed = True
        return buffer
    target = argument.strip()[1:].strip() if argument.strip().startswith("|") else None
    try:
        if target is not None:
            from nl2sql_shell.repl.pipes import run_piped

            run_piped(target, text + "\n" if text else "")
        else:
            with open(os.path.expanduser(words[0]), "w", encoding="utf-8", errors="surrogateescape") as handle:  # bytes read that were no UTF-8, as read
                handle.write(text + "\n" if text else "")
    except OSError as exc:
        shell.meta_error(f"{words[0]}: {exc.strerror}")
        shell.last_failed = True
    return buffer


def _buffer_handler(name: str):  # noqa: ANN202 - a metacommands Handler
    def handler(shell: Shell, argument: str) -> bool:
        buffer_command(shell, name, "", argument)
        return True

    return handler


def _qecho(shell: Shell, argument: str) -> bool:
    """`\\qecho [-n] TEXT`: like \\echo, to the query output (\\o's file)."""
    echo(argument, shell.variables, shell.output.echo, shell.meta_error)
    return True


def _include_relative(shell: Shell, argument: str, typed: str = "\\ir") -> bool:
    """`\\ir FILE`: FILE relative to the directory of the script running it (the current
    directory at the prompt), as psql 15's \\ir; ``typed``: the command's name as typed."""
    from nl2sql_shell.repl.metacommands import include

    words = meta_arguments(argument, shell.variables, evaluated=1)
    name = words[0] if words else None
    if name and shell.source and not os.path.isabs(os.path.expanduser(name)):
        name = os.path.normpath(os.path.join(os.path.dirname(shell.source), name))  # psql's canonicalize_path
    return include(shell, name, typed)


def _prompt(shell: Shell, argument: str) -> bool:
    """`\\prompt [TEXT] NAME`: read a line into variable NAME, as psql 15 reads it. In a script
    file (`-f FILE`, `-f -`, `\\i`) TEXT goes to standard output and the line comes from standard
    input (with `-f -` that is the script's next line); anywhere else (the prompt, `-c`, a
    script piped in without -f) psql's simple_prompt asks on the terminal, or without one on
    standard error, the answer from standard input."""
    words = meta_arguments(argument, shell.variables, evaluated=2)  # psql reads two words: a third is only warned of
    if not words:
        shell.meta_error("\\prompt: missing required argument")
        shell.last_failed = True
        return True
    text, name = (words[0], words[1]) if len(words) > 1 else ("", words[0])
    from_script = shell.script_line  # the script is standard input
    if shell.interactive:  # (Python's input() took the last character of a line ended by Ctrl-D for its newline)
        value = simple_prompt(text, echo=True).removesuffix("\n")
    elif shell.input_file is not None:
        shell.output.say(text)
        value = from_script() if from_script is not None else stdin_line()
        if not value:  # end of input, where psql's gets_fromFile gives no line: the variable stays
            shell.meta_error("\\prompt: could not read value for variable")
            shell.last_failed = True
            return True
    else:
        value = simple_prompt(text, echo=True, read_line=from_script)
    if not valid_name(name):  # asked first, then refused, as psql's SetVariable refuses it
        shell.meta_error(f'invalid variable name: "{name}"')
        shell.last_failed = True
        return True
    assign_variable(shell, name, value.removesuffix("\n"))
    return True


def _setenv(shell: Shell, argument: str) -> bool:
    """`\\setenv NAME [VALUE]`: set or unset an environment variable for commands run later."""
    words = meta_arguments(argument, shell.variables)
    if not words:
        shell.meta_error("\\setenv: missing required argument")
        shell.last_failed = True
    elif "=" in words[0]:
        shell.meta_error('\\setenv: environment variable name must not contain "="')
        shell.last_failed = True
    else:  # (psql ignores what setenv refuses: an empty name)
        with contextlib.suppress(OSError):
            if len(words) == 1:
                os.environ.pop(words[0], None)
            else:
                os.environ[words[0]] = words[1]
                release(words[0])  # (the person's now: their commands see it)
    return True


def _cd(shell: Shell, argument: str) -> bool:
    """`\\cd [DIR]`: change the working directory (home without DIR)."""
    words = meta_arguments(argument, shell.variables)
    target = words[0] if words else os.path.expanduser("~")
    try:
        os.chdir(os.path.expanduser(target))
    except OSError as exc:
        shell.meta_error(f'\\cd: could not change directory to "{target}": {exc.strerror}')
        shell.last_failed = True
    return True


def _shell_escape(shell: Shell, argument: str) -> bool:
    """`\\! [COMMAND]`: the line as written, run by /bin/sh (psql's system()); alone, $SHELL.
    Its exit status is the command's business: psql 15 fails only when no shell could start
    (its test for 127 compares system()'s raw status, which a command never makes 127)."""
    from nl2sql_shell.repl.pipes import system

    sys.stdout.flush()
    command = argument or os.environ.get("SHELL", "/bin/sh")
    try:
        system(command)
    except OSError:
        shell.meta_error("\\!: failed")
        shell.last_failed = True
    return True


def _password(shell: Shell, argument: str) -> bool:
    """`\\password [USER]`: ask twice (on the terminal, without echo), encrypt on this side
    with the server's password_encryption (libpq's PQencryptPasswordConn) and send only
    ALTER USER ... PASSWORD 'SCRAM-SHA-256$...': the clear text never reaches the server, its
    log or the history."""
    words = meta_arguments(argument, shell.variables)
    try:
        user = sql_identifier(words[0]) if words else shell.conn.execute("SELECT CURRENT_USER").fetchone()[0]
        first = simple_prompt(f'Enter new password for user "{user}": ', echo=False, read_line=shell.script_line)
        if first != simple_prompt("Enter it again: ", echo=False, read_line=shell.script_line):
            shell.meta_error("Passwords didn't match.")
            shell.last_failed = True
            return True
        encrypted = shell.conn.pgconn.encrypt_password(first.encode(), user.encode()).decode()
        shell.conn.execute(psycopg.sql.SQL("ALTER USER {} PASSWORD {}").format(psycopg.sql.Identifier(user), psycopg.sql.Literal(encrypted)))
    except psycopg.Error as exc:  # the server's refusal, worded as psql prints libpq's message
        shell.error(shell.location + error_text(exc, shell.settings.messages))
        shell.last_failed = True
    return True


def _errverbose(shell: Shell, _: str) -> bool:
    """`\\errverbose`: the last server error again with every field libpq's verbose form has
    (SQLSTATE, position, names, the server's source location)."""
    if shell.last_error is None:
        shell.output.say("There is no previous error.\n")
        return True
    diag, libpq_text = shell.last_error
    lines = [f"{diag.severity}:  {diag.sqlstate}: {diag.message_primary or 'missing error text'}"]
    if diag.statement_position:
        lines[0] += _position(diag, libpq_text)
    for label, value in (
        ("DETAIL", diag.message_detail),
        ("HINT", diag.message_hint),
        ("QUERY", diag.internal_query),
        ("CONTEXT", diag.context),
        ("SCHEMA NAME", diag.schema_name),
        ("TABLE NAME", diag.table_name),
        ("COLUMN NAME", diag.column_name),
        ("DATATYPE NAME", diag.datatype_name),
        ("CONSTRAINT NAME", diag.constraint_name),
    ):
        if value:
            lines.append(f"{label}:  {value}")
    if diag.source_function or diag.source_file:
        lines.append(f"LOCATION:  {diag.source_function}, {diag.source_file}:{diag.source_line}")
    shell.meta_error("\n".join(lines))
    return True


def _position(diag: psycopg.errors.Diagnostic, libpq_text: str) -> str:
    """libpq's `LINE n:` and caret lines, taken from its own default rendering of the same
    error: libpq cuts a long line around the error and counts a multibyte character by its
    screen width, which only its text gets right; " at character N" if it has none."""
    display = position_display(libpq_text, f"{diag.severity}:  {diag.message_primary or ''}", diag)
    return display or f" at character {diag.statement_position}"


def _encoding(shell: Shell, argument: str) -> bool:
    """`\\encoding [ENCODING]`: show or set the client encoding (and the ENCODING variable)."""
    words = meta_arguments(argument, shell.variables)
    if not words:
        shell.output.say((shell.conn.info.parameter_status("client_encoding") or "") + "\n")
        return True
    try:
        shell.conn.execute(psycopg.sql.SQL("SET client_encoding TO {}").format(psycopg.sql.Literal(words[0])))
    except psycopg.Error:
        shell.meta_error(f"{words[0]}: invalid encoding name or conversion procedure not found")
        return True  # psql counts it no failure: ON_ERROR_STOP goes on
    shell.follow_session()
    return True


def register(command) -> None:  # noqa: ANN001 - metacommands.command
    """Add these commands to the meta-command table."""
    for names, syntax, text in (
        (("\\r", "\\reset"), "\\r", "reset (clear) the query buffer"),
        (("\\p", "\\print"), "\\p", "show the contents of the query buffer"),
        (("\\w", "\\write"), "\\w FILE", "write query buffer to file"),
    ):
        for name in names:
            command(name, syntax=syntax, help=text, raw=True)(_buffer_handler(name))
    command("\\qecho", syntax="\\qecho [-n] [TEXT]", help="write text to the query output stream (see \\o)", raw=True)(_qecho)
    for name in ("\\ir", "\\include_relative"):
        command(name, syntax="\\ir FILE", help="as \\i, but relative to location of current script", raw=True)(lambda shell, argument, name=name: _include_relative(shell, argument, name))
    command("\\prompt", syntax="\\prompt [TEXT] NAME", help="prompt user to set internal variable", raw=True)(_prompt)
    command("\\setenv", syntax="\\setenv NAME [VALUE]", help="set or unset environment variable", raw=True)(_setenv)
    command("\\cd", syntax="\\cd [DIR]", help="change the current working directory", raw=True)(_cd)
    command("\\!", syntax="\\! [COMMAND]", help="execute command in shell or start interactive shell", raw=True)(_shell_escape)
    command("\\password", syntax="\\password [USERNAME]", help="securely change the password for a user", raw=True)(_password)
    command("\\errverbose", syntax="\\errverbose", help="show most recent error message at maximum verbosity")(_errverbose)
    command("\\encoding", syntax="\\encoding [ENCODING]", help="show or set client encoding", raw=True)(_encoding)
