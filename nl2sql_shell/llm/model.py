"""What the `?` pipeline needs from a model, whichever library runs it.

One small interface in the spirit of Simon Willison's `llm` `Model`: render a chat, count
tokens, and generate `n` candidates for one prompt (stop strings, streaming, cancellation, a
cached prompt prefix). Each backend is one module that implements it: `transformers_backend`
(torch; LoRA adapters, bitsandbytes, GPUs) and `llamacpp` (llama-cpp-python on a GGUF file,
CPU). Capability flags say what a backend does natively, for callers that want to adapt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from nl2sql_shell.sql_text import in_quote_or_comment

Messages = list[dict[str, str]]


@dataclass
class Generation:
    """One generated sequence and what it cost."""

    text: str
    prompt_tokens: int
    new_tokens: int
    seconds_to_first_token: float
    seconds_total: float
    finish: str  # "stop" | "eos" | "length" | "cancelled"
    cached_tokens: int = 0  # prompt tokens taken from the prefix cache instead of prefilled


class Model(Protocol):
    """A loaded model, ready to answer; `generate` may be called from any one thread at a time."""

    backend: ClassVar[str]  # "transformers" | "llamacpp" | "openai"
    prefix_cache: ClassVar[bool]  # generate(prefix=...) keeps that prefix's attention cache across calls
    true_n: ClassVar[bool]  # n candidates are decoded together in one batch (else one after another, sharing the prompt's cache)
    grammar: ClassVar[bool]  # decoding can be constrained by a grammar (llama.cpp's GBNF)

    device: str
    load_seconds: float

    def chat_prompt(self, messages: Messages) -> str:
        """The model's own chat template, ready for the assistant's turn."""
        ...

    def chat_prefix(self, messages: Messages) -> str:
        """The rendering of leading messages alone (no assistant turn): a prefix of chat_prompt."""
        ...

    def count_tokens(self, text: str) -> int: ...

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
        """Greedy (temperature 0), or `n` sequences of which the first is the greedy one and the
        others are samples at `temperature` (top-k 50, top-p 0.95).

        Sequences are numbered from `first`: number 0 is the greedy one, so with `first` > 0
        every sequence is a sample. A backend that seeds each sample by its number returns
        the sequences a call for `first` + `n` would return from number `first` on; the others
        return as many fresh samples.

        A sequence's text ends with the first stop string it wrote (included). `on_text`
        receives the first sequence's text piece by piece, adding up to its final text. A set
        `cancel` event stops every sequence at the next token (finish "cancelled"). `prefix`,
        a leading part of `prompt` that many prompts share, has its attention cache kept for
        the next call; output is the same as without it. `grammar` (llama.cpp's GBNF) constrains
        every sequence; only a backend whose `grammar` flag is set takes one (others raise
        ValueError).
        """
        ...

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        """The log-probability that the model begins its answer to `prompt` with `text` (the
        sum over `text`'s tokens), or None where the backend cannot tell (a server that
        returns no log-probabilities of given text). `prefix` as in `generate`."""
        ...


def cut_at_stop(text: str, stop: Sequence[str], since: int = 0) -> str | None:
    """`text` up to and including the earliest stop string that ends the reply, or None when
    none occurs. The replies are SQL: a stop string inside a quoted string or name or a
    comment does not end one (a `;` in `-- ids only; names are not needed` cut the statement
    short, and the shorter one ran), nor does a ``` that opens a fence.

    A caller that grows `text` piece by piece passes how much it had already searched as
    `since`: only stop strings that end past it are looked for, so a long reply costs its
    length once rather than once per piece.
    """
    found = []
    for s in stop:
        at = text.find(s, max(0, since - len(s) + 1))
        while at >= 0 and not _ends_reply(text, at, s):
            at = text.find(s, at + 1)
        if at >= 0:
            found.append(at + len(s))
    cut = min(found, default=None)
    return None if cut is None else text[:cut]


def _ends_reply(text: str, at: int, stop: str) -> bool:
    """Whether the stop string ``stop`` found at ``at`` ends the reply (see cut_at_stop)."""
    if stop.startswith("```") and text.count("```", 0, at) % 2 == 0:
        return False
    return not in_quote_or_comment(text, at)


def plain_chat(messages: Messages, *, generation_prompt: bool) -> str:
    """The rendering for a model without a chat template."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + ("assistant: " if generation_prompt else "")


class TextStream:
    """Sends one sequence's growing text to `on_text` piece by piece; what it sends adds up to
    the sequence's final `Generation.text`: nothing past a stop string, and nothing that ends
    inside a multi-byte character until the final update.
    """

    def __init__(self, on_text: Callable[[str], None], stop: Sequence[str]) -> None:
        self.on_text = on_text
        self.stop = tuple(stop)
        self.sent = ""
        self.stopped = False  # a stop string has been sent: nothing more will be

    def update(self, text: str, *, final: bool = False) -> None:
        """`text` is the whole sequence so far (as decoded, "\ufffd" for a cut character);
        its first `len(self.sent)` characters are what was sent."""
        if self.stopped:
            return
        cut = cut_at_stop(text, self.stop, since=len(self.sent))
        text = cut or text
        if len(text) > len(self.sent) and (final or not text.endswith("\ufffd")):
            self.on_text(text[len(self.sent):])
            self.sent = text
            self.stopped = cut is not None
