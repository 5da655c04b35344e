"""A question about data the database does not hold is refused on evidence after the model ran.

Evidence is two things at once: a content word of the question that nothing in the schema
matches, and every query the model wrote failing because it needed a table or column named
after that word. Either alone is no refusal: a failed query is a failure ("no valid query"),
and an unmatched word alone goes to the model. A scripted model writes the candidates; the
checks run on a real server, on a schema from no benchmark.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import BROKEN, CHEAP, PRODUCTS, Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL

WEIGHT_Q = "what is the average shipping weight of the products"
INVENTED = "SELECT avg(shipping_weight) FROM products;"
INVENTED_TABLE = "SELECT avg(w.kg) FROM weights w JOIN products p ON p.id = w.product_id;"


conn = database_fixture("absent_data", PRODUCTS)


def _ask(replies: list[str], question: str, conn, **ask):
    return Asker(Scripted(replies), Options(candidates=2, max_repairs=0)).ask(question, conn, **ask)


def test_queries_that_need_what_the_question_names_and_the_schema_lacks_are_a_refusal(conn):
    answer = _ask([INVENTED, INVENTED_TABLE], WEIGHT_Q, conn)
    assert answer.kind == "refusal" and answer.sql == REFUSAL_SQL
    assert answer.reason == 'nothing in this database matches "shipping", "weight" (the model\'s queries needed shipping_weight, weights)'


def test_a_column_behind_a_misspelt_table_counts_too(conn):
    """`product` is repaired to `products`; only then can the checks see that it has no
    `shipping_weight`, and the repair still fails, so the query as written is reported."""
    answer = _ask(["SELECT avg(shipping_weight) FROM product;"], WEIGHT_Q, conn)
    assert answer.kind == "refusal" and answer.reason.endswith("(the model's queries needed shipping_weight)")


def test_a_failed_query_that_invents_no_word_of_the_question_stays_a_failure(conn):
    answer = _ask([BROKEN], "which products are cheap", conn)  # "title": not a word of the question
    assert answer.kind == "failed" and answer.reason.startswith('no valid query: column "title" does not exist')


def test_one_query_that_passes_is_the_answer(conn):
    answer = _ask([INVENTED, "SELECT avg(price) FROM products;"], WEIGHT_Q, conn)
    assert answer.kind == "read" and "avg(price)" in answer.sql.lower()


def test_insisting_with_bang_reports_the_failure_instead(conn):
    answer = _ask([INVENTED], WEIGHT_Q, conn, check_grounding=False)
    assert answer.kind == "failed" and 'column "shipping_weight" does not exist' in answer.reason


def test_a_word_the_schema_holds_is_never_evidence(conn):
    """"price" is a column: a query that invents `price_usd` for it fails, it is not refused."""
    answer = _ask(["SELECT avg(price_usd) FROM products;"], "what is the average price of the products", conn)
    assert answer.kind == "failed" and "price_usd" in answer.reason


def test_the_cheap_question_still_answers(conn):
    assert _ask([CHEAP], "which products are cheap", conn).kind == "read"


def test_the_shell_and_the_proxy_say_which_words_and_how_to_insist(conn, pg_server):
    import io

    from nl2sql_shell.db.connect import Target, connect
    from nl2sql_shell.output import Output
    from nl2sql_shell.proxy.questions import verdict
    from nl2sql_shell.repl.questions import QuestionHandler
    from nl2sql_shell.repl.shell import Shell

    answer = _ask([INVENTED], WEIGHT_Q, conn)
    out = io.StringIO()
    target = Target(pg_server.conninfo("absent_data"))
    shell = Shell(target, connect(target), output=Output(out, use_pager=False), errors=io.StringIO())
    QuestionHandler(shell, model=None, adapter=None, quantize=None, device=None)._present(answer)
    assert out.getvalue() == f"This database cannot answer that: {answer.reason}. Use the schema's words, or ask with ?! to let the model try anyway.\n"
    assert verdict(answer).startswith('this database cannot answer that: nothing in this database matches "shipping", "weight"')
    said = _ask([REFUSAL_SQL], WEIGHT_Q, conn)  # the model's own refusal is reported as the model's
    assert said.kind == "refusal" and not said.absent
    assert verdict(said) == "the model says this database cannot answer that question"
