"""psql's variables: the values the shell reads from them.

psql stores every variable as text and reads a boolean one (AUTOCOMMIT, ON_ERROR_STOP) by
its own rule, which accepts any unambiguous prefix of true/false/yes/no/on/off and 1/0.
"""

from __future__ import annotations


def boolean(value: str | None, default: bool = False) -> bool:
    """psql's ParseVariableBool: an unset or unrecognised value is ``default``."""
    if value is None:
        return default
    text = value.strip().lower()
    if not text:
        return default
    if text in ("1", "0"):
        return text == "1"
    if len(text) >= 2 and "on".startswith(text):
        return True
    if len(text) >= 2 and "off".startswith(text):
        return False
    for word, meaning in (("true", True), ("false", False), ("yes", True), ("no", False)):
        if word.startswith(text):
            return meaning
    return default
