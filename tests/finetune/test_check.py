"""The held-out check: exact match of normalised SQL, execution match on a real database."""

from __future__ import annotations

import psycopg
import pytest
from tinymodel import build_tiny_model, train_tiny_model
from transformers import AutoTokenizer

from nl2sql_shell.finetune.check import heldout_check, normalise_sql
from nl2sql_shell.finetune.data import Pair, prompt_text
from nl2sql_shell.llm.load import ModelSpec, load_model

SCHEMA = "CREATE TABLE head (head_id NUMERIC, name TEXT, age NUMERIC)"
# (gold pair, what the memorising model answers): same text in other spelling, a different
# query with the same rows, and a wrong query.
CASES = [
    (Pair("How many heads are older than 56?", SCHEMA, "SELECT count(*) FROM head WHERE age > 56"),
     "select COUNT(*)\n  from head where age>56;"),
    (Pair("Names of heads by age?", SCHEMA, "SELECT name FROM head ORDER BY age"),
     "SELECT h.name FROM head AS h ORDER BY h.age;"),
    (Pair("Names of heads older than 56?", SCHEMA, "SELECT name FROM head WHERE age > 56"),
     "SELECT name FROM head;"),
]


def test_normalise_sql_ignores_spelling_not_meaning():
    assert normalise_sql("SELECT count(*) FROM head WHERE age > 56") == normalise_sql("select COUNT(*)\n from head where age>56;")
    assert normalise_sql("SELECT name FROM head WHERE age > 56") != normalise_sql("SELECT name FROM head WHERE age > 65")
    assert normalise_sql("not sql at ALL ;") == "not sql at all"


@pytest.fixture(scope="module")
def memorising_model(tmp_path_factory):
    """A tiny model that answers each CASES prompt (the shell's real prompt) with its reply."""
    template = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("t") / "tok"))
    chat = lambda messages: template.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    pairs = [(prompt_text(chat, pair), reply) for pair, reply in CASES]
    path = train_tiny_model(tmp_path_factory.mktemp("m") / "model", pairs)
    return load_model(ModelSpec(model=str(path)))


def test_heldout_check_counts_exact_and_execution_matches(memorising_model, fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO head VALUES (1, 'ann', 70), (2, 'bob', 40), (3, 'cy', 60)")
    seen = []
    result = heldout_check(memorising_model, [pair for pair, _ in CASES], conninfo=fresh_db, on_pair=lambda n, total: seen.append((n, total)))
    assert (result.count, result.exact, result.executed, result.execution_correct) == (3, 1, 3, 2)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert result.summary() == "exact match 1/3 (33.3%), execution match 2/3 (66.7%)"


def test_heldout_check_without_database_reports_exact_match_only(memorising_model):
    result = heldout_check(memorising_model, [pair for pair, _ in CASES])
    assert (result.exact, result.executed) == (1, 0)
    assert result.summary() == "exact match 1/3 (33.3%)"


def test_a_gold_query_of_the_data_runs_only_when_proven_harmless(fresh_db, reachable_tmp):
    """The model's answer ran only when proven harmless, but the data file's gold ran with
    the rights of the user's --db: a `COPY ... TO PROGRAM` in it ran a command on the server."""
    import uuid
    from types import SimpleNamespace

    drop = reachable_tmp / f"drop-{uuid.uuid4().hex[:8]}"
    drop.mkdir()
    drop.chmod(0o777)
    marker = drop / "ran"

    class Answers:
        chat_prompt = staticmethod(lambda messages: messages[-1]["content"])

        def generate(self, prompt, **options):
            return [SimpleNamespace(text="SELECT 1")]

    pair = Pair("How many rows are in m?", "CREATE TABLE m (id INTEGER)", f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'", "")
    result = heldout_check(Answers(), [pair], conninfo=fresh_db)
    assert not marker.exists() and result.executed == 0
