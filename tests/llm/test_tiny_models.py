"""The test models themselves, and the GGUF path through a GGUF file written here."""

from __future__ import annotations

import os
import time

from tinymodel import build_tiny_gguf, build_tiny_model, train_tiny_model

from nl2sql_shell.llm.load import ModelSpec, load_model

SCHEMA = "\n".join(f"CREATE TABLE t{i} (id integer PRIMARY KEY, name text, amount_{i} numeric);" for i in range(45))
QUESTIONS = [
    ("how many authors are there?", "SELECT count(*) FROM author;"),
    ("list the names of all journals", "SELECT name FROM journal;"),
    ("which paper has the most citations?", "SELECT title FROM publication ORDER BY citation_num DESC LIMIT 1;"),
]


def test_trained_model_answers_each_long_prompt_exactly(tmp_path):
    chat = load_model(ModelSpec(model=str(build_tiny_model(tmp_path / "template")), device="cpu"))
    system = [{"role": "system", "content": "You write PostgreSQL.\n" + SCHEMA}]
    prompts = [chat.chat_prompt(system + [{"role": "user", "content": q}]) for q, _ in QUESTIONS]
    assert all(len(p) > 3000 for p in prompts)
    pairs = [(prompt, answer) for prompt, (_, answer) in zip(prompts, QUESTIONS)]

    path = train_tiny_model(tmp_path / "trained", pairs)
    model = load_model(ModelSpec(model=str(path), device="cpu"))
    prefix = model.chat_prefix(system)
    for prompt, answer in pairs:
        [plain] = model.generate(prompt, max_new_tokens=100)
        [cached] = model.generate(prompt, max_new_tokens=100, prefix=prefix)
        assert (plain.text, plain.finish) == (cached.text, cached.finish) == (answer, "eos")

    started = time.monotonic()
    again = train_tiny_model(tmp_path / "again", pairs)
    assert time.monotonic() - started < 5  # taken from the on-disk cache, not trained again
    assert (again / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes()


def test_gguf_file_is_converted_once_and_reconverted_when_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("NL2SQL_SHELL_CACHE", str(tmp_path / "cache"))
    gguf = build_tiny_gguf(tmp_path / "tiny.gguf")
    reference = load_model(ModelSpec(model=str(build_tiny_model(tmp_path / "src", arch="qwen2")), device="cpu"))
    prompt = reference.chat_prompt([{"role": "user", "content": "how many rows?"}])
    expected = reference.generate(prompt, max_new_tokens=12)[0].text

    def load() -> tuple[str, list[str]]:
        messages: list[str] = []
        model = load_model(ModelSpec(model=str(gguf), device="cpu"), progress=messages.append)
        return model.generate(prompt, max_new_tokens=12)[0].text, messages

    first, messages = load()
    assert first == expected and any("converting" in m for m in messages)
    [converted] = (tmp_path / "cache" / "converted").iterdir()
    assert converted.name.startswith("tiny-") and any(converted.glob("*.safetensors"))

    second, messages = load()
    assert second == expected and not any("converting" in m for m in messages)

    os.utime(gguf, ns=(time.time_ns(), time.time_ns() + 10**9))  # the file was replaced
    third, messages = load()
    assert third == expected and any("converting" in m for m in messages)
    assert len(list((tmp_path / "cache" / "converted").iterdir())) == 2


def test_a_gguf_conversion_draws_no_progress_bars(tmp_path):
    """The conversion's progress bars (tqdm's, on standard error) were drawn over the shell's
    prompt and the line being typed: only the load after it had them switched off."""
    import subprocess
    import sys

    gguf = build_tiny_gguf(tmp_path / "tiny.gguf")
    script = "import sys; from nl2sql_shell.llm.load import ModelSpec, load_model; load_model(ModelSpec(model=sys.argv[1], device='cpu'))"
    done = subprocess.run([sys.executable, "-c", script, str(gguf)], capture_output=True, text=True, timeout=300, env={**os.environ, "NL2SQL_SHELL_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert "it/s]" not in done.stderr and "%|" not in done.stderr, done.stderr[-500:]
