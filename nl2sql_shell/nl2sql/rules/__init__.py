"""Deterministic corrections of the model's SQL, as one registry of rules.

Each rule has a name, an effect class and one apply function over the sqlglot tree, and the
one loop of `apply_rules` runs them in order (as sqlglot's optimizer runs its rule functions),
each reading the scopes afresh. The effect class is the rule's contract, and decides when it
may run:

- `equivalent`: the same result on every database; always allowed.
- `repair`: only for a query that fails (the static checks of check.py or the server's
  EXPLAIN), and it keeps the query's meaning; where the meaning is not certain, it does not
  fire and the error stays.
- `rewrite`: changes the result of a query that runs (what a benchmark's gold query tends to
  show, not what the question asked). Off unless switched on by name: `--rules +NAME` or
  the config key `rules`.

Every correction is a `Change(rule, before, after, why)`; its `str()` is what users read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from nl2sql_shell.schema.model import Schema

from ..parsing import DIALECT, parse_statements
from ..written_back import written_back
from .arrays import array_membership, range_containment
from .base import Change, Context, Effect, Rule, each_scope
from .bridges import bridge
from .columns import ambiguous_column, column_owner
from .conditions import join_types, missing_join_key, self_join, shared_key
from .dialect import epoch_comparison, epoch_seconds, mysql_spelling, sqlite_dates, time_conversion, year_column, zero_division
from .joins import pass_through_join
from .months import month_order
from .names import known_column, known_table
from .owners import table_owner
from .results import count_column, group_keys, idle_distinct, sort_keys

__all__ = ["REPAIRS", "RULES", "Change", "Corrected", "Effect", "Rule", "RuleError", "apply_rules", "default_rules", "parse_rules"]

REPAIR, REWRITE = Effect.REPAIR, Effect.REWRITE

RULES: tuple[Rule, ...] = (
    Rule("known_table", REPAIR, each_scope(known_table), "a table the schema lacks is the one named with its words, or off the search_path"),
    Rule("idle_distinct", REPAIR, each_scope(idle_distinct), "drop a DISTINCT that only makes ORDER BY fail"),
    Rule("group_keys", REWRITE, each_scope(group_keys, root_only=True), "show the GROUP BY keys of a query that selects only aggregates"),
    Rule("sort_keys", REWRITE, each_scope(sort_keys, root_only=True), "show the ORDER BY keys that are not selected"),
    Rule("self_join", REPAIR, each_scope(self_join), "`ON x.c = x.c` joins the joined table's `c`"),
    Rule("join_types", REPAIR, each_scope(join_types), "a join between incomparable types uses the same-named comparable column"),
    Rule("shared_key", REWRITE, each_scope(shared_key), "`ON a.oid = da.aid` joins on the key both tables have (a.aid)"),
    Rule("missing_join_key", REPAIR, each_scope(missing_join_key), "a join on a missing column uses the one key both tables share"),
    Rule("bridge", REPAIR, each_scope(bridge), "a join on a key one end lacks goes through the table linking the two"),
    Rule("year_column", REPAIR, each_scope(year_column), "`EXTRACT(YEAR FROM n)` of a number named as a year is the number"),
    Rule("epoch_seconds", REPAIR, each_scope(epoch_seconds), "`EXTRACT(... FROM n)` of a number named as a time reads to_timestamp(n)"),
    Rule("epoch_comparison", REPAIR, each_scope(epoch_comparison), "a number named as a time, compared with a time, reads to_timestamp(n)"),
    Rule("time_conversion", REPAIR, each_scope(time_conversion), "to_timestamp(n) of dates in digits or milliseconds, or a cast of a time-named number, reads the time n holds"),
    Rule("column_owner", REPAIR, each_scope(column_owner), "`T2.c` where only T1's table has c reads T1.c"),
    Rule("ambiguous_column", REPAIR, each_scope(ambiguous_column), "an ambiguous join column reads the side every row has"),
    Rule("count_column", REWRITE, each_scope(count_column), "COUNT of a column named like a count becomes SUM"),
    Rule("table_owner", REPAIR, each_scope(table_owner), "columns missing from the one table read come from the table that has them"),
    Rule("known_column", REPAIR, each_scope(known_column), "a column no table here has is the one named with its words (customer_name -> xycustname)"),
    Rule("pass_through_join", REWRITE, each_scope(pass_through_join), "drop a table joined only to pass a key on"),
    Rule("month_order", REWRITE, each_scope(month_order), "month names sort and compare in calendar order"),
    Rule("mysql_spelling", REPAIR, mysql_spelling, "MySQL's YEAR(d) and double in PostgreSQL's spelling"),
    Rule("sqlite_dates", REPAIR, sqlite_dates, "SQLite's DATE('now', '-1 year') in PostgreSQL's spelling"),
    Rule("array_membership", REPAIR, each_scope(array_membership), "`genres = 'fantasy'` on an array column reads `'fantasy' = ANY(genres)`"),
    Rule("range_containment", REPAIR, each_scope(range_containment), "`period = '2026-11-01'` on a range column reads `period @> '2026-11-01'::date`"),
    Rule("zero_division", REPAIR, zero_division, "x / COUNT(...) gives NULL, not an error, where a group counts zero"),
)
_BY_NAME = {rule.name: rule for rule in RULES}
REPAIRS = frozenset(rule.name for rule in RULES if rule.effect is Effect.REPAIR)


class RuleError(ValueError):
    """A rules setting that names no rule, in one line."""


def default_rules() -> frozenset[str]:
    """The rules on unless switched off: every equivalent and repair rule, no rewrite."""
    return frozenset(rule.name for rule in RULES if rule.effect is not Effect.REWRITE)


def parse_rules(spec: str | Iterable[str] | None, base: Collection[str] | None = None) -> frozenset[str]:
    """The rules on after `spec` ("+NAME,-NAME2", a bare NAME meaning +NAME, `all` every rule)
    changes `base` (default: default_rules()); raises RuleError for a name no rule has."""
    enabled = set(default_rules() if base is None else base)
    if spec is not None and not isinstance(spec, (str, list, tuple, set, frozenset)):
        raise RuleError(f"rules are NAME, +NAME or -NAME, comma-separated (or a list of them), not {spec!r}")
    items = spec.split(",") if isinstance(spec, str) else list(spec or ())
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        sign, name = (item[0], item[1:].strip()) if item[0] in "+-" else ("+", item)
        names = set(_BY_NAME) if name == "all" else {name}
        if name != "all" and name not in _BY_NAME:
            raise RuleError(f"unknown rule {name!r}; the rules are: {', '.join(_BY_NAME)}")
        enabled = enabled | names if sign == "+" else enabled - names
    return frozenset(enabled)


@dataclass
class Corrected:
    """The statement after the rules (unchanged when `changes` is empty)."""

    sql: str
    changes: list[Change] = field(default_factory=list)


def apply_rules(sql: str, schema: Schema, *, enabled: Collection[str] | None = None, failing: bool = False, rules: Iterable[Rule] = RULES) -> Corrected:
    """Run each enabled rule once, in order, over the one statement of `sql`: equivalent and
    rewrite rules whenever they are enabled, repair rules only when `failing` (the query as
    it stands failed a check or the server). `enabled` defaults to default_rules()."""
    enabled = default_rules() if enabled is None else enabled
    active = [rule for rule in rules if rule.name in enabled and (failing or rule.effect is not Effect.REPAIR)]
    if not active:
        return Corrected(sql)
    try:
        statements = parse_statements(sql)
    except (ParseError, TokenError):
        return Corrected(sql)
    if len(statements) != 1:
        return Corrected(sql)
    tree = statements[0]
    normalize_identifiers(tree, dialect=DIALECT)
    context = Context(schema, sql)
    changes: list[Change] = []
    for rule in active:
        try:
            changes.extend(rule.apply(tree, context))
        except OptimizeError:
            continue  # scopes sqlglot cannot read: this rule has nothing to say
    if not changes or (text := written_back(sql, tree)) is None:
        return Corrected(sql)  # (no text that changes nothing but what the rules changed)
    return Corrected(text, list(dict.fromkeys(changes)))
