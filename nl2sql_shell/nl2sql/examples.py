"""Questions and the SQL a person accepted, kept per database and offered back as examples.

The most similar earlier pairs are the best few-shot demonstrations a model can get: they
use this database's real names and the person's own conventions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from nl2sql_shell.config import holds_password, open_private, private_file
from nl2sql_shell.nl2sql.prompt import Example

_log = logging.getLogger(__name__)
_WORD = re.compile(r"[a-z0-9_]+")


def store_path(host: str, port: str | int, dbname: str, role: str | None = None) -> Path:
    """One file per database, under the user's data folder. A server whose socket is in its
    own data folder (the embedded one) is named by that folder: it takes a new port at each
    start, and its examples were lost with the port. ``role``: one file per role too, for
    the proxy, whose clients are other people (one role's questions and the literals of its
    queries were examples in another role's prompt)."""
    from nl2sql_shell.config import data_folder

    base = Path(os.environ.get("NL2SQL_SHELL_EXAMPLES_DIR") or data_folder() / "examples")
    place = host if host.startswith("/") and Path(host, "PG_VERSION").is_file() else f"{host}:{port}"
    digest = hashlib.sha256(f"{place}/{dbname}".encode() + (b"" if role is None else b"\0" + role.encode())).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)
    return base / f"{safe}-{digest}.jsonl"


class ExampleStore:
    """An append-only JSONL file of accepted pairs; later pairs win over earlier duplicates.

    The memory is a help, never a reason to stop: a file that cannot be read or written
    (unwritable, or a link another user planted: config.open_private) is reported through
    ``warn`` and the question goes on without it."""

    def __init__(self, path: Path, warn: Callable[[str], None] = _log.warning) -> None:
        self.path = path
        self._warn = warn
        self._pairs: list[Example] | None = None

    def all(self) -> list[Example]:
        if self._pairs is None:
            pairs: dict[str, Example] = {}
            try:
                lines = self._read()
            except OSError as exc:
                self._warn(f'could not read the examples memory "{self.path}": {exc.strerror or exc}')
                lines = []
            for line in lines:
                try:
                    item = json.loads(line)
                    if not (holds_password(item["question"]) or holds_password(item["sql"])):  # kept by an older version
                        pairs[item["question"].strip().lower()] = Example(item["question"], item["sql"])
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged line must not lose the others
            self._pairs = list(pairs.values())
        return self._pairs

    def _read(self) -> list[str]:
        if not self.path.exists():
            return []
        private_file(self.path)  # a file an older version made 0644 becomes 0600
        with os.fdopen(open_private(self.path, os.O_RDONLY, own=True), encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()

    def add(self, question: str, sql: str) -> None:
        """Append a pair; the file is 0600 in a 0700 folder, since it holds the user's SQL. A
        pair holding a password (`ALTER ROLE ... PASSWORD '...'`) is not kept: offered back,
        it went to the model server in every later prompt."""
        if holds_password(question) or holds_password(sql):
            return
        try:
            private_file(self.path)
            with os.fdopen(open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, own=True), "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"question": question, "sql": sql}) + "\n")
        except OSError as exc:
            self._warn(f'could not keep the answer in the examples memory "{self.path}": {exc.strerror or exc}')
        self._pairs = None

    def similar(self, question: str, k: int = 2, minimum: float = 0.2) -> list[Example]:
        """The k pairs whose questions share the most words with this one (Jaccard)."""
        words = set(_WORD.findall(question.lower()))
        scored = []
        for example in self.all():
            other = set(_WORD.findall(example.question.lower()))
            union = words | other
            score = len(words & other) / len(union) if union else 0.0
            if score >= minimum:
                scored.append((score, example))
        scored.sort(key=lambda item: -item[0])
        return [example for _, example in scored[:k]]
