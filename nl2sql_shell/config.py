"""Defaults from ~/.config/nl2sql-shell/config.toml, fed to click as its default_map.

Example:

    model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    quantize = "none"
    vi = true

Keys are the long option names of the shell (`model`, `model_url`, `adapter`, `quantize`,
`device`, `backend`, `candidates`, `vi`); a command-line flag always wins over the file.
`check_seconds` bounds, in wall-clock seconds, each EXPLAIN and vote run of a `?` question's
candidates (default 15; the statement timeout alone bounds each statement, not the check).
`grammar = true` has the model write under the schema's grammar, on a backend that can (an
experiment, off: see docs/benchmarks.md).

`rules` switches correction rules (nl2sql/rules) on or off by name, as `--rules` does:
`rules = "+sort_keys,-bridge"` or a list of such switches; `--rules` switches after it.

The shell never writes this file. What it does write for the user (history, examples memory)
holds typed SQL and data, so it goes through private_folder/private_file: 0700 folders and
0600 files, as psql's ~/.psql_history is 0600.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CONFIG_ENV = "NL2SQL_SHELL_CONFIG"
APP_NAME = "nl2sql-shell"


def config_path() -> Path:
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "nl2sql-shell" / "config.toml"


def enabled_rules(option: str | None, config: dict[str, Any]) -> frozenset[str]:
    """The correction rules on: the defaults (no rewrite), switched by the config's `rules`,
    then by `--rules`; raises RuleError (one line) for a name no rule has."""
    from nl2sql_shell.nl2sql.rules import RuleError, parse_rules

    try:
        base = parse_rules(config.get("rules"))
    except RuleError as exc:  # named as every other error of the file is
        raise RuleError(f"{config_path()}: rules: {exc}") from None
    return parse_rules(option, base=base)


def rules_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """`--rules +NAME,-NAME`, identical for the shell and eval; a wrong name is a usage error."""
    import click

    def validate(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from nl2sql_shell.nl2sql.rules import RuleError, parse_rules

        try:
            parse_rules(value)
        except RuleError as exc:
            raise click.BadParameter(str(exc)) from None
        return value

    help_text = "switch correction rules on (+NAME) or off (-NAME), comma-separated; rewrites are off by default (README lists the rules)"
    return click.option("--rules", metavar="+NAME,-NAME", callback=validate, help=help_text)(function)


def load_config() -> dict[str, Any]:
    """The file's settings, or {} when there is none; a broken file is a one-line error, and
    so is a file NL2SQL_SHELL_CONFIG names that is not there (a typo in its name silently
    gave the default model, not the configured server)."""
    path = config_path()
    if not path.exists():
        if os.environ.get(CONFIG_ENV):
            raise SystemExit(f"nl2sql-shell: {path}: no such file ({CONFIG_ENV} names it)")
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"nl2sql-shell: {path}: {exc}") from None
    for key in config.keys() - KEYS:  # a misspelt key would silently change nothing
        print(f"nl2sql-shell: {path}: unknown setting {key!r} ignored; the settings are: {', '.join(sorted(KEYS))}", file=sys.stderr)
    return config


KEYS = frozenset({"model", "model_url", "adapter", "quantize", "device", "backend", "candidates", "check_seconds", "grammar", "vi", "rules"})
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def setting(config: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """The file's ``key`` as ``kind`` (int, float, bool or str), ``default`` when it is not
    there; a value of another kind is a one-line error naming it (`vi = "false"` is a string,
    not false)."""
    if key not in config:
        return default
    value = config[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SystemExit(f"nl2sql-shell: {config_path()}: {key} must be {_KINDS[kind]}, not {value!r}")
    return value


def model_settings(config: dict[str, Any], *, model: str | None, model_url: str | None, adapter: str | None, quantize: str | None, device: str | None, backend: str | None, candidates: int | None) -> dict[str, Any]:
    """What the shell and the proxy ask with: each flag given, else the file's setting. The
    file's local-model settings (adapter, quantize, device) are not for a model server
    (--model-url or the file's model_url), which has its own. Raises SystemExit (one line)
    for a setting of the wrong kind."""
    from nl2sql_shell.nl2sql import DEFAULT_CANDIDATES

    if model_url is not None and backend not in (None, "auto", "openai"):
        raise SystemExit(f"nl2sql-shell: --backend {backend} runs a model here, and --model-url asks a server: give one of them")
    # a flag wins over the file: a local --backend over the file's server, --model-url over its backend
    model_url = model_url or (setting(config, "model_url", str) if backend in (None, "auto", "openai") else None)
    if candidates is None and setting(config, "candidates", int, DEFAULT_CANDIDATES) < 1:
        raise SystemExit(f"nl2sql-shell: {config_path()}: candidates must be at least 1, not {config['candidates']!r}")
    if (seconds := setting(config, "check_seconds", float)) is not None and not seconds > 0:  # (0 cancelled every check at once)
        raise SystemExit(f"nl2sql-shell: {config_path()}: check_seconds must be more than 0, not {config['check_seconds']!r}")
    local = model_url is None
    return {
        "model": model or setting(config, "model", str),
        "model_url": model_url,
        "adapter": adapter or (setting(config, "adapter", str) if local else None),
        "quantize": quantize or (setting(config, "quantize", str) if local else None),
        "device": device or (setting(config, "device", str) if local else None),
        "backend": backend or (setting(config, "backend", str, "auto") if local else "openai"),  # (the file's backend is a local model's)
        "candidates": candidates if candidates is not None else setting(config, "candidates", int, DEFAULT_CANDIDATES),
        "check_seconds": setting(config, "check_seconds", float),
        "grammar": setting(config, "grammar", bool, False),
    }


def data_folder() -> Path:
    """The shell's own data folder (~/.local/share/nl2sql-shell), created 0700; one made
    looser by an older version, or by the embedded server's setup, loses every right of
    others but passing through (0711 from 0755): as root the embedded server's user
    (nobody) must reach a data folder kept inside it, which 0700 stopped mid-session."""
    import platformdirs

    path = private_folder(Path(platformdirs.user_data_dir(APP_NAME)))
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o066:
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o711 | 0o700)
    return path


def private_folder(path: Path) -> Path:
    """Create the missing folders of ``path`` with mode 0700 (parents too, which mkdir's
    parents=True would make with the umask's default); folders that exist are left alone,
    as they may be the user's own (e.g. NL2SQL_SHELL_HISTORY in /tmp)."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another shell made it at the same moment
            continue
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` as an empty 0600 file, or tighten an existing regular file to 0600.

    Anything that is not a regular file (/dev/null in tests, a FIFO) is left untouched.
    """
    if path.exists() and not path.is_file():
        return path
    private_folder(path.parent)
    os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    _tighten(path, 0o600)
    return path


# Lines that carry a password: conninfo `password=`, a URI's `user:secret@`, SQL's
# `PASSWORD '...'` (CREATE/ALTER ROLE/USER), `\setenv PGPASSWORD`. Only fixed alternatives and
# single-character repeats, so a 10 MB pasted statement is checked in linear time and memory.
_SECRET = re.compile(
    r"\bpassword\s*=|\bpassword\s+(?:e|u&)?['$]|://[^\s/@:]*:[^\s/@]*@|\bpgpassword\b",
    re.IGNORECASE,
)


# A password's name (a column, a function) written beside a quoted value: `SET "password" =
# 'x'`, `INSERT INTO users (name, passwd) VALUES (...)`, `crypt('x', ...)`, `PASSWORD/**/'x'`.
_SECRET_NAME = re.compile(r"pass(?:word|wd|phrase)|\bpwd\b|\bcrypt\s*\(", re.IGNORECASE)


def holds_password(text: str) -> bool:
    """Whether text would write a password where it is kept (the history, the examples
    memory) or send it where it goes (a model server's prompt)."""
    return _SECRET.search(text) is not None or (_SECRET_NAME.search(text) is not None and ("'" in text or "$" in text))


def open_private(path: Path, flags: int, *, own: bool = False) -> int:
    """os.open for a file the shell writes for the user, 0600 when it makes it. A symbolic
    link is followed only when the user made it (a history kept with their dotfiles); one
    another user planted in a folder others can write (the history in /tmp) would have the
    shell write where they point, so it is refused, and none can appear between this check
    and the open (O_NOFOLLOW).

    ``own``: the file itself must be the user's (what the shell alone reads back or writes:
    the examples memory, eval's results): one another user made in a folder they can write
    put their text in the model's prompt and received the user's questions and SQL. Asked
    of the file opened, and before it is emptied (O_TRUNC)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode) and info.st_uid != os.geteuid():
        raise PermissionError(errno.EPERM, "a link another user made; not followed", str(path))
    follow = 0 if info is not None and stat.S_ISLNK(info.st_mode) else os.O_NOFOLLOW
    fd = os.open(path, (flags & ~os.O_TRUNC if own else flags) | follow, 0o600)
    if own:
        if os.fstat(fd).st_uid != os.geteuid():
            os.close(fd)
            raise PermissionError(errno.EPERM, "a file another user made; not used", str(path))
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
    return fd


def unsafe_output(folder: Path, names: Iterable[str], *, make: bool = True) -> str | None:
    """Why a command must not write ``names`` into ``folder`` (made here if missing, with
    ``make``), in a few words; None when it may. A folder, or a file in it, that another user
    made (a link to one of this user's files, a file they read back later) in a place others
    can write (/tmp) is refused, as is a folder another user owns, where they could put such
    links at any moment."""
    if folder.is_symlink() and folder.lstat().st_uid != os.geteuid():
        return "a link another user made; not followed"
    if not make and not folder.exists():
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    if folder.stat().st_uid != os.geteuid():
        return "another user's folder; not used"
    for name in names:
        path = folder / name
        if path.is_dir() or not os.access(path if path.exists() else folder, os.W_OK):
            return f"cannot write {name} there"
        if os.path.lexists(path) and path.lstat().st_uid != os.geteuid():
            return f"{name} is {'a link' if path.is_symlink() else 'a file'} another user made; not {'followed' if path.is_symlink() else 'used'}"
    return None


def _tighten(path: Path, mode: int) -> None:
    """chmod to ``mode`` when group or others have any access and the file is ours."""
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, mode)
