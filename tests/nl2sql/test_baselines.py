"""eval's baselines: what the model does alone, measured beside the pipeline.

`raw` is the plain CREATE TABLE prompt of model cards: every table, no sample values or rules,
one greedy query, run as written. A scripted model records what it was asked; the checks run
on a real server.
"""

from __future__ import annotations

from conftest import database_fixture
from scripted import Scripted

from nl2sql_shell.nl2sql.pipeline import Asker, Options

SCHEMA = """
CREATE SCHEMA billing;
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE billing.invoices (id int PRIMARY KEY, customer_id int REFERENCES customers(id), amount numeric);
CREATE TABLE audit_log (id int PRIMARY KEY, note text);
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');
INSERT INTO billing.invoices VALUES (1, 1, 10), (2, 2, 30);
INSERT INTO audit_log VALUES (1, 'created');
"""
UNQUALIFIED = "SELECT sum(amount) FROM invoices;"


conn = database_fixture("baselines", SCHEMA)


class Recording(Scripted):
    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.asked: list[tuple[str, int, float | None]] = []

    def generate(self, prompt: str, *, n: int = 1, **options):
        self.asked.append((prompt, n, options.get("temperature")))
        return super().generate(prompt, n=n, **options)


def test_raw_sends_every_table_as_plain_ddl_once_greedily(conn):
    model = Recording([UNQUALIFIED])
    answer = Asker(model, Options(prompt_style="raw", candidates=4, max_repairs=2)).ask("total invoiced amount", conn, hint="amounts are in euros")
    [(prompt, n, temperature)] = model.asked  # no repair round, one query
    assert (n, temperature) == (1, 0.0)
    for table in ("CREATE TABLE customers (", "CREATE TABLE billing.invoices (", "CREATE TABLE audit_log ("):
        assert table in prompt  # audit_log too: no linking
    assert "e.g." not in prompt and "rows" not in prompt and "Rules" not in prompt
    assert prompt.rstrip().endswith("-- total invoiced amount\n-- amounts are in euros")
    # run as written: the table off the search_path is not repaired to billing.invoices
    assert answer.kind == "failed" and answer.sql.rstrip(";") == UNQUALIFIED.rstrip(";")


def test_the_pipeline_repairs_what_the_raw_baseline_runs_as_written(conn):
    answer = Asker(Recording([UNQUALIFIED]), Options(candidates=1, max_repairs=0)).ask("total invoiced amount", conn)
    assert answer.kind == "read" and "billing.invoices" in answer.sql
