"""eval, bench and finetune given a broken suite, data file or option: one line naming what
is wrong and a non-zero exit, before any model loads where that can be told then. They gave
Python tracebacks, and a failed rerun emptied the last run's results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEAD_SERVER = ("--model-url", "http://127.0.0.1:9/v1", "--model", "none")
HEADER = "question,query,db_name,query_category,instructions\n"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nl2sql_shell", *args], capture_output=True, text=True, timeout=300)


def _suite(root: Path, questions: bytes, dump: str = "CREATE TABLE t (a int);\n") -> Path:
    (root / "dbs").mkdir(parents=True)
    (root / "dbs" / "x.sql").write_text(dump)
    (root / "questions.csv").write_bytes(questions)
    return root


def _one_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]  # progress lines may come before
    assert len(errors) == 1 and done.stderr.rstrip().endswith(errors[0]) and all(word in errors[0] for word in words), done.stderr


@pytest.mark.parametrize(
    ("questions", "words"),
    [
        (b"\xff\xfequestion\n", ("questions.csv", "utf-8")),
        (b"question,query\nq,select 1\n", ("questions.csv", "no db_name column")),
        ((HEADER + '"q,select 1,x\n').encode(), ("questions.csv", "fewer fields")),
        ((HEADER + "q,select 1,nosuchdb,,\n").encode(), ("no dump in dbs/", "nosuchdb")),
        (HEADER.encode(), ("has no questions",)),
        ((HEADER + "q,select 1,x,,\nr, ,x,,\n").encode(), ("questions.csv", "line 3", "query cell is empty")),
    ],
    ids=["bad-bytes", "no-column", "unclosed-quote", "no-dump", "empty", "empty-query"],
)
def test_a_broken_suite_is_one_line(tmp_path, questions, words):
    _one_line(_run("eval", str(_suite(tmp_path, questions)), *DEAD_SERVER), *words)


def test_finetune_on_a_suite_with_an_empty_query_is_one_line(tmp_path):
    """It was an IndexError traceback (and eval loaded the model, then stopped at that question)."""
    suite = _suite(tmp_path / "s", (HEADER + "q,select 1,x,,\nr,,x,,\n").encode())
    _one_line(_run("finetune", "--data", str(suite), "--model", str(tmp_path / "no-model"), "--output", str(tmp_path / "out")), "query cell is empty")


def test_a_spreadsheet_s_byte_order_mark_is_read(tmp_path):
    from nl2sql_shell.eval.suite import load_suite

    suite = load_suite(_suite(tmp_path, ("\ufeff" + HEADER + "How many?,select 1,x,,\n").encode()))
    assert [q.question for q in suite.questions] == ["How many?"]


@pytest.mark.parametrize(
    "option",
    [("--every", "0"), ("--offset", "-1"), ("--limit", "-1"), ("--candidates", "0"), ("--max-repairs", "-1"), ("--prompt-style", ",,"), ("--temperature", "nan"), ("--refusal-doubt", "inf")],
)
def test_impossible_numbers_are_refused(tmp_path, option):
    done = _run("eval", str(_suite(tmp_path, (HEADER + "q,select 1,x,,\n").encode())), *DEAD_SERVER, *option)
    assert done.returncode == 2 and option[0] in done.stderr and "Traceback" not in done.stderr


def test_an_unwritable_out_is_told_before_the_model_loads(tmp_path):
    _one_line(_run("eval", str(_suite(tmp_path, (HEADER + "q,select 1,x,,\n").encode())), "--model", "/nowhere/model", "--out", "/dev/null/x"), "--out")


def test_a_dump_that_fails_keeps_the_last_run_s_results(tmp_path, pg_server):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"kept": true}\n')
    suite = _suite(tmp_path / "suite", (HEADER + "q,select 1,x,,\n").encode(), dump="CREATE TABLE broken (;\n")
    _one_line(_run("eval", str(suite), *DEAD_SERVER, "--dsn", pg_server.conninfo("postgres"), "--out", str(out)), "loading the suite's databases", "syntax error")
    assert (out / "results.jsonl").read_text() == '{"kept": true}\n'


def test_bench_refuses_zero_repeats():
    done = _run("bench", *DEAD_SERVER, "--repeats", "0")
    assert done.returncode == 2 and "--repeats" in done.stderr


def test_finetune_data_that_is_not_text_or_a_suite_is_one_line_before_the_model_loads(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_bytes(b"\xff\xfe{}\n")
    _one_line(_run("finetune", "--data", str(data), "--model", "/nowhere/model", "--output", str(tmp_path / "a")), "pairs.jsonl", "UTF-8")
    suite = _suite(tmp_path / "suite", (HEADER + '"q,select 1,x\n').encode())
    _one_line(_run("finetune", "--data", str(suite), "--model", "/nowhere/model", "--output", str(tmp_path / "b")), "fewer fields")


@pytest.mark.parametrize("option", [("--lr", "nan"), ("--batch-size", "0"), ("--eval-split", "3"), ("--dropout", "7"), ("--epochs", "-1"), ("--max-length", "0")])
def test_finetune_refuses_impossible_numbers_before_the_model_loads(tmp_path, option):
    (tmp_path / "pairs.jsonl").write_text('{"question": "q", "context": "c", "answer": "a"}\n')  # (a missing file is refused first)
    done = _run("finetune", "--data", str(tmp_path / "pairs.jsonl"), "--model", "/nowhere/model", "--output", str(tmp_path / "a"), *option)
    assert done.returncode == 2 and option[0] in done.stderr and "Traceback" not in done.stderr


def test_a_suite_s_escape_sequences_do_not_reach_the_terminal(tmp_path):
    """A database name holding an OSC sequence (a window title) was printed raw in the error."""
    suite = _suite(tmp_path, (HEADER + "q,select 1,zz\x1b]0;PWNED\x07x,,\n").encode())
    done = _run("eval", str(suite), *DEAD_SERVER)
    assert done.returncode != 0 and "\x1b" not in done.stderr and "zz\\x1B]0;PWNED\\x07x" in done.stderr, done.stderr


def test_an_offset_not_below_every_is_one_line(tmp_path):
    """`--every 2 --offset 5` ran a part of offset 1's questions, silently."""
    suite = _suite(tmp_path, (HEADER + "q,select 1,x,,\n").encode())
    done = _run("eval", str(suite), "--every", "2", "--offset", "5", *DEAD_SERVER)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "Invalid value for --offset: 5 is not below --every 2" in done.stderr


def test_a_gold_query_that_fails_is_told_before_the_model_loads(tmp_path, pg_server):
    """A broken gold query stopped the run only when its question came up: after the model's
    load (minutes) and every question before it."""
    suite = _suite(tmp_path, (HEADER + "q,select 1,x,,\nr,select nosuch from t,x,,\n").encode())
    done = _run("eval", str(suite), "--model", str(tmp_path / "no-model"), "--dsn", pg_server.conninfo("postgres"))
    _one_line(done, "gold query fails", "question 2 of questions.csv (x)", "nosuch")
