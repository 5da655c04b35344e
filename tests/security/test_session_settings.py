"""Settings a database's owner gives every session cannot make the server read the model's
SQL otherwise than the checks read it and the person saw it: a client encoding that sends `¥`
as a backslash, standard_conforming_strings off for a write."""

from __future__ import annotations

import io

import psycopg
import pytest

from nl2sql_shell.db.connect import Target, connect
from nl2sql_shell.nl2sql.pipeline import Answer, Asker, Options
from nl2sql_shell.nl2sql.proof import prove
from nl2sql_shell.nl2sql.safety import classify
from nl2sql_shell.output import Output
from nl2sql_shell.repl.questions import QuestionHandler
from nl2sql_shell.repl.shell import Shell
from tests.scripted import Scripted

SETUP = """
CREATE TABLE calls (what text);
CREATE FUNCTION effect(what text) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN PERFORM pg_advisory_lock(4242); RETURN false; END $$;
CREATE TABLE customers (id int PRIMARY KEY, name text, city text);
INSERT INTO customers VALUES (1, 'Alice', 'Paris'), (2, 'Bob', 'Berlin');
"""
# Read as the checks read it: one string after E'..'. Sent in EUC_JP or SJIS, ¥ is the byte
# 0x5C, a backslash: the string ends early and effect() is called, even by EXPLAIN (IMMUTABLE).
HIDDEN_CALL = "SELECT name FROM customers WHERE name = E'¥' AND name <> ' OR effect(''x'') --'"
# With standard_conforming_strings off, the \' escapes the quote: `WHERE true` updates every row.
WIDER_WRITE = "UPDATE customers SET city = 'Lyon\\' WHERE id = 1 /* ' WHERE true -- */"


@pytest.fixture
def owned(fresh_db):
    """A database whose owner set up SETUP (each test then gives its sessions a setting)."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SETUP)
    return fresh_db


def _set(conninfo: str, setting: str, value: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {conn.info.dbname} SET {setting} = '{value}'")


def _locked(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("encoding", ["EUC_JP", "SJIS", "SHIFT_JIS_2004"])  # Python reads 0x5C back as ¥ in the last
def test_a_character_sent_as_a_backslash_is_never_proven_nor_checked_on_the_server(owned, encoding):
    _set(owned, "client_encoding", encoding)
    with psycopg.connect(owned, autocommit=True) as conn:
        assert conn.info.parameter_status("client_encoding") == encoding
        proof = prove(conn, HIDDEN_CALL)
        assert not proof.proven and f"client encoding {encoding} sends '¥' as the byte(s) b'\\\\'" in proof.reasons[0]
        answer = Asker(Scripted([HIDDEN_CALL]), Options(max_repairs=0, candidates=1)).ask("names", conn)
        assert answer.kind == "failed" and "client encoding" in answer.reason
        assert not _locked(conn)  # no EXPLAIN, no vote ran it


@pytest.mark.parametrize(("encoding", "written", "read"), [("SJIS", "〜", "～"), ("EUC_JP", "−", "－"), ("EUC_KR", "갂", "ㅤㄱㅏㄲ")])
def test_a_character_the_server_converts_otherwise_than_python_is_never_run(owned, encoding, written, read):
    """Python's codecs and the server's conversions disagree on some characters: the checks
    passed `label = '〜'` and the server ran `label = '～'` (a confirmed DELETE removed the
    other row). Asked of the server, such a statement is not proven nor offered."""
    with psycopg.connect(owned, autocommit=True) as conn:
        conn.execute("CREATE TABLE labels (id int, label text)")
        conn.execute("INSERT INTO labels VALUES (1, %s), (2, %s)", (written, read))
    _set(owned, "client_encoding", encoding)
    sql = f"DELETE FROM labels WHERE label = '{written}'"
    with psycopg.connect(owned, autocommit=True) as conn:
        assert "reads as other characters" in prove(conn, f"SELECT id FROM labels WHERE label = '{written}'").reasons[0]
        answer = Asker(Scripted([sql]), Options(max_repairs=0, candidates=1)).ask("remove that label", conn)
        assert answer.kind == "failed" and "reads as other characters" in answer.reason
        assert prove(conn, "SELECT '日本' AS word").proven  # what both read alike goes on


def test_a_write_is_not_run_when_the_session_reads_backslashes_otherwise(owned):
    _set(owned, "standard_conforming_strings", "off")
    out, errors = io.StringIO(), io.StringIO()
    target = Target(owned)
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=errors)
    handler = QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)
    handler.confirm = lambda prompt: "yes"
    handler._present(Answer("move Alice", WIDER_WRITE, "write", "", safety=classify(WIDER_WRITE)))
    assert "Not run: standard_conforming_strings is off" in errors.getvalue()
    with psycopg.connect(owned) as conn:
        assert conn.execute("SELECT city FROM customers ORDER BY id").fetchall() == [("Paris",), ("Berlin",)]
