"""The transformers backend of `llm.model.Model`: generation on a torch model with streaming,
stop strings, cancellation, batched samples, and an attention cache of the prompt's fixed head
(the schema) reused across questions.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from nl2sql_shell.llm.model import Generation, TextStream, cut_at_stop, plain_chat

_PREFIX_CACHE_SIZE = 4


class _Stop(StoppingCriteria):
    """Per-sequence stop: a stop string in the new text, or the cancel event (stops all)."""

    def __init__(self, tokenizer, prompt_length: int, stop: Sequence[str], cancel: threading.Event | None) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.stop = tuple(stop)
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        batch = input_ids.shape[0]
        if self.cancel is not None and self.cancel.is_set():
            return torch.ones(batch, dtype=torch.bool, device=input_ids.device)
        if not self.stop:
            return torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
        done = []
        for row in input_ids:
            tail = self.tokenizer.decode(row[self.prompt_length:][-24:], skip_special_tokens=True)
            done.append(any(s in tail for s in self.stop))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _Sampler(LogitsProcessor):
    """Draw each row's next token from its `top_k` most likely ones, cut to `top_p` of their
    mass, at `temperature`; with `greedy_first` row 0 takes the most likely token instead, so
    that of `n` sequences the first is exactly the greedy one.

    It stands in for transformers' own sampling, which sorts and draws over the whole
    vocabulary at every step: for Qwen's 151,936 tokens that costs a 2-core CPU more than the
    model's own decode step for 4 rows. Here the sort and the draw are over `top_k` values.
    The result leaves one finite score per row, which greedy decoding then takes.
    """

    def __init__(self, temperature: float, *, greedy_first: bool, top_p: float = 0.95, top_k: int = 50) -> None:
        self.temperature, self.greedy_first, self.top_p, self.top_k = temperature, greedy_first, top_p, top_k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        values, indices = scores.topk(min(self.top_k, scores.shape[-1]), dim=-1)  # sorted, best first
        probs = torch.softmax(values.float() / self.temperature, dim=-1)
        probs = probs * (probs.cumsum(-1) - probs < self.top_p)  # the best always stays
        choice = torch.multinomial(probs, 1)
        if self.greedy_first:
            choice[0] = 0
        chosen = torch.full_like(scores, float("-inf"))
        return chosen.scatter_(-1, indices.gather(-1, choice), 0.0)


class _Streamer(BaseStreamer):
    """Times the first new token and streams the first sequence's text as it grows."""

    def __init__(self, tokenizer, on_text: Callable[[str], None] | None, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.text = TextStream(on_text, stop) if on_text is not None else None
        self.prompt_seen = False
        self.first_token_at: float | None = None
        self.ids: list[int] = []

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        if self.text is None or self.text.stopped:
            return
        self.ids.append(int(value.reshape(-1)[0]))  # one new token per sequence; row 0 first
        self.text.update(self.tokenizer.decode(self.ids, skip_special_tokens=True))

    def end(self) -> None:
        """Send what was held back: a last piece that is not valid UTF-8 on its own."""
        if self.text is not None and self.ids:
            self.text.update(self.tokenizer.decode(self.ids, skip_special_tokens=True), final=True)


@dataclass
class LoadedModel:
    """A model with its tokenizer, and the caches that make repeated prompts cheap."""

    backend: ClassVar[str] = "transformers"
    prefix_cache: ClassVar[bool] = True
    true_n: ClassVar[bool] = True
    grammar: ClassVar[bool] = False

    model: Any
    tokenizer: Any
    spec: Any
    device: str
    load_seconds: float
    _prefix_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _scored: tuple | None = field(default=None, repr=False)  # (prompt ids, their cache) of the last logprob, for the generate that follows
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The model's own chat template, ready for the assistant's turn."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return plain_chat(messages, generation_prompt=True)

    def chat_prefix(self, messages: list[dict[str, str]]) -> str:
        """The rendering of leading messages alone (no assistant turn): a prefix of chat_prompt."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        return plain_chat(messages, generation_prompt=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 384,
        stop: Sequence[str] = (),
        n: int = 1,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        prefix: str | None = None,
        first: int = 0,
        grammar: str | None = None,
    ) -> list[Generation]:
        """Greedy (temperature 0) or `n` sequences in one batched call: with `n` > 1 the first
        is the greedy sequence and the others are samples at `temperature`, so voting between
        them never loses the model's single best guess; with `first` > 0 all are samples.

        `prefix` is a leading part of `prompt` that many prompts share (the system message with
        the schema): its attention cache is computed once and reused, so the next question
        prefills only what follows it. Output is the same as without the cache.
        """
        if grammar is not None:
            raise ValueError(f"the {self.backend} backend cannot constrain decoding by a grammar")
        with self._lock, torch.inference_mode():
            return self._generate(prompt, max_new_tokens, stop, n, temperature, on_text, cancel, prefix, first)

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        """See `Model.logprob`: one forward pass over the prompt's last token and `text`, on
        the prompt's cache, which is kept for a `generate` of the same prompt next (so the
        question after the schema is prefilled once, not twice)."""
        with self._lock, torch.inference_mode():
            ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(self._input_device())
            following = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids.to(ids.device)
            past, _ = self._prompt_cache(ids, prefix)
            self._scored = (ids, copy.deepcopy(past))  # the pipeline's next call generates from this prompt
            steps = torch.cat([ids[:, -1:], following[:, :-1]], dim=1)
            logits = self.model(input_ids=steps, cache=past, use_cache=True).logits[0].float()
            return float(torch.log_softmax(logits, dim=-1).gather(1, following[0][:, None]).sum())

    def _generate(self, prompt, max_new_tokens, stop, n, temperature, on_text, cancel, prefix, first) -> list[Generation]:
        started = time.perf_counter()
        ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(self._input_device())
        prompt_length = ids.shape[1]
        past, cached = self._prompt_cache(ids, prefix)
        if past is not None and n > 1:
            past.batch_repeat_interleave(n)
        streamer = _Streamer(self.tokenizer, on_text, stop)
        sampler = [_Sampler(temperature, greedy_first=n > 1 and first == 0)] if temperature > 0 else []
        rows = ids.expand(n, -1)  # n copies of the prompt: each row draws its own tokens
        output = self.model.generate(
            input_ids=rows,
            attention_mask=torch.ones_like(rows),
            max_new_tokens=max_new_tokens,
            stopping_criteria=StoppingCriteriaList([_Stop(self.tokenizer, prompt_length, stop, cancel)]),
            streamer=streamer,
            cache=past,
            pad_token_id=self.tokenizer.pad_token_id,
            do_sample=False,  # sampling, when asked for, is done by _Sampler; then this takes its pick
            logits_processor=LogitsProcessorList(sampler),
        )
        total = time.perf_counter() - started
        first = (streamer.first_token_at or time.perf_counter()) - started
        return [self._result(row[prompt_length:], stop, cancel, prompt_length, first, total, cached, max_new_tokens) for row in output]

    def _input_device(self):
        return next(self.model.parameters()).device

    def _result(self, new_ids, stop, cancel, prompt_length, first, total, cached, max_new_tokens) -> Generation:
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        tokens = [t for t in new_ids.tolist()]
        while tokens and tokens[-1] == pad and pad != eos:
            tokens.pop()
        hit_eos = eos in tokens
        if hit_eos:
            tokens = tokens[: tokens.index(eos)]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        finish = "eos" if hit_eos else "length" if len(tokens) >= max_new_tokens else "stop"
        cut = cut_at_stop(text, stop)
        if cut is not None:
            text, finish = cut, "stop"
        if cancel is not None and cancel.is_set():
            finish = "cancelled"
        return Generation(text, prompt_length, len(tokens), first, total, finish, cached)

    def _prompt_cache(self, ids: torch.Tensor, prefix: str | None):
        """The attention cache of every prompt token but the last, for one sequence, and how
        many of those tokens came from the prefix cache.

        The prompt is prefilled once here and then copied for each candidate: prefilling it in
        generate() would compute the same keys and values once per candidate.
        """
        scored, self._scored = self._scored, None
        if scored is not None and torch.equal(scored[0], ids):
            return scored[1], ids.shape[1] - 1  # prefilled by logprob, just before
        past, cached = self._cached_prefix(ids, prefix)
        if ids.shape[1] - 1 > cached:
            past = self.model(input_ids=ids[:, cached:-1], cache=past, use_cache=True, logits_to_keep=1).cache
        return past, cached

    def _cached_prefix(self, ids: torch.Tensor, prefix: str | None):
        """A copy of the prefix's attention cache (computed on first use)."""
        if not prefix:
            return None, 0
        prefix_ids = self.tokenizer(prefix, return_tensors="pt", add_special_tokens=False).input_ids.to(ids.device)
        length = prefix_ids.shape[1]
        if length >= ids.shape[1] or not torch.equal(ids[0, :length], prefix_ids[0]):
            return None, 0  # the prompt does not start with these tokens: no reuse
        key = tuple(prefix_ids[0].tolist())
        cache = self._prefix_cache.get(key)
        if cache is None:
            cache = self._prefill(prefix_ids)
            self._prefix_cache[key] = cache
            while len(self._prefix_cache) > _PREFIX_CACHE_SIZE:
                self._prefix_cache.popitem(last=False)
        self._prefix_cache.move_to_end(key)
        return copy.deepcopy(cache), length  # the copy is extended in place

    def _prefill(self, prefix_ids: torch.Tensor):
        """The attention cache of `prefix_ids`, starting from the cached prefix that shares the
        most leading tokens with it.

        Two questions on a schema too large to show whole get different table selections, but
        the rules and the tables both selections have in common come first in the same order:
        only the tokens after the shared part are computed again.
        """
        start, cache = 0, None
        for key, cached in self._prefix_cache.items():
            shared = _shared_length(key, prefix_ids[0])
            if shared > start and cached.is_croppable and not any(cached.is_sliding):
                start, cache = shared, cached
        if cache is not None:
            start = min(start, prefix_ids.shape[1] - 1)  # at least one token to run
            cache = copy.deepcopy(cache)
            if surplus := cache.get_seq_length() - start:
                cache.crop(-surplus)  # a negative count removes that many tokens from the end
        # Only the cache is wanted: logits for one position, not a vocabulary row per token.
        return self.model(input_ids=prefix_ids[:, start:], cache=cache, use_cache=True, logits_to_keep=1).cache


def _shared_length(key: tuple[int, ...], ids: torch.Tensor) -> int:
    """How many leading tokens `key` and `ids` have in common."""
    size = min(len(key), ids.shape[0])
    differ = (torch.tensor(key[:size], device=ids.device) != ids[:size]).nonzero()
    return int(differ[0]) if len(differ) else size
