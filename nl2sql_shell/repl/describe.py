"""psql 15's `\\d` family where pgspecial's output is not psql's.

pgspecial prints the relation lists without their title and with an empty table where psql
says "Did not find any relations.", `\\du` as raw pg_roles rows, and lacks `\\dS`, `\\dtS`,
`\\dg`, `\\dc` and `\\sv`. These use the queries `psql -E` shows for the same command and
lay the result out as psql does (the simpler listings are a table in catalog_lists.py). A
pattern goes through psql's own rules (name_conditions), errors about dotted names included.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import psycopg
import psycopg.sql

from nl2sql_shell.repl.describe_names import BadFunctionOptions, canonical, takes_two_patterns
from nl2sql_shell.repl.listing import fetch, print_listing, report, run_listing
from nl2sql_shell.repl.object_source import SourceError, object_source
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import boolean, drop_word_semicolons, meta_arguments, meta_words, unterminated

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
OPERATOR_COMMAND = re.compile(r"\\do[S+]*$")
Handler = Callable[[Shell, str], bool]
WordsHandler = Callable[[Shell, list[str]], bool]  # a command's words, read as psql reads them


def pattern_of(words: list[str]) -> str | None:
    """The pattern word of a `\\d` command: its first word, if any."""
    return words[0] if words else None


class PatternError(Exception):
    """A pattern psql refuses before it queries: too many dotted names, or another database."""


def split_pattern(pattern: str, buffers: int, force_escape: bool = False) -> tuple[list[str], str, int]:
    """psql's patternToSQLRegex: the pattern's dotted parts as regular expressions (at most
    ``buffers`` of them; further dots stay in the last, as "any character"), the leftmost
    part as written (for the database check) and the number of dots. Outside quotes letters
    fold to lower case, ``*`` and ``?`` are wildcards and other regex characters pass; inside
    quotes everything is literal."""
    parts, literal, left, dots, quoted, i = [""], "", True, 0, False, 0
    while i < len(pattern):
        char, regex, plain = pattern[i], None, None
        if char == '"' and quoted and pattern[i + 1 : i + 2] == '"':
            regex = plain = '"'
            i += 1
        elif char == '"':
            quoted = not quoted
        elif not quoted and char.isascii() and char.isupper():
            regex = plain = char.lower()
        elif not quoted and char in "*?":
            regex, plain = (".*" if char == "*" else "."), char
        elif not quoted and char == ".":
            left, dots = False, dots + 1
            if len(parts) < buffers:
                parts.append("")
            else:
                parts[-1] += "."
        elif char == "$":
            regex, plain = "\\$", "$"
        else:
            escape = ((quoted or force_escape) and char in "|*+?()[]{}.^\\") or (char == "[" and pattern[i + 1 : i + 2] == "]")
            regex, plain = ("\\" if escape else "") + char, char
        if regex is not None:
            parts[-1] += regex
            literal += plain if left and plain else ""
        i += 1
    return parts, literal, dots


def name_conditions(
    pattern: str | None,
    schema_column: str | None,
    name_column: str | tuple[str, ...],
    visible: str | None,
    *,
    parts: int | None = None,
    database: str = "",
    force_escape: bool = False,
) -> tuple[list[str], list[str]]:
    """psql's validateSQLNamePattern: ``schema.name`` with * and ? wildcards, "quoted" parts
    taken as written; without a schema only what the search_path makes visible. Several name
    columns: any of them may match (`\\dT` matches the internal and the SQL name). ``parts``:
    how many dotted names the command takes (3 with a schema column, else 1, unless given; 0:
    any, unchecked, as psql leaves `\\dconfig`'s); with all of them the first must be
    ``database``, the current one. Raises PatternError."""
    if pattern is None:
        return ([visible] if visible else []), []
    regexes, first, dots = split_pattern(pattern, 3 if schema_column else 1, force_escape)
    limit = (3 if schema_column else 1) if parts is None else parts
    if 0 < limit <= dots:
        raise PatternError(f"improper qualified name (too many dotted names): {pattern}")
    if limit > 1 and dots == limit - 1 and (first if len(regexes) == 3 else "") != database:
        raise PatternError(f"cross-database references are not implemented: {pattern}")
    schema, name = (regexes[-2] if len(regexes) > 1 else None), regexes[-1]
    conditions, params = [], []
    if schema is not None and schema != ".*" and schema_column:
        conditions.append(f"{schema_column} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default")
        params.append(f"^({schema})$")
    if name != ".*":
        columns = (name_column,) if isinstance(name_column, str) else name_column
        conditions.append("(" + " OR ".join(f"{column} OPERATOR(pg_catalog.~) %s COLLATE pg_catalog.default" for column in columns) + ")")
        params += [f"^({name})$"] * len(columns)
    if schema is None and visible:
        conditions.append(visible)
    return conditions, params


# psql's typename_map: spellings the grammar accepts that are neither pg_type's name nor
# format_type's, and array names whose canonical form differs from pg_type's.
_TYPE_SPELLINGS = {"decimal": "numeric", "float": "double precision", "int": "integer"} | {
    f"{short}[]": f"{canonical}[]"
    for short, canonical in (
        ("bool", "boolean"), ("decimal", "numeric"), ("float", "double precision"), ("float4", "real"), ("float8", "double precision"),
        ("int", "integer"), ("int2", "smallint"), ("int4", "integer"), ("int8", "bigint"), ("time", "time without time zone"),
        ("timetz", "time with time zone"), ("timestamp", "timestamp without time zone"), ("timestamptz", "timestamp with time zone"),
        ("varbit", "bit varying"), ("varchar", "character varying"),
    )
}


def type_pattern(pattern: str | None) -> str | None:
    """psql's map_typename_pattern for `\\dT` and `\\df`'s argument types: `int` finds integer,
    `int4[]` integer[] (the whole pattern, in any case)."""
    return None if pattern is None else _TYPE_SPELLINGS.get(pattern.lower(), pattern)


def argument_types(shell: Shell, patterns: Sequence[str], types: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """psql's filter on `\\df`'s and `\\do`'s argument types: pattern n matches the type
    ``types[n]`` names (by its internal or its SQL name, psql's spellings mapped), `-` means
    no such argument. The joins (t<n>, nt<n>), the conditions and their parameters."""
    joins, conditions, params = "", [], []
    for number, (pattern, type_oid) in enumerate(zip(patterns, types)):
        joins += f" LEFT JOIN pg_catalog.pg_type t{number} ON t{number}.oid = {type_oid} LEFT JOIN pg_catalog.pg_namespace nt{number} ON nt{number}.oid = t{number}.typnamespace"
        if pattern == "-":
            conditions.append(f"t{number}.typname IS NULL")
            continue
        names = (f"t{number}.typname", f"pg_catalog.format_type(t{number}.oid, NULL)")
        more, more_params = name_conditions(type_pattern(pattern), f"nt{number}.nspname", names, f"pg_catalog.pg_type_is_visible(t{number}.oid)", database=shell.conn.info.dbname)
        conditions, params = conditions + more, params + more_params
    return joins, conditions, params


def literal(shell: Shell, text: str) -> str:
    """``text`` as a quoted literal in the query itself, as psql sends it: a bad name's error
    then has no "unnamed portal parameter" context line."""
    return psycopg.sql.Literal(text).as_string(shell.conn)


def hides(shell: Shell, variable: str) -> bool:
    """Whether psql's HIDE_TABLEAM or HIDE_TOAST_COMPRESSION is on: `\\d+` and the `+`
    listings then leave out the access method or the compression method (stable output
    for regression tests, which is what psql has them for)."""
    return boolean(shell.variables.get(variable))


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
        if set(letters) & set("tmi") and not hides(shell, "HIDE_TABLEAM"):
            columns.append('am.amname as "Access method"')
        columns.append('pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size"')
        columns.append("pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\"")
    conditions = ["c.relkind IN (" + ",".join(f"'{kind}'" for kind in kinds) + ",'')"]
    if not system and not pattern:
        conditions.append(_USER_SCHEMAS)
    more, params = name_conditions(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)", database=shell.conn.info.dbname)
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


def list_functions(shell: Shell, name: str, pattern: str | None = None, *type_patterns: str) -> bool:
    """`\\df[anptwS+] [PATTERN [ARGTYPE ...]]`: psql 15's kinds (func, agg, window, proc) and,
    with +, volatility, parallel safety, owner, security, privileges, language, source,
    description. Each ARGTYPE pattern matches that argument's type (`-`: no such argument)."""
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
    more, params = name_conditions(pattern, "n.nspname", "p.proname", "pg_catalog.pg_function_is_visible(p.oid)", database=shell.conn.info.dbname)
    conditions += more
    type_joins, more, more_params = argument_types(shell, type_patterns, [f"p.proargtypes[{number}]" for number in range(len(type_patterns))])
    joins, conditions, params = joins + type_joins, conditions + more, params + more_params
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
    more, params = name_conditions(pattern, "n.nspname", "c.conname", "pg_catalog.pg_conversion_is_visible(c.oid)", database=shell.conn.info.dbname)
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
        text = object_source(shell, target, view=True)
    except SourceError as exc:
        shell.meta_error(str(exc))
        shell.last_failed = True
        return True
    if text is None:  # ECHO_HIDDEN noexec
        return True
    if name.endswith("+"):
        text = "\n".join(f"{number:<7} {line}" for number, line in enumerate(text.split("\n"), 1))
    with shell.output.page(log=False) as write:  # (paged, as psql's)
        write(text + "\n")
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
    try:
        text = object_source(shell, target, view=False)
    except SourceError as exc:
        shell.meta_error(str(exc))
        shell.last_failed = True
        return True
    if text is None:  # ECHO_HIDDEN noexec
        return True
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
    with shell.output.page(log=False) as write:  # (paged, as psql's)
        write(text if text.endswith("\n") else text + "\n")
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


PARTITIONED_COMMAND = re.compile(r"\\dP(?P<rest>[tin+][tinS+]*)?$")


def list_partitioned(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\dP[tin+] [PATTERN]`: partitioned tables (t), indexes (i) or both, only the roots
    unless n (nested) or a pattern asks for every level, with + their sizes."""
    match = PARTITIONED_COMMAND.match(name)
    assert match is not None
    rest = match["rest"] or ""
    tables, indexes = "t" in rest or "i" not in rest, "i" in rest or "t" not in rest
    nested, verbose, every_level = "n" in rest, "+" in rest, "n" in rest or pattern is not None
    columns = ['n.nspname as "Schema"', 'c.relname as "Name"', 'pg_catalog.pg_get_userbyid(c.relowner) as "Owner"']
    joins = ["LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"]
    order = ['"Schema"']
    if tables and indexes:
        columns.append("CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\"")
        order.append('"Type" DESC')
    if every_level:
        columns.append('inh.inhparent::pg_catalog.regclass as "Parent name"')
        order.append('"Parent name" NULLS FIRST')
    order.append('"Name"')
    if indexes:
        columns.append('c2.oid::pg_catalog.regclass as "Table"')
        joins += ["LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid", "LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid"]
    if every_level:
        joins.append("LEFT JOIN pg_catalog.pg_inherits inh ON c.oid = inh.inhrelid")
    if verbose:
        columns += (['s.dps as "Leaf partition size"'] if nested else []) + ['s.tps as "Total size"', "pg_catalog.obj_description(c.oid, 'pg_class') as \"Description\""]
        joins[-1] += (
            ", LATERAL (SELECT pg_catalog.pg_size_pretty(sum(CASE WHEN ppt.isleaf AND ppt.level = 1 THEN pg_catalog.pg_table_size(ppt.relid) ELSE 0 END)) AS dps,"
            " pg_catalog.pg_size_pretty(sum(pg_catalog.pg_table_size(ppt.relid))) AS tps FROM pg_catalog.pg_partition_tree(c.oid) ppt) s"
        )
    kinds = ",".join(["'p'"] * tables + ["'I'"] * indexes)
    conditions = [f"c.relkind IN ({kinds},'')"] + ([] if every_level else ["NOT c.relispartition"])
    conditions += [] if pattern is not None else [_USER_SCHEMAS]
    more, params = name_conditions(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)", database=shell.conn.info.dbname)
    title = "List of partitioned " + ("relations" if tables and indexes else "tables" if tables else "indexes")
    sql = f"SELECT {', '.join(columns)} FROM pg_catalog.pg_class c {' '.join(joins)} WHERE {' AND '.join(conditions + more)} ORDER BY {', '.join(order)}"
    run_listing(shell, title, sql, params)
    return True


def list_role_settings(shell: Shell, words: list[str]) -> bool:
    """`\\drds [ROLEPATTERN [DBPATTERN]]`: settings made with ALTER ROLE / ALTER DATABASE ...
    SET; psql's sentence naming the patterns when there are none (the command still succeeds)."""
    role, database = (words[:2] + [None, None])[:2]
    conditions, params = name_conditions(role, None, "r.rolname", None)
    more, more_params = name_conditions(database, None, "d.datname", None) if role is not None else ([], [])
    where = " WHERE " + " AND ".join(conditions + more) if conditions + more else ""
    sql = (
        "SELECT rolname AS \"Role\", datname AS \"Database\", pg_catalog.array_to_string(setconfig, E'\\n') AS \"Settings\""
        " FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_database d ON d.oid = setdatabase"
        f" LEFT JOIN pg_catalog.pg_roles r ON r.oid = setrole{where} ORDER BY 1, 2"
    )
    try:
        headers, numeric, rows = fetch(shell, sql, params + more_params)
    except psycopg.Error as exc:
        report(shell, exc)
        return True
    if rows or shell.settings.quiet:
        print_listing(shell, "List of settings", headers, rows, numeric=numeric)
    elif role is not None and database is not None:
        shell.meta_error(f'Did not find any settings for role "{role}" and database "{database}".')
    else:
        shell.meta_error(f'Did not find any settings for role "{role}".' if role is not None else "Did not find any settings.")
    return True


# \\dd: the objects whose descriptions \\d+ and the other listings do not show, each as
# (kind, FROM ..., schema column, name column, visibility rule).
_DESCRIBED = (
    ("table constraint", "pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.conrelid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace", "pgc.conname", "pg_catalog.pg_table_is_visible(c.oid)"),
    ("domain constraint", "pg_catalog.pg_constraint pgc JOIN pg_catalog.pg_type t ON t.oid = pgc.contypid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace", "pgc.conname", "pg_catalog.pg_type_is_visible(t.oid)"),
    ("operator class", "pg_catalog.pg_opclass pgc JOIN pg_catalog.pg_am am ON pgc.opcmethod = am.oid JOIN pg_catalog.pg_namespace n ON n.oid = pgc.opcnamespace", "pgc.opcname", "pg_catalog.pg_opclass_is_visible(pgc.oid)"),
    ("operator family", "pg_catalog.pg_opfamily pgc JOIN pg_catalog.pg_am am ON pgc.opfmethod = am.oid JOIN pg_catalog.pg_namespace n ON pgc.opfnamespace = n.oid", "pgc.opfname", "pg_catalog.pg_opfamily_is_visible(pgc.oid)"),
    ("rule", "pg_catalog.pg_rewrite pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.ev_class LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace", "pgc.rulename", "pg_catalog.pg_table_is_visible(c.oid)"),
    ("trigger", "pg_catalog.pg_trigger pgc JOIN pg_catalog.pg_class c ON c.oid = pgc.tgrelid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace", "pgc.tgname", "pg_catalog.pg_table_is_visible(c.oid)"),
)


def list_descriptions(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\dd[S] [PATTERN]`: comments on constraints, operator classes and families, rules and
    triggers (objects with no listing of their own), as psql 15 gathers them."""
    branches, params = [], []
    for kind, source, name_column, visible in _DESCRIBED:
        conditions, more = name_conditions(pattern, "n.nspname", name_column, visible, database=shell.conn.info.dbname)
        conditions += ["pgc.rulename != '_RETURN'"] if kind == "rule" else []
        conditions += [] if "S" in name or pattern is not None else ["n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'"]
        branches.append(
            f"SELECT pgc.oid AS oid, pgc.tableoid AS tableoid, n.nspname AS nspname, CAST({name_column} AS pg_catalog.text) AS name,"
            f" CAST('{kind}' AS pg_catalog.text) AS object FROM {source} WHERE {' AND '.join(conditions) or 'true'}"
        )
        params += more
    sql = (
        'SELECT DISTINCT tt.nspname AS "Schema", tt.name AS "Name", tt.object AS "Object", d.description AS "Description"'
        f" FROM ({' UNION ALL '.join(branches)}) AS tt"
        " JOIN pg_catalog.pg_description d ON (tt.oid = d.objoid AND tt.tableoid = d.classoid AND d.objsubid = 0) ORDER BY 1, 2, 3"
    )
    run_listing(shell, "Object descriptions", sql, params)
    return True


OPERATOR_FAMILY_COMMAND = re.compile(r"\\dA(?P<kind>[cfop])[S+]*$")
_VISIBLE_FAMILY = "CASE WHEN pg_catalog.pg_opfamily_is_visible({0}.oid) THEN pg_catalog.format('%%I', {0}.opfname) ELSE pg_catalog.format('%%I.%%I', {1}.nspname, {0}.opfname) END"
_TYPE_NAMES = ("t.typname", "pg_catalog.format_type(t.oid, NULL)")


class _AmListing(NamedTuple):
    title: str
    columns: list[str]
    source: str
    conditions: tuple[list[str], list[str]]  # the second pattern's conditions and parameters
    order: str


def list_operator_families(shell: Shell, name: str, words: list[str]) -> bool:
    """`\\dAc`, `\\dAf`, `\\dAo`, `\\dAp` [+] [AMPATTERN [TYPE or FAMILY PATTERN]]: operator classes,
    families, their operators and support functions, as psql 15 lists them."""
    match = OPERATOR_FAMILY_COMMAND.match(name)
    assert match is not None
    method, second = (words[:2] + [None, None])[:2]
    conditions, params = name_conditions(method, None, "am.amname", None)
    build = {"c": _operator_classes, "f": _operator_families, "o": _family_operators, "p": _family_functions}[match["kind"]]
    listing = build("+" in name, second if method is not None else None, shell.conn.info.dbname)  # psql reads a second pattern only after a first
    more, more_params = listing.conditions
    where = " WHERE " + " AND ".join(conditions + more) if conditions + more else ""
    run_listing(shell, listing.title, f"SELECT {', '.join(listing.columns)} FROM {listing.source}{where} ORDER BY {listing.order}", params + more_params)
    return True


def _operator_classes(verbose: bool, types: str | None, database: str) -> _AmListing:
    columns = [
        'am.amname AS "AM"',
        'pg_catalog.format_type(c.opcintype, NULL) AS "Input type"',
        'CASE WHEN c.opckeytype <> 0 AND c.opckeytype <> c.opcintype THEN pg_catalog.format_type(c.opckeytype, NULL) ELSE NULL END AS "Storage type"',
        "CASE WHEN pg_catalog.pg_opclass_is_visible(c.oid) THEN pg_catalog.format('%%I', c.opcname) ELSE pg_catalog.format('%%I.%%I', n.nspname, c.opcname) END AS \"Operator class\"",
        "CASE WHEN c.opcdefault THEN 'yes' ELSE 'no' END AS \"Default?\"",
    ] + ([f'{_VISIBLE_FAMILY.format("of", "ofn")} AS "Operator family"', 'pg_catalog.pg_get_userbyid(c.opcowner) AS "Owner"'] if verbose else [])
    source = (
        "pg_catalog.pg_opclass c LEFT JOIN pg_catalog.pg_am am on am.oid = c.opcmethod LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace"
        " LEFT JOIN pg_catalog.pg_type t ON t.oid = c.opcintype LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace"
    ) + (" LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = c.opcfamily LEFT JOIN pg_catalog.pg_namespace ofn ON ofn.oid = of.opfnamespace" if verbose else "")
    conditions = name_conditions(types, "tn.nspname", _TYPE_NAMES, "pg_catalog.pg_type_is_visible(t.oid)", database=database) if types is not None else ([], [])
    return _AmListing("List of operator classes", columns, source, conditions, "1, 2, 4")


def _operator_families(verbose: bool, types: str | None, database: str) -> _AmListing:
    """A type pattern matches a family with an operator class for such a type."""
    columns = [
        'am.amname AS "AM"',
        f'{_VISIBLE_FAMILY.format("f", "n")} AS "Operator family"',
        "(SELECT pg_catalog.string_agg(pg_catalog.format_type(oc.opcintype, NULL), ', ') FROM pg_catalog.pg_opclass oc WHERE oc.opcfamily = f.oid) \"Applicable types\"",
    ] + (['pg_catalog.pg_get_userbyid(f.opfowner) AS "Owner"'] if verbose else [])
    source = "pg_catalog.pg_opfamily f LEFT JOIN pg_catalog.pg_am am on am.oid = f.opfmethod LEFT JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace"
    conditions, params = name_conditions(types, "tn.nspname", _TYPE_NAMES, "pg_catalog.pg_type_is_visible(t.oid)", database=database) if types is not None else ([], [])
    exists = (
        "EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_opclass oc ON oc.opcintype = t.oid"
        f" LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE oc.opcfamily = f.oid AND {' AND '.join(conditions)})"
    )
    return _AmListing("List of operator families", columns, source, ([exists] if conditions else [], params), "1, 2")


def _family_operators(verbose: bool, family: str | None, database: str) -> _AmListing:
    columns = [
        'am.amname AS "AM"',
        f'{_VISIBLE_FAMILY.format("of", "nsf")} AS "Operator family"',
        'o.amopopr::pg_catalog.regoperator AS "Operator"',
        'o.amopstrategy AS "Strategy"',
        "CASE o.amoppurpose WHEN 'o' THEN 'ordering' WHEN 's' THEN 'search' END AS \"Purpose\"",
    ] + (['ofs.opfname AS "Sort opfamily"'] if verbose else [])
    source = (
        "pg_catalog.pg_amop o LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = o.amopfamily"
        " LEFT JOIN pg_catalog.pg_am am ON am.oid = of.opfmethod AND am.oid = o.amopmethod LEFT JOIN pg_catalog.pg_namespace nsf ON of.opfnamespace = nsf.oid"
    ) + (" LEFT JOIN pg_catalog.pg_opfamily ofs ON ofs.oid = o.amopsortfamily" if verbose else "")
    order = "1, 2, o.amoplefttype = o.amoprighttype DESC, pg_catalog.format_type(o.amoplefttype, NULL), pg_catalog.format_type(o.amoprighttype, NULL), o.amopstrategy"
    return _AmListing("List of operators of operator families", columns, source, name_conditions(family, "nsf.nspname", "of.opfname", None, database=database), order)


def _family_functions(verbose: bool, family: str | None, database: str) -> _AmListing:
    columns = [
        'am.amname AS "AM"',
        f'{_VISIBLE_FAMILY.format("of", "ns")} AS "Operator family"',
        'pg_catalog.format_type(ap.amproclefttype, NULL) AS "Registered left type"',
        'pg_catalog.format_type(ap.amprocrighttype, NULL) AS "Registered right type"',
        'ap.amprocnum AS "Number"',
        'ap.amproc::pg_catalog.regprocedure AS "Function"' if verbose else 'p.proname AS "Function"',
    ]
    source = (
        "pg_catalog.pg_amproc ap LEFT JOIN pg_catalog.pg_opfamily of ON of.oid = ap.amprocfamily LEFT JOIN pg_catalog.pg_am am ON am.oid = of.opfmethod"
        " LEFT JOIN pg_catalog.pg_namespace ns ON of.opfnamespace = ns.oid LEFT JOIN pg_catalog.pg_proc p ON ap.amproc = p.oid"
    )
    order = "1, 2, ap.amproclefttype = ap.amprocrighttype DESC, 3, 4, 5"
    return _AmListing("List of support functions of operator families", columns, source, name_conditions(family, "ns.nspname", "of.opfname", None, database=database), order)


def describe_publications(shell: Shell, pattern: str | None) -> bool:
    """`\\dRp+ [PATTERN]`: each publication as its own table, its tables (with their column
    lists and row filters) and schemas in footers; none found is a failure, as in psql."""
    conditions, params = name_conditions(pattern, None, "pubname", None)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    try:
        _, _, found = fetch(
            shell,
            "SELECT oid, pubname, pg_catalog.pg_get_userbyid(pubowner) AS owner, puballtables, pubinsert, pubupdate, pubdelete,"
            f" pubtruncate, pubviaroot FROM pg_catalog.pg_publication{where} ORDER BY 2",
            params,
        )
        if not found:
            not_found(shell, "publication", pattern)
            shell.last_failed = True
            return True
        for oid, name, *flags in found:
            footers = [] if flags[1] == "t" else _publication_tables(shell, str(oid)) + _publication_schemas(shell, str(oid))
            headers = ["Owner", "All tables", "Inserts", "Updates", "Deletes", "Truncates", "Via root"]
            print_listing(shell, f"Publication {name}", headers, [tuple(flags)], footers=footers)
    except psycopg.Error as exc:
        report(shell, exc)
    return True


def _publication_tables(shell: Shell, oid: str) -> list[str]:
    _, _, rows = fetch(
        shell,
        "SELECT n.nspname, c.relname, pg_catalog.pg_get_expr(pr.prqual, c.oid), CASE WHEN pr.prattrs IS NOT NULL THEN"
        " pg_catalog.array_to_string(ARRAY(SELECT attname FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,"
        " pg_catalog.pg_attribute WHERE attrelid = c.oid AND attnum = prattrs[s]), ', ') END"
        " FROM pg_catalog.pg_class c, pg_catalog.pg_namespace n, pg_catalog.pg_publication_rel pr"
        " WHERE c.relnamespace = n.oid AND c.oid = pr.prrelid AND pr.prpubid = %s ORDER BY 1, 2",
        [oid],
    )
    lines = [f'    "{schema}.{table}"' + (f" ({columns})" if columns is not None else "") + (f" WHERE {where}" if where is not None else "") for schema, table, where, columns in rows]
    return ["Tables:", *lines] if lines else []


def _publication_schemas(shell: Shell, oid: str) -> list[str]:
    _, _, rows = fetch(
        shell,
        "SELECT n.nspname FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_publication_namespace pn ON n.oid = pn.pnnspid WHERE pn.pnpubid = %s ORDER BY 1",
        [oid],
    )
    return ["Tables from schemas:", *(f'    "{row[0]}"' for row in rows)] if rows else []


def describe_text_search(shell: Shell, name: str, pattern: str | None) -> bool:
    """`\\dF+` and `\\dFp+ [PATTERN]`: each configuration's token-to-dictionary map under a
    title naming its parser, or each parser's methods and then its token types."""
    parser = name.startswith("\\dFp")
    noun = "text search parser" if parser else "text search configuration"
    if parser:
        sql = "SELECT p.oid, n.nspname, p.prsname FROM pg_catalog.pg_ts_parser p LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace"
        conditions, params = name_conditions(pattern, "n.nspname", "p.prsname", "pg_catalog.pg_ts_parser_is_visible(p.oid)", database=shell.conn.info.dbname)
        order = "1, 2"
    else:
        sql = (
            "SELECT c.oid, n.nspname, c.cfgname, np.nspname, p.prsname FROM pg_catalog.pg_ts_config c"
            " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace, pg_catalog.pg_ts_parser p"
            " LEFT JOIN pg_catalog.pg_namespace np ON np.oid = p.prsnamespace"
        )
        conditions, params = name_conditions(pattern, "n.nspname", "c.cfgname", "pg_catalog.pg_ts_config_is_visible(c.oid)", database=shell.conn.info.dbname)
        conditions.insert(0, "p.oid = c.cfgparser")
        order = "2, 3"
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    try:
        _, _, found = fetch(shell, f"{sql}{where} ORDER BY {order}", params)
        if not found:
            not_found(shell, noun, pattern)
            shell.last_failed = True
            return True
        for row in found:
            (_parser_tables if parser else _configuration_table)(shell, *[str(value) for value in row])
    except psycopg.Error as exc:
        report(shell, exc)
    return True


def _configuration_table(shell: Shell, oid: str, schema: str, name: str, parser_schema: str, parser: str) -> None:
    headers, numeric, rows = fetch(
        shell,
        'SELECT (SELECT t.alias FROM pg_catalog.ts_token_type(c.cfgparser) AS t WHERE t.tokid = m.maptokentype) AS "Token",'
        " pg_catalog.btrim(ARRAY(SELECT mm.mapdict::pg_catalog.regdictionary FROM pg_catalog.pg_ts_config_map AS mm"
        " WHERE mm.mapcfg = m.mapcfg AND mm.maptokentype = m.maptokentype ORDER BY mapcfg, maptokentype, mapseqno)::pg_catalog.text, '{}') AS \"Dictionaries\""
        " FROM pg_catalog.pg_ts_config AS c, pg_catalog.pg_ts_config_map AS m WHERE c.oid = %s AND m.mapcfg = c.oid"
        " GROUP BY m.mapcfg, m.maptokentype, c.cfgparser ORDER BY 1",
        [oid],
    )
    title = f'Text search configuration "{schema}.{name}"\nParser: "{parser_schema}.{parser}"'
    print_listing(shell, title, headers, rows, numeric=numeric, row_count=False)


def _parser_tables(shell: Shell, oid: str, schema: str, name: str) -> None:
    methods = " UNION ALL ".join(
        f"SELECT '{label}', p.{column}::pg_catalog.regproc, pg_catalog.obj_description(p.{column}, 'pg_proc') FROM pg_catalog.pg_ts_parser p WHERE p.oid = %s"
        for label, column in (("Start parse", "prsstart"), ("Get next token", "prstoken"), ("End parse", "prsend"), ("Get headline", "prsheadline"), ("Get token types", "prslextype"))
    )
    _, _, rows = fetch(shell, methods, [oid] * 5)
    print_listing(shell, f'Text search parser "{schema}.{name}"', ["Method", "Function", "Description"], rows, row_count=False)
    headers, numeric, rows = fetch(
        shell, 'SELECT t.alias as "Token name", t.description as "Description" FROM pg_catalog.ts_token_type(%s::pg_catalog.oid) as t ORDER BY 1', [oid]
    )
    print_listing(shell, f'Token types for parser "{schema}.{name}"', headers, rows, numeric=numeric, count_always=True)


def handler_for(name: str) -> Handler | None:
    """The function for a `\\d`-family command this module answers, or None (an invalid
    `\\d` name, or not ours). The name is read as psql reads it (describe_names: `\\dtx` is
    `\\dt`). A pattern psql refuses (PatternError) is its one error line, and the command fails."""
    if name in ("\\sv", "\\sv+", "\\sf", "\\sf+"):  # the rest of the line as typed: psql interpolates no variables there
        return lambda shell, argument: (show_view if name.startswith("\\sv") else show_function)(shell, name, argument)
    try:
        command = canonical(name) if name.startswith("\\d") else name
    except BadFunctionOptions as exc:  # psql reports it and carries on: not a failure
        message = str(exc)
        return lambda shell, argument: _say(shell, message)
    handler = _handler(command) if command is not None else None
    if handler is None:
        return None

    def guarded(shell: Shell, argument: str) -> bool:
        failed_before, shell.last_failed = shell.last_failed, False
        # :x, :'x', :"x" and `cmd` as psql reads them, in the words the command reads
        read = _words_read(command)
        argument = _read_words_without_semicolons(argument, shell.variables, read)
        words = meta_arguments(argument, shell.variables, evaluated=read)
        broken = unterminated(argument)  # the last word is absent, after psql's error
        if broken:
            words.pop()
        if broken and (read is None or len(words) < read):  # the command read it: the error comes first
            shell.meta_error("unterminated quoted string")
            broken = False
        try:
            handler(shell, words)
        except PatternError as exc:
            shell.meta_error(str(exc))
            shell.last_failed = True
        if not shell.last_failed:  # after a failure psql drops the rest of the line silently
            _warn_extra(shell, name, command, words)
            if broken:
                shell.meta_error("unterminated quoted string")
        shell.last_failed = shell.last_failed or failed_before
        return True

    return guarded


def _say(shell: Shell, text: str) -> bool:
    shell.meta_error(text)
    return True


def _read_words_without_semicolons(argument: str, variables: dict[str, str], read: int | None) -> str:
    """The argument with the `;`s that end the words the command reads dropped (`\\d t1;`),
    as psql reads those words; the words it only warns about keep theirs (`extra argument
    "foo;" ignored`)."""
    ends = [end for _, end in itertools.islice(meta_words(argument, variables, read), read)]
    cut = ends[-1] if read is not None and len(ends) == read else len(argument)
    return drop_word_semicolons(argument[:cut]) + argument[cut:]


def _words_read(command: str) -> int | None:
    """How many words a command reads: \\df and \\do all (a pattern, then argument types),
    \\drds and \\dA[cfop] two patterns, the others one; None: all."""
    if FUNCTION_COMMAND.match(command) or OPERATOR_COMMAND.match(command):
        return None
    return 2 if takes_two_patterns(command) else 1


def _warn_extra(shell: Shell, name: str, command: str, words: list[str]) -> None:
    """psql's warning for each word after those the command reads: the command has run, the
    words were ignored. The warning names the command as typed."""
    read = _words_read(command)
    for word in words[read:] if read is not None else []:
        shell.meta_warning(f'{name}: extra argument "{word}" ignored')


def _handler(name: str) -> WordsHandler | None:
    if RELATION_COMMAND.match(name):
        from nl2sql_shell.repl.describe_object import describe_relations

        def relations(shell: Shell, words: list[str]) -> bool:
            pattern = pattern_of(words)
            if pattern is not None and RELATION_COMMAND.match(name)["letters"] == "":  # type: ignore[index]
                return describe_relations(shell, name, pattern)
            return list_relations(shell, name, pattern)

        return relations
    listers = (
        (re.compile(r"\\l(ist)?\+?$"), list_databases),
        (ROLE_COMMAND, list_roles),
        (re.compile(r"\\dc[S+]*$"), list_conversions),
        (PARTITIONED_COMMAND, list_partitioned),
        (re.compile(r"\\dd[S+]*$"), list_descriptions),
    )
    if OPERATOR_FAMILY_COMMAND.match(name):
        return lambda shell, words: list_operator_families(shell, name, words)
    if FUNCTION_COMMAND.match(name):
        return lambda shell, words: list_functions(shell, name, *words)
    if OPERATOR_COMMAND.match(name):
        from nl2sql_shell.repl.psql_only import list_operators

        return lambda shell, words: list_operators(shell, name, *words)
    for command, lister in listers:
        if command.match(name):
            return lambda shell, words, lister=lister: lister(shell, name, pattern_of(words))
    from nl2sql_shell.repl import catalog_lists

    simple = catalog_lists.handler_for(name)
    if simple is not None:
        return lambda shell, words: simple(shell, pattern_of(words))
    if name in ("\\dx+", "\\dxS+", "\\dx+S"):
        return lambda shell, words: list_extension_objects(shell, pattern_of(words))
    if re.match(r"\\dRp[S+]*$", name):  # without + a listing of catalog_lists
        return lambda shell, words: describe_publications(shell, pattern_of(words))
    if re.match(r"\\dF(p[S+]*|\+)$", name):
        return lambda shell, words: describe_text_search(shell, name, pattern_of(words))
    if re.match(r"\\drds[S+]*$", name):
        return lambda shell, words: list_role_settings(shell, words)
    return None
