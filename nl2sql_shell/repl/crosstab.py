"""`\\crosstabview [colV [colH [colD [sortcolH]]]]`: a query's result pivoted, as psql 15 does.

The distinct values of colV become the rows and those of colH the columns, each in the order
they first appear (colH's by sortcolH when given: its whole integers, others 0, ties in byte order); colD's value fills the
cell where they meet. Columns are named or numbered from 1; without colD the result must have
exactly three columns. The pivoted table is printed as any result is (\\pset, \\x, -L).
"""

from __future__ import annotations

import re

from collections.abc import Callable

from nl2sql_shell.repl.send import Result, done, fetch_result
from nl2sql_shell.repl.shell import Shell
from nl2sql_shell.repl.variables import is_number, meta_arguments


MAX_COLUMNS = 1600  # psql's CROSSTABVIEW_MAX_COLUMNS, a table's own limit


class CrosstabError(Exception):
    """psql's words after `\\crosstabview: `."""


def crosstab(shell: Shell, sql: str, argument: str, verbatim: bool, ended: Callable[[bool], None]) -> None:
    result = fetch_result(shell, sql, verbatim=verbatim, ended=ended)
    if result is None:
        return
    try:
        _show(shell, result, argument)
    finally:
        result.tag(shell)


def _show(shell: Shell, result: Result, argument: str) -> None:
    try:
        columns, numeric, rows = pivot(result, meta_arguments(argument, shell.variables)[:4], shell.settings.null)
    except CrosstabError as exc:
        shell.meta_error(f"\\crosstabview: {exc}")
        shell.last_failed = True
        return
    batches = iter([rows])
    # psql's printCrosstab puts its cells in place past the step that applies numericlocale
    numericlocale, shell.settings.numericlocale = shell.settings.numericlocale, False
    try:
        shell.executor.print_rows(columns, numeric, lambda _: next(batches, []))
    finally:
        shell.settings.numericlocale = numericlocale
    done(shell, result)


def pivot(result: Result, args: list[str], null: str) -> tuple[list[str], list[bool], list[list[str | None]]]:
    """(column names, right-alignment, rows) of the crosstab; a missing cell is "" and a NULL
    value None (shown as \\pset null), as psql fills them."""
    if len(result.names) < 3:
        raise CrosstabError("query must return at least three columns")
    vertical = _index(args[0], result.names) if args[:1] else 0
    horizontal = _index(args[1], result.names) if args[1:2] else 1
    if vertical == horizontal:
        raise CrosstabError("vertical and horizontal headers must be different columns")
    if args[2:3]:
        data = _index(args[2], result.names)
    elif len(result.names) != 3:
        raise CrosstabError("data column must be specified when query returns more than three columns")
    else:
        data = ({0, 1, 2} - {vertical, horizontal}).pop()
    sort = _index(args[3], result.names) if args[3:4] else None
    row_keys = list(dict.fromkeys(row[vertical] for row in result.rows))
    column_keys = list(dict.fromkeys(row[horizontal] for row in result.rows))
    if len(column_keys) > MAX_COLUMNS:
        raise CrosstabError(f"maximum number of columns ({MAX_COLUMNS}) exceeded")
    if sort is not None:  # psql's rankSort: by the values in byte order (NULL last), then stably by rank
        first_sort: dict[str | None, int] = {}
        for row in result.rows:
            first_sort.setdefault(row[horizontal], _rank(row[sort]))
        column_keys.sort(key=lambda key: (key is None, (key or "").encode("utf-8", "surrogateescape")))
        column_keys.sort(key=lambda key: first_sort[key])
    where = {key: i for i, key in enumerate(column_keys)}
    cells: dict[tuple[str | None, str | None], str | None] = {}
    for row in result.rows:
        key = (row[vertical], row[horizontal])
        if key in cells:
            row_name, column_name = (value if value is not None else null or "(null)" for value in key)
            raise CrosstabError(f'query result contains multiple data values for row "{row_name}", column "{column_name}"')
        cells[key] = row[data]
    rows = []
    for key in row_keys:
        line: list[str | None] = [null if key is None else key] + [""] * len(column_keys)
        for column in column_keys:
            if (key, column) in cells:
                line[1 + where[column]] = cells[key, column]
        rows.append(line)
    names = [result.names[vertical]] + [null if key is None else key for key in column_keys]
    return names, [result.numeric[vertical]] + [result.numeric[data]] * len(column_keys), rows


def _index(arg: str, names: list[str]) -> int:
    """psql's indexOfColumn: a number from 1, else a name (quoted as written, else lower-cased)."""
    if is_number(arg):  # psql: ASCII digits alone make it a number
        number = int(arg)
        if not 1 <= number <= len(names):
            raise CrosstabError(f"column number {number} is out of range 1..{len(names)}")
        return number - 1
    name = arg[1:-1].replace('""', '"') if len(arg) > 1 and arg.startswith('"') and arg.endswith('"') else arg.lower()
    found = [i for i, column in enumerate(names) if column == name]
    if len(found) > 1:
        raise CrosstabError(f'ambiguous column name: "{name}"')
    if not found:
        raise CrosstabError(f'column name not found: "{name}"')
    return found[0]


def _rank(value: str | None) -> int:
    """psql's rank of a sort value: the integer it spells whole (`-?[0-9]*`), else 0."""
    if value is None or not re.fullmatch(r"-?[0-9]*", value):
        return 0
    return int(value) if value.strip("-") else 0
