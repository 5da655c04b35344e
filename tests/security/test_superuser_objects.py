"""Objects only a superuser can make, and catalog rows only a superuser can edit, that the
server runs when it opens or plans a read: each statement below ran their code (the test
shows it does) and was proven harmless before. Found by a red-team round."""

from __future__ import annotations

import contextlib

import psycopg
import pytest

from nl2sql_shell.nl2sql.proof import prove

# An index's operator class with an options function (btree's support function 5): the server
# calls it whenever it opens the index, for any read of the table, whatever the columns.
OPTIONS = """
CREATE FUNCTION opts(internal) RETURNS void LANGUAGE internal AS 'pg_advisory_lock_int8';
CREATE OPERATOR %< (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4lt);
CREATE OPERATOR %<= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4le);
CREATE OPERATOR %= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4eq);
CREATE OPERATOR %>= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4ge);
CREATE OPERATOR %> (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4gt);
CREATE OPERATOR CLASS opts_ops FOR TYPE int4 USING btree AS
    OPERATOR 1 %<, OPERATOR 2 %<=, OPERATOR 3 %=, OPERATOR 4 %>=, OPERATOR 5 %>,
    FUNCTION 1 btint4cmp(int4, int4), FUNCTION 5 opts(internal);
CREATE TABLE t3 (a int, b int);
INSERT INTO t3 SELECT g, g FROM generate_series(1, 100) g;
CREATE INDEX t3_b ON t3 (b opts_ops);
"""
# A type whose default btree class compares with plpgsql, reached only as an operator's result.
RESULT = """
CREATE TYPE mytype;
CREATE FUNCTION mytype_in(cstring) RETURNS mytype LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION mytype_out(mytype) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE mytype (INPUT = mytype_in, OUTPUT = mytype_out, INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
CREATE CAST (mytype AS int4) WITHOUT FUNCTION;
CREATE FUNCTION mytype_cmp(mytype, mytype) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE NOTICE 'WITNESS'; RETURN btint4cmp($1::int4, $2::int4); END$$;
CREATE FUNCTION mytype_lt(mytype, mytype) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN mytype_cmp($1, $2) < 0; END$$;
CREATE FUNCTION mytype_le(mytype, mytype) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN mytype_cmp($1, $2) <= 0; END$$;
CREATE FUNCTION mytype_eq(mytype, mytype) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN mytype_cmp($1, $2) = 0; END$$;
CREATE FUNCTION mytype_ge(mytype, mytype) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN mytype_cmp($1, $2) >= 0; END$$;
CREATE FUNCTION mytype_gt(mytype, mytype) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$BEGIN RETURN mytype_cmp($1, $2) > 0; END$$;
CREATE OPERATOR < (LEFTARG = mytype, RIGHTARG = mytype, FUNCTION = mytype_lt);
CREATE OPERATOR <= (LEFTARG = mytype, RIGHTARG = mytype, FUNCTION = mytype_le);
CREATE OPERATOR = (LEFTARG = mytype, RIGHTARG = mytype, FUNCTION = mytype_eq);
CREATE OPERATOR >= (LEFTARG = mytype, RIGHTARG = mytype, FUNCTION = mytype_ge);
CREATE OPERATOR > (LEFTARG = mytype, RIGHTARG = mytype, FUNCTION = mytype_gt);
CREATE OPERATOR CLASS mytype_ops DEFAULT FOR TYPE mytype USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 mytype_cmp(mytype, mytype);
CREATE OPERATOR %+ (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4pl);
UPDATE pg_operator SET oprresult = 'mytype'::regtype WHERE oprname = '%+' AND oprleft = 'int4'::regtype AND oprright = 'int4'::regtype;
CREATE TABLE t5 (a int, b int);
INSERT INTO t5 SELECT g % 7, g FROM generate_series(1, 50) g;
"""
# A partition key's class, whose pg_depend row was deleted: the server reads partclass.
PARTITIONED = """
CREATE FUNCTION keycmp(int4, int4) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  $$BEGIN RAISE NOTICE 'WITNESS'; RETURN btint4cmp($1, $2); END$$;
CREATE OPERATOR %%< (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4lt);
CREATE OPERATOR %%<= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4le);
CREATE OPERATOR %%= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4eq);
CREATE OPERATOR %%>= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4ge);
CREATE OPERATOR %%> (LEFTARG = int4, RIGHTARG = int4, FUNCTION = int4gt);
CREATE OPERATOR CLASS key_ops FOR TYPE int4 USING btree AS
  OPERATOR 1 %%<, OPERATOR 2 %%<=, OPERATOR 3 %%=, OPERATOR 4 %%>=, OPERATOR 5 %%>, FUNCTION 1 keycmp(int4, int4);
CREATE TABLE parted (k int, v text) PARTITION BY RANGE (k key_ops);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (10) TO (20);
INSERT INTO parted SELECT g, 'v' || g FROM generate_series(0, 19) g;
DELETE FROM pg_depend WHERE classid = 'pg_class'::regclass AND objid = 'parted'::regclass AND refclassid = 'pg_opclass'::regclass;
"""
# A table whose access method's handler a superuser pointed at plpgsql: opening the table runs
# it, and pg_sequence_last_value opens the relation it is given before it finds no sequence.
OPENED = """
CREATE FUNCTION am_plpgsql() RETURNS int LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE 'WITNESS'; RETURN NULL; END$$;
CREATE FUNCTION am_handler(internal) RETURNS table_am_handler LANGUAGE internal AS 'heap_tableam_handler';
CREATE ACCESS METHOD odd_am TYPE TABLE HANDLER am_handler;
UPDATE pg_am SET amhandler = 'am_plpgsql'::regproc WHERE amname = 'odd_am';
CREATE TABLE opened (a int);
UPDATE pg_class SET relam = (SELECT oid FROM pg_am WHERE amname = 'odd_am') WHERE oid = 'opened'::regclass;
"""
CASES = [
    (OPENED, "SELECT pg_sequence_last_value('opened'::regclass)"),
    (OPTIONS, "SELECT a FROM t3"),
    (OPTIONS, "SELECT a FROM t3 WHERE a < 5"),
    (OPTIONS, "SELECT pg_indexes_size('t3')"),
    (OPTIONS, "SELECT pg_total_relation_size('t3')"),
    (RESULT, "SELECT DISTINCT a %+ b FROM t5"),
    (RESULT, "SELECT x %+ 1 AS v FROM generate_series(1, 3) x ORDER BY v"),
    (PARTITIONED, "SELECT v FROM parted"),
]


@pytest.mark.parametrize(("setup", "sql"), CASES, ids=[sql for _, sql in CASES])
def test_code_the_server_runs_opening_or_planning_a_read_is_judged(fresh_db, setup: str, sql: str):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(setup)
        proof = prove(conn, sql)
        assert not proof.proven, sql
    with psycopg.connect(fresh_db, autocommit=True) as conn:  # a fresh session: nothing of the index cached
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        with contextlib.suppress(psycopg.Error):  # pg_sequence_last_value fails after the handler ran
            conn.execute(sql).fetchall()
        locked = conn.execute("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]
        assert locked or "WITNESS" in notices  # what running it would have done
