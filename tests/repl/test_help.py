"""\\?: psql's help in its sections, the session's settings in it, and no command listed that
the shell does not run."""

from __future__ import annotations

import re

import pytest
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


def _help(conninfo: str, *args: str) -> str:
    """What the shell printed on standard output, having exited 0 with nothing on standard error."""
    code, out, err = ours(conninfo, *args)
    assert (code, err) == (0, b"")
    return out.decode()


def test_help_variables_lists_psqls_variables_display_settings_and_our_environment(fresh_db):
    """`\\? variables` is psql's list, less what the shell does not read (HISTFILE,
    PSQL_HISTORY), its usage lines naming nl2sql-shell, then the shell's own variables."""
    from psqlcompare import PSQL, theirs

    text = _help(fresh_db, "-c", "\\? variables")
    assert text.startswith("List of specially treated variables\n\npsql variables:\n")
    for entry in ("  ON_ERROR_STOP\n    stop batch execution after error\n", "Display settings:\n", "  expanded (or x)\n", "  NL2SQL_SHELL_HISTORY\n", "  NL2SQL_SHELL_DATA_DIR\n"):
        assert entry in text
    settings = re.findall(r"^  ([a-z_]+)(?: \(or \w\))?$", text.partition("Display settings:")[2].partition("Environment variables:")[0], re.MULTILINE)
    assert len(settings) == 20
    _, _, err = ours(fresh_db, *[arg for name in settings for arg in ("-c", f"\\pset {name}")])
    assert err == b""  # every setting listed is one \\pset takes
    if PSQL is not None:
        lines = text.splitlines()
        assert [line for line in theirs(fresh_db, "-c", "\\? variables")[1].decode().splitlines() if line not in lines] == [
            "  psql --set=NAME=VALUE",
            "  or \\set NAME VALUE inside psql",
            "  HISTFILE",
            "    file name used to store the command history",
            "  psql --pset=NAME[=VALUE]",
            "  or \\pset NAME [VALUE] inside psql",
            "  NAME=VALUE [NAME=VALUE] psql ...",
            "  or \\setenv NAME [VALUE] inside psql",
            "  PSQL_HISTORY",
        ]


def test_help_options_is_the_command_lines_help(fresh_db):
    """psql's `\\? options` is its --help; ours is the shell's."""
    from psqlcompare import SHELL, run

    assert _help(fresh_db, "-c", "\\? options") == run([*SHELL, "--help"])[1].decode()


def test_help_topics_on_the_command_line(fresh_db):
    """psql's --help=commands is `\\?` without a connection, --help=variables `\\? variables`,
    --help=options --help; on standard output, exit code 0."""
    dbname = re.search(r"dbname=(\S+)", fresh_db).group(1)
    commands = _help(fresh_db, "-c", "\\?").replace(f'(currently "{dbname}")', "(currently no connection)")
    assert _help(fresh_db, "--help=commands") == commands
    assert _help(fresh_db, "--help=variables") == _help(fresh_db, "-c", "\\? variables")
    assert _help(fresh_db, "--hel=options") == _help(fresh_db, "--help")


@pytest.mark.parametrize("topic", ["foo", "", "Variables"])
def test_an_unknown_help_topic_on_the_command_line_is_psqls_hint(fresh_db, topic: str):
    from psqlcompare import PSQL, theirs

    result = ours(fresh_db, f"--help={topic}")
    assert result == (1, b"", b'psql: hint: Try "nl2sql-shell --help" for more information.\n')
    if PSQL is not None:
        assert theirs(fresh_db, f"--help={topic}") == (1, b"", b'psql: hint: Try "psql --help" for more information.\n')


def test_an_unknown_help_topic_shows_the_commands_and_an_extra_word_is_ignored_as_in_psql(fresh_db):
    """psql answers `\\? foo` as `\\?`, and warns of a second word, unread."""
    code, out, err = ours(fresh_db, "-c", "\\? foo", "-c", "\\? commands bar")
    assert code == 0 and out.decode() == 2 * _help(fresh_db, "-c", "\\?")
    assert err == b'\\?: extra argument "bar" ignored\n'


def test_help_without_a_connection_says_so_as_psql(fresh_db):
    """After a failed `\\c` in a script there is no connection (it broke `\\?`)."""
    code, out, _ = ours(fresh_db, "-c", "\\c nosuchdb", "-c", "\\?")
    assert "connect to new database (currently no connection)\n" in out.decode()
