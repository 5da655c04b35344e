"""Read every schema the user can read (its search_path first) into `model.Schema`.

System schemas (pg_catalog, information_schema, TOAST and temporary ones) and the tables an
extension installs are left out: they are not the user's data.

A handful of catalog queries cover every table at once (relations, columns, keys, statistics),
so introspecting a database with hundreds of tables stays well under a second. Sample values of
low-cardinality text columns (and elements of text arrays) of small tables (up to 1 MiB) are
read from the table itself (ONLY the table: a child may be a foreign table), in one bounded
statement; larger tables give theirs from ``pg_stats`` once analyzed, and never get scanned. A
table whose row-security policies apply to the user is never read: a policy may call any
function. The keys of JSON columns, which hold what
would otherwise be columns, are read from the first rows of any table, in a bounded statement
of their own. What the model is shown of a small table must not change when autovacuum
happens to analyze it a minute after a load: statistics order tied values arbitrarily, and
the row estimate appears only then, so the same question would get another prompt, and
another query, depending on when it is asked. So small tables carry no row estimate either.
Nothing is sampled from a column whose name says it holds a secret (passwords, tokens, keys,
salts): the prompt may go to a shared model server, be echoed by `-E` or stay in a log. And a
value that is one long run without spaces and with digits (a hash, a UUID, a URL, an encoded
blob) is not shown either: no question names it, and it costs tokens the schema needs.
Everything runs in a read-only transaction (or a savepoint inside the user's open
transaction) that is rolled back, so the connection is left exactly as it was found.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row

from nl2sql_shell.config import holds_password
from nl2sql_shell.db.as_sent import text_encoding
from nl2sql_shell.db.execute import SearchPath, catalog_reads
from nl2sql_shell.nl2sql.proof import plain_reads

from .model import Column, ForeignKey, Schema, Table
from .words import declared_words

# Tables up to this size are read directly when they lack statistics: a scan of 1 MiB is cheap.
SMALL_TABLE_BYTES = 1 << 20
# Names that say a column holds a secret: written inside a longer name (userPassword, folded
# "apitoken") or as a word of their own (pwd, salt, otp).
SECRET_PARTS = (
    "password", "passwd", "passphrase", "passcode", "pword", "pwhash", "passwort", "kennwort", "motdepasse", "mot_de_passe",
    "contrase", "senha", "пароль", "secret", "token", "credential", "apikey", "api_key", "authkey", "auth_key", "accesskey",
    "access_key", "privatekey", "private_key", "signing_key", "session_key", "recovery_code", "mfa_seed", "card_number", "cardnumber",
    "social_security", "security_answer", "seed_phrase", "recovery_phrase", "mnemonic", "license_key", "licence_key", "product_key",
    "serial_key", "bank_account", "account_number", "routing_number", "credit_card", "card_pan", "passport",
    "card_no", "cardnum", "ccnum", "security_code", "pincode", "account_no", "acct_no", "acct_number", "question_answer", "iban",
    "privkey", "priv_key", "aws_key", "recovery", "passw", "encryption_key", "enc_key", "hmac", "ssh_key", "jwt", "cookie",
    "session_id", "auth_header", "authorization", "reset_code", "verification_code", "confirmation_code", "auth_code", "csrf", "nonce",
)  # fmt: skip
SECRET_WORDS = frozenset({"pw", "pwd", "pass", "salt", "otp", "totp", "hash", "hashed", "digest", "pin", "pincode", "cvv", "cvc", "ssn", "iban", "pan", "cc", "seed"})
# Characters of a comment read: a prompt shows far fewer, and a database's owner can make one
# of a gigabyte (150 MB took each `?` 80 s, deaf to Ctrl-C, to read and split into words).
COMMENT_CHARS = 2000
# A value at least this long with no whitespace and a digit is opaque (hash, UUID, URL, token).
OPAQUE_LENGTH = 24
# A guard so that sampling can never stall the shell, whatever the tables hold.
SAMPLING_TIMEOUT_MS = 2000
PROBE_BATCH = 100  # small tables' probes sent in one statement

_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}

# Code the planner may run for any read of a table (it folds constant calls in index
# expressions and predicates, statistics' expressions and, with constraint_exclusion, CHECK
# constraints; it scans an index's operator class; PostgreSQL 18 computes virtual columns;
# a table access method that is not built-in has its handler called on every open): such a
# table is sampled only when the proof finds that code harmless. Sizes come from
# pg_relation_size, which opens the relation: not for such an access method (no size: not
# sampled as small).
_PLANNED_CODE = """(c.relam >= 16384 OR EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = c.oid AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR ic.relam >= 16384
                       OR EXISTS (SELECT 1 FROM unnest(i.indclass::oid[]) AS k(oid) WHERE k.oid >= 16384)))
         OR EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxrelid = c.oid AND s.stxexprs IS NOT NULL)
         OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c')
         OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attgenerated = 'v'))"""

_RELATIONS = f"""
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
       left(obj_description(c.oid, 'pg_class'), %(comment_chars)s) AS comment,
       CASE WHEN c.relkind IN ('r', 'p', 'm', 'f') AND c.reltuples >= 0
            AND (c.relkind = 'f' OR size.bytes > %(small)s)
            THEN c.reltuples::bigint END AS rows,
       c.relkind IN ('r', 'm') AND c.relispopulated AND size.bytes <= %(small)s
       AND has_table_privilege(c.oid, 'SELECT') AND NOT row_security_active(c.oid) AS small,
       c.relkind IN ('r', 'm') AND c.relispopulated AND has_table_privilege(c.oid, 'SELECT') AND NOT row_security_active(c.oid) AS readable,
       {_PLANNED_CODE} AS planned_code
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT CASE WHEN %(unsized)s THEN c.relpages::bigint * current_setting('block_size')::bigint
    WHEN c.relkind = 'p'
    THEN (SELECT CASE WHEN bool_and(k.relam < 16384) THEN coalesce(sum(CASE WHEN k.relam < 16384 THEN pg_relation_size(t.relid) END), 0) END
          FROM pg_partition_tree(c.oid) t JOIN pg_class k ON k.oid = t.relid)
    WHEN c.relam < 16384 THEN pg_relation_size(c.oid) END AS bytes) AS size
LEFT JOIN unnest(%(path)s::text[]) WITH ORDINALITY AS p(nspname, pos) ON p.nspname = n.nspname
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND (c.relkind <> 'm' OR c.relispopulated)  -- a materialized view never refreshed cannot be read
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND has_schema_privilege(n.oid, 'USAGE')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
ORDER BY p.pos NULLS LAST, n.nspname, c.relname
"""

# Relations on the search_path named like a table the schema lists, which a bare name may
# reach first: partitions, sequences, indexes, an extension's tables (none of them listed).
_NAMESAKES = """
SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%(path)s::text[]) AND c.relname = ANY(%(names)s::text[])
"""

# Relations a query may name that the schema does not list: partitions (it lists their
# parent) and the session's own temporary tables. They exist: a query reading one is not
# missing a table, and no repair may read a listed one in its place.
_UNLISTED = """
SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND (c.relispartition OR n.oid = pg_my_temp_schema())
  AND has_schema_privilege(n.oid, 'USAGE')
"""

# A column of a domain (`CREATE DOMAIN cents AS bigint`) is read as its base type, which is
# what the model and the checks compare (a number, text, an enum's labels); the domain's name
# is kept too, as it often says the unit. Two levels of domains over domains are unwrapped.
def _as_user_sees(name: str, schema: str) -> str:
    """SQL: a type ``name`` printed by format_type, without the ``schema.`` that the pinned
    search_path gave it where the user's own path has that schema (as psql prints it)."""
    prefix = f"quote_ident({schema}) || '.'"
    return f"CASE WHEN {schema} = ANY(%(path)s::text[]) AND starts_with({name}, {prefix}) THEN substr({name}, length({prefix}) + 1) ELSE {name} END"


_DATA_TYPE = """CASE WHEN dt.typtype = 'd'
            THEN format_type(t.oid, CASE WHEN d2.oid IS NULL THEN dt.typtypmod ELSE d1.typtypmod END)
            ELSE format_type(a.atttypid, a.atttypmod) END"""
_COLUMNS = f"""
SELECT a.attrelid AS oid, a.attname AS name,
       {_as_user_sees(_DATA_TYPE, "tn.nspname")} AS data_type,
       CASE WHEN dt.typtype = 'd' THEN {_as_user_sees("format_type(dt.oid, NULL)", "dn.nspname")} END AS domain,
       a.attnotnull AS not_null,
       left(col_description(a.attrelid, a.attnum), %(comment_chars)s) AS comment,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e
             WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS enum_labels,
       t.typcategory = 'S' AS is_text,
       coalesce(t.typcategory = 'A' AND el.typcategory = 'S', false) AS is_text_array,
       t.oid IN (114, 3802) AS is_json,  -- pg_catalog's json and jsonb: a user's type named jsonb may cast to it through its own code
       t.oid IN (20, 21, 23, 700, 701, 1700) AS is_number  -- pg_catalog's integers, floats and numeric
FROM pg_attribute a
JOIN pg_type dt ON dt.oid = a.atttypid
LEFT JOIN pg_type d1 ON dt.typtype = 'd' AND d1.oid = dt.typbasetype
LEFT JOIN pg_type d2 ON d1.typtype = 'd' AND d2.oid = d1.typbasetype
JOIN pg_type t ON t.oid = coalesce(d2.oid, d1.oid, dt.oid)
LEFT JOIN pg_type el ON el.oid = t.typelem
JOIN pg_namespace tn ON tn.oid = CASE WHEN t.typcategory = 'A' AND el.oid IS NOT NULL THEN el.typnamespace ELSE t.typnamespace END
JOIN pg_namespace dn ON dn.oid = dt.typnamespace
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_KEY_NAMES = """ARRAY(SELECT a.attname::text FROM unnest({keys}) WITH ORDINALITY AS k(num, pos)
       JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num ORDER BY k.pos)"""

_CONSTRAINTS = f"""
SELECT con.conrelid AS oid, con.contype AS kind,
       {_KEY_NAMES.format(keys="con.conkey", rel="con.conrelid")} AS columns,
       rn.nspname AS ref_schema, rc.relname AS ref_table,
       {_KEY_NAMES.format(keys="con.confkey", rel="con.confrelid")} AS ref_columns
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype IN ('p', 'f') AND con.conparentid = 0 AND con.conrelid = ANY(%(oids)s)
ORDER BY con.conrelid, con.conname
"""

# n_distinct > 0 is a count, < 0 a fraction of the rows; most_common_vals is ordered by frequency
# (and missing when every value is distinct).
# An array column's most common elements come by frequency too (most_common_elem_freqs).
_STATS = """
SELECT c.oid, s.attname AS name, s.most_common_vals::text::text[] AS values,
       CASE WHEN s.n_distinct >= 0 THEN s.n_distinct
            ELSE -s.n_distinct * greatest(c.reltuples, 0) END <= %(max_distinct)s AS few,
       ARRAY(SELECT u.e FROM unnest(s.most_common_elems::text::text[]) WITH ORDINALITY AS u(e, i)
             ORDER BY s.most_common_elem_freqs[u.i] DESC, u.e) AS elements
FROM pg_stats s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE c.oid = ANY(%(oids)s) AND s.inherited = (c.relkind = 'p')
"""

# The same of a partitioned table's partitions, for a parent never analyzed itself (autovacuum
# analyzes partitions, never their parent: on an untuned database that is every one).
_PARTITION_STATS = """
SELECT i.inhparent AS oid, s.attname AS name, s.most_common_vals::text::text[] AS values,
       CASE WHEN s.n_distinct >= 0 THEN s.n_distinct
            ELSE -s.n_distinct * greatest(c.reltuples, 0) END <= %(max_distinct)s AS few
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited
WHERE i.inhparent = ANY(%(oids)s) AND has_table_privilege(i.inhparent, 'SELECT') AND NOT row_security_active(i.inhparent)
ORDER BY c.relname
"""

# A number column's most common values and histogram bounds hold its least and greatest value.
_RANGE_STATS = """
SELECT c.oid, s.attname AS name, s.most_common_vals::text::text[] AS values, s.histogram_bounds::text::text[] AS bounds
FROM pg_stats s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE c.oid = ANY(%(oids)s) AND s.inherited = (c.relkind = 'p')
"""

# The most frequent values of one column, or more than max_distinct of them if there are more.
_PROBE = sql.SQL(
    "SELECT {oid}::oid, {name}::text, ARRAY(SELECT {col}::text FROM ONLY {table} WHERE {col} IS NOT NULL"
    " GROUP BY {col} ORDER BY count(*) DESC, {col}::text LIMIT {limit})"
)
# The most frequent elements of a text array column.
_ELEMENT_PROBE = sql.SQL(
    "SELECT {oid}::oid, {name}::text, ARRAY(SELECT e FROM ONLY {table}, unnest({col}::text[]) AS e WHERE e IS NOT NULL"
    " GROUP BY e ORDER BY count(*) DESC, e LIMIT {limit})"
)
# The most frequent top-level keys of a JSON column's objects, in the table's first rows: a
# bounded read of any table, however big (a JSON column's keys are its columns).
_KEY_PROBE = sql.SQL(
    "SELECT {oid}::oid, {name}::text, ARRAY(SELECT k FROM (SELECT {col}::jsonb AS j FROM ONLY {table}"
    " WHERE jsonb_typeof({col}::jsonb) = 'object' LIMIT {rows}) AS r, jsonb_object_keys(r.j) AS k"
    " GROUP BY k ORDER BY count(*) DESC, k LIMIT {limit})"
)
KEY_PROBE_ROWS = 200
MAX_JSON_KEYS = 10


class IntrospectionError(RuntimeError):
    """The schema cannot be read on this connection right now; the message says why."""


def read_schema(conn: psycopg.Connection, *, sample_values: int = 5, max_distinct: int = 20) -> Schema:
    """The tables, views and their columns in every readable schema, as `Schema`.

    Up to ``sample_values`` values (most frequent first) are kept for text columns with at most
    ``max_distinct`` distinct values; 0 turns sampling off.
    """
    with _read_only(conn) as path, conn.cursor(row_factory=namedtuple_row) as cur:
        (database,) = cur.execute("SELECT current_database()").fetchone()
        relations = _relations(cur, path)
        # samples of a table whose planning may run code are probed only where that code is harmless
        planned = [r.oid for r in relations if r.planned_code and r.readable]
        plain = plain_reads(conn, path.effective, planned) if planned else set()
        relations = [r._replace(small=False, readable=False) if r.oid in planned and r.oid not in plain else r for r in relations]
        oids = [r.oid for r in relations]
        columns: dict[int, list[Any]] = defaultdict(list)
        for row in cur.execute(_COLUMNS, {"oids": oids, "path": list(path.effective), "comment_chars": COMMENT_CHARS}):
            columns[row.oid].append(row)
        constraints: dict[int, list[Any]] = defaultdict(list)
        for row in cur.execute(_CONSTRAINTS, {"oids": oids}):
            constraints[row.oid].append(row)
        samples = _samples(cur, relations, columns, sample_values, max_distinct) if sample_values > 0 else {}
        ranges = _ranges(cur, relations, columns)
        names = list({r.name for r in relations})
        hidden = {(row.schema, row.name) for row in cur.execute(_NAMESAKES, {"path": list(path.effective), "names": names})} - {(r.schema, r.name) for r in relations}
        unlisted = {(row.schema, row.name) for row in cur.execute(_UNLISTED)}
    tables = tuple(_table(rel, columns[rel.oid], constraints[rel.oid], samples, ranges) for rel in relations)
    return Schema(database=database, search_path=path.listed, tables=tables, hidden=frozenset(hidden), unlisted=frozenset(unlisted))


_LOCKED = """SELECT DISTINCT relation FROM pg_locks
WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND pid <> pg_backend_pid()"""  # held or queued: a read waits behind either


def _relations(cur: psycopg.Cursor, path: SearchPath) -> list[Any]:
    """The relations to list. pg_relation_size needs a lock on each table, which another
    session's migration or VACUUM FULL may hold for minutes, and the shell's reads wait for no
    lock (NO_WAIT_MS): then the sizes come from the catalog instead (its page counts, as of
    the last VACUUM or ANALYZE)."""
    params = {"small": SMALL_TABLE_BYTES, "path": list(path.listed), "unsized": False, "comment_chars": COMMENT_CHARS}
    try:
        with cur.connection.transaction():
            return cur.execute(_RELATIONS, params).fetchall()
    except psycopg.errors.LockNotAvailable:
        relations = cur.execute(_RELATIONS, {**params, "unsized": True}).fetchall()
        locked = {oid for (oid,) in cur.execute(_LOCKED)}  # not probed for samples either: they would wait too
        return [r._replace(small=False, readable=False) if r.oid in locked else r for r in relations]


@contextmanager
def _read_only(conn: psycopg.Connection) -> Iterator[SearchPath]:
    """The shell's own read-only transaction (`catalog_reads`: a savepoint in the user's own
    one), always rolled back; yields the user's search_path.

    An idle connection is idle again afterwards; a user's open transaction is left as it was.
    """
    status = conn.info.transaction_status
    if status == TransactionStatus.INERROR:
        raise IntrospectionError("the current transaction is aborted; ROLLBACK first")
    if status not in (TransactionStatus.IDLE, TransactionStatus.INTRANS):
        raise IntrospectionError("the connection is busy with another command")
    with catalog_reads(conn) as path:
        yield path


class SchemaCache:
    """Schemas already read, one per server, database, user and search_path.

    Reading the catalog for every question would be wasteful; the caller calls `invalidate`
    after DDL (or anything else that changes what is visible) so the next `get` reads afresh.
    With ``check_catalog`` (the default), `get` also asks the server for a fingerprint of the
    catalogs a schema is read from (one query of a few milliseconds, see CATALOG_VERSION) and
    reads afresh when it changed: a migration run in another terminal, DDL rolled back with
    its transaction, comments or grants, which the caller never saw. In a failed transaction
    nothing can be asked, and what was read stands. A schema read inside an open transaction
    is not kept: its sample values may be rows that transaction wrote and then rolls back,
    which no other session (the proxy's other clients share the cache) may ever see.
    """

    def __init__(self, *, sample_values: int = 5, max_distinct: int = 20, check_catalog: bool = True) -> None:
        self._options = {"sample_values": sample_values, "max_distinct": max_distinct}
        self._schemas: dict[tuple[str | None, ...], Schema] = {}
        self._versions: dict[tuple[str | None, ...], str] = {}
        self._own_transaction: dict[tuple[str | None, ...], Schema] = {}  # read inside a connection's open transaction
        self.check_catalog = check_catalog

    def get(self, conn: psycopg.Connection) -> Schema:
        key = _cache_key(conn)
        if self.check_catalog and conn.info.transaction_status != TransactionStatus.INERROR:
            version = catalog_version(conn)
            if self._versions.get(key) != version:
                self._schemas.pop(key, None)
                self._versions[key] = version
        if key in self._schemas:
            return self._schemas[key]
        own = (*key[:2], str(conn.info.backend_pid))  # this session's alone (in a failed transaction its role cannot be asked)
        if conn.info.transaction_status == TransactionStatus.INERROR and own in self._own_transaction:
            return self._own_transaction[own]
        schema = read_schema(conn, **self._options)
        if conn.info.transaction_status == TransactionStatus.IDLE:
            self._schemas[key] = schema
            self._own_transaction.pop(own, None)
        else:
            self._own_transaction[own] = schema
        return schema

    def invalidate(self, conn: psycopg.Connection | None = None) -> None:
        """Forget what was read of this connection's database (any search_path), or of all."""
        where = None if conn is None else _cache_key(conn)[:-1]
        self._schemas = {k: v for k, v in self._schemas.items() if where is not None and k[:-1] != where}


# What a schema is read from changes only with a new or deleted row in one of these catalogs,
# and every updated row is a new row version with the updating transaction's xmin: so the
# count and the sum of xmin of each change with any DDL, COMMENT or GRANT, committed by any
# connection or made in this one's own open transaction (and return to their old values
# when that transaction rolls back).
CATALOG_VERSION = "SELECT " + " || '/' || ".join(
    f"(SELECT count(*) || '.' || coalesce(sum(xmin::text::bigint), 0) FROM pg_catalog.{catalog})"
    for catalog in ("pg_namespace", "pg_class", "pg_attribute", "pg_constraint", "pg_description", "pg_type", "pg_enum", "pg_auth_members")
)


def catalog_version(conn: psycopg.Connection) -> str:
    """A fingerprint of the catalogs a schema is read from (CATALOG_VERSION), and of the
    search_path the names resolve on: before PostgreSQL 18 the server does not report a
    change of it (`SET search_path`, or `ALTER DATABASE ... SET` for the next session)."""
    with catalog_reads(conn) as path:
        row = conn.execute(CATALOG_VERSION, prepare=False).fetchone()
    return f"{','.join(path.effective)}/{row[0] if row else ''}"


def current_role(conn: psycopg.Connection) -> str:
    """The role the session acts as now (SET ROLE, `options=-c role=`), whose rights decide what
    a schema read sees; as text in a SQL_ASCII database too (where psycopg gives bytes)."""
    value = conn.execute("SELECT current_user").fetchone()[0]
    return value.decode(text_encoding(conn.info.encoding), "replace") if isinstance(value, bytes) else value


def _cache_key(conn: psycopg.Connection) -> tuple[str | None, ...]:
    """Where the connection points, and the role it acts as now (SET ROLE, `options=-c role=`:
    the proxy's clients share one cache, and sample values read with one role's rights were
    offered to a client that logged in as the same user but acts as another); search_path is
    reported by the server (PostgreSQL 18+). In a failed transaction nothing can be asked:
    no role, which no schema read is kept under."""
    info = conn.info
    role = None if info.transaction_status == TransactionStatus.INERROR else current_role(conn)
    return (info.host, str(info.port), info.get_parameters().get("dbname"), role, info.parameter_status("search_path"))


_Samples = dict[tuple[int, str], tuple[str, ...]]  # (table oid, column name) -> values


def _samples(
    cur: psycopg.Cursor, relations: list[Any], columns: dict[int, list[Any]], limit: int, max_distinct: int
) -> _Samples:
    """Values of low-cardinality text columns and elements of text array columns: probed on
    small tables, from statistics on larger ones (the same values whether or not the small
    table was analyzed yet); and the keys of JSON columns, from the first rows of any table.
    """
    text = {(c.oid, c.name) for cols in columns.values() for c in cols if c.is_text and not secret(c.name)}
    arrays = {(c.oid, c.name) for cols in columns.values() for c in cols if c.is_text_array and not secret(c.name)}
    found: _Samples = {}
    analyzed = [rel.oid for rel in relations if not rel.small]
    for row in cur.execute(_STATS, {"oids": analyzed, "max_distinct": max_distinct}):
        key = (row.oid, row.name)
        if key in text and not row.few:
            text.discard(key)  # too many distinct values: nothing to show, nothing to probe
        elif key in text and row.values:
            found[key] = tuple(row.values[:limit])
            text.discard(key)
        elif key in arrays and 0 < len(row.elements) <= max_distinct:
            found[key] = tuple(row.elements[:limit])
    found.update(_from_partitions(cur, [rel.oid for rel in relations if rel.kind == "p"], text, limit, max_distinct))

    def probes(kinds: set[tuple[int, str]], probe: sql.SQL, tables: list[Any]) -> list[sql.Composed]:
        return [
            probe.format(oid=rel.oid, name=c.name, col=sql.Identifier(c.name), table=sql.Identifier(rel.schema, rel.name), limit=max_distinct + 1, rows=KEY_PROBE_ROWS)
            for rel in tables
            for c in columns[rel.oid]
            if (rel.oid, c.name) in kinds
        ]

    small = [rel for rel in relations if rel.small]
    values = probes(text, _PROBE, small) + probes(arrays, _ELEMENT_PROBE, small)
    found.update((key, v[:limit]) for key, v in _probe(cur, values).items() if len(v) <= max_distinct)
    # The keys in a statement of their own: big documents that outlast its timeout lose only the keys.
    found = {key: shown for key, values in found.items() if (shown := tuple(v for v in values if not opaque(v)))}
    json = {(c.oid, c.name) for cols in columns.values() for c in cols if c.is_json}
    found.update((key, v[:MAX_JSON_KEYS]) for key, v in _probe(cur, probes(json, _KEY_PROBE, [r for r in relations if r.readable])).items())
    return found


def _from_partitions(cur: psycopg.Cursor, parents: list[int], text: set[tuple[int, str]], limit: int, max_distinct: int) -> _Samples:
    """Values of a partitioned table's text columns that its own statistics lack, from its
    partitions' (in their order): when each partition has few values and all of them
    together are few too. Those found leave ``text``."""
    wanted = {key for key in text if key[0] in parents}
    if not wanted:
        return {}
    merged: dict[tuple[int, str], dict[str, None]] = {}
    many: set[tuple[int, str]] = set()
    for row in cur.execute(_PARTITION_STATS, {"oids": sorted({oid for oid, _ in wanted}), "max_distinct": max_distinct}):
        key = (row.oid, row.name)
        if key in wanted:
            merged.setdefault(key, {}).update(dict.fromkeys(row.values or ()))
            if not row.few:
                many.add(key)
    found = {key: tuple(values)[:limit] for key, values in merged.items() if key not in many and 0 < len(values) <= max_distinct}
    text.difference_update(found)
    return found


def secret(column: str) -> bool:
    """Does the column's name say it holds a secret, whose values must never reach a prompt?
    Written with any separator or none: `"API Key"`, `access-key` and `apiKey` are api_key."""
    name = _SEPARATORS.sub("", column.lower())
    return any(part.replace("_", "") in name for part in SECRET_PARTS) or not SECRET_WORDS.isdisjoint(declared_words(column))


_SEPARATORS = re.compile(r"[\W_]+")  # anything between words: blanks, - _ . / : + and dashes


def opaque(value: str) -> bool:
    """A hash, a UUID or a token (long, unbroken, with digits), or anywhere in it a URL, a
    `user:secret@host`, a `password=`, an HTTP credential or a key block, of any length:
    nothing a question says, and each may hold a secret (`see https://admin:pw@intranet/`,
    `Server=db;Password=hunter2;`, `Bearer ...` were shown)."""
    return (
        _ADDRESS.search(value) is not None
        or holds_password(value)
        or _SECRET_TEXT.search(value) is not None
        or (len(value) >= OPAQUE_LENGTH and not any(c.isspace() for c in value) and any(c.isdigit() for c in value))
    )


_SECRET_TEXT = re.compile(r"\b(?:password|passwd|passphrase|pwd|secret|api[ _-]?key|token)\b", re.IGNORECASE)  # `my password is hunter2` in a note
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://|\bwww\.|[^\s:@/\"']+:[^\s@/]*@|\b(?:bearer|basic)\s+[\w+/=.~-]{16,}|-----BEGIN", re.IGNORECASE)


def _probe(cur: psycopg.Cursor, probes: list[sql.Composed]) -> _Samples:
    """Run the probes of small tables, PROBE_BATCH to a statement, until SAMPLING_TIMEOUT_MS
    have passed in all: what a batch that fails or runs out of time would have read is lost,
    not the other batches' (with 2,000 small tables one statement timed out, and every table,
    the one asked about too, came without samples)."""
    probes = [p for p in probes if _sendable(p, cur.connection)]
    found: _Samples = {}
    deadline = time.monotonic() + SAMPLING_TIMEOUT_MS / 1000
    batches = [probes[first : first + PROBE_BATCH] for first in range(0, len(probes), PROBE_BATCH)]
    while batches and (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
        batch = batches.pop(0)
        if (read := _probe_batch(cur, batch, left_ms)) is None and len(batch) > 1:
            batches[:0] = [[probe] for probe in batch]  # one of them failed: each alone, in the time left
        found.update(read or {})
    return found


def _probe_batch(cur: psycopg.Cursor, probes: list[sql.Composed], timeout_ms: int) -> _Samples | None:
    """One statement of probes, in a savepoint under a statement timeout: a table that cannot be
    read in time costs this batch's samples, never the schema; None: one could not be read."""
    started = time.monotonic()
    try:
        with cur.connection.transaction():
            cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(timeout_ms))
            rows = cur.execute(sql.SQL(" UNION ALL ").join(probes)).fetchall()
    except psycopg.errors.QueryCanceled:
        # a cancel before the timeout is the person's Ctrl-C: the question stops (the schema
        # read without its samples was cached for the session)
        if time.monotonic() - started < timeout_ms / 1000 * 0.9:
            raise
        return {}
    except psycopg.Error:  # not allowed, or not readable now (a materialized view never refreshed)
        return None
    return {(oid, name): tuple(values) for oid, name, values in rows if values}


def _sendable(probe: sql.Composed, conn: psycopg.Connection) -> bool:
    """Whether the client encoding can write the probe's names (under SQL_ASCII, psycopg's
    "ascii", a table named `café` cannot): such a table is not probed, the others are."""
    try:
        probe.as_bytes(conn)
    except UnicodeEncodeError:
        return False
    return True


_Ranges = dict[tuple[int, str], tuple[float, float]]  # (table oid, column name) -> (least, greatest)


def _ranges(cur: psycopg.Cursor, relations: list[Any], columns: dict[int, list[Any]]) -> _Ranges:
    """The least and greatest value of each number column: what a number holds (seconds since
    1970, a date written as digits, a count) shows in them where its name cannot tell.

    From statistics on larger tables; on small ones from one scan each (as samples are probed).
    """
    numbers = {(c.oid, c.name) for cols in columns.values() for c in cols if c.is_number}
    found: _Ranges = {}
    analyzed = [rel.oid for rel in relations if not rel.small]
    for row in cur.execute(_RANGE_STATS, {"oids": analyzed}):
        if (row.oid, row.name) in numbers and (bounds := _bounds([*(row.values or ()), *(row.bounds or ())])):
            found[row.oid, row.name] = bounds
    probes = []
    for rel in relations:
        names = [c.name for c in columns[rel.oid] if (rel.oid, c.name) in numbers] if rel.small else []
        if names:
            scans = sql.SQL(", ").join(sql.SQL("min({c})::text, max({c})::text").format(c=sql.Identifier(n)) for n in names)
            rows = sql.SQL(", ").join(sql.SQL("({n}::text, ARRAY[m[{i}], m[{j}]])").format(n=n, i=2 * k + 1, j=2 * k + 2) for k, n in enumerate(names))
            probes.append(
                sql.SQL("SELECT {oid}::oid, v.name, v.bounds FROM (SELECT ARRAY[{scans}] AS m FROM ONLY {table}) AS s, LATERAL (VALUES {rows}) AS v(name, bounds)").format(
                    oid=rel.oid, scans=scans, table=sql.Identifier(rel.schema, rel.name), rows=rows
                )
            )
    found.update((key, bounds) for key, values in _probe(cur, probes).items() if (bounds := _bounds(list(values))))
    return found


def _bounds(values: list[str | None]) -> tuple[float, float] | None:
    numbers = [float(v) for v in values if v is not None]
    return (min(numbers), max(numbers)) if numbers else None


def _table(rel: Any, columns: list[Any], constraints: list[Any], samples: _Samples, ranges: _Ranges) -> Table:
    primary_key = next((tuple(c.columns) for c in constraints if c.kind == "p"), ())
    foreign_keys = tuple(
        ForeignKey(tuple(c.columns), c.ref_schema, c.ref_table, tuple(c.ref_columns))
        for c in constraints
        if c.kind == "f"
    )
    return Table(
        schema=rel.schema,
        name=rel.name,
        kind=_KINDS[rel.kind],
        columns=tuple(
            Column(
                name=c.name,
                data_type=c.data_type,
                domain=c.domain,
                not_null=c.not_null,
                comment=c.comment,
                enum_labels=tuple(c.enum_labels),
                sample_values=samples.get((rel.oid, c.name), ()) if c.is_text else (),
                element_values=samples.get((rel.oid, c.name), ()) if c.is_text_array else (),
                json_keys=samples.get((rel.oid, c.name), ()) if c.is_json else (),
                is_text=c.is_text,
                value_range=ranges.get((rel.oid, c.name)),
            )
            for c in columns
        ),
        primary_key=primary_key,
        foreign_keys=foreign_keys,
        comment=rel.comment,
        row_estimate=rel.rows,
    )
