"""Completion against a real database: what a user sees after pressing Tab."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from nl2sql_shell.repl.completer import SQLCompleter
from nl2sql_shell.repl.metadata import Metadata, load_metadata

SHOP = """
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE users (id int PRIMARY KEY, name text, email text, feeling mood);
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users, total numeric, "Created At" timestamptz);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
CREATE SCHEMA crm;
CREATE TABLE crm.contacts (id int, user_id int REFERENCES users, phone text);
CREATE FUNCTION crm.normalize_phone(p text) RETURNS text LANGUAGE sql AS $$ SELECT p $$;
CREATE SCHEMA "Mixed Case";
CREATE TABLE "Mixed Case".ledger (id int);
"""


@pytest.fixture
def shop(fresh_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SHOP)
        yield conn


@pytest.fixture
def completer(shop: psycopg.Connection) -> SQLCompleter:
    metadata = load_metadata(shop)
    return SQLCompleter(lambda: metadata)


def complete(completer: SQLCompleter, text: str) -> list[tuple[str, str]]:
    """(text, display_meta) of the completions with the cursor at ``|`` (or at the end)."""
    cursor = text.index("|") if "|" in text else len(text)
    document = Document(text.replace("|", ""), cursor)
    return [(c.text, c.display_meta_text) for c in completer.get_completions(document, CompleteEvent(completion_requested=True))]


def test_table_after_from(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT * FROM us") == [("users", "table")]
    assert ("big_orders", "view") in complete(completer, "SELECT * FROM ")


def test_tables_not_on_search_path_need_their_schema(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT * FROM con") == [("crm.contacts", "table")]
    assert complete(completer, "SELECT * FROM cr") == [("crm", "schema"), ("crm.contacts", "table")]
    assert complete(completer, "\\d con") == [("crm.contacts", "table")]
    assert complete(completer, "SELECT * FROM crm.") == [("contacts", "table")]
    public = [text for text, _ in complete(completer, "select * from public.")]
    assert sorted(public) == ["big_orders", "orders", "users"]


def test_alias_dot_gives_that_tables_columns(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT u.| FROM users u JOIN orders o ON o.user_id = u.id") == [
        ("id", "column"), ("name", "column"), ("email", "column"), ("feeling", "column"),
    ]
    assert [t for t, _ in complete(completer, "SELECT o.| FROM crm.contacts c, orders AS o")] == [
        "id", "user_id", "total", '"Created At"',  # quoted where PostgreSQL needs it
    ]
    assert complete(completer, "SELECT c.ph| FROM crm.contacts c") == [("phone", "column")]


def test_after_join_tables_then_columns_of_both(completer: SQLCompleter) -> None:
    assert ("orders", "table") in complete(completer, "SELECT * FROM users u JOIN ")
    assert complete(completer, "SELECT * FROM users u LEFT JOIN or") == [("orders", "table")]
    on = complete(completer, "SELECT * FROM users u JOIN orders o ON ")
    columns = [text for text, meta in on if meta == "column"]
    assert columns == ["id", "name", "email", "feeling", "user_id", "total", '"Created At"']
    assert on[: len(columns)] == [(c, "column") for c in columns]  # columns before functions and keywords


def test_where_offers_only_the_statements_columns(completer: SQLCompleter) -> None:
    columns = [t for t, meta in complete(completer, "SELECT * FROM orders WHERE ") if meta == "column"]
    assert columns == ["id", "user_id", "total", '"Created At"']


def test_lower_case_input_gets_lower_case_keywords(completer: SQLCompleter) -> None:
    found = complete(completer, "select na")
    assert found[0] == ("name", "column")  # no FROM yet: columns of the visible tables
    keywords = [t for t, meta in found if meta == "keyword"]
    assert {"names", "national", "natural"} <= set(keywords)
    assert all(k.islower() for k in keywords)
    assert ("NATURAL", "keyword") in complete(completer, "SELECT NA")
    assert ("where", "keyword") in complete(completer, "select * from users ")  # case of the statement


@pytest.mark.parametrize(
    ("setting", "typed", "expected"),
    [
        ("lower", "SELECT * FROM users WH", "where"),
        ("upper", "select * from users wh", "WHERE"),
        ("preserve-lower", "", "select"),
        ("preserve-upper", "", "SELECT"),
        ("preserve-lower", "Sel", "SELECT"),  # psql: the first letter's case
    ],
)
def test_comp_keyword_case_as_psql(shop: psycopg.Connection, setting: str, typed: str, expected: str) -> None:
    metadata = load_metadata(shop)
    found = complete(SQLCompleter(lambda: metadata, keyword_case=lambda: setting), typed)
    assert (expected, "keyword") in found


def test_functions_in_expressions(completer: SQLCompleter) -> None:
    found = complete(completer, "SELECT coun| FROM users")
    assert ("count", "function") in found
    assert complete(completer, "SELECT crm.norm") == [("normalize_phone", "function")]


def test_insert_column_list_and_update_set(completer: SQLCompleter) -> None:
    assert [t for t, m in complete(completer, "INSERT INTO users (id, ") if m == "column"] == ["id", "name", "email", "feeling"]
    assert complete(completer, "UPDATE orders SET tot") == [("total", "column")]


def test_cast_offers_types(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT 'happy'::mo") == [("mood", "datatype"), ("money", "datatype")]  # own types first


def test_an_opening_quote_completes_names_as_written(completer: SQLCompleter) -> None:
    """psql completes `"Cr` to `"Created At"`: the quoted text keeps its case; no keywords."""
    assert complete(completer, 'SELECT "Cr| FROM orders') == [('"Created At"', "column")]
    assert ('"Created At"', "column") not in complete(completer, 'SELECT "cr| FROM orders')
    assert complete(completer, 'SELECT * FROM "us') == [('"users"', "table")]
    assert complete(completer, 'SELECT * FROM "')[:1] == [('"big_orders"', "view")]
    assert complete(completer, 'SELECT o."Created| FROM orders o') == [('"Created At"', "column")]
    assert complete(completer, '\\d "or') == [('"orders"', "table")]


def test_meta_commands(shop: psycopg.Connection, completer: SQLCompleter) -> None:
    assert ("\\dt", "List tables.") in complete(completer, "\\d")
    databases = [t for t, meta in complete(completer, "\\c ") if meta == "database"]
    assert shop.info.dbname in databases and "postgres" in databases
    assert complete(completer, "\\d+ us") == [("users", "table")]
    assert complete(completer, "\\dn c") == [("crm", "schema")]


def test_meta_command_names_in_a_schema(completer: SQLCompleter) -> None:
    """psql completes `\\df crm.` with crm's functions and `\\d "Mixed Case".` with that
    schema's tables; the shell offered nothing (a quoted name's blank split it in two)."""
    assert complete(completer, "\\df crm.") == [("normalize_phone", "function")]
    assert complete(completer, "\\df crm.nor") == [("normalize_phone", "function")]
    assert complete(completer, '\\d "Mixed Case".') == [("ledger", "table")]
    assert complete(completer, '\\d "Mixed Case".led') == [("ledger", "table")]
    assert complete(completer, '\\d "Mixed Case" ') == []  # only the first argument is a name


def test_file_arguments_complete_file_names(completer: SQLCompleter, tmp_path) -> None:
    """readline offers psql file names after `\\i`, `\\o`, `\\e`...; the shell offered nothing."""
    (tmp_path / "setup_tables.sql").write_text("")
    (tmp_path / "setup_views.sql").write_text("")
    assert [text for text, _ in complete(completer, f"\\i {tmp_path}/setup_t")] == ["ables.sql"]
    assert sorted(text for text, _ in complete(completer, f"\\o {tmp_path}/se")) == ["tup_tables.sql", "tup_views.sql"]
    assert [text for text, _ in complete(completer, f"\\ir {tmp_path}/setup_v")] == ["iews.sql"]


def test_nothing_inside_strings_comments_and_questions(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT * FROM users WHERE name = 'na") == []
    assert complete(completer, "SELECT * FROM users -- na") == []
    assert complete(completer, "? which us") == []


def test_second_statement_has_its_own_context(completer: SQLCompleter) -> None:
    assert complete(completer, "SELECT * FROM orders; SELECT * FROM users WHERE tot") == []
    assert complete(completer, "SELECT * FROM orders;\nsel") == [("select", "keyword")]


# -- metadata loading -------------------------------------------------------------------

def test_metadata_is_quick_and_leaves_no_transaction(shop: psycopg.Connection) -> None:
    started = time.perf_counter()
    metadata = load_metadata(shop)
    assert time.perf_counter() - started < 0.5  # ~20 ms here; generous for a shared machine
    assert shop.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert metadata.relation("orders").columns == ("id", "user_id", "total", "Created At")
    assert metadata.relation("contacts") is None and metadata.relation("contacts", "crm") is not None
    assert "select" in metadata.reserved and "SELECT" in metadata.keywords


def test_metadata_follows_the_sessions_search_path(shop: psycopg.Connection) -> None:
    shop.execute("SET search_path = crm, public")
    metadata = load_metadata(shop)
    assert metadata.relation("contacts").schema == "crm"
    assert "normalize_phone" in metadata.visible_functions


def test_metadata_inside_the_users_transaction(shop: psycopg.Connection) -> None:
    previous = load_metadata(shop)
    shop.execute("BEGIN")
    shop.execute("CREATE TABLE drafts (id int)")
    inside = load_metadata(shop, previous)
    assert inside.relation("drafts") is not None  # sees the user's uncommitted table
    assert shop.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    shop.execute("INSERT INTO drafts VALUES (1)")  # the user's transaction still works
    with pytest.raises(psycopg.errors.DivisionByZero):
        shop.execute("SELECT 1/0")
    assert load_metadata(shop, inside) is inside  # failed transaction: untouched, old snapshot
    assert shop.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    shop.execute("ROLLBACK")
    assert load_metadata(shop).relation("drafts") is None


def test_metadata_with_autocommit_off_commits_nothing_open(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn:  # autocommit off: a query would open a transaction
        metadata = load_metadata(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert metadata.database == conn.info.dbname


@pytest.mark.parametrize("getter", [Metadata, lambda: None])
def test_completer_works_without_metadata(getter) -> None:
    completer = SQLCompleter(getter)
    assert complete(completer, "SELECT * FROM us") == []
    assert complete(completer, "SELECT u.| FROM users u") == []
    assert ("\\dt", "List tables.") in complete(completer, "\\d")


def test_tab_after_a_migration_in_another_terminal_completes_its_table(fresh_db: str) -> None:
    """The shell's completion metadata is read again when the catalogs changed, whoever
    changed them (psql asks the server at every Tab); a rolled-back table goes with it."""
    import io

    from nl2sql_shell.db.connect import Target, connect
    from nl2sql_shell.output import Output
    from nl2sql_shell.repl.app import _MetadataCache
    from nl2sql_shell.repl.shell import Shell

    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=io.StringIO())
    completer = SQLCompleter(_MetadataCache(shell))
    assert complete(completer, "SELECT * FROM inv") == []
    with psycopg.connect(fresh_db, autocommit=True) as other:
        other.execute("CREATE TABLE invoices (id int PRIMARY KEY)")
    assert complete(completer, "SELECT * FROM inv") == [("invoices", "table")]
    shell.handle("begin;")
    shell.handle("CREATE TABLE inventory (id int);")
    assert ("inventory", "table") in complete(completer, "SELECT * FROM inv")
    shell.handle("rollback;")
    assert complete(completer, "SELECT * FROM inv") == [("invoices", "table")]
    assert shell.conn.info.transaction_status.name == "IDLE"  # asking left nothing open


def test_tab_inside_a_transaction_takes_no_snapshot_before_the_user_s_first_query(fresh_db: str) -> None:
    """A Tab read the catalogs inside the user's transaction, which took its snapshot: the
    SET TRANSACTION typed next failed and aborted the transaction (psql reads only for names)."""
    import io

    from nl2sql_shell.db.connect import Target, connect
    from nl2sql_shell.output import Output
    from nl2sql_shell.repl.app import _MetadataCache
    from nl2sql_shell.repl.shell import Shell

    err = io.StringIO()
    target = Target(fresh_db)
    shell = Shell(target, connect(target), output=Output(io.StringIO(), use_pager=False), errors=err)
    completer = SQLCompleter(_MetadataCache(shell))
    shell.handle("begin;")  # the session's first Tab comes inside it: the names are read aside
    assert ("SERIALIZABLE", "keyword") in complete(completer, "set transaction isolation level SERI")
    assert complete(completer, "SELECT * FROM pg_clas") is not None
    shell.handle("set transaction isolation level serializable;")
    shell.handle("show transaction_isolation;")
    assert err.getvalue() == "" and shell.conn.info.transaction_status.name == "INTRANS"
    shell.handle("rollback;")


def test_tab_after_a_long_pasted_value_answers_at_once(completer: SQLCompleter) -> None:
    """Every start in a long run of word characters tried every length of it: Tab after a
    40,000-character hex value froze the prompt for about 20 s."""
    started = time.monotonic()
    found = complete(completer, "insert into users values (1, decode('" + "ab" * 20_000 + "', 'hex')) RETURN")
    assert ("RETURNING", "keyword") in found
    assert time.monotonic() - started < 5


def test_comp_keyword_case_is_read_in_any_case(completer: SQLCompleter) -> None:
    lower = SQLCompleter(completer._metadata_getter, keyword_case=lambda: "LOWER")
    assert ("select", "keyword") in complete(lower, "SELEC")

