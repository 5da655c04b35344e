"""`\\lo_import`, `\\lo_export`, `\\lo_unlink` as psql 15 runs them (`\\lo_list` is a listing).

psql moves the bytes with libpq's large-object calls, which psycopg does not offer; the
server's own functions do the same in one statement each (lo_from_bytea, lo_get, lo_unlink),
with the same errors. Like psql, each runs in a transaction of its own unless one is open,
committed when AUTOCOMMIT is on, and \\lo_import sets LASTOID.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
import psycopg.sql
from psycopg import pq

from nl2sql_shell.db.execute import error_text
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import boolean, meta_arguments


def lo_import(shell: Shell, argument: str) -> bool:
    words = meta_arguments(argument, shell.variables)
    if not words:
        return _missing(shell, "\\lo_import")
    try:
        with open(words[0], "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return _failed(shell, f'could not open file "{words[0]}": {exc.strerror}')

    def run(conn: psycopg.Connection) -> str:
        oid = conn.execute("SELECT pg_catalog.lo_from_bytea(0, %s)", (data,)).fetchone()[0]
        if len(words) > 1:
            conn.execute(psycopg.sql.SQL("COMMENT ON LARGE OBJECT {} IS {}").format(psycopg.sql.SQL(str(oid)), words[1]))
        shell.variables["LASTOID"] = str(oid)
        return f"lo_import {oid}"

    return _in_lo_transaction(shell, "\\lo_import", run)


def lo_export(shell: Shell, argument: str) -> bool:
    words = meta_arguments(argument, shell.variables)
    if len(words) < 2:
        return _missing(shell, "\\lo_export")
    oid, path = atooid(words[0]), words[1]

    def run(conn: psycopg.Connection) -> str:
        data = conn.execute("SELECT pg_catalog.lo_get(%s::pg_catalog.oid)", (oid,)).fetchone()[0]
        with open(path, "wb") as handle:
            handle.write(data)
        return "lo_export"

    return _in_lo_transaction(shell, "\\lo_export", run)


def lo_unlink(shell: Shell, argument: str) -> bool:
    words = meta_arguments(argument, shell.variables)
    if not words:
        return _missing(shell, "\\lo_unlink")

    oid = atooid(words[0])

    def run(conn: psycopg.Connection) -> str:
        conn.execute("SELECT pg_catalog.lo_unlink(%s::pg_catalog.oid)", (oid,))
        return f"lo_unlink {oid}"

    return _in_lo_transaction(shell, "\\lo_unlink", run)


def atooid(word: str) -> int:
    """psql's atooid, strtoul's reading of an OID: blanks and a sign, then digits, up to the
    first other character (`abc` is 0, `0500001` is 500001, `-1` is 4294967295)."""
    sign, digits = _LEADING_NUMBER.match(word).groups()  # type: ignore[union-attr]
    value = min(int(digits or 0), 2**64 - 1)
    return ((-value if sign == "-" else value) % 2**64) & 0xFFFFFFFF


_LEADING_NUMBER = re.compile(r"\s*([+-]?)(\d*)")


def _in_lo_transaction(shell: Shell, operation: str, run: Callable[[psycopg.Connection], str]) -> bool:
    """psql's start_lo_xact / finish_lo_xact / fail_lo_xact around one operation (in a
    failed transaction psql says so itself, and sends nothing)."""
    conn = shell.conn
    if conn.info.transaction_status == pq.TransactionStatus.INERROR:
        shell.meta_error(f"{operation}: current transaction is aborted")
        shell.last_failed = True
        return True
    own = conn.info.transaction_status == pq.TransactionStatus.IDLE
    autocommit = boolean(shell.variables.get("AUTOCOMMIT"), default=True)
    if own and not shell.show_hidden("BEGIN"):  # ECHO_HIDDEN noexec: psql's BEGIN is shown, and nothing done
        shell.last_failed = True
        return True
    try:
        if own:
            conn.execute("BEGIN")
        message = run(conn)
        if own and autocommit and shell.show_hidden("COMMIT"):
            conn.execute("COMMIT")
    except (psycopg.Error, OSError) as exc:
        if own and autocommit and not conn.broken and shell.show_hidden("ROLLBACK"):
            conn.execute("ROLLBACK")
        text = error_text(exc, shell.settings.messages) if isinstance(exc, psycopg.Error) else f'could not open file "{exc.filename}": {exc.strerror}'
        return _failed(shell, text)
    _print_lo_result(shell, message)
    return True


def _print_lo_result(shell: Shell, message: str) -> None:
    """psql's print_lo_result: the line to the query output unless quiet, an HTML paragraph
    in -H; to the -L log whatever QUIET says, plain."""
    if not shell.settings.quiet:
        html = shell.settings.format == "html"
        shell.output.write_unlogged(f"<p>{message}</p>\n" if html else message + "\n")
    shell.output.log_text(message + "\n")


def _missing(shell: Shell, name: str) -> bool:
    shell.meta_error(f"{name}: missing required argument")
    shell.last_failed = True
    return True


def _failed(shell: Shell, text: str) -> bool:
    shell.error(shell.location + text)
    shell.last_failed = True
    return True
