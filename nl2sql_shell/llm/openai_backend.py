"""The openai backend of `llm.model.Model`: chat completions over HTTP from any OpenAI-compatible
server (vLLM, SGLang, llama-server, llama-cpp-python's server, Ollama's `/v1`), with httpx.

The server applies its own chat template, so it needs the messages, not a rendering. Here
`chat_prompt` renders them one JSON object a line (a readable, reversible text) and `generate`
reads them back from it; a prompt that is not such a rendering is sent as one user message.

Every request streams (SSE). Stop strings are found here, not sent to the server: servers
drop the stop string from the text and report it and an end-of-text token alike as "stop",
while the `Model` contract keeps it. A stream is closed once every choice in it has stopped
(or `cancel` is set), which servers take as the end of that request.

The first candidate is one greedy request (temperature 0). The others are asked for in one
request with `n`; vLLM and SGLang return that many, llama-server, llama-cpp-python's server and
Ollama return one, and then the rest are requested concurrently, one choice each (remembered
for the next calls, which then send them all at once). A server that cuts a stream short when
another request arrives (llama-cpp-python's server unless started with `--interrupt_requests
False`) gets its requests one after another from then on.

A grammar (GBNF, `Options.grammar`) goes out under each server family's own name for it:
`grammar` (llama-server, llama-cpp-python's server), `structured_outputs.grammar` (vLLM 0.10.2
and later; before, `guided_grammar`, which 0.12 dropped) and `ebnf` (SGLang). Servers ignore
the names they do not know (so an older vLLM writes unconstrained), and OpenAI's own API,
which takes none, answers an error.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from nl2sql_shell.llm.model import Generation, Messages, TextStream, cut_at_stop

API_KEY_VARIABLES = ("NL2SQL_SHELL_API_KEY", "OPENAI_API_KEY")
TOP_P = 0.95  # as the other backends sample (top-k is not an OpenAI parameter: the server's own)
CONNECT_SECONDS, READ_SECONDS = 10.0, 300.0
_ANSWER = '{"role": "assistant"}\n'  # ends chat_prompt: the assistant's turn is next
_CANCEL_POLL_S = 0.1  # how often a wait for the server looks at the cancel event
_MAX_EVENT_BYTES = 1 << 20  # a longer line is no event of a chat stream (a server sending without end)
_ERROR_BODY_BYTES = 1 << 16  # what is read of an error's body (a server may send one without end)
_MODELS_BYTES, _MODELS_SECONDS = 16 << 20, 30.0  # the model list: read at most this much, for at most this long
_MAX_CHARS_PER_TOKEN = 16  # a reply longer than max_tokens of these is cut there (a server sending many tokens a piece)


class ModelServerError(RuntimeError):
    """A request to the model server failed; the message is one line with the URL and reason."""


class _CutShort(Exception):
    """The server ended a stream before a choice had finished (and nothing asked it to)."""


def shown_url(url: str) -> str:
    """``url`` as messages, logs and eval's summary show it: a password in it (`http://u:s@h/v1`,
    which httpx sends as Basic authentication) as ``***``, as psql never shows one."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def api_key() -> str | None:
    return next((os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), None)


def load_openai(url: str, name: str | None, progress: Callable[[str], None]) -> OpenAIModel:
    """Connect to the server at base `url` (…/v1) and pick its model `name` (default: its only
    model); raises ModelLoadError with one line when that fails."""
    from nl2sql_shell.llm.load import ModelLoadError

    base = url.rstrip("/")
    shown = shown_url(base)
    progress(f"asking {shown} for its models")
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {key}"} if (key := api_key()) else {}
    client = httpx.Client(headers=headers, timeout=httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS))
    try:
        with client.stream("GET", f"{base}/models", timeout=CONNECT_SECONDS) as response:
            body = _read_body(response, limit=_ERROR_BODY_BYTES if response.status_code >= 400 else _MODELS_BYTES, deadline=time.monotonic() + _MODELS_SECONDS)
        if response.status_code == 404 and name is not None:  # a server without a model list: the name given is the one
            served = [name]
        else:
            _checked(response, body)
            served = [entry["id"] for entry in json.loads(body).get("data", [])]
        if not all(isinstance(model, str) for model in served):
            raise ValueError(f"model ids that are not strings: {str(served)[:80]}")
    except (httpx.HTTPError, ModelServerError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        client.close()
        raise ModelLoadError(f"no model server at {shown}: {_reason(exc, shown, CONNECT_SECONDS)}") from None
    if name is None and len(served) != 1:
        client.close()
        raise ModelLoadError(f"{shown} serves {len(served)} models ({_listed(served)}): pass --model NAME")
    if name is not None and name not in served:
        client.close()
        raise ModelLoadError(f"{shown} does not serve a model named {name!r}; it serves: {_listed(served)}")
    return OpenAIModel(client=client, base=base, name=name or served[0], load_seconds=time.perf_counter() - started)


@dataclass
class OpenAIModel:
    """A model on an OpenAI-compatible server; `device` is the server's base URL."""

    backend: ClassVar[str] = "openai"
    prefix_cache: ClassVar[bool] = False  # the server keeps its own
    true_n: ClassVar[bool] = False
    grammar: ClassVar[bool] = True  # sent as each server family names it: see _Request.run

    client: httpx.Client
    base: str
    name: str
    load_seconds: float
    honours_n: bool | None = None  # whether the server returns `n` choices for one request (None: not yet seen)
    concurrent: bool = True  # False once the server cut a stream short while another request ran

    @property
    def device(self) -> str:
        return shown_url(self.base)

    # -- the Model interface ------------------------------------------------------------------------
    def chat_prompt(self, messages: Messages) -> str:
        return self.chat_prefix(messages) + _ANSWER

    def chat_prefix(self, messages: Messages) -> str:
        return "".join(json.dumps({"role": m["role"], "content": m["content"]}, ensure_ascii=False) + "\n" for m in messages)

    def count_tokens(self, text: str) -> int:
        """An estimate, a token per 3 characters (SQL and English run 3-4): OpenAI's API has no
        tokenize endpoint, and the few servers that do each name theirs differently."""
        return (len(text) + 2) // 3

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
        """See `Model.generate` (`prefix` is left to the server's own cache); raises
        ModelServerError (one line) when the server cannot be reached or answers an error."""
        del prefix
        request = _Request(self, _messages(prompt), max_new_tokens, tuple(stop), cancel, time.perf_counter(), grammar)
        stream = TextStream(on_text, stop) if on_text is not None else None
        if self.concurrent:
            try:
                return self._generate(request, stream, n, temperature, first, workers=8)
            except _CutShort:
                self.concurrent = False  # and again, one request at a time (greedy repeats what was streamed)
        try:
            return self._generate(request, stream, n, temperature, first, workers=1)
        except _CutShort:
            raise ModelServerError(f"model server {self.device} ended a reply early, with no reason given") from None

    def logprob(self, prompt: str, text: str, *, prefix: str | None = None) -> float | None:
        """None: the chat API gives log-probabilities of what the server writes, not of a
        given answer, and servers differ in how (or whether) they score a prompt."""
        return None

    def _generate(self, request: _Request, stream: TextStream | None, n: int, temperature: float, first: int, *, workers: int) -> list[Generation]:
        """With one worker the requests run one after another, in the order they are made.
        Number 0 is the greedy sequence; from `first` > 0 on all are samples (the first one
        streamed)."""
        cancel = request.cancel
        samples = n - 1 if temperature > 0 else 0
        pool = _DaemonPool(max(1, min(samples + 1, workers)))
        try:
            lead = pool.submit(request.run, 1, temperature if first > 0 else 0.0, stream)
            if samples and self.honours_n is False:
                batches = [pool.submit(request.run, 1, temperature, None) for _ in range(samples)]
            else:
                batches = [pool.submit(request.run, samples, temperature, None)] if samples else []
            results = _waited(lead, cancel)
            drawn = [g for batch in batches for g in _waited(batch, cancel)]
            if samples > 1 and self.honours_n is None and not (cancel is not None and cancel.is_set()):
                self.honours_n = len(drawn) >= samples
            missing = samples - len(drawn)
            if missing > 0 and not (cancel is not None and cancel.is_set()):
                drawn += [g for batch in [pool.submit(request.run, 1, temperature, None) for _ in range(missing)] for g in _waited(batch, cancel)]
        finally:
            pool.shutdown()  # a request still waiting on a silent server ends on its own
        if not results:
            results = [Generation("", 0, 0, 0.0, time.perf_counter() - request.started, "cancelled")]
        results += drawn[:samples]
        while len(results) < n:  # greedy (or cancelled): the rest are copies of the first
            results.append(Generation(**vars(results[0])))
        return results


class _DaemonPool:
    """ThreadPoolExecutor's submit and shutdown(cancel_futures=True), its requests run in
    order on daemon threads: a request left blocked on a silent server after Ctrl-C (until its
    read timeout, minutes) must not hold the shell's exit, which joins an executor's threads."""

    def __init__(self, workers: int) -> None:
        self._work: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._futures: list[Future] = []
        self._workers = workers
        for _ in range(workers):
            threading.Thread(target=self._serve, name="model-request", daemon=True).start()

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            future, function, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as exc:  # noqa: BLE001 - the caller's, through the future
                    future.set_exception(exc)

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._futures.append(future)
        self._work.put((future, function, args))
        return future

    def shutdown(self) -> None:
        """Requests not started are dropped; the workers end after the ones running."""
        for future in self._futures:
            future.cancel()
        for _ in range(self._workers):
            self._work.put(None)


@dataclass
class _Request:
    """The parts of one `generate` call that every request shares."""

    model: OpenAIModel
    messages: Messages
    max_new_tokens: int
    stop: tuple[str, ...]
    cancel: threading.Event | None
    started: float
    grammar: str | None = None

    def run(self, n: int, temperature: float, stream: TextStream | None) -> list[Generation]:
        """One streamed request for `n` choices (the server may return fewer)."""
        body: dict[str, Any] = {
            "model": self.model.name,
            "messages": self.messages,
            "n": n,
            "temperature": temperature,
            "max_tokens": self.max_new_tokens,
            "stream": True,
        }
        if temperature > 0:
            body |= {"top_p": TOP_P, "seed": random.getrandbits(31)}
        if self.grammar is not None:  # llama-server and llama-cpp-python's; vLLM's (0.10.2 on); SGLang's
            body |= {"grammar": self.grammar, "structured_outputs": {"grammar": self.grammar}, "ebnf": self.grammar}
        url = f"{self.model.base}/chat/completions"
        choices: dict[int, _Choice] = {}
        since_all_stopped = 0  # events read while every choice seen so far had stopped
        try:
            with self.model.client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    _checked(response, _read_body(response, limit=_ERROR_BODY_BYTES, cancel=self.cancel))
                for chunk in _events(response, self.cancel):
                    if self.cancel is not None and self.cancel.is_set():
                        break
                    for part in _parts(chunk):
                        if not 0 <= (index := part.get("index", 0)) < n:  # (a choice not asked for)
                            continue
                        choice = choices.setdefault(index, _Choice())
                        choice.add(part, self, stream if index == 0 else None)
                    if choices and all(c.finish for c in choices.values()):
                        # A server that returns fewer than `n` choices goes on with the ones it
                        # has; one that returns them all has started each within a few events.
                        since_all_stopped += 1
                        if len(choices) >= n or since_all_stopped > n + 2:
                            break
        except httpx.HTTPError as exc:
            raise ModelServerError(f"model server {self.model.device}: {_reason(exc, self.model.device)}") from None
        except (ValueError, RecursionError) as exc:  # (JSON nested past Python's stack)
            raise ModelServerError(f"model server {self.model.device}: not an OpenAI-compatible event stream ({str(exc)[:200]})") from None
        if self.cancel is not None and self.cancel.is_set():
            for choice in choices.values():
                choice.finish = choice.finish or "cancelled"
            choices.setdefault(0, _Choice(finish="cancelled"))
        elif not choices or any(c.finish is None for c in choices.values()):
            raise _CutShort
        if stream is not None and 0 in choices:
            stream.update(choices[0].text, final=True)
        prompt_tokens = self.model.count_tokens("".join(m["content"] for m in self.messages))
        return [
            Generation(c.text, prompt_tokens, c.tokens, (c.first_at or time.perf_counter()) - self.started, (c.done_at or time.perf_counter()) - self.started, c.finish or "length")
            for _, c in sorted(choices.items())
        ]


@dataclass
class _Choice:
    text: str = ""
    tokens: int = 0
    events: int = 0
    finish: str | None = None
    first_at: float | None = None
    done_at: float | None = None

    def add(self, part: dict[str, Any], request: _Request, stream: TextStream | None) -> None:
        """One streamed piece. The request's stop strings and token limit are applied here
        too: a server that ignores them must not stream a reply without end."""
        if self.finish:
            return
        piece = (part.get("delta") or {}).get("content") or ""
        self.events += 1
        if self.events > 2 * request.max_new_tokens + 8:  # pieces without text, without end
            self.finish = "length"
        if piece and not self.finish:
            self.first_at = self.first_at or time.perf_counter()
            self.tokens += 1
            searched, self.text = len(self.text), self.text + piece
            if len(self.text) > (most := request.max_new_tokens * _MAX_CHARS_PER_TOKEN):  # many tokens a piece, past the limit
                self.text, self.finish = self.text[:most], "length"
            if stream is not None:
                stream.update(self.text)
            if (cut := cut_at_stop(self.text, request.stop, since=searched)) is not None:
                self.text, self.finish = cut, "stop"
            elif self.tokens >= request.max_new_tokens:
                self.finish = "length"
        reason = part.get("finish_reason")
        if not self.finish and reason:
            self.finish = "length" if reason == "length" else "eos"
        if self.finish:
            self.done_at = time.perf_counter()


def _waited(request: Future, cancel: threading.Event | None) -> list[Generation]:
    """A request's generations; none once ``cancel`` is set before it ends: a server that
    sends nothing (loading, or stalled) must not hold Ctrl-C until its read timeout."""
    while True:
        try:
            return request.result(timeout=_CANCEL_POLL_S)
        except FutureTimeout:
            if cancel is not None and cancel.is_set():
                return []


def _events(response: httpx.Response, cancel: threading.Event | None):
    """The JSON objects of a server-sent event stream, up to `[DONE]` (or ``cancel``)."""
    for line in _lines(response, cancel):
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if isinstance(event, dict) and event.get("error"):
            raise ModelServerError(f"model server {response.url}: {_error_text(event)}")
        yield event


def _lines(response: httpx.Response, cancel: threading.Event | None):
    """The stream's lines (ended by LF, CRLF or CR), read as the server sends them: ``cancel``
    is looked at for every piece that arrives, so a line without end cannot hold a question
    (nor fill memory: past _MAX_EVENT_BYTES it is an error)."""
    pending = b""
    for data in response.iter_bytes():
        if cancel is not None and cancel.is_set():
            return
        *lines, pending = _LINE_END.split(pending + data)
        for line in lines:
            yield line.decode("utf-8", "replace")
        if len(pending) > _MAX_EVENT_BYTES:
            raise ValueError(f"a line longer than {_MAX_EVENT_BYTES >> 20} MiB")
    if pending:
        yield pending.decode("utf-8", "replace")


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _parts(event: Any) -> list[dict[str, Any]]:
    """The choices of one event, their fields of the types read here; ValueError (an event
    stream that is not OpenAI's) says what is not."""
    choices = event.get("choices") or [] if isinstance(event, dict) else None
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise ValueError(f"an event without a list of choices: {json.dumps(event)[:80]}")
    for choice in choices:
        delta = choice.get("delta") or {}
        if not (isinstance(delta, dict) and isinstance(delta.get("content") or "", str) and isinstance(choice.get("index", 0), int) and isinstance(choice.get("finish_reason") or "", str)):
            raise ValueError(f"a choice of another shape: {json.dumps(choice)[:80]}")
    return choices


def _messages(prompt: str) -> Messages:
    """The messages `chat_prompt` rendered into `prompt`; any other text as one user message."""
    if prompt.endswith(_ANSWER):
        try:
            messages = [json.loads(line) for line in prompt[: -len(_ANSWER)].splitlines()]
            if messages and all(isinstance(m, dict) and set(m) == {"role", "content"} for m in messages):
                return messages
        except ValueError:
            pass
    return [{"role": "user", "content": prompt}]


def _read_body(response: httpx.Response, *, limit: int, cancel: threading.Event | None = None, deadline: float | None = None) -> bytes:
    """At most ``limit`` bytes of a body (a server may send one without end), read until
    ``cancel`` is set or past ``deadline`` (a server dripping it); ModelServerError then."""
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit or (cancel is not None and cancel.is_set()):
            break
        if deadline is not None and time.monotonic() > deadline:
            raise ModelServerError(f"{response.url} sent no whole answer within {_MODELS_SECONDS:.0f} s")
    return bytes(data[:limit])


def _checked(response: httpx.Response, body: bytes) -> None:
    """ModelServerError (one line) for an HTTP error, its reason read from ``body``."""
    if response.status_code >= 400:
        try:
            reason = _error_text(json.loads(body))
        except (ValueError, RecursionError):
            text = body.decode("utf-8", "replace").strip()
            reason = text.splitlines()[0][:200] if text else response.reason_phrase
        raise ModelServerError(f"HTTP {response.status_code} from {response.url}: {reason}")


def _listed(names: list[str], most: int = 10) -> str:
    shown = ", ".join(names[:most]) or "none"
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _error_text(body: Any) -> str:
    error = body.get("error") or body if isinstance(body, dict) else body
    text = error.get("message") or error.get("detail") or json.dumps(error) if isinstance(error, dict) else str(error)
    return str(text).strip().splitlines()[0] if str(text).strip() else "error"


def _reason(exc: BaseException, base: str, seconds: float = READ_SECONDS) -> str:
    """One line for what went wrong; ``seconds``: the read timeout of the request that failed."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {seconds:.0f} s" if isinstance(exc, httpx.ReadTimeout) else "timed out connecting"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({str(exc).strip().splitlines()[0] if str(exc).strip() else 'refused'})"
    if isinstance(exc, ModelServerError):
        return str(exc)
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text.splitlines()[0]}" if text else exc.__class__.__name__
