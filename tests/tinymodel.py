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
_LOG = __import__("os").environ.get("TINY_LOG")


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


def build_tiny_model(path: str | os.PathLike, arch: str = "llama", seed: int = 0) -> Path:
    """Write a random-weight model of ``arch`` (hidden 64, 2 layers) and its tokenizer to ``path``."""
    if arch not in _CONFIGS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_CONFIGS)}")
    path = Path(path)
    tokenizer = _byte_tokenizer()
    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = _CONFIGS[arch](
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        original_max_position_embeddings=MAX_POSITIONS,  # phi3 only; others ignore it
        sliding_window=None,
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
        _train(work, pairs, steps, seed, arch)
        try:
            work.rename(cached)
        except OSError:  # another run cached the same model first
            shutil.rmtree(work, ignore_errors=True)
    path = Path(path)
    shutil.copytree(cached, path, dirs_exist_ok=True)
    return path


def _train(path: Path, pairs: list[tuple[str, str]], steps: int, seed: int, arch: str) -> None:
    build_tiny_model(path, arch=arch, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    examples = []
    for prompt, answer in pairs:
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([prompt_ids + answer_ids])
        labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
        examples.append((ids, labels))
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        margins = []
        for ids, labels in examples:  # one sequence at a time: long prompts need no padding
            out = model(input_ids=ids, labels=labels)
            (out.loss / len(examples)).backward()
            margins.append(_min_margin(out.logits.detach(), labels))
        if _LOG: print(_, min(margins), flush=True)
        if min(margins) >= _MIN_MARGIN:
            break
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(path)
    _check_memorized(path, pairs)


def _min_margin(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Smallest gap, over answer positions, between the target token's logit and the best other."""
    shifted, targets = logits[0, :-1], labels[0, 1:]
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
