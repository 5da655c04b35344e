"""Model servers that misbehave: one that accepts a question and then sends nothing (still
loading, stalled, or sending only keep-alive comments), where Ctrl-C must not wait for its read
timeout; one that ignores the request's token limit and streams without end."""

from __future__ import annotations

import http.server
import json
import threading
import time

import httpx
import pytest

from nl2sql_shell.llm.model import TextStream
from nl2sql_shell.llm.openai_backend import ModelServerError, OpenAIModel


class _Silent(http.server.BaseHTTPRequestHandler):
    """Answers a chat request with an event stream that sends only comments, for 20 s."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for _ in range(40):
            try:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)

    def log_message(self, *args) -> None:
        pass


class _Endless(http.server.BaseHTTPRequestHandler):
    """Answers a chat request with "x " pieces for 20 s, whatever max_tokens says."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "x "}}]}).encode() + b"\n\n"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.wfile.write(event * 50)
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, *args) -> None:
        pass


def _model(handler: type[http.server.BaseHTTPRequestHandler]):
    """A client of a server running `handler`, and the server (shut it down after)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return OpenAIModel(client=httpx.Client(timeout=60), base=f"http://127.0.0.1:{server.server_address[1]}/v1", name="m", load_seconds=0.0), server


def test_cancel_ends_a_question_the_server_answers_nothing_to():
    model, server = _model(_Silent)
    try:
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        results = model.generate("hi", max_new_tokens=50, n=2, temperature=0.7, cancel=cancel)
        assert time.monotonic() - started < 3
        assert [r.finish for r in results] == ["cancelled", "cancelled"]
    finally:
        server.shutdown()


def test_a_server_that_ignores_the_token_limit_is_cut_at_it():
    model, server = _model(_Endless)
    try:
        streamed: list[str] = []
        started = time.monotonic()
        result = model.generate("hi", max_new_tokens=40, on_text=streamed.append)[0]
        assert time.monotonic() - started < 5
        assert (result.text, result.new_tokens, result.finish) == ("x " * 40, 40, "length")
        assert "".join(streamed) == result.text
    finally:
        server.shutdown()


def test_a_long_streamed_reply_is_searched_for_stops_once():
    """800 KB in 40-character pieces: searching the whole text again at every piece took
    12 s here (1.7 s now, most of it building the text); the stop string at its end is still
    found, and nothing after it is sent."""
    sent: list[str] = []
    stream = TextStream(sent.append, (";", "```\n"))
    text = "```sql\n"  # (a ``` ends a reply where it closes a fence)
    started = time.monotonic()
    for _ in range(20_000):
        text = text + "abc`" * 10
        stream.update(text)
    stream.update(text + "``\nmore;")
    stream.update(text + "``\nmore; and more", final=True)
    assert time.monotonic() - started < 6
    assert "".join(sent) == text + "``\n" and stream.stopped


class _NoLineEnd(http.server.BaseHTTPRequestHandler):
    """Answers with 64 KB pieces of one line that never ends, until the client goes."""

    ended = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.wfile.write(b"x" * 65536)
                self.wfile.flush()
            except OSError:
                _NoLineEnd.ended.set()
                return
            time.sleep(0.05)  # a mebibyte in 0.8 s

    def log_message(self, *args) -> None:
        pass


def test_a_line_without_end_is_let_go_at_cancel_and_refused_past_a_mebibyte():
    """Lines were read whole, however long: Ctrl-C came back, but the request's thread read on
    and the shell's memory grew until the OS killed it (4 GB)."""
    model, server = _model(_NoLineEnd)
    try:
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        assert model.generate("hi", max_new_tokens=50, cancel=cancel)[0].finish == "cancelled"
        assert _NoLineEnd.ended.wait(10)  # the connection was closed: nothing reads on
        with pytest.raises(ModelServerError, match="a line longer than 1 MiB"):
            model.generate("hi", max_new_tokens=50)
    finally:
        server.shutdown()


class _Shaped(http.server.BaseHTTPRequestHandler):
    """Answers with the event the request's first message names (see the test)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b"data: " + body["messages"][0]["content"].encode() + b"\n\ndata: [DONE]\n\n")

    def log_message(self, *args) -> None:
        pass


def test_a_reply_of_another_shape_is_one_line_and_a_huge_piece_is_cut_at_the_limit():
    """JSON of another shape gave Python's words (`'int' object has no attribute 'get'`), and
    `bench` a traceback; a 15 MB answer in one piece passed the token limit (a piece was one
    token) and its parse held Ctrl-C."""
    model, server = _model(_Shaped)
    try:
        for event in ("5", '{"choices": ["x"]}', '{"choices": [{"delta": {"content": 5}}]}', '{"choices": [{"index": [0], "delta": {}}]}'):
            with pytest.raises(ModelServerError, match="not an OpenAI-compatible event stream"):
                model.generate(event, max_new_tokens=50)
        huge = json.dumps({"choices": [{"index": 0, "delta": {"content": "y" * 500_000}, "finish_reason": "stop"}]})
        result = model.generate(huge, max_new_tokens=50)[0]
        assert (len(result.text), result.finish) == (50 * 16, "length")
    finally:
        server.shutdown()


def test_choices_not_asked_for_and_json_nested_past_the_stack_are_no_answer():
    """A server answering n=1 with 1,000 finished choices had every one checked (53 s); JSON
    nested 100,000 deep was Python's RecursionError (a traceback in bench)."""
    model, server = _model(_Shaped)
    try:
        many = json.dumps({"choices": [{"index": i, "delta": {"content": "SELECT 1"}, "finish_reason": "stop"} for i in range(1000)]})
        assert len(model.generate(many, max_new_tokens=50)) == 1
        with pytest.raises(ModelServerError, match="not an OpenAI-compatible event stream"):
            model.generate("[" * 100_000, max_new_tokens=50)
    finally:
        server.shutdown()


class _EndlessError(http.server.BaseHTTPRequestHandler):
    """HTTP 500 with a body that never ends; or, for a request that says "empty", a stream of
    pieces without text that never ends."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        empty = body["messages"][0]["content"] == "empty"
        self.send_response(200 if empty else 500)
        self.send_header("Content-Type", "text/event-stream" if empty else "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {}}]}).encode() + b"\n\n" if empty else b"x" * 65536
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.001)

    def log_message(self, *args) -> None:
        pass


def test_an_error_body_without_end_and_pieces_without_text_end():
    """An HTTP error's body was read whole (8 GB, and on after Ctrl-C); a stream of empty pieces
    never ended (`-c`, eval and the proxy waited for ever)."""
    model, server = _model(_EndlessError)
    try:
        started = time.monotonic()
        with pytest.raises(ModelServerError, match="HTTP 500"):
            model.generate("hi", max_new_tokens=50)
        assert model.generate("empty", max_new_tokens=50)[0].finish == "length"
        assert time.monotonic() - started < 10
    finally:
        server.shutdown()


class _Mute(http.server.BaseHTTPRequestHandler):
    """Sends the headers of an event stream, then nothing for 30 s."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        time.sleep(30)

    def log_message(self, *args) -> None:
        pass


def test_the_process_ends_at_once_after_a_question_to_a_silent_server_is_cancelled(tmp_path):
    """The request's thread, blocked on the silent server until its read timeout (300 s), was
    joined at exit: `\\q` after Ctrl-C hung, and a second Ctrl-C printed a traceback."""
    import subprocess
    import sys

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Mute)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = (
        "import threading, httpx\n"
        "from nl2sql_shell.llm.openai_backend import OpenAIModel\n"
        f"model = OpenAIModel(client=httpx.Client(timeout=300), base='http://127.0.0.1:{server.server_address[1]}/v1', name='m', load_seconds=0.0)\n"
        "cancel = threading.Event(); threading.Timer(0.3, cancel.set).start()\n"
        "print(model.generate('hi', max_new_tokens=50, cancel=cancel)[0].finish)\n"
    )
    try:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.stdout == "cancelled\n" and time.monotonic() - started < 15, done.stderr
    finally:
        server.shutdown()


class _NoModelList(_Shaped):
    """Answers chats as _Shaped does, and GET /v1/models with 404, as servers without a list do."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"no")


def test_a_server_without_a_model_list_serves_the_model_named():
    """`--model NAME` still asked GET /v1/models and gave up at its 404, although the
    chat-completions endpoint answered; without a name the list is needed (one line)."""
    from nl2sql_shell.llm.load import ModelLoadError
    from nl2sql_shell.llm.openai_backend import load_openai

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoModelList)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        model = load_openai(url, "m", lambda _: None)
        event = json.dumps({"choices": [{"index": 0, "delta": {"content": "SELECT 1"}, "finish_reason": "stop"}]})
        assert model.generate(event, max_new_tokens=10)[0].text == "SELECT 1"
        with pytest.raises(ModelLoadError, match="HTTP 404"):
            load_openai(url, None, lambda _: None)
    finally:
        server.shutdown()


class _Models(http.server.BaseHTTPRequestHandler):
    """Lists one model, and keeps the Authorization header it was sent."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Models.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"data": [{"id": "m"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_password_in_the_model_url_is_sent_but_never_shown():
    """The proxy's start-up line and eval's summary.json showed `http://u:s3cret@...` as typed."""
    from nl2sql_shell.llm.load import ModelLoadError
    from nl2sql_shell.llm.openai_backend import load_openai

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        said: list[str] = []
        model = load_openai(f"http://u:s3cret@127.0.0.1:{server.server_port}/v1", None, said.append)
        model.client.close()
        assert _Models.seen == ["Basic dTpzM2NyZXQ="]  # httpx still authenticates with it
        assert model.device == f"http://u:***@127.0.0.1:{server.server_port}/v1"
        assert said == [f"asking http://u:***@127.0.0.1:{server.server_port}/v1 for its models"]
        with pytest.raises(ModelLoadError) as refused:
            load_openai(f"http://u:s3cret@127.0.0.1:{server.server_port}/v1", "other", said.append)
        assert "s3cret" not in str(refused.value) and "u:***@" in str(refused.value)
    finally:
        server.shutdown()
