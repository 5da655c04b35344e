"""The quick held-out check after training: does the adapter answer unseen questions right?

Generation uses the shell's own prompt, stop strings and SQL extraction, greedily, so the
figure says what a user would see. Exact match compares sqlglot-normalised text; execution
match (with a database) reuses eval's scorer, the same rules the benchmark reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot.errors import SqlglotError

from nl2sql_shell.eval.scoring import GoldQueryError, score
from nl2sql_shell.finetune.data import Pair, prompt_text
from nl2sql_shell.nl2sql.extract import extract_sql
from nl2sql_shell.nl2sql.pipeline import STOP_STRINGS

MAX_NEW_TOKENS = 256
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CheckResult:
    """Held-out figures; `executed` counts the pairs whose gold query ran on the database."""

    count: int
    exact: int
    executed: int = 0
    execution_correct: int = 0

    def summary(self) -> str:
        text = f"exact match {self.exact}/{self.count} ({_percent(self.exact, self.count)})"
        if self.executed:
            text += f", execution match {self.execution_correct}/{self.executed} ({_percent(self.execution_correct, self.executed)})"
        return text


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def normalise_sql(sql: str) -> str:
    """One spelling per query: sqlglot's rendering, lower-case, single spaces, no semicolon.

    Text sqlglot cannot parse is only lower-cased and re-spaced, so it can still match itself.
    """
    text = sql.strip().rstrip(";")
    try:
        text = sqlglot.transpile(text, read="postgres", write="postgres")[0]
    except (SqlglotError, IndexError):
        pass
    return _SPACES.sub(" ", text.lower()).strip()


def heldout_check(
    model,
    pairs: Sequence[Pair],
    *,
    conninfo: str | None = None,
    on_pair: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """Greedy answers of a LoadedModel for `pairs`, scored by exact and (with a db) execution match."""
    exact = executed = correct = 0
    for number, pair in enumerate(pairs, start=1):
        generation = model.generate(prompt_text(model.chat_prompt, pair), max_new_tokens=MAX_NEW_TOKENS, stop=STOP_STRINGS)[0]
        predicted = extract_sql(generation.text) or ""
        exact += normalise_sql(predicted) == normalise_sql(pair.answer)
        if conninfo is not None:
            try:
                # --db is the user's own connection, whatever its rights: the model's answer runs
                # there only when proven harmless, as in eval without a role of its own
                verdict = score(predicted, pair.answer, conninfo, question=pair.question, category="", run_unproven=False)
            except GoldQueryError:
                verdict = None  # this pair's tables are not in the database: no execution figure
            if verdict is not None:
                executed += 1
                correct += verdict.correct
        if on_pair is not None:
            on_pair(number, len(pairs))
    return CheckResult(len(pairs), exact, executed, correct)
