"""`\\d[S+] NAME`: one relation described as psql 15 describes it.

pgspecial prints every relation under the same untitled "Column | Type | Modifiers" table, so a
table, a view and a partitioned table look alike. psql titles each by its kind (`Table
"public.t"`, `View "public.v"`, `Partitioned table ...`), shows Collation, Nullable and Default
columns (Storage, Compression, Stats target, Description with +), and lists what belongs to the
relation in footer lines. The queries are the ones `psql -E` shows for the same command.

Not covered (printed by psql, absent here): publications, rules, tablespaces, foreign-table
servers and options, TOAST owners.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from nl2sql_shell.repl.describe import name_conditions, not_found
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
_TRIGGER_GROUPS = (("O", "Triggers:"), ("D", "Disabled user triggers:"), ("A", "Triggers firing always:"), ("R", "Triggers firing on replica only:"))


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
        f" c.relpersistence, c.relreplident, am.amname, {options}, c.relrowsecurity, c.relforcerowsecurity"
        " FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)"
        " LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid) LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = %s",
        [oid],
    )
    schema, name, kind, checks, has_index, has_triggers, is_partition, typed_as, persistence, replident, am, opts, rls, forced = rows[0]
    return _Relation(
        oid, schema or "", name or "", kind or "", int(checks or 0), has_index == "t", has_triggers == "t", is_partition == "t",
        typed_as or "", persistence or "", replident or "", am, opts or "", rls == "t", forced == "t",
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
        print_listing(shell, rel.title, headers, rows, numeric=numeric, footers=_sequence_footers(shell, rel), row_count=False, table=True)
        return
    if rel.kind in ("i", "I"):
        headers, rows = _index_columns(shell, rel, verbose)
        print_listing(shell, rel.title, headers, rows, footers=_index_footers(shell, rel), row_count=False, table=True)
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
        " pg_catalog.col_description(a.attrelid, a.attnum)"
        " FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [rel.oid],
    )
    details = rel.kind in "rvmfcp"
    compression = verbose and rel.kind in "rpm"
    stats = verbose and rel.kind in "rmfp"
    description = verbose and rel.kind in "rvmfcp"
    headers = ["Column", "Type"] + (["Collation", "Nullable", "Default"] if details else [])
    headers += (["Storage"] if verbose else []) + (["Compression"] if compression else []) + (["Stats target"] if stats else []) + (["Description"] if description else [])
    rows: Rows = []
    for name, type_, default, notnull, collation, identity, generated, storage, compress, target, comment in found:
        row: list[str | None] = [name, type_]
        if details:
            row += [collation or "", "not null" if notnull == "t" else "", _default(default, identity, generated)]
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


def _footers(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """What psql lists under the columns, in psql's order."""
    footers: list[str] = []
    oid = [rel.oid]
    if rel.kind in "vm" and verbose:
        _, _, rows = fetch(shell, "SELECT pg_catalog.pg_get_viewdef(%s::pg_catalog.oid, true)", oid)
        footers += ["View definition:", *str(rows[0][0]).split("\n")]
    if rel.kind not in "rpmf":
        return footers
    if rel.is_partition:
        _, _, rows = fetch(
            shell,
            "SELECT inhparent::pg_catalog.regclass, pg_catalog.pg_get_expr(c.relpartbound, c.oid), inhdetachpending,"
            " pg_catalog.pg_get_partition_constraintdef(c.oid)"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON c.oid = inhrelid WHERE c.oid = %s",
            oid,
        )
        if rows:
            parent, bound, pending, constraint = rows[0]
            footers.append(f"Partition of: {parent} {bound}{' DETACH PENDING' if pending == 't' else ''}")
            if verbose:
                footers.append(f"Partition constraint: {constraint}" if constraint else "No partition constraint")
    if rel.kind == "p":
        _, _, rows = fetch(shell, "SELECT pg_catalog.pg_get_partkeydef(%s::pg_catalog.oid)", oid)
        footers.append(f"Partition key: {rows[0][0]}")
    if rel.has_index:
        footers += _indexes(shell, rel)
    if rel.checks:
        _, _, rows = fetch(shell, "SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true) FROM pg_catalog.pg_constraint r WHERE r.conrelid = %s AND r.contype = 'c' ORDER BY 1", oid)
        footers += _group("Check constraints:", [f'    "{name}" {definition}' for name, definition in rows])
    footers += _foreign_keys(shell, rel)
    _, _, rows = fetch(
        shell,
        "SELECT conname, conrelid::pg_catalog.regclass, pg_catalog.pg_get_constraintdef(oid, true) FROM pg_catalog.pg_constraint c"
        " WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors(%s) UNION ALL VALUES (%s::pg_catalog.regclass))"
        " AND contype = 'f' AND conparentid = 0 ORDER BY conname",
        [rel.oid, rel.oid],
    )
    footers += _group("Referenced by:", [f'    TABLE "{table}" CONSTRAINT "{name}" {definition}' for name, table, definition in rows])
    footers += _policies(shell, rel)
    footers += _statistics(shell, rel)
    if rel.has_triggers:
        footers += _triggers(shell, rel)
    footers += _inheritance(shell, rel, verbose)
    if rel.typed_as:
        footers.append(f"Typed table of type: {rel.typed_as}")
    if verbose and rel.kind in "rm" and rel.replica_identity not in ("d", "") and not (rel.schema == "pg_catalog" and rel.replica_identity == "n"):
        footers.append("Replica Identity: " + {"f": "FULL", "n": "NOTHING"}.get(rel.replica_identity, "???"))
    if verbose and rel.access_method:
        footers.append(f"Access method: {rel.access_method}")
    if verbose and rel.options:
        footers.append(f"Options: {rel.options}")
    return footers


def _group(heading: str, lines: list[str]) -> list[str]:
    return [heading, *lines] if lines else []


def _indexes(shell: Shell, rel: _Relation) -> list[str]:
    _, _, rows = fetch(
        shell,
        "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),"
        " pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident"
        " FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i"
        " LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))"
        " WHERE c.oid = %s AND c.oid = i.indrelid AND i.indexrelid = c2.oid ORDER BY i.indisprimary DESC, c2.relname",
        [rel.oid],
    )
    lines = []
    for name, primary, unique, clustered, valid, indexdef, condef, contype, deferrable, deferred, replident in rows:
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
        lines.append(line)
    return _group("Indexes:", lines)


def _foreign_keys(shell: Shell, rel: _Relation) -> list[str]:
    """The table's own foreign keys; a partition's inherited ones name the table they are on."""
    if rel.kind == "p" or rel.is_partition:
        sql = (
            "SELECT conrelid = %s::pg_catalog.regclass, conname, pg_catalog.pg_get_constraintdef(oid, true), conrelid::pg_catalog.regclass"
            " FROM pg_catalog.pg_constraint, pg_catalog.pg_partition_ancestors(%s)"
            " WHERE conrelid = relid AND contype = 'f' AND conparentid = 0 ORDER BY 1 DESC, conname"
        )
        params = [rel.oid, rel.oid]
    else:
        sql = (
            "SELECT true, conname, pg_catalog.pg_get_constraintdef(r.oid, true), conrelid::pg_catalog.regclass"
            " FROM pg_catalog.pg_constraint r WHERE r.conrelid = %s AND r.contype = 'f' AND conparentid = 0 ORDER BY conname"
        )
        params = [rel.oid]
    _, _, rows = fetch(shell, sql, params)
    lines = [f'    "{name}" {definition}' if same == "t" else f'    TABLE "{table}" CONSTRAINT "{name}" {definition}' for same, name, definition, table in rows]
    return _group("Foreign-key constraints:", lines)


def _policies(shell: Shell, rel: _Relation) -> list[str]:
    """Row-level security: psql's heading for the table's state, then each policy."""
    _, _, rows = fetch(
        shell,
        "SELECT pol.polname, pol.polpermissive,"
        " CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles"
        "  where oid = any (pol.polroles) order by 1),',') END,"
        " pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),"
        " CASE pol.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END"
        " FROM pg_catalog.pg_policy pol WHERE pol.polrelid = %s ORDER BY 1",
        [rel.oid],
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
    _, _, rows = fetch(
        shell,
        "SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,"
        " pg_catalog.pg_get_statisticsobjdef_columns(oid), 'd' = any(stxkind), 'f' = any(stxkind), 'm' = any(stxkind), stxstattarget"
        " FROM pg_catalog.pg_statistic_ext WHERE stxrelid = %s ORDER BY nsp, stxname",
        [rel.oid],
    )
    lines = []
    for _, table, schema, name, columns, ndistinct, dependencies, mcv, target in rows:
        kinds = [kind for kind, on in (("ndistinct", ndistinct), ("dependencies", dependencies), ("mcv", mcv)) if on == "t"]
        line = f'    "{schema}.{name}"' + (f" ({', '.join(kinds)})" if 0 < len(kinds) < 3 else "") + f" ON {columns} FROM {table}"
        # psql 15 compares with -1 only: on PostgreSQL 17+ the default is NULL and it prints "; STATISTICS "
        lines.append(line + (f"; STATISTICS {target or ''}" if target != "-1" else ""))
    return _group("Statistics objects:", lines)


def _triggers(shell: Shell, rel: _Relation) -> list[str]:
    _, _, rows = fetch(
        shell,
        "SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, t.tgisinternal,"
        " CASE WHEN t.tgparentid != 0 THEN (SELECT u.tgrelid::pg_catalog.regclass FROM pg_catalog.pg_trigger AS u,"
        "  pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)"
        "  WHERE u.tgname = t.tgname AND u.tgrelid = a.relid AND u.tgparentid = 0 ORDER BY a.depth LIMIT 1) END"
        " FROM pg_catalog.pg_trigger t WHERE t.tgrelid = %s AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D')) ORDER BY 1",
        [rel.oid],
    )
    footers: list[str] = []
    for enabled, heading in _TRIGGER_GROUPS:
        lines = []
        for _, definition, state, internal, parent in rows:
            if state != enabled or (enabled == "D" and internal == "t"):
                continue
            text = str(definition)
            at = text.find(" TRIGGER ")
            line = "    " + (text[at + 9 :] if at >= 0 else text)
            lines.append(line + (f", ON TABLE {parent}" if parent else ""))
        footers += _group(heading, lines)
    internal = [f"    {str(d)[str(d).find(' TRIGGER ') + 9 :]}" for _, d, state, inner, _ in rows if state == "D" and inner == "t"]
    return footers + _group("Disabled internal triggers:", internal)


def _inheritance(shell: Shell, rel: _Relation, verbose: bool) -> list[str]:
    """Inherits: (parents that are not partitioned tables), then the children or partitions:
    their number without +, each one with it."""
    _, _, parents = fetch(
        shell,
        "SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i"
        " WHERE c.oid = i.inhparent AND i.inhrelid = %s AND c.relkind != 'p' AND c.relkind != 'I' ORDER BY inhseqno",
        [rel.oid],
    )
    footers = _listed("Inherits", [str(row[0]) for row in parents])
    _, _, children = fetch(
        shell,
        "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)"
        " FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i WHERE c.oid = i.inhrelid AND i.inhparent = %s"
        " ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text",
        [rel.oid],
    )
    partitioned = rel.kind == "p"
    if not verbose:
        if partitioned:
            footers.append(f"Number of partitions: {len(children)}" + (" (Use \\d+ to list them.)" if children else ""))
        elif children:
            footers.append(f"Number of child tables: {len(children)} (Use \\d+ to list them.)")
        return footers
    names = []
    for child, kind, pending, bound in children:
        text = str(child) + (f" {bound}" if bound else "")
        text += ", PARTITIONED" if kind in ("p", "I") else ", FOREIGN" if kind == "f" else ""
        names.append(text + (" (DETACH PENDING)" if pending == "t" else ""))
    return footers + _listed("Partitions" if partitioned else "Child tables", names)


def _listed(label: str, items: list[str]) -> list[str]:
    """psql's "Label: a," / aligned continuation lines footer."""
    return [(f"{label}: " if i == 0 else " " * (len(label) + 2)) + item + ("," if i < len(items) - 1 else "") for i, item in enumerate(items)]


def _index_columns(shell: Shell, rel: _Relation, verbose: bool) -> tuple[list[str], Rows]:
    _, _, found = fetch(
        shell,
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
        " CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE i.indexrelid = %s) THEN 'yes' ELSE 'no' END,"
        " pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE), a.attstorage,"
        " CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END"
        " FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        [rel.oid, rel.oid],
    )
    headers = ["Column", "Type", "Key?", "Definition"] + (["Storage", "Stats target"] if verbose else [])
    rows: Rows = [(n, t, k, d) + ((_STORAGE.get(s or "", ""), target) if verbose else ()) for n, t, k, d, s, target in found]
    return headers, rows


def _index_footers(shell: Shell, rel: _Relation) -> list[str]:
    """One line: primary key / unique, the access method, the table, then its properties."""
    _, _, rows = fetch(
        shell,
        "SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,"
        " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferrable),"
        " (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x') AND condeferred),"
        " i.indisreplident, i.indnullsnotdistinct, a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)"
        " FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_am a"
        " WHERE i.indexrelid = c.oid AND c.oid = %s AND c.relam = a.oid AND i.indrelid = c2.oid",
        [rel.oid],
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
    _, _, rows = fetch(
        shell,
        "SELECT pg_catalog.quote_ident(nspname) || '.' || pg_catalog.quote_ident(relname) || '.' || pg_catalog.quote_ident(attname), d.deptype"
        " FROM pg_catalog.pg_class c INNER JOIN pg_catalog.pg_depend d ON c.oid=d.refobjid"
        " INNER JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace"
        " INNER JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid AND a.attnum=d.refobjsubid)"
        " WHERE d.classid='pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid='pg_catalog.pg_class'::pg_catalog.regclass"
        " AND d.objid=%s AND d.deptype IN ('a', 'i')",
        [rel.oid],
    )
    if not rows:
        return []
    column, deptype = rows[0]
    return [f"Owned by: {column}" if deptype == "a" else f"Sequence for identity column: {column}"]
