"""psql 15's `\\d` family where pgspecial's output is not psql's.

pgspecial prints the relation lists without their title and with an empty table where psql
says "Did not find any relations.", `\\du` as raw pg_roles rows, and lacks `\\dS`, `\\dtS`,
`\\dg`, `\\des`, `\\dc` and `\\sv`. These use the queries `psql -E` shows for the same
command and lay the result out as psql does; the other listings keep pgspecial's rows under
psql's title (see TITLES).
"""

from __future__ import annotations

import re

import psycopg
import psycopg.sql
from pgspecial.dbcommands import sql_name_pattern

from nl2sql_shell.repl.listing import fetch, print_listing, report, run_listing
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import meta_arguments

# The title psql prints over each listing pgspecial still produces.
TITLES = {
    "\\dp": "Access privileges",
    "\\z": "Access privileges",
    "\\dF": "List of text search configurations",
    "\\ddp": "Default access privileges",
}

RELKIND_NAMES = (
    "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index'"
    " WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'"
    " WHEN 'I' THEN 'partitioned index' END"
)
_USER_SCHEMAS = "n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema'"
# \\d with letters: which of t v m i s E it lists (psql's listTables).
RELATION_COMMAND = re.compile(r"\\d(?P<letters>[tvmisE]*)(?P<flags>[S+]*)$")
FUNCTION_COMMAND = re.compile(r"\\df(?P<letters>[anptw]*)(?P<flags>[S+]*)$")
ROLE_COMMAND = re.compile(r"\\d[ug](?P<flags>[S+]*)$")


def pattern_of(argument: str) -> str | None:
    """The pattern word of a `\\d` command (its first word, quotes as psql reads them)."""
    words = meta_arguments(argument, {})
    return words[0] if words else None


def name_conditions(pattern: str | None, schema_column: str | None, name_column: str | tuple[str, ...], visible: str | None) -> tuple[list[str], list[str]]:
    """psql's processSQLNamePattern: ``schema.name`` with * and ? wildcards, "quoted" parts
    taken as written; without a schema only what the search_path makes visible. Several name
    columns: any of them may match (`\\dT` matches the internal and the SQL name)."""
    if pattern is None:
        return ([visible] if visible else []), []
    schema, name = sql_name_pattern(pattern)
    conditions, params = [], []
    if schema and schema_column:
        conditions.append(f"{schema_column} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default")
        params.append(schema)
    if name:
        columns = (name_column,) if isinstance(name_column, str) else name_column
        conditions.append("(" + " OR ".join(f"{column} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default" for column in columns) + ")")
        params += [name] * len(columns)
    if not schema and visible:
        conditions.append(visible)
    return conditions, params


def literal(shell: Shell, text: str) -> str:
    """``text`` as a quoted literal in the query itself, as psql sends it: a bad name's error
    then has no "unnamed portal parameter" context line."""
    return psycopg.sql.Literal(text).as_string(shell.conn)


def not_found(shell: Shell, noun: str, pattern: str | None) -> None:
    """psql's line for an empty listing, left out under -q (QUIET) as psql leaves it out."""
    if not shell.settings.quiet:
        shell.meta_error(f'Did not find any {noun} named "{pattern}".' if pattern is not None else f"Did not find any {noun}s.")


def list_relations(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\d`, `\\dt`, `\\dv`, `\\dm`, `\\di`, `\\ds`, `\\dE` and their combinations, with S
    (system objects too) and + (persistence, access method, size, description)."""
    match = RELATION_COMMAND.match(name)
    assert match is not None
    letters = match["letters"] or "tvmsE"
    system, verbose = "S" in match["flags"], "+" in match["flags"]
    kinds: list[str] = []
    for letter, codes in (("t", ["r", "p"]), ("v", ["v"]), ("m", ["m"]), ("i", ["i", "I"]), ("s", ["S"]), ("E", ["f"])):
        if letter in letters:
            kinds += codes + (["t"] if letter == "t" and (system or pattern) else [])
    if system or pattern:
        kinds.append("s")
    columns = [
        'n.nspname as "Schema"',
        'c.relname as "Name"',
        f'{RELKIND_NAMES} as "Type"',
        'pg_catalog.pg_get_userbyid(c.relowner) as "Owner"',
    ]
    joins = ["LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace", "LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam"]
    if "i" in letters:
        columns.append('c2.relname as "Table"')
        joins += ["LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid", "LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid"]
    if verbose:
        columns.append("CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as \"Persistence\"")
        if set(letters) & set("tmi"):
            columns.append('am.amname as "Access method"')
        columns.append('pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size"')
        columns.append("pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\"")
    conditions = ["c.relkind IN (" + ",".join(f"'{kind}'" for kind in kinds) + ",'')"]
    if not system and not pattern:
        conditions.append(_USER_SCHEMAS)
    more, params = name_conditions(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)")
    sql = f"SELECT {', '.join(columns)}\nFROM pg_catalog.pg_class c\n  {' '.join(joins)}\nWHERE {' AND '.join(conditions + more)}\nORDER BY 1,2"
    try:
        headers, numeric, rows = fetch(shell, sql, params)
    except psycopg.Error as exc:
        report(shell, exc)
        return True
    if rows or shell.settings.quiet:  # under -q psql shows the empty table instead of its line
        print_listing(shell, "List of relations", headers, rows, numeric=numeric)
    else:
        not_found(shell, "relation", pattern)
    return True


_FUNCTION_KINDS = {"a": "p.prokind = 'a'", "t": "p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype", "p": "p.prokind = 'p'", "w": "p.prokind = 'w'"}
_NOT_NORMAL = {
    "a": "p.prokind <> 'a'",
    "p": "(p.prokind IS NULL OR p.prokind <> 'p')",
    "t": "p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype",
    "w": "p.prokind <> 'w'",
}


def list_functions(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\df[anptwS+] [PATTERN]`: psql 15's kinds (func, agg, window, proc) and, with +,
    volatility, parallel safety, owner, security, privileges, language, source, description."""
    match = FUNCTION_COMMAND.match(name)
    assert match is not None
    letters = match["letters"]
    system, verbose = "S" in match["flags"], "+" in match["flags"]
    columns = [
        'n.nspname as "Schema"',
        'p.proname as "Name"',
        'pg_catalog.pg_get_function_result(p.oid) as "Result data type"',
        'pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types"',
        "CASE p.prokind WHEN 'a' THEN 'agg' WHEN 'w' THEN 'window' WHEN 'p' THEN 'proc' ELSE 'func' END as \"Type\"",
    ]
    if verbose:
        columns += [
            "CASE WHEN p.provolatile = 'i' THEN 'immutable' WHEN p.provolatile = 's' THEN 'stable' WHEN p.provolatile = 'v' THEN 'volatile' END as \"Volatility\"",
            "CASE WHEN p.proparallel = 'r' THEN 'restricted' WHEN p.proparallel = 's' THEN 'safe' WHEN p.proparallel = 'u' THEN 'unsafe' END as \"Parallel\"",
            'pg_catalog.pg_get_userbyid(p.proowner) as "Owner"',
            "CASE WHEN prosecdef THEN 'definer' ELSE 'invoker' END AS \"Security\"",
            "pg_catalog.array_to_string(p.proacl, E'\\n') AS \"Access privileges\"",
            'l.lanname as "Language"',
            'COALESCE(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc) as "Source code"',
            "pg_catalog.obj_description(p.oid, 'pg_proc') as \"Description\"",
        ]
    joins = "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace" + (" LEFT JOIN pg_catalog.pg_language l ON l.oid = p.prolang" if verbose else "")
    if not letters or "n" in letters:
        conditions = [clause for letter, clause in _NOT_NORMAL.items() if letters and letter not in letters]
    else:
        conditions = ["(" + " OR ".join(clause for letter, clause in _FUNCTION_KINDS.items() if letter in letters) + ")"]
    more, params = name_conditions(pattern, "n.nspname", "p.proname", "pg_catalog.pg_function_is_visible(p.oid)")
    conditions += more
    if not system and not pattern:
        conditions += ["n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'"]
    where = "WHERE " + " AND ".join(conditions) if conditions else ""
    run_listing(shell, "List of functions", f"SELECT {', '.join(columns)} FROM pg_catalog.pg_proc p {joins} {where} ORDER BY 1, 2, 4", params)
    return True


_ROLES = """SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof,
  pg_catalog.shobj_description(r.oid, 'pg_authid') AS description,
  r.rolreplication, r.rolbypassrls
FROM pg_catalog.pg_roles r
{where}
ORDER BY 1"""


def list_roles(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\du` / `\\dg` [S+] [PATTERN]: psql's attribute sentences, no row count; roles named
    pg_* only with S or a pattern."""
    match = ROLE_COMMAND.match(name)
    assert match is not None
    system, verbose = "S" in match["flags"], "+" in match["flags"]
    conditions, params = name_conditions(pattern, None, "r.rolname", None)
    if not system and pattern is None:
        conditions = ["r.rolname !~ '^pg_'"]
    sql = _ROLES.format(where="WHERE " + " AND ".join(conditions) if conditions else "")
    try:
        _, _, found = fetch(shell, sql, params)
    except psycopg.Error as exc:
        report(shell, exc)
        return True
    headers = ["Role name", "Attributes", "Member of"] + (["Description"] if verbose else [])
    rows = [(role[0], _role_attributes(role), role[8]) + ((role[9],) if verbose else ()) for role in found]
    print_listing(shell, "List of roles", headers, rows, row_count=False)
    return True


def _role_attributes(role: tuple[str | None, ...]) -> str:
    """psql's Attributes cell: the flags joined by commas, then the connection limit and the
    password's expiry each on a line of its own."""
    _, superuser, inherit, createrole, createdb, login, limit, valid_until, _, _, replication, bypass = role
    flags = [
        text
        for text, on in (
            ("Superuser", superuser == "t"),
            ("No inheritance", inherit != "t"),
            ("Create role", createrole == "t"),
            ("Create DB", createdb == "t"),
            ("Cannot login", login != "t"),
            ("Replication", replication == "t"),
            ("Bypass RLS", bypass == "t"),
        )
        if on
    ]
    lines = [", ".join(flags)] if flags else []
    connections = int(limit or -1)
    if connections >= 0:
        lines.append("No connections" if connections == 0 else f"{connections} connection{'s' if connections != 1 else ''}")
    if valid_until:
        lines.append(f"Password valid until {valid_until}")
    return "\n".join(lines)


def list_foreign_servers(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\des[+] [PATTERN]`."""
    verbose = name.endswith("+")
    columns = ['s.srvname AS "Name"', 'pg_catalog.pg_get_userbyid(s.srvowner) AS "Owner"', 'f.fdwname AS "Foreign-data wrapper"']
    if verbose:
        columns += [
            "pg_catalog.array_to_string(s.srvacl, E'\\n') AS \"Access privileges\"",
            's.srvtype AS "Type"',
            's.srvversion AS "Version"',
            "CASE WHEN srvoptions IS NULL THEN '' ELSE '(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) ||  ' ' || pg_catalog.quote_literal(option_value)  FROM pg_catalog.pg_options_to_table(srvoptions)),  ', ') || ')' END AS \"FDW options\"",
            'd.description AS "Description"',
        ]
    joins = "JOIN pg_catalog.pg_foreign_data_wrapper f ON f.oid=s.srvfdw"
    if verbose:
        joins += " LEFT JOIN pg_catalog.pg_description d ON d.classoid = s.tableoid AND d.objoid = s.oid AND d.objsubid = 0"
    conditions, params = name_conditions(pattern, None, "s.srvname", None)
    where = "WHERE " + " AND ".join(conditions) if conditions else ""
    run_listing(shell, "List of foreign servers", f"SELECT {', '.join(columns)} FROM pg_catalog.pg_foreign_server s {joins} {where} ORDER BY 1", params)
    return True


def list_conversions(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\dc[S+] [PATTERN]`: encoding conversions."""
    system, verbose = "S" in name, "+" in name
    columns = [
        'n.nspname AS "Schema"',
        'c.conname AS "Name"',
        'pg_catalog.pg_encoding_to_char(c.conforencoding) AS "Source"',
        'pg_catalog.pg_encoding_to_char(c.contoencoding) AS "Destination"',
        "CASE WHEN c.condefault THEN 'yes' ELSE 'no' END AS \"Default?\"",
    ]
    if verbose:
        columns.append('d.description AS "Description"')
    joins = "JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace"
    if verbose:
        joins += " LEFT JOIN pg_catalog.pg_description d ON d.classoid = c.tableoid AND d.objoid = c.oid AND d.objsubid = 0"
    conditions = [] if system or pattern else ["n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'"]
    more, params = name_conditions(pattern, "n.nspname", "c.conname", "pg_catalog.pg_conversion_is_visible(c.oid)")
    conditions += more
    sql = f"SELECT {', '.join(columns)} FROM pg_catalog.pg_conversion c {joins} WHERE {' AND '.join(['true', *conditions])} ORDER BY 1, 2"
    run_listing(shell, "List of conversions", sql, params)
    return True


def show_view(shell: Shell, name: str, argument: str) -> bool:
    """`\\sv[+] VIEW`: its CREATE OR REPLACE VIEW (+: with line numbers), as psql prints it."""
    target = argument.strip()
    if not target:
        shell.meta_error("view name is required")
        shell.last_failed = True
        return True
    try:
        row = shell.conn.execute(
            "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), n.nspname || '.' || c.relname, c.relkind::text,"
            " pg_catalog.pg_get_viewdef(c.oid, true),"
            " pg_catalog.array_remove(pg_catalog.array_remove(c.reloptions,'check_option=local'),'check_option=cascaded')::text,"
            " CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL' WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED' END"
            " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid WHERE c.oid = "
            + literal(shell, target)
            + "::pg_catalog.regclass"
        ).fetchone()
    except psycopg.Error as exc:  # psql's minimal_error_message: severity and primary text only
        shell.meta_error(f"{exc.diag.severity or 'ERROR'}:  {exc.diag.message_primary or '(not available)'}")
        shell.last_failed = True
        return True
    assert row is not None
    qualified, plain_name, kind, body, options, check = row
    if kind != "v":
        shell.meta_error(f'"{plain_name}" is not a view')
        shell.last_failed = True
        return True
    text = f"CREATE OR REPLACE VIEW {qualified}"
    if options and options != "{}":
        text += f"\n WITH ({options.strip('{}')})"
    text += f" AS\n{body.rstrip(';')}"
    if check:
        text += f"\n WITH {check} CHECK OPTION"
    if name.endswith("+"):
        text = "\n".join(f"{number:<7} {line}" for number, line in enumerate(text.split("\n"), 1))
    shell.output.write(text + "\n")
    return True


def list_databases(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\l[+] [PATTERN]` (and -l) with psql 15's columns; on PostgreSQL 17 and later the ICU
    Locale column shows datlocale, which replaced daticulocale there."""
    verbose = name.endswith("+")
    locale = "d.datlocale" if shell.conn.info.server_version >= 170000 else "d.daticulocale"
    columns = [
        'd.datname as "Name"',
        'pg_catalog.pg_get_userbyid(d.datdba) as "Owner"',
        'pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding"',
        'd.datcollate as "Collate"',
        'd.datctype as "Ctype"',
        f'{locale} as "ICU Locale"',
        "CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale Provider\"",
        "pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"",
    ]
    joins = ""
    if verbose:
        columns += [
            "CASE WHEN pg_catalog.has_database_privilege(d.datname, 'CONNECT') THEN pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(d.datname)) ELSE 'No Access' END as \"Size\"",
            't.spcname as "Tablespace"',
            "pg_catalog.shobj_description(d.oid, 'pg_database') as \"Description\"",
        ]
        joins = " JOIN pg_catalog.pg_tablespace t on d.dattablespace = t.oid"
    conditions, params = name_conditions(pattern, None, "d.datname", None)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    run_listing(shell, "List of databases", f"SELECT {', '.join(columns)} FROM pg_catalog.pg_database d{joins}{where} ORDER BY 1", params)
    return True


def show_function(shell: Shell, name: str, argument: str) -> bool:
    """`\\sf[+] FUNCTION[(ARGS)]`: its CREATE OR REPLACE FUNCTION; + numbers the body's lines
    (the header lines before AS, BEGIN or RETURN are indented, unnumbered), as psql does."""
    target = argument.strip()
    if not target:
        shell.meta_error("function name is required")
        shell.last_failed = True
        return True
    kind = "regprocedure" if "(" in target else "regproc"
    try:
        row = shell.conn.execute(f"SELECT pg_catalog.pg_get_functiondef({literal(shell, target)}::pg_catalog.{kind}::pg_catalog.oid)").fetchone()
    except psycopg.Error as exc:  # psql's minimal_error_message, as for \\sv
        shell.meta_error(f"{exc.diag.severity or 'ERROR'}:  {exc.diag.message_primary or '(not available)'}")
        shell.last_failed = True
        return True
    text = str(row[0]) if row else ""
    if name.endswith("+"):
        lines, number, header = [], 1, True
        for line in text.removesuffix("\n").split("\n"):
            header = header and not line.startswith(("AS ", "BEGIN ", "RETURN "))
            if header:
                lines.append(f"        {line}")
            else:
                lines.append(f"{number:<7} {line}")
                number += 1
        text = "\n".join(lines) + "\n"
    shell.output.write(text if text.endswith("\n") else text + "\n")
    return True


def list_extension_objects(shell: Shell, pattern: str | None) -> bool:
    """`\\dx+ [PATTERN]`: for each extension, the objects it installed, under its own title."""
    conditions, params = name_conditions(pattern, None, "e.extname", None)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    try:
        _, _, extensions = fetch(shell, f"SELECT e.extname, e.oid FROM pg_catalog.pg_extension e{where} ORDER BY 1", params)
        if not extensions:
            not_found(shell, "extension", pattern)
            shell.last_failed = True
            return True
        for extension, oid in extensions:
            headers, numeric, rows = fetch(
                shell,
                'SELECT pg_catalog.pg_describe_object(classid, objid, 0) AS "Object description" FROM pg_catalog.pg_depend'
                " WHERE refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND refobjid = %s AND deptype = 'e' ORDER BY 1",
                [oid],
            )
            print_listing(shell, f'Objects in extension "{extension}"', headers, rows, numeric=numeric)
    except psycopg.Error as exc:
        report(shell, exc)
    return True


def handler_for(name: str):  # noqa: ANN201 - a metacommands Handler taking the command's name too
    """The function for a `\\d`-family command this module answers, or None (pgspecial's)."""
    if RELATION_COMMAND.match(name):
        from nl2sql_shell.repl.describe_object import describe_relations

        def relations(shell: Shell, argument: str) -> bool:
            pattern = pattern_of(argument)
            if pattern is not None and RELATION_COMMAND.match(name)["letters"] == "":  # type: ignore[index]
                return describe_relations(shell, name, pattern)
            return list_relations(shell, name, pattern)

        return relations
    listers = ((re.compile(r"\\l(ist)?\+?$"), list_databases), (FUNCTION_COMMAND, list_functions), (ROLE_COMMAND, list_roles), (re.compile(r"\\des\+?$"), list_foreign_servers), (re.compile(r"\\dc[S+]*$"), list_conversions))
    for command, lister in listers:
        if command.match(name):
            return lambda shell, argument, lister=lister: lister(shell, name, pattern_of(argument))
    from nl2sql_shell.repl import catalog_lists

    simple = catalog_lists.handler_for(name)
    if simple is not None:
        return lambda shell, argument: simple(shell, pattern_of(argument))
    if name in ("\\dx+", "\\dxS+", "\\dx+S"):
        return lambda shell, argument: list_extension_objects(shell, pattern_of(argument))
    if name in ("\\sv", "\\sv+"):
        return lambda shell, argument: show_view(shell, name, argument)
    if name in ("\\sf", "\\sf+"):
        return lambda shell, argument: show_function(shell, name, argument)
    return None
