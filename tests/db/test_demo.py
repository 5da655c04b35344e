"""The demo database against a real server: what someone exploring it with questions relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from nl2sql_shell.db import demo

TABLES = ("branches", "customers", "accounts", "merchants", "transaction")
VIEWS = ("monthly_revenue", "customer_balances")


def _drop(pg_server, name: str) -> None:
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def demo_db(pg_server) -> Iterator[str]:
    """One demo database built with create_demo, shared by the read-only tests of this module."""
    name = f"demo_module_{os.getpid()}"
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    demo.create_demo(pg_server.conninfo(name))
    yield pg_server.conninfo(name)
    _drop(pg_server, name)


@pytest.fixture
def no_demo(pg_server) -> Iterator[None]:
    """The server without an nl2sql_demo database, before and after the test."""
    _drop(pg_server, demo.DEMO_DBNAME)
    yield
    _drop(pg_server, demo.DEMO_DBNAME)


def _scalar(conninfo: str, query: str):
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query).fetchone()[0]


def _databases(pg_server) -> set[str]:
    with psycopg.connect(pg_server.conninfo()) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def _fingerprints(conninfo: str) -> dict[str, str]:
    """An md5 of every table's and view's rows, in a fixed order."""
    with psycopg.connect(conninfo) as conn:
        return {
            name: conn.execute(
                sql.SQL("SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {} t").format(sql.Identifier(name))
            ).fetchone()[0]
            for name in TABLES + VIEWS
        }


def test_transaction_table_has_the_promised_columns_and_thousands_of_rows(demo_db: str) -> None:
    with psycopg.connect(demo_db) as conn:
        columns = [name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'transaction' ORDER BY ordinal_position")]
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0] for t in TABLES}
    assert columns == [
        "transaction_id", "transaction_amount", "transaction_date", "transaction_type", "transaction_status",
        "transaction_description", "transaction_source_account", "transaction_destination_account",
        "transaction_currency", "transaction_fee",
    ]
    assert 5_000 <= counts["transaction"] <= 20_000
    assert counts["customers"] >= 500 and counts["merchants"] >= 100 and counts["branches"] >= 10
    assert counts["accounts"] > counts["customers"] + counts["merchants"]  # some customers hold several


def test_foreign_keys_link_the_tables(demo_db: str) -> None:
    with psycopg.connect(demo_db) as conn:
        keys = set(conn.execute("""
            SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'f'""").fetchall())
        orphans = conn.execute("""
            SELECT count(*) FROM transaction t
            LEFT JOIN accounts s ON s.account_id = t.transaction_source_account
            LEFT JOIN accounts d ON d.account_id = t.transaction_destination_account
            WHERE (t.transaction_source_account IS NOT NULL AND s.account_id IS NULL)
               OR (t.transaction_destination_account IS NOT NULL AND d.account_id IS NULL)""").fetchone()[0]
    assert keys == {
        ("customers", "home_branch_id", "branches"),
        ("accounts", "customer_id", "customers"),
        ("accounts", "branch_id", "branches"),
        ("merchants", "account_id", "accounts"),
        ("transaction", "transaction_source_account", "accounts"),
        ("transaction", "transaction_destination_account", "accounts"),
    }
    assert orphans == 0


def test_each_transaction_type_moves_money_between_the_right_parties(demo_db: str) -> None:
    """Payments reach merchants, refunds come back from them, deposits have no source..."""
    with psycopg.connect(demo_db) as conn:
        shapes = set(conn.execute("""
            SELECT t.transaction_type,
                   CASE WHEN ms.merchant_id IS NOT NULL THEN 'merchant' WHEN s.customer_id IS NOT NULL THEN 'customer' END,
                   CASE WHEN md.merchant_id IS NOT NULL THEN 'merchant' WHEN d.customer_id IS NOT NULL THEN 'customer' END
            FROM transaction t
            LEFT JOIN accounts s ON s.account_id = t.transaction_source_account
            LEFT JOIN merchants ms ON ms.account_id = s.account_id
            LEFT JOIN accounts d ON d.account_id = t.transaction_destination_account
            LEFT JOIN merchants md ON md.account_id = d.account_id""").fetchall())
        mismatched = conn.execute("""
            SELECT count(*) FROM transaction t
            LEFT JOIN accounts s ON s.account_id = t.transaction_source_account
            LEFT JOIN accounts d ON d.account_id = t.transaction_destination_account
            WHERE t.transaction_currency IS DISTINCT FROM coalesce(s.currency, d.currency)
               OR t.transaction_currency IS DISTINCT FROM coalesce(d.currency, s.currency)
               OR t.transaction_date < coalesce(s.opened_date, d.opened_date)
               OR t.transaction_date < coalesce(d.opened_date, s.opened_date)""").fetchone()[0]
    assert shapes == {
        ("deposit", None, "customer"),
        ("withdrawal", "customer", None),
        ("transfer", "customer", "customer"),
        ("payment", "customer", "merchant"),
        ("refund", "merchant", "customer"),
    }
    assert mismatched == 0  # same currency on both sides, no transaction before an account opened


def test_rows_are_the_same_in_every_build(demo_db: str, fresh_db: str) -> None:
    """A second build, from the command line and with another str hash seed, gives identical rows."""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    run = subprocess.run([sys.executable, "-m", "nl2sql_shell.db.demo", fresh_db], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert _fingerprints(fresh_db) == _fingerprints(demo_db)
    again = subprocess.run([sys.executable, "-m", "nl2sql_shell.db.demo", fresh_db], capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "already" in again.stdout


def test_every_table_view_and_column_has_a_comment(demo_db: str) -> None:
    with psycopg.connect(demo_db) as conn:
        uncommented = conn.execute("""
            SELECT c.relname, a.attname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v')
              AND (obj_description(c.oid, 'pg_class') IS NULL OR col_description(c.oid, a.attnum) IS NULL)""").fetchall()
        relations = {name for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v')")}
        labels = conn.execute("SELECT enum_range(NULL::account_type_enum)::text[]").fetchone()[0]
    assert relations == set(TABLES + VIEWS)
    assert uncommented == []
    assert labels == ["checking", "savings", "credit", "business"]


def test_values_are_plausible(demo_db: str) -> None:
    start = datetime.combine(demo.ANCHOR - timedelta(days=demo.HISTORY_DAYS), datetime.min.time())
    end = datetime.combine(demo.ANCHOR + timedelta(days=1), datetime.min.time())
    with psycopg.connect(demo_db) as conn:
        row = conn.execute("""
            SELECT min(transaction_amount), min(transaction_fee), bool_and(transaction_fee < transaction_amount),
                   min(transaction_date), max(transaction_date),
                   array_agg(DISTINCT transaction_type ORDER BY transaction_type),
                   array_agg(DISTINCT transaction_status ORDER BY transaction_status),
                   array_agg(DISTINCT transaction_currency::text ORDER BY transaction_currency::text),
                   count(*) FILTER (WHERE transaction_fee > 0),
                   min(transaction_date) FILTER (WHERE transaction_status = 'pending')
            FROM transaction""").fetchone()
        emails = conn.execute("SELECT count(DISTINCT email), bool_and(email LIKE '_%@_%._%') FROM customers").fetchone()
        balances = conn.execute("""
            SELECT min(b.balance), bool_and(b.credit_card_debt <= coalesce(a.credit_limit, 0))
            FROM customer_balances b LEFT JOIN accounts a ON a.customer_id = b.customer_id AND a.account_type = 'credit'""").fetchone()
        months = conn.execute("SELECT count(DISTINCT month), count(DISTINCT currency), min(fee_revenue) FROM monthly_revenue").fetchone()
        adults = conn.execute("SELECT bool_and(date_of_birth <= signup_date - interval '18 years') FROM customers").fetchone()[0]
    low_amount, low_fee, fee_below_amount, first, last, types, statuses, currencies, with_fee, first_pending = row
    assert low_amount > 0 and low_fee == 0 and fee_below_amount
    assert start <= first < last < end and last > end - timedelta(days=2)
    assert types == ["deposit", "payment", "refund", "transfer", "withdrawal"]
    assert statuses == ["completed", "failed", "pending", "reversed"]
    assert currencies == ["EUR", "GBP", "USD"]
    assert with_fee > 100
    assert first_pending > end - timedelta(days=7)  # only recent transactions are still pending
    assert emails == (demo.N_CUSTOMERS, True)
    assert adults
    assert balances[0] >= 0 and balances[1]  # nobody overdrawn, no card beyond its limit
    assert months[0] in (24, 25) and months[1] == 3 and months[2] >= 0


def test_new_rows_get_fresh_ids(demo_db: str) -> None:
    """The ids were loaded explicitly; a user's INSERT must not collide with them."""
    with psycopg.connect(demo_db) as conn:
        new_id = conn.execute("""
            INSERT INTO branches (branch_name, city, country, opened_date)
            VALUES ('Lisbon Baixa', 'Lisbon', 'Portugal', current_date) RETURNING branch_id""").fetchone()[0]
        conn.rollback()
    assert new_id == len(demo.generate().branches) + 1


def test_ensure_demo_creates_the_database_once(pg_server, no_demo: None) -> None:
    assert demo.ensure_demo(pg_server.conninfo(), pg_server.conninfo) is True
    assert demo.ensure_demo(pg_server.conninfo(), pg_server.conninfo) is False
    assert _scalar(pg_server.conninfo(demo.DEMO_DBNAME), "SELECT count(*) FROM transaction") == demo.N_TRANSACTIONS
    assert not {name for name in _databases(pg_server) if name.startswith(f"{demo.DEMO_DBNAME}_")}


def test_shell_that_loses_the_race_drops_its_copy(pg_server, no_demo: None) -> None:
    """Another shell finishes the demo while this one fills its own copy: this one yields."""
    results = []

    def other_shell_first(dbname: str) -> str:
        results.append(demo.ensure_demo(pg_server.conninfo(), pg_server.conninfo))
        return pg_server.conninfo(dbname)

    results.append(demo.ensure_demo(pg_server.conninfo(), other_shell_first))
    assert results == [True, False]
    assert not {name for name in _databases(pg_server) if name.startswith(f"{demo.DEMO_DBNAME}_")}
    assert _scalar(pg_server.conninfo(demo.DEMO_DBNAME), "SELECT count(*) FROM customers") == demo.N_CUSTOMERS


def test_concurrent_shells_create_one_demo(pg_server, no_demo: None) -> None:
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(demo.ensure_demo, pg_server.conninfo(), pg_server.conninfo) for _ in range(2)]
        results = sorted(future.result() for future in futures)
    assert results == [False, True]
    assert not {name for name in _databases(pg_server) if name.startswith(f"{demo.DEMO_DBNAME}_")}


def test_failed_fill_leaves_no_demo_behind(pg_server, demo_db: str, no_demo: None) -> None:
    """A fill that breaks half-way must not leave a database a later start would take as complete."""
    with pytest.raises(psycopg.errors.DuplicateObject):
        demo.ensure_demo(pg_server.conninfo(), lambda _name: demo_db)  # "fills" an already filled database
    assert not {name for name in _databases(pg_server) if name.startswith(demo.DEMO_DBNAME)}
    assert demo.ensure_demo(pg_server.conninfo(), pg_server.conninfo) is True


def test_a_copy_a_killed_shell_left_half_built_is_dropped_and_one_being_built_is_not(pg_server, no_demo: None) -> None:
    """A shell killed while it built the demo left its nl2sql_demo_building_* database for good."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        for name, builder in (("nl2sql_demo_building_killed", 2_000_000_000), ("nl2sql_demo_building_alive", admin.info.backend_pid)):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(f"being built by the session of backend {builder}")))
        assert demo.ensure_demo(pg_server.conninfo(), pg_server.conninfo) is True
        left = {name for name in _databases(pg_server) if name.startswith(f"{demo.DEMO_DBNAME}_")}
        admin.execute("DROP DATABASE nl2sql_demo_building_alive")
    assert left == {"nl2sql_demo_building_alive"}
