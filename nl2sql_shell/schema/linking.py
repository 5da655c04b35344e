"""Pick the tables (and columns) a question needs when the whole schema does not fit the prompt.

Question words are matched against the words of table and column names (as `words.py` splits
them: camelCase, snake_case, shared prefixes, words written together), comments and sample or
enum values: exactly, after a simple suffix stemmer, fuzzily (difflib ratio above 0.91, as in
the tutorial this product grew from), or as an abbreviation a name spells (``cust``, ``ord``).
Words that match almost every table ("id", "name") weigh less than rare ones. The best tables are added greedily, each with the tables its foreign keys
reference, until the token budget is spent; tables that join two chosen ones come next, so
that the model can still write the joins. Everything is deterministic: same schema and
question, same choice.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from .model import Schema, Table
from .render import render_schema
from .words import NameWords, declared_words, fold, name_words, shared_affixes, text_words

FUZZY_RATIO = 0.91
# How much a match says about a table, by what matched and how.
FIELD_WEIGHTS = {"table": 3.0, "column": 2.0, "key": 2.0, "value": 2.0, "comment": 1.0, "schema": 1.0}
HOW_WEIGHTS = {"exact": 1.0, "stemmed": 0.9, "fuzzy": 0.7, "abbreviation": 0.5}
STOPWORDS = frozenset(
    """a about all an and any are as at be by can did do does each for from get give had has have
    how i in is it its list me most my of on or per show than that the their them there these
    they this those to was we were what when where which who whose why will with would you""".split()
)


@dataclass(frozen=True)
class Reason:
    """Why a table was chosen: ``word`` of the question matched ``matched`` (or a foreign key)."""

    table: str  # qualified name of the chosen table
    field: str  # "table" | "column" | "key" (of a JSON column) | "comment" | "value" | "schema" | "foreign key"
    how: str  # "exact" | "stemmed" | "fuzzy" | "abbreviation" | "references" | "joins"
    word: str | None = None  # the question word; None for foreign-key neighbours
    matched: str = ""  # the name, comment or value it matched; for a neighbour, the table it joins
    column: str | None = None  # the column matched by name, comment or value


@dataclass(frozen=True)
class Linked:
    """The tables to show the model, in schema order, and why each was chosen."""

    tables: tuple[Table, ...]
    reasons: tuple[Reason, ...]
    complete: bool  # every table of the schema, unpruned: nothing was left out


def select_tables(schema: Schema, question: str, *, budget_tokens: int, count_tokens: Callable[[str], int]) -> Linked:
    """The tables of ``schema`` worth showing for ``question`` within ``budget_tokens``."""
    qualify = schema.needs_schema
    matches = match_words(schema.tables, _question_words(question))
    if count_tokens(render_schema(schema.tables, qualify=qualify)) <= budget_tokens:
        return Linked(schema.tables, tuple(matches), complete=True)
    chooser = _Chooser(schema, matches, budget_tokens, lambda t: count_tokens(render_schema([t], qualify=qualify)))
    for table in _ranked(schema.tables, matches):
        chooser.add(table)
    for table, partners in _bridges(schema.tables, chooser.chosen):
        chooser.add_neighbour(table, "joins", partners)
    tables = list(chooser.chosen.values())  # in the order the budget was spent
    while tables and count_tokens(render_schema(tables, qualify=qualify)) > budget_tokens:
        tables.pop()  # tables counted one by one may tokenize a little longer together
    order = {t.qualified_name: i for i, t in enumerate(schema.tables)}
    tables.sort(key=lambda t: order[t.qualified_name])
    kept = {t.qualified_name for t in tables}
    return Linked(tuple(tables), tuple(r for r in chooser.reasons if r.table in kept), complete=False)


def stem(word: str) -> str:
    """A crude suffix stemmer: enough to meet "cities"/"city" and "ratings"/"rated"."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "i"
    elif len(w) > 4 and w.endswith(("sses", "xes", "ches", "shes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    if len(w) > 3 and w[-1] in "ey":
        w = w[:-1] + ("i" if w[-1] == "y" else "")
    return w


def _question_words(question: str) -> list[str]:
    return [w for w in text_words(question) if w not in STOPWORDS]


@dataclass(frozen=True, eq=False)  # each place is its own target: hashed by identity, cheaply
class _Target:
    """One place a question word can match: a word of a name, comment or value."""

    table: Table
    field: str
    text: str  # the whole name, comment or value
    column: str | None


class _Index:
    """Every word of every table's names (its schema's too, but PostgreSQL's `public` and
    `pg_*`), comments and values, and the names themselves (for abbreviations, which are
    matched against a name's letters, not its words)."""

    def __init__(self, tables: Iterable[Table]) -> None:
        tables = list(tables)
        self.words: dict[str, list[_Target]] = defaultdict(list)
        self.names: list[tuple[NameWords, _Target]] = []
        table_prefixes, table_suffixes = shared_affixes(t.name for t in tables)
        for t in tables:
            self._name(name_words(t.name, table_prefixes, table_suffixes), _Target(t, "table", t.name, None))
            if t.schema != "public" and not t.schema.startswith("pg_"):  # a schema a user named (`hr`, `"Sales Data"`) says what its tables hold
                self._name(name_words(t.schema, (), ()), _Target(t, "schema", t.schema, None))
            self._text(t.comment, _Target(t, "comment", t.comment or "", None))
            prefixes, suffixes = shared_affixes(c.name for c in t.columns)
            prefixes, suffixes = prefixes + table_prefixes, suffixes + table_suffixes
            for c in t.columns:
                self._name(name_words(c.name, prefixes, suffixes), _Target(t, "column", c.name, c.name))
                self._text(c.comment, _Target(t, "comment", c.comment or "", c.name))
                for value in c.enum_labels + c.sample_values + c.element_values:
                    self._text(value, _Target(t, "value", value, c.name))
                for key in c.json_keys:  # a JSON column's keys name what it holds, as columns do
                    self._name(name_words(key, (), ()), _Target(t, "key", key, c.name))

    def _name(self, parts: NameWords, target: _Target) -> None:
        self.names.append((parts, target))
        for w in dict.fromkeys((*parts.words, fold(target.text))):  # the whole name too: `t42`, `x1`
            if w not in STOPWORDS:
                self.words[w].append(target)

    def _text(self, text: str | None, target: _Target) -> None:
        for w in dict.fromkeys(declared_words(text or "")):
            if w not in STOPWORDS:
                self.words[w].append(target)


def match_words(tables: Sequence[Table], question_words: list[str]) -> list[Reason]:
    """Every match of a question word in the tables, the best way each word-target pair matched."""
    index = _Index(tables)
    stems: dict[str, list[str]] = defaultdict(list)
    for w in index.words:
        stems[stem(w)].append(w)
    reasons: list[Reason] = []
    matcher = difflib.SequenceMatcher()
    for word in question_words:
        found = {word: "exact"} if word in index.words else {}
        found.update({w: "stemmed" for w in stems.get(stem(word), []) if w not in found})
        if len(word) >= 5 and word.isalpha():  # (a whole name, `measurement_value_1500`, is matched as written)
            matcher.set_seq2(word)
            for w in index.words:
                matcher.set_seq1(w)
                if (
                    w not in found
                    and matcher.real_quick_ratio() > FUZZY_RATIO
                    and matcher.quick_ratio() > FUZZY_RATIO
                    and matcher.ratio() > FUZZY_RATIO
                ):
                    found[w] = "fuzzy"
        matched: set[_Target] = set()
        for w, how in found.items():
            for target in index.words[w]:
                matched.add(target)
                reasons.append(Reason(target.table.qualified_name, target.field, how, word, target.text, target.column))
        for parts, target in index.names if word.isalpha() else ():
            if target not in matched and parts.abbreviates(word):
                reasons.append(Reason(target.table.qualified_name, target.field, "abbreviation", word, target.text, target.column))
    return list(dict.fromkeys(reasons))


def _scores(tables: Sequence[Table], matches: list[Reason]) -> dict[str, float]:
    """Sum over question words of the best match in each table, rare words weighing more."""
    best: dict[tuple[str, str], float] = {}
    for r in matches:
        weight = FIELD_WEIGHTS[r.field] * HOW_WEIGHTS[r.how]
        best[(r.table, r.word)] = max(best.get((r.table, r.word), 0.0), weight)
    spread: dict[str, int] = defaultdict(int)
    for _, word in best:
        spread[word] += 1
    scores: dict[str, float] = defaultdict(float)
    for (table, word), weight in best.items():
        scores[table] += weight * math.log(1 + len(tables) / spread[word])
    return scores


def _ranked(tables: Sequence[Table], matches: list[Reason]) -> list[Table]:
    """Matched tables best first (ties in schema order); if nothing matched, the most referenced."""
    scores = _scores(tables, matches)
    if scores:
        order = {t.qualified_name: i for i, t in enumerate(tables)}
        return sorted(
            (t for t in tables if t.qualified_name in scores),
            key=lambda t: (-scores[t.qualified_name], order[t.qualified_name]),
        )
    referenced: dict[str, int] = defaultdict(int)
    for t in tables:
        for fk in t.foreign_keys:
            referenced[f"{fk.ref_schema}.{fk.ref_table}"] += 1
    return sorted(tables, key=lambda t: -referenced[t.qualified_name])


def _bridges(tables: Sequence[Table], chosen: dict[str, Table]) -> list[tuple[Table, list[str]]]:
    """Tables not chosen that are linked by foreign keys to two or more chosen tables."""
    found = []
    for t in tables:
        if t.qualified_name in chosen:
            continue
        linked = {f"{fk.ref_schema}.{fk.ref_table}" for fk in t.foreign_keys} & chosen.keys()
        linked |= {
            name
            for name, c in chosen.items()
            if any((fk.ref_schema, fk.ref_table) == (t.schema, t.name) for fk in c.foreign_keys)
        }
        if len(linked) >= 2:
            found.append((t, sorted(linked)))
    return sorted(found, key=lambda item: -len(item[1]))


class _Chooser:
    """Greedy selection under a token budget, pruning wide tables' columns when that helps."""

    def __init__(self, schema: Schema, matches: list[Reason], budget: int, cost: Callable[[Table], int]) -> None:
        self.schema = schema
        self.budget = budget
        self.cost = cost
        self.spent = 0
        self.chosen: dict[str, Table] = {}
        self.reasons: list[Reason] = []
        self.matches: dict[str, list[Reason]] = defaultdict(list)
        for r in matches:
            self.matches[r.table].append(r)

    def add(self, table: Table) -> None:
        """Add a matched table (unless already in as a neighbour) and the tables it references."""
        if table.qualified_name not in self.chosen and not self._take(table):
            return
        self.reasons += self.matches[table.qualified_name]
        for fk in table.foreign_keys:
            target = self.schema.table(fk.ref_table, fk.ref_schema)
            if target is not None:
                self.add_neighbour(target, "references", [table.qualified_name])

    def add_neighbour(self, table: Table, how: str, partners: list[str]) -> None:
        if table.qualified_name not in self.chosen and self._take(table):
            self.reasons += [Reason(table.qualified_name, "foreign key", how, matched=p) for p in partners]

    def _take(self, table: Table) -> bool:
        """The whole table when it fits; else its key and matched columns, and as many of its
        other columns as half the budget left holds (`sensor`'s `taken_at` beside its 1,000
        probes); else as many of its key and matched columns as fit. Never a table with no
        column at all."""
        cost = self.cost(table)
        if self.spent + cost <= self.budget:
            return self._chosen(table, cost)
        needed = self._needed(table)
        others = [c.name for c in table.columns if c.name not in needed]
        pruned = self._widest(table, needed, self.budget - self.spent) if needed else None
        if pruned is not None and len(pruned.columns) == len(needed):  # all of them fit: fill up to half what is left
            room = (self.budget - self.spent - self.cost(pruned)) // 2
            pruned = self._widest(table, [*needed, *others], self.cost(pruned) + room) or pruned
        elif pruned is None and not needed:
            pruned = self._widest(table, others, self.budget - self.spent)
        return pruned is not None and self._chosen(pruned, self.cost(pruned))

    def _chosen(self, table: Table, cost: int) -> bool:
        self.spent += cost
        self.chosen[table.qualified_name] = table
        return True

    def _needed(self, table: Table) -> list[str]:
        """The table's key columns, then the columns the question matched, best first."""
        keep = list(table.primary_key)
        keep += [c for fk in table.foreign_keys for c in fk.columns]
        keep += [
            c
            for other in self.chosen.values()
            for fk in other.foreign_keys
            if (fk.ref_schema, fk.ref_table) == (table.schema, table.name)
            for c in fk.ref_columns
        ]
        words: dict[str, set[str | None]] = defaultdict(set)  # the question words each column holds
        exact: dict[str, set[str | None]] = defaultdict(set)  # ... as they are written
        for r in self.matches[table.qualified_name]:
            if r.column:
                words[r.column].add(r.word)
                if r.how == "exact":
                    exact[r.column].add(r.word)
        keep += sorted(words, key=lambda c: (fold(c) not in exact[c], -len(exact[c]), -len(words[c])))  # named whole first, then `probe_5` and `taken_at` before the 999 other probes
        names = {c.name for c in table.columns}
        return [c for c in dict.fromkeys(keep) if c in names]

    def _widest(self, table: Table, order: list[str], allowance: int) -> Table | None:
        """The table with the most of ``order``'s columns, from its first, that costs at most
        ``allowance`` (a binary search: cost grows with every column); None when not one fits."""
        def keeping(count: int) -> Table:
            kept = set(order[:count])
            return replace(table, columns=tuple(c for c in table.columns if c.name in kept))

        if not order or self.cost(keeping(1)) > allowance:
            return None
        low, high = 1, len(order)
        while low < high:
            middle = (low + high + 1) // 2
            if self.cost(keeping(middle)) <= allowance:
                low = middle
            else:
                high = middle - 1
        return keeping(low)
