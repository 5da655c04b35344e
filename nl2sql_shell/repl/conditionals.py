"""psql's `\\if EXPR`, `\\elif EXPR`, `\\else`, `\\endif`.

Each script (and the prompt) has its own stack of branches, as in psql, so an included file
cannot close its includer's `\\if`. In a branch that is not taken nothing runs: no SQL is sent,
no other meta-command runs, and no variable or backtick in them is expanded; an `\\elif` after
a taken branch is not even evaluated. The expression is the command's words (variables
expanded, quotes read) joined by blanks and read as psql reads a boolean.

Query text typed in a branch not taken is dropped when the branch ends: the buffer is again
what it was when the branch began (psql's discard_query_text), so a `;` there sends nothing,
and the statement begun before the `\\if` goes on after the `\\endif` without the branch's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nl2sql_shell.repl.variables import meta_arguments, parse_boolean, without_unterminated

CONDITIONAL_COMMANDS = ("\\if", "\\elif", "\\else", "\\endif")

# psql's ifState: TRUE (in the taken branch), FALSE (no branch taken yet), IGNORED (a branch
# was taken, or the whole \\if sits in a skipped branch), and the same two after \\else.
TRUE, FALSE, IGNORED, ELSE_TRUE, ELSE_FALSE = "true", "false", "ignored", "else-true", "else-false"


@dataclass
class Conditionals:
    """The open `\\if` blocks of one script or of the prompt, innermost last."""

    stack: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # per block: the query buffer its branches keep (psql's saved query text)

    def active(self) -> bool:
        """Whether input runs here: outside any `\\if`, or in its taken branch."""
        return not self.stack or self.stack[-1] in (TRUE, ELSE_TRUE)


def intercept(shell, name: str, argument: str) -> bool:  # noqa: ANN001 - Shell (import cycle)
    """Run ``name`` if it is a conditional command, or skip it in a branch not taken; True
    when the line was dealt with here."""
    state = shell.conditions
    if name not in CONDITIONAL_COMMANDS:
        if state.active():
            return False
        if shell.interactive:
            shell.error(f"{name} command ignored; use \\endif or Ctrl-C to exit current \\if block")
        return True
    if restored := branch(shell, name, argument, ""):  # the statement begun before a branch not taken
        shell.pending_input = restored
    return True


def branch(shell, name: str, argument: str, buffer: str) -> str:  # noqa: ANN001
    """Run the conditional command ``name`` after query text ``buffer``; the buffer psql keeps:
    what a branch not taken added is dropped at its end, what a taken branch added stays."""
    state = shell.conditions
    stack = state.stack
    if name == "\\if":
        stack.append((TRUE if _true(shell, argument) else FALSE) if state.active() else IGNORED)
        state.kept.append(buffer)
        return buffer
    if not stack:
        shell.meta_error(f"{name}: no matching \\if")
        shell.last_failed = True  # a failed command, as in psql (exit 1, ON_ERROR_STOP); a bad \\if value is not
        return buffer
    top = stack[-1]
    if name != "\\endif" and top in (ELSE_TRUE, ELSE_FALSE):
        shell.meta_error(f"{name}: cannot occur after \\else")
        shell.last_failed = True
        return buffer
    buffer = buffer if top in (TRUE, ELSE_TRUE) else state.kept[-1]
    if name == "\\elif":
        state.kept[-1] = buffer
        stack[-1] = (TRUE if _true(shell, argument, name) else FALSE) if top == FALSE else IGNORED
        return buffer
    if name == "\\endif":
        stack.pop()
        state.kept.pop()
    else:
        state.kept[-1] = buffer
        stack[-1] = ELSE_TRUE if top == FALSE else ELSE_FALSE
    if state.active():  # psql reads the words left after \\else and \\endif only to warn of them, where input runs
        for word in meta_arguments(argument, shell.variables, evaluated=0):
            shell.meta_warning(f'{name}: extra argument "{word}" ignored')
    return buffer


def _true(shell, argument: str, name: str = "\\if") -> bool:  # noqa: ANN001
    """The expression's value; one psql cannot read is an error (naming ``name``) and counts
    as false."""
    argument = without_unterminated(argument, shell.meta_error)
    value = " ".join(meta_arguments(argument, shell.variables))
    parsed = parse_boolean(value)
    if parsed is None:
        shell.meta_error(f'unrecognized value "{value}" for "{name} expression": Boolean expected')
        return False
    return parsed


def close(shell, location: str) -> bool:  # noqa: ANN001
    """At the end of a script: psql's error for blocks left open; whether there were any."""
    if shell.conditions.stack:
        shell.location = location
        shell.meta_error("reached EOF without finding closing \\endif(s)")
    return bool(shell.conditions.stack)
