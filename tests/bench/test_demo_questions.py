"""`nl2sql-shell bench --demo-questions`: whole answers on the demo database, per backend."""

from __future__ import annotations

import importlib.util
import re
from types import SimpleNamespace

import psycopg
import pytest
from click.testing import CliRunner

from nl2sql_shell.bench.demo_questions import QUESTIONS, Answered, Finished, _report
from nl2sql_shell.cli import main
from nl2sql_shell.db.demo import DEMO_DBNAME
from nl2sql_shell.db.embedded import DATA_DIR_ENV
from nl2sql_shell.llm.defaults import offline_gguf


def _answered(total_s: float, first_token_s: float, generate_s: float, tokens: int = 100) -> Answered:
    return Answered("read", total_s, 0.02, first_token_s, generate_s, prompt_tokens=700, generated_tokens=tokens, rounds=1)


def test_the_fixed_list_has_twenty_questions_after_the_first():
    assert len(QUESTIONS) > 20 and len(set(QUESTIONS)) == len(QUESTIONS)


def test_the_report_gives_each_figure_per_backend_and_llamacpp_against_transformers():
    workers = {"llamacpp": SimpleNamespace(load_s=0.5, ready_s=2.0), "transformers": SimpleNamespace(load_s=2.5, ready_s=8.0)}
    answers = {
        "llamacpp": [_answered(9.0, 3.0, 8.0), _answered(2.0, 0.2, 1.5), _answered(3.0, 0.4, 2.5)],
        "transformers": [_answered(20.0, 4.0, 19.0), _answered(8.0, 0.6, 7.5), _answered(12.0, 1.0, 11.0)],
    }
    finished = {"llamacpp": Finished(0.7, False), "transformers": Finished(2.8, True)}
    rows = dict(_report(workers, answers, finished, 3).rows)
    assert rows["first question"] == "llamacpp 9.00 s, transformers 20.00 s (llamacpp 2.2x faster)"
    assert rows["per question p50"] == "llamacpp 2.50 s, transformers 10.00 s (llamacpp 4.0x faster)"  # the first one left out
    assert rows["model load"].endswith("(llamacpp 5.0x faster)")
    assert rows["decode, all candidates (single-round answers)"] == "llamacpp 61.6 tokens/s, transformers 12.1 tokens/s (llamacpp 5.1x)"  # a rate: higher is better
    assert rows["peak RSS"] == "llamacpp 0.70 GiB, transformers 2.80 GiB (llamacpp 0.25x of transformers)"
    assert rows["torch imported"] == "llamacpp no, transformers yes"


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
@pytest.mark.skipif(not offline_gguf().exists(), reason="the offline GGUF model is not on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh)")
def test_the_command_answers_demo_questions_with_llamacpp_without_torch(pg_server, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(pg_server.data_dir))  # the command attaches to the test server
    try:
        result = CliRunner().invoke(main, ["bench", "--demo-questions", "--backends", "llamacpp", "--limit", "2", "--model", str(offline_gguf())])
    finally:
        with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DEMO_DBNAME} WITH (FORCE)")
    assert result.exit_code == 0, result.output
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in result.stdout.splitlines() if re.search(r"\S\s{2,}\S", line))
    for figure in ("model load", "first question", "per question p50", "per question p95", "time to first token p50", "peak RSS"):
        assert rows[figure].startswith("llamacpp ") and rows[figure].endswith((" s", " GiB")), (figure, rows[figure])
    assert rows["torch imported"] == "llamacpp no"


def test_two_setups_of_one_backend_compare_the_first_against_the_second():
    """`--backends llamacpp,llamacpp+batch`: greedy first against one batch of candidates."""
    setups = ("llamacpp", "llamacpp+batch")
    workers = {s: SimpleNamespace(load_s=0.5, ready_s=2.0) for s in setups}
    answers = {"llamacpp": [_answered(9.0, 3.0, 8.0), _answered(2.0, 0.2, 1.5), _answered(3.0, 0.4, 2.5)], "llamacpp+batch": [_answered(9.0, 3.0, 8.0), _answered(5.0, 0.2, 4.5), _answered(5.0, 0.4, 4.5)]}
    rows = dict(_report(workers, answers, {s: Finished(0.7, False) for s in setups}, 3).rows)
    assert rows["per question p50"] == "llamacpp 2.50 s, llamacpp+batch 5.00 s (llamacpp 2.0x faster)"
    assert rows["peak RSS"] == "llamacpp 0.70 GiB, llamacpp+batch 0.70 GiB (llamacpp 1.00x of llamacpp+batch)"
    answers["llamacpp"], answers["llamacpp+batch"] = answers["llamacpp+batch"], answers["llamacpp"]
    rows = dict(_report(workers, answers, {s: Finished(0.7, False) for s in setups}, 3).rows)
    assert rows["per question p50"] == "llamacpp 5.00 s, llamacpp+batch 2.50 s (llamacpp 2.0x slower)"  # it read "0.5x faster"


def test_an_unknown_backend_is_refused_before_anything_starts():
    result = CliRunner().invoke(main, ["bench", "--demo-questions", "--backends", "llamacpp,vllm"])
    assert result.exit_code == 2 and "vllm" in result.output
