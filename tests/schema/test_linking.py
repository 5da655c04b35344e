"""Schema linking on a 300-table database: the right tables, their joins, within the budget."""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.linking import Linked, select_tables, stem
from nl2sql_shell.schema.model import Column, ForeignKey, Schema, Table
from nl2sql_shell.schema.render import render_schema

# A small shop in the middle of 290 generated tables that share its generic column names.
CORE = """
CREATE TABLE departments (id int PRIMARY KEY, name text NOT NULL, budget numeric);
CREATE TABLE employees (id int PRIMARY KEY, full_name text, department_id int REFERENCES departments(id),
    manager_id int REFERENCES employees(id), salary numeric, hired_on date);
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, country text);
CREATE TABLE suppliers (id int PRIMARY KEY, company_name text, country text);
COMMENT ON TABLE suppliers IS 'Vendors we buy goods from';
CREATE TABLE products (id int PRIMARY KEY, name text, category text, unit_price numeric,
    supplier_id int REFERENCES suppliers(id));
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id),
    employee_id int REFERENCES employees(id), ordered_at timestamp, status order_status);
CREATE TABLE order_items (order_id int REFERENCES orders(id), product_id int REFERENCES products(id),
    quantity int, PRIMARY KEY (order_id, product_id));
CREATE TABLE warehouses (id int PRIMARY KEY, city text);
CREATE TABLE inventory (warehouse_id int REFERENCES warehouses(id), product_id int REFERENCES products(id),
    units_on_hand int, PRIMARY KEY (warehouse_id, product_id));
CREATE TABLE shipments (id int PRIMARY KEY, order_id int REFERENCES orders(id),
    warehouse_id int REFERENCES warehouses(id), shipped_at timestamp);
INSERT INTO departments VALUES (1, 'Marketing', 10), (2, 'Engineering', 20), (3, 'Finance', 5);
"""
AREAS = "audit cache config metric queue session feature sensor job report".split()
THINGS = "event entry setting sample task snapshot rule reading batch".split()


def _filler(i: int) -> str:
    return f"{AREAS[i % 10]}_{THINGS[i % 9]}_{i}"


FILLER = "\n".join(
    f"CREATE TABLE {_filler(i)} (id int PRIMARY KEY, name text, label text, created_at timestamptz,"
    f" payload jsonb, note text, amount numeric, parent_id int REFERENCES {_filler(max(i - 1, 1))}(id));"
    for i in range(1, 291)
)
BUDGET = 600


def count_tokens(text: str) -> int:
    """Roughly what a tokenizer does: words, numbers and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


@pytest.fixture(scope="module")
def shop(pg_server) -> Schema:
    """The 300-table schema, created once for the module in its own database."""
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS linking_300")
        admin.execute("CREATE DATABASE linking_300")
    with psycopg.connect(pg_server.conninfo("linking_300"), autocommit=True) as conn:
        conn.execute(CORE)
        conn.execute(FILLER)
        started = time.perf_counter()
        schema = read_schema(conn)
        elapsed = time.perf_counter() - started
    print(f"introspected {len(schema.tables)} tables in {elapsed:.3f} s")
    assert len(schema.tables) == 300
    assert elapsed < 10  # about 0.1 s here; the bound only catches per-table round trips gone wild
    return schema


def _link(schema: Schema, question: str) -> Linked:
    return select_tables(schema, question, budget_tokens=BUDGET, count_tokens=count_tokens)


def _names(linked: Linked) -> set[str]:
    return {t.name for t in linked.tables}


def _within_budget(schema: Schema, linked: Linked) -> bool:
    return count_tokens(render_schema(linked.tables, qualify=schema.needs_schema)) <= BUDGET


def test_whole_schema_is_too_big_for_the_budget(shop: Schema) -> None:
    assert count_tokens(render_schema(shop.tables, qualify=False)) > 10 * BUDGET


def test_value_match_finds_the_department(shop: Schema) -> None:
    linked = _link(shop, "Which employees work in Marketing?")
    assert {"employees", "departments"} <= _names(linked)
    assert not linked.complete and _within_budget(shop, linked)
    value = [r for r in linked.reasons if r.word == "marketing"]
    assert value and value[0].table == "public.departments" and value[0].field == "value"
    assert value[0].column == "name" and value[0].matched == "Marketing" and value[0].how == "exact"


def test_foreign_key_neighbours_come_along(shop: Schema) -> None:
    linked = _link(shop, "total quantity of each product sold per order item")
    names = _names(linked)
    assert {"order_items", "products", "orders"} <= names
    assert _within_budget(shop, linked)
    # orders was not named by the question but order_items references it (and so on: customers)
    references = {(r.table, r.matched) for r in linked.reasons if r.field == "foreign key"}
    assert ("public.orders", "public.order_items") in references
    assert all(t.name in names for t in linked.tables for fk in t.foreign_keys if fk.ref_table in {"orders"})


def test_stemmed_and_fuzzy_words(shop: Schema) -> None:
    linked = _link(shop, "How many supplers does each category of goods have?")
    assert {"suppliers", "products"} <= _names(linked)
    how = {(r.word, r.table, r.how) for r in linked.reasons}
    assert ("supplers", "public.suppliers", "fuzzy") in how
    assert ("goods", "public.suppliers", "exact") in how  # from the table comment
    stemmed = _link(shop, "cities with a warehouse")
    assert ("cities", "public.warehouses", "stemmed") in {(r.word, r.table, r.how) for r in stemmed.reasons}


def test_enum_labels_and_join_tables(shop: Schema) -> None:
    linked = _link(shop, "customers whose orders were cancelled")
    assert {"customers", "orders"} <= _names(linked)
    assert any(r.word == "cancelled" and r.column == "status" and r.field == "value" for r in linked.reasons)
    # warehouses and products are both chosen: inventory joins them
    joined = _link(shop, "stock of products in each warehouse by units on hand")
    assert {"inventory", "products", "warehouses"} <= _names(joined)


def test_deterministic(shop: Schema) -> None:
    first = _link(shop, "employees hired in 2020 and their managers' salary")
    assert first == _link(shop, "employees hired in 2020 and their managers' salary")
    assert "employees" in _names(first)


def test_everything_when_it_fits(shop: Schema) -> None:
    small = Schema("db", ("public",), tuple(t for t in shop.tables if t.name in {"orders", "customers", "employees"}))
    linked = select_tables(small, "orders per customer", budget_tokens=10_000, count_tokens=count_tokens)
    assert linked.complete and linked.tables == small.tables
    assert any(r.table == "public.orders" for r in linked.reasons)


def test_wide_tables_are_pruned_to_keys_and_matches() -> None:
    wide = Table(
        "public",
        "measurements",
        columns=(Column("id", "integer", not_null=True), Column("station_id", "integer"))
        + tuple(Column(f"reading_{i}", "double precision") for i in range(200))
        + (Column("humidity", "real"),),
        primary_key=("id",),
        foreign_keys=(ForeignKey(("station_id",), "public", "stations", ("id",)),),
    )
    stations = Table(
        "public", "stations", columns=(Column("id", "integer"), Column("city", "text")), primary_key=("id",)
    )
    schema = Schema("db", ("public",), (wide, stations))
    linked = select_tables(
        schema, "average humidity of measurements by city", budget_tokens=100, count_tokens=count_tokens
    )
    pruned = linked.tables[0]
    names = [c.name for c in pruned.columns]
    assert names[:2] == ["id", "station_id"] and "humidity" in names and len(names) < 100  # and readings while the budget lasts
    assert [t.name for t in linked.tables] == ["measurements", "stations"]
    assert count_tokens(render_schema(linked.tables, qualify=False)) <= 100


def test_a_wide_table_the_question_names_keeps_columns_and_is_never_empty() -> None:
    """`sensor(id, taken_at, probe_1 .. probe_1000)`: the model got `sensor (id)` alone for "how
    many sensor rows", nothing at all when "probe" matched every column, and `wide ()` for a
    table of long columns."""
    sensor = Table(
        "public",
        "sensor",
        columns=(Column("id", "integer"), Column("taken_at", "timestamp with time zone"), *(Column(f"probe_{i}", "real") for i in range(1, 1001))),
        primary_key=("id",),
    )
    schema = Schema("db", ("public",), (sensor,))
    for question in ("how many sensor rows", "average probe_5 per day of taken_at in sensor"):
        linked = select_tables(schema, question, budget_tokens=300, count_tokens=count_tokens)
        names = [c.name for c in linked.tables[0].columns]
        assert names[0] == "id" and "taken_at" in names and count_tokens(render_schema(linked.tables, qualify=False)) <= 300


def test_stemmer() -> None:
    pairs = [("cities", "city"), ("movies", "movie"), ("ratings", "rated"), ("boxes", "box"), ("statuses", "status")]
    assert all(stem(a) == stem(b) for a, b in pairs)
    assert stem("business") == "business" and stem("class") == "class"


def test_a_table_the_question_names_whole_is_given_among_thousands() -> None:
    """`t42` among t1..t3000 (no word of it a table's word), `заказы` among 400 others: the
    model got t1, t10, t100... in their order."""
    tables = tuple(Table("public", f"t{i}", columns=(Column("id", "integer"), Column("v", "text"))) for i in range(1, 3001))
    tables += (Table("public", "заказы", columns=(Column("id", "integer"), Column("сумма", "numeric"))),)
    schema = Schema("db", ("public",), tables)
    for question, name in (("how many rows in t42", "t42"), ("общая сумма заказы", "заказы")):
        linked = select_tables(schema, question, budget_tokens=200, count_tokens=count_tokens)
        assert name in [t.name for t in linked.tables][:3], question


def test_a_column_the_question_names_whole_comes_first_in_a_wide_table() -> None:
    """`customer_email` among 1,598 `measurement_value_number_NNNN`: every measurement column
    matched the question's whole name by spelling, and filled the budget first."""
    wide = Table(
        "public",
        "wide",
        columns=(Column("id", "integer"), *(Column(f"measurement_value_number_{i:04d}", "numeric") for i in range(1, 1599)), Column("customer_email", "text")),
        primary_key=("id",),
    )
    schema = Schema("db", ("public",), (wide,))
    linked = select_tables(schema, "show wide customer_email and measurement_value_number_1500", budget_tokens=600, count_tokens=count_tokens)
    names = [c.name for c in linked.tables[0].columns]
    assert "customer_email" in names and "measurement_value_number_1500" in names
