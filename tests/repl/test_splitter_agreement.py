"""The REPL's scanners against psql 15's lexer, on seeded random scripts: no meta-command
runs in the shell that psql does not run.

Model-written text reaches the REPL as typed text (history recall, `e` at the confirmation,
`\\e`, `\\w` then `\\i`), so a place where the shell's splitter, variable substitution or
meta-command parser reads a quote, comment or backslash otherwise than psqlscan.l is a place
where a `\\!` that psql keeps inside a string would run. Every such place found so far (`$€$`
tags, a `--` comment ending at a carriage return, `\\:` and `\\;` at a line's start, `\\!cmd`,
an E'' string going on across a carriage return) was found by comparing the two on the same
text. Each generated meta-command prints a marker of its own (`\\echo M7`, `\\! echo B9`); a
marker printed alone on a line by the shell and not by psql is a command only the shell ran.
Formatting differences that run nothing extra are not this test's business.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, theirs, twin_databases

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

SEEDS = (1, 2, 3)
CASES = 100  # per seed: one psql and one shell process each run them all


def _fragments(k: int) -> list[str]:
    return [
        "select 1", "select", f" {k} ", "x", "'a''b'", "'x\\'", "'\\'", "E'a\\'b'", "E'\\\\'", "e'\\''", "E'", "'", '"',
        "U&'d\\0061t'", "U&'d!0061t' UESCAPE '!'", 'U&"a"', "B'01'", "X'1f'", "N'n'", '"id""x"', '"a;b"',
        "$$", "$a$", "$€$", "$1", "a$b$", "$$ in $$", "$a$ q;$ $a$", "$_$",
        "-- c'", "--", "/* a /* b */ c */", "/*'*/", "/*", "*/", "*/*", "/**/", "-", "+--x", "/",
        ";", ";", ";", "\\;", "\\\\", "\\:", "(", ")", ",",
        f"\\echo M{k}", f"\\echo 'M{k};x' \"q\"", f"\\! echo B{k}", f"\\!echo B{k}", f"\\qecho Q{k}", f"\\echo\tT{k}",
        f"\\echo'S{k}'", "\\p", "\\r", "\\g", "\\w /dev/null", f"\\echo M{k} \\\\ ", f"\\echo M{k} \\echo N{k}", f"\\echo `echo K{k}`",
        ":v", ":'v'", ':"v"', ":{?v}", ":{?nope}", ":nope", "::int", ":'",
        "begin", "end", "case", "create function f() returns int begin atomic", "create or replace procedure p() begin atomic", "as",
    ]


def _case(rng: random.Random, counter: list[int]) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(2, 14)):
        counter[0] += 1
        parts.append(rng.choice(_fragments(counter[0])))
        r = rng.random()
        parts.append(rng.choice(["\n", "\n", "\n", "\r\n", "\r", " "]) if r < 0.25 else " " if r < 0.85 else "")
    parts.append(rng.choice(["\n", "\n", "", "\r\n", "\r"]))
    return "".join(parts)


def _driver(folder: Path, seed: int) -> Path:
    """One file per case, \\i'd between markers by a driver script."""
    rng, counter = random.Random(seed), [0]
    lines = ["\\set v 7\n", "\\pset pager off\n"]
    for i in range(CASES):
        case = folder / f"case{i:04d}.sql"
        case.write_bytes(_case(rng, counter).encode())
        lines.append(f"\\echo ===CASE {i}===\n\\i {case}\n\\r\n")
    driver = folder / "driver.sql"
    driver.write_text("".join(lines) + "\\echo ===DONE===\n")
    return driver


_MARKER = re.compile(rb"[BKMQNTS]\d+")


def _ran(output: bytes) -> dict[int, set[bytes]]:
    """Per case, the markers printed alone on a line: what a meta-command printed."""
    parts = re.split(rb"===CASE (\d+)===\n", output.split(b"===DONE===")[0])
    return {int(parts[i]): {line.strip() for line in re.split(rb"\r\n|\n|\r", parts[i + 1]) if _MARKER.fullmatch(line.strip())} for i in range(1, len(parts), 2)}


@pytest.mark.parametrize("seed", SEEDS)
def test_the_shell_runs_no_meta_command_psql_keeps_inside_a_string_or_comment(fresh_db, tmp_path: Path, seed: int):
    driver = _driver(tmp_path, seed)
    args = ("-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", str(driver))
    with twin_databases(fresh_db) as (here, there):  # each its own: a case may create a function
        _, mine, _ = ours(here, *args, cwd=tmp_path)
        _, psqls, _ = theirs(there, *args, cwd=tmp_path)
    ran_here, ran_there = _ran(mine), _ran(psqls)
    assert len(ran_there) == CASES and len(ran_here) == CASES
    only_here = {i: sorted(ran_here[i] - ran_there[i]) for i in range(CASES) if ran_here[i] - ran_there[i]}
    assert not only_here, {i: (markers, (tmp_path / f"case{i:04d}.sql").read_bytes()) for i, markers in only_here.items()}
