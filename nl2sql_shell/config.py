"""Defaults from ~/.config/nl2sql-shell/config.toml, fed to click as its default_map.

Example:

    model = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    quantize = "none"
    vi = true

Keys are the long option names of the shell (`model`, `adapter`, `quantize`, `device`,
`backend`, `candidates`, `vi`); a command-line flag always wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CONFIG_ENV = "NL2SQL_SHELL_CONFIG"


def config_path() -> Path:
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "nl2sql-shell" / "config.toml"


def load_config() -> dict[str, Any]:
    """The file's settings, or {} when there is none; a broken file is a one-line error."""
    path = config_path()
    if not path.exists():
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"nl2sql-shell: {path}: {exc}") from None
