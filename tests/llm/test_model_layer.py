"""The model layer on real (tiny, random-weight) transformers models, on CPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
from tinymodel import build_tiny_model

from nl2sql_shell.llm.defaults import CPU_GGUF, CPU_MODEL, default_model_spec, offline_gguf
from nl2sql_shell.llm.load import ModelLoadError, ModelSpec, load_model

MESSAGES = [
    {"role": "system", "content": "You write PostgreSQL. Schema: CREATE TABLE t (a int, b text);"},
    {"role": "user", "content": "Question: how many rows?"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_tiny_model(root / arch, arch=arch) for arch in ("llama", "mistral", "phi3", "qwen2")}


@pytest.mark.parametrize("arch", ["llama", "mistral", "phi3", "qwen2"])
def test_each_architecture_loads_and_generates(tiny, arch):
    model = load_model(ModelSpec(model=str(tiny[arch]), device="cpu"))
    prompt = model.chat_prompt(MESSAGES)
    assert prompt.startswith(model.chat_prefix(MESSAGES[:1]))
    [generation] = model.generate(prompt, max_new_tokens=12)
    assert generation.new_tokens <= 12
    assert generation.prompt_tokens == model.count_tokens(prompt)
    assert generation.seconds_to_first_token <= generation.seconds_total


def test_prefix_cache_gives_the_same_greedy_output_and_skips_the_prefill(tiny):
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    prompt, prefix = model.chat_prompt(MESSAGES), model.chat_prefix(MESSAGES[:1])
    [plain] = model.generate(prompt, max_new_tokens=16)
    [cold] = model.generate(prompt, max_new_tokens=16, prefix=prefix)
    [warm] = model.generate(prompt, max_new_tokens=16, prefix=prefix)
    assert plain.text == cold.text == warm.text
    assert plain.cached_tokens == 0 and warm.cached_tokens == model.count_tokens(prefix)
    samples = model.generate(prompt, max_new_tokens=8, n=4, temperature=0.9, prefix=prefix)
    assert len(samples) == 4 and all(s.cached_tokens for s in samples)


def test_a_new_prefix_prefills_only_what_it_does_not_share_with_a_cached_one(tiny):
    """The next question on a big schema gets another table selection with the same head."""
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    prefilled: list[int] = []
    model.model.get_input_embeddings().register_forward_hook(lambda _m, args, _out: prefilled.append(args[0].shape[-1]))
    head = "You write PostgreSQL. Schema: CREATE TABLE orders (id int, customer_id int, total numeric);"
    first = [{"role": "system", "content": head + " CREATE TABLE t (a int);"}, MESSAGES[1]]
    second = [{"role": "system", "content": head + " CREATE TABLE customers (id int, name text);"}, MESSAGES[1]]
    model.generate(model.chat_prompt(first), max_new_tokens=4, prefix=model.chat_prefix(first[:1]))
    prefilled.clear()
    [cached] = model.generate(model.chat_prompt(second), max_new_tokens=4, prefix=model.chat_prefix(second[:1]))
    [plain] = model.generate(model.chat_prompt(second), max_new_tokens=4)
    assert cached.text == plain.text
    prefix_tokens = model.count_tokens(model.chat_prefix(second[:1]))
    shared = model.count_tokens(model.chat_prefix([{"role": "system", "content": head}])) - 2  # the head, less its end-of-turn tokens
    assert prefilled[0] <= prefix_tokens - shared  # the cached head was not computed again


def test_logprob_is_the_likelihood_of_a_given_answer_with_or_without_the_prefix(tiny):
    """What the refusal by doubt reads (Asker._doubt): the greedy answer is the likeliest text
    of its length, and the prefix cache changes nothing."""
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    prompt, prefix = model.chat_prompt(MESSAGES), model.chat_prefix(MESSAGES[:1])
    [greedy] = model.generate(prompt, max_new_tokens=3)
    likely = model.logprob(prompt, greedy.text)
    assert likely <= 0 and likely == pytest.approx(model.logprob(prompt, greedy.text, prefix=prefix), abs=1e-4)
    ids = model.tokenizer(greedy.text, add_special_tokens=False).input_ids
    other = model.tokenizer.decode([(ids[0] + 1) % model.tokenizer.vocab_size, *ids[1:]])
    assert model.logprob(prompt, other) < likely
    assert model.generate(prompt, max_new_tokens=3, prefix=prefix)[0].text == greedy.text


def test_generate_after_logprob_prefills_nothing_again(tiny):
    """The pipeline reads the model's doubt, then writes from the same prompt: the prompt's
    cache from logprob serves the generation, and the answer is the same."""
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    prompt, prefix = model.chat_prompt(MESSAGES), model.chat_prefix(MESSAGES[:1])
    [alone, _] = model.generate(prompt, max_new_tokens=3, n=2, temperature=0.9, prefix=prefix)
    model.logprob(prompt, "SELECT", prefix=prefix)
    shapes: list[tuple[int, ...]] = []
    hook = model.model.get_input_embeddings().register_forward_hook(lambda _m, args, _out: shapes.append(tuple(args[0].shape)))
    [after, _] = model.generate(prompt, max_new_tokens=3, n=2, temperature=0.9, prefix=prefix)
    hook.remove()
    assert after.text == alone.text and after.cached_tokens == model.count_tokens(prompt) - 1
    assert all(shape[1] == 1 for shape in shapes)  # one token per candidate and step: no prompt prefilled
    model.logprob(prompt, "SELECT")
    assert model.generate(model.chat_prompt(MESSAGES[:1] + [{"role": "user", "content": "another"}]), max_new_tokens=2)[0].cached_tokens == 0  # another prompt: computed afresh


def test_of_several_sequences_the_first_is_the_greedy_one(tiny):
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    prompt = model.chat_prompt(MESSAGES)
    [greedy] = model.generate(prompt, max_new_tokens=16)
    torch.manual_seed(0)
    batch = model.generate(prompt, max_new_tokens=16, n=4, temperature=5.0)
    assert batch[0].text == greedy.text
    assert any(b.text != greedy.text for b in batch[1:])  # at temperature 5 the samples differ


def test_candidates_share_one_prefill_of_the_prompt(tiny):
    """Four candidates cost one prompt prefill: its cache is copied, not computed per row."""
    model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu"))
    shapes: list[tuple[int, ...]] = []
    model.model.get_input_embeddings().register_forward_hook(lambda _m, args, _out: shapes.append(tuple(args[0].shape)))
    prompt = model.chat_prompt(MESSAGES)
    model.generate(prompt, max_new_tokens=4, n=4, temperature=0.9)
    assert shapes[0] == (1, model.count_tokens(prompt) - 1)  # the prompt, once
    assert all(shape == (4, 1) for shape in shapes[1:])  # then one token per candidate and step


def test_stop_strings_end_the_text(tiny):
    model = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    prompt = model.chat_prompt(MESSAGES)
    [free] = model.generate(prompt, max_new_tokens=40)
    if len(free.text) < 4:
        pytest.skip("the random model ended at once")
    stop = free.text[2:4]
    pieces: list[str] = []
    [stopped] = model.generate(prompt, max_new_tokens=40, stop=(stop,), on_text=pieces.append)
    assert stopped.finish == "stop"
    assert stopped.text.endswith(stop) and len(stopped.text) <= free.text.index(stop) + len(stop)
    assert "".join(pieces) == stopped.text  # the stream shows nothing past the stop string either


def test_cancel_event_stops_generation_promptly(tiny):
    model = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    [generation] = model.generate(model.chat_prompt(MESSAGES), max_new_tokens=100_000, cancel=cancel)
    assert generation.finish == "cancelled"
    assert time.monotonic() - started < 5


def test_streaming_sends_the_text_as_it_grows(tiny):
    model = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    pieces: list[str] = []
    [generation] = model.generate(model.chat_prompt(MESSAGES), max_new_tokens=20, on_text=pieces.append)
    assert "".join(pieces) == generation.text


@pytest.mark.parametrize("quantize", ["4bit", "8bit"])
def test_bitsandbytes_quantization_runs_on_cpu_with_a_warning(tiny, quantize, caplog):
    with pytest.warns(UserWarning, match="slow"):
        model = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu", quantize=quantize))
    module = type(model.model.model.layers[0].self_attn.q_proj).__name__
    assert module == ("Linear4bit" if quantize == "4bit" else "Linear8bitLt")
    [generation] = model.generate(model.chat_prompt(MESSAGES), max_new_tokens=8)
    assert generation.new_tokens > 0
    assert "inputs will be cast" not in caplog.text  # once per token it would print over the shell


def _adapter(base: Path, out: Path, targets: list[str], seed: int = 1) -> Path:
    """A LoRA adapter with non-zero weights, as training would leave it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, lora_alpha=16, target_modules=targets))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.normal_(0, 0.5)
    peft_model.save_pretrained(out)
    return out


def test_lora_adapter_loads_and_changes_the_answer(tiny, tmp_path):
    adapter = _adapter(tiny["llama"], tmp_path / "adapter", ["q_proj", "v_proj", "o_proj"])
    base = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    tuned = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu", adapter=str(adapter)))
    prompt = base.chat_prompt(MESSAGES)
    assert base.generate(prompt, max_new_tokens=16)[0].text != tuned.generate(prompt, max_new_tokens=16)[0].text


def test_the_tutorial_models_architecture_paths(tiny, tmp_path):
    """Mistral-7B-Instruct in 8-bit and Phi-3-mini in 4-bit nf4 with a LoRA adapter, as tiny configs."""
    with pytest.warns(UserWarning):
        mistral = load_model(ModelSpec(model=str(tiny["mistral"]), device="cpu", quantize="8bit"))
    assert type(mistral.model).__name__ == "MistralForCausalLM"
    assert mistral.generate(mistral.chat_prompt(MESSAGES), max_new_tokens=4)[0].new_tokens > 0
    adapter = _adapter(tiny["phi3"], tmp_path / "phi3-lora", ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"])
    with pytest.warns(UserWarning):
        phi3 = load_model(ModelSpec(model=str(tiny["phi3"]), device="cpu", quantize="4bit", adapter=str(adapter)))
    assert type(phi3.model.base_model.model).__name__ == "Phi3ForCausalLM"
    assert phi3.model.base_model.model.config.quantization_config.bnb_4bit_use_double_quant
    assert phi3.generate(phi3.chat_prompt(MESSAGES), max_new_tokens=4)[0].new_tokens > 0


def test_missing_model_is_one_clear_line(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as with no network, without the retries
    for name in (str(tmp_path / "nowhere"), "someone/not-a-model-xyz"):
        with pytest.raises(ModelLoadError) as error:
            load_model(ModelSpec(model=name, device="cpu"))
        message = str(error.value)
        assert "\n" not in message and "--model" in message
    with pytest.raises(ModelLoadError, match="GGUF file"):
        load_model(ModelSpec(model=str(tmp_path / "absent.gguf"), device="cpu"))
    with pytest.raises(ModelLoadError, match="not a LoRA adapter"):
        load_model(ModelSpec(model=str(build_tiny_model(tmp_path / "m")), device="cpu", adapter=str(tmp_path)))


def test_random_weights_build_the_architecture_from_its_config(tiny):
    model = load_model(ModelSpec(model=str(tiny["phi3"]), device="cpu", random_weights=True))
    assert type(model.model).__name__ == "Phi3ForCausalLM"


def test_a_grammar_is_refused_in_one_line_where_decoding_cannot_take_one(tiny):
    model = load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    assert not model.grammar
    with pytest.raises(ValueError, match="the transformers backend cannot constrain decoding by a grammar"):
        model.generate(model.chat_prompt(MESSAGES), max_new_tokens=2, grammar='root ::= "SELECT"')


def test_random_weights_are_quantized_as_asked(tiny):
    """`bench --random-weights DIR --quantize 4bit|8bit` measures the quantized kernels, not bf16."""
    import bitsandbytes as bnb

    for quantize, layer in (("4bit", bnb.nn.Linear4bit), ("8bit", bnb.nn.Linear8bitLt)):
        model = load_model(ModelSpec(model=str(tiny["qwen2"]), device="cpu", quantize=quantize, random_weights=True))
        assert isinstance(model.model.model.layers[0].mlp.up_proj, layer)
        assert model.generate(model.chat_prompt([{"role": "user", "content": "hi"}]), max_new_tokens=3)[0].new_tokens > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the default is the 7B hub model")
def test_default_model_on_cpu_is_the_offline_gguf_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("NL2SQL_MODEL_DIR", str(tmp_path))
    assert default_model_spec() == ModelSpec(model=CPU_MODEL)
    (tmp_path / CPU_GGUF).write_bytes(b"GGUF")
    assert default_model_spec() == ModelSpec(model=str(tmp_path / CPU_GGUF))


@pytest.mark.skipif(not offline_gguf().exists(), reason="the offline GGUF model is not on disk (../shared/models/fetch-qwen2.5-coder-0.5b.sh)")
def test_the_offline_gguf_model_writes_sql():
    """The real default CPU model, through the user's conversion cache (converted on first use;
    the cache logic itself is tested on a tiny GGUF in test_tiny_models.py)."""
    model = load_model(ModelSpec(model=str(offline_gguf()), device="cpu"))
    prompt = model.chat_prompt([{"role": "user", "content": "Write SQL that counts the rows of table t."}])
    assert "count" in model.generate(prompt, max_new_tokens=30)[0].text.lower()


def test_loading_draws_no_progress_bar_over_the_shell(tiny, capfd):
    load_model(ModelSpec(model=str(tiny["llama"]), device="cpu"))
    assert "Loading weights" not in capfd.readouterr().err


def _closed_port_endpoint() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_without_the_hub_a_cached_model_loads_at_once_and_an_uncached_one_is_one_line(tmp_path, monkeypatch, capfd):
    """No network: no minute of retries printed over the prompt, as huggingface_hub would do."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--tiny-coder" / "snapshots" / ("0" * 40)
    build_tiny_model(snapshot)
    (cache / "models--someone--tiny-coder" / "refs").mkdir()
    (cache / "models--someone--tiny-coder" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", _closed_port_endpoint())
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    started = time.perf_counter()
    loaded = load_model(ModelSpec(model="someone/tiny-coder", device="cpu"))
    assert loaded.generate(loaded.chat_prompt([{"role": "user", "content": "hi"}]), max_new_tokens=2)
    with pytest.raises(ModelLoadError, match="not on this machine and the Hugging Face hub cannot be reached") as missing:
        load_model(ModelSpec(model="someone/not-cached", device="cpu"))
    assert "\n" not in str(missing.value)
    assert time.perf_counter() - started < 30
    assert "Retry" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("SELECT id FROM t -- ids only; names are not needed\nWHERE id > 3; more", "SELECT id FROM t -- ids only; names are not needed\nWHERE id > 3;"),
        ("SELECT ';' AS semi, \"a;b\" FROM t /* x; y */ WHERE 1 = 1; more", "SELECT ';' AS semi, \"a;b\" FROM t /* x; y */ WHERE 1 = 1;"),
        ("```\nSELECT 1\n```\nprose", "```\nSELECT 1\n```\n"),  # a ``` that opens a fence ends nothing
        ("SELECT 1; x", "SELECT 1;"),
        ("SELECT 'open; still open", None),
        ("Here's the query: SELECT count(*) FROM t; if you'd rather clear them: DELETE FROM t;", "Here's the query: SELECT count(*) FROM t;"),  # prose opens no quote
    ],
)
def test_a_stop_string_inside_a_quote_a_comment_or_an_opening_fence_ends_nothing(text, kept):
    """The stop at `;` cut `-- ids only; names ...` and the shorter statement ran."""
    from nl2sql_shell.llm.model import cut_at_stop

    assert cut_at_stop(text, (";", "```\n", "\n\n\n")) == kept
