"""psql 15's simpler catalog listings (`\\dn`, `\\dT`, `\\dD`, `\\da`, `\\dA`, `\\dL`, `\\dC`, `\\dconfig`,
`\\dy`, `\\dO`, `\\db`, `\\dl`, `\\dx`), each one query shaped the same way: columns (some only
with +), a catalog, fixed conditions, system objects hidden without S or a pattern, a name
pattern. The queries are the ones `psql -E` shows; a table of them replaces pgspecial, which
lacks most of these and words the others differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nl2sql_shell.repl.describe import name_conditions
from nl2sql_shell.repl.listing import run_listing
from nl2sql_shell.repl.shell import Shell

PLAIN, VERBOSE, ALWAYS = "plain", "verbose", "always"
_USER = ("n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'")
_ACL = "pg_catalog.array_to_string({}, E'\\n') AS \"Access privileges\""


@dataclass(frozen=True)
class Listing:
    title: str
    columns: tuple[tuple[str, str], ...]  # (expression AS "Header", PLAIN | VERBOSE | ALWAYS)
    source: str  # FROM ...
    order: str
    fixed: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()  # without S and without a pattern
    hidden_without_s: tuple[str, ...] = ()  # without S, pattern or not
    schema: str | None = None  # the pattern's schema column
    names: tuple[str, ...] = ()  # the pattern's name columns (any may match)
    visible: str | None = None  # the search_path rule when the pattern names no schema
    unfiltered: tuple[str, ...] = ()  # conditions when there is no pattern at all (\\dconfig)
    unfiltered_title: str | None = None  # the title then
    version_columns: Callable[[int], dict[str, str]] | None = None  # renamed columns by server version


def _collation_locale(version: int) -> dict[str, str]:
    """colliculocale was renamed colllocale in PostgreSQL 17."""
    return {"c.colliculocale": "c.colllocale"} if version >= 170000 else {}


LISTINGS: dict[str, Listing] = {
    "dn": Listing(
        "List of schemas",
        (
            ('n.nspname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"', ALWAYS),
            (_ACL.format("n.nspacl"), VERBOSE),
            ("pg_catalog.obj_description(n.oid, 'pg_namespace') AS \"Description\"", VERBOSE),
        ),
        "pg_catalog.pg_namespace n",
        "1",
        hidden=("n.nspname !~ '^pg_'", "n.nspname <> 'information_schema'"),
        names=("n.nspname",),
    ),
    "dT": Listing(
        "List of data types",
        (
            ('n.nspname as "Schema"', ALWAYS),
            ('pg_catalog.format_type(t.oid, NULL) AS "Name"', ALWAYS),
            ('t.typname AS "Internal name"', VERBOSE),
            (
                "CASE WHEN t.typrelid != 0 THEN CAST('tuple' AS pg_catalog.text) WHEN t.typlen < 0 THEN CAST('var' AS pg_catalog.text)"
                ' ELSE CAST(t.typlen AS pg_catalog.text) END AS "Size"',
                VERBOSE,
            ),
            (
                "pg_catalog.array_to_string(ARRAY(SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid"
                " ORDER BY e.enumsortorder), E'\\n') AS \"Elements\"",
                VERBOSE,
            ),
            ('pg_catalog.pg_get_userbyid(t.typowner) AS "Owner"', VERBOSE),
            (_ACL.format("t.typacl"), VERBOSE),
            ("pg_catalog.obj_description(t.oid, 'pg_type') as \"Description\"", ALWAYS),
        ),
        "pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace",
        "1, 2",
        fixed=(
            "(t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))",
            "NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)",
        ),
        hidden=_USER,
        schema="n.nspname",
        names=("t.typname", "pg_catalog.format_type(t.oid, NULL)"),
        visible="pg_catalog.pg_type_is_visible(t.oid)",
    ),
    "da": Listing(
        "List of aggregate functions",
        (
            ('n.nspname as "Schema"', ALWAYS),
            ('p.proname AS "Name"', ALWAYS),
            ('pg_catalog.format_type(p.prorettype, NULL) AS "Result data type"', ALWAYS),
            ("CASE WHEN p.pronargs = 0 THEN CAST('*' AS pg_catalog.text) ELSE pg_catalog.pg_get_function_arguments(p.oid) END AS \"Argument data types\"", ALWAYS),
            ("pg_catalog.obj_description(p.oid, 'pg_proc') as \"Description\"", ALWAYS),
        ),
        "pg_catalog.pg_proc p LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace",
        "1, 2, 4",
        fixed=("p.prokind = 'a'",),
        hidden=_USER,
        schema="n.nspname",
        names=("p.proname",),
        visible="pg_catalog.pg_function_is_visible(p.oid)",
    ),
    "dD": Listing(
        "List of domains",
        (
            ('n.nspname as "Schema"', ALWAYS),
            ('t.typname as "Name"', ALWAYS),
            ('pg_catalog.format_type(t.typbasetype, t.typtypmod) as "Type"', ALWAYS),
            (
                "(SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type bt WHERE c.oid = t.typcollation"
                ' AND bt.oid = t.typbasetype AND t.typcollation <> bt.typcollation) as "Collation"',
                ALWAYS,
            ),
            ("CASE WHEN t.typnotnull THEN 'not null' END as \"Nullable\"", ALWAYS),
            ('t.typdefault as "Default"', ALWAYS),
            (
                "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.pg_get_constraintdef(r.oid, true) FROM pg_catalog.pg_constraint r"
                " WHERE t.oid = r.contypid), ' ') as \"Check\"",
                ALWAYS,
            ),
            (_ACL.format("t.typacl"), VERBOSE),
            ('d.description as "Description"', VERBOSE),
        ),
        "pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
        " LEFT JOIN pg_catalog.pg_description d ON d.classoid = t.tableoid AND d.objoid = t.oid AND d.objsubid = 0",
        "1, 2",
        fixed=("t.typtype = 'd'",),
        hidden=_USER,
        schema="n.nspname",
        names=("t.typname",),
        visible="pg_catalog.pg_type_is_visible(t.oid)",
    ),
    "dA": Listing(
        "List of access methods",
        (
            ('amname AS "Name"', ALWAYS),
            ("CASE amtype WHEN 'i' THEN 'Index' WHEN 't' THEN 'Table' END AS \"Type\"", ALWAYS),
            ('amhandler AS "Handler"', VERBOSE),
            ("pg_catalog.obj_description(oid, 'pg_am') AS \"Description\"", VERBOSE),
        ),
        "pg_catalog.pg_am",
        "1",
        names=("amname",),
    ),
    "dL": Listing(
        "List of languages",
        (
            ('l.lanname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(l.lanowner) as "Owner"', ALWAYS),
            ('l.lanpltrusted AS "Trusted"', ALWAYS),
            ('NOT l.lanispl AS "Internal language"', VERBOSE),
            ('l.lanplcallfoid::pg_catalog.regprocedure AS "Call handler"', VERBOSE),
            ('l.lanvalidator::pg_catalog.regprocedure AS "Validator"', VERBOSE),
            ('l.laninline::pg_catalog.regprocedure AS "Inline handler"', VERBOSE),
            (_ACL.format("l.lanacl"), VERBOSE),
            ('d.description AS "Description"', ALWAYS),
        ),
        "pg_catalog.pg_language l LEFT JOIN pg_catalog.pg_description d ON d.classoid = l.tableoid AND d.objoid = l.oid AND d.objsubid = 0",
        "1",
        hidden_without_s=("l.lanplcallfoid != 0",),
        names=("l.lanname",),
    ),
    "dC": Listing(
        "List of casts",
        (
            ('pg_catalog.format_type(castsource, NULL) AS "Source type"', ALWAYS),
            ('pg_catalog.format_type(casttarget, NULL) AS "Target type"', ALWAYS),
            ("CASE WHEN c.castmethod = 'b' THEN '(binary coercible)' WHEN c.castmethod = 'i' THEN '(with inout)' ELSE p.proname END AS \"Function\"", ALWAYS),
            ("CASE WHEN c.castcontext = 'e' THEN 'no' WHEN c.castcontext = 'a' THEN 'in assignment' ELSE 'yes' END AS \"Implicit?\"", ALWAYS),
            ('d.description AS "Description"', VERBOSE),
        ),
        "pg_catalog.pg_cast c LEFT JOIN pg_catalog.pg_proc p ON c.castfunc = p.oid"
        " LEFT JOIN pg_catalog.pg_type ts ON c.castsource = ts.oid LEFT JOIN pg_catalog.pg_namespace ns ON ns.oid = ts.typnamespace"
        " LEFT JOIN pg_catalog.pg_type tt ON c.casttarget = tt.oid LEFT JOIN pg_catalog.pg_namespace nt ON nt.oid = tt.typnamespace"
        " LEFT JOIN pg_catalog.pg_description d ON d.classoid = c.tableoid AND d.objoid = c.oid AND d.objsubid = 0",
        "1, 2",
        unfiltered=("(pg_catalog.pg_type_is_visible(ts.oid) OR pg_catalog.pg_type_is_visible(tt.oid))",),
    ),
    "dconfig": Listing(
        "List of configuration parameters",
        (
            ('s.name AS "Parameter"', ALWAYS),
            ('pg_catalog.current_setting(s.name) AS "Value"', ALWAYS),
            ('s.vartype AS "Type"', VERBOSE),
            ('s.context AS "Context"', VERBOSE),
            (_ACL.format("p.paracl"), VERBOSE),
        ),
        "pg_catalog.pg_settings s LEFT JOIN pg_catalog.pg_parameter_acl p ON pg_catalog.lower(s.name) = p.parname",
        "1",
        names=("pg_catalog.lower(s.name)",),
        unfiltered=("s.source <> 'default'", "s.setting IS DISTINCT FROM s.boot_val"),
        unfiltered_title="List of non-default configuration parameters",
    ),
    "dy": Listing(
        "List of event triggers",
        (
            ('evtname as "Name"', ALWAYS),
            ('evtevent as "Event"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(e.evtowner) as "Owner"', ALWAYS),
            ("case evtenabled when 'O' then 'enabled' when 'R' then 'replica' when 'A' then 'always' when 'D' then 'disabled' end as \"Enabled\"", ALWAYS),
            ('e.evtfoid::pg_catalog.regproc as "Function"', ALWAYS),
            ("pg_catalog.array_to_string(array(select x from pg_catalog.unnest(evttags) as t(x)), ', ') as \"Tags\"", ALWAYS),
            ("pg_catalog.obj_description(e.oid, 'pg_event_trigger') as \"Description\"", VERBOSE),
        ),
        "pg_catalog.pg_event_trigger e",
        "1",
        names=("evtname",),
    ),
    "dO": Listing(
        "List of collations",
        (
            ('n.nspname AS "Schema"', ALWAYS),
            ('c.collname AS "Name"', ALWAYS),
            ('c.collcollate AS "Collate"', ALWAYS),
            ('c.collctype AS "Ctype"', ALWAYS),
            ('c.colliculocale AS "ICU Locale"', ALWAYS),
            ("CASE c.collprovider WHEN 'd' THEN 'default' WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Provider\"", ALWAYS),
            ("CASE WHEN c.collisdeterministic THEN 'yes' ELSE 'no' END AS \"Deterministic?\"", ALWAYS),
            ("pg_catalog.obj_description(c.oid, 'pg_collation') AS \"Description\"", VERBOSE),
        ),
        "pg_catalog.pg_collation c, pg_catalog.pg_namespace n",
        "1, 2",
        fixed=("n.oid = c.collnamespace", "c.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))"),
        hidden=_USER,
        schema="n.nspname",
        names=("c.collname",),
        visible="pg_catalog.pg_collation_is_visible(c.oid)",
        version_columns=_collation_locale,
    ),
    "db": Listing(
        "List of tablespaces",
        (
            ('spcname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(spcowner) AS "Owner"', ALWAYS),
            ('pg_catalog.pg_tablespace_location(oid) AS "Location"', ALWAYS),
            (_ACL.format("spcacl"), VERBOSE),
            ('spcoptions AS "Options"', VERBOSE),
            ('pg_catalog.pg_size_pretty(pg_catalog.pg_tablespace_size(oid)) AS "Size"', VERBOSE),
            ("pg_catalog.shobj_description(oid, 'pg_tablespace') AS \"Description\"", VERBOSE),
        ),
        "pg_catalog.pg_tablespace",
        "1",
        names=("spcname",),
    ),
    "dl": Listing(
        "Large objects",
        (
            ('oid as "ID"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(lomowner) as "Owner"', ALWAYS),
            (_ACL.format("lomacl"), VERBOSE),
            ("pg_catalog.obj_description(oid, 'pg_largeobject') as \"Description\"", ALWAYS),
        ),
        "pg_catalog.pg_largeobject_metadata",
        "oid",
    ),
    "dx": Listing(
        "List of installed extensions",
        (
            ('e.extname AS "Name"', ALWAYS),
            ('e.extversion AS "Version"', ALWAYS),
            ('n.nspname AS "Schema"', ALWAYS),
            ('c.description AS "Description"', ALWAYS),
        ),
        "pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
        " LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass",
        "1",
        names=("e.extname",),
    ),
}
_ALIASES = {"lo_list": "dl"}
# \\dx+ lists each extension's objects: not a table of this shape (describe.list_extension_objects).
COMMAND = re.compile(r"\\(?P<name>dn|dT|dD|da|dA|dL|dC|dconfig|dy|dO|db|dl|dx|lo_list)(?P<flags>[S+]*)$")


def handler_for(command: str) -> Callable[[Shell, str | None], bool] | None:
    """The listing for a command such as `\\dnS+`, or None."""
    match = COMMAND.match(command)
    if match is None or (match["name"] == "dx" and "+" in match["flags"]):
        return None
    listing = LISTINGS[_ALIASES.get(match["name"], match["name"])]
    system, verbose = "S" in match["flags"], "+" in match["flags"]
    return lambda shell, pattern: show(shell, listing, pattern, system=system, verbose=verbose)


def show(shell: Shell, listing: Listing, pattern: str | None, *, system: bool, verbose: bool) -> bool:
    columns = [expression for expression, when in listing.columns if when == ALWAYS or (when == VERBOSE) == verbose]
    renames = listing.version_columns(shell.conn.info.server_version) if listing.version_columns else {}
    for old, new in renames.items():
        columns = [column.replace(old, new) for column in columns]
    conditions = list(listing.fixed)
    if not system and pattern is None:
        conditions += listing.hidden
    if not system:
        conditions += listing.hidden_without_s
    params: list[str] = []
    if pattern is None:
        conditions += listing.unfiltered
        if listing.visible:
            conditions.append(listing.visible)
    elif listing.names:
        more, params = name_conditions(pattern, listing.schema, listing.names, listing.visible)
        conditions += more
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    title = listing.unfiltered_title if pattern is None and listing.unfiltered_title else listing.title
    run_listing(shell, title, f"SELECT {', '.join(columns)} FROM {listing.source}{where} ORDER BY {listing.order}", params)
    return True
