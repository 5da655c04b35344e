"""`nl2sql-shell bench --demo-questions`: whole `?` answers on the demo database, per backend.

What a user feels is the time of a whole answer (schema linking, the prompt, 4 voted
candidates, the checks, the vote), not a bare generate call: so every question goes through
the real `Asker.ask` on a connection to `nl2sql_demo`, as the shell asks it.

Each backend runs in its own worker process, so that its peak RSS is its own (the llama.cpp
path must not import torch, and a process that ever held the float copy never gives that memory
back). Both workers stay alive and answer the same question one after the other, in turns
whose order flips from question to question, so that a busy machine slows both alike and the
ratios hold even when the absolute times do not. The first question is reported apart: it
reads the catalog and prefills the schema, which every later question finds cached.

The worker speaks JSON lines: it is this module run with `python -m`, reading questions on
stdin and writing one object per answer on the stdout it was started with (anything the model
libraries print goes to stderr instead).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import IO

from nl2sql_shell.bench.speed import Report, Timing, faster

# What an analyst new to the demo bank asks: counts, top-N, time windows, joins across the
# five tables, the two views, statuses and types. Fixed, so runs on different days compare.
QUESTIONS: tuple[str, ...] = (
    "How many customers does the bank have in each country?",
    "Which 5 merchants received the most completed payments last month?",
    "What was the bank's fee revenue per month in 2025?",
    "How many transactions of each type were made in the last 30 days?",
    "Which branches hold the most accounts?",
    "What is the average amount of completed payments in each currency?",
    "List the 10 customers with the highest balance.",
    "How many accounts have been closed?",
    "How many transactions failed in each month of 2025?",
    "Which merchant categories had the highest total payment amount this year?",
    "How many customers signed up each year?",
    "Show the credit accounts with a credit limit above 5000.",
    "What is the total amount refunded by each merchant?",
    "Which customers hold more than 3 accounts?",
    "What was the largest deposit and when was it made?",
    "How many pending transactions are there per currency?",
    "List the branches opened before 2010 with their city and country.",
    "What is the average credit card debt of customers in each country?",
    "Which customers made no transactions in 2025?",
    "How many merchants are there in each category?",
    "Which 3 customers sent the most transfers?",
    "How many completed transactions were there per month in the last 6 months?",
    "What is the total withdrawal amount per branch?",
    "Which customers were born before 1960 and live in Germany?",
)
BACKENDS = ("llamacpp", "transformers")
BATCH_FIRST = "+batch"  # after a backend's name: all candidates in one batch (Options.greedy_first off)


@dataclass
class Answered:
    """One whole answer as a worker timed it (the pipeline's own `answer.timings`)."""

    kind: str
    total_s: float
    schema_s: float  # catalog (first question only), table selection
    first_token_s: float  # prefill: the prompt after the cached schema head
    generate_s: float  # every generation round, repairs included
    prompt_tokens: int
    generated_tokens: int
    rounds: int  # 1: the first candidates were enough; more: repair rounds ran

    @property
    def checks_s(self) -> float:
        """What is neither linking nor generation: rules, checks, proof, EXPLAIN and the vote."""
        return self.total_s - self.schema_s - self.generate_s


@dataclass
class Finished:
    """What a worker says when its questions are done."""

    peak_rss_gib: float
    torch_imported: bool


# --------------------------------------------------------------------------- the worker


def serve(setup: str, model: str, conninfo: str, protocol: IO[str]) -> None:
    """Load `model` with the setup's backend, then answer each question read on stdin until it
    closes."""
    import psycopg

    from nl2sql_shell.bench.memory import peak_rss_gib
    from nl2sql_shell.llm.load import ModelLoadError, ModelSpec, load_model
    from nl2sql_shell.nl2sql.pipeline import Asker, Options

    def say(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        loaded = load_model(ModelSpec(model=model, backend=setup.removesuffix(BATCH_FIRST), device="cpu"))
    except ModelLoadError as exc:
        say({"error": str(exc)})
        return
    say({"load_s": loaded.load_seconds})
    asker = Asker(loaded, Options(greedy_first=Options.greedy_first and not setup.endswith(BATCH_FIRST)))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for line in sys.stdin:
            answer = asker.ask(line.strip(), conn)
            timings = answer.timings
            say(asdict(Answered(
                kind=answer.kind,
                total_s=timings["total_s"],
                schema_s=timings.get("schema_s", 0.0),
                first_token_s=timings.get("first_token_s", 0.0),
                generate_s=timings.get("generate_s", 0.0),
                prompt_tokens=answer.prompt_tokens,
                generated_tokens=answer.generated_tokens,
                rounds=answer.rounds,
            )))
    say(asdict(Finished(peak_rss_gib(), "torch" in sys.modules)))


# --------------------------------------------------------------------------- the driver


class _Worker:
    """One backend's worker process and the pipe that drives it."""

    def __init__(self, backend: str, model: str, conninfo: str) -> None:
        self.backend = backend
        self.log = tempfile.TemporaryFile(mode="w+")  # its stderr, shown only if it fails
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, backend, model, conninfo],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
        )
        self.load_s = self._read()["load_s"]
        self.ready_s = time.perf_counter() - started  # process start, imports and load

    def ask(self, question: str) -> Answered:
        self.process.stdin.write(question.replace("\n", " ") + "\n")
        self.process.stdin.flush()
        return Answered(**self._read())

    def finish(self) -> Finished:
        self.process.stdin.close()
        finished = Finished(**self._read())
        self.process.wait()
        self.log.close()
        return finished

    def stop(self) -> None:
        """Used when the run fails: end the worker, whatever it was doing."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.log.seek(0)
            tail = self.log.read()[-2000:]
            raise RuntimeError(f"the {self.backend} worker ended (exit code {self.process.returncode}):\n{tail}")
        message = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"{self.backend}: {message['error']}")
        return message


def run_demo_questions(
    model: str, conninfo: str, *, backends: Sequence[str] = BACKENDS, limit: int | None = None, progress: Callable[[str], None] = lambda _: None
) -> Report:
    """Every demo question (the first `limit`) through each backend's worker, in turns."""
    questions = QUESTIONS[:limit] if limit else QUESTIONS
    workers: dict[str, _Worker] = {}
    try:
        for backend in backends:  # one at a time, so that neither load slows the other
            progress(f"loading {backend} in its own process")
            workers[backend] = _Worker(backend, model, conninfo)
        answers: dict[str, list[Answered]] = {backend: [] for backend in backends}
        for number, question in enumerate(questions):
            order = list(backends) if number % 2 == 0 else list(reversed(backends))
            for backend in order:
                answered = workers[backend].ask(question)
                answers[backend].append(answered)
                progress(f"question {number + 1} of {len(questions)}, {backend}: {answered.total_s:.2f} s ({answered.kind}, "
                         f"first token {answered.first_token_s:.2f} s, generation {answered.generate_s:.2f} s, "
                         f"{answered.generated_tokens} tokens, {answered.rounds} round{'s' * (answered.rounds != 1)})")
        finished = {backend: worker.finish() for backend, worker in workers.items()}
    finally:
        for worker in workers.values():
            worker.stop()
    return _report(workers, answers, finished, len(questions))


def _report(workers: dict[str, _Worker], answers: dict[str, list[Answered]], finished: dict[str, Finished], count: int) -> Report:
    report = Report()
    report.add("run", f"{count} questions, each answered by every backend in turn (order flipped each question), "
                      f"each backend in its own process; p50/p95 exclude the first question")
    backends = list(workers)

    def row(label: str, values: dict[str, float], unit: str, better: str | None = "lower", digits: int = 2) -> None:
        """One figure per setup, and the first's against the second's when two ran:
        `better` "lower" (a time), "higher" (a rate) or None (a size, given as a fraction)."""
        text = ", ".join(f"{backend} {values[backend]:.{digits}f}{unit}" for backend in backends)
        if len(backends) == 2 and min(values.values()) > 0:
            (first, ours), (second, theirs) = values.items()
            if better == "lower":
                text += f" ({first} {faster(theirs, ours)})"
            else:
                text += f" ({first} {ours / theirs:.{1 if better else 2}f}x{'' if better else f' of {second}'})"
        report.add(label, text)

    def later(backend: str) -> list[Answered]:
        return answers[backend][1:] or answers[backend]  # one question only: it is all there is

    row("model load", {b: workers[b].load_s for b in backends}, " s")
    row("process start to model loaded", {b: workers[b].ready_s for b in backends}, " s")
    row("first question", {b: answers[b][0].total_s for b in backends}, " s")
    row("per question p50", {b: statistics.median(a.total_s for a in later(b)) for b in backends}, " s")
    row("per question p95", {b: _p95([a.total_s for a in later(b)]) for b in backends}, " s")
    row("time to first token p50", {b: statistics.median(a.first_token_s for a in later(b)) for b in backends}, " s")
    decode = {b: _decode_rate(later(b)) for b in backends}
    if all(decode.values()):
        row("decode, all candidates (single-round answers)", decode, " tokens/s", better="higher", digits=1)
    row("  p50 linking (schema_s)", {b: statistics.median(a.schema_s for a in later(b)) for b in backends}, " s")
    row("  p50 generation (generate_s)", {b: statistics.median(a.generate_s for a in later(b)) for b in backends}, " s")
    row("  p50 checks and vote (the rest)", {b: statistics.median(a.checks_s for a in later(b)) for b in backends}, " s")
    row("  p50 prompt tokens", {b: statistics.median(a.prompt_tokens for a in later(b)) for b in backends}, "", better=None, digits=0)
    row("  p50 tokens written, all candidates", {b: statistics.median(a.generated_tokens for a in later(b)) for b in backends}, "", better=None, digits=0)
    for backend in backends:
        kinds = {kind: sum(a.kind == kind for a in answers[backend]) for kind in dict.fromkeys(a.kind for a in answers[backend])}
        repaired = sum(a.rounds > 1 for a in answers[backend])
        report.add(f"  answers, {backend}", ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + f"; {repaired} needed repair rounds")
    row("peak RSS", {b: finished[b].peak_rss_gib for b in backends}, " GiB", better=None)
    report.add("torch imported", ", ".join(f"{b} {'yes' if finished[b].torch_imported else 'no'}" for b in backends))
    return report


def _p95(values: list[float]) -> float:
    """The 95th percentile, interpolated (the largest value when there are few)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def _decode_rate(answers: list[Answered]) -> float:
    """Tokens of all candidates per second after the first token, over the answers whose first
    candidates were enough (a repair round's prefill would count as decoding otherwise)."""
    single = [Timing(a.prompt_tokens, a.generated_tokens, a.first_token_s, a.generate_s) for a in answers if a.rounds == 1]
    return statistics.median(t.decode_tokens_per_s for t in single) if single else 0.0


if __name__ == "__main__":
    _protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # what the libraries print stays off the protocol
    serve(*sys.argv[1:4], protocol=_protocol)
