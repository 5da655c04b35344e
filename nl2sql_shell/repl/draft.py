"""The model's text as it is written, shown dim and erased once the checked SQL is ready.

The draft is the greedy candidate before any check or correction: after voting the query
shown may be another one, or a corrected one, so the draft must not stay on screen beside
it. Erasing means moving the cursor back up over every terminal row the draft took, long
lines wrapped at the terminal's width included, which a plain carriage return cannot do.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from prompt_toolkit.utils import get_cwidth

from nl2sql_shell.db.cells import visible

DIM, RESET = "\x1b[2m", "\x1b[0m"


class Draft:
    """Dim streamed text on ``stream`` that :meth:`erase` removes, all of its rows."""

    def __init__(self, stream: TextIO, width: int | None = None) -> None:
        self.stream = stream
        self.width = max(width or shutil.get_terminal_size().columns, 1)
        self.text = ""

    def write(self, text: str) -> None:
        # (a chunk may end inside an escape sequence: each character is judged alone); a tab as
        # spaces, whose cells rows() counts (a tab's depend on its column: the draft stayed on screen)
        text = visible(text).replace("\t", "    ")
        self.text += text
        self.stream.write(DIM + text + RESET)
        self.stream.flush()

    def rows(self) -> int:
        """Terminal rows the draft covers: each line takes one row per `width` cells, at least one."""
        return sum(max(1, -(-get_cwidth(line) // self.width)) for line in self.text.split("\n"))

    def erase(self) -> None:
        """Put the cursor where the draft began and clear everything below it."""
        if not self.text:
            return
        up = self.rows() - 1
        self.stream.write("\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J")
        self.stream.flush()
        self.text = ""
