"""A suite's dumps and gold queries and the model's answers run as a role of eval's own,
which owns the suite's databases and nothing else. As the server's superuser, `COPY ... TO
PROGRAM` in any of them ran a command as the server's OS user, and a dump made a superuser
role and took another database."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from scripted import Scripted

from nl2sql_shell.eval.runner import SUITE_ROLE, Runner, SuiteRoleError, SuiteServer, suite_server
from nl2sql_shell.eval.suite import SuiteError, load_database, load_suite
from nl2sql_shell.nl2sql.pipeline import Options

TABLE = "CREATE TABLE public.shop (id int PRIMARY KEY, name text);\nINSERT INTO public.shop VALUES (1, 'Corner');\n"


def _suite(root: Path, dump: str, gold: str) -> Path:
    (root / "dbs").mkdir(parents=True)
    (root / "dbs" / "isolationdb.sql").write_text(dump)
    (root / "questions.csv").write_text(f'question,query,db_name,query_category,instructions\nHow many shops are there?,"{gold}",isolationdb,aggregation,\n')
    return root


@pytest.fixture
def marker() -> Path:
    path = Path(f"/tmp/nl2sql-eval-{uuid.uuid4().hex}")  # where the server's OS user may write
    yield path
    path.unlink(missing_ok=True)


def test_a_dump_cannot_make_roles_or_run_programs(pg_server, tmp_path, marker):
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    assert server.role == SUITE_ROLE
    for line in ("CREATE ROLE nl2sql_eval_evil SUPERUSER LOGIN;", f"COPY (SELECT 1) TO PROGRAM 'touch {marker}';"):
        suite = load_suite(_suite(tmp_path / uuid.uuid4().hex, TABLE + line, "SELECT count(*) FROM shop;"))
        with pytest.raises(SuiteError, match="permission denied|must be superuser|has no privilege|must have"):
            load_database(server.admin, "isolationdb", suite.database("isolationdb").dump, server.conninfo_for, owner=server.role)
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'nl2sql_eval_evil'").fetchone() == (0,)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["answer", "gold"])
def test_the_model_s_answer_and_the_gold_query_cannot_run_programs(pg_server, tmp_path, marker, where):
    program = f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'"
    gold, answer = ("SELECT count(*) FROM shop;", program) if where == "answer" else (program + ";", "SELECT count(*) FROM shop")
    suite = load_suite(_suite(tmp_path, TABLE, gold))
    runner = Runner(suite, Scripted([answer]), server=suite_server(pg_server.conninfo("postgres")).with_role(), options=Options(candidates=1, max_repairs=0))
    runner.load_databases(lambda _: None)
    try:
        records = runner.run("default", lambda _: None)
        assert not records[0].correct
    except SystemExit as stop:  # a gold query that fails stops the run, naming it
        assert where == "gold" and "permission denied to COPY to or from an external program" in str(stop), stop
    assert not marker.exists()


def test_without_a_role_of_its_own_an_answer_not_proven_harmless_is_not_run(pg_server, tmp_path, marker):
    """A --dsn user that cannot make roles: eval runs with its rights, so the model's answers
    run only when proven harmless."""
    suite = load_suite(_suite(tmp_path, TABLE, "SELECT count(*) FROM shop;"))
    server = SuiteServer(pg_server.conninfo("postgres"))
    runner = Runner(suite, Scripted([f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'"]), server=server, options=Options(candidates=1, max_repairs=0))
    runner.load_databases(lambda _: None)
    (record,) = runner.run("default", lambda _: None)
    assert not record.correct and not marker.exists()
    proven = Runner(suite, Scripted(["SELECT count(*) FROM shop"]), server=server, options=Options(candidates=1, max_repairs=0))
    proven.conninfos = runner.conninfos
    (record,) = proven.run("default", lambda _: None)
    assert record.correct


def test_the_role_is_taken_back_from_what_a_suite_did_and_closed_after_the_run(pg_server, tmp_path):
    """A dump's `ALTER ROLE CURRENT_USER SET ...` stuck to every later run, a password it set
    let anyone in between runs, and a session held across runs survived the next password."""
    dump = TABLE + "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on;\nALTER ROLE CURRENT_USER PASSWORD 'planted';\n"
    suite = load_suite(_suite(tmp_path, dump, "SELECT count(*) FROM shop;"))
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    load_database(server.admin, "isolationdb", suite.database("isolationdb").dump, server.conninfo_for, owner=server.role)
    held = psycopg.connect(server.conninfo_for("isolationdb").replace(server.password, "planted"), autocommit=True)
    server.stop()
    assert held.closed or held.broken or _ended(held)
    with pytest.raises(psycopg.OperationalError):  # no login between runs, whatever its password
        psycopg.connect(server.conninfo_for("isolationdb").replace(server.password, "planted")).close()
    again = suite_server(pg_server.conninfo("postgres")).with_role()  # the next run: a plain role again
    load_database(again.admin, "isolationdb", _plain_dump(tmp_path), again.conninfo_for, owner=again.role)
    again.stop()


def _ended(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def _plain_dump(tmp_path: Path) -> Path:
    path = tmp_path / "plain.sql"
    path.write_text(TABLE)
    return path


def test_a_role_of_that_name_with_members_is_not_used(pg_server):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {SUITE_ROLE}_member")
        if not admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (SUITE_ROLE,)).fetchone()[0]:
            admin.execute(f"CREATE ROLE {SUITE_ROLE}")  # (made beforehand, or left by an earlier eval)
        admin.execute(f"GRANT {SUITE_ROLE} TO {SUITE_ROLE}_member")
        try:
            with pytest.raises(SuiteRoleError, match="has members"):
                suite_server(pg_server.conninfo("postgres")).with_role()
        finally:
            admin.execute(f"REVOKE {SUITE_ROLE} FROM {SUITE_ROLE}_member")
            admin.execute(f"DROP ROLE {SUITE_ROLE}_member")


def test_an_admin_that_is_no_superuser_runs_the_suite_with_its_own_rights(pg_server):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS nl2sql_eval_plain")
        admin.execute("CREATE ROLE nl2sql_eval_plain LOGIN CREATEDB CREATEROLE PASSWORD 'pw'")
    try:
        plain = psycopg.conninfo.make_conninfo(pg_server.conninfo("postgres"), user="nl2sql_eval_plain", password="pw", passfile=None)
        assert suite_server(plain).with_role().role is None
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP ROLE nl2sql_eval_plain")


def test_a_superuser_whose_options_set_another_role_still_takes_eval_s_role(pg_server):
    """`options='-c role=...'` made the superuser look like a plain user: the suite then ran
    with the superuser's rights (`SET ROLE NONE` in a dump)."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS nl2sql_eval_mask")
        admin.execute("CREATE ROLE nl2sql_eval_mask")
    try:
        masked = psycopg.conninfo.make_conninfo(pg_server.conninfo("postgres"), options="-c role=nl2sql_eval_mask")
        server = suite_server(masked).with_role()
        assert server.role == SUITE_ROLE
        server.stop()
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP ROLE nl2sql_eval_mask")


def test_eval_s_catalog_queries_run_no_operator_a_database_planted(pg_server, fresh_db):
    """A database (a suite's leftover, or anyone's) whose search_path puts a schema with its
    own `=(name, name)` ahead of pg_catalog: eval's role queries ran it as the superuser."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE ran (at int); CREATE SCHEMA evil")
        conn.execute("CREATE FUNCTION evil.eq(name, name) RETURNS bool LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.ran VALUES (1); RETURN $1::text = $2::text; END $$")
        conn.execute("CREATE OPERATOR evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = evil.eq)")
        conn.execute(f"ALTER DATABASE {conn.info.dbname} SET search_path = evil, pg_catalog, public")
    server = suite_server(fresh_db).with_role()
    server.stop()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.ran").fetchone() == (0,)


def test_one_eval_at_a_time_on_a_server_whatever_database_dsn_names(pg_server, fresh_db):
    """The claim was an advisory lock in --dsn's database: two runs naming two databases took
    the same role from each other (one ended the other's sessions)."""
    from nl2sql_shell.eval.runner import ServerBusy, claim_server

    first = claim_server(pg_server.conninfo("postgres"))
    try:
        with pytest.raises(ServerBusy):
            claim_server(fresh_db).close()
    finally:
        first.close()


def test_a_user_that_cannot_create_databases_loses_none(pg_server, tmp_path):
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS isolation_kept")
        admin.execute("DROP ROLE IF EXISTS nl2sql_eval_owner")
        admin.execute("CREATE ROLE nl2sql_eval_owner LOGIN PASSWORD 'pw'")
        admin.execute("CREATE DATABASE isolation_kept OWNER nl2sql_eval_owner")
    try:
        owner = psycopg.conninfo.make_conninfo(pg_server.conninfo("postgres"), user="nl2sql_eval_owner", password="pw")
        with pytest.raises(SuiteError, match="CREATEDB"):
            load_database(owner, "isolation_kept", _plain_dump(tmp_path), lambda db: psycopg.conninfo.make_conninfo(owner, dbname=db))
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = 'isolation_kept'").fetchone() == (1,)
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS isolation_kept")
            admin.execute("DROP ROLE nl2sql_eval_owner")


def _pg_dump(conninfo: str, *options: str) -> str:
    import subprocess

    from nl2sql_shell.db.embedded import _bin_dir

    return subprocess.run([str(_bin_dir() / "pg_dump"), *options, "-d", conninfo], capture_output=True, text=True, check=True, timeout=120).stdout


def test_a_suite_s_database_may_be_pg_dump_s_plain_output(pg_server, tmp_path):
    """pg_dump's plain format (COPY data after its statement, `\\restrict KEY` around it) was
    sent to the server as one query: a syntax error at the first backslash."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS isolation_source")
        admin.execute("CREATE DATABASE isolation_source")
    with psycopg.connect(pg_server.conninfo("isolation_source"), autocommit=True) as source:
        source.execute(TABLE + "INSERT INTO public.shop VALUES (2, E'tab\\there, back\\\\slash'), (3, NULL);"
                       "CREATE FUNCTION public.shout(t text) RETURNS text LANGUAGE sql AS $$ SELECT upper(t) || '!' $$;"
                       "CREATE VIEW public.loud AS SELECT id, public.shout(name) AS name FROM public.shop;")
    dump = _pg_dump(pg_server.conninfo("isolation_source"), "--no-owner", "--no-privileges")
    assert "\nCOPY public.shop" in dump and "\n\\." in dump  # the format this is about
    suite = load_suite(_suite(tmp_path, dump, "SELECT count(*) FROM shop;"))
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    try:
        conninfo = load_database(server.admin, "isolationdb", suite.database("isolationdb").dump, server.conninfo_for, owner=server.role)
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT * FROM loud ORDER BY id").fetchall() == [(1, "CORNER!"), (2, "TAB\tHERE, BACK\\SLASH!"), (3, None)]
    finally:
        server.stop()
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute("DROP DATABASE isolation_source")


@pytest.mark.parametrize(
    "line",
    [
        "\\! touch {marker}",
        "\\copy (select 1) to program 'touch {marker}'",
        "\\o {marker}",
        "select 1 \\g |touch {marker}",  # after query text: it ran, and \\e started an editor, \\watch never ended
        "select 1 \\watch 1",
        "select 1 \\q",  # it ended the load there, told as a success
    ],
)
def test_a_dump_s_meta_commands_other_than_pg_dump_s_are_refused(pg_server, tmp_path, marker, line):
    dump = f"\\restrict k1\n{TABLE}\\unrestrict k1\n{line.format(marker=marker)}\nSELECT 1;\n"
    suite = load_suite(_suite(tmp_path, dump, "SELECT count(*) FROM shop;"))
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    try:
        with pytest.raises(SuiteError, match=r"isolationdb.sql:5: error: \\\S+: not allowed here"):
            load_database(server.admin, "isolationdb", suite.database("isolationdb").dump, server.conninfo_for, owner=server.role)
    finally:
        server.stop()
    assert not marker.exists()


def test_a_dump_in_another_client_encoding_loads_as_psql_loads_it(pg_server, tmp_path):
    """pg_dump -E LATIN1 writes `SET client_encoding = 'LATIN1'` and LATIN1 bytes: the dump was
    read as UTF-8 and refused with Python's codec words."""
    root = _suite(tmp_path, "", "SELECT count(*) FROM shop;")
    (root / "dbs" / "isolationdb.sql").write_bytes(b"SET client_encoding = 'LATIN1';\nCREATE TABLE shop (id int, name text);\nINSERT INTO shop VALUES (1, 'caf\xe9');\n")
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    try:
        conninfo = load_database(server.admin, "isolationdb", load_suite(root).database("isolationdb").dump, server.conninfo_for, owner=server.role)
        with psycopg.connect(conninfo) as conn:
            assert conn.execute("SELECT name FROM shop").fetchone() == ("café",)
    finally:
        server.stop()


def test_a_dump_that_ends_its_own_session_is_one_line(pg_server, tmp_path):
    suite = load_suite(_suite(tmp_path, TABLE + "SELECT pg_terminate_backend(pg_backend_pid());\n", "SELECT count(*) FROM shop;"))
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    try:
        with pytest.raises(SuiteError, match="FATAL:  terminating connection"):
            load_database(server.admin, "isolationdb", suite.database("isolationdb").dump, server.conninfo_for, owner=server.role)
    finally:
        server.stop()


def test_a_dump_s_error_is_told_as_the_error_and_shown_safely(pg_server, tmp_path):
    """A NOTICE holding "ERROR:" was told for the load's error; escape sequences in the error
    (a window title, a cleared screen) reached eval's terminal."""
    dump = TABLE + "DO $$BEGIN RAISE NOTICE 'ERROR:  a planted one'; END$$;\nDO $$BEGIN RAISE EXCEPTION '%', E'\\x1b]0;title\\x07\\x1b[2J'; END$$;\n"
    suite = _suite(tmp_path, dump, "SELECT count(*) FROM shop;")
    done = subprocess.run([sys.executable, "-m", "nl2sql_shell", "eval", str(suite), "--dsn", pg_server.conninfo("postgres"), "--model-url", "http://127.0.0.1:9/v1", "--model", "none"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "isolationdb.sql:4: ERROR:  \\x1B]0;title\\x07\\x1B[2J" in done.stderr and "\x1b" not in done.stderr, done.stderr


@pytest.mark.parametrize("name", ["postgres", "template1", "isolation_template", "isolation_theirs"])
def test_a_dump_named_like_a_database_eval_did_not_make_drops_nothing(pg_server, tmp_path, name):
    """A suite's file names decided which databases were dropped: `dbs/template1.sql` replaced
    the server's template (its IS_TEMPLATE cleared first), and any user's database of the
    dump's name went."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        if name == "isolation_template":
            admin.execute("DROP DATABASE IF EXISTS isolation_template")
            admin.execute("CREATE DATABASE isolation_template IS_TEMPLATE true")
        elif name == "isolation_theirs":
            admin.execute("DROP DATABASE IF EXISTS isolation_theirs")
            admin.execute("CREATE DATABASE isolation_theirs")
        before = admin.execute("SELECT oid, datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
    (tmp_path / "dbs").mkdir()
    (tmp_path / "dbs" / f"{name}.sql").write_text(TABLE)
    server = suite_server(pg_server.conninfo("postgres")).with_role()
    try:
        with pytest.raises(SuiteError, match="exists that eval did not make.*nothing was dropped"):
            load_database(server.admin, name, tmp_path / "dbs" / f"{name}.sql", server.conninfo_for, owner=server.role)
    finally:
        server.stop()
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        assert admin.execute("SELECT oid, datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone() == before
        if name.startswith("isolation_"):
            admin.execute(f"ALTER DATABASE {name} IS_TEMPLATE false")
            admin.execute(f"DROP DATABASE {name}")


def test_database_names_postgresql_would_cut_are_refused_before_anything_loads(tmp_path):
    """Two names alike in their first 63 bytes loaded into one database: questions were scored
    on the other dump's data."""
    (tmp_path / "dbs").mkdir()
    long = "x" * 63
    for suffix in "ab":
        (tmp_path / "dbs" / f"{long}{suffix}.sql").write_text(TABLE)
    (tmp_path / "questions.csv").write_text(f"question,query,db_name\nHow many?,SELECT 1,{long}a\n")
    with pytest.raises(SuiteError, match="longer than 63 bytes"):
        load_suite(tmp_path)


def test_a_description_that_is_no_string_is_one_line_naming_the_file(tmp_path):
    from nl2sql_shell.eval.suite import column_descriptions

    path = tmp_path / "db.json"
    path.write_text('{"table_metadata": {"t": [{"column_name": "a", "column_description": 5}]}}')
    with pytest.raises(SuiteError, match=r"db\.json: not column descriptions"):
        column_descriptions(path)
