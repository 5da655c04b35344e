"""A model server that accepts a question and then sends nothing (still loading, stalled, or
sending only keep-alive comments): Ctrl-C must not wait for its read timeout."""

from __future__ import annotations

import http.server
import threading
import time

import httpx

from nl2sql_shell.llm.openai_backend import OpenAIModel


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


def test_cancel_ends_a_question_the_server_answers_nothing_to():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = OpenAIModel(client=httpx.Client(timeout=60), base=f"http://127.0.0.1:{server.server_address[1]}/v1", name="m", load_seconds=0.0)
        cancel = threading.Event()
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        results = model.generate("hi", max_new_tokens=50, n=2, temperature=0.7, cancel=cancel)
        assert time.monotonic() - started < 3
        assert [r.finish for r in results] == ["cancelled", "cancelled"]
    finally:
        server.shutdown()
