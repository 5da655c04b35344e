"""`eval` and `bench` end to end on the tiny test model (plumbing: seconds, not accuracy)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from scripted import Scripted
from tinymodel import build_tiny_model

SHOP_SQL = """
CREATE TABLE public.shop (id bigint NOT NULL, name text, city text);
INSERT INTO public.shop VALUES (1, 'Corner', 'Oslo'), (2, 'Deli', 'Rome');
"""
QUESTIONS = '''question,query,db_name,query_category,instructions
How many shops are there?,SELECT count(*) FROM shop;,shopdb,aggregation,
"Which {shop.name, shop.id} are in Oslo?","SELECT {shop.name, shop.id} FROM shop WHERE city = 'Oslo';",shopdb,where,
'''
IDK = '''question,instructions,query,db_name,query_category
Who painted the Mona Lisa?,"Return 'SELECT ''no'' AS answer;' if the data cannot answer.",SELECT 'no' AS answer;,shopdb,cat_a
'''


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    (root / "dbs").mkdir()
    (root / "dbs" / "shopdb.sql").write_text(SHOP_SQL)
    (root / "questions.csv").write_text(QUESTIONS)
    (root / "idk.csv").write_text(IDK)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("m") / "tiny", arch="qwen2"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nl2sql_shell", *args], capture_output=True, text=True, timeout=600)


def test_eval_scores_every_question_with_both_prompt_styles(suite, tiny, pg_server, tmp_path):
    out = tmp_path / "out"
    result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--prompt-style", "default,tutorial", "--max-repairs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "== prompt style: default ==" in result.stdout and "== prompt style: tutorial ==" in result.stdout
    assert "accuracy: " in result.stdout and "rightly refused (idk): " in result.stdout and "latency p50" in result.stdout
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 * 3
    assert {r["style"] for r in records} == {"default", "tutorial"}
    assert all(r["verdict"] in ("correct", "did not parse", "unknown table/column", "server error", "wrong result", "abstained", "no SQL", "refused", "no valid query", "answered") for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert [s["style"] for s in summary["styles"]] == ["default", "tutorial"]
    assert summary["styles"][0]["total"] == 2 and summary["styles"][0]["idk_total"] == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="making a link another user owns needs root")
@pytest.mark.parametrize("name", ["results.jsonl", "summary.json"])
def test_eval_never_writes_through_a_link_another_user_planted_in_out(suite, tiny, pg_server, tmp_path, name):
    """--out in a folder others can write (/tmp): root's eval wrote its results where a link
    another user had put there pointed (any file of root's), and left them readable."""
    shared, precious = tmp_path / "shared", tmp_path / "precious"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    precious.write_text("root's own file\n")
    (shared / name).symlink_to(precious)
    os.lchown(shared / name, 65534, 65534)
    result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--no-idk", "--max-repairs", "0", "--out", str(shared))
    assert result.returncode == 1 and result.stderr.splitlines()[-1] == f"Error: --out {shared}: {name} is a link another user made; not followed"
    assert precious.read_text() == "root's own file\n"
    (shared / name).unlink()
    previous = os.umask(0)
    try:
        assert _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--no-idk", "--max-repairs", "0", "--out", str(shared)).returncode == 0
    finally:
        os.umask(previous)
    assert {stat.S_IMODE((shared / f).stat().st_mode) for f in ("results.jsonl", "summary.json")} == {0o600}
    (tmp_path / "mine").mkdir()
    (shared / "out").symlink_to(tmp_path / "mine")  # the folder itself planted
    os.lchown(shared / "out", 65534, 65534)
    result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--no-idk", "--max-repairs", "0", "--out", str(shared / "out"))
    assert result.returncode == 1 and result.stderr.splitlines()[-1] == f"Error: --out {shared / 'out'}: a link another user made; not followed"
    assert list((tmp_path / "mine").iterdir()) == []
    (shared / name).write_text("")  # a plain file another user made, to read the results from
    os.chown(shared / name, 65534, 65534)
    os.chmod(shared / name, 0o666)
    result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--no-idk", "--max-repairs", "0", "--out", str(shared))
    assert result.returncode == 1 and result.stderr.splitlines()[-1] == f"Error: --out {shared}: {name} is a file another user made; not used"
    assert (shared / name).read_text() == ""


def test_eval_offset_picks_the_rest_of_an_every_nth_sample(suite, tiny, pg_server, tmp_path):
    """`--every 2` took question 0; `--offset 1` takes question 1, so two runs cover the suite."""
    out = tmp_path / "out"
    result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--prompt-style", "tutorial", "--no-idk", "--every", "2", "--offset", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == [1]
    summary = json.loads((out / "summary.json").read_text())  # (it named neither: two runs' summaries read the same)
    assert (summary["every"], summary["offset"], summary["no_idk"], summary["max_repairs"], summary["interrupted"]) == (2, 1, True, 2, False)


def test_eval_filters_and_reports_a_missing_model_in_one_line(suite, pg_server):
    result = _run("eval", str(suite), "--model", "/nowhere/model", "--dsn", pg_server.conninfo("postgres"))
    assert result.returncode == 1  # the suite's databases load first (progress lines), then the model: one error line
    assert [line for line in result.stderr.splitlines() if "rror" in line] == [result.stderr.strip().splitlines()[-1]] and "does not exist" in result.stderr
    nothing = _run("eval", str(suite), "--db", "nosuchdb")
    assert nothing.returncode == 1 and "no questions match" in nothing.stderr


def test_bench_prints_speed_figures(tiny):
    result = _run("bench", "--model", tiny, "--device", "cpu", "--new-tokens", "4", "--candidates", "2", "--repeats", "1", "--tutorial-baseline")
    assert result.returncode == 0, result.stderr
    for figure in ("model load", "small schema: time to first token, first question", "large schema: prompt tokens", "last quarter of the tables swapped", "2 candidates batched", "peak memory",
                   "one answer, tutorial's setup (text-generation pipeline, 8-bit, max_length=500, repetition_penalty=1.2): ", "one answer, ours (2 candidates"):
        assert figure in result.stdout
    assert "MatMul8bitLt" not in result.stderr
    large = int(next(line for line in result.stdout.splitlines() if line.startswith("large schema: prompt tokens")).split()[-1])
    assert large >= 2500


def test_a_question_that_crashes_the_pipeline_is_recorded_and_the_run_goes_on(suite, tiny, pg_server):
    """A multi-hour run must not die with one question: here the server has closed the
    connection before the schema is read, which raises inside the pipeline."""
    from nl2sql_shell.eval.runner import Runner, suite_server
    from nl2sql_shell.eval.suite import load_suite
    from nl2sql_shell.llm.load import ModelSpec, load_model
    from nl2sql_shell.nl2sql.pipeline import Asker, Options

    loaded = load_suite(suite)
    model = load_model(ModelSpec(model=tiny, device="cpu"))
    runner = Runner(loaded, model, server=suite_server(pg_server.conninfo("postgres")).with_role(), options=Options(max_repairs=0))
    runner.load_databases(lambda _: None)
    conn = psycopg.connect(runner.conninfos["shopdb"], autocommit=True)
    conn.close()
    record = runner._one(Asker(model, Options(max_repairs=0)), conn, "questions", loaded.questions[0], "default")
    assert record.verdict == "pipeline error" and not record.correct
    assert record.reason.startswith("OperationalError: ") and "\n" not in record.reason


def test_a_model_server_that_went_away_ends_the_run(tmp_path, pg_server):
    """The server stopped answering mid-run: every later question failed, and the run went on
    to report a near-zero accuracy as a finished result, exit code 0. Three failures in a row
    end it; one failure alone does not."""
    from nl2sql_shell.eval.runner import ModelServerGone, Runner, suite_server
    from nl2sql_shell.eval.suite import load_suite
    from nl2sql_shell.llm.openai_backend import ModelServerError
    from nl2sql_shell.nl2sql.pipeline import Options

    class Unreached(Scripted):
        def __init__(self, reachable: int) -> None:
            super().__init__(["SELECT 1"])
            self.reachable = reachable

        def generate(self, prompt, **options):
            self.reachable -= 1
            if self.reachable < 0:
                raise ModelServerError("model server http://127.0.0.1:9/v1: connection refused")
            return super().generate(prompt, **options)

    root = tmp_path / "suite"
    (root / "dbs").mkdir(parents=True)
    (root / "dbs" / "shopdb.sql").write_text(SHOP_SQL)
    (root / "questions.csv").write_text("question,query,db_name,query_category,instructions\n" + "".join(f"How many shops have id {i}?,SELECT count(*) FROM shop WHERE id = {i};,shopdb,where,\n" for i in range(6)))
    loaded = load_suite(root)
    runner = Runner(loaded, Unreached(1), server=suite_server(pg_server.conninfo("postgres")).with_role(), options=Options(candidates=1, max_repairs=0, words_retry=False))
    runner.load_databases(lambda _: None)
    seen: list = []
    with pytest.raises(ModelServerGone, match="connection refused"):
        runner.run("default", seen.append)
    assert [r.verdict for r in seen] == ["wrong result", "pipeline error", "pipeline error", "pipeline error"]


def test_a_second_eval_on_the_same_server_stops_before_touching_the_databases(suite, tiny, pg_server):
    """Loading re-creates the suite's databases: under a running eval that would drop them."""
    from nl2sql_shell.eval.runner import claim_server
    from nl2sql_shell.eval.suite import MADE_BY

    claim = claim_server(pg_server.conninfo("postgres"))
    try:
        with psycopg.connect(pg_server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS shopdb WITH (FORCE)")
            admin.execute("CREATE DATABASE shopdb")
            admin.execute(psycopg.sql.SQL("COMMENT ON DATABASE shopdb IS {}").format(MADE_BY))  # the running eval's own
        with psycopg.connect(pg_server.conninfo("shopdb"), autocommit=True) as conn:
            conn.execute("CREATE TABLE shop (id int); INSERT INTO shop VALUES (1)")
            result = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"))
            assert result.returncode == 1
            assert result.stderr.strip().count("\n") == 0 and "another eval is using this server" in result.stderr
            assert conn.execute("SELECT count(*) FROM shop").fetchone() == (1,)  # still connected, table still there
    finally:
        claim.close()
    after = _run("eval", str(suite), "--model", tiny, "--device", "cpu", "--dsn", pg_server.conninfo("postgres"), "--no-idk", "--limit", "1", "--prompt-style", "tutorial")
    assert after.returncode == 0, after.stderr  # the claim ends with its session


class _AnswersOnceThenThinks(http.server.BaseHTTPRequestHandler):
    """A model server that answers its first question at once and then thinks for a minute."""

    asked = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._send("application/json", json.dumps({"data": [{"id": "m"}]}).encode())

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).asked += 1
        if type(self).asked == 1:
            piece = {"choices": [{"index": 0, "delta": {"content": "SELECT count(*) FROM shop"}, "finish_reason": "stop"}]}
            self._send("text/event-stream", b"data: " + json.dumps(piece).encode() + b"\n\ndata: [DONE]\n\n")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for _ in range(120):
            try:
                self.wfile.write(b": thinking\n\n")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)

    def _send(self, kind: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_ctrl_c_reports_the_questions_answered_so_far(suite, pg_server, tmp_path):
    """Ctrl-C during a run printed click's "Aborted!" and exit 1: no figures of the questions
    already answered, and no summary.json beside their results."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AnswersOnceThenThinks)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "out"
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "nl2sql_shell", "eval", str(suite), "--model-url", f"http://127.0.0.1:{server.server_address[1]}/v1", "--dsn", pg_server.conninfo("postgres"), "--candidates", "1", "--max-repairs", "0", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 120
        while _AnswersOnceThenThinks.asked < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        assert _AnswersOnceThenThinks.asked == 2, run.communicate(timeout=60)
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        server.shutdown()
    assert run.returncode == 130 and "Aborted!" not in stderr and "Traceback" not in stderr, stderr
    assert "eval: interrupted after 1 of 3 questions of prompt style default" in stderr
    assert "accuracy: 1/1 = 100.0%" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["styles"][0]["correct"] == 1
