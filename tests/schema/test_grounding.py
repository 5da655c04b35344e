"""Refusing questions the schema never mentions, measured on the benchmark's real schemas."""

from __future__ import annotations

import time

import psycopg
import pytest
from conftest import DEFOG

from nl2sql_shell.eval.suite import load_database, load_suite
from nl2sql_shell.schema.grounding import ground
from nl2sql_shell.schema.introspect import read_schema
from nl2sql_shell.schema.model import Schema

SUITE = load_suite(DEFOG)


@pytest.fixture(scope="module")
def schemas(pg_server) -> dict[str, Schema]:
    """Each benchmark database as eval loads it: the dump plus its column descriptions."""
    found = {}
    for database in SUITE.databases:
        conninfo = load_database(pg_server.conninfo(), f"grounding_{database.name}", database.dump, pg_server.conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            found[database.name] = read_schema(conn)
    return found


def test_it_refuses_only_when_no_word_of_the_question_is_in_the_database(schemas) -> None:
    academic = schemas["academic"]
    assert ground(academic, "What is the purpose of life?").unanswerable
    # "journal" and "publications" are in the database: the model decides, told nothing is refused
    impact = ground(academic, "What is the average journal impact factor of publications in the year 2020?")
    assert impact.unmatched == ("impact", "factor") and not impact.unanswerable
    # names and quoted values are data the database may hold beyond its sample values
    answerable = ground(academic, 'How many publications did authors of "Some Unknown Org" write in Nature Physics?')
    assert not answerable.unanswerable and answerable.unmatched == ()
    assert not ground(academic, "how many publications per year, ordered by year").unanswerable


def test_terms_the_question_or_its_instructions_define_are_never_unmatched(schemas) -> None:
    academic = schemas["academic"]
    assert ground(academic, "What is the h-index of Ann?").unanswerable
    defined = ground(academic, "What is the h-index of Ann?", "h-index = the largest h with h papers cited h times")
    assert defined.content == () and not defined.unanswerable
    assert not ground(academic, "Define the reach of a person as the citations they got. What is the reach of Ann?").unanswerable


def test_a_long_word_in_the_question_is_read_in_linear_time(schemas) -> None:
    """A 200,000-letter word (a paste gone wrong): looking for a defined term at each of its
    letters took time quadratic in its length (20,000 letters: 22 s; a megabyte ran on for
    hours, and Ctrl-C waited for it)."""
    started = time.monotonic()
    grounding = ground(schemas["academic"], "how many authors " + "x" * 200_000 + " or x-" * 50_000 + " KPI = papers per author")
    assert time.monotonic() - started < 5
    assert not grounding.unanswerable and "kpi" not in grounding.unmatched


def test_on_the_dev_suite_it_refuses_no_answerable_question(schemas) -> None:
    """Refusal before the model runs costs answers: at most 2% of the answerable questions."""
    refused = [q.question for q in SUITE.questions if ground(schemas[q.db_name], q.question, q.instructions).unanswerable]
    refused_idk = sum(ground(schemas[q.db_name], q.question, q.instructions).unanswerable for q in SUITE.idk)
    print(f"refused before the model: {len(refused)}/{len(SUITE.questions)} answerable, {refused_idk}/{len(SUITE.idk)} unanswerable")
    assert len(refused) <= 0.02 * len(SUITE.questions), refused
    assert refused_idk >= 0.2 * len(SUITE.idk), refused_idk


def test_true_and_false_say_how_a_condition_holds_not_what_data_is_meant(fresh_db: str) -> None:
    """"where paid is true" names a boolean column's value, which no sample value shows; it
    was counted as a word the database lacks, and with the model's doubt the question was
    refused. A word of the question's own language, it counts neither way."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE fine (loan_id int PRIMARY KEY, cents int, paid boolean)")
        schema = read_schema(conn)
    assert ground(schema, "remove every fine where paid is true").unmatched == ()
    assert ground(schema, "How does one find true happiness?").unanswerable


def test_a_table_named_outside_ascii_words_is_found_by_its_name() -> None:
    """`заказы`, `x1` and `q3` have no ASCII word a question could match: a question naming
    them was refused as matching nothing in the database."""
    from nl2sql_shell.schema.model import Column, Table

    tables = tuple(Table("public", name, columns=(Column("id", "integer"),)) for name in ("заказы", "x1", "q3", "logins"))
    schema = Schema("db", ("public",), tables)
    for question in ("weather of заказы", "readings in x1", "how many rows in q3"):
        assert not ground(schema, question).unanswerable, question
    assert ground(schema, "weather of the moon").unanswerable


def test_a_question_may_spell_a_name_in_other_case_or_accents() -> None:
    """`İLLER` for "İller", `STRASSE` for "Straße", `ΠΕΛΑΤΕΣ` for "πελάτες" were refused as
    matching nothing."""
    from nl2sql_shell.schema.model import Column, Table

    schema = Schema("db", ("public",), tuple(Table("public", n, columns=(Column("id", "integer"),)) for n in ("İller", "Straße", "πελάτες")))
    for question in ("İLLER count", "how many iller", "STRASSE count", "how many ΠΕΛΑΤΕΣ"):
        assert not ground(schema, question).unanswerable, question
    decomposed = "how many rows in nai\u0308ve"  # typed as i and a combining diaeresis
    assert not ground(Schema("db", ("public",), (Table("public", "naïve", columns=(Column("id", "integer"),)),)), decomposed).unanswerable


def test_a_word_of_the_question_language_that_names_a_table_is_what_the_question_is_about() -> None:
    """On a fleet app with `fm_part` and `"fm_workOrder"` tables, "cheapest part" and "which
    order took longest" were refused: "part" and "order" are words of the question language
    ("part of", "order by"), so nothing the question says counted as matching."""
    from nl2sql_shell.schema.model import Column, Table

    tables = (
        Table("ops", "fm_part", columns=(Column("part_id", "integer"), Column("unit_cost", "numeric"))),
        Table("ops", "fm_workOrder", columns=(Column("wo_id", "integer"), Column("opened_at", "bigint"))),
        Table("ops", "fm_depot", columns=(Column("depot_id", "integer"),)),
    )
    schema = Schema("fleet", ("public",), tables)
    for question in ("cheapest part", "most expensive parts", "which order took longest"):
        assert not ground(schema, question).unanswerable, question
    # not where it is a verb or a word of the phrasing: those ask about nothing here
    for question in ("list the unicorns in order of name", "order the planets by mass", "list unicorns order by name", "part of the moons"):
        assert ground(schema, question).unanswerable, question
    # a word of the question language that names no table still says nothing
    assert ground(Schema("fleet", ("public",), tables[::2]), "the planets' order").unanswerable
    assert ground(Schema("fleet", ("public",), tables[2:]), "cheapest part").unanswerable


def test_a_schema_s_name_is_a_word_of_the_database() -> None:
    """`? hr staff count` on a database keeping its staff in schema `hr`, and `? list sales
    data` with a schema `"Sales Data"`, were refused: "nothing in this database matches"."""
    from nl2sql_shell.schema.model import Column, Table

    def table(schema: str, name: str, *columns: str) -> Table:
        return Table(schema, name, columns=tuple(Column(c, "text") for c in columns))

    schema = Schema("app", ("public",), (table("hr", "employees", "emp_id", "full_name"), table("Sales Data", "orders", "region", "amount"), table("public", "notes", "body")))
    assert ground(schema, "hr headcount").unmatched == ("headcount",) and not ground(schema, "hr headcount").unanswerable
    assert not ground(schema, "list sales data").unanswerable
    assert ground(schema, "public holidays").unanswerable  # PostgreSQL's own schema name is no word of this database
