"""The rest of psql 15's `\\d` family: privileges (`\\dp`, `\\z`, `\\ddp`), extended statistics,
partitioned relations, role and database settings, publications and subscriptions, foreign
tables, wrappers and user mappings, text search, and psql's errors for dotted patterns;
compared byte for byte with /usr/bin/psql on one database (these commands only read it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from conftest import create_database
from psqlcompare import PSQL, same

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

ROLES = ("h17d_reader", "h17d_writer")
SCHEMA = """
create table t (a int primary key, b text);
comment on table t is 'tee';
create view v as select * from t;
create sequence sq;
create schema s;
create table s.x (i int);
create table s.y (a int, b int, c int);
grant select on t to h17d_reader;
grant select (b), update (b) on t to h17d_writer;
grant usage on sequence sq to h17d_reader;
create table rls (a int);
create policy p1 on rls using (a > 0);
create policy p2 on rls as restrictive for insert to h17d_reader with check (a < 10);
alter default privileges grant select on tables to h17d_reader;
alter default privileges in schema s grant insert on tables to h17d_writer;
alter default privileges for role h17d_reader revoke execute on functions from public;
create statistics st1 on a, b from t;
create statistics s.st2 (ndistinct) on a, b from t;
create table pt (a int, b int) partition by range (a);
comment on table pt is 'parted';
create table pt1 partition of pt for values from (1) to (10) partition by list (b);
create table pt11 partition of pt1 for values in (1);
create index pti on pt (a);
create publication pub1 for table t;
create publication pub2 for all tables;
create publication pub3 for tables in schema s with (publish = 'insert');
create publication pub4 for table s.y (a, b) where (a > 1), t with (publish_via_partition_root);
create publication "Pub 5";
create foreign data wrapper w;
comment on foreign data wrapper w is 'wrapper';
create server srv foreign data wrapper w options (host 'h');
create user mapping for postgres server srv options (user 'u');
create user mapping for public server srv;
create foreign table ft (a int options (column_name 'aa')) server srv options (table_name 'tt');
comment on foreign table ft is 'foreign';
create text search configuration tsc (copy = english);
create text search dictionary tsd (template = simple, stopwords = english);
comment on text search dictionary tsd is 'dict';
comment on constraint t_pkey on t is 'pk';
create rule r1 as on insert to v do instead nothing;
comment on rule r1 on v is 'rule one';
create domain posint as int constraint pos check (value > 0);
comment on constraint pos on domain posint is 'positive';
create function tf() returns trigger language plpgsql as 'begin return new; end';
create trigger tg before insert on t for each row execute function tf();
comment on trigger tg on t is 'trig';
create operator class s.myops for type int using btree as operator 1 <, function 1 btint4cmp(int, int);
comment on operator class s.myops using btree is 'ops';
comment on operator family s.myops using btree is 'fam';
create table big (a int, b text) with (fillfactor = 70);
create rule r_upd as on update to big do also notify big;
create rule r_ins as on insert to big where new.a > 5 do instead nothing;
alter table big disable rule r_upd;
create rule r_rep as on delete to big do also notify x;
alter table big enable replica rule r_rep;
create rule r_alw as on insert to big do also notify y;
alter table big enable always rule r_alw;
create view v2 as select * from big;
create rule v2_ins as on insert to v2 do instead insert into big values (new.a, new.b);
create trigger v2_trg instead of update on v2 for each row execute function tf();
create foreign table ft2 (a int options (column_name 'aa'), b text not null default 'x') server srv options (table_name 'tt', schema_name 's');
create table ft_parent (a int) partition by list (a);
create foreign table ft_part partition of ft_parent for values in (1) server srv;
create table tr (id int references t (a), x int);
create trigger a_always before insert on tr for each row execute function tf();
create trigger b_replica before update on tr for each row execute function tf();
create trigger c_plain before delete on tr for each row execute function tf();
alter table tr disable trigger all;
alter table tr enable always trigger a_always;
alter table tr enable replica trigger b_replica;
create trigger d_on before insert on tr for each row execute function tf();
create materialized view mv2 as select 1 as x;
create index mv2_x on mv2 (x);
create function f2(int, text) returns int language sql as 'select 1';
create function f2(text) returns int language sql as 'select 1';
create function f2() returns int language sql as 'select 1';
create table ri (a int not null unique);
alter table ri replica identity using index ri_a_key;
create index brin_i on big using brin (a) with (pages_per_range = 16);
"""


def execute(conninfo: str, *statements: str) -> None:
    """Each statement on its own in autocommit: CREATE TABLESPACE and CREATE SUBSCRIPTION
    refuse to run inside a transaction block."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture(scope="module")
def db(pg_server) -> Iterator[str]:
    """One database for both programs, with roles, settings and a subscription (cluster-wide
    or not creatable in a transaction, hence outside SCHEMA)."""
    execute(pg_server.conninfo(), *(f"create role {role}" for role in ROLES))
    conninfo = create_database(pg_server, "describe_more", SCHEMA)
    execute(
        conninfo,
        "alter role h17d_reader set work_mem = '1MB'",
        "alter role h17d_reader in database describe_more set search_path = s",
        "alter database describe_more set timezone = 'UTC'",
        "create subscription sub connection 'dbname=nowhere' publication pub1 with (connect = false, slot_name = none)",
    )
    yield conninfo
    execute(conninfo, "drop subscription sub")
    execute(pg_server.conninfo(), 'DROP DATABASE IF EXISTS "describe_more" WITH (FORCE)', *(f"drop role if exists {role}" for role in ROLES))


PRIVILEGES = ["\\dp", "\\z", "\\dpS t*", "\\z s.*", "\\dp pg_catalog.pg_cl*", "\\dp nosuch", "\\dp rls", "\\ddp", "\\ddp s", "\\ddp h17d*", "\\ddp+"]


def test_dp_shows_column_privileges_and_policies(db):
    _, out, _ = same(db, db, "-c", "\\dp")
    assert b"Access privileges" in out and b"h17d_writer=rw/postgres" in out
    assert b"p2 (RESTRICTIVE) (a):" in out and b"to: h17d_reader" in out


LISTINGS = [
    "\\dX", "\\dX s.*", "\\dX st1",
    "\\des", "\\des+", "\\det", "\\det+", "\\det s.*", "\\dew", "\\dew+", "\\deu", "\\deu+", "\\deu srv",
    "\\dF", "\\dF tsc", "\\dF+ tsc", "\\dF+ nosuch", "\\dFd", "\\dFd+ tsd", "\\dFp", "\\dFp+", "\\dFp+ nosuch", "\\dFt", "\\dFt+",
    "\\dRp", "\\dRp pub*", "\\dRp+", "\\dRp+ pub4", "\\dRp+ nosuch", "\\dRs", "\\dRs+", "\\dRs nosuch",
    "\\dP", "\\dP+", "\\dPt", "\\dPi+", "\\dPn", "\\dPn+", "\\dPtn+", "\\dPin", "\\dP pt*", "\\dPt pt*", "\\dPi nosuch", "\\dPS",
    "\\dd", "\\ddS", "\\dd t*", "\\dd s.*", "\\dd+ my*",
    "\\dC int*", "\\dC+ bigint", "\\dC pg_catalog.text",
    "\\dAc", "\\dAc+ btree int4", "\\dAf+ btree int4", "\\dAf btree s.int4", "\\dAo+ btree integer_ops", "\\dAp+ btree integer_ops",
    "\\dAc btree int", "\\dAo btree s.myops", "\\dAp * myops", "\\dAc+ * s.*", "\\dAo a b.c.d",
    "\\drds h17d*", "\\drds h17d* describe_more", "\\drds * describe_more", "\\drds nosuch", "\\drds nosuch nodb",
]


def test_dd_lists_comments_on_constraints_rules_triggers_and_operator_classes(db):
    _, out, _ = same(db, db, "-c", "\\dd", "-c", "\\dd s.*")
    for line in (b"domain constraint | positive", b"rule              | rule one", b"trigger           | trig", b"operator family | fam"):
        assert line in out


def test_drds_names_the_patterns_it_found_nothing_for(db):
    code, out, err = same(db, db, "-c", "\\drds nosuch nodb")
    assert (code, out, err) == (0, b"", b'Did not find any settings for role "nosuch" and database "nodb".\n')


def test_a_publication_shows_its_tables_columns_and_filters(db):
    _, out, _ = same(db, db, "-c", "\\dRp+ pub4", "-c", "\\dRp+ pub3")
    assert b'"s.y" (a, b) WHERE (a > 1)' in out and b"Tables from schemas:" in out


DOTTED = ["\\dconfig a.b", "\\dconfig+ a.b.c.d", "\\dp a.b.c.d", "\\dp describe_more.s.x", "\\dp other.s.x", "\\dt PLAY.s.x", "\\dn describe_more.s", "\\dL a.b", "\\dRp a.b", "\\dew a.b", "\\ddp a.b.c", "\\dt s.", "\\dt .t"]


EXTRA = ["\\dt t extra", "\\d t extra more", "\\drds nosuch nodb more", "\\dAc btree int4 more", "\\df f2 int text", "\\d nosuch x", "\\dp a.b.c.d x"]


@pytest.mark.parametrize("command", EXTRA)
def test_words_after_the_patterns_are_warned_about_unless_the_command_failed(db, command: str):
    same(db, db, "-c", command)


def test_dn_names_the_publications_of_the_schema_it_was_given(db):
    _, out, _ = same(db, db, "-c", "\\dn s", "-c", "\\dn s*")
    assert b'Publications:\n    "pub3"' in out and b"(1 row)" in out


def test_too_many_dots_fail_the_command(db):
    code, _, err = same(db, db, "-c", "\\dX a.b.c.d")
    assert code == 1 and err == b"improper qualified name (too many dotted names): a.b.c.d\n"


WRAPPED_40 = ["-P", "format=wrapped", "-P", "columns=40"]
AUTO_40 = ["-P", "expanded=auto", "-P", "columns=40"]


@pytest.mark.parametrize("flags", [["-x"], ["-A"], ["-t"], ["-P", "border=2"], ["-P", "footer=off"], WRAPPED_40, AUTO_40])
@pytest.mark.parametrize("command", ["\\dp", "\\dRp+ pub1", "\\dF+ tsc", "\\dFp+", "\\dt", "\\d big", "\\d sq"])
def test_listings_follow_the_output_format(db, flags: list[str], command: str):
    same(db, db, *flags, "-c", command)


FOOTERS = [
    "\\d big", "\\d+ big", "\\d t", "\\d s.y", "\\d+ v2", "\\d v2", "\\d ft2", "\\d+ ft2", "\\d+ ft_part", "\\d+ ft_parent",
    "\\d tr", "\\d+ mv2", "\\d+ ri", "\\d+ brin_i", "\\d+ pg_catalog.pg_class", "\\d pti", "\\d+ pti", "\\d pt1_a_idx", "\\d+ pt1_a_idx", "\\d+ pt",
]


def test_rules_publications_and_foreign_servers_are_footers(db):
    _, out, _ = same(db, db, "-c", "\\d big", "-c", "\\d ft2", "-c", "\\d s.y")
    for line in (b"Disabled rules:", b"Rules firing always:", b"Rules firing on replica only:", b'    "pub4" (a, b) WHERE (a > 1)', b"Server: srv"):
        assert line in out
    assert b"FDW options: (table_name 'tt', schema_name 's')" in out


def test_disabled_internal_triggers_come_before_always_triggers(db):
    _, out, _ = same(db, db, "-c", "\\d tr")
    assert out.index(b"Disabled internal triggers:") < out.index(b"Triggers firing always:")


def test_a_toast_table_names_its_owner(db):
    with psycopg.connect(db) as conn:
        row = conn.execute("select reltoastrelid::regclass::text from pg_class where relname = 'big'").fetchone()
    assert row is not None
    _, out, _ = same(db, db, "-c", f"\\d+ {row[0]}")
    assert b'Owning table: "public.big"' in out


@pytest.fixture(scope="module")
def tablespace(db, pg_server, reachable_tmp) -> Iterator[str]:
    """A tablespace with a table, an index and a materialized view in it: in a folder the
    server's own user (nobody, when the tests run as root) owns."""
    folder = reachable_tmp / "space"
    folder.mkdir()
    owner = pg_server.data_dir.stat()
    os.chown(folder, owner.st_uid, owner.st_gid)
    execute(
        db,
        f"create tablespace h17d_space location '{folder}'",
        "create table tsp (a int primary key) tablespace h17d_space",
        "create index tsp_i on tsp (a) tablespace h17d_space",
        "create materialized view mvsp tablespace h17d_space as select 1",
    )
    yield db
    execute(db, "drop table tsp", "drop materialized view mvsp", "drop tablespace h17d_space")


@pytest.mark.parametrize("command", ["\\d tsp", "\\d+ tsp", "\\d tsp_i", "\\d+ mvsp"])
def test_a_tablespace_other_than_the_default_is_named(tablespace, command: str):
    _, out, _ = same(tablespace, tablespace, "-c", command)
    assert b'tablespace "h17d_space"' in out or b'Tablespace: "h17d_space"' in out


ARGUMENT_TYPES = ["\\df f2 int", "\\df f2 INT", "\\df f2 float[]", "\\dTS int", "\\dTS int4[]", "\\dTS+ int*[]", "\\dTS decimal", "\\df f2 text", "\\df f2 -", "\\df f2 int* text", "\\df f2 * -", "\\df+ f2 \"text\"", "\\df * pg_catalog.text", "\\df f2 a.b.c.d", "\\dfS length text"]


def test_type_patterns_take_the_names_the_grammar_accepts(db):
    _, out, _ = same(db, db, "-c", "\\dTS int", "-c", "\\dTS int4[]")
    assert b"pg_catalog | integer |" in out and b"pg_catalog | integer[] |" in out


def test_df_argument_patterns_pick_the_overload(db):
    _, out, _ = same(db, db, "-c", "\\df f2 integer")
    assert b"integer, text" in out and b"(1 row)" in out


@pytest.mark.parametrize("command", PRIVILEGES + LISTINGS + DOTTED + FOOTERS + ARGUMENT_TYPES)
def test_prints_what_psql_prints(db, command: str):
    same(db, db, "-c", command)
