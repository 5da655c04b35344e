"""Server errors and notices as psql prints them under VERBOSITY and SHOW_CONTEXT.

psql hands these variables to libpq (PQsetErrorVerbosity, PQsetErrorContextVisibility), which
then builds every message from the server's fields. psycopg does not expose those calls, so
the same layout is built here from the same fields (libpq's pqBuildErrorMessage3): the
severity and primary message, the query position (as libpq's LINE and caret display, which
is taken from libpq's own default text, or " at character N" when terse), DETAIL, HINT,
QUERY, CONTEXT, and with verbose the SQLSTATE, object names and the server's source LOCATION.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

@dataclass
class MessageStyle:
    """psql's VERBOSITY and SHOW_CONTEXT."""

    verbosity: str = "default"
    show_context: str = "errors"

    @property
    def plain(self) -> bool:
        return self.verbosity == "default" and self.show_context == "errors"


def server_message(diag: psycopg.errors.Diagnostic, style: MessageStyle, *, error: bool, libpq_text: str = "") -> str:
    """One message without its final newline. ``libpq_text`` is libpq's default rendering of
    the error or notice (the source of the LINE display)."""
    severity = diag.severity or "ERROR"
    verbosity = style.verbosity
    if verbosity == "sqlstate":
        if diag.sqlstate:
            return f"{severity}:  {diag.sqlstate}"
        verbosity = "terse"
    primary = diag.message_primary or ""
    head = f"{severity}:  " + (f"{diag.sqlstate}: " if verbosity == "verbose" and diag.sqlstate else "") + primary
    position = diag.statement_position or diag.internal_position
    if verbosity == "terse":
        return head + (f" at character {position}" if position else "")
    lines = [head + position_display(libpq_text, f"{severity}:  {primary}", diag)]
    for label, value in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint), ("QUERY", diag.internal_query)):
        if value:
            lines.append(f"{label}:  {value}")
    if diag.context and (style.show_context == "always" or (style.show_context == "errors" and error)):
        lines.append(f"CONTEXT:  {diag.context}")
    if verbosity == "verbose":
        names = (("SCHEMA NAME", diag.schema_name), ("TABLE NAME", diag.table_name), ("COLUMN NAME", diag.column_name),
                 ("DATATYPE NAME", diag.datatype_name), ("CONSTRAINT NAME", diag.constraint_name))  # fmt: skip
        lines += [f"{label}:  {value}" for label, value in names if value]
        if diag.source_function or diag.source_file:
            where = f"{diag.source_function}, " if diag.source_function else ""
            if diag.source_file and diag.source_line:
                where += f"{diag.source_file}:{diag.source_line}"
            lines.append(f"LOCATION:  {where}")
    return "\n".join(lines)


def position_display(libpq_text: str, head: str, diag: psycopg.errors.Diagnostic) -> str:
    """libpq's `LINE n: ...` and caret lines (with their leading newline), cut out of its
    default text: what follows the first line, up to the first section after it."""
    if not libpq_text.startswith(head + "\n") or not (diag.statement_position or diag.internal_position):
        return ""
    rest = libpq_text[len(head) :]
    ends = [rest.find(f"\n{label}:  ") for label, value in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint),
            ("QUERY", diag.internal_query), ("CONTEXT", diag.context)) if value]  # fmt: skip
    end = min((e for e in ends if e >= 0), default=len(rest))
    return rest[:end].rstrip("\n")

