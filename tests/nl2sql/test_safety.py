"""The read/write classifier: every write and side effect is named, no read is flagged, and
nothing (comments, quoting, case, schema qualification, a second statement) hides a write."""

from __future__ import annotations

import psycopg
import pytest

from nl2sql_shell.nl2sql.safety import UNPARSED, classify, is_read_only

WRITES = [
    ("INSERT INTO t VALUES (1)", "INSERT statement"),
    # read otherwise than PostgreSQL reads them: a second statement after an operator that
    # runs into `--` (PostgreSQL ends the operator there), a keyword spelled with `ſ`
    ("SELECT 1 #--'\n 2; DELETE FROM t --'", "`--` inside `#-`, where PostgreSQL starts a comment"),
    ("SELECT to_json(aſ) FROM t aſ", "`aſ`, a keyword to this check only: PostgreSQL folds no letter outside ASCII (`aſ` is no AS)"),
    ("update t set a = 1 where b in (select 1)", "UPDATE statement"),
    ("DELETE FROM t", "DELETE statement"),
    ("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE statement"),
    ("TRUNCATE t", "TRUNCATE statement"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "data-modifying CTE (DELETE)"),
    ("with u as (update t set a = 2 returning a) select count(*) from u", "data-modifying CTE (UPDATE)"),
    ("INSERT INTO t2 WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "data-modifying CTE (DELETE)"),
    ("CREATE TABLE x (a int)", "DDL: CREATE TABLE"),
    ("CREATE TEMP TABLE x (a int)", "DDL: CREATE TABLE"),
    ("create table x as select 1", "DDL: CREATE TABLE"),
    ("CREATE INDEX ON t (a)", "DDL: CREATE INDEX"),
    ("create extension dblink", "DDL: CREATE EXTENSION"),
    ("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", "DDL: CREATE FUNCTION"),
    ("ALTER TABLE t ADD COLUMN x int", "DDL: ALTER TABLE"),
    ("alter sequence s restart", "DDL: ALTER SEQUENCE"),
    ("DROP TABLE t", "DDL: DROP TABLE"),
    ("drop schema s cascade", "DDL: DROP SCHEMA"),
    ("COMMENT ON TABLE t IS 'x'", "DDL: COMMENT"),
    ("GRANT SELECT ON t TO u", "DDL: GRANT"),
    ("REVOKE ALL ON t FROM u", "DDL: REVOKE"),
    ("COPY t TO '/tmp/x'", "COPY ... TO"),
    ("copy t from program 'id'", "COPY ... FROM"),
    ("select * into t2 from t", "SELECT ... INTO creates a table"),
    ("SELECT * FROM t FOR UPDATE", "FOR UPDATE locks rows"),
    ("(SELECT * FROM t WHERE id = 1) FOR UPDATE", "FOR UPDATE locks rows"),  # the lock sits on the parentheses
    ("select * from t where a in (select a from s for share)", "FOR SHARE locks rows"),
    ("LOCK TABLE t", "LOCK statement"),
    ("VACUUM t", "VACUUM statement"),
    ("ANALYZE t", "ANALYZE statement"),
    ("CLUSTER t", "CLUSTER statement"),
    ("REINDEX TABLE t", "REINDEX statement"),
    ("REFRESH MATERIALIZED VIEW m", "REFRESH statement"),
    ("SET search_path = evil", "sets configuration (SET)"),
    ("set local statement_timeout = 0", "sets configuration (SET)"),
    ("RESET ALL", "sets configuration (RESET)"),
    ("DO $$ BEGIN PERFORM 1; END $$", "DO block runs procedural code"),
    ("CALL p()", "CALL runs a procedure"),
    ("LISTEN x", "LISTEN statement"),
    ("PREPARE p AS SELECT 1", "PREPARE statement"),
    ("EXECUTE p", "EXECUTE statement"),
    ("DECLARE c CURSOR FOR SELECT 1", "DECLARE statement"),
    ("BEGIN", "transaction control (BEGIN)"),
    ("start transaction", "transaction control (START)"),
    ("COMMIT", "transaction control (COMMIT)"),
    ("rollback", "transaction control (ROLLBACK)"),
    ("SAVEPOINT a", "transaction control (SAVEPOINT)"),
    ("CHECKPOINT", "CHECKPOINT statement"),
    ("DISCARD ALL", "DISCARD statement"),
    ("LOAD 'auto_explain'", "LOAD statement"),
    ("EXPLAIN ANALYZE DELETE FROM t", "DELETE statement"),
    ("explain (format json, analyze) update t set a = 1", "UPDATE statement"),
    ('EXPLAIN (U&"\\0061nalyze") INSERT INTO t VALUES (1)', "could not be parsed; treated as a write"),  # PostgreSQL reads ANALYZE
    ("EXPLAIN (U&\"an!0061lyze\" UESCAPE '!') DELETE FROM t", "could not be parsed; treated as a write"),
    ("SELECT pg_terminate_backend(1)", "calls pg_terminate_backend()"),
    ("SELECT pg_catalog.pg_terminate_backend(1)", "calls pg_terminate_backend()"),
    ('SELECT "PG_TERMINATE_BACKEND"(1)', "calls pg_terminate_backend()"),
    ("select PG_CATALOG . PG_CANCEL_BACKEND (pid) from pg_stat_activity", "calls pg_cancel_backend()"),
    ("SELECT \"set_config\"('a', 'b', false)", "sets configuration (set_config)"),
    ("select lo_export(1, '/tmp/x')", "calls lo_export()"),
    ("select lo_import('/etc/passwd')", "calls lo_import()"),
    ("SELECT nextval('s')", "calls nextval()"),
    ("select setval('s', 1)", "calls setval()"),
    ("select pg_sleep(10)", "calls pg_sleep()"),
    ("select pg_advisory_lock(1)", "calls pg_advisory_lock()"),
    ("select pg_try_advisory_xact_lock(1)", "calls pg_try_advisory_xact_lock()"),
    ("select 1 from t where x in (select pg_read_file('/etc/passwd'))", "calls pg_read_file()"),
    ("select * from pg_ls_dir('.')", "calls pg_ls_dir()"),
    ("select pg_reload_conf()", "calls pg_reload_conf()"),
    ("select pg_notify('c', 'x')", "calls pg_notify()"),
    ("select txid_current()", "calls txid_current()"),
    ("select pg_drop_replication_slot('s')", "calls pg_drop_replication_slot()"),
    ("select * from dblink('host=x', 'delete from t') as r(a int)", "calls dblink()"),
    ("select query_to_xml('delete from t', true, true, '')", "calls query_to_xml()"),
    ('SELECT U&"pg\\005fsleep"(1)', "unicode-escaped identifier (could hide a function name)"),
    ("SELECT 1; DROP TABLE t", "DDL: DROP TABLE"),
    ("SELECT 1; -- \n DROP TABLE t", "DDL: DROP TABLE"),
    ("SELECT 'a\\'; DROP TABLE t; --'", "DDL: DROP TABLE"),  # a backslash does not escape in a standard string
    ("SELECT 1 /* /* nested */ */; DROP TABLE t", "DDL: DROP TABLE"),
    # where the tokenizer and PostgreSQL's lexer part: PostgreSQL runs the DROP in both
    ("SELECT 1 /* a /* b */* */ ; DROP TABLE t -- */", "`*/*`, which this check may read as a comment where PostgreSQL does not"),
    ("SELECT 1 AS begin ORDER BY begin FETCH FIRST 1 ROWS ONLY; DROP TABLE t", "text the tokenizer read as one string, which PostgreSQL reads as SQL"),
    ("NOTIFY x, 'y'", UNPARSED),
    ("select `a` from t", UNPARSED),
    ("SELECT 'unterminated", UNPARSED),
]

READS = [
    "SELECT 1",
    "SELECT 'drop table x'",
    "select * from t where a = 'x; drop table t'",
    "select $$ delete from t; $$",
    "SELECT 1 -- ; DROP TABLE t",
    "SELECT a - -1, b --x\n FROM t /* -- */",
    "SELECT größe, naïve FROM café WHERE name = 'ſ--'",
    "select 1 /* ; drop table t */",
    "SELECT 1 /* /* */ ; DROP TABLE t */",  # comments nest in PostgreSQL
    "select 'pg_terminate_backend(1)'",
    "select \"pg_sleep\" from t",  # a column of that name, not a call
    "select count(*) from t where name ilike '%update%'",
    "with x as (select 1) select * from x",
    "select 1 union select 2",
    "VALUES (1), (2)",
    "TABLE t",
    "SHOW search_path",
    "EXPLAIN SELECT 1",
    "explain (analyze false) delete from t",
    "EXPLAIN SELECT pg_sleep(1)",  # planned, not run
    "explain analyze select 1",
    "select * from pg_stat_activity",
    "select current_setting('search_path'), currval('s'), now()",
    "SELECT 1;",
    "",
    "select count(*) from shops where city = '東京\u3000本社'",  # a space outside ASCII in a literal or a quoted name is a character
    'select sum("order\u00a0total") from nb2',
]


@pytest.mark.parametrize(("sql", "reason"), WRITES)
def test_writes_and_side_effects_are_named(sql: str, reason: str) -> None:
    safety = classify(sql)
    assert safety.writes and reason in safety.reasons
    assert not is_read_only(sql)


@pytest.mark.parametrize("sql", READS)
def test_reads_are_not_flagged(sql: str) -> None:
    assert classify(sql) == classify(sql.upper()) and not classify(sql).writes
    assert is_read_only(sql)


def test_several_statements_are_counted_when_one_writes() -> None:
    assert classify("SELECT 1; SELECT 2; drop table t").reasons == ["3 statements", "DDL: DROP TABLE"]
    assert classify("SELECT 1; SELECT 2").reasons == []


@pytest.fixture(scope="module")
def scratch_db(pg_server) -> str:
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS safety_scratch")
        admin.execute("CREATE DATABASE safety_scratch")
    conninfo = pg_server.conninfo("safety_scratch")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (a int, b int); INSERT INTO t VALUES (1, 2); CREATE SEQUENCE s; CREATE TABLE s2 (a int)")
    return conninfo


AGAINST_THE_SERVER = [
    "SELECT nextval('s')",
    "select setval('s', 5)",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "select * into t3 from t",
    "SELECT * FROM t FOR UPDATE",
    "CREATE TEMP TABLE x (a int)",
    "INSERT INTO t VALUES (3, 4)",
    "TRUNCATE s2",
    "EXPLAIN ANALYZE DELETE FROM t",
    "select lo_create(0)",
    "SELECT * FROM t",
    "SELECT 'drop table t', count(*) FROM t WHERE b::text <> 'delete'",
    "EXPLAIN (ANALYZE false) DELETE FROM t",
    "select a, (select max(b) from t) from t order by 1",
]


@pytest.mark.parametrize("sql", AGAINST_THE_SERVER)
def test_the_classifier_agrees_with_a_read_only_transaction(scratch_db: str, sql: str) -> None:
    """What PostgreSQL refuses in a READ ONLY transaction is a write here, and what it runs is a read."""
    with psycopg.connect(scratch_db) as conn:
        conn.execute("SET TRANSACTION READ ONLY")
        try:
            conn.execute(sql)
            refused = False
        except psycopg.errors.ReadOnlySqlTransaction:
            refused = True
        conn.rollback()
    assert classify(sql).writes == refused
