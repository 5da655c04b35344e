"""The llama.cpp backend of `llm.model.Model`: llama-cpp-python in-process on a GGUF file as it
is (quantized weights, memory-mapped; no float copy), on all CPU cores.

The `n` candidates of one prompt are decoded together, one batch of a token per candidate
per step, on the prompt's attention cache, which is computed once and shared; the schema prefix's cache is kept (up to four prefixes) so that
the next question prefills only what follows it, even after other prompts ran in between.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nl2sql_shell.llm.model import Generation, Messages, TextStream, cut_at_stop, plain_chat
from nl2sql_shell.own_environment import set_default

# llama.cpp's threads meet at OpenMP barriers; spinning there while another process holds a
# core made prefill 2x and decoding 4x slower on a shared 2-core machine (docs/benchmarks.md).
# OpenMP reads this once, when llama_cpp is first imported: so before that.
set_default("OMP_WAIT_POLICY", "PASSIVE")

N_CTX = 8192  # prompt and answer together; the pipeline's prompts stay well below
_PREFIX_CACHE_SIZE = 4
_PREFILL_CHUNK = 128  # prompt tokens run between two looks at the cancel event
TOP_K, TOP_P = 50, 0.95  # as the transformers backend samples
MAX_SEQUENCES = 8  # candidates decoded together; more are decoded in further rounds


def load_llamacpp(path: str, progress: Callable[[str], None], lora: str | None = None) -> LlamaCppModel:
    """Open the GGUF file at `path`, with the GGUF LoRA file `lora` applied (errors are the
    caller's to explain)."""
    from llama_cpp import Llama

    threads = os.cpu_count() or 1
    progress(f"loading {path} with llama.cpp on {threads} CPU threads")
    started = time.perf_counter()
    with _sequences_in_one_cache(), _loaded_quietly():
        llama = Llama(model_path=path, lora_path=lora, n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads, verbose=False)
    return LlamaCppModel(llama, path=path, load_seconds=time.perf_counter() - started)


@contextlib.contextmanager
def _loaded_quietly():
    """No llama.cpp log over the prompt while the model loads, and nothing else hidden.

    llama-cpp-python quiets a load (verbose=False) by pointing the process's descriptors 1 and 2
    at /dev/null meanwhile: the shell loads in a thread while the person types, and a result
    printed in those seconds, the prompt's own redraw and any error went nowhere. Its log goes
    through its logger instead, held at CRITICAL for the load (llama.cpp writes one line per LoRA
    tensor kept in plain CPU memory at error level); a failed load still raises. Llama() sets
    the level itself as it starts, hence the stand-in for set_verbose."""
    import logging

    from llama_cpp import _internals, llama as module

    logger = logging.getLogger("llama-cpp-python")
    set_verbose, redirects = module.set_verbose, (module.suppress_stdout_stderr, _internals.suppress_stdout_stderr)
    module.set_verbose = lambda _verbose: logger.setLevel(logging.CRITICAL)
    module.suppress_stdout_stderr = _internals.suppress_stdout_stderr = lambda disable=True: contextlib.nullcontext()
    try:
        yield
    finally:
        module.set_verbose = set_verbose
        module.suppress_stdout_stderr, _internals.suppress_stdout_stderr = redirects
        set_verbose(False)


@contextlib.contextmanager
def _sequences_in_one_cache():
    """Contexts made meanwhile hold MAX_SEQUENCES sequences in one shared cache: the candidates
    then share the prompt's cells instead of copying them (Llama() has no option for it)."""
    from llama_cpp import llama_cpp as low

    defaults = low.llama_context_default_params

    def params():
        chosen = defaults()
        chosen.n_seq_max, chosen.kv_unified = MAX_SEQUENCES, True
        return chosen

    low.llama_context_default_params = params
    try:
        yield
    finally:
        low.llama_context_default_params = defaults


@dataclass
class _Prefix:
    tokens: tuple[int, ...]
    state: bytes  # the attention cache of sequence 0 holding exactly these tokens


@dataclass
class LlamaCppModel:
    """A GGUF model in llama.cpp, with the prompt caches that make repeated prompts cheap."""

    backend: ClassVar[str] = "llamacpp"
    prefix_cache: ClassVar[bool] = True
    true_n: ClassVar[bool] = True
    grammar: ClassVar[bool] = True

    llama: Any
    path: str
    load_seconds: float
    device: str = "cpu"
    _prefixes: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        template = self.llama.metadata.get("tokenizer.chat_template")
        self._formatters = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            vocab = self.llama._model
            eos, bos = vocab.token_get_text(self.llama.token_eos()), vocab.token_get_text(self.llama.token_bos())
            self._formatters = {
                answer: Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=answer) for answer in (True, False)
            }

    # -- the Model interface ------------------------------------------------------------------------
    def chat_prompt(self, messages: Messages) -> str:
        return self._render(messages, generation_prompt=True)

    def chat_prefix(self, messages: Messages) -> str:
        return self._render(messages, generation_prompt=False)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

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
        grammar: str | None = None,
        first: int = 0,
    ) -> list[Generation]:
        """See `Model.generate`; `grammar` (GBNF text) constrains every sequence.

        Sampling takes the 50 most likely tokens, then the smallest set of them holding 95% of
        their probability, then divides by `temperature` (llama.cpp's order of the steps).
        """
        with self._lock:
            return self._generate(prompt, max_new_tokens, stop, n, temperature, on_text, cancel, prefix, grammar, first)

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        """See `Model.logprob`: the prompt's cache as `generate` leaves it, then `text` a token
        at a time (a few tokens: the scores of the last one are all llama.cpp keeps)."""
        import numpy as np  # llama-cpp-python's own dependency

        with self._lock:
            ids = self._tokenize(prompt) or [self.llama.token_bos()]
            self._prefill(ids, prefix, None)
            steps = [ids[-1], *self._tokenize(text)]
            total = 0.0
            for token, following in zip(steps, steps[1:]):
                self.llama.eval([token])
                scores = np.ctypeslib.as_array(self.llama._ctx.get_logits(), shape=(self.llama.n_vocab(),)).astype(np.float64)
                top = scores.max()
                total += float(scores[following] - top - np.log(np.exp(scores - top).sum()))
            return total

    # -- rendering and tokens -----------------------------------------------------------------------
    def _render(self, messages: Messages, *, generation_prompt: bool) -> str:
        if self._formatters is None:
            return plain_chat(messages, generation_prompt=generation_prompt)
        return self._formatters[generation_prompt](messages=messages).prompt

    def _tokenize(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=True)

    def _decode(self, tokens: list[int]) -> str:
        return self.llama.detokenize(tokens).decode("utf-8", errors="replace")

    # -- generation ---------------------------------------------------------------------------------
    def _generate(self, prompt, max_new_tokens, stop, n, temperature, on_text, cancel, prefix, grammar, first) -> list[Generation]:
        started = time.perf_counter()
        ids = self._tokenize(prompt) or [self.llama.token_bos()]
        sequences = min(n, MAX_SEQUENCES) if temperature > 0 else 1
        room = (self.llama.n_ctx() - len(ids)) // sequences
        if room < 1:
            raise ValueError(f"the prompt has {len(ids)} tokens; llama.cpp's context holds {self.llama.n_ctx()}")
        cached = self._prefill(ids, prefix, cancel)
        if cancel is not None and cancel.is_set():
            return [Generation("", len(ids), 0, 0.0, time.perf_counter() - started, "cancelled", cached) for _ in range(n)]
        results: list[Generation] = []
        while len(results) < (n if temperature > 0 else 1):
            count = min(n - len(results), MAX_SEQUENCES) if temperature > 0 else 1
            stream = TextStream(on_text, stop) if on_text is not None and not results else None
            number = first + len(results)  # of the batch's first sequence; 0 is the greedy one
            seed = zlib.crc32(repr(ids).encode()) + number  # the same prompt samples the same candidates
            batch = _Decoding(self, ids, count, greedy_first=number == 0, temperature=temperature, grammar=grammar, seed=seed)
            for text, new_tokens, finish, first_at, done_at in batch.run(min(max_new_tokens, room), stop, stream, cancel):
                first_token = results[0].seconds_to_first_token if results else first_at - started  # not `first`: the numbering
                results.append(Generation(text, len(ids), new_tokens, first_token, done_at - started, finish, cached))
        if len(results) < n:  # greedy: every sequence is the same one
            results += [Generation(**vars(results[0])) for _ in range(n - len(results))]
        return results

    def _prefill(self, ids: list[int], prefix: str | None, cancel: threading.Event | None) -> int:
        """Put the attention cache of every prompt token but the last in place (llama's
        `generate` runs the last one to get the first token's scores); returns how many prompt
        tokens were already there, from the last call or a kept prefix.
        """
        prefix_ids = tuple(self._tokenize(prefix)) if prefix else ()
        if not (0 < len(prefix_ids) < len(ids) and tuple(ids[: len(prefix_ids)]) == prefix_ids):
            prefix_ids = ()  # the prompt does not start with these tokens: no reuse
        cached = self._reuse(ids, len(prefix_ids) if prefix_ids and prefix_ids not in self._prefixes else len(ids))
        if prefix_ids and prefix_ids not in self._prefixes:
            if not self._run(ids[: len(prefix_ids)], cancel):
                return cached
            self._keep(prefix_ids)
        if prefix_ids:
            self._prefixes.move_to_end(prefix_ids)
        self._run(ids[:-1], cancel)
        return cached

    def _reuse(self, ids: list[int], limit: int) -> int:
        """Keep the longest cached head of `ids`, at most `limit` tokens and never its last
        one: what the context holds now, or a kept prefix loaded back; drop the rest.
        Returns its length."""
        limit = min(limit, len(ids) - 1)
        current = _shared_length(self.llama.input_ids[: self.llama.n_tokens].tolist(), ids, limit)
        best = max(self._prefixes.values(), key=lambda p: _shared_length(p.tokens, ids, limit), default=None)
        if best is not None and _shared_length(best.tokens, ids, limit) > current:
            self._load(best)
            current = _shared_length(best.tokens, ids, limit)
        if not self.llama._ctx.kv_cache_seq_rm(0, current, -1):
            self.llama.reset()
            return 0
        self.llama.n_tokens = current
        return current

    def _run(self, ids: list[int], cancel: threading.Event | None) -> bool:
        """Extend the context's cache to `ids` (which it starts with), a chunk at a time;
        False when `cancel` stopped it."""
        while self.llama.n_tokens < len(ids):
            if cancel is not None and cancel.is_set():
                return False
            start = self.llama.n_tokens
            self.llama.eval(ids[start : start + _PREFILL_CHUNK])
        return True

    def _keep(self, tokens: tuple[int, ...]) -> None:
        """Copy the cache of sequence 0, which holds exactly `tokens`, for later prompts."""
        ctx = self.llama._ctx.ctx
        from llama_cpp import llama_cpp as low

        size = low.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = low.llama_state_seq_get_data(ctx, buffer, size, 0)
        self._prefixes[tokens] = _Prefix(tokens, bytes(buffer[:written]))
        while len(self._prefixes) > _PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)

    def _load(self, prefix: _Prefix) -> None:
        from llama_cpp import llama_cpp as low

        self.llama._ctx.kv_cache_seq_rm(0, 0, -1)
        buffer = (ctypes.c_uint8 * len(prefix.state)).from_buffer_copy(prefix.state)
        if not low.llama_state_seq_set_data(self.llama._ctx.ctx, buffer, len(prefix.state), 0):
            raise RuntimeError("llama.cpp could not load a kept prompt cache")
        self.llama.input_ids[: len(prefix.tokens)] = prefix.tokens
        self.llama.n_tokens = len(prefix.tokens)


class _Decoding:
    """`count` sequences decoded together, one token each per step, on the prompt's cache:
    llama.cpp's sequences 1.. share the cells of sequence 0, which holds every prompt token
    but the last, and a batch of one token per sequence costs little more than one token.
    Afterwards sequence 0 holds every prompt token but the last again, and the others nothing:
    a further round of sequences for the same prompt starts where this one did.
    """

    def __init__(self, model: LlamaCppModel, ids: list[int], count: int, *, greedy_first: bool, temperature: float, grammar: str | None, seed: int) -> None:
        from llama_cpp import _internals

        self.model, self.llama, self.ids, self.count = model, model.llama, ids, count
        self.ctx = self.llama._ctx
        self.batch = _internals.LlamaBatch(n_tokens=count, embd=0, n_seq_max=count, verbose=False)
        self.samplers = [self._sampler(greedy=greedy_first and s == 0 or temperature <= 0, temperature=temperature, seed=seed + s) for s in range(count)]
        self.grammars = [_GrammarCheck(self.llama._model.vocab, grammar) for _ in range(count)] if grammar is not None else None

    def _sampler(self, *, greedy: bool, temperature: float, seed: int):
        from llama_cpp import _internals

        sampler = _internals.LlamaSampler()
        if greedy:
            sampler.add_greedy()
        else:
            sampler.add_top_k(TOP_K)
            sampler.add_top_p(TOP_P, 1)
            sampler.add_temp(temperature)
            sampler.add_dist(seed & 0x7FFFFFFF)
        return sampler

    def run(self, max_new_tokens: int, stop: Sequence[str], stream: TextStream | None, cancel: threading.Event | None):
        """(text, new tokens, finish, first token at, done at) per sequence, in order."""
        from llama_cpp import llama_cpp as low

        for s in range(1, self.count):
            self.ctx.kv_cache_seq_cp(0, s, -1, -1)
        position = len(self.ids) - 1
        self._decode([(s, self.ids[-1]) for s in range(self.count)], position, shared=True)
        tokens: list[list[int]] = [[] for _ in range(self.count)]
        texts, finish = [""] * self.count, ["length"] * self.count
        done_at = [0.0] * self.count
        row = {s: 0 for s in range(self.count)}  # where each sequence's next-token scores are in the batch
        active = list(range(self.count))
        first_at = None
        try:
            while active:
                if cancel is not None and cancel.is_set():
                    for s in active:
                        finish[s], done_at[s] = "cancelled", time.perf_counter()
                    break
                going = []
                for s in active:
                    token = self.samplers[s].sample(self.ctx, row[s])
                    if self.grammars is not None:
                        token = self.grammars[s].choose(token, self.ctx, row[s], self.samplers[s])
                    first_at = first_at or time.perf_counter()
                    if low.llama_vocab_is_eog(self.llama._model.vocab, token):
                        finish[s] = "eos"
                    else:
                        tokens[s].append(token)
                        texts[s] = self.model._decode(tokens[s])
                        if stream is not None and s == 0:
                            stream.update(texts[s])
                        if (cut := cut_at_stop(texts[s], stop)) is not None:
                            texts[s], finish[s] = cut, "stop"
                        elif len(tokens[s]) < max_new_tokens:
                            going.append(s)
                            continue
                    done_at[s] = time.perf_counter()
                if going:
                    position += 1
                    row = {s: i for i, s in enumerate(going)}
                    self._decode([(s, tokens[s][-1]) for s in going], position, shared=False)
                active = going
        finally:
            for s in range(1, self.count):
                self.ctx.kv_cache_seq_rm(s, 0, -1)
            self.ctx.kv_cache_seq_rm(0, len(self.ids) - 1, -1)  # as it came: the next round decodes the last token again
            self.llama.n_tokens = len(self.ids) - 1
            self.batch.close()
            for check in self.grammars or ():
                check.close()
        if stream is not None:
            stream.update(texts[0], final=True)
        first = first_at or time.perf_counter()
        return [(texts[s], len(tokens[s]), finish[s], first, done_at[s]) for s in range(self.count)]

    def _decode(self, entries: list[tuple[int, int]], position: int, *, shared: bool) -> None:
        """One step: a token per (sequence, token) entry at `position`; with `shared`, one token
        that belongs to every listed sequence (the last prompt token)."""
        batch = self.batch.batch
        if shared:
            batch.n_tokens = 1
            batch.token[0], batch.pos[0], batch.n_seq_id[0], batch.logits[0] = entries[0][1], position, len(entries), True
            for i, (s, _) in enumerate(entries):
                batch.seq_id[0][i] = s
        else:
            batch.n_tokens = len(entries)
            for i, (s, token) in enumerate(entries):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, position, 1, True
                batch.seq_id[i][0] = s
        self.ctx.decode(self.batch)


class _GrammarCheck:
    """One sequence's grammar, applied as llama.cpp's own common sampler does: the token the
    sampler chose is checked alone, and only when the grammar rejects it is the whole vocabulary
    filtered and the token chosen again. A grammar in the sampler chain checks all 151,646
    tokens at every step, 7x slower (docs/benchmarks.md); the greedy token is the same both
    ways (the most likely allowed one), and samples are drawn from the allowed tokens.
    """

    def __init__(self, vocab: Any, grammar: str) -> None:
        from llama_cpp import llama_cpp as low

        self.low, self.vocab = low, vocab
        self.sampler = low.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not self.sampler:
            raise ValueError("llama.cpp could not read the grammar")
        self.one = (low.llama_token_data * 1)()
        self.everything: Any = None  # the whole vocabulary's token data, made on first need

    def choose(self, token: int, ctx: Any, row: int, chain: Any) -> int:
        """`token` when the grammar allows it, else the chain's choice among allowed tokens;
        the grammar then moves past it (an end-of-generation token ends it instead)."""
        if not self._allows(token):
            token = self._again(ctx, row, chain)
        if not self.low.llama_vocab_is_eog(self.vocab, token):
            self.low.llama_sampler_accept(self.sampler, token)
        return token

    def close(self) -> None:
        if self.sampler:
            self.low.llama_sampler_free(self.sampler)
            self.sampler = None

    def _allows(self, token: int) -> bool:
        self.one[0].id, self.one[0].logit, self.one[0].p = token, 0.0, 0.0
        candidates = self.low.llama_token_data_array(self.one, 1, -1, False)
        self.low.llama_sampler_apply(self.sampler, ctypes.byref(candidates))
        return self.one[0].logit != float("-inf")

    def _again(self, ctx: Any, row: int, chain: Any) -> int:
        import numpy as np

        size = self.low.llama_vocab_n_tokens(self.vocab)
        if self.everything is None:
            self.everything = (self.low.llama_token_data * size)()
            self.fields = np.frombuffer(self.everything, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]))
            self.ids = np.arange(size, dtype=np.int32)
        self.fields["id"] = self.ids  # the last choice left them sorted by score
        self.fields["logit"] = np.ctypeslib.as_array(self.low.llama_get_logits_ith(ctx.ctx, row), shape=(size,))
        self.fields["p"] = 0.0
        candidates = self.low.llama_token_data_array(self.everything, size, -1, False)
        self.low.llama_sampler_apply(self.sampler, ctypes.byref(candidates))
        self.low.llama_sampler_apply(chain.sampler, ctypes.byref(candidates))
        return int(candidates.data[candidates.selected].id)


def _shared_length(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    """How many leading tokens `a` and `b` have in common, at most `limit`."""
    shared = 0
    for x, y in zip(a, b):
        if x != y or shared >= limit:
            break
        shared += 1
    return shared
