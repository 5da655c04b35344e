"""Which backend runs the model: `auto`, and the one-line errors of an impossible choice."""

from __future__ import annotations

import pytest

from nl2sql_shell.llm import load
from nl2sql_shell.llm.load import ModelLoadError, ModelSpec, load_model
from nl2sql_shell.llm.model import Model
from nl2sql_shell.llm.transformers_backend import LoadedModel
from nl2sql_shell.model_choice import resolve_spec


@pytest.fixture
def gguf(tmp_path, monkeypatch):
    """The default CPU model is the offline GGUF; here a stand-in file (nothing is loaded)."""
    monkeypatch.setenv("NL2SQL_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    path = tmp_path / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_auto_picks_llamacpp_for_the_default_gguf_when_llama_cpp_is_installed(gguf, monkeypatch):
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: True)
    spec = resolve_spec(backend="auto")
    assert (spec.model, spec.backend) == (str(gguf), "llamacpp")
    assert resolve_spec(model=str(gguf), backend="auto").backend == "llamacpp"


def test_auto_picks_transformers_for_what_only_transformers_does(gguf, monkeypatch):
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: True)
    assert resolve_spec(quantize="4bit", backend="auto").backend == "transformers"
    assert resolve_spec(adapter="/some/lora", backend="auto").backend == "transformers"
    assert resolve_spec(device="cuda", backend="auto").backend == "transformers"
    assert resolve_spec(model="Qwen/Qwen2.5-Coder-0.5B-Instruct", backend="auto").backend == "transformers"
    assert resolve_spec(quantize="none", backend="auto").backend == "llamacpp"


def test_auto_picks_transformers_without_llama_cpp_and_finetune_keeps_transformers(gguf, monkeypatch):
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: False)
    assert resolve_spec(backend="auto").backend == "transformers"
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: True)
    assert resolve_spec().backend == "transformers"  # callers that need the torch model say nothing


def test_an_impossible_llamacpp_choice_is_one_line_that_says_what_to_do(gguf, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: False)
    with pytest.raises(ModelLoadError, match=r"needs llama-cpp-python: pip install 'nl2sql-shell\[cpu\]'") as missing:
        load_model(ModelSpec(model=str(gguf), backend="llamacpp"))
    monkeypatch.setattr(load, "llama_cpp_installed", lambda: True)
    with pytest.raises(ModelLoadError, match="runs .gguf files only") as not_gguf:
        load_model(ModelSpec(model="Qwen/Qwen2.5-Coder-0.5B-Instruct", backend="llamacpp"))
    with pytest.raises(ModelLoadError, match="--backend transformers only") as quantized:
        load_model(ModelSpec(model=str(gguf), quantize="4bit", backend="llamacpp"))
    with pytest.raises(ModelLoadError, match="does not exist") as absent:
        load_model(ModelSpec(model=str(tmp_path / "absent.gguf"), backend="llamacpp"))
    for error in (missing, not_gguf, quantized, absent):
        assert "\n" not in str(error.value)


def test_both_backends_implement_the_model_interface():
    for flag in ("backend", "prefix_cache", "true_n", "grammar"):
        assert hasattr(LoadedModel, flag), flag
    for method in ("chat_prompt", "chat_prefix", "count_tokens", "generate", "logprob"):
        assert callable(getattr(LoadedModel, method)) and method in dir(Model)
    llamacpp = pytest.importorskip("nl2sql_shell.llm.llamacpp")
    for name in ("backend", "prefix_cache", "true_n", "grammar", "chat_prompt", "chat_prefix", "count_tokens", "generate", "logprob"):
        assert hasattr(llamacpp.LlamaCppModel, name), name


def test_the_commands_take_backend(gguf, monkeypatch):
    from click.testing import CliRunner

    from nl2sql_shell.cli import main

    for command in (["--help"], ["eval", "--help"], ["bench", "--help"]):
        assert "--backend [auto|transformers|llamacpp|openai]" in CliRunner().invoke(main, command).output
    result = CliRunner().invoke(main, ["bench", "--backend", "llamacpp", "--model", "Qwen/Qwen2.5-Coder-0.5B-Instruct"])
    assert result.exit_code != 0 and "runs .gguf files only" in result.output
