"""Start-up files as psql 15 reads them: ~/.psqlrc (or ~/.psqlrc-15 first, or $PSQLRC) before
-c, -f and standard input, skipped with -X; compared byte for byte with /usr/bin/psql run
without -X on the same HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from psqlcompare import PSQL, ours, run

pytestmark = pytest.mark.skipif(PSQL is None, reason="psql is not installed")

RC = "\\set rcvar from-rc\n\\echo rc-loaded\nselect 1/0;\n\\set ON_ERROR_ROLLBACK on\n"


def _both(db: str, *args: str, stdin: bytes | None = None, cwd: Path | None = None):
    assert PSQL is not None
    mine = ours(db, *args, stdin=stdin, cwd=cwd)
    theirs = run([PSQL, db, *args], cwd, stdin)
    assert mine == theirs
    return mine


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PSQLRC", raising=False)
    monkeypatch.delenv("PGSYSCONFDIR", raising=False)
    return tmp_path


def test_psqlrc_runs_before_commands(fresh_db, home: Path):
    (home / ".psqlrc").write_text(RC)
    code, out, err = _both(fresh_db, "-c", "\\echo :rcvar :ON_ERROR_ROLLBACK")
    assert out == b"rc-loaded\nfrom-rc on\n"
    assert err.startswith(f"psql:{home}/.psqlrc:3: ERROR:  division by zero".encode())
    _both(fresh_db, stdin=b"\\echo :rcvar\n")


def test_no_psqlrc_skips_it(fresh_db, home: Path):
    (home / ".psqlrc").write_text(RC)
    code, out, err = _both(fresh_db, "-X", "-c", "\\echo :rcvar")
    assert (out, err) == (b":rcvar\n", b"")


def test_the_version_specific_file_wins(fresh_db, home: Path):
    (home / ".psqlrc").write_text("\\echo plain\n")
    (home / ".psqlrc-15").write_text("\\echo fifteen\n")
    _, out, _ = _both(fresh_db, "-c", "\\echo done")
    assert out == b"fifteen\ndone\n"


def test_psqlrc_variable_names_another_file(fresh_db, home: Path, monkeypatch: pytest.MonkeyPatch):
    (home / ".psqlrc").write_text("\\echo plain\n")
    (home / "other.rc").write_text("\\echo other\n")
    monkeypatch.setenv("PSQLRC", str(home / "other.rc"))
    _, out, _ = _both(fresh_db, "-c", "\\echo done")
    assert out == b"other\ndone\n"


@pytest.mark.parametrize("ending", ["\\set ON_ERROR_STOP 1\nselect 1/0;\n", "\\q\n", "\\i stop.sql\n"])
def test_a_start_up_file_that_stops_ends_only_itself(fresh_db, home: Path, ending: str):
    """ON_ERROR_STOP and an error in ~/.psqlrc was a traceback that ended the shell before any
    work; psql ends the file and goes on, as it does for a `\\q` there."""
    (home / "stop.sql").write_text("\\set ON_ERROR_STOP 1\nselect 1/0;\n\\echo not-here\n")
    (home / ".psqlrc").write_text("\\echo rc\n" + ending + "\\echo rc-end\n")
    code, out, err = _both(fresh_db, "-c", "\\echo after", cwd=home)
    assert code == 0 and out.startswith(b"rc\n") and out.endswith(b"after\n") and b"not-here" not in out and b"Traceback" not in err
