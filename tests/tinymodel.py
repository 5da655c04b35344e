"""Tiny real models for tests: random or memorizing weights, a byte-level tokenizer, no downloads.

Tests need a model that the real loading code (``from_pretrained``) and the real generation code
accept, that builds in seconds on a CPU, and — for pipeline tests — that answers known prompts
with known text. ``build_tiny_model`` writes an untrained one of a chosen architecture;
``train_tiny_model`` makes one memorize (prompt, answer) pairs so greedy decoding is exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    MistralConfig,
    Phi3Config,
    PreTrainedTokenizerFast,
    Qwen2Config,
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
MAX_POSITIONS = 8192  # one byte per token: room for prompts of ~6,000 characters plus the answer
_CONFIGS = {"llama": LlamaConfig, "mistral": MistralConfig, "phi3": Phi3Config, "qwen2": Qwen2Config}
_FORMAT_VERSION = 1  # bump when the model or training recipe changes, to invalidate the cache
_MIN_MARGIN = 3.0  # logit gap of every answer token over the runner-up: survives bf16 and 8-bit
_LAYERS = 2


def _byte_tokenizer() -> PreTrainedTokenizerFast:
    """256 byte tokens (GPT-2's byte-to-character alphabet), no merges, ChatML special tokens."""
    vocab = {ch: b for b, ch in _bytes_to_unicode().items()}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
    )


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte->printable character map (the ByteLevel pre-tokenizer's alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def build_tiny_model(path: str | os.PathLike, arch: str = "llama", seed: int = 0, sliding_window: int | None = None) -> Path:
    """Write a random-weight model of ``arch`` (hidden 64, 2 layers) and its tokenizer to ``path``.

    ``sliding_window`` limits attention to that many recent tokens (not for llama).
    """
    if arch not in _CONFIGS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_CONFIGS)}")
    if sliding_window and arch == "llama":
        raise ValueError("llama has no sliding attention window; use qwen2, mistral or phi3")
    path = Path(path)
    tokenizer = _byte_tokenizer()
    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = _CONFIGS[arch](
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        original_max_position_embeddings=MAX_POSITIONS,  # phi3 only; others ignore it
        sliding_window=sliding_window,
        use_sliding_window=sliding_window is not None,  # qwen2 only, with max_window_layers
        max_window_layers=0,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = pad
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _cache_root() -> Path:
    return Path(os.environ.get("NL2SQL_TEST_CACHE", Path.home() / ".cache" / "nl2sql-shell-tests"))


def train_tiny_model(
    path: str | os.PathLike,
    pairs: list[tuple[str, str]],
    steps: int = 400,
    seed: int = 0,
    arch: str = "qwen2",
) -> Path:
    """Write to ``path`` a tiny model whose greedy continuation of each prompt is its answer + eos.

    Prompts are full, already chat-templated texts. Training stops early once every answer token
    wins by a clear logit margin; the result is checked with real ``generate`` calls and cached
    under ~/.cache/nl2sql-shell-tests (or $NL2SQL_TEST_CACHE) by a hash of the inputs.
    """
    key = hashlib.sha256(json.dumps([_FORMAT_VERSION, arch, pairs, steps, seed]).encode()).hexdigest()[:16]
    cached = _cache_root() / f"trained-{arch}-{key}"
    if not (cached / "config.json").exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".tmp-"))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny matrices: more threads only add sync cost, 100x on a busy machine
        try:
            _train(work, pairs, steps, seed, arch)
        finally:
            torch.set_num_threads(threads)
        try:
            work.rename(cached)
        except OSError:  # another run cached the same model first
            shutil.rmtree(work, ignore_errors=True)
    path = Path(path)
    shutil.copytree(cached, path, dirs_exist_ok=True)
    return path


def _train(path: Path, pairs: list[tuple[str, str]], steps: int, seed: int, arch: str) -> None:
    """Train on the tail of each prompt only; a sliding attention window makes that exact.

    With window W and L layers an answer token depends on at most the last L*W tokens, so
    cutting each prompt to that tail gives the very logits the full prompt gives, and a
    6,000-token prompt costs what a 200-token one does. W is chosen to reach back past the
    point where each prompt first differs from the others.
    """
    tokenizer = _byte_tokenizer()
    encoded = [
        (tokenizer(p, add_special_tokens=False)["input_ids"], tokenizer(a, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
        for p, a in pairs
    ]
    window = _window(encoded, _LAYERS)
    build_tiny_model(path, arch=arch, seed=seed, sliding_window=window)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    ids, labels, positions, mask = _batch(encoded, _LAYERS * window if window else None, tokenizer.pad_token_id)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, labels=labels)
        if _min_margin(out.logits.detach(), labels) >= _MIN_MARGIN:
            break
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(path)
    _check_memorized(path, pairs)


def _window(encoded: list[tuple[list[int], list[int]]], layers: int) -> int | None:
    """The smallest sliding window that still sees what tells each prompt from the others."""
    reach = 0
    for i, (prompt, answer) in enumerate(encoded):
        distinct = 1 + max((_common_suffix(prompt, other) for j, (other, their) in enumerate(encoded) if j != i and their != answer), default=0)
        reach = max(reach, distinct + len(answer))
    window = -(-reach // layers) + 8
    return window if window * layers < max(len(p) for p, _ in encoded) else None


def _common_suffix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _batch(encoded: list[tuple[list[int], list[int]]], keep: int | None, pad: int) -> tuple[torch.Tensor, ...]:
    """Right-padded ids, labels (answer tokens only), true positions and mask of each prompt's tail."""
    rows = []
    for prompt, answer in encoded:
        start = max(0, len(prompt) - keep) if keep else 0
        rows.append((prompt[start:] + answer, [-100] * (len(prompt) - start) + answer, list(range(start, len(prompt) + len(answer)))))
    width = max(len(r[0]) for r in rows)
    padded = [
        (ids + [pad] * (width - len(ids)), lab + [-100] * (width - len(lab)), pos + [0] * (width - len(pos)), [1] * len(ids) + [0] * (width - len(ids)))
        for ids, lab, pos in rows
    ]
    return tuple(torch.tensor(column) for column in zip(*padded))


def _min_margin(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Smallest gap, over answer positions, between the target token's logit and the best other."""
    shifted, targets = logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
    keep = targets != -100
    scores, targets = shifted[keep], targets[keep]
    target_scores = scores.gather(1, targets[:, None])[:, 0]
    others = scores.scatter(1, targets[:, None], float("-inf")).max(dim=1).values
    return float((target_scores - others).min())


def _check_memorized(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Greedy ``generate`` from the saved files must reproduce every answer exactly."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    for prompt, answer in pairs:
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        answer_len = len(tokenizer(answer, add_special_tokens=False)["input_ids"]) + 1
        out = model.generate(ids, do_sample=False, max_new_tokens=answer_len + 2)
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=False)
        if text != answer + tokenizer.eos_token:
            raise RuntimeError(f"tiny model did not memorize {answer!r}: got {text!r}; raise steps")


def build_tiny_gguf(path: str | os.PathLike, seed: int = 0, for_llama_cpp: bool = False) -> Path:
    """Write a tiny qwen2 model as one F32 GGUF file at ``path`` (what llama.cpp's converter makes).

    With ``for_llama_cpp`` llama.cpp runs it; without, transformers loads it with ``from_pretrained(folder, gguf_file=name)`` into the same logits and tokens as
    ``build_tiny_model(arch="qwen2", seed=seed)``.
    """
    import gguf

    path = Path(path)
    with tempfile.TemporaryDirectory() as source:
        build_tiny_model(source, arch="qwen2", seed=seed)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    config = model.config
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    tokens = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in SPECIAL_TOKENS else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_scores([0.0] * len(tokens))
    if for_llama_cpp:
        # llama.cpp refuses a BPE vocabulary without merges, and GGUF has no empty arrays: one
        # merge of two special tokens, which are split off before BPE and so never merged.
        # (transformers would check that the merged token exists: its file has none.)
        writer.add_token_merges([f"{SPECIAL_TOKENS[0]} {SPECIAL_TOKENS[0]}"])
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(CHAT_TEMPLATE)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        writer.add_tensor(names.get_name(name, try_suffixes=(".weight", ".bias")), tensor.numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
