"""psql 15's simpler catalog listings (`\\dn`, `\\dT`, `\\dD`, `\\da`, `\\dA`, `\\dL`, `\\dC`, `\\dconfig`,
`\\dy`, `\\dO`, `\\db`, `\\dl`, `\\dx`, `\\dp`/`\\z`, `\\ddp`, `\\dX`, `\\des`, `\\det`, `\\dew`, `\\deu`,
`\\dF`, `\\dFd`, `\\dFp`, `\\dFt`, `\\dRp`, `\\dRs`), each one query shaped the same way: columns
(some only with +), a catalog, fixed conditions, system objects hidden without S or a
pattern, a name pattern. The queries are the ones `psql -E` shows; a table of them replaces pgspecial, which
lacks most of these and words the others differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from nl2sql_shell.repl.describe import name_conditions, type_pattern
from nl2sql_shell.repl.listing import fetch, print_listing, report
from nl2sql_shell.repl.shell import Shell

PLAIN, VERBOSE, ALWAYS = "plain", "verbose", "always"
_USER = ("n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'")
_ACL = "pg_catalog.array_to_string({}, E'\\n') AS \"Access privileges\""
# psql's "FDW options" cell: (name 'value', ...) from an options array, '' when there is none.
_OPTIONS = (
    "CASE WHEN {0} IS NULL THEN '' ELSE '(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' ||"
    " pg_catalog.quote_literal(option_value) FROM pg_catalog.pg_options_to_table({0})), ', ') || ')' END AS \"FDW options\""
)


@dataclass(frozen=True)
class Listing:
    title: str
    columns: tuple[tuple[str, str], ...]  # (expression AS "Header", PLAIN | VERBOSE | ALWAYS)
    source: str  # FROM ...
    order: str
    fixed: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()  # without S and without a pattern
    schema: str | None = None  # the pattern's schema column
    names: tuple[str, ...] = ()  # the pattern's name columns (any may match)
    visible: str | None = None  # the search_path rule when the pattern names no schema
    unfiltered: tuple[str, ...] = ()  # conditions when there is no pattern at all (\\dconfig)
    unfiltered_title: str | None = None  # the title then
    parts: int | None = None  # dotted names the pattern may have, when not name_conditions' default
    unless_array: tuple[str, ...] = ()  # conditions left out when the pattern names an array type ("[]")
    type_names: bool = False  # the pattern is a type name psql spells its own way (type_pattern)
    sides: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # (schema, names, visible): the pattern may match either (\\dC)
    footers: Callable[[Shell, str], list[str]] | None = None  # footer lines for a pattern (\\dn's publications)
    version_columns: Callable[[int], dict[str, str]] | None = None  # renamed columns by server version


def _schema_publications(shell: Shell, pattern: str) -> list[str]:
    """psql 15 lists the publications of the schema named exactly as the pattern was typed."""
    _, _, rows = fetch(
        shell,
        "SELECT pubname FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid"
        " JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE n.nspname = %s ORDER BY 1",
        [pattern],
    )
    return ["Publications:", *(f'    "{row[0]}"' for row in rows)] if rows else []


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
        parts=2,
        footers=_schema_publications,
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
        ),
        unless_array=("NOT EXISTS(SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid)",),
        hidden=_USER,
        schema="n.nspname",
        names=("t.typname", "pg_catalog.format_type(t.oid, NULL)"),
        visible="pg_catalog.pg_type_is_visible(t.oid)",
        type_names=True,
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
        hidden=("l.lanplcallfoid != 0",),
        names=("l.lanname",),
        parts=2,
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
        sides=(
            ("ns.nspname", ("ts.typname", "pg_catalog.format_type(ts.oid, NULL)"), "pg_catalog.pg_type_is_visible(ts.oid)"),
            ("nt.nspname", ("tt.typname", "pg_catalog.format_type(tt.oid, NULL)"), "pg_catalog.pg_type_is_visible(tt.oid)"),
        ),
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
        parts=0,
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
    "dp": Listing(
        "Access privileges",
        (
            ('n.nspname as "Schema"', ALWAYS),
            ('c.relname as "Name"', ALWAYS),
            (
                "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'"
                " WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' END as \"Type\"",
                ALWAYS,
            ),
            (_ACL.format("c.relacl"), ALWAYS),
            (
                "pg_catalog.array_to_string(ARRAY(SELECT attname || E':\\n  ' || pg_catalog.array_to_string(attacl, E'\\n  ')"
                " FROM pg_catalog.pg_attribute a WHERE attrelid = c.oid AND NOT attisdropped AND attacl IS NOT NULL), E'\\n') AS \"Column privileges\"",
                ALWAYS,
            ),
            (
                "pg_catalog.array_to_string(ARRAY(SELECT polname || CASE WHEN NOT polpermissive THEN E' (RESTRICTIVE)' ELSE '' END"
                " || CASE WHEN polcmd != '*' THEN E' (' || polcmd::pg_catalog.text || E'):' ELSE E':' END"
                " || CASE WHEN polqual IS NOT NULL THEN E'\\n  (u): ' || pg_catalog.pg_get_expr(polqual, polrelid) ELSE E'' END"
                " || CASE WHEN polwithcheck IS NOT NULL THEN E'\\n  (c): ' || pg_catalog.pg_get_expr(polwithcheck, polrelid) ELSE E'' END"
                " || CASE WHEN polroles <> '{0}' THEN E'\\n  to: ' || pg_catalog.array_to_string(ARRAY(SELECT rolname FROM pg_catalog.pg_roles"
                " WHERE oid = ANY (polroles) ORDER BY 1), E', ') ELSE E'' END"
                " FROM pg_catalog.pg_policy pol WHERE polrelid = c.oid), E'\\n') AS \"Policies\"",
                ALWAYS,
            ),
        ),
        "pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
        "1, 2",
        fixed=("c.relkind IN ('r','v','m','S','f','p')",),
        schema="n.nspname",
        names=("c.relname",),
        visible="n.nspname !~ '^pg_' AND pg_catalog.pg_table_is_visible(c.oid)",
    ),
    "ddp": Listing(
        "Default access privileges",
        (
            ('pg_catalog.pg_get_userbyid(d.defaclrole) AS "Owner"', ALWAYS),
            ('n.nspname AS "Schema"', ALWAYS),
            (
                "CASE d.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'function' WHEN 'T' THEN 'type'"
                " WHEN 'n' THEN 'schema' END AS \"Type\"",
                ALWAYS,
            ),
            (_ACL.format("d.defaclacl"), ALWAYS),
        ),
        "pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace",
        "1, 2, 3",
        names=("n.nspname", "pg_catalog.pg_get_userbyid(d.defaclrole)"),
        parts=3,
    ),
    "dX": Listing(
        "List of extended statistics",
        (
            ('es.stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS "Schema"', ALWAYS),
            ('es.stxname AS "Name"', ALWAYS),
            ("pg_catalog.format('%%s FROM %%s', pg_catalog.pg_get_statisticsobjdef_columns(es.oid), es.stxrelid::pg_catalog.regclass) AS \"Definition\"", ALWAYS),
            ("CASE WHEN 'd' = any(es.stxkind) THEN 'defined' END AS \"Ndistinct\"", ALWAYS),
            ("CASE WHEN 'f' = any(es.stxkind) THEN 'defined' END AS \"Dependencies\"", ALWAYS),
            ("CASE WHEN 'm' = any(es.stxkind) THEN 'defined' END AS \"MCV\"", ALWAYS),
        ),
        "pg_catalog.pg_statistic_ext es",
        "1, 2",
        schema="es.stxnamespace::pg_catalog.regnamespace::pg_catalog.text",
        names=("es.stxname",),
        visible="pg_catalog.pg_statistics_obj_is_visible(es.oid)",
    ),
    "des": Listing(
        "List of foreign servers",
        (
            ('s.srvname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(s.srvowner) AS "Owner"', ALWAYS),
            ('f.fdwname AS "Foreign-data wrapper"', ALWAYS),
            (_ACL.format("s.srvacl"), VERBOSE),
            ('s.srvtype AS "Type"', VERBOSE),
            ('s.srvversion AS "Version"', VERBOSE),
            (_OPTIONS.format("srvoptions"), VERBOSE),
            ('d.description AS "Description"', VERBOSE),
        ),
        "pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper f ON f.oid=s.srvfdw"
        " LEFT JOIN pg_catalog.pg_description d ON d.classoid = s.tableoid AND d.objoid = s.oid AND d.objsubid = 0",
        "1",
        names=("s.srvname",),
    ),
    "det": Listing(
        "List of foreign tables",
        (
            ('n.nspname AS "Schema"', ALWAYS),
            ('c.relname AS "Table"', ALWAYS),
            ('s.srvname AS "Server"', ALWAYS),
            (_OPTIONS.format("ftoptions"), VERBOSE),
            ('d.description AS "Description"', VERBOSE),
        ),
        "pg_catalog.pg_foreign_table ft INNER JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid"
        " INNER JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace INNER JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver"
        " LEFT JOIN pg_catalog.pg_description d ON d.classoid = c.tableoid AND d.objoid = c.oid AND d.objsubid = 0",
        "1, 2",
        schema="n.nspname",
        names=("c.relname",),
        visible="pg_catalog.pg_table_is_visible(c.oid)",
    ),
    "dew": Listing(
        "List of foreign-data wrappers",
        (
            ('fdw.fdwname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(fdw.fdwowner) AS "Owner"', ALWAYS),
            ('fdw.fdwhandler::pg_catalog.regproc AS "Handler"', ALWAYS),
            ('fdw.fdwvalidator::pg_catalog.regproc AS "Validator"', ALWAYS),
            (_ACL.format("fdwacl"), VERBOSE),
            (_OPTIONS.format("fdwoptions"), VERBOSE),
            ('d.description AS "Description"', VERBOSE),
        ),
        "pg_catalog.pg_foreign_data_wrapper fdw"
        " LEFT JOIN pg_catalog.pg_description d ON d.classoid = fdw.tableoid AND d.objoid = fdw.oid AND d.objsubid = 0",
        "1",
        names=("fdwname",),
    ),
    "deu": Listing(
        "List of user mappings",
        (('um.srvname AS "Server"', ALWAYS), ('um.usename AS "User name"', ALWAYS), (_OPTIONS.format("umoptions"), VERBOSE)),
        "pg_catalog.pg_user_mappings um",
        "1, 2",
        names=("um.srvname", "um.usename"),
    ),
    "dF": Listing(
        "List of text search configurations",
        (('n.nspname as "Schema"', ALWAYS), ('c.cfgname as "Name"', ALWAYS), ("pg_catalog.obj_description(c.oid, 'pg_ts_config') as \"Description\"", ALWAYS)),
        "pg_catalog.pg_ts_config c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace",
        "1, 2",
        schema="n.nspname",
        names=("c.cfgname",),
        visible="pg_catalog.pg_ts_config_is_visible(c.oid)",
    ),
    "dFd": Listing(
        "List of text search dictionaries",
        (
            ('n.nspname as "Schema"', ALWAYS),
            ('d.dictname as "Name"', ALWAYS),
            (
                "(SELECT COALESCE(nt.nspname, '(null)')::pg_catalog.text || '.' || t.tmplname FROM pg_catalog.pg_ts_template t"
                " LEFT JOIN pg_catalog.pg_namespace nt ON nt.oid = t.tmplnamespace WHERE d.dicttemplate = t.oid) AS \"Template\"",
                VERBOSE,
            ),
            ('d.dictinitoption as "Init options"', VERBOSE),
            ("pg_catalog.obj_description(d.oid, 'pg_ts_dict') as \"Description\"", ALWAYS),
        ),
        "pg_catalog.pg_ts_dict d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace",
        "1, 2",
        schema="n.nspname",
        names=("d.dictname",),
        visible="pg_catalog.pg_ts_dict_is_visible(d.oid)",
    ),
    "dFp": Listing(
        "List of text search parsers",
        (('n.nspname as "Schema"', ALWAYS), ('p.prsname as "Name"', ALWAYS), ("pg_catalog.obj_description(p.oid, 'pg_ts_parser') as \"Description\"", ALWAYS)),
        "pg_catalog.pg_ts_parser p LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace",
        "1, 2",
        schema="n.nspname",
        names=("p.prsname",),
        visible="pg_catalog.pg_ts_parser_is_visible(p.oid)",
    ),
    "dFt": Listing(
        "List of text search templates",
        (
            ('n.nspname AS "Schema"', ALWAYS),
            ('t.tmplname AS "Name"', ALWAYS),
            ('t.tmplinit::pg_catalog.regproc AS "Init"', VERBOSE),
            ('t.tmpllexize::pg_catalog.regproc AS "Lexize"', VERBOSE),
            ("pg_catalog.obj_description(t.oid, 'pg_ts_template') AS \"Description\"", ALWAYS),
        ),
        "pg_catalog.pg_ts_template t LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace",
        "1, 2",
        schema="n.nspname",
        names=("t.tmplname",),
        visible="pg_catalog.pg_ts_template_is_visible(t.oid)",
    ),
    "dRp": Listing(
        "List of publications",
        (
            ('pubname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(pubowner) AS "Owner"', ALWAYS),
            ('puballtables AS "All tables"', ALWAYS),
            ('pubinsert AS "Inserts"', ALWAYS),
            ('pubupdate AS "Updates"', ALWAYS),
            ('pubdelete AS "Deletes"', ALWAYS),
            ('pubtruncate AS "Truncates"', ALWAYS),
            ('pubviaroot AS "Via root"', ALWAYS),
        ),
        "pg_catalog.pg_publication",
        "1",
        names=("pubname",),
    ),
    "dRs": Listing(
        "List of subscriptions",
        (
            ('subname AS "Name"', ALWAYS),
            ('pg_catalog.pg_get_userbyid(subowner) AS "Owner"', ALWAYS),
            ('subenabled AS "Enabled"', ALWAYS),
            ('subpublications AS "Publication"', ALWAYS),
            ('subbinary AS "Binary"', VERBOSE),
            ('substream AS "Streaming"', VERBOSE),
            ('subtwophasestate AS "Two-phase commit"', VERBOSE),
            ('subdisableonerr AS "Disable on error"', VERBOSE),
            ('subsynccommit AS "Synchronous commit"', VERBOSE),
            ('subconninfo AS "Conninfo"', VERBOSE),
            ('subskiplsn AS "Skip LSN"', VERBOSE),
        ),
        "pg_catalog.pg_subscription",
        "1",
        fixed=("subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",),
        names=("subname",),
    ),
}
_ALIASES = {"lo_list": "dl", "z": "dp"}
# \\dx+, \\dRp+ and \\dF[p]+ show one table per object found: not a listing of this shape (describe.py).
COMMAND = re.compile(
    r"\\(?:(?P<name>dn|dT|dD|da|dA|dL|dC|dconfig|dy|dO|db|dl|dx|lo_list|dp|ddp|dX|des|det|dew|deu|dFd|dFp|dFt|dRp|dRs)(?P<flags>[S+]*)"
    r"|(?P<exact>z|dF\+?))$"
)
_DETAILED = ("dx", "dRp", "dFp")


def handler_for(command: str) -> Callable[[Shell, str | None], bool] | None:
    """The listing for a command such as `\\dnS+`, or None."""
    match = COMMAND.match(command)
    if match is None or match["exact"] == "dF+" or (match["name"] in _DETAILED and "+" in match["flags"]):
        return None
    if match["name"] == "lo_list" and match["flags"] not in ("", "+"):  # psql's \\lo_ commands take no S (\\lo_listS is no command)
        return None
    name, flags = match["name"] or match["exact"], match["flags"] or ""
    listing = LISTINGS[_ALIASES.get(name, name)]
    system, verbose = "S" in flags, "+" in flags
    return lambda shell, pattern: show(shell, listing, pattern, system=system, verbose=verbose)


def show(shell: Shell, listing: Listing, pattern: str | None, *, system: bool, verbose: bool) -> bool:
    columns = [expression for expression, when in listing.columns if when == ALWAYS or (when == VERBOSE) == verbose]
    renames = listing.version_columns(shell.conn.info.server_version) if listing.version_columns else {}
    for old, new in renames.items():
        columns = [column.replace(old, new) for column in columns]
    conditions = list(listing.fixed) + ([] if pattern and "[]" in pattern else list(listing.unless_array))
    if not system and pattern is None:
        conditions += listing.hidden
    params: list[str] = []
    pattern = type_pattern(pattern) if listing.type_names else pattern
    if listing.sides:
        sides = [name_conditions(pattern, schema, names, visible, database=shell.conn.info.dbname) for schema, names, visible in listing.sides]
        conditions.append("(" + " OR ".join("(" + " AND ".join(side or ["true"]) + ")" for side, _ in sides) + ")")
        params = [param for _, side_params in sides for param in side_params]
    elif pattern is None:
        conditions += listing.unfiltered
        if listing.visible:
            conditions.append(listing.visible)
    elif listing.names:
        more, params = name_conditions(pattern, listing.schema, listing.names, listing.visible, parts=listing.parts, database=shell.conn.info.dbname)
        conditions += more
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    title = listing.unfiltered_title if pattern is None and listing.unfiltered_title else listing.title
    try:
        headers, numeric, rows = fetch(shell, f"SELECT {', '.join(columns)} FROM {listing.source}{where} ORDER BY {listing.order}", params)
        footers = listing.footers(shell, pattern) if listing.footers and pattern is not None else []
    except psycopg.Error as exc:
        report(shell, exc)
        return True
    print_listing(shell, title, headers, rows, numeric=numeric, footers=footers)
    return True
