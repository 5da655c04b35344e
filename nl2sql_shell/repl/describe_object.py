"""`\\d[S+] NAME`: one relation described as psql 15 describes it.

pgspecial prints every relation under the same untitled "Column | Type | Modifiers" table, so a
table, a view and a partitioned table look alike. psql titles each by its kind (`Table
"public.t"`, `View "public.v"`, `Partitioned table ...`), shows Collation, Nullable and Default
columns (Storage, Compression, Stats target, Description with +), and lists what belongs to the
relation in footer lines (rules, publications, a foreign table's server and options, a TOAST
table's owner, tablespaces included). The queries are the ones `psql -E` shows for the same
command.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from nl2sql_shell.repl.describe import hides, name_conditions, not_found
from nl2sql_shell.repl.listing import Rows, fetch, print_listing, report
from nl2sql_shell.repl.shell import Shell

_KIND_TITLES = {
    "r": "Table",
    "p": "Partitioned table",
    "v": "View",
    "m": "Materialized view",
    "S": "Sequence",
    "i": "Index",
    "I": "Partitioned index",
    "f": "Foreign table",
    "c": "Composite type",
    "t": "TOAST table",
}
_STORAGE = {"p": "plain", "m": "main", "x": "extended", "e": "external"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
# Footer headings by pg_trigger.tgenabled / pg_rewrite.ev_enabled, in psql's order ("I": a
# disabled internal trigger).
_TRIGGER_GROUPS = (
    ("O", "Triggers:"), ("D", "Disabled user triggers:"), ("I", "Disabled internal triggers:"),
    ("A", "Triggers firing always:"), ("R", "Triggers firing on replica only:"),
)
_RULE_GROUPS = (("O", "Rules:"), ("D", "Disabled rules:"), ("A", "Rules firing always:"), ("R", "Rules firing on replica only:"))
_FDW_OPTIONS = (
    "CASE WHEN attfdwoptions IS NULL THEN '' ELSE '(' || pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name)"
    " || ' ' || pg_catalog.quote_literal(option_value) FROM pg_catalog.pg_options_to_table(attfdwoptions)), ', ') || ')' END"
)


@dataclass(frozen=True)
class _Relation:
    oid: str
    schema: str
    name: str
    kind: str
    checks: int
    has_index: bool
    has_triggers: bool
    is_partition: bool
    typed_as: str
    persistence: str
    replica_identity: str
    access_method: str | None
    options: str
    row_security: bool = False
    forced_row_security: bool = False
    has_rules: bool = False
    tablespace: str | None = None  # None: the database's default

    @property
    def title(self) -> str:
        kind = _KIND_TITLES.get(self.kind, "Relation")
        if self.persistence == "u":
            kind = "Unlogged " + kind[0].lower() + kind[1:]
        return f'{kind} "{self.schema}.{self.name}"'


def describe_relations(shell: Shell, name: str, pattern: str) -> bool:
    """Every relation matching ``pattern``, each as its own titled table; psql's error when
    none does (the command fails, so ON_ERROR_STOP stops there)."""
    verbose = "+" in name
    conditions, params = name_conditions(pattern, "n.nspname", "c.relname", "pg_catalog.pg_table_is_visible(c.oid)", database=shell.conn.info.dbname)
    sql = (
        "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c"
        " LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        f" {'WHERE ' + ' AND '.join(conditions) if conditions else ''} ORDER BY 2, 3"
    )
    try:
        _, _, found = fetch(shell, sql, params)
        if not found:
            not_found(shell, "relation", pattern)
            shell.last_failed = True
            return True
        for oid, _, _ in found:
            _describe_one(shell, _relation(shell, str(oid), verbose), verbose)
    except psycopg.Error as exc:
        report(shell, exc)
    return True


def _relation(shell: Shell, oid: str, verbose: bool) -> _Relation:
    options = "pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')" if verbose else "''"
    _, _, rows = fetch(
        shell,
        "SELECT n.nspname, c.relname, c.relkind, c.relchecks, c.relhasindex, c.relhastriggers, c.relispartition,"
        " CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END,"
        f" c.relpersistence, c.relreplident, am.amname, {options}, c.relrowsecurity, c.relforcerowsecurity, c.relhasrules,"
        " (SELECT spcname FROM pg_catalog.pg_tablespace WHERE oid = c.reltablespace)"
        " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)"
        " LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid) LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = %s",
        [oid],
    )
    schema, name, kind, checks, has_index, has_triggers, is_partition, typed_as, persistence, replident, am, opts, rls, forced, rules, space = rows[0]
    return _Relation(
        oid, schema or "", name or "", kind or "", int(checks or 0), has_index == "t", has_triggers == "t", is_partition == "t",
        typed_as or "", persistence or "", replident or "", am, opts or "", rls == "t", forced == "t", rules == "t", space,
    )


def _describe_one(shell: Shell, rel: _Relation, verbose: bool) -> None:
    if rel.kind == "S":
        headers, numeric, rows = fetch(
            shell,
            'SELECT pg_catalog.format_type(seqtypid, NULL) AS "Type", seqstart AS "Start", seqmin AS "Minimum", seqmax AS "Maximum",'
            " seqincrement AS \"Increment\", CASE WHEN seqcycle THEN 'yes' ELSE 'no' END AS \"Cycles?\", seqcache AS \"Cache\""
            " FROM pg_catalog.pg_sequence WHERE seqrelid = %s",
            [rel.oid],
        )
        print_listing(shell, rel.title, headers, rows, numeric=numeric, footers=_sequence_footers(shell, rel), row_count=False)  # psql honours \x for a sequence
        return
    if rel.kind in ("i", "I"):
        headers, rows = _index_columns(shell, rel, verbose)
        footers = _partitioning(shell, rel, verbose) + _index_footers(shell, rel) + (_closing_footers(shell, rel, verbose) if rel.kind == "I" else _tablespace(rel))
        footers += _options(rel, verbose)
        print_listing(shell, rel.title, headers, rows, footers=footers, row_count=False, table=True)
        return
    headers, rows = _columns(shell, rel, verbose)
    print_listing(shell, rel.title, headers, rows, footers=_footers(shell, rel, verbose), row_count=False, table=True)


def _columns(shell: Shell, rel: _Relation, verbose: bool) -> tuple[list[str], Rows]:
    """Column, Type, Collation, Nullable, Default (+ Storage, Compression, Stats target,
    Description), as psql shows them for this kind of relation."""
    _, _, found = fetch(
        shell,
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        " (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d"
        "  WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),"
        " a.attnotnull,"
        " (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t"
        "  WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation),"
        " a.attidentity, a.attgenerated, a.attstorage, a.attcompression,"
        " CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END,"
        f" pg_catalog.col_description(a.attrelid, a.attnum), {_FDW_OPTIONS}"
        " FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [rel.oid],
    )
    details, foreign = rel.kind in "rvmfcp", rel.kind == "f"
    compression = verbose and rel.kind in "rpm" and not hides(shell, "HIDE_TOAST_COMPRESSION")
    stats = verbose and rel.kind in "rmfp"
    description = verbose and rel.kind in "rvmfcp"
    headers = ["Column", "Type"] + (["Collation", "Nullable", "Default"] if details else []) + (["FDW options"] if foreign else [])
    headers += (["Storage"] if verbose else []) + (["Compression"] if compression else []) + (["Stats target"] if stats else []) + (["Description"] if description else [])
    rows: Rows = []
    for name, type_, default, notnull, collation, identity, generated, storage, compress, target, comment, options in found:
        row: list[str | None] = [name, type_]
        if details:
            row += [collation or "", "not null" if notnull == "t" else "", _default(default, identity, generated)]
        if foreign:
            row.append(options)
        if verbose:
            row.append(_STORAGE.get(storage or "", ""))
        if compression:
            row.append(_COMPRESSION.get(compress or "", ""))
        if stats:
            row.append(target)
        if description:
            row.append(comment)
        rows.append(tuple(row))
    return headers, rows


def _default(default: str | None, identity: str | None, generated: str | None) -> str:
    if identity == "a":
        return "generated always as identity"
    if identity == "d":
        return "generated by default as identity"
    if generated == "s":
        return f"generated always as ({default}) stored"
    return default or ""


def _rows(shell: Shell, rel: _Relation, sql: str) -> Rows:
    """The rows of one footer's query about ``rel`` (named %(oid)s in it, as often as needed)."""
    return fetch(shell, sql, {"oid": rel.oid})[2]


def _footers(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """What psql lists under the columns, in psql's order: partitioning, the table's own
    objects, a view's definition, triggers, then where the table sits and how it is stored."""
    footers = _partitioning(shell, rel, verbose)
    if rel.kind == "t":
        rows = _rows(shell, rel, "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE reltoastrelid = %(oid)s")
        footers += [f'Owning table: "{schema}.{name}"' for schema, name in rows]
    if rel.kind in "rmfpt":
        footers += _table_objects(shell, rel)
    if rel.kind in "vm" and verbose:
        footers += ["View definition:", str(_rows(shell, rel, "SELECT pg_catalog.pg_get_viewdef(%(oid)s::pg_catalog.oid, true)")[0][0])]  # one footer, its lines in it (psql: between footers goes the record separator)
        if rel.kind == "v" and rel.has_rules:
            rules = _rows(shell, rel, "SELECT trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true)) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = %(oid)s AND r.rulename != '_RETURN' ORDER BY r.rulename")
            footers += _group("Rules:", [f" {str(rule)[12:]}" for rule, in rules])
    if rel.has_triggers or rel.kind == "p":
        footers += _triggers(shell, rel)
    if rel.kind in "rmfpt":
        footers += _closing_footers(shell, rel, verbose)
    return footers + _options(rel, verbose)


def _options(rel: _Relation, verbose: bool) -> list[str]:
    """With +, the storage parameters (the TOAST table's prefixed toast.), last of all."""
    return [f"Options: {rel.options}"] if verbose and rel.options else []


def _partitioning(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """A partition's parent and bound (+: its constraint), a partitioned table's key."""
    footers: list[str] = []
    if rel.is_partition:
        rows = _rows(
            shell,
            rel,
            "SELECT inhparent::pg_catalog.regclass, pg_catalog.pg_get_expr(c.relpartbound, c.oid), inhdetachpending,"
            " pg_catalog.pg_get_partition_constraintdef(c.oid)"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON c.oid = inhrelid WHERE c.oid = %(oid)s",
        )
        for parent, bound, pending, constraint in rows:
            footers.append(f"Partition of: {parent} {bound or ''}{' DETACH PENDING' if pending == 't' else ''}")
            if verbose:
                footers.append(f"Partition constraint: {constraint}" if constraint else "No partition constraint")
    if rel.kind == "p":
        footers.append(f"Partition key: {_rows(shell, rel, 'SELECT pg_catalog.pg_get_partkeydef(%(oid)s::pg_catalog.oid)')[0][0]}")
    return footers


def _table_objects(shell: Shell, rel: _Relation) -> list[str]:
    """Indexes, constraints, foreign keys both ways, policies, statistics, rules, publications."""
    footers = _indexes(shell, rel) if rel.has_index else []
    if rel.checks:
        rows = _rows(shell, rel, "SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true) FROM pg_catalog.pg_constraint r WHERE r.conrelid = %(oid)s AND r.contype = 'c' ORDER BY 1")
        footers += _group("Check constraints:", [f'    "{name}" {definition}' for name, definition in rows])
    footers += _foreign_keys(shell, rel)
    rows = _rows(
        shell,
        rel,
        "SELECT conname, conrelid::pg_catalog.regclass, pg_catalog.pg_get_constraintdef(oid, true) FROM pg_catalog.pg_constraint c"
        " WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors(%(oid)s) UNION ALL VALUES (%(oid)s::pg_catalog.regclass))"
        " AND contype = 'f' AND conparentid = 0 ORDER BY conname",
    )
    footers += _group("Referenced by:", [f'    TABLE "{table}" CONSTRAINT "{name}" {definition}' for name, table, definition in rows])
    footers += _policies(shell, rel) + _statistics(shell, rel)
    if rel.has_rules and rel.kind != "m":
        rows = _rows(shell, rel, "SELECT trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true)), ev_enabled FROM pg_catalog.pg_rewrite r WHERE r.ev_class = %(oid)s ORDER BY r.rulename")
        footers += _by_state([(state, f"    {str(rule)[12:]}") for rule, state in rows], _RULE_GROUPS)
    return footers + _publications(shell, rel)


def _publications(shell: Shell, rel: _Relation) -> list[str]:
    """The publications that include the table: by name, through its schema, or all tables."""
    rows = _rows(
        shell,
        rel,
        "SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid"
        " JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid WHERE pc.oid = %(oid)s AND pg_catalog.pg_relation_is_publishable(%(oid)s)"
        " UNION SELECT pubname, pg_catalog.pg_get_expr(pr.prqual, c.oid), CASE WHEN pr.prattrs IS NOT NULL THEN"
        " (SELECT pg_catalog.string_agg(attname, ', ') FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,"
        " pg_catalog.pg_attribute WHERE attrelid = pr.prrelid AND attnum = prattrs[s]) END"
        " FROM pg_catalog.pg_publication p JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid"
        " JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid WHERE pr.prrelid = %(oid)s"
        " UNION SELECT pubname, NULL, NULL FROM pg_catalog.pg_publication p WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable(%(oid)s)"
        " ORDER BY 1",
    )
    lines = [f'    "{name}"' + (f" ({columns})" if columns is not None else "") + (f" WHERE {where}" if where is not None else "") for name, where, columns in rows]
    return _group("Publications:", lines)


def _closing_footers(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """A foreign table's server, parents and children, the type of a typed table, then with +
    the replica identity, the tablespace and the access method."""
    footers: list[str] = []
    if rel.kind == "f":
        rows = _rows(
            shell,
            rel,
            "SELECT s.srvname, pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' || pg_catalog.quote_literal(option_value)"
            " FROM pg_catalog.pg_options_to_table(ftoptions)), ', ') FROM pg_catalog.pg_foreign_table f, pg_catalog.pg_foreign_server s"
            " WHERE f.ftrelid = %(oid)s AND s.oid = f.ftserver",
        )
        for server, options in rows:
            footers += [f"Server: {server}"] + ([f"FDW options: ({options})"] if options else [])
    footers += _inheritance(shell, rel, verbose)
    if rel.typed_as:
        footers.append(f"Typed table of type: {rel.typed_as}")
    if verbose and rel.kind in "rm" and rel.replica_identity != "i" and rel.replica_identity != ("n" if rel.schema == "pg_catalog" else "d"):
        # an index's REPLICA IDENTITY is on its own line; a catalog's default is NOTHING
        footers.append("Replica Identity: " + {"f": "FULL", "n": "NOTHING"}.get(rel.replica_identity, "???"))
    footers += _tablespace(rel)
    if verbose and rel.access_method and not hides(shell, "HIDE_TABLEAM"):
        footers.append(f"Access method: {rel.access_method}")
    return footers


def _tablespace(rel: _Relation) -> list[str]:
    """psql names a tablespace only when it is not the database's default."""
    return [f'Tablespace: "{rel.tablespace}"'] if rel.tablespace and rel.kind in "rmipIt" else []


def _by_state(items: list[tuple[str, str]], groups: tuple[tuple[str, str], ...]) -> list[str]:
    """Footer lines grouped under one heading per state, in the order of ``groups``."""
    footers: list[str] = []
    for state, heading in groups:
        footers += _group(heading, [line for item_state, line in items if item_state == state])
    return footers


def _group(heading: str, lines: list[str]) -> list[str]:
    return [heading, *lines] if lines else []


def _indexes(shell: Shell, rel: _Relation) -> list[str]:
    rows = _rows(
        shell,
        rel,
        "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),"
        " pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident,"
        " (SELECT spcname FROM pg_catalog.pg_tablespace WHERE oid = c2.reltablespace)"
        " FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i"
        " LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))"
        " WHERE c.oid = %(oid)s AND c.oid = i.indrelid AND i.indexrelid = c2.oid ORDER BY i.indisprimary DESC, c2.relname",
    )
    lines = []
    for name, primary, unique, clustered, valid, indexdef, condef, contype, deferrable, deferred, replident, space in rows:
        line = f'    "{name}"'
        if contype == "x":
            line += f" {condef}"
        else:
            if primary == "t":
                line += " PRIMARY KEY,"
            elif unique == "t":
                line += " UNIQUE CONSTRAINT," if contype == "u" else " UNIQUE,"
            definition = str(indexdef)
            using = definition.find(" USING ")
            line += " " + (definition[using + 7 :] if using >= 0 else definition)
            line += " DEFERRABLE" if deferrable == "t" else ""
            line += " INITIALLY DEFERRED" if deferred == "t" else ""
        line += " CLUSTER" if clustered == "t" else ""
        line += " INVALID" if valid != "t" else ""
        line += " REPLICA IDENTITY" if replident == "t" else ""
        line += f', tablespace "{space}"' if space else ""
        lines.append(line)
    return _group("Indexes:", lines)


def _foreign_keys(shell: Shell, rel: _Relation) -> list[str]:
    """The table's own foreign keys; a partition's inherited ones name the table they are on."""
    if rel.kind == "p" or rel.is_partition:
        sql = (
            "SELECT conrelid = %(oid)s::pg_catalog.regclass, conname, pg_catalog.pg_get_constraintdef(oid, true), conrelid::pg_catalog.regclass"
            " FROM pg_catalog.pg_constraint, pg_catalog.pg_partition_ancestors(%(oid)s)"
            " WHERE conrelid = relid AND contype = 'f' AND conparentid = 0 ORDER BY 1 DESC, conname"
        )
    else:
        sql = (
            "SELECT true, conname, pg_catalog.pg_get_constraintdef(r.oid, true), conrelid::pg_catalog.regclass"
            " FROM pg_catalog.pg_constraint r WHERE r.conrelid = %(oid)s AND r.contype = 'f' AND conparentid = 0 ORDER BY conname"
        )
    rows = _rows(shell, rel, sql)
    lines = [f'    "{name}" {definition}' if same == "t" else f'    TABLE "{table}" CONSTRAINT "{name}" {definition}' for same, name, definition, table in rows]
    return _group("Foreign-key constraints:", lines)


def _policies(shell: Shell, rel: _Relation) -> list[str]:
    """Row-level security: psql's heading for the table's state, then each policy."""
    rows = _rows(
        shell,
        rel,
        "SELECT pol.polname, pol.polpermissive,"
        " CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles"
        "  where oid = any (pol.polroles) order by 1),',') END,"
        " pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),"
        " CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END"
        " FROM pg_catalog.pg_policy pol WHERE pol.polrelid = %(oid)s ORDER BY 1",
    )
    forced = " (forced row security enabled)" if rel.forced_row_security else ""
    if rel.row_security:
        heading = [f"Policies{forced}:"] if rows else [f"Policies{forced or ' (row security enabled)'}: (none)"]
    else:
        heading = ["Policies (row security disabled):"] if rows else []
    lines = []
    for name, permissive, roles, using, check, command in rows:
        line = f'    POLICY "{name}"' + (" AS RESTRICTIVE" if permissive == "f" else "") + (f" FOR {command}" if command else "")
        line += f"\n      TO {roles}" if roles is not None else ""
        line += f"\n      USING ({using})" if using is not None else ""
        line += f"\n      WITH CHECK ({check})" if check is not None else ""
        lines.append(line)
    return heading + lines


def _statistics(shell: Shell, rel: _Relation) -> list[str]:
    """Extended statistics objects on the table: their kinds unless all three, columns, target."""
    rows = _rows(
        shell,
        rel,
        "SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,"
        " pg_catalog.pg_get_statisticsobjdef_columns(oid), 'd' = any(stxkind), 'f' = any(stxkind), 'm' = any(stxkind), stxstattarget"
        " FROM pg_catalog.pg_statistic_ext WHERE stxrelid = %(oid)s ORDER BY nsp, stxname",
    )
    lines = []
    for _, table, schema, name, columns, ndistinct, dependencies, mcv, target in rows:
        kinds = [kind for kind, on in (("ndistinct", ndistinct), ("dependencies", dependencies), ("mcv", mcv)) if on == "t"]
        line = f'    "{schema}.{name}"' + (f" ({', '.join(kinds)})" if 0 < len(kinds) < 3 else "") + f" ON {columns} FROM {table}"
        # psql 15 compares with -1 only: on PostgreSQL 17+ the default is NULL and it prints "; STATISTICS "
        lines.append(line + (f"; STATISTICS {target or ''}" if target != "-1" else ""))
    return _group("Statistics objects:", lines)


def _triggers(shell: Shell, rel: _Relation) -> list[str]:
    """User triggers by state (internal ones only when disabled), each with the table it was
    cloned from when a partition inherited it."""
    rows = _rows(
        shell,
        rel,
        "SELECT pg_catalog.pg_get_triggerdef(t.oid, true), CASE WHEN t.tgisinternal AND t.tgenabled = 'D' THEN 'I' ELSE t.tgenabled::pg_catalog.text END,"
        " CASE WHEN t.tgparentid != 0 THEN (SELECT u.tgrelid::pg_catalog.regclass FROM pg_catalog.pg_trigger AS u,"
        "  pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)"
        "  WHERE u.tgname = t.tgname AND u.tgrelid = a.relid AND u.tgparentid = 0 ORDER BY a.depth LIMIT 1) END"
        " FROM pg_catalog.pg_trigger t WHERE t.tgrelid = %(oid)s AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D')) ORDER BY t.tgname",
    )
    items = []
    for definition, state, parent in rows:
        text = str(definition)
        at = text.find(" TRIGGER ")
        items.append((state, "    " + (text[at + 9 :] if at >= 0 else text) + (f", ON TABLE {parent}" if parent else "")))
    return _by_state(items, _TRIGGER_GROUPS)


def _inheritance(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """Inherits: (parents that are not partitioned tables), then the children or partitions:
    their number without +, each one with it."""
    parents = _rows(
        shell,
        rel,
        "SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i"
        " WHERE c.oid = i.inhparent AND i.inhrelid = %(oid)s AND c.relkind != 'p' AND c.relkind != 'I' ORDER BY inhseqno",
    )
    footers = _listed("Inherits", [str(row[0]) for row in parents])
    children = _rows(
        shell,
        rel,
        "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)"
        " FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i WHERE c.oid = i.inhrelid AND i.inhparent = %(oid)s"
        " ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text",
    )
    partitioned = rel.kind in "pI"
    if partitioned and not children:  # psql counts no partitions even under +
        return footers + ["Number of partitions: 0"]
    if not verbose:
        if partitioned:
            footers.append(f"Number of partitions: {len(children)} (Use \\d+ to list them.)")
        elif children:
            footers.append(f"Number of child tables: {len(children)} (Use \\d+ to list them.)")
        return footers
    names = []
    for child, kind, pending, bound in children:
        text = str(child) + (f" {bound}" if bound else "")
        text += ", PARTITIONED" if kind in ("p", "I") else ""
        names.append(text + (" (DETACH PENDING)" if pending == "t" else ""))
    return footers + _listed("Partitions" if partitioned else "Child tables", names)


def _listed(label: str, items: list[str]) -> list[str]:
    """psql's "Label: a," / aligned continuation lines footer."""
    return [(f"{label}: " if i == 0 else " " * (len(label) + 2)) + item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]


def _index_columns(shell: Shell, rel: _Relation, verbose: bool) -> tuple[list[str], Rows]:
    found = _rows(
        shell,
        rel,
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        " CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indexrelid = %(oid)s) THEN 'yes' ELSE 'no' END,"
        " pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE), a.attstorage,"
        " CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END"
        " FROM pg_catalog.pg_attribute a WHERE a.attrelid = %(oid)s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
    )
    headers = ["Column", "Type", "Key?", "Definition"] + (["Storage", "Stats target"] if verbose else [])
    rows: Rows = [(n, t, k, d) + ((_STORAGE.get(s or "", ""), target) if verbose else ()) for n, t, k, d, s, target in found]
    return headers, rows


def _index_footers(shell: Shell, rel: _Relation) -> list[str]:
    """One line: primary key / unique, the access method, the table, then its properties."""
    rows = _rows(
        shell,
        rel,
        "SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,"
        " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferrable),"
        " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferred),"
        " i.indisreplident, i.indnullsnotdistinct, a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)"
        " FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a"
        " WHERE i.indexrelid = c.oid AND c.oid = %(oid)s AND c.relam = a.oid AND i.indrelid = c2.oid",
    )
    if not rows:
        return []
    unique, primary, clustered, valid, deferrable, deferred, replident, nulls_not_distinct, method, table, predicate = rows[0]
    text = "primary key, " if primary == "t" else ("unique" + (" nulls not distinct" if nulls_not_distinct == "t" else "") + ", ") if unique == "t" else ""
    text += f'{method}, for table "{rel.schema}.{table}"'
    text += f", predicate ({predicate})" if predicate else ""
    for flag, words in ((clustered == "t", ", clustered"), (valid != "t", ", invalid"), (deferrable == "t", ", deferrable"), (deferred == "t", ", initially deferred"), (replident == "t", ", replica identity")):
        text += words if flag else ""
    return [text]


def _sequence_footers(shell: Shell, rel: _Relation) -> list[str]:
    """Owned by: the column a serial or identity sequence belongs to."""
    rows = _rows(
        shell,
        rel,
        "SELECT pg_catalog.quote_ident(nspname) || '.' || pg_catalog.quote_ident(relname) || '.' || pg_catalog.quote_ident(attname), d.deptype"
        " FROM pg_catalog.pg_class c INNER JOIN pg_catalog.pg_depend d ON c.oid=d.refobjid"
        " INNER JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace"
        " INNER JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid AND a.attnum=d.refobjsubid)"
        " WHERE d.classid='pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid='pg_catalog.pg_class'::pg_catalog.regclass"
        " AND d.objid=%(oid)s AND d.deptype IN ('a', 'i')",
    )
    if not rows:
        return []
    column, deptype = rows[0]
    return [f"Owned by: {column}" if deptype == "a" else f"Sequence for identity column: {column}"]
