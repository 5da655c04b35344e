"""eval records which correction rules fired per question and whether each helped or hurt
against the query as the model wrote it; `--rules` names rules, and a wrong name is one line."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from scripted import Scripted

from nl2sql_shell.cli import main
from nl2sql_shell.eval.runner import Record, Runner, report, suite_server, summarize
from nl2sql_shell.eval.suite import load_suite
from nl2sql_shell.nl2sql.pipeline import Options
from nl2sql_shell.nl2sql.rules import RULES

MSG_SQL = """
CREATE TABLE public.msg (id int PRIMARY KEY, body text, sent_epoch bigint);
INSERT INTO public.msg VALUES (1, 'hi', 1704164645), (2, 'yo', 1672531200), (3, 'ok', 1717200000);
"""
QUESTIONS = '''question,query,db_name,query_category,instructions
How many messages were sent in 2024?,SELECT count(*) FROM msg WHERE EXTRACT(YEAR FROM to_timestamp(sent_epoch)) = 2024;,rulestatsdb,date,
'''


def _record(index: int, correct: bool, rules: list[str], uncorrected: bool | None) -> Record:
    return Record("default", "questions", index, "db", "cat", "q", "SELECT 1", "correct" if correct else "wrong result", correct, "", 1.0, 0.1, 10, 5, 1, rules, uncorrected)


def test_each_rule_counts_what_it_fired_helped_and_hurt() -> None:
    records = [
        _record(0, True, ["epoch_seconds"], False),  # helped: the query as written failed
        _record(1, False, ["epoch_seconds", "sort_keys"], True),  # hurt both
        _record(2, True, ["sort_keys"], True),  # fired, neither
        _record(3, True, [], None),
    ]
    summary = summarize("default", records)
    assert summary.rules == {"epoch_seconds": [2, 1, 1], "sort_keys": [2, 0, 1]}
    out = io.StringIO()
    report([summary], 1.0, out=out)
    assert "corrections fired/helped/hurt (against the query as written): epoch_seconds 2/1/1, sort_keys 2/0/1\n" in out.getvalue()


def test_a_repair_that_makes_a_question_right_is_recorded_as_helping(pg_server, tmp_path: Path) -> None:
    (tmp_path / "dbs").mkdir()
    (tmp_path / "dbs" / "rulestatsdb.sql").write_text(MSG_SQL)
    (tmp_path / "questions.csv").write_text(QUESTIONS)
    suite = load_suite(tmp_path)
    model = Scripted(["SELECT count(*) FROM msg WHERE EXTRACT(YEAR FROM sent_epoch) = 2024"])
    runner = Runner(suite, model, server=suite_server(pg_server.conninfo("postgres")).with_role(), options=Options(candidates=1, max_repairs=0))
    runner.load_databases(lambda _: None)
    (record,) = runner.run("default", lambda _: None)
    assert record.correct and record.rules == ["epoch_seconds"] and record.uncorrected_correct is False
    assert record.proven is True  # plain built-ins on a plain table: it would run on Enter
    summary = summarize("default", [record])
    assert summary.rules == {"epoch_seconds": [1, 1, 0]} and summary.proven == [1, 1]
    out = io.StringIO()
    report([summary], 1.0, out=out)
    assert "answers proven harmless (run on Enter): 1/1\n" in out.getvalue()
    # switched off by name: the query stays as written, and fails
    off = Runner(suite, model, server=runner.server, options=Options(candidates=1, max_repairs=0, rules=frozenset()))
    off.conninfos = runner.conninfos
    (record,) = off.run("default", lambda _: None)
    assert not record.correct and record.rules == [] and record.uncorrected_correct is None


def test_an_unknown_rule_name_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    for args in (["eval", str(tmp_path), "--rules", "+sort_keys,-nosuch"], ["--rules", "nosuch", "-c", "SELECT 1"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        assert [line for line in result.output.splitlines() if "nosuch" in line] == [
            "Error: Invalid value for '--rules': unknown rule 'nosuch'; the rules are: " + ", ".join(r.name for r in RULES)
        ]
    config = tmp_path / "config.toml"
    config.write_text('rules = ["+sort_keys", "+nosuch"]\n')
    monkeypatch.setenv("NL2SQL_SHELL_CONFIG", str(config))
    result = CliRunner().invoke(main, ["-c", "SELECT 1", "-h", "/nonexistent"])
    assert result.exit_code == 1
    assert f"nl2sql-shell: {config}: rules: unknown rule 'nosuch'" in result.output  # the file named, as for its other errors
    monkeypatch.setenv("NL2SQL_SHELL_CONFIG", str(tmp_path / "config.tom"))  # a typo in the name: the default model was used, silently
    result = CliRunner().invoke(main, ["-c", "SELECT 1", "-h", "/nonexistent"])
    assert result.exit_code == 1 and result.output.splitlines() == [f"nl2sql-shell: {tmp_path / 'config.tom'}: no such file (NL2SQL_SHELL_CONFIG names it)"]


def test_unanswerable_questions_report_refusals_apart_from_no_valid_query() -> None:
    """A question with no answer in the database: only a refusal counts as right; a question
    the pipeline found no valid query for (nothing to run) is counted apart from answers."""
    idk = [Record("default", "idk", i, "db", "idk", "q", sql, verdict, verdict == "refused", "", 1.0, 0.1, 10, 5, 1, [], None)
           for i, (sql, verdict) in enumerate([("SELECT 'no' AS answer", "refused"), ("SELECT nosuch FROM t", "no valid query"), ("SELECT 1", "answered"), ("SELECT 2", "answered")])]
    out = io.StringIO()
    report([summarize("default", idk)], 1.0, out=out)
    assert "rightly refused (idk): 1/4 = 25.0% (no valid query, nothing to run: 1; answered: 2)\n" in out.getvalue()
