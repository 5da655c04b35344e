"""Refusing questions the schema never mentions, measured on the benchmark's real schemas."""

from __future__ import annotations

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


def test_words_the_schema_lacks_are_named_and_values_do_not_count(schemas) -> None:
    academic = schemas["academic"]
    impact = ground(academic, "What is the average journal impact factor of publications in the year 2020?")
    assert impact.unmatched == ("impact", "factor") and impact.unanswerable
    assert ground(academic, "What is the purpose of life?").unanswerable
    # names and quoted values are data the database may hold beyond its sample values
    answerable = ground(academic, 'How many publications did authors of "Some Unknown Org" write in Nature Physics?')
    assert not answerable.unanswerable and answerable.unmatched == ()
    assert not ground(academic, "how many publications per year, ordered by year").unanswerable


def test_on_the_dev_suite_it_refuses_most_unanswerable_and_almost_no_answerable_questions(schemas) -> None:
    """The figures issue 5 asks for: at least 80% of idk.csv refused, at most 5% of the rest."""
    refused_idk = sum(ground(schemas[q.db_name], q.question).unanswerable for q in SUITE.idk)
    refused_answerable = sum(ground(schemas[q.db_name], q.question).unanswerable for q in SUITE.questions)
    assert refused_idk >= 0.8 * len(SUITE.idk), refused_idk
    assert refused_answerable <= 0.05 * len(SUITE.questions), refused_answerable
