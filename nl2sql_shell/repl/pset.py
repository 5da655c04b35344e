"""``\\pset`` and its shortcuts (``\\a \\t \\f \\H \\C \\T \\x``), ``-P``, and the display variables
FETCH_COUNT and QUIET, with psql 15's words for each.

psql's ``do_pset`` has quirks users see and scripts rely on, kept here: a boolean option given
a value (``\\pset footer off``, ``\\t on``) prints no message, ``\\pset border x`` is border 0
(atoi), a format or line style may be any unambiguous prefix, and ``-q`` silences the messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from nl2sql_shell.db.settings import FORMATS, Settings
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.special_variables import parse_int, refusal, substitute
from nl2sql_shell.repl.variables import atoi, boolean, meta_arguments, parse_boolean

_ALIASES = {"x": "expanded", "t": "tuples_only", "C": "title", "T": "tableattr"}
_LISTED = (
    "border", "columns", "csv_fieldsep", "expanded", "fieldsep", "fieldsep_zero", "footer", "format", "linestyle", "null",
    "numericlocale", "pager", "pager_min_lines", "recordsep", "recordsep_zero", "tableattr", "title", "tuples_only",
    "unicode_border_linestyle", "unicode_column_linestyle", "unicode_header_linestyle",
)


class PsetError(Exception):
    """A value psql refuses; the message is psql's."""


def _bool(value: str, name: str) -> bool:
    """psql's ParseVariableBool, with its error for anything else."""
    if (parsed := parse_boolean(value)) is not None:
        return parsed
    raise PsetError(f'unrecognized value "{value}" for "{name}": Boolean expected')


def _prefix_choice(value: str, choices: tuple[str, ...], error: str) -> str:
    matches = [choice for choice in choices if choice.startswith(value.lower())]
    if len(matches) > 1 and matches[0] != "latex":
        raise PsetError(f'\\pset: ambiguous abbreviation "{value}" matches both "{matches[0]}" and "{matches[1]}"')
    if not matches:
        raise PsetError(error)
    return matches[0]


def apply(settings: Settings, name: str, value: str | None) -> bool:
    """Set one option as psql's do_pset; returns whether psql would print its message (a
    boolean given a value prints none). Raises PsetError with psql's words."""
    typed, name = name, _ALIASES.get(name, name)  # psql's messages name the option as typed (`t`, `x`)
    s = settings
    if name == "format":
        if value is not None:
            s.format = _prefix_choice(value, FORMATS, "\\pset: allowed formats are " + ", ".join(FORMATS))
    elif name == "border":
        if value is not None:
            s.border = atoi(value) & 0xFFFF  # psql keeps it in an unsigned short: -1 is 65535
    elif name == "expanded":
        if value is not None and value.lower() == "auto":
            s.expanded = "auto"
        elif value is not None:
            try:
                s.expanded = "on" if _bool(value, typed) else "off"
            except PsetError:
                raise PsetError(f'unrecognized value "{value}" for "{typed}"\nAvailable values are: on, off, auto.') from None
        else:  # psql's !expanded: auto toggles to off
            s.expanded = "on" if s.expanded == "off" else "off"
    elif name in ("tuples_only", "footer", "numericlocale"):
        if value is not None:
            setattr(s, name, _bool(value, typed))
            return False
        setattr(s, name, not getattr(s, name))
    elif name == "linestyle":
        if value is not None:
            s.linestyle = _prefix_choice(value, ("ascii", "old-ascii", "unicode"), "\\pset: allowed line styles are ascii, old-ascii, unicode")
    elif name == "null":
        if value is not None:
            s.null = value
    elif name in ("fieldsep", "recordsep"):
        if value is not None:
            setattr(s, name, value)
            setattr(s, name + "_zero", False)
    elif name in ("fieldsep_zero", "recordsep_zero"):
        setattr(s, name, True)
    elif name == "csv_fieldsep":
        if value is not None:
            if len(value.encode()) != 1:
                raise PsetError("\\pset: csv_fieldsep must be a single one-byte character")
            if value in '"\n\r':
                raise PsetError("\\pset: csv_fieldsep cannot be a double quote, a newline, or a carriage return")
            s.csv_fieldsep = value
    elif name in ("title", "tableattr"):
        setattr(s, name, value)
    elif name == "columns":
        if value is not None:
            s.columns = atoi(value)
    elif name == "pager":
        if value is not None and value.lower() == "always":
            s.pager = 2
        elif value is not None:
            try:
                s.pager = 1 if _bool(value, name) else 0
            except PsetError:
                raise PsetError(f'unrecognized value "{value}" for "pager"\nAvailable values are: on, off, always.') from None
        else:
            s.pager = 0 if s.pager == 1 else 1
    elif name == "pager_min_lines":
        if value is not None:
            s.pager_min_lines = atoi(value)
    elif name in ("unicode_border_linestyle", "unicode_column_linestyle", "unicode_header_linestyle"):
        if value is not None:
            kind = name.split("_")[1]
            setattr(s, name, _prefix_choice(value, ("single", "double"), f"\\pset: allowed Unicode {kind} line styles are single, double"))
    else:
        raise PsetError(f"\\pset: unknown option: {name}")
    return True


def describe(settings: Settings, name: str) -> str:
    """psql's printPsetInfo: the sentence after a change."""
    s = settings
    name = _ALIASES.get(name, name)
    if name == "border":
        return f"Border style is {s.border}."
    if name == "columns":
        return f"Target width is {s.columns}." if s.columns else "Target width is unset."
    if name == "expanded":
        return {"on": "Expanded display is on.", "off": "Expanded display is off."}.get(s.expanded, "Expanded display is used automatically.")
    if name in ("fieldsep", "fieldsep_zero"):
        return "Field separator is zero byte." if s.fieldsep_zero else f'Field separator is "{s.fieldsep}".'
    if name in ("recordsep", "recordsep_zero"):
        if s.recordsep_zero:
            return "Record separator is zero byte."
        return "Record separator is <newline>." if s.recordsep == "\n" else f'Record separator is "{s.recordsep}".'
    if name in ("footer", "tuples_only", "numericlocale"):
        label = {"footer": "Default footer is", "tuples_only": "Tuples only is", "numericlocale": "Locale-adjusted numeric output is"}[name]
        return f"{label} {'on' if getattr(s, name) else 'off'}."
    if name == "format":
        return f"Output format is {s.format}."
    if name == "pager_min_lines":
        return f"Pager won't be used for less than {s.pager_min_lines} line{'' if s.pager_min_lines == 1 else 's'}."
    if name.startswith("unicode_"):
        return f'Unicode {name.split("_")[1]} line style is "{getattr(s, name)}".'
    if name == "linestyle":
        return f"Line style is {s.linestyle}."
    if name == "null":
        return f'Null display is "{s.null}".'
    if name == "pager":
        return ("Pager usage is off.", "Pager is used for long output.", "Pager is always used.")[s.pager]
    if name == "title":
        return f'Title is "{s.title}".' if s.title is not None else "Title is unset."
    if name == "tableattr":
        return f'Table attributes are "{s.tableattr}".' if s.tableattr is not None else "Table attributes unset."
    return f'Field separator for CSV is "{s.csv_fieldsep}".'


def _quoted(text: str | None) -> str:
    """psql's pset_quoted_string, for the listing."""
    if text is None:
        return ""
    return "'" + text.replace("'", "\\'").replace("\n", "\\n") + "'"


def _value(settings: Settings, name: str) -> str:
    s = settings
    on_off = {True: "on", False: "off"}
    values = {
        "border": str(s.border),
        "columns": str(s.columns),
        "csv_fieldsep": _quoted(s.csv_fieldsep),
        "expanded": s.expanded,
        "fieldsep": _quoted("" if s.fieldsep_zero else s.fieldsep),
        "fieldsep_zero": on_off[s.fieldsep_zero],
        "footer": on_off[s.footer],
        "format": s.format,
        "linestyle": s.linestyle,
        "null": _quoted(s.null),
        "numericlocale": on_off[s.numericlocale],
        "pager": str(s.pager),
        "pager_min_lines": str(s.pager_min_lines),
        "recordsep": _quoted("" if s.recordsep_zero else s.recordsep),
        "recordsep_zero": on_off[s.recordsep_zero],
        "tableattr": _quoted(s.tableattr),
        "title": _quoted(s.title),
        "tuples_only": on_off[s.tuples_only],
    }
    return values[name] if name in values else getattr(s, name)


def listing(settings: Settings) -> str:
    """``\\pset`` alone: every option and its value, as psql 15 lists them."""
    return "".join(f"{name:<24} {_value(settings, name)}\n" for name in _LISTED)


def run(shell: Shell, name: str, value: str | None) -> bool:
    """One \\pset NAME [VALUE] (or its shortcut): set it, say so unless quiet or psql would not."""
    try:
        speaks = apply(shell.settings, name, value)
    except PsetError as exc:
        shell.meta_error(str(exc))
        shell.last_failed = True
        return True
    if _ALIASES.get(name, name) in ("pager", "pager_min_lines"):
        shell.output.configure_pager(shell.settings.pager, shell.settings.pager_min_lines)
    if speaks and not shell.settings.quiet:
        shell.output.say(describe(shell.settings, name) + "\n")
    return True


def _words(shell: Shell, argument: str) -> list[str]:
    return meta_arguments(argument, shell.variables)


def pset_command(shell: Shell, argument: str) -> bool:
    words = _words(shell, argument)
    if not words:
        shell.output.say(listing(shell.settings))
        return True
    return run(shell, words[0], words[1] if len(words) > 1 else None)


def shortcut(option: str, toggle: tuple[str, str, str] | None = None) -> Callable[[Shell, str], bool]:
    """\\x, \\t, \\f, \\C, \\T take an optional value; \\a and \\H switch formats as psql's
    do: ``(current, then, otherwise)``, e.g. \\a is unaligned from aligned, else aligned."""

    def handler(shell: Shell, argument: str) -> bool:
        if toggle is not None:
            current, then, otherwise = toggle
            return run(shell, option, then if shell.settings.format == current else otherwise)
        words = _words(shell, argument)
        return run(shell, option, words[0] if words else None)

    return handler


SHORTCUTS = {
    "\\pset": (pset_command, "\\pset [NAME [VALUE]]", "set table output option"),
    "\\a": (shortcut("format", ("aligned", "unaligned", "aligned")), "\\a", "toggle between unaligned and aligned output mode"),
    "\\H": (shortcut("format", ("html", "aligned", "html")), "\\H", "toggle HTML output mode"),
    "\\t": (shortcut("tuples_only"), "\\t [on|off]", "show only rows"),
    "\\x": (shortcut("expanded"), "\\x [on|off|auto]", "toggle expanded output"),
    "\\f": (shortcut("fieldsep"), "\\f [STRING]", "show or set field separator for unaligned query output"),
    "\\C": (shortcut("title"), "\\C [STRING]", "set table title, or unset if none"),
    "\\T": (shortcut("tableattr"), "\\T [STRING]", "set HTML <table> tag attributes, or unset if none"),
}


def assign_variable(shell: Shell, name: str, value: str) -> bool:
    """psql's SetVariable, as \\set, \\getenv and \\prompt call it: the value through the
    variable's hook; a value psql refuses (`FETCH_COUNT abc`) is told, the old one kept, the
    command failed (False). \\getenv and \\prompt stored any value, and one psql takes
    (FETCH_COUNT, VERBOSITY) never took effect."""
    saved = shell.variables.get(name)
    shell.variables[name] = value
    if variable_changed(shell, name):
        return True
    if saved is None:
        shell.variables.pop(name, None)
    else:
        shell.variables[name] = saved
    shell.last_failed = True
    return False


def variable_changed(shell: Shell, name: str, report: Callable[[str], None] | None = None) -> bool:
    """psql's hooks on its variables (repl/special_variables.py), then the settings the
    display ones drive: FETCH_COUNT, QUIET, SHOW_ALL_RESULTS, VERBOSITY and SHOW_CONTEXT. Returns False, after
    psql's error (through ``report``, else as a meta-command's), for a value psql refuses
    (the caller puts the old value back)."""
    report = report or shell.meta_error
    value = substitute(name, shell.variables.get(name))
    if value is None:
        return True
    shell.variables[name] = value
    if error := refusal(name, value):
        report(error)
        return False
    if name == "FETCH_COUNT":
        shell.settings.fetch_count = parse_int(value) or 0
    elif name == "QUIET":
        shell.settings.quiet = boolean(value)
    elif name == "SHOW_ALL_RESULTS":
        shell.settings.show_all_results = boolean(value)
    elif name == "VERBOSITY":
        shell.settings.messages = replace(shell.settings.messages, verbosity=value.lower())
    elif name == "SHOW_CONTEXT":
        shell.settings.messages = replace(shell.settings.messages, show_context=value.lower())
    return True
