"""Catalog listings as psql prints them: a centred title, the table, footer lines.

The `\\d` family reads the catalog with psql 15's own queries (see repl/describe.py); this
module runs such a query with every value kept as the server's text (so `t`/`f`, arrays and
timestamps print as psql prints them) and lays out the result under its title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import psycopg

from nl2sql_shell.db import format as fmt
from nl2sql_shell.repl.shell import Shell

Rows = list[tuple[str | None, ...]]


class NotRun(Exception):
    """ECHO_HIDDEN is ``noexec``: the catalog query was shown and not run, so the command
    fails there without a word, as psql's does (its PSQLexec returns no result)."""


def fetch(shell: Shell, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> tuple[list[str], list[bool], Rows]:
    """Run a catalog query; (column names, right-aligned flags, rows as the server's text).
    With ECHO_HIDDEN (-E) the query is shown first, as psql shows its own; NotRun under noexec."""
    if shell.variables.get("ECHO_HIDDEN", "off") != "off" and not shell.show_hidden(psycopg.ClientCursor(shell.conn).mogrify(sql, params)):
        raise NotRun()
    with shell.executor.own_query(), shell.conn.cursor() as cur:
        fmt.text_loading(cur)
        cur.execute(sql, params)
        headers, numeric = fmt.describe(cur)
        return headers, numeric, [tuple(row) for row in cur.fetchall()]


def print_listing(
    shell: Shell,
    title: str,
    headers: list[str],
    rows: Rows,
    *,
    numeric: Sequence[bool] | None = None,
    footers: Sequence[str] = (),
    row_count: bool = True,
    count_always: bool = False,
    table: bool = False,
) -> None:
    """psql's printTable for a listing, in the format `\\pset` chose: the title (centred in
    aligned output), the rows, then either ``footers`` (`\\d NAME`'s Indexes: ...), the row
    count, or with ``row_count=False`` nothing (`\\du`); ``count_always``: the row count even
    under `\\pset footer off` (`\\dFp+`'s token types). ``table``: never expanded, as psql
    shows one relation's columns whatever `\\x` says. NULL shows empty whatever `\\pset null`
    says, as psql's describe.c sets no nullPrint."""
    settings = replace(shell.settings, title=title, null="", **({"expanded": "off"} if table else {}), **({"footer": True} if count_always else {}))
    lines = list(footers) if footers or not row_count else None
    width = shell.output.columns(settings.columns)  # \pset columns, or the terminal's: wrapped and \x auto need it
    aligns = numeric or [False] * len(headers)
    with shell.output.page(log=False) as write:  # a screen and more: paged, as psql's printTable
        write(fmt.render(headers, aligns, rows, settings, footers=lines, output_columns=width))
    if shell.output.log is not None:  # as psql's printTable logs it
        shell.output.log_text(fmt.render(headers, aligns, rows, settings.logged, footers=lines, output_columns=settings.columns))


def run_listing(shell: Shell, title: str, sql: str, params: Sequence[object] = ()) -> None:
    """Query and print one titled listing; a server error is printed and the command fails."""
    try:
        headers, numeric, rows = fetch(shell, sql, params)
    except psycopg.Error as exc:
        report(shell, exc)
        return
    print_listing(shell, title, headers, rows, numeric=numeric)


def report(shell: Shell, exc: psycopg.Error) -> None:
    """A catalog query's error, as psql prints the error of its own query."""
    from nl2sql_shell.db.execute import error_text

    shell.error(shell.location + error_text(exc, shell.settings.messages))
    shell.last_failed = True
