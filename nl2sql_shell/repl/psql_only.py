"""psql 15 commands that pgspecial lacks or gets wrong, so that none of them ends the shell.

pgspecial answers `\\watch`, `\\ef`, `\\ev` and `\\do` with a bare exception and offers pgcli's
named queries (`\\n`, `\\ns`, `\\nd`), which psql does not have. Here `\\do` lists operators with
psql 15's own query, `\\ef`/`\\ev` edit a definition as psql does at the prompt, `\\watch` reruns
the query buffer, and the named-query commands are psql's "invalid command".
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from nl2sql_shell.db.execute import error_text
from nl2sql_shell.repl.describe import argument_types, name_conditions
from nl2sql_shell.repl.listing import run_listing
from nl2sql_shell.repl.shell import Shell

NOT_IN_PSQL = frozenset({"\\n", "\\ns", "\\nd", "\\np", "\\z+"})  # pgcli's named queries; \\z takes no +

_OPERATORS = """SELECT n.nspname as "Schema",
  o.oprname AS "Name",
  CASE WHEN o.oprkind='l' THEN NULL ELSE pg_catalog.format_type(o.oprleft, NULL) END AS "Left arg type",
  CASE WHEN o.oprkind='r' THEN NULL ELSE pg_catalog.format_type(o.oprright, NULL) END AS "Right arg type",
  pg_catalog.format_type(o.oprresult, NULL) AS "Result type",{function}
  coalesce(pg_catalog.obj_description(o.oid, 'pg_operator'),
           pg_catalog.obj_description(o.oprcode, 'pg_proc')) AS "Description"
FROM pg_catalog.pg_operator o
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace{joins}
{where}
ORDER BY 1, 2, 3, 4;"""


def list_operators(shell: Shell, name: str, pattern: str | None = None, *type_patterns: str) -> bool:
    """`\\do[S+] [PATTERN [TYPE [TYPE]]]` with psql 15's query: user operators, or those the
    schema-qualified PATTERN names (its + and | literal, * and ? wildcards). Two TYPE patterns
    match the left and right operand; one matches the right operand of a prefix operator;
    further ones are ignored, as psql ignores them."""
    verbose, system = "+" in name, "S" in name
    conditions = [] if system or pattern is not None else ["n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'"]
    more, params = name_conditions(pattern, "n.nspname", "o.oprname", "pg_catalog.pg_operator_is_visible(o.oid)", database=shell.conn.info.dbname, force_escape=True)
    conditions += more
    operands = ["o.oprleft", "o.oprright"] if len(type_patterns) >= 2 else ["o.oprright"]
    if len(type_patterns) == 1:
        conditions.append("o.oprleft = 0")
    joins, more, more_params = argument_types(shell, type_patterns[:2], operands)
    where = "WHERE " + " AND ".join(conditions + more) if conditions + more else ""
    sql = _OPERATORS.format(function='\n  o.oprcode AS "Function",' if verbose else "", joins=joins, where=where)
    run_listing(shell, "List of operators", sql, params + more_params)
    return True


def edit_definition(shell: Shell, name: str, argument: str) -> bool:
    """`\\ef FUNCTION` / `\\ev VIEW`: its CREATE OR REPLACE in $EDITOR, the result in the next
    prompt's buffer. A script or -c has no query buffer to put it in: psql's error there."""
    if not shell.interactive:
        shell.meta_error("no query buffer")
        shell.last_failed = True
        return True
    try:
        text = _definition(shell, name == "\\ef", argument.strip())
    except psycopg.Error as exc:
        shell.error(error_text(exc, shell.settings.messages))
        shell.last_failed = True
        return True
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".sql", delete=False) as handle:
        handle.write(text)
    try:
        subprocess.call([*shlex.split(editor), handle.name])
        shell.pending_input = Path(handle.name).read_text().rstrip("\n")
    finally:
        os.unlink(handle.name)
    return True


def _definition(shell: Shell, function: bool, target: str) -> str:
    """psql's templates when no name is given, else the server's definition."""
    if function:
        if not target:
            return "CREATE FUNCTION ( )\n RETURNS \n LANGUAGE \n-- common options:  IMMUTABLE  STABLE  STRICT  SECURITY DEFINER\nAS $function$\n\n$function$\n"
        kind = "regprocedure" if "(" in target else "regproc"
        row = shell.conn.execute(f"SELECT pg_catalog.pg_get_functiondef(%s::pg_catalog.{kind}::pg_catalog.oid)", [target]).fetchone()
        return row[0] if row else ""
    if not target:
        return "CREATE VIEW  AS\n SELECT \n  -- something...\n"
    row = shell.conn.execute(
        "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), pg_catalog.pg_get_viewdef(c.oid, true)"
        " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::pg_catalog.regclass",
        [target],
    ).fetchone()
    return f"CREATE OR REPLACE VIEW {row[0]} AS\n{row[1]}\n" if row else ""


def watch(shell: Shell, buffer: str, argument: str) -> None:
    """`\\watch [SECONDS]`: run the query again every SECONDS (2 by default) until Ctrl-C or an
    error, each result under psql's title line (the time and the interval)."""
    sql = buffer if buffer.strip() else shell.last_sql
    if not sql.strip():
        shell.meta_error("\\watch cannot be used with an empty query")
        shell.last_failed = True
        return
    try:
        interval = float(argument.split()[0]) if argument.split() else 2.0
    except ValueError:
        shell.meta_error(f'\\watch: incorrect interval value "{argument.split()[0]}"')
        shell.last_failed = True
        return
    try:
        while True:
            shell.output.write(f"{time.strftime('%c')} (every {interval:g}s)\n\n")
            if not shell.run_sql(sql).ok:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
