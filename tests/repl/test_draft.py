"""The streamed draft leaves nothing on a real terminal screen once the answer is shown,
however many rows it took (rendered by pyte, a VT100 emulator, at the terminal's width)."""

from __future__ import annotations

import io

import pyte
import pytest

from nl2sql_shell.repl.draft import Draft

WIDTH = 30


def _screen(written: str) -> list[str]:
    screen = pyte.Screen(WIDTH, 12)
    pyte.Stream(screen).feed(written.replace("\n", "\r\n"))  # the tty's onlcr
    return [line.rstrip() for line in screen.display]


@pytest.mark.parametrize(
    "chunks",
    [
        ["SELECT name", " FROM shop;"],  # one row
        ["SELECT\n", "  name,\n  city\n", "FROM shop\nWHERE city = 'Oslo';"],  # several lines
        ["SELECT " + "very_long_column_name, " * 5, "\nFROM shop"],  # a line wrapped over 4 rows
        ["SELECT 'ø日本語日本語日本語日本語日本語日本語'"],  # wide characters wrap sooner
        ["x" * WIDTH, "\nFROM shop"],  # a line exactly as wide as the terminal
        ["-- step 1: SELECT" + "\t" * 5 + "-- read only\n", "DELETE FROM t"],  # tabs (counted as no cells: "read only" stayed)
    ],
)
def test_erased_draft_leaves_only_the_answer_on_screen(chunks: list[str]) -> None:
    out = io.StringIO()
    out.write("shop=> ? shops in Oslo\n")
    draft = Draft(out, width=WIDTH)
    for chunk in chunks:
        draft.write(chunk)
    draft.erase()
    out.write("SELECT name FROM shop;\n")
    screen = _screen(out.getvalue())
    assert screen[:2] == ["shop=> ? shops in Oslo", "SELECT name FROM shop;"]
    assert not any(screen[2:])


def test_nothing_streamed_writes_nothing() -> None:
    out = io.StringIO()
    Draft(out, width=WIDTH).erase()
    assert out.getvalue() == ""
