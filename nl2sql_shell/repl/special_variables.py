"""psql's hooks on its own variables: what `\\unset` and an empty `\\set` leave, and which
values `\\set` refuses (the variable then keeps its value), as psql 15's startup.c sets them.

`\\unset ON_ERROR_STOP` leaves "off", `\\set ON_ERROR_STOP` leaves "on", and `\\set
VERBOSITY loud` is refused with psql's list of the values it takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nl2sql_shell.repl.variables import parse_boolean


@dataclass(frozen=True)
class Special:
    unset: str  # what \unset (or a bare -v NAME) leaves
    empty: str | None = None  # what an empty \set leaves, when psql substitutes one
    choices: tuple[str, ...] = ()  # words accepted besides a boolean (or alone, for an enum)
    kind: str = "enum"  # "bool", "bool+" (a boolean or one of the choices), "enum", "int"


_BOOL = Special("off", "on", kind="bool")
SPECIALS: dict[str, Special] = {
    **dict.fromkeys(("AUTOCOMMIT", "ON_ERROR_STOP", "QUIET", "SINGLELINE", "SINGLESTEP", "SHOW_ALL_RESULTS", "HIDE_TABLEAM", "HIDE_TOAST_COMPRESSION"), _BOOL),
    "ECHO_HIDDEN": Special("off", "on", ("on", "off", "noexec"), "bool+"),
    "ON_ERROR_ROLLBACK": Special("off", "on", ("on", "off", "interactive"), "bool+"),
    "ECHO": Special("none", choices=("none", "errors", "queries", "all")),
    "COMP_KEYWORD_CASE": Special("preserve-upper", choices=("lower", "upper", "preserve-lower", "preserve-upper")),
    "HISTCONTROL": Special("none", choices=("none", "ignorespace", "ignoredups", "ignoreboth")),
    "VERBOSITY": Special("default", choices=("default", "verbose", "terse", "sqlstate")),
    "SHOW_CONTEXT": Special("errors", choices=("never", "errors", "always")),
    "FETCH_COUNT": Special("0", kind="int"),
    "HISTSIZE": Special("500", kind="int"),
}


# The variables psql gives a hook: `\gset` leaves them alone, with a warning (a query's
# column named PROMPT1 would otherwise put a backquoted command into the prompt).
HOOKED = frozenset({*SPECIALS, "HISTFILE", "IGNOREEOF", "PROMPT1", "PROMPT2", "PROMPT3", "HIDE_TOAST_COMPRESSION", "HIDE_TABLEAM"})


def substitute(name: str, value: str | None) -> str | None:
    """The value psql stores for ``value`` (None: unset) of variable ``name``."""
    if name == "IGNOREEOF":  # any non-number means 10, as bash's
        return "0" if value is None else value if parse_int(value) is not None else "10"
    special = SPECIALS.get(name)
    if special is None:
        return value
    if value is None:
        return special.unset
    return special.empty if value == "" and special.empty is not None else value


def refusal(name: str, value: str) -> str | None:
    """psql's error for a value its hook refuses, else None."""
    special = SPECIALS.get(name)
    if special is None:
        return None
    if special.kind == "int":
        return None if parse_int(value) is not None else f'invalid value "{value}" for "{name}": integer expected'
    if special.kind == "bool":
        return None if parse_boolean(value) is not None else f'unrecognized value "{value}" for "{name}": Boolean expected'
    if special.kind == "bool+" and parse_boolean(value) is not None:
        return None
    if value.lower() in special.choices:
        return None
    return f'unrecognized value "{value}" for "{name}"\nAvailable values are: {", ".join(special.choices)}.'


def parse_int(value: str) -> int | None:
    """psql's ParseVariableNum: strtol(value, base 0) over the whole string, an int."""
    match = _STRTOL.fullmatch(value)
    if match is None:
        return None
    sign, digits = match.groups()
    number = int(digits, 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10)
    number = -number if sign == "-" else number
    return number if -(2**31) <= number < 2**31 else None


_STRTOL = re.compile(r"[ \t\n\r\f\v]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
