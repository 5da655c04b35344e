"""`?run` and `SELECT nl2sql(...)` through the extended protocol, as drivers send them
(psycopg prepared and binary, libpq's own Parse/Execute and pipeline mode), and NOTIFYs that
arrive while a question has the connection."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import generators, pq
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker

from .conftest import count

TOP = "SELECT name, revenue FROM customers ORDER BY revenue DESC LIMIT 2"
DELETE = "DELETE FROM customers WHERE revenue < 150"


def test_run_through_the_extended_protocol(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        cur = conn.cursor()
        for binary in (False, True):  # the rows in the format the Bind asks for
            cur.execute("SELECT nl2sql('top 2 customers by revenue')")
            cur.execute("?run", prepare=True, binary=binary)
            assert [d.name for d in cur.description] == ["name", "revenue"]
            assert [(name, str(revenue)) for name, revenue in cur.fetchall()] == [("Ada", "300"), ("Cy", "200")]
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="no proposal"):
            cur.execute("?run", prepare=True)  # once only
        assert cur.execute("SELECT count(*) FROM customers WHERE id > %s", (0,)).fetchone() == (3,)


def _wait(conn: psycopg.Connection) -> pq.PGresult:
    """The result of what was just sent on ``conn.pgconn``, waited for as psycopg waits (a
    blocking libpq call would hold the GIL, and the proxy runs in this process)."""
    (result,) = conn.wait(generators.execute(conn.pgconn))
    return result


def test_write_runs_at_execute_only_with_yes(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([DELETE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("SELECT nl2sql('delete the small customers')", prepare=True)
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="writes"):
            conn.execute("SELECT nl2sql_run()", prepare=True)
        pgconn = conn.pgconn
        pgconn.send_prepare(b"del", b"SELECT nl2sql_run('yes')")
        assert _wait(conn).status == pq.ExecStatus.COMMAND_OK
        pgconn.send_describe_prepared(b"del")
        described = _wait(conn)
        assert described.status == pq.ExecStatus.COMMAND_OK and described.nfields == 0
        assert count(db) == 3  # parsed and described, not run
        pgconn.send_query_prepared(b"del", None)
        result = _wait(conn)
        assert result.status == pq.ExecStatus.COMMAND_OK and result.command_status == b"DELETE 1"
        assert count(db) == 2
        pgconn.send_query_prepared(b"del", None)  # the proposal ran: nothing to run again
        again = _wait(conn)
        assert again.status == pq.ExecStatus.FATAL_ERROR and b"no proposal" in again.error_message
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):  # only the proxy knew it
            conn.execute("DEALLOCATE del")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_question_inside_a_batch(db, start_proxy):
    """psycopg's pipeline mode: Parse/Bind/Describe/Execute of each statement, one Sync."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        with conn.pipeline():
            first, question, last = conn.cursor(), conn.cursor(), conn.cursor()
            first.execute("INSERT INTO customers VALUES (4, 'Di', 50)")
            question.execute("SELECT nl2sql('top 2 customers by revenue')")
            last.execute("SELECT 7")
        assert first.statusmessage == "INSERT 0 1" and question.fetchone()[0].startswith("SELECT") and last.fetchone() == (7,)
        assert count(db) == 4
        # An error before the question: the server skips the rest of the batch, so does the proxy.
        with pytest.raises(psycopg.errors.DivisionByZero), conn.pipeline():
            conn.execute("SELECT 1 / 0")
            conn.execute("SELECT nl2sql('top 2 customers by revenue')")
            conn.execute("INSERT INTO customers VALUES (5, 'Ed', 5)")
        assert count(db) == 4
        # ?run in the middle of a batch runs in its place.
        with conn.pipeline():
            before, ran, after = conn.cursor(), conn.cursor(), conn.cursor()
            before.execute("SELECT 1")
            ran.execute("?run")
            after.execute("SELECT 2")
        assert (before.fetchall(), ran.fetchall(), after.fetchall()) == ([(1,)], [("Ada", 300), ("Cy", 200)], [(2,)])
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE


class Blocking(Scripted):
    """A model that waits for the test before it answers."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.started, self.go = threading.Event(), threading.Event()

    def generate(self, prompt, **options):
        self.started.set()
        assert self.go.wait(20)
        return super().generate(prompt, **options)


def test_notify_during_a_question_reaches_the_client(db, start_proxy):
    model = Blocking([TOP])
    proxy = start_proxy(Asker(model))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn, psycopg.connect(db, autocommit=True) as other:
        received: list[tuple[str, str]] = []
        conn.add_notify_handler(lambda n: received.append((n.channel, n.payload)))
        conn.execute("LISTEN news")

        def notify_while_asking() -> None:
            model.started.wait(10)
            other.execute("NOTIFY news, 'while asking'")
            with psycopg.connect(db, autocommit=True) as probe:  # delivered to the borrowed session
                probe.execute("SELECT pg_sleep(0.3)")
            model.go.set()

        helper = threading.Thread(target=notify_while_asking)
        helper.start()
        conn.execute("? top 2 customers by revenue")
        helper.join(10)
        conn.execute("SELECT 1")
        assert received == [("news", "while asking")]
