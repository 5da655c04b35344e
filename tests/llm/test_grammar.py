"""The schema grammar (nl2sql/grammar.py) on llama.cpp's own grammar engine and the real GGUF
model: what it lets the model write, and what it changes in a greedy answer."""

from __future__ import annotations

import re

import pytest

import nl2sql_shell.llm.llamacpp  # noqa: F401 - sets llama.cpp's threads up before llama_cpp loads

pytest.importorskip("llama_cpp")

from nl2sql_shell.llm.defaults import offline_gguf  # noqa: E402
from nl2sql_shell.llm.llamacpp import _GrammarCheck  # noqa: E402
from nl2sql_shell.llm.load import ModelSpec, load_model  # noqa: E402
from nl2sql_shell.llm.model import Model  # noqa: E402
from nl2sql_shell.nl2sql.grammar import sql_grammar  # noqa: E402
from nl2sql_shell.schema.model import Column, Table  # noqa: E402

pytestmark = pytest.mark.skipif(not offline_gguf().exists(), reason="the offline GGUF model is not on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh)")

TABLES = [
    Table("public", "orders", columns=(Column("order_id", "integer"), Column("customer_id", "integer"), Column("total_cents", "bigint"), Column("order", "integer"))),
    Table("billing", "xyInvoice", columns=(Column("xyInvId", "integer"), Column('we"ird\\name', "text"))),
]


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(ModelSpec(model=str(offline_gguf()), backend="llamacpp"))


def _accepted(model, text: str) -> bool:
    """Whether the grammar lets the model write `text`, token by token as it would."""
    check = _GrammarCheck(model.llama._model.vocab, sql_grammar(TABLES))
    try:
        for token in model.llama.tokenize(text.encode(), add_bos=False, special=False):
            if not check._allows(token):
                return False
            check.choose(token, None, 0, None)
        return True
    finally:
        check.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT o.order_id, o.total_cents / 100.0 AS total FROM orders o WHERE o.customer_id = 7;",
        "SELECT COUNT(*) FROM orders AS t1 JOIN orders AS t2 ON t1.order_id=t2.order_id",
        'SELECT i."xyInvId", i."we""ird\\name" FROM billing."xyInvoice" AS i;',
        "SELECT o.* FROM public.orders o WHERE o.order > 2 AND o.total_cents::numeric > 1.5",
        "SELECT 'it''s (a) string; with .dots' AS \"My Label\" FROM orders LIMIT 10",
        "\n  SELECT name FROM anything_unqualified",
    ],
)
def test_queries_that_name_only_shown_names_after_a_dot_are_accepted(model, sql):
    assert _accepted(model, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT o.amount FROM orders o",  # a column no table has
        "SELECT o.order_idx FROM orders o",  # a shown name with more after it
        'SELECT i."XyInvId" FROM billing."xyInvoice" i',  # quoted names keep their case
        "```sql\nSELECT 1;",  # no fence: the statement alone
        "SELECT 1; DROP TABLE orders",  # nothing after the semicolon
    ],
)
def test_invented_names_after_a_dot_and_text_around_the_statement_are_not(model, sql):
    assert not _accepted(model, sql)


def test_the_greedy_answer_names_a_real_column_where_it_would_invent_one(model):
    """Told to write a column that does not exist, the model writes it; under the grammar it
    writes a shown one at that place, and the rest of the query goes on."""
    schema = "\n".join(f"CREATE TABLE {t.name} ({', '.join(c.name for c in t.columns)});" for t in TABLES[:1])
    messages = [
        {"role": "system", "content": f"Reply with one PostgreSQL query.\n{schema}"},
        {"role": "user", "content": "Copy this query exactly, character by character: SELECT o.amount_usd FROM orders o;"},
    ]
    prompt = model.chat_prompt(messages)
    [free] = model.generate(prompt, max_new_tokens=30, stop=[";"])
    [constrained] = model.generate(prompt, max_new_tokens=30, stop=[";"], grammar=sql_grammar(TABLES[:1]))
    assert "o.amount_usd" in free.text
    after_dots = _after_dots(constrained.text)
    assert after_dots and set(after_dots) <= {"order_id", "customer_id", "total_cents", "order", "orders", "public"}
    assert "FROM orders" in constrained.text


def test_samples_under_the_grammar_keep_to_it_too(model):
    messages = [
        {"role": "system", "content": "Reply with one PostgreSQL query.\nCREATE TABLE orders (order_id int, customer_id int, total_cents bigint);"},
        {"role": "user", "content": "Total amount, revenue and tax of each customer's orders?"},
    ]
    answers = model.generate(model.chat_prompt(messages), max_new_tokens=60, stop=[";"], n=4, temperature=1.2, grammar=sql_grammar(TABLES[:1]))
    assert len(answers) == 4
    for answer in answers:
        assert set(_after_dots(answer.text)) <= {"order_id", "customer_id", "total_cents", "order", "orders", "public"}


def _after_dots(sql: str) -> list[str]:
    """The names written after a dot (not the decimals of a number)."""
    return re.findall(r"(?<=[\w\"])\.([A-Za-z_]\w*)", sql)


def test_a_grammar_llamacpp_cannot_read_is_one_error(model):
    with pytest.raises(ValueError, match="could not read the grammar"):
        model.generate("SELECT", max_new_tokens=2, grammar="root ::= (")
