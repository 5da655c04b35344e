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
        names = DisplayFlags.__dataclass_fields__
        flags = DisplayFlags(**{name: options.pop(name) for name in names})  # type: ignore[arg-type]
        command(*args, display=flags, **options)

    for option in reversed(_OPTIONS):
        packed = option(packed)
    return packed


def apply_flags(settings: Settings, flags: DisplayFlags) -> list[str]:
    """Set what the flags ask for, in psql's order (-P last); psql's error lines if one fails."""
    from nl2sql_shell.repl.pset import PsetError, apply

    if flags.no_align:
        settings.format = "unaligned"
    if flags.html:
        settings.format = "html"
    if flags.field_separator is not None:
        settings.fieldsep, settings.fieldsep_zero = flags.field_separator, False
    if flags.record_separator is not None:
        settings.recordsep, settings.recordsep_zero = flags.record_separator, False
    settings.fieldsep_zero = settings.fieldsep_zero or flags.field_separator_zero
    settings.recordsep_zero = settings.recordsep_zero or flags.record_separator_zero
    if flags.table_attr is not None:
        settings.tableattr = flags.table_attr
    for assignment in flags.psets:
        name, equals, value = assignment.partition("=")
        try:
            apply(settings, name, value if equals else None)
        except PsetError as exc:
            return [str(exc), f'could not set printing parameter "{name}"']
    return []
