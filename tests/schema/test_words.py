"""Identifiers read as the words people say, on schemas unlike any benchmark's."""

from __future__ import annotations

import psycopg

from nl2sql_shell.schema.grounding import ground
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.linking import match_words
from nl2sql_shell.schema.words import closest_name, declared_words, name_words, shared_affixes

# A warehouse app that wrote camelCase without quotes (PostgreSQL folds it) and puts "wh" before
# every table and column, beside a clinic that quoted its camelCase names.
PREFIXED = """
CREATE TABLE whCustomer (whCustId int PRIMARY KEY, whCustName text, whCustRegion text);
CREATE TABLE whOrder (whOrdId int PRIMARY KEY, whOrdCustId int REFERENCES whCustomer, whOrdDate date, whOrdTotal numeric);
CREATE TABLE whItem (whItemId int PRIMARY KEY, whItemName text, whItemQtyOnHand int);
CREATE TABLE whOrderLine (whOlOrdId int REFERENCES whOrder, whOlItemId int REFERENCES whItem, whOlQty int);
CREATE TABLE "PatientVisit" ("visitId" int PRIMARY KEY, "patientName" text, "checkedInAt" timestamptz);
"""


def test_declared_boundaries_come_first() -> None:
    assert declared_words("orderLines") == ["order", "lines"]
    assert declared_words("order_lines2") == ["order", "lines", "2"]
    assert declared_words("HTTPStatus") == ["http", "status"]


def test_a_prefix_most_names_share_is_a_convention_not_a_word() -> None:
    columns = ["xyordid", "xyordcustid", "xyorddate", "xyordtotal", "xycustname"]
    prefixes, suffixes = shared_affixes(columns)
    assert set(prefixes) == {"xy", "xyord"} and suffixes == ()
    assert shared_affixes(["orders", "customers", "products"]) == ((), ())
    assert shared_affixes(["orders_tbl", "customers_tbl", "products_tbl", "notes"]) == ((), ("stbl",))


def test_folded_names_are_segmented_and_abbreviations_found() -> None:
    parts = name_words("xycustname", ("xy",))
    assert {"cust", "name"} <= set(parts.words)
    assert parts.abbreviates("customer") and parts.abbreviates("names")
    assert name_words("xyordid", ("xy", "xyord")).abbreviates("order")
    assert not name_words("xyordid", ("xy", "xyord")).abbreviates("customer")
    assert not name_words("price").abbreviates("pri")  # too short to call an abbreviation
    # An abbreviation ends where a word of the name ends: "cit" of "city" runs on in "cite"
    assert not name_words("cite").abbreviates("city") and not name_words("citingpaperid").abbreviates("city")
    assert name_words("custid").abbreviates("customer") and name_words("order_date").abbreviates("orders")
    assert set(name_words("accountmanagerid").words) >= {"account", "manager", "id"}


def test_questions_find_prefixed_and_quoted_tables(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(PREFIXED)
        schema = read_schema(conn)
    reasons = match_words(schema.tables, ["customers", "orders", "items", "visits", "patients"])
    tables_by_word: dict[str, set[str]] = {}
    for r in reasons:
        tables_by_word.setdefault(r.word, set()).add(r.table)
    assert "public.whcustomer" in tables_by_word["customers"]
    assert "public.whorder" in tables_by_word["orders"]
    assert "public.whitem" in tables_by_word["items"]
    assert tables_by_word["visits"] == tables_by_word["patients"] == {"public.PatientVisit"}
    # before words were split, "order" and "customer" matched nothing and the question was refused
    grounding = ground(schema, "Which customers have the most orders since last month?")
    assert grounding.unmatched == () and not grounding.unanswerable
    assert ground(schema, "What is the boiling point of mercury?").unanswerable


def test_did_you_mean_reads_words_not_letters() -> None:
    columns = ["xycustid", "xycustname", "xycustregion"]
    assert closest_name("customer_name", columns) == "xycustname"
    assert closest_name("region", columns) == "xycustregion"
    assert closest_name("nme", ["name", "id"]) == "name"  # a typo: spelled almost the same
    assert closest_name("customer_nme", ["customer_name", "id"]) == "customer_name"
    assert closest_name("customer_ids", ["customer_id", "id"]) == "customer_id"
    # letters alike, words not: a stock row's site is not its item (the columns in words)
    assert closest_name("site_id", ["bin_id", "item_id", "qty", "counted_on"], cutoff=0.85, every_word=True) is None
    assert closest_name("shipping_weight", columns) is None
    # camelCase written unquoted reaches the checks folded: "saleat" is sale + at, and no
    # column holds both (soldAt is not saleLineId's "sale" with the "at" dropped)
    sale_line = ["saleLineId", "productId", "soldAt", "qty", "buyerPersonId"]
    assert closest_name("saleat", sale_line, cutoff=0.85, every_word=True) is None
    assert closest_name("kmcity", ["kmshopid", "kmshopname", "kmshopcity"], cutoff=0.85, every_word=True) == "kmshopcity"
