"""psql 15 commands that pgspecial lacks or gets wrong, so that none of them ends the shell.

pgspecial answers `\\watch`, `\\ef`, `\\ev` and `\\do` with a bare exception and offers pgcli's
named queries (`\\n`, `\\ns`, `\\nd`), which psql does not have. Here `\\do` lists operators with
psql 15's own query, `\\watch` reruns the query buffer (`\\ef`/`\\ev`: repl/edit_object.py),
and the named-query commands are psql's "invalid command".
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time

from nl2sql_shell.repl.describe import argument_types, name_conditions
from nl2sql_shell.repl.listing import run_listing
from nl2sql_shell.repl.shell import Shell

NOT_IN_PSQL = frozenset({"\\n", "\\ns", "\\nd", "\\np", "\\z+"})  # pgcli's named queries; \\z takes no +

_OPERATORS = """SELECT n.nspname as "Schema",
  o.oprname AS "Name",
  CASE WHEN o.oprkind='l' THEN NULL ELSE pg_catalog.format_type(o.oprleft, NULL) END AS "Left arg type",
  CASE WHEN o.oprkind='r' THEN NULL ELSE pg_catalog.format_type(o.oprright, NULL) END AS "Right arg type",
  pg_catalog.format_type(o.oprresult, NULL) AS "Result type",{function}
  coalesce(pg_catalog.obj_description(o.oid, 'pg_operator'),
           pg_catalog.obj_description(o.oprcode, 'pg_proc')) AS "Description"
FROM pg_catalog.pg_operator o
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace{joins}
{where}
ORDER BY 1, 2, 3, 4;"""


def list_operators(shell: Shell, name: str, pattern: str | None = None, *type_patterns: str) -> bool:
    """`\\do[S+] [PATTERN [TYPE [TYPE]]]` with psql 15's query: user operators, or those the
    schema-qualified PATTERN names (its + and | literal, * and ? wildcards). Two TYPE patterns
    match the left and right operand; one matches the right operand of a prefix operator;
    further ones are ignored, as psql ignores them."""
    verbose, system = "+" in name, "S" in name
    conditions = [] if system or pattern is not None else ["n.nspname <> 'pg_catalog'", "n.nspname <> 'information_schema'"]
    more, params = name_conditions(pattern, "n.nspname", "o.oprname", "pg_catalog.pg_operator_is_visible(o.oid)", database=shell.conn.info.dbname, force_escape=True)
    conditions += more
    operands = ["o.oprleft", "o.oprright"] if len(type_patterns) >= 2 else ["o.oprright"]
    if len(type_patterns) == 1:
        conditions.append("o.oprleft = 0")
    joins, more, more_params = argument_types(shell, type_patterns[:2], operands)
    where = "WHERE " + " AND ".join(conditions + more) if conditions + more else ""
    sql = _OPERATORS.format(function='\n  o.oprcode AS "Function",' if verbose else "", joins=joins, where=where)
    run_listing(shell, "List of operators", sql, params + more_params)
    return True


_RESULT_VARIABLES = ("ERROR", "SQLSTATE", "ROW_COUNT", "LASTOID", "LAST_ERROR_MESSAGE", "LAST_ERROR_SQLSTATE")


def watch(shell: Shell, buffer: str, argument: str) -> None:
    """`\\watch [SECONDS]`: run the query again every SECONDS (2 by default) until Ctrl-C or an
    error, as psql 15: its interval is C's strtod of the word (0, negative or not a number is
    1 second), the time line is the result's title (centred over an aligned table, none in
    CSV; a command's tag comes without it), and an empty line on standard output ends it.
    With PSQL_WATCH_PAGER set (`pspg --stream`), on a terminal and with the pager on, every
    result goes to that one pager, and quitting it ends the watch, as in psql 15."""
    sql = buffer if buffer.strip() else shell.previous_query()
    if not sql.strip():
        shell.meta_error("\\watch cannot be used with an empty query")
        shell.last_failed = True
        return
    words = argument.split()
    interval = _strtod(words[0]) if words else 2.0
    interval = 1.0 if interval <= 0 else interval  # (NaN stays, as in psql)
    settings, title = shell.settings, shell.settings.title
    results = {name: shell.variables.get(name) for name in _RESULT_VARIABLES}  # psql 15's \\watch sets none of them
    previous = shell.last_sql  # nor is what it watched the previous query of \\g, \\p and \\watch
    pager = os.environ.get("PSQL_WATCH_PAGER", "").strip()
    pager = pager if pager and settings.pager and shell.output.pageable else ""
    shell.output.configure_pager(0, settings.pager_min_lines)  # one result after another, never paged each
    try:
        with shell.output.through(pager) if pager else contextlib.nullcontext() as process:
            while process is None or process.poll() is None:  # until the pager is quit
                settings.title = f"{title + chr(9) if title else ''}{time.strftime('%c')} (every {_c_g(interval)}s)\n"  # \pset title first, as psql's
                try:
                    ok = shell.run_sql(sql, verbatim=not buffer.strip(), watched=True).succeeded  # the previous query went with its variables in
                finally:
                    settings.title = title
                if not ok:
                    break
                if not interval * 1000 < 2**63:  # psql's timer takes whole milliseconds in a long
                    shell.meta_error("could not set timer: Invalid argument")
                    break
                _sleep(interval)
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:  # also when a cancelled query ends the script: psql's empty line comes first
        shell.last_sql = previous
        for name, value in results.items():
            if value is None:
                shell.variables.pop(name, None)
            else:
                shell.variables[name] = value
        shell.output.configure_pager(settings.pager, settings.pager_min_lines)
        if not pager:
            shell.output.say("\n")


# C's strtod: decimal and hexadecimal numbers, infinity and nan, after ASCII blanks
_STRTOD = re.compile(
    r"\s*(?P<sign>[+-]?)(?:(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
    r"|(?P<decimal>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(?P<word>inf(?:inity)?|nan))",
    re.ASCII | re.IGNORECASE,
)


def _strtod(word: str) -> float:
    """C's strtod: the number at the start of ``word``, 0 when there is none."""
    match = _STRTOD.match(word)
    if match is None:
        return 0.0
    number = float.fromhex(match["hex"]) if match["hex"] else float(match["decimal"] or match["word"])
    return -number if match["sign"] == "-" else number


def _c_g(number: float) -> str:
    """printf's %g as PostgreSQL's own snprintf writes it (Infinity, NaN)."""
    if math.isnan(number):
        return "NaN"
    return ("-" if number < 0 else "") + "Infinity" if math.isinf(number) else f"{number:g}"


def _sleep(seconds: float) -> None:
    """time.sleep for any interval psql's timer takes (Python's own stops near 292 years)."""
    while seconds > 86_400:
        time.sleep(86_400)
        seconds -= 86_400
    time.sleep(seconds)
