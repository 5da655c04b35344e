"""What `nl2sql-shell bench` measures: load time, time to first token, decode speed,
the schema-prefix cache, and batched against sequential candidates.

Every figure is taken with the same prompt builder and the same `LoadedModel.generate` the
`?` pipeline uses, and each comparison is made in the same run (ratios, not absolutes).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nl2sql_shell.bench.memory import peak_memory
from nl2sql_shell.bench.schemas import large_schema, large_schema_reselected, small_schema
from nl2sql_shell.nl2sql.prompt import build_messages

QUESTION = "Which 5 customers had the highest total completed payment amount last month?"


@dataclass
class Timing:
    """One generate call: prompt size, time to first token and decode rate."""

    prompt_tokens: int
    new_tokens: int
    first_token_s: float
    total_s: float

    @property
    def decode_tokens_per_s(self) -> float:
        decode = self.total_s - self.first_token_s
        return (self.new_tokens - 1) / decode if decode > 0 and self.new_tokens > 1 else 0.0


@dataclass
class Report:
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))

    def text(self) -> str:
        width = max(len(name) for name, _ in self.rows)
        return "".join(f"{name.ljust(width)}  {value}\n" for name, value in self.rows)


def faster(baseline_s: float, ours_s: float) -> str:
    """`2.0x faster`, or `1.3x slower` when it is: a ratio under 1 read "0.8x faster"."""
    ratio = baseline_s / ours_s
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def _timed(model, prompt: str, *, prefix: str | None, new_tokens: int, n: int = 1, temperature: float = 0.0) -> Timing:
    started = time.perf_counter()
    generations = model.generate(prompt, max_new_tokens=new_tokens, n=n, temperature=temperature, prefix=prefix)
    total = time.perf_counter() - started
    first = generations[0]
    return Timing(first.prompt_tokens, sum(g.new_tokens for g in generations), first.seconds_to_first_token, total)


def uncached_prompt(prompt: str) -> str:
    """``prompt`` behind a line of its own, so that no cache (llama.cpp's context, a kept
    prefix, a server's) holds any head of it: with prefix=None alone llama.cpp reused the
    repeated prompt, and "no cache" read 0.04 s where a first question took 21 s."""
    return f"{time.time_ns()}\n{prompt}"


def question_prompt(model, schema_text: str, question: str = QUESTION) -> tuple[str, str]:
    """The `?` pipeline's prompt for `question` on `schema_text`, and its cacheable head."""
    messages = build_messages(schema_text, question)
    return model.chat_prompt(messages), model.chat_prefix(messages[:1])


def measure(model, *, new_tokens: int = 32, candidates: int = 4, repeats: int = 3, progress: Callable[[str], None] = lambda _: None) -> Report:
    """The speed figures for one loaded model, in a readable two-column report."""
    report = Report()
    report.add("model load", f"{model.load_seconds:.2f} s")
    for label, schema_text in (("small schema", small_schema()), ("large schema", large_schema(model.count_tokens))):
        prompt, prefix = question_prompt(model, schema_text)
        progress(f"{label}: first question")
        first = _timed(model, prompt, prefix=prefix, new_tokens=new_tokens)
        progress(f"{label}: repeated question")
        repeated = [_timed(model, prompt, prefix=prefix, new_tokens=new_tokens) for _ in range(repeats)]
        uncached = _timed(model, uncached_prompt(prompt), prefix=None, new_tokens=new_tokens)
        again = statistics.median(t.first_token_s for t in repeated)
        report.add(f"{label}: prompt tokens", str(first.prompt_tokens))
        report.add(f"{label}: time to first token, first question", f"{first.first_token_s:.3f} s")
        report.add(f"{label}: time to first token, repeated (cached schema)", f"{again:.3f} s ({faster(first.first_token_s, again)})" if again else "n/a")
        report.add(f"{label}: time to first token, no cache", f"{uncached.first_token_s:.3f} s")
        if label == "large schema":
            progress(f"{label}: another table selection")
            other_prompt, other_prefix = question_prompt(model, large_schema_reselected(model.count_tokens))
            other = _timed(model, other_prompt, prefix=other_prefix, new_tokens=new_tokens)
            report.add(
                f"{label}: time to first token, last quarter of the tables swapped",
                f"{other.first_token_s:.3f} s ({faster(uncached.first_token_s, other.first_token_s)} than no cache)",
            )
        report.add(f"{label}: decode", f"{statistics.median(t.decode_tokens_per_s for t in repeated):.1f} tokens/s")
    prompt, prefix = question_prompt(model, small_schema())
    progress(f"{candidates} candidates, batched and sequential")
    batched = _timed(model, prompt, prefix=prefix, new_tokens=new_tokens, n=candidates, temperature=0.7)
    one = _timed(model, prompt, prefix=prefix, new_tokens=new_tokens, n=1, temperature=0.7)
    sequential = [_timed(model, prompt, prefix=prefix, new_tokens=new_tokens, n=1, temperature=0.7) for _ in range(candidates)]
    sequential_s = sum(t.total_s for t in sequential)
    report.add(f"{candidates} candidates batched", f"{batched.total_s:.2f} s ({batched.total_s / one.total_s:.2f}x one candidate)")
    report.add(f"{candidates} candidates sequential", f"{sequential_s:.2f} s ({sequential_s / batched.total_s:.2f}x batched)")
    report.add("peak memory", peak_memory())
    return report
