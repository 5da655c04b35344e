"""The CREATE OR REPLACE text of a function or a view, as psql's get_create_object_cmd builds
it for `\\sf`, `\\sv`, `\\ef` and `\\ev`: the name looked up first (`'name'::regclass::oid`),
then the definition read by that OID, each query echoed under ECHO_HIDDEN (and not run under
noexec). One reading for the four commands: `\\ev` once read a view without its WITH (...)
options and CHECK OPTION, so saving an edit dropped security_invoker and security_barrier.
"""

from __future__ import annotations

import psycopg
import psycopg.sql

from nl2sql_shell.repl.shell import Shell


class SourceError(Exception):
    """psql's one line for a name that does not resolve, or a relation that is no view."""


# A view's storage parameters as psql's appendReloptionsArray writes them: name=value, the
# value quoted ('true') unless it reads as an identifier; the check option has its own clause.
# Every operator named by schema (where psql's own is bare), so that nothing a database's
# owner defined in public can match better.
_VIEW = (
    "SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),"
    " n.nspname::pg_catalog.text OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname::pg_catalog.text, c.relkind::pg_catalog.text,"
    " pg_catalog.pg_get_viewdef(c.oid, true),"
    " pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||)"
    " CASE WHEN pg_catalog.quote_ident(option_value) OPERATOR(pg_catalog.=) option_value THEN option_value"
    " ELSE '''' OPERATOR(pg_catalog.||) pg_catalog.replace(option_value, '''', '''''') OPERATOR(pg_catalog.||) '''' END FROM pg_catalog.pg_options_to_table("
    "pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions, 'check_option=local'), 'check_option=cascaded'))), ', '),"
    " CASE WHEN 'check_option=local' OPERATOR(pg_catalog.=) ANY (c.reloptions) THEN 'LOCAL'"
    " WHEN 'check_option=cascaded' OPERATOR(pg_catalog.=) ANY (c.reloptions) THEN 'CASCADED' END"
    " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON c.relnamespace OPERATOR(pg_catalog.=) n.oid"
    " WHERE c.oid OPERATOR(pg_catalog.=) {oid}"
)


def object_source(shell: Shell, target: str, *, view: bool) -> str | None:
    """The function's (``view`` False) or the view's definition, a view's without a last
    newline; None when ECHO_HIDDEN noexec showed a query and ran none. SourceError with
    psql's text when it cannot be had."""
    cast = "regclass" if view else "regprocedure" if "(" in target else "regproc"
    lookup = f"SELECT {psycopg.sql.Literal(target).as_string(shell.conn)}::pg_catalog.{cast}::pg_catalog.oid"
    try:
        if not shell.show_hidden(lookup):
            return None
        oid = shell.conn.execute(lookup).fetchone()[0]  # type: ignore[index]
        query = _VIEW.format(oid=oid) if view else f"SELECT pg_catalog.pg_get_functiondef({oid})"
        if not shell.show_hidden(query):
            return None
        row = shell.conn.execute(query).fetchone()
    except psycopg.Error as exc:  # psql's minimal_error_message: severity and primary text only
        raise SourceError(f"{exc.diag.severity or 'ERROR'}:  {exc.diag.message_primary or '(not available)'}") from None
    if not view:
        return str(row[0]) if row and row[0] is not None else ""
    if row is None:  # an OID that names no relation (`\\sv 123`)
        raise SourceError("ERROR:  (not available)")
    qualified, plain_name, kind, body, options, check = row
    if kind != "v":
        raise SourceError(f'"{plain_name}" is not a view')
    text = f"CREATE OR REPLACE VIEW {qualified}"
    if options:
        text += f"\n WITH ({options})"
    text += f" AS\n{body.removesuffix(';')}"
    return text + f"\n WITH {check} CHECK OPTION" if check else text
