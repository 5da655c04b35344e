"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's, on the
default CPU model (Qwen2.5-Coder-0.5B GGUF), which returns one choice per request."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from importlib.util import find_spec

import httpx
import pytest

from nl2sql_shell.llm.defaults import offline_gguf
from nl2sql_shell.llm.load import ModelLoadError, ModelSpec, load_model
from nl2sql_shell.llm.model import Generation
from nl2sql_shell.llm.openai_backend import ModelServerError, OpenAIModel
from nl2sql_shell.model_choice import resolve_spec


def _server_installed() -> bool:
    try:
        return find_spec("llama_cpp.server") is not None and find_spec("uvicorn") is not None and find_spec("fastapi") is not None
    except ImportError:
        return False


pytestmark = [
    pytest.mark.skipif(not _server_installed(), reason="llama-cpp-python's server is not installed (pip install 'llama-cpp-python[server]==0.3.36')"),
    pytest.mark.skipif(not offline_gguf().exists(), reason="the offline GGUF model is not on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh)"),
]

SYSTEM = {"role": "system", "content": "You write one PostgreSQL query in a ```sql block.\nCREATE TABLE t1 (id integer PRIMARY KEY, name text, amount numeric);"}


def _messages(question: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": question}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+")  # a pipe would fill and stop it
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(offline_gguf()), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-500:]}")
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 60 s")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def model(url):
    return load_model(resolve_spec(model_url=url, backend="auto"))


def test_auto_picks_openai_for_a_url_and_the_served_model_name_is_discovered(model, url):
    assert resolve_spec(model_url=url, backend="auto").backend == "openai"
    assert (model.backend, model.device, model.true_n, model.prefix_cache, model.grammar) == ("openai", url, False, False, True)
    assert model.name == str(offline_gguf())  # llama-cpp-python's server names it by its path
    prompt = model.chat_prompt(_messages("How many rows has t1?"))
    assert prompt.startswith(model.chat_prefix([SYSTEM])) and model.count_tokens(prompt) > 10


def test_n_candidates_are_filled_in_and_the_first_is_the_greedy_one(model):
    prompt = model.chat_prompt(_messages("How many rows has t1?"))
    [greedy] = model.generate(prompt, max_new_tokens=16)
    candidates = model.generate(prompt, max_new_tokens=16, n=3, temperature=1.0)
    assert len(candidates) == 3 and all(isinstance(c, Generation) for c in candidates)
    assert model.honours_n is False  # the server sent one choice, the backend asked for the rest
    assert candidates[0].text == greedy.text and greedy.text
    assert all(0 < c.new_tokens <= 16 and c.text for c in candidates)


def test_from_a_later_number_on_every_candidate_is_a_sample(model):
    """More candidates for the same prompt (first > 0): samples only, as many as asked."""
    prompt = model.chat_prompt(_messages("List the names in t2 with their amounts."))
    [greedy] = model.generate(prompt, max_new_tokens=16)
    rest = model.generate(prompt, max_new_tokens=16, n=3, temperature=1.5, first=1)
    assert len(rest) == 3 and all(c.text for c in rest)
    assert any(c.text != greedy.text for c in rest)  # at a high temperature, not three greedy copies


def test_stop_strings_cut_the_text_and_on_text_streams_it(model):
    prompt = model.chat_prompt(_messages("List the names in t1."))
    pieces: list[str] = []
    [answer] = model.generate(prompt, max_new_tokens=40, stop=["FROM"], on_text=pieces.append)
    assert answer.finish == "stop" and answer.text.endswith("FROM") and answer.text.count("FROM") == 1
    assert len(pieces) > 2 and "".join(pieces) == answer.text
    assert 0 < answer.seconds_to_first_token < answer.seconds_total


def test_the_grammar_reaches_the_server_and_keeps_names_after_a_dot_to_the_schema(model):
    """Told to copy a query with a column t1 lacks, the served model writes it; with the
    schema's grammar (sent as `grammar`, which llama-cpp-python's server reads) it cannot."""
    from nl2sql_shell.nl2sql.grammar import sql_grammar
    from nl2sql_shell.schema.model import Column, Table

    t1 = Table("public", "t1", columns=(Column("id", "integer"), Column("name", "text"), Column("amount", "numeric")))
    messages = [{"role": "system", "content": "You repeat the user's SQL query exactly."}, {"role": "user", "content": "Copy this query exactly, character by character: SELECT x.price_usd FROM t1 x;"}]
    prompt = model.chat_prompt(messages)
    [free] = model.generate(prompt, max_new_tokens=24, stop=[";"])
    [constrained] = model.generate(prompt, max_new_tokens=24, stop=[";"], grammar=sql_grammar([t1]))
    assert "x.price_usd" in free.text
    assert "x.price_usd" not in constrained.text and constrained.text.startswith("SELECT")  # greedy: the server kept to the grammar
    assert set(re.findall(r"(?<=\w)\.([A-Za-z_]\w*)", constrained.text)) <= {"id", "name", "amount", "t1", "public"}


def test_a_set_cancel_event_stops_reading(model):
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()

    prompt = model.chat_prompt(_messages("Write a long query that joins t1 with itself ten times."))
    [answer] = model.generate(prompt, max_new_tokens=200, on_text=on_text, cancel=cancel)
    assert answer.finish == "cancelled" and answer.new_tokens <= 4


def test_a_wrong_model_name_and_a_dead_url_are_one_clear_line(url):
    with pytest.raises(ModelLoadError, match="does not serve a model named 'no-such-model'; it serves: ") as wrong:
        load_model(ModelSpec(model="no-such-model", url=url, backend="openai"))
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(ModelLoadError, match=f"no model server at {dead}: cannot connect") as down:
        load_model(resolve_spec(model_url=dead, backend="auto"))
    with pytest.raises(ModelServerError, match=f"model server {dead}: cannot connect") as gone:
        OpenAIModel(client=httpx.Client(), base=dead, name="m", load_seconds=0.0).generate("hi", max_new_tokens=1)
    for error in (wrong, down, gone):
        assert "\n" not in str(error.value)


def test_the_commands_take_model_url():
    from click.testing import CliRunner

    from nl2sql_shell.cli import main

    for command in (["--help"], ["eval", "--help"], ["bench", "--help"]):
        assert "--model-url URL" in CliRunner().invoke(main, command).output


def test_the_library_entry_point_asks_a_served_model(url, fresh_db):
    """`nl2sql_shell.ask(..., model_url=...)`: the same pipeline as the shell, the SQL not run."""
    import psycopg

    from nl2sql_shell import ask
    from nl2sql_shell.nl2sql.pipeline import Options

    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, country text)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada', 'UK'), (2, 'Linus', 'FI')")
        answer = ask("How many customers are there?", conn, model_url=url, options=Options(candidates=2, max_repairs=0))
        assert answer.attempts and answer.prompt_tokens > 0  # the served model wrote the candidates
        assert answer.kind in ("read", "failed") and "customers" in (answer.sql or "").lower()
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 2


def test_an_eval_of_a_served_model_records_the_name_it_serves(url, pg_server, tmp_path):
    """summary.json says which model was measured: with --model-url alone, the server's."""
    import json

    suite = tmp_path / "suite"
    (suite / "dbs").mkdir(parents=True)
    (suite / "dbs" / "shopdb.sql").write_text("CREATE TABLE public.shop (id bigint NOT NULL, city text);\nINSERT INTO public.shop VALUES (1, 'Oslo');\n")
    (suite / "questions.csv").write_text("question,query,db_name,query_category,instructions\nHow many shops are there?,SELECT count(*) FROM shop;,shopdb,aggregation,\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "nl2sql_shell", "eval", str(suite), "--dsn", pg_server.conninfo("postgres"), "--model-url", url, "--no-idk", "--max-repairs", "0", "--candidates", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["model"], summary["backend"], summary["device"]) == (str(offline_gguf()), "openai", url)
