"""The tutorial's own setup, timed as the baseline for answering one question.

What the tutorial ran: transformers' text-generation pipeline on the model loaded in 8-bit,
`max_length=500`, `repetition_penalty=1.2`, its one-line prompt of table and column names,
and nothing reused from one question to the next. Ours, timed beside it on the same question
and tables: the shell's schema prompt with its cached head, N candidates in one batch, stop
strings. Both produce a whole answer, so the figure a user feels is the time per answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from nl2sql_shell.bench.schemas import small_schema, small_tables
from nl2sql_shell.bench.speed import question_prompt
from nl2sql_shell.nl2sql.prompt import tutorial_messages

MAX_LENGTH = 500
REPETITION_PENALTY = 1.2


@dataclass
class Answered:
    """One answer: wall time and the tokens it wrote."""

    seconds: float
    new_tokens: int


def tutorial_prompt(question: str) -> str:
    """The tutorial's words for the bench's small schema, as the plain string it passed."""
    tables = [(table.name, [column.name for column in table.columns]) for table in small_tables()]
    return tutorial_messages(tables, question)[0]["content"]


def time_tutorial_setup(spec, question: str, progress: Callable[[str], None]) -> Answered:
    """Load the model in 8-bit and answer `question` through a text-generation pipeline."""
    from transformers import pipeline

    from nl2sql_shell.llm.load import load_model

    loaded = load_model(replace(spec, quantize="8bit"), progress=progress)
    generator = pipeline("text-generation", model=loaded.model, tokenizer=loaded.tokenizer)
    prompt = tutorial_prompt(question)
    settings = {"max_length": MAX_LENGTH, "max_new_tokens": None, "repetition_penalty": REPETITION_PENALTY, "return_full_text": False}
    generator(prompt, **{**settings, "max_length": loaded.count_tokens(prompt) + 2})  # warm-up: first-call set-up costs
    started = time.perf_counter()
    text = generator(prompt, **settings)[0]["generated_text"]
    return Answered(time.perf_counter() - started, loaded.count_tokens(text))


def time_our_answer(model, question: str, candidates: int) -> Answered:
    """The `?` pipeline's generation for `question` on the same tables, its schema head
    already cached (as for every question after the first on a database)."""
    from nl2sql_shell.nl2sql.pipeline import STOP_STRINGS, Options

    options = Options()
    prompt, prefix = question_prompt(model, small_schema(), question)
    model.generate(prompt, prefix=prefix, max_new_tokens=1)
    started = time.perf_counter()
    generations = model.generate(
        prompt, prefix=prefix, max_new_tokens=options.max_new_tokens, stop=STOP_STRINGS, n=candidates, temperature=options.temperature
    )
    return Answered(time.perf_counter() - started, sum(g.new_tokens for g in generations))
