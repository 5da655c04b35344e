"""Files the shell writes for the user are private (0600 in 0700 folders), and the history
file never receives a password, whatever the umask; checked as `stat` and `cat` would show."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from nl2sql_shell.nl2sql.examples import ExampleStore, store_path
from nl2sql_shell.repl.app import PrivateHistory, history_path

SECRETS = ("sekrit-conninfo", "sekrit-uri", "sekrit-role", "sekrit-alter")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """A throw-away HOME and XDG_DATA_HOME (not created yet), with a umask that would let
    everyone read and write what is created: only the shell's own modes keep files private."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "xdg" / "share"))
    for name in ("NL2SQL_SHELL_HISTORY", "NL2SQL_SHELL_EXAMPLES_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    previous = os.umask(0)
    yield tmp_path / "home"
    os.umask(previous)


def test_real_session_history_is_private_and_holds_no_password(fresh_db, home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PAGER="", TERM="dumb")
    child = pexpect.spawn(sys.executable, ["-m", "nl2sql_shell", fresh_db], env=env, encoding="utf-8", timeout=30, dimensions=(40, 200))
    child.expect("=# ")
    for line in (
        "select 'kept in history' as visible;",
        '\\c "host=127.0.0.1 port=1 password=sekrit-conninfo"',
        "\\c postgresql://someone:sekrit-uri@127.0.0.1:1/db",
        "begin;",
        "CREATE ROLE r_files PASSWORD 'sekrit-role';",
        "alter role r_files with encrypted password 'sekrit-alter';",
        "rollback;",
        "\\q",
    ):
        child.sendline(line)
        if line != "\\q":
            child.expect(r"=[*!]?# ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    history = home / "xdg" / "share" / "nl2sql-shell" / "history"
    text = history.read_text()
    assert "kept in history" in text and "rollback;" in text
    assert not [secret for secret in SECRETS if secret in text]
    assert mode(history) == 0o600
    for folder in (history.parent, home / "xdg" / "share", home / "xdg"):
        assert mode(folder) == 0o700, folder


def test_an_existing_history_file_and_data_folder_are_tightened(home: Path):
    folder = home / "xdg" / "share" / "nl2sql-shell"
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)
    old = folder / "history"
    old.write_text("\n# old\n+select 1;\n")
    os.chmod(old, 0o644)
    history = PrivateHistory(history_path())
    assert (mode(folder), mode(old)) == (0o711, 0o600)  # others may pass through (root's embedded data folder may be inside), not look
    history.store_string("select 2;")
    assert "+select 2;" in old.read_text() and mode(old) == 0o600


def test_history_elsewhere_leaves_that_folder_alone(home: Path, monkeypatch):
    shared = home / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(shared / "history"))
    PrivateHistory(history_path()).store_string("select 3;")
    assert (mode(shared), mode(shared / "history")) == (0o755, 0o600)


def test_history_to_dev_null_is_not_touched(home: Path, monkeypatch):
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", os.devnull)
    before = mode(Path(os.devnull))
    PrivateHistory(history_path()).store_string("select 4;")
    assert mode(Path(os.devnull)) == before


def test_examples_memory_is_private(home: Path):
    path = store_path("127.0.0.1", 5432, "shop")
    ExampleStore(path).add("how many orders?", "SELECT count(*) FROM orders")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # .../nl2sql-shell/examples
    assert mode(path.parent.parent) == 0o700  # .../nl2sql-shell


def test_the_embedded_server_s_examples_outlive_its_port(home: Path, pg_server):
    """The embedded server takes a new port at each start: its examples were keyed by it, and
    a new, empty memory came with every session (a socket folder of another server's keeps it)."""
    assert store_path(str(pg_server.data_dir), 1234, "shop") == store_path(str(pg_server.data_dir), 5678, "shop")
    assert store_path("/var/run/postgresql", 5432, "shop") != store_path("/var/run/postgresql", 5433, "shop")


def test_an_existing_examples_file_is_tightened_when_read(home: Path):
    path = store_path("127.0.0.1", 5432, "shop")
    path.parent.mkdir(parents=True)
    path.write_text('{"question": "q", "sql": "SELECT 1"}\n')
    os.chmod(path, 0o644)
    assert [example.sql for example in ExampleStore(path).all()] == ["SELECT 1"]
    assert mode(path) == 0o600


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a link another user owns needs root")
NOBODY = 65534


def planted(link: Path, target: Path) -> Path:
    """A symbolic link at ``link`` to ``target`` that another local user (nobody) made."""
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)
    return link


@pytest.fixture
def shared(home: Path) -> Path:
    """A folder every local user may write, as /tmp (sticky), and a file of the user's that
    another user would like to see overwritten."""
    folder = home / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    (home / "precious").write_text("the user's own file\n")
    return folder


@needs_root
def test_history_trimmed_at_exit_never_writes_through_a_planted_name(home: Path, shared: Path, monkeypatch):
    """HISTSIZE rewrote the history under the fixed name history.new, following a link
    another user had put there: the user's own file was overwritten with their history."""
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(shared / "history"))
    planted(shared / "history.new", home / "precious")
    history = PrivateHistory(history_path())
    for n in range(5):
        history.store_string(f"select {n};")
    history.keep_last(2)
    assert (home / "precious").read_text() == "the user's own file\n"
    assert not (shared / "history").is_symlink() and mode(shared / "history") == 0o600
    assert list(PrivateHistory(history_path()).load_history_strings()) == ["select 4;", "select 3;"]


@needs_root
def test_a_history_or_examples_file_another_user_linked_elsewhere_is_not_followed(home: Path, shared: Path, monkeypatch):
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(shared / "history"))
    planted(shared / "history", home / "precious")
    warnings: list[str] = []
    history = PrivateHistory(history_path(), warn=warnings.append)
    history.store_string("select 'typed';")
    history.keep_last(0)
    assert warnings == [f'could not save history to file "{shared / "history"}": a link another user made; not followed']  # psql's words, once
    assert (home / "precious").read_text() == "the user's own file\n" and list(history.load_history_strings()) == []

    store = ExampleStore(planted(shared / "shop.jsonl", home / "precious"), warn=warnings.append)
    store.add("how many orders?", "SELECT count(*) FROM orders")
    assert store.all() == [] and (home / "precious").read_text() == "the user's own file\n"
    assert warnings[1:] == [
        f'could not keep the answer in the examples memory "{shared / "shop.jsonl"}": a link another user made; not followed',
        f'could not read the examples memory "{shared / "shop.jsonl"}": a link another user made; not followed',
    ]


@needs_root
def test_an_examples_file_another_user_made_is_neither_read_nor_written(home: Path, shared: Path):
    """A 0666 examples file another user made in a shared folder: its pairs went into the
    model's prompt, and the user's accepted questions and SQL went into it, for them to read."""
    path = shared / "shop.jsonl"
    path.write_text('{"question": "total order amount", "sql": "SELECT 1 /* theirs */"}\n')
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, 0o666)
    warnings: list[str] = []
    store = ExampleStore(path, warn=warnings.append)
    assert store.all() == []
    store.add("how many orders?", "SELECT count(*) FROM orders")
    assert "orders" not in path.read_text()
    assert warnings == [
        f'could not read the examples memory "{path}": a file another user made; not used',
        f'could not keep the answer in the examples memory "{path}": a file another user made; not used',
    ]


def test_a_history_the_user_linked_to_their_dotfiles_is_followed(home: Path, monkeypatch):
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    (home / "history").symlink_to(dotfiles / "nl2sql_history")
    monkeypatch.setenv("NL2SQL_SHELL_HISTORY", str(home / "history"))
    PrivateHistory(history_path()).store_string("select 5;")
    assert "+select 5;" in (dotfiles / "nl2sql_history").read_text() and (home / "history").is_symlink()
