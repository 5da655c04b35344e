"""One model for many threads: each call waits its turn, first come first served.

A model may be called from one thread at a time (`Model`). The proxy answers many clients'
questions at once with one model: what a question does without the model (reading the
schema, checking and voting on candidates over the client's own connection, which can wait
on locks or slow plans) must not hold the other clients' questions, so the proxy runs each
question in its own thread and only the model's calls take turns here. Turns are handed over
in arrival order, so a busy client cannot starve another; a question cancelled while it
waits for its turn leaves the queue at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nl2sql_shell.llm.model import Generation, Messages, Model

_POLL_S = 0.05  # how often a waiting call looks at its cancel event


class _Turns:
    """A first-come-first-served lock whose wait a cancel event can end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._busy = False

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """True once it is this caller's turn; False when ``cancel`` was set first."""
        mine = threading.Event()
        with self._lock:
            if not self._busy:
                self._busy = True
                return True
            self._waiting.append(mine)
        while not mine.wait(_POLL_S):
            if cancel is not None and cancel.is_set():
                with self._lock:
                    if mine in self._waiting:
                        self._waiting.remove(mine)
                        return False
                break  # the turn was handed over just now: it is this caller's to use and release
        return True

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the turn passes on without the lock coming free
            else:
                self._busy = False


class TurnCancelled(Exception):
    """The question was cancelled while its model call waited for its turn."""


class SharedModel:
    """``model`` behind `_Turns`; its attributes (backend, flags, device, name) read through.

    A thread that asks inside `asking(cancel)` leaves the queue when ``cancel`` is set
    (`TurnCancelled`), whichever call it waits in: the first are the prompt's token counts."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._turns = _Turns()
        self._thread = threading.local()

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    @contextmanager
    def asking(self, cancel: threading.Event) -> Iterator[None]:
        self._thread.cancel = cancel
        try:
            yield
        finally:
            self._thread.cancel = None

    def _in_turn(self, call: Callable, *args, **kwargs):
        if not self._turns.acquire(getattr(self._thread, "cancel", None)):
            raise TurnCancelled("generation stopped")
        try:
            return call(*args, **kwargs)
        finally:
            self._turns.release()

    def chat_prompt(self, messages: Messages) -> str:
        return self._in_turn(self.model.chat_prompt, messages)

    def chat_prefix(self, messages: Messages) -> str:
        return self._in_turn(self.model.chat_prefix, messages)

    def count_tokens(self, text: str) -> int:
        return self._in_turn(self.model.count_tokens, text)

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        return self._in_turn(self.model.logprob, prompt, text, prefix=prefix)

    def generate(self, prompt: str, **options) -> list[Generation]:
        return self._in_turn(self.model.generate, prompt, **options)


def shared(model: Model | SharedModel) -> SharedModel:
    """``model`` ready for many threads (itself when it already is)."""
    return model if isinstance(model, SharedModel) else SharedModel(model)
