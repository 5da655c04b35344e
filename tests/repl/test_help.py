"""\\?: psql's help in its sections, the session's settings in it, and no command listed that
the shell does not run."""

from __future__ import annotations

import re

from psqlcompare import ours

from nl2sql_shell.repl.help import PSQL_COMMANDS

# Commands that wait for a person, leave the session or touch files: run elsewhere in the suite.
_NOT_HERE = {"\\!", "\\e", "\\ef", "\\ev", "\\q", "\\watch", "\\prompt", "\\password", "\\cd", "\\o", "\\w", "\\i", "\\ir", "\\c", "\\if", "\\elif", "\\else", "\\endif", "\\restrict"}


def test_help_shows_psqls_sections_and_this_sessions_settings(fresh_db):
    code, out, _ = ours(fresh_db, "-c", "\\x", "-c", "\\?")
    text = out.decode()
    assert code == 0
    for section in ("General\n", "Query Buffer\n", "Informational\n", "Formatting\n", "Connection\n", "Variables\n", "Questions (nl2sql-shell)\n"):
        assert "\n" + section in "\n" + text
    assert "toggle expanded output (currently on)" in text and "toggle HTML output mode (currently off)" in text
    dbname = re.search(r"dbname=(\S+)", fresh_db).group(1)
    assert f'connect to new database (currently "{dbname}")' in text


def test_every_command_the_help_lists_runs(fresh_db):
    """None answers "invalid command": the help promises nothing the shell lacks."""
    names = sorted({match.group(1) for match in re.finditer(r"^  (\\[a-zA-Z_?]+)", PSQL_COMMANDS, re.MULTILINE)} - _NOT_HERE)
    assert len(names) > 80
    _, out, err = ours(fresh_db, *[arg for name in names for arg in ("-c", name)])
    assert b"invalid command" not in err, err.decode()


def test_copyright_as_psql(fresh_db):
    from psqlcompare import PSQL, theirs

    result = ours(fresh_db, "-c", "\\copyright")
    assert result[1].startswith(b"PostgreSQL Database Management System\n")
    if PSQL is not None:
        assert result == theirs(fresh_db, "-c", "\\copyright")
