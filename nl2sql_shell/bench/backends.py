"""`nl2sql-shell bench --compare-backends`: one `?`-sized question on the same GGUF file with
transformers and with llama.cpp, in the same run, as ratios."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import fields, replace

from nl2sql_shell.bench.schemas import small_schema
from nl2sql_shell.bench.speed import QUESTION, Report, Timing, _timed, question_prompt

NEXT_QUESTION = "How many payments of each status were made this year?"


def _one_backend(model, run: int, *, new_tokens: int, candidates: int) -> dict[str, Timing]:
    """The first question (the schema prefilled) and the next one (the schema cached), each
    with `candidates` sequences as the `?` pipeline writes them. Each run has its own schema."""
    schema = f"-- run {run}\n" + small_schema()
    prompt, prefix = question_prompt(model, schema, QUESTION)
    first = _timed(model, prompt, prefix=prefix, new_tokens=new_tokens, n=candidates, temperature=0.7)
    prompt, prefix = question_prompt(model, schema, NEXT_QUESTION)
    cached = _timed(model, prompt, prefix=prefix, new_tokens=new_tokens, n=candidates, temperature=0.7)
    return {"first": first, "cached": cached}


def compare_backends(spec, *, new_tokens: int, candidates: int, repeats: int, progress: Callable[[str], None]) -> Report:
    """Time to first token and the whole call for `candidates` sequences, per backend: the
    median of `repeats` runs, taking turns so that a busy machine slows both alike."""
    from nl2sql_shell.llm.load import load_model

    models = {}
    for backend in ("transformers", "llamacpp"):
        models[backend] = load_model(replace(spec, backend=backend), progress=progress)
        _timed(models[backend], "SELECT", prefix=None, new_tokens=2)  # first-call costs (threads, allocations)
    runs: dict[str, list[dict[str, Timing]]] = {backend: [] for backend in models}
    for run in range(repeats):
        for backend, model in models.items():
            progress(f"run {run + 1} of {repeats}: {backend}")
            runs[backend].append(_one_backend(model, run, new_tokens=new_tokens, candidates=candidates))
    slow, fast = (_median(runs[backend]) for backend in ("transformers", "llamacpp"))
    report = Report()
    report.add("prompt tokens (transformers / llamacpp)", f"{slow['first'].prompt_tokens} / {fast['first'].prompt_tokens}")
    for case, label in (("first", "first question"), ("cached", "next question, cached schema")):
        for name, field in (("time to first token", "first_token_s"), (f"{candidates} candidates in all", "total_s")):
            a, b = getattr(slow[case], field), getattr(fast[case], field)
            report.add(f"{label}: {name}", f"transformers {a:.2f} s, llamacpp {b:.2f} s ({a / b:.1f}x)")
        a, b = _rate(slow[case]), _rate(fast[case])
        report.add(f"{label}: tokens written, per second after the first", f"transformers {slow[case].new_tokens}, {a:.1f}/s; llamacpp {fast[case].new_tokens}, {b:.1f}/s ({b / a:.1f}x)")
    return report


def _rate(timing: Timing) -> float:
    """Tokens of all candidates per second of the call after the first token."""
    return timing.new_tokens / max(timing.total_s - timing.first_token_s, 1e-9)


def _median(runs: list[dict[str, Timing]]) -> dict[str, Timing]:
    """Each figure's median over the runs."""
    return {case: Timing(*(statistics.median(getattr(run[case], f.name) for run in runs) for f in fields(Timing))) for case in runs[0]}
