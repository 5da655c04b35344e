"""A suite's dumps and gold queries and the model's answers run as a role of eval's own,
which owns the suite's databases and nothing else. As the server's superuser, `COPY ... TO
PROGRAM` in any of them ran a command as the server's OS user, and a dump made a superuser
role and took another database."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from scripted import Scripted

from nl2sql_shell.eval.runner import SUITE_ROLE, Runner, SuiteServer, suite_server
from nl2sql_shell.eval.suite import load_database, load_suite
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
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
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
