"""A peft LoRA adapter runs in llama.cpp once converted, with the logits peft computes.

A tiny qwen2 model is written twice with the same weights (a transformers folder and an F32
GGUF); a random adapter (peft's init_lora_weights=False: B is not zero) moves the logits
thousands of times more than the two runtimes differ.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

pytest.importorskip("llama_cpp")
pytest.importorskip("peft")

from peft import LoraConfig, get_peft_model
from tinymodel import build_tiny_gguf, build_tiny_model
from transformers import AutoModelForCausalLM

from nl2sql_shell.llm.gguf_lora import gguf_adapter, llamacpp_can_run
from nl2sql_shell.llm.load import ModelLoadError, ModelSpec, choose_backend, load_model

TOKENS = list(range(3, 60))
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_model(root / "hf", arch="qwen2"), build_tiny_gguf(root / "tiny.gguf", for_llama_cpp=True)


def _logits_in_llama_cpp(gguf, lora=None) -> np.ndarray:
    from llama_cpp import Llama

    llama = Llama(model_path=str(gguf), lora_path=lora and str(lora), n_ctx=256, logits_all=True, verbose=False)
    llama.eval(TOKENS)
    return np.array(llama.scores[: len(TOKENS)])


def _random_adapter(hf, folder, **settings):
    """A LoRA on every projection with random A and B; returns its logits under peft."""
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(target_modules=TARGETS, init_lora_weights=False, **settings))
    with torch.no_grad():
        logits = model(torch.tensor([TOKENS])).logits[0].numpy()
    model.save_pretrained(str(folder))
    return logits


@pytest.mark.parametrize("settings", [{"r": 4, "lora_alpha": 8}, {"r": 8, "lora_alpha": 4, "use_rslora": True}], ids=["lora", "rslora"])
def test_llama_cpp_with_the_converted_adapter_computes_peft_logits(models, tmp_path, settings):
    hf, gguf = models
    expected = _random_adapter(hf, tmp_path / "adapter", **settings)
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32)(torch.tensor([TOKENS])).logits[0].numpy()
    runtime_gap = np.abs(_logits_in_llama_cpp(gguf) - plain).max()
    adapter_effect = np.abs(expected - plain).max()
    assert adapter_effect > 100 * max(runtime_gap, 1e-4)

    lora = gguf_adapter(tmp_path / "adapter", gguf, tmp_path / "cache")
    got = _logits_in_llama_cpp(gguf, lora)
    assert np.abs(got - expected).max() < 10 * max(runtime_gap, 1e-4)
    assert gguf_adapter(tmp_path / "adapter", gguf, tmp_path / "cache") == lora  # converted once


def test_auto_runs_a_gguf_model_with_an_adapter_in_llama_cpp_quietly(models, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("NL2SQL_SHELL_CACHE", str(tmp_path / "cache"))
    logging.getLogger("llama-cpp-python").setLevel(logging.NOTSET)  # as in a new process
    hf, gguf = models
    _random_adapter(hf, tmp_path / "adapter", r=4, lora_alpha=8)
    spec = ModelSpec(model=str(gguf), adapter=str(tmp_path / "adapter"), backend="auto")
    assert choose_backend(spec) == "llamacpp"
    model = load_model(spec)
    assert model.backend == "llamacpp"
    assert model.llama.lora_path.startswith(str(tmp_path / "cache"))
    capfd.readouterr()
    for loaded in (model, load_model(ModelSpec(model=str(gguf), backend="llamacpp"))):
        loaded.generate(loaded.chat_prompt([{"role": "user", "content": "hi"}]), max_new_tokens=3)
    assert capfd.readouterr().err == ""  # nothing from llama.cpp's log over the prompt


def test_an_adapter_llama_cpp_cannot_run_stays_on_transformers_or_is_one_line(models, tmp_path):
    hf, gguf = models
    _random_adapter(hf, tmp_path / "dora", r=4, lora_alpha=8, use_dora=True)
    assert not llamacpp_can_run(tmp_path / "dora")
    assert choose_backend(ModelSpec(model=str(gguf), adapter=str(tmp_path / "dora"), backend="auto")) == "transformers"
    with pytest.raises(ModelLoadError) as error:
        load_model(ModelSpec(model=str(gguf), adapter=str(tmp_path / "dora"), backend="llamacpp"))
    assert str(error.value) == "llama.cpp cannot run this adapter (DoRA): use --backend transformers"

    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="is not a LoRA adapter folder"):
        load_model(ModelSpec(model=str(gguf), adapter=str(tmp_path / "empty"), backend="llamacpp"))
    said: list[str] = []  # with transformers the GGUF was converted first (a minute for a real model), then refused
    with pytest.raises(ModelLoadError, match="is not a LoRA adapter folder"):
        load_model(ModelSpec(model=str(gguf), adapter=str(tmp_path / "missing"), backend="transformers"), progress=said.append)
    assert said == []


def test_an_adapter_for_a_deeper_model_is_one_line(models, tmp_path):
    from safetensors.torch import load_file, save_file

    hf, gguf = models
    _random_adapter(hf, tmp_path / "adapter", r=4, lora_alpha=8)
    weights_file = str(tmp_path / "adapter" / "adapter_model.safetensors")
    weights = load_file(weights_file)
    save_file({key.replace("layers.1.", "layers.7."): value for key, value in weights.items()}, weights_file)
    with pytest.raises(ModelLoadError) as error:
        load_model(ModelSpec(model=str(gguf), adapter=str(tmp_path / "adapter"), backend="llamacpp"))
    assert str(error.value).startswith("no llama.cpp tensor matches model.layers.7.")
