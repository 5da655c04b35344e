"""`?` questions through the proxy with a scripted model: shown, never run until `?run`;
writes and unproven SQL only with `?run yes`; per connection; over the client's own session."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import threading
import time

import psycopg
import pytest
from psycopg import generators, pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from scripted import InTurn, Recording, Scripted

from nl2sql_shell.nl2sql.examples import ExampleStore, store_path
from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL
from nl2sql_shell.proxy.session import _raise_sql

from .conftest import count

TOP = "SELECT name FROM customers ORDER BY revenue DESC LIMIT 2"
DELETE = "DELETE FROM customers WHERE revenue < 150"


def _nothing_to_run(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="no proposal to run"):
        conn.execute("?run yes")


def test_psql_question_is_shown_not_run_then_run(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([TOP])))
    result = subprocess.run(
        ["/usr/bin/psql", "-X", proxy.via(db)],
        input="? top 2 customers by revenue;\n?run;\n?run;\n",  # psql sends at the ;
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "NOTICE:  SELECT" in result.stderr and "send ?run to run it" in result.stderr
    assert "sql" in result.stdout and "public.customers" in result.stdout
    assert " Ada\n Cy\n(2 rows)" in result.stdout  # ?run: the proven read ran
    assert "no proposal to run" in result.stderr  # once only


def test_write_needs_run_yes(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([DELETE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sql, _, writes, proven, reason = conn.execute("? delete the small customers").fetchone()
        assert sql.startswith("DELETE") and writes is True and proven is False and "?run yes" in reason
        assert count(db) == 3  # shown, not run
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="writes"):
            conn.execute("?run")
        assert count(db) == 3
        assert conn.execute("?run yes").statusmessage == "DELETE 1"
        assert count(db) == 2
    params = conninfo_to_dict(db)  # the examples memory of this database, as the proxy keys it: by its upstream
    stored = ExampleStore(store_path(proxy.proxy.upstream.host, proxy.proxy.upstream.port, params["dbname"], params["user"])).all()
    assert [(e.question, e.sql) for e in stored] == [("delete the small customers", sql)]


def test_unproven_read_needs_run_yes_and_stays_read_only(db, start_proxy):
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS 'INSERT INTO customers VALUES (9, ''Zed'', 1) RETURNING 1'")
    proxy = start_proxy(Asker(Scripted(["SELECT bump() AS x FROM customers"])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sql, _, writes, proven, reason = conn.execute("? bump the customers").fetchone()
        assert sql is not None and writes is False and proven is False and "MAY HAVE SIDE EFFECTS" in reason
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            conn.execute("?run")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("?run yes")
    assert count(db) == 3


def test_connections_have_their_own_proposals(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([DELETE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as first, psycopg.connect(proxy.via(db), autocommit=True) as second:
        first.execute("? delete the small customers")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="no proposal"):
            second.execute("?run yes")
        assert count(db) == 3


def test_question_inside_the_clients_transaction(db, start_proxy):
    """The pipeline reads the schema over the client's own session: a table created in its
    open transaction is seen, the transaction survives, and ROLLBACK still undoes it."""
    proxy = start_proxy(Asker(Scripted(["SELECT label FROM drafts"])))
    with psycopg.connect(proxy.via(db)) as conn:
        conn.execute("CREATE TABLE drafts (label text)")
        conn.execute("INSERT INTO drafts VALUES ('one')")
        _, tables, *_ = conn.execute("? every label of the drafts").fetchone()
        assert tables == "public.drafts"
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        assert conn.execute("?run").fetchall() == [("one",)]
        conn.rollback()
    with psycopg.connect(db) as check:
        assert check.execute("SELECT to_regclass('drafts')").fetchone() == (None,)


def test_question_uses_the_clients_rights(db, start_proxy):
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS proxy_asker")
        admin.execute("CREATE ROLE proxy_asker LOGIN PASSWORD 'asker-secret'")
    proxy = start_proxy(Asker(Scripted([TOP])))
    try:
        asker = make_conninfo(proxy.via(db), user="proxy_asker", password="asker-secret", passfile="/dev/null")
        with psycopg.connect(asker, autocommit=True) as conn:  # the role cannot see customers
            sql, _, _, _, reason = conn.execute("? top 2 customers by revenue").fetchone()
            assert sql is None and "no usable SQL" in reason
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
                conn.execute("?run yes")
    finally:
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("DROP OWNED BY proxy_asker")
            admin.execute("DROP ROLE proxy_asker")


def test_extended_protocol_form(db, start_proxy):
    """`SELECT nl2sql('...')` through Parse/Bind/Describe/Execute, as a JDBC tool sends it."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        cur = conn.cursor()
        for _ in range(3):  # prepared on reuse, like a driver's named statement
            cur.execute("SELECT nl2sql('top 2 customers by revenue')", prepare=True)
            sql, tables, _, proven, _ = cur.fetchone()
            assert sql.startswith("SELECT") and tables == "public.customers" and proven is True
        assert [d.name for d in cur.description] == ["sql", "tables", "writes", "proven", "reason"]
        assert notices and notices[0].startswith("SELECT")
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("encoding", ["EUC_JP", "SJIS"])
def test_the_answer_a_driver_parses_holds_the_model_s_words_as_text_in_any_client_encoding(db, start_proxy, encoding):
    """The proxy answers a Parse with a SELECT of constants that quote the model's words. In
    EUC_JP and SJIS, `¥` is sent as the byte of a backslash: a model that wrote `¥'` in a
    name it invented closed the constant early, and the owner's function ran in the person's
    session with no ?run. Now the words come back as written, and nothing runs."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute(
            "CREATE TABLE witness (at text);"
            "CREATE FUNCTION evil(t text) RETURNS text LANGUAGE plpgsql AS $$BEGIN INSERT INTO witness VALUES (t); RETURN t; END$$;"
            f"ALTER DATABASE {conninfo_to_dict(db)['dbname']} SET backslash_quote = on"
        )
    injected = "SELECT \"¥', evil($$ran$$) AS pwn --\" FROM customers"
    proxy = start_proxy(Asker(Scripted([injected])))
    with psycopg.connect(proxy.via(db), autocommit=True, client_encoding=encoding) as conn:
        ask = conn.cursor()
        if encoding == "EUC_JP":  # it has no ¥: the server says so, as it would of any such text
            with pytest.raises(psycopg.errors.UntranslatableCharacter):
                ask.execute("SELECT nl2sql('names of customers')", prepare=True)
        else:  # SJIS writes ¥ with the backslash's byte, and the server sends it back so
            sql, _, _, proven, reason = ask.execute("SELECT nl2sql('names of customers')", prepare=True).fetchone()
            assert sql is None and proven is False and "\\', evil($$ran$$) AS pwn --\" does not exist" in reason
    with psycopg.connect(db, autocommit=True) as owner:
        assert owner.execute("SELECT count(*) FROM witness").fetchone()[0] == 0


def test_a_failure_s_statement_raises_its_message_whatever_it_holds(db):
    """A failure reaches a driver as a statement that raises its message when executed; the
    message (a server's or the model's words) cannot end its dollar quote or its constant."""
    message = "column \"x$nl2sql$; SELECT 1; $nl2sql$\" ' \\ 日本 does not exist"
    with psycopg.connect(db, autocommit=True, client_encoding="SJIS") as conn:
        with pytest.raises(psycopg.errors.UndefinedColumn) as raised:
            conn.execute(_raise_sql(message, "42703"))
    assert raised.value.diag.message_primary == message


def test_the_answer_row_shows_control_and_bidi_characters_escaped_and_run_runs_the_sql_itself(db, start_proxy):
    """The NOTICE was escaped, the row was not: `psql -A` or a JDBC grid showed the model's
    ESC sequences and bidi overrides as they act. The row now reads as the REPL shows it;
    `?run` runs the proposal as the model wrote it."""
    disguised = "SELECT name FROM customers WHERE name <> '\x1b[2J\u202eAda' ORDER BY revenue DESC"
    proxy = start_proxy(Asker(Scripted([disguised])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sql, _, _, proven, reason = conn.execute("? customers other than a strange one").fetchone()
        assert proven is True and "\x1b" not in sql and "\u202e" not in sql and "'\\x1B[2J\\u202EAda'" in sql
        assert reason.endswith("(the sql holds control, invisible or look-alike characters, shown as \\t, \\xNN or \\uNNNN escapes)")  # not a written \x1B
        assert [r[0] for r in conn.execute("?run").fetchall()] == ["Ada", "Cy", "Bo"]


def test_a_question_without_a_proposal_leaves_nothing_for_run(db, start_proxy):
    """A DELETE proposed, then a question the model refuses: `?run yes` (sent with the second
    question, before its answer was read) ran the DELETE the person had moved on from."""
    proxy = start_proxy(Asker(InTurn([DELETE, REFUSAL_SQL]), Options(candidates=1, max_repairs=0)))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.execute("? remove the small customers").fetchone()[2] is True
        assert conn.execute("? how many moons has the customers table").fetchone()[0] is None
        _nothing_to_run(conn)
    assert count(db) == 3


def test_comments_before_a_question_or_run_as_gui_clients_send_them(db, start_proxy):
    """A GUI client sends its editor's text with the comments above the statement; `-- mine\n?
    ...` and `/* x */ ?run` went to the server (`syntax error at or near "?"`)."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.execute("-- from the editor\n? top 2 customers by revenue").fetchone()[0].startswith("SELECT")
        assert [r[0] for r in conn.execute("/* run it\n */ ?run").fetchall()] == ["Ada", "Cy"]


def test_a_proposal_that_failed_when_run_is_not_run_again(db, start_proxy):
    """"Each proposal runs once": a `?run yes` that failed (or was cancelled) left it to run a
    second time, and what it did outside the transaction (a sequence) happened twice."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE tickets")
    proxy = start_proxy(Asker(Scripted(["UPDATE customers SET revenue = nextval('tickets') / 0"]), Options(candidates=1, max_repairs=0)))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.execute("? renumber the customers").fetchone()[2] is True
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("?run yes")
        _nothing_to_run(conn)
    with psycopg.connect(db, autocommit=True) as conn:
        assert conn.execute("SELECT last_value FROM tickets").fetchone()[0] == 1


class Waiting(Scripted):
    """A model that writes nothing until its generation is cancelled."""

    def __init__(self) -> None:
        super().__init__(["SELECT 1"])
        self.started = threading.Event()

    def generate(self, prompt, *, cancel=None, **options):
        self.started.set()
        assert cancel is not None and cancel.wait(20), "the cancel never came"
        return super().generate(prompt, **options)


def test_cancel_stops_generation(db, start_proxy):
    model = Waiting()
    proxy = start_proxy(Asker(model))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        threading.Thread(target=lambda: model.started.wait(10) and conn.cancel_safe(), daemon=True).start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("? top 2 customers by revenue")
        assert time.monotonic() - started < 10
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)


def test_a_cancelled_question_through_the_extended_protocol_is_a_cancelled_statement(db, start_proxy):
    """psycopg's prepare=True (and pipeline mode) asks in a Parse: its cancel came back as
    0A000 (FeatureNotSupported), which an application catching QueryCanceled misses."""
    model = Waiting()
    proxy = start_proxy(Asker(model))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        threading.Thread(target=lambda: model.started.wait(10) and conn.cancel_safe(), daemon=True).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT nl2sql('top 2 customers by revenue')", prepare=True)
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)


class ByQuestion(Scripted):
    """Writes the reply whose question words are in the prompt."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__([])
        self.by_words = replies

    def generate(self, prompt, *, n=1, **options):
        return Scripted([next(sql for words, sql in self.by_words.items() if words in prompt)]).generate(prompt, n=n)


def test_a_question_whose_checks_are_slow_holds_no_other_client_s_question(db, start_proxy):
    """A's candidate takes seconds to plan (an immutable SQL function the planner folds counts
    30 million rows); B's question meanwhile is answered at once: only the model's calls take
    turns between clients."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute("CREATE FUNCTION slow() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT count(*) FROM generate_series(1, 30000000) $$")
    proxy = start_proxy(Asker(ByQuestion({"the slow count": "SELECT name FROM customers WHERE slow() > 0", "customers by revenue": TOP})))
    answers: dict[str, tuple] = {}

    def ask_a() -> None:
        with psycopg.connect(proxy.via(db), autocommit=True) as a:
            answers["a"] = a.execute("? customers with the slow count").fetchone()

    asking = threading.Thread(target=ask_a, daemon=True)
    asking.start()
    with psycopg.connect(db, autocommit=True) as watcher:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%%slow()%%' AND state = 'active' AND pid <> pg_backend_pid()").fetchone()[0]:
            time.sleep(0.02)
    with psycopg.connect(proxy.via(db), autocommit=True) as b:
        started = time.monotonic()
        sql, _, _, proven, _ = b.execute("? top 2 customers by revenue").fetchone()
        took = time.monotonic() - started
        assert asking.is_alive(), answers  # A is still waiting for its answer
        assert (sql.split(), proven) == (TOP.split(), True)
        assert took < 3
        assert [r[0] for r in b.execute("?run").fetchall()] == ["Ada", "Cy"]
    asking.join(60)
    assert "a" in answers  # A got its answer too


def test_a_question_waiting_for_the_model_s_turn_is_cancelled_at_once(db, start_proxy):
    """While A's question holds the model, B's waits its turn; B's cancel ends B's wait at
    once, and A's generation goes on until A cancels it."""
    model = Waiting()
    proxy = start_proxy(Asker(model))
    with psycopg.connect(proxy.via(db), autocommit=True) as a, psycopg.connect(proxy.via(db), autocommit=True) as b:
        failures: list[BaseException] = []

        def ask_a() -> None:
            try:
                a.execute("? top 2 customers by revenue")
            except psycopg.errors.QueryCanceled as exc:
                failures.append(exc)

        asking = threading.Thread(target=ask_a, daemon=True)
        asking.start()
        assert model.started.wait(10)
        model.started.clear()
        threading.Timer(0.5, b.cancel_safe).start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            b.execute("? top 2 customers by revenue")
        assert time.monotonic() - started < 3
        assert not model.started.is_set()  # B's question never reached the model
        assert asking.is_alive()  # A's generation goes on
        a.cancel_safe()
        asking.join(20)
        assert len(failures) == 1
        assert b.execute("SELECT count(*) FROM customers").fetchone() == (3,)


def test_schema_changed_elsewhere_is_seen(db, start_proxy):
    """A table created by another connection, straight on the server, is in the next
    question's schema: the proxy never saw that DDL."""
    proxy = start_proxy(Asker(Scripted(["SELECT label FROM notes"])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        _, tables, *_ = conn.execute("? every label of the notes").fetchone()
        assert tables is None  # no such table yet: no usable SQL
        with psycopg.connect(db, autocommit=True) as direct:
            direct.execute("CREATE TABLE notes (label text)")
        _, tables, *_ = conn.execute("? every label of the notes").fetchone()
        assert tables == "public.notes"
        with psycopg.connect(db, autocommit=True) as direct:
            direct.execute("ALTER TABLE notes RENAME COLUMN label TO title")
        sql, tables, *_ = conn.execute("? every label of the notes").fetchone()
        assert sql is None  # the renamed column is seen: the model's SQL no longer fits


def test_run_proves_again_what_the_schema_may_have_changed_and_passes_notices_on(db, start_proxy):
    """Between the answer and ?run the owner turns the table into a view that calls their
    code: ?run alone no longer runs it; what that code says reaches the client whole."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        assert conn.execute("? top 2 customers by revenue").fetchone()[3] is True  # proven when proposed
        with psycopg.connect(db, autocommit=True) as owner:
            owner.execute(
                "ALTER TABLE customers RENAME TO customers_data;"
                "CREATE FUNCTION said() RETURNS bool LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE 'the owner''s code ran'; RETURN true; END$$;"
                "CREATE VIEW customers AS SELECT * FROM customers_data WHERE said()"
            )
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="since it was proposed, it may have side effects .*reads view customers"):
            conn.execute("?run")
        assert "the owner's code ran" not in notices
        assert [r[0] for r in conn.execute("?run yes").fetchall()] == ["Ada", "Cy"]  # the person read it and said yes
        assert "the owner's code ran" in notices  # as the server said it, not an empty notice


def test_an_unproven_proposal_is_not_even_parsed_for_a_describe(db, start_proxy):
    """A driver Describes `SELECT nl2sql_run()` before it Executes it; parsing a literal of a
    domain checks the domain's CHECK, which may call anything. Unproven and not confirmed,
    the proposal is not parsed: no columns, then the Execute is refused."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute(
            "CREATE FUNCTION fine(t text) RETURNS bool LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4242); RETURN true; END$$;"
            "CREATE DOMAIN tag AS text CHECK (fine(VALUE))"
        )
    proxy = start_proxy(Asker(Scripted(["SELECT name, '{x}'::tag[] AS tags FROM customers"])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.execute("? customers and their tags").fetchone()[3] is False  # unproven: it names tag
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="may have side effects"):
            conn.cursor().execute("SELECT nl2sql_run()", prepare=True)
        locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        with psycopg.connect(db, autocommit=True) as admin:
            assert admin.execute(locks).fetchone()[0] == 0


def test_a_question_after_a_batch_without_its_sync_ends_that_batch_as_the_server_would(db, start_proxy):
    """Parse/Bind/Execute of an INSERT, then `?run` as a simple Query, then Sync, in one
    packet: the INSERT's replies reach the client and it is committed, as PostgreSQL does
    with a Query after an unsynced batch; then the proposal runs."""
    import socket
    import struct

    def message(kind: bytes, body: bytes) -> bytes:
        return kind + struct.pack("!I", len(body) + 4) + body

    def text(value: str) -> bytes:
        return value.encode() + b"\0"

    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE pipe_t (x int)")
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:  # the question, asked the usual way
        pgconn = conn.pgconn
        assert conn.execute("? top 2 customers by revenue").fetchone()[3] is True
        batch = (
            message(b"P", text("") + text("INSERT INTO pipe_t VALUES (1)") + b"\0\0")
            + message(b"B", text("") + text("") + b"\0\0\0\0\0\0")
            + message(b"E", text("") + b"\0\0\0\0")
            + message(b"Q", text("?run"))
            + message(b"S", b"")
        )
        sock = socket.socket(fileno=socket.dup(pgconn.socket))  # the same connection, spoken to raw
        sock.sendall(batch)
        received = b""
        sock.settimeout(10)
        while received.count(b"Z\0\0\0\x05") < 2:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        sock.detach()
    assert b"INSERT 0 1" in received and b"Ada" in received and b"Cy" in received
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pipe_t").fetchone()[0] == 1


@pytest.mark.parametrize(
    "form",
    [
        "SELECT nl2sql(%s)",
        "/* q */ SELECT nl2sql('top 2 customers')",
        "SELECT public.nl2sql('top 2 customers')",
        "SELECT nl2sql_run() -- now",
        "select * from nl2sql_run()",
        "SELECT nl2sql/* ask */('top 2 customers')",
        "SELECT nl2sql -- ask\n('top 2 customers')",
        "SELECT U&\"nl2sq\\006C\"('top 2 customers')",
        "SELECT U&\"nl2sq!006C\" UESCAPE '!' ('top 2 customers')",
        "SELECT nl2sql_run/**/()",
        "SELECT 'a\\' AS s, nl2sql_run() AS r, ''",  # a backslash ends nothing with standard_conforming_strings on
        "SELECT /* a /* nested */ comment */ nl2sql_run()",
        "SELECT 1 AS a$x$, nl2sql_run() AS b$x$",  # `$x$` inside a name begins no dollar quote
        "DO $$BEGIN PERFORM public.nl2sql_run('yes'); END$$",  # a constant that is code
        "SELECT public.U&\"nl2sq!006C_run\" /**/ UESCAPE '!' ('yes')",  # a comment before UESCAPE
        "SELECT 'U&\"' AS s, public.U&\"nl2sq\\006C_run\"('yes')",  # a `U&\"` inside a constant first
        "DO $$BEGIN EXECUTE E'SELECT public.nl2sq\\x6c_run(''yes'')'; END$$",  # escapes in a constant that is code
        "DO $$BEGIN EXECUTE U&'SELECT public.nl2sq\\006C_run(''yes'')'; END$$",
        "SELECT query_to_xml('SELECT public.nl2'\n'sql_run(''yes'')', false, false, '')",  # constants SQL joins
        "DO E'BEGIN PERFORM public.nl2sq\\l_run(''yes''); END'",  # a backslash before any other letter is that letter
        "SELECT query_to_xml(E'SELECT public.nl2sq\\554_run(''yes'')', false, false, '')",  # an octal byte mod 256
    ],
)
def test_another_form_of_the_proxy_s_calls_is_refused_not_sent_to_the_owner_s_function(db, start_proxy, form):
    """The database's owner made functions named nl2sql and nl2sql_run; a call in a form the
    proxy does not answer (a driver's bind parameter, a comment, a schema) would run theirs as
    the client and pass their row off as the proxy's answer. It is refused."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute(
            "CREATE FUNCTION nl2sql(q text) RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4747); RETURN 'SELECT 1'; END$$;"
            "CREATE FUNCTION nl2sql_run(yes text DEFAULT '') RETURNS text LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_lock(4747); RETURN 'ran'; END$$"
        )
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction, match="the proxy answers only SELECT nl2sql"):
            conn.execute(form, ["top 2 customers"] if "%s" in form else None)
        assert conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)
        assert conn.execute("? top 2 customers by revenue").fetchone()[3] is True  # the session goes on


class Held(Waiting):
    """Waiting, and says when its generation has let go."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def generate(self, prompt, *, cancel=None, **options):
        try:
            return super().generate(prompt, cancel=cancel, **options)
        finally:
            self.released.set()


def test_a_client_that_goes_away_mid_question_lets_the_model_go(db, start_proxy):
    """psql killed while its question generates: the question is cancelled, so the model's
    turn passes to the next client at once instead of when the dead question ends."""
    model = Held()
    proxy = start_proxy(Asker(model))
    asking = subprocess.Popen(["/usr/bin/psql", "-X", proxy.via(db), "-c", "? top 2 customers by revenue"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert model.started.wait(10)
        asking.kill()
        assert model.released.wait(5)
    finally:
        asking.kill()
        asking.wait()


def test_a_question_whose_server_connection_dies_lets_the_model_go(db, start_proxy):
    """The client's server backend is terminated while its question generates: the question
    is cancelled as for a client that goes away (it held the model's turn from every other
    client for as long as its generation took), and the client gets the server's FATAL."""
    model = Held()
    proxy = start_proxy(Asker(model))
    conn = psycopg.connect(proxy.via(db), autocommit=True)
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            conn.execute("? top 2 customers by revenue")
        except psycopg.Error as exc:
            failures.append(exc)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    try:
        assert model.started.wait(10)
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        assert model.released.wait(5)
        asking.join(10)
        assert [type(f) for f in failures] == [psycopg.errors.AdminShutdown]
    finally:
        conn.close()


@pytest.mark.skipif(pq.version() < 180000, reason="protocol 3.2 needs libpq 18")
def test_a_client_on_protocol_3_2_asks_runs_and_cancels(db, start_proxy):
    """PostgreSQL 18's protocol 3.2 carries a 32-byte cancel key, which the bridge's psycopg
    connection (on 3.0) refused: every question failed with libpq's error."""
    model = Waiting()
    proxy = start_proxy(Asker(model))
    with psycopg.connect(make_conninfo(proxy.via(db), max_protocol_version="3.2"), autocommit=True) as conn:
        assert conn.pgconn.full_protocol_version == 30002
        threading.Thread(target=lambda: model.started.wait(10) and conn.cancel_safe(), daemon=True).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("? top 2 customers by revenue")
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(make_conninfo(proxy.via(db), max_protocol_version="3.2"), autocommit=True) as conn:
        sql, _, _, proven, _ = conn.execute("? top 2 customers by revenue").fetchone()
        assert (sql.split(), proven) == (TOP.split(), True)
        assert [r[0] for r in conn.execute("?run").fetchall()] == ["Ada", "Cy"]


def test_run_statements_waiting_on_a_lock_hold_no_other_client_nor_its_cancel(db, start_proxy):
    """Eight clients' confirmed writes wait on a table another session locked: another
    client's proven read still runs at once, and one writer's Ctrl-C stops its write."""
    proxy = start_proxy(Asker(ByQuestion({"bump the drafts": "UPDATE drafts SET label = 'x'", "customers by revenue": TOP})))
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("CREATE TABLE drafts (label text); INSERT INTO drafts VALUES ('a')")
        writers = [psycopg.connect(proxy.via(db), autocommit=True) for _ in range(8)]
        try:
            for writer in writers:
                assert writer.execute("? bump the drafts").fetchone()[2] is True  # a write, proposed
            holder.execute("BEGIN")
            holder.execute("LOCK TABLE drafts IN ACCESS EXCLUSIVE MODE")
            outcomes: list[str] = []

            def run(conn: psycopg.Connection) -> None:
                try:
                    conn.execute("?run yes")
                    outcomes.append("ran")
                except psycopg.errors.QueryCanceled:
                    outcomes.append("cancelled")

            threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in writers]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and holder.execute("SELECT count(*) FROM pg_locks WHERE relation = 'drafts'::regclass AND NOT granted").fetchone()[0] < 8:
                time.sleep(0.05)
            read: list[str] = []

            def read_top() -> None:
                with psycopg.connect(proxy.via(db), autocommit=True) as reader:
                    if reader.execute("? top 2 customers by revenue").fetchone()[3] is True:
                        read.extend(r[0] for r in reader.execute("?run").fetchall())

            reading = threading.Thread(target=read_top, daemon=True)
            reading.start()
            reading.join(5)
            assert read == ["Ada", "Cy"]  # within 5 s
            started = time.monotonic()
            writers[0].cancel_safe()
            threads[0].join(5)
            assert outcomes == ["cancelled"] and time.monotonic() - started < 5
            holder.execute("ROLLBACK")
            for thread in threads:
                thread.join(10)
            assert sorted(outcomes) == ["cancelled"] + ["ran"] * 7
        finally:
            for writer in writers:
                writer.close()


def test_a_setting_a_confirmed_proposal_changes_is_reported_to_the_client(db, start_proxy):
    """`?run yes` of the model's SET standard_conforming_strings: the server reports the change
    to the proxy's own connection; the client's driver, which quotes by it, must hear it too."""
    proxy = start_proxy(Asker(Scripted(["SET standard_conforming_strings TO off"])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.info.parameter_status("standard_conforming_strings") == "on"
        row = conn.execute("?! turn off standard strings").fetchone()
        assert row[2] is True, row  # a change: ?run yes
        conn.execute("?run yes")
        assert conn.info.parameter_status("standard_conforming_strings") == "off"
        assert conn.execute("SHOW standard_conforming_strings").fetchone() == ("off",)


def test_a_question_stopped_before_it_is_asked_leaves_nothing_for_run(db, start_proxy):
    """An empty question, or one in a failed transaction, leaves no earlier proposal to run."""
    proxy = start_proxy(Asker(Scripted([DELETE])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        assert conn.execute("? remove the small customers").fetchone()[2] is True
        with pytest.raises(psycopg.errors.SyntaxError):
            conn.execute("?")
        _nothing_to_run(conn)
    assert count(db) == 3


def _raw(conn: psycopg.Connection):
    import socket

    return socket.socket(fileno=socket.dup(conn.pgconn.socket))


def _read_until_ready(sock) -> bytes:
    received = b""
    sock.settimeout(10)
    while not received.endswith(b"Z\x00\x00\x00\x05I") and (chunk := sock.recv(65536)):
        received += chunk
    return received


def test_a_message_of_an_impossible_length_ends_that_connection_alone(db, start_proxy):
    """A Query whose length word says 0, its header cut across two reads: the proxy span
    forever and answered no client. Now that connection gets the server's FATAL line and
    ends; the next client is served."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(b"Q\x00\x00")
        time.sleep(0.2)
        sock.sendall(b"\x00\x00XYZ")
        sock.settimeout(10)
        assert b"invalid message length" in sock.recv(65536)
        sock.close()
    with psycopg.connect(proxy.via(db), autocommit=True, connect_timeout=10) as other:
        assert other.execute("? top 2 customers by revenue").fetchone()[3] is True


def test_a_string_without_its_nul_gets_the_server_s_error_and_the_connection_goes_on(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        body = b"SELECT 1"  # no NUL
        sock.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
        assert b"invalid string in message" in _read_until_ready(sock)
        body = b"SELECT 42\x00"
        sock.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
        assert b"42" in _read_until_ready(sock)
        sock.close()


def _busy_question_threads() -> int:
    import sys
    import traceback

    frames = sys._current_frames()
    return sum(1 for t in threading.enumerate() if t.name.startswith("nl2sql-question") and t.ident in frames and "_ask" in "".join(traceback.format_stack(frames[t.ident])))


def test_a_question_whose_server_connection_dies_lets_its_thread_go(db, start_proxy):
    """The client's server backend is terminated while the question's check runs: the
    question's thread waited forever on the proxy's bridge, and 32 such deaths left no thread
    to answer anyone."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute("CREATE FUNCTION slow() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT count(*) FROM generate_series(1, 30000000) $$")
    proxy = start_proxy(Asker(Scripted(["SELECT name FROM customers WHERE slow() > 0"])))
    conn = psycopg.connect(proxy.via(db), autocommit=True)
    backend = conn.info.backend_pid
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            conn.execute("? customers with the slow count")
        except psycopg.Error as exc:  # the connection ends: the server is gone
            failures.append(exc)

    asking = threading.Thread(target=ask, daemon=True)
    asking.start()
    with psycopg.connect(db, autocommit=True) as admin:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND query ILIKE '%%slow()%%' AND state = 'active'", (backend,)).fetchone()[0]:
            time.sleep(0.02)
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _busy_question_threads():
        time.sleep(0.1)
    assert _busy_question_threads() == 0
    asking.join(10)
    assert [type(f) for f in failures] == [psycopg.errors.AdminShutdown]  # the server's own FATAL
    conn.close()


def test_a_copy_with_the_client_s_stream_is_not_run_and_the_transaction_goes_on(db, start_proxy):
    """`?run yes` of `COPY customers FROM STDIN`: psycopg, lent the session, cannot feed it,
    so the server waited in COPY, the client's next statement lost the connection, and its
    open transaction with it."""
    proxy = start_proxy(Asker(Scripted(["COPY customers FROM STDIN"])))
    with psycopg.connect(proxy.via(db)) as conn:
        conn.execute("INSERT INTO customers VALUES (4, 'Di', 50)")
        conn.execute("?! load the new customers")
        with pytest.raises(psycopg.Error, match="COPY from STDIN or to STDOUT runs only as your own statement"):
            conn.execute("?run yes")
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS  # refused, not failed
        conn.commit()
    assert count(db) == 4


def _copying_in(conn: psycopg.Connection):
    """The connection's socket once the server waits for its `COPY customers FROM STDIN` data."""
    sock = _raw(conn)
    body = b"COPY customers FROM STDIN\x00"
    sock.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
    sock.settimeout(10)
    received = b""
    while b"G" not in received[:1] and (chunk := sock.recv(65536)):
        received += chunk
    return sock


def test_a_question_sent_during_the_client_s_own_copy_gets_the_server_s_answer(db, start_proxy):
    """The server waits for COPY data; a Query then ends the connection with its FATAL. Read
    as a question, it waited for a ReadyForQuery that never came: no answer, and the table
    stayed locked after the client left."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _copying_in(conn)
        body = b"? how many customers\x00"
        sock.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        sock.close()
    assert b"SFATAL\x00" in received and b"protocol synchronization was lost" in received


def test_a_call_sent_right_behind_the_client_s_copy_is_still_the_proxy_s(db, start_proxy):
    """CopyDone and a Query in one write (a pipelining client): the Query went to the server
    unread, so an nl2sql() the database's owner had made ran, and its answer passed for the
    proxy's."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute("CREATE TABLE planted (what text)")
        owner.execute("CREATE FUNCTION public.nl2sql(q text) RETURNS text LANGUAGE sql AS $$ INSERT INTO planted VALUES (q) RETURNING 'SELECT 1' $$")
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _copying_in(conn)
        row, call = b"4\tDi\t50\n", b"SELECT nl2sql('how many customers')\x00"
        sock.sendall(b"d" + struct.pack("!I", len(row) + 4) + row + b"c\x00\x00\x00\x04" + b"Q" + struct.pack("!I", len(call) + 4) + call)
        received = b""
        while received.count(b"Z\x00\x00\x00\x05") < 2 and (chunk := sock.recv(65536)):
            received += chunk
        sock.close()
    with psycopg.connect(db, autocommit=True) as owner:
        assert owner.execute("SELECT count(*) FROM planted").fetchone() == (0,)
    assert count(db) == 4 and b"\x00Csql\x00" not in received  # the COPY ran; the call was answered, not sent


def test_a_question_too_long_to_ask_is_one_line_at_once(db, start_proxy):
    """A pasted megabyte: reading it held the proxy's event loop for seconds (every client)."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        started = time.monotonic()
        sql, _, _, _, reason = conn.execute("? " + "how many customers " * 60_000).fetchone()
        assert time.monotonic() - started < 3
        assert sql is None and "the question is too long (1,139,999 characters; at most 10,000)" in reason


def test_a_question_s_own_settings_are_not_reported_to_the_client(db, start_proxy):
    """PostgreSQL 18 reports search_path: the catalog reads' SET LOCAL and its undoing reached
    the client as ParameterStatus pairs, a search_path the client never set."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        body = b"? top 2 customers by revenue\x00"
        sock.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
        received = _read_until_ready(sock)
        sock.close()
    assert b"send ?run to run it" in received and b"search_path\x00" not in received


def test_a_client_encoding_python_cannot_read_is_no_broken_connection(db, start_proxy):
    proxy = start_proxy(Asker(Scripted([TOP])))
    result = subprocess.run(
        ["/usr/bin/psql", "-X", "-v", "VERBOSITY=verbose", proxy.via(db), "-c", "? top 2 customers by revenue;"],
        env={**os.environ, "PGCLIENTENCODING": "EUC_TW"}, capture_output=True, timeout=60, check=False,
    )
    assert b"ERROR:  0A000:" in result.stderr and b"08006" not in result.stderr


def test_a_question_after_a_copy_sent_through_the_extended_protocol_is_answered(db, start_proxy):
    """libpq's COPY through PQexecParams: the Sync behind its Execute is ignored by the server
    in COPY, and another follows CopyDone; the proxy counted a ReadyForQuery for both and
    waited forever for one that never comes: every later question on that connection hung."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    conn = psycopg.connect(proxy.via(db), autocommit=True)  # not closed on failure: its question would hold the close
    pgconn = conn.pgconn
    pgconn.send_query_params(b"COPY customers FROM STDIN", None)
    (started,) = conn.wait(generators.execute(pgconn))
    assert started.status == pq.ExecStatus.COPY_IN
    pgconn.put_copy_data(b"4\tDi\t50\n")
    pgconn.put_copy_end()
    (finished,) = conn.wait(generators.execute(pgconn))
    assert finished.status == pq.ExecStatus.COMMAND_OK
    assert conn.execute("SELECT 7").fetchone() == (7,)
    answers: list[tuple] = []
    asking = threading.Thread(target=lambda: answers.append(conn.execute("? top 2 customers by revenue").fetchone()), daemon=True)
    asking.start()
    asking.join(15)
    assert answers and answers[0][3] is True
    conn.close()
    assert count(db) == 4


def _message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


_EXTENDED_COPY = _message(b"P", b"\0COPY customers FROM STDIN\0\0\0") + _message(b"B", b"\0\0" + b"\0" * 6) + _message(b"E", b"\0" + b"\0" * 4)


@pytest.mark.parametrize(
    "behind",
    [_message(b"S") + _message(b"Q", b"? how many customers\0"), _message(b"P", b"\0SELECT nl2sql('how many customers')\0\0\0") + _message(b"S")],
    ids=["query", "parse"],
)
def test_a_question_pipelined_behind_an_extended_copy_gets_the_server_s_answer(db, start_proxy, behind):
    """A question sent right behind an Execute that starts COPY, before the server said so:
    the server, waiting for COPY data, ignores the Syncs, and the proxy waited for a
    ReadyForQuery that never comes. It goes to the server now, which ends the connection as
    it does for any message in COPY."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_EXTENDED_COPY + behind)
        sock.settimeout(10)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        sock.close()
    assert b"during COPY from stdin" in received and b"protocol synchronization was lost" in received


@pytest.mark.parametrize("syncs", [b"S", b"SS", b""], ids=["sync", "two-syncs", "no-sync"])
def test_a_question_pipelined_behind_an_extended_copy_s_end_is_answered(db, start_proxy, syncs):
    """After CopyDone, Syncs are answered again: two of them were both taken for ones the
    server ignored, and a question right behind borrowed the connection before the second
    ReadyForQuery; with none, the Execute's batch was still open and the question waited
    forever."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(
            _EXTENDED_COPY
            + _message(b"S")  # ignored by the server in COPY
            + _message(b"d", b"4\tDi\t50\n")
            + _message(b"c")
            + b"".join(_message(bytes([sync])) for sync in syncs)
            + _message(b"Q", b"? top 2 customers by revenue\0")
        )
        received = b""
        sock.settimeout(10)
        while b"send ?run to run it" not in received and (chunk := sock.recv(65536)):
            received += chunk
        received += _read_until_ready(sock) if not received.endswith(b"Z\x00\x00\x00\x05I") else b""
        sock.sendall(_message(b"Q", b"SELECT 'after'\0"))
        after = _read_until_ready(sock)
        sock.close()
    assert b"COPY 1" in received and b"send ?run to run it" in received
    assert received.count(b"Z\x00\x00\x00\x05") == len(syncs) + 1 and b"after" in after
    assert count(db) == 4


def test_a_question_after_a_copy_the_server_failed_is_answered(db, start_proxy):
    """Bad COPY data: the server ends the COPY with its error and ReadyForQuery at once, then
    ignores the client's CopyDone; the question after it is answered."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _copying_in(conn)
        sock.sendall(_message(b"d", b"not a number\tDi\t50\n"))
        failed = _read_until_ready(sock)
        sock.sendall(_message(b"c") + _message(b"Q", b"? top 2 customers by revenue\0"))
        answered = _read_until_ready(sock)
        sock.close()
    assert b"invalid input syntax for type integer" in failed and b"send ?run to run it" in answered


def _until_closed(sock) -> bytes:
    received = b""
    sock.settimeout(10)
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_client_that_stops_sending_still_gets_every_reply_owed(db, start_proxy):
    """Statements pipelined, then the client's sending side shut (as a script piped through a
    socket): the proxy closed the server's connection at once, and the replies still owed
    never came. Directly, the server answers all of them and then closes."""
    import socket

    proxy = start_proxy(Asker(Scripted([TOP])))
    received = []
    for conninfo in (db, proxy.via(db)):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            sock = _raw(conn)
            sock.sendall(_message(b"Q", b"SELECT pg_sleep(0.5); SELECT 42 AS answer\0") + _message(b"Q", b"SELECT count(*) FROM customers\0"))
            sock.shutdown(socket.SHUT_WR)
            received.append(_until_closed(sock))
            sock.close()
    direct, proxied = received
    assert direct.count(b"Z\x00\x00\x00\x05I") == 2 and b"\x00\x00\x00\x0242" in direct
    assert proxied == direct


def test_a_question_during_the_second_copy_of_one_query_gets_the_server_s_answer(db, start_proxy):
    """`COPY a FROM STDIN; COPY b FROM STDIN` in one Query: the proxy followed the first COPY
    only, so a question sent during the second waited forever, and the connection with its
    lock stayed open after the client left."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_message(b"Q", b"COPY customers FROM STDIN; COPY customers FROM STDIN\0"))
        received = b""
        sock.settimeout(10)
        while received.count(b"G\0\0\0") < 1 and (chunk := sock.recv(65536)):
            received += chunk
        sock.sendall(_message(b"d", b"4\tDi\t50\n") + _message(b"c"))
        while received.count(b"G\0\0\0") < 2 and (chunk := sock.recv(65536)):
            received += chunk
        sock.sendall(_message(b"Q", b"? how many customers\0"))
        received += _until_closed(sock)
        sock.close()
    assert b"COPY 1" in received and b"protocol synchronization was lost" in received


def test_a_sync_during_the_second_copy_of_one_query_is_not_waited_for(db, start_proxy):
    """The server ignores a Sync in COPY; the proxy counted one sent between two COPYs of one
    Query as owed, and every later question on the connection waited forever."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        row = _message(b"d", b"4\tDi\t50\n")
        sock.sendall(_message(b"Q", b"COPY customers FROM STDIN; COPY customers FROM STDIN\0") + row + _message(b"c") + _message(b"S") + _message(b"d", b"5\tEd\t5\n") + _message(b"c"))
        first = _read_until_ready(sock)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
        answered = _read_until_ready(sock)
        sock.close()
    assert first.count(b"COPY 1") == 2 and b"send ?run to run it" in answered


def test_the_server_s_last_words_after_a_held_message_reach_the_client_whole(db, start_proxy):
    """A question behind an Execute that started COPY, in the same batch: the proxy's own
    Sync, ignored in COPY, left it holding back the last bytes of the server's FATAL."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_EXTENDED_COPY + _message(b"P", b"\0SELECT nl2sql('how many customers')\0\0\0") + _message(b"S"))
        received = _until_closed(sock)
        sock.close()
    assert b"protocol synchronization was lost" in received and received.endswith(b"RPostgresMain\0\0")


@pytest.mark.parametrize("behind", [b"X\0\0\0\4", _message(b"Q", b"SELECT 1\0")], ids=["terminate", "query"])
def test_a_client_that_leaves_during_a_question_with_more_sent_is_let_go(db, start_proxy, behind):
    """libpq's PQfinish sends Terminate, then closes: with those bytes unread behind the
    question, the proxy never saw the client leave, the model went on for the leaver, and its
    transaction's lock held every other client's statements on the table."""
    model = Waiting()
    proxy = start_proxy(Asker(model))
    conn = psycopg.connect(proxy.via(db), autocommit=True)
    sock = _raw(conn)
    sock.sendall(_message(b"Q", b"BEGIN; LOCK TABLE customers IN ACCESS EXCLUSIVE MODE\0"))
    received = b""
    sock.settimeout(10)
    while not received.endswith(b"Z\0\0\0\5T") and (chunk := sock.recv(65536)):
        received += chunk
    sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
    assert model.started.wait(10)
    sock.sendall(behind)
    sock.close()
    conn.pgconn.finish()
    with psycopg.connect(db, autocommit=True) as other:
        other.execute("SET lock_timeout = '10s'")
        assert other.execute("SELECT count(*) FROM customers").fetchone() == (3,)  # the lock is gone


def _scram_startup(conninfo: str, port: int, version: int):
    """A raw client's startup on protocol ``version`` through the proxy at ``port``, with
    SCRAM-SHA-256 as libpq does it: the socket, ready for queries, and the startup's reply."""
    import base64
    import hashlib
    import hmac
    import secrets
    import socket

    info = conninfo_to_dict(conninfo)
    line = next(entry for entry in open(info["passfile"]).read().splitlines() if entry)  # host:port:db:user:password
    password = line.split(":", 4)[4]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = struct.pack("!I", version) + b"user\0" + info["user"].encode() + b"\0database\0" + info["dbname"].encode() + b"\0\0"
    sock.sendall(struct.pack("!I", len(body) + 4) + body)
    received, nonce = b"", base64.b64encode(secrets.token_bytes(18)).decode()
    client_first = f"n=,r={nonce}"

    def message() -> tuple[bytes, bytes]:
        nonlocal received
        while len(received) < 5 or len(received) < 1 + struct.unpack_from("!I", received, 1)[0]:
            received += sock.recv(65536)
        size = struct.unpack_from("!I", received, 1)[0]
        kind, payload, received = received[:1], received[5 : 1 + size], received[1 + size :]
        return kind, payload

    everything = b""
    while True:
        kind, payload = message()
        everything += kind + struct.pack("!I", len(payload) + 4) + payload
        code = struct.unpack_from("!I", payload)[0] if kind == b"R" else None
        if code == 10:  # SASL: the client's first message
            first = ("n,," + client_first).encode()
            sock.sendall(_message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
        elif code == 11:  # the server's first: the proof
            server_first = payload[4:].decode()
            fields = dict(part.split("=", 1) for part in server_first.split(","))
            salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            final = f"c=biws,r={fields['r']}"
            signature = hmac.new(hashlib.sha256(client_key).digest(), f"{client_first},{server_first},{final}".encode(), "sha256").digest()
            proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
            sock.sendall(_message(b"p", f"{final},p={proof}".encode()))
        elif kind in (b"Z", b"E"):
            return sock, everything


@pytest.mark.parametrize("minor", [1, 3])
def test_a_client_asking_for_a_protocol_the_server_lacks_can_ask(db, start_proxy, minor):
    """A client asking for 3.3 gets the server's NegotiateProtocolVersion (3.2 or 3.0); the
    proxy read its whole version word as the minor, kept 3.3, and every question failed with
    08006 "invalid min_protocol_version value". 3.1, which the server takes as 3.0, failed the
    same way."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    sock, startup = _scram_startup(db, proxy.port, (3 << 16) | minor)
    assert startup.endswith(b"Z\0\0\0\5I")
    sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
    answered = _read_until_ready(sock)
    sock.close()
    assert b"send ?run to run it" in answered and b"08006" not in answered


@pytest.mark.parametrize("after", ["question", "plain"])
def test_copy_data_sent_ahead_for_a_copy_that_failed_does_not_count_for_the_next(db, start_proxy, after):
    """`COPY nosuch FROM STDIN`, its data and CopyDone sent at once, then another COPY: the
    CopyDone the server dropped with the failed COPY was counted for the next one, which the
    proxy then took for finished. A question then waited forever, and so did an ordinary
    client after a Sync sent during that COPY; the backend and its lock outlived the client."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_message(b"Q", b"COPY nosuch FROM STDIN\0") + _message(b"d", b"1\n") + _message(b"c") + _message(b"Q", b"COPY customers FROM STDIN\0"))
        received = b""
        sock.settimeout(10)
        while b"G\0\0\0" not in received and (chunk := sock.recv(65536)):
            received += chunk
        if after == "question":
            sock.sendall(_message(b"Q", b"? how many customers\0"))
            received += _until_closed(sock)
            assert b"protocol synchronization was lost" in received
        else:
            sock.sendall(_message(b"d", b"4\tDi\t50\n") + _message(b"S") + _message(b"c"))
            received += _read_until_ready(sock)
            extended = _message(b"P", b"\0SELECT 1\0\0\0") + _message(b"B", b"\0\0" + b"\0" * 6) + _message(b"E", b"\0" + b"\0" * 4)
            sock.sendall(extended + _message(b"Q", b"SELECT 'after'\0") + _message(b"S"))  # a Query inside a batch waits for idle
            assert b"after" in _read_until_ready(sock)
        sock.close()


def _parse(name: bytes, sql: bytes) -> bytes:
    return _message(b"P", name + b"\0" + sql + b"\0\0\0")


def _bind(portal: bytes, statement: bytes) -> bytes:
    return _message(b"B", portal + b"\0" + statement + b"\0" + b"\0" * 6)


def _execute(portal: bytes) -> bytes:
    return _message(b"E", portal + b"\0" + b"\0" * 4)


def test_a_run_statement_gone_with_deallocate_all_is_the_server_s_error(db, start_proxy):
    """DEALLOCATE ALL earlier in the batch than a Bind of the `?run` statement: the Bind read
    a statement the server's reply had just dropped, and the session died without a word."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
        _read_until_ready(sock)
        sock.sendall(_parse(b"s1", b"?run") + _message(b"S"))
        _read_until_ready(sock)
        sock.sendall(_parse(b"", b"DEALLOCATE ALL") + _bind(b"", b"") + _execute(b"") + _bind(b"", b"s1") + _execute(b"") + _message(b"S") + _message(b"Q", b"SELECT 5\0"))
        received = b""
        while received.count(b"Z\0\0\0\5I") < 2 and (chunk := sock.recv(65536)):
            received += chunk
        sock.close()
    assert b"C26000\0" in received and b'prepared statement "s1" does not exist' in received and b"\0\0\0\x015" in received


def test_a_run_portal_bound_before_begin_in_one_batch_lives_in_its_transaction(db, start_proxy):
    """Bind of a `?run` portal, then BEGIN, then Sync: the proxy dropped the portal at that
    Sync on the transaction status of the ReadyForQuery before it, and the portal's Execute
    failed in the client's open transaction."""
    proxy = start_proxy(Asker(Scripted([TOP])))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_message(b"Q", b"? top 2 customers by revenue\0"))
        _read_until_ready(sock)
        sock.sendall(_parse(b"", b"?run yes") + _bind(b"r", b"") + _parse(b"", b"BEGIN") + _bind(b"", b"") + _execute(b"") + _message(b"S"))
        received = b""
        while not received.endswith(b"Z\0\0\0\5T") and (chunk := sock.recv(65536)):
            received += chunk
        sock.sendall(_execute(b"r") + _message(b"S"))
        ran = b""
        while not ran.endswith((b"Z\0\0\0\5T", b"Z\0\0\0\5E")) and (chunk := sock.recv(65536)):
            ran += chunk
        sock.close()
    assert b"34000" not in ran and b"Ada" in ran and ran.endswith(b"Z\0\0\0\5T")


def test_a_failed_model_load_is_tried_again_and_a_cancel_ends_the_wait_for_one(db, start_proxy):
    """The proxy loaded its model once: a model server started after the proxy was never used
    (the shell's next `?` tries again); and a question waiting for a load that hung (a server
    dripping its model list) held its client whatever its cancel."""
    from nl2sql_shell.llm.load import ModelLoadError

    attempts: list[str] = []
    let_go = threading.Event()

    def load() -> Asker:
        attempts.append("load")
        if len(attempts) <= 2:  # at the start, and again for the first question
            raise ModelLoadError("no model server at http://127.0.0.1:9/v1: cannot connect")
        if len(attempts) == 3:
            let_go.wait(30)  # the third hangs until the test ends it
        return Asker(Scripted([TOP]))

    proxy = start_proxy(load)
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        deadline = time.monotonic() + 10
        while not attempts and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with pytest.raises(psycopg.Error, match="the model is not available: no model server"):
            conn.execute("? top 2 customers by revenue")
        threading.Timer(0.5, conn.cancel_safe).start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("? top 2 customers by revenue")  # the third load, which hangs
        assert time.monotonic() - started < 10
        let_go.set()
        assert conn.execute("? top 2 customers by revenue").fetchone()[3] is True
    assert len(attempts) == 3


def test_a_prepared_question_executed_again_leaves_nothing_to_run(db, start_proxy):
    """psycopg (after five runs, or prepare=True) and pgjdbc reuse a question's prepared
    statement: it showed its old answer again while `nl2sql_run('yes')` ran the proposal asked
    since, a DELETE the person never saw as the last one. Nothing runs now until the next
    question (the old answer neither: the proxy cannot tell the client got its row)."""
    proxy = start_proxy(Asker(ByQuestion({"top 2": TOP, "cheap": DELETE})))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        shown = conn.execute("SELECT nl2sql('top 2 customers by revenue')", prepare=True).fetchone()
        assert conn.execute("SELECT nl2sql('delete the cheap customers')").fetchone()[0].startswith("DELETE")
        again = conn.execute("SELECT nl2sql('top 2 customers by revenue')", prepare=True).fetchone()  # the prepared statement again
        assert again[0] == shown[0] and "DELETE" not in shown[0]
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="no proposal"):
            conn.execute("SELECT nl2sql_run('yes')")
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)
        conn.execute("SELECT nl2sql('top 2 customers by revenue')", prepare=False)  # asked again: its answer runs
        assert len(conn.execute("SELECT nl2sql_run('yes')").fetchall()) == 2


def test_a_call_of_ours_after_a_failed_copy_never_reaches_a_function_of_that_name(db, start_proxy):
    """An Execute's COPY that fails on bad data ends the COPY, but the proxy took the server to
    wait for data still and sent what followed on unread: `SELECT nl2sql_run('yes')` behind the
    next Sync ran the database's function of that name. And one of ours sent while the server
    does wait for data ends the connection rather than going on to the server."""
    with psycopg.connect(db, autocommit=True) as owner:
        owner.execute("CREATE TABLE called (n int); CREATE TABLE copied (n int)")
        owner.execute("CREATE FUNCTION nl2sql_run(yes text DEFAULT '') RETURNS text LANGUAGE sql AS $$INSERT INTO called VALUES (1) RETURNING 'ran'$$")
    proxy = start_proxy(Asker(Scripted([TOP])))
    for ahead in (False, True):
        with psycopg.connect(proxy.via(db), autocommit=True) as conn:
            sock = _raw(conn)
            sock.settimeout(10)
            sock.sendall(_parse(b"", b"COPY copied FROM STDIN") + _bind(b"", b"") + _execute(b"") + _message(b"S"))
            received = b""
            while b"G\x00\x00\x00" not in received and (chunk := sock.recv(65536)):  # CopyInResponse
                received += chunk
            run = _message(b"S") + _parse(b"", b"SELECT nl2sql_run('yes')") + _bind(b"", b"") + _execute(b"") + _message(b"S")
            if ahead:  # maybe before the server's error reached the proxy: then it ends the connection
                sock.sendall(_message(b"d", b"not-a-number\n") + run)
                tail = b""
                while b"no proposal to run" not in tail and (chunk := sock.recv(65536)):
                    tail += chunk
                assert b"while the server waits for COPY data" in tail or b"no proposal to run" in tail  # (whichever came first: both safe)
            else:
                sock.sendall(_message(b"d", b"not-a-number\n"))
                while b"22P02" not in received and (chunk := sock.recv(65536)):
                    received += chunk
                sock.sendall(run)
                answered = b""
                while b"no proposal to run" not in answered and (chunk := sock.recv(65536)):  # (two ReadyForQuery: the Sync's, then the run's)
                    answered += chunk
                assert b"no proposal to run" in answered
            sock.close()
    with psycopg.connect(db, autocommit=True) as owner:
        assert owner.execute("SELECT count(*) FROM called").fetchone() == (0,)


def test_an_old_answer_shown_by_execute_or_an_early_portal_leaves_nothing_to_run(db, start_proxy):
    """A question's statement shown again by SQL's EXECUTE, or through a portal bound before a
    newer question, showed its old answer while `?run yes` ran the newer proposal (a DELETE)."""
    proxy = start_proxy(Asker(ByQuestion({"top 2": TOP, "cheap": DELETE})))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        sock = _raw(conn)
        sock.sendall(_parse(b"s1", b"SELECT nl2sql('top 2 customers by revenue')") + _message(b"S"))
        _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"SELECT nl2sql('delete the cheap customers')\0"))
        _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"EXECUTE s1\0"))
        assert b"DELETE" not in _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"?run yes\0"))
        assert b"no proposal" in _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"BEGIN\0"))
        _read_until_ready_in(sock)
        sock.sendall(_bind(b"p1", b"s1") + _message(b"S"))
        _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"SELECT nl2sql('delete the cheap customers')\0"))
        _read_until_ready_in(sock)
        sock.sendall(_execute(b"p1") + _message(b"S"))
        assert b"DELETE" not in _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"?run yes\0"))
        assert b"no proposal" in _read_until_ready_in(sock)
        sock.sendall(_message(b"Q", b"ROLLBACK\0"))
        _read_until_ready_in(sock)
        sock.close()
    with psycopg.connect(db) as direct:
        assert direct.execute("SELECT count(*) FROM customers").fetchone() == (3,)


def _read_until_ready_in(sock) -> bytes:
    """Up to a ReadyForQuery, whatever the transaction status it carries."""
    received = b""
    sock.settimeout(10)
    while not (len(received) >= 6 and received[-6:-1] == b"Z\x00\x00\x00\x05") and (chunk := sock.recv(65536)):
        received += chunk
    return received


def test_a_sql_ascii_database_s_names_values_and_questions_keep_their_bytes(pg_server, start_proxy):
    """SQL_ASCII is psycopg's "ascii": through the proxy `?run` showed `c?lumn` and `?` for
    `cølumn` and `é`, and a question's `cølumn` reached the checks as `c??lumn` (refused as
    matching nothing). (The model's SQL itself must be ASCII there: see as_sent.unsent.)"""
    name = f"proxy_sql_ascii_{os.getpid()}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f"CREATE DATABASE \"{name}\" ENCODING SQL_ASCII TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        conn.execute('CREATE TABLE t2 (id int, "cølumn" text); INSERT INTO t2 VALUES (1, \'é\')'.encode())
    proxy = start_proxy(Asker(Scripted(["SELECT * FROM t2"])))
    result = subprocess.run(
        ["/usr/bin/psql", "-X", proxy.via(pg_server.conninfo(name))],
        input="? how many cølumn;\n?run;\n".encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert b" c\xc3\xb8lumn \n" in result.stdout and b" \xc3\xa9\n" in result.stdout, result
    assert b"nothing in this database matches" not in result.stderr


def test_one_role_s_questions_are_no_examples_for_another_role(db, start_proxy):
    """The examples memory was one per database: a role's questions and the literals of its
    run queries went into the prompt of another role's similar question."""
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS proxy_other")
        admin.execute("CREATE ROLE proxy_other LOGIN PASSWORD 'other-secret'")
        admin.execute("GRANT SELECT ON customers TO proxy_other")
    model = Recording([TOP])
    proxy = start_proxy(Asker(model))
    try:
        with psycopg.connect(proxy.via(db), autocommit=True) as conn:
            conn.execute("? top 2 customers by revenue, zebra-codename")
            conn.execute("?run")
            conn.execute("? top 2 customers by revenue")
            assert "zebra-codename" in model.prompts[-1]  # the same role's own memory: offered
        other = make_conninfo(proxy.via(db), user="proxy_other", password="other-secret", passfile="/dev/null")
        with psycopg.connect(other, autocommit=True) as conn:
            asked = len(model.prompts)
            sql = conn.execute("? top 2 customers by revenue").fetchone()[0]
        assert sql is not None and not any("zebra-codename" in prompt for prompt in model.prompts[asked:])
    finally:
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("DROP OWNED BY proxy_other")
            admin.execute("DROP ROLE proxy_other")


def test_a_role_set_in_the_session_is_the_one_whose_samples_and_examples_a_question_gets(db, start_proxy):
    """The schema's sample values and the examples memory were one per login user: a client
    acting as a role with more rights (SET ROLE, `options=-c role=`) filled them, and another
    client of the same login user, who cannot read the table, had its secrets in the prompt."""
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS proxy_priv")
        admin.execute("CREATE ROLE proxy_priv NOLOGIN")
        admin.execute("CREATE TABLE vault (id int, status text)")
        admin.execute("INSERT INTO vault SELECT g, 'zebra-status-' || (g % 3) FROM generate_series(1, 30) g")
        admin.execute("REVOKE ALL ON vault FROM PUBLIC")
        admin.execute("GRANT SELECT ON vault TO proxy_priv")
        user = admin.execute("SELECT current_user").fetchone()[0]
        admin.execute(f'GRANT proxy_priv TO "{user}"')
    model = Recording(["SELECT v.status FROM vault v WHERE v.status = 'zebra-status-1'"])
    proxy = start_proxy(Asker(model, Options(max_repairs=0, candidates=1)))
    try:
        with psycopg.connect(proxy.via(db), autocommit=True) as conn:
            conn.execute("SET ROLE proxy_priv")
            conn.execute("? which vault rows have status zebra-status-1")
            assert "zebra-status-" in model.prompts[-1].split("Question:")[0]  # this role reads them
            conn.execute("?run")
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("DROP ROLE IF EXISTS proxy_reader")
            admin.execute("CREATE ROLE proxy_reader NOLOGIN")
            admin.execute(f'GRANT proxy_reader TO "{user}"')
        with psycopg.connect(proxy.via(db), autocommit=True) as conn:  # the same login user, acting as a role that cannot read vault
            conn.execute("SET ROLE proxy_reader")
            asked = len(model.prompts)
            conn.execute("? which vault rows have status zebra")
        assert not any("zebra-status-" in prompt for prompt in model.prompts[asked:])
    finally:
        with psycopg.connect(db, autocommit=True) as admin:
            for role in ("proxy_priv", "proxy_reader"):
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    admin.execute(f"DROP OWNED BY {role}")
                    admin.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("reset", ["DISCARD ALL", "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL"], ids=["pgbouncer", "asyncpg"])
def test_a_pool_s_reset_forgets_the_proposal_and_the_follow_ups(db, start_proxy, reset):
    """A pooler resets a session before the next client gets it (pgbouncer with DISCARD ALL,
    asyncpg's pool with RESET ALL among others): the proxy kept the last client's proposal for
    `?run yes` (another borrower ran the first one's DELETE) and its question for a
    follow-up's prompt."""
    model = Recording([DELETE, TOP])
    proxy = start_proxy(Asker(model, Options(max_repairs=0, candidates=1)))
    with psycopg.connect(proxy.via(db), autocommit=True) as conn:
        conn.execute("? delete the small customers, codename-walrus")
        conn.execute(reset)
        with pytest.raises(psycopg.Error, match="no proposal to run"):
            conn.execute("?run yes")
        conn.execute("? and now only the top 2 of them")
    assert count(db) == 3 and "codename-walrus" not in model.prompts[-1]


def test_bytes_sent_before_the_server_authenticates_the_client_are_not_held(db, start_proxy):
    """A client that never authenticates sent a Query claiming 2 GB: the proxy held it whole
    for a look at it (half a GB of memory per connection in a second, more as it came);
    the server closes such a connection at once, and now the proxy passes it on unread."""
    import socket

    proxy = start_proxy(Asker(Scripted([TOP])))
    info = conninfo_to_dict(db)
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    body = struct.pack("!I", 3 << 16) + b"user\0" + info["user"].encode() + b"\0database\0" + info["dbname"].encode() + b"\0\0"
    sock.sendall(struct.pack("!I", len(body) + 4) + body)
    assert sock.recv(65536)[:1] == b"R"  # the server asks for a password
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"x" * (1 << 20))
    try:
        while sock.recv(65536):
            pass
        ended = True
    except ConnectionResetError:  # (the server's FATAL lost in the reset of a socket with unread bytes)
        ended = True
    except TimeoutError:  # the proxy still reading, holding all of it
        ended = False
    sock.close()
    assert ended


def test_a_long_unicode_text_is_searched_for_the_proxy_s_names_in_linear_time():
    """Each character of a `U&'...'` text was tried as its escape character, reading the whole
    text each time: 40,000 distinct characters held every client of the proxy for 48 s."""
    from nl2sql_shell.proxy.questions import _names_ours

    distinct = "".join(chr(0x10000 + i) for i in range(40000))
    started = time.perf_counter()
    assert not _names_ours(f"SELECT length(U&'{distinct}')")
    assert not _names_ours(f"INSERT INTO log(msg) VALUES ('u&\"{distinct}\"')")
    assert time.perf_counter() - started < 3
    assert _names_ours(f"SELECT U&\"{distinct[:5000]}nl2sq!006C\" UESCAPE '!' ('x')")
    assert _names_ours(f"SELECT U&\"{distinct[:5000]}!006El2sql_run\" UESCAPE '!' ('x')")
    assert _names_ours("SELECT U&\"" + "!" * 301 + "006El2sql\" UESCAPE '!' ('x')")  # 150 doubled, then !006E: n
    assert not _names_ours("SELECT U&\"" + "!" * 300 + "006El2sql\" UESCAPE '!' ('x')")


def test_a_comment_around_run_is_blank():
    """`?run -- run the count` was taken for a question ("run"), and the proposal was lost;
    `/* go */ ?run` went to the server."""
    from nl2sql_shell.proxy.questions import Ask, Run, parse_command

    assert parse_command("?run -- run the count\n;") == Run(confirmed=False)
    assert parse_command("/* go */ ?run;") == Run(confirmed=False)
    assert parse_command("?run yes -- now") == Run(confirmed=True)
    assert parse_command("?run /* sure */ yes;") == Run(confirmed=True)
    assert isinstance(parse_command("?run nope"), Ask)
    started = time.perf_counter()
    assert isinstance(parse_command("?run " + "/* x */ -- y\n" * 20000 + "x"), Ask)
    assert time.perf_counter() - started < 2
