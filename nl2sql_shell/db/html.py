"""psql's ``\\pset format html`` (``-H``): print_html_text and print_html_vertical of psql 15."""

from __future__ import annotations

from collections.abc import Sequence

from nl2sql_shell.db.settings import WHOLE, Part, Settings

Value = str | None
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "<br />\n", '"': "&quot;"}


def escape(text: str) -> str:
    """psql's html_escaped_print: leading spaces become ``&nbsp;`` (EXPLAIN's indentation)."""
    stripped = text.lstrip(" ")
    out = ["&nbsp;" * (len(text) - len(stripped))]
    out += [_ESCAPES.get(ch, ch) for ch in stripped]
    return "".join(out)


def _cell(value: str, numeric: bool) -> str:
    body = "&nbsp; " if not value.strip(" \t") else escape(value)
    return f'    <td align="{"right" if numeric else "left"}">{body}</td>\n'


def _table_start(settings: Settings) -> list[str]:
    attributes = f" {settings.tableattr}" if settings.tableattr is not None else ""  # psql writes the space for "" too
    out = [f'<table border="{settings.border}"{attributes}>\n']
    if not settings.tuples_only and settings.title is not None:
        out.append(f"  <caption>{escape(settings.title)}</caption>\n")
    return out


def html(
    columns: Sequence[str],
    numeric: Sequence[bool],
    rows: Sequence[Sequence[Value]],
    settings: Settings,
    part: Part = WHOLE,
    *,
    vertical: bool = False,
) -> str:
    """A result as psql's HTML table (``vertical``: one two-column block per record)."""
    null = settings.null
    out = _table_start(settings) if part.start else []
    if part.start and not vertical and not settings.tuples_only:
        out.append("  <tr>\n" + "".join(f'    <th align="center">{escape(name)}</th>\n' for name in columns) + "  </tr>\n")
    record = part.prior_rows + 1
    for row in rows if columns else []:
        values = [null if v is None else v for v in row]
        if not vertical:
            out.append('  <tr valign="top">\n' + "".join(_cell(v, n) for v, n in zip(values, numeric)) + "  </tr>\n")
            continue
        if settings.tuples_only:
            out.append('\n  <tr><td colspan="2">&nbsp;</td></tr>\n')
        else:
            out.append(f'\n  <tr><td colspan="2" align="center">Record {record}</td></tr>\n')
        record += 1
        for name, value, right in zip(columns, values, numeric):
            out.append(f'  <tr valign="top">\n    <th>{escape(name)}</th>\n' + _cell(value, right) + "  </tr>\n")
    if part.stop:
        out.append("</table>\n")
        footers = part.footers if vertical else part.footer_lines(settings, len(rows))
        if not settings.tuples_only and footers:
            out.append("<p>" + "".join(escape(line) + "<br />\n" for line in footers) + "</p>")
        out.append("\n")
    return "".join(out)
