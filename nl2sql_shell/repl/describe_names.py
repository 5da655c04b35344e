"""Which command a `\\d...` name runs, read as psql 15's exec_command_d reads it.

psql looks only at the first letter or two after `\\d` and then searches the whole name for
S (system objects) and + (more detail): `\\dtx` lists tables, `\\dnx` schemas, `\\dconf`
conversions, `\\dfSa` aggregates, while `\\dAS` or `\\dFS` is an invalid command. Our handlers
take one spelling per command; ``canonical`` maps whatever psql accepts onto it, so a name
psql runs runs here too and one it refuses is refused here too.
"""

from __future__ import annotations

# Letters that pick what a command lists, by the part of the name that starts them.
_RELATION_LETTERS = "tvmisE"  # listTables searches the whole name for each
_PARTITION_LETTERS = "tin"  # listPartitionedTables, from the third character on
_FUNCTION_LETTERS = "anptw"
FUNCTION_OPTIONS = _FUNCTION_LETTERS + "S+"  # what \\df accepts after its name
# One letter after \\d that runs the same command whatever follows it.
_WHOLE = {"a": "da", "b": "db", "C": "dC", "D": "dD", "g": "dg", "l": "dl", "L": "dL", "n": "dn", "o": "do", "O": "dO", "p": "dp", "T": "dT", "u": "du", "x": "dx", "X": "dX", "y": "dy"}
# Two letters after \\d: the second picks the command; any other second letter is unknown.
_PAIRS = {
    "A": {"": "dA", "+": "dA", "c": "dAc", "f": "dAf", "o": "dAo", "p": "dAp"},
    "F": {"": "dF", "+": "dF", "p": "dFp", "d": "dFd", "t": "dFt"},
    "e": {"s": "des", "u": "deu", "w": "dew", "t": "det"},
    "R": {"p": "dRp", "s": "dRs"},
}
# Commands whose psql function takes no showSystem (\\dP too): an S in their name changes nothing.
_NO_SYSTEM = frozenset({"dA", "dAc", "dAf", "dAo", "dAp", "db", "dC", "ddp", "dF", "dFp", "dFd", "dFt", "des", "deu", "dew", "det", "dl", "dp", "dRp", "dRs", "drds", "dx", "dX", "dy"})


class BadFunctionOptions(Exception):
    """`\\df` followed by a letter it does not take: psql's message, and the command succeeds."""


def canonical(name: str) -> str | None:
    """Our spelling of the `\\d` command psql runs for ``name`` (``\\dtx`` -> ``\\dt``), its +
    kept and its S where the command has a use for it; None when psql calls the name an
    invalid command. Raises BadFunctionOptions for `\\df` with a letter outside [anptwS+],
    which psql reports instead of listing."""
    if not name.startswith("\\d"):
        return None
    cmd = name[1:]
    first, second = cmd[1:2], cmd[2:3]
    base: str | None
    if first in ("", "+", "S"):
        base = "d"
    elif first in _RELATION_LETTERS:
        base = "d" + "".join(letter for letter in _RELATION_LETTERS if letter in cmd[1:])
    elif first in _WHOLE:
        base = _WHOLE[first]
    elif first == "c":
        base = "dconfig" if cmd.startswith("dconfig") else "dc"
    elif first == "d":
        base = "ddp" if cmd.startswith("ddp") else "dd"
    elif first == "r":
        base = "drds" if cmd[2:4] == "ds" else None
    elif first == "P":
        base = "dP" + "".join(letter for letter in _PARTITION_LETTERS if letter in cmd[2:]) if second in ("", "+", *_PARTITION_LETTERS) else None
    elif first == "f":
        if second not in ("", "+", "S", *_FUNCTION_LETTERS):
            return None
        if any(char not in FUNCTION_OPTIONS for char in cmd[2:]):
            raise BadFunctionOptions("\\df only takes [anptwS+] as options")
        base = "df" + "".join(letter for letter in _FUNCTION_LETTERS if letter in cmd[2:])
    else:
        base = _PAIRS.get(first, {}).get(second)
    if base is None:
        return None
    return "\\" + base + ("S" if "S" in cmd and base not in _NO_SYSTEM and not base.startswith("dP") else "") + ("+" if "+" in cmd else "")


def takes_two_patterns(name: str) -> bool:
    """psql reads a second pattern for `\\drds` and for `\\dA` with c, f, o or p."""
    return name.startswith("\\drds") or name.startswith(("\\dAc", "\\dAf", "\\dAo", "\\dAp"))
