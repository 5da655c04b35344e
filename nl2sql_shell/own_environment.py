"""Variables the shell puts in its own environment for the libraries it loads (MKL, OpenMP,
transformers), or that Python's locale coercion put there (LC_CTYPE=C.UTF-8), kept out of the
commands the person starts from it (`\\!`, `\\o |cmd`, `\\copy ... program`, backticks, the
pager, the editor): psql's children see the person's environment as it was."""

from __future__ import annotations

import os

_OWN: set[str] = set()
if (
    os.environ.get("LC_CTYPE") == "C.UTF-8"
    and not os.environ.get("LC_ALL")
    and os.environ.get("LANG", "C") in ("C", "POSIX", "")
    and os.environ.get("PYTHONCOERCECLOCALE") != "0"
):
    _OWN.add("LC_CTYPE")  # (PEP 538: Python sets it in a C or POSIX locale, where the person had none)


def set_default(name: str, value: str) -> None:
    """``name`` set to ``value`` for this process's libraries, unless the person set it."""
    if name not in os.environ:
        os.environ[name] = value
        _OWN.add(name)


def release(name: str) -> None:
    """``name`` is the person's now (`\\setenv`): their children see it."""
    _OWN.discard(name)


def for_children() -> dict[str, str]:
    """The environment a command the person starts gets."""
    return {name: value for name, value in os.environ.items() if name not in _OWN}
