"""Getting the statement out of what a model really writes, and telling an abstention apart."""

from __future__ import annotations

import pytest
from conftest import DEFOG

from nl2sql_shell.eval.scoring import gold_queries
from nl2sql_shell.eval.suite import load_suite
from nl2sql_shell.nl2sql.extract import extract_sql, is_refusal

JOIN = "SELECT a.name, COUNT(*) AS papers\nFROM author a\nJOIN writes w ON w.aid = a.aid\nGROUP BY a.name\nORDER BY papers DESC\nLIMIT 5"

REPLIES = [
    ("```sql\nSELECT name FROM author;\n```", "SELECT name FROM author"),
    (f"```sql\n{JOIN};\n```\n\nThis query counts the papers of each author and keeps the top 5.", JOIN),
    ("Here is the query:\n```\nselect count(*) from writes\n```", "select count(*) from writes"),
    ("```postgresql\nSELECT 1\n```", "SELECT 1"),
    ("Here is the query: SELECT name FROM author WHERE aid = 3; It returns one name.", "SELECT name FROM author WHERE aid = 3"),
    ("SELECT name FROM author ORDER BY name; -- sorted\nThe query above lists the authors.", "SELECT name FROM author ORDER BY name"),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("<|im_start|>assistant\nSELECT 1<|im_end|>", "SELECT 1"),
    ("<|im_start|>assistant\n```sql\nSELECT 2\n```<|im_end|><|endoftext|>", "SELECT 2"),
    ("<|start_header_id|>assistant<|end_header_id|>\n\nSELECT 3<|eot_id|>", "SELECT 3"),
    ("```python\nprint('SELECT 9')\n```\n```sql\nSELECT 2\n```", "SELECT 2"),
    ("```sql\nSELECT a FROM t\n```\nor, alternatively:\n```sql\nSELECT b FROM t\n```", "SELECT a FROM t"),
    ("The answer uses `SELECT max(year) FROM publication` to get the latest year.", "SELECT max(year) FROM publication"),
    ("SELECT title FROM publication WHERE title LIKE '%;%'; Note: it doesn't look at abstracts", "SELECT title FROM publication WHERE title LIKE '%;%'"),
    ("<think>Maybe SELECT wrong FROM x? No.</think>\nSELECT name FROM author", "SELECT name FROM author"),
    ("```sql\nSELECT name FROM author WHERE aid IN (1, 2)", "SELECT name FROM author WHERE aid IN (1, 2)"),  # cut off at the token limit
    ("SQL: select name from author\n\nExplanation: it selects every name.", "select name from author"),
    ("SELECT name FROM author\nThis query returns the names.", "SELECT name FROM author"),
    ("Answer:\n" + JOIN + ";\n\nThis lists the top 5 authors.", JOIN),
    ("SELECT `name` FROM author\nThis is MySQL style.", "SELECT `name` FROM author"),  # kept so the checks can explain
    ("  select\n  title\nfrom publication  ", "select\n  title\nfrom publication"),
    # the whole statement, never a shorter one that also runs (each ran silently cut)
    ("SELECT aid FROM author -- ids only; names are not needed\nWHERE aid > 3", "SELECT aid FROM author -- ids only; names are not needed\nWHERE aid > 3"),
    ("SELECT aid, name\nFROM author\n\nWHERE aid > 3\nORDER BY aid;", "SELECT aid, name\nFROM author\n\nWHERE aid > 3\nORDER BY aid"),
    ("DELETE FROM author\n\nWHERE aid = 1;", "DELETE FROM author\n\nWHERE aid = 1"),
    ("SELECT aid FROM author\nWhere aid > 3\nOrder by aid USING >;", "SELECT aid FROM author\nWhere aid > 3\nOrder by aid USING >"),
    ("<s>SELECT aid FROM author WHERE name NOT LIKE '%</s>%' AND name <> '<s>x';</s>", "SELECT aid FROM author WHERE name NOT LIKE '%</s>%' AND name <> '<s>x'"),
    ("I would not run DELETE FROM author; instead, count them:\nSELECT count(*) FROM author;", "SELECT count(*) FROM author"),
    ("```\nSELECT aid FROM author WHERE aid > 3\n```", "SELECT aid FROM author WHERE aid > 3"),
    ("SELECT * FROM author\n\nThis query returns every author.", "SELECT * FROM author"),
    ("EXPLAIN SELECT name FROM author;", "EXPLAIN SELECT name FROM author"),  # not its SELECT alone
    # a query that opens with parentheses, bare (it was "no SQL": only keywords started one)
    ("(SELECT aid FROM author ORDER BY aid LIMIT 1) UNION ALL (SELECT aid FROM author ORDER BY aid DESC LIMIT 1)",
     "(SELECT aid FROM author ORDER BY aid LIMIT 1) UNION ALL (SELECT aid FROM author ORDER BY aid DESC LIMIT 1)"),
    ("Here it is: (SELECT count(*) FROM author);", "(SELECT count(*) FROM author)"),
    ("The answer (select carefully) is\nSELECT name FROM author", "SELECT name FROM author"),  # a parenthesis in prose starts nothing
]


@pytest.mark.parametrize(("reply", "sql"), REPLIES, ids=[f"reply{i}" for i in range(len(REPLIES))])
def test_the_statement_is_taken_from_a_model_reply(reply: str, sql: str) -> None:
    assert extract_sql(reply) == sql


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I'm sorry, I cannot answer this question with the given tables.",
        "To find the answer, select the rows where the year is 2020. With this data it is easy.",
        "show me the authors",
        "```python\nimport os\n```",
    ],
)
def test_a_reply_without_sql_gives_none(reply: str) -> None:
    assert extract_sql(reply) is None


def test_a_statement_the_model_appends_is_not_taken_along_from_prose() -> None:
    """Free text ends the statement at its semicolon: what is shown is exactly what runs."""
    assert extract_sql("Run this: SELECT 1; DROP TABLE author;") == "SELECT 1"


def test_a_fence_is_taken_whole_so_the_checks_see_every_statement_in_it() -> None:
    assert extract_sql("```sql\nSELECT 1;\nDROP TABLE author;\n```") == "SELECT 1;\nDROP TABLE author"


@pytest.mark.parametrize(
    "reply",
    [
        "SELECT 'I cannot answer that due to a lack of necessary data.' AS answer;",
        "```sql\nSELECT 'Sorry, the data is not available' AS answer, 'n/a' AS detail\n```",
        "The database has no table about novels, so this cannot be answered.",
        "Unfortunately the schema does not contain information about dark matter.",
        # prose read from a table: no column of the database in the answer
        "SELECT DISTINCT 'Stretch that can help lower back pain' AS answer FROM visits WHERE visit_id = 3",
        "SELECT 'I cannot answer that with this database.' AS answer",
        "SELECT 'Unavailable' AS answer",
    ],
)
def test_abstentions_are_refusals(reply: str) -> None:
    assert is_refusal(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "SELECT name FROM author",
        "SELECT 'x' AS label FROM author",  # a literal, but read from a table
        "SELECT 'x' AS label, count(*) FROM author",
        "SELECT 'yes' AS answer FROM author WHERE name = 'Ada'",  # a label: the row's presence answers
        "SELECT 'high value' AS segment, name FROM author",
        "SELECT 1",
        "Here you go: SELECT name FROM author WHERE name <> 'unavailable'",
        "SELECT 'Eclair' AS name",  # a value made up, read from nowhere: no refusal either
        "SELECT 'Apple' AS name, 'fruit' AS category",
    ],
)
def test_answers_are_not_refusals(reply: str) -> None:
    assert not is_refusal(reply)


def test_every_benchmark_abstention_is_a_refusal_and_no_gold_query_is() -> None:
    suite = load_suite(DEFOG)
    assert all(is_refusal(q.gold) for q in suite.idk)
    golds = [g for q in suite.questions for g in gold_queries(q.gold)]
    assert not [g for g in golds if is_refusal(g)]
    assert all(extract_sql(f"```sql\n{g}\n```") == g.strip().rstrip(";").strip() for g in golds)


@pytest.mark.parametrize(
    ("reply", "sql"),
    [
        ("DELETE FROM orders WHERE id = 5 -- just this one\r OR now() IS NOT NULL", "DELETE FROM orders WHERE id = 5 -- just this one\n OR now() IS NOT NULL"),
        ("SELECT 'a\rb' AS x\r\nFROM t", "SELECT 'a\rb' AS x\nFROM t"),  # in a string it is data
        ('SELECT "odd\rname" FROM t', 'SELECT "odd\rname" FROM t'),
        ("UPDATE orders SET amount = 0 WHERE now() IS NOT NULL OR" + " " * 1700 + "id = 5", "UPDATE orders SET amount = 0 WHERE now() IS NOT NULL OR id = 5"),  # off the screen
        ("SELECT '" + " " * 50 + "' AS blanks", "SELECT '" + " " * 50 + "' AS blanks"),
    ],
)
def test_a_carriage_return_outside_strings_is_the_line_break_postgres_reads(reply: str, sql: str) -> None:
    """PostgreSQL ends a `--` comment at a carriage return; shown escaped as `\\r` the rest of
    the line read as more of the comment, and a yes deleted every row."""
    assert extract_sql(reply) == sql
