"""\\pset pager always and pager_min_lines decide when the pager starts, as psql's PageOutput."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nl2sql_shell.output import Output


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int, min_lines: int, lines: int) -> tuple[str, str]:
    """Write ``lines`` lines on a 10-line screen; what the terminal and the pager each got."""
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"sh -c 'cat > {paged}'")
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("COLUMNS", "80")
    terminal = _Terminal()
    output = Output(terminal)
    output.configure_pager(mode, min_lines)
    with output.page() as write:
        write("".join(f"line {n}\n" for n in range(lines)))
    return terminal.getvalue(), paged.read_text() if paged.exists() else ""


def test_pager_always_pages_even_one_line(tmp_path, monkeypatch):
    assert _page(tmp_path, monkeypatch, 2, 0, 1) == ("", "line 0\n")


def test_pager_on_pages_only_what_does_not_fit(tmp_path, monkeypatch):
    assert _page(tmp_path, monkeypatch, 1, 0, 3) == ("line 0\nline 1\nline 2\n", "")
    assert _page(tmp_path, monkeypatch, 1, 0, 20)[1].count("\n") == 20


def test_pager_min_lines_keeps_shorter_results_on_the_terminal(tmp_path, monkeypatch):
    assert _page(tmp_path, monkeypatch, 1, 30, 20)[0].count("\n") == 20


def test_pager_off(tmp_path, monkeypatch):
    assert _page(tmp_path, monkeypatch, 0, 0, 20)[0].count("\n") == 20
