"""Training pairs: read the sql-create-context JSONL and turn each pair into token ids.

Each pair is read as the shell will meet it (finetune/postgres.py): its schema rendered by the
inference renderer, its answer in PostgreSQL.

The prompt is built by the very functions inference uses (`build_messages` rendered by the
model's chat template through `LoadedModel.chat_prompt`), and only the answer tokens carry a
loss: the adapter learns to answer the prompts the shell will really send, not to predict them.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nl2sql_shell.finetune.postgres import inference_schema, postgres_answer
from nl2sql_shell.nl2sql.prompt import REFUSAL_SQL, build_messages, format_answer

REQUIRED_KEYS = ("question", "context", "answer")
IGNORE_INDEX = -100  # the label value torch's cross-entropy skips

ChatPrompt = Callable[[list[dict[str, str]]], str]
T = TypeVar("T")


class DataError(ValueError):
    """A training file that cannot be used; the message is one line a user can act on."""


@dataclass(frozen=True)
class Pair:
    """One training example: a question, the schema text it is about, its SQL, and the
    asker's own notes on the question (a suite's instructions), shown as the shell shows them."""

    question: str
    context: str
    answer: str
    hint: str = ""


def read_pairs(path: Path, limit: int | None = None) -> list[Pair]:
    """Every pair of a JSONL file, or `limit` of them spread evenly over it, or a DataError
    naming the line.

    Spread, not the first ones: files such as Spider's are grouped by database, and the first
    thousand pairs would come from 22 of its 140 databases.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: a folder, but not a suite (one holds questions.csv and dbs/)")
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    records = list(_records(path))
    if not records:
        raise DataError(f"{path}: no training pairs in the file")
    return [_pair(record) for record in spread(records, limit)]


def spread(items: Sequence[T], count: int | None) -> list[T]:
    """`count` of `items` spread evenly over them (all when count is None or not smaller)."""
    if count is None or count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def _records(path: Path) -> Iterator[dict[str, str]]:
    try:
        yield from _decoded_records(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _decoded_records(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: not a JSON object")
            missing = [key for key in REQUIRED_KEYS if not isinstance(record.get(key), str) or not record[key].strip()]
            if missing:
                raise DataError(f"{path}:{number}: missing or empty key(s) {', '.join(missing)}")
            yield record


def _pair(record: dict[str, str]) -> Pair:
    schema, names = inference_schema(record["context"])
    return Pair(record["question"], schema, postgres_answer(record["answer"], names))


def split_pairs(pairs: Sequence[Pair], eval_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """A seeded shuffle cut into (train, held-out), so a resumed run sees the same split."""
    if not 0 <= eval_fraction < 1:
        raise DataError(f"eval split must be in [0, 1), got {eval_fraction}")
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    held = round(len(shuffled) * eval_fraction)
    if eval_fraction and len(shuffled) > 1:
        held = max(held, 1)
    held = min(held, len(shuffled) - 1)
    return shuffled[held:], shuffled[:held]


def with_refusals(pairs: Sequence[Pair], fraction: float, seed: int) -> list[Pair]:
    """`pairs` and about `fraction` as many unanswerable ones: a pair's question shown with the
    schema of another pair that shares none of its words, answered with the refusal the shell's
    prompt asks for.

    Data such as sql-create-context has no unanswerable question, so an adapter trained on it
    learns to answer everything (on bench/unfamiliar, 7 refusals of 28 with the adapter, 10
    without: docs/benchmarks.md). Seeded, so a resumed run trains on the same pairs.
    """
    if not 0 <= fraction <= 1:
        raise DataError(f"--refusals must be in [0, 1], got {fraction}")
    rng = random.Random(seed)
    wanted = round(len(pairs) * fraction)
    added: list[Pair] = []
    for pair in rng.sample(list(pairs), len(pairs)):
        if len(added) == wanted:
            break
        words = _words(pair.question)
        others = rng.sample(list(pairs), min(len(pairs), 20))
        unrelated = next((o for o in others if not words & _words(o.context)), None)
        if unrelated is not None:
            added.append(Pair(pair.question, unrelated.context, REFUSAL_SQL, pair.hint))
    return [*pairs, *added]


def _words(text: str) -> set[str]:
    """Lower-case words of three letters or more, names split at underscores, each also cut to
    its first four letters (so that `singers` and `singer_id` share `sing`)."""
    words = {w for w in re.findall(r"[a-z]{3,}", text.lower().replace("_", " "))}
    return words | {w[:4] for w in words if len(w) > 4}


def prompt_text(chat_prompt: ChatPrompt, pair: Pair) -> str:
    """The prompt text for a pair, exactly as the shell's pipeline builds it for inference.

    The system message carries today's date, so the date seen in training is the day of the
    run; the shell sends the day of use. Schemas in the training data hold no date-relative
    questions, so the difference teaches nothing wrong.
    """
    return chat_prompt(build_messages(pair.context, pair.question, hint=pair.hint or None))


def encode(tokenizer: Any, prompt: str, answer: str, max_length: int) -> dict[str, list[int]] | None:
    """Token ids and labels for prompt + answer + eos, loss on the answer only.

    The prompt is tokenised on its own, as generation does, so the ids the model learns to
    continue are the ids it will be given. Returns None when the example does not fit in
    max_length: a cut-off answer would teach the model to stop mid-query.
    """
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(format_answer(answer) + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    input_ids = prompt_ids + answer_ids
    if len(input_ids) > max_length:
        return None
    return {
        "input_ids": input_ids,
        "attention_mask": [1] * len(input_ids),
        "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids,
    }


def encode_pairs(
    tokenizer: Any, chat_prompt: ChatPrompt, pairs: Sequence[Pair], max_length: int
) -> tuple[list[dict[str, list[int]]], int]:
    """Encoded examples and how many were dropped for being longer than max_length."""
    encoded = [encode(tokenizer, prompt_text(chat_prompt, pair), pair.answer, max_length) for pair in pairs]
    kept = [example for example in encoded if example is not None]
    return kept, len(encoded) - len(kept)
