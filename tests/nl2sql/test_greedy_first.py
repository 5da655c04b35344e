"""The greedy query alone first, the samples only when it fails (Options.greedy_first).

A scripted model writes exact candidates, numbered as the seeded backends number theirs; the
checks, the proof and the vote run on a real server.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import BROKEN, CHEAP, DEAR, PRODUCTS, Counting, words

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

SCHEMA = PRODUCTS + """
CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
"""
UNPROVEN = "SELECT name FROM products WHERE price < 50 * bump();"


conn = database_fixture("greedy_first", SCHEMA)


def _ask(replies: list[str], conn, *, greedy_first: bool, max_repairs: int = 0):
    model = Counting(replies)
    answer = Asker(model, Options(candidates=4, max_repairs=max_repairs, greedy_first=greedy_first)).ask("which products are cheap", conn)
    return answer, model.calls



def test_a_greedy_query_that_passes_stands_alone(conn):
    answer, calls = _ask([CHEAP, DEAR, DEAR, DEAR], conn, greedy_first=True)
    assert calls == [(0, 1)]  # no samples written
    assert answer.greedy_alone and words(answer.sql) == words(CHEAP) and len(answer.attempts) == 1
    batch, calls = _ask([CHEAP, DEAR, DEAR, DEAR], conn, greedy_first=False)
    assert calls == [(0, 4)] and words(batch.sql) == words(DEAR)  # the vote, as before


def test_a_failing_greedy_query_gets_the_samples_a_single_batch_would_have(conn):
    replies = [BROKEN, CHEAP, DEAR, DEAR]
    answer, calls = _ask(replies, conn, greedy_first=True)
    assert calls == [(0, 1), (1, 3)]  # numbers 1-3, as in a batch of 4
    batch, batch_calls = _ask(replies, conn, greedy_first=False)
    assert batch_calls == [(0, 4)]
    assert not answer.greedy_alone and answer.sql == batch.sql and words(answer.sql) == words(DEAR)
    assert [a.sql for a in answer.attempts] == [a.sql for a in batch.attempts]
    assert answer.reason == batch.reason


def test_a_greedy_query_that_cannot_be_proven_harmless_gets_the_samples(conn):
    """The vote prefers proven queries: so does the greedy one alone."""
    answer, calls = _ask([UNPROVEN, CHEAP, CHEAP, DEAR], conn, greedy_first=True)
    assert calls == [(0, 1), (1, 3)]
    assert words(answer.sql) == words(CHEAP) and answer.proof.proven


def test_a_greedy_refusal_still_asks_the_samples(conn):
    answer, calls = _ask([REFUSAL_SQL, REFUSAL_SQL, REFUSAL_SQL, BROKEN], conn, greedy_first=True)
    assert calls == [(0, 1), (1, 3)]
    assert answer.kind == "refusal"  # three of four refuse, as a batch would have said
    answer, calls = _ask([REFUSAL_SQL, CHEAP, REFUSAL_SQL, BROKEN], conn, greedy_first=True)
    assert answer.kind == "read" and words(answer.sql) == words(CHEAP)  # a query that passes wins, as in a batch


def test_repair_rounds_sample_in_one_batch(conn):
    answer, calls = _ask([BROKEN, BROKEN, BROKEN, BROKEN, CHEAP], conn, greedy_first=True, max_repairs=1)
    assert calls == [(0, 1), (1, 3), (0, 4)]
    assert answer.rounds == 2


def test_a_table_another_session_locked_gets_no_repairs(conn):
    """The checks wait for no lock: the lock timeout was read as the query's fault, and the
    model was asked again and again (minutes of generation on a CPU) for nothing."""
    import psycopg

    from nl2sql_shell.nl2sql.pipeline import LOCKED

    with psycopg.connect(conn.info.dsn, password=conn.info.password) as locker:
        locker.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        answer, calls = _ask([CHEAP, CHEAP, CHEAP, CHEAP], conn, greedy_first=True, max_repairs=2)
    assert answer.kind == "failed" and LOCKED in answer.reason and words(answer.sql) == words(CHEAP)
    assert calls == [(0, 1), (1, 3)]  # the first round's candidates, no repair round


def test_the_tables_a_proven_query_reads_are_named_as_the_server_resolves_them(conn):
    """A partition and a temporary table are no tables of the schema the checks read: the
    line before the confirmation said the query "reads no tables"."""
    conn.execute("CREATE TABLE IF NOT EXISTS measures (region text, v int) PARTITION BY LIST (region)")
    conn.execute("CREATE TABLE IF NOT EXISTS measures_eu PARTITION OF measures FOR VALUES IN ('eu')")
    conn.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS v")
    answer, _ = _ask(["SELECT count(*) FROM measures_eu JOIN scratch ON true JOIN products ON true;"], conn, greedy_first=True)
    assert answer.proof.proven and len(answer.tables_read) == 3
    assert "public.measures_eu" in answer.tables_read and "public.products" in answer.tables_read
    assert any(name.startswith("pg_temp_") and name.endswith(".scratch") for name in answer.tables_read)


def test_a_name_with_defines_is_no_table_read(conn):
    """`WITH products AS (...) SELECT ... FROM products` reads no table products."""
    answer, _ = _ask(["WITH products AS (SELECT 1 AS price) SELECT count(*) FROM products WHERE price < 50;"], conn, greedy_first=True)
    assert answer.proof.proven and answer.tables_read == []


def test_a_reply_the_token_limit_cut_is_no_query(conn):
    """The model's query stopped where the limit fell, without its WHERE clause here: it passed
    the checks and ran, all the rows for "the cheap ones", and nothing said it was cut."""
    model = Counting(["SELECT name FROM products"])
    model.finish = "length"
    answer = Asker(model, Options(candidates=1, max_repairs=0)).ask("which products are cheap", conn)
    assert answer.sql is None and answer.kind != "read"
    assert answer.attempts[0].errors == ["the reply was cut off at the limit of 200 tokens"]
    assert "cut off at the limit of 200 tokens" in answer.reason


def test_a_show_the_model_wrote_is_checked_by_reading_the_setting(conn):
    """The server check ran `EXPLAIN SHOW TimeZone`, a syntax error: no SHOW could pass."""
    answer = Asker(Counting(["SHOW TimeZone"]), Options(candidates=1, max_repairs=0)).ask("which time zone does the session use", conn, check_grounding=False)
    assert answer.kind == "read" and answer.sql == "SHOW TimeZone", answer.reason
    wrong = Asker(Counting(["SHOW time_zone_of_mars"]), Options(candidates=1, max_repairs=0)).ask("which time zone does the session use", conn, check_grounding=False)
    assert wrong.kind == "failed" and 'unrecognized configuration parameter "time_zone_of_mars"' in wrong.reason
