"""The llama.cpp backend on the real default CPU model (Qwen2.5-Coder-0.5B, GGUF Q4_K_M)."""

from __future__ import annotations

import threading
import time

import pytest

import nl2sql_shell.llm.llamacpp  # noqa: F401 - sets llama.cpp's threads up before llama_cpp loads

pytest.importorskip("llama_cpp")

from nl2sql_shell.llm.defaults import offline_gguf  # noqa: E402
from nl2sql_shell.llm.load import ModelSpec, load_model  # noqa: E402
from nl2sql_shell.llm.model import Generation, Model  # noqa: E402

pytestmark = pytest.mark.skipif(not offline_gguf().exists(), reason="the offline GGUF model is not on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh)")

SCHEMA = "\n".join(
    f"CREATE TABLE t{i} (id integer PRIMARY KEY, name text, amount numeric, created_at timestamp, t{i - 1}_id integer);"
    for i in range(1, 13)
)
SYSTEM = {"role": "system", "content": "You write one PostgreSQL query in a ```sql block for the question.\n" + SCHEMA}


def _messages(question: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": question}]


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(ModelSpec(model=str(offline_gguf()), backend="llamacpp"))


def test_it_is_the_llamacpp_backend_with_the_gguf_chat_template(model):
    assert (model.backend, model.device, model.true_n, model.prefix_cache) == ("llamacpp", "cpu", True, True)
    prompt = model.chat_prompt(_messages("How many rows has t1?"))
    assert prompt.startswith(model.chat_prefix([SYSTEM]))
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert model.count_tokens("<|im_start|>") == 1  # special tokens are read as such


def test_n_candidates_the_first_of_which_is_the_greedy_one(model):
    prompt = model.chat_prompt(_messages("How many rows has t1?"))
    [greedy] = model.generate(prompt, max_new_tokens=16)
    candidates = model.generate(prompt, max_new_tokens=16, n=4, temperature=1.0)
    assert len(candidates) == 4 and all(isinstance(c, Generation) for c in candidates)
    assert candidates[0].text == greedy.text and greedy.text
    assert all(c.prompt_tokens == model.count_tokens(prompt) for c in candidates)
    assert all(0 < c.new_tokens <= 16 for c in candidates)
    assert len({c.text for c in model.generate(prompt, max_new_tokens=16, n=4, temperature=1.5)}) > 1  # samples differ
    again = model.generate(prompt, max_new_tokens=16, n=4, temperature=1.0)
    assert [c.text for c in again] == [c.text for c in candidates]  # the same prompt, the same candidates: evals repeat


def test_candidates_are_numbered_so_more_can_be_asked_for_later(model):
    """More candidates for an open question (Options.more_candidates) are the next numbers:
    sequences 2 and 3 asked for alone are samples 2 and 3 of a batch of 4."""
    prompt = model.chat_prompt(_messages("Total amount per name in t2?"))
    together = model.generate(prompt, max_new_tokens=24, n=4, temperature=1.0)
    first, rest = model.generate(prompt, max_new_tokens=24, n=2, temperature=1.0), model.generate(prompt, max_new_tokens=24, n=2, temperature=1.0, first=2)
    assert [c.text for c in first + rest] == [c.text for c in together]
    assert rest[0].text != first[0].text or rest[1].text != first[1].text  # no greedy one among them


def test_more_candidates_than_one_batch_holds_come_in_rounds(model):
    """More than MAX_SEQUENCES (8) candidates for one prompt: a second round of sequences on the
    same prompt cache, numbered on from the first (`eval --candidates 16`)."""
    from nl2sql_shell.llm.llamacpp import MAX_SEQUENCES

    prompt = model.chat_prompt(_messages("Total amount per name in t4?"))
    many = model.generate(prompt, max_new_tokens=12, n=MAX_SEQUENCES + 3, temperature=1.0, first=1)
    assert len(many) == MAX_SEQUENCES + 3 and all(c.new_tokens > 0 for c in many)
    assert len({c.text for c in many}) > 2
    [greedy] = model.generate(prompt, max_new_tokens=12)  # and the cache serves the next call as ever
    assert greedy.text and greedy.cached_tokens > 0


def test_stop_strings_cut_the_text_and_on_text_streams_it(model):
    prompt = model.chat_prompt(_messages("List the names in t3."))
    pieces: list[str] = []
    [answer] = model.generate(prompt, max_new_tokens=40, stop=["FROM"], on_text=pieces.append)
    assert answer.finish == "stop" and answer.text.endswith("FROM") and answer.text.count("FROM") == 1
    assert len(pieces) > 2 and "".join(pieces) == answer.text
    assert 0 < answer.seconds_to_first_token < answer.seconds_total


def test_a_set_cancel_event_stops_generation_early(model):
    prompt = model.chat_prompt(_messages("Write a long query joining every table t1 to t12."))
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.set()

    started = time.perf_counter()
    results = model.generate(prompt, max_new_tokens=300, n=2, temperature=0.7, on_text=on_text, cancel=cancel)
    assert time.perf_counter() - started < 10
    assert [r.finish for r in results] == ["cancelled", "cancelled"]
    assert all(r.new_tokens <= 4 for r in results)  # the candidates are decoded together: all stop


def test_the_schema_prefix_is_kept_for_the_next_question(model):
    prefix = model.chat_prefix([SYSTEM])
    first = model.chat_prompt(_messages("What is the largest amount in t7?"))
    other = [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Hi?"}]
    model.generate(model.chat_prompt(other), max_new_tokens=1)  # the context no longer holds the schema
    # CPU seconds of this process (llama.cpp's threads included): what the cache saves, and
    # unlike wall time not doubled when another process shares the cores.
    started = time.process_time()
    [cold] = model.generate(first, max_new_tokens=1, prefix=prefix)
    cold_s = time.process_time() - started
    model.generate(model.chat_prompt(other), max_new_tokens=1)  # nor now: only the kept prefix can help
    started = time.process_time()
    [warm] = model.generate(model.chat_prompt(_messages("How many rows has t9?")), max_new_tokens=1, prefix=prefix)
    warm_s = time.process_time() - started
    assert cold.cached_tokens < 20 and warm.cached_tokens >= model.count_tokens(prefix)
    assert warm_s < cold_s / 2
    [again] = model.generate(first, max_new_tokens=8, prefix=prefix)
    [plain] = model.generate(first, max_new_tokens=8)
    assert again.text == plain.text  # the cache changes the cost, not the answer


def test_logprob_is_the_likelihood_of_a_given_answer_and_leaves_the_cache_usable(model):
    """The refusal by doubt (Asker._doubt) reads this before the candidates are written: the
    model's greedy start is likelier than its refusal, the prefix cache changes nothing, and
    the greedy answer afterwards is the one before."""
    prompt, prefix = model.chat_prompt(_messages("How many rows has t1?")), model.chat_prefix([SYSTEM])
    [greedy] = model.generate(prompt, max_new_tokens=4, prefix=prefix)
    likely = model.logprob(prompt, greedy.text, prefix=prefix)
    assert -5 < likely <= 0
    assert model.logprob(prompt, "SELECT 'I cannot", prefix=prefix) < likely
    assert model.logprob(prompt, greedy.text) == pytest.approx(likely, abs=0.05)
    assert model.generate(prompt, max_new_tokens=4, prefix=prefix)[0].text == greedy.text


def test_a_grammar_constrains_the_output(model):
    prompt = model.chat_prompt(_messages("Is t1 empty? Answer yes or no."))
    [answer] = model.generate(prompt, max_new_tokens=8, grammar='root ::= "yes" | "no"')
    assert answer.text in ("yes", "no")


def test_the_default_cpu_model_answers_without_torch():
    """On a machine without a GPU the default path never imports torch (about 300 MB, a second)."""
    import subprocess
    import sys
    from pathlib import Path

    from nl2sql_shell.llm.defaults import NVIDIA_DRIVER

    if Path(NVIDIA_DRIVER).exists():
        pytest.skip("an NVIDIA driver is loaded: the default asks torch for CUDA")
    script = (
        "import sys\n"
        "from nl2sql_shell.model_choice import resolve_spec\n"
        "from nl2sql_shell.llm.load import load_model\n"
        "model = load_model(resolve_spec(backend='auto'))\n"
        "assert model.generate(model.chat_prompt([{'role': 'user', 'content': 'SELECT 1?'}]), max_new_tokens=4)[0].new_tokens\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


LOAD_WHILE_PRINTING = """
import os, sys, threading
from nl2sql_shell.llm.load import ModelSpec, load_model
loaded = threading.Event()
threading.Thread(target=lambda: (load_model(ModelSpec(model=sys.argv[1], backend="llamacpp")), loaded.set())).start()
written = 0
while not loaded.wait(0.002):
    written += 1
    os.write(1, b"result line\\n")
    os.write(2, b"error line\\n")
print(written, flush=True)
"""


def test_what_the_shell_prints_while_the_model_loads_reaches_the_terminal():
    """The shell loads the model in a thread while the person works: llama-cpp-python pointed
    the process's descriptors 1 and 2 at /dev/null for the load, so results, errors and the
    prompt printed in those seconds vanished. Nothing from llama.cpp shows meanwhile either."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", LOAD_WHILE_PRINTING, str(offline_gguf())], capture_output=True, timeout=300)
    *lines, count = done.stdout.decode().splitlines()
    assert int(count) > 0
    assert lines == ["result line"] * int(count)
    assert done.stderr.decode().splitlines() == ["error line"] * int(count)
