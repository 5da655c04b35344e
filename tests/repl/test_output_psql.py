"""Result output as psql 15 prints it: every format and flag, \\pset and its shortcuts, command
tags with -t/-q/-H, FETCH_COUNT; each case compared byte for byte (stdout, stderr, exit code)
with /usr/bin/psql on the same server."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
from psqlcompare import PSQL, ours, same, theirs, twin_databases

from nl2sql_shell.db import execute
from nl2sql_shell.db.execute import Executor
from nl2sql_shell.db.settings import Settings
from nl2sql_shell.output import Output

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

# Numbers (right-aligned), a NULL, a value over three lines, a two-line header, wide characters,
# a zero-width joiner sequence (psql counts it 8 cells), HTML and CSV specials.
QUERY = (
    "select g as n, 'v' || g as \"val\nue\", case when g = 2 then null when g = 3 then E'two\\nlines\\nthree' "
    "else repeat('xy ', g * 3) end as txt, '日本 <&> \"q\"' as u, "
    "U&'\\+01F468\\200D\\+01F469\\200D\\+01F467' as zwj from generate_series(1, 4) g"
)


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["-t"],
        ["-x"],
        ["-x", "-t"],
        ["-A"],
        ["--no-align", "-t"],
        ["-A", "-F", ";", "-R", "#"],
        ["-A", "-z", "-0"],
        ["--csv", "-A"],  # the last format flag wins, as psql applies its options in order
        ["-A", "--csv"],
        ["-P", "format=html", "-A"],
        ["-A", "-P", "format=aligned"],
        ["-A", "-x"],
        ["--csv"],
        ["--csv", "-x"],
        ["--csv", "-P", "csv_fieldsep=;", "-t"],
        ["-H"],
        ["-H", "-x", "-T", "class=x"],
        ["-P", "border=0"],
        ["-P", "border=2", "-x"],
        ["-P", "linestyle=unicode", "-P", "border=2"],
        ["-P", "linestyle=old-ascii", "-x"],
        ["-P", "linestyle=unicode", "-P", "unicode_border_linestyle=double", "-P", "unicode_header_linestyle=d", "-P", "border=2"],
        ["-P", "linestyle=unicode", "-P", "unicode_column_linestyle=double", "-x"],
        ["-P", "null=(null)", "-P", "title=Report", "-P", "footer=off"],
        ["-P", "format=wrapped", "-P", "columns=30"],
        ["-P", "format=wrapped", "-P", "columns=30", "-x", "-P", "border=2"],
        ["-P", "expanded=auto"],  # into a pipe: psql knows no width and never switches
        ["-P", "expanded=auto", "-P", "columns=40"],
        ["-P", "expanded=auto", "-P", "columns=200", "-v", "FETCH_COUNT=2"],  # batches: psql's pager rule, all vertical
        ["-P", "expanded=auto", "-P", "columns=200", "-v", "FETCH_COUNT=5"],  # one batch: fits, aligned
    ],
    ids=lambda flags: " ".join(flags) or "default",
)
def test_each_format_and_flag_prints_what_psql_prints(fresh_db, flags: list[str]):
    same(fresh_db, fresh_db, *flags, "-c", QUERY)


def test_output_file_flag(fresh_db, tmp_path: Path):
    for program, name in ((ours, "ours.txt"), (theirs, "psql.txt")):
        code, out, _ = program(fresh_db, "-o", str(tmp_path / name), "-c", QUERY)
        assert code == 0 and out == b""
    assert (tmp_path / "ours.txt").read_bytes() == (tmp_path / "psql.txt").read_bytes()
    assert b"(4 rows)" in (tmp_path / "psql.txt").read_bytes()


STATEMENTS = [
    "-c", "create table tt (a int)",
    "-c", "insert into tt values (1), (2) returning a",
    "-c", "update tt set a = a + 1",
    "-c", "show client_encoding",
    "-c", "explain (costs off) select 1",
    "-c", "drop table tt",
]


@pytest.mark.parametrize("flags", [[], ["-t"], ["-q"], ["-H"], ["-A", "-t"]], ids=lambda flags: " ".join(flags) or "default")
def test_command_tags_as_psql_prints_them(pg_server, flags: list[str]):
    """-t keeps CREATE TABLE and INSERT 0 2, -q drops them, SHOW and EXPLAIN print none, -H wraps them in <p>."""
    with twin_databases(pg_server.conninfo()) as (mine, psqls):
        _, out, _ = same(mine, psqls, *flags, *STATEMENTS)
    if flags == ["-t"]:
        assert b"CREATE TABLE\n" in out and b"UPDATE 2\n" in out
    if flags == ["-q"]:
        assert b"CREATE TABLE" not in out


def test_pset_shortcuts_and_listing(fresh_db):
    commands = [
        "\\pset", "\\pset border 2", "\\pset border x", "\\pset format w", "\\pset format", "\\pset linestyle u",
        "\\pset null '(nil)'", "\\pset footer", "\\pset footer on", "\\pset tuples_only", "\\pset t off",
        "\\pset fieldsep_zero", "\\pset recordsep ';'", "\\pset title 'A title'", "\\pset tableattr",
        "\\pset columns 50", "\\pset pager", "\\pset pager always", "\\pset csv_fieldsep ';'", "\\pset expanded auto",
        "\\a", "\\a", "\\H", "\\H", "\\t", "\\t", "\\t on", "\\t off", "\\x", "\\x off", "\\x auto", "\\f", "\\f ,",
        "\\C", "\\C hello", "\\T", "\\T width=1", "\\pset unicode_border_linestyle d", "\\pset unicode_column_linestyle x",
        "\\pset numericlocale", "\\pset pager_min_lines 1", "\\pset",
    ]
    args = [arg for command in commands for arg in ("-c", command)]
    code, out, _ = same(fresh_db, fresh_db, *args)
    assert code == 0 and b"Border style is 2.\n" in out and b"Output format is wrapped.\n" in out


@pytest.mark.parametrize(
    "command",
    ["\\pset nosuch", "\\pset format a", "\\pset format nope", "\\pset linestyle x", "\\pset footer maybe",
     "\\pset expanded maybe", "\\pset pager maybe", "\\pset csv_fieldsep ;;", "\\t foo"],
)
def test_pset_errors(fresh_db, command: str):
    code, _, err = same(fresh_db, fresh_db, "-c", command)
    assert code == 1 and err


def test_quiet_silences_tags_and_messages(fresh_db):
    _, out, _ = same(fresh_db, fresh_db, "-q", "-c", "create temp table q (a int)", "-c", "\\x", "-c", "\\pset border 2", "-c", "select 1 as one")
    assert out.startswith(b"+-[ RECORD 1 ]-+\n")
    same(fresh_db, fresh_db, "-c", "\\set QUIET on", "-c", "create temp table q (a int)", "-c", "\\x")


GROWING = "select g, repeat('x', g) as w from generate_series(1, 7) g"
FAILING = "select g, 10 / (5 - g) as q from generate_series(1, 9) g"  # fails on the 5th row


@pytest.mark.parametrize(
    "args",
    [
        ["-P", "nosuch", "-c", "select 1"],
        ["-P", "footer=maybe", "-c", "select 1"],
        ["-v", "FETCH_COUNT=abc", "-c", "select 1"],
        ["-c", "\\set FETCH_COUNT 2", "-c", "\\set FETCH_COUNT abc", "-c", GROWING],  # refused: still 2
    ],
)
def test_refused_settings_exit_as_psql(fresh_db, args: list[str]):
    same(fresh_db, fresh_db, *args)


QUERIES = [GROWING, FAILING, "values (1), (22), (333)", "with t as (select g from generate_series(1, 5) g) select g, repeat('y', g) from t"]


@pytest.mark.parametrize("fetch_count", ["0", "1", "3", "7", "100"])
@pytest.mark.parametrize("flags", [[], ["-x"], ["-A"], ["--csv"], ["-P", "border=2"]], ids=lambda flags: " ".join(flags) or "aligned")
def test_fetch_count_means_what_it_means_in_psql(fresh_db, fetch_count: str, flags: list[str]):
    """Batches on their own widths for SELECT and VALUES (not WITH); 0 is off; an error part
    way prints the batches before it, or with FETCH_COUNT off only the error."""
    queries = [arg for query in QUERIES for arg in ("-c", query)]
    _, out, err = same(fresh_db, fresh_db, "-v", f"FETCH_COUNT={fetch_count}", *flags, *queries)
    assert err == b"ERROR:  division by zero\n"


def test_set_fetch_count_at_run_time(fresh_db):
    code, out, _ = same(
        fresh_db, fresh_db, "-c", "\\set FETCH_COUNT 2", "-c", GROWING, "-c", "\\set FETCH_COUNT 0", "-c", GROWING,
        "-c", "\\unset FETCH_COUNT", "-c", FAILING,
    )
    assert code == 1 and out.count(b"(7 rows)") == 2


def test_without_fetch_count_widths_are_exact_and_an_error_prints_alone(fresh_db):
    code, out, err = same(fresh_db, fresh_db, "-c", "select g, repeat('x', g) from generate_series(1, 3000) g")
    assert code == 0 and out.count(b"----+") == 1  # one table: one rule line, widths over all rows
    code, out, err = same(fresh_db, fresh_db, "-c", "select g, 10 / (2500 - g) from generate_series(1, 3000) g")
    assert code == 1 and out == b"" and err == b"ERROR:  division by zero\n"


def test_past_the_held_rows_parts_follow_with_one_notice(fresh_db, monkeypatch):
    """Beyond HELD_ROWS the result prints in parts of that size, each on its own widths, as psql
    with FETCH_COUNT set to it, and one notice on stderr says so."""
    monkeypatch.setattr(execute, "HELD_ROWS", 3)
    monkeypatch.setattr(execute, "_CHUNK", 2)
    out, err = io.StringIO(), io.StringIO()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        executor = Executor(conn, Settings(), Output(out, use_pager=False), lambda: err)
        assert executor.run(GROWING).rows == 7
    _, psql_out, _ = theirs(fresh_db, "-v", "FETCH_COUNT=3", "-c", GROWING)
    assert out.getvalue().encode() == psql_out
    assert err.getvalue().count("\n") == 1 and "column widths may change" in err.getvalue()


@pytest.mark.parametrize("held", [7, 8, 100])
def test_a_result_that_fits_the_held_rows_is_one_table(fresh_db, monkeypatch, held: int):
    """Up to HELD_ROWS, exactly at it included: psql's widths over all rows, no notice."""
    monkeypatch.setattr(execute, "HELD_ROWS", held)
    monkeypatch.setattr(execute, "_CHUNK", 2)
    out, err = io.StringIO(), io.StringIO()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        executor = Executor(conn, Settings(), Output(out, use_pager=False), lambda: err)
        assert executor.run(GROWING).rows == 7
    assert out.getvalue().encode() == theirs(fresh_db, "-c", GROWING)[1]
    assert err.getvalue() == ""


def test_pset_messages_stay_on_stdout_while_o_writes_a_file(fresh_db, tmp_path: Path):
    """psql prints \\pset's and \\x's sentences with printf: on stdout, not into the \\o file."""
    for program, name in ((ours, "ours.txt"), (theirs, "psql.txt")):
        commands = [f"\\o {tmp_path / name}", "\\x", "\\pset border 2", "select 1 as one", "\\pset null N"]
        code, out, _ = program(fresh_db, *[arg for command in commands for arg in ("-c", command)])
        assert (code, out) == (0, b"Expanded display is on.\nBorder style is 2.\nNull display is \"N\".\n")
    assert (tmp_path / "ours.txt").read_bytes() == (tmp_path / "psql.txt").read_bytes() == b"+-[ RECORD 1 ]-+\n| one | 1 |\n+-----+---+\n\n"


@pytest.mark.parametrize("flags", [[], ["-x"], ["-A"], ["--csv"]], ids=lambda flags: " ".join(flags) or "aligned")
def test_numericlocale_groups_digits_of_numeric_columns(fresh_db, flags: list[str]):
    query = (
        "select 1234567.891::numeric as a, -12345678 as b, 1e10::float8 as c, '$1,234.00'::money as m, "
        "'NaN'::float8 as nan, null::int as n, '1234567' as text_stays"
    )
    _, out, _ = same(fresh_db, fresh_db, *flags, "-P", "numericlocale=on", "-c", query, "-c", "\\pset numericlocale")
    assert b"1,234,567.891" in out and b"1234567" in out


@pytest.mark.parametrize("fmt", ["asciidoc", "latex", "latex-longtable", "troff-ms"])
@pytest.mark.parametrize("flags", [[], ["-x"], ["-t", "-P", "border=2"], ["-P", "border=3", "-P", "title=T_1", "-P", "tableattr=0.2"]], ids=lambda flags: " ".join(flags) or "default")
def test_document_formats(fresh_db, fmt: str, flags: list[str]):
    query = "select g as n, 'v_' || g as \"va|l\", case when g = 2 then null when g = 3 then E'two\\nlines \\\\ & $' else '' end as txt from generate_series(1, 3) g"
    same(fresh_db, fresh_db, "-P", f"format={fmt}", *flags, "-c", query, "-v", "FETCH_COUNT=2", "-c", query)


@pytest.mark.parametrize(("growth", "vertical"), [("g", False), ("8 - g", True)])
def test_expanded_auto_decides_once_for_all_parts(fresh_db, monkeypatch, growth: str, vertical: bool):
    """Past the held rows, \\x auto keeps the first part's choice on a 20-column screen: narrow
    rows first stay aligned when wider ones follow, wide rows first stay vertical."""
    monkeypatch.setattr(execute, "HELD_ROWS", 3)
    monkeypatch.setattr(execute, "_CHUNK", 1)
    out, err = io.StringIO(), io.StringIO()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        executor = Executor(conn, Settings(expanded="auto", columns=20), Output(out, use_pager=False), lambda: err)
        executor.run(f"select g, repeat('x', ({growth}) * 4) as w from generate_series(1, 7) g")
    assert out.getvalue().count("-[ RECORD") == (7 if vertical else 0)


_PIECES = ["a", "bb", "日本", "é", "e\u0301", "\t", "\n", " ", "x" * 12, "😀", "\u200d", "|", "&<", "\\", "1234", "\r", "\x01"]


def _random_case(seed: int) -> tuple[list[str], str]:
    """Flags and a query of random values (wide, combining, control characters, newlines,
    NULLs), columns and settings: the same seed is the same case."""
    import random

    rng = random.Random(seed)

    def value() -> str:
        if rng.random() < 0.1:
            return "NULL"
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 8)))
        escaped = text.replace("\\", "\\\\").replace("'", "''").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r").replace("\x01", "\\x01")
        return f"E'{escaped}'"

    names = [rng.choice(["a", "long name", "日本", "n\nm", "x"]) + str(i) for i in range(rng.randint(1, 4))]
    rows = [", ".join(f'{value()}::text as "{name}"' for name in names)]
    rows += [", ".join(f"{value()}::text" for _ in names) for _ in range(rng.randint(0, 5))]
    query = " union all ".join(f"select {row}" for row in rows)
    flags = ["-P", f"format={rng.choice(['aligned', 'wrapped', 'unaligned', 'csv', 'html', 'asciidoc', 'latex', 'troff-ms'])}"]
    flags += ["-P", f"border={rng.choice([0, 1, 2])}", "-P", f"linestyle={rng.choice(['ascii', 'old-ascii', 'unicode'])}"]
    flags += ["-P", f"expanded={rng.choice(['on', 'off', 'auto'])}", "-P", f"columns={rng.choice([0, 10, 25, 60])}"]
    flags += ["-t"] if rng.random() < 0.3 else []
    flags += ["-v", f"FETCH_COUNT={rng.randint(1, 3)}"] if rng.random() < 0.3 else []
    return flags, query


@pytest.mark.parametrize("seed", range(12))
def test_random_results_print_as_psql_prints_them(fresh_db, seed: int):
    flags, query = _random_case(seed)
    same(fresh_db, fresh_db, *flags, "-c", query)


@pytest.mark.parametrize("flags", [[], ["-P", "border=2"], ["-P", "border=0"]], ids=lambda flags: " ".join(flags) or "default")
def test_many_rows_of_wide_and_combining_characters(fresh_db, flags: list[str]):
    """One-line values with wide (日本), combining (e + U+0301) and accented characters take the
    column-at-a-time path; their widths are still psql's."""
    query = (
        "select g, repeat('日本', g % 4) || 'é' as wide, repeat(E'e\\u0301', g % 3) as combining, "
        "(g * 1.5)::text || 'ü' as last from generate_series(1, 3000) g"
    )
    same(fresh_db, fresh_db, *flags, "-c", query)


@pytest.mark.parametrize("expanded", ["off", "auto"])
def test_wrapped_batches_under_fetch_count_take_columns_from_the_environment_as_psql(fresh_db, expanded: str):
    """psql counts its FETCH_COUNT batches as paged output: into a pipe they wrap at $COLUMNS."""
    import subprocess

    from psqlcompare import SHELL, env

    query = "select repeat('x', 60) as a, g as b from generate_series(1, 5) g"
    args = ["-P", "format=wrapped", "-P", f"expanded={expanded}", "-v", "FETCH_COUNT=2", "-c", query]
    environment = {**env(), "COLUMNS": "40"}
    mine = subprocess.run([*SHELL, fresh_db, *args], capture_output=True, env=environment, timeout=60, check=False)
    psql = subprocess.run([PSQL, "-X", fresh_db, *args], capture_output=True, env=environment, timeout=60, check=False)
    assert (mine.returncode, mine.stdout, mine.stderr) == (psql.returncode, psql.stdout, psql.stderr)
    assert max(len(line) for line in mine.stdout.splitlines()) <= 40
