"""What `bench` reports as the time without a cache is a prefill of the whole prompt."""

from __future__ import annotations

import pytest
from tinymodel import build_tiny_gguf

from nl2sql_shell.bench.speed import question_prompt, uncached_prompt
from nl2sql_shell.llm.load import ModelSpec, llama_cpp_installed, load_model


@pytest.mark.skipif(not llama_cpp_installed(), reason="llama-cpp-python is not installed")
def test_the_no_cache_prompt_reuses_nothing_llama_cpp_kept(tmp_path):
    """llama.cpp keeps what its context holds: the repeated prompt, run with no prefix to
    keep, came from that cache, and bench's "no cache" was the cached time."""
    model = load_model(ModelSpec(model=str(build_tiny_gguf(tmp_path / "tiny.gguf", for_llama_cpp=True)), backend="llamacpp"))
    prompt, _ = question_prompt(model, "CREATE TABLE t (id int, name text);")
    model.generate(prompt, max_new_tokens=2)
    [again] = model.generate(prompt, max_new_tokens=2)
    [uncached] = model.generate(uncached_prompt(prompt), max_new_tokens=2)
    assert again.cached_tokens > 0 and uncached.cached_tokens == 0
    assert uncached.prompt_tokens > again.prompt_tokens
