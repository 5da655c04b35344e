"""Does a question talk about this database at all?

A small model writes SQL for any question, "What is the purpose of life?" included; asked to
refuse, it rarely does. But a question about something else gives itself away: none of what it
talks about is in the database, not in a table or column name (split into the words people
say, see `words.py`), not in a comment, not in a sample value. This module finds the question's
content words (what remains after the words of the question language itself: "how many",
"average", "ordered by", "last month") and matches them against the schema with the linker's
matching (exact, stemmed, fuzzy, abbreviation).

The pipeline refuses before the model runs only on evidence: when not one content word matches
anything. A question that shares even one word with the schema goes to the model, which may
still say that the database cannot answer it; a word list never decides alone. After the model
has run, a second piece of evidence can join the first: when no query it wrote passes the
checks and the tables or columns it needed but the schema lacks are named after a content
word that nothing matches ("average cabin crew count" -> ``airline.cabin_crew_count``), the
question asks for data the database does not hold (`absent_terms`). Terms the
question or its instructions define ("ARPU = revenue / users", "define churned as ...") are
the asker's own vocabulary, never unmatched.

Quoted strings, numbers and mid-sentence capitalised words (New York, "Mark's Bistro") are
values the database may hold beyond its sample values, so they count neither way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .linking import STOPWORDS, match_words, stem
from .model import Schema
from .words import declared_words, name_words, text_words

# Words of the question language: aggregation, comparison, ordering, time, shape of the answer,
# a condition's truth ("where paid is true"), and the verbs of a change. They never name data,
# so they never count as unmatched.
QUERY_WORDS = frozenset(
    """above across after along also am amount an answer any ascending associated available avg
    average based been before being below best between biggest both bottom calculate came can
    case certain column columns come compare compute convert converted corresponding could count
    current data database date dates day days descending did differ difference different distinct
    do does during each earliest either end ends entries entry exactly exist existing exists fewer
    find first five fraction four from get give given gives got gotten greatest had has have
    having he her hh his how id ids in include including insensitive insensitively integer into
    just kind kinds largest last latest least length less letter list longest lowest made many
    match matches matching max maximum may mean might min minimum minus mm month months more most
    much name names negative new newest no not now number numbers of oldest one only order ordered
    other others out over overall part particular per percent percentage pm plus please positive
    possible proportion provide rank ranked ranking rate ratio recent record records related
    relation relative respective respectively result results return row rows same sensitive shall
    she shortest should show since six smallest sort sorted specific start starts string strings
    sum table tables take taken takes ten than the they three time times to today top total two
    type types under unique until value values vary varies week weeks whose with within without
    worst write written year years highest hundred thousand million billion alphabetically
    alphabetical annual annually daily weekly monthly yearly every whole well non seven eight nine
    zero half twice true false add change create delete drop insert mark raise lower increase decrease remove
    rename replace set update""".split()
)
_QUOTED = re.compile(r""""[^"]*"|'[^']*'|`[^`]*`|“[^”]*”""")
_PROPER_NOUN = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+")


# "X = ...", "X means ...", "X is defined as ...", "define X as ...": X is the asker's term.
# A term starts where a word does and its words are taken whole (possessive `*+`): tried at
# every letter of a long word, the search took time quadratic in its length.
_DEFINED = re.compile(
    r"(?<![\w-])(?P<term>[A-Za-z][\w-]*+(?:[ \t]++[A-Za-z][\w-]*+){0,2})[ \t]*+(?:=|\bmeans\b|\bis defined as\b|\brefers to\b|\bstands for\b)"
    r"|\bdefine[sd]?[ \t]+(?P<defined>[A-Za-z][\w-]*+(?:[ \t]++[A-Za-z][\w-]*+){0,2}?)[ \t]+as\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Grounding:
    """The question's content words, and those that nothing in the schema matches."""

    content: tuple[str, ...]
    unmatched: tuple[str, ...]

    @property
    def unanswerable(self) -> bool:
        """Not one content word of the question is anywhere in the database."""
        return bool(self.content) and len(self.unmatched) == len(self.content)


def ground(schema: Schema, question: str, instructions: str | None = None) -> Grounding:
    """Match the question's content words against the schema's names, comments and values.

    Words of ``instructions`` (the asker's own notes and definitions) and terms the question
    defines are the asker's vocabulary: they are not content words, so never unmatched.
    """
    text = _PROPER_NOUN.sub(" ", _QUOTED.sub(" ", question))
    defined = _defined_terms(question) | set(declared_words(instructions or ""))
    words = list(dict.fromkeys(w for w in text_words(text) if len(w) > 1 and not w.isdigit() and w not in STOPWORDS and w not in defined))
    # a word of the question language that names a table ("the cheapest part", a `part`
    # table) says what the question is about, on this database; not where it is a verb or a
    # word of the phrasing ("rank the ...", "in order of", "order by", "types of")
    sequence = declared_words(text)
    nouns = {w for i, w in enumerate(sequence) if i and sequence[i + 1 : i + 2] not in (["of"], ["by"], ["to"])}
    tables = {r.word for r in match_words(schema.tables, [w for w in words if w in QUERY_WORDS and w in nouns]) if r.field == "table" and r.how in ("exact", "stemmed")}
    content = tuple(w for w in words if w not in QUERY_WORDS or w in tables)
    matched = {reason.word for reason in match_words(schema.tables, list(content))}
    return Grounding(content, tuple(w for w in content if w not in matched))


def _defined_terms(text: str) -> set[str]:
    """Words of the terms ``text`` defines: ``ARPU = revenue / users`` defines "arpu"."""
    found: set[str] = set()
    for m in _DEFINED.finditer(text):
        found.update(declared_words(m.group("term") or m.group("defined") or ""))
    return found


def absent_terms(grounding: Grounding, invented: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The question's unmatched words that names the model invented are made of, each with
    those names: it needed a table or column for that word, and the schema has nothing by
    that name, in its comments or in its values. Compared after the stemmer, so "crew" meets
    ``cabin_crew_count``."""
    names = {name: {stem(word) for word in name_words(name).words} for name in dict.fromkeys(invented)}
    found = {word: tuple(n for n, stems in names.items() if stem(word) in stems) for word in grounding.unmatched}
    return {word: needed for word, needed in found.items() if needed}
