"""`?run` and `SELECT nl2sql(...)` through the extended protocol, as drivers send them
(psycopg prepared and binary, libpq's own Parse/Execute and pipeline mode), and NOTIFYs that
arrive while a question has the connection."""

from __future__ import annotations

import socket
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
        conn.execute("DEALLOCATE del")  # as a statement of the server's own (the proxy answers for it)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            conn.execute("EXECUTE del")
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


RAISE = "UPDATE customers SET revenue = revenue + 1 WHERE id = 1"


def _revenue(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute("SELECT revenue FROM customers WHERE id = 1").fetchone()[0]


def test_a_write_run_by_run_yes_is_not_left_as_the_client_s_unnamed_statement(db, start_proxy):
    """The bridge's psycopg runs the confirmed write as the unnamed statement; left there, the
    client's next `Bind ""` (its own unnamed statement, parsed before the question) ran the
    write again."""
    proxy = start_proxy(Asker(Scripted([RAISE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        pgconn = conn.pgconn
        pgconn.send_prepare(b"", b"SELECT 'mine'")
        assert _wait(conn).status == pq.ExecStatus.COMMAND_OK
        conn.execute("SELECT nl2sql('raise the first customer''s revenue')", prepare=True)
        assert conn.execute("SELECT nl2sql_run('yes')", prepare=True).statusmessage == "UPDATE 1"
        assert _revenue(db) == 301
        for _ in range(2):
            pgconn.send_query_prepared(b"", None)
            _wait(conn)
        assert _revenue(db) == 301


def _message(kind: bytes, *fields: bytes) -> bytes:
    body = b"".join(fields)
    return kind + (len(body) + 4).to_bytes(4, "big") + body


def test_a_run_portal_runs_only_the_proposal_its_bind_confirmed(db, start_proxy):
    """`?run yes` bound while a read was the proposal, then a question answered with a write
    in the same batch, then the portal's Execute: the write ran under the confirmation given
    for the read (and under the read's row description)."""
    proxy = start_proxy(Asker(ByWords({"top": TOP, "raise": RAISE})))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("SELECT nl2sql('top 2 customers by revenue')")
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        no_formats = b"\0\0\0\0\0\0"
        sock.sendall(_message(b"Q", b"BEGIN\0"))  # in an implicit transaction the portal would end at the question's Sync
        _until_ready(sock)
        sock.sendall(
            _message(b"P", b"r\0", b"SELECT nl2sql_run('yes')\0", b"\0\0")
            + _message(b"B", b"p\0", b"r\0", no_formats)
            + _message(b"D", b"Pp\0")
            + _message(b"P", b"\0", b"SELECT nl2sql('raise the first customer''s revenue')\0", b"\0\0")
            + _message(b"B", b"\0", b"\0", no_formats)
            + _message(b"E", b"\0", b"\0\0\0\0")
            + _message(b"E", b"p\0", b"\0\0\0\0")
            + _message(b"S")
        )
        received = _until_ready(sock)
        sock.close()
        assert b"another question was answered after this portal was bound" in received
        assert _revenue(db) == 300


class ByWords(Scripted):
    """Writes the reply whose words are in the prompt's question."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__([])
        self.by_words = replies

    def generate(self, prompt, *, n=1, **options):
        question = prompt[prompt.rfind("Question:") :]
        return Scripted([next(sql for words, sql in self.by_words.items() if words in question)]).generate(prompt, n=n)


def _until_ready(sock: socket.socket) -> bytes:
    received = b""
    sock.settimeout(20)
    while not (len(received) >= 6 and received[-6:-1] == b"Z\x00\x00\x00\x05") and (chunk := sock.recv(65536)):
        received += chunk
    return received


def test_a_run_portal_ends_with_its_transaction(db, start_proxy):
    """`?run yes` bound inside BEGIN, then ROLLBACK: the server drops a transaction's portals,
    the proxy kept its own, and a later Execute ran the write the person had rolled back."""
    proxy = start_proxy(Asker(Scripted([RAISE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("SELECT nl2sql('raise the first customer''s revenue')")
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        sock.sendall(_message(b"Q", b"BEGIN\0"))
        _until_ready(sock)
        sock.sendall(_message(b"P", b"s\0", b"SELECT nl2sql_run('yes')\0", b"\0\0") + _message(b"B", b"p\0", b"s\0", b"\0\0\0\0\0\0") + _message(b"S"))
        assert _until_ready(sock).endswith(b"T")
        sock.sendall(_message(b"Q", b"ROLLBACK\0"))
        _until_ready(sock)
        sock.sendall(_message(b"E", b"p\0", b"\0\0\0\0") + _message(b"S"))
        received = _until_ready(sock)
        sock.close()
    assert b'portal "p" does not exist' in received and _revenue(db) == 300


@pytest.mark.parametrize("command", [b"DEALLOCATE ALL", b"DISCARD ALL"])
def test_a_run_statement_is_gone_with_every_statement_of_the_session(db, start_proxy, command):
    """As the server's own: after DEALLOCATE ALL (or DISCARD ALL) a Bind to a `?run` prepared
    before gets the server's error; it ran the proposal."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("SELECT nl2sql('top 2 customers by revenue')")
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        sock.sendall(_message(b"P", b"r\0", b"?run\0", b"\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", command + b"\0"))
        _until_ready(sock)
        sock.sendall(_message(b"B", b"p\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"E", b"p\0", b"\0\0\0\0") + _message(b"S"))
        received = _until_ready(sock)
        sock.close()
    assert b'prepared statement "r" does not exist' in received and b"Ada" not in received


def test_run_statements_and_portals_end_as_the_server_s_own(db, start_proxy):
    """A simple Query ends the unnamed statement and portal, CLOSE ALL every portal; the
    proxy's `?run` ones lived on, and a later Bind or Execute of them ran the proposal."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("SELECT nl2sql('top 2 customers by revenue')")
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        sock.sendall(_message(b"P", b"\0", b"?run\0", b"\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"SELECT 1\0"))
        _until_ready(sock)
        sock.sendall(_message(b"B", b"\0", b"\0", b"\0\0\0\0\0\0") + _message(b"E", b"\0", b"\0\0\0\0") + _message(b"S"))
        unnamed = _until_ready(sock)
        sock.sendall(_message(b"P", b"\0", b"?run\0", b"\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))  # a Query the proxy answers itself
        _until_ready(sock)
        sock.sendall(_message(b"B", b"\0", b"\0", b"\0\0\0\0\0\0") + _message(b"E", b"\0", b"\0\0\0\0") + _message(b"S"))
        after_question = _until_ready(sock)
        sock.sendall(_message(b"Q", b"BEGIN\0"))
        _until_ready(sock)
        sock.sendall(_message(b"P", b"r\0", b"?run\0", b"\0\0") + _message(b"B", b"p\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"CLOSE ALL\0"))
        _until_ready(sock)
        sock.sendall(_message(b"E", b"p\0", b"\0\0\0\0") + _message(b"S"))
        closed = _until_ready(sock)
        for again in (b"ROLLBACK\0", b"BEGIN\0"):
            sock.sendall(_message(b"Q", again))
            _until_ready(sock)
        sock.sendall(_message(b"B", b"q\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"CLOSE q;\0"))  # one the server does not know: the proxy's own answer
        closed_by_name = _until_ready(sock)
        sock.sendall(_message(b"Q", b"SELECT 1/0\0") + _message(b"Q", b"DEALLOCATE PREPARE R\0"))  # in a failed transaction: the server's refusal
        refused = b""
        while refused.count(b"Z\x00\x00\x00\x05") < 2 and (chunk := sock.recv(65536)):  # two queries, two ReadyForQuery
            refused += chunk
        sock.sendall(_message(b"Q", b"ROLLBACK\0"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"DEALLOCATE PREPARE R\0"))
        deallocated = _until_ready(sock)
        sock.sendall(_message(b"E", b"q\0", b"\0\0\0\0") + _message(b"S"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"ROLLBACK\0"))
        _until_ready(sock)
        sock.sendall(_message(b"B", b"x\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"E", b"x\0", b"\0\0\0\0") + _message(b"S"))
        gone = _until_ready(sock)
        sock.close()
    assert b'unnamed prepared statement does not exist' in unnamed and b"Ada" not in unnamed
    assert b"unnamed prepared statement does not exist" in after_question and b"Ada" not in after_question
    assert b'portal "p" does not exist' in closed and b"Ada" not in closed
    assert b"current transaction is aborted" in refused
    assert closed_by_name.startswith(b"C\0\0\0\x11CLOSE CURSOR\0") and deallocated.startswith(b"C\0\0\0\x0fDEALLOCATE\0")  # as the server answers them
    assert b'prepared statement "r" does not exist' in gone and b"Ada" not in gone


@pytest.mark.parametrize("fails", [True, False])
def test_a_query_inside_a_batch_leaves_questions_answered(db, start_proxy, fails):
    """A simple Query inside an extended batch the server has already failed is skipped with
    no ReadyForQuery; the proxy counted one for it and every later question on the
    connection waited forever. When the batch has not failed, the Query runs and commits with
    what came before it, as on PostgreSQL 15 directly (18 reports an open transaction there
    and fails the next Query with "unexpected state STARTED")."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        sql = b"SELECT 1 / 0\0" if fails else b"SELECT 'first'\0"
        sock.sendall(
            _message(b"P", b"\0", sql, b"\0\0")
            + _message(b"B", b"\0", b"\0", b"\0\0\0\0\0\0")
            + _message(b"E", b"\0", b"\0\0\0\0")
            + _message(b"Q", b"INSERT INTO customers VALUES (9, 'Q', 1)\0")
            + _message(b"S")
        )
        received = _until_ready(sock)
        if not fails and received.count(b"Z\0\0\0\5") == 1:  # the Query's own ReadyForQuery, then the Sync's
            received += _until_ready(sock)
        assert (b"division by zero" in received) == fails and count(db) == (3 if fails else 4)
        assert received.count(b"Z\0\0\0\5") == (1 if fails else 2)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
        assert b"FROM customers" in _until_ready(sock)  # the answer
        sock.close()


def test_a_run_portal_ends_with_a_transaction_ended_by_run_yes(db, start_proxy):
    """`?run yes` of a COMMIT the model proposed ends the transaction on the bridge: the
    proxy kept the `?run` portals bound in it, and a suspended one went on giving rows."""
    proxy = start_proxy(Asker(ByWords({"top": TOP, "commit": "COMMIT"})))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        sock.sendall(_message(b"Q", b"BEGIN\0"))
        _until_ready(sock)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
        _until_ready(sock)
        one_row = b"\0\0\0\1"
        sock.sendall(_message(b"P", b"r\0", b"?run\0", b"\0\0") + _message(b"B", b"p\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"E", b"p\0", one_row) + _message(b"S"))
        assert b"Ada" in _until_ready(sock)
        for command in (b"?! commit the work\0", b"?run yes\0"):
            sock.sendall(_message(b"Q", command))
            done = _until_ready(sock)
        assert done.endswith(b"I")
        sock.sendall(_message(b"E", b"p\0", b"\0\0\0\0") + _message(b"S"))
        received = _until_ready(sock)
        sock.close()
    assert b'portal "p" does not exist' in received and b"Cy" not in received


def test_a_run_portal_ends_with_a_rollback_to_its_savepoint(db, start_proxy):
    """ROLLBACK TO SAVEPOINT destroys the portals made after the savepoint; the proxy kept
    its `?run` portal, and a suspended one went on giving rows."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = socket.socket(fileno=socket.dup(conn.pgconn.socket))
        for command in (b"BEGIN\0", b"SAVEPOINT s\0", b"? top 2 customers by revenue\0"):
            sock.sendall(_message(b"Q", command))
            _until_ready(sock)
        sock.sendall(_message(b"P", b"r\0", b"?run\0", b"\0\0") + _message(b"B", b"p\0", b"r\0", b"\0\0\0\0\0\0") + _message(b"E", b"p\0", b"\0\0\0\1") + _message(b"S"))
        assert b"Ada" in _until_ready(sock)
        sock.sendall(_message(b"Q", b"ROLLBACK TO SAVEPOINT s\0"))
        _until_ready(sock)
        sock.sendall(_message(b"E", b"p\0", b"\0\0\0\0") + _message(b"S"))
        received = _until_ready(sock)
        sock.close()
    assert b'portal "p" does not exist' in received and b"Cy" not in received
