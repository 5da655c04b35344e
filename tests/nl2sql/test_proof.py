"""The proof of harmlessness, on an ordinary app schema (not from any benchmark) with traps in it.

What runs without a typed yes must be proven harmless against this server's catalog: the
ordinary analytic queries an analyst asks for are proven, and every way of reaching code that
may have an effect (a function, a view, a policy, an operator, a cast, a type, a foreign
table, field notation, a SQL function's body) is not.
"""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from nl2sql_shell.db.execute import OneStatementCursor
from nl2sql_shell.nl2sql.pipeline import Asker, Options, result_fingerprint
from nl2sql_shell.nl2sql.proof import prove
from tests.conftest import create_database
from tests.scripted import Scripted

SETUP = """
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, country text, signed_up date);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2), placed_at timestamptz);
CREATE TABLE archived_orders () INHERITS (orders);
INSERT INTO customers VALUES (1, 'Ada', 'UK', '2024-01-05'), (2, 'Linus', 'FI', '2024-02-11');
INSERT INTO orders VALUES (1, 1, 10.50, '2024-03-01'), (2, 1, 5.25, '2024-03-02'), (3, 2, 99.00, '2024-04-01');

-- Code with an effect READ ONLY does not stop: a session advisory lock outlives the rollback.
CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION "grÄb"() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION grab_row(customers) RETURNS int LANGUAGE plpgsql STABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE moods (day date, how mood);
CREATE FUNCTION grab_plus(mood, int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN $2; END$$;
CREATE OPERATOR + (LEFTARG = mood, RIGHTARG = int, FUNCTION = grab_plus);
CREATE FUNCTION doubled(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
CREATE FUNCTION tripled(x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT x * 3; END;
CREATE FUNCTION wrapped() RETURNS int LANGUAGE sql AS $$ SELECT grab() $$;
CREATE FUNCTION order_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM orders $$;
CREATE FUNCTION customer_count() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM customers; END;
CREATE FUNCTION wrapped_atomic() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT grab(); END;
CREATE VIEW big_spenders AS SELECT c.name, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
CREATE VIEW trapped AS SELECT name, grab() AS g FROM customers;
CREATE SEQUENCE order_no;
CREATE VIEW numbered AS SELECT id, nextval('order_no') AS n FROM customers;
CREATE VIEW locked AS SELECT id, pg_try_advisory_lock(4242) AS l FROM customers;
CREATE FUNCTION notify_me() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT pg_notify('c', 'x'); END;
CREATE MATERIALIZED VIEW spend AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY customer_id;
CREATE TABLE notes (id int, body text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_mine ON notes USING (grab() = 1);
-- BEGIN ATOMIC bodies that write (a temporary table is writable under READ ONLY), and a view
-- whose ON INSERT rule never runs for a read
CREATE TABLE audit (what text);
CREATE FUNCTION logged() RETURNS int LANGUAGE sql BEGIN ATOMIC INSERT INTO audit VALUES ('x'); SELECT 1; END;
CREATE FUNCTION logged_cte() RETURNS bigint LANGUAGE sql BEGIN ATOMIC WITH d AS (INSERT INTO audit VALUES ('y') RETURNING 1) SELECT count(*) FROM d; END;
CREATE FUNCTION tidied() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM audit; SELECT 1; END;
CREATE VIEW audited AS SELECT what FROM audit;
CREATE RULE into_audit AS ON INSERT TO audited DO INSTEAD INSERT INTO audit VALUES (NEW.what);
"""

ORDINARY = [
    "SELECT count(*) FROM customers",
    "SELECT c.name, sum(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY spent DESC LIMIT 5",
    "SELECT date_trunc('month', placed_at) AS month, round(avg(total), 2) FROM orders WHERE placed_at >= now() - interval '1 year' GROUP BY 1 ORDER BY 1",
    "SELECT name FROM customers WHERE country IN ('UK', 'FI') AND name ILIKE 'a%' AND signed_up BETWEEN '2024-01-01' AND '2024-12-31'",
    "WITH firsts AS (SELECT customer_id, min(placed_at) AS first FROM orders GROUP BY customer_id) SELECT c.name, f.first FROM firsts f JOIN customers c ON c.id = f.customer_id",
    "SELECT name, rank() OVER (ORDER BY signed_up), count(*) FILTER (WHERE country = 'UK') OVER () FROM customers",
    "SELECT string_agg(name, ', ' ORDER BY name), extract(year FROM signed_up) FROM customers GROUP BY 2",
    "SELECT CAST(total AS text) || ' EUR', coalesce(country, '?'), to_char(placed_at, 'YYYY-MM') FROM orders JOIN customers ON customers.id = orders.customer_id",
    "SELECT * FROM big_spenders",
    "SELECT doubled(total), tripled(total) FROM orders",
    "SELECT how, count(*) FROM moods GROUP BY how ORDER BY how",
    "SELECT signed_up + 1 FROM customers",  # + on a date, and no mood in play: the mood operator is not reached
    "SELECT g FROM generate_series(1, 3) AS g",
    "SELECT random() < 2, gen_random_uuid() IS NOT NULL",
    "EXPLAIN SELECT * FROM orders",
    "SELECT * FROM pg_locks",
    "SELECT * FROM spend",  # a materialized view is read, its query does not run
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders'",
    "SELECT last_value, is_called FROM order_no",  # the sequence read as a relation: AccessShareLock
    "SELECT what FROM audited",
]

TRAPS = {
    "SELECT grab()": "calls grab()",
    "SELECT name FROM trapped": "reads view trapped",
    "SELECT * FROM notes": "row security policy only_mine",
    "SELECT how + 1 FROM moods": "operator +(mood,integer)",
    "SELECT c.grab_row FROM customers c": "calls grab_row(customers)",
    "SELECT wrapped()": "calls wrapped()",
    "SELECT grÄb()": 'calls "grÄb"()',  # PostgreSQL folds only ASCII letters: this is "grÄb"
    "SELECT GRÄB()": 'calls "grÄb"()',
    "SELECT wrapped_atomic()": "calls wrapped_atomic()",
    "SELECT logged()": "writes (a data-changing statement in a stored query)",
    "SELECT logged_cte()": "writes (a data-changing statement in a stored query)",
    "SELECT tidied()": "calls tidied()",
    # built-ins inside stored SQL, which the server records no dependency on
    "SELECT n FROM numbered": "reads view numbered",
    "SELECT id FROM locked": "reads view locked",
    "SELECT notify_me()": "calls notify_me()",
    "EXPLAIN SELECT grab()": "calls grab()",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')": "ts_rewrite(tsquery,text)",
    "SELECT query_to_xml('SELECT 1', true, true, '')": "query_to_xml",
    "SELECT pg_advisory_lock(4242)": "pg_advisory_lock",
    # holds RowExclusiveLock on the sequence to the transaction's end: ALTER SEQUENCE waits
    "SELECT pg_sequence_last_value('order_no')": "pg_sequence_last_value",
    "SELECT last_value FROM pg_sequences": "pg_sequences",
    "SELECT 1; SELECT grab()": "more than one statement",
    "SELECT 'a\\' , pg_terminate_backend(1) --'": "pg_terminate_backend",
}


@pytest.fixture(scope="module")
def shop(pg_server) -> str:
    return create_database(pg_server, "proof_shop", SETUP)


@pytest.fixture
def conn(shop):
    with psycopg.connect(shop, autocommit=True) as connection:
        yield connection


def _proof(conninfo: str, sql: str):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return prove(conn, sql)


def _lock_taken(shop: str) -> bool:
    with psycopg.connect(shop) as other:
        return bool(other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242").fetchone()[0])


@pytest.mark.parametrize("sql", ORDINARY)
def test_what_an_analyst_asks_is_proven(conn, sql):
    proof = prove(conn, sql)
    assert proof.proven, proof.reasons


# What the line before the yes says a proven statement reads: a comma's, ONLY's and TABLE's
# relations were left out, and those a SQL function's body reads
READS = {
    "SELECT count(*) FROM customers, orders": ("public.customers", "public.orders"),
    "SELECT count(*) FROM customers c, ONLY orders o WHERE o.customer_id = c.id": ("public.customers", "public.orders"),
    "SELECT * FROM ONLY orders WHERE id < 3": ("public.orders",),
    "TABLE customers": ("public.customers",),
    "SELECT count(*) FROM (TABLE orders) t": ("public.orders",),
    "WITH n AS (SELECT 1) SELECT count(*) FROM n, customers": ("public.customers",),
    "SELECT order_count()": ("public.orders",),
    "SELECT name, order_count() FROM customers": ("public.customers", "public.orders"),
    "SELECT customer_count()": ("public.customers",),  # a BEGIN ATOMIC body's, as the server stored it
}


@pytest.mark.parametrize("sql", sorted(READS))
def test_the_relations_read_are_named_as_the_server_resolves_them(conn, sql):
    proof = prove(conn, sql)
    assert proof.proven, proof.reasons
    assert proof.reads == READS[sql]


@pytest.mark.parametrize("sql", sorted(TRAPS))
def test_every_way_to_reach_code_with_an_effect_is_unproven_and_says_which(conn, shop, sql):
    proof = prove(conn, sql)
    assert not proof.proven
    assert any(TRAPS[sql] in reason for reason in proof.reasons), proof.reasons
    assert not _lock_taken(shop)  # proving ran none of it


def test_a_foreign_child_of_a_partitioned_table_makes_it_unproven(pg_server):
    """Reading the parent reads every partition; a foreign one may run a program."""
    ddl = """
    CREATE FOREIGN DATA WRAPPER nothing_fdw;
    CREATE SERVER elsewhere FOREIGN DATA WRAPPER nothing_fdw;
    CREATE TABLE readings (at date, value int) PARTITION BY RANGE (at);
    CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE FOREIGN TABLE readings_2025 PARTITION OF readings FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') SERVER elsewhere;
    """
    with psycopg.connect(create_database(pg_server, "proof_partitions", ddl), autocommit=True) as conn:
        proof = prove(conn, "SELECT avg(value) FROM readings")
        assert not proof.proven and any("foreign table readings_2025" in r for r in proof.reasons)
        assert prove(conn, "SELECT avg(value) FROM readings_2024").proven


# citext compares and prints through its extension's C functions, which nothing proves
# harmless; a table with one such column is still read harmlessly where the statement never
# touches that column, and not wherever it may.
EXTENSION_DDL = """
CREATE EXTENSION citext;
CREATE TABLE accounts (id int PRIMARY KEY, email citext, plan text);
CREATE TABLE plain (id int, accounts int);
CREATE FUNCTION tag(accounts) RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' $$;
CREATE VIEW account_emails AS SELECT id, email FROM accounts;
CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION pc(citext) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN grab(); END$$;
CREATE FUNCTION pf(accounts) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN grab(); END$$;
CREATE DOMAIN label AS text;
CREATE FUNCTION labelled(label) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN grab(); END$$;
CREATE FUNCTION with_default(x int DEFAULT grab()) RETURNS int LANGUAGE sql AS $$ SELECT x $$;
CREATE DOMAIN plain_row AS plain;
CREATE FUNCTION on_plain_row(plain_row) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN grab(); END$$;
CREATE TYPE cirange AS RANGE (subtype = citext);
CREATE TABLE spans (id int, during cimultirange[]);
"""

UNTOUCHED = [
    "SELECT count(*) FROM accounts",
    "SELECT id, plan FROM accounts WHERE id > 1 ORDER BY plan",
    "SELECT a.id, p.id FROM public.accounts AS a JOIN plain p ON p.id = a.id",
    "SELECT plain.id FROM plain, accounts",  # a comma's relation is read, its email is not
    "SELECT a.plan, count(*) FROM accounts a LEFT JOIN plain ON plain.id = a.id GROUP BY a.plan",
    "SELECT id FROM accounts WHERE id IN (SELECT id FROM plain)",
    "SELECT p.accounts FROM plain p JOIN accounts a USING (id)",  # a column named like the table
    "EXPLAIN SELECT id FROM accounts",
    "SELECT substring(plan FROM 1 FOR 2), extract(epoch FROM now()) FROM ONLY accounts WHERE id IS DISTINCT FROM 3",
    "SELECT (SELECT max(id) FROM accounts x WHERE x.id < a.id) FROM accounts a",
    "SELECT max(plan), min(a.id) FROM accounts a",  # max(citext) is not reached from a text column
    "SELECT id FROM spans",
]

TOUCHED = [
    "SELECT id FROM accounts WHERE email = 'a@b.c'",
    'SELECT id FROM accounts ORDER BY "email"',
    "SELECT * FROM accounts",
    "SELECT a.* FROM accounts a",
    "SELECT count(a.*) FROM accounts a",
    "SELECT a FROM accounts a",
    "SELECT accounts FROM accounts",
    "SELECT row_to_json(a) FROM accounts AS a",
    "SELECT (a).id FROM accounts a",
    "SELECT count(DISTINCT x) FROM accounts x",
    "SELECT id FROM accounts x WHERE x IS NOT NULL",
    "SELECT a.row_to_json FROM accounts a",  # field notation: row_to_json(a)
    "SELECT a.tag FROM accounts a",  # tag(a): its body is proven with the whole row in play
    "SELECT e FROM accounts AS a(i, e)",
    "SELECT id FROM accounts NATURAL JOIN plain",
    "TABLE accounts",
    "SELECT id FROM accounts*",
    "SELECT id FROM (accounts)",
    "SELECT a FROM plain, accounts a",  # a comma's relation, read whole through its alias
    "SELECT 1 FROM plain p JOIN accounts ON ARRAY[NULL, accounts] IS NOT NULL",  # a whole row after an ARRAY's comma
    "SELECT to_jsonb(s) FROM (SELECT * FROM accounts) s",
    "SELECT id FROM account_emails",
    "SELECT ROW(1, 'a@b.c', 'x')::accounts",
    'SELECT to_json(Ä) FROM accounts "Ä"',
    "SELECT id * 2 FROM accounts",  # a `*` the check does not tell from a star
    "SELECT trim(FROM a::text) FROM accounts a",  # FROM here takes a value: the whole row as text
    "SELECT 1 FROM accounts a JOIN accounts b ON a.id = b.id WHERE b.id IS DISTINCT FROM 1 AND ROW(1, 'x', 'y') IS DISTINCT FROM a",
    "SELECT 1 FROM accounts a JOIN accounts b ON a.id = b.id WHERE (SELECT b IS NULL)",
    "SELECT to_json(j) FROM (plain p JOIN accounts a ON p.id = a.id) AS j",
    # found by reading as an attacker would (each was proven once)
    "SELECT citext_eq('a', 'A')",  # a literal takes any type
    "SELECT pc('Abc')",
    "SELECT pc(NULL)",
    "SELECT pf(ROW(1, 'q', 'z'))",
    "SELECT labelled(plan) FROM accounts",  # text goes into a domain over text unwritten
    "SELECT with_default()",  # its argument's default calls grab()
    "SELECT p.on_plain_row FROM plain p",  # field notation on a domain over the row type
    "SELECT array_in('{Ab,cD}', 'citext'::regtype, -1)",  # citext's input, named by a value
    "SELECT definition FROM pg_views",  # prints stored expressions of any type
    "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef",
    "SELECT stxdexpr FROM pg_statistic_ext_data",  # statistics inside pg_statistic[]
    "SELECT during FROM spans",  # a multirange over a range of citext, in an array
    'SELECT y FROM accounts AS "select"(x, y)',  # a quoted keyword is an alias like any other
    'SELECT DISTINCT "left" FROM accounts AS "left"',
    "SELECT y FROM accounts AS system_user(x, y)",  # a keyword only from PostgreSQL 16
    f"SELECT DISTINCT {'x' * 63}b FROM accounts {'x' * 63}a",  # the same name: the server keeps 63 bytes
    "SELECT DISTINCT a FROM plain public, public.accounts a",  # public: a schema as well as an alias
    "SELECT a.x FROM plain public, public.accounts AS a(i, x)",
    'SELECT 1 FROM accounts a JOIN (SELECT true AS "from") s ON true WHERE "from" AND a::text ILIKE \'%x%\'',
    'SELECT trim("select" FROM a::text) FROM accounts a JOIN (SELECT \'x\' AS "select") s ON true',
]


@pytest.fixture(scope="module")
def extension_db(pg_server) -> str:
    return create_database(pg_server, "proof_extension_type", EXTENSION_DDL)


@pytest.mark.parametrize("sql", UNTOUCHED)
def test_a_table_with_an_unproven_column_type_is_read_harmlessly_without_that_column(extension_db, sql):
    proof = _proof(extension_db, sql)
    assert proof.proven, proof.reasons


@pytest.mark.parametrize("sql", TOUCHED)
def test_every_way_a_statement_may_read_the_unproven_column_is_unproven(extension_db, sql):
    proof = _proof(extension_db, sql)
    assert not proof.proven
    citext = "handles values of type citext, whose functions are not known to be harmless"
    calls = ("calls tag(accounts)", "calls pc(citext)", "calls citext_eq", "calls pf(accounts)", "calls labelled(label)",
             "calls with_default(integer)", "calls on_plain_row(plain_row)", "calls array_in")
    assert citext in proof.reasons or any(reason.startswith(calls) for reason in proof.reasons), proof.reasons


# Code that runs without a name in the statement: found by a third attacker's reading, each
# was proven once. Every function that may run is plpgsql with an effect, or an extension's C.
CATALOG_CODE = """
CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm; CREATE EXTENSION unaccent;
CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 0; END$$;
CREATE FUNCTION grab_text(text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN grab() = 0; END$$;
CREATE DOMAIN tag AS text CHECK (grab_text(VALUE));
CREATE TABLE posts (id int, tags text[], body text);
CREATE FUNCTION tag_count(x tag[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT cardinality(x) $$;
CREATE FUNCTION post_count(x posts[]) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN grab(); END$$;
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE moods (id int, m mood);
CREATE FUNCTION mood_cat(mood, int) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN grab()::text; END$$;
CREATE OPERATOR || (LEFTARG = mood, RIGHTARG = int, FUNCTION = mood_cat);
CREATE FUNCTION mood_text(mood) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN grab()::text; END$$;
CREATE CAST (mood AS text) WITH FUNCTION mood_text(mood) AS IMPLICIT;
CREATE TEXT SEARCH CONFIGURATION fr (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION fr ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;
CREATE TABLE docs (id int, body text, title text);
CREATE INDEX docs_trgm ON docs USING gin (body gin_trgm_ops);
CREATE TABLE orders (id int, total int);
CREATE INDEX orders_big ON orders (id) WHERE total > grab();
CREATE TABLE events (id int); CREATE TABLE events_a (CHECK (id > grab())) INHERITS (events);
CREATE TABLE sales (id int, amount int) PARTITION BY RANGE ((id + grab()));
CREATE TABLE sales_1 PARTITION OF sales FOR VALUES FROM (0) TO (100);
CREATE TABLE visits (id int, n int); CREATE STATISTICS visits_st ON (n + grab()) FROM visits;
"""

CODE_RUNS = {
    "SELECT tag_count(tags) FROM posts": "tag",  # text[] into tag[]: the domain's check runs
    "SELECT post_count(arr) FROM (SELECT array_agg(p) AS arr FROM posts p) s": "post_count",
    "SELECT %% 'a=>1'": "hstore",  # a literal takes the operator's type
    "SELECT 'ok' || 1": "operator ||(mood,integer)",
    "SELECT length(m) FROM moods": "mood -> text",  # an implicit cast nobody writes
    "SELECT id FROM moods WHERE m LIKE 'o%'": "mood -> text",
    "SELECT to_tsvector('fr', 'Hôtel')": "to_tsvector",  # unaccent's dictionary runs
    "SELECT id FROM docs WHERE body LIKE '%abc%'": "docs_trgm",
    "SELECT id FROM orders": "orders_big",  # the predicate's constant call is folded
    "SELECT id FROM events WHERE id = 1": "events_a",
    "SELECT amount FROM sales": "partition key",
    "SELECT id FROM visits WHERE n = 5": "visits_st",
}


# A fourth reading: values that arise inside other values (an enum out of an array, a row's
# field, a domain's base), casts the check cannot name, operator classes that prune partitions
# or answer `count(*)` from an index, and conversions.
ARISING = """
CREATE EXTENSION btree_gist;
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE perm AS ENUM ('read', 'admin');
CREATE TABLE users (id int, name text, perms perm[]);
CREATE FUNCTION perm_rank(p perm) RETURNS int LANGUAGE plpgsql STABLE AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION perm_plus(perm, int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE OPERATOR + (LEFTARG = perm, RIGHTARG = int, FUNCTION = perm_plus);
CREATE TYPE address AS (street text, hue perm);
CREATE TABLE shops (id int, addr address);
CREATE DOMAIN paid AS perm CHECK (VALUE IN ('admin'));
CREATE TABLE subs (id int, t paid, plain perm);
CREATE FUNCTION perm_int(perm) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE CAST (perm AS integer) WITH FUNCTION perm_int(perm);
CREATE FUNCTION perm_json(perm) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect()::text::json; END$$;
CREATE CAST (perm AS json) WITH FUNCTION perm_json(perm);
CREATE TABLE bookings (id int, room int, during tsrange, note text, EXCLUDE USING gist (room WITH =, during WITH &&));
CREATE FUNCTION latin1_to_sjis_conv(int, int, cstring, internal, int, bool) RETURNS int LANGUAGE internal STRICT AS 'pg_advisory_lock_int8';
CREATE DEFAULT CONVERSION latin1_to_sjis FOR 'LATIN1' TO 'SJIS' FROM latin1_to_sjis_conv;
"""

ARISES = {
    "SELECT perm_rank(p) FROM users, unnest(perms) p": "perm_rank",
    "SELECT p + 1 FROM users, unnest(perms) p": "+(perm,integer)",
    "SELECT perm_rank((addr).hue) FROM shops": "perm_rank",
    "SELECT perm_rank(t) FROM subs": "perm_rank",  # a domain over the enum
    "SELECT plain::integer FROM subs": "perm -> integer",  # `integer` is a keyword, not a name
    "SELECT CAST(plain AS int) FROM subs": "perm -> integer",
    "SELECT to_jsonb(plain) FROM subs": "perm -> json",  # the jsonb builders cast through json
    "SELECT count(*) FROM bookings": "bookings_room_during_excl",  # an index-only scan
    "SELECT pg_catalog.convert('\\x41'::bytea, 'LATIN1', 'SJIS')": "convert",
}


# A fifth: a user's default btree class for a built-in type (sorting json), an extension's
# index method (bloom), a range's bounds, an operator's negator. In a database of its own:
# json's class makes every comparison there unproven.
CLASSES = """
CREATE EXTENSION bloom;
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION json_cmp(json, json) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION json_lt(json, json) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1::text < $2::text $$;
CREATE FUNCTION json_eq(json, json) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1::text = $2::text $$;
CREATE OPERATOR < (LEFTARG = json, RIGHTARG = json, FUNCTION = json_lt);
CREATE OPERATOR = (LEFTARG = json, RIGHTARG = json, FUNCTION = json_eq);
CREATE OPERATOR CLASS json_btree_ops DEFAULT FOR TYPE json USING btree AS OPERATOR 1 <, OPERATOR 3 =, FUNCTION 1 json_cmp(json, json);
CREATE TABLE events (id int, payload json);
CREATE TABLE readings (id int, a int, b int, c text);
CREATE INDEX readings_bloom ON readings USING bloom (a, b);
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE FUNCTION mood_score(m mood) RETURNS int LANGUAGE plpgsql STABLE AS $$BEGIN RETURN effect(); END$$;
CREATE TYPE moodrange AS RANGE (subtype = mood);
CREATE TABLE spans (id int, span moodrange);
CREATE FUNCTION differ_text(text, text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR !~@ (LEFTARG = text, RIGHTARG = text, FUNCTION = differ_text);
CREATE OPERATOR <@ (LEFTARG = text, RIGHTARG = text, FUNCTION = texteq, NEGATOR = !~@);
CREATE TABLE people (id int, name text, nick text);
CREATE FUNCTION spread_hash(int, bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE OPERATOR CLASS spread_int_ops FOR TYPE int USING hash AS OPERATOR 1 =, FUNCTION 2 spread_hash(int, bigint);
CREATE TABLE tenant_events (tenant int, payload text) PARTITION BY HASH (tenant spread_int_ops);
CREATE TABLE tenant_events_0 PARTITION OF tenant_events FOR VALUES WITH (MODULUS 1, REMAINDER 0);
"""

# A seventh: a built-in type's values computed inside a view, where json's default class
# (its operators named so that no statement names them) sorts GREATEST; a view that locks.
STORED_TYPES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION json_cmp(json, json) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION json_lt(json, json) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1::text < $2::text $$;
CREATE FUNCTION json_eq(json, json) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1::text = $2::text $$;
CREATE OPERATOR #<# (LEFTARG = json, RIGHTARG = json, FUNCTION = json_lt);
CREATE OPERATOR #=# (LEFTARG = json, RIGHTARG = json, FUNCTION = json_eq);
CREATE OPERATOR CLASS json_sort_ops DEFAULT FOR TYPE json USING btree AS OPERATOR 1 #<#, OPERATOR 3 #=#, FUNCTION 1 json_cmp(json, json);
CREATE VIEW greatest_json AS SELECT GREATEST(to_json(1), to_json(2))::text AS g;
CREATE TABLE accounts (id int);
CREATE VIEW locking AS SELECT id FROM accounts FOR UPDATE;
CREATE TABLE notes (id int, a text, b text, same bool GENERATED ALWAYS AS (ARRAY[a::json] = ARRAY[b::json]) VIRTUAL);
CREATE TABLE kv (k int, v int);
"""

# A SQL/JSON function's RETURNING type in a view or a SQL function: the value comes through
# the type's input function, so a domain's CHECK runs with no CoerceToDomain node (PG 17 on).
JSON_RETURNING = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION checked(text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() = 1; END$$;
CREATE DOMAIN checked_text AS text CHECK (checked(VALUE));
CREATE DOMAIN checked_jsonb AS jsonb CHECK (checked(VALUE::text));
CREATE TABLE docs (j jsonb);
CREATE VIEW json_value_domain AS SELECT JSON_VALUE(j, '$.a' RETURNING checked_text)::text AS x FROM docs;
CREATE VIEW json_query_domain AS SELECT JSON_QUERY(j, '$.a' RETURNING checked_jsonb)::text AS x FROM docs;
CREATE VIEW json_query_domains AS SELECT JSON_QUERY(j, '$.a' RETURNING checked_text[])::text AS x FROM docs;
CREATE FUNCTION json_value_of(jsonb) RETURNS text LANGUAGE sql STABLE BEGIN ATOMIC SELECT JSON_VALUE($1, '$.a' RETURNING checked_text)::text; END;
CREATE VIEW json_value_text AS SELECT JSON_VALUE(j, '$.a' RETURNING text) AS x FROM docs;
"""

# Built-ins that run the input function (and a domain's checks) of a type given as data: a
# type name as text, a type's OID as a number. A non-superuser reaches them through a view,
# a SQL function's body or argument default, or an operator's function.
TYPE_DISPATCH_CALLS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION noisy(text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() = 1; END$$;
CREATE DOMAIN dom AS text CHECK (noisy(VALUE));
CREATE TYPE comp AS (a dom);
CREATE TABLE t (id int, x text);
INSERT INTO t VALUES (1, 'hello');
CREATE VIEW v_valid AS SELECT pg_input_is_valid(x, 'dom') AS ok FROM t;
CREATE FUNCTION make_view() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE VIEW v_rec AS SELECT record_in((''('' || x || '')'')::cstring, %s::oid, -1)::text AS r FROM t', 'comp'::regtype::oid);
  EXECUTE format('CREATE VIEW v_arr AS SELECT array_in((''{'' || x || ''}'')::cstring, %s::oid, -1)::text AS r FROM t', 'dom'::regtype::oid);
  EXECUTE format('CREATE FUNCTION g_atomic(text) RETURNS text LANGUAGE sql STABLE BEGIN ATOMIC SELECT array_in((''{'' || $1 || ''}'')::cstring, %s::oid, -1)::text; END', 'dom'::regtype::oid);
END $$;
SELECT make_view();
CREATE FUNCTION h(s text, ok bool DEFAULT pg_input_is_valid('from a default', 'dom')) RETURNS bool LANGUAGE sql STABLE AS $$ SELECT ok $$;
CREATE OPERATOR -|- (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_catalog.pg_input_is_valid);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE pairs (p pair, ps pair[]);
"""

# A superuser's default class for point, which no statement names: `b[1]` of a box is one.
POINT_CLASS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION point_cmp(point, point) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION point_lt(point, point) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1[0] < $2[0] $$;
CREATE FUNCTION point_eq(point, point) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT $1[0] = $2[0] $$;
CREATE OPERATOR |<| (LEFTARG = point, RIGHTARG = point, FUNCTION = point_lt);
CREATE OPERATOR |=| (LEFTARG = point, RIGHTARG = point, FUNCTION = point_eq);
CREATE OPERATOR CLASS point_sort_ops DEFAULT FOR TYPE point USING btree AS OPERATOR 1 |<|, OPERATOR 3 |=|, FUNCTION 1 point_cmp(point, point);
CREATE TABLE shapes (id int, b box);
"""

# The default class's own family is harmless; the server compares with the first family that
# holds its `<<<`, made earlier (its in_range too, for window frames).
CIRCLE_CLASS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION circle_sorted(circle, circle) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT btfloat8cmp(area($1), area($2)) $$;
CREATE FUNCTION circle_ranked(circle, circle) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE OPERATOR <<< (LEFTARG = circle, RIGHTARG = circle, FUNCTION = circle_lt);
CREATE OPERATOR === (LEFTARG = circle, RIGHTARG = circle, FUNCTION = circle_eq);
CREATE OPERATOR FAMILY circle_first USING btree;
ALTER OPERATOR FAMILY circle_first USING btree ADD OPERATOR 1 <<< (circle, circle), OPERATOR 3 === (circle, circle), FUNCTION 1 circle_ranked(circle, circle);
CREATE OPERATOR FAMILY circle_own USING btree;
CREATE OPERATOR CLASS circle_ops DEFAULT FOR TYPE circle USING btree FAMILY circle_own AS OPERATOR 1 <<<, OPERATOR 3 ===, FUNCTION 1 circle_sorted(circle, circle);
CREATE TABLE rings (id int, c circle);
"""

# A ninth: where the tokenizer and PostgreSQL's lexer read the text apart (a space outside
# ASCII, a comment in a comment, a command's text), records becoming any composite type,
# field notation through a cast, agg(*), syntax that calls pg_catalog functions by other names.
PARSING = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TABLE acct (id int, name text);
CREATE FUNCTION "lower\u00a0"(text) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
CREATE FUNCTION tidy(x int) RETURNS int LANGUAGE sql STABLE AS $$ SELECT x /* a /* b */* */ + 0 * effect() -- */
$$;
CREATE TYPE pt AS (a int, b int);
CREATE FUNCTION pt_hit(int, pt) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR && (LEFTARG = int, RIGHTARG = pt, FUNCTION = pt_hit);
CREATE FUNCTION pt_norm(pt) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE CAST (acct AS text) WITH INOUT AS IMPLICIT;
CREATE FUNCTION label(text) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
CREATE FUNCTION tally_step(bigint) RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE AGGREGATE tally(*) (SFUNC = tally_step, STYPE = bigint, INITCOND = '0');
CREATE DOMAIN code AS text;
CREATE TABLE items (id int, sku code, pattern varchar(20), n int);
CREATE FUNCTION pg_catalog.like_escape(varchar, text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
CREATE FUNCTION pg_catalog.unnest(point[]) RETURNS SETOF point LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM public.effect(); END$$;
CREATE FUNCTION share_step(bigint, int) RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION share_final(bigint, float8, int) RETURNS bigint LANGUAGE sql AS 'SELECT $1';
CREATE AGGREGATE share(float8 ORDER BY int) (SFUNC = share_step, STYPE = bigint, FINALFUNC = share_final, FINALFUNC_EXTRA);
CREATE FUNCTION pg_catalog.btrim(code) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
CREATE FUNCTION pg_catalog.timezone(code, timestamptz) RETURNS timestamp LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN now(); END$$;
"""

# A tenth: type names inside text run the type's typmod_in, format_type its typmod_out.
TYPE_NAMES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE modty;
CREATE FUNCTION modty_in(cstring) RETURNS modty LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION modty_out(modty) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE FUNCTION modty_typmod(cstring[]) RETURNS int4 LANGUAGE plpgsql IMMUTABLE STRICT AS $$BEGIN RETURN effect(); END$$;
CREATE TYPE modty (INPUT = modty_in, OUTPUT = modty_out, TYPMOD_IN = modty_typmod, INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
CREATE FUNCTION takes_mod(modty) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE TABLE gauges (id int, reading modty(3));
"""

# An eighth: a superuser changed built-ins' own catalog rows, keeping their OIDs: a support
# function on btrim and on int4pl (the function of integer +), money's typmod_in, a plpgsql
# body for pg_catalog.lpad, pg_advisory_lock made STABLE and renamed.
ALTERED_BUILT_INS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION locking_support(internal) RETURNS internal LANGUAGE internal STRICT AS 'pg_advisory_lock_int8';
ALTER FUNCTION pg_catalog.btrim(text) SUPPORT locking_support;
ALTER FUNCTION pg_catalog.int4pl(integer, integer) SUPPORT locking_support;
CREATE FUNCTION money_typmod(cstring[]) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
ALTER TYPE pg_catalog.money SET (TYPMOD_IN = money_typmod);
CREATE OR REPLACE FUNCTION pg_catalog.lpad(text, integer) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
ALTER FUNCTION pg_catalog.pg_advisory_lock(bigint) STABLE;
ALTER FUNCTION pg_catalog.pg_advisory_lock(bigint) RENAME TO hold_slot;
CREATE TABLE items (id int, name text);
CREATE TABLE notes (id int, a text, padded text GENERATED ALWAYS AS (lpad(a, 3)) VIRTUAL);
CREATE FUNCTION larger(int, int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
UPDATE pg_aggregate SET aggtransfn = 'larger(int,int)'::regprocedure WHERE aggfnoid = 'pg_catalog.max(int)'::regprocedure;
CREATE FUNCTION canonical(int4range) RETURNS int4range LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN $1; END$$;
UPDATE pg_range SET rngcanonical = 'canonical(int4range)'::regprocedure WHERE rngtypid = 'int4range'::regtype;
"""

# A twelfth: operators the planner takes from a family by strategy, never written: a partial
# index's `<` implies through the family's `>=`, a merge join's `=` sorts with its `<`.
FAMILIES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION box_bigger(box, box) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR %>=% (LEFTARG = box, RIGHTARG = box, FUNCTION = box_bigger);
CREATE OPERATOR FAMILY box_family USING btree;
ALTER OPERATOR FAMILY box_family USING btree ADD OPERATOR 1 <(box, box), OPERATOR 4 %>=%(box, box);
CREATE TABLE plots (id int, area box);
CREATE INDEX small_plots ON plots (id) WHERE area < box '((0,0),(10,10))';
CREATE TYPE hue AS ENUM ('red', 'green', 'blue');
CREATE FUNCTION hue_eq(hue, hue) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT enum_eq($1, $2)';
CREATE FUNCTION hue_cmp(hue, hue) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT enum_cmp($1, $2)';
CREATE FUNCTION hue_lt(hue, hue) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR = (LEFTARG = hue, RIGHTARG = hue, FUNCTION = hue_eq, RESTRICT = eqsel, JOIN = eqjoinsel, MERGES);
CREATE OPERATOR %<% (LEFTARG = hue, RIGHTARG = hue, FUNCTION = hue_lt);
CREATE OPERATOR FAMILY hue_family USING btree;
ALTER OPERATOR FAMILY hue_family USING btree ADD OPERATOR 1 %<%(hue, hue), OPERATOR 3 =(hue, hue), FUNCTION 1 (hue, hue) hue_cmp(hue, hue);
CREATE TABLE paints (id int, h hue);
CREATE TABLE walls (id int, h hue);
"""

# A thirteenth: types a statement handles without naming them. ARRAY[m] and array_agg(m) make
# an array of a user's enum, range_agg(r) a multirange, each sorted and hashed by its own
# default class; json, which has no class of its own, is sorted by the class of a type it
# converts to without a function; a SQL function's support function set by a catalog UPDATE.
UNNAMED_TYPES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE diary (id int, m mood, tags text);
CREATE FUNCTION moods_cmp(mood[], mood[]) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() - 1; END$$;
CREATE FUNCTION moods_lt(mood[], mood[]) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1::anyarray < $2::anyarray';
CREATE OPERATOR <<<< (LEFTARG = mood[], RIGHTARG = mood[], FUNCTION = moods_lt);
CREATE OPERATOR CLASS moods_ops DEFAULT FOR TYPE mood[] USING btree AS OPERATOR 1 <<<<, FUNCTION 1 moods_cmp(mood[], mood[]);
CREATE TYPE tag AS ENUM ('new', 'old');
CREATE FUNCTION text_tags(text) RETURNS tag[] LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN '{}'; END$$;
CREATE CAST (text AS tag[]) WITH FUNCTION text_tags(text);
CREATE TYPE span AS RANGE (subtype = int4);
CREATE TABLE spans (id int, r span);
CREATE FUNCTION spans_cmp(span_multirange, span_multirange) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() - 1; END$$;
CREATE FUNCTION spans_lt(span_multirange, span_multirange) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1::anymultirange < $2::anymultirange';
CREATE OPERATOR <<<< (LEFTARG = span_multirange, RIGHTARG = span_multirange, FUNCTION = spans_lt);
CREATE OPERATOR CLASS spans_ops DEFAULT FOR TYPE span_multirange USING btree AS OPERATOR 1 <<<<, FUNCTION 1 spans_cmp(span_multirange, span_multirange);
CREATE FUNCTION covered(span_multirange) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE TYPE jt;
CREATE FUNCTION jt_in(cstring) RETURNS jt LANGUAGE internal IMMUTABLE STRICT AS 'textin';
CREATE FUNCTION jt_out(jt) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
CREATE TYPE jt (INPUT = jt_in, OUTPUT = jt_out, LIKE = text);
CREATE CAST (json AS jt) WITHOUT FUNCTION AS IMPLICIT;
CREATE FUNCTION jt_cmp(jt, jt) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() - 1; END$$;
CREATE FUNCTION jt_lt(jt, jt) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT false';
CREATE OPERATOR <<<< (LEFTARG = jt, RIGHTARG = jt, FUNCTION = jt_lt);
CREATE OPERATOR CLASS jt_ops DEFAULT FOR TYPE jt USING btree AS OPERATOR 1 <<<<, FUNCTION 1 jt_cmp(jt, jt);
CREATE TABLE docs (id int, body json);
CREATE FUNCTION locking_support(internal) RETURNS internal LANGUAGE internal STRICT AS 'pg_advisory_lock_int8';
CREATE FUNCTION plain_one() RETURNS int LANGUAGE sql AS 'SELECT 1';
UPDATE pg_proc SET prosupport = 'locking_support(internal)'::regprocedure WHERE oid = 'plain_one()'::regprocedure;
"""

# A fourteenth: plpgsql renamed to sql by a superuser, and a plpgsql function given the stored
# body of a harmless BEGIN ATOMIC one (the plpgsql handler runs its source text).
RENAMED_LANGUAGES = """
CREATE FUNCTION harmless() RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT 1; END;
CREATE FUNCTION answer() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4343); RETURN 42; END$$;
UPDATE pg_proc SET prosqlbody = (SELECT prosqlbody FROM pg_proc WHERE proname = 'harmless') WHERE proname = 'answer';
ALTER LANGUAGE sql RENAME TO sql_std;
ALTER LANGUAGE plpgsql RENAME TO sql;
"""

# A fifteenth, from one more attacker: an operand cast to `unknown` takes any operator's type;
# a CHECK added to a built-in domain; point, which has no default class, converted without a
# function to a user's type whose class then sorts it (`@@ box` is a point, never named); an
# operator whose row was changed to take a domain with a CHECK; a literal beside an operator the
# grammar implies (BETWEEN, IN, NULLIF); a view's window frame whose in_range function lost its
# catalog rows.
UNSEEN_OPERANDS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION checked(anyelement) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE TYPE mood AS ENUM ('a', 'b');
CREATE FUNCTION moodop(mood, int) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR @@@ (LEFTARG = mood, RIGHTARG = int, FUNCTION = moodop);
ALTER DOMAIN information_schema.cardinal_number ADD CONSTRAINT w CHECK (checked(VALUE));
CREATE DOMAIN dchk AS int CHECK (checked(VALUE));
CREATE OPERATOR %%% (LEFTARG = int, RIGHTARG = int, FUNCTION = int4pl);
UPDATE pg_operator SET oprleft = 'dchk'::regtype WHERE oprname = '%%%' AND oprright = 'int'::regtype;
CREATE TYPE secret AS ENUM ('a', 'b');
CREATE TABLE diary (id int, m mood);
CREATE FUNCTION mood_secret(mood, secret) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR >= (LEFTARG = mood, RIGHTARG = secret, FUNCTION = mood_secret);
CREATE OPERATOR = (LEFTARG = mood, RIGHTARG = secret, FUNCTION = mood_secret);
CREATE TYPE off AS ENUM ('one', 'two');
CREATE TABLE nums (n int);
CREATE FUNCTION my_in_range(int4, int4, off, bool, bool) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
ALTER OPERATOR FAMILY integer_ops USING btree ADD FUNCTION 3 (int4, off) my_in_range(int4, int4, off, bool, bool);
CREATE VIEW win AS SELECT n, count(*) OVER (ORDER BY n RANGE BETWEEN 'one'::off PRECEDING AND CURRENT ROW) AS c FROM nums;
DELETE FROM pg_depend WHERE refclassid = 'pg_proc'::regclass AND refobjid = 'my_in_range'::regproc AND classid = 'pg_rewrite'::regclass;
DELETE FROM pg_depend WHERE classid = 'pg_amproc'::regclass AND objid IN (SELECT oid FROM pg_amproc WHERE amproc = 'my_in_range'::regproc);
DELETE FROM pg_amproc WHERE amproc = 'my_in_range'::regproc;
"""
POINT_CAST = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE u;
CREATE FUNCTION u_in(cstring) RETURNS u LANGUAGE internal IMMUTABLE STRICT AS 'point_in';
CREATE FUNCTION u_out(u) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'point_out';
CREATE TYPE u (INPUT = u_in, OUTPUT = u_out, INTERNALLENGTH = 16, ALIGNMENT = double);
CREATE FUNCTION u_cmp(u, u) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect() - 1; END$$;
CREATE FUNCTION u_lt(u, u) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT false';
CREATE OPERATOR &<< (LEFTARG = u, RIGHTARG = u, FUNCTION = u_lt);
CREATE OPERATOR CLASS u_ops DEFAULT FOR TYPE u USING btree AS OPERATOR 1 &<<, FUNCTION 1 u_cmp(u, u);
CREATE CAST (point AS u) WITHOUT FUNCTION AS IMPLICIT;
CREATE TABLE boxes (id int, b box);
"""

# A sixteenth: built-in index classes whose families a superuser changed (a GIN array_ops
# compare function added, a BRIN minmax strategy pointed at another operator): an index's
# built-in class has no pg_depend row, and a scan of it runs the family's members.
INDEX_FAMILIES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TABLE garr (id int, arr int4[]);
CREATE INDEX garr_gin ON garr USING gin (arr);
CREATE FUNCTION gin_cmp(a int4, b int4) RETURNS int4 LANGUAGE plpgsql AS $$BEGIN RETURN effect() - 1; END$$;
ALTER OPERATOR FAMILY pg_catalog.array_ops USING gin ADD FUNCTION 1 (anyarray, anyarray) gin_cmp(int4, int4);
CREATE TABLE gbrin (c int4, note text);
CREATE INDEX gbrin_brin ON gbrin USING brin (c);
CREATE FUNCTION le(a int4, b int4) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR <=~ (LEFTARG = int4, RIGHTARG = int4, FUNCTION = le);
UPDATE pg_amop SET amopopr = '<=~(int4,int4)'::regoperator
 WHERE amopfamily = (SELECT f.oid FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod WHERE a.amname = 'brin' AND f.opfname = 'integer_minmax_ops')
   AND amoplefttype = 'int4'::regtype AND amoprighttype = 'int4'::regtype AND amopstrategy = 2;
"""

# A seventeenth: handlers the server finds through a catalog row, not through anything the
# statement names: a foreign-data wrapper's (built-ins that open a relation ask it whether
# it is updatable), a table access method's (every scan, and sizes). (An index access method's
# is judged the same way; PostgreSQL 18 also calls it to plan any comparison of a type it has
# a class for, even in the proof's own reads, so it is not planted here.)
HANDLERS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION handler() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN NULL; END$$;
CREATE FOREIGN DATA WRAPPER w_hidden;
CREATE SERVER s_hidden FOREIGN DATA WRAPPER w_hidden;
CREATE FOREIGN TABLE ft_hidden (a int) SERVER s_hidden;
UPDATE pg_foreign_data_wrapper SET fdwhandler = 'handler'::regproc WHERE fdwname = 'w_hidden';
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE TABLE t_heap2 (a int CONSTRAINT positive CHECK (a > 0)) USING heap2;
CREATE TABLE holder (id int, r t_heap2);
CREATE TYPE wrap AS (x t_heap2);
CREATE DOMAIN in_heap2 AS t_heap2;
CREATE TABLE t_toast (id int, a text);
UPDATE pg_class SET relam = (SELECT oid FROM pg_am WHERE amname = 'heap2') WHERE oid = (SELECT reltoastrelid FROM pg_class WHERE relname = 't_toast');
UPDATE pg_am SET amhandler = 'handler'::regproc WHERE amname = 'heap2';
CREATE ACCESS METHOD btree2 TYPE INDEX HANDLER bthandler;
CREATE TABLE ti (a int);
CREATE INDEX ti_idx ON ti (a);
UPDATE pg_class SET relam = (SELECT oid FROM pg_am WHERE amname = 'btree2') WHERE oid = 'ti_idx'::regclass;
UPDATE pg_am SET amhandler = 'handler'::regproc WHERE amname = 'btree2';
"""

# A nineteenth: a partition whose parent's partition key calls a function; planning a read
# of the partition builds that key (and checks the partition's constraint when
# constraint_exclusion is on), and so do built-ins given any partition.
PARTITION_KEYS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION shift() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM effect(); RETURN 0; END$$;
CREATE TABLE events (a int, b int) PARTITION BY RANGE ((a + shift()));
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM (0) TO (100) PARTITION BY RANGE (b);
CREATE TABLE events_2026_q1 PARTITION OF events_2026 FOR VALUES FROM (0) TO (100);
CREATE TABLE plain_parts (a int, b int) PARTITION BY RANGE (a);
CREATE TABLE plain_parts_1 PARTITION OF plain_parts FOR VALUES FROM (0) TO (100);
"""

# An eighteenth: a polymorphic SQL function, whose body's `&&` is resolved per call on a type
# that comes into play only later (a user operator's result); an array type whose category
# a superuser changed (its elements still come from subscripts); a SQL function reached from
# a view whose pg_depend row to its argument type was deleted.
LATE_TYPES = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE TYPE e4 AS ENUM ('a', 'b');
CREATE FUNCTION e4_both(e4, e4) RETURNS bool LANGUAGE plpgsql AS $$BEGIN RETURN effect() = 1; END$$;
CREATE OPERATOR && (LEFTARG = e4, RIGHTARG = e4, FUNCTION = e4_both);
CREATE FUNCTION h4(anyelement) RETURNS bool LANGUAGE sql AS 'SELECT $1 && $1';
CREATE FUNCTION to_e4(numeric, numeric) RETURNS e4 LANGUAGE sql AS $$SELECT 'a'::e4$$;
CREATE OPERATOR # (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = to_e4);
CREATE TABLE t6 (id int, v e4[]);
UPDATE pg_type SET typcategory = 'U' WHERE oid = '_e4'::regtype;
CREATE FUNCTION k7(e4) RETURNS bool LANGUAGE sql AS 'SELECT $1 && $1';
CREATE VIEW v7 AS SELECT k7('a'::e4) AS r;
DELETE FROM pg_depend WHERE classid = 'pg_proc'::regclass AND objid = 'k7(e4)'::regprocedure AND refclassid = 'pg_type'::regclass;
CREATE DOMAIN checked_text AS text CHECK (effect() = 1);
CREATE FUNCTION outf(OUT x checked_text, OUT y int) LANGUAGE sql AS $$ SELECT 'abc'::text, 1 $$;
CREATE FUNCTION outt() RETURNS TABLE (x checked_text, y int) LANGUAGE sql AS $$ SELECT 'abc'::text, 1 $$;
DELETE FROM pg_depend WHERE classid = 'pg_proc'::regclass AND objid IN ('outf'::regproc, 'outt'::regproc) AND refclassid = 'pg_type'::regclass;
"""

# A twentieth: words the tokenizer keeps whole that PostgreSQL splits (`user-defined(1)` is
# `current_user - defined(1)`), and EXPLAIN of a write, whose planning folds its target's
# defaults; each also inside a SQL function's body.
HIDDEN_WORDS = """
CREATE FUNCTION effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END$$;
CREATE FUNCTION defined(int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION name_minus(name, int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE OPERATOR - (LEFTARG = name, RIGHTARG = int, FUNCTION = name_minus);
CREATE FUNCTION order_total(int) RETURNS int LANGUAGE sql AS 'SELECT user-defined($1)';
CREATE FUNCTION stamp() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN effect(); END$$;
CREATE TABLE audit_log (id int, note text, stamped int DEFAULT stamp());
CREATE FUNCTION log_size() RETURNS int LANGUAGE sql AS 'EXPLAIN INSERT INTO audit_log DEFAULT VALUES; SELECT 1';
CREATE DOMAIN pat AS text;
CREATE TABLE pt (p pat);
CREATE FUNCTION pg_catalog.similar_to_escape(pat) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN pg_catalog.similar_to_escape($1::text); END$$;
CREATE TYPE mood AS ENUM ('happy');
CREATE FUNCTION mood_json(mood) RETURNS json LANGUAGE plpgsql AS $$BEGIN PERFORM effect(); RETURN '"x"'::json; END$$;
CREATE CAST (mood AS json) WITH FUNCTION mood_json(mood);
CREATE TABLE person (id int, m mood);
CREATE TABLE t (id int);
CREATE FUNCTION sort(t) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE FUNCTION "order"(t) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE VIEW "double" AS SELECT effect() AS v;
CREATE TABLE fa (x int);
CREATE TABLE fb (f int);
CREATE FUNCTION fa_text(fa) RETURNS text LANGUAGE sql AS $$SELECT 'row'$$;
CREATE CAST (fa AS text) WITH FUNCTION fa_text(fa) AS IMPLICIT;
CREATE FUNCTION f(text) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
CREATE TABLE t1 (f int, g int);
CREATE FUNCTION f(integer) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN effect(); END$$;
"""

RUNS_IN = {
    "catalog_code": (CATALOG_CODE + ARISING, CODE_RUNS | ARISES),
    "classes": (
        CLASSES,
        {
            "SELECT DISTINCT payload FROM events": "json, whose default operator class",
            "SELECT id, c FROM readings WHERE a = 7": "readings_bloom",  # bloom's handler loads it
            "SELECT mood_score(x) FROM (SELECT lower(span) AS x FROM spans) s": "mood_score",
            "SELECT id FROM people WHERE NOT (name <@ nick)": "<@(text,text)",  # the planner runs its negator
            "SELECT payload FROM tenant_events WHERE tenant = 2": "partition key",  # pruning hashes 2
        },
    ),
    "altered_built_ins": (
        ALTERED_BUILT_INS,
        {
            "SELECT btrim(name) FROM items": "calls btrim(text)",
            "SELECT id + 1 FROM items": "operator +(integer,integer)",
            "SELECT CAST('5' AS money(2))": "type money",
            "SELECT lpad(name, 6) FROM items": "calls lpad(text,integer)",
            "SELECT hold_slot(4242)": "calls hold_slot(bigint)",
            "SELECT padded FROM notes": "generated column padded",  # computed on every read
            "SELECT max(id) FROM items": "calls max(integer)",  # its transition function changed
            "SELECT int4range(1, 5)": "type int4range",  # its canonical function changed
            "SELECT amname, pg_indexam_has_property(oid, 'can_order') FROM pg_am": "pg_indexam_has_property",
        },
    ),
    "stored_types": (
        STORED_TYPES,
        {
            "SELECT g FROM greatest_json": "json, whose default operator class",
            "SELECT id FROM locking": "locks rows",
            "SELECT id, same FROM notes": "generated column same",  # computed on every read
            "SELECT * FROM notes": "generated column same",
            "SELECT DISTINCT JSON_ARRAY(k) FROM kv": "json, whose default operator class",
            "SELECT GREATEST(JSON_SCALAR(1), JSON_SCALAR(2))::text": "json, whose default operator class",
        },
    ),
    "type_dispatch": (
        TYPE_DISPATCH_CALLS,
        {
            "SELECT ok FROM v_valid": "v_valid",
            "SELECT r FROM v_rec": "v_rec",
            "SELECT r FROM v_arr": "v_arr",
            "SELECT g_atomic('x')": "g_atomic",
            "SELECT h('a')": "h(",
            "SELECT t.x -|- 'dom' AS ok FROM t": "-|-",
        },
    ),
    "json_returning": (
        JSON_RETURNING,
        {
            "SELECT x FROM json_value_domain": "checked_text",
            "SELECT x FROM json_query_domain": "checked_jsonb",
            "SELECT x FROM json_query_domains": "checked_text",
            "SELECT json_value_of(j) FROM docs": "checked_text",
        },
    ),
    "point_class": (
        POINT_CLASS,
        {
            "SELECT DISTINCT b[1] FROM shapes": "point, whose default operator class",
            "SELECT id FROM shapes": "point",
        },
    ),
    "circle_class": (
        CIRCLE_CLASS,
        {"SELECT id, rank() OVER (ORDER BY c) FROM rings": "circle, whose default operator class", "SELECT id FROM rings ORDER BY c": "circle"},
    ),
    "parsing": (
        PARSING,
        {
            "SELECT id, lower\u00a0(name) FROM acct": "a space character outside ASCII",
            "SELECT id /* a /* b */* */, effect() -- */\nFROM acct": "`*/*`",
            "SELECT tidy(id) FROM acct": "calls tidy(integer)",
            "SELECT 1 AS begin ORDER BY begin FETCH FIRST (effect()) ROWS ONLY": "read as one string",
            "SELECT id FROM acct WHERE id && ROW(id, 2)": "operator &&(integer,pt)",
            "SELECT pt_norm(s) FROM (SELECT 1 AS a, 2 AS b) AS s": "calls pt_norm(pt)",
            "SELECT s.pt_norm FROM (VALUES (1, 2)) AS s(a, b)": "calls pt_norm(pt)",
            "SELECT a.label FROM acct a": "calls label(text)",
            "SELECT tally(*) FROM acct": "calls tally()",
            "SELECT trim(sku) FROM items": "calls btrim(code)",
            "SELECT id, now() AT TIME ZONE sku FROM items": "calls timezone(code,",
            "SELECT id FROM items WHERE sku LIKE pattern ESCAPE '!'": "calls like_escape(character varying,text)",
            "SELECT TREAT(n AS text) FROM items": "TREAT(",
            "SELECT * FROM unnest(ARRAY[point(1, 2)], ARRAY['a']) AS u(p, letter)": "calls unnest(point[])",
            "SELECT share(0.5) WITHIN GROUP (ORDER BY n) FROM items": "calls share(double precision,integer)",
        },
    ),
    "families": (
        FAMILIES,
        {
            "SELECT id FROM plots WHERE area < '((0,0),(5,5))'::box": "small_plots",
            "SELECT count(*) FROM paints p JOIN walls w ON p.h = w.h": "operator =(hue,hue)",
        },
    ),
    "unnamed_types": (
        UNNAMED_TYPES,
        {
            "SELECT ARRAY[m] AS ms FROM diary ORDER BY ms": "type mood[]",
            "SELECT DISTINCT array_agg(m) FROM diary GROUP BY id": "type mood[]",
            "SELECT id, tags::tag[] FROM diary": "may cast text -> tag[]",
            "SELECT id, range_agg(r) AS c FROM spans GROUP BY id ORDER BY c": "type span_multirange",
            "SELECT id, covered(c) FROM (SELECT id, range_agg(r) AS c FROM spans GROUP BY id) s": "calls covered(span_multirange)",
            "SELECT DISTINCT body FROM docs": "type jt",
            "SELECT id FROM docs ORDER BY body": "type jt",
            "SELECT plain_one()": "calls plain_one()",
        },
    ),
    "renamed_languages": (RENAMED_LANGUAGES, {"SELECT answer()": "calls answer()"}),
    "unseen_operands": (
        UNSEEN_OPERANDS,
        {
            "SELECT NULL::unknown @@@ 1": "operator @@@(mood,integer)",
            "SELECT 'a'::unknown @@@ 1": "operator @@@(mood,integer)",
            "SELECT 5::information_schema.cardinal_number": "added constraint",
            "SELECT 1 %%% 2": "type dchk",
            "SELECT id FROM diary WHERE m BETWEEN 'a' AND 'b'": "operator >=(mood,secret)",  # the literal takes secret
            "SELECT NULLIF(m, 'a') FROM diary": "operator =(mood,secret)",
            "SELECT id FROM diary WHERE m IN ('a')": "operator =(mood,secret)",
            "SELECT n, c FROM win": "view win",  # its window frame's in_range, with no catalog row left
        },
    ),
    "index_families": (
        INDEX_FAMILIES,
        {
            "SELECT id FROM garr WHERE arr @> ARRAY[5]": "index garr_gin uses an operator family changed after initdb",
            "SELECT note FROM gbrin WHERE c = 5": "index gbrin_brin uses an operator family changed after initdb",
        },
    ),
    "handlers": (
        HANDLERS,
        {
            "SELECT pg_relation_is_updatable('ft_hidden'::regclass, true)": "calls pg_relation_is_updatable",
            "SELECT table_name, is_insertable_into FROM information_schema.tables WHERE table_schema = 'public'": "information_schema.tables",
            "SELECT pg_relation_size('t_heap2'::regclass)": "calls pg_relation_size",
            "SELECT a FROM t_heap2": "table access method",
            "SELECT 1 FROM ti_idx": "index access method",
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'positive'": "calls pg_get_constraintdef",
            "SELECT pg_get_replica_identity_index('t_heap2'::regclass)": "calls pg_get_replica_identity_index",
            "SELECT pubname, tablename FROM pg_publication_tables": "view pg_publication_tables",
            "SELECT pg_get_object_address('table', '{t_heap2}', '{}')": "calls pg_get_object_address",
            "SELECT r FROM holder": "type t_heap2, read through its table, whose table access method",
            "SELECT to_json(h) FROM holder h": "type t_heap2, read through its table, whose table access method",
            """SELECT '("(1)")'::wrap""": "type t_heap2, read through its table, whose table access method",
            "SELECT '(1)'::in_heap2": "type t_heap2, read through its table, whose table access method",
            "SELECT most_common_vals FROM pg_stats": "statistics hold values of every column type",
            "SELECT length(a) FROM t_toast": "whose TOAST table",
        },
    ),
    "hidden_words": (
        HIDDEN_WORDS,
        {
            "SELECT user-defined(1)": "USER-DEFINED",
            "SELECT order_total(5)": "order_total",
            "EXPLAIN INSERT INTO audit_log (note) VALUES ('x')": "EXPLAIN of a statement that is not a query",
            "EXPLAIN DELETE FROM audit_log WHERE note = 'x'": "EXPLAIN of a statement that is not a query",
            "SELECT log_size()": "log_size",
            "SELECT 'abc' SIMILAR TO p FROM pt": "similar_to_escape",
            "SELECT count(*) FROM pt WHERE 'abc' NOT SIMILAR TO p": "similar_to_escape",
            "SELECT 1 #--'\n 2, effect() --'": "PostgreSQL starts a comment",
            "SELECT to_json(aſ) FROM person aſ": "PostgreSQL folds no letter outside ASCII",
            "SELECT sort by$a$ FROM (SELECT 1 AS sort) s, effect() --$a$": "a `$` right after a name",
            "SELECT t.sort by FROM t": "sort(t)",
            "SELECT t.order by FROM t": "order",
            "SELECT * FROM double precision": "double",
            "SELECT 2e3-1": "one number to this check",
            "SELECT fa.f FROM fa, fb": "calls f(text)",
            "SELECT fa.f FROM fa JOIN fb ON fb.f = fa.x": "calls f(text)",
            "SELECT (g).f FROM t1": "calls f(integer)",
            "SELECT s.f FROM t1, generate_series(1, 1) s": "calls f(integer)",
        },
    ),
    "partition_keys": (
        PARTITION_KEYS,
        {
            "SELECT b FROM events_2026 WHERE b = 1": "a partition of events, whose partition key",
            "SELECT count(*) FROM events_2026_q1": "a partition of events, whose partition key",
            "SELECT satisfies_hash_partition('events'::regclass, 4, 0, 5)": "satisfies_hash_partition",
            "SELECT pg_get_partition_constraintdef('plain_parts_1'::regclass)": "pg_get_partition_constraintdef",
        },
    ),
    "late_types": (
        LATE_TYPES,
        {
            "SELECT h4(1.5 # 2.5)": "calls h4(anyelement)",
            "SELECT id FROM t6 WHERE v[1] && v[1]": "operator &&(e4,e4)",
            "SELECT r FROM v7": "view v7",
            "SELECT * FROM outf()": "calls outf()",
            "SELECT x FROM outt()": "calls outt()",
        },
    ),
    "point_cast": (POINT_CAST, {"SELECT DISTINCT @@ b FROM boxes": "type u", "SELECT id FROM boxes ORDER BY b[0]": "type u"}),
    "type_names": (
        TYPE_NAMES,
        {
            "SELECT to_regtype('modty(3)')": "modty",
            "SELECT 'modty(3)'::regtype": "modty",
            "SELECT has_function_privilege('takes_mod(modty(4))', 'execute')": "modty",
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'gauges'::regclass": "modty",
        },
    ),
}


@pytest.fixture(scope="module")
def databases(pg_server):
    """Each of RUNS_IN's databases, made when a test first needs it."""
    made: dict[str, str] = {}

    def database(name: str) -> str:
        if name not in made:
            made[name] = create_database(pg_server, f"proof_{name}", RUNS_IN[name][0])
        return made[name]

    return database


@pytest.mark.parametrize(("name", "sql"), [(name, sql) for name, (_, runs) in RUNS_IN.items() for sql in sorted(runs)])
def test_code_the_statement_never_names_is_followed(databases, name, sql):
    proof = _proof(databases(name), sql)
    assert not proof.proven and any(RUNS_IN[name][1][sql] in reason for reason in proof.reasons), proof.reasons


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id, title FROM docs WHERE title LIKE 'a%'",
        "SELECT id FROM moods WHERE id > 1",
        "SELECT count(*) FROM posts",
        "SELECT id, name FROM users",
        "SELECT id, note FROM bookings WHERE id = 3",
    ],
)
def test_code_on_columns_the_statement_never_touches_does_not_count(databases, sql):
    proof = _proof(databases("catalog_code"), sql)
    assert proof.proven, proof.reasons


@pytest.mark.parametrize(
    ("name", "sql"),
    [
        ("altered_built_ins", "SELECT id, upper(name) FROM items WHERE id = 3 ORDER BY name"),
        ("altered_built_ins", "SELECT count(*) FROM items"),
        ("altered_built_ins", "SELECT id, a FROM notes WHERE a <> 'x'"),  # the generated column is not read
        ("parsing", "SELECT a.id, lower(a.name) FROM acct a /* the names */ WHERE a.name <> 'x'"),
        ("parsing", "SELECT count(*), max(id) FROM acct"),
        ("type_names", "SELECT id FROM gauges"),
        ("index_families", "SELECT id FROM garr"),  # its index is not scanned for this
        ("hidden_words", "EXPLAIN SELECT note FROM audit_log WHERE id > 2"),
        ("hidden_words", "SELECT x.f, x.g FROM t1 AS x WHERE x.g > 1"),
        ("partition_keys", "SELECT a::double precision, b::character varying(9) FROM plain_parts GROUP BY a, b ORDER BY a"),
        ("hidden_words", "EXPLAIN (COSTS off) WITH n AS (SELECT note FROM audit_log) SELECT count(*) FROM n"),
        ("partition_keys", "SELECT b FROM plain_parts_1 WHERE b = 1"),
        ("partition_keys", "SELECT pg_get_partkeydef('plain_parts'::regclass)"),
        ("json_returning", "SELECT x FROM json_value_text"),
        ("type_dispatch", "SELECT p, ps, (p).a FROM pairs"),  # a row type's own input function is record_in
        ("type_dispatch", "SELECT '(1,x)'::pair, '{\"(1,x)\"}'::pair[]"),
        ("json_returning", "SELECT j FROM docs"),
    ],
)
def test_what_the_attacks_did_not_touch_stays_proven(databases, name, sql):
    proof = _proof(databases(name), sql)
    assert proof.proven, proof.reasons


def test_an_implicit_cast_between_built_in_types_is_followed_where_nothing_writes_it(pg_server):
    """`length(id)` on an integer casts it to text unwritten, through whatever function a
    superuser made that cast's."""
    ddl = """CREATE TABLE t (id int);
    CREATE FUNCTION to_text(int) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN $1::varchar; END$$;
    CREATE CAST (int AS text) WITH FUNCTION to_text(int) AS IMPLICIT;"""
    with psycopg.connect(create_database(pg_server, "proof_implicit_cast", ddl), autocommit=True) as conn:
        assert prove(conn, "SELECT length(id) FROM t").reasons == ("may cast integer -> text, whose function is not known to be harmless",)


def test_printing_stored_values_is_proven_where_every_type_is_built_in(conn):
    """pg_stats and the deparsing built-ins print through built-in output functions only here."""
    for sql in ("SELECT attname, most_common_vals FROM pg_stats WHERE tablename = 'orders'", "SELECT definition FROM pg_views", "SELECT pg_get_viewdef('big_spenders'::regclass)"):
        assert prove(conn, sql).proven, sql


def test_statistics_values_of_every_type_are_unproven(extension_db):
    """pg_stats prints the sampled values of every column, citext's through its own function."""
    with psycopg.connect(extension_db, autocommit=True) as conn:
        for sql in ("SELECT attname, histogram_bounds FROM pg_stats WHERE tablename = 'accounts'", "SELECT stavalues1 FROM pg_statistic"):
            proof = prove(conn, sql)
            assert not proof.proven and any("statistics hold values of every column type" in r for r in proof.reasons), proof.reasons


def test_a_name_outside_ascii_is_unproven_where_the_server_may_fold_it_otherwise(pg_server):
    """A single-byte encoding lowers letters outside ASCII by its locale, which the check does not follow."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute('DROP DATABASE IF EXISTS "proof_latin1" WITH (FORCE)')
        admin.execute("CREATE DATABASE proof_latin1 ENCODING 'LATIN1' TEMPLATE template0 LOCALE 'C'")
    with psycopg.connect(pg_server.conninfo("proof_latin1"), autocommit=True) as conn:
        conn.execute("CREATE TABLE städte (id int)")
        assert prove(conn, "SELECT id FROM städte").reasons == ("a name outside ASCII is folded by this server's encoding, which this check does not follow",)
        assert prove(conn, "SELECT count(*) FROM pg_class").proven


def test_a_user_function_in_public_shadowing_a_builtin_name_is_unproven(pg_server):
    """`lower(text)` in public is one of the overloads `lower('X')` may reach."""
    ddl = "CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS $$BEGIN RETURN 'x'; END$$; CREATE TABLE t (a text);"
    with psycopg.connect(create_database(pg_server, "proof_shadow", ddl), autocommit=True) as conn:
        assert not prove(conn, "SELECT lower(a) FROM t").proven
        assert prove(conn, "SELECT upper(a) FROM t").proven


def test_a_security_definer_body_is_read_as_its_owner_reads_it(pg_server):
    """A SECURITY DEFINER SQL function's body runs as its owner: `orders` there is the owner's
    own view (its "$user" schema), whose code ran during the checks and on a yes-less run,
    while the proof had read `orders` on the asker's path as the plain table."""
    owner, asker = f"definer_{os.getpid()}", f"asker_{os.getpid()}"
    ddl = f"""
    DROP ROLE IF EXISTS "{owner}"; DROP ROLE IF EXISTS "{asker}";
    CREATE ROLE "{owner}"; CREATE ROLE "{asker}";
    CREATE TABLE public.orders (id int, total int); INSERT INTO orders VALUES (1, 10);
    GRANT SELECT ON orders TO "{owner}", "{asker}";
    CREATE SCHEMA "{owner}" AUTHORIZATION "{owner}";
    CREATE FUNCTION "{owner}".effect() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN 0; END$$;
    CREATE VIEW "{owner}".orders AS SELECT id, total + "{owner}".effect() AS total FROM public.orders;
    ALTER FUNCTION "{owner}".effect() OWNER TO "{owner}"; ALTER VIEW "{owner}".orders OWNER TO "{owner}";
    CREATE FUNCTION public.orders_total() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER AS 'SELECT sum(total) FROM orders';
    CREATE FUNCTION public.orders_total_atomic() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER BEGIN ATOMIC SELECT sum(total) FROM orders; END;
    ALTER FUNCTION public.orders_total() OWNER TO "{owner}"; ALTER FUNCTION public.orders_total_atomic() OWNER TO "{owner}";
    """
    with psycopg.connect(create_database(pg_server, "proof_definer", ddl), autocommit=True) as conn:
        conn.execute(f'SET ROLE "{asker}"')
        assert not prove(conn, "SELECT id FROM orders WHERE total < orders_total()").proven
        assert prove(conn, "SELECT id FROM orders WHERE total < orders_total_atomic()").proven  # its tree names public.orders
        conn.execute("RESET ROLE")
        conn.execute(f'DROP OWNED BY "{owner}", "{asker}" CASCADE; DROP ROLE "{owner}"; DROP ROLE "{asker}"')


def test_unproven_candidates_are_neither_explained_nor_voted_and_need_a_yes(conn, shop):
    """The model's queries reach grab() only through planning (EXPLAIN) or the vote: neither runs."""
    asker = Asker(Scripted(["SELECT name FROM trapped", "SELECT grab() AS g", "SELECT name FROM trapped"]), Options(max_repairs=0, candidates=3))
    answer = asker.ask("customer names", conn, check_grounding=False)
    assert " ".join(answer.sql.split()) == "SELECT name FROM trapped"  # the first (greedy) candidate, shown
    assert not answer.proven and "not run" in answer.reason
    assert not _lock_taken(shop)


def test_proven_candidates_are_voted(conn):
    asker = Asker(Scripted(["SELECT name FROM customers ORDER BY name", "SELECT grab() AS g", "SELECT name FROM customers ORDER BY name"]), Options(max_repairs=0, candidates=3, greedy_first=False))
    answer = asker.ask("customer names", conn, check_grounding=False)
    assert answer.proven and " ".join(answer.sql.split()) == "SELECT name FROM customers ORDER BY name"
    assert "2 of 3" in answer.reason


def test_model_sql_is_one_statement_whatever_it_says(conn):
    """The extended protocol refuses a second statement before running the first."""
    with pytest.raises(psycopg.errors.SyntaxError), OneStatementCursor(conn) as cur:
        cur.execute("SELECT 1; DELETE FROM orders")
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 3


def test_the_vote_fetches_only_its_row_limit_and_stops_on_the_wall_clock(conn):
    options = Options(vote_row_limit=10)
    ordered = "SELECT g FROM generate_series(1, 100000) AS g ORDER BY g"
    assert result_fingerprint(conn, ordered, options) == result_fingerprint(conn, ordered + " LIMIT 10", options)
    slow = Options(check_seconds=0.5, statement_timeout_ms=60_000)
    started = time.perf_counter()
    assert result_fingerprint(conn, "SELECT count(*) FROM generate_series(1, 1000000000)", slow) is None
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "sql", ["SELECT pg_temp.cleanup()", "SELECT x FROM pg_temp.cleanup() AS x", 'SELECT "pg_temp".cleanup()', "SELECT PG_TEMP.cleanup()", "SELECT (SELECT pg_temp.cleanup())"]
)
def test_a_call_of_the_session_s_temporary_function_is_unproven(pg_server, sql):
    """`pg_temp` names the session's own temporary schema (pg_temp_N): no function matched the
    name as written, so the person's plpgsql function was proven and ran on a bare Enter."""
    with psycopg.connect(create_database(pg_server, "proof_temp_function", "CREATE TABLE t (a int);"), autocommit=True) as conn:
        conn.execute("CREATE FUNCTION pg_temp.cleanup() RETURNS int LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(7373); RETURN 1; END$$")
        proof = prove(conn, sql)
        assert not proof.proven and any("cleanup()" in reason for reason in proof.reasons), proof.reasons
        assert prove(conn, "SELECT count(*) FROM t").proven


def test_a_qualified_call_of_no_function_found_is_unproven(conn):
    """A schema-qualified call that the check finds no function for may reach one the check
    cannot see (as `pg_temp.f` did): not proven (the server would fail it otherwise anyway)."""
    proof = prove(conn, "SELECT public.no_such_function(1)")
    assert not proof.proven and proof.reasons == ("calls no_such_function, which this check finds no function for",)  # as the search_path shows it


@pytest.mark.parametrize("sql", ["SELECT x.mydom FROM generate_series(1, 1) AS x", "SELECT u.mydom FROM unnest(ARRAY[1]) AS u", "SELECT x.text FROM generate_series(1, 1) AS x"])
def test_a_cast_written_as_a_field_is_followed(pg_server, sql):
    """`x.mydom`, with no function mydom, is PostgreSQL's cast of x to the type mydom: the
    domain's CHECK (a plpgsql function) ran on Enter. Also a type that a schema ahead of
    pg_catalog on the search_path shadows (`x.text`)."""
    ddl = """CREATE SCHEMA evil;
        CREATE FUNCTION public.chk(int) RETURNS bool LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(7676); RETURN true; END$$;
        CREATE DOMAIN public.mydom AS int CHECK (public.chk(VALUE));
        CREATE DOMAIN evil.text AS pg_catalog.text CHECK (public.chk(length(VALUE)));"""
    with psycopg.connect(create_database(pg_server, "proof_field_cast", ddl), autocommit=True) as conn:
        conn.execute("SET search_path = evil, pg_catalog, public")
        proof = prove(conn, sql)
        assert not proof.proven and any("handles values of type" in reason for reason in proof.reasons), proof.reasons
        assert prove(conn, "SELECT x.x FROM generate_series(1, 1) AS x").proven


def test_an_operator_off_the_search_path_is_reached_only_by_name(pg_server):
    """A user-made `=` in a schema the user cannot even use made every statement unproven
    (`SELECT count(*) FROM t` too): a bare operator is looked up on the search_path only.
    `OPERATOR(priv.=)` names it (never proven), and a schema put on the path brings it in play."""
    ddl = """CREATE SCHEMA priv;
        CREATE TABLE t (a text);
        CREATE FUNCTION priv.eq(text, text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(7878); RETURN $1 = $2; END$$;
        CREATE OPERATOR priv.= (LEFTARG = text, RIGHTARG = text, FUNCTION = priv.eq);"""
    with psycopg.connect(create_database(pg_server, "proof_operator_elsewhere", ddl), autocommit=True) as conn:
        for sql in ("SELECT count(*) FROM t", "SELECT a FROM t WHERE a = 'x'"):
            assert prove(conn, sql).proven, sql
        assert not prove(conn, "SELECT a FROM t WHERE a OPERATOR(priv.=) 'x'").proven
        conn.execute("SET search_path = priv, pg_catalog, public")  # (ahead of pg_catalog's own: it is chosen)
        proof = prove(conn, "SELECT a FROM t WHERE a = 'x'")
        assert proof.reasons == ("may use operator =(text,text), which is not known to be harmless",)  # (priv's, visible now)


def test_an_operator_behind_pg_catalog_s_own_of_the_same_types_is_never_chosen(pg_server):
    """A database owner's `public.=(text,text)`: pg_catalog, first on the default path, has
    that very operator, so the server never picks the owner's; every answer was unproven
    ("may use operator =(text,text)"), even one with no `=`. Put before pg_catalog on the
    path, it is chosen, and counts."""
    ddl = """CREATE TABLE t (a text);
        CREATE FUNCTION public.evil_eq(text, text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN PERFORM pg_advisory_lock(7979); RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
        CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.evil_eq);"""
    with psycopg.connect(create_database(pg_server, "proof_operator_behind", ddl), autocommit=True) as conn:
        for sql in ("SELECT count(*) FROM t", "SELECT a FROM t WHERE a = 'x'"):
            assert prove(conn, sql).proven, sql
        conn.execute("SET search_path = public, pg_catalog")
        proof = prove(conn, "SELECT a FROM t WHERE a = 'x'")
        assert not proof.proven and any("=(text,text)" in reason for reason in proof.reasons), proof.reasons
