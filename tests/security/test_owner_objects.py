"""What a database's owner made cannot run inside the shell's own reads of that database.

The owner (not a superuser: the usual owner of an app's database) puts operators and
functions in public that match the shell's catalog SQL better than pg_catalog's does, puts
pg_catalog last on the database's search_path, and guards a table with a row-security
policy; each calls a function that takes an advisory lock and writes a row. Reading the
schema, its fingerprint, the completion snapshot, the proof and the value checks must
never call it, for the owner and for another user, and must still read the schema.
"""

from __future__ import annotations

import os

import psycopg
import pytest

from nl2sql_shell.nl2sql.literals import unfound_values
from nl2sql_shell.nl2sql.proof import prove
from nl2sql_shell.repl.metadata import load_metadata
from nl2sql_shell.schema.introspect import SchemaCache, read_schema

OWNER = f"owner_{os.getpid()}"
READER = f"reader_{os.getpid()}"

OBJECTS = """
CREATE SCHEMA private;
CREATE TABLE private.calls (what text);
CREATE FUNCTION public.effect(what text) RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  PERFORM pg_advisory_lock(4242);
  BEGIN INSERT INTO private.calls VALUES (what); EXCEPTION WHEN read_only_sql_transaction THEN NULL; END;
  RETURN true;
END $$;
CREATE TABLE orders (id int PRIMARY KEY, status text, doc jsonb);
INSERT INTO orders VALUES (1, 'open', '{"k": 1}'), (2, 'closed', '{"k": 2}');
CREATE TABLE plans (id int PRIMARY KEY, name text);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
CREATE TYPE public.jsonb AS ENUM ('{}');  -- named like pg_catalog's, with a cast into it
CREATE FUNCTION public.to_real_jsonb(public.jsonb) RETURNS pg_catalog.jsonb LANGUAGE sql
    BEGIN ATOMIC SELECT CASE WHEN public.effect('jsonb cast') THEN '{}'::pg_catalog.jsonb END; END;
CREATE CAST (public.jsonb AS pg_catalog.jsonb) WITH FUNCTION public.to_real_jsonb(public.jsonb);
CREATE TABLE documents (id int, body public.jsonb);
INSERT INTO documents VALUES (1, '{}');
GRANT SELECT ON orders, plans, documents TO PUBLIC;
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone ON orders FOR SELECT USING (public.effect('policy'));
-- code the planner folds when it plans any read of a table: the shell's samples are planned
CREATE FUNCTION public.folded(what text) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM public.effect(what); RETURN 0; END $$;
CREATE TABLE predicated (id int, kind text);
CREATE INDEX predicated_kind ON predicated (kind) WHERE id > public.folded('index predicate');
CREATE TABLE computed (id int, kind text);
CREATE INDEX computed_kind ON computed ((id + public.folded('index expression')));
CREATE TABLE counted (id int, kind text);
CREATE STATISTICS counted_kind ON (id + public.folded('statistics')), kind FROM counted;
CREATE TABLE checked (id int, kind text CHECK (length(kind) > public.folded('check')));
CREATE TABLE tags (id int, kind text);
CREATE INDEX tags_kind ON tags (kind) WHERE id > 0;  -- built-in code only: sampled
INSERT INTO predicated VALUES (1, 'red'); INSERT INTO computed VALUES (1, 'red');
INSERT INTO counted VALUES (1, 'red'); INSERT INTO checked VALUES (1, 'red'); INSERT INTO tags VALUES (1, 'red');
CREATE MATERIALIZED VIEW pending AS SELECT id, kind FROM tags WITH NO DATA;  -- never refreshed: unreadable
GRANT SELECT ON predicated, computed, counted, checked, tags, pending TO PUBLIC;
DELETE FROM private.calls;  -- the INSERTs above ran the index and CHECK code, as any write does
"""
# Each a better match for what the shell's SQL writes than pg_catalog's own.
SHADOWS = [
    ("bigint, text", "text", "||", "$1::text || $2"),  # count(*) || '.'
    ("oid, integer", "bool", "=", "$1 = $2::oid"),  # oid = ANY(%s), a Python list of ints
    ("oid, smallint", "bool", "=", "$1 = $2::oid"),
    ("real, integer", "bool", ">=", "$1 >= $2"),  # reltuples >= 0
    ("real, smallint", "bool", "<=", "$1 <= $2"),
    ("name, name", "bool", "!~", "$1::text !~ $2::text"),  # nspname !~ '^pg_'
    ("text, text", "bool", "=", "pg_catalog.texteq($1, $2)"),  # name = 'statement_timeout', read before the path is pinned
]
FUNCTIONS = [
    ("unnest(a text[])", "SETOF text", "SELECT pg_catalog.unnest(a)"),
    ("unnest(a name[])", "SETOF name", "SELECT pg_catalog.unnest(a)"),
    ("pg_relation_size(r oid)", "bigint", "SELECT pg_catalog.pg_relation_size(r::regclass)"),
    ("format_type(o oid, m text)", "text", "SELECT pg_catalog.format_type(o, m::int)"),
    ("obj_description(o oid, c text)", "text", "SELECT pg_catalog.obj_description(o, c::name)"),
]


def _owner_ddl() -> str:
    ddl = [OBJECTS]
    for number, (arguments, returns, operator, body) in enumerate(SHADOWS):
        ddl.append(
            f"CREATE FUNCTION public.shadow_{number}({arguments}) RETURNS {returns} LANGUAGE sql "
            f"BEGIN ATOMIC SELECT CASE WHEN public.effect('{operator}({arguments})') THEN {body} END; END;"
        )
        left, right = arguments.split(", ")
        ddl.append(f"CREATE OPERATOR public.{operator} (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = public.shadow_{number})")
    for signature, returns, body in FUNCTIONS:
        set_of = returns.startswith("SETOF")
        call = f"{body} WHERE public.effect('{signature}')" if set_of else f"SELECT CASE WHEN public.effect('{signature}') THEN ({body}) END"
        ddl.append(f"CREATE FUNCTION public.{signature} RETURNS {returns} LANGUAGE sql AS $f${call}$f$")
    return ";\n".join(ddl)


@pytest.fixture(scope="module")
def owned(pg_server):
    """A database owned by a role that is no superuser, with its objects; its name."""
    name = f"owned_{os.getpid()}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (OWNER, READER):
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
            admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw'")
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER}"')
        admin.execute(f'ALTER DATABASE "{name}" SET search_path = "$user", public, pg_catalog')
        admin.execute(f'ALTER DATABASE "{name}" SET constraint_exclusion = on')  # CHECK constraints are planned too
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        conn.execute(f'SET ROLE "{OWNER}"')
        conn.execute(_owner_ddl())
    yield name
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (OWNER, READER):
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _connect(pg_server, database: str, role: str) -> psycopg.Connection:
    return psycopg.connect(host=pg_server.host, port=pg_server.port, dbname=database, user=role, password="pw")


def _called(pg_server, database: str, conn: psycopg.Connection) -> list[str]:
    """What the owner's function recorded, and whether this session holds its lock."""
    with psycopg.connect(pg_server.conninfo(database), autocommit=True) as admin:
        calls = [row[0] for row in admin.execute("SELECT what FROM private.calls")]
    if conn.execute("SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) 'advisory' AND pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()").fetchone()[0]:
        calls.append("an advisory lock is held")
    return calls


@pytest.mark.parametrize("role", [OWNER, READER])
def test_the_shells_own_reads_run_nothing_the_owner_made(pg_server, owned, role):
    with _connect(pg_server, owned, role) as conn:
        conn.autocommit = True
        schema = read_schema(conn)
        assert _called(pg_server, owned, conn) == [], "read_schema"
        SchemaCache().get(conn)
        assert _called(pg_server, owned, conn) == [], "cache"
        metadata = load_metadata(conn)
        assert _called(pg_server, owned, conn) == [], "metadata"
        proof = prove(conn, "SELECT id, name FROM plans WHERE name <> 'x' ORDER BY id")
        assert _called(pg_server, owned, conn) == [], "prove"
        unfound = unfound_values(conn, schema, "SELECT id FROM plans WHERE name = 'enterprise'")
        assert _called(pg_server, owned, conn) == []
    # and the reads still read: the tables, the user's own search_path, the values checked
    assert {t.name for t in schema.tables} >= {"orders", "plans"}
    assert schema.search_path == ("public", "pg_catalog")
    assert schema.table("plans").column("name").sample_values == ("free", "pro")
    assert schema.table("orders").column("status").sample_values == ()  # its policy is not run to read it
    for planned in ("predicated", "computed", "counted", "checked"):  # nor are they planned
        assert schema.table(planned).column("kind").sample_values == ()
    assert schema.table("tags").column("kind").sample_values == ("red",)
    assert schema.table("pending") is None  # a materialized view never refreshed is not offered (its read fails), and stops nothing
    assert metadata.relation("plans") is not None
    # the owner's operators on built-in types may be reached by the statement's own `<>`
    assert not proof.proven and "may use operator !~(name,name), which is not known to be harmless" in proof.reasons
    assert unfound == ("plans.name = 'enterprise'",)


def test_a_question_in_the_users_open_transaction_leaves_it_as_it_was(pg_server, owned):
    """The pinned search_path and row security end with the shell's savepoint."""
    with _connect(pg_server, owned, READER) as conn:
        conn.execute("SELECT 1")  # the user's transaction is open
        read_schema(conn)
        load_metadata(conn)
        assert conn.execute("SHOW search_path").fetchone()[0] == '"$user", public, pg_catalog'
        assert conn.execute("SHOW row_security").fetchone()[0] == "on"
        assert conn.execute("SELECT count(*) FROM plans").fetchone()[0] == 2


def test_a_table_access_method_a_superuser_pointed_at_plpgsql_is_not_run_by_the_schema_read(pg_server):
    """pg_relation_size opens a relation, and opening one calls its table access method's
    handler; a superuser who set a user-made method's handler to plpgsql had the schema read
    run it (and fail). Such a table is listed, with no size and no samples."""
    from conftest import create_database

    conninfo = create_database(
        pg_server,
        f"table_am_{os.getpid()}",
        """
        CREATE TABLE calls (what text);
        CREATE FUNCTION public.handler() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_lock(4242); INSERT INTO public.calls VALUES ('handler'); RETURN NULL; END $$;
        CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
        CREATE TABLE readings (id int, kind text) USING heap2;
        INSERT INTO readings VALUES (1, 'red');
        CREATE TABLE parted (id int, kind text) PARTITION BY LIST (kind);
        CREATE TABLE parted_red PARTITION OF parted FOR VALUES IN ('red') USING heap2;
        UPDATE pg_am SET amhandler = 'public.handler'::regproc WHERE amname = 'heap2';
        """,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema = read_schema(conn)
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0] == 0
    assert schema.table("readings").column("kind").sample_values == () and schema.table("parted") is not None


def test_a_bare_name_a_partition_earlier_on_the_path_takes_is_not_read_as_the_listed_table(pg_server):
    """`ab` reads s0.ab, a partition the schema does not list; public.ab, later on the path,
    has an index expression calling the owner's code. The checks took `ab` for public.ab, and
    the value check planned a probe of public.ab (its expression ran, before any yes). Now
    `ab` is the partition the server reads (no missing table, and nothing to repair into
    public.ab), the probes plan only tables the proof finds harmless, and nothing runs."""
    from conftest import create_database
    from scripted import Scripted

    from nl2sql_shell.nl2sql.pipeline import Asker, Options

    name = f"namesakes_{os.getpid()}"
    conninfo = create_database(
        pg_server,
        name,
        """
        CREATE TABLE calls (what text);
        CREATE FUNCTION public.folded(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN PERFORM pg_advisory_lock(4242); RETURN t; END $$;
        CREATE SCHEMA s0;
        CREATE TABLE s0.pt (name text) PARTITION BY LIST (name);
        CREATE TABLE s0.ab PARTITION OF s0.pt DEFAULT;
        INSERT INTO s0.pt VALUES ('alice'), ('bob');
        CREATE TABLE public.ab (name text);
        INSERT INTO public.ab VALUES ('carol');
        CREATE INDEX ab_folded ON public.ab ((name || public.folded('x')));
        CREATE TABLE public.pg_roles (rolname text);
        """,
    )
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET search_path = s0, public')
    locked = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema = read_schema(conn)
        assert schema.table("ab") is None and schema.table("ab", "public") is not None
        assert schema.reference(schema.table("ab", "public")) == "public.ab"
        assert unfound_values(conn, schema, "SELECT name FROM public.ab WHERE name = 'zzz'") == ()  # not probed
        # pg_catalog is searched first where the path does not list it: `pg_roles` is the catalog's
        assert schema.table("pg_roles") is None and schema.reference(schema.table("pg_roles", "public")) == "public.pg_roles"
        answer = Asker(Scripted(["SELECT name FROM ab WHERE name = 'zzz'"]), Options(candidates=1, max_repairs=0)).ask("which ab names are zzz", conn)
        assert answer.sql is not None and "public" not in answer.sql  # as written: the partition
        assert conn.execute(locked).fetchone()[0] == 0
