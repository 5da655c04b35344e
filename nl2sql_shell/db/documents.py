"""psql's formats for documents: asciidoc, latex, latex-longtable and troff-ms (tables and
their ``\\x`` forms), as psql 15's print.c writes them, for results pasted into a document."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nl2sql_shell.db.settings import Part, Settings

Rows = Sequence[Sequence[str]]
_LATEX = {
    "#": "\\#", "$": "\\$", "%": "\\%", "&": "\\&", "<": "\\textless{}", ">": "\\textgreater{}",
    "\\": "\\textbackslash{}", "^": "\\^{}", "_": "\\_", "{": "\\{", "|": "\\textbar{}", "}": "\\}",
    "~": "\\~{}", "\n": "\\\\",
}


def _latex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def _asciidoc(text: str) -> str:
    return text.replace("|", "\\|")


def _troff(text: str) -> str:
    return text.replace("\\", "\\(rs")


def _blank(text: str) -> bool:
    return not text.strip(" \t")


class Batch:
    """One printTable call: the result's names and alignments, this batch's rows and place."""

    def __init__(self, columns: Sequence[str], numeric: Sequence[bool], rows: Rows, settings: Settings, part: Part, count: int | None = None) -> None:
        self.columns, self.rows, self.s = columns, rows, settings
        self.count = len(rows) if count is None else count  # rows of no columns print nothing, but count
        self.aligns = ["r" if right else "l" for right in numeric]
        self.start, self.stop, self.prior = part.start, part.stop, part.prior_rows
        self.part = part
        self.title = settings.title if not settings.tuples_only else None

    def footer_lines(self, vertical: bool) -> list[str]:
        """The footers given, else (not for records) the row count, none with -t."""
        if self.s.tuples_only:
            return []
        return list(self.part.footers or []) if vertical else self.part.footer_lines(self.s, self.count)


def _asciidoc_frame(border: int) -> str:
    return {0: ',frame="none",grid="none"', 1: ',frame="none"'}.get(border, ',frame="all",grid="all"' if border == 2 else "")


def _asciidoc_stop(lines: list[str]) -> str:
    """The footers (row count, \\pset footer lines) after the last batch, as a literal block."""
    return "\n....\n" + "".join(line + "\n" for line in lines) + "....\n" if lines else ""


def asciidoc_text(b: Batch) -> str:
    out = []
    if b.start:
        out.append("\n")
        if b.title is not None:
            out.append(f".{b.title}\n")
        header = 'options="header",' if not b.s.tuples_only else ""
        out.append(f'[{header}cols="' + ",".join(">l" if a == "r" else "<l" for a in b.aligns) + '"' + _asciidoc_frame(b.s.border) + "]\n|====\n")
        if not b.s.tuples_only:
            out.append(" ".join("^l|" + _asciidoc(name) for name in b.columns) + "\n")
    last = len(b.columns) - 1
    for row in b.rows:
        parts = []
        for j, value in enumerate(row):
            cell = ("|" + (" " if j < last else "")) if _blank(value) else "|" + _asciidoc(value)
            parts.append((" " if j else "") + cell)
        out.append("".join(parts) + "\n")
    out.append("|====\n")
    if b.stop:
        out.append(_asciidoc_stop(b.footer_lines(False)))
    return "".join(out)


def asciidoc_vertical(b: Batch) -> str:
    out = []
    if b.start:
        out.append("\n")
        if b.title is not None:
            out.append(f".{b.title}\n")
        out.append('[cols="h,l"' + _asciidoc_frame(b.s.border) + "]\n|====\n")
    record = b.prior + 1
    for row in b.rows:
        out.append(f"2+^|Record {record}\n" if not b.s.tuples_only else "2+|\n")
        record += 1
        for name, value, align in zip(b.columns, row, b.aligns):
            shown = " " if _blank(value) else _asciidoc(value)
            out.append(f"<l|{_asciidoc(name)} {'>l' if align == 'r' else '<l'}|{shown}\n")
    out.append("|====\n")
    if b.stop:
        out.append(_asciidoc_stop(b.footer_lines(True)))
    return "".join(out)


def latex_text(b: Batch) -> str:
    border = min(b.s.border, 3)
    out = []
    if b.start:
        if b.title is not None:
            out.append("\\begin{center}\n" + _latex(b.title) + "\n\\end{center}\n\n")
        spec = ("| " if border >= 2 else "") + (" | " if border else "").join(b.aligns) + (" |" if border >= 2 else "")
        out.append("\\begin{tabular}{" + spec + "}\n")
        if not b.s.tuples_only and border >= 2:
            out.append("\\hline\n")
        if not b.s.tuples_only:
            out.append(" & ".join("\\textit{" + _latex(name) + "}" for name in b.columns) + " \\\\\n\\hline\n")
    for row in b.rows:
        out.append(" & ".join(_latex(value) for value in row) + " \\\\\n" + ("\\hline\n" if border == 3 else ""))
    if b.stop:
        if border == 2:
            out.append("\\hline\n")
        out.append("\\end{tabular}\n\n\\noindent ")
        out += [_latex(line) + " \\\\\n" for line in b.footer_lines(False)]
        out.append("\n")
    return "".join(out)


def latex_longtable_text(b: Batch) -> str:
    border = min(b.s.border, 3)
    out = []
    if b.start:
        out.append("\\begin{longtable}{" + ("| " if border >= 2 else "") + _longtable_columns(b, border) + (" |" if border >= 2 else "") + "}\n")
        if not b.s.tuples_only:
            head = " & ".join("\\small\\textbf{\\textit{" + _latex(name) + "}}" for name in b.columns) + " \\\\\n"
            rule = "\\toprule\n" if border >= 2 else ""
            out.append(rule + head + "\\midrule\n\\endfirsthead\n")
            out.append(rule + head + ("\\midrule\n" if border != 3 else "") + "\\endhead\n")
            if b.title is not None:
                bottom = "\\bottomrule\n" if border == 2 else ""
                title = _latex(b.title)
                out.append(f"{bottom}\\caption[{title} (Continued)]{{{title}}}\n\\endfoot\n{bottom}\\caption[{title}]{{{title}}}\n\\endlastfoot\n")
            elif border >= 2:
                out.append("\\bottomrule\n\\endfoot\n\\bottomrule\n\\endlastfoot\n")
    for row in b.rows:
        out.append("\n&\n".join("\\raggedright{" + _latex(value) + "}" for value in row) + " \\tabularnewline\n" + (" \\hline\n" if border == 3 else ""))
    if b.stop:
        out.append("\\end{longtable}\n")
    return "".join(out)


def _longtable_columns(b: Batch, border: int) -> str:
    """Alignments; a left column takes the next width of ``\\pset tableattr`` (p{W\\textwidth})."""
    widths = (b.s.tableattr or "").split()
    specs, last = [], None
    for align in b.aligns:
        if align == "l" and b.s.tableattr:
            if widths:
                last = widths.pop(0)
            specs.append(f"p{{{last}\\textwidth}}" if last is not None else "l")
        else:
            specs.append(align)
    return (" | " if border else "").join(specs)


def latex_vertical(b: Batch) -> str:
    border = min(b.s.border, 2)
    out = []
    if b.start:
        if b.title is not None:
            out.append("\\begin{center}\n" + _latex(b.title) + "\n\\end{center}\n\n")
        out.append("\\begin{tabular}{" + ("cl", "c|l", "|c|l|")[border] + "}\n")
    record = b.prior + 1
    for row in b.rows:
        if not b.s.tuples_only:
            if border == 2:
                out.append(f"\\hline\n\\multicolumn{{2}}{{|c|}}{{\\textit{{Record {record}}}}} \\\\\n")
            else:
                out.append(f"\\multicolumn{{2}}{{c}}{{\\textit{{Record {record}}}}} \\\\\n")
            record += 1
        if border >= 1:
            out.append("\\hline\n")
        out += [_latex(name) + " & " + _latex(value) + " \\\\\n" for name, value in zip(b.columns, row)]
    if b.stop:
        if border == 2:
            out.append("\\hline\n")
        out.append("\\end{tabular}\n\n\\noindent ")
        out += [_latex(line) + " \\\\\n" for line in b.footer_lines(True)]
        out.append("\n")
    return "".join(out)


def _troff_start(b: Batch) -> list[str]:
    out = []
    if b.title is not None:
        out.append(".LP\n.DS C\n" + _troff(b.title) + "\n.DE\n")
    out.append(".LP\n.TS\n" + ("center box;\n" if min(b.s.border, 2) == 2 else "center;\n"))
    return out


def _troff_stop(lines: list[str]) -> str:
    return ".TE\n.DS L\n" + "".join(_troff(line) + "\n" for line in lines) + ".DE\n"


def troff_text(b: Batch) -> str:
    out = []
    if b.start:
        out += _troff_start(b)
        out.append((" | " if b.s.border > 0 else "").join(b.aligns) + ".\n")
        if not b.s.tuples_only:
            out.append("\t".join("\\fI" + _troff(name) + "\\fP" for name in b.columns) + "\n_\n")
    out += ["\t".join(_troff(value) for value in row) + "\n" for row in b.rows]
    if b.stop:
        out.append(_troff_stop(b.footer_lines(False)))
    return "".join(out)


def troff_vertical(b: Batch) -> str:
    border = min(b.s.border, 2)
    out = []
    current = 0  # 0 none, 1 the record line's format, 2 the fields'
    if b.start:
        out += _troff_start(b)
        if b.s.tuples_only:
            out.append("c l;\n")
    else:
        current = 2
    record = b.prior + 1
    for row in b.rows:
        if not b.s.tuples_only:
            if current != 1:
                out.append(("_\n" if border == 2 and record > 1 else "") + (".T&\n" if current else "") + "c s.\n")
                current = 1
            out.append(f"\\fIRecord {record}\\fP\n")
            record += 1
        if border >= 1:
            out.append("_\n")
        for name, value in zip(b.columns, row):
            if not b.s.tuples_only and current != 2:
                out.append((".T&\n" if current else "") + ("c | l.\n" if border == 1 else "c l.\n"))
                current = 2
            out.append(_troff(name) + "\t" + _troff(value) + "\n")
    if b.stop:
        out.append(_troff_stop(b.footer_lines(True)))
    return "".join(out)


FORMATS: dict[str, tuple[Callable[[Batch], str], Callable[[Batch], str]]] = {
    "asciidoc": (asciidoc_text, asciidoc_vertical),
    "latex": (latex_text, latex_vertical),
    "latex-longtable": (latex_longtable_text, latex_vertical),
    "troff-ms": (troff_text, troff_vertical),
}


def document(
    columns: Sequence[str],
    numeric: Sequence[bool],
    rows: Sequence[Sequence[str | None]],
    settings: Settings,
    part: Part,
    *,
    vertical: bool,
) -> str:
    """A result in one of the document formats; NULL shown as ``\\pset null``."""
    null = settings.null
    shown = [tuple(null if v is None else v for v in row) for row in rows] if columns else []
    text, record = FORMATS[settings.format]
    return (record if vertical else text)(Batch(columns, numeric, shown, settings, part, count=len(rows)))
