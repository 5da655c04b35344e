"""`\\ef [FUNCTION [LINE]]` and `\\ev [VIEW [LINE]]` as psql 15 runs them.

The definition (or psql's template when no name is given) goes into a temporary file and the
editor runs on it (PSQL_EDITOR, EDITOR, VISUAL, else vi, through the shell as psql's
``system()``). Left unchanged, psql says "No changes" and drops it; changed, the text becomes the
query buffer: at the prompt the next prompt's text, in a script the start of the next
statement, as psql rescans it as input. A `-c` string has no query buffer: psql's error.
"""

from __future__ import annotations

import os
import re
import tempfile
import time

from nl2sql_shell.repl.object_source import SourceError, object_source
from nl2sql_shell.repl.pipes import system
from nl2sql_shell.repl.shell import Shell

FUNCTION_TEMPLATE = (
    "CREATE FUNCTION ( )\n RETURNS \n LANGUAGE \n -- common options:  IMMUTABLE  STABLE  STRICT  SECURITY DEFINER\n"
    "AS $function$\n\n$function$\n"
)
VIEW_TEMPLATE = "CREATE VIEW  AS\n SELECT \n  -- something...\n"
_LINE_NUMBER = re.compile(r"^(?P<name>.*?)\s+(?P<line>\d+)\s*$|^(?P<only>\d+)\s*$", re.DOTALL | re.ASCII)  # isdigit in C
_BODY_START = ("AS ", "BEGIN ", "RETURN ")


class EditError(Exception):
    """psql's error text for this command (printed as a meta-command's error)."""


def edit_definition(shell: Shell, name: str, argument: str) -> bool:
    """Run `\\ef` or `\\ev`; a failure is one error line and the buffer stays empty."""
    if not shell.require_query_buffer():
        return True
    function = name == "\\ef"
    try:
        target, line = _split_line_number(argument.strip())
        text = _definition(shell, function, target)
        if text is None:  # ECHO_HIDDEN noexec: the lookup was shown, not run
            shell.last_failed = True
            return True
        if function and line > 0 and target:
            line += _lines_before_body(text)
        edited = _edit(text, line)
    except EditError as exc:
        if str(exc):
            shell.meta_error(str(exc))
        shell.last_failed = True
        return True
    if edited is None:
        shell.output.say("No changes\n")
    else:
        shell.take_edited(edited)
    return True


def _split_line_number(argument: str) -> tuple[str, int]:
    """psql's strip_lineno_from_objdesc: a last word of digits is the line to start the editor at
    (-1: none); 0 is psql's "invalid line number"."""
    match = _LINE_NUMBER.match(argument)
    if match is None:
        return argument, -1
    digits = match["line"] or match["only"]
    if int(digits) <= 0:
        raise EditError(f"invalid line number: {digits}")
    return (match["name"] or "").strip(), int(digits)


def _lines_before_body(text: str) -> int:
    """psql counts a function's line numbers from its body's first line (AS, BEGIN or RETURN)."""
    for number, line in enumerate(text.split("\n")):
        if line.startswith(_BODY_START):
            return number
    return 0


def _definition(shell: Shell, function: bool, target: str) -> str | None:
    """psql's template when no name is given, else the server's definition (as `\\sf` and
    `\\sv` show it); None when ECHO_HIDDEN noexec kept the lookup from running."""
    if not target:
        return FUNCTION_TEMPLATE if function else VIEW_TEMPLATE
    try:
        text = object_source(shell, target, view=not function)
    except SourceError as exc:
        raise EditError(str(exc)) from None
    return text if text is None or function else text + "\n"


def run_editor(path: str, line: int = 0) -> None:
    """The user's editor on ``path`` (at ``line`` when above 0), as psql runs it: PSQL_EDITOR,
    EDITOR, VISUAL, else vi, through the shell (psql's ``system()``), so an editor given with
    its options (`code --wait`) runs as written."""
    editor = os.environ.get("PSQL_EDITOR") or os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    line_argument = os.environ.get("PSQL_EDITOR_LINENUMBER_ARG")
    if line > 0 and not line_argument:
        raise EditError("environment variable PSQL_EDITOR_LINENUMBER_ARG must be set to specify a line number")
    at_line = f"{line_argument}{line} " if line > 0 else ""
    if system(f"exec {editor} {at_line}'{path}'") != 0:  # the user's editor
        raise EditError("")  # psql fails without a word when the editor does


def _edit(text: str, line: int) -> str | None:
    """The text after the editor ran on it; None when the file was left as it was (its size
    and modification time, which psql first sets a second back so a quick save shows)."""
    handle, path = tempfile.mkstemp(prefix=f"psql.edit.{os.getpid()}.", suffix=".sql")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        past = time.time() - 1
        os.utime(path, (past, past))
        before = os.stat(path)
        run_editor(path, line)
        after = os.stat(path)
        if (after.st_size, int(after.st_mtime)) == (before.st_size, int(before.st_mtime)):
            return None
        with open(path, encoding="utf-8", errors="surrogateescape") as file:
            return file.read()
    finally:
        os.unlink(path)
