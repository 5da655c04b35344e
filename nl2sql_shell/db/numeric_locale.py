"""``\\pset numericlocale on``: digits grouped and the decimal point as the locale writes them,
in right-aligned (numeric) columns, as psql 15's format_numeric_locale does.

psql reads the separators from the locale once (setlocale(LC_ALL, "")); an empty thousands
separator (the C locale's) becomes ``,`` (``.`` where the decimal point is a comma), and a
grouping outside 1-6 becomes 3. A value that is not plainly a number (money's ``$1,234.00``,
``NaN``) is left as it is.
"""

from __future__ import annotations

import locale
from collections.abc import Sequence
from functools import lru_cache

_NUMBER_CHARS = frozenset("0123456789+-.eE")


@lru_cache(maxsize=1)
def _conventions() -> tuple[str, str, int]:
    """(decimal point, thousands separator, digits per group), psql's setDecimalLocale."""
    try:
        locale.setlocale(locale.LC_NUMERIC, "")
    except locale.Error:
        pass
    conv = locale.localeconv()
    point = conv["decimal_point"] or "."
    grouping = conv["grouping"][0] if conv["grouping"] else 0
    group = grouping if 0 < grouping <= 6 else 3
    separator = conv["thousands_sep"] or ("," if point != "," else ".")
    return point, separator, group


def localized(text: str) -> str:
    """One value with its integer digits grouped and the locale's decimal point."""
    if not set(text) <= _NUMBER_CHARS:
        return text
    point, separator, group = _conventions()
    sign = text[:1] if text[:1] in "+-" else ""
    body = text[len(sign):]
    digits = len(body) - len(body.lstrip("0123456789"))
    leading = digits % group or group
    out = [sign]
    for i, digit in enumerate(body[:digits]):
        if i > 0:
            leading -= 1
            if leading == 0:
                out.append(separator)
                leading = group
        out.append(digit)
    rest = body[digits:]
    if rest.startswith("."):
        out.append(point)
        rest = rest[1:]
    return "".join(out) + rest


def localize_rows(rows: Sequence[Sequence[str | None]], numeric: Sequence[bool]) -> list[tuple[str | None, ...]]:
    """The rows with every non-NULL value of a numeric column localized."""
    return [tuple(localized(v) if right and v is not None else v for v, right in zip(row, numeric)) for row in rows]
