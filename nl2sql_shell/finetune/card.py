"""The model card: a README.md in the adapter folder saying what it is and how to use it.

An adapter folder outlives the terminal that made it; the card is what tells a later reader
which base it needs, what data and settings made it, and how well it did on held-out pairs.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nl2sql_shell.config import open_private
from nl2sql_shell.finetune.check import CheckResult


@dataclass(frozen=True)
class Card:
    """Everything the card reports; `settings` are the hyper-parameters as name -> value."""

    base_model: str
    data_file: str
    train_count: int
    eval_count: int
    dropped: int
    settings: dict[str, Any]
    global_step: int
    train_loss: float | None
    eval_loss: float | None
    check: CheckResult | None
    date: _dt.date


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_card(card: Card, adapter_dir: Path) -> str:
    """The README.md text (peft's metadata header first, so hubs and tools recognise it)."""
    rows = "\n".join(f"| {name} | {value} |" for name, value in card.settings.items())
    check = card.check.summary() if card.check else "not run (no held-out pairs)"
    dropped = f" ({card.dropped} longer than max_length were left out)" if card.dropped else ""
    return f"""---
base_model: {card.base_model}
library_name: peft
tags: [text-to-sql, postgresql, lora, nl2sql-shell]
---

# nl2sql-shell LoRA adapter

A LoRA adapter for `{card.base_model}`, trained by `nl2sql-shell finetune` on {_dt.date.isoformat(card.date)}
to turn a question plus a PostgreSQL schema into one SQL query, with the shell's own prompt.

## Data

- from: `{card.data_file}`
- {card.train_count} training pairs, {card.eval_count} held out{dropped}

## Training

| setting | value |
| --- | --- |
{rows}

- optimizer steps: {card.global_step}
- final training loss: {_loss(card.train_loss)}
- held-out loss: {_loss(card.eval_loss)}

## Held-out check

Greedy answers to the held-out questions: {check}.

## Use

```
nl2sql-shell --model {card.base_model} --adapter {adapter_dir}
```

or fold it into a stand-alone model:

```
nl2sql-shell finetune merge --adapter {adapter_dir} --output MERGED_DIR
```

The prompt states the date of use; during training it stated the date of training.
"""


def write_card(card: Card, adapter_dir: Path) -> Path:
    """README.md in the adapter's folder, never through a link or into a file another user
    planted there (root's finetune overwrote the file such a link pointed to)."""
    path = Path(adapter_dir) / "README.md"
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, own=True), "w", encoding="utf-8") as handle:
        handle.write(render_card(card, Path(adapter_dir)))
    return path
