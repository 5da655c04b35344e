"""psql's output flags: -A -F -R -P -H -T -z -0 -o, as one click decorator and one step that
applies them to the shell's `Settings` (after -t, -x, --csv, which set theirs directly).

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
    # The format flags as the command line ordered them ("csv", "no_align", "html", "psets"
    # once per -P): psql applies its options in order, so the last format named wins.
    format_order: tuple[str, ...] = ()


_FORMAT_FLAGS = ("csv", "no_align", "html", "psets")


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
        names = [name for name in DisplayFlags.__dataclass_fields__ if name != "format_order"]
        order = click.get_current_context().meta.get("order", [])
        flags = DisplayFlags(
            **{name: options.pop(name) for name in names},  # type: ignore[arg-type]
            format_order=tuple(name for name in order if name in _FORMAT_FLAGS),
        )
        command(*args, display=flags, **options)

    for option in reversed(_OPTIONS):
        packed = option(packed)
    return packed


def apply_flags(settings: Settings, flags: DisplayFlags) -> list[str]:
    """Set what the flags ask for, the format flags in command-line order; psql's error lines
    if a -P fails."""
    from nl2sql_shell.repl.pset import PsetError, apply

    steps = flags.format_order or ("no_align",) * flags.no_align + ("html",) * flags.html + ("psets",) * len(flags.psets)
    psets = iter(flags.psets)
    for step in steps:
        if step == "psets":
            name, equals, value = next(psets).partition("=")
            try:
                apply(settings, name, value if equals else None)
            except PsetError as exc:
                return [str(exc), f'could not set printing parameter "{name}"']
        else:
            settings.format = {"csv": "csv", "no_align": "unaligned", "html": "html"}[step]
    if flags.field_separator is not None:
        settings.fieldsep, settings.fieldsep_zero = flags.field_separator, False
    if flags.record_separator is not None:
        settings.recordsep, settings.recordsep_zero = flags.record_separator, False
    settings.fieldsep_zero = settings.fieldsep_zero or flags.field_separator_zero
    settings.recordsep_zero = settings.recordsep_zero or flags.record_separator_zero
    if flags.table_attr is not None:
        settings.tableattr = flags.table_attr
    return []
