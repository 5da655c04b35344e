"""psql's output flags: -A -F -R -P -H -T -z -0 -o, as one click decorator and one step that
applies them to the shell's `Settings` in command-line order, with -t, -x and --csv (which
set theirs first, and again in their place here).

They are gathered into one ``display`` argument so that the command line and `run_shell`
grow by one name, not ten; -P goes through ``\\pset``'s own code, so ``-P format=a`` fails
exactly as ``\\pset format a`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import click

from nl2sql_shell.db.settings import Settings


@dataclass(frozen=True)
class DisplayFlags:
    no_align: bool = False
    field_separator: str | None = None
    record_separator: str | None = None
    psets: tuple[str, ...] = ()
    html: bool = False
    table_attr: str | None = None
    field_separator_zero: bool = False
    record_separator_zero: bool = False
    output: str | None = None
    # The output flags as the command line ordered them, one name per use ("psets" once per
    # -P; -t, -x and --csv too, as "tuples_only", "expanded", "csv"): psql applies its options
    # in that order, so `-F y -P fieldsep=x` separates with x and `-P fieldsep=x -F y` with y.
    order: tuple[str, ...] = ()


# What each flag does to the settings, as psql's option parser does it (-F and -R turn the
# zero byte off, -z and -0 turn it on and keep the separator).
_STEPS: dict[str, Callable[[Settings, DisplayFlags], None]] = {
    "csv": lambda settings, flags: setattr(settings, "format", "csv"),
    "no_align": lambda settings, flags: setattr(settings, "format", "unaligned"),
    "html": lambda settings, flags: setattr(settings, "format", "html"),
    "tuples_only": lambda settings, flags: setattr(settings, "tuples_only", True),
    "expanded": lambda settings, flags: setattr(settings, "expanded", "on"),
    "field_separator": lambda settings, flags: _set_separator(settings, "fieldsep", flags.field_separator),
    "record_separator": lambda settings, flags: _set_separator(settings, "recordsep", flags.record_separator),
    "field_separator_zero": lambda settings, flags: setattr(settings, "fieldsep_zero", True),
    "record_separator_zero": lambda settings, flags: setattr(settings, "recordsep_zero", True),
    "table_attr": lambda settings, flags: setattr(settings, "tableattr", flags.table_attr),
}
_ORDERED = ("psets", *_STEPS)


_OPTIONS = (
    click.option("-A", "--no-align", is_flag=True, help="unaligned table output mode"),
    click.option("-F", "--field-separator", metavar="STRING", help='field separator for unaligned output (default: "|")'),
    click.option("-R", "--record-separator", metavar="STRING", help="record separator for unaligned output (default: newline)"),
    click.option("-P", "--pset", "psets", multiple=True, metavar="VAR[=ARG]", help="set printing option VAR to ARG (see \\pset command)"),
    click.option("-H", "--html", is_flag=True, help="HTML table output mode"),
    click.option("-T", "--table-attr", metavar="TEXT", help="set HTML table tag attributes (e.g., width, border)"),
    click.option("-z", "--field-separator-zero", is_flag=True, help="set field separator for unaligned output to zero byte"),
    click.option("-0", "--record-separator-zero", is_flag=True, help="set record separator for unaligned output to zero byte"),
    click.option("-o", "--output", metavar="FILENAME", help="send query results to file"),
)


def display_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the flags to a click command; its callback receives them as ``display=DisplayFlags``."""

    @functools.wraps(command)
    def packed(*args: object, **options: object) -> None:
        names = [name for name in DisplayFlags.__dataclass_fields__ if name != "order"]
        order = click.get_current_context().meta.get("order", [])
        flags = DisplayFlags(
            **{name: options.pop(name) for name in names},  # type: ignore[arg-type]
            order=tuple(name for name in order if name in _ORDERED),
        )
        command(*args, display=flags, **options)

    for option in reversed(_OPTIONS):
        packed = option(packed)
    return packed


def apply_flags(settings: Settings, flags: DisplayFlags) -> list[str]:
    """Do what the flags ask for, in command-line order (``flags.order``, -t -x --csv
    included); psql's error lines if a -P fails."""
    from nl2sql_shell.repl.pset import PsetError, apply

    psets = iter(flags.psets)
    for step in flags.order:
        if step != "psets":
            _STEPS[step](settings, flags)
            continue
        name, equals, value = next(psets).partition("=")
        try:
            apply(settings, name, value if equals else None)
        except PsetError as exc:
            return [str(exc), f'could not set printing parameter "{name}"']
    return []


def _set_separator(settings: Settings, name: str, value: str | None) -> None:
    """-F or -R: the separator, and no longer the zero byte."""
    setattr(settings, name, value)
    setattr(settings, f"{name}_zero", False)
